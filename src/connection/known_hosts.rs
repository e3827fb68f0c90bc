//! Our own `known_hosts` matcher: plain names, hashed names
//! (`|1|salt|hash`, HMAC-SHA1), `[host]:port`, wildcard patterns with
//! `*`, `?` and negation `!`, and `@revoked` markers. russh's built-in
//! check understands only plain names, which is why this exists.

use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::{Digest, Sha256};

/// What a known_hosts file says about a host's key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// A matching entry holds this very key.
    Known,
    /// Nothing is recorded for this host and key type.
    Unknown,
    /// The host is recorded with a different key of the same type, at
    /// this file and line.
    Changed { file: PathBuf, line: usize },
    /// The key is marked `@revoked`, at this file and line.
    Revoked { file: PathBuf, line: usize },
}

/// The name a host is recorded under: `host` on port 22, else
/// `[host]:port`, as OpenSSH writes it.
pub fn host_label(host: &str, port: u16) -> String {
    if port == 22 {
        host.to_string()
    } else {
        format!("[{host}]:{port}")
    }
}

/// The fingerprint OpenSSH prints: `SHA256:` and the unpadded base64 of
/// the SHA-256 of the key blob.
pub fn fingerprint(key_blob: &[u8]) -> String {
    let digest = Sha256::digest(key_blob);
    let b64 = base64::engine::general_purpose::STANDARD_NO_PAD.encode(digest);
    format!("SHA256:{b64}")
}

/// Checks `key_type` + `key_blob` for `host`:`port` against the given
/// files (missing files count as empty). A revoked key wins over
/// everything, then a matching key, then a changed one.
pub fn check(files: &[PathBuf], host: &str, port: u16, key_type: &str, key_blob: &[u8]) -> Verdict {
    let label = host_label(host, port);
    let mut changed = None;
    let mut known = false;
    for file in files {
        let Ok(text) = std::fs::read_to_string(file) else {
            continue;
        };
        for (i, line) in text.lines().enumerate() {
            let Some(entry) = parse_line(line) else {
                continue;
            };
            let key_matches = entry.key_type == key_type && entry.key_blob == key_blob;
            if entry.marker == Some("@revoked") {
                if key_matches {
                    return Verdict::Revoked {
                        file: file.clone(),
                        line: i + 1,
                    };
                }
                continue;
            }
            if entry.marker.is_some() || !hosts_match(entry.hosts, &label) {
                continue;
            }
            if key_matches {
                known = true;
            } else if entry.key_type == key_type && changed.is_none() {
                changed = Some((file.clone(), i + 1));
            }
        }
    }
    if known {
        Verdict::Known
    } else if let Some((file, line)) = changed {
        Verdict::Changed { file, line }
    } else {
        Verdict::Unknown
    }
}

/// Appends a plain entry for the host, creating the file (and its
/// directory) when needed.
pub fn append(
    file: &Path,
    host: &str,
    port: u16,
    key_type: &str,
    key_blob: &[u8],
) -> std::io::Result<()> {
    use std::io::Write;
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let needs_newline = std::fs::read(file)
        .map(|d| !d.is_empty() && !d.ends_with(b"\n"))
        .unwrap_or(false);
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(file)?;
    if needs_newline {
        f.write_all(b"\n")?;
    }
    writeln!(
        f,
        "{} {} {}",
        host_label(host, port),
        key_type,
        STANDARD.encode(key_blob)
    )
}

struct Entry<'a> {
    marker: Option<&'a str>,
    hosts: &'a str,
    key_type: &'a str,
    key_blob: Vec<u8>,
}

fn parse_line(line: &str) -> Option<Entry<'_>> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let mut fields = line.split_whitespace();
    let mut first = fields.next()?;
    let mut marker = None;
    if first.starts_with('@') {
        marker = Some(first);
        first = fields.next()?;
    }
    let key_type = fields.next()?;
    let key_blob = STANDARD.decode(fields.next()?).ok()?;
    Some(Entry {
        marker,
        hosts: first,
        key_type,
        key_blob,
    })
}

/// Whether a comma-separated host field matches `label`: a negated
/// pattern that matches rejects the line outright.
fn hosts_match(field: &str, label: &str) -> bool {
    if let Some(hashed) = field.strip_prefix("|1|") {
        return hashed_match(hashed, label);
    }
    let mut matched = false;
    for pattern in field.split(',') {
        if let Some(neg) = pattern.strip_prefix('!') {
            if wildcard_match(neg, label) {
                return false;
            }
        } else if wildcard_match(pattern, label) {
            matched = true;
        }
    }
    matched
}

fn hashed_match(hashed: &str, label: &str) -> bool {
    let Some((salt, hash)) = hashed.split_once('|') else {
        return false;
    };
    let (Ok(salt), Ok(hash)) = (STANDARD.decode(salt), STANDARD.decode(hash)) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(&salt) else {
        return false;
    };
    mac.update(label.as_bytes());
    mac.verify_slice(&hash).is_ok()
}

/// Glob matching with `*` (any run) and `?` (one character), ASCII
/// case-insensitively as OpenSSH compares host names.
pub fn wildcard_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.to_ascii_lowercase().chars().collect();
    let t: Vec<char> = text.to_ascii_lowercase().chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"key-one";
    const OTHER: &[u8] = b"key-two";

    fn file_with(text: &str) -> (tempfile::TempDir, Vec<PathBuf>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("known_hosts");
        std::fs::write(&path, text).unwrap();
        (dir, vec![path])
    }

    fn line(hosts: &str, key: &[u8]) -> String {
        format!("{hosts} ssh-ed25519 {}\n", STANDARD.encode(key))
    }

    #[test]
    fn plain_entries() {
        let (_d, files) = file_with(&line("web1,10.0.0.1", KEY));
        assert_eq!(
            check(&files, "web1", 22, "ssh-ed25519", KEY),
            Verdict::Known
        );
        assert_eq!(
            check(&files, "10.0.0.1", 22, "ssh-ed25519", KEY),
            Verdict::Known
        );
        assert_eq!(
            check(&files, "web2", 22, "ssh-ed25519", KEY),
            Verdict::Unknown
        );
        // Another key type for the same host is not a change.
        assert_eq!(
            check(&files, "web1", 22, "ssh-rsa", OTHER),
            Verdict::Unknown
        );
        assert!(matches!(
            check(&files, "web1", 22, "ssh-ed25519", OTHER),
            Verdict::Changed { line: 1, .. }
        ));
    }

    #[test]
    fn bracketed_port_entries() {
        let (_d, files) = file_with(&line("[web1]:2222", KEY));
        assert_eq!(
            check(&files, "web1", 2222, "ssh-ed25519", KEY),
            Verdict::Known
        );
        assert_eq!(
            check(&files, "web1", 22, "ssh-ed25519", KEY),
            Verdict::Unknown
        );
    }

    #[test]
    fn hashed_entries() {
        let salt = b"0123456789abcdefghij";
        let mut mac = Hmac::<Sha1>::new_from_slice(salt).unwrap();
        mac.update(b"[db]:2200");
        let hash = mac.finalize().into_bytes();
        let field = format!("|1|{}|{}", STANDARD.encode(salt), STANDARD.encode(hash));
        let (_d, files) = file_with(&format!("# comment\n\n{}", line(&field, KEY)));
        assert_eq!(
            check(&files, "db", 2200, "ssh-ed25519", KEY),
            Verdict::Known
        );
        assert_eq!(
            check(&files, "db", 22, "ssh-ed25519", KEY),
            Verdict::Unknown
        );
        assert!(matches!(
            check(&files, "db", 2200, "ssh-ed25519", OTHER),
            Verdict::Changed { line: 3, .. }
        ));
    }

    #[test]
    fn wildcard_and_negated_entries() {
        let (_d, files) = file_with(&line("*.example.com,!bad.example.com,db?", KEY));
        assert_eq!(
            check(&files, "a.example.com", 22, "ssh-ed25519", KEY),
            Verdict::Known
        );
        assert_eq!(check(&files, "db1", 22, "ssh-ed25519", KEY), Verdict::Known);
        assert_eq!(
            check(&files, "db12", 22, "ssh-ed25519", KEY),
            Verdict::Unknown
        );
        assert_eq!(
            check(&files, "bad.example.com", 22, "ssh-ed25519", KEY),
            Verdict::Unknown
        );
        assert!(wildcard_match("*", "anything"));
        assert!(wildcard_match("a*b*c", "aXXbYc"));
        assert!(!wildcard_match("a*b*c", "aXXbY"));
    }

    #[test]
    fn revoked_keys_are_refused() {
        let text = format!(
            "{}@revoked * ssh-ed25519 {}\n",
            line("web1", KEY),
            STANDARD.encode(KEY)
        );
        let (_d, files) = file_with(&text);
        assert!(matches!(
            check(&files, "web1", 22, "ssh-ed25519", KEY),
            Verdict::Revoked { line: 2, .. }
        ));
    }

    #[test]
    fn appended_entries_are_found() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/known_hosts");
        append(&path, "h", 2022, "ssh-ed25519", KEY).unwrap();
        let files = vec![path];
        assert_eq!(check(&files, "h", 2022, "ssh-ed25519", KEY), Verdict::Known);
    }

    #[test]
    fn fingerprints_look_like_openssh() {
        let fp = fingerprint(b"x");
        assert!(fp.starts_with("SHA256:") && !fp.ends_with('='), "{fp}");
    }
}
