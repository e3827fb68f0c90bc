//! Host patterns and --limit, checked against `ansible --list-hosts`.

mod inventory_support;

use herd::inventory::Inventory;
use inventory_support::*;

const PATTERNS: &[&str] = &[
    "all",
    "*",
    "web",
    "web:db",
    "web,db",
    "db:web",
    "web:&prod",
    "prod:!canary",
    "!canary:prod",
    "&web:db",
    "web*",
    "*.example.com",
    "web0?.example.com",
    "db[12]",
    "db[1]",
    "db?",
    "[bd]*",
    "~web0[13].*",
    "~(db|app)",
    "web[0]",
    "web[-1]",
    "web[1:2]",
    "web[1:]",
    "web[0:0]",
    "web[2:1]",
    "web[1:10]",
    "all[3]",
    "db_replica:db_primary[0]",
    "ungrouped",
    "localhost",
    "127.0.0.1",
    "web:localhost",
    "db1",
    "db1:db1:db",
    "nosuch",
    "nosuch:web",
    "web01.example.com:&web",
    "prod:&db:!db2",
    "canary:web:db",
];

#[test]
fn patterns_match_ansible() {
    let inv_path = fixture("yaml_basic/hosts.yml");
    let inv = Inventory::load(std::slice::from_ref(&inv_path)).expect("inventory loads");
    let cwd = fixtures();
    let mut failures = Vec::new();
    for p in PATTERNS {
        let theirs = ansible_list_hosts(&[&inv_path], p, None, &cwd);
        // `ansible` (ad hoc) turns a pattern error into "no hosts";
        // ansible-playbook reports it, as herd does.
        let ours = Some(inv.select(p).unwrap_or_default());
        if theirs != ours {
            failures.push(format!("{p}: ansible {theirs:?}, herd {ours:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn patterns_on_ini_and_several_sources_match_ansible() {
    let a = fixture("ini_typing/hosts");
    let b = fixture("edge.ini");
    let inv = Inventory::load(&[a.clone(), b.clone()]).expect("inventory loads");
    let cwd = fixtures();
    let mut failures = Vec::new();
    for p in [
        "all",
        "fe80::1",
        "fe80::*",
        "2001:db8::3",
        "ungrouped",
        "all:!ungrouped",
        "localhost",
        "localhost:web",
        "web-servers",
        "db:&web",
        "db:!web",
        "h*:!h1",
        "~^h[0-9]$",
        "web[-2:]",
        "web[3:]",
        "later:db[0]",
        "direct1,explicit_ungrouped",
        "*[0]",
    ] {
        let theirs = ansible_list_hosts(&[&a, &b], p, None, &cwd);
        let ours = Some(inv.select(p).unwrap_or_default());
        if theirs != ours {
            failures.push(format!("{p}: ansible {theirs:?}, herd {ours:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn limits_match_ansible() {
    let inv_path = fixture("yaml_basic/hosts.yml");
    let inv = Inventory::load(std::slice::from_ref(&inv_path)).expect("inventory loads");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("limit.txt");
    std::fs::write(&file, "web02.example.com\n\ndb*\n!db3\n").unwrap();
    let at_file = format!("@{}", file.display());
    let cases: Vec<(&str, &str)> = vec![
        ("all", "web"),
        ("all", "web[0:1]"),
        ("all", "!db"),
        ("prod", "db*:web01.example.com"),
        ("web", "canary"),
        ("all", at_file.as_str()),
        ("web:db", "nosuch"),
        ("all", "localhost"),
    ];
    let cwd = fixtures();
    let mut failures = Vec::new();
    for (p, l) in cases {
        let theirs = ansible_list_hosts(&[&inv_path], p, Some(l), &cwd);
        let hosts = inv.select(p).unwrap();
        let ours = inv.apply_limit(hosts, l).unwrap();
        // No host left is an error of the caller's, as in Ansible.
        let theirs = theirs.unwrap_or_default();
        if theirs != ours {
            failures.push(format!(
                "{p} --limit {l}: ansible {theirs:?}, herd {ours:?}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn subscript_out_of_range_is_an_error() {
    let inv = Inventory::load(&[fixture("yaml_basic/hosts.yml")]).unwrap();
    let err = inv.select("web[40]").unwrap_err();
    assert_eq!(
        err.message,
        "No hosts matched the subscripted pattern 'web[40]'"
    );
    assert_eq!(err.exit_code, 1);
}

#[test]
fn missing_limit_file_is_an_error() {
    let inv = Inventory::load(&[fixture("yaml_basic/hosts.yml")]).unwrap();
    let err = inv
        .apply_limit(vec!["db1".into()], "@/nonexistent/limit")
        .unwrap_err();
    assert!(err.message.contains("Unable to find limit file"), "{err}");
}

#[test]
fn implicit_localhost_is_not_in_all() {
    let inv = Inventory::load(&[fixture("yaml_basic/hosts.yml")]).unwrap();
    assert_eq!(inv.select("localhost").unwrap(), vec!["localhost"]);
    assert!(inv.is_implicit_localhost("localhost"));
    assert!(!inv
        .select("all")
        .unwrap()
        .contains(&"localhost".to_string()));
    let vars = inv.host_vars("localhost", None).unwrap();
    assert_eq!(vars["ansible_connection"], "local");
    // `all`'s variables reach the implicit localhost too.
    assert_eq!(vars["ntp"], "overridden.example.com");
}
