//! What an EC2 error means to SmartScale: the one place EC2 error codes are read.

use crate::adapters::sdk_error::{by_status, classify_with};

/// The class of an EC2 failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// No capacity for this instance type and purchase option, or no free address left in the
    /// subnet: try the next pool.
    Capacity,
    /// An account quota (instances, vCPUs): stop and alert, retrying cannot help.
    Quota,
    /// Throttling, 5xx, timeouts, connection errors: retry the same call.
    Transient,
    /// The instance does not exist (terminate treats this as done).
    NotFound,
    /// Anything else: permissions, a bad launch template, validation. Not retryable.
    Fatal,
}

/// Classifies an error by its code and HTTP status (`None` for both: no answer at all).
pub fn classify(code: Option<&str>, http_status: Option<u16>) -> Fault {
    match code {
        Some(
            "InsufficientInstanceCapacity"
            | "InsufficientCapacity"
            | "SpotMaxPriceTooLow"
            | "MaxSpotInstanceCountExceeded"
            | "UnfulfillableCapacity"
            | "capacity-not-available"
            | "InsufficientFreeAddressesInSubnet",
        ) => Fault::Capacity,
        Some("InstanceLimitExceeded" | "VcpuLimitExceeded") => Fault::Quota,
        Some(
            "RequestLimitExceeded"
            | "Throttling"
            | "ThrottlingException"
            | "InternalError"
            | "InternalFailure"
            | "ServiceUnavailable"
            | "Unavailable",
        ) => Fault::Transient,
        Some("InvalidInstanceID.NotFound") => Fault::NotFound,
        other => by_status(other.is_some(), http_status, Fault::Transient, Fault::Fatal),
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
                "no capacity",
                Some("InsufficientInstanceCapacity"),
                Some(500),
                Fault::Capacity,
            ),
            (
                "spot price",
                Some("SpotMaxPriceTooLow"),
                Some(400),
                Fault::Capacity,
            ),
            (
                "spot count",
                Some("MaxSpotInstanceCountExceeded"),
                Some(400),
                Fault::Capacity,
            ),
            (
                "unfulfillable",
                Some("UnfulfillableCapacity"),
                Some(400),
                Fault::Capacity,
            ),
            (
                "a subnet out of addresses: another zone's may have room",
                Some("InsufficientFreeAddressesInSubnet"),
                Some(400),
                Fault::Capacity,
            ),
            (
                "instance quota",
                Some("InstanceLimitExceeded"),
                Some(400),
                Fault::Quota,
            ),
            (
                "vcpu quota",
                Some("VcpuLimitExceeded"),
                Some(400),
                Fault::Quota,
            ),
            (
                "throttled",
                Some("RequestLimitExceeded"),
                Some(503),
                Fault::Transient,
            ),
            (
                "internal",
                Some("InternalError"),
                Some(500),
                Fault::Transient,
            ),
            (
                "unavailable",
                Some("Unavailable"),
                Some(503),
                Fault::Transient,
            ),
            (
                "gone",
                Some("InvalidInstanceID.NotFound"),
                Some(400),
                Fault::NotFound,
            ),
            (
                "denied",
                Some("UnauthorizedOperation"),
                Some(403),
                Fault::Fatal,
            ),
            (
                "bad template",
                Some("InvalidLaunchTemplateId.NotFound"),
                Some(400),
                Fault::Fatal,
            ),
            (
                "unknown code 500",
                Some("Whatever"),
                Some(500),
                Fault::Transient,
            ),
            ("bare 503", None, Some(503), Fault::Transient),
            ("bare 400", None, Some(400), Fault::Fatal),
            ("no answer", None, None, Fault::Transient),
        ];
        for (name, code, status, want) in cases {
            assert_eq!(classify(*code, *status), *want, "case {name}");
        }
    }
}
