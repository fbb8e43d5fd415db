//! Adapters: the seams implemented against real services and their local stand-ins.

pub mod kubernetes;
