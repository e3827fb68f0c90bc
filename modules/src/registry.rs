//! The modules herd can run, by name.
//!
//! Placeholder until the module set lands: only `command` and `shell`, in
//! their simplest form, so the engine can be exercised end to end.

use async_trait::async_trait;

use crate::api::{ExecOptions, HostError, Module, ModuleContext, Outcome, Value};

/// The module called `name` (short or `ansible.builtin.` name).
pub fn get(name: &str) -> Option<&'static dyn Module> {
    let short = name
        .strip_prefix("ansible.builtin.")
        .or_else(|| name.strip_prefix("ansible.legacy."))
        .unwrap_or(name);
    match short {
        "command" => Some(&Command { shell: false }),
        "shell" => Some(&Command { shell: true }),
        _ => None,
    }
}

struct Command {
    shell: bool,
}

#[async_trait]
impl Module for Command {
    fn name(&self) -> &'static str {
        if self.shell {
            "shell"
        } else {
            "command"
        }
    }

    async fn run(&self, ctx: &ModuleContext<'_>) -> Result<Outcome, HostError> {
        let text = |k: &str| ctx.args.get(k).and_then(Value::as_str).map(str::to_string);
        let cmd = match (text("_raw_params"), text("cmd"), ctx.args.get("argv")) {
            (Some(c), _, _) | (None, Some(c), _) => c,
            (None, None, Some(Value::Array(argv))) => argv
                .iter()
                .map(|a| crate::api::shell_quote(&api_str(a)))
                .collect::<Vec<_>>()
                .join(" "),
            _ => return Ok(Outcome::failed("no command given")),
        };
        if let Some(p) = text("creates") {
            if ctx.host.stat(&p, true).await?.is_some() {
                return Ok(Outcome::ok()
                    .with("rc", 0)
                    .with("stdout", format!("skipped, since {p} exists")));
            }
        }
        if let Some(p) = text("removes") {
            if ctx.host.stat(&p, true).await?.is_none() {
                return Ok(Outcome::ok()
                    .with("rc", 0)
                    .with("stdout", format!("skipped, since {p} does not exist")));
            }
        }
        if ctx.check_mode {
            let mut o = Outcome::ok();
            o.skipped = true;
            o.msg = Some("Command would have run if not in check mode".into());
            return Ok(o);
        }
        let opts = ExecOptions {
            chdir: text("chdir"),
            stdin: text("stdin").map(|s| format!("{s}\n").into_bytes()),
            ..ExecOptions::default()
        };
        let r = ctx.host.exec(&cmd, &opts).await?;
        let strip = |s: String| s.strip_suffix('\n').map(str::to_string).unwrap_or(s);
        let stdout = strip(r.stdout_text());
        let stderr = strip(r.stderr_text());
        let mut o = Outcome::changed()
            .with("cmd", cmd.clone())
            .with("rc", r.rc)
            .with(
                "stdout_lines",
                Value::Array(stdout.lines().map(|l| Value::String(l.into())).collect()),
            )
            .with(
                "stderr_lines",
                Value::Array(stderr.lines().map(|l| Value::String(l.into())).collect()),
            )
            .with("stdout", stdout)
            .with("stderr", stderr);
        if r.rc != 0 {
            o.failed = true;
            o.msg = Some("non-zero return code".into());
        }
        Ok(o)
    }
}

/// A JSON value as text (strings bare).
fn api_str(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
