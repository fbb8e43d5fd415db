//! The operation lifecycle: what each step of a scale-up or scale-down records, as pure values.
//!
//! A scale-up runs Evaluate → LaunchNodes → CheckNodesReady (until every instance is Ready or the
//! join deadline passes) → HandleJoinFailure when it passed → RecordOutcome. A scale-down runs
//! Evaluate → CordonNode → DrainNode (until drained or the drain deadline passes) → TerminateNode
//! or AbortDrain → RecordOutcome. The steps in `smartscale_core::steps` and the simulator's
//! SmartScale policy both call these functions, so the two cannot disagree on an operation's id,
//! its deadline, when it is Ready or drained, what it leaves behind, or which cooldown it starts.
//! The state machine is drawn in docs/ARCHITECTURE.md; the cooldown rules are in
//! docs/SCALING_ALGORITHM.md.

use crate::config::Policy;
use crate::model::{OperationKind, ScaleAction, ScalingState};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// The id of the operation an execution starts: `<cluster>-op-<fencing token>`, unique per
/// cluster because fencing tokens only grow, and the same on every retry of the execution.
pub fn operation_id(cluster_id: &str, fencing_token: u64) -> String {
    format!("{cluster_id}-op-{fencing_token}")
}

/// When an operation of `kind` started (or relaunched) at `start` must be done: `JOIN_TIMEOUT`
/// after it for a scale-up and for a Spot replacement (its instance joins or is terminated, as a
/// scale-up's), `DRAIN_TIMEOUT` for a scale-down.
pub fn deadline(kind: OperationKind, policy: &Policy, start: DateTime<Utc>) -> DateTime<Utc> {
    let secs = match kind {
        OperationKind::ScaleUp | OperationKind::SpotReplace => policy.join_timeout_secs,
        OperationKind::ScaleDown => policy.drain_timeout_secs,
    };
    start + Duration::seconds(secs as i64)
}

/// When the drain of a worker EC2 is reclaiming must be over: `SPOT_DRAIN_TIMEOUT` after the
/// interruption warning's time (EC2 reclaims the instance two minutes after it).
pub fn reclaim_deadline(policy: &Policy, signal_time: DateTime<Utc>) -> DateTime<Utc> {
    signal_time + Duration::seconds(policy.spot_drain_timeout_secs as i64)
}

/// What the spot machine's RecordOutcome records: a replacement and the retirement of the
/// signalled worker are no scaling decision, so no action is recorded and no cooldown starts
/// (`action: None`); the workers after it are those at the signal plus the replacements that
/// joined, less the signalled worker unless a refused drain kept it (`signalled_kept`).
pub fn finish_spot(
    workers_before: u32,
    joined: u32,
    signalled_kept: bool,
    reason: String,
    now: DateTime<Utc>,
) -> Finish {
    Finish {
        action: None,
        reason,
        node_count: (workers_before + joined).saturating_sub(u32::from(!signalled_kept)),
        at: now,
    }
}

/// `$.ready.status`: where a scale-up stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReadyStatus {
    /// Every instance of the operation is a Ready node.
    Ready,
    /// Not all Ready yet, deadline not reached.
    Waiting,
    /// Not all Ready and `now >= deadline`.
    DeadlinePassed,
}

/// CheckNodesReady's rule: `Ready` when no instance is left not Ready (also when none was
/// launched), `Waiting` before `deadline`, `DeadlinePassed` from it on.
pub fn readiness(not_ready: usize, deadline: DateTime<Utc>, now: DateTime<Utc>) -> ReadyStatus {
    if not_ready == 0 {
        ReadyStatus::Ready
    } else if now < deadline {
        ReadyStatus::Waiting
    } else {
        ReadyStatus::DeadlinePassed
    }
}

/// `$.drain.status` and `$.spot.status`: where a drain stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DrainStatus {
    /// Nothing a drain must move is left.
    Drained,
    /// Pods remain and the deadline is ahead.
    InProgress,
    /// The deadline passed and a disruption budget (or a never-evict annotation) kept pods on
    /// the node.
    BlockedDeadline,
    /// The deadline passed with pods still terminating or not yet evicted.
    DeadlinePassed,
}

/// DrainNode's rule: `Drained` when nothing is left to move, `InProgress` before `deadline`, then
/// `BlockedDeadline` when some pod was refused (`blocked`), else `DeadlinePassed`.
pub fn drain_status(
    drained: bool,
    blocked: bool,
    deadline: DateTime<Utc>,
    now: DateTime<Utc>,
) -> DrainStatus {
    if drained {
        DrainStatus::Drained
    } else if now < deadline {
        DrainStatus::InProgress
    } else if blocked {
        DrainStatus::BlockedDeadline
    } else {
        DrainStatus::DeadlinePassed
    }
}

/// `$.outcome.result`: how the step that ended an operation ended it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutcomeResult {
    /// TerminateNode: the drained worker was terminated.
    ScaledDown,
    /// HandleJoinFailure: instances that did not join were terminated.
    JoinFailed,
    /// AbortDrain: the node was uncordoned.
    DrainAborted,
}

impl OutcomeResult {
    /// The error a handled failure ends the execution with (the `Error` of the definition's Fail
    /// state RouteFinish sends it to, `docs/STATE_MACHINE.md`): `JoinTimeout` or `DrainAborted`;
    /// `None` for a success.
    pub fn error_name(self) -> Option<&'static str> {
        match self {
            OutcomeResult::ScaledDown => None,
            OutcomeResult::JoinFailed => Some("JoinTimeout"),
            OutcomeResult::DrainAborted => Some("DrainAborted"),
        }
    }
}

/// Workers after HandleJoinFailure: the instances that did join stay, the others are terminated,
/// so `nodes_before + joined`.
pub fn workers_after_join_failure(nodes_before: u32, joined: u32) -> u32 {
    nodes_before + joined
}

/// How an operation ended, as RecordOutcome finds it in the execution document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// CheckNodesReady saw every instance of the scale-up Ready; `joined` of them. `recovery`:
    /// this execution finishes an operation a dead run started, and its node count was taken
    /// after the dead run's workers registered.
    AllJoined {
        /// Instances that joined as Ready nodes.
        joined: u32,
        /// The operation was recovered from an earlier execution.
        recovery: bool,
    },
    /// HandleJoinFailure, TerminateNode or AbortDrain ended it with `result`.
    Outcome {
        /// Which step and how.
        result: OutcomeResult,
        /// Workers before the operation.
        nodes_before: u32,
        /// Workers after it.
        nodes_after: u32,
    },
}

/// What finishing an operation records in the state (the `finish_operation` write).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finish {
    /// The action the cluster went through, which starts that action's cooldown; `None` when
    /// nothing changed (drain aborted, no worker joined, nothing launched), so no cooldown starts
    /// for an undone operation.
    pub action: Option<ScaleAction>,
    /// Why the operation was started, in sentences.
    pub reason: String,
    /// Workers after the operation.
    pub node_count: u32,
    /// When it finished (the step's `now`).
    pub at: DateTime<Utc>,
}

/// RecordOutcome's rule: what `ending` records when the operation had `nodes_before` workers
/// before it, was started for `reason`, and finishes at `now`.
///
/// A scale-down that terminated its node records `ScaleDown`; a scale-up records `ScaleUp` only
/// when at least one worker joined (all Ready, or a join failure that kept some); an aborted
/// drain or a scale-up where no worker joined records no action.
pub fn finish(ending: Ending, nodes_before: u32, reason: String, now: DateTime<Utc>) -> Finish {
    let (action, node_count) = match ending {
        Ending::AllJoined { joined, recovery } => {
            let after = if recovery {
                nodes_before
            } else {
                nodes_before + joined
            };
            ((joined > 0).then_some(ScaleAction::ScaleUp), after)
        }
        Ending::Outcome {
            result,
            nodes_before,
            nodes_after,
        } => {
            let action = match result {
                OutcomeResult::ScaledDown => Some(ScaleAction::ScaleDown),
                OutcomeResult::JoinFailed if nodes_after > nodes_before => {
                    Some(ScaleAction::ScaleUp)
                }
                OutcomeResult::JoinFailed | OutcomeResult::DrainAborted => None,
            };
            (action, nodes_after)
        }
    };
    Finish {
        action,
        reason,
        node_count,
        at: now,
    }
}

/// Applies `f` to `state` as the state table's `finish_operation` does: clears the operation in
/// flight, records the node count and the reason, and, only when an action was recorded, the
/// action and its time (which start its cooldown, see [`crate::engine`]).
pub fn apply(state: &mut ScalingState, f: &Finish) {
    state.operation = None;
    state.node_count = Some(f.node_count);
    state.last_scale_reason = Some(f.reason.clone());
    if let Some(action) = f.action {
        state.last_scale_action = Some(action);
        state.last_scale_time = Some(f.at);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(secs: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 5, 12, 0, 0).unwrap() + Duration::seconds(secs)
    }

    struct FinishCase {
        name: &'static str,
        ending: Ending,
        nodes_before: u32,
        action: Option<ScaleAction>,
        node_count: u32,
    }

    fn outcome(result: OutcomeResult, nodes_before: u32, nodes_after: u32) -> Ending {
        Ending::Outcome {
            result,
            nodes_before,
            nodes_after,
        }
    }

    #[test]
    fn what_each_ending_records() {
        let cases = [
            FinishCase {
                name: "scale-up, all joined",
                ending: Ending::AllJoined {
                    joined: 2,
                    recovery: false,
                },
                nodes_before: 2,
                action: Some(ScaleAction::ScaleUp),
                node_count: 4,
            },
            FinishCase {
                name: "recovered scale-up: the count already holds the joined workers",
                ending: Ending::AllJoined {
                    joined: 1,
                    recovery: true,
                },
                nodes_before: 3,
                action: Some(ScaleAction::ScaleUp),
                node_count: 3,
            },
            FinishCase {
                name: "recovery with nothing launched: no scale-up, no cooldown",
                ending: Ending::AllJoined {
                    joined: 0,
                    recovery: true,
                },
                nodes_before: 2,
                action: None,
                node_count: 2,
            },
            FinishCase {
                name: "join failure, one of two joined: a scale-up of one",
                ending: outcome(
                    OutcomeResult::JoinFailed,
                    2,
                    workers_after_join_failure(2, 1),
                ),
                nodes_before: 2,
                action: Some(ScaleAction::ScaleUp),
                node_count: 3,
            },
            FinishCase {
                name: "no worker joined: no scale-up recorded, no cooldown",
                ending: outcome(
                    OutcomeResult::JoinFailed,
                    2,
                    workers_after_join_failure(2, 0),
                ),
                nodes_before: 2,
                action: None,
                node_count: 2,
            },
            FinishCase {
                name: "scaled down",
                ending: outcome(OutcomeResult::ScaledDown, 3, 2),
                nodes_before: 3,
                action: Some(ScaleAction::ScaleDown),
                node_count: 2,
            },
            FinishCase {
                name: "drain aborted: nothing changed, no cooldown",
                ending: outcome(OutcomeResult::DrainAborted, 3, 3),
                nodes_before: 3,
                action: None,
                node_count: 3,
            },
        ];
        for c in cases {
            let f = finish(c.ending, c.nodes_before, "because".into(), at(100));
            assert_eq!(
                (f.action, f.node_count),
                (c.action, c.node_count),
                "case {}",
                c.name
            );
            let mut state = ScalingState::new("c1");
            state.last_scale_action = Some(ScaleAction::ScaleDown);
            state.last_scale_time = Some(at(-1000));
            apply(&mut state, &f);
            assert!(state.operation.is_none(), "case {}", c.name);
            assert_eq!(state.node_count, Some(c.node_count), "case {}", c.name);
            assert_eq!(
                state.last_scale_reason.as_deref(),
                Some("because"),
                "case {}",
                c.name
            );
            match c.action {
                Some(a) => {
                    assert_eq!(state.last_scale_action, Some(a), "case {}", c.name);
                    assert_eq!(state.last_scale_time, Some(at(100)), "case {}", c.name);
                }
                None => {
                    // The earlier action and its time stay: no new cooldown starts.
                    assert_eq!(
                        state.last_scale_action,
                        Some(ScaleAction::ScaleDown),
                        "case {}",
                        c.name
                    );
                    assert_eq!(state.last_scale_time, Some(at(-1000)), "case {}", c.name);
                }
            }
        }
    }

    struct ReadyCase {
        name: &'static str,
        not_ready: usize,
        now: i64,
        want: ReadyStatus,
    }

    #[test]
    fn readiness_by_deadline() {
        let cases = [
            ReadyCase {
                name: "all ready",
                not_ready: 0,
                now: 10,
                want: ReadyStatus::Ready,
            },
            ReadyCase {
                name: "nothing launched counts as ready, even late",
                not_ready: 0,
                now: 400,
                want: ReadyStatus::Ready,
            },
            ReadyCase {
                name: "before the deadline",
                not_ready: 1,
                now: 299,
                want: ReadyStatus::Waiting,
            },
            ReadyCase {
                name: "at the deadline",
                not_ready: 1,
                now: 300,
                want: ReadyStatus::DeadlinePassed,
            },
        ];
        for c in cases {
            assert_eq!(
                readiness(c.not_ready, at(300), at(c.now)),
                c.want,
                "case {}",
                c.name
            );
        }
    }

    struct DrainCase {
        name: &'static str,
        drained: bool,
        blocked: bool,
        now: i64,
        want: DrainStatus,
    }

    #[test]
    fn drain_status_by_deadline() {
        let cases = [
            DrainCase {
                name: "drained late is still drained",
                drained: true,
                blocked: false,
                now: 400,
                want: DrainStatus::Drained,
            },
            DrainCase {
                name: "blocked before the deadline keeps going",
                drained: false,
                blocked: true,
                now: 10,
                want: DrainStatus::InProgress,
            },
            DrainCase {
                name: "blocked at the deadline",
                drained: false,
                blocked: true,
                now: 300,
                want: DrainStatus::BlockedDeadline,
            },
            DrainCase {
                name: "slow at the deadline",
                drained: false,
                blocked: false,
                now: 300,
                want: DrainStatus::DeadlinePassed,
            },
        ];
        for c in cases {
            assert_eq!(
                drain_status(c.drained, c.blocked, at(300), at(c.now)),
                c.want,
                "case {}",
                c.name
            );
        }
    }

    #[test]
    fn ids_and_deadlines() {
        assert_eq!(operation_id("c1", 7), "c1-op-7");
        let p = Policy::default();
        let cases = [
            (
                "scale-up waits JOIN_TIMEOUT",
                OperationKind::ScaleUp,
                p.join_timeout_secs,
            ),
            (
                "scale-down waits DRAIN_TIMEOUT",
                OperationKind::ScaleDown,
                p.drain_timeout_secs,
            ),
            (
                "spot replacement waits JOIN_TIMEOUT for its instance",
                OperationKind::SpotReplace,
                p.join_timeout_secs,
            ),
        ];
        for (name, kind, secs) in cases {
            assert_eq!(deadline(kind, &p, at(0)), at(secs as i64), "case {name}");
        }
        assert_eq!(
            reclaim_deadline(&p, at(0)),
            at(p.spot_drain_timeout_secs as i64),
            "a reclaim drain ends SPOT_DRAIN_TIMEOUT after the warning"
        );
    }

    #[test]
    fn a_spot_ending_starts_no_cooldown() {
        struct Case {
            name: &'static str,
            before: u32,
            joined: u32,
            kept: bool,
            want: u32,
        }
        let cases = [
            Case {
                name: "warning, replacement joined: the count stays",
                before: 3,
                joined: 1,
                kept: false,
                want: 3,
            },
            Case {
                name: "warning, no replacement: one fewer",
                before: 3,
                joined: 0,
                kept: false,
                want: 2,
            },
            Case {
                name: "rebalance, drain refused: the worker stays beside its replacement",
                before: 3,
                joined: 1,
                kept: true,
                want: 4,
            },
        ];
        for c in cases {
            let f = finish_spot(c.before, c.joined, c.kept, "r".into(), at(1));
            assert_eq!(f.action, None, "case {}", c.name);
            assert_eq!(f.node_count, c.want, "case {}", c.name);
        }
    }
}
