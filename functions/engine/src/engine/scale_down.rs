//! Scale-down conditions: all must hold. Run only on usable metrics (the metrics gate comes first).

use super::readings::{ratio, Readings};
use super::{Fleet, NoChangeReason, ScaleDownReason};
use crate::config::Policy;
use crate::model::{ClusterView, MetricName, MetricsSnapshot, Windowed};

/// Whether the load asks for a scale-down.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Wish {
    /// Every condition holds; these are they, in the order of the rules table.
    Wanted(Vec<ScaleDownReason>),
    /// At least one does not: a [`NoChangeReason::Steady`] listing every unmet condition (when
    /// any), then a [`NoChangeReason::WindowNotMet`] per low-enough window that is still short.
    NotWanted(Vec<NoChangeReason>),
}

#[derive(Default)]
struct Tally {
    met: Vec<ScaleDownReason>,
    unmet: Vec<String>,
    short: Vec<NoChangeReason>,
}

impl Tally {
    /// A windowed condition: the aggregate below `threshold` with `needed` samples.
    fn windowed(
        &mut self,
        metric: MetricName,
        w: Option<Windowed>,
        threshold: f64,
        needed: u32,
        met: impl FnOnce(Windowed) -> ScaleDownReason,
        unmet: impl FnOnce(Windowed) -> String,
    ) {
        match w {
            None => self.unmet.push(format!("{} unknown", metric.label())),
            Some(w) if w.value < threshold && w.samples >= needed => self.met.push(met(w)),
            Some(w) if w.value < threshold => self.short.push(NoChangeReason::WindowNotMet {
                metric,
                samples: w.samples,
                needed,
            }),
            Some(w) => self.unmet.push(unmet(w)),
        }
    }
}

/// Evaluates every scale-down condition of the rules table.
///
/// The CPU condition holds when the highest CPU over the scale-down window is below
/// `SCALE_DOWN_THRESHOLD_CPU` (docs/SCALING_ALGORITHM.md), or, when `SCALE_DOWN_PROJECTED_CPU` is above 0 and more
/// than one worker is Ready, when that highest CPU spread over one Ready worker fewer
/// (`max × ready / (ready − 1)`) is below `SCALE_DOWN_PROJECTED_CPU`.
///
/// Pending pods count as the larger of the metric and the cluster view's unscheduled Pending pods,
/// so either source seeing one blocks scale-down. Comparisons are strict: a value exactly at its
/// threshold is not below it.
pub(crate) fn wish(
    m: &MetricsSnapshot,
    cluster: &ClusterView,
    fleet: Fleet,
    cfg: &Policy,
    guarded: bool,
) -> Wish {
    let t = tally(m, cluster, fleet, cfg, guarded);
    if t.unmet.is_empty() && t.short.is_empty() {
        return Wish::Wanted(t.met);
    }
    let mut reasons = Vec::new();
    if !t.unmet.is_empty() {
        reasons.push(NoChangeReason::Steady { unmet: t.unmet });
    }
    reasons.extend(t.short);
    Wish::NotWanted(reasons)
}

/// The scale-down conditions that hold now, whether or not the others do (for `explain`).
pub(crate) fn met(
    m: &MetricsSnapshot,
    cluster: &ClusterView,
    fleet: Fleet,
    cfg: &Policy,
    guarded: bool,
) -> Vec<ScaleDownReason> {
    tally(m, cluster, fleet, cfg, guarded).met
}

/// CPU points under `SCALE_UP_CPU_ALONE_THRESHOLD` the projection keeps when no forecast guards
/// the removal (see [`projected_pct`]); the derived `SCALE_DOWN_PROJECTED_CPU` keeps 15.
pub const UNGUARDED_MARGIN_PCT: f64 = 25.0;

/// The projected-CPU line a removal must stay under: `SCALE_DOWN_PROJECTED_CPU` when the forecast
/// is on and guards the next `FORECAST_SCALE_DOWN_GUARD` (`guarded`), or when the CPU headroom is
/// off (`SCALE_UP_CPU_ALONE_THRESHOLD=0`); otherwise no higher than [`UNGUARDED_MARGIN_PCT`] under
/// the CPU-alone threshold (55 % with the defaults, as with the headroom off): with neither the
/// forecast nor a 70 % trigger to catch a rise, a step that finds one worker fewer Pends pods for
/// a whole evaluation interval and a boot. docs/SCALING_ALGORITHM.md ("Departures").
pub fn projected_pct(cfg: &Policy, guarded: bool) -> f64 {
    let line = cfg.scale_down_projected_cpu_pct;
    let alone = cfg.scale_up_cpu_alone_pct;
    if guarded || line <= 0.0 || alone <= 0.0 {
        return line;
    }
    line.min(alone - UNGUARDED_MARGIN_PCT).max(0.0)
}

/// Every condition of the rules table, sorted into met, unmet and short.
fn tally(
    m: &MetricsSnapshot,
    cluster: &ClusterView,
    fleet: Fleet,
    cfg: &Policy,
    guarded: bool,
) -> Tally {
    let r = Readings::new(m);
    let mut t = Tally::default();

    cpu(&mut t, &r, m, fleet.ready, cfg, projected_pct(cfg, guarded));

    let viewed = cluster.pending_pods().count() as f64;
    match r.value(MetricName::PendingPods, m.pending_pods) {
        None => t.unmet.push("pending pods unknown".into()),
        Some(p) if p.max(viewed) <= 0.0 => t.met.push(ScaleDownReason::NoPendingPods),
        Some(p) => t.unmet.push(format!("{:.0} pod(s) Pending", p.max(viewed))),
    }

    match r.value(MetricName::Memory, m.memory_ratio) {
        None => t.unmet.push("memory unknown".into()),
        Some(v) if v < ratio(cfg.scale_down_threshold_memory_pct) => {
            t.met.push(ScaleDownReason::MemoryLow {
                pct: v * 100.0,
                threshold_pct: cfg.scale_down_threshold_memory_pct,
            })
        }
        Some(v) => t.unmet.push(format!(
            "memory at {:.1}%, not below {:.0}%",
            v * 100.0,
            cfg.scale_down_threshold_memory_pct
        )),
    }

    if cfg.queue_metric_enabled {
        t.windowed(
            MetricName::QueueDepth,
            r.window(MetricName::QueueDepth, m.queue_depth_max_down_window),
            cfg.scale_down_threshold_queue_depth,
            cfg.required_samples(cfg.scale_down_window_secs),
            |w| ScaleDownReason::QueueLow {
                max_depth: w.value,
                threshold: cfg.scale_down_threshold_queue_depth,
                window_secs: cfg.scale_down_window_secs,
            },
            |w| {
                format!(
                    "queue depth reached {:.0} in the scale-down window, not below {:.0}",
                    w.value, cfg.scale_down_threshold_queue_depth
                )
            },
        );
    }

    t
}

/// The CPU condition (see [`wish`]).
fn cpu(
    t: &mut Tally,
    r: &Readings<'_>,
    m: &MetricsSnapshot,
    ready: u32,
    cfg: &Policy,
    projected_line: f64,
) {
    let needed = cfg.required_samples(cfg.scale_down_window_secs);
    let Some(w) = r.window(MetricName::Cpu, m.cpu_max_down_window) else {
        t.unmet.push(format!("{} unknown", MetricName::Cpu.label()));
        return;
    };
    let projected = (projected_line > 0.0 && ready > 1)
        .then(|| w.value * f64::from(ready) / f64::from(ready - 1));
    let below_seed = w.value < ratio(cfg.scale_down_threshold_cpu_pct);
    let below_projected = projected.is_some_and(|p| p < ratio(projected_line));
    if !below_seed && !below_projected {
        t.unmet.push(match projected {
            Some(p) => format!(
                "CPU reached {:.1}% in the scale-down window, not below {:.0}%, and would be {:.1}% on one worker fewer, not below {:.0}%",
                w.value * 100.0,
                cfg.scale_down_threshold_cpu_pct,
                p * 100.0,
                projected_line
            ),
            None => format!(
                "CPU reached {:.1}% in the scale-down window, not below {:.0}%",
                w.value * 100.0,
                cfg.scale_down_threshold_cpu_pct
            ),
        });
    } else if w.samples < needed {
        t.short.push(NoChangeReason::WindowNotMet {
            metric: MetricName::Cpu,
            samples: w.samples,
            needed,
        });
    } else if below_seed {
        t.met.push(ScaleDownReason::CpuLow {
            max_pct: w.value * 100.0,
            threshold_pct: cfg.scale_down_threshold_cpu_pct,
            window_secs: cfg.scale_down_window_secs,
        });
    } else {
        t.met.push(ScaleDownReason::CpuLowAfterRemoval {
            max_pct: w.value * 100.0,
            projected_pct: projected.unwrap_or(w.value) * 100.0,
            threshold_pct: projected_line,
            window_secs: cfg.scale_down_window_secs,
        });
    }
}
