/**
 * Grafana dashboards: each parses, has the panels the design asks for, and every Prometheus query
 * reads only metrics the recording rules define (cdk/prometheus/rules/smartscale-rules.yml) or the
 * documented raw metrics below; CloudWatch targets read only SmartScale's and AWS's namespaces.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { METRICS } from '../lib/contract';
import { costMetricNames } from '../lib/cost-dashboard';
import { DASHBOARD_DIR } from '../lib/manifests';
import { metricNames, recordedNames } from '../lib/promql';
import { REPO_ROOT } from './helpers';

/** Raw metrics dashboards may read directly (exporters and the demo app), documented in docs/ARCHITECTURE.md. */
export const RAW_METRIC_ALLOW_LIST = [
  'up',
  'node_cpu_seconds_total',
  'node_memory_MemAvailable_bytes',
  'node_memory_MemTotal_bytes',
  'kube_node_status_condition',
  'kube_pod_status_phase',
  'kube_pod_info',
  'http_requests_total',
  'http_request_duration_seconds_bucket',
];

const RULES = path.join(REPO_ROOT, 'cdk', 'prometheus', 'rules', 'smartscale-rules.yml');
type Target = { datasource: { type: string; uid: string }; expr?: string; expression?: string; namespace?: string; metricName?: string; refId: string; dimensions?: Record<string, string>; matchExact?: boolean };
type Panel = { title: string; type: string; targets: Target[] };
type Dashboard = { uid: string; title: string; panels: Panel[]; annotations: { list: { expr?: string; datasource: { type: string } }[] } };
const dashboards: Record<string, Dashboard> = Object.fromEntries(
  fs.readdirSync(DASHBOARD_DIR).filter((f) => f.endsWith('.json')).map((f) => [f, JSON.parse(fs.readFileSync(path.join(DASHBOARD_DIR, f), 'utf8')) as Dashboard]),
);

describe('Grafana dashboards parse and have the seed panels', () => {
  it('four dashboards with unique uids', () => {
    assert.deepEqual(Object.keys(dashboards).sort(), ['application.json', 'autoscaler-performance.json', 'cluster-overview.json', 'cost.json']);
    assert.equal(new Set(Object.values(dashboards).map((d) => d.uid)).size, 4);
  });
  const expect: Record<string, [string, string][]> = {
    'cluster-overview.json': [['gauge', 'node'], ['timeseries', 'CPU'], ['timeseries', 'Memory'], ['stat', 'Pending'], ['heatmap', 'Pod distribution']],
    'autoscaler-performance.json': [['histogram', 'duration'], ['timeseries', 'invocations'], ['piechart', 'decisions'], ['histogram', 'join latency'], ['gauge', 'cost']],
    'application.json': [['timeseries', 'Request rate'], ['timeseries', 'p99'], ['timeseries', 'Error rate'], ['timeseries', 'Queue depth']],
    'cost.json': [['stat', 'Current hourly cost'], ['stat', 'Daily projection'], ['timeseries', '30-day trend'], ['stat', 'Savings vs the baseline'], ['stat', 'Cost per request'], ['piechart', 'Spot vs on-demand']],
  };
  for (const [file, panels] of Object.entries(expect)) {
    it(`${file}: ${panels.map(([, t]) => t).join(', ')}`, () => {
      for (const [type, title] of panels) {
        assert.ok(dashboards[file]!.panels.some((p) => p.type === type && p.title.toLowerCase().includes(title.toLowerCase())), `${type} panel "${title}"`);
      }
      for (const p of dashboards[file]!.panels) assert.ok(p.targets.length > 0, `${p.title} has queries`);
    });
  }
  it('the cluster overview marks scaling events as annotations', () => {
    assert.ok(dashboards['cluster-overview.json']!.annotations.list.some((a) => a.expr));
  });
});

describe('dashboard queries use only defined metrics', () => {
  const present = fs.existsSync(RULES);
  it('the recording rules file is present (required in CI)', { skip: !present && process.env.CI !== 'true' && `${RULES} not in this worktree` }, () => {
    assert.ok(present, `${RULES} is missing: the dashboard queries cannot be checked (the metrics work writes it; it is present after merge)`);
  });
  const recorded = present ? recordedNames(parse(fs.readFileSync(RULES, 'utf8'))) : [];
  const promQueries = Object.entries(dashboards).flatMap(([file, d]) => [
    ...d.panels.flatMap((p) => p.targets.filter((t) => t.datasource.type === 'prometheus').map((t) => ({ where: `${file}: ${p.title} ${t.refId}`, expr: t.expr! }))),
    ...d.annotations.list.filter((a) => a.datasource.type === 'prometheus').map((a) => ({ where: `${file}: annotation`, expr: a.expr! })),
  ]);
  it('there are Prometheus queries to check', () => assert.ok(promQueries.length >= 10));
  for (const q of promQueries) {
    it(`${q.where}: ${q.expr}`, { skip: !present && `${RULES} not in this worktree` }, () => {
      for (const m of metricNames(q.expr)) {
        assert.ok(recorded.includes(m) || RAW_METRIC_ALLOW_LIST.includes(m), `${m} is neither recorded by the rules file nor in the raw allow-list`);
      }
    });
  }
  it('CloudWatch targets read SmartScale metrics the functions publish, or AWS service metrics', () => {
    for (const d of Object.values(dashboards)) {
      for (const t of d.panels.flatMap((p) => p.targets).filter((x) => x.datasource.type === 'cloudwatch')) {
        if (t.namespace === METRICS.namespace) assert.ok((METRICS.names as readonly string[]).includes(t.metricName!), t.metricName);
        else assert.ok(['AWS/Lambda', 'AWS/States'].includes(t.namespace!), t.namespace);
      }
    }
  });
});

describe('the Grafana cost dashboard reads the cost metric the functions emit', () => {
  const names = costMetricNames();
  const emitted = Object.values(names.metrics);
  const cost = dashboards['cost.json']!;
  const targets = cost.panels.flatMap((p) => p.targets.map((t) => ({ panel: p.title, t })));
  it('every CloudWatch target is a cost metric by the names of functions/core/cost-metrics.json, matched exactly', () => {
    const cw = targets.filter(({ t }) => t.datasource.type === 'cloudwatch');
    assert.ok(cw.length >= 8);
    for (const { panel, t } of cw) {
      assert.equal(t.namespace, names.namespace, panel);
      assert.ok(emitted.includes(t.metricName!), `${panel}: ${t.metricName}`);
      // Without an exact match, the fleet's HourlyCost would also sum the per-type series.
      assert.equal(t.matchExact, true, `${panel}: matchExact`);
      assert.equal(t.dimensions![names.dimensions.cluster], '$cluster', panel);
      const capacity = t.dimensions![names.dimensions.capacityType];
      if (capacity !== undefined) assert.ok(names.capacityTypes.includes(capacity), `${panel}: ${capacity}`);
    }
    for (const n of emitted) assert.ok(cw.some(({ t }) => t.metricName === n), `${n} is drawn`);
  });
  it('cost per request divides the CloudWatch cost by the Prometheus request rate', () => {
    const p = cost.panels.find((x) => x.title === 'Cost per request')!;
    assert.ok(p.targets.some((t) => t.datasource.type === 'prometheus' && t.expr === 'smartscale:http_requests:rate'));
    assert.ok(p.targets.some((t) => t.datasource.type === 'cloudwatch' && t.metricName === names.metrics.hourlyCost));
    assert.ok(p.targets.some((t) => t.datasource.type === '__expr__' && /\$C \/ \(\$D \* 3600\)/.test(t.expression ?? '')));
  });
  it('the Spot vs on-demand panel has one series per capacity type', () => {
    const p = cost.panels.find((x) => x.title.startsWith('Spot vs on-demand'))!;
    assert.deepEqual(p.targets.map((t) => t.dimensions![names.dimensions.capacityType]).sort(), [...names.capacityTypes].sort());
  });
});
