//! Releases the cluster lease (ReleaseLock). Local mode: `release-lock --event FILE`.

use smartscale_core::steps::release_lock;
use smartscale_runtime::{run_step, BoxError, Needs};

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    run_step("release-lock", Needs::STORE, |doc, deps, now| async move {
        release_lock::run(&doc, &deps, now).await
    })
    .await
}
