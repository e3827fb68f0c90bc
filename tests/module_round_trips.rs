//! How many host operations a module needs, when nothing has to change
//! and when it makes a change: each is a round trip over SSH, so these
//! numbers are kept small.

mod module_support;

use std::sync::Mutex;

use async_trait::async_trait;
use herd_modules::api::{
    ExecOptions, ExecResult, FileStat, Host, HostError, ModuleContext, Outcome, Source, StatElse,
};
use module_support::Env;
use serde_json::{json, Value};

/// Records every call that reaches the host, by its method's name.
struct Counting<'a> {
    inner: &'a dyn Host,
    calls: Mutex<Vec<&'static str>>,
}

impl Counting<'_> {
    fn call(&self, method: &'static str) {
        self.calls.lock().unwrap().push(method);
    }
}

#[async_trait]
impl Host for Counting<'_> {
    fn name(&self) -> &str {
        self.inner.name()
    }
    async fn exec(&self, command: &str, opts: &ExecOptions) -> Result<ExecResult, HostError> {
        self.call("exec");
        self.inner.exec(command, opts).await
    }
    async fn read_file(&self, path: &str) -> Result<Option<Vec<u8>>, HostError> {
        self.call("read_file");
        self.inner.read_file(path).await
    }
    async fn write_from(
        &self,
        path: &str,
        src: Source<'_>,
        mode: Option<u32>,
    ) -> Result<(), HostError> {
        self.call("write_from");
        self.inner.write_from(path, src, mode).await
    }
    async fn checksum(&self, path: &str) -> Result<Option<String>, HostError> {
        self.call("checksum");
        self.inner.checksum(path).await
    }
    async fn stat(&self, path: &str, follow: bool) -> Result<Option<FileStat>, HostError> {
        self.call("stat");
        self.inner.stat(path, follow).await
    }
    // One request over a persistent shell (tests/ssh_exec.rs checks that
    // path against a real sshd).
    async fn stat_read(
        &self,
        path: &str,
        follow: bool,
        max: u64,
        names: bool,
    ) -> Result<Option<(FileStat, Option<Vec<u8>>)>, HostError> {
        self.call("stat_read");
        self.inner.stat_read(path, follow, max, names).await
    }
    // Each one request over a persistent shell, as stat_read.
    async fn exec_stat(
        &self,
        command: &str,
        opts: &ExecOptions,
        path: &str,
        follow: bool,
    ) -> Result<(ExecResult, Option<FileStat>), HostError> {
        self.call("exec_stat");
        self.inner.exec_stat(command, opts, path, follow).await
    }
    async fn write_stat(
        &self,
        path: &str,
        src: Source<'_>,
        mode: Option<u32>,
    ) -> Result<Option<FileStat>, HostError> {
        self.call("write_stat");
        self.inner.write_stat(path, src, mode).await
    }
    async fn stat_else_exec(
        &self,
        path: &str,
        follow: bool,
        command: &str,
        opts: &ExecOptions,
    ) -> Result<StatElse, HostError> {
        self.call("stat_else_exec");
        self.inner.stat_else_exec(path, follow, command, opts).await
    }
}

async fn counted(env: &Env, module: &str, args: Value) -> (Outcome, usize) {
    let (o, calls) = calls_of(env, module, args, true).await;
    (o, calls.len())
}

/// The outcome and the host methods called, in order; `result_seen` as
/// the engine sets it (false: nothing registers or shows the result).
async fn calls_of(
    env: &Env,
    module: &str,
    args: Value,
    result_seen: bool,
) -> (Outcome, Vec<&'static str>) {
    let host = Counting {
        inner: &env.host,
        calls: Mutex::new(Vec::new()),
    };
    let args = args.as_object().unwrap().clone();
    let ctx = ModuleContext {
        host: &host,
        controller: &env.controller,
        args: &args,
        check_mode: false,
        diff: false,
        result_seen,
        demand: None,
    };
    let o = herd_modules::registry::get(module)
        .unwrap()
        .run(&ctx)
        .await
        .unwrap();
    (o, host.calls.into_inner().unwrap())
}

#[tokio::test]
async fn unchanged_runs_are_cheap() {
    let env = Env::new();
    let f = env.path("f");
    env.local_file("templates/t.j2", "x\n");
    let cases = [
        (
            "copy",
            json!({"content": "x\n", "dest": f, "mode": "0644"}),
            1,
        ),
        (
            "template",
            json!({"src": "t.j2", "dest": f, "mode": "0644"}),
            1,
        ),
        (
            "file",
            json!({"path": f, "mode": "0644", "state": "file"}),
            1,
        ),
        ("lineinfile", json!({"path": f, "line": "x"}), 1),
        ("blockinfile", json!({"path": f, "block": ""}), 1),
        ("replace", json!({"path": f, "regexp": "y"}), 1),
        (
            "file",
            json!({"path": env.path(""), "state": "directory"}),
            1,
        ),
        ("command", json!({"cmd": "true"}), 1),
        // Kept from running: the test and the command are one request.
        ("command", json!({"cmd": "false", "creates": f}), 1),
        (
            "command",
            json!({"cmd": "false", "removes": env.path("none")}),
            1,
        ),
        ("ping", json!({}), 1),
    ];
    let _ = counted(&env, "copy", cases[0].1.clone()).await;
    for (module, args, want) in cases {
        let (o, n) = counted(&env, module, args.clone()).await;
        assert!(!o.failed, "{module}: {o:?}");
        if module != "command" {
            assert!(!o.changed, "{module} {args} changed");
        } else if args.get("creates").or(args.get("removes")).is_some() {
            assert_eq!(o.values["rc"], 0, "{args}: {o:?}");
            assert!(
                o.values["stdout"]
                    .as_str()
                    .unwrap()
                    .starts_with("skipped, since "),
                "{args}: {o:?}"
            );
        }
        assert!(
            n <= want,
            "{module} took {n} host calls, want at most {want}"
        );
    }
}

#[tokio::test]
async fn changes_are_cheap() {
    let env = Env::new();
    let f = env.path("f");
    env.local_file("templates/t.j2", "x\n");
    // Each makes something new; the action and the state it reports
    // travel together, and a new file's directory is looked at only when
    // the write fails.
    let cases = [
        (
            "file",
            json!({"path": env.path("d/e"), "state": "directory"}),
            1,
        ),
        ("copy", json!({"content": "x\n", "dest": env.path("c")}), 2),
        ("template", json!({"src": "t.j2", "dest": env.path("t")}), 2),
        (
            "lineinfile",
            json!({"path": env.path("l"), "line": "x", "create": true}),
            2,
        ),
        ("copy", json!({"content": "x\n", "dest": f}), 2),
        ("stat", json!({"path": f}), 1),
        ("stat", json!({"path": env.path("missing")}), 1),
        (
            "command",
            json!({"argv": ["touch", env.path("made")], "creates": env.path("made")}),
            1,
        ),
    ];
    for (module, args, want) in cases {
        let (o, n) = counted(&env, module, args.clone()).await;
        assert!(!o.failed, "{module}: {o:?}");
        if module != "stat" {
            assert!(o.changed, "{module} {args} did not change");
        }
        if matches!(module, "file" | "copy" | "template") {
            // The state the change left, as these modules report it.
            assert!(o.values.contains_key("mode"), "{module}: {o:?}");
        }
        assert!(
            n <= want,
            "{module} {args} took {n} host calls, want at most {want}"
        );
    }
    assert!(std::path::Path::new(&env.path("made")).exists());
    // A missing directory is still named as Ansible names it.
    let (o, n) = counted(
        &env,
        "copy",
        json!({"content": "x\n", "dest": env.path("no/such/file")}),
    )
    .await;
    assert!(o.failed);
    assert_eq!(
        o.msg.as_deref(),
        Some(
            format!(
                "Destination directory {} does not exist",
                env.path("no/such")
            )
            .as_str()
        )
    );
    assert!(n <= 3, "{n} host calls");
}

/// The host methods that report a path's state after an action.
const STAT_AFTER: [&str; 3] = ["exec_stat", "write_stat", "stat_else_exec"];

#[tokio::test]
async fn an_unseen_result_takes_no_stat_of_what_was_made() {
    let env = Env::new();
    env.local_file("templates/t.j2", "x\n");
    // Made, then found: one exec each, no stat, the same status.
    let d = env.path("d/e");
    for (changed, status) in [(true, "made"), (false, "found")] {
        let args = json!({"path": d, "state": "directory"});
        let (o, calls) = calls_of(&env, "file", args, false).await;
        assert_eq!(calls, ["exec"], "{status}");
        assert!(!o.failed && o.changed == changed, "{status}: {o:?}");
        assert_eq!(o.values["path"], d.as_str());
        assert_eq!(o.values["state"], "directory");
        assert!(!o.values.contains_key("mode"), "{status}: {o:?}");
    }
    assert!(std::path::Path::new(&d).is_dir());
    // A seen result keeps the whole state.
    let (o, calls) = calls_of(&env, "file", json!({"path": d, "state": "directory"}), true).await;
    assert!(!o.changed && o.values.contains_key("mode"), "{o:?}");
    assert!(!calls.contains(&"exec"), "{calls:?}");

    // New files: written, not looked at again; then found unchanged.
    for (module, args) in [
        ("copy", json!({"content": "x\n", "dest": env.path("c")})),
        ("template", json!({"src": "t.j2", "dest": env.path("t")})),
        (
            "lineinfile",
            json!({"path": env.path("l"), "line": "x", "create": true}),
        ),
    ] {
        let (o, calls) = calls_of(&env, module, args.clone(), false).await;
        assert!(o.changed && !o.failed, "{module}: {o:?}");
        assert!(calls.contains(&"write_from"), "{module}: {calls:?}");
        assert!(
            !calls.iter().any(|c| STAT_AFTER.contains(c) || *c == "stat"),
            "{module}: {calls:?}"
        );
        let (o, _) = calls_of(&env, module, args, false).await;
        assert!(!o.changed && !o.failed, "{module} again: {o:?}");
    }
    for name in ["c", "t", "l"] {
        assert_eq!(std::fs::read_to_string(env.path(name)).unwrap(), "x\n");
    }
    // An attribute to set is compared with the state the write left.
    let (o, calls) = calls_of(
        &env,
        "copy",
        json!({"content": "y\n", "dest": env.path("m"), "mode": "0600"}),
        false,
    )
    .await;
    assert!(o.changed && calls.contains(&"write_stat"), "{calls:?}");
    assert_eq!(o.values["mode"], "0600");
}

#[tokio::test]
async fn an_unseen_result_fails_as_a_seen_one() {
    let env = Env::new();
    // Something else at the path, a link, a dangling link (followed to
    // where it points), a parent that is a file: the status, the message
    // and the path are those of the whole module. Each mode gets its own
    // copy of the paths, as each may change them.
    let paths = |mode: &str| {
        let dir = env.path(mode);
        std::fs::create_dir(&dir).unwrap();
        let f = format!("{dir}/f");
        std::fs::write(&f, "x").unwrap();
        let (link, dangling) = (format!("{dir}/link"), format!("{dir}/dangling"));
        std::os::unix::fs::symlink(&dir, &link).unwrap();
        std::os::unix::fs::symlink(format!("{dir}/nowhere"), &dangling).unwrap();
        [f.clone(), link, dangling, format!("{f}/below")]
    };
    let (seen_paths, unseen_paths) = (paths("seen"), paths("unseen"));
    for (seen_path, unseen_path) in seen_paths.iter().zip(&unseen_paths) {
        let args = |p: &str| json!({"path": p, "state": "directory"});
        let (seen, _) = calls_of(&env, "file", args(seen_path), true).await;
        let (unseen, _) = calls_of(&env, "file", args(unseen_path), false).await;
        let same = |o: &Outcome, from: &str| {
            let msg = o.msg.as_ref().map(|m| m.replace(from, ""));
            let path = o.values["path"].as_str().unwrap().replace(from, "");
            (o.failed, o.changed, msg, path)
        };
        assert_eq!(
            same(&unseen, "/unseen"),
            same(&seen, "/seen"),
            "{unseen_path}: {unseen:?} against {seen:?}"
        );
    }
}
