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

    struct Case {
        name: &'static str,
        /// Who acquired the lease before, and when.
        holder: Option<(&'static str, i64)>,
        now: i64,
        /// The new token, or the error kind.
        want: std::result::Result<u64, &'static str>,
    }

    #[tokio::test]
    async fn acquire_paths() {
        let case = |name, holder, now, want| Case {
            name,
            holder,
            now,
            want,
        };
        let cases = [
            case("free", None, 0, Ok(1)),
            case(
                "held by another, unexpired",
                Some(("other", 0)),
                10,
                Err("LockHeld"),
            ),
            case("held by another, expired", Some(("other", -400)), 0, Ok(2)),
            case(
                "retry by the same execution: a new, higher token",
                Some((EXEC, 0)),
                5,
                Ok(2),
            ),
        ];
        for Case {
            name,
            holder,
            now,
            want,
        } in cases
        {
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
