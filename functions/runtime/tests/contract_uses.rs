//! The step-rights contract against the code: every step runs over each of its sample events in
//! `events/` with recording fakes behind all six seams, and every seam method it calls must be
//! listed in its `functions/contract.json` entry (whose capabilities the CDK grants its role).
//! Every seam an entry lists must also be reached by one of its samples, so an entry does not
//! grant a seam the step never touches.

use async_trait::async_trait;
use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use serde_json::Value;
use smartscale_core::engine::forecast::DemandParts;
use smartscale_core::forecast::ForecastRecord;
use smartscale_core::lifecycle::Finish;
use smartscale_core::model::{
    CachedMetrics, ClusterView, Lease, MetricsSnapshot, NodeInfo, Operation, ScalingState,
};
use smartscale_core::notify::weekly::{Samples, WeekEvent, WeeklyReport};
use smartscale_core::notify::Notification;
use smartscale_core::seams::{
    CapacityType, ClusterApi, DrainMode, DrainProgress, FailedOffer, LaunchRequest, Launched,
    LedgerEntry, ManagedInstance, MetricHistory, MetricsSource, NodeProvisioner, Notifier, Pool,
    SeriesQuery, SpotClaim, StateStore,
};
use smartscale_core::steps::document::ExecutionDocument;
use smartscale_core::steps::Deps;
use smartscale_core::{Config, Result};
use smartscale_runtime::contract::{contract, Contract, Seam};
use smartscale_runtime::Step;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// Seam methods called, in call order.
#[derive(Default)]
struct Calls(Mutex<Vec<(Seam, &'static str)>>);

impl Calls {
    fn record(&self, seam: Seam, method: &'static str) {
        self.0.lock().unwrap().push((seam, method));
    }
}

/// Answers every seam call with a plausible value for the sample's instances and nodes, and
/// records the call.
struct Recorder {
    calls: Arc<Calls>,
    cluster_id: String,
    instances: Vec<String>,
}

fn t(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

impl Recorder {
    /// The cluster every step sees: one Ready node per instance, at the instance's address.
    fn view_unrecorded(&self) -> ClusterView {
        let nodes = self
            .instances
            .iter()
            .map(|id| NodeInfo {
                name: format!("ip-{id}"),
                provider_id: Some(format!("aws:///eu-west-1a/{id}")),
                instance_id: Some(id.clone()),
                addresses: vec![format!("10.0.0.{}", id.len())],
                zone: Some("eu-west-1a".into()),
                instance_type: Some("t3.small".into()),
                capacity_type: smartscale_core::model::CapacityType::OnDemand,
                ready: true,
                unschedulable: false,
                control_plane: false,
                managed: false,
                created_at: t("2026-11-23T19:00:00Z"),
                idle_since: None,
                allocatable: Default::default(),
                labels: Default::default(),
                annotations: Default::default(),
            })
            .collect();
        ClusterView {
            nodes,
            ..Default::default()
        }
    }

    /// Every sample instance, as EC2 would describe them.
    fn fleet(&self) -> Vec<ManagedInstance> {
        self.instances
            .iter()
            .map(|i| self.managed(i, None))
            .collect()
    }

    fn managed(&self, id: &str, operation_id: Option<String>) -> ManagedInstance {
        ManagedInstance {
            instance_id: id.to_string(),
            zone: "eu-west-1a".into(),
            instance_type: "t3.small".into(),
            capacity_type: CapacityType::OnDemand,
            state: "running".into(),
            launched_at: t("2026-11-23T19:00:00Z"),
            private_ip: Some(format!("10.0.0.{}", id.len())),
            operation_id,
            private_dns_name: Some(format!("ip-{id}")),
        }
    }
}

#[async_trait]
impl StateStore for Recorder {
    async fn load(&self) -> Result<ScalingState> {
        self.calls.record(Seam::Store, "load");
        Ok(ScalingState::new(self.cluster_id.clone()))
    }
    async fn acquire(&self, owner: &str, now: DateTime<Utc>, ttl_secs: u64) -> Result<Lease> {
        self.calls.record(Seam::Store, "acquire");
        Ok(Lease {
            owner: owner.into(),
            token: 1,
            expires_at: now + Duration::seconds(ttl_secs as i64),
        })
    }
    async fn renew(&self, lease: &Lease, now: DateTime<Utc>, ttl_secs: u64) -> Result<Lease> {
        self.calls.record(Seam::Store, "renew");
        Ok(Lease {
            expires_at: now + Duration::seconds(ttl_secs as i64),
            ..lease.clone()
        })
    }
    async fn release(&self, _: &Lease) -> Result<()> {
        self.calls.record(Seam::Store, "release");
        Ok(())
    }
    async fn save_operation(&self, _: &Lease, _: &Operation) -> Result<()> {
        self.calls.record(Seam::Store, "save_operation");
        Ok(())
    }
    async fn finish_operation(&self, _: &Lease, _: &Finish) -> Result<()> {
        self.calls.record(Seam::Store, "finish_operation");
        Ok(())
    }
    async fn save_cached_metrics(&self, _: &Lease, _: &CachedMetrics) -> Result<()> {
        self.calls.record(Seam::Store, "save_cached_metrics");
        Ok(())
    }
    async fn record_capacity_alert(&self, _: &Lease, _: DateTime<Utc>) -> Result<()> {
        self.calls.record(Seam::Store, "record_capacity_alert");
        Ok(())
    }
    async fn claim_instance(&self, _: SpotClaim<'_>) -> Result<()> {
        self.calls.record(Seam::Store, "claim_instance");
        Ok(())
    }
    async fn failed_offers(&self, _: DateTime<Utc>) -> Result<Vec<Pool>> {
        self.calls.record(Seam::Store, "failed_offers");
        Ok(Vec::new())
    }
    async fn remember_failed_offers(&self, _: &[Pool], _: DateTime<Utc>) -> Result<()> {
        self.calls.record(Seam::Store, "remember_failed_offers");
        Ok(())
    }
    async fn load_forecast(&self) -> Result<Option<ForecastRecord>> {
        self.calls.record(Seam::Store, "load_forecast");
        Ok(None)
    }
    async fn save_forecast(&self, _: &Lease, _: &ForecastRecord, _: DateTime<Utc>) -> Result<()> {
        self.calls.record(Seam::Store, "save_forecast");
        Ok(())
    }
    async fn record_week_events(&self, _: NaiveDate, _: &[LedgerEntry]) -> Result<()> {
        self.calls.record(Seam::Store, "record_week_events");
        Ok(())
    }
    async fn week_events(&self, week: NaiveDate) -> Result<Vec<LedgerEntry>> {
        self.calls.record(Seam::Store, "week_events");
        let at = week.and_hms_opt(12, 0, 0).unwrap().and_utc();
        Ok(vec![LedgerEntry {
            kind: WeekEvent::ScaleUp,
            id: format!("{}-op-1", self.cluster_id),
            at,
        }])
    }
}

#[async_trait]
impl NodeProvisioner for Recorder {
    /// Launches what is asked and, when Spot is asked for, reports one Spot pool without
    /// capacity (so the samples reach the offer memory and its warning).
    async fn launch(&self, req: &LaunchRequest) -> Result<Launched> {
        self.calls.record(Seam::Ec2, "launch");
        Ok(Launched {
            instances: (0..req.count())
                .map(|i| self.managed(&format!("i-0new{i}"), Some(req.operation_id.clone())))
                .collect(),
            failed_offers: (req.spot > 0)
                .then(|| FailedOffer {
                    pool: Pool {
                        instance_type: "t3.small".into(),
                        zone: "eu-west-1a".into(),
                    },
                    code: "InsufficientInstanceCapacity".into(),
                })
                .into_iter()
                .collect(),
        })
    }
    async fn terminate(&self, _: &str) -> Result<()> {
        self.calls.record(Seam::Ec2, "terminate");
        Ok(())
    }
    async fn gone(&self, _: &[String]) -> Result<Vec<String>> {
        self.calls.record(Seam::Ec2, "gone");
        Ok(Vec::new())
    }
    async fn describe_managed(&self) -> Result<Vec<ManagedInstance>> {
        self.calls.record(Seam::Ec2, "describe_managed");
        Ok(self.fleet())
    }
    async fn describe_operation(&self, _: &str, _: &[String]) -> Result<Vec<ManagedInstance>> {
        self.calls.record(Seam::Ec2, "describe_operation");
        Ok(self.fleet())
    }
}

#[async_trait]
impl ClusterApi for Recorder {
    async fn nodes(&self) -> Result<Vec<NodeInfo>> {
        self.calls.record(Seam::Cluster, "nodes");
        Ok(self.view_unrecorded().nodes)
    }
    async fn view(&self) -> Result<ClusterView> {
        self.calls.record(Seam::Cluster, "view");
        Ok(self.view_unrecorded())
    }
    async fn cordon(&self, _: &str) -> Result<()> {
        self.calls.record(Seam::Cluster, "cordon");
        Ok(())
    }
    async fn uncordon(&self, _: &str) -> Result<()> {
        self.calls.record(Seam::Cluster, "uncordon");
        Ok(())
    }
    async fn drain_step(&self, _: &str, _: DrainMode) -> Result<DrainProgress> {
        self.calls.record(Seam::Cluster, "drain_step");
        Ok(DrainProgress::default())
    }
    async fn delete_node(&self, _: &str) -> Result<()> {
        self.calls.record(Seam::Cluster, "delete_node");
        Ok(())
    }
}

#[async_trait]
impl MetricsSource for Recorder {
    async fn snapshot(&self, now: DateTime<Utc>) -> Result<MetricsSnapshot> {
        self.calls.record(Seam::Metrics, "snapshot");
        Ok(MetricsSnapshot::empty(now))
    }
    async fn demand_range(
        &self,
        _: DateTime<Utc>,
        _: DateTime<Utc>,
        _: u64,
    ) -> Result<Vec<(DateTime<Utc>, DemandParts)>> {
        self.calls.record(Seam::Metrics, "demand_range");
        Ok(Vec::new())
    }
}

#[async_trait]
impl MetricHistory for Recorder {
    async fn minutely(
        &self,
        queries: &[SeriesQuery],
        from: DateTime<Utc>,
        _: DateTime<Utc>,
    ) -> Result<BTreeMap<String, Samples>> {
        self.calls.record(Seam::History, "minutely");
        Ok(queries
            .iter()
            .map(|q| (q.id.clone(), Samples::from([(from, 1.0)])))
            .collect())
    }
}

#[async_trait]
impl Notifier for Recorder {
    fn channel(&self) -> &'static str {
        "recorder"
    }
    async fn send(&self, _: &Notification) -> Result<()> {
        self.calls.record(Seam::Notify, "send");
        Ok(())
    }
    async fn send_report(&self, _: &WeeklyReport) -> Result<()> {
        self.calls.record(Seam::Notify, "send_report");
        Ok(())
    }
}

/// Every string in `v` that looks like an EC2 instance id.
fn instance_ids(v: &Value, out: &mut BTreeSet<String>) {
    match v {
        Value::String(s) if s.starts_with("i-") => {
            out.insert(s.clone());
        }
        Value::Array(a) => a.iter().for_each(|x| instance_ids(x, out)),
        Value::Object(o) => o.values().for_each(|x| instance_ids(x, out)),
        _ => {}
    }
}

/// What one sample made its step call.
struct Run {
    sample: String,
    step: String,
    calls: Vec<(Seam, &'static str)>,
    outcome: std::result::Result<(), String>,
}

/// Runs every sample in `events/` through its step with the recorder behind every seam.
async fn run_samples() -> Vec<Run> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../events");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("events/ exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().and_then(|e| e.to_str()) == Some("json"))
        .collect();
    files.sort();
    let now = Utc.with_ymd_and_hms(2026, 11, 23, 20, 1, 0).unwrap();
    let mut runs = Vec::new();
    for path in files {
        let sample = path.file_name().unwrap().to_string_lossy().to_string();
        let step_name = sample.split('.').next().unwrap().to_string();
        let raw: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let mut ids = BTreeSet::new();
        instance_ids(&raw, &mut ids);
        let doc = ExecutionDocument::from_value(raw).unwrap();
        let calls = Arc::new(Calls::default());
        let rec = Arc::new(Recorder {
            calls: calls.clone(),
            cluster_id: doc.cluster_id.clone(),
            instances: ids.into_iter().collect(),
        });
        let deps = Deps {
            config: {
                let mut config = Config::default();
                config.policy.cluster_id = doc.cluster_id.clone();
                // With Spot the launches take their widest path (a failed offer is remembered
                // and warned about), so the samples reach every right a launcher holds.
                config.on_demand_base_capacity = 0;
                config.on_demand_percentage_above_base_pct = 0.0;
                config
            },
            store: rec.clone(),
            provisioner: rec.clone(),
            cluster: rec.clone(),
            metrics: rec.clone(),
            history: rec.clone(),
            notifiers: vec![rec],
        };
        let step = Step::named(&step_name).unwrap_or_else(|e| panic!("{sample}: {e}"));
        let outcome = step
            .run(&doc, &deps, now)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string());
        let calls = calls.0.lock().unwrap().clone();
        runs.push(Run {
            sample,
            step: step_name,
            calls,
            outcome,
        });
    }
    runs
}

/// The calls of `runs` that `c` does not allow, as `sample: step called seam.method`.
fn violations(c: &Contract, runs: &[Run]) -> Vec<String> {
    let mut out = Vec::new();
    for run in runs {
        let entry = c.step(&run.step).expect("every sample's step has an entry");
        for (seam, method) in &run.calls {
            if !entry.allows(*seam, method) {
                out.push(format!(
                    "{}: {} called {}.{method}, which its entry in functions/contract.json lacks",
                    run.sample,
                    run.step,
                    seam.as_str()
                ));
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

#[tokio::test]
async fn every_step_calls_only_what_its_contract_grants() {
    let runs = run_samples().await;
    assert!(runs.len() >= 14, "found {} samples", runs.len());
    for run in &runs {
        assert!(
            run.outcome.is_ok(),
            "{}: the step failed against the recorder: {:?}",
            run.sample,
            run.outcome
        );
    }
    let found = violations(contract(), &runs);
    assert!(
        found.is_empty(),
        "seam calls outside the contract:\n{}",
        found.join("\n")
    );

    // Every seam an entry lists is reached by one of its samples.
    let mut reached: BTreeMap<&str, BTreeSet<Seam>> = BTreeMap::new();
    for run in &runs {
        reached
            .entry(run.step.as_str())
            .or_default()
            .extend(run.calls.iter().map(|(s, _)| *s));
    }
    for entry in &contract().steps {
        let got = reached
            .get(entry.name.as_str())
            .cloned()
            .unwrap_or_default();
        for seam in entry.needs().seams() {
            assert!(
                got.contains(&seam),
                "{} lists seam {} but no sample in events/ reaches it",
                entry.name,
                seam.as_str()
            );
        }
    }
}

#[tokio::test]
async fn a_contract_without_a_used_seam_is_caught() {
    // The launch-nodes entry as the CDK granted it before the contract: no notify.
    let mut old = contract().clone();
    let entry = old
        .steps
        .iter_mut()
        .find(|s| s.name == "launch-nodes")
        .unwrap();
    entry.uses.remove(&Seam::Notify);
    let found = violations(&old, &run_samples().await);
    assert_eq!(
        found,
        vec!["launch-nodes.scale-up.json: launch-nodes called notify.send, which its entry in functions/contract.json lacks"]
    );
}

#[test]
fn the_recorder_covers_every_method_the_contract_names() {
    // The recorder implements every seam trait, so each method it records is a real trait
    // method; the contract must name exactly those.
    let recorded: BTreeMap<Seam, BTreeSet<&str>> = BTreeMap::from([
        (
            Seam::Store,
            BTreeSet::from([
                "load",
                "acquire",
                "renew",
                "release",
                "save_operation",
                "finish_operation",
                "save_cached_metrics",
                "record_capacity_alert",
                "claim_instance",
                "failed_offers",
                "remember_failed_offers",
                "load_forecast",
                "save_forecast",
                "record_week_events",
                "week_events",
            ]),
        ),
        (
            Seam::Ec2,
            BTreeSet::from([
                "launch",
                "terminate",
                "describe_managed",
                "describe_operation",
                "gone",
            ]),
        ),
        (
            Seam::Cluster,
            BTreeSet::from([
                "view",
                "nodes",
                "cordon",
                "uncordon",
                "drain_step",
                "delete_node",
            ]),
        ),
        (Seam::Metrics, BTreeSet::from(["snapshot", "demand_range"])),
        (Seam::Notify, BTreeSet::from(["send", "send_report"])),
        (Seam::History, BTreeSet::from(["minutely"])),
    ]);
    for seam in Seam::ALL {
        let named: BTreeSet<&str> = contract().seams[&seam].keys().map(String::as_str).collect();
        assert_eq!(named, recorded[&seam], "seam {}", seam.as_str());
    }
}
