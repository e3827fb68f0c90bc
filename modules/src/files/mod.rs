//! Modules that manage files, and what they share.

pub mod common;
pub mod copy;
pub mod edit;
pub mod file;
pub mod lineinfile;
pub mod pyre;
pub mod stat;
pub mod template;
