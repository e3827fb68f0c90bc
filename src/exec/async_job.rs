//! `async:`/`poll:` on a task, and the `async_status` action.
//!
//! Ansible starts an async task through its `async_wrapper` on the host:
//! the module runs detached, and a job file `~/.ansible_async/<jid>` says
//! `{"started": true, "finished": false, …}` until the module's result
//! replaces it. herd's modules run on the controller and drive the host
//! through commands, so an async job is split the same way:
//!
//! - the job itself is a task on the controller (a tokio task, detached
//!   from the play) that runs the module against a [`DetachedHost`];
//! - every command that module runs on the host is started detached there
//!   (its own session with `setsid`, output to files beside the job file),
//!   and its exit status is polled for over the host's connection, reopened
//!   when it was closed (`meta: reset_connection`) — so `command`, `shell`
//!   and custom modules are real remote processes that outlive the SSH
//!   connection they were started from;
//! - the controller writes the job file on the host, where Ansible's
//!   wrapper writes it: `started` at once, the module's result when it
//!   ends, or `Timeout exceeded` (with the remote process group killed)
//!   when `async` seconds pass.
//!
//! `async_status` then reads the job file on the host as Ansible's does.
//! What differs: the job needs herd to keep running; a `poll: 0` job not
//! finished when the run ends leaves its command running on the host but
//! its job file at `started`. Actions that Ansible refuses to run async
//! (`copy`, `template`, `debug`, …) are refused with its message.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use futures::future::BoxFuture;
use herd_modules::api::{
    shell_quote, ExecOptions, ExecResult, FileStat, Host, HostError, Module, ModuleContext, Source,
};

use super::controller::TaskController;
use super::custom::ModuleFlags;
use super::task::{as_bool, host_error, EnvHost};
use super::{Inherit, PlayRun, Runner};
use crate::playbook::Task;
use crate::template::Vars;
use crate::value::{py_str, to_json_string, Map, Value};

/// Where job files go, as Ansible's default `async_dir` (the
/// `ansible_async_dir` variable changes it).
const ASYNC_DIR: &str = "~/.ansible_async";

/// ansible-core's default `poll` (DEFAULT_POLL_INTERVAL).
const DEFAULT_POLL: u64 = 15;

/// Ansible's action plugins that run without `_supports_async`: these
/// refuse `async:`.
const NO_ASYNC: &[&str] = &[
    "add_host",
    "assemble",
    "assert",
    "async_status",
    "copy",
    "debug",
    "fail",
    "fetch",
    "gather_facts",
    "group_by",
    "include_vars",
    "pause",
    "raw",
    "reboot",
    "script",
    "set_fact",
    "set_stats",
    "setup",
    "template",
    "unarchive",
    "validate_argument_spec",
    "wait_for_connection",
];

fn failed(msg: impl Into<String>) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("changed".into(), Value::Bool(false));
    m.insert("failed".into(), Value::Bool(true));
    m.insert("msg".into(), Value::String(msg.into()));
    m
}

/// A failure ansible-core raises rather than returns (bad arguments, an
/// action that refuses async).
fn action_error(msg: impl Into<String>) -> Map<String, Value> {
    let mut m = failed(msg);
    m.insert(super::task::ACTION_ERROR.into(), Value::Bool(true));
    m
}

/// Opens (or reuses) the task's connection to its host.
type Connector =
    Arc<dyn Fn() -> BoxFuture<'static, Result<Arc<dyn Host>, HostError>> + Send + Sync>;

/// The module an async job runs.
#[derive(Clone)]
enum JobModule {
    Builtin(&'static dyn Module),
    Custom(PathBuf),
    /// A result known without running anything (a command in check mode).
    Known(Map<String, Value>),
}

/// A host whose commands run detached: each command is started in its own
/// session on the host with its output going to files, and its exit
/// status is polled for, through a connection opened again when needed.
/// File operations go straight through the connection.
struct DetachedHost {
    name: String,
    connect: Connector,
    /// Absolute directory of the job files.
    dir: String,
    jid: String,
    next: AtomicUsize,
    /// Process groups started, killed when the job runs out of time.
    pids: Mutex<Vec<String>>,
}

impl DetachedHost {
    async fn host(&self) -> Result<Arc<dyn Host>, HostError> {
        (self.connect)().await
    }

    /// Waits for the exit status file of a detached command, reconnecting
    /// when the connection is gone.
    async fn wait_rc(&self, base: &str) -> i32 {
        let mut pause = Duration::from_millis(50);
        loop {
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(1));
            let Ok(h) = self.host().await else { continue };
            let probe = format!("cat {} 2>/dev/null", shell_quote(&format!("{base}.rc")));
            if let Ok(r) = h.exec(&probe, &ExecOptions::default()).await {
                if let Ok(rc) = r.stdout_text().trim().parse::<i32>() {
                    return rc;
                }
            }
        }
    }
}

#[async_trait]
impl Host for DetachedHost {
    fn name(&self) -> &str {
        &self.name
    }

    async fn exec(&self, command: &str, opts: &ExecOptions) -> Result<ExecResult, HostError> {
        let n = self.next.fetch_add(1, Ordering::SeqCst);
        let base = format!("{}/.{}.{n}", self.dir, self.jid);
        let host = self.host().await?;
        let input = match &opts.stdin {
            Some(data) => {
                let p = format!("{base}.in");
                host.write_file(&p, data, Some(0o600)).await?;
                p
            }
            None => "/dev/null".to_string(),
        };
        // The command runs in a session of its own (so the SSH session's
        // end does not reach it and a timeout kills its whole group);
        // `nohup` where there is no setsid.
        let launcher = format!(
            "umask 077; if command -v setsid >/dev/null 2>&1; then s=setsid; else s=nohup; fi; \
             $s sh -c 'sh -c \"$1\" <\"$2\" >\"$3.out\" 2>\"$3.err\"; echo $? >\"$3.rc.tmp\"; mv \"$3.rc.tmp\" \"$3.rc\"' \
             herd-async {} {} {} </dev/null >/dev/null 2>&1 & echo $!",
            shell_quote(command),
            shell_quote(&input),
            shell_quote(&base)
        );
        let launch = ExecOptions {
            stdin: None,
            chdir: opts.chdir.clone(),
            env: opts.env.clone(),
            timeout: None,
            own: false,
        };
        let started = host.exec(&launcher, &launch).await?;
        if started.rc != 0 {
            return Ok(started);
        }
        let pid = started.stdout_text().trim().to_string();
        if let Ok(mut p) = self.pids.lock() {
            p.push(pid);
        }
        let rc = self.wait_rc(&base).await;
        let host = self.host().await?;
        let stdout = host
            .read_file(&format!("{base}.out"))
            .await?
            .unwrap_or_default();
        let stderr = host
            .read_file(&format!("{base}.err"))
            .await?
            .unwrap_or_default();
        let q = shell_quote(&base);
        let _ = host
            .exec(
                &format!("rm -f {q}.out {q}.err {q}.rc {q}.in"),
                &ExecOptions::default(),
            )
            .await;
        Ok(ExecResult { rc, stdout, stderr })
    }

    async fn read_file(&self, path: &str) -> Result<Option<Vec<u8>>, HostError> {
        self.host().await?.read_file(path).await
    }

    async fn write_from(
        &self,
        path: &str,
        src: Source<'_>,
        mode: Option<u32>,
    ) -> Result<(), HostError> {
        self.host().await?.write_from(path, src, mode).await
    }

    async fn checksum(&self, path: &str) -> Result<Option<String>, HostError> {
        self.host().await?.checksum(path).await
    }

    async fn stat(&self, path: &str, follow: bool) -> Result<Option<FileStat>, HostError> {
        self.host().await?.stat(path, follow).await
    }

    // Reads and writes go to the host as they are; only commands are
    // detached (so exec_stat and stat_else_exec keep their defaults).
    async fn stat_read(
        &self,
        path: &str,
        follow: bool,
        max: u64,
        names: bool,
    ) -> Result<Option<(FileStat, Option<Vec<u8>>)>, HostError> {
        self.host().await?.stat_read(path, follow, max, names).await
    }

    async fn read_kind(&self, path: &str) -> Result<Option<(String, Option<Vec<u8>>)>, HostError> {
        self.host().await?.read_kind(path).await
    }

    async fn write_stat(
        &self,
        path: &str,
        src: Source<'_>,
        mode: Option<u32>,
    ) -> Result<Option<FileStat>, HostError> {
        self.host().await?.write_stat(path, src, mode).await
    }
}

/// The job directory as written (`ansible_async_dir`, else Ansible's
/// default), for the shell: a leading `~/` stays unquoted so the host's
/// shell expands it.
fn async_dir_word(vars: &Vars) -> (String, String) {
    let spec = vars
        .vars
        .get("ansible_async_dir")
        .map(py_str)
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| ASYNC_DIR.to_string());
    let word = match spec.strip_prefix("~/") {
        Some(rest) if !rest.is_empty() => format!("~/{}", shell_quote(rest)),
        _ if spec == "~" => "~".to_string(),
        _ => shell_quote(&spec),
    };
    (spec, word)
}

/// The absolute job directory on a host (created when `create`).
async fn async_dir(
    host: &dyn Host,
    vars: &Vars,
    create: bool,
) -> Result<Result<String, String>, HostError> {
    let (spec, word) = async_dir_word(vars);
    let cmd = if create {
        format!("umask 077; mkdir -p {word} && cd {word} && pwd")
    } else {
        format!("printf '%s\\n' {word}")
    };
    let r = host.exec(&cmd, &ExecOptions::default()).await?;
    let dir = r.stdout_text().trim().to_string();
    if r.rc != 0 || dir.is_empty() {
        return Ok(Err(format!(
            "could not create directory: {spec} - {}",
            r.stderr_text().trim()
        )));
    }
    Ok(Ok(dir))
}

/// Writes a job file on the host, trying again on a fresh connection a
/// few times (the connection may have been reset meanwhile).
async fn write_job(connect: &Connector, path: &str, data: &Value) {
    let text = to_json_string(data);
    for _ in 0..5 {
        if let Ok(h) = connect().await {
            if h.write_file(path, text.as_bytes(), Some(0o600))
                .await
                .is_ok()
            {
                return;
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// What `async_status` reports for a job file's content (ansible-core's
/// async_status module and action).
fn status_result(
    jid: &str,
    path: &str,
    content: Option<&[u8]>,
    cleanup: bool,
) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("started".into(), Value::Bool(!cleanup));
    m.insert("finished".into(), Value::Bool(false));
    m.insert("stdout".into(), Value::String(String::new()));
    m.insert("stderr".into(), Value::String(String::new()));
    m.insert("stdout_lines".into(), Value::Array(Vec::new()));
    m.insert("stderr_lines".into(), Value::Array(Vec::new()));
    m.insert("ansible_job_id".into(), Value::String(jid.into()));
    let key = if cleanup { "erased" } else { "results_file" };
    m.insert(key.into(), Value::String(path.into()));
    let Some(content) = content else {
        m.insert("failed".into(), Value::Bool(true));
        m.insert("msg".into(), Value::String("could not find job".into()));
        m.insert("started".into(), Value::Bool(true));
        m.insert("finished".into(), Value::Bool(true));
        return m;
    };
    if cleanup {
        return m;
    }
    let text = String::from_utf8_lossy(content);
    let data = match serde_json::from_str::<Value>(&text) {
        Ok(Value::Object(d)) => d,
        _ if text.trim().is_empty() => {
            // Not written yet: the job is running.
            m.insert("started".into(), Value::Bool(true));
            return m;
        }
        _ => {
            m.insert("failed".into(), Value::Bool(true));
            m.insert(
                "msg".into(),
                Value::String(format!("Could not parse job output: {text}")),
            );
            m.insert("finished".into(), Value::Bool(true));
            return m;
        }
    };
    let done = !data.contains_key("started");
    let has_finished = data.contains_key("finished");
    for (k, v) in data {
        m.insert(k, v);
    }
    if done {
        m.insert("finished".into(), Value::Bool(true));
        m.insert("ansible_job_id".into(), Value::String(jid.into()));
    } else if !has_finished {
        m.insert("finished".into(), Value::Bool(false));
    }
    for k in ["started", "finished"] {
        let b = m.get(k).is_some_and(crate::value::truthy);
        m.insert(k.into(), Value::Bool(b));
    }
    // Lines of a module's output, as the action adds them.
    for (text, lines) in [("stdout", "stdout_lines"), ("stderr", "stderr_lines")] {
        if let Some(Value::String(t)) = m.get(text) {
            let split = herd_modules::commands::split_lines(t);
            m.insert(lines.into(), Value::Array(split));
        }
    }
    m
}

/// A task's `async`/`poll`, when `async` is set and above 0.
fn async_spec(runner: &Runner, task: &Task, inherit: &Inherit, vars: &Vars) -> Option<(u64, u64)> {
    let num = |k: &str| {
        inherit
            .keyword(task, k)
            .and_then(|v| runner.templar.render_value(&v, vars).ok())
            .and_then(|v| py_str(&v).trim().parse::<u64>().ok())
    };
    let limit = num("async").filter(|n| *n > 0)?;
    Some((limit, num("poll").unwrap_or(DEFAULT_POLL)))
}

impl Runner {
    /// The connector of a task's host, with its `environment:`.
    fn connector(
        self: &Arc<Self>,
        task: &Task,
        inherit: &Inherit,
        host: &str,
        vars: &Vars,
        delegate: Option<&str>,
    ) -> Connector {
        let runner = self.clone();
        let task = Arc::new(task.clone());
        let inherit = Arc::new(inherit.clone());
        let host = host.to_string();
        let vars = Arc::new(vars.clone());
        let delegate = delegate.map(str::to_string);
        let env = self.environment(&task, &inherit, &vars);
        Arc::new(move || {
            let runner = runner.clone();
            let task = task.clone();
            let inherit = inherit.clone();
            let host = host.clone();
            let vars = vars.clone();
            let delegate = delegate.clone();
            let env = env.clone();
            Box::pin(async move {
                let conn = runner
                    .host_for(&task, &inherit, &host, &vars, delegate.as_deref())
                    .await?;
                Ok(if env.is_empty() {
                    conn
                } else {
                    Arc::new(EnvHost { inner: conn, env }) as Arc<dyn Host>
                })
            })
        })
    }

    /// Runs the task as an async job when it has `async:`; `None` when it
    /// has not.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn run_async(
        self: &Arc<Self>,
        run: &PlayRun<'_>,
        task: &Task,
        inherit: &Inherit,
        host: &str,
        vars: &Vars,
        delegate: Option<&str>,
        args: &Map<String, Value>,
        check_mode: bool,
        diff: bool,
    ) -> Option<Map<String, Value>> {
        let (limit, poll) = async_spec(self, task, inherit, vars)?;
        let name = task.action.as_str();
        let module = match &task.module_path {
            Some(p) => JobModule::Custom(p.clone()),
            None => match herd_modules::registry::get(name)
                .or_else(|| herd_modules::registry::get(&task.action_fqcn))
            {
                Some(m) if !NO_ASYNC.contains(&name) => {
                    match super::task::command_check_skip(name, args, check_mode) {
                        Some(r) => JobModule::Known(r),
                        None => JobModule::Builtin(m),
                    }
                }
                _ => {
                    return Some(action_error(format!(
                        "This action ({}) does not support async.",
                        task.action_written
                    )))
                }
            },
        };
        let connect = self.connector(task, inherit, host, vars, delegate);
        let conn = match connect().await {
            Ok(h) => h,
            Err(e) => return Some(host_error(e)),
        };
        let dir = match async_dir(conn.as_ref(), vars, true).await {
            Ok(Ok(d)) => d,
            Ok(Err(msg)) => return Some(failed(msg)),
            Err(e) => return Some(host_error(e)),
        };
        let n: u64 = rand::random::<u64>() % 999_999_999_999;
        let jid = format!("j{n}.{}", std::process::id());
        let results_file = format!("{dir}/{jid}");
        let started =
            serde_json::json!({"started": true, "finished": false, "ansible_job_id": jid});
        if let Err(e) = conn
            .write_file(
                &results_file,
                to_json_string(&started).as_bytes(),
                Some(0o600),
            )
            .await
        {
            return Some(host_error(e));
        }
        let detached = Arc::new(DetachedHost {
            name: host.to_string(),
            connect: connect.clone(),
            dir: dir.clone(),
            jid: jid.clone(),
            next: AtomicUsize::new(0),
            pids: Mutex::new(Vec::new()),
        });
        let controller = TaskController::new(self.templar.clone(), vars.clone(), task, run);
        let args = args.clone();
        let flags = ModuleFlags {
            check_mode,
            diff,
            no_log: inherit
                .keyword(task, "no_log")
                .and_then(|v| self.templar.render_value(&v, vars).ok())
                .is_some_and(|v| as_bool(&v)),
            verbosity: self.opts.verbosity,
        };
        let module_name = task.action.clone();
        let job_file = results_file.clone();
        let job_connect = connect.clone();
        let (done_tx, mut done_rx) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            let connect = job_connect;
            let work = async {
                match &module {
                    JobModule::Builtin(m) => {
                        let ctx = ModuleContext {
                            host: detached.as_ref(),
                            controller: &controller,
                            args: &args,
                            check_mode,
                            diff,
                            // The job's result is read back whole.
                            result_seen: true,
                            demand: None,
                        };
                        m.run(&ctx).await.map(|o| super::task::outcome_result(&o))
                    }
                    JobModule::Known(r) => Ok(r.clone()),
                    JobModule::Custom(p) => {
                        super::custom::run(detached.as_ref(), p, &module_name, &args, &flags).await
                    }
                }
            };
            let result = match tokio::time::timeout(Duration::from_secs(limit), work).await {
                Ok(Ok(mut m)) => {
                    m.retain(|k, _| !k.starts_with("_ansible_") && !k.starts_with("_herd_"));
                    Value::Object(m)
                }
                Ok(Err(e)) => Value::Object(host_error(e)),
                Err(_) => {
                    // As Ansible's wrapper: kill the job's process group.
                    let pids = detached.pids.lock().map(|p| p.clone()).unwrap_or_default();
                    if let Ok(h) = connect().await {
                        for pid in &pids {
                            // (dash's kill takes no `--`.)
                            let kill = format!("kill -KILL -{pid} 2>/dev/null || kill -KILL {pid} 2>/dev/null; true");
                            let _ = h.exec(&kill, &ExecOptions::default()).await;
                        }
                        // The killed commands' output files.
                        let rm = format!(
                            "rm -f {}/.{}.*",
                            shell_quote(&detached.dir),
                            shell_quote(&detached.jid)
                        );
                        let _ = h.exec(&rm, &ExecOptions::default()).await;
                    }
                    let mut m = Map::new();
                    m.insert("msg".into(), Value::String("Timeout exceeded".into()));
                    m.insert("failed".into(), Value::Bool(true));
                    if let Some(pid) = pids.last().and_then(|p| p.parse::<i64>().ok()) {
                        m.insert("child_pid".into(), Value::from(pid));
                    }
                    Value::Object(m)
                }
            };
            write_job(&connect, &job_file, &result).await;
            let _ = done_tx.send(true);
        });
        if poll == 0 {
            let mut m = Map::new();
            m.insert("failed".into(), Value::Bool(false));
            m.insert("started".into(), Value::Bool(true));
            m.insert("finished".into(), Value::Bool(false));
            m.insert("ansible_job_id".into(), Value::String(jid));
            m.insert("results_file".into(), Value::String(results_file));
            m.insert("changed".into(), Value::Bool(true));
            return Some(m);
        }
        // Poll as ansible-core's executor does: wait `poll` seconds, read
        // the job file, until it is finished or `async` seconds are used.
        let mut time_left = limit as i64;
        let mut last: Option<Map<String, Value>> = None;
        while time_left > 0 {
            tokio::time::sleep(Duration::from_secs(poll)).await;
            time_left -= poll as i64;
            if time_left <= 0 {
                // The job's own deadline is now too: let it record how it
                // ended (Ansible's wrapper kills it on time, before the
                // last poll), within a few seconds.
                let _ =
                    tokio::time::timeout(Duration::from_secs(5), done_rx.wait_for(|d| *d)).await;
            }
            let Ok(h) = connect().await else { continue };
            let Ok(content) = h.read_file(&results_file).await else {
                continue;
            };
            let r = status_result(&jid, &results_file, content.as_deref(), false);
            let done = r.get("finished").is_some_and(crate::value::truthy)
                || r.get("failed").is_some_and(crate::value::truthy);
            if !done {
                self.event(crate::report::Event::AsyncPoll {
                    host: host.to_string(),
                    jid: jid.clone(),
                    started: r.get("started").is_some_and(crate::value::truthy),
                    finished: false,
                });
            }
            last = Some(r);
            if done {
                break;
            }
        }
        let finished = last
            .as_ref()
            .and_then(|r| r.get("finished"))
            .is_some_and(crate::value::truthy);
        let ok = finished
            && !last
                .as_ref()
                .and_then(|r| r.get("failed"))
                .is_some_and(crate::value::truthy);
        self.event(crate::report::Event::AsyncEnd {
            host: host.to_string(),
            jid: jid.clone(),
            ok,
        });
        if !finished {
            let mut m = failed(format!(
                "async task did not complete within the requested time - {limit}s"
            ));
            m.remove("changed");
            if let Some(r) = last {
                m.insert("async_result".into(), Value::Object(r));
            }
            return Some(m);
        }
        // A finished job's file is removed, as Ansible's cleanup does.
        if let Ok(h) = connect().await {
            let _ = h
                .exec(
                    &format!("rm -f {}", shell_quote(&results_file)),
                    &ExecOptions::default(),
                )
                .await;
        }
        last
    }

    /// `async_status`: a job's state from its file on the host.
    pub(crate) async fn async_status(
        self: &Arc<Self>,
        task: &Task,
        inherit: &Inherit,
        host: &str,
        vars: &Vars,
        delegate: Option<&str>,
        args: &Map<String, Value>,
    ) -> Map<String, Value> {
        for k in args.keys() {
            if !matches!(k.as_str(), "jid" | "mode") {
                return action_error(format!(
                    "Unsupported parameters for (async_status) module: {k}. Supported parameters include: jid, mode."
                ));
            }
        }
        let Some(jid) = args.get("jid").map(py_str) else {
            return action_error("missing required arguments: jid");
        };
        let mode = args
            .get("mode")
            .map(py_str)
            .unwrap_or_else(|| "status".into());
        if mode != "status" && mode != "cleanup" {
            return action_error(format!(
                "value of mode must be one of: status, cleanup, got: {mode}"
            ));
        }
        let conn = match self.host_for(task, inherit, host, vars, delegate).await {
            Ok(h) => h,
            Err(e) => return host_error(e),
        };
        let dir = match async_dir(conn.as_ref(), vars, false).await {
            Ok(Ok(d)) => d,
            Ok(Err(msg)) => return failed(msg),
            Err(e) => return host_error(e),
        };
        let path = format!("{dir}/{jid}");
        let content = match conn.read_file(&path).await {
            Ok(c) => c,
            Err(e) => return host_error(e),
        };
        let cleanup = mode == "cleanup";
        if cleanup && content.is_some() {
            let rm = format!("rm -f {}", shell_quote(&path));
            if let Err(e) = conn.exec(&rm, &ExecOptions::default()).await {
                return host_error(e);
            }
        }
        status_result(&jid, &path, content.as_deref(), cleanup)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn async_dir_words() {
        let mut v = Vars::default();
        assert_eq!(async_dir_word(&v).1, "~/.ansible_async");
        v.vars
            .insert("ansible_async_dir".into(), Value::from("~/my jobs"));
        assert_eq!(async_dir_word(&v).1, "~/'my jobs'");
        v.vars
            .insert("ansible_async_dir".into(), Value::from("/var/tmp/j's"));
        assert_eq!(async_dir_word(&v).1, "'/var/tmp/j'\"'\"'s'");
    }

    #[test]
    fn job_file_states() {
        let running = br#"{"started": true, "finished": false, "ansible_job_id": "j1.2"}"#;
        let r = status_result("j1.2", "/h/.ansible_async/j1.2", Some(running), false);
        assert_eq!(r["finished"], Value::Bool(false));
        assert_eq!(r["started"], Value::Bool(true));
        let done = br#"{"changed": true, "rc": 0, "stdout": "a\nb"}"#;
        let r = status_result("j1.2", "/p", Some(done), false);
        assert_eq!(r["finished"], Value::Bool(true));
        assert_eq!(r["stdout_lines"], serde_json::json!(["a", "b"]));
        assert_eq!(r["ansible_job_id"], "j1.2");
        let r = status_result("j9", "/p", None, false);
        assert_eq!(r["msg"], "could not find job");
        assert_eq!(r["failed"], Value::Bool(true));
    }
}
