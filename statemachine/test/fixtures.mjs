// Step results for the flow tests, taken from the sample events in events/ (which
// functions/core/src/steps/events_test.rs checks against the document types): each event is the
// document a function receives, so the parts earlier steps wrote into it are those steps'
// results. Each value here is what one Lambda returns (only its part); the state machine places
// it with ResultPath. A value no event holds (an idle decision, a step still waiting, the
// ReleaseLock and Cleanup results) is derived from one that does, or written out where noted.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const EVENTS_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'events');

/** Every sample event, by file name without `.json` (`launch-nodes.scale-up`, ...). */
export const events = Object.fromEntries(
  readdirSync(EVENTS_DIR)
    .filter((f) => f.endsWith('.json'))
    .map((f) => [f.replace(/\.json$/, ''), JSON.parse(readFileSync(join(EVENTS_DIR, f), 'utf8'))]),
);

function event(name) {
  const e = events[name];
  if (!e) throw new Error(`events/${name}.json is missing`);
  return structuredClone(e);
}
const pick = (doc, keys) => Object.fromEntries(keys.map((k) => [k, doc[k]]));
const EVALUATION = ['decision', 'operation', 'metrics'];
/** Evaluate's result as the step returns it: the three parts and `notices` (always present, usually empty). */
const evaluationOf = (doc) => ({ ...pick(doc, EVALUATION), notices: doc.notices ?? [] });

export const CLUSTER = 'smartscale-test';

/**
 * The execution inputs the deployment's triggers send (cdk/lib/smartscale-stack.ts): the
 * fixed-rate EventBridge rule has no `Input`, so Step Functions receives the whole scheduled
 * event; the business-hours Scheduler schedules send their fixed `input`. Neither carries the
 * cluster id: the definition gets it from its `${ClusterId}` substitution.
 */
export const TRIGGER_INPUTS = {
  'EventBridge rule (scheduled event)': {
    version: '0',
    id: '89d1a02d-5ec7-412e-82f5-13505f849b41',
    'detail-type': 'Scheduled Event',
    source: 'aws.events',
    account: '123456789012',
    time: '2026-11-23T20:00:00Z',
    region: 'us-east-1',
    resources: ['arn:aws:events:us-east-1:123456789012:rule/smartscale-smartscale-test-schedule'],
    detail: {},
  },
  'Scheduler schedule': { source: 'smartscale.schedule' },
};

/** The input of a tick unless a test says otherwise: what the default (fixed-rate) rule sends. */
export const INPUT = TRIGGER_INPUTS['EventBridge rule (scheduled event)'];

/** AcquireLock's result for the execution `owner`. */
export const lease = (owner) => ({ ...event('evaluate').lease, owner });

const scaleUp = evaluationOf(event('launch-nodes.scale-up'));
const scaleDown = evaluationOf(event('cordon-node.scale-down'));
const atMaximum = evaluationOf(event('notify.at-maximum'));
const { alert: _alert, ...quietDecision } = atMaximum.decision;
const recoverUp = evaluationOf(event('check-nodes-ready.recover'));
const floorStarted = evaluationOf(event('notify.floor-started'));

export const evaluation = {
  // No event holds an idle decision (no step runs after one but ReleaseLock): the scale-down
  // case's metrics with a hold in the middle of the band.
  none: {
    decision: { action: 'none', count: 0, node: null, instance_id: null, reasons: ['load is within thresholds'], codes: ['steady'] },
    operation: null,
    metrics: { ...scaleDown.metrics, cpu_ratio: 0.45 },
    notices: [],
  },
  // A hold that comes with a notice (a scheduled floor started): RouteDecision sends it to Notify.
  floorStarted,
  // Held at MAX_NODES while scale-up is wanted, and the alert is due (Evaluate rate-limits it).
  atMaximum,
  // The same hold within CAPACITY_ALERT_INTERVAL of the last alert: no alert key at all.
  atMaximumQuiet: { ...atMaximum, decision: quietDecision },
  scaleUp,
  scaleDown,
  recoverUp,
  // An unfinished scale-down of a dead run: the scale-down case, recovered.
  recoverDown: {
    decision: { ...scaleDown.decision, action: 'recover', codes: ['recover_scale_down'], reasons: ['recovering unfinished scale-down of an earlier run'] },
    operation: { ...scaleDown.operation, id: 'smartscale-prod-op-40', started_at: '2026-11-23T19:58:00Z', deadline: '2026-11-23T20:03:00Z' },
    metrics: scaleDown.metrics,
    notices: [],
  },
};

export const launched = event('check-nodes-ready.scale-up').operation;

const joined = event('record-outcome.scale-up').ready;
export const ready = {
  waiting: { status: 'waiting', ready: [], not_ready: launched.instance_ids },
  halfWay: { status: 'waiting', ready: launched.instance_ids.slice(0, 1), not_ready: launched.instance_ids.slice(1) },
  ready: joined,
  deadline: event('handle-join-failure.join-timeout').ready,
};

const blocked = event('drain-node.drain-blocked').drain;
const blockedDeadline = event('abort-drain.drain-blocked').drain;
export const drain = {
  inProgress: { status: 'in_progress', remaining: ['shop/web-1', 'shop/web-2'], blocked: [] },
  blocked,
  drained: event('terminate-node.scale-down').drain,
  blockedDeadline,
  deadline: { status: 'deadline_passed', remaining: ['shop/slow-0'], blocked: [] },
};

export const cordoned = event('drain-node.scale-down').cordoned;
export const outcome = {
  terminated: event('record-outcome.scale-down').outcome,
  joinFailed: event('notify.join-timeout').outcome,
  drainAborted: event('notify.drain-blocked').outcome,
};
export const recorded = event('notify.scale-up').recorded;
export const notified = event('release-lock').notified;
// What ReleaseLock and Cleanup return: no step runs after them, so no event holds it.
export const released = { released: true };
export const cleanedUp = { released: true, alerted: true };

const spotEvents = {
  'EC2 Spot Instance Interruption Warning': event('spot-interruption.spot-warning').event,
  'EC2 Instance Rebalance Recommendation': event('spot-interruption.rebalance').event,
};

/** The EventBridge event EC2 sends (events/spot-interruption.*), for `instanceId`. */
export const spotEvent = (instanceId = 'i-0spot', detailType = 'EC2 Spot Instance Interruption Warning') => {
  const e = structuredClone(spotEvents[detailType]);
  const was = e.detail['instance-id'];
  e.detail['instance-id'] = instanceId;
  e.resources = e.resources.map((r) => r.replace(was, instanceId));
  return e;
};

const spotInProgress = event('spot-interruption.drain-step').spot;
export const spot = {
  inProgress: spotInProgress,
  drained: event('notify.spot-warning').spot,
  deadline: { ...spotInProgress, status: 'deadline_passed', remaining: ['shop/slow-0'] },
  blockedDeadline: { ...spotInProgress, status: 'blocked_deadline', remaining: blockedDeadline.remaining, blocked: blockedDeadline.blocked },
  leaseWaitOver: { ...event('notify.spot-warning').spot, lease_wait_over: true },
  rebalance: event('retire-node.rebalance').spot,
  skipped: { ...event('notify.spot-warning').spot, skipped: 'i-0spot is not a SmartScale worker of this cluster; nothing done' },
};
/** LaunchReplacement's result, RetireNode's for a rebalance and a warning. */
export const replacement = event('notify.spot-warning').operation;
export const retired = event('record-outcome.spot-rebalance').operation;

/**
 * The default script of each path: every Task's responses for an execution that takes that path
 * without a hitch. `owner` is the execution the lease goes to. A test spreads one and replaces
 * only the states its case is about.
 */
export const paths = {
  idle: (owner) => ({ AcquireLock: [lease(owner)], Evaluate: [evaluation.none], ReleaseLock: [released] }),
  scaleUp: (owner) => ({
    AcquireLock: [lease(owner)],
    Evaluate: [evaluation.scaleUp],
    LaunchNodes: [launched],
    CheckNodesReady: [ready.ready],
    RecordOutcome: [recorded],
    Notify: [notified],
    ReleaseLock: [released],
  }),
  scaleDown: (owner) => ({
    AcquireLock: [lease(owner)],
    Evaluate: [evaluation.scaleDown],
    CordonNode: [cordoned],
    DrainNode: [drain.drained],
    TerminateNode: [outcome.terminated],
    RecordOutcome: [recorded],
    Notify: [notified],
    ReleaseLock: [released],
  }),
  spot: (owner) => ({
    HandleSpotSignal: [spot.drained],
    AcquireLock: [lease(owner)],
    LaunchReplacement: [replacement],
    ReplacementDrainStep: [spot.drained],
    CheckNodesReady: [ready.ready],
    RetireNode: [replacement],
    RecordOutcome: [recorded],
    ReleaseLock: [released],
    Notify: [notified],
  }),
  rebalance: (owner) => ({
    HandleSpotSignal: [spot.rebalance],
    AcquireLock: [lease(owner)],
    LaunchReplacement: [replacement],
    ReplacementDrainStep: [spot.rebalance],
    CheckNodesReady: [ready.ready],
    RetireNode: [retired],
    CordonNode: [cordoned],
    DrainNode: [drain.drained],
    TerminateNode: [outcome.terminated],
    RecordOutcome: [recorded],
    ReleaseLock: [released],
    Notify: [notified],
  }),
};
