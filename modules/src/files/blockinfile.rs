//! blockinfile — keep a block of lines, between marker lines, in a file.
//!
//! Arguments:
//!   path (dest, destfile, name)   the file (required)
//!   state             present (default) or absent
//!   block (content)   the lines (empty: the block is removed)
//!   marker            marker line, `{mark}` replaced by marker_begin /
//!                     marker_end (default `# {mark} ANSIBLE MANAGED BLOCK`)
//!   marker_begin, marker_end   default BEGIN / END
//!   insertafter       EOF (default) or a regexp: a new block goes after
//!                     the last matching line
//!   insertbefore      BOF or a regexp
//!   append_newline, prepend_newline   a blank line after / before a new block
//!   create, backup, validate, mode, owner, group   as for lineinfile
//!
//! Returns: changed, msg ('Block inserted', 'Block removed', 'File
//! created'), backup_file. The diff entries with their
//! headers always, the content in them with --diff.
//!
//! Tested: tests/module_blockinfile.rs (absent, present, drift, check,
//! diff, bad args, awkward names), rerun with a BusyBox userland
//! (tests/module_busybox.rs) and in the BusyBox SSH playbook
//! (tests/ssh_busybox.rs); compared with ansible-playbook in run
//! conformance case 31; round trips counted in tests/module_round_trips.rs.

use async_trait::async_trait;

use super::edit::{read_current, set_editor_diff, write_back};
use super::pyre;
use crate::api::{HostError, Module, ModuleContext, Outcome};
use crate::args::{Param, Spec};
use crate::file_spec;

pub struct BlockInFile;

static SPEC: Spec = file_spec!(
    "blockinfile",
    [
        Param::path("path")
            .required()
            .aliases(&["dest", "destfile", "name"]),
        Param::str("state")
            .default("present")
            .choices(&["absent", "present"]),
        Param::str("marker").default("# {mark} ANSIBLE MANAGED BLOCK"),
        Param::str("block").default("").aliases(&["content"]),
        Param::str("insertafter"),
        Param::str("insertbefore"),
        Param::bool("create").default("false"),
        Param::bool("backup").default("false"),
        Param::str("validate"),
        Param::str("marker_begin").default("BEGIN"),
        Param::str("marker_end").default("END"),
        Param::bool("append_newline").default("false"),
        Param::bool("prepend_newline").default("false"),
    ],
    &[&["insertbefore", "insertafter"]],
    &[]
);

/// What the block is and where it goes.
#[derive(Clone, Debug, Default)]
pub struct BlockSpec {
    pub marker_begin: String,
    pub marker_end: String,
    pub block: String,
    pub present: bool,
    pub insertafter: Option<String>,
    pub insertbefore: Option<String>,
    pub append_newline: bool,
    pub prepend_newline: bool,
}

fn lines_keep(text: &str) -> Vec<String> {
    text.split_inclusive('\n').map(str::to_string).collect()
}

/// The new content; pure.
pub fn apply(original: Option<&str>, s: &BlockSpec) -> Result<String, String> {
    let text = original.unwrap_or("");
    let mut lines = lines_keep(text);
    let mut insertafter = s.insertafter.clone();
    if insertafter.is_none() && s.insertbefore.is_none() {
        insertafter = Some("EOF".into());
    }
    let insert_pat = match (&insertafter, &s.insertbefore) {
        (Some(a), _) if a != "EOF" => Some(a.clone()),
        (None, Some(b)) if b != "BOF" => Some(b.clone()),
        _ => None,
    };
    let marker0 = format!("{}\n", s.marker_begin);
    let marker1 = format!("{}\n", s.marker_end);
    let blocklines: Vec<String> = if s.present && !s.block.is_empty() {
        let mut block = s.block.clone();
        if !block.ends_with('\n') {
            block.push('\n');
        }
        std::iter::once(marker0.clone())
            .chain(lines_keep(&block))
            .chain(std::iter::once(marker1.clone()))
            .collect()
    } else {
        Vec::new()
    };
    let (mut n0, mut n1) = (None, None);
    for (i, l) in lines.iter().enumerate() {
        if *l == marker0 {
            n0 = Some(i);
        }
        if *l == marker1 {
            n1 = Some(i);
        }
    }
    let n0 = match (n0, n1) {
        (Some(a), Some(b)) => {
            let (lo, hi) = if a < b { (a, b) } else { (b, a) };
            lines.drain(lo..=hi);
            lo
        }
        _ => match &insert_pat {
            Some(pat) => {
                let multiline = pat.starts_with("(?m)");
                let re = pyre::compile(pat, false, false)?;
                let mut found = None;
                if multiline {
                    if let Ok(Some(m)) = re.find(text) {
                        let at = if insertafter.is_some() {
                            m.end()
                        } else {
                            m.start()
                        };
                        found = Some(text[..at].matches('\n').count());
                    }
                } else {
                    for (i, l) in lines.iter().enumerate() {
                        if pyre::search(&re, l.strip_suffix('\n').unwrap_or(l)) {
                            found = Some(i);
                        }
                    }
                }
                match found {
                    None => lines.len(),
                    Some(i) if insertafter.is_some() => i + 1,
                    Some(i) => i,
                }
            }
            None if s.insertbefore.is_some() => 0,
            None => lines.len(),
        },
    };
    let mut n0 = n0.min(lines.len());
    if n0 > 0 && !lines[n0 - 1].ends_with('\n') {
        lines[n0 - 1].push('\n');
    }
    if s.prepend_newline && s.present && n0 != 0 && lines[n0 - 1] != "\n" {
        lines.insert(n0, "\n".into());
        n0 += 1;
    }
    let after = n0 + blocklines.len();
    lines.splice(n0..n0, blocklines);
    if s.append_newline && s.present && after < lines.len() && lines[after] != "\n" {
        lines.insert(after, "\n".into());
    }
    Ok(lines.concat())
}

#[async_trait]
impl Module for BlockInFile {
    fn name(&self) -> &'static str {
        "blockinfile"
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
        let cur = match read_current(ctx, &path).await? {
            Ok(c) => c,
            Err(o) => return Ok(o),
        };
        let present = a.str_or("state", "present") == "present";
        if cur.text.is_none() {
            if !present {
                let mut o = Outcome::ok();
                o.msg = Some(format!("File {path} not present"));
                return Ok(o);
            }
            if !a.bool_or("create", false) {
                return Ok(Outcome::failed(format!("Path {path} does not exist !")).with("rc", 257));
            }
        }
        let marker = a.str_or("marker", "# {mark} ANSIBLE MANAGED BLOCK");
        let spec = BlockSpec {
            marker_begin: marker.replace("{mark}", &a.str_or("marker_begin", "BEGIN")),
            marker_end: marker.replace("{mark}", &a.str_or("marker_end", "END")),
            block: a.str_or("block", ""),
            present,
            insertafter: a.str("insertafter"),
            insertbefore: a.str("insertbefore"),
            append_newline: a.bool_or("append_newline", false),
            prepend_newline: a.bool_or("prepend_newline", false),
        };
        let new = match apply(cur.text.as_deref(), &spec) {
            Ok(n) => n,
            Err(e) => return Ok(Outcome::failed(e)),
        };
        let msg = if cur.text.as_deref() == Some(new.as_str()) {
            ""
        } else if cur.text.is_none() {
            "File created"
        } else if !spec.present || spec.block.is_empty() {
            "Block removed"
        } else {
            "Block inserted"
        };
        let header = format!("{path} (content)");
        let mut o = write_back(
            ctx,
            &a,
            &path,
            cur.text.as_deref(),
            &new,
            msg,
            &header,
            "backup_file",
        )
        .await?;
        o.changed |= cur.text.is_none();
        set_editor_diff(ctx, &mut o, &path, cur.text.as_deref());
        Ok(o)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(block: &str) -> BlockSpec {
        BlockSpec {
            marker_begin: "# BEGIN".into(),
            marker_end: "# END".into(),
            block: block.into(),
            present: true,
            ..BlockSpec::default()
        }
    }

    #[test]
    fn insert_replace_remove() {
        let s = spec("x\ny");
        assert_eq!(apply(Some("a"), &s).unwrap(), "a\n# BEGIN\nx\ny\n# END\n");
        let t = "a\n# BEGIN\nold\n# END\nb\n";
        assert_eq!(apply(Some(t), &s).unwrap(), "a\n# BEGIN\nx\ny\n# END\nb\n");
        let mut r = spec("");
        r.present = false;
        assert_eq!(apply(Some(t), &r).unwrap(), "a\nb\n");
        let mut s = spec("x");
        s.insertbefore = Some("BOF".into());
        assert_eq!(apply(Some("a\n"), &s).unwrap(), "# BEGIN\nx\n# END\na\n");
        let mut s = spec("x");
        s.insertafter = Some("^a".into());
        s.append_newline = true;
        assert_eq!(
            apply(Some("a\nb\n"), &s).unwrap(),
            "a\n# BEGIN\nx\n# END\n\nb\n"
        );
    }

    #[test]
    fn never_panics() {
        let texts = [
            "",
            "\n",
            "a",
            "# BEGIN\n",
            "# END\n# BEGIN\nx",
            "a\n# BEGIN\n# END",
        ];
        let places = [
            None,
            Some("BOF"),
            Some("EOF"),
            Some("^a"),
            Some("(?m)^a$"),
            Some("zz"),
        ];
        for text in texts {
            for after in places {
                for before in places {
                    for block in ["", "x", "x\n"] {
                        for (present, pre, app) in [(true, true, true), (false, false, false)] {
                            let mut s = spec(block);
                            s.insertafter = after.map(str::to_string);
                            s.insertbefore = before.map(str::to_string);
                            s.present = present;
                            s.prepend_newline = pre;
                            s.append_newline = app;
                            let _ = apply(Some(text), &s);
                            let _ = apply(None, &s);
                        }
                    }
                }
            }
        }
    }
}
