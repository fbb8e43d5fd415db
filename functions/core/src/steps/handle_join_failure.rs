//! HandleJoinFailure: instances not Ready by the join deadline are terminated.

use super::document::{ExecutionDocument, OutcomePart, OutcomeResult};
use super::{node_of_instance, renew, Deps};
use crate::error::{Error, Result};
use crate::lifecycle;
use chrono::{DateTime, Utc};

/// Renews the lease, terminates every instance in `$.ready.not_ready` (already gone is success)
/// and deletes the Node objects any of them registered (NotReady nodes). Instances that did join
/// stay: `nodes_after = nodes_before + ready` ([`lifecycle::workers_after_join_failure`]). The alert is sent by Notify from this outcome.
/// Errors: `LeaseLost`, `NotOwned` (Fatal), `InvalidInput` without `$.ready`, `Transient`.
pub async fn run(doc: &ExecutionDocument, deps: &Deps, now: DateTime<Utc>) -> Result<OutcomePart> {
    let ready = doc
        .ready
        .as_ref()
        .ok_or_else(|| Error::invalid_input("handling a join failure", "`ready` is missing"))?;
    renew(doc, deps, now).await?;
    let nodes = deps.cluster.nodes().await?;
    let managed = deps.provisioner.describe_managed().await?;
    for id in &ready.not_ready {
        deps.provisioner.terminate(id).await?;
        if let Some(n) = node_of_instance(&nodes, &managed, id) {
            deps.cluster.delete_node(&n.name).await?;
        }
    }
    let before = doc.nodes_before();
    Ok(OutcomePart {
        result: OutcomeResult::JoinFailed,
        terminated: ready.not_ready.clone(),
        uncordoned: None,
        nodes_before: before,
        nodes_after: lifecycle::workers_after_join_failure(before, ready.ready.len() as u32),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::steps::document::{ReadyPart, ReadyStatus};
    use crate::steps::testkit::*;

    struct Case {
        name: &'static str,
        ready: &'static [&'static str],
        not_ready: &'static [&'static str],
        /// The lease is taken over before the step runs.
        stolen: bool,
        /// `(nodes_before, nodes_after)`, or the error kind.
        want: std::result::Result<(u32, u32), &'static str>,
    }

    #[tokio::test]
    async fn join_failure_paths() {
        let cases = [
            Case {
                name: "one joined, one not",
                ready: &["i-a"],
                not_ready: &["i-b"],
                stolen: false,
                want: Ok((2, 3)),
            },
            Case {
                name: "none joined",
                ready: &[],
                not_ready: &["i-a", "i-b"],
                stolen: false,
                want: Ok((2, 2)),
            },
            Case {
                name: "lease lost terminates nothing",
                ready: &[],
                not_ready: &["i-a", "i-b"],
                stolen: true,
                want: Err("LeaseLost"),
            },
        ];
        for Case {
            name,
            ready,
            not_ready,
            stolen,
            want,
        } in cases
        {
            let w = World::with(
                vec![
                    node("w1", Some("i-1"), true),
                    node("na", Some("i-a"), ready.contains(&"i-a")),
                    node("nb", Some("i-b"), false),
                ],
                vec![
                    instance("i-1", None),
                    instance("i-a", Some("op")),
                    instance("i-b", Some("op")),
                ],
            );
            let mut doc = w.doc_with_lease(t0()).await;
            doc.operation = Some(scale_up_op("op", &["i-a", "i-b"], at(300)));
            doc.metrics = Some(summary(2));
            doc.ready = Some(ReadyPart {
                status: ReadyStatus::DeadlinePassed,
                ready: ready.iter().map(|s| s.to_string()).collect(),
                not_ready: not_ready.iter().map(|s| s.to_string()).collect(),
            });
            if stolen {
                w.steal_lease().await;
            }
            match (run(&doc, &w.deps, at(301)).await, want) {
                (Ok(o), Ok((b, a))) => {
                    assert_eq!((o.nodes_before, o.nodes_after), (b, a), "case {name}");
                    for id in not_ready {
                        assert!(
                            !w.ec2.live_ids().contains(&id.to_string()),
                            "case {name}: {id} terminated"
                        );
                    }
                    assert!(
                        w.k8s.node("nb").is_none(),
                        "case {name}: NotReady node deleted"
                    );
                }
                (Err(e), Err(kind)) => {
                    assert_eq!(e.kind(), kind, "case {name}");
                    assert_eq!(w.ec2.live_ids().len(), 3, "case {name}");
                }
                (got, want) => panic!("case {name}: got {got:?}, want {want:?}"),
            }
        }
    }
}
