//! RecordOutcome: write what the operation achieved to the state table and clear it.

use super::document::{ExecutionDocument, ReadyStatus, RecordedPart};
use super::{renew, Deps};
use crate::error::{Error, Result};
use crate::lifecycle::{self, Ending, Finish};
use chrono::{DateTime, Utc};

/// How the document says the operation ended: its `outcome`, or a `ready` with status `ready`.
/// Errors: `InvalidInput` when the document has neither.
pub fn ending(doc: &ExecutionDocument) -> Result<Ending> {
    if let Some(o) = &doc.outcome {
        return Ok(Ending::Outcome {
            result: o.result,
            nodes_before: o.nodes_before,
            nodes_after: o.nodes_after,
        });
    }
    match &doc.ready {
        Some(r) if r.status == ReadyStatus::Ready => Ok(Ending::AllJoined {
            joined: r.ready.len() as u32,
            recovery: doc.is_recovery(),
        }),
        _ => Err(Error::invalid_input(
            "recording the outcome",
            "the document has no `outcome` and no `ready` with status `ready`",
        )),
    }
}

/// What finishing the document's operation at `now` records, by [`lifecycle::finish`]: the
/// action is `None` when nothing changed (drain aborted, no worker joined, nothing launched), so
/// no cooldown starts for an undone operation.
/// Errors: `InvalidInput` when the document has neither `outcome` nor a `ready` status `ready`.
///
/// In the spot machine (`$.spot` present) it is [`lifecycle::finish_spot`]: no action, the
/// workers at the signal plus the replacements that joined, less the signalled worker unless a
/// refused drain kept it. A `spot_replace` operation a periodic run recovers records no action
/// either.
pub fn achieved(doc: &ExecutionDocument, now: DateTime<Utc>) -> Result<Finish> {
    let reason = doc
        .operation
        .as_ref()
        .map(|o| super::launch_nodes::reason_of(doc, o))
        .unwrap_or_default();
    if let Some(spot) = &doc.spot {
        let joined = doc.ready.as_ref().map_or(0, |r| r.ready.len() as u32);
        let kept = doc
            .outcome
            .as_ref()
            .is_some_and(|o| o.result == crate::lifecycle::OutcomeResult::DrainAborted)
            || (spot.signal == super::document::SpotSignalKind::Rebalance
                && doc
                    .operation
                    .as_ref()
                    .is_some_and(|o| o.kind == crate::model::OperationKind::SpotReplace));
        return Ok(lifecycle::finish_spot(
            spot.workers_before,
            joined,
            kept,
            reason,
            now,
        ));
    }
    let mut finish = lifecycle::finish(ending(doc)?, doc.nodes_before(), reason, now);
    if doc
        .operation
        .as_ref()
        .is_some_and(|o| o.kind == crate::model::OperationKind::SpotReplace)
    {
        finish.action = None;
    }
    Ok(finish)
}

/// Renews the lease, clears the operation and records the action, the time, the reason and the
/// node count (conditional on the lease). Idempotent: a retry writes the same values.
/// Errors: `LeaseLost`, `InvalidInput`, the store's `Transient`.
pub async fn run(doc: &ExecutionDocument, deps: &Deps, now: DateTime<Utc>) -> Result<RecordedPart> {
    let finish = achieved(doc, now)?;
    let lease = renew(doc, deps, now).await?;
    deps.store.finish_operation(&lease, &finish).await?;
    Ok(RecordedPart {
        action: finish.action,
        node_count: finish.node_count,
        reason: finish.reason,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ScaleAction;
    use crate::steps::document::*;
    use crate::steps::testkit::*;

    fn outcome(result: OutcomeResult, before: u32, after: u32) -> Option<OutcomePart> {
        Some(OutcomePart {
            result,
            terminated: vec![],
            uncordoned: None,
            nodes_before: before,
            nodes_after: after,
        })
    }

    fn ready(ids: &[&str]) -> Option<ReadyPart> {
        Some(ReadyPart {
            status: ReadyStatus::Ready,
            ready: ids.iter().map(|s| s.to_string()).collect(),
            not_ready: vec![],
        })
    }

    #[tokio::test]
    async fn record_paths() {
        // (name, outcome, ready, recovery, want action, node count)
        type Case = (
            &'static str,
            Option<OutcomePart>,
            Option<ReadyPart>,
            bool,
            Option<ScaleAction>,
            u32,
        );
        let cases: Vec<Case> = vec![
            (
                "scale-up joined",
                None,
                ready(&["i-a", "i-b"]),
                false,
                Some(ScaleAction::ScaleUp),
                4,
            ),
            (
                "recovered scale-up joined",
                None,
                ready(&["i-a"]),
                true,
                Some(ScaleAction::ScaleUp),
                2,
            ),
            (
                "recovery, nothing launched",
                None,
                ready(&[]),
                true,
                None,
                2,
            ),
            (
                "scaled down",
                outcome(OutcomeResult::ScaledDown, 2, 1),
                None,
                false,
                Some(ScaleAction::ScaleDown),
                1,
            ),
            (
                "join failed, one joined",
                outcome(OutcomeResult::JoinFailed, 2, 3),
                None,
                false,
                Some(ScaleAction::ScaleUp),
                3,
            ),
            (
                "join failed, none joined",
                outcome(OutcomeResult::JoinFailed, 2, 2),
                None,
                false,
                None,
                2,
            ),
            (
                "drain aborted",
                outcome(OutcomeResult::DrainAborted, 2, 2),
                None,
                false,
                None,
                2,
            ),
        ];
        for (name, out, rdy, recovery, action, count) in cases {
            let w = World::new();
            let mut doc = w.doc_with_lease(t0()).await;
            doc.operation = Some(scale_up_op("op", &[], at(300)));
            w.store.state.lock().unwrap().operation = doc.operation.clone();
            doc.metrics = Some(summary(2));
            doc.outcome = out;
            doc.ready = rdy;
            doc.decision = Some(DecisionPart {
                action: if recovery {
                    Action::Recover
                } else {
                    Action::ScaleUp
                },
                count: 1,
                node: None,
                instance_id: None,
                reasons: vec!["because".into()],
                codes: vec![],
                alert: None,
                launch: None,
            });
            let got = run(&doc, &w.deps, at(100)).await.unwrap();
            assert_eq!((got.action, got.node_count), (action, count), "case {name}");
            let s = w.store.snapshot();
            assert!(s.operation.is_none(), "case {name}: operation cleared");
            assert_eq!(s.node_count, Some(count), "case {name}");
            assert_eq!(s.last_scale_action, action, "case {name}");
            assert_eq!(s.last_scale_time, action.map(|_| at(100)), "case {name}");
        }
    }

    #[tokio::test]
    async fn lease_lost_writes_nothing() {
        let w = World::new();
        let mut doc = w.doc_with_lease(t0()).await;
        doc.ready = ready(&["i-a"]);
        w.steal_lease().await;
        assert_eq!(
            run(&doc, &w.deps, at(10)).await.unwrap_err().kind(),
            "LeaseLost"
        );
        assert!(w.store.finished.lock().unwrap().is_empty());
        let mut empty = doc.clone();
        empty.ready = None;
        assert_eq!(
            run(&empty, &w.deps, at(10)).await.unwrap_err().kind(),
            "Fatal"
        );
    }
}
