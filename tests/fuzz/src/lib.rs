//! The vault fuzz harness: one function, [`vault_decrypt`], run on every
//! input by the `vault_decrypt` fuzz target and, on every file of the kept
//! corpus, by the regression test `tests/vault_fuzz_corpus.rs` (which
//! includes this file with `#[path]`). It uses only herd and pbkdf2, one of
//! herd's own dependencies, so both builds compile it unchanged.
//!
//! An input is read in one of two ways:
//!
//! - Raw: any input not starting with [`STRUCTURED`] is a vault text, given
//!   to `parse_envelope`, `is_encrypted`, `is_encrypted_file`,
//!   `Vault::prepare` and `Vault::decrypt` (with two secrets, so that a
//!   wrong password is tried too).
//! - Structured: [`STRUCTURED`], a configuration byte, then a payload. The
//!   harness builds a valid envelope around the payload so that the fuzzer
//!   reaches the HMAC, CTR and padding code rather than only the header
//!   checks. The configuration byte picks one of four fixed salts (bits
//!   0-1), one of the two secrets (bit 2) and the operation (bits 3-4):
//!   0. encrypt the payload and decrypt it again: the same bytes come back;
//!   1. take the payload as ciphertext and give it a valid HMAC, so that
//!      the padding decides: a plaintext that comes back must agree with
//!      what encrypting it again gives;
//!   2. encrypt the rest of the payload, then damage the text (truncate,
//!      change, insert or delete a byte, CRLF line endings, upper-case
//!      hex) as its first four bytes say: a text that still decrypts gives
//!      the original plaintext;
//!   3. take the payload as the decoded body (salt, HMAC, ciphertext lines
//!      before hex encoding) and wrap it in an envelope.
//!
//! Key derivation (PBKDF2, 10,000 rounds) dominates the cost of a decrypt,
//! so the salts of the structured mode are few and the vault, which caches
//! the keys per secret and salt, lives across inputs; it is made afresh
//! every [`RESET_EVERY`] inputs so that the cache of salts met in raw
//! inputs stays small.

use std::cell::RefCell;

use herd::vault::{self, Secret, Vault, VaultError};
use pbkdf2::hmac::{Hmac, KeyInit, Mac};
use pbkdf2::sha2::Sha256;

/// The secrets of the fuzzed vault: vault id and password. The seed texts
/// were made with these passwords.
pub const PASSWORDS: [(&str, &str); 2] =
    [("default", "fuzz-password"), ("prod", "fuzz-prod-password")];

/// The first byte of a structured input. No vault text starts with it.
pub const STRUCTURED: u8 = 0x00;

/// How many inputs one vault (and its key cache) serves.
pub const RESET_EVERY: u32 = 4096;

const SALTS: [[u8; 32]; 4] = [
    [0u8; 32],
    [0x5a; 32],
    *b"0123456789abcdef0123456789abcdef",
    [
        0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19,
        20, 21, 22, 23, 24, 25, 26, 27, 28,
    ],
];

/// A decrypted plaintext and the vault id that opened it.
pub type Opened = (Vec<u8>, String);

struct State {
    vault: Vault,
    uses: u32,
    /// HMAC keys derived here, independently of herd, by secret and salt.
    mac_keys: [[Option<[u8; 32]>; 4]; 2],
}

thread_local! {
    static STATE: RefCell<State> = RefCell::new(State {
        vault: new_vault(),
        uses: 0,
        mac_keys: [[None; 4]; 2],
    });
}

fn new_vault() -> Vault {
    Vault::new(
        PASSWORDS
            .iter()
            .map(|(id, pw)| Secret::new(*id, pw.as_bytes().to_vec(), "fuzz"))
            .collect(),
    )
}

/// Runs one input. For a raw input, the result of `Vault::decrypt`; for a
/// structured one, `None`. Panics if herd panics or its results disagree.
pub fn vault_decrypt(data: &[u8]) -> Option<Result<Opened, VaultError>> {
    STATE.with(|cell| {
        let mut st = cell.borrow_mut();
        st.uses += 1;
        if st.uses > RESET_EVERY {
            st.vault = new_vault();
            st.uses = 1;
        }
        match data.split_first() {
            Some((&STRUCTURED, rest)) => {
                structured(&mut st, rest);
                None
            }
            _ => Some(raw(&st.vault, data)),
        }
    })
}

/// Every entry point on one text, and what must hold between the results.
fn raw(v: &Vault, data: &[u8]) -> Result<Opened, VaultError> {
    let encrypted = vault::is_encrypted(data);
    let file = vault::is_encrypted_file(data);
    if encrypted {
        assert!(file, "is_encrypted but not is_encrypted_file");
    }
    let env = vault::parse_envelope(data);
    v.prepare([data]);
    let result = v.decrypt(data);
    match &result {
        Ok(d) => {
            assert!(encrypted, "decrypted a text that is not vault text");
            let env = env.expect("a text that decrypts has an envelope");
            assert_eq!(env.cipher, "AES256");
            assert!(PASSWORDS.iter().any(|(id, _)| *id == d.vault_id));
        }
        Err(VaultError::NotEncrypted) => assert!(!encrypted),
        Err(e) => {
            assert!(encrypted, "{e} for a text that is not vault text");
            assert!(!e.to_string().is_empty());
            let _ = e.hint();
        }
    }
    result.map(|d| (d.plaintext.to_vec(), d.vault_id))
}

fn structured(st: &mut State, input: &[u8]) {
    let Some((&config, payload)) = input.split_first() else {
        return;
    };
    let k = usize::from(config & 3);
    let s = usize::from((config >> 2) & 1);
    let id = PASSWORDS[s].0;
    st.vault.encrypt_salt = Some(SALTS[k].to_vec());
    match (config >> 3) & 3 {
        0 => round_trip(&st.vault, s, payload),
        1 => {
            let key = mac_key(st, s, k);
            forged(&st.vault, s, k, &key, payload)
        }
        2 => damaged(&st.vault, s, payload),
        _ => {
            let text = wrap(&hex(payload), id);
            let _ = raw(&st.vault, text.as_bytes());
        }
    }
}

fn round_trip(v: &Vault, s: usize, plaintext: &[u8]) {
    match v.encrypt(plaintext, s) {
        Err(VaultError::AlreadyEncrypted) => assert!(vault::is_encrypted(plaintext)),
        Err(e) => panic!("encrypt failed: {e}"),
        Ok(text) => {
            assert!(!vault::is_encrypted(plaintext));
            let (back, id) = raw(v, text.as_bytes()).expect("a text herd made decrypts");
            assert_eq!(back, plaintext);
            assert_eq!(id, PASSWORDS[s].0);
        }
    }
}

/// `ciphertext` with a valid HMAC: whether it opens is up to the padding.
fn forged(v: &Vault, s: usize, k: usize, mac_key: &[u8; 32], ciphertext: &[u8]) {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(mac_key).expect("any key length");
    mac.update(ciphertext);
    let tag = mac.finalize().into_bytes();
    let body = format!("{}\n{}\n{}", hex(&SALTS[k]), hex(&tag), hex(ciphertext));
    let text = wrap(&hex(body.as_bytes()), PASSWORDS[s].0);
    match raw(v, text.as_bytes()) {
        Ok((plaintext, id)) => {
            assert_eq!(id, PASSWORDS[s].0);
            let n = plaintext.len();
            let pad = ciphertext
                .len()
                .checked_sub(n)
                .expect("a plaintext longer than its ciphertext");
            assert!((1..=16).contains(&pad), "padding of {pad} bytes accepted");
            if vault::is_encrypted(&plaintext) {
                return;
            }
            // The same keys give the same keystream: encrypting the
            // plaintext again must give back the same first bytes, and all
            // of them when the padding was the canonical one.
            let again = v.encrypt(&plaintext, s).expect("encrypt");
            let c = ciphertext_of(&again);
            assert_eq!(c.len(), n + 16 - n % 16);
            assert_eq!(&c[..n], &ciphertext[..n]);
            if pad == 16 - n % 16 {
                assert_eq!(c, ciphertext);
            }
        }
        // The padding was refused; both secrets were tried.
        Err(VaultError::NoMatch { tried, .. }) => assert_eq!(tried.len(), 2),
        Err(e) => panic!("a well-formed text with a valid HMAC: {e}"),
    }
}

/// Encrypts `input[4..]`, then changes the text as `input[..4]` says.
fn damaged(v: &Vault, s: usize, input: &[u8]) {
    if input.len() < 4 {
        return;
    }
    let (edit, plaintext) = input.split_at(4);
    let Ok(text) = v.encrypt(plaintext, s) else {
        return;
    };
    let mut t = text.into_bytes();
    let pos = usize::from(u16::from_le_bytes([edit[1], edit[2]])) % (t.len() + 1);
    let byte = edit[3];
    match edit[0] % 6 {
        0 => t.truncate(pos),
        1 if pos < t.len() => t[pos] = t[pos].wrapping_add(byte.max(1)),
        2 => t.insert(pos, byte),
        3 if pos < t.len() => {
            t.remove(pos);
        }
        4 => {
            t = String::from_utf8(t)
                .expect("vault text is ASCII")
                .replace('\n', "\r\n")
                .into_bytes()
        }
        5 => t[pos..].make_ascii_uppercase(),
        _ => {}
    }
    if let Ok((back, _)) = raw(v, &t) {
        assert_eq!(
            back, plaintext,
            "a damaged text decrypted to something else"
        );
    }
}

fn mac_key(st: &mut State, s: usize, k: usize) -> [u8; 32] {
    *st.mac_keys[s][k].get_or_insert_with(|| {
        let mut out = [0u8; 80];
        pbkdf2::pbkdf2_hmac::<Sha256>(PASSWORDS[s].1.as_bytes(), &SALTS[k], 10_000, &mut out);
        out[32..64].try_into().expect("32 bytes")
    })
}

/// The envelope ansible-vault writes: header, 80-column hex, newline.
fn wrap(body_hex: &str, id: &str) -> String {
    let mut out = if id == vault::DEFAULT_ID {
        "$ANSIBLE_VAULT;1.1;AES256\n".to_string()
    } else {
        format!("$ANSIBLE_VAULT;1.2;AES256;{id}\n")
    };
    for chunk in body_hex.as_bytes().chunks(80) {
        out.push_str(std::str::from_utf8(chunk).expect("hex is ASCII"));
        out.push('\n');
    }
    out
}

/// The ciphertext of a text herd made.
fn ciphertext_of(text: &str) -> Vec<u8> {
    let body_hex: String = text.lines().skip(1).collect();
    let body = unhex(body_hex.as_bytes());
    let ct = body.splitn(3, |&b| b == b'\n').nth(2).expect("three lines");
    unhex(ct)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(hex: &[u8]) -> Vec<u8> {
    hex.chunks(2)
        .map(|p| {
            let s = std::str::from_utf8(p).expect("ASCII");
            u8::from_str_radix(s, 16).expect("hex")
        })
        .collect()
}
