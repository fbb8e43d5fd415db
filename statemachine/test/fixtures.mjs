// Step results shaped like the execution-document contract in docs/STATE_MACHINE.md. Each value
// is what one Lambda returns (only its part); the state machine places it with ResultPath.

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

export const lease = (owner) => ({ owner, token: 42, expires_at: '2026-11-23T20:05:00Z' });

const metrics = { cpu_ratio: 0.81, memory_ratio: 0.62, pending_pods: 3, nodes: 3, ready_nodes: 3 };

export const evaluation = {
  none: {
    decision: { action: 'none', count: 0, node: null, instance_id: null, reasons: ['cpu_within_band'] },
    operation: null,
    metrics: { ...metrics, cpu_ratio: 0.45, pending_pods: 0 },
  },
  // Held at MAX_NODES while scale-up is wanted, and the alert is due (Evaluate rate-limits it).
  atMaximum: {
    decision: { action: 'none', count: 0, node: null, instance_id: null, reasons: ['at maximum capacity: 10 workers, MAX_NODES is 10'], codes: ['at_maximum'], alert: 'at_maximum_capacity' },
    operation: null,
    metrics: { ...metrics, cpu_ratio: 0.93, pending_pods: 6, nodes: 10, ready_nodes: 10 },
  },
  // The same hold within CAPACITY_ALERT_INTERVAL of the last alert: no alert key at all.
  atMaximumQuiet: {
    decision: { action: 'none', count: 0, node: null, instance_id: null, reasons: ['at maximum capacity: 10 workers, MAX_NODES is 10'], codes: ['at_maximum'] },
    operation: null,
    metrics: { ...metrics, cpu_ratio: 0.93, pending_pods: 6, nodes: 10, ready_nodes: 10 },
  },
  scaleUp: {
    decision: { action: 'scale_up', count: 2, node: null, instance_id: null, reasons: ['pending_pods_over_3m', 'cpu_over_70_for_3m'] },
    operation: { id: 'op-up-1', kind: 'scale_up', instance_ids: [], node_name: null, started_at: '2026-11-23T20:00:00Z', deadline: '2026-11-23T20:05:00Z' },
    metrics,
  },
  scaleDown: {
    decision: { action: 'scale_down', count: 1, node: 'ip-10-0-1-23', instance_id: 'i-0down', reasons: ['cpu_under_30_for_10m', 'no_pending_pods'] },
    operation: { id: 'op-down-1', kind: 'scale_down', instance_ids: ['i-0down'], node_name: 'ip-10-0-1-23', started_at: '2026-11-23T20:00:00Z', deadline: '2026-11-23T20:05:00Z' },
    metrics: { ...metrics, cpu_ratio: 0.18, pending_pods: 0 },
  },
  recoverUp: {
    decision: { action: 'recover', count: 1, node: null, instance_id: null, reasons: ['unfinished_scale_up_of_dead_run'] },
    operation: { id: 'op-dead-up', kind: 'scale_up', instance_ids: ['i-0dead1'], node_name: null, started_at: '2026-11-23T19:50:00Z', deadline: '2026-11-23T19:55:00Z' },
    metrics,
  },
  recoverDown: {
    decision: { action: 'recover', count: 1, node: 'ip-10-0-1-77', instance_id: 'i-0dead2', reasons: ['unfinished_scale_down_of_dead_run'] },
    operation: { id: 'op-dead-down', kind: 'scale_down', instance_ids: ['i-0dead2'], node_name: 'ip-10-0-1-77', started_at: '2026-11-23T19:58:00Z', deadline: '2026-11-23T20:03:00Z' },
    metrics,
  },
};

export const launched = { ...evaluation.scaleUp.operation, instance_ids: ['i-0new1', 'i-0new2'] };

export const ready = {
  waiting: { status: 'waiting', ready: [], not_ready: ['i-0new1', 'i-0new2'] },
  halfWay: { status: 'waiting', ready: ['i-0new1'], not_ready: ['i-0new2'] },
  ready: { status: 'ready', ready: ['i-0new1', 'i-0new2'], not_ready: [] },
  deadline: { status: 'deadline_passed', ready: ['i-0new1'], not_ready: ['i-0new2'] },
};

// A pod the drain could not evict, as the Rust DrainNode and spot steps report it.
const dbBlocked = { pod: 'default/db-0', reason: 'disruption budget default/db allows no disruption' };

export const drain = {
  inProgress: { status: 'in_progress', remaining: ['default/web-1', 'default/web-2'], blocked: [] },
  blocked: { status: 'in_progress', remaining: ['default/db-0'], blocked: [dbBlocked] },
  drained: { status: 'drained', remaining: [], blocked: [] },
  blockedDeadline: { status: 'blocked_deadline', remaining: ['default/db-0'], blocked: [dbBlocked] },
  deadline: { status: 'deadline_passed', remaining: ['default/slow-0'], blocked: [] },
};

export const cordoned = { node_name: 'ip-10-0-1-23', cordoned: true };
export const outcome = {
  terminated: { result: 'scaled_down', terminated: ['i-0down'], nodes_before: 3, nodes_after: 2 },
  joinFailed: { result: 'join_failed', terminated: ['i-0new2'], nodes_before: 3, nodes_after: 4 },
  drainAborted: { result: 'drain_aborted', uncordoned: 'ip-10-0-1-23', nodes_before: 3, nodes_after: 3 },
};
export const recorded = { version: 12 };
export const notified = { slack: 'sent', sns: 'sent' };
export const released = { released: true };
export const cleanedUp = { released: true, alerted: true };

export const spotEvent = (instanceId = 'i-0spot', detailType = 'EC2 Spot Instance Interruption Warning') => ({
  version: '0',
  id: '7e8a0b0c-1111-2222-3333-444455556666',
  'detail-type': detailType,
  source: 'aws.ec2',
  account: '123456789012',
  time: '2026-11-23T20:00:00Z',
  region: 'us-east-1',
  resources: [`arn:aws:ec2:us-east-1b:instance/${instanceId}`],
  detail: detailType.startsWith('EC2 Spot')
    ? { 'instance-id': instanceId, 'instance-action': 'terminate' }
    : { 'instance-id': instanceId },
});

export const spot = {
  inProgress: { status: 'in_progress', node_name: 'ip-10-0-2-9', replacement_instance_ids: ['i-0repl'], remaining: ['default/web-3'], blocked: [], deadline: '2026-11-23T20:01:30Z' },
  drained: { status: 'drained', node_name: 'ip-10-0-2-9', replacement_instance_ids: ['i-0repl'], remaining: [], blocked: [], deadline: '2026-11-23T20:01:30Z' },
  deadline: { status: 'deadline_passed', node_name: 'ip-10-0-2-9', replacement_instance_ids: ['i-0repl'], remaining: ['default/slow-0'], blocked: [], deadline: '2026-11-23T20:01:30Z' },
  blockedDeadline: { status: 'blocked_deadline', node_name: 'ip-10-0-2-9', replacement_instance_ids: ['i-0repl'], remaining: ['default/db-0'], blocked: [dbBlocked], deadline: '2026-11-23T20:01:30Z' },
};
