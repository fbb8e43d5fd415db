//! The values SmartScale reasons about: the cluster as Kubernetes and EC2 show it, the metrics
//! snapshot, and the state kept in DynamoDB. Plain data, serialisable, no I/O.

pub mod cluster;
pub mod metrics;
pub mod state;

pub use crate::engine::capacity::CapacityType;
pub use cluster::*;
pub use metrics::*;
pub use state::*;
