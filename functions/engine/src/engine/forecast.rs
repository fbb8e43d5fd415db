//! The learned forecast: the workers the cluster's demand needs, recorded per 10-minute bucket of
//! the local week, and predicted 10–15 minutes ahead from the same time yesterday (when yesterday
//! was the same kind of day, weekday or weekend) and the same time last week
//! (docs/SCALING_ALGORITHM.md, "Forecast").
//!
//! The method is a seasonal-naive forecast with a level correction:
//! - **seasonal**: the value recorded for the target bucket last week when there is one, else
//!   yesterday's (when yesterday was the same kind of day). A pattern that repeats daily (the
//!   morning ramp) is in both; a weekly event (the Friday 8 PM sale) is in last week's only and
//!   is forecast; a one-off yesterday is not, when last week disagrees. A one-off last week is
//!   forecast once, a week later: the price of learning weekly events from one week of history.
//! - **level**: the need measured in the last finished bucket over its seasonal value, kept within
//!   0.8–1.25, scales
//!   the seasonal value, so a week busier than the last pre-scales higher.
//!
//! The forecast for a stretch is the highest forecast of the buckets it meets. Its error is
//! tracked per local hour of the week: each bucket's forecast, issued one horizon ahead, against
//! the highest need then recorded in it. Everything here is pure; the caller keeps the
//! [`DemandHistory`] (DynamoDB in production, memory in the simulator).

pub mod codec;

use super::floors::second_of_week;
use super::increment::new_worker_room;
use super::readings::{ratio, Readings};
use super::Inputs;
use crate::config::Policy;
use crate::model::{MetricName, OwnerKind, Resources};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Length of one bucket, seconds.
pub const BUCKET_SECS: i64 = 600;
/// Buckets in a week.
pub const BUCKETS: usize = (7 * 86_400 / BUCKET_SECS) as usize;
const DAY_SECS: i64 = 86_400;
const WEEK_SECS: i64 = 7 * DAY_SECS;

/// `FORECAST_MODE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ForecastMode {
    /// No forecast: the reactive rules and the floors alone.
    Off,
    /// The forecast is computed and reported, decisions are the reactive ones.
    ForecastOnly,
    /// The forecast raises the floor ahead of a predicted rise and holds back a scale-down it
    /// says is needed within `FORECAST_SCALE_DOWN_GUARD`.
    On,
}

impl ForecastMode {
    /// Parses `off`, `forecast-only` or `on`.
    ///
    /// Errors: any other value, listing the three.
    pub fn parse(raw: &str) -> Result<ForecastMode, String> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "off" => Ok(ForecastMode::Off),
            "forecast-only" => Ok(ForecastMode::ForecastOnly),
            "on" => Ok(ForecastMode::On),
            _ => Err(format!(
                "'{raw}' is not a forecast mode: write off, forecast-only or on"
            )),
        }
    }

    /// `off`, `forecast-only` or `on`.
    pub fn as_str(self) -> &'static str {
        match self {
            ForecastMode::Off => "off",
            ForecastMode::ForecastOnly => "forecast-only",
            ForecastMode::On => "on",
        }
    }
}

/// The highest need recorded in one bucket.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Bucket {
    /// The bucket's start, Unix seconds.
    pub start: i64,
    /// Highest workers needed seen in it ([`workers_needed`]).
    pub need: f64,
}

/// Forecast error of one local hour of the week.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct HourError {
    /// Buckets compared.
    pub count: u32,
    /// Sum of |forecast − need|, workers.
    pub abs_sum: f64,
    /// Sum of (forecast − need), workers (positive: the forecast ran high).
    pub bias_sum: f64,
}

impl HourError {
    /// Mean absolute error, workers; `None` before any comparison.
    pub fn mean_abs(&self) -> Option<f64> {
        (self.count > 0).then(|| self.abs_sum / f64::from(self.count))
    }
}

/// What the forecast remembers: one [`Bucket`] per 10 minutes of the local week (the last time it
/// was seen), the forecasts issued for buckets not yet finished, the error per local hour of the
/// week, and the last measured boot-to-Ready time. Small enough for one DynamoDB item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DemandHistory {
    /// Index = bucket of the local week (Monday 00:00 first).
    pub buckets: Vec<Option<Bucket>>,
    /// Forecasts issued: (bucket start, workers), oldest first.
    pub issued: Vec<(i64, f64)>,
    /// Index = local hour of the week.
    pub errors: Vec<HourError>,
    /// The last need recorded: (Unix seconds, workers).
    pub latest: Option<(i64, f64)>,
    /// Seconds from launch to Ready of the last scale-up that joined.
    pub boot_to_ready_secs: Option<u64>,
}

impl Default for DemandHistory {
    fn default() -> Self {
        DemandHistory {
            buckets: vec![None; BUCKETS],
            issued: Vec::new(),
            errors: vec![HourError::default(); 168],
            latest: None,
            boot_to_ready_secs: None,
        }
    }
}

/// One forecast.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "status")]
pub enum Prediction {
    /// Workers the forecast says are needed.
    Ready {
        /// Highest need over the next `FORECAST_HORIZON`, workers (fractional).
        ahead: f64,
        /// Highest need over the next `FORECAST_SCALE_DOWN_GUARD`, workers (fractional).
        guard: f64,
        /// The level correction applied.
        level: f64,
        /// Buckets with a value from yesterday and from last week, of those the forecast met.
        from_yesterday: u32,
        /// See `from_yesterday`.
        from_last_week: u32,
    },
    /// No forecast: the reactive rules alone.
    Unavailable {
        /// Why, for the reasons.
        why: String,
    },
}

impl fmt::Display for Prediction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Prediction::Ready { ahead, guard, level, .. } => write!(
                f,
                "forecast {ahead:.1} workers soon, {guard:.1} at most within the guard (level ×{level:.2})"
            ),
            Prediction::Unavailable { why } => write!(f, "no forecast ({why}): reactive rules alone"),
        }
    }
}

fn index(t: i64, offset_secs: i32) -> (usize, i64) {
    let at = DateTime::<Utc>::from_timestamp(t, 0).unwrap_or_default();
    let sow = second_of_week(at, offset_secs);
    let into = sow % BUCKET_SECS;
    ((sow / BUCKET_SECS) as usize % BUCKETS, t - into)
}

fn is_weekend(bucket: usize) -> bool {
    bucket / (BUCKETS / 7) >= 5
}

impl DemandHistory {
    /// Records `need` workers at `now`: the bucket keeps the highest need of its 10 minutes. When
    /// a bucket finishes, the forecast issued for it (if any) is compared with its need.
    pub fn record(&mut self, now: DateTime<Utc>, need: f64, offset_secs: i32) {
        let t = now.timestamp();
        let (i, start) = index(t, offset_secs);
        if let Some((prev_t, _)) = self.latest {
            let (pi, prev_start) = index(prev_t, offset_secs);
            if prev_start != start {
                self.finish(pi, prev_start);
            }
        }
        let b = &mut self.buckets[i];
        match b {
            Some(b) if b.start == start => b.need = b.need.max(need),
            _ => *b = Some(Bucket { start, need }),
        }
        self.latest = Some((t, need));
    }

    fn finish(&mut self, i: usize, start: i64) {
        let Some(actual) = self.buckets[i].filter(|b| b.start == start).map(|b| b.need) else {
            return;
        };
        if let Some(&(_, forecast)) = self.issued.iter().find(|(s, _)| *s == start) {
            let e = &mut self.errors[i / (3600 / BUCKET_SECS) as usize];
            e.count += 1;
            e.abs_sum += (forecast - actual).abs();
            e.bias_sum += forecast - actual;
        }
        self.issued.retain(|(s, _)| *s > start);
    }

    /// Notes the forecast `workers` for the bucket holding `at` (kept, the highest, until that
    /// bucket finishes and is compared with its need).
    pub fn issue(&mut self, at: DateTime<Utc>, workers: f64, offset_secs: i32) {
        let (_, start) = index(at.timestamp(), offset_secs);
        match self.issued.iter_mut().find(|(s, _)| *s == start) {
            Some(e) => e.1 = e.1.max(workers),
            None => self.issued.push((start, workers)),
        }
    }

    /// The value recorded for the bucket starting at `start`, `days` days earlier, if that bucket
    /// was recorded then.
    fn earlier(&self, start: i64, days: i64, offset_secs: i32) -> Option<f64> {
        let then = start - days * DAY_SECS;
        let (i, s) = index(then, offset_secs);
        self.buckets[i].filter(|b| b.start == s).map(|b| b.need)
    }

    /// The seasonal value of the bucket starting at `start`, with whether yesterday and last week
    /// had one (see the module documentation).
    fn seasonal(&self, start: i64, offset_secs: i32) -> (Option<f64>, bool, bool) {
        let (i, _) = index(start, offset_secs);
        let (yi, _) = index(start - DAY_SECS, offset_secs);
        let yesterday = (is_weekend(i) == is_weekend(yi))
            .then(|| self.earlier(start, 1, offset_secs))
            .flatten();
        let last_week = self.earlier(start, 7, offset_secs);
        let value = last_week.or(yesterday);
        (value, yesterday.is_some(), last_week.is_some())
    }

    /// The forecast at `now` (see the module documentation). `Unavailable` when no bucket of the
    /// next horizon has a value from yesterday or last week.
    pub fn predict(&self, now: DateTime<Utc>, cfg: &Policy) -> Prediction {
        let offset = cfg.cluster_utc_offset_secs;
        let t = now.timestamp();
        let (_, now_start) = index(t, offset);
        // The last finished bucket, measured and forecast alike as a bucket's highest need.
        let prev = now_start - BUCKET_SECS;
        let (pi, _) = index(prev, offset);
        let measured = self.buckets[pi].filter(|b| b.start == prev).map(|b| b.need);
        let level = match (measured, self.seasonal(prev, offset).0) {
            (Some(need), Some(s)) if s > 0.0 => (need / s).clamp(0.8, 1.25),
            _ => 1.0,
        };
        let (mut yest, mut week) = (0, 0);
        let mut over = |secs: u64| -> Option<f64> {
            let end = t + secs as i64;
            let mut start = now_start;
            let mut best: Option<f64> = None;
            while start <= end {
                let (v, y, w) = self.seasonal(start, offset);
                yest += u32::from(y);
                week += u32::from(w);
                if let Some(v) = v {
                    best = Some(best.map_or(v, |b: f64| b.max(v)));
                }
                start += BUCKET_SECS;
            }
            best.map(|b| b * level)
        };
        let Some(ahead) = over(cfg.forecast_horizon_secs) else {
            let span = self
                .buckets
                .iter()
                .flatten()
                .filter(|b| t - b.start <= WEEK_SECS)
                .count() as i64
                * BUCKET_SECS;
            return Prediction::Unavailable {
                why: format!(
                    "nothing recorded for the next {} yesterday or last week; {} of the last 7 days recorded",
                    super::human_secs(cfg.forecast_horizon_secs),
                    super::human_secs(span.max(0) as u64)
                ),
            };
        };
        let guard = over(cfg.forecast_guard_secs).unwrap_or(ahead).max(ahead);
        Prediction::Ready {
            ahead,
            guard,
            level,
            from_yesterday: yest,
            from_last_week: week,
        }
    }
}

impl DemandHistory {
    /// One tick of a deployed forecast: records the need of `inputs` at `now` and, unless
    /// `FORECAST_MODE` is off, predicts and notes the forecast one horizon ahead (its error is
    /// measured when that time comes). Returns the prediction (`None` when the mode is off). Evaluate
    /// and the simulator both call this, so the history they keep is the same.
    pub fn observe(
        &mut self,
        inputs: &Inputs,
        cfg: &Policy,
        now: DateTime<Utc>,
    ) -> Option<Prediction> {
        let offset = cfg.cluster_utc_offset_secs;
        if let Some(need) = workers_needed(inputs, cfg) {
            self.record(now, need, offset);
        }
        if cfg.forecast_mode == ForecastMode::Off {
            return None;
        }
        let p = self.predict(now, cfg);
        if let Prediction::Ready { ahead, .. } = p {
            let horizon = Duration::seconds(cfg.forecast_horizon_secs as i64);
            self.issue(now + horizon, ahead, offset);
        }
        Some(p)
    }

    /// The forecast issued for the bucket holding `at`, if one was.
    pub fn issued_for(&self, at: DateTime<Utc>, offset_secs: i32) -> Option<f64> {
        let (_, start) = index(at.timestamp(), offset_secs);
        self.issued
            .iter()
            .find(|(s, _)| *s == start)
            .map(|&(_, f)| f)
    }

    /// Buckets of the week before `now` that hold a value recorded in that week.
    pub fn coverage(&self, now: DateTime<Utc>) -> usize {
        let t = now.timestamp();
        self.buckets
            .iter()
            .flatten()
            .filter(|b| b.start <= t && t - b.start < WEEK_SECS)
            .count()
    }

    /// Fills buckets from `points` ((Unix seconds, workers) read from Prometheus): a point lands
    /// in the bucket holding its time, and only where that bucket holds nothing from the same
    /// week (a need recorded live is kept); several points of one bucket keep the highest.
    /// Returns the buckets filled.
    pub fn backfill(&mut self, points: &[(i64, f64)], offset_secs: i32) -> usize {
        let mut filled = std::collections::BTreeSet::new();
        for &(t, need) in points {
            if !need.is_finite() || need < 0.0 {
                continue;
            }
            let (i, start) = index(t, offset_secs);
            match &mut self.buckets[i] {
                Some(b) if b.start == start && filled.contains(&i) => b.need = b.need.max(need),
                Some(b) if b.start >= start => {}
                slot => {
                    *slot = Some(Bucket { start, need });
                    filled.insert(i);
                }
            }
        }
        filled.len()
    }
}

/// What the demand is made of at one time, the inputs of [`need_of`]: what a tick reads from the
/// cluster view and the metrics, or what the Prometheus backfill reads from the recorded series
/// (docs/METRICS.md, "Forecast history").
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct DemandParts {
    /// CPU in use over the Ready workers, in workers: the CPU ratio times the Ready workers.
    pub busy_workers: f64,
    /// Requests of every workload pod (not DaemonSet, not finished), Pending or on a worker.
    pub requests: Resources,
}

/// Workers `parts` need: the larger of (a) the requests over what one new worker offers them
/// (`room`, CPU and memory taken separately) and (b) the busy workers at the CPU level a worker
/// may run at without a scale-up (`SCALE_UP_CPU_ALONE_THRESHOLD`, or `SCALE_UP_THRESHOLD_CPU`
/// when that is off).
pub fn need_of(parts: &DemandParts, room: Resources, cfg: &Policy) -> f64 {
    let level = ratio(
        cfg.scale_up_threshold_cpu_pct
            .max(cfg.scale_up_cpu_alone_pct),
    );
    let by_cpu = if level > 0.0 {
        parts.busy_workers / level
    } else {
        0.0
    };
    let share = |used: u64, room: u64| {
        if room > 0 {
            used as f64 / room as f64
        } else {
            0.0
        }
    };
    let r = parts.requests;
    let by_pods =
        share(r.cpu_millis, room.cpu_millis).max(share(r.memory_bytes, room.memory_bytes));
    by_cpu.max(by_pods)
}

/// The [`DemandParts`] of `inputs`; `None` without a usable CPU reading.
pub fn demand_parts(inputs: &Inputs) -> Option<DemandParts> {
    let m = &inputs.metrics;
    let cpu = Readings::new(m).value(MetricName::Cpu, m.cpu_ratio)?;
    let ready = inputs.cluster.workers().filter(|n| n.ready).count() as f64;
    let workers: std::collections::BTreeSet<&str> =
        inputs.cluster.workers().map(|n| n.name.as_str()).collect();
    let requests = inputs
        .cluster
        .pods
        .iter()
        .filter(|p| !p.ignored_by_drain() && p.owner_kind != Some(OwnerKind::DaemonSet))
        .filter(|p| p.node_name.as_deref().is_none_or(|n| workers.contains(n)))
        .fold(Resources::default(), |a, p| a.plus(p.requests));
    Some(DemandParts {
        busy_workers: cpu * ready,
        requests,
    })
}

/// Workers the demand needs now: [`need_of`] the [`demand_parts`] of `inputs`, with the room of
/// a new worker ([`new_worker_room`]). `None` without a usable CPU reading.
pub fn workers_needed(inputs: &Inputs, cfg: &Policy) -> Option<f64> {
    let parts = demand_parts(inputs)?;
    Some(need_of(&parts, new_worker_room(&inputs.cluster, cfg), cfg))
}

/// The whole number of workers a fractional need asks for (a need of 4.0001 is 5 workers; a
/// need within 0.02 of a whole number is that number, so rounding noise adds no worker).
pub fn whole(need: f64) -> u32 {
    (need - 0.02).ceil().max(0.0) as u32
}

/// How far above a whole number of workers a forecast must be before it launches another: the
/// forecast of a flat day runs a few tenths high (a bucket keeps its highest need, and the level
/// correction compares such highs), and a worker launched for that noise would stay all day.
pub const RISE_TOLERANCE: f64 = 0.3;

/// Workers a forecast need launches for: [`whole`] of the need less [`RISE_TOLERANCE`].
pub fn launch_count(need: f64) -> u32 {
    whole(need - RISE_TOLERANCE)
}

/// Seconds a launch ahead of a floor allows for: the measured boot-to-Ready time when known, else
/// `FLOOR_LEAD_TIME`.
pub fn lead_secs(history: Option<&DemandHistory>, cfg: &Policy) -> u64 {
    history
        .and_then(|h| h.boot_to_ready_secs)
        .unwrap_or(cfg.floor_lead_secs)
}

/// `lead` as a chrono duration.
pub fn lead(history: Option<&DemandHistory>, cfg: &Policy) -> Duration {
    Duration::seconds(lead_secs(history, cfg) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    pub(super) fn cfg() -> Policy {
        Policy::from_lookup(|k| (k == "CLUSTER_TIMEZONE").then(|| "+06:00".into())).unwrap()
    }

    /// Monday 2026-11-23 00:00 in Dhaka, plus `mins`.
    pub(super) fn at(mins: i64) -> DateTime<Utc> {
        chrono::FixedOffset::east_opt(6 * 3600)
            .unwrap()
            .with_ymd_and_hms(2026, 11, 23, 0, 0, 0)
            .unwrap()
            .with_timezone(&Utc)
            + Duration::minutes(mins)
    }

    /// A history of `days` days where the need is 5 from 08:00 to 21:00 and 2 otherwise.
    fn days(n: i64) -> DemandHistory {
        let mut h = DemandHistory::default();
        let c = cfg();
        for m in (0..n * 1440).step_by(2) {
            let local = m % 1440;
            let need = if (480..1260).contains(&local) {
                5.0
            } else {
                2.0
            };
            h.record(at(m), need, c.cluster_utc_offset_secs);
        }
        h
    }

    #[test]
    fn no_history_no_forecast() {
        let p = DemandHistory::default().predict(at(60), &cfg());
        assert!(matches!(p, Prediction::Unavailable { .. }), "{p:?}");
        assert!(
            p.to_string().starts_with("no forecast (nothing recorded"),
            "{p}"
        );
    }

    #[test]
    fn the_seasonal_cases() {
        struct Case {
            name: &'static str,
            history_days: i64,
            now_min: i64,
            want_ahead: Option<f64>,
        }
        let day = 1440;
        let cases = [
            Case {
                name: "Tuesday 07:50 sees Monday's 08:00 rise",
                history_days: 1,
                now_min: day + 470,
                want_ahead: Some(5.0),
            },
            Case {
                name: "Tuesday 03:00 is flat",
                history_days: 1,
                now_min: day + 180,
                want_ahead: Some(2.0),
            },
            Case {
                name: "Saturday from a weekday: no yesterday, no last week",
                history_days: 5,
                now_min: 5 * day + 470,
                want_ahead: None,
            },
            Case {
                name: "second Monday from last week",
                history_days: 7,
                now_min: 7 * day + 470,
                want_ahead: Some(5.0),
            },
        ];
        for c in cases {
            let h = days(c.history_days);
            let got = match h.predict(at(c.now_min), &cfg()) {
                Prediction::Ready { ahead, .. } => Some(ahead),
                Prediction::Unavailable { .. } => None,
            };
            assert_eq!(got, c.want_ahead, "case {}", c.name);
        }
    }

    #[test]
    fn a_one_off_seen_yesterday_only_is_not_forecast_when_last_week_disagrees() {
        let c = cfg();
        let mut h = days(8);
        // Monday of the second week, 20:00-20:30: a sale needing 9.
        for m in (7 * 1440 + 1200..7 * 1440 + 1230).step_by(2) {
            h.record(at(m), 9.0, c.cluster_utc_offset_secs);
        }
        h.record(at(8 * 1440 + 1190), 5.0, c.cluster_utc_offset_secs);
        match h.predict(at(8 * 1440 + 1190), &c) {
            Prediction::Ready { ahead, .. } => assert_eq!(ahead, 5.0),
            p => panic!("{p:?}"),
        }
    }

    #[test]
    fn a_weekly_event_last_week_is_forecast_though_yesterday_was_quiet() {
        let c = cfg();
        let mut h = days(8);
        // Tuesday of the first week, 20:00-20:30: a sale needing 9; the Monday after was quiet.
        for m in (1440 + 1200..1440 + 1230).step_by(2) {
            h.record(at(m), 9.0, c.cluster_utc_offset_secs);
        }
        h.record(at(8 * 1440 + 1190), 5.0, c.cluster_utc_offset_secs);
        match h.predict(at(8 * 1440 + 1190), &c) {
            Prediction::Ready { ahead, .. } => assert_eq!(ahead, 9.0),
            p => panic!("{p:?}"),
        }
    }

    #[test]
    fn errors_are_tracked_per_hour() {
        let c = cfg();
        let mut h = days(1);
        // Tuesday 08:00 bucket forecast 4, need then 5.
        h.issue(at(1440 + 480), 4.0, c.cluster_utc_offset_secs);
        for m in (1440 + 470..1440 + 500).step_by(2) {
            h.record(at(m), 5.0, c.cluster_utc_offset_secs);
        }
        let e = h.errors[24 + 8];
        assert_eq!((e.count, e.mean_abs()), (1, Some(1.0)));
        assert_eq!(e.bias_sum, -1.0);
    }

    #[test]
    fn backfill_fills_only_what_is_missing() {
        let c = cfg();
        let off = c.cluster_utc_offset_secs;
        let mut h = DemandHistory::default();
        h.record(at(1440 + 480), 7.0, off);
        let t = |mins: i64| at(mins).timestamp();
        // (name, point, want need of its bucket afterwards)
        let cases = [
            ("an empty bucket is filled", (t(481), 4.0), Some(4.5)),
            (
                "of two points in one bucket, the highest",
                (t(485), 4.5),
                Some(4.5),
            ),
            (
                "a bucket recorded live is kept",
                (t(1440 + 481), 3.0),
                Some(7.0),
            ),
            ("a negative need is ignored", (t(900), -1.0), None),
        ];
        let points: Vec<(i64, f64)> = cases.iter().map(|c| c.1).collect();
        assert_eq!(h.backfill(&points, off), 1);
        for (name, (time, _), want) in cases {
            let (i, start) = index(time, off);
            let got = h.buckets[i].filter(|b| b.start == start).map(|b| b.need);
            assert_eq!(got, want, "case {name}");
        }
        assert_eq!(h.coverage(at(1440 + 490)), 2);
    }

    #[test]
    fn whole_workers() {
        for (need, want) in [(4.0, 4), (4.01, 4), (4.3, 5), (0.0, 0), (2.99, 3)] {
            assert_eq!(whole(need), want, "need {need}");
        }
    }
}
