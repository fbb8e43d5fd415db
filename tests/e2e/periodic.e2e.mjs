// End-to-end runs of the periodic machine as synthesized: the real step binaries, each with its
// role from the template, against moto, the cluster emulator and Prometheus (see standins.mjs).
// Scenarios run concurrently: each is its own deployment with its own stand-ins. Every scenario asserts the end
// state: instances in moto, nodes in the emulator, the DynamoDB item, Slack and SNS.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { OVERLOAD, assertCostLines, assertReleased, benchTransitions, deployment, expectedCost, pdb, running, stepOutput, titles, waitForPendingWindow, withScenario } from './kit.mjs';
import { waitFor } from './standins.mjs';

const PERIODIC_IDLE = ['Init', 'AcquireLock', 'Evaluate', 'ApplyEvaluation', 'RouteDecision', 'ReleaseLock', 'RouteFinish', 'Done'];

// Each scenario runs a moto, an emulator and a Prometheus of its own: a few at a time on two cores.
describe('periodic machine, end to end', { concurrency: 3 }, () => {
  test('nothing to do: the tick takes and releases the lock and changes nothing', async () => {
    // Three workers at MIN_NODES=3 and about 44 % node CPU: no scale-up rule fires and a scale-down
    // is held at the minimum, whatever the CPU window reads under the suite's load.
    await withScenario('idle', { workers: 3, objects: [deployment('web', 3)], traffic: { cpuUtilisation: 0.5 }, settings: { MIN_NODES: '3' } }, async (s) => {
      const start = running(await s.inspect());
      await s.waitForHistory(5);
      const t = await s.tick();
      assert.equal(t.status, 'SUCCEEDED', JSON.stringify(t.error));
      assert.deepEqual(t.visited, PERIODIC_IDLE);
      benchTransitions('idle', t);
      assert.equal(t.output.decision.action, 'none');
      assert.ok(t.output.decision.reasons.length > 0, 'a hold says why');
      const after = await s.inspect();
      assert.deepEqual(running(after), start);
      assertReleased(after);
      assert.equal(s.slack.messages.length, 0);
      assert.equal(after.sns.length, 0);
    });
  });

  test('lock held: a tick that finds another execution\'s lease ends in SkippedLockHeld', async () => {
    await withScenario('lock-held', { workers: 3, objects: [deployment('web', 3)] }, async (s) => {
      const other = 'arn:aws:states:us-east-1:123456789012:execution:smartscale:still-running';
      const held = await s.invoke('acquire-lock', { cluster_id: s.cluster, execution_id: other });
      assert.ok(held.ok, JSON.stringify(held.error));
      const t = await s.tick();
      assert.equal(t.status, 'SUCCEEDED');
      assert.deepEqual(t.visited, ['Init', 'AcquireLock', 'SkippedLockHeld']);
      benchTransitions('lock_held', t);
      assert.equal(t.output.skipped.Error, 'LockHeld');
      const after = await s.inspect();
      assert.equal(after.item.lock_owner, other, 'the other execution keeps its lease');
      assert.equal(after.item.lock_token, held.output.token);
      assert.equal(running(after).length, 3);
    });
  });

  test('scale up: pods pending for the window add workers that join, then the lock is released', async () => {
    await withScenario('scale-up', OVERLOAD, async (s) => {
      const initial = await s.inspect();
      const start = running(initial);
      const { tick: t, before } = await s.tickUntil('LaunchNodes');
      for (const b of before) assert.deepEqual(b.visited, PERIODIC_IDLE, 'ticks before the window is met hold');
      assert.equal(t.status, 'SUCCEEDED', JSON.stringify(t.error));
      assert.equal(t.output.decision.action, 'scale_up');
      assert.ok(t.output.decision.reasons.some((r) => /pending/i.test(r)), t.output.decision.reasons.join('; '));
      benchTransitions('scale_up', t);
      for (const state of ['LaunchNodes', 'WaitForNodes', 'CheckNodesReady', 'RecordOutcome', 'Notify', 'ReleaseLock', 'Done']) {
        assert.ok(t.visited.includes(state), `${state} in ${t.visited}`);
      }
      const launched = t.output.operation.instance_ids;
      assert.equal(launched.length, t.output.decision.count);
      assert.deepEqual(t.output.ready.ready.sort(), [...launched].sort());

      const after = await s.inspect();
      assert.deepEqual(running(after), [...start, ...launched].sort());
      for (const id of launched) {
        const tags = after.instances.find((i) => i.id === id).tags;
        assert.equal(tags.ManagedBy, 'smartscale');
        assert.equal(tags.Cluster, s.cluster);
        assert.equal(tags['smartscale/operation-id'], t.output.operation.id);
      }
      assertReleased(after);
      assert.equal(after.item.last_scale_action, 'scale_up');
      const workers = await s.workers();
      for (const id of launched) assert.ok(workers.find((w) => w.instanceId === id)?.ready, `node of ${id} Ready`);
      await waitFor('no Pending pod', async () => (await s.pods()).every((p) => p.phase !== 'Pending'));
      assert.ok(titles(s).some((m) => /Scale-Up Completed/.test(m)), titles(s).join('\n---\n'));
      assert.ok(after.sns.some((m) => /Scale-Up Completed/.test(m.subject)), JSON.stringify(after.sns));
      const emf = s.emf();
      const ups = emf.filter((m) => m.name === 'ScaleUpEvents');
      assert.equal(ups.length, 1, 'one ScaleUpEvents');
      assert.deepEqual(ups[0].dimensions, { ClusterId: s.cluster, Reason: 'Pending' });
      assert.ok(emf.some((m) => m.name === 'NodeJoinLatency' && m.unit === 'Milliseconds' && m.value > 0));
      for (const name of ['AutoscalerInvocations', 'LambdaExecutionTime', 'CurrentNodeCount', 'ClusterCPUUtilization',
        'ClusterMemoryUtilization', 'PendingPods']) {
        assert.ok(emf.some((m) => m.name === name), `EMF ${name} logged`);
      }
      // Every Evaluate of the scenario ran before the launch, on the three on-demand t3.small workers.
      const cost = expectedCost(initial, s.cluster, Object.values(s.functions)[0].environment);
      assert.equal(cost.workers, 3);
      assertCostLines(emf.filter((m) => m.step === 'evaluate'), s.cluster, cost);
    });
  });

  test('join timeout: instances that never join are terminated and the execution ends JoinTimedOut', async () => {
    await withScenario('join-timeout', { ...OVERLOAD, bootDelay: '5s' }, async (s) => {
      const start = running(await s.inspect());
      const { tick: t } = await s.tickUntil('LaunchNodes', {
        after: async (state, out) => {
          if (state === 'LaunchNodes') for (const id of out.instance_ids) await s.neverJoin(id);
        },
      });
      assert.equal(t.status, 'FAILED');
      assert.equal(t.error.Error, 'JoinTimeout');
      for (const state of ['CheckNodesReady', 'HandleJoinFailure', 'RecordOutcome', 'Notify', 'ReleaseLock', 'JoinTimedOut']) {
        assert.ok(t.visited.includes(state), `${state} in ${t.visited}`);
      }
      const launched = stepOutput(t, 'LaunchNodes').instance_ids;
      const after = await s.inspect();
      for (const id of launched) {
        assert.ok(['shutting-down', 'terminated'].includes(after.instances.find((i) => i.id === id).state), `${id} terminated`);
      }
      assert.deepEqual(running(after), start, 'no leaked instance');
      assertReleased(after);
      assert.ok(titles(s).some((m) => /Node Join Failure/.test(m)), titles(s).join('\n---\n'));
      assert.ok(after.sns.some((m) => /Node Join Failure/.test(m.subject)), JSON.stringify(after.sns));
      assert.ok(s.emf().some((m) => m.name === 'ScalingFailures' && m.dimensions.ErrorType === 'JoinTimeout'), 'ScalingFailures by error type');
    });
  });

  test('scale down: an idle worker is cordoned, drained and terminated', async () => {
    await withScenario('scale-down', { workers: 4, objects: [deployment('web', 4, { cpu: '100m' })], traffic: { cpuUtilisation: 0.1 } }, async (s) => {
      const start = running(await s.inspect());
      const { tick: t } = await s.tickUntil('CordonNode');
      assert.equal(t.status, 'SUCCEEDED', JSON.stringify(t.error));
      const d = t.output.decision;
      assert.equal(d.action, 'scale_down');
      benchTransitions('scale_down', t);
      for (const state of ['CordonNode', 'DrainNode', 'TerminateNode', 'RecordOutcome', 'Notify', 'ReleaseLock', 'Done']) {
        assert.ok(t.visited.includes(state), `${state} in ${t.visited}`);
      }
      const after = await s.inspect();
      assert.deepEqual(running(after), start.filter((id) => id !== d.instance_id));
      assertReleased(after);
      assert.equal(after.item.last_scale_action, 'scale_down');
      const pods = await waitFor('web pods Running elsewhere', async () => {
        const p = (await s.pods()).filter((x) => x.name.startsWith('web-'));
        return p.length === 4 && p.every((x) => x.phase === 'Running') && p;
      });
      assert.ok(pods.every((p) => p.node !== d.node), 'no pod left on the removed node');
      assert.ok(titles(s).some((m) => /Scale-Down Completed/.test(m)), titles(s).join('\n---\n'));
      assert.ok(after.sns.some((m) => /Scale-Down Completed/.test(m.subject)), JSON.stringify(after.sns));
      assert.equal(s.emf().filter((m) => m.name === 'ScaleDownEvents').length, 1, 'one ScaleDownEvents');
    });
  });

  test('drain blocked by a PDB until the deadline: the node is uncordoned and the execution ends DrainAborted', async () => {
    // Every worker runs two replicas pinned to it, under a budget keeping one: the first eviction
    // is allowed, its replacement cannot start anywhere else, so the second is refused (429)
    // until the drain deadline.
    const pinned = (workers) => workers.flatMap((w, i) => [
      deployment(`pin${i}`, 2, { cpu: '100m', nodeSelector: { 'kubernetes.io/hostname': w.name } }),
      pdb(`pin${i}`, 1),
    ]);
    await withScenario('drain-blocked', { workers: 4, objects: pinned, traffic: { cpuUtilisation: 0.1 } }, async (s) => {
      const start = running(await s.inspect());
      const { tick: t } = await s.tickUntil('CordonNode');
      assert.equal(t.status, 'FAILED');
      assert.equal(t.error.Error, 'DrainAborted');
      for (const state of ['CordonNode', 'DrainNode', 'WaitForDrain', 'AbortDrain', 'RecordOutcome', 'Notify', 'ReleaseLock', 'DrainAborted']) {
        assert.ok(t.visited.includes(state), `${state} in ${t.visited}`);
      }
      const drain = stepOutput(t, 'DrainNode');
      assert.equal(drain.status, 'blocked_deadline');
      assert.ok(drain.blocked.length > 0);
      const node = t.document.decision.node;
      const after = await s.inspect();
      assert.deepEqual(running(after), start, 'nothing terminated');
      assertReleased(after);
      assert.equal((await s.workers()).find((w) => w.name === node).unschedulable, false, 'node uncordoned');
      await waitFor('the evicted replica back on its node', async () =>
        (await s.pods()).filter((p) => p.node === node && p.phase === 'Running' && p.name.startsWith('pin')).length === 2);
      assert.ok(titles(s).some((m) => /Drain Aborted/.test(m)), titles(s).join('\n---\n'));
      assert.ok(after.sns.some((m) => /Drain Aborted/.test(m.subject)), JSON.stringify(after.sns));
    });
  });

  test('retryable then fatal: LaunchNodes is retried, then fails; Cleanup releases the lock and alerts', async () => {
    await withScenario('retry-fatal', OVERLOAD, async (s) => {
      const start = running(await s.inspect());
      const { tick: t } = await s.tickUntil('LaunchNodes', {
        env: (state, attempt) => {
          if (state !== 'LaunchNodes') return {};
          // 1st call: EC2 unreachable (connection refused: Retryable); 2nd: a configuration error (Fatal).
          return attempt === 1 ? { AWS_ENDPOINT_URL_EC2: 'http://127.0.0.1:9' } : { MAX_NODES: 'many' };
        },
      });
      assert.equal(t.status, 'FAILED');
      assert.equal(t.error.Error, 'Fatal');
      assert.match(t.error.Cause, /MAX_NODES/);
      const calls = t.steps.filter((x) => x.state === 'LaunchNodes');
      assert.deepEqual(calls.map((c) => c.error?.errorType), ['Retryable', 'Fatal']);
      assert.deepEqual(t.retried, ['LaunchNodes']);
      assert.ok(t.visited.includes('Cleanup') && t.visited.at(-1) === 'Failed', t.visited.join(' '));
      const after = await s.inspect();
      assert.deepEqual(running(after), start, 'nothing launched');
      assertReleased(after);
      assert.ok(titles(s).some((m) => /Scaling Failure/.test(m)), titles(s).join('\n---\n'));
    });
  });

  test('concurrency: two executions started together scale once', async () => {
    await withScenario('concurrent', OVERLOAD, async (s) => {
      const start = running(await s.inspect());
      await waitForPendingWindow(s);
      const [a, b] = await Promise.all([s.tick({ name: 'together-a' }), s.tick({ name: 'together-b' })]);
      const scaled = [a, b].filter((x) => x.visited.includes('LaunchNodes'));
      const skipped = [a, b].filter((x) => x.visited.at(-1) === 'SkippedLockHeld');
      assert.equal(scaled.length, 1, `one scales: ${a.visited} | ${b.visited}`);
      assert.equal(skipped.length, 1, 'the other skips');
      assert.equal(scaled[0].status, 'SUCCEEDED', JSON.stringify(scaled[0].error));
      const after = await s.inspect();
      assert.equal(running(after).length, start.length + scaled[0].output.decision.count);
      assertReleased(after);
      assert.equal(titles(s).filter((m) => /Scale-Up Completed/.test(m)).length, 1);
    });
  });

  test('crash after LaunchNodes: the next execution recovers the operation and leaks no instance', async () => {
    await withScenario('crash', { ...OVERLOAD, bootDelay: '5s' }, async (s) => {
      const start = running(await s.inspect());
      let launched;
      const { tick: crashed } = await s.tickUntil('LaunchNodes', {
        after: async (state, out, execution) => {
          if (state !== 'LaunchNodes') return;
          launched = out.instance_ids;
          // The new workers never join, and the execution dies right after launching them.
          for (const id of launched) await s.neverJoin(id);
          execution.abort();
        },
      });
      assert.equal(crashed.status, 'ABORTED');
      let mid = await s.inspect();
      assert.equal(mid.item.lock_owner, crashed.executionArn, 'the dead execution still holds the lease');
      assert.deepEqual(running(mid), [...start, ...launched].sort());

      const blocked = await s.tick();
      assert.equal(blocked.visited.at(-1), 'SkippedLockHeld', 'the lease is honoured until it expires');

      // After the lease expires, a tick recovers the operation: the instances never joined, so
      // they are terminated by its deadline.
      const recovered = await waitFor('a tick that recovers', async () => {
        const t = await s.tick();
        return t.visited.includes('Evaluate') && t;
      }, { seconds: 60, everyMs: 3000 });
      assert.equal(recovered.document.decision.action, 'recover');
      assert.equal(recovered.document.operation.kind, 'scale_up');
      assert.deepEqual([...recovered.document.operation.instance_ids].sort(), [...launched].sort());
      assert.ok(!recovered.visited.includes('LaunchNodes'), 'no second launch');
      assert.ok(recovered.visited.includes('HandleJoinFailure'), recovered.visited.join(' '));
      assert.equal(recovered.error?.Error, 'JoinTimeout');
      mid = await s.inspect();
      assert.deepEqual(running(mid), start, 'no leaked instance');
      assertReleased(mid);
      const said = titles(s).join('\n---\n');
      assert.match(said, /Node Join Failure/);
      assert.match(said, /recover/i, 'the notification says it was a recovery');
    });
  });

  test('at maximum capacity: pods pending at MAX_NODES alert once, then the alert is rate-limited', async () => {
    await withScenario('at-max', { ...OVERLOAD, settings: { MAX_NODES: '3' } }, async (s) => {
      const start = running(await s.inspect());
      const { tick: t, before } = await s.tickUntil('Notify');
      for (const b of before) assert.deepEqual(b.visited, PERIODIC_IDLE);
      assert.equal(t.status, 'SUCCEEDED', JSON.stringify(t.error));
      assert.deepEqual(t.visited, ['Init', 'AcquireLock', 'Evaluate', 'ApplyEvaluation', 'RouteDecision', 'Notify', 'ReleaseLock', 'RouteFinish', 'Done']);
      assert.equal(t.output.decision.action, 'none');
      assert.equal(t.output.decision.alert, 'at_maximum_capacity');
      const next = await s.tick();
      assert.deepEqual(next.visited, PERIODIC_IDLE, 'the next tick does not alert again');
      const after = await s.inspect();
      assert.deepEqual(running(after), start, 'nothing launched above the maximum');
      assertReleased(after);
      assert.equal(titles(s).filter((m) => /Maximum Capacity/.test(m)).length, 1, titles(s).join('\n---\n'));
      assert.ok(after.sns.some((m) => /Maximum Capacity/.test(m.subject)), JSON.stringify(after.sns));
    });
  });
});
