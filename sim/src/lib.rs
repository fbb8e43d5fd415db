//! SmartScale's planning and testing tools, never deployed: the what-if simulator and the cluster
//! emulator, behind the `smartscale` command.
//!
//! The simulator: [`scenario`] and [`builtin`] give a [`scenario::Scenario`]; [`run`] replays it
//! against each [`policy`] over a simulated [`cluster`] running the [`workload`], observed by
//! [`observe`] the way Prometheus and the Kubernetes API would show it; [`report`] and [`chart`]
//! present the outcome; [`family`] generates weeks and [`suite`] runs every policy over many.

pub mod builtin;
pub mod chart;
pub mod cluster;
pub mod emulator;
pub mod family;
pub mod observe;
pub mod policy;
pub mod report;
pub mod run;
pub mod scenario;
pub mod suite;
pub mod workload;
