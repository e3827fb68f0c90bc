//! `herd adhoc` prints on stdout what `ansible` prints (its `minimal`
//! output with the `[ERROR]` block before failures, `oneline` with -o) and
//! exits as it does: compared with ansible-core over `-c local`.

mod common;

use std::process::{Command, Output};

fn herd() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_herd"));
    c.env("NO_COLOR", "1")
        .env_remove("ANSIBLE_CONFIG")
        .stdin(std::process::Stdio::null());
    c.arg("adhoc");
    c
}

fn ansible() -> Command {
    let mut c = common::ansible_command("ansible");
    // The same interpreter ansible runs under, so no discovery warning.
    let python = common::ansible_bin_dir().join("python");
    c.arg("-e")
        .arg(format!("ansible_python_interpreter={}", python.display()));
    c
}

/// The output of a run with timings and times blanked.
fn normalise(out: &Output) -> String {
    let text = String::from_utf8_lossy(&out.stdout);
    let kept: Vec<String> = text.lines().map(blank_times).collect();
    kept.join("\n")
}

fn blank_times(line: &str) -> String {
    let mut out = line.to_string();
    for key in ["\"delta\": \"", "\"start\": \"", "\"end\": \""] {
        let mut from = 0;
        while let Some(i) = out[from..].find(key) {
            let start = from + i + key.len();
            let Some(len) = out[start..].find('"') else {
                break;
            };
            out.replace_range(start..start + len, "T");
            from = start + 1;
        }
    }
    out
}

fn compare(args: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let args: Vec<String> = args
        .iter()
        .map(|a| a.replace("DIR", &dir.path().display().to_string()))
        .collect();
    let common_args = ["-i", "localhost,", "-c", "local", "all"];
    let h = herd().args(common_args).args(&args).output().unwrap();
    // Ansible runs second on a fresh copy of whatever herd touched.
    let dir2 = tempfile::tempdir().unwrap();
    let args2: Vec<String> = args
        .iter()
        .map(|a| {
            a.replace(
                &dir.path().display().to_string(),
                &dir2.path().display().to_string(),
            )
        })
        .collect();
    let a = ansible().args(common_args).args(&args2).output().unwrap();
    let herd_text = normalise(&h).replace(&dir.path().display().to_string(), "DIR");
    let ansible_text = normalise(&a).replace(&dir2.path().display().to_string(), "DIR");
    assert_eq!(
        herd_text,
        ansible_text,
        "args {args:?}\nherd stderr: {}\nansible stderr: {}",
        String::from_utf8_lossy(&h.stderr),
        String::from_utf8_lossy(&a.stderr)
    );
    assert_eq!(h.status.code(), a.status.code(), "exit status for {args:?}");
}

#[test]
fn command_output_matches_ansible() {
    compare(&["-m", "command", "-a", "echo hi"]);
    compare(&["-a", "echo hi", "-o"]);
    compare(&["-a", "printf 'a\\nb\\n'", "-o"]);
    compare(&["-a", "echo hi", "-v"]);
    compare(&["-a", "echo hi", "-C"]);
}

#[test]
fn failing_command_output_matches_ansible() {
    compare(&["-m", "command", "-a", "false"]);
    compare(&["-m", "command", "-a", "false", "-o"]);
    compare(&["-m", "shell", "-a", "echo out; echo err >&2; exit 3"]);
    compare(&["-m", "shell", "-a", "echo out; echo err >&2; exit 3", "-o"]);
    compare(&["-m", "shell", "-a", "echo \"it's\" >&2; exit 1"]);
}

#[test]
fn json_module_output_matches_ansible() {
    compare(&["-m", "ping"]);
    compare(&["-m", "ping", "-o"]);
    compare(&["-m", "file", "-a", "path=DIR/x state=touch mode=0644"]);
    compare(&["-m", "file", "-a", "path=DIR/d state=directory mode=0755"]);
    compare(&["-m", "stat", "-a", "path=DIR/none"]);
    compare(&["-m", "debug", "-a", "msg=hello"]);
    compare(&["-m", "debug", "-a", "var=inventory_hostname", "-o"]);
    compare(&["-m", "ping", "-v"]);
    compare(&["-m", "raw", "-a", "echo raw"]);
    compare(&["-m", "fail", "-a", "msg=boom"]);
    compare(&["-m", "fail", "-a", "msg=boom", "-o"]);
}

#[test]
fn unreachable_host_exits_4() {
    let out = herd()
        .args(["-i", "127.0.0.1,", "-c", "ssh", "-e", "ansible_port=1"])
        .args(["all", "-m", "ping"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(4), "{text}");
    assert!(
        text.starts_with("127.0.0.1 | UNREACHABLE! => {\n"),
        "{text}"
    );
    assert!(text.contains("    \"unreachable\": true\n}"), "{text}");
}

#[test]
fn no_hosts_matched_and_bad_options_exit_as_ansible() {
    let h = herd()
        .args(["-i", "localhost,", "-c", "local", "nosuch", "-m", "ping"])
        .output()
        .unwrap();
    let a = ansible()
        .args(["-i", "localhost,", "-c", "local", "nosuch", "-m", "ping"])
        .output()
        .unwrap();
    assert_eq!(h.status.code(), a.status.code());
    assert!(String::from_utf8_lossy(&h.stderr).contains("No hosts matched, nothing to do"));
    assert!(h.stdout.is_empty());
    let h = herd()
        .args(["-i", "localhost,", "-c", "local", "all", "-m", "command"])
        .output()
        .unwrap();
    assert_eq!(h.status.code(), Some(5));
}

#[test]
fn system_module_output_matches_ansible() {
    compare(&["-m", "getent", "-a", "database=passwd key=root"]);
    compare(&["-m", "getent", "-a", "database=passwd key=herdnosuchuser"]);
    compare(&[
        "-m",
        "getent",
        "-a",
        "database=group key=herdnosuch fail_key=no",
    ]);
    compare(&["-m", "getent", "-a", "database=nosuchdb"]);
    compare(&["-m", "group", "-a", "name=root"]);
    compare(&["-m", "group", "-a", "name=herdcmpnone state=absent"]);
    compare(&["-m", "group", "-a", "name=herdcmpnone gid=43999", "-C"]);
    compare(&["-m", "user", "-a", "name=root"]);
    compare(&["-m", "user", "-a", "name=herdcmpnone state=absent"]);
    compare(&["-m", "user", "-a", "name=herdcmpnone groups=root", "-C"]);
    compare(&["-m", "user", "-a", "name=root shell=/bin/nosuch", "-C"]);
}
