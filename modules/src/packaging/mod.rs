//! Packaging modules: package managers, their repositories, and the
//! installed packages as facts.

pub mod apk;
pub mod dnf;
pub mod package_facts;
pub mod pip;
pub mod yum_repository;
