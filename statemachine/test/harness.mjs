// Harness for the flow tests of the definition: runs the real ASL files in aws-local-stepfunctions
// with every Task state overridden by scripted responses and every Wait state / Retry pause shortened
// through the tool's own overrides. The definitions themselves are never edited, only their
// `${...}` substitution variables are filled in, as CloudFormation/CDK would do.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

// aws-local-stepfunctions 3.0.0 declares node >= 22 and uses Promise.withResolvers (node 22+) for
// its Task timeout. CI runs node 20, so provide the standard behaviour when it is missing.
if (typeof Promise.withResolvers !== 'function') {
  Promise.withResolvers = function withResolvers() {
    let resolve;
    let reject;
    const promise = new Promise((res, rej) => {
      resolve = res;
      reject = rej;
    });
    return { promise, resolve, reject };
  };
}
const { StateMachine, ExecutionError, ExecutionAbortedError } = await import('aws-local-stepfunctions');

export const STATEMACHINE_DIR = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Substitution variables every definition may use, with the fake values the tests put in. */
export const FUNCTIONS = [
  'AcquireLock', 'Evaluate', 'LaunchNodes', 'CheckNodesReady', 'HandleJoinFailure', 'CordonNode',
  'DrainNode', 'AbortDrain', 'TerminateNode', 'RecordOutcome', 'Notify', 'ReleaseLock', 'Cleanup',
  'SpotInterruption', 'LaunchReplacement', 'RetireNode',
];
export const TEST_CLUSTER_ID = 'test-cluster';
export const fakeArn = (fn) => `arn:aws:lambda:us-east-1:123456789012:function:smartscale-${fn}`;

/** The raw text of a definition file, `${...}` variables untouched. */
export function readDefinitionText(file) {
  return readFileSync(join(STATEMACHINE_DIR, file), 'utf8');
}

/**
 * Fills the substitution variables the way the CDK app does (`${ClusterId}` = `clusterId`) and
 * parses the result.
 * Throws if a variable is left that the project does not define, so a typo fails the tests.
 */
export function loadDefinition(file, { clusterId = TEST_CLUSTER_ID } = {}) {
  const values = Object.fromEntries(FUNCTIONS.map((fn) => [`${fn}FunctionArn`, fakeArn(fn)]));
  values.ClusterId = clusterId;
  const text = readDefinitionText(file).replace(/\$\{([A-Za-z0-9]+)\}/g, (m, name) => {
    if (!(name in values)) throw new Error(`${file}: unknown substitution variable ${m}`);
    return values[name];
  });
  return JSON.parse(text);
}

/** An error as a Rust Lambda reports it: `errorType` becomes the ASL error name. */
export function lambdaError(errorType, errorMessage = `${errorType} raised by the scripted step`) {
  const e = new Error(JSON.stringify({ errorType, errorMessage }));
  e.name = errorType;
  return e;
}

/** Script entry meaning "this call fails with errorType". */
export const fails = (errorType, message) => ({ __fails: errorType, message });

/**
 * Runs a definition once.
 *
 * `script` maps Task state names to the list of responses of its successive calls; an entry made
 * with `fails(...)` throws that error instead. A call beyond the script is recorded in
 * `unscripted` and fails with `UnscriptedCall`, so a test sees it both in the path and in that list.
 *
 * Returns what {@link runMachine} returns, plus `calls[state]` (the inputs each Task call received),
 * `unscripted` and `leftover` (scripted responses never used).
 */
export async function runFlow(definition, { input, script = {}, executionName = 'test' }) {
  const remaining = Object.fromEntries(Object.entries(script).map(([k, v]) => [k, [...v]]));
  const calls = {};
  const unscripted = [];
  const taskResourceLocalHandlers = {};
  const waitTimeOverrides = {};
  const retryIntervalOverrides = {};
  for (const [name, state] of Object.entries(definition.States)) {
    if (state.Type === 'Wait') waitTimeOverrides[name] = 0;
    if (state.Type === 'Task') {
      retryIntervalOverrides[name] = 0;
      taskResourceLocalHandlers[name] = async (taskInput) => {
        (calls[name] ??= []).push(structuredClone(taskInput));
        const next = remaining[name]?.shift();
        if (next === undefined) {
          unscripted.push(name);
          throw lambdaError('UnscriptedCall', `no scripted response left for ${name}`);
        }
        if (next && typeof next === 'object' && '__fails' in next) throw lambdaError(next.__fails, next.message);
        return structuredClone(next);
      };
    }
  }
  const run = await runMachine(definition, {
    input,
    executionName,
    overrides: { taskResourceLocalHandlers, waitTimeOverrides, retryIntervalOverrides },
  });
  return {
    ...run,
    calls,
    unscripted,
    leftover: Object.fromEntries(Object.entries(remaining).filter(([, v]) => v.length > 0)),
  };
}

/**
 * Runs `definition` once in aws-local-stepfunctions with `overrides` and the execution context the
 * real service gives (`$$.Execution.Id` = the ARN of execution `executionName` of the state machine
 * `machineName`).
 *
 * `onStart(execution)` is called with the running execution (so a test can `abort()` it, as a
 * crash would). Returns { status: 'SUCCEEDED' | 'FAILED' | 'ABORTED', output, error, executionArn,
 * events, visited, retried, caught } where `events` is the tool's whole event log, `visited` the
 * state names in StateEntered order, `retried`/`caught` those of StateRetried/StateCaught events,
 * and `document` the execution's last document: its output, or for a failed or aborted execution
 * the input of the last state entered.
 */
export async function runMachine(definition, { input, executionName = 'test', machineName = 'smartscale', overrides = {}, onStart }) {
  const machine = new StateMachine(definition);
  const executionArn = `arn:aws:states:us-east-1:123456789012:execution:${machineName}:${executionName}`;
  const execution = machine.run(input, {
    overrides,
    context: { Execution: { Id: executionArn, Name: executionName } },
  });
  onStart?.(execution);
  const events = [];
  const collecting = (async () => {
    for await (const event of execution.eventLogs) events.push(event);
  })();
  let status = 'SUCCEEDED';
  let output = null;
  try {
    output = await execution.result;
  } catch (e) {
    if (e instanceof ExecutionAbortedError) status = 'ABORTED';
    else if (e instanceof ExecutionError) status = 'FAILED';
    else throw e;
  }
  await collecting;
  const failed = events.find((e) => e.type === 'ExecutionFailed');
  const named = (type) => events.filter((e) => e.type === type).map((e) => e.state.name);
  const entered = events.filter((e) => e.type === 'StateEntered');
  return {
    status,
    output,
    document: output ?? entered.at(-1)?.state.input ?? null,
    error: failed ? { Error: failed.Error, Cause: failed.Cause } : null,
    executionArn,
    events,
    visited: named('StateEntered'),
    retried: named('StateRetried'),
    caught: named('StateCaught'),
  };
}
