//! Implementations of the [`crate::seams`] traits against the real services, translating their
//! errors into [`crate::Error`].

pub mod prometheus;
