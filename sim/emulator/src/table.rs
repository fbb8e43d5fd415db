//! `meta.k8s.io/v1` Table output, the server-side printing `kubectl get` asks for: the same
//! columns the API server prints for nodes and pods, NAME and AGE for the other kinds.

use super::store::Stored;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

/// The column definitions: `shown` at priority 0, then `wide` at priority 1 (what `-o wide`
/// adds). `Restarts` is the one integer column and `Name` the one with the `name` format.
fn columns(shown: &[&str], wide: &[&str]) -> Vec<Value> {
    let shown = shown.iter().map(|name| (*name, 0));
    let wide = wide.iter().map(|name| (*name, 1));
    shown
        .chain(wide)
        .map(|(name, priority)| {
            let kind = if name == "Restarts" { "integer" } else { "string" };
            let format = if name == "Name" { "name" } else { "" };
            json!({"name": name, "type": kind, "format": format, "description": "", "priority": priority})
        })
        .collect()
}

/// Short human durations as kubectl prints them: `45s`, `5m`, `3h`, `2d`.
pub fn age(created: &Value, now: DateTime<Utc>) -> String {
    let Some(t) = created
        .as_str()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
    else {
        return "<unknown>".into();
    };
    let secs = (now - t.with_timezone(&Utc)).num_seconds().max(0);
    match secs {
        s if s < 120 => format!("{s}s"),
        s if s < 3 * 3600 => format!("{}m", s / 60),
        s if s < 2 * 86400 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86400),
    }
}

fn node_cells(n: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let ready = n["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|c| c["type"] == "Ready" && c["status"] == "True");
    let mut status = if ready { "Ready" } else { "NotReady" }.to_owned();
    if n["spec"]["unschedulable"] == true {
        status.push_str(",SchedulingDisabled");
    }
    let roles: Vec<&str> = n["metadata"]["labels"]
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(k, _)| k.strip_prefix("node-role.kubernetes.io/"))
        .collect();
    let roles = if roles.is_empty() {
        "<none>".to_owned()
    } else {
        roles.join(",")
    };
    vec![
        n["metadata"]["name"].clone(),
        json!(status),
        json!(roles),
        json!(age(&n["metadata"]["creationTimestamp"], now)),
        n["status"]["nodeInfo"]["kubeletVersion"].clone(),
        n["status"]["addresses"][0]["address"].clone(),
    ]
}

fn pod_cells(p: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let containers = p["spec"]["containers"].as_array().map_or(0, Vec::len);
    let ready = p["status"]["containerStatuses"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| c["ready"] == true)
        .count();
    let status = if p["metadata"]["deletionTimestamp"].is_string() {
        json!("Terminating")
    } else {
        p["status"]["phase"].clone()
    };
    vec![
        p["metadata"]["name"].clone(),
        json!(format!("{ready}/{containers}")),
        status,
        json!(0),
        json!(age(&p["metadata"]["creationTimestamp"], now)),
        p["status"]["podIP"].clone(),
        p["spec"]["nodeName"].clone(),
    ]
}

/// How one row's cells are computed from an object.
type Cells = fn(&Value, DateTime<Utc>) -> Vec<Value>;

/// Renders `items` (objects of kind `T`) as a Table.
pub fn render<T: Stored>(items: &[Value], revision: &str, now: DateTime<Utc>) -> Value {
    let (columns, cells): (Vec<Value>, Cells) = match T::KIND {
        "Node" => (
            columns(
                &["Name", "Status", "Roles", "Age", "Version"],
                &["Internal-IP"],
            ),
            node_cells,
        ),
        "Pod" => (
            columns(
                &["Name", "Ready", "Status", "Restarts", "Age"],
                &["IP", "Node"],
            ),
            pod_cells,
        ),
        _ => (columns(&["Name", "Age"], &[]), |o, now| {
            vec![
                o["metadata"]["name"].clone(),
                json!(age(&o["metadata"]["creationTimestamp"], now)),
            ]
        }),
    };
    let rows: Vec<Value> = items
        .iter()
        .map(|o| {
            json!({
                "cells": cells(o, now),
                "object": {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                           "metadata": o["metadata"]},
            })
        })
        .collect();
    json!({"kind": "Table", "apiVersion": "meta.k8s.io/v1",
           "metadata": {"resourceVersion": revision},
           "columnDefinitions": columns, "rows": rows})
}
