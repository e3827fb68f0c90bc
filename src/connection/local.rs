//! The `local` connection: commands run on the controller under `/bin/sh`,
//! as the user running herd.

use std::os::unix::fs::MetadataExt;
use std::process::Stdio;
use std::time::Duration;

use async_trait::async_trait;
use herd_modules::api::{ExecOptions, ExecResult, FileStat, Host, HostError, Source};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, Mutex};

use super::become_::Become;
use super::shell::{self, Event, Shell};
use super::transfer;
use crate::vars::ConnectionSettings;

/// The controller itself as a managed host.
pub struct LocalHost {
    name: String,
    shell: String,
    /// With become, everything runs in one persistent shell started
    /// through it (the same code as over SSH), so a password is typed once.
    become_: Option<Become>,
    become_shell: Mutex<Option<Shell>>,
    timeout: u64,
}

impl LocalHost {
    pub fn new(name: &str, settings: &ConnectionSettings) -> Result<LocalHost, HostError> {
        Ok(LocalHost {
            name: name.to_string(),
            shell: settings
                .shell_executable
                .clone()
                .unwrap_or_else(|| "/bin/sh".to_string()),
            become_: Become::from_settings(settings),
            become_shell: Mutex::new(None),
            timeout: settings.timeout,
        })
    }

    async fn start_shell(&self) -> Result<Shell, HostError> {
        // No pty here: su works where it needs no password (as root).
        let merged = self.become_.as_ref().is_some_and(|b| b.needs_pty());
        let start = shell::start_line(self.become_.as_ref(), &self.shell, merged)?;
        let mut cmd = tokio::process::Command::new("/bin/sh");
        cmd.arg("-c").arg(&start.line);
        let (stdin, rx) = spawn_driver(cmd)?;
        let limit = Duration::from_secs(self.timeout.max(10));
        Shell::handshake(
            Box::new(stdin),
            rx,
            self.become_.as_ref(),
            &start,
            limit,
            &self.name,
            merged,
        )
        .await
    }

    /// The persistent shell, started when missing or lost.
    async fn shell_guard(&self) -> Result<tokio::sync::MutexGuard<'_, Option<Shell>>, HostError> {
        let mut guard = self.become_shell.lock().await;
        if guard.as_ref().is_none_or(|s| s.is_closed()) {
            *guard = Some(self.start_shell().await?);
        }
        Ok(guard)
    }

    /// Ends the become shell, if any.
    pub async fn close(&self) {
        if let Some(mut s) = self.become_shell.lock().await.take() {
            s.close().await;
        }
    }
}

/// Starts a driver shell as a child process on pipes: its input, and its
/// output as shell events (the child is reaped when its output ends).
pub(super) fn spawn_driver(
    mut cmd: tokio::process::Command,
) -> Result<(tokio::process::ChildStdin, mpsc::UnboundedReceiver<Event>), HostError> {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| HostError::failed(format!("could not start {cmd:?}: {e}")))?;
    let (Some(stdin), Some(mut stdout), Some(mut stderr)) =
        (child.stdin.take(), child.stdout.take(), child.stderr.take())
    else {
        return Err(HostError::failed(format!(
            "could not open pipes to {cmd:?}"
        )));
    };
    let (tx, rx) = mpsc::unbounded_channel();
    let etx = tx.clone();
    tokio::spawn(async move {
        let mut buf = vec![0u8; 65536];
        while let Ok(n) = stderr.read(&mut buf).await {
            if n == 0 || etx.send(Event::Stderr(buf[..n].to_vec())).is_err() {
                break;
            }
        }
    });
    tokio::spawn(async move {
        let mut buf = vec![0u8; 65536];
        while let Ok(n) = stdout.read(&mut buf).await {
            if n == 0 || tx.send(Event::Stdout(buf[..n].to_vec())).is_err() {
                break;
            }
        }
        // Reaped here so the child does not linger as a zombie.
        let _ = child.wait().await;
        let _ = tx.send(Event::Closed);
    });
    Ok((stdin, rx))
}

#[async_trait]
impl Host for LocalHost {
    fn name(&self) -> &str {
        &self.name
    }

    async fn exec(&self, command: &str, opts: &ExecOptions) -> Result<ExecResult, HostError> {
        if self.become_.is_some() {
            return on_shell!(self, s => s.exec(command, opts));
        }
        let mut cmd = tokio::process::Command::new(&self.shell);
        cmd.arg("-c").arg(command);
        if let Some(dir) = &opts.chdir {
            cmd.current_dir(dir);
        }
        for (k, v) in &opts.env {
            cmd.env(k, v);
        }
        cmd.stdin(if opts.stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // A timeout kills the whole process group, children included.
        .process_group(0)
        .kill_on_drop(true);
        let mut child = cmd
            .spawn()
            .map_err(|e| HostError::failed(format!("could not run {}: {e}", self.shell)))?;
        if let (Some(data), Some(mut stdin)) = (&opts.stdin, child.stdin.take()) {
            let data = data.clone();
            // Written from its own task so a command that does not read its
            // input cannot block the reading of its output.
            tokio::spawn(async move {
                let _ = stdin.write_all(&data).await;
            });
        }
        let pid = child.id();
        let output = child.wait_with_output();
        let output = match opts.timeout {
            Some(secs) => match tokio::time::timeout(Duration::from_secs(secs), output).await {
                Ok(r) => r,
                Err(_) => {
                    if let Some(pid) = pid {
                        // SAFETY: kill(2) on our own child's process group.
                        unsafe {
                            libc::kill(-(pid as i32), libc::SIGKILL);
                        }
                    }
                    return Err(HostError::failed(format!(
                        "The command timed out after {secs} seconds"
                    )));
                }
            },
            None => output.await,
        }
        .map_err(|e| HostError::failed(format!("command failed to run: {e}")))?;
        Ok(ExecResult {
            rc: output.status.code().unwrap_or_else(|| {
                use std::os::unix::process::ExitStatusExt;
                -output.status.signal().unwrap_or(1)
            }),
            stdout: output.stdout,
            stderr: output.stderr,
        })
    }

    async fn read_file(&self, path: &str) -> Result<Option<Vec<u8>>, HostError> {
        if self.become_.is_some() {
            return on_shell!(self, s => s.read_file(path));
        }
        match tokio::fs::read(path).await {
            Ok(data) => Ok(Some(data)),
            Err(e) if transfer::missing(&e) => Ok(None),
            Err(e) => Err(HostError::failed(format!("could not read {path}: {e}"))),
        }
    }

    async fn write_from(
        &self,
        path: &str,
        src: Source<'_>,
        mode: Option<u32>,
    ) -> Result<(), HostError> {
        if self.become_.is_some() {
            return on_shell!(self, s => s.write_from(path, src, mode));
        }
        transfer::local_write(path, src, mode).await
    }

    async fn checksum(&self, path: &str) -> Result<Option<String>, HostError> {
        if self.become_.is_some() {
            return on_shell!(self, s => s.checksum(path));
        }
        transfer::local_checksum(path).await
    }

    async fn stat(&self, path: &str, follow: bool) -> Result<Option<FileStat>, HostError> {
        if self.become_.is_some() {
            return on_shell!(self, s => s.stat(path, follow));
        }
        let meta = if follow {
            std::fs::metadata(path)
        } else {
            std::fs::symlink_metadata(path)
        };
        let meta = match meta {
            Ok(m) => m,
            Err(e) if transfer::missing(&e) => return Ok(None),
            Err(e) => return Err(HostError::failed(format!("could not stat {path}: {e}"))),
        };
        let ft = meta.file_type();
        use std::os::unix::fs::FileTypeExt;
        let kind = if ft.is_symlink() {
            "link"
        } else if ft.is_dir() {
            "directory"
        } else if ft.is_fifo() {
            "fifo"
        } else if ft.is_socket() {
            "socket"
        } else if ft.is_char_device() {
            "char"
        } else if ft.is_block_device() {
            "block"
        } else {
            "file"
        };
        Ok(Some(FileStat {
            kind: kind.to_string(),
            mode: meta.mode() & 0o7777,
            uid: meta.uid(),
            gid: meta.gid(),
            owner: user_name(meta.uid()).unwrap_or_else(|| meta.uid().to_string()),
            group: group_name(meta.gid()).unwrap_or_else(|| meta.gid().to_string()),
            size: meta.size(),
            mtime: meta.mtime() as f64 + meta.mtime_nsec() as f64 / 1e9,
            link_target: if ft.is_symlink() {
                std::fs::read_link(path)
                    .ok()
                    .map(|p| p.display().to_string())
            } else {
                None
            },
        }))
    }
}

/// The name of a user id, from the passwd database.
fn user_name(uid: u32) -> Option<String> {
    let mut buf = vec![0u8; 4096];
    let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
    let mut result: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: getpwuid_r writes into our buffers and sets `result` to
    // `&pwd` on success; pw_name then points into `buf`, alive here.
    let rc = unsafe {
        libc::getpwuid_r(
            uid,
            &mut pwd,
            buf.as_mut_ptr().cast(),
            buf.len(),
            &mut result,
        )
    };
    if rc != 0 || result.is_null() {
        return None;
    }
    // SAFETY: see above; pw_name is a NUL-terminated string in `buf`.
    let name = unsafe { std::ffi::CStr::from_ptr(pwd.pw_name) };
    Some(name.to_string_lossy().into_owned())
}

/// The name of a group id, from the group database.
fn group_name(gid: u32) -> Option<String> {
    let mut buf = vec![0u8; 4096];
    let mut grp: libc::group = unsafe { std::mem::zeroed() };
    let mut result: *mut libc::group = std::ptr::null_mut();
    // SAFETY: as for getpwuid_r above.
    let rc = unsafe {
        libc::getgrgid_r(
            gid,
            &mut grp,
            buf.as_mut_ptr().cast(),
            buf.len(),
            &mut result,
        )
    };
    if rc != 0 || result.is_null() {
        return None;
    }
    // SAFETY: gr_name is a NUL-terminated string in `buf`.
    let name = unsafe { std::ffi::CStr::from_ptr(grp.gr_name) };
    Some(name.to_string_lossy().into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn host() -> LocalHost {
        LocalHost::new("localhost", &ConnectionSettings::default()).unwrap()
    }

    #[tokio::test]
    async fn runs_commands_with_stdin_env_and_chdir() {
        let dir = tempfile::tempdir().unwrap();
        let h = host();
        let r = h
            .exec(
                "cat; printf ' %s %s' \"$X\" \"$(pwd)\"; echo err >&2; exit 3",
                &ExecOptions {
                    stdin: Some(b"in".to_vec()),
                    chdir: Some(dir.path().display().to_string()),
                    env: vec![("X".into(), "y z".into())],
                    timeout: None,
                    own: false,
                },
            )
            .await
            .unwrap();
        assert_eq!(r.rc, 3);
        let cwd = std::fs::canonicalize(dir.path()).unwrap();
        assert_eq!(r.stdout_text(), format!("in y z {}", cwd.display()));
        assert_eq!(r.stderr_text(), "err\n");
    }

    #[tokio::test]
    async fn timeout_kills_the_process_group() {
        let h = host();
        let e = h
            .exec(
                "sleep 30 & sleep 30",
                &ExecOptions {
                    timeout: Some(1),
                    ..ExecOptions::default()
                },
            )
            .await
            .unwrap_err();
        assert!(e.message.contains("timed out"), "{e}");
    }

    #[tokio::test]
    async fn files_round_trip_and_keep_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a file 'q'");
        let p = path.to_str().unwrap();
        let h = host();
        assert_eq!(h.read_file(p).await.unwrap(), None);
        assert_eq!(h.stat(p, false).await.unwrap(), None);
        h.write_file(p, b"one", Some(0o600)).await.unwrap();
        assert_eq!(h.read_file(p).await.unwrap().as_deref(), Some(&b"one"[..]));
        let st = h.stat(p, false).await.unwrap().unwrap();
        assert_eq!((st.kind.as_str(), st.mode, st.size), ("file", 0o600, 3));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        h.write_file(p, b"two!", Some(0o600)).await.unwrap();
        let st = h.stat(p, false).await.unwrap().unwrap();
        assert_eq!((st.mode, st.size), (0o640, 4));
        let link = dir.path().join("l");
        std::os::unix::fs::symlink(&path, &link).unwrap();
        let st = h
            .stat(link.to_str().unwrap(), false)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(st.kind, "link");
        assert_eq!(st.link_target.as_deref(), Some(p));
        let st = h.stat(link.to_str().unwrap(), true).await.unwrap().unwrap();
        assert_eq!(st.kind, "file");
        // No temporary file is left behind.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
    }

    #[tokio::test]
    async fn files_stream_from_the_controller_and_the_host() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        // More than one transfer chunk.
        let data: Vec<u8> = (0..700_000u32).map(|i| (i % 253) as u8).collect();
        std::fs::write(&src, &data).unwrap();
        let h = host();
        let a = dir.path().join("a");
        let a = a.to_str().unwrap();
        h.write_from(a, Source::LocalFile(&src), Some(0o600))
            .await
            .unwrap();
        assert_eq!(std::fs::read(a).unwrap(), data);
        assert_eq!(h.stat(a, false).await.unwrap().unwrap().mode, 0o600);
        let b = dir.path().join("b");
        let b = b.to_str().unwrap();
        h.write_from(b, Source::HostFile(a), None).await.unwrap();
        assert_eq!(std::fs::read(b).unwrap(), data);
        let want = crate::connection::transfer::local_checksum(src.to_str().unwrap())
            .await
            .unwrap();
        assert_eq!(h.checksum(b).await.unwrap(), want);
        assert_eq!(h.checksum(&format!("{b}.missing")).await.unwrap(), None);
        let e = h
            .write_from(b, Source::LocalFile(&dir.path().join("nope")), None)
            .await
            .unwrap_err();
        assert!(e.message.contains("nope"), "{e}");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 3);
    }

    #[tokio::test]
    async fn a_transfer_cut_short_never_replaces_the_file() {
        // Through the persistent shell (local become, as over SSH): a
        // source that ends before the announced length.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dest");
        let p = path.to_str().unwrap();
        std::fs::write(&path, b"old").unwrap();
        let h = LocalHost::new(
            "localhost",
            &ConnectionSettings {
                become_: true,
                ..ConnectionSettings::default()
            },
        )
        .unwrap();
        let tmp = transfer::temp_path(p, "short");
        let script = transfer::write_script(p, &tmp, transfer::Fill::Stdin(1000), None, None);
        let data = vec![b'x'; 600];
        let mut reader = &data[..];
        let run = async {
            on_shell!(h, s => s.run_with(&script, Some((&mut reader, 1000)), None, false))
        };
        let e = run.await.err().expect("a short source fails");
        assert!(e.message.contains("400 bytes early"), "{e}");
        assert_eq!(std::fs::read(&path).unwrap(), b"old");
        // The shell was given up; the next write starts a new one.
        h.write_file(p, b"new", None).await.unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new");
        h.close().await;
        // The abandoned script removes its temporary file as it ends.
        let mut names = Vec::new();
        for _ in 0..50 {
            names = std::fs::read_dir(dir.path())
                .unwrap()
                .map(|e| e.unwrap().file_name())
                .collect();
            if names.len() == 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(names, vec![std::ffi::OsString::from("dest")]);
    }
}
