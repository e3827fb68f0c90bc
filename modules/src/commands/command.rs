//! command — run a command on the host, without a shell.
//!
//! The command is split into words as a POSIX shell would, but pipes,
//! redirections, `;` and `&&` are not interpreted (use `shell` for those).
//!
//! Arguments:
//!   free form / cmd     the command line
//!   argv                the command as a list of words (instead of free form)
//!   chdir               directory to run in
//!   creates             a path or glob: if anything matches, do not run
//!   removes             a path or glob: if nothing matches, do not run
//!   stdin               text fed to the command's standard input
//!   stdin_add_newline   add a newline to stdin (default true)
//!   strip_empty_ends    strip trailing newlines of stdout/stderr (default true)
//!   expand_argument_vars  expand $VAR and ~ in the words (default true)
//!
//! Returns: cmd, rc, stdout, stderr, stdout_lines, stderr_lines, start,
//! end, delta, msg. A non-zero exit status fails the task. In check mode
//! the command is skipped unless creates/removes decide it.
//!
//! Tested: tests/module_command.rs (argv, free form, chdir,
//! creates/removes, stdin, check mode, bad args), rerun with a BusyBox
//! userland (tests/module_busybox.rs) and in the BusyBox SSH playbook
//! (tests/ssh_busybox.rs); compared with ansible-playbook in run
//! conformance cases 16 and 32; async in tests/exec_async.rs.

use async_trait::async_trait;

use super::{add_output, check_guard, guard_of, guarded, shlex_split, Clock, Guard};
use crate::api::{shell_quote, ExecOptions, HostError, Module, ModuleContext, Outcome, Value};
use crate::args::{Param, Spec};

pub struct Command;

pub(crate) static SPEC: Spec = Spec {
    module: "command",
    params: &[
        Param::str("_raw_params").aliases(&["cmd"]),
        Param::bool("_uses_shell"),
        Param::list("argv"),
        Param::path("chdir"),
        Param::str("executable"),
        Param::bool("expand_argument_vars").default("true"),
        Param::path("creates"),
        Param::path("removes"),
        Param::str("stdin"),
        Param::bool("stdin_add_newline").default("true"),
        Param::bool("strip_empty_ends").default("true"),
    ],
    mutually_exclusive: &[],
    required_one_of: &[],
};

/// What the host prints when the program of a `command` is not found.
const NOT_FOUND: &str = "herd: command not found";

/// One word of a command, quoted so that `$NAME`, `${NAME}` and a leading
/// `~` expand on the host as Python's `expandvars`/`expanduser` would: an
/// unset variable stays as written, everything else is literal.
pub fn expanding_word(word: &str) -> String {
    let mut out = String::new();
    let mut lit = String::new();
    let mut rest = word;
    if rest == "~" || rest.starts_with("~/") {
        out.push_str("\"$HOME\"");
        rest = &rest[1..];
    }
    while let Some(i) = rest.find('$') {
        lit.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let (name, written, len) = if let Some(inner) = after.strip_prefix('{') {
            match inner.find('}') {
                Some(end) => (&inner[..end], format!("${{{}}}", &inner[..end]), end + 2),
                None => ("", String::new(), 0),
            }
        } else {
            let end = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            (&after[..end], format!("${}", &after[..end]), end)
        };
        let valid = !name.is_empty()
            && !name.starts_with(|c: char| c.is_ascii_digit())
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if valid {
            if !lit.is_empty() {
                out.push_str(&shell_quote(&std::mem::take(&mut lit)));
            }
            // `${X-literal}`: the value if set, else the text as written.
            let fallback = written.replace('$', "\\$").replace('}', "\\}");
            out.push_str(&format!("\"${{{name}-{fallback}}}\""));
            rest = &after[len..];
        } else {
            lit.push('$');
            rest = after;
        }
    }
    lit.push_str(rest);
    if !lit.is_empty() || out.is_empty() {
        out.push_str(&shell_quote(&lit));
    }
    out
}

/// Runs `command` or (with `uses_shell`) `shell`.
pub(crate) async fn run_command(
    ctx: &ModuleContext<'_>,
    spec: &Spec,
    uses_shell: bool,
) -> Result<Outcome, HostError> {
    let mut out = run_command_inner(ctx, spec, uses_shell).await?;
    // As Ansible adds them to any result with output.
    for k in ["stdout", "stderr"] {
        if let Some(Value::String(s)) = out.values.get(k) {
            let lines = Value::Array(super::split_lines(s));
            out.values.insert(format!("{k}_lines"), lines);
        }
    }
    Ok(out)
}

async fn run_command_inner(
    ctx: &ModuleContext<'_>,
    spec: &Spec,
    uses_shell: bool,
) -> Result<Outcome, HostError> {
    let a = match spec.parse(ctx).await? {
        Ok(a) => a,
        Err(o) => return Ok(o),
    };
    let uses_shell = uses_shell || a.bool_or("_uses_shell", false);
    let raw = a.str("_raw_params").filter(|s| !s.trim().is_empty());
    let argv = a.list("argv").filter(|l| !l.is_empty());
    let fail = |msg: &str| Ok(Outcome::failed(msg).with("rc", 256).with("changed", false));
    let mut out = Outcome::ok();
    let command_text;
    let cmd_value: Value;
    let mut missing_program = None;
    match (raw, argv) {
        (None, None) => return fail("no command given"),
        (Some(_), Some(_)) => return fail("only command or argv can be given, not both"),
        (Some(text), None) if uses_shell => {
            cmd_value = Value::String(text.clone());
            command_text = match a.str("executable") {
                Some(exe) => format!("{} -c {}", shell_quote(&exe), shell_quote(&text)),
                None => text,
            };
        }
        (raw, argv) => {
            let words = match (raw, argv) {
                (Some(text), _) => match shlex_split(&text) {
                    Ok(w) => w,
                    Err(e) => return Ok(Outcome::failed(format!("cannot parse the command: {e}"))),
                },
                (None, Some(l)) => l,
                (None, None) => Vec::new(),
            };
            if a.has("executable") && !uses_shell {
                out.warnings.push(format!(
                    "As of Ansible 2.4, the parameter 'executable' is no longer supported with the 'command' module. Not using '{}'.",
                    a.str_or("executable", "")
                ));
            }
            let expand = a.bool_or("expand_argument_vars", true);
            let quoted: Vec<String> = words
                .iter()
                .map(|w| {
                    if expand {
                        expanding_word(w)
                    } else {
                        shell_quote(w)
                    }
                })
                .collect();
            command_text = if uses_shell {
                let line = words.join(" ");
                match a.str("executable") {
                    Some(exe) => format!("{} -c {}", shell_quote(&exe), shell_quote(&line)),
                    None => line,
                }
            } else {
                match quoted.first() {
                    // A program that cannot be found fails as Ansible's
                    // exec does (rc 2), not as a shell reports it (127).
                    Some(program) => format!(
                        "if command -v -- {program} >/dev/null 2>&1; then {}; else printf %s {} >&2; exit 2; fi",
                        quoted.join(" "),
                        shell_quote(NOT_FOUND)
                    ),
                    None => String::new(),
                }
            };
            missing_program = words.first().cloned();
            cmd_value = Value::Array(words.into_iter().map(Value::String).collect());
        }
    }
    out.values.insert("cmd".into(), cmd_value);
    out.values
        .insert("msg".into(), Value::String(String::new()));
    let chdir = a.str("chdir");
    if let Some(dir) = &chdir {
        let r = ctx
            .host
            .exec(&format!("cd {}", shell_quote(dir)), &ExecOptions::default())
            .await?;
        if r.rc != 0 {
            out.failed = true;
            out.msg = Some(format!(
                "Unable to change directory before execution: {}",
                r.stderr_text().trim()
            ));
            return Ok(out);
        }
    }
    let creates = a.str("creates");
    let removes = a.str("removes");
    let (creates, removes) = (creates.as_deref(), removes.as_deref());
    if ctx.check_mode {
        let guard = check_guard(ctx.host, creates, removes, chdir.as_deref()).await?;
        if guard != Guard::Run {
            return Ok(not_run(out, guard, "Would"));
        }
        out.msg = Some("Command would have run if not in check mode".into());
        out.values.insert("rc".into(), 0.into());
        if creates.is_none() && removes.is_none() {
            out.skipped = true;
        } else {
            out.changed = true;
        }
        return Ok(out);
    }
    let stdin = a.str("stdin").map(|mut s| {
        if a.bool_or("stdin_add_newline", true) {
            s.push('\n');
        }
        s.into_bytes()
    });
    let clock = Clock::start();
    // The creates/removes test travels with the command.
    let r = ctx
        .host
        .exec(
            &guarded(&command_text, creates, removes),
            &ExecOptions {
                stdin,
                chdir,
                ..ExecOptions::default()
            },
        )
        .await?;
    let guard = guard_of(&r, creates, removes);
    if guard != Guard::Run {
        return Ok(not_run(out, guard, "Did"));
    }
    clock.finish(&mut out);
    if let (2, Some(program)) = (r.rc, &missing_program) {
        if r.stderr == NOT_FOUND.as_bytes() {
            out.failed = true;
            out.msg = Some(format!(
                "Error executing command: [Errno 2] No such file or directory: b'{program}'"
            ));
            out.values.insert("rc".into(), 2.into());
            return Ok(out);
        }
    }
    out.changed = true;
    add_output(&mut out, &r, a.bool_or("strip_empty_ends", true));
    Ok(out)
}

/// The result of a command that `creates`/`removes` kept from running
/// (`shoulda`: `Would` in check mode, else `Did`): the keys of a run,
/// with no times and no error output.
fn not_run(mut out: Outcome, guard: Guard, shoulda: &str) -> Outcome {
    let stdout = match guard {
        Guard::CreatesExists(c) => {
            out.msg = Some(format!("{shoulda} not run command since '{c}' exists"));
            format!("skipped, since {c} exists")
        }
        Guard::RemovesMissing(r) => {
            out.msg = Some(format!(
                "{shoulda} not run command since '{r}' does not exist"
            ));
            format!("skipped, since {r} does not exist")
        }
        Guard::Run => String::new(),
    };
    out.with("stdout", stdout)
        .with("rc", 0)
        .with("stderr", "")
        .with("stderr_lines", Value::Array(Vec::new()))
        .with("start", Value::Null)
        .with("end", Value::Null)
        .with("delta", Value::Null)
}

#[async_trait]
impl Module for Command {
    fn name(&self) -> &'static str {
        "command"
    }

    fn spec(&self) -> Option<&'static Spec> {
        Some(&SPEC)
    }

    async fn run(&self, ctx: &ModuleContext<'_>) -> Result<Outcome, HostError> {
        run_command(ctx, &SPEC, false).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_expand_only_variables() {
        assert_eq!(expanding_word("plain"), "plain");
        assert_eq!(expanding_word("a b"), "'a b'");
        assert_eq!(expanding_word("$HOME/x"), r#""${HOME-\$HOME}"/x"#);
        assert_eq!(expanding_word("${A}b"), r#""${A-\${A\}}"b"#);
        assert_eq!(expanding_word("~/x"), "\"$HOME\"/x");
        assert_eq!(expanding_word("$(id)"), "'$(id)'");
        assert_eq!(expanding_word("a$"), "'a$'");
    }
}
