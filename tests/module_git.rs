//! git with real local repositories (file paths): each step runs through
//! ansible's git into one checkout and through herd's into another, from
//! the same source repository, and the results must be the same; then
//! the checkouts themselves are checked.

mod common;
mod module_support;

use std::path::Path;
use std::process::Command;

use module_support::Env;
use serde_json::json;

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(["-c", "user.email=t@example.com", "-c", "user.name=t"])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run git");
    assert!(out.status.success(), "git {args:?}: {out:?}");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A source repository: `main` with one commit (tagged v1) and a `dev`
/// branch with one more.
fn source(root: &Path) -> std::path::PathBuf {
    // No space in the name: ansible's git splits its ls-remote command
    // line on spaces and cannot read such a path.
    let src = root.join("src");
    std::fs::create_dir_all(&src).unwrap();
    git(&src, &["init", "-q", "-b", "main"]);
    std::fs::write(src.join("f"), "1\n").unwrap();
    git(&src, &["add", "f"]);
    git(&src, &["commit", "-qm", "one"]);
    git(&src, &["tag", "v1"]);
    git(&src, &["checkout", "-qb", "dev"]);
    std::fs::write(src.join("d"), "dev\n").unwrap();
    git(&src, &["add", "d"]);
    git(&src, &["commit", "-qm", "dev"]);
    git(&src, &["checkout", "-q", "main"]);
    src
}

fn commit(src: &Path, line: &str) -> String {
    let f = src.join("f");
    let mut text = std::fs::read_to_string(&f).unwrap();
    text.push_str(line);
    text.push('\n');
    std::fs::write(&f, text).unwrap();
    git(src, &["commit", "-qam", line]);
    git(src, &["rev-parse", "HEAD"])
}

/// The adhoc output with the checkout's path replaced, less the error
/// preamble that differs by program.
fn result_of(out: &std::process::Output, dest: &str) -> String {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| {
            !l.starts_with("[ERROR]") && !l.starts_with("Origin:") && !l.starts_with("{'action")
        })
        .collect::<Vec<_>>()
        .join("\n")
        .replace(dest, "DEST")
        .trim()
        .to_string()
}

#[test]
fn each_step_as_ansible() {
    let dir = tempfile::tempdir().unwrap();
    let src = source(dir.path());
    let a_dest = dir.path().join("a").display().to_string();
    let h_dest = dir.path().join("h").display().to_string();
    let step = |args: &str, extra: &[&str], modify: &dyn Fn(&str)| {
        modify(&a_dest);
        modify(&h_dest);
        let base = format!("repo='{}'", src.display());
        let ansible = common::ansible_adhoc("git", &format!("{base} dest={a_dest} {args}"), extra);
        let herd = common::herd_adhoc("git", &format!("{base} dest={h_dest} {args}"), extra);
        assert_eq!(
            result_of(&ansible, &a_dest),
            result_of(&herd, &h_dest),
            "step: {args} {extra:?}"
        );
        assert_eq!(ansible.status.code(), herd.status.code(), "{args}");
        result_of(&herd, &h_dest)
    };
    let none = |_: &str| {};
    let head = |d: &str| git(Path::new(d), &["rev-parse", "HEAD"]);

    // Check mode on an absent dest: the remote's head, nothing cloned.
    let out = step("", &["--check", "--diff"], &none);
    assert!(out.contains("CHANGED"), "{out}");
    assert!(out.starts_with(">> Newly checked out "), "{out}");
    assert!(!Path::new(&h_dest).exists());
    // Absent: cloned.
    let out = step("", &[], &none);
    assert!(out.contains("\"before\": null"), "{out}");
    assert_eq!(head(&h_dest), head(&a_dest));
    // Present: nothing to do.
    let out = step("", &[], &none);
    assert!(out.contains("SUCCESS"), "{out}");
    // Drift upstream: check mode sees it, touches nothing; a run pulls it.
    let new = commit(&src, "two");
    let before = head(&h_dest);
    let out = step("", &["--check", "--diff"], &none);
    assert!(out.contains(&new), "{out}");
    assert!(out.contains("+two"), "the diff shows the new line: {out}");
    assert_eq!(head(&h_dest), before, "check mode changed the checkout");
    let out = step("", &["--diff"], &none);
    assert!(out.contains("+two"), "{out}");
    assert_eq!(head(&h_dest), new);
    // A dirty tree fails without force; force discards the change.
    let dirty = |d: &str| {
        std::fs::write(Path::new(d).join("f"), "edited\n").unwrap();
    };
    let out = step("", &[], &dirty);
    assert!(
        out.contains("Local modifications exist in the destination: DEST (force=no)."),
        "{out}"
    );
    let out = step("force=yes", &[], &none);
    assert!(out.contains("CHANGED"), "{out}");
    assert_eq!(
        std::fs::read_to_string(Path::new(&h_dest).join("f")).unwrap(),
        "1\ntwo\n"
    );
    // Untracked files are not local modifications.
    let untracked = |d: &str| std::fs::write(Path::new(d).join("new"), "u").unwrap();
    let out = step("", &[], &untracked);
    assert!(out.contains("SUCCESS"), "{out}");
    // Branches, tags, a missing version.
    step("version=dev", &[], &none);
    assert!(Path::new(&h_dest).join("d").exists());
    step("version=v1", &[], &none);
    assert_eq!(
        std::fs::read_to_string(Path::new(&h_dest).join("f")).unwrap(),
        "1\n"
    );
    step("version=main", &[], &none);
    step("version=nope", &[], &none);
    step("update=no", &[], &none);
    // Another URL for the same repository: remote_url_changed.
    let copy = dir.path().join("copy");
    let status = Command::new("cp")
        .args([
            "-r",
            &src.display().to_string(),
            &copy.display().to_string(),
        ])
        .status()
        .unwrap();
    assert!(status.success());
    let base_a = format!("repo={} dest={a_dest}", copy.display());
    let base_h = format!("repo={} dest={h_dest}", copy.display());
    let a = common::ansible_adhoc("git", &base_a, &[]);
    let h = common::herd_adhoc("git", &base_h, &[]);
    assert_eq!(result_of(&a, &a_dest), result_of(&h, &h_dest));
    assert!(result_of(&h, &h_dest).contains("\"remote_url_changed\": true"));
}

#[test]
fn shallow_bare_and_single_branch_clones_as_ansible() {
    let dir = tempfile::tempdir().unwrap();
    let src = source(dir.path());
    commit(&src, "two");
    for (i, args) in [
        "depth=1",
        "bare=yes",
        "version=dev single_branch=yes",
        "clone=no",
        "umask=022",
        "umask=abc",
        "archive={d}.tar.gz",
        "archive={d}.zip archive_prefix=p/",
        "archive={d}.rar",
        "archive_prefix=p/",
    ]
    .iter()
    .enumerate()
    {
        let a_dest = dir.path().join(format!("a{i}")).display().to_string();
        let h_dest = dir.path().join(format!("h{i}")).display().to_string();
        let base = format!("repo='{}'", src.display());
        let (a_args, h_args) = (args.replace("{d}", &a_dest), args.replace("{d}", &h_dest));
        let a = common::ansible_adhoc("git", &format!("{base} dest={a_dest} {a_args}"), &[]);
        let h = common::herd_adhoc("git", &format!("{base} dest={h_dest} {h_args}"), &[]);
        assert_eq!(result_of(&a, &a_dest), result_of(&h, &h_dest), "{args}");
        assert_eq!(a.status.code(), h.status.code(), "{args}");
        if args.starts_with("archive={d}.t") || args.starts_with("archive={d}.z") {
            let ext = if args.contains(".zip") {
                "zip"
            } else {
                "tar.gz"
            };
            let (a_file, h_file) = (format!("{a_dest}.{ext}"), format!("{h_dest}.{ext}"));
            assert_eq!(
                std::fs::read(&a_file).unwrap(),
                std::fs::read(&h_file).unwrap()
            );
            // Again: the same archive is not replaced.
            let h = common::herd_adhoc("git", &format!("{base} dest={h_dest} {h_args}"), &[]);
            assert!(result_of(&h, &h_dest).contains("SUCCESS"), "{args} again");
        }
        if *args == "depth=1" {
            assert_eq!(
                git(Path::new(&h_dest), &["rev-list", "--count", "HEAD"]),
                "1"
            );
            // Updating a shallow clone after a new commit.
            commit(&src, "three");
            let a = common::ansible_adhoc("git", &format!("{base} dest={a_dest} {args}"), &[]);
            let h = common::herd_adhoc("git", &format!("{base} dest={h_dest} {args}"), &[]);
            assert_eq!(
                result_of(&a, &a_dest),
                result_of(&h, &h_dest),
                "{args} again"
            );
        }
        if *args == "bare=yes" {
            assert!(Path::new(&h_dest).join("HEAD").exists());
        }
    }
}

#[tokio::test]
async fn arguments_are_checked() {
    let env = Env::new();
    let o = env.run("git", json!({"repo": "/nowhere"})).await;
    assert_eq!(
        o.msg.as_deref(),
        Some("the destination directory must be specified unless clone=no")
    );
    let o = env.run("git", json!({"dest": env.path("x")})).await;
    assert!(
        o.failed && o.msg.as_deref().unwrap().contains("repo"),
        "{o:?}"
    );
    let o = env
        .run(
            "git",
            json!({"repo": "/r", "dest": env.path("x"), "umask": 18}),
        )
        .await;
    assert_eq!(
        o.msg.as_deref(),
        Some("umask must be defined as a quoted octal integer")
    );
    let o = env
        .run(
            "git",
            json!({"repo": "/r", "dest": env.path("x"), "accept_hostkey": true, "accept_newhostkey": true}),
        )
        .await;
    assert!(
        o.failed && o.msg.as_deref().unwrap().contains("mutually exclusive"),
        "{o:?}"
    );
    // A repository that does not exist: git's own error.
    let o = env
        .run(
            "git",
            json!({"repo": env.path("none"), "dest": env.path("x")}),
        )
        .await;
    assert!(o.failed, "{o:?}");
    assert!(!Path::new(&env.path("x")).join(".git").exists());
}

#[tokio::test]
async fn awkward_paths_are_quoted() {
    let env = Env::new();
    let src = env.dir.path().join("src 'q' $(x)");
    std::fs::create_dir_all(&src).unwrap();
    git(&src, &["init", "-q", "-b", "main"]);
    std::fs::write(src.join("f"), "1\n").unwrap();
    git(&src, &["add", "f"]);
    git(&src, &["commit", "-qm", "one"]);
    let dest = env.path(module_support::NASTY);
    let args = json!({"repo": src.display().to_string(), "dest": dest});
    let o = env.check("git", args.clone()).await;
    assert!(o.changed && !o.failed, "{o:?}");
    assert!(!Path::new(&dest).exists());
    let o = env.run("git", args.clone()).await;
    assert!(o.changed && !o.failed, "{o:?}");
    assert_eq!(
        std::fs::read_to_string(Path::new(&dest).join("f")).unwrap(),
        "1\n"
    );
    let o = env.run("git", args.clone()).await;
    assert!(!o.changed && !o.failed, "{o:?}");
    let new = commit(&src, "two");
    let o = env.run("git", args).await;
    assert!(o.changed && !o.failed, "{o:?}");
    assert_eq!(o.to_result()["after"], new.as_str());
    assert!(!env.dir.path().join("pwned").exists() && !Path::new("pwned").exists());
}
