//! TerminateNode: the node is drained; terminate its instance and delete the Node object.

use super::document::{ExecutionDocument, OutcomePart, OutcomeResult};
use super::identity::Identities;
use super::{node_of_instance, renew, Deps};
use crate::error::{Error, Result};
use chrono::{DateTime, Utc};

/// Renews the lease, checks that the node is still the one verified to be the operation's
/// instance ([`super::identity`]), terminates the instance (only if SmartScale owns it; already
/// gone is success) and deletes the node (already gone is success).
/// Errors: `LeaseLost`; `Fatal` when the node is there but is not verified to be the instance
/// (nothing is terminated); `NotOwned` (Fatal) when the instance is not SmartScale's;
/// `InvalidInput`.
pub async fn run(doc: &ExecutionDocument, deps: &Deps, now: DateTime<Utc>) -> Result<OutcomePart> {
    let op = doc.require_operation()?;
    let node = doc.require_node_name()?;
    let instance_id = op
        .instance_ids
        .first()
        .or(doc.decision.as_ref().and_then(|d| d.instance_id.as_ref()))
        .ok_or_else(|| {
            Error::invalid_input(
                "terminating the drained node",
                "the operation names no instance",
            )
        })?
        .clone();
    renew(doc, deps, now).await?;
    let (managed, nodes) = futures::try_join!(
        deps.provisioner
            .describe_operation(&op.id, std::slice::from_ref(&instance_id)),
        deps.cluster.nodes(),
    )?;
    let present = nodes.iter().any(|n| n.name == node);
    let live = managed.iter().any(|m| m.instance_id == instance_id);
    if present
        && live
        && node_of_instance(&nodes, &managed, &instance_id).map(|n| n.name.as_str()) != Some(node)
    {
        let why = Identities::of(&nodes, &managed)
            .problems
            .into_iter()
            .find(|p| p.contains(&instance_id))
            .unwrap_or_else(|| format!("node {node} is not the node of {instance_id}"));
        return Err(Error::fatal(
            format!("terminating {instance_id} for node {node}"),
            why,
        ));
    }
    deps.provisioner.terminate(&instance_id).await?;
    deps.cluster.delete_node(node).await?;
    let before = doc.nodes_before();
    Ok(OutcomePart {
        result: OutcomeResult::ScaledDown,
        terminated: vec![instance_id],
        uncordoned: None,
        nodes_before: before,
        nodes_after: before.saturating_sub(1),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::steps::testkit::*;

    struct Case {
        name: &'static str,
        instance_id: &'static str,
        /// The instance is not SmartScale's.
        foreign: bool,
        /// The lease is taken over before the step runs.
        stolen: bool,
        /// `Ok` or the error kind.
        want: std::result::Result<(), &'static str>,
    }

    #[tokio::test]
    async fn terminate_paths() {
        let case = |name, instance_id, foreign, stolen, want| Case {
            name,
            instance_id,
            foreign,
            stolen,
            want,
        };
        let cases = [
            case("terminates and deletes", "i-1", false, false, Ok(())),
            case("already terminated (retry)", "i-gone", false, false, Ok(())),
            case("not ours", "i-1", true, false, Err("Fatal")),
            case("lease lost", "i-1", false, true, Err("LeaseLost")),
            case(
                "node's address does not match",
                "i-1",
                false,
                false,
                Err("Fatal"),
            ),
        ];
        for Case {
            name,
            instance_id,
            foreign,
            stolen,
            want,
        } in cases
        {
            let mut w = World::new();
            if name.contains("address") {
                w.k8s.view.lock().unwrap().nodes[1].addresses = vec!["10.9.9.9".into()];
            }
            if foreign {
                let mut p = FakeProvisioner::new(vec![instance("i-2", None)]);
                p.foreign = vec!["i-1".into()];
                w.ec2 = std::sync::Arc::new(p);
                w.deps.provisioner = w.ec2.clone();
            }
            let mut doc = w.doc_with_lease(t0()).await;
            doc.operation = Some(scale_down_op("w1", instance_id, at(300)));
            doc.metrics = Some(summary(2));
            if stolen {
                w.steal_lease().await;
            }
            match (run(&doc, &w.deps, at(100)).await, want) {
                (Ok(o), Ok(())) => {
                    assert_eq!(o.terminated, vec![instance_id.to_string()], "case {name}");
                    assert_eq!((o.nodes_before, o.nodes_after), (2, 1), "case {name}");
                    assert!(w.k8s.node("w1").is_none(), "case {name}");
                    assert!(
                        !w.ec2.live_ids().contains(&instance_id.to_string()),
                        "case {name}"
                    );
                }
                (Err(e), Err(kind)) => {
                    assert_eq!(e.kind(), kind, "case {name}");
                    assert!(w.k8s.node("w1").is_some(), "case {name}: node kept");
                }
                (got, want) => panic!("case {name}: got {got:?}, want {want:?}"),
            }
        }
    }
}
