//! What the policies' unit tests share: a small cluster with pods placed by hand, and a driver
//! that runs ticks the way the simulation loop does (Ready workers, the scheduler, the observer,
//! the policy), with no traffic.

use super::{Ctx, Event, Policy};
use crate::builtin;
use crate::cluster::Cluster;
use crate::observe::{Observer, Sample};
use crate::scenario::Scenario;
use chrono::Utc;

/// The built-in TechFlow week's settings (its trace is not used by these tests).
pub fn scenario() -> Scenario {
    builtin::scenario("techflow-week").expect("the built-in parses")
}

/// A cluster of `scenario`'s workers, one per entry of `pods`, holding that many serving pods;
/// the Deployment wants their sum plus `pending` more (Pending now).
pub fn cluster(scenario: &Scenario, pods: &[u32], pending: u32) -> Cluster {
    let mut c = Cluster::new(
        scenario.node.clone(),
        scenario.workload.clone(),
        pods.len() as u32,
        true,
    );
    for (n, &p) in c.nodes.iter_mut().zip(pods) {
        n.pods = p;
        n.idle_since = (p == 0).then_some(0);
    }
    let placed: u32 = pods.iter().sum();
    c.set_replicas(0, placed + pending);
    c
}

/// Runs `policy` on `cluster` from `from` to `to` seconds (inclusive) in the scenario's ticks:
/// booting workers join, the scheduler places Pending pods, the observer sees the cluster's load
/// (no traffic) and records a sample every metrics interval, as `run::run` feeds it, then the
/// policy acts. `each` sees the cluster after every tick (and may change it).
pub fn drive(
    policy: &mut dyn Policy,
    cluster: &mut Cluster,
    scenario: &Scenario,
    (from, to): (i64, i64),
    each: &mut dyn FnMut(i64, &mut Cluster),
) -> Vec<Event> {
    let ctx = Ctx {
        scenario,
        start: scenario.start.with_timezone(&Utc),
    };
    let sim = &scenario.simulation;
    let interval = sim.metrics_interval_secs as i64;
    let mut observer = Observer::new(&scenario.policy, sim.cpu_rate_window_secs);
    let mut events = Vec::new();
    let mut t = from;
    while t <= to {
        cluster.advance(t);
        cluster.schedule(t);
        let load = cluster.load(0.0);
        observer.tick(t, load.cpu_ratio);
        if t % interval == 0 {
            observer.record(Sample {
                t,
                cpu: observer.cpu_rate(),
                memory: load.memory_ratio,
                pending: cluster.pending.len() as f64,
            });
        }
        events.extend(policy.step(t, cluster, &observer, ctx));
        each(t, cluster);
        t += sim.tick_secs as i64;
    }
    events
}
