/**
 * The step-rights contract (`functions/contract.json`) against the synthesized roles: each step's
 * role may do exactly what the seam methods its entry uses need, no more and no less. The Rust test
 * `functions/runtime/tests/contract_uses.rs` checks the other side: a step's code calls only the
 * methods its entry lists.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { CONTRACT_FILE, ContractFile, FUNCTIONS, Seam, functionSpecs, readContract } from '../lib/contract';
import { asList, functionRoleId, resourcesOfType, roleActions, roleStatements, synthCached } from './helpers';

const s = synthCached();
/** Parsed independently of lib/contract.ts, so a slip in its derivation shows here. */
const raw = JSON.parse(fs.readFileSync(CONTRACT_FILE, 'utf8')) as ContractFile;

/** What every step function's role holds besides its capabilities: its own log stream. */
const LOGS = ['logs:CreateLogStream', 'logs:PutLogEvents'];
/** Lambda's VPC networking, on the roles of in-VPC functions. */
const VPC_ENI = ['ec2:CreateNetworkInterface', 'ec2:DescribeNetworkInterfaces', 'ec2:DescribeSubnets', 'ec2:DeleteNetworkInterface', 'ec2:AssignPrivateIpAddresses', 'ec2:UnassignPrivateIpAddresses'];

/** The IAM actions the seam methods of one contract entry need. */
function actionsOf(uses: Partial<Record<Seam, string[]>>): string[] {
  const out = new Set<string>();
  for (const [seam, methods] of Object.entries(uses) as [Seam, string[]][]) {
    for (const m of methods) for (const cap of raw.seams[seam][m]!) for (const a of raw.capabilities[cap]) out.add(a);
  }
  return [...out];
}

const functionOf = (name: string) =>
  Object.values(resourcesOfType(s, 'AWS::Lambda::Function')).find((f) => String(f.Properties!.FunctionName).endsWith(`-${name}`))!;

describe('step-rights contract', () => {
  it('the stack deploys exactly the contract steps, one function each', () => {
    assert.deepEqual(FUNCTIONS.map((f) => f.name), raw.steps.map((st) => st.name));
    const names = Object.values(resourcesOfType(s, 'AWS::Lambda::Function')).map((f) => String(f.Properties!.FunctionName));
    for (const step of raw.steps) assert.equal(names.filter((n) => n.endsWith(`-${step.name}`)).length, 1, step.name);
  });

  for (const step of raw.steps) {
    const inVpc = step.uses.cluster !== undefined || step.uses.metrics !== undefined;
    it(`${step.name}: its role can do exactly what its seams need`, () => {
      const expected = new Set([...actionsOf(step.uses), ...LOGS, ...(inVpc ? VPC_ENI : [])]);
      assert.deepEqual([...roleActions(s, functionRoleId(s, step.name))].sort(), [...expected].sort());
    });
    it(`${step.name}: runs its own step from the shared bootstrap${inVpc ? ', inside the VPC' : ''}`, () => {
      const fn = functionOf(step.name);
      assert.equal(fn.Properties!.Environment.Variables.SMARTSCALE_STEP, step.name);
      assert.equal(fn.Properties!.Handler, 'bootstrap');
      assert.equal(fn.Properties!.VpcConfig !== undefined, inVpc);
    });
  }

  it('launch-nodes and cleanup may read the Slack secret and publish to the alert topic (they notify)', () => {
    for (const name of ['launch-nodes', 'cleanup']) {
      const sts = roleStatements(s, functionRoleId(s, name));
      const sids = new Set(sts.map((st) => st.Sid));
      for (const sid of ['SlackWebhook', 'PublishAlerts', 'EncryptAlerts']) assert.ok(sids.has(sid), `${name} lacks ${sid}`);
      const slack = sts.find((st) => st.Sid === 'SlackWebhook')!;
      assert.match(JSON.stringify(slack.Resource), /SlackWebhook/);
    }
  });

  it('a step that uses no EC2 termination cannot terminate (evaluate, launch-nodes)', () => {
    for (const name of ['evaluate', 'launch-nodes']) {
      assert.ok(!roleActions(s, functionRoleId(s, name)).has('ec2:TerminateInstances'), name);
    }
  });

  it('each secret statement names only the secret of its capability', () => {
    const secretOf: Record<string, RegExp> = { K8sCredentials: /K8sApiCredentials/, PrometheusAuth: /PrometheusBasicAuth/, SlackWebhook: /SlackWebhook/ };
    for (const f of FUNCTIONS) {
      for (const st of roleStatements(s, functionRoleId(s, f.name))) {
        if (!asList(st.Action).includes('secretsmanager:GetSecretValue')) continue;
        const want = secretOf[st.Sid ?? ''];
        assert.ok(want, `${f.name}: unexpected secret statement ${st.Sid}`);
        assert.equal(asList(st.Resource as unknown[]).length, 1);
        assert.match(JSON.stringify(st.Resource), want!);
      }
    }
  });

  it('capabilities and VPC placement follow from the uses', () => {
    const specs = functionSpecs(raw);
    const launch = specs.find((f) => f.name === 'launch-nodes')!;
    assert.deepEqual(launch.capabilities, ['state-read', 'state-write', 'slack-secret', 'sns-publish', 'ec2-describe', 'ec2-launch']);
    assert.equal(launch.inVpc, false);
    assert.equal(specs.find((f) => f.name === 'drain-node')!.inVpc, true);
  });

  it('a contract naming an unknown method or capability is refused', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'contract-'));
    const write = (c: unknown) => {
      const file = path.join(dir, 'contract.json');
      fs.writeFileSync(file, JSON.stringify(c));
      return file;
    };
    const badMethod = { ...raw, steps: [{ name: 'x', uses: { store: ['drop_table'] } }] };
    assert.throws(() => readContract(write(badMethod)), /uses store\.drop_table/);
    const badCapability = { ...raw, capabilities: { ...raw.capabilities, 's3-write': ['s3:PutObject'] } };
    assert.throws(() => readContract(write(badCapability)), /unknown: s3-write/);
    fs.rmSync(dir, { recursive: true });
  });
});
