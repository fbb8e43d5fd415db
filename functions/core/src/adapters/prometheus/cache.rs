//! The "retry twice, then use cached metrics" rule of seed 004, as pure functions over the state
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

/// The cached snapshot to decide on when the live fetch failed at `now`: `None` when there is no
/// cache, or it is older than `max_age_secs` (`METRICS_CACHE_MAX_AGE`), or it lies in the future.
/// The result carries `Provenance::Cached { fetched_at }` so the engine knows its age and never
/// scales down on it.
pub fn fallback(
    cached: Option<&CachedMetrics>,
    now: DateTime<Utc>,
    max_age_secs: u64,
) -> Option<MetricsSnapshot> {
    let c = cached?;
    let age = now.signed_duration_since(c.fetched_at).num_seconds();
    if age < 0 || age as u64 > max_age_secs {
        return None;
    }
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
    use chrono::{Duration, TimeZone};

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
    fn fallback_table() {
        let c = CachedMetrics {
            snapshot: good(t(0)),
            fetched_at: t(0),
        };
        let cases = [
            ("fresh cache is used", Some(&c), t(300), 600, true),
            ("exactly at the maximum age", Some(&c), t(600), 600, true),
            ("one second too old", Some(&c), t(601), 600, false),
            ("no cache", None, t(10), 600, false),
            ("cache from the future", Some(&c), t(-5), 600, false),
        ];
        for (name, cached, now, max, used) in cases {
            let got = fallback(cached, now, max);
            assert_eq!(got.is_some(), used, "case {name}");
            if let Some(s) = got {
                assert_eq!(
                    s.provenance,
                    Provenance::Cached { fetched_at: t(0) },
                    "case {name}"
                );
                assert_eq!(s.cpu_ratio, Some(0.8), "case {name}: values kept");
                assert!(
                    now - c.fetched_at <= Duration::seconds(max as i64),
                    "case {name}"
                );
            }
        }
    }
}
