//! Checks whether launched workers joined as Ready nodes (CheckNodesReady). Local mode: `check-nodes-ready --event FILE`.

use smartscale_core::steps::check_nodes_ready;
use smartscale_runtime::{run_step, BoxError, Needs};

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    run_step(
        "check-nodes-ready",
        Needs::STORE | Needs::EC2 | Needs::CLUSTER,
        |doc, deps, now| async move { check_nodes_ready::run(&doc, &deps, now).await },
    )
    .await
}
