//! Replays the vault fuzz corpus (tests/fuzz/README.md) on stable: every
//! seed (crash inputs, if the fuzzer finds any, are kept among them) and
//! every input of the minimised corpus goes through the same harness
//! function the `vault_decrypt` fuzz target runs, which panics
//! if herd panics or its results disagree. The seeds made by ansible-vault
//! must also decrypt to their known plaintexts.

#[allow(dead_code)]
#[path = "fuzz/src/lib.rs"]
mod harness;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use herd::vault::VaultError;

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz")
}

/// The files of `dir`, sorted; none if it does not exist.
fn inputs(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

/// Runs every input, and names those that panicked.
fn replay(files: &[PathBuf]) -> Vec<String> {
    let mut failed = Vec::new();
    for f in files {
        let data = std::fs::read(f).expect("read input");
        if catch_unwind(AssertUnwindSafe(|| harness::vault_decrypt(&data))).is_err() {
            failed.push(f.display().to_string());
        }
    }
    failed
}

#[test]
fn seeds_and_corpus_replay_without_panics() {
    let root = fuzz_dir();
    let seeds = inputs(&root.join("seeds/vault_decrypt"));
    let corpus = inputs(&root.join("corpus/vault_decrypt"));
    assert!(seeds.len() >= 20, "{} seeds", seeds.len());
    assert!(!corpus.is_empty(), "the minimised corpus is missing");
    let all: Vec<PathBuf> = seeds.into_iter().chain(corpus).collect();
    let failed = replay(&all);
    assert!(failed.is_empty(), "inputs that panicked: {failed:#?}");
}

enum Expect {
    Opens(&'static str, &'static [u8]),
    NoMatch,
    Format(&'static str),
    NotEncrypted,
    UnknownCipher,
}

#[test]
fn seeds_made_by_ansible_vault_decrypt_to_their_plaintexts() {
    use Expect::*;
    let long: Vec<u8> = (0..80)
        .flat_map(|i| {
            format!("line {i:04} of a long plaintext, with some text to make it longer\n")
                .into_bytes()
        })
        .collect();
    let long: &'static [u8] = long.leak();
    let cases: &[(&str, Expect)] = &[
        ("v11-hello", Opens("default", b"hello world\n")),
        ("v11-hello-crlf", Opens("default", b"hello world\n")),
        ("v11-hello-cr", Opens("default", b"hello world\n")),
        (
            "v11-hello-no-final-newline",
            Opens("default", b"hello world\n"),
        ),
        (
            "v11-hello-uppercase-hex",
            Opens("default", b"hello world\n"),
        ),
        (
            "v11-hello-one-line-body",
            Opens("default", b"hello world\n"),
        ),
        ("v11-hello-header-spaces", NotEncrypted),
        (
            "v11-hello-trailing-spaces",
            Format("Non-hexadecimal digit found"),
        ),
        ("v11-hello-truncated", Format("Odd-length string")),
        ("v11-hello-odd-length", Format("Odd-length string")),
        ("v11-hello-non-hex", Format("Non-hexadecimal digit found")),
        ("v11-hello-non-ascii", NotEncrypted),
        ("v11-empty", Opens("default", b"")),
        ("v11-sixteen", Opens("default", b"exactly sixteen!")),
        ("v11-long", Opens("default", long)),
        ("v11-wrong-password", NoMatch),
        ("v11-unknown-cipher", UnknownCipher),
        ("v11-two-line-body", Format("expected 3, got 2")),
        (
            "v11-bad-inner-hmac-hex",
            Format("Non-hexadecimal digit found"),
        ),
        ("v11-odd-inner-salt", Format("Odd-length string")),
        ("v11-empty-ciphertext", NoMatch),
        ("v12-prod-hello", Opens("prod", b"hello world\n")),
        (
            "v12-default-label-hello",
            Opens("default", b"hello world\n"),
        ),
        // Labelled prod but made with the default password: the prod
        // secret is tried first, then the other.
        (
            "v12-prod-label-default-password",
            Opens("default", b"hello world\n"),
        ),
        ("v12-unknown-label-wrong-password", NoMatch),
        ("v12-empty-label", Opens("default", b"hello world\n")),
        ("encrypt-string-v12-prod", Opens("prod", b"prod value")),
        ("encrypt-string-yaml", NotEncrypted),
        ("not-vault", NotEncrypted),
        ("header-only", Format("expected 3, got 1")),
        ("header-two-fields", Format("list index out of range")),
        ("header-bare", Format("list index out of range")),
    ];
    let dir = fuzz_dir().join("seeds/vault_decrypt");
    for (name, expect) in cases {
        let data = std::fs::read(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        let got = harness::vault_decrypt(&data).expect("a raw input");
        match (expect, &got) {
            (Opens(id, text), Ok((plain, vault_id))) => {
                assert_eq!(vault_id, id, "{name}");
                assert_eq!(plain.as_slice(), *text, "{name}");
            }
            (NoMatch, Err(VaultError::NoMatch { .. }))
            | (NotEncrypted, Err(VaultError::NotEncrypted))
            | (UnknownCipher, Err(VaultError::UnknownCipher(_))) => {}
            (Format(part), Err(VaultError::Format(m))) if m.contains(part) => {}
            _ => panic!(
                "{name}: unexpected {:?}",
                got.map(|(p, id)| (String::from_utf8_lossy(&p).into_owned(), id))
            ),
        }
    }
}
