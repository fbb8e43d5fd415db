// End to end: the weekly cost report over a week that holds real activity. A scale-up runs
// through the periodic machine as synthesized (its RecordOutcome writes the weekly ledger; its
// Evaluates log the gauges and the cost), then a Spot interruption warning for one of the workers
// runs through the spot machine as synthesized (the worker cordoned and drained, a replacement
// launched and joined; its RecordOutcome counts the warning and the replacement in the ledger).
// The rig puts the logged EMF metrics into moto's CloudWatch (the stand-in for CloudWatch Logs'
// extraction), then the weekly-report function is invoked with the input its Scheduler schedule
// sends. The report's figures are checked against what the functions logged and did, and the
// Slack blocks and the SNS message (through the topic's SQS subscription) against the report;
// every AWS call is checked against the calling function's role.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { OVERLOAD, spotEvent, stepOutput, withScenario } from './kit.mjs';

/** Seconds a sample stands for at most (functions/engine/src/notify/weekly.rs MAX_SAMPLE_GAP_SECS). */
const MAX_GAP_SECS = 1800;

/**
 * The logged `records` of one series in one-minute buckets from the report's start
 * (CloudWatch's period 60, averaged) over `[fromMs, toMs)`: bucket start to mean value.
 */
function buckets(records, fromMs, toMs) {
  const sums = new Map();
  for (const r of records) {
    if (r.timestamp < fromMs || r.timestamp >= toMs) continue;
    const b = fromMs + Math.floor((r.timestamp - fromMs) / 60000) * 60000;
    const [sum, n] = sums.get(b) ?? [0, 0];
    sums.set(b, [sum + r.value, n + 1]);
  }
  return new Map([...sums].map(([b, [sum, n]]) => [b, sum / n]));
}

/**
 * The ticks (the buckets of the logged `CurrentNodeCount`), each with the hours it stands for:
 * until the next one or the report's end, in whole seconds as the engine counts them, at most
 * 30 minutes.
 */
function tickHours(nodeBuckets, toMs) {
  const starts = [...nodeBuckets.keys()].sort((a, b) => a - b);
  return starts.map((t, i) => [t, Math.min(Math.floor(((starts[i + 1] ?? toMs) - t) / 1000), MAX_GAP_SECS) / 3600]);
}

/** Σ value × hours over `ticks`, 0 at a tick the series has no bucket for. */
const weighted = (ticks, series) => ticks.reduce((sum, [t, hours]) => sum + (series.get(t) ?? 0) * hours, 0);

const dims = (r) => Object.keys(r.dimensions).sort().join(',');

/** `45s`, `3m 20s`, `1h 05m` (functions/engine/src/notify/weekly.rs format_wait). */
function formatWait(secs) {
  const s = Math.round(secs);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

const fieldsOf = (message) => (message.blocks ?? []).flatMap((b) => b.fields ?? []).map((f) => f.text);

describe('weekly report, end to end', () => {
  test('weekly report: a week with a scale-up and a Spot interruption is counted from the ledger and CloudWatch and posted to Slack and SNS', async () => {
    await withScenario('weekly-report', OVERLOAD, async (s) => {
      const { tick } = await s.tickUntil('RecordOutcome');
      assert.equal(tick.status, 'SUCCEEDED', JSON.stringify(tick.error));
      assert.equal(tick.output.decision.action, 'scale_up');
      const operation = tick.output.operation.id;
      await s.inspect(); // drains the scale-up's SNS messages from the subscription queue

      // A Spot interruption warning for one of the workers, handled by the real spot machine.
      const victim = (await s.workers()).find((w) => w.instanceId && !w.unschedulable);
      const spot = await s.tick({ machine: 'spot-interruption', event: spotEvent(victim.instanceId) });
      assert.equal(spot.status, 'SUCCEEDED', JSON.stringify(spot.error));
      assert.ok(spot.visited.includes('RecordOutcome'), spot.visited.join(' '));
      assert.equal(stepOutput(spot, 'HandleSpotSignal').node_name, victim.name);
      const [replacement] = stepOutput(spot, 'LaunchReplacement').instance_ids;
      assert.deepEqual(stepOutput(spot, 'CheckNodesReady').ready, [replacement], 'the replacement joined');
      await s.inspect(); // drains the interruption's SNS message

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

      // The ledger: exactly the one scale-up under its operation id, the warning under the
      // warned instance and the replacement that joined.
      assert.deepEqual(report.events, { scale_up: 1, spot_warning: 1, spot_replacement: 1 });
      const ledger = await s.callAs('weekly-report', 'dynamodb', 'get_item', {
        TableName: s.aws.table,
        Key: { cluster_id: { S: `${s.cluster}#week#${weekOf(new Date())}` } },
      });
      for (const entry of [`scale_up#${operation}`, `spot_warning#${victim.instanceId}`, `spot_replacement#${replacement}`]) {
        assert.ok(ledger.ok?.Item?.[entry], `ledger item holds ${entry}: ${JSON.stringify(ledger)}`);
      }

      // CloudWatch: the figures are those of the logged lines.
      const ms = (t) => Date.parse(t.replace(/(\.\d{3})\d+/, '$1'));
      const fromMs = Math.floor(ms(report.from) / 1000) * 1000;
      const toMs = ms(report.to);
      const nodes = buckets(gauges.filter((r) => r.name === 'CurrentNodeCount'), fromMs, toMs);
      const ticks = tickHours(nodes, toMs);
      const sampled = ticks.reduce((sum, [, hours]) => sum + hours, 0);
      assert.ok(sampled > 0);
      assert.ok(Math.abs(report.sampled_hours - sampled) < 1e-6, `sampled ${report.sampled_hours} h, logged ${sampled} h`);
      const workerHours = weighted(ticks, nodes);
      assert.ok(Math.abs(report.worker_hours - workerHours) < 1e-6, `worker-hours ${report.worker_hours}, logged ${workerHours}`);
      assert.equal(report.longest_pending_secs, Math.max(...pendingWaits));
      // The cost: HourlyCost by CapacityType alone, both capacity types on every tick.
      for (const capacity of ['on-demand', 'spot']) {
        const lines = gauges.filter((r) => r.name === 'HourlyCost' && dims(r) === 'CapacityType,ClusterId' && r.dimensions.CapacityType === capacity);
        assert.ok(lines.length > 0, `Evaluate logged HourlyCost of ${capacity}`);
        const usd = weighted(ticks, buckets(lines, fromMs, toMs));
        assert.ok(Math.abs(report.cost_usd[capacity] - usd) < 1e-9, `${capacity}: ${report.cost_usd[capacity]} USD, logged ${usd}`);
      }
      assert.ok(report.cost_usd['on-demand'] > 0, JSON.stringify(report.cost_usd));
      const baseline = weighted(ticks, buckets(gauges.filter((r) => r.name === 'BaselineHourlyCost'), fromMs, toMs));
      assert.ok(Math.abs(report.baseline_usd - baseline) < 1e-9, `baseline ${report.baseline_usd} USD, logged ${baseline}`);

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
      assert.ok(fields.includes('*Spot interruptions:*\n1 warnings, 0 rebalances, 1 replacements joined'), fields.join(' | '));
      assert.ok(fields.includes(`*Longest pending wait:*\n${formatWait(Math.max(...pendingWaits))}`), fields.join(' | '));
      const usd = (v) => `$${v.toFixed(2)}`;
      const total = report.cost_usd['on-demand'] + report.cost_usd.spot;
      for (const [label, value] of [['Cost', total], ['On-demand', report.cost_usd['on-demand']], ['Spot', report.cost_usd.spot], ['Baseline', report.baseline_usd]]) {
        assert.ok(fields.includes(`*${label}:*\n${usd(value)}`), `${label} ${usd(value)} in ${fields.join(' | ')}`);
      }
      assert.equal(msg.blocks.at(-1).elements[0].url, 'https://grafana.example.com/d/smartscale');

      // SNS: the same facts as text, with the weekly_report attributes.
      const sns = (await s.inspect()).sns;
      assert.equal(sns.length, 1, JSON.stringify(sns));
      assert.match(sns[0].subject, new RegExp(`^SmartScale Weekly Report \\[${s.cluster}\\]: `));
      assert.deepEqual(sns[0].attributes, { kind: 'weekly_report', severity: 'event', cluster_id: s.cluster });
      for (const line of [
        `Cluster: ${s.cluster}`, `Worker-hours: ${report.worker_hours.toFixed(1)}`, `Cost: ${usd(total)}`,
        'Scale events: 1 up, 0 down, 0 failed', 'Spot interruptions: 1 warnings, 0 rebalances, 1 replacements joined',
      ]) {
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
