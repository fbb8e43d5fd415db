/**
 * Where the stack finds its inputs: real Lambda zips, ASL files and Prometheus files win; the
 * committed fixtures are used only in synth-only runs; a real synth with a missing input fails
 * naming it; an ASL placeholder without a substitution fails the synth. Plus configuration checks.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { App } from 'aws-cdk-lib';
import { ConfigError, configFromContext, defaultConfig } from '../lib/config';
import { SmartScaleStack } from '../lib/smartscale-stack';
import { FIXTURES, MissingSourceError, lambdaAsset, stateMachineDefinition } from '../lib/sources';
import { REPO_ROOT, resourcesOfType, synth } from './helpers';

function tmpRoot(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'smartscale-root-'));
}

describe('Lambda assets', () => {
  it('a real synth uses <lambdaAssetDir>/<name>/bootstrap.zip', () => {
    const root = tmpRoot();
    fs.mkdirSync(path.join(root, 'target/lambda/evaluate'), { recursive: true });
    fs.writeFileSync(path.join(root, 'target/lambda/evaluate/bootstrap.zip'), 'zip');
    const src = lambdaAsset(defaultConfig(root), 'evaluate');
    assert.deepEqual(src, { path: path.join(root, 'target/lambda/evaluate/bootstrap.zip'), placeholder: false });
  });
  it('a real synth without the zip fails naming it and the build command', () => {
    const root = tmpRoot();
    assert.throws(() => lambdaAsset(defaultConfig(root), 'notify'), (e: Error) => e instanceof MissingSourceError && e.message.includes('notify/bootstrap.zip') && e.message.includes('scripts/package-lambdas.sh'));
  });
  it('the placeholder is used only when the configuration asks for it', () => {
    const cfg = { ...defaultConfig(tmpRoot()), synthOnlyPlaceholders: true };
    assert.deepEqual(lambdaAsset(cfg, 'notify'), { path: FIXTURES.placeholderLambda, placeholder: true });
  });
});

describe('state machine definitions', () => {
  it('a real synth without statemachine/ fails naming the file', () => {
    assert.throws(() => stateMachineDefinition(defaultConfig(tmpRoot()), 'smartscale.asl.json'), /statemachine\/smartscale\.asl\.json is missing/);
  });
  it('a synth-only run reads the real file too, and fails without it (no stand-in definition)', () => {
    const root = tmpRoot();
    const cfg = { ...defaultConfig(root), synthOnlyPlaceholders: true };
    assert.throws(() => stateMachineDefinition(cfg, 'smartscale.asl.json'), MissingSourceError);
    fs.mkdirSync(path.join(root, 'statemachine'));
    fs.writeFileSync(path.join(root, 'statemachine/smartscale.asl.json'), '{}');
    assert.deepEqual(stateMachineDefinition(cfg, 'smartscale.asl.json'), { path: path.join(root, 'statemachine/smartscale.asl.json'), placeholder: false });
  });
  it('a placeholder without a substitution fails the synth', () => {
    const root = tmpRoot();
    fs.mkdirSync(path.join(root, 'statemachine'));
    fs.writeFileSync(path.join(root, 'statemachine/smartscale.asl.json'), JSON.stringify({ StartAt: 'A', States: { A: { Type: 'Task', Resource: '${UnknownFunctionArn}', End: true } } }));
    fs.copyFileSync(path.join(REPO_ROOT, 'statemachine/spot-interruption.asl.json'), path.join(root, 'statemachine/spot-interruption.asl.json'));
    const app = new App();
    assert.throws(() => new SmartScaleStack(app, 'Bad', { config: { ...defaultConfig(root), synthOnlyPlaceholders: true } }), /no substitution for UnknownFunctionArn/);
  });
});

describe('configuration', () => {
  const cases: { name: string; context: Record<string, string>; error?: RegExp }[] = [
    { name: 'defaults are valid', context: {} },
    { name: 'cluster id must be a DNS-like name', context: { clusterId: 'Prod_1' }, error: /clusterId/ },
    { name: 'unknown NAT mode', context: { natMode: 'two' }, error: /natMode/ },
    { name: 'min above max', context: { minNodes: '5', maxNodes: '3' }, error: /minNodes/ },
    { name: 'the default /24 node subnets hold 469 workers and the master', context: { maxNodes: '469' } },
    { name: 'more workers than the node subnets hold', context: { maxNodes: '520' }, error: /maxNodes: 520 workers and the master need 521 addresses, but the 2 \/24 node subnets hold 470; set context nodeSubnetCidrMask to 23 or lower/ },
    { name: 'wider node subnets hold them', context: { maxNodes: '520', nodeSubnetCidrMask: '23' } },
    { name: 'more workers than even the widest subnets hold', context: { maxNodes: '40000', nodeSubnetCidrMask: '18' }, error: /even \/18 subnets hold only 32726; lower maxNodes/ },
    { name: 'a node subnet wider than the VPC holds four of', context: { nodeSubnetCidrMask: '17' }, error: /nodeSubnetCidrMask: expected 18 to 28/ },
    { name: 'thresholds inverted', context: { scaleUpThresholdCpu: '30', scaleDownThresholdCpu: '70' }, error: /scaleUpThresholdCpu/ },
    { name: 'non-numeric cooldown', context: { cooldownScaleUp: 'soon' }, error: /cooldownScaleUp/ },
    { name: 'bad CIDR', context: { demoAppIngressCidrs: '0.0.0.0' }, error: /demoAppIngressCidrs/ },
    { name: 'bad K3s version', context: { k3sVersion: 'latest' }, error: /k3sVersion/ },
    { name: 'K3s version without a pinned sum', context: { k3sVersion: 'v1.31.5+k3s1' }, error: /no sha256 is pinned.*k3sSha256/ },
    { name: 'K3s version with its sum given', context: { k3sVersion: 'v1.31.5+k3s1', k3sSha256: 'a'.repeat(64) } },
    { name: 'malformed K3s sum', context: { k3sSha256: 'abc' }, error: /k3sSha256/ },
    { name: 'ECR credential provider pinned by version and sum', context: { ecrCredentialProviderVersion: 'v1.31.1', ecrCredentialProviderSha256: 'b'.repeat(64) } },
    { name: 'ECR credential provider version without a sum', context: { ecrCredentialProviderVersion: 'v1.31.1' }, error: /give both .*installed only when pinned by sha256/ },
    { name: 'ECR credential provider sum without a version', context: { ecrCredentialProviderSha256: 'b'.repeat(64) }, error: /ecrCredentialProviderVersion/ },
    { name: 'malformed ECR credential provider sum', context: { ecrCredentialProviderVersion: 'v1.31.1', ecrCredentialProviderSha256: 'B'.repeat(64) }, error: /ecrCredentialProviderSha256/ },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const build = () => configFromContext((k) => c.context[k], '/repo', {});
      if (c.error) assert.throws(build, (e: Error) => e instanceof ConfigError && c.error!.test(e.message));
      else assert.equal(build().clusterId, 'smartscale-prod');
    });
  }
  it('placeholders can be switched on by environment (tests) but are off by default', () => {
    assert.equal(configFromContext(() => undefined, '/repo', {}).synthOnlyPlaceholders, false);
    assert.equal(configFromContext(() => undefined, '/repo', { SMARTSCALE_SYNTH_PLACEHOLDERS: '1' }).synthOnlyPlaceholders, true);
  });
});

describe('node subnets', () => {
  const masks = (context: Record<string, unknown>) => Object.values(resourcesOfType(synth(context), 'AWS::EC2::Subnet')).map((r) => String(r.Properties!.CidrBlock).split('/')[1]);
  it('are /24 by default and take the configured mask, public and private alike', () => {
    assert.deepEqual(masks({}), ['24', '24', '24', '24']);
    assert.deepEqual(masks({ maxNodes: '520', nodeSubnetCidrMask: '23' }), ['23', '23', '23', '23']);
  });
});

describe('supply chain: the ECR credential provider', () => {
  const workerUserData = (context: Record<string, unknown>) => {
    const lt = Object.values(resourcesOfType(synth(context), 'AWS::EC2::LaunchTemplate')).find((t) => String(t.Properties!.LaunchTemplateName ?? '').endsWith('-worker'))!;
    return JSON.stringify(lt.Properties!.LaunchTemplateData.UserData);
  };
  it('is not part of the worker user data unless pinned by version and sha256', () => {
    assert.ok(!workerUserData({}).includes('export ECR_CREDENTIAL_PROVIDER_'), 'no provider settings by default');
    const pinned = workerUserData({ ecrCredentialProviderVersion: 'v1.31.1', ecrCredentialProviderSha256: 'c'.repeat(64) });
    assert.ok(pinned.includes(`export ECR_CREDENTIAL_PROVIDER_SHA256='${'c'.repeat(64)}'`), 'the sum is rendered');
    assert.ok(pinned.includes("export ECR_CREDENTIAL_PROVIDER_URL='https://artifacts.k8s.io/binaries/cloud-provider-aws/v1.31.1/linux/amd64/ecr-credential-provider-linux-amd64'"));
  });
});
