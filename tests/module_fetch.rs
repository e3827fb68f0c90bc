//! fetch step by step, through `herd adhoc` and ansible's fetch, each run
//! from its own directory (a relative dest is taken from there); the
//! results and the fetched files must be the same.

mod common;

use std::path::Path;

fn run(tool: &str, cwd: &Path, args: &str, extra: &[&str]) -> (String, Option<i32>) {
    let mut cmd = if tool == "herd" {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_herd"));
        c.env("NO_COLOR", "1")
            .env_remove("ANSIBLE_CONFIG")
            .arg("adhoc");
        c
    } else {
        let mut c = common::ansible_command("ansible");
        c.arg("-e").arg(format!(
            "ansible_python_interpreter={}",
            common::ansible_bin_dir().join("python").display()
        ));
        c
    };
    let out = cmd
        .current_dir(cwd)
        .args([
            "-i",
            "localhost,",
            "-c",
            "local",
            "all",
            "-m",
            "fetch",
            "-a",
            args,
        ])
        .args(extra)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).replace(&cwd.display().to_string(), "CWD");
    // ansible's error line quotes its inner slurp failure: compare the rest.
    let text = text
        .lines()
        .filter(|l| !l.starts_with("[ERROR]: "))
        .collect::<Vec<_>>()
        .join("\n");
    (text, out.status.code())
}

fn files(root: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(root).unwrap().display().to_string();
                out.push((rel, std::fs::read(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn fetch_steps_match_ansible() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    std::fs::create_dir_all(src.join("sub dir")).unwrap();
    let f = src.join("sub dir/a 'file'.txt");
    std::fs::write(&f, "hello\n").unwrap();
    let f = f.display().to_string();
    let (h, a) = (dir.path().join("h"), dir.path().join("a"));
    for d in [&h, &a] {
        std::fs::create_dir(d).unwrap();
    }
    let q = |s: &str| format!("\"{s}\"");
    let steps: Vec<(String, &[&str])> = vec![
        (format!("src={} dest=out", q(&f)), &["-C"]),
        (format!("src={} dest=out", q(&f)), &[]),
        (format!("src={} dest=out", q(&f)), &[]),
        (format!("src={} dest=flat/ flat=yes", q(&f)), &[]),
        (format!("src={} dest=flat2 flat=yes", q(&f)), &[]),
        (format!("src={} dest=flat/ flat=yes", q(&f)), &[]),
        (format!("src={}/none dest=out", src.display()), &[]),
        (
            format!("src={}/none dest=out fail_on_missing=no", src.display()),
            &[],
        ),
        (
            format!(
                "src={} dest=out",
                q(&src.join("sub dir").display().to_string())
            ),
            &[],
        ),
        (format!("src={}", q(&f)), &[]),
    ];
    for (i, (args, extra)) in steps.iter().enumerate() {
        if i == 5 {
            // Drift on the controller copy: fetched again.
            std::fs::write(h.join("flat/a 'file'.txt"), "changed\n").unwrap();
            std::fs::write(a.join("flat/a 'file'.txt"), "changed\n").unwrap();
        }
        let ho = run("herd", &h, args, extra);
        let ao = run("ansible", &a, args, extra);
        assert_eq!(ho, ao, "step {args} {extra:?}");
        assert_eq!(files(&h), files(&a), "files after step {args}");
    }
    assert_eq!(files(&h).len(), 3, "{:?}", files(&h));
}
