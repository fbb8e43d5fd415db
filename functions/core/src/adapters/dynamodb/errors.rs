//! What a DynamoDB error means to SmartScale: the one place DynamoDB error codes are read.

use crate::adapters::sdk_error::{by_status, classify_with};

/// The class of a DynamoDB failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The write's condition was false: the lock is held (acquire) or the lease is lost (others).
    ConditionFailed,
    /// Throttling, 5xx, timeouts, connection errors, transaction conflicts: retry.
    Transient,
    /// The table does not exist (wrong `DYNAMODB_TABLE` or not deployed).
    TableMissing,
    /// Anything else: permissions, validation. Not retryable.
    Fatal,
}

/// Classifies an error by its code and HTTP status (`None` for both means the request never got
/// an answer: timeout or connection failure).
pub fn classify(code: Option<&str>, http_status: Option<u16>) -> Fault {
    match code {
        Some("ConditionalCheckFailedException") => Fault::ConditionFailed,
        Some(
            "ProvisionedThroughputExceededException"
            | "ThrottlingException"
            | "RequestLimitExceeded"
            | "InternalServerError"
            | "ServiceUnavailable"
            | "TransactionConflictException",
        ) => Fault::Transient,
        Some("ResourceNotFoundException") => Fault::TableMissing,
        // DynamoDB's other codes are judged by the status alone, as if none was named.
        _ => by_status(false, http_status, Fault::Transient, Fault::Fatal),
    }
}

classify_with!(Fault, classify, Fault::Fatal);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_map_to_faults() {
        let cases: &[(&str, Option<&str>, Option<u16>, Fault)] = &[
            (
                "condition",
                Some("ConditionalCheckFailedException"),
                Some(400),
                Fault::ConditionFailed,
            ),
            (
                "provisioned throughput",
                Some("ProvisionedThroughputExceededException"),
                Some(400),
                Fault::Transient,
            ),
            (
                "throttling",
                Some("ThrottlingException"),
                Some(400),
                Fault::Transient,
            ),
            (
                "request limit",
                Some("RequestLimitExceeded"),
                Some(400),
                Fault::Transient,
            ),
            (
                "internal",
                Some("InternalServerError"),
                Some(500),
                Fault::Transient,
            ),
            (
                "transaction conflict",
                Some("TransactionConflictException"),
                Some(400),
                Fault::Transient,
            ),
            (
                "no table",
                Some("ResourceNotFoundException"),
                Some(400),
                Fault::TableMissing,
            ),
            (
                "access denied",
                Some("AccessDeniedException"),
                Some(400),
                Fault::Fatal,
            ),
            (
                "validation",
                Some("ValidationException"),
                Some(400),
                Fault::Fatal,
            ),
            ("unknown 503", None, Some(503), Fault::Transient),
            ("unknown 429", None, Some(429), Fault::Transient),
            ("unknown 403", None, Some(403), Fault::Fatal),
            ("no answer", None, None, Fault::Transient),
        ];
        for (name, code, status, want) in cases {
            assert_eq!(classify(*code, *status), *want, "case {name}");
        }
    }
}
