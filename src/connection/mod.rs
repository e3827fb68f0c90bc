//! Connections: how the engine reaches a host. Each implements the
//! module API's [`Host`]: `local` runs on the controller, `ssh` over one
//! SSH connection per host kept for the run.
//!
//! [`connect`] caches what it opens: one SSH connection per (address,
//! port, login, key, password, ssh args), and on it one [`Host`] per
//! become user, each with its own persistent shell. [`close_all`] ends
//! them at the end of the run (removing the shells' temporary files).

/// Runs one call on a host's persistent shell (`$host.shell_guard()`),
/// dropping the shell when it was lost so the next call starts afresh.
macro_rules! on_shell {
    ($host:ident, $s:ident => $call:expr) => {{
        let mut guard = $host.shell_guard().await?;
        let result = match guard.as_mut() {
            Some($s) => $call.await,
            None => Err(HostError::failed("the shell is not running")),
        };
        if guard.as_ref().is_some_and(|s| s.is_closed()) {
            *guard = None;
        }
        result
    }};
}

pub mod become_;
pub mod known_hosts;
pub mod local;
pub mod proxy;
pub mod shell;
pub mod ssh;
pub mod ssh_config;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex as StdMutex, OnceLock, RwLock};

use herd_modules::api::{Host, HostError};
use tokio::sync::OnceCell;

use crate::config::Config;
use crate::vars::ConnectionSettings;

pub use local::LocalHost;
pub use ssh::{SshConnection, SshHost};

/// Run-wide connection options, from the configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    /// Refuse unknown host keys (`host_key_checking`, on by default).
    pub host_key_checking: bool,
    /// One persistent shell per host and become user (the default), or
    /// a new exec channel per command.
    pub persistent_shell: bool,
    /// The ssh_config file to read (default `~/.ssh/config`).
    pub ssh_config_file: Option<PathBuf>,
    /// SSH handshakes in flight to one server at most
    /// (`[ssh_connection] herd_max_handshakes`).
    pub max_handshakes: usize,
    /// SSH connections open at once at most
    /// (`[ssh_connection] herd_max_connections`): beyond, the least
    /// recently used idle one is closed.
    pub max_connections: usize,
}

/// Handshakes in flight per server by default: under sshd's default
/// MaxStartups (10).
pub const DEFAULT_MAX_HANDSHAKES: usize = 8;

/// Connections open at once by default: a whole inventory of up to
/// this many hosts stays connected for the run.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1000;

impl Default for Options {
    /// Host key checking on unless `ANSIBLE_HOST_KEY_CHECKING` says
    /// otherwise, so a run that never calls [`configure`] still honours it.
    fn default() -> Options {
        Options {
            host_key_checking: std::env::var("ANSIBLE_HOST_KEY_CHECKING")
                .ok()
                .and_then(|v| crate::config::parse_bool(&v))
                .unwrap_or(true),
            persistent_shell: true,
            ssh_config_file: None,
            max_handshakes: DEFAULT_MAX_HANDSHAKES,
            max_connections: DEFAULT_MAX_CONNECTIONS,
        }
    }
}

impl Options {
    /// The options a configuration asks for. `host_key_checking` is
    /// already resolved by [`Config`] (ansible.cfg and
    /// `ANSIBLE_HOST_KEY_CHECKING`); `[ssh_connection] persistent_shell`
    /// or `HERD_SSH_PERSISTENT_SHELL` select the shell mode.
    pub fn from_config(config: &Config) -> Options {
        let persistent = std::env::var("HERD_SSH_PERSISTENT_SHELL")
            .ok()
            .or_else(|| {
                config
                    .get_raw("ssh_connection", "persistent_shell")
                    .map(String::from)
            })
            .and_then(|v| crate::config::parse_bool(&v))
            .unwrap_or(true);
        Options {
            host_key_checking: config.host_key_checking,
            persistent_shell: persistent,
            ssh_config_file: None,
            max_handshakes: config.ssh_max_handshakes,
            max_connections: config.ssh_max_connections,
        }
    }
}

fn options_slot() -> &'static RwLock<Options> {
    static SLOT: OnceLock<RwLock<Options>> = OnceLock::new();
    SLOT.get_or_init(|| RwLock::new(Options::default()))
}

/// Sets the run-wide options (call once before connecting).
pub fn configure(options: Options) {
    if let Ok(mut o) = options_slot().write() {
        *o = options;
    }
}

fn options() -> Options {
    options_slot().read().map(|o| o.clone()).unwrap_or_default()
}

type Cell<T> = Arc<OnceCell<Arc<T>>>;

#[derive(Default)]
struct Cache {
    connections: HashMap<String, Cell<SshConnection>>,
    ssh_hosts: HashMap<String, Cell<SshHost>>,
    local_hosts: HashMap<String, Arc<LocalHost>>,
}

fn cache() -> &'static StdMutex<Cache> {
    static CACHE: OnceLock<StdMutex<Cache>> = OnceLock::new();
    CACHE.get_or_init(|| StdMutex::new(Cache::default()))
}

fn cell<T>(map: &mut HashMap<String, Cell<T>>, key: &str) -> Cell<T> {
    map.entry(key.to_string()).or_default().clone()
}

/// Opens (or reuses) the connection a task needs.
pub async fn connect(
    name: &str,
    settings: &ConnectionSettings,
) -> Result<Arc<dyn Host>, HostError> {
    match settings.connection.as_str() {
        "local" => {
            let key = format!("{name}\0{settings:?}");
            let mut c = cache()
                .lock()
                .map_err(|_| HostError::failed("connection cache poisoned"))?;
            if let Some(h) = c.local_hosts.get(&key) {
                return Ok(h.clone());
            }
            let h = Arc::new(LocalHost::new(name, settings)?);
            c.local_hosts.insert(key, h.clone());
            Ok(h)
        }
        "ssh" | "smart" | "paramiko" | "paramiko_ssh" => {
            let opts = options();
            // One connection per inventory host, even when several point
            // at the same address (a simulated fleet): sshd's MaxSessions
            // caps the channels one connection may hold.
            let conn_key = format!("{name}\0{}", ssh::connection_key(settings));
            let host_key = format!(
                "{name}\0{conn_key}\0{}\0{:?}\0{:?}",
                settings.become_,
                Become::from_settings(settings),
                settings.shell_executable
            );
            // A cached connection the server has closed since is
            // replaced once by a fresh one.
            for _ in 0..2 {
                let (conn_cell, host_cell) = {
                    let mut c = cache()
                        .lock()
                        .map_err(|_| HostError::failed("connection cache poisoned"))?;
                    (
                        cell(&mut c.connections, &conn_key),
                        cell(&mut c.ssh_hosts, &host_key),
                    )
                };
                let host = host_cell
                    .get_or_try_init(|| async {
                        let conn = conn_cell
                            .get_or_try_init(|| async {
                                SshConnection::open(settings, &opts).await.map(Arc::new)
                            })
                            .await?
                            .clone();
                        Ok::<_, HostError>(Arc::new(SshHost::new(name, conn, settings, &opts)))
                    })
                    .await?
                    .clone();
                if !host.connection().is_closed() {
                    return Ok(host);
                }
                let mut c = cache()
                    .lock()
                    .map_err(|_| HostError::failed("connection cache poisoned"))?;
                c.connections.remove(&conn_key);
                c.ssh_hosts.retain(|_, h| {
                    h.get()
                        .is_none_or(|h| !Arc::ptr_eq(h.connection(), &host.connection().clone()))
                });
            }
            Err(HostError::unreachable(format!(
                "Failed to connect to the host via ssh: {} (the connection keeps closing)",
                settings.host
            )))
        }
        other => Err(HostError::unreachable(format!(
            "the connection type '{other}' is not available in this version of herd"
        ))),
    }
}

use become_::Become;

/// Closes every cached connection: shells end (removing their temporary
/// files), then the SSH connections.
pub async fn close_all() {
    let (conns, ssh_hosts, local_hosts) = {
        let Ok(mut c) = cache().lock() else {
            return;
        };
        let c = std::mem::take(&mut *c);
        (c.connections, c.ssh_hosts, c.local_hosts)
    };
    for cell in ssh_hosts.values() {
        if let Some(h) = cell.get() {
            h.close().await;
        }
    }
    for h in local_hosts.values() {
        h.close().await;
    }
    for cell in conns.values() {
        if let Some(c) = cell.get() {
            ssh::disconnect(c).await;
        }
    }
}
