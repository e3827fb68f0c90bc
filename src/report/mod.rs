//! Output: one stream of [`Event`]s, produced by the executor, feeds every
//! output (human, JSON, log file, recap).
//!
//! Results may carry Ansible's internal keys, which the outputs honour and
//! never show: `_ansible_verbose_always` (always print the result, as
//! `debug` and `assert` do), `_ansible_verbose_override` (never print it
//! with `-v`, as fact gathering), `_ansible_no_log`,
//! `_ansible_delegated_vars.ansible_host` (shown as `[host -> other(addr)]`).
//! A loop's summarising result carries `results` (the item results), as
//! Ansible's does.

mod diff;
mod human;
mod json;
mod live;
mod recap;
mod settings;
mod yaml;

pub use diff::render_diff;
pub use human::{HumanSink, TaskTimes};
pub use json::JsonSink;
pub use live::LiveSink;
pub use recap::Recap;
pub use settings::{ResultFormat, Settings};

use herd_modules::api::Map;
use herd_modules::api::Value;

/// The status of one task (or loop item) on one host, as Ansible names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Status {
    Ok,
    Changed,
    Skipped,
    Failed,
    Unreachable,
}

/// Something that happened during a run.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// `playbook` started (path as given).
    PlaybookStart { path: String },
    /// A play (or one `serial` batch of it) starts.
    PlayStart { name: String, hosts: Vec<String> },
    /// No host matched the play's pattern.
    NoHostsMatched,
    /// Every host of the play failed or became unreachable before its end
    /// (`any_errors_fatal`, `max_fail_percentage`): `NO MORE HOSTS LEFT`.
    NoHostsRemaining,
    /// A task starts. `title` is `role : name` or the action.
    TaskStart {
        title: String,
        is_handler: bool,
        check_mode: bool,
        /// The module or action as written (`debug`, `ansible.builtin.copy`);
        /// `debug` results are shown trimmed to their message, and the JSON
        /// output records it. Empty when unknown.
        action: String,
    },
    /// A result for a host: one per task, or one per loop item with
    /// `item` set and then one summarising result for the loop.
    HostResult {
        host: String,
        /// The delegated-to host, shown as `[host -> other]`.
        delegated_to: Option<String>,
        status: Status,
        /// The result as Ansible registers it (`changed`, `msg`, `rc`, …),
        /// already censored when `no_log` is set.
        result: Map<String, Value>,
        /// The loop item label, for item results.
        item: Option<String>,
        /// A failure that `ignore_errors` turned into `...ignoring`.
        ignored: bool,
        /// The task had `no_log`.
        no_log: bool,
    },
    /// `include_tasks`/`include_role` read `file` for `hosts` (once per loop
    /// item, with its label): `included: FILE for h1, h2`. Counts as `ok`
    /// for each host; the include task itself sends no `HostResult`.
    Included {
        file: String,
        hosts: Vec<String>,
        item: Option<String>,
    },
    /// The result of an `include_tasks`/`include_role` task on a host (its
    /// `include`, `include_args`, or a loop's `results`), as ansible-core
    /// records it: for the JSON document only, the human output having
    /// shown `included:`.
    IncludeResult {
        host: String,
        result: Map<String, Value>,
    },
    /// A line shown from verbosity `level` on (`-vvv` is 3), about `host`:
    /// `<host> message`, as Ansible's connection plugins show what they
    /// send (`ESTABLISH SSH CONNECTION FOR USER: u`, `SSH: EXEC …`).
    Verbose {
        host: String,
        level: u8,
        message: String,
    },
    /// A task failed or could not reach its host: the error as
    /// ansible-core 2.19 reports it just before the `fatal:`/`failed:`
    /// line (`[ERROR]: Task failed: …`, `Origin: file:line:col` and the
    /// lines above it, as [`crate::diag::Diagnostic`] renders it). The same
    /// text is shown once per run.
    TaskError { host: String, text: String },
    /// A `meta` task whose `when` is false on a host: `skipping: [host]`
    /// (with `msg` and `skip_reason` at `-v`). Unlike a skipped task it
    /// is not counted in the recap, as in ansible-playbook.
    MetaSkipped {
        host: String,
        result: Map<String, Value>,
    },
    /// A host's failure in a `block:` was handled by its `rescue:`
    /// (counted as `rescued` in the recap).
    Rescued { host: String },
    /// A handler is about to run (`RUNNING HANDLER [title]`); its results
    /// follow as `HostResult`s.
    HandlerStart { title: String, action: String },
    /// `until` is retrying: `FAILED - RETRYING: [host]: title (N retries left).`
    Retrying {
        host: String,
        title: String,
        retries_left: u32,
    },
    /// The executor read an async job's file and it is still running:
    /// `ASYNC POLL on host: jid=J started=True finished=False`.
    AsyncPoll {
        host: String,
        jid: String,
        started: bool,
        finished: bool,
    },
    /// A polled async job ended: `ASYNC OK on host: jid=J`, or `ASYNC
    /// FAILED …` when it failed or ran out of time.
    AsyncEnd { host: String, jid: String, ok: bool },
    /// A warning to show as `[WARNING]: …`.
    Warning { message: String },
    /// A unified diff for `--diff`, as [`render_diff`] writes a module's
    /// `diff` result (`--- before: path` …); shown before the host's result.
    Diff { host: String, text: String },
    /// The run ended; the recap follows from the results seen.
    PlaybookEnd,
}

/// Receives the events of a run.
pub trait Sink: Send {
    fn event(&mut self, event: &Event);

    /// Whether this output shows a task's whole result when it succeeds
    /// (the JSON output, or the human one at `-v`), not only its status.
    /// Modules skip the host work whose only use is such detail when no
    /// output shows it and nothing registers it.
    fn shows_results(&self) -> bool {
        true
    }
}

/// The counters of the recap line of one host.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HostStats {
    pub ok: u32,
    pub changed: u32,
    pub unreachable: u32,
    pub failed: u32,
    pub skipped: u32,
    pub rescued: u32,
    pub ignored: u32,
}

/// The outputs of a run with its recap beside them, so the caller that
/// boxed the outputs still has the exit status at the end.
pub struct Output {
    pub sink: Box<dyn Sink>,
    pub recap: Recap,
}

impl Output {
    pub fn new(sink: Box<dyn Sink>) -> Output {
        Output {
            sink,
            recap: Recap::new(),
        }
    }

    /// ansible-playbook's exit status for what was seen (see
    /// [`Recap::exit_code`]).
    pub fn exit_code(&self) -> i32 {
        self.recap.exit_code()
    }
}

impl Sink for Output {
    fn event(&mut self, event: &Event) {
        self.recap.record(event);
        self.sink.event(event);
    }

    fn shows_results(&self) -> bool {
        self.sink.shows_results()
    }
}

/// Every sink of a run fed with the same events (screen and log file).
pub struct Tee(pub Vec<Box<dyn Sink>>);

impl Sink for Tee {
    fn event(&mut self, event: &Event) {
        for sink in &mut self.0 {
            sink.event(event);
        }
    }

    fn shows_results(&self) -> bool {
        self.0.iter().any(|s| s.shows_results())
    }
}

/// The outputs a run asks for: the human output (or, with
/// `stdout_callback = json`, the JSON document) on stdout, the live status
/// line on a terminal, and a copy without colours in `log_path`. `json`,
/// when given (`--format`), wins over `stdout_callback`.
pub fn sink_for(
    config: &crate::config::Config,
    json: Option<bool>,
    verbosity: u8,
) -> Box<dyn Sink> {
    let env: std::collections::HashMap<String, String> = std::env::vars().collect();
    let mut settings = Settings::from_config(config, &env);
    if let Some(json) = json {
        settings.json_callback = json;
    }
    sink_with(&settings, false, verbosity)
}

/// [`sink_for`] with the settings already read.
pub fn sink_with(settings: &Settings, json: bool, verbosity: u8) -> Box<dyn Sink> {
    use std::io::IsTerminal;
    let mut sinks: Vec<Box<dyn Sink>> = Vec::new();
    if json || settings.json_callback {
        sinks.push(Box::new(JsonSink::new(
            std::io::stdout(),
            settings.json_indent,
        )));
    } else {
        let human = HumanSink::new(
            std::io::stdout(),
            settings.color,
            verbosity,
            settings.clone(),
        )
        .with_stderr(Box::new(std::io::stderr()));
        if std::io::stdout().is_terminal() {
            sinks.push(Box::new(LiveSink::new(human)));
        } else {
            sinks.push(Box::new(human));
        }
    }
    if let Some(path) = &settings.log_path {
        match std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
        {
            Ok(file) => {
                let log = HumanSink::new(file, false, verbosity, settings.clone()).log_file();
                sinks.push(Box::new(log));
            }
            Err(e) => {
                // Ansible warns and carries on without the log.
                eprintln!(
                    "[WARNING]: log file at '{}' is not writeable and we cannot create it, aborting: {e}",
                    path.display()
                );
            }
        }
    }
    if sinks.len() == 1 {
        if let Some(only) = sinks.pop() {
            return only;
        }
    }
    Box::new(Tee(sinks))
}
