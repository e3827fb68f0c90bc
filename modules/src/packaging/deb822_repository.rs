//! deb822_repository — add or remove an APT repository as a deb822
//! `.sources` file in /etc/apt/sources.list.d, as Ansible's
//! deb822_repository module does.
//!
//! The file is named from `name` (lower-cased, `_` and spaces as `-`,
//! anything but a-z, 0-9 and `-` dropped: "Herd Probe_1" →
//! herd-probe-1.sources). Its fields are the given options in the order of
//! their names, written as Ansible writes them (`X-Repolib-Name`, `URIs`,
//! `Types`, …; booleans as yes/no, lists space-separated, a value of
//! several lines indented with `.` for blank lines). `signed_by` may be a
//! key file on the host (kept as a path), a URL (the host downloads it
//! with curl or wget into /etc/apt/keyrings/SLUG.asc or .gpg, by whether
//! it is armored), or the key itself (written inline). `changed` comes
//! from comparing the content (and mode) with what is there; check mode
//! stops before writing. state=absent removes the .sources file and the
//! SLUG.asc/.gpg key files.
//!
//! Arguments:
//!   name (required), state (present/absent), types (deb, deb-src;
//!   default deb), uris, suites, components, signed_by, enabled,
//!   architectures, languages, targets, pdiffs, by_hash, trusted,
//!   allow_insecure, allow_weak, allow_downgrade_to_insecure, check_date,
//!   check_valid_until, date_max_future, inrelease_path, mode (default
//!   0644)
//!
//! Returns: dest, repo (the file's text; null when absent), key_filename,
//! and the attributes of dest when it exists (mode, owner, size, …).
//!
//! Tested: against ansible's deb822_repository on the same arguments in
//! the real /etc/apt/sources.list.d (test names, removed afterwards):
//! same file names, contents, modes, key files, changed flags and check
//! mode (tests/module_apt_repository.rs).

use async_trait::async_trait;
use serde_json::Value;

use crate::api::{shell_quote, ExecOptions, HostError, Module, ModuleContext, Outcome};
use crate::args::{parse_mode, Args, Mode, Param, Spec};
use crate::files::edit::with_path_info;

pub struct Deb822Repository;

static SPEC: Spec = Spec {
    module: "deb822_repository",
    params: &[
        Param::bool("allow_downgrade_to_insecure"),
        Param::bool("allow_insecure"),
        Param::bool("allow_weak"),
        Param::list("architectures"),
        Param::bool("by_hash"),
        Param::bool("check_date"),
        Param::bool("check_valid_until"),
        Param::list("components"),
        Param::int("date_max_future"),
        Param::bool("enabled"),
        Param::str("inrelease_path"),
        Param::list("languages"),
        Param::str("name").required(),
        Param::bool("pdiffs"),
        Param::str("signed_by"),
        Param::list("suites"),
        Param::list("targets"),
        Param::bool("trusted"),
        Param::list("types").default("deb"),
        Param::list("uris"),
        Param::raw("mode").default("0644"),
        Param::str("state")
            .default("present")
            .choices(&["present", "absent"]),
    ],
    mutually_exclusive: &[],
    required_one_of: &[],
};

const KEYRINGS_DIR: &str = "/etc/apt/keyrings";
const SOURCES_DIR: &str = "/etc/apt/sources.list.d";

/// The file-name slug Ansible makes of `name`.
pub fn slug(name: &str) -> String {
    let lower = name.to_lowercase();
    let mut dashed = String::new();
    let mut in_run = false;
    for c in lower.chars() {
        if c == '_' || c.is_whitespace() {
            if !in_run {
                dashed.push('-');
            }
            in_run = true;
        } else {
            dashed.push(c);
            in_run = false;
        }
    }
    dashed
        .chars()
        .filter(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-')
        .collect()
}

/// Python's `str.title()` of a field name with `_` as `-`.
fn field_name(key: &str) -> String {
    match key {
        "name" => return "X-Repolib-Name".into(),
        "uris" => return "URIs".into(),
        _ => {}
    }
    let mut out = String::new();
    let mut prev_letter = false;
    for c in key.replace('_', "-").chars() {
        if c.is_alphabetic() {
            if prev_letter {
                out.extend(c.to_lowercase());
            } else {
                out.extend(c.to_uppercase());
            }
            prev_letter = true;
        } else {
            out.push(c);
            prev_letter = false;
        }
    }
    out
}

/// A value of several lines, as Ansible's `format_multiline` writes it.
fn multiline(v: &str) -> String {
    let lines: Vec<String> = v
        .trim()
        .lines()
        .map(|l| {
            let t = l.trim();
            format!("    {}", if t.is_empty() { "." } else { t })
        })
        .collect();
    format!("\n{}", lines.join("\n"))
}

/// The fields of the file, by sorted option name, before `signed_by` is
/// resolved (its value is given separately).
fn fields(a: &Args, signed_by: Option<&str>) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for p in SPEC.params {
        let key = p.name;
        if key == "mode" || key == "state" {
            continue;
        }
        let value = if key == "signed_by" {
            signed_by.map(str::to_string)
        } else if key == "types" {
            Some(
                a.list("types")
                    .unwrap_or_else(|| vec!["deb".to_string()])
                    .join(" "),
            )
        } else if let Some(b) = a.bool(key) {
            Some(if b { "yes" } else { "no" }.to_string())
        } else if let Some(i) = a.int(key) {
            Some(i.to_string())
        } else if let Some(l) = a.list(key) {
            Some(l.join(" "))
        } else {
            a.str(key)
        };
        let Some(mut value) = value else { continue };
        if value.contains('\n') {
            value = multiline(&value);
        }
        out.push((field_name(key), value));
    }
    out
}

/// The file's text, as python-debian's `Deb822.dump` writes it.
pub fn render(fields: &[(String, String)]) -> String {
    let mut s = String::new();
    for (k, v) in fields {
        if v.is_empty() || v.starts_with('\n') {
            s.push_str(&format!("{k}:{v}\n"));
        } else {
            s.push_str(&format!("{k}: {v}\n"));
        }
    }
    s
}

/// Whether a string parses as a URL with a scheme (`scheme:`).
fn has_scheme(v: &str) -> bool {
    match v.split_once(':') {
        Some((s, _)) => {
            !s.is_empty()
                && s.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        }
        None => false,
    }
}

#[async_trait]
impl Module for Deb822Repository {
    fn name(&self) -> &'static str {
        "deb822_repository"
    }

    fn spec(&self) -> Option<&'static Spec> {
        Some(&SPEC)
    }

    async fn run(&self, ctx: &ModuleContext<'_>) -> Result<Outcome, HostError> {
        let a = match SPEC.parse(ctx).await? {
            Ok(a) => a,
            Err(o) => return Ok(o),
        };
        if let Some(types) = a.list("types") {
            let bad: Vec<&String> = types
                .iter()
                .filter(|t| *t != "deb" && *t != "deb-src")
                .collect();
            if !bad.is_empty() {
                return Ok(Outcome::failed(format!(
                    "value of types must be one or more of: deb, deb-src. Got no match for: {}",
                    bad.iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
        }
        let mode = match a.raw("mode") {
            None => 0o644,
            Some(v) => match parse_mode(v) {
                Ok(Mode::Octal(m)) => m,
                Ok(_) => {
                    return Ok(Outcome::failed(format!(
                        "mode must be in octal form, got: {v}"
                    )))
                }
                Err(e) => return Ok(Outcome::failed(e)),
            },
        };
        let name = a.str_or("name", "");
        let slug = slug(&name);
        let dest = format!("{SOURCES_DIR}/{slug}.sources");
        let key_file = |ext: &str| format!("{KEYRINGS_DIR}/{slug}.{ext}");
        let host = ctx.host;
        let opts = ExecOptions::default();
        if a.str_or("state", "present") == "absent" {
            let rm = if ctx.check_mode { ":" } else { "rm -f" };
            let mut script = String::new();
            for f in [dest.clone(), key_file("asc"), key_file("gpg")] {
                let q = shell_quote(&f);
                script.push_str(&format!("if [ -e {q} ]; then echo gone; {rm} {q}; fi; "));
            }
            let r = host.exec(&script, &opts).await?;
            let mut out = Outcome::ok()
                .with("repo", Value::Null)
                .with("dest", dest.clone())
                .with("key_filename", key_file("gpg"));
            out.changed = r.stdout_text().contains("gone");
            return with_path_info(host, out, &dest).await;
        }
        let mut changed = false;
        let mut key_filename: Option<String> = None;
        let mut signed_by: Option<String> = None;
        if let Some(v) = a.str("signed_by") {
            if host.stat(&v, true).await?.is_some_and(|s| s.kind == "file") {
                key_filename = Some(v.clone());
                signed_by = Some(v);
            } else if has_scheme(&v) {
                match fetch_key(ctx, &v, &slug).await? {
                    Ok((c, file)) => {
                        changed |= c;
                        key_filename = Some(file.clone());
                        signed_by = Some(file);
                    }
                    Err(msg) => return Ok(Outcome::failed(msg)),
                }
            } else {
                signed_by = Some(v);
            }
        }
        let repo = render(&fields(&a, signed_by.as_deref()));
        let current = host.read_file(&dest).await?;
        if current.as_deref() != Some(repo.as_bytes()) {
            if !ctx.check_mode {
                host.write_file(&dest, repo.as_bytes(), Some(mode)).await?;
            }
            changed = true;
        }
        if let Some(st) = host.stat(&dest, false).await? {
            if st.mode & 0o7777 != mode {
                if !ctx.check_mode {
                    host.exec(&format!("chmod {mode:o} {}", shell_quote(&dest)), &opts)
                        .await?;
                }
                changed = true;
            }
        }
        let mut out = Outcome::ok()
            .with("repo", repo)
            .with("dest", dest.clone())
            .with(
                "key_filename",
                key_filename.map(Value::String).unwrap_or(Value::Null),
            );
        out.changed = changed;
        // Ansible adds the attributes of an existing `dest` to the result.
        with_path_info(host, out, &dest).await
    }
}

/// Downloads a signing key on the host into /etc/apt/keyrings (made when
/// missing, mode 0755), as SLUG.asc when armored, else SLUG.gpg, mode
/// 0644; changed when the content, the directory or the mode changed.
async fn fetch_key(
    ctx: &ModuleContext<'_>,
    url: &str,
    slug: &str,
) -> Result<Result<(bool, String), String>, HostError> {
    let check = if ctx.check_mode { "1" } else { "" };
    let script = format!(
        r#"u={u}; slug={s}; check={check}; kd={kd}
t=$(mktemp) || exit 1
trap 'rm -f "$t"' EXIT
if command -v curl >/dev/null 2>&1; then curl -fsSL -o "$t" "$u" || exit 3
else wget -q -O "$t" "$u" || exit 3; fi
ext=gpg; grep -q -- '-----BEGIN PGP PUBLIC KEY BLOCK-----' "$t" && ext=asc
f="$kd/$slug.$ext"; echo "$f"
if [ ! -s "$t" ]; then echo same; exit 0; fi
if [ -f "$f" ] && cmp -s "$t" "$f"; then echo same; else
  echo changed
  if [ ! -d "$kd" ]; then echo dir; [ -n "$check" ] || mkdir -m 0755 "$kd" || exit 4; fi
  [ -n "$check" ] || {{ cp "$t" "$f.tmp.$$" && mv "$f.tmp.$$" "$f"; }} || exit 4
fi
if [ -f "$f" ] && [ "$(stat -c %a "$f")" != 644 ]; then echo mode; [ -n "$check" ] || chmod 0644 "$f"; fi"#,
        u = shell_quote(url),
        s = shell_quote(slug),
        kd = KEYRINGS_DIR,
    );
    let r = ctx.host.exec(&script, &ExecOptions::default()).await?;
    if r.rc != 0 {
        return Ok(Err(format!(
            "Could not fetch signed_by key: {}",
            r.stderr_text().trim()
        )));
    }
    let out = r.stdout_text();
    let mut lines = out.lines();
    let file = lines.next().unwrap_or("").to_string();
    let changed = lines.any(|l| l != "same");
    Ok(Ok((changed, file)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_fields_follow_ansible() {
        assert_eq!(slug("Herd Probe_1"), "herd-probe-1");
        assert_eq!(slug("a  _ b!c"), "a-bc");
        assert_eq!(field_name("check_valid_until"), "Check-Valid-Until");
        assert_eq!(field_name("inrelease_path"), "Inrelease-Path");
        assert_eq!(field_name("uris"), "URIs");
        assert_eq!(multiline("a\n\nb\n"), "\n    a\n    .\n    b");
        assert_eq!(
            render(&[("A".into(), "x".into()), ("B".into(), "\n    y".into())]),
            "A: x\nB:\n    y\n"
        );
        assert!(has_scheme("https://x/k.asc"));
        assert!(!has_scheme("-----BEGIN PGP PUBLIC KEY BLOCK-----\nx"));
    }
}
