//! The report: a table for people, one JSON object per policy for machines, and the timeline CSV.

use crate::run::{Row, RunResult};
use crate::scenario::Scenario;
use chrono::Duration;
use std::fmt::Write as _;

/// The comparison table of one scenario's runs, ready to print.
pub fn table(scenario: &Scenario, results: &[RunResult]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Scenario {} ({:.1} h from {}): {}",
        scenario.name,
        scenario.trace.duration_secs() / 3600.0,
        scenario.start.format("%Y-%m-%d %H:%M %:z"),
        scenario.description
    );
    let header = [
        "policy",
        "node-h",
        "cost $",
        "saving",
        "× oracle",
        "pending pod-min",
        "max pending",
        "overload min",
        "unserved CPU",
        "ups",
        "downs",
        "nodes",
    ];
    let rows: Vec<[String; 12]> = results
        .iter()
        .map(|r| {
            let s = &r.summary;
            [
                s.policy.clone(),
                format!("{:.1}", s.node_hours),
                format!("{:.2}", s.cost_usd),
                format!("{:.1}%", s.savings_pct),
                format!("{:.3}", s.vs_oracle),
                format!("{:.1}", s.pending_pod_minutes),
                format!("{:.0}s", s.max_pending_seconds),
                format!("{:.1}", s.overload_minutes),
                format!("{:.2}%", s.unserved_cpu_pct),
                s.scale_ups.to_string(),
                s.scale_downs.to_string(),
                format!("{}-{}", s.nodes_min, s.nodes_max),
            ]
        })
        .collect();
    out.push_str(&aligned(&header, &rows));
    let _ = writeln!(
        out,
        "saving: against the baseline ({} fixed workers); × oracle: worker-hours over the clairvoyant bound's at the policy's floor{}; \
overload: demanded CPU above {:.0}% of Ready capacity;\n\
the bound has the fewest worker-hours of any policy with no Pending pod and no more overload at the same floor;\n\
cluster-autoscaler-model and karpenter-model are models of Cluster Autoscaler's and Karpenter's defaults, not the products",
        scenario.baseline_nodes,
        low_floor_note(scenario, results),
        scenario.simulation.overload_ratio * 100.0
    );
    if results.iter().any(|r| r.summary.spot_share_pct > 0.0) {
        out.push_str(&capacity_table(scenario, results));
    }
    out
}

/// What the table says of the low-floor bound row, when the run has one: its floor and who is
/// measured against it.
fn low_floor_note(scenario: &Scenario, results: &[RunResult]) -> String {
    let low = crate::policy::PolicyKind::OracleLowFloor;
    if !results.iter().any(|r| r.policy == low) {
        return String::new();
    }
    let against: Vec<&str> = results
        .iter()
        .filter(|r| !r.policy.is_bound() && r.summary.bound == low.label())
        .map(|r| r.summary.policy.as_str())
        .collect();
    format!(
        " ({} at {} worker(s), below MIN_NODES={}, for {})",
        low.label(),
        low.floor(scenario),
        scenario.policy.min_nodes,
        against.join(", ")
    )
}

/// The cost by capacity type and what the Spot market did, per policy (printed when a policy
/// bought Spot).
fn capacity_table(scenario: &Scenario, results: &[RunResult]) -> String {
    let header = [
        "policy",
        "on-demand $",
        "Spot $",
        "Spot share",
        "interruptions",
        "pods evicted",
        "their pending pod-min",
        "their max pending",
        "Spot fallbacks",
    ];
    let rows: Vec<[String; 9]> = results
        .iter()
        .map(|r| {
            let s = &r.summary;
            [
                s.policy.clone(),
                format!("{:.2}", s.cost_on_demand_usd),
                format!("{:.2}", s.cost_spot_usd),
                format!("{:.1}%", s.spot_share_pct),
                s.interruptions.to_string(),
                s.pods_evicted_by_interruptions.to_string(),
                format!("{:.1}", s.interruption_pending_pod_minutes),
                format!("{:.0}s", s.max_interruption_pending_seconds),
                s.spot_fallbacks.to_string(),
            ]
        })
        .collect();
    let m = &scenario.market;
    let rate = m
        .interruption_rate_pct
        .map_or("each pool's Spot Instance Advisor band".into(), |r| {
            format!("{r:.1}% per month")
        });
    format!(
        "\nCapacity ({} prices; Spot interruptions: {rate}, seed {}; {} ICE period(s)):\n{}",
        m.region,
        m.seed,
        m.ice.len(),
        aligned(&header, &rows)
    )
}

/// `rows` under `header`, the first column left-aligned and the rest right-aligned, with a rule.
fn aligned<const N: usize>(header: &[&str; N], rows: &[[String; N]]) -> String {
    let widths: Vec<usize> = (0..N)
        .map(|c| {
            rows.iter()
                .map(|r| r[c].len())
                .chain([header[c].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: Vec<&str>| {
        let mut l = String::new();
        for (c, cell) in cells.iter().enumerate() {
            if c == 0 {
                let _ = write!(l, "{cell:<w$}", w = widths[c]);
            } else {
                let _ = write!(l, "  {cell:>w$}", w = widths[c]);
            }
        }
        l
    };
    let mut out = String::new();
    let _ = writeln!(out, "{}", line(header.to_vec()));
    let rule: String = line(widths.iter().map(|_| "").collect())
        .chars()
        .map(|_| '-')
        .collect();
    let _ = writeln!(out, "{rule}");
    for r in rows {
        let _ = writeln!(out, "{}", line(r.iter().map(String::as_str).collect()));
    }
    out
}

/// One JSON object (one line) per policy, with the report's keys.
pub fn json_lines(results: &[RunResult]) -> String {
    results
        .iter()
        .map(|r| serde_json::to_string(&r.summary).expect("a summary always serialises") + "\n")
        .collect()
}

/// The timeline as CSV: one row per metrics interval, events on the row of their interval.
pub fn timeline_csv(scenario: &Scenario, result: &RunResult) -> String {
    let mut out = String::from(
        "time_s,local_time,rps,desired_replicas,serving_pods,pending_pods,nodes,ready_nodes,demand_cores,served_cores,capacity_cores,cpu_pct,memory_pct,events\n",
    );
    let interval = scenario.simulation.metrics_interval_secs as i64;
    let mut ev = result.events.iter().peekable();
    for Row {
        t,
        rps,
        desired_replicas,
        serving_pods,
        pending_pods,
        nodes,
        ready_nodes,
        demand_cores,
        served_cores,
        capacity_cores,
        cpu_ratio,
        memory_ratio,
    } in &result.timeline
    {
        let mut here = Vec::new();
        while let Some(e) = ev.next_if(|e| e.t < t + interval) {
            here.push(format!("{}:{}", e.kind.as_str(), e.nodes));
        }
        let pct = |r: &Option<f64>| r.map_or(String::new(), |v| format!("{:.1}", v * 100.0));
        let local = scenario.start + Duration::seconds(*t);
        let _ = writeln!(
            out,
            "{t},{},{rps:.1},{desired_replicas},{serving_pods},{pending_pods},{nodes},{ready_nodes},{demand_cores:.3},{served_cores:.3},{capacity_cores:.3},{},{},{}",
            local.format("%Y-%m-%dT%H:%M:%S%:z"),
            pct(cpu_ratio),
            pct(memory_ratio),
            here.join(" ")
        );
    }
    out
}

/// Every scaling event as text, one per line: local time, kind, workers, reason.
pub fn events_text(scenario: &Scenario, result: &RunResult) -> String {
    let mut out = String::new();
    for e in &result.events {
        let local = scenario.start + Duration::seconds(e.t);
        let _ = writeln!(
            out,
            "{} {} {} {}",
            local.format("%a %H:%M:%S"),
            e.kind.as_str(),
            e.nodes,
            e.reason
        );
    }
    out
}
