//! SmartScale's configuration: every threshold, window, bound, timer, name and URL, read from the
//! environment once at cold start and validated there.
//!
//! Variable names follow seed 004 (`MIN_NODES`, `SCALE_UP_THRESHOLD_CPU`, `COOLDOWN_SCALE_UP`, …) and
//! default to its values. Durations accept `300`, `300s`, `5m`, `1h`; percentages `70` or `70%`.

pub mod units;

use crate::error::{ConfigProblem, Error, Result};
use units::*;

/// The longest any duration setting may be (30 days): far above every sensible cooldown, window
/// or timeout, and far below what `chrono` can add to a time without overflowing.
pub const MAX_DURATION_SECS: u64 = 30 * 86_400;

/// Every parameter SmartScale runs with. Field names carry their unit.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// `CLUSTER_ID`: the DynamoDB partition key and the `Cluster` tag value. Default `smartscale-prod`.
    pub cluster_id: String,
    /// `DYNAMODB_TABLE`: the state table. Default `k3s-autoscaler-state`.
    pub dynamodb_table: String,
    /// `PROMETHEUS_URL`: base URL of the Prometheus HTTP API; see [`Config::require_prometheus_url`].
    pub prometheus_url: Option<String>,
    /// `PROMETHEUS_AUTH_SECRET_ARN`: secret holding `{"username","password"}` for basic auth.
    pub prometheus_auth_secret_arn: Option<String>,
    /// `K8S_CREDENTIALS_SECRET_ARN`: secret holding `{"server","ca","token"}` for the K3s API.
    pub k8s_credentials_secret_arn: Option<String>,
    /// `K3S_TOKEN_SECRET_ARN`: the K3s join token secret (read by workers; checked by SmartScale).
    pub k3s_token_secret_arn: Option<String>,
    /// `SLACK_WEBHOOK_SECRET_ARN`: secret holding the Slack incoming-webhook URL.
    pub slack_webhook_secret_arn: Option<String>,
    /// `SNS_TOPIC_ARN`: topic for alerts.
    pub sns_topic_arn: Option<String>,
    /// `MASTER_NODE_TAG`: `Key:Value` of the tag that marks the K3s server. Default `Role:k3s-master`.
    pub master_node_tag: (String, String),
    /// `LAUNCH_TEMPLATE_ID`: the worker launch template.
    pub launch_template_id: Option<String>,
    /// `LAUNCH_TEMPLATE_VERSION`: version of the launch template. Default `$Latest`.
    pub launch_template_version: String,
    /// `WORKER_SUBNET_IDS`: comma-separated subnets, one per zone, that workers launch into.
    pub worker_subnet_ids: Vec<String>,
    /// `WORKER_INSTANCE_TYPES`: instance types tried in order. Default `t3.small`.
    pub worker_instance_types: Vec<String>,
    /// `USE_SPOT`: launch Spot first, falling back to on-demand. Default false.
    pub use_spot: bool,
    /// `WORKER_HOURLY_PRICE_USD`: on-demand price of one worker, for cost estimates. Default 0.0208 (t3.small, us-east-1).
    pub worker_hourly_price_usd: f64,
    /// `WORKER_ALLOCATABLE_CPU`: allocatable CPU of one worker in millicores, used when no Ready
    /// worker reports it. Default `1800m`.
    pub worker_allocatable_cpu_millis: u64,
    /// `WORKER_ALLOCATABLE_MEMORY`: allocatable memory of one worker in bytes. Default `1536Mi`.
    pub worker_allocatable_memory_bytes: u64,

    /// `MIN_NODES`: never fewer workers than this. Default 2.
    pub min_nodes: u32,
    /// `MAX_NODES`: never more workers than this. Default 10.
    pub max_nodes: u32,
    /// `SCALE_UP_MAX_INCREMENT`: the most workers one scale-up adds. Default 4 (seed 004 says 2:
    /// scale-ups are sized by the Pending pods' requests and the load, see
    /// docs/SCALING_ALGORITHM.md).
    pub scale_up_max_increment: u32,
    /// `SCALE_DOWN_INCREMENT`: workers one scale-down removes. Only 1 is supported. Default 1.
    pub scale_down_increment: u32,
    /// `SCALE_DOWN_PROJECTED_CPU`: scale-down's CPU condition also holds when the highest CPU over
    /// the scale-down window, spread over one Ready worker fewer, stays below this. 0 turns it off
    /// (seed 004's `SCALE_DOWN_THRESHOLD_CPU` alone). Must be below `SCALE_UP_THRESHOLD_CPU`.
    /// Default: 15 points under `SCALE_UP_THRESHOLD_CPU` (55 with seed 004's 70); an addition to
    /// seed 004, see docs/SCALING_ALGORITHM.md.
    pub scale_down_projected_cpu_pct: f64,
    /// `COOLDOWN_SCALE_UP_PENDING`: after a scale-up, another scale-up for pods still Pending over
    /// the whole `PENDING_PODS_WINDOW` waits only this long (and at least that window, so the pods
    /// were Pending after the last scale-up's workers were Ready) instead of `COOLDOWN_SCALE_UP`.
    /// Must not exceed `COOLDOWN_SCALE_UP`. Default 0s (an addition to seed 004: see
    /// docs/SCALING_ALGORITHM.md).
    pub scale_up_cooldown_pending_secs: u64,

    /// `SCALE_UP_THRESHOLD_CPU`: scale up when CPU stays above this for the scale-up window. Default 70.
    pub scale_up_threshold_cpu_pct: f64,
    /// `SCALE_UP_URGENT_THRESHOLD_CPU`: CPU this high adds the maximum increment. Default 90.
    pub scale_up_urgent_threshold_cpu_pct: f64,
    /// `SCALE_DOWN_THRESHOLD_CPU`: scale down only when CPU stays below this for the scale-down window. Default 30.
    pub scale_down_threshold_cpu_pct: f64,
    /// `SCALE_UP_THRESHOLD_MEMORY`: scale up when memory is above this. Default 75.
    pub scale_up_threshold_memory_pct: f64,
    /// `SCALE_DOWN_THRESHOLD_MEMORY`: scale down only when memory is below this. Default 50.
    pub scale_down_threshold_memory_pct: f64,
    /// `QUEUE_METRIC_ENABLED`: the queue-depth rules apply (and its absence blocks scale-down). Default false.
    pub queue_metric_enabled: bool,
    /// `SCALE_UP_THRESHOLD_QUEUE`: scale up when queue depth is above this many messages. Default 1000.
    pub scale_up_threshold_queue_depth: f64,
    /// `SCALE_DOWN_THRESHOLD_QUEUE`: scale down only when queue depth stays below this. Default 100.
    pub scale_down_threshold_queue_depth: f64,
    /// `SCALE_UP_THRESHOLD_LATENCY_P95`: scale up when p95 latency is above this. Default 2s.
    pub scale_up_threshold_latency_p95_secs: f64,
    /// `SCALE_UP_THRESHOLD_ERROR_RATE`: scale up when the 5xx rate stays above this for the error window. Default 5.
    pub scale_up_threshold_error_rate_pct: f64,

    /// `SCALE_UP_WINDOW`: how long CPU must stay high. Default 3m.
    pub scale_up_window_secs: u64,
    /// `PENDING_PODS_WINDOW`: how long pods must stay Pending. Default 3m.
    pub pending_pods_window_secs: u64,
    /// `SCALE_DOWN_WINDOW`: how long CPU and queue must stay low. Default 10m.
    pub scale_down_window_secs: u64,
    /// `ERROR_RATE_WINDOW`: how long the error rate must stay high. Default 2m.
    pub error_rate_window_secs: u64,
    /// `METRICS_SAMPLE_INTERVAL`: Prometheus scrape and rule interval; windows need
    /// `window / interval` samples to count as met. Default 15s.
    pub metrics_sample_interval_secs: u64,
    /// `METRICS_MAX_AGE`: samples older than this are stale. Default 60s.
    pub metrics_max_age_secs: u64,
    /// `METRICS_CACHE_MAX_AGE`: cached metrics older than this are not used even for scale-up. Default 10m.
    pub metrics_cache_max_age_secs: u64,
    /// `PROMETHEUS_TIMEOUT`: total time budget for one metrics snapshot. Default 5s.
    pub prometheus_timeout_secs: u64,

    /// `COOLDOWN_SCALE_UP`: no action this long after a scale-up. Default 300s.
    pub scale_up_cooldown_secs: u64,
    /// `COOLDOWN_SCALE_DOWN`: no action this long after a scale-down. Default 600s.
    pub scale_down_cooldown_secs: u64,
    /// `DRAIN_TIMEOUT`: a drain not finished by then is aborted and the node uncordoned. Default 300s.
    pub drain_timeout_secs: u64,
    /// `SPOT_DRAIN_TIMEOUT`: drain deadline after a Spot interruption warning. Default 90s.
    pub spot_drain_timeout_secs: u64,
    /// `JOIN_TIMEOUT`: a launched worker not Ready by then is terminated. Default 300s.
    pub join_timeout_secs: u64,
    /// `LOCK_TTL`: lease duration; every step renews it. Default 300s.
    pub lock_ttl_secs: u64,
    /// `STATE_TTL`: DynamoDB TTL for stale state. Default 24h.
    pub state_ttl_secs: u64,
    /// `CAPACITY_ALERT_INTERVAL`: the "at maximum capacity" alert is sent at most once per this
    /// interval while scale-up stays wanted at `MAX_NODES`. Default 30m.
    pub capacity_alert_interval_secs: u64,

    /// `NOT_READY_MAX_PERCENT`: more NotReady nodes than this share of all workers stops scale-down. Default 45.
    pub not_ready_max_pct: f64,
    /// `NOT_READY_MAX_COUNT`: this many or more NotReady workers stops scale-down. Default 3.
    pub not_ready_max_count: u32,

    /// `DASHBOARD_URL`: linked from notifications.
    pub dashboard_url: Option<String>,
    /// `AWS_REGION`: used to build console links. Default `us-east-1`.
    pub aws_region: String,
}

impl Default for Config {
    fn default() -> Self {
        Config::from_lookup(|_| None).expect("the defaults are valid")
    }
}

impl Config {
    /// Reads the process environment. Call once, at cold start.
    ///
    /// Errors: [`Error::Config`] listing every variable that is malformed or inconsistent.
    pub fn from_env() -> Result<Self> {
        Config::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads variables through `lookup` (the environment, a scenario file, a test table), applies
    /// seed 004's defaults to what is absent or empty, and validates the result.
    ///
    /// Errors: [`Error::Config`] listing every bad variable with what is wrong.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let mut r = Reader {
            lookup: &lookup,
            problems: Vec::new(),
        };
        let mut cfg = Config {
            cluster_id: r.string("CLUSTER_ID", "smartscale-prod"),
            dynamodb_table: r.string("DYNAMODB_TABLE", "k3s-autoscaler-state"),
            prometheus_url: r.url("PROMETHEUS_URL"),
            prometheus_auth_secret_arn: r.optional("PROMETHEUS_AUTH_SECRET_ARN"),
            k8s_credentials_secret_arn: r.optional("K8S_CREDENTIALS_SECRET_ARN"),
            k3s_token_secret_arn: r.optional("K3S_TOKEN_SECRET_ARN"),
            slack_webhook_secret_arn: r.optional("SLACK_WEBHOOK_SECRET_ARN"),
            sns_topic_arn: r.optional("SNS_TOPIC_ARN"),
            master_node_tag: r.tag("MASTER_NODE_TAG", ("Role", "k3s-master")),
            launch_template_id: r.optional("LAUNCH_TEMPLATE_ID"),
            launch_template_version: r.string("LAUNCH_TEMPLATE_VERSION", "$Latest"),
            worker_subnet_ids: r.list("WORKER_SUBNET_IDS", &[]),
            worker_instance_types: r.list("WORKER_INSTANCE_TYPES", &["t3.small"]),
            use_spot: r.parse("USE_SPOT", false, parse_bool),
            worker_hourly_price_usd: r.parse("WORKER_HOURLY_PRICE_USD", 0.0208, parse_non_negative),
            worker_allocatable_cpu_millis: r.parse(
                "WORKER_ALLOCATABLE_CPU",
                1800,
                parse_cpu_millis,
            ),
            worker_allocatable_memory_bytes: r.parse(
                "WORKER_ALLOCATABLE_MEMORY",
                1536 * 1024 * 1024,
                parse_memory_bytes,
            ),
            min_nodes: r.parse("MIN_NODES", 2, parse_u32),
            max_nodes: r.parse("MAX_NODES", 10, parse_u32),
            scale_up_max_increment: r.parse("SCALE_UP_MAX_INCREMENT", 4, parse_u32),
            scale_down_increment: r.parse("SCALE_DOWN_INCREMENT", 1, parse_u32),
            // Unset: 15 points under SCALE_UP_THRESHOLD_CPU, filled in below.
            scale_down_projected_cpu_pct: r.parse(
                "SCALE_DOWN_PROJECTED_CPU",
                f64::NAN,
                parse_percent,
            ),
            scale_up_cooldown_pending_secs: r.parse(
                "COOLDOWN_SCALE_UP_PENDING",
                0,
                parse_duration_secs,
            ),
            scale_up_threshold_cpu_pct: r.parse("SCALE_UP_THRESHOLD_CPU", 70.0, parse_percent),
            scale_up_urgent_threshold_cpu_pct: r.parse(
                "SCALE_UP_URGENT_THRESHOLD_CPU",
                90.0,
                parse_percent,
            ),
            scale_down_threshold_cpu_pct: r.parse("SCALE_DOWN_THRESHOLD_CPU", 30.0, parse_percent),
            scale_up_threshold_memory_pct: r.parse(
                "SCALE_UP_THRESHOLD_MEMORY",
                75.0,
                parse_percent,
            ),
            scale_down_threshold_memory_pct: r.parse(
                "SCALE_DOWN_THRESHOLD_MEMORY",
                50.0,
                parse_percent,
            ),
            queue_metric_enabled: r.parse("QUEUE_METRIC_ENABLED", false, parse_bool),
            scale_up_threshold_queue_depth: r.parse(
                "SCALE_UP_THRESHOLD_QUEUE",
                1000.0,
                parse_non_negative,
            ),
            scale_down_threshold_queue_depth: r.parse(
                "SCALE_DOWN_THRESHOLD_QUEUE",
                100.0,
                parse_non_negative,
            ),
            scale_up_threshold_latency_p95_secs: r.parse(
                "SCALE_UP_THRESHOLD_LATENCY_P95",
                2.0,
                parse_duration_f64,
            ),
            scale_up_threshold_error_rate_pct: r.parse(
                "SCALE_UP_THRESHOLD_ERROR_RATE",
                5.0,
                parse_percent,
            ),
            scale_up_window_secs: r.parse("SCALE_UP_WINDOW", 180, parse_duration_secs),
            pending_pods_window_secs: r.parse("PENDING_PODS_WINDOW", 180, parse_duration_secs),
            scale_down_window_secs: r.parse("SCALE_DOWN_WINDOW", 600, parse_duration_secs),
            error_rate_window_secs: r.parse("ERROR_RATE_WINDOW", 120, parse_duration_secs),
            metrics_sample_interval_secs: r.parse(
                "METRICS_SAMPLE_INTERVAL",
                15,
                parse_duration_secs,
            ),
            metrics_max_age_secs: r.parse("METRICS_MAX_AGE", 60, parse_duration_secs),
            metrics_cache_max_age_secs: r.parse("METRICS_CACHE_MAX_AGE", 600, parse_duration_secs),
            prometheus_timeout_secs: r.parse("PROMETHEUS_TIMEOUT", 5, parse_duration_secs),
            scale_up_cooldown_secs: r.parse("COOLDOWN_SCALE_UP", 300, parse_duration_secs),
            scale_down_cooldown_secs: r.parse("COOLDOWN_SCALE_DOWN", 600, parse_duration_secs),
            drain_timeout_secs: r.parse("DRAIN_TIMEOUT", 300, parse_duration_secs),
            spot_drain_timeout_secs: r.parse("SPOT_DRAIN_TIMEOUT", 90, parse_duration_secs),
            join_timeout_secs: r.parse("JOIN_TIMEOUT", 300, parse_duration_secs),
            lock_ttl_secs: r.parse("LOCK_TTL", 300, parse_duration_secs),
            state_ttl_secs: r.parse("STATE_TTL", 86_400, parse_duration_secs),
            capacity_alert_interval_secs: r.parse(
                "CAPACITY_ALERT_INTERVAL",
                1800,
                parse_duration_secs,
            ),
            not_ready_max_pct: r.parse("NOT_READY_MAX_PERCENT", 45.0, parse_percent),
            not_ready_max_count: r.parse("NOT_READY_MAX_COUNT", 3, parse_u32),
            dashboard_url: r.url("DASHBOARD_URL"),
            aws_region: r.string("AWS_REGION", "us-east-1"),
        };
        if cfg.scale_down_projected_cpu_pct.is_nan() {
            cfg.scale_down_projected_cpu_pct = (cfg.scale_up_threshold_cpu_pct - 15.0).max(0.0);
        }
        let mut problems = r.problems;
        problems.extend(cfg.consistency_problems());
        if problems.is_empty() {
            Ok(cfg)
        } else {
            Err(Error::Config { problems })
        }
    }

    /// The Prometheus URL, or [`Error::Config`] naming `PROMETHEUS_URL` when a step that needs it
    /// runs without it.
    pub fn require_prometheus_url(&self) -> Result<&str> {
        self.prometheus_url.as_deref().ok_or_else(|| {
            missing(
                "PROMETHEUS_URL",
                "the Prometheus base URL, for example http://10.0.1.10:30090",
            )
        })
    }

    /// The worker launch template id, or [`Error::Config`] naming `LAUNCH_TEMPLATE_ID`.
    pub fn require_launch_template_id(&self) -> Result<&str> {
        self.launch_template_id.as_deref().ok_or_else(|| {
            missing(
                "LAUNCH_TEMPLATE_ID",
                "the worker launch template id, for example lt-0abc123",
            )
        })
    }

    /// The Kubernetes credentials secret, or [`Error::Config`] naming `K8S_CREDENTIALS_SECRET_ARN`.
    pub fn require_k8s_credentials_secret(&self) -> Result<&str> {
        self.k8s_credentials_secret_arn.as_deref().ok_or_else(|| {
            missing(
                "K8S_CREDENTIALS_SECRET_ARN",
                "the ARN of the secret holding server, ca and token",
            )
        })
    }

    /// Samples a window of `window_secs` must hold to count as met (`window / sample interval`).
    pub fn required_samples(&self, window_secs: u64) -> u32 {
        (window_secs / self.metrics_sample_interval_secs.max(1)) as u32
    }

    /// Every duration setting, by its variable.
    fn durations(&self) -> [(&'static str, u64); 17] {
        [
            (
                "COOLDOWN_SCALE_UP_PENDING",
                self.scale_up_cooldown_pending_secs,
            ),
            ("SCALE_UP_WINDOW", self.scale_up_window_secs),
            ("PENDING_PODS_WINDOW", self.pending_pods_window_secs),
            ("SCALE_DOWN_WINDOW", self.scale_down_window_secs),
            ("ERROR_RATE_WINDOW", self.error_rate_window_secs),
            ("METRICS_SAMPLE_INTERVAL", self.metrics_sample_interval_secs),
            ("METRICS_MAX_AGE", self.metrics_max_age_secs),
            ("METRICS_CACHE_MAX_AGE", self.metrics_cache_max_age_secs),
            ("PROMETHEUS_TIMEOUT", self.prometheus_timeout_secs),
            ("COOLDOWN_SCALE_UP", self.scale_up_cooldown_secs),
            ("COOLDOWN_SCALE_DOWN", self.scale_down_cooldown_secs),
            ("DRAIN_TIMEOUT", self.drain_timeout_secs),
            ("SPOT_DRAIN_TIMEOUT", self.spot_drain_timeout_secs),
            ("JOIN_TIMEOUT", self.join_timeout_secs),
            ("LOCK_TTL", self.lock_ttl_secs),
            ("STATE_TTL", self.state_ttl_secs),
            ("CAPACITY_ALERT_INTERVAL", self.capacity_alert_interval_secs),
        ]
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
        if self.scale_up_max_increment < 1 {
            bad("SCALE_UP_MAX_INCREMENT", "must be at least 1".into());
        }
        if self.scale_down_increment != 1 {
            bad(
                "SCALE_DOWN_INCREMENT",
                format!(
                    "{} is not supported: SmartScale removes exactly 1 node per operation",
                    self.scale_down_increment
                ),
            );
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
        if self.scale_up_cooldown_pending_secs > self.scale_up_cooldown_secs {
            bad(
                "COOLDOWN_SCALE_UP_PENDING",
                format!(
                    "{}s is longer than COOLDOWN_SCALE_UP ({}s)",
                    self.scale_up_cooldown_pending_secs, self.scale_up_cooldown_secs
                ),
            );
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
            ("LOCK_TTL", self.lock_ttl_secs),
            ("PROMETHEUS_TIMEOUT", self.prometheus_timeout_secs),
            ("SPOT_DRAIN_TIMEOUT", self.spot_drain_timeout_secs),
            ("CAPACITY_ALERT_INTERVAL", self.capacity_alert_interval_secs),
        ] {
            if secs == 0 {
                bad(var, "must be longer than 0s".into());
            }
        }
        for (var, secs) in self.durations() {
            if secs > MAX_DURATION_SECS {
                bad(
                    var,
                    format!(
                        "{secs}s is longer than the {MAX_DURATION_SECS}s (30 days) any duration may be"
                    ),
                );
            }
        }
        if self.worker_instance_types.is_empty() {
            bad(
                "WORKER_INSTANCE_TYPES",
                "must name at least one instance type, for example t3.small".into(),
            );
        }
        p
    }
}

fn missing(variable: &str, what: &str) -> Error {
    Error::Config {
        problems: vec![ConfigProblem {
            variable: variable.into(),
            problem: format!("is not set: set it to {what}"),
        }],
    }
}

/// Reads variables and records every problem instead of stopping at the first.
struct Reader<'a> {
    lookup: &'a dyn Fn(&str) -> Option<String>,
    problems: Vec<ConfigProblem>,
}

impl Reader<'_> {
    fn get(&self, name: &str) -> Option<String> {
        (self.lookup)(name).filter(|v| !v.trim().is_empty())
    }

    fn string(&mut self, name: &str, default: &str) -> String {
        self.get(name)
            .map(|v| v.trim().to_owned())
            .unwrap_or_else(|| default.to_owned())
    }

    fn optional(&mut self, name: &str) -> Option<String> {
        self.get(name).map(|v| v.trim().to_owned())
    }

    fn list(&mut self, name: &str, default: &[&str]) -> Vec<String> {
        match self.get(name) {
            Some(v) => parse_list(&v),
            None => default.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn url(&mut self, name: &str) -> Option<String> {
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

    fn tag(&mut self, name: &str, default: (&str, &str)) -> (String, String) {
        match self.get(name) {
            None => (default.0.into(), default.1.into()),
            Some(v) => match v.split_once(':') {
                Some((k, val)) if !k.trim().is_empty() && !val.trim().is_empty() => {
                    (k.trim().into(), val.trim().into())
                }
                _ => {
                    self.problems.push(ConfigProblem {
                        variable: name.into(),
                        problem: format!(
                            "'{v}' is not Key:Value: write for example Role:k3s-master"
                        ),
                    });
                    (default.0.into(), default.1.into())
                }
            },
        }
    }

    fn parse<T>(&mut self, name: &str, default: T, parse: fn(&str) -> Result<T, String>) -> T {
        match self.get(name) {
            None => default,
            Some(raw) => parse(&raw).unwrap_or_else(|problem| {
                self.problems.push(ConfigProblem {
                    variable: name.into(),
                    problem,
                });
                default
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn load(vars: &[(&str, &str)]) -> Result<Config> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    fn problems(vars: &[(&str, &str)]) -> Vec<String> {
        match load(vars) {
            Err(Error::Config { problems }) => problems.iter().map(ToString::to_string).collect(),
            other => panic!("expected a config error, got {other:?}"),
        }
    }

    #[test]
    fn defaults_follow_seed_004() {
        let c = Config::default();
        assert_eq!((c.min_nodes, c.max_nodes), (2, 10));
        assert_eq!(
            (c.scale_up_threshold_cpu_pct, c.scale_down_threshold_cpu_pct),
            (70.0, 30.0)
        );
        assert_eq!(
            (
                c.scale_up_threshold_memory_pct,
                c.scale_down_threshold_memory_pct
            ),
            (75.0, 50.0)
        );
        assert_eq!(
            (
                c.scale_up_threshold_queue_depth,
                c.scale_down_threshold_queue_depth
            ),
            (1000.0, 100.0)
        );
        assert_eq!(c.scale_up_threshold_latency_p95_secs, 2.0);
        assert_eq!(c.scale_up_threshold_error_rate_pct, 5.0);
        assert_eq!(
            (
                c.scale_up_window_secs,
                c.scale_down_window_secs,
                c.error_rate_window_secs
            ),
            (180, 600, 120)
        );
        assert_eq!(
            (c.scale_up_cooldown_secs, c.scale_down_cooldown_secs),
            (300, 600)
        );
        assert_eq!((c.drain_timeout_secs, c.join_timeout_secs), (300, 300));
        assert_eq!(c.capacity_alert_interval_secs, 1800);
        // Departures from seed 004 (docs/SCALING_ALGORITHM.md): increment 4, not 2; the
        // projected scale-down CPU and the pending-pods cooldown are additions.
        assert_eq!((c.scale_up_max_increment, c.scale_down_increment), (4, 1));
        assert_eq!(
            (
                c.scale_down_projected_cpu_pct,
                c.scale_up_cooldown_pending_secs
            ),
            (55.0, 0)
        );
        assert_eq!(c.cluster_id, "smartscale-prod");
        assert_eq!(c.dynamodb_table, "k3s-autoscaler-state");
        assert_eq!(
            c.master_node_tag,
            ("Role".to_string(), "k3s-master".to_string())
        );
        assert_eq!(c.required_samples(c.scale_up_window_secs), 12);
    }

    #[test]
    fn reads_the_seed_variable_names_and_units() {
        let c = load(&[
            ("MIN_NODES", "3"),
            ("MAX_NODES", "8"),
            ("SCALE_UP_THRESHOLD_CPU", "80%"),
            ("COOLDOWN_SCALE_UP", "2m"),
            ("COOLDOWN_SCALE_DOWN", "900"),
            ("SCALE_UP_THRESHOLD_LATENCY_P95", "1500ms"),
            ("WORKER_SUBNET_IDS", "subnet-a, subnet-b"),
            ("PROMETHEUS_URL", "http://10.0.1.10:30090/"),
            ("MASTER_NODE_TAG", "Role:k3s-server"),
            ("CAPACITY_ALERT_INTERVAL", "1h"),
        ])
        .unwrap();
        assert_eq!(c.capacity_alert_interval_secs, 3600);
        assert_eq!((c.min_nodes, c.max_nodes), (3, 8));
        assert_eq!(c.scale_up_threshold_cpu_pct, 80.0);
        assert_eq!(
            (c.scale_up_cooldown_secs, c.scale_down_cooldown_secs),
            (120, 900)
        );
        assert_eq!(c.scale_up_threshold_latency_p95_secs, 1.5);
        assert_eq!(c.worker_subnet_ids, vec!["subnet-a", "subnet-b"]);
        assert_eq!(
            c.require_prometheus_url().unwrap(),
            "http://10.0.1.10:30090"
        );
        assert_eq!(c.master_node_tag.1, "k3s-server");
    }

    type Vars<'a> = &'a [(&'a str, &'a str)];

    #[test]
    fn projected_cpu_defaults_under_the_scale_up_threshold() {
        // (case name, variables set, expected SCALE_DOWN_PROJECTED_CPU).
        let cases: &[(&str, Vars, f64)] = &[
            ("seed default", &[], 55.0),
            (
                "follows a raised threshold",
                &[("SCALE_UP_THRESHOLD_CPU", "80")],
                65.0,
            ),
            (
                "follows a lowered threshold",
                &[
                    ("SCALE_UP_THRESHOLD_CPU", "50"),
                    ("SCALE_DOWN_THRESHOLD_CPU", "20"),
                ],
                35.0,
            ),
            (
                "never below 0",
                &[
                    ("SCALE_UP_THRESHOLD_CPU", "5"),
                    ("SCALE_DOWN_THRESHOLD_CPU", "1"),
                ],
                0.0,
            ),
            ("set", &[("SCALE_DOWN_PROJECTED_CPU", "55%")], 55.0),
            ("turned off", &[("SCALE_DOWN_PROJECTED_CPU", "0")], 0.0),
        ];
        for (name, vars, want) in cases {
            let c = load(vars).unwrap_or_else(|e| panic!("case {name}: {e}"));
            assert_eq!(c.scale_down_projected_cpu_pct, *want, "case {name}");
        }
    }

    /// (case name, variables set, expected problem).
    type BadCase<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a str);

    #[test]
    fn every_bad_value_is_named() {
        let cases: &[BadCase] = &[
            (
                "a cooldown chrono cannot add to a time",
                &[("COOLDOWN_SCALE_DOWN", "99999999999999999999")],
                "COOLDOWN_SCALE_DOWN: 18446744073709551615s is longer than the 2592000s (30 days) any duration may be",
            ),
            (
                "a drain timeout just over the bound",
                &[("DRAIN_TIMEOUT", "721h")],
                "DRAIN_TIMEOUT: 2595600s is longer than the 2592000s (30 days) any duration may be",
            ),
            (
                "min above max",
                &[("MIN_NODES", "6"), ("MAX_NODES", "5")],
                "MIN_NODES: 6 is greater than MAX_NODES (5)",
            ),
            (
                "min below one",
                &[("MIN_NODES", "0")],
                "MIN_NODES: must be at least 1",
            ),
            (
                "non-numeric",
                &[("MAX_NODES", "ten")],
                "MAX_NODES: 'ten' is not a whole number",
            ),
            (
                "threshold above 100",
                &[("SCALE_UP_THRESHOLD_CPU", "170")],
                "SCALE_UP_THRESHOLD_CPU: 170 is outside 0-100",
            ),
            (
                "threshold below 0",
                &[("SCALE_DOWN_THRESHOLD_CPU", "-5")],
                "SCALE_DOWN_THRESHOLD_CPU: -5 is outside 0-100",
            ),
            (
                "down at up",
                &[("SCALE_DOWN_THRESHOLD_CPU", "70")],
                "SCALE_DOWN_THRESHOLD_CPU: 70 must be below SCALE_UP_THRESHOLD_CPU (70)",
            ),
            (
                "memory down above up",
                &[("SCALE_DOWN_THRESHOLD_MEMORY", "80")],
                "SCALE_DOWN_THRESHOLD_MEMORY: 80 must be below",
            ),
            (
                "queue down at up",
                &[("SCALE_DOWN_THRESHOLD_QUEUE", "1000")],
                "SCALE_DOWN_THRESHOLD_QUEUE",
            ),
            (
                "projected cpu at the scale-up threshold",
                &[("SCALE_DOWN_PROJECTED_CPU", "70")],
                "SCALE_DOWN_PROJECTED_CPU: 70 must be below SCALE_UP_THRESHOLD_CPU (70)",
            ),
            (
                "projected cpu above a lowered scale-up threshold",
                &[
                    ("SCALE_UP_THRESHOLD_CPU", "50"),
                    ("SCALE_DOWN_THRESHOLD_CPU", "20"),
                    ("SCALE_DOWN_PROJECTED_CPU", "55"),
                ],
                "SCALE_DOWN_PROJECTED_CPU: 55 must be below SCALE_UP_THRESHOLD_CPU (50)",
            ),
            (
                "pending cooldown longer than the scale-up cooldown",
                &[("COOLDOWN_SCALE_UP_PENDING", "6m")],
                "COOLDOWN_SCALE_UP_PENDING: 360s is longer than COOLDOWN_SCALE_UP (300s)",
            ),
            (
                "unknown unit",
                &[("COOLDOWN_SCALE_UP", "5 fortnights")],
                "COOLDOWN_SCALE_UP: unknown unit 'fortnights'",
            ),
            (
                "bad url",
                &[("PROMETHEUS_URL", "prometheus:30090")],
                "PROMETHEUS_URL: 'prometheus:30090' is not an http(s) URL",
            ),
            (
                "bad tag",
                &[("MASTER_NODE_TAG", "k3s-master")],
                "MASTER_NODE_TAG: 'k3s-master' is not Key:Value",
            ),
            (
                "down increment",
                &[("SCALE_DOWN_INCREMENT", "2")],
                "SCALE_DOWN_INCREMENT: 2 is not supported",
            ),
            (
                "window shorter than a sample",
                &[("SCALE_UP_WINDOW", "10s")],
                "SCALE_UP_WINDOW: 10s is shorter than METRICS_SAMPLE_INTERVAL",
            ),
            (
                "zero drain timeout",
                &[("DRAIN_TIMEOUT", "0")],
                "DRAIN_TIMEOUT: must be longer than 0s",
            ),
            (
                "zero capacity alert interval",
                &[("CAPACITY_ALERT_INTERVAL", "0")],
                "CAPACITY_ALERT_INTERVAL: must be longer than 0s",
            ),
        ];
        for (name, vars, want) in cases {
            let got = problems(vars);
            assert!(
                got.iter().any(|p| p.contains(want)),
                "case {name}: {got:?} lacks {want:?}"
            );
        }
    }

    #[test]
    fn all_problems_are_reported_together() {
        let got = problems(&[
            ("MIN_NODES", "x"),
            ("MAX_NODES", "y"),
            ("COOLDOWN_SCALE_UP", "1d"),
        ]);
        assert_eq!(got.len(), 3, "{got:?}");
    }

    #[test]
    fn missing_required_urls_name_the_variable() {
        let err = Config::default()
            .require_prometheus_url()
            .unwrap_err()
            .to_string();
        assert!(err.contains("PROMETHEUS_URL: is not set"), "{err}");
    }
}
