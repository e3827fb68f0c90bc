//! How many host operations a module needs, when nothing has to change
//! and when it makes a change: each is a round trip over SSH, so these
//! numbers are kept small.

mod module_support;

use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use herd_modules::api::{
    ExecOptions, ExecResult, FileStat, Host, HostError, ModuleContext, Outcome, Source, StatElse,
};
use module_support::Env;
use serde_json::{json, Value};

/// Counts every call that reaches the host.
struct Counting<'a> {
    inner: &'a dyn Host,
    calls: AtomicUsize,
}

#[async_trait]
impl Host for Counting<'_> {
    fn name(&self) -> &str {
        self.inner.name()
    }
    async fn exec(&self, command: &str, opts: &ExecOptions) -> Result<ExecResult, HostError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.inner.exec(command, opts).await
    }
    async fn read_file(&self, path: &str) -> Result<Option<Vec<u8>>, HostError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.inner.read_file(path).await
    }
    async fn write_from(
        &self,
        path: &str,
        src: Source<'_>,
        mode: Option<u32>,
    ) -> Result<(), HostError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.inner.write_from(path, src, mode).await
    }
    async fn checksum(&self, path: &str) -> Result<Option<String>, HostError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.inner.checksum(path).await
    }
    async fn stat(&self, path: &str, follow: bool) -> Result<Option<FileStat>, HostError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.inner.stat(path, follow).await
    }
    // One request over a persistent shell (tests/ssh_exec.rs checks that
    // path against a real sshd).
    async fn stat_read(
        &self,
        path: &str,
        follow: bool,
        max: u64,
    ) -> Result<Option<(FileStat, Option<Vec<u8>>)>, HostError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.inner.stat_read(path, follow, max).await
    }
    // Each one request over a persistent shell, as stat_read.
    async fn exec_stat(
        &self,
        command: &str,
        opts: &ExecOptions,
        path: &str,
        follow: bool,
    ) -> Result<(ExecResult, Option<FileStat>), HostError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.inner.exec_stat(command, opts, path, follow).await
    }
    async fn write_stat(
        &self,
        path: &str,
        src: Source<'_>,
        mode: Option<u32>,
    ) -> Result<Option<FileStat>, HostError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.inner.write_stat(path, src, mode).await
    }
    async fn stat_else_exec(
        &self,
        path: &str,
        follow: bool,
        command: &str,
        opts: &ExecOptions,
    ) -> Result<StatElse, HostError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.inner.stat_else_exec(path, follow, command, opts).await
    }
}

async fn counted(env: &Env, module: &str, args: Value) -> (Outcome, usize) {
    let host = Counting {
        inner: &env.host,
        calls: AtomicUsize::new(0),
    };
    let args = args.as_object().unwrap().clone();
    let ctx = ModuleContext {
        host: &host,
        controller: &env.controller,
        args: &args,
        check_mode: false,
        diff: false,
    };
    let o = herd_modules::registry::get(module)
        .unwrap()
        .run(&ctx)
        .await
        .unwrap();
    (o, host.calls.load(Ordering::SeqCst))
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
