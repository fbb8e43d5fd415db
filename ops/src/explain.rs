//! `smartscale explain`: what Evaluate would decide now and why, from a dry run
//! ([`dry_run`]) against the live Prometheus, cluster, EC2 and state item: no lease, no write.

use crate::text::{or_dash, serde_name, span, table};
use smartscale_core::engine::explain::Check;
use smartscale_core::engine::{Decision, NoChangeReason};
use smartscale_core::model::Provenance;
pub use smartscale_core::steps::evaluate::{dry_run, DryRun};

fn value(c: &Check) -> String {
    match c.value {
        None => "unknown".into(),
        Some(v) if c.unit == "%" => format!("{v:.1}%"),
        Some(v) if c.unit == "s" => format!("{v:.2}s"),
        Some(v) => format!("{v:.0} {}", c.unit),
    }
}

fn threshold(c: &Check) -> String {
    let t = match c.unit {
        "%" => format!("{:.0}%", c.threshold),
        "s" => format!("{:.2}s", c.threshold),
        unit => format!("{:.0} {unit}", c.threshold),
    };
    format!("{} {t}", c.comparison)
}

fn window(c: &Check) -> String {
    match (c.window_secs, c.samples, c.needed) {
        (Some(w), Some(have), Some(need)) => format!("{} ({have}/{need} samples)", span(w as i64)),
        (Some(w), None, Some(need)) => format!("{} (0/{need} samples)", span(w as i64)),
        _ => "now".into(),
    }
}

fn checks(list: &[Check]) -> String {
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|c| {
            vec![
                c.rule.clone(),
                value(c),
                threshold(c),
                window(c),
                if c.holds { "yes".into() } else { "no".into() },
            ]
        })
        .collect();
    table(&["RULE", "VALUE", "THRESHOLD", "WINDOW", "HOLDS"], &rows)
}

/// The explanation as text for people.
pub fn render(d: &DryRun) -> String {
    let e = &d.explanation;
    let mut out = format!("decision     {}\n", e.decision);
    if let Some(op) = &d.recover {
        out.push_str(&format!(
            "             first, Evaluate would recover operation {} ({:?}) of an earlier run\n",
            op.id, op.kind
        ));
    }
    for g in &d.ghosts {
        out.push_str(&format!("             and delete a {g}\n"));
    }
    for p in &d.identity_problems {
        out.push_str(&format!("             identity: {p}\n"));
    }
    let m = &d.inputs.metrics;
    out.push_str(&format!(
        "metrics      {} at {}{}\n",
        match m.provenance {
            Provenance::Live => "live".to_string(),
            Provenance::Cached { fetched_at } =>
                format!("CACHED (fetched {})", fetched_at.format("%H:%M:%S")),
        },
        m.taken_at.format("%H:%M:%S UTC"),
        if m.missing.is_empty() && m.stale.is_empty() {
            String::new()
        } else {
            format!(
                "; missing {}; stale {}",
                or_dash((!m.missing.is_empty()).then(|| {
                    m.missing
                        .iter()
                        .map(|x| x.label())
                        .collect::<Vec<_>>()
                        .join(", ")
                })),
                or_dash((!m.stale.is_empty()).then(|| {
                    m.stale
                        .iter()
                        .map(|x| x.label())
                        .collect::<Vec<_>>()
                        .join(", ")
                }))
            )
        }
    ));
    out.push_str(&match &e.cooldown {
        Some(NoChangeReason::Cooldown {
            after,
            remaining_secs,
        }) => format!(
            "cooldown     {} left after a {}\n",
            span(*remaining_secs as i64),
            after.as_str()
        ),
        _ => "cooldown     none\n".into(),
    });
    out.push_str("\nscale-up triggers (any one suffices)\n");
    out.push_str(&checks(&e.scale_up));
    out.push_str("\nscale-down conditions (all must hold)\n");
    out.push_str(&checks(&e.scale_down));
    out.push_str("\nworkers\n");
    let rows: Vec<Vec<String>> = e
        .workers
        .iter()
        .map(|w| {
            let node = d.inputs.cluster.nodes.iter().find(|n| n.name == w.node);
            vec![
                w.node.clone(),
                or_dash(node.and_then(|n| n.instance_id.clone())),
                match &w.unremovable {
                    None if w.preferred => "yes (first to go)".into(),
                    None => "yes".into(),
                    Some(_) => "no".into(),
                },
                match &w.unremovable {
                    Some(r) => format!("{}: {r}", serde_name(r)),
                    None => "-".into(),
                },
            ]
        })
        .collect();
    out.push_str(&table(&["NODE", "INSTANCE", "REMOVABLE", "WHY NOT"], &rows));
    if let (Some(z), Decision::ScaleUp { reasons, .. }) = (&e.sizing, &e.decision) {
        out.push_str(&format!(
            "\nscale-up sizing\n  add {} worker(s): {} now, MAX_NODES {}, SCALE_UP_MAX_INCREMENT {}; Pending pods that fit a new worker: {} (fill {} worker(s))\n",
            z.count, z.workers, z.max_nodes, z.max_increment, z.pending_pods, z.workers_for_pending
        ));
        for r in reasons {
            out.push_str(&format!("  - {r}\n"));
        }
    }
    out
}
