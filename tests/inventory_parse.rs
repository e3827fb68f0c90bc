//! Reading inventory sources: typing, ranges, group structure, magic
//! variables, variable layers, and errors with their location.

mod inventory_support;

use std::path::Path;

use herd::inventory::{Inventory, UnparsedPolicy};
use inventory_support::*;
use serde_json::json;

fn load(src: &str) -> Inventory {
    Inventory::load(&[fixture(src)]).unwrap_or_else(|e| panic!("{src}: {e}"))
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

#[test]
fn ini_values_are_python_literals() {
    let inv = load("ini_typing/hosts");
    let v = &inv.hosts["top1"].vars;
    let expect = json!({
        "a": 23, "b": "x", "c": [1, 2], "d": true, "e": "true", "f": "yes",
        "g": "08", "h": "q r", "i": "{k:1}", "j": 1.5, "k": -3, "l": null,
        "m": 16, "n": {"k": 1}, "o": 1000.0, "p": 0, "q": 1000, "r": "its",
        "s": [1, "a"], "t": "a"
    });
    for (k, want) in expect.as_object().unwrap() {
        assert_eq!(&v[k], want, "variable {k}");
    }
    let web = &inv.groups["web"].vars;
    assert_eq!(web["v1"], json!(23));
    assert_eq!(web["v3"], json!("true"));
    assert_eq!(web["v5"], json!("spaced value"));
    assert_eq!(web["v6"], json!("a # not a comment here"));
    assert_eq!(web["v7"], json!(""));
    assert_eq!(inv.groups["later"].priority, 3);
    assert!(!inv.groups["later"]
        .vars
        .contains_key("ansible_group_priority"));
}

#[test]
fn ports_ranges_and_ipv6() {
    let inv = load("ini_typing/hosts");
    assert_eq!(inv.hosts["host2"].vars["ansible_port"], json!(2222));
    assert_eq!(inv.hosts["top2"].vars["ansible_port"], json!(2200));
    assert_eq!(inv.hosts["fe80::2"].vars["ansible_port"], json!(2200));
    assert!(inv.hosts.contains_key("fe80::1"));
    assert!(inv.hosts.contains_key("2001:db8::3"));
    let web: Vec<&String> = inv.groups["web"].hosts.iter().collect();
    assert_eq!(
        web,
        [
            "web01.example.com",
            "web02.example.com",
            "web03.example.com",
            "db-a",
            "db-b",
            "db-c",
            "h1",
            "h5",
            "h9",
            "host2",
            "top1"
        ]
    );
    assert_eq!(
        inv.hosts["top1"].source.as_deref(),
        Some(Path::new(&fixture("ini_typing/hosts")))
    );
}

#[test]
fn groups_structure_and_magic_vars() {
    let inv = load("ini_typing/hosts");
    // top1 is listed under [web] too, so it left `ungrouped`.
    assert_eq!(inv.groups["ungrouped"].hosts, ["top2"]);
    assert_eq!(
        inv.groups["all"].children,
        ["ungrouped", "db", "empty", "ipv6"]
    );
    assert_eq!(inv.groups["web"].parents, ["db"]);
    assert_eq!(inv.groups["db"].children, ["web", "later"]);
    assert_eq!(inv.group_names("web01.example.com"), ["db", "web"]);
    assert_eq!(inv.group_names("top2"), ["ungrouped"]);
    let groups = inv.groups_var();
    assert_eq!(groups["later"], json!(["late1"]));
    assert_eq!(groups["empty"], json!([]));
    assert_eq!(groups["ungrouped"], json!(["top2"]));
    assert_eq!(groups["all"].as_array().unwrap().len(), inv.hosts.len());
    let order: Vec<&str> = inv
        .host_groups_ordered("late1")
        .iter()
        .map(|g| g.name.as_str())
        .collect();
    assert_eq!(order, ["all", "db", "later"]);
}

#[test]
fn group_merge_order_is_depth_priority_name() {
    let inv = Inventory::load(&[fixtures()
        .join("precedence/inv/hosts.ini")
        .display()
        .to_string()])
    .unwrap();
    let order: Vec<&str> = inv
        .host_groups_ordered("h1")
        .iter()
        .map(|g| g.name.as_str())
        .collect();
    // prio has priority 0: before parent (same depth, priority 1).
    assert_eq!(order, ["all", "prio", "parent", "zeta", "alpha", "deep"]);
}

#[test]
fn variable_layers_merge_in_ansible_order() {
    let base = fixtures().join("precedence");
    let inv = Inventory::load(&[base.join("inv/hosts.ini").display().to_string()]).unwrap();
    let vars = inv.host_vars("h1", Some(&base.join("pb"))).unwrap();
    for k in 1..=8 {
        assert_eq!(vars[&format!("v{k}")], json!(format!("L{k}")), "v{k}");
    }
    assert_eq!(vars["v0"], json!("L0"));
    // Without the playbook directory its layers are absent.
    let vars = inv.host_vars("h1", None).unwrap();
    assert_eq!(vars["v3"], json!("L2"));
    assert_eq!(vars["v8"], json!("L7"));
}

#[test]
fn vars_files_in_every_form() {
    let inv = load("ini_typing/hosts");
    let vars = inv.host_vars("top1", None).unwrap();
    // host_vars/top1/ is a directory: a.yml, b (no extension), c.yml
    // (empty), sub/x.json; skip.txt is ignored.
    assert_eq!(vars["split"], json!(2));
    assert_eq!(vars["second"], json!(true));
    assert_eq!(vars["nested"], json!(true));
    assert!(!vars.contains_key("skip"));
    // group_vars/web (no extension) is found before web.yml.
    assert_eq!(
        inv.host_vars("h1", None).unwrap()["from"],
        json!("web_plain")
    );
    assert_eq!(
        inv.host_vars("late1", None).unwrap()["from"],
        json!("later_file")
    );
    let y = load("yaml_basic/hosts.yml");
    let web = y.host_vars("web02.example.com", None).unwrap();
    assert_eq!(web["http_port"], json!(8080));
    assert_eq!(web["web_more"], json!([1, 2]));
    assert!(!web.contains_key("ignored"));
    assert_eq!(y.host_vars("db2", None).unwrap()["db_json"], json!("yes"));
}

#[test]
fn yaml_inventory_shapes() {
    let inv = load("yaml_basic/hosts.yml");
    assert_eq!(inv.groups["all"].vars["mode"], json!(420));
    assert_eq!(inv.groups["all"].vars["flag"], json!(true));
    assert_eq!(inv.groups["ungrouped"].hosts, ["bastion.example.com"]);
    assert_eq!(inv.hosts["web-extra"].vars["ansible_port"], json!(5555));
    assert_eq!(inv.groups["prod"].children, ["web", "db"]);
    assert_eq!(inv.groups["web"].parents, ["all", "prod"]);
    assert!(inv.groups.contains_key("empty"));
    assert_eq!(inv.groups["db_primary"].priority, 5);
}

#[test]
fn directory_sources_skip_ignored_files() {
    let inv = load("dir");
    for h in ["app1", "app2", "app3", "redis1", "lb1", "lb2", "edge1"] {
        assert!(inv.hosts.contains_key(h), "{h}");
    }
    for g in ["x", "y", "z", "q"] {
        assert!(
            !inv.groups.contains_key(g),
            "group {g} from an ignored file"
        );
    }
    assert_eq!(inv.groups["lb"].children, ["edge"]);
    assert_eq!(inv.hosts["lb1"].vars["weight"], json!(3));
    assert_eq!(inv.host_vars("lb1", None).unwrap()["weight"], json!(9));
    assert_eq!(inv.host_vars("app1", None).unwrap()["dc"], json!("west"));
}

#[test]
fn host_lists() {
    let inv = Inventory::load(&["a,b:2200,[fe80::1]:22,".into()]).unwrap();
    assert_eq!(inv.groups["ungrouped"].hosts, ["a", "b", "fe80::1"]);
    assert_eq!(inv.hosts["b"].vars["ansible_port"], json!(2200));
    assert!(inv.sources.is_empty());
}

#[test]
fn scripts_without_meta() {
    let inv = load("script_nometa.sh");
    assert_eq!(inv.hosts["s2"].vars["hv"], json!("two"));
    assert_eq!(inv.groups["solo"].hosts, ["solo"]);
    assert_eq!(inv.hosts["solo"].vars.len(), 0);
    assert_eq!(inv.groups["solo"].vars["a"], json!(1));
    assert_eq!(inv.groups["listed"].hosts, ["s3"]);
}

#[test]
fn failing_script_names_it_and_shows_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "inv.sh",
        "#!/bin/sh\necho 'cannot reach the API' >&2\nexit 3\n",
    );
    make_executable(&path);
    let err = Inventory::load_with(std::slice::from_ref(&path), &strict()).unwrap_err();
    assert!(err.message.contains(&path), "{err}");
    assert!(err.message.contains("exit code 3"), "{err}");
    assert!(err.message.contains("cannot reach the API"), "{err}");
    assert_eq!(err.exit_code, 1);
}

fn make_executable(path: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn malformed_inputs_point_at_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let cases: &[(&str, &str, u32, &str)] = &[
        ("a.ini", "[web:nope]\nh1\n", 1, "Section [web:nope] has unknown type: nope"),
        ("b.ini", "[web]\nh1 x=\"open\n", 2, "No closing quotation"),
        ("c.ini", "[web]\nh1 novalue\n", 2, "Expected key=value host variable assignment, got: novalue"),
        ("d.ini", "[web]\nh1\n[web:children]\nnosuch\n", 4, "Section [web:children] includes undefined group 'nosuch'."),
        ("e.ini", "[g:vars]\na=1\n", 1, "Section [g:vars] not valid for undefined group 'g'."),
        ("f.ini", "[web]\nh[01:1]\n", 2, "host range must specify equal-length begin and end formats"),
        ("g.ini", "[web\nh1\n", 1, "Invalid section entry: '[web'"),
        ("h.ini", "[web]\nh1:\n", 2, "ending in ':' is not allowed"),
        ("i.ini", "[web:vars]\nnovalue\n[web]\n", 2, "Expected key=value, got: novalue"),
        ("j.ini", "[a:children]\nb\n[b:children]\na\n[a]\n[b]\n", 4, "recursive dependency loop"),
        ("k.yml", "all:\n  hosts: [a, b]\n", 2, "Invalid \"hosts\" entry for \"all\" group"),
        ("l.yml", "all:\n  hosts:\n    1:\n", 3, "Host pattern 1 must be a string"),
        ("m.yml", "all:\n  children:\n    a:\n      children:\n        b:\n          children:\n            a:\n", 5, "recursive dependency loop"),
        ("n.yml", "all:\n  hosts:\n    h1: [1]\n", 3, "expected dictionary"),
    ];
    let mut failures = Vec::new();
    for (name, text, line, msg) in cases {
        let path = write(dir.path(), name, text);
        // By default a broken source is a warning and is left out, as in
        // Ansible; the strict policy makes it the error checked here.
        match Inventory::load(std::slice::from_ref(&path)) {
            Ok(inv) if inv.hosts.is_empty() => {}
            Ok(_) => failures.push(format!("{name}: broken source kept its hosts")),
            Err(e) => failures.push(format!("{name}: error without the strict policy: {e}")),
        }
        match Inventory::load_with(std::slice::from_ref(&path), &strict()) {
            Ok(_) => failures.push(format!("{name}: loaded without error")),
            Err(e) => {
                let loc = e.loc.clone();
                if !e.message.contains(msg) {
                    failures.push(format!("{name}: message {:?} lacks {msg:?}", e.message));
                }
                match loc {
                    Some(l) if l.line == *line && *l.file == path => {}
                    other => failures.push(format!("{name}: location {other:?}, want line {line}")),
                }
                if e.exit_code != 1 {
                    failures.push(format!("{name}: exit code {}", e.exit_code));
                }
                // The rendered error shows the source line.
                let shown = e.to_string();
                let src_line = text.lines().nth(*line as usize - 1).unwrap();
                if !shown.contains(src_line) {
                    failures.push(format!("{name}: rendered error lacks the line:\n{shown}"));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn strict() -> UnparsedPolicy {
    UnparsedPolicy {
        unparsed_is_failed: true,
        any_unparsed_is_failed: true,
    }
}

/// A broken source is a warning showing the place (exit 0, as
/// ansible-inventory), or an error with exit 1 when the configuration
/// says any unparsed source is a failure.
#[test]
fn cli_warns_or_fails_on_broken_sources() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "bad.ini", "[web]\nh1 novalue\n");
    let out = herd(&["inventory", "-i", &path, "--list"], dir.path());
    assert_eq!(out.status.code(), Some(0));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with("[WARNING]: "), "{err}");
    assert!(err.contains(&format!("{path}:2:1")), "{err}");
    assert!(err.contains("\n2 h1 novalue\n"), "{err}");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_herd"))
        .current_dir(dir.path())
        .env("ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED", "true")
        .args(["inventory", "-i", &path, "--list"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with("[ERROR]: "), "{err}");
    assert!(err.contains("^ column 1"), "{err}");
}

#[test]
fn missing_source_warns_and_gives_empty_inventory() {
    let inv = Inventory::load(&["/nonexistent/inventory".into()]).unwrap();
    assert_eq!(inv.hosts.len(), 0);
    assert_eq!(inv.select("localhost").unwrap(), ["localhost"]);
    assert!(inv.select("all").unwrap().is_empty());
}

#[test]
fn ten_thousand_hosts_load_quickly() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::new();
    for g in 0..10 {
        text.push_str(&format!(
            "[g{g}]\nnode{g}-[0000:0999].example.com idx={g}\n[g{g}:vars]\ngv={g}\n"
        ));
    }
    text.push_str("[every:children]\n");
    for g in 0..10 {
        text.push_str(&format!("g{g}\n"));
    }
    let path = write(dir.path(), "big.ini", &text);
    let start = std::time::Instant::now();
    let inv = Inventory::load(&[path]).unwrap();
    let hosts = inv.select("every:&g3").unwrap();
    let elapsed = start.elapsed();
    assert_eq!(inv.hosts.len(), 10_000);
    assert_eq!(hosts.len(), 1000);
    // Release builds take a few milliseconds; this bound only catches
    // quadratic behaviour in the unoptimised test build.
    assert!(elapsed.as_millis() < 2000, "took {elapsed:?}");
}

#[test]
fn source_paths_are_absolute_and_normalised() {
    let messy = fixtures()
        .join("dir/../ini_typing/./hosts")
        .display()
        .to_string();
    let inv = Inventory::load(&[messy]).unwrap();
    let clean = fixtures().join("ini_typing/hosts");
    assert_eq!(inv.sources, std::slice::from_ref(&clean));
    assert_eq!(inv.hosts["top1"].source.as_deref(), Some(clean.as_path()));
    assert_eq!(inv.vars_dirs(), [fixtures().join("ini_typing")]);
}
