//! raw — send a command line to the host's shell as it is.
//!
//! No argument parsing, no check-mode support (the task is skipped in
//! check mode), always reported as changed.
//!
//! Arguments:
//!   free form    the command line
//!   executable   the shell to run it with (default: the connection's sh)
//!
//! Returns: rc, stdout, stderr, stdout_lines, stderr_lines. A non-zero
//! exit status fails the task.
//!
//! Tested: tests/module_command.rs and tests/adhoc_output.rs, rerun with a
//! BusyBox userland (tests/module_busybox.rs) and in the BusyBox SSH
//! playbook (tests/ssh_busybox.rs); compared with ansible-playbook in run
//! conformance case 32 (ansible's pty-merged output is a listed
//! difference).

use async_trait::async_trait;

use super::add_output;
use crate::api::{shell_quote, ExecOptions, HostError, Module, ModuleContext, Outcome};
use crate::args::{Param, Spec};

pub struct Raw;

static SPEC: Spec = Spec {
    module: "raw",
    params: &[
        Param::str("_raw_params").required(),
        Param::str("executable"),
    ],
    mutually_exclusive: &[],
    required_one_of: &[],
};

#[async_trait]
impl Module for Raw {
    fn name(&self) -> &'static str {
        "raw"
    }

    fn spec(&self) -> Option<&'static Spec> {
        Some(&SPEC)
    }

    async fn run(&self, ctx: &ModuleContext<'_>) -> Result<Outcome, HostError> {
        let a = match SPEC.parse(ctx).await? {
            Ok(a) => a,
            Err(o) => return Ok(o),
        };
        if ctx.check_mode {
            return Ok(Outcome {
                skipped: true,
                ..Outcome::ok()
            });
        }
        let text = a.str_or("_raw_params", "");
        let command = match a.str("executable") {
            Some(exe) => format!("{} -c {}", shell_quote(&exe), shell_quote(&text)),
            None => text,
        };
        let r = ctx.host.exec(&command, &ExecOptions::default()).await?;
        let mut out = Outcome::changed();
        add_output(&mut out, &r, false);
        Ok(out)
    }
}
