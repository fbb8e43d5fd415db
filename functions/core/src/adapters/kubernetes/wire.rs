//! The parts of Kubernetes objects the model reads, as the API server writes them in JSON.
//!
//! A real pod is about 4 kB of JSON (managed fields, environment, probes, projected volumes), a
//! real node more (its image list); [`view`](super::view) reads a handful of fields of each. These
//! types name only those fields, so every other one is skipped as it is parsed instead of being
//! built into `k8s_openapi` objects and dropped: a page of 500 pods parses in 8 ms instead of
//! 32 ms, the 30 pages of 15,000 pods in 0.24 s of one core instead of 0.96 s
//! (docs/BENCHMARKS.md, from `cargo bench -p smartscale-core --bench wire`). A field these types
//! lack is one the model does not read; one the model starts to read is added here, where the
//! JSON names and the model meet.

use k8s_openapi::api::core::v1::NodeAddress;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{OwnerReference, Time};
use serde::de::IgnoredAny;
use serde::Deserialize;
use std::collections::BTreeMap;

/// One page of a list response: its items and the `continue` token of the next page.
#[derive(Debug, Deserialize)]
#[serde(bound(deserialize = "T: Deserialize<'de>"))]
pub struct Page<T> {
    /// The list's metadata.
    #[serde(default)]
    pub metadata: PageMeta,
    /// The objects of this page; `null` reads as none.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub items: Vec<T>,
}

/// A list response's metadata.
#[derive(Debug, Default, Deserialize)]
pub struct PageMeta {
    /// Where the next page starts; absent or empty on the last page.
    #[serde(rename = "continue", default)]
    pub continue_: Option<String>,
}

/// An object's metadata: identity, labels, annotations, owners and lifetimes.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Meta {
    /// Object name.
    pub name: Option<String>,
    /// Namespace; `None` for cluster-scoped kinds.
    pub namespace: Option<String>,
    /// Labels.
    pub labels: Option<BTreeMap<String, String>>,
    /// Annotations.
    pub annotations: Option<BTreeMap<String, String>>,
    /// Owner references.
    pub owner_references: Option<Vec<OwnerReference>>,
    /// When the object was created.
    pub creation_timestamp: Option<Time>,
    /// When deletion was requested: set while the object terminates.
    pub deletion_timestamp: Option<Time>,
}

/// An object: its metadata, and the parts of its spec and status `Spec` and `Status` name.
#[derive(Debug, Clone, Deserialize)]
#[serde(bound(deserialize = "Spec: Deserialize<'de>, Status: Deserialize<'de>"))]
pub struct Object<Spec, Status> {
    /// Metadata.
    #[serde(default)]
    pub metadata: Meta,
    /// Spec.
    pub spec: Option<Spec>,
    /// Status.
    pub status: Option<Status>,
}

/// A pod: its metadata, where it runs and what it asks for, and its phase.
pub type Pod = Object<PodSpec, PodStatus>;

/// A node: metadata, provider id and schedulability, readiness, allocatable and addresses.
pub type Node = Object<NodeSpec, NodeStatus>;

/// A ReplicaSet, Deployment or StatefulSet: metadata and desired replicas (no status is read).
pub type Workload = Object<WorkloadSpec, IgnoredAny>;

/// The pod spec fields the model reads.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodSpec {
    /// The node the pod is bound to; `None` while unscheduled.
    pub node_name: Option<String>,
    /// The containers (init containers are not read).
    #[serde(default, deserialize_with = "null_as_empty")]
    pub containers: Vec<Container>,
    /// The volumes.
    pub volumes: Option<Vec<Volume>>,
}

/// A container's resources.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct Container {
    /// Resources.
    pub resources: Option<ContainerResources>,
}

/// A container's resource requests.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct ContainerResources {
    /// Requests by resource name (`cpu`, `memory`).
    pub requests: Option<BTreeMap<String, Quantity>>,
}

/// A volume: only whether it is an `emptyDir` (node-local storage) is read.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Volume {
    /// Present for an `emptyDir` volume.
    pub empty_dir: Option<IgnoredAny>,
}

/// A pod's phase.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct PodStatus {
    /// `Pending`, `Running`, `Succeeded`, `Failed` or `Unknown`.
    pub phase: Option<String>,
}

/// The node spec fields the model reads.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeSpec {
    /// `aws:///<zone>/<instance-id>` as the kubelet reports it.
    #[serde(rename = "providerID")]
    pub provider_id: Option<String>,
    /// True when cordoned.
    pub unschedulable: Option<bool>,
}

/// The node status fields the model reads.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct NodeStatus {
    /// Conditions (only `Ready` is read).
    pub conditions: Option<Vec<Condition>>,
    /// Allocatable resources by name.
    pub allocatable: Option<BTreeMap<String, Quantity>>,
    /// Addresses the kubelet reports.
    pub addresses: Option<Vec<NodeAddress>>,
}

/// A status condition's type and status.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct Condition {
    /// The condition, such as `Ready`.
    #[serde(rename = "type")]
    pub type_: String,
    /// `True`, `False` or `Unknown`.
    pub status: String,
}

/// A workload's desired replicas.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct WorkloadSpec {
    /// Desired replicas; Kubernetes reads an absent value as 1.
    pub replicas: Option<i32>,
}

fn null_as_empty<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A pod as K3s serves it, managed fields and all: the fields the model reads are read, the
    /// rest are skipped, and `null` lists read as empty.
    #[test]
    fn a_served_pod_reads_as_the_fields_the_model_needs() {
        let raw = r#"{"metadata":{"continue":"default/p2","resourceVersion":"7"},"items":[
          {"apiVersion":"v1","kind":"Pod","metadata":{"name":"p1","namespace":"default",
            "labels":{"app":"a"},"annotations":{"kubernetes.io/config.mirror":"x"},
            "ownerReferences":[{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"a-1","uid":"u","controller":true}],
            "creationTimestamp":"2026-12-01T10:00:00Z","deletionTimestamp":"2026-12-01T11:00:00Z",
            "managedFields":[{"manager":"k3s","fieldsV1":{"f:spec":{"f:containers":{}}}}]},
           "spec":{"nodeName":"w1","containers":[
              {"name":"c","image":"i","env":[{"name":"A","value":"1"}],"resources":{"requests":{"cpu":"250m","memory":"64Mi"},"limits":{"cpu":"1"}}},
              {"name":"d","image":"i"}],
             "volumes":[{"name":"scratch","emptyDir":{}},{"name":"token","projected":{"sources":[]}}],
             "tolerations":[{"key":"k","operator":"Exists"}]},
           "status":{"phase":"Running","conditions":[{"type":"Ready","status":"True"}]}},
          {"metadata":{"name":"p2"},"spec":{"containers":null}}]}"#;
        let page: Page<Pod> = serde_json::from_str(raw).expect("a served page parses");
        assert_eq!(page.metadata.continue_.as_deref(), Some("default/p2"));
        let [p1, p2] = &page.items[..] else {
            panic!("two pods, got {}", page.items.len())
        };
        assert_eq!(p1.metadata.name.as_deref(), Some("p1"));
        assert!(p1.metadata.deletion_timestamp.is_some());
        assert_eq!(p1.metadata.owner_references.as_ref().map(Vec::len), Some(1));
        let spec = p1.spec.as_ref().expect("spec");
        assert_eq!(spec.node_name.as_deref(), Some("w1"));
        let requests = spec.containers[0]
            .resources
            .as_ref()
            .and_then(|r| r.requests.as_ref());
        assert_eq!(
            requests.and_then(|r| r.get("cpu")).map(|q| q.0.as_str()),
            Some("250m")
        );
        assert!(spec.containers[1].resources.is_none());
        let empty_dirs: Vec<bool> = spec
            .volumes
            .iter()
            .flatten()
            .map(|v| v.empty_dir.is_some())
            .collect();
        assert_eq!(empty_dirs, [true, false]);
        assert_eq!(
            p1.status.as_ref().and_then(|s| s.phase.as_deref()),
            Some("Running")
        );
        assert!(p2.spec.as_ref().is_some_and(|s| s.containers.is_empty()));
        assert!(p2.status.is_none());
    }

    #[test]
    fn a_served_node_reads_as_the_fields_the_model_needs() {
        let raw = r#"{"metadata":{},"items":[{"metadata":{"name":"w1","labels":{"topology.kubernetes.io/zone":"us-east-1a"}},
          "spec":{"providerID":"aws:///us-east-1a/i-0abc","unschedulable":true,"taints":[{"key":"k","effect":"NoSchedule"}]},
          "status":{"conditions":[{"type":"Ready","status":"True","reason":"KubeletReady"}],
            "allocatable":{"cpu":"2","memory":"3Gi"},"addresses":[{"type":"InternalIP","address":"10.0.1.5"}],
            "images":[{"names":["a"],"sizeBytes":1}]}}]}"#;
        let page: Page<Node> = serde_json::from_str(raw).expect("a served page parses");
        assert!(page.metadata.continue_.is_none());
        let n = &page.items[0];
        let spec = n.spec.as_ref().expect("spec");
        assert_eq!(
            spec.provider_id.as_deref(),
            Some("aws:///us-east-1a/i-0abc")
        );
        assert_eq!(spec.unschedulable, Some(true));
        let status = n.status.as_ref().expect("status");
        assert_eq!(
            status.conditions.as_ref().map(|c| c[0].type_.as_str()),
            Some("Ready")
        );
        assert_eq!(
            status.addresses.as_ref().map(|a| a[0].address.as_str()),
            Some("10.0.1.5")
        );
    }
}
