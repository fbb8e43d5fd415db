//! Cleanup: the error path. Release the lease if this execution holds one, leave the operation
//! for the next tick to recover, and alert.

use super::document::{CleanupPart, ExecutionDocument};
use super::{send_all, Deps};
use crate::error::{Error, Result};
use crate::notify::{Notification, NotificationKind};
use chrono::{DateTime, Utc};

/// What a person should do about an error, by its name.
pub fn recommendation(error_name: &str) -> &'static str {
    match error_name {
        "QuotaExceeded" => "Request an EC2 quota increase or enable Spot instances",
        "LeaseLost" => "Another execution took over the lease; check for slow steps (the lease TTL is LOCK_TTL)",
        "Retryable" => "A dependency kept failing after retries (Prometheus, Kubernetes, EC2 or DynamoDB); check its health",
        "States.Timeout" => "A step timed out; check its logs",
        "UnexpectedResult" => "A step returned a status the state machine does not route: a bug, report it",
        _ => "See the failed state in the Step Functions console and the step's logs",
    }
}

/// Releases the lease when the document has one (a lease that is no longer ours, or none, is
/// noted, not an error), leaves any operation in the state table for the next tick's recovery
/// (the operation's deadline then decides finish or undo), and sends a scaling-failure alert with
/// the caught error. Never returns an error: what could not be done is in the part.
pub async fn run(doc: &ExecutionDocument, deps: &Deps, now: DateTime<Utc>) -> Result<CleanupPart> {
    let (released, release_note) = match &doc.lease {
        None => (false, Some("no lease in the document".to_string())),
        Some(lease) => match deps.store.release(lease).await {
            Ok(()) => (true, None),
            Err(Error::LeaseLost { .. }) => (
                false,
                Some("the lease was no longer ours; left untouched".to_string()),
            ),
            Err(e) => {
                tracing::warn!(error = %e, "cleanup could not release the lease; it expires after its TTL");
                (false, Some(format!("release failed: {e}")))
            }
        },
    };
    let error = doc.error.clone().unwrap_or_default();
    let error_name = if error.error.is_empty() {
        "Unknown".to_string()
    } else {
        error.error.clone()
    };
    let operation = doc.operation.as_ref().map(|o| o.id.clone());
    let action = match (&operation, &doc.instance_id) {
        (Some(id), _) => {
            format!("Execution stopped; operation {id} is left for the next tick to finish or undo")
        }
        (None, Some(instance)) => {
            format!("Spot handling of {instance} stopped; check its node and replacement")
        }
        (None, None) => "Execution stopped; nothing was changed".to_string(),
    };
    let before = doc.metrics.as_ref().map(|m| m.nodes);
    let n = Notification {
        kind: NotificationKind::ScalingFailure,
        cluster_id: doc.cluster_id.clone(),
        reason: format!("{error_name}: {}", error.message()),
        action,
        nodes_before: before,
        nodes_after: before,
        recommendation: Some(recommendation(&error_name).to_string()),
        recovered: doc.is_recovery(),
        time: now,
        execution_arn: Some(doc.execution_id.clone()),
    };
    let notified = send_all(deps, &n).await;
    Ok(CleanupPart {
        released,
        release_note,
        alerted: notified.values().any(|v| v == "sent"),
        notified,
        operation_left_for_recovery: operation,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::steps::document::CaughtError;
    use crate::steps::testkit::*;

    fn lambda_error(name: &str, msg: &str) -> Option<CaughtError> {
        Some(CaughtError {
            error: name.into(),
            cause: serde_json::json!({"errorType": name, "errorMessage": msg}).to_string(),
        })
    }

    #[tokio::test]
    async fn cleanup_paths() {
        // (name, has lease, stolen, error, has op, want released, reason starts, recommendation has)
        type Case = (
            &'static str,
            bool,
            bool,
            Option<CaughtError>,
            bool,
            bool,
            &'static str,
            &'static str,
        );
        let cases: Vec<Case> = vec![
            (
                "quota after launch",
                true,
                false,
                lambda_error("QuotaExceeded", "launch: quota exceeded: VcpuLimitExceeded"),
                true,
                true,
                "QuotaExceeded: launch: quota exceeded",
                "quota increase",
            ),
            (
                "no lease (AcquireLock failed)",
                false,
                false,
                lambda_error("Retryable", "dynamodb: throttled"),
                false,
                false,
                "Retryable: dynamodb",
                "dependency",
            ),
            (
                "lease taken over",
                true,
                true,
                lambda_error("LeaseLost", "renew"),
                true,
                false,
                "LeaseLost: renew",
                "took over",
            ),
            (
                "unexpected result",
                true,
                false,
                Some(CaughtError {
                    error: "UnexpectedResult".into(),
                    cause: "a step returned a status".into(),
                }),
                false,
                true,
                "UnexpectedResult: a step returned",
                "bug",
            ),
            (
                "no error at all",
                true,
                false,
                None,
                false,
                true,
                "Unknown: ",
                "console",
            ),
        ];
        for (name, with_lease, stolen, error, with_op, released, reason, rec) in cases {
            let w = World::new();
            let mut doc = w.doc_with_lease(t0()).await;
            if !with_lease {
                doc.lease = None;
            }
            if with_op {
                doc.operation = Some(scale_up_op("c1-op-1", &["i-a"], at(300)));
            }
            doc.error = error;
            if stolen {
                w.steal_lease().await;
            }
            let got = run(&doc, &w.deps, at(30)).await.unwrap();
            assert_eq!(got.released, released, "case {name}");
            assert_eq!(got.release_note.is_none(), released, "case {name}");
            assert!(got.alerted, "case {name}");
            assert_eq!(
                got.operation_left_for_recovery.is_some(),
                with_op,
                "case {name}"
            );
            let sent = w.slack.sent();
            assert_eq!(
                sent[0].kind,
                NotificationKind::ScalingFailure,
                "case {name}"
            );
            assert!(
                sent[0].reason.starts_with(reason),
                "case {name}: {}",
                sent[0].reason
            );
            assert!(
                sent[0].recommendation.as_deref().unwrap().contains(rec),
                "case {name}"
            );
            if stolen {
                assert_eq!(
                    w.store.snapshot().lease.unwrap().owner,
                    "other",
                    "case {name}: other lease untouched"
                );
            }
        }
    }

    #[tokio::test]
    async fn a_failing_store_and_notifier_do_not_fail_cleanup() {
        let mut w = World::new();
        w.deps.notifiers = vec![RecordingNotifier::new("slack", true)];
        let doc = w.doc_with_lease(t0()).await;
        w.store
            .fail_next("release", Error::transient("release", "throttled"));
        let got = run(&doc, &w.deps, at(30)).await.unwrap();
        assert!(!got.released && !got.alerted);
        assert!(got.release_note.unwrap().starts_with("release failed"));
        assert!(got.notified["slack"].starts_with("failed: "));
    }
}
