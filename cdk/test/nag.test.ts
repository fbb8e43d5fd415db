/**
 * cdk-nag AwsSolutions: the stack has no unsuppressed error or warning, and every suppression
 * carries a reason (no blanket IAM5 suppression: each names the findings it covers).
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { Aspects } from 'aws-cdk-lib';
import { Annotations, Match } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { applyNagSuppressions } from '../lib/nag';
import { synth } from './helpers';

for (const [label, context] of [
  ['default (single NAT)', {}],
  ['no NAT, business-hours schedule, demo app opened', { natMode: 'none', businessHoursTimeZone: 'Asia/Dhaka', demoAppIngressCidrs: '203.0.113.0/24' }],
] as const) {
  describe(`cdk-nag AwsSolutions: ${label}`, () => {
    const s = synth(context, (app, stack) => {
      applyNagSuppressions(stack);
      Aspects.of(app).add(new AwsSolutionsChecks());
    });
    const annotations = Annotations.fromStack(s.stack);
    // scripts/test-cdk.sh runs cfn-lint on these templates too (one CLI synth is enough).
    const out = process.env.SMARTSCALE_TEMPLATE_OUT;
    if (out) {
      fs.mkdirSync(out, { recursive: true });
      fs.writeFileSync(path.join(out, `${label.replace(/[^a-z0-9]+/gi, '-').replace(/-+$/, '')}.template.json`), JSON.stringify(s.json, null, 1));
    }

    it('reports no error', () => {
      const errors = annotations.findError('*', Match.stringLikeRegexp('AwsSolutions-.*'));
      assert.deepEqual(errors.map((e) => `${e.id}: ${String(e.entry.data).split(': ')[0]}`), []);
    });
    it('reports no warning', () => {
      const warnings = annotations.findWarning('*', Match.stringLikeRegexp('AwsSolutions-.*'));
      assert.deepEqual(warnings.map((e) => `${e.id}: ${String(e.entry.data).split(': ')[0]}`), []);
    });
    it('every suppression has a reason and IAM5 suppressions name their findings', () => {
      let count = 0;
      for (const [id, r] of Object.entries(s.json.Resources)) {
        for (const rule of (r.Metadata?.cdk_nag?.rules_to_suppress ?? []) as { id: string; reason: string; applies_to?: unknown[] }[]) {
          count++;
          assert.ok(rule.reason.length >= 40, `${id} ${rule.id}: reason too short: ${rule.reason}`);
          if (rule.id === 'AwsSolutions-IAM5') assert.ok(rule.applies_to && rule.applies_to.length > 0, `${id}: blanket IAM5 suppression`);
        }
      }
      assert.ok(count > 0);
    });
  });
}
