/**
 * The weekly cost report's trigger: an EventBridge Scheduler schedule that invokes the
 * `weekly-report` function every Monday at 09:00 in the cluster's time zone (`CLUSTER_TIMEZONE`),
 * with a retry policy and a dead-letter queue for invocations Scheduler could not deliver.
 *
 * `CLUSTER_TIMEZONE` is a fixed offset (`UTC`, `+05:30`, `-03:00`), while Scheduler wants an IANA
 * zone. `Etc/GMT±N` covers whole hours only (and with the sign inverted), so the schedule is
 * written in UTC instead: Monday 09:00 at the offset, moved to UTC, with the day moved too when
 * the offset crosses midnight (+10:00 gives Sunday 23:00 UTC). See docs/WEEKLY_REPORT.md.
 */
import { Duration } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';

/** The local time the report is sent at. */
export const WEEKLY_REPORT_LOCAL = { weekday: 'MON', hour: 9, minute: 0 } as const;

const DAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'] as const;

/**
 * `CLUSTER_TIMEZONE` as minutes east of UTC: `UTC`, `Z` or `±HH:MM` (hours at most 14), the forms
 * the engine accepts (functions/engine/src/engine/floors.rs `parse_utc_offset`). Throws naming the
 * variable otherwise.
 */
export function parseUtcOffsetMinutes(raw: string): number {
  const s = raw.trim();
  if (/^(utc|z)$/i.test(s)) return 0;
  const m = /^([+-])(\d{2}):(\d{2})$/.exec(s);
  if (!m || Number(m[2]) > 14 || Number(m[3]) > 59) {
    throw new Error(`CLUSTER_TIMEZONE: '${raw}' is not a UTC offset: write UTC or ±HH:MM, for example +05:30`);
  }
  return (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3]));
}

/**
 * The Scheduler cron expression, in UTC, for Monday 09:00 at `offsetMinutes` east of UTC:
 * `cron(30 3 ? * MON *)` for +05:30, `cron(0 23 ? * SUN *)` for +10:00, `cron(0 14 ? * MON *)`
 * for -05:00.
 */
export function weeklyReportCron(offsetMinutes: number): string {
  const local = WEEKLY_REPORT_LOCAL.hour * 60 + WEEKLY_REPORT_LOCAL.minute;
  const utc = local - offsetMinutes;
  const dayShift = Math.floor(utc / 1440);
  const minuteOfDay = utc - dayShift * 1440;
  const day = DAYS[(DAYS.indexOf(WEEKLY_REPORT_LOCAL.weekday) + dayShift + 7) % 7];
  return `cron(${minuteOfDay % 60} ${Math.floor(minuteOfDay / 60)} ? * ${day} *)`;
}

/**
 * The input the schedule sends: the cluster and Scheduler's execution id (a context attribute
 * Scheduler fills in per invocation), the execution document the function reads.
 */
export function weeklyReportInput(clusterId: string): string {
  return JSON.stringify({ cluster_id: clusterId, execution_id: '<aws.scheduler.execution-id>' });
}

/** What {@link addWeeklyReportSchedule} needs from the stack. */
export interface WeeklyReportProps {
  readonly prefix: string;
  readonly clusterId: string;
  /** `CLUSTER_TIMEZONE` as the functions get it. */
  readonly clusterTimezone: string;
  readonly fn: lambda.IFunction;
}

/** The schedule, its role (invoke the function, write the dead-letter queue) and the queue. */
export function addWeeklyReportSchedule(scope: Construct, p: WeeklyReportProps): scheduler.CfnSchedule {
  const dlq = new sqs.Queue(scope, 'WeeklyReportDeadLetters', {
    queueName: `${p.prefix}-weekly-report-dlq`,
    encryption: sqs.QueueEncryption.SQS_MANAGED,
    enforceSSL: true,
    retentionPeriod: Duration.days(14),
  });
  const role = new iam.Role(scope, 'WeeklyReportSchedulerRole', {
    assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com'),
    description: 'EventBridge Scheduler: invoke the SmartScale weekly-report function',
    inlinePolicies: {
      invoke: new iam.PolicyDocument({
        statements: [
          new iam.PolicyStatement({ sid: 'InvokeWeeklyReport', actions: ['lambda:InvokeFunction'], resources: [p.fn.functionArn] }),
          new iam.PolicyStatement({ sid: 'DeadLetters', actions: ['sqs:SendMessage'], resources: [dlq.queueArn] }),
        ],
      }),
    },
  });
  return new scheduler.CfnSchedule(scope, 'WeeklyReportSchedule', {
    name: `${p.prefix}-weekly-report`,
    description: `SmartScale weekly cost report, Mondays 09:00 at ${p.clusterTimezone} (written in UTC)`,
    scheduleExpression: weeklyReportCron(parseUtcOffsetMinutes(p.clusterTimezone)),
    scheduleExpressionTimezone: 'UTC',
    flexibleTimeWindow: { mode: 'OFF' },
    target: {
      arn: p.fn.functionArn,
      roleArn: role.roleArn,
      input: weeklyReportInput(p.clusterId),
      retryPolicy: { maximumRetryAttempts: 3, maximumEventAgeInSeconds: 3600 },
      deadLetterConfig: { arn: dlq.queueArn },
    },
  });
}
