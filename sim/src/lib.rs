//! SmartScale's planning tool, never deployed: the what-if simulator behind the `smartscale`
//! command. It depends on the pure `smartscale_engine` only (no AWS SDK, no HTTP server); the
//! cluster emulator (`smartscale emulate`) is the separate `smartscale_emulator` crate, linked by
//! the binary alone, and the workload model both share is `smartscale_workload`.
//!
//! The simulator: [`scenario`] and [`builtin`] give a [`scenario::Scenario`]; [`run`] replays it
//! against each [`policy`] over a simulated [`cluster`] running the [`workload`], observed by
//! [`observe`] the way Prometheus and the Kubernetes API would show it; [`report`] and [`chart`]
//! present the outcome; [`family`] generates weeks and [`suite`] runs every policy over many.

pub mod builtin;
pub mod chart;
pub mod cluster;
pub mod family;
pub mod market;
pub mod observe;
pub mod policy;
pub mod report;
pub mod run;
pub mod scenario;
pub mod suite;
pub mod tune;
pub mod tune_backtest;
pub use smartscale_workload as workload;
