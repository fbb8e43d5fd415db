//! Mapping Kubernetes objects to the model: nodes, pods with their owners resolved (ReplicaSet →
//! Deployment, with the workload's desired replicas), and disruption budgets. Pure functions, on
//! the fields [`wire`](super::wire) reads.

use super::wire::{Meta, Node, Pod, Workload};
use crate::config::units::{parse_cpu_millis, parse_memory_bytes};
use crate::model::{parse_provider_id, NodeInfo, OwnerKind, PdbInfo, PodInfo, PodPhase, Resources};
use chrono::{DateTime, Utc};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{OwnerReference, Time};
use std::collections::{BTreeMap, HashMap, HashSet};

/// Annotation of static (mirror) pods.
pub const MIRROR_ANNOTATION: &str = "kubernetes.io/config.mirror";
/// Zone label.
pub const ZONE_LABEL: &str = "topology.kubernetes.io/zone";
/// Instance-type label.
pub const INSTANCE_TYPE_LABEL: &str = "node.kubernetes.io/instance-type";

fn time(t: Option<&Time>) -> DateTime<Utc> {
    t.and_then(|t| DateTime::from_timestamp_millis(t.0.as_millisecond()))
        .unwrap_or_default()
}

fn cpu(q: Option<&Quantity>) -> u64 {
    q.and_then(|q| parse_cpu_millis(&q.0).ok()).unwrap_or(0)
}

fn memory(q: Option<&Quantity>) -> u64 {
    q.and_then(|q| parse_memory_bytes(&q.0).ok()).unwrap_or(0)
}

fn name_of(m: &Meta) -> String {
    m.name.clone().unwrap_or_default()
}

fn ns_of(m: &Meta) -> String {
    m.namespace.clone().unwrap_or_default()
}

/// The controlling owner reference.
pub fn controller(m: &Meta) -> Option<&OwnerReference> {
    m.owner_references
        .as_ref()?
        .iter()
        .find(|r| r.controller == Some(true))
}

/// A node as the model sees it. `managed` is false and `idle_since` is `None`: EC2 and the
/// caller's pod view fill them ([`with_idle_since`]).
pub fn node_info(n: &Node) -> NodeInfo {
    let labels = n.metadata.labels.clone().unwrap_or_default();
    let spec = n.spec.as_ref();
    let status = n.status.as_ref();
    let provider_id = spec.and_then(|s| s.provider_id.clone());
    let parsed = provider_id.as_deref().and_then(parse_provider_id);
    let ready = status
        .and_then(|s| s.conditions.as_ref())
        .into_iter()
        .flatten()
        .any(|c| c.type_ == "Ready" && c.status == "True");
    let alloc = status.and_then(|s| s.allocatable.as_ref());
    NodeInfo {
        name: name_of(&n.metadata),
        instance_id: parsed.as_ref().map(|(_, id)| id.clone()),
        zone: labels
            .get(ZONE_LABEL)
            .cloned()
            .or_else(|| parsed.as_ref().map(|(z, _)| z.clone())),
        instance_type: labels.get(INSTANCE_TYPE_LABEL).cloned(),
        capacity_type: crate::model::CapacityType::OnDemand,
        provider_id,
        ready,
        unschedulable: spec.and_then(|s| s.unschedulable) == Some(true),
        control_plane: labels.contains_key("node-role.kubernetes.io/control-plane")
            || labels.contains_key("node-role.kubernetes.io/master"),
        managed: false,
        created_at: time(n.metadata.creation_timestamp.as_ref()),
        idle_since: None,
        allocatable: Resources {
            cpu_millis: cpu(alloc.and_then(|a| a.get("cpu"))),
            memory_bytes: memory(alloc.and_then(|a| a.get("memory"))),
        },
        annotations: n.metadata.annotations.clone().unwrap_or_default(),
        labels,
        addresses: status
            .and_then(|s| s.addresses.as_ref())
            .into_iter()
            .flatten()
            .filter(|a| a.type_ == "InternalIP" || a.type_ == "Hostname")
            .map(|a| a.address.clone())
            .collect(),
    }
}

/// Desired replicas and owning Deployment of the workloads pods can belong to.
#[derive(Debug, Default, Clone)]
pub struct Owners {
    /// ReplicaSet `(ns, name)` → (owning Deployment name, ReplicaSet replicas).
    pub replicasets: HashMap<(String, String), (Option<String>, Option<u32>)>,
    /// Deployment `(ns, name)` → replicas.
    pub deployments: HashMap<(String, String), Option<u32>>,
    /// StatefulSet `(ns, name)` → replicas.
    pub statefulsets: HashMap<(String, String), Option<u32>>,
}

fn replicas(r: Option<i32>) -> Option<u32> {
    // Kubernetes defaults an unset replicas field to 1.
    Some(r.unwrap_or(1).max(0) as u32)
}

impl Owners {
    /// Indexes the workloads: ReplicaSets, Deployments and StatefulSets.
    pub fn new(rs: &[Workload], deploys: &[Workload], sts: &[Workload]) -> Self {
        let key = |m: &Meta| (ns_of(m), name_of(m));
        let desired = |w: &Workload| replicas(w.spec.as_ref().and_then(|s| s.replicas));
        Owners {
            replicasets: rs
                .iter()
                .map(|r| {
                    let deploy = controller(&r.metadata)
                        .filter(|o| o.kind == "Deployment")
                        .map(|o| o.name.clone());
                    let n = desired(r);
                    (key(&r.metadata), (deploy, n))
                })
                .collect(),
            deployments: deploys
                .iter()
                .map(|d| (key(&d.metadata), desired(d)))
                .collect(),
            statefulsets: sts.iter().map(|s| (key(&s.metadata), desired(s))).collect(),
        }
    }

    /// `(kind, name, desired replicas)` of the workload controlling a pod in `ns`.
    pub fn resolve(&self, ns: &str, owner: &OwnerReference) -> (OwnerKind, String, Option<u32>) {
        let k = (ns.to_owned(), owner.name.clone());
        match owner.kind.as_str() {
            "ReplicaSet" => match self.replicasets.get(&k) {
                Some((Some(deploy), rs_replicas)) => {
                    let d = self
                        .deployments
                        .get(&(ns.to_owned(), deploy.clone()))
                        .copied()
                        .unwrap_or(*rs_replicas);
                    (OwnerKind::Deployment, deploy.clone(), d)
                }
                Some((None, n)) => (OwnerKind::ReplicaSet, owner.name.clone(), *n),
                None => (OwnerKind::ReplicaSet, owner.name.clone(), None),
            },
            "StatefulSet" => (
                OwnerKind::StatefulSet,
                owner.name.clone(),
                self.statefulsets.get(&k).copied().flatten(),
            ),
            "DaemonSet" => (OwnerKind::DaemonSet, owner.name.clone(), None),
            "Job" => (OwnerKind::Job, owner.name.clone(), None),
            other => (OwnerKind::Other(other.to_owned()), owner.name.clone(), None),
        }
    }
}

fn phase(p: &Pod) -> PodPhase {
    match p.status.as_ref().and_then(|s| s.phase.as_deref()) {
        Some("Pending") | None => PodPhase::Pending,
        Some("Running") => PodPhase::Running,
        Some("Succeeded") => PodPhase::Succeeded,
        Some("Failed") => PodPhase::Failed,
        Some(_) => PodPhase::Unknown,
    }
}

/// The sum of the containers' requests (init containers are not counted).
pub fn pod_requests(p: &Pod) -> Resources {
    p.spec
        .iter()
        .flat_map(|s| s.containers.iter())
        .map(|c| {
            let r = c.resources.as_ref().and_then(|r| r.requests.as_ref());
            Resources {
                cpu_millis: cpu(r.and_then(|r| r.get("cpu"))),
                memory_bytes: memory(r.and_then(|r| r.get("memory"))),
            }
        })
        .fold(Resources::default(), Resources::plus)
}

/// A pod as the model sees it, its owner resolved through `owners`.
pub fn pod_info(p: &Pod, owners: &Owners) -> PodInfo {
    let mut pod = unowned_pod_info(p);
    if let Some(owner) = controller(&p.metadata) {
        with_owner(&mut pod, owner, owners);
    }
    pod
}

/// A pod as the model sees it before its owner is resolved ([`with_owner`] resolves it).
pub fn unowned_pod_info(p: &Pod) -> PodInfo {
    let annotations = p.metadata.annotations.clone().unwrap_or_default();
    let spec = p.spec.as_ref();
    PodInfo {
        name: name_of(&p.metadata),
        node_name: spec.and_then(|s| s.node_name.clone()),
        phase: phase(p),
        owner_kind: None,
        owner_name: None,
        workload_replicas: None,
        mirror: annotations.contains_key(MIRROR_ANNOTATION),
        requests: pod_requests(p),
        has_local_storage: spec
            .and_then(|s| s.volumes.as_ref())
            .into_iter()
            .flatten()
            .any(|v| v.empty_dir.is_some()),
        labels: p.metadata.labels.clone().unwrap_or_default(),
        annotations,
        created_at: time(p.metadata.creation_timestamp.as_ref()),
        namespace: ns_of(&p.metadata),
    }
}

/// Sets `pod`'s owner kind, name and desired replicas from its controlling `owner`, resolved
/// through `owners`.
pub fn with_owner(pod: &mut PodInfo, owner: &OwnerReference, owners: &Owners) {
    let (kind, name, replicas) = owners.resolve(&pod.namespace, owner);
    pod.owner_kind = Some(kind);
    pod.owner_name = Some(name);
    pod.workload_replicas = replicas;
}

/// A budget as the model sees it. A selector with `matchExpressions` yields empty
/// `match_labels` (matches nothing in the model) and a warning in the log.
pub fn pdb_info(b: &PodDisruptionBudget) -> PdbInfo {
    let namespace = b.metadata.namespace.clone().unwrap_or_default();
    let name = b.metadata.name.clone().unwrap_or_default();
    let sel = b.spec.as_ref().and_then(|s| s.selector.as_ref());
    let expressions = sel
        .and_then(|s| s.match_expressions.as_ref())
        .is_some_and(|e| !e.is_empty());
    if expressions {
        tracing::warn!(
            budget = %format!("{namespace}/{name}"),
            "disruption budget uses matchExpressions, which SmartScale does not evaluate; treating it as matching nothing"
        );
    }
    PdbInfo {
        namespace,
        name,
        match_labels: if expressions {
            BTreeMap::new()
        } else {
            sel.and_then(|s| s.match_labels.clone()).unwrap_or_default()
        },
        disruptions_allowed: b
            .status
            .as_ref()
            .and_then(|s| s.disruptions_allowed)
            .unwrap_or(0),
    }
}

/// Fills `idle_since` for nodes running nothing but DaemonSet, mirror and finished pods.
///
/// Kubernetes keeps no record of when a node's last workload pod left, so the best the API can
/// say is the node's creation time; callers treat it as a tie-break ("longest idle"), never as a
/// duration guarantee.
pub fn with_idle_since(nodes: &mut [NodeInfo], pods: &[PodInfo]) {
    let busy: HashSet<&str> = pods
        .iter()
        .filter(|p| !p.ignored_by_drain())
        .filter_map(|p| p.node_name.as_deref())
        .collect();
    for n in nodes.iter_mut() {
        n.idle_since = (!busy.contains(n.name.as_str())).then_some(n.created_at);
    }
}
