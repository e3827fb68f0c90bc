//! `herd inventory`: shows the inventory as herd reads it, with the flags
//! and the exact output of ansible-inventory.
//!
//! ```text
//! herd inventory -i hosts.ini --list            # JSON, as an inventory script prints it
//! herd inventory -i hosts.ini --graph --vars    # tree of groups and hosts
//! herd inventory -i hosts.ini --host web1       # one host's variables
//! ```

use std::path::PathBuf;

use clap::Args;

use crate::config::Config;
use crate::diag::{exit, Diagnostic, Result};
use crate::inventory::output::{self, View};
use crate::inventory::Inventory;
use crate::inventory::UnparsedPolicy;

/// The flags of `herd inventory`, spelled as ansible-inventory's.
#[derive(Args, Debug)]
pub struct InventoryArgs {
    /// Inventory source: a file, a directory, a script, or 'host1,host2,' (repeatable)
    #[arg(short = 'i', long = "inventory", value_name = "SOURCE")]
    pub inventory: Vec<String>,

    /// Output all hosts info, works as an inventory script
    #[arg(long = "list")]
    pub list: bool,

    /// Output one host's variables, works as an inventory script; ignores --limit
    #[arg(long = "host", value_name = "HOST")]
    pub host: Option<String>,

    /// Draw the inventory as a tree, from GROUP (default: all); ignores --limit
    #[arg(long = "graph")]
    pub graph: bool,

    /// The group to start --graph at
    #[arg(value_name = "GROUP")]
    pub group: Option<String>,

    /// Add variables to the --graph tree
    #[arg(long = "vars")]
    pub vars: bool,

    /// Print YAML instead of JSON (ignored for --graph)
    #[arg(short = 'y', long = "yaml")]
    pub yaml: bool,

    /// Show each host's and group's own variables instead of flattened host variables
    #[arg(long = "export")]
    pub export: bool,

    /// The playbook directory: its group_vars/ and host_vars/ are read too
    #[arg(long = "playbook-dir", value_name = "BASEDIR")]
    pub playbook_dir: Option<PathBuf>,

    /// Further limit the hosts shown by --list to a pattern (@file reads patterns from a file)
    #[arg(short = 'l', long = "limit", value_name = "SUBSET")]
    pub limit: Option<String>,

    /// With --list, write the inventory to this file instead of stdout
    #[arg(long = "output", value_name = "OUTPUT_FILE")]
    pub output: Option<PathBuf>,

    #[command(flatten)]
    pub vault: super::vault::VaultFlags,
}

fn options_error(msg: &str) -> Diagnostic {
    Diagnostic::new(msg).code(exit::BAD_OPTIONS)
}

/// Runs `herd inventory`: loads the sources (`-i`, else the configured
/// ones) and prints the chosen view. Option mistakes exit 5, as
/// ansible-inventory's; inventory errors exit 1.
pub fn run(args: &InventoryArgs) -> Result<i32> {
    let actions =
        usize::from(args.list) + usize::from(args.host.is_some()) + usize::from(args.graph);
    if actions == 0 {
        return Err(options_error(
            "No action selected, at least one of --host, --graph or --list needs to be specified.",
        ));
    }
    if actions > 1 {
        return Err(options_error(
            "Conflicting options used, only one of --host, --graph or --list can be used at the same time.",
        ));
    }
    let config = Config::load()?;
    args.vault.install(&config)?;
    let sources = if args.inventory.is_empty() {
        config.inventory.clone()
    } else {
        args.inventory.clone()
    };
    let inv = Inventory::load_with(&sources, &UnparsedPolicy::from_config(&config))?;
    let playbook_dir = args.playbook_dir.as_deref().map(output::abs);
    let view = View {
        inv: &inv,
        vars_basedir: Some(
            playbook_dir
                .clone()
                .unwrap_or_else(|| output::abs(std::path::Path::new("."))),
        ),
        playbook_dir,
        export: args.export,
    };
    let text = if let Some(pattern) = &args.host {
        let hosts = inv.select(pattern)?;
        if hosts.len() != 1 {
            return Err(options_error(
                "You must pass a single valid host to --host parameter",
            ));
        }
        let vars = serde_json::Value::Object(view.host_vars(&hosts[0])?);
        dump(args, &output::strip_unsafe(&vars))
    } else if args.graph {
        let group = args.group.as_deref().unwrap_or("all");
        if !inv.groups.contains_key(group) {
            return Err(options_error(
                "Pattern must be valid group name when using --graph",
            ));
        }
        view.graph(group, args.vars)?
    } else {
        let mut hosts = inv.select("all")?;
        if let Some(limit) = &args.limit {
            hosts = inv.apply_limit(hosts, limit)?;
        }
        if args.yaml {
            dump(args, &view.list_yaml(&hosts)?)
        } else {
            dump(args, &view.list(&hosts)?)
        }
    };
    match &args.output {
        None => {
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            // As Ansible's display: a newline only when the text lacks one.
            let nl = if text.ends_with('\n') { "" } else { "\n" };
            let _ = write!(out, "{text}{nl}");
        }
        Some(path) => std::fs::write(path, text).map_err(|e| {
            Diagnostic::new(format!(
                "Unable to write to destination file '{}': {e}",
                path.display()
            ))
        })?,
    }
    Ok(0)
}

fn dump(args: &InventoryArgs, v: &serde_json::Value) -> String {
    if args.yaml {
        output::to_python_yaml(v)
    } else {
        output::to_python_json(v)
    }
}
