//! Terminates workers not Ready by the join deadline (HandleJoinFailure). Local mode: `handle-join-failure --event FILE`.

use smartscale_core::steps::handle_join_failure;
use smartscale_runtime::{run_step, BoxError, Needs};

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    run_step(
        "handle-join-failure",
        Needs::STORE | Needs::EC2 | Needs::CLUSTER,
        |doc, deps, now| async move { handle_join_failure::run(&doc, &deps, now).await },
    )
    .await
}
