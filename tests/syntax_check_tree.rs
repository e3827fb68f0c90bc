//! `herd playbook --syntax-check` on the benchmark's tree: 50 roles × 20 tasks
//! written by `bench/gen_tree.py` (the one generator, shared with
//! `bench/syntax_check.sh`).
//!
//! A clean tree passes and prints `playbook: site.yml` as ansible-playbook
//! does; an error planted in the last task of the last role is found, with
//! exit code 4 and the file and line named. ansible-playbook names the line
//! where the task starts (`- name: ...`); the line of the offending key is
//! accepted too.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn python() -> String {
    std::env::var("HERD_PYTHON").unwrap_or_else(|_| "python3".into())
}

/// Writes the tree into a fresh directory; returns it and, for a planted
/// error, `(relative path, line of the task)`.
fn generate(plant: Option<&str>) -> (tempfile::TempDir, Option<(String, usize)>) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/gen_tree.py");
    let mut cmd = Command::new(python());
    cmd.arg(&script).arg(dir.path());
    if let Some(kind) = plant {
        cmd.args(["--plant-error", kind]);
    }
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {} {}: {e}", python(), script.display()));
    assert!(
        out.status.success(),
        "bench/gen_tree.py failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let planted = stdout
        .lines()
        .find_map(|l| l.strip_prefix("planted: "))
        .map(|loc| {
            let (path, line) = loc.rsplit_once(':').expect("planted: PATH:LINE");
            (path.to_string(), line.parse().expect("a line number"))
        });
    assert_eq!(
        plant.is_some(),
        planted.is_some(),
        "generator output: {stdout}"
    );
    (dir, planted)
}

fn syntax_check(tree: &Path) -> Output {
    Command::new(PathBuf::from(env!("CARGO_BIN_EXE_herd")))
        .args([
            "playbook",
            "-i",
            "inventory.ini",
            "site.yml",
            "--syntax-check",
        ])
        .current_dir(tree)
        .env("NO_COLOR", "1")
        .output()
        .expect("herd runs")
}

fn describe(out: &Output) -> String {
    format!(
        "exit code {:?}\n--- stdout\n{}--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn clean_tree_passes() {
    let (tree, _) = generate(None);
    let out = syntax_check(tree.path());
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "\nplaybook: site.yml\n",
        "stdout should be what ansible-playbook prints\n{}",
        describe(&out)
    );
}

/// Asserts the check fails with exit code 4 and names the planted task's file
/// and line, or the line `key_offset` below it where the bad key is.
fn assert_planted_error_found(kind: &str, key_offset: usize) {
    let (tree, planted) = generate(Some(kind));
    let (path, line) = planted.expect("a planted error");
    let out = syntax_check(tree.path());
    assert_eq!(
        out.status.code(),
        Some(4),
        "a parser error exits 4\n{}",
        describe(&out)
    );
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let named = [line, line + key_offset]
        .iter()
        .any(|l| text.contains(&format!("{path}:{l}:")) || text.contains(&format!("{path}:{l}\n")));
    assert!(
        named,
        "the error should name {path}:{line} (the task) or {path}:{} (the key)\n{}",
        line + key_offset,
        describe(&out)
    );
}

#[test]
fn unknown_module_in_the_last_task_is_reported() {
    // `ansible.builtin.debgu:` is the line after `- name:`.
    assert_planted_error_found("module", 1);
}

#[test]
fn unknown_keyword_in_the_last_task_is_reported() {
    // `whenn: true` comes three lines after `- name:`.
    assert_planted_error_found("keyword", 3);
}
