//! Charts as hand-written SVG: stacked panels sharing a time axis in the scenario's local time,
//! lines for series, triangles for scaling events. Long timelines are reduced to one minimum and
//! one maximum per pixel column, so peaks and dips survive.

use crate::policy::EventKind;
use crate::run::RunResult;
use crate::scenario::Scenario;
use chrono::Duration;
use std::fmt::Write as _;

const WIDTH: f64 = 1200.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 250.0;
const PANEL_H: f64 = 220.0;
const GAP: f64 = 50.0;
const TOP: f64 = 50.0;
const COLORS: [&str; 5] = ["#1f77b4", "#7f7f7f", "#2ca02c", "#9467bd", "#e377c2"];

/// One line.
struct Series {
    name: String,
    color: &'static str,
    dashed: bool,
    points: Vec<(i64, f64)>,
}

/// A scaling event mark.
struct Marker {
    t: i64,
    y: f64,
    up: bool,
    color: &'static str,
}

/// One panel.
struct Panel {
    title: String,
    series: Vec<Series>,
    markers: Vec<Marker>,
}

/// The chart of one policy's run: CPU demand and Ready capacity (cores); workers billed and
/// Ready, Pending pods, and its scale-ups (▲) and scale-downs (▼).
pub fn single(scenario: &Scenario, r: &RunResult) -> String {
    let tl = &r.timeline;
    let series = |name: &str, color, dashed, f: &dyn Fn(&crate::run::Row) -> f64| Series {
        name: name.into(),
        color,
        dashed,
        points: tl.iter().map(|x| (x.t, f(x))).collect(),
    };
    let cpu = Panel {
        title: "CPU, cores".into(),
        series: vec![
            series("demand", "#d62728", false, &|x| x.demand_cores),
            series("Ready capacity", COLORS[0], false, &|x| x.capacity_cores),
            series("served", "#ff7f0e", true, &|x| x.served_cores),
        ],
        markers: Vec::new(),
    };
    let nodes_at = |t: i64| {
        tl.iter()
            .rev()
            .find(|x| x.t <= t)
            .map_or(0.0, |x| x.nodes as f64)
    };
    let workers = Panel {
        title: "Workers".into(),
        series: vec![
            series("billed", COLORS[0], false, &|x| x.nodes as f64),
            series("Ready", COLORS[2], true, &|x| x.ready_nodes as f64),
        ],
        markers: markers(r, "#000", &nodes_at),
    };
    let pending = Panel {
        title: "Pending pods".into(),
        series: vec![series("pending", "#8c564b", false, &|x| {
            x.pending_pods as f64
        })],
        markers: Vec::new(),
    };
    render(
        scenario,
        &format!("{}: {}", scenario.name, r.summary.policy),
        &[cpu, workers, pending],
    )
}

/// The comparison chart of every policy: demand against each policy's Ready capacity, and each
/// policy's workers with its scaling events.
pub fn compare(scenario: &Scenario, results: &[RunResult]) -> String {
    let mut cpu = Panel {
        title: "CPU, cores: demand and Ready capacity".into(),
        series: Vec::new(),
        markers: Vec::new(),
    };
    if let Some(first) = results
        .iter()
        .find(|r| r.policy == crate::policy::PolicyKind::SmartScale)
        .or(results.first())
    {
        cpu.series.push(Series {
            name: "demand (SmartScale run)".into(),
            color: "#d62728",
            dashed: false,
            points: first
                .timeline
                .iter()
                .map(|x| (x.t, x.demand_cores))
                .collect(),
        });
    }
    let mut workers = Panel {
        title: "Workers billed (▲ scale-up, ▼ scale-down)".into(),
        series: Vec::new(),
        markers: Vec::new(),
    };
    let mut pending = Panel {
        title: "Pending pods".into(),
        series: Vec::new(),
        markers: Vec::new(),
    };
    for (i, r) in results.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        let tl = &r.timeline;
        cpu.series.push(Series {
            name: format!("{} capacity", r.summary.policy),
            color,
            dashed: i > 0,
            points: tl.iter().map(|x| (x.t, x.capacity_cores)).collect(),
        });
        workers.series.push(Series {
            name: r.summary.policy.clone(),
            color,
            dashed: i > 0,
            points: tl.iter().map(|x| (x.t, x.nodes as f64)).collect(),
        });
        pending.series.push(Series {
            name: r.summary.policy.clone(),
            color,
            dashed: i > 0,
            points: tl.iter().map(|x| (x.t, x.pending_pods as f64)).collect(),
        });
        let nodes_at = |t: i64| {
            tl.iter()
                .rev()
                .find(|x| x.t <= t)
                .map_or(0.0, |x| x.nodes as f64)
        };
        // The bound acts every tick; its marks would hide the others'.
        if !r.policy.is_bound() {
            workers.markers.extend(markers(r, color, &nodes_at));
        }
    }
    render(
        scenario,
        &format!(
            "{}: policies compared (the CA and Karpenter rows are models, the oracle the bound)",
            scenario.name
        ),
        &[cpu, workers, pending],
    )
}

fn markers(r: &RunResult, color: &'static str, nodes_at: &dyn Fn(i64) -> f64) -> Vec<Marker> {
    r.events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::ScaleUp | EventKind::ScaleDown))
        .map(|e| Marker {
            t: e.t,
            y: nodes_at(e.t),
            up: e.kind == EventKind::ScaleUp,
            color,
        })
        .collect()
}

/// Keeps the first and last point and, per pixel column, the lowest and highest value.
fn reduce(points: &[(i64, f64)], t0: i64, t1: i64, columns: usize) -> Vec<(i64, f64)> {
    if points.len() <= columns * 2 {
        return points.to_vec();
    }
    let span = (t1 - t0).max(1) as f64;
    let mut out = Vec::with_capacity(columns * 2 + 2);
    let mut i = 0;
    while i < points.len() {
        let col = ((points[i].0 - t0) as f64 / span * columns as f64) as usize;
        let (mut lo, mut hi) = (points[i], points[i]);
        let mut j = i;
        while j < points.len()
            && ((points[j].0 - t0) as f64 / span * columns as f64) as usize == col
        {
            if points[j].1 < lo.1 {
                lo = points[j];
            }
            if points[j].1 > hi.1 {
                hi = points[j];
            }
            j += 1;
        }
        if lo.0 <= hi.0 {
            out.extend([lo, hi]);
        } else {
            out.extend([hi, lo]);
        }
        i = j;
    }
    out
}

fn nice_step(max: f64) -> f64 {
    let raw = (max / 5.0).max(1e-9);
    let mag = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag)
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn render(scenario: &Scenario, title: &str, panels: &[Panel]) -> String {
    let t0 = 0i64;
    let t1 = scenario.trace.duration_secs().ceil().max(1.0) as i64;
    let plot_w = WIDTH - LEFT - RIGHT;
    let height = TOP + panels.len() as f64 * (PANEL_H + GAP) + 10.0;
    let x = |t: i64| LEFT + (t - t0) as f64 / (t1 - t0) as f64 * plot_w;
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="{LEFT}" y="24" font-size="16" font-weight="bold">{}</text>"#,
        escape(title)
    );
    let _ = writeln!(
        s,
        r##"<text x="{LEFT}" y="40" fill="#555">time in UTC{} (scenario start {})</text>"##,
        scenario.start.format("%:z"),
        scenario.start.format("%a %Y-%m-%d %H:%M")
    );
    // Time ticks: every day for runs over two days, else every hour (or 30 min under 6 h).
    let step = match t1 {
        d if d > 2 * 86_400 => 86_400,
        d if d > 6 * 3600 => 3 * 3600,
        d if d > 3 * 3600 => 1800,
        _ => 900,
    };
    let offset = scenario.start.offset().local_minus_utc() as i64;
    let local0 = scenario.start.timestamp() + offset;
    let first_tick = (step - local0.rem_euclid(step)) % step;

    for (p, panel) in panels.iter().enumerate() {
        let top = TOP + 10.0 + p as f64 * (PANEL_H + GAP);
        let bottom = top + PANEL_H;
        let ymax = panel
            .series
            .iter()
            .flat_map(|se| se.points.iter().map(|q| q.1))
            .fold(0.0f64, f64::max)
            .max(1.0)
            * 1.08;
        let ystep = nice_step(ymax);
        let y = |v: f64| bottom - v / ymax * PANEL_H;
        let _ = writeln!(
            s,
            r#"<text x="{LEFT}" y="{}" font-weight="bold">{}</text>"#,
            top - 6.0,
            escape(&panel.title)
        );
        let _ = writeln!(
            s,
            r##"<rect x="{LEFT}" y="{top}" width="{plot_w}" height="{PANEL_H}" fill="none" stroke="#999"/>"##
        );
        let mut v = 0.0;
        while v <= ymax {
            let _ = writeln!(
                s,
                r##"<line x1="{LEFT}" x2="{}" y1="{y:.1}" y2="{y:.1}" stroke="#eee"/><text x="{}" y="{:.1}" text-anchor="end">{}</text>"##,
                LEFT + plot_w,
                LEFT - 6.0,
                y(v) + 4.0,
                if ystep < 1.0 {
                    format!("{v:.1}")
                } else {
                    format!("{v:.0}")
                },
                y = y(v)
            );
            v += ystep;
        }
        let mut tt = first_tick;
        while tt <= t1 {
            let label = (scenario.start + Duration::seconds(tt)).format(if step >= 86_400 {
                "%a %d"
            } else {
                "%H:%M"
            });
            let _ = writeln!(
                s,
                r##"<line x1="{x:.1}" x2="{x:.1}" y1="{top}" y2="{bottom}" stroke="#eee"/><text x="{x:.1}" y="{}" text-anchor="middle">{label}</text>"##,
                bottom + 15.0,
                x = x(tt)
            );
            tt += step;
        }
        for (k, se) in panel.series.iter().enumerate() {
            let pts = reduce(&se.points, t0, t1, plot_w as usize);
            let mut d = String::with_capacity(pts.len() * 14);
            for (t, v) in pts {
                let _ = write!(d, "{:.1},{:.1} ", x(t), y(v));
            }
            let dash = if se.dashed {
                r#" stroke-dasharray="6 3""#
            } else {
                ""
            };
            let _ = writeln!(
                s,
                r#"<polyline fill="none" stroke="{}" stroke-width="1.5"{dash} points="{}"/>"#,
                se.color,
                d.trim_end()
            );
            let ly = top + 14.0 + k as f64 * 16.0;
            let lx = LEFT + plot_w + 10.0;
            let _ = writeln!(
                s,
                r#"<line x1="{lx}" x2="{}" y1="{ly}" y2="{ly}" stroke="{}" stroke-width="2"{dash}/><text x="{}" y="{}">{}</text>"#,
                lx + 18.0,
                se.color,
                lx + 22.0,
                ly + 4.0,
                escape(&se.name)
            );
        }
        for m in &panel.markers {
            let (cx, cy) = (x(m.t), y(m.y));
            let pts = if m.up {
                format!(
                    "{:.1},{:.1} {:.1},{:.1} {:.1},{:.1}",
                    cx,
                    cy - 9.0,
                    cx - 4.5,
                    cy - 2.0,
                    cx + 4.5,
                    cy - 2.0
                )
            } else {
                format!(
                    "{:.1},{:.1} {:.1},{:.1} {:.1},{:.1}",
                    cx,
                    cy + 9.0,
                    cx - 4.5,
                    cy + 2.0,
                    cx + 4.5,
                    cy + 2.0
                )
            };
            let _ = writeln!(
                s,
                r#"<polygon points="{pts}" fill="{}" fill-opacity="0.8"/>"#,
                m.color
            );
        }
    }
    s.push_str("</svg>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reduction_keeps_extremes() {
        let pts: Vec<(i64, f64)> = (0..10_000)
            .map(|i| (i, if i == 5_000 { 99.0 } else { 1.0 }))
            .collect();
        let r = reduce(&pts, 0, 10_000, 100);
        assert!(r.len() <= 202);
        assert!(r.iter().any(|p| p.1 == 99.0));
        assert_eq!(nice_step(9.0), 2.0);
        assert_eq!(nice_step(50.0), 10.0);
    }
}
