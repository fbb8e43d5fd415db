//! `/metrics` in the Prometheus text format: node-exporter series per node, kube-state-metrics
//! series, and the application's `http_*` series, computed from the store and the load.
//!
//! Each family is also served alone (`/metrics/node-exporter`, `/metrics/kube-state-metrics`,
//! `/metrics/app`) so a Prometheus scrape job per path gets the `job` label the recording rules
//! select on (`job="node-exporter"`).

use super::kubelet::node_condition;
use super::scheduler::{allocatable, pod_requests};
use super::store::Store;
use super::AppState;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use chrono::{DateTime, Utc};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Node, Pod};
use smartscale_workload::{ReplicaController, Workload};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Latency histogram bucket bounds, seconds.
pub const BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Traffic and the counters it accumulates.
#[derive(Debug, Clone)]
pub struct Load {
    /// Requests per second offered to the application.
    pub rps: f64,
    /// Fraction of its CPU request each running application pod uses.
    pub cpu_utilisation: f64,
    /// Fraction of requests answered 5xx.
    pub error_ratio: f64,
    /// Latency every request currently sees, seconds.
    pub latency_secs: f64,
    /// Per node: (busy CPU seconds, idle CPU seconds) per CPU index.
    pub cpu_seconds: BTreeMap<String, Vec<(f64, f64)>>,
    /// Requests answered, by status code.
    pub requests: BTreeMap<u16, f64>,
    /// Cumulative latency histogram counts per bucket in [`BUCKETS`], then `+Inf`.
    pub buckets: [f64; 12],
    /// Sum of latencies, seconds.
    pub latency_sum: f64,
    /// The shared workload model (`smartscale_workload`): the Deployment it names serves `rps`.
    pub workload: Workload,
    /// Its HPA, once traffic has been set through the control endpoint.
    pub hpa: Option<ReplicaController>,
}

impl Default for Load {
    fn default() -> Self {
        Load {
            rps: 0.0,
            cpu_utilisation: 0.3,
            error_ratio: 0.0,
            latency_secs: 0.05,
            cpu_seconds: BTreeMap::new(),
            requests: BTreeMap::new(),
            buckets: [0.0; 12],
            latency_sum: 0.0,
            workload: Workload::default(),
            hpa: None,
        }
    }
}

fn running(p: &Pod) -> bool {
    p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running")
}

impl Load {
    fn serves(&self, p: &Pod) -> bool {
        p.metadata.namespace.as_deref() == Some(self.workload.namespace.as_str())
            && p.metadata.labels.as_ref().and_then(|l| l.get("app")) == Some(&self.workload.name)
    }

    /// CPU cores busy on each node now: pods of the workload's Deployment use what the shared
    /// workload model says for `rps` shared by the serving pods; every other running pod uses
    /// `cpu_utilisation` of its request.
    pub fn busy_cores(&self, store: &Store) -> BTreeMap<String, f64> {
        let serving = store
            .pods
            .values()
            .filter(|p| running(p) && self.serves(p))
            .count() as u32;
        let usage = self.workload.pod_usage(self.rps, serving);
        let mut busy = BTreeMap::new();
        for p in store.pods.values().filter(|p| running(p)) {
            if let Some(n) = p.spec.as_ref().and_then(|s| s.node_name.clone()) {
                let cores = if self.serves(p) {
                    usage.cpu_millis / 1000.0
                } else {
                    pod_requests(p).cpu_millis as f64 / 1000.0 * self.cpu_utilisation
                };
                *busy.entry(n).or_insert(0.0) += cores;
            }
        }
        busy
    }

    /// Once traffic is driven, sets the workload Deployment's replicas as its HPA would
    /// (the shared model's [`ReplicaController`]) at `now`.
    pub fn scale(&mut self, store: &mut Store, now: DateTime<Utc>) {
        let Some(hpa) = self.hpa.as_mut() else {
            return;
        };
        let want = hpa.observe(&self.workload, now.timestamp(), self.rps) as i32;
        let key = (self.workload.namespace.clone(), self.workload.name.clone());
        let current = store.deployments.get(&key).map(|d| d.spec.replicas);
        if current.is_some_and(|r| r != Some(want)) {
            store.modify::<Deployment>(&key, |d| d.spec.replicas = Some(want));
        }
    }

    /// Advances the counters from `last` to `now`.
    pub fn advance(&mut self, store: &Store, last: DateTime<Utc>, now: DateTime<Utc>) {
        let dt = (now - last).num_milliseconds().max(0) as f64 / 1000.0;
        let busy = self.busy_cores(store);
        for n in store.nodes.values() {
            let name = n.metadata.name.clone().unwrap_or_default();
            let cpus = (allocatable(n).cpu_millis / 1000).max(1) as usize;
            let per_cpu_busy =
                (busy.get(&name).copied().unwrap_or(0.0) / cpus as f64).clamp(0.0, 1.0);
            let counters = self.cpu_seconds.entry(name).or_default();
            counters.resize(cpus, (0.0, 0.0));
            for c in counters.iter_mut() {
                c.0 += per_cpu_busy * dt;
                c.1 += (1.0 - per_cpu_busy) * dt;
            }
        }
        let served = self.rps * dt;
        *self.requests.entry(500).or_insert(0.0) += served * self.error_ratio;
        *self.requests.entry(200).or_insert(0.0) += served * (1.0 - self.error_ratio);
        for (i, b) in BUCKETS.iter().enumerate() {
            if self.latency_secs <= *b {
                self.buckets[i] += served;
            }
        }
        self.buckets[BUCKETS.len()] += served;
        self.latency_sum += served * self.latency_secs;
    }
}

/// Routes of `/metrics`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/metrics", get(|s| render(s, Family::All)))
        .route("/metrics/node-exporter", get(|s| render(s, Family::Node)))
        .route(
            "/metrics/kube-state-metrics",
            get(|s| render(s, Family::State)),
        )
        .route("/metrics/app", get(|s| render(s, Family::App)))
}

#[derive(Clone, Copy, PartialEq)]
enum Family {
    All,
    Node,
    State,
    App,
}

async fn render(State(state): State<AppState>, family: Family) -> impl IntoResponse {
    let store = state.store.lock().unwrap_or_else(|p| p.into_inner());
    let load = state.load.lock().unwrap_or_else(|p| p.into_inner());
    let mut out = String::new();
    if matches!(family, Family::All | Family::Node) {
        node_exporter(&mut out, &store, &load);
    }
    if matches!(family, Family::All | Family::State) {
        kube_state(&mut out, &store);
    }
    if matches!(family, Family::All | Family::App) {
        app(&mut out, &load);
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        out,
    )
}

fn esc(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn head(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// Writes the node-exporter families.
pub fn node_exporter(out: &mut String, store: &Store, load: &Load) {
    head(
        out,
        "node_cpu_seconds_total",
        "counter",
        "Seconds the CPUs spent in each mode.",
    );
    for (node, cpus) in &load.cpu_seconds {
        for (i, (b, idle)) in cpus.iter().enumerate() {
            let n = esc(node);
            let _ = writeln!(
                out,
                "node_cpu_seconds_total{{node=\"{n}\",cpu=\"{i}\",mode=\"idle\"}} {idle:.3}"
            );
            let _ = writeln!(
                out,
                "node_cpu_seconds_total{{node=\"{n}\",cpu=\"{i}\",mode=\"user\"}} {b:.3}"
            );
        }
    }
    // The running pods' memory requests per node, summed in one pass over the pods.
    let mut requested: BTreeMap<&str, f64> = BTreeMap::new();
    for p in store.pods.values().filter(|p| running(p)) {
        if let Some(node) = p.spec.as_ref().and_then(|s| s.node_name.as_deref()) {
            *requested.entry(node).or_default() += pod_requests(p).memory_bytes as f64;
        }
    }
    let mem: Vec<(String, f64, f64)> = store
        .nodes
        .values()
        .map(|n| {
            let name = n.metadata.name.clone().unwrap_or_default();
            let total = allocatable(n).memory_bytes as f64;
            let used = requested.get(name.as_str()).copied().unwrap_or(0.0)
                // System daemons take a little memory on every node.
                + total * 0.05;
            (name, total, (total - used).max(0.0))
        })
        .collect();
    for (field, available) in [("MemTotal", false), ("MemAvailable", true)] {
        let family = format!("node_memory_{field}_bytes");
        let help = format!("Memory information field {field}_bytes.");
        head(out, &family, "gauge", &help);
        for (n, total, avail) in &mem {
            let v = if available { avail } else { total };
            let _ = writeln!(out, "{family}{{node=\"{}\"}} {v}", esc(n));
        }
    }
}

fn condition_status(n: &Node, t: &str) -> String {
    node_condition(n, t)
        .map(|c| c.status.to_lowercase())
        .unwrap_or_else(|| "unknown".into())
}

/// Writes the `gauge` head of `family`, then what `each` writes for every node, given the node
/// and its escaped name.
fn per_node(
    out: &mut String,
    store: &Store,
    family: &str,
    help: &str,
    each: impl Fn(&mut String, &Node, &str),
) {
    head(out, family, "gauge", help);
    for n in store.nodes.values() {
        each(out, n, &esc(n.metadata.name.as_deref().unwrap_or_default()));
    }
}

/// A pod's escaped identifying labels.
struct PodLabels {
    namespace: String,
    pod: String,
    /// The node it is bound to, empty when unbound.
    node: String,
}

/// Writes the `gauge` head of `family`, then what `each` writes for every pod, given the pod and
/// its labels.
fn per_pod(
    out: &mut String,
    store: &Store,
    family: &str,
    help: &str,
    each: impl Fn(&mut String, &Pod, &PodLabels),
) {
    head(out, family, "gauge", help);
    for p in store.pods.values() {
        let labels = PodLabels {
            namespace: esc(p.metadata.namespace.as_deref().unwrap_or_default()),
            pod: esc(p.metadata.name.as_deref().unwrap_or_default()),
            node: esc(p
                .spec
                .as_ref()
                .and_then(|s| s.node_name.as_deref())
                .unwrap_or_default()),
        };
        each(out, p, &labels);
    }
}

/// Writes the kube-state-metrics families.
pub fn kube_state(out: &mut String, store: &Store) {
    per_node(
        out,
        store,
        "kube_node_info",
        "Information about a cluster node.",
        |out, n, name| {
            let pid = esc(n
                .spec
                .as_ref()
                .and_then(|s| s.provider_id.as_deref())
                .unwrap_or_default());
            let ip = n
                .status
                .as_ref()
                .and_then(|s| s.addresses.as_ref())
                .and_then(|a| a.first())
                .map(|a| esc(&a.address))
                .unwrap_or_default();
            let _ = writeln!(
            out,
            "kube_node_info{{node=\"{name}\",provider_id=\"{pid}\",internal_ip=\"{ip}\",kubelet_version=\"{}\"}} 1",
            super::api::VERSION
        );
        },
    );
    per_node(
        out,
        store,
        "kube_node_role",
        "The role of a cluster node.",
        |out, n, name| {
            for (k, _) in n.metadata.labels.iter().flatten() {
                if let Some(role) = k.strip_prefix("node-role.kubernetes.io/") {
                    let _ = writeln!(
                        out,
                        "kube_node_role{{node=\"{name}\",role=\"{}\"}} 1",
                        esc(role)
                    );
                }
            }
        },
    );
    per_node(
        out,
        store,
        "kube_node_status_condition",
        "The condition of a cluster node.",
        |out, n, name| {
            for cond in ["Ready", "MemoryPressure", "DiskPressure", "PIDPressure"] {
                let st = condition_status(n, cond);
                for s in ["true", "false", "unknown"] {
                    let v = u8::from(st == s);
                    let _ = writeln!(out, "kube_node_status_condition{{node=\"{name}\",condition=\"{cond}\",status=\"{s}\"}} {v}");
                }
            }
        },
    );
    per_node(
        out,
        store,
        "kube_node_spec_unschedulable",
        "Whether a node can schedule new pods.",
        |out, n, name| {
            let v = u8::from(n.spec.as_ref().and_then(|s| s.unschedulable) == Some(true));
            let _ = writeln!(out, "kube_node_spec_unschedulable{{node=\"{name}\"}} {v}");
        },
    );
    per_pod(
        out,
        store,
        "kube_pod_info",
        "Information about pod.",
        |out, _, l| {
            let (ns, pod, node) = (&l.namespace, &l.pod, &l.node);
            let _ = writeln!(
                out,
                "kube_pod_info{{namespace=\"{ns}\",pod=\"{pod}\",node=\"{node}\"}} 1"
            );
        },
    );
    per_pod(
        out,
        store,
        "kube_pod_status_phase",
        "The pods current phase.",
        |out, p, l| {
            let (ns, pod) = (&l.namespace, &l.pod);
            let phase = p
                .status
                .as_ref()
                .and_then(|s| s.phase.as_deref())
                .unwrap_or("Pending");
            for ph in ["Pending", "Running", "Succeeded", "Failed", "Unknown"] {
                let v = u8::from(ph == phase);
                let _ = writeln!(
                    out,
                    "kube_pod_status_phase{{namespace=\"{ns}\",pod=\"{pod}\",phase=\"{ph}\"}} {v}"
                );
            }
        },
    );
    per_pod(
        out,
        store,
        "kube_pod_container_resource_requests",
        "The number of requested request resource by a container.",
        |out, p, l| {
            let (ns, pod, node) = (&l.namespace, &l.pod, &l.node);
            for c in p.spec.iter().flat_map(|s| s.containers.iter()) {
                let one = Pod {
                    spec: Some(k8s_openapi::api::core::v1::PodSpec {
                        containers: vec![c.clone()],
                        ..Default::default()
                    }),
                    ..Default::default()
                };
                let r = pod_requests(&one);
                let cn = esc(&c.name);
                if r.cpu_millis > 0 {
                    let _ = writeln!(out, "kube_pod_container_resource_requests{{namespace=\"{ns}\",pod=\"{pod}\",container=\"{cn}\",node=\"{node}\",resource=\"cpu\",unit=\"core\"}} {}", r.cpu_millis as f64 / 1000.0);
                }
                if r.memory_bytes > 0 {
                    let _ = writeln!(out, "kube_pod_container_resource_requests{{namespace=\"{ns}\",pod=\"{pod}\",container=\"{cn}\",node=\"{node}\",resource=\"memory\",unit=\"byte\"}} {}", r.memory_bytes);
                }
            }
        },
    );
}

/// Writes the application families.
pub fn app(out: &mut String, load: &Load) {
    head(
        out,
        "http_requests_total",
        "counter",
        "HTTP requests answered, by status code.",
    );
    for (code, n) in &load.requests {
        let _ = writeln!(
            out,
            "http_requests_total{{status=\"{code}\"}} {}",
            n.round()
        );
    }
    head(
        out,
        "http_request_duration_seconds",
        "histogram",
        "HTTP request latency.",
    );
    for (i, b) in BUCKETS.iter().enumerate() {
        let _ = writeln!(
            out,
            "http_request_duration_seconds_bucket{{le=\"{b}\"}} {}",
            load.buckets[i].round()
        );
    }
    let total = load.buckets[BUCKETS.len()];
    let _ = writeln!(
        out,
        "http_request_duration_seconds_bucket{{le=\"+Inf\"}} {}",
        total.round()
    );
    let _ = writeln!(
        out,
        "http_request_duration_seconds_sum {:.3}",
        load.latency_sum
    );
    let _ = writeln!(out, "http_request_duration_seconds_count {}", total.round());
}
