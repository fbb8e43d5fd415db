// The end-to-end rig: one scenario = one deployment of the synthesized stack, with its own
// stand-ins, started here:
//  - AWS is a moto server of the scenario's own (IAM authorization on), holding what the
//    template's resource definitions make (aws_fixture.py deploy), behind the IAM proxy that
//    checks every call against the calling function's role (iam_proxy.mjs);
//  - Kubernetes is the cluster emulator (`smartscale emulate`), following the cluster's EC2
//    instances in moto: a launched instance registers a node after the boot delay;
//  - Prometheus is Debian's, scraping the emulator's /metrics with the shipped recording rules
//    (cdk/prometheus/rules, unmodified), serving TLS and basic auth as on the master (the shipped
//    web config; a CA made per scenario, published in the Prometheus secret as the master does);
//  - Slack is a loopback HTTP listener that keeps every message posted to it.
// The state machines are the template's definitions, every Task invoking its function through
// the Lambda Runtime API (Functions, invoke.mjs: a warm `bootstrap` process per function running
// the real lambda_runtime loop) with the function's environment and timeout from the template and
// its role's credentials; what the rig adds is listed in deployment.mjs (RIG_OVERRIDES).
//
// Environment (set by scripts/test-e2e.sh): SMARTSCALE_BIN_DIR (the step binaries and
// `smartscale`), SMARTSCALE_PYTHON (the project venv's python, with boto3 and moto),
// SMARTSCALE_E2E_SYNTH_DIR (synthesized templates, by context), PROMETHEUS_BIN (default
// /usr/bin/prometheus), SMARTSCALE_E2E_LOGS (kept logs, optional), SMARTSCALE_BENCH_OUT
// (optional: append one JSON line per step run with wall time and peak RSS),
// SMARTSCALE_E2E_RUNTIME (`local` runs each step in local mode instead of the Runtime API).
import { spawn } from 'node:child_process';
import { appendFileSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { lambdaError, runMachine } from '../../statemachine/test/harness.mjs';
import { ROOT, functionEnvironment, machineId, scenarioContext, schedulesOf, synth, triggersOf } from './deployment.mjs';
import { startIamProxy } from './iam_proxy.mjs';
import { Functions, run } from './invoke.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));

function required(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run the end-to-end tests through scripts/test-e2e.sh`);
  return v;
}

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

/** One deployment of the stack and its stand-ins. Create with {@link Scenario.start}; always `stop()` it. */
export class Scenario {
  constructor(name) {
    this.name = name;
    this.children = [];
    this.runs = 0;
    this.dir = mkdtempSync(join(tmpdir(), `smartscale-e2e-${name}-`));
    this.logs = process.env.SMARTSCALE_E2E_LOGS ? join(process.env.SMARTSCALE_E2E_LOGS, name) : join(this.dir, 'logs');
    mkdirSync(this.logs, { recursive: true });
  }

  /**
   * Deploys the stack synthesized for this scenario and starts the stand-ins for a cluster of
   * `workers` running workers plus a control-plane node, with the Kubernetes `objects`
   * (Deployments, PDBs, ...; or a function of the Ready worker list returning them) created once
   * the workers are Ready and the emulator's `traffic` set. `settings` are function settings the
   * scenario's stack is synthesized with (see scenarioContext in deployment.mjs), `context`
   * further CDK context; `editTemplate(template)` may change a copy of the synthesized template
   * before it is deployed (a negative test removing a grant); `scrapeInterval` is Prometheus's
   * (and its scrape timeout), 5 s unless a large cluster's metrics take longer to serve;
   * `ec2Poll` is how often the emulator asks EC2 (moto) which instances run, 1 s unless a large
   * fleet makes each answer take seconds of moto's time (the kubelets it stands in for never ask);
   * `tick` is how often its controllers, scheduler and kubelets run (250 ms; each pass holds its
   * store, which a list request then waits for, and a cluster of 15,000 pods makes passes long).
   */
  static async start(name, { workers = 3, objects = [], traffic, settings = {}, context = {}, editTemplate, bootDelay = '2s', scrapeInterval = '5s', ec2Poll = '1s', tick = '250ms' } = {}) {
    const s = new Scenario(name);
    try {
      await s.#start({ workers, objects, traffic, settings, context, editTemplate, bootDelay, scrapeInterval, ec2Poll, tick });
    } catch (e) {
      await s.stop();
      throw e;
    }
    return s;
  }

  async #start({ workers, objects, traffic, settings, context, editTemplate, bootDelay, scrapeInterval, ec2Poll, tick }) {
    const bin = required('SMARTSCALE_BIN_DIR');
    let templatePath = await synth(scenarioContext(settings, context));
    this.template = JSON.parse(readFileSync(templatePath, 'utf8'));
    if (editTemplate) {
      editTemplate(this.template);
      templatePath = join(this.dir, 'edited.template.json');
      writeFileSync(templatePath, JSON.stringify(this.template));
    }
    const someFunction = Object.values(this.template.Resources).find((r) => r.Type === 'AWS::Lambda::Function' && r.Properties.Environment?.Variables?.CLUSTER_ID);
    this.cluster = someFunction.Properties.Environment.Variables.CLUSTER_ID;

    const motoPort = await freePort();
    this.motoUrl = `http://127.0.0.1:${motoPort}`;
    this.#spawn('moto', required('SMARTSCALE_PYTHON'), [join(HERE, 'moto_server.py'), String(motoPort)]);
    await waitFor('moto', () => fetch(`${this.motoUrl}/moto-api/`).then((r) => r.status < 500), { seconds: 60 });

    this.slack = await startSlack();
    const emuPort = await freePort();
    this.emulatorUrl = `http://127.0.0.1:${emuPort}`;
    this.aws = await this.#fixture('deploy', {
      template: templatePath,
      cluster: this.cluster,
      workers,
      k8s_credentials: { server: this.emulatorUrl, token: 'e2e-token' },
      slack_url: this.slack.url,
    }, { AWS_ACCESS_KEY_ID: 'testing', AWS_SECRET_ACCESS_KEY: 'testing' });
    this.functions = Object.fromEntries(Object.entries(this.aws.functions).map(([name, f]) => [name, { name, ...f }]));
    this.lambda = new Functions();
    const principals = new Map(Object.values(this.functions).map((f) => [f.credentials.AccessKeyId, {
      name: f.name,
      principal: `arn:aws:sts::123456789012:assumed-role/${f.role_arn.split('/').pop()}/${f.name.slice(0, 64)}`,
      policies: f.policies,
      credentials: f.credentials,
    }]));
    this.proxy = await startIamProxy({
      motoUrl: this.motoUrl,
      principals,
      admin: () => this.aws.admin,
      lookup: {
        topicKey: (topic) => (topic === this.aws.topic ? this.aws.topic_key_arn : undefined),
        launchTemplate: (id) => (id === this.aws.launch_template.id ? { data: this.aws.launch_template.data, roleArn: this.aws.launch_template.role_arn } : undefined),
        instanceTags: (ids) => this.#fixture('tags', { instance_ids: ids }),
        resourcePolicy: (arn) => this.aws.resource_policies[arn],
      },
    });
    // From here on moto authenticates every call and checks its action against the caller's policies.
    const auth = await fetch(`${this.motoUrl}/moto-api/reset-auth`, { method: 'POST', body: '0' });
    if (!auth.ok) throw new Error(`turning moto's IAM authorization on: HTTP ${auth.status}`);

    writeFileSync(join(this.dir, 'seed.json'), JSON.stringify({
      nodes: [{ name: 'k3s-master', controlPlane: true, unschedulable: true, zone: 'us-east-1a' }],
    }));
    this.#spawn('emulator', join(bin, 'smartscale'), [
      'emulate', '--listen', `127.0.0.1:${emuPort}`, '--ec2-endpoint', this.proxy.url, '--cluster-id', this.cluster,
      '--boot-delay', bootDelay, '--ec2-poll', ec2Poll, '--tick', tick, '--pod-startup', '1s', '--seed', join(this.dir, 'seed.json'),
    ]);
    await waitFor('the emulator', () => fetch(`${this.emulatorUrl}/version`).then((r) => r.ok));
    await waitFor(`${workers} Ready workers`, async () => (await this.workers()).filter((n) => n.ready).length === workers);
    const list = typeof objects === 'function' ? objects(await this.workers()) : objects;
    for (const o of list) await this.create(o);
    if (traffic) await this.traffic(traffic);

    const promPort = await freePort();
    this.prometheusUrl = `https://127.0.0.1:${promPort}`;
    const web = await this.#prometheusTls();
    const target = `127.0.0.1:${emuPort}`;
    const job = (name, path) =>
      `  - job_name: ${name}\n    metrics_path: ${path}\n    static_configs: [{targets: ['${target}']}]\n`;
    writeFileSync(join(this.dir, 'prometheus.yml'),
      `global:\n  scrape_interval: ${scrapeInterval}\n  scrape_timeout: ${scrapeInterval}\n  evaluation_interval: 15s\n` +
      `rule_files:\n  - ${join(ROOT, 'cdk', 'prometheus', 'rules')}/*.yml\n` +
      'scrape_configs:\n' +
      job('node-exporter', '/metrics/node-exporter') +
      job('kube-state-metrics', '/metrics/kube-state-metrics') +
      job('app', '/metrics/app'));
    this.#spawn('prometheus', process.env.PROMETHEUS_BIN || '/usr/bin/prometheus', [
      `--config.file=${join(this.dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(this.dir, 'tsdb')}`,
      `--web.listen-address=127.0.0.1:${promPort}`, `--web.config.file=${web}`,
    ]);
    await waitFor('Prometheus', () => this.#prometheus('/-/ready').then(() => true, () => false));
  }

  /**
   * Prometheus as the master serves it (cdk/userdata/master.sh): TLS with a server certificate
   * from a CA made here, and basic auth with the stack's generated credentials, in the shipped
   * web config (cdk/prometheus/web-config.yml.tmpl). The CA certificate is added to the
   * Prometheus secret, as the master publishes it, so the functions trust exactly that CA.
   * Returns the web config's path.
   */
  async #prometheusTls() {
    const dir = join(this.dir, 'prometheus-tls');
    mkdirSync(dir);
    const ssl = async (...args) => {
      const r = await run('openssl', args, { env: { PATH: process.env.PATH } });
      if (r.code !== 0) throw new Error(`openssl ${args[0]}: ${r.stderr}`);
    };
    const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
    await ssl('req', '-x509', ...ec, '-days', '2', '-subj', '/CN=e2e Prometheus CA', '-addext', 'basicConstraints=critical,CA:TRUE',
      '-addext', 'keyUsage=critical,keyCertSign', '-keyout', join(dir, 'ca.key'), '-out', join(dir, 'ca.crt'));
    await ssl('req', '-new', ...ec, '-subj', '/CN=prometheus', '-keyout', join(dir, 'tls.key'), '-out', join(dir, 'tls.csr'));
    writeFileSync(join(dir, 'tls.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
    await ssl('x509', '-req', '-in', join(dir, 'tls.csr'), '-CA', join(dir, 'ca.crt'), '-CAkey', join(dir, 'ca.key'), '-set_serial', '1',
      '-days', '2', '-extfile', join(dir, 'tls.ext'), '-out', join(dir, 'tls.crt'));
    this.prometheusCa = readFileSync(join(dir, 'ca.crt'), 'utf8');

    const arn = this.fn('evaluate').environment.PROMETHEUS_AUTH_SECRET_ARN;
    const admin = { endpoint: this.motoUrl, credentials: this.aws.admin, service: 'secretsmanager' };
    const got = await this.#fixture('call', { ...admin, operation: 'get_secret_value', params: { SecretId: arn } });
    const auth = JSON.parse(got.ok.SecretString);
    this.prometheusAuth = `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`;
    const hash = await run('htpasswd', ['-niBC', '10', auth.username], { env: { PATH: process.env.PATH }, stdin: auth.password });
    if (hash.code !== 0) throw new Error(`htpasswd: ${hash.stderr}`);
    const template = readFileSync(join(ROOT, 'cdk', 'prometheus', 'web-config.yml.tmpl'), 'utf8');
    if (!template.includes(`  ${auth.username}: \${PROMETHEUS_BASIC_AUTH_BCRYPT}`)) throw new Error(`web-config.yml.tmpl has no user ${auth.username}`);
    const web = join(dir, 'web-config.yml');
    writeFileSync(web, template.replaceAll('${PROMETHEUS_TLS_DIR}', dir).replace('${PROMETHEUS_BASIC_AUTH_BCRYPT}', hash.stdout.trim().split(':').slice(1).join(':')));
    const put = await this.#fixture('call', { ...admin, operation: 'put_secret_value', params: { SecretId: arn, SecretString: JSON.stringify({ ...auth, ca: this.prometheusCa }) } });
    if (!put.ok) throw new Error(`storing the Prometheus CA: ${JSON.stringify(put)}`);
    return web;
  }

  /** GET `path` of the scenario's Prometheus over TLS (its CA) with basic auth; the parsed JSON. */
  #prometheus(path) {
    return new Promise((resolve, reject) => {
      const req = https.get(`${this.prometheusUrl}${path}`, { ca: this.prometheusCa, headers: { authorization: this.prometheusAuth } }, (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => {
          if (res.statusCode !== 200) reject(new Error(`GET ${path}: HTTP ${res.statusCode} ${body}`));
          else { try { resolve(path.startsWith('/api/') ? JSON.parse(body) : body); } catch (e) { reject(e); } }
        });
      });
      req.on('error', reject);
    });
  }

  /** The function whose step is `step` (kebab name), as deployed. */
  fn(step) {
    const name = `smartscale-${this.cluster}-${step}`;
    const f = this.functions[name];
    if (!f) throw new Error(`the template has no function ${name}`);
    return f;
  }

  /** A function's environment: the template's, plus what deployment.mjs lists as the rig's. */
  envOf(step) {
    return functionEnvironment(this.fn(step), { endpoint: this.proxy.url, prometheusUrl: this.prometheusUrl });
  }

  /** The IAM decisions taken so far that were not Allowed: [{ fn, action, resource, result }]. */
  denials() {
    return this.proxy.decisions.filter((d) => d.result !== 'Allowed');
  }

  /**
   * One API call made with step `step`'s credentials through the IAM proxy (as the function
   * would make it): { ok } or { error, message }.
   */
  callAs(step, service, operation, params) {
    return this.#fixture('call', { endpoint: this.proxy.url, credentials: this.fn(step).credentials, service, operation, params });
  }

  /** Runs one instance SmartScale did not launch (not from its template), with `tags` (none: untagged). */
  launchAsRig(tags) {
    const subnet = this.fn('launch-nodes').environment.WORKER_SUBNET_IDS.split(',')[0];
    return this.#fixture('launch', { subnet, tags });
  }

  /** The execution input the trigger `triggerId` of machine `suffix` sends (the first when omitted). */
  triggerInput(suffix = 'scaling', { triggerId, event } = {}) {
    const triggers = triggersOf(this.template, machineId(this.template, suffix));
    const t = triggerId ? triggers.find((x) => x.id === triggerId) : triggers.find((x) => (event ? x.pattern && (() => { try { x.input(event); return true; } catch { return false; } })() : true));
    if (!t) throw new Error(`no trigger of the ${suffix} machine${triggerId ? ` named ${triggerId}` : ''} takes this input`);
    return t.input(event);
  }

  #spawn(name, cmd, args) {
    const out = openSync(join(this.logs, `${name}.log`), 'a');
    const child = spawn(cmd, args, { stdio: ['ignore', out, out] });
    child.on('error', (e) => appendFileSync(join(this.logs, `${name}.log`), `spawn failed: ${e}\n`));
    this.children.push(child);
    return child;
  }

  /** aws_fixture.py `command`, straight to moto, as the rig's administrator unless `creds` say otherwise. */
  async #fixture(command, args, creds) {
    const python = required('SMARTSCALE_PYTHON');
    const keys = creds ?? { AWS_ACCESS_KEY_ID: this.aws.admin.AccessKeyId, AWS_SECRET_ACCESS_KEY: this.aws.admin.SecretAccessKey };
    const env = { PATH: process.env.PATH, AWS_ENDPOINT_URL: this.motoUrl, AWS_REGION: 'us-east-1', AWS_CONFIG_FILE: '/dev/null', AWS_SHARED_CREDENTIALS_FILE: '/dev/null', ...keys };
    const r = await run(python, [join(HERE, 'aws_fixture.py'), command, JSON.stringify(args)], { env });
    if (r.code !== 0) throw new Error(`aws_fixture.py ${command} failed:\n${r.stderr}`);
    return JSON.parse(r.stdout);
  }

  /**
   * The CloudWatch Embedded Metric Format records the step binaries logged so far (every log line
   * with an `_aws` member), as { name, unit, value, dimensions, step, namespace, timestamp } per
   * metric.
   */
  emf() {
    const records = [];
    const steps = new Set(Object.keys(this.functions ?? {}).map((n) => n.replace(`smartscale-${this.cluster}-`, '')));
    for (const file of readdirSync(this.logs).filter((f) => steps.has(f.replace(/\.log$/, '')))) {
      for (const line of readFileSync(join(this.logs, file), 'utf8').split('\n')) {
        if (!line.includes('"_aws"')) continue;
        const rec = JSON.parse(line);
        for (const directive of rec._aws.CloudWatchMetrics) {
          const dimensions = Object.fromEntries(directive.Dimensions.flat().map((d) => [d, rec[d]]));
          for (const m of directive.Metrics) {
            records.push({ name: m.Name, unit: m.Unit, value: rec[m.Name], dimensions, step: file.replace(/\.log$/, ''), namespace: directive.Namespace, timestamp: rec._aws.Timestamp });
          }
        }
      }
    }
    return records;
  }

  /**
   * The stand-in for CloudWatch Logs' EMF extraction, which exists only on AWS: every metric the
   * functions logged so far ({@link Scenario#emf}) put into moto's CloudWatch with its own
   * timestamp. Resolves the records put.
   */
  async publishMetrics() {
    const records = this.emf();
    await this.#fixture('put_metrics', { records });
    return records;
  }

  /**
   * Invokes the function of `step` as its EventBridge Scheduler schedule does: with the
   * schedule's input from the template, Scheduler's context attributes filled in for `at`.
   * Resolves { schedule, input, ...the invocation's result }.
   */
  async invokeScheduled(step, at = new Date()) {
    const fn = this.fn(step);
    const [schedule] = schedulesOf(this.template, fn.logical_id);
    if (!schedule) throw new Error(`no Scheduler schedule of the template invokes ${fn.name}`);
    const input = schedule.input(at);
    return { schedule, input, ...(await this.invoke(step, input)) };
  }

  /** Kills every process this scenario started and closes the Slack listener. */
  async stop() {
    await this.lambda?.stop();
    for (const c of this.children) if (c.exitCode === null) c.kill('SIGTERM');
    await Promise.all(this.children.map((c) => (c.exitCode === null ? new Promise((r) => c.once('close', r)) : null)));
    await new Promise((r) => (this.slack ? this.slack.server.close(r) : r()));
    await this.proxy?.close();
    if (!process.env.SMARTSCALE_E2E_LOGS) rmSync(this.dir, { recursive: true, force: true });
  }

  /** Instances in moto, the state item, and the SNS messages published since the last call. */
  inspect() {
    return this.#fixture('inspect', { cluster: this.cluster, table: this.aws.table, queue_url: this.aws.queue_url });
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
    const plural = { Deployment: 'deployments', StatefulSet: 'statefulsets', PodDisruptionBudget: 'poddisruptionbudgets', Pod: 'pods' }[obj.kind];
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

  /** Sets the emulator's load (see sim/emulator/src/control.rs). */
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
    const r = await this.#prometheus(`/api/v1/query?query=${encodeURIComponent(promql)}`);
    const first = r.data.result[0];
    return first ? Number(first.value[1]) : null;
  }

  /** Waits until Prometheus has recorded `samples` evaluations of the cluster CPU ratio. */
  waitForHistory(samples = 5, seconds = 150) {
    return waitFor(`${samples} recorded CPU samples`, async () =>
      (await this.query('count_over_time(smartscale:cpu_utilisation:ratio[5m])')) >= samples, { seconds, everyMs: 1000 });
  }

  /**
   * Runs one execution of the template's state machine `machine` (`scaling` or
   * `spot-interruption`), its definition exactly as synthesized with the substitutions resolved,
   * started with what its trigger sends: the scaling machine's rule or schedule input, or for the
   * spot machine `event` (checked against the rule's pattern). Every Task invokes its function
   * through the Lambda Runtime API (see {@link invoke}); Wait states last `waitMs` and Retry pauses 200 ms (the tool's
   * overrides, the definition is untouched). Hooks:
   *  - `env(state, attempt)`: a fault for one call (environment changes the test names, e.g. a
   *    dead EC2 endpoint), on top of the function's environment;
   *  - `after(state, output, execution)`: sees each successful Task result (the execution can be
   *    aborted there, as a crash would end it).
   * Returns what runMachine returns plus `steps`: [{ state, attempt, ok, output | error, millis }].
   */
  async tick({ machine = 'scaling', event, name, env, after, waitMs = 1000 } = {}) {
    const { definition, name: machineName } = this.aws.machines[machineId(this.template, machine)];
    const byArn = Object.fromEntries(Object.values(this.functions).map((f) => [f.arn, f.name.replace(`smartscale-${this.cluster}-`, '')]));
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
      const step = byArn[def.Resource];
      if (!step) throw new Error(`${machine}: Task ${state} has a Resource no function of the template has: ${def.Resource}`);
      taskResourceLocalHandlers[state] = async (doc) => {
        const attempt = (attempts[state] = (attempts[state] ?? 0) + 1);
        const result = await this.invoke(step, doc, env?.(state, attempt) ?? {});
        steps.push({ state, attempt, ...result });
        if (!result.ok) throw lambdaError(result.error.errorType, result.error.errorMessage);
        await after?.(state, result.output, execution);
        return result.output;
      };
    }
    const out = await runMachine(definition, {
      input: this.triggerInput(machine, { event }),
      executionName,
      machineName,
      overrides: { taskResourceLocalHandlers, waitTimeOverrides, retryIntervalOverrides },
      onStart: (e) => (execution = e),
    });
    return { ...out, steps };
  }

  /**
   * Invokes the function of step `step` (kebab name) once with `doc`, its environment from the
   * template plus the rig's listed overrides and `fault` (a changed environment, so a fresh
   * process serves it, as after a configuration update), and the template's Timeout. Resolves
   * { ok, output } or { ok: false, error: {errorType, errorMessage} }, with `millis`, `maxRssKb`
   * and `logs` (this invocation's log lines, also appended to the step's log file).
   */
  async invoke(step, doc, fault = {}) {
    const fn = this.fn(step);
    const timeoutSecs = this.template.Resources[fn.logical_id]?.Properties?.Timeout ?? 3; // Lambda's default
    const r = await this.lambda.invoke({ name: fn.name, step, env: { ...this.envOf(step), ...fault }, timeoutSecs }, doc);
    appendFileSync(join(this.logs, `${step}.log`), r.logs);
    const bench = process.env.SMARTSCALE_BENCH_OUT;
    if (bench) appendFileSync(bench, `${JSON.stringify({ fn: step, millis: r.millis, cpuMillis: r.cpuMillis, maxRssKb: r.maxRssKb, ok: r.ok })}\n`);
    return r;
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
