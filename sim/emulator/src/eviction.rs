//! The `pods/eviction` subresource and PodDisruptionBudget status, as the API server does them:
//! an eviction that would leave fewer healthy pods than a budget demands is refused with 429 and
//! the same Status body; an allowed one marks the pod `DisruptionTarget` and deletes it gracefully.

use super::kubelet::{self, pod_condition};
use super::status::ApiError;
use super::store::{k8s_time, Key, Store};
use chrono::{DateTime, Utc};
use k8s_openapi::api::core::v1::{Pod, PodCondition};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde_json::json;
use std::collections::BTreeMap;

/// The message a real API server answers a PDB-refused eviction with (kubectl prints it).
pub const REFUSED: &str = "Cannot evict pod as it would violate the pod's disruption budget.";

fn selector(pdb: &PodDisruptionBudget) -> BTreeMap<String, String> {
    let sel = pdb.spec.as_ref().and_then(|s| s.selector.as_ref());
    match sel {
        // Budgets with matchExpressions match nothing here (documented in docs/EMULATOR.md).
        Some(s) if s.match_expressions.as_ref().is_none_or(Vec::is_empty) => {
            s.match_labels.clone().unwrap_or_default()
        }
        _ => BTreeMap::new(),
    }
}

fn terminating(p: &Pod) -> bool {
    p.metadata.deletion_timestamp.is_some()
}

/// True when the pod is Running and its `Ready` condition is `True`.
pub fn healthy(p: &Pod) -> bool {
    p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running")
        && pod_condition(p, "Ready").is_some_and(|c| c.status == "True")
}

fn budget_pods<'a>(store: &'a Store, pdb: &PodDisruptionBudget) -> Vec<&'a Pod> {
    let sel = selector(pdb);
    let ns = pdb.metadata.namespace.clone().unwrap_or_default();
    store
        .pods
        .iter()
        .filter(|((n, _), p)| {
            *n == ns
                && !terminating(p)
                && super::store::matches(&sel, p.metadata.labels.as_ref())
                && !matches!(
                    p.status.as_ref().and_then(|s| s.phase.as_deref()),
                    Some("Succeeded") | Some("Failed")
                )
        })
        .map(|(_, p)| p)
        .collect()
}

fn scaled(v: &IntOrString, expected: i32, round_up: bool) -> i32 {
    match v {
        IntOrString::Int(n) => *n,
        IntOrString::String(s) => {
            let pct: f64 = s.trim_end_matches('%').parse().unwrap_or(0.0);
            let x = pct * f64::from(expected) / 100.0;
            (if round_up { x.ceil() } else { x.floor() }) as i32
        }
    }
}

/// `(expected, desired healthy, current healthy, disruptions allowed)` for `pdb` now.
pub fn budget_numbers(store: &Store, pdb: &PodDisruptionBudget) -> (i32, i32, i32, i32) {
    let pods = budget_pods(store, pdb);
    let expected = pods.len() as i32;
    let current = pods.iter().filter(|p| healthy(p)).count() as i32;
    let spec = pdb.spec.clone().unwrap_or_default();
    let desired = match (&spec.min_available, &spec.max_unavailable) {
        (Some(min), _) => scaled(min, expected, true),
        (None, Some(max)) => (expected - scaled(max, expected, true)).max(0),
        (None, None) => expected,
    };
    (expected, desired, current, (current - desired).max(0))
}

/// Recomputes every budget's status from the pods.
pub fn refresh_budgets(store: &mut Store) {
    let keys: Vec<Key> = store.pdbs.keys().cloned().collect();
    for key in keys {
        let Some(pdb) = store.pdbs.get(&key) else {
            continue;
        };
        let (expected, desired, current, allowed) = budget_numbers(store, pdb);
        let mut status = pdb.status.clone().unwrap_or_default();
        let changed = (
            status.expected_pods,
            status.desired_healthy,
            status.current_healthy,
            status.disruptions_allowed,
        ) != (Some(expected), Some(desired), Some(current), Some(allowed));
        if changed {
            status.expected_pods = Some(expected);
            status.desired_healthy = Some(desired);
            status.current_healthy = Some(current);
            status.disruptions_allowed = Some(allowed);
            status.observed_generation = pdb.metadata.generation;
            store.modify::<PodDisruptionBudget>(&key, |p| p.status = Some(status));
        }
    }
}

/// Evicts the pod at `key`, honouring its budget; `grace` overrides the pod's
/// `terminationGracePeriodSeconds`.
///
/// Errors: 404 when the pod does not exist; 429 with [`REFUSED`] when a budget allows no
/// disruption; 500 when more than one budget selects the pod (as the API server does).
pub fn evict(
    store: &mut Store,
    key: &Key,
    grace: Option<i64>,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    let pod = store
        .pods
        .get(key)
        .cloned()
        .ok_or_else(|| ApiError::not_found("pods", &key.1))?;
    if terminating(&pod) {
        return Ok(());
    }
    let phase = pod.status.as_ref().and_then(|s| s.phase.clone());
    let guarded = !matches!(
        phase.as_deref(),
        Some("Pending") | Some("Succeeded") | Some("Failed")
    );
    if guarded {
        refresh_budgets(store);
        let budgets: Vec<PodDisruptionBudget> = store
            .pdbs
            .values()
            .filter(|b| {
                b.metadata.namespace == pod.metadata.namespace
                    && super::store::matches(&selector(b), pod.metadata.labels.as_ref())
            })
            .cloned()
            .collect();
        if budgets.len() > 1 {
            return Err(ApiError {
                code: 500,
                reason: "InternalError",
                message: "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.".into(),
                details: None,
            });
        }
        if let Some(b) = budgets.first() {
            let (_, desired, current, allowed) = budget_numbers(store, b);
            let name = b.metadata.name.clone().unwrap_or_default();
            if allowed <= 0 {
                return Err(ApiError {
                    code: 429,
                    reason: "TooManyRequests",
                    message: REFUSED.into(),
                    details: Some(json!({"causes": [{
                        "reason": "DisruptionBudget",
                        "message": format!("The disruption budget {name} needs {desired} healthy pods and has {current} currently"),
                    }]})),
                });
            }
            let pod_name = key.1.clone();
            store.modify::<PodDisruptionBudget>(&(key.0.clone(), name), |p| {
                let st = p.status.get_or_insert_with(Default::default);
                st.disruptions_allowed = Some((st.disruptions_allowed.unwrap_or(0) - 1).max(0));
                st.disrupted_pods
                    .get_or_insert_with(Default::default)
                    .insert(pod_name, k8s_time(now));
            });
        }
    }
    store.modify::<Pod>(key, |p| {
        let st = p.status.get_or_insert_with(Default::default);
        st.conditions
            .get_or_insert_with(Default::default)
            .push(PodCondition {
                type_: "DisruptionTarget".into(),
                status: "True".into(),
                reason: Some("EvictionByEvictionAPI".into()),
                message: Some("Eviction API: evicting".into()),
                last_transition_time: Some(k8s_time(now)),
                ..Default::default()
            });
    });
    kubelet::delete_pod(store, key, grace, now);
    Ok(())
}
