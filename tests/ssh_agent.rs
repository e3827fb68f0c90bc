//! Logging in with keys held by ssh-agent (in its own test binary:
//! SSH_AUTH_SOCK is process-wide).

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
async fn agent_keys_log_in() {
    let sshd = Sshd::start();
    let sock = sshd.dir().join("agent.sock");
    let agent = std::process::Command::new("ssh-agent")
        .arg("-D")
        .arg("-a")
        .arg(&sock)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("ssh-agent (package openssh-client)");
    // Ends the agent however the test ends.
    struct Agent(std::process::Child);
    impl Drop for Agent {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let agent = Agent(agent);
    let deadline = Instant::now() + Duration::from_secs(5);
    while !sock.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let added = std::process::Command::new("ssh-add")
        .arg(sshd.key_path("ecdsa"))
        .env("SSH_AUTH_SOCK", &sock)
        .output()
        .expect("ssh-add");
    assert!(
        added.status.success(),
        "{}",
        String::from_utf8_lossy(&added.stderr)
    );
    // The only test in this binary, so nothing else sees the variable.
    std::env::set_var("SSH_AUTH_SOCK", &sock);
    let mut s = sshd.settings();
    s.private_key_file = None;
    let who = whoami(&sshd, &s, &Options::default()).await;
    assert_eq!(who, support::USER);

    // A named encrypted key with no passphrase given (and no terminal to
    // ask on) is refused, until the agent holds it.
    let mut s = sshd.settings();
    s.private_key_file = Some(sshd.key_path("encrypted").display().to_string());
    let refused = SshConnection::open(&s, &Options::default()).await.err();
    let plain = sshd.dir().join("id_plain_copy");
    std::fs::copy(sshd.key_path("encrypted"), &plain).expect("copy key");
    let decrypted = std::process::Command::new("ssh-keygen")
        .args(["-q", "-p", "-P", support::PASSPHRASE, "-N", "", "-f"])
        .arg(&plain)
        .output()
        .expect("ssh-keygen");
    assert!(decrypted.status.success());
    let added = std::process::Command::new("ssh-add")
        .arg(&plain)
        .env("SSH_AUTH_SOCK", &sock)
        .output()
        .expect("ssh-add");
    assert!(added.status.success());
    let who = whoami(&sshd, &s, &Options::default()).await;
    drop(agent);
    let refused = refused.expect("refused without the agent");
    assert!(refused.message.contains("is encrypted"), "{refused}");
    assert_eq!(who, support::USER);
}
