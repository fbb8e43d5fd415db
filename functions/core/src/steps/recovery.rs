//! What Evaluate does with an operation a dead run left behind: finish it when the world already
//! finished it, resume it a bounded number of times, or give it up.
//!
//! The rules are in `docs/STATE_AND_LOCKING.md` ("Recovery"). The plan is a value computed from
//! the operation, the cluster view and EC2's managed instances; [`super::evaluate`] executes it.

use crate::model::{ClusterView, Operation, OperationKind};
use crate::seams::ManagedInstance;

/// Takeovers of one operation before recovery gives it up: a run that dies (or fails) on the
/// same operation this many times will fail again, and scaling must not stay stopped behind it.
pub const MAX_RECOVERY_ATTEMPTS: u32 = 3;

/// What to do with an operation left by a dead run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecoveryPlan {
    /// Hand the operation to the state machine again (`recover`), with its attempt count raised.
    Resume(Operation),
    /// The scale-down's instance is gone: delete the Node `delete_node` when it is still there,
    /// then close the operation as a finished scale-down.
    Finished {
        /// The Node whose instance is gone.
        delete_node: Option<String>,
        /// Why, for the record and the log.
        why: String,
    },
    /// Close the operation as undone, uncordon `uncordon` when it was a scale-down, and alert.
    GiveUp {
        /// The scale-down node left cordoned.
        uncordon: Option<String>,
        /// Why, for the record and the alert.
        why: String,
    },
}

/// The plan for `op`. A scale-down whose instance is no longer running (terminated outside the
/// run) is finished rather than resumed. One whose Node alone is gone (`kubectl delete node`) is
/// resumed: CordonNode and DrainNode pass over a missing node and TerminateNode ends it. Every
/// resumed operation is resumed until it has been taken over [`MAX_RECOVERY_ATTEMPTS`] times,
/// then given up.
pub fn plan(op: &Operation, view: &ClusterView, managed: &[ManagedInstance]) -> RecoveryPlan {
    if op.kind == OperationKind::ScaleDown {
        let instance = op.instance_ids.first();
        let node = op.node_name.as_deref();
        let node_present = node.is_some_and(|n| view.nodes.iter().any(|v| v.name == n));
        let instance_running = instance.is_some_and(|id| {
            managed
                .iter()
                .any(|m| &m.instance_id == id && matches!(m.state.as_str(), "pending" | "running"))
        });
        let instance_name = instance.map_or("(no instance)", String::as_str);
        let node_name = node.unwrap_or("(no node)");
        match (node_present, instance_running) {
            (false, false) => {
                return RecoveryPlan::Finished {
                    delete_node: None,
                    why: format!(
                        "scale-down {} already done: node {node_name} and instance {instance_name} are gone",
                        op.id
                    ),
                }
            }
            (true, false) => {
                return RecoveryPlan::Finished {
                    delete_node: node.map(str::to_string),
                    why: format!(
                        "scale-down {}: instance {instance_name} is gone, deleting its node {node_name}",
                        op.id
                    ),
                }
            }
            (_, true) => {}
        }
    }
    if op.recovery_attempts >= MAX_RECOVERY_ATTEMPTS {
        let what = match op.kind {
            OperationKind::ScaleUp => format!(
                "instances {} may need a look",
                if op.instance_ids.is_empty() {
                    "(none recorded)".to_string()
                } else {
                    op.instance_ids.join(", ")
                }
            ),
            _ => format!(
                "node {} is uncordoned",
                op.node_name.as_deref().unwrap_or("(no node)")
            ),
        };
        return RecoveryPlan::GiveUp {
            uncordon: (op.kind != OperationKind::ScaleUp)
                .then(|| op.node_name.clone())
                .flatten(),
            why: format!(
                "gave up operation {} after {} recovery attempts; {what}",
                op.id, op.recovery_attempts
            ),
        };
    }
    RecoveryPlan::Resume(Operation {
        recovery_attempts: op.recovery_attempts + 1,
        ..op.clone()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::steps::testkit::*;

    fn down(attempts: u32) -> Operation {
        Operation {
            recovery_attempts: attempts,
            ..scale_down_op("w1", "i-1", at(300))
        }
    }

    #[test]
    fn plans() {
        let both = || World::new();
        // (name, op, node w1 present, instance i-1 running, want)
        type Case = (&'static str, Operation, bool, bool, &'static str);
        let cases: Vec<Case> = vec![
            ("node and instance gone", down(0), false, false, "finished"),
            ("instance gone", down(0), true, false, "delete w1"),
            (
                "node gone: resume, TerminateNode ends it",
                down(0),
                false,
                true,
                "resume 1",
            ),
            ("both there: resume", down(0), true, true, "resume 1"),
            ("second takeover", down(2), true, true, "resume 3"),
            ("bound reached", down(3), true, true, "give up, uncordon w1"),
            (
                "gone wins over the bound",
                down(7),
                false,
                false,
                "finished",
            ),
            (
                "scale-up bound reached",
                Operation {
                    recovery_attempts: 3,
                    ..scale_up_op("c1-op-0", &["i-9"], at(300))
                },
                true,
                true,
                "give up",
            ),
        ];
        for (name, op, node_present, running, want) in cases {
            let w = both();
            let mut view = w.k8s.view.lock().unwrap().clone();
            if !node_present {
                view.nodes.retain(|n| n.name != "w1");
            }
            let mut managed = vec![instance("i-2", None)];
            if running {
                managed.push(instance("i-1", None));
            } else {
                let mut gone = instance("i-1", None);
                gone.state = "shutting-down".into();
                managed.push(gone);
            }
            let got = match plan(&op, &view, &managed) {
                RecoveryPlan::Resume(o) => format!("resume {}", o.recovery_attempts),
                RecoveryPlan::Finished {
                    delete_node: Some(n),
                    ..
                } => format!("delete {n}"),
                RecoveryPlan::Finished { .. } => "finished".into(),
                RecoveryPlan::GiveUp {
                    uncordon: Some(n), ..
                } => format!("give up, uncordon {n}"),
                RecoveryPlan::GiveUp { .. } => "give up".into(),
            };
            assert_eq!(got, want, "case {name}");
        }
    }
}
