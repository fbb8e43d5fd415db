/**
 * The CloudWatch cost dashboard: it has the seed's panels, and every SmartScale metric it draws is
 * one the functions emit, by the names in functions/core/cost-metrics.json (the Rust cost module
 * tests its EMF lines against the same file), with the dimensions the lines carry.
 */
import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { costDashboardName, costMetricNames } from '../lib/cost-dashboard';
import { resourcesOfType, synthCached } from './helpers';

/** A dashboard body with its intrinsic functions flattened to text (`${Ref}`, `${Id.Attr}`). */
function body(value: unknown): string {
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) return value.map(body).join('');
  const v = value as Record<string, unknown>;
  if (v['Fn::Join']) {
    const [sep, parts] = v['Fn::Join'] as [string, unknown[]];
    return parts.map(body).join(sep);
  }
  if (v.Ref) return `\${${String(v.Ref)}}`;
  if (v['Fn::GetAtt']) return `\${${(v['Fn::GetAtt'] as string[]).join('.')}}`;
  throw new Error(`unexpected intrinsic in a dashboard body: ${JSON.stringify(value)}`);
}

type Widget = { type: string; properties: { title?: string; markdown?: string; metrics?: unknown[][] } };

function dashboard(name: string, context: Record<string, string> = {}): Widget[] {
  const d = Object.values(resourcesOfType(synthCached(context), 'AWS::CloudWatch::Dashboard')).find((r) => r.Properties!.DashboardName === name);
  assert.ok(d, `dashboard ${name}`);
  return (JSON.parse(body(d.Properties!.DashboardBody)) as { widgets: Widget[] }).widgets;
}

/** The metrics a widget draws, as `{namespace, name, dimensions}` (math expressions left out). */
function metricsOf(w: Widget): { namespace: string; name: string; dimensions: Record<string, string> }[] {
  return (w.properties.metrics ?? [])
    .filter((m) => typeof m[0] === 'string')
    .map((m) => {
      const [namespace, name, ...rest] = m as [string, string, ...unknown[]];
      const pairs = rest.filter((x) => typeof x === 'string') as string[];
      const dimensions: Record<string, string> = {};
      for (let i = 0; i + 1 < pairs.length; i += 2) dimensions[pairs[i]!] = pairs[i + 1]!;
      return { namespace, name, dimensions };
    });
}

describe('the CloudWatch cost dashboard', () => {
  const names = costMetricNames();
  const widgets = dashboard(costDashboardName('smartscale-prod'));
  const titles = widgets.map((w) => w.properties.title ?? w.properties.markdown ?? '');

  for (const panel of ['Current hourly cost', 'Daily projection', '30-day trend', 'Savings vs the 5-node on-demand baseline', 'Cost per request', 'Spot vs on-demand']) {
    it(`has the panel "${panel}"`, () => assert.ok(titles.some((t) => t.includes(panel)), titles.join(' | ')));
  }

  it('draws every cost metric, and only the emitted names with the emitted dimensions', () => {
    const drawn = widgets.flatMap(metricsOf);
    assert.ok(drawn.length > 0);
    const emitted = Object.values(names.metrics);
    for (const m of drawn) {
      assert.equal(m.namespace, names.namespace);
      assert.ok(emitted.includes(m.name), `${m.name} is not in functions/core/cost-metrics.json`);
      assert.equal(m.dimensions[names.dimensions.cluster], 'smartscale-prod', `${m.name} by ClusterId`);
      const extra = Object.keys(m.dimensions).filter((k) => k !== names.dimensions.cluster);
      if (extra.length > 0) {
        assert.deepEqual(extra, [names.dimensions.capacityType], `${m.name}: only HourlyCost is split, by CapacityType`);
        assert.equal(m.name, names.metrics.hourlyCost);
        assert.ok(names.capacityTypes.includes(m.dimensions[names.dimensions.capacityType]!));
      }
    }
    for (const n of emitted) assert.ok(drawn.some((m) => m.name === n), `${n} is drawn`);
    assert.deepEqual(
      drawn.filter((m) => m.dimensions[names.dimensions.capacityType]).map((m) => m.dimensions[names.dimensions.capacityType]).sort(),
      [...names.capacityTypes].sort(),
      'the Spot vs on-demand panel has one series per capacity type',
    );
  });

  it('the per-type panel searches the CapacityType x InstanceType series', () => {
    const text = JSON.stringify(widgets);
    assert.ok(text.includes(`{${names.namespace},${names.dimensions.cluster},${names.dimensions.capacityType},${names.dimensions.instanceType}} MetricName=\\"${names.metrics.hourlyCost}\\"`), text);
  });

  it('cost per request says where the request rate is, rather than inventing a CloudWatch metric', () => {
    const text = titles.find((t) => t.includes('Cost per request'))!;
    assert.match(text, /smartscale:http_requests:rate/);
    assert.match(text, /Grafana/);
  });

  it('names the configured baseline', () => {
    const other = dashboard(costDashboardName('smartscale-prod'), { baselineNodes: '7' });
    assert.ok(other.some((w) => (w.properties.title ?? '').includes('Savings vs the 7-node on-demand baseline')));
  });

  it('the main dashboard shows the fleet cost from the same metric, and no other cost metric', () => {
    const main = dashboard('smartscale-smartscale-prod');
    const drawn = main.flatMap(metricsOf).filter((m) => m.namespace === names.namespace).map((m) => m.name);
    assert.ok(drawn.includes(names.metrics.hourlyCost));
    assert.ok(!JSON.stringify(main).includes('EstimatedHourlyCost'));
  });
});
