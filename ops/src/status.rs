//! `smartscale status`: what SmartScale is doing right now, from the state item, EC2, the
//! Kubernetes API and the Step Functions API. Reads only.

use crate::executions::ExecutionSummary;
use crate::text::{or_dash, span, table};
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use smartscale_core::engine::{cooldown, NoChangeReason};
use smartscale_core::model::{NodeInfo, Operation, OperationKind, ScaleAction, ScalingState};
use smartscale_core::seams::{CapacityType, ManagedInstance};
use smartscale_core::steps::identity::Identities;
use smartscale_core::Config;

/// The lease, as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LeaseStatus {
    /// The holder: an execution ARN.
    pub holder: String,
    /// Its fencing token.
    pub token: u64,
    /// When it lapses.
    pub expires_at: DateTime<Utc>,
    /// True when it lapsed already: the next execution takes it over.
    pub expired: bool,
}

/// The last recorded action.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LastAction {
    /// `scale_up`, `scale_down`, or `None` when only a reason was recorded (an undone operation).
    pub action: Option<ScaleAction>,
    /// When it finished.
    pub at: Option<DateTime<Utc>>,
    /// Why, as rendered for people.
    pub reason: Option<String>,
    /// Workers after it.
    pub node_count: Option<u32>,
}

/// The cooldown running.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CooldownLeft {
    /// The action it follows.
    pub after: ScaleAction,
    /// Seconds left.
    pub remaining_secs: u64,
}

/// The operation in flight.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OperationStatus {
    /// As recorded.
    #[serde(flatten)]
    pub operation: Operation,
    /// Where it is: the state its execution is in when the Step Functions API knows it, else
    /// what the record says ([`phase`]).
    pub step: String,
    /// True when the deadline passed: the next execution undoes it.
    pub overdue: bool,
}

/// The "at maximum capacity" alert.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CapacityAlertStatus {
    /// When it was last raised.
    pub raised_at: DateTime<Utc>,
    /// When it may be raised again (`CAPACITY_ALERT_INTERVAL` later).
    pub silent_until: DateTime<Utc>,
}

/// One worker instance of the fleet.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FleetMember {
    /// Instance id.
    pub instance_id: String,
    /// Instance type.
    pub instance_type: String,
    /// Spot or on-demand (`spot` / `on_demand` in JSON, as the engine spells it).
    pub capacity_type: CapacityType,
    /// Availability zone.
    pub zone: String,
    /// EC2 state.
    pub state: String,
    /// Seconds since launch.
    pub age_secs: i64,
    /// The Node it joined as (verified by provider id and address), if any.
    pub node: Option<String>,
    /// That Node is Ready.
    pub ready: Option<bool>,
    /// That Node is cordoned.
    pub cordoned: Option<bool>,
}

/// Everything `smartscale status` shows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Status {
    /// The cluster.
    pub cluster_id: String,
    /// When it was read.
    pub at: DateTime<Utc>,
    /// The lease, if any.
    pub lease: Option<LeaseStatus>,
    /// The last action, if any was recorded.
    pub last_action: Option<LastAction>,
    /// The cooldown running, if any.
    pub cooldown: Option<CooldownLeft>,
    /// The operation in flight, if any.
    pub operation: Option<OperationStatus>,
    /// The capacity alert, if ever raised.
    pub capacity_alert: Option<CapacityAlertStatus>,
    /// SmartScale's instances (not terminated), oldest first.
    pub fleet: Vec<FleetMember>,
    /// Why the Nodes could not be read, when they could not (the fleet then has no Node column).
    pub nodes_error: Option<String>,
    /// The last executions, newest first.
    pub executions: Vec<ExecutionSummary>,
    /// Why the executions could not be read, when they could not.
    pub executions_error: Option<String>,
}

/// What the record of `op` says it is doing, for when its execution's state is unknown.
pub fn phase(op: &Operation) -> String {
    match (op.kind, op.instance_ids.len()) {
        (OperationKind::ScaleUp, 0) => format!("launching {} worker(s)", op.requested_count),
        (OperationKind::ScaleUp, n) => format!("waiting for {n} launched worker(s) to be Ready"),
        (OperationKind::ScaleDown, _) => format!(
            "cordoning, draining or terminating {}",
            op.node_name.as_deref().unwrap_or("its node")
        ),
        (OperationKind::SpotReplace, _) => format!(
            "replacing Spot worker {}",
            op.node_name.as_deref().unwrap_or("?")
        ),
    }
}

/// Everything but the I/O: the state item, the instances, the Nodes (or why not), the
/// executions (or why not) and, when known, the state the lease holder's execution is in.
pub struct Gathered {
    /// The state item.
    pub state: ScalingState,
    /// `describe_managed`.
    pub instances: Vec<ManagedInstance>,
    /// The Nodes, or the error reading them.
    pub nodes: Result<Vec<NodeInfo>, String>,
    /// The executions, or the error reading them.
    pub executions: Result<Vec<ExecutionSummary>, String>,
    /// The lease holder's execution, when described.
    pub holder: Option<ExecutionSummary>,
}

/// Assembles the [`Status`] at `now`. Pure.
pub fn assemble(g: Gathered, cfg: &Config, now: DateTime<Utc>) -> Status {
    let s = &g.state;
    let lease = s.lease.as_ref().map(|l| LeaseStatus {
        holder: l.owner.clone(),
        token: l.token,
        expires_at: l.expires_at,
        expired: l.expires_at <= now,
    });
    let last_action =
        (s.last_scale_time.is_some() || s.last_scale_reason.is_some()).then(|| LastAction {
            action: s.last_scale_action,
            at: s.last_scale_time,
            reason: s.last_scale_reason.clone(),
            node_count: s.node_count,
        });
    let cooldown = match cooldown::active(s, cfg, now) {
        Some(NoChangeReason::Cooldown {
            after,
            remaining_secs,
        }) => Some(CooldownLeft {
            after,
            remaining_secs,
        }),
        _ => None,
    };
    let running_state = g
        .holder
        .as_ref()
        .filter(|e| e.status == "RUNNING")
        .and_then(|e| e.state.clone());
    let operation = s.operation.as_ref().map(|op| OperationStatus {
        operation: op.clone(),
        step: running_state.unwrap_or_else(|| phase(op)),
        overdue: op.deadline <= now,
    });
    let capacity_alert = s.capacity_alert.map(|a| CapacityAlertStatus {
        raised_at: a.at,
        silent_until: a.at + Duration::seconds(cfg.capacity_alert_interval_secs as i64),
    });
    let (nodes, nodes_error) = match g.nodes {
        Ok(n) => (Some(n), None),
        Err(e) => (None, Some(e)),
    };
    let ids = nodes.as_ref().map(|n| Identities::of(n, &g.instances));
    let mut fleet: Vec<FleetMember> = g
        .instances
        .iter()
        .map(|i| {
            let node = ids
                .as_ref()
                .and_then(|ids| ids.node_of(&i.instance_id))
                .and_then(|name| nodes.as_ref()?.iter().find(|n| n.name == name));
            FleetMember {
                instance_id: i.instance_id.clone(),
                instance_type: i.instance_type.clone(),
                capacity_type: i.capacity_type,
                zone: i.zone.clone(),
                state: i.state.clone(),
                age_secs: (now - i.launched_at).num_seconds(),
                node: node.map(|n| n.name.clone()),
                ready: node.map(|n| n.ready),
                cordoned: node.map(|n| n.unschedulable),
            }
        })
        .collect();
    fleet.sort_by(|a, b| {
        b.age_secs
            .cmp(&a.age_secs)
            .then(a.instance_id.cmp(&b.instance_id))
    });
    let (executions, executions_error) = match g.executions {
        Ok(e) => (e, None),
        Err(e) => (Vec::new(), Some(e)),
    };
    Status {
        cluster_id: cfg.cluster_id.clone(),
        at: now,
        lease,
        last_action,
        cooldown,
        operation,
        capacity_alert,
        fleet,
        nodes_error,
        executions,
        executions_error,
    }
}

fn at(t: DateTime<Utc>, now: DateTime<Utc>) -> String {
    format!(
        "{} ({})",
        t.format("%Y-%m-%d %H:%M:%S UTC"),
        span((t - now).num_seconds())
    )
}

/// The status as text for people.
pub fn render(s: &Status) -> String {
    let now = s.at;
    let mut out = format!(
        "SmartScale cluster {} at {}\n\n",
        s.cluster_id,
        now.format("%Y-%m-%d %H:%M:%S UTC")
    );
    out.push_str(&match &s.lease {
        None => "lease        free\n".into(),
        Some(l) => format!(
            "lease        {} by {} (token {}), {} {}\n",
            if l.expired { "EXPIRED" } else { "held" },
            l.holder,
            l.token,
            if l.expired { "lapsed" } else { "until" },
            at(l.expires_at, now)
        ),
    });
    out.push_str(&match &s.last_action {
        None => "last action  none recorded\n".into(),
        Some(a) => format!(
            "last action  {} at {}: {} ({} workers after)\n",
            a.action.map_or("none (undone)", ScaleAction::as_str),
            a.at.map_or("-".into(), |t| at(t, now)),
            a.reason.as_deref().unwrap_or("-"),
            a.node_count.map_or("?".into(), |n| n.to_string())
        ),
    });
    out.push_str(&match &s.cooldown {
        None => "cooldown     none\n".into(),
        Some(c) => format!(
            "cooldown     {} left after a {}\n",
            span(c.remaining_secs as i64),
            c.after.as_str()
        ),
    });
    out.push_str(&match &s.operation {
        None => "operation    none in flight\n".into(),
        Some(o) => {
            let op = &o.operation;
            format!(
                "operation    {} {:?}: {}; instances {}; node {}; started {}; deadline {}{}\n",
                op.id,
                op.kind,
                o.step,
                if op.instance_ids.is_empty() {
                    "-".into()
                } else {
                    op.instance_ids.join(",")
                },
                op.node_name.as_deref().unwrap_or("-"),
                at(op.started_at, now),
                at(op.deadline, now),
                if o.overdue {
                    " (OVERDUE: the next execution undoes it)"
                } else {
                    ""
                }
            )
        }
    });
    out.push_str(&match &s.capacity_alert {
        None => "capacity     no alert raised\n".into(),
        Some(a) => format!(
            "capacity     alert raised {}; silent until {}\n",
            at(a.raised_at, now),
            at(a.silent_until, now)
        ),
    });
    out.push_str("\nfleet (EC2)\n");
    let rows: Vec<Vec<String>> = s
        .fleet
        .iter()
        .map(|f| {
            vec![
                f.instance_id.clone(),
                f.instance_type.clone(),
                f.capacity_type.ec2_name().into(),
                f.zone.clone(),
                f.state.clone(),
                span(f.age_secs.max(0)),
                or_dash(f.node.clone()),
                match (f.ready, f.cordoned) {
                    (Some(r), Some(c)) => format!(
                        "{}{}",
                        if r { "Ready" } else { "NotReady" },
                        if c { ",cordoned" } else { "" }
                    ),
                    _ => "-".into(),
                },
            ]
        })
        .collect();
    out.push_str(&table(
        &[
            "INSTANCE",
            "TYPE",
            "CAPACITY",
            "ZONE",
            "STATE",
            "AGE",
            "NODE",
            "NODE STATUS",
        ],
        &rows,
    ));
    if let Some(e) = &s.nodes_error {
        out.push_str(&format!("  (Nodes unreadable: {e})\n"));
    }
    out.push_str("\nlast executions\n");
    let rows: Vec<Vec<String>> = s
        .executions
        .iter()
        .map(|e| {
            let decision = e.decision.as_ref().map(|d| {
                let what = match (
                    crate::text::serde_name(&d.action).as_str(),
                    d.count,
                    &d.node,
                ) {
                    ("scale_up", n, _) => format!("scale_up {n}"),
                    ("scale_down", _, Some(node)) => format!("scale_down {node}"),
                    (a, _, _) => a.to_string(),
                };
                format!("{what}: {}", d.reasons.join("; "))
            });
            vec![
                e.started_at
                    .map_or("-".into(), |t| t.format("%H:%M:%S").to_string()),
                e.name.clone(),
                e.status.clone(),
                or_dash(e.state.clone()),
                or_dash(decision.or_else(|| {
                    e.error
                        .clone()
                        .map(|err| format!("{err}: {}", e.cause.as_deref().unwrap_or("")))
                })),
            ]
        })
        .collect();
    out.push_str(&table(
        &[
            "STARTED",
            "EXECUTION",
            "STATUS",
            "STATE",
            "DECISION / ERROR",
        ],
        &rows,
    ));
    if let Some(e) = &s.executions_error {
        out.push_str(&format!("  (executions unreadable: {e})\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use smartscale_core::model::{AlertRecord, Lease};

    fn t(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + secs, 0).unwrap()
    }

    fn instance(id: &str, launched: i64) -> ManagedInstance {
        ManagedInstance {
            instance_id: id.into(),
            zone: "us-east-1a".into(),
            instance_type: "t3.small".into(),
            capacity_type: CapacityType::OnDemand,
            state: "running".into(),
            launched_at: t(launched),
            operation_id: None,
            private_dns_name: Some(format!("ip-{id}")),
            private_ip: Some(format!("10.0.0.{}", id.len())),
        }
    }

    fn node_of(i: &ManagedInstance, ready: bool, cordoned: bool) -> NodeInfo {
        NodeInfo {
            name: i.private_dns_name.clone().unwrap(),
            provider_id: Some(i.provider_id()),
            instance_id: None,
            zone: Some(i.zone.clone()),
            instance_type: None,
            ready,
            unschedulable: cordoned,
            control_plane: false,
            managed: false,
            created_at: i.launched_at,
            idle_since: None,
            allocatable: Default::default(),
            labels: Default::default(),
            annotations: Default::default(),
            addresses: i.private_ip.clone().into_iter().collect(),
            capacity_type: Default::default(),
        }
    }

    struct Case {
        name: &'static str,
        state: ScalingState,
        nodes_readable: bool,
        holder_state: Option<&'static str>,
        /// Lines the rendering must hold.
        lines: &'static [&'static str],
    }

    #[test]
    fn the_status_says_what_the_record_and_the_fleet_say() {
        let cfg = Config::default();
        let op = Operation {
            id: "c-op-7".into(),
            kind: OperationKind::ScaleDown,
            instance_ids: vec!["i-2".into()],
            requested_count: 0,
            node_name: Some("ip-i-2".into()),
            started_at: t(-60),
            deadline: t(240),
            reason: "CPU low".into(),
            recovery_attempts: 0,
        };
        let cases = [
            Case {
                name: "never acted",
                state: ScalingState::new("c"),
                nodes_readable: true,
                holder_state: None,
                lines: &[
                    "lease        free",
                    "last action  none recorded",
                    "cooldown     none",
                    "operation    none in flight",
                    "ip-i-1  Ready",
                ],
            },
            Case {
                name: "a scale-down in flight, its execution draining",
                state: ScalingState {
                    lease: Some(Lease {
                        owner: "arn:exec:7".into(),
                        token: 7,
                        expires_at: t(20),
                    }),
                    operation: Some(op.clone()),
                    last_scale_time: Some(t(-120)),
                    last_scale_action: Some(ScaleAction::ScaleUp),
                    last_scale_reason: Some("CPU high".into()),
                    node_count: Some(2),
                    capacity_alert: Some(AlertRecord {
                        at: t(-600),
                        token: 3,
                    }),
                    ..ScalingState::new("c")
                },
                nodes_readable: true,
                holder_state: Some("DrainNode"),
                lines: &[
                    "lease        held by arn:exec:7 (token 7), until",
                    "last action  scale_up at",
                    "cooldown     3m left after a scale_up",
                    "operation    c-op-7 ScaleDown: DrainNode; instances i-2; node ip-i-2",
                    "capacity     alert raised",
                    "ip-i-2  NotReady,cordoned",
                ],
            },
            Case {
                name: "a dead run's lease and an overdue operation, Nodes unreadable",
                state: ScalingState {
                    lease: Some(Lease {
                        owner: "arn:exec:6".into(),
                        token: 6,
                        expires_at: t(-5),
                    }),
                    operation: Some(Operation {
                        deadline: t(-1),
                        ..op.clone()
                    }),
                    ..ScalingState::new("c")
                },
                nodes_readable: false,
                holder_state: None,
                lines: &[
                    "lease        EXPIRED by arn:exec:6 (token 6), lapsed",
                    "cordoning, draining or terminating ip-i-2",
                    "OVERDUE",
                    "(Nodes unreadable: connection refused)",
                ],
            },
        ];
        for c in cases {
            let instances = vec![instance("i-1", -3600), instance("i-2", -60)];
            let nodes = vec![
                node_of(&instances[0], true, false),
                node_of(&instances[1], false, true),
            ];
            let holder = c.holder_state.map(|st| ExecutionSummary {
                name: "x".into(),
                arn: "arn:exec:7".into(),
                status: "RUNNING".into(),
                started_at: Some(t(-60)),
                stopped_at: None,
                state: Some(st.into()),
                decision: None,
                error: None,
                cause: None,
            });
            let g = Gathered {
                state: c.state,
                instances,
                nodes: if c.nodes_readable {
                    Ok(nodes)
                } else {
                    Err("connection refused".into())
                },
                executions: Ok(vec![]),
                holder,
            };
            let s = assemble(g, &cfg, t(0));
            let text = render(&s);
            for line in c.lines {
                assert!(
                    text.contains(line),
                    "case {}: {line:?} missing in\n{text}",
                    c.name
                );
            }
            assert_eq!(
                s.fleet[0].instance_id, "i-1",
                "case {}: oldest first",
                c.name
            );
            let v = serde_json::to_value(&s).unwrap();
            for key in [
                "lease",
                "last_action",
                "cooldown",
                "operation",
                "capacity_alert",
                "fleet",
                "executions",
            ] {
                assert!(v.get(key).is_some(), "case {}: --json has {key}", c.name);
            }
        }
    }
}
