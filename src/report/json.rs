//! The JSON output: one document at the end of the run, shaped as the
//! `ansible.posix.json` stdout callback writes it.

use std::io::Write;

use herd_modules::api::{Map, Value};
use serde_json::json;

use super::{Event, Recap, Sink, Status};

/// Collects the run and writes it as one JSON document at `PlaybookEnd`:
/// `{"custom_stats", "global_custom_stats", "plays": [{"play": {"name",
/// "id", "duration": {"start", "end"}}, "tasks": [{"task": {…}, "hosts":
/// {host: result}}]}], "stats": {host: {"ok", "changed", "failures", …}}}`.
pub struct JsonSink<W: Write> {
    out: W,
    indent: Option<usize>,
    plays: Vec<Value>,
    recap: Recap,
    /// The action of the current task, recorded in each result.
    action: String,
    /// Ids look like Ansible's: a per-run prefix and a counter.
    id_prefix: String,
    next_id: u64,
    /// A fixed clock for tests.
    clock: Option<String>,
}

impl<W: Write> JsonSink<W> {
    pub fn new(out: W, indent: Option<usize>) -> JsonSink<W> {
        let r: u64 = rand::random();
        JsonSink {
            out,
            indent,
            plays: Vec::new(),
            recap: Recap::new(),
            action: String::new(),
            id_prefix: format!(
                "{:08x}-{:04x}-{:04x}-{:04x}-",
                (r >> 32) as u32,
                (r >> 16) as u16,
                r as u16,
                (r >> 48) as u16
            ),
            next_id: 0,
            clock: None,
        }
    }

    /// Every time stamp and id made fixed, so output can be compared.
    pub fn with_fixed_clock(mut self, stamp: &str) -> JsonSink<W> {
        self.clock = Some(stamp.to_string());
        self.id_prefix = "00000000-0000-0000-0000-".into();
        self
    }

    pub fn recap(&self) -> &Recap {
        &self.recap
    }

    pub fn into_inner(self) -> W {
        self.out
    }

    fn now(&self) -> String {
        self.clock.clone().unwrap_or_else(utc_now)
    }

    fn id(&mut self) -> String {
        self.next_id += 1;
        format!("{}{:012}", self.id_prefix, self.next_id)
    }

    fn new_task(&mut self, name: &str, action: &str) {
        self.action = action.to_string();
        let id = self.id();
        let start = self.now();
        if self.plays.is_empty() {
            self.new_play("");
        }
        if let Some(Value::Array(tasks)) = self.plays.last_mut().and_then(|p| p.get_mut("tasks")) {
            tasks.push(json!({
                "task": {"name": name, "id": id, "duration": {"start": start}},
                "hosts": {},
            }));
        }
    }

    fn new_play(&mut self, name: &str) {
        let id = self.id();
        let start = self.now();
        self.plays.push(json!({
            "play": {"name": name, "id": id, "duration": {"start": start}},
            "tasks": [],
        }));
    }

    fn record(
        &mut self,
        host: &str,
        status: Status,
        result: &Map<String, Value>,
        no_log: Option<bool>,
    ) {
        let mut r = result.clone();
        // As Ansible's callbacks see a result: the status keys come from
        // the event.
        r.remove("failed");
        r.remove("skipped");
        match status {
            Status::Failed => {
                r.insert("failed".into(), Value::Bool(true));
            }
            Status::Skipped => {
                r.insert("skipped".into(), Value::Bool(true));
            }
            _ => {}
        }
        if !self.action.is_empty() {
            r.insert("action".into(), Value::String(self.action.clone()));
        }
        // Every result says whether it was censored, except a loop's
        // summary, which carries it in each item (and on itself only when
        // an item was censored), as ansible-core's results do.
        let is_loop = r
            .get("results")
            .and_then(Value::as_array)
            .is_some_and(|items| !items.is_empty());
        // (A skipped meta task's result, made by the strategy, has none.)
        if let Some(no_log) = no_log {
            if !is_loop || no_log {
                r.entry("_ansible_no_log").or_insert(Value::Bool(no_log));
            }
        }
        let end = self.now();
        let Some(play) = self.plays.last_mut() else {
            return;
        };
        if let Some(task) = play
            .get_mut("tasks")
            .and_then(Value::as_array_mut)
            .and_then(|t| t.last_mut())
        {
            if let Some(Value::Object(hosts)) = task.get_mut("hosts") {
                hosts.insert(host.to_string(), Value::Object(r));
            }
            if let Some(Value::Object(d)) = task.pointer_mut("/task/duration") {
                d.insert("end".into(), Value::String(end.clone()));
            }
        }
        if let Some(Value::Object(d)) = play.pointer_mut("/play/duration") {
            d.insert("end".into(), Value::String(end));
        }
    }

    fn finish(&mut self) {
        let mut stats = Map::new();
        for (host, s) in self.recap.hosts() {
            stats.insert(
                host.to_string(),
                json!({
                    "changed": s.changed, "failures": s.failed, "ignored": s.ignored,
                    "ok": s.ok, "rescued": s.rescued, "skipped": s.skipped,
                    "unreachable": s.unreachable,
                }),
            );
        }
        let doc = json!({
            "custom_stats": {},
            "global_custom_stats": {},
            "plays": self.plays,
            "stats": stats,
        });
        let text = crate::value::python_json(&doc, self.indent, true, true);
        let _ = writeln!(self.out, "{text}");
        let _ = self.out.flush();
    }
}

impl<W: Write + Send> Sink for JsonSink<W> {
    fn event(&mut self, event: &Event) {
        self.recap.record(event);
        match event {
            Event::PlayStart { name, .. } => self.new_play(name),
            Event::TaskStart { title, action, .. } | Event::HandlerStart { title, action } => {
                self.new_task(title, action)
            }
            // Only a task's own result is kept (a loop's holds its items).
            Event::HostResult {
                host,
                status,
                result,
                item: None,
                no_log,
                ..
            } => self.record(host, *status, result, Some(*no_log)),
            // A meta task skipped by its `when` has a result too (not
            // counted in the stats, as in ansible-playbook).
            Event::MetaSkipped { host, result } => self.record(host, Status::Skipped, result, None),
            Event::IncludeResult { host, result } => {
                // (ok, counted with the `included:` event)
                let no_log = (!result.contains_key("results")).then_some(false);
                self.record(host, Status::Ok, result, no_log)
            }
            Event::PlaybookEnd => self.finish(),
            _ => {}
        }
    }
}

/// UTC now as Python's `datetime.utcnow().isoformat()` plus `Z`.
fn utc_now() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs() as libc::time_t;
    // SAFETY: gmtime_r only writes into the zeroed struct we own.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    if unsafe { libc::gmtime_r(&secs, &mut tm) }.is_null() {
        return String::new();
    }
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
        tm.tm_year + 1900,
        tm.tm_mon + 1,
        tm.tm_mday,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec,
        now.subsec_micros()
    )
}
