//! A real OpenSSH `sshd` for the tests: started on a free loopback port
//! with a generated host key and config, accepting generated client keys
//! for the test user `herdtest` (created by scripts/test.sh), killed on
//! drop. Never a mock, never skipped: a missing piece is a failure that
//! says to run scripts/test.sh.
//!
//! Use from a test file with `mod support;`.

#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use herd::vars::ConnectionSettings;

/// The unprivileged test user (plain /bin/sh, passwordless sudo).
pub const USER: &str = "herdtest";
/// A second test user the harness creates: logs in with a password and
/// whose sudo asks for it.
pub const PASSWORD_USER: &str = "herdpass";
/// That user's login and sudo password.
pub const PASSWORD: &str = "herd-Test-pw 1";
/// A third test user the harness creates: logs in with the client keys,
/// and its sudo (passwordless) has `requiretty`.
pub const TTY_USER: &str = "herdtty";
/// The BusyBox test user scripts/test.sh creates: key login, BusyBox's
/// sh as login shell, and (in every sshd the harness starts) a PATH of
/// BusyBox applets only, no sudo.
pub const BUSYBOX_USER: &str = "herdbb";
/// Where scripts/test.sh links BusyBox's applets.
pub const BUSYBOX_BIN: &str = "/opt/herd-busybox/bin";
/// The passphrase of the encrypted client key.
pub const PASSPHRASE: &str = "herd key passphrase";

fn fail(what: &str) -> ! {
    panic!("{what}: run scripts/test.sh (as root) to install sshd and create the test user")
}

fn run(cmd: &mut Command) -> std::process::Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| fail(&format!("could not run {cmd:?}: {e}")));
    if !out.status.success() {
        fail(&format!(
            "{cmd:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    out
}

/// Checks that the tests can run here at all.
pub fn require_environment() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        fail("the SSH tests start sshd and must run as root");
    }
    if !Path::new("/usr/sbin/sshd").exists() {
        fail("/usr/sbin/sshd is missing");
    }
    if !Command::new("id")
        .arg(USER)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
    {
        fail(&format!("the test user {USER} does not exist"));
    }
    std::fs::create_dir_all("/run/sshd").ok();
}

/// Creates (once) the password user: a known password, and sudo that
/// asks for it. Idempotent, so concurrent tests and later runs agree.
pub fn ensure_password_user() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let exists = Command::new("id")
            .arg(PASSWORD_USER)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if !exists {
            run(Command::new("useradd").args([
                "--create-home",
                "--shell",
                "/bin/sh",
                PASSWORD_USER,
            ]));
        }
        let mut child = Command::new("chpasswd")
            .stdin(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| fail(&format!("chpasswd: {e}")));
        {
            use std::io::Write;
            let mut stdin = child.stdin.take().expect("piped stdin");
            writeln!(stdin, "{PASSWORD_USER}:{PASSWORD}").expect("write to chpasswd");
        }
        assert!(child.wait().expect("chpasswd").success(), "chpasswd failed");
        std::fs::write(
            format!("/etc/sudoers.d/{PASSWORD_USER}"),
            format!("{PASSWORD_USER} ALL=(ALL:ALL) ALL\nDefaults:{PASSWORD_USER} !lecture\n"),
        )
        .expect("write sudoers rule");
        let _ = Command::new("chmod")
            .args(["0440", &format!("/etc/sudoers.d/{PASSWORD_USER}")])
            .status();
    });
}

/// Creates (once) [`TTY_USER`]: key login, sudo with `requiretty`.
pub fn ensure_tty_user() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let exists = Command::new("id")
            .arg(TTY_USER)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if !exists {
            run(Command::new("useradd").args(["--create-home", "--shell", "/bin/sh", TTY_USER]));
        }
        // '*': no password, but key logins are allowed (unlike '!').
        run(Command::new("usermod").args(["-p", "*", TTY_USER]));
        let path = format!("/etc/sudoers.d/{TTY_USER}");
        std::fs::write(
            &path,
            format!("Defaults:{TTY_USER} requiretty\n{TTY_USER} ALL=(ALL:ALL) NOPASSWD: ALL\n"),
        )
        .expect("write sudoers rule");
        let _ = Command::new("chmod").args(["0440", &path]).status();
    });
}

/// A running sshd.
pub struct Sshd {
    dir: tempfile::TempDir,
    port: u16,
    child: Child,
}

/// The client key types the harness generates.
pub const KEY_TYPES: &[&str] = &["ed25519", "ecdsa", "rsa"];

impl Sshd {
    /// Starts an sshd for [`USER`] (and [`PASSWORD_USER`]), with
    /// password authentication on.
    pub fn start() -> Sshd {
        Sshd::start_with("UsePAM no\nPasswordAuthentication yes\nKbdInteractiveAuthentication no\n")
    }

    /// Starts an sshd whose only password method is
    /// keyboard-interactive (through PAM).
    pub fn start_keyboard_interactive() -> Sshd {
        Sshd::start_with(
            "UsePAM yes\nPasswordAuthentication no\nKbdInteractiveAuthentication yes\n",
        )
    }

    /// Starts an sshd with these authentication settings.
    pub fn start_with(auth: &str) -> Sshd {
        Sshd::start_with_extra(auth, "")
    }

    /// Starts an sshd with these authentication settings and `extra`
    /// lines at the end of its config (where a keyword whose last value
    /// wins, such as `MaxStartups`, overrides the harness's).
    pub fn start_with_extra(auth: &str, extra: &str) -> Sshd {
        Sshd::start_logging(auth, extra, "ERROR")
    }

    /// [`Sshd::start_with_extra`], logging at `level` (`DEBUG1` shows
    /// the algorithms each connection negotiated) to [`Sshd::log`].
    pub fn start_logging(auth: &str, extra: &str, level: &str) -> Sshd {
        require_environment();
        let dir = tempfile::Builder::new()
            .prefix("herd-sshd-")
            .tempdir()
            .expect("temporary directory");
        let d = dir.path();
        // sshd reads authorized keys as the user logging in.
        run(Command::new("chmod").args(["755", &d.display().to_string()]));
        keygen(&d.join("host_ed25519"), "ed25519", "");
        let mut authorized = String::new();
        for t in KEY_TYPES {
            let path = d.join(format!("id_{t}"));
            keygen(&path, t, "");
            authorized.push_str(&read(&path.with_extension("pub")));
        }
        let enc = d.join("id_encrypted");
        keygen(&enc, "ed25519", PASSPHRASE);
        authorized.push_str(&read(&enc.with_extension("pub")));
        std::fs::write(d.join("authorized_keys"), &authorized).expect("authorized_keys");
        // A key that is not authorised, for the agent test's contrast.
        keygen(&d.join("id_stranger"), "ed25519", "");

        let port = free_port();
        let config = format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {d}/host_ed25519\nPidFile {d}/sshd.pid\n\
             AuthorizedKeysFile {d}/authorized_keys\n{auth}StrictModes no\n\
             PubkeyAuthentication yes\n\
             PermitRootLogin no\nAllowUsers {USER} {PASSWORD_USER} {TTY_USER} {BUSYBOX_USER}\nMaxStartups 200:30:400\n\
             MaxSessions 64\nLogLevel {level}\nPrintMotd no\n{extra}\n\
             Match User {BUSYBOX_USER}\n  SetEnv PATH={BUSYBOX_BIN}\n",
            d = d.display()
        );
        std::fs::write(d.join("sshd_config"), config).expect("sshd_config");
        let host_pub = read(&d.join("host_ed25519.pub"));
        let mut fields = host_pub.split_whitespace();
        let (kt, kb) = (fields.next().unwrap_or(""), fields.next().unwrap_or(""));
        std::fs::write(
            d.join("known_hosts"),
            format!("[127.0.0.1]:{port} {kt} {kb}\n"),
        )
        .expect("known_hosts");
        let log = std::fs::File::create(d.join("sshd.log")).expect("sshd log");
        let child = Command::new("/usr/sbin/sshd")
            .args(["-D", "-e", "-f"])
            .arg(d.join("sshd_config"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| fail(&format!("could not start sshd: {e}")));
        let mut sshd = Sshd { dir, port, child };
        sshd.wait_ready();
        sshd
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "sshd exited ({status}): {}",
                    read(&self.dir.path().join("sshd.log"))
                );
            }
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("sshd did not listen on port {} within 10s", self.port);
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// What sshd has logged so far.
    pub fn log(&self) -> String {
        read(&self.dir.path().join("sshd.log"))
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The authorised ed25519 client key.
    pub fn client_key_path(&self) -> PathBuf {
        self.key_path("ed25519")
    }

    /// The client key of a type in [`KEY_TYPES`], or `encrypted`
    /// (passphrase [`PASSPHRASE`]), or `stranger` (not authorised).
    pub fn key_path(&self, kind: &str) -> PathBuf {
        self.dir.path().join(format!("id_{kind}"))
    }

    /// A known_hosts file holding this sshd's host key.
    pub fn known_hosts_path(&self) -> PathBuf {
        self.dir.path().join("known_hosts")
    }

    /// The host key line (`type base64`).
    pub fn host_key(&self) -> String {
        read(&self.dir.path().join("host_ed25519.pub"))
            .split_whitespace()
            .take(2)
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Settings that log in as [`USER`] with the ed25519 key, checking
    /// the host key against [`Sshd::known_hosts_path`].
    pub fn settings(&self) -> ConnectionSettings {
        ConnectionSettings {
            connection: "ssh".into(),
            host: "127.0.0.1".into(),
            port: Some(self.port),
            remote_user: Some(USER.into()),
            private_key_file: Some(self.client_key_path().display().to_string()),
            timeout: 10,
            ssh_common_args: Some(format!(
                "-o UserKnownHostsFile={}",
                self.known_hosts_path().display()
            )),
            become_method: "sudo".into(),
            become_user: "root".into(),
            ..ConnectionSettings::default()
        }
    }

    /// Settings for [`TTY_USER`] (key login; sudo needs a tty).
    pub fn tty_settings(&self) -> ConnectionSettings {
        ensure_tty_user();
        ConnectionSettings {
            remote_user: Some(TTY_USER.into()),
            ..self.settings()
        }
    }

    /// Host variables for an INI inventory line that points a host at
    /// this sshd (understood by herd and by ansible-playbook alike).
    pub fn inventory_vars(&self) -> String {
        format!(
            "ansible_host=127.0.0.1 ansible_port={} ansible_user={USER} \
             ansible_ssh_private_key_file={} \
             ansible_ssh_common_args='-o UserKnownHostsFile={}'",
            self.port,
            self.client_key_path().display(),
            self.known_hosts_path().display()
        )
    }

    /// [`Sshd::inventory_vars`] for [`BUSYBOX_USER`], or a failure
    /// saying to run scripts/test.sh when that user is missing.
    pub fn busybox_inventory_vars(&self) -> String {
        let ok = Command::new("getent")
            .args(["passwd", BUSYBOX_USER])
            .output()
            .is_ok_and(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .trim_end()
                    .ends_with(&format!("{BUSYBOX_BIN}/sh"))
            });
        if !ok || !Path::new(BUSYBOX_BIN).join("sh").exists() {
            fail(&format!(
                "the BusyBox user {BUSYBOX_USER} (login shell {BUSYBOX_BIN}/sh) is missing"
            ));
        }
        self.inventory_vars().replace(
            &format!("ansible_user={USER}"),
            &format!("ansible_user={BUSYBOX_USER}"),
        )
    }

    /// Settings for [`PASSWORD_USER`] with password login and no key.
    pub fn password_settings(&self) -> ConnectionSettings {
        ensure_password_user();
        ConnectionSettings {
            remote_user: Some(PASSWORD_USER.into()),
            private_key_file: None,
            password: Some(PASSWORD.into()),
            ..self.settings()
        }
    }

    /// The client connections sshd holds now (one child process each,
    /// authenticated or not).
    pub fn connections(&self) -> usize {
        children_of(self.child.id() as i32).len()
    }

    /// The TCP connections to this sshd that both ends still hold open
    /// (ESTABLISHED on sshd's side, from /proc/net/tcp): what a client
    /// has open now, without sessions sshd is still tearing down.
    pub fn established(&self) -> usize {
        let port = format!(":{:04X}", self.port);
        std::fs::read_to_string("/proc/net/tcp")
            .unwrap_or_default()
            .lines()
            .skip(1)
            .filter(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                f.len() > 3 && f[1].ends_with(&port) && f[3] == "01"
            })
            .count()
    }

    /// Kills sshd and every session process it started (by their ids,
    /// found through /proc), as a crash of the server would.
    pub fn kill_all(&mut self) {
        let root = self.child.id() as i32;
        let mut pids = vec![root];
        let mut i = 0;
        while i < pids.len() {
            let parent = pids[i];
            pids.extend(children_of(parent));
            i += 1;
        }
        for pid in pids {
            // SAFETY: kill(2) on processes this test started.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
            }
        }
        let _ = self.child.wait();
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn children_of(parent: i32) -> Vec<i32> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return out;
    };
    for e in entries.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // The parent pid is the second field after the `(comm)` part.
        if let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) {
            let ppid = rest
                .split_whitespace()
                .nth(1)
                .and_then(|s| s.parse::<i32>().ok());
            if ppid == Some(parent) {
                out.push(pid);
            }
        }
    }
    out
}

fn keygen(path: &Path, kind: &str, passphrase: &str) {
    let mut cmd = Command::new("ssh-keygen");
    cmd.args(["-q", "-t", kind, "-N", passphrase, "-C", "herd-test", "-f"])
        .arg(path);
    if kind == "rsa" {
        cmd.args(["-b", "2048"]);
    }
    run(&mut cmd);
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// Opens a directory to other users (a test user must reach files in it).
pub fn chmod_755(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("chmod 755");
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    l.local_addr().expect("local address").port()
}

/// A runtime for tests that need more than the default one.
pub fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// The uid and gid of the SSH test user.
pub fn herdtest_ids() -> (u32, u32) {
    let id = |flag: &str| -> u32 {
        let out = Command::new("id").args([flag, USER]).output().expect("id");
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .expect("numeric id")
    };
    (id("-u"), id("-g"))
}

/// Copies a directory tree, giving every copy to `owner` when set.
pub fn copy_tree(from: &Path, to: &Path, owner: Option<(u32, u32)>) {
    std::fs::create_dir_all(to).expect("mkdir");
    if let Some((u, g)) = owner {
        std::os::unix::fs::chown(to, Some(u), Some(g)).expect("chown");
    }
    for entry in std::fs::read_dir(from).expect("read case dir").flatten() {
        let src = entry.path();
        let dst = to.join(entry.file_name());
        if src.is_dir() {
            copy_tree(&src, &dst, owner);
        } else {
            std::fs::copy(&src, &dst).expect("copy fixture");
            if let Some((u, g)) = owner {
                std::os::unix::fs::chown(&dst, Some(u), Some(g)).expect("chown");
            }
        }
    }
}
