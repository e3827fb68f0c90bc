//! `herd adhoc` and `herd playbook` runs through the binary.

use std::process::Command;

fn herd() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_herd"));
    c.env("NO_COLOR", "1").env_remove("ANSIBLE_CONFIG");
    c
}

fn inventory(dir: &std::path::Path) -> String {
    let p = dir.join("hosts");
    std::fs::write(
        &p,
        "[web]\nh1 ansible_connection=local\nh2 ansible_connection=local\n",
    )
    .unwrap();
    p.display().to_string()
}

#[test]
fn adhoc_runs_a_command_on_every_host() {
    let dir = tempfile::tempdir().unwrap();
    let inv = inventory(dir.path());
    let out = herd()
        .args([
            "adhoc",
            "-i",
            &inv,
            "web",
            "-a",
            "echo hello-from-herd",
            "-o",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    let mut lines: Vec<&str> = text.lines().collect();
    lines.sort();
    assert_eq!(
        lines,
        [
            "h1 | CHANGED | rc=0 | (stdout) hello-from-herd",
            "h2 | CHANGED | rc=0 | (stdout) hello-from-herd"
        ],
        "{text}"
    );
}

#[test]
fn adhoc_shell_with_limit_and_failure_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    let inv = inventory(dir.path());
    let out = herd()
        .args([
            "adhoc", "-i", &inv, "web", "-l", "h2", "-m", "shell", "-a", "exit 3",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(!text.contains("h1"), "{text}");
    assert!(text.contains("\nh2 | FAILED | rc=3 >>\n"), "{text}");
}

#[test]
fn adhoc_check_mode_skips_commands() {
    let dir = tempfile::tempdir().unwrap();
    let inv = inventory(dir.path());
    let marker = dir.path().join("m");
    let out = herd()
        .args(["adhoc", "-i", &inv, "h1", "-C", "-a"])
        .arg(format!("touch {}", marker.display()))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(!marker.exists());
}

#[test]
fn adhoc_needs_arguments_for_command() {
    let out = herd().args(["adhoc", "localhost"]).output().unwrap();
    assert_eq!(out.status.code(), Some(5));
    assert!(String::from_utf8_lossy(&out.stderr).contains("No argument passed to command module"));
}

#[test]
fn playbook_runs_and_returns_ansible_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let inv = inventory(dir.path());
    let pb = dir.path().join("pb.yml");
    std::fs::write(
        &pb,
        "- hosts: web\n  gather_facts: false\n  tasks:\n    - command: \"{{ 'false' if inventory_hostname == 'h2' else 'true' }}\"\n",
    )
    .unwrap();
    let out = herd()
        .args(["playbook", "-i", &inv, pb.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = herd()
        .args([
            "playbook",
            "-i",
            &inv,
            "-l",
            "h1",
            "-f",
            "1",
            pb.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    // The listing path still works.
    let out = herd()
        .args(["playbook", "-i", &inv, "--list-tasks", pb.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("play #1"));
}

#[test]
fn ask_pass_without_a_terminal_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let inv = inventory(dir.path());
    let out = herd()
        .args(["adhoc", "-i", &inv, "h1", "-k", "-a", "true"])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a terminal"));
}

#[test]
fn the_local_example_runs() {
    let dir = tempfile::tempdir().unwrap();
    let root = env!("CARGO_MANIFEST_DIR");
    let out = herd()
        .current_dir(format!("{root}/examples/playbooks/local"))
        .args(["playbook", "-i", "inventory.ini", "site.yml", "-e"])
        .arg(format!("workdir={}", dir.path().join("w").display()))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(dir.path().join("w/hola.txt").exists());
}
