//! Terminates the drained worker and deletes its node (TerminateNode). Local mode: `terminate-node --event FILE`.

use smartscale_core::steps::terminate_node;
use smartscale_runtime::{run_step, BoxError, Needs};

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    run_step(
        "terminate-node",
        Needs::STORE | Needs::EC2 | Needs::CLUSTER,
        |doc, deps, now| async move { terminate_node::run(&doc, &deps, now).await },
    )
    .await
}
