//! ping — check that the host can be reached and run commands.
//!
//! Arguments:
//!   data   the value to return as `ping` (default `pong`); `crash` makes
//!          the module fail, to test failure handling
//!
//! Returns: ping.
//!
//! Tested: tests/module_ping.rs (data, crash, bad args); compared with
//! ansible-playbook in run conformance cases 32 and 33.

use async_trait::async_trait;

use crate::api::{ExecOptions, HostError, Module, ModuleContext, Outcome};
use crate::args::{Param, Spec};

pub struct Ping;

static SPEC: Spec = Spec {
    module: "ping",
    params: &[Param::str("data").default("pong")],
    mutually_exclusive: &[],
    required_one_of: &[],
};

#[async_trait]
impl Module for Ping {
    fn name(&self) -> &'static str {
        "ping"
    }

    fn spec(&self) -> Option<&'static Spec> {
        Some(&SPEC)
    }

    async fn run(&self, ctx: &ModuleContext<'_>) -> Result<Outcome, HostError> {
        let a = match SPEC.parse(ctx).await? {
            Ok(a) => a,
            Err(o) => return Ok(o),
        };
        let data = a.str_or("data", "pong");
        if data == "crash" {
            return Ok(Outcome::failed("boom"));
        }
        // A real round trip: reaching the host is what ping checks.
        let r = ctx.host.exec("true", &ExecOptions::default()).await?;
        if r.rc != 0 {
            return Ok(Outcome::failed(format!(
                "the host's shell failed: {}",
                r.stderr_text().trim()
            )));
        }
        Ok(Outcome::ok().with("ping", data))
    }
}
