//! Modules that manage files.
