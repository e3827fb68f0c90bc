//! `herd playbook`: flags as ansible-playbook spells them.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::Args;

use crate::config::Config;
use crate::diag::{exit, Diagnostic, Result};
use crate::inventory::{Inventory, UnparsedPolicy};
use crate::playbook::{load_playbook, LoadOptions, Playbook};
use crate::tags::TagSelection;
use crate::template::{Templar, Vars};
use crate::value::{Map, Value};

use super::listing::{self, ListOptions};

#[derive(Args, Debug, Default)]
pub struct PlaybookArgs {
    /// Playbook files
    #[arg(required = true, value_name = "PLAYBOOK")]
    pub playbooks: Vec<String>,

    /// Inventory source: a file, a directory, a script, or a host list
    /// such as 'web1,web2,' (repeatable; default from ansible.cfg or
    /// ANSIBLE_INVENTORY)
    #[arg(
        short = 'i',
        long = "inventory",
        visible_alias = "inventory-file",
        value_name = "SOURCE"
    )]
    pub inventory: Vec<String>,

    /// Further limit the selected hosts with a pattern ('web:!web3',
    /// '@retry_file'); given twice, the last one counts
    #[arg(
        short = 'l',
        long = "limit",
        value_name = "SUBSET",
        overrides_with = "limit"
    )]
    pub limit: Option<String>,

    /// Extra variables: key=value pairs, YAML/JSON, or @file (repeatable;
    /// they beat every other variable)
    #[arg(short = 'e', long = "extra-vars", value_name = "VARS")]
    pub extra_vars: Vec<String>,

    /// Only plays and tasks tagged with these values (comma-separated,
    /// repeatable)
    #[arg(short = 't', long = "tags", value_name = "TAGS")]
    pub tags: Vec<String>,

    /// Only plays and tasks whose tags do not match these values
    #[arg(long = "skip-tags", value_name = "TAGS")]
    pub skip_tags: Vec<String>,

    /// Check the playbook's syntax and structure, run nothing
    #[arg(long = "syntax-check")]
    pub syntax_check: bool,

    /// List the hosts each play would run on
    #[arg(long = "list-hosts")]
    pub list_hosts: bool,

    /// List the tasks each play would run
    #[arg(long = "list-tasks")]
    pub list_tasks: bool,

    /// List the tags of each play's tasks
    #[arg(long = "list-tags")]
    pub list_tags: bool,

    /// Check mode: sets ansible_check_mode
    #[arg(short = 'C', long = "check")]
    pub check: bool,

    /// Diff mode: sets ansible_diff_mode
    #[arg(short = 'D', long = "diff")]
    pub diff: bool,

    /// More output (-vvv for more)
    #[arg(short = 'v', long = "verbose", action = clap::ArgAction::Count)]
    pub verbose: u8,
}

/// Everything a playbook command needs, loaded once.
pub struct Session {
    pub config: Config,
    pub inventory: Inventory,
    pub extra_vars: Map<String, Value>,
    pub templar: Arc<Templar>,
    pub tags: TagSelection,
}

pub fn run(args: &PlaybookArgs) -> Result<i32> {
    let config = Config::load()?;
    for pb in &args.playbooks {
        let path = Path::new(pb);
        if !path.exists() {
            return Err(
                Diagnostic::new(format!("the playbook: {pb} could not be found"))
                    .hint("check the path, relative to the current directory"),
            );
        }
        if !path.is_file() {
            return Err(Diagnostic::new(format!(
                "the playbook: {pb} does not appear to be a file"
            )));
        }
    }
    let extra_vars = crate::vars::parse_extra_vars(&args.extra_vars, split_extra_kv)?;
    let sources = if args.inventory.is_empty() {
        config.inventory.clone()
    } else {
        args.inventory.clone()
    };
    let inventory = Inventory::load_with(&sources, &UnparsedPolicy::from_config(&config))?;
    check_limit(&inventory, args.limit.as_deref())?;

    let templar = Arc::new(Templar::new());
    let session = Session {
        tags: TagSelection::new(&args.tags, &args.skip_tags),
        config,
        inventory,
        extra_vars,
        templar,
    };
    let listing = args.list_hosts || args.list_tasks || args.list_tags;
    if !args.syntax_check && !listing {
        return Err(
            Diagnostic::new("running plays is not available in this version of herd")
                .hint("use --syntax-check, --list-hosts, --list-tasks or --list-tags")
                .code(exit::ERROR),
        );
    }
    let mut tags = session.tags.clone();
    if args.list_tags && args.tags.is_empty() && args.skip_tags.is_empty() {
        // Listing tags shows every tag, `never` included, unless the user
        // selected some (as ansible-playbook).
        tags.only = vec!["never".into(), "all".into()];
    }
    let opts = ListOptions {
        syntax_only: args.syntax_check,
        hosts: args.list_hosts,
        tasks: args.list_tasks,
        tags: args.list_tags,
        selection: tags,
        limit: args.limit.clone(),
        check_mode: args.check,
        diff_mode: args.diff,
        verbosity: args.verbose,
    };
    let mut out = String::new();
    for pb in &args.playbooks {
        let playbook = load(&session, Path::new(pb))?;
        out.push_str(&listing::render(&session, pb, &playbook, &opts)?);
    }
    print!("{out}");
    Ok(0)
}

/// Loads a playbook with the roles path and templating of the session.
pub fn load(session: &Session, path: &Path) -> Result<Playbook> {
    let templar = session.templar.clone();
    let mut roles_path: Vec<PathBuf> = session.config.roles_path.clone();
    roles_path.dedup();
    let opts = LoadOptions {
        roles_path,
        library: session.config.library.clone(),
        extra_vars: session.extra_vars.clone(),
        render: Some(Box::new(move |text: &str, vars: &Map<String, Value>| {
            let v = templar.render_str(
                text,
                &Vars {
                    vars: vars.clone(),
                    hostvars: None,
                },
            )?;
            Ok(crate::value::py_str(&v))
        })),
    };
    load_playbook(path, &opts)
}

/// `key=value` pairs of `-e`, split as Ansible splits them.
fn split_extra_kv(text: &str) -> Result<Map<String, Value>> {
    crate::playbook::parse_kv(text, false).map_err(|_| {
        Diagnostic::new(format!(
            "could not parse the extra vars '{text}': a quote is not closed"
        ))
        .hint("quote values that hold spaces: -e 'key=\"a b\"'")
    })
}

/// A `--limit` that leaves no host to target is an error (exit code 1), as
/// in ansible-playbook; an empty inventory is only a warning.
fn check_limit(inventory: &Inventory, limit: Option<&str>) -> Result<()> {
    let all = inventory.select("all")?;
    if all.is_empty() {
        crate::diag::warn(
            "provided hosts list is empty, only localhost is available. Note that the implicit localhost does not match 'all'",
        );
        return Ok(());
    }
    if let Some(limit) = limit {
        if inventory.apply_limit(all, limit)?.is_empty() {
            return Err(Diagnostic::new(
                "Specified inventory, host pattern and/or --limit leaves us with no hosts to target.",
            )
            .hint("check the --limit pattern against `herd inventory --graph`"));
        }
    }
    Ok(())
}
