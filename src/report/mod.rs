//! Output: one stream of [`Event`]s, produced by the executor, feeds every
//! output (human, JSON, log file, recap).

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
    /// A task starts. `title` is `role : name` or the action.
    TaskStart {
        title: String,
        is_handler: bool,
        check_mode: bool,
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
    /// A host's failure in a `block:` was handled by its `rescue:`
    /// (counted as `rescued` in the recap).
    Rescued { host: String },
    /// A handler is about to run (`RUNNING HANDLER [title]`); its results
    /// follow as `HostResult`s.
    HandlerStart { title: String },
    /// `until` is retrying: `FAILED - RETRYING: [host]: title (N retries left).`
    Retrying {
        host: String,
        title: String,
        retries_left: u32,
    },
    /// A warning to show as `[WARNING]: …`.
    Warning { message: String },
    /// A unified diff for `--diff`.
    Diff { host: String, text: String },
    /// The run ended; the recap follows from the results seen.
    PlaybookEnd,
}

/// Receives the events of a run.
pub trait Sink: Send {
    fn event(&mut self, event: &Event);
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
