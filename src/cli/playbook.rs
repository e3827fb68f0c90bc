//! `herd playbook`: flags as ansible-playbook spells them.

use clap::Args;

use crate::diag::Result;

#[derive(Args, Debug)]
pub struct PlaybookArgs {
    /// Playbook files to check, list or run
    #[arg(required = true, value_name = "PLAYBOOK")]
    pub playbooks: Vec<String>,
}

pub fn run(_args: &PlaybookArgs) -> Result<i32> {
    Ok(0)
}
