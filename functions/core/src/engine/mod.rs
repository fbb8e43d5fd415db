//! The scaling engine: pure functions from inputs, state, configuration and the time to a
//! [`Decision`]. No I/O, no clock reads.

pub mod decision;

pub use decision::*;

use crate::model::{ClusterView, MetricsSnapshot};
use serde::{Deserialize, Serialize};

/// What the engine sees in one evaluation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Inputs {
    /// Windowed metric aggregates, with what is missing or stale.
    pub metrics: MetricsSnapshot,
    /// Nodes (joined with EC2 ownership), pods and disruption budgets.
    pub cluster: ClusterView,
}
