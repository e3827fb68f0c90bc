//! file against the local host.

mod module_support;

use std::path::Path;

use module_support::{mode_of, set_mode, Env, NASTY};
use serde_json::json;

#[tokio::test]
async fn directory_absent_present_drift_check() {
    let env = Env::new();
    let d = env.path(&format!("{NASTY}/sub/leaf"));
    // Check mode: reported, nothing created.
    let o = env
        .check(
            "file",
            json!({"path": d, "state": "directory", "mode": "0750"}),
        )
        .await;
    assert!(o.changed && !o.failed, "{o:?}");
    assert!(!Path::new(&d).exists());
    // One before/after dict, as Ansible's file module returns it.
    assert_eq!(o.values["diff"]["before"]["state"], "absent", "{o:?}");
    assert_eq!(o.values["diff"]["after"]["state"], "directory");
    // In check mode, a path still to be made has no state of its own.
    assert!(o.values.get("state").is_none(), "{o:?}");
    let o = env
        .run(
            "file",
            json!({"path": d, "state": "directory", "mode": "0750"}),
        )
        .await;
    assert!(o.changed && !o.failed, "{o:?}");
    assert_eq!(mode_of(&d), 0o750);
    assert_eq!(
        mode_of(&env.path(NASTY)),
        0o750,
        "created parents get the mode"
    );
    assert_eq!(o.values["state"], "directory");
    assert_eq!(o.values["mode"], "0750");
    let o = env
        .run(
            "file",
            json!({"path": d, "state": "directory", "mode": "0750"}),
        )
        .await;
    assert!(!o.changed);
    set_mode(&d, 0o700);
    let o = env
        .run_with(
            "file",
            json!({"path": d, "state": "directory", "mode": "u=rwx,g=rx"}),
            false,
            true,
        )
        .await;
    assert!(o.changed);
    assert_eq!(mode_of(&d), 0o750);
    assert_eq!(o.values["diff"]["before"]["mode"], "0700", "{o:?}");
    assert!(!Path::new("pwned").exists());
}

#[tokio::test]
async fn file_state_and_modes() {
    let env = Env::new();
    let f = env.path("a file");
    let o = env.run("file", json!({"path": f})).await;
    assert!(o.failed);
    assert_eq!(
        o.msg.unwrap(),
        format!("file ({f}) is absent, cannot continue")
    );
    std::fs::write(&f, "x").unwrap();
    set_mode(&f, 0o644);
    let o = env.run("file", json!({"path": f, "mode": "u+x,g-r"})).await;
    assert!(o.changed);
    assert_eq!(mode_of(&f), 0o704);
    let o = env.run("file", json!({"path": f, "mode": "u+x,g-r"})).await;
    assert!(!o.changed);
    let o = env.check("file", json!({"path": f, "mode": 0o600})).await;
    assert!(o.changed);
    assert_eq!(mode_of(&f), 0o704);
    let o = env.run("file", json!({"path": f, "mode": 0o600})).await;
    assert!(o.changed);
    assert_eq!(mode_of(&f), 0o600);
    let me = o.values["owner"].as_str().unwrap().to_string();
    let o = env
        .run(
            "file",
            json!({"path": f, "owner": me, "group": o.values["gid"]}),
        )
        .await;
    assert!(!o.changed, "{o:?}");
}

#[tokio::test]
async fn touch_and_absent() {
    let env = Env::new();
    let f = env.path(NASTY);
    let o = env
        .check("file", json!({"path": f, "state": "touch"}))
        .await;
    assert!(o.changed);
    assert!(!Path::new(&f).exists());
    // As Ansible's: a file still to be touched has no diff in check mode.
    assert!(o.values.get("diff").is_none(), "{o:?}");
    let o = env
        .run("file", json!({"path": f, "state": "touch", "mode": "0600"}))
        .await;
    assert!(o.changed && !o.failed, "{o:?}");
    assert_eq!(mode_of(&f), 0o600);
    assert_eq!(o.values["dest"], f.as_str());
    let o = env
        .run(
            "file",
            json!({"path": f, "state": "touch", "modification_time": "preserve", "access_time": "preserve"}),
        )
        .await;
    assert!(!o.changed);
    let o = env
        .run(
            "file",
            json!({"path": f, "state": "touch", "modification_time": "202001020304.05"}),
        )
        .await;
    assert!(o.changed);
    let mtime = std::fs::metadata(&f).unwrap().modified().unwrap();
    let year2020 = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_577_000_000);
    assert!(mtime < year2020 + std::time::Duration::from_secs(3_000_000));
    let o = env
        .check("file", json!({"path": f, "state": "absent"}))
        .await;
    assert!(o.changed && Path::new(&f).exists());
    let o = env.run("file", json!({"path": f, "state": "absent"})).await;
    assert!(o.changed && !Path::new(&f).exists());
    let o = env.run("file", json!({"path": f, "state": "absent"})).await;
    assert!(!o.changed);
    let d = env.path("tree");
    std::fs::create_dir_all(format!("{d}/x/y")).unwrap();
    let o = env.run("file", json!({"path": d, "state": "absent"})).await;
    assert!(o.changed && !Path::new(&d).exists());
}

#[tokio::test]
async fn links_and_hard_links() {
    let env = Env::new();
    let t = env.path("target file");
    std::fs::write(&t, "x").unwrap();
    let l = env.path(NASTY);
    let o = env
        .run("file", json!({"path": l, "src": t, "state": "link"}))
        .await;
    assert!(o.changed && !o.failed, "{o:?}");
    assert_eq!(std::fs::read_link(&l).unwrap().to_str(), Some(t.as_str()));
    assert_eq!(o.values["src"], t.as_str());
    let o = env
        .run("file", json!({"path": l, "src": t, "state": "link"}))
        .await;
    assert!(!o.changed);
    let o = env
        .run_with(
            "file",
            json!({"path": l, "src": "target file", "state": "link"}),
            false,
            true,
        )
        .await;
    assert!(o.changed);
    assert_eq!(o.values["diff"]["after"]["src"], "target file", "{o:?}");
    assert_eq!(
        std::fs::read_link(&l).unwrap().to_str(),
        Some("target file")
    );
    let o = env
        .run(
            "file",
            json!({"path": env.path("l2"), "src": "missing", "state": "link"}),
        )
        .await;
    assert!(o.failed && o.msg.unwrap().contains("force=yes"));
    let o = env
        .run(
            "file",
            json!({"path": env.path("l2"), "src": "missing", "state": "link", "force": true}),
        )
        .await;
    assert!(o.changed && !o.failed);
    // A link to a missing target: no attributes, and the follow warning.
    assert!(o.values.get("mode").is_none() && o.values.get("state").is_none());
    assert_eq!(o.values["src"], "missing");
    assert!(
        o.warnings[0].contains("non-existent symlink target"),
        "{o:?}"
    );
    let o = env
        .run(
            "file",
            json!({"path": t, "src": "/etc/hostname", "state": "link"}),
        )
        .await;
    assert!(o.failed && o.msg.unwrap().starts_with("refusing to convert from file"));
    let h = env.path("hard");
    let o = env
        .run("file", json!({"path": h, "src": t, "state": "hard"}))
        .await;
    assert!(o.changed && !o.failed, "{o:?}");
    use std::os::unix::fs::MetadataExt;
    assert_eq!(
        std::fs::metadata(&h).unwrap().ino(),
        std::fs::metadata(&t).unwrap().ino()
    );
    let o = env
        .run("file", json!({"path": h, "src": t, "state": "hard"}))
        .await;
    assert!(!o.changed, "{o:?}");
}

#[tokio::test]
async fn recurse() {
    let env = Env::new();
    let d = env.path("r");
    std::fs::create_dir_all(format!("{d}/a b/c")).unwrap();
    std::fs::write(format!("{d}/a b/f"), "").unwrap();
    let args = json!({"path": d, "state": "directory", "recurse": true, "mode": "u=rwX,g=rX,o="});
    let o = env.run("file", args.clone()).await;
    assert!(o.changed && !o.failed, "{o:?}");
    assert_eq!(mode_of(&format!("{d}/a b/f")), 0o640);
    assert_eq!(mode_of(&format!("{d}/a b/c")), 0o750);
    let o = env.run("file", args).await;
    assert!(!o.changed, "{o:?}");
}

#[tokio::test]
async fn bad_args() {
    let env = Env::new();
    let o = env
        .run("file", json!({"path": "/tmp", "state": "dir"}))
        .await;
    assert!(o.msg.unwrap().contains("value of state must be one of"));
    let o = env
        .run("file", json!({"path": "/tmp", "moed": "0644"}))
        .await;
    let m = o.msg.unwrap();
    assert!(
        m.contains("(ansible.builtin.file) module: moed") && m.contains("'mode'"),
        "{m}"
    );
    let o = env
        .run("file", json!({"path": "/tmp", "mode": "u+z"}))
        .await;
    assert!(o.failed && o.msg.unwrap().contains("mode"));
    let o = env
        .run(
            "file",
            json!({"path": "/tmp", "recurse": true, "state": "file"}),
        )
        .await;
    assert_eq!(
        o.msg.as_deref(),
        Some("recurse option requires state to be 'directory'")
    );
}
