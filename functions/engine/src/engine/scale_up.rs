//! Scale-up triggers: any one suffices. Windowed triggers also need their window to hold enough
//! samples; a crossed threshold with a short window is reported as "window not met".

use super::increment;
use super::readings::{ratio, Readings};
use super::{NoChangeReason, ScaleUpReason};
use crate::config::Policy;
use crate::model::{ClusterView, MetricName, MetricsSnapshot, Windowed};

/// What the scale-up triggers found in one snapshot.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct Triggers {
    /// Triggers that fired, in the order of the rules table.
    pub(crate) fired: Vec<ScaleUpReason>,
    /// Windowed triggers whose threshold is crossed but whose window is still short.
    pub(crate) short: Vec<NoChangeReason>,
}

impl Triggers {
    /// A windowed trigger: fires when `crossed` holds for the aggregate and the window holds
    /// `needed` samples; is short when only the first holds.
    fn windowed(
        &mut self,
        metric: MetricName,
        w: Option<Windowed>,
        needed: u32,
        crossed: impl Fn(f64) -> bool,
        fire: impl FnOnce(Windowed) -> ScaleUpReason,
    ) {
        match w {
            Some(w) if crossed(w.value) && w.samples >= needed => self.fired.push(fire(w)),
            Some(w) if crossed(w.value) => self.short.push(NoChangeReason::WindowNotMet {
                metric,
                samples: w.samples,
                needed,
            }),
            _ => {}
        }
    }

    /// An instantaneous trigger: fires when the value is above `threshold`.
    fn above(
        &mut self,
        value: Option<f64>,
        threshold: f64,
        fire: impl FnOnce(f64) -> ScaleUpReason,
    ) {
        if let Some(v) = value.filter(|v| *v > threshold) {
            self.fired.push(fire(v));
        }
    }
}

/// Evaluates every scale-up trigger of the rules table on the usable values of `m`.
///
/// Comparisons are strict: a value exactly at its threshold does not fire (pending pods fire from
/// one pod up). Queue depth counts only when `QUEUE_METRIC_ENABLED`. Missing, stale or NaN inputs
/// never fire.
pub(crate) fn triggers(m: &MetricsSnapshot, cfg: &Policy) -> Triggers {
    let r = Readings::new(m);
    let mut t = Triggers::default();

    let cpu_up = ratio(cfg.scale_up_threshold_cpu_pct);
    t.windowed(
        MetricName::Cpu,
        r.window(MetricName::Cpu, m.cpu_min_up_window),
        cfg.required_samples(cfg.scale_up_window_secs),
        |v| v > cpu_up,
        |w| ScaleUpReason::CpuHigh {
            min_pct: w.value * 100.0,
            threshold_pct: cfg.scale_up_threshold_cpu_pct,
            window_secs: cfg.scale_up_window_secs,
        },
    );

    let pending_now = r.value(MetricName::PendingPods, m.pending_pods);
    t.windowed(
        MetricName::PendingPods,
        r.window(MetricName::PendingPods, m.pending_pods_min_window),
        cfg.required_samples(cfg.pending_pods_window_secs),
        |v| v >= 1.0,
        |w| ScaleUpReason::PendingPods {
            count: pending_now.unwrap_or(w.value).max(w.value) as u32,
            window_secs: cfg.pending_pods_window_secs,
        },
    );

    t.above(
        r.value(MetricName::Memory, m.memory_ratio),
        ratio(cfg.scale_up_threshold_memory_pct),
        |v| ScaleUpReason::MemoryHigh {
            pct: v * 100.0,
            threshold_pct: cfg.scale_up_threshold_memory_pct,
        },
    );

    if cfg.queue_metric_enabled {
        t.above(
            r.value(MetricName::QueueDepth, m.queue_depth),
            cfg.scale_up_threshold_queue_depth,
            |depth| ScaleUpReason::QueueDepthHigh {
                depth,
                threshold: cfg.scale_up_threshold_queue_depth,
            },
        );
    }

    t.above(
        r.value(MetricName::LatencyP95, m.latency_p95_secs),
        cfg.scale_up_threshold_latency_p95_secs,
        |p95_secs| ScaleUpReason::LatencyHigh {
            p95_secs,
            threshold_secs: cfg.scale_up_threshold_latency_p95_secs,
        },
    );

    let error_up = ratio(cfg.scale_up_threshold_error_rate_pct);
    t.windowed(
        MetricName::ErrorRate,
        r.window(MetricName::ErrorRate, m.error_rate_min_window),
        cfg.required_samples(cfg.error_rate_window_secs),
        |v| v > error_up,
        |w| ScaleUpReason::ErrorRateHigh {
            min_pct: w.value * 100.0,
            threshold_pct: cfg.scale_up_threshold_error_rate_pct,
            window_secs: cfg.error_rate_window_secs,
        },
    );
    t
}

/// Holds a CPU trigger back when CPU is above `SCALE_UP_THRESHOLD_CPU` but its lowest over the
/// window is not above `SCALE_UP_CPU_ALONE_THRESHOLD` and nothing else argues for capacity
/// (`pressed`: a Pending pod, a forecast rise, or no room for the next workload pod): the trigger
/// moves from `fired` to `short` as a [`NoChangeReason::CpuWithinHeadroom`] when it is the only
/// one. With the threshold at 0 nothing is held (the specification's rule).
pub(crate) fn hold_cpu_on_headroom(t: &mut Triggers, pressed: bool, cfg: &Policy) {
    let alone = cfg.scale_up_cpu_alone_pct;
    if alone <= 0.0 || pressed {
        return;
    }
    let held = |r: &ScaleUpReason| matches!(r, ScaleUpReason::CpuHigh { min_pct, .. } if *min_pct <= alone);
    let Some(pos) = t.fired.iter().position(held) else {
        return;
    };
    let ScaleUpReason::CpuHigh {
        min_pct,
        threshold_pct,
        ..
    } = t.fired.remove(pos)
    else {
        return;
    };
    if t.fired.is_empty() {
        t.short.insert(
            0,
            NoChangeReason::CpuWithinHeadroom {
                min_pct,
                threshold_pct,
                alone_pct: alone,
            },
        );
    }
}

/// CPU points above the scale-up window's lowest that make CPU "rising" for
/// [`no_room_for_next_pod`]: above the noise of a flat day (1–3 %), below a ramp's rise over the
/// window (10 points and more).
const RISING_PCT: f64 = 2.0;

/// The headroom's other side: CPU now above `SCALE_UP_THRESHOLD_CPU` while no Ready,
/// schedulable worker has room for one more workload pod ([`increment::no_room_for_next_pod`]),
/// and CPU rising ([`RISING_PCT`] over the window's lowest) or a pod already Pending in the view,
/// fires [`ScaleUpReason::NoRoomForNextPod`] at once, without waiting for the CPU or pending
/// window: the workload's next replica would be (or is) Pending, and full workers do not empty
/// within a window. A flat load on full workers does not fire it (the autoscaler adds no replica).
/// Off (`None`) with `SCALE_UP_CPU_ALONE_THRESHOLD=0` (the specification's rules), and when CPU
/// is unusable.
pub(crate) fn no_room_for_next_pod(
    m: &MetricsSnapshot,
    cluster: &ClusterView,
    cfg: &Policy,
) -> Option<ScaleUpReason> {
    if cfg.scale_up_cpu_alone_pct <= 0.0 {
        return None;
    }
    let r = Readings::new(m);
    let lowest = r
        .window(MetricName::Cpu, m.cpu_min_up_window)
        .map(|w| w.value);
    let cpu = r
        .value(MetricName::Cpu, m.cpu_ratio)
        .filter(|v| *v > ratio(cfg.scale_up_threshold_cpu_pct))?;
    let rising = lowest.is_some_and(|low| cpu - low >= ratio(RISING_PCT));
    if !rising && cluster.pending_pods().next().is_none() {
        return None;
    }
    let pod = increment::no_room_for_next_pod(cluster)?;
    Some(ScaleUpReason::NoRoomForNextPod {
        cpu_pct: cpu * 100.0,
        threshold_pct: cfg.scale_up_threshold_cpu_pct,
        cpu_millis: pod.cpu_millis,
        memory_bytes: pod.memory_bytes,
    })
}
