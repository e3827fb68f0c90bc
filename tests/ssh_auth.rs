//! Logging in over ssh against a real sshd: each key type, an encrypted
//! key, a password; host key checking; unreachable hosts (the agent:
//! ssh_agent.rs).

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use herd::connection::{Options, SshConnection, SshHost};
use herd_modules::api::{ExecOptions, Host};
use support::Sshd;

async fn whoami(
    sshd: &Sshd,
    settings: &herd::vars::ConnectionSettings,
    options: &Options,
) -> String {
    let conn = SshConnection::open(settings, options)
        .await
        .unwrap_or_else(|e| {
            panic!(
                "connect: {e} (sshd log: {:?})",
                std::fs::read_to_string(sshd.dir().join("sshd.log"))
            )
        });
    let h = SshHost::new("t", Arc::new(conn), settings, options);
    let r = h.exec("id -un", &ExecOptions::default()).await.unwrap();
    h.close().await;
    r.stdout_text().trim().to_string()
}

#[tokio::test]
async fn each_key_type_logs_in() {
    let sshd = Sshd::start();
    for kind in support::KEY_TYPES {
        let mut s = sshd.settings();
        s.private_key_file = Some(sshd.key_path(kind).display().to_string());
        assert_eq!(
            whoami(&sshd, &s, &Options::default()).await,
            support::USER,
            "{kind}"
        );
    }
}

#[tokio::test]
async fn encrypted_key_needs_its_passphrase() {
    let sshd = Sshd::start();
    let mut s = sshd.settings();
    s.private_key_file = Some(sshd.key_path("encrypted").display().to_string());
    let e = SshConnection::open(&s, &Options::default())
        .await
        .err()
        .expect("refused");
    assert!(e.unreachable);
    assert!(e.message.contains("encrypted"), "{e}");
    s.password = Some(support::PASSPHRASE.into());
    assert_eq!(whoami(&sshd, &s, &Options::default()).await, support::USER);
}

#[tokio::test]
async fn encrypted_key_opens_with_its_own_passphrase_setting() {
    let sshd = Sshd::start();
    let mut s = sshd.settings();
    s.private_key_file = Some(sshd.key_path("encrypted").display().to_string());
    s.private_key_passphrase = Some("not it".into());
    let e = SshConnection::open(&s, &Options::default())
        .await
        .err()
        .expect("refused");
    assert!(e.message.contains("ansible_private_key_passphrase"), "{e}");
    s.private_key_passphrase = Some(support::PASSPHRASE.into());
    assert_eq!(whoami(&sshd, &s, &Options::default()).await, support::USER);
}

#[tokio::test]
async fn password_logs_in() {
    let sshd = Sshd::start();
    let s = sshd.password_settings();
    assert_eq!(
        whoami(&sshd, &s, &Options::default()).await,
        support::PASSWORD_USER
    );
    let mut wrong = s.clone();
    wrong.password = Some("not it".into());
    let e = SshConnection::open(&wrong, &Options::default())
        .await
        .err()
        .expect("refused");
    assert!(
        e.unreachable && e.message.contains("Permission denied"),
        "{e}"
    );
    assert!(!e.message.contains("not it"));
}

#[tokio::test]
async fn unknown_host_keys_are_refused_unless_allowed() {
    let sshd = Sshd::start();
    let empty = sshd.dir().join("empty_known_hosts");
    let mut s = sshd.settings();
    s.ssh_common_args = Some(format!("-o UserKnownHostsFile={}", empty.display()));
    let checking = Options {
        host_key_checking: true,
        ..Options::default()
    };
    let e = SshConnection::open(&s, &checking)
        .await
        .err()
        .expect("refused");
    assert!(e.unreachable);
    assert!(
        e.message.contains("not known") && e.message.contains("SHA256:"),
        "{e}"
    );

    // host_key_checking = False accepts it (and records nothing).
    let off = Options {
        host_key_checking: false,
        ..Options::default()
    };
    assert_eq!(whoami(&sshd, &s, &off).await, support::USER);
    assert!(!empty.exists());

    // accept-new records it, and the next connection knows it.
    s.ssh_extra_args = Some("-o StrictHostKeyChecking=accept-new".into());
    assert_eq!(whoami(&sshd, &s, &Options::default()).await, support::USER);
    let text = std::fs::read_to_string(&empty).unwrap();
    assert!(
        text.contains(&format!("[127.0.0.1]:{}", sshd.port())),
        "{text}"
    );
    s.ssh_extra_args = None;
    assert_eq!(whoami(&sshd, &s, &Options::default()).await, support::USER);
}

#[tokio::test]
async fn changed_host_keys_are_always_refused() {
    let sshd = Sshd::start();
    let file = sshd.dir().join("changed_known_hosts");
    // Another key recorded for this host and port, on line 2.
    let other = std::fs::read_to_string(sshd.key_path("stranger").with_extension("pub")).unwrap();
    let mut f = other.split_whitespace();
    std::fs::write(
        &file,
        format!(
            "# old\n[127.0.0.1]:{} {} {}\n",
            sshd.port(),
            f.next().unwrap(),
            f.next().unwrap()
        ),
    )
    .unwrap();
    let mut s = sshd.settings();
    s.ssh_common_args = Some(format!("-o UserKnownHostsFile={}", file.display()));
    for options in [
        Options {
            host_key_checking: true,
            ..Options::default()
        },
        Options {
            host_key_checking: false,
            ..Options::default()
        },
    ] {
        let e = SshConnection::open(&s, &options)
            .await
            .err()
            .expect("refused");
        assert!(e.unreachable);
        assert!(e.message.contains("CHANGED"), "{e}");
        assert!(e.message.contains(&format!("{}:2", file.display())), "{e}");
        assert!(e.message.contains("SHA256:"), "{e}");
        assert!(
            e.message.contains(&format!("[127.0.0.1]:{}", sshd.port())),
            "{e}"
        );
    }
}

#[tokio::test]
async fn closed_port_is_unreachable_quickly() {
    support::require_environment();
    let mut s = herd::vars::ConnectionSettings {
        connection: "ssh".into(),
        host: "127.0.0.1".into(),
        port: Some(support::free_port()),
        remote_user: Some(support::USER.into()),
        timeout: 10,
        ..Default::default()
    };
    let t = Instant::now();
    let e = SshConnection::open(&s, &Options::default())
        .await
        .err()
        .expect("refused");
    assert!(e.unreachable, "{e}");
    assert!(t.elapsed() < Duration::from_secs(2));
    // Through the cache as well.
    s.host = "127.0.0.1".into();
    let e = herd::connection::connect("closed", &s)
        .await
        .err()
        .expect("refused");
    assert!(e.unreachable);
}

#[tokio::test]
async fn silent_port_times_out_as_unreachable() {
    support::require_environment();
    // Accepts connections and never says a word.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let s = herd::vars::ConnectionSettings {
        connection: "ssh".into(),
        host: "127.0.0.1".into(),
        port: Some(port),
        remote_user: Some(support::USER.into()),
        timeout: 2,
        ..Default::default()
    };
    let t = Instant::now();
    let e = SshConnection::open(&s, &Options::default())
        .await
        .err()
        .expect("timed out");
    assert!(e.unreachable && e.message.contains("timed out"), "{e}");
    assert!(t.elapsed() < Duration::from_secs(5));
    drop(listener);
}

#[tokio::test]
async fn sshd_killed_mid_run_is_unreachable_without_hanging() {
    let mut sshd = Sshd::start();
    let s = sshd.settings();
    let conn = SshConnection::open(&s, &Options::default()).await.unwrap();
    let h = Arc::new(SshHost::new("t", Arc::new(conn), &s, &Options::default()));
    assert_eq!(
        h.exec("echo up", &ExecOptions::default())
            .await
            .unwrap()
            .stdout_text(),
        "up\n"
    );
    let h2 = h.clone();
    let running = tokio::spawn(async move { h2.exec("sleep 60", &ExecOptions::default()).await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    sshd.kill_all();
    let t = Instant::now();
    let e = tokio::time::timeout(Duration::from_secs(20), running)
        .await
        .expect("no hang")
        .unwrap()
        .unwrap_err();
    assert!(e.unreachable, "{e}");
    assert!(t.elapsed() < Duration::from_secs(20));
    let e = h
        .exec("echo again", &ExecOptions::default())
        .await
        .unwrap_err();
    assert!(e.unreachable, "{e}");
}

#[tokio::test]
async fn keyboard_interactive_answers_with_the_password() {
    let sshd = Sshd::start_keyboard_interactive();
    let s = sshd.password_settings();
    assert_eq!(
        whoami(&sshd, &s, &Options::default()).await,
        support::PASSWORD_USER
    );
}

#[test]
fn encrypted_key_passphrase_is_asked_once_on_a_terminal() {
    let sshd = Sshd::start();
    let work = tempfile::tempdir().expect("tempdir");
    let dir = work.path();
    let mut inv = String::from("[all]\n");
    for i in 0..3 {
        inv.push_str(&format!(
            "h{i} ansible_host=127.0.0.1 ansible_port={} ansible_user={} \
             ansible_ssh_private_key_file={} \
             ansible_ssh_common_args='-o UserKnownHostsFile={}'\n",
            sshd.port(),
            support::USER,
            sshd.key_path("encrypted").display(),
            sshd.known_hosts_path().display()
        ));
    }
    std::fs::write(dir.join("hosts.ini"), inv).expect("write");
    std::fs::write(
        dir.join("site.yml"),
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - ansible.builtin.command: id -un\n",
    )
    .expect("write");
    // `script` (util-linux) gives herd a terminal and types the
    // passphrase into it.
    let mut child = std::process::Command::new("script")
        .args(["-qec"])
        .arg(format!(
            "{} playbook -i hosts.ini site.yml",
            env!("CARGO_BIN_EXE_herd")
        ))
        .arg("/dev/null")
        .current_dir(dir)
        .env("ANSIBLE_NOCOLOR", "1")
        .env_remove("ANSIBLE_CONFIG")
        .env_remove("SSH_AUTH_SOCK")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("script (package bsdutils)");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("piped");
        writeln!(stdin, "{}", support::PASSPHRASE).expect("type the passphrase");
        // Kept open until herd is done, so `script` does not end early.
        let out = child.wait_with_output().expect("script output");
        drop(stdin);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{text}");
        assert_eq!(
            text.matches("Enter passphrase for key").count(),
            1,
            "{text}"
        );
        assert_eq!(text.matches("ok=1 ").count(), 3, "{text}");
    }
}

/// The key exchange: ECDH on P-256 first (no post-quantum hybrid this
/// sshd and herd share comes before it), X25519 with a server that
/// offers only that, and the client's `KexAlgorithms` as OpenSSH reads
/// it.
#[tokio::test]
async fn key_exchange_prefers_p256_and_falls_back_to_x25519() {
    let auth = "UsePAM no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n";
    for (server, client, used) in [
        ("", "", "ecdh-sha2-nistp256"),
        ("KexAlgorithms curve25519-sha256\n", "", "curve25519-sha256"),
        ("", " -o KexAlgorithms=-ecdh-sha2-*", "curve25519-sha256"),
        (
            "",
            " -o KexAlgorithms=^diffie-hellman-group14-sha256",
            "diffie-hellman-group14-sha256",
        ),
    ] {
        let sshd = Sshd::start_logging(auth, server, "DEBUG1");
        let mut s = sshd.settings();
        if let Some(args) = s.ssh_common_args.as_mut() {
            args.push_str(client);
        }
        assert_eq!(whoami(&sshd, &s, &Options::default()).await, support::USER);
        let log = sshd.log();
        assert!(
            log.contains(&format!("kex: algorithm: {used} ")),
            "{used}: {log}"
        );
    }
}

/// A `KexAlgorithms` that leaves nothing herd implements is a clear
/// error before any connection.
#[tokio::test]
async fn key_exchange_without_a_supported_method_is_an_error() {
    let sshd = Sshd::start();
    let mut s = sshd.settings();
    if let Some(args) = s.ssh_common_args.as_mut() {
        args.push_str(" -o KexAlgorithms=sntrup761x25519-sha512@openssh.com");
    }
    let e = SshConnection::open(&s, &Options::default())
        .await
        .err()
        .expect("refused");
    assert!(e.unreachable);
    assert!(
        e.message.contains("KexAlgorithms") && e.message.contains("curve25519-sha256"),
        "{e}"
    );
}
