//! Loading well-formed playbooks: every construct lands in the AST, with
//! its source location.

use std::path::{Path, PathBuf};

use herd::playbook::{
    load_playbook, Block, BlockOrigin, LoadOptions, Play, Playbook, Task, TaskItem,
};
use serde_json::json;

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/playbook")
        .join(rel)
}

fn good_opts() -> LoadOptions {
    let mut opts = LoadOptions::default();
    opts.roles_path.push(fixture("good/extra_roles"));
    opts.extra_vars.insert("sub".into(), json!("web"));
    opts
}

fn load_good() -> Playbook {
    match load_playbook(&fixture("good/site.yml"), &good_opts()) {
        Ok(pb) => pb,
        Err(d) => panic!("{d}"),
    }
}

fn main_play(pb: &Playbook) -> &Play {
    &pb.plays[1]
}

/// Every task in a list, blocks walked in order (block, rescue, always).
fn walk<'a>(items: &'a [TaskItem], out: &mut Vec<&'a Task>) {
    for item in items {
        match item {
            TaskItem::Task(t) => out.push(t),
            TaskItem::Block(b) => {
                walk(&b.block, out);
                walk(&b.rescue, out);
                walk(&b.always, out);
            }
        }
    }
}

fn tasks(items: &[TaskItem]) -> Vec<&Task> {
    let mut out = Vec::new();
    walk(items, &mut out);
    out
}

fn named<'a>(items: &'a [TaskItem], name: &str) -> &'a Task {
    tasks(items)
        .into_iter()
        .find(|t| t.name.as_deref() == Some(name))
        .unwrap_or_else(|| panic!("no task named {name}"))
}

fn block_at(items: &[TaskItem], i: usize) -> &Block {
    match &items[i] {
        TaskItem::Block(b) => b,
        TaskItem::Task(t) => panic!("item {i} is the task {:?}", t.name),
    }
}

#[test]
fn import_playbook_is_flattened_with_vars_and_tags() {
    let pb = load_good();
    assert_eq!(pb.plays.len(), 2);
    let imported = &pb.plays[0];
    assert!(imported.loc.file.ends_with("good/web.yml"));
    assert_eq!((imported.loc.line, imported.loc.col), (1, 3));
    assert_eq!(imported.hosts, json!("localhost"));
    // The import's vars win over the play's own.
    assert_eq!(imported.vars["from_import"], json!(1));
    assert_eq!(imported.vars["own"], json!(true));
    assert_eq!(imported.tags, vec!["imported"]);
    assert_eq!(tasks(&imported.tasks)[0].action, "ping");
    assert_eq!(imported.playbook_dir, fixture("good"));
}

#[test]
fn play_keywords_are_kept() {
    let pb = load_good();
    let play = main_play(&pb);
    assert_eq!((play.loc.line, play.loc.col), (7, 3));
    assert_eq!(play.name.as_deref(), Some("Main play {{ env_name }}"));
    assert_eq!(play.hosts, json!(["web", "db"]));
    assert_eq!(play.tags, vec!["main", "web"]);
    // PyYAML 1.1 typing: 0644 is octal.
    assert_eq!(play.vars["mode"], json!(420));
    let kw = &play.keywords;
    assert_eq!(kw.bool("gather_facts"), Some(false));
    assert_eq!(kw.get("gather_subset"), Some(&json!(["min"])));
    assert_eq!(kw.bool("become"), Some(true));
    assert_eq!(kw.str("become_user"), Some("root"));
    assert_eq!(kw.str("remote_user"), Some("deploy"));
    assert_eq!(kw.get("port"), Some(&json!(2222)));
    assert_eq!(kw.str("connection"), Some("ssh"));
    assert_eq!(kw.get("serial"), Some(&json!([1, "50%"])));
    assert_eq!(kw.str("strategy"), Some("free"));
    assert_eq!(kw.str("order"), Some("sorted"));
    assert_eq!(kw.bool("any_errors_fatal"), Some(true));
    assert_eq!(kw.get("max_fail_percentage"), Some(&json!(20)));
    assert_eq!(kw.bool("ignore_errors"), Some(false));
    assert_eq!(kw.bool("ignore_unreachable"), Some(true));
    assert_eq!(kw.get("environment"), Some(&json!({"PATH": "/usr/bin"})));
    assert_eq!(kw.bool("check_mode"), Some(false));
    assert_eq!(kw.bool("diff"), Some(true));
    assert_eq!(kw.bool("force_handlers"), Some(true));
    assert_eq!(
        kw.get("module_defaults"),
        Some(&json!({"file": {"owner": "root"}}))
    );
    assert_eq!(kw.get("collections"), Some(&json!(["ansible.posix"])));
    assert_eq!(
        play.vars_files,
        vec![
            json!("play_vars/common.yml"),
            json!(["play_vars/missing.yml", "play_vars/common.yml"])
        ]
    );
}

#[test]
fn vars_prompt_entries() {
    let pb = load_good();
    let vp = &main_play(&pb).vars_prompt;
    assert_eq!(vp.len(), 2);
    assert_eq!(vp[0].name, "password");
    assert_eq!(vp[0].prompt.as_deref(), Some("Password?"));
    assert_eq!(vp[0].default, Some(json!("secret")));
    assert!(vp[0].private && vp[0].confirm);
    assert_eq!((vp[0].loc.line, vp[0].loc.col), (37, 7));
    assert_eq!(vp[1].name, "user");
    assert!(!vp[1].private);
    assert_eq!(vp[1].default, None);
}

#[test]
fn roles_with_params_keywords_and_roles_path() {
    let pb = load_good();
    let roles = &main_play(&pb).roles;
    let names: Vec<_> = roles.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["common", "withparams", "far"]);
    let common = &roles[0];
    assert_eq!((common.loc.line, common.loc.col), (45, 7));
    assert_eq!(common.context.defaults["common_default"], json!(1));
    assert_eq!(common.context.vars["common_var"], json!(2));
    assert!(common.context.path.ends_with("good/roles/common"));
    // Dependencies: `base` with a parameter, then `base` without: both
    // load (different parameters), each a dependency.
    assert_eq!(common.dependencies.len(), 2);
    assert_eq!(
        common.dependencies[0].context.params["base_param"],
        json!(1)
    );
    assert!(common.dependencies[0].context.from_dependency);
    assert!(common.dependencies[1].context.params.is_empty());
    assert!(!common.dependencies[1].duplicate);
    // Role tasks: a task using a module from the role's library/, then an
    // import_tasks resolved in the role's tasks/ directory.
    let t = tasks(&common.tasks);
    assert_eq!(t[0].action, "common_mod");
    assert!(t[0]
        .module_path
        .as_ref()
        .is_some_and(|p| p.ends_with("roles/common/library/common_mod")));
    assert_eq!(t[0].role.as_ref().map(|r| r.name.as_str()), Some("common"));
    assert_eq!(t[1].name.as_deref(), Some("common sub"));
    assert!(t[1].loc.file.ends_with("roles/common/tasks/sub.yml"));
    assert_eq!(
        tasks(&common.handlers)[0].name.as_deref(),
        Some("restart common")
    );
    assert!(tasks(&common.handlers)[0].is_handler);

    let wp = &roles[1];
    assert_eq!(wp.context.params["http_port"], json!(80));
    assert_eq!(wp.tags, vec!["wp"]);
    assert_eq!(wp.when, vec![json!("x is defined")]);
    assert_eq!(wp.vars["a"], json!(1));
    assert_eq!(wp.keywords.bool("become"), Some(true));
    assert!(!wp.keywords.contains("http_port"));

    // `far` is found through roles_path.
    assert!(roles[2].context.path.ends_with("extra_roles/far"));
}

#[test]
fn module_forms_and_args() {
    let pb = load_good();
    let play = main_play(&pb);
    let pre = named(&play.pre_tasks, "pre");
    assert_eq!(pre.action, "debug");
    assert_eq!(pre.action_fqcn, "ansible.builtin.debug");
    assert_eq!(pre.args["msg"], json!("before roles"));

    let t = tasks(&play.tasks);
    let copy = named(&play.tasks, "Copy with k=v");
    assert_eq!((copy.loc.line, copy.loc.col), (57, 7));
    assert_eq!((copy.action_loc.line, copy.action_loc.col), (58, 7));
    assert_eq!(
        serde_json::Value::Object(copy.args.clone()),
        json!({"src": "a.txt", "dest": "/tmp/b c.txt", "mode": "0644"})
    );
    assert_eq!(copy.notify, vec!["restart app"]);

    let shell = named(&play.tasks, "Shell free-form");
    assert_eq!(
        serde_json::Value::Object(shell.args.clone()),
        json!({"chdir": "/tmp", "creates": "/tmp/x", "_raw_params": "echo hello > /tmp/x"})
    );
    assert_eq!(shell.register.as_deref(), Some("out"));
    assert_eq!(shell.keywords.bool("changed_when"), Some(false));
    assert_eq!(shell.keywords.str("failed_when"), Some("out.rc != 0"));

    // `args:` is merged under the module's own arguments.
    let command = t[2];
    assert_eq!(command.action, "command");
    assert_eq!(
        serde_json::Value::Object(command.args.clone()),
        json!({"creates": "/nonexistent", "chdir": "/", "cmd": "ls -l"})
    );

    // `action:` text and `local_action:` mapping.
    assert_eq!(t[3].action, "file");
    assert_eq!(t[3].args["state"], json!("directory"));
    assert_eq!(t[4].action, "stat");
    assert_eq!(t[4].action_fqcn, "ansible.builtin.stat");
    assert_eq!(t[4].keywords.str("delegate_to"), Some("localhost"));
    assert_eq!(t[4].args["path"], json!("/etc/hosts"));

    let mount = named(&play.tasks, "mount from posix");
    assert_eq!(mount.action_fqcn, "ansible.posix.mount");
    assert_eq!(mount.args["fstype"], json!("ext4"));

    let set_fact = tasks(&play.post_tasks)[0];
    assert_eq!(set_fact.args["b"], json!("two words"));
}

#[test]
fn loops_and_loop_control() {
    let pb = load_good();
    let play = main_play(&pb);
    let l = named(&play.tasks, "loop");
    let lp = l.loop_.as_ref().expect("loop");
    assert_eq!(lp.with, None);
    assert_eq!(lp.items, json!([1, 2]));
    assert_eq!((lp.loc.line, lp.loc.col), (78, 7));
    let lc = l.loop_control.as_ref().expect("loop_control");
    assert_eq!(lc.loop_var.as_deref(), Some("item"));
    assert_eq!(lc.index_var.as_deref(), Some("idx"));
    assert_eq!(lc.label, Some(json!("{{ item }}")));
    assert_eq!(lc.pause, Some(json!(1)));
    assert_eq!(lc.extended, Some(json!(true)));
    assert_eq!(l.when, vec![json!("a"), json!("b")]);
    assert_eq!(l.tags, vec!["t1", "t2"]);

    let with = tasks(&play.tasks)[6];
    let lp = with.loop_.as_ref().expect("with_dict");
    assert_eq!(lp.with.as_deref(), Some("dict"));
    assert_eq!(lp.items, json!("{{ d }}"));
    assert_eq!(with.args["var"], json!("item"));
}

#[test]
fn every_task_keyword() {
    let pb = load_good();
    let t = named(&main_play(&pb).tasks, "all the task keywords");
    assert_eq!(t.action, "ping");
    assert_eq!(t.action_fqcn, "ansible.legacy.ping");
    assert!(t.args.is_empty());
    let kw = &t.keywords;
    for (k, v) in [
        ("until", json!("r is success")),
        ("retries", json!(3)),
        ("delay", json!(2)),
        ("delegate_to", json!("other")),
        ("delegate_facts", json!(true)),
        ("run_once", json!(true)),
        ("become_method", json!("sudo")),
        ("become_flags", json!("-H")),
        ("become_exe", json!("sudo")),
        ("no_log", json!(true)),
        ("timeout", json!(10)),
        ("throttle", json!(2)),
        ("async", json!(30)),
        ("poll", json!(0)),
        ("debugger", json!("on_failed")),
        ("environment", json!({"A": "b"})),
    ] {
        assert_eq!(kw.get(k), Some(&v), "{k}");
    }
    assert_eq!(t.vars["x"], json!(1));
}

#[test]
fn blocks_nest_with_rescue_and_always() {
    let pb = load_good();
    let play = main_play(&pb);
    let b = block_at(&play.tasks, 8);
    assert_eq!(b.origin, BlockOrigin::Block);
    assert_eq!(b.name.as_deref(), Some("outer block"));
    assert_eq!((b.loc.line, b.loc.col), (110, 7));
    assert_eq!(b.when, vec![json!("y")]);
    assert_eq!(b.keywords.bool("become"), Some(true));
    assert_eq!(b.block.len(), 2);
    let inner = block_at(&b.block, 1);
    let TaskItem::Task(custom) = &inner.block[0] else {
        panic!("expected a task")
    };
    // A module from library/ beside the playbook.
    assert_eq!(custom.action, "my_mod");
    assert!(custom.module_path.is_some());
    assert_eq!(custom.args["a"], json!("1"));
    assert_eq!(tasks(&b.rescue)[0].action, "fail");
    assert_eq!(tasks(&b.always)[0].args["msg"], json!("always"));
    let meta = tasks(&b.block)[0];
    assert_eq!(meta.args["_raw_params"], json!("flush_handlers"));
}

#[test]
fn import_tasks_is_inlined_and_include_tasks_kept() {
    let pb = load_good();
    let play = main_play(&pb);
    let imp = block_at(&play.tasks, 9);
    match &imp.origin {
        BlockOrigin::ImportTasks { file } => assert!(file.ends_with("tasks/extra.yml")),
        other => panic!("{other:?}"),
    }
    assert_eq!(imp.name.as_deref(), Some("import with vars"));
    assert_eq!(imp.vars["z"], json!(2));
    assert_eq!(imp.when, vec![json!("imported_cond")]);
    let inner = tasks(&imp.block);
    assert_eq!(inner[0].name.as_deref(), Some("extra one"));
    assert!(inner[0].loc.file.ends_with("tasks/extra.yml"));
    // A nested import resolves beside the file that imports it.
    assert_eq!(inner[1].name.as_deref(), Some("nested"));
    assert_eq!(inner[1].args["_raw_params"], json!("uptime"));
    assert!(inner[1].loc.file.ends_with("tasks/nested.yml"));

    let TaskItem::Task(inc) = &play.tasks[10] else {
        panic!("include_tasks should stay a task")
    };
    assert_eq!(inc.action, "include_tasks");
    assert_eq!(inc.args["file"], json!("tasks/extra.yml"));
    let apply = inc.apply.as_ref().expect("apply");
    assert_eq!(apply.tags, vec!["applied"]);
    assert_eq!(apply.keywords.bool("become"), Some(true));
}

#[test]
fn import_role_is_inlined_and_include_role_kept() {
    let pb = load_good();
    let play = main_play(&pb);
    let imp = block_at(&play.tasks, 11);
    assert_eq!(imp.origin, BlockOrigin::ImportRole { name: "dup".into() });
    // Dependencies first: dup depends on base.
    let names: Vec<_> = tasks(&imp.block)
        .iter()
        .map(|t| {
            format!(
                "{} : {}",
                t.role.as_ref().map(|r| r.name.as_str()).unwrap_or(""),
                t.name.as_deref().unwrap_or("")
            )
        })
        .collect();
    assert_eq!(names, ["base : base task", "dup : dup task"]);
    let TaskItem::Task(inc) = &play.tasks[12] else {
        panic!("include_role should stay a task")
    };
    assert_eq!(inc.action, "include_role");
    assert_eq!(inc.args["tasks_from"], json!("main"));
}

#[test]
fn handlers_listen() {
    let pb = load_good();
    let h = tasks(&main_play(&pb).handlers);
    assert_eq!(h[0].name.as_deref(), Some("restart app"));
    assert!(h[0].is_handler);
    assert_eq!(h[0].listen, vec!["app restarts"]);
    assert_eq!(h[0].args["state"], json!("restarted"));
}

#[test]
fn templated_import_path_uses_the_renderer() {
    let mut opts = good_opts();
    opts.extra_vars.clear();
    opts.render = Some(Box::new(|text, _vars| Ok(text.replace("{{ sub }}", "web"))));
    let pb = load_playbook(&fixture("good/site.yml"), &opts).expect("loads");
    assert_eq!(pb.plays[0].hosts, json!("localhost"));
}

#[test]
fn templated_import_path_without_its_variable_fails() {
    let mut opts = good_opts();
    opts.extra_vars.clear();
    let d = load_playbook(&fixture("good/site.yml"), &opts).expect_err("no `sub` var");
    assert_eq!(d.exit_code, 4);
    assert!(d.message.contains("{{ sub }}.yml"), "{}", d.message);
    let loc = d.loc.expect("loc");
    assert_eq!((loc.line, loc.col), (2, 20));
}

#[test]
fn vault_and_unsafe_values_are_kept_and_names_stay_raw() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("p.yml");
    std::fs::write(
        &path,
        "- hosts: all\n  vars:\n    secret: !vault |\n      $ANSIBLE_VAULT;1.1;AES256\n      6162\n  tasks:\n    - name: \"Say {{ greeting }}\"\n      debug:\n        msg: !unsafe '{{ not templated }}'\n      when: true\n",
    )
    .expect("write");
    let pb = load_playbook(&path, &LoadOptions::default()).expect("loads");
    let play = &pb.plays[0];
    assert_eq!(
        play.vars["secret"],
        json!({"__ansible_vault": "$ANSIBLE_VAULT;1.1;AES256\n6162\n"})
    );
    let t = tasks(&play.tasks)[0];
    assert_eq!(t.name.as_deref(), Some("Say {{ greeting }}"));
    assert_eq!(
        t.args["msg"],
        json!({"__ansible_unsafe": "{{ not templated }}"})
    );
    assert_eq!(t.when, vec![json!(true)]);
}

#[test]
fn free_form_modules_and_action_spellings() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("p.yml");
    std::fs::write(
        &path,
        concat!(
            "- hosts: all\n  tasks:\n",
            "    - ansible.builtin.command: /bin/echo a=b removes=/x\n",
            "    - raw: uptime executable=/bin/sh\n",
            "    - script: run.sh --flag chdir=/srv\n",
            "    - ansible.builtin.include_tasks: other.yml\n",
            "    - include_vars: vars.yml\n",
            "    - action: shell echo hi warn=no\n",
            "    - local_action: command hostname\n",
            "    - set_fact:\n        x: 1\n      args:\n        y: 2\n",
            "    - ansible.posix.sysctl: name=vm.swappiness value=5\n",
            "    - group_by: key=os_{{ ansible_os_family }}\n",
        ),
    )
    .expect("write");
    let pb = load_playbook(&path, &LoadOptions::default()).expect("loads");
    let t = tasks(&pb.plays[0].tasks);
    let args = |i: usize| serde_json::Value::Object(t[i].args.clone());
    assert_eq!(t[0].action, "command");
    assert_eq!(t[0].action_fqcn, "ansible.builtin.command");
    assert_eq!(
        args(0),
        json!({"removes": "/x", "_raw_params": "/bin/echo a=b"})
    );
    assert_eq!(
        args(1),
        json!({"executable": "/bin/sh", "_raw_params": "uptime"})
    );
    assert_eq!(
        args(2),
        json!({"chdir": "/srv", "_raw_params": "run.sh --flag"})
    );
    assert_eq!(t[3].action, "include_tasks");
    assert_eq!(args(3), json!({"_raw_params": "other.yml"}));
    assert_eq!(args(4), json!({"_raw_params": "vars.yml"}));
    assert_eq!(t[5].action, "shell");
    assert_eq!(args(5), json!({"warn": "no", "_raw_params": "echo hi"}));
    assert_eq!(t[6].action, "command");
    assert_eq!(t[6].keywords.str("delegate_to"), Some("localhost"));
    assert_eq!(args(6), json!({"_raw_params": "hostname"}));
    assert_eq!(args(7), json!({"y": 2, "x": 1}));
    assert_eq!(t[8].action, "sysctl");
    assert_eq!(t[8].action_fqcn, "ansible.posix.sysctl");
    assert_eq!(args(9), json!({"key": "os_{{ ansible_os_family }}"}));
}

/// A playbook of unusual but valid spellings that ansible-playbook
/// 2.19 `--syntax-check` accepts: herd must accept it too.
#[test]
fn accepts_what_ansible_accepts() {
    let pb = load_playbook(&fixture("valid/p.yml"), &LoadOptions::default())
        .unwrap_or_else(|d| panic!("{d}"));
    assert_eq!(pb.plays.len(), 2);
    let play = &pb.plays[0];
    assert_eq!(play.tags, vec!["1"]);
    assert_eq!(play.vars_files, vec![json!("t.yml")]);
    assert_eq!(play.roles[0].name, "common");
    assert_eq!(play.roles[0].tags, vec!["a"]);
    assert!(play.roles[1].tasks.is_empty());
    assert_eq!(play.roles[1].context.defaults["a"], json!(1));
    let t = tasks(&play.tasks);
    let by_action = |a: &str| t.iter().find(|t| t.action == a).copied();
    let custom = by_action("mymod").expect("custom module");
    assert_eq!(custom.action_fqcn, "ansible.legacy.mymod");
    let args_tpl = t
        .iter()
        .find(|t| t.args.contains_key("_variable_params"))
        .expect("args template");
    assert_eq!(args_tpl.args["_variable_params"], json!("{{ myargs }}"));
    assert!(pb.plays[1].tasks.is_empty());
}
