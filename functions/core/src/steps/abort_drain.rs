//! AbortDrain: the drain missed its deadline; put the node back in service.

use super::document::{ExecutionDocument, OutcomePart, OutcomeResult};
use super::{renew, Deps};
use crate::error::Result;
use chrono::{DateTime, Utc};

/// Renews the lease and uncordons `$.operation.node_name` (idempotent). The node stays, so
/// `nodes_after == nodes_before`. The alert is sent by Notify from this outcome.
/// Errors: `LeaseLost`, `InvalidInput`, the cluster's errors.
pub async fn run(doc: &ExecutionDocument, deps: &Deps, now: DateTime<Utc>) -> Result<OutcomePart> {
    let node = doc.require_node_name()?;
    renew(doc, deps, now).await?;
    deps.cluster.uncordon(node).await?;
    let before = doc.nodes_before();
    Ok(OutcomePart {
        result: OutcomeResult::DrainAborted,
        terminated: vec![],
        uncordoned: Some(node.to_string()),
        nodes_before: before,
        nodes_after: before,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::steps::testkit::*;

    #[tokio::test]
    async fn abort_paths() {
        let cases: Vec<(&str, bool, std::result::Result<(), &str>)> = vec![
            ("uncordons", false, Ok(())),
            ("lease lost", true, Err("LeaseLost")),
        ];
        for (name, stolen, want) in cases {
            let w = World::new();
            w.k8s.view.lock().unwrap().nodes[1].unschedulable = true;
            let mut doc = w.doc_with_lease(t0()).await;
            doc.operation = Some(scale_down_op("w1", "i-1", at(300)));
            doc.metrics = Some(summary(2));
            if stolen {
                w.steal_lease().await;
            }
            match (run(&doc, &w.deps, at(310)).await, want) {
                (Ok(o), Ok(())) => {
                    assert_eq!(o.uncordoned.as_deref(), Some("w1"), "case {name}");
                    assert_eq!((o.nodes_before, o.nodes_after), (2, 2), "case {name}");
                    assert!(!w.k8s.node("w1").unwrap().unschedulable, "case {name}");
                }
                (Err(e), Err(kind)) => {
                    assert_eq!(e.kind(), kind, "case {name}");
                    assert!(w.k8s.node("w1").unwrap().unschedulable, "case {name}");
                }
                (got, want) => panic!("case {name}: got {got:?}, want {want:?}"),
            }
        }
    }
}
