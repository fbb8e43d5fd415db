//! LaunchReplacement and RetireNode: the part of the spot path that changes capacity, run under
//! the cluster lease like every other operation. LaunchReplacement records a `spot_replace`
//! operation whose instance joins or is terminated at its deadline (CheckNodesReady and
//! HandleJoinFailure, as for a scale-up); RetireNode turns a rebalance whose replacement joined
//! into a `scale_down` of the signalled worker (CordonNode, DrainNode, then TerminateNode or
//! AbortDrain, so the node is never left cordoned). The path is drawn in `docs/STATE_MACHINE.md`
//! ("The spot machine").

use super::document::{ExecutionDocument, ReadyStatus, SpotPart, SpotSignalKind};
use super::{renew, Deps};
use crate::error::{Error, Result};
use crate::lifecycle;
use crate::model::{Operation, OperationKind};
use crate::seams::LaunchRequest;
use chrono::{DateTime, Utc};

/// The operation id of a spot replacement: `spot-<instance id>`. The provisioner launches at most
/// one instance per operation id, so a second execution for the same instance (the Interruption
/// Warning after a Rebalance Recommendation) launches no second replacement.
pub fn replacement_operation_id(instance_id: &str) -> String {
    format!("spot-{instance_id}")
}

fn spot_of(doc: &ExecutionDocument, context: &str) -> Result<(SpotPart, String)> {
    let spot = doc
        .spot
        .clone()
        .ok_or_else(|| Error::invalid_input(context, "`spot` is missing"))?;
    let instance = doc
        .instance_id
        .clone()
        .ok_or_else(|| Error::invalid_input(context, "`instance_id` is missing"))?;
    Ok((spot, instance))
}

/// LaunchReplacement: renews the lease and launches one replacement for the signalled worker
/// when the workers other than it (running or pending, this replacement aside) are fewer than
/// `MAX_NODES`, as Spot outside the signalled worker's pool first, then on-demand (the
/// provisioner's order), and records it as the `spot_replace` operation in flight, with
/// `deadline = now + JOIN_TIMEOUT`. `requested_count` is 0 when `MAX_NODES` leaves no room.
/// A quota or capacity failure is no error: the operation records no instance, says why in
/// `reason`, and the machine goes on (a warning's drain matters more; a rebalance then keeps its
/// worker).
///
/// Errors: `LeaseLost` (nothing launched), `InvalidInput` without `spot` or `instance_id`,
/// `Transient` from EC2 or the store.
pub async fn launch(doc: &ExecutionDocument, deps: &Deps, now: DateTime<Utc>) -> Result<Operation> {
    let (spot, instance_id) = spot_of(doc, "launching a spot replacement")?;
    let lease = renew(doc, deps, now).await?;
    let id = replacement_operation_id(&instance_id);
    let managed = deps.provisioner.describe_managed().await?;
    let others = managed
        .iter()
        .filter(|m| matches!(m.state.as_str(), "pending" | "running"))
        .filter(|m| m.instance_id != instance_id && m.operation_id.as_deref() != Some(&id))
        .count() as u32;
    let node = spot.node_name.as_deref().unwrap_or("(no node)");
    let why = match spot.signal {
        SpotSignalKind::Warning => "Spot interruption warning",
        SpotSignalKind::Rebalance => "rebalance recommendation",
    };
    let max = deps.config.max_nodes;
    let (requested_count, instance_ids, reason) = if others >= max {
        (
            0,
            vec![],
            format!("{why} for {instance_id} ({node}): no replacement, the {others} other workers are at MAX_NODES {max}"),
        )
    } else {
        // Spot again when the policy buys Spot (the interrupted pool is avoided), else on-demand.
        let (on_demand, spot_count) = if crate::engine::capacity::uses_spot(&deps.config) {
            (0, 1)
        } else {
            (1, 0)
        };
        let mut avoid = deps.store.failed_offers(now).await?;
        avoid.extend(spot.pool.clone());
        let req = LaunchRequest {
            operation_id: id.clone(),
            on_demand,
            spot: spot_count,
            instance_types: vec![],
            avoid,
        };
        match deps.provisioner.launch(&req).await {
            Ok(launched) => {
                super::launch_nodes::remember_failed_offers(doc, deps, &launched, now).await?;
                let launched = launched.instances;
                let what: Vec<String> = launched
                    .iter()
                    .map(|i| {
                        format!(
                            "{} ({} {:?})",
                            i.instance_id, i.instance_type, i.capacity_type
                        )
                    })
                    .collect();
                (
                    1,
                    launched.into_iter().map(|i| i.instance_id).collect(),
                    format!(
                        "{why} for {instance_id} ({node}): replacement {}",
                        what.join(", ")
                    ),
                )
            }
            Err(e) if e.is_retryable() || matches!(e, Error::LeaseLost { .. }) => return Err(e),
            Err(e) => {
                tracing::warn!(error = %e, "no replacement for the signalled worker");
                (
                    1,
                    vec![],
                    format!("{why} for {instance_id} ({node}): no replacement launched: {e}"),
                )
            }
        }
    };
    let op = Operation {
        id,
        kind: OperationKind::SpotReplace,
        instance_ids,
        node_name: spot.node_name.clone(),
        started_at: now,
        deadline: lifecycle::deadline(OperationKind::SpotReplace, &deps.config, now),
        requested_count,
        reason,
        recovery_attempts: 0,
    };
    deps.store.save_operation(&lease, &op).await?;
    Ok(op)
}

/// RetireNode: for a rebalance whose replacement joined (`$.ready` is `ready` with an instance)
/// or that needed none (`requested_count` 0: `MAX_NODES`), renews the lease and records a
/// `scale_down` of the signalled worker (its instance and node, `deadline = now +
/// DRAIN_TIMEOUT`) as the operation in flight, which the scale-down steps carry out. Otherwise (a
/// warning, whose worker EC2 reclaims; a rebalance whose replacement did not join, which keeps
/// its worker; a signalled instance without a node) the replacement operation is returned
/// unchanged, and RouteRetire goes on to RecordOutcome.
///
/// Errors: `LeaseLost`, `InvalidInput` without `spot`, `instance_id` or `operation`, the store's
/// `Transient`.
pub async fn retire(doc: &ExecutionDocument, deps: &Deps, now: DateTime<Utc>) -> Result<Operation> {
    let (spot, instance_id) = spot_of(doc, "retiring the signalled worker")?;
    let op = doc.require_operation()?;
    let joined = doc
        .ready
        .as_ref()
        .is_some_and(|r| r.status == ReadyStatus::Ready && !r.ready.is_empty());
    let (SpotSignalKind::Rebalance, Some(node), true) = (
        spot.signal,
        spot.node_name.as_deref(),
        joined || op.requested_count == 0,
    ) else {
        return Ok(op.clone());
    };
    let lease = renew(doc, deps, now).await?;
    let retire = Operation {
        id: format!("{}-retire", op.id),
        kind: OperationKind::ScaleDown,
        instance_ids: vec![instance_id],
        node_name: Some(node.to_string()),
        started_at: now,
        deadline: lifecycle::deadline(OperationKind::ScaleDown, &deps.config, now),
        requested_count: 0,
        reason: format!("{}; retiring {node}", op.reason),
        recovery_attempts: 0,
    };
    deps.store.save_operation(&lease, &retire).await?;
    Ok(retire)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seams::{CapacityType, Pool};
    use crate::steps::document::ReadyPart;
    use crate::steps::testkit::*;

    fn spot(signal: SpotSignalKind) -> SpotPart {
        let pool = Pool {
            instance_type: "t3.small".into(),
            zone: "eu-west-1a".into(),
        };
        drained_spot(signal, "w1", Some(pool), 2)
    }

    async fn doc(w: &World, signal: SpotSignalKind) -> ExecutionDocument {
        let mut d = w.doc_with_lease(t0()).await;
        d.instance_id = Some("i-1".into());
        d.spot = Some(spot(signal));
        d
    }

    struct LaunchCase {
        name: &'static str,
        max_nodes: u32,
        launch_error: Option<Error>,
        stolen: bool,
        /// `(requested, launched)`, or the error kind.
        want: std::result::Result<(u32, usize), &'static str>,
        reason_has: &'static str,
    }

    #[tokio::test]
    async fn launch_paths() {
        let cases = [
            LaunchCase {
                name: "room under MAX_NODES: one replacement",
                max_nodes: 10,
                launch_error: None,
                stolen: false,
                want: Ok((1, 1)),
                reason_has: "replacement i-new1",
            },
            LaunchCase {
                name: "the signalled worker does not count against MAX_NODES",
                max_nodes: 2,
                launch_error: None,
                stolen: false,
                want: Ok((1, 1)),
                reason_has: "replacement",
            },
            LaunchCase {
                name: "at MAX_NODES without it: none",
                max_nodes: 1,
                launch_error: None,
                stolen: false,
                want: Ok((0, 0)),
                reason_has: "at MAX_NODES 1",
            },
            LaunchCase {
                name: "no capacity anywhere: recorded, not raised",
                max_nodes: 10,
                launch_error: Some(Error::NoCapacity {
                    context: "l".into(),
                    detail: "all pools".into(),
                }),
                stolen: false,
                want: Ok((1, 0)),
                reason_has: "no replacement launched",
            },
            LaunchCase {
                name: "throttled: retried by the machine",
                max_nodes: 10,
                launch_error: Some(Error::transient("l", "RequestLimitExceeded")),
                stolen: false,
                want: Err("Retryable"),
                reason_has: "",
            },
            LaunchCase {
                name: "lease lost: nothing launched",
                max_nodes: 10,
                launch_error: None,
                stolen: true,
                want: Err("LeaseLost"),
                reason_has: "",
            },
        ];
        for c in cases {
            let mut w = World::new();
            w.deps.config.policy.max_nodes = c.max_nodes;
            *w.ec2.next_launch_error.lock().unwrap() = c.launch_error;
            let d = doc(&w, SpotSignalKind::Warning).await;
            if c.stolen {
                w.steal_lease().await;
            }
            match (launch(&d, &w.deps, at(5)).await, c.want) {
                (Ok(op), Ok((requested, launched))) => {
                    assert_eq!(op.kind, OperationKind::SpotReplace, "case {}", c.name);
                    assert_eq!(op.requested_count, requested, "case {}", c.name);
                    assert_eq!(op.instance_ids.len(), launched, "case {}", c.name);
                    assert_eq!(op.deadline, at(5 + 300), "case {}: JOIN_TIMEOUT", c.name);
                    assert!(
                        op.reason.contains(c.reason_has),
                        "case {}: {}",
                        c.name,
                        op.reason
                    );
                    let stored = w.store.snapshot().operation.unwrap();
                    assert_eq!(stored.id, "spot-i-1", "case {}", c.name);
                    assert_eq!(stored.instance_ids, op.instance_ids, "case {}", c.name);
                }
                (Err(e), Err(kind)) => assert_eq!(e.kind(), kind, "case {}", c.name),
                (got, want) => panic!("case {}: got {got:?}, want {want:?}", c.name),
            }
            let calls = w.ec2.launch_calls.lock().unwrap().clone();
            if let Some(call) = calls.first() {
                assert_eq!(
                    call.avoid,
                    spot(SpotSignalKind::Warning)
                        .pool
                        .into_iter()
                        .collect::<Vec<_>>(),
                    "case {}: the interrupted pool is avoided",
                    c.name
                );
            }
        }
    }

    #[tokio::test]
    async fn a_second_signal_launches_no_second_replacement() {
        let w = World::new();
        let d = doc(&w, SpotSignalKind::Rebalance).await;
        let first = launch(&d, &w.deps, at(5)).await.unwrap();
        let second = launch(&d, &w.deps, at(50)).await.unwrap();
        assert_eq!(first.instance_ids, second.instance_ids);
        assert_eq!(w.ec2.live_ids().len(), 3);
        let replacement = w
            .ec2
            .instances
            .lock()
            .unwrap()
            .clone()
            .into_iter()
            .find(|i| i.instance_id == first.instance_ids[0])
            .unwrap();
        assert_eq!(replacement.capacity_type, CapacityType::OnDemand);
    }

    struct RetireCase {
        name: &'static str,
        signal: SpotSignalKind,
        ready: Option<(&'static [&'static str], &'static [&'static str])>,
        requested: u32,
        want_retire: bool,
    }

    #[tokio::test]
    async fn retire_paths() {
        let cases = [
            RetireCase {
                name: "rebalance, replacement joined: retire",
                signal: SpotSignalKind::Rebalance,
                ready: Some((&["i-new1"], &[])),
                requested: 1,
                want_retire: true,
            },
            RetireCase {
                name: "rebalance at MAX_NODES: retire without a replacement",
                signal: SpotSignalKind::Rebalance,
                ready: Some((&[], &[])),
                requested: 0,
                want_retire: true,
            },
            RetireCase {
                name: "rebalance, replacement did not join: keep the worker",
                signal: SpotSignalKind::Rebalance,
                ready: None,
                requested: 1,
                want_retire: false,
            },
            RetireCase {
                name: "rebalance, no capacity for a replacement: keep the worker",
                signal: SpotSignalKind::Rebalance,
                ready: Some((&[], &[])),
                requested: 1,
                want_retire: false,
            },
            RetireCase {
                name: "warning: EC2 reclaims the worker",
                signal: SpotSignalKind::Warning,
                ready: Some((&["i-new1"], &[])),
                requested: 1,
                want_retire: false,
            },
        ];
        for c in cases {
            let w = World::new();
            let mut d = doc(&w, c.signal).await;
            let replacement = Operation {
                requested_count: c.requested,
                ..launch(&d, &w.deps, at(5)).await.unwrap()
            };
            d.operation = Some(replacement.clone());
            d.ready = c.ready.map(|(ready, not_ready)| ReadyPart {
                status: if not_ready.is_empty() {
                    ReadyStatus::Ready
                } else {
                    ReadyStatus::DeadlinePassed
                },
                ready: ready.iter().map(|s| s.to_string()).collect(),
                not_ready: not_ready.iter().map(|s| s.to_string()).collect(),
            });
            let got = retire(&d, &w.deps, at(60)).await.unwrap();
            if c.want_retire {
                assert_eq!(got.kind, OperationKind::ScaleDown, "case {}", c.name);
                assert_eq!(got.instance_ids, vec!["i-1".to_string()], "case {}", c.name);
                assert_eq!(got.node_name.as_deref(), Some("w1"), "case {}", c.name);
                assert_eq!(got.deadline, at(60 + 300), "case {}", c.name);
                assert_eq!(
                    w.store.snapshot().operation.unwrap().id,
                    got.id,
                    "case {}",
                    c.name
                );
            } else {
                assert_eq!(got, replacement, "case {}", c.name);
            }
        }
    }
}
