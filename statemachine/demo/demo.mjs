// The main job on the local stand-ins: SmartScale's real state machine and step binaries manage a
// cluster (the emulator, following moto's EC2) through a flash sale and the quiet night after it,
// one tick every few seconds, printing what each tick decided and why. Started by scripts/demo.sh.
//
// Timings are shortened through SmartScale's own configuration (60 s windows, short cooldowns) and
// the tool's Wait override, as in the end-to-end tests; nothing else differs from production.
// It prints at its start the commands to follow along (kubectl, the Prometheus graphs,
// `smartscale status` and `explain`), runs `smartscale explain` once, and with DEMO_KEEP set keeps
// the stand-ins up at the end until Ctrl-C.
import { writeFileSync } from 'node:fs';
import { deployment } from '../../tests/e2e/kit.mjs';
import { Scenario, sleep, slackText } from '../../tests/e2e/standins.mjs';
import { executionRecorder, operatorShell } from '../../tests/e2e/troubleshooting.kit.mjs';

const LIMIT_MS = Number(process.env.DEMO_LIMIT_SECONDS ?? 900) * 1000;
const started = Date.now();
const clock = () => `${String(Math.round((Date.now() - started) / 1000)).padStart(4)}s`;
const say = (line) => console.log(`${clock()}  ${line}`);

const settings = { COOLDOWN_SCALE_UP: '30s', COOLDOWN_SCALE_DOWN: '30s', MIN_NODES: '2', MAX_NODES: '6' };
say('starting moto-backed EC2, the cluster emulator, Prometheus and a Slack listener (3 workers, shop: 6 pods)');
const s = await Scenario.start('demo', {
  workers: 3,
  objects: [deployment('shop', 6, { cpu: '500m', memory: '256Mi' })],
  traffic: { cpuUtilisation: 0.5 },
  settings,
});
let seenSlack = 0;
// Each tick is recorded in moto's Step Functions API, so `smartscale status` lists it.
const recorder = await executionRecorder(s);
const op = operatorShell(s, recorder.arn);
followAlong();

/** Prints the commands to follow the demo from another terminal. */
function followAlong() {
  const env = Object.entries(op.env)
    .filter(([k]) => k.startsWith('AWS_') || k === 'KUBECONFIG')
    .map(([k, v]) => `export ${k}='${v}'`);
  const envScript = `${s.dir}/operator.env.sh`;
  writeFileSync(envScript, `${env.join('\n')}\n`);
  const graphs = ['smartscale:cpu_utilisation:ratio', 'smartscale:memory_utilisation:ratio', 'smartscale:pending_pods:count', 'smartscale:nodes_ready:count']
    .map((q, i) => `g${i}.expr=${encodeURIComponent(q)}&g${i}.tab=0&g${i}.range_input=15m`).join('&');
  const bin = `${process.env.SMARTSCALE_BIN_DIR}/smartscale`;
  console.log([
    '',
    'Follow along in another terminal:',
    `  kubectl --kubeconfig ${op.kubeconfig} get nodes -w`,
    `  kubectl --kubeconfig ${op.kubeconfig} get pods -o wide -w`,
    `  Prometheus (the recording rules' graphs): ${s.prometheusUrl}/graph?${graphs}`,
    `  source ${envScript}`,
    `  ${bin} status --cluster ${s.cluster} --env-file ${op.envFile}`,
    `  ${bin} explain --cluster ${s.cluster} --env-file ${op.envFile}`,
    '',
  ].join('\n'));
}

/** Prints `smartscale explain` as the person following along would see it. */
async function explain() {
  const r = await op.smartscale('explain');
  say(`smartscale explain (exit ${r.code}):`);
  for (const line of (r.stdout || r.stderr).trimEnd().split('\n')) console.log(`        ${line}`);
}

async function status() {
  const workers = await s.workers();
  const pods = await s.pods();
  const ready = workers.filter((w) => w.ready).length;
  const cordoned = workers.filter((w) => w.unschedulable).length;
  const pending = pods.filter((p) => p.phase === 'Pending').length;
  return { ready, cordoned, pending, text: `workers Ready ${ready}${cordoned ? ` (${cordoned} cordoned)` : ''}, Pending pods ${pending}` };
}

async function tick() {
  const t = await s.tick();
  await recorder.record(t);
  const doc = t.document ?? {};
  const d = doc.decision;
  const path = t.visited.filter((x) => !['Init', 'ApplyEvaluation', 'RouteDecision', 'RouteFinish', 'RouteReadiness', 'RouteDrain', 'WaitForNodes', 'WaitForDrain'].includes(x));
  const counts = path.reduce((m, x) => m.set(x, (m.get(x) ?? 0) + 1), new Map());
  const steps = [...counts].map(([x, n]) => (n > 1 ? `${x}×${n}` : x)).join(' → ');
  say(`tick ${t.executionArn.split(':').pop()}: ${t.status}${t.error ? ` (${t.error.Error})` : ''}; ${steps}`);
  if (d) say(`      decision ${d.action}${d.count ? ` ${d.count}` : ''}${d.node ? ` ${d.node}` : ''}: ${d.reasons.join('; ')}`);
  for (const m of s.slack.messages.slice(seenSlack)) say(`      Slack: ${slackText(m).split('\n')[0]}`);
  seenSlack = s.slack.messages.length;
  say(`      ${(await status()).text}`);
  return t;
}

/** Ticks (as EventBridge would, here every 5 s) until `done(tick)` or the time limit. */
async function tickUntil(done) {
  while (Date.now() - started < LIMIT_MS) {
    const t = await tick();
    if (await done(t)) return true;
    await sleep(5000);
  }
  return false;
}

let ok = false;
try {
  say('waiting for Prometheus to hold a window of history');
  await s.waitForHistory(5);
  say(`phase 1, normal load: ${(await status()).text}`);
  await tick();
  await explain();

  say('phase 2, flash sale: shop goes to 16 pods, CPU at 85 %');
  await s.scale('shop', 16);
  await s.traffic({ cpuUtilisation: 0.85 });
  const up = await tickUntil(async (t) => t.visited.includes('LaunchNodes') && (await status()).pending === 0);

  say('phase 3, night: shop back to 2 pods, CPU at 5 %');
  await s.scale('shop', 2);
  await s.traffic({ cpuUtilisation: 0.05 });
  let downs = 0;
  const down = up && await tickUntil(async (t) => {
    if (t.visited.includes('TerminateNode')) downs += 1;
    return (await status()).ready <= 2;
  });

  const end = await s.inspect();
  const running = end.instances.filter((i) => i.state === 'running').length;
  say(`done: ${running} instances running in EC2 (moto), ${downs} removed at night, ${s.slack.messages.length} Slack messages, ${end.sns.length} SNS messages`);
  ok = up && down;
  if (!ok) say('the demo did not reach its end state within the time limit; logs: ' + s.logs);
  if (process.env.DEMO_KEEP) {
    followAlong();
    say('--keep: the stand-ins stay up; press Ctrl-C to stop them');
    await new Promise((resolve) => process.once('SIGINT', resolve));
  }
} finally {
  await s.stop();
}
process.exit(ok ? 0 : 1);
