//! pip for real: each step run by herd and by ansible's pip side by side,
//! each in its own temporary virtualenv (python3 -m venv) with a small
//! pure-Python package from PyPI; the same output (changed, cmd, name,
//! version, state, requirements, virtualenv, stdout, messages), the same
//! exit code, the same packages installed.

mod common;

use std::path::Path;
use std::process::Command;

fn freeze(venv: &Path) -> String {
    let out = Command::new(venv.join("bin/pip"))
        .args(["list", "--format=freeze"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn steps_match_ansible() {
    let root = tempfile::tempdir_in("/tmp").unwrap();
    let (h, a) = (root.path().join("h"), root.path().join("a"));
    let base = root
        .path()
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    let steps: &[(&str, &[&str])] = &[
        // Absent virtualenv, check mode: only "changed".
        ("name=six version=1.16.0", &["-C"]),
        // The virtualenv is made and six installed.
        ("name=six version=1.16.0", &[]),
        // Present: no change (check mode, then for real).
        ("name=six version=1.16.0", &["-C"]),
        ("name='six>=1.10,<2'", &[]),
        // Drift to another version.
        ("name='six==1.17.0'", &["-C"]),
        ("name='six==1.17.0'", &[]),
        // latest in check mode always says changed; for real, pip decides.
        ("name=six state=latest", &["-C"]),
        ("name=six state=latest", &[]),
        ("name='six==1.17.0' state=forcereinstall", &[]),
        // Absent: check, for real, again.
        ("name=six state=absent", &["-C"]),
        ("name=six state=absent", &[]),
        ("name=six state=absent", &[]),
        // Bad arguments.
        ("name=six version=1 state=latest", &[]),
        ("name=six,idna version=1", &[]),
        ("name='six>1' version=1", &[]),
        ("name=six requirements=r.txt", &[]),
        ("name=six state=gone", &[]),
    ];
    for (args, extra) in steps {
        let run = |venv: &Path, ansible: bool| {
            let args = format!(
                "{args} virtualenv={} virtualenv_command='python3 -m venv'",
                venv.display()
            );
            let out = if ansible {
                common::ansible_adhoc("pip", &args, extra)
            } else {
                common::herd_adhoc("pip", &args, extra)
            };
            // pip names paths relative to its working directory (/tmp).
            let text = String::from_utf8_lossy(&out.stdout)
                .replace(venv.to_str().unwrap(), "VENV")
                .replace(
                    &format!("{base}/{}", venv.file_name().unwrap().to_str().unwrap()),
                    "VENV",
                );
            (
                text,
                out.status.code(),
                String::from_utf8_lossy(&out.stderr).into_owned(),
            )
        };
        let (ht, hc, he) = run(&h, false);
        let (at, ac, ae) = run(&a, true);
        assert_eq!(
            ht, at,
            "step {args} {extra:?}\nherd stderr: {he}\nansible stderr: {ae}"
        );
        assert_eq!(hc, ac, "step {args}");
        if h.exists() || a.exists() {
            assert_eq!(freeze(&h), freeze(&a), "packages after {args}");
        }
    }
    assert!(!freeze(&h).contains("six=="));
}

/// A requirements file and a virtualenv relative to `chdir`: changed comes
/// from the package list before and after.
#[test]
fn requirements_match_ansible() {
    let root = tempfile::tempdir_in("/tmp").unwrap();
    let (h, a) = (root.path().join("h"), root.path().join("a"));
    for d in [&h, &a] {
        std::fs::create_dir_all(d).unwrap();
        std::fs::write(d.join("req.txt"), "six==1.16.0\n").unwrap();
    }
    for extra in [&["-C"][..], &[][..], &[][..], &["-C"][..]] {
        let run = |dir: &Path, ansible: bool| {
            let args = format!(
                "requirements=req.txt chdir={} virtualenv=venv virtualenv_command='python3 -m venv'",
                dir.display()
            );
            let out = if ansible {
                common::ansible_adhoc("pip", &args, extra)
            } else {
                common::herd_adhoc("pip", &args, extra)
            };
            (
                String::from_utf8_lossy(&out.stdout).replace(dir.to_str().unwrap(), "DIR"),
                String::from_utf8_lossy(&out.stderr).into_owned(),
            )
        };
        let (ht, he) = run(&h, false);
        let (at, ae) = run(&a, true);
        assert_eq!(ht, at, "{extra:?}\nherd stderr: {he}\nansible stderr: {ae}");
    }
    assert!(freeze(&h.join("venv")).contains("six==1.16.0"));
}
