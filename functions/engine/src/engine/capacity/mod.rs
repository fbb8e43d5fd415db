//! The capacity policy: how many on-demand and Spot workers a scale-up launches, which capacity
//! a scale-down removes first, and which larger type a scale-up may choose when `MAX_NODES`
//! binds. Pure arithmetic over the workers' capacity types and the policy; the launch itself
//! (EC2 Fleet, fallback, offer memory) belongs to the provisioner.
//!
//! The names follow EC2 Auto Scaling's mixed instances policy: `ON_DEMAND_BASE_CAPACITY` workers
//! are on-demand, and of the workers above that base `ON_DEMAND_PERCENTAGE_ABOVE_BASE` percent are
//! on-demand, the rest Spot. `WORKER_INSTANCE_TYPES` lists the types in preference order;
//! `BURST_INSTANCE_TYPES` the larger ones a scale-up may use at the cap. The rules, with worked
//! examples, are in docs/COST_ANALYSIS.md ("The capacity policy").

pub mod prices;

pub use prices::{hourly_price, Band, Offer, PriceTable, Size};

use crate::config::Policy;
use crate::model::{ClusterView, NodeInfo};
use serde::{Deserialize, Serialize};
use std::fmt;

/// How a worker is bought.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum CapacityType {
    /// On-demand (also every worker whose capacity type is unknown).
    #[default]
    OnDemand,
    /// Spot: cheaper, and EC2 may reclaim it with a two-minute warning.
    Spot,
}

impl CapacityType {
    /// `on_demand` or `spot`, as in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            CapacityType::OnDemand => "on_demand",
            CapacityType::Spot => "spot",
        }
    }

    /// EC2's spelling, `on-demand` or `spot` (`DefaultTargetCapacityType`, `InstanceLifecycle`):
    /// the value of the workers' `Lifecycle` tag and of the cost metrics' `CapacityType` dimension.
    pub fn ec2_name(self) -> &'static str {
        match self {
            CapacityType::OnDemand => "on-demand",
            CapacityType::Spot => "spot",
        }
    }
}

impl fmt::Display for CapacityType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CapacityType::OnDemand => "on-demand",
            CapacityType::Spot => "Spot",
        })
    }
}

/// What a scale-up launches: `on_demand` + `spot` workers from `instance_types`, in preference
/// order (the launcher offers every type × subnet and lets EC2 pick the pool: price-capacity
/// optimised for Spot, lowest price / prioritised for on-demand; Spot it cannot get it launches
/// on-demand). Serialised as
/// `{"on_demand": 1, "spot": 2, "instance_types": ["t3.small", "t3a.small"]}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LaunchPlan {
    /// On-demand workers to launch.
    pub on_demand: u32,
    /// Spot workers to launch.
    pub spot: u32,
    /// The instance types to launch from, most preferred first: `WORKER_INSTANCE_TYPES`, or one
    /// type of `BURST_INSTANCE_TYPES` when the scale-up needed a larger worker (see [`burst`]).
    pub instance_types: Vec<String>,
}

impl LaunchPlan {
    /// Workers launched in all.
    pub fn total(&self) -> u32 {
        self.on_demand + self.spot
    }
}

/// How many workers of each capacity type there are (or should be).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mix {
    /// On-demand workers.
    pub on_demand: u32,
    /// Spot workers.
    pub spot: u32,
}

impl Mix {
    /// The workers of `cluster` (every non-control-plane node, Ready or not), by capacity type.
    pub fn of(cluster: &ClusterView) -> Mix {
        let mut m = Mix::default();
        for n in cluster.workers() {
            match n.capacity_type {
                CapacityType::OnDemand => m.on_demand += 1,
                CapacityType::Spot => m.spot += 1,
            }
        }
        m
    }

    /// Workers in all.
    pub fn total(self) -> u32 {
        self.on_demand + self.spot
    }
}

/// The mix `workers` workers should have: the first `ON_DEMAND_BASE_CAPACITY` on-demand, then
/// `ON_DEMAND_PERCENTAGE_ABOVE_BASE` percent of the rest on-demand, rounded to the nearest worker
/// (a half goes to on-demand).
pub fn target(workers: u32, cfg: &Policy) -> Mix {
    let base = workers.min(cfg.on_demand_base_capacity);
    let above = workers - base;
    let od_above = ((above as f64 * cfg.on_demand_percentage_above_base_pct / 100.0) + 0.5)
        .floor()
        .min(above as f64) as u32;
    Mix {
        on_demand: base + od_above,
        spot: above - od_above,
    }
}

/// True when the policy may buy Spot (`ON_DEMAND_PERCENTAGE_ABOVE_BASE` below 100): only then do
/// scale-ups and scale-downs look at capacity types, so an on-demand-only policy decides exactly
/// as one without a capacity policy.
pub fn uses_spot(cfg: &Policy) -> bool {
    cfg.on_demand_percentage_above_base_pct < 100.0
}

/// The launch of `count` workers onto a fleet of mix `now`: as many on-demand as bring the
/// on-demand count up to the target for the new size (never more than `count`), the rest Spot.
/// A fleet short of on-demand (a Spot fallback, an interruption) is repaired first; one short of
/// Spot gets Spot.
pub fn plan(now: Mix, count: u32, instance_types: Vec<String>, cfg: &Policy) -> LaunchPlan {
    let want = target(now.total() + count, cfg);
    let on_demand = want.on_demand.saturating_sub(now.on_demand).min(count);
    LaunchPlan {
        on_demand,
        spot: count - on_demand,
        instance_types,
    }
}

/// Where a worker stands in the removal order of a scale-down; lower goes first. Compared before
/// the usual preference (zone, pods, idleness, age), so among workers of one rank that preference
/// decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RemovalRank {
    /// A `BURST_INSTANCE_TYPES` worker: the larger workers go first when the load falls.
    Burst,
    /// Its capacity type is the one above the target mix for one worker fewer: removing it keeps
    /// the mix (and the on-demand base).
    KeepsMix,
    /// An on-demand worker above the base: it costs more than a Spot one.
    OnDemandAboveBase,
    /// A Spot worker whose removal leaves the fleet short of Spot.
    Spot,
    /// An on-demand worker of the base: removed only when no other may go.
    OnDemandBase,
}

impl fmt::Display for RemovalRank {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RemovalRank::Burst => "a burst-type worker goes first",
            RemovalRank::KeepsMix => "removing it keeps the capacity mix",
            RemovalRank::OnDemandAboveBase => "on-demand above the base goes before Spot",
            RemovalRank::Spot => "Spot before the on-demand base",
            RemovalRank::OnDemandBase => "only the on-demand base was left to remove",
        })
    }
}

/// The removal rank of `node` in a fleet of mix `now`. With an on-demand-only policy and no burst
/// types every worker has the same rank, so the usual preference alone decides.
pub fn removal_rank(node: &NodeInfo, now: Mix, cfg: &Policy) -> RemovalRank {
    let burst = node
        .instance_type
        .as_deref()
        .is_some_and(|t| cfg.burst_instance_types.iter().any(|b| b == t));
    if burst {
        return RemovalRank::Burst;
    }
    if !uses_spot(cfg) {
        return RemovalRank::KeepsMix;
    }
    let after = target(now.total().saturating_sub(1), cfg);
    let above_base = now.on_demand > cfg.on_demand_base_capacity;
    match node.capacity_type {
        CapacityType::OnDemand if above_base && now.on_demand > after.on_demand => {
            RemovalRank::KeepsMix
        }
        CapacityType::Spot if now.spot > after.spot => RemovalRank::KeepsMix,
        CapacityType::OnDemand if above_base => RemovalRank::OnDemandAboveBase,
        CapacityType::Spot => RemovalRank::Spot,
        CapacityType::OnDemand => RemovalRank::OnDemandBase,
    }
}

/// The burst type for a scale-up that needs `needed` workers of the first `WORKER_INSTANCE_TYPES`
/// type when only `room` more fit under `MAX_NODES` (the engine asks with one more than the
/// need whenever a launch fills the room, so the capped fleet keeps headroom): the first `BURST_INSTANCE_TYPES` type (in
/// their order) whose `room` workers hold as many pods of `requests` as `needed` regular ones,
/// by the sizes of the price table's types (`sizes`), the per-worker overhead (`reserved`, the
/// regular worker's capacity minus its allocatable) taken off each. `None` when no burst type is
/// configured, the regular workers fit, or none suffices (the largest is then no use either:
/// `MAX_NODES` binds whatever the type).
pub fn burst(
    needed: u32,
    room: u32,
    requests: crate::model::Resources,
    cfg: &Policy,
    sizes: &PriceTable,
) -> Option<String> {
    if needed <= room || room == 0 || cfg.burst_instance_types.is_empty() {
        return None;
    }
    let base = sizes.size(cfg.worker_instance_types.first()?)?;
    let reserved_cpu = (base.vcpu as u64 * 1000).saturating_sub(cfg.worker_allocatable_cpu_millis);
    let reserved_mem =
        (base.memory_mib * 1024 * 1024).saturating_sub(cfg.worker_allocatable_memory_bytes);
    let pods = |s: Size| {
        let cpu = (s.vcpu as u64 * 1000).saturating_sub(reserved_cpu);
        let mem = (s.memory_mib * 1024 * 1024).saturating_sub(reserved_mem);
        let by_cpu = cpu.checked_div(requests.cpu_millis).unwrap_or(u64::MAX);
        let by_mem = mem.checked_div(requests.memory_bytes).unwrap_or(u64::MAX);
        by_cpu.min(by_mem)
    };
    let regular = pods(base).max(1);
    cfg.burst_instance_types
        .iter()
        .find(|t| {
            sizes
                .size(t)
                .is_some_and(|s| pods(s) * room as u64 >= regular * needed as u64)
        })
        .cloned()
}

#[cfg(test)]
mod tests;
