//! Packaging modules: package managers and their repositories.

pub mod apt;
