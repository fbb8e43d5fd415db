//! The step logic each Lambda runs: one module per state of the two state machines. Each step
//! takes the execution document, the seams and `now`, and returns only its part of the document
//! (see [`document`]). Rules every step follows:
//! - it renews the lease first when it runs under one, and writes state only with it (the
//!   [`crate::seams::StateStore`] writes are conditional), so a run whose lease was taken over
//!   stops with `LeaseLost`;
//! - deadlines come from `$.operation.deadline` (or `$.spot.deadline`) against `now`, never from
//!   counting loops;
//! - it is idempotent for a given document: a `Retry` re-runs it with the same input.

pub mod abort_drain;
pub mod acquire_lock;
pub mod check_nodes_ready;
pub mod cleanup;
pub mod cordon_node;
pub mod document;
pub mod drain_node;
pub mod evaluate;
mod forecast_tick;
pub mod ghosts;
pub mod handle_join_failure;
pub mod identity;
pub mod launch_nodes;
pub mod notify;
pub mod record_outcome;
pub mod recovery;
pub mod release_lock;
pub mod spot_interruption;
pub mod spot_replace;
pub mod spot_signal;
pub mod terminate_node;
pub mod weekly_report;

#[cfg(test)]
mod events_test;
#[cfg(test)]
pub(crate) mod testkit;

use crate::error::{Error, Result};
use crate::lifecycle::Finish;
use crate::model::{CachedMetrics, ClusterView, Lease, MetricsSnapshot, Operation, ScalingState};
use crate::notify::weekly::Samples;
use crate::notify::Notification;
use crate::seams::{
    ClusterApi, DrainMode, DrainProgress, LaunchRequest, Launched, LedgerEntry, ManagedInstance,
    MetricHistory, MetricsSource, NodeProvisioner, Notifier, Pool, SeriesQuery, SpotClaim,
    StateStore,
};
use crate::Config;
use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use document::{DrainStatus, NotifiedPart};
use std::sync::Arc;

/// What a step runs with: the configuration and one implementation per seam.
///
/// A Lambda wires only the seams its step uses; the others are [`Unwired`], which fails every
/// call with a `Fatal` error naming the seam, so a wiring mistake is loud rather than silent.
#[derive(Clone)]
pub struct Deps {
    /// The configuration read at cold start.
    pub config: Config,
    /// The DynamoDB state item.
    pub store: Arc<dyn StateStore>,
    /// EC2 workers.
    pub provisioner: Arc<dyn NodeProvisioner>,
    /// The Kubernetes API.
    pub cluster: Arc<dyn ClusterApi>,
    /// Prometheus.
    pub metrics: Arc<dyn MetricsSource>,
    /// CloudWatch: the history of SmartScale's own metrics.
    pub history: Arc<dyn MetricHistory>,
    /// The channels people are told through, in order (Slack, SNS); may be empty.
    pub notifiers: Vec<Arc<dyn Notifier>>,
}

impl Deps {
    /// Deps with every seam [`Unwired`] and no notifier; set the fields a step needs.
    pub fn unwired(config: Config) -> Self {
        let u = Arc::new(Unwired);
        Deps {
            config,
            store: u.clone(),
            provisioner: u.clone(),
            cluster: u.clone(),
            metrics: u.clone(),
            history: u,
            notifiers: Vec::new(),
        }
    }
}

/// The stand-in for a seam a Lambda does not wire: every call fails with [`Error::Fatal`]
/// naming the seam.
#[derive(Debug, Clone, Copy, Default)]
pub struct Unwired;

fn unwired<T>(seam: &str) -> Result<T> {
    Err(Error::fatal(
        format!("calling {seam}"),
        "this Lambda is not wired with that seam (a wiring bug in its main.rs)",
    ))
}

#[async_trait]
impl StateStore for Unwired {
    async fn load(&self) -> Result<ScalingState> {
        unwired("StateStore")
    }
    async fn acquire(&self, _: &str, _: DateTime<Utc>, _: u64) -> Result<Lease> {
        unwired("StateStore")
    }
    async fn renew(&self, _: &Lease, _: DateTime<Utc>, _: u64) -> Result<Lease> {
        unwired("StateStore")
    }
    async fn release(&self, _: &Lease) -> Result<()> {
        unwired("StateStore")
    }
    async fn save_operation(&self, _: &Lease, _: &Operation) -> Result<()> {
        unwired("StateStore")
    }
    async fn finish_operation(&self, _: &Lease, _: &Finish) -> Result<()> {
        unwired("StateStore")
    }
    async fn save_cached_metrics(&self, _: &Lease, _: &CachedMetrics) -> Result<()> {
        unwired("StateStore")
    }
    async fn record_capacity_alert(&self, _: &Lease, _: DateTime<Utc>) -> Result<()> {
        unwired("StateStore")
    }
    async fn claim_instance(&self, _: SpotClaim<'_>) -> Result<()> {
        unwired("StateStore")
    }
    async fn failed_offers(&self, _: DateTime<Utc>) -> Result<Vec<Pool>> {
        unwired("StateStore")
    }
    async fn remember_failed_offers(&self, _: &[Pool], _: DateTime<Utc>) -> Result<()> {
        unwired("StateStore")
    }
    async fn load_forecast(&self) -> Result<Option<crate::forecast::ForecastRecord>> {
        unwired("StateStore")
    }
    async fn save_forecast(
        &self,
        _: &Lease,
        _: &crate::forecast::ForecastRecord,
        _: DateTime<Utc>,
    ) -> Result<()> {
        unwired("StateStore")
    }
    async fn record_week_events(&self, _: NaiveDate, _: &[LedgerEntry]) -> Result<()> {
        unwired("StateStore")
    }
    async fn week_events(&self, _: NaiveDate) -> Result<Vec<LedgerEntry>> {
        unwired("StateStore")
    }
}

#[async_trait]
impl NodeProvisioner for Unwired {
    async fn launch(&self, _: &LaunchRequest) -> Result<Launched> {
        unwired("NodeProvisioner")
    }
    async fn terminate(&self, _: &str) -> Result<()> {
        unwired("NodeProvisioner")
    }
    async fn describe_managed(&self) -> Result<Vec<ManagedInstance>> {
        unwired("NodeProvisioner")
    }
    async fn gone(&self, _: &[String]) -> Result<Vec<String>> {
        unwired("NodeProvisioner")
    }
}

#[async_trait]
impl ClusterApi for Unwired {
    async fn view(&self) -> Result<ClusterView> {
        unwired("ClusterApi")
    }
    async fn cordon(&self, _: &str) -> Result<()> {
        unwired("ClusterApi")
    }
    async fn uncordon(&self, _: &str) -> Result<()> {
        unwired("ClusterApi")
    }
    async fn drain_step(&self, _: &str, _: DrainMode) -> Result<DrainProgress> {
        unwired("ClusterApi")
    }
    async fn delete_node(&self, _: &str) -> Result<()> {
        unwired("ClusterApi")
    }
}

#[async_trait]
impl MetricHistory for Unwired {
    async fn minutely(
        &self,
        _: &[SeriesQuery],
        _: DateTime<Utc>,
        _: DateTime<Utc>,
    ) -> Result<std::collections::BTreeMap<String, Samples>> {
        unwired("MetricHistory")
    }
}

#[async_trait]
impl MetricsSource for Unwired {
    async fn snapshot(&self, _: DateTime<Utc>) -> Result<MetricsSnapshot> {
        unwired("MetricsSource")
    }
    async fn demand_range(
        &self,
        _: DateTime<Utc>,
        _: DateTime<Utc>,
        _: u64,
    ) -> Result<Vec<(DateTime<Utc>, crate::engine::forecast::DemandParts)>> {
        unwired("MetricsSource")
    }
}

/// Renews the document's lease for `LOCK_TTL` and returns the renewed lease.
/// Errors: `InvalidInput` without a lease, `LeaseLost` when it is no longer ours.
pub(crate) async fn renew(
    doc: &document::ExecutionDocument,
    deps: &Deps,
    now: DateTime<Utc>,
) -> Result<Lease> {
    let lease = doc.require_lease()?;
    deps.store
        .renew(lease, now, deps.config.lock_ttl_secs)
        .await
}

/// The status of a drain after a step, against its deadline: drained wins, then the deadline
/// (blocked when something refused eviction), else in progress.
pub(crate) fn drain_status(
    progress: &DrainProgress,
    deadline: DateTime<Utc>,
    now: DateTime<Utc>,
) -> DrainStatus {
    crate::lifecycle::drain_status(
        progress.is_drained(),
        !progress.blocked.is_empty(),
        deadline,
        now,
    )
}

/// Sends `n` through every notifier; never fails. Returns what each channel did.
pub(crate) async fn send_all(deps: &Deps, n: &Notification) -> NotifiedPart {
    let mut out = NotifiedPart::new();
    for notifier in &deps.notifiers {
        let result = match notifier.send(n).await {
            Ok(()) => "sent".to_string(),
            Err(e) => {
                tracing::warn!(channel = notifier.channel(), kind = n.kind.as_str(), error = %e, "notification not delivered");
                format!("failed: {e}")
            }
        };
        out.insert(notifier.channel().to_string(), result);
    }
    out
}

/// The node verified to be `instance_id` ([`identity::Identities`]): the one Node claiming it,
/// with a matching address. A Node that merely names the instance in its provider id is not it.
pub(crate) fn node_of_instance<'a>(
    nodes: &'a [crate::model::NodeInfo],
    instances: &[ManagedInstance],
    instance_id: &str,
) -> Option<&'a crate::model::NodeInfo> {
    let ids = identity::Identities::of(nodes, instances);
    let name = ids.node_of(instance_id)?;
    nodes.iter().find(|n| n.name == name)
}
