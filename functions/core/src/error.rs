//! One error type for everything SmartScale does, translated from vendor errors at the adapters.
//!
//! Every variant knows whether retrying the same call can help ([`Error::is_retryable`]) and which
//! error name the Step Functions definition matches on ([`Error::kind`]), so the ASL retries what is
//! transient and stops on what is not.

use chrono::{DateTime, Utc};
use std::fmt;

/// Shorthand for results whose error is [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

pub use smartscale_engine::ConfigProblem;

/// Everything that can go wrong, named by what was being done.
///
/// `context` fields say what was being done when it failed, for example
/// `launching 2 workers from lt-0abc (version 3)`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration is invalid; every bad variable is listed. Not retryable: fix the variables.
    #[error("invalid configuration: {}", .problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Config {
        /// One entry per bad variable.
        problems: Vec<ConfigProblem>,
    },
    /// Another execution holds the cluster's lease. Not an error for the caller: skip this tick.
    #[error("the scaling lock is held by {owner} until {expires_at}")]
    LockHeld {
        /// The execution id holding the lease.
        owner: String,
        /// When that lease expires unless renewed.
        expires_at: DateTime<Utc>,
    },
    /// This execution's lease expired and was taken over (or released): it must stop writing.
    #[error("{context}: the lease is no longer ours (owner or fencing token changed)")]
    LeaseLost {
        /// What was being written.
        context: String,
    },
    /// An AWS quota (instance or vCPU limit) stops the launch. Not retryable: alert a person.
    #[error("{context}: quota exceeded: {detail}")]
    QuotaExceeded {
        /// What was being launched.
        context: String,
        /// The vendor's message.
        detail: String,
    },
    /// No capacity for any configured instance type and purchase option. Not retryable within one
    /// execution; the next tick may try again.
    #[error("{context}: no capacity: {detail}")]
    NoCapacity {
        /// What was being launched.
        context: String,
        /// Every attempt and why it failed.
        detail: String,
    },
    /// SmartScale refused to act on a resource it does not own, whatever IAM would allow.
    #[error("refusing to {action} {resource}: {why}")]
    NotOwned {
        /// The refused action, for example `terminate`.
        action: String,
        /// The resource, for example an instance id.
        resource: String,
        /// Which ownership check failed.
        why: String,
    },
    /// A secret does not exist or has no value. Not retryable: create it.
    #[error("secret {name} is missing or empty: {detail}")]
    SecretMissing {
        /// The secret's name or ARN.
        name: String,
        /// The vendor's message.
        detail: String,
    },
    /// A pod eviction was refused by a PodDisruptionBudget (HTTP 429). Retryable: the budget may
    /// allow it once a replacement is Running.
    #[error("{context}: evicting {pod} is blocked by disruption budget {budget}")]
    EvictionBlocked {
        /// What was being drained.
        context: String,
        /// `namespace/name` of the pod.
        pod: String,
        /// `namespace/name` of the budget.
        budget: String,
    },
    /// Prometheus could not give usable metrics within the time budget. Retryable.
    #[error("{context}: metrics unavailable: {detail}")]
    MetricsUnavailable {
        /// What was being queried.
        context: String,
        /// Why, for example `connection refused after 3 attempts`.
        detail: String,
    },
    /// A transient fault: throttling, timeouts, connection errors, 5xx. Retryable.
    #[error("{context}: {detail} (transient, retry)")]
    Transient {
        /// What was being done.
        context: String,
        /// The vendor's message.
        detail: String,
    },
    /// A thing that should exist does not. Not retryable.
    #[error("{context}: {what} not found")]
    NotFound {
        /// What was being done.
        context: String,
        /// What was missing.
        what: String,
    },
    /// The input (event, execution document, scenario) is malformed. Not retryable: fix the input.
    #[error("{context}: invalid input: {detail}")]
    InvalidInput {
        /// What was being read.
        context: String,
        /// What is wrong and what to do.
        detail: String,
    },
    /// Any other permanent failure. Not retryable.
    #[error("{context}: {detail}")]
    Fatal {
        /// What was being done.
        context: String,
        /// What happened.
        detail: String,
    },
}

impl From<smartscale_engine::Error> for Error {
    fn from(e: smartscale_engine::Error) -> Self {
        match e {
            smartscale_engine::Error::Config { problems } => Error::Config { problems },
            other => Error::Fatal {
                context: "reading the policy".into(),
                detail: other.to_string(),
            },
        }
    }
}

impl Error {
    /// True when the same call may succeed if repeated after a backoff.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Error::EvictionBlocked { .. }
                | Error::MetricsUnavailable { .. }
                | Error::Transient { .. }
        )
    }

    /// The error name a Lambda reports as its `errorType`, matched by the state machine's `Retry`
    /// and `Catch`: `Retryable`, `LockHeld`, `LeaseLost`, `QuotaExceeded` or `Fatal`.
    pub fn kind(&self) -> &'static str {
        match self {
            _ if self.is_retryable() => "Retryable",
            Error::LockHeld { .. } => "LockHeld",
            Error::LeaseLost { .. } => "LeaseLost",
            Error::QuotaExceeded { .. } => "QuotaExceeded",
            _ => "Fatal",
        }
    }

    /// Builds a [`Error::Transient`] from anything displayable.
    pub fn transient(context: impl Into<String>, detail: impl fmt::Display) -> Self {
        Error::Transient {
            context: context.into(),
            detail: detail.to_string(),
        }
    }

    /// Builds a [`Error::Fatal`] from anything displayable.
    pub fn fatal(context: impl Into<String>, detail: impl fmt::Display) -> Self {
        Error::Fatal {
            context: context.into(),
            detail: detail.to_string(),
        }
    }

    /// Builds an [`Error::InvalidInput`] from anything displayable.
    pub fn invalid_input(context: impl Into<String>, detail: impl fmt::Display) -> Self {
        Error::InvalidInput {
            context: context.into(),
            detail: detail.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_match_the_state_machine_error_names() {
        let now = DateTime::<Utc>::UNIX_EPOCH;
        let cases: Vec<(&str, Error, &str, bool)> = vec![
            (
                "transient",
                Error::transient("x", "throttled"),
                "Retryable",
                true,
            ),
            (
                "metrics",
                Error::MetricsUnavailable {
                    context: "q".into(),
                    detail: "down".into(),
                },
                "Retryable",
                true,
            ),
            (
                "eviction",
                Error::EvictionBlocked {
                    context: "d".into(),
                    pod: "a/b".into(),
                    budget: "a/p".into(),
                },
                "Retryable",
                true,
            ),
            (
                "lock",
                Error::LockHeld {
                    owner: "exec-1".into(),
                    expires_at: now,
                },
                "LockHeld",
                false,
            ),
            (
                "lease",
                Error::LeaseLost {
                    context: "renew".into(),
                },
                "LeaseLost",
                false,
            ),
            (
                "quota",
                Error::QuotaExceeded {
                    context: "launch".into(),
                    detail: "VcpuLimitExceeded".into(),
                },
                "QuotaExceeded",
                false,
            ),
            (
                "not owned",
                Error::NotOwned {
                    action: "terminate".into(),
                    resource: "i-1".into(),
                    why: "no tag".into(),
                },
                "Fatal",
                false,
            ),
            ("config", Error::Config { problems: vec![] }, "Fatal", false),
        ];
        for (name, err, kind, retryable) in cases {
            assert_eq!(err.kind(), kind, "case {name}");
            assert_eq!(err.is_retryable(), retryable, "case {name}");
        }
    }

    #[test]
    fn config_error_lists_every_variable() {
        let err = Error::Config {
            problems: vec![
                ConfigProblem {
                    variable: "MIN_NODES".into(),
                    problem: "must be at least 1".into(),
                },
                ConfigProblem {
                    variable: "MAX_NODES".into(),
                    problem: "not a number".into(),
                },
            ],
        };
        assert_eq!(
            err.to_string(),
            "invalid configuration: MIN_NODES: must be at least 1; MAX_NODES: not a number"
        );
    }
}
