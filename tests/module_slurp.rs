//! slurp and tempfile against the local host.

mod module_support;

use module_support::{Env, NASTY};
use serde_json::json;

#[tokio::test]
async fn slurp() {
    let env = Env::new();
    let p = env.path(NASTY);
    std::fs::write(&p, b"hi\0\xff").unwrap();
    let o = env.run("slurp", json!({"src": p})).await;
    assert!(!o.changed && !o.failed);
    assert_eq!(o.values["content"], "aGkA/w==");
    assert_eq!(o.values["encoding"], "base64");
    assert_eq!(o.values["source"], p.as_str());
    let o = env.run("slurp", json!({"path": env.path("none")})).await;
    assert!(o.failed && o.msg.unwrap().starts_with("file not found"));
    let o = env.run("slurp", json!({"src": env.dir.path()})).await;
    assert!(o.failed && o.msg.unwrap().contains("directory"));
}

#[tokio::test]
async fn tempfile() {
    let env = Env::new();
    let dir = env.path("t d");
    std::fs::create_dir(&dir).unwrap();
    let o = env
        .run(
            "tempfile",
            json!({"path": dir, "prefix": "x'$(y)", "suffix": ".conf"}),
        )
        .await;
    assert!(o.changed && !o.failed, "{o:?}");
    let p = o.values["path"].as_str().unwrap();
    let name = std::path::Path::new(p)
        .file_name()
        .unwrap()
        .to_str()
        .unwrap();
    assert!(
        name.starts_with("x'$(y)") && name.ends_with(".conf"),
        "{name}"
    );
    assert!(std::path::Path::new(p).is_file());
    assert_eq!(module_support::mode_of(p), 0o600);
    let o = env
        .run("tempfile", json!({"path": dir, "state": "directory"}))
        .await;
    let p = o.values["path"].as_str().unwrap();
    assert!(std::path::Path::new(p).is_dir());
    assert_eq!(module_support::mode_of(p), 0o700);
    let o = env.check("tempfile", json!({"path": dir})).await;
    assert!(o.skipped);
    let o = env.run("tempfile", json!({"state": "fifo"})).await;
    assert!(o
        .msg
        .unwrap()
        .contains("value of state must be one of: file, directory"));
}
