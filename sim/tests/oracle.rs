//! The clairvoyant bound, with the scenario's Spot interruptions and ICE periods on: within the
//! node group's bounds it never leaves a pod Pending and is never overloaded, on any trace (it
//! foresees the seeded interruption schedule as well as the demand); and no policy uses fewer
//! worker-hours than the bound at its floor without a Pending pod or more overload than that bound
//! (docs/SIMULATOR.md, "The clairvoyant bound").

use proptest::prelude::*;
use smartscale_sim::market::Ice;
use smartscale_sim::policy::PolicyKind;
use smartscale_sim::run::{self, RunResult};
use smartscale_sim::{builtin, scenario};

/// The TechFlow week's settings (its Spot mix, interruption rates and seed) with `rows` as its
/// trace (`(seconds, rps)`) and `ice` as its ICE periods.
fn with_trace(rows: &[(u64, f64)], ice: Vec<Ice>) -> scenario::Scenario {
    let mut csv = String::from("time,rps\n");
    for (t, r) in rows {
        csv.push_str(&format!("{t},{r:.1}\n"));
    }
    let toml = builtin::toml("techflow-week").expect("built-in");
    let mut s = scenario::parse(toml, "<prop>.toml", |_| {
        Ok((csv.clone(), "<prop>.csv".into()))
    })
    .expect("a valid scenario");
    s.market.ice = ice;
    s
}

/// Asserts the bound's promise at both floors on `s` (no overload while below `MAX_NODES`).
fn assert_no_disruption(s: &scenario::Scenario) -> Result<(), TestCaseError> {
    for kind in [PolicyKind::Oracle, PolicyKind::OracleLowFloor] {
        let r = run::run(s, kind, &mut |_| {});
        let x = &r.summary;
        prop_assert_eq!(x.pending_pod_minutes, 0.0, "{}", x.policy);
        prop_assert_eq!(x.max_pending_seconds, 0.0);
        prop_assert_eq!(x.pods_evicted_by_interruptions, 0);
        if x.nodes_max < s.policy.max_nodes {
            prop_assert_eq!(x.overload_minutes, 0.0, "{}", x.policy);
        }
        prop_assert!(x.nodes_min >= kind.floor(s));
        // A replacement boots next to the worker it replaces.
        prop_assert!(x.nodes_max <= s.policy.max_nodes + x.interruptions);
    }
    Ok(())
}

/// Asserts, for every policy of a run of `s`, that it used no fewer worker-hours than the bound at
/// its floor unless it left a pod Pending or ran more overloaded than that bound.
fn assert_bound_holds(s: &scenario::Scenario) -> Result<(), TestCaseError> {
    let results = run::run_all(s, &mut |_| {});
    let find =
        |label: &str| -> Option<&RunResult> { results.iter().find(|r| r.summary.policy == label) };
    for r in &results {
        let x = &r.summary;
        let bound = find(&x.bound).map(|b| &b.summary);
        prop_assert!(bound.is_some(), "{}: no bound at its floor", x.policy);
        let b = bound.unwrap();
        prop_assert_eq!(b.pending_pod_minutes, 0.0, "{} Pending", b.policy);
        let clean = x.pending_pod_minutes == 0.0 && x.overload_minutes <= b.overload_minutes;
        prop_assert!(
            !clean || x.node_hours + 1e-9 >= b.node_hours,
            "{}: {} uses {:.3} worker-h < {}'s {:.3} with no Pending pod and no more overload",
            s.name,
            x.policy,
            x.node_hours,
            b.policy,
            b.node_hours
        );
    }
    Ok(())
}

/// The trace on which an interruption warning came while the HPA was adding pods: before the
/// bound foresaw the schedule it had a pod Pending for 15 s.
#[test]
fn a_rising_load_during_what_was_an_interruption_leaves_nothing_pending() {
    let rows = [
        (0, 7664.0),
        (184, 7664.0),
        (280, 3651.8),
        (689, 0.0),
        (902, 8939.6),
        (2108, 1455.7),
        (2520, 6487.4),
    ];
    let s = with_trace(&rows, Vec::new());
    let r = run::run(&s, PolicyKind::Oracle, &mut |_| {});
    assert!(r.summary.interruptions > 0, "the case has its interruption");
    assert_no_disruption(&s).unwrap();
}

/// A trace of `steps` (seconds to the next step, rps), and an ICE period of the cheapest Spot
/// pool starting `ice_at` seconds in, reclaiming `reclaim` of its workers.
fn trace_and_ice(steps: &[(u64, f64)], ice_at: u64, reclaim: f64) -> scenario::Scenario {
    let mut t = 0;
    let mut rows = vec![(0, steps[0].1)];
    for (dt, rps) in steps {
        t += dt;
        rows.push((t, *rps));
    }
    let ice = Ice {
        instance_type: "t3a.small".into(),
        start: (ice_at % t.max(1)) as i64,
        end: (ice_at % t.max(1)) as i64 + 1800,
        reclaim,
    };
    with_trace(&rows, vec![ice])
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn the_oracle_never_leaves_a_pod_pending(
        steps in prop::collection::vec((60u64..1800, 0.0f64..9000.0), 2..12),
        ice_at in 0u64..20_000,
        reclaim in 0.0f64..1.0,
        seed in 0u64..1000,
    ) {
        let mut s = trace_and_ice(&steps, ice_at, reclaim);
        s.market.seed = seed;
        assert_no_disruption(&s)?;
    }

    #[test]
    fn no_policy_undercuts_the_bound_at_its_floor_without_disruption(
        steps in prop::collection::vec((60u64..1800, 0.0f64..9000.0), 2..10),
        ice_at in 0u64..20_000,
        reclaim in 0.0f64..1.0,
    ) {
        assert_bound_holds(&trace_and_ice(&steps, ice_at, reclaim))?;
    }
}

#[test]
fn the_bound_holds_on_every_built_in_scenario() {
    for name in builtin::NAMES {
        let s = builtin::scenario(name).unwrap();
        assert_no_disruption(&s).unwrap();
        assert_bound_holds(&s).unwrap();
    }
}

#[test]
fn a_policy_below_min_nodes_is_measured_against_the_low_floor_bound() {
    let s = builtin::scenario("techflow-week").unwrap();
    let results = run::run_all(&s, &mut |_| {});
    let labels: Vec<(&str, &str)> = results
        .iter()
        .map(|r| (r.summary.policy.as_str(), r.summary.bound.as_str()))
        .collect();
    assert_eq!(
        labels,
        [
            ("smartscale", "oracle"),
            ("baseline", "oracle"),
            ("cluster-autoscaler-model", "oracle"),
            ("karpenter-model", "oracle-low-floor"),
            ("oracle", "oracle"),
            ("oracle-low-floor", "oracle-low-floor"),
        ]
    );
    let mut floored = s.clone();
    floored.karpenter.min_nodes = floored.policy.min_nodes;
    let kinds: Vec<PolicyKind> = run::run_all(&floored, &mut |_| {})
        .iter()
        .map(|r| r.policy)
        .collect();
    assert_eq!(
        kinds,
        PolicyKind::ALL,
        "no low-floor row when none is below"
    );
}

#[test]
fn no_policy_undercuts_the_bound_without_disruption_on_suite_weeks() {
    let suite = smartscale_sim::suite::run("techflow", 1..4, 2, &|_| {}).expect("the family runs");
    for (seed, week) in &suite.weeks {
        for (x, saving, disrupted) in suite.undercuts(week) {
            assert!(
                disrupted,
                "week {seed}: {} uses {:.2} % fewer worker-hours than {} without a Pending pod or more overload",
                x.policy,
                saving * 100.0,
                x.bound
            );
        }
    }
    for st in suite.stats() {
        assert_eq!(st.below_bound_clean_weeks, 0, "{}", st.policy);
        let below = suite
            .weeks
            .iter()
            .filter(|(_, w)| suite.undercuts(w).any(|(x, _, _)| x.policy == st.policy))
            .count();
        assert_eq!(st.below_bound_weeks, below, "{}", st.policy);
    }
}
