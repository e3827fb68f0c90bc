//! unarchive step by step, through `herd adhoc` and ansible's unarchive
//! into two copies of the same directories: the results (as JSON) and the
//! trees left behind must be the same, for tar.gz, tar.bz2, tar.xz and
//! zip archives, on the host or on the controller.

mod common;
mod module_support;
// The same module through the module API, state by state (also run with
// BusyBox's tools by tests/module_busybox.rs).
#[path = "module_unarchive/local.rs"]
mod local;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use serde_json::Value;

/// Builds the archives from one small tree (a name with a space, a
/// subdirectory, an executable), with fixed mtimes.
fn archives(dir: &Path) {
    let tree = dir.join("tree");
    std::fs::create_dir_all(tree.join("sub")).unwrap();
    std::fs::write(tree.join("a file.txt"), "hello\n").unwrap();
    std::fs::write(tree.join("sub/b.txt"), "world\n").unwrap();
    std::fs::write(tree.join("sub/run.sh"), "#!/bin/sh\necho hi\n").unwrap();
    let run = |cmd: &mut Command| {
        let out = cmd.output().expect("archive tool");
        assert!(out.status.success(), "{cmd:?}: {out:?}");
    };
    run(Command::new("chmod")
        .args(["755"])
        .arg(tree.join("sub/run.sh")));
    run(Command::new("touch")
        .args([
            "-d",
            "2024-05-06 07:08:09",
            "a file.txt",
            "sub/b.txt",
            "sub/run.sh",
            "sub",
            ".",
        ])
        .current_dir(&tree));
    for (name, flag) in [("t.tgz", "-z"), ("t.tbz2", "-j"), ("t.txz", "-J")] {
        run(Command::new("tar")
            .args(["-c", flag, "-f"])
            .arg(dir.join(name))
            .args(["-C"])
            .arg(&tree)
            .arg("."));
    }
    run(Command::new("zip")
        .args(["-q", "-r"])
        .arg(dir.join("t.zip"))
        .args(["a file.txt", "sub"])
        .current_dir(&tree));
    std::fs::write(dir.join("bad.tgz"), "not an archive\n").unwrap();
    std::fs::write(dir.join("empty.tgz"), "").unwrap();
}

/// Every path under `root` with its kind, mode, owner ids and content.
fn tree(root: &Path) -> BTreeMap<String, (String, u32, (u32, u32), String)> {
    use std::os::unix::fs::MetadataExt;
    let mut out = BTreeMap::new();
    let mut todo = vec![root.to_path_buf()];
    while let Some(d) = todo.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries {
            let p = e.unwrap().path();
            let m = std::fs::symlink_metadata(&p).unwrap();
            let rel = p.strip_prefix(root).unwrap().display().to_string();
            let (kind, text) = if m.is_dir() {
                todo.push(p.clone());
                ("dir", String::new())
            } else {
                ("file", std::fs::read_to_string(&p).unwrap_or_default())
            };
            out.insert(
                rel,
                (
                    kind.to_string(),
                    m.mode() & 0o7777,
                    (m.uid(), m.gid()),
                    text,
                ),
            );
        }
    }
    out
}

/// The result of one ad-hoc run: exit code and the host's JSON, with the
/// run's own directory replaced by DIR and the controller file's temporary
/// copy on the host by SOURCE.
fn result(out: &std::process::Output, dir: &str) -> (Option<i32>, Value) {
    let text = String::from_utf8_lossy(&out.stdout).replace(dir, "DIR");
    // A skipped task prints its status alone.
    let Some((_, json)) = text.split_once(" => ") else {
        return (out.status.code(), Value::String(text.trim().to_string()));
    };
    let mut v: Value = serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}: {json}"));
    mask_sources(&mut v);
    if let Some(msg) = v.get_mut("msg") {
        // Ansible lists the handlers' reasons in set order: compare them sorted.
        if let Some(m) = msg.as_str() {
            // The wording of the supported list (and the module's name in
            // it) comes from herd's shared argument checks, which spell
            // aliases beside their names: compare up to the bad name.
            if m.starts_with("Unsupported parameters for (") {
                let bad = m.split(" module: ").nth(1).unwrap_or_default();
                let bad = bad.split(". Supported").next().unwrap_or_default();
                *msg = Value::String(format!("Unsupported parameters: {bad}"));
                return (out.status.code(), v);
            }
            if m.starts_with("Failed to find handler") {
                let mut parts: Vec<&str> = m.split("\nCommand ").collect();
                parts[1..].sort();
                *msg = Value::String(parts.join("\nCommand "));
            }
        }
    }
    (out.status.code(), v)
}

fn mask_sources(v: &mut Value) {
    match v {
        Value::String(s) if s.ends_with("/source") => *s = "SOURCE".into(),
        Value::String(s) if s.contains("/source") => {
            let words: Vec<String> = s
                .split(' ')
                .map(|w| {
                    if w.ends_with("/source") {
                        "SOURCE".into()
                    } else {
                        w.to_string()
                    }
                })
                .collect();
            *s = words.join(" ");
        }
        Value::Array(a) => a.iter_mut().for_each(mask_sources),
        Value::Object(m) => m.values_mut().for_each(mask_sources),
        _ => {}
    }
}

#[test]
fn unarchive_steps_match_ansible() {
    let dir = tempfile::tempdir().unwrap();
    archives(dir.path());
    let (h, a) = (dir.path().join("h"), dir.path().join("a"));
    let d = dir.path().display().to_string();
    for base in [&h, &a] {
        for sub in [
            "tgz", "tbz", "txz", "zip", "zipx", "zipi", "ctl", "mode", "cr",
        ] {
            std::fs::create_dir_all(base.join(sub)).unwrap();
        }
    }
    // (args with DEST for the run's directory, extra flags, a change to
    // make in both directories before the step)
    type Prep = Option<fn(&Path)>;
    let drift: Prep = Some(|base: &Path| {
        std::fs::write(base.join("tgz/a file.txt"), "drift\n").unwrap();
    });
    let zip_drift: Prep = Some(|base: &Path| {
        std::fs::write(base.join("zip/sub/b.txt"), "drift!\n").unwrap();
    });
    let steps: Vec<(String, &[&str], Prep)> = vec![
        // Absent → extracted, listed.
        (
            format!("src={d}/t.tgz dest=DEST/tgz remote_src=yes list_files=yes"),
            &[],
            None,
        ),
        // Extracted again → nothing to do.
        (
            format!("src={d}/t.tgz dest=DEST/tgz remote_src=yes"),
            &[],
            None,
        ),
        // A file changed on disk → extracted again.
        (
            format!("src={d}/t.tgz dest=DEST/tgz remote_src=yes"),
            &[],
            drift,
        ),
        (
            format!("src={d}/t.tgz dest=DEST/tgz remote_src=yes"),
            &[],
            None,
        ),
        // Check mode with tar: skipped, as Ansible's tar handler does.
        (
            format!("src={d}/t.tgz dest=DEST/tgz remote_src=yes"),
            &["-C"],
            None,
        ),
        (
            format!("src={d}/t.tbz2 dest=DEST/tbz remote_src=yes"),
            &[],
            None,
        ),
        (
            format!("src={d}/t.txz dest=DEST/txz remote_src=yes"),
            &[],
            None,
        ),
        (
            format!("src={d}/t.txz dest=DEST/txz remote_src=yes"),
            &[],
            None,
        ),
        // Zip: check mode first (nothing touched), then for real.
        (
            format!("src={d}/t.zip dest=DEST/zip remote_src=yes"),
            &["-C"],
            None,
        ),
        (
            format!("src={d}/t.zip dest=DEST/zip remote_src=yes list_files=yes"),
            &[],
            None,
        ),
        (
            format!("src={d}/t.zip dest=DEST/zip remote_src=yes"),
            &[],
            None,
        ),
        (
            format!("src={d}/t.zip dest=DEST/zip remote_src=yes"),
            &["-C"],
            zip_drift,
        ),
        (
            format!("src={d}/t.zip dest=DEST/zip remote_src=yes"),
            &[],
            None,
        ),
        (
            format!("src={d}/t.zip dest=DEST/zip remote_src=yes"),
            &[],
            None,
        ),
        // exclude / include.
        (
            format!("src={d}/t.zip dest=DEST/zipx remote_src=yes exclude=sub/b.txt list_files=yes"),
            &[],
            None,
        ),
        (
            format!("src={d}/t.zip dest=DEST/zipx remote_src=yes exclude=sub/b.txt"),
            &[],
            None,
        ),
        (
            format!("src={d}/t.zip dest=DEST/zipi remote_src=yes include='sub/*' list_files=yes"),
            &[],
            None,
        ),
        (
            format!("src={d}/t.tgz dest=DEST/tgz remote_src=yes exclude='./sub/*' list_files=yes"),
            &[],
            None,
        ),
        // mode on every extracted path.
        (
            format!("src={d}/t.tgz dest=DEST/mode remote_src=yes mode=0700"),
            &[],
            None,
        ),
        (
            format!("src={d}/t.tgz dest=DEST/mode remote_src=yes mode=0700"),
            &[],
            None,
        ),
        // owner and group (the SSH tests' user), for tar and zip.
        (
            format!("src={d}/t.tgz dest=DEST/own remote_src=yes owner=herdtest group=herdtest"),
            &[],
            None,
        ),
        (
            format!("src={d}/t.tgz dest=DEST/own remote_src=yes owner=herdtest group=herdtest"),
            &[],
            None,
        ),
        (
            format!("src={d}/t.zip dest=DEST/zown remote_src=yes owner=herdtest mode=0640"),
            &[],
            None,
        ),
        (
            format!("src={d}/t.zip dest=DEST/zown remote_src=yes owner=herdtest mode=0640"),
            &[],
            None,
        ),
        // creates.
        (
            format!("src={d}/t.tgz dest=DEST/cr remote_src=yes creates=DEST/tgz/sub"),
            &[],
            None,
        ),
        // The archive on the controller (pushed to the host), and `copy`.
        (format!("src={d}/t.tgz dest=DEST/ctl"), &[], None),
        (format!("src={d}/t.tgz dest=DEST/ctl copy=yes"), &[], None),
        (format!("src={d}/t.zip dest=DEST/ctl copy=no"), &[], None),
        // Errors: missing dest, corrupt and empty archives, missing files,
        // bad arguments.
        (
            format!("src={d}/t.tgz dest=DEST/none remote_src=yes"),
            &[],
            None,
        ),
        (
            format!("src={d}/bad.tgz dest=DEST/cr remote_src=yes"),
            &[],
            None,
        ),
        (
            format!("src={d}/empty.tgz dest=DEST/cr remote_src=yes"),
            &[],
            None,
        ),
        (
            format!("src={d}/none.tgz dest=DEST/cr remote_src=yes"),
            &[],
            None,
        ),
        (format!("src={d}/none.tgz dest=DEST/cr"), &[], None),
        (
            "src=http://127.0.0.1:1/x.tgz dest=DEST/cr".to_string(),
            &[],
            None,
        ),
        (
            format!("src={d}/t.tgz dest=DEST/cr copy=no remote_src=yes"),
            &[],
            None,
        ),
        ("dest=DEST/cr".to_string(), &[], None),
        (
            format!("src={d}/t.zip dest=DEST/cr remote_src=yes include=a exclude=b"),
            &[],
            None,
        ),
        (
            format!("src={d}/t.zip dest=DEST/cr remote_src=yes bogus=1"),
            &[],
            None,
        ),
    ];
    for (args, extra, prep) in &steps {
        let run = |base: &Path, adhoc: fn(&str, &str, &[&str]) -> std::process::Output| {
            if let Some(p) = prep {
                p(base);
            }
            let bs = base.display().to_string();
            let out = adhoc("unarchive", &args.replace("DEST", &bs), extra);
            let (code, v) = result(&out, &bs);
            (code, v, tree(base))
        };
        let ho = run(&h, common::herd_adhoc);
        let ao = run(&a, common::ansible_adhoc);
        assert_eq!(
            ho.0, ao.0,
            "exit code of step {args} {extra:?}\nherd: {}\nansible: {}",
            ho.1, ao.1
        );
        assert_eq!(ho.1, ao.1, "result of step {args} {extra:?}");
        assert_eq!(ho.2, ao.2, "tree after step {args} {extra:?}");
    }
    // What the steps left: the drift repaired, the excluded file absent.
    assert_eq!(
        std::fs::read_to_string(h.join("tgz/a file.txt")).unwrap(),
        "hello\n"
    );
    assert!(h.join("zipx/a file.txt").exists() && !h.join("zipx/sub/b.txt").exists());
    assert!(!h.join("zipi/a file.txt").exists() && h.join("zipi/sub/b.txt").exists());
    assert!(!h.join("cr/a file.txt").exists());
}
