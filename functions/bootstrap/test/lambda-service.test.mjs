/**
 * The SmartScale bootstrap behind the local Lambda service: the real lambda_runtime loop polls the
 * Runtime API, and step errors arrive with the errorType the state machines' Retry/Catch match.
 *
 * Environment: SMARTSCALE_BOOTSTRAP (the built bootstrap), SMARTSCALE_PYTHON (a Python with
 * moto[server], for DynamoDB). Run by scripts/test-lambda-runtime.sh.
 */
import * as assert from 'node:assert/strict';
import { execFile, execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { LambdaService } from '../lambda-service.mjs';

const required = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set (run scripts/test-lambda-runtime.sh)`);
  return v;
};
const BOOTSTRAP = required('SMARTSCALE_BOOTSTRAP');
const PYTHON = required('SMARTSCALE_PYTHON');
const EVENTS = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'events');
const TABLE = 'smartscale-state';
const CLUSTER = 'c1';
const exec = (id) => `arn:aws:states:us-east-1:123456789012:execution:smartscale:${id}`;

const freePort = () =>
  new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

let moto;
let motoUrl;
let service;

/** The environment the stack gives a function, pointed at moto. */
const envFor = (step, endpoint = motoUrl) => ({
  PATH: process.env.PATH,
  AWS_ENDPOINT_URL: endpoint,
  AWS_REGION: 'us-east-1',
  AWS_ACCESS_KEY_ID: 'testing',
  AWS_SECRET_ACCESS_KEY: 'testing',
  AWS_EC2_METADATA_DISABLED: 'true',
  CLUSTER_ID: CLUSTER,
  DYNAMODB_TABLE: TABLE,
  SMARTSCALE_STEP: step,
  RUST_LOG: 'info',
});

before(async () => {
  const port = await freePort();
  motoUrl = `http://127.0.0.1:${port}`;
  moto = spawn(PYTHON, ['-m', 'moto.server', '-H', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' });
  for (let i = 0; ; i++) {
    try {
      await fetch(`${motoUrl}/moto-api/`);
      break;
    } catch (e) {
      if (i > 150) throw new Error(`moto did not start: ${e}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  execFileSync(PYTHON, ['-c', `
import boto3
boto3.client("dynamodb", endpoint_url="${motoUrl}", region_name="us-east-1",
             aws_access_key_id="testing", aws_secret_access_key="testing").create_table(
    TableName="${TABLE}", BillingMode="PAY_PER_REQUEST",
    KeySchema=[{"AttributeName": "cluster_id", "KeyType": "HASH"}],
    AttributeDefinitions=[{"AttributeName": "cluster_id", "AttributeType": "S"}])
`]);
  service = new LambdaService({ bootstrap: BOOTSTRAP, timeoutSecs: 30 });
  await service.start();
});

after(async () => {
  await service?.stop();
  moto?.kill();
});

describe('the bootstrap behind the Lambda Runtime API', () => {
  it('acquire-lock: the first execution takes the lease, the second gets LockHeld from the same warm process', async () => {
    const first = await service.invoke('acquire-lock', envFor('acquire-lock'), { cluster_id: CLUSTER, execution_id: exec('a') });
    assert.equal(first.ok, true, JSON.stringify(first));
    assert.equal(first.payload.owner, exec('a'));
    const pid = service.pid('acquire-lock');
    assert.ok(pid);
    const second = await service.invoke('acquire-lock', envFor('acquire-lock'), { cluster_id: CLUSTER, execution_id: exec('b') });
    assert.equal(second.ok, false);
    assert.equal(second.errorType, 'LockHeld', JSON.stringify(second));
    assert.match(second.errorMessage, /:a\b/);
    assert.equal(service.pid('acquire-lock'), pid, 'the process stayed warm across invocations');
    assert.match(service.logs('acquire-lock'), /"error_type":"LockHeld"/);
    assert.match(second.logs, /"error_type":"LockHeld"/, 'an invocation carries its own log lines');
    assert.doesNotMatch(first.logs, /LockHeld/, 'and not those of the next');
    assert.ok(second.maxRssKb > 0 && second.millis > 0, JSON.stringify({ maxRssKb: second.maxRssKb, millis: second.millis }));
    // The CPU the process used while serving, in 10 ms ticks: never more than both cores over its wall time.
    assert.ok(Number.isInteger(second.cpuMillis) && second.cpuMillis >= 0 && second.cpuMillis <= 2 * second.millis + 10, JSON.stringify({ cpuMillis: second.cpuMillis, millis: second.millis }));
  });

  it('concurrent invocations of one function run in processes of their own, as Lambda scales out', async () => {
    const bad = { cluster_id: 5 };
    const [a, b] = await Promise.all([service.invoke('cleanup', envFor('cleanup'), bad), service.invoke('cleanup', envFor('cleanup'), bad)]);
    assert.equal(a.errorType, 'Fatal', JSON.stringify(a));
    assert.equal(b.errorType, 'Fatal', JSON.stringify(b));
    assert.equal(service.pids('cleanup').length, 2);
    await service.invoke('cleanup', envFor('cleanup'), bad);
    assert.equal(service.pids('cleanup').length, 2, 'a later invocation reuses an idle warm process');
  });

  it('an invocation overrunning the function\'s own timeout is killed with Sandbox.Timedout', async () => {
    // A DynamoDB endpoint that accepts connections and never answers.
    const silent = createServer(() => {});
    await new Promise((r) => silent.listen(0, '127.0.0.1', r));
    try {
      const doc = { cluster_id: CLUSTER, execution_id: exec('t'), lease: { owner: exec('t'), token: 1, expires_at: '2030-01-01T00:00:00Z' } };
      const r = await service.invoke('release-lock', envFor('release-lock', `http://127.0.0.1:${silent.address().port}`), doc, { timeoutSecs: 1 });
      assert.equal(r.errorType, 'Sandbox.Timedout', JSON.stringify(r));
      assert.match(r.errorMessage, /timed out after 1\.00 seconds/);
    } finally {
      silent.close();
    }
  });

  it('release-lock: an unreachable DynamoDB arrives as Retryable (the ASL retries it)', async () => {
    const closed = `http://127.0.0.1:${await freePort()}`;
    const doc = { cluster_id: CLUSTER, execution_id: exec('a'), lease: { owner: exec('a'), token: 1, expires_at: '2030-01-01T00:00:00Z' } };
    const r = await service.invoke('release-lock', envFor('release-lock', closed), doc);
    assert.equal(r.ok, false);
    assert.equal(r.errorType, 'Retryable', JSON.stringify(r));
  });

  it('a changed environment starts a new process, like a configuration update', async () => {
    const before = service.pid('acquire-lock');
    const r = await service.invoke('acquire-lock', { ...envFor('acquire-lock'), LOCK_TTL: '120' }, { cluster_id: CLUSTER, execution_id: exec('a') });
    assert.equal(r.ok, true, JSON.stringify(r));
    assert.notEqual(service.pid('acquire-lock'), before);
  });

  it('over the Invoke API: a result is the body; a step error is X-Amz-Function-Error with errorType Fatal for bad input', async () => {
    service.configure('notify', envFor('notify'));
    const post = (name, payload) => fetch(`${service.url}/2015-03-31/functions/${name}/invocations`, { method: 'POST', body: JSON.stringify(payload) });
    const ok = await post('notify', { cluster_id: CLUSTER, execution_id: exec('n') });
    assert.equal(ok.status, 200);
    assert.equal(ok.headers.get('x-amz-function-error'), null);
    assert.equal(typeof (await ok.json()), 'object');
    const bad = await post('notify', { cluster_id: 5 });
    assert.equal(bad.status, 200);
    assert.equal(bad.headers.get('x-amz-function-error'), 'Unhandled');
    assert.equal((await bad.json()).errorType, 'Fatal');
    const missing = await post('no-such-function', {});
    assert.equal(missing.status, 404);
    assert.equal(missing.headers.get('x-amzn-errortype'), 'ResourceNotFoundException');
  });

  it('cargo lambda invoke --data-file events/<fn>.json (events/README.md) reaches the function over the Invoke API', async () => {
    const cargoLambda = join(dirname(PYTHON), 'cargo-lambda');
    service.configure('release-lock', envFor('release-lock'));
    const { port } = new URL(service.url);
    // cargo-lambda posts to /2015-03-31/functions/<name>/invocations and prints what the function
    // answered: its result, or its {errorType, errorMessage}.
    const r = await new Promise((resolve) => {
      execFile(cargoLambda, ['lambda', 'invoke', 'release-lock', '-A', '127.0.0.1', '-P', port, '--data-file', join(EVENTS, 'release-lock.json'), '--output-format', 'json'],
        { env: { PATH: process.env.PATH, HOME: process.env.HOME ?? '/tmp' } }, (_, stdout, stderr) => resolve({ stdout, stderr }));
    });
    // The sample's lease is not held in this table: the step answers LeaseLost, which cargo-lambda
    // prints as the function's error document.
    const printed = JSON.parse(r.stdout);
    const direct = await service.invoke('release-lock', envFor('release-lock'), JSON.parse(readFileSync(join(EVENTS, 'release-lock.json'), 'utf8')));
    assert.equal(direct.errorType, 'LeaseLost', JSON.stringify(direct));
    assert.deepEqual(printed, { errorType: direct.errorType, errorMessage: direct.errorMessage }, `${r.stdout}${r.stderr}`);
  });

  it('a function whose process exits fails the invocation with Runtime.ExitError', async () => {
    const env = envFor('');
    delete env.SMARTSCALE_STEP;
    const r = await service.invoke('unnamed', env, {});
    assert.equal(r.ok, false);
    assert.equal(r.errorType, 'Runtime.ExitError', JSON.stringify(r));
    assert.match(r.errorMessage, /exit status 2/);
    assert.match(service.logs('unnamed'), /no step named/);
  });
});
