//! HandleSpotSignal and the spot drain steps (one Lambda): a Spot Interruption Warning or a
//! Rebalance Recommendation for a SmartScale worker. The first call claims the instance and, for
//! a warning, cordons its node and evicts everything a reclaim drain may evict; later calls take
//! one more reclaim drain step against `SPOT_DRAIN_TIMEOUT` while the machine waits for the lease
//! or for the replacement. The replacement itself is launched under the lease by
//! [`super::spot_replace`]. The whole path is in `docs/STATE_MACHINE.md` ("The spot machine").

use super::document::{DrainStatus, ExecutionDocument, SpotPart, SpotSignalKind};
use super::{drain_status, node_of_instance, spot_signal, Deps};
use crate::error::{Error, Result};
use crate::lifecycle;
use crate::seams::{DrainMode, Pool, SpotClaim};
use chrono::{DateTime, Duration, Utc};

/// How long a spot execution's claim on an instance lasts: past the spot machine's 20-minute
/// timeout, so a redelivered event during the execution is skipped, and short enough that a claim
/// left by a dead execution does not silence a later signal for long.
pub const SPOT_CLAIM_TTL_SECS: u64 = 1800;

/// The claim an execution takes for `signal` on `instance_id`: the instance id for a warning, the
/// instance id with `#rebalance` for a rebalance, so the Interruption Warning that follows a
/// Rebalance Recommendation is still handled at once (the rebalance execution may be waiting for
/// its replacement to join) while a duplicate of either signal is skipped.
pub fn claim_id(instance_id: &str, signal: SpotSignalKind) -> String {
    match signal {
        SpotSignalKind::Warning => instance_id.to_string(),
        SpotSignalKind::Rebalance => format!("{instance_id}#rebalance"),
    }
}

/// First call (no `$.spot`): claims the instance for this execution ([`claim_id`], for
/// [`SPOT_CLAIM_TTL_SECS`]) before anything else, then ignores (`skipped`) an instance SmartScale
/// does not own and a rebalance whose node is already cordoned (a warning or a scale-down is
/// draining it). A warning cordons the node and takes the first reclaim drain step
/// ([`DrainMode::Reclaim`]: one StatefulSet, bare or vetoed pod does not keep the others in
/// place), with `deadline = event time + SPOT_DRAIN_TIMEOUT`; a rebalance touches nothing yet.
/// An instance without a node is `drained`.
///
/// Later calls (`$.spot` present) take one more reclaim drain step while a warning's drain is
/// `in_progress`, and set `lease_wait_over` once `lease_wait_until` passed.
///
/// Errors: `LockHeld` when another execution holds the claim (the machine ends in
/// SkippedAlreadyHandled); `InvalidInput` without `instance_id` or with an event that is no spot
/// signal; `Transient` from EC2 or Kubernetes (retried by the machine; every action here is
/// idempotent).
pub async fn run(doc: &ExecutionDocument, deps: &Deps, now: DateTime<Utc>) -> Result<SpotPart> {
    let instance_id = doc.instance_id.as_deref().ok_or_else(|| {
        Error::invalid_input("handling a spot signal", "`instance_id` is missing")
    })?;
    if let Some(prev) = &doc.spot {
        return later_step(prev, deps, now).await;
    }

    let (signal, signal_time) = match &doc.event {
        Some(event) => {
            let parsed = spot_signal::parse(event)?;
            let kind = if parsed.detail_type == spot_signal::REBALANCE_RECOMMENDATION {
                SpotSignalKind::Rebalance
            } else {
                SpotSignalKind::Warning
            };
            (kind, parsed.time.unwrap_or(now))
        }
        None => (SpotSignalKind::Warning, now),
    };
    deps.store
        .claim_instance(SpotClaim {
            instance_id: &claim_id(instance_id, signal),
            owner: &doc.execution_id,
            now,
            ttl_secs: SPOT_CLAIM_TTL_SECS,
        })
        .await?;

    let deadline = lifecycle::reclaim_deadline(&deps.config, signal_time);
    let mut part = SpotPart {
        signal,
        status: DrainStatus::Drained,
        node_name: None,
        pool: None,
        workers_before: 0,
        remaining: vec![],
        blocked: vec![],
        deadline,
        lease_wait_until: deadline + Duration::seconds(deps.config.lock_ttl_secs as i64),
        lease_wait_over: false,
        skipped: None,
    };
    let managed = deps.provisioner.describe_managed().await?;
    let Some(instance) = managed.iter().find(|m| m.instance_id == instance_id) else {
        part.skipped = Some(format!(
            "{instance_id} is not a SmartScale worker of this cluster; nothing done"
        ));
        return Ok(part);
    };
    part.pool = Some(Pool {
        instance_type: instance.instance_type.clone(),
        zone: instance.zone.clone(),
    });
    part.workers_before = managed
        .iter()
        .filter(|m| matches!(m.state.as_str(), "pending" | "running"))
        .count() as u32;

    let nodes = deps.cluster.nodes().await?;
    let Some(node) = node_of_instance(&nodes, &managed, instance_id) else {
        return Ok(part);
    };
    part.node_name = Some(node.name.clone());
    if signal == SpotSignalKind::Rebalance {
        if node.unschedulable {
            part.skipped = Some(format!(
                "rebalance for {instance_id}: its node {} is already cordoned (being drained); nothing done",
                node.name
            ));
        }
        return Ok(part);
    }
    let node = node.name.clone();
    deps.cluster.cordon(&node).await?;
    let progress = deps.cluster.drain_step(&node, DrainMode::Reclaim).await?;
    part.status = drain_status(&progress, deadline, now);
    part.remaining = progress.remaining;
    part.blocked = progress.blocked;
    Ok(part)
}

/// One more reclaim drain step of a warning still `in_progress`; any other part only has its
/// `lease_wait_over` brought up to date.
async fn later_step(prev: &SpotPart, deps: &Deps, now: DateTime<Utc>) -> Result<SpotPart> {
    let mut part = SpotPart {
        lease_wait_over: now >= prev.lease_wait_until,
        ..prev.clone()
    };
    let draining = prev.skipped.is_none()
        && prev.signal == SpotSignalKind::Warning
        && prev.status == DrainStatus::InProgress;
    if let (true, Some(node)) = (draining, prev.node_name.as_deref()) {
        let progress = deps.cluster.drain_step(node, DrainMode::Reclaim).await?;
        part.status = drain_status(&progress, prev.deadline, now);
        part.remaining = progress.remaining;
        part.blocked = progress.blocked;
    }
    Ok(part)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seams::DrainProgress;
    use crate::steps::testkit::*;

    /// The EventBridge event of `file` in `events/eventbridge/`, for `instance`.
    fn signal(file: &str, instance: &str) -> serde_json::Value {
        let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../events/eventbridge")
            .join(file);
        let mut event: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        event["detail"]["instance-id"] = instance.into();
        event
    }

    fn spot_doc(file: &str, instance: &str) -> ExecutionDocument {
        let event = signal(file, instance);
        ExecutionDocument {
            cluster_id: "c1".into(),
            execution_id: EXEC.into(),
            instance_id: Some(instance.into()),
            signal: event["detail-type"].as_str().map(str::to_string),
            event: Some(event),
            ..Default::default()
        }
    }

    const WARNING: &str = "spot-interruption-warning.json";
    const REBALANCE: &str = "rebalance-recommendation.json";

    struct FirstCase {
        name: &'static str,
        file: &'static str,
        instance: &'static str,
        /// `w1` is cordoned before the signal.
        cordoned_before: bool,
        first_step: DrainProgress,
        want_status: DrainStatus,
        want_skipped: bool,
        /// Cluster calls, in order.
        want_calls: &'static [&'static str],
    }

    #[tokio::test]
    async fn first_signal_paths() {
        let cases = [
            FirstCase {
                name: "warning drains at once",
                file: WARNING,
                instance: "i-1",
                cordoned_before: false,
                first_step: progress(&[], &[]),
                want_status: DrainStatus::Drained,
                want_skipped: false,
                want_calls: &["cordon w1", "reclaim-drain w1"],
            },
            FirstCase {
                name: "warning, pods remain",
                file: WARNING,
                instance: "i-1",
                cordoned_before: false,
                first_step: progress(&["shop/web-1"], &[]),
                want_status: DrainStatus::InProgress,
                want_skipped: false,
                want_calls: &["cordon w1", "reclaim-drain w1"],
            },
            FirstCase {
                name: "rebalance touches nothing before its replacement",
                file: REBALANCE,
                instance: "i-1",
                cordoned_before: false,
                first_step: progress(&[], &[]),
                want_status: DrainStatus::Drained,
                want_skipped: false,
                want_calls: &[],
            },
            FirstCase {
                name: "rebalance for a node already cordoned is skipped",
                file: REBALANCE,
                instance: "i-1",
                cordoned_before: true,
                first_step: progress(&[], &[]),
                want_status: DrainStatus::Drained,
                want_skipped: true,
                want_calls: &["cordon w1"],
            },
            FirstCase {
                name: "not ours",
                file: WARNING,
                instance: "i-foreign",
                cordoned_before: false,
                first_step: progress(&[], &[]),
                want_status: DrainStatus::Drained,
                want_skipped: true,
                want_calls: &[],
            },
        ];
        for c in cases {
            let w = World::new();
            if c.cordoned_before {
                crate::seams::ClusterApi::cordon(&*w.k8s, "w1")
                    .await
                    .unwrap();
            }
            w.k8s.drain_script.lock().unwrap().push_back(c.first_step);
            let got = run(&spot_doc(c.file, c.instance), &w.deps, at(5))
                .await
                .unwrap();
            assert_eq!(got.status, c.want_status, "case {}", c.name);
            assert_eq!(got.skipped.is_some(), c.want_skipped, "case {}", c.name);
            assert_eq!(got.deadline, at(90), "case {}: event time + 90 s", c.name);
            assert_eq!(got.lease_wait_until, at(90 + 300), "case {}", c.name);
            assert_eq!(w.k8s.calls(), c.want_calls, "case {}", c.name);
            assert!(
                w.ec2.launch_calls.lock().unwrap().is_empty(),
                "case {}: nothing launched without the lease",
                c.name
            );
            if c.instance == "i-1" {
                assert_eq!(got.node_name.as_deref(), Some("w1"), "case {}", c.name);
                assert_eq!(got.workers_before, 2, "case {}", c.name);
                assert!(got.pool.is_some(), "case {}", c.name);
            }
        }
    }

    #[tokio::test]
    async fn later_steps_drain_until_the_deadline_and_time_the_lease_wait() {
        let w = World::new();
        w.k8s.drain_script.lock().unwrap().extend([
            progress(&["db/pg-0"], &["db/pg-0"]),
            progress(&["db/pg-0"], &["db/pg-0"]),
            progress(&["db/pg-0"], &["db/pg-0"]),
        ]);
        let mut doc = spot_doc(WARNING, "i-1");
        let first = run(&doc, &w.deps, at(5)).await.unwrap();
        assert_eq!(first.status, DrainStatus::InProgress);
        doc.spot = Some(first.clone());
        let second = run(&doc, &w.deps, at(60)).await.unwrap();
        assert_eq!(second.status, DrainStatus::InProgress);
        doc.spot = Some(second);
        let third = run(&doc, &w.deps, at(91)).await.unwrap();
        assert_eq!(third.status, DrainStatus::BlockedDeadline);
        assert!(!third.lease_wait_over);
        doc.spot = Some(third);
        let fourth = run(&doc, &w.deps, at(390)).await.unwrap();
        assert!(fourth.lease_wait_over, "past the drain deadline + LOCK_TTL");
        assert_eq!(
            w.k8s
                .calls()
                .iter()
                .filter(|c| c.starts_with("reclaim-drain"))
                .count(),
            3,
            "no drain step once the drain ended"
        );

        let e = run(&ExecutionDocument::default(), &w.deps, at(1))
            .await
            .unwrap_err();
        assert_eq!(e.kind(), "Fatal");
    }

    struct ClaimCase {
        name: &'static str,
        file: &'static str,
        /// A claim held before: (claim id, owner, expiry secs).
        held: Option<(&'static str, &'static str, i64)>,
        now: i64,
        want: Option<&'static str>,
    }

    #[tokio::test]
    async fn the_instance_is_claimed_first() {
        let cases = [
            ClaimCase {
                name: "unclaimed",
                file: WARNING,
                held: None,
                now: 5,
                want: None,
            },
            ClaimCase {
                name: "warning held by another execution",
                file: WARNING,
                held: Some(("i-1", "spot:other", 600)),
                now: 5,
                want: Some("LockHeld"),
            },
            ClaimCase {
                name: "own claim (a retry)",
                file: WARNING,
                held: Some(("i-1", EXEC, 600)),
                now: 5,
                want: None,
            },
            ClaimCase {
                name: "another's claim expired",
                file: WARNING,
                held: Some(("i-1", "spot:other", 600)),
                now: 600,
                want: None,
            },
            ClaimCase {
                name: "a warning after a rebalance is handled at once",
                file: WARNING,
                held: Some(("i-1#rebalance", "spot:other", 600)),
                now: 5,
                want: None,
            },
            ClaimCase {
                name: "a duplicate rebalance is skipped",
                file: REBALANCE,
                held: Some(("i-1#rebalance", "spot:other", 600)),
                now: 5,
                want: Some("LockHeld"),
            },
        ];
        for c in cases {
            let w = World::new();
            if let Some((id, owner, expiry)) = c.held {
                w.store
                    .claims
                    .lock()
                    .unwrap()
                    .insert(id.into(), (owner.into(), at(expiry)));
            }
            let doc = spot_doc(c.file, "i-1");
            let got = run(&doc, &w.deps, at(c.now)).await;
            assert_eq!(
                got.as_ref().err().map(|e| e.kind()),
                c.want,
                "case {}",
                c.name
            );
            if c.want.is_some() {
                assert!(w.k8s.calls().is_empty(), "case {}: nothing done", c.name);
            } else {
                let signal = got.unwrap().signal;
                let claims = w.store.claims.lock().unwrap();
                assert_eq!(
                    claims.get(&claim_id("i-1", signal)),
                    Some(&(EXEC.to_string(), at(c.now + SPOT_CLAIM_TTL_SECS as i64))),
                    "case {}: claimed by this execution",
                    c.name
                );
            }
        }
    }
}
