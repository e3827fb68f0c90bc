//! stat against the local host.

mod module_support;

use module_support::{set_mode, Env, NASTY};
use serde_json::{json, Value};

#[tokio::test]
async fn stat_fields() {
    let env = Env::new();
    let p = env.path(NASTY);
    let o = env.run("stat", json!({"path": p})).await;
    assert!(!o.changed && !o.failed);
    assert_eq!(o.values["stat"], json!({"exists": false}));
    std::fs::write(&p, "hello\n").unwrap();
    set_mode(&p, 0o640);
    let o = env.run("stat", json!({"path": p})).await;
    let s = &o.values["stat"];
    assert_eq!(s["exists"], true);
    assert_eq!(s["path"], p.as_str());
    assert_eq!(s["mode"], "0640");
    assert_eq!(s["isreg"], true);
    assert_eq!(s["isdir"], false);
    assert_eq!(s["size"], 6);
    assert_eq!(s["rgrp"], true);
    assert_eq!(s["roth"], false);
    assert_eq!(s["readable"], true);
    assert_eq!(s["executable"], false);
    // sha1 of "hello\n"
    assert_eq!(s["checksum"], "f572d396fae9206628714fb2ce00f72e94f2258f");
    assert!(s["inode"].as_u64().unwrap() > 0);
    assert_eq!(s["nlink"], 1);
    assert!(s["mtime"].as_f64().unwrap() > 1e9);
    assert!(s.get("pw_name").is_some() && s.get("gr_name").is_some());
    let o = env
        .run(
            "stat",
            json!({"path": p, "checksum_algorithm": "sha256", "get_mime": false}),
        )
        .await;
    assert_eq!(
        o.values["stat"]["checksum"],
        "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"
    );
    assert!(o.values["stat"].get("mimetype").is_none());
    let o = env
        .run("stat", json!({"path": p, "get_checksum": false}))
        .await;
    assert!(o.values["stat"].get("checksum").is_none());
}

#[tokio::test]
async fn links() {
    let env = Env::new();
    let target = env.path("t");
    std::fs::create_dir(&target).unwrap();
    let link = env.path("l");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let o = env.run("stat", json!({"path": link})).await;
    assert_eq!(o.values["stat"]["islnk"], true);
    assert_eq!(o.values["stat"]["lnk_target"], target.as_str());
    let real = std::fs::canonicalize(&target).unwrap();
    assert_eq!(o.values["stat"]["lnk_source"], real.to_str().unwrap());
    let o = env.run("stat", json!({"path": link, "follow": true})).await;
    assert_eq!(o.values["stat"]["islnk"], false);
    assert_eq!(o.values["stat"]["isdir"], true);
}

/// What ansible-core 2.19's stat returns for links, seen on this kind of
/// host: a link not followed has no checksum, lsattr fails on it (empty
/// attributes), and a dangling link's mime type is unknown.
#[tokio::test]
async fn links_as_ansible_reports_them() {
    let env = Env::new();
    let f = env.path("f");
    std::fs::write(&f, "hi\n").unwrap();
    let link = env.path("l");
    std::os::unix::fs::symlink(&f, &link).unwrap();
    let dangling = env.path("dangling");
    std::os::unix::fs::symlink(env.path("nowhere"), &dangling).unwrap();
    let s = env.run("stat", json!({"path": link})).await.values["stat"].clone();
    assert!(s.get("checksum").is_none(), "{s}");
    assert_eq!(
        (&s["attributes"], &s["attr_flags"]),
        (&json!([]), &json!(""))
    );
    assert_eq!(s["version"], Value::Null);
    let s = env
        .run("stat", json!({"path": link, "follow": true}))
        .await
        .values["stat"]
        .clone();
    assert_eq!(s["checksum"], "55ca6286e3e4f4fba5d0448333fa99fc5a404a73");
    let s = env.run("stat", json!({"path": dangling})).await.values["stat"].clone();
    assert_eq!((&s["exists"], &s["islnk"]), (&json!(true), &json!(true)));
    assert_eq!(
        (&s["mimetype"], &s["charset"]),
        (&json!("unknown"), &json!("unknown"))
    );
    let s = env
        .run("stat", json!({"path": dangling, "follow": true}))
        .await
        .values["stat"]
        .clone();
    assert_eq!(s, json!({"exists": false}));
}

#[tokio::test]
async fn bad_args() {
    let env = Env::new();
    let o = env.run("stat", json!({})).await;
    assert!(o.failed && o.msg.unwrap().contains("missing required arguments: path"));
    let o = env
        .run("stat", json!({"path": "/", "checksum_algorithm": "crc"}))
        .await;
    assert!(o
        .msg
        .unwrap()
        .contains("value of checksum_algorithm must be one of"));
}

#[tokio::test]
async fn tilde_is_the_remote_home() {
    let env = Env::new();
    let o = env
        .run("stat", json!({"path": "~", "get_mime": false}))
        .await;
    let home = std::env::var("HOME").unwrap();
    assert_eq!(o.values["stat"]["path"], home.as_str());
    assert_eq!(o.values["stat"]["isdir"], true);
}

#[tokio::test]
async fn attributes_and_mime() {
    let env = Env::new();
    let p = env.path("f");
    std::fs::write(&p, "text\n").unwrap();
    let o = env.run("stat", json!({"path": p})).await;
    let s = &o.values["stat"];
    assert!(s["mimetype"].is_string() && s["charset"].is_string());
    // Asked of the host the module ran on (BusyBox has no lsattr).
    use herd_modules::api::Host;
    let probe = env
        .host
        .exec(
            &format!("lsattr -vd -- {}", herd_modules::api::shell_quote(&p)),
            &Default::default(),
        )
        .await
        .unwrap();
    let lsattr_works = probe.rc == 0;
    if lsattr_works {
        assert!(s["attributes"].is_array(), "{s}");
        assert!(s["version"].is_string());
    }
    let o = env
        .run(
            "stat",
            json!({"path": p, "get_attributes": false, "get_mime": false}),
        )
        .await;
    assert!(o.values["stat"].get("attributes").is_none());
    assert!(o.values["stat"].get("mimetype").is_none());
}
