//! Takes the cluster lease for this execution (AcquireLock). Local mode: `acquire-lock --event FILE`.

use smartscale_core::steps::acquire_lock;
use smartscale_runtime::{run_step, BoxError, Needs};

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    run_step("acquire-lock", Needs::STORE, |doc, deps, now| async move {
        acquire_lock::run(&doc, &deps, now).await
    })
    .await
}
