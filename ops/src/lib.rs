//! The operator's commands of the `smartscale` tool, against a deployed SmartScale (or the local
//! stand-ins): [`status`] says what SmartScale is doing — the lease, the last action, the
//! cooldown, the operation in flight, the capacity alert, the fleet from EC2 joined with its
//! Nodes, the last executions of the scaling state machine — and [`explain`] says what it would
//! do now and why, by a dry run of Evaluate ([`smartscale_core::steps::evaluate::dry_run`]).
//!
//! Both read the same configuration the functions run with ([`settings`]) and build their
//! clients with the functions' own adapters ([`smartscale_runtime::build_deps`]); neither takes
//! the lease nor writes anything. AWS credentials come from the usual chain, and
//! `AWS_ENDPOINT_URL` points them at moto on the stand-ins.
//!
//! Where each fact comes from is in `docs/TROUBLESHOOTING.md` ("Look first").

pub mod cli;
pub mod executions;
pub mod explain;
pub mod settings;
pub mod status;
mod text;

/// What can stop an operator command.
#[derive(Debug, thiserror::Error)]
pub enum OpsError {
    /// The configuration (environment or `--env-file`) is unreadable or invalid.
    #[error("configuration: {0}")]
    Settings(String),
    /// A SmartScale adapter failed (the state table, EC2, the Kubernetes API).
    #[error(transparent)]
    Core(#[from] smartscale_core::Error),
    /// The Step Functions API failed.
    #[error("Step Functions: {0}")]
    StepFunctions(String),
}
