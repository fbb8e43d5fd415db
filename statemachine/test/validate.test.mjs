// asl-validator accepts both definitions (variables substituted with fake ARNs), and the
// definitions keep the Retry/Catch rules docs/STATE_MACHINE.md promises.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { loadDefinition, readDefinitionText, FUNCTIONS } from './harness.mjs';

const aslValidator = createRequire(import.meta.url)('asl-validator');
const FILES = ['smartscale.asl.json', 'spot-interruption.asl.json'];
const RETRIED = ['Lambda.ServiceException', 'Lambda.AWSLambdaException', 'Lambda.SdkClientException', 'Lambda.TooManyRequestsException', 'Retryable'];
const validate = (definition) => aslValidator(structuredClone(definition), { checkPaths: true, checkArn: true });

for (const file of FILES) {
  test(`asl-validator accepts ${file}`, () => {
    const { isValid, errors } = validate(loadDefinition(file));
    assert.deepEqual(errors, []);
    assert.equal(isValid, true);
  });

  test(`${file} uses only the project's substitution variables`, () => {
    const used = [...readDefinitionText(file).matchAll(/\$\{([A-Za-z0-9]+)\}/g)].map((m) => m[1]);
    const known = new Set([...FUNCTIONS.map((fn) => `${fn}FunctionArn`), 'ClusterId']);
    assert.ok(used.length > 0);
    assert.deepEqual(used.filter((v) => !known.has(v)), []);
  });

  test(`${file}: every Task retries the transient errors with backoff and catches the rest`, () => {
    const { States } = loadDefinition(file);
    const tasks = Object.entries(States).filter(([, s]) => s.Type === 'Task');
    assert.ok(tasks.length > 0);
    for (const [name, s] of tasks) {
      assert.match(s.Resource, /^arn:aws:lambda:/, `${name} invokes a Lambda by ARN`);
      assert.ok(s.TimeoutSeconds > 0 && s.TimeoutSeconds <= 60, `${name} has a task timeout`);
      assert.deepEqual(s.Retry, [{ ErrorEquals: RETRIED, IntervalSeconds: 2, MaxAttempts: 3, BackoffRate: 2, MaxDelaySeconds: 10, JitterStrategy: 'FULL' }], `${name} Retry`);
      const last = s.Catch.at(-1);
      assert.deepEqual(last.ErrorEquals, ['States.ALL'], `${name} catches everything last`);
      if (name === 'Cleanup') assert.equal(last.Next, 'Failed');
      else if (name === 'Notify') {
        assert.ok(!['Cleanup', 'Failed'].includes(last.Next), 'Notify never fails the execution');
        assert.equal(last.Next, s.Next, 'a failed Notify continues where a successful one would');
      }
      else assert.deepEqual(last, { ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'Cleanup' }, `${name} Catch`);
    }
    assert.equal(States.Cleanup.Next, 'Failed');
    assert.equal(States.Failed.Type, 'Fail');
  });

  test(`${file}: Wait states poll every 10 s; the overall timeout is left to the stack`, () => {
    const def = loadDefinition(file);
    const waits = Object.values(def.States).filter((s) => s.Type === 'Wait');
    assert.ok(waits.length > 0);
    for (const w of waits) assert.equal(w.Seconds, 10);
    // cdk/lib/smartscale-stack.ts sets TimeoutSeconds from the state machine's timeout (and
    // refuses a file that sets its own); cdk/test/wiring.test.ts asserts the synthesized value.
    assert.equal(def.TimeoutSeconds, undefined);
  });
}

test('the periodic machine catches LockHeld at AcquireLock into SkippedLockHeld (Succeed)', () => {
  const { States } = loadDefinition('smartscale.asl.json');
  assert.deepEqual(States.AcquireLock.Catch[0], { ErrorEquals: ['LockHeld'], ResultPath: '$.skipped', Next: 'SkippedLockHeld' });
  assert.equal(States.SkippedLockHeld.Type, 'Succeed');
});

test('asl-validator is live: it rejects a dangling Next, a bad ResultPath and a non-ARN Resource', () => {
  const broken = loadDefinition('smartscale.asl.json');
  broken.States.WaitForNodes.Next = 'NoSuchState';
  assert.equal(validate(broken).isValid, false);
  const badPath = loadDefinition('smartscale.asl.json');
  badPath.States.LaunchNodes.ResultPath = 'operation';
  assert.equal(validate(badPath).isValid, false);
  const badResource = loadDefinition('spot-interruption.asl.json');
  badResource.States.Notify.Resource = 'notify-function';
  assert.equal(validate(badResource).isValid, false, 'a Resource that is not an ARN');
});
