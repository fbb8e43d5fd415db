//! SmartScale's core: configuration, the pure scaling engine, the seams to the outside systems and
//! their adapters, and the step logic each Lambda calls.
//!
//! Nothing here reads the clock or the environment except [`config::Config::from_env`]; time is an
//! argument everywhere.

pub mod adapters;
pub mod config;
pub mod engine;
pub mod error;
pub mod model;
pub mod notify;
pub mod seams;
pub mod steps;
pub mod telemetry;

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
