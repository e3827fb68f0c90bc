//! cron against real crontabs: each step runs through `herd adhoc` on one
//! test user's crontab and through ansible's cron module on another's, and
//! the results, the diffs and the crontabs must be the same. Needs root and
//! `crontab` (installed by scripts/test.sh); the test users are its own.

mod common;

use std::process::{Command, Output};

struct Users(Vec<String>);

impl Users {
    fn new() -> Users {
        let id = Command::new("id").arg("-u").output().unwrap();
        assert_eq!(
            String::from_utf8_lossy(&id.stdout).trim(),
            "0",
            "the cron tests manage real users' crontabs and must run as root"
        );
        let base = format!("hc{}", std::process::id() % 100_000);
        let users = Users(vec![format!("{base}h"), format!("{base}a")]);
        for u in &users.0 {
            let _ = Command::new("userdel").args(["-r", u]).output();
            let ok = Command::new("useradd").args(["-M", u]).status().unwrap();
            assert!(ok.success(), "useradd {u}");
        }
        users
    }
}

impl Drop for Users {
    fn drop(&mut self) {
        for u in &self.0 {
            let _ = Command::new("crontab").args(["-u", u, "-r"]).output();
            let _ = Command::new("userdel").arg(u).output();
        }
    }
}

fn crontab_of(user: &str) -> String {
    let out = Command::new("crontab")
        .args(["-u", user, "-l"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn herd(args: &str, extra: &[&str]) -> Output {
    common::herd_adhoc("cron", args, extra)
}

fn ansible(args: &str, extra: &[&str]) -> Output {
    common::ansible_adhoc("cron", args, extra)
}

#[test]
fn crontab_edits_match_ansible() {
    let users = Users::new();
    let (h, a) = (&users.0[0], &users.0[1]);
    let steps: &[(&str, &[&str])] = &[
        (
            "name=backup minute=0 hour=2 job='/usr/bin/backup --all'",
            &["-C", "-D"],
        ),
        (
            "name=backup minute=0 hour=2 job='/usr/bin/backup --all'",
            &["-D"],
        ),
        (
            "name=backup minute=0 hour=2 job='/usr/bin/backup --all'",
            &[],
        ),
        (
            "name=backup minute=30 hour=2 job='/usr/bin/backup --all'",
            &["-D"],
        ),
        ("name=PATH env=yes job=/usr/bin:/bin", &[]),
        ("name=MAILTO env=yes job=ops insertafter=PATH", &[]),
        (
            "name=reboot special_time=reboot job=/usr/bin/at-boot disabled=yes",
            &[],
        ),
        ("name=badmix special_time=daily hour=3 job=x", &[]),
        ("name=nojob", &[]),
        ("name=PATH env=yes state=absent", &["-D"]),
        ("name=backup state=absent", &["-C"]),
        ("name=backup state=absent", &[]),
        ("name=backup state=absent", &[]),
    ];
    for (args, extra) in steps {
        let ho = herd(&format!("{args} user={h}"), extra);
        let ao = ansible(&format!("{args} user={a}"), extra);
        let ht = String::from_utf8_lossy(&ho.stdout).replace(h.as_str(), "USER");
        let at = String::from_utf8_lossy(&ao.stdout).replace(a.as_str(), "USER");
        assert_eq!(
            ht,
            at,
            "step {args} {extra:?}\nherd stderr: {}\nansible stderr: {}",
            String::from_utf8_lossy(&ho.stderr),
            String::from_utf8_lossy(&ao.stderr)
        );
        assert_eq!(ho.status.code(), ao.status.code(), "step {args}");
        assert_eq!(crontab_of(h), crontab_of(a), "crontab after step {args}");
    }
    assert!(crontab_of(h).contains("#Ansible: reboot\n#@reboot /usr/bin/at-boot\n"));
}

#[test]
fn cron_d_files_match_ansible() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display().to_string();
    let steps: &[(&str, &[&str])] = &[
        ("name=job1 cron_file=FILE job=/bin/true", &[]),
        ("name=job1 cron_file=FILE user=root job=/bin/true", &["-D"]),
        ("name=job1 cron_file=FILE user=root job=/bin/true", &[]),
        (
            "name=job2 cron_file=FILE user=nobody weekday=1 job=/bin/false",
            &[],
        ),
        ("name=job1 cron_file=FILE state=absent", &[]),
        ("name=job2 cron_file=FILE state=absent", &["-D"]),
        ("name=job2 cron_file=FILE state=absent", &[]),
    ];
    for (args, extra) in steps {
        let hf = format!("{d}/herd-jobs");
        let af = format!("{d}/ansible-jobs");
        let ho = herd(&args.replace("FILE", &hf), extra);
        let ao = ansible(&args.replace("FILE", &af), extra);
        let ht = String::from_utf8_lossy(&ho.stdout).replace(&hf, "FILE");
        let at = String::from_utf8_lossy(&ao.stdout).replace(&af, "FILE");
        assert_eq!(
            ht,
            at,
            "step {args} {extra:?}\nherd stderr: {}\nansible stderr: {}",
            String::from_utf8_lossy(&ho.stderr),
            String::from_utf8_lossy(&ao.stderr)
        );
        let read = |p: &str| std::fs::read_to_string(p).ok();
        assert_eq!(read(&hf), read(&af), "file after step {args}");
    }
}
