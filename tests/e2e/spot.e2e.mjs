// End-to-end runs of the spot machine as synthesized: the real step binaries, each with its role,
// against moto, the cluster emulator and Prometheus (see standins.mjs). The events are what EC2
// sends; the rig checks each against the template's rule before starting the machine.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { deployment, running, stepOutput, titles, withScenario } from './kit.mjs';
import { waitFor } from './standins.mjs';

/** The EventBridge event EC2 sends, for `instanceId`, timed now. */
function spotEvent(instanceId, detailType = 'EC2 Spot Instance Interruption Warning') {
  return {
    version: '0', id: `e2e-${instanceId}-${Date.now()}`, 'detail-type': detailType, source: 'aws.ec2',
    account: '123456789012', time: new Date().toISOString(), region: 'us-east-1',
    resources: [`arn:aws:ec2:us-east-1:123456789012:instance/${instanceId}`],
    detail: detailType.startsWith('EC2 Spot') ? { 'instance-id': instanceId, 'instance-action': 'terminate' } : { 'instance-id': instanceId },
  };
}

describe('spot machine, end to end', { concurrency: true }, () => {
  test('interruption warning: the node is cordoned and drained, a replacement joins; a repeat is skipped', async () => {
    await withScenario('spot', { workers: 3, objects: [deployment('web', 6)], traffic: { cpuUtilisation: 0.4 } }, async (s) => {
      const start = running(await s.inspect());
      const victim = (await s.workers())[0];
      const machine = 'spot-interruption';
      const t = await s.tick({ machine, event: spotEvent(victim.instanceId) });
      assert.equal(t.status, 'SUCCEEDED', JSON.stringify(t.error));
      assert.equal(t.visited.at(-1), 'Done');
      assert.ok(t.visited.includes('Notify'), t.visited.join(' '));
      const spot = stepOutput(t, 'SpotDrainStep') ?? stepOutput(t, 'HandleSpotSignal');
      assert.equal(spot.status, 'drained', JSON.stringify(spot));
      assert.equal(spot.node_name, victim.name);
      assert.equal(spot.replacement_instance_ids.length, 1);
      const [replacement] = spot.replacement_instance_ids;

      const after = await s.inspect();
      assert.deepEqual(running(after), [...start, replacement].sort(), 'one replacement launched, nothing terminated by us');
      assert.equal(after.instances.find((i) => i.id === replacement).tags.ManagedBy, 'smartscale');
      assert.equal((await s.workers()).find((w) => w.name === victim.name).unschedulable, true, 'the doomed node stays cordoned');
      await waitFor('the replacement Ready', async () => (await s.workers()).find((w) => w.instanceId === replacement)?.ready);
      await waitFor('web pods Running off the doomed node', async () => {
        const web = (await s.pods()).filter((p) => p.name.startsWith('web-'));
        return web.length === 6 && web.every((p) => p.phase === 'Running' && p.node !== victim.name);
      });
      assert.ok(titles(s).some((m) => /Spot Interruption/.test(m)), titles(s).join('\n---\n'));
      assert.ok(after.sns.some((m) => /Spot Interruption/.test(m.subject)), JSON.stringify(after.sns));

      // EC2 often sends a Rebalance Recommendation and then the Interruption Warning, and
      // EventBridge may deliver twice: the instance is handled once.
      const again = await s.tick({ machine, event: spotEvent(victim.instanceId, 'EC2 Instance Rebalance Recommendation') });
      assert.equal(again.status, 'SUCCEEDED');
      assert.deepEqual(again.visited, ['Init', 'HandleSpotSignal', 'SkippedAlreadyHandled']);
      assert.equal(running(await s.inspect()).length, start.length + 1, 'no second replacement');
    });
  });
});
