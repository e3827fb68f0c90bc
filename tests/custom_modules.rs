//! Custom modules in any language, run over real SSH (a loopback sshd)
//! by herd and by ansible-playbook on the same playbook: a shell-script
//! module with `key=value` args in `library/`, a `WANT_JSON` module, a
//! role's `library/` module, a module from `-M`, check mode passed as
//! `_ansible_check_mode`, facts from `ansible_facts`, and a module whose
//! output is not JSON. Both tools' JSON documents must agree on each
//! task's status and registered keys, and both leave the same files.

mod common;
mod playbook_compare;
mod support;

use std::path::Path;

use playbook_compare::{by_name, host_root, inventory, run_ansible, run_herd, summary};
use serde_json::Value;
use support::Sshd;

/// `key=value` args: writes the `path` it is given unless in check mode,
/// and returns facts.
const KV_MODULE: &str = r#"#!/bin/sh
# Old-style module: $1 holds shell-quoted key=value pairs.
. "$1"
if [ "$_ansible_check_mode" = True ]; then
  printf '{"changed": true, "msg": "would write %s", "check": "%s"}\n' "$path" "$_ansible_check_mode"
  exit 0
fi
if [ -f "$path" ] && [ "$(cat "$path")" = "$content" ]; then
  printf '{"changed": false, "msg": "kept"}\n'
  exit 0
fi
printf '%s' "$content" > "$path"
printf '{"changed": true, "msg": "wrote %s", "ansible_facts": {"kv_written": "%s"}, "diff_flag": "%s", "verbosity": "%s"}\n' "$path" "$content" "$_ansible_diff" "$_ansible_verbosity"
"#;

/// JSON args: echoes what it was given as counts.
const JSON_MODULE: &str = r#"#!/bin/sh
# WANT_JSON
args=$(cat "$1")
case "$args" in
  *'"items": [1, 2, 3]'*) ok=yes ;;
  *) ok=no ;;
esac
echo "some banner line"
printf '{"changed": false, "rc": 0, "stdout": "line1\\nline2", "parsed_list": "%s"}\n' "$ok"
"#;

const ROLE_MODULE: &str = r#"#!/bin/sh
echo '{"changed": false, "from_role": true, "warnings": ["role module says hi"]}'
"#;

const EXTRA_MODULE: &str = r#"#!/bin/sh
. "$1"
echo "{\"changed\": false, \"greeting\": \"hello $who\"}"
"#;

const BAD_MODULE: &str = r#"#!/bin/sh
echo "this is not json"
echo "some error" >&2
exit 3
"#;

const FAILING_MODULE: &str = r#"#!/bin/sh
echo '{"failed": true, "msg": "the module refused", "rc": 2}'
"#;

const PLAYBOOK: &str = r#"- hosts: target
  gather_facts: false
  roles:
    - withlib
  tasks:
    - name: kv module
      kv: path={{ root }}/kv.txt content="hello world"
      register: kv_result
    - name: kv module again
      kv: path={{ root }}/kv.txt content="hello world"
    - name: fact from the module
      debug:
        var: kv_written
    - name: kv module in check mode
      kv: path={{ root }}/check.txt content=x
      check_mode: true
    - name: json module
      wantjson:
        items: [1, 2, 3]
        nested: {a: b}
    - name: extra library module
      extra: who=there
    - name: as root
      whoami:
      become: true
    - name: bad output
      badout:
      ignore_errors: true
    - name: failing module
      failing:
      ignore_errors: true
"#;

const ROLE_TASKS: &str = "- name: role module\n  rolemod:\n";

fn write_exec(root: &Path, rel: &str, text: &str) {
    common::write(root, rel, text);
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(root.join(rel), std::fs::Permissions::from_mode(0o755))
        .expect("chmod");
}

/// The project: playbook, library/, a role with its own library/, and
/// a separate directory for `-M`.
fn project(dir: &Path) {
    common::write(dir, "site.yml", PLAYBOOK);
    write_exec(dir, "library/kv", KV_MODULE);
    write_exec(dir, "library/wantjson.sh", JSON_MODULE);
    write_exec(dir, "library/badout", BAD_MODULE);
    write_exec(
        dir,
        "library/whoami",
        "#!/bin/sh\necho \"{\\\"changed\\\": false, \\\"user\\\": \\\"$(id -un)\\\"}\"\n",
    );
    write_exec(dir, "library/failing", FAILING_MODULE);
    write_exec(dir, "roles/withlib/library/rolemod", ROLE_MODULE);
    common::write(dir, "roles/withlib/tasks/main.yml", ROLE_TASKS);
    write_exec(dir, "extra_lib/extra", EXTRA_MODULE);
}

#[test]
fn custom_modules_behave_as_in_ansible() {
    support::require_environment();
    let sshd = Sshd::start();
    let work = tempfile::tempdir().expect("tempdir");
    let proj = work.path().join("project");
    project(&proj);
    let base = work.path().join("hosts");

    let herd_root = host_root(&base, "herd");
    let herd_inv = proj.join("herd.ini");
    std::fs::write(&herd_inv, inventory(&sshd, &herd_root)).expect("inventory");
    let (herd_doc, herd_code) =
        run_herd(&proj, &herd_inv, &["-M", "extra_lib", "site.yml", "--diff"]);

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
    let (ans_doc, ans_code) =
        run_ansible(&proj, &ans_inv, &["-M", "extra_lib", "site.yml", "--diff"]);

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

    // The module wrote what it was asked; check mode wrote nothing.
    for root in [&herd_root, &ans_root] {
        assert_eq!(
            std::fs::read_to_string(root.join("kv.txt")).expect("kv.txt"),
            "hello world"
        );
        assert!(!root.join("check.txt").exists(), "check mode wrote a file");
    }

    // The values the modules saw and returned, in herd's run.
    let results: Vec<&Value> = herd_doc["plays"][0]["tasks"]
        .as_array()
        .expect("tasks")
        .iter()
        .map(|t| &t["hosts"]["host1"])
        .collect();
    let find = |name: &str| -> &Value {
        let i = herd
            .iter()
            .position(|t| t.0 == name)
            .unwrap_or_else(|| panic!("task {name}"));
        results[i]
    };
    assert_eq!(
        find("kv module")["msg"],
        format!("wrote {}/kv.txt", herd_root.display())
    );
    assert_eq!(find("kv module")["diff_flag"], "True");
    assert_eq!(find("kv module")["verbosity"], "0");
    assert_eq!(find("fact from the module")["kv_written"], "hello world");
    assert_eq!(find("kv module in check mode")["check"], "True");
    assert_eq!(find("json module")["parsed_list"], "yes");
    assert_eq!(
        find("json module")["stdout_lines"],
        serde_json::json!(["line1", "line2"])
    );
    assert_eq!(find("extra library module")["greeting"], "hello there");
    assert_eq!(find("withlib : role module")["from_role"], true);
    assert_eq!(find("as root")["user"], "root");
    let bad = find("bad output");
    assert_eq!(
        bad["msg"],
        "Module result deserialization failed: No start of json char found"
    );
    assert_eq!(bad["module_stdout"], "this is not json\n");
    assert_eq!(bad["module_stderr"], "some error\n");
    assert_eq!(bad["rc"], 3);
    assert_eq!(find("failing module")["msg"], "the module refused");

    // Nothing is left in the host's temporary directory.
    let home_tmp = Path::new("/home").join(support::USER).join(".ansible/tmp");
    let left: Vec<String> = std::fs::read_dir(&home_tmp)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with("herd-tmp-"))
                .collect()
        })
        .unwrap_or_default();
    assert!(left.is_empty(), "left behind: {left:?}");
}

/// The recap line of a run's output.
fn recap(stdout: &[u8]) -> String {
    String::from_utf8_lossy(stdout)
        .lines()
        .find(|l| l.starts_with("localhost "))
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

#[test]
fn the_example_runs_as_under_ansible() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/playbooks/custom-modules");
    let work = tempfile::tempdir().expect("tempdir");
    let run = |program: &str, dir: &Path| -> std::process::Output {
        let workdir = format!("workdir={}", dir.display());
        if program == "herd" {
            std::process::Command::new(env!("CARGO_BIN_EXE_herd"))
                .current_dir(&example)
                .env("NO_COLOR", "1")
                .env_remove("ANSIBLE_CONFIG")
                .args([
                    "playbook",
                    "-i",
                    "inventory.ini",
                    "site.yml",
                    "-e",
                    &workdir,
                ])
                .output()
                .expect("run herd")
        } else {
            common::ansible_command("ansible-playbook")
                .current_dir(&example)
                .args(["-i", "inventory.ini", "site.yml", "-e", &workdir])
                .args(["-e", "ansible_python_interpreter=/usr/bin/python3"])
                .output()
                .expect("run ansible-playbook")
        }
    };
    let (h, a) = (work.path().join("herd"), work.path().join("ansible"));
    let herd_first = run("herd", &h);
    let ans_first = run("ansible-playbook", &a);
    assert_eq!(recap(&herd_first.stdout), recap(&ans_first.stdout));
    assert_eq!(
        recap(&herd_first.stdout),
        "localhost : ok=6 changed=4 unreachable=0 failed=0 skipped=0 rescued=0 ignored=0",
        "{}",
        String::from_utf8_lossy(&herd_first.stdout)
    );
    assert_eq!(
        recap(&run("herd", &h).stdout),
        recap(&run("ansible-playbook", &a).stdout)
    );
    for dir in [&h, &a] {
        assert_eq!(
            std::fs::read_to_string(dir.join("notes.txt")).expect("notes"),
            "herd was here\n"
        );
        assert!(dir.join("finished-at").exists());
    }
}
