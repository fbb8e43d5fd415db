// Synthesizes the stacks the suite's scenarios use, one after the other, before they start
// (scripts/test-e2e.sh): a synth is CPU-heavy, and scenarios running meanwhile would be slowed.
import { SUITE_CONTEXTS, synth } from './deployment.mjs';

for (const context of SUITE_CONTEXTS) {
  const started = Date.now();
  const template = await synth(context);
  console.log(`cdk synth ${JSON.stringify(context)}: ${template} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
}
