//! A model of Cluster Autoscaler (a model, not Cluster Autoscaler).

use super::{drain_round, Ctx, Event, EventKind, Policy};
use crate::cluster::Cluster;
use crate::observe::Observer;
use crate::scenario::CaSettings;
use std::collections::BTreeMap;

/// A model of Cluster Autoscaler with its documented defaults, on one node group:
/// - every `scan_interval`, Pending pods the scheduler could not place trigger a scale-up of as
///   many nodes as they need (after counting the room of nodes still booting), up to `max_nodes`;
/// - a Ready node whose requests (the higher of CPU and memory, DaemonSets included) are below
///   `scale_down_utilization_threshold` of its allocatable, and whose pods fit on the other nodes,
///   is unneeded; unneeded for `scale_down_unneeded_time` ⇒ removed (empty nodes all at once,
///   others one at a time, drained respecting the budget), never below `min_nodes`, never within
///   `scale_down_delay_after_add` of a scale-up, and not while pods are Pending.
///
/// Not modelled: expanders, node-group balancing, `scale-down-delay-after-delete/failure`,
/// provisioning failures and backoff.
#[derive(Debug, Clone)]
pub struct CaModel {
    s: CaSettings,
    last_scale_up: Option<i64>,
    unneeded_since: BTreeMap<usize, i64>,
    draining: Option<(usize, i64)>,
}

impl CaModel {
    /// A model with no history.
    pub fn new(settings: CaSettings) -> Self {
        CaModel {
            s: settings,
            last_scale_up: None,
            unneeded_since: BTreeMap::new(),
            draining: None,
        }
    }

    fn utilisation(cluster: &Cluster, i: usize) -> f64 {
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
}

impl Policy for CaModel {
    fn step(&mut self, now: i64, cluster: &mut Cluster, _: &Observer, _: Ctx<'_>) -> Vec<Event> {
        let mut events = Vec::new();
        if now % self.s.scan_interval_secs as i64 != 0 {
            return events;
        }
        let slots = cluster.pods_per_node().max(1);
        // A drain in progress.
        if let Some((i, deadline)) = self.draining {
            if drain_round(cluster, i, now) {
                let name = cluster.nodes[i].name.clone();
                cluster.terminate(i, now);
                events.push(Event {
                    t: now,
                    kind: EventKind::ScaleDown,
                    nodes: 1,
                    reason: format!("{name} unneeded (requests below threshold): drained"),
                });
                self.draining = None;
            } else if now >= deadline {
                cluster.uncordon(i);
                self.draining = None;
                events.push(Event {
                    t: now,
                    kind: EventKind::DrainAborted,
                    nodes: 0,
                    reason: "drain exceeded max-graceful-termination".into(),
                });
            }
        }
        // Scale up.
        let pending = cluster.pending.len() as u32;
        let alive = cluster.alive_count();
        if pending > 0 {
            let upcoming = cluster.booting_count() * slots;
            let need = pending.saturating_sub(upcoming).div_ceil(slots);
            let count = need.min(self.s.max_nodes.saturating_sub(alive));
            if count > 0 {
                for _ in 0..count {
                    cluster.launch(now, true);
                }
                self.last_scale_up = Some(now);
                events.push(Event {
                    t: now,
                    kind: EventKind::ScaleUp,
                    nodes: count,
                    reason: format!("{pending} unschedulable pod(s)"),
                });
            }
            return events;
        }
        // Unneeded nodes: requests below the threshold and pods movable to the other nodes.
        let ready: Vec<usize> = (0..cluster.nodes.len())
            .filter(|&i| {
                let n = &cluster.nodes[i];
                n.ready() && !n.cordoned && self.draining.map(|d| d.0) != Some(i)
            })
            .collect();
        let mut free_elsewhere: u32 = ready
            .iter()
            .map(|&i| slots.saturating_sub(cluster.nodes[i].occupied()))
            .sum();
        let mut unneeded = Vec::new();
        for &i in &ready {
            let n = &cluster.nodes[i];
            let own_free = slots.saturating_sub(n.occupied());
            let movable = n.pods <= free_elsewhere.saturating_sub(own_free);
            if Self::utilisation(cluster, i) < self.s.scale_down_utilization_threshold && movable {
                // Later candidates cannot count this node's room any more.
                free_elsewhere = free_elsewhere.saturating_sub(own_free + n.pods);
                unneeded.push(i);
            }
        }
        self.unneeded_since.retain(|i, _| unneeded.contains(i));
        for &i in &unneeded {
            self.unneeded_since.entry(i).or_insert(now);
        }
        let in_cooldown = self
            .last_scale_up
            .is_some_and(|t| now - t < self.s.scale_down_delay_after_add_secs as i64);
        if in_cooldown || self.draining.is_some() {
            return events;
        }
        let ripe: Vec<usize> = self
            .unneeded_since
            .iter()
            .filter(|(_, &since)| now - since >= self.s.scale_down_unneeded_secs as i64)
            .map(|(&i, _)| i)
            .collect();
        let mut alive = cluster.alive_count();
        let mut removed_empty = 0;
        for &i in &ripe {
            if alive <= self.s.min_nodes {
                break;
            }
            if cluster.nodes[i].occupied() == 0 {
                cluster.terminate(i, now);
                self.unneeded_since.remove(&i);
                alive -= 1;
                removed_empty += 1;
            }
        }
        if removed_empty > 0 {
            events.push(Event {
                t: now,
                kind: EventKind::ScaleDown,
                nodes: removed_empty,
                reason: "empty node(s) unneeded".into(),
            });
            return events;
        }
        if let Some(&i) = ripe.first() {
            if alive > self.s.min_nodes {
                cluster.cordon(i);
                self.unneeded_since.remove(&i);
                self.draining = Some((i, now + self.s.max_graceful_termination_secs as i64));
            }
        }
        events
    }
}
