// End to end: the weekly cost report over a week that holds real activity. A scale-up runs
// through the periodic machine as synthesized (its RecordOutcome writes the weekly ledger; its
// Evaluates log the gauges), the rig puts the logged EMF metrics into moto's CloudWatch (the
// stand-in for CloudWatch Logs' extraction), then the weekly-report function is invoked with the
// input its Scheduler schedule sends. The report's figures are checked against what the functions
// logged, and the Slack blocks and the SNS message (through the topic's SQS subscription) against
// the report; every AWS call is checked against the calling function's role.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { OVERLOAD, withScenario } from './kit.mjs';

/** Seconds a sample stands for at most (functions/engine/src/notify/weekly.rs MAX_SAMPLE_GAP_SECS). */
const MAX_GAP_SECS = 1800;

/**
 * Worker-hours and sampled hours from the logged `CurrentNodeCount` records, computed here from
 * the raw lines: one-minute buckets from the report's start (CloudWatch's period 60, averaged),
 * each bucket standing until the next one or the report's end, in whole seconds, at most 30
 * minutes.
 */
function expectedHours(records, fromMs, toMs) {
  const buckets = new Map();
  for (const r of records) {
    if (r.timestamp < fromMs || r.timestamp >= toMs) continue;
    const b = fromMs + Math.floor((r.timestamp - fromMs) / 60000) * 60000;
    const [sum, n] = buckets.get(b) ?? [0, 0];
    buckets.set(b, [sum + r.value, n + 1]);
  }
  const starts = [...buckets.keys()].sort((a, b) => a - b);
  let sampled = 0;
  let workerHours = 0;
  starts.forEach((t, i) => {
    // Whole seconds, as the engine counts them.
    const hours = Math.min(Math.floor(((starts[i + 1] ?? toMs) - t) / 1000), MAX_GAP_SECS) / 3600;
    const [sum, n] = buckets.get(t);
    sampled += hours;
    workerHours += (sum / n) * hours;
  });
  return { sampled, workerHours };
}

/** `45s`, `3m 20s`, `1h 05m` (functions/engine/src/notify/weekly.rs format_wait). */
function formatWait(secs) {
  const s = Math.round(secs);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

const fieldsOf = (message) => (message.blocks ?? []).flatMap((b) => b.fields ?? []).map((f) => f.text);

describe('weekly report, end to end', () => {
  test('weekly report: a week with a scale-up is counted from the ledger and CloudWatch and posted to Slack and SNS', async () => {
    await withScenario('weekly-report', OVERLOAD, async (s) => {
      const { tick } = await s.tickUntil('RecordOutcome');
      assert.equal(tick.status, 'SUCCEEDED', JSON.stringify(tick.error));
      assert.equal(tick.output.decision.action, 'scale_up');
      const operation = tick.output.operation.id;
      await s.inspect(); // drains the scale-up's SNS messages from the subscription queue

      const records = await s.publishMetrics();
      const gauges = records.filter((r) => r.step === 'evaluate');
      assert.ok(gauges.some((r) => r.name === 'CurrentNodeCount'), 'Evaluate logged the worker count');
      const pendingWaits = gauges.filter((r) => r.name === 'LongestPendingSeconds').map((r) => r.value);
      assert.ok(pendingWaits.length > 0, 'pods waited while the window filled, and Evaluate logged it');

      const before = s.slack.messages.length;
      const run = await s.invokeScheduled('weekly-report');
      assert.equal(run.schedule.timeZone, 'UTC');
      assert.match(run.schedule.schedule, /^cron\(0 9 \? \* MON \*\)$/);
      assert.deepEqual(Object.keys(run.input).sort(), ['cluster_id', 'execution_id']);
      assert.equal(run.input.cluster_id, s.cluster);
      assert.ok(run.ok, JSON.stringify(run.error));
      const report = run.output.report;
      assert.deepEqual(run.output.notified, { slack: 'sent', sns: 'sent' });

      // Least privilege (before the rig reads the ledger with the same credentials): the report function read CloudWatch and the ledger, and wrote nothing.
      const calls = s.proxy.decisions.filter((d) => d.fn === s.fn('weekly-report').name).map((d) => d.action);
      assert.ok(calls.includes('cloudwatch:GetMetricData'), calls.join(', '));
      assert.ok(calls.includes('dynamodb:GetItem'), calls.join(', '));
      assert.ok(!calls.some((a) => /dynamodb:(Put|Update|Delete)/.test(a)), calls.join(', '));

      // The ledger: exactly the one scale-up, under its operation id.
      assert.deepEqual(report.events, { scale_up: 1 });
      const ledger = await s.callAs('weekly-report', 'dynamodb', 'get_item', {
        TableName: s.aws.table,
        Key: { cluster_id: { S: `${s.cluster}#week#${weekOf(new Date())}` } },
      });
      assert.ok(ledger.ok?.Item?.[`scale_up#${operation}`], `ledger item holds scale_up#${operation}: ${JSON.stringify(ledger)}`);

      // CloudWatch: the figures are those of the logged lines.
      const ms = (t) => Date.parse(t.replace(/(\.\d{3})\d+/, '$1'));
      const fromMs = Math.floor(ms(report.from) / 1000) * 1000;
      const toMs = ms(report.to);
      const want = expectedHours(gauges.filter((r) => r.name === 'CurrentNodeCount'), fromMs, toMs);
      assert.ok(want.sampled > 0);
      assert.ok(Math.abs(report.sampled_hours - want.sampled) < 1e-6, `sampled ${report.sampled_hours} h, logged ${want.sampled} h`);
      assert.ok(Math.abs(report.worker_hours - want.workerHours) < 1e-6, `worker-hours ${report.worker_hours}, logged ${want.workerHours}`);
      assert.equal(report.longest_pending_secs, Math.max(...pendingWaits));
      const costLines = records.filter((r) => r.name === 'HourlyCost' && r.dimensions.CapacityType);
      // Until Evaluate logs HourlyCost by capacity type, the report must say it has no cost samples.
      if (costLines.length === 0) assert.deepEqual(report.cost_usd, {});
      else assert.ok(Object.keys(report.cost_usd).length > 0, JSON.stringify(report));

      // Slack: one Block Kit message with the report's figures.
      const posted = s.slack.messages.slice(before);
      assert.equal(posted.length, 1, JSON.stringify(posted));
      const msg = posted[0];
      assert.equal(msg.blocks[0].type, 'header');
      assert.equal(msg.blocks[0].text.text, ':bar_chart: Weekly Cost Report');
      assert.match(msg.blocks[1].text.text, new RegExp(`\\*Cluster:\\* \`${s.cluster}\`\\n\\*Week:\\* .+ \\(UTC\\)`));
      const fields = fieldsOf(msg);
      assert.ok(fields.includes(`*Worker-hours:*\n${report.worker_hours.toFixed(1)}`), fields.join(' | '));
      assert.ok(fields.includes('*Scale events:*\n1 up, 0 down, 0 failed'), fields.join(' | '));
      assert.ok(fields.includes('*Spot interruptions:*\n0 warnings, 0 rebalances, 0 replacements joined'), fields.join(' | '));
      assert.ok(fields.includes(`*Longest pending wait:*\n${formatWait(Math.max(...pendingWaits))}`), fields.join(' | '));
      if (costLines.length === 0) assert.ok(fields.includes('*Cost:*\nno cost samples this week'), fields.join(' | '));
      assert.equal(msg.blocks.at(-1).elements[0].url, 'https://grafana.example.com/d/smartscale');

      // SNS: the same facts as text, with the weekly_report attributes.
      const sns = (await s.inspect()).sns;
      assert.equal(sns.length, 1, JSON.stringify(sns));
      assert.match(sns[0].subject, new RegExp(`^SmartScale Weekly Report \\[${s.cluster}\\]: `));
      assert.deepEqual(sns[0].attributes, { kind: 'weekly_report', severity: 'event', cluster_id: s.cluster });
      for (const line of [`Cluster: ${s.cluster}`, `Worker-hours: ${report.worker_hours.toFixed(1)}`, 'Scale events: 1 up, 0 down, 0 failed']) {
        assert.ok(sns[0].message.includes(line), `${line} not in ${sns[0].message}`);
      }

    });
  });
});

/** The ledger week (local Monday, UTC here) of `t`, as `YYYY-MM-DD`. */
function weekOf(t) {
  const d = new Date(Date.UTC(t.getUTCFullYear(), t.getUTCMonth(), t.getUTCDate()));
  d.setUTCDate(d.getUTCDate() - ((d.getUTCDay() + 6) % 7));
  return d.toISOString().slice(0, 10);
}
