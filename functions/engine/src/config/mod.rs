//! SmartScale's scaling policy: the thresholds, windows, bounds, cooldowns, deadlines and worker
//! sizing that [`crate::engine::decide`] and [`crate::lifecycle`] read, read once through a lookup
//! (the environment at cold start, a scenario file in the simulator) and validated there.
//!
//! Variable names and defaults follow the specification's table (`MIN_NODES`,
//! `SCALE_UP_THRESHOLD_CPU`, `COOLDOWN_SCALE_UP`, …; see docs/CONFIGURATION.md). Durations accept
//! `300`, `300s`, `5m`, `1h`; percentages `70` or `70%`. The wiring (ARNs, URLs, subnets, client
//! timeouts) is read by `smartscale_core::config` with the same [`Reader`].

pub mod units;

use crate::error::{ConfigProblem, Error};

type Result<T, E = Error> = std::result::Result<T, E>;
use units::*;

/// Every parameter the pure engine decides with. Field names carry their unit; each default is
/// in `functions/engine/defaults.json` ([`default`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    /// `CLUSTER_ID`: the DynamoDB partition key and the `Cluster` tag value.
    pub cluster_id: String,
    /// `WORKER_SUBNET_IDS`: comma-separated subnets, one per zone, that workers launch into; with
    /// more than one, scale-down keeps a worker in every zone.
    pub worker_subnet_ids: Vec<String>,
    /// `WORKER_INSTANCE_TYPES`: the instance types workers launch as, in preference order (every
    /// one compatible with the launch template); the first is the one `WORKER_ALLOCATABLE_*`
    /// describe.
    pub worker_instance_types: Vec<String>,
    /// `BURST_INSTANCE_TYPES`: larger types a scale-up may launch instead when `MAX_NODES` would
    /// leave pods Pending (empty: never); removed first when the load falls. See
    /// [`crate::engine::capacity::burst`].
    pub burst_instance_types: Vec<String>,
    /// `ON_DEMAND_BASE_CAPACITY`: the first this many workers are on-demand. When unset:
    /// `MIN_NODES`, or 0 with `USE_SPOT=true`. See [`crate::engine::capacity`].
    pub on_demand_base_capacity: u32,
    /// `ON_DEMAND_PERCENTAGE_ABOVE_BASE`: the share of workers above the base that are on-demand,
    /// the rest Spot; 100 (the default) buys no Spot; when unset and `USE_SPOT=true`, 0 (the
    /// all-Spot shorthand, on-demand only as the fallback).
    pub on_demand_percentage_above_base_pct: f64,
    /// `BASELINE_NODES`: the fixed fleet SmartScale is measured against, this many on-demand
    /// workers of the first `WORKER_INSTANCE_TYPES` type (the cost metric's `SavingsVsBaseline`,
    /// docs/METRICS.md "Cost"). Not read by `decide`.
    pub baseline_nodes: u32,
    /// `WORKER_ALLOCATABLE_CPU`: allocatable CPU of one worker in millicores, used when no Ready
    /// worker reports it.
    pub worker_allocatable_cpu_millis: u64,
    /// `WORKER_ALLOCATABLE_MEMORY`: allocatable memory of one worker in bytes.
    pub worker_allocatable_memory_bytes: u64,

    /// `MIN_NODES`: never fewer workers than this.
    pub min_nodes: u32,
    /// `MAX_NODES`: never more workers than this.
    pub max_nodes: u32,
    /// `SCALE_UP_MAX_INCREMENT`: the most workers one scale-up adds. Its default is above the
    /// specification's 2 because scale-ups are sized by the Pending pods' requests and the load
    /// (docs/SCALING_ALGORITHM.md).
    pub scale_up_max_increment: u32,
    /// `SCALE_DOWN_PROJECTED_CPU`: scale-down's CPU condition also holds when the highest CPU over
    /// the scale-down window, spread over one Ready worker fewer, stays below this. 0 turns it off
    /// (the specification's `SCALE_DOWN_THRESHOLD_CPU` alone). Must be below
    /// `SCALE_UP_THRESHOLD_CPU`. When unset: 15 points under the CPU a scale-up fires at alone
    /// (`SCALE_UP_CPU_ALONE_THRESHOLD`, or `SCALE_UP_THRESHOLD_CPU` when that is 0), and at least 5
    /// under `SCALE_UP_THRESHOLD_CPU`. An addition
    /// to the specification, see docs/SCALING_ALGORITHM.md.
    pub scale_down_projected_cpu_pct: f64,
    /// `COOLDOWN_SCALE_UP_PENDING`: after a scale-up, another scale-up for pods still Pending over
    /// the whole `PENDING_PODS_WINDOW` waits only this long (and at least that window, so the pods
    /// were Pending after the last scale-up's workers were Ready) instead of `COOLDOWN_SCALE_UP`.
    /// Must not exceed `COOLDOWN_SCALE_UP`. An addition to the specification, see
    /// docs/SCALING_ALGORITHM.md.
    pub scale_up_cooldown_pending_secs: u64,
    /// `COOLDOWN_SCALE_DOWN_PENDING`: after a scale-down, a scale-up for pods Pending over the
    /// whole `PENDING_PODS_WINDOW` waits only this long (and at least that window, so the pods
    /// were Pending after the drain had re-placed its pods) instead of `COOLDOWN_SCALE_DOWN`; a
    /// further scale-down still waits `COOLDOWN_SCALE_DOWN`. Must not exceed
    /// `COOLDOWN_SCALE_DOWN` (equal to it gives the specification's behaviour). An addition to the
    /// specification, see docs/SCALING_ALGORITHM.md.
    pub scale_down_cooldown_pending_secs: u64,

    /// `SCALE_UP_THRESHOLD_CPU`: scale up when CPU stays above this for the scale-up window.
    pub scale_up_threshold_cpu_pct: f64,
    /// `SCALE_UP_URGENT_THRESHOLD_CPU`: CPU this high adds the maximum increment.
    pub scale_up_urgent_threshold_cpu_pct: f64,
    /// `SCALE_DOWN_THRESHOLD_CPU`: scale down only when CPU stays below this for the scale-down window.
    pub scale_down_threshold_cpu_pct: f64,
    /// `SCALE_UP_THRESHOLD_MEMORY`: scale up when memory is above this.
    pub scale_up_threshold_memory_pct: f64,
    /// `SCALE_DOWN_THRESHOLD_MEMORY`: scale down only when memory is below this.
    pub scale_down_threshold_memory_pct: f64,
    /// `QUEUE_METRIC_ENABLED`: the queue-depth rules apply (and its absence blocks scale-down).
    pub queue_metric_enabled: bool,
    /// `SCALE_UP_THRESHOLD_QUEUE`: scale up when queue depth is above this many messages.
    pub scale_up_threshold_queue_depth: f64,
    /// `SCALE_DOWN_THRESHOLD_QUEUE`: scale down only when queue depth stays below this.
    pub scale_down_threshold_queue_depth: f64,
    /// `SCALE_UP_THRESHOLD_LATENCY_P95`: scale up when p95 latency is above this.
    pub scale_up_threshold_latency_p95_secs: f64,
    /// `SCALE_UP_THRESHOLD_ERROR_RATE`: scale up when the 5xx rate stays above this for the error window.
    pub scale_up_threshold_error_rate_pct: f64,

    /// `SCALE_UP_WINDOW`: how long CPU must stay high.
    pub scale_up_window_secs: u64,
    /// `PENDING_PODS_WINDOW`: how long pods must stay Pending.
    pub pending_pods_window_secs: u64,
    /// `SCALE_DOWN_WINDOW`: how long CPU and queue must stay low.
    pub scale_down_window_secs: u64,
    /// `ERROR_RATE_WINDOW`: how long the error rate must stay high.
    pub error_rate_window_secs: u64,
    /// `METRICS_SAMPLE_INTERVAL`: Prometheus scrape and rule interval; windows need
    /// `window / interval` samples to count as met.
    pub metrics_sample_interval_secs: u64,
    /// `METRICS_MAX_AGE`: samples older than this are stale.
    pub metrics_max_age_secs: u64,
    /// `METRICS_CACHE_MAX_AGE`: cached metrics older than this are not used even for scale-up.
    pub metrics_cache_max_age_secs: u64,

    /// `COOLDOWN_SCALE_UP`: no action this long after a scale-up.
    pub scale_up_cooldown_secs: u64,
    /// `COOLDOWN_SCALE_DOWN`: no action this long after a scale-down.
    pub scale_down_cooldown_secs: u64,
    /// `DRAIN_TIMEOUT`: a drain not finished by then is aborted and the node uncordoned.
    pub drain_timeout_secs: u64,
    /// `SPOT_DRAIN_TIMEOUT`: drain deadline after a Spot interruption warning.
    pub spot_drain_timeout_secs: u64,
    /// `JOIN_TIMEOUT`: a launched worker not Ready by then is terminated.
    pub join_timeout_secs: u64,
    /// `CAPACITY_ALERT_INTERVAL`: the "at maximum capacity" alert is sent at most once per this
    /// interval while scale-up stays wanted at `MAX_NODES`.
    pub capacity_alert_interval_secs: u64,

    /// `NOT_READY_MAX_PERCENT`: more NotReady nodes than this share of all workers stops scale-down.
    pub not_ready_max_pct: f64,
    /// `NOT_READY_MAX_COUNT`: this many or more NotReady workers stops scale-down.
    pub not_ready_max_count: u32,

    // Forecast, floors and the CPU headroom (docs/SCALING_ALGORITHM.md, "Departures").
    /// `SCALE_UP_CPU_ALONE_THRESHOLD`: CPU above `SCALE_UP_THRESHOLD_CPU` fires a scale-up on its
    /// own only above this; between the two it also needs a Pending pod or a forecast rise. 0
    /// turns it off (the specification's CPU rule). Must be 0 or at least `SCALE_UP_THRESHOLD_CPU`.
    pub scale_up_cpu_alone_pct: f64,
    /// `CLUSTER_TIMEZONE`: the offset from UTC, seconds east, that floors and the forecast's days
    /// are read in (`UTC`, `+06:00`).
    pub cluster_utc_offset_secs: i32,
    /// `SCHEDULED_FLOORS`: windows of the week with a minimum of Ready workers
    /// ([`crate::engine::floors`]).
    pub scheduled_floors: Vec<crate::engine::floors::Floor>,
    /// `FLOOR_LEAD_TIME`: how far ahead of a floor (or a forecast rise) workers are launched when
    /// no boot-to-Ready time has been measured yet.
    pub floor_lead_secs: u64,
    /// `FORECAST_MODE`: `off`, `forecast-only` or `on` ([`crate::engine::forecast`]).
    pub forecast_mode: crate::engine::forecast::ForecastMode,
    /// `FORECAST_HORIZON`: how far ahead the forecast raises the floor.
    pub forecast_horizon_secs: u64,
    /// `FORECAST_SCALE_DOWN_GUARD`: no scale-down when the forecast needs the current workers at
    /// any time this far ahead.
    pub forecast_guard_secs: u64,
}

impl Default for Policy {
    fn default() -> Self {
        Policy::from_lookup(|_| None).expect("the defaults are valid")
    }
}

impl Policy {
    /// Reads variables through `lookup` (a scenario file, a test table), applies the defaults to
    /// what is absent or empty, and validates the result.
    ///
    /// Errors: [`Error::Config`] listing every bad variable with what is wrong.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let mut r = Reader::new(&lookup);
        let policy = Policy::read(&mut r);
        let problems = r.into_problems();
        if problems.is_empty() {
            Ok(policy)
        } else {
            Err(Error::Config { problems })
        }
    }

    /// Reads the policy's variables through `r`, recording what is malformed or inconsistent in
    /// `r` (so a caller reading more variables reports every problem together).
    pub fn read(r: &mut Reader<'_>) -> Self {
        let mut cfg = Policy {
            cluster_id: r.string("CLUSTER_ID"),
            worker_subnet_ids: r.list("WORKER_SUBNET_IDS"),
            worker_instance_types: r.list("WORKER_INSTANCE_TYPES"),
            burst_instance_types: r.list("BURST_INSTANCE_TYPES"),
            // Unset: MIN_NODES (0 with USE_SPOT), filled in below.
            on_demand_base_capacity: r
                .parse_optional("ON_DEMAND_BASE_CAPACITY", parse_u32)
                .unwrap_or(u32::MAX),
            // Unset: the default (100), or 0 with USE_SPOT.
            on_demand_percentage_above_base_pct: r
                .parse_optional("ON_DEMAND_PERCENTAGE_ABOVE_BASE", parse_percent)
                .unwrap_or(f64::NAN),
            baseline_nodes: r.parse("BASELINE_NODES", parse_u32),
            worker_allocatable_cpu_millis: r.parse("WORKER_ALLOCATABLE_CPU", parse_cpu_millis),
            worker_allocatable_memory_bytes: r
                .parse("WORKER_ALLOCATABLE_MEMORY", parse_memory_bytes),
            min_nodes: r.parse("MIN_NODES", parse_u32),
            max_nodes: r.parse("MAX_NODES", parse_u32),
            scale_up_max_increment: r.parse("SCALE_UP_MAX_INCREMENT", parse_u32),
            // Unset: 15 points under SCALE_UP_THRESHOLD_CPU, filled in below.
            scale_down_projected_cpu_pct: r
                .parse_optional("SCALE_DOWN_PROJECTED_CPU", parse_percent)
                .unwrap_or(f64::NAN),
            scale_up_cooldown_pending_secs: r
                .parse("COOLDOWN_SCALE_UP_PENDING", parse_duration_secs),
            scale_down_cooldown_pending_secs: r
                .parse("COOLDOWN_SCALE_DOWN_PENDING", parse_duration_secs),
            scale_up_threshold_cpu_pct: r.parse("SCALE_UP_THRESHOLD_CPU", parse_percent),
            scale_up_urgent_threshold_cpu_pct: r
                .parse("SCALE_UP_URGENT_THRESHOLD_CPU", parse_percent),
            scale_down_threshold_cpu_pct: r.parse("SCALE_DOWN_THRESHOLD_CPU", parse_percent),
            scale_up_threshold_memory_pct: r.parse("SCALE_UP_THRESHOLD_MEMORY", parse_percent),
            scale_down_threshold_memory_pct: r.parse("SCALE_DOWN_THRESHOLD_MEMORY", parse_percent),
            queue_metric_enabled: r.parse("QUEUE_METRIC_ENABLED", parse_bool),
            scale_up_threshold_queue_depth: r.parse("SCALE_UP_THRESHOLD_QUEUE", parse_non_negative),
            scale_down_threshold_queue_depth: r
                .parse("SCALE_DOWN_THRESHOLD_QUEUE", parse_non_negative),
            scale_up_threshold_latency_p95_secs: r
                .parse("SCALE_UP_THRESHOLD_LATENCY_P95", parse_duration_f64),
            scale_up_threshold_error_rate_pct: r
                .parse("SCALE_UP_THRESHOLD_ERROR_RATE", parse_percent),
            scale_up_window_secs: r.parse("SCALE_UP_WINDOW", parse_duration_secs),
            pending_pods_window_secs: r.parse("PENDING_PODS_WINDOW", parse_duration_secs),
            scale_down_window_secs: r.parse("SCALE_DOWN_WINDOW", parse_duration_secs),
            error_rate_window_secs: r.parse("ERROR_RATE_WINDOW", parse_duration_secs),
            metrics_sample_interval_secs: r.parse("METRICS_SAMPLE_INTERVAL", parse_duration_secs),
            metrics_max_age_secs: r.parse("METRICS_MAX_AGE", parse_duration_secs),
            metrics_cache_max_age_secs: r.parse("METRICS_CACHE_MAX_AGE", parse_duration_secs),
            scale_up_cooldown_secs: r.parse("COOLDOWN_SCALE_UP", parse_duration_secs),
            scale_down_cooldown_secs: r.parse("COOLDOWN_SCALE_DOWN", parse_duration_secs),
            drain_timeout_secs: r.parse("DRAIN_TIMEOUT", parse_duration_secs),
            spot_drain_timeout_secs: r.parse("SPOT_DRAIN_TIMEOUT", parse_duration_secs),
            join_timeout_secs: r.parse("JOIN_TIMEOUT", parse_duration_secs),
            capacity_alert_interval_secs: r.parse("CAPACITY_ALERT_INTERVAL", parse_duration_secs),
            not_ready_max_pct: r.parse("NOT_READY_MAX_PERCENT", parse_percent),
            not_ready_max_count: r.parse("NOT_READY_MAX_COUNT", parse_u32),

            scale_up_cpu_alone_pct: r.parse("SCALE_UP_CPU_ALONE_THRESHOLD", parse_percent),
            cluster_utc_offset_secs: r
                .parse("CLUSTER_TIMEZONE", crate::engine::floors::parse_utc_offset),
            scheduled_floors: r.parse("SCHEDULED_FLOORS", crate::engine::floors::parse_floors),
            floor_lead_secs: r.parse("FLOOR_LEAD_TIME", parse_duration_secs),
            forecast_mode: r.parse(
                "FORECAST_MODE",
                crate::engine::forecast::ForecastMode::parse,
            ),
            forecast_horizon_secs: r.parse("FORECAST_HORIZON", parse_duration_secs),
            forecast_guard_secs: r.parse("FORECAST_SCALE_DOWN_GUARD", parse_duration_secs),
        };
        // USE_SPOT=true is the all-Spot shorthand (Spot first, on-demand only as the fallback):
        // it sets the unset capacity settings to base 0 and 0 % on-demand above it.
        let use_spot = r.parse("USE_SPOT", parse_bool);
        if cfg.on_demand_base_capacity == u32::MAX {
            cfg.on_demand_base_capacity = if use_spot { 0 } else { cfg.min_nodes };
        }
        if cfg.on_demand_percentage_above_base_pct.is_nan() {
            cfg.on_demand_percentage_above_base_pct = if use_spot {
                0.0
            } else {
                r.parse("ON_DEMAND_PERCENTAGE_ABOVE_BASE", parse_percent)
            };
        }
        if cfg.scale_down_projected_cpu_pct.is_nan() {
            let up = cfg
                .scale_up_threshold_cpu_pct
                .max(cfg.scale_up_cpu_alone_pct);
            // Never at or above the scale-up threshold, which validation would refuse.
            cfg.scale_down_projected_cpu_pct = (up - 15.0)
                .min(cfg.scale_up_threshold_cpu_pct - 5.0)
                .max(0.0);
        }
        // SCALE_DOWN_INCREMENT is accepted for the specification's sake, but a scale-down removes
        // exactly one node, so any other value is refused rather than kept.
        let down_increment = r.parse("SCALE_DOWN_INCREMENT", parse_u32);
        if down_increment != 1 {
            r.problem(
                "SCALE_DOWN_INCREMENT",
                format!("{down_increment} is not supported: SmartScale removes exactly 1 node per operation"),
            );
        }
        r.problems.extend(cfg.consistency_problems());
        cfg
    }

    /// Samples a window of `window_secs` must hold to count as met (`window / sample interval`).
    pub fn required_samples(&self, window_secs: u64) -> u32 {
        (window_secs / self.metrics_sample_interval_secs.max(1)) as u32
    }

    fn consistency_problems(&self) -> Vec<ConfigProblem> {
        let mut p = Vec::new();
        let mut bad = |variable: &str, problem: String| {
            p.push(ConfigProblem {
                variable: variable.into(),
                problem,
            })
        };
        if self.min_nodes < 1 {
            bad(
                "MIN_NODES",
                "must be at least 1 (2 keeps the cluster highly available)".into(),
            );
        }
        if self.min_nodes > self.max_nodes {
            bad(
                "MIN_NODES",
                format!(
                    "{} is greater than MAX_NODES ({}): lower MIN_NODES or raise MAX_NODES",
                    self.min_nodes, self.max_nodes
                ),
            );
        }
        if self.worker_instance_types.is_empty() {
            bad(
                "WORKER_INSTANCE_TYPES",
                "must name at least one instance type, for example t3.small".into(),
            );
        }
        if let Some(t) = self
            .burst_instance_types
            .iter()
            .find(|t| self.worker_instance_types.contains(t))
        {
            bad(
                "BURST_INSTANCE_TYPES",
                format!("{t} is also in WORKER_INSTANCE_TYPES: a burst type must be a larger one"),
            );
        }
        if self.on_demand_base_capacity > self.max_nodes {
            bad(
                "ON_DEMAND_BASE_CAPACITY",
                format!(
                    "{} is greater than MAX_NODES ({})",
                    self.on_demand_base_capacity, self.max_nodes
                ),
            );
        }
        if self.baseline_nodes < 1 {
            bad(
                "BASELINE_NODES",
                "must be at least 1: the savings are measured against that many fixed workers"
                    .into(),
            );
        }
        if self.scale_up_max_increment < 1 {
            bad("SCALE_UP_MAX_INCREMENT", "must be at least 1".into());
        }
        let pairs = [
            (
                "SCALE_DOWN_THRESHOLD_CPU",
                self.scale_down_threshold_cpu_pct,
                "SCALE_UP_THRESHOLD_CPU",
                self.scale_up_threshold_cpu_pct,
            ),
            (
                "SCALE_DOWN_THRESHOLD_MEMORY",
                self.scale_down_threshold_memory_pct,
                "SCALE_UP_THRESHOLD_MEMORY",
                self.scale_up_threshold_memory_pct,
            ),
            (
                "SCALE_DOWN_THRESHOLD_QUEUE",
                self.scale_down_threshold_queue_depth,
                "SCALE_UP_THRESHOLD_QUEUE",
                self.scale_up_threshold_queue_depth,
            ),
        ];
        for (down_var, down, up_var, up) in pairs {
            if down >= up {
                bad(
                    down_var,
                    format!("{down} must be below {up_var} ({up}), or the cluster would flap"),
                );
            }
        }
        if self.scale_down_projected_cpu_pct >= self.scale_up_threshold_cpu_pct {
            bad(
                "SCALE_DOWN_PROJECTED_CPU",
                format!(
                    "{} must be below SCALE_UP_THRESHOLD_CPU ({}), or a removal would trigger a scale-up (0 turns it off)",
                    self.scale_down_projected_cpu_pct, self.scale_up_threshold_cpu_pct
                ),
            );
        }
        let shortened = [
            (
                "COOLDOWN_SCALE_UP_PENDING",
                self.scale_up_cooldown_pending_secs,
                "COOLDOWN_SCALE_UP",
                self.scale_up_cooldown_secs,
            ),
            (
                "COOLDOWN_SCALE_DOWN_PENDING",
                self.scale_down_cooldown_pending_secs,
                "COOLDOWN_SCALE_DOWN",
                self.scale_down_cooldown_secs,
            ),
        ];
        for (pending_var, pending, cooldown_var, cooldown) in shortened {
            if pending > cooldown {
                bad(
                    pending_var,
                    format!("{pending}s is longer than {cooldown_var} ({cooldown}s)"),
                );
            }
        }
        if self.scale_up_urgent_threshold_cpu_pct < self.scale_up_threshold_cpu_pct {
            bad(
                "SCALE_UP_URGENT_THRESHOLD_CPU",
                format!(
                    "{} is below SCALE_UP_THRESHOLD_CPU ({})",
                    self.scale_up_urgent_threshold_cpu_pct, self.scale_up_threshold_cpu_pct
                ),
            );
        }
        if self.scale_up_cpu_alone_pct > 0.0
            && self.scale_up_cpu_alone_pct < self.scale_up_threshold_cpu_pct
        {
            bad(
                "SCALE_UP_CPU_ALONE_THRESHOLD",
                format!(
                    "{} is below SCALE_UP_THRESHOLD_CPU ({}): write 0 to turn it off",
                    self.scale_up_cpu_alone_pct, self.scale_up_threshold_cpu_pct
                ),
            );
        }
        for f in &self.scheduled_floors {
            if f.min > self.max_nodes {
                bad(
                    "SCHEDULED_FLOORS",
                    format!(
                        "'{f}' asks for {} workers, more than MAX_NODES ({})",
                        f.min, self.max_nodes
                    ),
                );
            }
        }
        if self.metrics_sample_interval_secs == 0 {
            bad("METRICS_SAMPLE_INTERVAL", "must be at least 1s".into());
        }
        for (var, window) in [
            ("SCALE_UP_WINDOW", self.scale_up_window_secs),
            ("PENDING_PODS_WINDOW", self.pending_pods_window_secs),
            ("SCALE_DOWN_WINDOW", self.scale_down_window_secs),
            ("ERROR_RATE_WINDOW", self.error_rate_window_secs),
        ] {
            if window < self.metrics_sample_interval_secs {
                bad(var, format!("{window}s is shorter than METRICS_SAMPLE_INTERVAL ({}s): a window needs at least one sample", self.metrics_sample_interval_secs));
            }
        }
        for (var, secs) in [
            ("DRAIN_TIMEOUT", self.drain_timeout_secs),
            ("JOIN_TIMEOUT", self.join_timeout_secs),
            ("SPOT_DRAIN_TIMEOUT", self.spot_drain_timeout_secs),
            ("CAPACITY_ALERT_INTERVAL", self.capacity_alert_interval_secs),
        ] {
            if secs == 0 {
                bad(var, "must be longer than 0s".into());
            }
        }
        p
    }
}

/// Reads variables and records every problem instead of stopping at the first. A blank value
/// counts as absent; each method returns its default for an absent or malformed value.
pub struct Reader<'a> {
    lookup: &'a dyn Fn(&str) -> Option<String>,
    problems: Vec<ConfigProblem>,
}

impl<'a> Reader<'a> {
    /// A reader asking `lookup` for each variable.
    pub fn new(lookup: &'a dyn Fn(&str) -> Option<String>) -> Self {
        Reader {
            lookup,
            problems: Vec::new(),
        }
    }

    /// Records a problem found by the caller (a consistency rule across variables).
    pub fn problem(&mut self, variable: &str, problem: String) {
        self.problems.push(ConfigProblem {
            variable: variable.into(),
            problem,
        });
    }

    /// Every problem recorded so far.
    pub fn into_problems(self) -> Vec<ConfigProblem> {
        self.problems
    }

    fn get(&self, name: &str) -> Option<String> {
        (self.lookup)(name).filter(|v| !v.trim().is_empty())
    }

    /// Reads `name` as a trimmed string, its [`default`] when absent.
    pub fn string(&mut self, name: &str) -> String {
        self.get(name)
            .map(|v| v.trim().to_owned())
            .unwrap_or_else(|| default(name).to_owned())
    }

    /// Reads `name` as an optional trimmed string (no default).
    pub fn optional(&mut self, name: &str) -> Option<String> {
        self.get(name).map(|v| v.trim().to_owned())
    }

    /// Reads `name` as a comma-separated list, its [`default`] when absent.
    pub fn list(&mut self, name: &str) -> Vec<String> {
        parse_list(&self.get(name).unwrap_or_else(|| default(name).to_owned()))
    }

    /// Reads `name` as an http(s) URL without a trailing slash (no default).
    pub fn url(&mut self, name: &str) -> Option<String> {
        let v = self.optional(name)?;
        match url::Url::parse(&v) {
            Ok(u) if u.scheme() == "http" || u.scheme() == "https" => {
                Some(v.trim_end_matches('/').to_owned())
            }
            _ => {
                self.problems.push(ConfigProblem {
                    variable: name.into(),
                    problem: format!(
                        "'{v}' is not an http(s) URL: write for example http://10.0.1.10:30090"
                    ),
                });
                None
            }
        }
    }

    /// Reads `name` as a `Key:Value` pair, its [`default`] when absent or malformed.
    pub fn tag(&mut self, name: &str) -> (String, String) {
        let split = |v: &str| match v.split_once(':') {
            Some((k, val)) if !k.trim().is_empty() && !val.trim().is_empty() => {
                Some((k.trim().to_owned(), val.trim().to_owned()))
            }
            _ => None,
        };
        let fallback = || split(default(name)).expect("defaults.json holds a Key:Value tag");
        match self.get(name) {
            None => fallback(),
            Some(v) => split(&v).unwrap_or_else(|| {
                self.problems.push(ConfigProblem {
                    variable: name.into(),
                    problem: format!("'{v}' is not Key:Value: write for example Role:k3s-master"),
                });
                fallback()
            }),
        }
    }

    /// Reads `name` with `parse` (one of [`units`]), recording its error; its [`default`] (read
    /// by the same parser) when absent or malformed.
    pub fn parse<T>(&mut self, name: &str, parse: fn(&str) -> Result<T, String>) -> T {
        let fallback =
            || parse(default(name)).unwrap_or_else(|e| panic!("defaults.json: {name}: {e}"));
        match self.get(name) {
            None => fallback(),
            Some(raw) => parse(&raw).unwrap_or_else(|problem| {
                self.problems.push(ConfigProblem {
                    variable: name.into(),
                    problem,
                });
                fallback()
            }),
        }
    }

    /// Reads `name` with `parse`, recording its error; `None` when absent or malformed (for a
    /// variable without a default, or whose default is derived from others).
    pub fn parse_optional<T>(
        &mut self,
        name: &str,
        parse: fn(&str) -> Result<T, String>,
    ) -> Option<T> {
        let raw = self.get(name)?;
        parse(&raw)
            .map_err(|problem| {
                self.problems.push(ConfigProblem {
                    variable: name.into(),
                    problem,
                })
            })
            .ok()
    }
}

/// `defaults.json`: the one source of every configuration default, as the environment would hold
/// it. The CDK app reads the same file (`cdk/lib/config.ts`).
pub const DEFAULTS_JSON: &str = include_str!("../../defaults.json");

/// The default of variable `name`, as the environment would hold it.
///
/// Panics when `defaults.json` is malformed or has no entry for `name`: both are programming
/// errors that [`Policy::default`] and the configuration tests catch.
pub fn default(name: &str) -> &'static str {
    static DEFAULTS: std::sync::OnceLock<std::collections::BTreeMap<String, String>> =
        std::sync::OnceLock::new();
    DEFAULTS
        .get_or_init(|| {
            serde_json::from_str(DEFAULTS_JSON).expect("defaults.json is a JSON object of strings")
        })
        .get(name)
        .unwrap_or_else(|| panic!("defaults.json has no default for {name}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(vars: &[(&str, &str)]) -> Result<Policy> {
        let map: std::collections::BTreeMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Policy::from_lookup(|k| map.get(k).cloned())
    }

    /// The capacity variables: defaults (no Spot; the base follows `MIN_NODES`), a mix, and every
    /// refusal naming its variable.
    #[test]
    fn capacity_variables() {
        let d = Policy::default();
        assert_eq!(
            (
                d.on_demand_base_capacity,
                d.on_demand_percentage_above_base_pct,
                d.worker_instance_types.clone(),
                d.burst_instance_types.len()
            ),
            (2, 100.0, vec!["t3.small".to_string()], 0)
        );
        assert_eq!(
            read(&[("MIN_NODES", "3")]).unwrap().on_demand_base_capacity,
            3
        );
        let all_spot = |vars: &[(&str, &str)]| {
            let p = read(vars).unwrap();
            (
                p.on_demand_base_capacity,
                p.on_demand_percentage_above_base_pct,
            )
        };
        assert_eq!(
            all_spot(&[("USE_SPOT", "true")]),
            (0, 0.0),
            "USE_SPOT=true is the all-Spot shorthand"
        );
        assert_eq!(
            all_spot(&[
                ("USE_SPOT", "true"),
                ("ON_DEMAND_BASE_CAPACITY", "1"),
                ("ON_DEMAND_PERCENTAGE_ABOVE_BASE", "40"),
            ]),
            (1, 40.0),
            "the capacity settings win over the shorthand"
        );
        let mix = read(&[
            ("WORKER_INSTANCE_TYPES", "t3.small, t3a.small"),
            ("ON_DEMAND_BASE_CAPACITY", "0"),
            ("ON_DEMAND_PERCENTAGE_ABOVE_BASE", "40%"),
            ("BURST_INSTANCE_TYPES", "t3.xlarge"),
        ])
        .unwrap();
        assert_eq!(mix.worker_instance_types, ["t3.small", "t3a.small"]);
        assert_eq!(
            (
                mix.on_demand_base_capacity,
                mix.on_demand_percentage_above_base_pct
            ),
            (0, 40.0)
        );
        assert_eq!(mix.burst_instance_types, ["t3.xlarge"]);
        assert_eq!(
            Policy::default().baseline_nodes,
            5,
            "TechFlow's fixed fleet"
        );
        assert_eq!(read(&[("BASELINE_NODES", "3")]).unwrap().baseline_nodes, 3);
        struct Case {
            name: &'static str,
            vars: &'static [(&'static str, &'static str)],
            variable: &'static str,
        }
        let cases = [
            Case {
                name: "percentage above 100",
                vars: &[("ON_DEMAND_PERCENTAGE_ABOVE_BASE", "140")],
                variable: "ON_DEMAND_PERCENTAGE_ABOVE_BASE",
            },
            Case {
                name: "base above the maximum",
                vars: &[("ON_DEMAND_BASE_CAPACITY", "11")],
                variable: "ON_DEMAND_BASE_CAPACITY",
            },
            Case {
                name: "no instance type",
                vars: &[("WORKER_INSTANCE_TYPES", " , ")],
                variable: "WORKER_INSTANCE_TYPES",
            },
            Case {
                name: "a burst type that is a worker type",
                vars: &[("BURST_INSTANCE_TYPES", "t3.small")],
                variable: "BURST_INSTANCE_TYPES",
            },
            Case {
                name: "no baseline fleet",
                vars: &[("BASELINE_NODES", "0")],
                variable: "BASELINE_NODES",
            },
            Case {
                name: "a baseline that is not a count",
                vars: &[("BASELINE_NODES", "five")],
                variable: "BASELINE_NODES",
            },
        ];
        for c in cases {
            match read(c.vars) {
                Err(Error::Config { problems }) => assert!(
                    problems.iter().any(|p| p.variable == c.variable),
                    "case {}: {problems:?}",
                    c.name
                ),
                other => panic!("case {}: {other:?}", c.name),
            }
        }
    }
}
