//! Uncordons a node whose drain missed its deadline (AbortDrain). Local mode: `abort-drain --event FILE`.

use smartscale_core::steps::abort_drain;
use smartscale_runtime::{run_step, BoxError, Needs};

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    run_step(
        "abort-drain",
        Needs::STORE | Needs::CLUSTER,
        |doc, deps, now| async move { abort_drain::run(&doc, &deps, now).await },
    )
    .await
}
