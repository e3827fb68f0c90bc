//! The loader: YAML nodes to plays, blocks and tasks.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::args::parse_kv;
use super::keywords::{
    BLOCK_KEYWORDS, IMPORT_PLAYBOOK_KEYWORDS, LOOKUPS, LOOP_CONTROL_KEYWORDS, PLAY_KEYWORDS,
    ROLE_ACTION_ARGS, TASK_KEYWORDS, VARS_PROMPT_KEYS,
};
use super::role::RoleSpec;
use super::{
    Block, BlockOrigin, Keywords, LoadOptions, Loop, LoopControl, Play, Playbook, RoleContext,
    RoleInclude, Task, TaskItem, VarsPrompt,
};
use crate::diag::{did_you_mean, exit, Diagnostic, Loc, Result};
use crate::value::type_name;
use crate::value::{py_str, Map, Value};
use crate::yaml::{self, Node, NodeKind};

/// How deep imports may nest before the loader assumes a cycle.
const MAX_IMPORT_DEPTH: usize = 64;

/// The `command`-like modules whose free-form text keeps every `k=v` that
/// is not one of their options (Ansible's `FREEFORM_ACTIONS`).
const RAW_TEXT_MODULES: &[&str] = &["command", "shell", "raw", "script"];

/// Loads a playbook and everything it imports.
///
/// `import_playbook` entries are replaced by the plays of the imported file,
/// in order, with the import's `vars`, `tags` and `when` added to each.
pub fn load_playbook(path: &Path, opts: &LoadOptions) -> Result<Playbook> {
    let mut loader = Loader::new(opts, &parent_dir(path));
    let plays = loader.playbook_file(path, &Map::new())?;
    Ok(Playbook {
        path: path.to_path_buf(),
        plays,
    })
}

/// Loads the file of an `include_tasks` when the task runs.
///
/// `file` is the rendered file name. It is searched as `import_tasks`
/// files are: beside the file the task is written in, then in its role's
/// `tasks/`, then in `basedir` (the play's directory). Returns the file
/// found and its tasks (in the task's role, handlers if the task is one).
pub fn load_included_tasks(
    task: &Task,
    file: &str,
    basedir: &Path,
    opts: &LoadOptions,
) -> Result<(PathBuf, Vec<TaskItem>)> {
    let mut loader = Loader::new(opts, basedir);
    let ctx = TaskCtx {
        file_dir: parent_dir(Path::new(&*task.loc.file)),
        basedir: basedir.to_path_buf(),
        role: task.role.clone(),
        is_handler: task.is_handler,
    };
    loader.tasks_file(file, &task.action_loc, &ctx)
}

/// Loads the role of an `include_role` when the task runs; `task.args`
/// must already be rendered (`name`, `tasks_from`, …). The role is found
/// as play roles are, and also beside the role the task belongs to.
pub fn load_included_role(task: &Task, basedir: &Path, opts: &LoadOptions) -> Result<RoleInclude> {
    check_args(task, ROLE_ACTION_ARGS)?;
    let mut loader = Loader::new(opts, basedir);
    let spec = RoleSpec::from_action(task)?;
    let role_basedir = task.role.as_ref().map(|r| parent_dir(&r.path));
    loader.load_role(spec, basedir, role_basedir.as_deref())
}

/// The directory holding `path` (`.` for a bare file name).
pub(super) fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// What the loader tracks within one play.
#[derive(Default)]
pub(super) struct PlayState {
    /// Roles already loaded in this play, by path and parameters, so a
    /// repeated role is loaded once as Ansible runs it once.
    pub seen_roles: HashSet<String>,
    /// Handlers of roles brought in by `import_role`; they join the play's
    /// handlers.
    pub imported_handlers: Vec<TaskItem>,
    /// Variables known at load time (play vars under extra vars), for
    /// templated import paths and role names.
    pub vars: Map<String, Value>,
}

pub(super) struct Loader<'a> {
    pub opts: &'a LoadOptions,
    pub playbook_dir: PathBuf,
    /// Module names made known by files in `library/` directories.
    pub custom_modules: HashMap<String, PathBuf>,
    scanned_libraries: HashSet<PathBuf>,
    /// Files being loaded, outermost first, to stop import cycles.
    pub stack: Vec<PathBuf>,
    pub play: PlayState,
}

/// Where a task list is being read from.
#[derive(Clone)]
pub(super) struct TaskCtx {
    /// The directory of the file being read: relative imports start there.
    pub file_dir: PathBuf,
    /// The basedir of the play (the file the play is written in).
    pub basedir: PathBuf,
    pub role: Option<Arc<RoleContext>>,
    pub is_handler: bool,
}

/// The mapping entries of a node, or an error naming what was expected.
fn map_of<'n>(node: &'n Node, what: &str) -> Result<&'n [(Node, Node)]> {
    node.as_map().ok_or_else(|| {
        Diagnostic::parse(
            format!(
                "{what} must be a mapping (a dict), got a {}",
                node.type_name()
            ),
            node.loc.clone(),
        )
    })
}

fn key_of(k: &Node) -> String {
    k.key_text().unwrap_or_default()
}

/// A scalar node as text, as Python's `str()` would print it.
fn text_of(node: &Node) -> String {
    py_str(&node.to_value())
}

/// A list of strings from a string (`a, b` is split on commas, as Ansible
/// does for tags), a number, or a list.
fn string_list(node: &Node, split_commas: bool) -> Vec<String> {
    match &node.kind {
        NodeKind::Null => Vec::new(),
        NodeKind::Seq(items) => items.iter().map(text_of).collect(),
        _ => {
            let s = text_of(node);
            if split_commas {
                s.split(',')
                    .map(|t| t.trim().to_string())
                    .filter(|t| !t.is_empty())
                    .collect()
            } else {
                vec![s]
            }
        }
    }
}

/// `tags:`: a comma-separated string or a list. Anything else is the error
/// ansible-playbook gives (exit code 1).
pub(super) fn tags_of(node: &Node) -> Result<Vec<String>> {
    match &node.kind {
        NodeKind::Null | NodeKind::Str(_) | NodeKind::Unsafe(_) | NodeKind::Seq(_) => {
            Ok(string_list(node, true))
        }
        _ => Err(Diagnostic::new("tags must be specified as a list")
            .at(node.loc.clone())
            .hint("write `tags: [web, db]` or `tags: web, db`; quote a number used as a tag")),
    }
}

/// `when:` as a list of conditions.
fn conditions(node: &Node) -> Vec<Value> {
    match &node.kind {
        NodeKind::Null => Vec::new(),
        NodeKind::Seq(items) => items.iter().map(Node::to_value).collect(),
        _ => vec![node.to_value()],
    }
}

/// `vars:`: a mapping whose keys are valid variable names (ansible-core
/// 2.19 no longer accepts a list of mappings).
pub(super) fn vars_of(node: &Node, owner: &str) -> Result<Map<String, Value>> {
    match &node.kind {
        NodeKind::Null => Ok(Map::new()),
        NodeKind::Map(pairs) => {
            for (k, _) in pairs {
                check_var_name(k)?;
            }
            match node.to_value() {
                Value::Object(m) => Ok(m),
                _ => Ok(Map::new()),
            }
        }
        _ => {
            let d = Diagnostic::parse(
                format!("Vars in a {owner} must be specified as a dictionary."),
                node.loc.clone(),
            );
            Err(if node.as_seq().is_some() {
                d.hint("write `vars:` as `name: value` lines, without `- ` (a list of mappings is no longer accepted)")
            } else {
                d.hint("write `vars:` as `name: value` lines")
            })
        }
    }
}

/// Names Jinja gives a meaning of its own: they cannot be variables.
const JINJA_KEYWORDS: &[&str] = &["true", "false", "none", "True", "False", "None", "not"];

/// Whether `name` can be a variable: an ASCII identifier that is not a
/// Jinja keyword.
pub fn is_var_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !JINJA_KEYWORDS.contains(&name)
}

/// Rejects a `vars:` key that is not a valid variable name (exit code 1,
/// as ansible-playbook).
fn check_var_name(key: &Node) -> Result<()> {
    if let NodeKind::Str(s) | NodeKind::Unsafe(s) = &key.kind {
        if is_var_name(s) {
            return Ok(());
        }
    }
    let text = key.key_text().unwrap_or_default();
    let desc = match &key.kind {
        NodeKind::Str(_) | NodeKind::Unsafe(_) => format!("name '{text}'"),
        NodeKind::Seq(_) | NodeKind::Map(_) => format!("name of type '{}'", key.type_name()),
        _ => format!("name '{text}' of type '{}'", key.type_name()),
    };
    Err(Diagnostic::new(format!("Invalid variable {desc}."))
        .at(key.loc.clone())
        .hint("Variable names must be strings starting with a letter or underscore character, and contain only letters, numbers and underscores."))
}

/// The error for a key that is not a keyword of `owner`.
fn not_valid(key: &str, loc: &Loc, owner: &str, valid: &[&str]) -> Diagnostic {
    let d = Diagnostic::parse(
        format!("'{key}' is not a valid attribute for a {owner}"),
        loc.clone(),
    );
    match did_you_mean(key, valid.iter().copied()) {
        Some(s) => d.hint(format!("did you mean '{s}'?")),
        None => d.hint(format!(
            "valid keywords for a {owner}: {}",
            valid.join(", ")
        )),
    }
}

impl<'a> Loader<'a> {
    fn new(opts: &'a LoadOptions, playbook_dir: &Path) -> Loader<'a> {
        let mut loader = Loader {
            opts,
            playbook_dir: playbook_dir.to_path_buf(),
            custom_modules: HashMap::new(),
            scanned_libraries: HashSet::new(),
            stack: Vec::new(),
            play: PlayState::default(),
        };
        loader.scan_library(playbook_dir);
        for dir in &opts.library {
            loader.scan_module_dir(dir.clone());
        }
        loader
    }

    /// Makes the modules in `dir/library/` known.
    pub fn scan_library(&mut self, dir: &Path) {
        self.scan_module_dir(dir.join("library"));
    }

    /// Makes the modules in `lib` known (a `library/` directory, or one
    /// of the configured `library` paths).
    fn scan_module_dir(&mut self, lib: PathBuf) {
        if !self.scanned_libraries.insert(lib.clone()) {
            return;
        }
        let Ok(entries) = std::fs::read_dir(&lib) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if !path.is_file() {
                continue;
            }
            let Some(stem) = path.file_stem().and_then(|s| s.to_str()) else {
                continue;
            };
            if stem.starts_with('.') || stem.starts_with('_') {
                continue;
            }
            self.custom_modules
                .entry(stem.to_string())
                .or_insert(path.clone());
        }
    }

    /// Renders a load-time template (import path, role name).
    pub fn render(&self, text: &str, loc: &Loc) -> Result<String> {
        if !text.contains("{{") && !text.contains("{%") {
            return Ok(text.to_string());
        }
        let mut vars = self.play.vars.clone();
        for (k, v) in &self.opts.extra_vars {
            vars.insert(k.clone(), v.clone());
        }
        match &self.opts.render {
            Some(render) => render(text, &vars).map_err(|d| d.or_at(loc)),
            None => render_plain_names(text, &vars).ok_or_else(|| {
                Diagnostic::parse(
                    format!("could not template '{text}' at load time"),
                    loc.clone(),
                )
                .hint("only extra vars and play vars are known when imports are loaded")
            }),
        }
    }

    /// Pushes a file on the import stack, refusing cycles.
    fn enter(&mut self, path: &Path, loc: &Loc) -> Result<()> {
        // Compare real paths, so `./a.yml` and `a.yml` are one file.
        let path = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        if self.stack.len() >= MAX_IMPORT_DEPTH || self.stack.contains(&path) {
            return Err(Diagnostic::parse(
                format!(
                    "'{}' imports itself (directly or through other files)",
                    path.display()
                ),
                loc.clone(),
            )
            .hint("an import cycle never ends; use include_tasks with a condition for recursion"));
        }
        self.stack.push(path);
        Ok(())
    }

    /// Loads a playbook file; `import_vars` are the vars of the
    /// `import_playbook` entries that led here, which template nested
    /// import paths.
    fn playbook_file(
        &mut self,
        path: &Path,
        import_vars: &Map<String, Value>,
    ) -> Result<Vec<Play>> {
        let root = yaml::load_file(path).map_err(|d| d.code(exit::PARSER_ERROR))?;
        let name = path.display().to_string();
        let items = match &root.kind {
            NodeKind::Null => {
                return Err(Diagnostic::parse(
                    format!("Empty playbook, nothing to do: {name}"),
                    Loc::file(name.as_str()),
                )
                .hint("a playbook is a list of plays: `- hosts: all` then `tasks:`"))
            }
            NodeKind::Seq(items) => items,
            _ => {
                return Err(Diagnostic::parse(
                    format!(
                        "A playbook must be a list of plays, got a {} instead: {name}",
                        root.type_name()
                    ),
                    root.loc.clone(),
                )
                .hint("start each play with `- ` (`- hosts: all`)"))
            }
        };
        self.enter(path, &root.loc)?;
        let basedir = parent_dir(path);
        let mut plays = Vec::new();
        for item in items {
            let Some(pairs) = item.as_map() else {
                return Err(Diagnostic::parse(
                    "playbook entries must be either valid plays or 'import_playbook' statements",
                    item.loc.clone(),
                )
                .hint(format!(
                    "this entry is a {}, a play is a mapping with `hosts:`",
                    item.type_name()
                )));
            };
            let import = pairs.iter().find(|(k, _)| {
                matches!(
                    key_of(k).as_str(),
                    "import_playbook"
                        | "ansible.builtin.import_playbook"
                        | "ansible.legacy.import_playbook"
                )
            });
            match import {
                Some((k, v)) => {
                    plays.extend(self.import_playbook(item, k, v, &basedir, import_vars)?)
                }
                None => plays.push(self.play(item, &basedir)?),
            }
        }
        self.stack.pop();
        Ok(plays)
    }

    fn import_playbook(
        &mut self,
        entry: &Node,
        key: &Node,
        file: &Node,
        basedir: &Path,
        outer_vars: &Map<String, Value>,
    ) -> Result<Vec<Play>> {
        let key_name = key_of(key);
        let mut vars = Map::new();
        let mut tags = Vec::new();
        let mut when = Vec::new();
        for (k, v) in entry.as_map().unwrap_or_default() {
            let name = key_of(k);
            if name == key_name {
                continue;
            }
            match name.as_str() {
                "vars" => vars = vars_of(v, "PlaybookInclude")?,
                "tags" => tags = tags_of(v)?,
                "when" => when = conditions(v),
                "name" => {}
                _ => {
                    return Err(not_valid(&name, &k.loc, "PlaybookInclude", IMPORT_PLAYBOOK_KEYWORDS)
                        .hint("import_playbook takes only vars, tags and when; put play keywords in the imported file"))
                }
            }
        }
        let Some(raw) = file.as_str() else {
            return Err(Diagnostic::parse(
                "import_playbook needs the path of a playbook file",
                file.loc.clone(),
            ));
        };
        // A legacy `tags` variable adds tags, as Ansible still allows.
        if let Some(t) = vars.remove("tags") {
            tags.extend(value_strings(&t, true));
        }
        // Play vars are not known between plays: the import's own vars
        // (and those of enclosing imports) and extra vars template the path.
        let mut known = outer_vars.clone();
        known.extend(vars.clone());
        self.play.vars = known.clone();
        let rendered = self.render(raw.trim(), &file.loc)?;
        let path = basedir.join(&rendered);
        if !path.is_file() {
            return Err(Diagnostic::new(format!(
                "Unable to retrieve file contents: could not find or access '{}'",
                path.display()
            ))
            .at(file.loc.clone())
            .hint(
                if rendered.split('.').count() >= 3 && !rendered.contains('/') && !rendered.ends_with(".yml") && !rendered.ends_with(".yaml") {
                    "playbooks from collections are not shipped with herd; import a playbook file by its path"
                } else {
                    "import_playbook paths are relative to the importing playbook's directory"
                },
            ));
        }
        // Refuse a cycle here, where the import is written.
        self.enter(&path, &file.loc)?;
        self.stack.pop();
        let mut plays = self.playbook_file(&path, &known)?;
        for play in &mut plays {
            // The import's vars win over the play's own, as in Ansible.
            for (k, v) in &vars {
                play.vars.insert(k.clone(), v.clone());
            }
            for t in &tags {
                if !play.tags.contains(t) {
                    play.tags.push(t.clone());
                }
            }
            let mut w = when.clone();
            w.append(&mut play.when);
            play.when = w;
        }
        Ok(plays)
    }

    fn play(&mut self, node: &Node, basedir: &Path) -> Result<Play> {
        let pairs = node.as_map().unwrap_or_default();
        self.play = PlayState::default();
        let mut play = Play {
            loc: node.loc.clone(),
            name: None,
            hosts: Value::Null,
            vars: Map::new(),
            vars_files: Vec::new(),
            vars_prompt: Vec::new(),
            roles: Vec::new(),
            pre_tasks: Vec::new(),
            tasks: Vec::new(),
            post_tasks: Vec::new(),
            handlers: Vec::new(),
            tags: Vec::new(),
            when: Vec::new(),
            keywords: Keywords::default(),
            playbook_dir: self.playbook_dir.clone(),
            basedir: basedir.to_path_buf(),
        };
        // Keywords first, so a misspelt one is reported before anything is
        // loaded, and play vars are known for templated imports.
        let mut hosts_node = None;
        for (k, v) in pairs {
            let key = key_of(k);
            if !PLAY_KEYWORDS.contains(&key.as_str()) {
                let mut d = not_valid(&key, &k.loc, "Play", PLAY_KEYWORDS);
                if herd_modules::lookup(&key).is_some() {
                    d = d.hint(format!(
                        "'{key}' is a module: put it in a task under `tasks:`"
                    ));
                }
                return Err(d);
            }
            match key.as_str() {
                "name" => play.name = (!v.is_null()).then(|| text_of(v)),
                "hosts" => hosts_node = Some(v),
                "vars" => play.vars = vars_of(v, "Play")?,
                "vars_files" => {
                    play.vars_files = match &v.kind {
                        NodeKind::Null => Vec::new(),
                        NodeKind::Seq(items) => items.iter().map(Node::to_value).collect(),
                        _ => vec![v.to_value()],
                    }
                }
                "vars_prompt" => play.vars_prompt = vars_prompt(v)?,
                "tags" => play.tags = tags_of(v)?,
                "roles" | "pre_tasks" | "tasks" | "post_tasks" | "handlers" => {}
                _ => {
                    play.keywords.0.insert(key, v.to_value());
                }
            }
        }
        match hosts_node {
            None => {
                return Err(Diagnostic::parse(
                    "The field 'hosts' is required but was not set.",
                    node.loc.clone(),
                )
                .hint("add `hosts: all` (or a group or host pattern) to the play"))
            }
            Some(h) => {
                let empty = match &h.kind {
                    NodeKind::Null => true,
                    NodeKind::Str(s) => s.trim().is_empty(),
                    NodeKind::Seq(items) => items.is_empty(),
                    _ => false,
                };
                if empty {
                    return Err(Diagnostic::parse(
                        "Hosts list cannot be empty. Please check your playbook",
                        h.loc.clone(),
                    )
                    .hint("give a host pattern such as `all`, a group, or a list of hosts"));
                }
                match &h.kind {
                    NodeKind::Str(_) | NodeKind::Unsafe(_) => {}
                    NodeKind::Seq(items) => {
                        if let Some(bad) =
                            items.iter().find(|i| i.as_str().is_none_or(str::is_empty))
                        {
                            return Err(Diagnostic::parse(
                                format!(
                                    "Hosts list contains an invalid host value: '{}'",
                                    text_of(bad)
                                ),
                                bad.loc.clone(),
                            )
                            .hint("each entry of `hosts:` is a host or group pattern; quote it"));
                        }
                    }
                    _ => {
                        return Err(Diagnostic::parse(
                            "Hosts list must be a sequence or string. Please check your playbook.",
                            h.loc.clone(),
                        )
                        .hint(format!("`hosts:` is a {} here; quote a pattern that YAML reads as another type", h.type_name())));
                    }
                }
                play.hosts = h.to_value();
            }
        }
        self.play.vars = play.vars.clone();
        let ctx = TaskCtx {
            file_dir: basedir.to_path_buf(),
            basedir: basedir.to_path_buf(),
            role: None,
            is_handler: false,
        };
        if let Some(r) = node.get("roles") {
            play.roles = self.play_roles(r, node, basedir)?;
        }
        for (field, list) in [
            ("pre_tasks", &mut play.pre_tasks),
            ("tasks", &mut play.tasks),
            ("post_tasks", &mut play.post_tasks),
        ] {
            if let Some(n) = node.get(field) {
                *list = self.task_list(n, &ctx, field)?;
            }
        }
        if let Some(n) = node.get("handlers") {
            let hctx = TaskCtx {
                is_handler: true,
                ..ctx.clone()
            };
            play.handlers = self.task_list(n, &hctx, "handlers")?;
        }
        play.handlers.append(&mut self.play.imported_handlers);
        Ok(play)
    }

    fn play_roles(
        &mut self,
        node: &Node,
        play: &Node,
        basedir: &Path,
    ) -> Result<Vec<super::RoleInclude>> {
        let items = match &node.kind {
            NodeKind::Null => return Ok(Vec::new()),
            NodeKind::Seq(items) => items,
            _ => {
                return Err(Diagnostic::parse(
                    format!(
                        "A malformed role declaration was encountered: roles should be a list but was a {}",
                        node.type_name()
                    ),
                    node.loc.clone(),
                )
                .hint("write each role as a list item: `roles:` then `- rolename`"))
            }
        };
        let _ = play;
        let mut out = Vec::new();
        for item in items {
            let spec = RoleSpec::parse(item, false)?;
            out.push(self.load_role(spec, basedir, None)?);
        }
        Ok(out)
    }

    /// Loads a list of tasks (`tasks:`, `block:`, a tasks file).
    pub fn task_list(&mut self, node: &Node, ctx: &TaskCtx, what: &str) -> Result<Vec<TaskItem>> {
        let items = match &node.kind {
            NodeKind::Null => return Ok(Vec::new()),
            NodeKind::Seq(items) => items,
            _ => {
                return Err(Diagnostic::parse(
                    format!(
                        "A malformed block was encountered while loading {what}: it should be a list or None but is a {}",
                        node.type_name()
                    ),
                    node.loc.clone(),
                )
                .hint("start each task with `- ` (`- name: ...`)"))
            }
        };
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            out.push(self.task_item(item, ctx)?);
        }
        Ok(out)
    }

    fn task_item(&mut self, node: &Node, ctx: &TaskCtx) -> Result<TaskItem> {
        let Some(pairs) = node.as_map() else {
            let mut d = Diagnostic::parse(
                format!(
                    "a task must be a mapping (a dict), but this is a {}",
                    node.type_name()
                ),
                node.loc.clone(),
            );
            d = match node.as_str() {
                Some(s) if s.contains(' ') || s.contains('=') => d.hint(
                    "a module and its arguments are separated by a colon: `module: arg=value`",
                ),
                _ => d.hint("write a task as `- name: ...` with the module on the next line"),
            };
            return Err(d);
        };
        let has = |k: &str| pairs.iter().any(|(key, _)| key.as_str() == Some(k));
        if has("block") {
            return self.block(node, pairs, ctx).map(TaskItem::Block);
        }
        for k in ["rescue", "always"] {
            if has(k) {
                return Err(Diagnostic::parse(
                    format!("'{k}' keyword cannot be used without 'block'"),
                    node.loc.clone(),
                )
                .hint(format!(
                    "put the tasks to protect under `block:` beside `{k}:`"
                )));
            }
        }
        self.task(node, pairs, ctx)
    }

    fn block(&mut self, node: &Node, pairs: &[(Node, Node)], ctx: &TaskCtx) -> Result<Block> {
        let mut b = Block {
            loc: node.loc.clone(),
            name: None,
            block: Vec::new(),
            rescue: Vec::new(),
            always: Vec::new(),
            tags: Vec::new(),
            when: Vec::new(),
            vars: Map::new(),
            notify: Vec::new(),
            keywords: Keywords::default(),
            role: ctx.role.clone(),
            origin: BlockOrigin::Block,
        };
        for (k, v) in pairs {
            let key = key_of(k);
            if !BLOCK_KEYWORDS.contains(&key.as_str()) {
                let mut d = not_valid(&key, &k.loc, "Block", BLOCK_KEYWORDS);
                if herd_modules::lookup(&key).is_some() {
                    d = d.hint(format!(
                        "'{key}' is a module: put it in a task inside `block:`"
                    ));
                }
                return Err(d);
            }
            match key.as_str() {
                "name" => b.name = (!v.is_null()).then(|| text_of(v)),
                "block" | "rescue" | "always" => {
                    // Unlike `tasks:`, an empty `block:` must be written
                    // `[]`: ansible-playbook rejects a null one.
                    if !matches!(v.kind, NodeKind::Seq(_)) {
                        let place = if key == "block" {
                            "a block"
                        } else {
                            key.as_str()
                        };
                        let hint = if v.is_null() {
                            format!("give `{key}:` at least `[]`, or list its tasks with `- `")
                        } else {
                            format!("start each task under `{key}:` with `- `")
                        };
                        return Err(Diagnostic::parse(
                            format!(
                                "A malformed block was encountered while loading {place}: '{key}' should be a list of tasks but is a {}",
                                v.type_name()
                            ),
                            v.loc.clone(),
                        )
                        .hint(hint));
                    }
                    let list = self.task_list(v, ctx, &key)?;
                    match key.as_str() {
                        "block" => b.block = list,
                        "rescue" => b.rescue = list,
                        _ => b.always = list,
                    }
                }
                "tags" => b.tags = tags_of(v)?,
                "when" => b.when = conditions(v),
                "vars" => b.vars = vars_of(v, "Block")?,
                "notify" => b.notify = string_list(v, false),
                _ => {
                    b.keywords.0.insert(key, v.to_value());
                }
            }
        }
        Ok(b)
    }

    /// Whether `name` is a module or action herd knows here, and its
    /// canonical short name, FQCN and custom module file.
    fn resolve_action(&self, name: &str) -> Option<(String, String, Option<PathBuf>)> {
        if let Some(info) = herd_modules::lookup(name) {
            let fqcn = if name.contains('.') {
                name.to_string()
            } else {
                info.fqcn()
            };
            return Some((info.name.to_string(), fqcn, None));
        }
        let short = name.strip_prefix("ansible.legacy.").unwrap_or(name);
        self.custom_modules.get(short).map(|p| {
            // Ansible resolves a module of `library/` as ansible.legacy.
            let fqcn = if name.contains('.') {
                name.to_string()
            } else {
                format!("ansible.legacy.{short}")
            };
            (short.to_string(), fqcn, Some(p.clone()))
        })
    }

    fn unknown_action(&self, name: &str, loc: &Loc) -> Diagnostic {
        // `include` was removed in ansible-core 2.16; Ansible names its
        // replacements (and exits 1, not 4).
        if matches!(
            name,
            "include" | "ansible.builtin.include" | "ansible.legacy.include"
        ) {
            return Diagnostic::new(
                "The 'ansible.builtin.include' action plugin has been removed. Use include_tasks or import_tasks instead.",
            )
            .at(loc.clone())
            .hint("import_tasks inlines the file when the playbook is loaded; include_tasks reads it when the task runs");
        }
        let msg = format!("couldn't resolve module/action '{name}'");
        let library = "herd ships the ansible.builtin and ansible.posix modules; a custom module goes in `library/` beside the playbook or the role (library/NAME.py or an executable)";
        let parts: Vec<&str> = name.split('.').collect();
        let shipped = ["ansible.builtin", "ansible.legacy", "ansible.posix"];
        let coll = parts.get(..2).map(|p| p.join(".")).unwrap_or_default();
        if parts.len() >= 3 && !shipped.contains(&coll.as_str()) {
            return Diagnostic::parse(
                format!("{msg}: it is the module '{}' of the collection '{coll}', which herd does not ship", parts[parts.len() - 1]),
                loc.clone(),
            )
            .hint(library);
        }
        if let Some(coll) = herd_modules::moved_to_collection(name) {
            return Diagnostic::parse(
                format!("{msg}: that module moved out of ansible-core to the collection '{coll}', which herd does not ship"),
                loc.clone(),
            )
            .hint(library);
        }
        let names = herd_modules::all()
            .iter()
            .map(|m| m.name)
            .chain(self.custom_modules.keys().map(String::as_str))
            .chain(TASK_KEYWORDS.iter().copied());
        let d = Diagnostic::parse(format!("{msg}. This often indicates a misspelling, missing collection, or incorrect module path."), loc.clone());
        if PLAY_KEYWORDS.contains(&name) {
            return d.hint(format!(
                "'{name}' is a play keyword, not valid on a task; set it on the play (or use delegate_to to run a task elsewhere)"
            ));
        }
        let (prefix, short) = match name.rsplit_once('.') {
            Some((p, s)) if parts.len() >= 3 => (format!("{p}."), s),
            _ => (String::new(), name),
        };
        match did_you_mean(short, names) {
            Some(s) => d.hint(format!("did you mean '{prefix}{s}'?")),
            None => d.hint(library),
        }
    }

    /// The arguments given to a module key, `action:` or `local_action:`.
    fn action_args(&self, action: &str, v: &Node, key_loc: &Loc) -> Result<Map<String, Value>> {
        match &v.kind {
            NodeKind::Null => Ok(Map::new()),
            NodeKind::Map(_) => match v.to_value() {
                Value::Object(m) => Ok(m),
                _ => Ok(Map::new()),
            },
            NodeKind::Str(s) | NodeKind::Unsafe(s) => split_kv(s, action, &v.loc),
            NodeKind::Int(_) | NodeKind::Float(_) | NodeKind::Bool(_) => {
                split_kv(&text_of(v), action, &v.loc)
            }
            _ => Err(Diagnostic::parse(
                format!("unexpected parameter type in action: {}", v.type_name()),
                key_loc.clone(),
            )
            .hint(format!(
                "give '{action}' a mapping of arguments or `key=value` text"
            ))),
        }
    }

    fn task(&mut self, node: &Node, pairs: &[(Node, Node)], ctx: &TaskCtx) -> Result<TaskItem> {
        let owner = if ctx.is_handler { "Handler" } else { "Task" };
        // First pass: find the action among the keys that are not keywords.
        let mut action_keys: Vec<(&Node, &Node)> = Vec::new();
        let mut unknown: Vec<(&Node, &Node)> = Vec::new();
        let mut loops: Vec<(String, &Node, &Node)> = Vec::new();
        for (k, v) in pairs {
            let key = key_of(k);
            if key == "action" || key == "local_action" {
                action_keys.push((k, v));
            } else if TASK_KEYWORDS.contains(&key.as_str()) || (ctx.is_handler && key == "listen") {
                if key == "loop" {
                    loops.push((key.clone(), k, v));
                }
            } else if let Some(lookup) = key.strip_prefix("with_") {
                if !LOOKUPS.contains(&lookup) {
                    let d = Diagnostic::parse(
                        format!("'{key}' is not a valid attribute for a {owner}"),
                        k.loc.clone(),
                    );
                    return Err(match did_you_mean(lookup, LOOKUPS.iter().copied()) {
                        Some(s) => d.hint(format!("did you mean 'with_{s}'?")),
                        None => d.hint(format!(
                            "`with_<lookup>` needs a lookup ansible-core ships ({}); or use `loop:`",
                            LOOKUPS.join(", ")
                        )),
                    });
                }
                loops.push((key.clone(), k, v));
            } else if self.resolve_action(&key).is_some() {
                action_keys.push((k, v));
            } else {
                unknown.push((k, v));
            }
        }
        let valid: Vec<&str> = TASK_KEYWORDS
            .iter()
            .copied()
            .chain(ctx.is_handler.then_some("listen"))
            .collect();
        if !unknown.is_empty() && (!action_keys.is_empty() || unknown.len() > 1) {
            // A key that is neither keyword nor module, beside an action:
            // most likely a misspelt keyword.
            for (k, _) in &unknown {
                let key = key_of(k);
                if key == "listen" {
                    return Err(Diagnostic::parse(
                        format!("'listen' is not a valid attribute for a {owner}"),
                        k.loc.clone(),
                    )
                    .hint("only handlers (under `handlers:`) can `listen:` to a topic"));
                }
                if let Some(s) = did_you_mean(&key, valid.iter().copied()) {
                    return Err(Diagnostic::parse(
                        format!("'{key}' is not a valid attribute for a {owner}"),
                        k.loc.clone(),
                    )
                    .hint(format!("did you mean '{s}'?")));
                }
            }
            let (k, _) = unknown[0];
            return Err(self.unknown_action(&key_of(k), &k.loc));
        }
        if let [(k, _)] = unknown.as_slice() {
            if action_keys.is_empty() {
                let key = key_of(k);
                if key == "listen" {
                    return Err(Diagnostic::parse(
                        format!("'listen' is not a valid attribute for a {owner}"),
                        k.loc.clone(),
                    )
                    .hint("only handlers (under `handlers:`) can `listen:` to a topic"));
                }
                return Err(self.unknown_action(&key, &k.loc));
            }
        }
        if action_keys.len() > 1 {
            let names: Vec<String> = action_keys.iter().map(|(k, _)| key_of(k)).collect();
            return Err(Diagnostic::parse(
                format!("conflicting action statements: {}", names.join(", ")),
                action_keys[1].0.loc.clone(),
            )
            .hint("a task runs one module; split this into one task per module"));
        }
        let Some(&(akey, aval)) = action_keys.first() else {
            return Err(
                Diagnostic::parse("no module/action detected in task.", node.loc.clone())
                    .hint("add the module to run, e.g. `ansible.builtin.debug: msg=hello`"),
            );
        };
        if loops.len() > 1 {
            let second = &loops[1].0;
            let name = second.strip_prefix("with_").unwrap_or(second);
            return Err(Diagnostic::new(format!("duplicate loop in task: {name}"))
                .at(loops[1].1.loc.clone())
                .hint("a task has one loop: keep either `loop:` or one `with_<lookup>:`"));
        }

        // The action and its arguments.
        let akey_name = key_of(akey);
        let mut keywords = Keywords::default();
        let (written, mut args) = if akey_name == "action" || akey_name == "local_action" {
            if akey_name == "local_action" {
                keywords
                    .0
                    .insert("delegate_to".into(), Value::String("localhost".into()));
            }
            self.action_keyword(aval, &akey.loc)?
        } else {
            let args = self.action_args(&akey_name, aval, &akey.loc)?;
            (akey_name.clone(), args)
        };
        let Some((action, action_fqcn, module_path)) = self.resolve_action(&written) else {
            return Err(self.unknown_action(&written, &aval.loc));
        };
        if !RAW_TEXT_MODULES.contains(&action.as_str()) {
            if let Some(bad) = args.keys().find(|a| a.starts_with("_ansible_")) {
                return Err(Diagnostic::new(
                    format!("Invalid parameter specified beginning with keyword '_ansible_' for action '{action}': '{bad}'. The prefix '_ansible_' is reserved for internal use only."),
                ).at(aval.loc.clone()));
            }
        }

        let mut task = Task {
            loc: node.loc.clone(),
            name: None,
            action,
            action_fqcn,
            action_written: written.clone(),
            action_loc: akey.loc.clone(),
            args: Map::new(),
            tags: Vec::new(),
            when: Vec::new(),
            loop_: None,
            loop_control: None,
            register: None,
            notify: Vec::new(),
            listen: Vec::new(),
            vars: Map::new(),
            keywords,
            role: ctx.role.clone(),
            is_handler: ctx.is_handler,
            module_path,
            apply: None,
        };
        for (k, v) in pairs {
            let key = key_of(k);
            if std::ptr::eq(k, akey) {
                continue;
            }
            match key.as_str() {
                "name" => task.name = (!v.is_null()).then(|| text_of(v)),
                "args" => {
                    // The module's own arguments win over `args:`.
                    let base =
                        match &v.kind {
                            NodeKind::Null => Map::new(),
                            NodeKind::Map(_) => match v.to_value() {
                                Value::Object(m) => m,
                                _ => Map::new(),
                            },
                            NodeKind::Str(s) if s.contains("{{") => {
                                let mut m = Map::new();
                                m.insert("_variable_params".into(), Value::String(s.clone()));
                                m
                            }
                            _ => return Err(Diagnostic::parse(
                                "The value of the task `args` keyword is invalid.",
                                v.loc.clone(),
                            )
                            .hint(
                                "A mapping or template which resolves to a mapping is required.",
                            )),
                        };
                    let own = std::mem::take(&mut args);
                    args = base;
                    args.extend(own);
                }
                "tags" => task.tags = tags_of(v)?,
                "when" => task.when = conditions(v),
                "loop" => {
                    task.loop_ = Some(Loop {
                        loc: k.loc.clone(),
                        with: None,
                        items: v.to_value(),
                    })
                }
                "loop_control" => task.loop_control = Some(loop_control(v)?),
                "register" => task.register = (!v.is_null()).then(|| text_of(v)),
                "notify" => task.notify = string_list(v, false),
                "listen" => task.listen = string_list(v, false),
                "vars" => task.vars = vars_of(v, owner)?,
                _ => {
                    if let Some(lookup) = key.strip_prefix("with_") {
                        task.loop_ = Some(Loop {
                            loc: k.loc.clone(),
                            with: Some(lookup.to_string()),
                            items: v.to_value(),
                        });
                    } else if key == "action" || key == "local_action" {
                        // Already taken as the action above.
                    } else {
                        task.keywords.0.insert(key, v.to_value());
                    }
                }
            }
        }
        task.args = args;
        self.special_action(task, ctx)
    }

    /// `action:` / `local_action:`: `module args…` text or a mapping with
    /// `module:`.
    fn action_keyword(&self, v: &Node, key_loc: &Loc) -> Result<(String, Map<String, Value>)> {
        match &v.kind {
            NodeKind::Str(s) | NodeKind::Unsafe(s) => {
                let s = s.trim_start();
                let (module, rest) = match s.find(char::is_whitespace) {
                    Some(i) => (&s[..i], s[i..].trim_start()),
                    None => (s, ""),
                };
                if module.is_empty() {
                    return Err(Diagnostic::parse(
                        "no module/action detected in task.",
                        v.loc.clone(),
                    )
                    .hint("write `action: module arg=value`"));
                }
                let args = split_kv(rest, module, &v.loc)?;
                Ok((module.to_string(), args))
            }
            NodeKind::Map(pairs) => {
                // ansible-core 2.19 deprecates this form; say so as it does.
                crate::diag::warn(format!(
                    "{}: using a mapping for `action` is deprecated and will be removed in ansible-core 2.23; use a string value for `action`",
                    v.loc
                ));
                let mut module = None;
                let mut args = Map::new();
                for (k, val) in pairs {
                    let key = key_of(k);
                    if key == "module" {
                        module = val.as_str().map(str::to_string);
                    } else {
                        args.insert(key, val.to_value());
                    }
                }
                let Some(module) = module else {
                    return Err(Diagnostic::parse(
                        "no module/action detected in task.",
                        v.loc.clone(),
                    )
                    .hint("give the module with `module:` in the `action:` mapping"));
                };
                // `action: {module: copy, args: …}` style args are merged.
                if let Some(Value::Object(inner)) = args.remove("args") {
                    args.extend(inner);
                }
                Ok((module, args))
            }
            _ => Err(Diagnostic::parse(
                format!("unexpected parameter type in action: {}", v.type_name()),
                key_loc.clone(),
            )),
        }
    }

    /// Handles the actions the loader itself carries out or checks:
    /// `import_tasks`, `import_role` (inlined), `include_tasks`,
    /// `include_role` (checked, `apply:` parsed).
    fn special_action(&mut self, mut task: Task, ctx: &TaskCtx) -> Result<TaskItem> {
        match task.action.as_str() {
            "import_tasks" => self.import_tasks(task, ctx),
            "import_role" => self.import_role(task, ctx),
            "include_tasks" => {
                check_args(&task, &["file", "_raw_params", "apply"])?;
                task.apply = self.apply_of(&task, ctx)?;
                Ok(TaskItem::Task(task))
            }
            "include_role" => {
                check_args(&task, ROLE_ACTION_ARGS)?;
                if !task.args.contains_key("name") {
                    return Err(Diagnostic::parse(
                        "'name' is a required field for include_role.",
                        task.loc.clone(),
                    )
                    .hint("give the role to include: `include_role: name=myrole`"));
                }
                task.apply = self.apply_of(&task, ctx)?;
                Ok(TaskItem::Task(task))
            }
            _ => Ok(TaskItem::Task(task)),
        }
    }

    fn apply_of(&mut self, task: &Task, ctx: &TaskCtx) -> Result<Option<Box<Block>>> {
        let Some(apply) = task.args.get("apply") else {
            return Ok(None);
        };
        let Value::Object(m) = apply else {
            return Err(Diagnostic::parse(
                format!("Expected a dict for apply but got {}", type_name(apply)),
                task.action_loc.clone(),
            ));
        };
        let mut b = Block {
            loc: task.action_loc.clone(),
            name: None,
            block: Vec::new(),
            rescue: Vec::new(),
            always: Vec::new(),
            tags: Vec::new(),
            when: Vec::new(),
            vars: Map::new(),
            notify: Vec::new(),
            keywords: Keywords::default(),
            role: ctx.role.clone(),
            origin: BlockOrigin::Block,
        };
        for (k, v) in m {
            match k.as_str() {
                "block" | "rescue" | "always" => {
                    return Err(Diagnostic::parse(
                        format!(
                            "'{k}' is not allowed in apply: apply takes block keywords, not tasks"
                        ),
                        task.action_loc.clone(),
                    ))
                }
                "tags" => b.tags = value_strings(v, true),
                "when" => {
                    b.when = match v {
                        Value::Array(a) => a.clone(),
                        other => vec![other.clone()],
                    }
                }
                "vars" => match v {
                    Value::Object(vm) => b.vars = vm.clone(),
                    _ => {
                        return Err(Diagnostic::parse(
                            "Vars in a Block must be specified as a dictionary.",
                            task.action_loc.clone(),
                        ))
                    }
                },
                "notify" => b.notify = value_strings(v, false),
                "name" => b.name = Some(py_str(v)),
                _ if BLOCK_KEYWORDS.contains(&k.as_str()) => {
                    b.keywords.0.insert(k.clone(), v.clone());
                }
                _ => return Err(not_valid(k, &task.action_loc, "Block", BLOCK_KEYWORDS)),
            }
        }
        Ok(Some(Box::new(b)))
    }

    /// Finds a tasks file the way Ansible searches for an import: beside
    /// the including file, then in the role's `tasks/`, the role, and the
    /// play's directory.
    fn find_tasks_file(&self, rel: &str, ctx: &TaskCtx) -> Option<PathBuf> {
        let rel_path = Path::new(rel);
        if rel_path.is_absolute() {
            return rel_path.is_file().then(|| rel_path.to_path_buf());
        }
        let mut dirs = vec![ctx.file_dir.clone()];
        if let Some(role) = &ctx.role {
            dirs.push(role.path.join("tasks"));
            dirs.push(role.path.clone());
        }
        dirs.push(ctx.basedir.clone());
        dirs.push(ctx.basedir.join("tasks"));
        dirs.into_iter()
            .map(|d| d.join(rel_path))
            .find(|p| p.is_file())
    }

    /// Finds and loads a tasks file named by an import or include.
    fn tasks_file(
        &mut self,
        rel: &str,
        loc: &Loc,
        ctx: &TaskCtx,
    ) -> Result<(PathBuf, Vec<TaskItem>)> {
        let Some(path) = self.find_tasks_file(rel, ctx) else {
            return Err(Diagnostic::new(format!(
                "Unable to retrieve file contents: could not find or access '{rel}'"
            ))
            .at(loc.clone())
            .hint(format!(
                "searched relative to {}{}",
                ctx.file_dir.display(),
                ctx.role
                    .as_ref()
                    .map(|r| format!(", {}", r.path.join("tasks").display()))
                    .unwrap_or_default()
            )));
        };
        let root = yaml::load_file(&path).map_err(|d| d.code(exit::PARSER_ERROR))?;
        if root.is_null() {
            crate::diag::warn(format!(
                "file {} is empty and had no tasks to include",
                path.display()
            ));
        }
        if !matches!(root.kind, NodeKind::Seq(_) | NodeKind::Null) {
            return Err(Diagnostic::parse(
                "included task files must contain a list of tasks",
                root.loc.clone(),
            )
            .hint("start each task with `- `"));
        }
        self.enter(&path, loc)?;
        let inner = TaskCtx {
            file_dir: parent_dir(&path),
            ..ctx.clone()
        };
        let items = self.task_list(&root, &inner, "tasks")?;
        self.stack.pop();
        Ok((path, items))
    }

    fn import_tasks(&mut self, task: Task, ctx: &TaskCtx) -> Result<TaskItem> {
        check_args(&task, &["file", "_raw_params"])?;
        if task.loop_.is_some() {
            return Err(Diagnostic::parse(
                "You cannot use loops on 'import_tasks' statements. You should use 'include_tasks' instead.",
                task.loop_.as_ref().map(|l| l.loc.clone()).unwrap_or(task.loc.clone()),
            )
            .hint("import_tasks is inlined when the playbook is loaded; include_tasks runs per item"));
        }
        let raw = task
            .args
            .get("file")
            .or_else(|| task.args.get("_raw_params"))
            .map(py_str)
            .unwrap_or_default();
        if raw.trim().is_empty() {
            return Err(Diagnostic::parse(
                "No file specified for import_tasks",
                task.action_loc.clone(),
            )
            .hint("write `import_tasks: file.yml`"));
        }
        let rel = self.render(raw.trim(), &task.action_loc)?;
        let (path, items) = self.tasks_file(&rel, &task.action_loc, ctx)?;
        Ok(TaskItem::Block(import_block(
            task,
            items,
            BlockOrigin::ImportTasks { file: path },
        )))
    }

    fn import_role(&mut self, task: Task, ctx: &TaskCtx) -> Result<TaskItem> {
        check_args(&task, ROLE_ACTION_ARGS)?;
        if task.loop_.is_some() {
            return Err(Diagnostic::parse(
                "You cannot use loops on 'import_role' statements. You should use 'include_role' instead.",
                task.loop_.as_ref().map(|l| l.loc.clone()).unwrap_or(task.loc.clone()),
            ));
        }
        let spec = RoleSpec::from_action(&task)?;
        let name = spec.name.clone();
        let role_basedir = ctx.role.as_ref().map(|r| parent_dir(&r.path));
        let mut loaded = self.load_role(spec, &ctx.basedir, role_basedir.as_deref())?;
        let mut items = Vec::new();
        flatten_role(&mut loaded, &mut items, &mut self.play.imported_handlers);
        Ok(TaskItem::Block(import_block(
            task,
            items,
            BlockOrigin::ImportRole { name },
        )))
    }
}

/// A role's tasks (dependencies first) as blocks, one per role, and its
/// handlers moved to `handlers`.
fn flatten_role(
    role: &mut super::RoleInclude,
    items: &mut Vec<TaskItem>,
    handlers: &mut Vec<TaskItem>,
) {
    for dep in &mut role.dependencies {
        flatten_role(dep, items, handlers);
    }
    let block = |list: Vec<TaskItem>| Block {
        loc: role.loc.clone(),
        name: None,
        block: list,
        rescue: Vec::new(),
        always: Vec::new(),
        tags: role.tags.clone(),
        when: role.when.clone(),
        vars: role.vars.clone(),
        notify: Vec::new(),
        keywords: role.keywords.clone(),
        role: Some(role.context.clone()),
        origin: BlockOrigin::ImportRole {
            name: role.name.clone(),
        },
    };
    if !role.tasks.is_empty() {
        items.push(TaskItem::Block(block(std::mem::take(&mut role.tasks))));
    }
    if !role.handlers.is_empty() {
        handlers.push(TaskItem::Block(block(std::mem::take(&mut role.handlers))));
    }
}

/// The block standing for an import: the import task's keywords around the
/// imported tasks.
fn import_block(task: Task, items: Vec<TaskItem>, origin: BlockOrigin) -> Block {
    let mut keywords = task.keywords;
    if let Some(r) = task.register {
        keywords.0.insert("register".into(), Value::String(r));
    }
    Block {
        loc: task.loc,
        name: task.name,
        block: items,
        rescue: Vec::new(),
        always: Vec::new(),
        tags: task.tags,
        when: task.when,
        vars: task.vars,
        notify: task.notify,
        keywords,
        role: task.role,
        origin,
    }
}

/// Rejects arguments an include/import action does not take.
fn check_args(task: &Task, valid: &[&str]) -> Result<()> {
    if let Some(bad) = task.args.keys().find(|k| !valid.contains(&k.as_str())) {
        let valid_list: Vec<&str> = valid
            .iter()
            .copied()
            .filter(|v| *v != "_raw_params")
            .collect();
        let d = Diagnostic::parse(
            format!("Invalid options for {}: {bad}", task.action),
            task.action_loc.clone(),
        );
        return Err(match did_you_mean(bad, valid_list.iter().copied()) {
            Some(s) => d.hint(format!("did you mean '{s}'?")),
            None => d.hint(format!("{} takes: {}", task.action, valid_list.join(", "))),
        });
    }
    Ok(())
}

/// `k=v` text of `action`, split as Ansible does.
fn split_kv(text: &str, action: &str, loc: &Loc) -> Result<Map<String, Value>> {
    let short = action.rsplit('.').next().unwrap_or(action);
    parse_kv(text, RAW_TEXT_MODULES.contains(&short)).map_err(|_| {
        Diagnostic::parse(
            format!("failed at splitting arguments, either an unbalanced jinja2 block or quotes: {text}"),
            loc.clone(),
        )
        .hint("close every quote and every `{{ }}`, or write the arguments as a mapping")
    })
}

fn value_strings(v: &Value, split_commas: bool) -> Vec<String> {
    match v {
        Value::Null => Vec::new(),
        Value::Array(a) => a.iter().map(py_str).collect(),
        other => {
            let s = py_str(other);
            if split_commas {
                s.split(',')
                    .map(|t| t.trim().to_string())
                    .filter(|t| !t.is_empty())
                    .collect()
            } else {
                vec![s]
            }
        }
    }
}

fn loop_control(node: &Node) -> Result<LoopControl> {
    let pairs = match &node.kind {
        NodeKind::Null => return Ok(LoopControl::default()),
        NodeKind::Map(p) => p,
        _ => {
            return Err(Diagnostic::parse(
                "the `loop_control` value must be specified as a dictionary and cannot be a variable itself (though it can contain variables)",
                node.loc.clone(),
            )
            .hint(format!("valid keys: {}", LOOP_CONTROL_KEYWORDS.join(", "))))
        }
    };
    let mut lc = LoopControl::default();
    for (k, v) in pairs {
        let key = key_of(k);
        match key.as_str() {
            "loop_var" => lc.loop_var = Some(text_of(v)),
            "index_var" => lc.index_var = Some(text_of(v)),
            "label" => lc.label = Some(v.to_value()),
            "pause" => lc.pause = Some(v.to_value()),
            "extended" => lc.extended = Some(v.to_value()),
            "extended_allitems" => lc.extended_allitems = Some(v.to_value()),
            "break_when" => lc.break_when = conditions(v),
            _ => {
                return Err(not_valid(
                    &key,
                    &k.loc,
                    "LoopControl",
                    LOOP_CONTROL_KEYWORDS,
                ))
            }
        }
    }
    Ok(lc)
}

fn vars_prompt(node: &Node) -> Result<Vec<VarsPrompt>> {
    let items: Vec<&Node> = match &node.kind {
        NodeKind::Null => return Ok(Vec::new()),
        NodeKind::Seq(items) => items.iter().collect(),
        NodeKind::Map(_) => vec![node],
        _ => {
            return Err(Diagnostic::parse(
                format!(
                    "vars_prompt must be a list of prompts, got a {}",
                    node.type_name()
                ),
                node.loc.clone(),
            ))
        }
    };
    let mut out = Vec::new();
    for item in items {
        let pairs = map_of(item, "a vars_prompt entry")?;
        let mut p = VarsPrompt {
            loc: item.loc.clone(),
            name: String::new(),
            prompt: None,
            default: None,
            private: true,
            confirm: false,
            encrypt: None,
            salt: None,
            salt_size: None,
            unsafe_: false,
        };
        let mut has_name = false;
        for (k, v) in pairs {
            let key = key_of(k);
            let flag = || v.to_value().as_bool().unwrap_or(false);
            match key.as_str() {
                "name" => {
                    has_name = true;
                    p.name = text_of(v);
                }
                "prompt" => p.prompt = Some(text_of(v)),
                "default" => p.default = Some(v.to_value()),
                "private" => p.private = flag(),
                "confirm" => p.confirm = flag(),
                "encrypt" => p.encrypt = Some(text_of(v)),
                "salt" => p.salt = Some(text_of(v)),
                "salt_size" => p.salt_size = v.to_value().as_u64(),
                "unsafe" => p.unsafe_ = flag(),
                _ => {
                    let d = Diagnostic::parse(
                        format!(
                            "Invalid vars_prompt data structure, found unsupported key '{key}'"
                        ),
                        k.loc.clone(),
                    );
                    return Err(match did_you_mean(&key, VARS_PROMPT_KEYS.iter().copied()) {
                        Some(s) => d.hint(format!("did you mean '{s}'?")),
                        None => d.hint(format!("valid keys: {}", VARS_PROMPT_KEYS.join(", "))),
                    });
                }
            }
        }
        if !has_name {
            return Err(Diagnostic::parse(
                "Invalid vars_prompt data structure, missing 'name' key",
                item.loc.clone(),
            )
            .hint("name the variable the answer goes to: `- name: password`"));
        }
        out.push(p);
    }
    Ok(out)
}

/// Without a template engine: replaces `{{ name }}` for plain variable
/// names that are known; `None` if anything else is templated.
fn render_plain_names(text: &str, vars: &Map<String, Value>) -> Option<String> {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find("}}")? + start;
        let name = rest[start + 2..end].trim();
        out.push_str(&py_str(vars.get(name)?));
        rest = &rest[end + 2..];
    }
    if rest.contains("{%") {
        return None;
    }
    out.push_str(rest);
    Some(out)
}
