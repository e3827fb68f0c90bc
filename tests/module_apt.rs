//! apt for real, as root, with Debian's small `hello` package: the same
//! steps run under ansible's apt module and under `herd adhoc`, from the
//! same starting state (hello purged); each step's result line, message
//! and the package's dpkg state afterwards must be the same. Needs root
//! and a reachable Debian mirror (scripts/test.sh runs as root on Debian).
//! The steps share the machine's dpkg database, so they run in one test.

mod common;

use std::process::Command;

/// `dpkg-query`'s status of hello, or `absent`.
fn hello_state() -> String {
    let out = Command::new("dpkg-query")
        .args(["-W", "-f=${db:Status-Abbrev}${Version}", "hello"])
        .output()
        .expect("dpkg-query runs");
    if out.status.success() {
        String::from_utf8_lossy(&out.stdout).into_owned()
    } else {
        "absent".into()
    }
}

fn purge_hello() {
    let st = Command::new("dpkg")
        .args(["--purge", "hello"])
        .output()
        .expect("dpkg runs");
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
}

/// The first line of an ad-hoc result (`localhost | CHANGED => {`) and
/// its `msg`, if any.
fn summary(out: &std::process::Output) -> String {
    let text = String::from_utf8_lossy(&out.stdout);
    let head = text
        .lines()
        .find(|l| l.starts_with("localhost | "))
        .unwrap_or("")
        .to_string();
    let msg = text
        .lines()
        .find(|l| l.trim_start().starts_with("\"msg\": "))
        .unwrap_or("")
        .trim()
        .to_string();
    format!("{head} {msg}")
}

fn steps(deb: &str) -> Vec<(String, Vec<&'static str>)> {
    let s = |a: &str, f: &[&'static str]| (a.to_string(), f.to_vec());
    vec![
        s("name=hello", &["--check"]),
        s("name=hello", &[]),
        s("name=hello", &[]),
        s("name=hello=2.10*", &[]),
        s("name=hello state=latest", &[]),
        s("name=hello=9.9", &[]),
        s("name=hello state=absent", &["--check"]),
        s("name=hello state=absent purge=yes", &[]),
        s("name=hello state=absent", &[]),
        s("name=nosuchpkg-herd", &[]),
        s("name=nosuchpkg-herd state=absent", &[]),
        s("name=hell?", &["--check"]),
        s(&format!("deb={deb}"), &["--check"]),
        s(&format!("deb={deb}"), &[]),
        s(&format!("deb={deb}"), &[]),
        s(&format!("deb={deb} state=absent"), &[]),
        s("name=hello state=bogus", &[]),
        s("name=hello upgrade=dist", &[]),
        s("name=a=1=2", &[]),
        s("name=hello state=absent", &[]),
        s("cache_valid_time=999999999", &[]),
        s("upgrade=dist", &["--check"]),
        s("upgrade=yes force_apt_get=yes", &["--check"]),
        s("name=* state=latest", &["--check"]),
        s("autoremove=yes", &["--check"]),
        s("upgrade=maybe", &[]),
    ]
}

fn run_steps(tool: &str, deb: &str) -> Vec<String> {
    purge_hello();
    let mut log = Vec::new();
    for (args, flags) in steps(deb) {
        let out = if tool == "herd" {
            common::herd_adhoc("apt", &args, &flags)
        } else {
            ansible_apt(&args, &flags)
        };
        log.push(format!(
            "{args} {flags:?}: {} -> {}",
            summary(&out),
            hello_state()
        ));
    }
    log
}

/// ansible's apt module needs python3-apt, which the system's python has.
fn ansible_apt(args: &str, flags: &[&str]) -> std::process::Output {
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
            "apt",
            "-a",
            args,
        ])
        .args(flags)
        .output()
        .expect("run ansible")
}

/// hello's .deb, fetched with `apt-get download` into a temp dir.
fn download_hello(dir: &std::path::Path) -> String {
    let out = Command::new("apt-get")
        .args(["download", "hello"])
        .current_dir(dir)
        .output()
        .expect("apt-get runs");
    assert!(
        out.status.success(),
        "apt-get download hello: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let deb = std::fs::read_dir(dir)
        .expect("read temp dir")
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "deb"))
        .expect("a .deb was downloaded");
    deb.to_string_lossy().into_owned()
}

#[test]
fn apt_steps_match_ansible() {
    let _guard = lock();
    let dir = tempfile::tempdir().unwrap();
    let deb = download_hello(dir.path());
    let a = run_steps("ansible", &deb);
    let h = run_steps("herd", &deb);
    for (x, y) in a.iter().zip(&h) {
        assert_eq!(x, y);
    }
    assert_eq!(a.len(), h.len());
    // The real effects, not only agreement: installed by step 2, purged by
    // step 8, installed from the .deb by step 14.
    assert!(h[1].ends_with("-> ii 2.10-3"), "{}", h[1]);
    assert!(h[0].ends_with("-> absent"), "{}", h[0]);
    assert!(h[7].ends_with("-> absent"), "{}", h[7]);
    assert!(h[13].contains("CHANGED") && h[13].ends_with("-> ii 2.10-3"));
    assert!(h[14].contains("SUCCESS"), "{}", h[14]);
    purge_hello();
}

/// Check mode with --diff shows the same prepared changes and stdout as
/// ansible, and installs nothing.
#[test]
fn apt_check_diff_output_matches_ansible() {
    let _guard = lock();
    purge_hello();
    let a = ansible_apt("name=hello", &["--check", "--diff"]);
    let h = common::herd_adhoc("apt", "name=hello", &["--check", "--diff"]);
    assert_eq!(
        String::from_utf8_lossy(&a.stdout),
        String::from_utf8_lossy(&h.stdout)
    );
    assert!(String::from_utf8_lossy(&h.stdout).contains("1 newly installed"));
    assert_eq!(hello_state(), "absent");
}

/// update_cache runs `apt-get update` and reports the cache's time; in
/// check mode nothing is fetched and the update is reported.
#[test]
fn apt_update_cache() {
    let _guard = lock();
    let stamp = || {
        std::fs::metadata("/var/lib/apt/lists")
            .and_then(|m| m.modified())
            .unwrap()
    };
    let before = stamp();
    let h = common::herd_adhoc("apt", "update_cache=yes", &["--check"]);
    let text = String::from_utf8_lossy(&h.stdout);
    assert!(text.starts_with("localhost | CHANGED"), "{text}");
    assert!(text.contains("\"cache_updated\": true"), "{text}");
    assert_eq!(before, stamp());
    let h = common::herd_adhoc("apt", "update_cache=yes", &[]);
    let text = String::from_utf8_lossy(&h.stdout);
    assert!(
        text.starts_with("localhost | CHANGED") || text.starts_with("localhost | SUCCESS"),
        "{text}"
    );
    assert!(text.contains("\"cache_update_time\": "), "{text}");
    // Fresh now: a day's validity skips the update.
    let h = common::herd_adhoc("apt", "update_cache=yes cache_valid_time=86400", &[]);
    let text = String::from_utf8_lossy(&h.stdout);
    assert!(text.starts_with("localhost | SUCCESS"), "{text}");
    assert!(text.contains("\"cache_updated\": false"), "{text}");
}

/// The tests of this file share dpkg's lock and hello's state.
fn lock() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}
