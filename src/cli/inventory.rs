//! `herd inventory`: flags as ansible-inventory spells them.

use clap::Args;

use crate::diag::Result;

#[derive(Args, Debug)]
pub struct InventoryArgs {
    /// Inventory source: a file, a directory, a script, or 'host1,host2,' (repeatable)
    #[arg(short = 'i', long = "inventory", value_name = "SOURCE")]
    pub inventory: Vec<String>,
}

pub fn run(_args: &InventoryArgs) -> Result<i32> {
    Ok(0)
}
