//! The Kubernetes REST subset: discovery and list/watch/get/create/patch/delete for the kinds the
//! emulator keeps, plus `pods/eviction`. JSON only (no protobuf); `kubectl get` receives a
//! `meta.k8s.io/v1` Table when it asks for one; `?watch=true` is served by [`super::watch`].

use super::status::ApiError;
use super::store::{Key, Store, Stored};
use super::{eviction, kubelet, patch, selector, status::json_response, table, watch, AppState};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use chrono::Utc;
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use serde_json::{json, Value};
use std::collections::HashMap;

/// Path or query parameters by name.
pub type Params = HashMap<String, String>;

/// The Kubernetes version the emulator reports.
pub const VERSION: &str = "v1.31.4+k3s1";

/// Routes of the Kubernetes API.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/version", get(version))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(|| async { "ok" }))
        .route("/api", get(api_versions))
        .route("/api/v1", get(core_resources))
        .route("/apis", get(api_groups))
        .route("/apis/apps/v1", get(apps_resources))
        .route("/apis/policy/v1", get(policy_resources))
        .route("/api/v1/nodes", get(list::<Node>).post(create::<Node>))
        .route(
            "/api/v1/nodes/{name}",
            get(read::<Node>)
                .patch(patch::<Node>)
                .delete(delete::<Node>),
        )
        .route(
            "/api/v1/nodes/{name}/status",
            get(read::<Node>).patch(patch::<Node>),
        )
        .route("/api/v1/pods", get(list::<Pod>))
        .route(
            "/api/v1/namespaces/{ns}/pods",
            get(list::<Pod>).post(create::<Pod>),
        )
        .route(
            "/api/v1/namespaces/{ns}/pods/{name}",
            get(read::<Pod>).patch(patch::<Pod>).delete(delete::<Pod>),
        )
        .route("/api/v1/namespaces/{ns}/pods/{name}/eviction", post(evict))
        .merge(namespaced::<PodDisruptionBudget>("/apis/policy/v1"))
        .merge(namespaced::<Deployment>("/apis/apps/v1"))
        .merge(namespaced::<ReplicaSet>("/apis/apps/v1"))
        .merge(namespaced::<StatefulSet>("/apis/apps/v1"))
        .merge(namespaced::<DaemonSet>("/apis/apps/v1"))
}

fn namespaced<T: Stored>(prefix: &str) -> Router<AppState> {
    let plural = T::URL_PATH_SEGMENT;
    Router::new()
        .route(&format!("{prefix}/{plural}"), get(list::<T>))
        .route(
            &format!("{prefix}/namespaces/{{ns}}/{plural}"),
            get(list::<T>).post(create::<T>),
        )
        .route(
            &format!("{prefix}/namespaces/{{ns}}/{plural}/{{name}}"),
            get(read::<T>).patch(patch::<T>).delete(delete::<T>),
        )
}

async fn version() -> Response {
    json_response(
        StatusCode::OK,
        &json!({
            "major": "1", "minor": "31", "gitVersion": VERSION,
            "gitCommit": "smartscale-emulator", "gitTreeState": "clean",
            "buildDate": "2026-01-01T00:00:00Z", "goVersion": "go1.22.9",
            "compiler": "gc", "platform": "linux/amd64"
        }),
    )
}

async fn api_versions() -> Response {
    json_response(
        StatusCode::OK,
        &json!({"kind": "APIVersions", "versions": ["v1"],
                "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1:6443"}]}),
    )
}

fn group(name: &str) -> Value {
    let gv = json!({"groupVersion": format!("{name}/v1"), "version": "v1"});
    json!({"name": name, "versions": [gv], "preferredVersion": gv})
}

async fn api_groups() -> Response {
    json_response(
        StatusCode::OK,
        &json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": [group("apps"), group("policy")]}),
    )
}

fn resource(name: &str, singular: &str, namespaced: bool, kind: &str, short: &[&str]) -> Value {
    json!({
        "name": name, "singularName": singular, "namespaced": namespaced, "kind": kind,
        "verbs": ["create", "delete", "get", "list", "patch"],
        "shortNames": short,
    })
}

fn resource_list(group_version: &str, resources: Vec<Value>) -> Response {
    json_response(
        StatusCode::OK,
        &json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version,
                "resources": resources}),
    )
}

async fn core_resources() -> Response {
    resource_list(
        "v1",
        vec![
            resource("nodes", "node", false, "Node", &["no"]),
            resource("nodes/status", "", false, "Node", &[]),
            resource("pods", "pod", true, "Pod", &["po"]),
            json!({"name": "pods/eviction", "singularName": "", "namespaced": true,
                   "group": "policy", "version": "v1", "kind": "Eviction", "verbs": ["create"]}),
        ],
    )
}

async fn apps_resources() -> Response {
    resource_list(
        "apps/v1",
        vec![
            resource("deployments", "deployment", true, "Deployment", &["deploy"]),
            resource("replicasets", "replicaset", true, "ReplicaSet", &["rs"]),
            resource("statefulsets", "statefulset", true, "StatefulSet", &["sts"]),
            resource("daemonsets", "daemonset", true, "DaemonSet", &["ds"]),
        ],
    )
}

async fn policy_resources() -> Response {
    resource_list(
        "policy/v1",
        vec![resource(
            "poddisruptionbudgets",
            "poddisruptionbudget",
            true,
            "PodDisruptionBudget",
            &["pdb"],
        )],
    )
}

fn key<T: Stored>(p: &Params) -> Key {
    let ns = if T::NAMESPACED {
        p.get("ns").cloned().unwrap_or_default()
    } else {
        String::new()
    };
    (ns, p.get("name").cloned().unwrap_or_default())
}

fn wants_table(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("as=Table"))
}

fn to_value<T: Stored>(obj: &T) -> Value {
    serde_json::to_value(obj).unwrap_or(Value::Null)
}

fn lock(state: &AppState) -> std::sync::MutexGuard<'_, Store> {
    state.store.lock().unwrap_or_else(|p| p.into_inner())
}

/// True when `obj` satisfies the query's `labelSelector` and `fieldSelector`. Labels come from the
/// typed metadata and fields from [`field_of`], so a selected list serialises only what it serves.
fn selects<T: Stored>(obj: &T, q: &Params) -> bool {
    q.get("labelSelector")
        .is_none_or(|s| selector::labels_match(s, obj.metadata().labels.as_ref()))
        && q.get("fieldSelector")
            .is_none_or(|s| selector::fields_match(s, |path| field_of(obj, path)))
}

/// The value of the dotted field `path` of `obj` as a field selector compares it: the fields
/// kube-rs and kubectl select on are read from the typed object ([`Stored::field`]), any other
/// from the object's JSON.
fn field_of<T: Stored>(obj: &T, path: &str) -> String {
    let m = obj.metadata();
    match path {
        "metadata.name" => m.name.clone().unwrap_or_default(),
        "metadata.namespace" => m.namespace.clone().unwrap_or_default(),
        _ => obj
            .field(path)
            .unwrap_or_else(|| selector::field(&to_value(obj), path)),
    }
}

/// The objects of kind `T` in namespace `ns` (all when `None`) that the query selects, in the
/// store's key order, starting after `after`.
fn matching<'a, T: Stored>(
    store: &'a Store,
    ns: Option<&'a String>,
    q: &'a Params,
    after: Option<&Key>,
) -> impl Iterator<Item = &'a T> + 'a {
    use std::ops::Bound::{Excluded, Unbounded};
    let start = after.map_or(Unbounded, |k| Excluded(k.clone()));
    T::map_ref(store)
        .range((start, Unbounded))
        .filter(move |((n, _), _)| ns.is_none_or(|want| want == n))
        .map(|(_, o)| o)
        .filter(move |o| selects(*o, q))
}

/// The objects of kind `T` a watch selects, as JSON: those in namespace `ns` (all when `None`)
/// matching the query's `labelSelector` and `fieldSelector`.
pub fn selected<T: Stored>(store: &Store, ns: Option<&String>, q: &Params) -> Vec<Value> {
    matching::<T>(store, ns, q, None).map(to_value).collect()
}

/// A `continue` token: the key of the last object served, so the next page starts after it
/// whatever was added or removed in between (as the API server's tokens do), without counting
/// through the earlier pages.
fn continue_token(key: &Key) -> String {
    format!("{}/{}", key.0, key.1)
}

/// The key a `continue` token names.
///
/// Errors: a 400 when the token is not one [`continue_token`] wrote.
fn continue_key(token: &str) -> Result<Key, ApiError> {
    token
        .split_once('/')
        .map(|(ns, name)| (ns.to_owned(), name.to_owned()))
        .ok_or_else(|| ApiError::bad_request(format!("invalid continue token '{token}'")))
}

async fn list<T: Stored>(
    State(state): State<AppState>,
    Path(p): Path<Params>,
    Query(q): Query<Params>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if q.get("watch").is_some_and(|w| w == "true" || w == "1") {
        let table = wants_table(&headers);
        return Ok(watch::respond::<T>(state, p.get("ns").cloned(), q, table));
    }
    let after = match q.get("continue").filter(|c| !c.is_empty()) {
        None => None,
        Some(c) => Some(continue_key(c)?),
    };
    let limit = q
        .get("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .filter(|l| *l > 0);
    // Only the page is copied under the lock; it is serialised after the lock is released.
    let (page, more, revision) = {
        let store = lock(&state);
        let mut selected = matching::<T>(&store, p.get("ns"), &q, after.as_ref());
        let page: Vec<T> = selected
            .by_ref()
            .take(limit.unwrap_or(usize::MAX))
            .cloned()
            .collect();
        let more = selected.next().is_some();
        (page, more, store.revision().to_string())
    };
    let next = more
        .then(|| {
            page.last()
                .map(|o| continue_token(&super::store::key_of(o.metadata())))
        })
        .flatten();
    let items: Vec<Value> = page.iter().map(to_value).collect();
    let body = if wants_table(&headers) {
        table::render::<T>(&items, &revision, Utc::now())
    } else {
        let mut metadata = json!({"resourceVersion": revision});
        if let Some(next) = next {
            metadata["continue"] = json!(next);
        }
        json!({"apiVersion": T::API_VERSION, "kind": T::LIST_KIND,
               "metadata": metadata, "items": items})
    };
    Ok(json_response(StatusCode::OK, &body))
}

async fn read<T: Stored>(
    State(state): State<AppState>,
    Path(p): Path<Params>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let key = key::<T>(&p);
    let store = lock(&state);
    let obj = T::map_ref(&store)
        .get(&key)
        .map(to_value)
        .ok_or_else(|| ApiError::not_found(T::URL_PATH_SEGMENT, &key.1))?;
    let revision = store.revision().to_string();
    drop(store);
    let body = if wants_table(&headers) {
        table::render::<T>(&[obj], &revision, Utc::now())
    } else {
        obj
    };
    Ok(json_response(StatusCode::OK, &body))
}

async fn create<T: Stored>(
    State(state): State<AppState>,
    Path(p): Path<Params>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let mut obj: T = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("decoding {}: {e}", T::KIND)))?;
    if let Some(ns) = p.get("ns") {
        obj.metadata_mut().namespace = Some(ns.clone());
    }
    let mut store = lock(&state);
    let created = store.create(obj, Utc::now()).map_err(|e| match e {
        super::store::CreateError::Exists(name) => {
            ApiError::already_exists(T::URL_PATH_SEGMENT, &name)
        }
        other => ApiError::bad_request(other.to_string()),
    })?;
    super::tick_locked(&mut store, Utc::now());
    Ok(json_response(StatusCode::CREATED, &to_value(&created)))
}

async fn patch<T: Stored>(
    State(state): State<AppState>,
    Path(p): Path<Params>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let key = key::<T>(&p);
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let mut store = lock(&state);
    let current = T::map_ref(&store)
        .get(&key)
        .map(to_value)
        .ok_or_else(|| ApiError::not_found(T::URL_PATH_SEGMENT, &key.1))?;
    let patched = patch::apply(&content_type, current, &body).map_err(|e| match e {
        patch::PatchError::Unsupported(_) => ApiError::unsupported_media(e.to_string()),
        other => ApiError::bad_request(other.to_string()),
    })?;
    let obj: T = serde_json::from_value(patched)
        .map_err(|e| ApiError::bad_request(format!("the patched {} is invalid: {e}", T::KIND)))?;
    if super::store::key_of(obj.metadata()) != key {
        return Err(ApiError::bad_request(
            "a patch may not change name or namespace",
        ));
    }
    let stored = store.put(obj);
    super::tick_locked(&mut store, Utc::now());
    Ok(json_response(StatusCode::OK, &to_value(&stored)))
}

async fn delete<T: Stored>(
    State(state): State<AppState>,
    Path(p): Path<Params>,
    Query(q): Query<Params>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let key = key::<T>(&p);
    let options: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let grace = options["gracePeriodSeconds"]
        .as_i64()
        .or_else(|| q.get("gracePeriodSeconds").and_then(|g| g.parse().ok()));
    let now = Utc::now();
    let mut store = lock(&state);
    let current = T::map_ref(&store)
        .get(&key)
        .map(to_value)
        .ok_or_else(|| ApiError::not_found(T::URL_PATH_SEGMENT, &key.1))?;
    if T::KIND == Pod::KIND {
        let pod = kubelet::delete_pod(&mut store, &key, grace, now);
        return Ok(json_response(
            StatusCode::OK,
            &pod.map(|p| to_value(&p)).unwrap_or(current),
        ));
    }
    store.remove::<T>(&key);
    super::tick_locked(&mut store, now);
    Ok(json_response(StatusCode::OK, &current))
}

async fn evict(
    State(state): State<AppState>,
    Path(p): Path<Params>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let key = key::<Pod>(&p);
    let request: Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("decoding Eviction: {e}")))?;
    let grace = request["deleteOptions"]["gracePeriodSeconds"].as_i64();
    let now = Utc::now();
    let mut store = lock(&state);
    eviction::evict(&mut store, &key, grace, now)?;
    Ok(json_response(
        StatusCode::CREATED,
        &super::status::success(201),
    ))
}

use k8s_openapi::Resource as _;

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::PodSpec;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn state_with(nodes: usize, pods_per_node: usize) -> AppState {
        let state = crate::build(crate::EmulatorConfig::default()).expect("empty seed");
        let mut store = lock(&state);
        let now = Utc::now();
        for n in 0..nodes {
            let node = Node {
                metadata: ObjectMeta {
                    name: Some(format!("n{n}")),
                    ..Default::default()
                },
                ..Default::default()
            };
            store.create(node, now).expect("node");
            for i in 0..pods_per_node {
                let pod = Pod {
                    metadata: ObjectMeta {
                        name: Some(format!("p{n}-{i}")),
                        labels: Some([("app".to_owned(), format!("a{i}"))].into()),
                        ..Default::default()
                    },
                    spec: Some(PodSpec {
                        node_name: Some(format!("n{n}")),
                        ..Default::default()
                    }),
                    status: None,
                };
                store.create(pod, now).expect("pod");
            }
        }
        drop(store);
        state
    }

    /// One list request; returns the names served and the `continue` token.
    async fn page<T: Stored>(
        state: &AppState,
        query: &[(&str, &str)],
    ) -> (Vec<String>, Option<String>) {
        let q: Params = query
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect();
        let response = list::<T>(
            State(state.clone()),
            Path(Params::new()),
            Query(q),
            HeaderMap::new(),
        )
        .await
        .expect("list");
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("body");
        let list: Value = serde_json::from_slice(&body).expect("JSON");
        let names = list["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|o| {
                o["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned()
            })
            .collect();
        (
            names,
            list["metadata"]["continue"].as_str().map(str::to_owned),
        )
    }

    /// A page after a `continue` token starts after the last object served, even when an earlier
    /// object was removed between the requests (an offset into the list would skip one).
    #[tokio::test]
    async fn continue_resumes_after_the_last_object_served() {
        let state = state_with(7, 0);
        let (first, token) = page::<Node>(&state, &[("limit", "3")]).await;
        assert_eq!(first, ["n0", "n1", "n2"]);
        lock(&state).remove::<Node>(&(String::new(), "n1".into()));
        let token = token.expect("a continue token");
        let (second, token) = page::<Node>(&state, &[("limit", "3"), ("continue", &token)]).await;
        assert_eq!(second, ["n3", "n4", "n5"]);
        let (last, token) = page::<Node>(
            &state,
            &[("limit", "3"), ("continue", &token.expect("token"))],
        )
        .await;
        assert_eq!((last, token), (vec!["n6".to_owned()], None));
    }

    /// Selectors on the typed objects pick what the JSON selectors would, page by page.
    #[tokio::test]
    async fn selected_pages() {
        let state = state_with(3, 4);
        type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a [&'a str]);
        let cases: [Case; 5] = [
            (
                "field on the node",
                &[("fieldSelector", "spec.nodeName=n1")],
                &["p1-0", "p1-1", "p1-2", "p1-3"],
            ),
            (
                "field and label",
                &[
                    ("fieldSelector", "spec.nodeName=n2"),
                    ("labelSelector", "app=a1"),
                ],
                &["p2-1"],
            ),
            (
                "label not equal",
                &[("labelSelector", "app!=a0,app!=a1,app!=a2")],
                &["p0-3", "p1-3", "p2-3"],
            ),
            (
                "phase of a pod without status",
                &[("fieldSelector", "status.phase!=Running,metadata.name=p0-0")],
                &["p0-0"],
            ),
            (
                "a field read from the JSON",
                &[("fieldSelector", "metadata.uid=none")],
                &[],
            ),
        ];
        for (name, query, want) in cases {
            let (got, _) = page::<Pod>(&state, query).await;
            assert_eq!(got, want, "case {name}");
        }
        let (first, token) = page::<Pod>(
            &state,
            &[("fieldSelector", "spec.nodeName=n1"), ("limit", "3")],
        )
        .await;
        let token = token.expect("token");
        let (rest, end) = page::<Pod>(
            &state,
            &[
                ("fieldSelector", "spec.nodeName=n1"),
                ("limit", "3"),
                ("continue", &token),
            ],
        )
        .await;
        assert_eq!((first.len(), rest, end), (3, vec!["p1-3".to_owned()], None));
    }
}
