// Flow tests of the definition: statemachine/smartscale.asl.json run by aws-local-stepfunctions,
// Task states answered by scripted per-path responses, Wait states and Retry pauses shortened by
// the tool's overrides. The runs with the real binaries are the end-to-end suite (tests/e2e,
// docs/STATE_MACHINE.md).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { loadDefinition, runFlow, fails } from './harness.mjs';
import * as f from './fixtures.mjs';

const definition = loadDefinition('smartscale.asl.json', { clusterId: f.CLUSTER });
const visitedAnywhere = new Set();

const HEAD = ['Init', 'AcquireLock', 'Evaluate', 'ApplyEvaluation', 'RouteDecision'];
const TAIL = ['RecordOutcome', 'Notify', 'ReleaseLock', 'RouteFinish'];
const UP = ['LaunchNodes', 'WaitForNodes', 'CheckNodesReady', 'RouteReadiness'];
const POLL = ['WaitForNodes', 'CheckNodesReady', 'RouteReadiness'];
const DOWN = ['CordonNode', 'DrainNode', 'RouteDrain'];
const DRAIN_AGAIN = ['WaitForDrain', 'DrainNode', 'RouteDrain'];

/** Runs one case and checks what every case must satisfy. */
async function run(name, script, input = f.INPUT) {
  const r = await runFlow(definition, { input, script, executionName: name });
  r.visited.forEach((s) => visitedAnywhere.add(s));
  assert.deepEqual(r.unscripted, [], `${name}: a Task was called more often than scripted`);
  assert.deepEqual(r.leftover, {}, `${name}: scripted responses left unused`);
  // Every step receives the whole document: identity always, the lease once AcquireLock gave one
  // (Evaluate is only reached after it did).
  const leaseGranted = r.visited.includes('Evaluate');
  for (const [state, inputs] of Object.entries(r.calls)) {
    for (const doc of inputs) {
      assert.equal(doc.cluster_id, f.CLUSTER, `${name}: ${state} got the cluster id (the definition's substitution)`);
      assert.equal(doc.execution_id, r.executionArn, `${name}: ${state} got the execution id`);
      if (leaseGranted && state !== 'AcquireLock') {
        assert.deepEqual(doc.lease, f.lease(r.executionArn), `${name}: ${state} got the lease`);
      }
    }
  }
  return r;
}

// The execution under test: the owner of the lease the scripted AcquireLock hands out.
const owner = (name) => `arn:aws:states:us-east-1:123456789012:execution:smartscale:${name}`;
const acquire = (name) => [f.lease(owner(name))];

/** Base document after Evaluate for an evaluation fixture. */
const docAfter = (name, ev) => ({
  cluster_id: f.CLUSTER,
  execution_id: `arn:aws:states:us-east-1:123456789012:execution:smartscale:${name}`,
  lease: acquire(name)[0],
  ...ev,
});

// What each trigger of the deployed stack sends reaches AcquireLock and finishes: the cluster id
// comes from the definition, nothing from the input is kept.
for (const [trigger, input] of Object.entries(f.TRIGGER_INPUTS)) {
  test(`started by the ${trigger}: Init takes the cluster id from the definition, AcquireLock runs, Done`, async () => {
    const name = `trigger-${trigger.split(' ')[0].toLowerCase()}`;
    const r = await run(name, f.paths.idle(owner(name)), input);
    assert.equal(r.status, 'SUCCEEDED', JSON.stringify(r.error));
    assert.deepEqual(r.visited, [...HEAD, 'ReleaseLock', 'RouteFinish', 'Done']);
    assert.deepEqual(r.calls.AcquireLock[0], { cluster_id: f.CLUSTER, execution_id: r.executionArn });
    assert.deepEqual(r.output, { ...docAfter(name, f.evaluation.none), released: f.released });
  });
}

test('nothing to do: evaluate, release, Done', async () => {
  const name = 'nothing-to-do';
  const r = await run(name, f.paths.idle(owner(name)));
  assert.equal(r.status, 'SUCCEEDED');
  assert.deepEqual(r.visited, [...HEAD, 'ReleaseLock', 'RouteFinish', 'Done']);
  assert.deepEqual(r.output, { ...docAfter(name, f.evaluation.none), released: f.released });
});

for (const alert of ['recovery_abandoned', 'node_identity_mismatch']) {
  test(`an alert with nothing to do (${alert}): evaluate, Notify, release, Done`, async () => {
    const name = `alert-${alert.replaceAll('_', '-')}`;
    const evaluation = { ...f.evaluation.none, decision: { ...f.evaluation.none.decision, alert } };
    const r = await run(name, { ...f.paths.idle(owner(name)), Evaluate: [evaluation], Notify: [f.notified] });
    assert.equal(r.status, 'SUCCEEDED');
    assert.deepEqual(r.visited, [...HEAD, 'Notify', 'ReleaseLock', 'RouteFinish', 'Done']);
    assert.equal(r.calls.Notify[0].decision.alert, alert, 'Notify reads the alert from the decision');
  });
}

test('at maximum capacity with the alert due: evaluate, Notify, release, Done', async () => {
  const name = 'at-maximum-alert';
  const r = await run(name, { ...f.paths.idle(owner(name)), Evaluate: [f.evaluation.atMaximum], Notify: [f.notified] });
  assert.equal(r.status, 'SUCCEEDED');
  assert.deepEqual(r.visited, [...HEAD, 'Notify', 'ReleaseLock', 'RouteFinish', 'Done']);
  assert.equal(r.calls.Notify[0].decision.alert, 'at_maximum_capacity', 'Notify reads the alert from the decision');
  assert.deepEqual(r.output, { ...docAfter(name, f.evaluation.atMaximum), notified: f.notified, released: f.released });
});

test('a none with notices (a scheduled floor started): evaluate, Notify, release, Done', async () => {
  const name = 'floor-notice';
  const r = await run(name, { ...f.paths.idle(owner(name)), Evaluate: [f.evaluation.floorStarted], Notify: [f.notified] });
  assert.equal(r.status, 'SUCCEEDED', JSON.stringify(r.error));
  assert.deepEqual(r.visited, [...HEAD, 'Notify', 'ReleaseLock', 'RouteFinish', 'Done']);
  assert.equal(r.calls.Notify[0].notices[0].kind, 'floor_started', 'Notify reads the notices from the document');
  assert.deepEqual(r.output, { ...docAfter(name, f.evaluation.floorStarted), notified: f.notified, released: f.released });
});

test('at maximum capacity, alert rate-limited (no alert key): the idle path, no Notify', async () => {
  const name = 'at-maximum-quiet';
  const r = await run(name, { ...f.paths.idle(owner(name)), Evaluate: [f.evaluation.atMaximumQuiet] });
  assert.equal(r.status, 'SUCCEEDED');
  assert.deepEqual(r.visited, [...HEAD, 'ReleaseLock', 'RouteFinish', 'Done']);
});

test('a none with an alert this machine does not know is the idle path', async () => {
  const name = 'unknown-alert';
  const ev = { ...f.evaluation.none, decision: { ...f.evaluation.none.decision, alert: 'something_new' } };
  const r = await run(name, { ...f.paths.idle(owner(name)), Evaluate: [ev] });
  assert.equal(r.status, 'SUCCEEDED');
  assert.deepEqual(r.visited, [...HEAD, 'ReleaseLock', 'RouteFinish', 'Done']);
});

test('at maximum capacity, Notify failing: caught, released, Done', async () => {
  const name = 'at-maximum-notify-fails';
  const r = await run(name, { ...f.paths.idle(owner(name)), Evaluate: [f.evaluation.atMaximum], Notify: [fails('Fatal', 'slack refused the message')] });
  assert.equal(r.status, 'SUCCEEDED');
  assert.deepEqual(r.visited, [...HEAD, 'Notify', 'ReleaseLock', 'RouteFinish', 'Done']);
  assert.equal(r.output.notify_error.Error, 'Fatal');
  assert.equal(r.output.notified, undefined);
});

test('lock held: AcquireLock raises LockHeld, ends in SkippedLockHeld without touching anything', async () => {
  const r = await run('lock-held', { AcquireLock: [fails('LockHeld', 'lease held by execution smartscale:other until 20:04:10Z')] });
  assert.equal(r.status, 'SUCCEEDED');
  assert.deepEqual(r.visited, ['Init', 'AcquireLock', 'SkippedLockHeld']);
  assert.deepEqual(r.retried, [], 'LockHeld is not retried');
  assert.deepEqual(Object.keys(r.calls), ['AcquireLock']);
  assert.equal(r.output.skipped.Error, 'LockHeld');
  assert.equal(r.output.lease, undefined);
});

test('scale up: nodes join after two waiting polls', async () => {
  const name = 'scale-up';
  const r = await run(name, { ...f.paths.scaleUp(owner(name)), CheckNodesReady: [f.ready.waiting, f.ready.halfWay, f.ready.ready] });
  assert.equal(r.status, 'SUCCEEDED');
  assert.deepEqual(r.visited, [...HEAD, ...UP, ...POLL, ...POLL, ...TAIL, 'Done']);
  // Each poll sees the operation LaunchNodes returned (its instance ids and deadline).
  for (const doc of r.calls.CheckNodesReady) assert.deepEqual(doc.operation, f.launched);
  assert.deepEqual(r.calls.LaunchNodes[0].decision, f.evaluation.scaleUp.decision);
  assert.deepEqual(r.output, {
    ...docAfter(name, f.evaluation.scaleUp),
    operation: f.launched,
    ready: f.ready.ready,
    recorded: f.recorded,
    notified: f.notified,
    released: f.released,
  });
});

test('join timeout: deadline passed, unjoined instances handled, lease released, ends in JoinTimedOut', async () => {
  const name = 'join-timeout';
  const r = await run(name, { ...f.paths.scaleUp(owner(name)), CheckNodesReady: [f.ready.waiting, f.ready.deadline], HandleJoinFailure: [f.outcome.joinFailed] });
  assert.equal(r.status, 'FAILED');
  assert.equal(r.error.Error, 'JoinTimeout');
  assert.deepEqual(r.visited, [...HEAD, ...UP, ...POLL, 'HandleJoinFailure', ...TAIL, 'JoinTimedOut']);
  assert.deepEqual(r.calls.HandleJoinFailure[0].ready, f.ready.deadline);
  assert.deepEqual(r.calls.RecordOutcome[0].outcome, f.outcome.joinFailed);
  assert.deepEqual(r.calls.Notify[0].outcome, f.outcome.joinFailed);
  assert.equal(r.calls.ReleaseLock.length, 1, 'the lease is released before the red end');
  assert.equal(r.calls.Cleanup, undefined, 'a handled failure does not go through Cleanup');
});

test('scale down: cordon, drained at first step, terminate, Done', async () => {
  const name = 'scale-down';
  const r = await run(name, f.paths.scaleDown(owner(name)));
  assert.equal(r.status, 'SUCCEEDED');
  assert.deepEqual(r.visited, [...HEAD, ...DOWN, 'TerminateNode', ...TAIL, 'Done']);
  assert.deepEqual(r.output, {
    ...docAfter(name, f.evaluation.scaleDown),
    cordoned: f.cordoned,
    drain: f.drain.drained,
    outcome: f.outcome.terminated,
    recorded: f.recorded,
    notified: f.notified,
    released: f.released,
  });
});

test('scale down: drain in progress twice, then drained', async () => {
  const name = 'drain-in-progress';
  const r = await run(name, { ...f.paths.scaleDown(owner(name)), DrainNode: [f.drain.inProgress, f.drain.inProgress, f.drain.drained] });
  assert.equal(r.status, 'SUCCEEDED');
  assert.deepEqual(r.visited, [...HEAD, ...DOWN, ...DRAIN_AGAIN, ...DRAIN_AGAIN, 'TerminateNode', ...TAIL, 'Done']);
  assert.deepEqual(r.calls.DrainNode[1].drain, f.drain.inProgress, 'each drain step sees the previous one');
  assert.deepEqual(r.output.drain, f.drain.drained);
});

for (const [label, last] of [
  ['blocked by a PDB until the deadline (blocked_deadline)', f.drain.blockedDeadline],
  ['too slow until the deadline (deadline_passed)', f.drain.deadline],
]) {
  test(`scale down: drain ${label}: AbortDrain, lease released, ends in DrainAborted`, async () => {
    const name = `drain-abort-${last.status.replace('_', '-')}`;
    const { TerminateNode: _, ...down } = f.paths.scaleDown(owner(name));
    const r = await run(name, { ...down, DrainNode: [f.drain.blocked, f.drain.blocked, last], AbortDrain: [f.outcome.drainAborted] });
    assert.equal(r.status, 'FAILED');
    assert.equal(r.error.Error, 'DrainAborted');
    assert.deepEqual(r.visited, [...HEAD, ...DOWN, ...DRAIN_AGAIN, ...DRAIN_AGAIN, 'AbortDrain', ...TAIL, 'DrainAborted']);
    assert.equal(r.calls.TerminateNode, undefined, 'nothing is terminated');
    assert.deepEqual(r.calls.AbortDrain[0].drain, last);
    assert.deepEqual(r.calls.ReleaseLock[0].outcome, f.outcome.drainAborted);
  });
}

test('recovery: unfinished scale-up of a dead run, past its deadline, goes straight to CheckNodesReady and is undone', async () => {
  const name = 'recover-up-deadline';
  const { LaunchNodes: _, ...up } = f.paths.scaleUp(owner(name));
  const r = await run(name, {
    ...up,
    Evaluate: [f.evaluation.recoverUp],
    CheckNodesReady: [{ status: 'deadline_passed', ready: [], not_ready: ['i-0dead1'] }],
    HandleJoinFailure: [{ result: 'join_failed', recovered: true, terminated: ['i-0dead1'] }],
  });
  assert.deepEqual(r.visited, [...HEAD, 'CheckNodesReady', 'RouteReadiness', 'HandleJoinFailure', ...TAIL, 'JoinTimedOut']);
  assert.equal(r.calls.LaunchNodes, undefined, 'a recovery never launches');
  assert.deepEqual(r.calls.CheckNodesReady[0].operation, f.evaluation.recoverUp.operation);
  assert.equal(r.calls.Notify[0].decision.action, 'recover', 'the notification knows it was a recovery');
  assert.equal(r.error.Error, 'JoinTimeout');
});

test('recovery: unfinished scale-up whose nodes joined meanwhile is finished', async () => {
  const name = 'recover-up-ready';
  const { LaunchNodes: _, ...up } = f.paths.scaleUp(owner(name));
  const r = await run(name, { ...up, Evaluate: [f.evaluation.recoverUp], CheckNodesReady: [{ status: 'ready', ready: ['i-0dead1'], not_ready: [] }] });
  assert.equal(r.status, 'SUCCEEDED');
  assert.deepEqual(r.visited, [...HEAD, 'CheckNodesReady', 'RouteReadiness', ...TAIL, 'Done']);
  assert.deepEqual(r.output.operation, f.evaluation.recoverUp.operation);
  assert.deepEqual(r.output.ready, { status: 'ready', ready: ['i-0dead1'], not_ready: [] });
  assert.deepEqual(r.output.released, f.released);
});

test('recovery: a spot replacement a dead spot run left is checked for join like a scale-up', async () => {
  const name = 'recover-spot-replace';
  const { LaunchNodes: _, ...up } = f.paths.scaleUp(owner(name));
  const recoverSpot = {
    ...f.evaluation.recoverUp,
    decision: { ...f.evaluation.recoverUp.decision, codes: ['recover_spot_replace'] },
    operation: { ...f.replacement, recovery_attempts: 1 },
  };
  const r = await run(name, { ...up, Evaluate: [recoverSpot], CheckNodesReady: [{ status: 'ready', ready: ['i-0repl'], not_ready: [] }] });
  assert.equal(r.status, 'SUCCEEDED');
  assert.deepEqual(r.visited, [...HEAD, 'CheckNodesReady', 'RouteReadiness', ...TAIL, 'Done']);
  assert.deepEqual(r.calls.CheckNodesReady[0].operation, recoverSpot.operation);
});

test('recovery: unfinished scale-down re-cordons (idempotent), drains on and terminates', async () => {
  const name = 'recover-down';
  const r = await run(name, {
    ...f.paths.scaleDown(owner(name)),
    Evaluate: [f.evaluation.recoverDown],
    CordonNode: [{ node_name: 'ip-10-0-1-77', cordoned: true, already: true }],
    DrainNode: [f.drain.inProgress, f.drain.drained],
    TerminateNode: [{ result: 'scaled_down', recovered: true, terminated: ['i-0dead2'] }],
  });
  assert.equal(r.status, 'SUCCEEDED');
  assert.deepEqual(r.visited, [...HEAD, ...DOWN, ...DRAIN_AGAIN, 'TerminateNode', ...TAIL, 'Done']);
  assert.deepEqual(r.calls.DrainNode[0].operation, f.evaluation.recoverDown.operation);
  assert.deepEqual(r.output.outcome, { result: 'scaled_down', recovered: true, terminated: ['i-0dead2'] });
  assert.deepEqual(r.output.released, f.released);
});

test('recovery: unfinished scale-down past its deadline is uncordoned (AbortDrain)', async () => {
  const name = 'recover-down-deadline';
  const { TerminateNode: _, ...down } = f.paths.scaleDown(owner(name));
  const r = await run(name, {
    ...down,
    Evaluate: [f.evaluation.recoverDown],
    CordonNode: [{ node_name: 'ip-10-0-1-77', cordoned: true, already: true }],
    DrainNode: [f.drain.deadline],
    AbortDrain: [{ result: 'drain_aborted', recovered: true, uncordoned: 'ip-10-0-1-77' }],
  });
  assert.deepEqual(r.visited, [...HEAD, ...DOWN, 'AbortDrain', ...TAIL, 'DrainAborted']);
  assert.equal(r.error.Error, 'DrainAborted');
});

// One retrier covers the Lambda service errors and our own Retryable: each is retried, then the
// execution goes on as if nothing happened.
for (const [state, errorName] of [
  ['LaunchNodes', 'Retryable'],
  ['Evaluate', 'Lambda.ServiceException'],
  ['CheckNodesReady', 'Lambda.AWSLambdaException'],
  ['RecordOutcome', 'Lambda.SdkClientException'],
  ['ReleaseLock', 'Lambda.TooManyRequestsException'],
]) {
  test(`retry: ${state} fails with ${errorName} twice, then succeeds`, async () => {
    const name = `retry-${state}`;
    const script = f.paths.scaleUp(owner(name));
    script[state] = [fails(errorName), fails(errorName), ...script[state]];
    const r = await run(name, script);
    assert.equal(r.status, 'SUCCEEDED');
    assert.deepEqual(r.retried, [state, state]);
    assert.deepEqual(r.visited, [...HEAD, ...UP, ...TAIL, 'Done'], 'a retry re-enters no state');
    assert.equal(r.calls[state].length, 3);
    assert.deepEqual(r.calls[state][0], r.calls[state][2], 'a retried step gets the same document again');
  });
}

test('retry: Retryable beyond MaxAttempts (1 + 3 calls) goes to Cleanup then Failed', async () => {
  const name = 'retry-exhausted';
  const r = await run(name, {
    AcquireLock: acquire(name),
    Evaluate: [f.evaluation.scaleUp],
    LaunchNodes: [fails('Retryable'), fails('Retryable'), fails('Retryable'), fails('Retryable', 'ec2 RequestLimitExceeded')],
    Cleanup: [f.cleanedUp],
  });
  assert.equal(r.status, 'FAILED');
  assert.equal(r.error.Error, 'Retryable');
  assert.match(r.error.Cause, /RequestLimitExceeded/);
  assert.deepEqual(r.retried, ['LaunchNodes', 'LaunchNodes', 'LaunchNodes']);
  assert.deepEqual(r.visited, [...HEAD, 'LaunchNodes', 'Cleanup', 'Failed']);
});

for (const [state, errorName, script, path] of [
  ['DrainNode', 'Fatal', { Evaluate: [f.evaluation.scaleDown], CordonNode: [f.cordoned] }, [...HEAD, ...DOWN.slice(0, 2)]],
  ['LaunchNodes', 'QuotaExceeded', { Evaluate: [f.evaluation.scaleUp] }, [...HEAD, 'LaunchNodes']],
  ['CheckNodesReady', 'LeaseLost', { Evaluate: [f.evaluation.scaleUp], LaunchNodes: [f.launched] }, [...HEAD, 'LaunchNodes', 'WaitForNodes', 'CheckNodesReady']],
  ['Evaluate', 'Fatal', {}, HEAD.slice(0, 3)],
  ['TerminateNode', 'Fatal', { Evaluate: [f.evaluation.scaleDown], CordonNode: [f.cordoned], DrainNode: [f.drain.drained] }, [...HEAD, ...DOWN, 'TerminateNode']],
  ['ReleaseLock', 'Fatal', { Evaluate: [f.evaluation.none] }, [...HEAD, 'ReleaseLock']],
]) {
  test(`error: ${state} raises ${errorName}: not retried, Cleanup gets the error and the lease, ends Failed with ${errorName}`, async () => {
    const name = `fatal-${state}-${errorName}`;
    const r = await run(name, { AcquireLock: acquire(name), ...script, [state]: [fails(errorName, `${state} said no`)], Cleanup: [f.cleanedUp] });
    assert.equal(r.status, 'FAILED');
    assert.deepEqual(r.error, { Error: errorName, Cause: JSON.stringify({ errorType: errorName, errorMessage: `${state} said no` }) });
    assert.deepEqual(r.retried, []);
    assert.deepEqual(r.caught, [state]);
    assert.deepEqual(r.visited, [...path, 'Cleanup', 'Failed']);
    assert.equal(r.calls.Cleanup[0].error.Error, errorName);
  });
}

test('error: AcquireLock raises Fatal: Cleanup runs without a lease, Failed', async () => {
  const r = await run('fatal-acquire', { AcquireLock: [fails('Fatal', 'dynamodb table missing')], Cleanup: [f.cleanedUp] });
  assert.equal(r.status, 'FAILED');
  assert.equal(r.error.Error, 'Fatal');
  assert.deepEqual(r.visited, ['Init', 'AcquireLock', 'Cleanup', 'Failed']);
  assert.equal(r.calls.Cleanup[0].lease, undefined);
});

test('error: Cleanup itself failing still ends Failed with the original error', async () => {
  const name = 'cleanup-fails';
  const r = await run(name, {
    AcquireLock: acquire(name),
    Evaluate: [fails('Fatal', 'prometheus returned garbage')],
    Cleanup: [fails('Fatal', 'dynamodb unreachable')],
  });
  assert.equal(r.status, 'FAILED');
  assert.equal(r.error.Error, 'Fatal');
  assert.match(r.error.Cause, /prometheus returned garbage/);
  assert.deepEqual(r.visited, [...HEAD.slice(0, 3), 'Cleanup', 'Failed']);
});

test('error: an action no rule routes becomes UnexpectedResult, Cleanup, Failed', async () => {
  const name = 'unexpected-action';
  const bogus = { ...f.evaluation.none, decision: { ...f.evaluation.none.decision, action: 'scale_sideways' } };
  const r = await run(name, { AcquireLock: acquire(name), Evaluate: [bogus], Cleanup: [f.cleanedUp] });
  assert.equal(r.status, 'FAILED');
  assert.equal(r.error.Error, 'UnexpectedResult');
  assert.deepEqual(r.visited, [...HEAD, 'UnexpectedResult', 'Cleanup', 'Failed']);
});

for (const [label, ev] of [
  ['a recovery without an operation kind', { ...f.evaluation.recoverUp, operation: null }],
  ['a decision without an action', { ...f.evaluation.none, decision: { reasons: [] } }],
]) {
  test(`error: ${label} becomes UnexpectedResult, never a runtime error`, async () => {
    const name = `unexpected-${label.length}`;
    const r = await run(name, { AcquireLock: acquire(name), Evaluate: [ev], Cleanup: [f.cleanedUp] });
    assert.equal(r.error.Error, 'UnexpectedResult');
    assert.deepEqual(r.visited, [...HEAD, 'UnexpectedResult', 'Cleanup', 'Failed']);
  });
}

test('error: an unknown readiness status becomes UnexpectedResult', async () => {
  const name = 'unexpected-ready';
  const r = await run(name, {
    AcquireLock: acquire(name),
    Evaluate: [f.evaluation.scaleUp],
    LaunchNodes: [f.launched],
    CheckNodesReady: [{ status: 'maybe', ready: [], not_ready: [] }],
    Cleanup: [f.cleanedUp],
  });
  assert.deepEqual(r.visited, [...HEAD, ...UP, 'UnexpectedResult', 'Cleanup', 'Failed']);
});

test('error: an unknown drain status becomes UnexpectedResult', async () => {
  const name = 'unexpected-drain';
  const r = await run(name, {
    AcquireLock: acquire(name),
    Evaluate: [f.evaluation.scaleDown],
    CordonNode: [f.cordoned],
    DrainNode: [{ status: 'paused', remaining: [], blocked: [] }],
    Cleanup: [f.cleanedUp],
  });
  assert.deepEqual(r.visited, [...HEAD, ...DOWN, 'UnexpectedResult', 'Cleanup', 'Failed']);
});

for (const [label, notifyScript, retries] of [
  ['Fatal', [fails('Fatal', 'slack webhook 404')], 0],
  ['Retryable until retries run out', [fails('Retryable'), fails('Retryable'), fails('Retryable'), fails('Retryable', 'slack 503')], 3],
]) {
  test(`notify failing (${label}) does not fail the execution`, async () => {
    const name = `notify-fails-${retries}`;
    const r = await run(name, { ...f.paths.scaleDown(owner(name)), Notify: notifyScript });
    assert.equal(r.status, 'SUCCEEDED');
    assert.deepEqual(r.visited, [...HEAD, ...DOWN, 'TerminateNode', ...TAIL, 'Done']);
    assert.equal(r.retried.length, retries);
    assert.deepEqual(r.caught, ['Notify']);
    assert.equal(r.calls.Cleanup, undefined);
    assert.equal(r.output.notify_error.Error, label === 'Fatal' ? 'Fatal' : 'Retryable');
    assert.equal(r.output.notified, undefined);
    assert.deepEqual(r.output.released, f.released);
  });
}

after(() => {
  const never = Object.keys(definition.States).filter((s) => !visitedAnywhere.has(s));
  assert.deepEqual(never, [], 'every state of smartscale.asl.json is visited by some flow test');
});
