//! A model of Karpenter v1 with its defaults, one NodePool of one instance type (a model, not
//! Karpenter). Every rule names the file of `kubernetes-sigs/karpenter` it follows; the settings
//! are the `[karpenter]` keys of docs/SIMULATOR.md.
//!
//! - **Provisioning** (`pkg/controllers/provisioning/provisioner.go`, `batcher.go`): Pending pods
//!   open a batch that closes once no new pod has arrived for `batch_idle` (1 s) or `batch_max`
//!   (10 s) after it opened (`pkg/operator/options/options.go` `BatchIdleDuration`,
//!   `BatchMaxDuration`); the pods, and those still bound to workers being deleted, go first on
//!   Ready and in-flight workers (`pkg/controllers/provisioning/scheduling/scheduler.go`), and the
//!   rest on the cheapest workers that fit them: ⌈pods ÷ pods per worker⌉ of the one type, within
//!   the NodePool's `limits` (here `MAX_NODES`).
//! - **Disruption** every 10 s (`pkg/controllers/disruption/controller.go`, polling period), with
//!   `consolidationPolicy: WhenEmptyOrUnderutilized` and no utilisation threshold:
//!   - a worker is a candidate once `consolidateAfter` (v1 default 0 s) has passed since its last
//!     pod event, a pod bound to it or gone from it (`pkg/apis/v1/nodepool.go`,
//!     `pkg/controllers/nodeclaim/disruption/consolidation.go`), when it is Ready and not being
//!     deleted, and no pod on it has a PodDisruptionBudget that allows no disruption
//!     (`pkg/controllers/disruption/helpers.go` `GetCandidates`, `pkg/utils/pdb/pdb.go`);
//!   - the budget: 10 % of the NodePool's workers, rounded up, minus those NotReady or being
//!     deleted (`pkg/apis/v1/nodepool.go` `GetAllowedDisruptionsByReason`, default budget
//!     `nodes: 10%`; `pkg/controllers/disruption/helpers.go` `BuildDisruptionBudgetMapping`);
//!   - methods in order, the first with a command wins: emptiness (empty candidates, as many as
//!     the budget allows; `emptiness.go`), multi-node consolidation (the most candidates, fewest
//!     pods first, whose pods all fit on the other workers; `multinodeconsolidation.go`), then
//!     single-node consolidation (the first candidate whose pods fit elsewhere;
//!     `singlenodeconsolidation.go`); with one instance type a replacement is never cheaper, so
//!     every command is a deletion;
//!   - each command is validated again 15 s later and dropped if a worker stopped being a
//!     candidate, its pods no longer fit or the budget no longer allows it (`validation.go`,
//!     `consolidationTTL`); then the workers are tainted and drained, evictions within the budget
//!     retried until done (`pkg/controllers/node/termination/terminator/terminator.go`), and
//!     terminated once empty.
//! - No minimum: a NodePool has none (`min_nodes`, default 0, models the floor a static pool
//!   would add); below `MIN_NODES` its `× oracle` is against the bound at its own floor
//!   ([`super::PolicyKind::bound`]). Spot is not offered by the scenarios, so the capacity-type choice is not modelled.

use super::{evictable, Ctx, Event, EventKind, Policy, ReasonCounts};
use crate::cluster::{Cluster, NodeState};
use crate::observe::Observer;
use crate::scenario::KarpenterSettings;
use std::collections::BTreeMap;

/// Which method produced a disruption command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// Empty workers deleted.
    Emptiness,
    /// Several workers deleted at once, their pods moving to the others.
    MultiNode,
    /// One worker deleted, its pods moving to the others.
    SingleNode,
}

#[derive(Debug, Clone)]
struct Command {
    method: Method,
    nodes: Vec<usize>,
    validate_at: i64,
}

#[derive(Debug, Clone, Copy)]
struct Batch {
    opened: i64,
    last_arrival: i64,
    pending: u32,
}

/// The Karpenter model: see the module documentation for every rule and its source.
#[derive(Debug, Clone)]
pub struct KarpenterModel {
    s: KarpenterSettings,
    batch: Option<Batch>,
    /// Per worker: (serving, stopping) pods last seen, and the time of its last pod event.
    seen: BTreeMap<usize, ((u32, usize), i64)>,
    command: Option<Command>,
    deleting: Vec<usize>,
    reasons: ReasonCounts,
}

impl KarpenterModel {
    /// A model with no history.
    pub fn new(settings: KarpenterSettings) -> Self {
        KarpenterModel {
            s: settings,
            batch: None,
            seen: BTreeMap::new(),
            command: None,
            deleting: Vec::new(),
            reasons: ReasonCounts::default(),
        }
    }

    /// Records pod events: a worker whose pods changed since the last call had one `now`.
    pub fn observe_pods(&mut self, cluster: &Cluster, now: i64) {
        for (i, n) in cluster.nodes.iter().enumerate() {
            if !n.alive() {
                self.seen.remove(&i);
                continue;
            }
            let pods = (n.pods, n.terminating.len());
            match self.seen.get_mut(&i) {
                Some((last, at)) if *last != pods => {
                    *last = pods;
                    *at = now;
                }
                Some(_) => {}
                None => {
                    self.seen.insert(i, (pods, now));
                }
            }
        }
    }

    /// Whether worker `i` has been without a pod event for `consolidateAfter` at `now`.
    pub fn consolidatable(&self, i: usize, now: i64) -> bool {
        self.seen
            .get(&i)
            .is_some_and(|(_, at)| now - at >= self.s.consolidate_after_secs as i64)
    }

    /// Disruptions the budget allows now: ⌈budget % × workers⌉ minus the workers NotReady or
    /// being deleted, never below 0.
    pub fn allowed_disruptions(&self, cluster: &Cluster) -> u32 {
        let total = cluster.alive_count();
        let cap = (self.s.budget_nodes_pct * total as f64 / 100.0).ceil() as u32;
        let busy = cluster
            .nodes
            .iter()
            .enumerate()
            .filter(|(i, n)| {
                n.alive() && (n.state == NodeState::Booting || self.deleting.contains(i))
            })
            .count() as u32;
        cap.saturating_sub(busy)
    }

    fn schedulable(&self, cluster: &Cluster, i: usize) -> bool {
        let n = &cluster.nodes[i];
        n.ready() && !n.cordoned && !self.deleting.contains(&i)
    }

    /// Candidates at `now`, fewest pods first (the disruption cost).
    fn candidates(&self, cluster: &Cluster, now: i64) -> Vec<usize> {
        let budget_blocks =
            cluster.workload.pdb_max_unavailable.is_some() && evictable(cluster) == 0;
        let mut c: Vec<usize> = (0..cluster.nodes.len())
            .filter(|&i| {
                self.schedulable(cluster, i)
                    && self.consolidatable(i, now)
                    && !(budget_blocks && cluster.nodes[i].pods > 0)
            })
            .collect();
        c.sort_by_key(|&i| (cluster.nodes[i].pods, i));
        c
    }

    /// Whether the pods of `set` fit on the schedulable workers outside it.
    fn fits_elsewhere(&self, cluster: &Cluster, set: &[usize]) -> bool {
        let slots = cluster.pods_per_node();
        let moving: u32 = set.iter().map(|&i| cluster.nodes[i].pods).sum();
        let room: u32 = (0..cluster.nodes.len())
            .filter(|i| self.schedulable(cluster, *i) && !set.contains(i))
            .map(|i| slots.saturating_sub(cluster.nodes[i].occupied()))
            .sum();
        moving <= room
    }

    /// The first method's command at `now`, if any.
    fn compute(&self, cluster: &Cluster, now: i64) -> Option<(Method, Vec<usize>)> {
        let above_floor = cluster.alive_count().saturating_sub(self.s.min_nodes);
        let allowed = self.allowed_disruptions(cluster).min(above_floor) as usize;
        if allowed == 0 {
            return None;
        }
        let candidates = self.candidates(cluster, now);
        let empty: Vec<usize> = candidates
            .iter()
            .copied()
            .filter(|&i| cluster.nodes[i].pods == 0)
            .take(allowed)
            .collect();
        if !empty.is_empty() {
            return Some((Method::Emptiness, empty));
        }
        let most = allowed
            .min(self.s.max_multi_node_candidates)
            .min(candidates.len());
        // Binary search for the longest prefix whose pods fit elsewhere.
        let (mut lo, mut hi) = (0, most);
        while lo < hi {
            let mid = (lo + hi).div_ceil(2);
            if self.fits_elsewhere(cluster, &candidates[..mid]) {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        if lo >= 2 {
            return Some((Method::MultiNode, candidates[..lo].to_vec()));
        }
        candidates
            .iter()
            .find(|&&i| self.fits_elsewhere(cluster, &[i]))
            .map(|&i| (Method::SingleNode, vec![i]))
    }

    /// Whether a command computed 15 s ago still holds.
    fn still_valid(&self, cluster: &Cluster, now: i64, cmd: &Command) -> bool {
        let candidates = self.candidates(cluster, now);
        let above_floor = cluster.alive_count().saturating_sub(self.s.min_nodes);
        cmd.nodes.iter().all(|i| candidates.contains(i))
            && cmd.nodes.len() as u32 <= self.allowed_disruptions(cluster).min(above_floor)
            && match cmd.method {
                Method::Emptiness => cmd.nodes.iter().all(|&i| cluster.nodes[i].pods == 0),
                _ => self.fits_elsewhere(cluster, &cmd.nodes),
            }
    }

    fn provision(&mut self, now: i64, cluster: &mut Cluster, events: &mut Vec<Event>) {
        let slots = cluster.pods_per_node().max(1);
        let pending = cluster.pending.len() as u32;
        let on_deleting: u32 = self.deleting.iter().map(|&i| cluster.nodes[i].pods).sum();
        if pending + on_deleting == 0 {
            self.batch = None;
            return;
        }
        let room: u32 = (0..cluster.nodes.len())
            .map(|i| {
                let n = &cluster.nodes[i];
                if self.schedulable(cluster, i) {
                    slots.saturating_sub(n.occupied())
                } else if n.state == NodeState::Booting {
                    slots
                } else {
                    0
                }
            })
            .sum();
        let unschedulable = (pending + on_deleting).saturating_sub(room);
        if unschedulable == 0 {
            self.batch = None;
            return;
        }
        let b = self.batch.get_or_insert(Batch {
            opened: now,
            last_arrival: now,
            pending,
        });
        if pending > b.pending {
            b.last_arrival = now;
        }
        b.pending = pending;
        let idle = now - b.last_arrival >= self.s.batch_idle_secs as i64 && now > b.opened;
        if !idle && now - b.opened < self.s.batch_max_secs as i64 {
            return;
        }
        self.batch = None;
        let count = unschedulable
            .div_ceil(slots)
            .min(self.s.max_nodes.saturating_sub(cluster.alive_count()));
        if count == 0 {
            self.reasons.count("nodepool_limit_reached");
            return;
        }
        for _ in 0..count {
            cluster.launch(now, true);
        }
        events.push(Event::new(
            now,
            EventKind::ScaleUp,
            count,
            format!("{unschedulable} pod(s) fit on no Ready or in-flight worker"),
        ));
    }

    fn terminate_drained(&mut self, now: i64, cluster: &mut Cluster, events: &mut Vec<Event>) {
        let mut done = Vec::new();
        for &i in &self.deleting {
            let allowed = evictable(cluster);
            cluster.evict(i, allowed, now);
            if cluster.nodes[i].occupied() == 0 {
                done.push(i);
            }
        }
        for i in done {
            let name = cluster.nodes[i].name.clone();
            cluster.terminate(i, now);
            self.deleting.retain(|&d| d != i);
            events.push(Event::new(
                now,
                EventKind::ScaleDown,
                1,
                format!("{name} consolidated: drained and terminated"),
            ));
        }
    }

    fn disrupt(&mut self, now: i64, cluster: &mut Cluster, events: &mut Vec<Event>) {
        if let Some(cmd) = self.command.take() {
            if now < cmd.validate_at {
                self.command = Some(cmd);
                return;
            }
            if !self.still_valid(cluster, now, &cmd) {
                self.reasons.count("validation_failed");
                return;
            }
            for &i in &cmd.nodes {
                cluster.cordon(i);
                self.deleting.push(i);
            }
            self.reasons.count(match cmd.method {
                Method::Emptiness => "emptiness",
                Method::MultiNode => "multi_node_consolidation",
                Method::SingleNode => "single_node_consolidation",
            });
            self.terminate_drained(now, cluster, events);
            return;
        }
        if now % self.s.disruption_poll_secs as i64 != 0 {
            return;
        }
        if let Some((method, nodes)) = self.compute(cluster, now) {
            self.command = Some(Command {
                method,
                nodes,
                validate_at: now + self.s.validation_secs as i64,
            });
        }
    }
}

impl Policy for KarpenterModel {
    fn step(&mut self, now: i64, cluster: &mut Cluster, _: &Observer, _: Ctx<'_>) -> Vec<Event> {
        let mut events = Vec::new();
        self.observe_pods(cluster, now);
        self.terminate_drained(now, cluster, &mut events);
        self.provision(now, cluster, &mut events);
        self.disrupt(now, cluster, &mut events);
        events
    }

    fn no_change_reasons(&self) -> BTreeMap<String, u64> {
        self.reasons.to_map()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::testing::{cluster, drive, scenario};

    #[test]
    fn consolidate_after_restarts_on_a_pod_event() {
        let cases: [(&str, &[i64], i64); 3] = [
            ("one event at 0", &[0], 60),
            ("a pod lands at 30 s", &[0, 30], 90),
            ("events at 30 s and 70 s", &[0, 30, 70], 130),
        ];
        let s = scenario();
        for (name, events, want) in cases {
            let mut k = s.karpenter.clone();
            k.consolidate_after_secs = 60;
            let mut m = KarpenterModel::new(k);
            let mut c = cluster(&s, &[2, 4], 0);
            let mut first = None;
            for t in (0..=300).step_by(5) {
                if events.contains(&t) && t > 0 {
                    c.nodes[0].pods += 1;
                }
                m.observe_pods(&c, t);
                if first.is_none() && m.consolidatable(0, t) {
                    first = Some(t);
                }
            }
            assert_eq!(first, Some(want), "case {name}");
        }
    }

    #[test]
    fn the_budget_allows_one_disruption_at_a_time_on_up_to_ten_nodes() {
        let s = scenario();
        let cases = [
            ("2 workers", 2, 0, 1),
            ("10 workers", 10, 0, 1),
            ("11 workers: 10 % rounds up to 2", 11, 0, 2),
            ("10 workers, one of them booting", 9, 1, 0),
        ];
        for (name, ready, booting, want) in cases {
            let mut c = cluster(&s, &vec![0; ready], 0);
            for _ in 0..booting {
                c.launch(0, true);
            }
            let m = KarpenterModel::new(s.karpenter.clone());
            assert_eq!(m.allowed_disruptions(&c), want, "case {name}");
        }
        // Six empty workers and one holding pods: removed one command at a time.
        let mut c = cluster(&s, &[0, 0, 0, 0, 0, 0, 5], 0);
        let mut m = KarpenterModel::new(s.karpenter.clone());
        let mut most = 0;
        let events = drive(&mut m, &mut c, &s, (0, 600), &mut |_, c| {
            let deleting = c.nodes.iter().filter(|n| n.alive() && n.cordoned).count();
            most = most.max(deleting);
        });
        let downs: Vec<(i64, u32)> = events
            .iter()
            .filter(|e| e.kind == EventKind::ScaleDown)
            .map(|e| (e.t, e.nodes))
            .collect();
        assert_eq!(c.alive_count(), 1, "{downs:?}");
        assert_eq!(downs.len(), 6);
        assert!(downs.iter().all(|&(_, n)| n == 1));
        assert!(most <= 1);
        // Each command waits its 15 s validation; polls are 10 s apart.
        assert_eq!(downs[0].0, 15);
        assert!(downs.windows(2).all(|w| w[1].0 - w[0].0 >= 15), "{downs:?}");
    }

    #[test]
    fn a_pdb_without_allowance_blocks_the_node_and_pods_pending_launch_after_the_batch() {
        let mut s = scenario();
        s.workload.pdb_max_unavailable = Some(1);
        // One pod unavailable (Pending, no room): the budget allows no disruption.
        let c = cluster(&s, &[2, 6, 6], 5);
        let m = KarpenterModel::new(s.karpenter.clone());
        let mut m2 = m.clone();
        m2.observe_pods(&c, 0);
        assert!(m2.candidates(&c, 0).is_empty());
        // The 5 Pending pods: 4 fit on worker 0 (the scheduler places them), 1 needs a worker,
        // launched when the batch closes at the next tick.
        let mut c = cluster(&s, &[2, 6, 6], 5);
        let mut m = m;
        let events = drive(&mut m, &mut c, &s, (0, 60), &mut |_, _| {});
        let ups: Vec<(i64, u32)> = events
            .iter()
            .filter(|e| e.kind == EventKind::ScaleUp)
            .map(|e| (e.t, e.nodes))
            .collect();
        assert_eq!(ups, [(5, 1)]);
    }
}
