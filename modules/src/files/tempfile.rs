//! tempfile — create a temporary file or directory on the host.
//!
//! Its name is PREFIX + 8 random characters + SUFFIX, created exclusively
//! (a file 0600, a directory 0700). herd does not remove it: use `file`
//! with state=absent when done. Skipped in check mode, as in Ansible.
//!
//! Arguments:
//!   state    file (default) or directory
//!   path     the directory to create it in (default: $TMPDIR or /tmp)
//!   prefix   default `ansible.`
//!   suffix   default empty
//!
//! Returns: path, and what is there (mode, owner, group, uid, gid, size,
//! state).
//!
//! Tested: tests/module_slurp.rs (file and directory, prefix/suffix, check
//! mode), the BusyBox SSH playbook (tests/ssh_busybox.rs); compared with
//! ansible-playbook in run conformance case 32.

use std::time::{SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use sha1::{Digest, Sha1};

use crate::api::{shell_quote, ExecOptions, HostError, Module, ModuleContext, Outcome};
use crate::args::{Param, Spec};

pub struct TempFile;

static SPEC: Spec = Spec {
    module: "tempfile",
    params: &[
        Param::str("state")
            .default("file")
            .choices(&["file", "directory"]),
        Param::path("path"),
        Param::str("prefix").default("ansible."),
        Param::str("suffix").default(""),
    ],
    mutually_exclusive: &[],
    required_one_of: &[],
};

/// Random name parts, as Python's tempfile draws them (lowercase letters,
/// digits, underscore).
fn random_names(n: usize) -> Vec<String> {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789_";
    let seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    (0..n)
        .map(|i| {
            let h = Sha1::digest(format!("{seed}:{}:{i}", std::process::id()));
            h.iter()
                .take(8)
                .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
                .collect()
        })
        .collect()
}

#[async_trait]
impl Module for TempFile {
    fn name(&self) -> &'static str {
        "tempfile"
    }

    fn spec(&self) -> Option<&'static Spec> {
        Some(&SPEC)
    }

    async fn run(&self, ctx: &ModuleContext<'_>) -> Result<Outcome, HostError> {
        let a = match SPEC.parse(ctx).await? {
            Ok(a) => a,
            Err(o) => return Ok(o),
        };
        if ctx.check_mode {
            return Ok(Outcome {
                skipped: true,
                ..Outcome::ok()
            });
        }
        let dir = match a.str("path") {
            Some(p) => shell_quote(&p),
            None => "\"${TMPDIR:-/tmp}\"".to_string(),
        };
        let prefix = a.str_or("prefix", "ansible.");
        let suffix = a.str_or("suffix", "");
        let create = if a.str_or("state", "file") == "directory" {
            "mkdir -m 700 -- \"$f\" 2>/dev/null"
        } else {
            // noclobber makes the redirection fail if the name is taken.
            "(set -C; umask 077; : > \"$f\") 2>/dev/null"
        };
        let candidates: Vec<String> = random_names(8)
            .into_iter()
            .map(|r| shell_quote(&format!("{prefix}{r}{suffix}")))
            .collect();
        let script = format!(
            "d={dir}; for n in {}; do f=\"${{d%/}}/$n\"; if {create}; then printf %s \"$f\"; exit 0; fi; done; echo \"could not create a temporary file in $d\" >&2; exit 1",
            candidates.join(" ")
        );
        let r = ctx.host.exec(&script, &ExecOptions::default()).await?;
        if r.rc != 0 {
            return Ok(Outcome::failed(r.stderr_text().trim().to_string()));
        }
        // As Ansible's, the result describes the new path (mode, owner,
        // state, size…).
        let path = r.stdout_text();
        let out = Outcome::changed().with("path", path.clone());
        super::edit::with_path_info(ctx.host, out, &path).await
    }
}
