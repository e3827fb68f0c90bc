//! Source control modules.

pub mod git;
