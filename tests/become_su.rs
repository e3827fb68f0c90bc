//! Privilege escalation through su: a pty only to authenticate, then
//! the same framed shell (stdout and stderr kept apart).

mod support;

use std::sync::Arc;

use herd::connection::{LocalHost, Options, SshConnection, SshHost};
use herd::vars::ConnectionSettings;
use herd_modules::api::{ExecOptions, Host};
use support::Sshd;

fn su_settings(sshd: &Sshd, password: &str) -> ConnectionSettings {
    support::ensure_password_user();
    let mut s = sshd.settings();
    s.become_ = true;
    s.become_method = "su".into();
    s.become_user = support::PASSWORD_USER.into();
    s.become_password = Some(password.into());
    s
}

#[tokio::test]
async fn su_with_a_password() {
    let sshd = Sshd::start();
    let s = su_settings(&sshd, support::PASSWORD);
    let conn = SshConnection::open(&s, &Options::default()).await.unwrap();
    let h = SshHost::new("t", Arc::new(conn), &s, &Options::default());
    let r = h
        .exec(
            "id -un; echo oops >&2; printf '%s' \"$E\"; cat; exit 4",
            &ExecOptions {
                env: vec![("E".into(), "e\n".into())],
                stdin: Some(b"in\r\n\x03\x04bytes".to_vec()),
                ..ExecOptions::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(r.rc, 4);
    assert_eq!(
        r.stdout,
        format!("{}\ne\nin\r\n\x03\x04bytes", support::PASSWORD_USER).into_bytes()
    );
    assert_eq!(r.stderr_text(), "oops\n");
    let data: Vec<u8> = (0..=255u8).cycle().take(100_000).collect();
    let p = format!("/tmp/herd-su-{}", std::process::id());
    h.write_file(&p, &data, None).await.unwrap();
    assert_eq!(h.read_file(&p).await.unwrap(), Some(data));
    let st = h.stat(&p, false).await.unwrap().unwrap();
    assert_eq!(st.owner, support::PASSWORD_USER);
    h.exec(&format!("rm -f {p}"), &ExecOptions::default())
        .await
        .unwrap();
    h.close().await;
}

#[tokio::test]
async fn su_with_a_wrong_password() {
    let sshd = Sshd::start();
    let wrong = "wrong-Su-Secret";
    let s = su_settings(&sshd, wrong);
    let conn = SshConnection::open(&s, &Options::default()).await.unwrap();
    let h = SshHost::new("t", Arc::new(conn), &s, &Options::default());
    let e = h.exec("id -un", &ExecOptions::default()).await.unwrap_err();
    assert!(e.message.contains("Incorrect su password"), "{e}");
    assert!(!e.message.contains(wrong));
}

#[tokio::test]
async fn local_su_as_root() {
    support::require_environment();
    let s = ConnectionSettings {
        connection: "local".into(),
        become_: true,
        become_method: "su".into(),
        become_user: support::USER.into(),
        timeout: 10,
        ..ConnectionSettings::default()
    };
    let h = LocalHost::new("localhost", &s).unwrap();
    let r = h
        .exec("id -un; echo e >&2", &ExecOptions::default())
        .await
        .unwrap();
    assert_eq!(r.stdout_text(), format!("{}\n", support::USER));
    assert_eq!(r.stderr_text(), "e\n");
    h.close().await;
}
