// End-to-end runs of the spot machine as synthesized: the real step binaries, each with its role,
// against moto, the cluster emulator and Prometheus (see standins.mjs). The events are what EC2
// sends; the rig checks each against the template's rule before starting the machine.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { assertReleased, deployment, running, spotEvent, stepOutput, titles, withScenario } from './kit.mjs';
import { waitFor } from './standins.mjs';

const REBALANCE = 'EC2 Instance Rebalance Recommendation';

/** A StatefulSet of one pod and a bare pod, both on `node`: neither may keep the others in place. */
function pinnedTo(node) {
  const spec = (name) => ({
    terminationGracePeriodSeconds: 1, nodeSelector: { 'kubernetes.io/hostname': node },
    containers: [{ name, image: `${name}:e2e`, resources: { requests: { cpu: '100m', memory: '64Mi' } } }],
  });
  return [
    {
      apiVersion: 'apps/v1', kind: 'StatefulSet', metadata: { name: 'db', namespace: 'default' },
      spec: { replicas: 1, serviceName: 'db', selector: { matchLabels: { app: 'db' } }, template: { metadata: { labels: { app: 'db' } }, spec: spec('db') } },
    },
    { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'bare', namespace: 'default' }, spec: { ...spec('bare'), nodeName: node } },
  ];
}

describe('spot machine, end to end', { concurrency: true }, () => {
  test('interruption warning: everything evictable leaves within the 2-minute notice, a replacement joins under the lease; a repeat is skipped', async () => {
    let victim;
    const objects = (workers) => {
      victim = workers[0];
      return [deployment('web', 6), ...pinnedTo(victim.name)];
    };
    await withScenario('spot', { workers: 3, objects, traffic: { cpuUtilisation: 0.4 } }, async (s) => {
      await waitFor('db-0 and bare Running on the victim', async () => {
        const pods = await s.pods();
        return ['db-0', 'bare'].every((n) => pods.some((p) => p.name === n && p.node === victim.name && p.phase === 'Running'));
      });
      const start = running(await s.inspect());
      const machine = 'spot-interruption';
      const event = spotEvent(victim.instanceId);
      const signalled = Date.parse(event.time);
      let evictedAt;
      const watching = (async () => {
        await waitFor('every evictable pod off the victim', async () => {
          const left = (await s.pods()).filter((p) => p.node === victim.name && p.name !== 'bare');
          return left.length === 0;
        }, { seconds: 150, everyMs: 500 });
        evictedAt = Date.now();
      })();
      const t = await s.tick({ machine, event });
      await watching;
      assert.equal(t.status, 'SUCCEEDED', JSON.stringify(t.error));
      assert.equal(t.visited.at(-1), 'Done');
      for (const state of ['AcquireLock', 'LaunchReplacement', 'CheckNodesReady', 'RecordOutcome', 'ReleaseLock', 'Notify']) {
        assert.ok(t.visited.includes(state), `${state} in ${t.visited.join(' ')}`);
      }
      const drainMs = evictedAt - signalled;
      console.log(`spot warning: evictable pods off the node ${(drainMs / 1000).toFixed(1)} s after the signal (deadline 120 s)`);
      assert.ok(drainMs < 120_000, `drained ${drainMs} ms after the signal: past the two-minute notice`);

      const first = stepOutput(t, 'HandleSpotSignal');
      assert.equal(first.node_name, victim.name);
      const spot = t.output.spot;
      assert.equal(spot.status, 'blocked_deadline', 'the bare pod stays to the 90 s deadline');
      assert.deepEqual(spot.blocked.map((b) => b.pod), ['default/bare'], JSON.stringify(spot.blocked));
      const op = stepOutput(t, 'LaunchReplacement');
      assert.equal(op.kind, 'spot_replace');
      assert.equal(op.instance_ids.length, 1, JSON.stringify(op));
      const [replacement] = op.instance_ids;
      assert.deepEqual(stepOutput(t, 'CheckNodesReady').ready, [replacement], 'joined before its deadline');

      const after = await s.inspect();
      assert.deepEqual(running(after), [...start, replacement].sort(), 'one replacement, nothing terminated by us');
      assert.equal(after.instances.find((i) => i.id === replacement).tags.ManagedBy, 'smartscale');
      assertReleased(after);
      assert.equal(after.item.operation, undefined, 'the replacement operation is closed');
      assert.equal(after.item.last_scale_action, undefined, 'a replacement starts no cooldown');
      assert.equal((await s.workers()).find((w) => w.name === victim.name).unschedulable, true, 'the doomed node stays cordoned');
      await waitFor('web pods Running off the doomed node', async () => {
        const web = (await s.pods()).filter((p) => p.name.startsWith('web-'));
        return web.length === 6 && web.every((p) => p.phase === 'Running' && p.node !== victim.name);
      });
      assert.ok(titles(s).some((m) => /Spot Interruption/.test(m) && m.includes(replacement)), titles(s).join('\n---\n'));
      assert.ok(after.sns.some((m) => /Spot Interruption/.test(m.subject)), JSON.stringify(after.sns));

      // A redelivered warning is skipped by its claim; a rebalance for the node a warning drains
      // is skipped because the node is cordoned.
      const again = await s.tick({ machine, event: spotEvent(victim.instanceId) });
      assert.deepEqual(again.visited, ['Init', 'HandleSpotSignal', 'SkippedAlreadyHandled']);
      const late = await s.tick({ machine, event: spotEvent(victim.instanceId, REBALANCE) });
      assert.deepEqual(late.visited, ['Init', 'HandleSpotSignal', 'RouteSignal', 'Done']);
      assert.equal(running(await s.inspect()).length, start.length + 1, 'no second replacement');
    });
  });

  test('rebalance recommendation: replaced first, then the worker drained and terminated; no node left cordoned', async () => {
    await withScenario('spot-rebalance', { workers: 3, objects: [deployment('web', 6)], traffic: { cpuUtilisation: 0.4 } }, async (s) => {
      const start = running(await s.inspect());
      const victim = (await s.workers())[0];
      const t = await s.tick({ machine: 'spot-interruption', event: spotEvent(victim.instanceId, REBALANCE) });
      assert.equal(t.status, 'SUCCEEDED', JSON.stringify(t.error));
      const order = ['LaunchReplacement', 'CheckNodesReady', 'RetireNode', 'CordonNode', 'DrainNode', 'TerminateNode', 'RecordOutcome', 'ReleaseLock', 'Notify'];
      const at = order.map((state) => t.visited.indexOf(state));
      assert.ok(at.every((i, k) => i >= 0 && (k === 0 || i > at[k - 1])), `in order: ${t.visited.join(' ')}`);
      const [replacement] = stepOutput(t, 'LaunchReplacement').instance_ids;
      assert.deepEqual(stepOutput(t, 'CheckNodesReady').ready, [replacement]);
      assert.equal(stepOutput(t, 'RetireNode').kind, 'scale_down');
      assert.deepEqual(stepOutput(t, 'TerminateNode').terminated, [victim.instanceId]);

      const after = await s.inspect();
      assert.deepEqual(running(after), [...start.filter((i) => i !== victim.instanceId), replacement].sort());
      assertReleased(after);
      assert.equal(after.item.operation, undefined);
      assert.equal(after.item.last_scale_action, undefined, 'a rebalance starts no cooldown');
      await waitFor('the victim node gone, none cordoned', async () => {
        const workers = await s.workers();
        return !workers.some((w) => w.name === victim.name) && workers.every((w) => !w.unschedulable);
      });
      await waitFor('web pods Running', async () => {
        const web = (await s.pods()).filter((p) => p.name.startsWith('web-'));
        return web.length === 6 && web.every((p) => p.phase === 'Running');
      });
      assert.ok(titles(s).some((m) => /Spot Interruption/.test(m) && /drained and terminated/.test(m)), titles(s).join('\n---\n'));
    });
  });
});
