//! WeeklyReport (a function of its own, started by an EventBridge Scheduler schedule every
//! Monday 09:00 in the cluster's time zone): the week's worker-hours, cost by capacity type,
//! savings against the baseline, scale events, Spot interruptions and the longest pending wait,
//! from the weekly ledger in DynamoDB and SmartScale's metrics in CloudWatch, posted to every
//! channel. What each figure is made of: `docs/WEEKLY_REPORT.md`.

use super::document::{ExecutionDocument, NotifiedPart};
use super::Deps;
use crate::error::{Error, Result};
use crate::notify::weekly::{
    ledger_weeks, report_window, tick_hours, weighted_sum, Samples, WeekEvent, WeeklyReport,
};
use crate::seams::{SeriesQuery, Statistic};
use crate::telemetry::StepMetrics;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What the function returns: the report and what each channel did with it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WeeklyReportPart {
    /// The figures sent.
    pub report: WeeklyReport,
    /// Channel name to `sent` or `failed: <error>`.
    pub notified: NotifiedPart,
}

impl StepMetrics for WeeklyReportPart {}

/// The query ids of the series the report reads (CloudWatch wants `^[a-z][A-Za-z0-9_]*$`).
const NODES: &str = "nodes";
const BASELINE: &str = "baseline";
const PENDING: &str = "pending";

/// The capacity types as the cost metric's `CapacityType` dimension names them.
const CAPACITY_TYPES: [&str; 2] = ["on-demand", "spot"];

/// The series of the week: the worker count (its samples are the ticks), the baseline, the
/// longest pending wait, and `HourlyCost` of every capacity type × configured instance type
/// (`WORKER_INSTANCE_TYPES` then `BURST_INSTANCE_TYPES`), the dimension set the cost metric
/// writes. Returns the queries and, per capacity type, the ids of its cost series.
pub fn queries(deps: &Deps) -> (Vec<SeriesQuery>, BTreeMap<&'static str, Vec<String>>) {
    let gauge = |id: &str, metric: &str, stat| SeriesQuery {
        id: id.into(),
        metric: metric.into(),
        dimensions: vec![],
        stat,
    };
    let mut out = vec![
        gauge(NODES, "CurrentNodeCount", Statistic::Average),
        gauge(BASELINE, "BaselineHourlyCost", Statistic::Average),
        gauge(PENDING, "LongestPendingSeconds", Statistic::Maximum),
    ];
    let policy = &deps.config.policy;
    let mut types: Vec<&String> = policy.worker_instance_types.iter().collect();
    types.extend(
        policy
            .burst_instance_types
            .iter()
            .filter(|t| !policy.worker_instance_types.contains(t)),
    );
    let mut ids: BTreeMap<&'static str, Vec<String>> = BTreeMap::new();
    for (c, capacity) in CAPACITY_TYPES.iter().enumerate() {
        for (i, t) in types.iter().enumerate() {
            let id = format!("cost_{c}_{i}");
            out.push(SeriesQuery {
                id: id.clone(),
                metric: "HourlyCost".into(),
                dimensions: vec![
                    ("CapacityType".into(), (*capacity).into()),
                    ("InstanceType".into(), (*t).clone()),
                ],
                stat: Statistic::Average,
            });
            ids.entry(capacity).or_default().push(id);
        }
    }
    (out, ids)
}

/// The report for the seven days before `now` ([`report_window`]). Errors: the store's and
/// CloudWatch's `Transient`/`Fatal`.
pub async fn build(deps: &Deps, cluster_id: &str, now: DateTime<Utc>) -> Result<WeeklyReport> {
    let offset = deps.config.policy.cluster_utc_offset_secs;
    let (from, to) = report_window(now);

    let mut events: BTreeMap<WeekEvent, u32> = BTreeMap::new();
    for week in ledger_weeks(from, to, offset) {
        for e in deps.store.week_events(week).await? {
            if e.at >= from && e.at < to {
                *events.entry(e.kind).or_default() += 1;
            }
        }
    }

    let (qs, cost_ids) = queries(deps);
    let series = deps.history.minutely(&qs, from, to).await?;
    let empty = Samples::new();
    let get = |id: &str| series.get(id).unwrap_or(&empty);
    let ticks: Vec<DateTime<Utc>> = get(NODES).keys().copied().collect();
    let hours = tick_hours(&ticks, to);

    let mut cost_usd = BTreeMap::new();
    if cost_ids.values().flatten().any(|id| !get(id).is_empty()) {
        for (capacity, ids) in &cost_ids {
            let usd = ids.iter().map(|id| weighted_sum(&hours, get(id))).sum();
            cost_usd.insert((*capacity).to_string(), usd);
        }
    }
    let baseline = get(BASELINE);
    Ok(WeeklyReport {
        cluster_id: cluster_id.to_string(),
        from,
        to,
        utc_offset_secs: offset,
        sampled_hours: hours.iter().map(|(_, h)| h).sum(),
        worker_hours: weighted_sum(&hours, get(NODES)),
        cost_usd,
        baseline_usd: (!baseline.is_empty()).then(|| weighted_sum(&hours, baseline)),
        events,
        longest_pending_secs: get(PENDING)
            .values()
            .copied()
            .fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.max(v))))
            .filter(|v| *v > 0.0),
    })
}

/// Builds the report and sends it to every channel. Errors: those of [`build`]; `Transient`
/// when no channel took it (so the invocation is retried; a channel that took it is never sent
/// it twice by this step, since it only fails when none did).
pub async fn run(
    doc: &ExecutionDocument,
    deps: &Deps,
    now: DateTime<Utc>,
) -> Result<WeeklyReportPart> {
    let report = build(deps, &doc.cluster_id, now).await?;
    let mut notified = NotifiedPart::new();
    for n in &deps.notifiers {
        let result = match n.send_report(&report).await {
            Ok(()) => "sent".to_string(),
            Err(e) => {
                tracing::warn!(channel = n.channel(), error = %e, "weekly report not delivered");
                format!("failed: {e}")
            }
        };
        notified.insert(n.channel().to_string(), result);
    }
    if !notified.is_empty() && notified.values().all(|r| r != "sent") {
        let detail: Vec<String> = notified.iter().map(|(k, v)| format!("{k}: {v}")).collect();
        return Err(Error::transient(
            "sending the weekly report",
            detail.join("; "),
        ));
    }
    Ok(WeeklyReportPart { report, notified })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seams::{LedgerEntry, StateStore};
    use crate::steps::testkit::*;
    use chrono::{Duration, NaiveDate, TimeZone};

    fn now() -> DateTime<Utc> {
        // Monday 30 Nov 2026 09:00 at +05:30.
        Utc.with_ymd_and_hms(2026, 11, 30, 3, 30, 0).unwrap()
    }

    fn doc() -> ExecutionDocument {
        ExecutionDocument {
            cluster_id: "c1".into(),
            execution_id: "weekly-1".into(),
            ..Default::default()
        }
    }

    fn world() -> World {
        let mut w = World::new();
        w.deps.config.policy.cluster_utc_offset_secs = 19_800;
        w.deps.config.policy.worker_instance_types = vec!["t3.small".into(), "t3a.small".into()];
        w
    }

    async fn record(w: &World, kind: WeekEvent, id: &str, at: DateTime<Utc>) {
        let week = crate::notify::weekly::ledger_week(at, 19_800);
        let e = LedgerEntry {
            kind,
            id: id.into(),
            at,
        };
        w.store.record_week_events(week, &[e]).await.unwrap();
    }

    /// `value` every 2 minutes over `[from, to)` as one-minute buckets.
    fn every_two_minutes(from: DateTime<Utc>, to: DateTime<Utc>, value: f64) -> Samples {
        let mut out = Samples::new();
        let mut t = from;
        while t < to {
            out.insert(t, value);
            t += Duration::minutes(2);
        }
        out
    }

    #[tokio::test]
    async fn counts_the_window_and_integrates_the_gauges() {
        let w = world();
        let (from, to) = report_window(now());
        // In the window: two ups, a down, a failure, a warning and its replacement; one up
        // recorded twice (a retried step); outside it: an up just before and one at `to`.
        for (kind, id, at) in [
            (WeekEvent::ScaleUp, "op-1", from),
            (WeekEvent::ScaleUp, "op-2", from + Duration::days(3)),
            (
                WeekEvent::ScaleUp,
                "op-2",
                from + Duration::days(3) + Duration::seconds(9),
            ),
            (WeekEvent::ScaleDown, "op-3", from + Duration::days(4)),
            (WeekEvent::ScaleFailure, "op-4", from + Duration::days(5)),
            (WeekEvent::SpotWarning, "i-9", to - Duration::hours(1)),
            (
                WeekEvent::SpotReplacement,
                "i-10",
                to - Duration::minutes(50),
            ),
            (WeekEvent::ScaleUp, "op-0", from - Duration::seconds(1)),
            (WeekEvent::ScaleUp, "op-5", to),
        ] {
            record(&w, kind, id, at).await;
        }
        // The last 24 h sampled: 3 workers; 2 on-demand t3.small and 1 Spot t3a.small.
        let day = to - Duration::days(1);
        *w.history.series.lock().unwrap() = [
            (NODES.to_string(), every_two_minutes(day, to, 3.0)),
            (BASELINE.to_string(), every_two_minutes(day, to, 0.104)),
            ("cost_0_0".to_string(), every_two_minutes(day, to, 0.0416)),
            ("cost_1_1".to_string(), every_two_minutes(day, to, 0.0068)),
            (
                PENDING.to_string(),
                [(day, 0.0), (to - Duration::hours(2), 150.0)].into(),
            ),
        ]
        .into();

        let part = run(&doc(), &w.deps, now()).await.unwrap();
        let r = &part.report;
        assert_eq!((r.from, r.to), (from, to));
        let counts: Vec<(WeekEvent, u32)> = r.events.iter().map(|(k, v)| (*k, *v)).collect();
        assert_eq!(
            counts,
            vec![
                (WeekEvent::ScaleUp, 2),
                (WeekEvent::ScaleDown, 1),
                (WeekEvent::ScaleFailure, 1),
                (WeekEvent::SpotWarning, 1),
                (WeekEvent::SpotReplacement, 1),
            ]
        );
        let close = |a: f64, b: f64| (a - b).abs() < 1e-6;
        assert!(close(r.sampled_hours, 24.0), "{}", r.sampled_hours);
        assert!(close(r.worker_hours, 72.0), "{}", r.worker_hours);
        assert!(close(r.cost_usd["on-demand"], 0.0416 * 24.0));
        assert!(close(r.cost_usd["spot"], 0.0068 * 24.0));
        assert!(close(r.baseline_usd.unwrap(), 0.104 * 24.0));
        assert!(close(
            r.savings_percent().unwrap(),
            (1.0 - 0.0484 / 0.104) * 100.0
        ));
        assert_eq!(r.longest_pending_secs, Some(150.0));
        assert_eq!(w.slack.reports.lock().unwrap().len(), 1);
        assert_eq!(part.notified["slack"], "sent");

        // The two ledger weeks around the +05:30 Monday were read; the cost series asked for
        // are every capacity type × configured type.
        let asked = w.history.asked.lock().unwrap();
        let ids: Vec<&str> = asked[0].0.iter().map(|q| q.id.as_str()).collect();
        assert_eq!(
            ids,
            ["nodes", "baseline", "pending", "cost_0_0", "cost_0_1", "cost_1_0", "cost_1_1"]
        );
        assert_eq!(asked[0].0[6].dimensions[1].1, "t3a.small");
        let weeks: Vec<NaiveDate> = w.store.ledger_names().iter().map(|(d, _)| *d).collect();
        assert!(weeks.contains(&NaiveDate::from_ymd_opt(2026, 11, 30).unwrap()));
    }

    #[tokio::test]
    async fn a_week_without_samples_reports_nothing_as_known() {
        let w = world();
        let part = run(&doc(), &w.deps, now()).await.unwrap();
        let r = part.report;
        assert!(r.events.is_empty());
        assert!(r.cost_usd.is_empty());
        assert_eq!(r.baseline_usd, None);
        assert_eq!(r.savings_percent(), None);
        assert_eq!(r.longest_pending_secs, None);
        assert_eq!(r.worker_hours, 0.0);
    }

    #[tokio::test]
    async fn failures_are_the_seams_or_every_channel() {
        type Case = (&'static str, fn(&mut World), &'static str);
        let cases: Vec<Case> = vec![
            (
                "ledger read fails",
                |w| {
                    w.store
                        .fail_next("week_events", Error::transient("reading", "503"))
                },
                "Retryable",
            ),
            (
                "cloudwatch refuses",
                |w| *w.history.fail.lock().unwrap() = Some(Error::fatal("reading", "AccessDenied")),
                "Fatal",
            ),
            (
                "every channel fails",
                |w| {
                    w.deps.notifiers = vec![
                        RecordingNotifier::new("slack", true),
                        RecordingNotifier::new("sns", true),
                    ]
                },
                "Retryable",
            ),
        ];
        for (name, arrange, want) in cases {
            let mut w = world();
            arrange(&mut w);
            let e = run(&doc(), &w.deps, now()).await.unwrap_err();
            assert_eq!(e.kind(), want, "{name}: {e}");
        }

        // One channel failing is reported, not an error: the other took the report.
        let mut w = world();
        w.deps.notifiers = vec![
            RecordingNotifier::new("slack", true),
            RecordingNotifier::new("sns", false),
        ];
        let part = run(&doc(), &w.deps, now()).await.unwrap();
        assert!(part.notified["slack"].starts_with("failed"));
        assert_eq!(part.notified["sns"], "sent");
    }
}
