#!/usr/bin/env node
/**
 * CDK entry point: `cdk synth` / `cdk deploy` build one SmartScale stack from CDK context
 * (see docs/DEPLOYMENT_GUIDE.md for the keys) and check it with cdk-nag's AwsSolutions pack.
 */
import * as path from 'node:path';
import { App, Aspects } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { configFromContext } from '../lib/config';
import { applyNagSuppressions } from '../lib/nag';
import { SmartScaleStack } from '../lib/smartscale-stack';
import { CDK_DIR } from '../lib/sources';

const app = new App();
const config = configFromContext((k) => app.node.tryGetContext(k), path.resolve(CDK_DIR, '..'));
const stack = new SmartScaleStack(app, (app.node.tryGetContext('stackName') as string | undefined) ?? `SmartScale-${config.clusterId}`, {
  config,
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
  description: `SmartScale: K3s worker autoscaler for cluster ${config.clusterId}`,
});
applyNagSuppressions(stack);
Aspects.of(app).add(new AwsSolutionsChecks({ verbose: true }));
if (stack.usesPlaceholders) {
  process.stderr.write('WARNING: synthesised with synth-only placeholders (Lambda code, ASL or Prometheus fixtures); do not deploy this template.\n');
}
