/**
 * The SmartScale cost dashboard in CloudWatch, with the seed's panels: current hourly cost, daily
 * projection, 30-day trend, savings against the fixed baseline, cost per request, and the Spot
 * versus on-demand share. It reads the cost metric Evaluate writes each tick (docs/METRICS.md,
 * "Cost"); the metric and dimension names come from functions/core/cost-metrics.json, the file the
 * Rust side tests its lines against, so the two cannot drift apart.
 *
 * Cost per request needs a request rate, which only Prometheus has (`smartscale:http_requests:rate`,
 * cdk/prometheus/rules); nothing publishes it to CloudWatch, so this dashboard says where it is
 * shown (the Grafana cost dashboard, cdk/dashboards/cost.json) rather than inventing a metric.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { Construct } from 'constructs';
import { CDK_DIR } from './sources';

/** The names in functions/core/cost-metrics.json. */
export interface CostMetricNames {
  readonly namespace: string;
  readonly dimensions: { readonly cluster: string; readonly capacityType: string; readonly instanceType: string };
  /** The `CapacityType` dimension's values, on-demand first. */
  readonly capacityTypes: readonly string[];
  readonly metrics: { readonly hourlyCost: string; readonly baselineHourlyCost: string; readonly savingsVsBaseline: string; readonly spotShare: string };
}

/** functions/core/cost-metrics.json, parsed. */
export function costMetricNames(): CostMetricNames {
  return JSON.parse(fs.readFileSync(path.join(CDK_DIR, '..', 'functions', 'core', 'cost-metrics.json'), 'utf8')) as CostMetricNames;
}

/** What the cost dashboard is drawn for. */
export interface CostDashboardProps {
  /** The `ClusterId` dimension. */
  readonly clusterId: string;
  /** BASELINE_NODES, named in the savings panels. */
  readonly baselineNodes: number;
}

/** The name of the cost dashboard of `clusterId`. */
export function costDashboardName(clusterId: string): string {
  return `smartscale-${clusterId}-cost`;
}

/** Adds the cost dashboard (`smartscale-<cluster>-cost`). */
export function addCostDashboard(scope: Construct, p: CostDashboardProps): cloudwatch.Dashboard {
  const n = costMetricNames();
  const cluster = { [n.dimensions.cluster]: p.clusterId };
  const metric = (metricName: string, period: Duration, dims: Record<string, string> = {}, label?: string) =>
    new cloudwatch.Metric({ namespace: n.namespace, metricName, dimensionsMap: { ...cluster, ...dims }, statistic: 'Average', period, label });
  const hourly = (period: Duration) => metric(n.metrics.hourlyCost, period, {}, 'USD/h');
  const perDay = (period: Duration, label: string) =>
    new cloudwatch.MathExpression({ expression: 'hourly * 24', usingMetrics: { hourly: hourly(period) }, label, period });
  const byCapacity = (period: Duration) =>
    n.capacityTypes.map((c) => metric(n.metrics.hourlyCost, period, { [n.dimensions.capacityType]: c }, `${c} USD/h`));
  const baseline = `the ${p.baselineNodes}-node on-demand baseline`;

  return new cloudwatch.Dashboard(scope, 'CostDashboard', {
    dashboardName: costDashboardName(p.clusterId),
    widgets: [
      [
        new cloudwatch.SingleValueWidget({ title: 'Current hourly cost (USD/h)', width: 6, metrics: [hourly(Duration.minutes(5))] }),
        new cloudwatch.SingleValueWidget({ title: 'Daily projection (USD/day, last hour × 24)', width: 6, metrics: [perDay(Duration.hours(1), 'USD/day')] }),
        new cloudwatch.SingleValueWidget({
          title: `Savings vs ${baseline} (%)`,
          width: 6,
          metrics: [metric(n.metrics.savingsVsBaseline, Duration.hours(1), {}, 'saved %'), metric(n.metrics.baselineHourlyCost, Duration.hours(1), {}, 'baseline USD/h')],
        }),
        new cloudwatch.SingleValueWidget({ title: 'Spot share of the workers (%)', width: 6, metrics: [metric(n.metrics.spotShare, Duration.minutes(5), {}, 'Spot %')] }),
      ],
      [
        new cloudwatch.GraphWidget({
          title: '30-day trend (USD/day)',
          width: 12,
          start: '-P30D',
          left: [
            perDay(Duration.days(1), 'SmartScale USD/day'),
            new cloudwatch.MathExpression({
              expression: 'baseline * 24',
              usingMetrics: { baseline: metric(n.metrics.baselineHourlyCost, Duration.days(1)) },
              label: `${baseline} USD/day`,
              period: Duration.days(1),
            }),
          ],
          leftYAxis: { min: 0 },
        }),
        new cloudwatch.GraphWidget({
          title: `Savings vs ${baseline} (%), 30 days`,
          width: 12,
          start: '-P30D',
          left: [metric(n.metrics.savingsVsBaseline, Duration.hours(6), {}, 'saved %')],
        }),
      ],
      [
        new cloudwatch.GraphWidget({
          title: 'Spot vs on-demand (USD/h, stacked) and Spot share (%)',
          width: 12,
          stacked: true,
          left: byCapacity(Duration.minutes(5)),
          right: [metric(n.metrics.spotShare, Duration.minutes(5), {}, 'Spot %')],
          rightYAxis: { min: 0, max: 100, showUnits: false },
        }),
        new cloudwatch.GraphWidget({
          title: 'Hourly cost by capacity type and instance type (USD/h)',
          width: 12,
          left: [
            new cloudwatch.MathExpression({
              expression: `SEARCH('{${n.namespace},${n.dimensions.cluster},${n.dimensions.capacityType},${n.dimensions.instanceType}} MetricName="${n.metrics.hourlyCost}" ${n.dimensions.cluster}="${p.clusterId}"', 'Average', 300)`,
              label: n.metrics.hourlyCost,
              period: Duration.minutes(5),
            }),
          ],
        }),
      ],
      [
        new cloudwatch.TextWidget({
          width: 24,
          height: 3,
          markdown: [
            '### Cost per request',
            'The request rate is in Prometheus only (`smartscale:http_requests:rate`, from the pods\' `http_requests_total`); nothing publishes it to CloudWatch.',
            'Cost per request (hourly cost ÷ requests per hour) is on the Grafana dashboard **SmartScale / Cost**, which reads this cost metric and that rate. See docs/METRICS.md, "Cost".',
          ].join('\n\n'),
        }),
      ],
    ],
  });
}
