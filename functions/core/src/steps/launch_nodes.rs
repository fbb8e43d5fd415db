//! LaunchNodes: launch the workers of a scale-up and start its join deadline.

use super::document::{ExecutionDocument, OperationPart};
use super::{renew, send_all, Deps};
use crate::error::{Error, Result};
use crate::lifecycle;
use crate::model::{Operation, OperationKind};
use crate::notify::{Notification, NotificationKind};
use crate::seams::LaunchRequest;
use chrono::{DateTime, Utc};

/// Renews the lease, makes sure `$.decision.count` workers exist for the operation (the
/// provisioner launches only what is missing, so a retry launches nothing twice), records the
/// instance ids and the join deadline (`now + JOIN_TIMEOUT`) in the state table, tells people the
/// scale-up started (best effort: a failed notification is logged, never raised) and returns
/// the operation as `$.operation`.
///
/// Errors: `LeaseLost` (nothing launched), `QuotaExceeded`, `NoCapacity` (Fatal), `Transient`,
/// `InvalidInput` when the operation is not a scale-up.
pub async fn run(
    doc: &ExecutionDocument,
    deps: &Deps,
    now: DateTime<Utc>,
) -> Result<OperationPart> {
    let op = doc.require_operation()?;
    if op.kind != OperationKind::ScaleUp {
        return Err(Error::invalid_input(
            "launching workers",
            format!("operation {} is a {:?}, not a scale-up", op.id, op.kind),
        ));
    }
    let count = doc
        .decision
        .as_ref()
        .map(|d| d.count)
        .filter(|c| *c > 0)
        .unwrap_or(op.requested_count);
    let lease = renew(doc, deps, now).await?;
    let instances = deps
        .provisioner
        .launch(&LaunchRequest {
            count,
            operation_id: op.id.clone(),
            avoid: vec![],
        })
        .await?;
    let mut launched = op.clone();
    launched.instance_ids = instances.iter().map(|i| i.instance_id.clone()).collect();
    launched.instance_ids.sort();
    launched.requested_count = count;
    launched.deadline = lifecycle::deadline(OperationKind::ScaleUp, &deps.config, now);
    deps.store
        .save_operation(&lease, &Operation::from(launched.clone()))
        .await?;

    let before = doc.nodes_before();
    let types: Vec<&str> = instances.iter().map(|i| i.instance_type.as_str()).collect();
    let n = Notification {
        kind: NotificationKind::ScaleUpStarted,
        cluster_id: doc.cluster_id.clone(),
        reason: reason_of(doc, &launched),
        action: format!(
            "Adding {count} node(s) ({}): {}",
            dedup_join(&types),
            launched.instance_ids.join(", ")
        ),
        nodes_before: Some(before),
        nodes_after: Some(before + count),
        recommendation: None,
        recovered: false,
        time: now,
        execution_arn: Some(doc.execution_id.clone()),
    };
    send_all(deps, &n).await;
    Ok(launched)
}

pub(crate) fn reason_of(doc: &ExecutionDocument, op: &OperationPart) -> String {
    match &doc.decision {
        Some(d) if !d.reasons.is_empty() => d.reasons.join("; "),
        _ => op.reason.clone(),
    }
}

fn dedup_join(items: &[&str]) -> String {
    let mut v: Vec<&str> = items.to_vec();
    v.sort_unstable();
    v.dedup();
    v.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::NotificationKind;
    use crate::steps::document::{Action, DecisionPart};
    use crate::steps::testkit::*;

    fn decision(count: u32) -> DecisionPart {
        DecisionPart {
            action: Action::ScaleUp,
            count,
            node: None,
            instance_id: None,
            reasons: vec!["2 pod(s) Pending for over 3m".into()],
            codes: vec!["pending_pods".into()],
            alert: None,
        }
    }

    #[allow(clippy::type_complexity)] // the case table's row type
    #[tokio::test]
    async fn launch_paths() {
        // (name, count, launch error, stolen lease, want launched ids or error kind)
        let cases: Vec<(
            &str,
            u32,
            Option<Error>,
            bool,
            std::result::Result<usize, &str>,
        )> = vec![
            ("launches two", 2, None, false, Ok(2)),
            (
                "quota",
                2,
                Some(Error::QuotaExceeded {
                    context: "launch".into(),
                    detail: "VcpuLimitExceeded".into(),
                }),
                false,
                Err("QuotaExceeded"),
            ),
            (
                "no capacity",
                1,
                Some(Error::NoCapacity {
                    context: "launch".into(),
                    detail: "all types".into(),
                }),
                false,
                Err("Fatal"),
            ),
            (
                "throttled",
                1,
                Some(Error::transient("launch", "RequestLimitExceeded")),
                false,
                Err("Retryable"),
            ),
            (
                "lease lost launches nothing",
                2,
                None,
                true,
                Err("LeaseLost"),
            ),
        ];
        for (name, count, err, stolen, want) in cases {
            let w = World::new();
            *w.ec2.next_launch_error.lock().unwrap() = err;
            let mut doc = w.doc_with_lease(t0()).await;
            doc.decision = Some(decision(count));
            doc.operation = Some(scale_up_op("c1-op-1", &[], at(300)));
            doc.metrics = Some(summary(2));
            if stolen {
                w.steal_lease().await;
            }
            match (run(&doc, &w.deps, at(5)).await, want) {
                (Ok(op), Ok(n)) => {
                    assert_eq!(op.instance_ids.len(), n, "case {name}");
                    assert_eq!(op.deadline, at(5 + 300), "case {name}");
                    let stored = w.store.snapshot().operation.unwrap();
                    assert_eq!(stored.instance_ids, op.instance_ids, "case {name}");
                    let sent = w.slack.sent();
                    assert_eq!(sent.len(), 1, "case {name}");
                    assert_eq!(
                        sent[0].kind,
                        NotificationKind::ScaleUpStarted,
                        "case {name}"
                    );
                    assert_eq!(
                        (sent[0].nodes_before, sent[0].nodes_after),
                        (Some(2), Some(4)),
                        "case {name}"
                    );
                }
                (Err(e), Err(kind)) => {
                    assert_eq!(e.kind(), kind, "case {name}");
                    assert!(w.slack.sent().is_empty(), "case {name}");
                }
                (got, want) => panic!("case {name}: got {got:?}, want {want:?}"),
            }
            let calls = w.ec2.launch_calls.lock().unwrap().len();
            assert_eq!(calls, usize::from(!stolen), "case {name}: launch calls");
        }
    }

    #[tokio::test]
    async fn a_retry_launches_nothing_twice_and_a_failing_notifier_does_not_fail() {
        let mut w = World::new();
        w.deps.notifiers = vec![RecordingNotifier::new("slack", true)];
        let mut doc = w.doc_with_lease(t0()).await;
        doc.decision = Some(decision(2));
        doc.operation = Some(scale_up_op("c1-op-1", &[], at(300)));
        let first = run(&doc, &w.deps, at(5)).await.unwrap();
        let second = run(&doc, &w.deps, at(9)).await.unwrap();
        assert_eq!(first.instance_ids, second.instance_ids);
        assert_eq!(
            w.ec2.live_ids().len(),
            4,
            "two workers plus two launched once"
        );
        assert_eq!(
            w.ec2.launch_calls.lock().unwrap()[1].operation_id,
            "c1-op-1"
        );
    }
}
