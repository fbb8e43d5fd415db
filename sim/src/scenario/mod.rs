//! Scenario files: a TOML file with `[scenario]`, `[simulation]`, `[cluster]`, `[workload]`,
//! `[pricing]`, `[baseline]`, `[cluster_autoscaler]`, `[karpenter]` and `[policy]` sections,
//! pointing at a CSV traffic trace (`time,rps`, [`trace`]). Every model constant lives here;
//! docs/SIMULATOR.md lists the keys. Each section has one reading function (`sections.rs`).
//!
//! Every problem is reported with the file, the line and what is wrong; unknown keys are errors.

mod error;
mod reader;
mod sections;
mod trace;

pub use error::{Located, ScenarioError};
pub use trace::{parse_trace, Interpolation, Trace, TraceCursor};

use crate::cluster::NodeShape;
use crate::market::Market;
use crate::workload::Workload;
use chrono::{DateTime, FixedOffset};
use reader::{line_of, line_of_key_in, Entries, Reader};
use smartscale_engine::Policy as Config;
use std::collections::BTreeMap;
use std::path::Path;
use toml::Spanned;

/// Timing of the run. Keys of the `[simulation]` section.
#[derive(Debug, Clone, PartialEq)]
pub struct Simulation {
    /// The step of the simulation clock, seconds. Boot, grace and drain times round up to it.
    pub tick_secs: u64,
    /// Prometheus scrape and rule interval: one metrics sample this often. Must be a multiple of
    /// the tick. (Also the HPA sync period.)
    pub metrics_interval_secs: u64,
    /// `rate(...[1m])` window over which node CPU is averaged.
    pub cpu_rate_window_secs: u64,
    /// The EventBridge schedule: SmartScale is consulted this often.
    pub evaluation_interval_secs: u64,
    /// How often the state machine checks a drain (its `Wait 10s` loop).
    pub drain_poll_secs: u64,
    /// The overload line: demanded CPU above this share of what Ready workers can give pods
    /// counts as overload, and the oracle keeps demand at or below it (0.9).
    pub overload_ratio: f64,
    /// Seconds from the start that every policy runs but the totals leave out (`warm_up`, 0):
    /// a week of history for the forecast before the week reported on.
    pub warm_up_secs: u64,
}

impl Default for Simulation {
    fn default() -> Self {
        Simulation {
            tick_secs: 5,
            metrics_interval_secs: 15,
            cpu_rate_window_secs: 60,
            evaluation_interval_secs: 120,
            drain_poll_secs: 10,
            overload_ratio: 0.9,
            warm_up_secs: 0,
        }
    }
}

/// Cost model. Keys of the `[pricing]` section.
#[derive(Debug, Clone, PartialEq)]
pub struct Pricing {
    /// On-demand price of one worker per hour, USD (t3.small us-east-1: 0.0208).
    pub hourly_usd: f64,
    /// Per-second billing with this minimum per instance (EC2 Linux: 60 s).
    pub minimum_billed_secs: u64,
}

impl Default for Pricing {
    fn default() -> Self {
        Pricing {
            hourly_usd: 0.0208,
            minimum_billed_secs: 60,
        }
    }
}

/// Cluster Autoscaler model constants, Cluster Autoscaler 1.3x's defaults (the rules and their
/// sources: `policy/cluster_autoscaler.rs`). Keys of `[cluster_autoscaler]`.
#[derive(Debug, Clone, PartialEq)]
pub struct CaSettings {
    /// `--scan-interval`: the loop period (10 s).
    pub scan_interval_secs: u64,
    /// `--scale-down-utilization-threshold`: a worker whose requests are below this share of its
    /// allocatable may be unneeded (0.5).
    pub scale_down_utilization_threshold: f64,
    /// `--scale-down-unneeded-time`: how long a worker must be unneeded before removal (10 min).
    pub scale_down_unneeded_secs: u64,
    /// `--scale-down-delay-after-add`: no scale-down this long after a scale-up (10 min).
    pub scale_down_delay_after_add_secs: u64,
    /// `--scale-down-delay-after-delete`: no scale-down this long after a removal (0 s).
    pub scale_down_delay_after_delete_secs: u64,
    /// `--scale-down-delay-after-failure`: no scale-down this long after a failed drain (3 min).
    pub scale_down_delay_after_failure_secs: u64,
    /// `--max-pod-eviction-time`: how long a drain retries evictions before it fails (2 min).
    pub max_pod_eviction_secs: u64,
    /// `--max-node-provision-time`: a worker not Ready this long after launch is removed (15 min).
    pub max_node_provision_secs: u64,
    /// `--unremovable-node-recheck-timeout`: a worker refused for room or budget is not
    /// simulated again before this (5 min).
    pub unremovable_recheck_secs: u64,
    /// `--max-empty-bulk-delete`: empty workers removed in one loop at most (10).
    pub max_empty_bulk_delete: u32,
    /// `--ok-total-unready-count`: unready workers always tolerated (3).
    pub ok_total_unready_count: u32,
    /// `--max-total-unready-percentage`: above this share (and the count) the loop halts (45).
    pub max_total_unready_pct: f64,
    /// First scale-up backoff after a worker that never joined (5 min).
    pub initial_backoff_secs: u64,
    /// Longest backoff, doubling from the first (30 min).
    pub max_backoff_secs: u64,
    /// Backoff starts again from the first after this long without a failure (3 h).
    pub backoff_reset_secs: u64,
    /// Node group minimum (defaults to the policy's `MIN_NODES`).
    pub min_nodes: u32,
    /// Node group maximum (defaults to the policy's `MAX_NODES`).
    pub max_nodes: u32,
}

/// Karpenter model constants, Karpenter v1's defaults (the rules and their sources:
/// `policy/karpenter.rs`). Keys of `[karpenter]`.
#[derive(Debug, Clone, PartialEq)]
pub struct KarpenterSettings {
    /// `BATCH_IDLE_DURATION`: a provisioning batch closes once no pod arrived for this long (1 s).
    pub batch_idle_secs: u64,
    /// `BATCH_MAX_DURATION`: a provisioning batch closes this long after it opened (10 s).
    pub batch_max_secs: u64,
    /// The disruption controller's polling period (10 s).
    pub disruption_poll_secs: u64,
    /// `spec.disruption.consolidateAfter`: quiet time after a worker's last pod event before it
    /// may be consolidated (v1 default 0 s).
    pub consolidate_after_secs: u64,
    /// `spec.disruption.budgets[].nodes` as a percentage of the NodePool's workers, rounded up
    /// (default `10%`).
    pub budget_nodes_pct: f64,
    /// Wait before a disruption command is validated again and executed (15 s).
    pub validation_secs: u64,
    /// Most candidates one multi-node consolidation considers (100).
    pub max_multi_node_candidates: usize,
    /// Workers never consolidated away (a NodePool has no minimum: 0; a static pool's floor would
    /// be `MIN_NODES`).
    pub min_nodes: u32,
    /// The NodePool's `limits`, as workers (defaults to the policy's `MAX_NODES`).
    pub max_nodes: u32,
}

/// A complete what-if scenario.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// Short name, used in the report and file names.
    pub name: String,
    /// One sentence for people.
    pub description: String,
    /// The wall time of second 0 (its offset is the local time zone for charts).
    pub start: DateTime<FixedOffset>,
    /// Traffic.
    pub trace: Trace,
    /// How to read traffic between rows.
    pub interpolation: Interpolation,
    /// Clock and intervals.
    pub simulation: Simulation,
    /// Worker shape and boot delay.
    pub node: NodeShape,
    /// Workers at the start, for SmartScale and the Cluster Autoscaler model.
    pub initial_nodes: u32,
    /// The initial workers carry SmartScale's ownership tags (so it may remove them).
    pub initial_nodes_managed: bool,
    /// The web workload.
    pub workload: Workload,
    /// Cost model.
    pub pricing: Pricing,
    /// The offers every policy gets: prices per type and capacity type, Spot capacity and
    /// interruptions (`[pricing]`, `[spot]`).
    pub market: Market,
    /// Workers of the fixed-size baseline.
    pub baseline_nodes: u32,
    /// Cluster Autoscaler model.
    pub cluster_autoscaler: CaSettings,
    /// Karpenter model.
    pub karpenter: KarpenterSettings,
    /// SmartScale's configuration: defaults overridden by `[policy]`.
    pub policy: Config,
    /// The `[policy]` overrides as written, for the report.
    pub policy_overrides: BTreeMap<String, String>,
}

const SECTIONS: [&str; 10] = [
    "scenario",
    "simulation",
    "cluster",
    "workload",
    "pricing",
    "spot",
    "baseline",
    "cluster_autoscaler",
    "karpenter",
    "policy",
];

/// Reads a scenario file and its trace (a relative `trace` path is relative to the file).
///
/// Errors: the file or trace cannot be read, is not valid TOML, has an unknown section or key, a
/// value of the wrong kind or out of range, or a `[policy]` the SmartScale configuration refuses;
/// each problem names the file and line.
pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|e| ScenarioError::one(&file, None, format!("cannot read the scenario: {e}")))?;
    let dir = path.parent().unwrap_or(Path::new("."));
    parse(&text, &file, |trace| {
        let p = dir.join(trace);
        let name = p.display().to_string();
        std::fs::read_to_string(&p)
            .map(|t| (t, name.clone()))
            .map_err(|e| ScenarioError::one(&name, None, format!("cannot read the trace: {e}")))
    })
}

/// Parses scenario TOML `text` (named `file` in errors); `read_trace` turns the `trace` value into
/// the trace's text and its name for errors.
pub fn parse(
    text: &str,
    file: &str,
    read_trace: impl Fn(&str) -> Result<(String, String), ScenarioError>,
) -> Result<Scenario, ScenarioError> {
    let doc: BTreeMap<Spanned<String>, Spanned<Entries>> = toml::from_str(text).map_err(|e| {
        let line = e.span().map(|s| line_of(text, s.start));
        ScenarioError::one(file, line, e.message().trim().to_owned())
    })?;
    let mut r = Reader {
        text,
        file,
        problems: Vec::new(),
        known: Vec::new(),
    };
    let mut sections: BTreeMap<String, (usize, Entries)> = BTreeMap::new();
    for (name, entries) in doc {
        let line = line_of(text, name.span().start);
        if SECTIONS.contains(&name.get_ref().as_str()) {
            sections.insert(name.into_inner(), (line, entries.into_inner()));
        } else {
            r.bad(
                line,
                format!(
                    "unknown section [{}]: expected one of {}",
                    name.get_ref(),
                    SECTIONS.map(|s| format!("[{s}]")).join(", ")
                ),
            );
        }
    }
    let mut take = |name: &str| {
        sections
            .remove(name)
            .unwrap_or_else(|| (1, BTreeMap::new()))
    };
    let (scenario_line, s) = take("scenario");
    let head = sections::scenario(&mut r, s, scenario_line);
    let simulation = sections::simulation(&mut r, take("simulation").1);
    let (node, initial_nodes, initial_nodes_managed) = sections::cluster(&mut r, take("cluster").1);
    let (workload_line, w) = take("workload");
    let workload = sections::workload(&mut r, w, workload_line, &node);
    let baseline_nodes = sections::baseline(&mut r, take("baseline").1);
    let (policy_line, p) = take("policy");
    let (policy, policy_overrides) = sections::policy(&mut r, p, policy_line);
    let launchable: Vec<String> = std::iter::once(node.instance_type.clone())
        .chain(policy.worker_instance_types.iter().cloned())
        .chain(policy.burst_instance_types.iter().cloned())
        .collect();
    let (pricing_line, pr) = take("pricing");
    let (pricing, mut market) = sections::pricing(&mut r, pr, pricing_line, &node, &launchable);
    let (spot_line, sp) = take("spot");
    sections::spot(&mut r, sp, spot_line, &mut market);
    let (ca_line, a) = take("cluster_autoscaler");
    let cluster_autoscaler =
        sections::cluster_autoscaler(&mut r, a, ca_line, &policy, simulation.tick_secs);
    let (karpenter_line, k) = take("karpenter");
    let karpenter = sections::karpenter(&mut r, k, karpenter_line, &policy);

    let mut trace = None;
    match &head.trace {
        None => r.bad(
            scenario_line,
            "[scenario] needs `trace`: the path of a CSV with columns time,rps".into(),
        ),
        Some(t) => match read_trace(t).and_then(|(txt, name)| parse_trace(&txt, &name)) {
            Ok(tr) => trace = Some(tr),
            Err(e) => r.problems.extend(e.problems),
        },
    }
    let start = match (&head.start, trace.as_ref().and_then(|t| t.start)) {
        (_, Some(s)) => s,
        (Some(raw), None) => match DateTime::parse_from_rfc3339(raw) {
            Ok(s) => s,
            Err(_) => {
                let line = line_of_key_in(text, "scenario", "start").unwrap_or(scenario_line);
                r.bad(
                    line,
                    format!("start `{raw}` is not RFC 3339 (2026-11-23T00:00:00+06:00)"),
                );
                default_start()
            }
        },
        (None, None) => default_start(),
    };

    if !r.problems.is_empty() {
        return Err(ScenarioError {
            problems: r.problems,
        });
    }
    let mut policy = policy;
    if !policy_overrides.contains_key("CLUSTER_TIMEZONE") {
        // The cluster's time zone is the one the scenario's times are written in.
        policy.cluster_utc_offset_secs = start.offset().local_minus_utc();
    }
    Ok(Scenario {
        name: head.name,
        description: head.description,
        start,
        trace: trace.expect("no problems means the trace parsed"),
        interpolation: head.interpolation,
        simulation,
        node,
        initial_nodes,
        initial_nodes_managed,
        workload,
        pricing,
        market,
        baseline_nodes,
        cluster_autoscaler,
        karpenter,
        policy,
        policy_overrides,
    })
}

/// Second 0 of traces in seconds without a `start`: Monday 2026-11-23 00:00 in Asia/Dhaka.
pub fn default_start() -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339("2026-11-23T00:00:00+06:00").expect("a valid constant")
}
