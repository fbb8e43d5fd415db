//! Which metric values the engine may use: a value whose input is listed as missing or stale is
//! treated as absent, whatever number the snapshot still carries.

use crate::model::{MetricName, MetricsSnapshot, Windowed};

/// Threshold percent (0–100) as the ratio (0–1) the snapshot uses.
///
/// Dividing keeps boundaries exact: `70.0 / 100.0` is the same `f64` as the literal `0.7`, so a
/// ratio of exactly 0.7 is "at" a 70% threshold, never above it.
pub(crate) fn ratio(pct: f64) -> f64 {
    pct / 100.0
}

/// Usable values of one snapshot.
pub(crate) struct Readings<'a> {
    snapshot: &'a MetricsSnapshot,
}

impl<'a> Readings<'a> {
    /// Reads `snapshot`.
    pub(crate) fn new(snapshot: &'a MetricsSnapshot) -> Self {
        Readings { snapshot }
    }

    /// True when `metric` is neither missing nor stale.
    pub(crate) fn usable(&self, metric: MetricName) -> bool {
        !self.snapshot.missing.contains(&metric) && !self.snapshot.stale.contains(&metric)
    }

    /// `value` when `metric` is usable and the value is a number.
    pub(crate) fn value(&self, metric: MetricName, value: Option<f64>) -> Option<f64> {
        value.filter(|v| !v.is_nan() && self.usable(metric))
    }

    /// `window` when `metric` is usable and the aggregate is a number.
    pub(crate) fn window(&self, metric: MetricName, window: Option<Windowed>) -> Option<Windowed> {
        window.filter(|w| !w.value.is_nan() && self.usable(metric))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    #[test]
    fn missing_stale_and_nan_values_are_absent() {
        let mut m = MetricsSnapshot::empty(Utc::now());
        m.missing = vec![MetricName::Memory];
        m.stale = vec![MetricName::PendingPods];
        let r = Readings::new(&m);
        let cases = [
            ("usable", MetricName::Cpu, Some(0.5), Some(0.5)),
            ("missing", MetricName::Memory, Some(0.5), None),
            ("stale", MetricName::PendingPods, Some(3.0), None),
            ("nan", MetricName::Cpu, Some(f64::NAN), None),
            ("none", MetricName::Cpu, None, None),
        ];
        for (name, metric, value, want) in cases {
            assert_eq!(r.value(metric, value), want, "case {name}");
        }
        assert_eq!(ratio(70.0), 0.7);
    }
}
