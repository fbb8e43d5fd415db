// End-to-end runs of the periodic machine (smartscale.asl.json): real binaries, moto, the cluster
// emulator and Prometheus (see standins.mjs). Scenarios run concurrently: each is its own cluster.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
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

const running = (inspect) => inspect.instances.filter((i) => i.state === 'running');

/** Runs `body` with a started scenario and always stops it. */
async function withScenario(name, options, body) {
  const s = await Scenario.start(name, options);
  try {
    await body(s);
  } finally {
    await s.stop();
  }
}

describe('periodic machine, end to end', { concurrency: true }, () => {
  test('nothing to do: the tick takes and releases the lock and changes nothing', async () => {
    await withScenario('idle', { workers: 3, objects: [deployment('web', 3)], traffic: { cpuUtilisation: 0.5 } }, async (s) => {
      await s.waitForHistory(5);
      const t = await s.tick();
      assert.equal(t.status, 'SUCCEEDED', JSON.stringify(t.error));
      assert.deepEqual(t.visited, ['Init', 'AcquireLock', 'Evaluate', 'ApplyEvaluation', 'RouteDecision', 'ReleaseLock', 'RouteFinish', 'Done']);
      const decision = t.output.decision;
      assert.equal(decision.action, 'none');
      assert.ok(decision.reasons.length > 0, 'a hold says why');
      const after = await s.inspect();
      assert.equal(running(after).length, 3);
      assert.equal(after.item.lock_owner, undefined, 'lock released');
      assert.equal(s.slack.messages.length, 0);
      assert.equal(after.sns.length, 0);
    });
  });
});
