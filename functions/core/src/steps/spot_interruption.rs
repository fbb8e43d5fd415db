//! HandleSpotSignal and SpotDrainStep (one Lambda): a Spot Interruption Warning or Rebalance
//! Recommendation for a SmartScale worker. Launch a replacement, cordon, drain within
//! `SPOT_DRAIN_TIMEOUT` of the signal. Runs without the cluster lease (see
//! `docs/STATE_MACHINE.md`, "The spot machine and the lease").

use super::document::{DrainStatus, ExecutionDocument, SpotPart};
use super::{drain_status, node_of_instance, spot_signal, Deps};
use crate::error::{Error, Result};
use crate::lifecycle;
use crate::model::OperationKind;
use crate::seams::LaunchRequest;
use chrono::{DateTime, Utc};

/// How long a spot execution's claim on an instance lasts: past the spot machine's 300 s timeout,
/// so a redelivered event or the Interruption Warning that follows a Rebalance Recommendation
/// during the execution is skipped, and short enough that a claim left by a dead execution does
/// not silence a later signal for long.
pub const SPOT_CLAIM_TTL_SECS: u64 = 600;

/// The operation id of a spot replacement: `spot-<instance id>`. The provisioner launches at most
/// one instance per operation id, so a duplicate or second signal for the same instance (a
/// Rebalance Recommendation then the Interruption Warning, or a redelivered event) launches no
/// second replacement.
pub fn replacement_operation_id(instance_id: &str) -> String {
    format!("spot-{instance_id}")
}

/// First call (no `$.spot`): claims the instance for this execution (`execution_id`, for
/// [`SPOT_CLAIM_TTL_SECS`]) before anything else, ignores instances SmartScale does not own (`skipped`), launches the
/// replacement (a quota or capacity failure is reported in `launch_error` and the drain goes on:
/// moving the pods matters more), cordons the node, sets `deadline = event time +
/// SPOT_DRAIN_TIMEOUT` and takes the first drain step. Later calls (`$.spot` present) only take a
/// drain step against that deadline. Status as DrainNode's; an instance without a node is
/// `drained`.
///
/// Errors: `LockHeld` when another execution holds the instance's claim (the machine ends in
/// SkippedAlreadyHandled); `InvalidInput` without `instance_id`; `Transient` from EC2 or Kubernetes (retried by
/// the machine; every action here is idempotent).
pub async fn run(doc: &ExecutionDocument, deps: &Deps, now: DateTime<Utc>) -> Result<SpotPart> {
    let instance_id = doc.instance_id.as_deref().ok_or_else(|| {
        Error::invalid_input("handling a spot signal", "`instance_id` is missing")
    })?;
    if let Some(prev) = &doc.spot {
        let Some(node) = prev.node_name.as_deref().filter(|_| prev.skipped.is_none()) else {
            return Ok(SpotPart {
                status: DrainStatus::Drained,
                ..prev.clone()
            });
        };
        let progress = deps.cluster.drain_step(node).await?;
        return Ok(SpotPart {
            status: drain_status(&progress, prev.deadline, now),
            remaining: progress.remaining,
            blocked: progress.blocked,
            ..prev.clone()
        });
    }

    let signal_time = match &doc.event {
        Some(event) => spot_signal::parse(event)?.time.unwrap_or(now),
        None => now,
    };
    deps.store
        .claim_instance(instance_id, &doc.execution_id, now, SPOT_CLAIM_TTL_SECS)
        .await?;

    let deadline = lifecycle::deadline(OperationKind::SpotReplace, &deps.config, signal_time);
    let managed = deps.provisioner.describe_managed().await?;
    if !managed.iter().any(|m| m.instance_id == instance_id) {
        return Ok(SpotPart {
            status: DrainStatus::Drained,
            node_name: None,
            replacement_instance_ids: vec![],
            remaining: vec![],
            blocked: vec![],
            deadline,
            skipped: Some(format!(
                "{instance_id} is not a SmartScale worker of this cluster; nothing done"
            )),
            launch_error: None,
        });
    }

    let (replacement_instance_ids, launch_error) = match deps
        .provisioner
        .launch(&LaunchRequest {
            count: 1,
            operation_id: replacement_operation_id(instance_id),
        })
        .await
    {
        Ok(instances) => (instances.into_iter().map(|i| i.instance_id).collect(), None),
        Err(e) if e.is_retryable() => return Err(e),
        Err(e) => {
            tracing::warn!(error = %e, "no replacement for the interrupted worker; draining anyway");
            (vec![], Some(e.to_string()))
        }
    };

    let nodes = deps.cluster.nodes().await?;
    let Some(node) = node_of_instance(&nodes, &managed, instance_id).map(|n| n.name.clone()) else {
        return Ok(SpotPart {
            status: DrainStatus::Drained,
            node_name: None,
            replacement_instance_ids,
            remaining: vec![],
            blocked: vec![],
            deadline,
            skipped: None,
            launch_error,
        });
    };
    deps.cluster.cordon(&node).await?;
    let progress = deps.cluster.drain_step(&node).await?;
    Ok(SpotPart {
        status: drain_status(&progress, deadline, now),
        node_name: Some(node),
        replacement_instance_ids,
        remaining: progress.remaining,
        blocked: progress.blocked,
        deadline,
        skipped: None,
        launch_error,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::steps::testkit::*;

    /// The Interruption Warning EventBridge sends (`events/eventbridge/`), for `instance`.
    fn spot_warning(instance: &str) -> serde_json::Value {
        let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../events/eventbridge/spot-interruption-warning.json");
        let mut event: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        event["detail"]["instance-id"] = instance.into();
        event
    }

    fn spot_doc(instance: &str) -> ExecutionDocument {
        ExecutionDocument {
            cluster_id: "c1".into(),
            execution_id: EXEC.into(),
            instance_id: Some(instance.into()),
            signal: Some("EC2 Spot Instance Interruption Warning".into()),
            event: Some(spot_warning(instance)),
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn first_signal_paths() {
        // (name, instance, launch error, first drain step, now, want status, replacements, skipped)
        type Case = (
            &'static str,
            &'static str,
            Option<Error>,
            crate::seams::DrainProgress,
            i64,
            DrainStatus,
            usize,
            bool,
        );
        let cases: Vec<Case> = vec![
            (
                "drains at once",
                "i-1",
                None,
                progress(&[], &[]),
                5,
                DrainStatus::Drained,
                1,
                false,
            ),
            (
                "pods remain",
                "i-1",
                None,
                progress(&["shop/web-1"], &[]),
                5,
                DrainStatus::InProgress,
                1,
                false,
            ),
            (
                "quota: drain anyway",
                "i-1",
                Some(Error::QuotaExceeded {
                    context: "l".into(),
                    detail: "q".into(),
                }),
                progress(&["shop/web-1"], &[]),
                5,
                DrainStatus::InProgress,
                0,
                false,
            ),
            (
                "not ours",
                "i-foreign",
                None,
                progress(&[], &[]),
                5,
                DrainStatus::Drained,
                0,
                true,
            ),
        ];
        for (name, instance_id, err, first, now, status, replacements, skipped) in cases {
            let w = World::new();
            *w.ec2.next_launch_error.lock().unwrap() = err;
            w.k8s.drain_script.lock().unwrap().push_back(first);
            let got = run(&spot_doc(instance_id), &w.deps, at(now)).await.unwrap();
            assert_eq!(got.status, status, "case {name}");
            assert_eq!(
                got.replacement_instance_ids.len(),
                replacements,
                "case {name}"
            );
            assert_eq!(got.skipped.is_some(), skipped, "case {name}");
            assert_eq!(got.deadline, at(90), "case {name}: event time + 90 s");
            if !skipped {
                assert_eq!(got.node_name.as_deref(), Some("w1"), "case {name}");
                assert!(
                    w.k8s.node("w1").unwrap().unschedulable,
                    "case {name}: cordoned"
                );
                assert_eq!(got.launch_error.is_some(), replacements == 0, "case {name}");
            } else {
                assert!(
                    w.k8s.calls().is_empty() && w.ec2.launch_calls.lock().unwrap().is_empty(),
                    "case {name}"
                );
            }
        }
    }

    #[tokio::test]
    async fn later_steps_and_duplicates() {
        let w = World::new();
        w.k8s.drain_script.lock().unwrap().extend([
            progress(&["db/pg-0"], &["db/pg-0"]),
            progress(&["db/pg-0"], &["db/pg-0"]),
            progress(&["db/pg-0"], &["db/pg-0"]),
        ]);
        let mut doc = spot_doc("i-1");
        let first = run(&doc, &w.deps, at(5)).await.unwrap();
        assert_eq!(first.status, DrainStatus::InProgress);
        doc.spot = Some(first.clone());
        let second = run(&doc, &w.deps, at(60)).await.unwrap();
        assert_eq!(second.status, DrainStatus::InProgress);
        doc.spot = Some(second);
        let third = run(&doc, &w.deps, at(91)).await.unwrap();
        assert_eq!(third.status, DrainStatus::BlockedDeadline);
        assert_eq!(
            third.replacement_instance_ids,
            first.replacement_instance_ids
        );

        // A second signal for the same instance launches no second replacement.
        let dup = run(&spot_doc("i-1"), &w.deps, at(20)).await.unwrap();
        assert_eq!(dup.replacement_instance_ids, first.replacement_instance_ids);
        assert_eq!(w.ec2.live_ids().len(), 3);

        let e = run(&ExecutionDocument::default(), &w.deps, at(1))
            .await
            .unwrap_err();
        assert_eq!(e.kind(), "Fatal");
    }

    #[tokio::test]
    async fn the_instance_is_claimed_first() {
        // (name, claim held before: (owner, expiry secs), now, want error kind)
        type Case = (
            &'static str,
            Option<(&'static str, i64)>,
            i64,
            Option<&'static str>,
        );
        let cases: Vec<Case> = vec![
            ("unclaimed", None, 5, None),
            (
                "held by another execution",
                Some(("spot:other", 600)),
                5,
                Some("LockHeld"),
            ),
            ("own claim (a retry)", Some((EXEC, 600)), 5, None),
            (
                "another's claim expired",
                Some(("spot:other", 600)),
                600,
                None,
            ),
        ];
        for (name, held, now, want) in cases {
            let w = World::new();
            if let Some((owner, expiry)) = held {
                w.store
                    .claims
                    .lock()
                    .unwrap()
                    .insert("i-1".into(), (owner.into(), at(expiry)));
            }
            let got = run(&spot_doc("i-1"), &w.deps, at(now)).await;
            assert_eq!(got.as_ref().err().map(|e| e.kind()), want, "case {name}");
            if want.is_some() {
                assert!(
                    w.k8s.calls().is_empty() && w.ec2.launch_calls.lock().unwrap().is_empty(),
                    "case {name}: nothing done"
                );
            } else {
                let claims = w.store.claims.lock().unwrap();
                assert_eq!(
                    claims.get("i-1"),
                    Some(&(EXEC.to_string(), at(now + SPOT_CLAIM_TTL_SECS as i64))),
                    "case {name}: claimed by this execution"
                );
            }
        }
    }
}
