//! Malformed playbooks: each is rejected at load time with a message, the
//! place (file, line, column), a hint, and the exit code ansible-playbook
//! 2.19 gives for the same file (checked with `--syntax-check`).

use std::path::{Path, PathBuf};

use herd::playbook::{load_playbook, LoadOptions};

fn bad(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/playbook/bad")
        .join(name)
}

struct Case {
    /// Fixture under bad/.
    file: &'static str,
    /// The start of the message.
    message: &'static str,
    /// The file the location names (a suffix), the line and the column.
    at: (&'static str, u32, u32),
    /// Text the hint contains ("" for any hint, including none).
    hint: &'static str,
    /// ansible-playbook's exit code.
    code: i32,
}

const CASES: &[Case] = &[
    Case {
        file: "bad_yaml.yml",
        message: "Syntax Error while loading YAML",
        at: ("bad_yaml.yml", 5, 6),
        hint: "",
        code: 4,
    },
    Case {
        file: "empty_playbook.yml",
        message: "Empty playbook, nothing to do",
        at: ("empty_playbook.yml", 0, 0),
        hint: "list of plays",
        code: 4,
    },
    Case {
        file: "playbook_not_list.yml",
        message: "A playbook must be a list of plays, got a dict",
        at: ("playbook_not_list.yml", 1, 1),
        hint: "- hosts: all",
        code: 4,
    },
    Case {
        file: "play_not_dict.yml",
        message: "playbook entries must be either valid plays or 'import_playbook' statements",
        at: ("play_not_dict.yml", 2, 3),
        hint: "str",
        code: 4,
    },
    Case {
        file: "play_unknown_keyword.yml",
        message: "'taskz' is not a valid attribute for a Play",
        at: ("play_unknown_keyword.yml", 2, 3),
        hint: "did you mean 'tasks'?",
        code: 4,
    },
    Case {
        file: "module_in_play.yml",
        message: "'debug' is not a valid attribute for a Play",
        at: ("module_in_play.yml", 2, 3),
        hint: "is a module",
        code: 4,
    },
    Case {
        file: "hosts_missing.yml",
        message: "The field 'hosts' is required but was not set.",
        at: ("hosts_missing.yml", 1, 3),
        hint: "hosts: all",
        code: 4,
    },
    Case {
        file: "hosts_empty.yml",
        message: "Hosts list cannot be empty",
        at: ("hosts_empty.yml", 1, 8),
        hint: "host pattern",
        code: 4,
    },
    Case {
        file: "vars_not_dict.yml",
        message: "Vars in a Play must be specified as a dictionary.",
        at: ("vars_not_dict.yml", 3, 5),
        hint: "",
        code: 4,
    },
    Case {
        file: "vars_prompt_bad.yml",
        message: "Invalid vars_prompt data structure, missing 'name' key",
        at: ("vars_prompt_bad.yml", 3, 7),
        hint: "",
        code: 4,
    },
    Case {
        file: "vars_prompt_unknown_key.yml",
        message: "Invalid vars_prompt data structure, found unsupported key 'privat'",
        at: ("vars_prompt_unknown_key.yml", 4, 7),
        hint: "did you mean 'private'?",
        code: 4,
    },
    Case {
        file: "tasks_not_list.yml",
        message: "A malformed block was encountered while loading tasks",
        at: ("tasks_not_list.yml", 3, 5),
        hint: "- ",
        code: 4,
    },
    Case {
        file: "handlers_not_list.yml",
        message: "A malformed block was encountered while loading handlers",
        at: ("handlers_not_list.yml", 3, 5),
        hint: "",
        code: 4,
    },
    Case {
        file: "task_not_dict.yml",
        message: "a task must be a mapping (a dict), but this is a str",
        at: ("task_not_dict.yml", 3, 7),
        hint: "module: arg=value",
        code: 4,
    },
    Case {
        file: "task_unknown_keyword.yml",
        message: "'wen' is not a valid attribute for a Task",
        at: ("task_unknown_keyword.yml", 5, 7),
        hint: "did you mean 'when'?",
        code: 4,
    },
    Case {
        file: "handler_unknown_keyword.yml",
        message: "'listn' is not a valid attribute for a Handler",
        at: ("handler_unknown_keyword.yml", 5, 7),
        hint: "did you mean 'listen'?",
        code: 4,
    },
    Case {
        file: "listen_on_task.yml",
        message: "'listen' is not a valid attribute for a Task",
        at: ("listen_on_task.yml", 4, 7),
        hint: "only handlers",
        code: 4,
    },
    Case {
        file: "unknown_module.yml",
        message: "couldn't resolve module/action 'copyy'",
        at: ("unknown_module.yml", 4, 7),
        hint: "did you mean 'copy'?",
        code: 4,
    },
    Case {
        file: "collection_module.yml",
        message: "couldn't resolve module/action 'community.general.ufw': it is the module 'ufw' of the collection 'community.general'",
        at: ("collection_module.yml", 4, 7),
        hint: "library/",
        code: 4,
    },
    Case {
        file: "moved_module.yml",
        message: "couldn't resolve module/action 'ufw': that module moved out of ansible-core to the collection 'community.general'",
        at: ("moved_module.yml", 3, 7),
        hint: "library/",
        code: 4,
    },
    Case {
        file: "removed_include.yml",
        message: "The 'ansible.builtin.include' action plugin has been removed.",
        at: ("removed_include.yml", 3, 7),
        hint: "include_tasks",
        code: 1,
    },
    Case {
        file: "local_action_and_module.yml",
        message: "conflicting action statements: debug, local_action",
        at: ("local_action_and_module.yml", 4, 7),
        hint: "",
        code: 4,
    },
    Case {
        file: "fqcn_typo.yml",
        message: "couldn't resolve module/action 'ansible.builtin.copyy'",
        at: ("fqcn_typo.yml", 3, 7),
        hint: "did you mean 'ansible.builtin.copy'?",
        code: 4,
    },
    Case {
        file: "play_keyword_on_task.yml",
        message: "couldn't resolve module/action 'hosts'",
        at: ("play_keyword_on_task.yml", 4, 7),
        hint: "play keyword",
        code: 4,
    },
    Case {
        file: "two_actions.yml",
        message: "conflicting action statements: copy, file",
        at: ("two_actions.yml", 5, 7),
        hint: "one task per module",
        code: 4,
    },
    Case {
        file: "no_action.yml",
        message: "no module/action detected in task.",
        at: ("no_action.yml", 3, 7),
        hint: "debug",
        code: 4,
    },
    Case {
        file: "action_mapping_no_module.yml",
        message: "no module/action detected in task.",
        at: ("action_mapping_no_module.yml", 4, 9),
        hint: "module:",
        code: 4,
    },
    Case {
        file: "module_args_list.yml",
        message: "unexpected parameter type in action: list",
        at: ("module_args_list.yml", 3, 7),
        hint: "key=value",
        code: 4,
    },
    Case {
        file: "duplicate_action_args_nondict.yml",
        message: "The value of the task `args` keyword is invalid.",
        at: ("duplicate_action_args_nondict.yml", 4, 13),
        hint: "mapping",
        code: 4,
    },
    Case {
        file: "unbalanced_quotes.yml",
        message: "failed at splitting arguments, either an unbalanced jinja2 block or quotes: echo \"oops",
        at: ("unbalanced_quotes.yml", 3, 14),
        hint: "quote",
        code: 4,
    },
    Case {
        file: "ansible_prefixed_arg.yml",
        message: "Invalid parameter specified beginning with keyword '_ansible_' for action 'copy'",
        at: ("ansible_prefixed_arg.yml", 4, 9),
        hint: "",
        code: 1,
    },
    Case {
        file: "bad_with_lookup.yml",
        message: "'with_nosuchlookup' is not a valid attribute for a Task",
        at: ("bad_with_lookup.yml", 4, 7),
        hint: "loop:",
        code: 4,
    },
    Case {
        file: "loop_and_with.yml",
        message: "duplicate loop in task: items",
        at: ("loop_and_with.yml", 5, 7),
        hint: "one loop",
        code: 1,
    },
    Case {
        file: "bad_loop_control.yml",
        message: "'loop_vr' is not a valid attribute for a LoopControl",
        at: ("bad_loop_control.yml", 6, 9),
        hint: "did you mean 'loop_var'?",
        code: 4,
    },
    Case {
        file: "loop_control_not_dict.yml",
        message: "the `loop_control` value must be specified as a dictionary",
        at: ("loop_control_not_dict.yml", 5, 21),
        hint: "loop_var",
        code: 4,
    },
    Case {
        file: "block_not_list.yml",
        message: "A malformed block was encountered while loading a block: 'block' should be a list of tasks but is a dict",
        at: ("block_not_list.yml", 4, 9),
        hint: "- ",
        code: 4,
    },
    Case {
        file: "block_unknown_keyword.yml",
        message: "'rescu' is not a valid attribute for a Block",
        at: ("block_unknown_keyword.yml", 5, 7),
        hint: "did you mean 'rescue'?",
        code: 4,
    },
    Case {
        file: "block_in_module_key.yml",
        message: "'copy' is not a valid attribute for a Block",
        at: ("block_in_module_key.yml", 5, 7),
        hint: "is a module",
        code: 4,
    },
    Case {
        file: "rescue_without_block.yml",
        message: "'rescue' keyword cannot be used without 'block'",
        at: ("rescue_without_block.yml", 3, 7),
        hint: "block:",
        code: 4,
    },
    Case {
        file: "missing_import_tasks.yml",
        message: "Unable to retrieve file contents: could not find or access 'nosuch.yml'",
        at: ("missing_import_tasks.yml", 3, 7),
        hint: "searched",
        code: 1,
    },
    Case {
        file: "import_tasks_bad_file.yml",
        message: "included task files must contain a list of tasks",
        at: ("inc_not_list.yml", 1, 1),
        hint: "",
        code: 4,
    },
    Case {
        file: "import_tasks_loop.yml",
        message: "You cannot use loops on 'import_tasks' statements.",
        at: ("import_tasks_loop.yml", 4, 7),
        hint: "include_tasks",
        code: 4,
    },
    Case {
        file: "include_tasks_bad_option.yml",
        message: "Invalid options for include_tasks: fiel",
        at: ("include_tasks_bad_option.yml", 3, 7),
        hint: "did you mean 'file'?",
        code: 4,
    },
    Case {
        file: "include_role_no_name.yml",
        message: "'name' is a required field for include_role.",
        at: ("include_role_no_name.yml", 3, 7),
        hint: "",
        code: 4,
    },
    Case {
        file: "missing_import_playbook.yml",
        message: "Unable to retrieve file contents: could not find or access",
        at: ("missing_import_playbook.yml", 1, 20),
        hint: "relative",
        code: 1,
    },
    Case {
        file: "import_playbook_with_hosts.yml",
        message: "'hosts' is not a valid attribute for a PlaybookInclude",
        at: ("import_playbook_with_hosts.yml", 2, 3),
        hint: "",
        code: 4,
    },
    // ansible-playbook itself crashes here (exit 250, Python recursion).
    Case {
        file: "import_cycle.yml",
        message: "'",
        at: ("import_cycle.yml", 1, 20),
        hint: "cycle",
        code: 4,
    },
    Case {
        file: "bad_var_name.yml",
        message: "Invalid variable name 'a-b'.",
        at: ("bad_var_name.yml", 3, 5),
        hint: "letters, numbers and underscores",
        code: 1,
    },
    Case {
        file: "task_vars_list.yml",
        message: "Vars in a Task must be specified as a dictionary.",
        at: ("task_vars_list.yml", 5, 9),
        hint: "no longer accepted",
        code: 4,
    },
    Case {
        file: "tags_int.yml",
        message: "tags must be specified as a list",
        at: ("tags_int.yml", 2, 9),
        hint: "quote a number",
        code: 1,
    },
    Case {
        file: "hosts_int.yml",
        message: "Hosts list must be a sequence or string. Please check your playbook.",
        at: ("hosts_int.yml", 1, 10),
        hint: "int",
        code: 4,
    },
    Case {
        file: "hosts_bad_item.yml",
        message: "Hosts list contains an invalid host value: '1'",
        at: ("hosts_bad_item.yml", 1, 11),
        hint: "quote",
        code: 4,
    },
    Case {
        file: "block_null.yml",
        message: "A malformed block was encountered while loading a block: 'block' should be a list of tasks but is a NoneType",
        at: ("block_null.yml", 3, 12),
        hint: "[]",
        code: 4,
    },
    Case {
        file: "rescue_null.yml",
        message: "A malformed block was encountered while loading rescue: 'rescue' should be a list of tasks but is a NoneType",
        at: ("rescue_null.yml", 4, 15),
        hint: "[]",
        code: 4,
    },
    Case {
        file: "missing_role.yml",
        message: "the role 'nosuchrole' was not found in",
        at: ("missing_role.yml", 3, 7),
        hint: "roles_path",
        code: 1,
    },
    Case {
        file: "role_misspelt.yml",
        message: "the role 'cyc_aa' was not found in",
        at: ("role_misspelt.yml", 2, 11),
        hint: "did you mean 'cyc_a'?",
        code: 1,
    },
    Case {
        file: "role_bad_entry.yml",
        message: "role definitions must contain a role name",
        at: ("role_bad_entry.yml", 3, 7),
        hint: "role:",
        code: 1,
    },
    Case {
        file: "roles_not_list.yml",
        message: "A malformed role declaration was encountered",
        at: ("roles_not_list.yml", 2, 10),
        hint: "",
        code: 4,
    },
    Case {
        file: "role_cycle.yml",
        message: "A recursion loop was detected with the roles specified",
        at: ("roles/cyc_b/meta/main.yml", 1, 16),
        hint: "dependencies",
        code: 1,
    },
    Case {
        file: "role_tasks_not_list.yml",
        message: "The tasks/main.yml file for role 'badtasks' must contain a list of tasks",
        at: ("roles/badtasks/tasks/main.yml", 1, 1),
        hint: "",
        code: 4,
    },
    Case {
        file: "role_defaults_not_dict.yml",
        message: "The defaults/main.yml file for role 'baddefaults' must contain a dictionary of variables",
        at: ("roles/baddefaults/defaults/main.yml", 1, 1),
        hint: "",
        code: 4,
    },
    Case {
        file: "role_missing_tasks_from.yml",
        message: "Could not find specified file in role: tasks/nope",
        at: ("role_missing_tasks_from.yml", 3, 7),
        hint: "nope.yml",
        code: 4,
    },
];

#[test]
fn malformed_playbooks_are_rejected_like_ansible() {
    let mut failures = Vec::new();
    for case in CASES {
        let got = load_playbook(&bad(case.file), &LoadOptions::default());
        let d = match got {
            Ok(_) => {
                failures.push(format!("{}: loaded without error", case.file));
                continue;
            }
            Err(d) => d,
        };
        let mut problems = Vec::new();
        if !d.message.starts_with(case.message) {
            problems.push(format!("message {:?}", d.message));
        }
        match &d.loc {
            Some(loc) => {
                if !loc.file.ends_with(case.at.0) || (loc.line, loc.col) != (case.at.1, case.at.2) {
                    problems.push(format!("at {loc}"));
                }
            }
            None => problems.push("no location".into()),
        }
        if !case.hint.is_empty() && !d.hint.as_deref().is_some_and(|h| h.contains(case.hint)) {
            problems.push(format!("hint {:?}", d.hint));
        }
        if d.exit_code != case.code {
            problems.push(format!("exit code {}", d.exit_code));
        }
        if !problems.is_empty() {
            failures.push(format!("{}: {}", case.file, problems.join("; ")));
        }
    }
    assert!(CASES.len() >= 25);
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn errors_render_with_a_caret() {
    let d = load_playbook(&bad("task_unknown_keyword.yml"), &LoadOptions::default())
        .expect_err("bad keyword");
    let text = d.to_string();
    assert!(text.contains("task_unknown_keyword.yml:5:7"), "{text}");
    assert!(
        text.contains("\n5       wen: true\n        ^ column 7"),
        "{text}"
    );
}

#[test]
fn odd_inputs_never_panic() {
    let dir = tempfile::tempdir().expect("tempdir");
    let inputs = [
        "",
        "~",
        "[]",
        "- ~",
        "- []",
        "- hosts: all\n  tasks: [~]",
        "- hosts: all\n  tasks: [[]]",
        "- hosts: all\n  tasks:\n    - {}",
        "- hosts: all\n  tasks:\n    - action: ''",
        "- hosts: all\n  tasks:\n    - action: [1]",
        "- hosts: all\n  tasks:\n    - local_action: {module: 5}",
        "- hosts: all\n  tasks:\n    - shell: '{{'",
        "- hosts: all\n  tasks:\n    - debug: '=x'",
        "- hosts: all\n  tasks:\n    - debug: \"\\\\u12\"",
        "- hosts: all\n  tasks:\n    - block: ~",
        "- hosts: all\n  tasks:\n    - include_role: {name: x, apply: 5}",
        "- hosts: all\n  tasks:\n    - import_tasks: ''",
        "- hosts: all\n  tasks:\n    - import_role: {}",
        "- hosts: all\n  roles: [~, 5]",
        "- hosts: {a: 1}",
        "- hosts: all\n  vars_prompt: 5",
        "- hosts: all\n  vars_prompt: [5]",
        "- hosts: all\n  tasks:\n    - debug: msg=x\n      loop_control: {label: [1]}",
        "- import_playbook: ~",
        "- import_playbook: [a]",
        "- hosts: all\n  tasks:\n    - 1: 2",
        "- hosts: all\n  tasks:\n    - ? [a]\n      : b",
    ];
    for (i, text) in inputs.iter().enumerate() {
        let path = dir.path().join(format!("p{i}.yml"));
        std::fs::write(&path, text).expect("write");
        let _ = load_playbook(&path, &LoadOptions::default());
    }
}

/// Copies a directory tree.
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read_dir").flatten() {
        let dest = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_tree(&entry.path(), &dest);
        } else {
            std::fs::copy(entry.path(), &dest).expect("copy");
        }
    }
}

/// Random edits of a real playbook (bytes deleted, duplicated, replaced by
/// YAML punctuation) never make the loader panic.
#[test]
fn mutated_playbooks_never_panic() {
    let good = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/playbook/good");
    let dir = tempfile::tempdir().expect("tempdir");
    // A copy of the fixture tree, so relative imports and roles resolve.
    copy_tree(&good, dir.path());
    let src = std::fs::read(good.join("site.yml")).expect("fixture");
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let punct = b":-[]{}|>&*!'\"#\n\t ,?%@`=";
    let mut opts = LoadOptions::default();
    opts.roles_path.push(dir.path().join("extra_roles"));
    opts.extra_vars
        .insert("sub".into(), serde_json::json!("web"));
    let path = dir.path().join("mutated.yml");
    for _ in 0..400 {
        let mut text = src.clone();
        for _ in 0..(1 + next() % 4) {
            if text.is_empty() {
                break;
            }
            let at = (next() % text.len() as u64) as usize;
            match next() % 3 {
                0 => {
                    text.remove(at);
                }
                1 => text.insert(at, text[at]),
                _ => text[at] = punct[(next() % punct.len() as u64) as usize],
            }
        }
        std::fs::write(&path, &text).expect("write");
        let _ = load_playbook(&path, &opts);
    }
}

mod common;

/// Each malformed playbook, checked end to end: `herd playbook
/// --syntax-check` and `ansible-playbook --syntax-check` exit with the same
/// code, and herd's message shows the line with a caret at the column.
#[test]
fn herd_and_ansible_exit_alike_on_malformed_playbooks() {
    let mut failures = Vec::new();
    for case in CASES {
        let path = bad(case.file);
        let dir = path.parent().expect("fixture dir");
        let herd = std::process::Command::new(env!("CARGO_BIN_EXE_herd"))
            .current_dir(dir)
            .args(["playbook", "-i", "localhost,", "--syntax-check", case.file])
            .output()
            .expect("run herd");
        let ansible = common::ansible_command("ansible-playbook")
            .current_dir(dir)
            .args(["-i", "localhost,", "--syntax-check", case.file])
            .output()
            .expect("run ansible-playbook");
        let (h, a) = (herd.status.code(), ansible.status.code());
        // Ansible crashes (exit 250) on an import cycle; herd reports it
        // as the parse error it is.
        let ansible_crashed = a == Some(250);
        if (h != a && !ansible_crashed) || h != Some(case.code) {
            failures.push(format!(
                "{}: herd {h:?}, ansible {a:?}, expected {}",
                case.file, case.code
            ));
        }
        let stderr = String::from_utf8_lossy(&herd.stderr);
        if case.at.1 > 0 {
            let caret = format!("^ column {}", case.at.2);
            let origin = format!("{}:{}:{}", case.at.0, case.at.1, case.at.2);
            if !stderr.contains(&caret) || !stderr.contains(&origin) {
                failures.push(format!(
                    "{}: no {origin} with a caret in:\n{stderr}",
                    case.file
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
