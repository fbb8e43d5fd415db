//! `decide`: one named case per rule and per boundary.

use super::testkit::*;
use super::*;
use crate::model::{
    MetricName, MetricsSnapshot, OperationKind, OwnerKind, ScaleAction, ScalingState,
};

/// What a case expects: the action, and the reasons by their serde tag, in order.
#[derive(Debug)]
enum Want {
    Up(u32, &'static [&'static str]),
    Down(&'static str),
    Hold(&'static [&'static str]),
}

impl Want {
    /// The same one-line summary [`summary`] gives a decision.
    fn summary(&self) -> String {
        match self {
            Want::Up(count, reasons) => format!("up {count} {reasons:?}"),
            Want::Down(node) => format!("down {node} i-{node}"),
            Want::Hold(reasons) => format!("hold {reasons:?}"),
        }
    }
}

/// `up <count> [tags]`, `down <node> <instance>` or `hold [tags]`.
fn summary(d: &Decision) -> String {
    match d {
        Decision::ScaleUp { count, .. } => format!("up {count} {:?}", tags(d)),
        Decision::ScaleDown {
            node, instance_id, ..
        } => format!("down {node} {instance_id}"),
        Decision::NoChange { .. } => format!("hold {:?}", tags(d)),
    }
}

fn check(name: &str, s: &Scene, want: &Want) {
    let d = s.decide();
    assert_eq!(summary(&d), want.summary(), "case {name}: {d}");
}

/// The worker an otherwise even cluster gives up: the first by name.
const FIRST: &str = "w1";

#[test]
fn scale_up_triggers() {
    let cases: Vec<(&str, Scene, Want)> = vec![
        (
            "cpu above threshold for the window",
            scene().metrics(metrics().cpu(0.75)),
            Want::Up(1, &["cpu_high"]),
        ),
        (
            "cpu exactly 70% is not above",
            scene().metrics(metrics().cpu(0.70)),
            Want::Hold(&["steady"]),
        ),
        (
            "cpu 70.0001% is above",
            scene().metrics(metrics().cpu(0.700001)),
            Want::Up(1, &["cpu_high"]),
        ),
        (
            "cpu window one sample short",
            scene().metrics(metrics().cpu_up_window(0.8, 11)),
            Want::Hold(&["window_not_met"]),
        ),
        (
            "cpu window exactly full",
            scene().metrics(metrics().cpu_up_window(0.8, 12)),
            Want::Up(1, &["cpu_high"]),
        ),
        (
            "pending pods for the window",
            scene().metrics(metrics().pending(2.0)),
            Want::Up(1, &["pending_pods"]),
        ),
        (
            "pending window one sample short",
            scene().metrics(metrics().pending_window(2.0, 11)),
            Want::Hold(&["window_not_met"]),
        ),
        (
            "pending dipped to zero in the window",
            scene().metrics(
                metrics()
                    .pending_window(0.0, 12)
                    .with(|m| m.pending_pods = Some(3.0)),
            ),
            Want::Hold(&["steady"]),
        ),
        (
            "memory exactly 75% is not above",
            scene().metrics(metrics().memory(0.75)),
            Want::Hold(&["steady"]),
        ),
        (
            "memory above 75%",
            scene().metrics(metrics().memory(0.7501)),
            Want::Up(1, &["memory_high"]),
        ),
        (
            "queue above threshold when enabled",
            scene()
                .cfg(|c| c.queue_metric_enabled = true)
                .metrics(metrics().queue(1000.5)),
            Want::Up(1, &["queue_depth_high"]),
        ),
        (
            "queue exactly at threshold",
            scene()
                .cfg(|c| c.queue_metric_enabled = true)
                .metrics(metrics().queue(1000.0)),
            Want::Hold(&["steady"]),
        ),
        (
            "queue ignored when disabled",
            scene().metrics(metrics().queue(5000.0)),
            Want::Hold(&["steady"]),
        ),
        (
            "latency above 2s",
            scene().metrics(metrics().latency(2.01)),
            Want::Up(1, &["latency_high"]),
        ),
        (
            "latency exactly 2s",
            scene().metrics(metrics().latency(2.0)),
            Want::Hold(&["steady"]),
        ),
        (
            "error rate above 5% for the window",
            scene().metrics(metrics().error_rate(0.051)),
            Want::Up(1, &["error_rate_high"]),
        ),
        (
            "error rate exactly 5%",
            scene().metrics(metrics().error_rate(0.05)),
            Want::Hold(&["steady"]),
        ),
        (
            "error window one sample short",
            scene().metrics(metrics().error_window(0.2, 7)),
            Want::Hold(&["window_not_met"]),
        ),
        (
            "short error window holds scale-down back",
            scene().metrics(idle().error_window(0.2, 7)),
            Want::Hold(&["window_not_met"]),
        ),
        (
            "every trigger that fired is listed",
            scene().metrics(metrics().cpu(0.8).memory(0.8).latency(3.0)),
            Want::Up(1, &["cpu_high", "memory_high", "latency_high"]),
        ),
        (
            "stale cpu never fires",
            scene().metrics(metrics().cpu(0.85).stale(MetricName::Cpu)),
            Want::Hold(&["metrics_unavailable"]),
        ),
        (
            "missing memory never fires",
            scene().metrics(metrics().memory(0.95).missing(MetricName::Memory)),
            Want::Hold(&["metrics_unavailable"]),
        ),
        (
            "fired trigger wins over a short window",
            scene().metrics(metrics().memory(0.8).cpu_up_window(0.8, 3)),
            Want::Up(1, &["memory_high"]),
        ),
    ];
    for (name, s, want) in &cases {
        check(name, s, want);
    }
}

#[test]
fn increments_by_need_and_urgency() {
    let big = || scene().metrics(metrics().pending(10.0));
    let inc = |n: u32| move |c: &mut Policy| c.scale_up_max_increment = n;
    let cases: Vec<(&str, Scene, Want)> = vec![
        (
            "cpu 87% on 4 fits in 5 at 70%: adds 1",
            scene().metrics(metrics().cpu(0.87)),
            Want::Up(1, &["cpu_high"]),
        ),
        (
            "cpu 88% on 4 needs 6 at 70%: adds 2",
            scene().metrics(metrics().cpu(0.88)),
            Want::Up(2, &["cpu_high", "load_needs_workers"]),
        ),
        (
            "cpu at the urgent threshold adds 2 even when 1 is enough",
            scene().nodes(workers(2)).metrics(metrics().cpu(0.90)),
            Want::Up(2, &["cpu_high"]),
        ),
        (
            "cpu just below urgent on 2 adds 1",
            scene().nodes(workers(2)).metrics(metrics().cpu(0.8999)),
            Want::Up(1, &["cpu_high"]),
        ),
        (
            "memory 90% on 4 fits in 5 at 75%: adds 1",
            scene().metrics(metrics().memory(0.90)),
            Want::Up(1, &["memory_high"]),
        ),
        (
            "memory 95% on 4 needs 2",
            scene().metrics(metrics().memory(0.95)),
            Want::Up(2, &["memory_high", "load_needs_workers"]),
        ),
        (
            "pending cpu over one worker adds 2",
            big().pods(pending(10, 200, 64)),
            Want::Up(2, &["pending_pods", "pending_pods_need_workers"]),
        ),
        (
            "pending cpu exactly one worker adds 1",
            big().pods(pending(9, 200, 64)),
            Want::Up(1, &["pending_pods"]),
        ),
        (
            "pending memory over one worker adds 2",
            big().pods(pending(7, 100, 256)),
            Want::Up(2, &["pending_pods", "pending_pods_need_workers"]),
        ),
        (
            "24 pending pods fill 4 workers",
            big().cfg(inc(5)).pods(pending(24, 200, 256)),
            Want::Up(4, &["pending_pods", "pending_pods_need_workers"]),
        ),
        (
            "24 pending pods capped by the max increment",
            big().cfg(inc(3)).pods(pending(24, 200, 256)),
            Want::Up(3, &["pending_pods", "pending_pods_need_workers"]),
        ),
        (
            "DaemonSet requests shrink a new worker",
            big()
                .cfg(inc(5))
                .pods([pending(6, 200, 256), vec![pod("ds").on("w1").daemonset()]].concat()),
            Want::Up(2, &["pending_pods", "pending_pods_need_workers"]),
        ),
        (
            "pending pods in the view size a cpu scale-up",
            scene()
                .cfg(inc(5))
                .metrics(metrics().cpu(0.75))
                .pods(pending(13, 200, 256)),
            Want::Up(3, &["cpu_high", "pending_pods_need_workers"]),
        ),
        (
            "allocatable read from a Ready managed worker",
            big()
                .nodes(
                    workers(4)
                        .into_iter()
                        .map(|n| n.allocatable(4000, 8192))
                        .collect(),
                )
                .pods(pending(10, 200, 256)),
            Want::Up(1, &["pending_pods"]),
        ),
        (
            "unmanaged workers' allocatable is not used",
            big()
                .nodes(
                    workers(4)
                        .into_iter()
                        .map(|n| n.allocatable(4000, 8192).unmanaged())
                        .collect(),
                )
                .pods(pending(10, 200, 64)),
            Want::Up(2, &["pending_pods", "pending_pods_need_workers"]),
        ),
        (
            "max increment 1 never adds 2",
            scene().cfg(inc(1)).metrics(metrics().cpu(0.95)),
            Want::Up(1, &["cpu_high", "load_needs_workers"]),
        ),
        (
            "max-1 workers with urgency adds 1",
            scene().nodes(workers(9)).metrics(metrics().cpu(0.95)),
            Want::Up(1, &["cpu_high", "load_needs_workers"]),
        ),
        (
            "at max",
            scene().nodes(workers(10)).metrics(metrics().cpu(0.95)),
            Want::Hold(&["at_maximum"]),
        ),
        (
            "above max (manual launch)",
            scene().nodes(workers(11)).metrics(metrics().cpu(0.95)),
            Want::Hold(&["at_maximum"]),
        ),
        (
            "NotReady workers count toward max",
            scene()
                .nodes(
                    [
                        workers(8),
                        vec![worker("j1").not_ready(), worker("j2").not_ready()],
                    ]
                    .concat(),
                )
                .metrics(metrics().cpu(0.95)),
            Want::Hold(&["at_maximum"]),
        ),
        (
            "control plane does not count toward max",
            scene()
                .nodes([workers(9), vec![worker("cp").control_plane()]].concat())
                .metrics(metrics().cpu(0.75)),
            Want::Up(1, &["cpu_high"]),
        ),
    ];
    for (name, s, want) in &cases {
        check(name, s, want);
    }
}

/// The one exception to a cooldown: pods Pending over a whole `PENDING_PODS_WINDOW` after the last
/// action, and still Pending in the view, get a scale-up sized for them alone, after a scale-up
/// and after a scale-down alike; nothing else goes ahead of a cooldown.
#[test]
fn pending_pods_go_ahead_of_a_cooldown() {
    let up = |secs| after(ScaleAction::ScaleUp, ago(secs));
    let down = |secs| after(ScaleAction::ScaleDown, ago(secs));
    // Pods Pending in the metrics window and, still, in the cluster view.
    let waiting = || {
        scene()
            .pods(pending(3, 500, 256))
            .metrics(metrics().pending(3.0))
    };
    const AHEAD: &[&str] = &["pending_pods", "pending_ahead_of_cooldown"];
    let cases: Vec<(&str, Scene, Want)> = vec![
        (
            "pending pods follow a scale-up inside its cooldown",
            waiting().state(up(180)),
            Want::Up(1, AHEAD),
        ),
        (
            "only the pending trigger is listed and sized",
            waiting()
                .metrics(metrics().pending(3.0).cpu(0.95))
                .state(up(180)),
            Want::Up(1, AHEAD),
        ),
        (
            "cpu alone waits for the scale-up cooldown",
            scene().metrics(metrics().cpu(0.95)).state(up(60)),
            Want::Hold(&["cooldown"]),
        ),
        (
            "a short pending window waits for the cooldown",
            scene()
                .metrics(metrics().pending_window(3.0, 11))
                .state(up(60)),
            Want::Hold(&["cooldown"]),
        ),
        (
            "one second before COOLDOWN_SCALE_UP_PENDING",
            waiting()
                .cfg(|c| c.scale_up_cooldown_pending_secs = 240)
                .state(up(239)),
            Want::Hold(&["cooldown"]),
        ),
        (
            "exactly at COOLDOWN_SCALE_UP_PENDING",
            waiting()
                .cfg(|c| c.scale_up_cooldown_pending_secs = 240)
                .state(up(240)),
            Want::Up(1, AHEAD),
        ),
        (
            "one second before a whole pending window after the scale-up",
            waiting().state(up(179)),
            Want::Hold(&["cooldown"]),
        ),
        (
            "the window still shows pods the view no longer has Pending",
            scene().metrics(metrics().pending(3.0)).state(up(180)),
            Want::Hold(&["cooldown"]),
        ),
        (
            "an idle cluster never scales down inside a scale-up cooldown",
            scene().metrics(idle()).state(up(60)),
            Want::Hold(&["cooldown"]),
        ),
        (
            "pending pods a whole window after a scale-down go ahead of its cooldown",
            waiting().state(down(180)),
            Want::Up(1, AHEAD),
        ),
        (
            "pending pods inside the first window after a scale-down wait",
            waiting().state(down(60)),
            Want::Hold(&["cooldown"]),
        ),
        (
            "one second before a whole pending window after the scale-down",
            waiting().state(down(179)),
            Want::Hold(&["cooldown"]),
        ),
        (
            "pods that need several workers get them after a scale-down",
            scene()
                .pods(pending(2, 1500, 256))
                .metrics(metrics().pending(2.0))
                .state(down(300)),
            Want::Up(
                2,
                &[
                    "pending_pods",
                    "pending_ahead_of_cooldown",
                    "pending_pods_need_workers",
                ],
            ),
        ),
        (
            "cpu with pending pods is sized for the pods alone after a scale-down",
            waiting()
                .metrics(metrics().pending(3.0).cpu(0.95))
                .state(down(300)),
            Want::Up(1, AHEAD),
        ),
        (
            "cpu alone waits the whole scale-down cooldown",
            scene().metrics(metrics().cpu(0.95)).state(down(599)),
            Want::Hold(&["cooldown"]),
        ),
        (
            "memory alone waits the whole scale-down cooldown",
            scene().metrics(metrics().memory(0.9)).state(down(300)),
            Want::Hold(&["cooldown"]),
        ),
        (
            "an idle cluster never scales down again inside a scale-down cooldown",
            scene().metrics(idle()).state(down(599)),
            Want::Hold(&["cooldown"]),
        ),
        (
            "after a scale-down, the window still shows pods the view no longer has Pending",
            scene().metrics(metrics().pending(3.0)).state(down(300)),
            Want::Hold(&["cooldown"]),
        ),
        (
            "one second before COOLDOWN_SCALE_DOWN_PENDING",
            waiting()
                .cfg(|c| c.scale_down_cooldown_pending_secs = 420)
                .state(down(419)),
            Want::Hold(&["cooldown"]),
        ),
        (
            "exactly at COOLDOWN_SCALE_DOWN_PENDING",
            waiting()
                .cfg(|c| c.scale_down_cooldown_pending_secs = 420)
                .state(down(420)),
            Want::Up(1, AHEAD),
        ),
        (
            "COOLDOWN_SCALE_DOWN_PENDING at COOLDOWN_SCALE_DOWN: the specification's whole cooldown",
            waiting()
                .cfg(|c| c.scale_down_cooldown_pending_secs = 600)
                .state(down(599)),
            Want::Hold(&["cooldown"]),
        ),
        (
            "after the scale-down cooldown, an ordinary scale-up",
            waiting().state(down(600)),
            Want::Up(1, &["pending_pods"]),
        ),
        (
            "a time without an action waits the whole cooldown",
            waiting().state(ScalingState {
                last_scale_action: None,
                ..down(300)
            }),
            Want::Hold(&["cooldown"]),
        ),
    ];
    for (name, s, want) in &cases {
        check(name, s, want);
    }
}

#[test]
fn bounds_cooldowns_and_operations() {
    let up = |secs| after(ScaleAction::ScaleUp, ago(secs));
    let down = |secs| after(ScaleAction::ScaleDown, ago(secs));
    let hot = || scene().metrics(metrics().cpu(0.8));
    let cool = || scene().metrics(idle());
    let cases: Vec<(&str, Scene, Want)> = vec![
        (
            "below minimum scales up without metrics",
            scene()
                .nodes(workers(1))
                .metrics(MetricsSnapshot::empty(t0())),
            Want::Up(1, &["below_minimum"]),
        ),
        (
            "no workers adds the deficit",
            scene().nodes(vec![]),
            Want::Up(2, &["below_minimum"]),
        ),
        (
            "deficit capped by the max increment",
            scene()
                .cfg(|c| c.min_nodes = 5)
                .cfg(|c| c.scale_up_max_increment = 2)
                .nodes(workers(1)),
            Want::Up(2, &["below_minimum"]),
        ),
        (
            "below minimum lists the triggers too",
            scene().nodes(workers(1)).metrics(metrics().cpu(0.8)),
            Want::Up(1, &["below_minimum", "cpu_high"]),
        ),
        (
            "below minimum ignores the cooldown",
            scene().nodes(workers(1)).state(down(10)),
            Want::Up(1, &["below_minimum"]),
        ),
        (
            "control plane is not a worker",
            scene().nodes(vec![worker("cp").control_plane(), worker("w1")]),
            Want::Up(1, &["below_minimum"]),
        ),
        (
            "at minimum",
            cool().nodes(workers(2)),
            Want::Hold(&["at_minimum"]),
        ),
        (
            "one above minimum scales down",
            cool().nodes(workers(3)),
            Want::Down(FIRST),
        ),
        (
            "NotReady workers do not count toward the minimum",
            cool().nodes(vec![worker("w1"), worker("w2"), worker("w3").not_ready()]),
            Want::Hold(&["at_minimum"]),
        ),
        (
            "one second before the scale-up cooldown ends",
            hot().state(up(299)),
            Want::Hold(&["cooldown"]),
        ),
        (
            "exactly at the scale-up cooldown end",
            hot().state(up(300)),
            Want::Up(1, &["cpu_high"]),
        ),
        (
            "scale-up cooldown also holds scale-down",
            cool().state(up(299)),
            Want::Hold(&["cooldown"]),
        ),
        (
            "one second before the scale-down cooldown ends",
            cool().state(down(599)),
            Want::Hold(&["cooldown"]),
        ),
        (
            "exactly at the scale-down cooldown end",
            cool().state(down(600)),
            Want::Down(FIRST),
        ),
        (
            "scale-down cooldown also holds scale-up",
            hot().state(down(599)),
            Want::Hold(&["cooldown"]),
        ),
        (
            "cooldown is by the last action",
            hot().state(down(300)),
            Want::Hold(&["cooldown"]),
        ),
        (
            "unknown last action takes the longer cooldown",
            hot().state(ScalingState {
                last_scale_action: None,
                ..down(599)
            }),
            Want::Hold(&["cooldown"]),
        ),
        (
            "operation in flight comes first",
            scene()
                .nodes(workers(1))
                .state(in_flight(OperationKind::ScaleUp)),
            Want::Hold(&["operation_in_flight"]),
        ),
        (
            "operation in flight holds scale-down",
            cool().state(in_flight(OperationKind::ScaleDown)),
            Want::Hold(&["operation_in_flight"]),
        ),
    ];
    for (name, s, want) in &cases {
        check(name, s, want);
    }
}

#[test]
fn scale_down_conditions_and_metrics_safety() {
    let cool = || scene().metrics(idle());
    let queued = || cool().cfg(|c| c.queue_metric_enabled = true);
    let at60 = || cool().cfg(|c| c.scale_down_projected_cpu_pct = 60.0);
    let cases: Vec<(&str, Scene, Want)> = vec![
        ("idle cluster scales down", cool(), Want::Down(FIRST)),
        (
            "optional inputs missing never block",
            cool().metrics(idle().missing(MetricName::LatencyP95)),
            Want::Down(FIRST),
        ),
        (
            "cpu exactly 30% is not below (projection off)",
            cool()
                .cfg(|c| c.scale_down_projected_cpu_pct = 0.0)
                .metrics(idle().cpu(0.30)),
            Want::Hold(&["steady"]),
        ),
        (
            "cpu 29.9999% is below (projection off)",
            cool()
                .cfg(|c| c.scale_down_projected_cpu_pct = 0.0)
                .metrics(idle().cpu(0.299999)),
            Want::Down(FIRST),
        ),
        (
            "cpu 45% on 4 is 60% on 3: exactly at the projected threshold",
            at60().metrics(idle().cpu(0.45)),
            Want::Hold(&["steady"]),
        ),
        (
            "cpu 44.9999% on 4 is below 60% on 3",
            at60().metrics(idle().cpu(0.449999)),
            Want::Down(FIRST),
        ),
        (
            "cpu 30% on 3 is 45% on 2",
            cool().nodes(workers(3)).metrics(idle().cpu(0.30)),
            Want::Down(FIRST),
        ),
        (
            "projection never counts NotReady workers",
            cool()
                .nodes([workers(3), vec![worker("j1").not_ready()]].concat())
                .cfg(|c| c.not_ready_max_count = 10)
                .cfg(|c| c.not_ready_max_pct = 100.0)
                .metrics(idle().cpu(0.41)),
            Want::Hold(&["steady"]),
        ),
        (
            "projected cpu window one sample short",
            cool().metrics(idle().cpu_down_window(0.4, 39)),
            Want::Hold(&["window_not_met"]),
        ),
        (
            "cpu down window one sample short",
            cool().metrics(idle().cpu_down_window(0.1, 39)),
            Want::Hold(&["window_not_met"]),
        ),
        (
            "memory exactly 50% is not below",
            cool().metrics(idle().memory(0.50)),
            Want::Hold(&["steady"]),
        ),
        (
            "a pending pod blocks",
            cool().metrics(
                idle()
                    .pending_window(0.0, 12)
                    .with(|m| m.pending_pods = Some(1.0)),
            ),
            Want::Hold(&["steady"]),
        ),
        (
            "a pending pod in the view blocks",
            cool().pods(pending(1, 100, 64)),
            Want::Hold(&["steady"]),
        ),
        (
            "unmet and short are both said",
            cool().metrics(idle().memory(0.6).cpu_down_window(0.1, 20)),
            Want::Hold(&["steady", "window_not_met"]),
        ),
        (
            "queue below threshold when enabled",
            queued().metrics(idle().queue(99.0)),
            Want::Down(FIRST),
        ),
        (
            "queue exactly at threshold",
            queued().metrics(idle().queue(100.0)),
            Want::Hold(&["steady"]),
        ),
        (
            "queue down window one sample short",
            queued().metrics(idle().queue_down_window(10.0, 39)),
            Want::Hold(&["window_not_met"]),
        ),
        (
            "queue missing when enabled blocks",
            queued(),
            Want::Hold(&["metrics_unavailable"]),
        ),
        (
            "missing cpu blocks",
            cool().metrics(idle().missing(MetricName::Cpu)),
            Want::Hold(&["metrics_unavailable"]),
        ),
        (
            "stale memory blocks",
            cool().metrics(idle().stale(MetricName::Memory)),
            Want::Hold(&["metrics_unavailable"]),
        ),
        (
            "stale pending pods block",
            cool().metrics(idle().stale(MetricName::PendingPods)),
            Want::Hold(&["metrics_unavailable"]),
        ),
        (
            "cached metrics never scale down",
            cool().metrics(idle().cached(ago(60))),
            Want::Hold(&["cached_metrics"]),
        ),
        (
            "cached and missing are both said",
            cool().metrics(idle().cached(ago(60)).missing(MetricName::Memory)),
            Want::Hold(&["cached_metrics", "metrics_unavailable"]),
        ),
        (
            "cached metrics still scale up",
            scene().metrics(metrics().cpu(0.8).cached(ago(300))),
            Want::Up(1, &["cpu_high"]),
        ),
        (
            "cached metrics exactly at max age scale up",
            scene().metrics(metrics().cpu(0.8).cached(ago(600))),
            Want::Up(1, &["cpu_high"]),
        ),
        (
            "cached metrics past max age do nothing",
            scene().metrics(metrics().cpu(0.8).cached(ago(601))),
            Want::Hold(&["cached_metrics_too_old"]),
        ),
        (
            "too-old cache still allows the minimum repair",
            scene()
                .nodes(workers(1))
                .metrics(metrics().cpu(0.8).cached(ago(3600))),
            Want::Up(1, &["below_minimum"]),
        ),
    ];
    for (name, s, want) in &cases {
        check(name, s, want);
    }
}

#[test]
fn not_ready_circuit_breaker() {
    let fleet = |ready: u32, not_ready: u32| {
        let mut nodes = workers(ready);
        nodes.extend((1..=not_ready).map(|i| worker(&format!("x{i}")).not_ready()));
        nodes
    };
    let cool = || scene().metrics(idle()).cfg(|c| c.min_nodes = 1);
    let pct_only = || {
        cool()
            .cfg(|c| c.not_ready_max_count = 1000)
            .cfg(|c| c.max_nodes = 100)
    };
    let count_only = || cool().cfg(|c| c.not_ready_max_pct = 100.0);
    let cases: Vec<(&str, Scene, Want)> = vec![
        (
            "exactly 45% NotReady still scales down",
            pct_only().nodes(fleet(11, 9)),
            Want::Down(FIRST),
        ),
        (
            "just over 45% NotReady stops scale-down",
            pct_only().nodes(fleet(10, 10)),
            Want::Hold(&["too_many_not_ready"]),
        ),
        (
            "2 NotReady still scale down",
            count_only().nodes(fleet(8, 2)),
            Want::Down(FIRST),
        ),
        (
            "3 NotReady stop scale-down",
            count_only().nodes(fleet(7, 3)),
            Want::Hold(&["too_many_not_ready"]),
        ),
        (
            "defaults: 2 of 4 NotReady (50%)",
            cool().nodes(fleet(2, 2)),
            Want::Hold(&["too_many_not_ready"]),
        ),
        (
            "defaults: 1 of 4 NotReady (25%)",
            cool().nodes(fleet(3, 1)),
            Want::Down(FIRST),
        ),
        (
            "breaker still allows scale-up",
            cool().metrics(metrics().cpu(0.8)).nodes(fleet(2, 3)),
            Want::Up(1, &["cpu_high"]),
        ),
        (
            "breaker and minimum are both said",
            scene().metrics(idle()).nodes(fleet(2, 3)),
            Want::Hold(&["at_minimum", "too_many_not_ready"]),
        ),
    ];
    for (name, s, want) in &cases {
        check(name, s, want);
    }
}

#[test]
fn reasons_carry_the_numbers() {
    let cases: Vec<(&str, Scene, NoChangeReason)> = vec![
        (
            "cooldown remaining",
            scene().state(after(ScaleAction::ScaleUp, ago(299))),
            NoChangeReason::Cooldown {
                after: ScaleAction::ScaleUp,
                remaining_secs: 1,
            },
        ),
        (
            "window samples",
            scene().metrics(metrics().cpu_up_window(0.8, 11)),
            NoChangeReason::WindowNotMet {
                metric: MetricName::Cpu,
                samples: 11,
                needed: 12,
            },
        ),
        (
            "at maximum",
            scene().nodes(workers(10)).metrics(metrics().cpu(0.8)),
            NoChangeReason::AtMaximum {
                workers: 10,
                max: 10,
            },
        ),
        (
            "at minimum",
            scene().nodes(workers(2)).metrics(idle()),
            NoChangeReason::AtMinimum { workers: 2, min: 2 },
        ),
        (
            "cache age",
            scene().metrics(idle().cached(ago(90))),
            NoChangeReason::CachedMetrics { age_secs: 90 },
        ),
        (
            "too old",
            scene().metrics(idle().cached(ago(700))),
            NoChangeReason::CachedMetricsTooOld {
                age_secs: 700,
                max_age_secs: 600,
            },
        ),
        (
            "unavailable",
            scene().metrics(idle().missing(MetricName::Memory).stale(MetricName::Cpu)),
            NoChangeReason::MetricsUnavailable {
                metrics: vec![MetricName::Cpu, MetricName::Memory],
            },
        ),
    ];
    for (name, s, want) in cases {
        match s.decide() {
            Decision::NoChange { reasons } => assert_eq!(reasons, vec![want], "case {name}"),
            d => panic!("case {name}: {d}"),
        }
    }
}

#[test]
fn scale_decisions_carry_their_reasons() {
    let d = scene().metrics(idle()).decide();
    assert_eq!(
        d,
        Decision::ScaleDown {
            node: "w1".into(),
            instance_id: "i-w1".into(),
            reasons: vec![
                ScaleDownReason::CpuLow {
                    max_pct: 10.0,
                    threshold_pct: 30.0,
                    window_secs: 600
                },
                ScaleDownReason::NoPendingPods,
                ScaleDownReason::MemoryLow {
                    pct: 20.0,
                    threshold_pct: 50.0
                },
            ],
        }
    );
    let up = scene().metrics(metrics().pending(4.0)).decide();
    assert_eq!(
        up,
        Decision::ScaleUp {
            count: 1,
            reasons: vec![ScaleUpReason::PendingPods {
                count: 4,
                window_secs: 180
            }],
            launch: LaunchPlan {
                on_demand: 1,
                spot: 0,
                instance_types: vec!["t3.small".into()],
            },
        }
    );
    assert_eq!(
        up.to_string(),
        "scale up by 1: 4 pod(s) Pending for over 3m"
    );
}

#[test]
fn no_safe_candidate_lists_every_node() {
    let s = scene()
        .metrics(idle())
        .nodes([vec![worker("cp").control_plane()], workers(3)].concat())
        .pods(vec![
            pod("db-0")
                .on("w1")
                .owner(Some(OwnerKind::StatefulSet), Some(3)),
            pod("solo")
                .on("w2")
                .owner(Some(OwnerKind::Deployment), Some(1)),
            pod("web-1").on("w3"),
        ])
        .pdbs(vec![pdb("web", 0)]);
    let d = s.decide();
    let Decision::NoChange { reasons } = &d else {
        panic!("{d}")
    };
    let [NoChangeReason::NoSafeCandidate { excluded }] = reasons.as_slice() else {
        panic!("{d}")
    };
    let got: Vec<(&str, &UnremovableReason)> = excluded
        .iter()
        .map(|e| (e.node.as_str(), &e.reason))
        .collect();
    assert_eq!(
        got,
        vec![
            ("cp", &UnremovableReason::ControlPlane),
            (
                "w1",
                &UnremovableReason::StatefulSetPod {
                    pod: "default/db-0".into()
                }
            ),
            (
                "w2",
                &UnremovableReason::SingleReplica {
                    pod: "default/solo".into()
                }
            ),
            (
                "w3",
                &UnremovableReason::PdbAllowsNoDisruption {
                    pod: "default/web-1".into(),
                    pdb: "default/web".into()
                }
            ),
        ]
    );
    assert!(
        d.to_string().contains(
            "w3 stays: disruption budget default/web allows no disruption of default/web-1"
        ),
        "{d}"
    );
}

#[test]
fn cooldown_edges() {
    let at = |ms: i64| {
        after(
            ScaleAction::ScaleUp,
            t0() - chrono::Duration::milliseconds(ms),
        )
    };
    let cases: Vec<(&str, ScalingState, Option<u64>)> = vec![
        (
            "half a second before the end rounds up",
            at(299_500),
            Some(1),
        ),
        ("a millisecond before the end", at(299_999), Some(1)),
        ("exactly at the end", at(300_000), None),
        ("after the end", at(300_001), None),
        ("just after the action", at(0), Some(300)),
        ("an action recorded in the future", at(-10_000), Some(310)),
        ("never acted", fresh(), None),
    ];
    for (name, state, want) in cases {
        let got = match scene().metrics(metrics().cpu(0.8)).state(state).decide() {
            Decision::NoChange { reasons } => match reasons.as_slice() {
                [NoChangeReason::Cooldown { remaining_secs, .. }] => Some(*remaining_secs),
                other => panic!("case {name}: {other:?}"),
            },
            _ => None,
        };
        assert_eq!(got, want, "case {name}");
    }
}

#[test]
fn added_reasons_read_as_sentences() {
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "cache too old",
            NoChangeReason::CachedMetricsTooOld { age_secs: 900, max_age_secs: 600 }.to_string(),
            "cached metrics are 15m old, past the 10m limit: no scaling on them",
        ),
        ("at minimum", NoChangeReason::AtMinimum { workers: 2, min: 2 }.to_string(), "at minimum: 2 workers, MIN_NODES is 2"),
        ("cordoned", ExcludedNode { node: "w1".into(), reason: UnremovableReason::Unschedulable }.to_string(), "w1 stays: it is already cordoned (unschedulable)"),
        ("no instance", ExcludedNode { node: "w2".into(), reason: UnremovableReason::UnknownInstance }.to_string(), "w2 stays: its EC2 instance id is unknown"),
        (
            "steady",
            scene().metrics(metrics()).decide().to_string(),
            "no change: load is within thresholds (CPU reached 50.0% in the scale-down window, not below 30%, and would be 66.7% on one worker fewer, not below 55%; memory at 60.0%, not below 50%)",
        ),
        (
            "pending pods need workers",
            ScaleUpReason::PendingPodsNeedWorkers { pods: 24, workers: 4 }.to_string(),
            "the requests of 24 Pending pod(s) fill 4 new worker(s)",
        ),
        (
            "load needs workers",
            ScaleUpReason::LoadNeedsWorkers { metric: MetricName::Cpu, pct: 92.04, threshold_pct: 70.0, workers: 2 }.to_string(),
            "CPU at 92.0% needs 2 more worker(s) to return to 70%",
        ),
        (
            "cpu low after removal",
            ScaleDownReason::CpuLowAfterRemoval { max_pct: 31.7, projected_pct: 47.56, threshold_pct: 55.0, window_secs: 600 }.to_string(),
            "CPU over 10m (highest 31.7%) would be 47.6% on one worker fewer, below 55%",
        ),
        (
            "window",
            scene().metrics(metrics().cpu_up_window(0.8, 5)).decide().to_string(),
            "no change: CPU window not met yet: 5 of 12 samples",
        ),
    ];
    for (name, got, want) in cases {
        assert_eq!(got, want, "case {name}");
    }
}
