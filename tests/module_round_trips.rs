//! How many host operations a module needs when nothing has to change:
//! each is a round trip over SSH, so these numbers are kept small.

mod module_support;

use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use herd_modules::api::{
    ExecOptions, ExecResult, FileStat, Host, HostError, ModuleContext, Outcome, Source,
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
        ("command", json!({"cmd": "true"}), 1),
        ("ping", json!({}), 1),
    ];
    let _ = counted(&env, "copy", cases[0].1.clone()).await;
    for (module, args, want) in cases {
        let (o, n) = counted(&env, module, args.clone()).await;
        assert!(!o.failed, "{module}: {o:?}");
        if module != "command" {
            assert!(!o.changed, "{module} {args} changed");
        }
        assert!(
            n <= want,
            "{module} took {n} host calls, want at most {want}"
        );
    }
}
