//! The same playbooks under ansible-playbook and herd (local connection):
//! the same exit code, the same recap, the same debug messages per host.

mod common;
mod exec_support;

use std::collections::BTreeMap;

use serde_json::Value;

/// Per-host recap counters and debug messages from ansible-playbook's
/// JSON callback.
struct AnsibleRun {
    code: i32,
    stats: BTreeMap<String, [u64; 7]>,
    msgs: BTreeMap<String, Vec<String>>,
}

fn python() -> String {
    common::ansible_bin_dir()
        .join("python")
        .display()
        .to_string()
}

fn inventory() -> String {
    let py = python();
    ["h1", "h2", "h3"]
        .iter()
        .map(|h| format!("{h} ansible_connection=local ansible_python_interpreter={py}\n"))
        .fold("[web]\n".to_string(), |acc, l| acc + &l)
}

fn run_ansible(dir: &std::path::Path, extra: &[&str]) -> AnsibleRun {
    let out = common::ansible_command("ansible-playbook")
        .current_dir(dir)
        .args(extra)
        .args(["-i", "hosts", "playbook.yml", "-e"])
        .arg(format!("dir={}", dir.display()))
        .output()
        .expect("ansible-playbook runs");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let mut stats = BTreeMap::new();
    let mut msgs: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut title = String::new();
    let mut lines = text.lines();
    let mut in_recap = false;
    while let Some(line) = lines.next() {
        if let Some(rest) = line
            .strip_prefix("TASK [")
            .or_else(|| line.strip_prefix("RUNNING HANDLER ["))
        {
            title = rest.split(']').next().unwrap_or("").to_string();
            continue;
        }
        if line.starts_with("PLAY RECAP") {
            in_recap = true;
            continue;
        }
        if in_recap {
            let Some((h, rest)) = line.split_once(':') else {
                continue;
            };
            let n = |k: &str| {
                rest.split_whitespace()
                    .find_map(|f| f.strip_prefix(&format!("{k}=")))
                    .and_then(|v| v.parse::<u64>().ok())
                    .unwrap_or(0)
            };
            stats.insert(
                h.trim().to_string(),
                [
                    n("ok"),
                    n("changed"),
                    n("unreachable"),
                    n("failed"),
                    n("skipped"),
                    n("rescued"),
                    n("ignored"),
                ],
            );
            continue;
        }
        // `ok: [h1] => {` starts a result printed as JSON.
        let Some(host) = line
            .strip_prefix("ok: [")
            .and_then(|r| r.strip_suffix("] => {"))
        else {
            continue;
        };
        let mut block = String::from("{");
        for l in lines.by_ref() {
            block.push_str(l);
            if l == "}" {
                break;
            }
        }
        if is_debug(&title) {
            if let Ok(Value::Object(m)) = serde_json::from_str::<Value>(&block) {
                if let Some(msg) = m.get("msg") {
                    msgs.entry(host.to_string()).or_default().push(text_of(msg));
                }
            }
        }
    }
    AnsibleRun {
        code: out.status.code().unwrap_or(-1),
        stats,
        msgs,
    }
}

/// Titles of the tasks whose messages are compared.
fn is_debug(title: &str) -> bool {
    title == "debug" || title.ends_with(" : debug") || title.starts_with("say")
}

fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn compare(playbook: &str) {
    compare_files(&[("playbook.yml", playbook)]);
}

fn compare_files(files: &[(&str, &str)]) {
    compare_with(files, &[], |_| {});
}

fn compare_with(
    files: &[(&str, &str)],
    ansible_args: &[&str],
    tweak: impl FnOnce(&mut herd::exec::RunOptions),
) {
    let inv = inventory();
    let r = exec_support::run_with(files, &inv, tweak);
    std::fs::write(r.dir.path().join("hosts"), &inv).unwrap();
    // Files the herd run made are removed so ansible starts from the same state.
    for e in std::fs::read_dir(r.dir.path()).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        let keep = name == "hosts"
            || files
                .iter()
                .any(|(f, _)| f.split('/').next() == Some(&name));
        if !keep {
            let _ = std::fs::remove_file(e.path());
        }
    }
    let a = run_ansible(r.dir.path(), ansible_args);
    assert_eq!(
        r.result.exit_code, a.code,
        "exit code; herd events: {:?}",
        r.events
    );
    for (h, s) in &a.stats {
        let hs = r.stats(h);
        let herd = [
            hs.ok as u64,
            hs.changed as u64,
            hs.unreachable as u64,
            hs.failed as u64,
            hs.skipped as u64,
            hs.rescued as u64,
            hs.ignored as u64,
        ];
        assert_eq!(
            &herd, s,
            "recap of {h} (ok changed unreachable failed skipped rescued ignored)"
        );
    }
    for (h, msgs) in &a.msgs {
        let mine: Vec<String> = r
            .results(h)
            .into_iter()
            .filter(|(t, s, res, item)| {
                is_debug(t)
                    && item.is_none()
                    && *s == herd::report::Status::Ok
                    && !res.contains_key("results")
            })
            .filter_map(|(_, _, res, _)| res.get("msg").map(text_of))
            .collect();
        assert_eq!(&mine, msgs, "debug messages of {h}");
    }
}

#[test]
fn blocks_loops_handlers_and_failures_match_ansible() {
    compare(
        r#"
- hosts: web
  gather_facts: false
  vars:
    base: 10
  tasks:
    - command: "echo {{ item }}"
      loop: [1, 2, 3]
      when: item != 2
      register: out
    - debug:
        msg: "{{ out.results | map(attribute='skipped', default=False) | list }}"
    - block:
        - name: say fail
          command: "{{ 'false' if inventory_hostname == 'h1' else 'true' }}"
      rescue:
        - name: say rescued
          debug:
            msg: "{{ ansible_failed_task.name }} {{ ansible_failed_result.rc }}"
      always:
        - debug:
            msg: always
    - command: "false"
      ignore_errors: true
      when: inventory_hostname == 'h2'
    - command: echo changed
      changed_when: "inventory_hostname != 'h3'"
      notify: [first, topic]
    - set_fact:
        total: "{{ base + 1 }}"
    - debug:
        msg: "{{ total }} {{ ansible_play_hosts }}"
    - fail:
        msg: h3 stops
      when: inventory_hostname == 'h3'
    - debug:
        msg: after
  handlers:
    - name: first
      debug:
        msg: first handler
    - name: listener
      debug:
        msg: listener
      listen: topic
- hosts: web
  gather_facts: false
  serial: 1
  tasks:
    - debug:
        msg: "{{ ansible_play_batch }}"
    - meta: end_host
      when: inventory_hostname == 'h1'
    - debug:
        msg: "{{ inventory_hostname }} goes on"
"#,
    );
}

#[test]
fn until_loops_and_failed_when_match_ansible() {
    compare(
        r#"
- hosts: web
  gather_facts: false
  tasks:
    - shell: "echo x >> {{ dir }}/{{ inventory_hostname }}; wc -l < {{ dir }}/{{ inventory_hostname }}"
      register: c
      until: c.stdout | int >= 2
      retries: 3
      delay: 0
    - debug:
        msg: "{{ c.attempts }}"
    - command: "echo {{ item }}"
      loop: [a, b]
      register: o
      failed_when: "item == 'b' and inventory_hostname == 'h2'"
      ignore_errors: true
    - debug:
        msg: "{{ o.results | map(attribute='failed') | list }} {{ o.failed | default('none') }}"
    - set_fact:
        acc: "{{ (acc | default([])) + [item] }}"
      with_items: [[x, y], z]
    - debug:
        msg: "{{ acc }}"
"#,
    );
}

#[test]
fn includes_roles_run_once_and_delegation_match_ansible() {
    compare_files(&[
        (
            "playbook.yml",
            r#"
- hosts: web
  gather_facts: false
  roles:
    - role: r
      who: role-param
  tasks:
    - include_tasks: "inc.yml"
      loop: [1, 2]
      loop_control:
        loop_var: n
    - command: "echo {{ inventory_hostname }}"
      run_once: true
      register: once
    - debug:
        msg: "{{ once.stdout }}"
    - command: "echo {{ inventory_hostname }}"
      delegate_to: localhost
      register: d
    - debug:
        msg: "{{ d.stdout }}"
    - include_role:
        name: r
        tasks_from: other
      when: inventory_hostname != 'h2'
- hosts: web
  gather_facts: false
  any_errors_fatal: true
  tasks:
    - fail:
        msg: stop
      when: inventory_hostname == 'h2'
    - debug:
        msg: never
"#,
        ),
        (
            "inc.yml",
            "- debug:\n    msg: \"inc {{ n }} {{ inventory_hostname }}\"\n",
        ),
        (
            "roles/r/tasks/main.yml",
            "- debug:\n    msg: \"role {{ who }}\"\n- command: echo x\n  notify: rh\n",
        ),
        ("roles/r/tasks/other.yml", "- debug:\n    msg: other\n"),
        (
            "roles/r/handlers/main.yml",
            "- name: rh\n  debug:\n    msg: role handler\n",
        ),
    ]);
}

#[test]
fn tags_check_mode_and_free_strategy_match_ansible() {
    let pb = r#"
- hosts: web
  gather_facts: false
  strategy: free
  tasks:
    - command: "touch {{ dir }}/{{ inventory_hostname }}"
      tags: [files]
    - command: echo forced
      check_mode: false
      register: f
      tags: [files]
    - debug:
        msg: "{{ f.stdout }} {{ ansible_check_mode }}"
      tags: [always]
    - debug:
        msg: untagged
    - debug:
        msg: never
      tags: [never]
    - block:
        - debug:
            msg: in block
      tags: [files]
"#;
    compare_with(&[("playbook.yml", pb)], &["-C", "-t", "files"], |o| {
        o.check = true;
        o.tags = herd::tags::TagSelection::new(&["files".into()], &[]);
    });
}
