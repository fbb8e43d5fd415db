//! WeeklyReport (a function of its own, started by an EventBridge Scheduler schedule every
//! Monday 09:00 in the cluster's time zone): the week's worker-hours, cost by capacity type,
//! savings against the baseline, scale events, Spot interruptions and the longest pending wait,
//! from the weekly ledger in DynamoDB and SmartScale's metrics in CloudWatch, posted to every
//! channel. What each figure is made of: `docs/WEEKLY_REPORT.md`.

use super::document::{ExecutionDocument, NotifiedPart};
use super::Deps;
use crate::cost;
use crate::error::{Error, Result};
use crate::notify::weekly::{
    ledger_weeks, report_window, tick_hours, weighted_sum, Samples, WeekEvent, WeeklyReport,
};
use crate::seams::{CapacityType, SeriesQuery, Statistic};
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

/// The series of the week: the worker count (its samples are the ticks), the baseline, the
/// longest pending wait, and `HourlyCost` of each capacity type alone, the series Evaluate writes
/// every tick, 0 included ([`cost::cost_metrics`]). The cost is read whole per capacity type, so
/// a worker of a type no longer configured (removed mid-week, a burst type) is still billed.
/// Returns the queries and each capacity type's cost series id.
pub fn queries() -> (Vec<SeriesQuery>, Vec<(CapacityType, String)>) {
    let gauge = |id: &str, metric: &str, stat| SeriesQuery {
        id: id.into(),
        metric: metric.into(),
        dimensions: vec![],
        stat,
    };
    let mut out = vec![
        gauge(NODES, "CurrentNodeCount", Statistic::Average),
        gauge(BASELINE, cost::BASELINE_HOURLY_COST, Statistic::Average),
        gauge(PENDING, "LongestPendingSeconds", Statistic::Maximum),
    ];
    let ids: Vec<(CapacityType, String)> = cost::CAPACITY_TYPES
        .iter()
        .map(|c| (*c, format!("cost_{}", c.as_str())))
        .collect();
    out.extend(ids.iter().map(|(c, id)| SeriesQuery {
        id: id.clone(),
        metric: cost::HOURLY_COST.into(),
        dimensions: vec![(cost::CAPACITY_TYPE_DIMENSION.into(), c.ec2_name().into())],
        stat: Statistic::Average,
    }));
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

    let (qs, cost_ids) = queries();
    let series = deps.history.minutely(&qs, from, to).await?;
    let empty = Samples::new();
    let get = |id: &str| series.get(id).unwrap_or(&empty);
    let ticks: Vec<DateTime<Utc>> = get(NODES).keys().copied().collect();
    let hours = tick_hours(&ticks, to);

    let mut cost_usd = BTreeMap::new();
    if cost_ids.iter().any(|(_, id)| !get(id).is_empty()) {
        for (capacity, id) in &cost_ids {
            let usd = weighted_sum(&hours, get(id));
            cost_usd.insert(capacity.ec2_name().to_string(), usd);
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
    use crate::seams::{LedgerEntry, ManagedInstance, StateStore};
    use crate::steps::document::MetricsSummary;
    use crate::steps::testkit::*;
    use crate::telemetry::cluster_gauges;
    use chrono::{Duration, NaiveDate, TimeZone};
    use CapacityType::{OnDemand, Spot};

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

    fn worker(id: &str, instance_type: &str, capacity_type: CapacityType) -> ManagedInstance {
        ManagedInstance {
            instance_type: instance_type.into(),
            capacity_type,
            ..instance(id, None)
        }
    }

    /// What Evaluate writes every 2 minutes over `[from, to)` with `fleet` running (the worker
    /// count and the cost lines, priced at the configuration's prices), put into the fake
    /// CloudWatch as CloudWatch Logs extracts the EMF lines.
    fn evaluated(w: &World, from: DateTime<Utc>, to: DateTime<Utc>, fleet: &[ManagedInstance]) {
        let fleet_cost = cost::of_fleet(fleet, &w.deps.config);
        let workers = MetricsSummary {
            nodes: fleet.len() as u32,
            ..Default::default()
        };
        let mut t = from;
        while t < to {
            w.history.put_emf(&cluster_gauges("c1", &workers, t));
            for line in cost::cost_metrics("c1", &fleet_cost, t) {
                w.history.put_emf(&line);
            }
            t += Duration::minutes(2);
        }
    }

    /// The series every report asks for, by query id: the gauges, then each capacity type's cost.
    const ASKED: [&str; 5] = [
        "nodes",
        "baseline",
        "pending",
        "cost_on_demand",
        "cost_spot",
    ];

    /// The ids of the series the first CloudWatch read asked for.
    fn asked_ids(w: &World) -> Vec<String> {
        w.history.asked.lock().unwrap()[0]
            .0
            .iter()
            .map(|q| q.id.clone())
            .collect()
    }

    /// The price of one `instance_type` worker bought as `capacity`, USD per hour.
    fn price(w: &World, instance_type: &str, capacity: CapacityType) -> f64 {
        w.deps.config.hourly_price(instance_type, capacity).unwrap()
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
        let fleet = [
            worker("i-1", "t3.small", OnDemand),
            worker("i-2", "t3.small", OnDemand),
            worker("i-3", "t3a.small", Spot),
        ];
        evaluated(&w, day, to, &fleet);
        w.history.put("LongestPendingSeconds", &[], day, 0.0);
        w.history
            .put("LongestPendingSeconds", &[], to - Duration::hours(2), 150.0);

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
        let on_demand = 2.0 * price(&w, "t3.small", OnDemand);
        let spot = price(&w, "t3a.small", Spot);
        let baseline = 5.0 * price(&w, "t3.small", OnDemand);
        assert!(close(r.cost_usd["on-demand"], on_demand * 24.0));
        assert!(close(r.cost_usd["spot"], spot * 24.0));
        assert!(close(r.baseline_usd.unwrap(), baseline * 24.0));
        assert!(close(
            r.savings_percent().unwrap(),
            (1.0 - (on_demand + spot) / baseline) * 100.0
        ));
        assert_eq!(r.longest_pending_secs, Some(150.0));
        assert_eq!(w.slack.reports.lock().unwrap().len(), 1);
        assert_eq!(part.notified["slack"], "sent");

        // The two ledger weeks around the +05:30 Monday were read; the cost series asked for
        // are those of each capacity type alone.
        assert_eq!(asked_ids(&w), ASKED);
        let asked = w.history.asked.lock().unwrap();
        assert_eq!(
            asked[0].0[4].dimensions,
            [("CapacityType".to_string(), "spot".to_string())]
        );
        let weeks: Vec<NaiveDate> = w.store.ledger_names().iter().map(|(d, _)| *d).collect();
        assert!(weeks.contains(&NaiveDate::from_ymd_opt(2026, 11, 30).unwrap()));
    }

    /// One case of [`the_cost_is_billed_whatever_types_are_configured_now`]: the worker types
    /// configured when the report runs (no burst types), and the fleet of each half of the last
    /// day.
    struct CostCase {
        name: &'static str,
        worker_types: &'static [&'static str],
        halves: [Vec<ManagedInstance>; 2],
    }

    /// The cost is each capacity type's whole series, so every worker that ran is billed at its
    /// price, whether or not its type is configured when the report runs.
    #[tokio::test]
    async fn the_cost_is_billed_whatever_types_are_configured_now() {
        let od = |id| worker(id, "t3.small", OnDemand);
        let mixed = || vec![od("i-1"), worker("i-2", "t3a.small", Spot)];
        let case = |name, worker_types, halves| CostCase {
            name,
            worker_types,
            halves,
        };
        let cases = [
            case(
                "the configured types",
                &["t3.small", "t3a.small"],
                [mixed(), mixed()],
            ),
            case(
                "a type removed from the configuration mid-week",
                &["t3.small"],
                [mixed(), vec![od("i-1"), worker("i-3", "t3.small", Spot)]],
            ),
            case(
                "a burst type no longer configured",
                &["t3.small"],
                [
                    vec![od("i-1"), worker("i-4", "t3.medium", OnDemand)],
                    vec![od("i-1")],
                ],
            ),
        ];
        for c in cases {
            let mut w = world();
            let policy = &mut w.deps.config.policy;
            policy.worker_instance_types = c.worker_types.iter().map(|t| t.to_string()).collect();
            policy.burst_instance_types = vec![];
            let (_, to) = report_window(now());
            let noon = to - Duration::hours(12);
            evaluated(&w, to - Duration::days(1), noon, &c.halves[0]);
            evaluated(&w, noon, to, &c.halves[1]);
            let billed = |capacity| -> f64 {
                c.halves
                    .iter()
                    .flat_map(|half| half.iter())
                    .filter(|i| i.capacity_type == capacity)
                    .map(|i| price(&w, &i.instance_type, capacity) * 12.0)
                    .sum()
            };

            let r = run(&doc(), &w.deps, now()).await.unwrap().report;
            for capacity in cost::CAPACITY_TYPES {
                let got = r.cost_usd[capacity.ec2_name()];
                let want = billed(capacity);
                assert!(
                    (got - want).abs() < 1e-6,
                    "{}: {capacity} {got}, want {want}",
                    c.name
                );
            }
            assert_eq!(
                asked_ids(&w),
                ASKED,
                "{}: the queries do not depend on the configured types",
                c.name
            );
        }
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
