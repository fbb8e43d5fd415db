//! RecordOutcome: write what the operation achieved to the state table and clear it.

use super::document::{ExecutionDocument, ReadyStatus, RecordedPart, SpotSignalKind};
use super::{renew, Deps};
use crate::error::{Error, Result};
use crate::lifecycle::{self, Ending, Finish};
use crate::model::{OperationKind, ScaleAction};
use crate::notify::weekly::{ledger_week, WeekEvent};
use crate::seams::LedgerEntry;
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

/// What the weekly ledger counts for this ending (`docs/WEEKLY_REPORT.md`): in the spot machine
/// the signal under the instance id and each replacement that joined; otherwise the operation's
/// scale-up or scale-down, or a failure when it was undone (a Spot replacement a periodic run
/// recovers counts nothing).
pub fn week_entries(
    doc: &ExecutionDocument,
    finish: &Finish,
    now: DateTime<Utc>,
) -> Vec<LedgerEntry> {
    let entry = |kind, id: &str| LedgerEntry {
        kind,
        id: id.to_string(),
        at: now,
    };
    if let Some(spot) = &doc.spot {
        let kind = match spot.signal {
            SpotSignalKind::Warning => WeekEvent::SpotWarning,
            SpotSignalKind::Rebalance => WeekEvent::SpotRebalance,
        };
        let joined = doc.ready.iter().flat_map(|r| &r.ready);
        return doc
            .instance_id
            .iter()
            .map(|id| entry(kind, id))
            .chain(joined.map(|id| entry(WeekEvent::SpotReplacement, id)))
            .collect();
    }
    let Some(op) = &doc.operation else {
        return Vec::new();
    };
    let kind = match finish.action {
        Some(ScaleAction::ScaleUp) => WeekEvent::ScaleUp,
        Some(ScaleAction::ScaleDown) => WeekEvent::ScaleDown,
        None if op.kind == OperationKind::SpotReplace => return Vec::new(),
        None => WeekEvent::ScaleFailure,
    };
    vec![entry(kind, &op.id)]
}

/// Renews the lease, clears the operation and records the action, the time, the reason and the
/// node count (conditional on the lease), then counts the ending in the weekly ledger
/// ([`week_entries`]). Idempotent: a retry writes the same values and counts nothing twice.
/// Errors: `LeaseLost`, `InvalidInput`, the store's `Transient`.
pub async fn run(doc: &ExecutionDocument, deps: &Deps, now: DateTime<Utc>) -> Result<RecordedPart> {
    let finish = achieved(doc, now)?;
    let lease = renew(doc, deps, now).await?;
    deps.store.finish_operation(&lease, &finish).await?;
    let entries = week_entries(doc, &finish, now);
    if !entries.is_empty() {
        let week = ledger_week(now, deps.config.policy.cluster_utc_offset_secs);
        deps.store.record_week_events(week, &entries).await?;
    }
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
        // (name, outcome, ready, recovery, want action, node count, weekly ledger entry)
        type Case = (
            &'static str,
            Option<OutcomePart>,
            Option<ReadyPart>,
            bool,
            Option<ScaleAction>,
            u32,
            &'static str,
        );
        let cases: Vec<Case> = vec![
            (
                "scale-up joined",
                None,
                ready(&["i-a", "i-b"]),
                false,
                Some(ScaleAction::ScaleUp),
                4,
                "scale_up#op",
            ),
            (
                "recovered scale-up joined",
                None,
                ready(&["i-a"]),
                true,
                Some(ScaleAction::ScaleUp),
                2,
                "scale_up#op",
            ),
            (
                "recovery, nothing launched",
                None,
                ready(&[]),
                true,
                None,
                2,
                "scale_failure#op",
            ),
            (
                "scaled down",
                outcome(OutcomeResult::ScaledDown, 2, 1),
                None,
                false,
                Some(ScaleAction::ScaleDown),
                1,
                "scale_down#op",
            ),
            (
                "join failed, one joined",
                outcome(OutcomeResult::JoinFailed, 2, 3),
                None,
                false,
                Some(ScaleAction::ScaleUp),
                3,
                "scale_up#op",
            ),
            (
                "join failed, none joined",
                outcome(OutcomeResult::JoinFailed, 2, 2),
                None,
                false,
                None,
                2,
                "scale_failure#op",
            ),
            (
                "drain aborted",
                outcome(OutcomeResult::DrainAborted, 2, 2),
                None,
                false,
                None,
                2,
                "scale_failure#op",
            ),
        ];
        for (name, out, rdy, recovery, action, count, entry) in cases {
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
            let week = chrono::NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
            assert_eq!(
                w.store.ledger_names(),
                vec![(week, entry.to_string())],
                "case {name}"
            );
            // A retry counts nothing twice.
            w.store.state.lock().unwrap().operation = doc.operation.clone();
            run(&doc, &w.deps, at(130)).await.unwrap();
            assert_eq!(w.store.ledger_names().len(), 1, "case {name}: retried");
        }
    }

    fn spot_part() -> SpotPart {
        drained_spot(SpotSignalKind::Warning, "w9", None, 3)
    }

    #[test]
    fn spot_endings_count_the_signal_and_the_joined_replacements() {
        type Case = (
            &'static str,
            SpotSignalKind,
            Option<ReadyPart>,
            Vec<&'static str>,
        );
        let cases: Vec<Case> = vec![
            (
                "warning, replacement joined",
                SpotSignalKind::Warning,
                ready(&["i-r1"]),
                vec!["spot_warning#i-spot", "spot_replacement#i-r1"],
            ),
            (
                "warning, no replacement",
                SpotSignalKind::Warning,
                None,
                vec!["spot_warning#i-spot"],
            ),
            (
                "rebalance, replaced",
                SpotSignalKind::Rebalance,
                ready(&["i-r2"]),
                vec!["spot_rebalance#i-spot", "spot_replacement#i-r2"],
            ),
        ];
        for (name, signal, rdy, want) in cases {
            let doc = ExecutionDocument {
                instance_id: Some("i-spot".into()),
                spot: Some(SpotPart {
                    signal,
                    ..spot_part()
                }),
                ready: rdy,
                ..Default::default()
            };
            let finish = achieved(&doc, t0()).unwrap();
            let got: Vec<String> = week_entries(&doc, &finish, t0())
                .iter()
                .map(|e| format!("{}#{}", e.kind.as_str(), e.id))
                .collect();
            assert_eq!(got, want, "case {name}");
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
