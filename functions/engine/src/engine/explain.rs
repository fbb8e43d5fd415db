//! Why [`super::decide`] decides what it does: the decision itself plus every rule it weighs, as
//! values a person reads (`smartscale explain`). Each verdict here is the engine's own — the
//! "holds" of a trigger is whether the scale-up triggers fired it, the "holds" of a condition is
//! whether the scale-down wish met it, a worker's removability is [`super::select_candidate`]'s
//! answer — so the explanation cannot disagree with the decision.

use super::readings::Readings;
use super::{
    decide, increment, scale_down, scale_up, select_candidate, Decision, Fleet, Inputs,
    NoChangeReason, UnremovableReason,
};
use crate::config::Policy;
use crate::model::{MetricName, ScalingState, Windowed};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One scale-up trigger or scale-down condition, as the engine weighed it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Check {
    /// The rule's code, as the reasons' serde tags have it (`cpu_high`, `pending_pods`,
    /// `cpu_low`, `no_pending_pods`, ...).
    pub rule: String,
    /// The input, as [`MetricName::label`] has it.
    pub metric: MetricName,
    /// The value compared, in `unit` (a window's aggregate for a windowed rule); `None` when
    /// the input is missing, stale or not a number.
    pub value: Option<f64>,
    /// `above` (a trigger fires over it) or `below` (a condition holds under it).
    pub comparison: &'static str,
    /// The threshold, in `unit`.
    pub threshold: f64,
    /// `%`, `pods`, `messages` or `s`.
    pub unit: &'static str,
    /// The window a windowed rule needs, seconds.
    pub window_secs: Option<u64>,
    /// Samples the window held.
    pub samples: Option<u32>,
    /// Samples the window needs.
    pub needed: Option<u32>,
    /// Whether the rule holds: the trigger fired, or the condition is met.
    pub holds: bool,
}

/// Whether one worker may be removed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkerVerdict {
    /// Node name.
    pub node: String,
    /// The first "never remove" rule it breaks; `None`: it may be removed.
    pub unremovable: Option<UnremovableReason>,
    /// True for the one a scale-down would remove now (the preference order's first).
    pub preferred: bool,
}

/// How a scale-up would be sized.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sizing {
    /// Workers the decision adds.
    pub count: u32,
    /// Pending pods that fit on an empty worker.
    pub pending_pods: u32,
    /// Empty workers those pods fill.
    pub workers_for_pending: u32,
    /// `SCALE_UP_MAX_INCREMENT`.
    pub max_increment: u32,
    /// Workers now, and `MAX_NODES`.
    pub workers: u32,
    /// `MAX_NODES`.
    pub max_nodes: u32,
}

/// Everything `decide` weighed for one evaluation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Explanation {
    /// The decision, exactly as [`decide`] returns it.
    pub decision: Decision,
    /// Every scale-up trigger of the rules table (any one suffices), queue depth only when
    /// `QUEUE_METRIC_ENABLED`.
    pub scale_up: Vec<Check>,
    /// Every scale-down condition (all must hold).
    pub scale_down: Vec<Check>,
    /// The cooldown running at `now`, if any.
    pub cooldown: Option<NoChangeReason>,
    /// Every worker, removable or not.
    pub workers: Vec<WorkerVerdict>,
    /// The sizing of a scale-up decision.
    pub sizing: Option<Sizing>,
}

/// Explains `decide(inputs, state, cfg, now)`. Pure, like `decide`.
///
/// The rules are listed even when `decide` stopped before weighing them (a cooldown, an
/// operation in flight): a person then sees what would happen once it ends.
pub fn explain(
    inputs: &Inputs,
    state: &ScalingState,
    cfg: &Policy,
    now: DateTime<Utc>,
) -> Explanation {
    let decision = decide(inputs, state, cfg, now);
    let m = &inputs.metrics;
    let r = Readings::new(m);
    let fleet = Fleet::of(&inputs.cluster);

    let fired = scale_up::triggers(m, cfg).fired;
    let fired_tag = |rule: &str| fired.iter().any(|f| tag(f, "trigger") == rule);
    let pct = |v: Option<f64>| v.map(|v| v * 100.0);
    let windowed = |rule: &str,
                    metric,
                    w: Option<Windowed>,
                    window_secs,
                    threshold,
                    comparison,
                    unit,
                    holds| Check {
        rule: rule.into(),
        metric,
        value: r.window(metric, w).map(|w| {
            if unit == "%" {
                w.value * 100.0
            } else {
                w.value
            }
        }),
        comparison,
        threshold,
        unit,
        window_secs: Some(window_secs),
        samples: r.window(metric, w).map(|w| w.samples),
        needed: Some(cfg.required_samples(window_secs)),
        holds,
    };
    let instant =
        |rule: &str, metric, value: Option<f64>, threshold, comparison, unit, holds| Check {
            rule: rule.into(),
            metric,
            value,
            comparison,
            threshold,
            unit,
            window_secs: None,
            samples: None,
            needed: None,
            holds,
        };

    let mut up = vec![
        windowed(
            "cpu_high",
            MetricName::Cpu,
            m.cpu_min_up_window,
            cfg.scale_up_window_secs,
            cfg.scale_up_threshold_cpu_pct,
            "above",
            "%",
            fired_tag("cpu_high"),
        ),
        windowed(
            "pending_pods",
            MetricName::PendingPods,
            m.pending_pods_min_window,
            cfg.pending_pods_window_secs,
            0.0,
            "above",
            "pods",
            fired_tag("pending_pods"),
        ),
        instant(
            "memory_high",
            MetricName::Memory,
            pct(r.value(MetricName::Memory, m.memory_ratio)),
            cfg.scale_up_threshold_memory_pct,
            "above",
            "%",
            fired_tag("memory_high"),
        ),
    ];
    if cfg.queue_metric_enabled {
        up.push(instant(
            "queue_depth_high",
            MetricName::QueueDepth,
            r.value(MetricName::QueueDepth, m.queue_depth),
            cfg.scale_up_threshold_queue_depth,
            "above",
            "messages",
            fired_tag("queue_depth_high"),
        ));
    }
    up.push(instant(
        "latency_high",
        MetricName::LatencyP95,
        r.value(MetricName::LatencyP95, m.latency_p95_secs),
        cfg.scale_up_threshold_latency_p95_secs,
        "above",
        "s",
        fired_tag("latency_high"),
    ));
    up.push(windowed(
        "error_rate_high",
        MetricName::ErrorRate,
        m.error_rate_min_window,
        cfg.error_rate_window_secs,
        cfg.scale_up_threshold_error_rate_pct,
        "above",
        "%",
        fired_tag("error_rate_high"),
    ));

    let met = scale_down::met(m, &inputs.cluster, fleet, cfg, false);
    let met_tag = |rules: &[&str]| {
        met.iter()
            .any(|c| rules.contains(&tag(c, "condition").as_str()))
    };
    let viewed = inputs.cluster.pending_pods().count() as f64;
    let mut down = vec![
        windowed(
            "cpu_low",
            MetricName::Cpu,
            m.cpu_max_down_window,
            cfg.scale_down_window_secs,
            cfg.scale_down_threshold_cpu_pct,
            "below",
            "%",
            met_tag(&["cpu_low", "cpu_low_after_removal"]),
        ),
        instant(
            "no_pending_pods",
            MetricName::PendingPods,
            r.value(MetricName::PendingPods, m.pending_pods)
                .map(|p| p.max(viewed)),
            1.0,
            "below",
            "pods",
            met_tag(&["no_pending_pods"]),
        ),
        instant(
            "memory_low",
            MetricName::Memory,
            pct(r.value(MetricName::Memory, m.memory_ratio)),
            cfg.scale_down_threshold_memory_pct,
            "below",
            "%",
            met_tag(&["memory_low"]),
        ),
    ];
    if cfg.queue_metric_enabled {
        down.push(windowed(
            "queue_low",
            MetricName::QueueDepth,
            m.queue_depth_max_down_window,
            cfg.scale_down_window_secs,
            cfg.scale_down_threshold_queue_depth,
            "below",
            "messages",
            met_tag(&["queue_low"]),
        ));
    }

    let workers = worker_verdicts(inputs, cfg, now);
    let sizing = match &decision {
        Decision::ScaleUp { count, .. } => {
            let (pods, workers_for_pending) =
                increment::pending_need(&inputs.cluster, cfg, cfg.max_nodes);
            Some(Sizing {
                count: *count,
                pending_pods: pods,
                workers_for_pending,
                max_increment: cfg.scale_up_max_increment,
                workers: fleet.workers,
                max_nodes: cfg.max_nodes,
            })
        }
        _ => None,
    };
    Explanation {
        decision,
        scale_up: up,
        scale_down: down,
        cooldown: super::cooldown::active(state, cfg, now),
        workers,
        sizing,
    }
}

/// Every worker with [`select_candidate`]'s verdict: the candidate is preferred, the excluded
/// carry their rule, the rest may be removed but are not first in the preference order.
fn worker_verdicts(inputs: &Inputs, cfg: &Policy, now: DateTime<Utc>) -> Vec<WorkerVerdict> {
    let (chosen, excluded) = match select_candidate(&inputs.cluster, cfg, now) {
        Ok(c) => (Some(c.node), c.excluded),
        Err(excluded) => (None, excluded),
    };
    inputs
        .cluster
        .workers()
        .map(|n| WorkerVerdict {
            node: n.name.clone(),
            unremovable: excluded
                .iter()
                .find(|e| e.node == n.name)
                .map(|e| e.reason.clone()),
            preferred: chosen.as_deref() == Some(n.name.as_str()),
        })
        .collect()
}

/// The serde tag `key` of a reason (`trigger` of a [`super::ScaleUpReason`], `condition` of a
/// [`super::ScaleDownReason`]).
fn tag<T: Serialize>(reason: &T, key: &str) -> String {
    serde_json::to_value(reason)
        .ok()
        .and_then(|v| v.get(key).and_then(|t| t.as_str()).map(str::to_owned))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::super::drainability::SCALE_DOWN_DISABLED;
    use super::super::testkit::*;
    use super::*;
    use crate::model::ScaleAction;

    /// One scene and what its explanation must say.
    struct Case {
        name: &'static str,
        scene: Scene,
        /// The rules that hold, by code: scale-up triggers, then scale-down conditions.
        up_holds: &'static [&'static str],
        down_holds: &'static [&'static str],
        /// Workers that may not go, and the one a scale-down would take.
        unremovable: &'static [&'static str],
        preferred: Option<&'static str>,
        /// The sizing's count, for a scale-up.
        sized: Option<u32>,
        cooling: bool,
    }

    fn holding(checks: &[Check]) -> Vec<&str> {
        checks
            .iter()
            .filter(|c| c.holds)
            .map(|c| c.rule.as_str())
            .collect()
    }

    #[test]
    fn explanations_agree_with_the_decision() {
        let cases = vec![
            Case {
                name: "cpu high fires the trigger and sizes the scale-up",
                scene: scene().metrics(metrics().cpu(0.95)),
                up_holds: &["cpu_high"],
                down_holds: &["no_pending_pods"],
                unremovable: &[],
                preferred: Some("w1"),
                sized: Some(2),
                cooling: false,
            },
            Case {
                name: "idle: every condition holds and w1 goes",
                scene: scene().metrics(idle()),
                up_holds: &[],
                down_holds: &["cpu_low", "no_pending_pods", "memory_low"],
                unremovable: &[],
                preferred: Some("w1"),
                sized: None,
                cooling: false,
            },
            Case {
                name: "steady: memory at 60% is not below 50%",
                scene: scene(),
                up_holds: &[],
                down_holds: &["no_pending_pods"],
                unremovable: &[],
                preferred: Some("w1"),
                sized: None,
                cooling: false,
            },
            Case {
                name: "a protected worker is listed with its rule",
                scene: scene().metrics(idle()).nodes(vec![
                    worker("w1").annotated(SCALE_DOWN_DISABLED, "true"),
                    worker("w2"),
                    worker("w3"),
                ]),
                up_holds: &[],
                down_holds: &["cpu_low", "no_pending_pods", "memory_low"],
                unremovable: &["w1"],
                preferred: Some("w2"),
                sized: None,
                cooling: false,
            },
            Case {
                name: "cooling down: the rules are still weighed",
                scene: scene()
                    .metrics(idle())
                    .state(after(ScaleAction::ScaleDown, ago(60))),
                up_holds: &[],
                down_holds: &["cpu_low", "no_pending_pods", "memory_low"],
                unremovable: &[],
                preferred: Some("w1"),
                sized: None,
                cooling: true,
            },
        ];
        for c in cases {
            let s = &c.scene;
            let e = explain(&s.inputs, &s.state, &s.cfg, s.now);
            assert_eq!(
                e.decision,
                s.decide(),
                "case {}: the decision is decide's",
                c.name
            );
            assert_eq!(holding(&e.scale_up), c.up_holds, "case {}", c.name);
            assert_eq!(holding(&e.scale_down), c.down_holds, "case {}", c.name);
            let protected: Vec<&str> = e
                .workers
                .iter()
                .filter(|w| w.unremovable.is_some())
                .map(|w| w.node.as_str())
                .collect();
            assert_eq!(protected, c.unremovable, "case {}", c.name);
            let preferred = e
                .workers
                .iter()
                .find(|w| w.preferred)
                .map(|w| w.node.as_str());
            assert_eq!(preferred, c.preferred, "case {}", c.name);
            assert_eq!(e.sizing.map(|z| z.count), c.sized, "case {}", c.name);
            assert_eq!(e.cooldown.is_some(), c.cooling, "case {}", c.name);
        }
    }

    #[test]
    fn a_check_carries_the_window_value_threshold_and_samples() {
        let s = scene().metrics(metrics().cpu_up_window(0.8, 2));
        let e = explain(&s.inputs, &s.state, &s.cfg, s.now);
        let cpu = e.scale_up.iter().find(|c| c.rule == "cpu_high").unwrap();
        assert_eq!(
            (cpu.value, cpu.threshold, cpu.samples, cpu.needed, cpu.holds),
            (
                Some(80.0),
                70.0,
                Some(2),
                Some(s.cfg.required_samples(180)),
                false
            ),
            "a short window does not hold: {cpu:?}"
        );
        let missing = e
            .scale_up
            .iter()
            .find(|c| c.rule == "latency_high")
            .unwrap();
        assert_eq!((missing.value, missing.holds), (None, false));
    }
}
