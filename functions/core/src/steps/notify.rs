//! Notify: tell people what this execution did. Never fails the execution.

use super::document::{
    Action, Alert, DrainStatus, ExecutionDocument, NotifiedPart, OutcomeResult, ReadyStatus,
    SpotSignalKind,
};
use super::{send_all, Deps};
use crate::error::Result;
use crate::notify::{Notification, NotificationKind};
use chrono::{DateTime, Utc};

/// The spot machine's replacement as the message names it: the instances that joined, those
/// terminated at the join deadline, or why there is none (the operation's reason).
fn spot_replacement(doc: &ExecutionDocument) -> String {
    let launched = doc
        .operation
        .as_ref()
        .filter(|o| o.kind == crate::model::OperationKind::SpotReplace);
    match (&doc.ready, launched) {
        (Some(r), _) if !r.not_ready.is_empty() => format!(
            "{} did not join by the deadline and was terminated",
            r.not_ready.join(", ")
        ),
        (Some(r), _) if !r.ready.is_empty() => format!("{} joined", r.ready.join(", ")),
        (_, Some(o)) if !o.instance_ids.is_empty() => o.instance_ids.join(", "),
        (_, Some(o)) => format!("none ({})", o.reason),
        (None, None) => "none (the lease stayed held by another execution; the periodic scaling adds capacity for the pods)".into(),
        (Some(_), None) => "none".into(),
    }
}

/// The notification the document calls for, or `None` when there is nothing to tell (a spot
/// signal for an instance that is not SmartScale's, or a document with no outcome).
///
/// Picks, in order: the spot outcome; the periodic outcome (join failure, drain aborted,
/// scale-down completed); a scale-up whose workers are Ready; a `none` decision carrying
/// `alert: at_maximum_capacity` (Evaluate rate-limits it). A recovery says so.
pub fn notification_for(doc: &ExecutionDocument, now: DateTime<Utc>) -> Option<Notification> {
    let base = |kind, reason: String, action: String, before, after| Notification {
        kind,
        cluster_id: doc.cluster_id.clone(),
        reason,
        action,
        nodes_before: before,
        nodes_after: after,
        recommendation: None,
        recovered: doc.is_recovery(),
        time: now,
        execution_arn: Some(doc.execution_id.clone()),
    };
    if let Some(spot) = &doc.spot {
        if spot.skipped.is_some() {
            return None;
        }
        let instance = doc.instance_id.clone().unwrap_or_default();
        let signal = doc.signal.clone().unwrap_or_else(|| "Spot signal".into());
        let node = spot.node_name.as_deref().unwrap_or("(no node)");
        let replacement = spot_replacement(doc);
        if spot.signal == SpotSignalKind::Rebalance {
            let what = match doc.outcome.as_ref().map(|o| o.result) {
                Some(OutcomeResult::ScaledDown) => format!("drained and terminated {node}"),
                Some(OutcomeResult::DrainAborted) => {
                    format!("drain of {node} refused by the deadline, node uncordoned")
                }
                _ => format!("{node} kept in service"),
            };
            let mut n = base(
                NotificationKind::SpotInterruption,
                format!("{signal} for {instance}"),
                format!("Replacement {replacement}; {what}"),
                None,
                None,
            );
            n.recommendation = doc
                .operation
                .as_ref()
                .map(|o| o.reason.clone())
                .filter(|_| {
                    !matches!(
                        doc.outcome.as_ref().map(|o| o.result),
                        Some(OutcomeResult::ScaledDown)
                    )
                });
            return Some(n);
        }
        let drained = match spot.status {
            DrainStatus::Drained => "drained".to_string(),
            DrainStatus::InProgress => "drain in progress".to_string(),
            DrainStatus::BlockedDeadline => format!(
                "not drained by the deadline, blocked: {}",
                blocked_list(&spot.blocked)
            ),
            DrainStatus::DeadlinePassed => format!(
                "not drained by the deadline, remaining: {}",
                spot.remaining.join(", ")
            ),
        };
        let mut n = base(
            NotificationKind::SpotInterruption,
            format!("{signal} for {instance}"),
            format!("Cordoned {node}, {drained}; replacement {replacement}"),
            None,
            None,
        );
        if spot.status != DrainStatus::Drained {
            n.recommendation = Some(
                "Pods left on the node are lost when the instance is reclaimed; check their workloads rescheduled".into(),
            );
        }
        return Some(n);
    }

    let reason = doc
        .operation
        .as_ref()
        .map(|o| super::launch_nodes::reason_of(doc, o))
        .or_else(|| doc.decision.as_ref().map(|d| d.reasons.join("; ")))
        .unwrap_or_default();
    let before = doc.nodes_before();
    if let Some(o) = &doc.outcome {
        let (kind, action, recommendation) = match o.result {
            OutcomeResult::JoinFailed => (
                NotificationKind::JoinFailure,
                format!(
                    "Terminated {} instance(s) not Ready by the join deadline: {}",
                    o.terminated.len(),
                    o.terminated.join(", ")
                ),
                Some("Check the workers' user data, the K3s join token and the security groups (console output of the instances)".to_string()),
            ),
            OutcomeResult::DrainAborted => {
                let blocked = doc
                    .drain
                    .as_ref()
                    .map(|d| blocked_list(&d.blocked))
                    .filter(|b| !b.is_empty());
                (
                    NotificationKind::DrainAborted,
                    format!(
                        "Drain of {} not finished by the deadline; node uncordoned{}",
                        o.uncordoned.as_deref().unwrap_or("the node"),
                        blocked.map(|b| format!(" (blocked: {b})")).unwrap_or_default()
                    ),
                    Some("Check the disruption budgets and pods named above; the next scale-down will try again".to_string()),
                )
            }
            OutcomeResult::ScaledDown => (
                NotificationKind::ScaleDownCompleted,
                format!(
                    "Removed 1 node ({}{})",
                    doc.operation
                        .as_ref()
                        .and_then(|op| op.node_name.as_deref())
                        .map(|n| format!("{n}, "))
                        .unwrap_or_default(),
                    o.terminated.join(", ")
                ),
                None,
            ),
        };
        let mut n = base(
            kind,
            reason,
            action,
            Some(o.nodes_before),
            Some(o.nodes_after),
        );
        n.recommendation = recommendation;
        return Some(n);
    }
    if let Some(r) = doc
        .ready
        .as_ref()
        .filter(|r| r.status == ReadyStatus::Ready)
    {
        let after = if doc.is_recovery() {
            before
        } else {
            before + r.ready.len() as u32
        };
        let action = if r.ready.is_empty() {
            "Nothing was launched; the operation was closed".to_string()
        } else {
            format!("Added {} node(s): {}", r.ready.len(), r.ready.join(", "))
        };
        return Some(base(
            NotificationKind::ScaleUpCompleted,
            reason,
            action,
            Some(before),
            Some(after),
        ));
    }
    if let Some(d) = doc
        .decision
        .as_ref()
        .filter(|d| d.action == Action::None && d.alert == Some(Alert::AtMaximumCapacity))
    {
        let mut n = base(
            NotificationKind::AtMaximumCapacity,
            d.reasons.join("; "),
            "Cannot scale further: scale-up is wanted but nothing was launched; service degradation possible".into(),
            Some(before),
            Some(before),
        );
        n.recommendation = Some("Optimise workloads or raise MAX_NODES".into());
        return Some(n);
    }
    if let Some(d) = doc
        .decision
        .as_ref()
        .filter(|d| d.action == Action::None && d.alert == Some(Alert::NodeIdentityMismatch))
    {
        let mut n = base(
            NotificationKind::ScalingFailure,
            d.reasons.join("; "),
            "Nodes whose identity is not verified are left out of every decision".into(),
            Some(before),
            Some(before),
        );
        n.recommendation = Some(
            "A Node reports a provider id that does not match its instance's address: check who registered it (kubectl get node -o wide) and delete it if it is not that instance".into(),
        );
        return Some(n);
    }
    if let Some(d) = doc
        .decision
        .as_ref()
        .filter(|d| d.action == Action::None && d.alert == Some(Alert::RecoveryAbandoned))
    {
        let mut n = base(
            NotificationKind::ScalingFailure,
            d.reasons.join("; "),
            "Stopped recovering the operation; scaling resumes on the next tick".into(),
            Some(before),
            Some(before),
        );
        n.recommendation = Some(
            "Find why the earlier runs failed (Step Functions console, the steps' logs) and check the instances and node named above".into(),
        );
        return Some(n);
    }
    None
}

fn blocked_list(blocked: &[crate::seams::BlockedPod]) -> String {
    blocked
        .iter()
        .map(|b| format!("{} ({})", b.pod, b.reason))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The message of one of Evaluate's notices ([`ExecutionDocument::notices`]).
pub fn notice_notification(
    doc: &ExecutionDocument,
    notice: &crate::forecast::Notice,
    now: DateTime<Utc>,
) -> Notification {
    Notification {
        kind: notice.kind,
        cluster_id: doc.cluster_id.clone(),
        reason: notice.reason.clone(),
        action: notice.action.clone(),
        nodes_before: None,
        nodes_after: None,
        recommendation: None,
        recovered: false,
        time: now,
        execution_arn: Some(doc.execution_id.clone()),
    }
}

/// Sends the notification the document calls for, then each of Evaluate's notices, through every
/// channel and reports, per channel, `sent`, `failed: <error>` or `skipped: <why>` (the first
/// that was not `sent` when several messages went out). Never returns an error.
pub async fn run(doc: &ExecutionDocument, deps: &Deps, now: DateTime<Utc>) -> Result<NotifiedPart> {
    let messages: Vec<Notification> = notification_for(doc, now)
        .into_iter()
        .chain(doc.notices.iter().map(|n| notice_notification(doc, n, now)))
        .collect();
    if messages.is_empty() {
        return Ok(deps
            .notifiers
            .iter()
            .map(|c| {
                (
                    c.channel().to_string(),
                    "skipped: nothing to tell".to_string(),
                )
            })
            .collect());
    }
    let mut report = NotifiedPart::new();
    for m in &messages {
        for (channel, status) in send_all(deps, m).await {
            let kept = report.entry(channel).or_insert_with(|| status.clone());
            if kept == "sent" {
                *kept = status;
            }
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Operation;
    use crate::seams::BlockedPod;
    use crate::steps::document::*;
    use crate::steps::testkit::*;

    fn doc() -> ExecutionDocument {
        ExecutionDocument {
            cluster_id: "c1".into(),
            execution_id: EXEC.into(),
            metrics: Some(summary(3)),
            decision: Some(scale_up_decision(2)),
            operation: Some(scale_up_op("op", &["i-a", "i-b"], at(300))),
            ..Default::default()
        }
    }

    fn outcome(result: OutcomeResult, after: u32) -> Option<OutcomePart> {
        Some(OutcomePart {
            result,
            terminated: vec!["i-b".into()],
            uncordoned: Some("w1".into()),
            nodes_before: 3,
            nodes_after: after,
        })
    }

    /// One case of [`the_document_picks_the_message`]: how the document differs from [`doc`],
    /// and the message it must pick (none for `kind: None`).
    struct MessageCase {
        name: &'static str,
        edit: Box<dyn Fn(&mut ExecutionDocument)>,
        kind: Option<NotificationKind>,
        nodes_before: Option<u32>,
        nodes_after: Option<u32>,
        action_has: &'static str,
    }

    #[test]
    fn the_document_picks_the_message() {
        let ready = Some(ReadyPart {
            status: ReadyStatus::Ready,
            ready: vec!["i-a".into(), "i-b".into()],
            not_ready: vec![],
        });
        let spot = Some(SpotPart {
            signal: SpotSignalKind::Warning,
            status: DrainStatus::BlockedDeadline,
            node_name: Some("w9".into()),
            pool: None,
            workers_before: 3,
            remaining: vec!["db/pg-0".into()],
            blocked: vec![BlockedPod {
                pod: "db/pg-0".into(),
                reason: "pdb db/pg".into(),
            }],
            deadline: at(90),
            lease_wait_until: at(390),
            lease_wait_over: false,
            skipped: None,
        });
        let replacement = Operation {
            kind: crate::model::OperationKind::SpotReplace,
            ..scale_up_op("spot-i-s", &["i-r"], at(300))
        };
        let at_max = DecisionPart {
            action: Action::None,
            count: 0,
            node: None,
            instance_id: None,
            reasons: vec!["at maximum capacity: 10 workers, MAX_NODES is 10".into()],
            codes: vec!["at_maximum".into()],
            alert: Some(Alert::AtMaximumCapacity),
            launch: None,
        };
        let steady = DecisionPart {
            codes: vec!["steady".into()],
            alert: None,
            ..at_max.clone()
        };
        let at_max_quiet = DecisionPart {
            alert: None,
            ..at_max.clone()
        };
        let cases = vec![
            MessageCase {
                name: "scale-up completed",
                edit: Box::new({
                    let r = ready.clone();
                    move |d| d.ready = r.clone()
                }),
                kind: Some(NotificationKind::ScaleUpCompleted),
                nodes_before: Some(3),
                nodes_after: Some(5),
                action_has: "Added 2 node(s): i-a, i-b",
            },
            MessageCase {
                name: "join failure",
                edit: Box::new(|d| d.outcome = outcome(OutcomeResult::JoinFailed, 4)),
                kind: Some(NotificationKind::JoinFailure),
                nodes_before: Some(3),
                nodes_after: Some(4),
                action_has: "Terminated 1 instance(s)",
            },
            MessageCase {
                name: "scale-down completed",
                edit: Box::new(|d| d.outcome = outcome(OutcomeResult::ScaledDown, 2)),
                kind: Some(NotificationKind::ScaleDownCompleted),
                nodes_before: Some(3),
                nodes_after: Some(2),
                action_has: "Removed 1 node (i-b)",
            },
            MessageCase {
                name: "drain aborted",
                edit: Box::new(|d| {
                    d.outcome = outcome(OutcomeResult::DrainAborted, 3);
                    d.drain = Some(DrainPart {
                        status: DrainStatus::BlockedDeadline,
                        remaining: vec![],
                        blocked: vec![BlockedPod {
                            pod: "db/pg-0".into(),
                            reason: "pdb db/pg".into(),
                        }],
                        evicted: vec![],
                    });
                }),
                kind: Some(NotificationKind::DrainAborted),
                nodes_before: Some(3),
                nodes_after: Some(3),
                action_has: "blocked: db/pg-0 (pdb db/pg)",
            },
            MessageCase {
                name: "at maximum",
                edit: Box::new({
                    let a = at_max.clone();
                    move |d| {
                        d.operation = None;
                        d.decision = Some(a.clone())
                    }
                }),
                kind: Some(NotificationKind::AtMaximumCapacity),
                nodes_before: Some(3),
                nodes_after: Some(3),
                action_has: "Cannot scale further",
            },
            MessageCase {
                name: "at maximum, alert rate-limited: nothing",
                edit: Box::new({
                    let a = at_max_quiet.clone();
                    move |d| {
                        d.operation = None;
                        d.decision = Some(a.clone())
                    }
                }),
                kind: None,
                nodes_before: None,
                nodes_after: None,
                action_has: "",
            },
            MessageCase {
                name: "steady: nothing",
                edit: Box::new({
                    let s = steady.clone();
                    move |d| {
                        d.operation = None;
                        d.decision = Some(s.clone())
                    }
                }),
                kind: None,
                nodes_before: None,
                nodes_after: None,
                action_has: "",
            },
            MessageCase {
                name: "spot",
                edit: Box::new({
                    let s = spot.clone();
                    let r = replacement.clone();
                    move |d| {
                        d.spot = s.clone();
                        d.operation = Some(r.clone());
                        d.instance_id = Some("i-s".into());
                        d.signal = Some("EC2 Spot Instance Interruption Warning".into())
                    }
                }),
                kind: Some(NotificationKind::SpotInterruption),
                nodes_before: None,
                nodes_after: None,
                action_has: "Cordoned w9, not drained by the deadline, blocked: db/pg-0 (pdb db/pg); replacement i-r",
            },
            MessageCase {
                name: "spot warning while the lease stayed held",
                edit: Box::new({
                    let s = spot.clone();
                    move |d| {
                        d.spot = s.clone();
                        d.operation = None;
                    }
                }),
                kind: Some(NotificationKind::SpotInterruption),
                nodes_before: None,
                nodes_after: None,
                action_has: "replacement none (the lease stayed held",
            },
            MessageCase {
                name: "rebalance: replaced, then the worker terminated",
                edit: Box::new({
                    let s = spot.clone();
                    move |d| {
                        let mut s = s.clone().unwrap();
                        s.signal = SpotSignalKind::Rebalance;
                        d.spot = Some(s);
                        d.ready = Some(ReadyPart {
                            status: ReadyStatus::Ready,
                            ready: vec!["i-r".into()],
                            not_ready: vec![],
                        });
                        d.outcome = outcome(OutcomeResult::ScaledDown, 3);
                    }
                }),
                kind: Some(NotificationKind::SpotInterruption),
                nodes_before: None,
                nodes_after: None,
                action_has: "Replacement i-r joined; drained and terminated w9",
            },
            MessageCase {
                name: "rebalance: the drain was refused, the worker uncordoned",
                edit: Box::new({
                    let s = spot.clone();
                    move |d| {
                        let mut s = s.clone().unwrap();
                        s.signal = SpotSignalKind::Rebalance;
                        d.spot = Some(s);
                        d.ready = Some(ReadyPart {
                            status: ReadyStatus::Ready,
                            ready: vec!["i-r".into()],
                            not_ready: vec![],
                        });
                        d.outcome = outcome(OutcomeResult::DrainAborted, 4);
                    }
                }),
                kind: Some(NotificationKind::SpotInterruption),
                nodes_before: None,
                nodes_after: None,
                action_has: "drain of w9 refused by the deadline, node uncordoned",
            },
            MessageCase {
                name: "spot for a foreign instance",
                edit: Box::new({
                    let s = spot.clone();
                    move |d| {
                        let mut s = s.clone().unwrap();
                        s.skipped = Some("not managed".into());
                        d.spot = Some(s)
                    }
                }),
                kind: None,
                nodes_before: None,
                nodes_after: None,
                action_has: "",
            },
        ];
        for case in cases {
            let name = case.name;
            let mut d = doc();
            (case.edit)(&mut d);
            let n = notification_for(&d, at(100));
            assert_eq!(n.as_ref().map(|n| n.kind), case.kind, "case {name}");
            if let Some(n) = n {
                assert_eq!(
                    (n.nodes_before, n.nodes_after),
                    (case.nodes_before, case.nodes_after),
                    "case {name}"
                );
                assert!(
                    n.action.contains(case.action_has),
                    "case {name}: {}",
                    n.action
                );
                assert_eq!(n.execution_arn.as_deref(), Some(EXEC), "case {name}");
                assert!(!n.reason.is_empty(), "case {name}");
            }
        }
    }

    #[tokio::test]
    async fn recovery_is_flagged_and_failures_are_reported_not_raised() {
        let mut d = doc();
        d.decision.as_mut().unwrap().action = Action::Recover;
        d.outcome = outcome(OutcomeResult::JoinFailed, 3);
        let ok = RecordingNotifier::new("slack", false);
        let bad = RecordingNotifier::new("sns", true);
        let mut w = World::new();
        w.deps.notifiers = vec![ok.clone(), bad];
        let got = run(&d, &w.deps, at(100)).await.unwrap();
        assert_eq!(got.get("slack").map(String::as_str), Some("sent"));
        assert!(got["sns"].starts_with("failed: "), "{got:?}");
        assert!(ok.sent()[0].recovered);

        d.outcome = None;
        d.decision.as_mut().unwrap().action = Action::None;
        let got = run(&d, &w.deps, at(100)).await.unwrap();
        assert_eq!(got["slack"], "skipped: nothing to tell");
    }

    /// Evaluate's notices go out after the document's own message, each as its own message.
    #[tokio::test]
    async fn notices_are_sent_beside_the_outcome() {
        let notice = |kind| crate::forecast::Notice {
            kind,
            reason: "scheduled floor `mon 09:00-10:00 min=4` starts at 09:00".into(),
            action: "Keeping at least 4 workers Ready until 10:00 local time".into(),
        };
        // (name, the document's own message, notices, want kinds sent)
        let cases = [
            (
                "a none with a floor notice",
                false,
                vec![notice(NotificationKind::FloorStarted)],
                vec![NotificationKind::FloorStarted],
            ),
            (
                "a scale-up that joined, then the floor notice",
                true,
                vec![notice(NotificationKind::FloorStarted)],
                vec![
                    NotificationKind::ScaleUpCompleted,
                    NotificationKind::FloorStarted,
                ],
            ),
            (
                "two notices",
                false,
                vec![
                    notice(NotificationKind::FloorEnded),
                    notice(NotificationKind::ForecastSummary),
                ],
                vec![
                    NotificationKind::FloorEnded,
                    NotificationKind::ForecastSummary,
                ],
            ),
        ];
        for (name, joined, notices, want) in cases {
            let mut d = doc();
            if joined {
                d.ready = Some(ReadyPart {
                    status: ReadyStatus::Ready,
                    ready: vec!["i-a".into()],
                    not_ready: vec![],
                });
            } else {
                d.decision.as_mut().unwrap().action = Action::None;
            }
            d.notices = notices;
            let w = World::new();
            let got = run(&d, &w.deps, at(100)).await.unwrap();
            assert_eq!(got["slack"], "sent", "case {name}");
            let kinds: Vec<NotificationKind> = w.slack.sent().iter().map(|n| n.kind).collect();
            assert_eq!(kinds, want, "case {name}");
        }
    }
}
