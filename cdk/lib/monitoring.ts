/**
 * CloudWatch alarms (to the SNS topic; docs/TROUBLESHOOTING.md lists them) and the SmartScale
 * CloudWatch dashboard, and the cost dashboard (lib/cost-dashboard.ts).
 *
 * Where an AWS metric says the same thing as a custom one, the alarm uses the AWS metric, so it
 * works whatever the functions publish: scaling failures are failed executions of the state
 * machine, join failures are invocations of handle-join-failure, step duration is Lambda Duration.
 * Cluster CPU, memory and node count come from the functions' Embedded Metric Format lines in
 * namespace `SmartScale` with dimension `ClusterId`.
 */
import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { SmartScaleConfig } from './config';
import { METRICS } from './contract';
import { addCostDashboard, costDashboardName, costMetricNames } from './cost-dashboard';

/** What the alarms and the dashboard watch. */
export interface MonitoringProps {
  readonly cfg: SmartScaleConfig;
  readonly topic: sns.ITopic;
  readonly scaling: sfn.StateMachine;
  readonly spot: sfn.StateMachine;
  readonly functions: Record<string, lambda.Function>;
}

/** Lambda Duration above this many milliseconds means a step is near its 30 s timeout. */
export const STEP_DURATION_ALARM_MS = 25_000;

/**
 * Adds the seed's seven alarms (step duration as two alarms), the timed-out and aborted execution
 * alarms of both state machines, and the dashboard; returns the alarms by id.
 */
export function addMonitoring(scope: Construct, p: MonitoringProps): Record<string, cloudwatch.Alarm> {
  const custom = (metricName: string, statistic: string, period: Duration) =>
    new cloudwatch.Metric({ namespace: METRICS.namespace, metricName, dimensionsMap: { [METRICS.clusterDimension]: p.cfg.clusterId }, statistic, period });
  const action = new actions.SnsAction(p.topic);
  const alarms: Record<string, cloudwatch.Alarm> = {};
  const alarm = (id: string, props: cloudwatch.AlarmProps) => {
    const a = new cloudwatch.Alarm(scope, id, { ...props, alarmName: `smartscale-${p.cfg.clusterId}-${props.alarmName}` });
    a.addAlarmAction(action);
    alarms[id] = a;
    return a;
  };

  // Critical
  alarm('ScalingFailureAlarm', {
    alarmName: 'scaling-failures',
    alarmDescription: 'CRITICAL: 3 or more failed scaling executions in 15 minutes',
    metric: p.scaling.metricFailed({ period: Duration.minutes(15), statistic: 'Sum' }),
    threshold: 3,
    evaluationPeriods: 1,
    comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
  });
  // An execution that times out or is stopped ends without Cleanup (no alert from the machine
  // itself), so each is an alarm of its own, on both machines.
  for (const [machineId, machine] of [['Scaling', p.scaling], ['Spot', p.spot]] as const) {
    const what = machineId === 'Scaling' ? 'scaling' : 'spot-interruption';
    alarm(`${machineId}TimedOutAlarm`, {
      alarmName: `${what}-executions-timed-out`,
      alarmDescription: `CRITICAL: a ${what} execution reached the state machine timeout (no Cleanup ran; its lease expires and the next tick recovers)`,
      metric: machine.metricTimedOut({ period: Duration.minutes(15), statistic: 'Sum' }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    alarm(`${machineId}AbortedAlarm`, {
      alarmName: `${what}-executions-aborted`,
      alarmDescription: `WARNING: a ${what} execution was stopped (StopExecution; no Cleanup ran)`,
      metric: machine.metricAborted({ period: Duration.minutes(15), statistic: 'Sum' }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
  }
  alarm('CpuOverloadAlarm', {
    alarmName: 'cpu-overload',
    alarmDescription: 'CRITICAL: cluster CPU above 90% for 5 minutes (capacity exhausted)',
    metric: custom('ClusterCPUUtilization', 'Average', Duration.minutes(1)),
    threshold: 90,
    evaluationPeriods: 5,
    comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
    treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
  });
  alarm('AtMaxCapacityAlarm', {
    alarmName: 'at-max-capacity',
    alarmDescription: `CRITICAL: ${p.cfg.maxNodes} workers (the maximum) for 10 minutes`,
    metric: custom('CurrentNodeCount', 'Minimum', Duration.minutes(2)),
    threshold: p.cfg.maxNodes,
    evaluationPeriods: 5,
    comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
  });
  alarm('NodeJoinFailureAlarm', {
    alarmName: 'node-join-failure',
    alarmDescription: 'CRITICAL: a new worker was not Ready within 5 minutes (handle-join-failure ran)',
    metric: p.functions['handle-join-failure']!.metricInvocations({ period: Duration.minutes(5), statistic: 'Sum' }),
    threshold: 1,
    evaluationPeriods: 1,
    comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
  });
  // Warning
  alarm('HighMemoryAlarm', {
    alarmName: 'high-memory',
    alarmDescription: 'WARNING: cluster memory above 80% for 10 minutes',
    metric: custom('ClusterMemoryUtilization', 'Average', Duration.minutes(2)),
    threshold: 80,
    evaluationPeriods: 5,
    comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
    treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
  });
  // An alarm's metric math may use at most 10 metrics, so the 14 steps are watched in two groups.
  const steps = Object.entries(p.functions);
  for (const [group, part] of [steps.slice(0, 7), steps.slice(7)].entries()) {
    const durations: Record<string, cloudwatch.IMetric> = {};
    part.forEach(([name, fn], i) => {
      durations[`d${i}`] = fn.metricDuration({ statistic: 'Maximum', period: Duration.minutes(5), label: name });
    });
    alarm(`StepDurationAlarm${group + 1}`, {
      alarmName: `step-duration-near-timeout-${group + 1}`,
      alarmDescription: `WARNING: one of ${part.map(([n]) => n).join(', ')} ran longer than ${STEP_DURATION_ALARM_MS / 1000} s (timeout 30 s)`,
      metric: new cloudwatch.MathExpression({ expression: `MAX([${Object.keys(durations).join(',')}])`, usingMetrics: durations, period: Duration.minutes(5), label: 'slowest step (ms)' }),
      threshold: STEP_DURATION_ALARM_MS,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
  }
  alarm('PrometheusUnavailableAlarm', {
    alarmName: 'prometheus-unavailable',
    alarmDescription: 'WARNING: no cluster CPU reading for 5 minutes (Prometheus unreachable or failing, or the autoscaler not running)',
    metric: custom('ClusterCPUUtilization', 'SampleCount', Duration.minutes(5)),
    threshold: 1,
    evaluationPeriods: 1,
    comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
    treatMissingData: cloudwatch.TreatMissingData.BREACHING,
  });

  const search = (metric: string, dims: string, stat: string) =>
    new cloudwatch.MathExpression({
      expression: `SEARCH('{${METRICS.namespace},${dims}} MetricName="${metric}" ${METRICS.clusterDimension}="${p.cfg.clusterId}"', '${stat}', 300)`,
      label: metric,
      period: Duration.minutes(5),
    });
  const cost = costMetricNames();
  new cloudwatch.Dashboard(scope, 'Dashboard', {
    dashboardName: `smartscale-${p.cfg.clusterId}`,
    widgets: [
      [
        new cloudwatch.GraphWidget({
          title: 'Scaling activity',
          width: 12,
          left: [search('ScaleUpEvents', `${METRICS.clusterDimension},Reason`, 'Sum'), custom('ScaleDownEvents', 'Sum', Duration.minutes(5))],
          right: [p.scaling.metricStarted({ period: Duration.minutes(5) }), p.scaling.metricSucceeded({ period: Duration.minutes(5) })],
        }),
        new cloudwatch.GraphWidget({
          title: 'Errors',
          width: 12,
          left: [p.scaling.metricFailed({ period: Duration.minutes(5) }), search('ScalingFailures', `${METRICS.clusterDimension},ErrorType`, 'Sum')],
          right: Object.entries(p.functions).map(([name, fn]) => fn.metricErrors({ period: Duration.minutes(5), label: name })),
        }),
      ],
      [
        new cloudwatch.GraphWidget({
          title: 'Cluster CPU and memory (%)',
          width: 8,
          left: [custom('ClusterCPUUtilization', 'Average', Duration.minutes(1)), custom('ClusterMemoryUtilization', 'Average', Duration.minutes(1))],
          leftYAxis: { min: 0, max: 100 },
        }),
        new cloudwatch.GraphWidget({
          title: 'Worker nodes',
          width: 8,
          left: [custom('CurrentNodeCount', 'Maximum', Duration.minutes(1)), custom('PendingPods', 'Maximum', Duration.minutes(1))],
          leftAnnotations: [{ value: p.cfg.maxNodes, label: 'max nodes' }, { value: p.cfg.minNodes, label: 'min nodes' }],
        }),
        new cloudwatch.SingleValueWidget({
          title: `Cost (USD/hour and per day; details: ${costDashboardName(p.cfg.clusterId)})`,
          width: 8,
          metrics: [
            custom(cost.metrics.hourlyCost, 'Average', Duration.hours(1)),
            new cloudwatch.MathExpression({ expression: 'hourly * 24', usingMetrics: { hourly: custom(cost.metrics.hourlyCost, 'Average', Duration.hours(1)) }, label: 'per day' }),
          ],
        }),
      ],
      [
        new cloudwatch.GraphWidget({
          title: 'Node join latency (ms) and step duration',
          width: 24,
          left: [custom('NodeJoinLatency', 'p90', Duration.minutes(5))],
          right: Object.entries(p.functions).map(([name, fn]) => fn.metricDuration({ statistic: 'Maximum', period: Duration.minutes(5), label: name })),
        }),
      ],
      [
        // The forecast (docs/METRICS.md, "Forecast history"): Evaluate's WorkersNeeded and WorkersForecast beside the nodes.
        new cloudwatch.GraphWidget({
          title: 'Forecast: workers needed, forecast, nodes',
          width: 16,
          left: [custom('WorkersNeeded', 'Maximum', Duration.minutes(10)), custom('WorkersForecast', 'Maximum', Duration.minutes(10)), custom('CurrentNodeCount', 'Maximum', Duration.minutes(10))],
        }),
        new cloudwatch.GraphWidget({
          title: 'Forecast error (workers; above 0: ran high)',
          width: 8,
          left: [custom('ForecastError', 'Average', Duration.hours(1))],
        }),
      ],
      [new cloudwatch.AlarmStatusWidget({ title: 'Alarms', width: 24, alarms: Object.values(alarms) })],
    ],
  });
  addCostDashboard(scope, { clusterId: p.cfg.clusterId, baselineNodes: p.cfg.baselineNodes });
  return alarms;
}
