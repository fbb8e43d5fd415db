/**
 * What the deployment hands the state machines and the functions: the settings a user chooses at
 * synth time reach the variables the functions read, the definitions carry the stack's timeouts,
 * timed-out and stopped executions raise alarms, and no role holds a right no step uses.
 */
import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Duration } from 'aws-cdk-lib';
import { engineDefaults } from '../lib/config';
import { FUNCTIONS } from '../lib/contract';
import { withTimeout } from '../lib/smartscale-stack';
import { CfnResource, Synth, asList, identityStatements, resourcesOfType, synthCached } from './helpers';

/** Each function's environment, by the function's kebab name. */
function environments(s: Synth): Record<string, Record<string, unknown>> {
  const fns = Object.values(resourcesOfType(s, 'AWS::Lambda::Function'));
  return Object.fromEntries(
    FUNCTIONS.map((spec) => {
      const f = fns.find((x) => String(x.Properties!.FunctionName).endsWith(`-${spec.name}`));
      assert.ok(f, spec.name);
      return [spec.name, f.Properties!.Environment.Variables];
    }),
  );
}

/** The synthesized definition of the state machine named `smartscale-<cluster>-<name>`, parsed. */
function definition(s: Synth, name: string): Record<string, any> {
  const m = Object.values(resourcesOfType(s, 'AWS::StepFunctions::StateMachine')).find((r) => String(r.Properties!.StateMachineName).endsWith(`-${name}`));
  assert.ok(m, `state machine ${name}`);
  const text = m.Properties!.DefinitionString;
  assert.equal(typeof text, 'string', 'the definition is one string; the ARNs come in through DefinitionSubstitutions');
  return JSON.parse(text as string) as Record<string, any>;
}

function alarmOn(s: Synth, metricName: string, machineLogicalId: string): CfnResource | undefined {
  return Object.values(resourcesOfType(s, 'AWS::CloudWatch::Alarm')).find(
    (a) =>
      a.Properties!.Namespace === 'AWS/States' &&
      a.Properties!.MetricName === metricName &&
      JSON.stringify(a.Properties!.Dimensions).includes(machineLogicalId),
  );
}

describe('settings reach the functions', () => {
  const cases: { name: string; context: Record<string, string>; types: string; spot: string }[] = [
    { name: 'defaults: t3.small on demand', context: {}, types: 't3.small', spot: 'false' },
    { name: '-c workerInstanceType=t3.medium', context: { workerInstanceType: 't3.medium' }, types: 't3.medium', spot: 'false' },
    { name: '-c workerInstanceType=t3.small,t3a.small', context: { workerInstanceType: 't3.small, t3a.small' }, types: 't3.small,t3a.small', spot: 'false' },
    { name: '-c useSpot=true', context: { useSpot: 'true' }, types: 't3.small', spot: 'true' },
  ];
  for (const c of cases) {
    it(`${c.name}: every function gets WORKER_INSTANCE_TYPES=${c.types} and USE_SPOT=${c.spot}, and the launch template agrees`, () => {
      const s = synthCached(c.context);
      for (const [fn, env] of Object.entries(environments(s))) {
        assert.equal(env.WORKER_INSTANCE_TYPES, c.types, `${fn} WORKER_INSTANCE_TYPES`);
        assert.equal(env.USE_SPOT, c.spot, `${fn} USE_SPOT`);
      }
      const lt = Object.values(resourcesOfType(s, 'AWS::EC2::LaunchTemplate')).find((r) => String(r.Properties!.LaunchTemplateName).endsWith('-worker'));
      assert.equal(lt?.Properties!.LaunchTemplateData.InstanceType, c.types.split(',')[0]);
    });
  }
  it('a malformed instance type or Spot flag fails the synth naming the key', () => {
    assert.throws(() => synthCached({ workerInstanceType: 'large' }), /context workerInstanceType/);
    assert.throws(() => synthCached({ useSpot: 'sometimes' }), /context useSpot/);
  });
});

describe('the capacity settings reach every function (each reads the whole configuration at cold start)', () => {
  const defaults = engineDefaults();
  const cases: { name: string; context: Record<string, string>; want: Record<string, string | undefined> }[] = [
    {
      name: 'defaults: the shared defaults, the on-demand base and share left to the functions',
      context: {},
      want: { BURST_INSTANCE_TYPES: defaults.BURST_INSTANCE_TYPES, BASELINE_NODES: defaults.BASELINE_NODES, ON_DEMAND_BASE_CAPACITY: undefined, ON_DEMAND_PERCENTAGE_ABOVE_BASE: undefined },
    },
    {
      name: "TechFlow's 60/40 mix over two types, burst types and a baseline of 4",
      context: { workerInstanceType: 't3.small,t3a.small', onDemandBaseCapacity: '0', onDemandPercentageAboveBase: '40', burstInstanceTypes: 't3.medium,t3.large', baselineNodes: '4' },
      want: { WORKER_INSTANCE_TYPES: 't3.small,t3a.small', BURST_INSTANCE_TYPES: 't3.medium,t3.large', BASELINE_NODES: '4', ON_DEMAND_BASE_CAPACITY: '0', ON_DEMAND_PERCENTAGE_ABOVE_BASE: '40' },
    },
    { name: 'an all-on-demand share above a base of 3', context: { onDemandBaseCapacity: '3', onDemandPercentageAboveBase: '100' }, want: { ON_DEMAND_BASE_CAPACITY: '3', ON_DEMAND_PERCENTAGE_ABOVE_BASE: '100' } },
  ];
  assert.equal(defaults.BASELINE_NODES, '5', "TechFlow's fixed fleet");
  for (const c of cases) {
    it(c.name, () => {
      const envs = environments(synthCached(c.context));
      assert.equal(Object.keys(envs).length, FUNCTIONS.length);
      for (const [fn, env] of Object.entries(envs)) {
        for (const [k, v] of Object.entries(c.want)) assert.equal(env[k], v, `${fn} ${k}`);
      }
    });
  }
  const bad: [string, Record<string, string>, RegExp][] = [
    ['a type the price table lacks', { workerInstanceType: 't3.small,m5.large' }, /context workerInstanceType: m5\.large not in functions\/engine\/prices\.json/],
    ['a burst type that is a worker type', { burstInstanceTypes: 't3.small' }, /context burstInstanceTypes: t3\.small is also a worker instance type/],
    ['an unpriced burst type', { burstInstanceTypes: 'c5.large' }, /context burstInstanceTypes: c5\.large not in/],
    ['a base above maxNodes', { onDemandBaseCapacity: '11' }, /context onDemandBaseCapacity: 11 is greater than maxNodes \(10\)/],
    ['a share above 100', { onDemandPercentageAboveBase: '140' }, /context onDemandPercentageAboveBase: expected 0 to 100/],
    ['a share that is not a number', { onDemandPercentageAboveBase: 'most' }, /context onDemandPercentageAboveBase: expected a non-negative integer/],
    ['no baseline', { baselineNodes: '0' }, /context baselineNodes: expected at least 1/],
    ['a capacity variable through functionSettings', { functionSettings: JSON.stringify({ ON_DEMAND_BASE_CAPACITY: '3' }) }, /ON_DEMAND_BASE_CAPACITY is set by the stack/],
  ];
  for (const [name, context, error] of bad) it(`${name} fails the synth naming the key`, () => assert.throws(() => synthCached(context), error));
});

describe('functionSettings', () => {
  it('each setting reaches every function as given', () => {
    const s = synthCached({ functionSettings: JSON.stringify({ SCALE_UP_WINDOW: '60s', LOCK_TTL: '20s' }) });
    for (const [fn, env] of Object.entries(environments(s))) {
      assert.equal(env.SCALE_UP_WINDOW, '60s', fn);
      assert.equal(env.LOCK_TTL, '20s', fn);
    }
  });
  const bad: [string, string, RegExp][] = [
    ['a variable the stack sets', JSON.stringify({ DYNAMODB_TABLE: 'other' }), /DYNAMODB_TABLE is set by the stack/],
    ['a Lambda-provided variable', JSON.stringify({ AWS_REGION: 'eu-west-1' }), /AWS_REGION is set by the stack or by Lambda/],
    ['not JSON', 'LOCK_TTL=20s', /expected a JSON object/],
    ['a non-string value', JSON.stringify({ LOCK_TTL: 20 }), /LOCK_TTL must be a string/],
  ];
  for (const [name, value, error] of bad) it(`${name} fails the synth`, () => assert.throws(() => synthCached({ functionSettings: value }), error));
});

describe('the definitions carry the stack timeouts', () => {
  const s = synthCached();
  for (const [name, seconds] of [
    ['scaling', 20 * 60],
    ['spot-interruption', 20 * 60],
  ] as const) {
    it(`${name}: TimeoutSeconds is ${seconds}, right after StartAt`, () => {
      const def = definition(s, name);
      assert.equal(def.TimeoutSeconds, seconds);
      assert.deepEqual(Object.keys(def).slice(0, 3), ['Comment', 'StartAt', 'TimeoutSeconds']);
    });
  }
  it('a definition file that sets its own TimeoutSeconds fails the synth; malformed JSON names the file', () => {
    assert.throws(() => withTimeout('x.asl.json', '{"StartAt":"A","TimeoutSeconds":900,"States":{}}', Duration.minutes(20)), /x\.asl\.json: TimeoutSeconds is set by the stack/);
    assert.throws(() => withTimeout('y.asl.json', '{', Duration.minutes(20)), /y\.asl\.json: not valid JSON/);
  });
});

describe('executions that end without Cleanup raise alarms', () => {
  const s = synthCached();
  const machines = Object.entries(resourcesOfType(s, 'AWS::StepFunctions::StateMachine'));
  const topic = Object.keys(resourcesOfType(s, 'AWS::SNS::Topic'))[0]!;
  assert.equal(machines.length, 2);
  for (const [id, m] of machines) {
    for (const metric of ['ExecutionsTimedOut', 'ExecutionsAborted']) {
      it(`${m.Properties!.StateMachineName}: an alarm on ${metric} >= 1 in 15 minutes notifies the topic`, () => {
        const a = alarmOn(s, metric, id);
        assert.ok(a, `no ${metric} alarm on ${id}`);
        assert.equal(a.Properties!.Threshold, 1);
        assert.equal(a.Properties!.Period, 900);
        assert.equal(a.Properties!.Statistic, 'Sum');
        assert.equal(a.Properties!.ComparisonOperator, 'GreaterThanOrEqualToThreshold');
        assert.deepEqual(a.Properties!.AlarmActions, [{ Ref: topic }]);
      });
    }
  }
  it('the scaling machine keeps its ExecutionsFailed alarm', () => {
    const [id] = machines.find(([, m]) => String(m.Properties!.StateMachineName).endsWith('-scaling'))!;
    assert.ok(alarmOn(s, 'ExecutionsFailed', id));
  });
});

describe('no unused rights', () => {
  it('no role may dynamodb:PutItem (every state write is a conditional UpdateItem)', () => {
    const holders = identityStatements(synthCached())
      .filter(({ statement }) => asList(statement.Action).includes('dynamodb:PutItem'))
      .map(({ owner }) => owner);
    assert.deepEqual(holders, []);
  });
});
