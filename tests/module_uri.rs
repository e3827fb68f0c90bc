//! uri against a real HTTP server on 127.0.0.1 (tests/support/http.rs).
//! Each request is made by ansible's uri and by herd's, and the results
//! and what the server received are compared; then dest, creates/removes,
//! check mode and argument errors on the local host.

mod common;
#[path = "support/http.rs"]
mod http;
mod module_support;

use http::{HttpServer, Request, Route};
use module_support::{Env, NASTY};
use serde_json::{json, Value};

fn server() -> HttpServer {
    let srv = HttpServer::start();
    srv.set(
        "/j",
        Route::ok(r#"{"a": [1, 2], "b": "x"}"#)
            .header("Content-Type", "application/json")
            .header("X-Request-Id", "42")
            .header("Set-Cookie", "sid=abc; Path=/"),
    );
    srv.set(
        "/vnd",
        Route::ok(r#"{"v": true}"#)
            .header("Content-Type", "application/vnd.api+json; charset=utf-8"),
    );
    srv.set(
        "/t",
        Route::ok("plain text\n").header("Content-Type", "text/plain"),
    );
    srv.set(
        "/created",
        Route::status(201, "Created", "made").header("Content-Type", "text/plain"),
    );
    srv.set(
        "/bad",
        Route::status(500, "Internal Server Error", "oops").header("Content-Type", "text/plain"),
    );
    srv.set("/moved", Route::redirect(302, "/t"));
    srv.set(
        "/auth",
        Route::ok("in")
            .auth("bob", "pa ss")
            .header("Content-Type", "text/plain"),
    );
    srv
}

/// The result of an adhoc run, less what differs by nature (timing).
fn result_of(out: &std::process::Output) -> Value {
    let text = String::from_utf8_lossy(&out.stdout);
    let start = text
        .find("=> {")
        .map(|i| i + 3)
        .unwrap_or_else(|| panic!("no JSON in {text}"));
    let mut v: Value = serde_json::from_str(&text[start..]).expect("adhoc JSON");
    v.as_object_mut().unwrap().remove("elapsed");
    v
}

/// What matters of a request: its method, target, body (parsed when it
/// is JSON), content type and user agent.
fn essence(r: &Request) -> Value {
    let body = String::from_utf8_lossy(&r.body).to_string();
    let body = serde_json::from_str::<Value>(&body).unwrap_or(Value::String(body));
    json!({
        "method": r.method,
        "target": r.target,
        "body": body,
        "content-type": r.header("content-type"),
        "user-agent": r.header("user-agent"),
        "auth": r.header("authorization"),
    })
}

#[test]
fn same_results_and_requests_as_ansible() {
    let srv = server();
    let u = |p: &str| srv.url(p);
    let cases = [
        format!("url={}", u("/j")),
        format!("url={} return_content=yes", u("/t")),
        format!("url={} return_content=yes", u("/vnd")),
        format!("url={}", u("/missing")),
        format!("url={} return_content=yes", u("/bad")),
        format!("url={} status_code=200,500", u("/bad")),
        format!("url={} method=post status_code=201", u("/created")),
        format!("url={}", u("/moved")),
        format!("url={} follow_redirects=none status_code=302", u("/moved")),
        format!("url={} method=POST", u("/moved")),
        format!("url={} method=PUT body_format=json body='{{\"k\": [1, \"two\"]}}' status_code=404", u("/put")),
        format!("url={} method=POST body_format=form-urlencoded body='{{\"a b\": \"c&d\", \"n\": 1}}' status_code=404", u("/form")),
        format!("url={} method=DELETE status_code=404 headers='{{\"X-A\": \"1\"}}'", u("/del")),
        format!("url={} method=HEAD", u("/t")),
        format!("url={}", u("/auth")),
        format!("url={} url_username=bob url_password='pa ss'", u("/auth")),
        format!("url={} url_username=bob url_password='pa ss' force_basic_auth=yes", u("/auth")),
        "url=http://127.0.0.1:1/x".to_string(),
        format!("url={} method='GE T'", u("/t")),
    ];
    for args in &cases {
        let ansible = common::ansible_adhoc("uri", args, &[]);
        let theirs = srv.take_requests();
        let herd = common::herd_adhoc("uri", args, &[]);
        let ours = srv.take_requests();
        assert_eq!(ansible.status.code(), herd.status.code(), "{args}");
        assert_eq!(result_of(&ansible), result_of(&herd), "{args}");
        let theirs: Vec<Value> = theirs.iter().map(essence).collect();
        let ours: Vec<Value> = ours.iter().map(essence).collect();
        assert_eq!(theirs, ours, "{args}");
    }
}

#[tokio::test]
async fn dest_saves_the_body_on_the_host() {
    let srv = server();
    srv.set("/file", Route::ok("file body\n").not_modified_when_asked());
    let env = Env::new();
    let dest = env.path(NASTY);
    let o = env
        .run(
            "uri",
            json!({"url": srv.url("/file"), "dest": dest, "mode": "0600"}),
        )
        .await;
    assert!(o.changed && !o.failed, "{o:?}");
    assert_eq!(std::fs::read_to_string(&dest).unwrap(), "file body\n");
    assert_eq!(module_support::mode_of(&dest), 0o600);
    assert_eq!(o.to_result()["path"], dest.as_str());
    assert!(srv.take_requests()[0].header("if-modified-since").is_none());

    // Present: sent with If-Modified-Since; the 304 is not an accepted
    // status unless listed, as in Ansible.
    let o = env
        .run(
            "uri",
            json!({"url": srv.url("/file"), "dest": dest, "status_code": [200, 304]}),
        )
        .await;
    assert!(!o.changed && !o.failed, "{o:?}");
    assert_eq!(o.to_result()["status"], 304);
    let o = env
        .run("uri", json!({"url": srv.url("/file"), "dest": dest}))
        .await;
    assert!(o.failed);
    assert_eq!(
        o.msg.as_deref(),
        Some("Status code was 304 and not [200]: HTTP Error 304: Not Modified")
    );

    // Drift: force fetches again and rewrites it.
    std::fs::write(&dest, "edited").unwrap();
    let o = env
        .run(
            "uri",
            json!({"url": srv.url("/file"), "dest": dest, "force": true}),
        )
        .await;
    assert!(o.changed && !o.failed, "{o:?}");
    assert_eq!(std::fs::read_to_string(&dest).unwrap(), "file body\n");

    // A directory takes the name from the URL.
    let dir = env.path("d");
    std::fs::create_dir(&dir).unwrap();
    let o = env
        .run("uri", json!({"url": srv.url("/t"), "dest": dir}))
        .await;
    assert!(o.changed, "{o:?}");
    assert_eq!(
        std::fs::read_to_string(format!("{dir}/t")).unwrap(),
        "plain text\n"
    );
}

#[tokio::test]
async fn creates_removes_and_check_mode_make_no_request() {
    let srv = server();
    let env = Env::new();
    let there = env.path("there");
    std::fs::write(&there, "").unwrap();
    let o = env
        .run("uri", json!({"url": srv.url("/t"), "creates": there}))
        .await;
    assert!(!o.changed && !o.failed);
    assert_eq!(
        o.to_result()["stdout"],
        format!("skipped, since '{there}' exists")
    );
    let gone = env.path("gone");
    let o = env
        .run("uri", json!({"url": srv.url("/t"), "removes": gone}))
        .await;
    assert_eq!(
        o.to_result()["stdout"],
        format!("skipped, since '{gone}' does not exist")
    );
    let o = env.check("uri", json!({"url": srv.url("/t")})).await;
    assert!(o.skipped && !o.changed, "{o:?}");
    assert_eq!(
        o.msg.as_deref(),
        Some("remote module (uri) does not support check mode")
    );
    assert!(srv.take_requests().is_empty());
}

#[tokio::test]
async fn bad_arguments_are_refused_before_any_request() {
    let srv = server();
    let env = Env::new();
    let o = env
        .run("uri", json!({"url": srv.url("/t"), "body_format": "xml"}))
        .await;
    assert!(o.failed);
    assert!(o.msg.as_deref().unwrap().contains("body_format"), "{o:?}");
    let o = env
        .run("uri", json!({"url": srv.url("/t"), "status_code": ["ok"]}))
        .await;
    assert!(o.failed);
    assert!(o.msg.as_deref().unwrap().contains("status_code"), "{o:?}");
    let o = env.run("uri", json!({"method": "GET"})).await;
    assert!(
        o.failed && o.msg.as_deref().unwrap().contains("url"),
        "{o:?}"
    );
    assert!(srv.take_requests().is_empty());
}

/// `use_proxy: no` ignores the host's `http_proxy`; by default it is
/// used (here a proxy that refuses connections).
#[test]
fn use_proxy_no_bypasses_the_hosts_proxy() {
    let srv = server();
    let run = |extra: &str| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_herd"))
            .env("NO_COLOR", "1")
            .env("http_proxy", "http://127.0.0.1:1")
            .args([
                "adhoc",
                "-i",
                "localhost,",
                "-c",
                "local",
                "all",
                "-m",
                "uri",
                "-a",
            ])
            .arg(format!("url={} {extra}", srv.url("/t")))
            .output()
            .unwrap();
        result_of(&out)
    };
    let r = run("");
    assert_eq!(r["status"], -1, "{r}");
    assert!(srv.take_requests().is_empty());
    let r = run("use_proxy=no");
    assert_eq!(r["status"], 200, "{r}");
    assert_eq!(srv.take_requests().len(), 1);
}
