//! `reboot` and `wait_for_connection` over real SSH (a loopback sshd),
//! run by herd and by ansible-playbook on the same playbook. The "reboot"
//! is a script on the host that drops the SSH session it runs in (as a
//! real reboot does) and changes, two seconds later, the boot id that
//! `boot_time_command` reads: the action must open the connection again
//! and compare boot ids. The default reboot command is found on
//! `search_paths` and given Ansible's arguments (`-r MINUTES "MSG"`);
//! check mode runs nothing; a boot id that never changes times out with
//! Ansible's message; an unknown option is refused. Both tools' JSON
//! documents must agree on each task's status and registered keys.

mod common;
mod playbook_compare;
mod support;

use std::collections::BTreeMap;
use std::path::Path;

use playbook_compare::{by_name, host_root, inventory, run_ansible, run_herd, summary};
use serde_json::Value;
use support::Sshd;

/// Drops the SSH session it runs under and changes the boot id later.
const FAKE_REBOOT: &str = r#"#!/bin/sh
root=$(dirname "$(dirname "$0")")
echo run >> "$root/reboots"
setsid sh -c 'sleep 2; date +%s%N > "$1/boot_id"' fake-boot "$root" </dev/null >/dev/null 2>&1 &
p=$$
while [ "$p" -gt 1 ]; do
  p=$(cut -d' ' -f4 /proc/$p/stat)
  case "$(cat /proc/$p/comm)" in
    sshd*) kill "$p"; break ;;
  esac
done
"#;

/// The `shutdown` found on the search path: records its arguments, then
/// "reboots".
const FAKE_SHUTDOWN: &str = r#"#!/bin/sh
root=$(dirname "$(dirname "$0")")
printf '%s|' "$@" > "$root/shutdown-args"
exec "$root/bin/fake-reboot"
"#;

const PLAYBOOK: &str = r#"- hosts: target
  gather_facts: false
  tasks:
    - name: check mode reboot
      reboot:
        reboot_command: "{{ root }}/bin/fake-reboot"
        boot_time_command: "cat {{ root }}/boot_id"
      check_mode: true
    - name: reboot
      reboot:
        search_paths: ["{{ root }}/bin"]
        boot_time_command: "cat {{ root }}/boot_id"
        pre_reboot_delay: 120
        msg: going down
      register: rb
    - name: reboot that never happens
      reboot:
        reboot_command: /bin/true
        boot_time_command: "cat {{ root }}/boot_id"
        reboot_timeout: 3
      ignore_errors: true
    - name: wait
      wait_for_connection:
        timeout: 10
    - name: wait in check mode
      wait_for_connection:
      check_mode: true
    - name: bad option
      reboot:
        nope: 1
      ignore_errors: true
"#;

fn write_exec(root: &Path, rel: &str, text: &str) {
    common::write(root, rel, text);
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(root.join(rel), std::fs::Permissions::from_mode(0o755))
        .expect("chmod");
}

fn prepare(root: &Path) {
    write_exec(root, "bin/fake-reboot", FAKE_REBOOT);
    write_exec(root, "bin/shutdown", FAKE_SHUTDOWN);
    std::fs::write(root.join("boot_id"), "first-boot\n").expect("boot_id");
    // The scripts write beside themselves as the test user.
    for p in ["", "bin", "boot_id"] {
        let _ = std::process::Command::new("chown")
            .args([support::USER, &root.join(p).display().to_string()])
            .status();
    }
}

fn results(doc: &Value) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    for play in doc["plays"].as_array().expect("plays") {
        for task in play["tasks"].as_array().expect("tasks") {
            let name = task["task"]["name"].as_str().unwrap_or("").to_string();
            if let Some(r) = task["hosts"].get("host1") {
                out.insert(name, r.clone());
            }
        }
    }
    out
}

#[test]
fn reboot_and_wait_for_connection_behave_as_in_ansible() {
    support::require_environment();
    let sshd = Sshd::start();
    let work = tempfile::tempdir().expect("tempdir");
    let proj = work.path().join("project");
    common::write(&proj, "site.yml", PLAYBOOK);
    let base = work.path().join("hosts");

    let herd_root = host_root(&base, "herd");
    prepare(&herd_root);
    let herd_inv = proj.join("herd.ini");
    std::fs::write(&herd_inv, inventory(&sshd, &herd_root)).expect("inventory");
    let (herd_doc, herd_code) = run_herd(&proj, &herd_inv, &["site.yml"]);

    let ans_root = host_root(&base, "ansible");
    prepare(&ans_root);
    let ans_inv = proj.join("ansible.ini");
    // The interpreter is named so ansible's discovery warning stays out.
    std::fs::write(
        &ans_inv,
        inventory(&sshd, &ans_root).replace(
            " root=",
            " ansible_python_interpreter=/usr/bin/python3 root=",
        ),
    )
    .expect("inventory");
    let (ans_doc, ans_code) = run_ansible(&proj, &ans_inv, &["site.yml"]);

    assert_eq!(herd_code, ans_code, "exit codes");
    let herd = summary(&herd_doc);
    let ans = summary(&ans_doc);
    assert_eq!(
        by_name(&herd),
        by_name(&ans),
        "statuses and registered keys"
    );

    let r = results(&herd_doc);
    assert_eq!(r["check mode reboot"]["rebooted"], true);
    let rb = &r["reboot"];
    assert_eq!(rb["rebooted"], true, "{rb}");
    assert_eq!(rb["changed"], true);
    assert!(rb["elapsed"].as_u64().is_some(), "{rb}");
    for root in [&herd_root, &ans_root] {
        // One reboot ran (check mode ran none), with Ansible's arguments.
        assert_eq!(
            std::fs::read_to_string(root.join("reboots")).expect("reboots"),
            "run\n"
        );
        assert_eq!(
            std::fs::read_to_string(root.join("shutdown-args")).expect("args"),
            "-r|2|going down|"
        );
        let id = std::fs::read_to_string(root.join("boot_id")).expect("boot_id");
        assert_ne!(id, "first-boot\n");
    }
    assert_eq!(
        r["reboot that never happens"]["msg"],
        "Timed out waiting for last boot time check (timeout=3)"
    );
    assert_eq!(r["reboot that never happens"]["rebooted"], true);
    assert!(r["wait"]["elapsed"].as_u64().is_some());
    assert_eq!(r["wait in check mode"]["skipped"], true);
    assert_eq!(r["bad option"]["msg"], "Invalid options for reboot: nope");
}
