//! The floor herd's benchmark is measured against: the least a client
//! can do to run the same commands over SSH, with no engine at all.
//!
//! One SSH connection per host, all hosts at once (handshakes limited by
//! `--max-handshakes` so sshd's `MaxStartups` is not exceeded), one exec
//! channel per host running `/bin/sh`, and every command sent over that
//! one persistent shell, framed so the client knows when it finished:
//!
//! ```text
//! { CMD
//! } </dev/null; printf '\n%s %d\n' NONCE $?
//! ```
//!
//! stdout is read until the `NONCE STATUS` line; stdin is /dev/null so a
//! command cannot eat the next one. Then the shell is closed and the
//! connection dropped. Uses the same russh as herd, with the transport
//! settings herd needs (`nodelay`, `TCP_QUICKACK` re-armed after each
//! read, herd's key exchange order), so the gap between herd and this
//! program is herd's own cost.
//!
//! ```text
//! ssh_floor --port P --user U --key PATH --hosts N [--address 127.0.0.1]
//!           [--commands FILE | --trivial K] [--max-handshakes M]
//! ```
//!
//! With `--commands FILE`, each non-empty line of FILE is one command in
//! which `{host}` becomes the host's name (`h0001`, `h0002`, …); with
//! `--trivial K`, K commands `true`. On success it prints
//! `hosts=N commands=K wall=S.SSS` and nothing else on stdout; any failed
//! connection or command exiting non-zero is reported on stderr (naming
//! the host and the command) and the exit status is 1.

use std::path::PathBuf;
use std::pin::Pin;
use std::process::ExitCode;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use clap::Parser;
use russh::client;
use russh::keys::{HashAlg, PrivateKey, PrivateKeyWithHashAlg, PublicKeyOrCertificate};
use russh::ChannelMsg;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;

/// Runs the same commands on N simulated hosts over one persistent shell
/// each: the transport floor herd is measured against.
#[derive(Parser, Debug)]
#[command(name = "ssh_floor")]
struct Args {
    /// The sshd port every host points at.
    #[arg(long)]
    port: u16,
    /// The user to log in as.
    #[arg(long)]
    user: String,
    /// The private key file to log in with (unencrypted).
    #[arg(long)]
    key: PathBuf,
    /// How many hosts (connections) to simulate.
    #[arg(long)]
    hosts: usize,
    /// The address every host connects to.
    #[arg(long, default_value = "127.0.0.1")]
    address: String,
    /// A file of commands, one per non-empty line; `{host}` is replaced by
    /// the host's name.
    #[arg(long, conflicts_with = "trivial")]
    commands: Option<PathBuf>,
    /// Run K commands `true` per host instead of a commands file.
    #[arg(long)]
    trivial: Option<usize>,
    /// How many SSH handshakes may be in progress at once.
    #[arg(long, default_value_t = 32)]
    max_handshakes: usize,
}

/// A TCP stream that re-arms TCP_QUICKACK after each read: Linux falls
/// back to delayed ACKs, which stalls the first request of a channel by
/// about 40 ms.
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
            // SAFETY: setsockopt on our own open socket, with a valid int
            // and its size; a failure only loses the optimisation.
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

/// Accepts any server key without checking it: this program only ever
/// talks to a benchmark sshd on loopback, never to a real host.
struct AcceptAnyKey;

impl client::Handler for AcceptAnyKey {
    type Error = russh::Error;

    async fn check_server_key(&mut self, _: &PublicKeyOrCertificate) -> Result<bool, Self::Error> {
        Ok(true)
    }
}

/// What every host task shares.
struct Plan {
    address: String,
    port: u16,
    user: String,
    key: Arc<PrivateKey>,
    /// Commands with `{host}` still in them.
    commands: Vec<String>,
    /// Ends each command's output; random per run so no command prints it.
    nonce: String,
    config: Arc<client::Config>,
    handshakes: Semaphore,
}

/// How many times a handshake that sshd dropped (MaxStartups, a reset
/// under load) is tried before the host counts as failed.
const HANDSHAKE_ATTEMPTS: u32 = 5;

fn host_name(i: usize) -> String {
    format!("h{:04}", i + 1)
}

/// Raises the soft open-file limit to the hard one: a thousand hosts
/// need a thousand sockets.
fn raise_nofile_limit() {
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
}

/// Connects and logs in, holding a handshake permit meanwhile; retries a
/// handshake sshd dropped, with backoff. Returns the handle and how many
/// retries it took.
async fn connect(plan: &Plan) -> Result<(client::Handle<AcceptAnyKey>, u32), String> {
    let _permit = plan
        .handshakes
        .acquire()
        .await
        .map_err(|e| format!("handshake limit: {e}"))?;
    let mut attempt = 0;
    let mut handle = loop {
        attempt += 1;
        let tried = async {
            let tcp = TcpStream::connect((plan.address.as_str(), plan.port))
                .await
                .map_err(|e| format!("connect to {}:{}: {e}", plan.address, plan.port))?;
            tcp.set_nodelay(true)
                .map_err(|e| format!("set TCP_NODELAY: {e}"))?;
            client::connect_stream(plan.config.clone(), QuickAck(tcp), AcceptAnyKey)
                .await
                .map_err(|e| format!("ssh handshake: {e}"))
        };
        match tried.await {
            Ok(h) => break h,
            Err(e) if attempt >= HANDSHAKE_ATTEMPTS => {
                return Err(format!("{e} (after {attempt} attempts)"))
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(25 << attempt)).await,
        }
    };
    let hash = if plan.key.algorithm().is_rsa() {
        handle
            .best_supported_rsa_hash()
            .await
            .ok()
            .flatten()
            .flatten()
            .or(Some(HashAlg::Sha512))
    } else {
        None
    };
    let auth = handle
        .authenticate_publickey(
            plan.user.clone(),
            PrivateKeyWithHashAlg::new(plan.key.clone(), hash),
        )
        .await
        .map_err(|e| format!("authentication: {e}"))?;
    if !auth.success() {
        return Err(format!("the server refused the key for user {}", plan.user));
    }
    Ok((handle, attempt - 1))
}

/// Finds `\nNONCE STATUS\n` in `out`; returns the status and where the
/// output after the marker starts.
fn find_marker(out: &[u8], marker: &[u8]) -> Option<Result<(i32, usize), String>> {
    let at = out.windows(marker.len()).position(|w| w == marker)?;
    let rest = &out[at + marker.len()..];
    let end = rest.iter().position(|&b| b == b'\n')?;
    let status = std::str::from_utf8(&rest[..end])
        .ok()
        .and_then(|s| s.parse::<i32>().ok())
        .ok_or_else(|| "the shell printed a malformed end marker".to_string());
    Some(status.map(|s| (s, at + marker.len() + end + 1)))
}

/// Runs every command on one host over one persistent shell; returns the
/// number of handshake retries.
async fn run_host(plan: Arc<Plan>, host: String) -> Result<u32, String> {
    let (handle, retries) = connect(&plan).await?;
    let mut channel = handle
        .channel_open_session()
        .await
        .map_err(|e| format!("open a session: {e}"))?;
    channel
        .exec(true, "/bin/sh")
        .await
        .map_err(|e| format!("start /bin/sh: {e}"))?;
    let marker = format!("\n{} ", plan.nonce).into_bytes();
    let mut stdout: Vec<u8> = Vec::new();
    let mut stderr: Vec<u8> = Vec::new();
    for template in &plan.commands {
        let command = template.replace("{host}", &host);
        // The newline before `}` ends a trailing comment or `&`.
        let framed = format!(
            "{{ {command}\n}} </dev/null; printf '\\n%s %d\\n' {} $?\n",
            plan.nonce
        );
        channel
            .data(framed.as_bytes())
            .await
            .map_err(|e| format!("send `{command}`: {e}"))?;
        let status = loop {
            if let Some(found) = find_marker(&stdout, &marker) {
                let (status, next) = found.map_err(|e| format!("`{command}`: {e}"))?;
                stdout.drain(..next);
                break status;
            }
            match channel.wait().await {
                Some(ChannelMsg::Data { data }) => stdout.extend_from_slice(&data),
                Some(ChannelMsg::ExtendedData { data, .. }) => stderr.extend_from_slice(&data),
                Some(ChannelMsg::ExitStatus { exit_status }) => {
                    return Err(format!(
                        "the shell exited ({exit_status}) during `{command}`"
                    ))
                }
                Some(ChannelMsg::ExitSignal { signal_name, .. }) => {
                    return Err(format!(
                        "the shell was killed by SIG{signal_name:?} during `{command}`"
                    ))
                }
                Some(_) => {}
                None => return Err(format!("the channel closed during `{command}`")),
            }
        };
        if status != 0 {
            return Err(format!(
                "command `{command}` exited with status {status}: {}",
                String::from_utf8_lossy(&stderr).trim_end()
            ));
        }
        stderr.clear();
    }
    channel
        .eof()
        .await
        .map_err(|e| format!("close the shell: {e}"))?;
    // Read until Close: data can follow the exit status.
    while let Some(msg) = channel.wait().await {
        if let ChannelMsg::ExitStatus { exit_status } = msg {
            if exit_status != 0 {
                return Err(format!("the shell exited with status {exit_status}"));
            }
        }
    }
    handle
        .disconnect(russh::Disconnect::ByApplication, "", "en")
        .await
        .map_err(|e| format!("disconnect: {e}"))?;
    Ok(retries)
}

fn load_commands(args: &Args) -> Result<Vec<String>, String> {
    match (&args.commands, args.trivial) {
        (Some(path), _) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("read {}: {e}", path.display()))?;
            Ok(text
                .lines()
                .filter(|l| !l.trim().is_empty())
                .map(str::to_string)
                .collect())
        }
        (None, Some(k)) => Ok(vec!["true".to_string(); k]),
        (None, None) => Err("give --commands FILE or --trivial K".into()),
    }
}

async fn run(args: Args) -> Result<(), String> {
    let commands = load_commands(&args)?;
    let key = russh::keys::load_secret_key(&args.key, None)
        .map_err(|e| format!("load the key {}: {e}", args.key.display()))?;
    raise_nofile_limit();
    let config = Arc::new(client::Config {
        // russh defaults to Nagle's algorithm, ~44 ms per command.
        nodelay: true,
        // herd's key exchange order: the same transport.
        preferred: herd::connection::ssh::preferred(),
        ..client::Config::default()
    });
    let plan = Arc::new(Plan {
        address: args.address.clone(),
        port: args.port,
        user: args.user.clone(),
        key: Arc::new(key),
        commands,
        nonce: format!("herd-floor-{:016x}", rand::random::<u64>()),
        config,
        handshakes: Semaphore::new(args.max_handshakes.max(1)),
    });

    let start = Instant::now();
    let tasks: Vec<_> = (0..args.hosts)
        .map(|i| {
            let host = host_name(i);
            let task = tokio::spawn(run_host(plan.clone(), host.clone()));
            (host, task)
        })
        .collect();
    let mut failures = Vec::new();
    let mut retries = 0;
    for (host, task) in tasks {
        match task.await {
            Ok(Ok(r)) => retries += r,
            Ok(Err(e)) => failures.push(format!("{host}: {e}")),
            Err(e) => failures.push(format!("{host}: the task failed: {e}")),
        }
    }
    let wall = start.elapsed();
    if retries > 0 {
        eprintln!("note: {retries} handshakes were retried");
    }
    if !failures.is_empty() {
        return Err(failures.join("\n"));
    }
    println!(
        "hosts={} commands={} wall={:.3}",
        args.hosts,
        plan.commands.len(),
        wall.as_secs_f64()
    );
    Ok(())
}

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("ssh_floor: tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ssh_floor: {e}");
            ExitCode::FAILURE
        }
    }
}
