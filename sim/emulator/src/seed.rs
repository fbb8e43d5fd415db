//! The initial cluster: a JSON seed file with nodes (short form) and any Kubernetes objects the
//! emulator keeps (Deployments, StatefulSets, DaemonSets, ReplicaSets, PodDisruptionBudgets,
//! Pods), written as ordinary manifests.
//!
//! ```json
//! {"nodes": [{"name": "cp", "controlPlane": true, "zone": "us-east-1a"},
//!            {"name": "w1", "instanceId": "i-0abc", "zone": "us-east-1b", "cpu": "2", "memory": "4Gi"}],
//!  "objects": [{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}, "spec": {...}}]}
//! ```

use super::api::VERSION;
use super::store::{k8s_time, Store, Stored};
use chrono::{DateTime, Utc};
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::core::v1::{
    Node, NodeAddress, NodeCondition, NodeSpec, NodeStatus, NodeSystemInfo, Pod,
};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// A seed file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Seed {
    /// Nodes to register at start.
    #[serde(default)]
    pub nodes: Vec<NodeSeed>,
    /// Kubernetes objects to create at start, in order.
    #[serde(default)]
    pub objects: Vec<Value>,
}

/// One node, in short form.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NodeSeed {
    /// Node name.
    pub name: String,
    /// Carries the control-plane and master role labels.
    #[serde(default)]
    pub control_plane: bool,
    /// EC2 instance id; with `zone` it makes `spec.providerID` `aws:///<zone>/<id>`.
    pub instance_id: Option<String>,
    /// `topology.kubernetes.io/zone`.
    pub zone: Option<String>,
    /// `node.kubernetes.io/instance-type`; also picks default capacity.
    pub instance_type: Option<String>,
    /// Allocatable CPU quantity (default from the instance type, else `2`).
    pub cpu: Option<String>,
    /// Allocatable memory quantity (default from the instance type, else `4Gi`).
    pub memory: Option<String>,
    /// Extra labels.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Annotations.
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    /// Starts NotReady when false.
    pub ready: Option<bool>,
    /// Starts cordoned.
    #[serde(default)]
    pub unschedulable: bool,
    /// InternalIP address.
    pub address: Option<String>,
}

/// CPU and memory of the instance types the demo uses; others default to 2 vCPU / 4 GiB.
pub fn instance_capacity(instance_type: &str) -> (&'static str, &'static str) {
    match instance_type {
        "t3.small" => ("2", "2Gi"),
        "t3.medium" | "t3a.medium" | "c5.large" => ("2", "4Gi"),
        "t3.large" | "t3a.large" | "m5.large" | "m6i.large" => ("2", "8Gi"),
        "t3.xlarge" | "m5.xlarge" | "m6i.xlarge" => ("4", "16Gi"),
        "c5.xlarge" => ("4", "8Gi"),
        "m5.2xlarge" => ("8", "32Gi"),
        _ => ("2", "4Gi"),
    }
}

/// The Ready (or NotReady) condition set of a node at `now`.
pub fn node_conditions(ready: bool, now: DateTime<Utc>) -> Vec<NodeCondition> {
    let cond = |t: &str, s: &str, reason: &str, msg: &str| NodeCondition {
        type_: t.into(),
        status: s.into(),
        reason: Some(reason.into()),
        message: Some(msg.into()),
        last_heartbeat_time: Some(k8s_time(now)),
        last_transition_time: Some(k8s_time(now)),
    };
    let mut v = vec![
        cond(
            "MemoryPressure",
            "False",
            "KubeletHasSufficientMemory",
            "kubelet has sufficient memory available",
        ),
        cond(
            "DiskPressure",
            "False",
            "KubeletHasNoDiskPressure",
            "kubelet has no disk pressure",
        ),
        cond(
            "PIDPressure",
            "False",
            "KubeletHasSufficientPID",
            "kubelet has sufficient PID available",
        ),
    ];
    v.push(if ready {
        cond(
            "Ready",
            "True",
            "KubeletReady",
            "kubelet is posting ready status",
        )
    } else {
        cond(
            "Ready",
            "Unknown",
            "NodeStatusUnknown",
            "Kubelet stopped posting node status.",
        )
    });
    v
}

/// Builds the Node object a K3s agent registers.
pub fn build_node(s: &NodeSeed, now: DateTime<Utc>) -> Node {
    let itype = s
        .instance_type
        .clone()
        .unwrap_or_else(|| "t3.medium".into());
    let (cpu, mem) = instance_capacity(&itype);
    let cpu = s.cpu.clone().unwrap_or_else(|| cpu.into());
    let mem = s.memory.clone().unwrap_or_else(|| mem.into());
    let mut labels = BTreeMap::from([
        ("kubernetes.io/hostname".to_owned(), s.name.clone()),
        ("kubernetes.io/os".into(), "linux".into()),
        ("kubernetes.io/arch".into(), "amd64".into()),
        ("node.kubernetes.io/instance-type".into(), itype.clone()),
    ]);
    if let Some(z) = &s.zone {
        labels.insert("topology.kubernetes.io/zone".into(), z.clone());
        let region = z.trim_end_matches(|c: char| c.is_ascii_lowercase());
        labels.insert("topology.kubernetes.io/region".into(), region.into());
    }
    if s.control_plane {
        labels.insert(
            "node-role.kubernetes.io/control-plane".into(),
            "true".into(),
        );
        labels.insert("node-role.kubernetes.io/master".into(), "true".into());
    }
    labels.extend(s.labels.clone());
    let resources = BTreeMap::from([
        ("cpu".to_owned(), Quantity(cpu)),
        ("memory".into(), Quantity(mem)),
        ("pods".into(), Quantity("110".into())),
    ]);
    let provider_id = match (&s.zone, &s.instance_id) {
        (Some(z), Some(i)) => Some(smartscale_engine::model::provider_id(z, i)),
        _ => None,
    };
    Node {
        metadata: ObjectMeta {
            name: Some(s.name.clone()),
            labels: Some(labels),
            annotations: (!s.annotations.is_empty()).then(|| s.annotations.clone()),
            ..Default::default()
        },
        spec: Some(NodeSpec {
            provider_id,
            unschedulable: s.unschedulable.then_some(true),
            ..Default::default()
        }),
        status: Some(NodeStatus {
            capacity: Some(resources.clone()),
            allocatable: Some(resources),
            conditions: Some(node_conditions(s.ready.unwrap_or(true), now)),
            addresses: Some(vec![
                NodeAddress {
                    type_: "InternalIP".into(),
                    address: s.address.clone().unwrap_or_else(|| "10.0.1.10".into()),
                },
                NodeAddress {
                    type_: "Hostname".into(),
                    address: s.name.clone(),
                },
            ]),
            node_info: Some(NodeSystemInfo {
                kubelet_version: VERSION.into(),
                kube_proxy_version: VERSION.into(),
                container_runtime_version: "containerd://1.7.23-k3s2".into(),
                operating_system: "linux".into(),
                architecture: "amd64".into(),
                os_image: "Amazon Linux 2023".into(),
                ..Default::default()
            }),
            ..Default::default()
        }),
    }
}

fn create_as<T: Stored>(store: &mut Store, v: Value, now: DateTime<Utc>) -> Result<(), String> {
    let obj: T = serde_json::from_value(v).map_err(|e| format!("{}: {e}", T::KIND))?;
    store
        .create(obj, now)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// Loads `seed` into `store`.
///
/// Errors: a message naming the node or object that is malformed or duplicated.
pub fn load(store: &mut Store, seed: &Seed, now: DateTime<Utc>) -> Result<(), String> {
    for n in &seed.nodes {
        store
            .create(build_node(n, now), now)
            .map_err(|e| format!("node {}: {e}", n.name))?;
    }
    for (i, obj) in seed.objects.iter().enumerate() {
        let kind = obj["kind"].as_str().unwrap_or_default().to_owned();
        let mut obj = obj.clone();
        // Selectors default to the template's labels, so short seeds stay short.
        if matches!(
            kind.as_str(),
            "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet"
        ) && obj["spec"]["selector"].is_null()
        {
            obj["spec"]["selector"] =
                serde_json::json!({"matchLabels": obj["spec"]["template"]["metadata"]["labels"]});
        }
        let r = match kind.as_str() {
            "Deployment" => create_as::<Deployment>(store, obj, now),
            "ReplicaSet" => create_as::<ReplicaSet>(store, obj, now),
            "StatefulSet" => create_as::<StatefulSet>(store, obj, now),
            "DaemonSet" => create_as::<DaemonSet>(store, obj, now),
            "PodDisruptionBudget" => create_as::<PodDisruptionBudget>(store, obj, now),
            "Pod" => create_as::<Pod>(store, obj, now),
            other => Err(format!("kind {other:?} is not kept by the emulator")),
        };
        r.map_err(|e| format!("seed object {i}: {e}"))?;
    }
    Ok(())
}
