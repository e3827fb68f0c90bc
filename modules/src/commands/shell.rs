//! shell — run a command line through a shell on the host.
//!
//! Unlike `command`, pipes, redirections, variables, `;` and `&&` work.
//!
//! Arguments: as `command` (free form / cmd, chdir, creates, removes,
//! stdin, stdin_add_newline, strip_empty_ends), plus:
//!   executable   the shell to use (default /bin/sh)
//!
//! Returns: cmd (the command line), rc, stdout, stderr, stdout_lines,
//! stderr_lines, start, end, delta, msg. A non-zero exit status fails the
//! task. In check mode the command is skipped unless creates/removes
//! decide it.
//!
//! Tested: tests/module_command.rs (executable, pipes, chdir,
//! creates/removes, stdin, check mode), rerun with a BusyBox userland
//! (tests/module_busybox.rs) and in the BusyBox SSH playbook
//! (tests/ssh_busybox.rs); compared with ansible-playbook in run
//! conformance cases 16 and 32.

use async_trait::async_trait;

use super::command::run_command;
use crate::api::{HostError, Module, ModuleContext, Outcome};
use crate::args::{Param, Spec};

pub struct Shell;

static SPEC: Spec = Spec {
    module: "shell",
    params: &[
        Param::str("_raw_params").aliases(&["cmd"]),
        Param::bool("_uses_shell"),
        Param::list("argv"),
        Param::path("chdir"),
        Param::str("executable"),
        Param::bool("expand_argument_vars"),
        Param::path("creates"),
        Param::path("removes"),
        Param::str("stdin"),
        Param::bool("stdin_add_newline").default("true"),
        Param::bool("strip_empty_ends"),
    ],
    mutually_exclusive: &[],
    required_one_of: &[],
};

#[async_trait]
impl Module for Shell {
    fn name(&self) -> &'static str {
        "shell"
    }

    fn spec(&self) -> Option<&'static Spec> {
        Some(&SPEC)
    }

    async fn run(&self, ctx: &ModuleContext<'_>) -> Result<Outcome, HostError> {
        run_command(ctx, &SPEC, true).await
    }
}
