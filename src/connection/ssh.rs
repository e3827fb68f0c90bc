//! The `ssh` connection: one russh client connection per host (and
//! login), kept for the run, with a persistent driver shell per become
//! user on one exec channel (see `shell.rs`). A fresh exec channel per
//! command remains available as a fallback (`persistent_shell = False`
//! in `[ssh_connection]`, or `HERD_SSH_PERSISTENT_SHELL=0`).
//!
//! Supported from `~/.ssh/config` (and `-o Key=Value` in
//! `ansible_ssh_common_args` / `ansible_ssh_extra_args`): `Host`
//! patterns, `HostName`, `User`, `Port`, `IdentityFile`,
//! `StrictHostKeyChecking`, `UserKnownHostsFile`, `ConnectTimeout`.
//! `ProxyJump` and `ProxyCommand` are not supported and fail clearly.
//!
//! Login, in OpenSSH's order: ssh-agent keys (when no key file is
//! named), the key files (`ansible_private_key_file`, `IdentityFile`,
//! `-i`, else `~/.ssh/id_ed25519`, `id_ecdsa`, `id_rsa`; RSA signs with
//! rsa-sha2-512/256), then the password and keyboard-interactive with
//! it. An encrypted key is opened with `ansible_password` as its
//! passphrase (there is no separate passphrase setting yet).
//!
//! Host keys are checked by `known_hosts.rs`: an unknown key is refused
//! unless host_key_checking is off or StrictHostKeyChecking is
//! `accept-new`/`no` (which record it); a changed or revoked key is
//! always refused.

use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, Mutex as StdMutex};
use std::task::{Context, Poll};
use std::time::Duration;

use async_trait::async_trait;
use herd_modules::api::{shell_quote, ExecOptions, ExecResult, FileStat, Host, HostError, Source};
use russh::client::{self, AuthResult, KeyboardInteractiveAuthResponse};
use russh::keys::{HashAlg, PrivateKeyWithHashAlg, PublicKeyOrCertificate};
use russh::ChannelMsg;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, Mutex};

use super::become_::Become;
use super::known_hosts::{self, Verdict};
use super::shell::{self, Event, Shell};
use super::Options;
use crate::vars::ConnectionSettings;

/// What decides a connection: the cache key of [`SshConnection`].
pub fn connection_key(s: &ConnectionSettings) -> String {
    format!(
        "{}\0{:?}\0{:?}\0{:?}\0{:?}\0{:?}\0{:?}",
        s.host,
        s.port,
        s.remote_user,
        s.private_key_file,
        s.password,
        s.ssh_common_args,
        s.ssh_extra_args
    )
}

/// Settings from `~/.ssh/config` and `-o` options for one host.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SshConfig {
    pub host_name: Option<String>,
    pub user: Option<String>,
    pub port: Option<u16>,
    pub identity_files: Vec<String>,
    pub strict_host_key_checking: Option<String>,
    pub known_hosts_files: Vec<String>,
    pub connect_timeout: Option<u64>,
    pub proxy: Option<String>,
}

impl SshConfig {
    /// Applies one `Key value`, the first value winning as in OpenSSH
    /// (IdentityFile accumulates).
    fn set(&mut self, key: &str, value: &str, host: &str) {
        let value = value.trim().trim_matches('"');
        match key.to_ascii_lowercase().as_str() {
            "hostname" if self.host_name.is_none() => {
                self.host_name = Some(value.replace("%h", host))
            }
            "user" if self.user.is_none() => self.user = Some(value.to_string()),
            "port" if self.port.is_none() => self.port = value.parse().ok(),
            "identityfile" => self.identity_files.push(value.to_string()),
            "stricthostkeychecking" if self.strict_host_key_checking.is_none() => {
                self.strict_host_key_checking = Some(value.to_ascii_lowercase())
            }
            "userknownhostsfile" if self.known_hosts_files.is_empty() => {
                self.known_hosts_files = value.split_whitespace().map(String::from).collect()
            }
            "connecttimeout" if self.connect_timeout.is_none() => {
                self.connect_timeout = value.parse().ok()
            }
            "proxyjump" | "proxycommand" if self.proxy.is_none() && value != "none" => {
                self.proxy = Some(key.to_string())
            }
            _ => {}
        }
    }

    /// Reads an ssh_config text for `host`: blocks whose `Host` patterns
    /// match (negations excluded), `Match` blocks skipped.
    pub fn parse_into(&mut self, text: &str, host: &str) {
        let mut active = true;
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (key, value) = match line.find(|c: char| c == '=' || c.is_whitespace()) {
                Some(i) => {
                    let rest =
                        line[i..].trim_start_matches(|c: char| c == '=' || c.is_whitespace());
                    (&line[..i], rest)
                }
                None => continue,
            };
            match key.to_ascii_lowercase().as_str() {
                "host" => {
                    let mut matched = false;
                    let mut negated = false;
                    for pat in value.split_whitespace() {
                        if let Some(n) = pat.strip_prefix('!') {
                            negated |= known_hosts::wildcard_match(n, host);
                        } else {
                            matched |= known_hosts::wildcard_match(pat, host);
                        }
                    }
                    active = matched && !negated;
                }
                "match" => active = false,
                _ if active => self.set(key, value, host),
                _ => {}
            }
        }
    }

    /// Takes `-o Key=Value`, `-i file` and `-p port` from ssh arguments.
    pub fn parse_args(&mut self, args: &str, host: &str) {
        let words: Vec<String> = split_words(args);
        let mut i = 0;
        while i < words.len() {
            let w = &words[i];
            let next = words.get(i + 1).cloned().unwrap_or_default();
            if let Some(opt) = w.strip_prefix("-o") {
                let opt = if opt.is_empty() {
                    i += 1;
                    next
                } else {
                    opt.to_string()
                };
                if let Some((k, v)) = opt.split_once('=').or_else(|| opt.split_once(' ')) {
                    self.set(k.trim(), v, host);
                }
            } else if w == "-i" {
                self.identity_files.push(next);
                i += 1;
            } else if w == "-p" {
                if self.port.is_none() {
                    self.port = next.parse().ok();
                }
                i += 1;
            } else if w == "-J" {
                self.proxy = Some("ProxyJump".into());
                i += 1;
            }
            i += 1;
        }
    }
}

/// Splits ssh arguments into words, honouring single and double quotes.
fn split_words(s: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut any = false;
    for c in s.chars() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => cur.push(c),
            None if c == '\'' || c == '"' => {
                quote = Some(c);
                any = true;
            }
            None if c.is_whitespace() => {
                if any || !cur.is_empty() {
                    words.push(std::mem::take(&mut cur));
                }
                any = false;
            }
            None => cur.push(c),
        }
    }
    if any || !cur.is_empty() {
        words.push(cur);
    }
    words
}

fn home() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/"))
}

fn expand(path: &str) -> PathBuf {
    match path.strip_prefix("~/") {
        Some(rest) => home().join(rest),
        None => PathBuf::from(path),
    }
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
    what: String,
    /// Exec channels open at once for the channel-per-command fallback:
    /// sshd allows 10 sessions per connection (MaxSessions), and the
    /// persistent shells need some of them.
    channels: tokio::sync::Semaphore,
}

const FALLBACK_CHANNELS: usize = 6;

/// Handshakes in flight per server.
const HANDSHAKES_PER_SERVER: usize = 8;

type Gates = StdMutex<std::collections::HashMap<String, Arc<tokio::sync::Semaphore>>>;

fn handshake_gate(address: &str, port: u16) -> Arc<tokio::sync::Semaphore> {
    static GATES: std::sync::OnceLock<Gates> = std::sync::OnceLock::new();
    let gates = GATES.get_or_init(Default::default);
    match gates.lock() {
        Ok(mut g) => g
            .entry(format!("{address}:{port}"))
            .or_insert_with(|| Arc::new(tokio::sync::Semaphore::new(HANDSHAKES_PER_SERVER)))
            .clone(),
        // A poisoned map only loses the sharing, not correctness.
        Err(_) => Arc::new(tokio::sync::Semaphore::new(HANDSHAKES_PER_SERVER)),
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

impl SshConnection {
    /// Connects and authenticates, all within the connect timeout.
    pub async fn open(
        settings: &ConnectionSettings,
        options: &Options,
    ) -> Result<SshConnection, HostError> {
        let mut cfg = SshConfig::default();
        for args in [&settings.ssh_common_args, &settings.ssh_extra_args]
            .into_iter()
            .flatten()
        {
            cfg.parse_args(args, &settings.host);
        }
        let config_file = options
            .ssh_config_file
            .clone()
            .unwrap_or_else(|| home().join(".ssh/config"));
        if let Ok(text) = std::fs::read_to_string(&config_file) {
            cfg.parse_into(&text, &settings.host);
        }
        if let Some(p) = &cfg.proxy {
            return Err(HostError::unreachable(format!(
                "{p} is not supported by herd's ssh connection (host {})",
                settings.host
            )));
        }
        let address = cfg
            .host_name
            .clone()
            .unwrap_or_else(|| settings.host.clone());
        let port = settings.port.or(cfg.port).unwrap_or(22);
        let user = settings
            .remote_user
            .clone()
            .or(cfg.user.clone())
            .or_else(|| std::env::var("USER").ok())
            .unwrap_or_else(|| "root".into());
        let what = format!("{user}@{address}:{port}");
        let secs = match settings.timeout {
            0 => cfg.connect_timeout.unwrap_or(10),
            t => t,
        };
        let files: Vec<PathBuf> = if cfg.known_hosts_files.is_empty() {
            let mut v = vec![
                home().join(".ssh/known_hosts"),
                home().join(".ssh/known_hosts2"),
            ];
            v.push(PathBuf::from("/etc/ssh/ssh_known_hosts"));
            v
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
        let config = Arc::new(client::Config {
            nodelay: true,
            keepalive_interval: Some(Duration::from_secs(15)),
            keepalive_max: 3,
            ..client::Config::default()
        });
        raise_nofile_limit();
        // sshd drops unauthenticated connections beyond MaxStartups
        // (10 by default): few handshakes at a time per server, and a
        // dropped one is retried after a pause.
        let gate = handshake_gate(&address, port);
        let permit = gate.acquire().await.map_err(|_| {
            HostError::unreachable(format!("Failed to connect to the host via ssh: {what}"))
        })?;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
        let mut pause = Duration::from_millis(100);
        let handle = loop {
            let refusal = Arc::new(StdMutex::new(None));
            let handler = Client {
                host: address.clone(),
                port,
                files: files.clone(),
                unknown,
                refusal: refusal.clone(),
            };
            let attempt = async {
                let tcp = TcpStream::connect((address.as_str(), port))
                    .await
                    .map_err(|e| {
                        (
                            HostError::unreachable(format!(
                                "Failed to connect to the host via ssh: {what}: {e}"
                            )),
                            false,
                        )
                    })?;
                let _ = tcp.set_nodelay(true);
                let mut handle = client::connect_stream(config.clone(), QuickAck(tcp), handler)
                    .await
                    .map_err(|e| {
                        let why = refusal.lock().ok().and_then(|r| r.clone());
                        match why {
                            Some(why) => (
                                HostError::unreachable(format!(
                                    "Host key verification failed for {what}: {why}"
                                )),
                                false,
                            ),
                            None => (
                                HostError::unreachable(format!(
                                    "Failed to connect to the host via ssh: {what}: {e}"
                                )),
                                true,
                            ),
                        }
                    })?;
                authenticate(&mut handle, &user, settings, &cfg, &what)
                    .await
                    .map_err(|e| (e, false))?;
                Ok::<_, (HostError, bool)>(handle)
            };
            match tokio::time::timeout_at(deadline, attempt).await {
                Ok(Ok(h)) => break h,
                Ok(Err((e, retry))) => {
                    if !retry || tokio::time::Instant::now() + pause >= deadline {
                        return Err(e);
                    }
                    tokio::time::sleep(pause).await;
                    pause *= 2;
                }
                Err(_) => {
                    return Err(HostError::unreachable(format!(
                        "Failed to connect to the host via ssh: {what}: timed out after {secs}s"
                    )))
                }
            }
        };
        drop(permit);
        Ok(SshConnection {
            handle,
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
    user: &str,
    settings: &ConnectionSettings,
    cfg: &SshConfig,
    what: &str,
) -> Result<(), HostError> {
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
    let explicit: Vec<String> = settings
        .private_key_file
        .iter()
        .cloned()
        .chain(cfg.identity_files.iter().cloned())
        .collect();
    let key_files: Vec<PathBuf> = if explicit.is_empty() {
        ["id_ed25519", "id_ecdsa", "id_rsa"]
            .iter()
            .map(|n| home().join(".ssh").join(n))
            .filter(|p| p.exists())
            .collect()
    } else {
        explicit.iter().map(|f| expand(f)).collect()
    };

    // The agent first, as OpenSSH does, unless a key file was named.
    if explicit.is_empty() {
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
            Err(russh::keys::Error::KeyIsEncrypted) => match &settings.password {
                Some(pass) => match russh::keys::load_secret_key(path, Some(pass)) {
                    Ok(k) => k,
                    Err(e) => {
                        notes.push(format!(
                            "{}: could not decrypt with the given passphrase: {e}",
                            path.display()
                        ));
                        continue;
                    }
                },
                None => {
                    notes.push(format!(
                        "{} is encrypted: give its passphrase (ansible_password) or add it to ssh-agent",
                        path.display()
                    ));
                    continue;
                }
            },
            Err(e) => {
                if !explicit.is_empty() {
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
        let (line, prompt, ready) = shell::start_line(self.become_.as_ref(), &self.shell_exe, pty)?;
        let (input, events) = self.conn.start(&line, pty).await?;
        Shell::handshake(
            input,
            events,
            self.become_.as_ref(),
            &prompt,
            &ready,
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
        // A become method that needs a terminal always uses the
        // persistent shell, where the pty serves only to authenticate.
        if !self.persistent && !self.become_.as_ref().is_some_and(|b| b.needs_pty()) {
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
}

/// Settings parsed per host, for tests and diagnostics.
pub fn resolve_config(text: &str, host: &str) -> SshConfig {
    let mut c = SshConfig::default();
    c.parse_into(text, host);
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ssh_config_blocks() {
        let text = "Host web*\n  HostName %h.example.com\n  User deploy\n  Port 2222\n\
                    Host *\n  User other\n  IdentityFile ~/.ssh/k\n  StrictHostKeyChecking accept-new\n\
                    Match all\n  User nobody\n";
        let c = resolve_config(text, "web1");
        assert_eq!(c.host_name.as_deref(), Some("web1.example.com"));
        assert_eq!(c.user.as_deref(), Some("deploy"));
        assert_eq!(c.port, Some(2222));
        assert_eq!(c.identity_files, vec!["~/.ssh/k".to_string()]);
        assert_eq!(c.strict_host_key_checking.as_deref(), Some("accept-new"));
        let c = resolve_config(text, "db");
        assert_eq!(c.user.as_deref(), Some("other"));
        assert_eq!(c.host_name, None);
    }

    #[test]
    fn ssh_args() {
        let mut c = SshConfig::default();
        c.parse_args(
            "-o StrictHostKeyChecking=no -o 'UserKnownHostsFile=/dev/null' -p 2200",
            "h",
        );
        assert_eq!(c.strict_host_key_checking.as_deref(), Some("no"));
        assert_eq!(c.known_hosts_files, vec!["/dev/null".to_string()]);
        assert_eq!(c.port, Some(2200));
        let mut c = SshConfig::default();
        c.parse_args("-o ProxyJump=bastion", "h");
        assert!(c.proxy.is_some());
    }
}
