//! debconf for real with tzdata's `tzdata/Areas` question: the same steps
//! under ansible's debconf module and under `herd adhoc`, from the same
//! starting answer; each step's output (with --diff) and the answer
//! debconf holds afterwards must be the same. The original answer is put
//! back at the end. Needs root and the tzdata package.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

fn areas() -> String {
    let out = Command::new("debconf-show")
        .arg("tzdata")
        .output()
        .expect("debconf-show runs");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find(|l| l.contains("tzdata/Areas:"))
        .unwrap_or("")
        .to_string()
}

fn set_areas(value: &str) {
    let mut child = Command::new("debconf-set-selections")
        .stdin(Stdio::piped())
        .spawn()
        .expect("debconf-set-selections runs");
    child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(format!("tzdata tzdata/Areas select {value}\n").as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success());
}

const STEPS: &[(&str, &[&str])] = &[
    (
        "name=tzdata question=tzdata/Areas vtype=select value=Europe",
        &["--check", "--diff"],
    ),
    (
        "name=tzdata question=tzdata/Areas vtype=select value=Europe",
        &["--diff"],
    ),
    (
        "name=tzdata question=tzdata/Areas vtype=select value=Europe",
        &[],
    ),
    (
        "pkg=tzdata setting=tzdata/Areas vtype=select answer=Etc",
        &[],
    ),
    (
        "name=tzdata question=tzdata/Areas vtype=select value=Etc",
        &["--diff"],
    ),
    ("name=tzdata", &[]),
    ("name=tzdata question=tzdata/Areas", &[]),
    ("name=tzdata question=tzdata/Areas vtype=bogus value=x", &[]),
    ("question=tzdata/Areas vtype=select value=Etc", &[]),
];

fn run_steps(herd: bool) -> Vec<String> {
    set_areas("Etc");
    STEPS
        .iter()
        .map(|(args, flags)| {
            let out = if herd {
                common::herd_adhoc("debconf", args, flags)
            } else {
                common::ansible_command("ansible")
                    .args([
                        "-e",
                        "ansible_python_interpreter=/usr/bin/python3",
                        "-i",
                        "localhost,",
                        "-c",
                        "local",
                        "all",
                        "-m",
                        "debconf",
                        "-a",
                        args,
                    ])
                    .args(*flags)
                    .output()
                    .expect("run ansible")
            };
            format!(
                "== {args} {flags:?}\n{}\n-> {}",
                String::from_utf8_lossy(&out.stdout),
                areas()
            )
        })
        .collect()
}

#[test]
fn debconf_steps_match_ansible() {
    let original = areas();
    let original = original
        .split_once(':')
        .map(|(_, v)| v.trim().to_string())
        .unwrap_or_default();
    let a = run_steps(false);
    let h = run_steps(true);
    if !original.is_empty() {
        set_areas(&original);
    }
    for (x, y) in a.iter().zip(&h) {
        assert_eq!(x, y);
    }
    assert_eq!(a.len(), h.len());
    assert!(h[0].ends_with("tzdata/Areas: Etc"), "{}", h[0]);
    assert!(
        h[1].contains("CHANGED") && h[1].ends_with("tzdata/Areas: Europe"),
        "{}",
        h[1]
    );
    assert!(h[2].contains("SUCCESS"), "{}", h[2]);
    assert!(h[3].ends_with("tzdata/Areas: Etc"), "{}", h[3]);
}
