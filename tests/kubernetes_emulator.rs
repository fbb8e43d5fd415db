//! The Kubernetes adapter against the cluster emulator (`smartscale emulate`), started per test
//! on a free port with its own seed. `SMARTSCALE_BIN` names the built `smartscale` binary
//! (scripts/test-k8s.sh sets it); without it the tests skip locally and fail when `CI=true`.

use serde_json::{json, Value};
use smartscale_core::adapters::kubernetes::{build_client, K8sCredentials, KubeCluster};
use smartscale_core::model::{OwnerKind, PodPhase};
use smartscale_core::seams::{ClusterApi, DrainMode, DrainProgress};
use smartscale_core::Error;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Emulator {
    child: Child,
    url: String,
    _seed: std::path::PathBuf,
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self._seed);
    }
}

fn start(name: &str, seed: Value) -> Option<Emulator> {
    let Ok(bin) = std::env::var("SMARTSCALE_BIN") else {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("SMARTSCALE_BIN is not set: run scripts/test-k8s.sh, which builds the emulator");
        }
        eprintln!("skipping {name}: SMARTSCALE_BIN is not set (scripts/test-k8s.sh sets it)");
        return None;
    };
    let path = std::env::temp_dir().join(format!(
        "smartscale-seed-{}-{name}.json",
        std::process::id()
    ));
    std::fs::write(&path, seed.to_string()).expect("writing the seed");
    let mut child = Command::new(bin)
        .args([
            "emulate",
            "--listen",
            "127.0.0.1:0",
            "--pod-startup",
            "1s",
            "--seed",
        ])
        .arg(&path)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("starting smartscale emulate");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("reading the emulator's address");
    let url = line
        .trim()
        .rsplit(' ')
        .next()
        .filter(|u| u.starts_with("http://"))
        .unwrap_or_else(|| panic!("unexpected first line from the emulator: {line:?}"))
        .to_owned();
    Some(Emulator {
        child,
        url,
        _seed: path,
    })
}

fn cluster(e: &Emulator) -> KubeCluster {
    let creds = K8sCredentials {
        server: e.url.clone(),
        ca: None,
        token: "emulator-token".into(),
    };
    KubeCluster::new(build_client(&creds).expect("building the client"))
}

fn node(name: &str, extra: Value) -> Value {
    let mut n = json!({"name": name, "zone": "us-east-1a", "instanceId": format!("i-0{name}"),
                       "instanceType": "t3.medium"});
    if let (Some(n), Some(e)) = (n.as_object_mut(), extra.as_object()) {
        n.extend(e.clone());
    }
    n
}

fn template(app: &str, node: Option<&str>, annotations: Value) -> Value {
    let mut spec = json!({
        "terminationGracePeriodSeconds": 1,
        "containers": [{"name": "app", "image": "nginx",
                        "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}}}]
    });
    if let Some(n) = node {
        spec["nodeSelector"] = json!({"kubernetes.io/hostname": n});
    }
    json!({"metadata": {"labels": {"app": app}, "annotations": annotations}, "spec": spec})
}

fn deployment(name: &str, replicas: i32, node: Option<&str>) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment",
           "metadata": {"name": name, "namespace": "shop"},
           "spec": {"replicas": replicas, "template": template(name, node, json!({}))}})
}

async fn wait_running(c: &KubeCluster, count: usize) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let v = c.view().await.expect("view");
        let running = v
            .pods
            .iter()
            .filter(|p| p.phase == PodPhase::Running)
            .count();
        if running >= count {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "only {running} of {count} pods Running: {:?}",
            v.pods
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn drain_until_done(c: &KubeCluster, node: &str) -> Vec<DrainProgress> {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut steps = Vec::new();
    loop {
        let p = c
            .drain_step(node, DrainMode::Voluntary)
            .await
            .expect("drain step");
        let done = p.is_drained();
        steps.push(p);
        if done {
            return steps;
        }
        assert!(
            Instant::now() < deadline,
            "node {node} not drained: {steps:?}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

#[tokio::test]
async fn pdb_blocks_the_last_eviction_until_a_replacement_runs() {
    let seed = json!({
        "nodes": [node("w1", json!({})), node("w2", json!({"unschedulable": true}))],
        "objects": [
            deployment("web", 2, None),
            {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
             "metadata": {"name": "web-pdb", "namespace": "shop"},
             "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "web"}}}}
        ]
    });
    let Some(e) = start("pdb", seed) else { return };
    let c = cluster(&e);
    wait_running(&c, 2).await;
    c.uncordon("w2").await.expect("uncordon w2");
    c.cordon("w1").await.expect("cordon w1");

    let first = c
        .drain_step("w1", DrainMode::Voluntary)
        .await
        .expect("first step");
    assert_eq!(
        first.evicted.len(),
        1,
        "one eviction fits the budget: {first:?}"
    );
    assert_eq!(first.blocked.len(), 1, "the last one is refused: {first:?}");
    assert!(
        first.blocked[0]
            .reason
            .contains("disruption budget shop/web-pdb"),
        "reason names the budget: {:?}",
        first.blocked[0]
    );
    assert!(!first.is_drained());

    let steps = drain_until_done(&c, "w1").await;
    assert!(
        steps.iter().any(|s| !s.evicted.is_empty()),
        "the blocked pod was evicted once a replacement ran: {steps:?}"
    );
    let v = c.view().await.expect("view");
    let web: Vec<_> = v
        .pods
        .iter()
        .filter(|p| p.owner_name.as_deref() == Some("web"))
        .collect();
    assert_eq!(web.len(), 2, "both replicas exist again: {web:?}");
    assert!(
        web.iter()
            .all(|p| p.node_name.as_deref() == Some("w2") && p.phase == PodPhase::Running),
        "replacements run on w2: {web:?}"
    );
}

#[tokio::test]
async fn statefulset_and_pinned_pods_are_reported_and_nothing_is_evicted() {
    let cases = [
        (
            "statefulset",
            json!({"apiVersion": "apps/v1", "kind": "StatefulSet",
                   "metadata": {"name": "db", "namespace": "shop"},
                   "spec": {"replicas": 1, "serviceName": "db", "template": template("db", Some("w1"), json!({}))}}),
            "StatefulSet",
        ),
        (
            "safe-to-evict false",
            json!({"apiVersion": "apps/v1", "kind": "Deployment",
                   "metadata": {"name": "batch", "namespace": "shop"},
                   "spec": {"replicas": 1, "template": template("batch", Some("w1"),
                            json!({"cluster-autoscaler.kubernetes.io/safe-to-evict": "false"}))}}),
            "safe-to-evict=false",
        ),
    ];
    for (name, blocker, reason) in cases {
        let seed = json!({
            "nodes": [node("w1", json!({})), node("w2", json!({}))],
            "objects": [deployment("web", 1, Some("w1")), blocker]
        });
        let Some(e) = start(&name.replace(' ', "-"), seed) else {
            return;
        };
        let c = cluster(&e);
        wait_running(&c, 2).await;
        c.cordon("w1").await.expect("cordon");
        let p = c
            .drain_step("w1", DrainMode::Voluntary)
            .await
            .expect("drain step");
        assert!(p.evicted.is_empty(), "case {name}: nothing evicted: {p:?}");
        assert_eq!(p.blocked.len(), 1, "case {name}: {p:?}");
        assert!(p.blocked[0].reason.contains(reason), "case {name}: {p:?}");
        assert!(!p.is_drained(), "case {name}");
        let v = c.view().await.expect("view");
        assert_eq!(
            v.pods_on("w1")
                .filter(|p| p.phase == PodPhase::Running)
                .count(),
            2,
            "case {name}: both pods still run on w1"
        );
    }
}

#[tokio::test]
async fn daemonset_pods_stay_and_an_empty_node_drains_at_once() {
    let seed = json!({
        "nodes": [node("w1", json!({})), node("w2", json!({}))],
        "objects": [
            {"apiVersion": "apps/v1", "kind": "DaemonSet",
             "metadata": {"name": "agent", "namespace": "kube-system"},
             "spec": {"template": template("agent", None, json!({}))}},
            deployment("web", 1, Some("w2"))
        ]
    });
    let Some(e) = start("daemonset", seed) else {
        return;
    };
    let c = cluster(&e);
    wait_running(&c, 3).await;
    c.cordon("w1").await.expect("cordon");
    let p = c
        .drain_step("w1", DrainMode::Voluntary)
        .await
        .expect("drain step");
    assert_eq!(p, DrainProgress::default(), "nothing to move on w1");
    assert!(p.is_drained());
    let v = c.view().await.expect("view");
    let on_w1: Vec<_> = v.pods_on("w1").collect();
    assert_eq!(on_w1.len(), 1, "the DaemonSet pod stays: {on_w1:?}");
    assert_eq!(on_w1[0].owner_kind, Some(OwnerKind::DaemonSet));
}

#[tokio::test]
async fn view_maps_nodes_owners_budgets_and_pending_pods() {
    let seed = json!({
        "nodes": [node("cp", json!({"controlPlane": true, "unschedulable": true})),
                  node("w1", json!({"annotations": {"cluster-autoscaler.kubernetes.io/scale-down-disabled": "true"}}))],
        "objects": [
            deployment("web", 2, None),
            {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
             "metadata": {"name": "web-pdb", "namespace": "shop"},
             "spec": {"maxUnavailable": 1, "selector": {"matchLabels": {"app": "web"}}}},
            {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "huge", "namespace": "shop",
                "ownerReferences": [{"apiVersion": "batch/v1", "kind": "Job", "name": "crunch",
                                     "uid": "u-1", "controller": true}]},
             "spec": {"containers": [{"name": "c", "image": "x",
                      "resources": {"requests": {"cpu": "64", "memory": "1Gi"}}}]}}
        ]
    });
    let Some(e) = start("view", seed) else { return };
    let c = cluster(&e);
    wait_running(&c, 2).await;
    let v = c.view().await.expect("view");

    let w1 = v.nodes.iter().find(|n| n.name == "w1").expect("w1");
    assert_eq!(w1.provider_id.as_deref(), Some("aws:///us-east-1a/i-0w1"));
    assert_eq!(w1.instance_id.as_deref(), Some("i-0w1"));
    assert_eq!(w1.zone.as_deref(), Some("us-east-1a"));
    assert_eq!(w1.instance_type.as_deref(), Some("t3.medium"));
    assert!(w1.ready && !w1.unschedulable && !w1.control_plane && !w1.managed);
    assert_eq!(w1.allocatable.cpu_millis, 2000);
    assert!(w1
        .annotations
        .contains_key("cluster-autoscaler.kubernetes.io/scale-down-disabled"));
    assert!(v
        .nodes
        .iter()
        .any(|n| n.name == "cp" && n.control_plane && n.unschedulable));

    let web: Vec<_> = v
        .pods
        .iter()
        .filter(|p| p.labels.get("app").map(String::as_str) == Some("web"))
        .collect();
    assert_eq!(web.len(), 2);
    for p in &web {
        assert_eq!(p.owner_kind, Some(OwnerKind::Deployment), "{p:?}");
        assert_eq!(p.owner_name.as_deref(), Some("web"));
        assert_eq!(p.workload_replicas, Some(2));
        assert_eq!(p.requests.cpu_millis, 100);
    }
    let pending: Vec<_> = v.pending_pods().collect();
    assert_eq!(pending.len(), 1, "{pending:?}");
    assert_eq!(pending[0].name, "huge");
    assert_eq!(pending[0].owner_kind, Some(OwnerKind::Job));
    assert_eq!(pending[0].requests.cpu_millis, 64_000);
    assert_eq!(pending[0].requests.memory_bytes, 1 << 30);

    assert_eq!(v.pdbs.len(), 1);
    assert_eq!(v.pdbs[0].disruptions_allowed, 1);
    assert!(v.pdbs[0].selects(web[0]));
}

/// The view reads every page (`limit`/`continue`) of a list longer than one page, and the nodes
/// carry the addresses node identity is checked against.
#[tokio::test]
async fn view_reads_every_page_and_nodes_carry_their_addresses() {
    let pods = 2 * smartscale_core::adapters::kubernetes::LIST_PAGE_SIZE as usize + 37;
    let seed = json!({
        "nodes": [node("w1", json!({"address": "10.0.1.77"}))],
        "objects": [deployment("web", pods as i32, None)]
    });
    let Some(e) = start("pages", seed) else {
        return;
    };
    let c = cluster(&e);
    let deadline = Instant::now() + Duration::from_secs(30);
    let listed = loop {
        let n = c.view().await.expect("view").pods.len();
        if n >= pods || Instant::now() > deadline {
            break n;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(listed, pods, "every page was read");
    let nodes = c.nodes().await.expect("nodes");
    assert_eq!(nodes.len(), 1);
    assert_eq!(nodes[0].addresses, vec!["10.0.1.77", "w1"]);
}

#[tokio::test]
async fn cordon_uncordon_and_delete_node() {
    let seed = json!({"nodes": [node("w1", json!({}))]});
    let Some(e) = start("cordon", seed) else {
        return;
    };
    let c = cluster(&e);
    let unschedulable = |v: &smartscale_core::model::ClusterView| {
        v.nodes
            .iter()
            .find(|n| n.name == "w1")
            .map(|n| n.unschedulable)
    };
    c.cordon("w1").await.expect("cordon");
    c.cordon("w1").await.expect("cordon is idempotent");
    assert_eq!(unschedulable(&c.view().await.unwrap()), Some(true));
    c.uncordon("w1").await.expect("uncordon");
    assert_eq!(unschedulable(&c.view().await.unwrap()), Some(false));
    match c.cordon("nope").await {
        Err(Error::NotFound { what, .. }) => assert!(what.contains("nope")),
        other => panic!("cordoning a missing node: {other:?}"),
    }
    c.delete_node("w1").await.expect("delete");
    c.delete_node("w1").await.expect("already gone is success");
    assert_eq!(unschedulable(&c.view().await.unwrap()), None);
}
