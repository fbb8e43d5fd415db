//! Turning the answers of one query plan into a [`MetricsSnapshot`]: validation (NaN, ±Inf,
//! negative values, ratios above 1), staleness by sample age, "no series" versus "query failed",
//! and the `missing`/`stale` lists the engine's "never scale down on bad data" rule reads.
//!
//! Pure: `now` is an argument.

use super::query::{Query, Slot, ValueKind, WhenAbsent};
use super::response::Answer;
use crate::model::{MetricName, MetricsSnapshot, Provenance, Windowed};
use chrono::{DateTime, Utc};
use std::fmt;

/// Why one query's answer was not used as it is.
#[derive(Debug, Clone, PartialEq)]
pub enum Problem {
    /// The query failed (transport, HTTP status, Prometheus error, unreadable body).
    QueryFailed(String),
    /// Prometheus has no series for it (and for this input that means "missing").
    NoSeries,
    /// NaN or ±Inf.
    NotFinite,
    /// Below zero.
    Negative(f64),
    /// A ratio above 1.
    AboveOne(f64),
    /// The value came without the timestamp of its sample.
    NoSampleTime,
    /// The newest sample is older than the maximum age (the value is kept, flagged stale).
    Stale {
        /// Seconds between the sample and `now`.
        age_secs: f64,
    },
    /// The window's sample count is missing or not a count; the window reads as 0 samples.
    BadSampleCount,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::QueryFailed(e) => write!(f, "query failed: {e}"),
            Problem::NoSeries => write!(f, "no series"),
            Problem::NotFinite => write!(f, "value is NaN or infinite"),
            Problem::Negative(v) => write!(f, "negative value {v}"),
            Problem::AboveOne(v) => write!(f, "ratio {v} above 1"),
            Problem::NoSampleTime => write!(f, "no sample timestamp"),
            Problem::Stale { age_secs } => write!(f, "newest sample {age_secs:.0}s old"),
            Problem::BadSampleCount => write!(f, "window sample count missing or invalid"),
        }
    }
}

/// One problem with one query, for logs and the execution document.
#[derive(Debug, Clone, PartialEq)]
pub struct InputProblem {
    /// The snapshot field concerned.
    pub slot: Slot,
    /// Its input.
    pub metric: MetricName,
    /// What was wrong.
    pub problem: Problem,
}

/// A snapshot and everything that was wrong on the way.
#[derive(Debug, Clone, PartialEq)]
pub struct Assembled {
    /// The snapshot, `missing` and `stale` filled in.
    pub snapshot: MetricsSnapshot,
    /// Every problem found, in plan order.
    pub problems: Vec<InputProblem>,
    /// How many queries Prometheus answered (any answer, even an error); 0 means unreachable.
    pub answered: usize,
}

/// Checks a value against its kind. Ratios within 1e-9 above 1 (rounding) are clamped to 1.
pub fn validate(value: f64, kind: ValueKind) -> Result<f64, Problem> {
    if !value.is_finite() {
        return Err(Problem::NotFinite);
    }
    if value < 0.0 {
        return Err(Problem::Negative(value));
    }
    if kind == ValueKind::Ratio && value > 1.0 {
        if value > 1.0 + 1e-9 {
            return Err(Problem::AboveOne(value));
        }
        return Ok(1.0);
    }
    Ok(value)
}

/// The result of running one query: an answer, or why there is none.
pub type QueryResult = Result<Answer, QueryFailure>;

/// A query without a usable answer.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryFailure {
    /// True when Prometheus answered at all (HTTP status or error body); false for connection
    /// errors and the time budget running out.
    pub answered: bool,
    /// What happened, for the problem list.
    pub detail: String,
}

enum Read {
    Value(f64),
    Window(Windowed),
}

/// Builds the snapshot for evaluation time `now` from `results`, one per query of `plan`, in order.
/// Samples older than `max_age_secs` mark their input stale.
pub fn assemble(
    plan: &[Query],
    results: Vec<QueryResult>,
    now: DateTime<Utc>,
    max_age_secs: u64,
) -> Assembled {
    let mut snapshot = MetricsSnapshot::empty(now);
    snapshot.provenance = Provenance::Live;
    snapshot.missing.clear();
    let mut problems = Vec::new();
    let mut answered = 0;
    let now_secs = now.timestamp_millis() as f64 / 1000.0;

    for (query, result) in plan.iter().zip(results) {
        let mut flag = |problem: Problem| {
            problems.push(InputProblem {
                slot: query.slot,
                metric: query.metric,
                problem,
            })
        };
        let answer = match result {
            Ok(a) => {
                answered += 1;
                a
            }
            Err(failure) => {
                answered += usize::from(failure.answered);
                flag(Problem::QueryFailed(failure.detail));
                push_unique(&mut snapshot.missing, query.metric);
                continue;
            }
        };
        let read = match answer.value {
            None if query.when_absent == WhenAbsent::Zero => {
                let samples = answer.samples.and_then(count).unwrap_or(0);
                if query.windowed {
                    Read::Window(Windowed {
                        value: 0.0,
                        samples,
                    })
                } else {
                    Read::Value(0.0)
                }
            }
            None => {
                flag(Problem::NoSeries);
                push_unique(&mut snapshot.missing, query.metric);
                continue;
            }
            Some(raw) => {
                let value = match validate(raw, query.kind) {
                    Ok(v) => v,
                    Err(p) => {
                        flag(p);
                        push_unique(&mut snapshot.missing, query.metric);
                        continue;
                    }
                };
                match answer.sample_time {
                    Some(t) if t.is_finite() => {
                        let age_secs = now_secs - t;
                        if age_secs > max_age_secs as f64 {
                            flag(Problem::Stale { age_secs });
                            push_unique(&mut snapshot.stale, query.metric);
                        }
                    }
                    _ => {
                        flag(Problem::NoSampleTime);
                        push_unique(&mut snapshot.missing, query.metric);
                        continue;
                    }
                }
                if query.windowed {
                    let samples = match answer.samples.and_then(count) {
                        Some(n) => n,
                        None => {
                            flag(Problem::BadSampleCount);
                            0
                        }
                    };
                    Read::Window(Windowed { value, samples })
                } else {
                    Read::Value(value)
                }
            }
        };
        store(&mut snapshot, query.slot, read);
    }
    snapshot.missing.sort();
    snapshot.stale.sort();
    Assembled {
        snapshot,
        problems,
        answered,
    }
}

fn count(v: f64) -> Option<u32> {
    (0.0..=u32::MAX as f64)
        .contains(&v)
        .then(|| v.round() as u32)
}

fn push_unique(list: &mut Vec<MetricName>, m: MetricName) {
    if !list.contains(&m) {
        list.push(m);
    }
}

fn store(s: &mut MetricsSnapshot, slot: Slot, read: Read) {
    match (slot, read) {
        (Slot::Cpu, Read::Value(v)) => s.cpu_ratio = Some(v),
        (Slot::Memory, Read::Value(v)) => s.memory_ratio = Some(v),
        (Slot::PendingPods, Read::Value(v)) => s.pending_pods = Some(v),
        (Slot::QueueDepth, Read::Value(v)) => s.queue_depth = Some(v),
        (Slot::LatencyP95, Read::Value(v)) => s.latency_p95_secs = Some(v),
        (Slot::ErrorRate, Read::Value(v)) => s.error_rate_ratio = Some(v),
        (Slot::CpuUpWindow, Read::Window(w)) => s.cpu_min_up_window = Some(w),
        (Slot::CpuDownWindow, Read::Window(w)) => s.cpu_max_down_window = Some(w),
        (Slot::PendingPodsWindow, Read::Window(w)) => s.pending_pods_min_window = Some(w),
        (Slot::QueueDepthDownWindow, Read::Window(w)) => s.queue_depth_max_down_window = Some(w),
        (Slot::ErrorRateWindow, Read::Window(w)) => s.error_rate_min_window = Some(w),
        // The plan pairs windowed slots with windowed queries; a mismatch stores nothing.
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::prometheus::query::{plan, Windows};
    use chrono::TimeZone;

    const NOW: i64 = 1_735_689_600;

    fn now() -> DateTime<Utc> {
        Utc.timestamp_opt(NOW, 0).unwrap()
    }

    fn fresh(value: f64) -> QueryResult {
        Ok(Answer {
            value: Some(value),
            sample_time: Some(NOW as f64 - 5.0),
            samples: Some(12.0),
        })
    }

    fn absent() -> QueryResult {
        Ok(Answer::default())
    }

    fn failed() -> QueryResult {
        Err(QueryFailure {
            answered: false,
            detail: "connection refused".into(),
        })
    }

    /// Results for the default plan, every query fresh and healthy, then `edit` applied by slot.
    fn results(edit: &[(Slot, QueryResult)]) -> Vec<QueryResult> {
        plan(&Windows::default())
            .iter()
            .map(|q| {
                edit.iter()
                    .find(|(s, _)| *s == q.slot)
                    .map(|(_, r)| r.clone())
                    .unwrap_or_else(|| {
                        fresh(match q.kind {
                            ValueKind::Ratio => 0.5,
                            ValueKind::NonNegative => 3.0,
                        })
                    })
            })
            .collect()
    }

    #[test]
    fn assemble_table() {
        let stale = Ok(Answer {
            value: Some(0.9),
            sample_time: Some(NOW as f64 - 61.0),
            samples: Some(12.0),
        });
        let at_limit = Ok(Answer {
            value: Some(0.9),
            sample_time: Some(NOW as f64 - 60.0),
            samples: Some(12.0),
        });
        /// name, results to change from healthy, expected missing, expected stale
        type Case = (
            &'static str,
            Vec<(Slot, QueryResult)>,
            Vec<MetricName>,
            Vec<MetricName>,
        );
        let cases: Vec<Case> = vec![
            ("all healthy", vec![], vec![], vec![]),
            (
                "cpu NaN is missing",
                vec![(Slot::Cpu, fresh(f64::NAN))],
                vec![MetricName::Cpu],
                vec![],
            ),
            (
                "memory +Inf is missing",
                vec![(Slot::Memory, fresh(f64::INFINITY))],
                vec![MetricName::Memory],
                vec![],
            ),
            (
                "negative ratio is missing",
                vec![(Slot::CpuUpWindow, fresh(-0.1))],
                vec![MetricName::Cpu],
                vec![],
            ),
            (
                "ratio above one is missing",
                vec![(Slot::Memory, fresh(1.2))],
                vec![MetricName::Memory],
                vec![],
            ),
            (
                "negative queue is missing",
                vec![(Slot::QueueDepth, fresh(-1.0))],
                vec![MetricName::QueueDepth],
                vec![],
            ),
            (
                "no cpu series is missing",
                vec![(Slot::Cpu, absent())],
                vec![MetricName::Cpu],
                vec![],
            ),
            (
                "no pending series is zero, not missing",
                vec![
                    (Slot::PendingPods, absent()),
                    (Slot::PendingPodsWindow, absent()),
                ],
                vec![],
                vec![],
            ),
            (
                "pending query failed is missing",
                vec![(Slot::PendingPods, failed())],
                vec![MetricName::PendingPods],
                vec![],
            ),
            (
                "61s old sample is stale",
                vec![(Slot::Memory, stale)],
                vec![],
                vec![MetricName::Memory],
            ),
            (
                "60s old sample is fresh",
                vec![(Slot::Memory, at_limit)],
                vec![],
                vec![],
            ),
            (
                "optional inputs missing do not touch required ones",
                vec![
                    (Slot::QueueDepth, absent()),
                    (Slot::QueueDepthDownWindow, absent()),
                    (Slot::LatencyP95, failed()),
                    (Slot::ErrorRate, absent()),
                    (Slot::ErrorRateWindow, absent()),
                ],
                vec![
                    MetricName::QueueDepth,
                    MetricName::LatencyP95,
                    MetricName::ErrorRate,
                ],
                vec![],
            ),
            (
                "value without a sample time is missing",
                vec![(
                    Slot::Cpu,
                    Ok(Answer {
                        value: Some(0.5),
                        sample_time: None,
                        samples: None,
                    }),
                )],
                vec![MetricName::Cpu],
                vec![],
            ),
        ];
        for (name, edit, missing, stale) in cases {
            let a = assemble(&plan(&Windows::default()), results(&edit), now(), 60);
            assert_eq!(a.snapshot.missing, missing, "case {name}: missing");
            assert_eq!(a.snapshot.stale, stale, "case {name}: stale");
            assert_eq!(a.snapshot.taken_at, now(), "case {name}");
        }
    }

    #[test]
    fn values_land_in_their_fields() {
        let a = assemble(
            &plan(&Windows::default()),
            results(&[
                (Slot::Cpu, fresh(0.8)),
                (Slot::CpuUpWindow, fresh(0.71)),
                (Slot::PendingPods, absent()),
                (
                    Slot::PendingPodsWindow,
                    Ok(Answer {
                        value: None,
                        sample_time: None,
                        samples: Some(12.0),
                    }),
                ),
                (
                    Slot::ErrorRateWindow,
                    Ok(Answer {
                        value: Some(0.06),
                        sample_time: Some(NOW as f64),
                        samples: None,
                    }),
                ),
            ]),
            now(),
            60,
        );
        let s = &a.snapshot;
        assert_eq!(s.cpu_ratio, Some(0.8));
        assert_eq!(
            s.cpu_min_up_window,
            Some(Windowed {
                value: 0.71,
                samples: 12
            })
        );
        assert_eq!(s.pending_pods, Some(0.0));
        assert_eq!(
            s.pending_pods_min_window,
            Some(Windowed {
                value: 0.0,
                samples: 12
            })
        );
        assert_eq!(
            s.error_rate_min_window,
            Some(Windowed {
                value: 0.06,
                samples: 0
            }),
            "no count: window not met"
        );
        assert!(a
            .problems
            .iter()
            .any(|p| p.slot == Slot::ErrorRateWindow && p.problem == Problem::BadSampleCount));
        assert_eq!(a.answered, 11);
    }

    #[test]
    fn unreachable_prometheus_answers_nothing() {
        let a = assemble(
            &plan(&Windows::default()),
            plan(&Windows::default()).iter().map(|_| failed()).collect(),
            now(),
            60,
        );
        assert_eq!(a.answered, 0);
        assert_eq!(
            a.snapshot.unusable_required(),
            MetricName::REQUIRED.to_vec()
        );
    }

    #[test]
    fn validate_table() {
        let cases = [
            ("zero ratio", 0.0, ValueKind::Ratio, Ok(0.0)),
            ("one ratio", 1.0, ValueKind::Ratio, Ok(1.0)),
            (
                "rounding above one is clamped",
                1.0 + 1e-12,
                ValueKind::Ratio,
                Ok(1.0),
            ),
            (
                "above one",
                1.01,
                ValueKind::Ratio,
                Err(Problem::AboveOne(1.01)),
            ),
            ("negative zero is fine", -0.0, ValueKind::Ratio, Ok(-0.0)),
            (
                "negative",
                -0.5,
                ValueKind::NonNegative,
                Err(Problem::Negative(-0.5)),
            ),
            ("large count", 1e6, ValueKind::NonNegative, Ok(1e6)),
            (
                "minus infinity",
                f64::NEG_INFINITY,
                ValueKind::NonNegative,
                Err(Problem::NotFinite),
            ),
        ];
        for (name, v, kind, want) in cases {
            assert_eq!(validate(v, kind), want, "case {name}");
        }
        assert_eq!(
            validate(f64::NAN, ValueKind::Ratio),
            Err(Problem::NotFinite)
        );
    }
}
