//! wait_for on the local host: files the test creates, fills and removes
//! while the module waits, ports the test opens and closes, timeouts and
//! their messages, and the same results as ansible's wait_for.

mod common;
mod module_support;

use std::net::TcpListener;
use std::time::{Duration, Instant};

use module_support::{Env, NASTY};
use serde_json::{json, Value};

/// Runs `f` after `ms` milliseconds on another thread.
fn later(ms: u64, f: impl FnOnce() + Send + 'static) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(ms));
        f();
    })
}

/// A loopback port nothing listens on (bound, then released).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test]
async fn waits_for_a_file_to_appear_and_to_go() {
    let env = Env::new();
    let path = env.path(NASTY);
    let p = path.clone();
    let start = Instant::now();
    let t = later(1500, move || std::fs::write(&p, "x").unwrap());
    let o = env
        .run("wait_for", json!({"path": path, "timeout": 20}))
        .await;
    t.join().unwrap();
    assert!(!o.failed && !o.changed, "{o:?}");
    assert!(start.elapsed() >= Duration::from_millis(1500));
    let r = o.to_result();
    assert_eq!(r["path"], path.as_str());
    assert_eq!(r["state"], "file");
    assert_eq!(r["port"], Value::Null);
    assert_eq!(r["match_groups"], json!([]));

    let p = path.clone();
    let t = later(1500, move || std::fs::remove_file(&p).unwrap());
    let o = env
        .run(
            "wait_for",
            json!({"path": path, "state": "absent", "timeout": 20}),
        )
        .await;
    t.join().unwrap();
    assert!(!o.failed, "{o:?}");
    assert_eq!(o.to_result()["state"], "absent");
    assert!(!std::path::Path::new(&path).exists());
}

#[tokio::test]
async fn waits_for_a_regex_in_a_file() {
    let env = Env::new();
    let path = env.path("app.log");
    std::fs::write(&path, "starting\n").unwrap();
    let p = path.clone();
    let t = later(1500, move || {
        std::fs::write(&p, "starting\nlistening on port=8080 as web\n").unwrap()
    });
    let o = env
        .run(
            "wait_for",
            json!({"path": path, "search_regex": r"^listening on port=(\d+) as (?P<role>\w+)$", "timeout": 20}),
        )
        .await;
    t.join().unwrap();
    assert!(!o.failed, "{o:?}");
    let r = o.to_result();
    assert_eq!(r["match_groups"], json!(["8080", "web"]));
    assert_eq!(r["match_groupdict"], json!({"role": "web"}));

    let o = env
        .run(
            "wait_for",
            json!({"path": path, "search_regex": "never there", "timeout": 2}),
        )
        .await;
    assert!(o.failed);
    assert_eq!(
        o.msg.as_deref(),
        Some(format!("Timeout when waiting for search string never there in {path}").as_str())
    );
}

#[tokio::test]
async fn waits_for_a_port_to_open_and_to_close() {
    let env = Env::new();
    let port = free_port();
    let (tx, rx) = std::sync::mpsc::channel();
    let t = later(1500, move || {
        let l = TcpListener::bind(("127.0.0.1", port)).unwrap();
        // Held until the test says the close may happen.
        rx.recv().unwrap();
        std::thread::sleep(Duration::from_millis(1500));
        drop(l);
    });
    let o = env
        .run("wait_for", json!({"port": port, "timeout": 20}))
        .await;
    assert!(!o.failed, "{o:?}");
    let r = o.to_result();
    assert_eq!(r["port"], port);
    assert_eq!(r["state"], "started");
    assert_eq!(r["path"], Value::Null);

    tx.send(()).unwrap();
    let o = env
        .run(
            "wait_for",
            json!({"port": port, "state": "stopped", "timeout": 20}),
        )
        .await;
    t.join().unwrap();
    assert!(!o.failed, "{o:?}");
    assert_eq!(o.to_result()["state"], "stopped");
}

#[tokio::test]
async fn drained_counts_the_open_connections() {
    let env = Env::new();
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let client = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let (server_side, _) = l.accept().unwrap();
    let o = env
        .run(
            "wait_for",
            json!({"port": port, "state": "drained", "timeout": 2}),
        )
        .await;
    assert!(o.failed, "{o:?}");
    assert_eq!(
        o.msg.as_deref(),
        Some(format!("Timeout when waiting for 127.0.0.1:{port} to drain").as_str())
    );
    // Closed connections linger in TIME_WAIT; count only ESTABLISHED.
    let t = later(1500, move || {
        drop(client);
        drop(server_side);
    });
    let o = env
        .run(
            "wait_for",
            json!({"port": port, "state": "drained", "timeout": 20, "active_connection_states": ["ESTABLISHED"]}),
        )
        .await;
    t.join().unwrap();
    assert!(!o.failed, "{o:?}");
    // The connection from 127.0.0.1 is not counted when excluded.
    let c2 = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let _s2 = l.accept().unwrap();
    let o = env
        .run(
            "wait_for",
            json!({"port": port, "state": "drained", "timeout": 2, "active_connection_states": ["ESTABLISHED"], "exclude_hosts": ["127.0.0.1"]}),
        )
        .await;
    assert!(!o.failed, "{o:?}");
    drop(c2);
}

#[tokio::test]
async fn timeouts_and_bad_arguments_fail_with_ansibles_words() {
    let env = Env::new();
    let port = free_port();
    let o = env
        .run("wait_for", json!({"port": port, "timeout": 1}))
        .await;
    assert_eq!(
        o.msg.as_deref(),
        Some(format!("Timeout when waiting for 127.0.0.1:{port}").as_str())
    );
    assert!(o.to_result()["elapsed"].as_u64().unwrap() >= 1);
    let o = env
        .run(
            "wait_for",
            json!({"port": port, "timeout": 1, "msg": "no service"}),
        )
        .await;
    assert_eq!(o.msg.as_deref(), Some("no service"));
    let missing = env.path("missing");
    let o = env
        .run("wait_for", json!({"path": missing, "timeout": 1}))
        .await;
    assert_eq!(
        o.msg.as_deref(),
        Some(format!("Timeout when waiting for file {missing}").as_str())
    );

    for (args, msg) in [
        (
            json!({"port": 1, "path": "/x"}),
            "port and path parameter can not both be passed to wait_for",
        ),
        (
            json!({"path": "/x", "state": "stopped"}),
            "state=stopped should only be used for checking a port in the wait_for module",
        ),
        (
            json!({"port": 1, "exclude_hosts": ["a"]}),
            "exclude_hosts should only be with state=drained",
        ),
        (
            json!({"port": 1, "state": "drained", "active_connection_states": ["BOGUS"]}),
            "unknown active_connection_state (BOGUS) defined",
        ),
    ] {
        let o = env.run("wait_for", args.clone()).await;
        assert!(o.failed, "{args}");
        assert_eq!(o.msg.as_deref(), Some(msg), "{args}");
    }
    let o = env
        .run("wait_for", json!({"path": "/x", "search_regex": "("}))
        .await;
    assert!(
        o.msg
            .as_deref()
            .unwrap()
            .starts_with("Invalid regular expression"),
        "{o:?}"
    );
    let o = env
        .run("wait_for", json!({"path": "/x", "state": "gone"}))
        .await;
    assert!(
        o.failed && o.msg.as_deref().unwrap().contains("state"),
        "{o:?}"
    );

    // Check mode: skipped, as Ansible skips a module without check mode.
    let o = env.check("wait_for", json!({"path": missing})).await;
    assert!(o.skipped && !o.failed, "{o:?}");
}

fn result_of(out: &std::process::Output) -> String {
    let text = String::from_utf8_lossy(&out.stdout);
    // The whole result but the time taken, which a second's rounding
    // can change.
    text.lines()
        .filter(|l| {
            !l.starts_with("[ERROR]")
                && !l.starts_with("Origin:")
                && !l.starts_with("{'action")
                && !l.trim_start().starts_with("\"elapsed\":")
        })
        .collect::<Vec<_>>()
        .join("\n")
        .trim()
        .to_string()
}

#[test]
fn same_results_as_ansible() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("f");
    std::fs::write(&f, "alpha beta\ngamma 42\n").unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let open = listener.local_addr().unwrap().port();
    let closed = free_port();
    let f = f.display();
    for args in [
        format!("path={f}"),
        format!("path={f} search_regex='^gamma (\\d+)'"),
        format!("path={f} search_regex='(?P<word>b\\w+)'"),
        format!("path={f}.none timeout=1"),
        format!("path={f} state=absent timeout=1"),
        format!("path={f}.none state=absent"),
        format!("path={f} search_regex=zzz timeout=1"),
        format!("port={open}"),
        format!("port={closed} timeout=1"),
        format!("port={closed} state=stopped"),
        format!("port={open} state=stopped timeout=1"),
        format!("port={open} path={f}"),
        "timeout=1".to_string(),
    ] {
        let ansible = common::ansible_adhoc("wait_for", &args, &[]);
        let herd = common::herd_adhoc("wait_for", &args, &[]);
        assert_eq!(ansible.status.code(), herd.status.code(), "{args}");
        assert_eq!(result_of(&ansible), result_of(&herd), "{args}");
    }
    drop(listener);
}
