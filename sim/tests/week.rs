//! SmartScale over the whole TechFlow week stays within MIN_NODES..MAX_NODES.

use smartscale_sim::{builtin, policy::PolicyKind, run};

#[test]
fn smartscale_respects_bounds_over_the_techflow_week() {
    let s = builtin::scenario("techflow-week").unwrap();
    let r = run::run(&s, PolicyKind::SmartScale, &mut |_| {});
    let (min, max) = (s.policy.min_nodes, s.policy.max_nodes);
    for row in &r.timeline {
        assert!(
            row.nodes >= min && row.nodes <= max,
            "t={} nodes={}",
            row.t,
            row.nodes
        );
    }
    assert!(r.summary.scale_ups > 0 && r.summary.scale_downs > 0);
}
