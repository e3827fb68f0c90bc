//! Playbooks as plain data: plays, blocks, tasks and roles, each with the
//! [`Loc`] of the YAML node it came from.
//!
//! [`load_playbook`] reads a playbook the way ansible-playbook does at
//! parse time: `import_playbook`, `import_tasks` and `import_role` are
//! inlined, play `roles:` (with their meta dependencies) are resolved and
//! loaded, and every mistake Ansible rejects before running (bad YAML, an
//! unknown keyword or module, a missing role or imported file, …) is a
//! [`Diagnostic`] with the place, a hint and Ansible's exit code.
//!
//! Nothing is templated here except what Ansible itself templates at load
//! time (import paths, role names); task and play names are kept raw.
//!
//! `include_tasks` and `include_role` stay tasks (with `apply:` parsed);
//! when they run, [`load_included_tasks`] and [`load_included_role`] load
//! what they name with the same search rules and checks.

mod args;
mod keywords;
mod load;
mod role;

use std::path::PathBuf;
use std::sync::Arc;

use crate::diag::{Diagnostic, Loc};
use crate::value::{Map, Value};

pub use args::{join_args, parse_kv, split_args, unquote, SplitError};
pub use keywords::{BLOCK_KEYWORDS, LOOKUPS, LOOP_CONTROL_KEYWORDS, PLAY_KEYWORDS, TASK_KEYWORDS};
pub use load::{is_var_name, load_included_role, load_included_tasks, load_playbook};

/// A template renderer for what Ansible templates at load time: it gets the
/// text and the variables known then (extra vars, play vars) and returns
/// the rendered text.
pub type RenderFn = dyn Fn(&str, &Map<String, Value>) -> Result<String, Diagnostic> + Send + Sync;

/// How to load a playbook.
#[derive(Default)]
pub struct LoadOptions {
    /// Extra directories searched for roles (`roles_path`), after `roles/`
    /// beside the playbook.
    pub roles_path: Vec<PathBuf>,
    /// Directories of custom modules (`library` in ansible.cfg,
    /// `ANSIBLE_LIBRARY`), besides `library/` beside the playbook and roles.
    pub library: Vec<PathBuf>,
    /// `-e` variables: they template import paths and role names.
    pub extra_vars: Map<String, Value>,
    /// Renders a templated import path or role name. Without it, a path
    /// holding `{{` is an error naming the template.
    pub render: Option<Box<RenderFn>>,
}

/// A loaded playbook: every play, `import_playbook` already flattened in
/// order.
#[derive(Clone, Debug, PartialEq)]
pub struct Playbook {
    /// The playbook file given.
    pub path: PathBuf,
    /// The plays in run order.
    pub plays: Vec<Play>,
}

/// One play.
#[derive(Clone, Debug, PartialEq)]
pub struct Play {
    /// Where the play's mapping starts.
    pub loc: Loc,
    /// The name as written (templates not rendered).
    pub name: Option<String>,
    /// `hosts:` as written: a string or a list of strings.
    pub hosts: Value,
    /// `vars:` (after `import_playbook` vars, which win).
    pub vars: Map<String, Value>,
    /// `vars_files:` entries as written (strings, or lists for the
    /// first-found form); templated when the play runs.
    pub vars_files: Vec<Value>,
    /// `vars_prompt:` entries, asked before the play runs.
    pub vars_prompt: Vec<VarsPrompt>,
    /// `roles:`, each loaded with its dependencies.
    pub roles: Vec<RoleInclude>,
    /// `pre_tasks:`, run before the roles.
    pub pre_tasks: Vec<TaskItem>,
    /// `tasks:`, run after the roles.
    pub tasks: Vec<TaskItem>,
    /// `post_tasks:`, run after the tasks.
    pub post_tasks: Vec<TaskItem>,
    /// The play's own `handlers:`; role handlers stay with their role.
    pub handlers: Vec<TaskItem>,
    /// `tags:` of the play (with those of an `import_playbook`).
    pub tags: Vec<String>,
    /// Conditions inherited from the `import_playbook` that brought this
    /// play in (a play itself has no `when`); they apply to its tasks.
    pub when: Vec<Value>,
    /// Every other play keyword (`gather_facts`, `become`, `serial`, `strategy`, …).
    pub keywords: Keywords,
    /// The directory of the top-level playbook (the `playbook_dir`
    /// variable).
    pub playbook_dir: PathBuf,
    /// The directory of the file this play is written in: relative paths
    /// (roles, vars_files, imports) are resolved from it.
    pub basedir: PathBuf,
}

/// Every other keyword of a play, block, task or role entry, by its Ansible
/// name (`become`, `gather_facts`, `serial`, `ignore_errors`, …), with the
/// value as written. Typed accessors exist for the common ones.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Keywords(pub Map<String, Value>);

impl Keywords {
    /// The raw value of a keyword.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.0.get(name)
    }

    /// A keyword's value as a boolean, when it is written as one (a
    /// template stays `None` and must be rendered by the caller).
    pub fn bool(&self, name: &str) -> Option<bool> {
        match self.0.get(name)? {
            Value::Bool(b) => Some(*b),
            Value::String(s) => match s.to_ascii_lowercase().as_str() {
                "yes" | "true" | "on" | "1" => Some(true),
                "no" | "false" | "off" | "0" => Some(false),
                _ => None,
            },
            Value::Number(n) => n.as_i64().map(|i| i != 0),
            _ => None,
        }
    }

    /// A keyword's value as text, when it is a string.
    pub fn str(&self, name: &str) -> Option<&str> {
        self.0.get(name)?.as_str()
    }

    /// Whether the keyword is set.
    pub fn contains(&self, name: &str) -> bool {
        self.0.contains_key(name)
    }
}

/// One `vars_prompt:` entry.
#[derive(Clone, Debug, PartialEq)]
pub struct VarsPrompt {
    /// Where the entry starts.
    pub loc: Loc,
    /// The variable to set.
    pub name: String,
    /// The question shown (defaults to the name).
    pub prompt: Option<String>,
    /// The answer used when the user just presses Enter (or with no terminal).
    pub default: Option<Value>,
    /// Hide the input (Ansible's default: true).
    pub private: bool,
    /// Ask twice.
    pub confirm: bool,
    /// A passlib hash scheme to encrypt the answer with.
    pub encrypt: Option<String>,
    /// The salt for `encrypt`.
    pub salt: Option<String>,
    /// The length of a generated salt for `encrypt`.
    pub salt_size: Option<u64>,
    /// Mark the answer `!unsafe`.
    pub unsafe_: bool,
}

/// An entry of a task list.
// Most entries are tasks, so boxing the larger variant would cost an
// allocation per task to save space only on blocks.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq)]
pub enum TaskItem {
    /// A task.
    Task(Task),
    /// A block (written, or standing for an import).
    Block(Block),
}

impl TaskItem {
    /// Where the item starts.
    pub fn loc(&self) -> &Loc {
        match self {
            TaskItem::Task(t) => &t.loc,
            TaskItem::Block(b) => &b.loc,
        }
    }
}

/// Where a [`Block`] came from: written as `block:`, or made by the loader
/// for something inlined at load time.
#[derive(Clone, Debug, PartialEq)]
pub enum BlockOrigin {
    /// A `block:` in the source.
    Block,
    /// The tasks of an `import_tasks` file; the block carries the import's
    /// `when`, `tags`, `vars` and other keywords.
    ImportTasks {
        /// The imported file.
        file: PathBuf,
    },
    /// The tasks of an `import_role` (dependencies first), carrying the
    /// import's keywords.
    ImportRole {
        /// The role name as written.
        name: String,
    },
}

/// A `block:` with its `rescue:` and `always:` lists.
#[derive(Clone, Debug, PartialEq)]
pub struct Block {
    /// Where the block (or the import) starts.
    pub loc: Loc,
    /// `name:` as written.
    pub name: Option<String>,
    /// The tasks of `block:`.
    pub block: Vec<TaskItem>,
    /// `rescue:`: run when a task of `block:` fails.
    pub rescue: Vec<TaskItem>,
    /// `always:`: run in any case.
    pub always: Vec<TaskItem>,
    /// `tags:`, inherited by the tasks inside.
    pub tags: Vec<String>,
    /// `when:` conditions, inherited by the tasks inside.
    pub when: Vec<Value>,
    /// `vars:`, visible to the tasks inside.
    pub vars: Map<String, Value>,
    /// `notify:` on a block applies to its tasks.
    pub notify: Vec<String>,
    /// The other task keywords valid on a block (`become`,
    /// `ignore_errors`, `delegate_to`, …).
    pub keywords: Keywords,
    /// The role the block belongs to, if any.
    pub role: Option<Arc<RoleContext>>,
    /// Written as `block:` or standing for an import.
    pub origin: BlockOrigin,
}

/// A loop: `loop:` or `with_<lookup>:`.
#[derive(Clone, Debug, PartialEq)]
pub struct Loop {
    /// Where the `loop:`/`with_*:` key is.
    pub loc: Loc,
    /// `None` for `loop:`, the lookup name for `with_<lookup>:`
    /// (`items`, `dict`, `fileglob`, …).
    pub with: Option<String>,
    /// The items (or lookup terms) as written.
    pub items: Value,
}

/// `loop_control:`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LoopControl {
    /// The name of the loop variable (default `item`).
    pub loop_var: Option<String>,
    /// A variable holding the index of the item.
    pub index_var: Option<String>,
    /// What to print for each item.
    pub label: Option<Value>,
    /// Seconds to wait between items.
    pub pause: Option<Value>,
    /// Whether `ansible_loop` carries extended information.
    pub extended: Option<Value>,
    /// Whether `ansible_loop.allitems` is set when extended.
    pub extended_allitems: Option<Value>,
    /// Conditions that end the loop early.
    pub break_when: Vec<Value>,
}

/// One task (or handler).
#[derive(Clone, Debug, PartialEq)]
pub struct Task {
    /// Where the task mapping starts.
    pub loc: Loc,
    /// `name:` as written (templates not rendered).
    pub name: Option<String>,
    /// Canonical short name of the module or action: `copy`,
    /// `include_tasks`, or the file stem of a custom module.
    pub action: String,
    /// The name as written when it was qualified, else
    /// `ansible.builtin.<action>` (`ansible.posix.<action>` for those,
    /// `ansible.legacy.<action>` for a module of `library/`).
    pub action_fqcn: String,
    /// The module name exactly as the task wrote it (listings show it).
    pub action_written: String,
    /// Where the action key (or `action:`/`local_action:`) is.
    pub action_loc: Loc,
    /// Arguments: `args:` merged under the module's own; `k=v` text split;
    /// free-form text under `_raw_params`.
    pub args: Map<String, Value>,
    /// `tags:` (a comma-separated string is split).
    pub tags: Vec<String>,
    /// `when:` conditions, each as written.
    pub when: Vec<Value>,
    /// `loop:` or `with_<lookup>:`.
    pub loop_: Option<Loop>,
    /// `loop_control:`.
    pub loop_control: Option<LoopControl>,
    /// `register:`: the variable the result goes to.
    pub register: Option<String>,
    /// Handlers (names or `listen` topics) to notify on change.
    pub notify: Vec<String>,
    /// Topics a handler listens to.
    pub listen: Vec<String>,
    /// `vars:` of the task.
    pub vars: Map<String, Value>,
    /// Every other task keyword as written (`become`, `changed_when`,
    /// `delegate_to`, `until`, …). `local_action:` sets `delegate_to:
    /// localhost` here.
    pub keywords: Keywords,
    /// The role the task belongs to, if any.
    pub role: Option<Arc<RoleContext>>,
    /// Whether the task is a handler.
    pub is_handler: bool,
    /// For a custom module from a `library/` directory, its file.
    pub module_path: Option<PathBuf>,
    /// The `apply:` of an `include_tasks`/`include_role`, parsed as a block
    /// of keywords to apply to the included tasks.
    pub apply: Option<Box<Block>>,
}

/// A role as loaded: its files and the parameters it was called with.
#[derive(Clone, Debug, PartialEq)]
pub struct RoleContext {
    /// The role name (the last path component when given as a path).
    pub name: String,
    /// The role's directory.
    pub path: PathBuf,
    /// `defaults/` (the file named by `defaults_from`, else main).
    pub defaults: Map<String, Value>,
    /// `vars/` (the file named by `vars_from`, else main).
    pub vars: Map<String, Value>,
    /// Role parameters: the non-keyword keys of the role entry.
    pub params: Map<String, Value>,
    /// Loaded as another role's meta dependency.
    pub from_dependency: bool,
    /// `allow_duplicates` from meta/main (or the include).
    pub allow_duplicates: bool,
    /// `public:` of include_role/import_role, when given.
    pub public: Option<bool>,
    /// The tasks file used (`tasks_from`, else main).
    pub tasks_file: Option<PathBuf>,
    /// The handlers file used (`handlers_from`, else main).
    pub handlers_file: Option<PathBuf>,
}

/// A role entry of a play's `roles:`, a meta dependency, or an
/// `import_role`, loaded.
#[derive(Clone, Debug, PartialEq)]
pub struct RoleInclude {
    /// Where the entry is written.
    pub loc: Loc,
    /// The role name as written (or rendered, if templated).
    pub name: String,
    /// The loaded role: directory, defaults, vars, params.
    pub context: Arc<RoleContext>,
    /// `tags:` of the entry, inherited by the role's tasks.
    pub tags: Vec<String>,
    /// `when:` of the entry, inherited by the role's tasks.
    pub when: Vec<Value>,
    /// `vars:` of the entry.
    pub vars: Map<String, Value>,
    /// The keywords given on the entry (`become`, `delegate_to`, …).
    pub keywords: Keywords,
    /// Meta dependencies, each loaded, in order; they run before the role.
    pub dependencies: Vec<RoleInclude>,
    /// The role's tasks (from `tasks_from`, else `tasks/main`).
    pub tasks: Vec<TaskItem>,
    /// The role's handlers.
    pub handlers: Vec<TaskItem>,
    /// Set when the same role with the same parameters already appeared in
    /// this play's `roles:` (or their dependencies) and does not allow
    /// duplicates: Ansible lists it again (`--list-tasks`) but runs it once.
    /// Its tasks are loaded all the same.
    pub duplicate: bool,
}
