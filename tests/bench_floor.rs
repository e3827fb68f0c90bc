//! The benchmark floor program (bench/ssh_floor.rs) against a real sshd:
//! it runs each host's commands over its persistent shell, and a failing
//! command makes it exit non-zero naming the host and the command.

mod support;

use std::path::Path;
use std::process::{Command, Output};

/// Runs `cargo run --example ssh_floor` against `sshd` with 3 hosts.
fn floor(sshd: &support::Sshd, commands: &Path) -> Output {
    let mut cargo = Command::new(env!("CARGO"));
    // The variables cargo sets for this test describe the herd package;
    // ring's build script tracks CARGO_PKG_NAME and friends, so passing
    // them on would rebuild ring, russh and herd on every run.
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        if [
            "CARGO_PKG_",
            "CARGO_MANIFEST_",
            "CARGO_BIN_",
            "CARGO_CRATE_",
            "CARGO_PRIMARY_",
        ]
        .iter()
        .any(|p| name.starts_with(p))
            || name == "CARGO_TARGET_TMPDIR"
        {
            cargo.env_remove(name.as_ref());
        }
    }
    cargo.current_dir(env!("CARGO_MANIFEST_DIR"));
    cargo.args(["run", "--quiet", "--example", "ssh_floor"]);
    // The profile this test was built with, whose dependencies are built.
    if !cfg!(debug_assertions) {
        cargo.arg("--release");
    }
    cargo
        .arg("--")
        .args(["--port", &sshd.port().to_string()])
        .args(["--user", support::USER])
        .arg("--key")
        .arg(sshd.client_key_path())
        .args(["--hosts", "3", "--max-handshakes", "2"])
        .arg("--commands")
        .arg(commands)
        .output()
        .expect("run cargo")
}

#[test]
fn runs_each_hosts_commands_over_one_shell() {
    let sshd = support::Sshd::start();
    let work = tempfile::tempdir().expect("temporary directory");
    let out_dir = work.path().join("out");
    std::fs::create_dir(&out_dir).expect("mkdir out");
    // The test user writes here.
    std::fs::set_permissions(
        &out_dir,
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .expect("chmod 777");
    support::chmod_755(work.path());
    let d = out_dir.display();
    let commands = work.path().join("commands");
    std::fs::write(
        &commands,
        format!(
            "mkdir -p {d}/{{host}} && printf x > {d}/{{host}}/f\n\n\
             cat # reads /dev/null, not the next command\n\
             test \"$(cat {d}/{{host}}/f)\" = x\n"
        ),
    )
    .expect("write commands");

    let out = floor(&sshd, &commands);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "ssh_floor failed: {}{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = stdout.trim_end();
    assert!(
        line.starts_with("hosts=3 commands=3 wall=") && !line.contains('\n'),
        "unexpected stdout: {stdout:?}"
    );
    for host in ["h0001", "h0002", "h0003"] {
        let f = out_dir.join(host).join("f");
        assert_eq!(
            std::fs::read_to_string(&f).unwrap_or_default(),
            "x",
            "{} was not written",
            f.display()
        );
    }
    assert!(!out_dir.join("h0004").exists());

    // A failing command: non-zero exit, host and command named.
    std::fs::write(&commands, "true\ntest {host} != h0002\n").expect("write commands");
    let out = floor(&sshd, &commands);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "a failing command must fail the run");
    assert!(out.stdout.is_empty(), "stdout: {:?}", out.stdout);
    assert!(
        stderr.contains("h0002") && stderr.contains("test h0002 != h0002"),
        "stderr does not name the host and command: {stderr}"
    );
    assert!(
        !stderr.contains("h0001:") && !stderr.contains("h0003:"),
        "{stderr}"
    );

    std::fs::write(&commands, "false\n").expect("write commands");
    let out = floor(&sshd, &commands);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "`false` must fail the run");
    assert!(
        stderr.contains("h0001: command `false` exited with status 1"),
        "{stderr}"
    );
}

/// The floor itself: 50 hosts × 12 trivial commands, three runs, with the
/// release build (`cargo build --release --example ssh_floor` first):
/// `cargo test --test bench_floor -- --ignored --nocapture`.
/// `FLOOR_HOSTS` and `FLOOR_COMMANDS` change the counts.
#[test]
#[ignore = "a measurement: needs the release build of the example"]
fn measure_50_hosts_12_commands() {
    // target/<profile>/deps/bench_floor-… → target/release/examples/ssh_floor
    let exe = std::env::current_exe().expect("test executable path");
    let target = exe
        .ancestors()
        .nth(3)
        .expect("the test runs from target/<profile>/deps");
    let bin = target.join("release/examples/ssh_floor");
    assert!(
        bin.exists(),
        "{} is missing: run `cargo build --release --example ssh_floor`",
        bin.display()
    );
    let count = |var: &str, default: &str| {
        let v = std::env::var(var).unwrap_or_else(|_| default.to_string());
        assert!(v.parse::<usize>().is_ok(), "{var}={v} is not a count");
        v
    };
    let (hosts, commands) = (count("FLOOR_HOSTS", "50"), count("FLOOR_COMMANDS", "12"));
    let sshd = support::Sshd::start();
    for run in 1..=3 {
        let out = Command::new(&bin)
            .args(["--port", &sshd.port().to_string()])
            .args(["--user", support::USER])
            .arg("--key")
            .arg(sshd.client_key_path())
            .args(["--hosts", &hosts, "--trivial", &commands])
            .output()
            .expect("run ssh_floor");
        assert!(
            out.status.success(),
            "ssh_floor failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        eprint!(
            "run {run}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
