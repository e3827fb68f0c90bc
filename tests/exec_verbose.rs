//! `-vvv` shows what is sent to each host, as ansible-playbook's
//! connection plugins do: `<addr> ESTABLISH SSH CONNECTION FOR USER: u`
//! for each task and host, then `<addr> SSH: EXEC …` for each command
//! line, become wrapper included, never a password, nothing of a `no_log`
//! task's commands. Over real SSH (the loopback sshd of tests/support).

mod common;
mod support;

use std::process::Command;

use support::Sshd;

const PLAYBOOK: &str = r#"- hosts: fleet
  gather_facts: false
  tasks:
    - name: Plain
      command: echo plain-marker
      environment:
        GREETING: hello
    - name: As root
      command: id -u
      become: true
    - name: Hidden
      command: echo hidden-marker
      no_log: true
"#;

const PASSWORD: &str = "not-shown-anywhere-7731";

#[test]
fn vvv_shows_connection_and_commands_without_secrets() {
    support::require_environment();
    let sshd = Sshd::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let inv = dir.path().join("hosts");
    std::fs::write(
        &inv,
        format!(
            "[fleet]\nweb1 {} ansible_become_password={PASSWORD}\n",
            sshd.inventory_vars()
        ),
    )
    .expect("write inventory");
    let pb = dir.path().join("site.yml");
    std::fs::write(&pb, PLAYBOOK).expect("write playbook");
    let run = |verbosity: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_herd"))
            .arg("playbook")
            .arg("-i")
            .arg(&inv)
            .arg(&pb)
            .arg(verbosity)
            .env("NO_COLOR", "1")
            .output()
            .expect("run herd");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
        (stdout, stderr)
    };
    let (out, err) = run("-vvv");
    let lines: Vec<&str> = out.lines().collect();
    let establish = "<127.0.0.1> ESTABLISH SSH CONNECTION FOR USER: herdtest";
    // One per task and host.
    assert_eq!(
        lines.iter().filter(|l| **l == establish).count(),
        3,
        "{out}"
    );
    let exec: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| l.starts_with("<127.0.0.1> SSH: EXEC "))
        .collect();
    assert!(
        exec.iter()
            .any(|l| l.starts_with("<127.0.0.1> SSH: EXEC /bin/sh -c 'export GREETING=hello")),
        "{out}"
    );
    assert!(out.contains("echo plain-marker"), "{out}");
    let become_line = exec
        .iter()
        .find(|l| l.contains("id -u"))
        .unwrap_or_else(|| panic!("no become command in:\n{out}"));
    assert!(
        become_line.starts_with("<127.0.0.1> SSH: EXEC sudo ") && become_line.contains("-u root"),
        "{become_line}"
    );
    assert!(
        exec.contains(&"<127.0.0.1> SSH: EXEC (censored due to no_log)"),
        "{out}"
    );
    assert!(!out.contains("hidden-marker"), "{out}");
    assert!(!out.contains(PASSWORD) && !err.contains(PASSWORD));
    // Each task's lines follow its header.
    let header = lines
        .iter()
        .position(|l| l.starts_with("TASK [As root]"))
        .expect("header");
    assert_eq!(lines[header + 1], establish);

    // Below -vvv none of it shows.
    let (out, _) = run("-vv");
    assert!(!out.contains("ESTABLISH"), "{out}");
    assert!(!out.contains("SSH: EXEC"), "{out}");
}
