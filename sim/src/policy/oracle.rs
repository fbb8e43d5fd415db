//! The clairvoyant bound (`oracle`): the fewest workers that serve the scenario with zero
//! disruption, within the node group's bounds and above a floor.
//!
//! It knows the whole trace. At every tick it has exactly
//! `max(floor, ⌈pods ÷ pods per worker⌉, ⌈demanded CPU ÷ (overload line × CPU room per
//! worker)⌉)` workers in service, capped at `MAX_NODES`, where *pods* are the replicas the HPA
//! wants plus those still stopping (they hold their requests), the overload line is the scenario's
//! `[simulation] overload_ratio` and the floor is `MIN_NODES` (the `oracle` row) or the lowest floor
//! another compared policy keeps (the `oracle-low-floor` row; see [`crate::policy::PolicyKind`]).
//! It launches each worker one boot delay before the tick that needs it and removes a worker as
//! soon as none of the next boot delay's ticks needs it (keeping it through a shorter gap costs
//! less than booting a new one).
//!
//! It also knows the market's seeded schedule: when each of its Spot workers will get its
//! interruption warning (drawn at launch) and which coming ICE period will reclaim it
//! ([`crate::market::Market::reclaim_at`]). A worker stops counting as in service from its
//! warning on, so its replacement is launched one boot delay before the warning and is Ready when
//! the warned worker is cordoned; a worker due to be warned soon is the first removed; a launch
//! leaves a Spot pool whose coming ICE period would reclaim the new worker. Reading the schedule
//! changes no draw, and no other policy reads it.
//!
//! A removed or interrupted worker's pods move to the others without a pause
//! (`Cluster::relocate`), which no real autoscaler can do: that is what makes it a bound. It is
//! billed like every other policy. Within `MAX_NODES` it never leaves a pod Pending and is never
//! overloaded; what it promises against the other policies is in docs/SIMULATOR.md ("The
//! clairvoyant bound").

use super::{Ctx, Event, EventKind, Policy};
use crate::cluster::Cluster;
use crate::observe::Observer;
use crate::scenario::Scenario;
use crate::workload::ReplicaController;
use smartscale_engine::engine::capacity::CapacityType;

/// Workers the bound needs at every tick of `scenario` above `floor`, index = seconds ÷ tick.
pub fn need(scenario: &Scenario, floor: u32) -> Vec<u32> {
    let sim = &scenario.simulation;
    let tick = sim.tick_secs.max(1) as i64;
    let interval = sim.metrics_interval_secs as i64;
    let duration = scenario.trace.duration_secs().ceil() as i64;
    let w = &scenario.workload;
    let slots = scenario.node.pods_per_node(w.requests).max(1);
    let room_cpu = scenario.node.room_for_pods().cpu_millis as f64;
    let line = sim.overload_ratio * room_cpu;
    let (min, max) = (floor, scenario.policy.max_nodes);
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
    /// The bound for `scenario` above `floor` workers.
    pub fn new(scenario: &Scenario, floor: u32) -> Self {
        let tick = scenario.simulation.tick_secs.max(1) as i64;
        Oracle {
            need: need(scenario, floor),
            tick,
            boot_ticks: scenario.node.boot_delay_secs.div_ceil(tick as u64) as usize,
        }
    }

    /// The workers to start with: what the first boot delay needs (nothing launched later can be
    /// Ready before then).
    pub fn initial_nodes(&self) -> u32 {
        self.need
            .iter()
            .take(self.boot_ticks + 1)
            .copied()
            .max()
            .unwrap_or(0)
    }

    fn at(&self, i: usize) -> u32 {
        self.need.get(i).or(self.need.last()).copied().unwrap_or(0)
    }
}

/// When worker `i` leaves service as the market's schedule foresees it: its interruption warning
/// or the start of the ICE period that reclaims it, whichever comes first; `None`: never.
pub fn foreseen_end(cluster: &Cluster, i: usize) -> Option<i64> {
    let n = &cluster.nodes[i];
    if let Some(at) = n.warned_at {
        return Some(at);
    }
    if n.capacity != CapacityType::Spot {
        return None;
    }
    let reclaim = cluster
        .market
        .reclaim_at(i, &n.instance_type, n.launched_at);
    match (n.warning_due, reclaim) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Live workers still in service at `t` (not warned by then), each with its foreseen end.
fn in_service(cluster: &Cluster) -> Vec<(usize, Option<i64>)> {
    (0..cluster.nodes.len())
        .filter(|&i| cluster.nodes[i].alive())
        .map(|i| (i, foreseen_end(cluster, i)))
        .collect()
}

/// Whether worker `i`'s pods fit on the other Ready, uncordoned workers.
fn pods_fit_elsewhere(cluster: &Cluster, i: usize) -> bool {
    let room: u32 = (0..cluster.nodes.len())
        .filter(|&j| j != i)
        .map(|j| &cluster.nodes[j])
        .filter(|n| n.ready() && !n.cordoned)
        .map(|n| n.slots.saturating_sub(n.occupied()))
        .sum();
    cluster.nodes[i].pods <= room
}

fn serving_at(workers: &[(usize, Option<i64>)], t: i64) -> u32 {
    workers
        .iter()
        .filter(|(_, end)| end.is_none_or(|e| e > t))
        .count() as u32
}

impl Oracle {
    /// Launches what the tick one boot delay ahead needs in service; returns how many.
    fn launch_ahead(&self, now: i64, i: usize, cluster: &mut Cluster) -> u32 {
        let boot = self.boot_ticks as i64 * self.tick;
        let ahead = self.at(i + self.boot_ticks);
        let mut launched = 0;
        // A new Spot worker warned within its boot delay does not count: at most `ahead` tries.
        while launched < ahead && serving_at(&in_service(cluster), now + boot) < ahead {
            cluster.launch_avoiding(now, true, &|market, n, pool| {
                market.reclaim_at(n, pool, now).is_some()
            });
            launched += 1;
        }
        launched
    }

    /// Removes the workers no tick of the next boot delay needs in service; returns how many.
    fn remove_spare(&self, now: i64, i: usize, cluster: &mut Cluster) -> u32 {
        let boot = self.boot_ticks as i64 * self.tick;
        let mut removed = 0;
        loop {
            let workers = in_service(cluster);
            // Every candidate serves now: none can go while now needs them all.
            if serving_at(&workers, now) <= self.at(i) {
                break;
            }
            // Booting first, then one leaving service within the boot delay, then fewest pods;
            // a Ready worker only when its pods fit on the other Ready workers.
            let Some(&(x, end)) = workers
                .iter()
                .filter(|(j, e)| {
                    e.is_none_or(|e| e > now)
                        && cluster.nodes[*j].warned_at.is_none()
                        && pods_fit_elsewhere(cluster, *j)
                })
                .min_by_key(|(j, e)| {
                    let n = &cluster.nodes[*j];
                    (n.ready(), e.is_none_or(|e| e > now + boot), n.occupied())
                })
            else {
                break;
            };
            let spare = (0..=self.boot_ticks).all(|k| {
                let t = now + k as i64 * self.tick;
                let without = u32::from(end.is_none_or(|e| e > t));
                serving_at(&workers, t) - without >= self.at(i + k)
            });
            if !spare {
                break;
            }
            cluster.relocate(x);
            cluster.terminate(x, now);
            removed += 1;
        }
        removed
    }
}

impl Policy for Oracle {
    fn step(&mut self, now: i64, cluster: &mut Cluster, _: &Observer, _: Ctx<'_>) -> Vec<Event> {
        let i = (now / self.tick) as usize;
        let launched = self.launch_ahead(now, i, cluster);
        let (kind, count, reason) = if launched > 0 {
            let ahead = self.at(i + self.boot_ticks);
            let reason = format!("{ahead} worker(s) needed in service one boot delay from now");
            (EventKind::ScaleUp, launched, reason)
        } else {
            let reason = "the next boot delay needs fewer workers in service".to_string();
            (
                EventKind::ScaleDown,
                self.remove_spare(now, i, cluster),
                reason,
            )
        };
        if count == 0 {
            return Vec::new();
        }
        vec![Event::new(now, kind, count, reason)]
    }
}
