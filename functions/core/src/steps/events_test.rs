//! Every sample in `events/` is a valid execution document that carries what its function reads.

use super::document::ExecutionDocument;
use crate::model::{Operation, OperationKind};
use chrono::TimeZone;
use std::path::PathBuf;

const KNOWN_KEYS: &[&str] = &[
    "cluster_id",
    "execution_id",
    "lease",
    "skipped",
    "evaluation",
    "decision",
    "operation",
    "metrics",
    "ready",
    "cordoned",
    "drain",
    "outcome",
    "recorded",
    "notified",
    "notify_error",
    "released",
    "error",
    "cleanup",
    "cleanup_error",
    "instance_id",
    "signal",
    "event",
    "spot",
    "notices",
];

fn has_node(op: &Option<Operation>) -> bool {
    op.as_ref()
        .is_some_and(|o| o.node_name.is_some() && o.kind == OperationKind::ScaleDown)
}

#[test]
fn every_sample_event_fits_its_function() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../events");
    let mut seen = 0;
    let mut functions = std::collections::BTreeSet::new();
    for entry in std::fs::read_dir(&dir).expect("events/ exists") {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let function = name.split('.').next().unwrap().to_string();
        let raw: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        for key in raw.as_object().unwrap().keys() {
            assert!(
                KNOWN_KEYS.contains(&key.as_str()),
                "{name}: unknown key {key}"
            );
        }
        let doc = ExecutionDocument::from_value(raw)
            .unwrap_or_else(|e| panic!("{name}: not a document: {e}"));
        let again: ExecutionDocument =
            serde_json::from_value(serde_json::to_value(&doc).unwrap()).unwrap();
        assert_eq!(again, doc, "{name}: round trip");
        // The weekly report is started by its schedule, not by a state machine: its id is the
        // Scheduler's execution id.
        if function != "weekly-report" {
            assert!(doc.execution_id.starts_with("arn:aws:states:"), "{name}");
        }
        let ok = match function.as_str() {
            "acquire-lock" => doc.lease.is_none(),
            "evaluate" | "release-lock" => doc.lease.is_some(),
            "launch-nodes" => {
                doc.lease.is_some()
                    && doc.decision.is_some()
                    && doc
                        .operation
                        .as_ref()
                        .is_some_and(|o| o.kind == OperationKind::ScaleUp)
            }
            "check-nodes-ready" => doc.lease.is_some() && doc.operation.is_some(),
            "handle-join-failure" => doc.lease.is_some() && doc.ready.is_some(),
            "cordon-node" | "drain-node" | "abort-drain" | "terminate-node" => {
                doc.lease.is_some() && has_node(&doc.operation)
            }
            "record-outcome" => doc.lease.is_some() && super::record_outcome::ending(&doc).is_ok(),
            "notify" => {
                let now = chrono::Utc
                    .with_ymd_and_hms(2026, 11, 23, 20, 6, 0)
                    .unwrap();
                super::notify::notification_for(&doc, now).is_some() || !doc.notices.is_empty()
            }
            "cleanup" => doc.error.is_some(),
            "spot-interruption" => doc.instance_id.is_some() && doc.event.is_some(),
            "launch-replacement" => {
                doc.lease.is_some() && doc.spot.is_some() && doc.instance_id.is_some()
            }
            "retire-node" => doc.lease.is_some() && doc.spot.is_some() && doc.operation.is_some(),
            // The schedule's input: the cluster and the schedule's execution id, nothing else.
            "weekly-report" => doc.lease.is_none() && doc.operation.is_none(),
            other => panic!("{name}: no function {other}"),
        };
        assert!(ok, "{name}: lacks what {function} reads");
        functions.insert(function);
        seen += 1;
    }
    assert!(seen >= 14, "only {seen} samples");
    // The at-maximum sample is what RouteDecision sends to Notify: a `none` with the alert.
    let raw: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("notify.at-maximum.json")).unwrap())
            .unwrap();
    let doc = ExecutionDocument::from_value(raw).unwrap();
    let now = chrono::Utc
        .with_ymd_and_hms(2026, 11, 23, 20, 1, 0)
        .unwrap();
    let n = super::notify::notification_for(&doc, now).expect("a notification");
    assert_eq!(n.kind, crate::notify::NotificationKind::AtMaximumCapacity);
    assert_eq!((n.nodes_before, n.nodes_after), (Some(10), Some(10)));
    assert_eq!(
        functions.len(),
        17,
        "one sample per function at least: {functions:?}"
    );
}
