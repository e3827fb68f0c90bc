//! Packaging modules: package managers, their repositories, and the
//! installed packages as facts.

pub mod apk;
pub mod apt;
pub mod apt_repository;
pub mod deb822_repository;
pub mod debconf;
pub mod dnf;
pub mod package;
pub mod package_facts;
pub mod pip;
pub mod yum_repository;
