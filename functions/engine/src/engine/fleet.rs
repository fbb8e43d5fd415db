//! Worker counts and the NotReady circuit breaker.

use crate::config::Policy;
use crate::model::ClusterView;

/// How many workers (non-control-plane nodes) the cluster has, and how many are Ready.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fleet {
    /// Every worker, Ready or not (a NotReady worker may still be joining).
    pub workers: u32,
    /// Workers whose `Ready` condition is `True`.
    pub ready: u32,
}

impl Fleet {
    /// Counts the workers of `cluster`.
    pub fn of(cluster: &ClusterView) -> Self {
        let (workers, ready) = cluster
            .workers()
            .fold((0u32, 0u32), |(w, r), n| (w + 1, r + u32::from(n.ready)));
        Fleet { workers, ready }
    }

    /// Workers that are not Ready.
    pub fn not_ready(&self) -> u32 {
        self.workers - self.ready
    }

    /// True when so many workers are NotReady that scale-down must stop: more than
    /// `NOT_READY_MAX_PERCENT` of the workers, or `NOT_READY_MAX_COUNT` or more. A fleet with no
    /// NotReady worker never trips it, whatever the limits.
    pub fn breaker_tripped(&self, cfg: &Policy) -> bool {
        let not_ready = self.not_ready();
        not_ready > 0
            && (f64::from(not_ready) * 100.0 > cfg.not_ready_max_pct * f64::from(self.workers)
                || not_ready >= cfg.not_ready_max_count)
    }
}
