// What the end-to-end scenarios share: Kubernetes objects to seed, the runner that always stops a
// scenario's stand-ins, and readers of the end state.
import assert from 'node:assert/strict';
import { appendFileSync, readFileSync } from 'node:fs';
import { Scenario, slackText, waitFor } from './standins.mjs';

/** A Deployment of `replicas` pods requesting `cpu` and `memory` each. */
export function deployment(name, replicas, { cpu = '200m', memory = '128Mi', nodeSelector } = {}) {
  return {
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name, namespace: 'default' },
    spec: {
      replicas, selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: {
          terminationGracePeriodSeconds: 1, ...(nodeSelector ? { nodeSelector } : {}),
          containers: [{ name, image: `${name}:e2e`, resources: { requests: { cpu, memory } } }],
        },
      },
    },
  };
}

/** A PodDisruptionBudget keeping `minAvailable` pods of app `app`. */
export function pdb(app, minAvailable) {
  return {
    apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', metadata: { name: `${app}-pdb`, namespace: 'default' },
    spec: { minAvailable, selector: { matchLabels: { app } } },
  };
}

// 12 pods of 600m on 3 workers of 2 vCPU: 3 fit per worker, 3 stay Pending.
export const OVERLOAD = { workers: 3, objects: [deployment('web', 12, { cpu: '600m' })], traffic: { cpuUtilisation: 0.6 } };

/** The EventBridge event EC2 sends, for `instanceId`, timed now. */
export function spotEvent(instanceId, detailType = 'EC2 Spot Instance Interruption Warning') {
  return {
    version: '0', id: `e2e-${instanceId}-${Date.now()}`, 'detail-type': detailType, source: 'aws.ec2',
    account: '123456789012', time: new Date().toISOString(), region: 'us-east-1',
    resources: [`arn:aws:ec2:us-east-1:123456789012:instance/${instanceId}`],
    detail: detailType.startsWith('EC2 Spot') ? { 'instance-id': instanceId, 'instance-action': 'terminate' } : { 'instance-id': instanceId },
  };
}

export const running = (inspect) => inspect.instances.filter((i) => i.state === 'running').map((i) => i.id).sort();
export const titles = (s) => s.slack.messages.map(slackText);
export const stepOutput = (tick, state) => tick.steps.filter((x) => x.state === state && x.ok).at(-1)?.output;

/**
 * Runs `body` with a started scenario and always stops it. Unless `options.expectDenials`, every
 * AWS call the functions made must have been allowed by their roles.
 */
export async function withScenario(name, options, body) {
  const s = await Scenario.start(name, options);
  try {
    await body(s);
    if (!options.expectDenials) assert.deepEqual(s.denials(), [], 'every call a step made was allowed by its role');
  } catch (e) {
    e.message += `\n(logs of scenario ${name}: ${s.logs})`;
    throw e;
  } finally {
    await s.stop();
  }
}

/** Waits until Prometheus has held pending pods for a whole 60 s window (the scale-up rule). */
export function waitForPendingWindow(s) {
  return waitFor('pods pending for a whole window', async () =>
    (await s.query('min_over_time(smartscale:pending_pods:count[75s])')) > 0
    && (await s.query('count_over_time(smartscale:pending_pods:count[75s])')) >= 5, { seconds: 180, everyMs: 2000 });
}

export function assertReleased(inspect) {
  assert.equal(inspect.item.lock_owner, undefined, `lock released (item: ${JSON.stringify(inspect.item)})`);
}


/**
 * Records a figure for scripts/bench-steps.sh (one JSON line in SMARTSCALE_BENCH_OUT, when set):
 * the state transitions of a tick, which Step Functions bills (one per state entered).
 */
export function benchTransitions(kind, tick) {
  const out = process.env.SMARTSCALE_BENCH_OUT;
  if (out) appendFileSync(out, `${JSON.stringify({ tick: kind, transitions: tick.visited.length })}\n`);
}

/** The shipped price table (functions/engine/prices.json), the one the functions price with. */
const PRICES = JSON.parse(readFileSync(new URL('../../functions/engine/prices.json', import.meta.url), 'utf8'));

/**
 * The cost metric Evaluate should report for moto's view of the fleet (`inspect`): each live
 * worker of `cluster` SmartScale manages at the price table's price in `region` for its type and
 * purchase option (the `Lifecycle` tag SmartScale writes, else EC2's `InstanceLifecycle`), against
 * `BASELINE_NODES` on-demand workers of the first `WORKER_INSTANCE_TYPES` type of `env` (a
 * function's environment as the template sets it). Values in USD per hour and percent.
 */
export function expectedCost(inspect, cluster, env, region = 'us-east-1') {
  const price = (type, capacity) => {
    const offer = PRICES.regions[region]?.[type];
    assert.ok(offer, `prices.json has ${type} in ${region}`);
    return offer[capacity];
  };
  const live = inspect.instances.filter((i) => i.tags.ManagedBy === 'smartscale' && i.tags.Cluster === cluster && ['pending', 'running'].includes(i.state));
  const byCapacity = { 'on-demand': 0, spot: 0 };
  for (const i of live) {
    const spot = i.tags.Lifecycle ? i.tags.Lifecycle === 'spot' : i.lifecycle === 'spot';
    byCapacity[spot ? 'spot' : 'on-demand'] += price(i.type, spot ? 'spot' : 'on_demand');
  }
  const hourly = byCapacity['on-demand'] + byCapacity.spot;
  const baseline = Number(env.BASELINE_NODES) * price(env.WORKER_INSTANCE_TYPES.split(',')[0], 'on_demand');
  const spotWorkers = live.filter((i) => (i.tags.Lifecycle ? i.tags.Lifecycle === 'spot' : i.lifecycle === 'spot')).length;
  return { workers: live.length, hourly, byCapacity, baseline, savings: (1 - hourly / baseline) * 100, spotShare: live.length ? (spotWorkers / live.length) * 100 : 0 };
}

/**
 * Asserts that every cost line among `records` (EMF records of Evaluate, see Scenario.emf) carries
 * `want` (from {@link expectedCost}): the fleet's HourlyCost, BaselineHourlyCost,
 * SavingsVsBaseline and SpotShare, and HourlyCost by CapacityType; at least one of each.
 */
export function assertCostLines(records, cluster, want) {
  const close = (got, expected, what) => assert.ok(Math.abs(got - expected) < 1e-9, `${what}: ${got}, want ${expected}`);
  const dims = (m) => Object.keys(m.dimensions).sort().join(',');
  const fleet = { HourlyCost: want.hourly, BaselineHourlyCost: want.baseline, SavingsVsBaseline: want.savings, SpotShare: want.spotShare };
  for (const [name, value] of Object.entries(fleet)) {
    const lines = records.filter((m) => m.name === name && dims(m) === 'ClusterId');
    assert.ok(lines.length > 0, `EMF ${name} of the fleet logged`);
    for (const m of lines) {
      assert.equal(m.dimensions.ClusterId, cluster);
      close(m.value, value, `fleet ${name}`);
    }
  }
  for (const [capacity, value] of Object.entries(want.byCapacity)) {
    const lines = records.filter((m) => m.name === 'HourlyCost' && dims(m) === 'CapacityType,ClusterId' && m.dimensions.CapacityType === capacity);
    assert.ok(lines.length > 0, `EMF HourlyCost of ${capacity} logged`);
    for (const m of lines) close(m.value, value, `HourlyCost of ${capacity}`);
  }
}
