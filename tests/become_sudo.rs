//! Privilege escalation through sudo, over ssh against a real sshd and
//! on the local connection.

mod support;

use std::sync::Arc;

use herd::connection::{LocalHost, Options, SshConnection, SshHost};
use herd::vars::ConnectionSettings;
use herd_modules::api::{ExecOptions, Host};
use support::Sshd;

async fn host(settings: &ConnectionSettings) -> SshHost {
    let conn = SshConnection::open(settings, &Options::default())
        .await
        .expect("connect to the test sshd");
    SshHost::new("t", Arc::new(conn), settings, &Options::default())
}

#[tokio::test]
async fn passwordless_sudo_runs_as_root_with_env_inside() {
    let sshd = Sshd::start();
    let mut s = sshd.settings();
    s.become_ = true;
    let h = host(&s).await;
    let r = h
        .exec(
            "id -un; printf '%s\\n' \"$HERD_X\"; cat",
            &ExecOptions {
                env: vec![("HERD_X".into(), "inside 'sudo'".into())],
                stdin: Some(b"fed".to_vec()),
                ..ExecOptions::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(r.stdout_text(), "root\ninside 'sudo'\nfed");
    // Files written through become belong to root.
    let p = format!("/tmp/herd-become-{}", std::process::id());
    h.write_file(&p, b"root's", Some(0o600)).await.unwrap();
    let st = h.stat(&p, false).await.unwrap().unwrap();
    assert_eq!((st.owner.as_str(), st.mode), ("root", 0o600));
    assert_eq!(
        h.read_file(&p).await.unwrap().as_deref(),
        Some(&b"root's"[..])
    );
    h.exec(&format!("rm -f {p}"), &ExecOptions::default())
        .await
        .unwrap();
    h.close().await;

    // The same through a channel per command.
    let opts = Options {
        persistent_shell: false,
        ..Options::default()
    };
    let conn = SshConnection::open(&s, &opts).await.unwrap();
    let h = SshHost::new("t", Arc::new(conn), &s, &opts);
    let r = h.exec("id -un", &ExecOptions::default()).await.unwrap();
    assert_eq!(r.stdout_text(), "root\n");
}

#[tokio::test]
async fn sudo_with_a_password() {
    let sshd = Sshd::start();
    let mut s = sshd.password_settings();
    s.become_ = true;
    s.become_password = Some(support::PASSWORD.into());
    let h = host(&s).await;
    for _ in 0..3 {
        let r = h.exec("id -un", &ExecOptions::default()).await.unwrap();
        assert_eq!(r.stdout_text(), "root\n");
    }
    h.close().await;

    let opts = Options {
        persistent_shell: false,
        ..Options::default()
    };
    let conn = SshConnection::open(&s, &opts).await.unwrap();
    let h = SshHost::new("t", Arc::new(conn), &s, &opts);
    let r = h
        .exec(
            "id -un; cat",
            &ExecOptions {
                stdin: Some(b"x".to_vec()),
                ..ExecOptions::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(r.stdout_text(), "root\nx");
}

#[tokio::test]
async fn wrong_or_missing_sudo_password_is_a_clear_error() {
    let sshd = Sshd::start();
    let mut s = sshd.password_settings();
    s.become_ = true;
    let wrong = "wrong-Secret-42";
    s.become_password = Some(wrong.into());
    for persistent in [true, false] {
        let opts = Options {
            persistent_shell: persistent,
            ..Options::default()
        };
        let conn = SshConnection::open(&s, &opts).await.unwrap();
        let h = SshHost::new("t", Arc::new(conn), &s, &opts);
        let e = h.exec("id -un", &ExecOptions::default()).await.unwrap_err();
        assert!(e.message.contains("Incorrect sudo password"), "{e}");
        assert!(!e.message.contains(wrong), "{e}");
        assert!(!e.unreachable);
    }
    s.become_password = None;
    let h = host(&s).await;
    let e = h.exec("id -un", &ExecOptions::default()).await.unwrap_err();
    assert!(e.message.contains("password"), "{e}");
}

#[tokio::test]
async fn local_become_uses_the_same_shell() {
    support::require_environment();
    let s = ConnectionSettings {
        connection: "local".into(),
        become_: true,
        become_method: "sudo".into(),
        become_user: support::USER.into(),
        timeout: 10,
        ..ConnectionSettings::default()
    };
    let h = LocalHost::new("localhost", &s).unwrap();
    let r = h
        .exec(
            "id -un; echo \"$V\"",
            &ExecOptions {
                env: vec![("V".into(), "v".into())],
                ..ExecOptions::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(r.stdout_text(), format!("{}\nv\n", support::USER));
    let p = format!("/tmp/herd-local-become-{}", std::process::id());
    h.write_file(&p, b"x", None).await.unwrap();
    assert_eq!(
        h.stat(&p, false).await.unwrap().unwrap().owner,
        support::USER
    );
    std::fs::remove_file(&p).unwrap();
    h.close().await;
}

#[tokio::test]
async fn sudo_with_requiretty_authenticates_on_a_pty() {
    let sshd = Sshd::start();
    let mut s = sshd.tty_settings();
    s.become_ = true;
    for persistent in [true, false] {
        let opts = Options {
            persistent_shell: persistent,
            ..Options::default()
        };
        let conn = SshConnection::open(&s, &opts).await.unwrap();
        let h = SshHost::new("t", Arc::new(conn), &s, &opts);
        let r = h
            .exec(
                "id -un; echo e >&2; cat",
                &ExecOptions {
                    stdin: Some(b"a\nb".to_vec()),
                    ..ExecOptions::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(r.stdout_text(), "root\na\nb");
        assert_eq!(r.stderr_text(), "e\n");
        h.close().await;
    }
}
