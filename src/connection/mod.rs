//! Connections: how the engine reaches a host. Each implements the
//! module API's [`Host`]: `local` runs on the controller, `ssh` over one
//! SSH connection per host kept for the run.
//!
//! [`connect`] caches what it opens: one SSH connection per (address,
//! port, login, key, password, ssh args), and on it one [`Host`] per
//! become user, each with its own persistent shell. [`close_all`] ends
//! them at the end of the run (removing the shells' temporary files).
//!
//! The cache is a pool of at most `max_connections` SSH connections
//! (`[ssh_connection] herd_max_connections`, default 1000): opening one
//! more first closes the least recently used idle connection (no task
//! holds its host, no `connect` is under way on it), or waits for one to
//! become idle; a later task on that host opens it again. Handshakes have
//! their own per-server limit (`herd_max_handshakes`, in `ssh.rs`).

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
pub mod transfer;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
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
    /// Ask on the terminal for the passphrase of an encrypted key that
    /// nothing else opens (a playbook run; not library callers).
    pub ask_passphrase: bool,
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
            ask_passphrase: false,
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
            ask_passphrase: true,
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
    /// The place each open connection holds in the pool.
    slots: HashMap<String, Slot>,
    /// When each connection was last asked for (a tick of `clock`).
    last_used: HashMap<String, u64>,
    clock: u64,
    /// Keyed by the connection's key, `\0`, then the become settings.
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

/// SSH connections open (or opening) now.
static OPEN_CONNECTIONS: AtomicUsize = AtomicUsize::new(0);

/// One place among the `max_connections` of the pool; given back when
/// dropped.
struct Slot;

impl Slot {
    fn take(max: usize) -> Option<Slot> {
        OPEN_CONNECTIONS
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                (n < max.max(1)).then_some(n + 1)
            })
            .ok()
            .map(|_| Slot)
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        OPEN_CONNECTIONS.fetch_sub(1, Ordering::SeqCst);
    }
}

/// SSH connections open now (for diagnostics and tests).
pub fn open_connections() -> usize {
    OPEN_CONNECTIONS.load(Ordering::SeqCst)
}

/// What an evicted or reset connection leaves to close.
type Closing = (Vec<Arc<SshHost>>, Option<Arc<SshConnection>>, Option<Slot>);

/// Takes a connection and its hosts out of the cache.
fn take_out(c: &mut Cache, conn_key: &str) -> Closing {
    let prefix = format!("{conn_key}\0");
    let mut hosts = Vec::new();
    c.ssh_hosts.retain(|k, cell| {
        if k.starts_with(&prefix) {
            hosts.extend(cell.get().cloned());
            false
        } else {
            true
        }
    });
    c.last_used.remove(conn_key);
    let conn = c
        .connections
        .remove(conn_key)
        .and_then(|cell| cell.get().cloned());
    (hosts, conn, c.slots.remove(conn_key))
}

/// The least recently used connection nobody is using or opening: no
/// task holds one of its hosts, no `connect` is under way on it.
fn idle_victim(c: &Cache) -> Option<String> {
    let mut best: Option<(&String, u64)> = None;
    for (key, cell) in &c.connections {
        if cell.get().is_none() || Arc::strong_count(cell) > 1 {
            continue;
        }
        let prefix = format!("{key}\0");
        let busy = c.ssh_hosts.iter().any(|(k, h)| {
            k.starts_with(&prefix)
                && (Arc::strong_count(h) > 1 || h.get().is_none_or(|h| Arc::strong_count(h) > 1))
        });
        if busy {
            continue;
        }
        let used = c.last_used.get(key).copied().unwrap_or(0);
        if best.is_none_or(|(_, b)| used < b) {
            best = Some((key, used));
        }
    }
    best.map(|(k, _)| k.clone())
}

/// Closes what [`take_out`] took: shells first, then the connection.
async fn close_taken((hosts, conn, slot): Closing) {
    for h in hosts {
        h.close().await;
    }
    if let Some(conn) = conn {
        ssh::disconnect(&conn).await;
        // The place is free once the socket is: the session ends soon
        // after the disconnect message goes out.
        for _ in 0..100 {
            if conn.is_closed() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }
    drop(slot);
}

/// A place in the pool for a new connection: a free one, else the
/// least recently used idle connection is closed to make one, else
/// (every connection busy) it waits for one to become idle.
async fn reserve_slot(max: usize) -> Result<Slot, HostError> {
    loop {
        if let Some(slot) = Slot::take(max) {
            return Ok(slot);
        }
        let taken = {
            let mut c = cache()
                .lock()
                .map_err(|_| HostError::failed("connection cache poisoned"))?;
            idle_victim(&c).map(|k| take_out(&mut c, &k))
        };
        match taken {
            Some(t) => close_taken(t).await,
            None => tokio::time::sleep(std::time::Duration::from_millis(20)).await,
        }
    }
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
                "{conn_key}\0{}\0{:?}\0{:?}",
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
                    c.clock += 1;
                    let now = c.clock;
                    c.last_used.insert(conn_key.clone(), now);
                    (
                        cell(&mut c.connections, &conn_key),
                        cell(&mut c.ssh_hosts, &host_key),
                    )
                };
                let host = host_cell
                    .get_or_try_init(|| async {
                        let conn = conn_cell
                            .get_or_try_init(|| async {
                                let slot = reserve_slot(opts.max_connections).await?;
                                let conn = Arc::new(SshConnection::open(settings, &opts).await?);
                                if let Ok(mut c) = cache().lock() {
                                    c.slots.insert(conn_key.clone(), slot);
                                }
                                Ok::<_, HostError>(conn)
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
                let taken = {
                    let mut c = cache()
                        .lock()
                        .map_err(|_| HostError::failed("connection cache poisoned"))?;
                    take_out(&mut c, &conn_key)
                };
                drop(host);
                close_taken(taken).await;
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

/// Closes the connections to one inventory host (`meta:
/// reset_connection`); the next task opens new ones.
pub async fn reset(name: &str) {
    let prefix = format!("{name}\0");
    let (taken, local) = {
        let Ok(mut c) = cache().lock() else {
            return;
        };
        let keys: Vec<String> = c
            .connections
            .keys()
            .filter(|k| k.starts_with(&prefix))
            .cloned()
            .collect();
        let taken: Vec<Closing> = keys.iter().map(|k| take_out(&mut c, k)).collect();
        let mut local = Vec::new();
        c.local_hosts.retain(|k, h| {
            if k.starts_with(&prefix) {
                local.push(h.clone());
                false
            } else {
                true
            }
        });
        (taken, local)
    };
    for t in taken {
        close_taken(t).await;
    }
    for h in local {
        h.close().await;
    }
}

/// Closes every cached connection: shells end (removing their temporary
/// files), then the SSH connections.
pub async fn close_all() {
    let (conns, ssh_hosts, local_hosts, slots) = {
        let Ok(mut c) = cache().lock() else {
            return;
        };
        let c = std::mem::take(&mut *c);
        (c.connections, c.ssh_hosts, c.local_hosts, c.slots)
    };
    // All at once: each close waits for its shell to end, a round trip
    // that would otherwise be paid once per host at the end of the run.
    let shells = ssh_hosts.values().filter_map(|cell| cell.get());
    futures::future::join(
        futures::future::join_all(shells.map(|h| h.close())),
        futures::future::join_all(local_hosts.values().map(|h| h.close())),
    )
    .await;
    let conns = conns.values().filter_map(|cell| cell.get());
    futures::future::join_all(conns.map(|c| ssh::disconnect(c))).await;
    drop(slots);
}
