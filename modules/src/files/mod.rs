//! Modules that manage files, and what they share.

pub mod assemble;
pub mod blockinfile;
pub mod common;
pub mod copy;
pub mod edit;
pub mod fetch;
pub mod file;
pub mod find;
pub mod ini_file;
pub mod lineinfile;
pub mod pyre;
pub mod replace;
pub mod slurp;
pub mod stat;
pub mod tempfile;
pub mod template;
pub mod unarchive;
