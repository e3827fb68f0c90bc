//! Shared helpers of the inventory tests: paths, running herd, and running
//! the reference ansible-core tools.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The fixture directory of the inventory tests.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/inventory")
}

/// A fixture path as text.
pub fn fixture(name: &str) -> String {
    fixtures().join(name).display().to_string()
}

/// The directory holding ansible-core's commands: `HERD_ANSIBLE_BIN_DIR`,
/// else `/opt/ansible-venv/bin`. The comparison tests need it: they fail,
/// never skip, when it is missing.
pub fn ansible_bin(tool: &str) -> PathBuf {
    let dir =
        std::env::var("HERD_ANSIBLE_BIN_DIR").unwrap_or_else(|_| "/opt/ansible-venv/bin".into());
    let path = Path::new(&dir).join(tool);
    assert!(
        path.is_file(),
        "{} not found: install ansible-core 2.19 there or point HERD_ANSIBLE_BIN_DIR at the directory holding {tool}",
        path.display()
    );
    path
}

fn quiet(cmd: &mut Command, cwd: &Path) -> Output {
    cmd.current_dir(cwd)
        .env("ANSIBLE_DEPRECATION_WARNINGS", "false")
        .env("ANSIBLE_NOCOLOR", "1")
        .env("ANSIBLE_LOCALHOST_WARNING", "false")
        .env_remove("ANSIBLE_INVENTORY")
        .env_remove("ANSIBLE_CONFIG")
        .output()
        .expect("command runs")
}

/// Runs `herd ARGS` in `cwd`.
pub fn herd(args: &[&str], cwd: &Path) -> Output {
    quiet(Command::new(env!("CARGO_BIN_EXE_herd")).args(args), cwd)
}

/// Runs an ansible-core tool in `cwd`.
pub fn ansible(tool: &str, args: &[&str], cwd: &Path) -> Output {
    quiet(Command::new(ansible_bin(tool)).args(args), cwd)
}

/// Asserts `herd inventory ARGS` prints on stdout exactly what
/// `ansible-inventory ARGS` prints.
pub fn same_as_ansible_inventory(args: &[&str], cwd: &Path) {
    let theirs = ansible("ansible-inventory", args, cwd);
    let mut ours_args = vec!["inventory"];
    ours_args.extend_from_slice(args);
    let ours = herd(&ours_args, cwd);
    let t = String::from_utf8_lossy(&theirs.stdout);
    let o = String::from_utf8_lossy(&ours.stdout);
    assert!(
        theirs.status.success(),
        "ansible-inventory {args:?} failed: {}",
        String::from_utf8_lossy(&theirs.stderr)
    );
    assert!(
        ours.status.success(),
        "herd inventory {args:?} failed: {}",
        String::from_utf8_lossy(&ours.stderr)
    );
    if t != o {
        let mut report = String::new();
        for (i, (a, b)) in t.lines().zip(o.lines()).enumerate() {
            if a != b {
                report = format!(
                    "first difference at line {}:\n ansible: {a}\n    herd: {b}",
                    i + 1
                );
                break;
            }
        }
        panic!(
            "herd inventory {args:?} differs from ansible-inventory ({} vs {} lines)\n{report}\n--- ansible ---\n{t}\n--- herd ---\n{o}",
            t.lines().count(),
            o.lines().count()
        );
    }
}

/// The hosts `ansible -i INV PATTERN --list-hosts [--limit L]` lists;
/// `None` when it fails.
pub fn ansible_list_hosts(
    inventory: &[&str],
    pattern: &str,
    limit: Option<&str>,
    cwd: &Path,
) -> Option<Vec<String>> {
    let mut args: Vec<&str> = Vec::new();
    for i in inventory {
        args.push("-i");
        args.push(i);
    }
    args.push(pattern);
    args.push("--list-hosts");
    if let Some(l) = limit {
        args.push("--limit");
        args.push(l);
    }
    let out = ansible("ansible", &args, cwd);
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let hosts = text
        .lines()
        .skip_while(|l| !l.trim_start().starts_with("hosts ("))
        .skip(1)
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .collect();
    Some(hosts)
}
