//! LaunchNodes: launch the workers of a scale-up and start its join deadline.

use super::document::ExecutionDocument;
use super::{renew, send_all, Deps};
use crate::config::Policy;
use crate::engine::capacity::{self, LaunchPlan};
use crate::error::{Error, Result};
use crate::lifecycle;
use crate::model::{Operation, OperationKind};
use crate::notify::{Notification, NotificationKind};
use crate::seams::{CapacityType, LaunchRequest, Launched};
use chrono::{DateTime, Utc};

/// Renews the lease, makes sure `$.decision.count` workers exist for the operation (the
/// provisioner launches only what is missing, so a retry launches nothing twice), records the
/// instance ids and the join deadline (`now + JOIN_TIMEOUT`) in the state table, tells people the
/// scale-up started (best effort: a failed notification is logged, never raised) and returns
/// the operation as `$.operation`.
///
/// Errors: `LeaseLost` (nothing launched), `QuotaExceeded`, `NoCapacity` (Fatal), `Transient`,
/// `InvalidInput` when the operation is not a scale-up.
pub async fn run(doc: &ExecutionDocument, deps: &Deps, now: DateTime<Utc>) -> Result<Operation> {
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
    let plan = launch_plan(doc, count, &deps.config);
    let avoid = deps.store.failed_offers(now).await?;
    let launched = deps
        .provisioner
        .launch(&LaunchRequest {
            operation_id: op.id.clone(),
            on_demand: plan.on_demand,
            spot: plan.spot,
            instance_types: plan.instance_types,
            avoid,
        })
        .await?;
    remember_failed_offers(doc, deps, &launched, now).await?;
    let instances = launched.instances;
    let mut launched = op.clone();
    launched.instance_ids = instances.iter().map(|i| i.instance_id.clone()).collect();
    launched.instance_ids.sort();
    launched.requested_count = count;
    launched.deadline = lifecycle::deadline(OperationKind::ScaleUp, &deps.config, now);
    deps.store.save_operation(&lease, &launched).await?;

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

/// The launch of `count` workers: the scale-up decision's plan (the engine's capacity mix) when
/// the document carries one for that count, else the engine's plan for `count` workers onto an
/// empty mix (a document written before the mix existed).
pub fn launch_plan(doc: &ExecutionDocument, count: u32, cfg: &Policy) -> LaunchPlan {
    doc.decision
        .as_ref()
        .and_then(|d| d.launch.clone())
        .filter(|p| p.total() == count)
        .unwrap_or_else(|| {
            capacity::plan(
                capacity::Mix::default(),
                count,
                cfg.worker_instance_types.clone(),
                cfg,
            )
        })
}

/// Remembers the Spot pools a launch found without capacity for
/// [`fleet::OFFER_MEMORY_SECS`](crate::adapters::ec2::fleet::OFFER_MEMORY_SECS), so the next
/// launches skip them, and warns people once per launch that their share went on-demand
/// ("Spot unavailable in ap-south-1a for t3.small, launched on-demand"; best effort).
/// Errors: the store's `Transient`.
pub(crate) async fn remember_failed_offers(
    doc: &ExecutionDocument,
    deps: &Deps,
    launched: &Launched,
    now: DateTime<Utc>,
) -> Result<()> {
    if launched.failed_offers.is_empty() {
        return Ok(());
    }
    let pools: Vec<_> = launched
        .failed_offers
        .iter()
        .map(|f| f.pool.clone())
        .collect();
    let secs = crate::adapters::ec2::fleet::OFFER_MEMORY_SECS;
    deps.store
        .remember_failed_offers(&pools, now + chrono::Duration::seconds(secs as i64))
        .await?;
    let on_demand = launched
        .instances
        .iter()
        .filter(|i| i.capacity_type == CapacityType::OnDemand)
        .count();
    let n = Notification {
        kind: NotificationKind::SpotUnavailable,
        cluster_id: doc.cluster_id.clone(),
        reason: launched
            .failed_offers
            .iter()
            .map(|f| {
                format!(
                    "Spot unavailable in {} for {}, launched on-demand ({})",
                    f.pool.zone, f.pool.instance_type, f.code
                )
            })
            .collect::<Vec<_>>()
            .join("; "),
        action: format!(
            "{on_demand} on-demand worker(s) in this launch; the pool(s) are skipped for {} min",
            secs / 60
        ),
        nodes_before: None,
        nodes_after: None,
        recommendation: Some(
            "Nothing to do if it is rare; if it recurs, add instance types (WORKER_INSTANCE_TYPES) or subnets in other zones".into(),
        ),
        recovered: false,
        time: now,
        execution_arn: Some(doc.execution_id.clone()),
    };
    send_all(deps, &n).await;
    Ok(())
}

pub(crate) fn reason_of(doc: &ExecutionDocument, op: &Operation) -> String {
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
    use crate::seams::{FailedOffer, Pool, StateStore};
    use crate::steps::testkit::*;

    struct LaunchCase {
        name: &'static str,
        count: u32,
        launch_error: Option<Error>,
        /// Another execution took the lease over before the step.
        stolen: bool,
        /// Launched ids, or the error kind.
        want: std::result::Result<usize, &'static str>,
    }

    #[tokio::test]
    async fn launch_paths() {
        let cases = [
            LaunchCase {
                name: "launches two",
                count: 2,
                launch_error: None,
                stolen: false,
                want: Ok(2),
            },
            LaunchCase {
                name: "quota",
                count: 2,
                launch_error: Some(Error::QuotaExceeded {
                    context: "launch".into(),
                    detail: "VcpuLimitExceeded".into(),
                }),
                stolen: false,
                want: Err("QuotaExceeded"),
            },
            LaunchCase {
                name: "no capacity",
                count: 1,
                launch_error: Some(Error::NoCapacity {
                    context: "launch".into(),
                    detail: "all types".into(),
                }),
                stolen: false,
                want: Err("Fatal"),
            },
            LaunchCase {
                name: "throttled",
                count: 1,
                launch_error: Some(Error::transient("launch", "RequestLimitExceeded")),
                stolen: false,
                want: Err("Retryable"),
            },
            LaunchCase {
                name: "lease lost launches nothing",
                count: 2,
                launch_error: None,
                stolen: true,
                want: Err("LeaseLost"),
            },
        ];
        for c in cases {
            let name = c.name;
            let w = World::new();
            *w.ec2.next_launch_error.lock().unwrap() = c.launch_error;
            let mut doc = w.doc_with_lease(t0()).await;
            doc.decision = Some(scale_up_decision(c.count));
            doc.operation = Some(scale_up_op("c1-op-1", &[], at(300)));
            doc.metrics = Some(summary(2));
            if c.stolen {
                w.steal_lease().await;
            }
            match (run(&doc, &w.deps, at(5)).await, c.want) {
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
            assert_eq!(calls, usize::from(!c.stolen), "case {name}: launch calls");
        }
    }

    struct PlanCase {
        name: &'static str,
        /// The decision's plan, if the document carries one.
        plan: Option<LaunchPlan>,
        want_split: (u32, u32),
        want_types: &'static [&'static str],
    }

    #[tokio::test]
    async fn the_launch_follows_the_decisions_capacity_plan() {
        let plan = |on_demand, spot, types: &[&str]| LaunchPlan {
            on_demand,
            spot,
            instance_types: types.iter().map(|t| t.to_string()).collect(),
        };
        let cases = [
            PlanCase {
                name: "the mix and a burst type as decided",
                plan: Some(plan(1, 2, &["t3.xlarge"])),
                want_split: (1, 2),
                want_types: &["t3.xlarge"],
            },
            PlanCase {
                name: "a plan for another count is not used: the policy's plan",
                plan: Some(plan(0, 1, &["t3.xlarge"])),
                want_split: (3, 0),
                want_types: &["t3.small"],
            },
            PlanCase {
                name: "no plan (an older document): the policy's plan",
                plan: None,
                want_split: (3, 0),
                want_types: &["t3.small"],
            },
        ];
        for c in cases {
            let name = c.name;
            let w = World::new();
            let mut doc = w.doc_with_lease(t0()).await;
            let mut d = scale_up_decision(3);
            d.launch = c.plan;
            doc.decision = Some(d);
            doc.operation = Some(scale_up_op("c1-op-1", &[], at(300)));
            run(&doc, &w.deps, at(5)).await.unwrap();
            let req = w.ec2.launch_calls.lock().unwrap()[0].clone();
            assert_eq!((req.on_demand, req.spot), c.want_split, "case {name}");
            assert_eq!(req.instance_types, c.want_types, "case {name}");
        }
    }

    struct SplitCase {
        name: &'static str,
        use_spot: bool,
        /// Spot pools without capacity at the launch.
        no_capacity: &'static [(&'static str, &'static str)],
        /// Offers remembered before the launch: skipped in the request.
        remembered: &'static [(&'static str, &'static str)],
        want_split: (u32, u32),
        want_warning: Option<&'static str>,
    }

    #[tokio::test]
    async fn spot_offers_are_remembered_skipped_and_warned_about() {
        let cases = [
            SplitCase {
                name: "on-demand only",
                use_spot: false,
                no_capacity: &[],
                remembered: &[],
                want_split: (2, 0),
                want_warning: None,
            },
            SplitCase {
                name: "spot served",
                use_spot: true,
                no_capacity: &[],
                remembered: &[("t3a.small", "eu-west-1b")],
                want_split: (0, 2),
                want_warning: None,
            },
            SplitCase {
                name: "spot unavailable: warned, remembered",
                use_spot: true,
                no_capacity: &[("t3.small", "ap-south-1a")],
                remembered: &[],
                want_split: (0, 2),
                want_warning: Some(
                    "Spot unavailable in ap-south-1a for t3.small, launched on-demand (InsufficientInstanceCapacity)",
                ),
            },
        ];
        let pool = |(t, z): &(&str, &str)| Pool {
            instance_type: t.to_string(),
            zone: z.to_string(),
        };
        for c in cases {
            let name = c.name;
            let mut w = World::new();
            if c.use_spot {
                w.deps.config.on_demand_base_capacity = 0;
                w.deps.config.on_demand_percentage_above_base_pct = 0.0;
            }
            *w.ec2.no_spot_capacity.lock().unwrap() = c
                .no_capacity
                .iter()
                .map(|p| FailedOffer {
                    pool: pool(p),
                    code: "InsufficientInstanceCapacity".into(),
                })
                .collect();
            let remembered: Vec<Pool> = c.remembered.iter().map(pool).collect();
            w.store
                .remember_failed_offers(&remembered, at(100))
                .await
                .unwrap();
            let mut doc = w.doc_with_lease(t0()).await;
            doc.decision = Some(scale_up_decision(2));
            doc.operation = Some(scale_up_op("c1-op-1", &[], at(300)));
            run(&doc, &w.deps, at(5)).await.unwrap();
            let req = w.ec2.launch_calls.lock().unwrap()[0].clone();
            assert_eq!((req.on_demand, req.spot), c.want_split, "case {name}");
            assert_eq!(
                req.avoid, remembered,
                "case {name}: remembered offers skipped"
            );
            let warnings: Vec<String> = w
                .slack
                .sent()
                .into_iter()
                .filter(|n| n.kind == NotificationKind::SpotUnavailable)
                .map(|n| n.reason)
                .collect();
            assert_eq!(
                warnings,
                c.want_warning
                    .map(str::to_string)
                    .into_iter()
                    .collect::<Vec<_>>(),
                "case {name}"
            );
            let now_skipped = w.store.failed_offers(at(6)).await.unwrap();
            for p in c.no_capacity {
                assert!(now_skipped.contains(&pool(p)), "case {name}: remembered");
            }
            let later = w.store.failed_offers(at(5 + 600)).await.unwrap();
            assert!(
                c.no_capacity.iter().all(|p| !later.contains(&pool(p))),
                "case {name}: forgotten after the memory"
            );
        }
    }

    #[tokio::test]
    async fn a_retry_launches_nothing_twice_and_a_failing_notifier_does_not_fail() {
        let mut w = World::new();
        w.deps.notifiers = vec![RecordingNotifier::new("slack", true)];
        let mut doc = w.doc_with_lease(t0()).await;
        doc.decision = Some(scale_up_decision(2));
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
