//! Which PromQL SmartScale asks, built from the recorded series of
//! `cdk/prometheus/rules/smartscale-rules.yml` (docs/METRICS.md explains each one).
//!
//! Every query returns, in one instant vector, up to three series told apart by the label
//! [`FIELD_LABEL`]: the value (no such label), the timestamp of the newest sample of the series
//! whose freshness counts (`timestamp`), and for windows the number of samples the window holds
//! (`samples`). One round trip per input therefore says what the value is, how old it is and
//! whether its window is met.

use crate::model::MetricName;

/// The label that tells the parts of one query's answer apart.
pub const FIELD_LABEL: &str = "smartscale_field";
/// [`FIELD_LABEL`] value of the series holding the sample timestamp (Unix seconds).
pub const FIELD_TIMESTAMP: &str = "timestamp";
/// [`FIELD_LABEL`] value of the series holding a window's sample count.
pub const FIELD_SAMPLES: &str = "samples";

/// Recorded names of the base series (the contract with the rules file).
pub mod recorded {
    /// Mean worker CPU utilisation, 0..1.
    pub const CPU: &str = "smartscale:cpu_utilisation:ratio";
    /// Worker memory utilisation, 0..1.
    pub const MEMORY: &str = "smartscale:memory_utilisation:ratio";
    /// Pods in phase Pending.
    pub const PENDING_PODS: &str = "smartscale:pending_pods:count";
    /// Messages in all RabbitMQ queues.
    pub const QUEUE_DEPTH: &str = "smartscale:queue_depth:messages";
    /// Application p95 latency, seconds.
    pub const LATENCY_P95: &str = "smartscale:http_latency_p95:seconds";
    /// Application 5xx ratio, 0..1.
    pub const ERROR_RATE: &str = "smartscale:http_error_rate:ratio";
}

/// What a value must look like to be accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    /// A fraction: finite and within 0..=1.
    Ratio,
    /// A count, duration or size: finite and at least 0.
    NonNegative,
}

/// What "the value series is absent" means for an input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhenAbsent {
    /// Nothing to count: zero (pending pods; a window then holds zero samples).
    Zero,
    /// The input is missing.
    Missing,
}

/// Which aggregate a window takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Aggregate {
    /// `min_over_time`: "above X for the whole window".
    Min,
    /// `max_over_time`: "below X for the whole window".
    Max,
}

impl Aggregate {
    fn function(self) -> &'static str {
        match self {
            Aggregate::Min => "min_over_time",
            Aggregate::Max => "max_over_time",
        }
    }

    fn suffix(self) -> &'static str {
        match self {
            Aggregate::Min => "min",
            Aggregate::Max => "max",
        }
    }
}

/// The snapshot field a query fills.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Slot {
    /// `cpu_ratio`.
    Cpu,
    /// `cpu_min_up_window`.
    CpuUpWindow,
    /// `cpu_max_down_window`.
    CpuDownWindow,
    /// `memory_ratio`.
    Memory,
    /// `pending_pods`.
    PendingPods,
    /// `pending_pods_min_window`.
    PendingPodsWindow,
    /// `queue_depth`.
    QueueDepth,
    /// `queue_depth_max_down_window`.
    QueueDepthDownWindow,
    /// `latency_p95_secs`.
    LatencyP95,
    /// `error_rate_ratio`.
    ErrorRate,
    /// `error_rate_min_window`.
    ErrorRateWindow,
}

/// One query to run and how to read its answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    /// The field it fills.
    pub slot: Slot,
    /// The input it belongs to, for the `missing`/`stale` lists.
    pub metric: MetricName,
    /// Value validation.
    pub kind: ValueKind,
    /// Meaning of an absent value series.
    pub when_absent: WhenAbsent,
    /// True for windows: the answer carries a sample count.
    pub windowed: bool,
    /// The PromQL sent as `query=`.
    pub promql: String,
}

/// Window lengths the engine is configured with, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Windows {
    /// CPU "above the scale-up threshold for" (`SCALE_UP_WINDOW`, default 180).
    pub scale_up_secs: u64,
    /// CPU and queue "below the scale-down threshold for" (`SCALE_DOWN_WINDOW`, default 600).
    pub scale_down_secs: u64,
    /// "Pods pending for" (`PENDING_PODS_WINDOW`, default 180).
    pub pending_pods_secs: u64,
    /// "Error rate above the threshold for" (`ERROR_RATE_WINDOW`, default 120).
    pub error_rate_secs: u64,
}

impl Default for Windows {
    fn default() -> Self {
        Windows {
            scale_up_secs: 180,
            scale_down_secs: 600,
            pending_pods_secs: 180,
            error_rate_secs: 120,
        }
    }
}

impl Windows {
    /// The windows of `cfg`.
    pub fn from_config(cfg: &crate::Config) -> Self {
        Windows {
            scale_up_secs: cfg.scale_up_window_secs,
            scale_down_secs: cfg.scale_down_window_secs,
            pending_pods_secs: cfg.pending_pods_window_secs,
            error_rate_secs: cfg.error_rate_window_secs,
        }
    }
}

/// Windows the rules file records, by base series, aggregate and length.
const RECORDED_WINDOWS: [(&str, Aggregate, u64, &str); 5] = [
    (recorded::CPU, Aggregate::Min, 180, "3m"),
    (recorded::CPU, Aggregate::Max, 600, "10m"),
    (recorded::PENDING_PODS, Aggregate::Min, 180, "3m"),
    (recorded::ERROR_RATE, Aggregate::Min, 120, "2m"),
    (recorded::QUEUE_DEPTH, Aggregate::Max, 600, "10m"),
];

/// `x or label_replace(timestamp(x), …)`: the value and its newest sample's timestamp.
pub fn instant(series: &str) -> String {
    format!(
        "{series} or {}",
        tag(&format!("timestamp({series})"), FIELD_TIMESTAMP)
    )
}

/// A window over `base`: its aggregate, the timestamp of the newest sample behind it, and its
/// sample count. Uses the recorded window when the rules file has this length, otherwise the
/// same expression inline (`count_over_time(base[w] offset 1s)`, see docs/METRICS.md).
pub fn window(base: &str, agg: Aggregate, secs: u64) -> String {
    let recorded = RECORDED_WINDOWS
        .iter()
        .find(|(b, a, s, _)| *b == base && *a == agg && *s == secs);
    let (value, samples, fresh) = match recorded {
        Some((_, _, _, label)) => {
            let stem = base.rsplit_once(':').map_or(base, |(stem, _)| stem);
            let value = format!("{stem}:{}_{label}", agg.suffix());
            let samples = format!("{stem}:samples_{label}");
            (value.clone(), samples, value)
        }
        None => (
            format!("{}({base}[{secs}s])", agg.function()),
            format!("count_over_time({base}[{secs}s] offset 1s)"),
            base.to_string(),
        ),
    };
    format!(
        "{value} or {} or {}",
        tag(&format!("timestamp({fresh})"), FIELD_TIMESTAMP),
        tag(&samples, FIELD_SAMPLES)
    )
}

fn tag(expr: &str, field: &str) -> String {
    format!("label_replace({expr}, \"{FIELD_LABEL}\", \"{field}\", \"\", \"\")")
}

/// Every query one snapshot runs, for the configured windows.
pub fn plan(w: &Windows) -> Vec<Query> {
    use recorded::*;
    let q = |slot, metric, kind, when_absent, windowed, promql| Query {
        slot,
        metric,
        kind,
        when_absent,
        windowed,
        promql,
    };
    vec![
        q(
            Slot::Cpu,
            MetricName::Cpu,
            ValueKind::Ratio,
            WhenAbsent::Missing,
            false,
            instant(CPU),
        ),
        q(
            Slot::CpuUpWindow,
            MetricName::Cpu,
            ValueKind::Ratio,
            WhenAbsent::Missing,
            true,
            window(CPU, Aggregate::Min, w.scale_up_secs),
        ),
        q(
            Slot::CpuDownWindow,
            MetricName::Cpu,
            ValueKind::Ratio,
            WhenAbsent::Missing,
            true,
            window(CPU, Aggregate::Max, w.scale_down_secs),
        ),
        q(
            Slot::Memory,
            MetricName::Memory,
            ValueKind::Ratio,
            WhenAbsent::Missing,
            false,
            instant(MEMORY),
        ),
        q(
            Slot::PendingPods,
            MetricName::PendingPods,
            ValueKind::NonNegative,
            WhenAbsent::Zero,
            false,
            instant(PENDING_PODS),
        ),
        q(
            Slot::PendingPodsWindow,
            MetricName::PendingPods,
            ValueKind::NonNegative,
            WhenAbsent::Zero,
            true,
            window(PENDING_PODS, Aggregate::Min, w.pending_pods_secs),
        ),
        q(
            Slot::QueueDepth,
            MetricName::QueueDepth,
            ValueKind::NonNegative,
            WhenAbsent::Missing,
            false,
            instant(QUEUE_DEPTH),
        ),
        q(
            Slot::QueueDepthDownWindow,
            MetricName::QueueDepth,
            ValueKind::NonNegative,
            WhenAbsent::Missing,
            true,
            window(QUEUE_DEPTH, Aggregate::Max, w.scale_down_secs),
        ),
        q(
            Slot::LatencyP95,
            MetricName::LatencyP95,
            ValueKind::NonNegative,
            WhenAbsent::Missing,
            false,
            instant(LATENCY_P95),
        ),
        q(
            Slot::ErrorRate,
            MetricName::ErrorRate,
            ValueKind::Ratio,
            WhenAbsent::Missing,
            false,
            instant(ERROR_RATE),
        ),
        q(
            Slot::ErrorRateWindow,
            MetricName::ErrorRate,
            ValueKind::Ratio,
            WhenAbsent::Missing,
            true,
            window(ERROR_RATE, Aggregate::Min, w.error_rate_secs),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_use_recorded_series_when_the_length_matches_and_inline_otherwise() {
        let cases = [
            (
                "recorded 3m cpu minimum",
                window(recorded::CPU, Aggregate::Min, 180),
                "smartscale:cpu_utilisation:min_3m or label_replace(timestamp(smartscale:cpu_utilisation:min_3m), \"smartscale_field\", \"timestamp\", \"\", \"\") or label_replace(smartscale:cpu_utilisation:samples_3m, \"smartscale_field\", \"samples\", \"\", \"\")",
            ),
            (
                "recorded 10m queue maximum",
                window(recorded::QUEUE_DEPTH, Aggregate::Max, 600),
                "smartscale:queue_depth:max_10m or label_replace(timestamp(smartscale:queue_depth:max_10m), \"smartscale_field\", \"timestamp\", \"\", \"\") or label_replace(smartscale:queue_depth:samples_10m, \"smartscale_field\", \"samples\", \"\", \"\")",
            ),
            (
                "inline 5m cpu minimum",
                window(recorded::CPU, Aggregate::Min, 300),
                "min_over_time(smartscale:cpu_utilisation:ratio[300s]) or label_replace(timestamp(smartscale:cpu_utilisation:ratio), \"smartscale_field\", \"timestamp\", \"\", \"\") or label_replace(count_over_time(smartscale:cpu_utilisation:ratio[300s] offset 1s), \"smartscale_field\", \"samples\", \"\", \"\")",
            ),
            (
                "instant memory",
                instant(recorded::MEMORY),
                "smartscale:memory_utilisation:ratio or label_replace(timestamp(smartscale:memory_utilisation:ratio), \"smartscale_field\", \"timestamp\", \"\", \"\")",
            ),
        ];
        for (name, got, want) in cases {
            assert_eq!(got, want, "case {name}");
        }
    }

    #[test]
    fn plan_covers_every_snapshot_field_once() {
        let plan = plan(&Windows::default());
        let mut slots: Vec<_> = plan.iter().map(|q| format!("{:?}", q.slot)).collect();
        slots.sort();
        slots.dedup();
        assert_eq!(slots.len(), 11);
        assert_eq!(plan.len(), 11);
        assert!(plan
            .iter()
            .filter(|q| q.windowed)
            .all(|q| q.promql.contains(FIELD_SAMPLES)));
        let zero: Vec<_> = plan
            .iter()
            .filter(|q| q.when_absent == WhenAbsent::Zero)
            .map(|q| q.metric)
            .collect();
        assert!(
            zero.iter().all(|m| *m == MetricName::PendingPods),
            "only pending pods read absent as zero"
        );
    }
}
