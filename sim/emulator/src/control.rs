//! Control endpoints for tests and the demo (not part of the Kubernetes API):
//!
//! - `POST /control/traffic` `{"rps": 120, "cpuUtilisation": 0.8, "errorRatio": 0.01, "latencySecs": 0.2}`
//!   sets the load (every field optional);
//! - `POST /control/never-join` `{"instanceId": "i-0abc"}` keeps an instance's node from registering;
//! - `POST /control/node-ready` `{"node": "w1", "ready": false}` flips a node's Ready condition;
//! - `GET /control/state` summarises nodes and pods.

use super::seed::node_conditions;
use super::status::{json_response, ApiError};
use super::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::Utc;
use k8s_openapi::api::core::v1::Node;
use serde::Deserialize;
use serde_json::json;

/// Routes under `/control`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/control/traffic", post(traffic))
        .route("/control/never-join", post(never_join))
        .route("/control/node-ready", post(node_ready))
        .route("/control/state", get(state))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Traffic {
    rps: Option<f64>,
    cpu_utilisation: Option<f64>,
    error_ratio: Option<f64>,
    latency_secs: Option<f64>,
}

async fn traffic(State(s): State<AppState>, Json(t): Json<Traffic>) -> Result<Response, ApiError> {
    let bad = |v: Option<f64>, max: f64| v.is_some_and(|x| !(0.0..=max).contains(&x));
    if bad(t.rps, f64::MAX)
        || bad(t.cpu_utilisation, 1.0)
        || bad(t.error_ratio, 1.0)
        || bad(t.latency_secs, 3600.0)
    {
        return Err(ApiError::bad_request(
            "rps must be >= 0; cpuUtilisation and errorRatio within 0..1; latencySecs within 0..3600",
        ));
    }
    let mut load = s.load.lock().unwrap_or_else(|p| p.into_inner());
    load.rps = t.rps.unwrap_or(load.rps);
    if t.rps.is_some() && load.hpa.is_none() {
        load.hpa = Some(smartscale_workload::ReplicaController::new(&load.workload));
    }
    load.cpu_utilisation = t.cpu_utilisation.unwrap_or(load.cpu_utilisation);
    load.error_ratio = t.error_ratio.unwrap_or(load.error_ratio);
    load.latency_secs = t.latency_secs.unwrap_or(load.latency_secs);
    Ok(json_response(
        StatusCode::OK,
        &json!({"rps": load.rps, "cpuUtilisation": load.cpu_utilisation,
                "errorRatio": load.error_ratio, "latencySecs": load.latency_secs}),
    ))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct NeverJoin {
    instance_id: String,
}

async fn never_join(State(s): State<AppState>, Json(b): Json<NeverJoin>) -> Response {
    let mut store = s.store.lock().unwrap_or_else(|p| p.into_inner());
    store.never_join.insert(b.instance_id.clone());
    json_response(StatusCode::OK, &json!({"neverJoin": store.never_join}))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NodeReady {
    node: String,
    ready: bool,
}

async fn node_ready(
    State(s): State<AppState>,
    Json(b): Json<NodeReady>,
) -> Result<Response, ApiError> {
    let mut store = s.store.lock().unwrap_or_else(|p| p.into_inner());
    let now = Utc::now();
    let found = store.modify::<Node>(&(String::new(), b.node.clone()), |n| {
        n.status.get_or_insert_with(Default::default).conditions =
            Some(node_conditions(b.ready, now));
    });
    if !found {
        return Err(ApiError::not_found("nodes", &b.node));
    }
    super::tick_locked(&mut store, now);
    Ok(json_response(
        StatusCode::OK,
        &json!({"node": b.node, "ready": b.ready}),
    ))
}

async fn state(State(s): State<AppState>) -> Response {
    let store = s.store.lock().unwrap_or_else(|p| p.into_inner());
    let nodes: Vec<_> = store
        .nodes
        .values()
        .map(|n| {
            json!({
                "name": n.metadata.name,
                "ready": super::kubelet::node_ready(n),
                "unschedulable": n.spec.as_ref().and_then(|s| s.unschedulable).unwrap_or(false),
                "providerID": n.spec.as_ref().and_then(|s| s.provider_id.clone()),
            })
        })
        .collect();
    let pods: Vec<_> = store
        .pods
        .values()
        .map(|p| {
            json!({
                "namespace": p.metadata.namespace, "name": p.metadata.name,
                "node": p.spec.as_ref().and_then(|s| s.node_name.clone()),
                "phase": p.status.as_ref().and_then(|s| s.phase.clone()),
                "terminating": p.metadata.deletion_timestamp.is_some(),
            })
        })
        .collect();
    json_response(StatusCode::OK, &json!({"nodes": nodes, "pods": pods}))
}
