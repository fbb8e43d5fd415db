//! `smartscale tune`: SmartScale over one scenario (the user's own trace) with each configuration
//! of a grid of policy settings; the cheapest that meets a stated SLO is recommended, next to the
//! current settings, with the Pareto front of cost against pending pod-minutes.

use crate::policy::PolicyKind;
use crate::run::{self, Summary};
use crate::scenario::Scenario;
use std::fmt::Write as _;

/// The SLO a configuration must meet.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Slo {
    /// Longest a pod may stay Pending, seconds.
    pub max_pending_secs: f64,
    /// Overload minutes allowed.
    pub max_overload_minutes: f64,
}

/// One configuration tried, with what it did.
#[derive(Debug, Clone, PartialEq)]
pub struct Trial {
    /// The settings changed from the scenario's `[policy]`, as environment variables.
    pub settings: Vec<(String, String)>,
    /// SmartScale's totals with them.
    pub summary: Summary,
}

impl Trial {
    /// Whether it meets `slo`.
    pub fn meets(&self, slo: Slo) -> bool {
        self.summary.max_pending_seconds <= slo.max_pending_secs
            && self.summary.overload_minutes <= slo.max_overload_minutes
    }

    fn label(&self) -> String {
        if self.settings.is_empty() {
            "current".into()
        } else {
            self.settings
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(" ")
        }
    }
}

/// The grid searched: each setting with the values tried (the scenario's own value is the
/// "current" trial).
pub const GRID: [(&str, &[&str]); 5] = [
    ("SCALE_UP_CPU_ALONE_THRESHOLD", &["0", "75", "80", "85"]),
    ("SCALE_DOWN_PROJECTED_CPU", &["55", "65"]),
    ("SCALE_DOWN_WINDOW", &["300", "600"]),
    ("FORECAST_MODE", &["off", "on"]),
    ("FORECAST_HORIZON", &["600", "900"]),
];

/// Every configuration of [`GRID`] that the policy accepts, as settings.
pub fn configurations() -> Vec<Vec<(String, String)>> {
    let mut out: Vec<Vec<(String, String)>> = vec![Vec::new()];
    for (name, values) in GRID {
        out = out
            .into_iter()
            .flat_map(|base| {
                values.iter().map(move |v| {
                    let mut c = base.clone();
                    c.push((name.to_string(), v.to_string()));
                    c
                })
            })
            .collect();
    }
    out.retain(|c| {
        // A horizon only matters with the forecast on.
        !(c.iter().any(|(k, v)| k == "FORECAST_MODE" && v == "off")
            && c.iter().any(|(k, v)| k == "FORECAST_HORIZON" && v != "600"))
    });
    out
}

/// `scenario` with `settings` applied over its `[policy]`, or the policy's complaint.
///
/// Errors: the settings make an invalid policy (the problems, rendered).
pub fn with_settings(
    scenario: &Scenario,
    settings: &[(String, String)],
) -> Result<Scenario, String> {
    let mut vars = scenario.policy_overrides.clone();
    for (k, v) in settings {
        vars.insert(k.clone(), v.clone());
    }
    if !vars.contains_key("CLUSTER_TIMEZONE") {
        let offset = scenario.policy.cluster_utc_offset_secs;
        vars.insert(
            "CLUSTER_TIMEZONE".into(),
            format!(
                "{}{:02}:{:02}",
                if offset < 0 { '-' } else { '+' },
                offset.abs() / 3600,
                offset.abs() % 3600 / 60
            ),
        );
    }
    let policy = smartscale_engine::Policy::from_lookup(|k| vars.get(k).cloned())
        .map_err(|e| e.to_string())?;
    let mut s = scenario.clone();
    s.policy = policy;
    s.policy_overrides = vars;
    Ok(s)
}

/// Runs SmartScale over `scenario` with the current settings and every configuration of the
/// grid; `done` is called after each. The first trial is the current one.
pub fn search(scenario: &Scenario, done: &mut dyn FnMut(usize, usize)) -> Vec<Trial> {
    let mut configs = vec![Vec::new()];
    configs.extend(configurations());
    let total = configs.len();
    let mut out = Vec::with_capacity(total);
    for (i, settings) in configs.into_iter().enumerate() {
        if let Ok(s) = with_settings(scenario, &settings) {
            let r = run::run(&s, PolicyKind::SmartScale, &mut |_| {});
            out.push(Trial {
                settings,
                summary: r.summary,
            });
        }
        done(i + 1, total);
    }
    out
}

/// The trials no other trial beats on both cost and pending pod-minutes, cheapest first.
pub fn pareto(trials: &[Trial]) -> Vec<&Trial> {
    let mut front: Vec<&Trial> = trials
        .iter()
        .filter(|t| {
            !trials.iter().any(|o| {
                let (a, b) = (&o.summary, &t.summary);
                (a.cost_usd <= b.cost_usd && a.pending_pod_minutes <= b.pending_pod_minutes)
                    && (a.cost_usd < b.cost_usd || a.pending_pod_minutes < b.pending_pod_minutes)
            })
        })
        .collect();
    front.sort_by(|a, b| a.summary.cost_usd.total_cmp(&b.summary.cost_usd));
    front.dedup_by(|a, b| {
        a.summary.cost_usd == b.summary.cost_usd
            && a.summary.pending_pod_minutes == b.summary.pending_pod_minutes
    });
    front
}

/// The cheapest trial meeting `slo` (the fewest settings changed on a tie), if any.
pub fn recommend(trials: &[Trial], slo: Slo) -> Option<&Trial> {
    trials.iter().filter(|t| t.meets(slo)).min_by(|a, b| {
        a.summary
            .cost_usd
            .total_cmp(&b.summary.cost_usd)
            .then(a.settings.len().cmp(&b.settings.len()))
    })
}

fn row(out: &mut String, name: &str, t: &Trial, slo: Slo) {
    let s = &t.summary;
    let _ = writeln!(
        out,
        "{:<12} {:>8.1} {:>8.2} {:>10.1} {:>9.0}s {:>9.1} {:>6}  {}",
        name,
        s.node_hours,
        s.cost_usd,
        s.pending_pod_minutes,
        s.max_pending_seconds,
        s.overload_minutes,
        if t.meets(slo) { "yes" } else { "no" },
        t.label()
    );
}

/// The report: the SLO, current against recommended, the environment variables to set, and the
/// Pareto front.
pub fn report(scenario: &Scenario, trials: &[Trial], slo: Slo) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Tune {}: {} configurations of SmartScale; SLO: no pod Pending over {:.0}s, at most {:.1} overload minutes",
        scenario.name,
        trials.len(),
        slo.max_pending_secs,
        slo.max_overload_minutes
    );
    let head = format!(
        "{:<12} {:>8} {:>8} {:>10} {:>10} {:>9} {:>6}  settings",
        "", "node-h", "cost $", "pend p-min", "max pend", "overload", "SLO"
    );
    let _ = writeln!(out, "{head}\n{}", "-".repeat(head.len() + 20));
    if let Some(current) = trials.first() {
        row(&mut out, "current", current, slo);
    }
    match recommend(trials, slo) {
        Some(best) => {
            row(&mut out, "recommended", best, slo);
            let _ = writeln!(
                out,
                "\nSet (environment variables of the functions, or the scenario's [policy]):"
            );
            if best.settings.is_empty() {
                let _ = writeln!(
                    out,
                    "  (nothing: the current settings are the cheapest that meet the SLO)"
                );
            }
            for (k, v) in &best.settings {
                let _ = writeln!(out, "  {k}={v}");
            }
        }
        None => {
            let _ = writeln!(
                out,
                "\nNo configuration of the grid meets the SLO; the Pareto front below shows the trade-off."
            );
        }
    }
    let _ = writeln!(
        out,
        "\nPareto front (cost against pending pod-minutes), cheapest first:\n{head}"
    );
    for (i, t) in pareto(trials).into_iter().enumerate() {
        row(&mut out, &format!("#{}", i + 1), t, slo);
    }
    out
}

/// The Pareto front as an SVG scatter: every trial grey, the front joined in blue, the
/// recommendation circled.
pub fn chart_svg(trials: &[Trial], slo: Slo) -> String {
    let (w, h, m) = (640.0, 400.0, 60.0);
    let xs: Vec<f64> = trials.iter().map(|t| t.summary.cost_usd).collect();
    let ys: Vec<f64> = trials
        .iter()
        .map(|t| t.summary.pending_pod_minutes)
        .collect();
    let (x0, x1) = bounds(&xs);
    let (y0, y1) = bounds(&ys);
    let px = |x: f64| m + (x - x0) / (x1 - x0) * (w - 2.0 * m);
    let py = |y: f64| h - m - (y - y0) / (y1 - y0) * (h - 2.0 * m);
    let mut svg = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
<text x="{m}" y="24" font-size="14">smartscale tune: cost against pending pod-minutes ({} configurations)</text>
<line x1="{m}" y1="{}" x2="{}" y2="{}" stroke="black"/><line x1="{m}" y1="{m}" x2="{m}" y2="{}" stroke="black"/>
<text x="{}" y="{}" text-anchor="middle">cost, USD ({x0:.2} to {x1:.2})</text>
<text x="16" y="{}" transform="rotate(-90 16 {})" text-anchor="middle">pending pod-minutes ({y0:.0} to {y1:.0})</text>
"#,
        trials.len(),
        h - m,
        w - m,
        h - m,
        h - m,
        w / 2.0,
        h - 20.0,
        h / 2.0,
        h / 2.0
    );
    for t in trials {
        let colour = if t.meets(slo) { "#2a9d2a" } else { "#999" };
        let _ = writeln!(
            svg,
            r##"<circle cx="{:.1}" cy="{:.1}" r="3" fill="{colour}"/>"##,
            px(t.summary.cost_usd),
            py(t.summary.pending_pod_minutes)
        );
    }
    let front: Vec<String> = pareto(trials)
        .iter()
        .map(|t| {
            format!(
                "{:.1},{:.1}",
                px(t.summary.cost_usd),
                py(t.summary.pending_pod_minutes)
            )
        })
        .collect();
    let _ = writeln!(
        svg,
        r##"<polyline points="{}" fill="none" stroke="#1f5fbf" stroke-width="2"/>"##,
        front.join(" ")
    );
    if let Some(b) = recommend(trials, slo) {
        let _ = writeln!(
            svg,
            r##"<circle cx="{:.1}" cy="{:.1}" r="8" fill="none" stroke="#d62728" stroke-width="2"/><text x="{:.1}" y="{:.1}" fill="#d62728">recommended</text>"##,
            px(b.summary.cost_usd),
            py(b.summary.pending_pod_minutes),
            px(b.summary.cost_usd) + 10.0,
            py(b.summary.pending_pod_minutes) - 10.0
        );
    }
    let _ = writeln!(
        svg,
        r##"<text x="{}" y="44" fill="#2a9d2a">green: meets the SLO</text><text x="{}" y="60" fill="#1f5fbf">blue: Pareto front</text>"##,
        w - 220.0,
        w - 220.0
    );
    svg.push_str("</svg>\n");
    svg
}

fn bounds(v: &[f64]) -> (f64, f64) {
    let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if !lo.is_finite() || !hi.is_finite() {
        return (0.0, 1.0);
    }
    if hi - lo < 1e-9 {
        (lo - 0.5, hi + 0.5)
    } else {
        (lo, hi)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trial(cost: f64, pending: f64, max_pending: f64, settings: usize) -> Trial {
        let mut summary = crate::run::run(
            &crate::builtin::scenario("flash-sale").unwrap(),
            PolicyKind::Baseline,
            &mut |_| {},
        )
        .summary;
        summary.cost_usd = cost;
        summary.pending_pod_minutes = pending;
        summary.max_pending_seconds = max_pending;
        summary.overload_minutes = 0.0;
        Trial {
            settings: (0..settings)
                .map(|i| (format!("K{i}"), "v".into()))
                .collect(),
            summary,
        }
    }

    #[test]
    fn the_front_and_the_recommendation() {
        let trials = vec![
            trial(10.0, 50.0, 100.0, 0),
            trial(8.0, 60.0, 200.0, 1),
            trial(9.0, 40.0, 150.0, 2),
            trial(11.0, 45.0, 90.0, 1),
            trial(12.0, 30.0, 60.0, 3),
        ];
        let costs: Vec<f64> = pareto(&trials).iter().map(|t| t.summary.cost_usd).collect();
        assert_eq!(costs, vec![8.0, 9.0, 12.0], "10 and 11 are beaten by 9");
        let slo = |secs| Slo {
            max_pending_secs: secs,
            max_overload_minutes: 0.0,
        };
        assert_eq!(
            recommend(&trials, slo(180.0)).map(|t| t.summary.cost_usd),
            Some(9.0)
        );
        assert_eq!(
            recommend(&trials, slo(95.0)).map(|t| t.summary.cost_usd),
            Some(11.0)
        );
        assert!(recommend(&trials, slo(10.0)).is_none());
        assert!(chart_svg(&trials, slo(180.0)).contains("recommended"));
    }

    #[test]
    fn the_grid_holds_valid_configurations_only() {
        let s = crate::builtin::scenario("flash-sale").unwrap();
        let configs = configurations();
        assert_eq!(configs.len(), 4 * 2 * 2 * 3);
        for c in &configs {
            with_settings(&s, c).unwrap_or_else(|e| panic!("{c:?}: {e}"));
        }
    }
}
