//! get_url against a real HTTP server on 127.0.0.1 (tests/support/http.rs):
//! the module runs on the local host with its curl, the server records
//! every request, and the results are compared with ansible's get_url on
//! the same server; one playbook runs all four network and source
//! modules over real SSH.

mod common;
#[path = "support/http.rs"]
mod http;
mod module_support;
mod support;

use http::{HttpServer, Route};
use module_support::{mode_of, Env, NASTY};
use serde_json::{json, Value};

fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[tokio::test]
async fn absent_then_present_then_drift() {
    let srv = HttpServer::start();
    srv.set("/f.txt", Route::ok("hello\n").not_modified_when_asked());
    let env = Env::new();
    let dest = env.path("f.txt");
    let args = json!({"url": srv.url("/f.txt"), "dest": dest});

    // Absent: downloaded.
    let o = env.run("get_url", args.clone()).await;
    assert!(o.changed && !o.failed, "{o:?}");
    assert_eq!(std::fs::read_to_string(&dest).unwrap(), "hello\n");
    let r = o.to_result();
    assert_eq!(r["msg"], "OK (6 bytes)");
    assert_eq!(r["status_code"], 200);
    assert_eq!(
        r["checksum_src"],
        "f572d396fae9206628714fb2ce00f72e94f2258f"
    );
    assert_eq!(r["checksum_dest"], Value::Null);
    assert_eq!(r["md5sum"], "b1946ac92492d2347c6235b4d2611184");
    assert_eq!(r["size"], 6);
    let reqs = srv.take_requests();
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].method, "GET");
    assert_eq!(reqs[0].header("user-agent"), Some("ansible-httpget"));
    assert_eq!(reqs[0].header("if-modified-since"), None);

    // Present: asked with If-Modified-Since, the 304 leaves it alone.
    let o = env.run("get_url", args.clone()).await;
    assert!(!o.changed && !o.failed, "{o:?}");
    assert_eq!(o.to_result()["msg"], "HTTP Error 304: Not Modified");
    let reqs = srv.take_requests();
    assert!(reqs[0].header("if-modified-since").is_some(), "{reqs:?}");

    // A server that ignores If-Modified-Since: downloaded and compared,
    // the same content is no change.
    srv.set("/f.txt", Route::ok("hello\n"));
    let o = env.run("get_url", args.clone()).await;
    assert!(!o.changed && !o.failed, "{o:?}");
    assert_eq!(
        o.to_result()["checksum_dest"],
        "f572d396fae9206628714fb2ce00f72e94f2258f"
    );

    // Drift: the file changed on the host; force brings it back, with a
    // backup of the drifted one.
    srv.take_requests();
    std::fs::write(&dest, "local edit\n").unwrap();
    module_support::set_mode(&dest, 0o600);
    let o = env
        .run(
            "get_url",
            json!({"url": srv.url("/f.txt"), "dest": dest, "force": true, "backup": true}),
        )
        .await;
    assert!(o.changed && !o.failed, "{o:?}");
    assert_eq!(std::fs::read_to_string(&dest).unwrap(), "hello\n");
    assert_eq!(mode_of(&dest), 0o600, "the replaced file keeps its mode");
    let backup = o.to_result()["backup_file"].as_str().unwrap().to_string();
    assert_eq!(std::fs::read_to_string(&backup).unwrap(), "local edit\n");
    // force sends no If-Modified-Since.
    let reqs = srv.take_requests();
    assert!(reqs.iter().all(|r| r.header("if-modified-since").is_none()));
}

#[tokio::test]
async fn a_matching_checksum_skips_the_download() {
    let srv = HttpServer::start();
    srv.set("/pkg.tar", Route::ok("package"));
    srv.set(
        "/SHA256SUMS",
        Route::ok(format!(
            "{}  other.tar\n{}  pkg.tar\n",
            sha256_hex(b"x"),
            sha256_hex(b"package")
        )),
    );
    let env = Env::new();
    let dest = env.path("pkg.tar");
    let sum = format!("sha256:{}", sha256_hex(b"package"));
    let o = env
        .run(
            "get_url",
            json!({"url": srv.url("/pkg.tar"), "dest": dest, "checksum": sum}),
        )
        .await;
    assert!(o.changed && !o.failed, "{o:?}");
    srv.take_requests();

    let o = env
        .run(
            "get_url",
            json!({"url": srv.url("/pkg.tar"), "dest": dest, "checksum": sum, "mode": "0640"}),
        )
        .await;
    assert!(o.changed && !o.failed, "{o:?}");
    assert_eq!(
        o.msg.as_deref(),
        Some("file already exists but file attributes changed")
    );
    assert_eq!(mode_of(&dest), 0o640);
    let o = env
        .run(
            "get_url",
            json!({"url": srv.url("/pkg.tar"), "dest": dest, "checksum": sum}),
        )
        .await;
    assert!(!o.changed && !o.failed, "{o:?}");
    assert_eq!(o.msg.as_deref(), Some("file already exists"));
    assert!(srv.take_requests().is_empty(), "no request was needed");

    // A checksum file (`ALGO:URL`): the line for the URL's file name.
    std::fs::remove_file(&dest).unwrap();
    let o = env
        .run(
            "get_url",
            json!({"url": srv.url("/pkg.tar"), "dest": dest, "checksum": format!("sha256:{}", srv.url("/SHA256SUMS"))}),
        )
        .await;
    assert!(o.changed && !o.failed, "{o:?}");
    assert_eq!(std::fs::read_to_string(&dest).unwrap(), "package");

    // A download that does not match fails and leaves no file.
    let bad = env.path("bad.tar");
    let o = env
        .run(
            "get_url",
            json!({"url": srv.url("/pkg.tar"), "dest": bad, "checksum": "sha256:00ff"}),
        )
        .await;
    assert!(o.failed, "{o:?}");
    let msg = o.msg.unwrap();
    assert!(msg.starts_with("The checksum for "), "{msg}");
    assert!(
        msg.ends_with(&format!(
            "did not match 00ff; it was {}.",
            sha256_hex(b"package")
        )),
        "{msg}"
    );
    assert!(!std::path::Path::new(&bad).exists());
}

#[tokio::test]
async fn check_mode_touches_nothing() {
    let srv = HttpServer::start();
    srv.set("/f", Route::ok("data"));
    let env = Env::new();
    let dest = env.path("f");
    let o = env
        .check("get_url", json!({"url": srv.url("/f"), "dest": dest}))
        .await;
    assert!(o.changed && !o.failed, "{o:?}");
    assert!(!std::path::Path::new(&dest).exists());
    let reqs = srv.take_requests();
    assert_eq!(reqs.len(), 1);
    assert_eq!(
        reqs[0].method, "HEAD",
        "check mode only asks for the headers"
    );
}

#[tokio::test]
async fn errors_name_the_status_and_the_cause() {
    let srv = HttpServer::start();
    let env = Env::new();
    let dest = env.path("x");
    let o = env
        .run("get_url", json!({"url": srv.url("/missing"), "dest": dest}))
        .await;
    assert!(o.failed);
    let r = o.to_result();
    assert_eq!(r["msg"], "Request failed");
    assert_eq!(r["response"], "HTTP Error 404: Not Found");
    assert_eq!(r["status_code"], 404);
    srv.take_requests();

    let o = env
        .run(
            "get_url",
            json!({"url": "http://127.0.0.1:1/x", "dest": dest}),
        )
        .await;
    assert_eq!(
        o.msg.as_deref(),
        Some("Request failed: <urlopen error [Errno 111] Connection refused>")
    );

    let o = env
        .run(
            "get_url",
            json!({"url": srv.url("/x"), "dest": dest, "checksum": "abc"}),
        )
        .await;
    assert_eq!(
        o.msg.as_deref(),
        Some("The checksum parameter has to be in format <algorithm>:<checksum>")
    );
    let o = env
        .run(
            "get_url",
            json!({"url": srv.url("/x"), "dest": dest, "checksum": "sha1:xyz"}),
        )
        .await;
    assert_eq!(o.msg.as_deref(), Some("The checksum format is invalid"));

    let o = env.run("get_url", json!({"dest": dest})).await;
    assert!(o.failed);
    assert!(o.msg.as_deref().unwrap().contains("url"), "{o:?}");
    let o = env
        .run(
            "get_url",
            json!({"url": srv.url("/x"), "dest": dest, "destt": 1}),
        )
        .await;
    assert!(
        o.msg.as_deref().unwrap().contains("Unsupported parameters"),
        "{o:?}"
    );
    assert!(
        srv.take_requests().is_empty(),
        "bad arguments make no request"
    );
}

#[tokio::test]
async fn basic_auth_waits_for_the_challenge_unless_forced() {
    let srv = HttpServer::start();
    srv.set("/secret", Route::ok("s3cret").auth("ann", "p w\"'$x"));
    let env = Env::new();
    let dest = env.path("secret");

    let o = env
        .run("get_url", json!({"url": srv.url("/secret"), "dest": dest}))
        .await;
    assert!(o.failed);
    assert_eq!(o.to_result()["status_code"], 401);
    srv.take_requests();

    let o = env
        .run(
            "get_url",
            json!({"url": srv.url("/secret"), "dest": dest, "url_username": "ann", "url_password": "p w\"'$x"}),
        )
        .await;
    assert!(o.changed && !o.failed, "{o:?}");
    assert_eq!(std::fs::read_to_string(&dest).unwrap(), "s3cret");
    let reqs = srv.take_requests();
    assert_eq!(reqs.len(), 2, "{reqs:?}");
    assert_eq!(reqs[0].header("authorization"), None);
    assert!(reqs[1].header("authorization").is_some());

    std::fs::remove_file(&dest).unwrap();
    let o = env
        .run(
            "get_url",
            json!({"url": srv.url("/secret"), "dest": dest, "username": "ann", "password": "p w\"'$x", "force_basic_auth": true, "headers": {"X-Token": "t1"}}),
        )
        .await;
    assert!(o.changed && !o.failed, "{o:?}");
    let reqs = srv.take_requests();
    assert_eq!(reqs.len(), 1, "{reqs:?}");
    assert!(reqs[0].header("authorization").is_some());
    assert_eq!(reqs[0].header("x-token"), Some("t1"));
}

#[tokio::test]
async fn a_directory_dest_takes_the_name_from_the_server_or_url() {
    let srv = HttpServer::start();
    srv.set("/dl/plain.txt", Route::ok("p"));
    srv.set(
        "/dl/gen",
        Route::ok("g").header(
            "Content-Disposition",
            "attachment; filename=\"../named.bin\"",
        ),
    );
    srv.set("/moved", Route::redirect(302, "/dl/plain.txt"));
    let env = Env::new();
    let dir = env.path(NASTY);
    std::fs::create_dir(&dir).unwrap();
    let o = env
        .run(
            "get_url",
            json!({"url": srv.url("/dl/plain.txt"), "dest": dir}),
        )
        .await;
    assert!(o.changed, "{o:?}");
    assert_eq!(o.to_result()["dest"], format!("{dir}/plain.txt"));
    assert_eq!(
        std::fs::read_to_string(format!("{dir}/plain.txt")).unwrap(),
        "p"
    );
    let o = env
        .run("get_url", json!({"url": srv.url("/dl/gen"), "dest": dir}))
        .await;
    assert!(o.changed, "{o:?}");
    assert_eq!(
        std::fs::read_to_string(format!("{dir}/named.bin")).unwrap(),
        "g"
    );
    // A redirect is followed.
    let dest = format!("{dir}/moved");
    let o = env
        .run("get_url", json!({"url": srv.url("/moved"), "dest": dest}))
        .await;
    assert!(o.changed && !o.failed, "{o:?}");
    assert_eq!(std::fs::read_to_string(&dest).unwrap(), "p");
}

/// The keys and values both return, less the temporary file's name and
/// the time taken.
fn comparable(out: &std::process::Output) -> Value {
    let text = String::from_utf8_lossy(&out.stdout);
    let start = text
        .find("=> {")
        .map(|i| i + 3)
        .unwrap_or_else(|| panic!("no JSON in {text}"));
    let mut v: Value = serde_json::from_str(&text[start..]).expect("adhoc JSON");
    let m = v.as_object_mut().unwrap();
    for k in ["src", "elapsed", "dest", "msg"] {
        if k == "msg" {
            // The temp path is in some messages; keep their shape.
            if let Some(Value::String(s)) = m.get(k) {
                let s = s.split(" for /").next().unwrap_or(s).to_string();
                m.insert(k.into(), s.into());
            }
        } else {
            m.remove(k);
        }
    }
    v
}

#[test]
fn same_results_as_ansible() {
    let srv = HttpServer::start();
    srv.set("/f.txt", Route::ok("hello\n"));
    let dir = tempfile::tempdir().unwrap();
    for (args, check) in [
        ("url={u}/f.txt dest={d}/X", false),
        ("url={u}/f.txt dest={d}/X", false),
        ("url={u}/f.txt dest={d}/X force=yes mode=0600", false),
        ("url={u}/nope dest={d}/X", false),
        ("url={u}/f.txt dest={d}/Y", true),
        ("url={u}/f.txt dest={d}/Z checksum=sha1:abc", false),
        ("url=file:///etc/passwd dest={d}/P", false),
        ("url=file:///etc/passwd dest={d}/P", false),
        ("url=file:///nonexistent/x dest={d}/P", false),
        (
            "url={u}/f.txt dest={d}/X checksum=sha1:f572d396fae9206628714fb2ce00f72e94f2258f",
            false,
        ),
    ] {
        let extra: &[&str] = if check { &["--check"] } else { &[] };
        let a = args
            .replace("{u}", &srv.url(""))
            .replace("{d}", &format!("{}/a", dir.path().display()));
        let h = args
            .replace("{u}", &srv.url(""))
            .replace("{d}", &format!("{}/h", dir.path().display()));
        std::fs::create_dir_all(dir.path().join("a")).unwrap();
        std::fs::create_dir_all(dir.path().join("h")).unwrap();
        let ansible = common::ansible_adhoc("get_url", &a, extra);
        let herd = common::herd_adhoc("get_url", &h, extra);
        assert_eq!(ansible.status.code(), herd.status.code(), "{args}");
        assert_eq!(comparable(&ansible), comparable(&herd), "{args}");
    }
}

/// A directory of every command on this machine but curl, with BusyBox
/// as `wget`: a host that only has BusyBox's wget.
fn busybox_wget_path(dir: &std::path::Path) -> String {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    for d in [
        "/usr/local/sbin",
        "/usr/local/bin",
        "/usr/sbin",
        "/usr/bin",
        "/sbin",
        "/bin",
    ] {
        let Ok(entries) = std::fs::read_dir(d) else {
            continue;
        };
        for e in entries.flatten() {
            let name = e.file_name();
            let target = bin.join(&name);
            if name == "curl" || name == "wget" || target.symlink_metadata().is_ok() {
                continue;
            }
            std::os::unix::fs::symlink(e.path(), target).unwrap();
        }
    }
    let busybox = ["/usr/bin/busybox", "/bin/busybox"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .expect("busybox is needed for the wget test (scripts/test.sh installs it)");
    std::os::unix::fs::symlink(busybox, bin.join("wget")).unwrap();
    bin.display().to_string()
}

#[test]
fn busybox_wget_when_there_is_no_curl() {
    let srv = HttpServer::start();
    srv.set("/f.txt", Route::ok("hello\n").not_modified_when_asked());
    let dir = tempfile::tempdir().unwrap();
    let path = busybox_wget_path(dir.path());
    let dest = dir.path().join("f.txt").display().to_string();
    let run = |args: String| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_herd"))
            .env("NO_COLOR", "1")
            .env("PATH", &path)
            .args([
                "adhoc",
                "-i",
                "localhost,",
                "-c",
                "local",
                "all",
                "-m",
                "get_url",
                "-a",
            ])
            .arg(args)
            .output()
            .unwrap();
        comparable(&out)
    };
    let r = run(format!("url={} dest={dest}", srv.url("/f.txt")));
    assert_eq!(r["changed"], true, "{r}");
    assert_eq!(r["msg"], "OK (6 bytes)");
    assert_eq!(std::fs::read_to_string(&dest).unwrap(), "hello\n");
    let reqs = srv.take_requests();
    assert_eq!(reqs.len(), 1);
    assert!(
        reqs[0].header("user-agent") == Some("ansible-httpget"),
        "{reqs:?}"
    );
    let r = run(format!("url={} dest={dest}", srv.url("/f.txt")));
    assert_eq!(r["changed"], false, "{r}");
    assert_eq!(r["status_code"], 304);
    let r = run(format!("url={} dest={dest}", srv.url("/none")));
    assert_eq!(r["msg"], "Request failed", "{r}");
    assert_eq!(r["response"], "HTTP Error 404: Not Found");
}

const SSH_PLAYBOOK: &str = r#"- hosts: target
  gather_facts: false
  tasks:
    - name: Download
      ansible.builtin.get_url:
        url: "{{ base_url }}/app.conf"
        dest: "{{ root }}/app.conf"
        mode: "0640"
    - name: Ask the API
      ansible.builtin.uri:
        url: "{{ base_url }}/api"
        return_content: true
      register: api
    - name: The API answered
      ansible.builtin.assert:
        that:
          - api.json.ready
          - api.status == 200
    - name: Wait for the setting
      ansible.builtin.wait_for:
        path: "{{ root }}/app.conf"
        search_regex: "port=(\\d+)"
        timeout: 10
      register: waited
    - name: The port was found
      ansible.builtin.assert:
        that: waited.match_groups == ['8080']
    - name: Source
      ansible.builtin.git:
        repo: "{{ repo }}"
        dest: "{{ root }}/checkout"
"#;

/// The four network and source modules in one playbook over a real SSH
/// connection, as the unprivileged test user: everything changes on the
/// first run and nothing on the second.
#[test]
fn over_ssh_a_playbook_downloads_asks_waits_and_clones() {
    support::require_environment();
    let sshd = support::Sshd::start();
    let srv = HttpServer::start();
    srv.set("/app.conf", Route::ok("port=8080\n"));
    srv.set(
        "/api",
        Route::ok(r#"{"ready": true}"#).header("Content-Type", "application/json"),
    );
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let repo = dir.path().join("repo");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::create_dir_all(&repo).unwrap();
    let git = |args: &[&str]| {
        let ok = std::process::Command::new("git")
            .args(["-c", "user.email=t@example.com", "-c", "user.name=t"])
            .args(args)
            .current_dir(&repo)
            .status()
            .unwrap();
        assert!(ok.success(), "git {args:?}");
    };
    git(&["init", "-q", "-b", "main"]);
    std::fs::write(repo.join("README"), "hi\n").unwrap();
    git(&["add", "README"]);
    git(&["commit", "-qm", "one"]);
    module_support::set_mode(dir.path().to_str().unwrap(), 0o755);
    for p in [&root, &repo] {
        let ok = std::process::Command::new("chown")
            .args(["-R", support::USER, p.to_str().unwrap()])
            .status()
            .unwrap();
        assert!(ok.success());
    }
    std::fs::write(
        dir.path().join("hosts"),
        format!(
            "[target]\nbox {} root={} repo={} base_url={}\n",
            sshd.inventory_vars(),
            root.display(),
            repo.display(),
            srv.url("")
        ),
    )
    .unwrap();
    std::fs::write(dir.path().join("site.yml"), SSH_PLAYBOOK).unwrap();
    let run = || {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_herd"))
            .current_dir(dir.path())
            .env("NO_COLOR", "1")
            .env_remove("ANSIBLE_CONFIG")
            .args(["playbook", "-i", "hosts", "site.yml"])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{text}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        text
    };
    let first = run();
    assert!(first.contains("changed=2"), "{first}");
    assert_eq!(
        std::fs::read_to_string(root.join("app.conf")).unwrap(),
        "port=8080\n"
    );
    assert_eq!(mode_of(root.join("app.conf").to_str().unwrap()), 0o640);
    assert!(root.join("checkout/README").exists());
    let second = run();
    assert!(second.contains("changed=0"), "{second}");
    // Both runs asked the server as the test user's curl.
    let reqs = srv.take_requests();
    assert!(reqs
        .iter()
        .all(|r| r.header("user-agent") == Some("ansible-httpget")));
}
