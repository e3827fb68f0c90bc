//! slurp — read a file on the host and return it base64-encoded.
//!
//! Arguments:
//!   src (path)   the file (required)
//!
//! Returns: content (base64), encoding (`base64`), source. Never changes
//! anything.
//!
//! Tested: tests/module_slurp.rs (text and binary, missing file, directory,
//! awkward names), rerun with a BusyBox userland (tests/module_busybox.rs)
//! and in the BusyBox SSH playbook (tests/ssh_busybox.rs); compared with
//! ansible-playbook in run conformance case 32.

use async_trait::async_trait;
use base64::Engine;

use crate::api::{HostError, Module, ModuleContext, Outcome};
use crate::args::{Param, Spec};

pub struct Slurp;

static SPEC: Spec = Spec {
    module: "slurp",
    params: &[Param::path("src").required().aliases(&["path"])],
    mutually_exclusive: &[],
    required_one_of: &[],
};

#[async_trait]
impl Module for Slurp {
    fn name(&self) -> &'static str {
        "slurp"
    }

    fn spec(&self) -> Option<&'static Spec> {
        Some(&SPEC)
    }

    async fn run(&self, ctx: &ModuleContext<'_>) -> Result<Outcome, HostError> {
        let a = match SPEC.parse(ctx).await? {
            Ok(a) => a,
            Err(o) => return Ok(o),
        };
        let src = a.str_or("src", "");
        match ctx.host.stat(&src, true).await? {
            None => return Ok(Outcome::failed(format!("file not found: {src}"))),
            Some(st) if st.kind == "directory" => {
                return Ok(Outcome::failed(format!(
                    "source is a directory and must be a file: {src}"
                )))
            }
            Some(_) => {}
        }
        let Some(data) = ctx.host.read_file(&src).await? else {
            return Ok(Outcome::failed(format!("file not found: {src}")));
        };
        Ok(Outcome::ok()
            .with(
                "content",
                base64::engine::general_purpose::STANDARD.encode(data),
            )
            .with("encoding", "base64")
            .with("source", src))
    }
}
