//! Tells people what the execution did, through Slack and SNS (Notify). Local mode: `notify --event FILE`.

use smartscale_core::steps::notify;
use smartscale_runtime::{run_step, BoxError, Needs};

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    run_step("notify", Needs::NOTIFY, |doc, deps, now| async move {
        notify::run(&doc, &deps, now).await
    })
    .await
}
