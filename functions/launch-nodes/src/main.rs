//! Launches the workers of a scale-up (LaunchNodes). Local mode: `launch-nodes --event FILE`.

use smartscale_core::steps::launch_nodes;
use smartscale_runtime::{run_step, BoxError, Needs};

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    run_step(
        "launch-nodes",
        Needs::STORE | Needs::EC2 | Needs::NOTIFY,
        |doc, deps, now| async move { launch_nodes::run(&doc, &deps, now).await },
    )
    .await
}
