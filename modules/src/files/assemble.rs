//! assemble — build a file from a directory of fragments.
//!
//! The fragments are the regular files of `src`, in byte order of their
//! names, joined as Ansible joins them: a newline after a fragment that
//! lacks one, and `delimiter` (with `\n`-style escapes read, and a newline
//! after it) between fragments. `src` is on the host (default) or, with
//! `remote_src: no`, on the controller (a role's `files/` first). The
//! result is written like any edited file: only when it differs, atomically,
//! after `validate`, with `backup`, mode, owner and group.
//!
//! Tested: every step compared with ansible's assemble
//! (tests/module_assemble.rs).
//!
//! Arguments:
//!   src            the directory of fragments (required)
//!   dest           the file to write (required)
//!   delimiter      text put between fragments
//!   regexp         only fragments whose name matches (Python `re.search`)
//!   ignore_hidden  leave out names starting with `.`
//!   remote_src     src is on the host (default yes)
//!   validate, backup, mode, owner, group, decrypt (vaulted fragments are
//!   decrypted on the controller unless `decrypt: false`)
//!
//! Returns: src, dest, checksum, md5sum, msg (OK), backup_file, and what is
//! at dest.

use async_trait::async_trait;
use md5::Md5;
use sha1::Digest;

use super::copy::{hex, sha1_hex};
use super::edit::{with_path_info, write_back};
use super::pyre;
use crate::api::{shell_quote, ExecOptions, HostError, Module, ModuleContext, Outcome};
use crate::args::{Param, Spec};
use crate::file_spec;

pub struct Assemble;

static SPEC: Spec = file_spec!(
    "assemble",
    [
        Param::path("src").required(),
        Param::str("delimiter"),
        Param::path("dest").required(),
        Param::bool("backup").default("false"),
        Param::bool("remote_src").default("true"),
        Param::str("regexp"),
        Param::bool("ignore_hidden").default("false"),
        Param::str("validate"),
        Param::bool("decrypt").default("true"),
    ],
    &[],
    &[]
);

/// Python's `codecs.escape_decode` of the common escapes.
pub fn unescape(text: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            let mut buf = [0u8; 4];
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            continue;
        }
        match chars.next() {
            Some('n') => out.push(b'\n'),
            Some('t') => out.push(b'\t'),
            Some('r') => out.push(b'\r'),
            Some('\\') => out.push(b'\\'),
            Some('\'') => out.push(b'\''),
            Some('"') => out.push(b'"'),
            Some('0') => out.push(0),
            Some(other) => {
                out.push(b'\\');
                let mut buf = [0u8; 4];
                out.extend_from_slice(other.encode_utf8(&mut buf).as_bytes());
            }
            None => out.push(b'\\'),
        }
    }
    out
}

/// The fragments joined as Ansible joins them.
pub fn join(fragments: &[Vec<u8>], delimiter: Option<&str>) -> Vec<u8> {
    let delimiter = delimiter.filter(|d| !d.is_empty()).map(unescape);
    let mut out = Vec::new();
    let mut add_newline = false;
    for (i, f) in fragments.iter().enumerate() {
        if add_newline {
            out.push(b'\n');
        }
        if i > 0 {
            if let Some(d) = &delimiter {
                out.extend_from_slice(d);
                if d.last() != Some(&b'\n') {
                    out.push(b'\n');
                }
            }
        }
        out.extend_from_slice(f);
        add_newline = !f.ends_with(b"\n");
    }
    out
}

/// Whether a fragment name is taken.
fn wanted(name: &str, re: Option<&fancy_regex::Regex>, ignore_hidden: bool) -> bool {
    !(ignore_hidden && name.starts_with('.')) && re.is_none_or(|r| pyre::search(r, name))
}

#[async_trait]
impl Module for Assemble {
    fn name(&self) -> &'static str {
        "assemble"
    }

    fn spec(&self) -> Option<&'static Spec> {
        Some(&SPEC)
    }

    async fn run(&self, ctx: &ModuleContext<'_>) -> Result<Outcome, HostError> {
        let a = match SPEC.parse(ctx).await? {
            Ok(a) => a,
            Err(o) => return Ok(o),
        };
        let src = a.str_or("src", "");
        let dest = a.str_or("dest", "");
        let ignore_hidden = a.bool_or("ignore_hidden", false);
        let re = match a.str("regexp") {
            Some(r) => match pyre::compile(&r, false, false) {
                Ok(re) => Some(re),
                Err(e) => return Ok(Outcome::failed(format!("Invalid Regexp ({e}) in \"{r}\""))),
            },
            None => None,
        };
        if let Some(v) = a.str("validate") {
            if !v.contains("%s") {
                return Ok(Outcome::failed(format!("validate must contain %s: {v}")));
            }
        }
        let mut fragments = Vec::new();
        let remote_src = a.bool_or("remote_src", true);
        if remote_src {
            let q = shell_quote(&src);
            let r = ctx
                .host
                .exec(
                    &format!(
                        "[ -e {q} ] || {{ echo missing; exit 0; }}; [ -d {q} ] || {{ echo notdir; exit 0; }}; \
                         cd {q} && for f in .* *; do [ -f \"$f\" ] && printf '%s\\0' \"$f\"; done; true"
                    ),
                    &ExecOptions::default(),
                )
                .await?;
            let listing = r.stdout_text();
            match listing.trim_end() {
                "missing" => return Ok(Outcome::failed(format!("Source ({src}) does not exist"))),
                "notdir" => {
                    return Ok(Outcome::failed(format!(
                        "Source ({src}) is not a directory"
                    )))
                }
                _ => {}
            }
            let mut names: Vec<&str> = listing.split('\0').filter(|n| !n.is_empty()).collect();
            names.sort_unstable();
            names.dedup();
            for name in names {
                if !wanted(name, re.as_ref(), ignore_hidden) {
                    continue;
                }
                let path = format!("{}/{name}", src.trim_end_matches('/'));
                if let Some(data) = ctx.host.read_file(&path).await? {
                    fragments.push(data);
                }
            }
        } else {
            let Some(dir) = ctx.controller.find_file("files", &src) else {
                return Ok(Outcome::failed(format!("Source ({src}) does not exist")));
            };
            if !dir.is_dir() {
                return Ok(Outcome::failed(format!(
                    "Source ({src}) is not a directory"
                )));
            }
            let mut names: Vec<String> = match std::fs::read_dir(&dir) {
                Ok(rd) => rd
                    .filter_map(|e| e.ok())
                    .filter(|e| e.path().is_file())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect(),
                Err(e) => return Ok(Outcome::failed(format!("Source ({src}): {e}"))),
            };
            names.sort_unstable();
            let decrypt = a.bool_or("decrypt", true);
            for name in names {
                if wanted(&name, re.as_ref(), ignore_hidden) {
                    let path = dir.join(&name);
                    // `decrypt: false` assembles vaulted fragments as they are.
                    let read = if decrypt {
                        ctx.controller.read_local(&path)
                    } else {
                        std::fs::read(&path)
                    };
                    match read {
                        Ok(d) => fragments.push(d),
                        Err(e) => return Ok(Outcome::failed(format!("{name}: {e}"))),
                    }
                }
            }
        }
        let new = join(&fragments, a.str("delimiter").as_deref());
        let checksum = sha1_hex(&new);
        let md5sum = hex(&Md5::digest(&new));
        let Ok(new_text) = String::from_utf8(new) else {
            return Ok(Outcome::failed(
                "the fragments are not UTF-8 text; herd assembles text files only",
            ));
        };
        let old = ctx
            .host
            .read_file(&dest)
            .await?
            .map(|b| String::from_utf8_lossy(&b).into_owned());
        let mut out = write_back(
            ctx,
            &a,
            &dest,
            old.as_deref(),
            &new_text,
            "OK",
            &dest,
            "backup_file",
        )
        .await?;
        if out.failed {
            return Ok(out);
        }
        // assemble shows no diff and says OK whatever changed; assembled
        // on the controller, the result is that of the copy that sends it,
        // which says nothing.
        out.diff.clear();
        out.msg = remote_src.then(|| "OK".into());
        out = out
            .with("src", src)
            .with("dest", dest.clone())
            .with("checksum", checksum)
            .with("md5sum", md5sum);
        with_path_info(ctx.host, out, &dest).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_as_ansible() {
        let f = |s: &str| s.as_bytes().to_vec();
        assert_eq!(join(&[f("a\n"), f("b")], None), b"a\nb");
        assert_eq!(join(&[f("a"), f("b\n")], None), b"a\nb\n");
        assert_eq!(join(&[f("a\n"), f("b\n")], Some("#--")), b"a\n#--\nb\n");
        assert_eq!(join(&[f("a"), f("b")], Some("--\\n")), b"a\n--\nb");
        assert_eq!(join(&[], Some("x")), b"");
    }
}
