//! The dependencies of a warm container, built on demand and built again when they may be stale:
//! after a failed construction (a secret still holding the first deploy's placeholder, a master
//! being replaced), after a failed invocation (a rotated token refused with 401), and once they
//! are [`DEPS_MAX_AGE`] old. A failure is never kept: the next invocation tries again.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// The longest a warm container keeps dependencies built from secrets before building them again.
pub const DEPS_MAX_AGE: Duration = Duration::from_secs(900);

/// A value built by an async constructor, kept while it is young and trusted.
pub struct Rebuilding<T> {
    built: Mutex<Option<(Instant, Arc<T>)>>,
    max_age: Duration,
}

impl<T> Rebuilding<T> {
    /// Nothing built yet; values are kept for at most `max_age`.
    pub fn new(max_age: Duration) -> Self {
        Rebuilding {
            built: Mutex::new(None),
            max_age,
        }
    }

    /// The kept value when it was built less than `max_age` before `now`, else the result of
    /// `build` (kept only when it succeeds). Concurrent callers wait for one construction.
    pub async fn get<F, Fut, E>(&self, now: Instant, build: F) -> Result<Arc<T>, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let mut built = self.built.lock().await;
        if let Some((at, value)) = built.as_ref() {
            if now.saturating_duration_since(*at) < self.max_age {
                return Ok(value.clone());
            }
        }
        *built = None;
        let value = Arc::new(build().await?);
        *built = Some((now, value.clone()));
        Ok(value)
    }

    /// Drops the kept value: the next [`Rebuilding::get`] builds again.
    pub async fn invalidate(&self) {
        *self.built.lock().await = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[tokio::test]
    async fn builds_again_when_stale_or_failed() {
        let t0 = Instant::now();
        let builds = AtomicU32::new(0);
        let build = |fail: bool| {
            let n = builds.fetch_add(1, Ordering::SeqCst) + 1;
            async move {
                if fail {
                    Err(format!("build {n} failed"))
                } else {
                    Ok(n)
                }
            }
        };
        let cell = Rebuilding::new(Duration::from_secs(60));
        // (name, seconds after t0, construction fails, invalidate first, want value or error)
        type Case = (&'static str, u64, bool, bool, Result<u32, &'static str>);
        let cases: Vec<Case> = vec![
            (
                "first construction fails",
                0,
                true,
                false,
                Err("build 1 failed"),
            ),
            ("the next invocation tries again", 1, false, false, Ok(2)),
            ("kept while young", 30, true, false, Ok(2)),
            (
                "invalidated after a failed invocation",
                31,
                false,
                true,
                Ok(3),
            ),
            ("kept again", 40, true, false, Ok(3)),
            ("too old: built again", 92, false, false, Ok(4)),
        ];
        for (name, secs, fail, invalidate, want) in cases {
            if invalidate {
                cell.invalidate().await;
            }
            let got = cell
                .get(t0 + Duration::from_secs(secs), || build(fail))
                .await
                .map(|v| *v);
            assert_eq!(got, want.map_err(str::to_string), "case {name}");
        }
    }
}
