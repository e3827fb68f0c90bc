//! The persistent remote shell: one `/bin/sh` per host and become user
//! that runs every command of the run, so a task costs one round trip
//! instead of a new session (and login shell start-up) each time.
//!
//! The shell reads its commands from the channel like a script, so the
//! shell's own parser takes a request in blocks. Framing, one request at
//! a time: a call `herd_q NONCE M T F N SCRIPT` of a function defined
//! when the shell starts ([`prelude`]), the script quoted in the line or,
//! when big, N bytes sent after the driver's `NONCE go`, then M bytes of
//! standard input (M = -1: none), read with `head -c` into files of its
//! private temporary directory (`head -c` never reads past what it
//! needs, so a command can never eat the next one). A command runs in a
//! subshell, in its own session (`setsid`) when it has a timeout, so the
//! whole process group can be killed; stdout ends with
//! `NONCE RC TIMEDOUT` and stderr with `NONCE`. `cd`, `export` and `exit`
//! cannot leak into or end the session; background children are not
//! waited for. herd's own small requests (stat, read, checksum) run in
//! the driver itself, with no fork.
//!
//! Commands see the session's private temporary directory as
//! `HERD_TMPDIR`; it is made when first needed (standard input, a big
//! script, a timeout, a pty) and removed when the session ends.
//!
//! The same code drives a shell over an SSH channel and a local child
//! process (local become): the transport only delivers output events and
//! takes input bytes.

use std::time::Duration;

use herd_modules::api::{
    shell_quote, ExecOptions, ExecResult, FileStat, HostError, Source, StatElse, STAT_FORMAT,
};
use rand::Rng;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

use super::become_::{judge_stderr, judge_su, Become, PromptState};
use super::transfer::{self, Fill};

/// Output of the shell's transport.
#[derive(Debug)]
pub enum Event {
    Stdout(Vec<u8>),
    Stderr(Vec<u8>),
    /// The remote command exited with this status (negative: signal).
    Exited(i32),
    /// The transport ended (the channel closed, the process exited).
    Closed,
}

/// A random hex token, unguessable by the commands we run.
pub fn nonce() -> String {
    let mut rng = rand::thread_rng();
    (0..16)
        .map(|_| format!("{:02x}", rng.gen::<u8>()))
        .collect()
}

/// The umask the driver printed after [`UMASK_MARK`] in `out` (what came
/// before its ready marker): four octal digits at most, or `None`.
fn session_umask(out: &[u8]) -> Option<String> {
    let at = find(out, UMASK_MARK.as_bytes(), 0)? + UMASK_MARK.len();
    let word: String = String::from_utf8_lossy(&out[at..])
        .chars()
        .take_while(|c| !c.is_whitespace())
        .collect();
    (!word.is_empty() && word.len() <= 4 && word.chars().all(|c| ('0'..='7').contains(&c)))
        .then_some(word)
}

/// Scripts up to this size travel quoted in the request line; larger
/// ones (and any holding a NUL byte) go through a file, which also avoids
/// the kernel's 128 KiB limit on one argument.
const INLINE_MAX: usize = 64 * 1024;

/// The shell variables and functions of the driver, unset before a
/// command runs so it sees what a fresh `sh -c` would. `o p x z` are the
/// scratch variables of herd's own requests, which run in the driver.
const DRIVER_NAMES: &str =
    "herd_k herd_m herd_t herd_f herd_n herd_s herd_i herd_r herd_x herd_p herd_w herd_z D o p x z";

/// The driver's definitions, sent as the first input of the reading
/// shell. Each request is then one call `herd_q K M T F N SCRIPT`:
/// nonce, input length (-1: none), timeout (0: none), F = 1 for herd's
/// own requests (run in the driver itself: no fork; they `return`, never
/// `exit`, and leave only `o p z` behind), N = -1 with the script quoted
/// in SCRIPT, or N bytes of script to read from the input.
///
/// The reading shell parses its input in blocks (dash, BusyBox ash) or
/// byte by byte (bash), so a request line is never read one byte per
/// system call by the `read` builtin. Bytes after a request line would be
/// taken by that parser, so a request that carries a script or input
/// bytes prints `K go` first, and only then are those bytes sent (read
/// with `head -c`, which never reads past them). A user command runs in a
/// subshell (`herd_e`: `eval` in a fork, no exec), so `cd`, `export` and
/// `exit` cannot leak into or end the session; herd's own requests run a
/// command the same way. With a timeout it runs under `setsid` so its
/// whole process group can be killed.
fn prelude(tmp: &str, shell: &str, merged: bool) -> String {
    let sh = shell_quote(shell);
    // On a pty (su) stdout and stderr are one stream: the command's
    // stderr goes to a file, sent after the stdout marker.
    let (err, flush) = if merged {
        (
            " 2>\"$D/e\"",
            "cat \"$D/e\" 2>/dev/null; : >\"$D/e\"; printf '%s\\n' \"$herd_k\"",
        )
    } else {
        ("", "printf '%s\\n' \"$herd_k\" >&2")
    };
    let posix = matches!(shell, "/bin/sh" | "sh");
    let plain = if posix {
        // The script is the subshell's one positional parameter, shifted
        // away by the code eval runs, so the command sees no trace of
        // the driver.
        format!(
            "( set -- \"$1\"; unset {DRIVER_NAMES}; unset -f herd_md herd_q herd_o herd_e; eval \"shift\n$1\" )"
        )
    } else {
        format!("{sh} -c \"$1\"")
    };
    // The private temporary directory is made when first needed (a big
    // script, standard input, a timeout, a pty's stderr), so a session of
    // small commands starts and ends no process for it. Its name holds a
    // random token and `mkdir` fails on an existing path, so nobody can
    // have prepared it.
    let make = if merged { "herd_md\n" } else { "" };
    format!(
        "D=\"${{TMPDIR:-/tmp}}/.herd-{tmp}\"\n\
         herd_md() {{ [ -d \"$D\" ] || ( umask 077 && mkdir -- \"$D\" ) || exit 97; }}\n\
         {make}\
         export HERD_TMPDIR=\"$D\"\n\
         trap '[ -d \"$D\" ] && rm -rf \"$D\"' EXIT\n\
         trap 'exit 1' HUP TERM\n\
         command -v setsid >/dev/null 2>&1 || setsid() {{ \"$@\"; }}\n\
         herd_o() {{ eval \"$1\"; }}\n\
         herd_e() {{ {plain}; }}\n\
         herd_q() {{\n\
         herd_k=$1 herd_m=$2 herd_t=$3 herd_f=$4 herd_n=$5 herd_s=$6\n\
         if [ \"$herd_n\" -ge 0 ] || [ \"$herd_m\" -ge 0 ]; then herd_md; printf '%s go\\n' \"$herd_k\"; fi\n\
         [ \"$herd_n\" -ge 0 ] && head -c \"$herd_n\" >\"$D/s\"\n\
         herd_i=/dev/null; if [ \"$herd_m\" -ge 0 ]; then head -c \"$herd_m\" >\"$D/i\"; herd_i=\"$D/i\"; fi\n\
         herd_x=0\n\
         if [ \"$herd_t\" -gt 0 ]; then herd_md\n\
         if [ \"$herd_n\" -lt 0 ]; then setsid {sh} -c \"$herd_s\" <\"$herd_i\"{err} & herd_p=$!; else setsid {sh} \"$D/s\" <\"$herd_i\"{err} & herd_p=$!; fi\n\
         ( trap 'kill $herd_z 2>/dev/null; exit 0' TERM; sleep \"$herd_t\" & herd_z=$!; wait $herd_z; : >\"$D/t\"; kill -9 -$herd_p 2>/dev/null ) & herd_w=$!\n\
         wait $herd_p; herd_r=$?; kill $herd_w 2>/dev/null; wait $herd_w; [ -e \"$D/t\" ] && {{ herd_x=124; rm -f \"$D/t\"; }}\n\
         elif [ \"$herd_n\" -ge 0 ]; then {sh} \"$D/s\" <\"$herd_i\"{err}; herd_r=$?\n\
         elif [ \"$herd_f\" = 1 ]; then herd_o \"$herd_s\" <\"$herd_i\"{err}; herd_r=$?\n\
         else herd_e \"$herd_s\" <\"$herd_i\"{err}; herd_r=$?; fi\n\
         [ \"$herd_m\" -ge 0 ] && : >\"$D/i\"\n\
         printf '%s %s %s\\n' \"$herd_k\" \"$herd_r\" \"$herd_x\"; {flush}\n\
         }}\n"
    )
}

/// How to start a driver shell: the command line (through become when
/// asked), the become prompt to wait for, the marker the shell prints
/// when it is running, and the definitions to send it: before that
/// marker when `early` (nothing else reads the input first; the
/// definitions then print the marker), else once it is seen.
pub struct Start {
    pub line: String,
    pub prompt: String,
    pub ready: String,
    pub prelude: String,
    pub early: bool,
}

/// The command line that starts the driver: a shell reading its
/// commands from the input. Without become or pty it is started at once
/// and its first input prints the ready marker. Through become, a shell
/// prints the marker once the password was taken, then starts the
/// reading shell. On a pty the terminal is made raw first (bytes pass
/// unchanged, nothing is echoed) and the reading shell takes its input
/// through a pipe, so it is not interactive.
pub fn start_line(become_: Option<&Become>, shell: &str, pty: bool) -> Result<Start, HostError> {
    let ready = format!("herd-ready-{}", nonce());
    let prompt = format!("[herd sudo password {}]: ", nonce());
    let mut prelude = prelude(&nonce(), shell, pty);
    let inner = if pty {
        format!("stty raw -echo 2>/dev/null; printf '%s\\n' {ready}; cat | /bin/sh -s")
    } else {
        format!("printf '%s\\n' {ready}; exec /bin/sh -s")
    };
    let early = become_.is_none() && !pty;
    let line = match become_ {
        Some(b) => format!("exec {}", b.wrap(&inner, &prompt)?),
        // `exec /bin/sh` first: the login shell may not be POSIX.
        None if early => {
            // The session's umask, for herd's own writes (see
            // `Shell::write`): the builtin prints it, no fork.
            prelude.push_str(&format!(
                "printf '{UMASK_MARK}'; umask\nprintf '%s\\n' {ready}\n"
            ));
            "exec /bin/sh -s".to_string()
        }
        None => format!("exec /bin/sh -c {}", shell_quote(&inner)),
    };
    Ok(Start {
        line,
        prompt,
        ready,
        prelude,
        early,
    })
}

/// One running driver shell.
pub struct Shell {
    input: Box<dyn AsyncWrite + Send + Unpin>,
    events: mpsc::UnboundedReceiver<Event>,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    closed: bool,
    what: String,
    /// stdout and stderr share one stream (a pty): stderr follows the
    /// stdout marker.
    merged: bool,
    /// The session's umask as the driver printed it when it started
    /// (without become or pty): herd's own writes set it back.
    umask: Option<String>,
}

/// What the driver prints before its umask when it starts.
const UMASK_MARK: &str = "herd-umask ";

/// How a command ended.
pub struct Finished {
    pub result: ExecResult,
    pub timed_out: bool,
}

impl Shell {
    /// Waits for a freshly started driver to report ready, typing the
    /// become password when its prompt appears. `what` names the host in
    /// errors; `limit` bounds the wait; `pty` says the transport is a
    /// terminal (stdout and stderr merged).
    #[allow(clippy::too_many_arguments)] // each is a distinct part of starting a shell
    pub async fn handshake(
        input: Box<dyn AsyncWrite + Send + Unpin>,
        events: mpsc::UnboundedReceiver<Event>,
        become_: Option<&Become>,
        start: &Start,
        limit: Duration,
        what: &str,
        pty: bool,
    ) -> Result<Shell, HostError> {
        let mut shell = Shell {
            input,
            events,
            stdout: Vec::new(),
            stderr: Vec::new(),
            closed: false,
            what: what.to_string(),
            merged: pty,
            umask: None,
        };
        let (prompt, marker) = (start.prompt.as_str(), format!("{}\n", start.ready));
        if start.early {
            shell.send(start.prelude.as_bytes()).await?;
        }
        let password = become_.and_then(|b| b.password.clone());
        let mut sent = false;
        let wait = async {
            loop {
                if let Some(pos) = find(&shell.stdout, marker.as_bytes(), 0) {
                    shell.umask = session_umask(&shell.stdout[..pos]);
                    shell.stdout.drain(..pos + marker.len());
                    shell.stderr.clear();
                    return Ok(());
                }
                if become_.is_some() {
                    let seen = if shell.merged {
                        &shell.stdout
                    } else {
                        &shell.stderr
                    };
                    let verdict = if become_.is_some_and(|b| b.method == "su") {
                        judge_su(seen, sent)
                    } else {
                        judge_stderr(seen, prompt, sent, password.is_some())
                    };
                    match verdict {
                        PromptState::Waiting => {}
                        PromptState::Failed(msg) => return Err(HostError::failed(msg)),
                        PromptState::Prompted => match &password {
                            Some(pw) => {
                                let line = format!("{pw}\n");
                                shell.send(line.as_bytes()).await?;
                                sent = true;
                                if shell.merged {
                                    // Judge only what comes after the password.
                                    shell.stdout.clear();
                                }
                            }
                            None => {
                                return Err(HostError::failed(
                                    "Missing become password: sudo asked for a password (set ansible_become_password)",
                                ))
                            }
                        },
                    }
                }
                if !shell.pump().await {
                    let seen = if shell.merged {
                        &shell.stdout
                    } else {
                        &shell.stderr
                    };
                    let err = String::from_utf8_lossy(seen).trim().to_string();
                    return Err(if become_.is_some() {
                        HostError::failed(format!(
                            "privilege escalation failed on {what}: {}",
                            if err.is_empty() {
                                "the shell ended"
                            } else {
                                &err
                            }
                        ))
                    } else {
                        HostError::unreachable(format!(
                            "could not start a shell on {what}: {}",
                            if err.is_empty() {
                                "the shell ended"
                            } else {
                                &err
                            }
                        ))
                    });
                }
            }
        };
        let outcome = tokio::time::timeout(limit, wait).await;
        if !matches!(outcome, Ok(Ok(()))) {
            // End input so a sudo still waiting for a password exits and
            // the channel (one of sshd's MaxSessions) is released.
            let _ = shell.input.shutdown().await;
        }
        match outcome {
            Ok(Ok(())) => {
                if !start.early {
                    shell.send(start.prelude.as_bytes()).await?;
                }
                Ok(shell)
            }
            Ok(Err(e)) => Err(e),
            Err(_) => Err(HostError::failed(format!(
                "timed out after {}s waiting for the shell{} on {what}",
                limit.as_secs(),
                if become_.is_some() {
                    " (privilege escalation prompt)"
                } else {
                    ""
                }
            ))),
        }
    }

    /// Whether the transport has ended.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    async fn send(&mut self, data: &[u8]) -> Result<(), HostError> {
        let r = async {
            self.input.write_all(data).await?;
            self.input.flush().await
        }
        .await;
        r.map_err(|e| {
            self.closed = true;
            HostError::unreachable(format!("lost the connection to {}: {e}", self.what))
        })
    }

    /// Takes one event into the buffers; false once the transport ended.
    async fn pump(&mut self) -> bool {
        if self.closed {
            return false;
        }
        match self.events.recv().await {
            Some(Event::Stdout(d)) => self.stdout.extend_from_slice(&d),
            Some(Event::Stderr(d)) => self.stderr.extend_from_slice(&d),
            Some(Event::Exited(_)) => {}
            Some(Event::Closed) | None => {
                self.closed = true;
                return false;
            }
        }
        true
    }

    /// Runs one user script with its own standard input, in a subshell.
    pub async fn run(
        &mut self,
        script: &str,
        stdin: Option<&[u8]>,
        timeout: Option<u64>,
    ) -> Result<Finished, HostError> {
        self.run_bytes(script, stdin, timeout, false).await
    }

    /// [`Shell::run_with`] with standard input from memory.
    async fn run_bytes(
        &mut self,
        script: &str,
        stdin: Option<&[u8]>,
        timeout: Option<u64>,
        own: bool,
    ) -> Result<Finished, HostError> {
        match stdin {
            Some(data) => {
                let mut reader = data;
                let len = data.len() as u64;
                self.run_with(script, Some((&mut reader, len)), timeout, own)
                    .await
            }
            None => self.run_with(script, None, timeout, own).await,
        }
    }

    /// Runs one of herd's own scripts in the driver itself (no fork): it
    /// ends with `return`, never `exit` or `exec`, and sets no variable
    /// but `o p x z`.
    async fn run_own(&mut self, script: &str) -> Result<ExecResult, HostError> {
        Ok(self.run_with(script, None, None, true).await?.result)
    }

    /// Runs one script whose standard input (of the given length) is
    /// read from a reader and sent in chunks of [`transfer::CHUNK`]
    /// bytes. A reader that ends early (or fails) cannot complete the
    /// request: the shell's input is closed, so the script sees a short
    /// input, and the shell is given up. `own` runs the script in the
    /// driver (see [`Shell::run_own`]).
    pub async fn run_with(
        &mut self,
        script: &str,
        stdin: Option<(&mut (dyn AsyncRead + Send + Unpin), u64)>,
        timeout: Option<u64>,
        own: bool,
    ) -> Result<Finished, HostError> {
        if self.closed {
            return Err(self.lost());
        }
        let k = nonce();
        // Leftovers of a background child of an earlier command.
        self.stdout.clear();
        self.stderr.clear();
        // A word cannot carry a NUL byte.
        let inline = script.len() <= INLINE_MAX && !script.contains('\0');
        let request = format!(
            "herd_q {k} {} {} {} {} {}\n",
            stdin.as_ref().map(|(_, len)| *len as i64).unwrap_or(-1),
            timeout.unwrap_or(0),
            u8::from(own),
            if inline { -1 } else { script.len() as i64 },
            if inline {
                shell_quote(script)
            } else {
                "''".into()
            },
        );
        self.send(request.as_bytes()).await?;
        if !inline || stdin.is_some() {
            // The driver's parser must not see these bytes: they follow
            // its `go`.
            let go = format!("{k} go\n");
            loop {
                if let Some(pos) = find(&self.stdout, go.as_bytes(), 0) {
                    self.stdout.drain(..pos + go.len());
                    break;
                }
                if !self.pump().await {
                    return Err(self.lost());
                }
            }
            if !inline {
                self.send(script.as_bytes()).await?;
            }
        }
        let mut cut_short = None;
        if let Some((reader, len)) = stdin {
            // In chunks, so the transport's flow control paces a big
            // payload and only one chunk is held at a time.
            let mut buf = vec![0u8; (len as usize).min(transfer::CHUNK)];
            let mut left = len;
            while left > 0 {
                let want = (left as usize).min(buf.len());
                match reader.read(&mut buf[..want]).await {
                    Ok(0) => {
                        cut_short = Some(format!("the input ended {left} bytes early"));
                        break;
                    }
                    Ok(n) => {
                        self.send(&buf[..n]).await?;
                        left -= n as u64;
                    }
                    Err(e) => {
                        cut_short = Some(format!("reading the input failed: {e}"));
                        break;
                    }
                }
            }
        }
        if let Some(why) = cut_short {
            // The request cannot be completed: ending the input lets the
            // script see a short input; the shell is not used again.
            let _ = self.input.shutdown().await;
            self.closed = true;
            return Err(HostError::failed(format!(
                "could not send the input to {}: {why}",
                self.what
            )));
        }
        let out_mark = format!("{k} ");
        let err_mark = format!("{k}\n");
        let (mut out_at, mut err_at) = (None, None);
        let (mut out_scan, mut err_scan) = (0, 0);
        loop {
            if out_at.is_none() {
                if let Some(pos) = find(&self.stdout, out_mark.as_bytes(), out_scan) {
                    if let Some(nl) = find(&self.stdout, b"\n", pos) {
                        out_at = Some((pos, nl));
                    }
                } else {
                    out_scan = self.stdout.len().saturating_sub(out_mark.len());
                }
            }
            if err_at.is_none() {
                if self.merged {
                    // stderr travels on stdout after the stdout marker.
                    if let Some((_, nl)) = out_at {
                        if let Some(pos) = find(&self.stdout, err_mark.as_bytes(), nl + 1) {
                            let err = self.stdout[nl + 1..pos].to_vec();
                            self.stdout.truncate(pos + err_mark.len());
                            self.stderr.truncate(0);
                            self.stderr.extend_from_slice(&err);
                            self.stderr.extend_from_slice(err_mark.as_bytes());
                            err_at = Some(err.len());
                        }
                    }
                } else if let Some(pos) = find(&self.stderr, err_mark.as_bytes(), err_scan) {
                    err_at = Some(pos);
                } else {
                    err_scan = self.stderr.len().saturating_sub(err_mark.len());
                }
            }
            if let (Some((pos, nl)), Some(epos)) = (out_at, err_at) {
                let tail =
                    String::from_utf8_lossy(&self.stdout[pos + out_mark.len()..nl]).to_string();
                let mut parts = tail.split_whitespace();
                let rc: i32 = parts.next().and_then(|s| s.parse().ok()).unwrap_or(-1);
                let timed_out = parts.next() == Some("124");
                // Split, not copy: a read file can be large.
                let mut stdout = std::mem::take(&mut self.stdout);
                self.stdout = stdout.split_off(nl + 1);
                stdout.truncate(pos);
                let mut stderr = std::mem::take(&mut self.stderr);
                self.stderr = stderr.split_off(epos + err_mark.len());
                stderr.truncate(epos);
                return Ok(Finished {
                    result: ExecResult { rc, stdout, stderr },
                    timed_out,
                });
            }
            if !self.pump().await {
                return Err(self.lost());
            }
        }
    }

    fn lost(&self) -> HostError {
        HostError::unreachable(format!(
            "the connection to {} was lost (the remote shell ended)",
            self.what
        ))
    }

    /// Asks the driver to end (it removes its temporary directory) and
    /// waits briefly for the transport to close.
    pub async fn close(&mut self) {
        if self.closed {
            return;
        }
        if self.send(b"exit\n").await.is_ok() {
            let _ =
                tokio::time::timeout(Duration::from_secs(5), async { while self.pump().await {} })
                    .await;
        }
        let _ = self.input.shutdown().await;
        self.closed = true;
    }

    /// `exec` as the Host API means it: env and chdir inside the shell
    /// (so inside any become), a timeout as an error.
    pub async fn exec(
        &mut self,
        command: &str,
        opts: &ExecOptions,
    ) -> Result<ExecResult, HostError> {
        let plain = opts.env.is_empty()
            && opts.chdir.is_none()
            && opts.timeout.is_none()
            && opts.stdin.is_none();
        if opts.own && plain {
            return self.run_own(command).await;
        }
        self.run_command(&exec_script(command, opts)?, opts).await
    }

    /// Runs a script made of a command (see [`exec_script`]) with the
    /// command's input and timeout; a timeout is the error.
    async fn run_command(
        &mut self,
        script: &str,
        opts: &ExecOptions,
    ) -> Result<ExecResult, HostError> {
        let done = self
            .run(script, opts.stdin.as_deref(), opts.timeout)
            .await?;
        if done.timed_out {
            return Err(HostError::failed(format!(
                "The command timed out after {} seconds",
                opts.timeout.unwrap_or(0)
            )));
        }
        Ok(done.result)
    }

    pub async fn read_file(&mut self, path: &str) -> Result<Option<Vec<u8>>, HostError> {
        let p = shell_quote(path);
        let script = format!("[ -e {p} ] || return 44\ncat -- {p}\n");
        let done = self.run_own(&script).await?;
        match done.rc {
            0 => Ok(Some(done.stdout)),
            44 => Ok(None),
            _ => Err(HostError::failed(format!(
                "could not read {path}: {}",
                done.stderr_text().trim()
            ))),
        }
    }

    /// A write as the Host API's `write_from` means it (see
    /// `transfer.rs`).
    pub async fn write_from(
        &mut self,
        path: &str,
        src: Source<'_>,
        mode: Option<u32>,
    ) -> Result<(), HostError> {
        let done = self.write(path, src, mode, false).await?;
        if done.rc != 0 {
            return Err(write_failed(path, &done));
        }
        Ok(())
    }

    /// [`Shell::write_from`], then [`Shell::stat`] of `path` (not
    /// followed), in one request.
    pub async fn write_stat(
        &mut self,
        path: &str,
        src: Source<'_>,
        mode: Option<u32>,
    ) -> Result<Option<FileStat>, HostError> {
        let done = self.write(path, src, mode, true).await?;
        match split_stat(path, done)? {
            (_, Some(st)) => Ok(st),
            (done, None) => Err(write_failed(path, &done)),
        }
    }

    /// A write, with a [`stat_script`] of `path` after it when it
    /// succeeded and `stat_after`; the caller tells from the result
    /// whether it did. Small text is written by one of herd's own scripts
    /// when the session's umask is known (no fork for a new file).
    async fn write(
        &mut self,
        path: &str,
        src: Source<'_>,
        mode: Option<u32>,
        stat_after: bool,
    ) -> Result<ExecResult, HostError> {
        let then = |leave: &str| {
            if stat_after {
                format!(
                    "printf %s '{STAT_MARK}'\n{}",
                    stat_script(path, false, leave)
                )
            } else {
                String::new()
            }
        };
        let tmp = transfer::temp_path(path, &nonce());
        let done = match (transfer::inline(&src), transfer::open(&src).await?, src) {
            (Some(text), _, _) => {
                let fill = || Fill::Inline(text);
                let own = self.umask.as_deref().map(|u| {
                    transfer::write_script(path, &tmp, fill(), mode, Some(u)) + &then("return")
                });
                match own.filter(|s| s.len() <= INLINE_MAX) {
                    // Travels in the request line: run by the driver
                    // itself, never by a shell reading a file.
                    Some(script) => self.run_with(&script, None, None, true).await?,
                    None => {
                        let script =
                            transfer::write_script(path, &tmp, fill(), mode, None) + &then("exit");
                        self.run(&script, None, None).await?
                    }
                }
            }
            (None, Some((mut reader, len)), _) => {
                let script = transfer::write_script(path, &tmp, Fill::Stdin(len), mode, None)
                    + &then("exit");
                self.run_with(&script, Some((&mut *reader, len)), None, false)
                    .await?
            }
            (None, None, Source::HostFile(from)) => {
                let script = transfer::write_script(path, &tmp, Fill::HostFile(from), mode, None)
                    + &then("exit");
                self.run(&script, None, None).await?
            }
            (None, None, _) => {
                return Err(HostError::failed(format!("nothing to write to {path}")))
            }
        }
        .result;
        Ok(done)
    }

    /// The sha1 of a file, computed on the host.
    pub async fn checksum(&mut self, path: &str) -> Result<Option<String>, HostError> {
        let done = self.run_own(&transfer::checksum_script(path)).await?;
        match done.rc {
            0 => transfer::parse_checksum(&done.stdout_text())
                .map(Some)
                .ok_or_else(|| {
                    HostError::failed(format!(
                        "could not checksum {path}: unexpected output {:?}",
                        done.stdout_text()
                    ))
                }),
            44 => Ok(None),
            _ => Err(HostError::failed(format!(
                "could not checksum {path}: {}",
                done.stderr_text().trim()
            ))),
        }
    }

    pub async fn stat(&mut self, path: &str, follow: bool) -> Result<Option<FileStat>, HostError> {
        let done = self.run_own(&stat_script(path, follow, "return")).await?;
        stat_outcome(path, done.rc, &done.stdout, &done.stderr_text())
    }

    /// [`Shell::exec`], then, when it succeeded, [`Shell::stat`] of
    /// `path`, in one request.
    pub async fn exec_stat(
        &mut self,
        command: &str,
        opts: &ExecOptions,
        path: &str,
        follow: bool,
    ) -> Result<(ExecResult, Option<FileStat>), HostError> {
        let script = format!(
            "{}herd_r=$?; [ $herd_r -eq 0 ] || exit $herd_r\nprintf %s '{STAT_MARK}'\n{}",
            exec_script(command, opts)?,
            stat_script(path, follow, "exit")
        );
        let done = self.run_command(&script, opts).await?;
        match split_stat(path, done)? {
            (r, Some(st)) => Ok((r, st)),
            // The command ended the script itself (`exit 0`).
            (r, None) if r.rc == 0 => {
                let st = self.stat(path, follow).await?;
                Ok((r, st))
            }
            (r, None) => Ok((r, None)),
        }
    }

    /// [`Shell::stat`] and, only when nothing is at `path`,
    /// [`Shell::exec_stat`] of `command`, in one request that forks only
    /// to run the command. The command's input is given; a timeout is
    /// not (the caller makes two requests).
    pub async fn stat_else_exec(
        &mut self,
        path: &str,
        follow: bool,
        command: &str,
        opts: &ExecOptions,
    ) -> Result<StatElse, HostError> {
        let p = shell_quote(path);
        let there = if follow {
            format!("[ -e {p} ]")
        } else {
            format!("[ -e {p} ] || [ -L {p} ]")
        };
        let script = format!(
            "if {there}; then printf %s '{FOUND_MARK}'\n{}return; fi\n\
             herd_e {} || return\n\
             printf %s '{STAT_MARK}'\n{}",
            stat_script(path, follow, "return"),
            shell_quote(&exec_script(command, opts)?),
            stat_script(path, follow, "return")
        );
        let done = self
            .run_bytes(&script, opts.stdin.as_deref(), None, true)
            .await?
            .result;
        if let Some(rest) = done.stdout.strip_prefix(FOUND_MARK.as_bytes()) {
            return match stat_outcome(path, done.rc, rest, &done.stderr_text())? {
                Some(st) => Ok(StatElse::Found(st)),
                None => Err(HostError::failed(format!(
                    "could not stat {path}: it went away while being looked at"
                ))),
            };
        }
        // The command runs in a subshell: the stat follows unless it failed.
        let (r, st) = split_stat(path, done)?;
        Ok(StatElse::Ran(r, st.flatten()))
    }

    /// What is at `path` (links followed) and, for a readable regular
    /// file, its content, without a `stat` process: the shell reads the
    /// file through a descriptor of its own, its first
    /// [`BUILTIN_READ_MAX`] bytes with the `read` builtin and the rest
    /// with `cat`, then prints on stderr how far the descriptor got
    /// (`pos` in `/proc/self/fdinfo`, Linux), which tells a whole read
    /// from one the builtin shortened by dropping NUL bytes. `Ok(None)`
    /// when that does not settle it (no such `/proc`, a dangling link,
    /// not a regular or readable file, a short read): the caller asks
    /// [`Shell::stat_read`] then.
    #[allow(clippy::type_complexity)]
    pub async fn read_kind(
        &mut self,
        path: &str,
    ) -> Result<Option<Option<(String, Option<Vec<u8>>)>>, HostError> {
        let p = shell_quote(path);
        let script = format!(
            "if [ -d {p} ]; then return 47; fi\n\
             [ -e {p} ] || {{ [ -L {p} ] && return 45; return 44; }}\n\
             [ -f {p} ] && [ -r {p} ] && [ -r /proc/self/fdinfo/0 ] || return 45\n\
             z=0\n\
             {{ while IFS= read -r x <&3; do printf '%s\\n' \"$x\"; z=$((z + ${{#x}} + 1)); \
             if [ $z -gt {BUILTIN_READ_MAX} ]; then cat <&3 || return 45; x=; break; fi; done\n\
             if [ -n \"$x\" ]; then printf %s \"$x\"; fi\n\
             read -r o z </proc/self/fdinfo/3 && printf %s \"$z\" >&2; }} 3<{p} || return 45\n"
        );
        let done = self.run_own(&script).await?;
        Ok(match done.rc {
            44 => Some(None),
            47 => Some(Some(("directory".to_string(), None))),
            0 => {
                let read = done.stderr_text().trim().parse::<u64>().ok();
                (read == Some(done.stdout.len() as u64))
                    .then(|| Some(("file".to_string(), Some(done.stdout))))
            }
            _ => None,
        })
    }

    /// [`Shell::stat`] and, for a readable regular file of at most `max`
    /// bytes, its content, in one request; `Ok(None)` when the host has no
    /// `stat` command (the caller then makes the two requests). Without
    /// `names`, `stat` is not asked for the owner's and group's names
    /// (their ids stand in).
    #[allow(clippy::type_complexity)]
    pub async fn stat_read(
        &mut self,
        path: &str,
        follow: bool,
        max: u64,
        names: bool,
    ) -> Result<Option<Option<(FileStat, Option<Vec<u8>>)>>, HostError> {
        let p = shell_quote(path);
        let l = if follow { "-L " } else { "" };
        // sh compares signed 64-bit numbers.
        let max = max.min(i64::MAX as u64);
        // The size is the sixth of the seven fields; the owner and group
        // names cannot hold `|`.
        let format = if names { STAT_FORMAT } else { STAT_FORMAT_IDS };
        let (missing, stat) = (
            leave_44_if_missing(&p, "return"),
            stat_command(&p, l, format),
        );
        let script = format!(
            "{missing}\
             command -v stat >/dev/null 2>&1 || return 45\n\
             o=$({stat}) || return 1\n\
             printf '%s\\n' \"$o\"\n\
             if [ -z '{l}' ] && [ -L {p} ]; then readlink -- {p}; return 0; fi\n\
             z=${{o%|*}}; z=${{z##*|}}\n\
             [ -f {p} ] && [ -r {p} ] && [ \"$z\" -le {max} ] || return 0\n\
             printf '{DATA}'\n\
             if [ \"$z\" -gt {BUILTIN_READ_MAX} ]; then cat -- {p}; return; fi\n\
             while IFS= read -r p; do printf '%s\\n' \"$p\"; done <{p}\n\
             if [ -n \"$p\" ]; then printf %s \"$p\"; fi\n"
        );
        let done = self.run_own(&script).await?;
        match done.rc {
            0 => {}
            44 => return Ok(Some(None)),
            45 => return Ok(None),
            _ => {
                return Err(HostError::failed(format!(
                    "could not stat {path}: {}",
                    done.stderr_text().trim()
                )))
            }
        }
        let out = &done.stdout;
        let nl = out.iter().position(|b| *b == b'\n').unwrap_or(out.len());
        let first = String::from_utf8_lossy(&out[..nl]);
        let rest = out.get(nl + 1..).unwrap_or_default();
        let (rest, data) = match rest.strip_prefix(DATA.as_bytes()) {
            Some(data) => (String::new(), Some(data.to_vec())),
            None => (String::from_utf8_lossy(rest).into_owned(), None),
        };
        let st = FileStat::parse(path, &first, &rest)?;
        // The read builtin drops NUL bytes (and the file may have changed
        // since its stat): content of another size was not read.
        let data = data.filter(|d| d.len() as u64 == st.size);
        Ok(Some(Some((st, data))))
    }
}

/// The script line that ends (`leave`: `return` or `exit`) with status
/// 44 when nothing is at `p` (a
/// quoted path): not even a dangling link.
fn leave_44_if_missing(p: &str, leave: &str) -> String {
    format!("[ -e {p} ] || [ -L {p} ] || {leave} 44\n")
}

/// The `stat` command whose one line [`FileStat::parse`] reads; `l` is
/// `-L ` to follow a link; `format` is [`STAT_FORMAT`] or
/// [`STAT_FORMAT_IDS`].
fn stat_command(p: &str, l: &str, format: &str) -> String {
    format!("stat {l}-c '{format}' -- {p}")
}

/// [`STAT_FORMAT`] without the owner's and group's names, which
/// [`FileStat::parse`] then takes from the ids: the lookups of the names
/// are a tenth of what a `stat` process costs.
const STAT_FORMAT_IDS: &str = "%f|%u|%g|||%s|%Y";

/// The script printing [`stat_command`]'s line for `path` (an `ls`
/// equivalent without a stat command) and a link's target after it;
/// status 44 when nothing is there. `leave` is `return` for herd's own
/// requests, `exit` after a command in a subshell.
fn stat_script(path: &str, follow: bool, leave: &str) -> String {
    let p = shell_quote(path);
    let l = if follow { "-L " } else { "" };
    // GNU and BusyBox stat both know these formats; without a stat
    // command, `ls -ld` gives the same but the modification time.
    // The link target comes last because it may hold any byte but NUL.
    let (missing, stat) = (
        leave_44_if_missing(&p, leave),
        stat_command(&p, l, STAT_FORMAT),
    );
    format!(
        "{missing}\
         if command -v stat >/dev/null 2>&1; then\n\
         {stat} || {leave} 1\n\
         else\n\
         o=$(LC_ALL=C ls -ldn {l}-- {p}) || {leave} 1; set -- $o; p=\"$3|$4\"; z=$5\n\
         o=$(LC_ALL=C ls -ld {l}-- {p}) || {leave} 1; set -- $o\n\
         printf 'ls:%s|%s|%s|%s|%s|0\\n' \"$1\" \"$p\" \"$3\" \"$4\" \"$z\"\n\
         fi\n\
         if [ -z '{l}' ] && [ -L {p} ]; then readlink -- {p}; fi\n"
    )
}

/// A [`stat_script`]'s status and output as [`Shell::stat`] returns it.
fn stat_outcome(
    path: &str,
    rc: i32,
    stdout: &[u8],
    stderr: &str,
) -> Result<Option<FileStat>, HostError> {
    match rc {
        0 => {}
        44 => return Ok(None),
        _ => {
            return Err(HostError::failed(format!(
                "could not stat {path}: {}",
                stderr.trim()
            )))
        }
    }
    let text = String::from_utf8_lossy(stdout);
    let (first, rest) = text.split_once('\n').unwrap_or((&text, ""));
    FileStat::parse(path, first, rest).map(Some)
}

/// What separates an action's output from the [`stat_script`] output
/// after it.
const STAT_MARK: &str = "herd-then-stat\n";

/// What [`Shell::stat_else_exec`] prints first when something is at
/// the path (the command did not run).
const FOUND_MARK: &str = "herd-found-stat\n";

/// An action followed by a [`stat_script`]: the action's own result
/// (its output before the mark), and, when the stat ran (the action
/// succeeded), what it found (`None` inside: nothing at the path).
#[allow(clippy::type_complexity)]
fn split_stat(
    path: &str,
    mut done: ExecResult,
) -> Result<(ExecResult, Option<Option<FileStat>>), HostError> {
    let Some(at) = rfind(&done.stdout, STAT_MARK.as_bytes()) else {
        return Ok((done, None));
    };
    let tail = done.stdout.split_off(at);
    let st = stat_outcome(path, done.rc, &tail[STAT_MARK.len()..], &done.stderr_text())?;
    done.rc = 0;
    Ok((done, Some(st)))
}

/// The error of a write that did not complete.
fn write_failed(path: &str, done: &ExecResult) -> HostError {
    HostError::failed(format!(
        "could not write {path}: {}",
        done.stderr_text().trim()
    ))
}

/// Files up to this size are read by [`Shell::stat_read`] with the shell's
/// `read` builtin (a system call per byte, no process), bigger ones with
/// `cat` (a process, about as costly as reading 1.5 KB byte by byte).
const BUILTIN_READ_MAX: u64 = 1024;

/// What separates a file's metadata from its content in
/// [`Shell::stat_read`]'s output.
const DATA: &str = "herd-data\n";

/// The script for one `exec`: chdir and environment, then the command
/// under the shell's `-c` semantics.
pub fn exec_script(command: &str, opts: &ExecOptions) -> Result<String, HostError> {
    let mut script = String::new();
    if let Some(dir) = &opts.chdir {
        script.push_str(&format!("cd -- {} || exit 1\n", shell_quote(dir)));
    }
    for (k, v) in &opts.env {
        let valid = !k.is_empty()
            && !k.starts_with(|c: char| c.is_ascii_digit())
            && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            return Err(HostError::failed(format!(
                "invalid environment variable name {k:?}"
            )));
        }
        script.push_str(&format!("export {k}={}\n", shell_quote(v)));
    }
    script.push_str(command);
    script.push('\n');
    Ok(script)
}

/// The last occurrence of `needle` in `hay`.
fn rfind(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).rposition(|w| w == needle)
}

/// The position of `needle` in `hay` at or after `from`.
fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if needle.is_empty() || hay.len() < needle.len() || from > hay.len() - needle.len() {
        return None;
    }
    hay[from..]
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_from_an_offset() {
        assert_eq!(find(b"abcabc", b"bc", 0), Some(1));
        assert_eq!(find(b"abcabc", b"bc", 2), Some(4));
        assert_eq!(find(b"ab", b"abc", 0), None);
    }

    #[test]
    fn env_names_are_checked() {
        let opts = ExecOptions {
            env: vec![("A B".into(), "x".into())],
            ..ExecOptions::default()
        };
        assert!(exec_script("true", &opts).is_err());
    }

    /// A shell started as `ARGV -s` on pipes, as the driver runs over SSH.
    async fn driver_in(argv: &[&str]) -> Shell {
        let mut cmd = tokio::process::Command::new(argv[0]);
        cmd.args(&argv[1..]).arg("-s");
        let (stdin, rx) = super::super::local::spawn_driver(cmd)
            .unwrap_or_else(|e| panic!("{argv:?} must be installed: {e}"));
        let start = start_line(None, "/bin/sh", false).unwrap();
        assert!(start.early);
        Shell::handshake(
            Box::new(stdin),
            rx,
            None,
            &start,
            Duration::from_secs(10),
            "test",
            false,
        )
        .await
        .unwrap()
    }

    /// read_kind: whole content of small and large files, NUL bytes and
    /// odd paths left to stat_read, under each shell the driver runs in.
    #[tokio::test]
    async fn read_kind_reads_whole_files_or_leaves_them_to_stat() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let big: String = (0..300).map(|i| format!("line {i} é\n")).collect();
        std::fs::write(d.join("small"), "a\n\nb").unwrap();
        std::fs::write(d.join("big"), &big).unwrap();
        std::fs::write(d.join("empty"), "").unwrap();
        std::fs::write(d.join("nul"), b"a\0b\n").unwrap();
        std::os::unix::fs::symlink(d.join("small"), d.join("link")).unwrap();
        std::os::unix::fs::symlink(d.join("gone"), d.join("dangling")).unwrap();
        let at = |name: &str| d.join(name).display().to_string();
        let file = |b: &[u8]| Some(Some(("file".to_string(), Some(b.to_vec()))));
        for argv in [&["/bin/dash"][..], &["/bin/bash"], &["busybox", "sh"]] {
            let mut sh = driver_in(argv).await;
            assert_eq!(
                sh.read_kind(&at("small")).await.unwrap(),
                file(b"a\n\nb"),
                "{argv:?}"
            );
            assert_eq!(
                sh.read_kind(&at("link")).await.unwrap(),
                file(b"a\n\nb"),
                "{argv:?}"
            );
            assert_eq!(
                sh.read_kind(&at("big")).await.unwrap(),
                file(big.as_bytes()),
                "{argv:?}"
            );
            assert_eq!(
                sh.read_kind(&at("empty")).await.unwrap(),
                file(b""),
                "{argv:?}"
            );
            assert_eq!(
                sh.read_kind(d.to_str().unwrap()).await.unwrap(),
                Some(Some(("directory".to_string(), None))),
                "{argv:?}"
            );
            assert_eq!(
                sh.read_kind(&at("missing")).await.unwrap(),
                Some(None),
                "{argv:?}"
            );
            // Left to stat_read: a NUL byte the builtin drops, a dangling link.
            assert_eq!(sh.read_kind(&at("nul")).await.unwrap(), None, "{argv:?}");
            assert_eq!(
                sh.read_kind(&at("dangling")).await.unwrap(),
                None,
                "{argv:?}"
            );
            // The session is as it was.
            let r = sh.exec("echo ok", &ExecOptions::default()).await.unwrap();
            assert_eq!(r.stdout, b"ok\n");
        }
    }

    /// The driver is plain POSIX sh: it behaves the same under dash
    /// (Debian's /bin/sh), bash (/bin/sh on Red Hat systems and macOS)
    /// and BusyBox ash, including bash's byte-by-byte reading of its input.
    #[tokio::test]
    async fn the_driver_runs_under_dash_bash_and_busybox() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("f");
        let f = f.to_str().unwrap();
        let no = ExecOptions::default();
        for argv in [&["/bin/dash"][..], &["/bin/bash"], &["busybox", "sh"]] {
            let mut sh = driver_in(argv).await;
            // cd, export and exit stay inside the command; the driver's
            // own names are not visible to it.
            let r = sh
                .exec("cd /; export HERD_T=1; echo \"$HERD_T\"; exit 3", &no)
                .await
                .unwrap();
            assert_eq!((r.rc, r.stdout_text().as_str()), (3, "1\n"), "{argv:?}");
            let r = sh
                .exec("echo \"${HERD_T:-unset}|$herd_k|$1|$#\"; pwd", &no)
                .await
                .unwrap();
            let cwd = std::env::current_dir().unwrap();
            assert_eq!(
                r.stdout_text(),
                format!("unset|||0\n{}\n", cwd.display()),
                "{argv:?}"
            );
            // Quotes, backslashes and newlines in the script, stderr apart.
            let r = sh
                .exec("printf '%s\\n' \"it's\" 'a\\b'\necho err >&2", &no)
                .await
                .unwrap();
            assert_eq!(r.stdout_text(), "it's\na\\b\n", "{argv:?}");
            assert_eq!(r.stderr_text(), "err\n", "{argv:?}");
            // herd's own requests, in the driver.
            sh.write_from(f, Source::Bytes(b"one\ntwo"), None)
                .await
                .unwrap();
            let st = sh.stat(f, false).await.unwrap().unwrap();
            assert_eq!((st.kind.as_str(), st.size), ("file", 7), "{argv:?}");
            let (st2, data) = sh
                .stat_read(f, false, 100, true)
                .await
                .unwrap()
                .unwrap()
                .unwrap();
            assert_eq!((st2, data.as_deref()), (st, Some(&b"one\ntwo"[..])));
            assert_eq!(
                sh.read_file(f).await.unwrap().as_deref(),
                Some(&b"one\ntwo"[..])
            );
            assert!(sh.checksum(f).await.unwrap().is_some());
            assert_eq!(sh.stat(&format!("{f}.no"), false).await.unwrap(), None);
            // Standard input, and a script too big for one line: both
            // follow the driver's `go`.
            let r = sh
                .exec(
                    "cat",
                    &ExecOptions {
                        stdin: Some(b"in\n".to_vec()),
                        ..ExecOptions::default()
                    },
                )
                .await
                .unwrap();
            assert_eq!(r.stdout_text(), "in\n", "{argv:?}");
            let big = format!("x={}\necho ${{#x}}", "y".repeat(INLINE_MAX + 10));
            let r = sh.exec(&big, &no).await.unwrap();
            assert_eq!(
                r.stdout_text(),
                format!("{}\n", INLINE_MAX + 10),
                "{argv:?}"
            );
            // A timeout ends the command, not the driver.
            let e = sh
                .exec(
                    "sleep 5",
                    &ExecOptions {
                        timeout: Some(1),
                        ..ExecOptions::default()
                    },
                )
                .await
                .unwrap_err();
            assert!(e.message.contains("timed out"), "{argv:?}: {e}");
            let r = sh.exec("echo still", &no).await.unwrap();
            assert_eq!(r.stdout_text(), "still\n", "{argv:?}");
            sh.close().await;
        }
    }
}
