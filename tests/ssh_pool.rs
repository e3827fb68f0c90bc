//! The connection pool against the real loopback sshd: a fleet larger
//! than `herd_max_connections` runs to completion with sshd never
//! holding more connections than the cap (idle ones are closed and
//! reopened), and a server with a tiny `MaxStartups` that drops
//! handshakes still serves a whole fleet thanks to the handshake limit
//! and retries.

mod support;

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::Sshd;

const PLAYBOOK: &str = r#"- hosts: fleet
  gather_facts: false
  tasks:
    - name: Directory
      ansible.builtin.file:
        path: "{{ root }}/app"
        state: directory
        mode: "0755"
    - name: Name file
      ansible.builtin.copy:
        dest: "{{ root }}/app/name"
        content: "{{ inventory_hostname }}\n"
    - name: Read it back
      ansible.builtin.command: cat {{ root }}/app/name
      register: name
      changed_when: false
    - name: It is this host's
      ansible.builtin.assert:
        that: name.stdout == inventory_hostname
    - name: Second line
      ansible.builtin.lineinfile:
        path: "{{ root }}/app/extra"
        line: "n={{ n }}"
        create: true
"#;

/// A project for `count` hosts on the test sshd, each with its own
/// directory owned by the test user.
fn project(sshd: &Sshd, dir: &Path, count: usize, cfg: &str) -> Vec<String> {
    let out = Command::new("id")
        .args(["-u", support::USER])
        .output()
        .expect("id");
    let uid: u32 = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("uid");
    let base = dir.join("hosts");
    std::fs::create_dir_all(&base).expect("mkdir");
    std::os::unix::fs::chown(&base, Some(uid), None).expect("chown");
    let names: Vec<String> = (0..count).map(|i| format!("node{i:02}")).collect();
    let mut inv = String::from("[fleet]\n");
    for (i, n) in names.iter().enumerate() {
        let root = base.join(n);
        std::fs::create_dir_all(&root).expect("mkdir");
        std::os::unix::fs::chown(&root, Some(uid), None).expect("chown");
        inv.push_str(&format!(
            "{n} {} root={} n={i}\n",
            sshd.inventory_vars(),
            root.display()
        ));
    }
    std::fs::write(dir.join("hosts.ini"), inv).expect("write");
    std::fs::write(dir.join("site.yml"), PLAYBOOK).expect("write");
    std::fs::write(dir.join("ansible.cfg"), cfg).expect("write");
    names
}

struct Run {
    ok: bool,
    stdout: String,
    recap: BTreeMap<String, String>,
    most_connections: usize,
}

/// Runs herd, sampling how many connections it holds to sshd meanwhile.
fn herd(sshd: &Sshd, dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_herd"))
        .current_dir(dir)
        .env("ANSIBLE_NOCOLOR", "1")
        .env_remove("ANSIBLE_CONFIG")
        .env_remove("HERD_SSH_MAX_CONNECTIONS")
        .env_remove("HERD_SSH_MAX_HANDSHAKES")
        .args(["playbook", "-i", "hosts.ini", "site.yml"])
        .args(args)
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run herd");
    let mut stdout_pipe = child.stdout.take().expect("piped");
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout_pipe.read_to_string(&mut s);
        s
    });
    let mut most = 0;
    let start = Instant::now();
    while child.try_wait().expect("wait").is_none() {
        assert!(start.elapsed() < Duration::from_secs(300), "herd hangs");
        most = most.max(sshd.established());
        std::thread::sleep(Duration::from_millis(10));
    }
    let status = child.wait().expect("wait");
    let mut stderr = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut stderr);
    }
    let stdout = reader.join().expect("reader") + &stderr;
    let mut recap = BTreeMap::new();
    if let Some(pos) = stdout.find("PLAY RECAP") {
        for line in stdout[pos..].lines().skip(1) {
            if let Some((host, counts)) = line.split_once(" : ") {
                recap.insert(
                    host.trim().to_string(),
                    counts.split_whitespace().collect::<Vec<_>>().join(" "),
                );
            }
        }
    }
    Run {
        ok: status.success(),
        stdout,
        recap,
        most_connections: most,
    }
}

fn check_fleet(run: &Run, dir: &Path, names: &[String], changed: u32) {
    assert!(run.ok, "{}", run.stdout);
    assert_eq!(run.recap.len(), names.len(), "{}", run.stdout);
    for (i, n) in names.iter().enumerate() {
        assert_eq!(
            run.recap[n],
            format!("ok=5 changed={changed} unreachable=0 failed=0 skipped=0 rescued=0 ignored=0"),
            "{}",
            run.stdout
        );
        let text = std::fs::read_to_string(dir.join("hosts").join(n).join("app/name"))
            .expect("the host's file");
        assert_eq!(text, format!("{n}\n"));
        let text = std::fs::read_to_string(dir.join("hosts").join(n).join("app/extra"))
            .expect("the host's file");
        assert_eq!(text, format!("n={i}\n"));
    }
}

#[test]
fn more_hosts_than_the_connection_cap_run_to_completion() {
    let sshd = Sshd::start();
    let work = tempfile::tempdir().expect("tempdir");
    let dir = work.path();
    let names = project(
        &sshd,
        dir,
        30,
        "[ssh_connection]\nherd_max_connections = 5\n",
    );
    let run = herd(&sshd, dir, &[], &[]);
    check_fleet(&run, dir, &names, 3);
    // herd held about the cap, not one per host. A sample can also see
    // a closed connection whose socket is still being shut down while
    // its replacement opens (seen: up to two), so the bound has room.
    assert!(
        (1..=10).contains(&run.most_connections),
        "sshd held {} connections",
        run.most_connections
    );
    // The environment variable beats the file; the run is idempotent.
    let run = herd(&sshd, dir, &[], &[("HERD_SSH_MAX_CONNECTIONS", "3")]);
    check_fleet(&run, dir, &names, 0);
    assert!(
        (1..=6).contains(&run.most_connections),
        "sshd held {} connections",
        run.most_connections
    );
}

#[test]
fn low_max_startups_is_survived_with_the_handshake_limit() {
    let sshd = Sshd::start_with_extra(
        "UsePAM no\nPasswordAuthentication yes\nKbdInteractiveAuthentication no\n",
        "MaxStartups 2:100:2\n",
    );
    // The server really drops a third unauthenticated connection (once
    // the harness's readiness probe has gone).
    let start = Instant::now();
    while sshd.connections() > 0 && start.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(10));
    }
    // sshd may still count the probe's start for a moment after its
    // process has gone, so a held connection is retried until it is
    // greeted with a banner.
    let held: Vec<std::net::TcpStream> = (0..2)
        .map(|_| {
            let start = Instant::now();
            loop {
                let mut s =
                    std::net::TcpStream::connect(("127.0.0.1", sshd.port())).expect("connect");
                let mut banner = [0u8; 4];
                let greeted = s.read_exact(&mut banner).is_ok() && &banner == b"SSH-";
                if greeted {
                    break s;
                }
                assert!(
                    start.elapsed() < Duration::from_secs(10),
                    "sshd never greeted a held connection: {:?}",
                    String::from_utf8_lossy(&banner)
                );
                std::thread::sleep(Duration::from_millis(100));
            }
        })
        .collect();
    let mut third = std::net::TcpStream::connect(("127.0.0.1", sshd.port())).expect("connect");
    third
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let mut buf = [0u8; 64];
    let n = third.read(&mut buf).unwrap_or(0);
    let answer = String::from_utf8_lossy(&buf[..n]).into_owned();
    assert!(
        answer.is_empty() || answer.starts_with("Exceeded MaxStartups"),
        "sshd answered beyond MaxStartups: {answer:?}\n{}",
        std::fs::read_to_string(sshd.dir().join("sshd_config")).unwrap_or_default()
    );
    drop(held);

    let work = tempfile::tempdir().expect("tempdir");
    let dir = work.path();
    let names = project(&sshd, dir, 20, "");
    let run = herd(&sshd, dir, &["--forks", "20"], &[]);
    check_fleet(&run, dir, &names, 3);
}

#[test]
fn reset_connection_opens_a_new_connection() {
    let sshd = Sshd::start();
    let work = tempfile::tempdir().expect("tempdir");
    let dir = work.path();
    project(&sshd, dir, 2, "");
    // Each persistent shell has its own temporary directory: a new one
    // after the reset, the same one without.
    std::fs::write(
        dir.join("site.yml"),
        r#"- hosts: fleet
  gather_facts: false
  tasks:
    - ansible.builtin.shell: echo "$HERD_TMPDIR"
      register: a
    - ansible.builtin.shell: echo "$HERD_TMPDIR"
      register: b
    - ansible.builtin.meta: reset_connection
    - ansible.builtin.shell: echo "$HERD_TMPDIR"
      register: c
    - ansible.builtin.assert:
        that:
          - a.stdout | length > 0
          - a.stdout == b.stdout
          - b.stdout != c.stdout
"#,
    )
    .expect("write");
    let run = herd(&sshd, dir, &[], &[]);
    assert!(run.ok, "{}", run.stdout);
    assert_eq!(run.recap.len(), 2, "{}", run.stdout);
}
