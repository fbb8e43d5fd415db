//! How many workers a scale-up adds: sized from what the triggers measured (the Pending pods'
//! requests, the load over its threshold), at least the urgency floor, then the bounds.

use super::readings::{ratio, Readings};
use crate::config::Policy;
use crate::model::{
    ClusterView, MetricName, MetricsSnapshot, OwnerKind, PodInfo, PodPhase, Resources,
};
use std::cmp::Reverse;
use std::collections::BTreeMap;

/// Workers an urgent scale-up adds at least (the specification's "1-2 nodes per event, based on urgency"; docs/SCALING_ALGORITHM.md).
pub const URGENT_INCREMENT: u32 = 2;

/// What one new worker offers: the smallest `allocatable` (CPU and memory taken separately) among
/// the Ready, managed workers that report one, else `WORKER_ALLOCATABLE_CPU` /
/// `WORKER_ALLOCATABLE_MEMORY`. Taking the smallest keeps the answer independent of node order
/// and errs towards adding more.
pub fn worker_allocatable(cluster: &ClusterView, cfg: &Policy) -> Resources {
    cluster
        .workers()
        .filter(|n| n.ready && n.managed)
        .map(|n| n.allocatable)
        .filter(|a| a.cpu_millis > 0 && a.memory_bytes > 0)
        .reduce(|a, b| Resources {
            cpu_millis: a.cpu_millis.min(b.cpu_millis),
            memory_bytes: a.memory_bytes.min(b.memory_bytes),
        })
        .unwrap_or(Resources {
            cpu_millis: cfg.worker_allocatable_cpu_millis,
            memory_bytes: cfg.worker_allocatable_memory_bytes,
        })
}

/// What a new worker offers the Pending pods: [`worker_allocatable`] minus the requests of the
/// DaemonSet pods it will also run (the largest such sum on any Ready, managed worker; CPU and
/// memory taken separately), never below zero.
pub fn new_worker_room(cluster: &ClusterView, cfg: &Policy) -> Resources {
    // One pass over the pods (not one per worker): linear in nodes + pods at 500 workers.
    let mut per_node: BTreeMap<&str, Resources> = BTreeMap::new();
    for p in cluster
        .pods
        .iter()
        .filter(|p| p.owner_kind == Some(OwnerKind::DaemonSet))
    {
        if let Some(node) = p.node_name.as_deref() {
            let sum = per_node.entry(node).or_default();
            *sum = sum.plus(p.requests);
        }
    }
    let daemonsets = cluster
        .workers()
        .filter(|n| n.ready && n.managed)
        .map(|n| per_node.get(n.name.as_str()).copied().unwrap_or_default())
        .fold(Resources::default(), |a, b| Resources {
            cpu_millis: a.cpu_millis.max(b.cpu_millis),
            memory_bytes: a.memory_bytes.max(b.memory_bytes),
        });
    let a = worker_allocatable(cluster, cfg);
    Resources {
        cpu_millis: a.cpu_millis.saturating_sub(daemonsets.cpu_millis),
        memory_bytes: a.memory_bytes.saturating_sub(daemonsets.memory_bytes),
    }
}

/// The requests of the largest workload pod scheduled on a worker when no Ready, schedulable
/// worker has room for one more like it (its allocatable minus the requests of every pod bound
/// to it, CPU and memory both); `None` when one has room, or no workload pod runs. The next
/// replica the workload's autoscaler adds would then be Pending.
pub fn no_room_for_next_pod(cluster: &ClusterView) -> Option<Resources> {
    let mut used: BTreeMap<&str, Resources> = BTreeMap::new();
    let mut largest: Option<Resources> = None;
    let finished = |p: &&PodInfo| matches!(p.phase, PodPhase::Succeeded | PodPhase::Failed);
    for p in cluster.pods.iter().filter(|p| !finished(p)) {
        let Some(node) = p.node_name.as_deref() else {
            continue;
        };
        let sum = used.entry(node).or_default();
        *sum = sum.plus(p.requests);
        let key = |r: Resources| (r.cpu_millis, r.memory_bytes);
        if !p.ignored_by_drain() && largest.is_none_or(|l| key(p.requests) > key(l)) {
            largest = Some(p.requests);
        }
    }
    let pod = largest.filter(|r| r.cpu_millis > 0 || r.memory_bytes > 0)?;
    let room = cluster
        .workers()
        .filter(|n| n.ready && !n.unschedulable)
        .any(|n| {
            let u = used.get(n.name.as_str()).copied().unwrap_or_default();
            pod.plus(u).fits_in(n.allocatable)
        });
    (!room).then_some(pod)
}

/// New workers the Pending pods need: their requests packed first-fit-decreasing (largest share
/// of a worker first) onto empty workers of [`new_worker_room`]. Returns `(pods, workers)`: the
/// Pending pods that fit on an empty worker, and the workers they fill. A pod too big for an empty
/// worker is left out, since no new worker would let it run. Packing stops once `limit` workers are
/// filled, so the answer never exceeds `limit`. The result does not depend on the order of the pods.
pub fn pending_need(cluster: &ClusterView, cfg: &Policy, limit: u32) -> (u32, u32) {
    let room = new_worker_room(cluster, cfg);
    let share = |r: Resources| {
        (u128::from(r.cpu_millis) * u128::from(room.memory_bytes))
            .max(u128::from(r.memory_bytes) * u128::from(room.cpu_millis))
    };
    let mut pods: Vec<Resources> = cluster
        .pending_pods()
        .map(|p| p.requests)
        .filter(|r| r.fits_in(room))
        .collect();
    pods.sort_by_key(|r| Reverse((share(*r), r.cpu_millis, r.memory_bytes)));
    let mut free: Vec<Resources> = Vec::new();
    for r in &pods {
        let opened = free.len() as u32;
        match free.iter_mut().find(|f| r.fits_in(**f)) {
            Some(f) => {
                f.cpu_millis -= r.cpu_millis;
                f.memory_bytes -= r.memory_bytes;
            }
            None if opened >= limit => break,
            None => free.push(Resources {
                cpu_millis: room.cpu_millis - r.cpu_millis,
                memory_bytes: room.memory_bytes - r.memory_bytes,
            }),
        }
    }
    (pods.len() as u32, free.len() as u32)
}

/// More Ready workers that bring a load of `value` (ratio, 0–1, averaged over `ready` workers)
/// back to `threshold_pct`: `ceil(ready × value / threshold) − ready`, 0 when it is not above the
/// threshold or nothing is Ready. The load is assumed to spread evenly over the new workers.
pub fn load_need(value: f64, threshold_pct: f64, ready: u32) -> u32 {
    let threshold = ratio(threshold_pct);
    if ready == 0 || threshold <= 0.0 || value.is_nan() || value <= threshold {
        return 0;
    }
    let wanted = (f64::from(ready) * value / threshold).ceil();
    (wanted.min(f64::from(u32::MAX)) as u32).saturating_sub(ready)
}

/// True when the scale-up is urgent: the Pending pods' summed requests do not fit in one worker's
/// allocatable (either CPU or memory), or, when `with_cpu`, current CPU is at or above
/// `SCALE_UP_URGENT_THRESHOLD_CPU`.
pub fn urgent(m: &MetricsSnapshot, cluster: &ClusterView, cfg: &Policy, with_cpu: bool) -> bool {
    let pending = cluster
        .pending_pods()
        .fold(Resources::default(), |sum, p| sum.plus(p.requests));
    let cpu_urgent = with_cpu
        && Readings::new(m)
            .value(MetricName::Cpu, m.cpu_ratio)
            .is_some_and(|cpu| cpu >= ratio(cfg.scale_up_urgent_threshold_cpu_pct));
    !pending.fits_in(worker_allocatable(cluster, cfg)) || cpu_urgent
}

/// Workers to add: the largest of 1, `sized` (what the triggers' measurements need),
/// `deficit` (workers missing below `MIN_NODES`) and, when `urgent`, [`URGENT_INCREMENT`]; never
/// above `SCALE_UP_MAX_INCREMENT`, then clamped so that `workers + count <= MAX_NODES`. 0 means
/// the cluster is at its maximum.
pub fn count(urgent: bool, deficit: u32, sized: u32, workers: u32, cfg: &Policy) -> u32 {
    let step = cfg.scale_up_max_increment.max(1);
    let floor = if urgent { URGENT_INCREMENT } else { 1 };
    let wanted = floor.max(deficit).max(sized).min(step);
    wanted.min(cfg.max_nodes.saturating_sub(workers))
}

#[cfg(test)]
mod tests {
    use super::super::testkit::*;
    use super::*;

    #[test]
    fn load_need_brings_the_load_back_to_its_threshold() {
        let cases = [
            ("at the threshold", 0.70, 70.0, 5, 0),
            ("just above on 5", 0.7001, 70.0, 5, 1),
            ("90% on 4 needs 2", 0.90, 70.0, 4, 2),
            ("100% on 2 needs 1", 1.0, 70.0, 2, 1),
            ("100% on 10 needs 5", 1.0, 70.0, 10, 5),
            ("nothing Ready", 0.9, 70.0, 0, 0),
            ("NaN", f64::NAN, 70.0, 4, 0),
            ("threshold 0", 0.5, 0.0, 4, 0),
        ];
        for (name, value, threshold, ready, want) in cases {
            assert_eq!(load_need(value, threshold, ready), want, "case {name}");
        }
    }

    #[test]
    fn pending_pods_are_packed_onto_new_workers() {
        // Default allocatable 1800m / 1536Mi, no DaemonSet pods in these views.
        let ds = |node: &str| {
            pod(&format!("ds-{node}"))
                .on(node)
                .daemonset()
                .requests(100, 256)
        };
        type Case = (&'static str, Vec<crate::model::PodInfo>, u32, (u32, u32));
        let cases: Vec<Case> = vec![
            ("none", vec![], 10, (0, 0)),
            ("one pod", pending(1, 200, 256), 10, (1, 1)),
            ("memory binds at 6", pending(6, 200, 256), 10, (6, 1)),
            ("7 pods need 2", pending(7, 200, 256), 10, (7, 2)),
            ("cpu binds at 9", pending(10, 200, 64), 10, (10, 2)),
            ("24 pods need 4", pending(24, 200, 256), 10, (24, 4)),
            ("the limit stops packing", pending(24, 200, 256), 3, (24, 3)),
            (
                "a pod no worker holds is left out",
                pending(1, 4000, 256),
                10,
                (0, 0),
            ),
            (
                "DaemonSet requests shrink the room to 5 pods",
                [pending(6, 200, 256), vec![ds("w1")]].concat(),
                10,
                (6, 2),
            ),
            (
                "big first: 3 big and 3 small share 2 workers",
                [pending(3, 900, 64), pending(3, 900, 64)].concat(),
                10,
                (6, 3),
            ),
        ];
        for (name, pods, limit, want) in cases {
            let cluster = ClusterView {
                nodes: workers(3),
                pods,
                pdbs: vec![],
            };
            assert_eq!(
                pending_need(&cluster, &Policy::default(), limit),
                want,
                "case {name}"
            );
        }
    }

    #[test]
    fn count_takes_the_largest_need_within_the_bounds() {
        let cfg = |inc: u32| Policy {
            scale_up_max_increment: inc,
            ..Policy::default()
        };
        // (name, urgent, deficit, sized, workers, max increment, want)
        let cases = [
            ("nothing sized adds 1", false, 0, 0, 4, 4, 1),
            ("urgent adds 2", true, 0, 0, 4, 4, 2),
            ("sized beats urgency", true, 0, 3, 4, 4, 3),
            ("deficit", false, 2, 1, 0, 4, 2),
            ("capped by the max increment", false, 0, 7, 2, 4, 4),
            ("urgent capped by max increment 1", true, 0, 0, 4, 1, 1),
            ("clamped to MAX_NODES", false, 0, 4, 8, 4, 2),
            ("at MAX_NODES", false, 0, 4, 10, 4, 0),
        ];
        for (name, urgent, deficit, sized, workers, inc, want) in cases {
            assert_eq!(
                count(urgent, deficit, sized, workers, &cfg(inc)),
                want,
                "case {name}"
            );
        }
    }
}
