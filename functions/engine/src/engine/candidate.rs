//! Scale-down candidate selection: drop every node a "never remove" rule protects, then take the
//! most preferred of the rest.

use super::capacity::{self, Mix};
use super::pod_index::PodIndex;
use super::{ExcludedNode, UnremovableReason};
use crate::config::Policy;
use crate::model::{ClusterView, NodeInfo};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::cmp::Reverse;
use std::collections::BTreeMap;

/// The node a scale-down should remove.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    /// Node name.
    pub node: String,
    /// Its EC2 instance.
    pub instance_id: String,
    /// Its zone, when known.
    pub zone: Option<String>,
    /// Pods a drain would evict (not DaemonSet, mirror or finished pods).
    pub evicted_pods: u32,
    /// Every other node that may not be removed, and why.
    pub excluded: Vec<ExcludedNode>,
}

/// Chooses the worker to remove.
///
/// Every node (control plane included) is checked against the "never remove" rules
/// ([`super::drainability::unremovable`], answered from one [`PodIndex`] of the view). Among the
/// rest the preference is, in order: the capacity order ([`capacity::removal_rank`]: a burst-type
/// worker, then the capacity type above the target mix, on-demand above the base before Spot, the
/// on-demand base last; one rank for all with an on-demand-only policy); a node in
/// the zone with the most workers (nodes without a zone form one group); fewest pods to evict;
/// idle before busy, and the longest idle first (`idle_since` earliest; an `idle_since` after
/// `now` counts as busy); oldest (`created_at` earliest); then the name, so the choice never
/// depends on the order of the view.
///
/// A node that passes those rules is still kept when it is the last Ready worker of its zone and
/// `WORKER_SUBNET_IDS` names more than one subnet (one per zone): every zone keeps a worker
/// ([`UnremovableReason::LastInZone`]).
///
/// Errors: every node with the first rule it breaks, when no node may be removed.
pub fn select_candidate(
    cluster: &ClusterView,
    cfg: &Policy,
    now: DateTime<Utc>,
) -> Result<Candidate, Vec<ExcludedNode>> {
    let mut zones: BTreeMap<Option<&str>, u32> = BTreeMap::new();
    let mut ready_in_zone: BTreeMap<&str, u32> = BTreeMap::new();
    for n in cluster.workers() {
        *zones.entry(n.zone.as_deref()).or_default() += 1;
        if let (Some(z), true) = (n.zone.as_deref(), n.ready) {
            *ready_in_zone.entry(z).or_default() += 1;
        }
    }
    let several_zones = cfg.worker_subnet_ids.len() > 1;
    let last_in_zone = |n: &NodeInfo| {
        n.zone
            .as_deref()
            .filter(|z| several_zones && ready_in_zone.get(z).copied().unwrap_or(0) <= 1)
            .map(|z| UnremovableReason::LastInZone {
                zone: z.to_string(),
            })
    };
    let index = PodIndex::new(cluster);
    let mut excluded = Vec::new();
    let mut safe: Vec<&NodeInfo> = Vec::new();
    for node in &cluster.nodes {
        match index.unremovable(node).or_else(|| last_in_zone(node)) {
            Some(reason) => excluded.push(ExcludedNode {
                node: node.name.clone(),
                reason,
            }),
            None => safe.push(node),
        }
    }
    let evicted = |n: &NodeInfo| index.evicted(&n.name);
    let mix = Mix::of(cluster);
    let best = safe.into_iter().min_by_key(|n| {
        let idle = n.idle_since.filter(|t| *t <= now);
        (
            capacity::removal_rank(n, mix, cfg),
            Reverse(zones.get(&n.zone.as_deref()).copied().unwrap_or(0)),
            evicted(n),
            idle.is_none(),
            idle,
            n.created_at,
            n.name.as_str(),
        )
    });
    match best {
        None => Err(excluded),
        Some(n) => Ok(Candidate {
            node: n.name.clone(),
            instance_id: n.instance_id.clone().unwrap_or_default(),
            zone: n.zone.clone(),
            evicted_pods: evicted(n),
            excluded,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::super::drainability::SCALE_DOWN_DISABLED;
    use super::super::testkit::*;
    use super::*;
    use crate::model::PodInfo;

    /// A worker in its own zone that may not go itself but has room for the others' pods.
    fn spare() -> NodeInfo {
        worker("spare")
            .zone("z")
            .annotated(SCALE_DOWN_DISABLED, "true")
    }

    #[test]
    fn preference_order() {
        let app = |name: &str, node: &str| pod(name).on(node);
        let ds = |name: &str, node: &str| pod(name).on(node).daemonset();
        type Case = (&'static str, Vec<NodeInfo>, Vec<PodInfo>, &'static str);
        let cases: Vec<Case> = vec![
            (
                "zone with most workers beats fewer pods",
                vec![
                    worker("w1").zone("a"),
                    worker("w2").zone("b"),
                    worker("w3").zone("b"),
                ],
                vec![app("p1", "w2"), app("p2", "w3"), app("p3", "w3")],
                "w2",
            ),
            (
                "zone size counts protected workers too",
                vec![
                    worker("w1").zone("b"),
                    worker("w3").zone("a"),
                    worker("w4").zone("a").unmanaged(),
                ],
                vec![],
                "w3",
            ),
            (
                "fewest pods",
                vec![worker("w1"), worker("w2")],
                vec![app("p1", "w1"), app("p2", "w1"), app("p3", "w2")],
                "w2",
            ),
            (
                "DaemonSet pods do not count",
                vec![worker("w1"), worker("w2")],
                vec![
                    ds("d1", "w1"),
                    ds("d2", "w1"),
                    ds("d3", "w1"),
                    app("p1", "w2"),
                ],
                "w1",
            ),
            (
                "idle beats busy",
                vec![worker("w1"), worker("w2").idle_since(ago(60))],
                vec![],
                "w2",
            ),
            (
                "longest idle",
                vec![
                    worker("w1").idle_since(ago(600)),
                    worker("w2").idle_since(ago(3600)),
                ],
                vec![],
                "w2",
            ),
            (
                "idle in the future is busy",
                vec![worker("w1").idle_since(ago(-60)), worker("w2")],
                vec![],
                "w1",
            ),
            (
                "fewer pods beat idle",
                vec![worker("w1").idle_since(ago(60)), worker("w2")],
                vec![app("p1", "w1")],
                "w2",
            ),
            (
                "oldest",
                vec![
                    worker("w1").created(ago(100)),
                    worker("w2").created(ago(200)),
                ],
                vec![],
                "w2",
            ),
            (
                "idle beats oldest",
                vec![
                    worker("w1").created(ago(200)),
                    worker("w2").idle_since(ago(1)).created(ago(100)),
                ],
                vec![],
                "w2",
            ),
            ("name last", vec![worker("w2"), worker("w1")], vec![], "w1"),
            (
                "protected nodes are skipped",
                vec![worker("w1").cordoned(), worker("w2")],
                vec![app("p1", "w2")],
                "w2",
            ),
        ];
        for (name, mut nodes, pods, want) in cases {
            nodes.push(spare());
            let cluster = ClusterView {
                nodes,
                pods,
                pdbs: vec![],
            };
            let got = select_candidate(&cluster, &Policy::default(), t0())
                .unwrap_or_else(|e| panic!("case {name}: {e:?}"));
            assert_eq!(got.node, want, "case {name}");
            assert_eq!(got.instance_id, format!("i-{want}"), "case {name}");
        }
    }

    /// With subnets in several zones the last Ready worker of a zone stays, even when the
    /// workers of the most populated zone cannot be removed.
    #[test]
    fn every_zone_keeps_a_worker() {
        let busy = |name: &str, node: &str| {
            pod(name)
                .on(node)
                .annotated(super::super::drainability::SAFE_TO_EVICT, "false")
        };
        // (name, subnets, nodes, pods, want: Ok(node) or Err(the reason given for w3))
        type Case = (
            &'static str,
            usize,
            Vec<NodeInfo>,
            Vec<PodInfo>,
            Result<&'static str, &'static str>,
        );
        let three = || {
            vec![
                worker("w1").zone("a"),
                worker("w2").zone("a"),
                worker("w3").zone("b"),
            ]
        };
        let cases: Vec<Case> = vec![
            (
                "zone a's workers are busy: b's last is kept",
                2,
                three(),
                vec![busy("p1", "w1"), busy("p2", "w2")],
                Err("it is the last Ready worker in zone b, and every zone keeps one"),
            ),
            (
                "one subnet: the last of b may go",
                1,
                three(),
                vec![busy("p1", "w1"), busy("p2", "w2")],
                Ok("w3"),
            ),
            ("two in a: one of them goes", 2, three(), vec![], Ok("w1")),
            (
                "a NotReady sibling does not count",
                2,
                vec![
                    worker("w1").zone("a"),
                    worker("w2").zone("a").not_ready(),
                    worker("w3").zone("b"),
                    worker("w4").zone("b"),
                ],
                vec![],
                Ok("w3"),
            ),
        ];
        for (name, subnets, nodes, pods, want) in cases {
            let cfg = Policy {
                worker_subnet_ids: (0..subnets).map(|i| format!("subnet-{i}")).collect(),
                ..Policy::default()
            };
            let cluster = ClusterView {
                nodes,
                pods,
                pdbs: vec![],
            };
            match (select_candidate(&cluster, &cfg, t0()), want) {
                (Ok(c), Ok(node)) => assert_eq!(c.node, node, "case {name}"),
                (Err(excluded), Err(reason)) => {
                    let w3 = excluded.iter().find(|e| e.node == "w3").unwrap();
                    assert_eq!(w3.reason.to_string(), reason, "case {name}");
                }
                (got, want) => panic!("case {name}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn the_choice_reports_the_rest() {
        let cluster = ClusterView {
            nodes: vec![
                worker("cp").control_plane(),
                worker("w1").not_ready(),
                worker("w2").zone("b"),
                spare(),
            ],
            pods: vec![pod("p1").on("w2"), pod("d1").on("w2").daemonset()],
            pdbs: vec![],
        };
        let got = select_candidate(&cluster, &Policy::default(), t0()).unwrap();
        assert_eq!(
            (got.node.as_str(), got.zone.as_deref(), got.evicted_pods),
            ("w2", Some("b"), 1)
        );
        let names: Vec<&str> = got.excluded.iter().map(|e| e.node.as_str()).collect();
        assert_eq!(names, ["cp", "w1", "spare"]);
        assert_eq!(
            select_candidate(&ClusterView::default(), &Policy::default(), t0()),
            Err(vec![])
        );
    }
}
