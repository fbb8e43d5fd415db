//! Handles a Spot interruption warning or rebalance recommendation (HandleSpotSignal, SpotDrainStep). Local mode: `spot-interruption --event FILE`.

use smartscale_core::steps::spot_interruption;
use smartscale_runtime::{run_step, BoxError, Needs};

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    run_step(
        "spot-interruption",
        Needs::STORE | Needs::EC2 | Needs::CLUSTER,
        |doc, deps, now| async move { spot_interruption::run(&doc, &deps, now).await },
    )
    .await
}
