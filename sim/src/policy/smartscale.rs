//! SmartScale: core's engine, executed the way the state machine executes its decisions.

use super::{drain_round, Ctx, Event, EventKind, Policy};
use crate::cluster::{Cluster, NodeState};
use crate::observe::{cluster_view, Observer};
use crate::scenario::Scenario;
use chrono::{DateTime, Utc};
use smartscale_engine::engine::forecast::DemandHistory;
use smartscale_engine::engine::{Decision, Inputs};
use smartscale_engine::lifecycle::{self, DrainStatus, Ending, OutcomeResult, ReadyStatus};
use smartscale_engine::model::{Operation, OperationKind, ScalingState};
use smartscale_engine::Policy as Config;
use std::collections::BTreeMap;

/// The one place the simulator asks SmartScale's engine for a decision.
pub fn smartscale_decide(
    inputs: &Inputs,
    history: Option<&DemandHistory>,
    state: &ScalingState,
    config: &Config,
    now: DateTime<Utc>,
) -> Decision {
    smartscale_engine::engine::decide_with(inputs, history, state, config, now)
}

/// True at `now` while the spot machine would hold the cluster lease in production: from a
/// worker's interruption warning until the replacement launched for it ([`Node::replacement`],
/// at the warning by SmartScale's reaction) is Ready, or `join_timeout` after the warning
/// (LaunchReplacement records a `spot_replace` operation and waits for its join under the lease;
/// docs/STATE_MACHINE.md, "The spot machine"). The periodic run's AcquireLock then finds the
/// lease held and ends the tick without an evaluation, so the engine never sizes a scale-up for
/// the pods a booting replacement is about to hold. A warning without a replacement (at
/// `MAX_NODES` LaunchReplacement launches none) holds no lease here, whatever else is booting.
///
/// [`Node::replacement`]: crate::cluster::Node::replacement
pub fn spot_lease_held(cluster: &Cluster, now: i64, join_timeout: i64) -> bool {
    cluster
        .nodes
        .iter()
        .filter(|n| n.warned_at.is_some_and(|w| now < w + join_timeout))
        .filter_map(|n| n.replacement)
        .any(|r| cluster.nodes[r].state == NodeState::Booting)
}

#[derive(Debug, Clone)]
enum InFlight {
    Up {
        nodes: Vec<usize>,
        deadline: i64,
        before: u32,
    },
    Down {
        node: usize,
        deadline: i64,
        before: u32,
    },
}

/// SmartScale: consulted on the EventBridge schedule; launches and drains run like the state
/// machine's (launch → wait for Ready or the join deadline; cordon → drain in `drain_poll` rounds
/// that respect the budget → terminate, or abort at the drain deadline); the last action and the
/// operation in flight live in a [`ScalingState`] as in DynamoDB. What each ending records comes
/// from the engine's [`lifecycle`], as in the steps. The demand history the forecast reads is
/// kept in memory, recorded at every evaluation as Evaluate records it, with the boot-to-Ready
/// time of each scale-up that joined. While a Spot replacement is joining, the scheduled tick
/// is skipped, as the spot machine's lease makes production skip it ([`spot_lease_held`]).
#[derive(Debug, Clone)]
pub struct SmartScale {
    state: ScalingState,
    op: Option<InFlight>,
    ops: u64,
    reasons: BTreeMap<String, u64>,
    history: DemandHistory,
}

impl SmartScale {
    /// A SmartScale that has never acted on the scenario's cluster.
    pub fn new(scenario: &Scenario) -> Self {
        SmartScale {
            state: ScalingState::new(scenario.policy.cluster_id.clone()),
            op: None,
            ops: 0,
            reasons: BTreeMap::new(),
            history: DemandHistory::default(),
        }
    }

    /// Ends the operation in flight as RecordOutcome does.
    fn finish(&mut self, ending: Ending, before: u32, at: DateTime<Utc>) {
        self.op = None;
        let reason = self
            .state
            .operation
            .as_ref()
            .map(|o| o.reason.clone())
            .unwrap_or_default();
        lifecycle::apply(
            &mut self.state,
            &lifecycle::finish(ending, before, reason, at),
        );
    }

    /// The operation's reason, for event lines.
    fn reason(&self) -> &str {
        self.state
            .operation
            .as_ref()
            .map_or("", |o| o.reason.as_str())
    }

    fn progress(&mut self, now: i64, cluster: &mut Cluster, ctx: Ctx<'_>) -> Vec<Event> {
        let mut events = Vec::new();
        let poll = ctx.scenario.simulation.drain_poll_secs as i64;
        match self.op.clone() {
            None => {}
            Some(InFlight::Up {
                nodes,
                deadline,
                before,
            }) => {
                let joined = nodes.iter().filter(|&&i| cluster.nodes[i].ready()).count() as u32;
                match lifecycle::readiness(
                    nodes.len() - joined as usize,
                    ctx.at(deadline),
                    ctx.at(now),
                ) {
                    ReadyStatus::Waiting => {}
                    ReadyStatus::Ready => {
                        if let Some(op) = &self.state.operation {
                            let took = (ctx.at(now) - op.started_at).num_seconds();
                            self.history.boot_to_ready_secs = Some(took.max(0) as u64);
                        }
                        let ending = Ending::AllJoined {
                            joined,
                            recovery: false,
                        };
                        self.finish(ending, before, ctx.at(now));
                    }
                    ReadyStatus::DeadlinePassed => {
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
                        let ending = Ending::Outcome {
                            result: OutcomeResult::JoinFailed,
                            nodes_before: before,
                            nodes_after: lifecycle::workers_after_join_failure(before, joined),
                        };
                        self.finish(ending, before, ctx.at(now));
                    }
                }
            }
            Some(InFlight::Down {
                node,
                deadline,
                before,
            }) if now % poll == 0 => {
                let drained = drain_round(cluster, node, now);
                match lifecycle::drain_status(drained, false, ctx.at(deadline), ctx.at(now)) {
                    DrainStatus::InProgress => {}
                    DrainStatus::Drained => {
                        let name = cluster.nodes[node].name.clone();
                        cluster.terminate(node, now);
                        events.push(Event {
                            t: now,
                            kind: EventKind::ScaleDown,
                            nodes: 1,
                            reason: format!("{name} drained and terminated: {}", self.reason()),
                        });
                        let ending = Ending::Outcome {
                            result: OutcomeResult::ScaledDown,
                            nodes_before: before,
                            nodes_after: before.saturating_sub(1),
                        };
                        self.finish(ending, before, ctx.at(now));
                    }
                    DrainStatus::BlockedDeadline | DrainStatus::DeadlinePassed => {
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
                        let ending = Ending::Outcome {
                            result: OutcomeResult::DrainAborted,
                            nodes_before: before,
                            nodes_after: before,
                        };
                        self.finish(ending, before, ctx.at(now));
                    }
                }
            }
            Some(InFlight::Down { .. }) => {}
        }
        events
    }

    /// The operation's deadline in simulation seconds, as [`lifecycle::deadline`] sets it.
    fn deadline(kind: OperationKind, cfg: &Config, now: i64, ctx: Ctx<'_>) -> i64 {
        let at = ctx.at(now);
        now + (lifecycle::deadline(kind, cfg, at) - at).num_seconds()
    }

    /// Records the demand of this evaluation and, unless the forecast is off, notes the
    /// forecast one horizon ahead (so its error is measured when that time comes).
    fn observe_demand(&mut self, inputs: &Inputs, cfg: &Config, at: DateTime<Utc>) {
        self.history.observe(inputs, cfg, at);
    }

    /// The demand history recorded so far.
    pub fn history(&self) -> &DemandHistory {
        &self.history
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
            recovery_attempts: 0,
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
        if self.op.is_none() && spot_lease_held(cluster, now, cfg.join_timeout_secs as i64) {
            *self.reasons.entry("spot_lease_held".into()).or_default() += 1;
            return events;
        }
        let at = ctx.at(now);
        let inputs = Inputs {
            metrics: observer.snapshot(now, at, cfg),
            cluster: cluster_view(cluster, ctx.start),
        };
        self.observe_demand(&inputs, cfg, at);
        let decision = smartscale_decide(&inputs, Some(&self.history), &self.state, cfg, at);
        match &decision {
            Decision::ScaleUp { count, launch, .. } => {
                let deadline = Self::deadline(OperationKind::ScaleUp, cfg, now, ctx);
                let before = cluster.alive_count();
                let mut op = self.operation(OperationKind::ScaleUp, now, deadline, ctx, &decision);
                let nodes = cluster.launch_plan(now, true, launch);
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
                self.op = Some(InFlight::Up {
                    nodes,
                    deadline,
                    before,
                });
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
                let deadline = Self::deadline(OperationKind::ScaleDown, cfg, now, ctx);
                let before = cluster.alive_count();
                let mut op =
                    self.operation(OperationKind::ScaleDown, now, deadline, ctx, &decision);
                op.instance_ids = vec![instance_id.clone()];
                op.node_name = Some(node.clone());
                self.state.operation = Some(op);
                cluster.cordon(i);
                self.op = Some(InFlight::Down {
                    node: i,
                    deadline,
                    before,
                });
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

    fn forecast_errors(&self) -> Vec<smartscale_engine::engine::forecast::HourError> {
        self.history.errors.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::testing::{cluster, drive, scenario};

    /// Two full Spot workers warned at 60 s: their pods go Pending and a replacement boots for
    /// each. The lease the spot machine holds until the replacements join keeps the scheduled
    /// ticks from sizing a scale-up for those pods, even when the replacements boot past the
    /// pending-pods window.
    #[test]
    fn no_scale_up_for_pods_that_joining_spot_replacements_will_hold() {
        use crate::cluster::Buying;
        use smartscale_engine::engine::capacity::CapacityType;
        struct Case {
            name: &'static str,
            boot_secs: u64,
            want_held_ticks: u64,
        }
        let cases = [
            Case {
                name: "replacements boot past the pending window",
                boot_secs: 200,
                want_held_ticks: 2,
            },
            Case {
                name: "replacements Ready within the pending window",
                boot_secs: 90,
                want_held_ticks: 1,
            },
        ];
        for case in cases {
            let mut s = scenario();
            s.policy.on_demand_base_capacity = 2;
            s.policy.on_demand_percentage_above_base_pct = 0.0;
            s.workload.pdb_max_unavailable = None;
            s.node.boot_delay_secs = case.boot_secs;
            let slots = {
                let c = cluster(&s, &[0], 0);
                c.pods_per_node()
            };
            let mut c = cluster(&s, &[slots, slots], 0);
            c.buying = Buying::Mix(Box::new(s.policy.clone()));
            for _ in 0..2 {
                let i = c.launch(0, true);
                assert_eq!(
                    c.nodes[i].capacity,
                    CapacityType::Spot,
                    "case {}",
                    case.name
                );
                c.nodes[i].state = NodeState::Ready;
                c.nodes[i].pods = slots;
                c.nodes[i].idle_since = None;
                c.nodes[i].warning_due = Some(60);
            }
            c.set_replicas(0, 4 * slots);
            let mut p = SmartScale::new(&s);
            let events = drive(&mut p, &mut c, &s, (0, 480), &mut |_, _| {});
            assert_eq!(c.spot.interruptions, 2, "case {}", case.name);
            let ups: Vec<&Event> = events
                .iter()
                .filter(|e| e.kind == EventKind::ScaleUp)
                .collect();
            assert!(ups.is_empty(), "case {}: {ups:?}", case.name);
            assert!(
                c.pending.is_empty(),
                "case {}: the replacements hold them",
                case.name
            );
            assert_eq!(
                p.no_change_reasons().get("spot_lease_held").copied(),
                Some(case.want_held_ticks),
                "case {}",
                case.name
            );
        }
    }

    /// Full workers and pods Pending just after a scale-down: the scale-up for them comes on the
    /// first tick a whole pending window after the scale-down, not at the end of its 10-minute
    /// cooldown; `COOLDOWN_SCALE_DOWN_PENDING` at the whole cooldown gives the specification's wait.
    #[test]
    fn pods_pending_after_a_scale_down_wait_a_window_not_the_cooldown() {
        use smartscale_engine::model::ScaleAction;
        struct Case {
            name: &'static str,
            pending_cooldown_secs: u64,
            want_first_up: i64,
            want_reason: &'static str,
        }
        let cases = [
            Case {
                name: "the default: the first tick after a whole window",
                pending_cooldown_secs: 0,
                want_first_up: 240,
                want_reason: "after the scale-down: they go ahead of its cooldown (6m left)",
            },
            Case {
                name: "COOLDOWN_SCALE_DOWN_PENDING=10m: the end of the cooldown",
                pending_cooldown_secs: 600,
                want_first_up: 600,
                want_reason: "3 pod(s) Pending for over 3m",
            },
        ];
        for case in cases {
            let mut s = scenario();
            s.policy.scale_down_cooldown_pending_secs = case.pending_cooldown_secs;
            let slots = cluster(&s, &[0], 0).pods_per_node();
            let mut c = cluster(&s, &[slots, slots, slots], 3);
            let mut p = SmartScale::new(&s);
            p.state.last_scale_time = Some(s.start.with_timezone(&Utc));
            p.state.last_scale_action = Some(ScaleAction::ScaleDown);
            let events = drive(&mut p, &mut c, &s, (0, 600), &mut |_, _| {});
            let up = events
                .iter()
                .find(|e| e.kind == EventKind::ScaleUp)
                .unwrap_or_else(|| panic!("case {}: no scale-up in {events:?}", case.name));
            assert_eq!(
                up.t, case.want_first_up,
                "case {}: {}",
                case.name, up.reason
            );
            assert_eq!(up.nodes, 1, "case {}: {}", case.name, up.reason);
            assert!(
                up.reason.contains(case.want_reason),
                "case {}: {}",
                case.name,
                up.reason
            );
        }
    }

    /// The lease follows the replacement recorded at the warning, not whatever was launched in
    /// the warning's second: a replacement launched later holds it until Ready, an unrelated
    /// launch holds none.
    #[test]
    fn the_spot_lease_follows_the_recorded_replacement() {
        use smartscale_engine::engine::capacity::CapacityType;
        const WARNED: i64 = 100;
        const JOIN: i64 = 300;
        struct Case {
            name: &'static str,
            /// Launch times of the workers launched after worker 0's warning at `WARNED`.
            launches: &'static [i64],
            /// Which of them is its recorded replacement.
            replacement: Option<usize>,
            replacement_ready: bool,
            now: i64,
            want: bool,
        }
        let case = |name, launches, replacement, now, want| Case {
            name,
            launches,
            replacement,
            replacement_ready: false,
            now,
            want,
        };
        let cases = [
            case("the replacement boots: held", &[WARNED], Some(0), 200, true),
            case(
                "the replacement launched a second after the warning: held",
                &[WARNED + 1],
                Some(0),
                200,
                true,
            ),
            case(
                "an unrelated launch in the warning's second, no replacement: not held",
                &[WARNED],
                None,
                200,
                false,
            ),
            case(
                "the replacement is the second launch of the warning's second: held",
                &[WARNED, WARNED],
                Some(1),
                200,
                true,
            ),
            case(
                "past the join timeout: not held",
                &[WARNED],
                Some(0),
                WARNED + JOIN,
                false,
            ),
            Case {
                replacement_ready: true,
                ..case(
                    "the replacement Ready: not held",
                    &[WARNED],
                    Some(0),
                    200,
                    false,
                )
            },
        ];
        let s = scenario();
        let types = [s.node.instance_type.clone()];
        for c in cases {
            let mut cl = cluster(&s, &[0, 0], 0);
            cl.nodes[0].warned_at = Some(WARNED);
            let launched: Vec<usize> = c
                .launches
                .iter()
                .map(|&t| cl.launch_as(t, true, CapacityType::OnDemand, &types, None))
                .collect();
            if let Some(r) = c.replacement.map(|k| launched[k]) {
                cl.nodes[0].replacement = Some(r);
                if c.replacement_ready {
                    cl.nodes[r].state = NodeState::Ready;
                }
            }
            assert_eq!(spot_lease_held(&cl, c.now, JOIN), c.want, "case {}", c.name);
        }
    }

    /// Production's fleet request buys on-demand `prioritized` (the first `WORKER_INSTANCE_TYPES`
    /// type) and Spot `price-capacity-optimized`: the plan's on-demand worker is a t3.small,
    /// though t3a.small on-demand is cheaper, and its Spot worker the cheapest pool, t3a.small.
    #[test]
    fn a_launch_plan_buys_on_demand_by_preference_and_spot_by_price() {
        use smartscale_engine::engine::capacity::{CapacityType, LaunchPlan};
        let s = scenario();
        let mut c = cluster(&s, &[], 0);
        let plan = LaunchPlan {
            on_demand: 1,
            spot: 1,
            instance_types: vec!["t3.small".into(), "t3a.small".into()],
        };
        let got: Vec<(CapacityType, String)> = c
            .launch_plan(0, true, &plan)
            .into_iter()
            .map(|i| (c.nodes[i].capacity, c.nodes[i].instance_type.clone()))
            .collect();
        assert!(
            c.market.price("t3a.small", CapacityType::OnDemand)
                < c.market.price("t3.small", CapacityType::OnDemand)
        );
        assert_eq!(
            got,
            [
                (CapacityType::OnDemand, "t3.small".to_string()),
                (CapacityType::Spot, "t3a.small".to_string())
            ]
        );
    }

    #[test]
    fn a_scale_up_where_no_worker_joins_records_no_scale_up_and_no_cooldown() {
        let mut s = scenario();
        s.node.boot_delay_secs = 1_000_000;
        let mut c = cluster(&s, &[4, 4], 40);
        let mut p = SmartScale::new(&s);
        let horizon = (s.policy.pending_pods_window_secs + s.policy.join_timeout_secs + 240) as i64;
        let events = drive(&mut p, &mut c, &s, (0, horizon), &mut |_, _| {});
        let failed = events
            .iter()
            .filter(|e| e.kind == EventKind::JoinFailed)
            .count();
        assert_eq!(failed, 1, "one join failure in the horizon: {events:?}");
        assert_eq!(
            p.state.last_scale_action, None,
            "no action recorded, so no cooldown starts"
        );
        assert_eq!(p.state.last_scale_time, None);
        assert_eq!(
            p.state.node_count,
            Some(2),
            "the two workers that were there before"
        );
    }
}
