//! The executor: runs plays against hosts and reports what happened as
//! [`Event`]s.
//!
//! A play runs per `serial` batch: facts are gathered, then `pre_tasks`,
//! roles (dependencies first), `tasks` and `post_tasks`, with notified
//! handlers flushed after each section. The walk over the task tree is
//! shared by both strategies: `linear` walks it once for all hosts of the
//! batch, so every host finishes a task before the next one starts (the
//! lockstep Ansible users expect); `free` walks it once per host, all
//! walks running at once. Hosts run concurrently up to `forks`.
//!
//! Per host and task, [`task`] computes the variables (through
//! [`crate::vars`], the one precedence code), evaluates `when`, expands
//! loops, runs the engine action or the module, and applies
//! `changed_when`, `failed_when`, `until`, `register` and `notify`.

mod actions;
mod async_job;
mod controller;
mod custom;
mod demand;
mod fact_cache;
mod facts;
mod reboot;
mod task;

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use futures::future::{join_all, BoxFuture};
use herd_modules::api::Host;
use indexmap::IndexMap;

use crate::config::Config;
use crate::diag::{exit, Diagnostic};
use crate::inventory::Inventory;
use crate::playbook::{
    Block, BlockOrigin, Play, Playbook, RoleContext, RoleInclude, Task, TaskItem,
};
use crate::report::{Event, HostStats, Sink};
use crate::tags::TagSelection;
use crate::template::{HostVarsSource, Templar, Vars};
use crate::value::{py_str, Map, Value};
use crate::vars::{self, CliConnection, ConnectionSettings, PlayScope, PlayVars};

pub use task::{censor, failure_is_module_failure};

/// How a run is carried out: the command-line options of ansible-playbook
/// and ansible that change execution.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    pub config: Config,
    /// `-u`, `-c`, `-T`, `--private-key`, `-b`, `--become-user`, …
    pub cli: CliConnection,
    /// The connection password (`-k`).
    pub password: Option<String>,
    /// The become password (`-K`).
    pub become_password: Option<String>,
    /// `-f`; 0 means the configuration's `forks`.
    pub forks: usize,
    pub check: bool,
    pub diff: bool,
    pub verbosity: u8,
    pub tags: TagSelection,
    pub limit: Option<String>,
    pub extra_vars: Map<String, Value>,
    /// `--start-at-task`: skip tasks until one with this name.
    pub start_at_task: Option<String>,
    /// `--force-handlers`: notified handlers run even on failed hosts.
    pub force_handlers: bool,
    /// `--flush-cache`: forget cached facts first.
    pub flush_cache: bool,
    /// Extra directories searched for roles by `include_role`.
    pub roles_path: Vec<PathBuf>,
}

/// What a run ended with.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RunResult {
    /// The recap counters of every host that took part, in the order
    /// hosts first appeared.
    pub stats: IndexMap<String, HostStats>,
    /// ansible-playbook's exit code: 0, 2 (a host failed), 4 (a host was
    /// unreachable), 1 (an error stopped the run), 99 (interrupted).
    pub exit_code: i32,
}

/// What the run knows of each host.
#[derive(Clone, Debug, Default)]
pub(crate) struct HostState {
    pub facts: Map<String, Value>,
    pub set_facts: Map<String, Value>,
    pub include_vars: Map<String, Value>,
    /// Special variables of the moment (`ansible_failed_task`, …).
    pub special: Map<String, Value>,
    pub stats: HostStats,
    /// Failed in the current play (cleared by a rescue).
    pub failed: bool,
    pub unreachable: bool,
    /// Left the run: failed or unreachable in an earlier play.
    pub dead: bool,
    /// `meta: end_host`, or the play was aborted for it.
    pub ended: bool,
    /// Indices of notified handlers.
    pub notified: HashSet<usize>,
}

/// The whole run's shared state.
pub(crate) struct Runner {
    pub inventory: RwLock<Arc<Inventory>>,
    pub templar: Arc<Templar>,
    pub opts: RunOptions,
    sink: Mutex<Box<dyn Sink>>,
    /// The sink shows successful tasks' whole results
    /// ([`Sink::shows_results`]).
    pub results_shown: bool,
    pub hosts: Mutex<IndexMap<String, HostState>>,
    pub forks: tokio::sync::Semaphore,
    pub interrupted: AtomicBool,
    /// The playbook stopped early on failures (no more hosts left).
    halted: AtomicBool,
    /// Set once any host has failed or been unreachable: until then no
    /// task needs to filter the play's host lists.
    pub any_failure: AtomicBool,
    /// Bumped by every inventory change (`add_host`, `group_by`).
    pub inventory_generation: std::sync::atomic::AtomicUsize,
    /// Bumped whenever a host becomes failed, unreachable or dead, or
    /// stops being so: the play's host lists change with it.
    pub failure_generation: std::sync::atomic::AtomicUsize,
    /// An error that stops the whole run (exit code 1).
    fatal: Mutex<Option<Diagnostic>>,
    /// Where facts outlive the run (`fact_caching`).
    pub fact_cache: fact_cache::FactCache,
    /// Where the texts that read registered results are (a playbook run
    /// only; see `demand.rs`), read when first needed.
    demand_roots: std::sync::OnceLock<Vec<std::path::PathBuf>>,
    corpus: std::sync::OnceLock<demand::Corpus>,
    demands: Mutex<HashMap<String, Option<Arc<herd_modules::api::Demand>>>>,
}

/// The variables every template sees under `hostvars`: inventory, facts
/// and results so far.
struct RunHostVars {
    runner: Arc<Runner>,
}

impl HostVarsSource for RunHostVars {
    fn host_names(&self) -> Vec<String> {
        self.runner.inventory().hosts.keys().cloned().collect()
    }

    fn host_vars(&self, host: &str) -> Option<Map<String, Value>> {
        let inv = self.runner.inventory();
        if !inv.hosts.contains_key(host) && !inv.is_implicit_localhost(host) {
            return None;
        }
        let mut vars = inv.host_vars(host, None).unwrap_or_default();
        vars.extend(vars::host_magic(&inv, host, None));
        if let Ok(states) = self.runner.hosts.lock() {
            if let Some(st) = states.get(host) {
                let inject = self.runner.opts.config.inject_facts_as_vars;
                vars.extend(facts::fact_vars(&st.facts, inject));
                vars.extend(st.include_vars.clone());
                vars.extend(st.set_facts.clone());
            } else if self.runner.fact_cache.persistent() {
                // A host no task has touched yet: its cached facts.
                let cached = self.runner.cached_facts(host);
                let inject = self.runner.opts.config.inject_facts_as_vars;
                vars.extend(facts::fact_vars(&cached, inject));
            }
        }
        Some(vars)
    }
}

/// What tasks inherit from the blocks, roles and includes around them.
#[derive(Clone, Default)]
pub(crate) struct Inherit {
    pub tags: Vec<String>,
    pub when: Vec<Value>,
    pub block_vars: Vec<Map<String, Value>>,
    /// Keywords from the play down, outermost first.
    pub keywords: Vec<Map<String, Value>>,
    pub notify: Vec<String>,
    pub include_params: Map<String, Value>,
    pub role: Option<Arc<RoleContext>>,
    /// Inside a block with a `rescue:` (errors there are handled).
    pub rescuable: bool,
    /// Per-host parameters of an include (its loop item, its args).
    pub host_params: Arc<HashMap<String, Map<String, Value>>>,
}

impl Inherit {
    pub fn keyword(&self, task: &Task, name: &str) -> Option<Value> {
        if let Some(v) = task.keywords.get(name) {
            return Some(v.clone());
        }
        self.keywords
            .iter()
            .rev()
            .find_map(|m| m.get(name).cloned())
    }

    fn enter_block(&self, b: &Block) -> Inherit {
        let mut inh = self.clone();
        inh.tags.extend(b.tags.iter().cloned());
        inh.when.extend(b.when.iter().cloned());
        if !b.vars.is_empty() {
            inh.block_vars.push(b.vars.clone());
        }
        inh.keywords.push(b.keywords.0.clone());
        inh.notify.extend(b.notify.iter().cloned());
        if b.role.is_some() {
            inh.role = b.role.clone();
        }
        inh
    }
}

/// One handler, with what it inherits.
#[derive(Clone)]
pub(crate) struct Handler {
    pub task: Task,
    pub inherit: Inherit,
    /// Names it answers to: its name, `role : name`, its `listen` topics.
    pub names: Vec<String>,
}

/// One play (batch) being run.
pub(crate) struct PlayRun<'a> {
    pub play: &'a Play,
    pub play_vars: PlayVars,
    pub handlers: Mutex<Vec<Handler>>,
    pub batch: Vec<String>,
    /// `end_play`, `end_batch`, `any_errors_fatal` or `max_fail_percentage`
    /// stopped it.
    pub aborted: AtomicBool,
    /// `meta: end_play` (not a failure).
    pub end_play: AtomicBool,
    /// `--start-at-task` not reached yet.
    pub before_start: AtomicBool,
    pub strategy_free: bool,
    /// Hosts that ran a `run_once` task of a free strategy, by task.
    pub run_once_done: Mutex<HashSet<String>>,
    /// Every host of the play, all batches.
    pub play_hosts: Vec<String>,
    /// The inventory generation the play's `groups` was computed at.
    pub inventory_generation: usize,
    /// [`SHARED_VARS`] as the batch started.
    pub shared_base: Map<String, Value>,
    /// [`SHARED_VARS`] as they are now, with the failure and inventory
    /// generations they were computed at.
    pub shared: Mutex<Option<SharedVars>>,
}

/// (failure generation, inventory generation, the variables).
pub(crate) type SharedVars = (usize, usize, Arc<Map<String, Value>>);

/// Magic variables whose size grows with the number of hosts: every host's
/// variables share one copy of them ([`Vars::shared`]) rather than each
/// task on each host copying them, which made a task's cost grow with the
/// square of the number of hosts.
pub const SHARED_VARS: &[&str] = &[
    "groups",
    "ansible_play_hosts",
    "ansible_play_hosts_all",
    "ansible_play_batch",
    "play_hosts",
];

/// Runs a loaded playbook. Errors that stop the run before or between
/// plays come back as exit code 1 after a [`Diagnostic`] is printed by the
/// caller.
pub async fn run_playbook(
    playbook: &Playbook,
    inventory: Inventory,
    templar: Arc<Templar>,
    opts: RunOptions,
    sink: Box<dyn Sink>,
) -> (RunResult, Option<Diagnostic>) {
    crate::connection::configure(crate::connection::Options::from_config(&opts.config));
    let roles_path = opts.roles_path.clone();
    let runner = Runner::new(inventory, templar, opts, sink);
    let sources = runner.inventory().sources.clone();
    let _ = runner
        .demand_roots
        .set(demand::roots(playbook, &roles_path, &sources));
    runner.event(Event::PlaybookStart {
        path: playbook.path.display().to_string(),
    });
    // Ctrl-C stops at once, as ansible-playbook stops: the tasks under
    // way are dropped (a local command is killed with them; a remote one
    // loses its connection) and no later task starts.
    let plays = async {
        for play in &playbook.plays {
            if runner.stopped() {
                break;
            }
            runner.run_play(play).await;
        }
    };
    tokio::select! {
        _ = plays => {}
        r = tokio::signal::ctrl_c() => {
            if r.is_ok() {
                runner.interrupted.store(true, Ordering::SeqCst);
            }
        }
    }
    if runner.interrupted.load(Ordering::SeqCst) {
        // A shell still busy with the dropped task must not hold the exit.
        let _ = tokio::time::timeout(
            std::time::Duration::from_secs(2),
            crate::connection::close_all(),
        )
        .await;
    } else {
        // Every shell removes its temporary directory as it closes.
        crate::connection::close_all().await;
    }
    runner.finish()
}

/// Runs one task (an ad-hoc command) on the hosts `pattern` selects, as
/// `ansible` does: no facts, one play; `async`/`poll` from `-B`/`-P`
/// (no async when `-B` is 0).
#[allow(clippy::too_many_arguments)]
pub async fn run_adhoc(
    pattern: &str,
    module: &str,
    args: Map<String, Value>,
    (background, poll): (u64, u64),
    inventory: Inventory,
    templar: Arc<Templar>,
    opts: RunOptions,
    sink: Box<dyn Sink>,
) -> (RunResult, Option<Diagnostic>) {
    let loc = crate::diag::Loc::file("<adhoc>");
    let mut task = synthetic_task(module, args, loc.clone());
    // A module of a `-M`/`library` directory, as ansible resolves it.
    if herd_modules::lookup(module).is_none() {
        let short = module.strip_prefix("ansible.legacy.").unwrap_or(module);
        let found = opts.config.library.iter().find_map(|dir| {
            std::fs::read_dir(dir)
                .ok()?
                .flatten()
                .map(|e| e.path())
                .find(|p| p.is_file() && p.file_stem().and_then(|s| s.to_str()) == Some(short))
        });
        if let Some(path) = found {
            task.action = short.to_string();
            task.action_fqcn = format!("ansible.legacy.{short}");
            task.module_path = Some(path);
        }
    }
    if background > 0 {
        task.keywords
            .0
            .insert("async".into(), Value::from(background));
        task.keywords.0.insert("poll".into(), Value::from(poll));
    }
    let mut kw = Map::new();
    kw.insert("gather_facts".into(), Value::Bool(false));
    let play = Play {
        loc,
        name: Some(format!("Ansible Ad-Hoc: {pattern}")),
        hosts: Value::String(pattern.to_string()),
        vars: Map::new(),
        vars_files: Vec::new(),
        vars_prompt: Vec::new(),
        roles: Vec::new(),
        pre_tasks: Vec::new(),
        tasks: vec![TaskItem::Task(task)],
        post_tasks: Vec::new(),
        handlers: Vec::new(),
        tags: Vec::new(),
        when: Vec::new(),
        keywords: crate::playbook::Keywords(kw),
        playbook_dir: std::env::current_dir().unwrap_or_default(),
        basedir: std::env::current_dir().unwrap_or_default(),
    };
    crate::connection::configure(crate::connection::Options::from_config(&opts.config));
    let runner = Runner::new(inventory, templar, opts, sink);
    runner.run_play(&play).await;
    crate::connection::close_all().await;
    runner.finish()
}

/// Asks a question on the terminal (without echo unless `echo`). `None`
/// when standard input is not a terminal: nobody can answer.
pub fn prompt_line(prompt: &str, echo: bool) -> std::io::Result<Option<String>> {
    use std::io::{BufRead, Write};
    // SAFETY: isatty only inspects the descriptor.
    if unsafe { libc::isatty(0) } != 1 {
        return Ok(None);
    }
    let mut err = std::io::stderr();
    let _ = write!(err, "{prompt}");
    let _ = err.flush();
    // SAFETY: a zeroed termios is a valid buffer for tcgetattr to fill.
    let mut term: libc::termios = unsafe { std::mem::zeroed() };
    // SAFETY: fd 0 is a terminal (checked above) and `term` is writable.
    let saved = !echo && unsafe { libc::tcgetattr(0, &mut term) } == 0;
    if saved {
        let mut quiet = term;
        quiet.c_lflag &= !libc::ECHO;
        // SAFETY: `quiet` is a termios read from this terminal.
        unsafe { libc::tcsetattr(0, libc::TCSANOW, &quiet) };
    }
    let mut line = String::new();
    let r = std::io::stdin().lock().read_line(&mut line);
    if saved {
        // SAFETY: restores the settings read above.
        unsafe { libc::tcsetattr(0, libc::TCSANOW, &term) };
        let _ = writeln!(err);
    }
    r?;
    Ok(Some(line.trim_end_matches(['\n', '\r']).to_string()))
}

/// `vars_prompt:` answers, asked on the terminal before the play runs and
/// kept as the entries' defaults (so they sit at the vars_prompt level). A
/// variable given with `-e` is not asked; with no terminal the default
/// stands.
fn ask_vars_prompt(play: &Play, extra_vars: &Map<String, Value>) -> Option<Play> {
    if play.vars_prompt.is_empty() {
        return None;
    }
    let mut owned = play.clone();
    for p in &mut owned.vars_prompt {
        if extra_vars.contains_key(&p.name) {
            continue;
        }
        let question = p.prompt.clone().unwrap_or_else(|| p.name.clone());
        let shown_default = p
            .default
            .as_ref()
            .map(|d| format!(" [{}]", py_str(d)))
            .unwrap_or_default();
        let ask = |q: &str| {
            prompt_line(&format!("{q}{shown_default}: "), !p.private)
                .ok()
                .flatten()
        };
        let Some(mut answer) = ask(&question) else {
            continue;
        };
        if p.confirm {
            if let Some(again) = ask(&format!("confirm {question}")) {
                if again != answer {
                    crate::diag::warn("***** VALUES ENTERED DO NOT MATCH ****");
                    answer = ask(&question).unwrap_or_default();
                }
            }
        }
        if !answer.is_empty() || p.default.is_none() {
            p.default = Some(Value::String(answer));
        }
    }
    Some(owned)
}

/// A task made by the engine (facts gathering, an ad-hoc command).
pub(crate) fn synthetic_task(
    module: &str,
    args: Map<String, Value>,
    loc: crate::diag::Loc,
) -> Task {
    let info = herd_modules::lookup(module);
    let action = info.map(|i| i.name).unwrap_or(module).to_string();
    Task {
        loc: loc.clone(),
        name: None,
        action: action.clone(),
        action_fqcn: info.map(|i| i.fqcn()).unwrap_or_else(|| module.to_string()),
        action_written: module.to_string(),
        action_loc: loc,
        args,
        tags: Vec::new(),
        when: Vec::new(),
        loop_: None,
        loop_control: None,
        register: None,
        notify: Vec::new(),
        listen: Vec::new(),
        vars: Map::new(),
        keywords: Default::default(),
        role: None,
        is_handler: false,
        module_path: None,
        apply: None,
    }
}

impl Runner {
    fn new(
        inventory: Inventory,
        templar: Arc<Templar>,
        mut opts: RunOptions,
        sink: Box<dyn Sink>,
    ) -> Arc<Runner> {
        if opts.forks == 0 {
            opts.forks = opts.config.forks.max(1);
        }
        let (fact_cache, problem) = fact_cache::FactCache::from_config(&opts.config);
        if let Some(p) = problem {
            crate::diag::warn(p);
        }
        if opts.flush_cache {
            // As ansible-playbook's --flush-cache: every inventory host.
            for host in inventory.hosts.keys() {
                fact_cache.delete(host);
            }
        }
        Arc::new(Runner {
            fact_cache,
            inventory: RwLock::new(Arc::new(inventory)),
            templar,
            forks: tokio::sync::Semaphore::new(opts.forks),
            opts,
            results_shown: sink.shows_results(),
            sink: Mutex::new(sink),
            hosts: Mutex::new(IndexMap::new()),
            interrupted: AtomicBool::new(false),
            halted: AtomicBool::new(false),
            inventory_generation: std::sync::atomic::AtomicUsize::new(0),
            failure_generation: std::sync::atomic::AtomicUsize::new(0),
            any_failure: AtomicBool::new(false),
            fatal: Mutex::new(None),
            demand_roots: std::sync::OnceLock::new(),
            corpus: std::sync::OnceLock::new(),
            demands: Mutex::new(HashMap::new()),
        })
    }

    /// The parts of the registered variable `name` that anything in the
    /// playbook's project reads; `None`: any part (see `demand.rs`). Only
    /// a playbook run knows its project.
    pub(crate) fn demand_of(&self, name: &str) -> Option<Arc<herd_modules::api::Demand>> {
        let roots = self.demand_roots.get()?;
        let mut known = self.demands.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(d) = known.get(name) {
            return d.clone();
        }
        let corpus = self.corpus.get_or_init(|| {
            let extra = serde_json::to_vec(&self.opts.extra_vars).unwrap_or_default();
            demand::Corpus::scan(roots, vec![extra])
        });
        let d = corpus.demand(name).map(Arc::new);
        known.insert(name.to_string(), d.clone());
        d
    }

    /// The facts the cache holds for a host (none with the memory cache).
    pub(crate) fn cached_facts(&self, host: &str) -> Map<String, Value> {
        self.fact_cache.load(host).unwrap_or_else(|e| {
            crate::diag::warn(e);
            Map::new()
        })
    }

    /// Saves the facts of a host to a persistent cache.
    pub(crate) fn store_facts(&self, host: &str) {
        if !self.fact_cache.persistent() {
            return;
        }
        let facts = self.with_host(host, |st| st.facts.clone());
        if let Err(e) = self.fact_cache.store(host, &facts) {
            crate::diag::warn(e);
        }
    }

    pub fn inventory(&self) -> Arc<Inventory> {
        match self.inventory.read() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// Changes the inventory (`add_host`, `group_by`).
    pub fn edit_inventory(&self, f: impl FnOnce(&mut Inventory)) {
        let mut guard = match self.inventory.write() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        let mut inv: Inventory = (**guard).clone();
        f(&mut inv);
        *guard = Arc::new(inv);
        self.inventory_generation.fetch_add(1, Ordering::SeqCst);
    }

    pub fn event(&self, e: Event) {
        if let Ok(mut s) = self.sink.lock() {
            s.event(&e);
        }
    }

    pub fn with_host<T>(&self, host: &str, f: impl FnOnce(&mut HostState) -> T) -> T {
        let mut states = match self.hosts.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        let st = match states.get_mut(host) {
            Some(st) => st,
            None => states.entry(host.to_string()).or_insert_with(|| HostState {
                facts: self.cached_facts(host),
                ..HostState::default()
            }),
        };
        let before = (st.failed, st.unreachable, st.dead);
        let out = f(st);
        if before != (st.failed, st.unreachable, st.dead) {
            self.failure_generation.fetch_add(1, Ordering::SeqCst);
        }
        out
    }

    pub fn hostvars_source(self: &Arc<Self>) -> Arc<dyn HostVarsSource> {
        Arc::new(RunHostVars {
            runner: self.clone(),
        })
    }

    fn stopped(&self) -> bool {
        self.interrupted.load(Ordering::SeqCst)
            || self.halted.load(Ordering::SeqCst)
            || self.fatal.lock().map(|f| f.is_some()).unwrap_or(true)
    }

    pub fn set_fatal(&self, d: Diagnostic) {
        if let Ok(mut f) = self.fatal.lock() {
            if f.is_none() {
                *f = Some(d);
            }
        }
    }

    fn finish(self: Arc<Self>) -> (RunResult, Option<Diagnostic>) {
        let fatal = self.fatal.lock().ok().and_then(|f| f.clone());
        // Interrupted, or ended by an error, ansible-playbook prints no
        // recap: only the error the caller shows.
        if !self.interrupted.load(Ordering::SeqCst) && fatal.is_none() {
            self.event(Event::PlaybookEnd);
        }
        let states = match self.hosts.lock() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        };
        let stats: IndexMap<String, HostStats> =
            states.iter().map(|(h, s)| (h.clone(), s.stats)).collect();
        let exit_code = if self.interrupted.load(Ordering::SeqCst) {
            exit::USER_INTERRUPT
        } else if let Some(f) = &fatal {
            f.exit_code
        } else if stats.values().any(|s| s.unreachable > 0) {
            exit::HOST_UNREACHABLE
        } else if stats.values().any(|s| s.failed > 0) {
            exit::HOST_FAILED
        } else {
            0
        };
        (RunResult { stats, exit_code }, fatal)
    }

    /// Opens (or reuses) the connection to a host with these settings:
    /// the connection pool (`crate::connection`) caches them.
    pub async fn connect(
        &self,
        name: &str,
        settings: &ConnectionSettings,
    ) -> Result<Arc<dyn Host>, herd_modules::api::HostError> {
        crate::connection::connect(name, settings).await
    }

    /// Closes the connections to a host (`meta: reset_connection`).
    pub async fn reset_connection(&self, name: &str) {
        crate::connection::reset(name).await;
    }

    async fn run_play(self: &Arc<Self>, play: &Play) {
        let prompted = ask_vars_prompt(play, &self.opts.extra_vars);
        let play = prompted.as_ref().unwrap_or(play);
        let inventory = self.inventory();
        let scope = PlayScope {
            play,
            inventory: &inventory,
            extra_vars: &self.opts.extra_vars,
            templar: &self.templar,
            limit: self.opts.limit.as_deref(),
            check_mode: self.opts.check,
            diff_mode: self.opts.diff,
            verbosity: self.opts.verbosity,
            tags: &self.opts.tags,
        };
        let play_vars = match vars::play_vars(&scope) {
            Ok(p) => p,
            Err(d) => {
                self.set_fatal(d);
                return;
            }
        };
        let pvars = Vars {
            vars: play_vars.vars.clone(),
            hostvars: Some(self.hostvars_source()),
            shared: None,
        };
        let kw = |name: &str| -> Option<Value> {
            let v = play.keywords.get(name)?;
            self.templar.render_value(v, &pvars).ok()
        };
        let mut hosts: Vec<String> = {
            let states = self.hosts.lock().map(|s| s.clone()).unwrap_or_default();
            play_vars
                .hosts
                .iter()
                .filter(|h| !states.get(*h).is_some_and(|s| s.dead))
                .cloned()
                .collect()
        };
        if let Some(order) = kw("order") {
            order_hosts(&mut hosts, &py_str(&order));
        }
        if hosts.is_empty() {
            self.event(Event::PlayStart {
                name: play_vars.name.clone(),
                hosts: Vec::new(),
            });
            self.event(Event::NoHostsMatched);
            return;
        }
        for h in &hosts {
            self.with_host(h, |st| {
                st.failed = false;
                st.ended = false;
                st.notified.clear();
            });
        }
        let batches = serial_batches(&hosts, kw("serial").as_ref());
        let strategy = kw("strategy")
            .map(|s| py_str(&s))
            .unwrap_or_else(|| "linear".into());
        let strategy = strategy
            .strip_prefix("ansible.builtin.")
            .unwrap_or(&strategy)
            .to_string();
        // host_pinned differs from free only in which host a fork picks
        // next; with a task per host that is the same thing here.
        let strategy_free = match strategy.as_str() {
            "free" | "host_pinned" => true,
            "linear" | "debug" => false,
            other => {
                // ansible-playbook names the play before it fails.
                self.event(Event::PlayStart {
                    name: play_vars.name.clone(),
                    hosts: hosts.clone(),
                });
                self.set_fatal(
                    Diagnostic::new(format!("Invalid play strategy specified: {other}"))
                        .at(play.loc.clone())
                        .hint("use linear, free or host_pinned"),
                );
                return;
            }
        };
        for batch in batches {
            if self.stopped() {
                return;
            }
            let mut pv = play_vars.clone();
            let batch_v = Value::Array(batch.iter().cloned().map(Value::String).collect());
            let hosts_v = Value::Array(hosts.iter().cloned().map(Value::String).collect());
            pv.magic
                .insert("ansible_play_batch".into(), batch_v.clone());
            pv.magic.insert("play_hosts".into(), batch_v);
            pv.magic
                .insert("ansible_play_hosts".into(), hosts_v.clone());
            pv.magic.insert("ansible_play_hosts_all".into(), hosts_v);
            // The variables that grow with the number of hosts are built
            // once per batch and shared by every host's variables.
            let mut shared = Map::new();
            for key in SHARED_VARS {
                if let Some(v) = pv.magic.shift_remove(*key) {
                    shared.insert((*key).to_string(), v);
                }
            }
            let run = PlayRun {
                play,
                play_vars: pv,
                handlers: Mutex::new(self.play_handlers(play)),
                batch: batch.clone(),
                aborted: AtomicBool::new(false),
                end_play: AtomicBool::new(false),
                before_start: AtomicBool::new(self.opts.start_at_task.is_some()),
                strategy_free,
                run_once_done: Mutex::new(HashSet::new()),
                play_hosts: hosts.clone(),
                inventory_generation: self.inventory_generation.load(Ordering::SeqCst),
                shared_base: shared,
                shared: Mutex::new(None),
            };
            self.event(Event::PlayStart {
                name: run.play_vars.name.clone(),
                hosts: batch.clone(),
            });
            // As ansible-playbook: a host's group_vars/host_vars file that
            // cannot be read (bad YAML, a vault that does not open) ends
            // the run when the play starts, not one task on one host.
            for h in &batch {
                if let Err(d) = inventory.host_vars(h, Some(&play.playbook_dir)) {
                    self.set_fatal(d.code(exit::PARSER_ERROR));
                    return;
                }
            }
            let mut play_kw = play.keywords.0.clone();
            play_kw.remove("vars");
            let base = Inherit {
                tags: play.tags.clone(),
                when: play.when.clone(),
                keywords: vec![play_kw],
                ..Inherit::default()
            };
            let gather = match kw("gather_facts") {
                Some(v) => {
                    crate::value::truthy(&v)
                        || matches!(&v, Value::String(s) if crate::config::parse_bool(s) == Some(true))
                }
                None => self.opts.config.gathering != "explicit",
            };
            if gather {
                self.gather_facts(&run, &base).await;
            }
            if strategy_free {
                let futs = batch.iter().map(|h| {
                    let base = base.clone();
                    let run = &run;
                    async move { self.run_sections(run, vec![h.clone()], &base).await }
                });
                join_all(futs).await;
            } else {
                self.run_sections(&run, batch.clone(), &base).await;
            }
            // A host that failed (and was not rescued) or was unreachable
            // leaves the rest of the run.
            let mut lost = 0;
            for h in &batch {
                self.with_host(h, |st| {
                    if st.failed || st.unreachable {
                        st.dead = true;
                        lost += 1;
                    }
                });
            }
            if run.end_play.load(Ordering::SeqCst) {
                return;
            }
            if run.aborted.load(Ordering::SeqCst) || lost == batch.len() {
                // As ansible-playbook: `any_errors_fatal`, an exceeded
                // `max_fail_percentage`, or a batch whose every host failed
                // ends the playbook, later batches and plays included.
                self.halted.store(true, Ordering::SeqCst);
                return;
            }
        }
    }

    /// The sections of a play in order, handlers flushed after each.
    async fn run_sections(self: &Arc<Self>, run: &PlayRun<'_>, hosts: Vec<String>, base: &Inherit) {
        // As ansible-playbook: handlers flush after pre_tasks, after roles
        // and tasks together, and after post_tasks.
        let mut main: Vec<TaskItem> = run.play.roles.iter().filter_map(role_block).collect();
        main.extend(run.play.tasks.iter().cloned());
        let sections: [&[TaskItem]; 3] = [&run.play.pre_tasks, &main, &run.play.post_tasks];
        for items in sections {
            if items.is_empty() {
                continue;
            }
            self.walk(run, items, hosts.clone(), base.clone()).await;
            self.flush_handlers(run, &hosts).await;
            if run.aborted.load(Ordering::SeqCst) || self.stopped() {
                break;
            }
        }
        if run.aborted.load(Ordering::SeqCst) && self.opts.force_handlers {
            self.flush_handlers(run, &hosts).await;
        }
    }

    /// Handlers of the play and its roles, in definition order.
    fn play_handlers(&self, play: &Play) -> Vec<Handler> {
        let mut out = Vec::new();
        fn add_role(r: &RoleInclude, out: &mut Vec<Handler>, seen: &mut HashSet<PathBuf>) {
            for d in &r.dependencies {
                add_role(d, out, seen);
            }
            if !seen.insert(r.context.path.clone()) {
                return;
            }
            let inh = Inherit {
                role: Some(r.context.clone()),
                ..Inherit::default()
            };
            collect_handlers(&r.handlers, &inh, out);
        }
        let mut seen = HashSet::new();
        for r in &play.roles {
            add_role(r, &mut out, &mut seen);
        }
        collect_handlers(&play.handlers, &Inherit::default(), &mut out);
        out
    }

    /// Hosts of `hosts` still running this play.
    pub fn active(&self, run: &PlayRun<'_>, hosts: &[String]) -> Vec<String> {
        if run.aborted.load(Ordering::SeqCst) {
            return Vec::new();
        }
        let states = match self.hosts.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        hosts
            .iter()
            .filter(|h| {
                states
                    .get(*h)
                    .is_none_or(|s| !s.failed && !s.unreachable && !s.ended && !s.dead)
            })
            .cloned()
            .collect()
    }

    /// Walks task items for `hosts`.
    pub fn walk<'a>(
        self: &'a Arc<Self>,
        run: &'a PlayRun<'a>,
        items: &'a [TaskItem],
        hosts: Vec<String>,
        inherit: Inherit,
    ) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            for item in items {
                if self.stopped() {
                    return;
                }
                let active = self.active(run, &hosts);
                if active.is_empty() {
                    return;
                }
                match item {
                    TaskItem::Task(t) => self.run_task(run, t, active, &inherit).await,
                    TaskItem::Block(b) => self.run_block(run, b, active, &inherit).await,
                }
            }
        })
    }

    async fn run_block(
        self: &Arc<Self>,
        run: &PlayRun<'_>,
        b: &Block,
        hosts: Vec<String>,
        inherit: &Inherit,
    ) {
        let mut inh = inherit.enter_block(b);
        if !b.rescue.is_empty() {
            inh.rescuable = true;
        }
        self.walk(run, &b.block, hosts.clone(), inh.clone()).await;
        let failed: Vec<String> = self.with_hosts(&hosts, |st| st.failed && !st.unreachable);
        let mut inh_rest = inherit.enter_block(b);
        inh_rest.rescuable = inherit.rescuable;
        if !b.rescue.is_empty() && !failed.is_empty() && !run.aborted.load(Ordering::SeqCst) {
            // As in ansible-core, a failure caught by a rescue counts as
            // rescued when the rescue starts, whatever the rescue does: a
            // failing rescue adds its own failure (or, nested, its own
            // rescue).
            for h in &failed {
                self.with_host(h, |st| {
                    st.failed = false;
                    st.stats.failed = st.stats.failed.saturating_sub(1);
                    st.stats.rescued += 1;
                });
                self.event(Event::Rescued { host: h.clone() });
            }
            self.walk(run, &b.rescue, failed.clone(), inh_rest.clone())
                .await;
        }
        if !b.always.is_empty() {
            let still_failed = self.with_hosts(&hosts, |st| st.failed && !st.unreachable);
            for h in &still_failed {
                self.with_host(h, |st| st.failed = false);
            }
            let targets: Vec<String> = self.with_hosts(&hosts, |st| !st.unreachable && !st.dead);
            self.walk(run, &b.always, targets, inh_rest).await;
            for h in &still_failed {
                self.with_host(h, |st| st.failed = true);
            }
        }
        // A host that is still failed keeps the error for an outer rescue.
        for h in &hosts {
            self.with_host(h, |st| {
                if !st.failed {
                    st.special.remove("ansible_failed_task");
                    st.special.remove("ansible_failed_result");
                }
            });
        }
    }

    fn with_hosts(&self, hosts: &[String], pred: impl Fn(&HostState) -> bool) -> Vec<String> {
        hosts
            .iter()
            .filter(|h| self.with_host(h, |st| pred(st)))
            .cloned()
            .collect()
    }

    /// Runs notified handlers, in definition order, each once.
    pub async fn flush_handlers(self: &Arc<Self>, run: &PlayRun<'_>, hosts: &[String]) {
        let handlers = run.handlers.lock().map(|h| h.clone()).unwrap_or_default();
        for (idx, handler) in handlers.iter().enumerate() {
            let targets: Vec<String> = hosts
                .iter()
                .filter(|h| {
                    self.with_host(h, |st| {
                        st.notified.contains(&idx)
                            && !st.unreachable
                            && !st.dead
                            && (!st.failed || self.opts.force_handlers)
                            && (!st.ended || self.opts.force_handlers)
                    })
                })
                .cloned()
                .collect();
            for h in hosts {
                self.with_host(h, |st| st.notified.remove(&idx));
            }
            if targets.is_empty() {
                continue;
            }
            // A failed host runs its handlers only with --force-handlers;
            // it stays failed.
            let failed_before = self.with_hosts(&targets, |st| st.failed);
            for h in &failed_before {
                self.with_host(h, |st| st.failed = false);
            }
            self.run_task_as_handler(run, handler, targets).await;
            for h in &failed_before {
                self.with_host(h, |st| st.failed = true);
            }
        }
    }

    async fn run_task_as_handler(
        self: &Arc<Self>,
        run: &PlayRun<'_>,
        handler: &Handler,
        hosts: Vec<String>,
    ) {
        let mut inh = handler.inherit.clone();
        inh.keywords.insert(0, run.play.keywords.0.clone());
        self.run_task(run, &handler.task, hosts, &inh).await;
    }

    /// Marks a handler notified on a host; an unknown name is an error.
    pub fn notify(&self, run: &PlayRun<'_>, host: &str, name: &str) -> Result<(), String> {
        let handlers = run.handlers.lock().map(|h| h.clone()).unwrap_or_default();
        let found: Vec<usize> = handlers
            .iter()
            .enumerate()
            .filter(|(_, h)| h.names.iter().any(|n| n == name))
            .map(|(i, _)| i)
            .collect();
        if found.is_empty() {
            return Err(format!(
                "The requested handler '{name}' was not found in either the main handlers list nor in the listening handlers list"
            ));
        }
        self.with_host(host, |st| st.notified.extend(found));
        Ok(())
    }

    /// After a task: `any_errors_fatal` and `max_fail_percentage`.
    pub fn check_play_failure(
        &self,
        run: &PlayRun<'_>,
        task: &Task,
        inherit: &Inherit,
        newly_failed: bool,
    ) {
        if !newly_failed {
            return;
        }
        let truthy = |v: Option<Value>| {
            v.is_some_and(|v| match v {
                Value::Bool(b) => b,
                Value::String(s) => crate::config::parse_bool(&s) == Some(true),
                other => crate::value::truthy(&other),
            })
        };
        if truthy(inherit.keyword(task, "any_errors_fatal")) && !inherit.rescuable {
            run.aborted.store(true, Ordering::SeqCst);
            return;
        }
        if let Some(pct) = run
            .play
            .keywords
            .get("max_fail_percentage")
            .and_then(|v| py_str(v).trim().trim_end_matches('%').parse::<f64>().ok())
        {
            let total = run.batch.len().max(1) as f64;
            let failed = self
                .with_hosts(&run.batch, |st| st.failed || st.unreachable)
                .len() as f64;
            if failed * 100.0 / total > pct {
                run.aborted.store(true, Ordering::SeqCst);
            }
        }
    }
}

fn collect_handlers(items: &[TaskItem], inherit: &Inherit, out: &mut Vec<Handler>) {
    for item in items {
        match item {
            TaskItem::Task(t) => {
                let mut names = Vec::new();
                if let Some(n) = &t.name {
                    names.push(n.clone());
                    let role = t.role.as_ref().or(inherit.role.as_ref());
                    if let Some(r) = role {
                        names.push(format!("{} : {n}", r.name));
                    }
                }
                names.extend(t.listen.iter().cloned());
                out.push(Handler {
                    task: t.clone(),
                    inherit: inherit.clone(),
                    names,
                });
            }
            TaskItem::Block(b) => {
                let inh = inherit.enter_block(b);
                collect_handlers(&b.block, &inh, out);
            }
        }
    }
}

/// A play role as a block carrying its entry's keywords, dependencies
/// first; a role already run in this play is left out.
pub(crate) fn role_block(r: &RoleInclude) -> Option<TaskItem> {
    if r.duplicate {
        return None;
    }
    let mut items: Vec<TaskItem> = r.dependencies.iter().filter_map(role_block).collect();
    items.push(TaskItem::Block(Block {
        loc: r.loc.clone(),
        name: None,
        block: r.tasks.clone(),
        rescue: Vec::new(),
        always: Vec::new(),
        tags: Vec::new(),
        when: Vec::new(),
        vars: Map::new(),
        notify: Vec::new(),
        keywords: Default::default(),
        role: Some(r.context.clone()),
        origin: BlockOrigin::ImportRole {
            name: r.name.clone(),
        },
    }));
    Some(TaskItem::Block(Block {
        loc: r.loc.clone(),
        name: None,
        block: items,
        rescue: Vec::new(),
        always: Vec::new(),
        tags: r.tags.clone(),
        when: r.when.clone(),
        vars: r.vars.clone(),
        notify: Vec::new(),
        keywords: r.keywords.clone(),
        role: None,
        origin: BlockOrigin::ImportRole {
            name: r.name.clone(),
        },
    }))
}

/// `order:` of a play.
fn order_hosts(hosts: &mut [String], order: &str) {
    match order {
        "reverse_inventory" => hosts.reverse(),
        "sorted" => hosts.sort(),
        "reverse_sorted" => {
            hosts.sort();
            hosts.reverse();
        }
        "shuffle" => {
            use rand::seq::SliceRandom;
            hosts.shuffle(&mut rand::thread_rng());
        }
        _ => {}
    }
}

/// `serial:` batches: a number, a percentage, or a list of them (the last
/// one repeating).
fn serial_batches(hosts: &[String], serial: Option<&Value>) -> Vec<Vec<String>> {
    let sizes: Vec<Value> = match serial {
        None | Some(Value::Null) => return vec![hosts.to_vec()],
        Some(Value::Array(a)) if !a.is_empty() => a.clone(),
        Some(Value::Array(_)) => return vec![hosts.to_vec()],
        Some(v) => vec![v.clone()],
    };
    let total = hosts.len();
    let size_of = |v: &Value| -> usize {
        let s = py_str(v);
        let s = s.trim();
        let n = if let Some(p) = s.strip_suffix('%') {
            let pct: f64 = p.trim().parse().unwrap_or(100.0);
            ((pct / 100.0) * total as f64) as usize
        } else {
            s.parse::<usize>().unwrap_or(total)
        };
        if n == 0 {
            // 0 means all hosts; a percentage rounding to 0 means one.
            if s == "0" {
                total
            } else {
                1
            }
        } else {
            n
        }
    };
    let mut out = Vec::new();
    let mut i = 0;
    let mut k = 0;
    while i < total {
        let n = size_of(&sizes[k.min(sizes.len() - 1)]).max(1);
        let end = (i + n).min(total);
        out.push(hosts[i..end].to_vec());
        i = end;
        k += 1;
    }
    out
}

/// Counts the values copied into each host's variables, so a test can
/// check that a task's cost grows linearly with the number of hosts
/// without timing anything. Per thread: a test runs its playbook on a
/// current-thread runtime.
#[cfg(test)]
pub(crate) mod scale_count {
    use std::cell::Cell;

    use crate::value::{Map, Value};

    thread_local! {
        static NODES: Cell<u64> = const { Cell::new(0) };
        static BUILDS: Cell<u64> = const { Cell::new(0) };
    }

    fn nodes(v: &Value) -> u64 {
        1 + match v {
            Value::Array(a) => a.iter().map(nodes).sum(),
            Value::Object(m) => m.values().map(nodes).sum(),
            _ => 0,
        }
    }

    /// One host's variables were built.
    pub fn add(vars: &Map<String, Value>) {
        let n: u64 = vars.values().map(nodes).sum();
        NODES.with(|c| c.set(c.get() + n));
        BUILDS.with(|c| c.set(c.get() + 1));
    }

    /// Shared variables were built (once per play, or per change).
    pub fn add_shared(vars: &Map<String, Value>) {
        let n: u64 = vars.values().map(nodes).sum();
        NODES.with(|c| c.set(c.get() + n));
    }

    /// (values copied, host variable maps built) since the last call.
    pub fn take() -> (u64, u64) {
        (NODES.with(|c| c.replace(0)), BUILDS.with(|c| c.replace(0)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Runs a few `debug` and `set_fact` tasks on `n` local hosts; the
    /// values copied per host and task, and the host results seen.
    fn scale_run(n: usize) -> (f64, usize) {
        #[derive(Clone, Default)]
        struct Count(Arc<std::sync::atomic::AtomicUsize>);
        impl Sink for Count {
            fn event(&mut self, e: &Event) {
                if matches!(e, Event::HostResult { .. }) {
                    self.0.fetch_add(1, Ordering::SeqCst);
                }
            }
        }
        let dir = tempfile::tempdir().expect("temp dir");
        let mut inv = String::from("[fleet]\n");
        for i in 0..n {
            inv.push_str(&format!("h{i} ansible_connection=local\n"));
        }
        let inv_path = dir.path().join("hosts");
        std::fs::write(&inv_path, inv).expect("write inventory");
        let pb_path = dir.path().join("playbook.yml");
        std::fs::write(
            &pb_path,
            "- hosts: fleet\n  gather_facts: false\n  tasks:\n\
             \x20   - debug: msg=\"{{ inventory_hostname }} of {{ ansible_play_hosts | length }}\"\n\
             \x20   - set_fact: {mine: \"{{ inventory_hostname }}\"}\n\
             \x20   - debug: msg=\"{{ mine }} {{ groups['fleet'] | length }}\"\n\
             \x20   - debug: var=play_hosts|length\n",
        )
        .expect("write playbook");
        let inventory =
            Inventory::load(&[inv_path.display().to_string()]).expect("inventory loads");
        let pb =
            crate::playbook::load_playbook(&pb_path, &Default::default()).expect("playbook loads");
        let opts = RunOptions {
            tags: TagSelection::new(&[], &[]),
            ..RunOptions::default()
        };
        let sink = Count::default();
        let seen = sink.0.clone();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        scale_count::take();
        let (res, err) = rt.block_on(run_playbook(
            &pb,
            inventory,
            Arc::new(Templar::new()),
            opts,
            Box::new(sink),
        ));
        assert!(err.is_none(), "{err:?}");
        assert_eq!(res.exit_code, 0);
        let (copied, builds) = scale_count::take();
        assert!(
            builds as usize >= 4 * n,
            "{builds} variable maps for {n} hosts"
        );
        let per_host_task = copied as f64 / (4 * n) as f64;
        (per_host_task, seen.load(Ordering::SeqCst))
    }

    /// A task's work grows linearly with the hosts: the values copied per
    /// host and task are the same for 100 and for 1,000 hosts (they grew
    /// tenfold when every host copied the play's host lists).
    #[test]
    fn per_task_work_is_linear_in_hosts() {
        let (small, seen_small) = scale_run(100);
        let (large, seen_large) = scale_run(1000);
        assert_eq!(seen_small, 400);
        assert_eq!(seen_large, 4000);
        assert!(
            large < small * 1.2,
            "values copied per host and task: {small:.1} with 100 hosts, {large:.1} with 1000"
        );
    }

    fn hosts(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("h{i}")).collect()
    }

    #[test]
    fn serial_forms() {
        let b = serial_batches(&hosts(5), Some(&json!(2)));
        assert_eq!(b.iter().map(Vec::len).collect::<Vec<_>>(), vec![2, 2, 1]);
        let b = serial_batches(&hosts(10), Some(&json!("30%")));
        assert_eq!(b.iter().map(Vec::len).collect::<Vec<_>>(), vec![3, 3, 3, 1]);
        let b = serial_batches(&hosts(6), Some(&json!([1, "50%"])));
        assert_eq!(b.iter().map(Vec::len).collect::<Vec<_>>(), vec![1, 3, 2]);
        let b = serial_batches(&hosts(3), None);
        assert_eq!(b.len(), 1);
    }
}
