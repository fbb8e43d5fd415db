//! The simulation loop: one policy over one scenario, tick by tick, with the timeline and the
//! totals the report is made of.
//!
//! Each tick, in order: traffic is read; booting workers become Ready and stopping pods go; every
//! metrics interval the HPA syncs; the scheduler places Pending pods; the load is computed and
//! added to the totals; every metrics interval a sample is recorded; the policy acts. With a
//! `[simulation] warm_up`, every policy runs from the start but the totals, the timeline and the
//! events cover only the time after it.

use crate::cluster::Cluster;
use crate::observe::{Observer, Sample};
use crate::policy::{self, Ctx, Event, EventKind, PolicyKind};
use crate::scenario::Scenario;
use chrono::Utc;
use std::collections::BTreeMap;

/// One timeline row, one per metrics interval.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// Seconds since the start.
    pub t: i64,
    /// Traffic, requests/s.
    pub rps: f64,
    /// Replicas the HPA asks for.
    pub desired_replicas: u32,
    /// Pods serving.
    pub serving_pods: u32,
    /// Pods Pending.
    pub pending_pods: u32,
    /// Workers that exist (booting or Ready): what is billed.
    pub nodes: u32,
    /// Ready workers.
    pub ready_nodes: u32,
    /// CPU the traffic demands, cores.
    pub demand_cores: f64,
    /// CPU served, cores.
    pub served_cores: f64,
    /// What Ready workers can give pods, cores.
    pub capacity_cores: f64,
    /// Cluster CPU utilisation as SmartScale sees it (0..1), if any worker is Ready.
    pub cpu_ratio: Option<f64>,
    /// Cluster memory utilisation (0..1), if any worker is Ready.
    pub memory_ratio: Option<f64>,
}

/// Totals of one run. Field names are the report's JSON keys.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Summary {
    /// Scenario name.
    pub scenario: String,
    /// Policy label.
    pub policy: String,
    /// Simulated time, hours.
    pub duration_hours: f64,
    /// Worker-hours billed (launch to termination, per second).
    pub node_hours: f64,
    /// Their cost, USD (with the per-instance billing minimum).
    pub cost_usd: f64,
    /// Of which on-demand workers, USD.
    pub cost_on_demand_usd: f64,
    /// Of which Spot workers, USD.
    pub cost_spot_usd: f64,
    /// Share of the worker-hours on Spot, percent.
    pub spot_share_pct: f64,
    /// Spot interruption warnings.
    pub interruptions: u32,
    /// Pods evicted (or lost at the termination) because of an interruption.
    pub pods_evicted_by_interruptions: u32,
    /// Pending pod-minutes of the pods interruptions displaced.
    pub interruption_pending_pod_minutes: f64,
    /// Longest time one pod displaced by an interruption stayed Pending, seconds.
    pub max_interruption_pending_seconds: f64,
    /// Spot launches that found no capacity and launched on-demand.
    pub spot_fallbacks: u32,
    /// Saving against the baseline of the same run, percent (negative: costs more).
    pub savings_pct: f64,
    /// Worker-hours over the bound's in the same run, the bound at the policy's floor (1.0 = the
    /// bound; 0 without an oracle run).
    pub vs_oracle: f64,
    /// The bound row `vs_oracle` is measured against (`oracle`, or `oracle-low-floor` for a
    /// policy keeping fewer than `MIN_NODES` workers); empty without one.
    pub bound: String,
    /// Pending pods integrated over time, pod-minutes.
    pub pending_pod_minutes: f64,
    /// Longest time one pod stayed Pending, seconds.
    pub max_pending_seconds: f64,
    /// Minutes where demanded CPU exceeded the overload line (`[simulation] overload_ratio`, 90 %)
    /// of what Ready workers can give pods.
    pub overload_minutes: f64,
    /// Share of demanded CPU-time not served, percent.
    pub unserved_cpu_pct: f64,
    /// Scale-up actions.
    pub scale_ups: u32,
    /// Workers removed by scale-down.
    pub scale_downs: u32,
    /// Drains given up.
    pub drains_aborted: u32,
    /// Fewest workers at any time.
    pub nodes_min: u32,
    /// Most workers at any time.
    pub nodes_max: u32,
    /// Mean cluster CPU utilisation over the run, percent.
    pub cpu_mean_pct: f64,
    /// "No change" reasons SmartScale gave, with counts (empty for other policies).
    pub no_change_reasons: BTreeMap<String, u64>,
}

/// One policy's run.
#[derive(Debug, Clone)]
pub struct RunResult {
    /// Which policy.
    pub policy: PolicyKind,
    /// Totals.
    pub summary: Summary,
    /// One row per metrics interval.
    pub timeline: Vec<Row>,
    /// Every scaling event.
    pub events: Vec<Event>,
    /// SmartScale's forecast error per local hour of the week (empty for the other policies).
    pub forecast_errors: Vec<smartscale_engine::engine::forecast::HourError>,
}

/// Runs `kind` over `scenario`. `progress` is called with the simulated seconds done, now and
/// then (for a progress bar). `savings_pct` and `vs_oracle` are left at 0; [`run_all`] fills them
/// in.
pub fn run(scenario: &Scenario, kind: PolicyKind, progress: &mut dyn FnMut(u64)) -> RunResult {
    let sim = &scenario.simulation;
    let tick = sim.tick_secs as i64;
    let interval = sim.metrics_interval_secs as i64;
    let duration = scenario.trace.duration_secs().ceil() as i64;
    // The totals, timeline and events cover the time after the warm-up.
    let warm = (sim.warm_up_secs as i64).min(duration);
    let ctx = Ctx {
        scenario,
        start: scenario.start.with_timezone(&Utc),
    };
    let mut cluster = Cluster::new(
        scenario.node.clone(),
        scenario.workload.clone(),
        kind.initial_nodes(scenario),
        scenario.initial_nodes_managed,
    );
    cluster.market = scenario.market.clone();
    cluster.buying = kind.buying(scenario);
    cluster.reaction = kind.reaction(scenario);
    let mut policy = policy::build(kind, scenario);
    let mut observer = Observer::new(&scenario.policy, sim.cpu_rate_window_secs);
    let mut traffic = scenario.trace.cursor(scenario.interpolation);
    let mut timeline = Vec::with_capacity((duration / interval + 1) as usize);
    let mut events = Vec::new();
    let dt = tick as f64;
    let (mut pending_secs, mut overload_secs, mut demand, mut unserved) = (0.0, 0.0, 0.0, 0.0);
    let mut displaced_secs = 0.0;
    let (mut cpu_sum, mut cpu_n) = (0.0, 0u64);
    let (mut nodes_min, mut nodes_max) = (u32::MAX, 0);

    let mut t = 0;
    while t <= duration {
        let rps = traffic.rps_at(t as f64);
        cluster.advance(t);
        if t % interval == 0 {
            cluster.set_traffic(t, rps);
        }
        cluster.schedule(t);
        let load = cluster.load(rps);
        observer.tick(t, load.cpu_ratio);
        if t == warm && warm > 0 {
            cluster.reset_longest_wait();
        }
        let reported = t >= warm;
        if t < duration && reported {
            pending_secs += cluster.pending.len() as f64 * dt;
            displaced_secs += cluster.displaced_pending() as f64 * dt;
            if load.demand_cpu_millis > sim.overload_ratio * load.ready_capacity_cpu_millis {
                overload_secs += dt;
            }
            demand += load.demand_cpu_millis * dt;
            unserved += (load.demand_cpu_millis - load.served_cpu_millis).max(0.0) * dt;
        }
        let alive = cluster.alive_count();
        if reported {
            nodes_min = nodes_min.min(alive);
            nodes_max = nodes_max.max(alive);
        }
        if t % interval == 0 {
            let cpu = observer.cpu_rate();
            observer.record(Sample {
                t,
                cpu,
                memory: load.memory_ratio,
                pending: cluster.pending.len() as f64,
            });
            if let Some(c) = cpu.filter(|_| reported) {
                cpu_sum += c;
                cpu_n += 1;
            }
            if reported {
                timeline.push(Row {
                    t,
                    rps,
                    desired_replicas: cluster.desired_replicas,
                    serving_pods: load.serving_pods,
                    pending_pods: cluster.pending.len() as u32,
                    nodes: alive,
                    ready_nodes: cluster.ready_count(),
                    demand_cores: load.demand_cpu_millis / 1000.0,
                    served_cores: load.served_cpu_millis / 1000.0,
                    capacity_cores: load.ready_capacity_cpu_millis / 1000.0,
                    cpu_ratio: cpu,
                    memory_ratio: load.memory_ratio,
                });
            }
        }
        if t < duration {
            let happened = policy.step(t, &mut cluster, &observer, ctx);
            if reported {
                events.extend(happened);
            }
        }
        if t % 3600 == 0 {
            progress(t as u64);
        }
        t += tick;
    }
    progress(duration as u64);

    let bill = cluster.bill_from(warm, duration, scenario.pricing.minimum_billed_secs);
    let spot = cluster.spot;
    let count = |k: EventKind| events.iter().filter(move |e| e.kind == k);
    let summary = Summary {
        scenario: scenario.name.clone(),
        policy: kind.label().into(),
        duration_hours: (duration - warm) as f64 / 3600.0,
        node_hours: bill.secs / 3600.0,
        cost_usd: bill.total_usd(),
        cost_on_demand_usd: bill.on_demand_usd,
        cost_spot_usd: bill.spot_usd,
        spot_share_pct: if bill.secs > 0.0 {
            100.0 * bill.spot_secs / bill.secs
        } else {
            0.0
        },
        interruptions: spot.interruptions,
        pods_evicted_by_interruptions: spot.pods_evicted,
        interruption_pending_pod_minutes: displaced_secs / 60.0,
        max_interruption_pending_seconds: cluster.max_displaced_secs(duration) as f64,
        spot_fallbacks: spot.fallbacks,
        savings_pct: 0.0,
        vs_oracle: 0.0,
        bound: String::new(),
        pending_pod_minutes: pending_secs / 60.0,
        max_pending_seconds: cluster.max_pending_secs(duration) as f64,
        overload_minutes: overload_secs / 60.0,
        unserved_cpu_pct: if demand > 0.0 {
            100.0 * unserved / demand
        } else {
            0.0
        },
        scale_ups: count(EventKind::ScaleUp).count() as u32,
        scale_downs: count(EventKind::ScaleDown).map(|e| e.nodes).sum(),
        drains_aborted: count(EventKind::DrainAborted).count() as u32,
        nodes_min: if nodes_min == u32::MAX { 0 } else { nodes_min },
        nodes_max,
        cpu_mean_pct: if cpu_n > 0 {
            100.0 * cpu_sum / cpu_n as f64
        } else {
            0.0
        },
        no_change_reasons: policy.no_change_reasons(),
    };
    RunResult {
        policy: kind,
        summary,
        timeline,
        events,
        forecast_errors: policy.forecast_errors(),
    }
}

/// Runs every policy over `scenario` and fills in each one's saving against the baseline and its
/// worker-hours over the bound's at its floor ([`PolicyKind::bound`]); the low-floor bound is
/// added when a policy keeps a lower floor than `MIN_NODES` ([`PolicyKind::compared`]).
/// `progress` receives the simulated seconds done over all policies together.
pub fn run_all(scenario: &Scenario, progress: &mut dyn FnMut(u64)) -> Vec<RunResult> {
    run_some(scenario, &PolicyKind::ALL, progress)
}

/// [`run_all`] for the policies `kinds` only (the saving and `vs_oracle` need the baseline and the
/// oracle among them; they stay 0 otherwise). The results follow [`PolicyKind::compared`].
pub fn run_some(
    scenario: &Scenario,
    kinds: &[PolicyKind],
    progress: &mut dyn FnMut(u64),
) -> Vec<RunResult> {
    let duration = scenario.trace.duration_secs().ceil() as u64;
    let kinds = PolicyKind::compared(scenario, kinds);
    let mut results: Vec<RunResult> = kinds
        .iter()
        .enumerate()
        .map(|(i, &kind)| run(scenario, kind, &mut |s| progress(i as u64 * duration + s)))
        .collect();
    let baseline = results
        .iter()
        .find(|r| r.policy == PolicyKind::Baseline)
        .map(|r| r.summary.cost_usd)
        .unwrap_or(0.0);
    let hours = |k: PolicyKind| {
        results
            .iter()
            .find(|r| r.policy == k)
            .map_or(0.0, |r| r.summary.node_hours)
    };
    let bounds: Vec<Option<(PolicyKind, f64)>> = results
        .iter()
        .map(|r| r.policy.bound(scenario, &kinds).map(|b| (b, hours(b))))
        .collect();
    for (r, bound) in results.iter_mut().zip(bounds) {
        if let Some((b, h)) = bound.filter(|b| b.1 > 0.0) {
            r.summary.vs_oracle = r.summary.node_hours / h;
            r.summary.bound = b.label().into();
        }
        r.summary.savings_pct = if baseline > 0.0 {
            100.0 * (baseline - r.summary.cost_usd) / baseline
        } else {
            0.0
        };
    }
    results
}
