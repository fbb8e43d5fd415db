//! What the deployed forecast keeps between ticks ([`ForecastRecord`], one DynamoDB item beside
//! the cluster item) and the pure tick logic Evaluate runs on it: when to backfill from
//! Prometheus, the floor start and end announcements, and the `forecast-only` daily summary
//! (docs/SCALING_ALGORITHM.md, "Forecast history").

use crate::engine::floors::{self, Floor};
use crate::engine::forecast::{self, DemandHistory, ForecastMode, Prediction};
use crate::engine::Decision;
use crate::notify::NotificationKind;
use crate::Config;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// Recorded buckets of the last 7 days below which the history is short and a backfill is due
/// (nine tenths of the week: a few missed ticks are no reason to ask Prometheus for a week).
pub const SHORT_BELOW_BUCKETS: usize = forecast::BUCKETS * 9 / 10;

/// How long after a backfill a short history waits before the next one: Prometheus keeps what it
/// has, so asking again at once brings little; a new deployment's history fills from its ticks.
pub const BACKFILL_RETRY_SECS: i64 = 6 * 3600;

/// The forecast's item: the demand history and what was last said about it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ForecastRecord {
    /// The demand history the engine forecasts from.
    pub history: DemandHistory,
    /// The scheduled floor (its text) last announced as started; `None` once it was announced
    /// ended.
    pub announced_floor: Option<String>,
    /// The `forecast-only` figures of the local day in progress.
    pub day: Option<DaySummary>,
    /// When the history was last filled from Prometheus.
    pub backfilled_at: Option<DateTime<Utc>>,
    /// When the scale-up this history waits to measure was launched (its boot-to-Ready time is
    /// taken when the state records it finished).
    pub launch_started: Option<DateTime<Utc>>,
}

/// The `forecast-only` figures of one local day: what the forecast predicted, its error against
/// the need measured at the same time, and what it would have done.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DaySummary {
    /// The local day (`CLUSTER_TIMEZONE`).
    pub day: NaiveDate,
    /// Ticks with a forecast.
    pub forecasts: u32,
    /// Ticks whose bucket had a forecast issued one horizon before, compared with the need.
    pub compared: u32,
    /// Sum of |forecast − need| over the compared ticks, workers.
    pub abs_error_sum: f64,
    /// Sum of (forecast − need) over the compared ticks, workers.
    pub bias_sum: f64,
    /// Highest forecast of the day, workers.
    pub max_forecast: f64,
    /// Highest need of the day, workers.
    pub max_need: f64,
    /// Ticks where the forecast on would have launched workers the reactive rules did not.
    pub would_scale_up: u32,
    /// Ticks where the forecast on would have held back a scale-down the reactive rules made.
    pub would_hold: u32,
    /// The first time the forecast would have launched, with the reason.
    pub first_launch: Option<(DateTime<Utc>, String)>,
}

/// A message Evaluate asks Notify to send, beside the decision's own (`$.decision.notices`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notice {
    /// Which message.
    pub kind: NotificationKind,
    /// Why, as a sentence.
    pub reason: String,
    /// What it means for the cluster.
    pub action: String,
}

/// Whether the tick at `now` asks Prometheus for the last week: never with the forecast off;
/// always when no record was stored; when the history is short ([`SHORT_BELOW_BUCKETS`]) and the
/// last backfill is older than [`BACKFILL_RETRY_SECS`].
pub fn backfill_due(record: Option<&ForecastRecord>, cfg: &Config, now: DateTime<Utc>) -> bool {
    if cfg.forecast_mode == ForecastMode::Off {
        return false;
    }
    match record {
        None => true,
        Some(r) => {
            r.history.coverage(now) < SHORT_BELOW_BUCKETS
                && r.backfilled_at
                    .is_none_or(|t| now - t >= Duration::seconds(BACKFILL_RETRY_SECS))
        }
    }
}

/// The local time of day `min` minutes after midnight, `HH:MM`.
fn hhmm(min: u32) -> String {
    let m = min % 1440;
    format!("{:02}:{:02}", m / 60, m % 60)
}

/// The floor a tick at `now` acts on (the engine's: the highest met within the lead time).
pub fn active_floor<'a>(
    record: &ForecastRecord,
    cfg: &'a Config,
    now: DateTime<Utc>,
) -> Option<&'a Floor> {
    floors::highest(
        &cfg.scheduled_floors,
        now,
        forecast::lead(Some(&record.history), cfg),
        cfg.cluster_utc_offset_secs,
    )
}

/// The floor announcements due at `now`, and the record updated to remember them: "ended" for the
/// floor last announced when another (or none) is active now, "started" for the active floor
/// when it was not announced yet.
pub fn floor_notices(record: &mut ForecastRecord, cfg: &Config, now: DateTime<Utc>) -> Vec<Notice> {
    let lead = forecast::lead_secs(Some(&record.history), cfg);
    let active = active_floor(record, cfg, now).cloned();
    let mut out = Vec::new();
    if record.announced_floor.as_deref() == active.as_ref().map(|f| f.text.as_str()) {
        return out;
    }
    if let Some(ended) = record.announced_floor.take() {
        out.push(Notice {
            kind: NotificationKind::FloorEnded,
            reason: format!("scheduled floor `{ended}` is over"),
            action: "The reactive rules and the forecast decide alone again; workers above their need are removed one at a time".into(),
        });
    }
    if let Some(f) = active {
        out.push(Notice {
            kind: NotificationKind::FloorStarted,
            reason: format!(
                "scheduled floor `{}` starts at {} local time; SmartScale acts on it {} ahead (the boot-to-Ready lead)",
                f.text,
                hhmm(f.start_min),
                crate::engine::human_secs(lead)
            ),
            action: format!(
                "Keeping at least {} workers Ready until {} local time",
                f.min,
                hhmm(f.start_min + f.length_min)
            ),
        });
        record.announced_floor = Some(f.text);
    }
    out
}

/// The local day of `now`.
fn local_day(cfg: &Config, now: DateTime<Utc>) -> NaiveDate {
    (now + Duration::seconds(i64::from(cfg.cluster_utc_offset_secs))).date_naive()
}

/// What one `forecast-only` tick adds to the day's figures: `prediction` made at `now` with the
/// history that already holds this tick's `need`; `actual` the decision taken, `with_forecast`
/// the one the forecast on would have taken. When the local day changed, the finished day's
/// summary is returned as a notice (days without a forecast send nothing). Does nothing in the
/// other modes.
#[allow(clippy::too_many_arguments)]
pub fn summarise_day(
    record: &mut ForecastRecord,
    prediction: Option<&Prediction>,
    need: Option<f64>,
    actual: &Decision,
    with_forecast: &Decision,
    cfg: &Config,
    now: DateTime<Utc>,
) -> Option<Notice> {
    if cfg.forecast_mode != ForecastMode::ForecastOnly {
        return None;
    }
    let today = local_day(cfg, now);
    let finished = match &record.day {
        Some(d) if d.day != today => record.day.take().filter(|d| d.forecasts > 0),
        _ => None,
    };
    let day = record.day.get_or_insert(DaySummary {
        day: today,
        forecasts: 0,
        compared: 0,
        abs_error_sum: 0.0,
        bias_sum: 0.0,
        max_forecast: 0.0,
        max_need: 0.0,
        would_scale_up: 0,
        would_hold: 0,
        first_launch: None,
    });
    if let Some(n) = need {
        day.max_need = day.max_need.max(n);
        let issued = record
            .history
            .issued_for(now, cfg.cluster_utc_offset_secs)
            .filter(|_| record.history.latest.is_some());
        if let Some(f) = issued {
            day.compared += 1;
            day.abs_error_sum += (f - n).abs();
            day.bias_sum += f - n;
        }
    }
    if let Some(Prediction::Ready { ahead, .. }) = prediction {
        day.forecasts += 1;
        day.max_forecast = day.max_forecast.max(*ahead);
    }
    match (actual, with_forecast) {
        (Decision::ScaleUp { .. }, _) => {}
        (_, Decision::ScaleUp { reasons, .. }) => {
            day.would_scale_up += 1;
            if day.first_launch.is_none() {
                let why = reasons.first().map(ToString::to_string).unwrap_or_default();
                day.first_launch = Some((now, why));
            }
        }
        (Decision::ScaleDown { .. }, Decision::NoChange { .. }) => day.would_hold += 1,
        _ => {}
    }
    finished.map(|d| day_notice(&d, cfg))
}

/// The daily summary message of `d`.
pub fn day_notice(d: &DaySummary, cfg: &Config) -> Notice {
    let error = if d.compared > 0 {
        format!(
            "mean error {:.2} workers (bias {:+.2}) over {} ticks",
            d.abs_error_sum / f64::from(d.compared),
            d.bias_sum / f64::from(d.compared),
            d.compared
        )
    } else {
        "no forecast could be compared with its need yet".into()
    };
    let first = d
        .first_launch
        .as_ref()
        .map(|(t, why)| {
            let local = *t + Duration::seconds(i64::from(cfg.cluster_utc_offset_secs));
            format!(", first at {} ({why})", local.format("%H:%M"))
        })
        .unwrap_or_default();
    Notice {
        kind: NotificationKind::ForecastSummary,
        reason: format!(
            "forecast-only summary of {}: highest forecast {:.1} workers against a highest need of {:.1}; {error}",
            d.day, d.max_forecast, d.max_need
        ),
        action: format!(
            "With FORECAST_MODE=on it would have scaled up on {} ticks{first} and held back a scale-down on {} ticks; decisions were unchanged",
            d.would_scale_up, d.would_hold
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn cfg(floors: &str, mode: &str) -> Config {
        let (floors, mode) = (floors.to_string(), mode.to_string());
        Config {
            policy: crate::config::Policy::from_lookup(|k| match k {
                "SCHEDULED_FLOORS" => Some(floors.clone()),
                "FORECAST_MODE" => Some(mode.clone()),
                "FLOOR_LEAD_TIME" => Some("300".into()),
                _ => None,
            })
            .unwrap(),
            ..Config::default()
        }
    }

    /// Monday 2026-11-23 (UTC, the default time zone) at `h:m`.
    fn mon(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 23, h, m, 0).unwrap()
    }

    #[test]
    fn floors_are_announced_once_when_they_start_and_end() {
        let c = cfg("mon 09:00-10:00 min=4; mon 09:30-09:45 min=6", "on");
        let mut r = ForecastRecord::default();
        // (name, time, want kinds)
        let cases: [(&str, DateTime<Utc>, Vec<NotificationKind>); 6] = [
            ("before the lead", mon(8, 50), vec![]),
            (
                "the lead begins",
                mon(8, 55),
                vec![NotificationKind::FloorStarted],
            ),
            ("inside the window", mon(9, 10), vec![]),
            (
                "a higher floor takes over",
                mon(9, 26),
                vec![NotificationKind::FloorEnded, NotificationKind::FloorStarted],
            ),
            (
                "back to the first",
                mon(9, 50),
                vec![NotificationKind::FloorEnded, NotificationKind::FloorStarted],
            ),
            ("over", mon(10, 1), vec![NotificationKind::FloorEnded]),
        ];
        for (name, now, want) in cases {
            let got: Vec<NotificationKind> = floor_notices(&mut r, &c, now)
                .iter()
                .map(|n| n.kind)
                .collect();
            assert_eq!(got, want, "case {name}");
        }
        assert_eq!(r.announced_floor, None);
        let started = floor_notices(&mut r, &cfg("mon 10:00-11:00 min=4", "on"), mon(9, 58));
        assert!(
            started[0]
                .reason
                .contains("`mon 10:00-11:00 min=4` starts at 10:00")
                && started[0].action == "Keeping at least 4 workers Ready until 11:00 local time",
            "{started:?}"
        );
    }

    #[test]
    fn backfill_is_due_only_when_needed() {
        let on = cfg("", "on");
        let mut full = ForecastRecord::default();
        for m in (0..7 * 1440).step_by(10) {
            full.history
                .record(mon(0, 0) + Duration::minutes(m), 2.0, 0);
        }
        let now = mon(0, 0) + Duration::days(7);
        let short = |backfilled: Option<i64>| ForecastRecord {
            backfilled_at: backfilled.map(|h| now - Duration::hours(h)),
            ..ForecastRecord::default()
        };
        let cases = [
            ("no record", None, &on, true),
            ("a full week", Some(full.clone()), &on, false),
            ("short, never backfilled", Some(short(None)), &on, true),
            (
                "short, backfilled an hour ago",
                Some(short(Some(1))),
                &on,
                false,
            ),
            ("short, backfilled 7 h ago", Some(short(Some(7))), &on, true),
        ];
        for (name, record, c, want) in cases {
            assert_eq!(backfill_due(record.as_ref(), c, now), want, "case {name}");
        }
        assert!(!backfill_due(None, &cfg("", "off"), now), "forecast off");
    }

    #[test]
    fn a_forecast_only_day_is_summarised_once_the_next_day_starts() {
        let c = cfg("", "forecast-only");
        let mut r = ForecastRecord::default();
        let none = Decision::NoChange { reasons: vec![] };
        let up = Decision::ScaleUp {
            count: 1,
            reasons: vec![crate::engine::ScaleUpReason::ForecastRise {
                forecast: 4.2,
                workers: 3,
                horizon_secs: 900,
            }],
            launch: Default::default(),
        };
        let ready = Prediction::Ready {
            ahead: 4.2,
            guard: 4.2,
            level: 1.0,
            from_yesterday: 1,
            from_last_week: 0,
        };
        r.history.issue(mon(8, 0), 4.0, 0);
        r.history.record(mon(8, 0), 3.5, 0);
        let during = [
            summarise_day(&mut r, Some(&ready), Some(3.5), &none, &up, &c, mon(8, 0)),
            summarise_day(
                &mut r,
                Some(&ready),
                Some(3.0),
                &none,
                &none,
                &c,
                mon(8, 30),
            ),
        ];
        assert_eq!(during, [None, None]);
        let next = Utc.with_ymd_and_hms(2026, 11, 24, 0, 2, 0).unwrap();
        let n = summarise_day(&mut r, None, Some(2.0), &none, &none, &c, next).unwrap();
        assert_eq!(n.kind, NotificationKind::ForecastSummary);
        assert!(
            n.reason.starts_with("forecast-only summary of 2026-11-23: highest forecast 4.2 workers against a highest need of 3.5; mean error 0.50 workers (bias +0.50) over 1 ticks"),
            "{}",
            n.reason
        );
        assert!(
            n.action.starts_with(
                "With FORECAST_MODE=on it would have scaled up on 1 ticks, first at 08:00 ("
            ) && n
                .action
                .ends_with("held back a scale-down on 0 ticks; decisions were unchanged"),
            "{}",
            n.action
        );
        assert_eq!(r.day.as_ref().unwrap().day, next.date_naive());
        let on = cfg("", "on");
        assert_eq!(
            summarise_day(&mut r, None, None, &none, &up, &on, next),
            None,
            "only in forecast-only"
        );
    }
}
