//! Ctrl-C during a long task: `herd playbook` stops at once and ends as
//! ansible-playbook does (exit 99, `[ERROR]: User interrupted execution`
//! on stderr, no recap); both tools run the same playbook and their
//! outputs are compared.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{ansible_bin_dir, ansible_command};

const PLAYBOOK: &str = "- hosts: h1
  gather_facts: false
  tasks:
    - name: First
      debug:
        msg: first
    - name: Long
      command: sleep 40
    - name: Never
      debug:
        msg: never
";

struct Interrupted {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    /// From SIGINT to exit.
    took: Duration,
}

/// Runs `cmd` until its output shows the long task, sends SIGINT, and
/// waits for it to end.
fn interrupt(mut cmd: Command, root: &Path) -> Interrupted {
    let inv = root.join("hosts");
    std::fs::write(
        &inv,
        format!(
            "h1 ansible_connection=local ansible_python_interpreter={}\n",
            ansible_bin_dir().join("python").display()
        ),
    )
    .expect("write inventory");
    let pb = root.join("site.yml");
    std::fs::write(&pb, PLAYBOOK).expect("write playbook");
    let out_path = root.join("stdout");
    let err_path = root.join("stderr");
    let mut child = cmd
        .arg("-i")
        .arg(&inv)
        .arg(&pb)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).expect("stdout file"))
        .stderr(std::fs::File::create(&err_path).expect("stderr file"))
        .spawn()
        .expect("start");
    let started = Instant::now();
    loop {
        let out = std::fs::read_to_string(&out_path).unwrap_or_default();
        if out.contains("TASK [Long]") {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the long task never started:\n{out}"
        );
        if let Some(status) = child.try_wait().expect("poll") {
            panic!("ended before the long task ({status}):\n{out}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    // Let the command itself start.
    std::thread::sleep(Duration::from_millis(1500));
    let pid = i32::try_from(child.id()).expect("pid fits");
    // SAFETY: kill only sends a signal to the child we started.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGINT) }, 0);
    let sent = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().expect("poll") {
            break s;
        }
        if sent.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            panic!("still running 30 s after SIGINT");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    Interrupted {
        code: status.code(),
        stdout: std::fs::read_to_string(&out_path).expect("stdout"),
        stderr: std::fs::read_to_string(&err_path).expect("stderr"),
        took: sent.elapsed(),
    }
}

#[test]
fn ctrl_c_stops_at_once_as_ansible_playbook_does() {
    let herd_root = tempfile::tempdir().expect("temp dir");
    let mut herd_cmd = Command::new(env!("CARGO_BIN_EXE_herd"));
    herd_cmd.arg("playbook");
    let herd = interrupt(herd_cmd, herd_root.path());
    assert_eq!(herd.code, Some(99), "{}\n{}", herd.stdout, herd.stderr);
    assert!(
        herd.took < Duration::from_secs(10),
        "took {:?} to stop: it waited for the task",
        herd.took
    );
    assert!(herd
        .stdout
        .contains("ok: [h1] => {\n    \"msg\": \"first\"\n}"));
    assert!(!herd.stdout.contains("never"), "{}", herd.stdout);
    assert!(
        herd.stderr
            .lines()
            .any(|l| l == "[ERROR]: User interrupted execution"),
        "{}",
        herd.stderr
    );

    let ans_root = tempfile::tempdir().expect("temp dir");
    let ansible = interrupt(ansible_command("ansible-playbook"), ans_root.path());
    assert_eq!(ansible.code, Some(99));
    // The same lines, the recap included (ansible-playbook prints none
    // when interrupted).
    assert_eq!(herd.stdout, ansible.stdout);
    assert_eq!(
        herd.stdout.contains("PLAY RECAP"),
        ansible.stdout.contains("PLAY RECAP")
    );
}
