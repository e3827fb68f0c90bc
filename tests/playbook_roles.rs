//! Role resolution: search order, dependencies, duplicates, `*_from` files.

use std::path::Path;

use herd::playbook::{load_playbook, BlockOrigin, LoadOptions, Playbook, RoleInclude, TaskItem};
use serde_json::json;

/// Writes `files` (path, text) under `root`.
fn tree(root: &Path, files: &[(&str, &str)]) {
    for (rel, text) in files {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().expect("a file has a parent")).expect("mkdir");
        std::fs::write(&p, text).expect("write");
    }
}

/// A role whose only task is named `<name> task`.
fn role(name: &str) -> (String, String) {
    (
        format!("roles/{name}/tasks/main.yml"),
        format!("- name: {name} task\n  debug: msg={name}\n"),
    )
}

fn load(root: &Path, opts: &LoadOptions) -> Playbook {
    match load_playbook(&root.join("p.yml"), opts) {
        Ok(pb) => pb,
        Err(d) => panic!("{d}"),
    }
}

fn task_names(items: &[TaskItem]) -> Vec<String> {
    let mut out = Vec::new();
    for item in items {
        match item {
            TaskItem::Task(t) => out.push(t.name.clone().unwrap_or_else(|| t.action.clone())),
            TaskItem::Block(b) => {
                out.extend(task_names(&b.block));
                out.extend(task_names(&b.rescue));
                out.extend(task_names(&b.always));
            }
        }
    }
    out
}

/// Role names in run order: dependencies first.
fn run_order(roles: &[RoleInclude], out: &mut Vec<String>) {
    for r in roles {
        run_order(&r.dependencies, out);
        out.push(if r.duplicate {
            format!("{} (dup)", r.name)
        } else {
            r.name.clone()
        });
    }
}

#[test]
fn search_order_roles_dir_then_roles_path_then_playbook_dir() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    tree(
        root,
        &[
            ("p.yml", "- hosts: all\n  roles: [one, two, three]\n"),
            ("roles/one/tasks/main.yml", "- name: one beside\n  ping:\n"),
            (
                "rp/one/tasks/main.yml",
                "- name: one in roles_path\n  ping:\n",
            ),
            (
                "rp/two/tasks/main.yml",
                "- name: two in roles_path\n  ping:\n",
            ),
            (
                "two/tasks/main.yml",
                "- name: two in playbook dir\n  ping:\n",
            ),
            (
                "three/tasks/main.yml",
                "- name: three in playbook dir\n  ping:\n",
            ),
        ],
    );
    let opts = LoadOptions {
        roles_path: vec![root.join("rp")],
        ..LoadOptions::default()
    };
    let pb = load(root, &opts);
    let names: Vec<_> = pb.plays[0]
        .roles
        .iter()
        .flat_map(|r| task_names(&r.tasks))
        .collect();
    assert_eq!(
        names,
        ["one beside", "two in roles_path", "three in playbook dir"]
    );
}

/// As in ansible-playbook, a role found by joining a path to a search
/// directory keeps the name as written (`--list-tasks` prints
/// `/abs/path/myrole : task`).
#[test]
fn role_given_as_a_path_keeps_the_written_name() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    let vendor = root.join("vendor/deep/myrole");
    tree(
        root,
        &[
            (
                "p.yml",
                &format!("- hosts: all\n  roles:\n    - {}\n", vendor.display()),
            ),
            ("vendor/deep/myrole/tasks/main.yml", "- ping:\n"),
        ],
    );
    let pb = load(root, &LoadOptions::default());
    let written = vendor.display().to_string();
    assert_eq!(pb.plays[0].roles[0].name, written);
    assert_eq!(pb.plays[0].roles[0].context.name, written);
    assert!(pb.plays[0].roles[0]
        .context
        .path
        .ends_with("vendor/deep/myrole"));
}

#[test]
fn dependencies_load_first_recursively_and_from_siblings() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    let (a, at) = role("a");
    tree(
        root,
        &[
            ("p.yml", "- hosts: all\n  roles: [top]\n"),
            (&a, &at),
            // `top` lives in roles_path; its dependency `mid` is a sibling
            // there, and `mid` depends on `a` beside the playbook.
            (
                "rp/top/meta/main.yml",
                "dependencies:\n  - role: mid\n    when: x\n    tags: [t]\n    level: 2\n",
            ),
            ("rp/top/tasks/main.yml", "- name: top task\n  ping:\n"),
            ("rp/mid/meta/main.yaml", "dependencies: [a]\n"),
            ("rp/mid/tasks/main.yml", "- name: mid task\n  ping:\n"),
        ],
    );
    let opts = LoadOptions {
        roles_path: vec![root.join("rp")],
        ..LoadOptions::default()
    };
    let pb = load(root, &opts);
    let mut order = Vec::new();
    run_order(&pb.plays[0].roles, &mut order);
    assert_eq!(order, ["a", "mid", "top"]);
    let top = &pb.plays[0].roles[0];
    assert!(!top.context.from_dependency);
    let mid = &top.dependencies[0];
    assert!(mid.context.from_dependency);
    assert_eq!(mid.context.params["level"], json!(2));
    assert_eq!(mid.when, vec![json!("x")]);
    assert_eq!(mid.tags, vec!["t"]);
    assert_eq!((mid.loc.line, mid.loc.col), (2, 5));
    assert!(mid.loc.file.ends_with("rp/top/meta/main.yml"));
    assert!(mid.dependencies[0].context.path.ends_with("roles/a"));
}

#[test]
fn duplicates_are_marked_unless_params_differ_or_allowed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    let (a, at) = role("a");
    let (b, bt) = role("b");
    let (c, ct) = role("c");
    tree(
        root,
        &[
            (
                "p.yml",
                "- hosts: all\n  roles:\n    - a\n    - a\n    - {role: a, x: 1}\n    - b\n    - b\n    - c\n  tasks:\n    - import_role: name=a\n",
            ),
            (&a, &at),
            (&b, &bt),
            ("roles/b/meta/main.yml", "allow_duplicates: true\n"),
            (&c, &ct),
            // `c` depends on `a`, already in the play: it runs once.
            ("roles/c/meta/main.yml", "dependencies: [a]\n"),
        ],
    );
    let pb = load(root, &LoadOptions::default());
    let mut order = Vec::new();
    run_order(&pb.plays[0].roles, &mut order);
    assert_eq!(order, ["a", "a (dup)", "a", "b", "b", "a (dup)", "c"]);
    // A duplicate still has its tasks (ansible-playbook --list-tasks shows
    // them) and context.
    assert_eq!(task_names(&pb.plays[0].roles[1].tasks), ["a task"]);
    assert!(pb.plays[0].roles[3].context.allow_duplicates);
    // import_role always runs, whatever the play's roles.
    assert_eq!(task_names(&pb.plays[0].tasks), ["a task"]);
}

#[test]
fn import_role_files_from_and_handlers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    tree(
        root,
        &[
            (
                "p.yml",
                "- hosts: all\n  handlers:\n    - name: play handler\n      ping:\n  tasks:\n    - import_role:\n        name: r\n        tasks_from: other\n        vars_from: extra\n        defaults_from: alt.json\n        handlers_from: more\n      tags: [imp]\n      when: go\n",
            ),
            ("roles/r/tasks/main.yml", "- name: main task\n  ping:\n"),
            ("roles/r/tasks/other.yaml", "- name: other task\n  ping:\n"),
            ("roles/r/vars/extra", "v: from extra\n"),
            ("roles/r/defaults/alt.json", "{\"d\": 5}\n"),
            ("roles/r/handlers/more.yml", "- name: more handler\n  ping:\n"),
        ],
    );
    let pb = load(root, &LoadOptions::default());
    let play = &pb.plays[0];
    let TaskItem::Block(b) = &play.tasks[0] else {
        panic!("import_role becomes a block")
    };
    assert_eq!(b.origin, BlockOrigin::ImportRole { name: "r".into() });
    assert_eq!(b.tags, vec!["imp"]);
    assert_eq!(b.when, vec![json!("go")]);
    assert_eq!(task_names(&b.block), ["other task"]);
    let TaskItem::Block(inner) = &b.block[0] else {
        panic!("the role's tasks sit in a block of the role")
    };
    let ctx = inner.role.as_ref().expect("role context");
    assert_eq!(ctx.vars["v"], json!("from extra"));
    assert_eq!(ctx.defaults["d"], json!(5));
    assert!(ctx
        .tasks_file
        .as_ref()
        .is_some_and(|p| p.ends_with("tasks/other.yaml")));
    // The role's handlers join the play's, after its own.
    assert_eq!(task_names(&play.handlers), ["play handler", "more handler"]);
}

#[test]
fn templated_role_name_and_role_library() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    tree(
        root,
        &[
            ("p.yml", "- hosts: all\n  roles: ['{{ which }}']\n"),
            (
                "roles/web/tasks/main.yml",
                "- name: custom\n  web_mod: a=1\n",
            ),
            ("roles/web/library/web_mod.py", "# a custom module\n"),
        ],
    );
    let mut opts = LoadOptions::default();
    opts.extra_vars.insert("which".into(), json!("web"));
    let pb = load(root, &opts);
    let r = &pb.plays[0].roles[0];
    assert_eq!(r.name, "web");
    let TaskItem::Task(t) = &r.tasks[0] else {
        panic!("a task")
    };
    assert_eq!(t.action, "web_mod");
    assert!(t
        .module_path
        .as_ref()
        .is_some_and(|p| p.ends_with("library/web_mod.py")));
}

#[test]
fn missing_role_names_the_searched_paths() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    tree(root, &[("p.yml", "- hosts: all\n  roles: [ghost]\n")]);
    let opts = LoadOptions {
        roles_path: vec![root.join("rp")],
        ..LoadOptions::default()
    };
    let d = load_playbook(&root.join("p.yml"), &opts).expect_err("no such role");
    assert_eq!(d.exit_code, 1);
    assert!(d.message.starts_with("the role 'ghost' was not found in "));
    assert!(d.message.contains(&root.join("rp").display().to_string()));
    assert!(d
        .message
        .contains(&root.join("roles").display().to_string()));
    let loc = d.loc.expect("loc");
    assert_eq!((loc.line, loc.col), (2, 11));
}

#[test]
fn collection_role_is_explained() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    tree(
        root,
        &[(
            "p.yml",
            "- hosts: all\n  roles: [geerlingguy.mysql.server]\n",
        )],
    );
    let d = load_playbook(&root.join("p.yml"), &LoadOptions::default()).expect_err("no role");
    assert_eq!(d.exit_code, 1);
    assert!(d.hint.as_deref().is_some_and(|h| h.contains("collections")));
}

#[test]
fn vars_main_may_be_a_directory() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    tree(
        root,
        &[
            ("p.yml", "- hosts: all\n  roles: [r]\n"),
            ("roles/r/tasks/main.yml", "- ping:\n"),
            ("roles/r/vars/main/a.yml", "one: 1\nboth: a\n"),
            ("roles/r/vars/main/b.yaml", "two: 2\nboth: b\n"),
            ("roles/r/defaults/main.json", "{\"d\": true}\n"),
        ],
    );
    let pb = load(root, &LoadOptions::default());
    let ctx = &pb.plays[0].roles[0].context;
    assert_eq!(
        serde_json::Value::Object(ctx.vars.clone()),
        json!({"one": 1, "both": "b", "two": 2})
    );
    assert_eq!(ctx.defaults["d"], json!(true));
}

#[test]
fn include_tasks_and_include_role_load_at_run_time() {
    use herd::playbook::{load_included_role, load_included_tasks};
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    tree(
        root,
        &[
            (
                "p.yml",
                "- hosts: all\n  roles: [outer]\n",
            ),
            (
                "roles/outer/tasks/main.yml",
                "- include_tasks: step.yml\n- include_role:\n    name: inner\n    tasks_from: extra\n",
            ),
            ("roles/outer/tasks/step.yml", "- name: step\n  ping:\n"),
            ("roles/inner/tasks/extra.yml", "- name: inner extra\n  ping:\n"),
            ("roles/inner/handlers/main.yml", "- name: inner handler\n  ping:\n"),
        ],
    );
    let opts = LoadOptions::default();
    let pb = load(root, &opts);
    let outer = &pb.plays[0].roles[0];
    let (TaskItem::Task(inc_tasks), TaskItem::Task(inc_role)) = (&outer.tasks[0], &outer.tasks[1])
    else {
        panic!("includes stay tasks")
    };
    let (file, items) = load_included_tasks(inc_tasks, "step.yml", root, &opts).expect("tasks");
    assert!(file.ends_with("roles/outer/tasks/step.yml"));
    assert_eq!(task_names(&items), ["step"]);
    let TaskItem::Task(step) = &items[0] else {
        panic!("a task")
    };
    assert_eq!(step.role.as_ref().map(|r| r.name.as_str()), Some("outer"));

    let role = load_included_role(inc_role, root, &opts).expect("role");
    assert_eq!(role.name, "inner");
    assert_eq!(task_names(&role.tasks), ["inner extra"]);
    assert_eq!(task_names(&role.handlers), ["inner handler"]);

    let d = load_included_tasks(inc_tasks, "nope.yml", root, &opts).expect_err("missing");
    assert_eq!(d.exit_code, 1);
}
