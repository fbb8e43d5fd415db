//! Cordons the scale-down node (CordonNode). Local mode: `cordon-node --event FILE`.

use smartscale_core::steps::cordon_node;
use smartscale_runtime::{run_step, BoxError, Needs};

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    run_step(
        "cordon-node",
        Needs::STORE | Needs::CLUSTER,
        |doc, deps, now| async move { cordon_node::run(&doc, &deps, now).await },
    )
    .await
}
