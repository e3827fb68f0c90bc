//! Ansible Vault: the `$ANSIBLE_VAULT;1.1;AES256` and
//! `$ANSIBLE_VAULT;1.2;AES256;<label>` formats, byte-compatible with
//! ansible-vault in both directions.
//!
//! The envelope is a header line, then the hex of the body wrapped at 80
//! columns, then a newline. The body is three lines: the hex of the salt,
//! the hex of the HMAC-SHA256 of the ciphertext, and the hex of the
//! ciphertext. The keys come from PBKDF2-HMAC-SHA256 (10,000 rounds, 80
//! bytes: the AES-256 key, the HMAC key and the 16-byte counter block); the
//! plaintext is PKCS#7-padded to 16 bytes and encrypted with AES-256 in CTR
//! mode with a 128-bit big-endian counter.
//!
//! Keys derived for a password and salt are cached for the life of the
//! [`Vault`], and many derivations run on rayon's threads
//! ([`Vault::prepare`]). Passwords, keys and plaintexts live in
//! [`Zeroizing`] buffers, wiped when dropped; HMACs are compared in
//! constant time.

pub mod secrets;

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock, RwLock};

use aes::cipher::{KeyIvInit, StreamCipher};
use pbkdf2::hmac::{Hmac, KeyInit, Mac};
use pbkdf2::sha2::Sha256;
use zeroize::Zeroizing;

use crate::diag::{Diagnostic, Loc};

pub use secrets::{Secret, SecretSource};

/// The first bytes of every vault text.
pub const HEADER: &str = "$ANSIBLE_VAULT";
/// The vault id of a secret given without a label, and of 1.1 texts.
pub const DEFAULT_ID: &str = "default";
const ROUNDS: u32 = 10_000;
const KEY_LEN: usize = 32;
const IV_LEN: usize = 16;
const SALT_LEN: usize = 32;

type Aes256Ctr = ctr::Ctr128BE<aes::Aes256>;
/// A secret (its index) and a salt: what a derived key depends on.
type KeyId = (usize, Vec<u8>);

/// Derived keys, and the ones being derived right now (by another thread,
/// which the others wait for rather than derive them twice).
#[derive(Default)]
struct KeyStore {
    ready: HashMap<KeyId, Arc<Keys>>,
    pending: std::collections::HashSet<KeyId>,
}

/// What went wrong with a vault text. The messages are ansible-core's; the
/// caller adds the file (or `file:line`) it came from.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VaultError {
    #[error("Attempting to decrypt but no vault secrets found")]
    NoSecrets,
    #[error("Input is not vault encrypted data.")]
    NotEncrypted,
    #[error("Cipher '{0}' could not be found.")]
    UnknownCipher(String),
    /// A malformed envelope or body; the text says which part.
    #[error("{0}")]
    Format(String),
    /// Every secret was tried and none verified the HMAC.
    #[error("Decryption failed (no vault secrets were found that could decrypt)")]
    NoMatch {
        /// The vault ids tried, in order.
        tried: Vec<String>,
        /// The label in the text's header (1.2), if any.
        label: Option<String>,
    },
    #[error("input is already encrypted")]
    AlreadyEncrypted,
}

impl VaultError {
    /// A one-line hint saying which vault ids were tried and what to do.
    pub fn hint(&self) -> Option<String> {
        match self {
            VaultError::NoSecrets => Some(
                "give the vault password with --ask-vault-pass, --vault-password-file or --vault-id"
                    .into(),
            ),
            VaultError::NoMatch { tried, label } => {
                let ids = tried.join(", ");
                Some(match label {
                    Some(l) if !tried.iter().any(|t| t == l) => format!(
                        "the text is labelled '{l}', and no --vault-id has that label; tried vault ids: {ids}"
                    ),
                    _ => format!("wrong vault password? tried vault ids: {ids}"),
                })
            }
            VaultError::Format(_) => {
                Some("the vault text is damaged or truncated; re-encrypt it from the plaintext".into())
            }
            _ => None,
        }
    }
}

/// Whether `data` is vault text: all ASCII and starting with the header,
/// as ansible's `is_encrypted` decides.
pub fn is_encrypted(data: &[u8]) -> bool {
    data.starts_with(HEADER.as_bytes()) && data.is_ascii()
}

/// Whether a file's content is vault text: only its first bytes are
/// looked at, as ansible's `is_encrypted_file` does.
pub fn is_encrypted_file(data: &[u8]) -> bool {
    is_encrypted(&data[..data.len().min(HEADER.len())])
}

/// The parts of a vault text's header and its still-hex body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    pub version: String,
    pub cipher: String,
    /// The label of a 1.2 text.
    pub label: Option<String>,
    body_hex: Vec<u8>,
}

/// Splits a vault text into its header fields and body.
pub fn parse_envelope(text: &[u8]) -> Result<Envelope, VaultError> {
    let lines: Vec<&[u8]> = split_lines(text);
    let envelope_err = |m: &str| VaultError::Format(format!("Vault envelope format error: {m}"));
    let first = lines
        .first()
        .ok_or_else(|| envelope_err("list index out of range"))?;
    let fields: Vec<&[u8]> = first.trim_ascii().split(|&b| b == b';').collect();
    if fields.len() < 3 {
        return Err(envelope_err("list index out of range"));
    }
    let text_of = |b: &[u8]| String::from_utf8_lossy(b.trim_ascii()).into_owned();
    Ok(Envelope {
        version: text_of(fields[1]),
        cipher: text_of(fields[2]),
        label: fields.get(3).map(|f| text_of(f)),
        body_hex: lines[1..].concat(),
    })
}

/// Python's `bytes.splitlines()`: lines end at `\n`, `\r` or `\r\n`.
fn split_lines(text: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < text.len() {
        match text[i] {
            b'\n' => {
                out.push(&text[start..i]);
                start = i + 1;
            }
            b'\r' => {
                out.push(&text[start..i]);
                if text.get(i + 1) == Some(&b'\n') {
                    i += 1;
                }
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    if start < text.len() {
        out.push(&text[start..]);
    }
    out
}

/// The decoded body: salt, the HMAC (still hex, as ansible keeps it until
/// it verifies), ciphertext.
struct Body {
    salt: Vec<u8>,
    hmac_hex: Vec<u8>,
    ciphertext: Vec<u8>,
}

fn parse_body(body_hex: &[u8]) -> Result<Body, VaultError> {
    let body = unhex(body_hex)?;
    let mut parts = body.splitn(3, |&b| b == b'\n');
    let (Some(salt), Some(hmac_hex), Some(ciphertext)) = (parts.next(), parts.next(), parts.next())
    else {
        let got = body.splitn(3, |&b| b == b'\n').count();
        return Err(VaultError::Format(format!(
            "Vault vaulttext format error: not enough values to unpack (expected 3, got {got})"
        )));
    };
    Ok(Body {
        salt: unhex(salt)?,
        hmac_hex: hmac_hex.to_vec(),
        ciphertext: unhex(ciphertext)?,
    })
}

/// Python's `binascii.unhexlify`, with its error texts.
fn unhex(hex: &[u8]) -> Result<Vec<u8>, VaultError> {
    let err = |m: &str| VaultError::Format(format!("Vault format unhexlify error: {m}"));
    if hex.len() % 2 != 0 {
        return Err(err("Odd-length string"));
    }
    let digit = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    };
    hex.chunks_exact(2)
        .map(|p| match (digit(p[0]), digit(p[1])) {
            (Some(h), Some(l)) => Ok(h << 4 | l),
            _ => Err(err("Non-hexadecimal digit found")),
        })
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

/// The three keys PBKDF2 gives for a password and salt.
struct Keys {
    aes: Zeroizing<[u8; KEY_LEN]>,
    mac: Zeroizing<[u8; KEY_LEN]>,
    iv: Zeroizing<[u8; IV_LEN]>,
}

fn derive(password: &[u8], salt: &[u8]) -> Keys {
    let mut out = Zeroizing::new([0u8; 2 * KEY_LEN + IV_LEN]);
    pbkdf2::pbkdf2_hmac::<Sha256>(password, salt, ROUNDS, out.as_mut_slice());
    let mut keys = Keys {
        aes: Zeroizing::new([0; KEY_LEN]),
        mac: Zeroizing::new([0; KEY_LEN]),
        iv: Zeroizing::new([0; IV_LEN]),
    };
    keys.aes.copy_from_slice(&out[..KEY_LEN]);
    keys.mac.copy_from_slice(&out[KEY_LEN..2 * KEY_LEN]);
    keys.iv.copy_from_slice(&out[2 * KEY_LEN..]);
    keys
}

fn mac_of(keys: &Keys, ciphertext: &[u8]) -> Hmac<Sha256> {
    // An HMAC takes a key of any length, so this cannot fail.
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(keys.mac.as_slice())
        .expect("HMAC accepts any key length");
    mac.update(ciphertext);
    mac
}

fn apply_ctr(keys: &Keys, data: &mut [u8]) {
    let mut cipher = Aes256Ctr::new((&*keys.aes).into(), (&*keys.iv).into());
    cipher.apply_keystream(data);
}

/// Encrypts with already-derived keys: the body's hex, before wrapping.
fn seal(keys: &Keys, salt: &[u8], plaintext: &[u8]) -> String {
    let pad = 16 - plaintext.len() % 16;
    let mut data = Zeroizing::new(Vec::with_capacity(plaintext.len() + pad));
    data.extend_from_slice(plaintext);
    data.resize(plaintext.len() + pad, pad as u8);
    apply_ctr(keys, &mut data);
    let tag = mac_of(keys, &data).finalize().into_bytes();
    let body = format!("{}\n{}\n{}", hex(salt), hex(&tag), hex(&data));
    hex(body.as_bytes())
}

/// Decrypts with derived keys. `None`: the HMAC does not verify (a wrong
/// password or a changed text) or the padding is bad.
fn open(keys: &Keys, body: &Body) -> Result<Option<Zeroizing<Vec<u8>>>, VaultError> {
    let tag = unhex(&body.hmac_hex)?;
    // verify_slice compares in constant time.
    if mac_of(keys, &body.ciphertext).verify_slice(&tag).is_err() {
        return Ok(None);
    }
    let mut data = Zeroizing::new(body.ciphertext.clone());
    apply_ctr(keys, &mut data);
    let Some(&pad) = data.last() else {
        return Ok(None);
    };
    let pad = pad as usize;
    if pad == 0
        || pad > 16
        || pad > data.len()
        || data[data.len() - pad..].iter().any(|&b| b as usize != pad)
    {
        return Ok(None);
    }
    let n = data.len() - pad;
    data.truncate(n);
    Ok(Some(data))
}

/// Wraps a body's hex in the envelope: the header, 80-column lines, and a
/// final newline. A label other than `default` makes it a 1.2 text.
fn envelope(body_hex: &str, label: &str) -> String {
    let mut out = String::with_capacity(body_hex.len() + body_hex.len() / 80 + 64);
    out.push_str(HEADER);
    if label.is_empty() || label == DEFAULT_ID {
        out.push_str(";1.1;AES256");
    } else {
        out.push_str(";1.2;AES256;");
        out.push_str(label);
    }
    out.push('\n');
    for chunk in body_hex.as_bytes().chunks(80) {
        // The body is hex: ASCII, so any chunk is valid UTF-8.
        out.push_str(std::str::from_utf8(chunk).expect("hex is ASCII"));
        out.push('\n');
    }
    out
}

/// A plaintext and the vault id whose secret opened it.
pub struct Decrypted {
    pub plaintext: Zeroizing<Vec<u8>>,
    pub vault_id: String,
}

/// The vault secrets of a run, and the keys derived from them.
#[derive(Default)]
pub struct Vault {
    secrets: Vec<Secret>,
    /// `vault_id_match` in ansible.cfg: only a secret whose id is the text's
    /// label is tried.
    pub id_match: bool,
    /// A fixed salt (`vault_encrypt_salt`); random when unset.
    pub encrypt_salt: Option<Vec<u8>>,
    keys: Mutex<KeyStore>,
    derived: std::sync::Condvar,
}

impl Vault {
    pub fn new(secrets: Vec<Secret>) -> Vault {
        Vault {
            secrets,
            ..Default::default()
        }
    }

    pub fn secrets(&self) -> &[Secret] {
        &self.secrets
    }

    pub fn is_empty(&self) -> bool {
        self.secrets.is_empty()
    }

    /// The keys for secret `i` and `salt`, derived once: a key another
    /// thread is deriving is waited for.
    fn keys(&self, i: usize, salt: &[u8]) -> Arc<Keys> {
        let id: KeyId = (i, salt.to_vec());
        let mut store = self.lock();
        loop {
            if let Some(k) = store.ready.get(&id) {
                return k.clone();
            }
            if !store.pending.contains(&id) {
                break;
            }
            store = self.derived.wait(store).unwrap_or_else(|e| e.into_inner());
        }
        store.pending.insert(id.clone());
        drop(store);
        self.derive_into_store(id)
    }

    /// Derives a pending key, stores it and wakes the threads waiting.
    fn derive_into_store(&self, id: KeyId) -> Arc<Keys> {
        let k = Arc::new(derive(self.secrets[id.0].bytes(), &id.1));
        let mut store = self.lock();
        store.pending.remove(&id);
        store.ready.insert(id, k.clone());
        self.derived.notify_all();
        k
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, KeyStore> {
        // A panic while holding the lock leaves maps that are still valid.
        self.keys.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The order secrets are tried for a text labelled `label`: the
    /// secrets with that id first, then (unless `id_match`) the others.
    fn candidates(&self, label: &str) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.secrets.len())
            .filter(|&i| self.secrets[i].id == label)
            .collect();
        if !self.id_match {
            order.extend((0..self.secrets.len()).filter(|&i| self.secrets[i].id != label));
        }
        order
    }

    /// Decrypts a vault text, trying the secrets in ansible's order.
    pub fn decrypt(&self, text: &[u8]) -> Result<Decrypted, VaultError> {
        if !is_encrypted(text) {
            return Err(VaultError::NotEncrypted);
        }
        let env = parse_envelope(text)?;
        if env.cipher != "AES256" {
            return Err(VaultError::UnknownCipher(env.cipher));
        }
        if self.secrets.is_empty() {
            return Err(VaultError::NoSecrets);
        }
        let label = env.label.clone().unwrap_or_else(|| DEFAULT_ID.to_string());
        let body = parse_body(&env.body_hex)?;
        let order = self.candidates(&label);
        for &i in &order {
            let keys = self.keys(i, &body.salt);
            if let Some(plaintext) = open(&keys, &body)? {
                return Ok(Decrypted {
                    plaintext,
                    vault_id: self.secrets[i].id.clone(),
                });
            }
        }
        Err(VaultError::NoMatch {
            tried: order.iter().map(|&i| self.secrets[i].id.clone()).collect(),
            label: env.label,
        })
    }

    /// The keys the texts will need that are neither derived nor being
    /// derived, now marked as being derived. Texts that do not parse are
    /// left for `decrypt` to report.
    fn claim<'a>(&self, texts: impl IntoIterator<Item = &'a [u8]>) -> Vec<KeyId> {
        let mut store = self.lock();
        let mut wanted = Vec::new();
        for t in texts {
            let Ok(env) = parse_envelope(t) else { continue };
            let Ok(body) = parse_body(&env.body_hex) else {
                continue;
            };
            let label = env.label.as_deref().unwrap_or(DEFAULT_ID);
            // The first candidate opens it unless the password is wrong.
            if let Some(&i) = self.candidates(label).first() {
                let id = (i, body.salt);
                if !store.ready.contains_key(&id) && store.pending.insert(id.clone()) {
                    wanted.push(id);
                }
            }
        }
        wanted
    }

    /// Derives the keys the texts will need on rayon's threads, and
    /// returns when they are all there.
    pub fn prepare<'a>(&self, texts: impl IntoIterator<Item = &'a [u8]>) {
        use rayon::prelude::*;
        let wanted = self.claim(texts);
        wanted.into_par_iter().for_each(|id| {
            self.derive_into_store(id);
        });
    }

    /// Starts deriving the keys the texts will need on rayon's threads
    /// and returns at once; a decryption that needs one of them waits for
    /// it instead of deriving it again.
    pub fn prepare_in_background<'a>(self: &Arc<Self>, texts: impl IntoIterator<Item = &'a [u8]>) {
        use rayon::prelude::*;
        let wanted = self.claim(texts);
        if wanted.is_empty() {
            return;
        }
        let vault = self.clone();
        rayon::spawn(move || {
            wanted.into_par_iter().for_each(|id| {
                vault.derive_into_store(id);
            });
        });
    }

    /// The secret `encrypt` uses: the one with `--encrypt-vault-id`, else
    /// the first.
    pub fn encrypt_secret(&self, encrypt_id: Option<&str>) -> Result<usize, String> {
        match encrypt_id {
            Some(id) => self.secrets.iter().position(|s| s.id == id).ok_or_else(|| {
                let known: Vec<String> =
                    self.secrets.iter().map(|s| format!("'{}'", s.id)).collect();
                format!(
                    "Did not find a match for --encrypt-vault-id={id} in the known vault-ids [{}]",
                    known.join(", ")
                )
            }),
            None if self.secrets.is_empty() => {
                Err("A vault password must be specified to encrypt data".into())
            }
            None => Ok(0),
        }
    }

    /// Encrypts `plaintext` with secret `i`, labelled with its id.
    pub fn encrypt(&self, plaintext: &[u8], i: usize) -> Result<String, VaultError> {
        if is_encrypted(plaintext) {
            return Err(VaultError::AlreadyEncrypted);
        }
        let salt = match &self.encrypt_salt {
            Some(s) => s.clone(),
            None => {
                let mut s = vec![0u8; SALT_LEN];
                rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut s);
                s
            }
        };
        let keys = self.keys(i, &salt);
        Ok(envelope(
            &seal(&keys, &salt, plaintext),
            &self.secrets[i].id,
        ))
    }
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(&self.secrets).finish()
    }
}

static GLOBAL: OnceLock<RwLock<Arc<Vault>>> = OnceLock::new();

fn global_cell() -> &'static RwLock<Arc<Vault>> {
    GLOBAL.get_or_init(|| RwLock::new(Arc::new(Vault::default())))
}

/// Installs the secrets of this run (from the command line and the
/// configuration). Everything that loads a file reads them through
/// [`current`].
pub fn install(vault: Vault) {
    *global_cell().write().unwrap_or_else(|e| e.into_inner()) = Arc::new(vault);
}

/// The secrets of this run; empty until [`install`].
pub fn current() -> Arc<Vault> {
    global_cell()
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .clone()
}

/// The error shown for a vault text that did not open: ansible-core's
/// message, the place the text came from, and which vault ids were tried.
pub fn diagnostic(err: &VaultError, origin: &Loc) -> Diagnostic {
    let place = origin.to_string();
    let message = match err {
        VaultError::NoMatch { tried, .. } => {
            format!("{err} on {place} (vault ids tried: {})", tried.join(", "))
        }
        VaultError::Format(_) => format!("There was a vault format error in {place}: {err}"),
        VaultError::NoSecrets => format!("{err} ({place} is vault-encrypted)"),
        _ => format!("{err}: {place}"),
    };
    let mut d = Diagnostic::new(message).at(origin.clone());
    if let Some(h) = err.hint() {
        d = d.hint(h);
    }
    d
}

/// A controller file's content as read from `path`: decrypted when it is
/// vault text, as is otherwise. The plaintext stays in memory.
pub fn open_file_data(bytes: Vec<u8>, path: &Path) -> Result<Zeroizing<Vec<u8>>, Diagnostic> {
    if !is_encrypted_file(&bytes) {
        return Ok(Zeroizing::new(bytes));
    }
    current().decrypt(&bytes).map(|d| d.plaintext).map_err(|e| {
        let shown = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
        diagnostic(&e, &Loc::file(shown.display().to_string()))
    })
}

/// Where each inline `!vault` text was read, so that a value that fails to
/// decrypt when first used can name its `file:line`.
fn origins() -> &'static Mutex<HashMap<u64, Loc>> {
    static O: OnceLock<Mutex<HashMap<u64, Loc>>> = OnceLock::new();
    O.get_or_init(Default::default)
}

fn text_key(text: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    text.hash(&mut h);
    h.finish()
}

/// Records where the inline vault texts of one file are, and starts
/// deriving the keys they need on rayon's threads (when there are secrets
/// to derive them with): loading does not wait for PBKDF2, and a value's
/// first use waits only for its own key.
pub fn note_inline(texts: &[(&str, Loc)]) {
    if texts.is_empty() {
        return;
    }
    {
        let mut o = origins().lock().unwrap_or_else(|e| e.into_inner());
        for (t, loc) in texts {
            o.entry(text_key(t)).or_insert_with(|| {
                let file = std::path::absolute(&*loc.file)
                    .map(|p| p.display().to_string())
                    .unwrap_or_else(|_| loc.file.to_string());
                Loc::new(file, loc.line, loc.col)
            });
        }
    }
    let v = current();
    if !v.is_empty() {
        v.prepare_in_background(texts.iter().map(|(t, _)| t.as_bytes()));
    }
}

/// The plaintext of an inline `!vault` value, decrypted with the run's
/// secrets. The error names the variable (`name`) and the value's
/// `file:line:col` when they are known.
pub fn decrypt_inline(text: &str, name: Option<&str>) -> Result<Zeroizing<String>, Diagnostic> {
    let fail = |e: &VaultError| {
        let loc = origins()
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&text_key(text))
            .cloned()
            .unwrap_or_else(|| Loc::file("<inline vault value>"));
        let mut d = diagnostic(e, &loc);
        d.message = match name {
            Some(n) => format!("Attempt to use undecryptable variable '{n}': {}", d.message),
            None => format!("Attempt to use undecryptable variable: {}", d.message),
        };
        d
    };
    let d = current().decrypt(text.as_bytes()).map_err(|e| fail(&e))?;
    let text = String::from_utf8(d.plaintext.to_vec())
        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
    Ok(Zeroizing::new(text))
}

/// `v` with every inline vault value replaced by its plaintext.
pub fn reveal(v: &crate::value::Value) -> Result<crate::value::Value, Diagnostic> {
    use crate::value::Value;
    if let Some(text) = crate::value::as_vault(v) {
        return Ok(Value::String(decrypt_inline(text, None)?.to_string()));
    }
    Ok(match v {
        Value::Array(items) => Value::Array(items.iter().map(reveal).collect::<Result<_, _>>()?),
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, x)| Ok((k.clone(), reveal(x)?)))
                .collect::<Result<_, Diagnostic>>()?,
        ),
        other => other.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vault(ids: &[(&str, &str)]) -> Vault {
        Vault::new(
            ids.iter()
                .map(|(id, pw)| Secret::new(*id, pw.as_bytes().to_vec(), "test"))
                .collect(),
        )
    }

    #[test]
    fn round_trip_in_both_formats() {
        let v = vault(&[("default", "pw"), ("prod", "other")]);
        let t11 = v.encrypt(b"hello\n", 0).unwrap();
        assert!(t11.starts_with("$ANSIBLE_VAULT;1.1;AES256\n"));
        assert!(t11.ends_with('\n'));
        assert!(t11.lines().skip(1).all(|l| l.len() <= 80));
        let t12 = v.encrypt(b"hello\n", 1).unwrap();
        assert!(t12.starts_with("$ANSIBLE_VAULT;1.2;AES256;prod\n"));
        for t in [&t11, &t12] {
            let d = v.decrypt(t.as_bytes()).unwrap();
            assert_eq!(&d.plaintext[..], b"hello\n");
        }
        assert_eq!(v.decrypt(t12.as_bytes()).unwrap().vault_id, "prod");
    }

    #[test]
    fn known_text_from_ansible_vault_decrypts() {
        // Made by ansible-vault 2.19: `encrypt_string --vault-password-file`
        // with the password "secret1" and the plaintext "hello".
        let text = "$ANSIBLE_VAULT;1.1;AES256\n\
            33396632393030313165633530303539346433313364353564376134663934363166396639623262\n\
            6565633433346137393765366264613765373234643031630a366232643539323330373832656134\n\
            34363839663234376262653337653162623330633831323336333134636663363266393233343963\n\
            3536663461333963350a666630643330333937313433643631666136643337313839333766323165\n\
            3266\n";
        let v = vault(&[("default", "secret1")]);
        assert_eq!(&v.decrypt(text.as_bytes()).unwrap().plaintext[..], b"hello");
        let wrong = vault(&[("default", "nope"), ("x", "nope2")]);
        match wrong.decrypt(text.as_bytes()) {
            Err(VaultError::NoMatch { tried, .. }) => assert_eq!(tried, ["default", "x"]),
            other => panic!("{:?}", other.map(|d| d.vault_id)),
        }
    }

    #[test]
    fn labelled_secret_is_tried_first_and_id_match_limits() {
        let mut v = vault(&[("a", "pa"), ("b", "pb")]);
        let t = v.encrypt(b"x", 1).unwrap();
        assert_eq!(v.candidates("b"), [1, 0]);
        assert_eq!(v.decrypt(t.as_bytes()).unwrap().vault_id, "b");
        v.id_match = true;
        assert_eq!(v.candidates("c"), Vec::<usize>::new());
    }

    #[test]
    fn malformed_texts_give_ansible_messages() {
        let v = vault(&[("default", "pw")]);
        let t = v.encrypt(b"data", 0).unwrap();
        let msg = |s: &str| v.decrypt(s.as_bytes()).err().unwrap().to_string();
        assert_eq!(
            msg(&t[..101]),
            "Vault format unhexlify error: Odd-length string"
        );
        assert_eq!(
            msg(&t[..100]),
            "Vault vaulttext format error: not enough values to unpack (expected 3, got 1)"
        );
        assert_eq!(
            msg("$ANSIBLE_VAULT;1.1;AES256\n6162\n"),
            "Vault vaulttext format error: not enough values to unpack (expected 3, got 1)"
        );
        assert_eq!(
            msg("$ANSIBLE_VAULT;1.1;AES256\nzz\n"),
            "Vault format unhexlify error: Non-hexadecimal digit found"
        );
        assert_eq!(
            msg("$ANSIBLE_VAULT;1.1\n00\n"),
            "Vault envelope format error: list index out of range"
        );
        assert_eq!(
            msg("$ANSIBLE_VAULT;1.1;DES\n00\n"),
            "Cipher 'DES' could not be found."
        );
        assert_eq!(msg("plain"), "Input is not vault encrypted data.");
        assert_eq!(
            Vault::default().decrypt(t.as_bytes()).err().unwrap(),
            VaultError::NoSecrets
        );
    }

    #[test]
    fn a_changed_ciphertext_fails_the_hmac() {
        let v = vault(&[("default", "pw")]);
        let t = v.encrypt(b"data", 0).unwrap();
        let env = parse_envelope(t.as_bytes()).unwrap();
        let mut body = String::from_utf8(unhex(&env.body_hex).unwrap()).unwrap();
        // Flip the last hex digit of the ciphertext.
        let last = body.pop().unwrap();
        body.push(if last == '0' { '1' } else { '0' });
        let tampered = envelope(&hex(body.as_bytes()), "default");
        assert!(matches!(
            v.decrypt(tampered.as_bytes()),
            Err(VaultError::NoMatch { .. })
        ));
    }

    #[test]
    fn prepare_fills_the_cache_for_every_salt() {
        let v = vault(&[("default", "pw")]);
        let texts: Vec<String> = (0..4)
            .map(|i| v.encrypt(format!("v{i}").as_bytes(), 0).unwrap())
            .collect();
        v.lock().ready.clear();
        v.prepare(texts.iter().map(|t| t.as_bytes()));
        assert_eq!(v.lock().ready.len(), 4);
        for (i, t) in texts.iter().enumerate() {
            assert_eq!(
                &v.decrypt(t.as_bytes()).unwrap().plaintext[..],
                format!("v{i}").as_bytes()
            );
        }
        assert_eq!(v.lock().ready.len(), 4);
        let v = Arc::new(v);
        let more: Vec<String> = (0..4)
            .map(|i| v.encrypt(format!("w{i}").as_bytes(), 0).unwrap())
            .collect();
        v.lock().ready.clear();
        v.prepare_in_background(more.iter().map(|t| t.as_bytes()));
        for (i, t) in more.iter().enumerate() {
            assert_eq!(
                &v.decrypt(t.as_bytes()).unwrap().plaintext[..],
                format!("w{i}").as_bytes()
            );
        }
        assert_eq!(v.lock().ready.len(), 4);
        assert!(v.lock().pending.is_empty());
    }
}
