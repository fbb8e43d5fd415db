//! Fixture builders for the engine's tests: a worker, a pod, a budget, a metrics snapshot, a state,
//! and a [`Scene`] that holds one evaluation's arguments. Defaults describe a healthy, steady
//! cluster; each builder method changes one thing.

use super::capacity::CapacityType;
use super::{decide_with, Decision, DemandHistory, Inputs};
use crate::config::Policy;
use crate::model::*;
use chrono::{DateTime, Duration, TimeZone, Utc};
use std::collections::BTreeMap;

/// The fixed "now" of every test.
pub(crate) fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 5, 12, 0, 0).unwrap()
}

/// `t0` minus `secs` seconds.
pub(crate) fn ago(secs: i64) -> DateTime<Utc> {
    t0() - Duration::seconds(secs)
}

const MI: u64 = 1024 * 1024;

/// A Ready, schedulable worker SmartScale launched, in zone `a`, created a day before `t0`, busy.
pub(crate) fn worker(name: &str) -> NodeInfo {
    crate::fixtures::worker_node(name, &format!("i-{name}"), "a", ago(86_400))
}

/// `n` workers named `w1`…`wn`.
pub(crate) fn workers(n: u32) -> Vec<NodeInfo> {
    (1..=n).map(|i| worker(&format!("w{i}"))).collect()
}

/// Changes to a node, one property each.
pub(crate) trait NodeFixture: Sized {
    fn with(self, f: impl FnOnce(&mut NodeInfo)) -> Self;
    fn zone(self, z: &str) -> Self {
        self.with(|n| n.zone = Some(z.into()))
    }
    fn spot(self) -> Self {
        self.with(|n| n.capacity_type = CapacityType::Spot)
    }
    fn instance_type(self, t: &str) -> Self {
        self.with(|n| n.instance_type = Some(t.into()))
    }
    fn not_ready(self) -> Self {
        self.with(|n| n.ready = false)
    }
    fn cordoned(self) -> Self {
        self.with(|n| n.unschedulable = true)
    }
    fn unmanaged(self) -> Self {
        self.with(|n| n.managed = false)
    }
    fn control_plane(self) -> Self {
        self.with(|n| n.control_plane = true)
    }
    fn no_instance(self) -> Self {
        self.with(|n| n.instance_id = None)
    }
    fn annotated(self, k: &str, v: &str) -> Self {
        self.with(|n| {
            n.annotations.insert(k.into(), v.into());
        })
    }
    fn created(self, at: DateTime<Utc>) -> Self {
        self.with(|n| n.created_at = at)
    }
    fn idle_since(self, at: DateTime<Utc>) -> Self {
        self.with(|n| n.idle_since = Some(at))
    }
    fn allocatable(self, cpu_millis: u64, memory_mi: u64) -> Self {
        self.with(|n| {
            n.allocatable = Resources {
                cpu_millis,
                memory_bytes: memory_mi * MI,
            }
        })
    }
}

impl NodeFixture for NodeInfo {
    fn with(mut self, f: impl FnOnce(&mut NodeInfo)) -> Self {
        f(&mut self);
        self
    }
}

/// A Running `default` pod of the 3-replica Deployment `web`, requesting 200m / 256Mi, unscheduled
/// until [`PodFixture::on`].
pub(crate) fn pod(name: &str) -> PodInfo {
    PodInfo {
        namespace: "default".into(),
        name: name.into(),
        node_name: None,
        phase: PodPhase::Running,
        owner_kind: Some(OwnerKind::Deployment),
        owner_name: Some("web".into()),
        workload_replicas: Some(3),
        mirror: false,
        requests: Resources {
            cpu_millis: 200,
            memory_bytes: 256 * MI,
        },
        has_local_storage: false,
        labels: BTreeMap::from([("app".to_string(), "web".to_string())]),
        annotations: BTreeMap::new(),
        created_at: ago(3600),
    }
}

/// `n` Pending pods `p1`…`pn`, each requesting `cpu_millis` / `memory_mi`.
pub(crate) fn pending(n: u32, cpu_millis: u64, memory_mi: u64) -> Vec<PodInfo> {
    (1..=n)
        .map(|i| {
            pod(&format!("p{i}"))
                .pending()
                .requests(cpu_millis, memory_mi)
        })
        .collect()
}

/// Changes to a pod, one property each.
pub(crate) trait PodFixture: Sized {
    fn with(self, f: impl FnOnce(&mut PodInfo)) -> Self;
    fn on(self, node: &str) -> Self {
        self.with(|p| p.node_name = Some(node.into()))
    }
    fn ns(self, namespace: &str) -> Self {
        self.with(|p| p.namespace = namespace.into())
    }
    fn owner(self, kind: Option<OwnerKind>, replicas: Option<u32>) -> Self {
        self.with(|p| {
            p.owner_kind = kind;
            p.workload_replicas = replicas;
        })
    }
    fn daemonset(self) -> Self {
        self.owner(Some(OwnerKind::DaemonSet), None)
    }
    fn mirror(self) -> Self {
        self.owner(None, None).with(|p| p.mirror = true)
    }
    fn phase(self, phase: PodPhase) -> Self {
        self.with(|p| p.phase = phase)
    }
    fn pending(self) -> Self {
        self.phase(PodPhase::Pending).with(|p| p.node_name = None)
    }
    fn annotated(self, k: &str, v: &str) -> Self {
        self.with(|p| {
            p.annotations.insert(k.into(), v.into());
        })
    }
    fn requests(self, cpu_millis: u64, memory_mi: u64) -> Self {
        self.with(|p| {
            p.requests = Resources {
                cpu_millis,
                memory_bytes: memory_mi * MI,
            }
        })
    }
}

impl PodFixture for PodInfo {
    fn with(mut self, f: impl FnOnce(&mut PodInfo)) -> Self {
        f(&mut self);
        self
    }
}

/// A budget in `default` selecting `app=web` that allows `allowed` disruptions.
pub(crate) fn pdb(name: &str, allowed: i32) -> PdbInfo {
    PdbInfo {
        namespace: "default".into(),
        name: name.into(),
        match_labels: BTreeMap::from([("app".to_string(), "web".to_string())]),
        disruptions_allowed: allowed,
    }
}

/// A full window of `value` for a window of `window_secs` under the default 15 s interval.
fn full(value: f64, window_secs: u64) -> Option<Windowed> {
    Some(Windowed {
        value,
        samples: (window_secs / 15) as u32,
    })
}

/// Live metrics of a steady cluster: CPU 50% over every window, memory 60%, nothing Pending;
/// the optional inputs (queue, latency, error rate) missing.
pub(crate) fn metrics() -> MetricsSnapshot {
    MetricsSnapshot {
        missing: vec![
            MetricName::QueueDepth,
            MetricName::LatencyP95,
            MetricName::ErrorRate,
        ],
        ..MetricsSnapshot::empty(t0())
    }
    .cpu(0.5)
    .memory(0.6)
    .pending(0.0)
}

/// Live metrics of an idle cluster: CPU 10%, memory 20%, nothing Pending.
pub(crate) fn idle() -> MetricsSnapshot {
    metrics().cpu(0.1).memory(0.2)
}

/// Changes to a snapshot, one input each. Setting an input makes it present (not missing).
pub(crate) trait MetricsFixture: Sized {
    fn with(self, f: impl FnOnce(&mut MetricsSnapshot)) -> Self;
    fn present(self, m: MetricName) -> Self {
        self.with(|s| s.missing.retain(|x| *x != m))
    }
    /// CPU now and over both windows, with full windows.
    fn cpu(self, r: f64) -> Self {
        self.present(MetricName::Cpu).with(|s| {
            s.cpu_ratio = Some(r);
            s.cpu_min_up_window = full(r, 180);
            s.cpu_max_down_window = full(r, 600);
        })
    }
    fn cpu_up_window(self, value: f64, samples: u32) -> Self {
        self.cpu(value)
            .with(|s| s.cpu_min_up_window = Some(Windowed { value, samples }))
    }
    fn cpu_down_window(self, value: f64, samples: u32) -> Self {
        self.cpu(value)
            .with(|s| s.cpu_max_down_window = Some(Windowed { value, samples }))
    }
    fn memory(self, r: f64) -> Self {
        self.present(MetricName::Memory)
            .with(|s| s.memory_ratio = Some(r))
    }
    /// Pending pods now and over the pending window, with a full window.
    fn pending(self, n: f64) -> Self {
        self.present(MetricName::PendingPods).with(|s| {
            s.pending_pods = Some(n);
            s.pending_pods_min_window = full(n, 180);
        })
    }
    fn pending_window(self, value: f64, samples: u32) -> Self {
        self.pending(value)
            .with(|s| s.pending_pods_min_window = Some(Windowed { value, samples }))
    }
    /// Queue depth now and over the scale-down window, with a full window.
    fn queue(self, depth: f64) -> Self {
        self.present(MetricName::QueueDepth).with(|s| {
            s.queue_depth = Some(depth);
            s.queue_depth_max_down_window = full(depth, 600);
        })
    }
    fn queue_down_window(self, value: f64, samples: u32) -> Self {
        self.queue(value)
            .with(|s| s.queue_depth_max_down_window = Some(Windowed { value, samples }))
    }
    fn latency(self, secs: f64) -> Self {
        self.present(MetricName::LatencyP95)
            .with(|s| s.latency_p95_secs = Some(secs))
    }
    /// Error rate now and over the error window, with a full window.
    fn error_rate(self, r: f64) -> Self {
        self.error_window(r, 8)
    }
    fn error_window(self, value: f64, samples: u32) -> Self {
        self.present(MetricName::ErrorRate).with(|s| {
            s.error_rate_ratio = Some(value);
            s.error_rate_min_window = Some(Windowed { value, samples });
        })
    }
    fn missing(self, m: MetricName) -> Self {
        self.with(|s| s.missing.push(m))
    }
    fn stale(self, m: MetricName) -> Self {
        self.with(|s| s.stale.push(m))
    }
    fn cached(self, fetched_at: DateTime<Utc>) -> Self {
        self.with(|s| s.provenance = Provenance::Cached { fetched_at })
    }
}

impl MetricsFixture for MetricsSnapshot {
    fn with(mut self, f: impl FnOnce(&mut MetricsSnapshot)) -> Self {
        f(&mut self);
        self
    }
}

/// The state of a cluster SmartScale has never acted on.
pub(crate) fn fresh() -> ScalingState {
    ScalingState::new("test")
}

/// The state after `action` finished at `at`.
pub(crate) fn after(action: ScaleAction, at: DateTime<Utc>) -> ScalingState {
    ScalingState {
        last_scale_time: Some(at),
        last_scale_action: Some(action),
        ..fresh()
    }
}

/// The state while an operation of `kind` is in flight.
pub(crate) fn in_flight(kind: OperationKind) -> ScalingState {
    ScalingState {
        operation: Some(Operation {
            id: "op-1".into(),
            kind,
            instance_ids: vec![],
            requested_count: 1,
            node_name: None,
            started_at: ago(60),
            deadline: ago(-240),
            reason: "test".into(),
            recovery_attempts: 0,
        }),
        ..fresh()
    }
}

/// One evaluation's arguments. The default: 4 workers `w1`…`w4`, steady metrics, a fresh state,
/// the default configuration with the specification's CPU rule (`SCALE_UP_CPU_ALONE_THRESHOLD=0`:
/// the rule tables check the seed's rules; the headroom departure has its own table), no demand
/// history, at `t0`.
#[derive(Debug, Clone)]
pub(crate) struct Scene {
    pub(crate) inputs: Inputs,
    pub(crate) history: Option<DemandHistory>,
    pub(crate) state: ScalingState,
    pub(crate) cfg: Policy,
    pub(crate) now: DateTime<Utc>,
}

/// The default configuration with `SCALE_UP_CPU_ALONE_THRESHOLD=0` (so the projected scale-down
/// CPU derives from `SCALE_UP_THRESHOLD_CPU`, as the specification's rules have it).
pub(crate) fn seed_cpu_rule() -> Policy {
    Policy::from_lookup(|k| (k == "SCALE_UP_CPU_ALONE_THRESHOLD").then(|| "0".into()))
        .expect("valid")
}

/// The default scene.
pub(crate) fn scene() -> Scene {
    Scene {
        inputs: Inputs {
            metrics: metrics(),
            cluster: ClusterView {
                nodes: workers(4),
                pods: vec![],
                pdbs: vec![],
            },
        },
        history: None,
        state: fresh(),
        cfg: seed_cpu_rule(),
        now: t0(),
    }
}

impl Scene {
    pub(crate) fn metrics(mut self, m: MetricsSnapshot) -> Self {
        self.inputs.metrics = m;
        self
    }
    pub(crate) fn nodes(mut self, nodes: Vec<NodeInfo>) -> Self {
        self.inputs.cluster.nodes = nodes;
        self
    }
    pub(crate) fn pods(mut self, pods: Vec<PodInfo>) -> Self {
        self.inputs.cluster.pods = pods;
        self
    }
    pub(crate) fn pdbs(mut self, pdbs: Vec<PdbInfo>) -> Self {
        self.inputs.cluster.pdbs = pdbs;
        self
    }
    pub(crate) fn state(mut self, state: ScalingState) -> Self {
        self.state = state;
        self
    }
    pub(crate) fn cfg(mut self, f: impl FnOnce(&mut Policy)) -> Self {
        f(&mut self.cfg);
        self
    }
    pub(crate) fn history(mut self, h: DemandHistory) -> Self {
        self.history = Some(h);
        self
    }
    pub(crate) fn at(mut self, now: DateTime<Utc>) -> Self {
        self.now = now;
        self
    }
    pub(crate) fn decide(&self) -> Decision {
        decide_with(
            &self.inputs,
            self.history.as_ref(),
            &self.state,
            &self.cfg,
            self.now,
        )
    }
}

/// The serde tags of a decision's reasons (`cpu_high`, `cooldown`, …), for compact assertions.
pub(crate) fn tags(d: &Decision) -> Vec<String> {
    let v = serde_json::to_value(d).expect("decisions serialise");
    v["reasons"]
        .as_array()
        .expect("every decision has reasons")
        .iter()
        .map(|r| {
            ["trigger", "condition", "reason"]
                .iter()
                .find_map(|k| r[k].as_str())
                .expect("every reason is tagged")
                .to_string()
        })
        .collect()
}
