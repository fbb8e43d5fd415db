//! SmartScale's configuration as a Lambda reads it: the wiring the clients need to
//! reach the outside systems (table, ARNs, URLs, launch template, subnets, client timeouts) and,
//! embedded, the engine's [`Policy`]. Read from the environment once at cold start and validated
//! there; every problem of both parts is reported together.
//!
//! Variable names and defaults follow the specification's table (see docs/CONFIGURATION.md).
//! Durations accept `300`, `300s`, `5m`, `1h`; percentages `70` or `70%`.

use crate::error::{ConfigProblem, Error, Result};
pub use smartscale_engine::config::{default, units, Policy, Reader};
use smartscale_engine::engine::capacity::{hourly_price, CapacityType, PriceTable};
use units::*;

/// Every parameter a SmartScale Lambda runs with: the wiring below plus the [`Policy`] the engine
/// decides with. Field names carry their unit; each default is in `functions/engine/defaults.json`
/// ([`smartscale_engine::config::default`]).
///
/// `Config` dereferences to its [`Policy`], so `config.min_nodes` reads the policy's field and a
/// `&Config` can be passed where the engine takes a `&Policy`.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// `DYNAMODB_TABLE`: the state table.
    pub dynamodb_table: String,
    /// `PROMETHEUS_URL`: base URL of the Prometheus HTTP API; see [`Config::require_prometheus_url`].
    pub prometheus_url: Option<String>,
    /// `PROMETHEUS_AUTH_SECRET_ARN`: secret holding `{"username","password"}` for basic auth.
    pub prometheus_auth_secret_arn: Option<String>,
    /// `K8S_CREDENTIALS_SECRET_ARN`: secret holding `{"server","ca","token"}` for the K3s API.
    pub k8s_credentials_secret_arn: Option<String>,
    /// `SLACK_WEBHOOK_SECRET_ARN`: secret holding the Slack incoming-webhook URL.
    pub slack_webhook_secret_arn: Option<String>,
    /// `SNS_TOPIC_ARN`: topic for alerts.
    pub sns_topic_arn: Option<String>,
    /// `MASTER_NODE_TAG`: `Key:Value` of the tag that marks the K3s server.
    pub master_node_tag: (String, String),
    /// `LAUNCH_TEMPLATE_ID`: the worker launch template.
    pub launch_template_id: Option<String>,
    /// `LAUNCH_TEMPLATE_VERSION`: version of the launch template.
    pub launch_template_version: String,
    /// `PROMETHEUS_TIMEOUT`: total time budget for one metrics snapshot.
    pub prometheus_timeout_secs: u64,
    /// `LOCK_TTL`: lease duration; every step renews it.
    pub lock_ttl_secs: u64,
    /// `STATE_TTL`: DynamoDB TTL for stale state.
    pub state_ttl_secs: u64,
    /// `DASHBOARD_URL`: linked from notifications.
    pub dashboard_url: Option<String>,
    /// `AWS_REGION`: used to build console links.
    pub aws_region: String,
    /// The thresholds, windows, bounds, cooldowns, deadlines and sizing the engine reads.
    pub policy: Policy,
}

impl std::ops::Deref for Config {
    type Target = Policy;
    fn deref(&self) -> &Policy {
        &self.policy
    }
}

impl std::ops::DerefMut for Config {
    fn deref_mut(&mut self) -> &mut Policy {
        &mut self.policy
    }
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

    /// Reads variables through `lookup` (the environment, a test table), applies the defaults to
    /// what is absent or empty, and validates the result.
    ///
    /// Errors: [`Error::Config`] listing every bad variable (wiring and policy) with what is wrong.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let mut r = Reader::new(&lookup);
        let cfg = Config {
            dynamodb_table: r.string("DYNAMODB_TABLE"),
            prometheus_url: r.url("PROMETHEUS_URL"),
            prometheus_auth_secret_arn: r.optional("PROMETHEUS_AUTH_SECRET_ARN"),
            k8s_credentials_secret_arn: r.optional("K8S_CREDENTIALS_SECRET_ARN"),
            slack_webhook_secret_arn: r.optional("SLACK_WEBHOOK_SECRET_ARN"),
            sns_topic_arn: r.optional("SNS_TOPIC_ARN"),
            master_node_tag: r.tag("MASTER_NODE_TAG"),
            launch_template_id: r.optional("LAUNCH_TEMPLATE_ID"),
            launch_template_version: r.string("LAUNCH_TEMPLATE_VERSION"),
            prometheus_timeout_secs: r.parse("PROMETHEUS_TIMEOUT", parse_duration_secs),
            lock_ttl_secs: r.parse("LOCK_TTL", parse_duration_secs),
            state_ttl_secs: r.parse("STATE_TTL", parse_duration_secs),
            dashboard_url: r.url("DASHBOARD_URL"),
            aws_region: r.string("AWS_REGION"),
            policy: Policy::read(&mut r),
        };
        for (var, problem) in cfg.price_problems() {
            r.problem(var, problem);
        }
        for (var, secs) in [
            ("LOCK_TTL", cfg.lock_ttl_secs),
            ("PROMETHEUS_TIMEOUT", cfg.prometheus_timeout_secs),
        ] {
            if secs == 0 {
                r.problem(var, "must be longer than 0s".into());
            }
        }
        let problems = r.into_problems();
        if problems.is_empty() {
            Ok(cfg)
        } else {
            Err(Error::Config { problems })
        }
    }

    /// The hourly price in USD of one `instance_type` worker bought as `capacity` in this
    /// region, from the engine's price table (`functions/engine/prices.json`); `None` for a type
    /// the table lacks (the configured types are checked at cold start).
    pub fn hourly_price(&self, instance_type: &str, capacity: CapacityType) -> Option<f64> {
        hourly_price(&self.aws_region, instance_type, capacity)
    }

    /// The instance type of the baseline fleet and of the notifications' cost estimate: the first
    /// `WORKER_INSTANCE_TYPES` type.
    pub fn baseline_instance_type(&self) -> &str {
        &self.worker_instance_types[0]
    }

    /// What the notification builders need: the price, the dashboard and the region.
    pub fn presentation(&self) -> crate::notify::Presentation {
        crate::notify::Presentation {
            worker_hourly_price_usd: self
                .hourly_price(self.baseline_instance_type(), CapacityType::OnDemand)
                .unwrap_or_default(),
            dashboard_url: self.dashboard_url.clone(),
            aws_region: self.aws_region.clone(),
        }
    }

    /// The Prometheus URL, or [`Error::Config`] naming `PROMETHEUS_URL` when a step that needs it
    /// runs without it.
    pub fn require_prometheus_url(&self) -> Result<&str> {
        self.prometheus_url.as_deref().ok_or_else(|| {
            missing(
                "PROMETHEUS_URL",
                "the Prometheus base URL, for example https://10.0.1.10:30090",
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
}

impl Config {
    /// The variables whose values the price table cannot price: `AWS_REGION` when the table has
    /// no prices for it, else each `WORKER_INSTANCE_TYPES` / `BURST_INSTANCE_TYPES` type it lacks
    /// in that region. The cost metric and the burst sizing need every one.
    fn price_problems(&self) -> Vec<(&'static str, String)> {
        let table = PriceTable::shipped();
        if !table.regions.contains_key(&self.aws_region) {
            let known: Vec<&str> = table.regions.keys().map(String::as_str).collect();
            return vec![(
                "AWS_REGION",
                format!(
                    "{} has no prices in functions/engine/prices.json (it has {}): add the region's prices there",
                    self.aws_region,
                    known.join(", ")
                ),
            )];
        }
        [
            ("WORKER_INSTANCE_TYPES", &self.worker_instance_types),
            ("BURST_INSTANCE_TYPES", &self.burst_instance_types),
        ]
        .into_iter()
        .flat_map(|(var, types)| {
            types
                .iter()
                .filter(|t| table.offer(&self.aws_region, t).is_none())
                .map(move |t| {
                    (
                        var,
                        format!(
                            "{t} has no price for {} in functions/engine/prices.json: add it there",
                            self.aws_region
                        ),
                    )
                })
        })
        .collect()
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
        // Departures from the specification (docs/SCALING_ALGORITHM.md): increment 6, not 2; the
        // projected scale-down CPU (15 under the 80% CPU-alone threshold) and the pending-pods
        // cooldown are additions.
        assert_eq!(
            (c.scale_up_max_increment, default("SCALE_DOWN_INCREMENT")),
            (6, "1")
        );
        assert_eq!(
            (
                c.scale_down_projected_cpu_pct,
                c.scale_up_cooldown_pending_secs
            ),
            (65.0, 0)
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
            ("default: under the CPU-alone threshold", &[], 65.0),
            (
                "seed CPU rule: under the scale-up threshold",
                &[("SCALE_UP_CPU_ALONE_THRESHOLD", "0")],
                55.0,
            ),
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
                    ("SCALE_UP_CPU_ALONE_THRESHOLD", "0"),
                ],
                35.0,
            ),
            (
                "at least 5 under the scale-up threshold",
                &[
                    ("SCALE_UP_THRESHOLD_CPU", "50"),
                    ("SCALE_DOWN_THRESHOLD_CPU", "20"),
                ],
                45.0,
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
                "COOLDOWN_SCALE_DOWN: '99999999999999999999' is longer than the 2592000s (30 days) any duration may be",
            ),
            (
                "a drain timeout just over the bound",
                &[("DRAIN_TIMEOUT", "721h")],
                "DRAIN_TIMEOUT: '721h' is longer than the 2592000s (30 days) any duration may be",
            ),
            (
                "a region the price table lacks",
                &[("AWS_REGION", "eu-west-3")],
                "AWS_REGION: eu-west-3 has no prices in functions/engine/prices.json (it has ap-south-1, us-east-1)",
            ),
            (
                "a worker type the price table lacks",
                &[("WORKER_INSTANCE_TYPES", "t3.small,m7g.medium")],
                "WORKER_INSTANCE_TYPES: m7g.medium has no price for us-east-1",
            ),
            (
                "a burst type the price table lacks",
                &[("BURST_INSTANCE_TYPES", "c5.large")],
                "BURST_INSTANCE_TYPES: c5.large has no price for us-east-1",
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
                "pending cooldown longer than the scale-down cooldown",
                &[("COOLDOWN_SCALE_DOWN_PENDING", "11m")],
                "COOLDOWN_SCALE_DOWN_PENDING: 660s is longer than COOLDOWN_SCALE_DOWN (600s)",
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
    fn every_default_in_defaults_json_is_read() {
        let asked = std::cell::RefCell::new(std::collections::BTreeSet::new());
        Config::from_lookup(|name| {
            asked.borrow_mut().insert(name.to_owned());
            None
        })
        .unwrap();
        let defaults: std::collections::BTreeMap<String, String> =
            serde_json::from_str(smartscale_engine::config::DEFAULTS_JSON).unwrap();
        let stale: Vec<&String> = defaults
            .keys()
            .filter(|k| !k.starts_with('$') && !asked.borrow().contains(*k))
            .collect();
        assert!(
            stale.is_empty(),
            "defaults.json entries nobody reads: {stale:?}"
        );
    }

    #[test]
    fn prices_come_from_the_table_for_the_region() {
        let c = load(&[
            ("AWS_REGION", "ap-south-1"),
            ("WORKER_INSTANCE_TYPES", "t3a.small,t3.small"),
        ])
        .unwrap();
        assert_eq!(c.baseline_instance_type(), "t3a.small");
        assert_eq!(
            c.hourly_price("t3a.small", CapacityType::Spot),
            hourly_price("ap-south-1", "t3a.small", CapacityType::Spot)
        );
        assert_eq!(
            c.presentation().worker_hourly_price_usd,
            hourly_price("ap-south-1", "t3a.small", CapacityType::OnDemand).unwrap()
        );
        assert_eq!(c.hourly_price("m7g.medium", CapacityType::OnDemand), None);
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
