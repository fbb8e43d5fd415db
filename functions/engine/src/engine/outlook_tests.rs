//! `decide_with`: the CPU headroom, the scheduled floors and the forecast, one named case each,
//! and their properties.

use super::testkit::*;
use super::*;
use crate::model::{NodeInfo, ScaleAction};
use chrono::Duration;
use proptest::prelude::*;

/// `up <count> [tags]`, `down <node>` or `hold [tags]`.
fn summary(d: &Decision) -> String {
    match d {
        Decision::ScaleUp { count, .. } => format!("up {count} {:?}", tags(d)),
        Decision::ScaleDown { node, .. } => format!("down {node} {:?}", tags(d)),
        Decision::NoChange { .. } => format!("hold {:?}", tags(d)),
    }
}

struct Case {
    name: &'static str,
    scene: Scene,
    want: &'static str,
}

fn check(cases: Vec<Case>) {
    for c in cases {
        let d = c.scene.decide();
        assert_eq!(summary(&d), c.want, "case {}: {d}", c.name);
    }
}

/// The default configuration (the CPU headroom on) with `vars` set.
fn with(vars: &[(&str, &str)]) -> Policy {
    let vars: Vec<(String, String)> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Policy::from_lookup(|k| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()))
        .expect("valid")
}

fn scene_with(vars: &[(&str, &str)]) -> Scene {
    let cfg = with(vars);
    scene().cfg(|c| *c = cfg)
}

#[test]
fn the_cpu_headroom() {
    check(vec![
        Case {
            name: "75% with nothing Pending runs on headroom",
            scene: scene_with(&[]).metrics(metrics().cpu(0.75)),
            want: r#"hold ["cpu_within_headroom"]"#,
        },
        Case {
            name: "exactly 80% is not above",
            scene: scene_with(&[]).metrics(metrics().cpu(0.80)),
            want: r#"hold ["cpu_within_headroom"]"#,
        },
        Case {
            name: "above 80% fires alone",
            scene: scene_with(&[]).metrics(metrics().cpu(0.85)),
            want: r#"up 1 ["cpu_high"]"#,
        },
        Case {
            name: "a Pending pod in the view lets 75% fire",
            scene: scene_with(&[])
                .metrics(metrics().cpu(0.75))
                .pods(pending(1, 100, 100)),
            want: r#"up 1 ["cpu_high"]"#,
        },
        Case {
            name: "the seed's rule back: 75% fires",
            scene: scene_with(&[("SCALE_UP_CPU_ALONE_THRESHOLD", "0")])
                .metrics(metrics().cpu(0.75)),
            want: r#"up 1 ["cpu_high"]"#,
        },
        Case {
            name: "memory still fires on its own",
            scene: scene_with(&[]).metrics(metrics().cpu(0.75).memory(0.8)),
            want: r#"up 1 ["memory_high"]"#,
        },
    ]);
}

/// Two workers of 1000m / 1024Mi allocatable, each running `per_worker` 200m / 256Mi pods (4 fill
/// one by memory).
fn filled(per_worker: u32) -> Scene {
    let nodes: Vec<NodeInfo> = workers(2)
        .into_iter()
        .map(|n| n.allocatable(1000, 1024))
        .collect();
    let pods = nodes
        .iter()
        .flat_map(|n| (0..per_worker).map(move |i| pod(&format!("{}-{i}", n.name)).on(&n.name)))
        .collect();
    scene_with(&[]).nodes(nodes).pods(pods)
}

/// CPU `now`, with `low` the lowest over a full scale-up window.
fn rising(now: f64, low: f64) -> MetricsSnapshot {
    metrics()
        .cpu_up_window(low, 12)
        .with(|m| m.cpu_ratio = Some(now))
}

#[test]
fn full_workers_under_a_rising_load() {
    check(vec![
        Case {
            name: "full workers, CPU rising past 70%: up at once, before the window holds",
            scene: filled(4).metrics(rising(0.75, 0.60)),
            want: r#"up 1 ["no_room_for_next_pod"]"#,
        },
        Case {
            name: "full workers, rising, the CPU window also held: not held on headroom",
            scene: filled(4).metrics(rising(0.78, 0.72)),
            want: r#"up 1 ["cpu_high", "no_room_for_next_pod"]"#,
        },
        Case {
            name: "full workers, a flat 75%: the autoscaler adds no replica, headroom holds",
            scene: filled(4).metrics(metrics().cpu(0.75)),
            want: r#"hold ["cpu_within_headroom"]"#,
        },
        Case {
            name: "room for one more pod: headroom holds a rising 75%",
            scene: filled(3).metrics(rising(0.75, 0.72)),
            want: r#"hold ["cpu_within_headroom"]"#,
        },
        Case {
            name: "full workers below 70%: nothing",
            scene: filled(4).metrics(rising(0.65, 0.50)),
            want: r#"hold ["steady"]"#,
        },
        Case {
            name: "full workers, a pod Pending, 75% over a short window: up at once, no window",
            scene: filled(4)
                .metrics(metrics().cpu_up_window(0.75, 4).pending_window(1.0, 4))
                .pods([filled(4).inputs.cluster.pods, pending(1, 200, 256)].concat()),
            want: r#"up 1 ["no_room_for_next_pod"]"#,
        },
        Case {
            name: "the seed's rules back: full workers wait for the window",
            scene: filled(4)
                .cfg(|c| *c = with(&[("SCALE_UP_CPU_ALONE_THRESHOLD", "0")]))
                .metrics(rising(0.75, 0.60)),
            want: r#"hold ["steady"]"#,
        },
    ]);
}

/// t0 is Monday 2026-01-05 12:00 UTC.
#[test]
fn scheduled_floors() {
    let floors = |f: &'static str| scene_with(&[("SCHEDULED_FLOORS", f)]);
    let measured = DemandHistory {
        boot_to_ready_secs: Some(600),
        ..DemandHistory::default()
    };
    check(vec![
        Case {
            name: "inside the window: up to the floor, steady load",
            scene: floors("mon 11:30-13:00 min=6"),
            want: r#"up 2 ["below_floor"]"#,
        },
        Case {
            name: "starting within the lead time (3m)",
            scene: floors("mon 12:02-13:00 min=6"),
            want: r#"up 2 ["below_floor"]"#,
        },
        Case {
            name: "starting after the lead time: nothing yet",
            scene: floors("mon 12:10-13:00 min=6"),
            want: r#"hold ["steady"]"#,
        },
        Case {
            name: "the measured boot-to-Ready time is the lead",
            scene: floors("mon 12:10-13:00 min=6").history(measured),
            want: r#"up 2 ["below_floor"]"#,
        },
        Case {
            name: "another day's window does not apply",
            scene: floors("tue 11:30-13:00 min=6"),
            want: r#"hold ["steady"]"#,
        },
        Case {
            name: "the floor ignores a cooldown, like MIN_NODES",
            scene: floors("mon 11:30-13:00 min=6").state(after(ScaleAction::ScaleDown, ago(60))),
            want: r#"up 2 ["below_floor"]"#,
        },
        Case {
            name: "idle inside the window: no scale-down below the floor",
            scene: floors("mon 11:30-13:00 min=4").metrics(idle()),
            want: r#"hold ["floor_holds"]"#,
        },
        Case {
            name: "idle, the window starting within the guard (30m): held",
            scene: floors("mon 12:20-13:00 min=4").metrics(idle()),
            want: r#"hold ["floor_holds"]"#,
        },
        Case {
            name: "idle above the floor: one goes",
            scene: floors("mon 11:30-13:00 min=3").metrics(idle()),
            want: r#"down w1 ["cpu_low", "no_pending_pods", "memory_low"]"#,
        },
        Case {
            name: "idle after the window: one goes",
            scene: floors("mon 10:00-11:00 min=4").metrics(idle()),
            want: r#"down w1 ["cpu_low", "no_pending_pods", "memory_low"]"#,
        },
        Case {
            name: "the floor stops at MAX_NODES",
            scene: floors("mon 11:30-13:00 min=6").cfg(|c| c.max_nodes = 5),
            want: r#"up 1 ["below_floor"]"#,
        },
    ]);
}

/// A history of the 7 days and 1 hour before `t0` (the last 10 minutes left out) in which the
/// need was `after` for the hour from `rise_in` after t0's time of day, and `before` otherwise.
fn history(before: f64, after: f64, rise_in: Duration) -> DemandHistory {
    let day = 86_400;
    let tod = |t: DateTime<Utc>| t.timestamp().rem_euclid(day);
    let rise = tod(t0() + rise_in);
    let mut h = DemandHistory::default();
    let mut t = t0() - Duration::days(7) - Duration::hours(1);
    while t < t0() - Duration::minutes(10) {
        let since = (tod(t) - rise).rem_euclid(day);
        let need = if since < 3600 { after } else { before };
        h.record(t, need, 0);
        t += Duration::minutes(2);
    }
    h
}

#[test]
fn the_forecast() {
    let rise = || history(4.0, 6.0, Duration::minutes(8));
    let flat = || history(4.0, 4.0, Duration::minutes(8));
    let mode = |m: &str| scene_with(&[("FORECAST_MODE", m)]);
    check(vec![
        Case {
            name: "on: a rise within the horizon launches ahead",
            scene: mode("on").history(rise()),
            want: r#"up 2 ["forecast_rise"]"#,
        },
        Case {
            name: "forecast-only: decisions unchanged",
            scene: mode("forecast-only").history(rise()),
            want: r#"hold ["steady"]"#,
        },
        Case {
            name: "off: decisions unchanged",
            scene: mode("off").history(rise()),
            want: r#"hold ["steady"]"#,
        },
        Case {
            name: "on: a flat forecast leaves the headroom rule alone",
            scene: mode("on").history(flat()).metrics(metrics().cpu(0.75)),
            want: r#"hold ["cpu_within_headroom"]"#,
        },
        Case {
            name: "on: idle, but the forecast needs the 4 workers within 30m",
            scene: mode("on")
                .history(history(4.0, 4.0, Duration::minutes(20)))
                .metrics(idle()),
            want: r#"hold ["forecast_holds"]"#,
        },
        Case {
            name: "on: idle and the forecast needs 2: one goes",
            scene: mode("on")
                .history(history(2.0, 2.0, Duration::minutes(20)))
                .metrics(idle()),
            want: r#"down w1 ["cpu_low", "no_pending_pods", "memory_low"]"#,
        },
        Case {
            name: "on without history: the reactive rules, said",
            scene: mode("on").history(DemandHistory::default()).metrics(idle()),
            want: r#"down w1 ["cpu_low", "no_pending_pods", "memory_low", "no_forecast"]"#,
        },
        Case {
            name: "not wired (no history given): nothing said",
            scene: mode("on").metrics(idle()),
            want: r#"down w1 ["cpu_low", "no_pending_pods", "memory_low"]"#,
        },
    ]);
}

/// 4 workers at 45 % CPU: 60 % on 3, under the derived 65 % line, over the unguarded 55 %.
#[test]
fn the_projection_line_without_the_forecast_guard() {
    let at45 = |s: Scene| s.metrics(metrics().cpu(0.45).memory(0.2));
    let flat = || history(2.0, 2.0, Duration::minutes(20));
    check(vec![
        Case {
            name: "the forecast on and flat guards the removal: 65% line",
            scene: at45(scene_with(&[("FORECAST_MODE", "on")]).history(flat())),
            want: r#"down w1 ["cpu_low_after_removal", "no_pending_pods", "memory_low"]"#,
        },
        Case {
            name: "no history: 25 points under the CPU-alone threshold, 55%",
            scene: at45(scene_with(&[])),
            want: r#"hold ["steady"]"#,
        },
        Case {
            name: "forecast-only does not guard: 55%",
            scene: at45(scene_with(&[("FORECAST_MODE", "forecast-only")]).history(flat())),
            want: r#"hold ["steady"]"#,
        },
        Case {
            name: "no history, 40% is 53% on 3: under 55%",
            scene: scene_with(&[]).metrics(metrics().cpu(0.40).memory(0.2)),
            want: r#"down w1 ["cpu_low_after_removal", "no_pending_pods", "memory_low"]"#,
        },
        Case {
            name: "headroom off: the set line applies unguarded",
            scene: at45(scene_with(&[
                ("SCALE_UP_CPU_ALONE_THRESHOLD", "0"),
                ("SCALE_DOWN_PROJECTED_CPU", "65"),
            ])),
            want: r#"down w1 ["cpu_low_after_removal", "no_pending_pods", "memory_low"]"#,
        },
    ]);
}

fn floor_text() -> impl Strategy<Value = String> {
    (0usize..7, 0u32..24, 0u32..4, 1u32..=6, 1u32..=10).prop_map(|(d, h, q, hours, min)| {
        let days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
        let end = (h + hours) % 24;
        format!(
            "{} {h:02}:{:02}-{end:02}:{:02} min={min}",
            days[d],
            q * 15,
            q * 15
        )
    })
}

fn load() -> impl Strategy<Value = f64> {
    prop_oneof![Just(0.1), Just(0.5), Just(0.75), Just(0.95), 0.0..1.0f64]
}

/// A random demand history: a need per 30 minutes over the 8 days before `t0`.
fn any_history() -> impl Strategy<Value = DemandHistory> {
    proptest::collection::vec(0.0..9.0f64, 8 * 48).prop_map(|needs| {
        let mut h = DemandHistory::default();
        let start = t0() - Duration::days(8);
        for (i, need) in needs.iter().enumerate() {
            for k in 0..15 {
                h.record(start + Duration::minutes(i as i64 * 30 + k * 2), *need, 0);
            }
        }
        h
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn never_below_an_active_floor(
        floor in floor_text(),
        n in 1u32..=8,
        cpu in load(),
        minutes in 0i64..(7 * 1440),
        last in proptest::option::of(0i64..1200),
    ) {
        let now = t0() + Duration::minutes(minutes);
        let mut s = scene_with(&[("SCHEDULED_FLOORS", &floor)])
            .nodes(workers(n))
            .metrics(metrics().cpu(cpu).memory(cpu.min(0.6)))
            .at(now);
        if let Some(secs) = last {
            s = s.state(after(ScaleAction::ScaleDown, now - Duration::seconds(secs)));
        }
        let active = floors::highest(&s.cfg.scheduled_floors, now, Duration::zero(), 0).map_or(0, |f| f.min);
        let d = s.decide();
        if n <= active {
            prop_assert!(!matches!(d, Decision::ScaleDown { .. }), "{floor} at {now}: {d}");
        }
        if n < active.min(s.cfg.max_nodes) {
            prop_assert!(matches!(d, Decision::ScaleUp { .. }), "{floor} at {now} with {n}: {d}");
        }
    }

    #[test]
    fn never_a_scale_down_the_forecast_needs_within_the_guard(
        h in any_history(),
        n in 2u32..=8,
        cpu in load(),
    ) {
        let s = scene_with(&[]).nodes(workers(n)).metrics(metrics().cpu(cpu).memory(0.2)).history(h.clone());
        let d = s.decide();
        if let Decision::ScaleDown { .. } = d {
            match h.predict(t0(), &s.cfg) {
                Prediction::Ready { guard, .. } => prop_assert!(forecast::whole(guard) < n, "guard {guard} with {n}: {d}"),
                Prediction::Unavailable { why } => prop_assert!(false, "a forecast over 8 days of history: {why}"),
            }
        }
    }

    #[test]
    fn no_forecast_without_history(
        n in 2u32..=8,
        cpu in load(),
        pending_pods in 0u32..3,
        old in proptest::option::of(8i64..30),
    ) {
        // Empty, or recorded only more than a week ago: nothing for yesterday or last week.
        let mut h = DemandHistory::default();
        if let Some(days) = old {
            h.record(t0() - Duration::days(days), 9.0, 0);
        }
        let base = scene_with(&[]).nodes(workers(n)).metrics(metrics().cpu(cpu)).pods(pending(pending_pods, 100, 100));
        let unavailable = matches!(h.predict(t0(), &base.cfg), Prediction::Unavailable { .. });
        prop_assert!(unavailable, "a forecast from nothing");
        let on = base.clone().history(h).decide();
        let reactive = base.decide();
        let strip = |d: Decision| match d {
            Decision::ScaleDown { node, instance_id, mut reasons } => {
                reasons.retain(|r| !matches!(r, ScaleDownReason::NoForecast { .. }));
                Decision::ScaleDown { node, instance_id, reasons }
            }
            d => d,
        };
        if let Decision::ScaleDown { reasons, .. } = &on {
            prop_assert!(reasons.iter().any(|r| matches!(r, ScaleDownReason::NoForecast { .. })), "{on}");
        }
        prop_assert_eq!(strip(on), reactive);
    }
}
