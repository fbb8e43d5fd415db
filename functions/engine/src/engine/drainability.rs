//! The "never remove" rules: what makes a node, or a pod on it, block its removal.

use super::UnremovableReason;
use crate::model::{ClusterView, NodeInfo, OwnerKind, PdbInfo, PodInfo, PodPhase, Resources};
use std::fmt;

/// Node annotation that opts a node out of scale-down.
pub const SCALE_DOWN_DISABLED: &str = "cluster-autoscaler.kubernetes.io/scale-down-disabled";
/// Pod annotation that, set to `"false"`, forbids evicting the pod.
pub const SAFE_TO_EVICT: &str = "cluster-autoscaler.kubernetes.io/safe-to-evict";
/// Pod annotation that, set to `"true"`, forbids disrupting the pod.
pub const DO_NOT_DISRUPT: &str = "karpenter.sh/do-not-disrupt";

/// True when `annotations[key]` is `value`, ignoring case and surrounding blanks.
fn annotated(
    annotations: &std::collections::BTreeMap<String, String>,
    key: &str,
    value: &str,
) -> bool {
    annotations
        .get(key)
        .is_some_and(|v| v.trim().eq_ignore_ascii_case(value))
}

/// An annotation with which a pod's owner forbids evicting it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EvictionVeto {
    /// `cluster-autoscaler.kubernetes.io/safe-to-evict: "false"`.
    SafeToEvictFalse,
    /// `karpenter.sh/do-not-disrupt: "true"`.
    DoNotDisrupt,
}

impl fmt::Display for EvictionVeto {
    /// `annotated <key>=<value>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EvictionVeto::SafeToEvictFalse => write!(f, "annotated {SAFE_TO_EVICT}=false"),
            EvictionVeto::DoNotDisrupt => write!(f, "annotated {DO_NOT_DISRUPT}=true"),
        }
    }
}

/// The annotation on `pod` that forbids evicting it, if any: `safe-to-evict: "false"` first, then
/// `do-not-disrupt: "true"`, values compared ignoring case and surrounding blanks.
///
/// The one owner of the never-evict annotations: the engine's [`pod_rule`] (which node may be
/// chosen) and the drain (`smartscale_core::adapters::kubernetes::drain`, through
/// [`never_evict`]) both ask it, so a pod that keeps its node from being chosen is never evicted
/// by a Spot drain either.
pub fn eviction_veto(pod: &PodInfo) -> Option<EvictionVeto> {
    if annotated(&pod.annotations, SAFE_TO_EVICT, "false") {
        Some(EvictionVeto::SafeToEvictFalse)
    } else if annotated(&pod.annotations, DO_NOT_DISRUPT, "true") {
        Some(EvictionVeto::DoNotDisrupt)
    } else {
        None
    }
}

/// Why a drain must never evict `pod`, if it must not: an [`eviction_veto`] annotation, a
/// StatefulSet owner, or no owner at all (a bare pod no controller would recreate). The drain
/// reports such pods blocked and evicts nothing on their node.
pub fn never_evict(pod: &PodInfo) -> Option<String> {
    if let Some(veto) = eviction_veto(pod) {
        return Some(veto.to_string());
    }
    match (&pod.owner_kind, &pod.owner_name) {
        (Some(OwnerKind::StatefulSet), name) => Some(format!(
            "owned by StatefulSet {}: SmartScale never moves StatefulSet pods",
            name.as_deref().unwrap_or("?")
        )),
        (None, _) => Some("bare pod: no controller would recreate it".into()),
        _ => None,
    }
}

/// The first rule the node itself breaks, checked in this order: control plane, not launched by
/// SmartScale, instance id unknown, NotReady, already cordoned, `scale-down-disabled`.
pub fn node_rule(node: &NodeInfo) -> Option<UnremovableReason> {
    if node.control_plane {
        Some(UnremovableReason::ControlPlane)
    } else if !node.managed {
        Some(UnremovableReason::NotManaged)
    } else if node.instance_id.as_deref().is_none_or(str::is_empty) {
        Some(UnremovableReason::UnknownInstance)
    } else if !node.ready {
        Some(UnremovableReason::NotReady)
    } else if node.unschedulable {
        Some(UnremovableReason::Unschedulable)
    } else if annotated(&node.annotations, SCALE_DOWN_DISABLED, "true") {
        Some(UnremovableReason::ScaleDownDisabled)
    } else {
        None
    }
}

/// The first rule `pod` breaks, checked in this order: kube-system non-DaemonSet pod, StatefulSet
/// pod, bare pod, single-replica workload, a covering budget that allows no disruption,
/// `safe-to-evict: "false"`, `do-not-disrupt: "true"`.
///
/// DaemonSet, mirror and finished pods never block ([`PodInfo::ignored_by_drain`]).
pub fn pod_rule(pod: &PodInfo, pdbs: &[PdbInfo]) -> Option<UnremovableReason> {
    if pod.ignored_by_drain() {
        return None;
    }
    if pod.namespace == "kube-system" {
        return Some(UnremovableReason::KubeSystemPod { pod: pod.key() });
    }
    match &pod.owner_kind {
        Some(OwnerKind::StatefulSet) => {
            return Some(UnremovableReason::StatefulSetPod { pod: pod.key() })
        }
        None => return Some(UnremovableReason::BarePod { pod: pod.key() }),
        Some(_) => {}
    }
    if pod.workload_replicas == Some(1) {
        return Some(UnremovableReason::SingleReplica { pod: pod.key() });
    }
    if let Some(pdb) = pdbs
        .iter()
        .find(|b| b.disruptions_allowed <= 0 && b.selects(pod))
    {
        return Some(UnremovableReason::PdbAllowsNoDisruption {
            pod: pod.key(),
            pdb: format!("{}/{}", pdb.namespace, pdb.name),
        });
    }
    match eviction_veto(pod)? {
        EvictionVeto::SafeToEvictFalse => {
            Some(UnremovableReason::SafeToEvictFalse { pod: pod.key() })
        }
        EvictionVeto::DoNotDisrupt => Some(UnremovableReason::DoNotDisrupt { pod: pod.key() }),
    }
}

/// Requests of the pods on `node` that a drain would evict.
fn evicted_requests(cluster: &ClusterView, node: &str) -> Resources {
    cluster
        .pods_on(node)
        .filter(|p| !p.ignored_by_drain())
        .fold(Resources::default(), |sum, p| sum.plus(p.requests))
}

/// `Some(NoRoomForPods)` when the pods a drain of `node` would evict do not fit, by summed CPU and
/// memory requests, in the free capacity (allocatable minus the requests of their running pods) of
/// the other Ready, schedulable workers. A sum is necessary, not sufficient: the scheduler may
/// still fail to pack them, but a node whose pods cannot fit even in aggregate is never drained.
pub fn room_rule(node: &NodeInfo, cluster: &ClusterView) -> Option<UnremovableReason> {
    let needed = evicted_requests(cluster, &node.name);
    let free = cluster
        .workers()
        .filter(|n| n.name != node.name && n.ready && !n.unschedulable)
        .map(|n| {
            let used = cluster
                .pods_on(&n.name)
                .filter(|p| !matches!(p.phase, PodPhase::Succeeded | PodPhase::Failed))
                .fold(Resources::default(), |sum, p| sum.plus(p.requests));
            Resources {
                cpu_millis: n.allocatable.cpu_millis.saturating_sub(used.cpu_millis),
                memory_bytes: n.allocatable.memory_bytes.saturating_sub(used.memory_bytes),
            }
        })
        .fold(Resources::default(), Resources::plus);
    (!needed.fits_in(free)).then_some(UnremovableReason::NoRoomForPods { needed, free })
}

/// The first rule that keeps `node` in the cluster: its own rules, then its pods' in the order
/// the view lists them, then whether its pods fit elsewhere ([`room_rule`]). `None` when it may
/// be removed.
pub fn unremovable(node: &NodeInfo, cluster: &ClusterView) -> Option<UnremovableReason> {
    node_rule(node)
        .or_else(|| {
            cluster
                .pods_on(&node.name)
                .find_map(|p| pod_rule(p, &cluster.pdbs))
        })
        .or_else(|| room_rule(node, cluster))
}

#[cfg(test)]
mod tests {
    use super::super::candidate::select_candidate;
    use super::super::testkit::*;
    use super::super::ExcludedNode;
    use super::*;
    use crate::config::Policy;
    use crate::model::ClusterView;

    /// One rule per case: a single worker `w1` with `node`'s tweaks and `pods` on it.
    #[test]
    fn every_never_remove_rule() {
        let web = || pod("web-1").on("w1");
        let owned = |kind: Option<OwnerKind>, replicas| web().owner(kind, replicas);
        let ks = |p: PodInfo| p.ns("kube-system");
        let dep = Some(OwnerKind::Deployment);
        type Case = (
            &'static str,
            NodeInfo,
            Vec<PodInfo>,
            Vec<PdbInfo>,
            Option<UnremovableReason>,
        );
        let w = || worker("w1");
        let key = || "default/web-1".to_string();
        let cases: Vec<Case> = vec![
            ("a plain worker may go", w(), vec![web()], vec![], None),
            (
                "control plane",
                w().control_plane(),
                vec![],
                vec![],
                Some(UnremovableReason::ControlPlane),
            ),
            (
                "not launched by SmartScale",
                w().unmanaged(),
                vec![],
                vec![],
                Some(UnremovableReason::NotManaged),
            ),
            (
                "instance id unknown",
                w().no_instance(),
                vec![],
                vec![],
                Some(UnremovableReason::UnknownInstance),
            ),
            (
                "NotReady",
                w().not_ready(),
                vec![],
                vec![],
                Some(UnremovableReason::NotReady),
            ),
            (
                "already cordoned",
                w().cordoned(),
                vec![],
                vec![],
                Some(UnremovableReason::Unschedulable),
            ),
            (
                "scale-down disabled",
                w().annotated(SCALE_DOWN_DISABLED, "true"),
                vec![],
                vec![],
                Some(UnremovableReason::ScaleDownDisabled),
            ),
            (
                "scale-down disabled, any case",
                w().annotated(SCALE_DOWN_DISABLED, " True "),
                vec![],
                vec![],
                Some(UnremovableReason::ScaleDownDisabled),
            ),
            (
                "scale-down disabled false",
                w().annotated(SCALE_DOWN_DISABLED, "false"),
                vec![],
                vec![],
                None,
            ),
            (
                "kube-system Deployment pod",
                w(),
                vec![ks(web())],
                vec![],
                Some(UnremovableReason::KubeSystemPod {
                    pod: "kube-system/web-1".into(),
                }),
            ),
            (
                "kube-system DaemonSet pod",
                w(),
                vec![ks(web().daemonset())],
                vec![],
                None,
            ),
            (
                "kube-system mirror pod",
                w(),
                vec![ks(web().mirror())],
                vec![],
                None,
            ),
            (
                "StatefulSet pod",
                w(),
                vec![owned(Some(OwnerKind::StatefulSet), Some(3))],
                vec![],
                Some(UnremovableReason::StatefulSetPod { pod: key() }),
            ),
            (
                "single-replica Deployment",
                w(),
                vec![owned(dep.clone(), Some(1))],
                vec![],
                Some(UnremovableReason::SingleReplica { pod: key() }),
            ),
            (
                "two-replica Deployment",
                w(),
                vec![owned(dep.clone(), Some(2))],
                vec![],
                None,
            ),
            (
                "replicas unknown",
                w(),
                vec![owned(dep.clone(), None)],
                vec![],
                None,
            ),
            (
                "single-replica ReplicaSet",
                w(),
                vec![owned(Some(OwnerKind::ReplicaSet), Some(1))],
                vec![],
                Some(UnremovableReason::SingleReplica { pod: key() }),
            ),
            (
                "Job pod",
                w(),
                vec![owned(Some(OwnerKind::Job), None)],
                vec![],
                None,
            ),
            (
                "bare pod",
                w(),
                vec![owned(None, None)],
                vec![],
                Some(UnremovableReason::BarePod { pod: key() }),
            ),
            (
                "finished bare pod",
                w(),
                vec![owned(None, None).phase(PodPhase::Succeeded)],
                vec![],
                None,
            ),
            (
                "failed StatefulSet pod",
                w(),
                vec![owned(Some(OwnerKind::StatefulSet), Some(3)).phase(PodPhase::Failed)],
                vec![],
                None,
            ),
            (
                "budget allows 0",
                w(),
                vec![web()],
                vec![pdb("web", 0)],
                Some(UnremovableReason::PdbAllowsNoDisruption {
                    pod: key(),
                    pdb: "default/web".into(),
                }),
            ),
            (
                "budget allows -1",
                w(),
                vec![web()],
                vec![pdb("web", -1)],
                Some(UnremovableReason::PdbAllowsNoDisruption {
                    pod: key(),
                    pdb: "default/web".into(),
                }),
            ),
            (
                "budget allows 1",
                w(),
                vec![web()],
                vec![pdb("web", 1)],
                None,
            ),
            (
                "budget in another namespace",
                w(),
                vec![web()],
                vec![PdbInfo {
                    namespace: "other".into(),
                    ..pdb("web", 0)
                }],
                None,
            ),
            (
                "budget selecting other pods",
                w(),
                vec![web()],
                vec![PdbInfo {
                    match_labels: [("app".to_string(), "api".to_string())].into(),
                    ..pdb("api", 0)
                }],
                None,
            ),
            (
                "second budget blocks",
                w(),
                vec![web()],
                vec![pdb("ok", 2), pdb("tight", 0)],
                Some(UnremovableReason::PdbAllowsNoDisruption {
                    pod: key(),
                    pdb: "default/tight".into(),
                }),
            ),
            (
                "safe-to-evict false",
                w(),
                vec![web().annotated(SAFE_TO_EVICT, "false")],
                vec![],
                Some(UnremovableReason::SafeToEvictFalse { pod: key() }),
            ),
            (
                "safe-to-evict true",
                w(),
                vec![web().annotated(SAFE_TO_EVICT, "true")],
                vec![],
                None,
            ),
            (
                "do-not-disrupt true",
                w(),
                vec![web().annotated(DO_NOT_DISRUPT, "true")],
                vec![],
                Some(UnremovableReason::DoNotDisrupt { pod: key() }),
            ),
            (
                "do-not-disrupt false",
                w(),
                vec![web().annotated(DO_NOT_DISRUPT, "false")],
                vec![],
                None,
            ),
            (
                "DaemonSet pod annotated do-not-disrupt",
                w(),
                vec![web().daemonset().annotated(DO_NOT_DISRUPT, "true")],
                vec![],
                None,
            ),
            (
                "pods elsewhere do not count",
                w(),
                vec![owned(None, None).on("w9")],
                vec![],
                None,
            ),
            (
                "Pending pods do not count",
                w(),
                vec![owned(None, None).pending()],
                vec![],
                None,
            ),
            (
                "node rules come before pod rules",
                w().not_ready(),
                vec![owned(None, None)],
                vec![],
                Some(UnremovableReason::NotReady),
            ),
            (
                "the first blocking pod is named",
                w(),
                vec![
                    web(),
                    pod("db-0")
                        .on("w1")
                        .owner(Some(OwnerKind::StatefulSet), Some(3)),
                    owned(None, None),
                ],
                vec![],
                Some(UnremovableReason::StatefulSetPod {
                    pod: "default/db-0".into(),
                }),
            ),
        ];
        // A spare worker that may not go itself but has room for w1's pods.
        let spare = || worker("spare").annotated(SCALE_DOWN_DISABLED, "true");
        let spare_stays = || ExcludedNode {
            node: "spare".into(),
            reason: UnremovableReason::ScaleDownDisabled,
        };
        for (name, node, pods, pdbs, want) in cases {
            let cluster = ClusterView {
                nodes: vec![node, spare()],
                pods,
                pdbs,
            };
            assert_eq!(
                unremovable(&cluster.nodes[0], &cluster),
                want,
                "case {name}"
            );
            let chosen = select_candidate(&cluster, &Policy::default(), t0()).map(|c| c.node);
            let want = match want {
                None => Ok("w1".to_string()),
                Some(reason) => Err(vec![
                    ExcludedNode {
                        node: "w1".into(),
                        reason,
                    },
                    spare_stays(),
                ]),
            };
            assert_eq!(chosen, want, "case {name}");
        }
    }

    #[test]
    fn pods_must_fit_on_the_other_workers() {
        let full = |n: &str, pods: u32| -> Vec<PodInfo> {
            (0..pods)
                .map(|i| pod(&format!("{n}-{i}")).on(n).requests(200, 128))
                .collect()
        };
        let room = |needed: (u64, u64), free: (u64, u64)| {
            Some(UnremovableReason::NoRoomForPods {
                needed: Resources {
                    cpu_millis: needed.0,
                    memory_bytes: needed.1 * 1024 * 1024,
                },
                free: Resources {
                    cpu_millis: free.0,
                    memory_bytes: free.1 * 1024 * 1024,
                },
            })
        };
        type Case = (
            &'static str,
            Vec<NodeInfo>,
            Vec<PodInfo>,
            Option<UnremovableReason>,
        );
        let cases: Vec<Case> = vec![
            (
                "an empty node always fits",
                vec![worker("w1")],
                vec![],
                None,
            ),
            (
                "no other worker",
                vec![worker("w1")],
                full("w1", 1),
                room((200, 128), (0, 0)),
            ),
            (
                "fits exactly",
                vec![worker("w1"), worker("w2")],
                [full("w1", 4), full("w2", 5)].concat(),
                None,
            ),
            (
                "one pod too many",
                vec![worker("w1"), worker("w2")],
                [full("w1", 5), full("w2", 5)].concat(),
                room((1000, 640), (800, 896)),
            ),
            (
                "memory too",
                vec![worker("w1"), worker("w2").allocatable(4000, 256)],
                [full("w1", 3)].concat(),
                room((600, 384), (4000, 256)),
            ),
            (
                "NotReady workers offer nothing",
                vec![worker("w1"), worker("w2").not_ready()],
                full("w1", 1),
                room((200, 128), (0, 0)),
            ),
            (
                "cordoned workers offer nothing",
                vec![worker("w1"), worker("w2").cordoned()],
                full("w1", 1),
                room((200, 128), (0, 0)),
            ),
            (
                "control plane offers nothing",
                vec![worker("w1"), worker("cp").control_plane()],
                full("w1", 1),
                room((200, 128), (0, 0)),
            ),
            (
                "DaemonSet pods move nowhere",
                vec![worker("w1")],
                vec![pod("ds").on("w1").daemonset()],
                None,
            ),
            (
                "finished pods free their requests",
                vec![worker("w1"), worker("w2")],
                [
                    full("w1", 5),
                    full("w2", 5)
                        .into_iter()
                        .map(|p| p.phase(PodPhase::Succeeded))
                        .collect(),
                ]
                .concat(),
                None,
            ),
        ];
        for (name, nodes, pods, want) in cases {
            let cluster = ClusterView {
                nodes,
                pods,
                pdbs: vec![],
            };
            assert_eq!(room_rule(&cluster.nodes[0], &cluster), want, "case {name}");
        }
    }
}
