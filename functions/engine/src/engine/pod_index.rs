//! The pods of a view grouped by node, and each worker's free requests-capacity, computed once
//! per decision. Candidate selection asks, for every node, which pods it runs and whether they
//! fit on the others: by scanning the view that costs nodes² × pods; through this index it is
//! linear in nodes + pods (see `docs/BENCHMARKS.md`, "Scale").

use super::drainability::{node_rule, pod_rule};
use super::UnremovableReason;
use crate::model::{ClusterView, NodeInfo, PodInfo, PodPhase, Resources};
use std::collections::HashMap;

/// Pods by node and free capacity by worker, for one view.
pub struct PodIndex<'a> {
    cluster: &'a ClusterView,
    by_node: HashMap<&'a str, Vec<&'a PodInfo>>,
    /// Free capacity of each Ready, schedulable worker.
    free_of: HashMap<&'a str, Resources>,
    /// Sum of `free_of`.
    free_total: Resources,
}

impl<'a> PodIndex<'a> {
    /// Indexes `cluster`.
    pub fn new(cluster: &'a ClusterView) -> Self {
        let mut by_node: HashMap<&str, Vec<&PodInfo>> = HashMap::new();
        for p in &cluster.pods {
            if let Some(n) = p.node_name.as_deref() {
                by_node.entry(n).or_default().push(p);
            }
        }
        let mut free_of = HashMap::new();
        let mut free_total = Resources::default();
        for n in cluster.workers().filter(|n| n.ready && !n.unschedulable) {
            let used = by_node
                .get(n.name.as_str())
                .into_iter()
                .flatten()
                .filter(|p| !matches!(p.phase, PodPhase::Succeeded | PodPhase::Failed))
                .fold(Resources::default(), |sum, p| sum.plus(p.requests));
            let free = Resources {
                cpu_millis: n.allocatable.cpu_millis.saturating_sub(used.cpu_millis),
                memory_bytes: n.allocatable.memory_bytes.saturating_sub(used.memory_bytes),
            };
            free_total = free_total.plus(free);
            free_of.insert(n.name.as_str(), free);
        }
        PodIndex {
            cluster,
            by_node,
            free_of,
            free_total,
        }
    }

    /// The pods on `node`, in view order.
    pub fn pods_on(&self, node: &str) -> &[&'a PodInfo] {
        self.by_node.get(node).map_or(&[], Vec::as_slice)
    }

    /// Pods a drain of `node` would evict (not DaemonSet, mirror or finished pods).
    pub fn evicted(&self, node: &str) -> u32 {
        self.pods_on(node)
            .iter()
            .filter(|p| !p.ignored_by_drain())
            .count() as u32
    }

    /// [`super::drainability::room_rule`], answered from the index.
    pub fn room_rule(&self, node: &NodeInfo) -> Option<UnremovableReason> {
        let needed = self
            .pods_on(&node.name)
            .iter()
            .filter(|p| !p.ignored_by_drain())
            .fold(Resources::default(), |sum, p| sum.plus(p.requests));
        let own = self
            .free_of
            .get(node.name.as_str())
            .copied()
            .unwrap_or_default();
        let free = Resources {
            cpu_millis: self.free_total.cpu_millis - own.cpu_millis,
            memory_bytes: self.free_total.memory_bytes - own.memory_bytes,
        };
        (!needed.fits_in(free)).then_some(UnremovableReason::NoRoomForPods { needed, free })
    }

    /// [`super::drainability::unremovable`], answered from the index.
    pub fn unremovable(&self, node: &NodeInfo) -> Option<UnremovableReason> {
        node_rule(node)
            .or_else(|| {
                self.pods_on(&node.name)
                    .iter()
                    .find_map(|p| pod_rule(p, &self.cluster.pdbs))
            })
            .or_else(|| self.room_rule(node))
    }
}

#[cfg(test)]
mod tests {
    use super::super::drainability::unremovable;
    use super::super::testkit::*;
    use super::*;

    /// The index answers exactly as the scanning rules do, on views that exercise each rule.
    #[test]
    fn agrees_with_the_scanning_rules() {
        let big = |name: &str, node: &str| pod(name).on(node).requests(1500, 64);
        let views: Vec<(&str, ClusterView)> = vec![
            (
                "room on the others",
                ClusterView {
                    nodes: vec![worker("w1"), worker("w2"), worker("w3")],
                    pods: vec![pod("a").on("w1"), pod("b").on("w2")],
                    pdbs: vec![],
                },
            ),
            (
                "no room",
                ClusterView {
                    nodes: vec![worker("w1"), worker("w2").cordoned(), worker("w3")],
                    pods: vec![big("a", "w1"), big("b", "w3"), big("c", "w3")],
                    pdbs: vec![],
                },
            ),
            (
                "pod and node rules",
                ClusterView {
                    nodes: vec![worker("w1").not_ready(), worker("w2"), worker("w3")],
                    pods: vec![
                        pod("a")
                            .on("w2")
                            .owner(Some(crate::model::OwnerKind::StatefulSet), Some(3)),
                        pod("d").on("w3").daemonset(),
                    ],
                    pdbs: vec![],
                },
            ),
        ];
        for (name, view) in views {
            let index = PodIndex::new(&view);
            for n in &view.nodes {
                assert_eq!(
                    index.unremovable(n),
                    unremovable(n, &view),
                    "case {name}, node {}",
                    n.name
                );
            }
        }
    }
}
