//! Records the operation's outcome in the state table (RecordOutcome). Local mode: `record-outcome --event FILE`.

use smartscale_core::steps::record_outcome;
use smartscale_runtime::{run_step, BoxError, Needs};

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    run_step(
        "record-outcome",
        Needs::STORE,
        |doc, deps, now| async move { record_outcome::run(&doc, &deps, now).await },
    )
    .await
}
