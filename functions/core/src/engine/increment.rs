//! How many workers a scale-up adds: urgency, then the bounds.

use super::readings::{ratio, Readings};
use crate::config::Config;
use crate::model::{ClusterView, MetricName, MetricsSnapshot, Resources};

/// What one new worker offers: the smallest `allocatable` (CPU and memory taken separately) among
/// the Ready, managed workers that report one, else `WORKER_ALLOCATABLE_CPU` /
/// `WORKER_ALLOCATABLE_MEMORY`. Taking the smallest keeps the answer independent of node order
/// and errs towards adding more.
pub fn worker_allocatable(cluster: &ClusterView, cfg: &Config) -> Resources {
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

/// True when the scale-up is urgent: the Pending pods' summed requests do not fit in one worker's
/// allocatable (either CPU or memory), or current CPU is at or above
/// `SCALE_UP_URGENT_THRESHOLD_CPU`.
pub fn urgent(m: &MetricsSnapshot, cluster: &ClusterView, cfg: &Config) -> bool {
    let pending = cluster
        .pending_pods()
        .fold(Resources::default(), |sum, p| sum.plus(p.requests));
    let cpu_urgent = Readings::new(m)
        .value(MetricName::Cpu, m.cpu_ratio)
        .is_some_and(|cpu| cpu >= ratio(cfg.scale_up_urgent_threshold_cpu_pct));
    !pending.fits_in(worker_allocatable(cluster, cfg)) || cpu_urgent
}

/// Workers to add: `SCALE_UP_MAX_INCREMENT` when `urgent`, else 1, raised to `deficit` (workers
/// missing below `MIN_NODES`) but never above `SCALE_UP_MAX_INCREMENT`, then clamped so that
/// `workers + count <= MAX_NODES`. 0 means the cluster is at its maximum.
pub fn count(urgent: bool, deficit: u32, workers: u32, cfg: &Config) -> u32 {
    let step = cfg.scale_up_max_increment.max(1);
    let wanted = if urgent { step } else { 1 }.max(deficit).min(step);
    wanted.min(cfg.max_nodes.saturating_sub(workers))
}
