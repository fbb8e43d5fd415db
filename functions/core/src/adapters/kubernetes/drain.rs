//! One resumable drain step: what may be evicted, what must never be, and what a refused eviction
//! means. The decisions are pure ([`plan`], [`classify_eviction`]); [`super::KubeCluster`] runs
//! them against the API.

use crate::engine::drainability::eviction_veto;
use crate::engine::drainability::never_evict;
use crate::model::PodInfo;
use crate::seams::{BlockedPod, DrainMode};

/// What one step does with the pods listed on the node.
#[derive(Debug, Default, PartialEq)]
pub struct Plan {
    /// Pods to request eviction for, `namespace/name`.
    pub evict: Vec<(String, String)>,
    /// Pods still on the node that a drain must move (terminating ones included).
    pub remaining: Vec<String>,
    /// Pods that must never be evicted.
    pub blocked: Vec<BlockedPod>,
}

/// Plans a step for the pods on one node. `terminating` says whether a pod already has a
/// deletion timestamp (evicted earlier: waited for, not evicted again).
///
/// [`DrainMode::Voluntary`]: a pod the engine's never-evict rule ([`never_evict`]) protects is
/// reported blocked, and then nothing on the node is evicted: a node that cannot be emptied is
/// not disturbed at all. [`DrainMode::Reclaim`]: only an eviction veto or a bare pod
/// ([`reclaim_veto`]) keeps a pod; it is reported blocked and every other pod is still evicted.
pub fn plan(pods: &[(PodInfo, bool)], mode: DrainMode) -> Plan {
    let mut plan = Plan::default();
    for (p, terminating) in pods.iter().filter(|(p, _)| !p.ignored_by_drain()) {
        plan.remaining.push(p.key());
        if *terminating {
            continue;
        }
        let veto = match mode {
            DrainMode::Voluntary => never_evict(p),
            DrainMode::Reclaim => reclaim_veto(p),
        };
        match veto {
            Some(reason) => plan.blocked.push(BlockedPod {
                pod: p.key(),
                reason,
            }),
            None => plan.evict.push((p.namespace.clone(), p.name.clone())),
        }
    }
    if mode == DrainMode::Voluntary && !plan.blocked.is_empty() {
        plan.evict.clear();
    }
    plan
}

/// Why a drain of a node being reclaimed leaves `pod` alone: an eviction veto annotation (the
/// owner asked for it) or no controller at all (nothing would recreate it; it stops with the
/// instance). StatefulSet pods are evicted: their controller recreates them once they are gone.
pub fn reclaim_veto(pod: &PodInfo) -> Option<String> {
    if let Some(veto) = eviction_veto(pod) {
        return Some(veto.to_string());
    }
    pod.owner_kind
        .is_none()
        .then(|| "bare pod: no controller would recreate it".into())
}

/// The outcome of one eviction request.
#[derive(Debug, PartialEq)]
pub enum Eviction {
    /// Accepted: the pod is terminating.
    Evicted,
    /// The pod is already gone.
    Gone,
    /// Refused by a disruption budget (429): try again on the next step.
    Blocked(String),
}

/// Turns an eviction's HTTP status and Status body into an outcome; `None` for codes that are
/// errors (the caller translates them).
pub fn classify_eviction(
    code: u16,
    namespace: &str,
    message: &str,
    causes: &[String],
) -> Option<Eviction> {
    match code {
        200 | 201 => Some(Eviction::Evicted),
        404 => Some(Eviction::Gone),
        429 => {
            // The API server names the budget only in the cause: "The disruption budget web-pdb needs …".
            let budget = causes.iter().find_map(|c| {
                c.strip_prefix("The disruption budget ")
                    .and_then(|rest| rest.split_whitespace().next())
                    .map(str::to_owned)
            });
            let detail = causes.first().map_or(message, String::as_str);
            Some(Eviction::Blocked(match budget {
                Some(b) => {
                    format!("disruption budget {namespace}/{b} allows no disruption now ({detail})")
                }
                None => format!("disruption budget allows no disruption now ({message})"),
            }))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::drainability::{DO_NOT_DISRUPT, SAFE_TO_EVICT};
    use crate::model::{OwnerKind, PodPhase};
    use std::collections::BTreeMap;

    fn pod(name: &str, owner: Option<OwnerKind>, annotations: &[(&str, &str)]) -> PodInfo {
        PodInfo {
            namespace: "shop".into(),
            name: name.into(),
            node_name: Some("w1".into()),
            phase: PodPhase::Running,
            owner_name: owner.as_ref().map(|_| "owner".to_string()),
            owner_kind: owner,
            workload_replicas: Some(2),
            mirror: false,
            requests: Default::default(),
            has_local_storage: false,
            labels: BTreeMap::new(),
            annotations: annotations
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            created_at: Default::default(),
        }
    }

    #[test]
    fn plans() {
        let web = pod("web-1", Some(OwnerKind::Deployment), &[]);
        let ds = pod("agent", Some(OwnerKind::DaemonSet), &[]);
        let db = pod("db-0", Some(OwnerKind::StatefulSet), &[]);
        let db2 = db.clone();
        let pinned = pod(
            "batch",
            Some(OwnerKind::Deployment),
            &[(SAFE_TO_EVICT, "false")],
        );
        let pinned2 = pinned.clone();
        let karp = pod(
            "k",
            Some(OwnerKind::ReplicaSet),
            &[(DO_NOT_DISRUPT, "true")],
        );
        let pinned_capitalised = pod(
            "report",
            Some(OwnerKind::Deployment),
            &[(SAFE_TO_EVICT, "False")],
        );
        let karp_padded = pod(
            "k2",
            Some(OwnerKind::ReplicaSet),
            &[(DO_NOT_DISRUPT, " TRUE ")],
        );
        let bare = pod("bare", None, &[]);
        let mut done = pod("job-1", Some(OwnerKind::Job), &[]);
        done.phase = PodPhase::Succeeded;
        struct Case {
            name: &'static str,
            pods: Vec<(PodInfo, bool)>,
            mode: DrainMode,
            evict: usize,
            remaining: usize,
            blocked: usize,
        }
        type Row = (&'static str, Vec<(PodInfo, bool)>, usize, usize, usize);
        let voluntary: Vec<Row> = vec![
            ("empty node", vec![], 0, 0, 0),
            ("daemonset only", vec![(ds.clone(), false)], 0, 0, 0),
            ("finished pods ignored", vec![(done, false)], 0, 0, 0),
            (
                "deployment evicted",
                vec![(web.clone(), false), (ds.clone(), false)],
                1,
                1,
                0,
            ),
            ("terminating waited for", vec![(web.clone(), true)], 0, 1, 0),
            (
                "statefulset blocks all",
                vec![(web.clone(), false), (db, false)],
                0,
                2,
                1,
            ),
            ("safe-to-evict false", vec![(pinned, false)], 0, 1, 1),
            ("do-not-disrupt", vec![(karp, false)], 0, 1, 1),
            (
                "safe-to-evict False, as the engine reads it, blocks the drain",
                vec![(web.clone(), false), (pinned_capitalised, false)],
                0,
                2,
                1,
            ),
            (
                "do-not-disrupt TRUE with blanks blocks the drain",
                vec![(karp_padded, false)],
                0,
                1,
                1,
            ),
            ("bare pod", vec![(bare.clone(), false)], 0, 1, 1),
        ];
        let mut cases: Vec<Case> = voluntary
            .into_iter()
            .map(|(name, pods, evict, remaining, blocked)| Case {
                name,
                pods,
                mode: DrainMode::Voluntary,
                evict,
                remaining,
                blocked,
            })
            .collect();
        let reclaim = |name, pods, evict, remaining, blocked| Case {
            name,
            pods,
            mode: DrainMode::Reclaim,
            evict,
            remaining,
            blocked,
        };
        cases.extend([
            reclaim(
                "reclaim: a StatefulSet pod is evicted with the others",
                vec![(web.clone(), false), (db2.clone(), false)],
                2,
                2,
                0,
            ),
            reclaim(
                "reclaim: a bare pod stays but blocks nobody else",
                vec![
                    (web.clone(), false),
                    (bare.clone(), false),
                    (ds.clone(), false),
                ],
                1,
                2,
                1,
            ),
            reclaim(
                "reclaim: a veto stays but blocks nobody else",
                vec![(web.clone(), false), (pinned2, false)],
                1,
                2,
                1,
            ),
            reclaim(
                "reclaim: terminating pods are waited for",
                vec![(web.clone(), true), (db2, false)],
                1,
                2,
                0,
            ),
        ]);
        for c in cases {
            let p = plan(&c.pods, c.mode);
            assert_eq!(
                (p.evict.len(), p.remaining.len(), p.blocked.len()),
                (c.evict, c.remaining, c.blocked),
                "case {}",
                c.name
            );
        }
    }

    #[test]
    fn eviction_outcomes() {
        let cause =
            "The disruption budget web-pdb needs 2 healthy pods and has 2 currently".to_string();
        let cases = [
            ("created", 201, vec![], Some(Eviction::Evicted)),
            ("gone", 404, vec![], Some(Eviction::Gone)),
            (
                "budget named",
                429,
                vec![cause.clone()],
                Some(Eviction::Blocked(format!(
                    "disruption budget shop/web-pdb allows no disruption now ({cause})"
                ))),
            ),
            ("server error", 500, vec![], None),
        ];
        for (name, code, causes, want) in cases {
            assert_eq!(
                classify_eviction(code, "shop", "Cannot evict", &causes),
                want,
                "case {name}"
            );
        }
    }
}
