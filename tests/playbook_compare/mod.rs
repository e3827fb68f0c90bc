//! Running one playbook with herd and with ansible-playbook against the
//! loopback sshd, and comparing what both record per task (status and
//! registered keys) from their JSON documents (herd's `--format json`,
//! ansible's ansible.posix.json callback).
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::common;
use crate::support::{self, Sshd};

pub fn herdtest_ids() -> (u32, u32) {
    let id = |flag: &str| -> u32 {
        let out = Command::new("id")
            .args([flag, support::USER])
            .output()
            .expect("id");
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .expect("numeric id")
    };
    (id("-u"), id("-g"))
}

/// A fresh directory on the "host" (owned by the test user).
pub fn host_root(base: &Path, name: &str) -> std::path::PathBuf {
    let (uid, gid) = herdtest_ids();
    let root = base.join(name);
    std::fs::create_dir_all(&root).expect("mkdir");
    std::os::unix::fs::chown(base, Some(uid), Some(gid)).expect("chown");
    std::os::unix::fs::chown(&root, Some(uid), Some(gid)).expect("chown");
    root
}

pub fn inventory(sshd: &Sshd, root: &Path) -> String {
    format!(
        "[target]\nhost1 {} root={}\n",
        sshd.inventory_vars(),
        root.display()
    )
}

/// Per task, in order: (name, status, registered keys).
pub type Summary = Vec<(String, String, Vec<String>)>;

pub fn summary(doc: &Value) -> Summary {
    let mut out = Vec::new();
    for play in doc["plays"].as_array().expect("plays") {
        for task in play["tasks"].as_array().expect("tasks") {
            let name = task["task"]["name"].as_str().unwrap_or("").to_string();
            let Some(r) = task["hosts"].get("host1").and_then(Value::as_object) else {
                continue;
            };
            let flag = |k: &str| r.get(k).and_then(Value::as_bool).unwrap_or(false);
            let status = if flag("failed") {
                "failed"
            } else if flag("skipped") {
                "skipped"
            } else if flag("changed") {
                "changed"
            } else {
                "ok"
            }
            .to_string();
            let keys = r
                .keys()
                .filter(|k| {
                    !k.starts_with("_ansible_")
                        && !matches!(k.as_str(), "exception" | "invocation" | "action")
                })
                .cloned()
                .collect();
            out.push((name, status, keys));
        }
    }
    out
}

pub fn parse_doc(stdout: &[u8], who: &str) -> Value {
    let text = String::from_utf8_lossy(stdout);
    let start = text
        .find('{')
        .unwrap_or_else(|| panic!("{who}: no JSON in\n{text}"));
    serde_json::from_str(&text[start..]).unwrap_or_else(|e| panic!("{who}: {e}\n{text}"))
}

pub fn run_herd(dir: &Path, inv: &Path, extra: &[&str]) -> (Value, i32) {
    let out = Command::new(env!("CARGO_BIN_EXE_herd"))
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("ANSIBLE_CONFIG")
        .env_remove("ANSIBLE_LIBRARY")
        .args(["playbook", "--format", "json", "-i"])
        .arg(inv)
        .args(extra)
        .output()
        .expect("run herd");
    (
        parse_doc(&out.stdout, "herd"),
        out.status.code().unwrap_or(-1),
    )
}

pub fn run_ansible(dir: &Path, inv: &Path, extra: &[&str]) -> (Value, i32) {
    let out = common::ansible_command("ansible-playbook")
        .current_dir(dir)
        .env("ANSIBLE_STDOUT_CALLBACK", "ansible.posix.json")
        .env(
            "ANSIBLE_COLLECTIONS_PATH",
            common::ansible_collections_path(),
        )
        .env("ANSIBLE_HOST_KEY_CHECKING", "False")
        // The test sshd has no sftp subsystem.
        .env("ANSIBLE_SSH_TRANSFER_METHOD", "piped")
        .arg("-i")
        .arg(inv)
        .args(extra)
        .output()
        .expect("run ansible-playbook");
    (
        parse_doc(&out.stdout, "ansible-playbook"),
        out.status.code().unwrap_or(-1),
    )
}

pub fn by_name(s: &Summary) -> BTreeMap<String, (String, Vec<String>)> {
    s.iter()
        .map(|(n, st, k)| (n.clone(), (st.clone(), k.clone())))
        .collect()
}
