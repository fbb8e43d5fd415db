use super::*;
use crate::engine::testkit::*;
use crate::model::Resources;

fn policy(base: u32, pct: f64) -> Policy {
    Policy {
        on_demand_base_capacity: base,
        on_demand_percentage_above_base_pct: pct,
        worker_instance_types: vec!["t3.small".into(), "t3a.small".into()],
        ..Policy::default()
    }
}

fn mix(on_demand: u32, spot: u32) -> Mix {
    Mix { on_demand, spot }
}

#[test]
fn target_mix() {
    struct Case {
        name: &'static str,
        base: u32,
        pct: f64,
        workers: u32,
        want: Mix,
    }
    let cases = [
        Case {
            name: "on-demand only",
            base: 2,
            pct: 100.0,
            workers: 7,
            want: mix(7, 0),
        },
        Case {
            name: "within the base",
            base: 2,
            pct: 40.0,
            workers: 2,
            want: mix(2, 0),
        },
        Case {
            name: "below the base",
            base: 3,
            pct: 0.0,
            workers: 1,
            want: mix(1, 0),
        },
        Case {
            name: "all Spot above the base",
            base: 2,
            pct: 0.0,
            workers: 5,
            want: mix(2, 3),
        },
        Case {
            name: "60/40 of 5",
            base: 0,
            pct: 40.0,
            workers: 5,
            want: mix(2, 3),
        },
        Case {
            name: "60/40 of 2: 0.8 rounds to 1",
            base: 0,
            pct: 40.0,
            workers: 2,
            want: mix(1, 1),
        },
        Case {
            name: "60/40 of 3: 1.2 rounds to 1",
            base: 0,
            pct: 40.0,
            workers: 3,
            want: mix(1, 2),
        },
        Case {
            name: "half rounds to on-demand",
            base: 0,
            pct: 50.0,
            workers: 3,
            want: mix(2, 1),
        },
        Case {
            name: "base 2 then 40 % of 3",
            base: 2,
            pct: 40.0,
            workers: 5,
            want: mix(3, 2),
        },
        Case {
            name: "no workers",
            base: 2,
            pct: 40.0,
            workers: 0,
            want: mix(0, 0),
        },
    ];
    for c in cases {
        assert_eq!(
            target(c.workers, &policy(c.base, c.pct)),
            c.want,
            "case {}",
            c.name
        );
    }
}

#[test]
fn launch_plans() {
    struct Case {
        name: &'static str,
        base: u32,
        pct: f64,
        now: Mix,
        count: u32,
        want: (u32, u32),
    }
    let cases = [
        Case {
            name: "on-demand only",
            base: 2,
            pct: 100.0,
            now: mix(3, 0),
            count: 2,
            want: (2, 0),
        },
        Case {
            name: "fills the base first",
            base: 2,
            pct: 0.0,
            now: mix(0, 0),
            count: 3,
            want: (2, 1),
        },
        Case {
            name: "60/40 from 2 to 5",
            base: 0,
            pct: 40.0,
            now: mix(1, 1),
            count: 3,
            want: (1, 2),
        },
        Case {
            name: "60/40 one more at 5",
            base: 0,
            pct: 40.0,
            now: mix(2, 3),
            count: 1,
            want: (0, 1),
        },
        Case {
            name: "short of on-demand after a fallback: repaired first",
            base: 0,
            pct: 40.0,
            now: mix(0, 4),
            count: 1,
            want: (1, 0),
        },
        Case {
            name: "on-demand above target (Spot fell back): all Spot",
            base: 0,
            pct: 40.0,
            now: mix(4, 0),
            count: 2,
            want: (0, 2),
        },
        Case {
            name: "the repair never exceeds the count",
            base: 4,
            pct: 40.0,
            now: mix(0, 2),
            count: 2,
            want: (2, 0),
        },
    ];
    for c in cases {
        let types = vec!["t3.small".to_string(), "t3a.small".to_string()];
        let got = plan(c.now, c.count, types.clone(), &policy(c.base, c.pct));
        assert_eq!((got.on_demand, got.spot), c.want, "case {}", c.name);
        assert_eq!(got.total(), c.count, "case {}", c.name);
        assert_eq!(got.instance_types, types, "case {}", c.name);
    }
}

#[test]
fn removal_order() {
    let od = |name: &str| worker(name);
    let spot = |name: &str| worker(name).spot();
    struct Case {
        name: &'static str,
        base: u32,
        pct: f64,
        now: Mix,
        node: NodeInfo,
        want: RemovalRank,
    }
    let cases = [
        Case {
            name: "on-demand only: every worker alike",
            base: 2,
            pct: 100.0,
            now: mix(5, 0),
            node: od("w1"),
            want: RemovalRank::KeepsMix,
        },
        Case {
            name: "60/40 at 5 (2+3): Spot keeps the mix at 4 (2+2)",
            base: 0,
            pct: 40.0,
            now: mix(2, 3),
            node: spot("w1"),
            want: RemovalRank::KeepsMix,
        },
        Case {
            name: "60/40 at 5 (2+3): on-demand above base, not the mix",
            base: 0,
            pct: 40.0,
            now: mix(2, 3),
            node: od("w1"),
            want: RemovalRank::OnDemandAboveBase,
        },
        Case {
            name: "60/40 at 4 (2+2): on-demand keeps the mix at 3 (1+2)",
            base: 0,
            pct: 40.0,
            now: mix(2, 2),
            node: od("w1"),
            want: RemovalRank::KeepsMix,
        },
        Case {
            name: "60/40 at 4 (2+2): Spot would leave it short",
            base: 0,
            pct: 40.0,
            now: mix(2, 2),
            node: spot("w1"),
            want: RemovalRank::Spot,
        },
        Case {
            name: "base 2 at 3 (2+1): the base stays",
            base: 2,
            pct: 0.0,
            now: mix(2, 1),
            node: od("w1"),
            want: RemovalRank::OnDemandBase,
        },
        Case {
            name: "base 2, too much on-demand after a fallback (4+0)",
            base: 2,
            pct: 0.0,
            now: mix(4, 0),
            node: od("w1"),
            want: RemovalRank::KeepsMix,
        },
        Case {
            name: "burst type first, whatever its capacity",
            base: 2,
            pct: 100.0,
            now: mix(5, 0),
            node: od("w1").instance_type("t3.xlarge"),
            want: RemovalRank::Burst,
        },
    ];
    for c in cases {
        let cfg = Policy {
            burst_instance_types: vec!["t3.xlarge".into()],
            ..policy(c.base, c.pct)
        };
        assert_eq!(
            removal_rank(&c.node, c.now, &cfg),
            c.want,
            "case {}",
            c.name
        );
    }
    assert!(RemovalRank::Burst < RemovalRank::KeepsMix);
    assert!(RemovalRank::OnDemandAboveBase < RemovalRank::Spot);
    assert!(RemovalRank::Spot < RemovalRank::OnDemandBase);
}

#[test]
fn burst_types() {
    const MI: u64 = 1024 * 1024;
    let requests = Resources {
        cpu_millis: 200,
        memory_bytes: 256 * MI,
    };
    struct Case {
        name: &'static str,
        burst: &'static [&'static str],
        needed: u32,
        room: u32,
        want: Option<&'static str>,
    }
    let cases = [
        Case {
            name: "regular workers fit",
            burst: &["t3.xlarge"],
            needed: 2,
            room: 2,
            want: None,
        },
        Case {
            name: "none configured",
            burst: &[],
            needed: 4,
            room: 2,
            want: None,
        },
        Case {
            name: "no room at all",
            burst: &["t3.xlarge"],
            needed: 4,
            room: 0,
            want: None,
        },
        // t3.small holds 6 such pods (memory binds), t3.medium 9 (CPU binds), t3.xlarge 19.
        Case {
            name: "the first that suffices",
            burst: &["t3.medium", "t3.xlarge"],
            needed: 3,
            room: 2,
            want: Some("t3.medium"),
        },
        Case {
            name: "a larger need skips the medium",
            burst: &["t3.medium", "t3.xlarge"],
            needed: 5,
            room: 2,
            want: Some("t3.xlarge"),
        },
        Case {
            name: "none suffices",
            burst: &["t3.medium", "t3.xlarge"],
            needed: 20,
            room: 2,
            want: None,
        },
        Case {
            name: "unknown type",
            burst: &["x9.huge"],
            needed: 3,
            room: 2,
            want: None,
        },
    ];
    for c in cases {
        let cfg = Policy {
            burst_instance_types: c.burst.iter().map(|s| s.to_string()).collect(),
            ..policy(2, 100.0)
        };
        let got = burst(c.needed, c.room, requests, &cfg, PriceTable::shipped());
        assert_eq!(got.as_deref(), c.want, "case {}", c.name);
    }
}

#[test]
fn capacity_types_serialise_snake_case() {
    assert_eq!(
        serde_json::to_value(CapacityType::OnDemand).unwrap(),
        "on_demand"
    );
    assert_eq!(serde_json::to_value(CapacityType::Spot).unwrap(), "spot");
    let p = LaunchPlan {
        on_demand: 1,
        spot: 2,
        instance_types: vec!["t3.small".into(), "t3a.small".into()],
    };
    let v = serde_json::to_value(&p).unwrap();
    assert_eq!(
        v,
        serde_json::json!({"on_demand": 1, "spot": 2, "instance_types": ["t3.small", "t3a.small"]})
    );
    assert_eq!(serde_json::from_value::<LaunchPlan>(v).unwrap(), p);
}

/// The whole decision with a capacity policy: the scale-up carries its split and says why; the
/// scale-down removes by the capacity order and says why; an on-demand-only policy gives neither
/// reason.
#[test]
fn decisions_carry_the_mix() {
    use crate::engine::{Decision, ScaleDownReason, ScaleUpReason};
    let mixed = |c: &mut Policy| {
        c.on_demand_base_capacity = 0;
        c.on_demand_percentage_above_base_pct = 40.0;
        c.worker_instance_types = vec!["t3.small".into(), "t3a.small".into()];
    };
    struct Case {
        name: &'static str,
        mixed: bool,
        nodes: Vec<NodeInfo>,
        idle: bool,
        want: &'static str,
    }
    // w1, w2 on-demand; w3, w4 Spot unless said otherwise.
    let fleet = |spot: &[&str]| -> Vec<NodeInfo> {
        ["w1", "w2", "w3", "w4"]
            .iter()
            .map(|n| {
                if spot.contains(n) {
                    worker(n).spot()
                } else {
                    worker(n)
                }
            })
            .collect()
    };
    let cases = [
        Case {
            name: "60/40: 2+2 plus 3 is 1 on-demand and 2 Spot",
            mixed: true,
            nodes: fleet(&["w3", "w4"]),
            idle: false,
            want: "up 1+2 mix",
        },
        Case {
            name: "on-demand only: all on-demand, no mix reason",
            mixed: false,
            nodes: fleet(&[]),
            idle: false,
            want: "up 3+0",
        },
        Case {
            name: "60/40 at 2+2: an on-demand goes (3 is 1+2)",
            mixed: true,
            nodes: fleet(&["w3", "w4"]),
            idle: true,
            want: "down w1 keeps_mix",
        },
        Case {
            name: "60/40 at 1+3: a Spot goes (3 is 1+2)",
            mixed: true,
            nodes: fleet(&["w2", "w3", "w4"]),
            idle: true,
            want: "down w2 keeps_mix",
        },
        Case {
            name: "on-demand only: the usual preference, no capacity reason",
            mixed: false,
            nodes: fleet(&[]),
            idle: true,
            want: "down w1",
        },
    ];
    for c in cases {
        let mut s = scene().nodes(c.nodes);
        if c.mixed {
            s = s.cfg(mixed);
        }
        s = if c.idle {
            s.metrics(idle())
        } else {
            s.metrics(metrics().pending(18.0))
                .pods(pending(18, 200, 256))
        };
        let got = match s.decide() {
            Decision::ScaleUp {
                reasons, launch, ..
            } => {
                let mix = reasons
                    .iter()
                    .any(|r| matches!(r, ScaleUpReason::CapacityMix { .. }));
                format!(
                    "up {}+{}{}",
                    launch.on_demand,
                    launch.spot,
                    if mix { " mix" } else { "" }
                )
            }
            Decision::ScaleDown { node, reasons, .. } => {
                let rank = reasons.iter().find_map(|r| match r {
                    ScaleDownReason::CapacityOrder { rank, .. } => Some(
                        serde_json::to_value(rank)
                            .unwrap()
                            .as_str()
                            .unwrap()
                            .to_owned(),
                    ),
                    _ => None,
                });
                match rank {
                    Some(r) => format!("down {node} {r}"),
                    None => format!("down {node}"),
                }
            }
            other => format!("{other}"),
        };
        assert_eq!(got, c.want, "case {}", c.name);
    }
}

/// A scale-up that fills the room under `MAX_NODES` launches the first burst type that holds one
/// regular worker more than the need; with room to spare, without burst types, or when none
/// suffices, the regular ones.
#[test]
fn burst_types_at_the_cap() {
    use crate::engine::{Decision, ScaleUpReason};
    struct Case {
        name: &'static str,
        workers: u32,
        pending: u32,
        burst: &'static [&'static str],
        want: &'static str,
    }
    let cases = [
        Case {
            name: "8 of 10, 30 pods need 5 t3.small: 2 t3.xlarge",
            workers: 8,
            pending: 30,
            burst: &["t3.medium", "t3.xlarge"],
            want: "2 t3.xlarge burst",
        },
        Case {
            name: "8 of 10, 12 pods fit on 2 t3.small, but then the cap binds: headroom",
            workers: 8,
            pending: 12,
            burst: &["t3.medium", "t3.xlarge"],
            want: "2 t3.medium burst",
        },
        Case {
            name: "8 of 10, 60 pods: no burst type holds them",
            workers: 8,
            pending: 60,
            burst: &["t3.medium"],
            want: "2 t3.small",
        },
        Case {
            name: "4 of 10: room for the regular ones",
            workers: 4,
            pending: 18,
            burst: &["t3.xlarge"],
            want: "3 t3.small",
        },
        Case {
            name: "no burst types: the regular ones, capped",
            workers: 8,
            pending: 30,
            burst: &[],
            want: "2 t3.small",
        },
    ];
    for c in cases {
        let burst: Vec<String> = c.burst.iter().map(|s| s.to_string()).collect();
        let d = scene()
            .nodes(workers(c.workers))
            .metrics(metrics().pending(c.pending as f64))
            .pods(pending(c.pending, 200, 256))
            .cfg(|p| p.burst_instance_types = burst)
            .decide();
        let got = match d {
            Decision::ScaleUp {
                launch, reasons, ..
            } => {
                let named = reasons.iter().any(|r| {
                    matches!(
                        r,
                        ScaleUpReason::CapacityMix {
                            burst_type: Some(_),
                            ..
                        }
                    )
                });
                format!(
                    "{} {}{}",
                    launch.total(),
                    launch.instance_types.join(","),
                    if named { " burst" } else { "" }
                )
            }
            other => format!("{other}"),
        };
        assert_eq!(got, c.want, "case {}", c.name);
    }
}
