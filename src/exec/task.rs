//! One task on a set of hosts: variables, `when`, loops, the action,
//! `until`, `changed_when`/`failed_when`, `register`, `notify`, events.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures::future::join_all;
use herd_modules::api::{
    ExecOptions, ExecResult, FileStat, Host, HostError, ModuleContext, Source, StatElse,
};

use super::controller::TaskController;
use super::{Inherit, PlayRun, Runner};
use crate::diag::Diagnostic;
use crate::playbook::{LoadOptions, Task, TaskItem};
use crate::report::{Event, Status};
use crate::template::Vars;
use crate::value::{py_str, truthy, Map, Value};
use crate::vars::{self, HostScope};

/// What `no_log: true` leaves of a result.
pub fn censor(result: &Map<String, Value>) -> Map<String, Value> {
    let mut m = Map::new();
    if let Some(n) = result.get("_ansible_no_log") {
        m.insert("_ansible_no_log".into(), n.clone());
    }
    // A loop keeps the shape of its results: each item hidden that had
    // `no_log` itself.
    if let Some(Value::Array(items)) = result.get("results") {
        let items = items
            .iter()
            .map(|i| match i {
                Value::Object(o) if o.get("_ansible_no_log").is_some_and(truthy) => {
                    Value::Object(censor(o))
                }
                other => other.clone(),
            })
            .collect();
        m.insert("results".into(), Value::Array(items));
    }
    // Ansible keeps `changed` beside the notice.
    m.insert(
        "changed".into(),
        Value::Bool(result.get("changed").is_some_and(truthy)),
    );
    m.insert(
        "censored".into(),
        Value::String(
            "the output has been hidden due to the fact that 'no_log: true' was specified for this result"
                .into(),
        ),
    );
    m
}

/// Drops `_ansible_*` keys at every depth (ansible-core's
/// `strip_internal_keys`).
fn strip_internal(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.retain(|k, _| !k.starts_with("_ansible_"));
            m.values_mut().for_each(strip_internal);
        }
        Value::Array(a) => a.iter_mut().for_each(strip_internal),
        _ => {}
    }
}

/// Marks a result whose failure `ignore_errors` does not ignore.
const UNIGNORABLE: &str = "_herd_unignorable";

/// Marks a result that `failed_when` found failed when the module had
/// failed already: its error is still the module's.
const MODULE_FAILED: &str = "_herd_module_failed";

/// Marks the failure of an action that ansible-core raises rather than
/// returns (its argument checks, "does not support async"): its error
/// reads `Task failed: MSG`, naming neither module nor action.
pub(super) const ACTION_ERROR: &str = "_herd_action_error";

/// The failed result of an include whose file cannot be loaded.
fn include_failed(file: &str, reason: String) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("failed".into(), Value::Bool(true));
    m.insert("changed".into(), Value::Bool(false));
    m.insert("include".into(), Value::String(file.to_string()));
    m.insert("reason".into(), Value::String(reason));
    m.insert(UNIGNORABLE.into(), Value::Bool(true));
    m
}

/// The result of a failure found by the engine (not the module).
fn failed(msg: impl Into<String>) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("failed".into(), Value::Bool(true));
    m.insert("msg".into(), Value::String(msg.into()));
    m
}

fn skipped(cond: Option<&Value>) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("changed".into(), Value::Bool(false));
    m.insert("skipped".into(), Value::Bool(true));
    m.insert(
        "skip_reason".into(),
        Value::String("Conditional result was False".into()),
    );
    if let Some(c) = cond {
        m.insert("false_condition".into(), c.clone());
    }
    m
}

fn flag(m: &Map<String, Value>, key: &str) -> bool {
    m.get(key).is_some_and(truthy)
}

/// A keyword value as a boolean (`yes`, `true`, `1`, a bool).
pub(crate) fn as_bool(v: &Value) -> bool {
    match v {
        Value::Bool(b) => *b,
        Value::String(s) => crate::config::parse_bool(s).unwrap_or(false),
        other => truthy(other),
    }
}

/// Where an error in a task is: `file:line`.
fn located(d: &Diagnostic, task: &Task) -> String {
    format!(
        "{}. The error appears to be in '{}': line {}, column {}",
        d.message, task.loc.file, task.loc.line, task.loc.col
    )
}

/// The title of a task: `role : name`, the name, or the action.
pub(crate) fn title(task: &Task, vars: Option<&Vars>, runner: &Runner) -> String {
    let name = match (&task.name, vars) {
        (Some(n), Some(v)) => runner
            .templar
            .render_str(n, v)
            .map(|x| py_str(&x))
            .unwrap_or_else(|_| n.clone()),
        (Some(n), None) => n.clone(),
        (None, _) => task.action_written.clone(),
    };
    match &task.role {
        Some(r) => format!("{} : {name}", r.name),
        None => name,
    }
}

/// The result of `command`/`shell` in check mode without `creates` or
/// `removes`: never run, whatever the module does, with the keys
/// ansible-core's command module gives. `None` when the command runs.
pub(super) fn command_check_skip(
    name: &str,
    args: &Map<String, Value>,
    check_mode: bool,
) -> Option<Map<String, Value>> {
    let runs = !check_mode
        || !matches!(name, "command" | "shell")
        || args.contains_key("creates")
        || args.contains_key("removes");
    if runs {
        return None;
    }
    // Never run a command in check mode, whatever the module does;
    // the result has the keys ansible-core's command module gives.
    let cmd = args
        .get("_raw_params")
        .or_else(|| args.get("cmd"))
        .cloned()
        .unwrap_or(Value::Null);
    // `command` reports its words, `shell` its line.
    let cmd = match (&cmd, name) {
        (Value::String(line), "command") => match herd_modules::commands::shlex_split(line) {
            Ok(words) => Value::Array(words.into_iter().map(Value::String).collect()),
            Err(_) => cmd,
        },
        _ => cmd,
    };
    let r = serde_json::json!({
        "changed": false,
        "cmd": cmd,
        "delta": null,
        "end": null,
        "failed": false,
        "msg": "Command would have run if not in check mode",
        "rc": 0,
        "skipped": true,
        "start": null,
        "stderr": "",
        "stderr_lines": [],
        "stdout": "",
        "stdout_lines": [],
    })
    .as_object()
    .cloned()
    .unwrap_or_default();
    Some(r)
}

/// A module's outcome as its registered result, with its diff entries.
pub(super) fn outcome_result(o: &herd_modules::api::Outcome) -> Map<String, Value> {
    let mut m = o.to_result();
    if !o.diff.is_empty() {
        m.insert(
            "diff".into(),
            Value::Array(o.diff.iter().map(|d| d.to_value()).collect()),
        );
    }
    m
}

/// A host whose commands carry the task's `environment:`.
pub(super) struct EnvHost {
    pub inner: Arc<dyn Host>,
    pub env: Vec<(String, String)>,
}

#[async_trait]
impl Host for EnvHost {
    fn name(&self) -> &str {
        self.inner.name()
    }
    async fn exec(&self, command: &str, opts: &ExecOptions) -> Result<ExecResult, HostError> {
        self.inner.exec(command, &self.with_env(opts)).await
    }
    async fn read_file(&self, path: &str) -> Result<Option<Vec<u8>>, HostError> {
        self.inner.read_file(path).await
    }
    async fn write_from(
        &self,
        path: &str,
        src: Source<'_>,
        mode: Option<u32>,
    ) -> Result<(), HostError> {
        self.inner.write_from(path, src, mode).await
    }
    async fn checksum(&self, path: &str) -> Result<Option<String>, HostError> {
        self.inner.checksum(path).await
    }
    async fn stat(&self, path: &str, follow: bool) -> Result<Option<FileStat>, HostError> {
        self.inner.stat(path, follow).await
    }
    async fn stat_read(
        &self,
        path: &str,
        follow: bool,
        max: u64,
        names: bool,
    ) -> Result<Option<(FileStat, Option<Vec<u8>>)>, HostError> {
        self.inner.stat_read(path, follow, max, names).await
    }
    async fn read_kind(&self, path: &str) -> Result<Option<(String, Option<Vec<u8>>)>, HostError> {
        self.inner.read_kind(path).await
    }
    async fn exec_stat(
        &self,
        command: &str,
        opts: &ExecOptions,
        path: &str,
        follow: bool,
    ) -> Result<(ExecResult, Option<FileStat>), HostError> {
        self.inner
            .exec_stat(command, &self.with_env(opts), path, follow)
            .await
    }
    async fn write_stat(
        &self,
        path: &str,
        src: Source<'_>,
        mode: Option<u32>,
    ) -> Result<Option<FileStat>, HostError> {
        self.inner.write_stat(path, src, mode).await
    }
    async fn stat_else_exec(
        &self,
        path: &str,
        follow: bool,
        command: &str,
        opts: &ExecOptions,
    ) -> Result<StatElse, HostError> {
        self.inner
            .stat_else_exec(path, follow, command, &self.with_env(opts))
            .await
    }
}

impl EnvHost {
    /// `opts` with the task's environment first (the command's own
    /// variables win).
    fn with_env(&self, opts: &ExecOptions) -> ExecOptions {
        let mut o = opts.clone();
        let mut env = self.env.clone();
        env.extend(o.env);
        o.env = env;
        o
    }
}

/// The user herd runs as, for the local connection's `-vvv` line.
fn local_user() -> String {
    // SAFETY: geteuid cannot fail; getpwuid returns null or a record that
    // stays valid until the next getpw* call, read at once here.
    unsafe {
        let pw = libc::getpwuid(libc::geteuid());
        if !pw.is_null() && !(*pw).pw_name.is_null() {
            return std::ffi::CStr::from_ptr((*pw).pw_name)
                .to_string_lossy()
                .into_owned();
        }
        libc::geteuid().to_string()
    }
}

/// A host that shows, at `-vvv`, each command line it sends: the script
/// (`cd`, `environment:` exports, the command) under the become wrapper.
/// Passwords are never part of it (sudo reads its password from stdin);
/// a `no_log` task's commands are not shown.
struct TracedHost {
    inner: Arc<dyn Host>,
    runner: Arc<Runner>,
    addr: String,
    prefix: &'static str,
    become_: Option<crate::connection::become_::Become>,
    no_log: bool,
}

impl TracedHost {
    fn show(&self, what: String) {
        self.runner.event(Event::Verbose {
            host: self.addr.clone(),
            level: 3,
            message: format!("{}{what}", self.prefix),
        });
    }

    fn show_exec(&self, command: &str, opts: &ExecOptions) {
        if self.no_log {
            self.show("EXEC (censored due to no_log)".into());
            return;
        }
        let script = crate::connection::shell::exec_script(command, opts)
            .unwrap_or_else(|_| format!("{command}\n"));
        let script = script.trim_end_matches('\n');
        let plain = || format!("/bin/sh -c {}", herd_modules::api::shell_quote(script));
        let line = match &self.become_ {
            Some(b) => b
                .wrap(script, "[herd] password:")
                .unwrap_or_else(|_| plain()),
            None => plain(),
        };
        self.show(format!("EXEC {line}"));
    }

    fn show_put(&self, path: &str, src: &Source<'_>) {
        if self.no_log {
            return;
        }
        let from = match src {
            Source::Bytes(data) => format!("({} bytes)", data.len()),
            Source::LocalFile(p) => herd_modules::api::shell_quote(&p.display().to_string()),
            Source::HostFile(p) => format!("host:{}", herd_modules::api::shell_quote(p)),
        };
        self.show(format!(
            "PUT {from} TO {}",
            herd_modules::api::shell_quote(path)
        ));
    }
}

#[async_trait]
impl Host for TracedHost {
    fn name(&self) -> &str {
        self.inner.name()
    }
    async fn exec(&self, command: &str, opts: &ExecOptions) -> Result<ExecResult, HostError> {
        self.show_exec(command, opts);
        self.inner.exec(command, opts).await
    }
    async fn read_file(&self, path: &str) -> Result<Option<Vec<u8>>, HostError> {
        if !self.no_log {
            self.show(format!("READ {}", herd_modules::api::shell_quote(path)));
        }
        self.inner.read_file(path).await
    }
    async fn write_from(
        &self,
        path: &str,
        src: Source<'_>,
        mode: Option<u32>,
    ) -> Result<(), HostError> {
        self.show_put(path, &src);
        self.inner.write_from(path, src, mode).await
    }
    async fn checksum(&self, path: &str) -> Result<Option<String>, HostError> {
        if !self.no_log {
            self.show(format!("CHECKSUM {}", herd_modules::api::shell_quote(path)));
        }
        self.inner.checksum(path).await
    }
    async fn stat(&self, path: &str, follow: bool) -> Result<Option<FileStat>, HostError> {
        if !self.no_log {
            self.show(format!("STAT {}", herd_modules::api::shell_quote(path)));
        }
        self.inner.stat(path, follow).await
    }
    async fn stat_read(
        &self,
        path: &str,
        follow: bool,
        max: u64,
        names: bool,
    ) -> Result<Option<(FileStat, Option<Vec<u8>>)>, HostError> {
        if !self.no_log {
            self.show(format!(
                "STAT+READ {}",
                herd_modules::api::shell_quote(path)
            ));
        }
        self.inner.stat_read(path, follow, max, names).await
    }
    async fn read_kind(&self, path: &str) -> Result<Option<(String, Option<Vec<u8>>)>, HostError> {
        if !self.no_log {
            self.show(format!("READ {}", herd_modules::api::shell_quote(path)));
        }
        self.inner.read_kind(path).await
    }
    async fn exec_stat(
        &self,
        command: &str,
        opts: &ExecOptions,
        path: &str,
        follow: bool,
    ) -> Result<(ExecResult, Option<FileStat>), HostError> {
        self.show_exec(command, opts);
        if !self.no_log {
            self.show(format!("STAT {}", herd_modules::api::shell_quote(path)));
        }
        self.inner.exec_stat(command, opts, path, follow).await
    }
    async fn write_stat(
        &self,
        path: &str,
        src: Source<'_>,
        mode: Option<u32>,
    ) -> Result<Option<FileStat>, HostError> {
        self.show_put(path, &src);
        if !self.no_log {
            self.show(format!("STAT {}", herd_modules::api::shell_quote(path)));
        }
        self.inner.write_stat(path, src, mode).await
    }
    async fn stat_else_exec(
        &self,
        path: &str,
        follow: bool,
        command: &str,
        opts: &ExecOptions,
    ) -> Result<StatElse, HostError> {
        if !self.no_log {
            self.show(format!("STAT {}", herd_modules::api::shell_quote(path)));
        }
        let done = self
            .inner
            .stat_else_exec(path, follow, command, opts)
            .await?;
        // The command is shown only when it ran.
        if let StatElse::Ran(..) = done {
            self.show_exec(command, opts);
        }
        Ok(done)
    }
}

/// The result of a task on a host, after everything.
pub(crate) struct HostOutcome {
    pub host: String,
    pub result: Map<String, Value>,
    pub status: Status,
}

impl Runner {
    /// The variables of `task` on `host`.
    pub(crate) fn task_vars(
        self: &Arc<Self>,
        run: &PlayRun<'_>,
        task: &Task,
        inherit: &Inherit,
        host: &str,
    ) -> crate::diag::Result<Vars> {
        let inv = self.inventory();
        let (facts, include_vars, set_facts, special) = self.with_host(host, |s| {
            (
                s.facts.clone(),
                s.include_vars.clone(),
                s.set_facts.clone(),
                s.special.clone(),
            )
        });
        let fact_layer = super::facts::fact_vars(&facts, self.opts.config.inject_facts_as_vars);
        let role = task.role.as_ref().or(inherit.role.as_ref());
        let mut params = inherit.include_params.clone();
        if let Some(p) = inherit.host_params.get(host) {
            params.extend(p.clone());
        }
        let scope = HostScope {
            play: &run.play_vars,
            inventory: &inv,
            host,
            playbook_dir: &run.play.playbook_dir,
            role,
            block_vars: inherit.block_vars.iter().collect(),
            task_vars: Some(&task.vars),
            facts: Some(&fact_layer),
            include_vars: Some(&include_vars),
            set_facts: Some(&set_facts),
            include_params: Some(&params),
        };
        let mut vars = vars::host_vars(&scope)?;
        // A variable of a lower level with one of these names is hidden by
        // the magic variable.
        for key in super::SHARED_VARS {
            if vars.contains_key(*key) {
                vars.shift_remove(*key);
            }
        }
        vars.extend(special);
        #[cfg(test)]
        super::scale_count::add(&vars);
        Ok(Vars {
            vars,
            hostvars: Some(self.hostvars_source()),
            shared: Some(self.shared_vars(run)),
        })
    }

    /// The play's [`super::SHARED_VARS`] as they are now: `groups` after
    /// `add_host`/`group_by`, and the play's host lists without the hosts
    /// that failed or became unreachable. Computed again only when one of
    /// those changes.
    fn shared_vars(&self, run: &PlayRun<'_>) -> Arc<Map<String, Value>> {
        let failure_gen = self.failure_generation.load(Ordering::SeqCst);
        let inventory_gen = self.inventory_generation.load(Ordering::SeqCst);
        let mut cache = match run.shared.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        if let Some((f, i, m)) = cache.as_ref() {
            if *f == failure_gen && *i == inventory_gen {
                return m.clone();
            }
        }
        let mut m = run.shared_base.clone();
        if inventory_gen != run.inventory_generation {
            // add_host/group_by changed the groups since the play started.
            m.insert(
                "groups".into(),
                Value::Object(self.inventory().groups_var()),
            );
        }
        // Failed and unreachable hosts leave ansible_play_hosts and
        // ansible_play_batch.
        if self.any_failure.load(Ordering::SeqCst) {
            let failed: std::collections::HashSet<String> = {
                let states = match self.hosts.lock() {
                    Ok(g) => g,
                    Err(p) => p.into_inner(),
                };
                run.play_hosts
                    .iter()
                    .filter(|h| {
                        states
                            .get(*h)
                            .is_some_and(|s| s.failed || s.unreachable || s.dead)
                    })
                    .cloned()
                    .collect()
            };
            if !failed.is_empty() {
                let keep = |list: &[String]| {
                    Value::Array(
                        list.iter()
                            .filter(|h| !failed.contains(*h))
                            .cloned()
                            .map(Value::String)
                            .collect(),
                    )
                };
                m.insert("ansible_play_hosts".into(), keep(&run.play_hosts));
                m.insert("ansible_play_batch".into(), keep(&run.batch));
                m.insert("play_hosts".into(), keep(&run.batch));
            }
        }
        #[cfg(test)]
        super::scale_count::add_shared(&m);
        let m = Arc::new(m);
        *cache = Some((failure_gen, inventory_gen, m.clone()));
        m
    }

    /// Runs a task on hosts (lockstep for them all).
    pub(crate) fn run_task<'a>(
        self: &'a Arc<Self>,
        run: &'a PlayRun<'a>,
        task: &'a Task,
        hosts: Vec<String>,
        inherit: &'a Inherit,
    ) -> futures::future::BoxFuture<'a, ()> {
        Box::pin(self.run_task_inner(run, task, hosts, inherit))
    }

    async fn run_task_inner(
        self: &Arc<Self>,
        run: &PlayRun<'_>,
        task: &Task,
        hosts: Vec<String>,
        inherit: &Inherit,
    ) {
        let mut tags = inherit.tags.clone();
        tags.extend(task.tags.iter().cloned());
        if !task.is_handler && !self.opts.tags.should_run(&tags) {
            return;
        }
        if run.before_start.load(Ordering::SeqCst) && !task.is_handler {
            let want = self.opts.start_at_task.clone().unwrap_or_default();
            let plain = task.name.clone().unwrap_or_default();
            if plain != want && title(task, None, self) != want {
                return;
            }
            run.before_start.store(false, Ordering::SeqCst);
        }
        match task.action.as_str() {
            "meta" => return self.run_meta(run, task, hosts, inherit).await,
            "include_tasks" | "include_role" => {
                return self.run_include(run, task, hosts, inherit).await
            }
            _ => {}
        }
        // Variables of the first host: the title when the name is a
        // template, and handler names in `notify` for run_once.
        let needs_vars = task
            .name
            .as_deref()
            .is_some_and(crate::template::is_template)
            || !task.notify.is_empty()
            || !inherit.notify.is_empty();
        let first_vars = hosts
            .first()
            .filter(|_| needs_vars)
            .and_then(|h| self.task_vars(run, task, inherit, h).ok());
        let check_mode = inherit
            .keyword(task, "check_mode")
            .map(|v| as_bool(&v))
            .unwrap_or(self.opts.check);
        let t = title(task, first_vars.as_ref(), self);
        if task.is_handler {
            self.event(Event::HandlerStart {
                title: t.clone(),
                action: task.action_written.clone(),
            });
        } else {
            self.event(Event::TaskStart {
                title: t.clone(),
                is_handler: false,
                check_mode,
                action: task.action_written.clone(),
            });
        }
        let run_once = inherit
            .keyword(task, "run_once")
            .is_some_and(|v| as_bool(&v));
        // add_host bypasses the host loop in Ansible: it runs once, for the
        // first host, and only that host reports it.
        let bypass = herd_modules::lookup(&task.action).is_some_and(|i| i.name == "add_host");
        let targets: Vec<String> = if run_once || bypass {
            if run.strategy_free {
                // Free strategy: the first host to get here runs it.
                let key = format!("{}:{}:{}", task.loc.file, task.loc.line, task.loc.col);
                let mut done = run
                    .run_once_done
                    .lock()
                    .map(|d| d.clone())
                    .unwrap_or_default();
                if !done.insert(key) {
                    return;
                }
                if let Ok(mut d) = run.run_once_done.lock() {
                    *d = done;
                }
            }
            hosts.iter().take(1).cloned().collect()
        } else {
            hosts.clone()
        };
        let throttle = inherit
            .keyword(task, "throttle")
            .and_then(|v| py_str(&v).trim().parse::<usize>().ok())
            .filter(|n| *n > 0);
        let throttle_sem = throttle.map(tokio::sync::Semaphore::new);
        let t = &t;
        let futs = targets.iter().map(|h| {
            let throttle_sem = throttle_sem.as_ref();
            async move {
                let _t = match throttle_sem {
                    Some(s) => s.acquire().await.ok(),
                    None => None,
                };
                let _permit = self.forks.acquire().await.ok();
                self.host_task(run, task, inherit, h, t).await
            }
        });
        let outcomes = join_all(futs).await;
        let mut newly_failed = false;
        for o in &outcomes {
            if matches!(o.status, Status::Failed | Status::Unreachable) {
                newly_failed = true;
            }
        }
        if run_once {
            // The result of a run_once task belongs to every host of the batch.
            if let Some(o) = outcomes.first() {
                let others: Vec<String> = self
                    .active(run, &run.batch)
                    .into_iter()
                    .filter(|h| *h != o.host)
                    .collect();
                for h in others {
                    self.apply_result(task, inherit, &h, &o.result, None);
                    if let Some(reg) = &task.register {
                        let r = o.result.clone();
                        self.with_host(&h, |st| {
                            st.set_facts.insert(reg.clone(), Value::Object(r));
                        });
                    }
                    if o.status == Status::Changed {
                        self.notify_all(run, task, inherit, &h, first_vars.as_ref());
                    }
                }
            }
        }
        self.check_play_failure(run, task, inherit, newly_failed);
    }

    fn notify_all(
        &self,
        run: &PlayRun<'_>,
        task: &Task,
        inherit: &Inherit,
        host: &str,
        vars: Option<&Vars>,
    ) -> Option<String> {
        let mut names = inherit.notify.clone();
        names.extend(task.notify.iter().cloned());
        for n in names {
            let n = match vars {
                Some(v) => self
                    .templar
                    .render_str(&n, v)
                    .map(|x| py_str(&x))
                    .unwrap_or(n),
                None => n,
            };
            if let Err(e) = self.notify(run, host, &n) {
                return Some(e);
            }
        }
        None
    }

    /// Runs a task on one host and reports it.
    async fn host_task(
        self: &Arc<Self>,
        run: &PlayRun<'_>,
        task: &Task,
        inherit: &Inherit,
        host: &str,
        title: &str,
    ) -> HostOutcome {
        let vars = match self.task_vars(run, task, inherit, host) {
            Ok(v) => Some(v),
            Err(d) => {
                let r = failed(located(&d, task));
                return self.report(run, task, inherit, host, r, None, false, None);
            }
        };
        let mut vars = vars.unwrap_or_default();
        let no_log = inherit
            .keyword(task, "no_log")
            .map(|v| {
                self.templar
                    .render_value(&v, &vars)
                    .map(|v| as_bool(&v))
                    .unwrap_or(true)
            })
            .unwrap_or(false);
        let delegate = inherit
            .keyword(task, "delegate_to")
            .and_then(|v| self.templar.render_value(&v, &vars).ok())
            .filter(|v| !v.is_null())
            .map(|v| py_str(&v));
        let mut conds = inherit.when.clone();
        conds.extend(task.when.iter().cloned());
        let Some(lp) = &task.loop_ else {
            match self.eval_when(&conds, &vars) {
                Err(d) => {
                    let r = failed(located(&d, task));
                    return self.report(run, task, inherit, host, r, delegate, no_log, None);
                }
                Ok(Some(false_cond)) => {
                    let r = skipped(Some(&false_cond));
                    return self.report(run, task, inherit, host, r, delegate, no_log, None);
                }
                Ok(None) => {}
            }
            let r = self
                .execute(run, task, inherit, host, &vars, delegate.as_deref(), title)
                .await;
            self.apply_result(task, inherit, host, &r, delegate.as_deref());
            return self.report(run, task, inherit, host, r, delegate, no_log, Some(&vars));
        };
        let items = match self.loop_items(task, lp, &vars) {
            Ok(i) => i,
            Err(msg) => {
                let r = failed(format!(
                    "{msg}. The error appears to be in '{}': line {}, column {}",
                    lp.loc.file, lp.loc.line, lp.loc.col
                ));
                return self.report(run, task, inherit, host, r, delegate, no_log, None);
            }
        };
        let lc = task.loop_control.clone().unwrap_or_default();
        let loop_var = lc.loop_var.clone().unwrap_or_else(|| "item".into());
        let extended = lc
            .extended
            .as_ref()
            .and_then(|v| self.templar.render_value(v, &vars).ok())
            .is_some_and(|v| as_bool(&v));
        let pause = lc
            .pause
            .as_ref()
            .and_then(|v| self.templar.render_value(v, &vars).ok())
            .and_then(|v| py_str(&v).trim().parse::<f64>().ok())
            .unwrap_or(0.0);
        let mut results = Vec::new();
        let n = items.len();
        for (i, item) in items.iter().enumerate() {
            if i > 0 && pause > 0.0 {
                tokio::time::sleep(Duration::from_secs_f64(pause)).await;
            }
            let mut iv = vars.clone();
            iv.vars.insert(loop_var.clone(), item.clone());
            iv.vars
                .insert("ansible_loop_var".into(), Value::String(loop_var.clone()));
            if let Some(ix) = &lc.index_var {
                iv.vars.insert(ix.clone(), Value::from(i));
                iv.vars
                    .insert("ansible_index_var".into(), Value::String(ix.clone()));
            }
            if extended {
                let mut l = Map::new();
                l.insert("index".into(), Value::from(i + 1));
                l.insert("index0".into(), Value::from(i));
                l.insert("revindex".into(), Value::from(n - i));
                l.insert("revindex0".into(), Value::from(n - i - 1));
                l.insert("first".into(), Value::Bool(i == 0));
                l.insert("last".into(), Value::Bool(i + 1 == n));
                l.insert("length".into(), Value::from(n));
                l.insert("allitems".into(), Value::Array(items.clone()));
                l.insert(
                    "previtem".into(),
                    if i > 0 {
                        items[i - 1].clone()
                    } else {
                        Value::Null
                    },
                );
                l.insert(
                    "nextitem".into(),
                    items.get(i + 1).cloned().unwrap_or(Value::Null),
                );
                iv.vars.insert("ansible_loop".into(), Value::Object(l));
            }
            let label = match &lc.label {
                Some(l) => self
                    .templar
                    .render_value(l, &iv)
                    .map(|v| py_str(&v))
                    .unwrap_or_else(|_| py_str(item)),
                None => py_str(item),
            };
            // The item itself may be the secret.
            let label = if no_log {
                "(censored due to no_log)".to_string()
            } else {
                label
            };
            // `delegate_to` may name the loop item.
            let delegate = inherit
                .keyword(task, "delegate_to")
                .and_then(|v| self.templar.render_value(&v, &iv).ok())
                .filter(|v| !v.is_null())
                .map(|v| py_str(&v));
            let mut r = match self.eval_when(&conds, &iv) {
                Err(d) => failed(located(&d, task)),
                Ok(Some(c)) => skipped(Some(&c)),
                Ok(None) => {
                    self.execute(run, task, inherit, host, &iv, delegate.as_deref(), title)
                        .await
                }
            };
            let module_failed = r.remove(MODULE_FAILED).is_some();
            let action_error = r.remove(ACTION_ERROR).is_some();
            self.apply_result(task, inherit, host, &r, delegate.as_deref());
            // Facts set by one item are seen by the next (the
            // `acc: "{{ acc + [item] }}"` idiom).
            if let (Some(Value::Object(f)), false) = (r.get("ansible_facts"), flag(&r, "failed")) {
                for (k, v) in f {
                    vars.vars.insert(k.clone(), v.clone());
                }
            }
            r.insert(loop_var.clone(), item.clone());
            r.insert("ansible_loop_var".into(), Value::String(loop_var.clone()));
            // What ansible-core's callbacks see in each item (register
            // drops these again).
            let label_value = match &lc.label {
                Some(l) => self
                    .templar
                    .render_value(l, &iv)
                    .unwrap_or_else(|_| item.clone()),
                None => item.clone(),
            };
            r.insert("_ansible_item_label".into(), label_value);
            r.insert("_ansible_no_log".into(), Value::Bool(no_log));
            if let Some(ix) = &lc.index_var {
                r.insert(ix.clone(), Value::from(i));
                r.insert("ansible_index_var".into(), Value::String(ix.clone()));
            }
            let status = status_of(&r);
            let ignored = status == Status::Failed && self.ignore_errors(task, inherit, &iv);
            self.show_diff(task, inherit, host, &r, no_log);
            let kind = (module_failed, action_error);
            self.show_error(task, host, &r, status, no_log, kind);
            let shown = if no_log { censor(&r) } else { r.clone() };
            self.event(Event::HostResult {
                host: host.to_string(),
                delegated_to: delegate.clone(),
                status,
                result: shown,
                item: Some(label),
                ignored,
                no_log,
            });
            let stop = !lc.break_when.is_empty() && {
                let mut bv = iv.clone();
                if let Some(reg) = &task.register {
                    bv.vars.insert(reg.clone(), Value::Object(r.clone()));
                }
                self.templar
                    .eval_conditions(&lc.break_when, &bv)
                    .unwrap_or(true)
            };
            results.push(Value::Object(r));
            if stop {
                break;
            }
        }
        let mut summary = Map::new();
        let any = |k: &str| results.iter().any(|r| r.get(k).is_some_and(truthy));
        let all_skipped =
            !results.is_empty() && results.iter().all(|r| r.get("skipped").is_some_and(truthy));
        summary.insert("changed".into(), Value::Bool(any("changed")));
        if any("failed") {
            summary.insert("failed".into(), Value::Bool(true));
            summary.insert(
                "msg".into(),
                Value::String("One or more items failed".into()),
            );
        }
        if any("unreachable") {
            summary.insert("unreachable".into(), Value::Bool(true));
        }
        if all_skipped || results.is_empty() {
            summary.insert("skipped".into(), Value::Bool(true));
            if results.is_empty() {
                summary.insert(
                    "skipped_reason".into(),
                    Value::String("No items in the list".into()),
                );
            }
        }
        if results.is_empty() {
            summary.insert("results".into(), Value::Array(results));
        } else {
            // Ansible's key order: results, skipped, msg, changed, the rest.
            let msg = match summary.get("msg") {
                Some(m) => m.clone(),
                None if all_skipped => Value::String("All items skipped".into()),
                None => Value::String("All items completed".into()),
            };
            let mut ordered = Map::new();
            ordered.insert("results".into(), Value::Array(results));
            ordered.insert("skipped".into(), Value::Bool(all_skipped));
            ordered.insert("msg".into(), msg);
            for (k, v) in summary {
                ordered.entry(k).or_insert(v);
            }
            summary = ordered;
        }
        self.report(
            run,
            task,
            inherit,
            host,
            summary,
            delegate,
            no_log,
            Some(&vars),
        )
    }

    /// `--diff`: a changed result's `diff`, shown before the result as
    /// ansible-playbook shows it (never for `no_log`).
    fn show_diff(
        &self,
        task: &Task,
        inherit: &Inherit,
        host: &str,
        result: &Map<String, Value>,
        no_log: bool,
    ) {
        let on = inherit
            .keyword(task, "diff")
            .map(|v| as_bool(&v))
            .unwrap_or(self.opts.diff);
        let Some(diff) = result.get("diff") else {
            return;
        };
        if !on || no_log || !flag(result, "changed") || !truthy(diff) {
            return;
        }
        let text = crate::report::render_diff(diff);
        if !text.is_empty() {
            self.event(Event::Diff {
                host: host.to_string(),
                text,
            });
        }
    }

    /// The error ansible-core 2.19 prints before a failed or unreachable
    /// result: `Task failed: Module failed: MSG` (a module's failure),
    /// `Action failed: MSG` (an engine action's, or `failed_when`), with
    /// the task's place in the playbook and the lines above it.
    fn show_error(
        &self,
        task: &Task,
        host: &str,
        result: &Map<String, Value>,
        status: Status,
        no_log: bool,
        (module_failed, action_error): (bool, bool),
    ) {
        let msg = result.get("msg").map(py_str);
        let msg = match status {
            Status::Unreachable => msg.map(|m| match m.strip_prefix("Task failed: ") {
                Some(rest) => rest.to_string(),
                None => m,
            }),
            // ansible-core 2.19 prints a no_log task's failure message
            // here, secrets and all; herd keeps what failed and hides why.
            Status::Failed if no_log => msg.map(|m| {
                if m.is_empty() {
                    m
                } else {
                    "<error censored due to no log>".to_string()
                }
            }),
            _ => msg,
        };
        let message = match status {
            Status::Unreachable if no_log => {
                // What failed stays; why is hidden.
                let what = msg
                    .as_deref()
                    .and_then(|m| m.split_once(": "))
                    .map(|(w, _)| format!("{w}: "))
                    .unwrap_or_default();
                format!("Task failed: {what}<error censored due to no log>")
            }
            Status::Unreachable => format!("Task failed: {}", msg.unwrap_or_default()),
            Status::Failed => {
                let located = msg
                    .as_deref()
                    .and_then(|m| m.split_once(". The error appears to be in '"));
                if let Some((what, _)) = located {
                    // An error the engine found in the task itself (a
                    // template, a condition): its own words.
                    format!("Task failed: {what}")
                } else if let Some(m) = msg.as_deref().filter(|m| m.starts_with("Task failed: ")) {
                    // A failure of the task as a whole (its `timeout`).
                    m.to_string()
                } else if let Some(m) = msg.as_deref().filter(|_| action_error) {
                    format!("Task failed: {m}")
                } else {
                    // A custom module's own failure (not its unreadable
                    // output) is a module's, as in ansible-core.
                    let custom_failed = task.module_path.is_some()
                        && result.contains_key("msg")
                        && !result.contains_key("module_stdout");
                    let by_module = (module_failed || !result.contains_key("failed_when_result"))
                        && (failure_is_module_failure(&task.action) || custom_failed);
                    let kind = if by_module { "Module" } else { "Action" };
                    match msg.as_deref() {
                        None => format!("Task failed: {kind} failed: Unknown error."),
                        Some("") => format!("Task failed: {kind} failed."),
                        Some(m) => format!("Task failed: {kind} failed: {m}"),
                    }
                }
            }
            _ => return,
        };
        let mut d = Diagnostic::new(message);
        if task.loc.line > 0 {
            // Ansible names the file by its absolute path.
            let mut loc = task.loc.clone();
            if let Ok(abs) = std::path::absolute(&*loc.file) {
                loc.file = abs.display().to_string().into();
            }
            d = d.at(loc);
        }
        self.event(Event::TaskError {
            host: host.to_string(),
            text: d.to_string(),
        });
    }

    fn ignore_errors(&self, task: &Task, inherit: &Inherit, vars: &Vars) -> bool {
        inherit
            .keyword(task, "ignore_errors")
            .and_then(|v| self.templar.render_value(&v, vars).ok())
            .is_some_and(|v| as_bool(&v))
    }

    /// `None` when every condition holds, else the first that does not.
    fn eval_when(&self, conds: &[Value], vars: &Vars) -> crate::diag::Result<Option<Value>> {
        for c in conds {
            if !self
                .templar
                .eval_conditions(std::slice::from_ref(c), vars)?
            {
                return Ok(Some(c.clone()));
            }
        }
        Ok(None)
    }

    /// Registers, notifies, counts and reports the final result of a task on
    /// a host.
    #[allow(clippy::too_many_arguments)]
    fn report(
        self: &Arc<Self>,
        run: &PlayRun<'_>,
        task: &Task,
        inherit: &Inherit,
        host: &str,
        mut result: Map<String, Value>,
        delegate: Option<String>,
        no_log: bool,
        vars: Option<&Vars>,
    ) -> HostOutcome {
        // A failed include cannot be ignored (as in ansible-playbook); the
        // marker is engine-internal and leaves the result here.
        let unignorable = result.remove(UNIGNORABLE).is_some();
        let module_failed = result.remove(MODULE_FAILED).is_some();
        let action_error = result.remove(ACTION_ERROR).is_some();
        // Read by apply_result already; Ansible pops it before results are
        // shown or registered.
        result.remove("_ansible_facts_cacheable");
        if let Some(reg) = &task.register {
            // As ansible-core registers it: without internal keys.
            let mut r = Value::Object(result.clone());
            strip_internal(&mut r);
            self.with_host(host, |st| {
                st.set_facts.insert(reg.clone(), r);
            });
        }
        let status = status_of(&result);
        if status == Status::Changed {
            if let Some(err) = self.notify_all(run, task, inherit, host, vars) {
                // As ansible-playbook: an unknown handler ends the run.
                self.set_fatal(Diagnostic::new(err).at(task.loc.clone()));
            }
        }
        let default_vars = Vars::default();
        let ignored = match status {
            Status::Failed => {
                !unignorable && self.ignore_errors(task, inherit, vars.unwrap_or(&default_vars))
            }
            Status::Unreachable => inherit
                .keyword(task, "ignore_unreachable")
                .is_some_and(|v| as_bool(&v)),
            _ => false,
        };
        self.with_host(host, |st| {
            let s = &mut st.stats;
            match status {
                Status::Ok => s.ok += 1,
                Status::Changed => {
                    s.ok += 1;
                    s.changed += 1
                }
                Status::Skipped => s.skipped += 1,
                Status::Failed if ignored => {
                    s.ok += 1;
                    s.ignored += 1;
                    if result.get("changed").is_some_and(truthy) {
                        s.changed += 1;
                    }
                }
                Status::Failed => {
                    s.failed += 1;
                    st.failed = true;
                    self.any_failure.store(true, Ordering::SeqCst);
                }
                Status::Unreachable if ignored => {
                    s.ok += 1;
                    s.ignored += 1
                }
                Status::Unreachable => {
                    s.unreachable += 1;
                    st.unreachable = true;
                    self.any_failure.store(true, Ordering::SeqCst);
                }
            }
        });
        if status == Status::Failed && !ignored {
            let t = Value::Object({
                let mut m = Map::new();
                m.insert("name".into(), Value::String(title(task, vars, self)));
                m.insert("action".into(), Value::String(task.action.clone()));
                m
            });
            let r = result.clone();
            self.with_host(host, |st| {
                st.special.insert("ansible_failed_task".into(), t);
                st.special
                    .insert("ansible_failed_result".into(), Value::Object(r));
            });
        }
        self.show_diff(task, inherit, host, &result, no_log);
        // A loop's own result follows its items, whose errors were shown.
        if task.loop_.is_none() || !result.contains_key("results") {
            let kind = (module_failed, action_error);
            self.show_error(task, host, &result, status, no_log, kind);
        }
        let shown = if no_log {
            censor(&result)
        } else {
            result.clone()
        };
        self.event(Event::HostResult {
            host: host.to_string(),
            delegated_to: delegate,
            status,
            result: shown,
            item: None,
            ignored,
            no_log,
        });
        HostOutcome {
            host: host.to_string(),
            result,
            status: if ignored { Status::Ok } else { status },
        }
    }

    /// Facts and variables a result sets (`set_fact`, `setup`,
    /// `include_vars`).
    pub(crate) fn apply_result(
        &self,
        task: &Task,
        inherit: &Inherit,
        host: &str,
        result: &Map<String, Value>,
        delegate: Option<&str>,
    ) {
        if flag(result, "failed") || flag(result, "skipped") {
            return;
        }
        let Some(Value::Object(facts)) = result.get("ansible_facts") else {
            return;
        };
        let facts = facts.clone();
        let delegate_facts = inherit
            .keyword(task, "delegate_facts")
            .is_some_and(|v| as_bool(&v));
        let target = match (delegate, delegate_facts) {
            (Some(d), true) => d.to_string(),
            _ => host.to_string(),
        };
        let cacheable = flag(result, "_ansible_facts_cacheable");
        match task.action.as_str() {
            "set_fact" => self.with_host(&target, |st| {
                if cacheable {
                    st.facts.extend(facts.clone());
                }
                st.set_facts.extend(facts);
            }),
            "include_vars" => self.with_host(&target, |st| st.include_vars.extend(facts)),
            _ => self.with_host(&target, |st| st.facts.extend(facts)),
        }
        if task.action != "include_vars" && (task.action != "set_fact" || cacheable) {
            self.store_facts(&target);
        }
    }

    /// Items of a loop.
    fn loop_items(
        &self,
        task: &Task,
        lp: &crate::playbook::Loop,
        vars: &Vars,
    ) -> Result<Vec<Value>, String> {
        let rendered = self
            .templar
            .render_value(&lp.items, vars)
            .map_err(|d| d.message)?;
        let Some(with) = &lp.with else {
            return match rendered {
                Value::Array(a) => Ok(a),
                other => Err(format!(
                    "Invalid data passed to 'loop', it requires a list, got this instead: {}. Hint: If you passed a list/dict of just one element, try adding wantlist=True to your lookup invocation or use q/query instead of lookup.",
                    py_str(&other)
                )),
            };
        };
        let terms = match rendered {
            Value::Array(a) => a,
            other => vec![other],
        };
        if with == "items" {
            // with_items flattens one level.
            let mut out = Vec::new();
            for t in terms {
                match t {
                    Value::Array(a) => out.extend(a),
                    other => out.push(other),
                }
            }
            return Ok(out);
        }
        let mut v = vars.clone();
        v.vars
            .insert("__herd_terms".into(), Value::Array(terms.clone()));
        let args: Vec<String> = match with.as_str() {
            // These lookups take one term: the whole list or dict.
            "dict" | "indexed_items" | "random_choice" | "cartesian" | "list" => {
                if with == "dict" || terms.len() == 1 {
                    v.vars.insert("__herd_one".into(), terms[0].clone());
                    vec!["__herd_one".into()]
                } else {
                    (0..terms.len())
                        .map(|i| format!("__herd_terms[{i}]"))
                        .collect()
                }
            }
            _ => (0..terms.len())
                .map(|i| format!("__herd_terms[{i}]"))
                .collect(),
        };
        let expr = format!(
            "query('{with}'{}{})",
            {
                let mut s = String::new();
                for a in &args {
                    s.push_str(", ");
                    s.push_str(a);
                }
                s
            },
            if with == "first_found" {
                // As a `with_` loop, first_found looks in the role subdirectory
                // the action's name points at (ansible-core's rule).
                let action = task.action.as_str();
                let sub = ["template", "var", "file"]
                    .into_iter()
                    .find(|w| action.contains(w))
                    .unwrap_or("file");
                format!(", _herd_subdir='{sub}s'")
            } else {
                String::new()
            }
        );
        match self.templar.eval_expr(&expr, &v).map_err(|d| d.message)? {
            Value::Array(a) => Ok(a),
            other => Ok(vec![other]),
        }
    }

    /// Runs the action with `until`, then `changed_when`/`failed_when`.
    #[allow(clippy::too_many_arguments)]
    async fn execute(
        self: &Arc<Self>,
        run: &PlayRun<'_>,
        task: &Task,
        inherit: &Inherit,
        host: &str,
        vars: &Vars,
        delegate: Option<&str>,
        title: &str,
    ) -> Map<String, Value> {
        let until = task.keywords.get("until").cloned();
        let retries: u32 = match &until {
            None => 1,
            Some(_) => match task
                .keywords
                .get("retries")
                .and_then(|v| self.templar.render_value(v, vars).ok())
                .and_then(|v| py_str(&v).trim().parse::<i64>().ok())
            {
                // ansible-core: the first attempt and 3 retries.
                None => 4,
                Some(n) if n <= 0 => 1,
                Some(n) => (n + 1) as u32,
            },
        };
        let delay = task
            .keywords
            .get("delay")
            .and_then(|v| self.templar.render_value(v, vars).ok())
            .and_then(|v| py_str(&v).trim().parse::<f64>().ok())
            .unwrap_or(5.0);
        let mut attempt = 1;
        loop {
            let mut r = self
                .execute_once(run, task, inherit, host, vars, delegate)
                .await;
            if flag(&r, "unreachable") {
                return r;
            }
            // As ansible-core: `failed` from `rc` when the action did not
            // say, and `changed` false, before the conditions see them.
            if !r.contains_key("failed") {
                let rc_failed = r
                    .get("rc")
                    .is_some_and(|rc| rc.as_i64() != Some(0) && rc.as_str() != Some("0"));
                r.insert("failed".into(), Value::Bool(rc_failed));
            }
            r.entry("changed").or_insert(Value::Bool(false));
            let mut v = vars.clone();
            if let Some(reg) = &task.register {
                v.vars.insert(reg.clone(), Value::Object(r.clone()));
            }
            if let Some(cw) = inherit.keyword(task, "changed_when") {
                let conds = as_conds(&cw);
                match self.templar.eval_conditions(&conds, &v) {
                    Ok(c) => {
                        r.insert("changed".into(), Value::Bool(c));
                    }
                    Err(d) => return failed(located(&d, task)),
                }
                if let Some(reg) = &task.register {
                    v.vars.insert(reg.clone(), Value::Object(r.clone()));
                }
            }
            if let Some(fw) = inherit.keyword(task, "failed_when") {
                let conds = as_conds(&fw);
                let module_failed = flag(&r, "failed");
                match self.templar.eval_conditions(&conds, &v) {
                    Ok(c) => {
                        r.insert("failed_when_result".into(), Value::Bool(c));
                        r.insert("failed".into(), Value::Bool(c));
                        if c && module_failed {
                            r.insert(MODULE_FAILED.into(), Value::Bool(true));
                        }
                    }
                    Err(d) => return failed(located(&d, task)),
                }
            }
            let Some(u) = &until else { return r };
            if let Some(reg) = &task.register {
                v.vars.insert(reg.clone(), Value::Object(r.clone()));
            }
            r.insert("attempts".into(), Value::from(attempt));
            let done = match self.templar.eval_conditions(&as_conds(u), &v) {
                Ok(b) => b,
                Err(d) => return failed(located(&d, task)),
            };
            if done {
                return r;
            }
            if attempt >= retries {
                // ansible-core registers one attempt fewer than it made.
                r.insert("attempts".into(), Value::from(retries - 1));
                r.insert("failed".into(), Value::Bool(true));
                return r;
            }
            self.event(Event::Retrying {
                host: host.to_string(),
                title: title.to_string(),
                retries_left: retries - attempt,
            });
            if delay > 0.0 {
                tokio::time::sleep(Duration::from_secs_f64(delay)).await;
            }
            attempt += 1;
        }
    }

    /// ansible-core 2.19's message for a task argument that fails to
    /// render, naming the action and the argument.
    fn args_error(&self, task: &Task, vars: &Vars, d: &Diagnostic) -> String {
        let key = task
            .args
            .iter()
            .find(|(_, v)| self.templar.render_value(v, vars).is_err())
            .map(|(k, _)| k.as_str());
        let action = herd_modules::lookup(&task.action)
            .map(|i| i.fqcn())
            .unwrap_or_else(|| task.action.clone());
        match key {
            Some(k) => format!(
                "Task failed: Finalization of task args for '{action}' failed: \
                 Error while resolving value for '{k}': {}",
                d.message
            ),
            None => located(d, task),
        }
    }

    /// Runs the action once: an engine action or a module.
    async fn execute_once(
        self: &Arc<Self>,
        run: &PlayRun<'_>,
        task: &Task,
        inherit: &Inherit,
        host: &str,
        vars: &Vars,
        delegate: Option<&str>,
    ) -> Map<String, Value> {
        let args = match self
            .templar
            .render_value(&Value::Object(task.args.clone()), vars)
        {
            Ok(Value::Object(m)) => drop_omit(m),
            Ok(_) => Map::new(),
            Err(d) => return failed(self.args_error(task, vars, &d)),
        };
        let check_mode = inherit
            .keyword(task, "check_mode")
            .and_then(|v| self.templar.render_value(&v, vars).ok())
            .map(|v| as_bool(&v))
            .unwrap_or(self.opts.check);
        let diff = inherit
            .keyword(task, "diff")
            .and_then(|v| self.templar.render_value(&v, vars).ok())
            .map(|v| as_bool(&v))
            .unwrap_or(self.opts.diff);
        if let Some(r) = self
            .run_async(
                run, task, inherit, host, vars, delegate, &args, check_mode, diff,
            )
            .await
        {
            return r;
        }
        match task.action.as_str() {
            "async_status" => {
                return self
                    .async_status(task, inherit, host, vars, delegate, &args)
                    .await
            }
            "reboot" => {
                return self
                    .reboot(task, inherit, host, vars, delegate, &args, check_mode)
                    .await
            }
            "wait_for_connection" => {
                return self
                    .wait_for_connection(task, inherit, host, vars, delegate, &args, check_mode)
                    .await
            }
            _ => {}
        }
        if let Some(r) = self.engine_action(run, task, host, &args, vars).await {
            return r;
        }
        let name = task.action.as_str();
        if name == "setup" || name == "gather_facts" {
            return self
                .gather(task, inherit, host, vars, delegate, &args)
                .await;
        }
        if let Some(path) = &task.module_path {
            return self
                .run_custom(
                    task, inherit, host, vars, delegate, &args, path, check_mode, diff,
                )
                .await;
        }
        let module = match herd_modules::registry::get(name)
            .or_else(|| herd_modules::registry::get(&task.action_fqcn))
        {
            Some(m) => m,
            None if name == "ping" => {
                return match self.host_for(task, inherit, host, vars, delegate).await {
                    Ok(h) => match h.exec("true", &ExecOptions::default()).await {
                        Ok(_) => {
                            let mut m = Map::new();
                            m.insert("ping".into(), Value::String("pong".into()));
                            m.insert("changed".into(), Value::Bool(false));
                            m
                        }
                        Err(e) => host_error(e),
                    },
                    Err(e) => host_error(e),
                }
            }
            None => {
                return failed(format!(
                    "module {} is not available in herd yet",
                    task.action_written
                ))
            }
        };
        if let Some(r) = command_check_skip(name, &args, check_mode) {
            return r;
        }
        let conn = match self.host_for(task, inherit, host, vars, delegate).await {
            Ok(h) => h,
            Err(e) => return host_error(e),
        };
        let env = self.environment(task, inherit, vars);
        let host_handle: Arc<dyn Host> = if env.is_empty() {
            conn
        } else {
            Arc::new(EnvHost { inner: conn, env })
        };
        let controller = TaskController::new(self.templar.clone(), vars.clone(), task, run);
        // The name Ansible's argument errors give the module: as the task
        // spelt it, or the module an action plugin of Ansible's runs.
        let mut args = args;
        let spelt = match name {
            "copy" | "template" => "ansible.legacy.copy".to_string(),
            "assemble" => "ansible.legacy.assemble".to_string(),
            "service" => "ansible.legacy.service".to_string(),
            "dnf" | "yum" => "ansible.legacy.dnf".to_string(),
            _ => task.action_written.clone(),
        };
        args.insert("_ansible_module_name".into(), Value::String(spelt));
        // A failure of `failed_when` or `until` prints the whole result;
        // a loop's results are read by index, which is not followed.
        let whole = self.results_shown
            || inherit.keyword(task, "failed_when").is_some()
            || task.keywords.get("until").is_some();
        // Looked for only when a module asks (see `demand.rs`).
        let register = task
            .register
            .as_deref()
            .filter(|_| !whole && task.loop_.is_none());
        let ask = || register.and_then(|name| self.demand_of(name));
        let demand: Option<&herd_modules::api::DemandOf> = register.map(|_| &ask as _);
        let ctx = ModuleContext {
            host: host_handle.as_ref(),
            controller: &controller,
            args: &args,
            check_mode,
            diff,
            result_seen: whole || task.register.is_some(),
            demand,
        };
        let timeout = inherit
            .keyword(task, "timeout")
            .and_then(|v| py_str(&v).trim().parse::<u64>().ok())
            .filter(|t| *t > 0);
        let out = match timeout {
            Some(t) => match tokio::time::timeout(Duration::from_secs(t), module.run(&ctx)).await {
                Ok(r) => r,
                Err(_) => {
                    // ansible-core 2.19 words a task timeout as a task
                    // failure.
                    let mut m = failed(format!("Task failed: Timed out after {t} second(s)."));
                    m.insert("changed".into(), Value::Bool(false));
                    m.insert("timedout".into(), serde_json::json!({"period": t}));
                    return m;
                }
            },
            None => module.run(&ctx).await,
        };
        match out {
            Ok(o) => outcome_result(&o),
            Err(e) => host_error(e),
        }
    }

    /// `environment:` of the task and what it inherits, rendered.
    pub(super) fn environment(
        &self,
        task: &Task,
        inherit: &Inherit,
        vars: &Vars,
    ) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = Vec::new();
        let mut layers: Vec<Value> = inherit
            .keywords
            .iter()
            .filter_map(|m| m.get("environment").cloned())
            .collect();
        if let Some(e) = task.keywords.get("environment") {
            layers.push(e.clone());
        }
        for layer in layers {
            let Ok(v) = self.templar.render_value(&layer, vars) else {
                continue;
            };
            let maps = match v {
                Value::Array(a) => a,
                other => vec![other],
            };
            for m in maps {
                if let Value::Object(m) = m {
                    for (k, v) in m {
                        out.retain(|(ok, _)| *ok != k);
                        out.push((k, py_str(&v)));
                    }
                }
            }
        }
        out
    }

    /// The connection a task uses on a host (or the host it delegates to).
    pub(crate) async fn host_for(
        self: &Arc<Self>,
        task: &Task,
        inherit: &Inherit,
        host: &str,
        vars: &Vars,
        delegate: Option<&str>,
    ) -> Result<Arc<dyn Host>, HostError> {
        let mut keywords: Vec<Map<String, Value>> = Vec::new();
        for m in inherit
            .keywords
            .iter()
            .chain(std::iter::once(&task.keywords.0))
        {
            let r = self
                .templar
                .render_value(&Value::Object(m.clone()), vars)
                .ok()
                .and_then(|v| match v {
                    Value::Object(m) => Some(m),
                    _ => None,
                })
                .unwrap_or_default();
            keywords.push(r);
        }
        let refs: Vec<&Map<String, Value>> = keywords.iter().collect();
        let delegated_vars;
        let (name, raw_vars) = match delegate {
            Some(d) if d != host => {
                let inv = self.inventory();
                let mut v = inv.host_vars(d, None).unwrap_or_default();
                v.extend(self.with_host(d, |st| st.set_facts.clone()));
                delegated_vars = Vars::new(v);
                (d.to_string(), &delegated_vars)
            }
            _ => (host.to_string(), vars),
        };
        let conn_vars =
            vars::connection_vars(&raw_vars.vars, |v| self.templar.render_value(v, raw_vars))
                .map_err(|d| HostError::failed(d.message))?;
        let mut settings =
            vars::connection_settings(&name, &self.opts.config, &self.opts.cli, &refs, &conn_vars);
        if settings.password.is_none() {
            settings.password = self.opts.password.clone();
        }
        if settings.become_password.is_none() {
            settings.become_password = self.opts.become_password.clone();
        }
        let conn = self.connect(&name, &settings).await;
        if self.opts.verbosity < 3 {
            return conn;
        }
        // -vvv: what is sent, as ansible-playbook shows it.
        let local = settings.connection == "local";
        let addr = if local || settings.host.is_empty() {
            name.clone()
        } else {
            settings.host.clone()
        };
        let user = if local {
            local_user()
        } else {
            settings
                .remote_user
                .clone()
                .unwrap_or_else(|| "None".into())
        };
        let kind = if local { "LOCAL" } else { "SSH" };
        self.event(Event::Verbose {
            host: addr.clone(),
            level: 3,
            message: format!("ESTABLISH {kind} CONNECTION FOR USER: {user}"),
        });
        let no_log = inherit.keyword(task, "no_log").is_some_and(|v| as_bool(&v));
        Ok(Arc::new(TracedHost {
            inner: conn?,
            runner: self.clone(),
            addr,
            prefix: if local { "" } else { "SSH: " },
            become_: crate::connection::become_::Become::from_settings(&settings),
            no_log,
        }))
    }

    /// Runs `meta:` as ansible-core's linear strategy does: once per host
    /// (with its own task header each time), except the actions that act
    /// on the whole play (`end_play`, `end_batch`, `clear_facts`,
    /// `clear_host_errors`, `refresh_inventory`), which run for the first
    /// host only. A host whose `when` is false gets `skipping: [host]`,
    /// not counted in the recap.
    async fn run_meta(
        self: &Arc<Self>,
        run: &PlayRun<'_>,
        task: &Task,
        hosts: Vec<String>,
        inherit: &Inherit,
    ) {
        let what = task.args.get("_raw_params").map(py_str).unwrap_or_default();
        let what = what.trim();
        let mut conds = inherit.when.clone();
        conds.extend(task.when.iter().cloned());
        let per_host = matches!(
            what,
            "noop"
                | "reset_connection"
                | "end_host"
                | "role_complete"
                | "flush_handlers"
                | "end_role"
        );
        let takes_when = !matches!(what, "noop" | "refresh_inventory" | "reset_connection");
        let targets: Vec<String> = if per_host {
            hosts.clone()
        } else {
            hosts.iter().take(1).cloned().collect()
        };
        let t = title(task, None, self);
        let mut selected: Vec<String> = Vec::new();
        for h in &targets {
            if task.is_handler {
                self.event(Event::HandlerStart {
                    title: t.clone(),
                    action: task.action_written.clone(),
                });
            } else {
                self.event(Event::TaskStart {
                    title: t.clone(),
                    is_handler: false,
                    check_mode: self.opts.check,
                    action: task.action_written.clone(),
                });
            }
            if !takes_when && !task.when.is_empty() {
                self.event(Event::Warning {
                    message: format!("{what} task does not support when conditional"),
                });
            }
            let holds = !takes_when
                || conds.is_empty()
                || self
                    .task_vars(run, task, inherit, h)
                    .ok()
                    .is_some_and(|v| matches!(self.eval_when(&conds, &v), Ok(None)));
            if holds {
                selected.push(h.clone());
                continue;
            }
            let reason = match what {
                "flush_handlers" => format!(", not running handlers for {h}"),
                "clear_facts" => format!(", not clearing facts and fact cache for {h}"),
                "clear_host_errors" => format!(", not clearing host error state for {h}"),
                "end_batch" => ", continuing current batch".to_string(),
                "end_play" => ", continuing play".to_string(),
                "end_host" => format!(", continuing execution for {h}"),
                _ => String::new(),
            };
            let msg = if what == "end_host" {
                format!("end_host conditional evaluated to false, continuing execution for {h}")
            } else {
                what.to_string()
            };
            let mut result = Map::new();
            result.insert("msg".into(), Value::String(msg));
            result.insert(
                "skip_reason".into(),
                Value::String(format!("{what} conditional evaluated to False{reason}")),
            );
            self.event(Event::MetaSkipped {
                host: h.clone(),
                result,
            });
        }
        match what {
            "flush_handlers" => self.flush_handlers(run, &selected).await,
            "end_play" if !selected.is_empty() => {
                run.aborted.store(true, Ordering::SeqCst);
                run.end_play.store(true, Ordering::SeqCst);
            }
            "end_batch" if !selected.is_empty() => {
                for h in &run.batch {
                    self.with_host(h, |st| st.ended = true);
                }
            }
            "end_host" => {
                for h in &selected {
                    self.with_host(h, |st| st.ended = true);
                }
            }
            "clear_facts" if !selected.is_empty() => {
                for h in &run.play_hosts {
                    self.with_host(h, |st| st.facts.clear());
                    self.fact_cache.delete(h);
                }
            }
            "clear_host_errors" if !selected.is_empty() => {
                for h in &run.batch {
                    self.with_host(h, |st| st.failed = false);
                }
            }
            "reset_connection" => {
                for h in &selected {
                    self.reset_connection(h).await;
                }
            }
            _ => {}
        }
    }

    /// `include_tasks` and `include_role`: evaluated per host (and loop
    /// item); hosts that include the same file run its tasks together.
    async fn run_include(
        self: &Arc<Self>,
        run: &PlayRun<'_>,
        task: &Task,
        hosts: Vec<String>,
        inherit: &Inherit,
    ) {
        let t = title(task, None, self);
        self.event(Event::TaskStart {
            title: t,
            is_handler: task.is_handler,
            check_mode: self.opts.check,
            action: task.action_written.clone(),
        });
        // (key, hosts, items, params per host, inherit extras)
        struct Group {
            key: String,
            hosts: Vec<String>,
            items: Vec<TaskItem>,
            params: HashMap<String, Map<String, Value>>,
            role_handlers: Vec<TaskItem>,
            role: Option<Arc<crate::playbook::RoleContext>>,
            /// The loop item's label, when the include loops.
            label: Option<String>,
        }
        let mut groups: Vec<Group> = Vec::new();
        let mut conds = inherit.when.clone();
        conds.extend(task.when.iter().cloned());
        let opts = LoadOptions {
            roles_path: self.opts.roles_path.clone(),
            library: self.opts.config.library.clone(),
            extra_vars: self.opts.extra_vars.clone(),
            render: None,
        };
        for h in &hosts {
            let vars = match self.task_vars(run, task, inherit, h) {
                Ok(v) => v,
                Err(d) => {
                    self.report(
                        run,
                        task,
                        inherit,
                        h,
                        failed(located(&d, task)),
                        None,
                        false,
                        None,
                    );
                    continue;
                }
            };
            let items: Vec<Option<Value>> = match &task.loop_ {
                None => vec![None],
                Some(lp) => match self.loop_items(task, lp, &vars) {
                    Ok(i) => i.into_iter().map(Some).collect(),
                    Err(m) => {
                        self.report(run, task, inherit, h, failed(m), None, false, None);
                        continue;
                    }
                },
            };
            let loop_var = task
                .loop_control
                .as_ref()
                .and_then(|l| l.loop_var.clone())
                .unwrap_or_else(|| "item".into());
            // The include's own result on this host, per item, for the
            // JSON document (the human output shows `included:` lines).
            let mut include_results: Vec<Map<String, Value>> = Vec::new();
            for (i, item) in items.iter().cloned().enumerate() {
                let mut iv = vars.clone();
                let mut params = Map::new();
                if let Some(it) = &item {
                    iv.vars.insert(loop_var.clone(), it.clone());
                    params.insert(loop_var.clone(), it.clone());
                }
                match self.eval_when(&conds, &iv) {
                    Ok(None) => {}
                    Ok(Some(c)) => {
                        if task.loop_.is_none() {
                            self.report(
                                run,
                                task,
                                inherit,
                                h,
                                skipped(Some(&c)),
                                None,
                                false,
                                None,
                            );
                        }
                        continue;
                    }
                    Err(d) => {
                        self.report(
                            run,
                            task,
                            inherit,
                            h,
                            failed(located(&d, task)),
                            None,
                            false,
                            None,
                        );
                        break;
                    }
                }
                let args = match self
                    .templar
                    .render_value(&Value::Object(task.args.clone()), &iv)
                {
                    Ok(Value::Object(m)) => drop_omit(m),
                    Ok(_) => Map::new(),
                    Err(d) => {
                        self.report(
                            run,
                            task,
                            inherit,
                            h,
                            failed(located(&d, task)),
                            None,
                            false,
                            None,
                        );
                        break;
                    }
                };
                let loaded = if task.action == "include_tasks" {
                    let file = args
                        .get("file")
                        .or_else(|| args.get("_raw_params"))
                        .map(py_str)
                        .unwrap_or_default();
                    for (k, v) in &args {
                        if k != "file" && k != "_raw_params" && k != "apply" {
                            params.insert(k.clone(), v.clone());
                        }
                    }
                    crate::playbook::load_included_tasks(task, &file, &run.play.basedir, &opts)
                        .map(|(p, items)| (p.display().to_string(), items, Vec::new(), None))
                } else {
                    let mut t2 = task.clone();
                    t2.args = args.clone();
                    crate::playbook::load_included_role(&t2, &run.play.basedir, &opts).map(|r| {
                        let key = format!("role:{}", r.context.path.display());
                        let handlers = r.handlers.clone();
                        let ctx = r.context.clone();
                        let items: Vec<TaskItem> = super::role_block(&r).into_iter().collect();
                        (key, items, handlers, Some(ctx))
                    })
                };
                match loaded {
                    Ok((key, items, handlers, role)) => {
                        let mut r = Map::new();
                        let mut include_args = args.clone();
                        if task.action == "include_tasks" {
                            let file = include_args
                                .remove("_raw_params")
                                .or_else(|| include_args.remove("file"))
                                .unwrap_or(Value::Null);
                            r.insert("include".into(), file);
                        }
                        r.insert("include_args".into(), Value::Object(include_args));
                        if let Some(it) = &item {
                            r.insert("_ansible_item_label".into(), Value::String(py_str(it)));
                            r.insert("_ansible_no_log".into(), Value::Bool(false));
                            r.insert("ansible_loop_var".into(), Value::String(loop_var.clone()));
                            r.insert(loop_var.clone(), it.clone());
                        }
                        include_results.push(r);
                        let key = format!("{key}#{i}");
                        match groups.iter_mut().find(|g| g.key == key) {
                            Some(g) => {
                                g.hosts.push(h.clone());
                                g.params.insert(h.clone(), params);
                            }
                            None => groups.push(Group {
                                key,
                                hosts: vec![h.clone()],
                                items,
                                params: HashMap::from([(h.clone(), params)]),
                                role_handlers: handlers,
                                role,
                                label: item.as_ref().map(py_str),
                            }),
                        }
                    }
                    Err(d) => {
                        let msg = match &d.loc {
                            Some(l) => format!(
                                "{}. The error appears to be in '{}': line {}, column {}",
                                d.message, l.file, l.line, l.col
                            ),
                            None => located(&d, task),
                        };
                        let what = args
                            .get("file")
                            .or_else(|| args.get("_raw_params"))
                            .or_else(|| args.get("name"))
                            .map(py_str)
                            .unwrap_or_default();
                        let r = include_failed(&what, msg);
                        self.report(run, task, inherit, h, r, None, false, None);
                        break;
                    }
                }
            }
            if !include_results.is_empty() {
                let mut result = if task.loop_.is_none() {
                    include_results.remove(0)
                } else {
                    let mut m = Map::new();
                    m.insert("msg".into(), Value::String("All items completed".into()));
                    m.insert(
                        "results".into(),
                        Value::Array(include_results.into_iter().map(Value::Object).collect()),
                    );
                    m
                };
                result.insert("changed".into(), Value::Bool(false));
                self.event(Event::IncludeResult {
                    host: h.clone(),
                    result,
                });
            }
        }
        for g in &groups {
            // `included: FILE for h1, h2`: ok for each host.
            let file = g.key.rsplit_once('#').map(|(k, _)| k).unwrap_or(&g.key);
            let file = file.strip_prefix("role:").unwrap_or(file).to_string();
            for h in &g.hosts {
                self.with_host(h, |st| st.stats.ok += 1);
            }
            self.event(Event::Included {
                file,
                hosts: g.hosts.clone(),
                item: g.label.clone(),
            });
        }
        for g in groups {
            if !g.role_handlers.is_empty() {
                // The handlers see the include's vars and params, as the
                // role's tasks do (ansible-core runs them with the include
                // as their parent).
                let inh = Inherit {
                    role: g.role.clone(),
                    block_vars: if task.vars.is_empty() {
                        Vec::new()
                    } else {
                        vec![task.vars.clone()]
                    },
                    host_params: Arc::new(g.params.clone()),
                    ..Inherit::default()
                };
                if let Ok(mut hs) = run.handlers.lock() {
                    let mut extra = Vec::new();
                    super::collect_handlers(&g.role_handlers, &inh, &mut extra);
                    for e in extra {
                        if !hs.iter().any(|x| x.task.loc == e.task.loc) {
                            hs.push(e);
                        }
                    }
                }
            }
            let mut inh = inherit.clone();
            inh.tags.extend(task.tags.iter().cloned());
            inh.when.extend(task.when.iter().cloned());
            if !task.vars.is_empty() {
                inh.block_vars.push(task.vars.clone());
            }
            inh.keywords.push(task.keywords.0.clone());
            if let Some(apply) = &task.apply {
                inh = inh.enter_block(apply);
            }
            // Conditions of the include were evaluated above; the included
            // tasks do not evaluate them again.
            inh.when = inherit.when.clone();
            inh.host_params = Arc::new(g.params);
            self.walk(run, &g.items, g.hosts, inh).await;
        }
    }
}

fn as_conds(v: &Value) -> Vec<Value> {
    match v {
        Value::Array(a) => a.clone(),
        other => vec![other.clone()],
    }
}

/// Status of a result.
pub(crate) fn status_of(r: &Map<String, Value>) -> Status {
    if flag(r, "unreachable") {
        Status::Unreachable
    } else if flag(r, "failed") {
        Status::Failed
    } else if flag(r, "skipped") {
        Status::Skipped
    } else if flag(r, "changed") {
        Status::Changed
    } else {
        Status::Ok
    }
}

pub(crate) fn host_error(e: HostError) -> Map<String, Value> {
    let mut m = failed(e.message.clone());
    if e.unreachable {
        // ansible-core 2.19 words an unreachable host's message as the
        // task's failure.
        if !e.message.starts_with("Task failed: ") {
            m.insert(
                "msg".into(),
                Value::String(format!("Task failed: {}", e.message)),
            );
        }
        m.remove("failed");
        m.insert("unreachable".into(), Value::Bool(true));
        m.insert("changed".into(), Value::Bool(false));
    }
    m
}

/// Drops arguments whose value is the `omit` placeholder, at any depth of
/// dicts.
pub(crate) fn drop_omit(m: Map<String, Value>) -> Map<String, Value> {
    let token = crate::template::omit_token();
    m.into_iter()
        .filter(|(_, v)| v.as_str() != Some(token))
        .map(|(k, v)| match v {
            Value::Object(inner) => (k, Value::Object(drop_omit(inner))),
            other => (k, other),
        })
        .collect()
}

/// Whether ansible-core words a failure of `action` as "Module failed"
/// (a module run on the host) rather than "Action failed" (an action on
/// the controller: the engine's own actions, and `fetch`).
pub fn failure_is_module_failure(action: &str) -> bool {
    let short = action.rsplit('.').next().unwrap_or(action);
    (herd_modules::registry::get(short).is_some() && short != "fetch")
        || short == "async_status"
        || short == "setup"
}
