//! unarchive against the local host through the module API, one state at
//! a time: also run by tests/module_busybox.rs, where the host's tools are
//! BusyBox's (BusyBox tar: no --exclude, no --keep-newer-files).

use std::path::Path;
use std::process::Command;

use serde_json::json;

use crate::module_support::{busybox, mode_of, Env};

/// A tar.gz of `name/` holding `a.txt`, `sub/b.txt` and an executable,
/// made with the controller's tar, with fixed mtimes.
fn tgz(env: &Env) -> String {
    let tree = env.dir.path().join("tree");
    let top = tree.join("pkg");
    std::fs::create_dir_all(top.join("sub")).unwrap();
    std::fs::write(top.join("a.txt"), "alpha\n").unwrap();
    std::fs::write(top.join("sub/b.txt"), "beta\n").unwrap();
    std::fs::write(top.join("run.sh"), "#!/bin/sh\n").unwrap();
    crate::module_support::set_mode(top.join("run.sh").to_str().unwrap(), 0o755);
    let ok = Command::new("touch")
        .args([
            "-d",
            "2024-01-02 03:04:05",
            "pkg",
            "pkg/a.txt",
            "pkg/sub",
            "pkg/sub/b.txt",
            "pkg/run.sh",
        ])
        .current_dir(&tree)
        .status()
        .unwrap();
    assert!(ok.success());
    let archive = env.path("pkg.tgz");
    let ok = Command::new("tar")
        .args(["-czf", &archive, "-C"])
        .arg(&tree)
        .arg("pkg")
        .status()
        .unwrap();
    assert!(ok.success());
    archive
}

fn dest(env: &Env, name: &str) -> String {
    let d = env.path(name);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn read(p: impl AsRef<Path>) -> String {
    std::fs::read_to_string(p).unwrap()
}

#[tokio::test]
async fn absent_present_drift_and_check_mode() {
    let env = Env::new();
    let src = tgz(&env);
    let d = dest(&env, "out");
    let args = json!({"src": src, "dest": d, "remote_src": true, "list_files": true});
    // Check mode with a tar archive: skipped, nothing touched.
    let o = env.check("unarchive", args.clone()).await;
    assert!(o.skipped && !o.changed, "{o:?}");
    assert!(!Path::new(&d).join("pkg").exists());
    // Absent → extracted.
    let o = env.run("unarchive", args.clone()).await;
    assert!(o.changed && !o.failed, "{o:?}");
    assert_eq!(o.values["handler"], "TgzArchive");
    assert_eq!(o.values["state"], "directory");
    let files = o.values["files"].as_array().unwrap();
    assert!(files.contains(&json!("pkg/sub/b.txt")), "{files:?}");
    assert_eq!(read(format!("{d}/pkg/a.txt")), "alpha\n");
    assert_eq!(mode_of(&format!("{d}/pkg/run.sh")), 0o755);
    // Present → nothing to do.
    let o = env.run("unarchive", args.clone()).await;
    assert!(!o.changed && !o.failed, "{o:?}");
    assert!(o.values.get("extract_results").is_none());
    // Drift → extracted again.
    std::fs::write(format!("{d}/pkg/sub/b.txt"), "BETA\n").unwrap();
    let o = env.run("unarchive", args.clone()).await;
    assert!(o.changed && !o.failed, "{o:?}");
    assert_eq!(read(format!("{d}/pkg/sub/b.txt")), "beta\n");
    let o = env.run("unarchive", args).await;
    assert!(!o.changed, "{o:?}");
}

#[tokio::test]
async fn controller_source_mode_and_creates() {
    let env = Env::new();
    let src = tgz(&env);
    let d = dest(&env, "ctl");
    // From the controller (pushed to a temporary file on the host).
    let args = json!({"src": src, "dest": d, "mode": "0700"});
    let o = env.run("unarchive", args.clone()).await;
    assert!(o.changed && !o.failed, "{o:?}");
    assert!(o.values["src"].as_str().unwrap().ends_with("/source"));
    assert_eq!(mode_of(&format!("{d}/pkg/a.txt")), 0o700);
    assert_eq!(mode_of(&format!("{d}/pkg")), 0o700);
    let o = env.run("unarchive", args).await;
    assert!(!o.changed, "{o:?}");
    // creates names something that exists: skipped.
    let o = env
        .run(
            "unarchive",
            json!({"src": src, "dest": dest(&env, "cr"), "creates": format!("{d}/pkg")}),
        )
        .await;
    assert!(o.skipped, "{o:?}");
    assert_eq!(
        o.msg.as_deref(),
        Some(format!("skipped, since {d}/pkg exists").as_str())
    );
}

#[tokio::test]
async fn exclude_and_keep_newer() {
    let env = Env::new();
    let src = tgz(&env);
    let d = dest(&env, "ex");
    let o = env
        .run(
            "unarchive",
            json!({"src": src, "dest": d, "remote_src": true, "exclude": ["pkg/sub/*"], "list_files": true}),
        )
        .await;
    if busybox() {
        // BusyBox tar has no --exclude.
        assert!(o.failed, "{o:?}");
        assert_eq!(
            o.msg.as_deref(),
            Some("exclude needs GNU tar: BusyBox tar has no --exclude")
        );
        assert!(!Path::new(&d).join("pkg").exists());
    } else {
        assert!(o.changed && !o.failed, "{o:?}");
        assert!(!o.values["files"]
            .as_array()
            .unwrap()
            .contains(&json!("pkg/sub/b.txt")));
        assert!(Path::new(&d).join("pkg/a.txt").exists());
        assert!(!Path::new(&d).join("pkg/sub/b.txt").exists());
    }
    // keep_newer: a file newer than the archive's stays.
    let d = dest(&env, "kn");
    let args = json!({"src": src, "dest": d, "remote_src": true, "keep_newer": true});
    assert!(env.run("unarchive", args.clone()).await.changed);
    std::fs::write(format!("{d}/pkg/a.txt"), "mine\n").unwrap();
    let o = env.run("unarchive", args).await;
    // GNU tar's --diff reports the newer file, so Ansible extracts again
    // (keeping it) and says changed; the listing comparison used with
    // BusyBox tar leaves newer files out, as Ansible's zip handler does.
    assert_eq!(o.changed, !busybox(), "{o:?}");
    assert_eq!(read(format!("{d}/pkg/a.txt")), "mine\n");
}

#[tokio::test]
async fn errors_read_as_ansible_writes_them() {
    let env = Env::new();
    let src = tgz(&env);
    let d = dest(&env, "err");
    let missing = env.path("missing");
    let o = env
        .run(
            "unarchive",
            json!({"src": src, "dest": missing, "remote_src": true}),
        )
        .await;
    assert!(o.failed);
    assert_eq!(
        o.msg.unwrap(),
        format!("dest '{missing}' must be an existing dir")
    );
    let bad = env.path("bad.tgz");
    std::fs::write(&bad, "garbage\n").unwrap();
    let o = env
        .run(
            "unarchive",
            json!({"src": bad, "dest": d, "remote_src": true}),
        )
        .await;
    assert!(o.failed);
    let msg = o.msg.unwrap();
    assert!(
        msg.starts_with(&format!(
            "Failed to find handler for \"{bad}\". Make sure the required command to extract the file is installed.\n"
        )),
        "{msg}"
    );
    let o = env
        .run(
            "unarchive",
            json!({"src": src, "dest": d, "include": ["a"], "exclude": ["b"]}),
        )
        .await;
    assert_eq!(
        o.msg.as_deref(),
        Some("parameters are mutually exclusive: include|exclude")
    );
    let o = env.run("unarchive", json!({"dest": d})).await;
    assert_eq!(
        o.msg.as_deref(),
        Some("src (or content) and dest are required")
    );
    let o = env
        .run(
            "unarchive",
            json!({"src": src, "dest": d, "copy": false, "remote_src": true}),
        )
        .await;
    assert_eq!(
        o.msg.as_deref(),
        Some("parameters are mutually exclusive: ('copy', 'remote_src')")
    );
    // Nothing was extracted by any of them.
    assert_eq!(std::fs::read_dir(&d).unwrap().count(), 0);
}

/// A static HTTP server on loopback for `dir`, stopped on drop.
struct Http(std::process::Child, u16);

impl Http {
    fn start(dir: &Path) -> Http {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("python3")
            .args(["-m", "http.server", "--bind", "127.0.0.1"])
            .arg(port.to_string())
            .current_dir(dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("python3 -m http.server");
        // Owned (and so stopped on drop) before anything can fail.
        let server = Http(child, port);
        for _ in 0..200 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return server;
            }
            std::thread::sleep(std::time::Duration::from_millis(25));
        }
        panic!("the HTTP server did not listen on {port}");
    }
}

impl Drop for Http {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn downloads_a_url_on_the_host() {
    let env = Env::new();
    tgz(&env);
    let http = Http::start(env.dir.path());
    let d = dest(&env, "url");
    let url = format!("http://127.0.0.1:{}/pkg.tgz", http.1);
    let args = json!({"src": url, "dest": d, "remote_src": true});
    let o = env.run("unarchive", args.clone()).await;
    assert!(o.changed && !o.failed, "{o:?}");
    assert_eq!(read(format!("{d}/pkg/sub/b.txt")), "beta\n");
    // The download is gone with its temporary directory.
    let src = o.values["src"].as_str().unwrap().to_string();
    assert!(
        src.ends_with("/pkg.tgz") && !Path::new(&src).exists(),
        "{src}"
    );
    let o = env.run("unarchive", args).await;
    assert!(!o.changed && !o.failed, "{o:?}");
    let missing = format!("http://127.0.0.1:{}/none.tgz", http.1);
    let o = env
        .run(
            "unarchive",
            json!({"src": missing, "dest": d, "remote_src": true}),
        )
        .await;
    assert!(o.failed);
    let msg = o.msg.unwrap();
    assert!(
        msg.starts_with(&format!("Failure downloading {missing}, ")),
        "{msg}"
    );
}

#[tokio::test]
async fn a_big_archive_stays_within_the_command_line_limit() {
    let env = Env::new();
    let tree = env.dir.path().join("big");
    // 800 names of about 240 bytes: more than the 128 KiB one command
    // line (or one argument) may hold.
    let long = "a-directory-with-a-rather-long-name-".repeat(5);
    let many = tree.join(format!("pkg/{long}/many"));
    std::fs::create_dir_all(&many).unwrap();
    for i in 0..800 {
        std::fs::write(
            many.join(format!("file-number-{i:05}.txt")),
            format!("{i}\n"),
        )
        .unwrap();
    }
    let archive = env.path("big.tgz");
    let ok = Command::new("tar")
        .args(["-czf", &archive, "-C"])
        .arg(&tree)
        .arg("pkg")
        .status()
        .unwrap();
    assert!(ok.success());
    let d = dest(&env, "big");
    let args = json!({"src": archive, "dest": d, "remote_src": true, "mode": "0600"});
    let o = env.run("unarchive", args.clone()).await;
    assert!(o.changed && !o.failed, "{o:?}");
    let last = format!("{d}/pkg/{long}/many/file-number-00799.txt");
    assert_eq!(read(&last), "799\n");
    assert_eq!(mode_of(&last), 0o600);
    let o = env.run("unarchive", args).await;
    assert!(!o.changed && !o.failed, "{o:?}");
}
