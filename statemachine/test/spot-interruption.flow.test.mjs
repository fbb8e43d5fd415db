// Flow tests of the definition: statemachine/spot-interruption.asl.json run by
// aws-local-stepfunctions with scripted Task responses and shortened Wait states / Retry pauses.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { loadDefinition, runFlow, fails, TEST_CLUSTER_ID } from './harness.mjs';
import * as f from './fixtures.mjs';

const definition = loadDefinition('spot-interruption.asl.json');
const visitedAnywhere = new Set();
const START = ['Init', 'HandleSpotSignal', 'RouteSpotDrain'];
const AGAIN = ['WaitForSpotDrain', 'SpotDrainStep', 'RouteSpotDrain'];

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

for (const [label, event] of [
  ['interruption warning', f.spotEvent('i-0spot1')],
  ['rebalance recommendation', f.spotEvent('i-0spot2', 'EC2 Instance Rebalance Recommendation')],
]) {
  test(`spot ${label}: cordon + replacement + drain in progress, then drained, Notify, Done`, async () => {
    const name = `spot-${label.split(' ')[0]}`;
    const r = await run(name, event, { ...f.paths.spot(), HandleSpotSignal: [f.spot.inProgress], SpotDrainStep: [f.spot.inProgress, f.spot.drained] });
    assert.equal(r.status, 'SUCCEEDED');
    assert.deepEqual(r.visited, [...START, ...AGAIN, ...AGAIN, 'Notify', 'Done']);
    assert.equal(r.calls.HandleSpotSignal[0].spot, undefined, 'the first call is told apart by the absence of $.spot');
    assert.deepEqual(r.calls.SpotDrainStep[0].spot, f.spot.inProgress, 'each drain step sees the previous one');
    assert.deepEqual(r.output, {
      cluster_id: TEST_CLUSTER_ID,
      execution_id: r.executionArn,
      instance_id: event.detail['instance-id'],
      signal: event['detail-type'],
      event,
      spot: f.spot.drained,
      notified: f.notified,
    });
  });
}

for (const last of [f.spot.deadline, f.spot.blockedDeadline]) {
  test(`spot: drain stops at the 90 s deadline (${last.status}): Notify, Done, no uncordon`, async () => {
    const name = `spot-${last.status.replace('_', '-')}`;
    const r = await run(name, f.spotEvent(), { ...f.paths.spot(), HandleSpotSignal: [f.spot.inProgress], SpotDrainStep: [f.spot.inProgress, last] });
    assert.equal(r.status, 'SUCCEEDED');
    assert.deepEqual(r.visited, [...START, ...AGAIN, ...AGAIN, 'Notify', 'Done']);
    assert.deepEqual(r.calls.Notify[0].spot, last);
    assert.deepEqual(r.output.spot, last);
    assert.deepEqual(r.output.notified, f.notified);
    assert.equal(r.calls.Cleanup, undefined);
  });
}

test('spot: drained at the first call goes straight to Notify', async () => {
  const r = await run('spot-quick', f.spotEvent(), f.paths.spot());
  assert.equal(r.status, 'SUCCEEDED');
  assert.deepEqual(r.visited, [...START, 'Notify', 'Done']);
  assert.deepEqual(r.output.spot, f.spot.drained);
  assert.deepEqual(r.output.notified, f.notified);
});

test('spot: a signal already handled by another execution ends in SkippedAlreadyHandled', async () => {
  const r = await run('spot-duplicate', f.spotEvent(), { HandleSpotSignal: [fails('LockHeld', 'i-0spot claimed by execution spot:first')] });
  assert.equal(r.status, 'SUCCEEDED');
  assert.deepEqual(r.visited, ['Init', 'HandleSpotSignal', 'SkippedAlreadyHandled']);
  assert.equal(r.output.skipped.Error, 'LockHeld');
});

test('spot: Retryable on the first call is retried with the same document', async () => {
  const r = await run('spot-retry', f.spotEvent(), { ...f.paths.spot(), HandleSpotSignal: [fails('Retryable', 'ec2 throttled'), f.spot.drained] });
  assert.equal(r.status, 'SUCCEEDED');
  assert.deepEqual(r.retried, ['HandleSpotSignal']);
  assert.deepEqual(r.calls.HandleSpotSignal[0], r.calls.HandleSpotSignal[1]);
  assert.deepEqual(r.visited, [...START, 'Notify', 'Done']);
  assert.deepEqual(r.output.spot, f.spot.drained);
});

for (const [state, script, path] of [
  ['HandleSpotSignal', {}, ['Init', 'HandleSpotSignal']],
  ['SpotDrainStep', { HandleSpotSignal: [f.spot.inProgress] }, [...START, 'WaitForSpotDrain', 'SpotDrainStep']],
]) {
  test(`spot: Fatal in ${state} goes to Cleanup then Failed`, async () => {
    const r = await run(`spot-fatal-${state}`, f.spotEvent(), { ...script, [state]: [fails('Fatal', 'node not found')], Cleanup: [f.cleanedUp] });
    assert.equal(r.status, 'FAILED');
    assert.equal(r.error.Error, 'Fatal');
    assert.deepEqual(r.visited, [...path, 'Cleanup', 'Failed']);
    assert.equal(r.calls.Cleanup[0].error.Error, 'Fatal');
  });
}

test('spot: an unknown status becomes UnexpectedResult, Cleanup, Failed', async () => {
  const r = await run('spot-unexpected', f.spotEvent(), { HandleSpotSignal: [{ status: 'sleeping' }], Cleanup: [f.cleanedUp] });
  assert.equal(r.error.Error, 'UnexpectedResult');
  assert.deepEqual(r.visited, [...START, 'UnexpectedResult', 'Cleanup', 'Failed']);
});

test('spot: Notify failing does not fail the execution', async () => {
  const r = await run('spot-notify-fails', f.spotEvent(), { ...f.paths.spot(), Notify: [fails('Fatal', 'slack webhook 404')] });
  assert.equal(r.status, 'SUCCEEDED');
  assert.deepEqual(r.visited, [...START, 'Notify', 'Done']);
  assert.equal(r.output.notify_error.Error, 'Fatal');
});

after(() => {
  const never = Object.keys(definition.States).filter((s) => !visitedAnywhere.has(s));
  assert.deepEqual(never, [], 'every state of spot-interruption.asl.json is visited by some flow test');
});
