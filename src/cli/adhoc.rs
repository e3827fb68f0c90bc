//! `herd adhoc`: one module on the hosts a pattern selects, as `ansible`
//! runs it.

use std::sync::Arc;

use clap::Args;

use crate::config::Config;
use crate::diag::{Diagnostic, Result};
use crate::inventory::{Inventory, UnparsedPolicy};
use crate::template::Templar;

use super::playbook::{runtime, LineSink, RunFlags};

#[derive(Args, Debug, Default)]
pub struct AdhocArgs {
    /// Host pattern ('all', 'web:!web3', a host name)
    #[arg(value_name = "PATTERN")]
    pub pattern: String,

    /// Module to run
    #[arg(short = 'm', long = "module-name", default_value = "command")]
    pub module: String,

    /// The module's arguments: free-form text or key=value pairs (or
    /// YAML/JSON starting with '{')
    #[arg(short = 'a', long = "args", value_name = "MODULE_ARGS")]
    pub args: Option<String>,

    /// Inventory source (repeatable)
    #[arg(
        short = 'i',
        long = "inventory",
        visible_alias = "inventory-file",
        value_name = "SOURCE"
    )]
    pub inventory: Vec<String>,

    /// Further limit the selected hosts with a pattern
    #[arg(
        short = 'l',
        long = "limit",
        value_name = "SUBSET",
        overrides_with = "limit"
    )]
    pub limit: Option<String>,

    /// Extra variables: key=value pairs, YAML/JSON, or @file (repeatable)
    #[arg(short = 'e', long = "extra-vars", value_name = "VARS")]
    pub extra_vars: Vec<String>,

    /// Check mode
    #[arg(short = 'C', long = "check")]
    pub check: bool,

    /// Diff mode
    #[arg(short = 'D', long = "diff")]
    pub diff: bool,

    /// More output (-vvv for more)
    #[arg(short = 'v', long = "verbose", action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Condense output: one line per host
    #[arg(short = 'o', long = "one-line")]
    pub one_line: bool,

    #[command(flatten)]
    pub run: RunFlags,
}

pub fn run(args: &AdhocArgs) -> Result<i32> {
    let config = Config::load()?;
    let extra_vars = crate::vars::parse_extra_vars(&args.extra_vars, |t| {
        crate::playbook::parse_kv(t, false)
            .map_err(|_| Diagnostic::new(format!("could not parse the extra vars '{t}'")))
    })?;
    let sources = if args.inventory.is_empty() {
        config.inventory.clone()
    } else {
        args.inventory.clone()
    };
    let inventory = Inventory::load_with(&sources, &UnparsedPolicy::from_config(&config))?;
    let info = herd_modules::lookup(&args.module);
    let free_form = info.is_some_and(|i| i.free_form);
    let text = args.args.clone().unwrap_or_default();
    let module_args = if text.trim_start().starts_with('{') {
        match crate::yaml::load_str(&text, "<module args>")?.to_value() {
            serde_json::Value::Object(m) => m,
            _ => {
                return Err(Diagnostic::new("the module arguments must be a mapping")
                    .hint("-a 'key=value ...' or -a '{\"key\": \"value\"}'"))
            }
        }
    } else {
        crate::playbook::parse_kv(&text, free_form).map_err(|_| {
            Diagnostic::new(format!(
                "could not parse the module arguments '{text}': a quote is not closed"
            ))
        })?
    };
    if matches!(
        args.module.as_str(),
        "command" | "shell" | "ansible.builtin.command" | "ansible.builtin.shell"
    ) && !module_args.contains_key("_raw_params")
        && !module_args.contains_key("cmd")
        && !module_args.contains_key("argv")
    {
        return Err(
            Diagnostic::new(format!("No argument passed to {} module", args.module))
                .hint("give the command with -a, e.g. -a 'uptime'")
                .code(crate::diag::exit::BAD_OPTIONS),
        );
    }
    let mut opts = args.run.options(&config)?;
    opts.check = args.check;
    opts.diff = args.diff;
    opts.verbosity = args.verbose;
    opts.limit = args.limit.clone();
    opts.extra_vars = extra_vars;
    let sink: Box<dyn crate::report::Sink> = if args.one_line {
        Box::new(LineSink {
            verbosity: args.verbose.max(1),
            stats: Default::default(),
            one_line: true,
        })
    } else {
        // Ad-hoc results are always shown in full, as `ansible` shows them.
        super::playbook::output_sink(&config, args.verbose.max(1))
    };
    let rt = runtime()?;
    let (result, fatal) = rt.block_on(crate::exec::run_adhoc(
        &args.pattern,
        &args.module,
        module_args,
        inventory,
        Arc::new(Templar::new()),
        opts,
        sink,
    ));
    if let Some(d) = fatal {
        super::report(&d);
    }
    Ok(result.exit_code)
}
