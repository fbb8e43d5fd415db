//! SmartScale's core: the configuration a Lambda reads, the seams to the outside systems and their
//! adapters, and the step logic each Lambda calls. The pure engine (model, policy, decide,
//! notification payloads) lives in `smartscale_engine` and is re-exported here under its old paths.
//!
//! Nothing here reads the clock or the environment except [`config::Config::from_env`]; time is an
//! argument everywhere.

pub mod adapters;
pub mod config;
pub mod cost;
pub mod error;
pub mod forecast;
pub mod seams;
pub mod steps;
pub mod telemetry;

pub use smartscale_engine::{engine, lifecycle, model, notify};

/// Tag keys and values SmartScale writes and checks on EC2 resources.
pub mod tags {
    /// `Project=SmartScale`.
    pub const PROJECT: (&str, &str) = ("Project", "SmartScale");
    /// `ManagedBy=smartscale`: the ownership mark terminate checks.
    pub const MANAGED_BY: (&str, &str) = ("ManagedBy", "smartscale");
    /// `Cluster=<cluster id>`.
    pub const CLUSTER: &str = "Cluster";
    /// `ScalingGroup=k3s-workers`.
    pub const SCALING_GROUP: (&str, &str) = ("ScalingGroup", "k3s-workers");
    /// `smartscale/operation-id=<id>`.
    pub const OPERATION_ID: &str = "smartscale/operation-id";
    /// `Lifecycle=spot|on-demand`.
    pub const LIFECYCLE: &str = "Lifecycle";
}

pub use config::Config;
pub use engine::{Decision, Inputs};
pub use error::{Error, Result};
