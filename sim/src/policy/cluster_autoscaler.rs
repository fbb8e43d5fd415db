//! A model of Cluster Autoscaler 1.3x with its defaults, on one node group (a model, not Cluster
//! Autoscaler). Every rule names the file of `kubernetes/autoscaler` (under `cluster-autoscaler/`)
//! it follows; the settings are the `[cluster_autoscaler]` keys of docs/SIMULATOR.md.
//!
//! One loop every `scan-interval` (10 s, `config/const.go` `DefaultScanInterval`), after the
//! scheduler of the same tick has placed what it could (`core/static_autoscaler.go` `RunOnce`):
//!
//! 1. **Workers that never joined**: a worker still booting `max-node-provision-time` (15 min,
//!    `config/flags/flags.go`) after its launch is removed, the loop ends there
//!    (`removeOldUnregisteredNodes` in `core/static_autoscaler.go`), and the group backs off
//!    scale-ups for 5 min, doubling to 30 min (`clusterstate/clusterstate.go`
//!    `InitialNodeGroupBackoffDuration`, `MaxNodeGroupBackoffDuration`; reset after 3 h,
//!    `NodeGroupBackoffResetTimeout`; `utils/backoff/exponential_backoff.go`).
//! 2. **The unready breaker**: with more than `ok-total-unready-count` (3) and more than
//!    `max-total-unready-percentage` (45 %) of the workers unready, the loop does nothing
//!    (`IsClusterHealthy` in `clusterstate/clusterstate.go`). Joined workers never turn NotReady
//!    here, so the unready ones are those past the provision time.
//! 3. **Scale-up** only for pods that fit neither on a Ready worker nor on one still booting
//!    (`core/podlistprocessor/filter_out_schedulable.go`, upcoming nodes included), counting the
//!    pods still bound to a worker being drained as needing a place
//!    (`core/podlistprocessor/currently_drained_nodes.go`); the count is the bin-packing estimate
//!    (`estimator/binpacking_estimator.go`: identical pods, so ⌈pods ÷ pods per worker⌉), capped
//!    by the group's maximum (`core/scaleup/orchestrator/orchestrator.go`), and nothing during a
//!    backoff.
//! 4. **Unneeded tracking**, every loop, even when scale-down is held back
//!    (`core/scaledown/planner/planner.go`): a Ready, schedulable worker is a candidate when its
//!    requests, the higher of CPU and memory over allocatable with DaemonSets counted, are *below*
//!    `scale-down-utilization-threshold` 0.5 (`core/scaledown/eligibility/eligibility.go`:
//!    `Utilization >= threshold` is refused; `utils/utilization/info.go`), and its pods fit on
//!    the other workers with the moves of earlier candidates committed (`simulator/cluster.go`
//!    `FindNodesToRemove`; workers unneeded in the previous loop are tried first). Each
//!    candidate's pods consume the PodDisruptionBudget's allowance; a pod whose budget has no
//!    disruption left blocks its worker (`core/scaledown/pdb/basic.go` `CanRemovePods`,
//!    `RemovePods`). A worker refused for want of room or budget is not simulated again for
//!    `unremovable-node-recheck-timeout` 5 min (`planner.go` `UnremovableNodeRecheckTimeout`,
//!    `core/scaledown/unremovable/nodes.go`). A worker that is not a candidate in a loop loses
//!    its "unneeded since" (`core/scaledown/unneeded/nodes.go` `Update`).
//! 5. **Removal** of a worker unneeded for `scale-down-unneeded-time` 10 min
//!    (`config/const.go` `DefaultScaleDownUnneededTime`), never below the group's minimum, never
//!    in a loop that scaled up, nor within `scale-down-delay-after-add` 10 min of a scale-up,
//!    `scale-down-delay-after-delete` 0 s of a removal or `scale-down-delay-after-failure` 3 min of
//!    a failed drain (`config/flags/flags.go`, `core/static_autoscaler.go`
//!    `isScaleDownInCooldown`). Pending pods that a scale-up cannot help (the group is at its
//!    maximum) do not hold scale-down back. Empty workers go in bulk, up to
//!    `max-empty-bulk-delete` 10; workers with pods are drained one at a time
//!    (`max-drain-parallelism` 1; `core/scaledown/actuation/actuator.go`,
//!    `core/scaledown/budgets/budgets.go`). A drain taints (cordons) the worker and evicts its pods
//!    within the budget, retrying every 10 s (`core/scaledown/actuation/drain.go`
//!    `DefaultEvictionRetryTime`) for at most `max-pod-eviction-time` 2 min; a drain that cannot
//!    evict everything in that time fails: the taint is removed and the failure delay starts
//!    (`core/scaledown/actuation/delete_in_batch.go`). The worker is terminated once its pods are
//!    gone.
//!
//! **The on-demand base of a mixed-instances group.** The group's `OnDemandBaseCapacity` and
//! `OnDemandPercentageAboveBaseCapacity` decide the capacity type of each instance the group
//! *launches* ([`crate::cluster::Buying::Mix`]: on-demand while the group's on-demand count is
//! under the target for its new size). Removal does not look at them: the planner picks a worker
//! by utilisation and room alone, and the AWS cloud provider removes that very instance with
//! `TerminateInstanceInAutoScalingGroup` and `ShouldDecrementDesiredCapacity: true`
//! (`cloudprovider/aws/auto_scaling_groups.go` `DeleteInstances`). EC2 Auto Scaling then launches
//! nothing: it replaces only when the desired capacity is not decremented, and its rebalancing
//! after such a termination is across Availability Zones, not capacity types (EC2 Auto Scaling
//! API reference, `TerminateInstanceInAutoScalingGroup`; user guide, "Rebalancing activities").
//! So when the workers removed at night are the on-demand ones, the group runs below its base,
//! all Spot possibly, until its next scale-out launches on-demand again. The model does the same
//! (`a_removed_on_demand_worker_leaves_the_group_below_its_base_until_the_next_scale_out`);
//! its on-demand bill can be below the base's (docs/COST_ANALYSIS.md).
//!
//! Not modelled: expanders and node-group balancing (one group), scale-down of unready workers
//! (`scale-down-unready-time`; workers here never turn NotReady), soft taints, priorities.

use super::{evictable, Ctx, Event, EventKind, Policy, ReasonCounts};
use crate::cluster::{Cluster, NodeState};
use crate::observe::Observer;
use crate::scenario::CaSettings;
use std::collections::BTreeMap;

/// Why a worker is not a scale-down candidate in a loop (Cluster Autoscaler's
/// `UnremovableReason`, the cases this model has).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unremovable {
    /// Requests at or above the utilisation threshold.
    NotUnderutilized,
    /// Its pods do not fit on the other workers.
    NoPlaceToMovePods,
    /// A pod's PodDisruptionBudget allows no disruption (what earlier candidates consumed
    /// included).
    NotEnoughPdb,
    /// Refused less than the recheck timeout ago; not simulated again yet.
    RecentlyUnremovable,
    /// Not Ready, cordoned or being drained.
    NotSchedulable,
}

/// One loop's scale-down verdict on one worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// A candidate: unneeded in this loop.
    Unneeded,
    /// Not a candidate, and why.
    Kept(Unremovable),
}

#[derive(Debug, Clone, Copy)]
struct Drain {
    node: usize,
    started: i64,
}

/// The node group's scale-up backoff after a worker that never joined.
#[derive(Debug, Clone, Copy, Default)]
struct Backoff {
    until: i64,
    last_failure: Option<i64>,
    duration_secs: i64,
}

/// The Cluster Autoscaler model: see the module documentation for every rule and its source.
#[derive(Debug, Clone)]
pub struct CaModel {
    s: CaSettings,
    last_scale_up: Option<i64>,
    last_deletion: Option<i64>,
    last_failure: Option<i64>,
    unneeded_since: BTreeMap<usize, i64>,
    unremovable_until: BTreeMap<usize, i64>,
    draining: Option<Drain>,
    backoff: Backoff,
    reasons: ReasonCounts,
}

impl CaModel {
    /// A model with no history.
    pub fn new(settings: CaSettings) -> Self {
        CaModel {
            s: settings,
            last_scale_up: None,
            last_deletion: None,
            last_failure: None,
            unneeded_since: BTreeMap::new(),
            unremovable_until: BTreeMap::new(),
            draining: None,
            backoff: Backoff::default(),
            reasons: ReasonCounts::default(),
        }
    }

    /// Since when worker `i` has been unneeded, if it is.
    pub fn unneeded_since(&self, i: usize) -> Option<i64> {
        self.unneeded_since.get(&i).copied()
    }

    /// Max of CPU and memory requests over allocatable on worker `i`, DaemonSets included
    /// (`utils/utilization/info.go`; stopping pods still hold their requests).
    pub fn utilisation(cluster: &Cluster, i: usize) -> f64 {
        let n = &cluster.nodes[i];
        let a = cluster.shape.allocatable();
        let r = cluster.workload.requests;
        let ds = cluster.shape.daemonset;
        let pods = n.occupied() as f64;
        let cpu = (ds.cpu_millis as f64 + pods * r.cpu_millis as f64) / a.cpu_millis.max(1) as f64;
        let mem =
            (ds.memory_bytes as f64 + pods * r.memory_bytes as f64) / a.memory_bytes.max(1) as f64;
        cpu.max(mem)
    }

    /// The planner's pass over every worker at `now`: which are unneeded, and why the others are
    /// not. Updates the unneeded and recheck records.
    pub fn plan(&mut self, cluster: &Cluster, now: i64) -> BTreeMap<usize, Verdict> {
        let slots = cluster.pods_per_node();
        let draining = self.draining.map(|d| d.node);
        let schedulable = |i: usize| {
            let n = &cluster.nodes[i];
            n.ready() && !n.cordoned && draining != Some(i)
        };
        let alive: Vec<usize> = (0..cluster.nodes.len())
            .filter(|&i| cluster.nodes[i].alive())
            .collect();
        self.unremovable_until.retain(|_, until| *until > now);
        // Room for moved pods on every schedulable worker; a candidate leaves the destinations.
        let mut room: u32 = alive
            .iter()
            .filter(|&&i| schedulable(i))
            .map(|&i| slots.saturating_sub(cluster.nodes[i].occupied()))
            .sum();
        let mut allowance = evictable(cluster) as i64;
        // Workers unneeded in the previous loop are simulated first, so they stay unneeded.
        let mut order = alive.clone();
        order.sort_by_key(|i| (!self.unneeded_since.contains_key(i), *i));
        let mut verdicts = BTreeMap::new();
        for i in order {
            let n = &cluster.nodes[i];
            let verdict = if !schedulable(i) {
                Verdict::Kept(Unremovable::NotSchedulable)
            } else if Self::utilisation(cluster, i) >= self.s.scale_down_utilization_threshold {
                Verdict::Kept(Unremovable::NotUnderutilized)
            } else if self.unremovable_until.contains_key(&i) {
                Verdict::Kept(Unremovable::RecentlyUnremovable)
            } else {
                let own = slots.saturating_sub(n.occupied());
                if n.pods > 0 && cluster.workload.pdb_max_unavailable.is_some() && allowance < 1 {
                    Verdict::Kept(Unremovable::NotEnoughPdb)
                } else if n.pods > room.saturating_sub(own) {
                    Verdict::Kept(Unremovable::NoPlaceToMovePods)
                } else {
                    room = room.saturating_sub(own + n.pods);
                    if cluster.workload.pdb_max_unavailable.is_some() {
                        allowance -= n.pods as i64;
                    }
                    Verdict::Unneeded
                }
            };
            if matches!(
                verdict,
                Verdict::Kept(Unremovable::NotEnoughPdb | Unremovable::NoPlaceToMovePods)
            ) {
                self.unremovable_until
                    .insert(i, now + self.s.unremovable_recheck_secs as i64);
            }
            verdicts.insert(i, verdict);
        }
        self.unneeded_since
            .retain(|i, _| verdicts.get(i) == Some(&Verdict::Unneeded));
        for (&i, v) in &verdicts {
            if *v == Verdict::Unneeded {
                self.unneeded_since.entry(i).or_insert(now);
            }
        }
        verdicts
    }

    /// Removes workers that never joined; true when it removed any (the loop then ends).
    fn remove_unjoined(
        &mut self,
        now: i64,
        cluster: &mut Cluster,
        events: &mut Vec<Event>,
    ) -> bool {
        let limit = self.s.max_node_provision_secs as i64;
        let late: Vec<usize> = (0..cluster.nodes.len())
            .filter(|&i| {
                let n = &cluster.nodes[i];
                n.state == NodeState::Booting && now - n.launched_at >= limit
            })
            .collect();
        if late.is_empty() {
            return false;
        }
        for &i in &late {
            cluster.terminate(i, now);
        }
        let b = &mut self.backoff;
        let reset = b
            .last_failure
            .is_none_or(|t| now - t >= self.s.backoff_reset_secs as i64);
        b.duration_secs = if reset {
            self.s.initial_backoff_secs as i64
        } else {
            (b.duration_secs * 2).min(self.s.max_backoff_secs as i64)
        };
        b.until = now + b.duration_secs;
        b.last_failure = Some(now);
        events.push(Event::new(
            now,
            EventKind::JoinFailed,
            late.len() as u32,
            format!(
                "not registered within max-node-provision-time: removed; scale-up backs off {} s",
                b.duration_secs
            ),
        ));
        true
    }

    /// The unready breaker: more than `ok-total-unready-count` and more than
    /// `max-total-unready-percentage` of the workers unready.
    pub fn cluster_healthy(&self, unready: u32, total: u32) -> bool {
        !(unready > self.s.ok_total_unready_count
            && unready as f64 > self.s.max_total_unready_pct / 100.0 * total as f64)
    }

    /// Launches what filter-out-schedulable leaves unplaced; `None` when nothing needs a worker,
    /// `Some(0)` when some pod does but a scale-up cannot help (at the maximum or backing off).
    fn scale_up(
        &mut self,
        now: i64,
        cluster: &mut Cluster,
        events: &mut Vec<Event>,
    ) -> Option<u32> {
        let slots = cluster.pods_per_node().max(1);
        let drained_pods = self.draining.map_or(0, |d| cluster.nodes[d.node].pods);
        let needing = cluster.pending.len() as u32 + drained_pods;
        if needing == 0 {
            return None;
        }
        let draining = self.draining.map(|d| d.node);
        let room: u32 = (0..cluster.nodes.len())
            .filter(|&i| draining != Some(i))
            .map(|i| {
                let n = &cluster.nodes[i];
                match n.state {
                    NodeState::Ready if !n.cordoned => slots.saturating_sub(n.occupied()),
                    NodeState::Booting => slots,
                    _ => 0,
                }
            })
            .sum();
        let unschedulable = needing.saturating_sub(room);
        if unschedulable == 0 {
            return None;
        }
        if now < self.backoff.until {
            self.reasons.count("scale_up_backoff");
            return Some(0);
        }
        let count = unschedulable
            .div_ceil(slots)
            .min(self.s.max_nodes.saturating_sub(cluster.alive_count()));
        if count == 0 {
            self.reasons.count("max_node_group_size_reached");
            return Some(0);
        }
        for _ in 0..count {
            cluster.launch(now, true);
        }
        self.last_scale_up = Some(now);
        events.push(Event::new(
            now,
            EventKind::ScaleUp,
            count,
            format!("{unschedulable} pod(s) fit on no Ready or booting worker"),
        ));
        Some(count)
    }

    /// Moves the drain in progress on: evicts within the budget, terminates the worker once its
    /// pods are gone, or gives up after `max-pod-eviction-time`.
    fn progress_drain(&mut self, now: i64, cluster: &mut Cluster, events: &mut Vec<Event>) {
        let Some(d) = self.draining else { return };
        let allowed = evictable(cluster);
        cluster.evict(d.node, allowed, now);
        let node = &cluster.nodes[d.node];
        if node.occupied() == 0 {
            let name = node.name.clone();
            cluster.terminate(d.node, now);
            self.draining = None;
            self.last_deletion = Some(now);
            events.push(Event::new(
                now,
                EventKind::ScaleDown,
                1,
                format!("{name} unneeded for scale-down-unneeded-time: drained"),
            ));
        } else if node.pods > 0 && now - d.started >= self.s.max_pod_eviction_secs as i64 {
            cluster.uncordon(d.node);
            self.draining = None;
            self.last_failure = Some(now);
            events.push(Event::new(
                now,
                EventKind::DrainAborted,
                0,
                "pods not evicted within max-pod-eviction-time: untainted",
            ));
        }
    }

    /// The cooldown that holds removal back at `now`, if any.
    fn cooldown(&self, now: i64) -> Option<&'static str> {
        let within = |t: Option<i64>, secs: u64| t.is_some_and(|t| now - t < secs as i64);
        if within(self.last_scale_up, self.s.scale_down_delay_after_add_secs) {
            Some("scale_down_delay_after_add")
        } else if within(
            self.last_failure,
            self.s.scale_down_delay_after_failure_secs,
        ) {
            Some("scale_down_delay_after_failure")
        } else if within(
            self.last_deletion,
            self.s.scale_down_delay_after_delete_secs,
        ) {
            Some("scale_down_delay_after_delete")
        } else {
            None
        }
    }

    fn scale_down(&mut self, now: i64, cluster: &mut Cluster, events: &mut Vec<Event>) {
        let unneeded = self.s.scale_down_unneeded_secs as i64;
        let ripe: Vec<usize> = self
            .unneeded_since
            .iter()
            .filter(|(_, &since)| now - since >= unneeded)
            .map(|(&i, _)| i)
            .collect();
        if ripe.is_empty() {
            return;
        }
        if let Some(why) = self.cooldown(now) {
            self.reasons.count(why);
            return;
        }
        let mut alive = cluster.alive_count();
        let mut empty = 0;
        for &i in &ripe {
            if alive <= self.s.min_nodes || empty >= self.s.max_empty_bulk_delete {
                break;
            }
            if cluster.nodes[i].occupied() == 0 {
                cluster.terminate(i, now);
                self.unneeded_since.remove(&i);
                alive -= 1;
                empty += 1;
            }
        }
        if empty > 0 {
            self.last_deletion = Some(now);
            events.push(Event::new(
                now,
                EventKind::ScaleDown,
                empty,
                "empty worker(s) unneeded for scale-down-unneeded-time",
            ));
        }
        if self.draining.is_some() || alive <= self.s.min_nodes {
            return;
        }
        if let Some(&i) = ripe.iter().find(|&&i| cluster.nodes[i].alive()) {
            cluster.cordon(i);
            self.unneeded_since.remove(&i);
            self.draining = Some(Drain {
                node: i,
                started: now,
            });
            self.progress_drain(now, cluster, events);
        }
    }
}

impl Policy for CaModel {
    fn step(&mut self, now: i64, cluster: &mut Cluster, _: &Observer, _: Ctx<'_>) -> Vec<Event> {
        let mut events = Vec::new();
        if now % self.s.scan_interval_secs as i64 != 0 {
            return events;
        }
        if self.remove_unjoined(now, cluster, &mut events) {
            return events;
        }
        let limit = self.s.max_node_provision_secs as i64;
        let unready = cluster
            .nodes
            .iter()
            .filter(|n| n.state == NodeState::Booting && now - n.launched_at >= limit)
            .count() as u32;
        if !self.cluster_healthy(unready, cluster.alive_count()) {
            self.reasons.count("cluster_unhealthy");
            return events;
        }
        let scaled_up = self
            .scale_up(now, cluster, &mut events)
            .is_some_and(|n| n > 0);
        self.progress_drain(now, cluster, &mut events);
        self.plan(cluster, now);
        if scaled_up {
            self.reasons.count("scaled_up_this_loop");
        } else {
            self.scale_down(now, cluster, &mut events);
        }
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
    use crate::scenario::Scenario;

    fn model(s: &Scenario) -> CaModel {
        CaModel::new(s.cluster_autoscaler.clone())
    }

    fn first_cordon(
        s: &Scenario,
        c: &mut Cluster,
        m: &mut CaModel,
        node: usize,
        until: i64,
    ) -> (Option<i64>, Vec<Event>) {
        let mut at = None;
        let events = drive(m, c, s, (0, until), &mut |t, c| {
            if at.is_none() && c.nodes[node].cordoned {
                at = Some(t);
            }
        });
        (at, events)
    }

    #[test]
    fn draining_a_node_launches_nothing_while_the_others_have_room() {
        struct Case {
            name: &'static str,
            pods: [u32; 3],
            want_removed: bool,
        }
        let cases = [
            Case {
                name: "2-pod node, room for both elsewhere",
                pods: [2, 4, 4],
                want_removed: true,
            },
            Case {
                name: "2-pod node, the others full: kept, and no launch either",
                pods: [2, 6, 6],
                want_removed: false,
            },
        ];
        let s = scenario();
        for case in cases {
            let mut c = cluster(&s, &case.pods, 0);
            let mut m = model(&s);
            let events = drive(&mut m, &mut c, &s, (0, 1800), &mut |_, _| {});
            let ups = events
                .iter()
                .filter(|e| e.kind == EventKind::ScaleUp)
                .count();
            assert_eq!(ups, 0, "case {}: {events:?}", case.name);
            assert_eq!(!c.nodes[0].alive(), case.want_removed, "case {}", case.name);
            assert!(c.pending.is_empty(), "case {}", case.name);
            let serving: u32 = c.nodes.iter().map(|n| n.pods).sum();
            assert_eq!(serving, case.pods.iter().sum::<u32>(), "case {}", case.name);
        }
    }

    #[test]
    fn a_node_below_the_threshold_becomes_removable_after_exactly_the_unneeded_time() {
        // 1000m allocatable, 100m pods: 4 pods and `ds` millicores of DaemonSets.
        let cases = [
            (
                "49 % of requests: cordoned at 10 min, not before",
                90,
                Some(600),
            ),
            ("50 %: at the threshold, never", 100, None),
        ];
        for (name, ds, want) in cases {
            let mut s = scenario();
            s.node.capacity.cpu_millis = 1000;
            s.node.system_reserved.cpu_millis = 0;
            s.node.daemonset.cpu_millis = ds;
            s.node.daemonset.memory_bytes = 0;
            s.workload.requests.cpu_millis = 100;
            s.workload.requests.memory_bytes = 1 << 20;
            s.workload.pdb_max_unavailable = None;
            let mut c = cluster(&s, &[4, 5, 5], 0);
            let mut m = model(&s);
            let (at, _) = first_cordon(&s, &mut c, &mut m, 0, 900);
            assert_eq!(at, want, "case {name}");
        }
    }

    #[test]
    fn a_scale_up_blocks_scale_down_for_the_delay_after_add() {
        let cases = [
            ("delay-after-add 10 min", 600, 600..=600),
            // Refused at 90 s (its 2 pods fit nowhere yet), so not simulated again until 390 s.
            (
                "no delay: the recheck and the 1 min unneeded time",
                0,
                450..=460,
            ),
        ];
        for (name, delay, want) in cases {
            let mut s = scenario();
            s.cluster_autoscaler.scale_down_unneeded_secs = 60;
            s.cluster_autoscaler.scale_down_delay_after_add_secs = delay;
            // Full workers and 2 Pending pods: one worker launched at 0, Ready at 90 s with them;
            // at 100 s the HPA scales down, and the others have room once the stopping pods are
            // gone (130 s).
            let mut c = cluster(&s, &[6, 6, 6], 2);
            let mut m = model(&s);
            let mut at = None;
            let events = drive(&mut m, &mut c, &s, (0, 900), &mut |t, c| {
                if t == 100 {
                    c.set_replicas(100, 14);
                }
                if at.is_none() && c.nodes.get(3).is_some_and(|n| n.cordoned) {
                    at = Some(t);
                }
            });
            let ups: Vec<i64> = events
                .iter()
                .filter(|e| e.kind == EventKind::ScaleUp)
                .map(|e| e.t)
                .collect();
            assert_eq!(ups, [0], "case {name}");
            let at = at.unwrap_or_else(|| panic!("case {name}: never cordoned: {events:?}"));
            assert!(want.contains(&at), "case {name}: cordoned at {at}");
        }
    }

    #[test]
    fn a_pdb_without_allowance_blocks_its_node() {
        struct Case {
            name: &'static str,
            pods: &'static [u32],
            pending: u32,
            pdb: Option<u32>,
            want: &'static [Verdict],
        }
        use Unremovable::*;
        use Verdict::*;
        let cases = [
            Case {
                name: "allowance 1: the 2-pod node is unneeded",
                pods: &[2, 4, 4],
                pending: 0,
                pdb: Some(1),
                want: &[Unneeded, Kept(NotUnderutilized), Kept(NotUnderutilized)],
            },
            Case {
                name: "one pod unavailable: allowance 0 blocks it",
                pods: &[2, 4, 4],
                pending: 1,
                pdb: Some(1),
                want: &[
                    Kept(NotEnoughPdb),
                    Kept(NotUnderutilized),
                    Kept(NotUnderutilized),
                ],
            },
            Case {
                name: "the first candidate consumes the allowance of the second",
                pods: &[2, 2, 2, 2],
                pending: 0,
                pdb: Some(1),
                want: &[
                    Unneeded,
                    Kept(NotEnoughPdb),
                    Kept(NotEnoughPdb),
                    Kept(NotEnoughPdb),
                ],
            },
            Case {
                name: "no budget: moves committed, so the fourth has no room left",
                pods: &[2, 2, 2, 2],
                pending: 0,
                pdb: None,
                want: &[
                    Unneeded,
                    Unneeded,
                    Kept(NoPlaceToMovePods),
                    Kept(NoPlaceToMovePods),
                ],
            },
        ];
        for case in cases {
            let mut s = scenario();
            s.workload.pdb_max_unavailable = case.pdb;
            let c = cluster(&s, case.pods, case.pending);
            let mut m = model(&s);
            let got: Vec<Verdict> = m.plan(&c, 0).into_values().collect();
            assert_eq!(got, case.want, "case {}", case.name);
            // Blocked nodes are not simulated again for the recheck timeout.
            let again: Vec<Verdict> = m.plan(&c, 290).into_values().collect();
            for (i, v) in case.want.iter().enumerate() {
                if matches!(v, Kept(NotEnoughPdb | NoPlaceToMovePods)) {
                    assert_eq!(again[i], Kept(RecentlyUnremovable), "case {}", case.name);
                }
            }
        }
    }

    #[test]
    fn workers_that_never_join_are_removed_and_the_group_backs_off() {
        let mut s = scenario();
        s.node.boot_delay_secs = 3600;
        let mut c = cluster(&s, &[6, 6], 3);
        let mut m = model(&s);
        let events = drive(&mut m, &mut c, &s, (0, 3000), &mut |_, _| {});
        let at = |k: EventKind| -> Vec<i64> {
            events.iter().filter(|e| e.kind == k).map(|e| e.t).collect()
        };
        assert_eq!(
            at(EventKind::ScaleUp),
            [0, 1200, 2700],
            "5 min, then 10 min"
        );
        assert_eq!(at(EventKind::JoinFailed), [900, 2100]);
    }

    /// A group with a 2-worker on-demand base and all Spot above it: CA removes the two empty
    /// on-demand workers (the planner does not look at capacity types), nothing launches to
    /// restore the base, and the next scale-out launches on-demand first.
    #[test]
    fn a_removed_on_demand_worker_leaves_the_group_below_its_base_until_the_next_scale_out() {
        use crate::cluster::Buying;
        use smartscale_engine::engine::capacity::CapacityType;
        let mut s = scenario();
        s.policy.on_demand_base_capacity = 2;
        s.policy.on_demand_percentage_above_base_pct = 0.0;
        s.workload.pdb_max_unavailable = None;
        // Workers 0 and 1 on-demand and empty (the base), 2 and 3 Spot and busy.
        let mut c = cluster(&s, &[0, 0], 0);
        c.buying = Buying::Mix(Box::new(s.policy.clone()));
        for _ in 0..2 {
            let i = c.launch(0, true);
            c.nodes[i].state = NodeState::Ready;
            c.nodes[i].pods = 4;
        }
        c.set_replicas(0, 8);
        let kinds = |c: &Cluster| -> Vec<CapacityType> {
            c.nodes
                .iter()
                .filter(|n| n.alive())
                .map(|n| n.capacity)
                .collect()
        };
        assert_eq!(
            kinds(&c),
            [
                CapacityType::OnDemand,
                CapacityType::OnDemand,
                CapacityType::Spot,
                CapacityType::Spot
            ]
        );
        let mut m = model(&s);
        let events = drive(&mut m, &mut c, &s, (0, 900), &mut |_, _| {});
        let removed: u32 = events
            .iter()
            .filter(|e| e.kind == EventKind::ScaleDown)
            .map(|e| e.nodes)
            .sum();
        assert_eq!(removed, 2, "{events:?}");
        assert_eq!(
            kinds(&c),
            [CapacityType::Spot, CapacityType::Spot],
            "no on-demand worker left, and none launched to restore the base"
        );
        // Demand for two more workers: the group's launches bring the on-demand count back.
        let slots = c.pods_per_node();
        let mut m = model(&s);
        let events = drive(&mut m, &mut c, &s, (1000, 1300), &mut |t, c| {
            if t == 1000 {
                c.set_replicas(t, 8 + 3 * slots);
            }
        });
        assert!(
            events.iter().any(|e| e.kind == EventKind::ScaleUp),
            "{events:?}"
        );
        let on_demand = kinds(&c)
            .iter()
            .filter(|&&k| k == CapacityType::OnDemand)
            .count();
        assert_eq!(on_demand, 2, "{:?}", kinds(&c));
    }

    #[test]
    fn the_unready_breaker_needs_both_the_count_and_the_share() {
        let m = model(&scenario());
        let cases = [
            ("3 of 4: within the count", 3, 4, true),
            ("4 of 8: 50 % > 45 %", 4, 8, false),
            ("4 of 10: 40 %", 4, 10, true),
            ("none", 0, 2, true),
        ];
        for (name, unready, total, healthy) in cases {
            assert_eq!(m.cluster_healthy(unready, total), healthy, "case {name}");
        }
    }
}
