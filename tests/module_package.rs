//! package for real, as root, through apt with Debian's small `hello`
//! package: the same steps under ansible's package action and under
//! `herd adhoc` (no facts: the manager is detected on the host; `use`;
//! `ansible_package_use`), then a playbook whose gathered facts choose
//! the manager. Each step's result line and message, and hello's dpkg
//! state afterwards, must be the same. Needs root and a Debian mirror.

mod common;
mod module_support;
mod support;

use std::process::Command;
use std::sync::Arc;

use herd::connection::{Options, SshConnection, SshHost};
use herd_modules::api::{Controller, Host, ModuleContext, Outcome};
use serde_json::{json, Value};

fn hello_state() -> String {
    let out = Command::new("dpkg-query")
        .args(["-W", "-f=${db:Status-Abbrev}${Version}", "hello"])
        .output()
        .expect("dpkg-query runs");
    if out.status.success() {
        String::from_utf8_lossy(&out.stdout).into_owned()
    } else {
        "absent".into()
    }
}

fn purge_hello() {
    let st = Command::new("dpkg")
        .args(["--purge", "hello"])
        .output()
        .expect("dpkg runs");
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
}

/// The result line of an ad-hoc run and its `msg`.
fn summary(text: &str) -> String {
    let head = text
        .lines()
        .find(|l| l.starts_with("localhost | "))
        .unwrap_or("")
        .to_string();
    let msg = text
        .lines()
        .find(|l| l.trim_start().starts_with("\"msg\": "))
        .unwrap_or("")
        .trim()
        .to_string();
    format!("{head} {msg}")
}

const STEPS: &[(&str, &[&str])] = &[
    ("name=hello state=present", &["--check"]),
    ("name=hello state=present", &[]),
    ("name=hello state=present use=apt", &[]),
    (
        "name=hello state=present",
        &["-e", "ansible_package_use=nosuch"],
    ),
    (
        "name=hello state=absent",
        &["-e", "ansible_package_use=apt"],
    ),
    ("name=hello state=absent use=nosuch", &[]),
    ("name=hello state=absent", &[]),
    ("name=nosuchpkg-herd state=present", &[]),
];

fn run_steps(herd: bool) -> Vec<String> {
    purge_hello();
    STEPS
        .iter()
        .map(|(args, flags)| {
            let out = if herd {
                common::herd_adhoc("package", args, flags)
            } else {
                common::ansible_command("ansible")
                    .args([
                        "-e",
                        "ansible_python_interpreter=/usr/bin/python3",
                        "-i",
                        "localhost,",
                        "-c",
                        "local",
                        "all",
                        "-m",
                        "package",
                        "-a",
                        args,
                    ])
                    .args(*flags)
                    .output()
                    .expect("run ansible")
            };
            format!(
                "{args} {flags:?}: {} -> {}",
                summary(&String::from_utf8_lossy(&out.stdout)),
                hello_state()
            )
        })
        .collect()
}

#[test]
fn package_steps_match_ansible() {
    let _guard = lock();
    let a = run_steps(false);
    let h = run_steps(true);
    for (x, y) in a.iter().zip(&h) {
        assert_eq!(x, y);
    }
    assert_eq!(a.len(), h.len());
    assert!(h[1].ends_with("-> ii 2.10-3"), "{}", h[1]);
    assert!(h[3].contains("FAILED"), "{}", h[3]);
    assert!(h[6].ends_with("-> absent"), "{}", h[6]);
}

/// With gathered facts the manager comes from `ansible_pkg_mgr`: the
/// recap of a play installing hello is ansible's.
#[test]
fn package_uses_gathered_facts() {
    let _guard = lock();
    let dir = tempfile::tempdir().unwrap();
    common::write(
        dir.path(),
        "site.yml",
        "- hosts: all\n  gather_facts: true\n  tasks:\n    - assert:\n        that: ansible_pkg_mgr == 'apt'\n    - package:\n        name: hello\n        state: present\n    - package:\n        name: hello\n        state: present\n      register: again\n    - assert:\n        that: not again.changed\n",
    );
    let pb = dir.path().join("site.yml");
    let recap = |text: &str| {
        text.lines()
            .skip_while(|l| !l.starts_with("PLAY RECAP"))
            .nth(1)
            .unwrap_or("")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    purge_hello();
    let a = common::ansible_command("ansible-playbook")
        .args([
            "-e",
            "ansible_python_interpreter=/usr/bin/python3",
            "-i",
            "localhost,",
            "-c",
            "local",
        ])
        .arg(&pb)
        .output()
        .expect("run ansible-playbook");
    let a = String::from_utf8_lossy(&a.stdout).into_owned();
    assert_eq!(hello_state(), "ii 2.10-3");
    purge_hello();
    let h = Command::new(env!("CARGO_BIN_EXE_herd"))
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::null())
        .args(["playbook", "-i", "localhost,", "-c", "local"])
        .arg(&pb)
        .output()
        .expect("run herd playbook");
    let h = String::from_utf8_lossy(&h.stdout).into_owned();
    assert_eq!(hello_state(), "ii 2.10-3");
    assert_eq!(recap(&a), recap(&h), "ansible:\n{a}\nherd:\n{h}");
    assert!(recap(&h).contains("changed=1"), "{h}");
    purge_hello();
}

async fn run_package(host: &dyn Host, ctrl: &dyn Controller, args: Value, check: bool) -> Outcome {
    let args = args.as_object().expect("args are a dict").clone();
    let ctx = ModuleContext {
        host,
        controller: ctrl,
        args: &args,
        check_mode: check,
        diff: false,
        result_seen: true,
        demand: None,
    };
    herd_modules::registry::get("package")
        .expect("package is registered")
        .run(&ctx)
        .await
        .expect("the host answers")
}

/// Over real SSH as the unprivileged test user with sudo: the manager is
/// probed on the host and apt runs through become.
#[test]
fn package_over_ssh_with_sudo() {
    let _guard = lock();
    purge_hello();
    support::rt().block_on(package_over_ssh_steps());
}

async fn package_over_ssh_steps() {
    let sshd = support::Sshd::start();
    let mut s = sshd.settings();
    s.become_ = true;
    let conn = SshConnection::open(&s, &Options::default())
        .await
        .expect("connect to the test sshd");
    let host = SshHost::new("t", Arc::new(conn), &s, &Options::default());
    let env = module_support::Env::new();
    let ctrl = &env.controller;
    let o = run_package(
        &host,
        ctrl,
        json!({"name": "hello", "state": "present"}),
        true,
    )
    .await;
    assert!(o.changed && !o.failed, "{o:?}");
    assert_eq!(hello_state(), "absent");
    let o = run_package(
        &host,
        ctrl,
        json!({"name": "hello", "state": "present"}),
        false,
    )
    .await;
    assert!(o.changed && !o.failed, "{o:?}");
    assert_eq!(hello_state(), "ii 2.10-3");
    let o = run_package(
        &host,
        ctrl,
        json!({"name": ["hello"], "state": "present"}),
        false,
    )
    .await;
    assert!(!o.changed && !o.failed, "{o:?}");
    assert_eq!(o.values.get("cache_updated"), Some(&json!(false)));
    let o = run_package(
        &host,
        ctrl,
        json!({"name": "hello", "state": "absent", "use": "apt"}),
        true,
    )
    .await;
    assert!(o.changed && !o.failed, "{o:?}");
    assert_eq!(hello_state(), "ii 2.10-3");
    let o = run_package(
        &host,
        ctrl,
        json!({"name": "hello", "state": "absent", "purge": true}),
        false,
    )
    .await;
    assert!(o.changed && !o.failed, "{o:?}");
    assert_eq!(hello_state(), "absent");
    let o = run_package(
        &host,
        ctrl,
        json!({"name": "hello", "state": "bogus"}),
        false,
    )
    .await;
    assert!(o.failed, "{o:?}");
    assert_eq!(
        o.msg.as_deref(),
        Some(
            "value of state must be one of: absent, build-dep, fixed, latest, present, got: bogus"
        )
    );
    host.close().await;
}

/// The tests share dpkg's lock and hello's state.
fn lock() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}
