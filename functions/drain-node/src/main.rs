//! Takes one drain step on the scale-down node (DrainNode). Local mode: `drain-node --event FILE`.

use smartscale_core::steps::drain_node;
use smartscale_runtime::{run_step, BoxError, Needs};

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    run_step(
        "drain-node",
        Needs::STORE | Needs::CLUSTER,
        |doc, deps, now| async move { drain_node::run(&doc, &deps, now).await },
    )
    .await
}
