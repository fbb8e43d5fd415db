//! The traits at the edges of the core: one per outside system. Adapters implement them against
//! the real services (and the local stand-ins); fakes implement them for unit tests.
//!
//! Every method takes the time it needs as an argument and returns [`crate::Error`], translated
//! from the vendor's error at the adapter, so callers and the state machine can tell what is
//! retryable.

use crate::engine::forecast::DemandParts;
use crate::error::Result;
use crate::forecast::ForecastRecord;
use crate::lifecycle::Finish;
use crate::model::{CachedMetrics, ClusterView, Lease, MetricsSnapshot, Operation, ScalingState};
use crate::notify::weekly::{Samples, WeekEvent, WeeklyReport};
use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Cluster metrics, as Prometheus computes them.
#[async_trait]
pub trait MetricsSource: Send + Sync {
    /// Runs every query for evaluation time `now` within the configured time budget.
    ///
    /// Inputs that failed or came back unusable are listed in `missing`/`stale` of an `Ok`
    /// snapshot; optional inputs never fail the call. Errors: [`crate::Error::MetricsUnavailable`]
    /// when Prometheus cannot be reached or answers nothing usable for the required inputs.
    async fn snapshot(&self, now: DateTime<Utc>) -> Result<MetricsSnapshot>;

    /// The demand over `[from, to]`, one point every `step_secs` (each the highest of the
    /// `step_secs` before it), from the recorded series of the forecast backfill
    /// (docs/METRICS.md, "Forecast history"), oldest first: one range query. Times without data
    /// are left out.
    ///
    /// Errors: [`crate::Error::MetricsUnavailable`] when Prometheus cannot be reached or refuses
    /// the query.
    async fn demand_range(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        step_secs: u64,
    ) -> Result<Vec<(DateTime<Utc>, DemandParts)>>;
}

/// The DynamoDB item of one cluster: lease, last action, operation in flight, cached metrics.
///
/// Every write but `acquire` is conditional on the caller's lease (owner and fencing token), so a
/// holder whose lease was taken over cannot write: it gets [`crate::Error::LeaseLost`].
#[async_trait]
pub trait StateStore: Send + Sync {
    /// The current item, or a fresh [`ScalingState`] when none exists. An expired lease and an
    /// unfinished operation left by a dead run are returned as they are.
    async fn load(&self) -> Result<ScalingState>;

    /// Takes the lease for `owner` when it is free or expired at `now`, with a token higher than
    /// any issued before. Errors: [`crate::Error::LockHeld`] naming the holder otherwise.
    async fn acquire(&self, owner: &str, now: DateTime<Utc>, ttl_secs: u64) -> Result<Lease>;

    /// Extends `lease` to `now + ttl_secs`. Errors: `LeaseLost` when it is no longer ours.
    async fn renew(&self, lease: &Lease, now: DateTime<Utc>, ttl_secs: u64) -> Result<Lease>;

    /// Gives the lease up. Errors: `LeaseLost` when it is no longer ours (nothing is changed).
    async fn release(&self, lease: &Lease) -> Result<()>;

    /// Records `op` as the operation in flight (replacing the previous record of the same id).
    /// Errors: `LeaseLost`.
    async fn save_operation(&self, lease: &Lease, op: &Operation) -> Result<()>;

    /// Clears the operation in flight and records `finish` as [`crate::lifecycle::apply`] does:
    /// `node_count` and `last_scale_reason` always, `last_scale_action` and
    /// `last_scale_time = finish.at` only when an action was recorded (`None`: the operation was
    /// undone, no cooldown starts).
    /// Errors: `LeaseLost`.
    async fn finish_operation(&self, lease: &Lease, finish: &Finish) -> Result<()>;

    /// Stores the last good metrics, `cached` as the caller built it (fetched at its
    /// `fetched_at`, which is also when the write is made). Errors: `LeaseLost`.
    async fn save_cached_metrics(&self, lease: &Lease, cached: &CachedMetrics) -> Result<()>;

    /// Records that the "at maximum capacity" alert was raised at `now` by `lease`'s holder
    /// ([`ScalingState::capacity_alert`]), so later ticks stay silent for the configured interval.
    /// Writing it again with the same lease is harmless. Errors: `LeaseLost`.
    async fn record_capacity_alert(&self, lease: &Lease, now: DateTime<Utc>) -> Result<()>;

    /// The forecast's item of this cluster (`<cluster>#forecast`, beside the cluster item), read
    /// consistently; `None` when there is none, or when it holds a layout this build does not
    /// read (logged: the caller starts afresh and backfills). Errors: `Transient`.
    async fn load_forecast(&self) -> Result<Option<ForecastRecord>>;

    /// Writes the forecast's item as `lease`'s holder: refused when a holder with a higher
    /// fencing token has written it since (so a run whose lease was taken over cannot put an
    /// older history back). Errors: `LeaseLost` when refused.
    async fn save_forecast(
        &self,
        lease: &Lease,
        record: &ForecastRecord,
        now: DateTime<Utc>,
    ) -> Result<()>;

    /// The Spot pools whose offers failed and have not expired at `now` ([`StateStore::remember_failed_offers`]),
    /// from an item of their own beside the cluster item. Errors: `Transient`.
    async fn failed_offers(&self, now: DateTime<Utc>) -> Result<Vec<Pool>>;

    /// Remembers `pools` as failed until `until`, so launches skip them meanwhile; needs no lease
    /// (a launch under any lease may add to it). Errors: `Transient`.
    async fn remember_failed_offers(&self, pools: &[Pool], until: DateTime<Utc>) -> Result<()>;

    /// Claims Spot `claim.instance_id` for `claim.owner` (the spot execution) until
    /// [`SpotClaim::expires_at`], in an item of its own beside the cluster item, so one
    /// interrupted instance is handled by one execution. Succeeds when nobody holds the claim,
    /// when it expired at `claim.now`, or when `claim.owner` already holds it (a retried step);
    /// the claim does not touch the cluster lease.
    ///
    /// Errors: [`crate::Error::LockHeld`] naming the other owner and its expiry otherwise.
    async fn claim_instance(&self, claim: SpotClaim<'_>) -> Result<()>;

    /// Records `entries` in the weekly ledger item of `week` (the local Monday
    /// [`crate::notify::weekly::ledger_week`] gives for their time), beside the cluster item. Each
    /// entry is kept once under its kind and id with the time first recorded, so a retried step
    /// counts nothing twice; needs no lease. Errors: `Transient`.
    async fn record_week_events(&self, week: NaiveDate, entries: &[LedgerEntry]) -> Result<()>;

    /// The entries of the ledger item of `week`, none when it does not exist.
    /// Errors: `Transient`; `Fatal` for an entry that cannot be read.
    async fn week_events(&self, week: NaiveDate) -> Result<Vec<LedgerEntry>>;
}

/// One event of the weekly ledger (`docs/WEEKLY_REPORT.md`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerEntry {
    /// What happened.
    pub kind: WeekEvent,
    /// What it happened to: the operation id, or the instance id for Spot signals and
    /// replacements.
    pub id: String,
    /// When it was recorded.
    pub at: DateTime<Utc>,
}

/// Which statistic of a CloudWatch metric to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Statistic {
    /// The mean of the samples in a bucket.
    Average,
    /// The largest sample in a bucket.
    Maximum,
}

/// One SmartScale metric series (namespace [`crate::telemetry::NAMESPACE`], dimension
/// `ClusterId` plus `dimensions`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeriesQuery {
    /// The caller's name for the series: a lower-case letter, then letters, digits and `_`.
    pub id: String,
    /// The metric name, for example `CurrentNodeCount`.
    pub metric: String,
    /// The dimensions besides `ClusterId`, exactly as written (CloudWatch matches the whole set).
    pub dimensions: Vec<(String, String)>,
    /// The statistic per bucket.
    pub stat: Statistic,
}

/// The history of the metrics SmartScale's functions write (CloudWatch).
#[async_trait]
pub trait MetricHistory: Send + Sync {
    /// The statistic of each query per one-minute bucket of `[from, to)`, keyed by the query's
    /// id then the bucket's start; buckets without samples are absent. Errors: `Transient` for
    /// throttling, 5xx and timeouts; `Fatal` for a refused query.
    async fn minutely(
        &self,
        queries: &[SeriesQuery],
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<BTreeMap<String, Samples>>;
}

/// Whether a worker is Spot or on-demand: the engine's type, the one owner of the purchase option.
pub use crate::model::CapacityType;

/// A claim on one interrupted Spot instance, asked of [`StateStore::claim_instance`]: who
/// handles it, from when, and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpotClaim<'a> {
    /// The claimed id (the instance id, per signal kind: `steps::spot_interruption::claim_id`).
    pub instance_id: &'a str,
    /// The execution that claims it.
    pub owner: &'a str,
    /// When the claim is made; a claim that expired at `now` is free.
    pub now: DateTime<Utc>,
    /// How long the claim holds from `now`, in seconds.
    pub ttl_secs: u64,
}

impl SpotClaim<'_> {
    /// When the claim lapses: `now + ttl_secs`.
    pub fn expires_at(&self) -> DateTime<Utc> {
        self.now + chrono::Duration::seconds(self.ttl_secs as i64)
    }
}

/// A Spot capacity pool: an instance type in an availability zone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pool {
    /// Instance type, for example `t3.small`.
    pub instance_type: String,
    /// Availability zone, for example `ap-south-1a`.
    pub zone: String,
}

/// A launch: `on_demand` + `spot` workers for operation `operation_id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LaunchRequest {
    /// The operation id: tagged on the instances and the base of the client token.
    pub operation_id: String,
    /// On-demand workers wanted in total for this operation (already-launched ones count).
    pub on_demand: u32,
    /// Spot workers wanted in total for this operation; what Spot cannot supply is launched
    /// on-demand in the same call.
    pub spot: u32,
    /// Instance types in preference order; empty means the configured `WORKER_INSTANCE_TYPES`.
    #[serde(default)]
    pub instance_types: Vec<String>,
    /// Spot pools not to launch Spot capacity in (an interrupted worker's pool, offers that failed
    /// a few minutes ago); on-demand capacity there is still used.
    #[serde(default)]
    pub avoid: Vec<Pool>,
}

impl LaunchRequest {
    /// Workers wanted in total.
    pub fn count(&self) -> u32 {
        self.on_demand + self.spot
    }
}

/// A Spot pool that had no capacity for a launch (the error EC2 gave); its share was launched
/// on-demand instead.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailedOffer {
    /// The pool.
    pub pool: Pool,
    /// EC2's error code, for example `InsufficientInstanceCapacity`.
    pub code: String,
}

/// What a launch achieved.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Launched {
    /// Every instance of the operation, those launched before included.
    pub instances: Vec<ManagedInstance>,
    /// Spot pools that failed this time; remembered by the caller and skipped for a while.
    pub failed_offers: Vec<FailedOffer>,
}

/// An EC2 instance SmartScale launched for this cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManagedInstance {
    /// Instance id.
    pub instance_id: String,
    /// Availability zone.
    pub zone: String,
    /// Instance type.
    pub instance_type: String,
    /// Spot or on-demand (the `Lifecycle` tag SmartScale writes, else EC2's `InstanceLifecycle`).
    pub capacity_type: CapacityType,
    /// EC2 state name (`pending`, `running`, `shutting-down`, `terminated`, …).
    pub state: String,
    /// Launch time.
    pub launched_at: DateTime<Utc>,
    /// The `smartscale/operation-id` tag.
    pub operation_id: Option<String>,
    /// Private DNS name (the K3s node name on Amazon Linux).
    pub private_dns_name: Option<String>,
    /// Private IPv4 address (the node's `InternalIP`).
    #[serde(default)]
    pub private_ip: Option<String>,
}

impl ManagedInstance {
    /// `aws:///<zone>/<instance-id>`, the provider id its K3s node carries.
    pub fn provider_id(&self) -> String {
        crate::model::provider_id(&self.zone, &self.instance_id)
    }
}

/// EC2 workers.
#[async_trait]
pub trait NodeProvisioner: Send + Sync {
    /// Makes sure `req.on_demand` on-demand and `req.spot` Spot workers exist for
    /// `req.operation_id`, launching only what is missing (idempotent across retries), and
    /// returns all of them with the Spot pools that had no capacity (whose share was launched
    /// on-demand at once).
    ///
    /// Errors: [`crate::Error::QuotaExceeded`] (instance or vCPU limit, not retryable),
    /// [`crate::Error::NoCapacity`] when no pool of either purchase option had capacity,
    /// [`crate::Error::Transient`] for throttling and 5xx.
    async fn launch(&self, req: &LaunchRequest) -> Result<Launched>;

    /// Terminates `instance_id` if and only if it carries `ManagedBy=smartscale` and this cluster's
    /// tag; already terminated or gone is success. Errors: [`crate::Error::NotOwned`] otherwise.
    async fn terminate(&self, instance_id: &str) -> Result<()>;

    /// The cluster's managed instances that are not terminated.
    async fn describe_managed(&self) -> Result<Vec<ManagedInstance>>;

    /// Of [`NodeProvisioner::describe_managed`], the instances of one operation: those in
    /// `recorded`, or when none is recorded those tagged with `operation_id` (what a dead run
    /// launched and never recorded). A launch records every instance of its operation at once,
    /// so a non-empty record is the whole operation. What a step polling one operation needs,
    /// without describing the whole fleet: the default filters `describe_managed`, an adapter
    /// asks EC2 for these alone. Errors: [`crate::Error::Transient`].
    async fn describe_operation(
        &self,
        operation_id: &str,
        recorded: &[String],
    ) -> Result<Vec<ManagedInstance>> {
        Ok(self
            .describe_managed()
            .await?
            .into_iter()
            .filter(|m| {
                if recorded.is_empty() {
                    m.operation_id.as_deref() == Some(operation_id)
                } else {
                    recorded.contains(&m.instance_id)
                }
            })
            .collect())
    }

    /// Of `instance_ids` (anyone's), those EC2 reports `terminated` or `shutting-down`, or does
    /// not know at all; in the order given. Errors: [`crate::Error::Transient`].
    async fn gone(&self, instance_ids: &[String]) -> Result<Vec<String>>;
}

/// A pod a drain step could not evict, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockedPod {
    /// `namespace/name`.
    pub pod: String,
    /// Why, for example `disruption budget shop/web-pdb allows no disruption` or
    /// `annotated safe-to-evict=false`.
    pub reason: String,
}

/// Which pods a drain step may evict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DrainMode {
    /// A scale-down: a pod the never-evict rule protects keeps every pod of the node in place, so
    /// a node that cannot be emptied is not disturbed at all.
    Voluntary,
    /// The instance is being reclaimed (a Spot interruption warning): every pod that may be
    /// evicted is, StatefulSet pods included (their controller recreates them elsewhere); pods
    /// with an eviction veto and bare pods are reported blocked but block nobody else. The rule
    /// is in `docs/STATE_MACHINE.md` ("The spot machine").
    Reclaim,
}

/// What one drain step achieved.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DrainProgress {
    /// Pods evicted by this step.
    pub evicted: Vec<String>,
    /// Pods still on the node that a drain must move (evicted but still terminating included).
    pub remaining: Vec<String>,
    /// Pods whose eviction was refused this step (PDB 429: try again) or that must never be
    /// evicted (reported, never forced).
    pub blocked: Vec<BlockedPod>,
}

impl DrainProgress {
    /// True when nothing that a drain must move is left on the node.
    pub fn is_drained(&self) -> bool {
        self.remaining.is_empty() && self.blocked.is_empty()
    }
}

/// The Kubernetes API.
#[async_trait]
pub trait ClusterApi: Send + Sync {
    /// Nodes, pods (owners resolved) and disruption budgets. `NodeInfo::managed` is left false:
    /// the caller joins the view with [`NodeProvisioner::describe_managed`].
    async fn view(&self) -> Result<ClusterView>;

    /// The nodes alone (no pods, budgets or workloads; `idle_since` unset), for the steps that
    /// only match nodes to instances. The default reads the whole [`ClusterApi::view`].
    async fn nodes(&self) -> Result<Vec<crate::model::NodeInfo>> {
        Ok(self.view().await?.nodes)
    }

    /// Marks `node` unschedulable. Idempotent. Errors: `NotFound` when the node does not exist.
    async fn cordon(&self, node: &str) -> Result<()>;

    /// Marks `node` schedulable again. Idempotent.
    async fn uncordon(&self, node: &str) -> Result<()>;

    /// One resumable drain step: requests eviction of every pod still on `node` that `mode` lets
    /// it evict (DaemonSet and mirror pods skipped) and reports what remains. A PDB refusal is
    /// reported in `blocked`, not as an error. The caller enforces the deadline.
    async fn drain_step(&self, node: &str, mode: DrainMode) -> Result<DrainProgress>;

    /// Deletes the Node object (after its instance is gone). Already gone is success.
    async fn delete_node(&self, node: &str) -> Result<()>;
}

/// Secrets Manager.
#[async_trait]
pub trait Secrets: Send + Sync {
    /// The secret's string value, cached for at most the implementation's time to live.
    /// Errors: [`crate::Error::SecretMissing`] naming it (not retryable), `Transient` otherwise.
    async fn get(&self, id: &str) -> Result<String>;
    /// Drops the cached value of `id`, so the next [`Secrets::get`] reads it again: callers call
    /// it when the value was refused (HTTP 401/403/4xx) or could not be parsed, which is what a
    /// rotated secret or a placeholder looks like.
    fn forget(&self, _id: &str) {}
}

/// A channel people are told through (Slack, SNS).
#[async_trait]
pub trait Notifier: Send + Sync {
    /// A short channel name used as the key in the notify step's report: `slack`, `sns`.
    fn channel(&self) -> &'static str;

    /// Delivers one notification. Errors: [`crate::Error::Transient`] when a retry may deliver it
    /// (5xx, 429, timeouts), [`crate::Error::SecretMissing`] when the channel's secret is missing,
    /// [`crate::Error::Fatal`] when the channel refuses it (4xx). Never logs the channel's secret.
    async fn send(&self, notification: &crate::notify::Notification) -> Result<()>;

    /// Delivers the weekly cost report; the same errors as [`Notifier::send`].
    async fn send_report(&self, report: &WeeklyReport) -> Result<()>;
}
