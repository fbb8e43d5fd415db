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
pub use oracle::{foreseen_end, need as oracle_need, Oracle};
pub use smartscale::{smartscale_decide, SmartScale};

use crate::cluster::{Buying, Cluster, Reaction};
use crate::observe::Observer;
use crate::scenario::Scenario;
use chrono::{DateTime, Duration, Utc};
use smartscale_engine::engine::capacity;
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
    /// The clairvoyant bound at `MIN_NODES`.
    Oracle,
    /// The clairvoyant bound at the lowest floor a compared policy keeps, run only when one keeps
    /// a floor below `MIN_NODES` (see [`PolicyKind::compared`]).
    OracleLowFloor,
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
            PolicyKind::OracleLowFloor => "oracle-low-floor",
        }
    }

    /// The fewest workers the policy keeps in `scenario`: its `min_nodes` (a peer model's own
    /// setting), the baseline's fixed size, the bound's floor.
    pub fn floor(self, scenario: &Scenario) -> u32 {
        match self {
            PolicyKind::Baseline => scenario.baseline_nodes,
            PolicyKind::ClusterAutoscalerModel => scenario.cluster_autoscaler.min_nodes,
            PolicyKind::KarpenterModel => scenario.karpenter.min_nodes,
            PolicyKind::SmartScale | PolicyKind::Oracle => scenario.policy.min_nodes,
            PolicyKind::OracleLowFloor => [
                PolicyKind::Baseline,
                PolicyKind::ClusterAutoscalerModel,
                PolicyKind::KarpenterModel,
                PolicyKind::SmartScale,
            ]
            .iter()
            .map(|k| k.floor(scenario))
            .min()
            .unwrap_or(0),
        }
    }

    /// True for the two bound rows.
    pub fn is_bound(self) -> bool {
        matches!(self, PolicyKind::Oracle | PolicyKind::OracleLowFloor)
    }

    /// The bound `self` is measured against in a run of `kinds`: the oracle at `MIN_NODES`, or the
    /// low-floor oracle for a policy keeping a lower floor (a bound holds only at the same or a
    /// lower floor). `None` when that bound is not among `kinds`.
    pub fn bound(self, scenario: &Scenario, kinds: &[PolicyKind]) -> Option<PolicyKind> {
        let b = if self.floor(scenario) < scenario.policy.min_nodes || self == Self::OracleLowFloor
        {
            PolicyKind::OracleLowFloor
        } else {
            PolicyKind::Oracle
        };
        kinds.contains(&b).then_some(b)
    }

    /// The policies a run of `kinds` compares: `kinds`, plus the low-floor bound when the oracle
    /// is among them and another keeps a floor below `MIN_NODES`.
    pub fn compared(scenario: &Scenario, kinds: &[PolicyKind]) -> Vec<PolicyKind> {
        let mut out = kinds.to_vec();
        let low = kinds
            .iter()
            .any(|k| !k.is_bound() && k.floor(scenario) < scenario.policy.min_nodes);
        if low && kinds.contains(&PolicyKind::Oracle) && !kinds.contains(&Self::OracleLowFloor) {
            out.push(PolicyKind::OracleLowFloor);
        }
        out
    }

    /// The policy's starting cluster size in `scenario`.
    pub fn initial_nodes(self, scenario: &Scenario) -> u32 {
        match self {
            PolicyKind::Baseline => scenario.baseline_nodes,
            PolicyKind::Oracle | PolicyKind::OracleLowFloor => {
                Oracle::new(scenario, self.floor(scenario)).initial_nodes()
            }
            _ => scenario.initial_nodes,
        }
    }
}

/// The Spot offers of each policy. Every policy sees the same market (prices, ICE periods,
/// interruption draws); with a `[policy]` that buys Spot (`ON_DEMAND_PERCENTAGE_ABOVE_BASE` below
/// 100) each buys as its real counterpart would, from SmartScale's `WORKER_INSTANCE_TYPES`:
/// the Cluster Autoscaler model through a mixed-instances Auto Scaling group with SmartScale's
/// base and percentage, the Karpenter model Spot first (a NodePool allowing `spot` and
/// `on-demand`, price-capacity-optimized), the oracle with SmartScale's mix. SmartScale itself
/// launches what its engine's `LaunchPlan` says (the same mix). The baseline stays on-demand.
impl PolicyKind {
    /// How the policy's launches are bought in `scenario`.
    pub fn buying(self, scenario: &Scenario) -> Buying {
        let cfg = &scenario.policy;
        if !capacity::uses_spot(cfg) || self == PolicyKind::Baseline {
            return Buying::OnDemand;
        }
        match self {
            PolicyKind::KarpenterModel => Buying::SpotFirst(cfg.worker_instance_types.clone()),
            _ => Buying::Mix(Box::new(cfg.clone())),
        }
    }

    /// What an interruption warning sets off for the policy: SmartScale's spot path and
    /// Karpenter's interruption handling cordon, drain and launch a replacement at the warning;
    /// with the Cluster Autoscaler the AWS Node Termination Handler cordons and drains, and the
    /// Auto Scaling group replaces the instance once it is terminated; the oracle launches the
    /// replacement one boot delay before the warning it foresees (see [`Oracle`]) and moves the
    /// pods over without a pause before the end.
    pub fn reaction(self, scenario: &Scenario) -> Reaction {
        let max_nodes = match self {
            PolicyKind::ClusterAutoscalerModel => scenario.cluster_autoscaler.max_nodes,
            PolicyKind::KarpenterModel => scenario.karpenter.max_nodes,
            _ => scenario.policy.max_nodes,
        };
        let base = Reaction {
            max_nodes,
            ..Reaction::default()
        };
        match self {
            PolicyKind::ClusterAutoscalerModel => Reaction {
                replace_at_warning: false,
                replace_at_termination: true,
                ..base
            },
            PolicyKind::Oracle | PolicyKind::OracleLowFloor => Reaction {
                drain: false,
                replace_at_warning: false,
                relocate: true,
                ..base
            },
            _ => base,
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

impl Event {
    /// The event of `kind` at `t` about `nodes` workers, for `reason`.
    pub fn new(t: i64, kind: EventKind, nodes: u32, reason: impl Into<String>) -> Self {
        Event {
            t,
            kind,
            nodes,
            reason: reason.into(),
        }
    }
}

/// How many times each "no change" reason was given, by its short name, for the report.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReasonCounts(BTreeMap<String, u64>);

impl ReasonCounts {
    /// Counts one more `reason`.
    pub fn count(&mut self, reason: &str) {
        *self.0.entry(reason.to_owned()).or_default() += 1;
    }

    /// The counts, by reason.
    pub fn to_map(&self) -> BTreeMap<String, u64> {
        self.0.clone()
    }
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
        PolicyKind::Oracle | PolicyKind::OracleLowFloor => {
            Box::new(Oracle::new(scenario, kind.floor(scenario)))
        }
    }
}

/// Evictions a drain may make now without breaking the workload's disruption budget.
pub(crate) fn evictable(cluster: &Cluster) -> u32 {
    match cluster.workload.pdb_max_unavailable {
        None => u32::MAX,
        Some(max_unavailable) => {
            let healthy = cluster.serving_pods();
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
