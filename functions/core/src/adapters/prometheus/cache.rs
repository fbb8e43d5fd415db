//! The "retry twice, then use cached metrics" rule (docs/METRICS.md), as pure functions over the state
//! item's [`CachedMetrics`]: remember a live snapshot when it is good, and fall back to it, marked
//! [`Provenance::Cached`] with its fetch time, when Prometheus fails. The engine uses a cached
//! snapshot for scale-up only, never for scale-down.

use crate::model::{CachedMetrics, MetricsSnapshot, Provenance};
use chrono::{DateTime, Utc};

/// What the state item should hold after a live snapshot taken at `now`: the snapshot when it is
/// live and every required input (CPU, memory, pending pods) is present and fresh, otherwise the
/// previous cache unchanged (a half-broken snapshot never replaces a good one).
pub fn remember(
    previous: Option<&CachedMetrics>,
    live: &MetricsSnapshot,
    now: DateTime<Utc>,
) -> Option<CachedMetrics> {
    let good = live.provenance == Provenance::Live && live.unusable_required().is_empty();
    if good {
        Some(CachedMetrics {
            snapshot: live.clone(),
            fetched_at: now,
        })
    } else {
        previous.cloned()
    }
}

/// The cached snapshot to decide on when the live fetch failed: the last good values, marked
/// `Provenance::Cached { fetched_at }`, or `None` when nothing was ever cached. Age is not judged
/// here: the engine refuses a cache older than `METRICS_CACHE_MAX_AGE` with its own reason
/// (`CachedMetricsTooOld`) and never scales down on a cached snapshot.
pub fn fallback(cached: Option<&CachedMetrics>) -> Option<MetricsSnapshot> {
    let c = cached?;
    let mut snapshot = c.snapshot.clone();
    snapshot.provenance = Provenance::Cached {
        fetched_at: c.fetched_at,
    };
    Some(snapshot)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::MetricName;
    use chrono::TimeZone;

    fn t(secs: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_735_689_600 + secs, 0).unwrap()
    }

    fn good(at: DateTime<Utc>) -> MetricsSnapshot {
        let mut s = MetricsSnapshot::empty(at);
        s.cpu_ratio = Some(0.8);
        s.memory_ratio = Some(0.6);
        s.pending_pods = Some(2.0);
        s.missing = vec![MetricName::QueueDepth];
        s
    }

    #[test]
    fn remember_table() {
        let old = CachedMetrics {
            snapshot: good(t(0)),
            fetched_at: t(0),
        };
        let mut stale_cpu = good(t(120));
        stale_cpu.stale = vec![MetricName::Cpu];
        let mut missing_memory = good(t(120));
        missing_memory.missing.push(MetricName::Memory);
        let mut cached = good(t(120));
        cached.provenance = Provenance::Cached { fetched_at: t(0) };
        type Case<'a> = (
            &'a str,
            Option<&'a CachedMetrics>,
            MetricsSnapshot,
            Option<DateTime<Utc>>,
        );
        let cases: Vec<Case> = vec![
            ("good live replaces", Some(&old), good(t(120)), Some(t(120))),
            (
                "good live fills an empty cache",
                None,
                good(t(120)),
                Some(t(120)),
            ),
            (
                "optional input missing still counts as good",
                None,
                good(t(120)),
                Some(t(120)),
            ),
            (
                "stale cpu keeps the old cache",
                Some(&old),
                stale_cpu,
                Some(t(0)),
            ),
            (
                "missing memory keeps the old cache",
                Some(&old),
                missing_memory.clone(),
                Some(t(0)),
            ),
            (
                "missing memory with no cache stays empty",
                None,
                missing_memory,
                None,
            ),
            (
                "a cached snapshot is never re-cached",
                Some(&old),
                cached,
                Some(t(0)),
            ),
        ];
        for (name, prev, live, want) in cases {
            assert_eq!(
                remember(prev, &live, t(120)).map(|c| c.fetched_at),
                want,
                "case {name}"
            );
        }
    }

    #[test]
    fn fallback_marks_the_cache_with_its_fetch_time() {
        let c = CachedMetrics {
            snapshot: good(t(0)),
            fetched_at: t(0),
        };
        let s = fallback(Some(&c)).expect("a cache");
        assert_eq!(s.provenance, Provenance::Cached { fetched_at: t(0) });
        assert_eq!(s.cpu_ratio, Some(0.8), "values kept");
        assert_eq!(s.taken_at, t(0), "taken when it was live");
        assert_eq!(fallback(None), None);
    }
}
