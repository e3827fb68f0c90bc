//! `herd adhoc`: one module on the hosts a pattern selects, as `ansible`
//! runs it.

use std::sync::Arc;

use clap::Args;

use crate::config::Config;
use crate::diag::{Diagnostic, Result};
use crate::inventory::{Inventory, UnparsedPolicy};
use crate::template::Templar;

use herd_modules::api::{Map, Value};

use crate::report::{Event, Sink, Status};

use super::playbook::{run_to_end, RunFlags};

#[derive(Args, Debug, Default)]
pub struct AdhocArgs {
    /// Host pattern ('all', 'web:!web3', a host name)
    #[arg(value_name = "PATTERN")]
    pub pattern: String,

    /// Module to run
    #[arg(short = 'm', long = "module-name", default_value = "command")]
    pub module: String,

    /// The module's arguments: free-form text or key=value pairs (or
    /// YAML/JSON starting with '{')
    #[arg(short = 'a', long = "args", value_name = "MODULE_ARGS")]
    pub args: Option<String>,

    /// Inventory source (repeatable)
    #[arg(
        short = 'i',
        long = "inventory",
        visible_alias = "inventory-file",
        value_name = "SOURCE"
    )]
    pub inventory: Vec<String>,

    /// Further limit the selected hosts with a pattern
    #[arg(
        short = 'l',
        long = "limit",
        value_name = "SUBSET",
        overrides_with = "limit"
    )]
    pub limit: Option<String>,

    /// Extra variables: key=value pairs, YAML/JSON, or @file (repeatable)
    #[arg(short = 'e', long = "extra-vars", value_name = "VARS")]
    pub extra_vars: Vec<String>,

    /// Check mode
    #[arg(short = 'C', long = "check")]
    pub check: bool,

    /// Diff mode
    #[arg(short = 'D', long = "diff")]
    pub diff: bool,

    /// More output (-vvv for more)
    #[arg(short = 'v', long = "verbose", action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Condense output: one line per host
    #[arg(short = 'o', long = "one-line")]
    pub one_line: bool,

    /// Run asynchronously, failing after SECONDS (`async:`)
    #[arg(
        short = 'B',
        long = "background",
        value_name = "SECONDS",
        default_value_t = 0
    )]
    pub background: u64,

    /// With -B, check the job every POLL_INTERVAL seconds (`poll:`; 0
    /// returns at once)
    #[arg(
        short = 'P',
        long = "poll",
        value_name = "POLL_INTERVAL",
        default_value_t = 15
    )]
    pub poll: u64,

    /// Directories of custom modules, colon-separated (repeatable)
    #[arg(short = 'M', long = "module-path", value_name = "MODULE_PATH")]
    pub module_path: Vec<String>,

    #[command(flatten)]
    pub run: RunFlags,

    #[command(flatten)]
    pub vault: super::vault::VaultFlags,
}

pub fn run(args: &AdhocArgs) -> Result<i32> {
    let mut config = Config::load()?;
    super::playbook::prepend_library(&mut config, &args.module_path);
    args.vault.install(&config)?;
    let extra_vars = crate::vars::parse_extra_vars(&args.extra_vars, |t| {
        crate::playbook::parse_kv(t, false)
            .map_err(|_| Diagnostic::new(format!("could not parse the extra vars '{t}'")))
    })?;
    let sources = if args.inventory.is_empty() {
        config.inventory.clone()
    } else {
        args.inventory.clone()
    };
    let inventory = Inventory::load_with(&sources, &UnparsedPolicy::from_config(&config))?;
    let info = herd_modules::lookup(&args.module);
    let free_form = info.is_some_and(|i| i.free_form);
    let text = args.args.clone().unwrap_or_default();
    let module_args = if text.trim_start().starts_with('{') {
        match crate::yaml::load_str(&text, "<module args>")?.to_value() {
            serde_json::Value::Object(m) => m,
            _ => {
                return Err(Diagnostic::new("the module arguments must be a mapping")
                    .hint("-a 'key=value ...' or -a '{\"key\": \"value\"}'"))
            }
        }
    } else {
        crate::playbook::parse_kv(&text, free_form).map_err(|_| {
            Diagnostic::new(format!(
                "could not parse the module arguments '{text}': a quote is not closed"
            ))
        })?
    };
    if matches!(
        args.module.as_str(),
        "command" | "shell" | "ansible.builtin.command" | "ansible.builtin.shell"
    ) && !module_args.contains_key("_raw_params")
        && !module_args.contains_key("cmd")
        && !module_args.contains_key("argv")
    {
        return Err(
            Diagnostic::new(format!("No argument passed to {} module", args.module))
                .hint("give the command with -a, e.g. -a 'uptime'")
                .code(crate::diag::exit::BAD_OPTIONS),
        );
    }
    let mut opts = args.run.options(&config)?;
    opts.check = args.check;
    opts.diff = args.diff;
    opts.verbosity = args.verbose;
    opts.limit = args.limit.clone();
    opts.extra_vars = extra_vars;
    super::announce_config(&config, args.verbose);
    // `ansible` prints through its `minimal` callback (`oneline` with -o),
    // whatever stdout callback ansible.cfg names for playbooks.
    let sink: Box<dyn Sink> = Box::new(AdhocSink {
        one_line: args.one_line,
        verbosity: args.verbose,
        action: args.module.clone(),
        task_repr: shorten(
            &format!(
                "{{'action': {}, 'args': {}, 'timeout': 0, 'async_val': {}, 'poll': {}}}",
                py_repr(&Value::String(args.module.clone())),
                py_repr(&Value::Object(module_args.clone())),
                args.background,
                args.poll
            ),
            120,
        ),
        out: std::io::stdout(),
    });
    let (pattern, module, job) = (
        args.pattern.clone(),
        args.module.clone(),
        (args.background, args.poll),
    );
    let (result, fatal) = run_to_end(async move {
        crate::exec::run_adhoc(
            &pattern,
            &module,
            module_args,
            job,
            inventory,
            Arc::new(Templar::new()),
            opts,
            sink,
        )
        .await
    })?;
    if let Some(d) = fatal {
        super::report(&d);
    }
    Ok(result.exit_code)
}

/// Prints results as `ansible`'s `minimal` callback does (`oneline` with
/// `-o`): one block per host, no banners and no recap.
struct AdhocSink {
    one_line: bool,
    verbosity: u8,
    /// The module as given with -m, to know command-like results.
    action: String,
    /// The task as Python prints it, quoted under a failure's `[ERROR]`.
    task_repr: String,
    out: std::io::Stdout,
}

/// Modules whose results `ansible` prints as their output rather than as
/// JSON (`MODULE_NO_JSON`).
fn is_no_json(action: &str) -> bool {
    let short = action
        .strip_prefix("ansible.builtin.")
        .or_else(|| action.strip_prefix("ansible.legacy."))
        .unwrap_or(action);
    matches!(short, "command" | "shell" | "raw")
}

fn text<'a>(result: &'a Map<String, Value>, key: &str) -> &'a str {
    result.get(key).and_then(Value::as_str).unwrap_or("")
}

fn rc(result: &Map<String, Value>) -> String {
    match result.get("rc") {
        Some(v) => crate::value::python_json(v, None, false, false),
        None => "-1".to_string(),
    }
}

impl AdhocSink {
    /// The result as Ansible's `_dump_results` shows it: internal keys,
    /// `exception`, and (below -vvv) `invocation` and `diff` left out; keys
    /// sorted; `indent` 4, or 0 with the newlines removed for one line.
    fn dump(&self, result: &Map<String, Value>, no_log: bool) -> String {
        if no_log {
            let mut m = Map::new();
            m.insert(
                "censored".into(),
                Value::String(
                    "The output has been hidden due to the fact that 'no_log: true' was specified for this result".into(),
                ),
            );
            return crate::value::python_json(&Value::Object(m), None, false, false);
        }
        // `debug` shows only what it was asked to show (`_clean_results`).
        // `oneline` does not clean them.
        let debug = !self.one_line
            && matches!(
                self.action.as_str(),
                "debug" | "ansible.builtin.debug" | "ansible.legacy.debug"
            );
        let mut shown = Map::new();
        for (k, v) in result {
            if debug
                && matches!(
                    k.as_str(),
                    "changed" | "skipped" | "invocation" | "skip_reason"
                )
            {
                continue;
            }
            // ansible-core 2.19 shows the status in the caption, not as
            // a `failed` key.
            // Warnings go to stderr, as `[WARNING]:` lines, not in the JSON.
            if k.starts_with("_ansible_")
                || matches!(
                    k.as_str(),
                    "exception" | "failed" | "warnings" | "deprecations"
                )
            {
                continue;
            }
            if self.verbosity < 3 && (k == "invocation" || k == "diff") {
                continue;
            }
            shown.insert(k.clone(), v.clone());
        }
        let v = Value::Object(shown);
        if self.one_line {
            // Indent 0 is falsy in Python: results always shown (debug)
            // and -vvv fall back to indent 4, before the newlines go.
            let always = result
                .get("_ansible_verbose_always")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            let indent = if always || self.verbosity > 2 { 4 } else { 0 };
            crate::value::python_json(&v, Some(indent), true, false).replace('\n', "")
        } else {
            crate::value::python_json(&v, Some(4), true, false)
        }
    }

    /// The `[ERROR]` block ansible-core 2.19 prints before a failed or
    /// unreachable host's result: what failed, and the task it ran.
    fn error(&self, result: &Map<String, Value>, failed: bool) -> String {
        let source = if !failed {
            ""
        } else if crate::exec::failure_is_module_failure(&self.action) {
            "Module failed: "
        } else {
            "Action failed: "
        };
        format!(
            "[ERROR]: Task failed: {source}{}\nOrigin: <adhoc '{}' task>\n\n{}\n",
            text(result, "msg"),
            self.action,
            self.task_repr
        )
    }

    /// A command's result: its output rather than JSON.
    fn command(&self, host: &str, result: &Map<String, Value>, caption: &str) -> String {
        if self.one_line {
            let flat = |s: &str| s.replace('\n', "\\n").replace('\r', "\\r");
            let stdout = flat(text(result, "stdout"));
            let stderr = text(result, "stderr");
            if stderr.is_empty() {
                format!("{host} | {caption} | rc={} | (stdout) {stdout}", rc(result))
            } else {
                format!(
                    "{host} | {caption} | rc={} | (stdout) {stdout} (stderr) {}",
                    rc(result),
                    flat(stderr)
                )
            }
        } else {
            format!(
                "{host} | {caption} | rc={} >>\n{}{}{}",
                rc(result),
                text(result, "stdout"),
                text(result, "stderr"),
                text(result, "msg")
            )
        }
    }

    fn lines(
        &self,
        host: &str,
        status: Status,
        result: &Map<String, Value>,
        no_log: bool,
    ) -> Vec<String> {
        let no_json = is_no_json(&self.action) && !no_log;
        match status {
            Status::Ok | Status::Changed => {
                let state = if result.get("changed").and_then(Value::as_bool) == Some(true) {
                    "CHANGED"
                } else {
                    "SUCCESS"
                };
                if no_json && !result.contains_key("ansible_job_id") {
                    vec![self.command(host, result, state)]
                } else {
                    vec![format!("{host} | {state} => {}", self.dump(result, no_log))]
                }
            }
            Status::Failed => {
                let mut lines = Vec::new();
                if !self.one_line {
                    lines.push(self.error(result, true));
                }
                let command = no_json && !result.contains_key("module_stderr");
                let full = format!("{host} | FAILED! => {}", self.dump(result, no_log));
                if !self.one_line {
                    lines.push(if command {
                        self.command(host, result, "FAILED")
                    } else {
                        full
                    });
                    return lines;
                }
                // `oneline` shows a command's output, or a note about the
                // error, before the whole result.
                let first = if command {
                    self.command(host, result, "FAILED")
                } else {
                    "An exception occurred during task execution. To see the full traceback, use -vvv. The error was: (traceback unavailable)".to_string()
                };
                vec![first, full]
            }
            Status::Unreachable => {
                if self.one_line {
                    vec![format!("{host} | UNREACHABLE!: {}", text(result, "msg"))]
                } else {
                    vec![format!(
                        "{host} | UNREACHABLE! => {}",
                        self.dump(result, no_log)
                    )]
                }
            }
            Status::Skipped => vec![format!("{host} | SKIPPED")],
        }
    }
}

impl Sink for AdhocSink {
    fn event(&mut self, event: &Event) {
        use std::io::Write;
        match event {
            Event::HostResult {
                host,
                status,
                result,
                item: None,
                no_log,
                ..
            } => {
                if let Some(Value::Array(ws)) = result.get("warnings") {
                    for w in ws.iter().filter_map(Value::as_str) {
                        crate::diag::warn(w);
                    }
                }
                let mut out = self.out.lock();
                for line in self.lines(host, *status, result, *no_log) {
                    let _ = writeln!(out, "{line}");
                }
                let _ = out.flush();
            }
            Event::NoHostsMatched => crate::diag::warn("No hosts matched, nothing to do"),
            Event::Warning { message } => crate::diag::warn(message),
            Event::Diff { text, .. } => {
                let mut out = self.out.lock();
                let _ = write!(out, "{text}");
            }
            _ => {}
        }
    }
}

/// `repr()` of a value as Python writes it (`{'k': 'v', 'n': 1}`).
fn py_repr(v: &Value) -> String {
    match v {
        Value::Null => "None".into(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => {
            let quote = if s.contains('\'') && !s.contains('"') {
                '"'
            } else {
                '\''
            };
            let mut out = String::from(quote);
            for c in s.chars() {
                match c {
                    '\\' => out.push_str("\\\\"),
                    '\n' => out.push_str("\\n"),
                    '\r' => out.push_str("\\r"),
                    '\t' => out.push_str("\\t"),
                    c if c == quote => {
                        out.push('\\');
                        out.push(c);
                    }
                    c => out.push(c),
                }
            }
            out.push(quote);
            out
        }
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(py_repr).collect::<Vec<_>>().join(", ")
        ),
        Value::Object(m) => format!(
            "{{{}}}",
            m.iter()
                .map(|(k, v)| format!("{}: {}", py_repr(&Value::String(k.clone())), py_repr(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Python's `textwrap.shorten(text, width)`, with which ansible-core shows
/// a task that has no source file: runs of whitespace become one space,
/// and whole words are dropped from the end for ` [...]` until it fits.
fn shorten(text: &str, width: usize) -> String {
    const MORE: &str = " [...]";
    let words: Vec<&str> = text.split_whitespace().collect();
    let joined = words.join(" ");
    if joined.chars().count() <= width {
        return joined;
    }
    let mut kept = String::new();
    for w in words {
        let next = if kept.is_empty() {
            w.to_string()
        } else {
            format!("{kept} {w}")
        };
        if next.chars().count() + MORE.len() > width {
            break;
        }
        kept = next;
    }
    if kept.is_empty() {
        MORE.trim_start().to_string()
    } else {
        kept + MORE
    }
}

#[cfg(test)]
mod tests {
    use super::shorten;

    #[test]
    fn shortens_as_textwrap() {
        assert_eq!(shorten("a  b\n c", 120), "a b c");
        assert_eq!(shorten("hello world foo", 11), "hello [...]");
        assert_eq!(shorten("hello world", 11), "hello world");
        assert_eq!(shorten("abcdefghijkl", 5), "[...]");
    }
}
