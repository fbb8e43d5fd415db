//! What kubelets and the pod garbage collector do: start bound pods, mark pods on NotReady nodes
//! unready, finish graceful deletions once their grace period has passed, and remove pods whose
//! node is gone.

use super::store::{chrono_time, k8s_time, Key, Store};
use chrono::{DateTime, Duration, Utc};
use k8s_openapi::api::core::v1::{ContainerStatus, Node, NodeCondition, Pod, PodCondition, PodIP};

/// Default `terminationGracePeriodSeconds`, as in Kubernetes.
pub const DEFAULT_GRACE_SECS: i64 = 30;

/// True when the node's `Ready` condition is `True`.
pub fn node_ready(n: &Node) -> bool {
    node_condition(n, "Ready").is_some_and(|c| c.status == "True")
}

/// The node's condition of type `kind`, when it has one.
pub(crate) fn node_condition<'a>(n: &'a Node, kind: &str) -> Option<&'a NodeCondition> {
    let conditions = n.status.as_ref().and_then(|s| s.conditions.as_deref());
    conditions?.iter().find(|c| c.type_ == kind)
}

/// The pod's condition of type `kind`, when it has one.
pub(crate) fn pod_condition<'a>(p: &'a Pod, kind: &str) -> Option<&'a PodCondition> {
    let conditions = p.status.as_ref().and_then(|s| s.conditions.as_deref());
    conditions?.iter().find(|c| c.type_ == kind)
}

fn phase(p: &Pod) -> Option<&str> {
    p.status.as_ref().and_then(|s| s.phase.as_deref())
}

/// Deletes a pod the way the API server does: at once when it never ran on a node, has finished
/// or `grace` is 0; otherwise it turns Terminating (`deletionTimestamp = now + grace`) and
/// [`step`] removes it when that time has come. Returns the pod as it is after the call.
pub fn delete_pod(
    store: &mut Store,
    key: &Key,
    grace: Option<i64>,
    now: DateTime<Utc>,
) -> Option<Pod> {
    let pod = store.pods.get(key)?.clone();
    let grace = grace
        .or_else(|| {
            pod.spec
                .as_ref()
                .and_then(|s| s.termination_grace_period_seconds)
        })
        .unwrap_or(DEFAULT_GRACE_SECS)
        .max(0);
    let bound = pod
        .spec
        .as_ref()
        .and_then(|s| s.node_name.as_ref())
        .is_some();
    let finished = matches!(phase(&pod), Some("Succeeded") | Some("Failed"));
    if !bound || finished || grace == 0 {
        return store.remove::<Pod>(key);
    }
    let until = now + Duration::seconds(grace);
    let earlier = pod
        .metadata
        .deletion_timestamp
        .as_ref()
        .is_some_and(|t| chrono_time(t) <= until);
    if !earlier {
        store.modify::<Pod>(key, |p| {
            p.metadata.deletion_timestamp = Some(k8s_time(until));
            p.metadata.deletion_grace_period_seconds = Some(grace);
            set_ready(p, false, now);
        });
    }
    store.pods.get(key).cloned()
}

fn condition(type_: &str, ok: bool, now: DateTime<Utc>) -> PodCondition {
    PodCondition {
        type_: type_.into(),
        status: if ok { "True" } else { "False" }.into(),
        last_transition_time: Some(k8s_time(now)),
        ..Default::default()
    }
}

fn set_ready(p: &mut Pod, ready: bool, now: DateTime<Utc>) {
    let st = p.status.get_or_insert_with(Default::default);
    let conds = st.conditions.get_or_insert_with(Default::default);
    conds.retain(|c| c.type_ != "Ready" && c.type_ != "ContainersReady");
    conds.push(condition("ContainersReady", ready, now));
    conds.push(condition("Ready", ready, now));
    for c in st.container_statuses.iter_mut().flatten() {
        c.ready = ready;
    }
}

fn is_ready(p: &Pod) -> bool {
    super::eviction::healthy(p)
}

fn node_ip(n: &Node) -> String {
    n.status
        .as_ref()
        .and_then(|s| s.addresses.as_ref())
        .and_then(|a| a.first())
        .map(|a| a.address.clone())
        .unwrap_or_else(|| "10.0.0.1".into())
}

/// What a kubelet or the pod garbage collector does to one pod in a pass.
enum Action {
    /// Remove it: its node is gone or its grace period has passed.
    Remove,
    /// Start it on the node whose address is given.
    Start(String),
    /// Set its readiness to follow its node's.
    Ready(bool),
}

/// One pass of every kubelet and the pod garbage collector at time `now`. The pods are read in
/// place and only those that change are written, so a pass over a large, settled cluster copies
/// nothing.
pub fn step(store: &mut Store, now: DateTime<Utc>) {
    let actions: Vec<(Key, Action)> = store
        .pods
        .iter()
        .filter_map(|(key, pod)| {
            let node_name = pod.spec.as_ref()?.node_name.as_ref()?;
            let Some(node) = store.nodes.get(&(String::new(), node_name.clone())) else {
                return Some((key.clone(), Action::Remove));
            };
            if let Some(t) = &pod.metadata.deletion_timestamp {
                return (chrono_time(t) <= now).then(|| (key.clone(), Action::Remove));
            }
            let action = match (phase(pod), node_ready(node)) {
                (Some("Pending") | None, true) if started_by(pod, store.pod_startup) <= now => {
                    Action::Start(node_ip(node))
                }
                (Some("Running"), ready) if is_ready(pod) != ready => Action::Ready(ready),
                _ => return None,
            };
            Some((key.clone(), action))
        })
        .collect();
    for (key, action) in actions {
        match action {
            Action::Remove => {
                store.remove::<Pod>(&key);
            }
            Action::Start(host) => {
                let ip = format!(
                    "10.42.{}.{}",
                    store.revision() % 250,
                    2 + store.pods.len() % 250
                );
                store.modify::<Pod>(&key, |p| start(p, ip, host, now));
            }
            Action::Ready(ready) => {
                store.modify::<Pod>(&key, |p| set_ready(p, ready, now));
            }
        }
    }
}

/// When a bound pod may run: its binding time plus the startup delay.
fn started_by(p: &Pod, startup: Duration) -> DateTime<Utc> {
    let bound = pod_condition(p, "PodScheduled")
        .filter(|c| c.status == "True")
        .and_then(|c| c.last_transition_time.as_ref())
        .map(chrono_time)
        .unwrap_or_default();
    bound + startup
}

fn start(p: &mut Pod, ip: String, host: String, now: DateTime<Utc>) {
    let containers: Vec<(String, String)> = p
        .spec
        .as_ref()
        .map(|s| {
            s.containers
                .iter()
                .map(|c| (c.name.clone(), c.image.clone().unwrap_or_default()))
                .collect()
        })
        .unwrap_or_default();
    let st = p.status.get_or_insert_with(Default::default);
    st.phase = Some("Running".into());
    st.start_time = Some(k8s_time(now));
    st.pod_ip = Some(ip.clone());
    st.pod_ips = Some(vec![PodIP { ip }]);
    st.host_ip = Some(host);
    st.container_statuses = Some(
        containers
            .into_iter()
            .map(|(name, image)| ContainerStatus {
                name,
                image_id: format!("emulated://{image}"),
                image,
                ready: true,
                started: Some(true),
                ..Default::default()
            })
            .collect(),
    );
    let conds = st.conditions.get_or_insert_with(Default::default);
    conds.retain(|c| c.type_ == "PodScheduled" || c.type_ == "DisruptionTarget");
    conds.push(condition("Initialized", true, now));
    set_ready(p, true, now);
}
