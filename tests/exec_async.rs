//! `async:`/`poll:` and `async_status` over real SSH (a loopback sshd),
//! run by herd and by ansible-playbook on the same playbook: a polled job
//! gives the result a plain run gives; a `poll: 0` job is read later with
//! `async_status` and `until`, after `meta: reset_connection` dropped the
//! connection it was started from (the command keeps running on the host);
//! a job that outlives `async` is killed with Ansible's "Timeout
//! exceeded"; `cleanup`, a missing job, a module run async and an action
//! that refuses async. Both tools' JSON documents must agree on each
//! task's status and registered keys.

mod common;
mod playbook_compare;
mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use playbook_compare::{by_name, host_root, inventory, run_ansible, run_herd, summary};
use serde_json::Value;
use support::Sshd;

const PLAYBOOK: &str = r#"- hosts: target
  gather_facts: false
  tasks:
    - name: plain
      command: echo hi
      register: plain
    - name: polled
      command: echo hi
      async: 10
      poll: 1
      register: polled
    - name: same result
      assert:
        that:
          - polled.stdout == plain.stdout
          - polled.rc == plain.rc
          - polled.cmd == plain.cmd
          - polled.finished
          - polled.started
    - name: background
      shell: sleep 3; echo survived > {{ root }}/marker; echo out
      async: 30
      poll: 0
      register: bg
    - name: drop the connection
      meta: reset_connection
    - name: not there yet
      stat:
        path: "{{ root }}/marker"
      register: early
    - name: wait for it
      async_status:
        jid: "{{ bg.ansible_job_id }}"
      register: job
      until: job.finished
      retries: 30
      delay: 1
    - name: timed out
      command: sleep 10
      # The job is killed at 3 s, between the polls at 2 s and 4 s, so
      # neither tool's result depends on how loaded the machine is.
      async: 3
      poll: 2
      register: slow
      ignore_errors: true
    - name: cleanup
      async_status:
        jid: "{{ bg.ansible_job_id }}"
        mode: cleanup
    - name: missing job
      async_status:
        jid: j1.1
      ignore_errors: true
    - name: module run async
      file:
        path: "{{ root }}/touched"
        state: touch
      async: 10
      poll: 1
    - name: custom module async
      custom:
        word: hello
      async: 10
      poll: 1
      register: custom
    - name: as root
      command: id -un
      become: true
      async: 10
      poll: 1
      register: root_job
    - name: refuses async
      copy:
        content: x
        dest: "{{ root }}/copied"
      async: 10
      poll: 1
      ignore_errors: true
"#;

fn results(doc: &Value) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for play in doc["plays"].as_array().expect("plays") {
        for task in play["tasks"].as_array().expect("tasks") {
            let name = task["task"]["name"].as_str().unwrap_or("").to_string();
            if let Some(r) = task["hosts"].get("host1") {
                out.push((name, r.clone()));
            }
        }
    }
    out
}

#[test]
fn async_jobs_behave_as_in_ansible() {
    support::require_environment();
    let sshd = Sshd::start();
    let work = tempfile::tempdir().expect("tempdir");
    let proj = work.path().join("project");
    common::write(&proj, "site.yml", PLAYBOOK);
    common::write(
        &proj,
        "library/custom",
        "#!/bin/sh\n. \"$1\"\nsleep 1\necho \"{\\\"changed\\\": true, \\\"said\\\": \\\"$word\\\"}\"\n",
    );
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(
            proj.join("library/custom"),
            std::fs::Permissions::from_mode(0o755),
        )
        .expect("chmod");
    }
    let base = work.path().join("hosts");

    let herd_root = host_root(&base, "herd");
    let herd_inv = proj.join("herd.ini");
    std::fs::write(&herd_inv, inventory(&sshd, &herd_root)).expect("inventory");
    let (herd_doc, herd_code) = run_herd(&proj, &herd_inv, &["site.yml"]);
    // The killed job's command is gone from the host.
    let ps = Command::new("pgrep")
        .args(["-u", support::USER, "-f", "^sleep 10$"])
        .output()
        .expect("pgrep");
    assert!(
        ps.stdout.is_empty(),
        "sleep 10 still runs: {}",
        String::from_utf8_lossy(&ps.stdout)
    );

    let ans_root = host_root(&base, "ansible");
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
        herd.iter().map(|t| &t.0).collect::<Vec<_>>(),
        ans.iter().map(|t| &t.0).collect::<Vec<_>>(),
        "tasks"
    );
    assert_eq!(
        by_name(&herd),
        by_name(&ans),
        "statuses and registered keys"
    );

    let r: BTreeMap<String, Value> = results(&herd_doc).into_iter().collect();
    let bg = &r["background"];
    assert_eq!(bg["started"], true);
    assert_eq!(bg["finished"], false);
    let jid = bg["ansible_job_id"].as_str().expect("jid");
    assert!(jid.starts_with('j'), "{jid}");
    let home = Path::new("/home").join(support::USER);
    assert_eq!(
        bg["results_file"],
        home.join(".ansible_async").join(jid).display().to_string()
    );
    // Read after the connection it started on was dropped.
    assert_eq!(r["not there yet"]["stat"]["exists"], false);
    let job = &r["wait for it"];
    assert_eq!(job["finished"], true);
    assert_eq!(job["stdout"], "out");
    assert_eq!(job["rc"], 0);
    assert_eq!(
        std::fs::read_to_string(herd_root.join("marker")).expect("marker"),
        "survived\n"
    );
    let slow = &r["timed out"];
    assert_eq!(slow["msg"], "Timeout exceeded");
    assert_eq!(slow["failed"], true);
    assert!(slow["child_pid"].as_i64().is_some(), "{slow}");
    assert_eq!(r["cleanup"]["erased"], bg["results_file"]);
    assert!(
        !home.join(".ansible_async").join(jid).exists(),
        "cleanup left the job file"
    );
    assert_eq!(r["missing job"]["msg"], "could not find job");
    assert!(herd_root.join("touched").exists());
    assert_eq!(r["custom module async"]["said"], "hello");
    assert_eq!(r["custom module async"]["finished"], true);
    assert_eq!(r["as root"]["stdout"], "root");
    // No output files of the jobs are left beside the job files.
    let left: Vec<String> = std::fs::read_dir(home.join(".ansible_async"))
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| {
                    r.values().any(|v| {
                        let jid = v["ansible_job_id"].as_str().unwrap_or("-");
                        n.starts_with(&format!(".{jid}."))
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    assert!(left.is_empty(), "left behind: {left:?}");
    assert_eq!(
        r["refuses async"]["msg"],
        "This action (copy) does not support async."
    );
    assert!(!herd_root.join("copied").exists());
}

/// The `ASYNC …` lines ansible-playbook prints while polling, with the
/// job ids masked, from a run of each tool on the local connection.
fn async_lines(stdout: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(stdout)
        .lines()
        .filter(|l| l.starts_with("ASYNC "))
        .map(|l| {
            let (head, tail) = l.split_once("jid=").unwrap_or((l, ""));
            let rest = tail.split_once(' ').map(|(_, r)| r).unwrap_or("");
            format!("{head}jid=J {rest}").trim_end().to_string()
        })
        .collect()
}

#[test]
fn polling_lines_as_ansible_playbook() {
    let work = tempfile::tempdir().expect("tempdir");
    common::write(
        work.path(),
        "site.yml",
        "- hosts: all\n  gather_facts: false\n  tasks:\n\
         \x20   - command: echo hi\n      async: 10\n      poll: 1\n\
         \x20   - command: sleep 8\n      async: 3\n      poll: 2\n      ignore_errors: true\n",
    );
    let herd = Command::new(env!("CARGO_BIN_EXE_herd"))
        .current_dir(work.path())
        .env("NO_COLOR", "1")
        .env_remove("ANSIBLE_CONFIG")
        .args(["playbook", "-i", "localhost,", "-c", "local", "site.yml"])
        .output()
        .expect("run herd");
    let ansible = common::ansible_command("ansible-playbook")
        .current_dir(work.path())
        .args([
            "-i",
            "localhost,",
            "-c",
            "local",
            "-e",
            "ansible_python_interpreter=/usr/bin/python3",
            "site.yml",
        ])
        .output()
        .expect("run ansible-playbook");
    let lines = async_lines(&herd.stdout);
    assert_eq!(
        lines,
        vec![
            "ASYNC OK on localhost: jid=J",
            "ASYNC POLL on localhost: jid=J started=True finished=False",
            "ASYNC FAILED on localhost: jid=J",
        ],
        "{}",
        String::from_utf8_lossy(&herd.stdout)
    );
    assert_eq!(lines, async_lines(&ansible.stdout));
}

#[test]
fn check_mode_runs_no_async_command() {
    let work = tempfile::tempdir().expect("tempdir");
    let marker = work.path().join("marker");
    common::write(
        work.path(),
        "site.yml",
        &format!(
            "- hosts: all\n  gather_facts: false\n  tasks:\n\
             \x20   - command: touch {m}\n      async: 10\n      poll: 1\n\
             \x20   - command: touch {m}\n      async: 10\n      poll: 0\n",
            m = marker.display()
        ),
    );
    let recap = |out: &std::process::Output| -> String {
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .find(|l| l.starts_with("localhost "))
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .unwrap_or_default()
    };
    let herd = Command::new(env!("CARGO_BIN_EXE_herd"))
        .current_dir(work.path())
        .env("NO_COLOR", "1")
        .env_remove("ANSIBLE_CONFIG")
        .args([
            "playbook",
            "-C",
            "-i",
            "localhost,",
            "-c",
            "local",
            "site.yml",
        ])
        .output()
        .expect("run herd");
    std::thread::sleep(std::time::Duration::from_secs(1));
    assert!(!marker.exists(), "check mode ran the command");
    let ansible = common::ansible_command("ansible-playbook")
        .current_dir(work.path())
        .args(["-C", "-i", "localhost,", "-c", "local", "site.yml"])
        .args(["-e", "ansible_python_interpreter=/usr/bin/python3"])
        .output()
        .expect("run ansible-playbook");
    assert_eq!(
        recap(&herd),
        "localhost : ok=1 changed=1 unreachable=0 failed=0 skipped=1 rescued=0 ignored=0"
    );
    assert_eq!(recap(&herd), recap(&ansible));
}

#[test]
fn argument_errors_read_as_in_ansible_playbook() {
    let work = tempfile::tempdir().expect("tempdir");
    common::write(
        work.path(),
        "site.yml",
        "- hosts: all\n  gather_facts: false\n  tasks:\n\
         \x20   - async_status: jid=x foo=1\n      ignore_errors: true\n\
         \x20   - async_status: mode=status\n      ignore_errors: true\n\
         \x20   - async_status: jid=x mode=bogus\n      ignore_errors: true\n\
         \x20   - async_status: jid=j0.0\n      ignore_errors: true\n\
         \x20   - wait_for_connection: bogus=1\n      ignore_errors: true\n\
         \x20   - reboot:\n      ignore_errors: true\n\
         \x20   - debug: msg=hi\n      async: 5\n      ignore_errors: true\n",
    );
    let errors = |out: &std::process::Output| -> Vec<String> {
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| l.starts_with("[ERROR]") || l.starts_with("fatal:"))
            .map(str::to_string)
            .collect()
    };
    let herd = Command::new(env!("CARGO_BIN_EXE_herd"))
        .current_dir(work.path())
        .env("NO_COLOR", "1")
        .env_remove("ANSIBLE_CONFIG")
        .args(["playbook", "-i", "localhost,", "-c", "local", "site.yml"])
        .output()
        .expect("run herd");
    let ansible = common::ansible_command("ansible-playbook")
        .current_dir(work.path())
        .args(["-i", "localhost,", "-c", "local", "site.yml"])
        .args(["-e", "ansible_python_interpreter=/usr/bin/python3"])
        .output()
        .expect("run ansible-playbook");
    let herd_errors = errors(&herd);
    assert_eq!(herd_errors.len(), 14, "{herd_errors:#?}");
    assert_eq!(herd_errors, errors(&ansible));
}

/// `herd adhoc` and `ansible` with `-B`/`-P` (and a `-M` module): the same
/// keys and status line.
#[test]
fn adhoc_background_as_ansible() {
    let work = tempfile::tempdir().expect("tempdir");
    common::write(
        work.path(),
        "lib/greet",
        "#!/bin/sh\n. \"$1\"\necho \"{\\\"changed\\\": false, \\\"hello\\\": \\\"$who\\\"}\"\n",
    );
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(
            work.path().join("lib/greet"),
            std::fs::Permissions::from_mode(0o755),
        )
        .expect("chmod");
    }
    let lib = work.path().join("lib").display().to_string();
    let shape = |out: &std::process::Output| -> (String, Vec<String>) {
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let (head, body) = text.split_once(" => ").unwrap_or((&text, "{}"));
        let v: Value = serde_json::from_str(body).unwrap_or(Value::Null);
        let keys = v
            .as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default();
        (head.to_string(), keys)
    };
    let cases: [(&str, &str, Vec<&str>); 4] = [
        ("command", "echo hi", vec!["-B", "10", "-P", "0"]),
        ("command", "echo hi", vec!["-B", "10", "-P", "1"]),
        ("greet", "who=you", vec!["-M", lib.as_str()]),
        (
            "greet",
            "who=you",
            vec!["-M", lib.as_str(), "-B", "5", "-P", "1"],
        ),
    ];
    for (module, args, extra) in cases {
        let herd = common::herd_adhoc(module, args, &extra);
        let ansible = common::ansible_adhoc(module, args, &extra);
        let (h, a) = (shape(&herd), shape(&ansible));
        assert!(
            h.0.starts_with("localhost | "),
            "{}",
            String::from_utf8_lossy(&herd.stdout)
        );
        assert_eq!(h, a, "{extra:?}");
    }
}
