//! The command line: `herd playbook`, `herd inventory`, flags spelled as
//! ansible-playbook and ansible-inventory spell them.

pub mod adhoc;
pub mod doc;
pub mod inventory;
pub mod listing;
pub mod playbook;
pub mod vault;

use clap::{Parser, Subcommand};

use crate::diag::{exit, Diagnostic};

/// Runs Ansible playbooks, inventories and roles over plain SSH, with
/// nothing to install on the managed hosts.
#[derive(Parser, Debug)]
#[command(name = "herd", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Check, list or run a playbook (as ansible-playbook)
    Playbook(playbook::PlaybookArgs),
    /// Show the inventory as herd reads it (as ansible-inventory)
    Inventory(inventory::InventoryArgs),
    /// Run one module on the hosts a pattern selects (as ansible)
    Adhoc(adhoc::AdhocArgs),
    /// Show a module's documentation and arguments (as ansible-doc)
    Doc(doc::DocArgs),
    /// Encrypt, decrypt, view and edit vaulted files and strings (as
    /// ansible-vault)
    Vault(vault::VaultArgs),
}

/// Parses the command line, runs the command and returns the exit code.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { exit::USAGE } else { 0 };
            let _ = e.print();
            return code;
        }
    };
    let result = match &cli.command {
        Command::Playbook(args) => playbook::run(args),
        Command::Inventory(args) => inventory::run(args),
        Command::Adhoc(args) => adhoc::run(args),
        Command::Doc(args) => doc::run(args),
        Command::Vault(args) => vault::run(args),
    };
    match result {
        Ok(code) => code,
        Err(d) => report(&d),
    }
}

/// Prints an error to stderr and returns its exit code.
pub fn report(d: &Diagnostic) -> i32 {
    use std::io::Write;
    let _ = writeln!(anstream::stderr(), "{d}");
    d.exit_code
}

/// `ansible -v` and `ansible-playbook -v` name their configuration first,
/// on stdout.
pub fn announce_config(config: &crate::config::Config, verbosity: u8) {
    if verbosity > 0 {
        match &config.file {
            Some(f) => println!("Using {} as config file", f.display()),
            None => println!("No config file found; using defaults"),
        }
    }
}
