//! Custom modules in any language: an executable file from a `library/`
//! directory (beside the playbook, in a role, or on `-M`/`ANSIBLE_LIBRARY`)
//! run on the host with Ansible's non-Python module protocol.
//!
//! The file is copied to a private temporary directory on the host
//! (`AnsiballZ_<file>`, as Ansible names it) beside an `args` file, run
//! as `<module> <args>`, and the directory is removed afterwards. The
//! args file holds `key=value` pairs quoted for the shell (Ansible's
//! "old" style), or one JSON object when the module's text contains
//! `WANT_JSON` (or the module is a binary). Either way the module gets
//! the `_ansible_*` keys Ansible passes (`_ansible_check_mode`,
//! `_ansible_diff`, `_ansible_no_log`, `_ansible_verbosity`, …). Its
//! standard output must hold one JSON object (lines before and after it
//! are dropped with a warning, as Ansible does); anything else is
//! Ansible's "Module result deserialization failed" failure, with the
//! output kept in `module_stdout`/`module_stderr`.
//!
//! Python modules written against `AnsibleModule` need Ansible's
//! AnsiballZ packaging and Python on the host; herd does not run them and
//! says so.

use std::path::Path;

use herd_modules::api::{shell_quote, ExecOptions, Host, HostError, Source};

use crate::value::{py_str, Map, Value};

/// How the module reads its arguments (Ansible's module styles that
/// herd runs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Style {
    /// `key=value` pairs.
    Old,
    /// One JSON object (`WANT_JSON` in the text, or a binary).
    Json,
}

/// The task settings a custom module is told about.
#[derive(Clone, Debug, Default)]
pub(crate) struct ModuleFlags {
    pub check_mode: bool,
    pub diff: bool,
    pub no_log: bool,
    pub verbosity: u8,
}

fn failed(msg: impl Into<String>) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("changed".into(), Value::Bool(false));
    m.insert("failed".into(), Value::Bool(true));
    m.insert("msg".into(), Value::String(msg.into()));
    m
}

/// Markers of module kinds that need Ansible's Python packaging.
const PYTHON_MARKERS: [&str; 4] = [
    "from ansible.module_utils",
    "import ansible.module_utils",
    "<<INCLUDE_ANSIBLE_MODULE_COMMON>>",
    "<<INCLUDE_ANSIBLE_MODULE_JSON_ARGS>>",
];

/// The style of a module's text, or why herd cannot run it.
fn style_of(name: &str, data: &[u8]) -> Result<Style, String> {
    // Ansible's test for a binary: bytes that are not text.
    let binary = data.contains(&0) || std::str::from_utf8(data).is_err();
    if binary {
        return Ok(Style::Json);
    }
    let text = String::from_utf8_lossy(data);
    if PYTHON_MARKERS.iter().any(|m| text.contains(m))
        || text.contains("#Requires -Module")
        || text.contains("#AnsibleRequires")
    {
        return Err(format!(
            "module ({name}) is an Ansible Python (or PowerShell) module, which needs Ansible's module packaging on the host; herd runs custom modules that read their arguments from a file (key=value pairs, or JSON with WANT_JSON)"
        ));
    }
    if !text.starts_with("#!") {
        return Err(format!("module ({name}) is missing interpreter line"));
    }
    Ok(if text.contains("WANT_JSON") {
        Style::Json
    } else {
        Style::Old
    })
}

/// The arguments as the module reads them: the task's, then the
/// `_ansible_*` keys in Ansible's order.
fn module_args(
    name: &str,
    args: &Map<String, Value>,
    flags: &ModuleFlags,
    tmpdir: &str,
) -> Map<String, Value> {
    let mut m = args.clone();
    let mut put = |k: &str, v: Value| {
        m.insert(k.to_string(), v);
    };
    put("_ansible_check_mode", Value::Bool(flags.check_mode));
    put("_ansible_no_log", Value::Bool(flags.no_log));
    put("_ansible_debug", Value::Bool(false));
    put("_ansible_diff", Value::Bool(flags.diff));
    put("_ansible_verbosity", Value::from(flags.verbosity));
    let (major, minor, revision) = crate::vars::ANSIBLE_COMPAT_VERSION;
    put(
        "_ansible_version",
        Value::String(format!("{major}.{minor}.{revision}")),
    );
    put("_ansible_module_name", Value::String(name.into()));
    put("_ansible_syslog_facility", Value::String("LOG_USER".into()));
    put(
        "_ansible_selinux_special_fs",
        serde_json::json!(["fuse", "nfs", "vboxsf", "ramfs", "9p", "vfat"]),
    );
    put("_ansible_socket", Value::Null);
    put("_ansible_shell_executable", Value::String("/bin/sh".into()));
    put("_ansible_keep_remote_files", Value::Bool(false));
    put("_ansible_tmpdir", Value::String(format!("{tmpdir}/")));
    put(
        "_ansible_remote_tmp",
        Value::String("~/.ansible/tmp".into()),
    );
    put("_ansible_ignore_unknown_opts", Value::Bool(false));
    put("_ansible_target_log_info", Value::Null);
    put("_ansible_tracebacks_for", Value::Array(Vec::new()));
    m
}

/// The args file: `k=v ` pairs, each value as Python's `str()` prints it
/// and quoted for the shell, or the JSON object.
fn args_file(style: Style, args: &Map<String, Value>) -> String {
    match style {
        Style::Json => crate::value::to_json_string(&Value::Object(args.clone())),
        Style::Old => args
            .iter()
            .map(|(k, v)| format!("{k}={} ", shell_quote(&py_str(v))))
            .collect(),
    }
}

/// The JSON object in a module's output, with warnings for what
/// surrounded it (Ansible's filter of non-JSON lines).
fn filter_json(stdout: &str) -> Result<(String, Vec<String>), String> {
    let lines: Vec<&str> = stdout.lines().collect();
    let Some(start) = lines.iter().position(|l| l.trim().starts_with('{')) else {
        return Err("No start of json char found".into());
    };
    let lines = &lines[start..];
    let Some(end) = lines.iter().rposition(|l| l.trim().ends_with('}')) else {
        return Err("No end of json char found".into());
    };
    let mut warnings = Vec::new();
    if end + 1 < lines.len() {
        warnings.push(format!(
            "Module invocation had junk after the JSON data: {}",
            lines[end + 1..].join("\n")
        ));
    }
    Ok((lines[..=end].join("\n"), warnings))
}

/// Reads a module's output into its result, as Ansible parses it.
fn parse_result(
    rc: i32,
    stdout: &str,
    stderr: &str,
    interpreter: Option<&str>,
) -> Map<String, Value> {
    let parsed = filter_json(stdout).and_then(|(text, warnings)| {
        match serde_json::from_str::<Value>(&text) {
            Ok(Value::Object(m)) => Ok((m, warnings)),
            Ok(_) => Err("the module's output is not a JSON object".to_string()),
            Err(e) => Err(e.to_string()),
        }
    });
    match parsed {
        Ok((mut m, json_warnings)) => {
            // Internal keys are Ansible's to set, not a module's.
            m.retain(|k, _| !k.starts_with("_ansible_") || k == "_ansible_no_log");
            if !json_warnings.is_empty() {
                let mut w = match m.remove("warnings") {
                    Some(Value::Array(a)) => a,
                    Some(other) => vec![other],
                    None => Vec::new(),
                };
                w.extend(json_warnings.into_iter().map(Value::String));
                m.insert("warnings".into(), Value::Array(w));
            }
            for (text, lines) in [("stdout", "stdout_lines"), ("stderr", "stderr_lines")] {
                if m.contains_key(text) && !m.contains_key(lines) {
                    let t = m.get(text).filter(|v| crate::value::truthy(v)).map(py_str);
                    let split = herd_modules::commands::split_lines(&t.unwrap_or_default());
                    m.insert(lines.into(), Value::Array(split));
                }
            }
            m
        }
        Err(cause) => {
            let not_found = interpreter.is_some_and(|i| {
                [
                    ": No such file or directory",
                    ": not found",
                    ": command not found",
                ]
                .iter()
                .any(|s| {
                    let needle = format!("{i}{s}");
                    stderr.contains(&needle) || stdout.contains(&needle)
                })
            });
            let msg = match interpreter {
                Some(i) if not_found => format!("The module interpreter '{i}' was not found."),
                _ => format!("Module result deserialization failed: {cause}"),
            };
            let mut m = failed(msg);
            m.insert("module_stdout".into(), Value::String(stdout.into()));
            m.insert("module_stderr".into(), Value::String(stderr.into()));
            m.insert("rc".into(), Value::from(rc));
            m
        }
    }
}

/// The interpreter of a `#!` line.
fn interpreter_of(data: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(&data[..data.len().min(1024)]);
    let line = text.strip_prefix("#!")?.lines().next()?;
    line.split_whitespace().next().map(str::to_string)
}

/// Pushes a custom module and its args file to a private temporary
/// directory on `host`; returns the directory and the command that runs
/// it. The caller removes the directory.
pub(crate) async fn stage(
    host: &dyn Host,
    path: &Path,
    name: &str,
    args: &Map<String, Value>,
    flags: &ModuleFlags,
) -> Result<Result<Staged, Map<String, Value>>, HostError> {
    let data = match std::fs::read(path) {
        Ok(d) => d,
        Err(e) => {
            return Ok(Err(failed(format!(
                "Could not read the module file {}: {e}",
                path.display()
            ))))
        }
    };
    let style = match style_of(name, &data) {
        Ok(s) => s,
        Err(msg) => return Ok(Err(failed(msg))),
    };
    let mk = host
        .exec(
            "umask 077 && mkdir -p ~/.ansible/tmp && mktemp -d ~/.ansible/tmp/herd-tmp-XXXXXXXX",
            &ExecOptions::default(),
        )
        .await?;
    let dir = mk.stdout_text().trim().to_string();
    if mk.rc != 0 || dir.is_empty() {
        return Ok(Err(failed(format!(
            "could not create a temporary directory on the host: {}",
            mk.stderr_text().trim()
        ))));
    }
    let file = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| name.to_string());
    let remote = format!("{dir}/AnsiballZ_{file}");
    let args_path = format!("{dir}/args");
    let text = args_file(style, &module_args(name, args, flags, &dir));
    let pushed = async {
        host.write_from(&remote, Source::LocalFile(path), Some(0o700))
            .await?;
        host.write_file(&args_path, text.as_bytes(), Some(0o600))
            .await
    }
    .await;
    if let Err(e) = pushed {
        remove(host, &dir).await;
        return Err(e);
    }
    Ok(Ok(Staged {
        command: format!("{} {}", shell_quote(&remote), shell_quote(&args_path)),
        dir,
        interpreter: interpreter_of(&data),
    }))
}

/// A module pushed to the host, ready to run.
pub(crate) struct Staged {
    /// The private directory holding the module and its args.
    pub dir: String,
    /// `<module> <args file>`, quoted.
    pub command: String,
    interpreter: Option<String>,
}

impl Staged {
    /// The module's result from what its run printed.
    pub fn result(&self, rc: i32, stdout: &[u8], stderr: &[u8]) -> Map<String, Value> {
        parse_result(
            rc,
            &String::from_utf8_lossy(stdout),
            &String::from_utf8_lossy(stderr),
            self.interpreter.as_deref(),
        )
    }
}

/// Removes a staged module's directory (best effort: a leftover is a
/// private directory under `~/.ansible/tmp`).
pub(crate) async fn remove(host: &dyn Host, dir: &str) {
    let _ = host
        .exec(
            &format!("rm -rf {}", shell_quote(dir)),
            &ExecOptions::default(),
        )
        .await;
}

/// Runs a custom module on `host` and returns its result.
pub(crate) async fn run(
    host: &dyn Host,
    path: &Path,
    name: &str,
    args: &Map<String, Value>,
    flags: &ModuleFlags,
) -> Result<Map<String, Value>, HostError> {
    let staged = match stage(host, path, name, args, flags).await? {
        Ok(s) => s,
        Err(m) => return Ok(m),
    };
    let out = async {
        let mut r = host.exec(&staged.command, &ExecOptions::default()).await?;
        // A file just written can be briefly "busy" for exec(2) while a
        // process forked meanwhile still holds the writer's descriptor.
        for _ in 0..3 {
            if !(r.rc == 126 && r.stderr_text().contains("Text file busy")) {
                break;
            }
            let again = format!("sleep 1; {}", staged.command);
            r = host.exec(&again, &ExecOptions::default()).await?;
        }
        Ok::<_, HostError>(r)
    }
    .await;
    remove(host, &staged.dir).await;
    let r = out?;
    Ok(staged.result(r.rc, &r.stdout, &r.stderr))
}

impl super::Runner {
    /// Runs a task's custom module (`task.module_path`) on its host.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn run_custom(
        self: &std::sync::Arc<Self>,
        task: &crate::playbook::Task,
        inherit: &super::Inherit,
        host: &str,
        vars: &crate::template::Vars,
        delegate: Option<&str>,
        args: &Map<String, Value>,
        path: &Path,
        check_mode: bool,
        diff: bool,
    ) -> Map<String, Value> {
        let conn = match self.host_for(task, inherit, host, vars, delegate).await {
            Ok(h) => h,
            Err(e) => return super::task::host_error(e),
        };
        let env = self.environment(task, inherit, vars);
        let handle: std::sync::Arc<dyn Host> = if env.is_empty() {
            conn
        } else {
            std::sync::Arc::new(super::task::EnvHost { inner: conn, env })
        };
        let flags = ModuleFlags {
            check_mode,
            diff,
            no_log: inherit
                .keyword(task, "no_log")
                .and_then(|v| self.templar.render_value(&v, vars).ok())
                .is_some_and(|v| super::task::as_bool(&v)),
            verbosity: self.opts.verbosity,
        };
        let timeout = inherit
            .keyword(task, "timeout")
            .and_then(|v| py_str(&v).trim().parse::<u64>().ok())
            .filter(|t| *t > 0);
        let running = run(handle.as_ref(), path, &task.action, args, &flags);
        let out = match timeout {
            Some(t) => match tokio::time::timeout(std::time::Duration::from_secs(t), running).await
            {
                Ok(r) => r,
                Err(_) => {
                    let mut m = failed(format!("Task failed: Timed out after {t} second(s)."));
                    m.insert("timedout".into(), serde_json::json!({"period": t}));
                    return m;
                }
            },
            None => running.await,
        };
        match out {
            Ok(m) => m,
            Err(e) => super::task::host_error(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn old_style_args_are_python_str_quoted() {
        let mut a = Map::new();
        a.insert("a".into(), Value::from(1));
        a.insert("b".into(), Value::String("x y".into()));
        a.insert("c".into(), Value::String("it's".into()));
        a.insert("d".into(), Value::Bool(true));
        a.insert("e".into(), serde_json::json!(["p", "q"]));
        a.insert("f".into(), Value::String(String::new()));
        assert_eq!(
            args_file(Style::Old, &a),
            "a=1 b='x y' c='it'\"'\"'s' d=True e='['\"'\"'p'\"'\"', '\"'\"'q'\"'\"']' f='' "
        );
    }

    #[test]
    fn styles() {
        assert_eq!(style_of("m", b"#!/bin/sh\necho {}\n"), Ok(Style::Old));
        assert_eq!(style_of("m", b"#!/bin/sh\n# WANT_JSON\n"), Ok(Style::Json));
        assert_eq!(style_of("m", b"\x7fELF\0\0"), Ok(Style::Json));
        assert_eq!(
            style_of("m", b"echo hi\n"),
            Err("module (m) is missing interpreter line".into())
        );
        assert!(style_of(
            "m",
            b"#!/usr/bin/python\nfrom ansible.module_utils.basic import AnsibleModule\n"
        )
        .is_err());
    }

    #[test]
    fn json_is_found_among_other_lines() {
        let r = parse_result(0, "motd\n{\"changed\": true}\nbye\n", "", None);
        assert_eq!(r["changed"], Value::Bool(true));
        assert_eq!(
            r["warnings"],
            serde_json::json!(["Module invocation had junk after the JSON data: bye"])
        );
        let r = parse_result(3, "not json\n", "err\n", None);
        assert_eq!(
            r["msg"],
            Value::String(
                "Module result deserialization failed: No start of json char found".into()
            )
        );
        assert_eq!(r["rc"], Value::from(3));
        assert_eq!(r["module_stderr"], Value::String("err\n".into()));
    }
}
