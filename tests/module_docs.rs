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
