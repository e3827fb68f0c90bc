//! Connections: how the engine reaches a host. Each implements the
//! module API's [`Host`]: `local` runs on the controller, `ssh` over one
//! SSH connection per host kept for the run.

pub mod local;

use std::sync::Arc;

use herd_modules::api::{Host, HostError};

use crate::vars::ConnectionSettings;

pub use local::LocalHost;

/// Opens (or reuses) the connection a task needs.
pub async fn connect(
    name: &str,
    settings: &ConnectionSettings,
) -> Result<Arc<dyn Host>, HostError> {
    match settings.connection.as_str() {
        "local" => Ok(Arc::new(LocalHost::new(name, settings)?)),
        other => Err(HostError::unreachable(format!(
            "the connection type '{other}' is not available in this version of herd"
        ))),
    }
}
