//! The clairvoyant bound: within the node group's bounds, and without Spot interruptions, it never
//! leaves a pod Pending and is never overloaded, on any trace. It foresees the demand, not EC2's
//! reclaims: a warned worker is cordoned at once and its replacement needs a boot delay, so a pod
//! the HPA adds in between can wait; those minutes are the interruption's, not the bound's. On
//! every built-in scenario no policy held to the same `MIN_NODES` floor costs less without leaving
//! pods Pending or running more overloaded (the Karpenter model's default has no floor: at night it
//! runs one worker, below the bound's).

use proptest::prelude::*;
use smartscale_sim::policy::PolicyKind;
use smartscale_sim::{builtin, run, scenario};

/// The TechFlow week's settings with `rows` as its trace (`(seconds, rps)`), its Spot mix kept
/// but without interruptions or capacity shortages.
fn with_trace(rows: &[(u64, f64)]) -> scenario::Scenario {
    let mut csv = String::from("time,rps\n");
    for (t, r) in rows {
        csv.push_str(&format!("{t},{r:.1}\n"));
    }
    let toml = builtin::toml("techflow-week").expect("built-in");
    let mut s = scenario::parse(toml, "<prop>.toml", |_| {
        Ok((csv.clone(), "<prop>.csv".into()))
    })
    .expect("a valid scenario");
    s.market.interruption_rate_pct = Some(0.0);
    s.market.ice.clear();
    s
}

/// Asserts the bound's promise on one trace.
fn assert_no_disruption(rows: &[(u64, f64)]) -> Result<(), TestCaseError> {
    let s = with_trace(rows);
    let r = run::run(&s, PolicyKind::Oracle, &mut |_| {});
    prop_assert_eq!(r.summary.interruptions, 0);
    prop_assert_eq!(r.summary.pending_pod_minutes, 0.0, "{:?}", rows);
    prop_assert_eq!(r.summary.max_pending_seconds, 0.0);
    prop_assert_eq!(r.summary.overload_minutes, 0.0);
    prop_assert!(r.summary.nodes_min >= s.policy.min_nodes);
    prop_assert!(r.summary.nodes_max <= s.policy.max_nodes);
    Ok(())
}

/// A trace on which, with the scenario's Spot interruptions on, one interruption warning came
/// while the HPA was adding pods: the oracle then had a pod Pending for 15 s.
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
    assert_no_disruption(&rows).unwrap();
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn the_oracle_never_leaves_a_pod_pending(
        steps in prop::collection::vec((60u64..1800, 0.0f64..9000.0), 2..12),
    ) {
        let mut t = 0;
        let mut rows = vec![(0, steps[0].1)];
        for (dt, rps) in &steps {
            t += dt;
            rows.push((t, *rps));
        }
        assert_no_disruption(&rows)?;
    }
}

#[test]
fn no_policy_undercuts_the_oracle_without_disruption_on_a_built_in_scenario() {
    for name in builtin::NAMES {
        let mut s = builtin::scenario(name).unwrap();
        s.karpenter.min_nodes = s.policy.min_nodes;
        let results = run::run_all(&s, &mut |_| {});
        let oracle = results
            .iter()
            .find(|r| r.policy == PolicyKind::Oracle)
            .expect("every run has the oracle")
            .summary
            .clone();
        assert_eq!(oracle.pending_pod_minutes, 0.0, "{name}");
        for r in &results {
            let x = &r.summary;
            let disrupted =
                x.pending_pod_minutes > 0.0 || x.overload_minutes > oracle.overload_minutes;
            assert!(
                oracle.cost_usd <= x.cost_usd + 1e-9 || disrupted,
                "{name}: {} costs {:.4} $ < the oracle's {:.4} $ without a Pending pod or more overload",
                x.policy,
                x.cost_usd,
                oracle.cost_usd
            );
        }
    }
}

#[test]
fn no_policy_undercuts_the_oracle_without_disruption_on_suite_weeks() {
    let kinds = PolicyKind::ALL;
    let suite = smartscale_sim::suite::run_policies(
        "techflow",
        1..4,
        &kinds,
        2,
        &|s| s.karpenter.min_nodes = s.policy.min_nodes,
        &|_| {},
    )
    .expect("the family runs");
    for (seed, week) in &suite.weeks {
        for (x, saving, disrupted) in suite.undercuts(week) {
            assert!(
                disrupted,
                "week {seed}: {} uses {:.2} % fewer worker-hours than the oracle without a Pending pod or more overload",
                x.policy,
                saving * 100.0
            );
        }
    }
}
