//! Playbooks run over real SSH (a loopback sshd started by the test) on a
//! fleet of simulated hosts: examples/playbooks/fleet changes things on
//! the first run and nothing on the second; drift on a few hosts is reported by `--check` on
//! exactly those hosts and tasks and fixed by a real run; an unreachable
//! and a failing host leave the others to finish, with exit code 4.

mod common;
mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use support::Sshd;

const HOSTS: usize = 20;

const PLAYBOOK: &str = r#"- hosts: fleet
  gather_facts: false
  tasks:
    - name: Application directory
      ansible.builtin.file:
        path: "{{ root }}/app"
        state: directory
        mode: "0755"
    - name: Configuration
      ansible.builtin.copy:
        dest: "{{ root }}/app/app.conf"
        content: "port={{ port }}\n"
        mode: "0640"
    - name: Feature flag
      ansible.builtin.lineinfile:
        path: "{{ root }}/app/extra.conf"
        line: enabled=true
        create: true
        mode: "0644"
    - name: Marker
      ansible.builtin.command: touch {{ root }}/app/marker
      args:
        creates: "{{ root }}/app/marker"
    - name: Fail where asked
      ansible.builtin.command: /bin/false
      when: should_fail | default(false) | bool
"#;

fn herdtest_ids() -> (u32, u32) {
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

/// A directory per host, owned by the test user.
fn fleet_dirs(base: &Path, names: &[String]) {
    let (uid, gid) = herdtest_ids();
    std::os::unix::fs::chown(base, Some(uid), Some(gid)).expect("chown base");
    for name in names {
        let dir = base.join(name);
        std::fs::create_dir_all(&dir).expect("mkdir");
        std::os::unix::fs::chown(&dir, Some(uid), Some(gid)).expect("chown");
    }
}

fn inventory(sshd: &Sshd, base: &Path, names: &[String], extra: &str) -> String {
    let mut text = String::from("[fleet]\n");
    for (i, name) in names.iter().enumerate() {
        text.push_str(&format!(
            "{name} {} root={} port={}\n",
            sshd.inventory_vars(),
            base.join(name).display(),
            8000 + i
        ));
    }
    text.push_str(extra);
    text
}

struct Run {
    code: Option<i32>,
    stdout: String,
    recap: BTreeMap<String, BTreeMap<String, u32>>,
}

fn herd(dir: &Path, args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_herd"))
        .current_dir(dir)
        .env("ANSIBLE_NOCOLOR", "1")
        .env_remove("ANSIBLE_CONFIG")
        .arg("playbook")
        .args(args)
        .output()
        .expect("run herd");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut recap = BTreeMap::new();
    if let Some(pos) = stdout.find("PLAY RECAP") {
        for line in stdout[pos..].lines().skip(1) {
            let Some((host, counts)) = line.split_once(" : ") else {
                continue;
            };
            let counts = counts
                .split_whitespace()
                .filter_map(|kv| kv.split_once('='))
                .map(|(k, v)| (k.to_string(), v.parse().unwrap_or(0)))
                .collect();
            recap.insert(host.trim().to_string(), counts);
        }
    }
    assert!(
        !recap.is_empty(),
        "no recap in herd's output:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Run {
        code: out.status.code(),
        stdout,
        recap,
    }
}

fn changed(run: &Run) -> BTreeMap<String, u32> {
    run.recap
        .iter()
        .map(|(h, c)| (h.clone(), c["changed"]))
        .collect()
}

/// The example of examples/playbooks/fleet, copied so runs leave the
/// source tree alone.
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read example") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

/// `(task title, host)` for every `changed: [host]` line, under the
/// `TASK [...]` or `RUNNING HANDLER [...]` banner it follows.
fn changed_tasks(run: &Run) -> BTreeSet<(String, String)> {
    let mut seen = BTreeSet::new();
    let mut task = String::new();
    for line in run.stdout.lines() {
        for banner in ["TASK [", "RUNNING HANDLER ["] {
            if let Some(rest) = line.strip_prefix(banner) {
                if let Some((title, _)) = rest.split_once(']') {
                    task = title.to_string();
                }
            }
        }
        if let Some(rest) = line.strip_prefix("changed: [") {
            if let Some((host, _)) = rest.split_once(']') {
                seen.insert((task.clone(), host.to_string()));
            }
        }
    }
    seen
}

fn pairs(items: &[(&str, &str)]) -> BTreeSet<(String, String)> {
    items
        .iter()
        .map(|(t, h)| (t.to_string(), h.to_string()))
        .collect()
}

#[test]
fn fleet_converges_and_check_mode_finds_exactly_the_drift() {
    support::require_environment();
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/playbooks/fleet");
    // The example stays valid Ansible.
    let syntax = common::ansible_command("ansible-playbook")
        .current_dir(&example)
        .args(["-i", "inventory.example.ini", "site.yml", "--syntax-check"])
        .output()
        .expect("ansible-playbook");
    assert!(
        syntax.status.success(),
        "{}{}",
        String::from_utf8_lossy(&syntax.stdout),
        String::from_utf8_lossy(&syntax.stderr)
    );

    let sshd = Sshd::start();
    let work = tempfile::tempdir().expect("tempdir");
    let project = work.path().join("fleet");
    copy_dir(&example, &project);
    let base = work.path().join("hosts");
    std::fs::create_dir_all(&base).unwrap();
    let names: Vec<String> = (1..=HOSTS).map(|i| format!("h{i:02}")).collect();
    fleet_dirs(&base, &names);
    std::fs::write(
        project.join("hosts.ini"),
        inventory(&sshd, &base, &names, ""),
    )
    .unwrap();
    let args = ["-i", "hosts.ini", "site.yml"];

    let first = herd(&project, &args);
    assert_eq!(first.code, Some(0), "{}", first.stdout);
    for name in &names {
        // 4 common tasks, 3 app tasks and the reload handler.
        assert_eq!(first.recap[name]["changed"], 8, "{name}: {}", first.stdout);
        assert_eq!(first.recap[name]["failed"], 0);
        let root = base.join(name);
        let conf = std::fs::read_to_string(root.join("etc/fleet.conf")).unwrap();
        assert!(conf.contains("env=production\n"), "{conf}");
        let ini = std::fs::read_to_string(root.join("app/app.ini")).unwrap();
        assert!(ini.contains("port = 8080\n"), "{ini}");
        assert_eq!(
            std::fs::read_to_string(root.join("app/app.ini.loaded")).unwrap(),
            ini
        );
    }
    let second = herd(&project, &args);
    assert_eq!(second.code, Some(0));
    assert!(
        changed(&second).values().all(|c| *c == 0),
        "{}",
        second.stdout
    );

    // Drift on three hosts: a file edited, a mode changed, a directory
    // removed.
    std::fs::write(base.join("h02/app/app.ini"), "[greeter]\nport = 1\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(
        base.join("h03/etc/fleet.conf"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    std::fs::remove_dir(base.join("h04/log")).unwrap();
    let drift = [
        ("app : Application settings", "h02"),
        ("common : Main configuration", "h03"),
        ("common : Log directory", "h04"),
    ];
    let mut expected: BTreeMap<String, u32> = names.iter().map(|n| (n.clone(), 0)).collect();
    for n in ["h02", "h03", "h04"] {
        expected.insert(n.to_string(), 1);
    }

    let check = herd(&project, &["-i", "hosts.ini", "site.yml", "--check"]);
    assert_eq!(check.code, Some(0), "{}", check.stdout);
    assert_eq!(changed(&check), expected, "{}", check.stdout);
    assert_eq!(changed_tasks(&check), pairs(&drift), "{}", check.stdout);
    // Check mode touched nothing.
    assert_eq!(
        std::fs::read_to_string(base.join("h02/app/app.ini")).unwrap(),
        "[greeter]\nport = 1\n"
    );
    assert!(!base.join("h04/log").exists());

    // The real run fixes exactly the drift; the edited settings reload the
    // application on h02.
    let fix = herd(&project, &args);
    assert_eq!(fix.code, Some(0), "{}", fix.stdout);
    expected.insert("h02".to_string(), 2);
    assert_eq!(changed(&fix), expected, "{}", fix.stdout);
    let mut fixed = drift.to_vec();
    fixed.push(("app : Reload application", "h02"));
    assert_eq!(changed_tasks(&fix), pairs(&fixed), "{}", fix.stdout);
    let ini = std::fs::read_to_string(base.join("h02/app/app.ini")).unwrap();
    assert!(ini.contains("port = 8080\n"), "{ini}");
    assert_eq!(
        std::fs::read_to_string(base.join("h02/app/app.ini.loaded")).unwrap(),
        ini
    );
    let mode = std::fs::metadata(base.join("h03/etc/fleet.conf"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o644);
    assert!(base.join("h04/log").is_dir());

    let again = herd(&project, &args);
    assert_eq!(again.code, Some(0));
    assert!(
        changed(&again).values().all(|c| *c == 0),
        "{}",
        again.stdout
    );
}

#[test]
fn unreachable_and_failing_hosts_leave_the_others_to_finish() {
    support::require_environment();
    let sshd = Sshd::start();
    let work = tempfile::tempdir().expect("tempdir");
    let base = work.path().join("hosts");
    std::fs::create_dir_all(&base).unwrap();
    let names: Vec<String> = ["good1", "good2", "failing"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    fleet_dirs(&base, &names);
    let closed = support::free_port();
    let mut inv = inventory(&sshd, &base, &names, "");
    inv = inv.replace(
        "failing ansible_host",
        "failing should_fail=true ansible_host",
    );
    inv.push_str(&format!(
        "gone ansible_host=127.0.0.1 ansible_port={closed} ansible_user={} root=/nonexistent port=1\n",
        support::USER
    ));
    std::fs::write(work.path().join("site.yml"), PLAYBOOK).unwrap();
    std::fs::write(work.path().join("hosts.ini"), inv).unwrap();
    let run = herd(work.path(), &["-i", "hosts.ini", "site.yml"]);
    // Unreachable wins over failed, as in ansible-playbook.
    assert_eq!(run.code, Some(4), "{}", run.stdout);
    assert_eq!(run.recap["gone"]["unreachable"], 1, "{}", run.stdout);
    assert_eq!(run.recap["failing"]["failed"], 1, "{}", run.stdout);
    for good in ["good1", "good2"] {
        let c = &run.recap[good];
        assert_eq!(
            (c["failed"], c["unreachable"], c["changed"]),
            (0, 0, 4),
            "{good}: {}",
            run.stdout
        );
    }
    assert!(base.join("good1/app/marker").exists());
}

/// The files modules leave the owner's and group's names out of their
/// look at an existing file when nobody sees the result and no owner or
/// group is asked (the ids stand in). Asked by name, owner and group are
/// still compared by name (no change on the second run); a registered
/// result still reports the names.
#[test]
fn owners_are_compared_and_reported_by_name() {
    support::require_environment();
    let sshd = Sshd::start();
    let work = tempfile::tempdir().expect("tempdir");
    let base = work.path().join("hosts");
    std::fs::create_dir_all(&base).unwrap();
    let names: Vec<String> = vec!["h01".into(), "h02".into()];
    fleet_dirs(&base, &names);
    std::fs::write(
        work.path().join("hosts.ini"),
        inventory(&sshd, &base, &names, ""),
    )
    .unwrap();
    std::fs::write(work.path().join("t.j2"), "{{ inventory_hostname }}\n").unwrap();
    let user = support::USER;
    let playbook = format!(
        r#"- hosts: fleet
  gather_facts: false
  tasks:
    - copy: content="a\n" dest="{{{{ root }}}}/named" owner={user} group={user}
    - template: src=t.j2 dest="{{{{ root }}}}/templated" owner={user}
    - lineinfile: path="{{{{ root }}}}/edited" line=x create=true group={user}
    - copy: content="b\n" dest="{{{{ root }}}}/plain"
    - copy: content="b\n" dest="{{{{ root }}}}/plain"
      register: seen
    - debug: msg="owner={{{{ seen.owner }}}} group={{{{ seen.group }}}}"
"#
    );
    std::fs::write(work.path().join("site.yml"), playbook).unwrap();
    let args = ["-i", "hosts.ini", "site.yml"];
    let first = herd(work.path(), &args);
    assert_eq!(first.code, Some(0), "{}", first.stdout);
    let second = herd(work.path(), &args);
    assert_eq!(second.code, Some(0), "{}", second.stdout);
    assert!(
        changed(&second).values().all(|c| *c == 0),
        "{}",
        second.stdout
    );
    let shown = format!("owner={user} group={user}");
    assert_eq!(
        second.stdout.matches(&shown).count(),
        names.len(),
        "{}",
        second.stdout
    );
}
