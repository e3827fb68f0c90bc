//! replace — replace every match of a Python regular expression in a
//! file.
//!
//! The pattern is applied to the whole file in MULTILINE mode, as
//! Ansible's `re.subn`; `\1`, `\g<1>` and `\g<name>` in the replacement
//! refer to groups.
//!
//! Arguments:
//!   path (dest, destfile, name)   the file (required; must exist)
//!   regexp            the pattern (required)
//!   replace           the replacement (default: empty, i.e. delete)
//!   after, before     only replace in the part of the file after / before
//!                     the first match of these patterns
//!   backup, validate, mode, owner, group   as for lineinfile
//!   encoding          the file's encoding (utf-8)
//!
//! Returns: changed, msg ('N replacements made'), rc, backup_file. With
//! --diff, the content.
//!
//! Tested: tests/module_replace.rs (after/before, groups, backup, validate,
//! check, diff, awkward names), rerun with a BusyBox userland
//! (tests/module_busybox.rs) and in the BusyBox SSH playbook
//! (tests/ssh_busybox.rs); compared with ansible-playbook in run
//! conformance case 31.

use async_trait::async_trait;

use super::edit::{read_current, write_back};
use super::pyre;
use crate::api::{HostError, Module, ModuleContext, Outcome};
use crate::args::{Param, Spec};
use crate::file_spec;

pub struct Replace;

static SPEC: Spec = file_spec!(
    "replace",
    [
        Param::path("path")
            .required()
            .aliases(&["dest", "destfile", "name"]),
        Param::str("regexp").required(),
        Param::str("replace").default(""),
        Param::str("after"),
        Param::str("before"),
        Param::bool("backup").default("false"),
        Param::str("validate"),
        Param::str("encoding").default("utf-8"),
    ],
    &[],
    &[]
);

/// The new content and the number of replacements, or `Ok(None)` when
/// after/before do not match; pure.
pub fn apply(
    contents: &str,
    regexp: &str,
    replace: &str,
    after: Option<&str>,
    before: Option<&str>,
) -> Result<Option<(String, usize)>, String> {
    let section_pat = match (after, before) {
        (Some(a), Some(b)) => Some(format!("{a}(?P<subsection>.*?){b}")),
        (Some(a), None) => Some(format!("{a}(?P<subsection>.*)")),
        (None, Some(b)) => Some(format!("(?P<subsection>.*){b}")),
        (None, None) => None,
    };
    let (start, end) = match &section_pat {
        Some(p) => {
            let re = pyre::compile(p, false, true)?;
            match re.captures(contents) {
                Ok(Some(c)) => match c.name("subsection") {
                    Some(m) => (m.start(), m.end()),
                    None => return Ok(None),
                },
                _ => return Ok(None),
            }
        }
        None => (0, contents.len()),
    };
    let re = pyre::compile(regexp, true, false)?;
    let section = &contents[start..end];
    let (new_section, n) = pyre::subn(&re, replace, section)?;
    if n == 0 || new_section == section {
        return Ok(Some((contents.to_string(), 0)));
    }
    Ok(Some((
        format!("{}{new_section}{}", &contents[..start], &contents[end..]),
        n,
    )))
}

#[async_trait]
impl Module for Replace {
    fn name(&self) -> &'static str {
        "replace"
    }

    fn spec(&self) -> Option<&'static Spec> {
        Some(&SPEC)
    }

    async fn run(&self, ctx: &ModuleContext<'_>) -> Result<Outcome, HostError> {
        let a = match SPEC.parse(ctx).await? {
            Ok(a) => a,
            Err(o) => return Ok(o),
        };
        let path = a.str_or("path", "");
        let enc = a.str_or("encoding", "utf-8").to_ascii_lowercase();
        if enc != "utf-8" && enc != "utf8" {
            return Ok(Outcome::failed(format!(
                "encoding {enc} is not supported; herd edits UTF-8 files"
            )));
        }
        let cur = match read_current(ctx, &path).await? {
            Ok(c) => c,
            Err(o) => return Ok(o),
        };
        let Some(old) = cur.text else {
            return Ok(Outcome::failed(format!("Path {path} does not exist !")).with("rc", 257));
        };
        let after = a.str("after").filter(|s| !s.is_empty());
        let before = a.str("before").filter(|s| !s.is_empty());
        let r = apply(
            &old,
            &a.str_or("regexp", ""),
            &a.str_or("replace", ""),
            after.as_deref(),
            before.as_deref(),
        );
        let (new, n) = match r {
            Err(e) => {
                return Ok(Outcome::failed(format!(
                    "Unable to process replace due to error: {e}"
                )))
            }
            Ok(None) => {
                let mut o = Outcome::ok().with("rc", 0);
                o.msg = Some("Pattern for before/after params did not match the given file".into());
                return Ok(o);
            }
            Ok(Some(x)) => x,
        };
        let msg = if n > 0 {
            format!("{n} replacements made")
        } else {
            String::new()
        };
        let mut o =
            write_back(ctx, &a, &path, Some(&old), &new, &msg, &path, "backup_file").await?;
        // replace returns its diff as one dict, and only for a change of
        // the content.
        let diffs = std::mem::take(&mut o.diff);
        if new != old {
            if let Some(d) = diffs.into_iter().next() {
                o.set_diff(d);
            }
        }
        Ok(o.with("rc", 0))
    }
}

#[cfg(test)]
mod tests {
    use super::apply;

    #[test]
    fn sections_and_groups() {
        assert_eq!(
            apply("a=1\nb=2\n", r"^(\w)=(\d)$", r"\2=\1", None, None).unwrap(),
            Some(("1=a\n2=b\n".into(), 2))
        );
        assert_eq!(
            apply(
                "x\n[s]\nx\n[e]\nx\n",
                "^x$",
                "y",
                Some(r"\[s\]"),
                Some(r"\[e\]")
            )
            .unwrap(),
            Some(("x\n[s]\ny\n[e]\nx\n".into(), 1))
        );
        assert_eq!(apply("x", "x", "y", Some("nope"), None).unwrap(), None);
        assert_eq!(
            apply("x", "z", "y", None, None).unwrap(),
            Some(("x".into(), 0))
        );
    }
}
