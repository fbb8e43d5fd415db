/**
 * docs/TROUBLESHOOTING.md stays complete: every name an operator can meet is read from where it
 * is defined (the Rust sources under functions/, the ASL definitions, the synthesised alarms, the
 * Prometheus rules) and must appear on the page, in backticks or bold.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { REPO_ROOT, resourcesOfType, synthCached } from './helpers';

const DOC = path.join(REPO_ROOT, 'docs', 'TROUBLESHOOTING.md');

/** Every `.rs` file under `dir`, so a module moved between crates is still read. */
function rustFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return e.name === 'target' ? [] : rustFiles(p);
    return e.name.endsWith('.rs') ? [p] : [];
  });
}
const rust = rustFiles(path.join(REPO_ROOT, 'functions')).map((f) => ({ file: f, text: fs.readFileSync(f, 'utf8') }));

/** The variant names of the Rust enum `name` that has variant `marker` (there is exactly one). */
function enumVariants(name: string, marker: string): string[] {
  const found = rust.flatMap(({ file, text }) =>
    [...text.matchAll(new RegExp(`pub enum ${name} \\{\\n([\\s\\S]*?)\\n\\}`, 'g'))].map((m) => ({ file, body: m[1]! })),
  ).filter((e) => new RegExp(`^\\s+${marker}\\b`, 'm').test(e.body));
  assert.equal(found.length, 1, `one enum ${name} with variant ${marker} under functions/, found ${found.map((f) => f.file).join(', ') || 'none'}`);
  return [...found[0]!.body.matchAll(/^ {4}([A-Z][A-Za-z0-9]*)\b/gm)].map((m) => m[1]!);
}
const snake = (s: string) => s.replace(/[A-Z]/g, (c, i: number) => (i ? '_' : '') + c.toLowerCase());

/** The strings `re` captures in the body of every Rust `fn name` whose body contains `marker`. */
function fnStrings(name: string, marker: string, re: RegExp): string[] {
  const bodies = rust
    .flatMap(({ text }) => [...text.matchAll(new RegExp(`^( *)(?:pub )?fn ${name}\\([\\s\\S]*?\\n\\1\\}`, 'gm'))].map((m) => m[0]))
    .filter((b) => b.includes(marker));
  assert.ok(bodies.length >= 1, `fn ${name} containing ${marker} under functions/`);
  return [...new Set(bodies.flatMap((b) => [...b.matchAll(re)].map((m) => m[1]!)))];
}

/** Slack / SNS titles: the `(emoji, title, alert)` triples of `NotificationKind::style`. */
function notificationTitles(): string[] {
  const titles = fnStrings('style', 'Scaling Failure', /\(\s*":[a-z_]+:",\s*"([^"]+)",\s*(?:true|false),?\s*\)/g);
  assert.equal(titles.length, enumVariants('NotificationKind', 'ScalingFailure').length, 'one title per NotificationKind');
  return titles;
}

interface AslState { Type: string; Error?: string; Choices?: unknown[]; Branches?: { States: Record<string, AslState> }[] }
function aslNames(): { endStates: string[]; failErrors: string[]; statuses: string[] } {
  const endStates: string[] = [];
  const failErrors: string[] = [];
  const statuses: string[] = [];
  for (const f of fs.readdirSync(path.join(REPO_ROOT, 'statemachine')).filter((n) => n.endsWith('.asl.json'))) {
    const text = fs.readFileSync(path.join(REPO_ROOT, 'statemachine', f), 'utf8');
    const states = (JSON.parse(text) as { States: Record<string, AslState> }).States;
    for (const [name, s] of Object.entries(states)) {
      if (s.Type === 'Succeed' || s.Type === 'Fail') endStates.push(name);
      if (s.Type === 'Fail' && s.Error) failErrors.push(s.Error);
    }
    for (const m of text.matchAll(/"Variable": "\$\.[a-z]+\.(?:status|result)",\s*"StringEquals": "([a-z_]+)"/g)) statuses.push(m[1]!);
  }
  return { endStates: [...new Set(endStates)], failErrors: [...new Set(failErrors)], statuses: [...new Set(statuses)] };
}

/** Alarm names as deployed, with the cluster id written as `<cluster>`. */
function alarmNames(): string[] {
  const s = synthCached();
  const cluster = s.stack.node.tryGetContext('clusterId') ?? 'smartscale-prod';
  return Object.values(resourcesOfType(s, 'AWS::CloudWatch::Alarm')).map((r) => String(r.Properties!['AlarmName']).replace(`-${cluster}-`, '-<cluster>-'));
}

function prometheusAlerts(): string[] {
  const rules = parse(fs.readFileSync(path.join(REPO_ROOT, 'cdk', 'prometheus', 'rules', 'smartscale-rules.yml'), 'utf8')) as { groups: { rules: { alert?: string }[] }[] };
  return rules.groups.flatMap((g) => g.rules.flatMap((r) => (r.alert ? [r.alert] : [])));
}

/** The names from `names` the page does not mention as `` `name` `` or `**name**`. */
export function missingFrom(doc: string, names: readonly string[]): string[] {
  return names.filter((n) => !doc.includes(`\`${n}\``) && !doc.includes(`**${n}**`));
}

describe('docs/TROUBLESHOOTING.md names everything an operator can meet', () => {
  const doc = fs.readFileSync(DOC, 'utf8');
  const cases: [string, () => string[]][] = [
    ['Slack / SNS titles', notificationTitles],
    ['the weekly report\'s title', () => fnStrings('slack_payload', 'Weekly Cost Report', /"text": ":[a-z_]+: ([^"]+)"/g)],
    ['error variants of smartscale_core::Error', () => enumVariants('Error', 'LockHeld')],
    ['error names a Lambda reports (Error::kind)', () => fnStrings('kind', '"Retryable"', /"([A-Za-z.]+)"/g)],
    ['error names Cleanup recommends on', () => fnStrings('recommendation', '"QuotaExceeded"', /"([A-Za-z.]+)" =>/g)],
    ['step outcomes (OutcomeResult)', () => enumVariants('OutcomeResult', 'JoinFailed').map(snake)],
    ['terminal states of the state machines', () => aslNames().endStates],
    ['errors of the Fail states', () => aslNames().failErrors],
    ['status values the machines route on', () => aslNames().statuses],
    ['CloudWatch alarms', alarmNames],
    ['Prometheus alerts', prometheusAlerts],
  ];
  for (const [name, names] of cases) {
    it(name, () => {
      const all = names();
      assert.ok(all.length > 0, `found no ${name}: the extraction is broken`);
      assert.deepEqual(missingFrom(doc, all), [], `${name} missing from docs/TROUBLESHOOTING.md`);
    });
  }
  it('the check fails for a page that lacks a name', () => {
    assert.deepEqual(missingFrom('`Retryable` and **Drain Aborted**', ['Retryable', 'Drain Aborted', 'LeaseLost']), ['LeaseLost']);
  });
  it('the extraction finds the names known today', () => {
    assert.ok(notificationTitles().includes('Scaling Failure'));
    assert.ok(alarmNames().includes('smartscale-<cluster>-scaling-failures'));
    assert.ok(aslNames().failErrors.includes('JoinTimeout'));
  });
});
