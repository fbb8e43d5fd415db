//! The emulator's object store: typed Kubernetes objects by kind, namespace and name, with
//! resource versions, uids and generated names the way the API server assigns them.

use chrono::{DateTime, Utc};
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference, Time};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// `(namespace, name)`; the namespace is empty for cluster-scoped objects.
pub type Key = (String, String);

/// Every object the emulator holds, plus the counters the API server keeps.
#[derive(Debug, Default)]
pub struct Store {
    /// Nodes (cluster-scoped).
    pub nodes: BTreeMap<Key, Node>,
    /// Pods.
    pub pods: BTreeMap<Key, Pod>,
    /// PodDisruptionBudgets; their status is recomputed by [`super::eviction::refresh_budgets`].
    pub pdbs: BTreeMap<Key, PodDisruptionBudget>,
    /// Deployments.
    pub deployments: BTreeMap<Key, Deployment>,
    /// ReplicaSets.
    pub replicasets: BTreeMap<Key, ReplicaSet>,
    /// StatefulSets.
    pub statefulsets: BTreeMap<Key, StatefulSet>,
    /// DaemonSets.
    pub daemonsets: BTreeMap<Key, DaemonSet>,
    /// EC2 instance ids whose node must never register (join-failure tests).
    pub never_join: BTreeSet<String>,
    /// How long a bound pod takes to become Running (image pull and start, emulated).
    pub pod_startup: chrono::Duration,
    revision: u64,
    serial: u64,
}

/// A kind the generic REST handlers serve.
pub trait Stored:
    k8s_openapi::Resource
    + k8s_openapi::ListableResource
    + k8s_openapi::Metadata<Ty = ObjectMeta>
    + Serialize
    + DeserializeOwned
    + Clone
    + Send
    + 'static
{
    /// True for namespaced kinds.
    const NAMESPACED: bool;
    /// This kind's objects in `store`.
    fn map(store: &mut Store) -> &mut BTreeMap<Key, Self>;
    /// This kind's objects in `store`, read-only.
    fn map_ref(store: &Store) -> &BTreeMap<Key, Self>;
    /// The dotted field `path` as a field selector compares it (missing is empty), when this kind
    /// reads it without serialising; `None` sends the caller to the object's JSON.
    fn field(&self, _path: &str) -> Option<String> {
        None
    }
}

macro_rules! stored {
    ($t:ty, $field:ident, $ns:expr) => {
        impl Stored for $t {
            const NAMESPACED: bool = $ns;
            fn map(store: &mut Store) -> &mut BTreeMap<Key, Self> {
                &mut store.$field
            }
            fn map_ref(store: &Store) -> &BTreeMap<Key, Self> {
                &store.$field
            }
        }
    };
}
stored!(Node, nodes, false);
impl Stored for Pod {
    const NAMESPACED: bool = true;
    fn map(store: &mut Store) -> &mut BTreeMap<Key, Self> {
        &mut store.pods
    }
    fn map_ref(store: &Store) -> &BTreeMap<Key, Self> {
        &store.pods
    }
    fn field(&self, path: &str) -> Option<String> {
        let value = match path {
            "spec.nodeName" => self.spec.as_ref().and_then(|s| s.node_name.clone()),
            "status.phase" => self.status.as_ref().and_then(|s| s.phase.clone()),
            _ => return None,
        };
        Some(value.unwrap_or_default())
    }
}
stored!(PodDisruptionBudget, pdbs, true);
stored!(Deployment, deployments, true);
stored!(ReplicaSet, replicasets, true);
stored!(StatefulSet, statefulsets, true);
stored!(DaemonSet, daemonsets, true);

/// Converts a chrono time to the Kubernetes wire type.
pub fn k8s_time(t: DateTime<Utc>) -> Time {
    Time(
        k8s_openapi::jiff::Timestamp::from_millisecond(t.timestamp_millis())
            .unwrap_or(k8s_openapi::jiff::Timestamp::UNIX_EPOCH),
    )
}

/// Converts the Kubernetes wire time to chrono.
pub fn chrono_time(t: &Time) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(t.0.as_millisecond()).unwrap_or_default()
}

/// The key of an object with metadata `m`.
pub fn key_of(m: &ObjectMeta) -> Key {
    (
        m.namespace.clone().unwrap_or_default(),
        m.name.clone().unwrap_or_default(),
    )
}

/// The controlling owner reference of an object, if any.
pub fn controller_of(m: &ObjectMeta) -> Option<&OwnerReference> {
    m.owner_references
        .as_ref()?
        .iter()
        .find(|r| r.controller == Some(true))
}

/// An owner reference marking `owner` as controller.
pub fn owner_ref<T: Stored>(owner: &T) -> OwnerReference {
    let m = owner.metadata();
    OwnerReference {
        api_version: T::API_VERSION.to_owned(),
        kind: T::KIND.to_owned(),
        name: m.name.clone().unwrap_or_default(),
        uid: m.uid.clone().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

/// True when `labels` carries every pair of `selector`, which must not be empty.
pub fn matches(
    selector: &BTreeMap<String, String>,
    labels: Option<&BTreeMap<String, String>>,
) -> bool {
    !selector.is_empty()
        && selector
            .iter()
            .all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v))
}

impl Store {
    /// The current resource version (bumped by every write).
    pub fn revision(&self) -> u64 {
        self.revision
    }

    /// Five lowercase alphanumerics, different on every call, like the API server's `generateName`
    /// suffix.
    pub fn suffix(&mut self) -> String {
        const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
        self.serial += 1;
        let mut x = self
            .serial
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .rotate_left(17);
        (0..5)
            .map(|_| {
                let c = ALPHABET[(x % ALPHABET.len() as u64) as usize] as char;
                x /= ALPHABET.len() as u64;
                c
            })
            .collect()
    }

    /// Stores a new object, filling what the API server fills: name from `generateName`, namespace
    /// `default` for namespaced kinds, uid, creation time, resource version.
    ///
    /// Errors: the message of an `AlreadyExists` conflict, or of a missing name.
    pub fn create<T: Stored>(&mut self, mut obj: T, now: DateTime<Utc>) -> Result<T, CreateError> {
        let suffix = self.suffix();
        self.revision += 1;
        let revision = self.revision;
        let m = obj.metadata_mut();
        if m.name.as_deref().unwrap_or_default().is_empty() {
            match &m.generate_name {
                Some(prefix) if !prefix.is_empty() => m.name = Some(format!("{prefix}{suffix}")),
                _ => return Err(CreateError::NoName),
            }
        }
        if T::NAMESPACED {
            if m.namespace.as_deref().unwrap_or_default().is_empty() {
                m.namespace = Some("default".into());
            }
        } else {
            m.namespace = None;
        }
        m.uid = Some(format!(
            "{:08x}-0000-4000-8000-{:012x}",
            revision, self.serial
        ));
        m.creation_timestamp = Some(k8s_time(now));
        m.resource_version = Some(revision.to_string());
        m.generation = Some(1);
        let key = key_of(m);
        let map = T::map(self);
        if map.contains_key(&key) {
            return Err(CreateError::Exists(key.1));
        }
        map.insert(key, obj.clone());
        Ok(obj)
    }

    /// Replaces a stored object, bumping its resource version. Returns the stored copy.
    pub fn put<T: Stored>(&mut self, mut obj: T) -> T {
        self.revision += 1;
        obj.metadata_mut().resource_version = Some(self.revision.to_string());
        let key = key_of(obj.metadata());
        T::map(self).insert(key, obj.clone());
        obj
    }

    /// Changes the stored object at `key` with `f` when it exists; returns whether it did.
    pub fn modify<T: Stored>(&mut self, key: &Key, f: impl FnOnce(&mut T)) -> bool {
        let Some(mut obj) = T::map(self).get(key).cloned() else {
            return false;
        };
        f(&mut obj);
        self.put(obj);
        true
    }

    /// Removes an object; returns it when it existed.
    pub fn remove<T: Stored>(&mut self, key: &Key) -> Option<T> {
        self.revision += 1;
        T::map(self).remove(key)
    }
}

/// Why a create was refused.
#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    /// An object of that name exists.
    #[error("{0} already exists")]
    Exists(String),
    /// Neither `name` nor `generateName` was given.
    #[error("name or generateName is required")]
    NoName,
}
