//! The scaling engine: pure functions from inputs, state, configuration and the time to a
//! [`Decision`]. No I/O, no clock reads.
//!
//! [`decide`] runs the checks in a fixed order (see its documentation and
//! `docs/SCALING_ALGORITHM.md`); [`select_candidate`] picks the worker a scale-down removes.

pub mod candidate;
pub mod capacity;
pub mod cooldown;
pub mod decision;
pub mod drainability;
pub mod explain;
pub mod fleet;
pub mod floors;
pub mod forecast;
pub mod increment;
mod metrics_gate;
pub mod pod_index;
mod readings;
mod scale_down;
mod scale_up;

#[cfg(test)]
mod outlook_tests;
#[cfg(test)]
mod props;
#[cfg(test)]
mod testkit;
#[cfg(test)]
mod tests;

pub use candidate::{select_candidate, Candidate};
pub use decision::*;
pub use explain::{explain, Explanation};
pub use fleet::Fleet;
pub use forecast::{DemandHistory, ForecastMode, Prediction};

use crate::config::Policy;
use crate::model::{ClusterView, MetricName, MetricsSnapshot, ScalingState};
use capacity::{LaunchPlan, Mix};
use chrono::{DateTime, Utc};
use scale_down::Wish;
use serde::{Deserialize, Serialize};

/// What the engine sees in one evaluation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Inputs {
    /// Windowed metric aggregates, with what is missing or stale.
    pub metrics: MetricsSnapshot,
    /// Nodes (joined with EC2 ownership), pods and disruption budgets.
    pub cluster: ClusterView,
}

/// Decides what to do at `now`. Pure: the same arguments always give the same decision.
///
/// Workers are the non-control-plane nodes, Ready or not. The checks run in this order and the
/// first that settles the matter wins:
///
/// 1. An operation in flight ⇒ `NoChange(OperationInFlight)`.
/// 2. Fewer workers than `MIN_NODES` ⇒ `ScaleUp(BelowMinimum, …)`. This is a repair: it ignores
///    cooldowns and needs no metrics. Usable triggers that also fired are listed after it.
/// 3. A cooldown running (by the last action) ⇒ `NoChange(Cooldown)`, except that pods Pending
///    over a whole `PENDING_PODS_WINDOW` after the last action (scale-up or scale-down), and
///    still Pending in the view, get a `ScaleUp(PendingPods, PendingAheadOfCooldown, …)` sized
///    for them alone (`cooldown::pending_may_follow`); a scale-down and a load-driven scale-up
///    still wait the whole cooldown.
/// 4. Cached metrics older than `METRICS_CACHE_MAX_AGE` ⇒ `NoChange(CachedMetricsTooOld)`.
/// 5. Any scale-up trigger fired ⇒ `ScaleUp`, sized by the largest need (see [`increment`]): the
///    Pending pods' requests packed onto new workers, the CPU or memory that fired brought back to
///    its threshold, 2 when urgent, at least 1; never above `SCALE_UP_MAX_INCREMENT` nor past
///    `MAX_NODES`; a need above 1 is explained by a `PendingPodsNeedWorkers` or
///    `LoadNeedsWorkers` reason after the triggers; nothing left under the maximum ⇒
///    `NoChange(AtMaximum)`.
/// 6. A trigger crossed its threshold but its window is short ⇒ `NoChange(WindowNotMet…)`; a
///    building scale-up signal also holds scale-down back.
/// 7. Cached metrics, or required inputs missing or stale ⇒ `NoChange(CachedMetrics,
///    MetricsUnavailable)`: never scale down on them.
/// 8. A scale-down condition unmet ⇒ `NoChange(Steady, WindowNotMet…)`. CPU holds when below
///    `SCALE_DOWN_THRESHOLD_CPU`, or when on one Ready worker fewer it would stay below
///    `SCALE_DOWN_PROJECTED_CPU`.
/// 9. Scale-down wanted but Ready workers ≤ `MIN_NODES`, or the NotReady circuit breaker tripped
///    ⇒ `NoChange(AtMinimum, TooManyNotReady)` (both when both hold).
/// 10. No node passes the "never remove" rules ⇒ `NoChange(NoSafeCandidate)` listing every node.
/// 11. Otherwise `ScaleDown` of the [`select_candidate`] choice.
///
/// Every `NoChange` carries at least one reason.
///
/// This is [`decide_with`] without a demand history: the scheduled floors apply, the forecast
/// does not (and is not mentioned).
pub fn decide(inputs: &Inputs, state: &ScalingState, cfg: &Policy, now: DateTime<Utc>) -> Decision {
    decide_with(inputs, None, state, cfg, now)
}

/// [`decide`] with the cluster's demand history, for the scheduled floors' lead time and the
/// forecast (`FORECAST_MODE`, see [`forecast`] and docs/SCALING_ALGORITHM.md). Beyond
/// [`decide`]'s checks:
///
/// - after the `MIN_NODES` repair, fewer workers than the highest scheduled floor met within the
///   lead time (the measured boot-to-Ready time, else `FLOOR_LEAD_TIME`), or, with the forecast
///   on, than it needs within `FORECAST_HORIZON` ⇒ `ScaleUp(BelowFloor | ForecastRise, …)`,
///   ignoring cooldowns like the minimum;
/// - a CPU trigger between `SCALE_UP_THRESHOLD_CPU` and `SCALE_UP_CPU_ALONE_THRESHOLD` with no
///   pod Pending, no forecast rise and a Ready worker with room for one more workload pod ⇒
///   `NoChange(CpuWithinHeadroom)`; CPU now above `SCALE_UP_THRESHOLD_CPU`, rising or with a
///   pod Pending, and no such room ⇒ `ScaleUp(NoRoomForNextPod)` without waiting for a window
///   (both are off with `SCALE_UP_CPU_ALONE_THRESHOLD=0`);
/// - the projected scale-down line is `SCALE_DOWN_PROJECTED_CPU` only while the forecast is on
///   and has a forecast; otherwise at most 25 points under `SCALE_UP_CPU_ALONE_THRESHOLD`
///   (`scale_down::projected_pct`);
/// - a wanted scale-down is held by a floor met within `FORECAST_SCALE_DOWN_GUARD`
///   (`FloorHolds`) or a forecast that needs the current Ready workers within it
///   (`ForecastHolds`); with the forecast on but no history, a scale-down says so
///   (`ScaleDownReason::NoForecast`).
pub fn decide_with(
    inputs: &Inputs,
    history: Option<&DemandHistory>,
    state: &ScalingState,
    cfg: &Policy,
    now: DateTime<Utc>,
) -> Decision {
    let no_change = |reasons: Vec<NoChangeReason>| Decision::NoChange { reasons };

    if let Some(op) = &state.operation {
        return no_change(vec![NoChangeReason::OperationInFlight {
            id: op.id.clone(),
            kind: op.kind,
        }]);
    }

    let fleet = Fleet::of(&inputs.cluster);
    let up_gate = metrics_gate::for_scale_up(&inputs.metrics, cfg, now);
    let mut triggers = match up_gate {
        Ok(()) => scale_up::triggers(&inputs.metrics, cfg),
        Err(_) => scale_up::Triggers::default(),
    };
    let outlook = Outlook::of(history, cfg, now);
    let scale_up = |mut reasons: Vec<ScaleUpReason>, deficit: u32, pending_only: bool| {
        let urgent = increment::urgent(&inputs.metrics, &inputs.cluster, cfg, !pending_only);
        let (sized, why) = sizing(inputs, &reasons, fleet, cfg, pending_only);
        match increment::count(urgent, deficit, sized, fleet.workers, cfg) {
            0 => no_change(vec![NoChangeReason::AtMaximum {
                workers: fleet.workers,
                max: cfg.max_nodes,
            }]),
            count => {
                reasons.extend(why);
                let launch = launch_plan(inputs, count, fleet, cfg);
                reasons.extend(mix_reason(&launch, cfg));
                Decision::ScaleUp {
                    count,
                    reasons,
                    launch,
                }
            }
        }
    };

    if fleet.workers < cfg.min_nodes {
        let mut reasons = vec![ScaleUpReason::BelowMinimum {
            workers: fleet.workers,
            min: cfg.min_nodes,
        }];
        reasons.extend(triggers.fired);
        return scale_up(reasons, cfg.min_nodes - fleet.workers, false);
    }
    if let Some((floor, why)) = outlook.floor_up(fleet.workers) {
        let mut reasons = vec![why];
        reasons.extend(triggers.fired);
        return scale_up(reasons, floor - fleet.workers, false);
    }
    if let Some(cooling) = cooldown::active(state, cfg, now) {
        let mut pending: Vec<ScaleUpReason> = triggers
            .fired
            .into_iter()
            .filter(|r| matches!(r, ScaleUpReason::PendingPods { .. }))
            .collect();
        // The follow-up is sized from the cluster view alone, so it also needs the view to still
        // hold Pending pods that new workers would run: the metrics window lags the view.
        let still_pending = || increment::pending_need(&inputs.cluster, cfg, 1).0 > 0;
        if !pending.is_empty() && still_pending() {
            if let Some(ahead) = cooldown::pending_may_follow(state, cfg, now) {
                pending.push(ahead);
                return scale_up(pending, 0, true);
            }
        }
        return no_change(vec![cooling]);
    }
    if let Err(too_old) = up_gate {
        return no_change(vec![too_old]);
    }
    let pressed = pending_seen(inputs) || outlook.rising(fleet.ready);
    let full = scale_up::no_room_for_next_pod(&inputs.metrics, &inputs.cluster, cfg);
    scale_up::hold_cpu_on_headroom(&mut triggers, pressed || full.is_some(), cfg);
    triggers.fired.extend(full);
    if !triggers.fired.is_empty() {
        return scale_up(triggers.fired, 0, false);
    }
    if !triggers.short.is_empty() {
        return no_change(triggers.short);
    }

    let blocked = metrics_gate::for_scale_down(&inputs.metrics, cfg, now);
    if !blocked.is_empty() {
        return no_change(blocked);
    }
    let guarded = outlook.acting().is_some();
    let mut reasons = match scale_down::wish(&inputs.metrics, &inputs.cluster, fleet, cfg, guarded)
    {
        Wish::NotWanted(unmet) => return no_change(unmet),
        Wish::Wanted(reasons) => reasons,
    };
    reasons.extend(outlook.no_forecast());

    let mut blocked = outlook.holds(fleet.ready);
    if fleet.ready <= cfg.min_nodes {
        blocked.push(NoChangeReason::AtMinimum {
            workers: fleet.ready,
            min: cfg.min_nodes,
        });
    }
    if fleet.breaker_tripped(cfg) {
        blocked.push(NoChangeReason::TooManyNotReady {
            not_ready: fleet.not_ready(),
            workers: fleet.workers,
        });
    }
    if !blocked.is_empty() {
        return no_change(blocked);
    }
    match select_candidate(&inputs.cluster, cfg, now) {
        Ok(c) => {
            let mut reasons = reasons;
            reasons.extend(removal_reason(&inputs.cluster, &c.node, cfg));
            Decision::ScaleDown {
                node: c.node,
                instance_id: c.instance_id,
                reasons,
            }
        }
        Err(excluded) => no_change(vec![NoChangeReason::NoSafeCandidate { excluded }]),
    }
}

/// The launch of `count` workers: split by [`capacity::plan`] over the workers' mix, from
/// `WORKER_INSTANCE_TYPES`; or, when the launch fills the room under `MAX_NODES` (no later
/// scale-up can add a worker), from the [`capacity::burst`] type whose workers hold one regular
/// worker more than the need (the Pending pods' and the count's, whichever is larger), sized by
/// the largest request among the Pending pods, else among the workload pods running, and the
/// price table's instance sizes. See docs/SCALING_ALGORITHM.md ("What a scale-up launches").
fn launch_plan(inputs: &Inputs, count: u32, fleet: Fleet, cfg: &Policy) -> LaunchPlan {
    let mix = Mix::of(&inputs.cluster);
    let room = cfg.max_nodes.saturating_sub(fleet.workers);
    let burst = || {
        let (_, pending) = increment::pending_need(&inputs.cluster, cfg, u32::MAX);
        let cluster = &inputs.cluster;
        let largest = |pods: &mut dyn Iterator<Item = &crate::model::PodInfo>| {
            pods.map(|p| p.requests)
                .filter(|r| r.cpu_millis > 0 || r.memory_bytes > 0)
                .max_by_key(|r| (r.cpu_millis, r.memory_bytes))
        };
        let requests = largest(&mut cluster.pending_pods()).or_else(|| {
            largest(
                &mut cluster
                    .pods
                    .iter()
                    .filter(|p| p.node_name.is_some() && !p.ignored_by_drain()),
            )
        })?;
        let needed = pending.max(count) + 1;
        capacity::burst(needed, room, requests, cfg, capacity::PriceTable::shipped())
    };
    let types = match (count == room && !cfg.burst_instance_types.is_empty())
        .then(burst)
        .flatten()
    {
        Some(t) => vec![t],
        None => cfg.worker_instance_types.clone(),
    };
    capacity::plan(mix, count, types, cfg)
}

/// The reason that explains a launch's split, given only when the policy buys Spot or the launch
/// uses a burst type (an on-demand-only decision reads as before the capacity policy).
fn mix_reason(launch: &LaunchPlan, cfg: &Policy) -> Option<ScaleUpReason> {
    let burst_type = launch
        .instance_types
        .first()
        .filter(|t| cfg.burst_instance_types.contains(t))
        .cloned();
    (capacity::uses_spot(cfg) || burst_type.is_some()).then_some(ScaleUpReason::CapacityMix {
        on_demand: launch.on_demand,
        spot: launch.spot,
        base: cfg.on_demand_base_capacity,
        on_demand_above_base_pct: cfg.on_demand_percentage_above_base_pct,
        burst_type,
    })
}

/// The reason that names the removed worker's place in the capacity order, given only when the
/// policy buys Spot or has burst types.
fn removal_reason(cluster: &ClusterView, node: &str, cfg: &Policy) -> Option<ScaleDownReason> {
    if !capacity::uses_spot(cfg) && cfg.burst_instance_types.is_empty() {
        return None;
    }
    let n = cluster.nodes.iter().find(|n| n.name == node)?;
    let mix = Mix::of(cluster);
    Some(ScaleDownReason::CapacityOrder {
        capacity_type: n.capacity_type,
        instance_type: n.instance_type.clone(),
        rank: capacity::removal_rank(n, mix, cfg),
        on_demand: mix.on_demand,
        spot: mix.spot,
    })
}

/// Whether the metrics or the cluster view see a Pending pod.
fn pending_seen(inputs: &Inputs) -> bool {
    let m = &inputs.metrics;
    let metric = readings::Readings::new(m)
        .value(MetricName::PendingPods, m.pending_pods)
        .unwrap_or(0.0);
    metric > 0.0 || inputs.cluster.pending_pods().next().is_some()
}

/// The floors and the forecast at one evaluation.
struct Outlook<'a> {
    cfg: &'a Policy,
    /// The highest scheduled floor met within the launch lead.
    floor_now: Option<&'a floors::Floor>,
    /// The highest scheduled floor met within the scale-down guard.
    floor_guard: Option<&'a floors::Floor>,
    /// The forecast, when `FORECAST_MODE` is not off and a history was given.
    prediction: Option<Prediction>,
}

impl<'a> Outlook<'a> {
    fn of(history: Option<&DemandHistory>, cfg: &'a Policy, now: DateTime<Utc>) -> Self {
        let offset = cfg.cluster_utc_offset_secs;
        let lead = forecast::lead(history, cfg);
        let guard = chrono::Duration::seconds(cfg.forecast_guard_secs as i64).max(lead);
        Outlook {
            cfg,
            floor_now: floors::highest(&cfg.scheduled_floors, now, lead, offset),
            floor_guard: floors::highest(&cfg.scheduled_floors, now, guard, offset),
            prediction: history
                .filter(|_| cfg.forecast_mode != ForecastMode::Off)
                .map(|h| h.predict(now, cfg)),
        }
    }

    /// The forecast's (ahead, guard) needs, when it is on and has history.
    fn acting(&self) -> Option<(f64, f64)> {
        match (&self.prediction, self.cfg.forecast_mode) {
            (Some(Prediction::Ready { ahead, guard, .. }), ForecastMode::On) => {
                Some((*ahead, *guard))
            }
            _ => None,
        }
    }

    /// The floor to scale up to, with the reason, when `workers` are fewer: the scheduled floor
    /// or the forecast, whichever asks more (the scheduled floor on a tie).
    fn floor_up(&self, workers: u32) -> Option<(u32, ScaleUpReason)> {
        let max = self.cfg.max_nodes;
        let scheduled = self.floor_now.map(|f| {
            (
                f.min.min(max),
                ScaleUpReason::BelowFloor {
                    floor: f.text.clone(),
                    workers,
                    min: f.min,
                },
            )
        });
        let forecast = self.acting().map(|(ahead, _)| {
            (
                forecast::launch_count(ahead).min(max),
                ScaleUpReason::ForecastRise {
                    forecast: ahead,
                    workers,
                    horizon_secs: self.cfg.forecast_horizon_secs,
                },
            )
        });
        let best = match (scheduled, forecast) {
            (Some(s), Some(f)) if f.0 > s.0 => Some(f),
            (s, f) => s.or(f),
        };
        best.filter(|(n, _)| *n > workers)
    }

    /// Whether the forecast needs more than `ready` workers within its horizon.
    fn rising(&self, ready: u32) -> bool {
        self.acting()
            .is_some_and(|(ahead, _)| forecast::launch_count(ahead) > ready)
    }

    /// What holds a scale-down of one of `ready` workers back.
    fn holds(&self, ready: u32) -> Vec<NoChangeReason> {
        let mut out = Vec::new();
        if let Some(f) = self.floor_guard.filter(|f| ready <= f.min) {
            out.push(NoChangeReason::FloorHolds {
                floor: f.text.clone(),
                min: f.min,
                workers: ready,
            });
        }
        if let Some((_, guard)) = self.acting().filter(|(_, g)| forecast::whole(*g) >= ready) {
            out.push(NoChangeReason::ForecastHolds {
                forecast: guard,
                workers: ready,
                within_secs: self.cfg.forecast_guard_secs,
            });
        }
        out
    }

    /// With the forecast on but unavailable, the reason a scale-down gives for deciding without it.
    fn no_forecast(&self) -> Option<ScaleDownReason> {
        match (&self.prediction, self.cfg.forecast_mode) {
            (Some(Prediction::Unavailable { why }), ForecastMode::On) => {
                Some(ScaleDownReason::NoForecast { why: why.clone() })
            }
            _ => None,
        }
    }
}

/// What the fired triggers measured, as workers to add, with the reason that explains the largest
/// need when it is above 1: the Pending pods of the cluster view, their requests packed onto new
/// workers ([`increment::pending_need`]), whatever started the scale-up (it is happening anyway,
/// and a pod Pending now will still need room when the new workers are Ready); and, unless `pending_only`,
/// the CPU (lowest over the scale-up window) or memory (now) that fired, brought back to its
/// threshold over the Ready workers ([`increment::load_need`]).
fn sizing(
    inputs: &Inputs,
    fired: &[ScaleUpReason],
    fleet: Fleet,
    cfg: &Policy,
    pending_only: bool,
) -> (u32, Option<ScaleUpReason>) {
    let limit = cfg.max_nodes;
    let mut best: (u32, Option<ScaleUpReason>) = (0, None);
    let mut consider = |workers: u32, why: ScaleUpReason| {
        if workers > best.0 {
            best = (workers, Some(why));
        }
    };
    let (pods, workers) = increment::pending_need(&inputs.cluster, cfg, limit);
    consider(
        workers,
        ScaleUpReason::PendingPodsNeedWorkers { pods, workers },
    );
    for r in fired {
        match r {
            ScaleUpReason::CpuHigh {
                min_pct,
                threshold_pct,
                ..
            } if !pending_only => {
                let workers = increment::load_need(min_pct / 100.0, *threshold_pct, fleet.ready);
                consider(
                    workers,
                    ScaleUpReason::LoadNeedsWorkers {
                        metric: MetricName::Cpu,
                        pct: *min_pct,
                        threshold_pct: *threshold_pct,
                        workers,
                    },
                );
            }
            ScaleUpReason::MemoryHigh { pct, threshold_pct } if !pending_only => {
                let workers = increment::load_need(pct / 100.0, *threshold_pct, fleet.ready);
                consider(
                    workers,
                    ScaleUpReason::LoadNeedsWorkers {
                        metric: MetricName::Memory,
                        pct: *pct,
                        threshold_pct: *threshold_pct,
                        workers,
                    },
                );
            }
            _ => {}
        }
    }
    match best {
        (n, why) if n > 1 => (n, why),
        (n, _) => (n, None),
    }
}
