//! The cluster view the engine decides on: nodes, pods, disruption budgets.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// CPU and memory, as requested by pods or offered by nodes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resources {
    /// Millicores (1000 = one vCPU).
    pub cpu_millis: u64,
    /// Bytes.
    pub memory_bytes: u64,
}

impl Resources {
    /// Component-wise sum.
    pub fn plus(self, other: Resources) -> Resources {
        Resources {
            cpu_millis: self.cpu_millis + other.cpu_millis,
            memory_bytes: self.memory_bytes + other.memory_bytes,
        }
    }

    /// True when both components fit in `capacity`.
    pub fn fits_in(self, capacity: Resources) -> bool {
        self.cpu_millis <= capacity.cpu_millis && self.memory_bytes <= capacity.memory_bytes
    }
}

/// One Kubernetes node, joined with what EC2 says about its instance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeInfo {
    /// Node name.
    pub name: String,
    /// `spec.providerID`, `aws:///<zone>/<instance-id>` for K3s agents SmartScale launched.
    pub provider_id: Option<String>,
    /// The EC2 instance id parsed from the provider id.
    pub instance_id: Option<String>,
    /// `topology.kubernetes.io/zone`.
    pub zone: Option<String>,
    /// `node.kubernetes.io/instance-type`.
    pub instance_type: Option<String>,
    /// On-demand or Spot, from EC2 (the launch's lifecycle tag, else the instance's
    /// `InstanceLifecycle`); on-demand when unknown.
    #[serde(default)]
    pub capacity_type: crate::engine::capacity::CapacityType,
    /// The `Ready` condition is `True`.
    pub ready: bool,
    /// `spec.unschedulable` (cordoned).
    pub unschedulable: bool,
    /// The node runs the control plane (label `node-role.kubernetes.io/control-plane` or `master`).
    pub control_plane: bool,
    /// EC2 says SmartScale launched this node's instance (tags `ManagedBy=smartscale` and this
    /// cluster). Only these may be removed; labels alone never make a node managed.
    pub managed: bool,
    /// `metadata.creationTimestamp`.
    pub created_at: DateTime<Utc>,
    /// Since when the node has run no pod other than DaemonSet and mirror pods, if it is idle.
    pub idle_since: Option<DateTime<Utc>>,
    /// `status.allocatable`.
    pub allocatable: Resources,
    /// `metadata.labels`.
    pub labels: BTreeMap<String, String>,
    /// `metadata.annotations`.
    pub annotations: BTreeMap<String, String>,
    /// `status.addresses` of type `InternalIP` and `Hostname`, as the kubelet reports them; checked
    /// against the instance's private address before the node is trusted to be that instance.
    #[serde(default)]
    pub addresses: Vec<String>,
}

/// The kind of a pod's controlling owner, with ReplicaSets resolved to their Deployment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OwnerKind {
    /// Owned by a Deployment (through a ReplicaSet).
    Deployment,
    /// Owned by a ReplicaSet no Deployment owns.
    ReplicaSet,
    /// Owned by a StatefulSet.
    StatefulSet,
    /// Owned by a DaemonSet.
    DaemonSet,
    /// Owned by a Job.
    Job,
    /// Any other controller kind.
    Other(String),
}

/// A pod's phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PodPhase {
    /// Not yet scheduled or started.
    Pending,
    /// Running.
    Running,
    /// Terminated successfully.
    Succeeded,
    /// Terminated with failure.
    Failed,
    /// Unknown.
    Unknown,
}

/// One pod, as much as scale-down safety and urgency need.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PodInfo {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// `spec.nodeName`; `None` while unscheduled.
    pub node_name: Option<String>,
    /// Phase.
    pub phase: PodPhase,
    /// Controlling owner, ReplicaSet resolved to Deployment; `None` for a bare pod.
    pub owner_kind: Option<OwnerKind>,
    /// Name of that owner.
    pub owner_name: Option<String>,
    /// Desired replicas of the owning workload (Deployment, ReplicaSet, StatefulSet), when known.
    pub workload_replicas: Option<u32>,
    /// A static (mirror) pod, annotated `kubernetes.io/config.mirror`.
    pub mirror: bool,
    /// Sum of the containers' requests.
    pub requests: Resources,
    /// Uses an `emptyDir` volume (drained with `--delete-emptydir-data` semantics).
    pub has_local_storage: bool,
    /// `metadata.labels` (matched by PDB selectors).
    pub labels: BTreeMap<String, String>,
    /// `metadata.annotations`.
    pub annotations: BTreeMap<String, String>,
    /// `metadata.creationTimestamp`.
    pub created_at: DateTime<Utc>,
}

impl PodInfo {
    /// `namespace/name`.
    pub fn key(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }

    /// Pods a drain leaves alone: DaemonSet and mirror pods, and finished pods.
    pub fn ignored_by_drain(&self) -> bool {
        self.mirror
            || self.owner_kind == Some(OwnerKind::DaemonSet)
            || matches!(self.phase, PodPhase::Succeeded | PodPhase::Failed)
    }
}

/// A PodDisruptionBudget.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PdbInfo {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// `spec.selector.matchLabels`; a pod matches when it carries every pair.
    /// (`matchExpressions` are not supported and make the budget match nothing; the adapter logs it.)
    pub match_labels: BTreeMap<String, String>,
    /// `status.disruptionsAllowed`.
    pub disruptions_allowed: i32,
}

impl PdbInfo {
    /// True when this budget covers `pod`.
    pub fn selects(&self, pod: &PodInfo) -> bool {
        self.namespace == pod.namespace
            && !self.match_labels.is_empty()
            && self
                .match_labels
                .iter()
                .all(|(k, v)| pod.labels.get(k) == Some(v))
    }
}

/// Everything the engine needs to know about the cluster at one moment.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ClusterView {
    /// All nodes, control plane included.
    pub nodes: Vec<NodeInfo>,
    /// All pods, scheduled or Pending.
    pub pods: Vec<PodInfo>,
    /// All disruption budgets.
    pub pdbs: Vec<PdbInfo>,
}

impl ClusterView {
    /// Worker nodes: every node that is not control plane.
    pub fn workers(&self) -> impl Iterator<Item = &NodeInfo> {
        self.nodes.iter().filter(|n| !n.control_plane)
    }

    /// Pods scheduled on `node`.
    pub fn pods_on<'a>(&'a self, node: &'a str) -> impl Iterator<Item = &'a PodInfo> + 'a {
        self.pods
            .iter()
            .filter(move |p| p.node_name.as_deref() == Some(node))
    }

    /// Pods not yet placed on a node.
    pub fn pending_pods(&self) -> impl Iterator<Item = &PodInfo> {
        self.pods
            .iter()
            .filter(|p| p.phase == PodPhase::Pending && p.node_name.is_none())
    }
}

/// Parses `aws:///<zone>/<instance-id>` into `(zone, instance_id)`.
///
/// Returns `None` for any other shape (for example a provider id of another cloud).
pub fn parse_provider_id(provider_id: &str) -> Option<(String, String)> {
    let rest = provider_id.strip_prefix("aws:///")?;
    let (zone, id) = rest.split_once('/')?;
    (!zone.is_empty() && id.starts_with("i-") && !id.contains('/'))
        .then(|| (zone.to_owned(), id.to_owned()))
}

/// Builds `aws:///<zone>/<instance-id>`.
pub fn provider_id(zone: &str, instance_id: &str) -> String {
    format!("aws:///{zone}/{instance_id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_ids() {
        let cases = [
            (
                "k3s agent",
                "aws:///us-east-1a/i-0abc",
                Some(("us-east-1a", "i-0abc")),
            ),
            ("no zone", "aws:////i-0abc", None),
            ("not an instance", "aws:///us-east-1a/vol-1", None),
            ("other cloud", "gce://p/z/n", None),
            ("trailing path", "aws:///us-east-1a/i-1/x", None),
        ];
        for (name, raw, want) in cases {
            let got = parse_provider_id(raw);
            assert_eq!(
                got,
                want.map(|(z, i)| (z.to_string(), i.to_string())),
                "case {name}"
            );
        }
        assert_eq!(provider_id("us-east-1b", "i-9"), "aws:///us-east-1b/i-9");
    }
}
