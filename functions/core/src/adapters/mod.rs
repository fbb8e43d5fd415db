//! Adapters: the seams of [`crate::seams`] implemented against the real services. Each takes a
//! client built by the caller and translates the vendor's errors into [`crate::Error`].

pub mod cloudwatch;
pub mod dynamodb;
pub mod ec2;
pub mod kubernetes;
pub mod loopback;
pub mod notify;
pub mod prometheus;
pub mod sdk_error;
pub mod secrets;
