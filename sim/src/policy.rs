//! The policies compared in one run: SmartScale (core's engine, executed the way the state machine
//! executes its decisions), the fixed-size baseline, and a model of Cluster Autoscaler's
//! documented defaults (a model, not Cluster Autoscaler).
//!
//! Each policy is called once per simulation tick, after the cluster has moved, the HPA has acted,
//! the scheduler has run and the metrics of this tick are recorded.

use crate::cluster::{Cluster, NodeState};
use crate::observe::{cluster_view, Observer};
use crate::scenario::{CaSettings, Scenario};
use chrono::{DateTime, Duration, Utc};
use smartscale_core::engine::{Decision, Inputs};
use smartscale_core::model::{Operation, OperationKind, ScaleAction, ScalingState};
use smartscale_core::Config;
use std::collections::BTreeMap;

/// The one place the simulator asks SmartScale's engine for a decision.
pub fn smartscale_decide(
    inputs: &Inputs,
    state: &ScalingState,
    config: &Config,
    now: DateTime<Utc>,
) -> Decision {
    smartscale_core::engine::decide(inputs, state, config, now)
}

/// Which policy a run simulates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyKind {
    /// SmartScale with the scenario's `[policy]` configuration.
    SmartScale,
    /// A fixed number of workers, never changed.
    Baseline,
    /// The Cluster Autoscaler model.
    ClusterAutoscalerModel,
}

impl PolicyKind {
    /// All policies, in report order.
    pub const ALL: [PolicyKind; 3] = [
        PolicyKind::SmartScale,
        PolicyKind::Baseline,
        PolicyKind::ClusterAutoscalerModel,
    ];

    /// The name used in the report, JSON and file names.
    pub fn label(self) -> &'static str {
        match self {
            PolicyKind::SmartScale => "smartscale",
            PolicyKind::Baseline => "baseline",
            PolicyKind::ClusterAutoscalerModel => "cluster-autoscaler-model",
        }
    }

    /// The policy's starting cluster size in `scenario`.
    pub fn initial_nodes(self, scenario: &Scenario) -> u32 {
        match self {
            PolicyKind::Baseline => scenario.baseline_nodes,
            _ => scenario.initial_nodes,
        }
    }
}

/// What a scaling event did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// Workers launched.
    ScaleUp,
    /// A worker removed (terminated after its drain).
    ScaleDown,
    /// A drain given up: the node was uncordoned and kept.
    DrainAborted,
    /// Launched workers not Ready by the join deadline were terminated.
    JoinFailed,
}

impl EventKind {
    /// `scale_up`, `scale_down`, `drain_aborted`, `join_failed`.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::ScaleUp => "scale_up",
            EventKind::ScaleDown => "scale_down",
            EventKind::DrainAborted => "drain_aborted",
            EventKind::JoinFailed => "join_failed",
        }
    }
}

/// One scaling event, for the timeline, the chart and the counts.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Seconds since the start.
    pub t: i64,
    /// What happened.
    pub kind: EventKind,
    /// Workers added or removed.
    pub nodes: u32,
    /// Why, in the policy's words.
    pub reason: String,
}

/// Shared context of a run.
#[derive(Debug, Clone, Copy)]
pub struct Ctx<'a> {
    /// The scenario.
    pub scenario: &'a Scenario,
    /// Second 0 as a UTC wall time.
    pub start: DateTime<Utc>,
}

impl Ctx<'_> {
    /// Seconds since the start as a wall time.
    pub fn at(&self, secs: i64) -> DateTime<Utc> {
        self.start + Duration::seconds(secs)
    }
}

/// A policy driving one simulated cluster.
pub trait Policy {
    /// Acts at `now` (seconds since the start) and returns the events that happened.
    fn step(
        &mut self,
        now: i64,
        cluster: &mut Cluster,
        observer: &Observer,
        ctx: Ctx<'_>,
    ) -> Vec<Event>;

    /// How many times each "no change" reason was given, for the report (empty for policies
    /// that give none).
    fn no_change_reasons(&self) -> BTreeMap<String, u64> {
        BTreeMap::new()
    }
}

/// Builds the policy of `kind` for `scenario`.
pub fn build(kind: PolicyKind, scenario: &Scenario) -> Box<dyn Policy> {
    match kind {
        PolicyKind::SmartScale => Box::new(SmartScale::new(scenario)),
        PolicyKind::Baseline => Box::new(Fixed),
        PolicyKind::ClusterAutoscalerModel => {
            Box::new(CaModel::new(scenario.cluster_autoscaler.clone()))
        }
    }
}

/// The fixed-size baseline: does nothing.
#[derive(Debug, Clone, Copy)]
pub struct Fixed;

impl Policy for Fixed {
    fn step(&mut self, _: i64, _: &mut Cluster, _: &Observer, _: Ctx<'_>) -> Vec<Event> {
        Vec::new()
    }
}

/// Evictions a drain may make now without breaking the workload's disruption budget.
fn evictable(cluster: &Cluster) -> u32 {
    match cluster.workload.pdb_max_unavailable {
        None => u32::MAX,
        Some(max_unavailable) => {
            let healthy: u32 = cluster
                .nodes
                .iter()
                .filter(|n| n.ready())
                .map(|n| n.pods)
                .sum();
            let min_healthy = cluster.desired_replicas.saturating_sub(max_unavailable);
            healthy.saturating_sub(min_healthy)
        }
    }
}

/// Evicts what the budget allows from node `i`; true when the node holds no pod any more (serving
/// or stopping), i.e. the drain is complete.
fn drain_round(cluster: &mut Cluster, i: usize, now: i64) -> bool {
    let allowed = evictable(cluster);
    cluster.evict(i, allowed, now);
    cluster.nodes[i].occupied() == 0
}

#[derive(Debug, Clone)]
enum InFlight {
    Up { nodes: Vec<usize>, deadline: i64 },
    Down { node: usize, deadline: i64 },
}

/// SmartScale: consulted on the EventBridge schedule; launches and drains run like the state
/// machine's (launch → wait for Ready or the join deadline; cordon → drain in `drain_poll` rounds
/// that respect the budget → terminate, or abort at the drain deadline); the last action and the
/// operation in flight live in a [`ScalingState`] as in DynamoDB.
#[derive(Debug, Clone)]
pub struct SmartScale {
    state: ScalingState,
    op: Option<InFlight>,
    ops: u64,
    reasons: BTreeMap<String, u64>,
}

impl SmartScale {
    /// A SmartScale that has never acted on the scenario's cluster.
    pub fn new(scenario: &Scenario) -> Self {
        SmartScale {
            state: ScalingState::new(scenario.policy.cluster_id.clone()),
            op: None,
            ops: 0,
            reasons: BTreeMap::new(),
        }
    }

    fn finish(&mut self, now: DateTime<Utc>, action: ScaleAction, workers: u32) {
        self.op = None;
        if let Some(op) = self.state.operation.take() {
            self.state.last_scale_reason = Some(op.reason);
        }
        self.state.last_scale_time = Some(now);
        self.state.last_scale_action = Some(action);
        self.state.node_count = Some(workers);
    }

    fn progress(&mut self, now: i64, cluster: &mut Cluster, ctx: Ctx<'_>) -> Vec<Event> {
        let mut events = Vec::new();
        let poll = ctx.scenario.simulation.drain_poll_secs as i64;
        match self.op.clone() {
            None => {}
            Some(InFlight::Up { nodes, deadline }) => {
                if nodes.iter().all(|&i| cluster.nodes[i].ready()) {
                    self.finish(ctx.at(now), ScaleAction::ScaleUp, cluster.alive_count());
                } else if now >= deadline {
                    let mut failed = 0;
                    for &i in &nodes {
                        if cluster.nodes[i].state == NodeState::Booting {
                            cluster.terminate(i, now);
                            failed += 1;
                        }
                    }
                    events.push(Event {
                        t: now,
                        kind: EventKind::JoinFailed,
                        nodes: failed,
                        reason: "not Ready by JOIN_TIMEOUT: terminated".into(),
                    });
                    self.finish(ctx.at(now), ScaleAction::ScaleUp, cluster.alive_count());
                }
            }
            Some(InFlight::Down { node, deadline }) if now % poll == 0 => {
                if drain_round(cluster, node, now) {
                    let name = cluster.nodes[node].name.clone();
                    cluster.terminate(node, now);
                    events.push(Event {
                        t: now,
                        kind: EventKind::ScaleDown,
                        nodes: 1,
                        reason: format!(
                            "{name} drained and terminated: {}",
                            self.state
                                .operation
                                .as_ref()
                                .map_or("", |o| o.reason.as_str())
                        ),
                    });
                    self.finish(ctx.at(now), ScaleAction::ScaleDown, cluster.alive_count());
                } else if now >= deadline {
                    cluster.uncordon(node);
                    events.push(Event {
                        t: now,
                        kind: EventKind::DrainAborted,
                        nodes: 0,
                        reason: format!(
                            "drain of {} not done by DRAIN_TIMEOUT: uncordoned",
                            cluster.nodes[node].name
                        ),
                    });
                    self.op = None;
                    self.state.operation = None;
                }
            }
            Some(InFlight::Down { .. }) => {}
        }
        events
    }

    fn operation(
        &mut self,
        kind: OperationKind,
        now: i64,
        deadline: i64,
        ctx: Ctx<'_>,
        decision: &Decision,
    ) -> Operation {
        self.ops += 1;
        Operation {
            id: format!("sim-{}", self.ops),
            kind,
            instance_ids: Vec::new(),
            requested_count: 0,
            node_name: None,
            started_at: ctx.at(now),
            deadline: ctx.at(deadline),
            reason: decision.reason_sentences().join("; "),
            recovery_attempts: 0,
        }
    }
}

impl Policy for SmartScale {
    fn step(
        &mut self,
        now: i64,
        cluster: &mut Cluster,
        observer: &Observer,
        ctx: Ctx<'_>,
    ) -> Vec<Event> {
        let mut events = self.progress(now, cluster, ctx);
        let sim = &ctx.scenario.simulation;
        if now % sim.evaluation_interval_secs as i64 != 0 {
            return events;
        }
        let cfg = &ctx.scenario.policy;
        let at = ctx.at(now);
        let inputs = Inputs {
            metrics: observer.snapshot(now, at, cfg),
            cluster: cluster_view(cluster, ctx.start),
        };
        let decision = smartscale_decide(&inputs, &self.state, cfg, at);
        match &decision {
            Decision::ScaleUp { count, .. } => {
                let deadline = now + cfg.join_timeout_secs as i64;
                let mut op = self.operation(OperationKind::ScaleUp, now, deadline, ctx, &decision);
                let nodes: Vec<usize> = (0..*count).map(|_| cluster.launch(now, true)).collect();
                op.instance_ids = nodes
                    .iter()
                    .map(|&i| cluster.nodes[i].instance_id.clone())
                    .collect();
                op.requested_count = *count;
                events.push(Event {
                    t: now,
                    kind: EventKind::ScaleUp,
                    nodes: *count,
                    reason: op.reason.clone(),
                });
                self.state.operation = Some(op);
                self.op = Some(InFlight::Up { nodes, deadline });
            }
            Decision::ScaleDown {
                node, instance_id, ..
            } => {
                let Some(i) = cluster
                    .nodes
                    .iter()
                    .position(|n| n.alive() && &n.name == node)
                else {
                    return events;
                };
                let deadline = now + cfg.drain_timeout_secs as i64;
                let mut op =
                    self.operation(OperationKind::ScaleDown, now, deadline, ctx, &decision);
                op.instance_ids = vec![instance_id.clone()];
                op.node_name = Some(node.clone());
                self.state.operation = Some(op);
                cluster.cordon(i);
                self.op = Some(InFlight::Down { node: i, deadline });
                events.extend(self.progress(now, cluster, ctx));
            }
            Decision::NoChange { reasons } => {
                for r in reasons {
                    let key = serde_json::to_value(r)
                        .ok()
                        .and_then(|v| v.get("reason").and_then(|x| x.as_str()).map(str::to_owned))
                        .unwrap_or_else(|| "other".into());
                    *self.reasons.entry(key).or_default() += 1;
                }
            }
        }
        events
    }

    fn no_change_reasons(&self) -> BTreeMap<String, u64> {
        self.reasons.clone()
    }
}

/// A model of Cluster Autoscaler with its documented defaults, on one node group:
/// - every `scan_interval`, Pending pods the scheduler could not place trigger a scale-up of as
///   many nodes as they need (after counting the room of nodes still booting), up to `max_nodes`;
/// - a Ready node whose requests (the higher of CPU and memory, DaemonSets included) are below
///   `scale_down_utilization_threshold` of its allocatable, and whose pods fit on the other nodes,
///   is unneeded; unneeded for `scale_down_unneeded_time` ⇒ removed (empty nodes all at once,
///   others one at a time, drained respecting the budget), never below `min_nodes`, never within
///   `scale_down_delay_after_add` of a scale-up, and not while pods are Pending.
///
/// Not modelled: expanders, node-group balancing, `scale-down-delay-after-delete/failure`,
/// provisioning failures and backoff.
#[derive(Debug, Clone)]
pub struct CaModel {
    s: CaSettings,
    last_scale_up: Option<i64>,
    unneeded_since: BTreeMap<usize, i64>,
    draining: Option<(usize, i64)>,
}

impl CaModel {
    /// A model with no history.
    pub fn new(settings: CaSettings) -> Self {
        CaModel {
            s: settings,
            last_scale_up: None,
            unneeded_since: BTreeMap::new(),
            draining: None,
        }
    }

    fn utilisation(cluster: &Cluster, i: usize) -> f64 {
        let n = &cluster.nodes[i];
        let a = cluster.shape.allocatable();
        let r = cluster.workload.requests;
        let ds = cluster.shape.daemonset;
        let pods = n.occupied() as f64;
        let cpu = (ds.cpu_millis as f64 + pods * r.cpu_millis as f64) / a.cpu_millis.max(1) as f64;
        let mem =
            (ds.memory_bytes as f64 + pods * r.memory_bytes as f64) / a.memory_bytes.max(1) as f64;
        cpu.max(mem)
    }
}

impl Policy for CaModel {
    fn step(&mut self, now: i64, cluster: &mut Cluster, _: &Observer, _: Ctx<'_>) -> Vec<Event> {
        let mut events = Vec::new();
        if now % self.s.scan_interval_secs as i64 != 0 {
            return events;
        }
        let slots = cluster.pods_per_node().max(1);
        // A drain in progress.
        if let Some((i, deadline)) = self.draining {
            if drain_round(cluster, i, now) {
                let name = cluster.nodes[i].name.clone();
                cluster.terminate(i, now);
                events.push(Event {
                    t: now,
                    kind: EventKind::ScaleDown,
                    nodes: 1,
                    reason: format!("{name} unneeded (requests below threshold): drained"),
                });
                self.draining = None;
            } else if now >= deadline {
                cluster.uncordon(i);
                self.draining = None;
                events.push(Event {
                    t: now,
                    kind: EventKind::DrainAborted,
                    nodes: 0,
                    reason: "drain exceeded max-graceful-termination".into(),
                });
            }
        }
        // Scale up.
        let pending = cluster.pending.len() as u32;
        let alive = cluster.alive_count();
        if pending > 0 {
            let upcoming = cluster.booting_count() * slots;
            let need = pending.saturating_sub(upcoming).div_ceil(slots);
            let count = need.min(self.s.max_nodes.saturating_sub(alive));
            if count > 0 {
                for _ in 0..count {
                    cluster.launch(now, true);
                }
                self.last_scale_up = Some(now);
                events.push(Event {
                    t: now,
                    kind: EventKind::ScaleUp,
                    nodes: count,
                    reason: format!("{pending} unschedulable pod(s)"),
                });
            }
            return events;
        }
        // Unneeded nodes: requests below the threshold and pods movable to the other nodes.
        let ready: Vec<usize> = (0..cluster.nodes.len())
            .filter(|&i| {
                let n = &cluster.nodes[i];
                n.ready() && !n.cordoned && self.draining.map(|d| d.0) != Some(i)
            })
            .collect();
        let mut free_elsewhere: u32 = ready
            .iter()
            .map(|&i| slots.saturating_sub(cluster.nodes[i].occupied()))
            .sum();
        let mut unneeded = Vec::new();
        for &i in &ready {
            let n = &cluster.nodes[i];
            let own_free = slots.saturating_sub(n.occupied());
            let movable = n.pods <= free_elsewhere.saturating_sub(own_free);
            if Self::utilisation(cluster, i) < self.s.scale_down_utilization_threshold && movable {
                // Later candidates cannot count this node's room any more.
                free_elsewhere = free_elsewhere.saturating_sub(own_free + n.pods);
                unneeded.push(i);
            }
        }
        self.unneeded_since.retain(|i, _| unneeded.contains(i));
        for &i in &unneeded {
            self.unneeded_since.entry(i).or_insert(now);
        }
        let in_cooldown = self
            .last_scale_up
            .is_some_and(|t| now - t < self.s.scale_down_delay_after_add_secs as i64);
        if in_cooldown || self.draining.is_some() {
            return events;
        }
        let ripe: Vec<usize> = self
            .unneeded_since
            .iter()
            .filter(|(_, &since)| now - since >= self.s.scale_down_unneeded_secs as i64)
            .map(|(&i, _)| i)
            .collect();
        let mut alive = cluster.alive_count();
        let mut removed_empty = 0;
        for &i in &ripe {
            if alive <= self.s.min_nodes {
                break;
            }
            if cluster.nodes[i].occupied() == 0 {
                cluster.terminate(i, now);
                self.unneeded_since.remove(&i);
                alive -= 1;
                removed_empty += 1;
            }
        }
        if removed_empty > 0 {
            events.push(Event {
                t: now,
                kind: EventKind::ScaleDown,
                nodes: removed_empty,
                reason: "empty node(s) unneeded".into(),
            });
            return events;
        }
        if let Some(&i) = ripe.first() {
            if alive > self.s.min_nodes {
                cluster.cordon(i);
                self.unneeded_since.remove(&i);
                self.draining = Some((i, now + self.s.max_graceful_termination_secs as i64));
            }
        }
        events
    }
}
