//! authorized_key — add or remove SSH public keys in a user's
//! `authorized_keys` file (ansible.posix.authorized_key).
//!
//! Keys are matched by their base64 body; a key present with other
//! options or another comment is rewritten. The file keeps the order of
//! its lines; new keys go after the existing ones, in the order given.
//! Comment and unparsable lines are kept as they are (except with
//! `exclusive`, which keeps only the given keys). The file is written
//! only when it changes, atomically, 0600 and owned by the user; with
//! `manage_dir`, `~/.ssh` is made 0700 and owned by the user too.
//!
//! Tested: a real test user's ~/.ssh (tests/module_authorized_key.rs); its
//! steps were checked against ansible.posix.authorized_key.
//!
//! Arguments:
//!   user         whose file (required; must exist unless path is given
//!                in check mode)
//!   key          one or more keys, a line each (required); or
//!                `file:///path` (read on the host) or an `http(s)://`
//!                URL (fetched on the host with curl or wget)
//!   path         the file (default ~user/.ssh/authorized_keys)
//!   manage_dir   create and own the file's directory (default yes)
//!   state        present (default) or absent
//!   key_options  options put before each key (`no-pty,from="10.0.0.1"`)
//!   comment      the comment written after each key
//!   exclusive    remove every other key from the file
//!   follow       follow a symbolic link at path
//!   validate_certs  accepted (URLs are fetched by the host's tools)
//!
//! Returns: the arguments, keyfile, and diff with --diff.

use async_trait::async_trait;
use serde_json::Value;

use crate::api::{shell_quote, Diff, ExecOptions, HostError, Module, ModuleContext, Outcome};
use crate::args::{Param, Spec};
use crate::system::accounts::lookup_user;

pub struct AuthorizedKey;

static SPEC: Spec = Spec {
    module: "authorized_key",
    params: &[
        Param::str("user").required(),
        Param::str("key").required(),
        Param::path("path"),
        Param::bool("manage_dir").default("true"),
        Param::str("state")
            .default("present")
            .choices(&["absent", "present"]),
        Param::str("key_options"),
        Param::bool("exclusive").default("false"),
        Param::str("comment"),
        Param::bool("validate_certs").default("true"),
        Param::bool("follow").default("false"),
    ],
    mutually_exclusive: &[],
    required_one_of: &[],
};

const KEY_TYPES: &[&str] = &[
    "sk-ecdsa-sha2-nistp256@openssh.com",
    "sk-ecdsa-sha2-nistp256-cert-v01@openssh.com",
    "webauthn-sk-ecdsa-sha2-nistp256@openssh.com",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp256-cert-v01@openssh.com",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp384-cert-v01@openssh.com",
    "ecdsa-sha2-nistp521",
    "ecdsa-sha2-nistp521-cert-v01@openssh.com",
    "sk-ssh-ed25519@openssh.com",
    "sk-ssh-ed25519-cert-v01@openssh.com",
    "ssh-ed25519",
    "ssh-ed25519-cert-v01@openssh.com",
    "ssh-dss",
    "ssh-rsa",
    "ssh-xmss@openssh.com",
    "ssh-xmss-cert-v01@openssh.com",
    "rsa-sha2-256",
    "rsa-sha2-512",
    "ssh-rsa-cert-v01@openssh.com",
    "rsa-sha2-256-cert-v01@openssh.com",
    "rsa-sha2-512-cert-v01@openssh.com",
    "ssh-dss-cert-v01@openssh.com",
];

/// Key options in written order; a name may repeat.
pub type Options = Vec<(String, Option<String>)>;

/// One line of the file: a key, or a line kept as it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Line {
    Key {
        body: String,
        kind: String,
        options: Options,
        comment: String,
    },
    Kept(String),
}

impl Line {
    /// What identifies the line in the file: the key body, or the line.
    fn id(&self) -> &str {
        match self {
            Line::Key { body, .. } => body,
            Line::Kept(l) => l,
        }
    }
}

/// Splits options on commas outside quotes.
pub fn parse_options(text: &str) -> Options {
    let mut parts = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    for c in text.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => {
                quote = None;
                cur.push(c);
            }
            (None, '"' | '\'') => {
                quote = Some(c);
                cur.push(c);
            }
            (None, ',') => parts.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    parts.push(cur);
    parts
        .into_iter()
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (k.to_string(), Some(v.to_string())),
            None => (p, None),
        })
        .collect()
}

/// Options compared as Ansible compares them: by name, each name's values
/// in order.
fn same_options(a: &Options, b: &Options) -> bool {
    fn group(o: &Options) -> std::collections::BTreeMap<&str, Vec<&Option<String>>> {
        let mut m: std::collections::BTreeMap<&str, Vec<&Option<String>>> = Default::default();
        for (k, v) in o {
            m.entry(k.as_str()).or_default().push(v);
        }
        m
    }
    group(a) == group(b)
}

/// One line as a key, if it holds one; a `#` line is kept.
pub fn parse_key(raw: &str) -> Option<Line> {
    let raw = raw.replace("\\#", "#");
    let parts: Vec<&str> = raw.split_whitespace().collect();
    if parts.first() == Some(&"#") {
        return Some(Line::Kept(raw));
    }
    let at = parts.iter().position(|p| KEY_TYPES.contains(p))?;
    let body = parts.get(at + 1)?;
    let options = if at > 0 {
        parse_options(&parts[..at].join(" "))
    } else {
        Vec::new()
    };
    Some(Line::Key {
        body: body.to_string(),
        kind: parts[at].to_string(),
        options,
        comment: parts[at + 2..].join(" "),
    })
}

/// The file's lines, as an ordered map from id to (line, rank). A later
/// line with the same id replaces an earlier one, as in Ansible.
#[derive(Clone, Debug, Default)]
pub struct KeyFile {
    entries: Vec<(Line, usize)>,
}

impl KeyFile {
    pub fn parse(text: &str) -> KeyFile {
        let mut f = KeyFile::default();
        let mut rest = text;
        let mut rank = 0;
        while !rest.is_empty() {
            let end = rest.find('\n').map(|i| i + 1).unwrap_or(rest.len());
            let line = &rest[..end];
            rest = &rest[end..];
            let entry = parse_key(line).unwrap_or_else(|| Line::Kept(line.to_string()));
            f.set(entry, rank);
            rank += 1;
        }
        f
    }

    fn position(&self, id: &str) -> Option<usize> {
        self.entries.iter().position(|(l, _)| l.id() == id)
    }

    fn set(&mut self, line: Line, rank: usize) {
        match self.position(line.id()) {
            Some(i) => self.entries[i] = (line, rank),
            None => self.entries.push((line, rank)),
        }
    }

    fn remove(&mut self, id: &str) {
        if let Some(i) = self.position(id) {
            self.entries.remove(i);
        }
    }

    pub fn render(&self) -> String {
        let mut sorted: Vec<&(Line, usize)> = self.entries.iter().collect();
        sorted.sort_by_key(|(_, r)| *r);
        let mut out = String::new();
        for (line, _) in sorted {
            match line {
                Line::Kept(l) => out.push_str(l),
                Line::Key {
                    body,
                    kind,
                    options,
                    comment,
                } => {
                    if !options.is_empty() {
                        let opts: Vec<String> = options
                            .iter()
                            .map(|(k, v)| match v {
                                Some(v) => format!("{k}={v}"),
                                None => k.clone(),
                            })
                            .collect();
                        out.push_str(&opts.join(","));
                        out.push(' ');
                    }
                    out.push_str(&format!("{kind} {body} {comment}\n"));
                }
            }
        }
        out
    }
}

/// Applies the wanted keys; true when the file must be written.
pub fn enforce(file: &mut KeyFile, keys: &[Line], present: bool, exclusive: bool) -> bool {
    let mut write = false;
    let existing = file.entries.len();
    let mut keep = Vec::new();
    for (rank, key) in keys.iter().enumerate() {
        let id = key.id().to_string();
        let mut matched = false;
        if let Some(i) = file.position(&id) {
            let same = match (&file.entries[i].0, key) {
                (
                    Line::Key {
                        kind: k1,
                        options: o1,
                        comment: c1,
                        ..
                    },
                    Line::Key {
                        kind: k2,
                        options: o2,
                        comment: c2,
                        ..
                    },
                ) => k1 == k2 && c1 == c2 && same_options(o1, o2),
                (a, b) => a == b,
            };
            if !same && present {
                file.remove(&id);
                write = true;
            } else {
                matched = true;
            }
        }
        if present {
            keep.push(id.clone());
            if !matched {
                file.set(key.clone(), existing + rank);
                write = true;
            }
        } else if matched {
            file.remove(&id);
            write = true;
        }
    }
    if present && exclusive {
        let before = file.entries.len();
        file.entries
            .retain(|(l, _)| keep.iter().any(|k| k == l.id()));
        write |= file.entries.len() != before;
    }
    write
}

fn text_of(v: Option<&Value>) -> Value {
    v.cloned().unwrap_or(Value::Null)
}

#[async_trait]
impl Module for AuthorizedKey {
    fn name(&self) -> &'static str {
        "authorized_key"
    }

    fn spec(&self) -> Option<&'static Spec> {
        Some(&SPEC)
    }

    async fn run(&self, ctx: &ModuleContext<'_>) -> Result<Outcome, HostError> {
        let a = match SPEC.parse(ctx).await? {
            Ok(a) => a,
            Err(o) => return Ok(o),
        };
        let user = a.str_or("user", "");
        let mut key = a.str_or("key", "");
        let path = a.str("path");
        let manage_dir = a.bool_or("manage_dir", true);
        let present = a.str_or("state", "present") == "present";
        let exclusive = a.bool_or("exclusive", false);
        let follow = a.bool_or("follow", false);
        let key_options = a.str("key_options");
        let comment = a.str("comment");

        if key.starts_with("http") {
            let url = shell_quote(&key);
            let r = ctx
                .host
                .exec(
                    &format!(
                        "if command -v curl >/dev/null 2>&1; then curl -fsSL {url}; \
                         elif command -v wget >/dev/null 2>&1; then wget -qO- {url}; else exit 127; fi"
                    ),
                    &ExecOptions::default(),
                )
                .await?;
            if r.rc != 0 {
                return Ok(Outcome::failed(format!("Error getting key from: {key}")));
            }
            key = r.stdout_text();
        }
        if let Some(rest) = key.strip_prefix("file") {
            // urlparse(...).path of file:///p is /p.
            let p = rest.trim_start_matches(':');
            let p = p
                .strip_prefix("//")
                .map_or(p, |s| &s[s.find('/').unwrap_or(s.len())..]);
            let p = p.to_string();
            match ctx.host.stat(&p, true).await? {
                None => {
                    return Ok(Outcome::failed(format!(
                        "Path to a key file not found: {p}"
                    )))
                }
                Some(s) if s.kind == "directory" => {
                    return Ok(Outcome::failed(format!(
                        "Path to a key is a directory and must be a file: {p}"
                    )))
                }
                Some(_) => {}
            }
            key = ctx
                .host
                .read_file(&p)
                .await?
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default();
        }

        let mut wanted = Vec::new();
        for line in key.lines().filter(|l| !l.is_empty() && !l.starts_with('#')) {
            let Some(mut parsed) = parse_key(line) else {
                return Ok(Outcome::failed(format!("invalid key specified: {line}")));
            };
            if let Line::Key {
                options,
                comment: c,
                ..
            } = &mut parsed
            {
                if let Some(o) = &key_options {
                    *options = parse_options(o);
                }
                if let Some(given) = &comment {
                    *c = given.clone();
                }
            }
            wanted.push(parsed);
        }

        // Where the file is.
        let account = if ctx.check_mode && path.is_some() {
            None
        } else {
            match lookup_user(ctx.host, &user, false).await? {
                Some(u) => Some(u),
                None if ctx.check_mode => {
                    return Ok(Outcome::failed(
                        "Either user must exist or you must provide full path to key file in check mode",
                    ))
                }
                None => {
                    return Ok(Outcome::failed(format!(
                        "Failed to lookup user {user}: \"getpwnam(): name not found: '{user}'\""
                    )))
                }
            }
        };
        let mut keyfile = match (&path, &account) {
            (Some(p), _) => p.clone(),
            (None, Some(u)) => format!("{}/.ssh/authorized_keys", u.home.trim_end_matches('/')),
            (None, None) => return Ok(Outcome::failed(
                "Either user must exist or you must provide full path to key file in check mode",
            )),
        };
        if follow {
            let r = ctx
                .host
                .exec(
                    &format!("readlink -f -- {} || printf %s {0}", shell_quote(&keyfile)),
                    &ExecOptions::default(),
                )
                .await?;
            let resolved = r.stdout_text().trim_end_matches('\n').to_string();
            if !resolved.is_empty() {
                keyfile = resolved;
            }
        }
        let existing = match ctx.host.stat(&keyfile, true).await? {
            Some(s) if s.kind != "directory" => ctx
                .host
                .read_file(&keyfile)
                .await?
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default(),
            _ => String::new(),
        };
        let mut file = KeyFile::parse(&existing);
        let write = enforce(&mut file, &wanted, present, exclusive);

        let mut out = if write {
            Outcome::changed()
        } else {
            Outcome::ok()
        };
        for (k, v) in [
            ("user", Value::String(user.clone())),
            ("key", Value::String(a.str_or("key", ""))),
            (
                "path",
                text_of(path.as_ref().map(|p| Value::String(p.clone())).as_ref()),
            ),
            ("manage_dir", Value::Bool(manage_dir)),
            (
                "state",
                Value::String(if present { "present" } else { "absent" }.into()),
            ),
            (
                "key_options",
                key_options
                    .clone()
                    .map(Value::String)
                    .unwrap_or(Value::Null),
            ),
            ("exclusive", Value::Bool(exclusive)),
            (
                "comment",
                comment.clone().map(Value::String).unwrap_or(Value::Null),
            ),
            (
                "validate_certs",
                Value::Bool(a.bool_or("validate_certs", true)),
            ),
            ("follow", Value::Bool(follow)),
            ("keyfile", Value::String(keyfile.clone())),
        ] {
            out.values.insert(k.into(), v);
        }
        if !write {
            return Ok(out);
        }
        let content = file.render();
        if ctx.diff {
            out.set_diff(Diff {
                before: existing.clone(),
                after: content.clone(),
                before_header: Some(keyfile.clone()),
                after_header: Some(keyfile.clone()),
                ..Diff::default()
            });
        }
        if ctx.check_mode {
            return Ok(out);
        }
        let Some(account) = account else {
            return Ok(out);
        };
        let dir = match keyfile.rfind('/') {
            Some(0) => "/".to_string(),
            Some(i) => keyfile[..i].to_string(),
            None => ".".to_string(),
        };
        let owner = format!("{}:{}", account.uid, account.gid);
        let prepare = if manage_dir {
            format!(
                "d={d}; [ -d \"$d\" ] || mkdir -m 700 -- \"$d\" || exit 1; chown {owner} -- \"$d\" && chmod 700 -- \"$d\"",
                d = shell_quote(&dir)
            )
        } else {
            format!("mkdir -p -- {}", shell_quote(&dir))
        };
        let r = ctx.host.exec(&prepare, &ExecOptions::default()).await?;
        if r.rc != 0 {
            return Ok(Outcome::failed(r.stderr_text().trim().to_string()));
        }
        ctx.host
            .write_file(&keyfile, content.as_bytes(), Some(0o600))
            .await?;
        // Ownership and mode are set whatever the file had, as Ansible
        // does (and ignores failures of, as it does).
        ctx.host
            .exec(
                &format!(
                    "chown {owner} -- {f}; chmod 600 -- {f}; true",
                    f = shell_quote(&keyfile)
                ),
                &ExecOptions::default(),
            )
            .await?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const K1: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOne one@host";
    const K2: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAITwo two@host";

    fn key(s: &str) -> Line {
        parse_key(s).unwrap()
    }

    #[test]
    fn parses_keys_and_options() {
        let l = key("no-pty,from=\"10.0.0.1,10.0.0.2\" ssh-rsa AAAAB3 a b");
        assert_eq!(
            l,
            Line::Key {
                body: "AAAAB3".into(),
                kind: "ssh-rsa".into(),
                options: vec![
                    ("no-pty".into(), None),
                    ("from".into(), Some("\"10.0.0.1,10.0.0.2\"".into()))
                ],
                comment: "a b".into(),
            }
        );
        assert!(parse_key("garbage").is_none());
        assert!(parse_key("ssh-rsa").is_none());
    }

    #[test]
    fn adds_keeps_and_removes() {
        let mut f = KeyFile::parse(&format!("# keys\n{K1}\n"));
        assert!(!enforce(&mut f, &[key(K1)], true, false));
        assert!(enforce(&mut f, &[key(K2)], true, false));
        assert_eq!(f.render(), format!("# keys\n{K1}\n{K2}\n"));
        // Another comment rewrites the key, at the end.
        let mut changed = key(K1);
        if let Line::Key { comment, .. } = &mut changed {
            *comment = "new".into();
        }
        assert!(enforce(&mut f, &[changed], true, false));
        assert!(f.render().ends_with("AAAAC3NzaC1lZDI1NTE5AAAAIOne new\n"));
        assert!(enforce(&mut f, &[key(K2)], false, false));
        assert!(!enforce(&mut f, &[key(K2)], false, false));
        assert!(enforce(&mut f, &[key(K2)], true, true));
        assert_eq!(f.render(), format!("{K2}\n"));
    }

    #[test]
    fn key_without_comment_keeps_the_space() {
        let mut f = KeyFile::default();
        enforce(&mut f, &[key("ssh-ed25519 AAAA")], true, false);
        assert_eq!(f.render(), "ssh-ed25519 AAAA \n");
    }
}
