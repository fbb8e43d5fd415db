//! The weekly cost report, pure: the week it covers, the ledger weeks that hold its events, the
//! time-weighted sums over the gauges Evaluate samples each tick, and its Slack Block Kit and SNS
//! renderings. Where each figure comes from is in `docs/WEEKLY_REPORT.md`.

use super::Presentation;
use chrono::{DateTime, Datelike, Duration, FixedOffset, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// The length of the window a report covers: the seven days before it runs.
pub const WEEK_SECS: i64 = 7 * 86_400;

/// The longest a gauge sample stands for. A sample holds until the next one (ticks are 2 or
/// 5 minutes apart; executions skipped behind a running operation leave gaps up to the state
/// machine's 20-minute timeout); a longer gap means nothing sampled and counts only this long.
pub const MAX_SAMPLE_GAP_SECS: i64 = 1_800;

/// What the weekly ledger counts. Each event is recorded once under its id (an operation or an
/// instance), so a retried step counts nothing twice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WeekEvent {
    /// A scale-up whose workers joined.
    ScaleUp,
    /// A scale-down whose worker was drained and terminated.
    ScaleDown,
    /// An operation undone: workers that never joined, a drain aborted, nothing launched.
    ScaleFailure,
    /// A Spot Interruption Warning handled for a SmartScale worker.
    SpotWarning,
    /// A Rebalance Recommendation handled for a SmartScale worker.
    SpotRebalance,
    /// A replacement worker that joined after a Spot signal.
    SpotReplacement,
}

impl WeekEvent {
    /// Every kind, in report order.
    pub const ALL: [WeekEvent; 6] = [
        WeekEvent::ScaleUp,
        WeekEvent::ScaleDown,
        WeekEvent::ScaleFailure,
        WeekEvent::SpotWarning,
        WeekEvent::SpotRebalance,
        WeekEvent::SpotReplacement,
    ];

    /// The snake_case name, as serialised and as the ledger's attribute prefix.
    pub fn as_str(self) -> &'static str {
        match self {
            WeekEvent::ScaleUp => "scale_up",
            WeekEvent::ScaleDown => "scale_down",
            WeekEvent::ScaleFailure => "scale_failure",
            WeekEvent::SpotWarning => "spot_warning",
            WeekEvent::SpotRebalance => "spot_rebalance",
            WeekEvent::SpotReplacement => "spot_replacement",
        }
    }

    /// The kind named `s` ([`WeekEvent::as_str`]), if any.
    pub fn parse(s: &str) -> Option<WeekEvent> {
        WeekEvent::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

fn zone(offset_secs: i32) -> FixedOffset {
    FixedOffset::east_opt(offset_secs).unwrap_or_else(|| FixedOffset::east_opt(0).expect("0"))
}

/// The local Monday (in the zone `offset_secs` east of UTC) of the week holding `t`: the key of
/// the ledger item an event at `t` is recorded in.
pub fn ledger_week(t: DateTime<Utc>, offset_secs: i32) -> NaiveDate {
    let local = t.with_timezone(&zone(offset_secs)).date_naive();
    local - Duration::days(i64::from(local.weekday().num_days_from_monday()))
}

/// The ledger weeks whose events may fall in `[from, to)`, oldest first (two for a seven-day
/// window that does not start on a local Monday 00:00).
pub fn ledger_weeks(from: DateTime<Utc>, to: DateTime<Utc>, offset_secs: i32) -> Vec<NaiveDate> {
    let last = ledger_week(to - Duration::seconds(1), offset_secs);
    let mut week = ledger_week(from, offset_secs);
    let mut out = Vec::new();
    while week <= last {
        out.push(week);
        week += Duration::days(7);
    }
    out
}

/// The window a report made at `now` covers: `[now - 7 days, now)`.
pub fn report_window(now: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
    (now - Duration::seconds(WEEK_SECS), now)
}

/// `UTC`, `UTC+05:30`, `UTC-03:00`.
pub fn format_offset(offset_secs: i32) -> String {
    if offset_secs == 0 {
        return "UTC".into();
    }
    let sign = if offset_secs < 0 { '-' } else { '+' };
    let a = offset_secs.unsigned_abs();
    format!("UTC{sign}{:02}:{:02}", a / 3600, a % 3600 / 60)
}

/// A gauge's samples by time (the start of the sampling bucket they fell in).
pub type Samples = BTreeMap<DateTime<Utc>, f64>;

/// The ticks of `ticks` (the times a gauge Evaluate writes every tick was sampled) with the hours
/// each stands for: until the next tick, or `to` for the last, at most [`MAX_SAMPLE_GAP_SECS`].
pub fn tick_hours(ticks: &[DateTime<Utc>], to: DateTime<Utc>) -> Vec<(DateTime<Utc>, f64)> {
    ticks
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let end = ticks.get(i + 1).copied().unwrap_or(to);
            let secs = (end - *t).num_seconds().clamp(0, MAX_SAMPLE_GAP_SECS);
            (*t, secs as f64 / 3600.0)
        })
        .collect()
}

/// The time-weighted sum of `series` over `ticks` ([`tick_hours`]): each tick's value (0 when
/// the series has no sample at that tick, as a cost series of a capacity type without workers)
/// times the hours it stands for. A gauge in workers gives worker-hours; one in USD per hour
/// gives USD.
pub fn weighted_sum(ticks: &[(DateTime<Utc>, f64)], series: &Samples) -> f64 {
    ticks
        .iter()
        .map(|(t, hours)| series.get(t).copied().unwrap_or(0.0) * hours)
        .sum()
}

/// One week's figures, as the report shows them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WeeklyReport {
    /// The cluster.
    pub cluster_id: String,
    /// The window's start (inclusive).
    pub from: DateTime<Utc>,
    /// The window's end (exclusive): when the report ran.
    pub to: DateTime<Utc>,
    /// The cluster's time zone (`CLUSTER_TIMEZONE`), seconds east of UTC, for the dates shown.
    pub utc_offset_secs: i32,
    /// Hours of the window with gauge samples (less than 168 when SmartScale ran part of it).
    pub sampled_hours: f64,
    /// Worker-hours: the worker count summed over the sampled time.
    pub worker_hours: f64,
    /// USD by capacity type (`on-demand`, `spot`); empty when no cost samples exist.
    pub cost_usd: BTreeMap<String, f64>,
    /// USD the baseline (`BASELINE_NODES` on-demand workers) would have cost over the sampled
    /// time; `None` without baseline samples.
    pub baseline_usd: Option<f64>,
    /// Events of the window by kind (kinds without events absent).
    pub events: BTreeMap<WeekEvent, u32>,
    /// The longest a pod waited in Pending, seconds, as Evaluate saw it; `None` when no pod was
    /// pending at any tick.
    pub longest_pending_secs: Option<f64>,
}

impl WeeklyReport {
    /// USD of all capacity types.
    pub fn total_cost_usd(&self) -> f64 {
        self.cost_usd.values().sum()
    }

    /// `(1 − cost / baseline) × 100`; `None` without a baseline or cost samples.
    pub fn savings_percent(&self) -> Option<f64> {
        match self.baseline_usd {
            Some(b) if b > 0.0 && !self.cost_usd.is_empty() => {
                Some((1.0 - self.total_cost_usd() / b) * 100.0)
            }
            _ => None,
        }
    }

    /// How many events of `kind` the window holds.
    pub fn count(&self, kind: WeekEvent) -> u32 {
        self.events.get(&kind).copied().unwrap_or(0)
    }

    /// `Mon 23 Nov 09:00 – Mon 30 Nov 09:00 (UTC+05:30)`, in the cluster's zone.
    pub fn period(&self) -> String {
        let z = zone(self.utc_offset_secs);
        let f = |t: DateTime<Utc>| t.with_timezone(&z).format("%a %-d %b %Y %H:%M").to_string();
        format!(
            "{} – {} ({})",
            f(self.from),
            f(self.to),
            format_offset(self.utc_offset_secs)
        )
    }

    /// The report's facts as `(label, value)` in order, shared by every channel.
    pub fn facts(&self) -> Vec<(&'static str, String)> {
        let usd = |v: f64| format!("${v:.2}");
        let mut out = vec![("Worker-hours", format!("{:.1}", self.worker_hours))];
        if self.cost_usd.is_empty() {
            out.push(("Cost", "no cost samples this week".into()));
        } else {
            out.push(("Cost", usd(self.total_cost_usd())));
            for ct in ["on-demand", "spot"] {
                let label = if ct == "spot" { "Spot" } else { "On-demand" };
                out.push((label, usd(self.cost_usd.get(ct).copied().unwrap_or(0.0))));
            }
        }
        out.push((
            "Baseline",
            self.baseline_usd.map_or("no baseline samples".into(), usd),
        ));
        out.push((
            "Savings vs baseline",
            self.savings_percent()
                .map_or("unknown".into(), |p| format!("{p:.1}%")),
        ));
        out.push((
            "Scale events",
            format!(
                "{} up, {} down, {} failed",
                self.count(WeekEvent::ScaleUp),
                self.count(WeekEvent::ScaleDown),
                self.count(WeekEvent::ScaleFailure)
            ),
        ));
        out.push((
            "Spot interruptions",
            format!(
                "{} warnings, {} rebalances, {} replacements joined",
                self.count(WeekEvent::SpotWarning),
                self.count(WeekEvent::SpotRebalance),
                self.count(WeekEvent::SpotReplacement)
            ),
        ));
        out.push((
            "Longest pending wait",
            self.longest_pending_secs
                .map_or("no pod pending".into(), format_wait),
        ));
        out.push(("Sampled", format!("{:.1} h of 168 h", self.sampled_hours)));
        out
    }
}

/// `45s`, `3m 20s`, `1h 05m`.
pub fn format_wait(secs: f64) -> String {
    let s = secs.max(0.0).round() as u64;
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m {:02}s", s / 60, s % 60),
        _ => format!("{}h {:02}m", s / 3600, s % 3600 / 60),
    }
}

/// The Slack incoming-webhook body: a header, the cluster and period, the facts as fields (Slack
/// allows ten per section), the dashboard button when configured, and a plain `text` fallback.
pub fn slack_payload(r: &WeeklyReport, cfg: &Presentation) -> Value {
    let facts = r.facts();
    let mut blocks = vec![
        json!({"type": "header", "text": {"type": "plain_text", "text": ":bar_chart: Weekly Cost Report", "emoji": true}}),
        json!({"type": "section", "text": {"type": "mrkdwn", "text": format!(
            "*Cluster:* `{}`\n*Week:* {}", super::slack::escape(&r.cluster_id), r.period())}}),
    ];
    for chunk in facts.chunks(10) {
        let fields: Vec<Value> = chunk
            .iter()
            .map(|(l, v)| json!({"type": "mrkdwn", "text": format!("*{l}:*\n{}", super::slack::escape(v))}))
            .collect();
        blocks.push(json!({"type": "section", "fields": fields}));
    }
    if let Some(url) = &cfg.dashboard_url {
        blocks.push(json!({"type": "actions", "elements": [
            {"type": "button", "text": {"type": "plain_text", "text": "View dashboard"}, "url": url}
        ]}));
    }
    json!({
        "text": format!(":bar_chart: Weekly Cost Report: {} — {}", r.cluster_id, headline(r)),
        "blocks": blocks,
    })
}

/// `$12.34, 56.7% under the baseline` (or what is unknown).
fn headline(r: &WeeklyReport) -> String {
    let cost = if r.cost_usd.is_empty() {
        "cost unknown".to_string()
    } else {
        format!("${:.2}", r.total_cost_usd())
    };
    match r.savings_percent() {
        Some(p) if p >= 0.0 => format!("{cost}, {p:.1}% under the baseline"),
        Some(p) => format!("{cost}, {:.1}% over the baseline", -p),
        None => cost,
    }
}

/// `(subject, message)` for SNS: an ASCII subject under 100 characters and one fact per line.
pub fn sns_subject_and_message(r: &WeeklyReport, cfg: &Presentation) -> (String, String) {
    let subject = super::sns::ascii_subject(&format!(
        "SmartScale Weekly Report [{}]: {}",
        r.cluster_id,
        headline(r)
    ));
    let mut message = format!(
        "Weekly Cost Report\nCluster: {}\nWeek: {}\n",
        r.cluster_id,
        r.period()
    );
    for (label, value) in r.facts() {
        message.push_str(&format!("{label}: {value}\n"));
    }
    if let Some(url) = &cfg.dashboard_url {
        message.push_str(&format!("View dashboard: {url}\n"));
    }
    (subject, message)
}

/// The SNS message attributes: `kind` = `weekly_report`, `severity` = `event`, `cluster_id`.
pub fn sns_attributes(r: &WeeklyReport) -> Vec<(&'static str, String)> {
    vec![
        ("kind", "weekly_report".into()),
        ("severity", "event".into()),
        ("cluster_id", r.cluster_id.clone()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn ledger_week_is_the_local_monday() {
        let cases = [
            ("monday noon utc", "2026-11-30T12:00:00Z", 0, "2026-11-30"),
            ("sunday night utc", "2026-11-29T23:59:59Z", 0, "2026-11-23"),
            ("monday 00:00 utc", "2026-11-30T00:00:00Z", 0, "2026-11-30"),
            // 20:00 UTC Sunday is 01:30 Monday in +05:30.
            (
                "plus 05:30 wraps forward",
                "2026-11-29T20:00:00Z",
                19_800,
                "2026-11-30",
            ),
            (
                "plus 05:30 before midnight",
                "2026-11-29T18:29:59Z",
                19_800,
                "2026-11-23",
            ),
            // 02:00 UTC Monday is 21:00 Sunday in -05:00.
            (
                "minus 05:00 wraps back",
                "2026-11-30T02:00:00Z",
                -18_000,
                "2026-11-23",
            ),
            (
                "minus 05:00 monday",
                "2026-11-30T05:00:00Z",
                -18_000,
                "2026-11-30",
            ),
            ("year end", "2027-01-01T10:00:00Z", 0, "2026-12-28"),
        ];
        for (name, at, offset, want) in cases {
            assert_eq!(ledger_week(t(at), offset), d(want), "{name}");
        }
    }

    #[test]
    fn ledger_weeks_cover_the_window() {
        let cases: [(&str, &str, i32, &[&str]); 4] = [
            (
                "monday 09:00 utc run",
                "2026-11-30T09:00:00Z",
                0,
                &["2026-11-23", "2026-11-30"],
            ),
            (
                "monday 00:00 exactly",
                "2026-11-30T00:00:00Z",
                0,
                &["2026-11-23"],
            ),
            (
                "monday 09:00 in +05:30",
                "2026-11-30T03:30:00Z",
                19_800,
                &["2026-11-23", "2026-11-30"],
            ),
            (
                "midweek",
                "2026-12-02T12:00:00Z",
                -18_000,
                &["2026-11-23", "2026-11-30"],
            ),
        ];
        for (name, now, offset, want) in cases {
            let (from, to) = report_window(t(now));
            let want: Vec<NaiveDate> = want.iter().map(|s| d(s)).collect();
            assert_eq!(ledger_weeks(from, to, offset), want, "{name}");
        }
    }

    #[test]
    fn offsets_print_as_utc_plus_minus() {
        for (secs, want) in [
            (0, "UTC"),
            (19_800, "UTC+05:30"),
            (-10_800, "UTC-03:00"),
            (-34_200, "UTC-09:30"),
            (50_400, "UTC+14:00"),
        ] {
            assert_eq!(format_offset(secs), want);
        }
    }

    #[test]
    fn samples_stand_until_the_next_tick_capped() {
        let t0 = Utc.with_ymd_and_hms(2026, 11, 30, 0, 0, 0).unwrap();
        let m = |min: i64| t0 + Duration::minutes(min);
        type Case = (&'static str, Vec<i64>, i64, Vec<f64>);
        let cases: Vec<Case> = vec![
            ("two-minute ticks", vec![0, 2, 4], 6, vec![2.0, 2.0, 2.0]),
            ("last until the end", vec![0, 5], 7, vec![5.0, 2.0]),
            ("gap capped at 30 min", vec![0, 120], 122, vec![30.0, 2.0]),
            ("last capped too", vec![0], 600, vec![30.0]),
            ("none", vec![], 10, vec![]),
        ];
        for (name, ticks, to, want_minutes) in cases {
            let ticks: Vec<_> = ticks.into_iter().map(m).collect();
            let got: Vec<f64> = tick_hours(&ticks, m(to))
                .into_iter()
                .map(|(_, h)| (h * 60.0 * 1e6).round() / 1e6)
                .collect();
            assert_eq!(got, want_minutes, "{name}");
        }
    }

    #[test]
    fn weighted_sums_give_worker_hours_and_usd() {
        let t0 = Utc.with_ymd_and_hms(2026, 11, 30, 0, 0, 0).unwrap();
        let m = |min: i64| t0 + Duration::minutes(min);
        // Three ticks 30 minutes apart, the last standing for 30 minutes: 1.5 h in all.
        let ticks = tick_hours(&[m(0), m(30), m(60)], m(90));
        let nodes: Samples = [(m(0), 2.0), (m(30), 4.0), (m(60), 4.0)].into();
        // Spot workers only at the last two ticks, USD 0.01/h each.
        let spot: Samples = [(m(30), 0.02), (m(60), 0.02)].into();
        let cases = [
            ("worker-hours", &nodes, 5.0),
            ("spot usd", &spot, 0.02),
            ("absent series", &Samples::new(), 0.0),
        ];
        for (name, series, want) in cases {
            let got = weighted_sum(&ticks, series);
            assert!((got - want).abs() < 1e-9, "{name}: {got} != {want}");
        }
    }

    fn report() -> WeeklyReport {
        WeeklyReport {
            cluster_id: "smartscale-prod".into(),
            from: t("2026-11-23T03:30:00Z"),
            to: t("2026-11-30T03:30:00Z"),
            utc_offset_secs: 19_800,
            sampled_hours: 168.0,
            worker_hours: 612.3,
            cost_usd: [("on-demand".to_string(), 10.5), ("spot".to_string(), 2.25)].into(),
            baseline_usd: Some(17.47),
            events: [
                (WeekEvent::ScaleUp, 14),
                (WeekEvent::ScaleDown, 12),
                (WeekEvent::ScaleFailure, 1),
                (WeekEvent::SpotWarning, 2),
                (WeekEvent::SpotReplacement, 2),
            ]
            .into(),
            longest_pending_secs: Some(200.0),
        }
    }

    fn fields(v: &Value) -> Vec<String> {
        v["blocks"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|b| b["fields"].as_array())
            .flatten()
            .map(|f| f["text"].as_str().unwrap().to_string())
            .collect()
    }

    #[test]
    fn block_kit_payload_shows_every_figure() {
        let cfg = Presentation {
            dashboard_url: Some("https://grafana.example/d/cost".into()),
            ..Presentation::default()
        };
        let v = slack_payload(&report(), &cfg);
        assert_eq!(v["blocks"][0]["type"], "header");
        assert_eq!(
            v["blocks"][0]["text"]["text"],
            ":bar_chart: Weekly Cost Report"
        );
        assert_eq!(
            v["blocks"][1]["text"]["text"],
            "*Cluster:* `smartscale-prod`\n*Week:* Mon 23 Nov 2026 09:00 – Mon 30 Nov 2026 09:00 (UTC+05:30)"
        );
        assert_eq!(
            fields(&v),
            vec![
                "*Worker-hours:*\n612.3",
                "*Cost:*\n$12.75",
                "*On-demand:*\n$10.50",
                "*Spot:*\n$2.25",
                "*Baseline:*\n$17.47",
                "*Savings vs baseline:*\n27.0%",
                "*Scale events:*\n14 up, 12 down, 1 failed",
                "*Spot interruptions:*\n2 warnings, 0 rebalances, 2 replacements joined",
                "*Longest pending wait:*\n3m 20s",
                "*Sampled:*\n168.0 h of 168 h",
            ]
        );
        for b in v["blocks"].as_array().unwrap() {
            if let Some(f) = b["fields"].as_array() {
                assert!(f.len() <= 10, "Slack allows ten fields per section");
            }
        }
        assert_eq!(
            v["blocks"][3]["elements"][0]["url"],
            "https://grafana.example/d/cost"
        );
        assert_eq!(
            v["text"],
            ":bar_chart: Weekly Cost Report: smartscale-prod — $12.75, 27.0% under the baseline"
        );
    }

    #[test]
    fn unknown_figures_are_said_not_guessed() {
        let cases: Vec<(&str, WeeklyReport, Vec<&str>)> = vec![
            (
                "no cost samples",
                WeeklyReport {
                    cost_usd: BTreeMap::new(),
                    baseline_usd: None,
                    longest_pending_secs: None,
                    events: BTreeMap::new(),
                    ..report()
                },
                vec![
                    "*Cost:*\nno cost samples this week",
                    "*Baseline:*\nno baseline samples",
                    "*Savings vs baseline:*\nunknown",
                    "*Scale events:*\n0 up, 0 down, 0 failed",
                    "*Longest pending wait:*\nno pod pending",
                ],
            ),
            (
                "over the baseline",
                WeeklyReport {
                    baseline_usd: Some(10.2),
                    ..report()
                },
                vec!["*Savings vs baseline:*\n-25.0%"],
            ),
        ];
        for (name, r, want) in cases {
            let got = fields(&slack_payload(&r, &Presentation::default()));
            for w in want {
                assert!(got.iter().any(|g| g == w), "{name}: {w} not in {got:?}");
            }
        }
    }

    #[test]
    fn sns_subject_is_ascii_and_the_message_lists_the_facts() {
        let (subject, message) = sns_subject_and_message(&report(), &Presentation::default());
        assert_eq!(
            subject,
            "SmartScale Weekly Report [smartscale-prod]: $12.75, 27.0% under the baseline"
        );
        assert!(subject.is_ascii() && subject.len() < 100);
        assert!(message.starts_with("Weekly Cost Report\nCluster: smartscale-prod\n"));
        for line in [
            "Worker-hours: 612.3",
            "Spot: $2.25",
            "Scale events: 14 up, 12 down, 1 failed",
            "Longest pending wait: 3m 20s",
        ] {
            assert!(message.contains(line), "{line} missing from {message}");
        }
    }

    #[test]
    fn waits_format_by_size() {
        for (secs, want) in [
            (0.0, "0s"),
            (45.4, "45s"),
            (200.0, "3m 20s"),
            (3_900.0, "1h 05m"),
        ] {
            assert_eq!(format_wait(secs), want);
        }
    }
}
