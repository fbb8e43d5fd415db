// End to end, the cost metric on a mixed fleet: the app's capacity settings (here all Spot above
// the on-demand base) reach the functions, a scale-up launches Spot workers through CreateFleet in
// moto, and the next tick's Evaluate reports the fleet's hourly cost by capacity type, the savings
// against the baseline and the Spot share, as prices.json prices moto's instances.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { COST_MIX } from './deployment.mjs';
import { OVERLOAD, assertCostLines, expectedCost, withScenario } from './kit.mjs';

describe('cost metric, end to end', () => {
  test('after a scale-up with the Spot mix, Evaluate reports the mixed fleet\'s cost, savings and Spot share', async () => {
    await withScenario('cost-mix', { ...OVERLOAD, context: COST_MIX }, async (s) => {
      const env = Object.values(s.functions)[0].environment;
      assert.equal(env.ON_DEMAND_PERCENTAGE_ABOVE_BASE, '0', 'the app passes the capacity setting');
      const { tick: t } = await s.tickUntil('LaunchNodes');
      assert.equal(t.status, 'SUCCEEDED', JSON.stringify(t.error));
      assert.ok(t.output.decision.launch.spot > 0, JSON.stringify(t.output.decision.launch));
      const evaluations = s.emf().filter((m) => m.step === 'evaluate').length;
      const fleet = await s.inspect();
      // The next tick is in the scale-up cooldown: it changes nothing and prices the new fleet.
      const next = await s.tick();
      assert.equal(next.status, 'SUCCEEDED', JSON.stringify(next.error));
      assert.equal(next.output.decision.action, 'none');
      const want = expectedCost(fleet, s.cluster, env);
      assert.equal(want.workers, 3 + t.output.decision.count);
      assert.ok(want.byCapacity.spot > 0 && want.spotShare > 0, JSON.stringify(want));
      assertCostLines(s.emf().filter((m) => m.step === 'evaluate').slice(evaluations), s.cluster, want);
    });
  });
});
