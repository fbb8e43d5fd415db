//! The one binary every SmartScale Lambda function runs (the zip's `bootstrap`). The function's
//! step comes from `SMARTSCALE_STEP` (set by the CDK app), a `<step>` argument, or the name the
//! binary is called by; its seams come from `functions/contract.json`.
//!
//! Local mode (no `AWS_LAMBDA_RUNTIME_API`): `bootstrap <step> --event FILE` (or `-` for stdin).

#[tokio::main]
async fn main() -> Result<(), smartscale_runtime::BoxError> {
    smartscale_runtime::main().await
}
