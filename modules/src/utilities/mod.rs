//! Utility modules.

pub mod ping;
