//! docs/modules.md is generated from the modules' doc comments; this test
//! keeps it current (`HERD_WRITE_DOCS=1 cargo test --test module_docs`
//! rewrites it).

#[test]
fn docs_list_every_module() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/modules.md");
    let want = herd_modules::registry::markdown();
    if std::env::var_os("HERD_WRITE_DOCS").is_some() {
        std::fs::write(path, &want).unwrap();
    }
    let have = std::fs::read_to_string(path).unwrap_or_default();
    for name in herd_modules::registry::names() {
        assert!(
            have.contains(&format!("\n## {name}\n")),
            "docs/modules.md lacks {name}"
        );
    }
    assert!(
        have == want,
        "docs/modules.md is stale: run HERD_WRITE_DOCS=1 cargo test --test module_docs"
    );
}

#[test]
fn herd_doc_prints_pages_and_lists() {
    let herd = env!("CARGO_BIN_EXE_herd");
    let out = std::process::Command::new(herd)
        .args(["doc", "ansible.builtin.lineinfile"])
        .output()
        .expect("herd runs");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with("lineinfile (ansible.builtin.lineinfile)\n"),
        "{text}"
    );
    assert!(
        text.contains("  state ") && text.contains("default: present; choices: absent, present"),
        "{text}"
    );

    let out = std::process::Command::new(herd)
        .args(["doc", "--list"])
        .output()
        .expect("herd runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.lines().count(), herd_modules::registry::names().len());

    let out = std::process::Command::new(herd)
        .args(["doc", "copyy"])
        .output()
        .expect("herd runs");
    assert_eq!(out.status.code(), Some(0));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("[WARNING]: copyy was not found. Did you mean copy?"),
        "{err}"
    );

    let out = std::process::Command::new(herd)
        .arg("doc")
        .output()
        .expect("herd runs");
    assert_eq!(out.status.code(), Some(5));
}
