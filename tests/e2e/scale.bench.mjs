// The scaling machine on a large cluster (default 500 workers, 15,000 pods), on the end-to-end rig
// (standins.mjs: the synthesized stack, moto behind the IAM proxy, the cluster emulator,
// Prometheus; every function behind the Lambda Runtime API). Not a test: it prints figures for
// docs/BENCHMARKS.md. Run by scripts/bench-scale.sh, which sets the environment standins.mjs needs.
//
// Phase 1, scale-down: ticks at 10 % CPU until one removes a worker (every tick runs Evaluate on
// the whole cluster; the removal cordons, drains with its DrainNode polls and terminates).
// Phase 2, scale-up: a Deployment whose pods fit no worker stays Pending for the window, a tick
// launches workers and polls CheckNodesReady until they join.
// Output: per step, the invocations, median and max wall time (hand-over to answer through the
// Runtime API), the median CPU time and the process's peak RSS; the load average before and after.
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import cdkConfig from '../../cdk/build/lib/config.js';
import { deployment } from './kit.mjs';
import { Scenario, waitFor } from './standins.mjs';

const { values } = parseArgs({ options: { workers: { type: 'string', default: '500' }, pods: { type: 'string', default: '15000' }, 'max-ticks': { type: 'string', default: '0' } } });
// 0: no limit; otherwise the run stops (and prints its figures) after that many ticks.
const maxTicks = Number(values['max-ticks']);
const workers = Number(values.workers);
const pods = Number(values.pods);
const apps = 100;
const load = () => loadavg().map((x) => x.toFixed(2)).join(' ');
const started = Date.now();
const elapsed = () => `${((Date.now() - started) / 1000).toFixed(0)} s`;
const note = (text) => console.error(`[scale ${elapsed()}] ${text}`);

note(`load average ${load()}; starting ${workers} workers, ${pods} pods`);
// Evaluate's and LaunchNodes' Timeouts are raised from the template's 30 s for this measurement
// only, so a slow call is measured instead of cut off (the figure is then compared with the 30 s
// the stack allows and the targets): at 500 instances moto answers DescribeInstances and
// CreateFleet in seconds. Prometheus scrapes every 30 s: the debug emulator needs more than the
// suite's 5 s to render the metrics of 15,000 pods.
const RAISED_TIMEOUT_S = 120;
const raiseTimeouts = (template) => {
  for (const suffix of ['-evaluate', '-launch-nodes']) {
    const fn = Object.values(template.Resources).find((r) => r.Type === 'AWS::Lambda::Function' && r.Properties.FunctionName?.endsWith(suffix));
    fn.Properties.Timeout = RAISED_TIMEOUT_S;
  }
};
const { nodeSubnetMaskFor } = cdkConfig; // built by scripts/test-e2e.sh --install-only, which bench-scale.sh runs first
const maxNodes = workers + 20;
const nodeSubnetCidrMask = nodeSubnetMaskFor(maxNodes + 1);
if (nodeSubnetCidrMask === undefined) throw new Error(`no node subnets the VPC allows hold ${maxNodes} workers and the master: run fewer --workers`);
const s = await Scenario.start('scale', {
  editTemplate: raiseTimeouts,
  scrapeInterval: '30s',
  // The emulator's EC2 follower stands in for 500 kubelets, which never call EC2; polling every
  // second, it kept moto busy (DescribeInstances of 500 instances takes moto over 3 s alone: tests/e2e/moto_describe.bench.py), so
  // every AWS call the functions made waited behind it. Every 20 s still joins a new worker well
  // within JOIN_TIMEOUT.
  ec2Poll: '20s',
  // Each control pass over 15,000 pods holds the emulator's store, and list pages wait for it: a
  // real API server runs no controllers, scheduler or kubelets in its process. Once a second
  // still starts a pod or finishes an eviction within the drain poll's 10 s.
  tick: '1s',
  workers,
  // 30 pods of 20m / 8Mi per worker on average (CPU and memory well under the scale-down thresholds): room to drain any one worker onto the others.
  objects: Array.from({ length: apps }, (_, i) => deployment(`app-${i}`, Math.ceil(pods / apps), { cpu: '20m', memory: '8Mi' })),
  traffic: { cpuUtilisation: 0.1 },
  // JOIN_TIMEOUT: the suite's 30 s is shorter than the follower's 20 s poll plus moto's answer.
  settings: { MAX_NODES: maxNodes, JOIN_TIMEOUT: '180s' },
  // Node subnets that hold the master and MAX_NODES workers: the synth refuses MAX_NODES beyond
  // what they hold (the default /24s hold 470 nodes).
  context: { nodeSubnetCidrMask },
});
const ticks = [];
let failure;
/** Ticks (each kept for the figures, even when the phase fails) until one visits `state`. */
async function ticksUntil(state, seconds) {
  const until = Date.now() + seconds * 1000;
  for (;;) {
    const t = await s.tick();
    ticks.push(t);
    const evaluate = t.steps.find((x) => x.state === 'Evaluate');
    note(`tick ${ticks.length}: ${t.status}, Evaluate ${evaluate ? `${evaluate.millis.toFixed(0)} ms${evaluate.ok ? '' : ` (${evaluate.error?.errorType})`}` : 'not run'}; ${t.visited.join(' → ')}`);
    if (t.visited.includes(state)) return t;
    if (Date.now() > until) throw new Error(`no tick reached ${state} within ${seconds} s`);
    if (maxTicks && ticks.length >= maxTicks) throw new Error(`stopped after --max-ticks ${maxTicks}`);
    await new Promise((r) => setTimeout(r, 3000));
  }
}
try {
  note(`${workers} workers Ready; waiting for the pods`);
  await waitFor(`${pods} pods Running`, async () => (await s.pods()).filter((p) => p.phase === 'Running').length >= pods, { seconds: 600, everyMs: 5000 });
  note('pods Running; waiting for Prometheus history');
  await s.waitForHistory(2, 600);

  note('phase 1: ticks until a scale-down');
  const down = await ticksUntil('CordonNode', 900);
  if (!down.visited.includes('TerminateNode')) throw new Error(`the scale-down tick did not terminate: ${down.visited.join(' → ')}`);

  note('phase 2: Pending pods until a scale-up');
  await s.create(deployment('burst', 4, { cpu: '1500m', memory: '256Mi' }));
  // Phase 1's scale-down cooldown runs: the Pending pods go ahead of it once Pending over a whole
  // PENDING_PODS_WINDOW (docs/SCALING_ALGORITHM.md, "Cooldowns"); 900 s bounds the wait.
  const up = await ticksUntil('CheckNodesReady', 900);
  if (up.status !== 'SUCCEEDED') throw new Error(`the scale-up tick ended ${up.status}: ${JSON.stringify(up.error)}`);
} catch (e) {
  failure = e;
} finally {
  await s.stop();
}

// Where an Evaluate's time goes: its log lines with their offsets from the first (the adapters log
// each call they make), for the slowest Evaluate.
const evaluates = ticks.flatMap((t) => t.steps).filter((x) => x.state === 'Evaluate');
const slowest = evaluates.sort((a, b) => b.millis - a.millis)[0];
if (slowest?.logs) {
  const lines = String(slowest.logs).split('\n').filter(Boolean).map((l) => { try { return JSON.parse(l); } catch { return null; } }).filter((l) => l?.timestamp);
  const t0 = Date.parse(lines[0]?.timestamp ?? '');
  console.error(`slowest Evaluate: ${slowest.millis.toFixed(0)} ms; its log:`);
  for (const l of lines) console.error(`  +${(Date.parse(l.timestamp) - t0).toString().padStart(6)} ms ${l.level} ${l.fields?.message ?? ''} ${JSON.stringify(Object.fromEntries(Object.entries(l.fields ?? {}).filter(([k]) => k !== 'message')))}`.slice(0, 400));
}
const byState = new Map();
for (const t of ticks) for (const step of t.steps) byState.set(step.state, [...(byState.get(step.state) ?? []), step]);
const median = (xs) => {
  const v = [...xs].sort((a, b) => a - b);
  return v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
};
console.log(`Cluster: ${workers} workers, ${pods} pods (+4 Pending in phase 2); ${ticks.length} ticks; ${elapsed()} in all.`);
console.log(`Load average (1, 5, 15 min) at the end: ${load()}.`);
console.log();
console.log('| state (function) | invocations | median ms | max ms | median CPU ms | peak RSS MiB |');
console.log('|---|---:|---:|---:|---:|---:|');
for (const [state, steps] of [...byState].sort(([a], [b]) => a.localeCompare(b))) {
  const ms = steps.map((x) => x.millis);
  const rss = Math.max(...steps.map((x) => x.maxRssKb ?? 0)) / 1024;
  const cpu = steps.map((x) => x.cpuMillis).filter((x) => x !== undefined);
  const cpuCell = cpu.length ? median(cpu).toFixed(0) : 'n/a';
  console.log(`| ${state} | ${steps.length} | ${median(ms).toFixed(0)} | ${Math.max(...ms).toFixed(0)} | ${cpuCell} | ${rss.toFixed(1)} |`);
}
const failed = ticks.flatMap((t) => t.steps).filter((x) => !x.ok);
if (failed.length) console.log(`\nFailed invocations: ${failed.map((x) => `${x.state}: ${x.error.errorType}`).join('; ')}`);
if (failure) {
  console.log(`\nThe run stopped early: ${failure.message}`);
  process.exitCode = 1;
}
