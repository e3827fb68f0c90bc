//! `herd inventory` prints exactly what ansible-inventory 2.19 prints, on
//! every fixture and the example inventories.

mod inventory_support;

use std::path::Path;

use inventory_support::*;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn check_all(inventory: &[&str], extra: &[&[&str]]) {
    let mut base: Vec<Vec<&str>> = vec![
        vec!["--list"],
        vec!["--graph"],
        vec!["--graph", "--vars"],
        vec!["--list", "--export"],
        vec!["--list", "--yaml"],
        vec!["--list", "-y", "--export"],
    ];
    base.extend(extra.iter().map(|e| e.to_vec()));
    let cwd = fixtures();
    for args in base {
        let mut full: Vec<&str> = Vec::new();
        for i in inventory {
            full.push("-i");
            full.push(i);
        }
        full.extend(args);
        same_as_ansible_inventory(&full, &cwd);
    }
}

#[test]
fn ini_typing_and_syntax() {
    let inv = fixture("ini_typing/hosts");
    check_all(
        &[&inv],
        &[
            &["--host", "top1"],
            &["--host", "top2"],
            &["--host", "web01.example.com"],
            &["--host", "fe80::2"],
            &["--graph", "db", "--vars"],
            &["--graph", "later"],
            &["--list", "--limit", "web[1:3]:!db-b"],
        ],
    );
}

#[test]
fn yaml_nested_groups_and_vars_files() {
    let inv = fixture("yaml_basic/hosts.yml");
    check_all(
        &[&inv],
        &[
            &["--host", "web01.example.com"],
            &["--host", "db1"],
            &["--graph", "prod", "--vars"],
            &["--list", "--limit", "db*:&prod"],
            &["--list", "--playbook-dir", "playbook"],
            &["--list", "--export", "--playbook-dir", "playbook"],
            &["--graph", "--vars", "--playbook-dir", "playbook"],
            &["--host", "db2", "--playbook-dir", "playbook"],
        ],
    );
}

#[test]
fn strings_needing_quotes_or_folding() {
    let inv = fixture("strings.yml");
    check_all(&[&inv], &[&["--host", "s1"], &["--host", "s1", "-y"]]);
}

#[test]
fn edge_cases() {
    // [all] and [ungrouped] sections, a host redefined with another port,
    // a defined localhost, `#` after a [g:vars] value, odd group names;
    // YAML null sections and unknown keys; children declared before
    // their group.
    let ini = fixture("edge.ini");
    let yml = fixture("edge.yml");
    let pending = fixture("pending_children.ini");
    check_all(&[&ini], &[&["--host", "h1"], &["--host", "localhost"]]);
    check_all(&[&yml], &[]);
    check_all(&[&fixture("inv.json")], &[]);
    check_all(&[&pending], &[]);
    check_all(&[&pending, &ini, &yml], &[]);
}

#[test]
fn vault_and_unsafe_values() {
    let inv = fixture("vault.yml");
    let cwd = fixtures();
    for args in [
        vec!["-i", &inv, "--list"],
        vec!["-i", &inv, "--list", "-y"],
        vec!["-i", &inv, "--host", "v1"],
        vec!["-i", &inv, "--host", "v1", "-y"],
        vec!["-i", &inv, "--graph"],
    ] {
        same_as_ansible_inventory(&args, &cwd);
    }
    // Showing a vaulted value needs the vault secret.
    let out = herd(&["inventory", "-i", &inv, "--graph", "--vars"], &cwd);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no vault secrets found"));
}

#[test]
fn directory_of_sources() {
    let inv = fixture("dir");
    check_all(&[&inv], &[&["--host", "lb1"], &["--host", "app1"]]);
}

#[test]
fn script_without_meta_asks_each_host() {
    let inv = fixture("script_nometa.sh");
    check_all(&[&inv], &[&["--host", "s2"]]);
}

#[test]
fn several_sources_and_host_lists() {
    let a = fixture("ini_typing/hosts");
    let b = fixture("yaml_basic/hosts.yml");
    check_all(&[&a, &b], &[&["--host", "top1"]]);
    check_all(&["a.example.com,b:2200,[fe80::1]:22,top1"], &[]);
    check_all(
        &["single.example.com,"],
        &[&["--host", "single.example.com"]],
    );
}

#[test]
fn example_inventories() {
    for inv in [
        "inventory/hosts.ini",
        "inventory/hosts.yml",
        "inventory/dynamic.sh",
    ] {
        let path = root().join(inv).display().to_string();
        check_all(&[&path], &[]);
    }
    let ini = root().join("inventory/hosts.ini").display().to_string();
    let script = root().join("inventory/dynamic.sh").display().to_string();
    check_all(&[&ini, &script], &[]);
}

#[test]
fn output_file() {
    let dir = tempfile::tempdir().unwrap();
    let ours = dir.path().join("ours.json");
    let theirs = dir.path().join("theirs.json");
    let inv = fixture("yaml_basic/hosts.yml");
    let o = herd(
        &[
            "inventory",
            "-i",
            &inv,
            "--list",
            "--output",
            ours.to_str().unwrap(),
        ],
        &fixtures(),
    );
    assert!(o.status.success());
    assert!(o.stdout.is_empty());
    let t = ansible(
        "ansible-inventory",
        &["-i", &inv, "--list", "--output", theirs.to_str().unwrap()],
        &fixtures(),
    );
    assert!(t.status.success());
    assert_eq!(
        std::fs::read_to_string(&ours).unwrap(),
        std::fs::read_to_string(&theirs).unwrap()
    );
}

#[test]
fn bad_options_exit_5() {
    let inv = fixture("yaml_basic/hosts.yml");
    for args in [
        vec!["inventory", "-i", &inv],
        vec!["inventory", "-i", &inv, "--list", "--graph"],
        vec!["inventory", "-i", &inv, "--graph", "nosuchgroup"],
        vec!["inventory", "-i", &inv, "--host", "web*"],
    ] {
        let o = herd(&args, &fixtures());
        assert_eq!(o.status.code(), Some(5), "{args:?}");
        assert!(String::from_utf8_lossy(&o.stderr).starts_with("[ERROR]: "));
    }
}

#[test]
fn variable_precedence_layers() {
    let cwd = fixtures().join("precedence");
    for args in [
        vec![
            "-i",
            "inv/hosts.ini",
            "--host",
            "h1",
            "--playbook-dir",
            "pb",
        ],
        vec!["-i", "inv/hosts.ini", "--host", "h1"],
        vec![
            "-i",
            "inv/hosts.ini",
            "--graph",
            "--vars",
            "--playbook-dir",
            "pb",
        ],
        vec![
            "-i",
            "inv/hosts.ini",
            "--list",
            "--export",
            "--playbook-dir",
            "pb",
        ],
    ] {
        same_as_ansible_inventory(&args, &cwd);
    }
}
