// The end-to-end rig: one scenario = one cluster, with its own stand-ins, started here:
//  - AWS is moto server (shared by all scenarios, started by scripts/test-e2e.sh; each scenario
//    has its own VPC, launch template, secrets, topic and state item);
//  - Kubernetes is the cluster emulator (`smartscale emulate`), following the cluster's EC2
//    instances in moto: a launched instance registers a node after the boot delay;
//  - Prometheus is Debian's, scraping the emulator's /metrics with the shipped recording rules
//    (cdk/prometheus/rules, unmodified);
//  - Slack is a loopback HTTP listener that keeps every message posted to it.
// Task states run the real step binaries in local mode (`<step> --event -`) against those.
//
// Environment (set by scripts/test-e2e.sh): AWS_ENDPOINT_URL (moto), SMARTSCALE_BIN_DIR (the
// step binaries and `smartscale`), SMARTSCALE_PYTHON (the project venv's python, with boto3),
// PROMETHEUS_BIN (default /usr/bin/prometheus), SMARTSCALE_E2E_LOGS (kept logs, optional),
// SMARTSCALE_BENCH_OUT (optional: append one JSON line per step run with wall time and peak RSS).
import { spawn } from 'node:child_process';
import { appendFileSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FUNCTIONS, fakeArn, lambdaError, loadDefinition, runMachine } from '../../statemachine/test/harness.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, '..', '..');

function required(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run the end-to-end tests through scripts/test-e2e.sh`);
  return v;
}

const kebab = (pascal) => pascal.replace(/[A-Z]/g, (c, i) => (i ? '-' : '') + c.toLowerCase());
const FUNCTION_OF_ARN = Object.fromEntries(FUNCTIONS.map((fn) => [fakeArn(fn), kebab(fn)]));
const FUNCTION_NAMES = new Set(Object.values(FUNCTION_OF_ARN));
const TABLE = 'smartscale-e2e-state';

/** Settings every scenario's Lambdas get: the seed's rules with windows and deadlines shortened. */
export const BASE_SETTINGS = {
  MIN_NODES: '2',
  MAX_NODES: '6',
  WORKER_INSTANCE_TYPES: 't3.small',
  // The shipped rule groups evaluate every 15 s; a 60 s window then needs 4 recorded samples.
  METRICS_SAMPLE_INTERVAL: '15s',
  SCALE_UP_WINDOW: '60s',
  PENDING_PODS_WINDOW: '60s',
  SCALE_DOWN_WINDOW: '60s',
  ERROR_RATE_WINDOW: '60s',
  JOIN_TIMEOUT: '40s',
  DRAIN_TIMEOUT: '30s',
  LOCK_TTL: '60s',
  DASHBOARD_URL: 'https://grafana.example.com/d/smartscale',
};

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Polls `probe` until it returns a truthy value (returned), or throws after `seconds`. */
export async function waitFor(what, probe, { seconds = 60, everyMs = 500 } = {}) {
  const until = Date.now() + seconds * 1000;
  let last;
  for (;;) {
    try {
      last = await probe();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    if (Date.now() > until) throw new Error(`timed out after ${seconds}s waiting for ${what} (last: ${last})`);
    await sleep(everyMs);
  }
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function getJson(url, init) {
  const r = await fetch(url, init);
  if (!r.ok) throw new Error(`${init?.method ?? 'GET'} ${url}: HTTP ${r.status} ${await r.text()}`);
  return r.json();
}

/** Runs `cmd args` with `stdin` text; resolves { code, stdout, stderr, millis }. */
function run(cmd, args, { env, stdin = '' } = {}) {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn(cmd, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => {
      const millis = Number(process.hrtime.bigint() - started) / 1e6;
      resolve({ code, stdout, stderr, millis });
    });
    child.stdin.end(stdin);
  });
}

/** The Slack stand-in: a loopback listener keeping every JSON body posted to it. */
async function startSlack() {
  const messages = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      try {
        messages.push(JSON.parse(body));
      } catch {
        messages.push({ unparsable: body });
      }
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${server.address().port}/services/T000/B000/e2e`, messages, server };
}

/** The text of a Slack Block Kit message (header and sections), for assertions. */
export function slackText(message) {
  const parts = [message.text ?? ''];
  for (const b of message.blocks ?? []) {
    if (b.text?.text) parts.push(b.text.text);
    for (const f of b.fields ?? []) parts.push(f.text);
    for (const e of b.elements ?? []) if (e.text) parts.push(typeof e.text === 'string' ? e.text : e.text.text);
  }
  return parts.join('\n');
}

/** One cluster and its stand-ins. Create with {@link Scenario.start}; always `stop()` it. */
export class Scenario {
  constructor(name) {
    this.name = name;
    this.cluster = `e2e-${name}-${process.pid}`;
    this.children = [];
    this.runs = 0;
    this.dir = mkdtempSync(join(tmpdir(), `smartscale-e2e-${name}-`));
    this.logs = process.env.SMARTSCALE_E2E_LOGS ? join(process.env.SMARTSCALE_E2E_LOGS, name) : join(this.dir, 'logs');
    mkdirSync(this.logs, { recursive: true });
  }

  /**
   * Starts the stand-ins for a cluster of `workers` running workers plus a control-plane node,
   * with the Kubernetes `objects` (Deployments, PDBs, ...; or a function of the Ready worker list
   * returning them) created once the workers are Ready and the emulator's `traffic` set;
   * `settings` override {@link BASE_SETTINGS}.
   */
  static async start(name, { workers = 3, objects = [], traffic, settings = {}, bootDelay = '2s' } = {}) {
    const s = new Scenario(name);
    try {
      await s.#start({ workers, objects, traffic, settings, bootDelay });
    } catch (e) {
      await s.stop();
      throw e;
    }
    return s;
  }

  async #start({ workers, objects, traffic, settings, bootDelay }) {
    const bin = required('SMARTSCALE_BIN_DIR');
    const moto = required('AWS_ENDPOINT_URL');
    this.slack = await startSlack();
    const emuPort = await freePort();
    this.emulatorUrl = `http://127.0.0.1:${emuPort}`;
    this.aws = await this.#fixture('setup', {
      cluster: this.cluster,
      table: TABLE,
      workers,
      emulator_url: this.emulatorUrl,
      slack_url: this.slack.url,
    });

    writeFileSync(join(this.dir, 'seed.json'), JSON.stringify({
      nodes: [{ name: 'k3s-master', controlPlane: true, unschedulable: true, zone: 'us-east-1a' }],
    }));
    this.#spawn('emulator', join(bin, 'smartscale'), [
      'emulate', '--listen', `127.0.0.1:${emuPort}`, '--ec2-endpoint', moto, '--cluster-id', this.cluster,
      '--boot-delay', bootDelay, '--ec2-poll', '1s', '--pod-startup', '1s', '--seed', join(this.dir, 'seed.json'),
    ]);
    await waitFor('the emulator', () => fetch(`${this.emulatorUrl}/version`).then((r) => r.ok));
    await waitFor(`${workers} Ready workers`, async () => (await this.workers()).filter((n) => n.ready).length === workers);
    const list = typeof objects === 'function' ? objects(await this.workers()) : objects;
    for (const o of list) await this.create(o);
    if (traffic) await this.traffic(traffic);

    const promPort = await freePort();
    this.prometheusUrl = `http://127.0.0.1:${promPort}`;
    const target = `127.0.0.1:${emuPort}`;
    const job = (name, path) =>
      `  - job_name: ${name}\n    metrics_path: ${path}\n    static_configs: [{targets: ['${target}']}]\n`;
    writeFileSync(join(this.dir, 'prometheus.yml'),
      'global:\n  scrape_interval: 5s\n  evaluation_interval: 15s\n' +
      `rule_files:\n  - ${join(ROOT, 'cdk', 'prometheus', 'rules')}/*.yml\n` +
      'scrape_configs:\n' +
      job('node-exporter', '/metrics/node-exporter') +
      job('kube-state-metrics', '/metrics/kube-state-metrics') +
      job('app', '/metrics/app'));
    this.#spawn('prometheus', process.env.PROMETHEUS_BIN || '/usr/bin/prometheus', [
      `--config.file=${join(this.dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(this.dir, 'tsdb')}`,
      `--web.listen-address=127.0.0.1:${promPort}`,
    ]);
    await waitFor('Prometheus', () => fetch(`${this.prometheusUrl}/-/ready`).then((r) => r.ok));

    this.env = {
      PATH: process.env.PATH,
      AWS_ENDPOINT_URL: moto,
      AWS_ACCESS_KEY_ID: 'testing',
      AWS_SECRET_ACCESS_KEY: 'testing',
      AWS_REGION: 'us-east-1',
      AWS_EC2_METADATA_DISABLED: 'true',
      AWS_CONFIG_FILE: '/dev/null',
      AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
      RUST_LOG: 'info',
      CLUSTER_ID: this.cluster,
      DYNAMODB_TABLE: TABLE,
      PROMETHEUS_URL: this.prometheusUrl,
      K8S_CREDENTIALS_SECRET_ARN: this.aws.k8s_secret,
      SLACK_WEBHOOK_SECRET_ARN: this.aws.slack_secret,
      SNS_TOPIC_ARN: this.aws.topic,
      LAUNCH_TEMPLATE_ID: this.aws.template,
      WORKER_SUBNET_IDS: this.aws.subnets.join(','),
      ...BASE_SETTINGS,
      ...settings,
    };
  }

  #spawn(name, cmd, args) {
    const out = openSync(join(this.logs, `${name}.log`), 'a');
    const child = spawn(cmd, args, { stdio: ['ignore', out, out] });
    child.on('error', (e) => appendFileSync(join(this.logs, `${name}.log`), `spawn failed: ${e}\n`));
    this.children.push(child);
    return child;
  }

  async #fixture(command, args) {
    const python = required('SMARTSCALE_PYTHON');
    const r = await run(python, [join(HERE, 'aws_fixture.py'), command, JSON.stringify(args)], { env: process.env });
    if (r.code !== 0) throw new Error(`aws_fixture.py ${command} failed:\n${r.stderr}`);
    return JSON.parse(r.stdout);
  }

  /**
   * The CloudWatch Embedded Metric Format records the step binaries logged so far (every log line
   * with an `_aws` member), as { name, value, dimensions } per metric.
   */
  emf() {
    const records = [];
    for (const file of readdirSync(this.logs).filter((f) => FUNCTION_NAMES.has(f.replace(/\.log$/, '')))) {
      for (const line of readFileSync(join(this.logs, file), 'utf8').split('\n')) {
        if (!line.includes('"_aws"')) continue;
        const rec = JSON.parse(line);
        for (const directive of rec._aws.CloudWatchMetrics) {
          const dimensions = Object.fromEntries(directive.Dimensions.flat().map((d) => [d, rec[d]]));
          for (const m of directive.Metrics) records.push({ name: m.Name, unit: m.Unit, value: rec[m.Name], dimensions, step: file.replace(/\.log$/, '') });
        }
      }
    }
    return records;
  }

  /** Kills every process this scenario started and closes the Slack listener. */
  async stop() {
    for (const c of this.children) if (c.exitCode === null) c.kill('SIGTERM');
    await Promise.all(this.children.map((c) => (c.exitCode === null ? new Promise((r) => c.once('close', r)) : null)));
    await new Promise((r) => (this.slack ? this.slack.server.close(r) : r()));
    if (!process.env.SMARTSCALE_E2E_LOGS) rmSync(this.dir, { recursive: true, force: true });
  }

  /** Instances in moto, the state item, and the SNS messages published since the last call. */
  inspect() {
    return this.#fixture('inspect', { cluster: this.cluster, table: TABLE, queue_url: this.aws.queue_url });
  }

  /** The worker nodes as the emulator has them: { name, instanceId, ready, unschedulable }. */
  async workers() {
    const list = await getJson(`${this.emulatorUrl}/api/v1/nodes`);
    return list.items
      .filter((n) => !('node-role.kubernetes.io/control-plane' in (n.metadata.labels ?? {})))
      .map((n) => ({
        name: n.metadata.name,
        instanceId: (n.spec.providerID ?? '').split('/').pop(),
        ready: (n.status.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True'),
        unschedulable: Boolean(n.spec.unschedulable),
      }));
  }

  /** All pods: { name, namespace, node, phase }. */
  async pods() {
    const list = await getJson(`${this.emulatorUrl}/api/v1/pods`);
    return list.items.map((p) => ({
      name: p.metadata.name,
      namespace: p.metadata.namespace,
      node: p.spec.nodeName ?? null,
      phase: p.status?.phase,
    }));
  }

  /** Creates a namespaced Kubernetes object in the emulator (Deployment, PodDisruptionBudget...). */
  async create(obj) {
    const [group, version] = obj.apiVersion.includes('/') ? obj.apiVersion.split('/') : [null, obj.apiVersion];
    const plural = { Deployment: 'deployments', PodDisruptionBudget: 'poddisruptionbudgets', Pod: 'pods' }[obj.kind];
    const ns = obj.metadata.namespace ?? 'default';
    const base = group ? `/apis/${group}/${version}` : `/api/${version}`;
    return getJson(`${this.emulatorUrl}${base}/namespaces/${ns}/${plural}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(obj),
    });
  }

  /** Sets a Deployment's replica count (a JSON merge patch, as `kubectl scale` would). */
  scale(name, replicas, namespace = 'default') {
    return getJson(`${this.emulatorUrl}/apis/apps/v1/namespaces/${namespace}/deployments/${name}`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/merge-patch+json' },
      body: JSON.stringify({ spec: { replicas } }),
    });
  }

  /** Sets the emulator's load (see sim/src/emulator/control.rs). */
  traffic(t) {
    return getJson(`${this.emulatorUrl}/control/traffic`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(t),
    });
  }

  /** Keeps an instance's node from ever registering (a worker whose K3s agent fails to join). */
  neverJoin(instanceId) {
    return getJson(`${this.emulatorUrl}/control/never-join`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ instanceId }),
    });
  }

  /** The value of an instant PromQL query (first series), or null when empty. */
  async query(promql) {
    const r = await getJson(`${this.prometheusUrl}/api/v1/query?query=${encodeURIComponent(promql)}`);
    const first = r.data.result[0];
    return first ? Number(first.value[1]) : null;
  }

  /** Waits until Prometheus has recorded `samples` evaluations of the cluster CPU ratio. */
  waitForHistory(samples = 5, seconds = 150) {
    return waitFor(`${samples} recorded CPU samples`, async () =>
      (await this.query('count_over_time(smartscale:cpu_utilisation:ratio[5m])')) >= samples, { seconds, everyMs: 1000 });
  }

  /**
   * Runs one execution of `file` (the periodic machine by default) with every Task state running
   * its real binary in local mode against this scenario's stand-ins; Wait states last `waitMs`
   * (the tool's override, the definition is untouched). Hooks:
   *  - `env(state, attempt)`: extra environment for one call (fault injection);
   *  - `after(state, output, execution)`: sees each successful Task result (the execution can be
   *    aborted there, as a crash would end it).
   * Returns what runMachine returns plus `steps`: [{ state, attempt, ok, output | error, millis }].
   */
  async tick({ file = 'smartscale.asl.json', input, name, env, after, waitMs = 1000 } = {}) {
    const definition = loadDefinition(file, { clusterId: this.cluster });
    const executionName = name ?? `${this.name}-${++this.runs}`;
    const steps = [];
    const attempts = {};
    const taskResourceLocalHandlers = {};
    const waitTimeOverrides = {};
    const retryIntervalOverrides = {};
    let execution;
    for (const [state, def] of Object.entries(definition.States)) {
      if (def.Type === 'Wait') waitTimeOverrides[state] = waitMs;
      if (def.Type !== 'Task') continue;
      retryIntervalOverrides[state] = 200;
      const fn = FUNCTION_OF_ARN[def.Resource];
      if (!fn) throw new Error(`${file}: Task ${state} has an unknown Resource ${def.Resource}`);
      taskResourceLocalHandlers[state] = async (doc) => {
        const attempt = (attempts[state] = (attempts[state] ?? 0) + 1);
        const result = await this.invoke(fn, doc, { ...(env?.(state, attempt) ?? {}) });
        steps.push({ state, attempt, ...result });
        if (!result.ok) throw lambdaError(result.error.errorType, result.error.errorMessage);
        await after?.(state, result.output, execution);
        return result.output;
      };
    }
    const out = await runMachine(definition, {
      input: input ?? { cluster_id: this.cluster },
      executionName,
      overrides: { taskResourceLocalHandlers, waitTimeOverrides, retryIntervalOverrides },
      onStart: (e) => (execution = e),
    });
    return { ...out, steps };
  }

  /**
   * Runs step binary `fn` (kebab-case) once in local mode with `doc` on stdin. Resolves
   * { ok, output } or { ok: false, error: {errorType, errorMessage} }, with `millis` and, when
   * GNU time measured it, `maxRssKb`.
   */
  async invoke(fn, doc, extraEnv = {}) {
    const bin = join(required('SMARTSCALE_BIN_DIR'), fn);
    const bench = process.env.SMARTSCALE_BENCH_OUT;
    const [cmd, args] = bench ? ['/usr/bin/time', ['-f', 'SMARTSCALE_TIME %M %e', bin, '--event', '-']] : [bin, ['--event', '-']];
    const r = await run(cmd, args, { env: { ...this.env, ...extraEnv }, stdin: JSON.stringify(doc) });
    appendFileSync(join(this.logs, `${fn}.log`), r.stderr);
    const timed = /SMARTSCALE_TIME (\d+) /.exec(r.stderr);
    const maxRssKb = timed ? Number(timed[1]) : undefined;
    if (bench) appendFileSync(bench, `${JSON.stringify({ fn, millis: r.millis, maxRssKb, code: r.code })}\n`);
    const last = r.stdout.trim().split('\n').pop() ?? '';
    let parsed;
    try {
      parsed = JSON.parse(last);
    } catch {
      throw new Error(`${fn} exited ${r.code} without a JSON result; stderr:\n${r.stderr}`);
    }
    if (r.code === 0) return { ok: true, output: parsed, millis: r.millis, maxRssKb };
    if (!parsed.errorType) throw new Error(`${fn} exited ${r.code}: ${last}\n${r.stderr}`);
    return { ok: false, error: parsed, millis: r.millis, maxRssKb };
  }

  /**
   * Runs ticks (as EventBridge would, back to back) until one takes a path through `state`,
   * for at most `seconds`; returns that tick and the ones before it.
   */
  async tickUntil(state, { seconds = 180, pauseMs = 3000, ...opts } = {}) {
    const before = [];
    const until = Date.now() + seconds * 1000;
    for (;;) {
      const t = await this.tick(opts);
      if (t.visited.includes(state)) return { tick: t, before };
      before.push(t);
      if (Date.now() > until) {
        const last = t.steps.find((s) => s.state === 'Evaluate')?.output?.decision;
        throw new Error(`no tick reached ${state} within ${seconds}s (${before.length} ticks; last decision ${JSON.stringify(last)}); logs in ${this.logs}`);
      }
      await sleep(pauseMs);
    }
  }
}
