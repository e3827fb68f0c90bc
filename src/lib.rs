//! herd: an agentless configuration-management engine that runs Ansible
//! projects unchanged.
//!
//! The flow of data: inventory sources → [`inventory::Inventory`]; playbook
//! YAML → [`playbook`] AST with source spans; per host, variables merged by
//! precedence ([`vars`]) and templated ([`template`]); the listing and
//! checking commands of [`cli`] read those.

pub mod cli;
pub mod config;
pub mod connection;
pub mod diag;
pub mod exec;
pub mod inventory;
pub mod playbook;
pub mod report;
pub mod tags;
pub mod template;
pub mod value;
pub mod vars;
pub mod vault;
pub mod yaml;
