//! The policies compared in one run: SmartScale (core's engine, executed the way the state machine
//! executes its decisions), the fixed-size baseline, models of Cluster Autoscaler's and
//! Karpenter's defaults (models, not the products), and the clairvoyant oracle (the bound).
//! All get the same cluster, boot delay, disruption budget, workload and prices.
//!
//! Each policy is called once per simulation tick, after the cluster has moved, the HPA has acted,
//! the scheduler has run and the metrics of this tick are recorded.

mod cluster_autoscaler;
mod fixed;
mod karpenter;
mod oracle;
mod smartscale;
#[cfg(test)]
mod testing;

pub use cluster_autoscaler::{CaModel, Unremovable, Verdict};
pub use fixed::Fixed;
pub use karpenter::{KarpenterModel, Method};
pub use oracle::{need as oracle_need, Oracle};
pub use smartscale::{smartscale_decide, SmartScale};

use crate::cluster::Cluster;
use crate::observe::Observer;
use crate::scenario::Scenario;
use chrono::{DateTime, Duration, Utc};
use std::collections::BTreeMap;

/// Which policy a run simulates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyKind {
    /// SmartScale with the scenario's `[policy]` configuration.
    SmartScale,
    /// A fixed number of workers, never changed.
    Baseline,
    /// The Cluster Autoscaler model.
    ClusterAutoscalerModel,
    /// The Karpenter model.
    KarpenterModel,
    /// The clairvoyant bound.
    Oracle,
}

impl PolicyKind {
    /// All policies, in report order.
    pub const ALL: [PolicyKind; 5] = [
        PolicyKind::SmartScale,
        PolicyKind::Baseline,
        PolicyKind::ClusterAutoscalerModel,
        PolicyKind::KarpenterModel,
        PolicyKind::Oracle,
    ];

    /// The name used in the report, JSON and file names.
    pub fn label(self) -> &'static str {
        match self {
            PolicyKind::SmartScale => "smartscale",
            PolicyKind::Baseline => "baseline",
            PolicyKind::ClusterAutoscalerModel => "cluster-autoscaler-model",
            PolicyKind::KarpenterModel => "karpenter-model",
            PolicyKind::Oracle => "oracle",
        }
    }

    /// The policy's starting cluster size in `scenario`.
    pub fn initial_nodes(self, scenario: &Scenario) -> u32 {
        match self {
            PolicyKind::Baseline => scenario.baseline_nodes,
            PolicyKind::Oracle => Oracle::initial_nodes(scenario),
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

    /// The forecast's error per local hour of the week (empty for policies without a forecast).
    fn forecast_errors(&self) -> Vec<smartscale_engine::engine::forecast::HourError> {
        Vec::new()
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
        PolicyKind::KarpenterModel => Box::new(KarpenterModel::new(scenario.karpenter.clone())),
        PolicyKind::Oracle => Box::new(Oracle::new(scenario)),
    }
}

/// Evictions a drain may make now without breaking the workload's disruption budget.
pub(crate) fn evictable(cluster: &Cluster) -> u32 {
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
pub(crate) fn drain_round(cluster: &mut Cluster, i: usize, now: i64) -> bool {
    let allowed = evictable(cluster);
    cluster.evict(i, allowed, now);
    cluster.nodes[i].occupied() == 0
}
