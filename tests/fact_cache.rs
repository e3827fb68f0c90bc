//! The fact cache, against ansible-playbook sharing the same directory:
//! herd reads a `jsonfile` cache ansible wrote and ansible reads one herd
//! wrote (gathered facts and `set_fact: cacheable`), `gathering = smart`
//! skips hosts with cached facts (no connection at all), an entry older
//! than `fact_caching_timeout` is ignored, `--flush-cache` and the prefix
//! and configuration spellings behave as Ansible's.

mod common;
mod support;

use std::path::Path;
use std::process::{Command, Output};

/// A playbook that gathers the minimal facts and sets one cacheable and
/// one plain fact.
const WRITE: &str = "- hosts: all\n  gather_subset: [min]\n  tasks:\n    - set_fact: {foo: 1, cacheable: true}\n    - set_fact: {bar: 2}\n";

/// A playbook that only reads what the cache holds.
const READ: &str = "- hosts: all\n  gather_facts: false\n  tasks:\n    - debug: {msg: \"{{ foo | default('nofoo') }} {{ bar | default('nobar') }} {{ ansible_facts.os_family | default('nofam') }} {{ ansible_user_id | default('nouser') }} {{ hostvars[inventory_hostname].ansible_facts.gather_subset | default('none') }}\"}\n";

/// A play that gathers implicitly and shows what it has.
const GATHER: &str = "- hosts: all\n  tasks:\n    - debug: {msg: \"{{ ansible_facts.gather_subset }} {{ foo | default('nofoo') }}\"}\n";

const LOCAL_INVENTORY: &str =
    "cached ansible_connection=local ansible_python_interpreter=/usr/bin/python3\n";

enum Tool {
    Herd,
    Ansible,
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Runs `playbook` (a file in `dir`) with `inventory` and the cache
/// settings `env`.
fn run(
    tool: Tool,
    dir: &Path,
    inventory: &str,
    playbook: &str,
    env: &[(&str, &str)],
    extra: &[&str],
) -> Output {
    common::write(dir, "hosts", inventory);
    let mut cmd = match tool {
        Tool::Herd => {
            let mut c = Command::new(env!("CARGO_BIN_EXE_herd"));
            c.arg("playbook")
                .env("NO_COLOR", "1")
                .stdin(std::process::Stdio::null());
            for (k, _) in std::env::vars_os() {
                if k.to_string_lossy().starts_with("ANSIBLE_") {
                    c.env_remove(k);
                }
            }
            c
        }
        Tool::Ansible => common::ansible_command("ansible-playbook"),
    };
    cmd.current_dir(dir)
        .args(["-i", "hosts", playbook])
        .args(extra);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run the playbook")
}

/// The `"msg": …` lines of the output.
fn msgs(o: &Output) -> Vec<String> {
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter(|l| l.trim_start().starts_with("\"msg\""))
        .map(|l| l.trim().to_string())
        .collect()
}

fn setup(dir: &Path) {
    common::write(dir, "write.yml", WRITE);
    common::write(dir, "read.yml", READ);
    common::write(dir, "gather.yml", GATHER);
}

fn jsonfile_env(cache: &Path) -> Vec<(&'static str, String)> {
    vec![
        ("ANSIBLE_CACHE_PLUGIN", "jsonfile".to_string()),
        (
            "ANSIBLE_CACHE_PLUGIN_CONNECTION",
            cache.display().to_string(),
        ),
    ]
}

fn env_refs<'a>(env: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    env.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

#[test]
fn ansible_reads_the_cache_herd_writes() {
    let dir = tempfile::tempdir().unwrap();
    setup(dir.path());
    let cache = dir.path().join("cache");
    let env = jsonfile_env(&cache);
    let env = env_refs(&env);
    let w = run(
        Tool::Herd,
        dir.path(),
        LOCAL_INVENTORY,
        "write.yml",
        &env,
        &[],
    );
    assert_eq!(w.status.code(), Some(0), "{}", text(&w));
    // One file per host, named and written as ansible-core names and
    // writes it.
    let file = cache.join("s1_cached");
    let body = std::fs::read_to_string(&file).expect("herd wrote s1_cached");
    assert!(
        body.starts_with("{\"__payload__\": \"{\\\"ansible_"),
        "{body:.100}"
    );
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o644
    );
    let outer: serde_json::Value = serde_json::from_str(&body).unwrap();
    let facts: serde_json::Value =
        serde_json::from_str(outer["__payload__"].as_str().unwrap()).unwrap();
    assert_eq!(facts["foo"], 1);
    assert_eq!(facts["_ansible_facts_gathered"], true);
    assert!(facts.get("bar").is_none(), "a plain set_fact is not cached");
    let a = run(
        Tool::Ansible,
        dir.path(),
        LOCAL_INVENTORY,
        "read.yml",
        &env,
        &[],
    );
    let h = run(
        Tool::Herd,
        dir.path(),
        LOCAL_INVENTORY,
        "read.yml",
        &env,
        &[],
    );
    assert_eq!(
        msgs(&a),
        msgs(&h),
        "ansible:\n{}\nherd:\n{}",
        text(&a),
        text(&h)
    );
    assert_eq!(msgs(&h), ["\"msg\": \"1 nobar Debian root ['min']\""]);
}

#[test]
fn herd_reads_the_cache_ansible_writes() {
    let dir = tempfile::tempdir().unwrap();
    setup(dir.path());
    let cache = dir.path().join("cache");
    let env = jsonfile_env(&cache);
    let env = env_refs(&env);
    let w = run(
        Tool::Ansible,
        dir.path(),
        LOCAL_INVENTORY,
        "write.yml",
        &env,
        &[],
    );
    assert_eq!(w.status.code(), Some(0), "{}", text(&w));
    assert!(cache.join("s1_cached").is_file());
    let a = run(
        Tool::Ansible,
        dir.path(),
        LOCAL_INVENTORY,
        "read.yml",
        &env,
        &[],
    );
    let h = run(
        Tool::Herd,
        dir.path(),
        LOCAL_INVENTORY,
        "read.yml",
        &env,
        &[],
    );
    assert_eq!(msgs(&h), msgs(&a), "herd:\n{}", text(&h));
    assert_eq!(msgs(&h), ["\"msg\": \"1 nobar Debian root ['min']\""]);
    // Without the cache setting nothing is remembered.
    let h = run(
        Tool::Herd,
        dir.path(),
        LOCAL_INVENTORY,
        "read.yml",
        &[],
        &[],
    );
    assert_eq!(msgs(&h), ["\"msg\": \"nofoo nobar nofam nouser none\""]);
}

/// With `gathering = smart`, a host with cached facts is not contacted:
/// the inventory points it at a closed port, and the play still runs.
#[test]
fn smart_gathering_skips_hosts_with_cached_facts() {
    let dir = tempfile::tempdir().unwrap();
    setup(dir.path());
    let cache = dir.path().join("cache");
    let mut env = jsonfile_env(&cache);
    let w = run(
        Tool::Herd,
        dir.path(),
        LOCAL_INVENTORY,
        "write.yml",
        &env_refs(&env),
        &[],
    );
    assert_eq!(w.status.code(), Some(0), "{}", text(&w));
    let closed = format!(
        "cached ansible_host=127.0.0.1 ansible_port={} ansible_user=nobody ansible_python_interpreter=/usr/bin/python3\n",
        support::free_port()
    );
    // Implicit gathering must connect, and cannot.
    let h = run(
        Tool::Herd,
        dir.path(),
        &closed,
        "gather.yml",
        &env_refs(&env),
        &[],
    );
    assert_eq!(h.status.code(), Some(4), "{}", text(&h));
    env.push(("ANSIBLE_GATHERING", "smart".into()));
    let env = env_refs(&env);
    let h = run(Tool::Herd, dir.path(), &closed, "gather.yml", &env, &[]);
    let a = run(Tool::Ansible, dir.path(), &closed, "gather.yml", &env, &[]);
    assert_eq!(h.status.code(), Some(0), "{}", text(&h));
    assert_eq!(a.status.code(), Some(0), "{}", text(&a));
    assert!(!text(&h).contains("Gathering Facts"), "{}", text(&h));
    assert_eq!(msgs(&h), msgs(&a));
    assert_eq!(msgs(&h), ["\"msg\": \"['min'] 1\""]);
    // A second play in the same run does not gather again either, even
    // with the memory cache: the first one's facts count.
    let twice = format!("{GATHER}{GATHER}");
    common::write(dir.path(), "twice.yml", &twice);
    let smart_only = [("ANSIBLE_GATHERING", "smart")];
    let h = run(
        Tool::Herd,
        dir.path(),
        LOCAL_INVENTORY,
        "twice.yml",
        &smart_only,
        &[],
    );
    let a = run(
        Tool::Ansible,
        dir.path(),
        LOCAL_INVENTORY,
        "twice.yml",
        &smart_only,
        &[],
    );
    let count = |o: &Output| text(o).matches("TASK [Gathering Facts]").count();
    assert_eq!(count(&h), 1, "{}", text(&h));
    assert_eq!(count(&a), 1);
}

/// An entry older than `fact_caching_timeout` is ignored (and smart
/// gathering asks the host again); `0` never expires.
#[test]
fn expired_entries_are_ignored() {
    let dir = tempfile::tempdir().unwrap();
    setup(dir.path());
    let cache = dir.path().join("cache");
    let mut env = jsonfile_env(&cache);
    env.push(("ANSIBLE_CACHE_PLUGIN_TIMEOUT", "3600".into()));
    let w = run(
        Tool::Herd,
        dir.path(),
        LOCAL_INVENTORY,
        "write.yml",
        &env_refs(&env),
        &[],
    );
    assert_eq!(w.status.code(), Some(0), "{}", text(&w));
    let file = cache.join("s1_cached");
    let age = |when: &str| {
        let st = Command::new("touch")
            .args(["-d", when, &file.display().to_string()])
            .status()
            .unwrap();
        assert!(st.success());
    };
    age("30 minutes ago");
    let fresh = run(
        Tool::Herd,
        dir.path(),
        LOCAL_INVENTORY,
        "read.yml",
        &env_refs(&env),
        &[],
    );
    assert_eq!(msgs(&fresh), ["\"msg\": \"1 nobar Debian root ['min']\""]);
    age("2 hours ago");
    let h = run(
        Tool::Herd,
        dir.path(),
        LOCAL_INVENTORY,
        "read.yml",
        &env_refs(&env),
        &[],
    );
    let a = run(
        Tool::Ansible,
        dir.path(),
        LOCAL_INVENTORY,
        "read.yml",
        &env_refs(&env),
        &[],
    );
    assert_eq!(msgs(&h), msgs(&a));
    assert_eq!(msgs(&h), ["\"msg\": \"nofoo nobar nofam nouser none\""]);
    let mut smart = env.clone();
    smart.push(("ANSIBLE_GATHERING", "smart".into()));
    let h = run(
        Tool::Herd,
        dir.path(),
        LOCAL_INVENTORY,
        "gather.yml",
        &env_refs(&smart),
        &[],
    );
    assert!(text(&h).contains("TASK [Gathering Facts]"), "{}", text(&h));
    assert_eq!(msgs(&h), ["\"msg\": \"['all'] nofoo\""]);
    // 0: kept forever.
    age("30 days ago");
    env[2].1 = "0".into();
    let h = run(
        Tool::Herd,
        dir.path(),
        LOCAL_INVENTORY,
        "read.yml",
        &env_refs(&env),
        &[],
    );
    assert_eq!(msgs(&h), ["\"msg\": \"nofoo nobar Debian root ['all']\""]);
}

#[test]
fn flush_cache_forgets_the_inventory_hosts() {
    let dir = tempfile::tempdir().unwrap();
    setup(dir.path());
    let cache = dir.path().join("cache");
    let env = jsonfile_env(&cache);
    let env = env_refs(&env);
    run(
        Tool::Herd,
        dir.path(),
        LOCAL_INVENTORY,
        "write.yml",
        &env,
        &[],
    );
    // A file of a host not in this inventory stays.
    std::fs::copy(cache.join("s1_cached"), cache.join("s1_elsewhere")).unwrap();
    let h = run(
        Tool::Herd,
        dir.path(),
        LOCAL_INVENTORY,
        "read.yml",
        &env,
        &["--flush-cache"],
    );
    assert_eq!(msgs(&h), ["\"msg\": \"nofoo nobar nofam nouser none\""]);
    assert!(!cache.join("s1_cached").exists());
    assert!(cache.join("s1_elsewhere").exists());
}

/// `fact_caching*` in ansible.cfg (a directory relative to the file) and a
/// prefix: the files are named as ansible names them, and ansible reads
/// them.
#[test]
fn settings_from_ansible_cfg_and_prefix() {
    let dir = tempfile::tempdir().unwrap();
    setup(dir.path());
    common::write(
        dir.path(),
        "ansible.cfg",
        "[defaults]\nfact_caching = ansible.builtin.jsonfile\nfact_caching_connection = facts_cache\nfact_caching_prefix = pre_\nfact_caching_timeout = 600\n",
    );
    let cfg = dir.path().join("ansible.cfg").display().to_string();
    let env = [("ANSIBLE_CONFIG", cfg.as_str())];
    let w = run(
        Tool::Herd,
        dir.path(),
        LOCAL_INVENTORY,
        "write.yml",
        &env,
        &[],
    );
    assert_eq!(w.status.code(), Some(0), "{}", text(&w));
    assert!(dir.path().join("facts_cache/pre_s1_cached").is_file());
    let a = run(
        Tool::Ansible,
        dir.path(),
        LOCAL_INVENTORY,
        "read.yml",
        &env,
        &[],
    );
    assert_eq!(
        msgs(&a),
        ["\"msg\": \"1 nobar Debian root ['min']\""],
        "{}",
        text(&a)
    );
    // A plugin herd does not have: Ansible's warning, then the memory cache.
    let h = run(
        Tool::Herd,
        dir.path(),
        LOCAL_INVENTORY,
        "read.yml",
        &[("ANSIBLE_CACHE_PLUGIN", "nosuch")],
        &[],
    );
    assert!(
        text(&h).contains("[WARNING]: Unable to load the cache plugin 'nosuch'."),
        "{}",
        text(&h)
    );
    assert_eq!(h.status.code(), Some(0));
}

/// A host's cached facts are in `hostvars` even when no play targets it.
#[test]
fn hostvars_of_hosts_outside_the_play_come_from_the_cache() {
    let dir = tempfile::tempdir().unwrap();
    setup(dir.path());
    let cache = dir.path().join("cache");
    let env = jsonfile_env(&cache);
    let env = env_refs(&env);
    let w = run(
        Tool::Herd,
        dir.path(),
        LOCAL_INVENTORY,
        "write.yml",
        &env,
        &[],
    );
    assert_eq!(w.status.code(), Some(0), "{}", text(&w));
    let two = "cached ansible_connection=local\nother ansible_connection=local ansible_python_interpreter=/usr/bin/python3\n";
    common::write(
        dir.path(),
        "other.yml",
        "- hosts: other\n  gather_facts: false\n  tasks:\n    - debug: {msg: \"{{ hostvars['cached'].foo | default('nofoo') }} {{ hostvars['cached'].ansible_facts.os_family | default('nofam') }} {{ foo | default('mine: nofoo') }}\"}\n",
    );
    let h = run(Tool::Herd, dir.path(), two, "other.yml", &env, &[]);
    let a = run(Tool::Ansible, dir.path(), two, "other.yml", &env, &[]);
    assert_eq!(msgs(&h), msgs(&a), "{}", text(&h));
    assert_eq!(msgs(&h), ["\"msg\": \"1 Debian mine: nofoo\""]);
}
