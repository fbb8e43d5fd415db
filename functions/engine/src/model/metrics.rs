//! The metrics snapshot: windowed aggregates as Prometheus computes them, with what is missing or
//! stale said explicitly so the engine can refuse to scale down on bad data.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The inputs the engine distinguishes when reporting what is missing or stale.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MetricName {
    /// Cluster CPU utilisation.
    Cpu,
    /// Cluster memory utilisation.
    Memory,
    /// Pending pod count.
    PendingPods,
    /// Message queue depth (optional).
    QueueDepth,
    /// Application p95 latency (optional).
    LatencyP95,
    /// Application 5xx ratio (optional).
    ErrorRate,
}

impl MetricName {
    /// Inputs without which SmartScale never scales down.
    pub const REQUIRED: [MetricName; 3] =
        [MetricName::Cpu, MetricName::Memory, MetricName::PendingPods];

    /// Every input, in declaration order.
    pub const ALL: [MetricName; 6] = [
        MetricName::Cpu,
        MetricName::Memory,
        MetricName::PendingPods,
        MetricName::QueueDepth,
        MetricName::LatencyP95,
        MetricName::ErrorRate,
    ];

    /// A short human name, for reasons and logs.
    pub fn label(self) -> &'static str {
        match self {
            MetricName::Cpu => "CPU",
            MetricName::Memory => "memory",
            MetricName::PendingPods => "pending pods",
            MetricName::QueueDepth => "queue depth",
            MetricName::LatencyP95 => "p95 latency",
            MetricName::ErrorRate => "error rate",
        }
    }
}

/// An aggregate over a time window, with how many samples the window held.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Windowed {
    /// The aggregate (`min_over_time` or `max_over_time`).
    pub value: f64,
    /// Samples in the window (`count_over_time`); fewer than the window needs means "not met".
    pub samples: u32,
}

/// Where a snapshot's values came from.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Provenance {
    /// Queried from Prometheus for this evaluation.
    Live,
    /// Prometheus failed; these are the last good values, fetched at `fetched_at`. Usable for
    /// scale-up only, never for scale-down.
    Cached {
        /// When the cached values were queried.
        fetched_at: DateTime<Utc>,
    },
}

/// One evaluation's metrics. Ratios are 0..1; `None` means the input is unavailable.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricsSnapshot {
    /// The evaluation time the queries were run for.
    pub taken_at: DateTime<Utc>,
    /// Live or cached.
    pub provenance: Provenance,
    /// Current cluster CPU utilisation.
    pub cpu_ratio: Option<f64>,
    /// Lowest CPU utilisation over the scale-up window: above the threshold means "high for the whole window".
    pub cpu_min_up_window: Option<Windowed>,
    /// Highest CPU utilisation over the scale-down window: below the threshold means "low for the whole window".
    pub cpu_max_down_window: Option<Windowed>,
    /// Current cluster memory utilisation.
    pub memory_ratio: Option<f64>,
    /// Pods Pending now.
    pub pending_pods: Option<f64>,
    /// Fewest Pending pods over the pending window: at least one means "pods pending for the whole window".
    pub pending_pods_min_window: Option<Windowed>,
    /// Queue depth now (messages).
    pub queue_depth: Option<f64>,
    /// Highest queue depth over the scale-down window.
    pub queue_depth_max_down_window: Option<Windowed>,
    /// Application p95 latency now (seconds).
    pub latency_p95_secs: Option<f64>,
    /// Application 5xx ratio now.
    pub error_rate_ratio: Option<f64>,
    /// Lowest 5xx ratio over the error window.
    pub error_rate_min_window: Option<Windowed>,
    /// Inputs whose query failed or returned no usable value.
    pub missing: Vec<MetricName>,
    /// Inputs whose newest sample is older than the configured maximum age.
    pub stale: Vec<MetricName>,
}

impl MetricsSnapshot {
    /// A snapshot with nothing in it: every input missing. The starting point for adapters and tests.
    pub fn empty(taken_at: DateTime<Utc>) -> Self {
        MetricsSnapshot {
            taken_at,
            provenance: Provenance::Live,
            cpu_ratio: None,
            cpu_min_up_window: None,
            cpu_max_down_window: None,
            memory_ratio: None,
            pending_pods: None,
            pending_pods_min_window: None,
            queue_depth: None,
            queue_depth_max_down_window: None,
            latency_p95_secs: None,
            error_rate_ratio: None,
            error_rate_min_window: None,
            missing: MetricName::ALL.to_vec(),
            stale: Vec::new(),
        }
    }

    /// Required inputs (CPU, memory, pending pods) that are missing or stale.
    pub fn unusable_required(&self) -> Vec<MetricName> {
        MetricName::REQUIRED
            .into_iter()
            .filter(|m| self.missing.contains(m) || self.stale.contains(m))
            .collect()
    }
}
