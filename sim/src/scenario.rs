//! Scenario files: a TOML file with `[scenario]`, `[simulation]`, `[cluster]`, `[workload]`,
//! `[pricing]`, `[baseline]`, `[cluster_autoscaler]` and `[policy]` sections, pointing at a CSV
//! traffic trace (`time,rps`). Every model constant lives here; docs/SIMULATOR.md lists the keys.
//!
//! Every problem is reported with the file, the line and what is wrong; unknown keys are errors.

use crate::cluster::NodeShape;
use crate::workload::Workload;
use chrono::{DateTime, FixedOffset};
use smartscale_engine::config::units::{parse_cpu_millis, parse_duration_secs, parse_memory_bytes};
use smartscale_engine::model::Resources;
use smartscale_engine::{Error as CoreError, Policy as Config};
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::Path;
use toml::{Spanned, Value};

/// One problem in an input file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    /// The file (or `<built-in name>` for built-in scenarios).
    pub file: String,
    /// 1-based line, when the problem has one.
    pub line: Option<usize>,
    /// What is wrong and, where possible, what would be right.
    pub message: String,
}

impl fmt::Display for Located {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(l) => write!(f, "{}:{l}: {}", self.file, self.message),
            None => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

/// A scenario or trace that cannot be used: every problem found, in file order.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ScenarioError {
    /// At least one problem.
    pub problems: Vec<Located>,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lines: Vec<String> = self.problems.iter().map(ToString::to_string).collect();
        write!(f, "{}", lines.join("\n"))
    }
}

impl ScenarioError {
    fn one(file: &str, line: Option<usize>, message: impl Into<String>) -> Self {
        ScenarioError {
            problems: vec![Located {
                file: file.to_owned(),
                line,
                message: message.into(),
            }],
        }
    }
}

/// How traffic between two trace rows is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interpolation {
    /// Straight line between rows.
    Linear,
    /// A row's value holds until the next row.
    Step,
}

/// Traffic over time: `(seconds since the start, requests/s)`, strictly increasing in time.
#[derive(Debug, Clone, PartialEq)]
pub struct Trace {
    /// The rows. The first is at or after 0; traffic before it is the first row's.
    pub points: Vec<(f64, f64)>,
    /// The wall time of second 0, when the trace used RFC 3339 times.
    pub start: Option<DateTime<FixedOffset>>,
}

impl Trace {
    /// The run's length in seconds: the last row's time.
    pub fn duration_secs(&self) -> f64 {
        self.points.last().map_or(0.0, |p| p.0)
    }

    /// A reader for times that only move forward (constant time per call).
    pub fn cursor(&self, interpolation: Interpolation) -> TraceCursor<'_> {
        TraceCursor {
            trace: self,
            next: 0,
            interpolation,
        }
    }
}

/// Reads a [`Trace`] at non-decreasing times.
#[derive(Debug, Clone)]
pub struct TraceCursor<'a> {
    trace: &'a Trace,
    next: usize,
    interpolation: Interpolation,
}

impl TraceCursor<'_> {
    /// Requests/s at `t` seconds. Calls must not go back in time.
    pub fn rps_at(&mut self, t: f64) -> f64 {
        let p = &self.trace.points;
        while self.next < p.len() && p[self.next].0 <= t {
            self.next += 1;
        }
        match (self.next, self.interpolation) {
            (0, _) => p.first().map_or(0.0, |x| x.1),
            (n, _) if n == p.len() => p[n - 1].1,
            (n, Interpolation::Step) => p[n - 1].1,
            (n, Interpolation::Linear) => {
                let (t0, r0) = p[n - 1];
                let (t1, r1) = p[n];
                r0 + (r1 - r0) * (t - t0) / (t1 - t0)
            }
        }
    }
}

/// Parses a `time,rps` CSV. `file` names it in errors.
///
/// Errors: a missing or wrong header, a row without exactly two fields, a time that is neither
/// seconds ≥ 0 nor RFC 3339, a mix of the two, a time not after the previous row's, a negative or
/// non-numeric rate, or fewer than two rows (no time covered).
pub fn parse_trace(text: &str, file: &str) -> Result<Trace, ScenarioError> {
    let mut problems = Vec::new();
    let mut bad = |line: usize, message: String| {
        problems.push(Located {
            file: file.to_owned(),
            line: Some(line),
            message,
        })
    };
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l.trim()));
    let header = lines.find(|(_, l)| !l.is_empty());
    match header {
        None => {
            return Err(ScenarioError::one(
                file,
                None,
                "the trace is empty: it needs the header `time,rps` and at least two rows",
            ))
        }
        Some((n, h)) => {
            let cols: Vec<String> = h
                .split(',')
                .map(|c| c.trim().to_ascii_lowercase())
                .collect();
            if cols != ["time", "rps"] {
                bad(
                    n,
                    format!("bad header `{h}`: the first line must be `time,rps`"),
                );
                return Err(ScenarioError { problems });
            }
        }
    }
    let mut points: Vec<(f64, f64)> = Vec::new();
    let mut start: Option<DateTime<FixedOffset>> = None;
    let mut rfc3339: Option<bool> = None;
    let mut prev_line = 0;
    for (n, l) in lines {
        if l.is_empty() {
            continue;
        }
        let fields: Vec<&str> = l.split(',').map(str::trim).collect();
        if fields.len() != 2 {
            bad(
                n,
                format!("expected 2 fields (time,rps), found {}", fields.len()),
            );
            continue;
        }
        let (raw_t, raw_r) = (fields[0], fields[1]);
        let parsed_t = match raw_t.parse::<f64>() {
            Ok(s) if s.is_finite() && s >= 0.0 => Some((false, s)),
            Ok(s) => {
                bad(n, format!("time {s} must be seconds >= 0"));
                None
            }
            Err(_) => match DateTime::parse_from_rfc3339(raw_t) {
                Ok(at) => {
                    let s0 = *start.get_or_insert(at);
                    Some((true, (at - s0).num_milliseconds() as f64 / 1000.0))
                }
                Err(_) => {
                    bad(
                        n,
                        format!(
                            "time `{raw_t}` is neither seconds from the start nor RFC 3339 (2026-11-23T09:00:00+06:00)"
                        ),
                    );
                    None
                }
            },
        };
        let rps = match raw_r.parse::<f64>() {
            Ok(r) if r.is_finite() && r >= 0.0 => Some(r),
            Ok(r) => {
                bad(
                    n,
                    format!("rps {r} is negative or not finite: it must be >= 0"),
                );
                None
            }
            Err(_) => {
                bad(n, format!("rps `{raw_r}` is not a number"));
                None
            }
        };
        let (Some((is_rfc, t)), Some(rps)) = (parsed_t, rps) else {
            continue;
        };
        match rfc3339 {
            Some(kind) if kind != is_rfc => {
                bad(
                    n,
                    "mixes seconds and RFC 3339 times: use one kind for the whole trace".into(),
                );
                continue;
            }
            _ => rfc3339 = Some(is_rfc),
        }
        if let Some(&(pt, _)) = points.last() {
            if t <= pt {
                bad(
                    n,
                    format!(
                        "time `{raw_t}` is not after the previous row's (line {prev_line}): times must increase"
                    ),
                );
                continue;
            }
        }
        points.push((t, rps));
        prev_line = n;
    }
    if problems.is_empty() && (points.len() < 2 || points.last().map(|p| p.0) == Some(0.0)) {
        problems.push(Located {
            file: file.to_owned(),
            line: None,
            message: "the trace covers no time: it needs at least two rows".into(),
        });
    }
    if problems.is_empty() {
        Ok(Trace { points, start })
    } else {
        Err(ScenarioError { problems })
    }
}

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

type Entries = BTreeMap<Spanned<String>, Spanned<Value>>;

const SECTIONS: [&str; 9] = [
    "scenario",
    "simulation",
    "cluster",
    "workload",
    "pricing",
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
    let name = r.string(&s, "name", "scenario");
    let description = r.string(&s, "description", "");
    let trace_ref = r.opt_string(&s, "trace");
    let start_raw = r.opt_string(&s, "start");
    let interpolation = match r.string(&s, "interpolation", "linear").as_str() {
        "linear" => Interpolation::Linear,
        "step" => Interpolation::Step,
        other => {
            let line = r.line_of_key(&s, "interpolation", scenario_line);
            r.bad(
                line,
                format!("interpolation `{other}` is not linear or step"),
            );
            Interpolation::Linear
        }
    };
    r.finish(s, "scenario");

    let (_, m) = take("simulation");
    let d = Simulation::default();
    let simulation = Simulation {
        tick_secs: r.duration(&m, "tick", d.tick_secs),
        metrics_interval_secs: r.duration(&m, "metrics_interval", d.metrics_interval_secs),
        cpu_rate_window_secs: r.duration(&m, "cpu_rate_window", d.cpu_rate_window_secs),
        evaluation_interval_secs: r.duration(&m, "evaluation_interval", d.evaluation_interval_secs),
        drain_poll_secs: r.duration(&m, "drain_poll_interval", d.drain_poll_secs),
        overload_ratio: r.number(&m, "overload_ratio", d.overload_ratio),
    };
    let sim_lines: Vec<(&str, usize)> = [
        "tick",
        "metrics_interval",
        "cpu_rate_window",
        "evaluation_interval",
        "drain_poll_interval",
    ]
    .iter()
    .map(|k| (*k, r.line_of_key(&m, k, 1)))
    .collect();
    r.finish(m, "simulation");
    let tick = simulation.tick_secs;
    for (key, v) in [
        ("tick", simulation.tick_secs),
        ("metrics_interval", simulation.metrics_interval_secs),
        ("cpu_rate_window", simulation.cpu_rate_window_secs),
        ("evaluation_interval", simulation.evaluation_interval_secs),
        ("drain_poll_interval", simulation.drain_poll_secs),
    ] {
        let line = sim_lines.iter().find(|(k, _)| *k == key).map_or(1, |x| x.1);
        if v == 0 {
            r.bad(line, format!("{key} must be longer than 0s"));
        } else if tick > 0 && !v.is_multiple_of(tick) {
            r.bad(
                line,
                format!("{key} ({v}s) must be a multiple of tick ({tick}s)"),
            );
        }
    }

    let (_, c) = take("cluster");
    let dn = NodeShape::default();
    let node = NodeShape {
        instance_type: r.string(&c, "instance_type", &dn.instance_type),
        capacity: Resources {
            cpu_millis: r.cpu(&c, "node_cpu", dn.capacity.cpu_millis),
            memory_bytes: r.memory(&c, "node_memory", dn.capacity.memory_bytes),
        },
        system_reserved: Resources {
            cpu_millis: r.cpu(&c, "system_reserved_cpu", dn.system_reserved.cpu_millis),
            memory_bytes: r.memory(
                &c,
                "system_reserved_memory",
                dn.system_reserved.memory_bytes,
            ),
        },
        daemonset: Resources {
            cpu_millis: r.cpu(&c, "daemonset_cpu", dn.daemonset.cpu_millis),
            memory_bytes: r.memory(&c, "daemonset_memory", dn.daemonset.memory_bytes),
        },
        boot_delay_secs: r.duration(&c, "boot_delay", dn.boot_delay_secs),
        zones: r.string_list(&c, "zones", &dn.zones),
    };
    let initial_nodes = r.count(&c, "initial_nodes", 5);
    let initial_nodes_managed = r.boolean(&c, "initial_nodes_managed", true);
    r.finish(c, "cluster");

    let (workload_line, w) = take("workload");
    let dw = Workload::default();
    let workload = Workload {
        name: r.string(&w, "name", &dw.name),
        namespace: r.string(&w, "namespace", &dw.namespace),
        rps_per_replica: r.number(&w, "rps_per_replica", dw.rps_per_replica),
        min_replicas: r.count(&w, "min_replicas", dw.min_replicas),
        max_replicas: r.count(&w, "max_replicas", dw.max_replicas),
        scale_down_stabilization_secs: r.duration(
            &w,
            "scale_down_stabilization",
            dw.scale_down_stabilization_secs,
        ),
        requests: Resources {
            cpu_millis: r.cpu(&w, "cpu_request", dw.requests.cpu_millis),
            memory_bytes: r.memory(&w, "memory_request", dw.requests.memory_bytes),
        },
        cpu_base_millis: r.cpu(&w, "cpu_base", dw.cpu_base_millis as u64) as f64,
        cpu_millis_per_rps: r.number(&w, "cpu_per_rps", dw.cpu_millis_per_rps),
        memory_base_bytes: r.memory(&w, "memory_base", dw.memory_base_bytes),
        memory_bytes_per_rps: r.memory(&w, "memory_per_rps", dw.memory_bytes_per_rps as u64) as f64,
        termination_grace_secs: r.duration(&w, "termination_grace", dw.termination_grace_secs),
        pdb_max_unavailable: match r.count(
            &w,
            "pdb_max_unavailable",
            dw.pdb_max_unavailable.unwrap_or(0),
        ) {
            0 => None,
            n => Some(n),
        },
    };
    for (key, problem) in workload.problems() {
        let line = r.line_of_key(&w, key, workload_line);
        r.bad(line, format!("{key}: {problem}"));
    }
    r.finish(w, "workload");
    if workload.problems().is_empty() && node.pods_per_node(workload.requests) == 0 {
        r.bad(
            workload_line,
            "a pod's requests do not fit on an empty worker: lower cpu_request/memory_request or enlarge the node".into(),
        );
    }

    let (_, p) = take("pricing");
    let dp = Pricing::default();
    let pricing = Pricing {
        hourly_usd: r.number(&p, "hourly_usd", dp.hourly_usd),
        minimum_billed_secs: r.duration(&p, "minimum_billed", dp.minimum_billed_secs),
    };
    r.finish(p, "pricing");

    let (_, b) = take("baseline");
    let baseline_nodes = r.count(&b, "nodes", 5);
    r.finish(b, "baseline");

    let (policy_line, pol) = take("policy");
    let mut policy_overrides = BTreeMap::new();
    let mut policy_lines = BTreeMap::new();
    for (k, v) in &pol {
        let line = line_of(text, k.span().start);
        let value = match v.get_ref() {
            Value::String(s) => s.clone(),
            Value::Integer(i) => i.to_string(),
            Value::Float(f) => f.to_string(),
            Value::Boolean(b) => b.to_string(),
            other => {
                r.bad(
                    line,
                    format!(
                        "{}: a {} is not a setting: write a number, string or boolean",
                        k.get_ref(),
                        other.type_str()
                    ),
                );
                continue;
            }
        };
        policy_overrides.insert(k.get_ref().clone(), value);
        policy_lines.insert(k.get_ref().clone(), line);
    }
    let asked = RefCell::new(BTreeSet::new());
    let config = Config::from_lookup(|name| {
        asked.borrow_mut().insert(name.to_owned());
        policy_overrides.get(name).cloned()
    });
    let asked = asked.into_inner();
    for (k, line) in &policy_lines {
        if !asked.contains(k) {
            r.bad(
                *line,
                format!(
                    "unknown policy setting `{k}`: use SmartScale's environment variable names (MIN_NODES, SCALE_UP_THRESHOLD_CPU, COOLDOWN_SCALE_UP, …)"
                ),
            );
        }
    }
    let policy = match config {
        Ok(c) => c,
        Err(CoreError::Config { problems }) => {
            for pr in problems {
                let line = policy_lines
                    .get(&pr.variable)
                    .copied()
                    .unwrap_or(policy_line);
                r.bad(line, format!("[policy] {pr}"));
            }
            Config::default()
        }
        Err(other) => {
            r.bad(policy_line, format!("[policy] {other}"));
            Config::default()
        }
    };

    let (ca_line, a) = take("cluster_autoscaler");
    let cluster_autoscaler = CaSettings {
        scan_interval_secs: r.duration(&a, "scan_interval", 10),
        scale_down_utilization_threshold: r.number(&a, "scale_down_utilization_threshold", 0.5),
        scale_down_unneeded_secs: r.duration(&a, "scale_down_unneeded_time", 600),
        scale_down_delay_after_add_secs: r.duration(&a, "scale_down_delay_after_add", 600),
        scale_down_delay_after_delete_secs: r.duration(&a, "scale_down_delay_after_delete", 0),
        scale_down_delay_after_failure_secs: r.duration(&a, "scale_down_delay_after_failure", 180),
        max_pod_eviction_secs: r.duration(&a, "max_pod_eviction_time", 120),
        max_node_provision_secs: r.duration(&a, "max_node_provision_time", 900),
        unremovable_recheck_secs: r.duration(&a, "unremovable_node_recheck_timeout", 300),
        max_empty_bulk_delete: r.count(&a, "max_empty_bulk_delete", 10),
        ok_total_unready_count: r.count(&a, "ok_total_unready_count", 3),
        max_total_unready_pct: r.number(&a, "max_total_unready_percentage", 45.0),
        initial_backoff_secs: r.duration(&a, "initial_node_group_backoff", 300),
        max_backoff_secs: r.duration(&a, "max_node_group_backoff", 1800),
        backoff_reset_secs: r.duration(&a, "node_group_backoff_reset", 10_800),
        min_nodes: r.count(&a, "min_nodes", policy.min_nodes),
        max_nodes: r.count(&a, "max_nodes", policy.max_nodes),
    };
    let ca_scan_line = r.line_of_key(&a, "scan_interval", ca_line);
    r.finish(a, "cluster_autoscaler");
    if cluster_autoscaler.min_nodes > cluster_autoscaler.max_nodes {
        r.bad(
            ca_line,
            "[cluster_autoscaler] min_nodes is above max_nodes".into(),
        );
    }
    if tick > 0 && !cluster_autoscaler.scan_interval_secs.is_multiple_of(tick) {
        r.bad(
            ca_scan_line,
            format!("scan_interval must be a multiple of tick ({tick}s)"),
        );
    }

    let (karpenter_line, k) = take("karpenter");
    let karpenter = KarpenterSettings {
        batch_idle_secs: r.duration(&k, "batch_idle_duration", 1),
        batch_max_secs: r.duration(&k, "batch_max_duration", 10),
        disruption_poll_secs: r.duration(&k, "disruption_poll_interval", 10),
        consolidate_after_secs: r.duration(&k, "consolidate_after", 0),
        budget_nodes_pct: r.number(&k, "budget_nodes_percent", 10.0),
        validation_secs: r.duration(&k, "validation_delay", 15),
        max_multi_node_candidates: 100,
        min_nodes: r.count(&k, "min_nodes", 0),
        max_nodes: r.count(&k, "max_nodes", policy.max_nodes),
    };
    let poll_line = r.line_of_key(&k, "disruption_poll_interval", karpenter_line);
    r.finish(k, "karpenter");
    if karpenter.disruption_poll_secs == 0 {
        r.bad(
            poll_line,
            "disruption_poll_interval must be longer than 0s".into(),
        );
    }

    let mut trace = None;
    match &trace_ref {
        None => r.bad(
            scenario_line,
            "[scenario] needs `trace`: the path of a CSV with columns time,rps".into(),
        ),
        Some(t) => match read_trace(t).and_then(|(txt, name)| parse_trace(&txt, &name)) {
            Ok(tr) => trace = Some(tr),
            Err(e) => r.problems.extend(e.problems),
        },
    }
    let start = match (&start_raw, trace.as_ref().and_then(|t| t.start)) {
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
    Ok(Scenario {
        name,
        description,
        start,
        trace: trace.expect("no problems means the trace parsed"),
        interpolation,
        simulation,
        node,
        initial_nodes,
        initial_nodes_managed,
        workload,
        pricing,
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

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// The line of `key = …` inside `[section]`, by a plain scan (for problems found after parsing).
fn line_of_key_in(text: &str, section: &str, key: &str) -> Option<usize> {
    let mut current = String::new();
    for (i, l) in text.lines().enumerate() {
        let l = l.trim();
        if let Some(s) = l.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
            current = s.trim().to_owned();
        } else if current == section
            && l.split('=').next().map(str::trim) == Some(key)
            && l.contains('=')
        {
            return Some(i + 1);
        }
    }
    None
}

/// Reads typed values out of one section, recording problems with their lines.
struct Reader<'a> {
    text: &'a str,
    file: &'a str,
    problems: Vec<Located>,
    /// Keys the readers of the current section asked for.
    known: Vec<String>,
}

impl Reader<'_> {
    fn bad(&mut self, line: usize, message: String) {
        self.problems.push(Located {
            file: self.file.to_owned(),
            line: Some(line),
            message,
        });
    }

    fn line_of_key(&self, entries: &Entries, key: &str, fallback: usize) -> usize {
        entries
            .keys()
            .find(|k| k.get_ref() == key)
            .map_or(fallback, |k| line_of(self.text, k.span().start))
    }

    fn take(&mut self, entries: &Entries, key: &str) -> Option<(usize, Value)> {
        self.known.push(key.to_owned());
        let (_, v) = entries.iter().find(|(k, _)| k.get_ref() == key)?;
        Some((line_of(self.text, v.span().start), v.get_ref().clone()))
    }

    fn scalar_text(v: &Value) -> Option<String> {
        match v {
            Value::String(s) => Some(s.clone()),
            Value::Integer(i) => Some(i.to_string()),
            Value::Float(f) => Some(f.to_string()),
            _ => None,
        }
    }

    fn parsed<T>(
        &mut self,
        entries: &Entries,
        key: &str,
        default: T,
        what: &str,
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> T {
        let Some((line, v)) = self.take(entries, key) else {
            return default;
        };
        match Self::scalar_text(&v) {
            None => {
                self.bad(line, format!("{key}: a {} is not {what}", v.type_str()));
                default
            }
            Some(s) => parse(&s).unwrap_or_else(|e| {
                self.bad(line, format!("{key}: {e}"));
                default
            }),
        }
    }

    fn duration(&mut self, e: &Entries, key: &str, default: u64) -> u64 {
        self.parsed(e, key, default, "a duration (90s, 5m)", parse_duration_secs)
    }

    fn cpu(&mut self, e: &Entries, key: &str, default: u64) -> u64 {
        self.parsed(
            e,
            key,
            default,
            "a CPU quantity (200m, 2)",
            parse_cpu_millis,
        )
    }

    fn memory(&mut self, e: &Entries, key: &str, default: u64) -> u64 {
        self.parsed(
            e,
            key,
            default,
            "a memory quantity (256Mi)",
            parse_memory_bytes,
        )
    }

    fn number(&mut self, e: &Entries, key: &str, default: f64) -> f64 {
        self.parsed(e, key, default, "a number", |s| match s.parse::<f64>() {
            Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
            _ => Err(format!("`{s}` is not a number >= 0")),
        })
    }

    fn count(&mut self, e: &Entries, key: &str, default: u32) -> u32 {
        self.parsed(e, key, default, "a whole number", |s| {
            s.parse::<u32>()
                .map_err(|_| format!("`{s}` is not a whole number >= 0"))
        })
    }

    fn opt_string(&mut self, e: &Entries, key: &str) -> Option<String> {
        let (line, v) = self.take(e, key)?;
        match v {
            Value::String(s) => Some(s),
            other => {
                self.bad(
                    line,
                    format!("{key}: a {} is not a string", other.type_str()),
                );
                None
            }
        }
    }

    fn string(&mut self, e: &Entries, key: &str, default: &str) -> String {
        self.opt_string(e, key)
            .unwrap_or_else(|| default.to_owned())
    }

    fn boolean(&mut self, e: &Entries, key: &str, default: bool) -> bool {
        match self.take(e, key) {
            None => default,
            Some((_, Value::Boolean(b))) => b,
            Some((line, other)) => {
                self.bad(
                    line,
                    format!("{key}: a {} is not true or false", other.type_str()),
                );
                default
            }
        }
    }

    fn string_list(&mut self, e: &Entries, key: &str, default: &[String]) -> Vec<String> {
        match self.take(e, key) {
            None => default.to_vec(),
            Some((line, Value::Array(items))) => {
                let list: Option<Vec<String>> = items
                    .iter()
                    .map(|i| i.as_str().map(str::to_owned))
                    .collect();
                match list {
                    Some(l) if !l.is_empty() => l,
                    _ => {
                        self.bad(line, format!("{key}: must be a non-empty list of strings"));
                        default.to_vec()
                    }
                }
            }
            Some((line, other)) => {
                self.bad(
                    line,
                    format!("{key}: a {} is not a list of strings", other.type_str()),
                );
                default.to_vec()
            }
        }
    }

    /// Reports every key of `section` that no reader asked for, then starts a new section.
    fn finish(&mut self, entries: Entries, section: &str) {
        let known = std::mem::take(&mut self.known);
        for k in entries.keys() {
            if !known.contains(k.get_ref()) {
                let line = line_of(self.text, k.span().start);
                self.bad(
                    line,
                    format!(
                        "unknown key `{}` in [{section}]: expected one of {}",
                        k.get_ref(),
                        known.join(", ")
                    ),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trace_errors_name_the_line() {
        let cases = [
            ("empty file", "", "t.csv: the trace is empty"),
            ("bad header", "when,rps\n0,1\n", "t.csv:1: bad header"),
            (
                "three fields",
                "time,rps\n0,1,2\n60,1\n",
                "t.csv:2: expected 2 fields",
            ),
            (
                "time not a number",
                "time,rps\n0,1\nsoon,1\n",
                "t.csv:3: time `soon`",
            ),
            (
                "negative time",
                "time,rps\n-5,1\n60,1\n",
                "t.csv:2: time -5",
            ),
            (
                "equal times",
                "time,rps\n0,1\n0,2\n",
                "t.csv:3: time `0` is not after",
            ),
            ("negative rps", "time,rps\n0,1\n60,-1\n", "t.csv:3: rps -1"),
            (
                "rps not a number",
                "time,rps\n0,x\n60,1\n",
                "t.csv:2: rps `x`",
            ),
            (
                "mixed kinds",
                "time,rps\n2026-11-23T00:00:00Z,1\n60,1\n",
                "t.csv:3: mixes seconds and RFC 3339",
            ),
            (
                "one row",
                "time,rps\n0,1\n",
                "t.csv: the trace covers no time",
            ),
        ];
        for (name, text, want) in cases {
            let err = parse_trace(text, "t.csv").unwrap_err().to_string();
            assert!(err.contains(want), "case {name}: {err}");
        }
    }

    #[test]
    fn traces_read_in_seconds_or_rfc3339() {
        let t = parse_trace(
            "time,rps\n2026-11-23T09:00:00+06:00,100\n2026-11-23T09:02:00+06:00,500\n",
            "t.csv",
        )
        .unwrap();
        assert_eq!(t.points, [(0.0, 100.0), (120.0, 500.0)]);
        assert_eq!(t.start.unwrap().to_rfc3339(), "2026-11-23T09:00:00+06:00");
        let mut lin = t.cursor(Interpolation::Linear);
        assert_eq!(lin.rps_at(60.0), 300.0);
        assert_eq!(lin.rps_at(500.0), 500.0);
        let mut step = t.cursor(Interpolation::Step);
        assert_eq!(step.rps_at(119.0), 100.0);
        let s = parse_trace("time,rps\n0,1\n60,2\n", "t.csv").unwrap();
        assert_eq!(s.duration_secs(), 60.0);
    }
}
