// Where a Task state invokes a function: the one seam between the state machine interpreter and
// the Lambda code. Today it runs the one `bootstrap` binary once in local mode
// (`bootstrap <step> --event -`, the event on stdin, the result or the `{errorType, errorMessage}`
// error as the last stdout line),
// with exactly the environment the caller built from the template.
import { spawn } from 'node:child_process';
import { join } from 'node:path';

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
 * Invokes step `step` (its kebab name, e.g. `evaluate`) once with `payload` and the function
 * environment `env`. Resolves { ok: true, output } or { ok: false, error: {errorType,
 * errorMessage} }, with `millis`, `stderr` (the function's log lines) and, when
 * SMARTSCALE_BENCH_OUT is set, `maxRssKb` (GNU time). Throws when the function answers neither.
 */
export async function invokeFunction(step, env, payload) {
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
  const base = { millis: r.millis, maxRssKb, stderr: r.stderr, code: r.code };
  if (r.code === 0) return { ok: true, output: parsed, ...base };
  if (!parsed.errorType) throw new Error(`${step} exited ${r.code}: ${last}\n${r.stderr}`);
  return { ok: false, error: parsed, ...base };
}
