//! System modules: accounts, scheduled jobs, services and host settings.

pub mod accounts;
pub mod authorized_key;
pub mod cron;
pub mod getent;
pub mod group;
pub mod hostname;
pub mod known_hosts;
pub mod mount;
pub mod service;
pub mod sysctl;
pub mod systemd;
pub mod user;
