//! Playbooks run over real SSH (a loopback sshd started by the test) on a
//! fleet of simulated hosts: the first run changes things, the second
//! changes nothing; drift on a few hosts is reported by `--check` on
//! exactly those hosts and tasks and fixed by a real run; an unreachable
//! and a failing host leave the others to finish, with exit code 4.

mod support;

use std::collections::BTreeMap;
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

#[test]
fn fleet_converges_and_check_mode_finds_exactly_the_drift() {
    support::require_environment();
    let sshd = Sshd::start();
    let work = tempfile::tempdir().expect("tempdir");
    let base = work.path().join("hosts");
    std::fs::create_dir_all(&base).unwrap();
    let names: Vec<String> = (1..=HOSTS).map(|i| format!("h{i:02}")).collect();
    fleet_dirs(&base, &names);
    std::fs::write(work.path().join("site.yml"), PLAYBOOK).unwrap();
    std::fs::write(
        work.path().join("hosts.ini"),
        inventory(&sshd, &base, &names, ""),
    )
    .unwrap();
    let args = ["-i", "hosts.ini", "site.yml"];

    let first = herd(work.path(), &args);
    assert_eq!(first.code, Some(0), "{}", first.stdout);
    for name in &names {
        assert_eq!(first.recap[name]["changed"], 4, "{name}: {}", first.stdout);
        assert_eq!(first.recap[name]["failed"], 0);
        let conf = std::fs::read_to_string(base.join(name).join("app/app.conf")).unwrap();
        assert!(conf.starts_with("port=80"), "{conf}");
    }
    let second = herd(work.path(), &args);
    assert_eq!(second.code, Some(0));
    assert!(
        changed(&second).values().all(|c| *c == 0),
        "{}",
        second.stdout
    );

    // Drift on three hosts: content edited, a mode changed, a file removed.
    std::fs::write(base.join("h02/app/app.conf"), "port=1\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(
        base.join("h03/app/app.conf"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    std::fs::remove_file(base.join("h04/app/extra.conf")).unwrap();
    let mut expected: BTreeMap<String, u32> = names.iter().map(|n| (n.clone(), 0)).collect();
    for n in ["h02", "h03", "h04"] {
        expected.insert(n.to_string(), 1);
    }

    let check = herd(work.path(), &["-i", "hosts.ini", "site.yml", "--check"]);
    assert_eq!(check.code, Some(0), "{}", check.stdout);
    assert_eq!(changed(&check), expected, "{}", check.stdout);
    // Check mode touched nothing.
    assert_eq!(
        std::fs::read_to_string(base.join("h02/app/app.conf")).unwrap(),
        "port=1\n"
    );
    assert!(!base.join("h04/app/extra.conf").exists());

    let fix = herd(work.path(), &args);
    assert_eq!(changed(&fix), expected, "{}", fix.stdout);
    assert_eq!(
        std::fs::read_to_string(base.join("h02/app/app.conf")).unwrap(),
        "port=8001\n"
    );
    let mode = std::fs::metadata(base.join("h03/app/app.conf"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o640);
    let again = herd(work.path(), &args);
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
