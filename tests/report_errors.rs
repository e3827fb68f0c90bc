//! The error ansible-core 2.19 prints before a failed result
//! (`[ERROR]: Task failed: …`, `Origin:`, the source lines and a caret),
//! compared byte for byte with ansible-playbook's on the same playbook:
//! localhost and a second local host, so the once-per-text rule shows.
//! The one exception is a `no_log` task's message, which herd hides.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::{ansible_bin_dir, ansible_command};

const PLAYBOOK: &str = r#"- hosts: all
  gather_facts: false
  tasks:
    - name: A module fails, the same on both hosts
      command: /bin/false
      ignore_errors: true
    - name: An action fails, differently per host
      fail:
        msg: "boom {{ inventory_hostname }}"
      ignore_errors: true
    - name: Items fail
      command: "{{ item }}"
      loop: ["/bin/true", "/bin/false"]
      ignore_errors: true
    - name: failed_when on a module that did not fail
      command: /bin/true
      failed_when: true
      ignore_errors: true
    - name: failed_when on a module that failed too
      command: /bin/false
      register: out
      failed_when: out.rc != 0
      ignore_errors: true
    - name: failed_when on an action
      debug:
        msg: hi
      failed_when: true
      ignore_errors: true
    - name: A module fails again, same text as before
      command: /bin/false
      ignore_errors: true
    - name: Hidden by no_log, the message is not
      command: /bin/false
      no_log: true
      ignore_errors: true
    - block:
        - name: Rescued
          fail:
            msg: in a block
      rescue:
        - name: Rescue
          debug:
            msg: rescued
    - name: Fatal for h2
      assert:
        that: inventory_hostname == 'h1'
"#;

fn setup(root: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let python = ansible_bin_dir().join("python");
    let inv = root.join("hosts");
    std::fs::write(
        &inv,
        format!(
            "h1 ansible_connection=local ansible_python_interpreter={p}\n\
             h2 ansible_connection=local ansible_python_interpreter={p}\n",
            p = python.display()
        ),
    )
    .expect("write inventory");
    let pb = root.join("site.yml");
    std::fs::write(&pb, PLAYBOOK).expect("write playbook");
    (inv, pb)
}

fn run(cmd: &mut Command, root: &Path) -> Output {
    let (inv, pb) = setup(root);
    cmd.arg("-i")
        .arg(&inv)
        .arg(&pb)
        .arg("-f")
        .arg("1")
        .env("NO_COLOR", "1")
        .output()
        .expect("run")
}

/// The error blocks of an output, with the per-run directory made
/// comparable: from an `[ERROR]: Task failed` line through the blank line
/// after the caret.
fn errors(out: &[u8], root: &Path) -> Vec<String> {
    let text = String::from_utf8_lossy(out).replace(&root.display().to_string(), "ROOT");
    let mut blocks = Vec::new();
    let mut cur: Option<String> = None;
    for line in text.split_inclusive('\n') {
        match &mut cur {
            None if line.starts_with("[ERROR]: Task failed") => cur = Some(line.to_string()),
            None => {}
            Some(b) => {
                b.push_str(line);
                if line == "\n" && b.contains("^ column") {
                    blocks.extend(cur.take());
                }
            }
        }
    }
    blocks.extend(cur);
    blocks
}

#[test]
fn task_errors_match_ansible_playbook() {
    let ans_root = tempfile::tempdir().expect("temp dir");
    let herd_root = tempfile::tempdir().expect("temp dir");
    let ansible = run(&mut ansible_command("ansible-playbook"), ans_root.path());
    let mut herd_cmd = Command::new(env!("CARGO_BIN_EXE_herd"));
    herd_cmd.arg("playbook");
    let herd = run(&mut herd_cmd, herd_root.path());
    assert_eq!(ansible.status.code(), Some(2));
    assert_eq!(herd.status.code(), Some(2));
    let mut a = errors(&ansible.stdout, ans_root.path());
    let h = errors(&herd.stdout, herd_root.path());
    // The one deliberate difference: ansible-core 2.19 prints a no_log
    // task's failure message in this error; herd hides it, as it hides
    // the rest of a no_log result.
    for block in a.iter_mut().filter(|b| b.contains("Hidden by no_log")) {
        assert!(
            block.contains("Module failed: non-zero return code"),
            "{block}"
        );
        *block = block.replace(
            "Module failed: non-zero return code",
            "Module failed: <error censored due to no log>",
        );
    }
    assert!(h
        .iter()
        .any(|b| b.contains("<error censored due to no log>")));
    // One per distinct text: a failure with the same message on both hosts
    // is shown once, a message naming the host once per host.
    assert!(
        a.len() >= 9,
        "ansible printed:\n{}",
        String::from_utf8_lossy(&ansible.stdout)
    );
    assert_eq!(
        h,
        a,
        "herd printed:\n{}",
        String::from_utf8_lossy(&herd.stdout)
    );
    assert!(errors(&herd.stderr, herd_root.path()).is_empty());
}

#[test]
fn display_failed_stderr_moves_errors_to_stderr() {
    let root = tempfile::tempdir().expect("temp dir");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_herd"));
    cmd.arg("playbook")
        .env("ANSIBLE_DISPLAY_FAILED_STDERR", "1");
    let out = run(&mut cmd, root.path());
    assert!(errors(&out.stdout, root.path()).is_empty());
    let on_stderr = errors(&out.stderr, root.path());
    assert!(
        on_stderr
            .iter()
            .any(|b| b.starts_with("[ERROR]: Task failed: Module failed: non-zero return code\nOrigin: ROOT/site.yml:4:7\n")),
        "{on_stderr:?}"
    );
}
