//! copy against the local host.

mod module_support;

use std::path::Path;

use module_support::{mode_of, set_mode, Env, NASTY};
use serde_json::json;

#[tokio::test]
async fn content_absent_present_drift_check() {
    let env = Env::new();
    let dest = env.path(NASTY);
    let args = json!({"content": "hello\n", "dest": dest, "mode": "0640"});
    let o = env.check("copy", args.clone()).await;
    assert!(o.changed && !o.failed, "{o:?}");
    assert!(!Path::new(&dest).exists());
    assert_eq!(o.diff[0].after, "hello\n");
    assert_eq!(o.diff[0].before, "");
    let o = env.run("copy", args.clone()).await;
    assert!(o.changed && !o.failed, "{o:?}");
    assert_eq!(std::fs::read_to_string(&dest).unwrap(), "hello\n");
    assert_eq!(mode_of(&dest), 0o640);
    assert_eq!(
        o.values["checksum"],
        "f572d396fae9206628714fb2ce00f72e94f2258f"
    );
    assert_eq!(o.values["md5sum"], "b1946ac92492d2347c6235b4d2611184");
    assert_eq!(o.values["dest"], dest.as_str());
    assert_eq!(o.values["size"], 6);
    assert_eq!(o.values["state"], "file");
    assert_eq!(o.values["mode"], "0640");
    let o = env.run("copy", args.clone()).await;
    assert!(!o.changed, "{o:?}");
    // Drift in content.
    std::fs::write(&dest, "other\n").unwrap();
    let o = env.run_with("copy", args.clone(), false, true).await;
    assert!(o.changed);
    assert_eq!(o.diff[0].before, "other\n");
    assert_eq!(o.diff[0].before_header.as_deref(), Some(dest.as_str()));
    assert_eq!(std::fs::read_to_string(&dest).unwrap(), "hello\n");
    // Drift in mode only.
    set_mode(&dest, 0o600);
    let o = env.check("copy", args.clone()).await;
    assert!(o.changed);
    assert_eq!(mode_of(&dest), 0o600);
    let o = env.run("copy", args.clone()).await;
    assert!(o.changed);
    assert_eq!(mode_of(&dest), 0o640);
    // force: no leaves a differing file alone.
    std::fs::write(&dest, "mine\n").unwrap();
    let o = env
        .run(
            "copy",
            json!({"content": "x", "dest": dest, "force": false}),
        )
        .await;
    assert!(!o.changed);
    assert_eq!(std::fs::read_to_string(&dest).unwrap(), "mine\n");
    // Only named, as Ansible's copy action reports a file it keeps.
    let mut keys: Vec<&str> = o.values.keys().map(|k| k.as_str()).collect();
    keys.sort();
    assert_eq!(keys, ["dest", "src"], "{o:?}");
    assert_eq!(o.msg, None);
    assert!(!Path::new("pwned").exists());
}

#[tokio::test]
async fn result_keys_as_ansibles_copy_action() {
    let env = Env::new();
    let dest = env.path("f");
    let args = json!({"content": "x\n", "dest": dest});
    // Check mode, a file to write: `changed` and an empty diff only.
    let o = env.run_with("copy", args.clone(), true, false).await;
    assert!(o.changed && o.msg.is_none(), "{o:?}");
    let keys: Vec<&str> = o.values.keys().map(|k| k.as_str()).collect();
    assert_eq!(keys, ["diff"], "{o:?}");
    assert_eq!(o.values["diff"], json!([]));
    let nested = json!({"content": "x\n", "dest": env.path("sub/f")});
    let o = env.run_with("copy", nested, true, false).await;
    assert!(o.changed && o.msg.is_none(), "{o:?}");
    assert_eq!(o.values["diff"], json!([]));
    // Check mode, the same content: the file as the file module reports it.
    std::fs::write(&dest, "x\n").unwrap();
    let o = env.run_with("copy", args.clone(), true, false).await;
    assert!(!o.changed, "{o:?}");
    assert_eq!(o.values["path"], dest.as_str());
    assert_eq!(o.values["state"], "file");
    assert!(o.values.get("md5sum").is_none() && o.values.get("src").is_none());
    // A real run without --diff still returns the empty list.
    let o = env
        .run("copy", json!({"content": "y\n", "dest": dest}))
        .await;
    assert!(o.changed && o.diff.is_empty(), "{o:?}");
    assert_eq!(o.values["diff"], json!([]));
}

#[tokio::test]
async fn src_file_into_directory_with_backup() {
    let env = Env::new();
    env.local_file("files/app.conf", "a=1\n");
    let d = env.path("etc dir");
    std::fs::create_dir(&d).unwrap();
    let o = env.run("copy", json!({"src": "app.conf", "dest": d})).await;
    assert!(o.changed && !o.failed, "{o:?}");
    let f = format!("{d}/app.conf");
    assert_eq!(std::fs::read_to_string(&f).unwrap(), "a=1\n");
    std::fs::write(&f, "a=0\n").unwrap();
    let o = env
        .run(
            "copy",
            json!({"src": "app.conf", "dest": format!("{d}/"), "backup": true}),
        )
        .await;
    assert!(o.changed);
    let backup = o.values["backup_file"].as_str().unwrap();
    let name = Path::new(backup).file_name().unwrap().to_str().unwrap();
    // app.conf.PID.YYYY-MM-DD@HH:MM:SS~
    let parts: Vec<&str> = name.splitn(4, '.').collect();
    assert_eq!(parts[0..2], ["app", "conf"]);
    assert!(parts[2].chars().all(|c| c.is_ascii_digit()), "{name}");
    assert!(name.ends_with('~') && name.contains('@'), "{name}");
    assert_eq!(std::fs::read_to_string(backup).unwrap(), "a=0\n");
    // Missing parents are created.
    let deep = env.path("x/y/z.conf");
    let o = env
        .check("copy", json!({"src": "app.conf", "dest": deep}))
        .await;
    assert!(o.changed && !Path::new(&env.path("x")).exists());
    // As Ansible's: a missing directory is made only for a dest ending
    // in `/`.
    let o = env
        .run(
            "copy",
            json!({"src": "app.conf", "dest": deep, "directory_mode": "0700"}),
        )
        .await;
    assert!(o.failed, "{o:?}");
    let o = env
        .run(
            "copy",
            json!({"src": "app.conf", "dest": env.path("x/y/"), "directory_mode": "0700"}),
        )
        .await;
    assert!(o.changed && !o.failed, "{o:?}");
    assert_eq!(mode_of(&env.path("x/y")), 0o700);
    assert!(Path::new(&env.path("x/y/app.conf")).is_file());
}

#[tokio::test]
async fn mode_preserve_and_checksum() {
    let env = Env::new();
    let p = env.local_file("files/run.sh", "#!/bin/sh\n");
    set_mode(p.to_str().unwrap(), 0o750);
    let dest = env.path("run.sh");
    let o = env
        .run(
            "copy",
            json!({"src": "run.sh", "dest": dest, "mode": "preserve"}),
        )
        .await;
    assert!(o.changed && !o.failed);
    assert_eq!(mode_of(&dest), 0o750);
    let o = env
        .run(
            "copy",
            json!({"src": "run.sh", "dest": dest, "checksum": "0000"}),
        )
        .await;
    assert!(o.failed && o.msg.unwrap().contains("expected checksum"));
}

#[tokio::test]
async fn directories_and_the_trailing_slash() {
    let env = Env::new();
    env.local_file("files/tree/a.txt", "a");
    env.local_file("files/tree/sub dir/b.txt", "b");
    let d = env.path("out");
    let o = env.run("copy", json!({"src": "tree", "dest": d})).await;
    assert!(o.changed && !o.failed, "{o:?}");
    assert_eq!(
        std::fs::read_to_string(format!("{d}/tree/sub dir/b.txt")).unwrap(),
        "b"
    );
    let o = env.run("copy", json!({"src": "tree", "dest": d})).await;
    assert!(!o.changed);
    let d2 = env.path("out2");
    let o = env.run("copy", json!({"src": "tree/", "dest": d2})).await;
    assert!(o.changed);
    assert_eq!(std::fs::read_to_string(format!("{d2}/a.txt")).unwrap(), "a");
    // remote_src: a file and a directory already on the host.
    let d3 = env.path("out3");
    let o = env
        .run(
            "copy",
            json!({"src": format!("{d2}/"), "dest": d3, "remote_src": true}),
        )
        .await;
    assert!(o.changed && !o.failed, "{o:?}");
    assert_eq!(
        std::fs::read_to_string(format!("{d3}/sub dir/b.txt")).unwrap(),
        "b"
    );
    let o = env
        .run(
            "copy",
            json!({"src": format!("{d2}/"), "dest": d3, "remote_src": true}),
        )
        .await;
    assert!(!o.changed);
    let o = env
        .run(
            "copy",
            json!({"src": format!("{d2}/a.txt"), "dest": env.path("a2"), "remote_src": true}),
        )
        .await;
    assert!(o.changed);
    assert_eq!(std::fs::read_to_string(env.path("a2")).unwrap(), "a");
}

#[tokio::test]
async fn validate() {
    let env = Env::new();
    let dest = env.path("v");
    let o = env
        .run(
            "copy",
            json!({"content": "bad", "dest": dest, "validate": "grep -q good %s"}),
        )
        .await;
    assert!(o.failed);
    assert_eq!(o.msg.as_deref(), Some("failed to validate"));
    assert!(!Path::new(&dest).exists());
    assert_eq!(
        std::fs::read_dir(env.dir.path()).unwrap().count(),
        1,
        "temp file left"
    );
    let o = env
        .run(
            "copy",
            json!({"content": "good", "dest": dest, "validate": "grep -q good %s"}),
        )
        .await;
    assert!(o.changed && !o.failed, "{o:?}");
    assert_eq!(std::fs::read_to_string(&dest).unwrap(), "good");
    let o = env
        .run(
            "copy",
            json!({"content": "good2", "dest": dest, "validate": "true"}),
        )
        .await;
    assert!(o.failed && o.msg.unwrap().contains("%s"));
}

#[tokio::test]
async fn bad_args() {
    let env = Env::new();
    let o = env.run("copy", json!({"content": "x"})).await;
    assert!(o.msg.unwrap().contains("missing required arguments: dest"));
    let o = env
        .run(
            "copy",
            json!({"content": "x", "src": "y", "dest": "/tmp/x"}),
        )
        .await;
    assert!(o.msg.unwrap().contains("mutually exclusive: content|src"));
    let o = env
        .run("copy", json!({"contnet": "x", "dest": "/tmp/x"}))
        .await;
    assert!(o.msg.unwrap().contains("Did you mean 'content'"));
    let o = env.run("copy", json!({"dest": "/tmp/x"})).await;
    assert_eq!(o.msg.as_deref(), Some("src (or content) is required"));
    let o = env
        .run("copy", json!({"content": "x", "dest": "/tmp/d/"}))
        .await;
    assert_eq!(
        o.msg.as_deref(),
        Some("can not use content with a dir as dest")
    );
}

#[tokio::test]
async fn content_into_a_directory_is_refused() {
    let env = Env::new();
    let d = env.path("d");
    std::fs::create_dir(&d).unwrap();
    let o = env.run("copy", json!({"content": "x", "dest": d})).await;
    assert_eq!(
        o.msg.as_deref(),
        Some("can not use content with a dir as dest")
    );
    // A link at dest is replaced by the file (follow: false), as Ansible does.
    let target = env.path("target");
    std::fs::write(&target, "old").unwrap();
    let l = env.path("link");
    std::os::unix::fs::symlink(&target, &l).unwrap();
    let o = env.run("copy", json!({"content": "new", "dest": l})).await;
    assert!(o.changed && !o.failed, "{o:?}");
    assert!(!std::fs::symlink_metadata(&l)
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "old");
    // With follow, the link's target is written.
    std::fs::remove_file(&l).unwrap();
    std::os::unix::fs::symlink(&target, &l).unwrap();
    let o = env
        .run("copy", json!({"content": "new", "dest": l, "follow": true}))
        .await;
    assert!(o.changed && !o.failed, "{o:?}");
    assert!(std::fs::symlink_metadata(&l)
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "new");
}

#[tokio::test]
async fn large_files_compare_by_checksum() {
    let env = Env::new();
    let dest = env.path("big");
    let big = "0123456789abcdef".repeat(10_000);
    let o = env.run("copy", json!({"content": big, "dest": dest})).await;
    assert!(o.changed);
    let o = env.run("copy", json!({"content": big, "dest": dest})).await;
    assert!(!o.changed, "{o:?}");
    let other = big.replace('0', "1");
    let o = env
        .run("copy", json!({"content": other, "dest": dest}))
        .await;
    assert!(o.changed);
    assert_eq!(std::fs::read_to_string(&dest).unwrap(), other);
}

#[tokio::test]
async fn big_src_files_stream_and_skip_the_diff() {
    let env = Env::new();
    // Above Ansible's diff limit (104448 bytes) and the read-back size.
    let big = "0123456789abcdef\n".repeat(8_000);
    env.local_file("files/big.txt", &big);
    let dest = env.path("big.txt");
    let args = json!({"src": "big.txt", "dest": dest});
    let o = env.run_with("copy", args.clone(), false, true).await;
    assert!(o.changed && !o.failed, "{o:?}");
    assert_eq!(std::fs::read_to_string(&dest).unwrap(), big);
    assert_eq!(o.diff[0].src_larger, Some(104_448));
    assert_eq!(o.diff[0].dst_larger, None);
    assert!(o.values["md5sum"].as_str().is_some_and(|s| s.len() == 32));
    let o = env.run_with("copy", args.clone(), false, true).await;
    assert!(!o.changed, "{o:?}");
    assert!(o.diff.is_empty());
    // Same size, one byte different: found by checksum.
    let drifted = big.replacen('7', "8", 1);
    std::fs::write(&dest, &drifted).unwrap();
    let o = env.run_with("copy", args.clone(), false, true).await;
    assert!(o.changed, "{o:?}");
    assert_eq!(o.diff[0].dst_larger, Some(104_448));
    assert_eq!(std::fs::read_to_string(&dest).unwrap(), big);
    // A binary source is named, not diffed.
    env.local_file("files/bin", "a\0b");
    let o = env
        .run_with(
            "copy",
            json!({"src": "bin", "dest": env.path("bin")}),
            false,
            true,
        )
        .await;
    assert!(o.diff[0].src_binary && o.changed, "{o:?}");
    // remote_src: compared and copied on the host.
    let copy = env.path("copy.txt");
    let args = json!({"src": dest, "dest": copy, "remote_src": true});
    let o = env.run("copy", args.clone()).await;
    assert!(o.changed && !o.failed, "{o:?}");
    assert_eq!(std::fs::read_to_string(&copy).unwrap(), big);
    assert_eq!(
        o.values["checksum"],
        env.run("stat", json!({"path": dest})).await.values["stat"]["checksum"]
    );
    let o = env.run("copy", args.clone()).await;
    assert!(!o.changed, "{o:?}");
}

/// As Ansible's copy: a missing directory is made only for a `dest`
/// ending in `/`; otherwise the copy fails and writes nothing (check mode
/// still says it would change).
#[tokio::test]
async fn missing_parent_directory() {
    let env = Env::new();
    let dest = env.path("nodir/f");
    let o = env.run("copy", json!({"content": "x", "dest": dest})).await;
    assert!(o.failed, "{o:?}");
    assert_eq!(
        o.msg,
        Some(format!(
            "Destination directory {} does not exist",
            env.path("nodir")
        ))
    );
    assert!(!std::path::Path::new(&env.path("nodir")).exists());
    let o = env
        .check("copy", json!({"content": "x", "dest": dest}))
        .await;
    assert!(o.changed && !o.failed, "{o:?}");
    env.local_file("files/src.txt", "s\n");
    let o = env
        .run(
            "copy",
            json!({"src": "src.txt", "dest": env.path("made/") }),
        )
        .await;
    assert!(o.changed && !o.failed, "{o:?}");
    assert_eq!(
        std::fs::read_to_string(env.path("made/src.txt")).unwrap(),
        "s\n"
    );
}
