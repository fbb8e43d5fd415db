// Flow tests of the definition: statemachine/spot-interruption.asl.json run by
// aws-local-stepfunctions with scripted Task responses and shortened Wait states / Retry pauses.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { loadDefinition, runFlow, fails, TEST_CLUSTER_ID } from './harness.mjs';
import * as f from './fixtures.mjs';

const definition = loadDefinition('spot-interruption.asl.json');
const visitedAnywhere = new Set();
const arnOf = (name) => `arn:aws:states:us-east-1:123456789012:execution:smartscale:${name}`;
const START = ['Init', 'HandleSpotSignal', 'RouteSignal', 'AcquireLock', 'LaunchReplacement'];
const JOIN = ['WaitForReplacement', 'ReplacementDrainStep', 'CheckNodesReady', 'RouteReadiness'];
const RECORD = ['RecordOutcome', 'ReleaseLock', 'RouteSpotEnd'];
const RETIRE = ['RetireNode', 'RouteRetire', 'CordonNode', 'DrainNode', 'RouteDrain'];

async function run(name, event, script) {
  const r = await runFlow(definition, { input: event, script, executionName: name });
  r.visited.forEach((s) => visitedAnywhere.add(s));
  assert.deepEqual(r.unscripted, [], `${name}: a Task was called more often than scripted`);
  assert.deepEqual(r.leftover, {}, `${name}: scripted responses left unused`);
  const expectedStart = {
    cluster_id: TEST_CLUSTER_ID,
    execution_id: r.executionArn,
    instance_id: event.detail['instance-id'],
    signal: event['detail-type'],
    event,
  };
  for (const [state, inputs] of Object.entries(r.calls)) {
    for (const doc of inputs) {
      for (const [k, v] of Object.entries(expectedStart)) assert.deepEqual(doc[k], v, `${name}: ${state} got ${k}`);
    }
  }
  return r;
}

test('spot warning: drained at once, replaced under the lease, joined, lease released, Notify', async () => {
  const name = 'spot-warning';
  const r = await run(name, f.spotEvent('i-0spot1'), f.paths.spot(arnOf(name)));
  assert.equal(r.status, 'SUCCEEDED');
  assert.deepEqual(r.visited, [...START, ...JOIN, 'RetireNode', 'RouteRetire', ...RECORD, 'Notify', 'Done']);
  assert.equal(r.calls.HandleSpotSignal[0].spot, undefined, 'the first call is told apart by the absence of $.spot');
  assert.equal(r.calls.LaunchReplacement[0].lease.owner, arnOf(name), 'the replacement is launched under the lease');
  assert.deepEqual(r.calls.CheckNodesReady[0].operation, f.replacement, 'the join check reads the replacement operation');
  assert.deepEqual(r.calls.RecordOutcome[0].ready, f.ready.ready);
  assert.equal(r.calls.Notify[0].released !== undefined, true, 'Notify runs after the lease is released');
  assert.deepEqual(r.output.spot, f.spot.drained);
});

test('spot warning: the drain goes on while the lease is busy, then the replacement', async () => {
  const name = 'spot-lease-busy';
  const r = await run(name, f.spotEvent(), {
    ...f.paths.spot(arnOf(name)),
    HandleSpotSignal: [f.spot.inProgress],
    AcquireLock: [fails('LockHeld', 'held by the periodic run'), f.lease(arnOf(name))],
    LeaseWaitDrainStep: [f.spot.drained],
  });
  assert.equal(r.status, 'SUCCEEDED');
  assert.deepEqual(r.visited.slice(0, 8), ['Init', 'HandleSpotSignal', 'RouteSignal', 'AcquireLock', 'RouteLeaseBusy', 'WaitForLease', 'LeaseWaitDrainStep', 'AcquireLock']);
  assert.deepEqual(r.calls.LeaseWaitDrainStep[0].spot, f.spot.inProgress, 'the drain step sees the previous one');
  assert.equal(r.calls.LeaseWaitDrainStep[0].lease_busy.Error, 'LockHeld');
});

test('spot warning: past lease_wait_until the replacement is left to the periodic scaling', async () => {
  const name = 'spot-lease-never';
  const r = await run(name, f.spotEvent(), {
    HandleSpotSignal: [f.spot.inProgress],
    AcquireLock: [fails('LockHeld', 'held'), fails('LockHeld', 'held')],
    LeaseWaitDrainStep: [f.spot.leaseWaitOver],
    Notify: [f.notified],
  });
  assert.equal(r.status, 'SUCCEEDED');
  assert.deepEqual(r.visited.slice(-5), ['AcquireLock', 'RouteLeaseBusy', 'RouteSpotEnd', 'Notify', 'Done']);
  assert.ok(!r.visited.includes('LaunchReplacement'));
  assert.ok(!r.visited.includes('ReleaseLock'), 'no lease to release');
});

test('spot warning: a drain still in progress after the replacement goes on to its deadline', async () => {
  const name = 'spot-drain-after';
  for (const last of [f.spot.deadline, f.spot.blockedDeadline]) {
    const r = await run(`${name}-${last.status}`, f.spotEvent(), {
      ...f.paths.spot(arnOf(`${name}-${last.status}`)),
      HandleSpotSignal: [f.spot.inProgress],
      ReplacementDrainStep: [f.spot.inProgress],
      SpotDrainStep: [f.spot.inProgress, last],
    });
    assert.equal(r.status, 'SUCCEEDED');
    assert.deepEqual(r.visited.slice(-9), ['RouteSpotEnd', 'WaitForSpotDrain', 'SpotDrainStep', 'RouteSpotEnd', 'WaitForSpotDrain', 'SpotDrainStep', 'RouteSpotEnd', 'Notify', 'Done']);
    assert.deepEqual(r.calls.Notify[0].spot, last);
  }
});

test('spot warning: a replacement that does not join is terminated at its deadline', async () => {
  const name = 'spot-join-failure';
  const r = await run(name, f.spotEvent(), {
    ...f.paths.spot(arnOf(name)),
    ReplacementDrainStep: [f.spot.drained, f.spot.drained],
    CheckNodesReady: [f.ready.waiting, f.ready.deadline],
    HandleJoinFailure: [f.outcome.joinFailed],
  });
  assert.equal(r.status, 'SUCCEEDED');
  assert.deepEqual(r.visited, [...START, ...JOIN, ...JOIN, 'HandleJoinFailure', 'RetireNode', 'RouteRetire', ...RECORD, 'Notify', 'Done']);
});

test('rebalance: replaced first, then the worker drained and terminated', async () => {
  const name = 'spot-rebalance';
  const r = await run(name, f.spotEvent('i-0spot2', 'EC2 Instance Rebalance Recommendation'), f.paths.rebalance(arnOf(name)));
  assert.equal(r.status, 'SUCCEEDED');
  assert.deepEqual(r.visited, [...START, ...JOIN, ...RETIRE, 'TerminateNode', ...RECORD, 'Notify', 'Done']);
  assert.deepEqual(r.calls.CordonNode[0].operation, f.retired, 'the retirement is a scale-down of the signalled worker');
  assert.ok(r.calls.CordonNode[0].ready, 'cordoned only after the replacement is Ready');
});

test('rebalance: a refused drain uncordons the worker at the deadline', async () => {
  const name = 'spot-rebalance-blocked';
  const r = await run(name, f.spotEvent('i-0spot2', 'EC2 Instance Rebalance Recommendation'), {
    ...f.paths.rebalance(arnOf(name)),
    DrainNode: [f.drain.inProgress, f.drain.blockedDeadline],
    TerminateNode: [],
    AbortDrain: [f.outcome.drainAborted],
  });
  assert.equal(r.status, 'SUCCEEDED');
  assert.deepEqual(r.visited, [...START, ...JOIN, ...RETIRE, 'WaitForDrain', 'DrainNode', 'RouteDrain', 'AbortDrain', ...RECORD, 'Notify', 'Done']);
});

test('spot: a signal for an instance that is not ours ends in Done, without the lease', async () => {
  const r = await run('spot-foreign', f.spotEvent(), { HandleSpotSignal: [f.spot.skipped] });
  assert.equal(r.status, 'SUCCEEDED');
  assert.deepEqual(r.visited, ['Init', 'HandleSpotSignal', 'RouteSignal', 'Done']);
});

test('spot: a signal already handled by another execution ends in SkippedAlreadyHandled', async () => {
  const r = await run('spot-duplicate', f.spotEvent(), { HandleSpotSignal: [fails('LockHeld', 'i-0spot claimed by execution spot:first')] });
  assert.equal(r.status, 'SUCCEEDED');
  assert.deepEqual(r.visited, ['Init', 'HandleSpotSignal', 'SkippedAlreadyHandled']);
  assert.equal(r.output.skipped.Error, 'LockHeld');
});

test('spot: Retryable on the first call is retried with the same document', async () => {
  const name = 'spot-retry';
  const r = await run(name, f.spotEvent(), { ...f.paths.spot(arnOf(name)), HandleSpotSignal: [fails('Retryable', 'ec2 throttled'), f.spot.drained] });
  assert.equal(r.status, 'SUCCEEDED');
  assert.deepEqual(r.retried, ['HandleSpotSignal']);
  assert.deepEqual(r.calls.HandleSpotSignal[0], r.calls.HandleSpotSignal[1]);
});

for (const [state, script, path] of [
  ['HandleSpotSignal', {}, ['Init', 'HandleSpotSignal']],
  ['LaunchReplacement', { HandleSpotSignal: [f.spot.drained], AcquireLock: [f.lease(arnOf('spot-fatal-LaunchReplacement'))] }, START],
]) {
  test(`spot: Fatal in ${state} goes to Cleanup then Failed`, async () => {
    const r = await run(`spot-fatal-${state}`, f.spotEvent(), { ...script, [state]: [fails('Fatal', 'node not found')], Cleanup: [f.cleanedUp] });
    assert.equal(r.status, 'FAILED');
    assert.equal(r.error.Error, 'Fatal');
    assert.deepEqual(r.visited, [...path, 'Cleanup', 'Failed']);
    assert.equal(r.calls.Cleanup[0].error.Error, 'Fatal');
  });
}

test('spot: an unknown readiness becomes UnexpectedResult, Cleanup, Failed', async () => {
  const name = 'spot-unexpected';
  const r = await run(name, f.spotEvent(), {
    HandleSpotSignal: [f.spot.drained],
    AcquireLock: [f.lease(arnOf(name))],
    LaunchReplacement: [f.replacement],
    ReplacementDrainStep: [f.spot.drained],
    CheckNodesReady: [{ status: 'sleeping' }],
    Cleanup: [f.cleanedUp],
  });
  assert.equal(r.error.Error, 'UnexpectedResult');
  assert.deepEqual(r.visited, [...START, ...JOIN, 'UnexpectedResult', 'Cleanup', 'Failed']);
});

test('spot: Notify failing does not fail the execution', async () => {
  const name = 'spot-notify-fails';
  const r = await run(name, f.spotEvent(), { ...f.paths.spot(arnOf(name)), Notify: [fails('Fatal', 'slack webhook 404')] });
  assert.equal(r.status, 'SUCCEEDED');
  assert.equal(r.visited.at(-1), 'Done');
  assert.equal(r.output.notify_error.Error, 'Fatal');
});

after(() => {
  const never = Object.keys(definition.States).filter((s) => !visitedAnywhere.has(s));
  assert.deepEqual(never, [], 'every state of spot-interruption.asl.json is visited by some flow test');
});
