// End-to-end: a scheduled floor starts ahead of its window on the periodic machine as synthesized
// (docs/SCALING_ALGORITHM.md, "Forecast and floors" and "Forecast history"). The floor is set
// through the scenario's function settings (`-c functionSettings`, as an operator sets
// SCHEDULED_FLOORS), its window a few minutes after the test's clock; the launch must come within
// FLOOR_LEAD_TIME of the window and before it, its nodes join, its reason names the floor, and
// Slack says the floor started. Every tick also keeps the forecast item `<cluster>#forecast`.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { assertReleased, deployment, running, titles, withScenario } from './kit.mjs';
import { waitFor } from './standins.mjs';

/** `HH:MM` of `date` in UTC (the default CLUSTER_TIMEZONE). */
const hhmm = (date) => date.toISOString().slice(11, 16);

/** The lead a floor is acted on with before any scale-up was measured: FLOOR_LEAD_TIME's default. */
const LEAD_SECS = 180;

describe('scheduled floor, end to end', () => {
  test('a floor starts FLOOR_LEAD_TIME ahead of its window: workers launched and joined, Slack told', async () => {
    // The window opens on a whole minute at least 6 minutes from now (synth and the stand-ins take
    // a minute or two), and lasts 30 minutes; `daily` so the day of the week does not matter.
    const start = new Date(Math.ceil((Date.now() + 6 * 60_000) / 60_000) * 60_000);
    const end = new Date(start.getTime() + 30 * 60_000);
    const floor = `daily ${hhmm(start)}-${hhmm(end)} min=4`;
    const settings = { MIN_NODES: '3', SCHEDULED_FLOORS: floor };
    await withScenario('floor', { workers: 3, objects: [deployment('web', 3)], traffic: { cpuUtilisation: 0.5 }, settings }, async (s) => {
      const leadStarts = start.getTime() - LEAD_SECS * 1000;
      const first = running(await s.inspect());
      assert.equal(first.length, 3);

      // Before the lead: the floor is not acted on (when the stand-ins came up early enough).
      if (Date.now() < leadStarts - 30_000) {
        const t = await s.tick();
        assert.equal(t.status, 'SUCCEEDED', JSON.stringify(t.error));
        assert.equal(t.output.decision.action, 'none', t.output.decision.reasons.join('; '));
        assert.ok(!titles(s).some((m) => /Scheduled Floor/.test(m)), titles(s).join('\n---\n'));
        const item = (await s.inspect()).forecast;
        assert.ok(item.history, `the forecast item exists after a tick: ${JSON.stringify(item)}`);
        assert.ok(item.written_token > 0, JSON.stringify(item));
      } else {
        test.diagnostic?.('the stand-ins came up inside the lead: no tick before it');
      }

      // Into the lead: the tick launches for the floor.
      while (Date.now() < leadStarts + 2000) await new Promise((r) => setTimeout(r, 1000));
      const t = await s.tick();
      const launchedAt = Date.now();
      assert.equal(t.status, 'SUCCEEDED', JSON.stringify(t.error));
      assert.equal(t.output.decision.action, 'scale_up', t.output.decision.reasons.join('; '));
      assert.equal(t.output.decision.codes[0], 'below_floor');
      assert.ok(t.output.decision.reasons[0].includes(floor), t.output.decision.reasons[0]);
      assert.equal(t.output.decision.count, 1);
      const launchStep = t.steps.find((x) => x.state === 'LaunchNodes' && x.ok);
      assert.ok(launchStep, t.visited.join(' > '));
      assert.ok(launchedAt < start.getTime(), `launched before the window opens at ${start.toISOString()}`);
      assert.ok(launchedAt >= leadStarts, `launched within the lead (from ${new Date(leadStarts).toISOString()})`);

      // The nodes join, the lease is released, Slack says the floor started (after the scale-up).
      const launched = t.output.operation.instance_ids;
      assert.deepEqual(t.output.ready.ready.sort(), [...launched].sort());
      const workers = await s.workers();
      for (const id of launched) assert.ok(workers.find((w) => w.instanceId === id)?.ready, `node of ${id} Ready`);
      const after = await s.inspect();
      assert.deepEqual(running(after), [...first, ...launched].sort());
      assertReleased(after);
      await waitFor('the floor-started message', async () => titles(s).some((m) => /Scheduled Floor Started/.test(m)), { seconds: 10 });
      const started = titles(s).find((m) => /Scheduled Floor Started/.test(m));
      assert.ok(started.includes(floor) && started.includes('Keeping at least 4 workers Ready'), started);
      assert.ok(titles(s).some((m) => /Scale-Up Completed/.test(m)), titles(s).join('\n---\n'));

      // The forecast item remembers the announcement (said once) and the scale-up to measure.
      assert.equal(after.forecast.announced_floor, floor, JSON.stringify(after.forecast));
      assert.ok(after.forecast.history.length > 0);
      const again = await s.tick();
      assert.equal(again.status, 'SUCCEEDED', JSON.stringify(again.error));
      assert.equal(again.output.decision.action, 'none', again.output.decision.reasons.join('; '));
      assert.equal(titles(s).filter((m) => /Scheduled Floor Started/.test(m)).length, 1, 'announced once');
      const measured = JSON.parse((await s.inspect()).forecast.history).r;
      assert.ok(measured > 0 && measured < 300, `boot-to-Ready measured: ${measured}s`);
    });
  });
});
