//! What SmartScale tells people, as values, and the pure builders of each channel's payload:
//! Slack Block Kit JSON ([`slack`]) and the SNS subject and message ([`sns`]), and the weekly
//! cost report ([`weekly`]).
//!
//! A [`Notification`] carries everything a message shows (reason, node counts before and after,
//! the time, the execution); the builders add what the configuration knows (cost per worker hour,
//! dashboard URL, region) and never fail.

pub mod slack;
pub mod sns;
pub mod weekly;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What the channel builders add to a notification from the configuration: the price behind the
/// cost estimate and the links' targets.
#[derive(Debug, Clone, PartialEq)]
pub struct Presentation {
    /// On-demand price of one worker in USD per hour: the price table's
    /// ([`crate::engine::capacity::hourly_price`]) for the first `WORKER_INSTANCE_TYPES` type in
    /// the region.
    pub worker_hourly_price_usd: f64,
    /// The dashboard linked from messages (`DASHBOARD_URL`), when set.
    pub dashboard_url: Option<String>,
    /// The region of console links when an execution ARN names none (`AWS_REGION`).
    pub aws_region: String,
}

#[cfg(test)]
impl Default for Presentation {
    /// The price of the default worker type in `us-east-1`, no dashboard.
    fn default() -> Self {
        let worker_type = &crate::Policy::default().worker_instance_types[0];
        Presentation {
            worker_hourly_price_usd: crate::engine::capacity::hourly_price(
                "us-east-1",
                worker_type,
                crate::engine::capacity::CapacityType::OnDemand,
            )
            .expect("the price table has the default worker type"),
            dashboard_url: None,
            aws_region: "us-east-1".into(),
        }
    }
}

/// The events people are told about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotificationKind {
    /// Workers are being launched.
    ScaleUpStarted,
    /// Launched workers joined as Ready nodes.
    ScaleUpCompleted,
    /// A worker was drained and terminated.
    ScaleDownCompleted,
    /// An execution failed (the Cleanup path), for example on an EC2 quota.
    ScalingFailure,
    /// Launched workers were not Ready by the join deadline and were terminated.
    JoinFailure,
    /// A drain did not finish by its deadline; the node was uncordoned.
    DrainAborted,
    /// Scale-up is wanted but the cluster is at `MAX_NODES`.
    AtMaximumCapacity,
    /// A Spot interruption warning or rebalance recommendation was handled.
    SpotInterruption,
    /// A Spot pool had no capacity for a launch; its share was launched on-demand.
    SpotUnavailable,
    /// A scheduled floor became active (its window is met within the launch lead).
    FloorStarted,
    /// The scheduled floor announced as started is no longer active.
    FloorEnded,
    /// The day's figures of the forecast in `forecast-only` mode.
    ForecastSummary,
}

/// How a kind looks: emoji, title, and whether it is an alert (failure or warning).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Style {
    /// Slack emoji shortcode shown before the title, as in the specification's message table (green, blue, red, warning; docs/OPERATIONS.md).
    pub emoji: &'static str,
    /// The title, for example `Scale-Up Completed`.
    pub title: &'static str,
    /// True for failures and warnings.
    pub alert: bool,
}

impl NotificationKind {
    /// Emoji, title and severity of this kind.
    pub fn style(self) -> Style {
        let (emoji, title, alert) = match self {
            NotificationKind::ScaleUpStarted => {
                (":large_green_circle:", "Scale-Up Initiated", false)
            }
            NotificationKind::ScaleUpCompleted => {
                (":large_green_circle:", "Scale-Up Completed", false)
            }
            NotificationKind::ScaleDownCompleted => {
                (":large_blue_circle:", "Scale-Down Completed", false)
            }
            NotificationKind::ScalingFailure => (":red_circle:", "Scaling Failure", true),
            NotificationKind::JoinFailure => (":red_circle:", "Node Join Failure", true),
            NotificationKind::DrainAborted => (":warning:", "Drain Aborted", true),
            NotificationKind::AtMaximumCapacity => {
                (":warning:", "Cluster at Maximum Capacity", true)
            }
            NotificationKind::SpotInterruption => (":warning:", "Spot Interruption", true),
            NotificationKind::SpotUnavailable => (":warning:", "Spot Unavailable", true),
            NotificationKind::FloorStarted => (":calendar:", "Scheduled Floor Started", false),
            NotificationKind::FloorEnded => (":calendar:", "Scheduled Floor Ended", false),
            NotificationKind::ForecastSummary => {
                (":crystal_ball:", "Forecast Daily Summary", false)
            }
        };
        Style {
            emoji,
            title,
            alert,
        }
    }

    /// The snake_case name, as serialised.
    pub fn as_str(self) -> &'static str {
        match self {
            NotificationKind::ScaleUpStarted => "scale_up_started",
            NotificationKind::ScaleUpCompleted => "scale_up_completed",
            NotificationKind::ScaleDownCompleted => "scale_down_completed",
            NotificationKind::ScalingFailure => "scaling_failure",
            NotificationKind::JoinFailure => "join_failure",
            NotificationKind::DrainAborted => "drain_aborted",
            NotificationKind::AtMaximumCapacity => "at_maximum_capacity",
            NotificationKind::SpotInterruption => "spot_interruption",
            NotificationKind::SpotUnavailable => "spot_unavailable",
            NotificationKind::FloorStarted => "floor_started",
            NotificationKind::FloorEnded => "floor_ended",
            NotificationKind::ForecastSummary => "forecast_summary",
        }
    }
}

/// One message to people, channel-neutral.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notification {
    /// What happened.
    pub kind: NotificationKind,
    /// The cluster.
    pub cluster_id: String,
    /// Why, in sentences (the decision's reasons or the error).
    pub reason: String,
    /// What was done, for example `Added 2 nodes (i-0a, i-0b)`.
    pub action: String,
    /// Workers before the action, when known.
    pub nodes_before: Option<u32>,
    /// Workers after the action, when known.
    pub nodes_after: Option<u32>,
    /// What a person should do, for alerts.
    pub recommendation: Option<String>,
    /// True when this execution finished or undid an operation a dead run left.
    pub recovered: bool,
    /// When it happened (the step's `now`).
    pub time: DateTime<Utc>,
    /// The Step Functions execution ARN, for the console link.
    pub execution_arn: Option<String>,
}

impl Notification {
    /// `nodes_after - nodes_before`, or 0 when either is unknown.
    pub fn node_delta(&self) -> i64 {
        match (self.nodes_before, self.nodes_after) {
            (Some(b), Some(a)) => i64::from(a) - i64::from(b),
            _ => 0,
        }
    }
}

/// Estimated cost change per day of adding (`delta > 0`) or removing workers:
/// the worker's on-demand price × 24 × `delta`, in USD.
pub fn cost_impact_per_day_usd(cfg: &Presentation, delta: i64) -> f64 {
    cfg.worker_hourly_price_usd * 24.0 * delta as f64
}

/// Renders a cost change as `+$1.00/day`, `-$0.50/day` or `$0.00/day`.
pub fn format_cost_per_day(usd: f64) -> String {
    let rounded = (usd * 100.0).round() / 100.0;
    if rounded > 0.0 {
        format!("+${rounded:.2}/day")
    } else if rounded < 0.0 {
        format!("-${:.2}/day", -rounded)
    } else {
        "$0.00/day".to_string()
    }
}

/// The Step Functions console URL of an execution. The region is read from the ARN
/// (`arn:aws:states:<region>:...`), falling back to `fallback_region` when the ARN has none.
pub fn execution_console_url(execution_arn: &str, fallback_region: &str) -> String {
    let region = execution_arn
        .split(':')
        .nth(3)
        .filter(|r| !r.is_empty())
        .unwrap_or(fallback_region);
    format!(
        "https://{region}.console.aws.amazon.com/states/home?region={region}#/v2/executions/details/{execution_arn}"
    )
}

/// The links a message carries, as `(label, url)`: the execution console and the dashboard, each
/// only when known.
pub fn links(n: &Notification, cfg: &Presentation) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    if let Some(arn) = n.execution_arn.as_deref().filter(|a| a.starts_with("arn:")) {
        out.push((
            "View execution",
            execution_console_url(arn, &cfg.aws_region),
        ));
    }
    if let Some(url) = &cfg.dashboard_url {
        out.push(("View dashboard", url.clone()));
    }
    out
}

/// `2026-11-23 20:05:00 UTC`, the seed's time format.
pub fn format_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// The message's facts as `(label, value)` lines shared by every channel: reason, action, node
/// counts, cost impact, recommendation, time.
pub fn facts(n: &Notification, cfg: &Presentation) -> Vec<(&'static str, String)> {
    let mut out = vec![("Reason", n.reason.clone()), ("Action", n.action.clone())];
    match (n.nodes_before, n.nodes_after) {
        (Some(b), Some(a)) => out.push(("Nodes", format!("{b} → {a}"))),
        (None, Some(a)) => out.push(("Nodes", format!("{a}"))),
        (Some(b), None) => out.push(("Nodes", format!("{b}"))),
        (None, None) => {}
    }
    let delta = n.node_delta();
    let label = if delta < 0 {
        "Estimated savings"
    } else {
        "Estimated cost impact"
    };
    out.push((
        label,
        format_cost_per_day(cost_impact_per_day_usd(cfg, delta)),
    ));
    if let Some(r) = &n.recommendation {
        out.push(("Recommendation", r.clone()));
    }
    out.push(("Time", format_time(n.time)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cost_and_links() {
        let cfg = Presentation {
            worker_hourly_price_usd: 0.0208,
            dashboard_url: Some("https://grafana.example/d/smartscale".into()),
            ..Presentation::default()
        };
        let cases: Vec<(&str, i64, &str)> = vec![
            ("two added", 2, "+$1.00/day"),
            ("one removed", -1, "-$0.50/day"),
            ("none", 0, "$0.00/day"),
        ];
        for (name, delta, want) in cases {
            assert_eq!(
                format_cost_per_day(cost_impact_per_day_usd(&cfg, delta)),
                want,
                "case {name}"
            );
        }
        let url = execution_console_url(
            "arn:aws:states:eu-west-1:123456789012:execution:smartscale:abc",
            "us-east-1",
        );
        assert_eq!(url, "https://eu-west-1.console.aws.amazon.com/states/home?region=eu-west-1#/v2/executions/details/arn:aws:states:eu-west-1:123456789012:execution:smartscale:abc");
        assert_eq!(
            execution_console_url("arn:aws:states::1:execution:m:x", "us-east-2")
                .split('.')
                .next(),
            Some("https://us-east-2")
        );
    }
}
