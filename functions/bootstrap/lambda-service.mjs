/**
 * A local Lambda service for the SmartScale functions: each function's `bootstrap` process runs
 * the real `lambda_runtime` loop against its own Lambda Runtime API endpoint (the 2018-06-01
 * protocol: `invocation/next`, `/response`, `/error`, `init/error`), and callers invoke functions
 * by name, in process through {@link LambdaService#invoke} or over HTTP through the Lambda Invoke
 * API (`POST /2015-03-31/functions/<name>/invocations`, the path `cargo lambda invoke` and the
 * AWS SDKs use).
 *
 * Like Lambda, a function's process (its execution environment) is started on its first
 * invocation and kept warm: later invocations reuse an idle one, each process serving one
 * invocation at a time, and concurrent invocations of one function get processes of their own.
 * A process is replaced when the function's environment changes (a configuration update) or when
 * it died. A process that exits during an invocation fails it with `Runtime.ExitError`; one that
 * overruns the function's timeout is killed and the invocation fails with `Sandbox.Timedout`.
 * Each result carries what the process wrote while serving it (its log lines, the init output
 * for the first), the wall time and the process's peak resident memory.
 *
 * Why not `cargo lambda watch --only-lambda-apis`: its emulator accepts invocations only for names
 * that are binaries of the Cargo workspace, and here one binary, `bootstrap`, serves fourteen
 * functions, so it can hold one of them at a time (events/README.md shows that use).
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as http from 'node:http';

/** The Runtime API version prefix every runtime request carries. */
const RUNTIME = '/2018-06-01/runtime';

/** Reads a request body as text. */
function body(req) {
  return new Promise((resolve, reject) => {
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (c) => (text += c));
    req.on('end', () => resolve(text));
    req.on('error', reject);
  });
}

/** Listens on 127.0.0.1 with an ephemeral port; resolves the port. */
function listen(server) {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(server.address().port));
  });
}

/** An error result as Lambda reports it. */
const failure = (errorType, errorMessage) => ({ ok: false, errorType, errorMessage });

/** The peak resident set of process `pid` in KiB (Linux `VmHWM`), or undefined when unknown. */
function peakRssKb(pid) {
  try {
    const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The CPU time process `pid` has used, user and system, in milliseconds (Linux
 * `/proc/<pid>/stat`, in clock ticks of 10 ms), or undefined when unknown.
 */
function cpuMillis(pid) {
  try {
    // The fields after the parenthesised command name, which may itself hold spaces: utime and
    // stime are the 14th and 15th fields of the line, the 12th and 13th after the name.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return undefined;
  }
}

/** Resolves after the event loop has run its pending I/O callbacks (the process's piped output). */
const drained = () => new Promise((resolve) => setTimeout(() => setImmediate(resolve), 0));

/** One function's sandbox: its Runtime API endpoint, its process and its invocation queue. */
class Sandbox {
  constructor(service, name, env, timeoutSecs) {
    this.service = service;
    this.name = name;
    this.env = env;
    this.timeoutSecs = timeoutSecs;
    /** The configuration this process runs with: another one replaces it. */
    this.configKey = JSON.stringify({ env, timeoutSecs });
    /** What the process wrote since the last invocation ended. */
    this.output = '';
    /** Invocations not yet handed to the runtime: {id, payload, resolve}. */
    this.queue = [];
    /** A parked `invocation/next` response waiting for work. */
    this.poller = null;
    /** The invocation the runtime is working on: {id, resolve, timer}. */
    this.current = null;
    this.invocations = 0;
    this.server = http.createServer((req, res) => this.route(req, res).catch((e) => this.reply(res, 500, { errorMessage: String(e) })));
  }

  async start() {
    this.port = await listen(this.server);
    const env = {
      ...this.env,
      AWS_LAMBDA_RUNTIME_API: `127.0.0.1:${this.port}`,
      AWS_LAMBDA_FUNCTION_NAME: this.name,
      AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(this.service.memoryMb),
      AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${this.name}`,
      AWS_LAMBDA_LOG_STREAM_NAME: `local/${randomUUID()}`,
    };
    this.proc = spawn(this.service.bootstrap, [], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.pid = this.proc.pid;
    this.exited = new Promise((resolve) => {
      this.proc.on('exit', (code, signal) => {
        this.exitStatus = signal ? `signal ${signal}` : `exit status ${code}`;
        this.exitResult = this.initError ?? failure('Runtime.ExitError', `RequestId: ${this.current?.id ?? '-'} Error: Runtime exited with error: ${this.exitStatus}`);
        this.fail(this.exitResult);
        resolve();
      });
      this.proc.on('error', (e) => {
        this.exitStatus = `spawn error: ${e.message}`;
        this.exitResult = failure('Runtime.InvalidEntrypoint', `cannot start ${this.service.bootstrap}: ${e.message}`);
        this.fail(this.exitResult);
        resolve();
      });
    });
    for (const stream of [this.proc.stdout, this.proc.stderr]) {
      stream.on('data', (c) => {
        const text = c.toString();
        this.output += text;
        this.service.log(this.name, text);
      });
    }
  }

  get alive() {
    return this.exitStatus === undefined;
  }

  /** Alive, serving nothing and with nothing queued. */
  get idle() {
    return this.alive && !this.current && this.queue.length === 0;
  }

  /** Queues one invocation; resolves its result. */
  invoke(payload) {
    if (!this.alive) return Promise.resolve(this.exitResult);
    return new Promise((resolve) => {
      this.queue.push({ id: randomUUID(), payload: JSON.stringify(payload ?? null), resolve });
      this.dispatch();
    });
  }

  /** Hands the next queued invocation to a waiting runtime poll, one at a time. */
  dispatch() {
    if (!this.poller || this.current || this.queue.length === 0) return;
    const next = this.queue.shift();
    const res = this.poller;
    this.poller = null;
    const timeoutMs = this.timeoutSecs * 1000;
    this.current = { id: next.id, resolve: next.resolve, started: process.hrtime.bigint(), cpuStarted: cpuMillis(this.pid) };
    this.current.timer = setTimeout(() => {
      this.fail(failure('Sandbox.Timedout', `RequestId: ${next.id} Error: Task timed out after ${this.timeoutSecs.toFixed(2)} seconds`));
      this.proc.kill('SIGKILL');
    }, timeoutMs);
    this.invocations += 1;
    res.writeHead(200, {
      'content-type': 'application/json',
      'lambda-runtime-aws-request-id': next.id,
      'lambda-runtime-deadline-ms': String(Date.now() + timeoutMs),
      'lambda-runtime-invoked-function-arn': `arn:aws:lambda:${this.service.region}:${this.service.account}:function:${this.name}`,
      'lambda-runtime-trace-id': `Root=1-${Math.floor(Date.now() / 1000).toString(16)}-${randomUUID().replace(/-/g, '').slice(0, 24)};Sampled=0`,
    });
    res.end(next.payload);
  }

  /**
   * Ends the running invocation `id` with `result`, adding its `logs`, `millis`, `cpuMillis` and
   * `maxRssKb`; false when `id` is not the one running.
   */
  finish(id, result) {
    const cur = this.current;
    if (!cur || cur.id !== id || cur.done) return false;
    cur.done = true;
    clearTimeout(cur.timer);
    const millis = Number(process.hrtime.bigint() - cur.started) / 1e6;
    const maxRssKb = peakRssKb(this.pid);
    const cpuEnded = cpuMillis(this.pid);
    const cpu = cpuEnded !== undefined && cur.cpuStarted !== undefined ? cpuEnded - cur.cpuStarted : undefined;
    // What the process wrote before it answered may still be in the pipe: collect it first.
    drained().then(() => {
      const logs = this.output;
      this.output = '';
      if (this.current === cur) this.current = null;
      cur.resolve({ ...result, logs, millis, cpuMillis: cpu, maxRssKb });
      this.dispatch();
    });
    return true;
  }

  /** Fails the running invocation and, once the process is gone, everything queued. */
  fail(result) {
    if (this.current) this.finish(this.current.id, result);
    if (!this.alive) for (const q of this.queue.splice(0)) q.resolve(result);
  }

  reply(res, status, json) {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(json));
  }

  async route(req, res) {
    const url = new URL(req.url, 'http://runtime');
    const path = url.pathname;
    if (req.method === 'GET' && path === `${RUNTIME}/invocation/next`) {
      this.poller = res;
      res.on('close', () => {
        if (this.poller === res) this.poller = null;
      });
      this.dispatch();
      return;
    }
    const m = /^\/2018-06-01\/runtime\/invocation\/([^/]+)\/(response|error)$/.exec(path);
    if (req.method === 'POST' && m) {
      const text = await body(req);
      let result;
      if (m[2] === 'response') {
        result = { ok: true, payload: text === '' ? null : JSON.parse(text) };
      } else {
        let err = {};
        try {
          err = JSON.parse(text);
        } catch {
          err = { errorMessage: text };
        }
        const type = err.errorType ?? req.headers['lambda-runtime-function-error-type'] ?? 'Unhandled';
        result = failure(type, err.errorMessage ?? '');
      }
      if (!this.finish(decodeURIComponent(m[1]), result)) return this.reply(res, 400, { errorType: 'InvalidRequestID', errorMessage: `no invocation ${m[1]} is running` });
      return this.reply(res, 202, { status: 'OK' });
    }
    if (req.method === 'POST' && path === `${RUNTIME}/init/error`) {
      const err = JSON.parse((await body(req)) || '{}');
      this.initError = failure(err.errorType ?? 'Runtime.Unknown', err.errorMessage ?? '');
      this.reply(res, 202, { status: 'OK' });
      this.proc.kill('SIGKILL');
      return;
    }
    this.reply(res, 404, { errorType: 'NotFound', errorMessage: `${req.method} ${path}` });
  }

  async stop() {
    await this.ready?.catch(() => {});
    if (this.alive) this.proc.kill('SIGTERM');
    await this.exited;
    if (this.poller) this.poller.destroy();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

/**
 * The service: functions by name, each with its environment and timeout, and a pool of warm
 * processes per function (one per concurrent invocation, as Lambda scales a function out).
 *
 * Options: `bootstrap` (path of the binary, required), `timeoutSecs` (per invocation, default 30;
 * a function's own timeout, given to {@link configure} or {@link invoke}, wins), `memoryMb`
 * (reported to the runtime, default 128), `onLog(name, text)` (the functions' stdout and stderr
 * as it arrives; default: kept, see {@link logs}).
 */
export class LambdaService {
  constructor({ bootstrap, timeoutSecs = 30, memoryMb = 128, region = 'us-east-1', account = '123456789012', onLog } = {}) {
    if (!bootstrap) throw new Error('LambdaService needs { bootstrap: <path of the bootstrap binary> }');
    Object.assign(this, { bootstrap, timeoutSecs, memoryMb, region, account });
    this.onLog = onLog;
    /** @type {Map<string, Sandbox[]>} */
    this.sandboxes = new Map();
    /** @type {Map<string, {env: object, timeoutSecs: number}>} */
    this.configs = new Map();
    this.logText = new Map();
    /** Processes being stopped after a configuration update. */
    this.retiring = new Set();
    this.invokeServer = http.createServer((req, res) => this.invokeRoute(req, res));
  }

  log(name, text) {
    if (this.onLog) this.onLog(name, text);
    else this.logText.set(name, (this.logText.get(name) ?? '') + text);
  }

  /** What function `name` wrote so far (when no `onLog` was given). */
  logs(name) {
    return this.logText.get(name) ?? '';
  }

  /** Starts the Invoke API; resolves its base URL (`http://127.0.0.1:<port>`). */
  async start() {
    this.port = await listen(this.invokeServer);
    this.url = `http://127.0.0.1:${this.port}`;
    return this.url;
  }

  /**
   * Sets the environment (and optionally `timeoutSecs`) of function `name`, as used by HTTP
   * invocations; a changed environment replaces its idle processes on the next invocation.
   */
  configure(name, env, { timeoutSecs } = {}) {
    this.configs.set(name, { env: { ...env }, timeoutSecs: timeoutSecs ?? this.configs.get(name)?.timeoutSecs ?? this.timeoutSecs });
  }

  /** Stops `box` in the background (awaited by {@link stop}). */
  retire(box) {
    const done = box.stop().finally(() => this.retiring.delete(done));
    this.retiring.add(done);
  }

  /**
   * An idle warm process of `name` with the function's current configuration, or a new one
   * (started in the background; an invocation queued on it waits for its first poll). Dead
   * processes and idle ones of an older configuration (environment or timeout) are retired first.
   */
  sandbox(name) {
    const { env, timeoutSecs } = this.configs.get(name);
    const key = JSON.stringify({ env, timeoutSecs });
    const pool = [];
    for (const box of this.sandboxes.get(name) ?? []) {
      if (!box.alive || (box.idle && box.configKey !== key)) this.retire(box);
      else pool.push(box);
    }
    let box = pool.find((b) => b.idle && b.configKey === key);
    if (!box) {
      box = new Sandbox(this, name, env, timeoutSecs);
      box.ready = box.start();
      pool.push(box);
    }
    this.sandboxes.set(name, pool);
    return box;
  }

  /**
   * Invokes function `functionName` with `env` (its environment variables, as the stack sets them)
   * and `payload`; `timeoutSecs` is the function's timeout (default: the service's). Resolves
   * `{ ok: true, payload }` or `{ ok: false, errorType, errorMessage }` with the `errorType` the
   * function's runtime reported, the name a state machine's Retry and Catch match, and in both
   * cases `logs` (what the process wrote while serving this invocation, its init output included
   * on the first), `millis` (wall time from hand-over to answer), `cpuMillis` (the CPU time the
   * process used over the same span, to 10 ms) and `maxRssKb` (the process's peak resident set so
   * far). Never rejects for a function failure.
   */
  async invoke(functionName, env, payload, { timeoutSecs = this.timeoutSecs } = {}) {
    this.configure(functionName, env, { timeoutSecs });
    return this.#invokeConfigured(functionName, payload);
  }

  async #invokeConfigured(name, payload) {
    const box = this.sandbox(name);
    const result = box.invoke(payload);
    await box.ready;
    return result;
  }

  /** The pid of a warm process of `name`, if one is running (for tests of warmth). */
  pid(name) {
    return (this.sandboxes.get(name) ?? []).find((b) => b.alive && b.pid)?.pid;
  }

  /** The pids of every warm process of `name`. */
  pids(name) {
    return (this.sandboxes.get(name) ?? []).filter((b) => b.alive && b.pid).map((b) => b.pid);
  }

  async invokeRoute(req, res) {
    const m = /^\/2015-03-31\/functions\/([^/]+)\/invocations$/.exec(new URL(req.url, 'http://invoke').pathname);
    const send = (status, text, headers = {}) => {
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(text);
    };
    if (req.method !== 'POST' || !m) return send(404, JSON.stringify({ Type: 'User', message: `${req.method} ${req.url}: not an Invoke API path` }));
    const name = decodeURIComponent(m[1]);
    if (!this.configs.has(name)) return send(404, JSON.stringify({ Type: 'User', message: `Function not found: ${name}` }), { 'x-amzn-errortype': 'ResourceNotFoundException' });
    const text = await body(req);
    let payload;
    try {
      payload = text === '' ? {} : JSON.parse(text);
    } catch {
      return send(400, JSON.stringify({ Type: 'User', message: 'Could not parse request body into json' }), { 'x-amzn-errortype': 'InvalidRequestContentException' });
    }
    const result = await this.#invokeConfigured(name, payload);
    if (result.ok) return send(200, JSON.stringify(result.payload), { 'x-amz-executed-version': '$LATEST' });
    return send(200, JSON.stringify({ errorType: result.errorType, errorMessage: result.errorMessage }), {
      'x-amz-function-error': 'Unhandled',
      'x-amz-executed-version': '$LATEST',
    });
  }

  /** Stops every function process and both kinds of server. */
  async stop() {
    await Promise.all([...this.sandboxes.values()].flat().map((b) => b.stop()));
    this.sandboxes.clear();
    await Promise.all([...this.retiring]);
    if (this.port) await new Promise((resolve) => this.invokeServer.close(resolve));
  }
}
