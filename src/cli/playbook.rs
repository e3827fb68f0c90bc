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

    /// Check mode: change nothing, report what would change
    #[arg(short = 'C', long = "check")]
    pub check: bool,

    /// Show the differences in files and templates that change
    #[arg(short = 'D', long = "diff")]
    pub diff: bool,

    /// More output (-vvv for more)
    #[arg(short = 'v', long = "verbose", action = clap::ArgAction::Count)]
    pub verbose: u8,

    #[command(flatten)]
    pub run: RunFlags,

    #[command(flatten)]
    pub vault: super::vault::VaultFlags,

    /// Start the playbook at the task with this name
    #[arg(long = "start-at-task", value_name = "START_AT_TASK")]
    pub start_at_task: Option<String>,

    /// Clear the fact cache (herd keeps no fact cache between runs, so this has no effect)
    #[arg(long = "flush-cache")]
    pub flush_cache: bool,

    /// Directories of custom modules, colon-separated (repeatable); put
    /// before the `library` of ansible.cfg and ANSIBLE_LIBRARY
    #[arg(short = 'M', long = "module-path", value_name = "MODULE_PATH")]
    pub module_path: Vec<String>,

    /// Run handlers even if a task fails
    #[arg(long = "force-handlers")]
    pub force_handlers: bool,

    /// Output format: 'human' (ansible-playbook's default output) or
    /// 'json' (one JSON document at the end, as ansible.posix.json writes
    /// it); default from stdout_callback in ansible.cfg or
    /// ANSIBLE_STDOUT_CALLBACK, else human
    #[arg(long = "format", value_enum, value_name = "FORMAT")]
    pub format: Option<OutputFormat>,
}

/// What `herd playbook` writes on stdout.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutputFormat {
    /// The default callback's output: banners, one line per host, recap
    Human,
    /// The `ansible.posix.json` callback's document
    Json,
}

/// Connection, privilege and parallelism flags shared by `herd playbook`
/// and `herd adhoc`, spelled as ansible-playbook spells them.
#[derive(Args, Debug, Default, Clone)]
pub struct RunFlags {
    /// Run operations with become (does not imply password prompting)
    #[arg(short = 'b', long = "become")]
    pub become_: bool,

    /// Privilege escalation method to use (default: sudo)
    #[arg(long = "become-method", value_name = "BECOME_METHOD")]
    pub become_method: Option<String>,

    /// Run operations as this user (default: root)
    #[arg(long = "become-user", value_name = "BECOME_USER")]
    pub become_user: Option<String>,

    /// Ask for the privilege escalation password
    #[arg(short = 'K', long = "ask-become-pass")]
    pub ask_become_pass: bool,

    /// Ask for the connection password
    #[arg(short = 'k', long = "ask-pass")]
    pub ask_pass: bool,

    /// Connect as this user
    #[arg(short = 'u', long = "user", value_name = "REMOTE_USER")]
    pub user: Option<String>,

    /// Use this file to authenticate the connection
    #[arg(
        long = "private-key",
        visible_alias = "key-file",
        value_name = "PRIVATE_KEY_FILE"
    )]
    pub private_key: Option<String>,

    /// Connection type to use (default: ssh)
    #[arg(short = 'c', long = "connection", value_name = "CONNECTION")]
    pub connection: Option<String>,

    /// Override the connection timeout in seconds
    #[arg(short = 'T', long = "timeout", value_name = "TIMEOUT")]
    pub timeout: Option<u64>,

    /// Number of parallel processes to use (default from ansible.cfg, else 50)
    #[arg(short = 'f', long = "forks", value_name = "FORKS")]
    pub forks: Option<usize>,
}

impl RunFlags {
    /// The run options these flags (and the configuration) give.
    pub fn options(&self, config: &Config) -> Result<crate::exec::RunOptions> {
        let password = if self.ask_pass {
            Some(prompt_password("SSH password: ")?)
        } else {
            None
        };
        let become_password = if self.ask_become_pass || (config.become_ask_pass && !self.ask_pass)
        {
            let p = prompt_password("BECOME password[defaults to SSH password]: ")?;
            Some(if p.is_empty() {
                password.clone().unwrap_or_default()
            } else {
                p
            })
        } else {
            None
        };
        if self.forks == Some(0) {
            return Err(
                Diagnostic::new("The number of processes (--forks) must be >= 1").code(exit::USAGE),
            );
        }
        Ok(crate::exec::RunOptions {
            config: config.clone(),
            cli: crate::vars::CliConnection {
                remote_user: self.user.clone(),
                connection: self.connection.clone(),
                timeout: self.timeout,
                private_key_file: self.private_key.clone(),
                become_: self.become_,
                become_method: self.become_method.clone(),
                become_user: self.become_user.clone(),
            },
            password,
            become_password,
            forks: self.forks.unwrap_or(config.forks),
            roles_path: config.roles_path.clone(),
            ..Default::default()
        })
    }
}

/// Asks for a password on the terminal without echoing it. With no
/// terminal there is nobody to ask: that is an error, not a hang.
pub fn prompt_password(prompt: &str) -> Result<String> {
    match crate::exec::prompt_line(prompt, false) {
        Ok(Some(p)) => Ok(p),
        Ok(None) => Err(Diagnostic::new(format!(
            "cannot ask for a password ('{}'): standard input is not a terminal",
            prompt.trim_end_matches([' ', ':'])
        ))
        .hint("run herd from a terminal, or set ansible_password / ansible_become_password")),
        Err(e) => Err(Diagnostic::new(format!("could not read the password: {e}"))),
    }
}

/// Puts the `-M`/`--module-path` directories (each colon-separated)
/// before the configured `library`.
pub fn prepend_library(config: &mut Config, module_path: &[String]) {
    let mut library: Vec<PathBuf> = module_path
        .iter()
        .flat_map(|p| p.split(':'))
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .collect();
    library.append(&mut config.library);
    config.library = library;
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
    let mut config = Config::load()?;
    super::announce_config(&config, args.verbose);
    prepend_library(&mut config, &args.module_path);
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
    args.vault.install(&config)?;
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
        return run_plays(args, session);
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

/// Runs the playbooks' plays, in order, as one run with one recap.
fn run_plays(args: &PlaybookArgs, session: Session) -> Result<i32> {
    let mut plays = Vec::new();
    for pb in &args.playbooks {
        plays.extend(load(&session, Path::new(pb))?.plays);
    }
    let playbook = Playbook {
        path: PathBuf::from(&args.playbooks[0]),
        plays,
    };
    let mut opts = args.run.options(&session.config)?;
    opts.check = args.check;
    opts.diff = args.diff;
    opts.verbosity = args.verbose;
    opts.tags = session.tags.clone();
    opts.limit = args.limit.clone();
    opts.extra_vars = session.extra_vars.clone();
    opts.start_at_task = args.start_at_task.clone();
    opts.force_handlers = args.force_handlers;
    opts.flush_cache = args.flush_cache;
    let json = args.format.map(|f| f == OutputFormat::Json);
    let sink = output_sink(&session.config, json, args.verbose);
    let (inventory, templar) = (session.inventory, session.templar);
    let (result, fatal) = run_to_end(async move {
        crate::exec::run_playbook(&playbook, inventory, templar, opts, sink).await
    })?;
    if let Some(d) = fatal {
        super::report(&d);
    }
    if result.exit_code == exit::USER_INTERRUPT {
        use std::io::Write;
        let _ = writeln!(anstream::stderr(), "[ERROR]: User interrupted execution");
    }
    Ok(result.exit_code)
}

/// Runs a run's future on the one tokio runtime of the run, as a task of
/// its worker threads, where the connections' tasks run too: an answer
/// from a host then wakes the engine on the thread that read it, where
/// on the main thread each answer was a switch between threads (about
/// 3,900 context switches in a 50-host run of the bench's workload,
/// against 800). The future has closed every connection and written
/// every output when it ends; what is left (a session task ending, an
/// idle blocking thread) is not waited for, so the process ends as soon
/// as the run does.
pub fn run_to_end<F: std::future::Future + Send + 'static>(run: F) -> Result<F::Output>
where
    F::Output: Send + 'static,
{
    let runtime = runtime()?;
    let out = match runtime.block_on(runtime.spawn(run)) {
        Ok(out) => out,
        // A panic goes on as it would have on this thread.
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(e) => return Err(Diagnostic::new(format!("the run stopped: {e}"))),
    };
    runtime.shutdown_background();
    Ok(out)
}

/// The one tokio runtime of a run.
pub fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Diagnostic::new(format!("could not start the runtime: {e}")))
}

/// Where the run's events go: the report's human or JSON output (`json`
/// is `--format`, when given).
pub fn output_sink(
    config: &Config,
    json: Option<bool>,
    verbosity: u8,
) -> Box<dyn crate::report::Sink> {
    crate::report::sink_for(config, json, verbosity)
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
                    shared: None,
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
