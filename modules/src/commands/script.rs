//! script — copy a local script to the host and run it there.
//!
//! The script is looked up like other controller files (the role's and the
//! playbook's `files/`), pushed (streamed in chunks) to a private
//! temporary directory on the host, run, and removed.
//!
//! Arguments:
//!   free form / cmd   the script's path followed by its arguments
//!   chdir             absolute directory to run in
//!   creates           a path: if it exists, do not run
//!   removes           a path: if it does not exist, do not run
//!   executable        run the script with this interpreter
//!
//! Returns: rc, stdout, stderr, stdout_lines, stderr_lines. A non-zero
//! exit status fails the task. In check mode it is skipped unless
//! creates/removes decide it.
//!
//! Tested: tests/module_command.rs (arguments, chdir, creates/removes,
//! executable, check mode), the BusyBox SSH playbook
//! (tests/ssh_busybox.rs); compared with ansible-playbook in run
//! conformance case 32.

use async_trait::async_trait;

use super::{add_output, check_guard, shlex_split, Guard};
use crate::api::{shell_quote, ExecOptions, HostError, Module, ModuleContext, Outcome};
use crate::args::{Param, Spec};

pub struct Script;

static SPEC: Spec = Spec {
    module: "script",
    params: &[
        Param::str("_raw_params").aliases(&["cmd"]),
        Param::str("creates"),
        Param::str("removes"),
        Param::str("chdir"),
        Param::str("executable"),
        Param::bool("decrypt").default("true"),
    ],
    mutually_exclusive: &[],
    required_one_of: &[&["_raw_params"]],
};

/// Where the first shell word of `s` ends (quotes and backslashes
/// respected), so the rest of the line can be kept as written.
fn first_word_end(s: &str) -> usize {
    let mut quote = None;
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match (quote, c) {
            (None, c) if c.is_whitespace() => return i,
            (None, '\\') | (Some('"'), '\\') => escaped = true,
            (None, '\'' | '"') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            _ => {}
        }
    }
    s.len()
}

#[async_trait]
impl Module for Script {
    fn name(&self) -> &'static str {
        "script"
    }

    fn spec(&self) -> Option<&'static Spec> {
        Some(&SPEC)
    }

    async fn run(&self, ctx: &ModuleContext<'_>) -> Result<Outcome, HostError> {
        let a = match SPEC.parse(ctx).await? {
            Ok(a) => a,
            Err(o) => return Ok(o),
        };
        let raw = a.str_or("_raw_params", "");
        let raw = raw.trim();
        let words = match shlex_split(raw) {
            Ok(w) if !w.is_empty() => w,
            Ok(_) => return Ok(Outcome::failed("no script given")),
            Err(e) => return Ok(Outcome::failed(format!("cannot parse the command: {e}"))),
        };
        let creates = a.str("creates");
        let removes = a.str("removes");
        match check_guard(ctx.host, creates.as_deref(), removes.as_deref(), None).await? {
            Guard::Run => {}
            Guard::CreatesExists(c) => {
                let mut o = Outcome::ok();
                o.skipped = true;
                o.msg = Some(format!("{c} exists, matching creates option"));
                return Ok(o);
            }
            Guard::RemovesMissing(r) => {
                let mut o = Outcome::ok();
                o.skipped = true;
                o.msg = Some(format!("{r} does not exist, matching removes option"));
                return Ok(o);
            }
        }
        let chdir = a.str("chdir");
        if let Some(dir) = &chdir {
            if !dir.starts_with('/') {
                return Ok(Outcome::failed(format!(
                    "chdir {dir} must be an absolute path for a Unix-aware remote node"
                )));
            }
        }
        let source = &words[0];
        let Some(local) = ctx.controller.find_file("files", source) else {
            return Ok(Outcome::failed(format!(
                "Could not find or access '{source}' on the Ansible Controller."
            )));
        };
        if let Err(e) = std::fs::File::open(&local) {
            return Ok(Outcome::failed(format!(
                "Could not read '{}': {e}",
                local.display()
            )));
        }
        let plain = match crate::files::copy::decrypted(ctx, &a, &local) {
            Ok(p) => p,
            Err(e) => return Ok(Outcome::failed(e)),
        };
        if ctx.check_mode {
            if creates.is_some() || removes.is_some() {
                return Ok(Outcome::changed());
            }
            let mut o = Outcome::ok();
            o.skipped = true;
            o.msg = Some("Check mode is not supported for this task.".into());
            return Ok(o);
        }
        let mk = ctx
            .host
            .exec(
                "umask 077 && mktemp -d \"${TMPDIR:-/tmp}/herd-script.XXXXXXXX\"",
                &ExecOptions::default(),
            )
            .await?;
        let dir = mk.stdout_text().trim().to_string();
        if mk.rc != 0 || dir.is_empty() {
            return Ok(Outcome::failed(format!(
                "could not create a temporary directory on the host: {}",
                mk.stderr_text().trim()
            )));
        }
        let base = local
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "script".into());
        let tmp = format!("{dir}/{base}");
        let result = async {
            // Sent in chunks from the file, however big the script.
            ctx.host
                .write_from(
                    &tmp,
                    crate::files::copy::local_source(&local, &plain),
                    Some(0o700),
                )
                .await?;
            // The arguments after the script name are shell text, as in
            // Ansible, so variables and quoting in them work as written.
            let rest = &raw[first_word_end(raw)..];
            let command = match a.str("executable") {
                Some(exe) => format!("{} {}{}", shell_quote(&exe), shell_quote(&tmp), rest),
                None => format!("{}{}", shell_quote(&tmp), rest),
            };
            let opts = ExecOptions {
                chdir,
                ..ExecOptions::default()
            };
            let mut r = ctx.host.exec(&command, &opts).await?;
            // A file just written can be briefly "busy" for exec(2) when a
            // process forked meanwhile still holds the writer's descriptor
            // (seen with the local connection); it clears within moments,
            // so the host waits a second and tries again.
            for _ in 0..3 {
                if !(r.rc == 126 && r.stderr_text().contains("Text file busy")) {
                    break;
                }
                r = ctx.host.exec(&format!("sleep 1; {command}"), &opts).await?;
            }
            Ok::<_, HostError>(r)
        }
        .await;
        let _ = ctx
            .host
            .exec(
                &format!("rm -rf {}", shell_quote(&dir)),
                &ExecOptions::default(),
            )
            .await;
        let r = result?;
        let mut out = Outcome::changed();
        add_output(&mut out, &r, false);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::first_word_end;

    #[test]
    fn first_word() {
        assert_eq!(first_word_end("'a b' c"), 5);
        assert_eq!(first_word_end("a\\ b c"), 4);
        assert_eq!(first_word_end("abc"), 3);
    }
}
