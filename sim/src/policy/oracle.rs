//! The clairvoyant bound (`oracle`): the fewest workers that serve the scenario with zero
//! disruption, within the node group's bounds.
//!
//! It knows the whole trace. At every tick it has exactly
//! `max(MIN_NODES, ⌈pods ÷ pods per worker⌉, ⌈demanded CPU ÷ (overload line × CPU room per
//! worker)⌉)` workers Ready, capped at `MAX_NODES`, where *pods* are the replicas the HPA wants
//! plus those still stopping (they hold their requests) and the overload line is the scenario's
//! `[simulation] overload_ratio`. It launches each worker one boot delay before the tick that needs
//! it and removes a worker as soon as none of the next boot delay's ticks needs it (keeping it
//! through a shorter gap costs less than booting a new one). A removed worker's pods move to the
//! others without a pause (`Cluster::relocate`), which no real autoscaler can do: that is what
//! makes it a bound. It is billed like every other policy. Within `MAX_NODES` it never leaves a
//! pod Pending and is never overloaded.

use super::{Ctx, Event, EventKind, Policy};
use crate::cluster::Cluster;
use crate::observe::Observer;
use crate::scenario::Scenario;
use crate::workload::ReplicaController;

/// Workers the bound needs at every tick of `scenario`, index = seconds ÷ tick.
pub fn need(scenario: &Scenario) -> Vec<u32> {
    let sim = &scenario.simulation;
    let tick = sim.tick_secs.max(1) as i64;
    let interval = sim.metrics_interval_secs as i64;
    let duration = scenario.trace.duration_secs().ceil() as i64;
    let w = &scenario.workload;
    let slots = scenario.node.pods_per_node(w.requests).max(1);
    let room_cpu = scenario.node.room_for_pods().cpu_millis as f64;
    let line = sim.overload_ratio * room_cpu;
    let (min, max) = (scenario.policy.min_nodes, scenario.policy.max_nodes);
    let grace = w.termination_grace_secs as i64;
    let mut hpa = ReplicaController::new(w);
    let mut traffic = scenario.trace.cursor(scenario.interpolation);
    let mut desired = 0u32;
    // End times of pods the HPA removed, still stopping.
    let mut stopping: std::collections::VecDeque<i64> = std::collections::VecDeque::new();
    let mut out = Vec::with_capacity((duration / tick + 1) as usize);
    let mut t = 0;
    while t <= duration {
        let rps = traffic.rps_at(t as f64);
        while stopping.front().is_some_and(|&end| end <= t) {
            stopping.pop_front();
        }
        if t % interval == 0 {
            let next = hpa.observe(w, t, rps);
            if next < desired {
                stopping.extend(std::iter::repeat_n(t + grace, (desired - next) as usize));
            }
            desired = next;
        }
        let by_pods = (desired + stopping.len() as u32).div_ceil(slots);
        let demand = w.cpu_demand_millis(rps, desired);
        let by_cpu = if line > 0.0 {
            (demand / line).ceil() as u32
        } else {
            0
        };
        out.push(min.max(by_pods).max(by_cpu).min(max));
        t += tick;
    }
    out
}

/// The oracle policy over one scenario's precomputed needs.
#[derive(Debug, Clone)]
pub struct Oracle {
    need: Vec<u32>,
    tick: i64,
    boot_ticks: usize,
}

impl Oracle {
    /// The bound for `scenario`.
    pub fn new(scenario: &Scenario) -> Self {
        let tick = scenario.simulation.tick_secs.max(1) as i64;
        Oracle {
            need: need(scenario),
            tick,
            boot_ticks: scenario.node.boot_delay_secs.div_ceil(tick as u64) as usize,
        }
    }

    /// The workers to start with: what the first boot delay needs (nothing launched later can be
    /// Ready before then).
    pub fn initial_nodes(scenario: &Scenario) -> u32 {
        let o = Oracle::new(scenario);
        o.need
            .iter()
            .take(o.boot_ticks + 1)
            .copied()
            .max()
            .unwrap_or(0)
    }

    fn at(&self, i: usize) -> u32 {
        self.need.get(i).or(self.need.last()).copied().unwrap_or(0)
    }
}

impl Policy for Oracle {
    fn step(&mut self, now: i64, cluster: &mut Cluster, _: &Observer, _: Ctx<'_>) -> Vec<Event> {
        let mut events = Vec::new();
        let i = (now / self.tick) as usize;
        // Workers under an interruption warning are on their way out: their replacement counts.
        let alive = cluster.live_mix().total();
        let ahead = self.at(i + self.boot_ticks);
        if ahead > alive {
            for _ in 0..ahead - alive {
                cluster.launch(now, true);
            }
            events.push(Event::new(
                now,
                EventKind::ScaleUp,
                ahead - alive,
                format!("{ahead} worker(s) needed one boot delay from now"),
            ));
            return events;
        }
        let keep = (i..=i + self.boot_ticks)
            .map(|j| self.at(j))
            .max()
            .unwrap_or(0);
        let mut removed = 0;
        while cluster.live_mix().total() > keep {
            let Some(n) = (0..cluster.nodes.len())
                .filter(|&j| cluster.nodes[j].alive() && cluster.nodes[j].warned_at.is_none())
                .min_by_key(|&j| (cluster.nodes[j].ready(), cluster.nodes[j].occupied()))
            else {
                break;
            };
            cluster.relocate(n);
            cluster.terminate(n, now);
            removed += 1;
        }
        if removed > 0 {
            events.push(Event::new(
                now,
                EventKind::ScaleDown,
                removed,
                format!("{keep} worker(s) cover the next boot delay"),
            ));
        }
        events
    }
}
