//! Evaluate: read the state, the cluster and the metrics, and decide — or find an unfinished
//! operation of a dead run and return `recover`.

use super::document::{
    Action, Alert, DecisionPart, EvaluatePart, ExecutionDocument, MetricsSummary,
};
use super::forecast_tick;
use super::ghosts;
use super::identity::Identities;
use super::recovery::{self, RecoveryPlan};
use super::{renew, Deps};
use crate::config::{Config, Policy};
use crate::engine::{Decision, DemandHistory, Inputs, NoChangeReason, Prediction};
use crate::error::Result;
use crate::lifecycle;
use crate::model::{
    parse_provider_id, CachedMetrics, ClusterView, Lease, MetricsSnapshot, Operation,
    OperationKind, Provenance, ScaleAction, ScalingState,
};
use crate::seams::ManagedInstance;
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use std::collections::{HashMap, HashSet};

/// The engine's decision function, as `crate::engine::decide_with` has it (with the cluster's
/// demand history).
pub type DecideFn =
    fn(&Inputs, Option<&DemandHistory>, &ScalingState, &Policy, DateTime<Utc>) -> Decision;

/// [`run_with`] the scaling engine, [`crate::engine::decide_with`].
pub async fn run(doc: &ExecutionDocument, deps: &Deps, now: DateTime<Utc>) -> Result<EvaluatePart> {
    run_with(doc, deps, now, crate::engine::decide_with).await
}

/// The id of the operation this execution starts, [`lifecycle::operation_id`] of the lease's
/// fencing token: the same on every retry of the execution.
pub fn operation_id(cluster_id: &str, lease: &Lease) -> String {
    lifecycle::operation_id(cluster_id, lease.token)
}

/// Renews the lease, then reads at once (concurrently, so a tick takes about its slowest read
/// rather than their sum): the state, the cluster view joined with EC2, the metrics and the
/// forecast item. An operation recorded by another execution (whose lease therefore lapsed, since
/// this one holds it now) is returned as `recover` with its original deadline, its metrics and
/// forecast left unused and nothing written but the recovery. Otherwise joins the cluster view
/// with EC2 ownership (`NodeInfo::managed` by instance id from the provider id), takes the
/// metrics — falling back to the cached snapshot (at most `METRICS_CACHE_MAX_AGE` old, marked
/// cached so the engine uses it for scale-up only) or to an all-missing snapshot when Prometheus
/// fails — asks `decide`, writes the live metrics to the cache beside the forecast item, and
/// records a new operation before returning it. A `none` held at `MAX_NODES`
/// while scale-up is wanted carries `alert: at_maximum_capacity` when [`capacity_alert_due`],
/// and the alert's time is recorded under the lease. Always returns all three parts, and on every
/// path the managed fleet's cost ([`crate::cost::of_fleet`]) for the cost metric.
///
/// The forecast ([`super::forecast_tick`]): the forecast item is read once, backfilled from
/// Prometheus only when due, this tick's need recorded before deciding with it, and written once
/// (with the metrics cache, before the operation is recorded); floor start and end and the `forecast-only` day summary
/// come back as `notices` for Notify.
///
/// Errors: `LeaseLost`, `InvalidInput`, the adapters' `Transient` (cluster, EC2, state table).
/// Prometheus failures are not errors here.
pub async fn run_with(
    doc: &ExecutionDocument,
    deps: &Deps,
    now: DateTime<Utc>,
    decide: DecideFn,
) -> Result<EvaluatePart> {
    let cfg = &deps.config;
    let lease = renew(doc, deps, now).await?;
    let (mut state, (mut view, managed, identity_problems), live, forecast) = futures::try_join!(
        deps.store.load(),
        joined_view(deps),
        async { Ok(deps.metrics.snapshot(now).await) },
        deps.store.load_forecast(),
    )?;
    let own_id = operation_id(&doc.cluster_id, &lease);

    let cost = crate::cost::of_fleet(&managed, cfg);
    let ghosts = remove_ghosts(deps, &mut view, &managed).await?;
    let mut summary = summarise(&view, now);

    if let Some(op) = state.operation.clone() {
        if op.id == own_id {
            // A retry of this Evaluate after it recorded its operation: decide afresh.
            state.operation = None;
        } else if matches!(op.kind, OperationKind::ScaleUp | OperationKind::ScaleDown) {
            return match recovery::plan(&op, &view, &managed) {
                RecoveryPlan::Resume(op) => {
                    deps.store.save_operation(&lease, &op).await?;
                    Ok(priced(recover(op, summary), cost))
                }
                closing => close_recovered(closing, deps, &lease, summary, now)
                    .await
                    .map(|part| priced(part, cost)),
            };
        }
    }

    let snapshot = with_fallback(live, &state, &deps.config, now);
    tracing::info!(provenance = ?snapshot.provenance, "read the metrics");
    summary.cpu_ratio = snapshot.cpu_ratio;
    summary.memory_ratio = snapshot.memory_ratio;
    summary.pending_pods = snapshot.pending_pods;
    summary.cached = matches!(snapshot.provenance, Provenance::Cached { .. });

    let inputs = Inputs {
        metrics: snapshot,
        cluster: view,
    };
    let mut tick = forecast_tick::begin(deps, forecast, &state, &inputs, now).await;
    summary.needed_workers = tick.need;
    if let Some(Prediction::Ready { ahead, .. }) = &tick.prediction {
        summary.forecast_workers = Some(*ahead);
    }
    summary.forecast_error_workers = tick
        .record
        .history
        .issued_for(now, cfg.cluster_utc_offset_secs)
        .zip(tick.need)
        .map(|(f, n)| f - n);
    let decision = decide(&inputs, Some(&tick.record.history), &state, cfg, now);
    tracing::info!(decision = %decision, forecast = ?tick.prediction, "evaluated");
    let notices = forecast_tick::after_decision(&mut tick, &inputs, &state, &decision, deps, now);
    let mut reasons = decision.reason_sentences();
    let mut codes = reason_codes(&decision);
    for ghost in ghosts {
        reasons.push(ghost);
        codes.push("ghost_node_deleted".into());
    }
    for problem in &identity_problems {
        tracing::warn!(problem = %problem, "node identity not verified");
        reasons.push(problem.clone());
        codes.push("node_identity_mismatch".into());
    }
    let reason = reasons.join("; ");

    let (part, operation) = match decision {
        Decision::ScaleUp { count, launch, .. } => (
            DecisionPart {
                action: Action::ScaleUp,
                count,
                node: None,
                instance_id: None,
                reasons,
                codes,
                alert: None,
                launch: Some(launch),
            },
            Some(Operation {
                id: own_id,
                kind: OperationKind::ScaleUp,
                instance_ids: vec![],
                node_name: None,
                started_at: now,
                deadline: lifecycle::deadline(OperationKind::ScaleUp, cfg, now),
                requested_count: count,
                reason,
                recovery_attempts: 0,
            }),
        ),
        Decision::ScaleDown {
            node, instance_id, ..
        } => (
            DecisionPart {
                action: Action::ScaleDown,
                count: 1,
                node: Some(node.clone()),
                instance_id: Some(instance_id.clone()),
                reasons,
                codes,
                alert: None,
                launch: None,
            },
            Some(Operation {
                id: own_id,
                kind: OperationKind::ScaleDown,
                instance_ids: vec![instance_id],
                node_name: Some(node),
                started_at: now,
                deadline: lifecycle::deadline(OperationKind::ScaleDown, cfg, now),
                requested_count: 0,
                reason,
                recovery_attempts: 0,
            }),
        ),
        Decision::NoChange { reasons: why } => {
            let at_maximum = why
                .iter()
                .any(|r| matches!(r, NoChangeReason::AtMaximum { .. }));
            let alert = if at_maximum && capacity_alert_due(&state, &lease, cfg, now) {
                deps.store.record_capacity_alert(&lease, now).await?;
                Some(Alert::AtMaximumCapacity)
            } else if !identity_problems.is_empty() {
                Some(Alert::NodeIdentityMismatch)
            } else {
                None
            };
            (
                DecisionPart {
                    action: Action::None,
                    count: 0,
                    node: None,
                    instance_id: None,
                    reasons,
                    codes,
                    alert,
                    launch: None,
                },
                None,
            )
        }
    };
    futures::try_join!(
        cache_metrics(deps, &lease, &inputs.metrics, now),
        deps.store.save_forecast(&lease, &tick.record, now),
    )?;
    if let Some(op) = &operation {
        deps.store.save_operation(&lease, op).await?;
    }
    Ok(EvaluatePart {
        decision: part,
        operation,
        metrics: Some(summary),
        cost: Some(cost),
        notices,
    })
}

/// `part` with the fleet's cost, which every path reports.
fn priced(part: EvaluatePart, cost: crate::cost::FleetCost) -> EvaluatePart {
    EvaluatePart {
        cost: Some(cost),
        ..part
    }
}

/// True when the "at maximum capacity" alert may be raised at `now`: none was raised yet, the
/// last one is at least `CAPACITY_ALERT_INTERVAL` old, or it was raised under this very lease (a
/// retried Evaluate raises its own alert again rather than losing it).
pub fn capacity_alert_due(
    state: &ScalingState,
    lease: &Lease,
    cfg: &Config,
    now: DateTime<Utc>,
) -> bool {
    match state.capacity_alert {
        None => true,
        Some(last) if last.token == lease.token => true,
        Some(last) => now - last.at >= Duration::seconds(cfg.capacity_alert_interval_secs as i64),
    }
}

/// The cluster view with `managed` set from EC2 and `instance_id` filled from the provider id,
/// EC2's managed instances, and the untrusted claims ([`Identities`]): a Node whose claim on a
/// managed instance is not verified is left unmanaged, so no decision acts on it.
async fn joined_view(deps: &Deps) -> Result<(ClusterView, Vec<ManagedInstance>, Vec<String>)> {
    let (mut view, instances) =
        futures::try_join!(deps.cluster.view(), deps.provisioner.describe_managed())?;
    tracing::info!(instances = instances.len(), "read the managed instances");
    let ids = Identities::of(&view.nodes, &instances);
    let managed: HashSet<&str> = ids.matched.keys().map(String::as_str).collect();
    let capacity: HashMap<&str, _> = instances
        .iter()
        .map(|i| (i.instance_id.as_str(), i.capacity_type))
        .collect();
    for n in &mut view.nodes {
        if n.instance_id.is_none() {
            n.instance_id = n
                .provider_id
                .as_deref()
                .and_then(parse_provider_id)
                .map(|(_, id)| id);
        }
        n.managed = n
            .instance_id
            .as_deref()
            .is_some_and(|id| managed.contains(id))
            && ids.node_of(n.instance_id.as_deref().unwrap_or_default()) == Some(n.name.as_str());
        if let Some(c) = n.instance_id.as_deref().and_then(|id| capacity.get(id)) {
            n.capacity_type = *c;
        }
    }
    Ok((view, instances, ids.problems))
}

/// Deletes the ghost Nodes of `view` ([`ghosts::suspects`] whose instance EC2 reports gone) and
/// drops them from it; returns one sentence per ghost.
async fn remove_ghosts(
    deps: &Deps,
    view: &mut ClusterView,
    managed: &[ManagedInstance],
) -> Result<Vec<String>> {
    let suspects = ghosts::suspects(view, managed);
    if suspects.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<String> = suspects.iter().map(|(_, id)| id.clone()).collect();
    let gone = deps.provisioner.gone(&ids).await?;
    let mut out = Vec::new();
    for (node, id) in suspects.into_iter().filter(|(_, id)| gone.contains(id)) {
        deps.cluster.delete_node(&node).await?;
        view.nodes.retain(|n| n.name != node);
        let s = ghosts::sentence(&node, &id);
        tracing::warn!(node = %node, instance = %id, "{s}");
        out.push(s);
    }
    Ok(out)
}

/// Executes a recovery plan that closes the operation: deletes the Node left by a gone instance,
/// uncordons a given-up scale-down's node, and clears the operation under the lease (a finished
/// scale-down is recorded as one, so its cooldown applies). Returns a `none` decision whose reason
/// says what happened; a given-up operation carries `alert: recovery_abandoned`.
async fn close_recovered(
    plan: RecoveryPlan,
    deps: &Deps,
    lease: &Lease,
    summary: MetricsSummary,
    now: DateTime<Utc>,
) -> Result<EvaluatePart> {
    let (action, why, code, alert, nodes_after) = match plan {
        RecoveryPlan::Resume(_) => unreachable!("a resumed operation is not closed"),
        RecoveryPlan::Finished { delete_node, why } => {
            let mut after = summary.nodes;
            if let Some(node) = &delete_node {
                deps.cluster.delete_node(node).await?;
                after = after.saturating_sub(1);
            }
            (
                Some(ScaleAction::ScaleDown),
                why,
                "recovery_finished",
                None,
                after,
            )
        }
        RecoveryPlan::GiveUp { uncordon, why } => {
            if let Some(node) = &uncordon {
                match deps.cluster.uncordon(node).await {
                    Ok(()) | Err(crate::Error::NotFound { .. }) => {}
                    Err(e) => return Err(e),
                }
            }
            (
                None,
                why,
                "recovery_abandoned",
                Some(Alert::RecoveryAbandoned),
                summary.nodes,
            )
        }
    };
    tracing::warn!(reason = %why, "closed an operation left by a dead run");
    deps.store
        .finish_operation(
            lease,
            &lifecycle::Finish {
                action,
                reason: why.clone(),
                node_count: nodes_after,
                at: now,
            },
        )
        .await?;
    Ok(EvaluatePart {
        decision: DecisionPart {
            action: Action::None,
            count: 0,
            node: None,
            instance_id: None,
            reasons: vec![why],
            codes: vec![code.to_string()],
            alert,
            launch: None,
        },
        operation: None,
        metrics: Some(summary),
        cost: None,
        notices: Vec::new(),
    })
}

fn summarise(view: &ClusterView, now: DateTime<Utc>) -> MetricsSummary {
    MetricsSummary {
        nodes: view.workers().count() as u32,
        ready_nodes: view.workers().filter(|n| n.ready).count() as u32,
        managed_nodes: view.workers().filter(|n| n.managed).count() as u32,
        longest_pending_secs: view
            .pending_pods()
            .map(|p| (now - p.created_at).num_seconds().max(0) as f64)
            .reduce(f64::max),
        ..MetricsSummary::default()
    }
}

/// Stores `snapshot` as the last good metrics when it is live and its required inputs are
/// usable; a cached or incomplete snapshot is not stored. Errors: `LeaseLost`.
async fn cache_metrics(
    deps: &Deps,
    lease: &Lease,
    snapshot: &MetricsSnapshot,
    now: DateTime<Utc>,
) -> Result<()> {
    if snapshot.unusable_required().is_empty() && snapshot.provenance == Provenance::Live {
        let cached = CachedMetrics {
            snapshot: snapshot.clone(),
            fetched_at: now,
        };
        deps.store.save_cached_metrics(lease, &cached).await?;
    }
    Ok(())
}

/// The snapshot Evaluate decides with: `live` when Prometheus answered, else the state's cached
/// snapshot when at most `METRICS_CACHE_MAX_AGE` old (marked cached: the engine uses it for
/// scale-up only), else a snapshot with every input missing.
fn with_fallback(
    live: Result<MetricsSnapshot>,
    state: &ScalingState,
    cfg: &Config,
    now: DateTime<Utc>,
) -> MetricsSnapshot {
    match live {
        Ok(s) => s,
        Err(e) => {
            let max_age = Duration::seconds(cfg.metrics_cache_max_age_secs as i64);
            match &state.cached_metrics {
                Some(c) if now - c.fetched_at <= max_age => {
                    tracing::warn!(error = %e, fetched_at = %c.fetched_at, "metrics unavailable: using the cached snapshot (scale-up only)");
                    MetricsSnapshot {
                        provenance: Provenance::Cached {
                            fetched_at: c.fetched_at,
                        },
                        ..c.snapshot.clone()
                    }
                }
                _ => {
                    tracing::warn!(error = %e, "metrics unavailable and no usable cache: deciding with every input missing");
                    MetricsSnapshot::empty(now)
                }
            }
        }
    }
}

/// What Evaluate would see and decide at `now`, with no lease taken and nothing written: the
/// dry run behind `smartscale explain`.
#[derive(Debug, Clone, Serialize)]
pub struct DryRun {
    /// The state item as loaded.
    pub state: ScalingState,
    /// The engine's inputs: the snapshot Evaluate would decide with, and the cluster view joined
    /// with EC2 as Evaluate joins it (ghost Nodes left out).
    pub inputs: Inputs,
    /// [`crate::engine::explain`] of those inputs: the decision and every rule it weighs.
    pub explanation: crate::engine::Explanation,
    /// An operation left by another execution, which Evaluate would recover before deciding.
    pub recover: Option<Operation>,
    /// The ghost Nodes Evaluate would delete, one sentence each.
    pub ghosts: Vec<String>,
    /// Node identities that do not verify (those nodes are left unmanaged).
    pub identity_problems: Vec<String>,
}

/// Runs Evaluate's reading half — the state, the cluster view joined with EC2, the ghosts, the
/// metrics with the cache fallback — and explains the engine's decision on it, taking no lease,
/// writing nothing and changing nothing in the cluster.
///
/// Errors: the adapters' (`Transient` of the cluster, EC2 or the state table); Prometheus
/// failures are not errors, as in Evaluate.
pub async fn dry_run(deps: &Deps, now: DateTime<Utc>) -> Result<DryRun> {
    let (state, (mut view, managed, identity_problems), live) =
        futures::try_join!(deps.store.load(), joined_view(deps), async {
            Ok(deps.metrics.snapshot(now).await)
        },)?;
    let suspects = ghosts::suspects(&view, &managed);
    let mut ghost_sentences = Vec::new();
    if !suspects.is_empty() {
        let ids: Vec<String> = suspects.iter().map(|(_, id)| id.clone()).collect();
        let gone = deps.provisioner.gone(&ids).await?;
        for (node, id) in suspects.into_iter().filter(|(_, id)| gone.contains(id)) {
            view.nodes.retain(|n| n.name != node);
            ghost_sentences.push(ghosts::sentence(&node, &id));
        }
    }
    let recover = state
        .operation
        .clone()
        .filter(|op| matches!(op.kind, OperationKind::ScaleUp | OperationKind::ScaleDown));
    let inputs = Inputs {
        metrics: with_fallback(live, &state, &deps.config, now),
        cluster: view,
    };
    let explanation = crate::engine::explain(&inputs, &state, &deps.config, now);
    Ok(DryRun {
        state,
        inputs,
        explanation,
        recover,
        ghosts: ghost_sentences,
        identity_problems,
    })
}

fn recover(op: Operation, summary: MetricsSummary) -> EvaluatePart {
    let kind = match op.kind {
        OperationKind::ScaleUp => "scale-up",
        _ => "scale-down",
    };
    let sentence = format!(
        "recovering unfinished {kind} {} of an earlier run (started {}, deadline {})",
        op.id,
        op.started_at.format("%H:%M:%S"),
        op.deadline.format("%H:%M:%S")
    );
    let code = format!("recover_{}", kind.replace('-', "_"));
    let decision = DecisionPart {
        action: Action::Recover,
        count: match op.kind {
            OperationKind::ScaleUp => op.requested_count,
            _ => 1,
        },
        node: op.node_name.clone(),
        instance_id: match op.kind {
            OperationKind::ScaleDown => op.instance_ids.first().cloned(),
            _ => None,
        },
        reasons: vec![sentence],
        codes: vec![code],
        alert: None,
        launch: None,
    };
    EvaluatePart {
        decision,
        operation: Some(op),
        metrics: Some(summary),
        cost: None,
        notices: Vec::new(),
    }
}

/// Short codes of a decision's reasons: the serde tag of each (`cpu_high`, `pending_pods`,
/// `at_maximum`, `cooldown`, ...).
pub fn reason_codes(d: &Decision) -> Vec<String> {
    fn tag<T: Serialize>(r: &T, key: &str) -> String {
        serde_json::to_value(r)
            .ok()
            .and_then(|v| v.get(key).and_then(|t| t.as_str()).map(str::to_owned))
            .unwrap_or_else(|| "unknown".into())
    }
    match d {
        Decision::ScaleUp { reasons, .. } => reasons.iter().map(|r| tag(r, "trigger")).collect(),
        Decision::ScaleDown { reasons, .. } => {
            reasons.iter().map(|r| tag(r, "condition")).collect()
        }
        Decision::NoChange { reasons } => reasons.iter().map(|r| tag(r, "reason")).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::ForecastMode;
    use crate::engine::{NoChangeReason, ScaleDownReason, ScaleUpReason};
    use crate::forecast::ForecastRecord;
    use crate::model::CapacityType;
    use crate::model::{AlertRecord, CachedMetrics, NodeInfo, ScaleAction};
    use crate::notify::NotificationKind;
    use crate::seams::StateStore;
    use crate::steps::testkit::*;

    #[test]
    fn the_summary_carries_the_longest_pending_wait() {
        use crate::model::{PodInfo, PodPhase};
        let pod = |phase, node: Option<&str>, age: i64| PodInfo {
            namespace: "default".into(),
            name: format!("p{age}"),
            node_name: node.map(Into::into),
            phase,
            owner_kind: None,
            owner_name: None,
            workload_replicas: None,
            mirror: false,
            requests: Default::default(),
            has_local_storage: false,
            labels: Default::default(),
            annotations: Default::default(),
            created_at: t0() - chrono::Duration::seconds(age),
        };
        let cases: Vec<(&str, Vec<PodInfo>, Option<f64>)> = vec![
            (
                "nothing pending",
                vec![pod(PodPhase::Running, Some("w1"), 900)],
                None,
            ),
            (
                "the oldest unplaced pod",
                vec![
                    pod(PodPhase::Pending, None, 30),
                    pod(PodPhase::Pending, None, 200),
                ],
                Some(200.0),
            ),
            (
                "a placed pod pulling its image is not waiting for capacity",
                vec![
                    pod(PodPhase::Pending, Some("w1"), 500),
                    pod(PodPhase::Pending, None, 40),
                ],
                Some(40.0),
            ),
        ];
        for (name, pods, want) in cases {
            let view = ClusterView {
                pods,
                ..Default::default()
            };
            assert_eq!(summarise(&view, t0()).longest_pending_secs, want, "{name}");
        }
    }

    /// Scale up by 2 for the pending pods.
    const UP: DecideFn = |inputs, _, _, _, _| Decision::ScaleUp {
        count: 2,
        reasons: vec![ScaleUpReason::PendingPods {
            count: inputs.metrics.pending_pods.unwrap_or(0.0) as u32,
            window_secs: 180,
        }],
        launch: Default::default(),
    };
    /// Scale down the first managed worker.
    const DOWN: DecideFn = |inputs, _, _, _, _| {
        let n = inputs.cluster.workers().find(|n| n.managed).unwrap();
        Decision::ScaleDown {
            node: n.name.clone(),
            instance_id: n.instance_id.clone().unwrap(),
            reasons: vec![ScaleDownReason::NoPendingPods],
        }
    };
    /// Hold at the maximum, which is the workers there are.
    const NONE: DecideFn = |inputs, _, _, _, _| {
        let workers = inputs.cluster.workers().count() as u32;
        Decision::NoChange {
            reasons: vec![NoChangeReason::AtMaximum {
                workers,
                max: workers,
            }],
        }
    };
    /// Scale up only on live metrics, like the engine's cached-metrics rule.
    const UP_IF_CACHED: DecideFn = |inputs, _, _, _, _| match inputs.metrics.provenance {
        Provenance::Cached { .. } => UP(
            inputs,
            None,
            &ScalingState::new("c1"),
            &Config::default(),
            t0(),
        ),
        Provenance::Live => NONE(
            inputs,
            None,
            &ScalingState::new("c1"),
            &Config::default(),
            t0(),
        ),
    };
    /// Hold steady, every condition met.
    const STEADY: DecideFn = |_, _, _, _, _| Decision::NoChange {
        reasons: vec![NoChangeReason::Steady { unmet: vec![] }],
    };

    thread_local! {
        /// The Nodes the engine saw in this test's last [`nodes_seen`] (a `#[tokio::test]` runs
        /// on its own thread).
        static SEEN: std::cell::RefCell<Option<Vec<NodeInfo>>> = const { std::cell::RefCell::new(None) };
    }

    /// [`STEADY`], keeping the Nodes it was asked with.
    const STEADY_SEEING: DecideFn = |inputs, history, state, policy, now| {
        SEEN.with(|s| *s.borrow_mut() = Some(inputs.cluster.nodes.clone()));
        STEADY(inputs, history, state, policy, now)
    };

    /// Evaluates `w` at `at(1)` with the lease taken at `t0` and `decide` as the engine.
    async fn evaluate(w: &World, decide: DecideFn) -> EvaluatePart {
        let doc = w.doc_with_lease(t0()).await;
        run_with(&doc, &w.deps, at(1), decide).await.unwrap()
    }

    /// [`evaluate`] with [`STEADY_SEEING`]; also returns `f` of each Node the engine was asked with.
    async fn nodes_seen<T>(w: &World, f: impl Fn(&NodeInfo) -> T) -> (EvaluatePart, Vec<T>) {
        let got = evaluate(w, STEADY_SEEING).await;
        let seen = SEEN
            .with(|s| s.borrow_mut().take())
            .expect("the engine was asked");
        (got, seen.iter().map(f).collect())
    }

    #[tokio::test]
    async fn decision_paths() {
        // (name, decide, want action, want op kind, want deadline secs)
        let cases: Vec<(&str, DecideFn, Action, Option<OperationKind>, i64)> = vec![
            (
                "scale up",
                UP,
                Action::ScaleUp,
                Some(OperationKind::ScaleUp),
                300,
            ),
            (
                "scale down",
                DOWN,
                Action::ScaleDown,
                Some(OperationKind::ScaleDown),
                300,
            ),
            ("nothing to do", NONE, Action::None, None, 0),
        ];
        for (name, decide, action, kind, deadline) in cases {
            let w = World::new();
            let got = evaluate(&w, decide).await;
            assert_eq!(got.decision.action, action, "case {name}");
            assert_eq!(got.operation.as_ref().map(|o| o.kind), kind, "case {name}");
            let m = got.metrics.clone().unwrap();
            assert_eq!(
                (m.nodes, m.ready_nodes, m.managed_nodes, m.cached),
                (2, 2, 2, false),
                "case {name}"
            );
            assert_eq!(
                w.store.snapshot().operation.map(|o| o.kind),
                kind,
                "case {name}: recorded"
            );
            if let Some(op) = &got.operation {
                assert_eq!(op.id, "c1-op-1", "case {name}");
                assert_eq!(op.deadline, at(1 + deadline), "case {name}");
            }
            assert!(
                !got.decision.reasons.is_empty() && !got.decision.codes.is_empty(),
                "case {name}"
            );
            let v = serde_json::to_value(&got).unwrap();
            for key in ["decision", "operation", "metrics"] {
                assert!(
                    v.get(key).is_some(),
                    "case {name}: key {key} always present"
                );
            }
            assert!(
                w.store.snapshot().cached_metrics.is_some(),
                "case {name}: live metrics cached"
            );
        }
    }

    #[tokio::test]
    async fn every_path_returns_the_three_keys() {
        // (name, decide, operation recorded by a dead run, want action, want operation null)
        let cases: Vec<(&str, DecideFn, bool, &str, bool)> = vec![
            ("hold", STEADY, false, "none", true),
            ("hold at maximum", NONE, false, "none", true),
            ("scale up", UP, false, "scale_up", false),
            ("scale down", DOWN, false, "scale_down", false),
            ("recover", UP, true, "recover", false),
        ];
        for (name, decide, dead_run, action, op_null) in cases {
            let w = World::new();
            if dead_run {
                let mut op = scale_up_op("c1-op-0", &["i-9"], at(-100));
                op.id = "c1-op-0".into();
                w.store.state.lock().unwrap().operation = Some(op);
            }
            let got = evaluate(&w, decide).await;
            let v = serde_json::to_value(&got).unwrap();
            let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
            for key in ["decision", "operation", "metrics"] {
                assert!(keys.contains(&key), "case {name}: key {key} missing in {v}");
            }
            assert_eq!(v["decision"]["action"], action, "case {name}");
            assert_eq!(v["operation"].is_null(), op_null, "case {name}: {v}");
            assert!(v["metrics"].is_object(), "case {name}: {v}");
        }
    }

    #[tokio::test]
    async fn capacity_alert_is_rate_limited() {
        // The lease taken by `doc_with_lease` has token 1; CAPACITY_ALERT_INTERVAL is 1800 s.
        // (name, decide, last alert (secs from t0, token), want alert, want record (secs, token))
        type Case = (
            &'static str,
            DecideFn,
            Option<(i64, u64)>,
            bool,
            Option<(i64, u64)>,
        );
        let cases: Vec<Case> = vec![
            ("first time at maximum", NONE, None, true, Some((1, 1))),
            (
                "again within the interval",
                NONE,
                Some((-600, 0)),
                false,
                Some((-600, 0)),
            ),
            (
                "interval just passed",
                NONE,
                Some((-1799, 0)),
                true,
                Some((1, 1)),
            ),
            (
                "own alert, retried Evaluate",
                NONE,
                Some((0, 1)),
                true,
                Some((1, 1)),
            ),
            ("steady: never", STEADY, None, false, None),
            ("scale up: never", UP, None, false, None),
        ];
        for (name, decide, last, want_alert, want_record) in cases {
            let w = World::new();
            w.store.state.lock().unwrap().capacity_alert =
                last.map(|(s, token)| AlertRecord { at: at(s), token });
            let got = evaluate(&w, decide).await;
            assert_eq!(
                got.decision.alert,
                want_alert.then_some(Alert::AtMaximumCapacity),
                "case {name}"
            );
            let v = serde_json::to_value(&got.decision).unwrap();
            assert_eq!(
                v.get("alert").and_then(|a| a.as_str()),
                want_alert.then_some("at_maximum_capacity"),
                "case {name}: absent unless raised"
            );
            assert_eq!(
                w.store.snapshot().capacity_alert,
                want_record.map(|(s, token)| AlertRecord { at: at(s), token }),
                "case {name}: recorded"
            );
        }
    }

    #[tokio::test]
    async fn capacity_alert_needs_the_lease() {
        let w = World::new();
        let doc = w.doc_with_lease(t0()).await;
        w.store.fail_next(
            "record_capacity_alert",
            crate::Error::LeaseLost {
                context: "stolen".into(),
            },
        );
        let err = run_with(&doc, &w.deps, at(1), NONE).await.unwrap_err();
        assert_eq!(err.kind(), "LeaseLost");
        assert!(w.store.snapshot().capacity_alert.is_none());
    }

    #[tokio::test]
    async fn managed_is_joined_from_ec2_by_provider_id() {
        // w2's instance i-2 runs, but is not SmartScale's: only w1 is managed.
        let w = World::builder()
            .worker("w1", "i-1", true)
            .foreign("w2", "i-2", false)
            .build();
        let (got, seen) =
            nodes_seen(&w, |n| (n.name.clone(), n.managed, n.instance_id.clone())).await;
        assert_eq!(
            seen,
            vec![
                ("w1".into(), true, Some("i-1".into())),
                ("w2".into(), false, Some("i-2".into()))
            ]
        );
        let m = got.metrics.unwrap();
        assert_eq!((m.nodes, m.ready_nodes, m.managed_nodes), (2, 1, 1));
        assert_eq!(got.decision.codes, vec!["steady"]);
    }

    #[tokio::test]
    async fn capacity_type_is_joined_from_ec2() {
        let spot = ManagedInstance {
            capacity_type: CapacityType::Spot,
            ..instance("i-1", None)
        };
        let w = World::builder()
            .node(node("w1", Some("i-1"), true))
            .instance(spot)
            .worker("w2", "i-2", true)
            .node(node("w3", None, true))
            .build();
        let (_, seen) = nodes_seen(&w, |n| (n.name.clone(), n.capacity_type)).await;
        assert_eq!(
            seen,
            vec![
                ("w1".into(), CapacityType::Spot),
                ("w2".into(), CapacityType::OnDemand),
                ("w3".into(), CapacityType::OnDemand)
            ],
            "Spot from EC2; on-demand when EC2 says so or nothing is known"
        );
    }

    #[tokio::test]
    async fn the_output_prices_the_fleet_and_emits_the_cost_lines() {
        use crate::telemetry::StepMetrics;
        use smartscale_engine::engine::capacity::hourly_price;
        let spot = ManagedInstance {
            capacity_type: CapacityType::Spot,
            instance_type: "t3a.small".into(),
            ..instance("i-1", None)
        };
        let gone = ManagedInstance {
            state: "terminated".into(),
            ..instance("i-3", None)
        };
        let w = World::builder()
            .node(node("w1", Some("i-1"), true))
            .instance(spot)
            .worker("w2", "i-2", true)
            .instance(gone)
            .build();
        let doc = w.doc_with_lease(t0()).await;
        let got = run(&doc, &w.deps, at(1)).await.unwrap();
        let cost = got.cost.clone().expect("Evaluate prices the fleet");
        let price = |t, c| hourly_price("us-east-1", t, c).unwrap();
        let want_total =
            price("t3a.small", CapacityType::Spot) + price("t3.small", CapacityType::OnDemand);
        assert!((cost.total() - want_total).abs() < 1e-9, "{cost:?}");
        assert_eq!(cost.spot_share, 0.5, "the terminated worker is not counted");
        let lines = got.emf_lines(&doc, &w.deps.config, at(1));
        let fleet = lines
            .iter()
            .find(|l| l.get("SavingsVsBaseline").is_some())
            .expect("the fleet's cost line");
        let baseline = 5.0 * price("t3.small", CapacityType::OnDemand);
        assert_eq!(fleet["BaselineHourlyCost"], baseline);
        assert!(
            (fleet["SavingsVsBaseline"].as_f64().unwrap() - (1.0 - want_total / baseline) * 100.0)
                .abs()
                < 1e-9
        );
        assert_eq!(fleet["SpotShare"], 50.0);
        let spot_line = lines
            .iter()
            .find(|l| l["CapacityType"] == "spot" && l.get("InstanceType").is_none())
            .expect("HourlyCost by CapacityType");
        assert_eq!(
            spot_line["HourlyCost"],
            price("t3a.small", CapacityType::Spot)
        );
    }

    #[tokio::test]
    async fn metrics_fallbacks() {
        // (name, prometheus up, cache age secs, want cached, want decision)
        let cases: Vec<(&str, bool, Option<i64>, bool, Action)> = vec![
            ("live", true, Some(60), false, Action::None),
            ("down, young cache", false, Some(300), true, Action::ScaleUp),
            ("down, old cache", false, Some(601), false, Action::None),
            ("down, no cache", false, None, false, Action::None),
        ];
        for (name, up_, cache_age, cached, action) in cases {
            let w = World::new();
            if !up_ {
                *w.prom.0.lock().unwrap() = None;
            }
            if let Some(age) = cache_age {
                w.store.state.lock().unwrap().cached_metrics = Some(CachedMetrics {
                    snapshot: live_metrics(at(-age), 0.95, 4.0),
                    fetched_at: at(-age),
                });
            }
            let doc = w.doc_with_lease(t0()).await;
            let got = run_with(&doc, &w.deps, t0(), UP_IF_CACHED).await.unwrap();
            assert_eq!(got.metrics.as_ref().unwrap().cached, cached, "case {name}");
            assert_eq!(got.decision.action, action, "case {name}");
            if cached {
                assert_eq!(got.metrics.unwrap().cpu_ratio, Some(0.95), "case {name}");
            }
        }
    }

    #[tokio::test]
    async fn recovery_and_retry() {
        // (name, recorded operation id, kind, want action)
        let cases: Vec<(&str, &str, OperationKind, Action)> = vec![
            (
                "dead run's scale-up",
                "c1-op-0",
                OperationKind::ScaleUp,
                Action::Recover,
            ),
            (
                "dead run's scale-down",
                "c1-op-0",
                OperationKind::ScaleDown,
                Action::Recover,
            ),
            (
                "own operation on retry",
                "c1-op-1",
                OperationKind::ScaleUp,
                Action::ScaleUp,
            ),
        ];
        for (name, id, kind, action) in cases {
            let w = World::new();
            let doc = w.doc_with_lease(t0()).await;
            let mut op: Operation = if kind == OperationKind::ScaleUp {
                scale_up_op(id, &["i-9"], at(-100))
            } else {
                scale_down_op("w1", "i-1", at(-100))
            };
            op.id = id.into();
            w.store.state.lock().unwrap().operation = Some(op);
            let got = run_with(&doc, &w.deps, at(1), UP).await.unwrap();
            assert_eq!(got.decision.action, action, "case {name}");
            let op = got.operation.unwrap();
            if action == Action::Recover {
                assert_eq!(
                    (op.id.as_str(), op.kind, op.deadline),
                    (id, kind, at(-100)),
                    "case {name}: original deadline kept"
                );
                assert!(
                    got.decision.reasons[0].contains("recovering"),
                    "case {name}"
                );
                assert!(got.metrics.is_some(), "case {name}");
                if kind == OperationKind::ScaleDown {
                    assert_eq!(
                        (
                            got.decision.node.as_deref(),
                            got.decision.instance_id.as_deref()
                        ),
                        (Some("w1"), Some("i-1")),
                        "case {name}"
                    );
                }
            } else {
                assert_eq!(op.id, "c1-op-1", "case {name}");
            }
        }
    }

    /// A dead run's scale-down whose every takeover fails (cordon, drain …) is resumed
    /// `MAX_RECOVERY_ATTEMPTS` times, then given up once with an alert, its node uncordoned, and
    /// the next tick decides afresh.
    #[tokio::test]
    async fn recovery_is_bounded() {
        let w = World::new();
        w.k8s.view.lock().unwrap().nodes[1].unschedulable = true;
        let mut op = scale_down_op("w1", "i-1", at(-100));
        op.id = "c1-op-0".into();
        w.store.state.lock().unwrap().operation = Some(op);
        let mut actions = Vec::new();
        for tick in 0..5 {
            let doc = w.doc_with_lease(at(tick * 120)).await;
            let got = run_with(&doc, &w.deps, at(tick * 120 + 1), UP)
                .await
                .unwrap();
            let attempts = w
                .store
                .snapshot()
                .operation
                .filter(|o| o.id == "c1-op-0")
                .map(|o| o.recovery_attempts);
            actions.push((got.decision.action, got.decision.alert, attempts));
        }
        assert_eq!(
            actions,
            vec![
                (Action::Recover, None, Some(1)),
                (Action::Recover, None, Some(2)),
                (Action::Recover, None, Some(3)),
                (Action::None, Some(Alert::RecoveryAbandoned), None),
                (Action::ScaleUp, None, None),
            ]
        );
        assert!(!w.k8s.node("w1").unwrap().unschedulable, "uncordoned");
        let finished = w.store.finished.lock().unwrap().clone();
        assert_eq!(finished.len(), 1);
        assert!(finished[0].action.is_none() && finished[0].reason.contains("gave up"));
    }

    #[tokio::test]
    async fn recovered_scale_down_already_done_is_closed() {
        // (name, node w1 in the view, want Kubernetes calls)
        type Case = (&'static str, bool, Vec<&'static str>);
        let cases: Vec<Case> = vec![
            ("node deleted, instance terminated", false, vec![]),
            ("instance terminated", true, vec!["delete w1"]),
        ];
        for (name, node_present, calls) in cases {
            let w = World::new();
            if !node_present {
                w.k8s.view.lock().unwrap().nodes.retain(|n| n.name != "w1");
            }
            w.ec2
                .instances
                .lock()
                .unwrap()
                .retain(|i| i.instance_id != "i-1");
            let mut op = scale_down_op("w1", "i-1", at(-100));
            op.id = "c1-op-0".into();
            w.store.state.lock().unwrap().operation = Some(op);
            let got = evaluate(&w, UP).await;
            assert_eq!(got.decision.action, Action::None, "case {name}");
            assert_eq!(got.decision.codes, vec!["recovery_finished"], "case {name}");
            assert!(got.operation.is_none(), "case {name}");
            assert_eq!(
                w.k8s.calls(),
                calls,
                "case {name}: no cordon of a gone node"
            );
            let s = w.store.snapshot();
            assert!(s.operation.is_none(), "case {name}");
            assert_eq!(
                s.last_scale_action,
                Some(ScaleAction::ScaleDown),
                "case {name}"
            );
        }
    }

    /// A fake idle Node carrying a busy worker's instance id makes neither Node removable, and
    /// a Node with the wrong address is not trusted: both are reasons and an alert.
    #[tokio::test]
    async fn unverified_claims_are_left_out() {
        let mut fake = node("fake", Some("i-1"), true);
        fake.addresses = vec!["10.9.9.9".into()];
        fake.idle_since = Some(at(-3600));
        let mut liar = node("liar", Some("i-3"), true);
        liar.addresses = vec!["10.9.9.8".into()];
        let w = World::builder()
            .worker("w1", "i-1", true)
            .node(fake)
            .worker("w2", "i-2", true)
            .node(liar)
            .instance(instance("i-3", None))
            .build();
        let (got, seen) = nodes_seen(&w, |n| (n.name.clone(), n.managed)).await;
        assert_eq!(
            seen,
            vec![
                ("w1".into(), false),
                ("fake".into(), false),
                ("w2".into(), true),
                ("liar".into(), false)
            ]
        );
        assert_eq!(got.decision.alert, Some(Alert::NodeIdentityMismatch));
        assert_eq!(
            got.decision.codes,
            vec!["steady", "node_identity_mismatch", "node_identity_mismatch"]
        );
        assert_eq!(
            got.decision.reasons[1],
            "nodes w1, fake all claim i-1: none is trusted"
        );
        assert!(got.decision.reasons[2]
            .starts_with("node liar claims i-3 but its address does not match"));
    }

    /// A NotReady Node whose instance died outside SmartScale is deleted and left out of the
    /// fleet; a NotReady Node of a live instance stays.
    #[tokio::test]
    async fn ghost_nodes_are_deleted() {
        let w = World::builder()
            .worker("w1", "i-1", true)
            .node(node("ghost", Some("i-dead"), false))
            .worker("booting", "i-2", false)
            .foreign("foreign", "i-other", false)
            .build();
        let (got, names) = nodes_seen(&w, |n| n.name.clone()).await;
        assert_eq!(names, ["w1", "booting", "foreign"]);
        assert_eq!(w.k8s.calls(), vec!["delete ghost"]);
        assert_eq!(got.decision.codes, vec!["steady", "ghost_node_deleted"]);
        assert!(got.decision.reasons[1].contains("ghost node ghost: its instance i-dead is gone"));
        assert_eq!(got.metrics.unwrap().nodes, 3);
    }

    #[tokio::test]
    async fn lease_lost_decides_nothing() {
        let w = World::new();
        let doc = w.doc_with_lease(t0()).await;
        w.steal_lease().await;
        assert_eq!(
            run_with(&doc, &w.deps, at(1), UP).await.unwrap_err().kind(),
            "LeaseLost"
        );
        assert!(w.store.snapshot().operation.is_none());
        let _ = ScaleAction::ScaleUp;
    }

    /// A dry-run case: how the world is set up before both runs.
    struct DryCase {
        name: &'static str,
        /// Prometheus answers (else it is down and a young cache is used).
        prometheus_up: bool,
        /// An operation left by a dead run.
        dead_run: bool,
        /// A ghost Node (its instance is gone).
        ghost: bool,
    }

    /// The dry run decides what Evaluate decides on the same world, and writes nothing.
    #[tokio::test]
    async fn a_dry_run_decides_as_evaluate_and_writes_nothing() {
        let cases = [
            DryCase {
                name: "live metrics",
                prometheus_up: true,
                dead_run: false,
                ghost: false,
            },
            DryCase {
                name: "Prometheus down: the cache",
                prometheus_up: false,
                dead_run: false,
                ghost: false,
            },
            DryCase {
                name: "an operation of a dead run",
                prometheus_up: true,
                dead_run: true,
                ghost: false,
            },
            DryCase {
                name: "a ghost node",
                prometheus_up: true,
                dead_run: false,
                ghost: true,
            },
        ];
        for c in cases {
            let world = || {
                let mut nodes = vec![node("w1", Some("i-1"), true), node("w2", Some("i-2"), true)];
                if c.ghost {
                    nodes.push(node("ghost", Some("i-dead"), false));
                }
                let w = World::with(nodes, vec![instance("i-1", None), instance("i-2", None)]);
                {
                    let mut st = w.store.state.lock().unwrap();
                    st.cached_metrics = Some(CachedMetrics {
                        snapshot: live_metrics(at(-30), 0.95, 0.0),
                        fetched_at: at(-30),
                    });
                    if c.dead_run {
                        st.operation = Some(scale_up_op("c1-op-0", &["i-9"], at(100)));
                    }
                }
                if !c.prometheus_up {
                    *w.prom.0.lock().unwrap() = None;
                }
                w
            };
            let dry = world();
            let before = dry.store.snapshot();
            let got = dry_run(&dry.deps, at(1)).await.unwrap();
            assert_eq!(
                dry.store.snapshot(),
                before,
                "case {}: nothing written",
                c.name
            );
            assert_eq!(
                dry.k8s.calls(),
                Vec::<String>::new(),
                "case {}: cluster untouched",
                c.name
            );
            assert_eq!(got.recover.is_some(), c.dead_run, "case {}", c.name);
            assert_eq!(got.ghosts.len(), usize::from(c.ghost), "case {}", c.name);

            let live = world();
            let doc = live.doc_with_lease(t0()).await;
            let evaluated = run(&doc, &live.deps, at(1)).await.unwrap();
            let want = if c.dead_run {
                Action::Recover
            } else {
                evaluated.decision.action
            };
            let dry_action = match (&got.recover, got.explanation.decision.action()) {
                (Some(_), _) => Action::Recover,
                (None, "scale_up") => Action::ScaleUp,
                (None, "scale_down") => Action::ScaleDown,
                (None, _) => Action::None,
            };
            assert_eq!(
                dry_action, want,
                "case {}: {:?}",
                c.name, got.explanation.decision
            );
            if !c.dead_run {
                assert_eq!(
                    got.explanation.decision.reason_sentences(),
                    evaluated.decision.reasons[..got.explanation.decision.reason_sentences().len()],
                    "case {}: the same reasons",
                    c.name
                );
            }
        }
    }

    /// What one tick of the forecast reads and writes: (range queries, forecast reads, forecast
    /// writes, all DynamoDB reads).
    fn forecast_calls(w: &World) -> (u32, usize, usize, usize) {
        let calls = w.store.calls.lock().unwrap().clone();
        let n = |m: &str| calls.iter().filter(|c| **c == m).count();
        (
            w.prom.1.load(std::sync::atomic::Ordering::SeqCst),
            n("load_forecast"),
            n("save_forecast"),
            n("load") + n("load_forecast") + n("failed_offers"),
        )
    }

    /// The forecast adds at most one Prometheus query and one DynamoDB read per tick: the range
    /// query only when the history is missing or short and was not backfilled lately.
    #[tokio::test]
    async fn the_forecast_budget_per_tick() {
        struct Case {
            name: &'static str,
            stored: Option<ForecastRecord>,
            mode: ForecastMode,
            /// (range queries, forecast reads, forecast writes, DynamoDB reads)
            want: (u32, usize, usize, usize),
        }
        let mut full = ForecastRecord::default();
        for m in (0..7 * 1440).step_by(10) {
            full.history.record(at(-7 * 86_400 + m * 60), 2.0, 0);
        }
        let lately = ForecastRecord {
            backfilled_at: Some(at(-3600)),
            ..ForecastRecord::default()
        };
        let cases = [
            Case {
                name: "no history: backfilled",
                stored: None,
                mode: ForecastMode::On,
                want: (1, 1, 1, 2),
            },
            Case {
                name: "a full week: no backfill",
                stored: Some(full),
                mode: ForecastMode::On,
                want: (0, 1, 1, 2),
            },
            Case {
                name: "short but backfilled an hour ago",
                stored: Some(lately),
                mode: ForecastMode::On,
                want: (0, 1, 1, 2),
            },
            Case {
                name: "forecast off: floors only, no backfill",
                stored: None,
                mode: ForecastMode::Off,
                want: (0, 1, 1, 2),
            },
        ];
        for c in cases {
            let mut w = World::new();
            w.deps.config.policy.forecast_mode = c.mode;
            *w.store.forecast.lock().unwrap() = c.stored.map(|r| (0, r));
            let doc = w.doc_with_lease(t0()).await;
            w.store.calls.lock().unwrap().clear();
            run(&doc, &w.deps, t0()).await.unwrap();
            assert_eq!(forecast_calls(&w), c.want, "case {}", c.name);
        }
    }

    /// A backfill fills the week from Prometheus's points, and the tick's own need is recorded
    /// beside them; the next tick does not backfill again.
    #[tokio::test]
    async fn the_backfilled_history_is_stored() {
        let w = World::new();
        for tick in 0..2 {
            let doc = w.doc_with_lease(at(tick * 120)).await;
            run(&doc, &w.deps, at(tick * 120)).await.unwrap();
        }
        assert_eq!(w.prom.1.load(std::sync::atomic::Ordering::SeqCst), 1);
        let (_, stored) = w.store.forecast.lock().unwrap().clone().unwrap();
        let starts: Vec<i64> = stored
            .history
            .buckets
            .iter()
            .flatten()
            .map(|b| b.start)
            .collect();
        for (t, _) in demand_points() {
            let start = (t.timestamp() - 1) / 600 * 600;
            assert!(starts.contains(&start), "{t} backfilled: {starts:?}");
        }
        assert!(
            starts.contains(&(t0().timestamp() / 600 * 600)),
            "this tick"
        );
        assert_eq!(stored.backfilled_at, Some(t0()));
        assert_eq!(
            stored.history.latest.map(|(t, _)| t),
            Some(at(120).timestamp())
        );
    }

    /// A floor met within the lead time scales up and is announced once as started, then once as
    /// ended after its window.
    #[tokio::test]
    async fn floors_are_announced_as_they_start_and_end() {
        let mut w = World::new();
        // t0 is Monday 20:00 UTC; the lead is FLOOR_LEAD_TIME (3 minutes) without a measured boot.
        w.deps.config.policy.scheduled_floors =
            crate::engine::floors::parse_floors("mon 20:03-20:30 min=3").unwrap();
        let mut seen = Vec::new();
        for secs in [0, 120, 31 * 60] {
            let doc = w.doc_with_lease(at(secs)).await;
            let got = run(&doc, &w.deps, at(secs)).await.unwrap();
            let kinds: Vec<NotificationKind> = got.notices.iter().map(|n| n.kind).collect();
            seen.push((
                got.decision.action,
                got.decision.codes.first().cloned(),
                kinds,
            ));
            // The operation ends as RecordOutcome would end it.
            if let Some(op) = got.operation {
                let lease = w.store.snapshot().lease.unwrap();
                w.store
                    .finish_operation(
                        &lease,
                        &lifecycle::Finish {
                            action: Some(ScaleAction::ScaleUp),
                            reason: op.reason,
                            node_count: 3,
                            at: at(secs + 60),
                        },
                    )
                    .await
                    .unwrap();
                w.k8s
                    .view
                    .lock()
                    .unwrap()
                    .nodes
                    .push(node("w3", Some("i-3"), true));
                w.ec2.instances.lock().unwrap().push(instance("i-3", None));
            }
        }
        assert_eq!(
            seen,
            vec![
                (
                    Action::ScaleUp,
                    Some("below_floor".into()),
                    vec![NotificationKind::FloorStarted]
                ),
                (Action::None, Some("cooldown".into()), vec![]),
                (
                    Action::None,
                    Some("steady".into()),
                    vec![NotificationKind::FloorEnded]
                ),
            ]
        );
        let stored = w.store.forecast.lock().unwrap().clone().unwrap().1;
        assert_eq!(stored.announced_floor, None);
        assert_eq!(
            stored.history.boot_to_ready_secs,
            Some(60),
            "measured from the launch to the recorded outcome"
        );
    }
}
