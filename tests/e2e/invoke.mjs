// Where a Task state invokes a function: the one seam between the state machine interpreter and
// the Lambda code. A scenario's {@link Functions} runs the one `bootstrap` binary as Lambda does:
// behind the Lambda Runtime API of functions/bootstrap/lambda-service.mjs, the real
// `lambda_runtime` loop in a warm process per function (one more per concurrent invocation), with
// exactly the environment the caller built from the template and the function's own timeout; a
// step error arrives as the `errorType` the runtime reported, which the ASL's Retry and Catch
// match.
//
// `SMARTSCALE_E2E_RUNTIME=local` runs each invocation in local mode instead
// (`bootstrap <step> --event -`, the `sam local invoke`-style single run: the event on stdin, the
// result or the `{errorType, errorMessage}` error as the last stdout line), for debugging a step
// without the runtime loop.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { LambdaService } from '../../functions/bootstrap/lambda-service.mjs';

function required(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run the end-to-end tests through scripts/test-e2e.sh`);
  return v;
}

/** Runs `cmd args` with `stdin` text and exactly `env`; resolves { code, stdout, stderr, millis }. */
export function run(cmd, args, { env, stdin = '' } = {}) {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn(cmd, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr, millis: Number(process.hrtime.bigint() - started) / 1e6 }));
    child.stdin.end(stdin);
  });
}

/**
 * Invokes step `step` (its kebab name, e.g. `evaluate`) once in local mode with `payload` and the
 * function environment `env`. Resolves { ok: true, output } or { ok: false, error: {errorType,
 * errorMessage} }, with `millis`, `logs` (what the process wrote) and, when
 * SMARTSCALE_BENCH_OUT is set, `maxRssKb` (GNU time). Throws when the function answers neither.
 */
export async function invokeLocal(step, env, payload) {
  const bin = join(required('SMARTSCALE_BIN_DIR'), 'bootstrap');
  const local = [step, '--event', '-'];
  const bench = process.env.SMARTSCALE_BENCH_OUT;
  const [cmd, args] = bench ? ['/usr/bin/time', ['-f', 'SMARTSCALE_TIME %M %e', bin, ...local]] : [bin, local];
  const r = await run(cmd, args, { env, stdin: JSON.stringify(payload) });
  const timed = /SMARTSCALE_TIME (\d+) /.exec(r.stderr);
  const maxRssKb = timed ? Number(timed[1]) : undefined;
  const last = r.stdout.trim().split('\n').pop() ?? '';
  let parsed;
  try {
    parsed = JSON.parse(last);
  } catch {
    throw new Error(`${step} exited ${r.code} without a JSON result; stderr:\n${r.stderr}`);
  }
  const base = { millis: r.millis, maxRssKb, logs: r.stderr };
  if (r.code === 0) return { ok: true, output: parsed, ...base };
  if (!parsed.errorType) throw new Error(`${step} exited ${r.code}: ${last}\n${r.stderr}`);
  return { ok: false, error: parsed, ...base };
}

/**
 * The functions of one deployment. {@link Functions#invoke} resolves the same shape as
 * {@link invokeLocal}: { ok: true, output } or { ok: false, error: {errorType, errorMessage} },
 * with `millis`, `maxRssKb`, `cpuMillis` (in the Lambda mode) and `logs` (the lines the function
 * logged while serving this invocation). Always `stop()` it: it owns the functions' processes.
 */
export class Functions {
  constructor({ mode = process.env.SMARTSCALE_E2E_RUNTIME ?? 'lambda' } = {}) {
    if (!['lambda', 'local'].includes(mode)) throw new Error(`SMARTSCALE_E2E_RUNTIME is ${mode}: lambda or local`);
    this.mode = mode;
    if (mode === 'lambda') this.service = new LambdaService({ bootstrap: join(required('SMARTSCALE_BIN_DIR'), 'bootstrap'), onLog: () => {} });
  }

  /**
   * Invokes function `name` (its FunctionName) of step `step` with `env` (its environment as the
   * template sets it, `SMARTSCALE_STEP` included), `payload`, and its `timeoutSecs`.
   */
  async invoke({ name, step, env, timeoutSecs }, payload) {
    if (this.mode === 'local') return invokeLocal(step, env, payload);
    const r = await this.service.invoke(name, env, payload, { timeoutSecs });
    const base = { millis: r.millis, cpuMillis: r.cpuMillis, maxRssKb: r.maxRssKb, logs: r.logs };
    if (r.ok) return { ok: true, output: r.payload, ...base };
    return { ok: false, error: { errorType: r.errorType, errorMessage: r.errorMessage }, ...base };
  }

  /** Stops every function process. */
  async stop() {
    await this.service?.stop();
  }
}
