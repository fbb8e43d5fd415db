// A person on call follows docs/TROUBLESHOOTING.md on the stand-ins: an execution dies in the
// middle of a scale-down (its node cordoned, pods being evicted, the lease still held), and they
// look with `smartscale status` and `smartscale explain`, release the stuck lock, undo the
// half-done scale-down and close the operation, with the commands the page gives, run as the
// page has them (read from the page: see troubleshooting.kit.mjs). Then SmartScale runs on.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { assertReleased, deployment, withScenario } from './kit.mjs';
import { commands, executionRecorder, fill, operatorShell, placeholders, section } from './troubleshooting.kit.mjs';

/** Runs the page's `cmds` in order, filling each placeholder from the last item read. */
async function follow(op, cmds, vars) {
  const outputs = [];
  let item;
  for (const c of cmds) {
    const assignment = c.match(/^(\w+=<[a-z_.]+>;?\s*)+$/);
    if (assignment) {
      for (const [, name, ph] of c.matchAll(/(\w+)=<([a-z_.]+)>/g)) vars[name] = fill(ph, item);
      continue;
    }
    let command = c;
    for (const ph of placeholders(c)) command = command.replaceAll(`<${ph}>`, fill(ph, item));
    const r = await op.sh(command, vars);
    assert.equal(r.code, 0, `the page's command failed:\n${command}\n${r.stderr}`);
    outputs.push({ command, stdout: r.stdout });
    if (c.startsWith('aws dynamodb get-item')) item = JSON.parse(r.stdout).Item;
  }
  return outputs;
}

describe('troubleshooting, end to end', () => {
  test('a person following docs/TROUBLESHOOTING.md releases a stuck lock and undoes a half-done scale-down', async () => {
    await withScenario('troubleshoot', {
      workers: 4,
      objects: [deployment('web', 4, { cpu: '100m' })],
      traffic: { cpuUtilisation: 0.1 },
      // A lease lasting longer than the person needs to act (the shipped default is 300 s).
      settings: { LOCK_TTL: '600s' },
    }, async (s) => {
      const recorder = await executionRecorder(s);
      const op = operatorShell(s, recorder.arn);

      // The scale-down starts; the execution dies after its first drain step.
      const { tick: crashed, before } = await s.tickUntil('DrainNode', {
        after: (state, _output, execution) => { if (state === 'DrainNode') execution.abort(); },
      });
      for (const t of [...before, crashed]) await recorder.record(t);
      assert.equal(crashed.status, 'ABORTED');
      const node = crashed.document.decision.node;
      assert.ok((await s.workers()).find((w) => w.name === node).unschedulable, 'the node is left cordoned');

      // 1. smartscale status: the lease of a dead run, the half-done operation, the cordoned node.
      const st = await op.smartscale('status');
      assert.equal(st.code, 0, st.stderr);
      assert.match(st.stdout, new RegExp(`lease +held by ${crashed.executionArn}`));
      assert.match(st.stdout, new RegExp(`operation +\\S+ ScaleDown: .*node ${node}`));
      assert.match(st.stdout, new RegExp(`${node} +NotReady,cordoned|${node} +Ready,cordoned`));
      assert.match(st.stdout, /ABORTED +DrainNode/);
      const json = JSON.parse((await op.smartscale('status', '--json')).stdout);
      assert.equal(json.lease.holder, crashed.executionArn);
      assert.equal(json.operation.node_name, node);
      assert.equal(json.fleet.find((f) => f.node === node).cordoned, true);
      assert.deepEqual(json.executions.map((e) => e.status).slice(0, 1), ['ABORTED']);
      assert.equal(json.executions.length, Math.min(before.length + 1, 10), 'the last 10 executions');

      // 2. smartscale explain: Evaluate would recover the operation first; nothing is written.
      const itemBefore = (await s.inspect()).item;
      const ex = await op.smartscale('explain');
      assert.equal(ex.code, 0, ex.stderr);
      assert.match(ex.stdout, /first, Evaluate would recover operation/);
      assert.match(ex.stdout, /scale-down conditions \(all must hold\)/);
      assert.deepEqual((await s.inspect()).item, itemBefore, 'explain wrote nothing');

      // 3. "Release a stuck lock", as the page gives it.
      const vars = {};
      const released = await follow(op, commands(section('Release a stuck lock')), vars);
      assert.equal(vars.OWNER, crashed.executionArn, 'the page read the lease holder');
      const described = released.find((o) => o.command.startsWith('aws stepfunctions describe-execution'));
      assert.match(described.stdout, /ABORTED/, 'the page\'s check shows the holder is dead');
      const releasedState = await s.inspect();
      assertReleased(releasedState);
      const afterRelease = releasedState.item;
      assert.ok(afterRelease.operation, 'the operation stays for the next step');
      assert.equal(afterRelease.last_token, itemBefore.last_token, 'last_token stays');

      // 4. "Finish or undo an operation": read it, undo the scale-down, close it.
      const undo = section('Finish or undo an operation');
      await follow(op, commands(undo, 0), vars);
      const inline = undo.match(/\*undo\*: `([^`]+)`/);
      assert.ok(inline, 'the page says how to undo a half-done scale-down');
      await follow(op, ['aws dynamodb get-item --table-name "$TABLE" --key "$KEY" --consistent-read', inline[1]], vars);
      await follow(op, commands(undo, 1), vars);
      const closed = (await s.inspect()).item;
      assert.equal(closed.operation, undefined, 'the operation is closed');
      assert.equal(closed.last_scale_action, itemBefore.last_scale_action, 'no action recorded, no cooldown starts');
      assert.ok(!(await s.workers()).find((w) => w.name === node).unschedulable, 'the node is schedulable again');

      const after = await op.smartscale('status', '--json');
      const now = JSON.parse(after.stdout);
      assert.equal(now.lease, null);
      assert.equal(now.operation, null);
      assert.equal(now.fleet.find((f) => f.node === node).cordoned, false);

      // 5. SmartScale runs on: the next tick decides afresh (no recovery of the closed operation).
      const next = await s.tick();
      await recorder.record(next);
      assert.equal(next.status, 'SUCCEEDED', JSON.stringify(next.error));
      assert.notEqual(next.output.decision.action, 'recover');
      assertReleased(await s.inspect());
    });
  });
});
