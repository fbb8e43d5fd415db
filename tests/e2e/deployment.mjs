// The deployment under test: what `cdk synth` of the real app produces, and the one list of what
// the rig adds to it.
//
// A scenario's stack is synthesized with the app's default context plus the scenario's own
// (shorter windows and timeouts through `functionSettings`, a lower `maxNodes`, a business-hours
// schedule), so every function setting comes from the template. The template is then made in the
// scenario's own moto server (aws_fixture.py deploy) and read here for the state machine
// definitions, each function's environment and role, and what each trigger sends.
import { spawn } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
export const ROOT = join(HERE, '..', '..');

/**
 * The context every end-to-end stack is synthesized with, beyond the app's defaults: the seed's
 * rules with windows and deadlines shortened so a scenario takes a minute, not an hour. These are
 * deployment settings (a user may choose them too); nothing here is an endpoint.
 */
export const BASE_CONTEXT = {
  maxNodes: '6',
  functionSettings: {
    // The shipped rule groups evaluate every 15 s; a 60 s window then needs 4 recorded samples.
    METRICS_SAMPLE_INTERVAL: '15s',
    SCALE_UP_WINDOW: '60s',
    PENDING_PODS_WINDOW: '60s',
    SCALE_DOWN_WINDOW: '60s',
    ERROR_RATE_WINDOW: '60s',
    // One set of deadlines for every scenario, so the suite synthesizes few stacks: short enough
    // for the join-timeout, drain-blocked and crash scenarios, long enough for a scale-up's
    // workers (2 s boot) to join and for a busy machine's ticks to renew the lease in time.
    JOIN_TIMEOUT: '30s',
    DRAIN_TIMEOUT: '30s',
    LOCK_TTL: '30s',
    DASHBOARD_URL: 'https://grafana.example.com/d/smartscale',
  },
};

/**
 * Everything the rig sets in a function's environment that the template does not, with why.
 * Each is what the Lambda service itself provides, or the local address of a part the stand-ins
 * replace; {@link functionEnvironment} adds nothing else.
 */
export const RIG_OVERRIDES = {
  AWS_REGION: 'Lambda sets the function\'s region; moto serves us-east-1',
  AWS_ACCESS_KEY_ID: 'Lambda hands each function its role\'s credentials; here STS AssumeRole of that role in moto',
  AWS_SECRET_ACCESS_KEY: 'as AWS_ACCESS_KEY_ID',
  AWS_SESSION_TOKEN: 'as AWS_ACCESS_KEY_ID',
  AWS_LAMBDA_FUNCTION_NAME: 'Lambda sets it; the template\'s FunctionName',
  AWS_ENDPOINT_URL: 'the AWS endpoints are the scenario\'s moto server, behind the IAM proxy that checks each call against the function\'s role (iam_proxy.mjs)',
  PROMETHEUS_URL: 'the template points at the master\'s private address, NodePort 30090 (https); the scenario\'s Prometheus listens on loopback (https, its own CA)',
  AWS_EC2_METADATA_DISABLED: 'no instance metadata service on this machine: keeps the SDK from waiting for one',
  AWS_CONFIG_FILE: 'no shared AWS config on a Lambda host: keeps a developer\'s ~/.aws out',
  AWS_SHARED_CREDENTIALS_FILE: 'as AWS_CONFIG_FILE',
  PATH: 'the process needs one; Lambda sets its own',
};

// Outside function environments, the rig also: writes the Kubernetes credentials secret (the
// master does at boot; here the emulator's address and a token) and the Slack webhook secret (the
// operator does after deploy; here the loopback listener) and adds the scenario Prometheus's CA
// certificate to the Prometheus secret (the master does at boot); runs the cluster's first workers from
// the template's launch template; makes no EC2 instance for the master (the emulator is the K3s
// server) and so resolves its private address to a documentation address that only the replaced
// PROMETHEUS_URL used; re-signs the emulator's EC2 polling with the rig's administrator keys (the
// emulator plays EC2's control plane and kubelets, not SmartScale).

/** Each function's environment exactly as the template sets it, plus {@link RIG_OVERRIDES}. */
export function functionEnvironment(fn, { endpoint, prometheusUrl }) {
  const env = {
    ...fn.environment,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: fn.credentials.AccessKeyId,
    AWS_SECRET_ACCESS_KEY: fn.credentials.SecretAccessKey,
    AWS_SESSION_TOKEN: fn.credentials.SessionToken,
    AWS_LAMBDA_FUNCTION_NAME: fn.name,
    AWS_ENDPOINT_URL: endpoint,
    PROMETHEUS_URL: prometheusUrl,
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_CONFIG_FILE: '/dev/null',
    AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
    PATH: process.env.PATH,
  };
  const extra = Object.keys(env).filter((k) => !(k in fn.environment) && !(k in RIG_OVERRIDES));
  if (extra.length) throw new Error(`the rig set ${extra.join(', ')}, which RIG_OVERRIDES does not list`);
  return env;
}

/**
 * The context for a scenario: {@link BASE_CONTEXT} with `settings` applied. Keys the stack owns
 * as context (MIN_NODES, MAX_NODES, COOLDOWN_*) become that context; the rest extend
 * `functionSettings`. `extra` is further context as given (e.g. businessHoursTimeZone).
 */
export function scenarioContext(settings = {}, extra = {}) {
  const owned = { MIN_NODES: 'minNodes', MAX_NODES: 'maxNodes', COOLDOWN_SCALE_UP: 'cooldownScaleUp', COOLDOWN_SCALE_DOWN: 'cooldownScaleDown' };
  const ctx = { ...BASE_CONTEXT, functionSettings: { ...BASE_CONTEXT.functionSettings }, ...extra };
  for (const [k, v] of Object.entries(settings)) {
    if (k in owned) ctx[owned[k]] = String(v).replace(/s$/, '');
    else ctx.functionSettings[k] = v;
  }
  return ctx;
}

function synthDir() {
  const dir = process.env.SMARTSCALE_E2E_SYNTH_DIR ?? join(tmpdir(), 'smartscale-e2e-synth');
  mkdirSync(dir, { recursive: true });
  return dir;
}

const synthesized = new Map();

/**
 * `cdk synth` of the real app (cdk/bin/smartscale.ts) with `context`, into a directory of its
 * own; resolves the template's path. Synthesized once per context (kept in
 * SMARTSCALE_E2E_SYNTH_DIR, shared by the test processes). The Lambda code assets are the
 * synth-only placeholder: the rig runs the step binaries of SMARTSCALE_BIN_DIR, so the zips are
 * never read; everything else is the deployable template.
 */
export function synth(context) {
  const key = createHash('sha256').update(JSON.stringify(context)).digest('hex').slice(0, 16);
  if (!synthesized.has(key)) synthesized.set(key, synthInto(key, context));
  return synthesized.get(key);
}

async function synthInto(key, context) {
  const out = join(synthDir(), key);
  if (!existsSync(out)) {
    const tmp = mkdtempSync(join(synthDir(), `${key}.tmp-`));
    const args = ['--no-install', 'cdk', 'synth', '--quiet', '--no-notices', '--no-version-reporting', '-o', tmp];
    for (const [k, v] of Object.entries(context)) args.push('-c', `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`);
    const r = await new Promise((resolve, reject) => {
      const child = spawn('npx', args, {
        cwd: join(ROOT, 'cdk'),
        env: { ...process.env, SMARTSCALE_SYNTH_PLACEHOLDERS: '1', CDK_DISABLE_VERSION_CHECK: '1', CDK_DISABLE_CLI_TELEMETRY: 'true', AWS_EC2_METADATA_DISABLED: 'true' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let text = '';
      child.stdout.on('data', (d) => (text += d));
      child.stderr.on('data', (d) => (text += d));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, text }));
    });
    if (r.code !== 0) throw new Error(`cdk synth ${args.join(' ')} failed:\n${r.text}`);
    try {
      renameSync(tmp, out);
    } catch {
      rmSync(tmp, { recursive: true, force: true }); // another process synthesized it meanwhile
    }
  }
  const file = readdirSync(out).find((f) => f.endsWith('.template.json'));
  if (!file) throw new Error(`no template in ${out}`);
  return join(out, file);
}

/** The cost scenario's capacity settings: every worker above the on-demand base (MIN_NODES) is Spot. */
export const COST_MIX = { onDemandPercentageAboveBase: '0' };

/** The contexts the suite's scenarios use, synthesized up front by synth.mjs (others on demand). */
export const SUITE_CONTEXTS = [scenarioContext(), scenarioContext({ MAX_NODES: '3' }), scenarioContext({}, { businessHoursTimeZone: 'Asia/Dhaka' }), scenarioContext({}, COST_MIX)];

/** The EventBridge scheduled event a rule without `Input` delivers (the documented shape). */
export function scheduledEvent(ruleArn, at = new Date()) {
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': 'Scheduled Event',
    source: 'aws.events',
    account: '123456789012',
    time: at.toISOString().replace(/\.\d{3}Z$/, 'Z'),
    region: 'us-east-1',
    resources: [ruleArn],
    detail: {},
  };
}

/**
 * The triggers of the state machine with logical id `machineId` in `template`: one entry per
 * EventBridge rule target or Scheduler schedule, { id, kind, schedule | pattern, input(event?) }.
 * `input()` is the execution input that trigger sends: a target's `Input` as given; for a rule
 * without it, the scheduled event (schedule rules) or the matched event itself (pattern rules,
 * after checking it matches).
 */
export function triggersOf(template, machineId) {
  const out = [];
  for (const [id, r] of Object.entries(template.Resources)) {
    const p = r.Properties ?? {};
    if (r.Type === 'AWS::Events::Rule') {
      for (const t of p.Targets ?? []) {
        if (t.Arn?.Ref !== machineId) continue;
        if (t.InputPath || t.InputTransformer) throw new Error(`${id}: InputPath/InputTransformer are not modelled by the rig`);
        const ruleArn = `arn:aws:events:us-east-1:123456789012:rule/${p.Name ?? id}`;
        out.push({
          id,
          kind: 'rule',
          schedule: p.ScheduleExpression,
          pattern: p.EventPattern,
          input: (event) => {
            if (t.Input !== undefined) return JSON.parse(t.Input);
            if (p.ScheduleExpression) return scheduledEvent(ruleArn);
            if (!matches(p.EventPattern, event)) throw new Error(`${id}: the event does not match the rule's pattern ${JSON.stringify(p.EventPattern)}`);
            return event;
          },
        });
      }
    }
    if (r.Type === 'AWS::Scheduler::Schedule' && p.Target?.Arn?.Ref === machineId) {
      out.push({ id, kind: 'schedule', schedule: p.ScheduleExpression, input: () => JSON.parse(p.Target.Input ?? '{}') });
    }
  }
  return out;
}

/**
 * The EventBridge Scheduler schedules of `template` whose target is the function with logical id
 * `functionId`: { id, schedule, timeZone, input(at) }. `input(at)` is the target's `Input` with
 * Scheduler's context attributes (`<aws.scheduler.execution-id>`, `<aws.scheduler.scheduled-time>`,
 * `<aws.scheduler.schedule-arn>`, `<aws.scheduler.attempt-number>`) filled in as Scheduler fills them
 * for an invocation at `at`.
 */
export function schedulesOf(template, functionId) {
  return Object.entries(template.Resources)
    .filter(([, r]) => r.Type === 'AWS::Scheduler::Schedule' && r.Properties.Target?.Arn?.['Fn::GetAtt']?.[0] === functionId)
    .map(([id, r]) => {
      const p = r.Properties;
      const arn = `arn:aws:scheduler:us-east-1:123456789012:schedule/${p.GroupName ?? 'default'}/${p.Name ?? id}`;
      return {
        id,
        schedule: p.ScheduleExpression,
        timeZone: p.ScheduleExpressionTimezone,
        input: (at = new Date()) => {
          const context = {
            'aws.scheduler.execution-id': randomUUID(),
            'aws.scheduler.scheduled-time': at.toISOString().replace(/\.\d{3}Z$/, 'Z'),
            'aws.scheduler.schedule-arn': arn,
            'aws.scheduler.attempt-number': '1',
          };
          return JSON.parse((p.Target.Input ?? '{}').replace(/<(aws\.scheduler\.[a-z-]+)>/g, (m, k) => context[k] ?? m));
        },
      };
    });
}

/** EventBridge pattern matching for the forms the stack uses: arrays of exact values, nested objects. */
export function matches(pattern, event) {
  if (!pattern) return false;
  return Object.entries(pattern).every(([k, want]) =>
    Array.isArray(want) ? want.includes(event?.[k]) : typeof want === 'object' ? matches(want, event?.[k]) : false);
}

/** The logical id of the state machine whose name ends in `-<suffix>` (`scaling`, `spot-interruption`). */
export function machineId(template, suffix) {
  const hit = Object.entries(template.Resources).find(([, r]) => r.Type === 'AWS::StepFunctions::StateMachine' && String(r.Properties.StateMachineName).endsWith(`-${suffix}`));
  if (!hit) throw new Error(`no state machine *-${suffix} in the template`);
  return hit[0];
}
