//! apt_repository against ansible's own module: the same steps run under
//! both tools in a scratch APT configuration (APT_CONFIG pointing
//! Dir::Etc at a temp directory, so the machine's sources are never
//! touched), from the same starting sources.list. After each step the
//! output (with --diff where given) and every sources file (name, mode,
//! content) must be the same.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

const CHROME: &str = "deb http://dl.google.com/linux/chrome/deb/ stable main";

fn steps() -> Vec<(String, Vec<&'static str>)> {
    let s = |a: String, f: &[&'static str]| (a, f.to_vec());
    vec![
        s(format!("repo='{CHROME}' update_cache=no"), &["--check", "--diff"]),
        s(format!("repo='{CHROME}' update_cache=no"), &["--diff"]),
        s(format!("repo='{CHROME}' update_cache=no"), &[]),
        s(
            "repo='deb http://example.org/x stable main' update_cache=no".into(),
            &["--diff"],
        ),
        s(
            "repo='deb [arch=amd64] https://u:p@example.com/apt bookworm main' filename=custom mode=0600 update-cache=false".into(),
            &[],
        ),
        s(
            "repo='deb-src  http://example.net/a   b c' update_cache=no".into(),
            &[],
        ),
        s(
            format!("repo='{CHROME}' state=absent update_cache=no"),
            &["--check", "--diff"],
        ),
        s(
            format!("repo='{CHROME}' state=absent update_cache=no"),
            &["--diff"],
        ),
        s(format!("repo='{CHROME}' state=absent update_cache=no"), &[]),
        s(
            "repo='deb http://example.org/x stable main' state=absent update_cache=no".into(),
            &[],
        ),
        s("repo='foo bar' update_cache=no".into(), &[]),
        s("repo='' update_cache=no".into(), &[]),
        s("repo='deb http://x y' state=gone".into(), &[]),
    ]
}

/// Every file under the scratch etc/apt: name, mode, content.
fn snapshot(root: &Path) -> String {
    let mut out = String::new();
    let mut files: Vec<_> = walk(&root.join("etc/apt"));
    files.sort();
    for f in files {
        let m = std::fs::metadata(&f).unwrap();
        out.push_str(&format!(
            "{} {:o}\n{}",
            f.display(),
            m.permissions().mode() & 0o7777,
            std::fs::read_to_string(&f).unwrap()
        ));
    }
    out
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut v = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            v.extend(walk(&p));
        } else {
            v.push(p);
        }
    }
    v
}

fn reset(root: &Path) {
    let _ = std::fs::remove_dir_all(root.join("etc"));
    std::fs::create_dir_all(root.join("etc/apt/sources.list.d")).unwrap();
    std::fs::create_dir_all(root.join("etc/apt/apt.conf.d")).unwrap();
    std::fs::write(
        root.join("etc/apt/sources.list"),
        "# base\ndeb http://deb.debian.org/debian bookworm main\n#deb http://example.org/x stable main\n\n",
    )
    .unwrap();
    std::fs::write(
        root.join("etc/apt/sources.list.d/other.list"),
        "deb  http://other.example/debian   bookworm main # kept\n",
    )
    .unwrap();
}

fn run(herd: bool, root: &Path, args: &str, flags: &[&str]) -> String {
    let conf = root.join("apt.conf");
    let mut cmd = if herd {
        let mut c = Command::new(env!("CARGO_BIN_EXE_herd"));
        c.env("NO_COLOR", "1").arg("adhoc");
        c
    } else {
        let mut c = common::ansible_command("ansible");
        c.args(["-e", "ansible_python_interpreter=/usr/bin/python3"]);
        c
    };
    let out = cmd
        .env("APT_CONFIG", &conf)
        .stdin(std::process::Stdio::null())
        .args([
            "-i",
            "localhost,",
            "-c",
            "local",
            "all",
            "-m",
            "apt_repository",
            "-a",
            args,
        ])
        .args(flags)
        .output()
        .expect("run the tool");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn run_all(herd: bool, root: &Path) -> Vec<String> {
    reset(root);
    steps()
        .iter()
        .map(|(args, flags)| {
            let out = run(herd, root, args, flags);
            format!("== {args} {flags:?}\n{out}\n{}", snapshot(root))
        })
        .collect()
}

#[test]
fn apt_repository_steps_match_ansible() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::write(
        root.join("apt.conf"),
        format!("Dir::Etc \"{}/etc/apt/\";\n", root.display()),
    )
    .unwrap();
    let a = run_all(false, root);
    let h = run_all(true, root);
    for (x, y) in a.iter().zip(&h) {
        assert_eq!(x, y);
    }
    assert_eq!(a.len(), h.len());
    // The steps did something: the chrome file came and went, the custom
    // file is there with its mode.
    assert!(
        h[1].contains("dl_google_com_linux_chrome_deb.list 644"),
        "{}",
        h[1]
    );
    assert!(h[4].contains("custom.list 600"), "{}", h[4]);
    assert!(
        !h[8].contains("dl_google_com_linux_chrome_deb.list"),
        "{}",
        h[8]
    );
}

/// deb822_repository writes fixed paths (/etc/apt/sources.list.d,
/// /etc/apt/keyrings), so its steps use names of their own there and
/// remove what they made. Key URLs are `file://`, so no network is needed.
const D822: &str = "HerdT822 Probe_1";
const D822_FILES: [&str; 3] = [
    "/etc/apt/sources.list.d/herdt822-probe-1.sources",
    "/etc/apt/keyrings/herdt822-probe-1.gpg",
    "/etc/apt/keyrings/herdt822-probe-1.asc",
];

fn d822_clean() {
    for f in D822_FILES {
        let _ = std::fs::remove_file(f);
    }
}

fn d822_snapshot() -> String {
    let mut out = String::new();
    for f in D822_FILES {
        if let Ok(m) = std::fs::metadata(f) {
            let bytes = std::fs::read(f).unwrap();
            out.push_str(&format!(
                "{f} {:o} {} bytes\n{}\n",
                m.permissions().mode() & 0o7777,
                bytes.len(),
                if f.ends_with(".gpg") {
                    String::new()
                } else {
                    String::from_utf8_lossy(&bytes).into_owned()
                }
            ));
        }
    }
    out
}

fn d822_run(herd: bool, args: &str, flags: &[&str]) -> String {
    let mut cmd = if herd {
        let mut c = Command::new(env!("CARGO_BIN_EXE_herd"));
        c.env("NO_COLOR", "1").arg("adhoc");
        c
    } else {
        let mut c = common::ansible_command("ansible");
        c.args(["-e", "ansible_python_interpreter=/usr/bin/python3"]);
        c
    };
    let out = cmd
        .stdin(std::process::Stdio::null())
        .args([
            "-i",
            "localhost,",
            "-c",
            "local",
            "all",
            "-m",
            "deb822_repository",
            "-a",
            args,
        ])
        .args(flags)
        .output()
        .expect("run the tool");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn deb822_repository_steps_match_ansible() {
    let base = format!(
        "name='{D822}' uris=http://example.org/debian suites=stable,stable-updates components=main,contrib"
    );
    let key = "signed_by=file:///usr/share/keyrings/debian-archive-keyring.gpg";
    let steps: Vec<(String, &[&str])> = vec![
        (base.clone(), &["--check"]),
        (base.clone(), &[]),
        (base.clone(), &[]),
        (
            format!("{base} mode=0600 enabled=no pdiffs=yes date_max_future=7"),
            &[],
        ),
        (format!("{base} {key}"), &["--check"]),
        (format!("{base} {key}"), &[]),
        (format!("{base} {key}"), &[]),
        (
            format!(
                "{base} types=deb,deb-src signed_by=/usr/share/keyrings/debian-archive-keyring.gpg"
            ),
            &[],
        ),
        (format!("name='{D822}' state=absent"), &["--check"]),
        (format!("name='{D822}' state=absent"), &[]),
        (format!("name='{D822}' state=absent"), &[]),
        (format!("{base} types=deb,foo"), &[]),
        ("uris=http://x".to_string(), &[]),
    ];
    let run_all = |herd: bool| -> Vec<String> {
        d822_clean();
        let v = steps
            .iter()
            .map(|(args, flags)| {
                format!(
                    "== {args} {flags:?}\n{}\n{}",
                    d822_run(herd, args, flags),
                    d822_snapshot()
                )
            })
            .collect();
        d822_clean();
        v
    };
    let a = run_all(false);
    let h = run_all(true);
    for (x, y) in a.iter().zip(&h) {
        assert_eq!(x, y);
    }
    assert_eq!(a.len(), h.len());
    assert!(h[1].contains("herdt822-probe-1.sources 644"), "{}", h[1]);
    assert!(h[5].contains("herdt822-probe-1.gpg 644"), "{}", h[5]);
    assert!(
        !h[9].contains(".sources 644") && !h[9].contains(".gpg 644"),
        "{}",
        h[9]
    );
}
