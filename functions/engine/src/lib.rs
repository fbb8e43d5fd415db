//! SmartScale's pure engine: the values SmartScale reasons about ([`model`]), the scaling policy
//! ([`config::Policy`]), the decision ([`engine::decide`]), what each step of an operation records
//! ([`lifecycle`]), and the notification payloads ([`notify`]).
//!
//! This crate depends on no I/O crate (no tokio, AWS SDK, kube or HTTP client), so the compiler
//! keeps it pure: nothing here reads the clock, the network or the environment; time is an
//! argument everywhere. See `docs/ARCHITECTURE.md` for where it sits among the crates.

pub mod config;
pub mod engine;
pub mod error;
pub mod fixtures;
pub mod lifecycle;
pub mod model;
pub mod notify;

pub use config::Policy;
pub use engine::{Decision, Inputs};
pub use error::{ConfigProblem, Error};
