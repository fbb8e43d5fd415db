//! The execution document: the JSON object every state of both state machines receives whole,
//! and the part each step returns, exactly as `docs/STATE_MACHINE.md` ("The execution document")
//! describes it. Every part is optional at the top level because the document grows step by step;
//! a step that needs a part the machine should have written reports
//! [`crate::Error::InvalidInput`] naming it.

use crate::engine::capacity::LaunchPlan;
use crate::error::{Error, Result};
use crate::model::{Lease, Operation};
use crate::seams::{BlockedPod, Pool};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

pub use crate::lifecycle::{DrainStatus, OutcomeResult, ReadyStatus};

/// The whole document, periodic or spot.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ExecutionDocument {
    /// The cluster (periodic: from the input; spot: the `${ClusterId}` substitution).
    pub cluster_id: String,
    /// The execution ARN: the lease owner and the id in every log line.
    pub execution_id: String,
    /// Written by AcquireLock.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease: Option<Lease>,
    /// Written by AcquireLock's `LockHeld` Catch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skipped: Option<CaughtError>,
    /// Evaluate's raw result, present only between Evaluate and ApplyEvaluation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evaluation: Option<Value>,
    /// Written by Evaluate (via ApplyEvaluation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision: Option<DecisionPart>,
    /// Written by Evaluate, replaced by LaunchNodes. `null` when the decision is `none`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<Operation>,
    /// Written by Evaluate (via ApplyEvaluation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics: Option<MetricsSummary>,
    /// Written by Evaluate (via ApplyEvaluation): what Notify tells beside the outcome.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notices: Vec<crate::forecast::Notice>,
    /// Written by CheckNodesReady.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready: Option<ReadyPart>,
    /// Written by CordonNode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cordoned: Option<CordonedPart>,
    /// Written by DrainNode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drain: Option<DrainPart>,
    /// Written by HandleJoinFailure, TerminateNode or AbortDrain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<OutcomePart>,
    /// Written by RecordOutcome.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recorded: Option<RecordedPart>,
    /// Written by Notify: channel name to what happened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notified: Option<NotifiedPart>,
    /// Written by Notify's Catch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify_error: Option<CaughtError>,
    /// Written by ReleaseLock.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub released: Option<ReleasedPart>,
    /// Written by every Catch to Cleanup and by UnexpectedResult.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<CaughtError>,
    /// Written by Cleanup.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cleanup: Option<CleanupPart>,
    /// Written by Cleanup's Catch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cleanup_error: Option<CaughtError>,
    /// Spot: `$.detail['instance-id']` of the event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_id: Option<String>,
    /// Spot: the event's `detail-type`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal: Option<String>,
    /// Spot: the whole EventBridge event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<Value>,
    /// Spot: written by HandleSpotSignal and SpotDrainStep.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spot: Option<SpotPart>,
}

impl ExecutionDocument {
    /// Reads a document from JSON. Errors: [`Error::InvalidInput`] saying what does not match.
    pub fn from_value(v: Value) -> Result<Self> {
        serde_json::from_value(v)
            .map_err(|e| Error::invalid_input("reading the execution document", e))
    }

    /// The lease, or `InvalidInput` when AcquireLock's part is missing.
    pub fn require_lease(&self) -> Result<&Lease> {
        self.lease.as_ref().ok_or_else(|| missing("lease"))
    }

    /// The operation, or `InvalidInput` when it is missing.
    pub fn require_operation(&self) -> Result<&Operation> {
        self.operation.as_ref().ok_or_else(|| missing("operation"))
    }

    /// The operation's node name, or `InvalidInput`.
    pub fn require_node_name(&self) -> Result<&str> {
        self.require_operation()?
            .node_name
            .as_deref()
            .ok_or_else(|| missing("operation.node_name"))
    }

    /// Workers before this execution acted: `metrics.nodes` (periodic) or
    /// `spot.workers_before` (spot), 0 when unknown.
    pub fn nodes_before(&self) -> u32 {
        self.metrics
            .as_ref()
            .map(|m| m.nodes)
            .or(self.spot.as_ref().map(|s| s.workers_before))
            .unwrap_or(0)
    }

    /// True when Evaluate returned `recover` (an operation of a dead run is being finished).
    pub fn is_recovery(&self) -> bool {
        self.decision
            .as_ref()
            .is_some_and(|d| d.action == Action::Recover)
    }
}

fn missing(part: &str) -> Error {
    Error::invalid_input(
        "reading the execution document",
        format!("`{part}` is missing; the state machine writes it before this step"),
    )
}

/// A caught error, as Step Functions writes it: `{Error, Cause}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaughtError {
    /// The error name (the Lambda's `errorType`, `States.Timeout`, `UnexpectedResult`, ...).
    #[serde(rename = "Error", default)]
    pub error: String,
    /// For a Lambda error, the JSON of `{errorType, errorMessage, ...}`; otherwise text.
    #[serde(rename = "Cause", default)]
    pub cause: String,
}

impl CaughtError {
    /// The human message: `errorMessage` from a Lambda error's cause, else the cause itself.
    pub fn message(&self) -> String {
        serde_json::from_str::<Value>(&self.cause)
            .ok()
            .and_then(|v| {
                v.get("errorMessage")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            })
            .unwrap_or_else(|| self.cause.clone())
    }
}

/// What Evaluate decided, flat, as RouteDecision reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Nothing to do.
    None,
    /// Launch `count` workers.
    ScaleUp,
    /// Remove `node`.
    ScaleDown,
    /// Finish or undo the operation a dead run left.
    Recover,
}

/// `$.decision`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DecisionPart {
    /// Routed on by RouteDecision.
    pub action: Action,
    /// Workers to add (scale-up), 1 for a scale-down, 0 otherwise.
    #[serde(default)]
    pub count: u32,
    /// The node to remove (scale-down, recovered scale-down).
    #[serde(default)]
    pub node: Option<String>,
    /// Its instance.
    #[serde(default)]
    pub instance_id: Option<String>,
    /// The reasons, as sentences for people.
    #[serde(default)]
    pub reasons: Vec<String>,
    /// Short codes of the reasons (`cpu_high`, `pending_pods`, `at_maximum`, ...), used as the
    /// `Reason` metric dimension and to pick notifications.
    #[serde(default)]
    pub codes: Vec<String>,
    /// An alert people must get although nothing is done; absent (not `null`) otherwise, so
    /// RouteDecision tests it with `IsPresent` and the idle tick routes as before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert: Option<Alert>,
    /// A scale-up's launch: how many on-demand and Spot workers, from which instance types (the
    /// engine's capacity mix, `docs/SCALING_ALGORITHM.md` "What a scale-up launches"); absent on
    /// every other decision and in documents written before the mix existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub launch: Option<LaunchPlan>,
}

/// `$.decision.alert`: why a `none` decision still goes to Notify. RouteDecision
/// (`statemachine/smartscale.asl.json`) names each alert it routes to Notify; a test fails when
/// its list and this enum differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Alert {
    /// Scale-up is wanted but the cluster is at `MAX_NODES`; raised at most once per
    /// `CAPACITY_ALERT_INTERVAL`.
    AtMaximumCapacity,
    /// An operation left by dead runs was taken over too many times and was given up (raised
    /// once: the operation is closed when it is raised).
    RecoveryAbandoned,
    /// A Node claims a SmartScale instance without a matching address, or several Nodes claim
    /// one instance; the reasons name them, and no decision acts on those Nodes.
    NodeIdentityMismatch,
}

/// `$.metrics`: a small summary, far below the 256 KiB payload limit.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MetricsSummary {
    /// Cluster CPU utilisation, 0..1.
    pub cpu_ratio: Option<f64>,
    /// Cluster memory utilisation, 0..1.
    pub memory_ratio: Option<f64>,
    /// Pods Pending now.
    pub pending_pods: Option<f64>,
    /// Worker nodes (control plane excluded).
    pub nodes: u32,
    /// Ready worker nodes.
    pub ready_nodes: u32,
    /// Workers SmartScale launched (EC2 ownership tags).
    #[serde(default)]
    pub managed_nodes: u32,
    /// True when the values came from the cache because Prometheus failed.
    #[serde(default)]
    pub cached: bool,
    /// Workers the demand needs now (the forecast's measure), when the CPU reading is usable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub needed_workers: Option<f64>,
    /// Workers the forecast expects within `FORECAST_HORIZON`, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forecast_workers: Option<f64>,
    /// The forecast issued one horizon ago for this time less the need now, workers (positive:
    /// the forecast ran high), when both exist.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forecast_error_workers: Option<f64>,
    /// How long the oldest pod not yet placed on a node has been Pending, seconds (from the
    /// Kubernetes view); `None` when no pod waits. The weekly report's longest pending wait.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub longest_pending_secs: Option<f64>,
}

/// What Evaluate returns: all three keys always present (`null` allowed), because ApplyEvaluation
/// reads each of them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvaluatePart {
    /// The decision.
    pub decision: DecisionPart,
    /// The operation to carry out or recover; `null` for `none`.
    pub operation: Option<Operation>,
    /// The metrics summary; `null` when none was read (a recovery).
    pub metrics: Option<MetricsSummary>,
    /// What the managed fleet costs now, for the cost metric (absent when not priced);
    /// ApplyEvaluation leaves it out of the document.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost: Option<crate::cost::FleetCost>,
    /// Messages for Notify beside the decision's own (a scheduled floor started or ended, the
    /// `forecast-only` day summary); always present, usually empty, because ApplyEvaluation
    /// lifts it to `$.notices`.
    #[serde(default)]
    pub notices: Vec<crate::forecast::Notice>,
}

/// `$.ready`: instance ids by readiness.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadyPart {
    /// Routed on by RouteReadiness.
    pub status: ReadyStatus,
    /// Instances whose node is Ready.
    pub ready: Vec<String>,
    /// Instances with no node or a NotReady one.
    pub not_ready: Vec<String>,
}

/// `$.cordoned`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CordonedPart {
    /// The node.
    pub node_name: String,
    /// Always true on success (cordon is idempotent).
    pub cordoned: bool,
}

/// `$.drain`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DrainPart {
    /// Routed on by RouteDrain.
    pub status: DrainStatus,
    /// Pods still on the node (`namespace/name`).
    pub remaining: Vec<String>,
    /// Pods whose eviction was refused, with why.
    pub blocked: Vec<BlockedPod>,
    /// Pods evicted by this step.
    #[serde(default)]
    pub evicted: Vec<String>,
}

/// `$.outcome`: what was done, with node counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutcomePart {
    /// Which step and how it ended.
    pub result: OutcomeResult,
    /// Instances terminated.
    #[serde(default)]
    pub terminated: Vec<String>,
    /// The node uncordoned (AbortDrain).
    #[serde(default)]
    pub uncordoned: Option<String>,
    /// Workers before the operation.
    pub nodes_before: u32,
    /// Workers after it.
    pub nodes_after: u32,
}

/// `$.recorded`: the state-table write RecordOutcome made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedPart {
    /// `scale_up`, `scale_down`, or `null` when the operation was undone.
    pub action: Option<crate::model::ScaleAction>,
    /// Workers recorded.
    pub node_count: u32,
    /// The reason recorded.
    pub reason: String,
}

/// `$.notified`: channel name (`slack`, `sns`) to `sent`, `skipped: ...` or `failed: ...`.
pub type NotifiedPart = BTreeMap<String, String>;

/// `$.released`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleasedPart {
    /// True when this execution's lease was given up.
    pub released: bool,
}

/// `$.cleanup`: what Cleanup did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CleanupPart {
    /// True when this execution's lease was released.
    pub released: bool,
    /// Why not, when it was not (no lease, or it was no longer ours).
    #[serde(default)]
    pub release_note: Option<String>,
    /// True when at least one channel took the alert.
    pub alerted: bool,
    /// What each channel did.
    #[serde(default)]
    pub notified: NotifiedPart,
    /// The operation left in the state table for the next tick to recover, if any.
    #[serde(default)]
    pub operation_left_for_recovery: Option<String>,
}

/// Which EC2 signal started the spot machine.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SpotSignalKind {
    /// A Spot Instance Interruption Warning: the instance is reclaimed two minutes later, so it is
    /// cordoned and drained at once, and replaced under the lease.
    #[default]
    Warning,
    /// A Rebalance Recommendation: the instance is at elevated risk; it is replaced first, then
    /// drained and terminated (or left uncordoned when its drain is refused).
    Rebalance,
}

/// `$.spot`: the signalled instance and the drain a warning starts at once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpotPart {
    /// The signal.
    #[serde(default)]
    pub signal: SpotSignalKind,
    /// The reclaim drain of a warning, routed on by RouteSpotEnd (`drained` for a rebalance,
    /// whose node is drained by the scale-down steps after its replacement).
    pub status: DrainStatus,
    /// The interrupted instance's node, when it has one.
    pub node_name: Option<String>,
    /// The instance's type and zone: the Spot pool the replacement avoids.
    #[serde(default)]
    pub pool: Option<Pool>,
    /// Running or pending workers at the signal, the signalled one included.
    #[serde(default)]
    pub workers_before: u32,
    /// Pods still on the node.
    pub remaining: Vec<String>,
    /// Pods whose eviction was refused or that a reclaim drain leaves alone.
    pub blocked: Vec<BlockedPod>,
    /// Signal time + `SPOT_DRAIN_TIMEOUT`.
    pub deadline: DateTime<Utc>,
    /// Until when AcquireLock is tried again while another execution holds the lease: the drain
    /// deadline plus `LOCK_TTL`. Past it the replacement is left to the periodic scaling.
    #[serde(default = "epoch")]
    pub lease_wait_until: DateTime<Utc>,
    /// True once `lease_wait_until` passed without the lease (RouteLeaseBusy stops waiting).
    #[serde(default)]
    pub lease_wait_over: bool,
    /// Set when the signal is ignored (the instance is not SmartScale's, or a rebalance for a
    /// node already cordoned); the machine ends in Done and Notify is not called.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
}

fn epoch() -> DateTime<Utc> {
    DateTime::UNIX_EPOCH
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::de::{self, Visitor};

    /// A deserializer that only records the variant names an enum's derived `Deserialize`
    /// declares (its serialised names, after `rename_all`).
    struct VariantNames<'a>(&'a mut &'static [&'static str]);

    impl<'de> de::Deserializer<'de> for VariantNames<'_> {
        type Error = de::value::Error;

        fn deserialize_any<V: Visitor<'de>>(
            self,
            _: V,
        ) -> std::result::Result<V::Value, Self::Error> {
            Err(de::Error::custom("not an enum"))
        }

        fn deserialize_enum<V: Visitor<'de>>(
            self,
            _: &'static str,
            variants: &'static [&'static str],
            _: V,
        ) -> std::result::Result<V::Value, Self::Error> {
            *self.0 = variants;
            Err(de::Error::custom("variants recorded"))
        }

        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
            option unit unit_struct newtype_struct seq tuple tuple_struct map struct identifier
            ignored_any
        }
    }

    fn variant_names<'de, T: Deserialize<'de>>() -> Vec<String> {
        let mut names: &'static [&'static str] = &[];
        let _ = T::deserialize(VariantNames(&mut names));
        names.iter().map(|n| n.to_string()).collect()
    }

    /// Every `StringEquals` on `$.decision.alert` below `rule`.
    fn alerts_in(rule: &Value, out: &mut Vec<String>) {
        match rule {
            Value::Object(m) => {
                if m.get("Variable").and_then(Value::as_str) == Some("$.decision.alert") {
                    if let Some(s) = m.get("StringEquals").and_then(Value::as_str) {
                        out.push(s.to_string());
                    }
                }
                m.values().for_each(|v| alerts_in(v, out));
            }
            Value::Array(a) => a.iter().for_each(|v| alerts_in(v, out)),
            _ => {}
        }
    }

    fn definition() -> Value {
        serde_json::from_str(include_str!("../../../../statemachine/smartscale.asl.json")).unwrap()
    }

    #[test]
    fn handled_failures_end_in_the_error_their_outcome_names() {
        let asl = definition();
        let mut ends: Vec<String> = asl["States"]["RouteFinish"]["Choices"]
            .as_array()
            .expect("RouteFinish is a Choice state")
            .iter()
            .map(|c| &asl["States"][c["Next"].as_str().unwrap()])
            .filter(|s| s["Type"] == "Fail")
            .map(|s| s["Error"].as_str().unwrap().to_string())
            .collect();
        ends.sort();
        ends.dedup();
        let mut named: Vec<String> = variant_names::<OutcomeResult>()
            .into_iter()
            .filter_map(|v| {
                let result: OutcomeResult = serde_json::from_value(Value::from(v)).unwrap();
                result.error_name().map(str::to_string)
            })
            .collect();
        named.sort();
        assert!(
            !named.is_empty(),
            "the probe reads OutcomeResult's variants"
        );
        assert_eq!(
            ends, named,
            "RouteFinish's Fail states end with the errors OutcomeResult::error_name gives"
        );
    }

    #[test]
    fn route_decision_sends_every_alert_to_notify_and_no_other() {
        let asl = definition();
        let choices = asl["States"]["RouteDecision"]["Choices"]
            .as_array()
            .expect("RouteDecision is a Choice state");
        let mut routed = Vec::new();
        for choice in choices.iter().filter(|c| c["Next"] == "Notify") {
            alerts_in(choice, &mut routed);
        }
        routed.sort();
        let mut alerts = variant_names::<Alert>();
        alerts.sort();
        assert!(!alerts.is_empty(), "the probe reads Alert's variants");
        assert_eq!(
            routed, alerts,
            "the alerts RouteDecision sends to Notify (statemachine/smartscale.asl.json) are the Rust Alert enum's"
        );
    }
}
