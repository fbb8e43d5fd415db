//! CloudWatch Embedded Metric Format (EMF): the custom metrics of `docs/OPERATIONS.md`
//! ("Telemetry") as JSON log lines, which CloudWatch Logs turns into metrics with no
//! `PutMetricData` call. Pure: every function takes the time and returns the line's JSON; the
//! Lambda glue prints it to stdout. A step's own lines come from its typed part ([`StepMetrics`]).
//!
//! Namespace `SmartScale`; every line has the `ClusterId` dimension.

use crate::model::{Lease, Operation, ScaleAction};
use crate::steps::document::{
    CleanupPart, CordonedPart, DrainPart, EvaluatePart, ExecutionDocument, NotifiedPart,
    OutcomePart, ReadyPart, RecordedPart, ReleasedPart, SpotPart,
};
use crate::Config;
use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

/// The CloudWatch namespace of every SmartScale metric.
pub const NAMESPACE: &str = "SmartScale";

/// A CloudWatch unit, as EMF spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// `Count`.
    Count,
    /// `Milliseconds`.
    Milliseconds,
    /// `Percent`.
    Percent,
    /// `None` (used for the USD cost).
    None,
    /// `Seconds`.
    Seconds,
}

impl Unit {
    fn as_str(self) -> &'static str {
        match self {
            Unit::Count => "Count",
            Unit::Milliseconds => "Milliseconds",
            Unit::Percent => "Percent",
            Unit::None => "None",
            Unit::Seconds => "Seconds",
        }
    }
}

/// One EMF object: `metrics` as `(name, unit, value)` under the dimension set `ClusterId` plus
/// `dimensions`, timestamped `now` (milliseconds since the epoch).
pub fn emf(
    cluster_id: &str,
    dimensions: &[(&str, &str)],
    metrics: &[(&str, Unit, f64)],
    now: DateTime<Utc>,
) -> Value {
    let mut root = Map::new();
    let mut keys = vec![Value::from("ClusterId")];
    root.insert("ClusterId".into(), Value::from(cluster_id));
    for (k, v) in dimensions {
        keys.push(Value::from(*k));
        root.insert((*k).into(), Value::from(*v));
    }
    let defs: Vec<Value> = metrics
        .iter()
        .map(|(name, unit, _)| json!({"Name": name, "Unit": unit.as_str()}))
        .collect();
    for (name, _, value) in metrics {
        root.insert((*name).into(), json!(value));
    }
    root.insert(
        "_aws".into(),
        json!({
            "Timestamp": now.timestamp_millis(),
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [keys],
                "Metrics": defs,
            }]
        }),
    );
    Value::Object(root)
}

/// `AutoscalerInvocations` = 1 for one Lambda invocation of `step`.
pub fn invocation(cluster_id: &str, step: &str, now: DateTime<Utc>) -> Value {
    emf(
        cluster_id,
        &[("Step", step)],
        &[("AutoscalerInvocations", Unit::Count, 1.0)],
        now,
    )
}

/// `LambdaExecutionTime` of one invocation of `step`, in milliseconds.
pub fn execution_time(cluster_id: &str, step: &str, millis: u64, now: DateTime<Utc>) -> Value {
    emf(
        cluster_id,
        &[("Step", step)],
        &[("LambdaExecutionTime", Unit::Milliseconds, millis as f64)],
        now,
    )
}

/// The cluster gauges Evaluate saw: `CurrentNodeCount` and, when known, `ClusterCPUUtilization`,
/// `ClusterMemoryUtilization` (percent), `PendingPods` and `LongestPendingSeconds`. The cost is the
/// cost metric's ([`crate::cost::cost_metrics`]).
pub fn cluster_gauges(
    cluster_id: &str,
    summary: &crate::steps::document::MetricsSummary,
    now: DateTime<Utc>,
) -> Value {
    let mut m = vec![("CurrentNodeCount", Unit::Count, f64::from(summary.nodes))];
    if let Some(c) = summary.cpu_ratio {
        m.push(("ClusterCPUUtilization", Unit::Percent, c * 100.0));
    }
    if let Some(c) = summary.memory_ratio {
        m.push(("ClusterMemoryUtilization", Unit::Percent, c * 100.0));
    }
    if let Some(p) = summary.pending_pods {
        m.push(("PendingPods", Unit::Count, p));
    }
    if let Some(w) = summary.longest_pending_secs {
        m.push(("LongestPendingSeconds", Unit::Seconds, w));
    }
    emf(cluster_id, &[], &m, now)
}

/// The forecast Evaluate saw (docs/METRICS.md, "Forecast history"): `WorkersNeeded`, with
/// `WorkersForecast` and `ForecastError` (the forecast issued one horizon earlier less the need,
/// workers) when known; `None` when the tick measured no need.
pub fn forecast_gauges(
    cluster_id: &str,
    summary: &crate::steps::document::MetricsSummary,
    now: DateTime<Utc>,
) -> Option<Value> {
    let mut m = vec![("WorkersNeeded", Unit::Count, summary.needed_workers?)];
    if let Some(f) = summary.forecast_workers {
        m.push(("WorkersForecast", Unit::Count, f));
    }
    if let Some(e) = summary.forecast_error_workers {
        m.push(("ForecastError", Unit::Count, e));
    }
    Some(emf(cluster_id, &[], &m, now))
}

/// The `Reason` dimension (`docs/OPERATIONS.md`, "Telemetry") of a decision's reason codes:
/// `CPU`, `Memory`, `Pending`, `Minimum`, `Recovery` or `Custom` (queue, latency, error rate).
pub fn reason_category(code: &str) -> &'static str {
    match code {
        "cpu_high" | "cpu_low" => "CPU",
        "memory_high" | "memory_low" => "Memory",
        "pending_pods" | "no_pending_pods" | "no_room_for_next_pod" => "Pending",
        "below_minimum" => "Minimum",
        c if c.starts_with("recover") => "Recovery",
        _ => "Custom",
    }
}

/// `ScaleUpEvents` or `ScaleDownEvents` = 1 with the `Reason` of the first reason code.
pub fn scale_event(
    cluster_id: &str,
    action: ScaleAction,
    codes: &[String],
    now: DateTime<Utc>,
) -> Value {
    let name = match action {
        ScaleAction::ScaleUp => "ScaleUpEvents",
        ScaleAction::ScaleDown => "ScaleDownEvents",
    };
    let reason = codes.first().map_or("Custom", |c| reason_category(c));
    emf(
        cluster_id,
        &[("Reason", reason)],
        &[(name, Unit::Count, 1.0)],
        now,
    )
}

/// The `ErrorType` dimension (`docs/OPERATIONS.md`, "Telemetry") of an error name:
/// `EC2QuotaExceeded`, `LockTimeout` (lease lost), `DrainFailed`, `JoinTimeout`, else the name.
pub fn error_type(error_name: &str) -> &str {
    match error_name {
        "QuotaExceeded" => "EC2QuotaExceeded",
        "LeaseLost" => "LockTimeout",
        "DrainAborted" => "DrainFailed",
        other => other,
    }
}

/// `ScalingFailures` = 1 with `ErrorType`.
pub fn failure(cluster_id: &str, error_name: &str, now: DateTime<Utc>) -> Value {
    emf(
        cluster_id,
        &[("ErrorType", error_type(error_name))],
        &[("ScalingFailures", Unit::Count, 1.0)],
        now,
    )
}

/// `NodeJoinLatency` from launch to Ready, in milliseconds.
pub fn join_latency(cluster_id: &str, millis: i64, now: DateTime<Utc>) -> Value {
    emf(
        cluster_id,
        &[],
        &[("NodeJoinLatency", Unit::Milliseconds, millis.max(0) as f64)],
        now,
    )
}

/// A step's result, as the EMF lines it calls for besides the invocation and execution-time lines
/// every step gets. Each step's part implements it, reading its own typed fields and the document
/// the step ran on; a part with nothing to report keeps the default, no line.
pub trait StepMetrics {
    /// The lines this result calls for at `now`, for the document `doc` the step ran on.
    fn emf_lines(&self, doc: &ExecutionDocument, cfg: &Config, now: DateTime<Utc>) -> Vec<Value> {
        let _ = (doc, cfg, now);
        Vec::new()
    }
}

/// Evaluate: the gauges of the metrics it read (none on a recovery, which reads none) and the
/// fleet's cost ([`crate::cost::cost_metrics`]) when it priced the fleet.
impl StepMetrics for EvaluatePart {
    fn emf_lines(&self, doc: &ExecutionDocument, _: &Config, now: DateTime<Utc>) -> Vec<Value> {
        let gauges =
            self.metrics.iter().flat_map(|summary| {
                std::iter::once(cluster_gauges(&doc.cluster_id, summary, now))
                    .chain(forecast_gauges(&doc.cluster_id, summary, now))
            });
        let cost = self
            .cost
            .iter()
            .flat_map(|c| crate::cost::cost_metrics(&doc.cluster_id, c, now));
        gauges.chain(cost).collect()
    }
}

/// RecordOutcome: the scale event it recorded (by the decision's first reason code), the join
/// latency when workers became Ready, and the handled failure by its error name
/// ([`crate::lifecycle::OutcomeResult::error_name`]: `JoinTimeout`, and `DrainAborted` counted as `DrainFailed`).
impl StepMetrics for RecordedPart {
    fn emf_lines(&self, doc: &ExecutionDocument, _: &Config, now: DateTime<Utc>) -> Vec<Value> {
        let cluster = doc.cluster_id.as_str();
        let mut out = Vec::new();
        if let Some(action) = self.action {
            let codes = doc.decision.as_ref().map_or(&[][..], |d| &d.codes[..]);
            out.push(scale_event(cluster, action, codes, now));
        }
        if let (Some(op), Some(_)) = (
            &doc.operation,
            doc.ready.as_ref().filter(|r| !r.ready.is_empty()),
        ) {
            out.push(join_latency(
                cluster,
                (now - op.started_at).num_milliseconds(),
                now,
            ));
        }
        if let Some(name) = doc.outcome.as_ref().and_then(|o| o.result.error_name()) {
            out.push(failure(cluster, name, now));
        }
        out
    }
}

/// Cleanup: the failure it cleaned up after, by the caught error's name (`Unknown` without one).
impl StepMetrics for CleanupPart {
    fn emf_lines(&self, doc: &ExecutionDocument, _: &Config, now: DateTime<Utc>) -> Vec<Value> {
        let name = doc
            .error
            .as_ref()
            .map(|e| e.error.as_str())
            .filter(|e| !e.is_empty())
            .unwrap_or("Unknown");
        vec![failure(&doc.cluster_id, name, now)]
    }
}

impl StepMetrics for Lease {}
impl StepMetrics for Operation {}
impl StepMetrics for ReadyPart {}
impl StepMetrics for CordonedPart {}
impl StepMetrics for DrainPart {}
impl StepMetrics for OutcomePart {}
impl StepMetrics for NotifiedPart {}
impl StepMetrics for ReleasedPart {}
impl StepMetrics for SpotPart {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::steps::document::*;
    use crate::steps::testkit::*;

    /// Checks a line against the EMF specification: `_aws.Timestamp` in ms, one directive in
    /// `SmartScale`, every dimension key and metric name present at the root, metric values numbers.
    fn assert_valid_emf(v: &Value) -> Vec<String> {
        let aws = &v["_aws"];
        assert_eq!(aws["Timestamp"], t0().timestamp_millis());
        let directive = &aws["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], NAMESPACE);
        for set in directive["Dimensions"].as_array().unwrap() {
            let set = set.as_array().unwrap();
            assert!(!set.is_empty() && set.len() <= 30);
            for k in set {
                assert!(
                    v[k.as_str().unwrap()].is_string(),
                    "dimension {k} at the root"
                );
            }
        }
        directive["Metrics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                let name = m["Name"].as_str().unwrap();
                assert!(["Count", "Milliseconds", "Percent", "None", "Seconds"]
                    .contains(&m["Unit"].as_str().unwrap()));
                assert!(v[name].is_number(), "{name} value at the root");
                name.to_string()
            })
            .collect()
    }

    /// One line of [`every_metric_is_valid_emf`]: the metrics and dimensions it must carry.
    struct EmfCase {
        name: &'static str,
        line: Value,
        metrics: Vec<&'static str>,
        dimensions: Vec<(&'static str, &'static str)>,
    }

    #[test]
    fn every_metric_is_valid_emf() {
        let summary = MetricsSummary {
            cpu_ratio: Some(0.81),
            memory_ratio: Some(0.62),
            pending_pods: Some(3.0),
            nodes: 3,
            ready_nodes: 3,
            managed_nodes: 2,
            cached: false,
            needed_workers: Some(3.4),
            forecast_workers: Some(4.1),
            forecast_error_workers: Some(-0.2),
            longest_pending_secs: Some(200.0),
        };
        let cases = vec![
            EmfCase {
                name: "invocation",
                line: invocation("c1", "evaluate", t0()),
                metrics: vec!["AutoscalerInvocations"],
                dimensions: vec![("Step", "evaluate")],
            },
            EmfCase {
                name: "execution time",
                line: execution_time("c1", "notify", 120, t0()),
                metrics: vec!["LambdaExecutionTime"],
                dimensions: vec![("Step", "notify")],
            },
            EmfCase {
                name: "gauges",
                line: cluster_gauges("c1", &summary, t0()),
                metrics: vec![
                    "CurrentNodeCount",
                    "ClusterCPUUtilization",
                    "ClusterMemoryUtilization",
                    "PendingPods",
                    "LongestPendingSeconds",
                ],
                dimensions: vec![],
            },
            EmfCase {
                name: "forecast",
                line: forecast_gauges("c1", &summary, t0()).unwrap(),
                metrics: vec!["WorkersNeeded", "WorkersForecast", "ForecastError"],
                dimensions: vec![],
            },
            EmfCase {
                name: "scale up",
                line: scale_event("c1", ScaleAction::ScaleUp, &["cpu_high".into()], t0()),
                metrics: vec!["ScaleUpEvents"],
                dimensions: vec![("Reason", "CPU")],
            },
            EmfCase {
                name: "scale down",
                line: scale_event(
                    "c1",
                    ScaleAction::ScaleDown,
                    &["no_pending_pods".into()],
                    t0(),
                ),
                metrics: vec!["ScaleDownEvents"],
                dimensions: vec![("Reason", "Pending")],
            },
            EmfCase {
                name: "failure",
                line: failure("c1", "QuotaExceeded", t0()),
                metrics: vec!["ScalingFailures"],
                dimensions: vec![("ErrorType", "EC2QuotaExceeded")],
            },
            EmfCase {
                name: "join latency",
                line: join_latency("c1", 95_000, t0()),
                metrics: vec!["NodeJoinLatency"],
                dimensions: vec![],
            },
        ];
        for case in cases {
            let (name, v) = (case.name, &case.line);
            assert_eq!(assert_valid_emf(v), case.metrics, "case {name}");
            assert_eq!(v["ClusterId"], "c1", "case {name}");
            for (k, want) in case.dimensions {
                assert_eq!(v[k], want, "case {name}");
            }
        }
        let g = cluster_gauges("c1", &summary, t0());
        assert!((g["ClusterCPUUtilization"].as_f64().unwrap() - 81.0).abs() < 1e-9);
        assert_eq!(g["LongestPendingSeconds"], 200.0);
        let partial = cluster_gauges(
            "c1",
            &MetricsSummary {
                nodes: 2,
                ..Default::default()
            },
            t0(),
        );
        assert_eq!(assert_valid_emf(&partial), vec!["CurrentNodeCount"]);
    }

    #[test]
    fn steps_emit_what_their_result_calls_for() {
        let cfg = Config::default();
        let mut doc = ExecutionDocument {
            cluster_id: "c1".into(),
            ..Default::default()
        };
        doc.decision = Some(DecisionPart {
            action: Action::ScaleUp,
            count: 2,
            node: None,
            instance_id: None,
            reasons: vec![],
            codes: vec!["pending_pods".into()],
            alert: None,
            launch: None,
        });
        doc.operation = Some(scale_up_op("op", &["i-a"], at(300)));
        doc.ready = Some(ReadyPart {
            status: ReadyStatus::Ready,
            ready: vec!["i-a".into()],
            not_ready: vec![],
        });
        let names =
            |vs: Vec<Value>| -> Vec<String> { vs.iter().flat_map(assert_valid_emf).collect() };
        let now = t0();
        let rec = RecordedPart {
            action: Some(ScaleAction::ScaleUp),
            node_count: 3,
            reason: "x".into(),
        };
        assert_eq!(
            names(rec.emf_lines(&doc, &cfg, now)),
            vec!["ScaleUpEvents", "NodeJoinLatency"]
        );

        let mut failed = doc.clone();
        failed.ready = None;
        failed.outcome = Some(OutcomePart {
            result: OutcomeResult::DrainAborted,
            terminated: vec![],
            uncordoned: None,
            nodes_before: 2,
            nodes_after: 2,
        });
        let rec = RecordedPart {
            action: None,
            node_count: 2,
            reason: "x".into(),
        };
        let got = rec.emf_lines(&failed, &cfg, now);
        assert_eq!(names(got.clone()), vec!["ScalingFailures"]);
        assert_eq!(got[0]["ErrorType"], "DrainFailed");

        failed.error = Some(CaughtError {
            error: "LeaseLost".into(),
            cause: String::new(),
        });
        let cleanup = CleanupPart {
            released: true,
            release_note: None,
            alerted: true,
            notified: NotifiedPart::new(),
            operation_left_for_recovery: None,
        };
        let got = cleanup.emf_lines(&failed, &cfg, now);
        assert_eq!(got[0]["ErrorType"], "LockTimeout");

        let mut eval = EvaluatePart {
            decision: DecisionPart {
                action: Action::None,
                count: 0,
                node: None,
                instance_id: None,
                reasons: vec![],
                codes: vec![],
                alert: None,
                launch: None,
            },
            operation: None,
            metrics: Some(MetricsSummary {
                cpu_ratio: Some(0.5),
                memory_ratio: None,
                pending_pods: Some(0.0),
                nodes: 2,
                ready_nodes: 2,
                needed_workers: Some(1.4),
                ..Default::default()
            }),
            cost: None,
            notices: vec![],
        };
        assert_eq!(
            names(eval.emf_lines(&doc, &cfg, now)),
            vec![
                "CurrentNodeCount",
                "ClusterCPUUtilization",
                "PendingPods",
                "WorkersNeeded"
            ]
        );
        eval.cost = Some(crate::cost::FleetCost {
            by_type: vec![crate::cost::TypeCost {
                capacity_type: crate::model::CapacityType::Spot,
                instance_type: "t3.small".into(),
                workers: 1,
                usd_per_hour: 0.0079,
            }],
            baseline_usd_per_hour: 0.104,
            spot_share: 1.0,
            unpriced: vec![],
        });
        assert_eq!(
            names(eval.emf_lines(&doc, &cfg, now)),
            vec![
                "CurrentNodeCount",
                "ClusterCPUUtilization",
                "PendingPods",
                "WorkersNeeded",
                "HourlyCost",
                "HourlyCost",
                "HourlyCost",
                "HourlyCost",
                "BaselineHourlyCost",
                "SavingsVsBaseline",
                "SpotShare"
            ],
            "the gauges, then the cost lines"
        );
        eval.metrics = None;
        eval.cost = None;
        assert!(
            eval.emf_lines(&doc, &cfg, now).is_empty(),
            "a recovery reads no metrics"
        );
        assert!(NotifiedPart::new().emf_lines(&doc, &cfg, now).is_empty());
    }
}
