//! DrainNode: one resumable drain step, judged against the operation's deadline.

use super::document::{DrainPart, ExecutionDocument};
use super::{drain_status, renew, Deps};
use crate::error::Result;
use crate::seams::DrainMode;
use chrono::{DateTime, Utc};

/// Renews the lease, takes one drain step on `$.operation.node_name` and reports `drained`,
/// `in_progress` (deadline ahead), or past `$.operation.deadline` `blocked_deadline` (a
/// disruption budget or never-evict annotation kept pods) or `deadline_passed`. A node drained
/// at or after the deadline is `drained`: the work is done.
/// Errors: `LeaseLost`, `InvalidInput`, the cluster's `Transient`.
pub async fn run(doc: &ExecutionDocument, deps: &Deps, now: DateTime<Utc>) -> Result<DrainPart> {
    let op = doc.require_operation()?;
    let node = doc.require_node_name()?;
    renew(doc, deps, now).await?;
    let progress = deps.cluster.drain_step(node, DrainMode::Voluntary).await?;
    Ok(DrainPart {
        status: drain_status(&progress, op.deadline, now),
        remaining: progress.remaining,
        blocked: progress.blocked,
        evicted: progress.evicted,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::steps::document::DrainStatus;
    use crate::steps::testkit::*;

    #[tokio::test]
    async fn drain_paths() {
        let cases: Vec<(&str, crate::seams::DrainProgress, i64, DrainStatus)> = vec![
            ("drained", progress(&[], &[]), 20, DrainStatus::Drained),
            (
                "pods terminating, deadline ahead",
                progress(&["shop/web-1"], &[]),
                20,
                DrainStatus::InProgress,
            ),
            (
                "pdb blocks, deadline ahead",
                progress(&["db/pg-0"], &["db/pg-0"]),
                20,
                DrainStatus::InProgress,
            ),
            (
                "pdb blocks at the deadline",
                progress(&["db/pg-0"], &["db/pg-0"]),
                300,
                DrainStatus::BlockedDeadline,
            ),
            (
                "too slow past the deadline",
                progress(&["shop/slow-0"], &[]),
                301,
                DrainStatus::DeadlinePassed,
            ),
            (
                "drained just after the deadline",
                progress(&[], &[]),
                305,
                DrainStatus::Drained,
            ),
        ];
        for (name, p, now, want) in cases {
            let w = World::new();
            w.k8s.drain_script.lock().unwrap().push_back(p.clone());
            let mut doc = w.doc_with_lease(t0()).await;
            doc.operation = Some(scale_down_op("w1", "i-1", at(300)));
            let got = run(&doc, &w.deps, at(now)).await.unwrap();
            assert_eq!(got.status, want, "case {name}");
            assert_eq!(got.remaining, p.remaining, "case {name}");
            assert_eq!(got.blocked, p.blocked, "case {name}");
            assert_eq!(w.k8s.calls(), vec!["drain w1"], "case {name}");
        }
    }

    #[tokio::test]
    async fn lease_lost_takes_no_step() {
        let w = World::new();
        let mut doc = w.doc_with_lease(t0()).await;
        doc.operation = Some(scale_down_op("w1", "i-1", at(300)));
        w.steal_lease().await;
        let e = run(&doc, &w.deps, at(10)).await.unwrap_err();
        assert_eq!(e.kind(), "LeaseLost");
        assert!(w.k8s.calls().is_empty());
    }
}
