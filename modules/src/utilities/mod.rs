//! Utility modules.

pub mod ping;
pub mod wait_for;
