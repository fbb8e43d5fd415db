//! SmartScale: core's engine, executed the way the state machine executes its decisions.

use super::{drain_round, Ctx, Event, EventKind, Policy};
use crate::cluster::{Cluster, NodeState};
use crate::observe::{cluster_view, Observer};
use crate::scenario::Scenario;
use chrono::{DateTime, Utc};
use smartscale_engine::engine::{Decision, Inputs};
use smartscale_engine::model::{Operation, OperationKind, ScaleAction, ScalingState};
use smartscale_engine::Policy as Config;
use std::collections::BTreeMap;

/// The one place the simulator asks SmartScale's engine for a decision.
pub fn smartscale_decide(
    inputs: &Inputs,
    state: &ScalingState,
    config: &Config,
    now: DateTime<Utc>,
) -> Decision {
    smartscale_engine::engine::decide(inputs, state, config, now)
}

#[derive(Debug, Clone)]
enum InFlight {
    Up { nodes: Vec<usize>, deadline: i64 },
    Down { node: usize, deadline: i64 },
}

/// SmartScale: consulted on the EventBridge schedule; launches and drains run like the state
/// machine's (launch → wait for Ready or the join deadline; cordon → drain in `drain_poll` rounds
/// that respect the budget → terminate, or abort at the drain deadline); the last action and the
/// operation in flight live in a [`ScalingState`] as in DynamoDB.
#[derive(Debug, Clone)]
pub struct SmartScale {
    state: ScalingState,
    op: Option<InFlight>,
    ops: u64,
    reasons: BTreeMap<String, u64>,
}

impl SmartScale {
    /// A SmartScale that has never acted on the scenario's cluster.
    pub fn new(scenario: &Scenario) -> Self {
        SmartScale {
            state: ScalingState::new(scenario.policy.cluster_id.clone()),
            op: None,
            ops: 0,
            reasons: BTreeMap::new(),
        }
    }

    fn finish(&mut self, now: DateTime<Utc>, action: ScaleAction, workers: u32) {
        self.op = None;
        if let Some(op) = self.state.operation.take() {
            self.state.last_scale_reason = Some(op.reason);
        }
        self.state.last_scale_time = Some(now);
        self.state.last_scale_action = Some(action);
        self.state.node_count = Some(workers);
    }

    fn progress(&mut self, now: i64, cluster: &mut Cluster, ctx: Ctx<'_>) -> Vec<Event> {
        let mut events = Vec::new();
        let poll = ctx.scenario.simulation.drain_poll_secs as i64;
        match self.op.clone() {
            None => {}
            Some(InFlight::Up { nodes, deadline }) => {
                if nodes.iter().all(|&i| cluster.nodes[i].ready()) {
                    self.finish(ctx.at(now), ScaleAction::ScaleUp, cluster.alive_count());
                } else if now >= deadline {
                    let mut failed = 0;
                    for &i in &nodes {
                        if cluster.nodes[i].state == NodeState::Booting {
                            cluster.terminate(i, now);
                            failed += 1;
                        }
                    }
                    events.push(Event {
                        t: now,
                        kind: EventKind::JoinFailed,
                        nodes: failed,
                        reason: "not Ready by JOIN_TIMEOUT: terminated".into(),
                    });
                    self.finish(ctx.at(now), ScaleAction::ScaleUp, cluster.alive_count());
                }
            }
            Some(InFlight::Down { node, deadline }) if now % poll == 0 => {
                if drain_round(cluster, node, now) {
                    let name = cluster.nodes[node].name.clone();
                    cluster.terminate(node, now);
                    events.push(Event {
                        t: now,
                        kind: EventKind::ScaleDown,
                        nodes: 1,
                        reason: format!(
                            "{name} drained and terminated: {}",
                            self.state
                                .operation
                                .as_ref()
                                .map_or("", |o| o.reason.as_str())
                        ),
                    });
                    self.finish(ctx.at(now), ScaleAction::ScaleDown, cluster.alive_count());
                } else if now >= deadline {
                    cluster.uncordon(node);
                    events.push(Event {
                        t: now,
                        kind: EventKind::DrainAborted,
                        nodes: 0,
                        reason: format!(
                            "drain of {} not done by DRAIN_TIMEOUT: uncordoned",
                            cluster.nodes[node].name
                        ),
                    });
                    self.op = None;
                    self.state.operation = None;
                }
            }
            Some(InFlight::Down { .. }) => {}
        }
        events
    }

    fn operation(
        &mut self,
        kind: OperationKind,
        now: i64,
        deadline: i64,
        ctx: Ctx<'_>,
        decision: &Decision,
    ) -> Operation {
        self.ops += 1;
        Operation {
            id: format!("sim-{}", self.ops),
            kind,
            instance_ids: Vec::new(),
            requested_count: 0,
            node_name: None,
            started_at: ctx.at(now),
            deadline: ctx.at(deadline),
            reason: decision.reason_sentences().join("; "),
        }
    }
}

impl Policy for SmartScale {
    fn step(
        &mut self,
        now: i64,
        cluster: &mut Cluster,
        observer: &Observer,
        ctx: Ctx<'_>,
    ) -> Vec<Event> {
        let mut events = self.progress(now, cluster, ctx);
        let sim = &ctx.scenario.simulation;
        if now % sim.evaluation_interval_secs as i64 != 0 {
            return events;
        }
        let cfg = &ctx.scenario.policy;
        let at = ctx.at(now);
        let inputs = Inputs {
            metrics: observer.snapshot(now, at, cfg),
            cluster: cluster_view(cluster, ctx.start),
        };
        let decision = smartscale_decide(&inputs, &self.state, cfg, at);
        match &decision {
            Decision::ScaleUp { count, .. } => {
                let deadline = now + cfg.join_timeout_secs as i64;
                let mut op = self.operation(OperationKind::ScaleUp, now, deadline, ctx, &decision);
                let nodes: Vec<usize> = (0..*count).map(|_| cluster.launch(now, true)).collect();
                op.instance_ids = nodes
                    .iter()
                    .map(|&i| cluster.nodes[i].instance_id.clone())
                    .collect();
                op.requested_count = *count;
                events.push(Event {
                    t: now,
                    kind: EventKind::ScaleUp,
                    nodes: *count,
                    reason: op.reason.clone(),
                });
                self.state.operation = Some(op);
                self.op = Some(InFlight::Up { nodes, deadline });
            }
            Decision::ScaleDown {
                node, instance_id, ..
            } => {
                let Some(i) = cluster
                    .nodes
                    .iter()
                    .position(|n| n.alive() && &n.name == node)
                else {
                    return events;
                };
                let deadline = now + cfg.drain_timeout_secs as i64;
                let mut op =
                    self.operation(OperationKind::ScaleDown, now, deadline, ctx, &decision);
                op.instance_ids = vec![instance_id.clone()];
                op.node_name = Some(node.clone());
                self.state.operation = Some(op);
                cluster.cordon(i);
                self.op = Some(InFlight::Down { node: i, deadline });
                events.extend(self.progress(now, cluster, ctx));
            }
            Decision::NoChange { reasons } => {
                for r in reasons {
                    let key = serde_json::to_value(r)
                        .ok()
                        .and_then(|v| v.get("reason").and_then(|x| x.as_str()).map(str::to_owned))
                        .unwrap_or_else(|| "other".into());
                    *self.reasons.entry(key).or_default() += 1;
                }
            }
        }
        events
    }

    fn no_change_reasons(&self) -> BTreeMap<String, u64> {
        self.reasons.clone()
    }
}
