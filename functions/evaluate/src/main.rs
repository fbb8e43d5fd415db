//! Reads metrics, cluster and state and decides, or finds an operation to recover (Evaluate). Local mode: `evaluate --event FILE`.

use smartscale_core::steps::evaluate;
use smartscale_runtime::{run_step, BoxError, Needs};

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    run_step(
        "evaluate",
        Needs::STORE | Needs::EC2 | Needs::CLUSTER | Needs::METRICS,
        |doc, deps, now| async move { evaluate::run(&doc, &deps, now).await },
    )
    .await
}
