//! The keywords Ansible accepts on each kind of object (ansible-core 2.19).

/// Keywords common to plays, blocks, tasks and role entries (Ansible's
/// `Base`, plus `tags`, `when` is added where valid, and `collections`).
#[cfg(test)]
const BASE: &[&str] = &[
    "name",
    "connection",
    "port",
    "remote_user",
    "vars",
    "module_defaults",
    "environment",
    "no_log",
    "run_once",
    "ignore_errors",
    "ignore_unreachable",
    "check_mode",
    "diff",
    "any_errors_fatal",
    "throttle",
    "timeout",
    "debugger",
    "become",
    "become_method",
    "become_user",
    "become_flags",
    "become_exe",
    "tags",
    "collections",
];

/// Keywords of a play.
pub const PLAY_KEYWORDS: &[&str] = &[
    "name",
    "connection",
    "port",
    "remote_user",
    "vars",
    "module_defaults",
    "environment",
    "no_log",
    "run_once",
    "ignore_errors",
    "ignore_unreachable",
    "check_mode",
    "diff",
    "any_errors_fatal",
    "throttle",
    "timeout",
    "debugger",
    "become",
    "become_method",
    "become_user",
    "become_flags",
    "become_exe",
    "tags",
    "collections",
    "hosts",
    "gather_facts",
    "gather_subset",
    "gather_timeout",
    "fact_path",
    "vars_files",
    "vars_prompt",
    "roles",
    "handlers",
    "pre_tasks",
    "post_tasks",
    "tasks",
    "force_handlers",
    "max_fail_percentage",
    "serial",
    "strategy",
    "order",
];

/// Keywords of a block.
pub const BLOCK_KEYWORDS: &[&str] = &[
    "name",
    "connection",
    "port",
    "remote_user",
    "vars",
    "module_defaults",
    "environment",
    "no_log",
    "run_once",
    "ignore_errors",
    "ignore_unreachable",
    "check_mode",
    "diff",
    "any_errors_fatal",
    "throttle",
    "timeout",
    "debugger",
    "become",
    "become_method",
    "become_user",
    "become_flags",
    "become_exe",
    "tags",
    "collections",
    "block",
    "rescue",
    "always",
    "when",
    "notify",
    "delegate_to",
    "delegate_facts",
];

/// Keywords of a task (a handler adds `listen`). `with_<lookup>` and the
/// module key are handled apart.
pub const TASK_KEYWORDS: &[&str] = &[
    "name",
    "connection",
    "port",
    "remote_user",
    "vars",
    "module_defaults",
    "environment",
    "no_log",
    "run_once",
    "ignore_errors",
    "ignore_unreachable",
    "check_mode",
    "diff",
    "any_errors_fatal",
    "throttle",
    "timeout",
    "debugger",
    "become",
    "become_method",
    "become_user",
    "become_flags",
    "become_exe",
    "tags",
    "collections",
    "when",
    "notify",
    "delegate_to",
    "delegate_facts",
    "args",
    "action",
    "local_action",
    "async",
    "changed_when",
    "delay",
    "failed_when",
    "loop",
    "loop_control",
    "poll",
    "register",
    "retries",
    "until",
];

/// Keywords of a role entry in `roles:` or `dependencies:`; any other key
/// is a role parameter.
pub const ROLE_KEYWORDS: &[&str] = &[
    "name",
    "connection",
    "port",
    "remote_user",
    "vars",
    "module_defaults",
    "environment",
    "no_log",
    "run_once",
    "ignore_errors",
    "ignore_unreachable",
    "check_mode",
    "diff",
    "any_errors_fatal",
    "throttle",
    "timeout",
    "debugger",
    "become",
    "become_method",
    "become_user",
    "become_flags",
    "become_exe",
    "tags",
    "collections",
    "when",
    "delegate_to",
    "delegate_facts",
];

/// Keys of `loop_control:`.
pub const LOOP_CONTROL_KEYWORDS: &[&str] = &[
    "loop_var",
    "index_var",
    "label",
    "pause",
    "extended",
    "extended_allitems",
    "break_when",
];

/// The lookups ansible-core ships, usable as `with_<name>:`.
pub const LOOKUPS: &[&str] = &[
    "config",
    "csvfile",
    "dict",
    "env",
    "file",
    "fileglob",
    "first_found",
    "indexed_items",
    "ini",
    "inventory_hostnames",
    "items",
    "lines",
    "list",
    "nested",
    "password",
    "pipe",
    "random_choice",
    "sequence",
    "subelements",
    "template",
    "together",
    "unvault",
    "url",
    "varnames",
    "vars",
];

/// Keys of a `vars_prompt:` entry.
pub const VARS_PROMPT_KEYS: &[&str] = &[
    "name",
    "prompt",
    "default",
    "private",
    "confirm",
    "encrypt",
    "salt",
    "salt_size",
    "unsafe",
];

/// Keys of an `import_playbook` entry besides the file.
pub const IMPORT_PLAYBOOK_KEYWORDS: &[&str] = &["name", "vars", "tags", "when"];

/// The arguments of `include_role`/`import_role`.
pub const ROLE_ACTION_ARGS: &[&str] = &[
    "name",
    "tasks_from",
    "vars_from",
    "defaults_from",
    "handlers_from",
    "allow_duplicates",
    "public",
    "apply",
    "rolespec_validate",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_lists_share_base() {
        for k in BASE {
            assert!(PLAY_KEYWORDS.contains(k), "{k}");
            assert!(BLOCK_KEYWORDS.contains(k), "{k}");
            assert!(TASK_KEYWORDS.contains(k), "{k}");
            assert!(ROLE_KEYWORDS.contains(k), "{k}");
        }
    }
}
