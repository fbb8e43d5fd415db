//! Hand-written fakes of the seams for the step unit tests. The store has real lease semantics
//! (owner, fencing token, expiry, conditional writes); the provisioner is idempotent per
//! operation id like the EC2 adapter promises.

use super::document::*;
use super::Deps;
use crate::error::{Error, Result};
use crate::lifecycle::Finish;
use crate::model::*;
use crate::notify::weekly::{Samples, WeekEvent, WeeklyReport};
use crate::notify::Notification;
use crate::seams::*;
use crate::Config;
use async_trait::async_trait;
use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};

/// 2026-11-23 20:00:00 UTC, the tests' "now".
pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 20, 0, 0).unwrap()
}

/// `t0 + secs`.
pub fn at(secs: i64) -> DateTime<Utc> {
    t0() + Duration::seconds(secs)
}

pub const EXEC: &str = "arn:aws:states:eu-west-1:123456789012:execution:smartscale:exec-1";

/// A DynamoDB item with real lease semantics.
pub struct FakeStore {
    pub state: Mutex<ScalingState>,
    /// Errors to return once from the named method.
    pub fail_once: Mutex<HashMap<&'static str, Error>>,
    pub finished: Mutex<Vec<Finish>>,
    /// Spot claims: instance id to (owner, expiry), the claim items beside the cluster item.
    pub claims: Mutex<HashMap<String, (String, DateTime<Utc>)>>,
    /// Failed Spot offers and until when they are skipped.
    pub offers: Mutex<Vec<(Pool, DateTime<Utc>)>>,
    /// The forecast's item and the fencing token of its last writer.
    pub forecast: Mutex<Option<(u64, crate::forecast::ForecastRecord)>>,
    /// Every method called, in order.
    pub calls: Mutex<Vec<&'static str>>,
    /// The weekly ledger: (week, kind, id) to the entry first recorded.
    pub ledger: Mutex<BTreeMap<(NaiveDate, WeekEvent, String), LedgerEntry>>,
}

impl FakeStore {
    pub fn new() -> Self {
        FakeStore {
            state: Mutex::new(ScalingState::new("c1")),
            fail_once: Mutex::new(HashMap::new()),
            finished: Mutex::new(Vec::new()),
            claims: Mutex::new(HashMap::new()),
            offers: Mutex::new(Vec::new()),
            forecast: Mutex::new(None),
            calls: Mutex::new(Vec::new()),
            ledger: Mutex::new(BTreeMap::new()),
        }
    }

    pub fn fail_next(&self, method: &'static str, e: Error) {
        self.fail_once.lock().unwrap().insert(method, e);
    }

    fn injected(&self, method: &'static str) -> Result<()> {
        self.calls.lock().unwrap().push(method);
        match self.fail_once.lock().unwrap().remove(method) {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// A fenced write's preamble, in the adapter's order: records the call to `method`, returns
    /// its injected error if any, then `LeaseLost` (`what` as context) unless `lease` still holds.
    fn fenced(&self, method: &'static str, lease: &Lease, what: &str) -> Result<()> {
        self.injected(method)?;
        let s = self.state.lock().unwrap();
        match &s.lease {
            Some(l) if l.owner == lease.owner && l.token == lease.token => Ok(()),
            _ => Err(Error::LeaseLost {
                context: what.to_string(),
            }),
        }
    }

    pub fn snapshot(&self) -> ScalingState {
        self.state.lock().unwrap().clone()
    }

    /// The ledger as `(week, "kind#id")`, in key order.
    pub fn ledger_names(&self) -> Vec<(NaiveDate, String)> {
        self.ledger
            .lock()
            .unwrap()
            .keys()
            .map(|(w, k, id)| (*w, format!("{}#{id}", k.as_str())))
            .collect()
    }
}

#[async_trait]
impl StateStore for FakeStore {
    async fn load(&self) -> Result<ScalingState> {
        self.injected("load")?;
        Ok(self.snapshot())
    }

    async fn acquire(&self, owner: &str, now: DateTime<Utc>, ttl_secs: u64) -> Result<Lease> {
        self.injected("acquire")?;
        let mut s = self.state.lock().unwrap();
        if let Some(l) = &s.lease {
            // Like the DynamoDB adapter: the same owner may take it again, with a new token.
            if l.owner != owner && l.expires_at > now {
                return Err(Error::LockHeld {
                    owner: l.owner.clone(),
                    expires_at: l.expires_at,
                });
            }
        }
        s.last_token += 1;
        let lease = Lease {
            owner: owner.to_string(),
            token: s.last_token,
            expires_at: now + Duration::seconds(ttl_secs as i64),
        };
        s.lease = Some(lease.clone());
        Ok(lease)
    }

    async fn renew(&self, lease: &Lease, now: DateTime<Utc>, ttl_secs: u64) -> Result<Lease> {
        self.fenced("renew", lease, "renewing the lease")?;
        let mut s = self.state.lock().unwrap();
        if s.lease.as_ref().is_some_and(|l| l.expires_at <= now) {
            return Err(Error::LeaseLost {
                context: "renewing an expired lease".into(),
            });
        }
        let renewed = Lease {
            expires_at: now + Duration::seconds(ttl_secs as i64),
            ..lease.clone()
        };
        s.lease = Some(renewed.clone());
        Ok(renewed)
    }

    async fn release(&self, lease: &Lease) -> Result<()> {
        self.fenced("release", lease, "releasing the lease")?;
        self.state.lock().unwrap().lease = None;
        Ok(())
    }

    async fn save_operation(&self, lease: &Lease, op: &Operation) -> Result<()> {
        self.fenced("save_operation", lease, "saving the operation")?;
        self.state.lock().unwrap().operation = Some(op.clone());
        Ok(())
    }

    async fn finish_operation(&self, lease: &Lease, finish: &Finish) -> Result<()> {
        self.fenced("finish_operation", lease, "finishing the operation")?;
        crate::lifecycle::apply(&mut self.state.lock().unwrap(), finish);
        self.finished.lock().unwrap().push(finish.clone());
        Ok(())
    }

    async fn save_cached_metrics(&self, lease: &Lease, cached: &CachedMetrics) -> Result<()> {
        self.fenced("save_cached_metrics", lease, "caching metrics")?;
        self.state.lock().unwrap().cached_metrics = Some(cached.clone());
        Ok(())
    }

    async fn record_capacity_alert(&self, lease: &Lease, now: DateTime<Utc>) -> Result<()> {
        self.fenced(
            "record_capacity_alert",
            lease,
            "recording the capacity alert",
        )?;
        self.state.lock().unwrap().capacity_alert = Some(AlertRecord {
            at: now,
            token: lease.token,
        });
        Ok(())
    }

    async fn failed_offers(&self, now: DateTime<Utc>) -> Result<Vec<Pool>> {
        self.injected("failed_offers")?;
        Ok(self
            .offers
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, until)| *until > now)
            .map(|(p, _)| p.clone())
            .collect())
    }

    async fn load_forecast(&self) -> Result<Option<crate::forecast::ForecastRecord>> {
        self.injected("load_forecast")?;
        Ok(self.forecast.lock().unwrap().clone().map(|(_, r)| r))
    }

    async fn save_forecast(
        &self,
        lease: &Lease,
        record: &crate::forecast::ForecastRecord,
        _now: DateTime<Utc>,
    ) -> Result<()> {
        self.injected("save_forecast")?;
        let mut f = self.forecast.lock().unwrap();
        if f.as_ref().is_some_and(|(token, _)| *token > lease.token) {
            return Err(Error::LeaseLost {
                context: "saving the forecast history".into(),
            });
        }
        *f = Some((lease.token, record.clone()));
        Ok(())
    }

    async fn remember_failed_offers(&self, pools: &[Pool], until: DateTime<Utc>) -> Result<()> {
        self.injected("remember_failed_offers")?;
        let mut offers = self.offers.lock().unwrap();
        offers.retain(|(p, _)| !pools.contains(p));
        offers.extend(pools.iter().map(|p| (p.clone(), until)));
        Ok(())
    }

    async fn record_week_events(&self, week: NaiveDate, entries: &[LedgerEntry]) -> Result<()> {
        self.injected("record_week_events")?;
        let mut ledger = self.ledger.lock().unwrap();
        for e in entries {
            ledger
                .entry((week, e.kind, e.id.clone()))
                .or_insert_with(|| e.clone());
        }
        Ok(())
    }

    async fn week_events(&self, week: NaiveDate) -> Result<Vec<LedgerEntry>> {
        self.injected("week_events")?;
        Ok(self
            .ledger
            .lock()
            .unwrap()
            .iter()
            .filter(|((w, _, _), _)| *w == week)
            .map(|(_, e)| e.clone())
            .collect())
    }

    async fn claim_instance(&self, claim: SpotClaim<'_>) -> Result<()> {
        self.injected("claim_instance")?;
        let mut claims = self.claims.lock().unwrap();
        // Like the DynamoDB adapter: free, expired at `now`, or already ours.
        if let Some((holder, expires_at)) = claims.get(claim.instance_id) {
            if holder != claim.owner && *expires_at > claim.now {
                return Err(Error::LockHeld {
                    owner: holder.clone(),
                    expires_at: *expires_at,
                });
            }
        }
        claims.insert(
            claim.instance_id.to_string(),
            (claim.owner.to_string(), claim.expires_at()),
        );
        Ok(())
    }
}

/// EC2 workers, idempotent per operation id.
pub struct FakeProvisioner {
    pub instances: Mutex<Vec<ManagedInstance>>,
    pub next_launch_error: Mutex<Option<Error>>,
    /// Spot pools without capacity: a launch asking for Spot reports them and launches on-demand.
    pub no_spot_capacity: Mutex<Vec<FailedOffer>>,
    pub launch_calls: Mutex<Vec<LaunchRequest>>,
    pub terminated: Mutex<Vec<String>>,
    /// Instance ids that exist but are not SmartScale's.
    pub foreign: Vec<String>,
    seq: Mutex<u32>,
}

impl FakeProvisioner {
    pub fn new(instances: Vec<ManagedInstance>) -> Self {
        FakeProvisioner {
            instances: Mutex::new(instances),
            next_launch_error: Mutex::new(None),
            no_spot_capacity: Mutex::new(Vec::new()),
            launch_calls: Mutex::new(Vec::new()),
            terminated: Mutex::new(Vec::new()),
            foreign: Vec::new(),
            seq: Mutex::new(0),
        }
    }

    pub fn live_ids(&self) -> Vec<String> {
        self.instances
            .lock()
            .unwrap()
            .iter()
            .map(|i| i.instance_id.clone())
            .collect()
    }
}

pub fn instance(id: &str, op: Option<&str>) -> ManagedInstance {
    ManagedInstance {
        instance_id: id.to_string(),
        zone: "eu-west-1a".into(),
        instance_type: "t3.small".into(),
        capacity_type: CapacityType::OnDemand,
        state: "running".into(),
        launched_at: at(-3600),
        operation_id: op.map(str::to_string),
        private_dns_name: Some(format!("node-{id}")),
        private_ip: Some(fake_ip(id)),
    }
}

/// The private IP the fakes give instance `id` and its node's `InternalIP`.
pub fn fake_ip(id: &str) -> String {
    format!(
        "10.0.0.{}",
        id.bytes().map(u32::from).sum::<u32>() % 250 + 2
    )
}

#[async_trait]
impl NodeProvisioner for FakeProvisioner {
    async fn launch(&self, req: &LaunchRequest) -> Result<Launched> {
        self.launch_calls.lock().unwrap().push(req.clone());
        if let Some(e) = self.next_launch_error.lock().unwrap().take() {
            return Err(e);
        }
        let failed: Vec<FailedOffer> = self.no_spot_capacity.lock().unwrap().clone();
        let mut all = self.instances.lock().unwrap();
        let have = all
            .iter()
            .filter(|i| i.operation_id.as_deref() == Some(req.operation_id.as_str()))
            .count() as u32;
        for n in have..req.count() {
            let mut seq = self.seq.lock().unwrap();
            *seq += 1;
            let mut i = instance(&format!("i-new{}", *seq), Some(&req.operation_id));
            if n < req.spot && failed.is_empty() {
                i.capacity_type = CapacityType::Spot;
            }
            all.push(i);
        }
        Ok(Launched {
            instances: all
                .iter()
                .filter(|i| i.operation_id.as_deref() == Some(req.operation_id.as_str()))
                .cloned()
                .collect(),
            failed_offers: if req.spot > 0 { failed } else { vec![] },
        })
    }

    async fn terminate(&self, instance_id: &str) -> Result<()> {
        if self.foreign.iter().any(|f| f == instance_id) {
            return Err(Error::NotOwned {
                action: "terminate".into(),
                resource: instance_id.into(),
                why: "no ManagedBy=smartscale tag".into(),
            });
        }
        self.instances
            .lock()
            .unwrap()
            .retain(|i| i.instance_id != instance_id);
        self.terminated
            .lock()
            .unwrap()
            .push(instance_id.to_string());
        Ok(())
    }

    async fn describe_managed(&self) -> Result<Vec<ManagedInstance>> {
        Ok(self.instances.lock().unwrap().clone())
    }

    /// Anything neither managed nor foreign is gone.
    async fn gone(&self, instance_ids: &[String]) -> Result<Vec<String>> {
        let live = self.live_ids();
        Ok(instance_ids
            .iter()
            .filter(|id| !live.contains(id) && !self.foreign.contains(id))
            .cloned()
            .collect())
    }
}

/// A Kubernetes API over an in-memory view, with scripted drain steps.
pub struct FakeCluster {
    pub view: Mutex<ClusterView>,
    /// Drain step results, in order; when empty a step reports the node drained.
    pub drain_script: Mutex<VecDeque<DrainProgress>>,
    pub calls: Mutex<Vec<String>>,
}

impl FakeCluster {
    pub fn new(nodes: Vec<NodeInfo>) -> Self {
        FakeCluster {
            view: Mutex::new(ClusterView {
                nodes,
                ..ClusterView::default()
            }),
            drain_script: Mutex::new(VecDeque::new()),
            calls: Mutex::new(Vec::new()),
        }
    }

    pub fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap().clone()
    }

    pub fn node(&self, name: &str) -> Option<NodeInfo> {
        self.view
            .lock()
            .unwrap()
            .nodes
            .iter()
            .find(|n| n.name == name)
            .cloned()
    }

    fn set_unschedulable(&self, name: &str, v: bool) -> Result<()> {
        let mut view = self.view.lock().unwrap();
        match view.nodes.iter_mut().find(|n| n.name == name) {
            Some(n) => {
                n.unschedulable = v;
                Ok(())
            }
            None => Err(Error::NotFound {
                context: format!("cordoning {name}"),
                what: format!("node {name}"),
            }),
        }
    }
}

pub fn node(name: &str, instance_id: Option<&str>, ready: bool) -> NodeInfo {
    NodeInfo {
        name: name.to_string(),
        provider_id: instance_id.map(|i| provider_id("eu-west-1a", i)),
        instance_id: None,
        zone: Some("eu-west-1a".into()),
        instance_type: Some("t3.small".into()),
        capacity_type: crate::model::CapacityType::OnDemand,
        ready,
        unschedulable: false,
        control_plane: false,
        managed: false,
        created_at: at(-7200),
        idle_since: None,
        allocatable: Resources {
            cpu_millis: 1800,
            memory_bytes: 1 << 30,
        },
        labels: BTreeMap::new(),
        annotations: BTreeMap::new(),
        addresses: instance_id.map(fake_ip).into_iter().collect(),
    }
}

#[async_trait]
impl ClusterApi for FakeCluster {
    async fn view(&self) -> Result<ClusterView> {
        Ok(self.view.lock().unwrap().clone())
    }
    async fn cordon(&self, node: &str) -> Result<()> {
        self.calls.lock().unwrap().push(format!("cordon {node}"));
        self.set_unschedulable(node, true)
    }
    async fn uncordon(&self, node: &str) -> Result<()> {
        self.calls.lock().unwrap().push(format!("uncordon {node}"));
        self.set_unschedulable(node, false)
    }
    async fn drain_step(&self, node: &str, mode: DrainMode) -> Result<DrainProgress> {
        self.calls.lock().unwrap().push(match mode {
            DrainMode::Voluntary => format!("drain {node}"),
            DrainMode::Reclaim => format!("reclaim-drain {node}"),
        });
        Ok(self
            .drain_script
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or_default())
    }
    async fn delete_node(&self, node: &str) -> Result<()> {
        self.calls.lock().unwrap().push(format!("delete {node}"));
        self.view.lock().unwrap().nodes.retain(|n| n.name != node);
        Ok(())
    }
}

/// Prometheus: a snapshot, or `MetricsUnavailable` when `None`; a range query answers
/// [`demand_points`] whatever the range asked, and is counted in the second field.
pub struct FakeMetrics(
    pub Mutex<Option<MetricsSnapshot>>,
    pub std::sync::atomic::AtomicU32,
);

/// The demand points every [`FakeMetrics`] answers a range query with: 4 busy workers at
/// 2026-11-17 20:05 UTC and at 2026-11-22 20:05 (six days and one day before [`t0`]).
pub fn demand_points() -> Vec<(DateTime<Utc>, crate::engine::forecast::DemandParts)> {
    [at(-6 * 86_400 + 300), at(-86_400 + 300)]
        .into_iter()
        .map(|t| {
            (
                t,
                crate::engine::forecast::DemandParts {
                    busy_workers: 4.0,
                    ..Default::default()
                },
            )
        })
        .collect()
}

#[async_trait]
impl MetricsSource for FakeMetrics {
    async fn demand_range(
        &self,
        _from: DateTime<Utc>,
        _to: DateTime<Utc>,
        _step_secs: u64,
    ) -> Result<Vec<(DateTime<Utc>, crate::engine::forecast::DemandParts)>> {
        self.1.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        match *self.0.lock().unwrap() {
            Some(_) => Ok(demand_points()),
            None => Err(Error::MetricsUnavailable {
                context: "querying Prometheus".into(),
                detail: "connection refused after 3 attempts".into(),
            }),
        }
    }

    async fn snapshot(&self, _now: DateTime<Utc>) -> Result<MetricsSnapshot> {
        self.0
            .lock()
            .unwrap()
            .clone()
            .ok_or_else(|| Error::MetricsUnavailable {
                context: "querying Prometheus".into(),
                detail: "connection refused after 3 attempts".into(),
            })
    }
}

/// A live snapshot with the required inputs set.
pub fn live_metrics(now: DateTime<Utc>, cpu: f64, pending: f64) -> MetricsSnapshot {
    MetricsSnapshot {
        cpu_ratio: Some(cpu),
        memory_ratio: Some(0.5),
        pending_pods: Some(pending),
        missing: vec![],
        ..MetricsSnapshot::empty(now)
    }
}

/// One call of [`FakeHistory`]: the queries and the window.
pub type HistoryCall = (Vec<SeriesQuery>, DateTime<Utc>, DateTime<Utc>);

/// A series as CloudWatch keeps it apart: the metric and its dimensions besides `ClusterId`,
/// sorted.
pub type SeriesKey = (String, Vec<(String, String)>);

/// The data points of one series, as put.
pub type Points = Vec<(DateTime<Utc>, f64)>;

/// CloudWatch: the data points put, by [`SeriesKey`]; a query gets the series of exactly its
/// dimension set (as CloudWatch matches them), one value per one-minute bucket by its statistic,
/// an empty series when nothing matches. The queries asked for are recorded.
#[derive(Default)]
pub struct FakeHistory {
    pub points: Mutex<BTreeMap<SeriesKey, Points>>,
    pub asked: Mutex<Vec<HistoryCall>>,
    pub fail: Mutex<Option<Error>>,
}

impl FakeHistory {
    /// Puts `value` at `t` on `metric` with `dimensions` (besides `ClusterId`).
    pub fn put(&self, metric: &str, dimensions: &[(&str, &str)], t: DateTime<Utc>, value: f64) {
        let mut dims: Vec<(String, String)> = dimensions
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        dims.sort();
        let mut points = self.points.lock().unwrap();
        points
            .entry((metric.to_string(), dims))
            .or_default()
            .push((t, value));
    }

    /// Puts every metric of the EMF line `line`, as CloudWatch Logs extracts it: under each
    /// dimension set of its directive (less `ClusterId`), at its timestamp.
    pub fn put_emf(&self, line: &serde_json::Value) {
        let directive = &line["_aws"]["CloudWatchMetrics"][0];
        let t =
            DateTime::from_timestamp_millis(line["_aws"]["Timestamp"].as_i64().unwrap()).unwrap();
        for set in directive["Dimensions"].as_array().unwrap() {
            let dims: Vec<(&str, &str)> = set
                .as_array()
                .unwrap()
                .iter()
                .map(|k| k.as_str().unwrap())
                .filter(|k| *k != "ClusterId")
                .map(|k| (k, line[k].as_str().unwrap()))
                .collect();
            for m in directive["Metrics"].as_array().unwrap() {
                let name = m["Name"].as_str().unwrap();
                self.put(name, &dims, t, line[name].as_f64().unwrap());
            }
        }
    }
}

#[async_trait]
impl MetricHistory for FakeHistory {
    async fn minutely(
        &self,
        queries: &[SeriesQuery],
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<BTreeMap<String, Samples>> {
        if let Some(e) = self.fail.lock().unwrap().take() {
            return Err(e);
        }
        self.asked
            .lock()
            .unwrap()
            .push((queries.to_vec(), from, to));
        let points = self.points.lock().unwrap();
        let no_points = Points::new();
        Ok(queries
            .iter()
            .map(|q| {
                let mut dims = q.dimensions.clone();
                dims.sort();
                let mut buckets: BTreeMap<DateTime<Utc>, Vec<f64>> = BTreeMap::new();
                for (t, v) in points.get(&(q.metric.clone(), dims)).unwrap_or(&no_points) {
                    if (from..to).contains(t) {
                        let start = DateTime::from_timestamp(t.timestamp() / 60 * 60, 0).unwrap();
                        buckets.entry(start).or_default().push(*v);
                    }
                }
                let series: Samples = buckets
                    .into_iter()
                    .map(|(t, vs)| {
                        let v = match q.stat {
                            Statistic::Average => vs.iter().sum::<f64>() / vs.len() as f64,
                            Statistic::Maximum => vs.iter().copied().fold(f64::MIN, f64::max),
                        };
                        (t, v)
                    })
                    .collect();
                (q.id.clone(), series)
            })
            .collect())
    }
}

/// Records what it is asked to send; fails every send when `fail` is set.
pub struct RecordingNotifier {
    pub name: &'static str,
    pub sent: Mutex<Vec<Notification>>,
    pub reports: Mutex<Vec<WeeklyReport>>,
    pub fail: bool,
}

impl RecordingNotifier {
    pub fn new(name: &'static str, fail: bool) -> Arc<Self> {
        Arc::new(RecordingNotifier {
            name,
            sent: Mutex::new(Vec::new()),
            reports: Mutex::new(Vec::new()),
            fail,
        })
    }
    pub fn sent(&self) -> Vec<Notification> {
        self.sent.lock().unwrap().clone()
    }
}

#[async_trait]
impl Notifier for RecordingNotifier {
    fn channel(&self) -> &'static str {
        self.name
    }
    async fn send(&self, n: &Notification) -> Result<()> {
        if self.fail {
            return Err(Error::transient("posting to the webhook", "HTTP 503"));
        }
        self.sent.lock().unwrap().push(n.clone());
        Ok(())
    }
    async fn send_report(&self, r: &WeeklyReport) -> Result<()> {
        if self.fail {
            return Err(Error::transient("posting to the webhook", "HTTP 503"));
        }
        self.reports.lock().unwrap().push(r.clone());
        Ok(())
    }
}

/// Every fake, wired into [`Deps`].
pub struct World {
    pub store: Arc<FakeStore>,
    pub ec2: Arc<FakeProvisioner>,
    pub k8s: Arc<FakeCluster>,
    pub prom: Arc<FakeMetrics>,
    pub history: Arc<FakeHistory>,
    pub slack: Arc<RecordingNotifier>,
    pub deps: Deps,
}

impl World {
    /// Two Ready managed workers (`w1`/`i-1`, `w2`/`i-2`) and a control-plane node.
    pub fn new() -> Self {
        let mut cp = node("cp", Some("i-cp"), true);
        cp.control_plane = true;
        let nodes = vec![
            cp,
            node("w1", Some("i-1"), true),
            node("w2", Some("i-2"), true),
        ];
        Self::with(nodes, vec![instance("i-1", None), instance("i-2", None)])
    }

    pub fn with(nodes: Vec<NodeInfo>, instances: Vec<ManagedInstance>) -> Self {
        Self::wired(nodes, FakeProvisioner::new(instances))
    }

    /// An empty world to build Node by Node ([`WorldBuilder`]).
    pub fn builder() -> WorldBuilder {
        WorldBuilder::default()
    }

    fn wired(nodes: Vec<NodeInfo>, ec2: FakeProvisioner) -> Self {
        let store = Arc::new(FakeStore::new());
        let ec2 = Arc::new(ec2);
        let k8s = Arc::new(FakeCluster::new(nodes));
        let prom = Arc::new(FakeMetrics(
            Mutex::new(Some(live_metrics(t0(), 0.5, 0.0))),
            Default::default(),
        ));
        let history = Arc::new(FakeHistory::default());
        let slack = RecordingNotifier::new("slack", false);
        let cfg = Config {
            policy: crate::config::Policy {
                cluster_id: "c1".into(),
                ..Default::default()
            },
            ..Config::default()
        };
        let deps = Deps {
            config: cfg,
            store: store.clone(),
            provisioner: ec2.clone(),
            cluster: k8s.clone(),
            metrics: prom.clone(),
            history: history.clone(),
            notifiers: vec![slack.clone()],
        };
        World {
            store,
            ec2,
            k8s,
            prom,
            history,
            slack,
            deps,
        }
    }

    /// Takes the lease for [`EXEC`] at `now` and returns a document holding it.
    pub async fn doc_with_lease(&self, now: DateTime<Utc>) -> ExecutionDocument {
        let lease = self.store.acquire(EXEC, now, 3600).await.unwrap();
        ExecutionDocument {
            cluster_id: "c1".into(),
            execution_id: EXEC.into(),
            lease: Some(lease),
            ..ExecutionDocument::default()
        }
    }

    /// Lets another execution take over the lease (ours expired).
    pub async fn steal_lease(&self) {
        self.store.state.lock().unwrap().lease = None;
        self.store.acquire("other", at(10_000), 3600).await.unwrap();
    }
}

/// A [`World`] built Node by Node: the cluster's Nodes in order, the EC2 instances SmartScale
/// manages, and the instances that run but are not SmartScale's.
#[derive(Default)]
pub struct WorldBuilder {
    nodes: Vec<NodeInfo>,
    instances: Vec<ManagedInstance>,
    foreign: Vec<String>,
}

impl WorldBuilder {
    /// A Node `name` (Ready or not) of instance `id`, an on-demand worker SmartScale launched.
    pub fn worker(self, name: &str, id: &str, ready: bool) -> Self {
        self.node(node(name, Some(id), ready))
            .instance(instance(id, None))
    }

    /// A Node `name` of instance `id`, which runs but is not SmartScale's.
    pub fn foreign(mut self, name: &str, id: &str, ready: bool) -> Self {
        self.foreign.push(id.to_string());
        self.node(node(name, Some(id), ready))
    }

    /// A Node and no instance of SmartScale's behind it (its instance is gone, or it names none).
    pub fn node(mut self, n: NodeInfo) -> Self {
        self.nodes.push(n);
        self
    }

    /// An instance SmartScale manages, whether or not a Node runs on it.
    pub fn instance(mut self, i: ManagedInstance) -> Self {
        self.instances.push(i);
        self
    }

    /// The world of these Nodes and instances.
    pub fn build(self) -> World {
        let mut ec2 = FakeProvisioner::new(self.instances);
        ec2.foreign = self.foreign;
        World::wired(self.nodes, ec2)
    }
}

/// The scale-up decision for `count` workers that two pods Pending for over 3m call for.
pub fn scale_up_decision(count: u32) -> DecisionPart {
    DecisionPart {
        action: Action::ScaleUp,
        count,
        node: None,
        instance_id: None,
        reasons: vec!["2 pod(s) Pending for over 3m".into()],
        codes: vec!["pending_pods".into()],
        alert: None,
        launch: None,
    }
}

/// A Spot part for `signal` whose worker `node_name` is drained (nothing remaining or blocked),
/// with the drain deadline at 90 s and the lease wait until 390 s, not yet over.
pub fn drained_spot(
    signal: SpotSignalKind,
    node_name: &str,
    pool: Option<Pool>,
    workers_before: u32,
) -> SpotPart {
    SpotPart {
        signal,
        status: DrainStatus::Drained,
        node_name: Some(node_name.into()),
        pool,
        workers_before,
        remaining: vec![],
        blocked: vec![],
        deadline: at(90),
        lease_wait_until: at(390),
        lease_wait_over: false,
        skipped: None,
    }
}

pub fn scale_up_op(id: &str, instance_ids: &[&str], deadline: DateTime<Utc>) -> Operation {
    Operation {
        id: id.into(),
        kind: OperationKind::ScaleUp,
        instance_ids: instance_ids.iter().map(|s| s.to_string()).collect(),
        node_name: None,
        started_at: t0(),
        deadline,
        requested_count: instance_ids.len().max(1) as u32,
        reason: "2 pod(s) Pending for over 3m".into(),
        recovery_attempts: 0,
    }
}

pub fn scale_down_op(node: &str, instance_id: &str, deadline: DateTime<Utc>) -> Operation {
    Operation {
        id: "c1-op-1".into(),
        kind: OperationKind::ScaleDown,
        instance_ids: vec![instance_id.into()],
        node_name: Some(node.into()),
        started_at: t0(),
        deadline,
        requested_count: 0,
        reason: "CPU stayed below 30% for 10m (highest 20.0%)".into(),
        recovery_attempts: 0,
    }
}

pub fn summary(nodes: u32) -> MetricsSummary {
    MetricsSummary {
        cpu_ratio: Some(0.8),
        memory_ratio: Some(0.5),
        pending_pods: Some(2.0),
        nodes,
        ready_nodes: nodes,
        managed_nodes: nodes,
        cached: false,
        ..MetricsSummary::default()
    }
}

pub fn progress(remaining: &[&str], blocked: &[&str]) -> DrainProgress {
    DrainProgress {
        evicted: vec![],
        remaining: remaining.iter().map(|s| s.to_string()).collect(),
        blocked: blocked
            .iter()
            .map(|p| BlockedPod {
                pod: p.to_string(),
                reason: "disruption budget shop/pdb allows no disruption".into(),
            })
            .collect(),
    }
}
