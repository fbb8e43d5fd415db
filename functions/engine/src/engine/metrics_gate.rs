//! Whether the metrics may drive a scale-up or a scale-down at all.

use super::NoChangeReason;
use crate::config::Policy;
use crate::model::{MetricName, MetricsSnapshot, Provenance};
use chrono::{DateTime, Utc};

/// Age of cached metrics at `now`, whole seconds (0 for a cache from the future); `None` for live ones.
fn cache_age_secs(m: &MetricsSnapshot, now: DateTime<Utc>) -> Option<u64> {
    match m.provenance {
        Provenance::Live => None,
        Provenance::Cached { fetched_at } => Some((now - fetched_at).num_seconds().max(0) as u64),
    }
}

/// `Err` with [`NoChangeReason::CachedMetricsTooOld`] when the metrics are cached and older than
/// `METRICS_CACHE_MAX_AGE` (an age exactly at the limit is still usable); `Ok` otherwise.
pub(crate) fn for_scale_up(
    m: &MetricsSnapshot,
    cfg: &Policy,
    now: DateTime<Utc>,
) -> Result<(), NoChangeReason> {
    match cache_age_secs(m, now) {
        Some(age_secs) if age_secs > cfg.metrics_cache_max_age_secs => {
            Err(NoChangeReason::CachedMetricsTooOld {
                age_secs,
                max_age_secs: cfg.metrics_cache_max_age_secs,
            })
        }
        _ => Ok(()),
    }
}

/// Every reason the metrics forbid a scale-down: cached metrics ([`NoChangeReason::CachedMetrics`]),
/// and required inputs missing or stale ([`NoChangeReason::MetricsUnavailable`], queue depth
/// included when `QUEUE_METRIC_ENABLED`). Empty when scale-down may be considered.
pub(crate) fn for_scale_down(
    m: &MetricsSnapshot,
    cfg: &Policy,
    now: DateTime<Utc>,
) -> Vec<NoChangeReason> {
    let mut reasons = Vec::new();
    if let Some(age_secs) = cache_age_secs(m, now) {
        reasons.push(NoChangeReason::CachedMetrics { age_secs });
    }
    let mut unusable = m.unusable_required();
    if cfg.queue_metric_enabled
        && (m.missing.contains(&MetricName::QueueDepth)
            || m.stale.contains(&MetricName::QueueDepth))
    {
        unusable.push(MetricName::QueueDepth);
    }
    if !unusable.is_empty() {
        reasons.push(NoChangeReason::MetricsUnavailable { metrics: unusable });
    }
    reasons
}
