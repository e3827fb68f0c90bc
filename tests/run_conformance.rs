//! Run conformance: every case directory under tests/run_conformance/ is
//! run by ansible-playbook (the oracle) and by `herd playbook`, each on
//! fresh per-host directories reached over a real loopback sshd, and the
//! two runs must agree on: the PLAY RECAP counters, the ordered per-host
//! task statuses (with loop items, retries, `...ignoring`), the printed
//! result values of `ok` results (debug `msg`/vars), the exit code, the
//! files left in every host's directory and in the controller-side
//! directory (`ctl`, given as an extra var), and the registered values:
//! per host and task, the results of the `ansible.posix.json` callback's
//! document (herd: `--format json`), normalised as
//! tests/run_conformance/README.md describes.
//!
//! A case directory holds `site.yml` and whatever it needs (roles,
//! templates, files, group_vars), and optionally:
//! - `hosts`: one line per host, `name [var=value ...]` (default h1, h2);
//! - `runs`: one line per run of the playbook (on the same directories),
//!   the extra command-line arguments, `-` for none (default one run);
//! - `converges`: the last run must change nothing under both tools;
//! - `seed/`: copied into every host directory before the first run;
//! - `known-differences`: `field: reason` lines naming compared fields
//!   (recap, tasks, values, exit, files) where herd is known to differ,
//!   and `json ACTION KEY: reason` lines naming a result key of one action
//!   (`*`: the whole result), each documented in
//!   tests/run_conformance/README.md. Such a mismatch is accepted, and it
//!   must still differ (so fixed differences get removed).
//!
//! Never skipped: missing ansible or sshd is a failure pointing at
//! scripts/test.sh.

mod common;
mod support;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use support::Sshd;

const FIELDS: &[&str] = &["exit", "recap", "tasks", "values", "files", "system"];

/// An extra (non-stdout) callback for ansible-playbook: the ansible.posix
/// collection's `json` callback itself, writing its document to the file
/// named by `HERD_CONFORMANCE_JSON` instead of the screen, so one run gives
/// both the default output and the JSON document. Its two options have no
/// documentation under this plugin's name, so they take the json
/// callback's defaults here (the harness sets neither).
const JSON_CALLBACK: &str = r#"
import os

from ansible_collections.ansible.posix.plugins.callback.json import CallbackModule as PosixJson


class _ToFile:
    def __init__(self, path):
        self.path = path

    def display(self, text, *args, **kwargs):
        with open(self.path, "w") as f:
            f.write(text + "\n")


class CallbackModule(PosixJson):
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "conformance_json"
    CALLBACK_NEEDS_ENABLED = True

    def get_option(self, k, hostvars=None):
        return {"json_indent": 4, "show_custom_stats": False}[k]

    def v2_playbook_on_stats(self, stats):
        screen = self._display
        self._display = _ToFile(os.environ["HERD_CONFORMANCE_JSON"])
        try:
            super().v2_playbook_on_stats(stats)
        finally:
            self._display = screen
"#;

fn case_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/run_conformance")
        .join(name)
}

/// One tool's view of a whole case.
#[derive(Default)]
struct Outcome {
    exit: Vec<String>,
    recap: Vec<String>,
    tasks: Vec<String>,
    values: Vec<String>,
    files: Vec<String>,
    /// What the case's `system` script printed after the runs: the users,
    /// groups, crontabs … the case changed outside its directories.
    system: Vec<String>,
    /// The JSON callback's document of each run (see [`json_lines`]).
    json_docs: Vec<String>,
    transcripts: String,
}

impl Outcome {
    fn field(&self, name: &str) -> &[String] {
        match name {
            "exit" => &self.exit,
            "recap" => &self.recap,
            "tasks" => &self.tasks,
            "values" => &self.values,
            "system" => &self.system,
            _ => &self.files,
        }
    }
}

/// Parses the default callback's output into per-host task statuses,
/// result values and recap lines.
fn parse_output(run: usize, stdout: &str, out: &mut Outcome) {
    let mut task = String::from("-");
    let mut per_host: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut values: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut lines = stdout.lines().peekable();
    let mut in_recap = false;
    while let Some(line) = lines.next() {
        if in_recap {
            if let Some((host, counts)) = line.split_once(" : ") {
                let counts: Vec<&str> = counts.split_whitespace().collect();
                out.recap
                    .push(format!("run {run} {} {}", host.trim(), counts.join(" ")));
            }
            continue;
        }
        if line.starts_with("PLAY RECAP") {
            in_recap = true;
            continue;
        }
        for prefix in ["TASK [", "RUNNING HANDLER ["] {
            if let Some(rest) = line.strip_prefix(prefix) {
                if let Some(end) = rest.rfind("] ") {
                    let kind = if prefix.starts_with("TASK") {
                        "TASK"
                    } else {
                        "HANDLER"
                    };
                    task = format!("{kind} [{}]", &rest[..end]);
                }
            }
        }
        if let Some(rest) = line.strip_prefix("FAILED - RETRYING: [") {
            if let Some((host, tail)) = rest.split_once("]: ") {
                let left = tail.rsplit_once('(').map(|(_, l)| l).unwrap_or("");
                per_host
                    .entry(host.to_string())
                    .or_default()
                    .push(format!("{task} retrying ({left}"));
            }
            continue;
        }
        if line.trim() == "...ignoring" {
            // With forks, ansible-playbook prints this line after the
            // failure of whichever host's result came first, so it is
            // counted per task rather than tied to a host.
            per_host
                .entry("(any host)".to_string())
                .or_default()
                .push(format!("{task} ...ignoring"));
            continue;
        }
        if let Some(rest) = line.strip_prefix("included: ") {
            if let Some((file, hosts)) = rest.rsplit_once(" for ") {
                let base = file.rsplit('/').next().unwrap_or(file);
                // `for h1, h3, h2 => (item=x)`: the item belongs to every host
                // listed, and the host order follows result arrival.
                let (hosts, item) = match hosts.split_once(" => ") {
                    Some((hosts, item)) => (hosts, format!(" {item}")),
                    None => (hosts, String::new()),
                };
                for h in hosts.split(", ") {
                    per_host
                        .entry(h.trim().to_string())
                        .or_default()
                        .push(format!("included {base}{item}"));
                }
            }
            continue;
        }
        let Some((status, rest)) = line.split_once(": [") else {
            continue;
        };
        if !["ok", "changed", "skipping", "failed", "fatal"].contains(&status) {
            continue;
        }
        let Some((target, tail)) = rest.split_once(']') else {
            continue;
        };
        let host = target.split(" -> ").next().unwrap_or(target).to_string();
        let delegated = target
            .split_once(" -> ")
            .map(|(_, d)| format!(" -> {d}"))
            .unwrap_or_default();
        let item = tail
            .find("(item=")
            .map(|i| {
                let s = &tail[i..];
                // The item label ends at the `)` before ` => ` or the line end.
                let end = s.find(") =>").map(|e| e + 1).unwrap_or(s.len());
                format!(" {}", &s[..end])
            })
            .unwrap_or_default();
        per_host
            .entry(host.clone())
            .or_default()
            .push(format!("{task} {status}{delegated}{item}"));
        // Values of ok results printed as a JSON block (debug and friends).
        if status == "ok" && tail.ends_with("=> {") {
            let mut block = String::from("{");
            for l in lines.by_ref() {
                block.push('\n');
                block.push_str(l);
                if l == "}" {
                    break;
                }
            }
            let value = match serde_json::from_str::<serde_json::Value>(&block) {
                Ok(serde_json::Value::Object(mut map)) => {
                    for k in ["ansible_loop_var", "ansible_index_var", "item", "changed"] {
                        map.remove(k);
                    }
                    map.retain(|k, _| !k.starts_with("_ansible"));
                    serde_json::Value::Object(map).to_string()
                }
                _ => block.replace('\n', " "),
            };
            values
                .entry(host)
                .or_default()
                .push(format!("{task}{item} {value}"));
        }
    }
    for (h, evs) in per_host {
        for e in evs {
            out.tasks.push(format!("run {run} {h}: {e}"));
        }
    }
    for (h, vs) in values {
        for v in vs {
            out.values.push(format!("run {run} {h}: {v}"));
        }
    }
}

/// A per-case exception to the JSON comparison, from a
/// `json ACTION KEY: reason` line of `known-differences`: `KEY` (`*` for
/// the whole result, `a.b` for `b` inside `a`) is left out of the results
/// of tasks whose action is `ACTION` (short name), and of their loop items.
#[derive(Clone, Debug, PartialEq)]
struct JsonException {
    action: String,
    key: String,
}

/// `v` with every object's keys sorted and time stamps replaced: the
/// comparable form of a result.
fn normalise(v: &serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match v {
        Value::Object(m) => {
            let sorted: BTreeMap<&String, Value> = m
                .iter()
                .filter(|(k, v)| match k.as_str() {
                    // The module's arguments with every default filled in
                    // (ansible's module_args): herd's modules have no such
                    // argument spec to dump, and register leaves it out.
                    "invocation" => false,
                    // ansible-core 2.19 records the Python traceback of a
                    // failed action, here always this placeholder; herd runs
                    // no Python.
                    "exception" | "failed_when_suppressed_exception" => {
                        v.as_str() != Some("(traceback unavailable)")
                    }
                    _ => true,
                })
                .map(|(k, v)| (k, normalise(v)))
                .collect();
            Value::Object(sorted.into_iter().map(|(k, v)| (k.clone(), v)).collect())
        }
        Value::Array(a) => Value::Array(a.iter().map(normalise).collect()),
        Value::String(t) => Value::String(normalise_text(t)),
        other => other.clone(),
    }
}

/// Timings in a string: `start`/`end` of command results
/// (`2026-01-02 03:04:05.123456`) and `delta` (`0:00:00.012345`).
fn normalise_text(t: &str) -> String {
    use std::sync::OnceLock;
    static STAMP: OnceLock<regex::Regex> = OnceLock::new();
    static DELTA: OnceLock<regex::Regex> = OnceLock::new();
    let stamp = STAMP.get_or_init(|| {
        regex::Regex::new(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}$").expect("valid regex")
    });
    let delta =
        DELTA.get_or_init(|| regex::Regex::new(r"^\d+:\d\d:\d\d\.\d{6}$").expect("valid regex"));
    if stamp.is_match(t) {
        "<TIME>".into()
    } else if delta.is_match(t) {
        "<DELTA>".into()
    } else {
        t.to_string()
    }
}

/// One host's result of one task, normalised, with the case's exceptions
/// applied. `None` when an exception leaves the whole result out.
fn normalise_result(
    result: &serde_json::Value,
    exceptions: &[JsonException],
) -> Option<serde_json::Value> {
    use serde_json::Value;
    let mut r = normalise(result);
    let action = r
        .get("action")
        .and_then(Value::as_str)
        .unwrap_or("")
        .rsplit('.')
        .next()
        .unwrap_or("")
        .to_string();
    let Value::Object(m) = &mut r else {
        return Some(r);
    };
    if matches!(action.as_str(), "gather_facts" | "setup") {
        // Facts describe the machine and the moment (uptime, free
        // memory, dates), and herd gathers a documented subset of them
        // (docs/compatibility.md); the facts a case uses are compared
        // through its printed values.
        if let Some(f) = m.get_mut("ansible_facts") {
            *f = Value::String("<facts>".into());
        }
    }
    // Times and inode numbers of files describe the two tools' fresh
    // directories, made at different moments, not the tools: stat's and
    // find's are compared for presence and type.
    let moment = |f: &mut serde_json::Map<String, Value>| {
        for k in ["atime", "mtime", "ctime", "inode", "version"] {
            if let Some(v) = f.get_mut(k) {
                *v = Value::String(format!(
                    "<{k} {}>",
                    if v.is_f64() { "float" } else { "value" }
                ));
            }
        }
    };
    if action == "stat" {
        if let Some(Value::Object(st)) = m.get_mut("stat") {
            moment(st);
        }
    }
    if action == "find" {
        if let Some(Value::Array(files)) = m.get_mut("files") {
            files
                .iter_mut()
                .filter_map(Value::as_object_mut)
                .for_each(moment);
        }
    }
    if action == "pause" {
        // The measured pause, like a command's delta.
        if let Some(Value::String(out)) = m.get_mut("stdout") {
            if let Some(rest) = out.strip_prefix("Paused for ") {
                let unit = rest.split_once(' ').map_or("", |(_, u)| u);
                *out = format!("Paused for <DURATION> {unit}");
            }
        }
    }
    if action == "stat" {
        // lsattr's flags of a fresh file depend on the file system's
        // choice for that file (ext4 gives `e`, extents, to some and not
        // others), not on the tool that reads them.
        if let Some(Value::Object(st)) = m.get_mut("stat") {
            for k in ["attributes", "attr_flags"] {
                if st.contains_key(k) {
                    st.insert(k.into(), Value::String("<lsattr>".into()));
                }
            }
        }
    }
    // Content given inline has no source file of the user's: ansible-core
    // names the temporary file it uploaded, herd says so.
    let inline_src = |r: &mut serde_json::Map<String, Value>| {
        if let Some(Value::String(src)) = r.get_mut("src") {
            if src.contains("/.ansible/tmp/ansible-") || src == "dynamically generated" {
                *src = "<content>".into();
            }
        }
    };
    inline_src(m);
    if let Some(Value::Array(items)) = m.get_mut("results") {
        items
            .iter_mut()
            .filter_map(Value::as_object_mut)
            .for_each(inline_src);
    }
    for e in exceptions.iter().filter(|e| e.action == action) {
        if e.key == "*" {
            return None;
        }
        remove_path(m, &e.key);
        if let Some(Value::Array(items)) = m.get_mut("results") {
            for i in items.iter_mut().filter_map(Value::as_object_mut) {
                remove_path(i, &e.key);
            }
        }
    }
    Some(r)
}

/// Removes `key`, or `a.b` (`b` inside the object `a`), from `m`.
fn remove_path(m: &mut serde_json::Map<String, serde_json::Value>, key: &str) {
    match key.split_once('.') {
        Some((outer, rest)) => {
            if let Some(serde_json::Value::Object(inner)) = m.get_mut(outer) {
                remove_path(inner, rest);
            }
        }
        None => {
            m.shift_remove(key);
        }
    }
}

/// The key names of `v`, nested, without their values: the shape of the
/// play and task headers, whose values (ids, times) differ in every run.
fn shape(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Object(m) => {
            let mut keys: Vec<String> = m
                .iter()
                // The playbook file and line of the play or task: herd's
                // events do not carry them to the JSON output (yet).
                .filter(|(k, _)| k.as_str() != "path")
                .map(|(k, v)| match v {
                    serde_json::Value::Object(_) => format!("{k}{}", shape(v)),
                    _ => k.clone(),
                })
                .collect();
            keys.sort();
            format!("{{{}}}", keys.join(","))
        }
        _ => String::new(),
    }
}

/// Flattens the JSON callback documents of a case's runs into comparable
/// lines: each document's shape, its task sequence, then per host
/// (sorted, so the order in which results arrived does not matter) each
/// task's normalised result, and the stats.
fn json_lines(docs: &[String], exceptions: &[JsonException]) -> Vec<String> {
    use serde_json::Value;
    let mut out = Vec::new();
    for (run, doc) in docs.iter().enumerate() {
        // With -v, both tools name their configuration on stdout first.
        let doc = doc
            .find("\n{")
            .filter(|_| !doc.starts_with('{'))
            .map_or(doc.as_str(), |i| &doc[i + 1..]);
        let doc: Value = match serde_json::from_str(doc) {
            Ok(v) => v,
            Err(e) => {
                out.push(format!("run {run}: not a JSON document: {e}"));
                continue;
            }
        };
        let Value::Object(top) = &doc else {
            out.push(format!("run {run}: not a JSON object"));
            continue;
        };
        let mut keys: Vec<&String> = top.keys().collect();
        keys.sort();
        out.push(format!("run {run} document {keys:?}"));
        let mut per_host: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for play in top
            .get("plays")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let header = play.get("play").cloned().unwrap_or(Value::Null);
            let play_name = header.get("name").and_then(Value::as_str).unwrap_or("?");
            out.push(format!("run {run} PLAY [{play_name}] {}", shape(&header)));
            for task in play
                .get("tasks")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let Some(Value::Object(hosts)) = task.get("hosts") else {
                    continue;
                };
                let header = task.get("task").cloned().unwrap_or(Value::Null);
                let task_name = header.get("name").and_then(Value::as_str).unwrap_or("?");
                let results: Vec<(&String, Value)> = hosts
                    .iter()
                    .filter_map(|(h, r)| normalise_result(r, exceptions).map(|r| (h, r)))
                    .collect();
                // ansible.posix.json also writes an entry for a task that
                // gives no result (a `meta` task, an include's own start);
                // only tasks with results are compared.
                if results.is_empty() {
                    continue;
                }
                out.push(format!("run {run}   TASK [{task_name}] {}", shape(&header)));
                for (host, r) in results {
                    per_host
                        .entry(host.clone())
                        .or_default()
                        .push(format!("[{play_name}] [{task_name}] {r}"));
                }
            }
        }
        for (h, results) in per_host {
            for r in results {
                out.push(format!("run {run} {h}: {r}"));
            }
        }
        for key in ["stats", "custom_stats", "global_custom_stats"] {
            let v = top.get(key).map(normalise).unwrap_or(Value::Null);
            out.push(format!("run {run} {key} {v}"));
        }
    }
    out
}

fn tree(root: &Path, rel: &Path, out: &mut Vec<String>, prefix: &str, base: &str) {
    let Ok(rd) = std::fs::read_dir(root.join(rel)) else {
        return;
    };
    let mut entries: Vec<_> = rd.flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let r = rel.join(e.file_name());
        let Ok(meta) = std::fs::symlink_metadata(e.path()) else {
            continue;
        };
        let mode = meta.permissions().mode() & 0o7777;
        // fetch mirrors the host's absolute path below its destination.
        let name =
            format!("{prefix}/{}", r.display()).replace(base.trim_start_matches('/'), "<BASE>");
        if meta.file_type().is_symlink() {
            let target = std::fs::read_link(e.path())
                .map(|t| t.display().to_string().replace(base, "<BASE>"))
                .unwrap_or_default();
            out.push(format!("{name} link -> {target}"));
        } else if meta.is_dir() {
            out.push(format!("{name} dir {mode:04o} uid={}", meta.uid()));
            tree(root, &r, out, prefix, base);
        } else {
            let text = std::fs::read(e.path()).unwrap_or_default();
            let text = String::from_utf8_lossy(&text).replace(base, "<BASE>");
            out.push(format!(
                "{name} file {mode:04o} uid={} {:?}",
                meta.uid(),
                text
            ));
        }
    }
}

fn read_lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .map(|t| {
            t.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(String::from)
                .collect()
        })
        .unwrap_or_default()
}

fn hosts_of(case: &Path) -> Vec<(String, String)> {
    let lines = read_lines(&case.join("hosts"));
    if lines.is_empty() {
        return vec![("h1".into(), String::new()), ("h2".into(), String::new())];
    }
    lines
        .into_iter()
        .map(|l| match l.split_once(' ') {
            Some((h, v)) => (h.to_string(), v.to_string()),
            None => (l, String::new()),
        })
        .collect()
}

/// Runs a case under one tool on fresh directories. ansible-playbook
/// writes its default output and, through [`JSON_CALLBACK`], the JSON
/// document of the same run; herd writes one or the other (`json`).
fn run_tool(tool: &str, case: &Path, sshd: &Sshd, json: bool) -> Outcome {
    let work = tempfile::Builder::new()
        // Equally long for both tools, so that paths (and a symlink's
        // size) agree once the directory is replaced by <BASE>.
        .prefix(&format!(
            "herd-conf-{}-",
            if tool == "ansible" { "ansi" } else { "herd" }
        ))
        .tempdir()
        .expect("tempdir");
    let w = work.path();
    // sshd's user must reach the host directories below this one.
    std::fs::set_permissions(w, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    support::copy_tree(case, &w.join("project"), None);
    let owner = support::herdtest_ids();
    let base = w.join("hosts");
    std::fs::create_dir_all(&base).expect("mkdir hosts");
    std::os::unix::fs::chown(&base, Some(owner.0), Some(owner.1)).expect("chown");
    let hosts = hosts_of(case);
    let mut inv = String::from("[fleet]\n");
    for (h, vars) in &hosts {
        let root = base.join(h);
        std::fs::create_dir_all(&root).expect("mkdir host");
        std::os::unix::fs::chown(&root, Some(owner.0), Some(owner.1)).expect("chown");
        if case.join("seed").is_dir() {
            support::copy_tree(&case.join("seed"), &root, Some(owner));
        }
        inv.push_str(&format!(
            "{h} {} ansible_python_interpreter=/usr/bin/python3 root={} {vars}\n",
            sshd.inventory_vars(),
            root.display()
        ));
    }
    let ctl = w.join("ctl");
    std::fs::create_dir_all(&ctl).expect("mkdir ctl");
    std::fs::write(w.join("project/hosts.ini"), inv).expect("inventory");
    // A case that changes the system outside its directories (users,
    // groups, crontabs) has a `system` script: `reset` puts the system back
    // before each tool's runs, `snapshot` prints what the tool left.
    system_script(case, "reset");
    let mut runs = read_lines(&case.join("runs"));
    if runs.is_empty() {
        runs.push("-".into());
    }
    let base_str = w.display().to_string();
    let mut out = Outcome::default();
    for (i, args) in runs.iter().enumerate() {
        let extra: Vec<&str> = args.split_whitespace().filter(|a| *a != "-").collect();
        let json_file = w.join(format!("run-{i}.json"));
        let mut cmd = if tool == "ansible" {
            let plugins = w.join("callback_plugins");
            std::fs::create_dir_all(&plugins).expect("mkdir callback_plugins");
            std::fs::write(plugins.join("conformance_json.py"), JSON_CALLBACK)
                .expect("callback plugin");
            let mut c = common::ansible_command("ansible-playbook");
            c.env(
                "ANSIBLE_COLLECTIONS_PATH",
                common::ansible_collections_path(),
            )
            .env("ANSIBLE_CALLBACK_PLUGINS", &plugins)
            .env("ANSIBLE_CALLBACKS_ENABLED", "conformance_json")
            .env("HERD_CONFORMANCE_JSON", &json_file)
            // The test sshd has no sftp subsystem: without this, ansible
            // tries sftp and scp first and adds a warning about each to
            // the result of every task that copies a file over.
            .env("ANSIBLE_SSH_TRANSFER_METHOD", "piped");
            c
        } else {
            let mut c = Command::new(env!("CARGO_BIN_EXE_herd"));
            for (k, _) in std::env::vars_os() {
                if k.to_string_lossy().starts_with("ANSIBLE_") {
                    c.env_remove(k);
                }
            }
            c.env("ANSIBLE_NOCOLOR", "1").arg("playbook");
            if json {
                c.args(["--format", "json"]);
            }
            c
        };
        cmd.current_dir(w.join("project"))
            .args(["-i", "hosts.ini", "site.yml", "-e"])
            .arg(format!("ctl={}", ctl.display()))
            .args(&extra);
        let res = cmd
            .output()
            .unwrap_or_else(|e| panic!("could not run {tool}: {e}: run scripts/test.sh"));
        let stdout = String::from_utf8_lossy(&res.stdout).replace(&base_str, "<BASE>");
        let stderr = String::from_utf8_lossy(&res.stderr).replace(&base_str, "<BASE>");
        out.exit
            .push(format!("run {i} exit {:?}", res.status.code()));
        if tool == "herd" && json {
            let _ = writeln!(
                out.transcripts,
                "----- herd --format json run {i} ({args}) exit {:?}\n[stderr]\n{stderr}",
                res.status.code()
            );
            out.json_docs.push(stdout);
            continue;
        }
        let _ = writeln!(
            out.transcripts,
            "----- {tool} run {i} ({args}) exit {:?}\n{stdout}\n[stderr]\n{stderr}",
            res.status.code()
        );
        parse_output(i, &stdout, &mut out);
        if tool == "ansible" {
            match std::fs::read_to_string(&json_file) {
                Ok(doc) => out.json_docs.push(doc.replace(&base_str, "<BASE>")),
                Err(e) => panic!(
                    "ansible-playbook wrote no JSON document ({}: {e}); is the \
                     ansible.posix collection installed (scripts/test.sh)?\n{}",
                    json_file.display(),
                    out.transcripts
                ),
            }
        }
    }
    for (h, _) in &hosts {
        tree(&base.join(h), Path::new(""), &mut out.files, h, &base_str);
    }
    tree(&ctl, Path::new(""), &mut out.files, "ctl", &base_str);
    out.system = system_script(case, "snapshot")
        .lines()
        .map(|l| l.replace(&base_str, "<BASE>"))
        .collect();
    system_script(case, "reset");
    out
}

/// Runs the case's `system` script (as root, with `sh`) with one argument;
/// its stdout, or nothing for a case without one.
fn system_script(case: &Path, step: &str) -> String {
    let script = case.join("system");
    if !script.is_file() {
        return String::new();
    }
    let out = Command::new("sh")
        .arg(&script)
        .arg(step)
        .output()
        .expect("run the case's system script");
    assert!(
        out.status.success(),
        "{} {step} failed: {}",
        script.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn diff(a: &[String], b: &[String]) -> String {
    let a = a.join("\n") + "\n";
    let b = b.join("\n") + "\n";
    similar::TextDiff::from_lines(&a, &b)
        .unified_diff()
        .header("ansible-playbook", "herd")
        .to_string()
}

fn check(name: &str) {
    support::require_environment();
    common::ansible_bin_dir();
    let case = case_dir(name);
    assert!(case.join("site.yml").is_file(), "{name}: no site.yml");
    let known: BTreeMap<String, String> = read_lines(&case.join("known-differences"))
        .into_iter()
        .filter_map(|l| {
            l.split_once(':')
                .map(|(f, r)| (f.trim().to_string(), r.trim().to_string()))
        })
        .collect();
    let mut exceptions = Vec::new();
    for f in known.keys() {
        if let Some(rest) = f.strip_prefix("json ") {
            let (action, key) = rest.trim().split_once(' ').unwrap_or_else(|| {
                panic!("{name}: a json exception is `json ACTION KEY: reason`, not {f}")
            });
            exceptions.push(JsonException {
                action: action.to_string(),
                key: key.trim().to_string(),
            });
            continue;
        }
        assert!(FIELDS.contains(&f.as_str()), "{name}: unknown field {f}");
    }
    let sshd = Sshd::start();
    let ansible = run_tool("ansible", &case, &sshd, false);
    let mut herd = run_tool("herd", &case, &sshd, false);
    // herd writes one output per run: the JSON document comes from a
    // second run of the case on fresh directories, which must otherwise
    // end as the first did.
    let herd_json = run_tool("herd", &case, &sshd, true);
    herd.json_docs = herd_json.json_docs;
    herd.transcripts.push_str(&herd_json.transcripts);
    assert!(
        !ansible.recap.is_empty(),
        "{name}: ansible-playbook printed no recap:\n{}",
        ansible.transcripts
    );
    assert!(
        !ansible.tasks.is_empty(),
        "{name}: no task status parsed from ansible-playbook's output:\n{}",
        ansible.transcripts
    );
    let mut report = String::new();
    for (field, human, json) in [
        ("exit", &herd.exit, &herd_json.exit),
        ("files", &herd.files, &herd_json.files),
    ] {
        if human != json {
            let _ = writeln!(
                report,
                "== herd's {field} differ between its human and JSON output runs:\n{}",
                diff(human, json)
            );
        }
    }
    if case.join("converges").exists() {
        // The last run finds nothing to do, under both tools.
        for (tool, o) in [("ansible-playbook", &ansible), ("herd", &herd)] {
            let last = format!("run {} ", o.exit.len().saturating_sub(1));
            for line in o.recap.iter().filter(|l| l.starts_with(&last)) {
                if !line.contains("changed=0") || !line.contains("failed=0") {
                    let _ = writeln!(report, "== {tool} did not converge: {line}");
                }
            }
        }
    }
    for field in FIELDS {
        let (a, h) = (ansible.field(field), herd.field(field));
        let differs = a != h;
        match (differs, known.get(*field)) {
            (true, None) => {
                let _ = writeln!(report, "== {field} differs:\n{}", diff(a, h));
            }
            (false, Some(reason)) => {
                let _ = writeln!(
                    report,
                    "== {field} is listed in known-differences ({reason}) but now agrees: remove it"
                );
            }
            _ => {}
        }
    }
    // The JSON callback's documents: equal once this case's exceptions
    // are applied, and each exception still needed.
    let (a, h) = (
        json_lines(&ansible.json_docs, &exceptions),
        json_lines(&herd.json_docs, &exceptions),
    );
    if a != h {
        let _ = writeln!(report, "== json differs:\n{}", diff(&a, &h));
    } else {
        for (i, e) in exceptions.iter().enumerate() {
            let mut others = exceptions.clone();
            others.remove(i);
            if json_lines(&ansible.json_docs, &others) == json_lines(&herd.json_docs, &others) {
                let _ = writeln!(
                    report,
                    "== json {} {} is listed in known-differences but now agrees: remove it",
                    e.action, e.key
                );
            }
        }
    }
    assert!(
        report.is_empty(),
        "case {name}: herd disagrees with ansible-playbook\n{report}\n\
         ======== transcripts\n{}\n{}",
        ansible.transcripts,
        herd.transcripts
    );
}

macro_rules! cases {
    ($($f:ident => $d:literal,)*) => {
        $(#[test] fn $f() { check($d); })*

        /// Every case directory has its test function.
        #[test]
        fn every_case_directory_is_listed() {
            let listed = [$($d),*];
            let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/run_conformance");
            for e in std::fs::read_dir(dir).expect("case directory").flatten() {
                if e.path().is_dir() {
                    let n = e.file_name().to_string_lossy().into_owned();
                    assert!(listed.contains(&n.as_str()), "case {n} has no test function");
                }
            }
            assert!(listed.len() >= 20);
        }
    };
}

cases! {
    c01_when_loops => "01-when-loops",
    c02_register_changed_failed_when => "02-register-changed-failed-when",
    c03_until_retries => "03-until-retries",
    c04_handlers => "04-handlers",
    c05_block_rescue_always => "05-block-rescue-always",
    c06_tags => "06-tags",
    c07_check_diff => "07-check-diff",
    c08_no_log => "08-no-log",
    c09_set_fact_assert_fail => "09-set-fact-assert-fail",
    c10_includes => "10-includes",
    c11_roles => "11-roles",
    c12_delegate_run_once => "12-delegate-run-once",
    c13_serial_max_fail => "13-serial-max-fail",
    c14_any_errors_fatal => "14-any-errors-fatal",
    c15_file_modules_drift => "15-file-modules-drift",
    c16_command_creates_removes => "16-command-creates-removes",
    c17_meta_end_host => "17-meta-end-host",
    c18_meta_end_play => "18-meta-end-play",
    c19_gather_facts => "19-gather-facts",
    c20_loop_register => "20-loop-register",
    c21_failed_host_continues => "21-failed-host-continues",
    c22_templated_trailing_newline => "22-templated-trailing-newline",
    c23_role_handlers => "23-role-handlers",
    c24_failing_rescue => "24-failing-rescue",
    c25_include_role_handler_vars => "25-include-role-handler-vars",
    c26_serial_batches => "26-serial-batches",
    c27_vars_precedence => "27-vars-precedence",
    c28_check_mode_handlers => "28-check-mode-handlers",
    c29_loops_until_and_failures => "29-loops-until-and-failures",
    c30_system_accounts => "30-system-accounts",
    c31_text_modules => "31-text-modules",
    c32_query_and_command_modules => "32-query-and-command-modules",
    c33_utility_modules => "33-utility-modules",
    c34_vault => "34-vault",
    c35_vault_sources => "35-vault-sources",
}
