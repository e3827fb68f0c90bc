//! `--diff` output compared byte for byte with ansible-playbook's: the same
//! playbook runs under both tools on localhost (local connection) against
//! two fresh copies of the same directory.

mod common;

use std::path::Path;
use std::process::Command;

use common::{ansible_bin_dir, ansible_command, write};

const PLAYBOOK: &str = r#"- hosts: localhost
  gather_facts: false
  tasks:
    - name: Change a line
      copy: {dest: "{{ d }}/f.txt", content: "one\nTWO\nthree\n"}
    - name: New file without a last newline
      copy: {dest: "{{ d }}/new.txt", content: "fresh\nfile"}
    - name: Absent to directory
      file: {path: "{{ d }}/sub", state: directory}
    - name: File to absent
      file: {path: "{{ d }}/g.txt", state: absent}
    - name: Append a line
      lineinfile: {path: "{{ d }}/f.txt", line: "four"}
    - name: One diff per item
      copy: {dest: "{{ d }}/{{ item }}", content: "{{ item }}\n"}
      loop: [a, b]
    - name: Far apart changes make two hunks
      copy:
        dest: "{{ d }}/long.txt"
        content: "{% for i in range(1, 21) %}{{ 'X' if i in [2, 18] else i }}\n{% endfor %}"
    - name: Unchanged shows no diff
      copy: {dest: "{{ d }}/f.txt", content: "one\nTWO\nthree\nfour\n"}
    - name: Hidden by no_log
      copy: {dest: "{{ d }}/secret", content: "s\n"}
      no_log: true
"#;

fn seed(dir: &Path) {
    write(dir, "f.txt", "one\ntwo\nthree\n");
    write(dir, "g.txt", "a\n");
    let long: String = (1..=20).map(|i| format!("{i}\n")).collect();
    write(dir, "long.txt", &long);
}

/// The diff blocks of an output: from a `--- ` line through the blank
/// line that ends the block.
fn diff_blocks(out: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut cur: Option<String> = None;
    for line in out.split_inclusive('\n') {
        match &mut cur {
            None if line.starts_with("--- ") => cur = Some(line.to_string()),
            None => {}
            Some(b) => {
                b.push_str(line);
                if line == "\n" {
                    blocks.extend(cur.take());
                }
            }
        }
    }
    blocks.extend(cur);
    blocks
}

fn run(cmd: &mut Command, root: &Path) -> String {
    let dir = root.join("d");
    seed(&dir);
    let inv = root.join("hosts");
    let python = ansible_bin_dir().join("python");
    std::fs::write(
        &inv,
        format!(
            "localhost ansible_connection=local ansible_python_interpreter={}\n",
            python.display()
        ),
    )
    .expect("write inventory");
    let pb = root.join("site.yml");
    std::fs::write(&pb, PLAYBOOK).expect("write playbook");
    let out = cmd
        .arg("-i")
        .arg(&inv)
        .arg(&pb)
        .arg("--diff")
        .arg("-e")
        .arg(format!("d={}", dir.display()))
        .env("NO_COLOR", "1")
        .output()
        .expect("run");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Both tools name the directory they ran in; make the paths comparable.
    stdout.replace(&root.display().to_string(), "ROOT")
}

#[test]
fn diff_blocks_match_ansible_playbook() {
    let ans_root = tempfile::tempdir().expect("temp dir");
    let herd_root = tempfile::tempdir().expect("temp dir");
    let ansible = run(&mut ansible_command("ansible-playbook"), ans_root.path());
    let mut herd_cmd = Command::new(env!("CARGO_BIN_EXE_herd"));
    herd_cmd.arg("playbook");
    let herd = run(&mut herd_cmd, herd_root.path());
    let a = diff_blocks(&ansible);
    let h = diff_blocks(&herd);
    // Change, new file, directory, absent, lineinfile, two items, hunks.
    assert_eq!(a.len(), 8, "ansible printed:\n{ansible}");
    assert_eq!(h, a, "herd printed:\n{herd}\nansible printed:\n{ansible}");
    // Each diff sits right before its task's result line, as in ansible.
    for block in &a {
        let after = |out: &str| {
            let i = out.find(block.as_str()).expect("block present");
            out[i + block.len()..].lines().next().map(str::to_string)
        };
        assert_eq!(after(&herd), after(&ansible), "line after {block}");
    }
}
