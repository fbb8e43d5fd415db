//! The scheduler: binds each Pending pod to a Ready, schedulable node whose free allocatable
//! resources fit the pod's requests and whose labels satisfy its `nodeSelector`, preferring the
//! node with the most free CPU. DaemonSet pods are bound by their controller, not here.

use super::kubelet::{node_ready, pod_condition};
use super::store::{k8s_time, Key, Store};
use chrono::{DateTime, Utc};
use k8s_openapi::api::core::v1::{Node, Pod, PodCondition};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use smartscale_engine::config::units::{parse_cpu_millis, parse_memory_bytes};
use smartscale_engine::model::Resources;
use std::collections::BTreeMap;

/// The sum of a pod's container requests.
pub fn pod_requests(p: &Pod) -> Resources {
    let mut total = Resources::default();
    for c in p.spec.iter().flat_map(|s| s.containers.iter()) {
        total = total.plus(resources(
            c.resources.as_ref().and_then(|r| r.requests.as_ref()),
        ));
    }
    total
}

/// A node's `status.allocatable`.
pub fn allocatable(n: &Node) -> Resources {
    resources(n.status.as_ref().and_then(|s| s.allocatable.as_ref()))
}

/// The `cpu` and `memory` of a resource list; a missing or unreadable quantity counts as 0.
fn resources(list: Option<&BTreeMap<String, Quantity>>) -> Resources {
    let get = |k: &str| list.and_then(|r| r.get(k)).map(|q| q.0.clone());
    Resources {
        cpu_millis: get("cpu")
            .and_then(|q| parse_cpu_millis(&q).ok())
            .unwrap_or(0),
        memory_bytes: get("memory")
            .and_then(|q| parse_memory_bytes(&q).ok())
            .unwrap_or(0),
    }
}

fn finished(p: &Pod) -> bool {
    matches!(
        p.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Succeeded") | Some("Failed")
    )
}

/// Requests of the pods bound to each node (terminating pods still count, as in Kubernetes).
pub fn used_by_node(store: &Store) -> BTreeMap<String, Resources> {
    let mut used: BTreeMap<String, Resources> = BTreeMap::new();
    for p in store.pods.values().filter(|p| !finished(p)) {
        if let Some(n) = p.spec.as_ref().and_then(|s| s.node_name.clone()) {
            let e = used.entry(n).or_default();
            *e = e.plus(pod_requests(p));
        }
    }
    used
}

/// True when the node accepts new pods at all: Ready and not cordoned.
pub fn schedulable(n: &Node) -> bool {
    node_ready(n) && n.spec.as_ref().and_then(|s| s.unschedulable) != Some(true)
}

fn selector_fits(p: &Pod, n: &Node) -> bool {
    let sel = p.spec.as_ref().and_then(|s| s.node_selector.as_ref());
    sel.is_none_or(|sel| {
        sel.iter()
            .all(|(k, v)| n.metadata.labels.as_ref().and_then(|l| l.get(k)) == Some(v))
    })
}

/// Binds every Pending, unbound pod that fits somewhere; the others get `PodScheduled=False`.
pub fn step(store: &mut Store, now: DateTime<Utc>) {
    let pending: Vec<Key> = store
        .pods
        .iter()
        .filter(|(_, p)| {
            p.metadata.deletion_timestamp.is_none()
                && p.spec.as_ref().is_some_and(|s| s.node_name.is_none())
        })
        .map(|(k, _)| k.clone())
        .collect();
    if pending.is_empty() {
        return;
    }
    let mut used = used_by_node(store);
    // The schedulable nodes with their allocatable resources, read once per pass.
    let candidates: Vec<(String, Resources, Node)> = store
        .nodes
        .values()
        .filter(|n| schedulable(n))
        .map(|n| {
            let name = n.metadata.name.clone().unwrap_or_default();
            (name, allocatable(n), n.clone())
        })
        .collect();
    for key in pending {
        let Some(pod) = store.pods.get(&key).cloned() else {
            continue;
        };
        let need = pod_requests(&pod);
        let choice = candidates
            .iter()
            .filter(|(_, _, n)| selector_fits(&pod, n))
            .filter_map(|(name, cap, _)| {
                let u = used.get(name).copied().unwrap_or_default();
                let total = u.plus(need);
                total
                    .fits_in(*cap)
                    .then(|| (cap.cpu_millis.saturating_sub(total.cpu_millis), name))
            })
            .max_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(a.1)))
            .map(|(room, name)| (room, name.clone()));
        let nodes = store.nodes.len();
        match choice {
            Some((_, node)) => {
                let e = used.entry(node.clone()).or_default();
                *e = e.plus(need);
                store.modify::<Pod>(&key, |p| {
                    if let Some(s) = p.spec.as_mut() {
                        s.node_name = Some(node);
                    }
                    set_scheduled(p, true, None, now);
                });
            }
            None => {
                let already =
                    pod_condition(&pod, "PodScheduled").is_some_and(|c| c.status == "False");
                if !already {
                    let msg = format!(
                        "0/{nodes} nodes are available: insufficient cpu or memory, or unschedulable."
                    );
                    store.modify::<Pod>(&key, |p| set_scheduled(p, false, Some(msg), now));
                }
            }
        }
    }
}

fn set_scheduled(p: &mut Pod, ok: bool, message: Option<String>, now: DateTime<Utc>) {
    let st = p.status.get_or_insert_with(Default::default);
    st.phase.get_or_insert_with(|| "Pending".into());
    let conds = st.conditions.get_or_insert_with(Default::default);
    conds.retain(|c| c.type_ != "PodScheduled");
    conds.push(PodCondition {
        type_: "PodScheduled".into(),
        status: if ok { "True" } else { "False" }.into(),
        reason: (!ok).then(|| "Unschedulable".into()),
        message,
        last_transition_time: Some(k8s_time(now)),
        ..Default::default()
    });
}
