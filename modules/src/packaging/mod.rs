//! Packaging modules: package managers and their repositories.

pub mod apt;
pub mod apt_repository;
pub mod deb822_repository;
pub mod debconf;
pub mod package;
