//! Property tests for the engine's invariants over generated clusters, metrics and states.

use super::testkit::*;
use super::*;
use crate::model::*;
use chrono::Duration;
use proptest::prelude::*;
use proptest::sample::select;
use std::collections::BTreeMap;

/// Ratios, with the default thresholds' boundaries over-represented.
fn ratio() -> impl Strategy<Value = f64> {
    prop_oneof![
        select(vec![0.0, 0.05, 0.29, 0.3, 0.5, 0.7, 0.75, 0.9, 1.0]),
        0.0..=1.0f64
    ]
}

fn windowed() -> impl Strategy<Value = Option<Windowed>> {
    proptest::option::weighted(
        0.9,
        (ratio(), 0u32..=45).prop_map(|(value, samples)| Windowed { value, samples }),
    )
}

fn metric_names() -> impl Strategy<Value = Vec<MetricName>> {
    let some = proptest::collection::vec(select(MetricName::ALL.to_vec()), 1..=2);
    prop_oneof![3 => Just(vec![]), 1 => some]
}

fn random_snapshot() -> impl Strategy<Value = MetricsSnapshot> {
    (
        (
            proptest::option::weighted(0.9, ratio()),
            windowed(),
            windowed(),
            proptest::option::weighted(0.9, ratio()),
        ),
        (
            select(vec![0.0, 0.0, 1.0, 4.0]),
            (select(vec![0.0, 0.0, 1.0, 2.0]), 0u32..=14),
        ),
        (
            proptest::option::weighted(0.3, 0.0..2000.0f64),
            windowed(),
            proptest::option::weighted(0.3, 0.0..4.0f64),
            windowed(),
        ),
        (
            metric_names(),
            metric_names(),
            proptest::option::weighted(0.2, 0i64..=1200),
        ),
    )
        .prop_map(
            |(
                (cpu, up, down, mem),
                (pending, (pw, ps)),
                (queue, queue_w, latency, err_w),
                (missing, stale, cached),
            )| {
                MetricsSnapshot {
                    taken_at: t0(),
                    provenance: match cached {
                        Some(age) => Provenance::Cached {
                            fetched_at: ago(age),
                        },
                        None => Provenance::Live,
                    },
                    cpu_ratio: cpu,
                    cpu_min_up_window: up,
                    cpu_max_down_window: down,
                    memory_ratio: mem,
                    pending_pods: Some(pending),
                    pending_pods_min_window: Some(Windowed {
                        value: pw,
                        samples: ps,
                    }),
                    queue_depth: queue,
                    queue_depth_max_down_window: queue_w.map(|w| Windowed {
                        value: w.value * 200.0,
                        ..w
                    }),
                    latency_p95_secs: latency,
                    error_rate_ratio: err_w.map(|w| w.value / 5.0),
                    error_rate_min_window: err_w.map(|w| Windowed {
                        value: w.value / 5.0,
                        ..w
                    }),
                    missing,
                    stale,
                }
            },
        )
}

/// A snapshot where every scale-down condition holds, sometimes nudged onto a boundary or made
/// unusable in one way.
fn idle_snapshot() -> impl Strategy<Value = MetricsSnapshot> {
    (0.0..0.3f64, 0.0..0.5f64, 0.0..100.0f64, 0u32..8).prop_map(|(cpu, mem, queue, nudge)| {
        let m = idle().cpu(cpu).memory(mem).queue(queue);
        match nudge {
            0 => m.cpu(0.3),
            1 => m.memory(0.5),
            2 => m.cpu_down_window(cpu, 39),
            3 => m.stale(MetricName::Cpu),
            4 => m.cached(ago(60)),
            _ => m,
        }
    })
}

fn snapshot() -> impl Strategy<Value = MetricsSnapshot> {
    prop_oneof![random_snapshot(), idle_snapshot()]
}

fn node(i: usize) -> impl Strategy<Value = NodeInfo> {
    (
        select(vec![Some("a"), Some("b"), Some("c"), None]),
        proptest::bool::weighted(0.85),
        proptest::bool::weighted(0.1),
        proptest::bool::weighted(0.05),
        proptest::bool::weighted(0.85),
        proptest::bool::weighted(0.1),
        (0i64..=10, proptest::option::of(0i64..=10)),
    )
        .prop_map(
            move |(zone, ready, cordoned, cp, managed, disabled, (age, idle))| {
                let mut n = worker(&format!("n{i:02}"));
                n.zone = zone.map(str::to_string);
                n.ready = ready;
                n.unschedulable = cordoned;
                n.control_plane = cp;
                n.managed = managed;
                n.created_at = ago(age * 3600);
                n.idle_since = idle.map(|m| ago(m * 60));
                if disabled {
                    n.annotations
                        .insert(drainability::SCALE_DOWN_DISABLED.into(), "true".into());
                }
                n
            },
        )
}

fn pod_on(nodes: usize, i: usize) -> impl Strategy<Value = PodInfo> {
    (
        proptest::option::weighted(0.9, 0..nodes.max(1)),
        select(vec!["default", "default", "kube-system"]),
        select(vec![
            None,
            Some(OwnerKind::Deployment),
            Some(OwnerKind::Deployment),
            Some(OwnerKind::ReplicaSet),
            Some(OwnerKind::StatefulSet),
            Some(OwnerKind::DaemonSet),
            Some(OwnerKind::Job),
        ]),
        select(vec![None, Some(1u32), Some(2), Some(3)]),
        proptest::bool::weighted(0.05),
        select(vec![
            PodPhase::Running,
            PodPhase::Running,
            PodPhase::Pending,
            PodPhase::Succeeded,
            PodPhase::Failed,
        ]),
        select(vec!["web", "api"]),
        select(vec![
            None,
            Some((drainability::SAFE_TO_EVICT, "false")),
            Some((drainability::SAFE_TO_EVICT, "true")),
            Some((drainability::DO_NOT_DISRUPT, "true")),
        ]),
    )
        .prop_map(move |(on, ns, owner, replicas, mirror, phase, app, note)| {
            let mut p = pod(&format!("p{i}"));
            p.node_name = if nodes == 0 {
                None
            } else {
                on.map(|n| format!("n{n:02}"))
            };
            p.namespace = ns.into();
            p.owner_kind = owner;
            p.workload_replicas = replicas;
            p.mirror = mirror;
            p.phase = phase;
            p.labels = BTreeMap::from([("app".to_string(), app.to_string())]);
            if let Some((k, v)) = note {
                p.annotations.insert(k.into(), v.into());
            }
            p
        })
}

fn cluster() -> impl Strategy<Value = ClusterView> {
    (0usize..=11)
        .prop_flat_map(|n| {
            let nodes: Vec<_> = (0..n).map(node).collect();
            let pods = (0usize..=30)
                .prop_flat_map(move |k| (0..k).map(|i| pod_on(n, i)).collect::<Vec<_>>());
            let pdbs = proptest::collection::vec((select(vec!["web", "api"]), -1i32..=2), 0..=2);
            (nodes, pods, pdbs)
        })
        .prop_map(|(nodes, pods, pdbs)| ClusterView {
            nodes,
            pods,
            pdbs: pdbs
                .into_iter()
                .map(|(app, allowed)| PdbInfo {
                    name: app.into(),
                    match_labels: BTreeMap::from([("app".to_string(), app.to_string())]),
                    ..pdb(app, allowed)
                })
                .collect(),
        })
}

fn state() -> impl Strategy<Value = ScalingState> {
    (
        proptest::option::weighted(
            0.7,
            (
                select(vec![ScaleAction::ScaleUp, ScaleAction::ScaleDown]),
                0i64..=1200,
            ),
        ),
        proptest::bool::weighted(0.05),
    )
        .prop_map(|(last, op)| {
            let s = match last {
                Some((action, secs)) => after(action, ago(secs)),
                None => fresh(),
            };
            if op {
                ScalingState {
                    operation: in_flight(OperationKind::ScaleUp).operation,
                    ..s
                }
            } else {
                s
            }
        })
}

fn config() -> impl Strategy<Value = Policy> {
    (1u32..=4, 1u32..=9, 1u32..=3, any::<bool>()).prop_map(|(min, extra, inc, queue)| Policy {
        min_nodes: min,
        max_nodes: min + extra,
        scale_up_max_increment: inc,
        queue_metric_enabled: queue,
        ..Policy::default()
    })
}

fn scenes() -> impl Strategy<Value = Scene> {
    (snapshot(), cluster(), state(), config()).prop_map(|(metrics, cluster, state, cfg)| Scene {
        inputs: Inputs { metrics, cluster },
        history: None,
        state,
        cfg,
        now: t0(),
    })
}

/// The "never remove" rules, written again independently of `drainability`.
fn breaks_a_rule(node: &NodeInfo, cluster: &ClusterView) -> bool {
    let flag = |m: &BTreeMap<String, String>, k: &str, v: &str| {
        m.get(k).map(|x| x.trim().to_ascii_lowercase()) == Some(v.to_string())
    };
    let node_bad = node.control_plane
        || !node.managed
        || !node.ready
        || node.unschedulable
        || node.instance_id.is_none()
        || flag(&node.annotations, drainability::SCALE_DOWN_DISABLED, "true");
    let pod_bad = |p: &PodInfo| {
        let exempt = p.mirror
            || p.owner_kind == Some(OwnerKind::DaemonSet)
            || p.phase == PodPhase::Succeeded
            || p.phase == PodPhase::Failed;
        !exempt
            && (p.namespace == "kube-system"
                || p.owner_kind == Some(OwnerKind::StatefulSet)
                || p.owner_kind.is_none()
                || p.workload_replicas == Some(1)
                || cluster
                    .pdbs
                    .iter()
                    .any(|b| b.selects(p) && b.disruptions_allowed <= 0)
                || flag(&p.annotations, drainability::SAFE_TO_EVICT, "false")
                || flag(&p.annotations, drainability::DO_NOT_DISRUPT, "true"))
    };
    node_bad || on(cluster, node).any(pod_bad) || no_room(node, cluster)
}

/// Pods scheduled on `n`.
fn on<'a>(cluster: &'a ClusterView, n: &'a NodeInfo) -> impl Iterator<Item = &'a PodInfo> + 'a {
    cluster
        .pods
        .iter()
        .filter(move |p| p.node_name.as_deref() == Some(n.name.as_str()))
}

/// The pods a drain of `node` moves need more CPU or memory than the other Ready, schedulable
/// workers have left.
fn no_room(node: &NodeInfo, cluster: &ClusterView) -> bool {
    let finished = |p: &&PodInfo| matches!(p.phase, PodPhase::Succeeded | PodPhase::Failed);
    let sum = |pods: Vec<&PodInfo>| {
        pods.iter().fold((0u64, 0u64), |(c, m), p| {
            (c + p.requests.cpu_millis, m + p.requests.memory_bytes)
        })
    };
    let (need_cpu, need_mem) = sum(on(cluster, node)
        .filter(|p| !(p.mirror || p.owner_kind == Some(OwnerKind::DaemonSet) || finished(p)))
        .collect());
    let (mut free_cpu, mut free_mem) = (0u64, 0u64);
    for n in &cluster.nodes {
        if n.name != node.name && !n.control_plane && n.ready && !n.unschedulable {
            let (c, m) = sum(on(cluster, n).filter(|p| !finished(p)).collect());
            free_cpu += n.allocatable.cpu_millis.saturating_sub(c);
            free_mem += n.allocatable.memory_bytes.saturating_sub(m);
        }
    }
    need_cpu > free_cpu || need_mem > free_mem
}

/// The cooldown of `state`'s last action at `now`, if one is running.
fn in_cooldown(state: &ScalingState, cfg: &Policy, now: chrono::DateTime<chrono::Utc>) -> bool {
    match (state.last_scale_time, state.last_scale_action) {
        (Some(t), Some(ScaleAction::ScaleUp)) => {
            now < t + Duration::seconds(cfg.scale_up_cooldown_secs as i64)
        }
        (Some(t), Some(ScaleAction::ScaleDown)) => {
            now < t + Duration::seconds(cfg.scale_down_cooldown_secs as i64)
        }
        _ => false,
    }
}

/// A scale-up the pending-pods exception lets through a cooldown: at least
/// `COOLDOWN_SCALE_UP_PENDING` after a scale-up or `COOLDOWN_SCALE_DOWN_PENDING` after a
/// scale-down, and a whole `PENDING_PODS_WINDOW` after either, with the pending-pods trigger as
/// its only trigger and a reason that names the cooldown it goes ahead of.
fn is_pending_follow_up(
    d: &Decision,
    state: &ScalingState,
    cfg: &Policy,
    now: chrono::DateTime<chrono::Utc>,
) -> bool {
    let shortened = match state.last_scale_action {
        Some(ScaleAction::ScaleUp) => cfg.scale_up_cooldown_pending_secs,
        Some(ScaleAction::ScaleDown) => cfg.scale_down_cooldown_pending_secs,
        None => return false,
    };
    let waited = state.last_scale_time.is_some_and(|t| {
        now >= t + Duration::seconds(shortened.max(cfg.pending_pods_window_secs) as i64)
    });
    let only_pending = |reasons: &[ScaleUpReason]| {
        reasons.iter().all(|r| {
            matches!(
                r,
                ScaleUpReason::PendingPods { .. }
                    | ScaleUpReason::PendingAheadOfCooldown { .. }
                    | ScaleUpReason::PendingPodsNeedWorkers { .. }
            )
        })
    };
    let names_cooldown = |reasons: &[ScaleUpReason]| {
        reasons.iter().any(|r| {
            matches!(r, ScaleUpReason::PendingAheadOfCooldown { after, .. } if Some(*after) == state.last_scale_action)
        })
    };
    waited
        && matches!(d, Decision::ScaleUp { reasons, .. } if only_pending(reasons) && names_cooldown(reasons))
}

fn is_repair(d: &Decision) -> bool {
    matches!(d, Decision::ScaleUp { reasons, .. } if matches!(reasons.first(), Some(ScaleUpReason::BelowMinimum { .. })))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn bounds_hold(s in scenes()) {
        let fleet = Fleet::of(&s.inputs.cluster);
        match s.decide() {
            Decision::ScaleUp { count, reasons, launch } => {
                prop_assert!(count >= 1 && count <= s.cfg.scale_up_max_increment);
                prop_assert_eq!(launch.total(), count);
                prop_assert!(fleet.workers + count <= s.cfg.max_nodes, "{} + {count} > {}", fleet.workers, s.cfg.max_nodes);
                prop_assert!(!reasons.is_empty());
            }
            Decision::ScaleDown { reasons, .. } => {
                prop_assert!(fleet.workers > s.cfg.min_nodes && fleet.ready > s.cfg.min_nodes);
                prop_assert!(!reasons.is_empty());
            }
            Decision::NoChange { reasons } => prop_assert!(!reasons.is_empty()),
        }
    }

    #[test]
    fn no_action_inside_a_cooldown_but_the_minimum_repair(s in scenes()) {
        let d = s.decide();
        if in_cooldown(&s.state, &s.cfg, s.now) || s.state.operation.is_some() {
            let allowed = s.state.operation.is_none()
                && (is_repair(&d) || is_pending_follow_up(&d, &s.state, &s.cfg, s.now));
            prop_assert!(d.action() == "none" || allowed, "{d}");
        }
    }

    #[test]
    fn never_two_actions_inside_a_cooldown(s in scenes(), later in 0i64..=1200) {
        let first = s.decide();
        let action = match first {
            Decision::ScaleUp { .. } => ScaleAction::ScaleUp,
            Decision::ScaleDown { .. } => ScaleAction::ScaleDown,
            Decision::NoChange { .. } => return Ok(()),
        };
        let next = Scene { state: after(action, s.now), now: s.now + Duration::seconds(later), ..s.clone() };
        let second = next.decide();
        if in_cooldown(&next.state, &next.cfg, next.now) {
            let allowed = is_repair(&second) || is_pending_follow_up(&second, &next.state, &next.cfg, next.now);
            prop_assert!(second.action() == "none" || allowed, "{first} then {second}");
        }
    }

    #[test]
    fn chosen_nodes_break_no_rule(s in scenes()) {
        if let Ok(c) = select_candidate(&s.inputs.cluster, &s.cfg, s.now) {
            let node = s.inputs.cluster.nodes.iter().find(|n| n.name == c.node).expect("the candidate exists");
            prop_assert!(!breaks_a_rule(node, &s.inputs.cluster), "{} breaks a rule", c.node);
            prop_assert_eq!(Some(c.instance_id), node.instance_id.clone());
        }
        if let Decision::ScaleDown { node, .. } = s.decide() {
            let n = s.inputs.cluster.nodes.iter().find(|n| n.name == node).expect("the node exists");
            prop_assert!(!breaks_a_rule(n, &s.inputs.cluster));
        }
        if let Err(excluded) = select_candidate(&s.inputs.cluster, &s.cfg, s.now) {
            prop_assert_eq!(excluded.len(), s.inputs.cluster.nodes.len());
            for n in &s.inputs.cluster.nodes {
                prop_assert!(breaks_a_rule(n, &s.inputs.cluster), "{} was excluded but breaks no rule", n.name);
            }
        }
    }

    #[test]
    fn scale_down_only_on_live_complete_metrics_and_a_healthy_fleet(s in scenes()) {
        if let Decision::ScaleDown { .. } = s.decide() {
            let m = &s.inputs.metrics;
            prop_assert_eq!(m.provenance, Provenance::Live);
            prop_assert!(m.unusable_required().is_empty());
            prop_assert!(!Fleet::of(&s.inputs.cluster).breaker_tripped(&s.cfg));
            prop_assert_eq!(m.pending_pods, Some(0.0));
            prop_assert_eq!(s.inputs.cluster.pending_pods().count(), 0);
        }
    }

    #[test]
    fn decisions_are_deterministic_and_order_free(s in scenes(), seed in any::<u64>()) {
        let d = s.decide();
        prop_assert_eq!(&d, &s.decide());
        let mut shuffled = s.clone();
        let n = shuffled.inputs.cluster.nodes.len();
        if n > 1 {
            shuffled.inputs.cluster.nodes.rotate_left((seed as usize) % n);
        }
        shuffled.inputs.cluster.pods.reverse();
        let e = shuffled.decide();
        let key = |d: &Decision| match d {
            Decision::ScaleUp { count, .. } => format!("up {count}"),
            Decision::ScaleDown { node, .. } => format!("down {node}"),
            Decision::NoChange { .. } => format!("none {:?}", tags(d)),
        };
        prop_assert_eq!(key(&d), key(&e));
    }
}
