//! AcquireLock: take the cluster lease for this execution.

use super::document::ExecutionDocument;
use super::Deps;
use crate::error::Result;
use crate::model::Lease;
use chrono::{DateTime, Utc};

/// Takes the lease with owner = execution id for `LOCK_TTL`. A retry by the same execution gets
/// a new lease with a higher token (the lost attempt's token is fenced off). Errors: `LockHeld` when another execution holds an unexpired
/// lease (the machine ends in SkippedLockHeld), `Transient` from the store.
pub async fn run(doc: &ExecutionDocument, deps: &Deps, now: DateTime<Utc>) -> Result<Lease> {
    deps.store
        .acquire(&doc.execution_id, now, deps.config.lock_ttl_secs)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seams::StateStore;
    use crate::steps::testkit::*;

    #[allow(clippy::type_complexity)] // the case table's row type
    #[tokio::test]
    async fn acquire_paths() {
        // (name, holder before, now, want Ok token or Err kind)
        let cases: Vec<(
            &str,
            Option<(&str, i64)>,
            i64,
            std::result::Result<u64, &str>,
        )> = vec![
            ("free", None, 0, Ok(1)),
            (
                "held by another, unexpired",
                Some(("other", 0)),
                10,
                Err("LockHeld"),
            ),
            ("held by another, expired", Some(("other", -400)), 0, Ok(2)),
            (
                "retry by the same execution: a new, higher token",
                Some((EXEC, 0)),
                5,
                Ok(2),
            ),
        ];
        for (name, holder, now, want) in cases {
            let w = World::new();
            if let Some((owner, t)) = holder {
                w.store.acquire(owner, at(t), 300).await.unwrap();
            }
            let doc = ExecutionDocument {
                cluster_id: "c1".into(),
                execution_id: EXEC.into(),
                ..Default::default()
            };
            let got = run(&doc, &w.deps, at(now)).await;
            match (got, want) {
                (Ok(l), Ok(token)) => {
                    assert_eq!(l.token, token, "case {name}");
                    assert_eq!(l.owner, EXEC, "case {name}");
                }
                (Err(e), Err(kind)) => assert_eq!(e.kind(), kind, "case {name}"),
                (got, want) => panic!("case {name}: got {got:?}, want {want:?}"),
            }
        }
    }
}
