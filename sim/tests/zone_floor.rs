//! The last Ready worker of a zone is kept while the worker subnets span several zones
//! (docs/SECURITY_CHECKLIST.md, item 12), shown on a whole simulated night: the scenario
//! `sim/scenarios/zone-floor.toml` starts six workers in three zones under a load one worker
//! carries, with `MIN_NODES = 1`.

use smartscale_sim::policy::PolicyKind;
use smartscale_sim::run::{self, RunResult};
use smartscale_sim::scenario;
use std::path::{Path, PathBuf};

fn scenarios() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios")
}

/// SmartScale over the zone-floor night with `WORKER_SUBNET_IDS` set to `subnets`.
fn night(subnets: &str) -> RunResult {
    let text = std::fs::read_to_string(scenarios().join("zone-floor.toml")).expect("the scenario");
    let pinned = r#"WORKER_SUBNET_IDS = "subnet-a,subnet-b,subnet-c""#;
    assert!(text.contains(pinned), "zone-floor.toml names three subnets");
    let text = text.replace(pinned, &format!(r#"WORKER_SUBNET_IDS = "{subnets}""#));
    let s = scenario::parse(&text, "zone-floor.toml", |name| {
        let csv = std::fs::read_to_string(scenarios().join(name)).expect("the trace");
        Ok((csv, name.to_owned()))
    })
    .expect("a valid scenario");
    run::run(&s, PolicyKind::SmartScale, &mut |_| {})
}

#[test]
fn three_zones_keep_one_worker_each_through_a_quiet_night() {
    let r = night("subnet-a,subnet-b,subnet-c");
    assert_eq!(r.summary.scale_downs, 3, "6 → 3 workers: {:?}", r.summary);
    assert_eq!(r.summary.nodes_min, 3, "never fewer than one per zone");
    assert_eq!(r.timeline.last().map(|row| row.ready_nodes), Some(3));
    // The engine's candidate search finds every remaining worker kept ("it is the last Ready
    // worker in zone …"), so the ticks after the third removal hold with no safe candidate.
    let held = r
        .summary
        .no_change_reasons
        .get("no_safe_candidate")
        .copied()
        .unwrap_or(0);
    assert!(
        held > 0,
        "the hold says why: {:?}",
        r.summary.no_change_reasons
    );
}

#[test]
fn one_subnet_lets_the_same_night_go_down_to_min_nodes() {
    let r = night("subnet-a");
    assert_eq!(
        r.summary.nodes_min, 1,
        "without several zones the floor is MIN_NODES: {:?}",
        r.summary
    );
    assert_eq!(
        r.summary.no_change_reasons.get("no_safe_candidate"),
        None,
        "nothing held the last workers of their zones"
    );
}
