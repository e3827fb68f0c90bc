//! The ways to reach an SSH server other than a TCP connection:
//! `ProxyCommand` (a local command whose stdin and stdout carry the SSH
//! stream) and, for `ProxyJump`, a `direct-tcpip` channel of the
//! previous hop's connection (`russh`'s channel stream). Both become a
//! [`Transport`] that `client::connect_stream` runs the handshake over.

use std::pin::Pin;
use std::process::Stdio;
use std::sync::{Arc, Mutex as StdMutex};
use std::task::{Context, Poll};

use herd_modules::api::HostError;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};
use tokio::process::{Child, ChildStdin, ChildStdout};

/// A byte stream an SSH session can run over.
pub trait Transport: AsyncRead + AsyncWrite + Unpin + Send {}

impl<T: AsyncRead + AsyncWrite + Unpin + Send> Transport for T {}

/// `%h`, `%p`, `%r`, `%n` and `%%` in a ProxyCommand, as OpenSSH
/// expands them.
pub fn expand_command(command: &str, host: &str, port: u16, user: &str, original: &str) -> String {
    let mut out = String::new();
    let mut chars = command.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('h') => out.push_str(host),
            Some('p') => out.push_str(&port.to_string()),
            Some('r') => out.push_str(user),
            Some('n') => out.push_str(original),
            Some('%') => out.push('%'),
            Some(other) => {
                out.push('%');
                out.push(other);
            }
            None => out.push('%'),
        }
    }
    out
}

/// A running ProxyCommand: writes go to its stdin, reads come from its
/// stdout. Dropping it kills the command.
pub struct CommandStream {
    // Kept for kill-on-drop.
    _child: Child,
    stdin: ChildStdin,
    stdout: ChildStdout,
    /// The tail of its stderr, for error messages.
    stderr: Arc<StdMutex<Vec<u8>>>,
}

/// How much of a ProxyCommand's stderr is kept.
const STDERR_TAIL: usize = 4096;

impl CommandStream {
    /// Starts `sh -c 'exec COMMAND'` (the command already expanded).
    pub fn spawn(command: &str) -> Result<CommandStream, HostError> {
        let mut child = tokio::process::Command::new("/bin/sh")
            .arg("-c")
            .arg(format!("exec {command}"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| {
                HostError::unreachable(format!("could not start ProxyCommand '{command}': {e}"))
            })?;
        let (Some(stdin), Some(stdout), Some(mut err)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            return Err(HostError::unreachable(format!(
                "ProxyCommand '{command}' started without its pipes"
            )));
        };
        let stderr = Arc::new(StdMutex::new(Vec::new()));
        let tail = stderr.clone();
        tokio::spawn(async move {
            let mut buf = [0u8; 1024];
            while let Ok(n) = err.read(&mut buf).await {
                if n == 0 {
                    break;
                }
                if let Ok(mut t) = tail.lock() {
                    t.extend_from_slice(&buf[..n]);
                    let excess = t.len().saturating_sub(STDERR_TAIL);
                    t.drain(..excess);
                }
            }
        });
        Ok(CommandStream {
            _child: child,
            stdin,
            stdout,
            stderr,
        })
    }

    /// A handle on what the command wrote to stderr so far.
    pub fn stderr(&self) -> Arc<StdMutex<Vec<u8>>> {
        self.stderr.clone()
    }
}

impl AsyncRead for CommandStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stdout).poll_read(cx, buf)
    }
}

impl AsyncWrite for CommandStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stdin).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stdin).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stdin).poll_shutdown(cx)
    }
}

/// The tail of a command's stderr as one trimmed line of text.
pub fn stderr_text(tail: &StdMutex<Vec<u8>>) -> String {
    tail.lock()
        .map(|t| String::from_utf8_lossy(&t).trim().replace('\n', "; "))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_tokens() {
        assert_eq!(
            expand_command(
                "ssh -W %h:%p -l %r gw # %n 100%% %x",
                "10.0.0.1",
                22,
                "bob",
                "web"
            ),
            "ssh -W 10.0.0.1:22 -l bob gw # web 100% %x"
        );
    }
}
