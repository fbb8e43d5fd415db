//! Decisions are values: what to do and every reason why, or why not. One place executes them.

use super::capacity::{CapacityType, LaunchPlan, RemovalRank};
use crate::model::{MetricName, OperationKind, Resources, ScaleAction};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The engine's answer for one evaluation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "action")]
pub enum Decision {
    /// Add `count` workers (1 to the configured maximum increment, never past `MAX_NODES`).
    ScaleUp {
        /// Workers to add.
        count: u32,
        /// Every trigger that fired (inside a cooldown, only the pending-pods trigger, then the
        /// [`ScaleUpReason::PendingAheadOfCooldown`] that lets it through); then, when the sized
        /// need is above 1, the one [`ScaleUpReason::PendingPodsNeedWorkers`] or
        /// [`ScaleUpReason::LoadNeedsWorkers`] that explains it (the count may still be capped by `SCALE_UP_MAX_INCREMENT` or `MAX_NODES`);
        /// with a Spot mix or a burst type, last, the [`ScaleUpReason::CapacityMix`] that explains
        /// `launch`.
        reasons: Vec<ScaleUpReason>,
        /// What to launch: `count` split into on-demand and Spot, and the instance types
        /// ([`super::capacity::plan`]). Absent in older documents: read as empty.
        #[serde(default)]
        launch: LaunchPlan,
    },
    /// Remove one worker: cordon, drain, terminate.
    ScaleDown {
        /// The chosen node.
        node: String,
        /// Its EC2 instance.
        instance_id: String,
        /// Every condition that held.
        reasons: Vec<ScaleDownReason>,
    },
    /// Do nothing, and say why.
    NoChange {
        /// At least one reason.
        reasons: Vec<NoChangeReason>,
    },
}

impl Decision {
    /// `scale_up`, `scale_down` or `none`, as the state machine's Choice reads it.
    pub fn action(&self) -> &'static str {
        match self {
            Decision::ScaleUp { .. } => "scale_up",
            Decision::ScaleDown { .. } => "scale_down",
            Decision::NoChange { .. } => "none",
        }
    }

    /// The reasons rendered as sentences, in order.
    pub fn reason_sentences(&self) -> Vec<String> {
        match self {
            Decision::ScaleUp { reasons, .. } => reasons.iter().map(ToString::to_string).collect(),
            Decision::ScaleDown { reasons, .. } => {
                reasons.iter().map(ToString::to_string).collect()
            }
            Decision::NoChange { reasons } => reasons.iter().map(ToString::to_string).collect(),
        }
    }
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Decision::ScaleUp { count, .. } => write!(f, "scale up by {count}")?,
            Decision::ScaleDown {
                node, instance_id, ..
            } => write!(f, "scale down {node} ({instance_id})")?,
            Decision::NoChange { .. } => write!(f, "no change")?,
        }
        write!(f, ": {}", self.reason_sentences().join("; "))
    }
}

/// A scale-up trigger that fired (any one suffices), or, for the last two variants, how the count
/// was sized.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "trigger")]
pub enum ScaleUpReason {
    /// CPU stayed above the threshold for the whole scale-up window.
    CpuHigh {
        /// Lowest CPU over the window, percent.
        min_pct: f64,
        /// Threshold, percent.
        threshold_pct: f64,
        /// Window, seconds.
        window_secs: u64,
    },
    /// Pods stayed Pending for the whole pending window.
    PendingPods {
        /// Pending now.
        count: u32,
        /// Window, seconds.
        window_secs: u64,
    },
    /// Memory is above the threshold.
    MemoryHigh {
        /// Memory now, percent.
        pct: f64,
        /// Threshold, percent.
        threshold_pct: f64,
    },
    /// The queue is deeper than the threshold.
    QueueDepthHigh {
        /// Messages now.
        depth: f64,
        /// Threshold, messages.
        threshold: f64,
    },
    /// p95 latency is above the threshold.
    LatencyHigh {
        /// p95 now, seconds.
        p95_secs: f64,
        /// Threshold, seconds.
        threshold_secs: f64,
    },
    /// The 5xx ratio stayed above the threshold for the whole error window.
    ErrorRateHigh {
        /// Lowest error rate over the window, percent.
        min_pct: f64,
        /// Threshold, percent.
        threshold_pct: f64,
        /// Window, seconds.
        window_secs: u64,
    },
    /// Fewer Ready-or-joining workers than `MIN_NODES`.
    BelowMinimum {
        /// Workers now.
        workers: u32,
        /// The minimum.
        min: u32,
    },
    /// Fewer workers than a scheduled floor active now or within the launch lead time.
    BelowFloor {
        /// The floor, as declared in `SCHEDULED_FLOORS`.
        floor: String,
        /// Workers now (including joining).
        workers: u32,
        /// Workers the floor keeps.
        min: u32,
    },
    /// The forecast needs more workers within `FORECAST_HORIZON` than there are.
    ForecastRise {
        /// The forecast need, workers (fractional).
        forecast: f64,
        /// Workers now (including joining).
        workers: u32,
        /// Horizon, seconds.
        horizon_secs: u64,
    },
    /// Not a trigger: why a scale-up happens inside a cooldown. Pods stayed Pending over a whole
    /// `PENDING_PODS_WINDOW` after the last action, so a scale-up sized for them alone goes ahead
    /// of the cooldown that action started (docs/SCALING_ALGORITHM.md, "Cooldowns").
    PendingAheadOfCooldown {
        /// The last action, whose cooldown is running.
        after: ScaleAction,
        /// Seconds that cooldown still had to run.
        remaining_secs: u64,
        /// `PENDING_PODS_WINDOW`, seconds.
        window_secs: u64,
    },
    /// Not a trigger: how the count was sized. The Pending pods' requests, packed onto empty
    /// workers, need this many new workers.
    PendingPodsNeedWorkers {
        /// Pending pods that fit on an empty worker (the others no new worker would help).
        pods: u32,
        /// Empty workers they fill.
        workers: u32,
    },
    /// Not a trigger: how the count was sized. This many more Ready workers bring the load that
    /// fired a trigger back to its threshold.
    LoadNeedsWorkers {
        /// The input that fired.
        metric: MetricName,
        /// Its value, percent.
        pct: f64,
        /// Its threshold, percent.
        threshold_pct: f64,
        /// Workers to add.
        workers: u32,
    },
    /// CPU is above the threshold now and no Ready worker has room for one more workload pod of
    /// these requests, so the workload's next replica would be Pending (fires without the CPU
    /// window; off with `SCALE_UP_CPU_ALONE_THRESHOLD=0`).
    NoRoomForNextPod {
        /// CPU now, percent.
        cpu_pct: f64,
        /// `SCALE_UP_THRESHOLD_CPU`, percent.
        threshold_pct: f64,
        /// The pod's CPU request, millicores.
        cpu_millis: u64,
        /// Its memory request, bytes.
        memory_bytes: u64,
    },
    /// Not a trigger: how the launch is split. The on-demand and Spot counts that keep
    /// `ON_DEMAND_BASE_CAPACITY` and `ON_DEMAND_PERCENTAGE_ABOVE_BASE`, and the burst type chosen
    /// because `MAX_NODES` would leave pods Pending, if any.
    CapacityMix {
        /// On-demand workers launched.
        on_demand: u32,
        /// Spot workers launched.
        spot: u32,
        /// `ON_DEMAND_BASE_CAPACITY`.
        base: u32,
        /// `ON_DEMAND_PERCENTAGE_ABOVE_BASE`, percent.
        on_demand_above_base_pct: f64,
        /// The `BURST_INSTANCE_TYPES` type launched instead of `WORKER_INSTANCE_TYPES`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        burst_type: Option<String>,
    },
}

impl fmt::Display for ScaleUpReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScaleUpReason::CpuHigh {
                min_pct,
                threshold_pct,
                window_secs,
            } => write!(
                f,
                "CPU stayed above {threshold_pct:.0}% for {} (lowest {min_pct:.1}%)",
                human_secs(*window_secs)
            ),
            ScaleUpReason::BelowFloor {
                floor,
                workers,
                min,
            } => write!(
                f,
                "scheduled floor '{floor}' keeps {min} workers, {workers} now"
            ),
            ScaleUpReason::ForecastRise {
                forecast,
                workers,
                horizon_secs,
            } => write!(
                f,
                "the forecast needs {forecast:.1} workers within {}, {workers} now",
                human_secs(*horizon_secs)
            ),
            ScaleUpReason::PendingPods { count, window_secs } => {
                write!(
                    f,
                    "{count} pod(s) Pending for over {}",
                    human_secs(*window_secs)
                )
            }
            ScaleUpReason::MemoryHigh { pct, threshold_pct } => {
                write!(f, "memory at {pct:.1}%, above {threshold_pct:.0}%")
            }
            ScaleUpReason::QueueDepthHigh { depth, threshold } => {
                write!(f, "queue depth {depth:.0} messages, above {threshold:.0}")
            }
            ScaleUpReason::LatencyHigh {
                p95_secs,
                threshold_secs,
            } => {
                write!(f, "p95 latency {p95_secs:.2}s, above {threshold_secs:.2}s")
            }
            ScaleUpReason::ErrorRateHigh {
                min_pct,
                threshold_pct,
                window_secs,
            } => write!(
                f,
                "error rate stayed above {threshold_pct:.1}% for {} (lowest {min_pct:.1}%)",
                human_secs(*window_secs)
            ),
            ScaleUpReason::BelowMinimum { workers, min } => {
                write!(f, "{workers} worker(s), below the minimum of {min}")
            }
            ScaleUpReason::PendingAheadOfCooldown {
                after,
                remaining_secs,
                window_secs,
            } => write!(
                f,
                "the pods were Pending over a whole {} after the {}: they go ahead of its cooldown ({} left)",
                human_secs(*window_secs),
                after.as_str().replace('_', "-"),
                human_secs(*remaining_secs)
            ),
            ScaleUpReason::PendingPodsNeedWorkers { pods, workers } => write!(
                f,
                "the requests of {pods} Pending pod(s) fill {workers} new worker(s)"
            ),
            ScaleUpReason::LoadNeedsWorkers {
                metric,
                pct,
                threshold_pct,
                workers,
            } => write!(
                f,
                "{} at {pct:.1}% needs {workers} more worker(s) to return to {threshold_pct:.0}%",
                metric.label()
            ),
            ScaleUpReason::NoRoomForNextPod {
                cpu_pct,
                threshold_pct,
                cpu_millis,
                memory_bytes,
            } => write!(
                f,
                "CPU at {cpu_pct:.1}%, above {threshold_pct:.0}%, and no Ready worker has room for another {cpu_millis}m / {}Mi pod: the next replica would be Pending",
                memory_bytes / (1024 * 1024)
            ),
            ScaleUpReason::CapacityMix {
                on_demand,
                spot,
                base,
                on_demand_above_base_pct,
                burst_type,
            } => {
                write!(
                    f,
                    "launching {on_demand} on-demand and {spot} Spot keeps {base} on-demand as the base and {on_demand_above_base_pct:.0}% on-demand above it"
                )?;
                match burst_type {
                    Some(t) => write!(f, "; as {t}, because MAX_NODES would leave pods Pending"),
                    None => Ok(()),
                }
            }
        }
    }
}

/// A scale-down condition that held (all must).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "condition")]
pub enum ScaleDownReason {
    /// CPU stayed below the threshold for the whole scale-down window.
    CpuLow {
        /// Highest CPU over the window, percent.
        max_pct: f64,
        /// Threshold, percent.
        threshold_pct: f64,
        /// Window, seconds.
        window_secs: u64,
    },
    /// CPU is not below `SCALE_DOWN_THRESHOLD_CPU`, but spread over one Ready worker fewer its
    /// highest value over the scale-down window stays below `SCALE_DOWN_PROJECTED_CPU`.
    CpuLowAfterRemoval {
        /// Highest CPU over the window, percent.
        max_pct: f64,
        /// That load on one worker fewer, percent.
        projected_pct: f64,
        /// `SCALE_DOWN_PROJECTED_CPU`, percent.
        threshold_pct: f64,
        /// Window, seconds.
        window_secs: u64,
    },
    /// No pod is Pending.
    NoPendingPods,
    /// Memory is below the threshold.
    MemoryLow {
        /// Memory now, percent.
        pct: f64,
        /// Threshold, percent.
        threshold_pct: f64,
    },
    /// Not a condition: `FORECAST_MODE=on` but there is no forecast, so the reactive rules alone
    /// decided.
    NoForecast {
        /// Why there is none.
        why: String,
    },
    /// The queue stayed below the threshold for the whole scale-down window.
    QueueLow {
        /// Highest depth over the window.
        max_depth: f64,
        /// Threshold, messages.
        threshold: f64,
        /// Window, seconds.
        window_secs: u64,
    },
    /// Not a condition: why this worker among the removable ones, by its capacity (given with a
    /// Spot mix or burst types; see [`super::capacity::removal_rank`]).
    CapacityOrder {
        /// The chosen worker's capacity type.
        capacity_type: CapacityType,
        /// Its instance type, when known.
        instance_type: Option<String>,
        /// Where it stood in the removal order.
        rank: RemovalRank,
        /// On-demand workers before the removal.
        on_demand: u32,
        /// Spot workers before the removal.
        spot: u32,
    },
}

impl fmt::Display for ScaleDownReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScaleDownReason::CpuLow {
                max_pct,
                threshold_pct,
                window_secs,
            } => write!(
                f,
                "CPU stayed below {threshold_pct:.0}% for {} (highest {max_pct:.1}%)",
                human_secs(*window_secs)
            ),
            ScaleDownReason::CpuLowAfterRemoval {
                max_pct,
                projected_pct,
                threshold_pct,
                window_secs,
            } => write!(
                f,
                "CPU over {} (highest {max_pct:.1}%) would be {projected_pct:.1}% on one worker fewer, below {threshold_pct:.0}%",
                human_secs(*window_secs)
            ),
            ScaleDownReason::NoPendingPods => write!(f, "no pods Pending"),
            ScaleDownReason::NoForecast { why } => {
                write!(f, "no forecast ({why}): reactive rules alone")
            }
            ScaleDownReason::MemoryLow { pct, threshold_pct } => {
                write!(f, "memory at {pct:.1}%, below {threshold_pct:.0}%")
            }
            ScaleDownReason::QueueLow {
                max_depth,
                threshold,
                window_secs,
            } => write!(
                f,
                "queue depth stayed below {threshold:.0} for {} (highest {max_depth:.0})",
                human_secs(*window_secs)
            ),
            ScaleDownReason::CapacityOrder {
                capacity_type,
                instance_type,
                rank,
                on_demand,
                spot,
            } => write!(
                f,
                "the {capacity_type} {} worker is removed first of {on_demand} on-demand and {spot} Spot: {rank}",
                instance_type.as_deref().unwrap_or("unknown-type")
            ),
        }
    }
}

/// Why nothing was done. Every "no" has one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "reason")]
pub enum NoChangeReason {
    /// An operation is still in flight; it is finished or undone first.
    OperationInFlight {
        /// Its id.
        id: String,
        /// What it does.
        kind: OperationKind,
    },
    /// Too soon after the last action.
    Cooldown {
        /// The last action.
        after: ScaleAction,
        /// Seconds until the cooldown ends.
        remaining_secs: u64,
    },
    /// Scale-up is wanted but the cluster is at `MAX_NODES`.
    AtMaximum {
        /// Workers now (including joining).
        workers: u32,
        /// The maximum.
        max: u32,
    },
    /// Scale-down is wanted but the cluster is at `MIN_NODES`: removing a worker would leave fewer
    /// Ready workers than the minimum.
    AtMinimum {
        /// Ready workers now.
        workers: u32,
        /// The minimum.
        min: u32,
    },
    /// A trigger's threshold is crossed but its window holds too few samples yet.
    WindowNotMet {
        /// Which input.
        metric: MetricName,
        /// Samples in the window.
        samples: u32,
        /// Samples needed.
        needed: u32,
    },
    /// Required inputs are missing or stale: never scale down on them.
    MetricsUnavailable {
        /// Which inputs.
        metrics: Vec<MetricName>,
    },
    /// Metrics came from the cache: good enough for scale-up, never for scale-down.
    CachedMetrics {
        /// Their age, seconds.
        age_secs: u64,
    },
    /// Metrics came from a cache older than `METRICS_CACHE_MAX_AGE`: no scaling either way on them.
    CachedMetricsTooOld {
        /// Their age, seconds.
        age_secs: u64,
        /// The limit, seconds.
        max_age_secs: u64,
    },
    /// Too many workers are NotReady: the circuit breaker stops scale-down.
    TooManyNotReady {
        /// NotReady workers.
        not_ready: u32,
        /// All workers.
        workers: u32,
    },
    /// Scale-down is wanted but no node may be removed.
    NoSafeCandidate {
        /// Every worker and why it must stay.
        excluded: Vec<ExcludedNode>,
    },
    /// CPU is above `SCALE_UP_THRESHOLD_CPU` but not above `SCALE_UP_CPU_ALONE_THRESHOLD`, no pod
    /// is Pending and the forecast sees no rise: the workers run on their headroom.
    CpuWithinHeadroom {
        /// Lowest CPU over the scale-up window, percent.
        min_pct: f64,
        /// `SCALE_UP_THRESHOLD_CPU`, percent.
        threshold_pct: f64,
        /// `SCALE_UP_CPU_ALONE_THRESHOLD`, percent.
        alone_pct: f64,
    },
    /// Scale-down is wanted but a scheduled floor active now or within
    /// `FORECAST_SCALE_DOWN_GUARD` keeps the workers.
    FloorHolds {
        /// The floor, as declared.
        floor: String,
        /// Workers it keeps.
        min: u32,
        /// Ready workers now.
        workers: u32,
    },
    /// Scale-down is wanted but the forecast needs the current workers within
    /// `FORECAST_SCALE_DOWN_GUARD`.
    ForecastHolds {
        /// The forecast's highest need over the guard, workers (fractional).
        forecast: f64,
        /// Ready workers now.
        workers: u32,
        /// The guard, seconds.
        within_secs: u64,
    },
    /// No scale-up trigger fired and at least one scale-down condition failed.
    Steady {
        /// The scale-down conditions that did not hold, rendered.
        unmet: Vec<String>,
    },
}

impl fmt::Display for NoChangeReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NoChangeReason::OperationInFlight { id, kind } => {
                write!(f, "operation {id} ({kind:?}) is still in flight")
            }
            NoChangeReason::Cooldown {
                after,
                remaining_secs,
            } => write!(
                f,
                "cooling down after a {}: {} left",
                after.as_str().replace('_', "-"),
                human_secs(*remaining_secs)
            ),
            NoChangeReason::AtMaximum { workers, max } => {
                write!(
                    f,
                    "at maximum capacity: {workers} workers, MAX_NODES is {max}"
                )
            }
            NoChangeReason::AtMinimum { workers, min } => {
                write!(f, "at minimum: {workers} workers, MIN_NODES is {min}")
            }
            NoChangeReason::WindowNotMet {
                metric,
                samples,
                needed,
            } => write!(
                f,
                "{} window not met yet: {samples} of {needed} samples",
                metric.label()
            ),
            NoChangeReason::MetricsUnavailable { metrics } => write!(
                f,
                "metrics unavailable or stale ({}): never scale down on missing data",
                metrics
                    .iter()
                    .map(|m| m.label())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            NoChangeReason::CachedMetrics { age_secs } => write!(
                f,
                "using cached metrics {} old: scale-down needs live metrics",
                human_secs(*age_secs)
            ),
            NoChangeReason::CachedMetricsTooOld {
                age_secs,
                max_age_secs,
            } => write!(
                f,
                "cached metrics are {} old, past the {} limit: no scaling on them",
                human_secs(*age_secs),
                human_secs(*max_age_secs)
            ),
            NoChangeReason::TooManyNotReady { not_ready, workers } => write!(
                f,
                "{not_ready} of {workers} workers are NotReady: scale-down is suspended"
            ),
            NoChangeReason::NoSafeCandidate { excluded } => {
                write!(f, "no node can be removed safely")?;
                for e in excluded {
                    write!(f, "; {e}")?;
                }
                Ok(())
            }
            NoChangeReason::CpuWithinHeadroom {
                min_pct,
                threshold_pct,
                alone_pct,
            } => write!(
                f,
                "CPU above {threshold_pct:.0}% (lowest {min_pct:.1}%) but not above {alone_pct:.0}%, with no pod Pending and no forecast rise: running on headroom"
            ),
            NoChangeReason::FloorHolds { floor, min, workers } => write!(
                f,
                "scheduled floor '{floor}' keeps {min} workers: {workers} Ready, none removed"
            ),
            NoChangeReason::ForecastHolds {
                forecast,
                workers,
                within_secs,
            } => write!(
                f,
                "the forecast needs {forecast:.1} workers within {}: {workers} Ready, none removed",
                human_secs(*within_secs)
            ),
            NoChangeReason::Steady { unmet } => {
                if unmet.is_empty() {
                    write!(f, "load is within thresholds")
                } else {
                    write!(f, "load is within thresholds ({})", unmet.join("; "))
                }
            }
        }
    }
}

/// A node the candidate selection excluded, with why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExcludedNode {
    /// Node name.
    pub node: String,
    /// The first rule it breaks.
    pub reason: UnremovableReason,
}

impl fmt::Display for ExcludedNode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} stays: {}", self.node, self.reason)
    }
}

/// Why a node must not be removed (like Cluster Autoscaler's `UnremovableReason`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "rule")]
pub enum UnremovableReason {
    /// It runs the control plane.
    ControlPlane,
    /// SmartScale did not launch it.
    NotManaged,
    /// Annotated `cluster-autoscaler.kubernetes.io/scale-down-disabled: "true"`.
    ScaleDownDisabled,
    /// It is NotReady (the join-failure and recovery paths handle it, not scale-down).
    NotReady,
    /// It is already cordoned: another operation or a person is handling it.
    Unschedulable,
    /// It is managed but its EC2 instance id is unknown, so it could not be terminated.
    UnknownInstance,
    /// A kube-system pod that is not a DaemonSet pod.
    KubeSystemPod {
        /// `namespace/name`.
        pod: String,
    },
    /// A StatefulSet pod.
    StatefulSetPod {
        /// `namespace/name`.
        pod: String,
    },
    /// A pod of a workload with a single replica.
    SingleReplica {
        /// `namespace/name`.
        pod: String,
    },
    /// A pod no controller owns.
    BarePod {
        /// `namespace/name`.
        pod: String,
    },
    /// A pod whose disruption budget allows no disruption now.
    PdbAllowsNoDisruption {
        /// `namespace/name` of the pod.
        pod: String,
        /// `namespace/name` of the budget.
        pdb: String,
    },
    /// A pod annotated `cluster-autoscaler.kubernetes.io/safe-to-evict: "false"`.
    SafeToEvictFalse {
        /// `namespace/name`.
        pod: String,
    },
    /// A pod annotated `karpenter.sh/do-not-disrupt: "true"`.
    DoNotDisrupt {
        /// `namespace/name`.
        pod: String,
    },
    /// The requests of the pods a drain would evict exceed what the other Ready, schedulable
    /// workers have free, so they would be left Pending.
    NoRoomForPods {
        /// Summed requests of the pods to evict.
        needed: Resources,
        /// Summed free requests-capacity (allocatable minus requests) of the other workers.
        free: Resources,
    },
    /// It is the last Ready worker of its zone while the worker subnets span several zones.
    LastInZone {
        /// The zone.
        zone: String,
    },
}

impl fmt::Display for UnremovableReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UnremovableReason::ControlPlane => write!(f, "it runs the control plane"),
            UnremovableReason::NotManaged => write!(f, "SmartScale did not launch it"),
            UnremovableReason::ScaleDownDisabled => {
                write!(
                    f,
                    "annotated cluster-autoscaler.kubernetes.io/scale-down-disabled=true"
                )
            }
            UnremovableReason::NotReady => write!(f, "it is NotReady"),
            UnremovableReason::Unschedulable => {
                write!(f, "it is already cordoned (unschedulable)")
            }
            UnremovableReason::UnknownInstance => {
                write!(f, "its EC2 instance id is unknown")
            }
            UnremovableReason::KubeSystemPod { pod } => {
                write!(
                    f,
                    "it runs kube-system pod {pod}, which is not a DaemonSet pod"
                )
            }
            UnremovableReason::StatefulSetPod { pod } => write!(f, "it runs StatefulSet pod {pod}"),
            UnremovableReason::SingleReplica { pod } => {
                write!(f, "it runs {pod}, the only replica of its workload")
            }
            UnremovableReason::BarePod { pod } => {
                write!(f, "it runs {pod}, which no controller would recreate")
            }
            UnremovableReason::PdbAllowsNoDisruption { pod, pdb } => {
                write!(f, "disruption budget {pdb} allows no disruption of {pod}")
            }
            UnremovableReason::SafeToEvictFalse { pod } => {
                write!(f, "{pod} is annotated safe-to-evict=false")
            }
            UnremovableReason::DoNotDisrupt { pod } => {
                write!(f, "{pod} is annotated karpenter.sh/do-not-disrupt=true")
            }
            UnremovableReason::NoRoomForPods { needed, free } => write!(
                f,
                "its pods request {}m CPU and {}Mi memory, more than the {}m and {}Mi free on the other workers",
                needed.cpu_millis,
                needed.memory_bytes / (1024 * 1024),
                free.cpu_millis,
                free.memory_bytes / (1024 * 1024)
            ),
            UnremovableReason::LastInZone { zone } => write!(
                f,
                "it is the last Ready worker in zone {zone}, and every zone keeps one"
            ),
        }
    }
}

/// Renders seconds as `45s`, `5m`, `5m 30s`, `2h 5m`.
pub fn human_secs(secs: u64) -> String {
    match (secs / 3600, (secs % 3600) / 60, secs % 60) {
        (0, 0, s) => format!("{s}s"),
        (0, m, 0) => format!("{m}m"),
        (0, m, s) => format!("{m}m {s}s"),
        (h, 0, _) => format!("{h}h"),
        (h, m, _) => format!("{h}h {m}m"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_read_as_sentences() {
        let cases: Vec<(&str, String, &str)> = vec![
            (
                "cpu",
                ScaleUpReason::CpuHigh { min_pct: 78.04, threshold_pct: 70.0, window_secs: 180 }.to_string(),
                "CPU stayed above 70% for 3m (lowest 78.0%)",
            ),
            ("pending", ScaleUpReason::PendingPods { count: 5, window_secs: 180 }.to_string(), "5 pod(s) Pending for over 3m"),
            (
                "ahead of a cooldown",
                ScaleUpReason::PendingAheadOfCooldown { after: ScaleAction::ScaleDown, remaining_secs: 390, window_secs: 180 }.to_string(),
                "the pods were Pending over a whole 3m after the scale-down: they go ahead of its cooldown (6m 30s left)",
            ),
            (
                "cooldown",
                NoChangeReason::Cooldown { after: ScaleAction::ScaleDown, remaining_secs: 330 }.to_string(),
                "cooling down after a scale-down: 5m 30s left",
            ),
            (
                "no candidate",
                NoChangeReason::NoSafeCandidate {
                    excluded: vec![ExcludedNode { node: "w1".into(), reason: UnremovableReason::StatefulSetPod { pod: "db/pg-0".into() } }],
                }
                .to_string(),
                "no node can be removed safely; w1 stays: it runs StatefulSet pod db/pg-0",
            ),
            (
                "metrics",
                NoChangeReason::MetricsUnavailable { metrics: vec![MetricName::Cpu, MetricName::PendingPods] }.to_string(),
                "metrics unavailable or stale (CPU, pending pods): never scale down on missing data",
            ),
        ];
        for (name, got, want) in cases {
            assert_eq!(got, want, "case {name}");
        }
    }

    #[test]
    fn decisions_serialise_with_the_action_the_state_machine_reads() {
        let d = Decision::ScaleUp {
            count: 2,
            reasons: vec![ScaleUpReason::BelowMinimum { workers: 1, min: 2 }],
            launch: LaunchPlan {
                on_demand: 2,
                spot: 0,
                instance_types: vec!["t3.small".into()],
            },
        };
        let v = serde_json::to_value(&d).unwrap();
        assert_eq!(v["action"], "scale_up");
        assert_eq!(d.action(), "scale_up");
        assert_eq!(v["reasons"][0]["trigger"], "below_minimum");
        assert_eq!(v["launch"]["on_demand"], 2);
        let old: Decision = serde_json::from_value(
            serde_json::json!({"action": "scale_up", "count": 1, "reasons": []}),
        )
        .unwrap();
        assert!(matches!(old, Decision::ScaleUp { launch, .. } if launch == LaunchPlan::default()));
        assert_eq!(human_secs(7500), "2h 5m");
    }
}
