//! The human output: what ansible-playbook's default callback prints.

use std::collections::HashSet;
use std::io::Write;
use std::time::{Duration, Instant};

use herd_modules::api::{Map, Value};

use super::{Event, Recap, ResultFormat, Settings, Sink, Status};

/// The colours of Ansible's output (`COLOR_*` defaults).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Color {
    Ok,
    Changed,
    Skip,
    Error,
    Unreachable,
    Warn,
    Debug,
    DiffAdd,
    DiffRemove,
    DiffLines,
    Verbose,
}

impl Color {
    /// The SGR parameters Ansible writes (`green` is `0;32`).
    fn code(self) -> &'static str {
        match self {
            Color::Ok | Color::DiffAdd => "0;32",
            Color::Changed => "0;33",
            Color::Skip | Color::DiffLines => "0;36",
            Color::Error | Color::DiffRemove => "0;31",
            Color::Unreachable => "1;31",
            Color::Warn => "1;35",
            Color::Debug => "1;30",
            Color::Verbose => "0;34",
        }
    }
}

/// `text` in colour, each line on its own as Ansible colours it.
pub(crate) fn paint(text: &str, color: Color, on: bool) -> String {
    if !on {
        return text.to_string();
    }
    text.split('\n')
        .map(|line| format!("\x1b[{}m{line}\x1b[0m", color.code()))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Actions whose results are trimmed to their message, as Ansible's
/// callbacks trim `debug` results.
const DEBUG_ACTIONS: &[&str] = &["debug", "ansible.builtin.debug", "ansible.legacy.debug"];

/// Keys a `debug` result without `msg` does not show.
const HIDE_IN_DEBUG: &[&str] = &[
    "changed",
    "failed",
    "skipped",
    "invocation",
    "skip_reason",
    "ansible_loop_var",
    "ansible_index_var",
    "ansible_loop",
];

/// The wall-clock time of each task, for the `-v` summary.
#[derive(Clone, Debug, Default)]
pub struct TaskTimes {
    /// (title, duration), in run order.
    pub tasks: Vec<(String, Duration)>,
}

impl TaskTimes {
    /// The slowest tasks (at most 20), as `profile_tasks` lists them:
    /// a line of `=`, then `title ---- 1.23s` filling 79 columns.
    pub fn summary(&self) -> String {
        let mut sorted: Vec<&(String, Duration)> = self.tasks.iter().collect();
        sorted.sort_by_key(|t| std::cmp::Reverse(t.1));
        let mut out = format!("{}\n", "=".repeat(79));
        for (title, d) in sorted.into_iter().take(20) {
            let name = format!("{title} ");
            let secs = format!(" {:.2}s", d.as_secs_f64());
            out.push_str(&format!("{name:-<70}{secs:->9}\n"));
        }
        out
    }
}

struct TaskState {
    title: String,
    prefix: &'static str,
    check_mode: bool,
    action: String,
    banner_shown: bool,
    /// Hosts that reported loop items in this task.
    looped: HashSet<String>,
    started: Instant,
}

/// Writes the default callback's output to `out`.
pub struct HumanSink<W: Write> {
    out: W,
    /// Warnings go here when set (stderr on a terminal), else to `out`.
    err: Option<Box<dyn Write + Send>>,
    color: bool,
    verbosity: u8,
    settings: Settings,
    /// Log-file lines: no colours, a time and process prefix, no
    /// screen-only lines.
    log: bool,
    recap: Recap,
    task: Option<TaskState>,
    times: TaskTimes,
    /// Task errors already shown: Ansible shows each text once.
    errors_shown: HashSet<String>,
}

impl<W: Write + Send> HumanSink<W> {
    pub fn new(out: W, color: bool, verbosity: u8, settings: Settings) -> HumanSink<W> {
        HumanSink {
            out,
            err: None,
            color,
            verbosity,
            settings,
            log: false,
            recap: Recap::new(),
            task: None,
            times: TaskTimes::default(),
            errors_shown: HashSet::new(),
        }
    }

    /// Sends warnings to `err` rather than the main output.
    pub fn with_stderr(mut self, err: Box<dyn Write + Send>) -> HumanSink<W> {
        self.err = Some(err);
        self
    }

    /// Writes as Ansible's log file does: `date p=PID u=USER n=ansible | `
    /// before each message, no colours.
    pub fn log_file(mut self) -> HumanSink<W> {
        self.log = true;
        self.color = false;
        self
    }

    /// The counters so far.
    pub fn recap(&self) -> &Recap {
        &self.recap
    }

    /// The task times so far.
    pub fn times(&self) -> &TaskTimes {
        &self.times
    }

    /// The target, for tests that write into a buffer.
    pub fn into_inner(self) -> W {
        self.out
    }

    fn display(&mut self, msg: &str, color: Option<Color>) {
        self.display_to(msg, color, false);
    }

    /// Ansible's `Display.display`: the message in colour, a newline added
    /// unless it ends with one.
    fn display_to(&mut self, msg: &str, color: Option<Color>, stderr: bool) {
        let mut text = if self.log {
            format!("{}{}", log_prefix(), msg.trim_start_matches('\n'))
        } else {
            match color {
                Some(c) => paint(msg, c, self.color),
                None => msg.to_string(),
            }
        };
        if !text.ends_with('\n') {
            text.push('\n');
        }
        // Output errors (a closed pipe) must not stop the run.
        let target: &mut dyn Write = match (&mut self.err, stderr && !self.log) {
            (Some(err), true) => err.as_mut(),
            _ => &mut self.out,
        };
        let _ = target.write_all(text.as_bytes());
        let _ = target.flush();
    }

    /// A header line padded with stars to 80 columns.
    fn banner(&mut self, msg: &str) {
        let msg = msg.trim();
        // Columns as the terminal shows them (wide characters count two).
        let width = unicode_width::UnicodeWidthStr::width(msg);
        let stars = 79usize.saturating_sub(width).max(3);
        let line = format!("\n{msg} {}", "*".repeat(stars));
        self.display(&line, None);
    }

    fn end_task(&mut self) {
        if let Some(t) = self.task.take() {
            self.times.tasks.push((t.title, t.started.elapsed()));
        }
    }

    fn task_banner(&mut self) {
        let Some(t) = &self.task else { return };
        if t.banner_shown {
            return;
        }
        let check = if t.check_mode && self.settings.check_mode_markers {
            " [CHECK MODE]"
        } else {
            ""
        };
        let line = format!("{} [{}]{check}", t.prefix, t.title.trim());
        if let Some(t) = &mut self.task {
            t.banner_shown = true;
        }
        self.banner(&line);
    }

    fn start_task(&mut self, title: &str, prefix: &'static str, check_mode: bool, action: &str) {
        self.end_task();
        self.task = Some(TaskState {
            title: title.to_string(),
            prefix,
            check_mode,
            action: action.to_string(),
            banner_shown: false,
            looped: HashSet::new(),
            started: Instant::now(),
        });
        if self.settings.display_skipped_hosts && self.settings.display_ok_hosts {
            self.task_banner();
        }
    }

    fn action(&self) -> &str {
        self.task.as_ref().map_or("", |t| t.action.as_str())
    }

    fn verbose(&self, result: &Map<String, Value>) -> bool {
        (self.verbosity > 0 || result.get("_ansible_verbose_always") == Some(&Value::Bool(true)))
            && result.get("_ansible_verbose_override") != Some(&Value::Bool(true))
    }

    /// `_dump_results`: the result without internal keys, as JSON or YAML.
    fn dump(&self, result: &Map<String, Value>) -> String {
        let yaml = self.settings.result_format == ResultFormat::Yaml;
        let indent = (result.get("_ansible_verbose_always") == Some(&Value::Bool(true))
            || yaml
            || self.verbosity > 2)
            .then_some(4);
        let mut r = result.clone();
        strip_internal_keys(&mut r);
        if self.verbosity < 3 {
            r.remove("invocation");
            r.remove("diff");
        }
        for k in ["exception", "warnings", "deprecations"] {
            r.remove(k);
        }
        if yaml {
            // Ansible's lossy YAML leaves out the line lists.
            for (text, lines) in [("stdout", "stdout_lines"), ("stderr", "stderr_lines")] {
                if r.contains_key(text) && r.contains_key(lines) {
                    r.insert(lines.into(), Value::String("<omitted>".into()));
                }
            }
            let body = super::yaml::dump(&Value::Object(r));
            let indented: String = body
                .split_inclusive('\n')
                .map(|l| {
                    if l.trim().is_empty() {
                        l.to_string()
                    } else {
                        format!("    {l}")
                    }
                })
                .collect();
            return format!("\n{indented}");
        }
        crate::value::python_json(&Value::Object(r), indent, true, false)
    }

    /// `_clean_results`: a `debug` result shows its message only.
    fn clean(&self, result: &mut Map<String, Value>) {
        if !DEBUG_ACTIONS.contains(&self.action()) {
            return;
        }
        if result.contains_key("msg") {
            result.retain(|k, _| {
                matches!(
                    k.as_str(),
                    "msg" | "exception" | "warnings" | "deprecations"
                ) || k.starts_with('_')
            });
        } else {
            for k in HIDE_IN_DEBUG {
                result.remove(*k);
            }
        }
    }

    fn warnings(&mut self, result: &Map<String, Value>) {
        if let Some(Value::Array(ws)) = result.get("warnings") {
            let ws: Vec<String> = ws
                .iter()
                .map(|w| match w {
                    Value::String(s) => s.clone(),
                    other => crate::value::to_json_string(other),
                })
                .collect();
            for w in ws {
                self.warning(&w);
            }
        }
    }

    fn warning(&mut self, message: &str) {
        self.display_to(&format!("[WARNING]: {message}"), Some(Color::Warn), true);
    }

    #[allow(clippy::too_many_arguments)]
    fn host_result(
        &mut self,
        host: &str,
        delegated_to: Option<&str>,
        status: Status,
        result: &Map<String, Value>,
        item: Option<&str>,
        ignored: bool,
        no_log: bool,
    ) {
        let label = host_label(host, delegated_to, result);
        let mut r = result.clone();
        // The status is the event's; Ansible leaves these keys out of what
        // callbacks see.
        r.remove("failed");
        r.remove("skipped");
        let changed = status == Status::Changed || r.get("changed") == Some(&Value::Bool(true));
        if let Some(item) = item {
            if let Some(t) = &mut self.task {
                t.looped.insert(host.to_string());
            }
            let item = if no_log || r.get("_ansible_no_log") == Some(&Value::Bool(true)) {
                "(censored due to no_log)".to_string()
            } else {
                item.to_string()
            };
            match status {
                Status::Ok | Status::Changed => {
                    if !changed && !self.settings.display_ok_hosts {
                        return;
                    }
                    self.task_banner();
                    self.warnings(&r);
                    let (word, color) = if changed {
                        ("changed", Color::Changed)
                    } else {
                        ("ok", Color::Ok)
                    };
                    let mut msg = format!("{word}: [{label}] => (item={item})");
                    self.clean(&mut r);
                    if self.verbose(&r) {
                        msg.push_str(&format!(" => {}", self.dump(&r)));
                    }
                    self.display(&msg, Some(color));
                }
                Status::Failed | Status::Unreachable => {
                    self.task_banner();
                    self.warnings(&r);
                    self.clean(&mut r);
                    let msg = format!("failed: [{label}] (item={item}) => {}", self.dump(&r));
                    let to_err = self.settings.display_failed_stderr;
                    self.display_to(&msg, Some(Color::Error), to_err);
                }
                Status::Skipped => {
                    if !self.settings.display_skipped_hosts {
                        return;
                    }
                    self.task_banner();
                    self.warnings(&r);
                    self.clean(&mut r);
                    // Ansible leaves a space at the end of this one.
                    let mut msg = format!("skipping: [{host}] => (item={item}) ");
                    if self.verbose(&r) {
                        msg.push_str(&format!(" => {}", self.dump(&r)));
                    }
                    self.display(&msg, Some(Color::Skip));
                }
            }
            return;
        }
        // A loop's own result follows its items (a loop over nothing has
        // only the skipped result, with empty `results`).
        let is_loop = self.task.as_ref().is_some_and(|t| t.looped.contains(host))
            || (status == Status::Skipped && matches!(r.get("results"), Some(Value::Array(_))));
        if is_loop {
            // The items were shown; the loop's own result is not.
            r.remove("results");
        }
        match status {
            Status::Ok | Status::Changed => {
                if !changed && !self.settings.display_ok_hosts {
                    return;
                }
                self.task_banner();
                self.warnings(&r);
                if is_loop {
                    return;
                }
                let (word, color) = if changed {
                    ("changed", Color::Changed)
                } else {
                    ("ok", Color::Ok)
                };
                let mut msg = format!("{word}: [{label}]");
                self.clean(&mut r);
                if self.verbose(&r) {
                    msg.push_str(&format!(" => {}", self.dump(&r)));
                }
                self.display(&msg, Some(color));
            }
            Status::Failed => {
                self.task_banner();
                self.warnings(&r);
                self.clean(&mut r);
                if !is_loop {
                    let msg = format!("fatal: [{label}]: FAILED! => {}", self.dump(&r));
                    let to_err = self.settings.display_failed_stderr;
                    self.display_to(&msg, Some(Color::Error), to_err);
                }
                if ignored {
                    self.display("...ignoring", Some(Color::Skip));
                }
            }
            Status::Unreachable => {
                self.task_banner();
                self.warnings(&r);
                let msg = format!("fatal: [{label}]: UNREACHABLE! => {}", self.dump(&r));
                let to_err = self.settings.display_failed_stderr;
                self.display_to(&msg, Some(Color::Unreachable), to_err);
                if ignored {
                    self.display("...ignoring", Some(Color::Skip));
                }
            }
            Status::Skipped => {
                if !self.settings.display_skipped_hosts {
                    return;
                }
                self.clean(&mut r);
                self.task_banner();
                self.warnings(&r);
                let mut msg = format!("skipping: [{host}]");
                if self.verbose(&r) {
                    msg.push_str(&format!(" => {}", self.dump(&r)));
                }
                self.display(&msg, Some(Color::Skip));
            }
        }
    }

    /// A diff as Ansible colours it: each `+`, `-` and `@@` line with its
    /// newline inside the colour.
    fn diff(&mut self, text: &str) {
        if text.is_empty() {
            return;
        }
        self.task_banner();
        let mut out = String::new();
        for line in text.split_inclusive('\n') {
            let color = if line.starts_with('+') {
                Some(Color::DiffAdd)
            } else if line.starts_with('-') {
                Some(Color::DiffRemove)
            } else if line.starts_with("@@") {
                Some(Color::DiffLines)
            } else {
                None
            };
            match color {
                Some(c) if self.color => out.push_str(&paint(line, c, true)),
                _ => out.push_str(line),
            }
        }
        self.display(&out, None);
    }

    fn play_recap(&mut self) {
        self.end_task();
        self.banner("PLAY RECAP");
        let lines = self.recap.lines(self.color);
        for line in lines.lines() {
            self.display(line, None);
        }
        if !self.log {
            self.display("", None);
        }
        if self.verbosity > 0 && !self.times.tasks.is_empty() {
            let summary = self.times.summary();
            self.display(summary.trim_end_matches('\n'), None);
        }
    }
}

impl<W: Write + Send> Sink for HumanSink<W> {
    /// A result is dumped at `-v`; at verbosity 0 only a failure's is,
    /// and a module's failure result is whole either way.
    fn shows_results(&self) -> bool {
        self.verbosity > 0
    }

    fn event(&mut self, event: &Event) {
        self.recap.record(event);
        match event {
            Event::PlaybookStart { path } => {
                if self.verbosity > 1 {
                    let base = std::path::Path::new(path)
                        .file_name()
                        .map_or(path.clone(), |n| n.to_string_lossy().into_owned());
                    self.banner(&format!("PLAYBOOK: {base}"));
                }
            }
            Event::PlayStart { name, .. } => {
                self.end_task();
                let name = name.trim();
                if name.is_empty() {
                    self.banner("PLAY");
                } else {
                    self.banner(&format!("PLAY [{name}]"));
                }
            }
            Event::NoHostsMatched => self.display("skipping: no hosts matched", Some(Color::Skip)),
            Event::NoHostsRemaining => self.banner("NO MORE HOSTS LEFT"),
            Event::TaskStart {
                title,
                is_handler,
                check_mode,
                action,
            } => {
                let prefix = if *is_handler {
                    "RUNNING HANDLER"
                } else {
                    "TASK"
                };
                self.start_task(title, prefix, *check_mode, action);
            }
            Event::HandlerStart { title, action } => {
                self.start_task(title, "RUNNING HANDLER", false, action)
            }
            Event::HostResult {
                host,
                delegated_to,
                status,
                result,
                item,
                ignored,
                no_log,
            } => self.host_result(
                host,
                delegated_to.as_deref(),
                *status,
                result,
                item.as_deref(),
                *ignored,
                *no_log,
            ),
            Event::Included { file, hosts, item } => {
                let mut msg = format!("included: {file} for {}", hosts.join(", "));
                if let Some(item) = item {
                    msg.push_str(&format!(" => (item={item})"));
                }
                self.display(&msg, Some(Color::Skip));
            }
            Event::Verbose {
                host,
                level,
                message,
            } => {
                if self.verbosity >= *level {
                    self.display(&format!("<{host}> {message}"), Some(Color::Verbose));
                }
            }
            Event::TaskError { text, .. } => {
                if self.errors_shown.insert(text.clone()) {
                    self.task_banner();
                    // A blank line separates it from the result line.
                    let to_err = self.settings.display_failed_stderr;
                    self.display_to(&format!("{text}\n\n"), Some(Color::Error), to_err);
                }
            }
            Event::MetaSkipped { host, result } => {
                self.host_result(host, None, Status::Skipped, result, None, false, false)
            }
            Event::Rescued { .. } | Event::IncludeResult { .. } => {}
            Event::Retrying {
                host,
                title,
                retries_left,
            } => {
                let msg =
                    format!("FAILED - RETRYING: [{host}]: {title} ({retries_left} retries left).");
                self.display(&msg, Some(Color::Debug));
            }
            Event::AsyncPoll {
                host,
                jid,
                started,
                finished,
            } => {
                let py = |b: &bool| if *b { "True" } else { "False" };
                let msg = format!(
                    "ASYNC POLL on {host}: jid={jid} started={} finished={}",
                    py(started),
                    py(finished)
                );
                self.task_banner();
                self.display(&msg, Some(Color::Debug));
            }
            Event::AsyncEnd { host, jid, ok } => {
                let word = if *ok { "OK" } else { "FAILED" };
                self.task_banner();
                self.display(
                    &format!("ASYNC {word} on {host}: jid={jid}"),
                    Some(Color::Debug),
                );
            }
            Event::Warning { message } => self.warning(message),
            Event::Diff { text, .. } => self.diff(text),
            Event::PlaybookEnd => self.play_recap(),
        }
    }
}

/// `[host -> delegate]`, with the delegate's address when it differs.
fn host_label(host: &str, delegated_to: Option<&str>, result: &Map<String, Value>) -> String {
    match delegated_to {
        Some(d) if d != host => {
            let addr = result
                .get("_ansible_delegated_vars")
                .and_then(|v| v.get("ansible_host"))
                .and_then(Value::as_str)
                .unwrap_or(d);
            if addr != d {
                format!("{host} -> {d}({addr})")
            } else {
                format!("{host} -> {d}")
            }
        }
        _ => host.to_string(),
    }
}

/// Ansible's `strip_internal_keys`: `_ansible_*` keys go, at every depth.
fn strip_internal_keys(m: &mut Map<String, Value>) {
    m.retain(|k, _| !k.starts_with("_ansible_"));
    for v in m.values_mut() {
        strip_value(v);
    }
}

fn strip_value(v: &mut Value) {
    match v {
        Value::Object(m) => strip_internal_keys(m),
        Value::Array(a) => a.iter_mut().for_each(strip_value),
        _ => {}
    }
}

/// The prefix Ansible's logger writes: `2026-01-02 03:04:05,678 p=PID
/// u=USER n=ansible | `, local time.
fn log_prefix() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs() as libc::time_t;
    // SAFETY: localtime_r only writes into the zeroed struct we own.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    let ok = unsafe { !libc::localtime_r(&secs, &mut tm).is_null() };
    let stamp = if ok {
        format!(
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02},{:03}",
            tm.tm_year + 1900,
            tm.tm_mon + 1,
            tm.tm_mday,
            tm.tm_hour,
            tm.tm_min,
            tm.tm_sec,
            now.subsec_millis()
        )
    } else {
        String::new()
    };
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_default();
    format!("{stamp} p={} u={user} n=ansible | ", std::process::id())
}
