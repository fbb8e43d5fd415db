//! `smartscale backtest`: SmartScale over one scenario with the forecast off, forecast-only and
//! on (and the seed's rules for reference), next to the Cluster Autoscaler model and the oracle,
//! with the forecast's error per local hour of the week.

use crate::policy::PolicyKind;
use crate::run::{self, Summary};
use crate::scenario::Scenario;
use crate::tune::with_settings;
use smartscale_engine::engine::forecast::HourError;
use std::fmt::Write as _;

/// The SmartScale variants a backtest compares: (label, settings over the scenario's `[policy]`).
pub const VARIANTS: [(&str, &[(&str, &str)]); 4] = [
    (
        "seed rules",
        &[
            ("SCALE_UP_CPU_ALONE_THRESHOLD", "0"),
            ("FORECAST_MODE", "off"),
            ("SCALE_UP_MAX_INCREMENT", "4"),
        ],
    ),
    ("forecast off", &[("FORECAST_MODE", "off")]),
    ("forecast-only", &[("FORECAST_MODE", "forecast-only")]),
    ("forecast on", &[("FORECAST_MODE", "on")]),
];

/// One backtest: each variant's totals, the two references, and the forecast-only run's error
/// per local hour of the week.
#[derive(Debug, Clone)]
pub struct Backtest {
    /// (label, totals), variants first, then the CA model and the oracle.
    pub rows: Vec<(String, Summary)>,
    /// The forecast-only run's errors, index = local hour of the week.
    pub errors: Vec<HourError>,
}

/// Runs the backtest of `scenario`.
///
/// Errors: a variant's settings make an invalid policy for this scenario.
pub fn run(scenario: &Scenario) -> Result<Backtest, String> {
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    let oracle = run::run(scenario, PolicyKind::Oracle, &mut |_| {}).summary;
    for (label, settings) in VARIANTS {
        let settings: Vec<(String, String)> = settings
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let s = with_settings(scenario, &settings)?;
        let r = run::run(&s, PolicyKind::SmartScale, &mut |_| {});
        if label == "forecast-only" {
            errors = r.forecast_errors.clone();
        }
        rows.push((label.to_string(), r.summary));
    }
    let ca = run::run(scenario, PolicyKind::ClusterAutoscalerModel, &mut |_| {}).summary;
    rows.push(("cluster-autoscaler-model".into(), ca));
    rows.push(("oracle".into(), oracle.clone()));
    for (_, s) in &mut rows {
        if oracle.node_hours > 0.0 {
            s.vs_oracle = s.node_hours / oracle.node_hours;
        }
    }
    Ok(Backtest { rows, errors })
}

impl Backtest {
    /// The totals table and the error grid, for people.
    pub fn table(&self, scenario: &Scenario) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "Backtest {} ({:.0} h reported{}): SmartScale's forecast modes against the CA model and the oracle",
            scenario.name,
            self.rows.first().map_or(0.0, |r| r.1.duration_hours),
            if scenario.simulation.warm_up_secs > 0 {
                format!(", after a {:.0} h warm-up", scenario.simulation.warm_up_secs as f64 / 3600.0)
            } else {
                String::new()
            }
        );
        let head = format!(
            "{:<26} {:>8} {:>9} {:>10} {:>9} {:>9} {:>9}",
            "policy", "node-h", "× oracle", "pend p-min", "max pend", "overload", "actions/h"
        );
        let _ = writeln!(out, "{head}\n{}", "-".repeat(head.len()));
        for (label, s) in &self.rows {
            let _ = writeln!(
                out,
                "{:<26} {:>8.1} {:>9.3} {:>10.1} {:>8.0}s {:>9.1} {:>9.2}",
                label,
                s.node_hours,
                s.vs_oracle,
                s.pending_pod_minutes,
                s.max_pending_seconds,
                s.overload_minutes,
                f64::from(s.scale_ups + s.scale_downs) / s.duration_hours.max(1e-9)
            );
        }
        let _ = writeln!(
            out,
            "\nForecast error (forecast-only run), mean |forecast − need| in workers per local hour (· = no forecast):"
        );
        let _ = write!(out, "{:<4}", "");
        for h in 0..24 {
            let _ = write!(out, "{h:>5}");
        }
        out.push('\n');
        for (d, day) in ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
            .iter()
            .enumerate()
        {
            let _ = write!(out, "{day:<4}");
            for h in 0..24 {
                match self.errors.get(d * 24 + h).and_then(HourError::mean_abs) {
                    Some(e) => {
                        let _ = write!(out, "{e:>5.2}");
                    }
                    None => {
                        let _ = write!(out, "{:>5}", "·");
                    }
                }
            }
            out.push('\n');
        }
        let (n, sum) = self
            .errors
            .iter()
            .fold((0u32, 0.0), |(n, s), e| (n + e.count, s + e.abs_sum));
        if n > 0 {
            let _ = writeln!(
                out,
                "overall: {:.2} workers mean absolute error over {n} ten-minute buckets",
                sum / f64::from(n)
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_modes_differ_only_where_the_forecast_acts() {
        let s = crate::builtin::scenario("flash-sale").unwrap();
        let b = run(&s).unwrap();
        let by = |l: &str| {
            b.rows
                .iter()
                .find(|r| r.0 == l)
                .map(|r| r.1.clone())
                .unwrap()
        };
        // Forecast-only decides as off.
        assert_eq!(
            by("forecast off").node_hours,
            by("forecast-only").node_hours
        );
        assert_eq!(by("oracle").vs_oracle, 1.0);
        assert!(b.table(&s).contains("Forecast error"));
    }
}
