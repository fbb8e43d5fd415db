//! The workload controllers, reduced to what drains and scaling need: a Deployment owns one
//! ReplicaSet; a ReplicaSet keeps `replicas` live pods (terminating pods do not count, so an
//! evicted pod is replaced at once); a StatefulSet keeps pods `<name>-0..n` (a replacement waits
//! until the old pod is gone); a DaemonSet keeps one pod bound to every node. Owned objects whose
//! owner is gone are garbage-collected.

use super::kubelet;
use super::store::{controller_of, key_of, owner_ref, Key, Store, Stored};
use chrono::{DateTime, Utc};
use k8s_openapi::api::apps::v1::{
    DaemonSet, DaemonSetStatus, Deployment, DeploymentStatus, ReplicaSet, ReplicaSetSpec,
    ReplicaSetStatus, StatefulSet, StatefulSetStatus,
};
use k8s_openapi::api::core::v1::{Pod, PodStatus, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, OwnerReference};
use std::collections::{BTreeSet, HashMap};

/// Runs every controller once at `now`.
pub fn step(store: &mut Store, now: DateTime<Utc>) {
    deployments(store);
    collect_garbage(store, now);
    replicasets(store, now);
    statefulsets(store, now);
    daemonsets(store, now);
}

/// A stable 10-character hash of `s`, like the `pod-template-hash` label.
fn template_hash(s: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    const A: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    (0..10)
        .map(|_| {
            let c = A[(h % A.len() as u64) as usize] as char;
            h /= A.len() as u64;
            c
        })
        .collect()
}

/// The keys of the pods of each controller, by the controller's uid, from one pass over the pods
/// (a controller pass looks its owners' pods up here instead of scanning every pod per owner).
fn pods_by_owner(store: &Store) -> HashMap<String, Vec<Key>> {
    let mut owned: HashMap<String, Vec<Key>> = HashMap::new();
    for (key, pod) in &store.pods {
        if let Some(r) = controller_of(&pod.metadata) {
            owned.entry(r.uid.clone()).or_default().push(key.clone());
        }
    }
    owned
}

/// The pods at `keys` that `owner` controls in namespace `ns` (a key whose pod is gone, or was
/// replaced by another owner's, is skipped).
fn owned_by<'a>(
    store: &'a Store,
    keys: &'a [Key],
    owner: &OwnerReference,
    ns: &str,
) -> Vec<(&'a Key, &'a Pod)> {
    keys.iter()
        .filter(|k| k.0 == ns)
        .filter_map(|k| store.pods.get(k).map(|p| (k, p)))
        .filter(|(_, p)| controller_of(&p.metadata).is_some_and(|r| r.uid == owner.uid))
        .collect()
}

/// Creates `pod`, adding its key to `owned` when it was created.
fn create_owned(store: &mut Store, pod: Pod, now: DateTime<Utc>, owned: &mut Vec<Key>) {
    if let Ok(created) = store.create(pod, now) {
        owned.push(key_of(&created.metadata));
    }
}

fn live(p: &Pod) -> bool {
    p.metadata.deletion_timestamp.is_none()
        && !matches!(
            p.status.as_ref().and_then(|s| s.phase.as_deref()),
            Some("Succeeded") | Some("Failed")
        )
}

fn new_pod(
    template: &PodTemplateSpec,
    ns: &str,
    owner: OwnerReference,
    name: Option<String>,
    generate: Option<String>,
) -> Pod {
    let mut meta = template.metadata.clone().unwrap_or_default();
    meta.name = name;
    meta.generate_name = generate;
    meta.namespace = Some(ns.to_owned());
    meta.owner_references = Some(vec![owner]);
    Pod {
        metadata: meta,
        spec: Some(template.spec.clone().unwrap_or_default()),
        status: Some(PodStatus {
            phase: Some("Pending".into()),
            ..Default::default()
        }),
    }
}

fn counts(pods: &[(&Key, &Pod)]) -> (i32, i32) {
    let live: Vec<_> = pods.iter().filter(|(_, p)| live(p)).collect();
    let ready = live
        .iter()
        .filter(|(_, p)| super::eviction::healthy(p))
        .count();
    (live.len() as i32, ready as i32)
}

fn deployments(store: &mut Store) {
    let all: Vec<Deployment> = store.deployments.values().cloned().collect();
    for d in all {
        let ns = d.metadata.namespace.clone().unwrap_or_default();
        let name = d.metadata.name.clone().unwrap_or_default();
        let spec = d.spec.clone();
        let replicas = spec.replicas.unwrap_or(1);
        let hash = template_hash(&format!("{ns}/{name}"));
        let rs_key = (ns.clone(), format!("{name}-{hash}"));
        match store.replicasets.get(&rs_key).cloned() {
            None => {
                let mut template = spec.template.clone();
                let tm = template.metadata.get_or_insert_with(ObjectMeta::default);
                tm.labels
                    .get_or_insert_with(Default::default)
                    .insert("pod-template-hash".into(), hash.clone());
                let mut selector = spec.selector.clone();
                selector
                    .match_labels
                    .get_or_insert_with(Default::default)
                    .insert("pod-template-hash".into(), hash.clone());
                let rs = ReplicaSet {
                    metadata: ObjectMeta {
                        name: Some(rs_key.1.clone()),
                        namespace: Some(ns.clone()),
                        labels: tm.labels.clone(),
                        owner_references: Some(vec![owner_ref(&d)]),
                        ..Default::default()
                    },
                    spec: ReplicaSetSpec {
                        replicas: Some(replicas),
                        selector,
                        template: Some(template),
                        min_ready_seconds: None,
                    },
                    status: None,
                };
                let _ = store.create(rs, Utc::now());
            }
            Some(rs) => {
                // No rollouts: a changed template applies to the pods created from now on.
                let mut template = spec.template.clone();
                template
                    .metadata
                    .get_or_insert_with(ObjectMeta::default)
                    .labels
                    .get_or_insert_with(Default::default)
                    .insert("pod-template-hash".into(), hash.clone());
                let rs_spec = rs.spec.clone();
                if rs_spec.replicas != Some(replicas)
                    || rs_spec.template.as_ref() != Some(&template)
                {
                    store.modify::<ReplicaSet>(&rs_key, |r| {
                        r.spec.replicas = Some(replicas);
                        r.spec.template = Some(template);
                    });
                }
            }
        }
        let rs_status = store
            .replicasets
            .get(&rs_key)
            .and_then(|r| r.status.clone())
            .unwrap_or_default();
        let status = DeploymentStatus {
            replicas: Some(rs_status.replicas),
            ready_replicas: rs_status.ready_replicas,
            available_replicas: rs_status.available_replicas,
            updated_replicas: Some(rs_status.replicas),
            unavailable_replicas: Some((replicas - rs_status.ready_replicas.unwrap_or(0)).max(0)),
            observed_generation: d.metadata.generation,
            ..Default::default()
        };
        if d.status.as_ref() != Some(&status) {
            store.modify::<Deployment>(&(ns, name), |x| x.status = Some(status));
        }
    }
}

/// Creates or deletes `owner`'s pods (their keys in `owned`, which gains the created ones) until
/// `replicas` are live; returns the live and ready counts before the change, the live one capped
/// at `replicas`.
fn scale_pods(
    store: &mut Store,
    owner: OwnerReference,
    ns: &str,
    template: Option<&PodTemplateSpec>,
    replicas: i32,
    now: DateTime<Utc>,
    owned: &mut Vec<Key>,
) -> (i32, i32) {
    let pods = owned_by(store, owned, &owner, ns);
    let (have, ready) = counts(&pods);
    let mut surplus: Vec<Key> = pods
        .iter()
        .filter(|(_, p)| live(p))
        .map(|(k, _)| (*k).clone())
        .collect();
    if have < replicas {
        if let Some(t) = template {
            for _ in have..replicas {
                let pod = new_pod(t, ns, owner.clone(), None, Some(format!("{}-", owner.name)));
                create_owned(store, pod, now, owned);
            }
        }
    } else if have > replicas {
        // Scale down newest first, as the ReplicaSet controller prefers unready and young pods.
        surplus.sort_by(|a, b| {
            let ca = store
                .pods
                .get(a)
                .and_then(|p| p.metadata.creation_timestamp.clone());
            let cb = store
                .pods
                .get(b)
                .and_then(|p| p.metadata.creation_timestamp.clone());
            cb.cmp(&ca).then(b.cmp(a))
        });
        for k in surplus.into_iter().take((have - replicas) as usize) {
            kubelet::delete_pod(store, &k, None, now);
        }
    }
    (have.min(replicas).max(0), ready)
}

fn replicasets(store: &mut Store, now: DateTime<Utc>) {
    let all: Vec<ReplicaSet> = store.replicasets.values().cloned().collect();
    let mut by_owner = pods_by_owner(store);
    for rs in all {
        let ns = rs.metadata.namespace.clone().unwrap_or_default();
        let spec = rs.spec.clone();
        let replicas = spec.replicas.unwrap_or(1);
        let owner = owner_ref(&rs);
        let mut owned = by_owner.remove(&owner.uid).unwrap_or_default();
        let (_, ready) = scale_pods(
            store,
            owner.clone(),
            &ns,
            spec.template.as_ref(),
            replicas,
            now,
            &mut owned,
        );
        let (have, _) = counts(&owned_by(store, &owned, &owner, &ns));
        let status = ReplicaSetStatus {
            replicas: have,
            ready_replicas: Some(ready),
            available_replicas: Some(ready),
            fully_labeled_replicas: Some(have),
            observed_generation: rs.metadata.generation,
            ..Default::default()
        };
        if rs.status.as_ref() != Some(&status) {
            store.modify::<ReplicaSet>(&(ns, rs.metadata.name.clone().unwrap_or_default()), |x| {
                x.status = Some(status)
            });
        }
    }
}

fn statefulsets(store: &mut Store, now: DateTime<Utc>) {
    let all: Vec<StatefulSet> = store.statefulsets.values().cloned().collect();
    let mut by_owner = pods_by_owner(store);
    for sts in all {
        let ns = sts.metadata.namespace.clone().unwrap_or_default();
        let name = sts.metadata.name.clone().unwrap_or_default();
        let spec = sts.spec.clone();
        let replicas = spec.replicas.unwrap_or(1);
        let owner = owner_ref(&sts);
        let mut owned = by_owner.remove(&owner.uid).unwrap_or_default();
        for i in 0..replicas {
            let key = (ns.clone(), format!("{name}-{i}"));
            if !store.pods.contains_key(&key) {
                let pod = new_pod(
                    &spec.template,
                    &ns,
                    owner.clone(),
                    Some(key.1.clone()),
                    None,
                );
                create_owned(store, pod, now, &mut owned);
            }
        }
        let (have, ready) = counts(&owned_by(store, &owned, &owner, &ns));
        let status = StatefulSetStatus {
            replicas: have,
            ready_replicas: Some(ready),
            available_replicas: Some(ready),
            current_replicas: Some(have),
            observed_generation: sts.metadata.generation,
            ..Default::default()
        };
        if sts.status.as_ref() != Some(&status) {
            store.modify::<StatefulSet>(&(ns, name), |x| x.status = Some(status));
        }
    }
}

fn daemonsets(store: &mut Store, now: DateTime<Utc>) {
    let all: Vec<DaemonSet> = store.daemonsets.values().cloned().collect();
    let nodes: Vec<String> = store
        .nodes
        .values()
        .filter_map(|n| n.metadata.name.clone())
        .collect();
    let mut by_owner = pods_by_owner(store);
    for ds in all {
        let ns = ds.metadata.namespace.clone().unwrap_or_default();
        let name = ds.metadata.name.clone().unwrap_or_default();
        let spec = ds.spec.clone();
        let owner = owner_ref(&ds);
        let mut owned = by_owner.remove(&owner.uid).unwrap_or_default();
        let served: BTreeSet<String> = owned_by(store, &owned, &owner, &ns)
            .iter()
            .filter_map(|(_, p)| p.spec.as_ref().and_then(|s| s.node_name.clone()))
            .collect();
        for node in &nodes {
            if !served.contains(node) {
                let mut pod = new_pod(
                    &spec.template,
                    &ns,
                    owner.clone(),
                    None,
                    Some(format!("{name}-")),
                );
                if let Some(s) = pod.spec.as_mut() {
                    s.node_name = Some(node.clone());
                }
                create_owned(store, pod, now, &mut owned);
            }
        }
        let (have, ready) = counts(&owned_by(store, &owned, &owner, &ns));
        let status = DaemonSetStatus {
            desired_number_scheduled: nodes.len() as i32,
            current_number_scheduled: have,
            number_ready: ready,
            number_available: Some(ready),
            number_misscheduled: 0,
            observed_generation: ds.metadata.generation,
            ..Default::default()
        };
        if ds.status.as_ref() != Some(&status) {
            store.modify::<DaemonSet>(&(ns, name), |x| x.status = Some(status));
        }
    }
}

fn owner_exists(store: &Store, ns: &str, r: &OwnerReference) -> bool {
    fn has<T: Stored>(store: &Store, ns: &str, r: &OwnerReference) -> bool {
        T::map_ref(store)
            .get(&(ns.to_owned(), r.name.clone()))
            .is_some_and(|o| o.metadata().uid.as_deref() == Some(r.uid.as_str()))
    }
    match r.kind.as_str() {
        "Deployment" => has::<Deployment>(store, ns, r),
        "ReplicaSet" => has::<ReplicaSet>(store, ns, r),
        "StatefulSet" => has::<StatefulSet>(store, ns, r),
        "DaemonSet" => has::<DaemonSet>(store, ns, r),
        // Owners of kinds the emulator does not keep (Jobs, custom controllers) are assumed alive.
        _ => true,
    }
}

fn collect_garbage(store: &mut Store, now: DateTime<Utc>) {
    let orphan_sets: Vec<Key> = store
        .replicasets
        .iter()
        .filter(|((ns, _), rs)| {
            controller_of(&rs.metadata).is_some_and(|r| !owner_exists(store, ns, r))
        })
        .map(|(k, _)| k.clone())
        .collect();
    for k in orphan_sets {
        store.remove::<ReplicaSet>(&k);
    }
    let orphan_pods: Vec<Key> = store
        .pods
        .iter()
        .filter(|((ns, _), p)| {
            p.metadata.deletion_timestamp.is_none()
                && controller_of(&p.metadata).is_some_and(|r| !owner_exists(store, ns, r))
        })
        .map(|(k, _)| k.clone())
        .collect();
    for k in orphan_pods {
        kubelet::delete_pod(store, &k, None, now);
    }
}

/// The selector a workload's pods are matched with, for seeds that leave it out.
pub fn default_selector(template: &PodTemplateSpec) -> LabelSelector {
    LabelSelector {
        match_labels: template.metadata.as_ref().and_then(|m| m.labels.clone()),
        match_expressions: None,
    }
}
