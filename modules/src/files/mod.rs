//! Modules that manage files, and what they share.

pub mod common;
pub mod copy;
pub mod file;
pub mod stat;
