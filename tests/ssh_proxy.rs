//! Reaching a host through ProxyJump and ProxyCommand against the real
//! loopback sshd: each jump is a real login to the harness sshd and a
//! `direct-tcpip` channel back to it, so sshd holds one connection per
//! hop while the target connection is open.

mod support;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use herd::connection::{Options, SshConnection, SshHost};
use herd::vars::ConnectionSettings;
use herd_modules::api::{ExecOptions, Host};
use support::Sshd;

/// An ssh_config naming the harness sshd `jumpbox`, and giving the
/// address 127.0.0.1 the harness key and known_hosts (jump hosts read
/// the config file, not the `-o` options).
fn write_config(sshd: &Sshd, extra: &str) -> PathBuf {
    let path = sshd.dir().join("ssh_config");
    let text = format!(
        "{extra}\
         Host jumpbox\n  HostName 127.0.0.1\n  Port {port}\n  User {user}\n\
         Host jumpbox 127.0.0.1\n  IdentityFile {key}\n  UserKnownHostsFile {kh}\n",
        port = sshd.port(),
        user = support::USER,
        key = sshd.client_key_path().display(),
        kh = sshd.known_hosts_path().display(),
    );
    std::fs::write(&path, text).expect("write ssh_config");
    path
}

fn with_args(sshd: &Sshd, args: &str) -> ConnectionSettings {
    let mut s = sshd.settings();
    s.ssh_common_args = Some(format!(
        "-o UserKnownHostsFile={} {args}",
        sshd.known_hosts_path().display()
    ));
    s
}

/// Opens the connection, runs `id -un` on it, and returns that with the
/// number of connections sshd held meanwhile.
async fn run(sshd: &Sshd, settings: &ConnectionSettings) -> Result<(String, usize), String> {
    wait_idle(sshd).await;
    let options = Options::default();
    let conn = SshConnection::open(settings, &options)
        .await
        .map_err(|e| e.message)?;
    let h = SshHost::new("t", Arc::new(conn), settings, &options);
    let r = h
        .exec("id -un", &ExecOptions::default())
        .await
        .map_err(|e| e.message)?;
    let held = sshd.connections();
    h.close().await;
    herd::connection::ssh::disconnect(h.connection()).await;
    Ok((r.stdout_text().trim().to_string(), held))
}

/// Waits for sshd's earlier connections to end, so a count is this
/// run's alone.
async fn wait_idle(sshd: &Sshd) {
    for _ in 0..250 {
        if sshd.connections() == 0 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("sshd still holds {} connections", sshd.connections());
}

fn log(sshd: &Sshd) -> String {
    std::fs::read_to_string(sshd.dir().join("sshd.log")).unwrap_or_default()
}

#[tokio::test]
async fn proxy_jump_from_the_arguments() {
    let sshd = Sshd::start();
    let cfg = write_config(&sshd, "");
    let direct = run(&sshd, &sshd.settings()).await.expect("direct");
    assert_eq!(direct, (support::USER.to_string(), 1));
    for args in [
        format!("-F {} -J jumpbox", cfg.display()),
        format!("-F {} -o ProxyJump=jumpbox", cfg.display()),
        format!(
            "-F {} -J {}@127.0.0.1:{}",
            cfg.display(),
            support::USER,
            sshd.port()
        ),
    ] {
        let s = with_args(&sshd, &args);
        let got = run(&sshd, &s)
            .await
            .unwrap_or_else(|e| panic!("{args}: {e}\n{}", log(&sshd)));
        // The jump's connection and the target's, through it.
        assert_eq!(got, (support::USER.to_string(), 2), "{args}");
    }
}

#[tokio::test]
async fn proxy_jump_chain_from_ssh_config_and_none() {
    let sshd = Sshd::start();
    let cfg = write_config(
        &sshd,
        &format!(
            "Host target\n  HostName 127.0.0.1\n  ProxyJump jumpbox,{}@127.0.0.1:{}\n",
            support::USER,
            sshd.port()
        ),
    );
    let mut s = with_args(&sshd, &format!("-F {}", cfg.display()));
    s.host = "target".into();
    s.port = Some(sshd.port());
    let got = run(&sshd, &s)
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", log(&sshd)));
    assert_eq!(got, (support::USER.to_string(), 3));
    // `ProxyJump none` on the command line wins over the config file.
    let mut s = with_args(&sshd, &format!("-F {} -o ProxyJump=none", cfg.display()));
    s.host = "target".into();
    s.port = Some(sshd.port());
    let got = run(&sshd, &s).await.expect("direct");
    assert_eq!(got, (support::USER.to_string(), 1));
}

#[tokio::test]
async fn jump_hosts_have_their_host_key_checked() {
    let sshd = Sshd::start();
    let empty = sshd.dir().join("empty_known_hosts");
    std::fs::write(&empty, "").expect("write");
    let cfg = write_config(
        &sshd,
        &format!(
            "Host strictjump\n  HostName 127.0.0.1\n  Port {}\n  User {}\n  IdentityFile {}\n  \
             UserKnownHostsFile {}\n",
            sshd.port(),
            support::USER,
            sshd.client_key_path().display(),
            empty.display()
        ),
    );
    // The target's key is known (its -o option); the jump host's is not.
    let s = with_args(&sshd, &format!("-F {} -J strictjump", cfg.display()));
    let e = run(&sshd, &s).await.expect_err("unknown jump host key");
    assert!(
        e.contains("Host key verification failed for jump host"),
        "{e}"
    );
    assert!(e.contains("is not known"), "{e}");
    // Recorded when the jump host's config says accept-new.
    let cfg = write_config(
        &sshd,
        &format!(
            "Host strictjump\n  HostName 127.0.0.1\n  Port {}\n  User {}\n  IdentityFile {}\n  \
             UserKnownHostsFile {}\n  StrictHostKeyChecking accept-new\n",
            sshd.port(),
            support::USER,
            sshd.client_key_path().display(),
            empty.display()
        ),
    );
    let s = with_args(&sshd, &format!("-F {} -J strictjump", cfg.display()));
    let got = run(&sshd, &s).await.expect("accept-new");
    assert_eq!(got.1, 2);
    let recorded = std::fs::read_to_string(&empty).expect("read");
    assert!(
        recorded.contains(&format!("[127.0.0.1]:{}", sshd.port())),
        "{recorded}"
    );
}

fn ssh_w(sshd: &Sshd) -> String {
    format!(
        "ssh -q -o BatchMode=yes -o UserKnownHostsFile={} -i {} -p {} {}@127.0.0.1 -W %h:%p",
        sshd.known_hosts_path().display(),
        sshd.client_key_path().display(),
        sshd.port(),
        support::USER
    )
}

#[tokio::test]
async fn proxy_command_from_the_arguments_and_ssh_config() {
    let sshd = Sshd::start();
    let s = with_args(&sshd, &format!("-o 'ProxyCommand={}'", ssh_w(&sshd)));
    let got = run(&sshd, &s)
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", log(&sshd)));
    // The `ssh -W` process's connection, and ours through it.
    assert_eq!(got, (support::USER.to_string(), 2));

    let cfg = sshd.dir().join("proxy_config");
    std::fs::write(
        &cfg,
        format!(
            "Host viacmd\n  HostName 127.0.0.1\n  ProxyCommand {}\n",
            ssh_w(&sshd)
        ),
    )
    .expect("write");
    let mut s = with_args(&sshd, &format!("-F {}", cfg.display()));
    s.host = "viacmd".into();
    let got = run(&sshd, &s).await.expect("from ssh_config");
    assert_eq!(got, (support::USER.to_string(), 2));
    // `ProxyCommand none` disables it.
    let mut s = with_args(&sshd, &format!("-o ProxyCommand=none -F {}", cfg.display()));
    s.host = "viacmd".into();
    let got = run(&sshd, &s).await.expect("none");
    assert_eq!(got, (support::USER.to_string(), 1));
}

#[tokio::test]
async fn failing_proxy_command_reports_its_stderr() {
    let sshd = Sshd::start();
    let s = with_args(
        &sshd,
        "-o 'ProxyCommand=sh -c \"echo no route to %h port %p >&2; exit 1\"'",
    );
    let e = run(&sshd, &s).await.expect_err("the command fails");
    assert!(
        e.contains(&format!("no route to 127.0.0.1 port {}", sshd.port())),
        "{e}"
    );
}

fn herd_playbook(dir: &Path) -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_herd"));
    cmd.current_dir(dir)
        .env("ANSIBLE_NOCOLOR", "1")
        .env_remove("ANSIBLE_CONFIG")
        .env_remove("ANSIBLE_SSH_COMMON_ARGS")
        .env_remove("ANSIBLE_SSH_EXTRA_ARGS")
        .args(["playbook", "-i", "hosts.ini", "site.yml"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    cmd
}

#[test]
fn ansible_cfg_ssh_args_carry_the_jump() {
    let sshd = Sshd::start();
    let cfg = write_config(&sshd, "");
    let work = tempfile::tempdir().expect("tempdir");
    let dir = work.path();
    std::fs::write(
        dir.join("ansible.cfg"),
        format!(
            "[ssh_connection]\nssh_extra_args = -F {} -J jumpbox\n",
            cfg.display()
        ),
    )
    .expect("write");
    std::fs::write(
        dir.join("hosts.ini"),
        format!("target {}\n", sshd.inventory_vars()),
    )
    .expect("write");
    std::fs::write(
        dir.join("site.yml"),
        "- hosts: target\n  gather_facts: false\n  tasks:\n\
         \x20   - ansible.builtin.command: sleep 1\n",
    )
    .expect("write");
    // While the task runs, sshd holds the jump's connection and the
    // target's through it.
    let child = herd_playbook(dir).spawn().expect("run herd");
    let mut most = 0;
    let start = std::time::Instant::now();
    let mut child = child;
    while child.try_wait().expect("wait").is_none() && start.elapsed().as_secs() < 60 {
        most = most.max(sshd.connections());
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let out = child.wait_with_output().expect("herd output");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(most, 2, "{stdout}");
    // With a jump host nobody listens on, the same run fails naming it.
    std::fs::write(
        dir.join("ansible.cfg"),
        format!(
            "[ssh_connection]\nssh_extra_args = -F {} -J {}@127.0.0.1:{}\n",
            cfg.display(),
            support::USER,
            support::free_port()
        ),
    )
    .expect("write");
    let out = herd_playbook(dir).output().expect("run herd");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(4), "{stdout}");
    assert!(stdout.contains("jump host"), "{stdout}");
}
