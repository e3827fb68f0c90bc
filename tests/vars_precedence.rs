//! Variable precedence, level by level, checked against ansible-playbook.
//!
//! The fixture defines `v1` … `vN`; level k defines every `vj` with j ≥ k,
//! each set to the level's name. So `vk` must come out as the name of
//! level k: it is defined at levels 1..=k and level k must beat the rest.
//! The same fixture runs under ansible-playbook (local connection, the
//! json callback) and through herd's precedence function.

mod common;

use std::path::Path;

use herd::inventory::Inventory;
use herd::playbook::{load_playbook, Block, LoadOptions, Task, TaskItem};
use herd::tags::TagSelection;
use herd::template::Templar;
use herd::value::{Map, Value};
use herd::vars::{host_vars, play_vars, HostScope, PlayScope};

/// Levels low to high, with where each lives in the fixture.
const LEVELS: &[&str] = &[
    "role_defaults",
    "inv_file_group_all",
    "inv_file_group_web",
    "inv_group_vars_all",
    "pb_group_vars_all",
    "inv_group_vars_web",
    "pb_group_vars_web",
    "inv_file_host",
    "inv_host_vars",
    "pb_host_vars",
    "play_vars",
    "vars_files",
    "role_vars",
    "block_vars",
    "task_vars",
    "role_params",
    "extra_vars",
];

fn yaml_vars(level: usize) -> String {
    (level..LEVELS.len())
        .map(|j| format!("v{}: {}\n", j + 1, LEVELS[level]))
        .collect()
}

fn inline_vars(level: usize, indent: &str) -> String {
    (level..LEVELS.len())
        .map(|j| format!("{indent}v{}: {}\n", j + 1, LEVELS[level]))
        .collect()
}

fn ini_vars(level: usize) -> String {
    (level..LEVELS.len())
        .map(|j| format!("v{}={}\n", j + 1, LEVELS[level]))
        .collect()
}

fn ini_inline(level: usize) -> String {
    (level..LEVELS.len())
        .map(|j| format!(" v{}={}", j + 1, LEVELS[level]))
        .collect()
}

fn lvl(name: &str) -> usize {
    LEVELS.iter().position(|l| *l == name).expect("known level")
}

fn build_fixture(root: &Path) {
    use common::write;
    write(
        root,
        "inv/hosts.ini",
        &format!(
            "[web]\nweb1 ansible_connection=local ansible_python_interpreter=auto_silent{}\n\n[all:vars]\n{}\n[web:vars]\n{}",
            ini_inline(lvl("inv_file_host")),
            ini_vars(lvl("inv_file_group_all")),
            ini_vars(lvl("inv_file_group_web")),
        ),
    );
    write(
        root,
        "inv/group_vars/all.yml",
        &yaml_vars(lvl("inv_group_vars_all")),
    );
    write(
        root,
        "inv/group_vars/web.yml",
        &yaml_vars(lvl("inv_group_vars_web")),
    );
    write(
        root,
        "inv/host_vars/web1.yml",
        &yaml_vars(lvl("inv_host_vars")),
    );
    write(
        root,
        "group_vars/all.yml",
        &yaml_vars(lvl("pb_group_vars_all")),
    );
    // A directory of files works as well as a file.
    write(
        root,
        "group_vars/web/main.yml",
        &yaml_vars(lvl("pb_group_vars_web")),
    );
    write(root, "host_vars/web1.yaml", &yaml_vars(lvl("pb_host_vars")));
    write(
        root,
        "roles/r1/defaults/main.yml",
        &yaml_vars(lvl("role_defaults")),
    );
    write(root, "roles/r1/vars/main.yml", &yaml_vars(lvl("role_vars")));
    write(root, "vars/files.yml", &yaml_vars(lvl("vars_files")));
    let all: Vec<String> = (1..=LEVELS.len()).map(|j| format!("v{j}")).collect();
    write(
        root,
        "roles/r1/tasks/main.yml",
        &format!(
            "- block:\n    - name: show\n      debug:\n        msg: \"{{{{ [{}] }}}}\"\n      vars:\n{}  vars:\n{}",
            all.join(", "),
            inline_vars(lvl("task_vars"), "        "),
            inline_vars(lvl("block_vars"), "    "),
        ),
    );
    write(
        root,
        "site.yml",
        &format!(
            "- hosts: web\n  gather_facts: false\n  vars:\n{}  vars_files:\n    - vars/files.yml\n  roles:\n    - role: r1\n{}",
            inline_vars(lvl("play_vars"), "    "),
            inline_vars(lvl("role_params"), "      "),
        ),
    );
}

fn extra_vars() -> String {
    inline_vars(lvl("extra_vars"), "")
        .lines()
        .map(|l| l.replace(": ", "="))
        .collect::<Vec<_>>()
        .join(" ")
}

fn expected() -> Vec<Value> {
    LEVELS
        .iter()
        .map(|l| Value::String(l.to_string()))
        .collect()
}

fn first_task(items: &[TaskItem]) -> Option<(Vec<&Block>, &Task)> {
    for item in items {
        match item {
            TaskItem::Task(t) => return Some((Vec::new(), t)),
            TaskItem::Block(b) => {
                if let Some((mut blocks, t)) = first_task(&b.block) {
                    blocks.insert(0, b);
                    return Some((blocks, t));
                }
            }
        }
    }
    None
}

#[test]
fn herd_merges_every_level_in_order() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    build_fixture(root);
    let inventory =
        Inventory::load(&[root.join("inv/hosts.ini").display().to_string()]).expect("inventory");
    let mut extra = Map::new();
    for pair in extra_vars().split(' ') {
        let (k, v) = pair.split_once('=').expect("k=v");
        extra.insert(k.to_string(), Value::String(v.to_string()));
    }
    let playbook =
        load_playbook(&root.join("site.yml"), &LoadOptions::default()).expect("playbook");
    let play = &playbook.plays[0];
    let templar = Templar::new();
    let tags = TagSelection::default();
    let pv = play_vars(&PlayScope {
        play,
        inventory: &inventory,
        extra_vars: &extra,
        templar: &templar,
        limit: None,
        check_mode: false,
        diff_mode: false,
        verbosity: 0,
        tags: &tags,
    })
    .expect("play vars");
    let role = &play.roles[0];
    let (blocks, task) = first_task(&role.tasks).expect("role task");
    let vars = host_vars(&HostScope {
        play: &pv,
        inventory: &inventory,
        host: "web1",
        playbook_dir: &play.playbook_dir,
        role: task.role.as_ref(),
        block_vars: blocks.iter().map(|b| &b.vars).collect(),
        task_vars: Some(&task.vars),
        facts: None,
        include_vars: None,
        set_facts: None,
        include_params: None,
    })
    .expect("host vars");
    let got: Vec<Value> = (1..=LEVELS.len())
        .map(|j| vars.get(&format!("v{j}")).cloned().unwrap_or(Value::Null))
        .collect();
    assert_eq!(got, expected());
    assert_eq!(vars["inventory_hostname"], "web1");
    assert_eq!(vars["role_name"], "r1");
    assert_eq!(vars["group_names"], serde_json::json!(["web"]));
}

#[test]
fn ansible_agrees_on_every_level() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    build_fixture(root);
    let out = common::ansible_command("ansible-playbook")
        .current_dir(root)
        .args(["-i", "inv/hosts.ini", "site.yml", "-e", &extra_vars()])
        .output()
        .expect("run ansible-playbook");
    assert!(
        out.status.success(),
        "ansible-playbook failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // The default callback prints `ok: [web1] => {json}`.
    let stdout = String::from_utf8_lossy(&out.stdout);
    let marker = "ok: [web1] => ";
    let start = stdout.find(marker).expect("a task result") + marker.len();
    let result: Value = serde_json::Deserializer::from_str(&stdout[start..])
        .into_iter::<Value>()
        .next()
        .expect("a JSON result")
        .expect("valid JSON");
    assert_eq!(
        result["msg"],
        Value::Array(expected()),
        "ansible's view of the levels"
    );
}
