//! The error path: releases the lease and alerts (Cleanup). Local mode: `cleanup --event FILE`.

use smartscale_core::steps::cleanup;
use smartscale_runtime::{run_step, BoxError, Needs};

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    run_step(
        "cleanup",
        Needs::STORE | Needs::NOTIFY,
        |doc, deps, now| async move { cleanup::run(&doc, &deps, now).await },
    )
    .await
}
