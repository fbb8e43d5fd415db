//! CheckNodesReady: have the operation's instances joined as Ready nodes?

use super::document::{ExecutionDocument, ReadyPart};
use super::{node_of_instance, renew, Deps};
use crate::error::Result;
use crate::lifecycle;
use chrono::{DateTime, Utc};

/// Renews the lease and sorts the operation's instances — those in `$.operation.instance_ids`,
/// or when none is recorded those EC2 tags with its operation id, so a recovery finds instances a
/// dead run launched but never recorded ([`crate::seams::NodeProvisioner::describe_operation`]) —
/// into Ready and not Ready, and judges them by [`lifecycle::readiness`]: `ready`
/// when all are Ready (or there are none: nothing was launched), `waiting` before
/// `$.operation.deadline`, `deadline_passed` from it on.
/// Errors: `LeaseLost`, `InvalidInput`, the adapters' `Transient`.
pub async fn run(doc: &ExecutionDocument, deps: &Deps, now: DateTime<Utc>) -> Result<ReadyPart> {
    let op = doc.require_operation()?;
    renew(doc, deps, now).await?;
    let (managed, nodes) = futures::try_join!(
        deps.provisioner
            .describe_operation(&op.id, &op.instance_ids),
        deps.cluster.nodes(),
    )?;
    // The recorded ids stay in even when EC2 no longer has them (gone counts as not Ready).
    let mut ids: Vec<String> = op.instance_ids.clone();
    ids.extend(managed.iter().map(|m| m.instance_id.clone()));
    ids.sort();
    ids.dedup();
    let (ready, not_ready): (Vec<String>, Vec<String>) = ids
        .into_iter()
        .partition(|id| node_of_instance(&nodes, &managed, id).is_some_and(|n| n.ready));
    let status = lifecycle::readiness(not_ready.len(), op.deadline, now);
    Ok(ReadyPart {
        status,
        ready,
        not_ready,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::steps::document::ReadyStatus;
    use crate::steps::testkit::*;

    #[tokio::test]
    async fn readiness_paths() {
        // (name, recorded ids, tagged instances, nodes (name, instance, ready), now, want status, ready, not ready)
        type Case<'a> = (
            &'a str,
            &'a [&'a str],
            &'a [&'a str],
            &'a [(&'a str, &'a str, bool)],
            i64,
            ReadyStatus,
            &'a [&'a str],
            &'a [&'a str],
        );
        let cases: Vec<Case> = vec![
            (
                "none joined yet",
                &["i-a", "i-b"],
                &["i-a", "i-b"],
                &[],
                10,
                ReadyStatus::Waiting,
                &[],
                &["i-a", "i-b"],
            ),
            (
                "half way",
                &["i-a", "i-b"],
                &["i-a", "i-b"],
                &[("na", "i-a", true), ("nb", "i-b", false)],
                20,
                ReadyStatus::Waiting,
                &["i-a"],
                &["i-b"],
            ),
            (
                "all ready",
                &["i-a", "i-b"],
                &["i-a", "i-b"],
                &[("na", "i-a", true), ("nb", "i-b", true)],
                30,
                ReadyStatus::Ready,
                &["i-a", "i-b"],
                &[],
            ),
            (
                "deadline passed",
                &["i-a", "i-b"],
                &["i-a", "i-b"],
                &[("na", "i-a", true)],
                300,
                ReadyStatus::DeadlinePassed,
                &["i-a"],
                &["i-b"],
            ),
            (
                "recovery finds an unrecorded instance by tag",
                &[],
                &["i-a"],
                &[],
                400,
                ReadyStatus::DeadlinePassed,
                &[],
                &["i-a"],
            ),
            (
                "recovery with nothing launched",
                &[],
                &[],
                &[],
                400,
                ReadyStatus::Ready,
                &[],
                &[],
            ),
            (
                "a Ready node with another address does not make an instance joined",
                &["i-a"],
                &["i-a"],
                &[("fake", "i-a", true)],
                10,
                ReadyStatus::Waiting,
                &[],
                &["i-a"],
            ),
            (
                "instance gone counts as not ready",
                &["i-a"],
                &[],
                &[],
                10,
                ReadyStatus::Waiting,
                &[],
                &["i-a"],
            ),
        ];
        for (name, recorded, tagged, nodes, now, status, ready, not_ready) in cases {
            let mut all_nodes = vec![node("w1", Some("i-1"), true)];
            all_nodes.extend(nodes.iter().map(|(n, i, r)| {
                let mut made = node(n, Some(i), *r);
                if n.starts_with("fake") {
                    made.addresses = vec!["10.9.9.9".into()];
                }
                made
            }));
            let mut instances = vec![instance("i-1", None)];
            instances.extend(tagged.iter().map(|i| instance(i, Some("c1-op-7"))));
            let w = World::with(all_nodes, instances);
            let mut doc = w.doc_with_lease(t0()).await;
            doc.operation = Some(scale_up_op("c1-op-7", recorded, at(300)));
            let got = run(&doc, &w.deps, at(now)).await.unwrap();
            assert_eq!(got.status, status, "case {name}");
            assert_eq!(
                got.ready,
                ready.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
                "case {name}"
            );
            assert_eq!(
                got.not_ready,
                not_ready.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
                "case {name}"
            );
        }
    }

    #[tokio::test]
    async fn lease_lost() {
        let w = World::new();
        let mut doc = w.doc_with_lease(t0()).await;
        doc.operation = Some(scale_up_op("c1-op-7", &["i-a"], at(300)));
        w.steal_lease().await;
        assert_eq!(
            run(&doc, &w.deps, at(10)).await.unwrap_err().kind(),
            "LeaseLost"
        );
    }
}
