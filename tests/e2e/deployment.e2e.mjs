// The deployment itself under test: what each trigger of the synthesized stack sends reaches
// AcquireLock and finishes, and each function can do what its role allows and nothing else
// (launches only from the worker launch template included).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { deployment, running, withScenario } from './kit.mjs';
import { triggersOf, machineId } from './deployment.mjs';

const QUIET = { workers: 3, objects: [deployment('web', 3)], traffic: { cpuUtilisation: 0.5 } };

/** Removes `action` from every statement of the role of function `step` in a template. */
function withoutGrant(step, action) {
  return (template) => {
    const fn = Object.values(template.Resources).find((r) => r.Type === 'AWS::Lambda::Function' && r.Properties.FunctionName?.endsWith(`-${step}`));
    const role = template.Resources[fn.Properties.Role['Fn::GetAtt'][0]];
    let removed = 0;
    for (const p of role.Properties.Policies) {
      const kept = [];
      for (const st of [p.PolicyDocument.Statement].flat()) {
        const actions = [st.Action].flat().filter((a) => a !== action);
        removed += [st.Action].flat().length - actions.length;
        if (actions.length) kept.push({ ...st, Action: actions });
      }
      p.PolicyDocument.Statement = kept;
    }
    assert.ok(removed > 0, `${step}'s role had ${action}`);
  };
}

describe('the synthesized deployment, end to end', { concurrency: 2 }, () => {
  test('fixed-rate rule: its scheduled event starts the scaling machine, which reaches AcquireLock and finishes', async () => {
    await withScenario('rule-input', QUIET, async (s) => {
      const [rule, ...others] = triggersOf(s.template, machineId(s.template, 'scaling'));
      assert.deepEqual(others, [], 'one trigger');
      assert.equal(rule.kind, 'rule');
      assert.equal(rule.schedule, 'rate(2 minutes)');
      const input = s.triggerInput('scaling');
      assert.equal(input['detail-type'], 'Scheduled Event');
      assert.equal(input.cluster_id, undefined, 'the rule sends no cluster id');
      await s.waitForHistory(5);
      const t = await s.tick();
      assert.equal(t.status, 'SUCCEEDED', JSON.stringify(t.error));
      // What the tick then decides depends on the load so far; that it got the lease and finished is the point.
      assert.deepEqual(t.visited.slice(0, 3), ['Init', 'AcquireLock', 'Evaluate']);
      assert.equal(t.visited.at(-1), 'Done');
      assert.equal(t.steps[0].state, 'AcquireLock');
      assert.ok(t.steps[0].ok, JSON.stringify(t.steps[0].error));
    });
  });

  test('business-hours schedules: their input starts the scaling machine, which reaches AcquireLock and finishes', async () => {
    await withScenario('schedule-input', { ...QUIET, context: { businessHoursTimeZone: 'Asia/Dhaka' } }, async (s) => {
      const schedules = triggersOf(s.template, machineId(s.template, 'scaling'));
      assert.deepEqual(schedules.map((x) => x.kind), ['schedule', 'schedule']);
      await s.waitForHistory(5);
      for (const sch of schedules) {
        assert.deepEqual(sch.input(), { source: 'smartscale.schedule' });
        const t = await s.tick({ name: sch.id });
        assert.equal(t.status, 'SUCCEEDED', `${sch.id}: ${JSON.stringify(t.error)}`);
        // What the tick then decides depends on the load so far; that it got the lease and finished is the point.
        assert.deepEqual(t.visited.slice(0, 3), ['Init', 'AcquireLock', 'Evaluate'], sch.id);
        assert.equal(t.visited.at(-1), 'Done', sch.id);
      }
    });
  });

  test('IAM: Evaluate cannot terminate; TerminateNode cannot terminate an instance without the ManagedBy tag, but can a managed worker', async () => {
    await withScenario('iam-terminate', { ...QUIET, expectDenials: true }, async (s) => {
      const [worker] = running(await s.inspect());
      const asEvaluate = await s.callAs('evaluate', 'ec2', 'terminate_instances', { InstanceIds: [worker] });
      assert.equal(asEvaluate.error, 'UnauthorizedOperation', JSON.stringify(asEvaluate));
      const { instance_id: stranger } = await s.launchAsRig(null);
      const untagged = await s.callAs('terminate-node', 'ec2', 'terminate_instances', { InstanceIds: [stranger] });
      assert.equal(untagged.error, 'UnauthorizedOperation', JSON.stringify(untagged));
      assert.deepEqual(s.denials().map((d) => [d.fn.replace(`smartscale-${s.cluster}-`, ''), d.action, d.resource.split('/').pop()]), [
        ['evaluate', 'ec2:TerminateInstances', worker],
        ['terminate-node', 'ec2:TerminateInstances', stranger],
      ]);
      const allowed = await s.callAs('terminate-node', 'ec2', 'terminate_instances', { InstanceIds: [worker] });
      assert.ok(allowed.ok, JSON.stringify(allowed));
      const after = await s.inspect();
      assert.ok(!running(after).includes(worker), 'the managed worker was terminated');
      assert.equal(s.denials().length, 2, 'the managed worker needed no other right');
    });
  });

  test('IAM: LaunchNodes launches only from the worker template: RunInstances of its own (own user data) and a fleet of another template are denied', async () => {
    await withScenario('iam-launch-template', { ...QUIET, expectDenials: true }, async (s) => {
      const before = running(await s.inspect()).sort();
      const subnet = s.fn('launch-nodes').environment.WORKER_SUBNET_IDS.split(',')[0];
      const own = await s.callAs('launch-nodes', 'ec2', 'run_instances', {
        ImageId: s.aws.launch_template.data.ImageId, InstanceType: 't3.small', MinCount: 1, MaxCount: 1, SubnetId: subnet,
        UserData: Buffer.from('#!/bin/sh\necho not the worker bootstrap\n').toString('base64'),
      });
      assert.equal(own.error, 'UnauthorizedOperation', JSON.stringify(own));
      const foreign = 'lt-0f0f0f0f0f0f0f0f0';
      const fleet = await s.callAs('launch-nodes', 'ec2', 'create_fleet', {
        Type: 'instant',
        TargetCapacitySpecification: { TotalTargetCapacity: 1, DefaultTargetCapacityType: 'on-demand' },
        LaunchTemplateConfigs: [{ LaunchTemplateSpecification: { LaunchTemplateId: foreign, Version: '1' }, Overrides: [{ SubnetId: subnet, InstanceType: 't3.small' }] }],
      });
      assert.equal(fleet.error, 'UnauthorizedOperation', JSON.stringify(fleet));
      assert.deepEqual(s.denials().map((d) => [d.fn.replace(`smartscale-${s.cluster}-`, ''), d.action, d.resource.split(':').pop()]), [
        ['launch-nodes', 'ec2:RunInstances', 'instance/*'],
        ['launch-nodes', 'ec2:CreateFleet', `launch-template/${foreign}`],
      ]);
      assert.deepEqual(running(await s.inspect()).sort(), before, 'nothing was launched');
    });
  });

  test('IAM: with ec2:DescribeInstances removed from Evaluate\'s role, the tick fails at Evaluate with AccessDenied', async () => {
    await withScenario('iam-removed-grant', { ...QUIET, expectDenials: true, editTemplate: withoutGrant('evaluate', 'ec2:DescribeInstances') }, async (s) => {
      await s.waitForHistory(5);
      const t = await s.tick();
      assert.equal(t.status, 'FAILED');
      assert.ok(t.visited.includes('Cleanup'), t.visited.join(' '));
      const evaluate = t.steps.filter((x) => x.state === 'Evaluate');
      assert.ok(evaluate.length > 0 && evaluate.every((x) => !x.ok), JSON.stringify(evaluate.map((x) => x.error)));
      assert.match(evaluate.at(-1).error.errorMessage, /UnauthorizedOperation|AccessDenied|not authorized/);
      assert.ok(s.denials().some((d) => d.fn.endsWith('-evaluate') && d.action === 'ec2:DescribeInstances'), JSON.stringify(s.denials()));
      assertNoOtherDenials(s);
    });
  });
});

function assertNoOtherDenials(s) {
  const others = s.denials().filter((d) => !(d.fn.endsWith('-evaluate') && d.action === 'ec2:DescribeInstances'));
  assert.deepEqual(others, []);
}
