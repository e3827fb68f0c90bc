//! A big file copied by a playbook streams over the connection: the
//! `herd` process's peak memory stays far below the file's size, the
//! copy is byte-exact, and a second run finds it unchanged by checksum
//! (nothing sent back). Over the loopback sshd and over the `local`
//! connection; `script` pushes its file the same way.

mod support;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use support::Sshd;

/// The copied file: big enough that holding it whole would show.
const SIZE: u64 = 256 << 20;

/// Peak resident memory allowed to herd: a quarter of the file.
const RSS_LIMIT_KIB: i64 = (SIZE / 4 / 1024) as i64;

const PLAYBOOK: &str = r#"- hosts: all
  gather_facts: false
  tasks:
    - name: Big file
      ansible.builtin.copy:
        src: big.bin
        dest: "{{ root }}/big.bin"
        mode: "0640"
    - name: A directory copy, through become (a sudo shell over SSH)
      ansible.builtin.copy:
        src: tree/
        dest: "{{ root }}/tree"
      become: true
    - name: On the host, from the copy
      ansible.builtin.copy:
        src: "{{ root }}/big.bin"
        dest: "{{ root }}/big.remote"
        remote_src: true
    - name: A script run from the controller
      ansible.builtin.script: hello.sh
      changed_when: false
"#;

/// Writes `size` bytes: a 1 MiB block of a seeded xorshift stream,
/// repeated with each copy stamped with its index, so the content is
/// neither sparse nor made of equal blocks, and writing it is cheap.
fn generate(path: &Path, size: u64) {
    let mut f = std::fs::File::create(path).unwrap();
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut block = vec![0u8; 1 << 20];
    for chunk in block.chunks_mut(8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        chunk.copy_from_slice(&x.to_le_bytes());
    }
    let mut left = size;
    let mut index = 0u64;
    while left > 0 {
        block[..8].copy_from_slice(&index.to_le_bytes());
        let n = left.min(block.len() as u64) as usize;
        f.write_all(&block[..n]).unwrap();
        left -= n as u64;
        index += 1;
    }
}

fn sha1sum(path: &Path) -> String {
    let out = Command::new("sha1sum").arg(path).output().expect("sha1sum");
    assert!(out.status.success(), "sha1sum {}", path.display());
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string()
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
    /// Peak resident set size of the herd process, in KiB.
    max_rss_kib: i64,
}

/// Runs `herd playbook` and reaps it with wait4, which reports that one
/// child's peak memory.
// The child is reaped by wait4 below, which clippy cannot see.
#[allow(clippy::zombie_processes)]
fn herd(dir: &Path, args: &[&str]) -> Run {
    let child = Command::new(env!("CARGO_BIN_EXE_herd"))
        .current_dir(dir)
        .env("ANSIBLE_NOCOLOR", "1")
        .env_remove("ANSIBLE_CONFIG")
        .arg("playbook")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run herd");
    let pid = child.id() as libc::pid_t;
    let mut stdout = child.stdout.expect("piped stdout");
    let mut stderr = child.stderr.expect("piped stderr");
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut stderr, &mut s).ok();
        s
    });
    let mut out = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut out).ok();
    let err = err_reader.join().unwrap_or_default();
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value for wait4 to fill in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: wait4 on our own child, with valid pointers; the Child
    // handle is gone (its pipes were taken), so nothing else reaps it.
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(r, pid, "wait4 failed");
    Run {
        code: if libc::WIFEXITED(status) {
            libc::WEXITSTATUS(status)
        } else {
            -1
        },
        stdout: out,
        stderr: err,
        max_rss_kib: usage.ru_maxrss,
    }
}

fn recap_changed(run: &Run) -> u32 {
    let recap = run
        .stdout
        .split("PLAY RECAP")
        .nth(1)
        .unwrap_or_else(|| panic!("no recap:\n{}\n{}", run.stdout, run.stderr));
    recap
        .split_whitespace()
        .find_map(|w| w.strip_prefix("changed="))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no changed count:\n{}", run.stdout))
}

/// Sets up the project and the host's directory (owned by `owner`, when
/// given) and returns (project, root).
fn project(
    work: &Path,
    inventory_line: &str,
    owner: Option<(u32, u32)>,
) -> (std::path::PathBuf, std::path::PathBuf) {
    let project = work.join("project");
    let files = project.join("files");
    std::fs::create_dir_all(files.join("tree/sub")).unwrap();
    let started = Instant::now();
    generate(&files.join("big.bin"), SIZE);
    eprintln!("generated {SIZE} bytes in {:?}", started.elapsed());
    // Above the size up to which a file is compared by reading it back,
    // and more than one transfer chunk.
    generate(&files.join("tree/sub/part.bin"), 600_000);
    std::fs::write(files.join("tree/small.txt"), "small\n").unwrap();
    std::fs::write(
        files.join("hello.sh"),
        "#!/bin/sh\necho hello from the script\n",
    )
    .unwrap();
    std::fs::write(project.join("site.yml"), PLAYBOOK).unwrap();
    let root = work.join("host");
    std::fs::create_dir_all(&root).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(work, std::fs::Permissions::from_mode(0o755)).unwrap();
    if let Some((uid, gid)) = owner {
        std::os::unix::fs::chown(&root, Some(uid), Some(gid)).unwrap();
    }
    std::fs::write(
        project.join("inventory"),
        format!("target {inventory_line} root={}\n", root.display()),
    )
    .unwrap();
    (project, root)
}

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

fn converge_and_stay_unchanged(project: &Path, root: &Path) {
    let want = sha1sum(&project.join("files/big.bin"));
    let started = Instant::now();
    let first = herd(project, &["-i", "inventory", "site.yml", "--diff"]);
    eprintln!(
        "first run: {:?}, peak RSS {} KiB",
        started.elapsed(),
        first.max_rss_kib
    );
    assert_eq!(first.code, 0, "{}\n{}", first.stdout, first.stderr);
    assert_eq!(recap_changed(&first), 3, "{}", first.stdout);
    assert!(
        first
            .stdout
            .contains("diff skipped: source file size is greater than 104448"),
        "{}",
        first.stdout
    );
    assert!(first.stdout.contains("+small"), "{}", first.stdout);
    for name in ["big.bin", "big.remote"] {
        let meta = std::fs::metadata(root.join(name)).unwrap();
        assert_eq!(meta.len(), SIZE, "{name}");
        assert_eq!(sha1sum(&root.join(name)), want, "{name}");
    }
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(root.join("big.bin"))
            .unwrap()
            .permissions()
            .mode()
            & 0o7777,
        0o640
    );
    assert_eq!(
        sha1sum(&root.join("tree/sub/part.bin")),
        sha1sum(&project.join("files/tree/sub/part.bin"))
    );
    assert_eq!(
        std::fs::read_to_string(root.join("tree/small.txt")).unwrap(),
        "small\n"
    );
    // No temporary file is left beside the copies.
    let leftovers: Vec<_> = std::fs::read_dir(root)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".herd-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    assert!(
        first.max_rss_kib < RSS_LIMIT_KIB,
        "herd peaked at {} KiB copying a {} KiB file",
        first.max_rss_kib,
        SIZE / 1024
    );

    let started = Instant::now();
    let second = herd(project, &["-i", "inventory", "site.yml"]);
    eprintln!(
        "second run: {:?}, peak RSS {} KiB",
        started.elapsed(),
        second.max_rss_kib
    );
    assert_eq!(second.code, 0, "{}\n{}", second.stdout, second.stderr);
    assert_eq!(recap_changed(&second), 0, "{}", second.stdout);
    assert!(second.max_rss_kib < RSS_LIMIT_KIB);

    // A changed byte in the middle (same size) is found by checksum and
    // the file sent again.
    {
        use std::io::{Seek, SeekFrom};
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .open(root.join("big.bin"))
            .unwrap();
        f.seek(SeekFrom::Start(SIZE / 2)).unwrap();
        f.write_all(b"drift").unwrap();
    }
    let third = herd(project, &["-i", "inventory", "site.yml"]);
    assert_eq!(third.code, 0, "{}\n{}", third.stdout, third.stderr);
    assert!(
        third.stdout.contains("changed: [target]"),
        "{}",
        third.stdout
    );
    assert_eq!(sha1sum(&root.join("big.bin")), want);
}

#[test]
fn big_file_streams_over_ssh() {
    support::require_environment();
    let sshd = Sshd::start();
    let work = tempfile::tempdir().unwrap();
    let (project, root) = project(work.path(), &sshd.inventory_vars(), Some(herdtest_ids()));
    converge_and_stay_unchanged(&project, &root);
}

#[test]
fn big_file_streams_over_the_local_connection() {
    let work = tempfile::tempdir().unwrap();
    let (project, root) = project(work.path(), "ansible_connection=local", None);
    converge_and_stay_unchanged(&project, &root);
}
