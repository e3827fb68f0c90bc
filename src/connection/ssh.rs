//! The `ssh` connection: one russh client connection per host (and
//! login), kept for the run, with a persistent driver shell per become
//! user on one exec channel (see `shell.rs`). A fresh exec channel per
//! command remains available as a fallback (`persistent_shell = False`
//! in `[ssh_connection]`, or `HERD_SSH_PERSISTENT_SHELL=0`).
//!
//! Settings come from the ssh arguments and `~/.ssh/config` (see
//! `ssh_config.rs`). `ProxyJump` connects and logs in to each jump host
//! in turn (its own ssh_config entry, identities and host key check)
//! and runs the next handshake over a `direct-tcpip` channel of the
//! previous hop; `ProxyCommand` runs the handshake over a local
//! command's stdin and stdout (`proxy.rs`).
//!
//! Login, in OpenSSH's order: ssh-agent keys (when no key file is
//! named), the key files (`ansible_private_key_file`, `IdentityFile`,
//! `-i`, else `~/.ssh/id_ed25519`, `id_ecdsa`, `id_rsa`; RSA signs with
//! rsa-sha2-512/256), then the password and keyboard-interactive with
//! it. An encrypted key file is opened with its own passphrase source
//! (see `open_encrypted_key`): `ansible_private_key_passphrase`, the
//! agent holding it, `ansible_password`, or a prompt on the terminal.
//!
//! Host keys are checked by `known_hosts.rs`: an unknown key is refused
//! unless host_key_checking is off or StrictHostKeyChecking is
//! `accept-new`/`no` (which record it); a changed or revoked key is
//! always refused.
//!
//! Key exchange: a post-quantum hybrid when the server offers one, else
//! ECDH on NIST P-256 ahead of X25519 (see [`preferred`]).

use std::borrow::Cow;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, Mutex as StdMutex};
use std::task::{Context, Poll};
use std::time::Duration;

use async_trait::async_trait;
use herd_modules::api::{
    shell_quote, ExecOptions, ExecResult, FileStat, Host, HostError, Source, StatElse,
};
use russh::client::{self, AuthResult, KeyboardInteractiveAuthResponse};
use russh::keys::{HashAlg, PrivateKeyWithHashAlg, PublicKeyOrCertificate};
use russh::{kex, ChannelMsg, Preferred};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, Mutex};

use super::become_::Become;
use super::known_hosts::{self, Verdict};
use super::proxy;
use super::shell::{self, Event, Shell};
use super::ssh_config::{expand, home, Proxy, SshConfig};
use super::Options;
use crate::vars::ConnectionSettings;

/// The algorithms herd offers, best first: russh's, with ECDH on NIST
/// P-256 moved ahead of X25519 (after any post-quantum hybrid, which
/// stays first). Both are in OpenSSH's default list; OpenSSH computes
/// X25519 with its portable reference code but P-256 with OpenSSL's
/// optimised one: about 1.2 ms less CPU per connection, server and
/// client together (against OpenSSH 9.2 in the benchmark's sshd).
pub fn preferred() -> Preferred {
    let mut order: Vec<kex::Name> = Preferred::DEFAULT
        .kex
        .iter()
        .filter(|n| **n != kex::ECDH_SHA2_NISTP256)
        .copied()
        .collect();
    let at = order
        .iter()
        .position(|n| *n == kex::CURVE25519)
        .unwrap_or(order.len());
    order.insert(at, kex::ECDH_SHA2_NISTP256);
    Preferred {
        kex: Cow::Owned(order),
        ..Preferred::DEFAULT
    }
}

/// The names in a key exchange list that announce protocol extensions,
/// not methods: they stay whatever `KexAlgorithms` says.
const KEX_EXTENSIONS: [kex::Name; 4] = [
    kex::EXTENSION_SUPPORT_AS_CLIENT,
    kex::EXTENSION_SUPPORT_AS_SERVER,
    kex::EXTENSION_OPENSSH_STRICT_KEX_AS_CLIENT,
    kex::EXTENSION_OPENSSH_STRICT_KEX_AS_SERVER,
];

/// [`preferred`] with ssh_config's `KexAlgorithms` applied as OpenSSH
/// applies it: a list replaces the default order; `+list` appends to it,
/// `-list` removes from it (`*` and `?` patterns allowed) and `^list`
/// puts the list first. Names herd does not implement are passed over;
/// a setting that leaves none is the error.
pub fn preferred_for(spec: Option<&str>) -> Result<Preferred, String> {
    let base = preferred();
    let Some(spec) = spec.map(str::trim) else {
        return Ok(base);
    };
    let (methods, extensions): (Vec<kex::Name>, Vec<kex::Name>) =
        base.kex.iter().partition(|n| !KEX_EXTENSIONS.contains(n));
    let (mode, list) = match spec.chars().next() {
        Some(c @ ('+' | '-' | '^')) => (Some(c), &spec[1..]),
        _ => (None, spec),
    };
    let words: Vec<&str> = list
        .split(',')
        .map(str::trim)
        .filter(|w| !w.is_empty())
        .collect();
    let mut named: Vec<kex::Name> = Vec::new();
    for n in words.iter().filter_map(|w| kex::Name::try_from(*w).ok()) {
        if !KEX_EXTENSIONS.contains(&n) && !named.contains(&n) {
            named.push(n);
        }
    }
    let mut order: Vec<kex::Name> = match mode {
        None => named,
        Some('+') => {
            let mut o = methods.clone();
            o.extend(named.into_iter().filter(|n| !methods.contains(n)));
            o
        }
        Some('-') => methods
            .iter()
            .filter(|n| {
                !words
                    .iter()
                    .any(|w| known_hosts::wildcard_match(w, n.as_ref()))
            })
            .copied()
            .collect(),
        _ => {
            let mut o = named.clone();
            o.extend(methods.iter().filter(|n| !named.contains(n)));
            o
        }
    };
    if order.is_empty() {
        let known: Vec<&str> = methods.iter().map(|n| n.as_ref()).collect();
        return Err(format!(
            "KexAlgorithms '{spec}' leaves no key exchange method herd supports \
             (it supports {})",
            known.join(", ")
        ));
    }
    order.extend(extensions);
    Ok(Preferred {
        kex: Cow::Owned(order),
        ..base
    })
}

/// What decides a connection: the cache key of [`SshConnection`].
pub fn connection_key(s: &ConnectionSettings) -> String {
    format!(
        "{}\0{:?}\0{:?}\0{:?}\0{:?}\0{:?}\0{:?}\0{:?}",
        s.host,
        s.port,
        s.remote_user,
        s.private_key_file,
        s.private_key_passphrase,
        s.password,
        s.ssh_common_args,
        s.ssh_extra_args
    )
}

/// A TCP stream that re-arms TCP_QUICKACK after each read: Linux drops
/// back to delayed ACKs, which stalls the first request of a channel by
/// ~40 ms.
struct QuickAck(TcpStream);

impl AsyncRead for QuickAck {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let r = Pin::new(&mut self.0).poll_read(cx, buf);
        if r.is_ready() {
            use std::os::fd::AsRawFd;
            let one: libc::c_int = 1;
            // SAFETY: setsockopt on our own open socket with a valid int.
            unsafe {
                libc::setsockopt(
                    self.0.as_raw_fd(),
                    libc::IPPROTO_TCP,
                    libc::TCP_QUICKACK,
                    (&one as *const libc::c_int).cast(),
                    std::mem::size_of::<libc::c_int>() as libc::socklen_t,
                );
            }
        }
        r
    }
}

impl AsyncWrite for QuickAck {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

/// How an unknown host key is treated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum UnknownKey {
    Refuse,
    Accept,
    AcceptAndRecord,
}

struct Client {
    host: String,
    port: u16,
    files: Vec<PathBuf>,
    unknown: UnknownKey,
    /// Why the server key was refused, for the error message.
    refusal: Arc<StdMutex<Option<String>>>,
}

impl Client {
    fn refuse(&self, why: String) -> Result<bool, russh::Error> {
        if let Ok(mut r) = self.refusal.lock() {
            *r = Some(why);
        }
        Ok(false)
    }
}

impl client::Handler for Client {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        key: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        let PublicKeyOrCertificate::PublicKey { key, .. } = key else {
            return self.refuse(
                "the server offered a host certificate, which herd does not check yet".into(),
            );
        };
        let Ok(blob) = key.to_bytes() else {
            return self.refuse("the server's host key could not be encoded".into());
        };
        let kind = key.algorithm().as_str().to_string();
        let fp = known_hosts::fingerprint(&blob);
        let label = known_hosts::host_label(&self.host, self.port);
        match known_hosts::check(&self.files, &self.host, self.port, &kind, &blob) {
            Verdict::Known => Ok(true),
            Verdict::Revoked { file, line } => self.refuse(format!(
                "the host key of {label} ({kind} {fp}) is marked @revoked in {}:{line}",
                file.display()
            )),
            Verdict::Changed { file, line } => self.refuse(format!(
                "REMOTE HOST IDENTIFICATION HAS CHANGED for {label}: it now offers {kind} key {fp}, \
                 which differs from the one recorded in {}:{line}. Someone could be eavesdropping \
                 (or the host was reinstalled): check the fingerprint, then remove the old entry \
                 (ssh-keygen -R '{label}')",
                file.display()
            )),
            Verdict::Unknown => match self.unknown {
                UnknownKey::Accept => Ok(true),
                UnknownKey::AcceptAndRecord => {
                    if let Some(file) = self.files.first() {
                        if let Err(e) = known_hosts::append(file, &self.host, self.port, &kind, &blob) {
                            return self.refuse(format!(
                                "could not record the host key of {label} in {}: {e}",
                                file.display()
                            ));
                        }
                    }
                    Ok(true)
                }
                UnknownKey::Refuse => self.refuse(format!(
                    "the host key of {label} ({kind} {fp}) is not known (looked in {}). \
                     Add it to known_hosts (ssh-keyscan), or set host_key_checking = False \
                     (ANSIBLE_HOST_KEY_CHECKING=False)",
                    self.files.iter().map(|f| f.display().to_string()).collect::<Vec<_>>().join(", ")
                )),
            },
        }
    }
}

/// One authenticated SSH connection.
pub struct SshConnection {
    handle: client::Handle<Client>,
    /// The jump hosts' connections the handle runs through, first hop
    /// first: kept open as long as it is.
    jumps: Vec<client::Handle<Client>>,
    what: String,
    /// Exec channels open at once for the channel-per-command fallback:
    /// sshd allows 10 sessions per connection (MaxSessions), and the
    /// persistent shells need some of them.
    channels: tokio::sync::Semaphore,
}

const FALLBACK_CHANNELS: usize = 6;

type Gates = StdMutex<std::collections::HashMap<String, Arc<tokio::sync::Semaphore>>>;

/// The handshakes in flight to one server (`[ssh_connection]
/// herd_max_handshakes` of them at most).
fn handshake_gate(address: &str, port: u16, limit: usize) -> Arc<tokio::sync::Semaphore> {
    static GATES: std::sync::OnceLock<Gates> = std::sync::OnceLock::new();
    let gates = GATES.get_or_init(Default::default);
    let limit = limit.max(1);
    match gates.lock() {
        Ok(mut g) => g
            .entry(format!("{address}:{port}:{limit}"))
            .or_insert_with(|| Arc::new(tokio::sync::Semaphore::new(limit)))
            .clone(),
        // A poisoned map only loses the sharing, not correctness.
        Err(_) => Arc::new(tokio::sync::Semaphore::new(limit)),
    }
}

/// Raises the soft open-file limit to the hard one: a run keeps a
/// socket per host open.
fn raise_nofile_limit() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit/setrlimit with a valid rlimit struct.
        unsafe {
            if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
                lim.rlim_cur = lim.rlim_max;
                libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
            }
        }
    });
}

/// One hop of the way to a host: the target itself, or a jump host.
struct Hop {
    /// The address to reach (HostName, else the name).
    address: String,
    port: u16,
    user: String,
    cfg: SshConfig,
    /// Key file and password to log in with (none for a jump host:
    /// only its ssh_config identities and the agent).
    auth: ConnectionSettings,
    /// `user@address:port`, prefixed with `jump host ` for a jump.
    what: String,
    files: Vec<PathBuf>,
    unknown: UnknownKey,
    /// Whether an encrypted key's passphrase may be asked for.
    ask_passphrase: bool,
}

impl Hop {
    /// The key files to try, and whether they were named
    /// (`ansible_private_key_file`, `IdentityFile`, `-i`) rather than
    /// the default identities.
    fn key_files(&self) -> (bool, Vec<PathBuf>) {
        let named: Vec<String> = self
            .auth
            .private_key_file
            .iter()
            .cloned()
            .chain(self.cfg.identity_files.iter().cloned())
            .collect();
        if named.is_empty() {
            let defaults = ["id_ed25519", "id_ecdsa", "id_rsa"]
                .iter()
                .map(|n| home().join(".ssh").join(n))
                .filter(|p| p.exists())
                .collect();
            (false, defaults)
        } else {
            (true, named.iter().map(|f| expand(f)).collect())
        }
    }

    fn new(
        name: &str,
        cfg: SshConfig,
        auth: ConnectionSettings,
        port: Option<u16>,
        user: Option<String>,
        options: &Options,
        jump: bool,
    ) -> Hop {
        let address = cfg.host_name.clone().unwrap_or_else(|| name.to_string());
        let port = port.or(cfg.port).unwrap_or(22);
        let user = user
            .or(cfg.user.clone())
            .or_else(|| std::env::var("USER").ok())
            .unwrap_or_else(|| "root".into());
        let what = format!(
            "{}{user}@{address}:{port}",
            if jump { "jump host " } else { "" }
        );
        let files: Vec<PathBuf> = if cfg.known_hosts_files.is_empty() {
            vec![
                home().join(".ssh/known_hosts"),
                home().join(".ssh/known_hosts2"),
                PathBuf::from("/etc/ssh/ssh_known_hosts"),
            ]
        } else {
            cfg.known_hosts_files.iter().map(|f| expand(f)).collect()
        };
        let unknown = match cfg.strict_host_key_checking.as_deref() {
            Some("accept-new") => UnknownKey::AcceptAndRecord,
            Some("no") | Some("off") => UnknownKey::AcceptAndRecord,
            Some(_) => UnknownKey::Refuse,
            None if !options.host_key_checking => UnknownKey::Accept,
            None => UnknownKey::Refuse,
        };
        Hop {
            address,
            port,
            user,
            cfg,
            auth,
            what,
            files,
            unknown,
            ask_passphrase: options.ask_passphrase,
        }
    }
}

/// How a hop's byte stream is made.
enum Via<'a> {
    Tcp,
    /// A ProxyCommand, already expanded.
    Command(&'a str),
    /// A direct-tcpip channel of the previous hop's connection.
    Jump(&'a client::Handle<Client>),
}

impl SshConnection {
    /// Connects and authenticates, each hop (jump hosts, then the
    /// target) within the connect timeout.
    pub async fn open(
        settings: &ConnectionSettings,
        options: &Options,
    ) -> Result<SshConnection, HostError> {
        let default_file = options
            .ssh_config_file
            .clone()
            .unwrap_or_else(|| home().join(".ssh/config"));
        let args: Vec<&str> = [&settings.ssh_common_args, &settings.ssh_extra_args]
            .into_iter()
            .flatten()
            .map(String::as_str)
            .collect();
        let cfg = SshConfig::resolve(
            &settings.host,
            settings.remote_user.as_deref(),
            &args,
            &default_file,
        );
        if let Some(p) = cfg.problems.first() {
            return Err(HostError::unreachable(format!(
                "Failed to connect to the host via ssh: {}: {p}",
                settings.host
            )));
        }
        let secs = match settings.timeout {
            0 => cfg.connect_timeout.unwrap_or(10),
            t => t,
        };
        let config_path = cfg.config_path(&default_file);
        let proxy = cfg.proxy.clone();
        let target = Hop::new(
            &settings.host,
            cfg,
            settings.clone(),
            settings.port,
            settings.remote_user.clone(),
            options,
            false,
        );
        // Jump hosts read the same config file for their own names (as
        // `ssh -J` passes only `-F` on), not the `-o` options.
        let mut hops = Vec::new();
        if let Some(Proxy::Jump(list)) = &proxy {
            for j in list {
                let mut jcfg = SshConfig {
                    config_file: target.cfg.config_file.clone(),
                    ..SshConfig::default()
                };
                jcfg.read_file(config_path.as_deref(), &j.host, j.user.as_deref());
                if let Some(p) = jcfg.problems.first() {
                    return Err(HostError::unreachable(format!(
                        "Failed to connect to the host via ssh: jump host {}: {p}",
                        j.host
                    )));
                }
                let auth = ConnectionSettings {
                    private_key_file: None,
                    password: None,
                    ..settings.clone()
                };
                hops.push(Hop::new(
                    &j.host,
                    jcfg,
                    auth,
                    j.port,
                    j.user.clone(),
                    options,
                    true,
                ));
            }
        }
        let command = match &proxy {
            Some(Proxy::Command(c)) => Some(proxy::expand_command(
                c,
                &target.address,
                target.port,
                &target.user,
                &settings.host,
            )),
            _ => None,
        };
        hops.push(target);
        // Each hop's own KexAlgorithms, checked before any connects.
        let mut configs = Vec::new();
        for hop in &hops {
            let preferred = preferred_for(hop.cfg.kex_algorithms.as_deref()).map_err(|e| {
                HostError::unreachable(format!(
                    "Failed to connect to the host via ssh: {}: {e}",
                    hop.what
                ))
            })?;
            configs.push(Arc::new(client::Config {
                nodelay: true,
                preferred,
                keepalive_interval: Some(Duration::from_secs(15)),
                keepalive_max: 3,
                ..client::Config::default()
            }));
        }
        raise_nofile_limit();
        let mut handles: Vec<client::Handle<Client>> = Vec::new();
        for hop in &hops {
            ask_passphrases_ahead(hop).await;
        }
        for (hop, config) in hops.iter().zip(&configs) {
            let via = match (handles.last(), &command) {
                (Some(prev), _) => Via::Jump(prev),
                (None, Some(c)) => Via::Command(c),
                (None, None) => Via::Tcp,
            };
            let handle = match connect_hop(hop, via, config, options.max_handshakes, secs).await {
                Ok(h) => h,
                Err(mut e) => {
                    if hops.len() > 1 {
                        let target = hops.last().map(|h| h.what.as_str()).unwrap_or_default();
                        e.message = format!("{} (on the way to {target})", e.message);
                    }
                    for h in handles.iter().rev() {
                        let _ = h
                            .disconnect(russh::Disconnect::ByApplication, "", "en")
                            .await;
                    }
                    return Err(e);
                }
            };
            handles.push(handle);
        }
        let what = hops.last().map(|h| h.what.clone()).unwrap_or_default();
        let Some(handle) = handles.pop() else {
            return Err(HostError::unreachable(format!(
                "Failed to connect to the host via ssh: {what}"
            )));
        };
        Ok(SshConnection {
            handle,
            jumps: handles,
            what,
            channels: tokio::sync::Semaphore::new(FALLBACK_CHANNELS),
        })
    }

    /// Opens an exec channel running `line`, its output pumped into
    /// events so the connection never stalls on an unread channel.
    async fn start(
        &self,
        line: &str,
        pty: bool,
    ) -> Result<
        (
            Box<dyn AsyncWrite + Send + Unpin>,
            mpsc::UnboundedReceiver<Event>,
        ),
        HostError,
    > {
        let lost = |e: russh::Error| {
            HostError::unreachable(format!("ssh channel to {} failed: {e}", self.what))
        };
        let channel = self.handle.channel_open_session().await.map_err(lost)?;
        if pty {
            // Only for a become method that reads a password from a
            // terminal (su); echo off from the start.
            channel
                .request_pty(true, "dumb", 200, 50, 0, 0, &[(russh::Pty::ECHO, 0)])
                .await
                .map_err(lost)?;
        }
        channel.exec(true, line).await.map_err(lost)?;
        let (mut read, write) = channel.split();
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            // Read until Close, not ExitStatus: data can follow it.
            while let Some(msg) = read.wait().await {
                match msg {
                    ChannelMsg::Data { data } => {
                        let _ = tx.send(Event::Stdout(data.to_vec()));
                    }
                    ChannelMsg::ExtendedData { data, ext: 1 } => {
                        let _ = tx.send(Event::Stderr(data.to_vec()));
                    }
                    ChannelMsg::ExitStatus { exit_status } => {
                        let _ = tx.send(Event::Exited(exit_status as i32));
                    }
                    ChannelMsg::ExitSignal { signal_name, .. } => {
                        let _ = tx.send(Event::Exited(-signal_number(&signal_name)));
                    }
                    ChannelMsg::Close => break,
                    _ => {}
                }
            }
            let _ = tx.send(Event::Closed);
        });
        Ok((Box::new(write.make_writer()), rx))
    }

    /// Whether the connection has ended (the server went away).
    pub fn is_closed(&self) -> bool {
        self.handle.is_closed()
    }

    async fn close(&self) {
        let _ = self
            .handle
            .disconnect(russh::Disconnect::ByApplication, "", "en")
            .await;
        for j in self.jumps.iter().rev() {
            let _ = j
                .disconnect(russh::Disconnect::ByApplication, "", "en")
                .await;
        }
    }
}

/// Attempts of a ProxyCommand whose handshake fails: a command that
/// cannot reach the host fails the same way each time.
const COMMAND_ATTEMPTS: u32 = 3;

/// Makes one hop's stream and runs the SSH handshake and login over
/// it. sshd drops unauthenticated connections beyond MaxStartups (10
/// by default): few handshakes run at a time per server, and one the
/// server dropped early is retried after a growing pause, until the
/// connect timeout.
async fn connect_hop(
    hop: &Hop,
    via: Via<'_>,
    config: &Arc<client::Config>,
    max_handshakes: usize,
    secs: u64,
) -> Result<client::Handle<Client>, HostError> {
    let what = &hop.what;
    let gate = handshake_gate(&hop.address, hop.port, max_handshakes);
    let _permit = gate.acquire().await.map_err(|_| {
        HostError::unreachable(format!("Failed to connect to the host via ssh: {what}"))
    })?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    let mut pause = Duration::from_millis(100);
    let mut attempts = 0;
    loop {
        attempts += 1;
        let refusal = Arc::new(StdMutex::new(None));
        let handler = Client {
            host: hop.address.clone(),
            port: hop.port,
            files: hop.files.clone(),
            unknown: hop.unknown,
            refusal: refusal.clone(),
        };
        let failed = |e: String, retry: bool| {
            (
                HostError::unreachable(format!(
                    "Failed to connect to the host via ssh: {what}: {e}"
                )),
                retry,
            )
        };
        let attempt = async {
            let mut stderr = None;
            let stream: Box<dyn proxy::Transport> = match &via {
                Via::Tcp => {
                    let tcp = TcpStream::connect((hop.address.as_str(), hop.port))
                        .await
                        .map_err(|e| failed(e.to_string(), false))?;
                    let _ = tcp.set_nodelay(true);
                    Box::new(QuickAck(tcp))
                }
                Via::Command(c) => {
                    let s = proxy::CommandStream::spawn(c).map_err(|e| (e, false))?;
                    stderr = Some(s.stderr());
                    Box::new(s)
                }
                Via::Jump(prev) => {
                    let ch = prev
                        .channel_open_direct_tcpip(
                            hop.address.clone(),
                            u32::from(hop.port),
                            "127.0.0.1",
                            0,
                        )
                        .await
                        .map_err(|e| {
                            failed(
                                format!(
                                    "the previous jump host could not open a channel to it: {e}"
                                ),
                                false,
                            )
                        })?;
                    Box::new(ch.into_stream())
                }
            };
            let mut handle = match client::connect_stream(config.clone(), stream, handler).await {
                Ok(h) => h,
                Err(e) => {
                    if let Some(why) = refusal.lock().ok().and_then(|r| r.clone()) {
                        return Err((
                            HostError::unreachable(format!(
                                "Host key verification failed for {what}: {why}"
                            )),
                            false,
                        ));
                    }
                    let mut msg = e.to_string();
                    if let Some(tail) = &stderr {
                        // Let the command's last words arrive.
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        let text = proxy::stderr_text(tail);
                        if !text.is_empty() {
                            msg = format!("{msg} (ProxyCommand: {text})");
                        }
                    }
                    return Err(failed(msg, true));
                }
            };
            authenticate(&mut handle, hop, what)
                .await
                .map_err(|e| (e, false))?;
            Ok::<_, (HostError, bool)>(handle)
        };
        match tokio::time::timeout_at(deadline, attempt).await {
            Ok(Ok(h)) => return Ok(h),
            Ok(Err((e, retry))) => {
                let gave_up = matches!(via, Via::Command(_)) && attempts >= COMMAND_ATTEMPTS;
                if !retry || gave_up || tokio::time::Instant::now() + pause >= deadline {
                    return Err(e);
                }
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(2));
            }
            Err(_) => {
                return Err(HostError::unreachable(format!(
                    "Failed to connect to the host via ssh: {what}: timed out after {secs}s"
                )))
            }
        }
    }
}

fn signal_number(sig: &russh::Sig) -> i32 {
    use russh::Sig::*;
    match sig {
        HUP => 1,
        INT => 2,
        QUIT => 3,
        ILL => 4,
        ABRT => 6,
        FPE => 8,
        KILL => 9,
        USR1 => 10,
        SEGV => 11,
        PIPE => 13,
        ALRM => 14,
        TERM => 15,
        _ => 1,
    }
}

/// Tries the ways to log in, as OpenSSH orders them: agent keys and
/// identity files, then password and keyboard-interactive.
async fn authenticate(
    handle: &mut client::Handle<Client>,
    hop: &Hop,
    what: &str,
) -> Result<(), HostError> {
    let (user, settings) = (hop.user.as_str(), &hop.auth);
    let broken = |e: russh::Error| {
        HostError::unreachable(format!("ssh authentication with {what} failed: {e}"))
    };
    let mut notes: Vec<String> = Vec::new();
    let rsa_hash = handle
        .best_supported_rsa_hash()
        .await
        .ok()
        .flatten()
        .flatten()
        .or(Some(HashAlg::Sha512));

    // Explicit keys (ansible_private_key_file, IdentityFile, -i) or the
    // default identities.
    let (explicit, key_files) = hop.key_files();

    // The agent first, as OpenSSH does, unless a key file was named.
    if !explicit {
        if let Ok(mut agent) = russh::keys::agent::client::AgentClient::connect_env().await {
            if let Ok(ids) = agent.request_identities().await {
                for id in ids {
                    let key = id.public_key().into_owned();
                    let hash = if key.algorithm().is_rsa() {
                        rsa_hash
                    } else {
                        None
                    };
                    match handle
                        .authenticate_publickey_with(user, key, hash, &mut agent)
                        .await
                    {
                        Ok(AuthResult::Success) => return Ok(()),
                        Ok(_) => {}
                        Err(e) => notes.push(format!("agent key: {e}")),
                    }
                }
            }
        }
    }

    for path in &key_files {
        let key = match russh::keys::load_secret_key(path, None) {
            Ok(k) => k,
            Err(russh::keys::Error::KeyIsEncrypted) => {
                match open_encrypted_key(handle, hop, path, rsa_hash, &mut notes).await? {
                    EncryptedKey::Opened(k) => *k,
                    EncryptedKey::LoggedIn => return Ok(()),
                    EncryptedKey::Skipped => continue,
                }
            }
            Err(e) => {
                if explicit {
                    notes.push(format!("{}: {e}", path.display()));
                }
                continue;
            }
        };
        let hash = if key.algorithm().is_rsa() {
            rsa_hash
        } else {
            None
        };
        let key = PrivateKeyWithHashAlg::new(Arc::new(key), hash);
        if handle
            .authenticate_publickey(user, key)
            .await
            .map_err(broken)?
            .success()
        {
            return Ok(());
        }
    }

    if let Some(password) = &settings.password {
        if handle
            .authenticate_password(user, password.clone())
            .await
            .map_err(broken)?
            .success()
        {
            return Ok(());
        }
        let mut reply = handle
            .authenticate_keyboard_interactive_start(user, None)
            .await
            .map_err(broken)?;
        // A server may ask several rounds; each prompt gets the password.
        for _ in 0..5 {
            match reply {
                KeyboardInteractiveAuthResponse::Success => return Ok(()),
                KeyboardInteractiveAuthResponse::Failure { .. } => break,
                KeyboardInteractiveAuthResponse::InfoRequest { prompts, .. } => {
                    let answers = prompts.iter().map(|_| password.clone()).collect();
                    reply = handle
                        .authenticate_keyboard_interactive_respond(answers)
                        .await
                        .map_err(broken)?;
                }
            }
        }
    }
    let mut msg = format!("Failed to authenticate to {what}: Permission denied");
    if !notes.is_empty() {
        msg.push_str(" (");
        msg.push_str(&notes.join("; "));
        msg.push(')');
    }
    Err(HostError::unreachable(msg))
}

/// What became of an encrypted key file.
enum EncryptedKey {
    Opened(Box<russh::keys::PrivateKey>),
    /// ssh-agent holds the key and logged in with it.
    LoggedIn,
    Skipped,
}

/// Passphrases typed at the terminal this run, by key file: one prompt
/// per key, not one per host.
type Typed = tokio::sync::Mutex<std::collections::HashMap<PathBuf, Option<String>>>;

fn typed_passphrases() -> &'static Typed {
    static TYPED: std::sync::OnceLock<Typed> = std::sync::OnceLock::new();
    TYPED.get_or_init(Default::default)
}

/// Opens an encrypted key file as OpenSSH would let a user: with its
/// passphrase setting (`ansible_private_key_passphrase`), else through
/// ssh-agent when it holds the key (its `.pub` beside it), else with
/// `ansible_password` (herd's older behaviour, kept), else by asking
/// on the terminal.
async fn open_encrypted_key(
    handle: &mut client::Handle<Client>,
    hop: &Hop,
    path: &std::path::Path,
    rsa_hash: Option<HashAlg>,
    notes: &mut Vec<String>,
) -> Result<EncryptedKey, HostError> {
    let (user, settings) = (hop.user.as_str(), &hop.auth);
    let shown = path.display();
    if let Some(pass) = &settings.private_key_passphrase {
        return Ok(match russh::keys::load_secret_key(path, Some(pass)) {
            Ok(k) => EncryptedKey::Opened(Box::new(k)),
            Err(e) => {
                notes.push(format!(
                    "{shown}: could not decrypt with ansible_private_key_passphrase: {e}"
                ));
                EncryptedKey::Skipped
            }
        });
    }
    if let Some((public, mut agent)) = agent_holding(path).await {
        let hash = if public.algorithm().is_rsa() {
            rsa_hash
        } else {
            None
        };
        match handle
            .authenticate_publickey_with(user, public, hash, &mut agent)
            .await
        {
            Ok(AuthResult::Success) => return Ok(EncryptedKey::LoggedIn),
            Ok(_) => {}
            Err(e) => notes.push(format!("{shown} through ssh-agent: {e}")),
        }
    }
    if let Some(pass) = &settings.password {
        if let Ok(k) = russh::keys::load_secret_key(path, Some(pass)) {
            return Ok(EncryptedKey::Opened(Box::new(k)));
        }
    }
    let answer = typed_passphrase(path, hop.ask_passphrase).await;
    match answer {
        Some(pass) => Ok(match russh::keys::load_secret_key(path, Some(&pass)) {
            Ok(k) => EncryptedKey::Opened(Box::new(k)),
            Err(e) => {
                notes.push(format!(
                    "{shown}: could not decrypt with the passphrase typed: {e}"
                ));
                EncryptedKey::Skipped
            }
        }),
        None => {
            notes.push(format!(
                "{shown} is encrypted: set ansible_private_key_passphrase, add the key to \
                 ssh-agent, or run herd on a terminal to be asked for its passphrase"
            ));
            Ok(EncryptedKey::Skipped)
        }
    }
}

/// The public key of an encrypted key file (its `.pub` beside it) and
/// a connection to the ssh-agent that holds it, if one does.
async fn agent_holding(
    path: &std::path::Path,
) -> Option<(
    russh::keys::PublicKey,
    russh::keys::agent::client::AgentClient<tokio::net::UnixStream>,
)> {
    let mut public = path.as_os_str().to_owned();
    public.push(".pub");
    let public = russh::keys::load_public_key(PathBuf::from(public)).ok()?;
    let mut agent = russh::keys::agent::client::AgentClient::connect_env()
        .await
        .ok()?;
    let ids = agent.request_identities().await.ok()?;
    ids.iter()
        .any(|id| id.public_key().key_data() == public.key_data())
        .then_some((public, agent))
}

/// The passphrase typed for a key file this run, asking for it (when
/// `ask`) the first time: one prompt at a time, each key asked once.
async fn typed_passphrase(path: &std::path::Path, ask: bool) -> Option<String> {
    let mut typed = typed_passphrases().lock().await;
    if let Some(a) = typed.get(path) {
        return a.clone();
    }
    if !ask {
        return None;
    }
    let prompt = format!("Enter passphrase for key '{}': ", path.display());
    let answer = tokio::task::spawn_blocking(move || crate::exec::prompt_line(&prompt, false))
        .await
        .ok()
        .and_then(|r| r.ok())
        .flatten();
    typed.insert(path.to_path_buf(), answer.clone());
    answer
}

/// Asks, before connecting (so outside the connect timeout), for the
/// passphrase of each named encrypted key file that neither its
/// passphrase setting, `ansible_password` nor ssh-agent opens.
async fn ask_passphrases_ahead(hop: &Hop) {
    if !hop.ask_passphrase || hop.auth.private_key_passphrase.is_some() {
        return;
    }
    let (named, files) = hop.key_files();
    if !named {
        return;
    }
    for path in files {
        if !matches!(
            russh::keys::load_secret_key(&path, None),
            Err(russh::keys::Error::KeyIsEncrypted)
        ) {
            continue;
        }
        let by_password = hop
            .auth
            .password
            .as_ref()
            .is_some_and(|pw| russh::keys::load_secret_key(&path, Some(pw)).is_ok());
        if by_password || agent_holding(&path).await.is_some() {
            continue;
        }
        typed_passphrase(&path, true).await;
    }
}

/// A host reached over SSH, as one login and become user.
pub struct SshHost {
    name: String,
    conn: Arc<SshConnection>,
    become_: Option<Become>,
    shell_exe: String,
    persistent: bool,
    handshake_limit: Duration,
    shell: Mutex<Option<Shell>>,
}

impl SshHost {
    /// Whether commands run on the persistent shell rather than an exec
    /// channel each: a become method that needs a terminal always uses
    /// the shell, where the pty serves only to authenticate.
    fn commands_on_shell(&self) -> bool {
        self.persistent || self.become_.as_ref().is_some_and(|b| b.needs_pty())
    }

    pub fn new(
        name: &str,
        conn: Arc<SshConnection>,
        settings: &ConnectionSettings,
        options: &Options,
    ) -> SshHost {
        SshHost {
            name: name.to_string(),
            conn,
            become_: Become::from_settings(settings),
            shell_exe: settings
                .shell_executable
                .clone()
                .unwrap_or_else(|| "/bin/sh".into()),
            persistent: options.persistent_shell,
            handshake_limit: Duration::from_secs(
                if settings.timeout == 0 {
                    10
                } else {
                    settings.timeout
                }
                .max(10),
            ),
            shell: Mutex::new(None),
        }
    }

    async fn start_shell(&self) -> Result<Shell, HostError> {
        let pty = self.become_.as_ref().is_some_and(|b| b.needs_pty());
        match self.start_shell_with(pty).await {
            // sudo with `requiretty`: the same again on a pty, used only
            // to authenticate (made raw, stderr kept apart).
            Err(e) if !pty && self.become_.is_some() && e.message.contains("must have a tty") => {
                self.start_shell_with(true).await
            }
            other => other,
        }
    }

    async fn start_shell_with(&self, pty: bool) -> Result<Shell, HostError> {
        let start = shell::start_line(self.become_.as_ref(), &self.shell_exe, pty)?;
        let (input, events) = self.conn.start(&start.line, pty).await?;
        Shell::handshake(
            input,
            events,
            self.become_.as_ref(),
            &start,
            self.handshake_limit,
            &self.conn.what,
            pty,
        )
        .await
    }

    /// The persistent shell, started when missing or lost.
    async fn shell_guard(&self) -> Result<tokio::sync::MutexGuard<'_, Option<Shell>>, HostError> {
        let mut guard = self.shell.lock().await;
        if guard.as_ref().is_none_or(|s| s.is_closed()) {
            *guard = Some(self.start_shell().await?);
        }
        Ok(guard)
    }

    /// The fallback: a new exec channel for this one command.
    async fn exec_channel(
        &self,
        command: &str,
        opts: &ExecOptions,
    ) -> Result<ExecResult, HostError> {
        let script = shell::exec_script(command, opts)?;
        let _slot = self.conn.channels.acquire().await.map_err(|_| {
            HostError::unreachable(format!("the connection to {} was closed", self.conn.what))
        })?;
        let ready = format!("herd-ready-{}", shell::nonce());
        let prompt = format!("[herd sudo password {}]: ", shell::nonce());
        let timeout_mark = format!("herd-timed-out-{}", shell::nonce());
        // A big script does not fit in one argument (128 KiB): it is
        // sent ahead of the command's input and read with `head -c`.
        let big = script.len() > 64 * 1024;
        let sh = shell_quote(&self.shell_exe);
        let (prepare, cmd, cleanup) = if big {
            (
                format!("f=$(mktemp) || exit 1; head -c {} >\"$f\"; ", script.len()),
                format!("{sh} \"$f\""),
                "rm -f \"$f\"; ",
            )
        } else {
            (
                String::new(),
                format!("{sh} -c {}", shell_quote(&script)),
                "",
            )
        };
        let inner = match opts.timeout {
            None if !big => format!("printf '%s\\n' {ready}; exec {cmd}"),
            None => format!("printf '%s\\n' {ready}; {prepare}{cmd}; r=$?; {cleanup}exit $r"),
            // The command in its own session, so a watchdog can kill
            // its whole process group; the mark tells a timeout apart
            // from the command's own exit code.
            Some(secs) => format!(
                "printf '%s\\n' {ready}; {prepare}command -v setsid >/dev/null 2>&1 || setsid() {{ \"$@\"; }}; \
                 setsid {cmd} <&0 & p=$!; \
                 ( sleep {secs} 3>&-; printf %s {timeout_mark} >&3; kill -9 -$p ) 3>&1 >/dev/null 2>&1 & w=$!; \
                 wait $p; r=$?; {cleanup}kill $w 2>/dev/null; exit $r"
            ),
        };
        let line = match &self.become_ {
            Some(b) => b.wrap(&inner, &prompt)?,
            None => format!("exec /bin/sh -c {}", shell_quote(&inner)),
        };
        let (mut input, events) = self.conn.start(&line, false).await?;
        // Everything before the ready line belongs to the become
        // handshake; what follows is the command's own output.
        let mut rx = events;
        let mut shell_stdout = Vec::new();
        let mut shell_stderr = Vec::new();
        let marker = format!("{ready}\n");
        let password = self.become_.as_ref().and_then(|b| b.password.clone());
        let mut sent = false;
        let run = async {
            use tokio::io::AsyncWriteExt;
            let mut ready_seen = false;
            let mut rc = None;
            loop {
                if !ready_seen {
                    if let Some(pos) = shell_stdout
                        .windows(marker.len())
                        .position(|w| w == marker.as_bytes())
                    {
                        shell_stdout.drain(..pos + marker.len());
                        shell_stderr.clear();
                        ready_seen = true;
                        if big {
                            input
                                .write_all(script.as_bytes())
                                .await
                                .map_err(|e| HostError::unreachable(e.to_string()))?;
                        }
                        if let Some(data) = &opts.stdin {
                            input
                                .write_all(data)
                                .await
                                .map_err(|e| HostError::unreachable(e.to_string()))?;
                        }
                        let _ = input.shutdown().await;
                    } else if self.become_.is_some() {
                        match super::become_::judge_stderr(
                            &shell_stderr,
                            &prompt,
                            sent,
                            password.is_some(),
                        ) {
                            super::become_::PromptState::Failed(m) => {
                                return Err(HostError::failed(m))
                            }
                            super::become_::PromptState::Prompted => {
                                let Some(pw) = &password else {
                                    return Err(HostError::failed("Missing sudo password"));
                                };
                                input
                                    .write_all(format!("{pw}\n").as_bytes())
                                    .await
                                    .map_err(|e| HostError::unreachable(e.to_string()))?;
                                input
                                    .flush()
                                    .await
                                    .map_err(|e| HostError::unreachable(e.to_string()))?;
                                sent = true;
                            }
                            super::become_::PromptState::Waiting => {}
                        }
                    }
                }
                // After the exit status, output still in flight follows
                // quickly; a background child holding the channel open
                // would keep it from closing, so stop once it goes quiet.
                let next = if rc.is_some() {
                    match tokio::time::timeout(Duration::from_millis(300), rx.recv()).await {
                        Ok(ev) => ev,
                        Err(_) => break,
                    }
                } else {
                    rx.recv().await
                };
                match next {
                    Some(Event::Stdout(d)) => shell_stdout.extend_from_slice(&d),
                    Some(Event::Stderr(d)) => shell_stderr.extend_from_slice(&d),
                    Some(Event::Exited(code)) => rc = Some(code),
                    Some(Event::Closed) | None => break,
                }
            }
            if !ready_seen {
                return Err(HostError::failed(format!(
                    "could not run the command on {}: {}",
                    self.conn.what,
                    String::from_utf8_lossy(&shell_stderr).trim()
                )));
            }
            let Some(rc) = rc else {
                return Err(HostError::unreachable(format!(
                    "the connection to {} was lost while a command ran",
                    self.conn.what
                )));
            };
            Ok(ExecResult {
                rc,
                stdout: std::mem::take(&mut shell_stdout),
                stderr: std::mem::take(&mut shell_stderr),
            })
        };
        let result = run.await?;
        if let Some(secs) = opts.timeout {
            if result
                .stdout
                .windows(timeout_mark.len())
                .any(|w| w == timeout_mark.as_bytes())
            {
                return Err(HostError::failed(format!(
                    "The command timed out after {secs} seconds"
                )));
            }
        }
        Ok(result)
    }

    pub async fn close(&self) {
        if let Some(mut s) = self.shell.lock().await.take() {
            s.close().await;
        }
    }

    pub fn connection(&self) -> &Arc<SshConnection> {
        &self.conn
    }
}

/// Closes a connection: its shells should be closed first.
pub async fn disconnect(conn: &SshConnection) {
    conn.close().await;
}

#[async_trait]
impl Host for SshHost {
    fn name(&self) -> &str {
        &self.name
    }

    async fn exec(&self, command: &str, opts: &ExecOptions) -> Result<ExecResult, HostError> {
        if !self.commands_on_shell() {
            match self.exec_channel(command, opts).await {
                // sudo with `requiretty`: only the shell path has a pty.
                Err(e) if e.message.contains("must have a tty") => {}
                other => return other,
            }
        }
        on_shell!(self, s => s.exec(command, opts))
    }

    async fn read_file(&self, path: &str) -> Result<Option<Vec<u8>>, HostError> {
        on_shell!(self, s => s.read_file(path))
    }

    async fn write_from(
        &self,
        path: &str,
        src: Source<'_>,
        mode: Option<u32>,
    ) -> Result<(), HostError> {
        on_shell!(self, s => s.write_from(path, src, mode))
    }

    async fn checksum(&self, path: &str) -> Result<Option<String>, HostError> {
        on_shell!(self, s => s.checksum(path))
    }

    async fn stat(&self, path: &str, follow: bool) -> Result<Option<FileStat>, HostError> {
        on_shell!(self, s => s.stat(path, follow))
    }

    async fn read_kind(&self, path: &str) -> Result<Option<(String, Option<Vec<u8>>)>, HostError> {
        match on_shell!(self, s => s.read_kind(path))? {
            Some(r) => Ok(r),
            // Not a case the shell settles alone: with its metadata.
            None => herd_modules::api::kind_by_stat_read(self, path).await,
        }
    }

    async fn stat_read(
        &self,
        path: &str,
        follow: bool,
        max: u64,
        names: bool,
    ) -> Result<Option<(FileStat, Option<Vec<u8>>)>, HostError> {
        let done = on_shell!(self, s => s.stat_read(path, follow, max, names))?;
        match done {
            Some(r) => Ok(r),
            // No stat command on the host: two requests.
            None => herd_modules::api::stat_then_read(self, path, follow, max).await,
        }
    }

    async fn exec_stat(
        &self,
        command: &str,
        opts: &ExecOptions,
        path: &str,
        follow: bool,
    ) -> Result<(ExecResult, Option<FileStat>), HostError> {
        if !self.commands_on_shell() {
            // Commands take their own exec channel: two requests.
            return herd_modules::api::exec_then_stat(self, command, opts, path, follow).await;
        }
        on_shell!(self, s => s.exec_stat(command, opts, path, follow))
    }

    async fn write_stat(
        &self,
        path: &str,
        src: Source<'_>,
        mode: Option<u32>,
    ) -> Result<Option<FileStat>, HostError> {
        on_shell!(self, s => s.write_stat(path, src, mode))
    }

    async fn stat_else_exec(
        &self,
        path: &str,
        follow: bool,
        command: &str,
        opts: &ExecOptions,
    ) -> Result<StatElse, HostError> {
        if !self.commands_on_shell() || opts.timeout.is_some() {
            return herd_modules::api::stat_then_exec(self, path, follow, command, opts).await;
        }
        on_shell!(self, s => s.stat_else_exec(path, follow, command, opts))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The method names of an order, without the extension names.
    fn methods(spec: Option<&str>) -> Vec<String> {
        let p = preferred_for(spec).unwrap();
        let (methods, ext): (Vec<&kex::Name>, Vec<&kex::Name>) =
            p.kex.iter().partition(|n| !KEX_EXTENSIONS.contains(n));
        // The extensions stay, at the end.
        let n = p.kex.len();
        assert!(!ext.is_empty(), "{spec:?}");
        assert!(p.kex[n - ext.len()..]
            .iter()
            .all(|e| KEX_EXTENSIONS.contains(e)));
        methods.iter().map(|n| n.as_ref().to_string()).collect()
    }

    #[test]
    fn kex_algorithms_change_the_order_as_in_openssh() {
        let default = methods(None);
        let p256 = default.iter().position(|n| n == "ecdh-sha2-nistp256");
        let x25519 = default.iter().position(|n| n == "curve25519-sha256");
        assert!(p256 < x25519, "{default:?}");
        assert_eq!(default[0], "mlkem768x25519-sha256");
        // A list replaces the order; names herd lacks are passed over.
        assert_eq!(
            methods(Some(
                "sntrup761x25519-sha512@openssh.com,curve25519-sha256,ecdh-sha2-nistp256"
            )),
            ["curve25519-sha256", "ecdh-sha2-nistp256"]
        );
        // A name given twice is offered once.
        assert_eq!(
            methods(Some(
                "curve25519-sha256,ecdh-sha2-nistp256,curve25519-sha256"
            )),
            ["curve25519-sha256", "ecdh-sha2-nistp256"]
        );
        // `-` removes, with patterns.
        let without = methods(Some("-ecdh-sha2-nistp*,mlkem*"));
        assert_eq!(without[0], "curve25519-sha256");
        assert!(!without.iter().any(|n| n.starts_with("ecdh-sha2-nistp")));
        // `^` puts first, `+` appends what is not there yet.
        let first = methods(Some("^curve25519-sha256"));
        assert_eq!(first[0], "curve25519-sha256");
        assert_eq!(first.len(), default.len());
        assert_eq!(methods(Some("+curve25519-sha256")), default);
        // Nothing left is the error, naming what herd supports.
        let e = preferred_for(Some("sntrup761x25519-sha512@openssh.com")).unwrap_err();
        assert!(
            e.contains("sntrup761x25519") && e.contains("curve25519-sha256"),
            "{e}"
        );
    }
}
