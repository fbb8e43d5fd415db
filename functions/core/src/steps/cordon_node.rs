//! CordonNode: mark the scale-down node unschedulable (also the entry of a recovered scale-down).

use super::document::{CordonedPart, ExecutionDocument};
use super::{renew, Deps};
use crate::error::Result;
use chrono::{DateTime, Utc};

/// Renews the lease and cordons `$.operation.node_name` (idempotent). A node that is gone (deleted
/// with kubectl, or by a run that died before terminating its instance) is `cordoned: false`, not
/// an error: DrainNode finds nothing to drain and TerminateNode ends the scale-down.
/// Errors: `LeaseLost`; `InvalidInput` without an operation node.
pub async fn run(doc: &ExecutionDocument, deps: &Deps, now: DateTime<Utc>) -> Result<CordonedPart> {
    let node = doc.require_node_name()?;
    renew(doc, deps, now).await?;
    let cordoned = match deps.cluster.cordon(node).await {
        Ok(()) => true,
        Err(crate::Error::NotFound { .. }) => {
            tracing::warn!(
                node,
                "the node to cordon is gone; the scale-down goes on to terminate its instance"
            );
            false
        }
        Err(e) => return Err(e),
    };
    Ok(CordonedPart {
        node_name: node.to_string(),
        cordoned,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::steps::testkit::*;

    struct Case {
        name: &'static str,
        node_name: &'static str,
        /// The node is cordoned before the step runs.
        pre: bool,
        /// The lease is taken over before the step runs.
        stolen: bool,
        /// `Ok` or the error kind.
        want: std::result::Result<(), &'static str>,
    }

    #[tokio::test]
    async fn cordon_paths() {
        let case = |name, node_name, pre, stolen, want| Case {
            name,
            node_name,
            pre,
            stolen,
            want,
        };
        let cases = [
            case("cordons", "w1", false, false, Ok(())),
            case("already cordoned (recovery)", "w1", true, false, Ok(())),
            case("lease lost: no call", "w1", false, true, Err("LeaseLost")),
            case(
                "node gone: not cordoned, no error",
                "w9",
                false,
                false,
                Ok(()),
            ),
        ];
        for Case {
            name,
            node_name,
            pre,
            stolen,
            want,
        } in cases
        {
            let w = World::new();
            if pre {
                w.k8s.view.lock().unwrap().nodes[1].unschedulable = true;
            }
            let mut doc = w.doc_with_lease(t0()).await;
            doc.operation = Some(scale_down_op(node_name, "i-1", at(300)));
            if stolen {
                w.steal_lease().await;
            }
            let got = run(&doc, &w.deps, at(5)).await;
            match (got, want) {
                (Ok(p), Ok(())) => {
                    let present = w.k8s.node(node_name);
                    assert_eq!(p.cordoned, present.is_some(), "case {name}");
                    assert_eq!(p.node_name, node_name, "case {name}");
                    assert!(present.is_none_or(|n| n.unschedulable), "case {name}");
                }
                (Err(e), Err(kind)) => assert_eq!(e.kind(), kind, "case {name}"),
                (got, want) => panic!("case {name}: got {got:?}, want {want:?}"),
            }
            if stolen {
                assert!(w.k8s.calls().is_empty(), "case {name}");
            }
        }
    }
}
