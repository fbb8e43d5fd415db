/**
 * The weekly cost report's schedule: Monday 09:00 in the cluster's time zone written as a UTC
 * cron (the day wraps when the offset crosses midnight), the input the function reads, a role that
 * may invoke only that function and write only its dead-letter queue, and the report function's
 * own rights (the ledger items, GetMetricData, the channels).
 */
import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseUtcOffsetMinutes, weeklyReportCron } from '../lib/weekly-report';
import { asList, functionRoleId, resourcesOfType, roleActions, roleStatements, synthCached } from './helpers';

describe('the weekly report is sent Mondays 09:00 local time', () => {
  const cases: { name: string; zone: string; cron: string }[] = [
    { name: 'UTC', zone: 'UTC', cron: 'cron(0 9 ? * MON *)' },
    { name: 'India, half an hour', zone: '+05:30', cron: 'cron(30 3 ? * MON *)' },
    { name: 'Nepal, quarter hour', zone: '+05:45', cron: 'cron(15 3 ? * MON *)' },
    { name: 'exactly nine hours east: midnight UTC', zone: '+09:00', cron: 'cron(0 0 ? * MON *)' },
    { name: 'Sydney standard time wraps to Sunday', zone: '+10:00', cron: 'cron(0 23 ? * SUN *)' },
    { name: 'the largest offset', zone: '+14:00', cron: 'cron(0 19 ? * SUN *)' },
    { name: 'New York standard time', zone: '-05:00', cron: 'cron(0 14 ? * MON *)' },
    { name: 'Marquesas, negative half hour', zone: '-09:30', cron: 'cron(30 18 ? * MON *)' },
    { name: 'the smallest offset stays Monday', zone: '-12:00', cron: 'cron(0 21 ? * MON *)' },
  ];
  for (const c of cases) {
    it(`${c.name} (${c.zone}): ${c.cron}`, () => {
      assert.equal(weeklyReportCron(parseUtcOffsetMinutes(c.zone)), c.cron);
    });
  }
  it('zone names and malformed offsets are refused naming CLUSTER_TIMEZONE', () => {
    for (const bad of ['Asia/Kolkata', '+5:30', '+15:00', '05:30', '+05:60']) {
      assert.throws(() => parseUtcOffsetMinutes(bad), /CLUSTER_TIMEZONE/, bad);
    }
  });
});

describe('the synthesized schedule', () => {
  const weekly = (context: Record<string, unknown>) => {
    const s = synthCached(context);
    const hit = Object.entries(resourcesOfType(s, 'AWS::Scheduler::Schedule')).find(([, r]) => String(r.Properties!.Name).endsWith('-weekly-report'));
    assert.ok(hit, 'a weekly-report schedule');
    return { s, id: hit[0], p: hit[1].Properties! };
  };

  it('defaults: Monday 09:00 UTC, invoking the weekly-report function with the cluster and the execution id', () => {
    const { s, p } = weekly({});
    assert.equal(p.ScheduleExpression, 'cron(0 9 ? * MON *)');
    assert.equal(p.ScheduleExpressionTimezone, 'UTC');
    assert.deepEqual(p.FlexibleTimeWindow, { Mode: 'OFF' });
    const fnId = Object.entries(resourcesOfType(s, 'AWS::Lambda::Function')).find(([, f]) => String(f.Properties!.FunctionName).endsWith('-weekly-report'))![0];
    assert.deepEqual(p.Target.Arn, { 'Fn::GetAtt': [fnId, 'Arn'] });
    assert.deepEqual(JSON.parse(p.Target.Input), { cluster_id: 'smartscale-prod', execution_id: '<aws.scheduler.execution-id>' });
    assert.deepEqual(p.Target.RetryPolicy, { MaximumRetryAttempts: 3, MaximumEventAgeInSeconds: 3600 });
    const dlq = p.Target.DeadLetterConfig.Arn['Fn::GetAtt'];
    assert.equal(resourcesOfType(s, 'AWS::SQS::Queue')[dlq[0]]?.Properties!.SqsManagedSseEnabled, true);
  });

  it('CLUSTER_TIMEZONE=+05:30 in functionSettings moves the cron to 03:30 UTC', () => {
    const { p } = weekly({ functionSettings: { CLUSTER_TIMEZONE: '+05:30' } });
    assert.equal(p.ScheduleExpression, 'cron(30 3 ? * MON *)');
    assert.match(p.Description, /\+05:30/);
  });

  it('the scheduler role may invoke the weekly-report function and write its dead-letter queue, nothing else', () => {
    const { s, p } = weekly({});
    const roleId = p.Target.RoleArn['Fn::GetAtt'][0];
    const st = roleStatements(s, roleId);
    assert.deepEqual(st.flatMap((x) => asList(x.Action)).sort(), ['lambda:InvokeFunction', 'sqs:SendMessage']);
    assert.deepEqual(st.find((x) => asList(x.Action).includes('lambda:InvokeFunction'))!.Resource, p.Target.Arn);
    assert.deepEqual(st.find((x) => asList(x.Action).includes('sqs:SendMessage'))!.Resource, p.Target.DeadLetterConfig.Arn);
  });

  it('the report function reads the ledger and CloudWatch, and tells the channels; it writes nothing', () => {
    const s = synthCached({});
    const roleId = functionRoleId(s, 'weekly-report');
    const actions = [...roleActions(s, roleId)].filter((a) => !a.startsWith('logs:')).sort();
    assert.deepEqual(actions, ['cloudwatch:GetMetricData', 'dynamodb:GetItem', 'kms:Decrypt', 'kms:GenerateDataKey', 'secretsmanager:GetSecretValue', 'sns:Publish']);
    const cw = roleStatements(s, roleId).find((x) => asList(x.Action).includes('cloudwatch:GetMetricData'))!;
    assert.deepEqual(asList(cw.Resource), ['*'], 'GetMetricData has no resource-level permissions');
  });
});
