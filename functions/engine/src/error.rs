//! The errors of the engine crate's fallible functions. Only reading the policy can fail; the
//! decision itself never does.

use std::fmt;

/// One problem found in one configuration variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    /// The environment variable (or scenario key) that holds the bad value.
    pub variable: String,
    /// What is wrong and what to do about it.
    pub problem: String,
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.variable, self.problem)
    }
}

/// What can go wrong in the engine crate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The configuration is invalid; every bad variable is listed. Fix the variables.
    #[error("invalid configuration: {}", .problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Config {
        /// One entry per bad variable.
        problems: Vec<ConfigProblem>,
    },
}
