//! ReleaseLock: give the lease up at the end of a periodic execution.

use super::document::{ExecutionDocument, ReleasedPart};
use super::Deps;
use crate::error::Result;
use chrono::{DateTime, Utc};

/// Releases the document's lease (conditional on owner and token).
/// Errors: `InvalidInput` without a lease; `LeaseLost` when another execution took it over
/// (nothing is changed; the machine goes to Cleanup and ends Failed, because this execution's
/// writes may have raced).
pub async fn run(
    doc: &ExecutionDocument,
    deps: &Deps,
    _now: DateTime<Utc>,
) -> Result<ReleasedPart> {
    deps.store.release(doc.require_lease()?).await?;
    Ok(ReleasedPart { released: true })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::steps::testkit::*;

    #[tokio::test]
    async fn release_paths() {
        let cases: Vec<(&str, bool, bool, std::result::Result<(), &str>)> = vec![
            ("ours", true, false, Ok(())),
            ("taken over", true, true, Err("LeaseLost")),
            ("no lease in the document", false, false, Err("Fatal")),
        ];
        for (name, with_lease, stolen, want) in cases {
            let w = World::new();
            let mut doc = w.doc_with_lease(t0()).await;
            if !with_lease {
                doc.lease = None;
            }
            if stolen {
                w.steal_lease().await;
            }
            let got = run(&doc, &w.deps, at(60)).await;
            match (got, want) {
                (Ok(p), Ok(())) => {
                    assert!(p.released, "case {name}");
                    assert!(w.store.snapshot().lease.is_none(), "case {name}");
                }
                (Err(e), Err(kind)) => assert_eq!(e.kind(), kind, "case {name}"),
                (got, want) => panic!("case {name}: got {got:?}, want {want:?}"),
            }
            if stolen {
                assert_eq!(
                    w.store.snapshot().lease.unwrap().owner,
                    "other",
                    "case {name}"
                );
            }
        }
    }
}
