//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// Where ansible-core's commands live, or a failure telling how to
/// install them. Tests that compare with Ansible never skip.
pub fn ansible_bin_dir() -> PathBuf {
    let mut tried = Vec::new();
    let mut candidates = Vec::new();
    if let Some(dir) = std::env::var_os("HERD_ANSIBLE_BIN_DIR") {
        candidates.push(PathBuf::from(dir));
    } else {
        candidates.push(Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/ansible/bin"));
        candidates.push(PathBuf::from("/opt/ansible-venv/bin"));
    }
    for dir in candidates {
        if dir.join("ansible-playbook").is_file() && dir.join("ansible-inventory").is_file() {
            return dir;
        }
        tried.push(dir.display().to_string());
    }
    panic!(
        "ansible-core 2.19 not found (looked in {}).\n\
         These tests compare herd with ansible: run scripts/test.sh, \
         which installs it, or set HERD_ANSIBLE_BIN_DIR to a directory holding \
         ansible-playbook and ansible-inventory.",
        tried.join(", ")
    );
}

/// The collections directory beside ansible's venv (`<venv>/collections`,
/// where scripts/test.sh puts the ansible.posix collection), for
/// `ANSIBLE_COLLECTIONS_PATH`, or a failure telling how to install it.
pub fn ansible_collections_path() -> PathBuf {
    let bin = ansible_bin_dir();
    let dir = bin.parent().unwrap_or(&bin).join("collections");
    let callback = dir.join("ansible_collections/ansible/posix/plugins/callback/json.py");
    assert!(
        callback.is_file(),
        "the ansible.posix collection is not installed ({} is missing).\n\
         The conformance tests compare its json callback's output with herd's: \
         run scripts/test.sh, which installs it from PyPI's `ansible` package.",
        callback.display()
    );
    dir
}

/// A command for one of ansible's programs with a clean, colourless,
/// warning-light environment.
pub fn ansible_command(program: &str) -> std::process::Command {
    let mut cmd = std::process::Command::new(ansible_bin_dir().join(program));
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("ANSIBLE_") {
            cmd.env_remove(k);
        }
    }
    cmd.env("ANSIBLE_NOCOLOR", "1")
        .env("ANSIBLE_DEPRECATION_WARNINGS", "0")
        .env("ANSIBLE_LOCALHOST_WARNING", "0")
        .env("ANSIBLE_INVENTORY_UNPARSED_WARNING", "0")
        .stdin(std::process::Stdio::null());
    cmd
}

/// Writes `text` to `root/rel`, creating directories.
pub fn write(root: &Path, rel: &str, text: &str) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().expect("a file path has a parent")).expect("mkdir");
    std::fs::write(&path, text).expect("write fixture");
}

/// `herd adhoc` with one module on the local host (`-c local`).
pub fn herd_adhoc(module: &str, args: &str, extra: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_herd"))
        .env("NO_COLOR", "1")
        .env_remove("ANSIBLE_CONFIG")
        .stdin(std::process::Stdio::null())
        .args([
            "adhoc",
            "-i",
            "localhost,",
            "-c",
            "local",
            "all",
            "-m",
            module,
            "-a",
            args,
        ])
        .args(extra)
        .output()
        .expect("run herd adhoc")
}

/// `ansible` with one module on the local host (`-c local`), under the
/// interpreter ansible itself runs with.
pub fn ansible_adhoc(module: &str, args: &str, extra: &[&str]) -> std::process::Output {
    let python = ansible_bin_dir().join("python");
    ansible_command("ansible")
        .arg("-e")
        .arg(format!("ansible_python_interpreter={}", python.display()))
        .args([
            "-i",
            "localhost,",
            "-c",
            "local",
            "all",
            "-m",
            module,
            "-a",
            args,
        ])
        .args(extra)
        .output()
        .expect("run ansible")
}
