//! What SmartScale keeps in DynamoDB per cluster: the lease, the last action, the operation in
//! flight, and the last good metrics.

use super::metrics::MetricsSnapshot;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A scaling direction, as recorded in `last_scale_action`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScaleAction {
    /// Workers were added.
    ScaleUp,
    /// A worker was removed.
    ScaleDown,
}

impl ScaleAction {
    /// `scale_up` or `scale_down`, as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            ScaleAction::ScaleUp => "scale_up",
            ScaleAction::ScaleDown => "scale_down",
        }
    }
}

/// The cluster lease one execution holds while it changes anything.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    /// The holder: the Step Functions execution id.
    pub owner: String,
    /// Fencing number, strictly greater on every acquisition; writes are conditional on it.
    pub token: u64,
    /// When the lease lapses unless renewed.
    pub expires_at: DateTime<Utc>,
}

/// What an in-flight operation is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OperationKind {
    /// Launching workers and waiting for them to be Ready.
    ScaleUp,
    /// Cordoning, draining and terminating one worker.
    ScaleDown,
    /// Draining a Spot worker after an interruption warning and launching its replacement.
    SpotReplace,
}

/// An operation that changes the cluster, recorded before it starts so a dead run can be finished
/// or undone by the next one. The same value is the state item's `operation` and the execution
/// document's `$.operation` (RouteDecision reads its `kind` for a recovery).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Operation {
    /// Unique id; also the `smartscale/operation-id` tag and the EC2 client token's base.
    pub id: String,
    /// What it does.
    pub kind: OperationKind,
    /// Instances launched (scale-up) or to terminate (scale-down).
    #[serde(default)]
    pub instance_ids: Vec<String>,
    /// Workers asked for (scale-up).
    #[serde(default)]
    pub requested_count: u32,
    /// The node being drained (scale-down, spot).
    #[serde(default)]
    pub node_name: Option<String>,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// Join or drain deadline; past it the operation is undone.
    pub deadline: DateTime<Utc>,
    /// The decision's reasons, rendered, for the record and notifications.
    #[serde(default)]
    pub reason: String,
    /// How many times a later run has taken this operation over after the run that started it
    /// died; recovery gives up past a bound (see `docs/STATE_AND_LOCKING.md`).
    #[serde(default)]
    pub recovery_attempts: u32,
}

/// Last good metrics, kept for the "retry, then use cached metrics" rule (scale-up only).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CachedMetrics {
    /// The snapshot as it was when live.
    pub snapshot: MetricsSnapshot,
    /// When it was fetched.
    pub fetched_at: DateTime<Utc>,
}

/// The DynamoDB item for one cluster.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScalingState {
    /// Partition key.
    pub cluster_id: String,
    /// Workers after the last recorded action.
    pub node_count: Option<u32>,
    /// When the last scaling action finished.
    pub last_scale_time: Option<DateTime<Utc>>,
    /// What it was.
    pub last_scale_action: Option<ScaleAction>,
    /// Why, as rendered for people (`CPU 78%, pending pods 5`).
    pub last_scale_reason: Option<String>,
    /// The current lease, if any (possibly expired).
    pub lease: Option<Lease>,
    /// The highest fencing token ever issued (survives release).
    pub last_token: u64,
    /// The operation in flight, possibly left by a dead run.
    pub operation: Option<Operation>,
    /// Last good metrics.
    pub cached_metrics: Option<CachedMetrics>,
    /// The last "at maximum capacity" alert, if any: alerts are rate-limited against it.
    pub capacity_alert: Option<AlertRecord>,
}

/// When an alert was last raised, and under which lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertRecord {
    /// When it was raised.
    pub at: DateTime<Utc>,
    /// The fencing token of the lease that raised it: a retried step of the same execution
    /// recognises its own alert by it.
    pub token: u64,
}

impl ScalingState {
    /// The state of a cluster SmartScale has never acted on.
    pub fn new(cluster_id: impl Into<String>) -> Self {
        ScalingState {
            cluster_id: cluster_id.into(),
            node_count: None,
            last_scale_time: None,
            last_scale_action: None,
            last_scale_reason: None,
            lease: None,
            last_token: 0,
            operation: None,
            cached_metrics: None,
            capacity_alert: None,
        }
    }
}
