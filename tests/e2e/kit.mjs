// What the end-to-end scenarios share: Kubernetes objects to seed, the runner that always stops a
// scenario's stand-ins, and readers of the end state.
import assert from 'node:assert/strict';
import { appendFileSync } from 'node:fs';
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
