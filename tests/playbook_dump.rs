//! Prints the diagnostic for every fixture under bad/ (run with --nocapture).
use herd::playbook::{load_playbook, LoadOptions};
use std::path::Path;

#[test]
#[ignore]
fn dump_errors() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/playbook/bad");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    files.sort();
    for f in files {
        match load_playbook(&f, &LoadOptions::default()) {
            Ok(_) => println!("=== {} OK", f.display()),
            Err(d) => println!("=== {} rc={}\n{}", f.display(), d.exit_code, d),
        }
    }
}
