//! package_facts: apt for real on this host, compared with ansible's
//! package_facts; rpm and apk through recorded outputs of `rpm -qa --qf`
//! and `apk info -v`.

mod common;

use herd_modules::packaging::package_facts::{parse_apk, parse_rpm};
use serde_json::{json, Value};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/packaging");

/// The result dict of a one-host ad-hoc run (`host | STATUS => {...}`).
fn result_of(out: &std::process::Output) -> Value {
    let text = String::from_utf8_lossy(&out.stdout);
    let start = text.find("=> {").unwrap_or_else(|| {
        panic!(
            "no result in {text}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    serde_json::from_str(text[start + 3..].trim()).expect("result is JSON")
}

#[test]
fn apt_packages_match_ansible() {
    for extra in [&[][..], &["-C"][..]] {
        let h = result_of(&common::herd_adhoc("package_facts", "", extra));
        let a = result_of(&common::ansible_adhoc(
            "package_facts",
            "manager=auto",
            extra,
        ));
        assert_eq!(h["changed"], json!(false));
        let hp = h["ansible_facts"]["packages"]
            .as_object()
            .expect("herd packages");
        let ap = a["ansible_facts"]["packages"]
            .as_object()
            .expect("ansible packages");
        // Another process may install or remove a package between the two
        // runs; every package both saw must be described alike.
        let common: Vec<&String> = ap.keys().filter(|k| hp.contains_key(*k)).collect();
        assert!(
            common.len() + 3 >= ap.len() && common.len() + 3 >= hp.len(),
            "herd lists {} packages, ansible {}",
            hp.len(),
            ap.len()
        );
        for name in common {
            assert_eq!(hp[name], ap[name], "package {name}");
        }
        assert_eq!(hp["dpkg"][0]["source"], "apt");
        assert_eq!(hp["dpkg"][0]["name"], "dpkg");
    }
}

#[test]
fn unusable_and_unknown_managers_fail_as_ansible() {
    for args in ["manager=rpm", "manager=nosuch", "manager=apt strategy=most"] {
        let (ho, ao) = (
            common::herd_adhoc("package_facts", args, &[]),
            common::ansible_adhoc("package_facts", args, &[]),
        );
        assert_eq!(result_of(&ho)["msg"], result_of(&ao)["msg"], "{args}");
        assert_eq!(ho.status.code(), ao.status.code(), "{args}");
        assert!(String::from_utf8_lossy(&ho.stdout).contains("| FAILED! =>"));
    }
    // rpm is missing here: herd warns, as ansible does (with its own reason).
    // herd adhoc prints a result's warnings on stderr, as ansible does.
    let o = common::herd_adhoc("package_facts", "manager=rpm", &[]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains("[WARNING]: Requested package manager rpm was not usable by this module: "),
        "{stderr}"
    );
    // strategy=all with an unusable manager still lists apt's packages.
    let h = result_of(&common::herd_adhoc(
        "package_facts",
        "manager=rpm,apt strategy=all",
        &[],
    ));
    assert_eq!(h["ansible_facts"]["packages"]["dpkg"][0]["source"], "apt");
}

#[test]
fn rpm_output_as_ansible_shapes_it() {
    let text = std::fs::read_to_string(format!("{FIXTURES}/rpm-qa.txt")).unwrap();
    let p = parse_rpm(&text);
    assert_eq!(
        p["kernel-core"],
        json!([
            {"name": "kernel-core", "version": "6.8.5", "release": "301.fc40", "epoch": "None", "arch": "x86_64", "source": "rpm"},
            {"name": "kernel-core", "version": "6.9.7", "release": "200.fc40", "epoch": "None", "arch": "x86_64", "source": "rpm"},
        ])
    );
    assert_eq!(p["openssl-libs"][0]["epoch"], "1");
    assert_eq!(p["gpg-pubkey"][0]["arch"], "None");
    assert_eq!(p["glibc"].as_array().unwrap().len(), 2);
    assert_eq!(p.len(), 5);
}

#[test]
fn apk_output_as_ansible_shapes_it() {
    let text = std::fs::read_to_string(format!("{FIXTURES}/apk-info-v.txt")).unwrap();
    let p = parse_apk(&text);
    assert_eq!(
        p["ca-certificates-bundle"],
        json!([{"name": "ca-certificates-bundle", "version": "20240705", "release": "r0", "source": "apk"}])
    );
    assert_eq!(p["ssl_client"][0]["version"], "1.36.1");
    assert_eq!(p.len(), 7);
}
