//! lineinfile — make sure one line is in a file (or is not), replacing
//! the line a regular expression or a string finds.
//!
//! The file is read, the new content computed here, and written back
//! atomically, keeping mode and owner.
//!
//! Arguments:
//!   path (dest, destfile, name)   the file (required)
//!   state           present (default) or absent
//!   line (value)    the line (required with state=present)
//!   regexp (regex)  Python regular expression: the last matching line is
//!                   replaced (the first with firstmatch); with state=absent
//!                   every matching line is removed
//!   search_string   a literal string instead of regexp
//!   backrefs        line may use \1 / \g<name> from regexp; nothing is
//!                   added when regexp does not match
//!   insertafter     EOF (default) or a regexp: where a new line goes
//!   insertbefore    BOF or a regexp
//!   firstmatch      use the first match of insertafter/insertbefore/regexp
//!   create          create the file if missing (default false)
//!   backup          keep a timestamped copy of the old file
//!   validate        command checking the new file, `%s` being its path
//!   mode, owner, group   attributes of the file
//!
//! Returns: changed, msg ('line added', 'line replaced', 'N line(s)
//! removed'), backup, found (state=absent). The diff entries with their
//! headers always, the content in them with --diff.
//!
//! Tested: tests/module_lineinfile.rs (regexp, search_string,
//! insertafter/before incl. BOF/EOF, backrefs, firstmatch, create, backup,
//! validate, check, diff, awkward names), rerun with a BusyBox userland
//! (tests/module_busybox.rs) and in the BusyBox SSH playbook
//! (tests/ssh_busybox.rs); compared with ansible-playbook in run
//! conformance cases 15 and 31.

use async_trait::async_trait;
use fancy_regex::Regex;

use super::edit::{read_current, set_editor_diff, write_back};
use super::pyre;
use crate::api::{HostError, Module, ModuleContext, Outcome};
use crate::args::{Param, Spec};
use crate::file_spec;

pub struct LineInFile;

static SPEC: Spec = file_spec!(
    "lineinfile",
    [
        Param::path("path")
            .required()
            .aliases(&["dest", "destfile", "name"]),
        Param::str("state")
            .default("present")
            .choices(&["absent", "present"]),
        Param::str("regexp").aliases(&["regex"]),
        Param::str("search_string"),
        Param::str("line").aliases(&["value"]),
        Param::str("insertafter"),
        Param::str("insertbefore"),
        Param::bool("backrefs").default("false"),
        Param::bool("create").default("false"),
        Param::bool("backup").default("false"),
        Param::bool("firstmatch").default("false"),
        Param::str("validate"),
    ],
    &[
        &["insertbefore", "insertafter"],
        &["regexp", "search_string"],
        &["backrefs", "search_string"],
    ],
    &[]
);

/// What identifies the line.
pub struct LineSpec {
    pub regexp: Option<Regex>,
    pub search_string: Option<String>,
    pub line: String,
    pub insertafter: Option<String>,
    pub insertbefore: Option<String>,
    pub backrefs: bool,
    pub firstmatch: bool,
}

/// Lines with their endings, as Python's `readlines()`.
fn split_keep(text: &str) -> Vec<String> {
    text.split_inclusive('\n').map(str::to_string).collect()
}

/// Whether line `i` exists and is `line` (ending aside); never panics.
fn same(lines: &[String], i: usize, line: &str) -> bool {
    lines.get(i).is_some_and(|l| strip_eol(l) == line)
}

fn strip_eol(l: &str) -> &str {
    l.trim_end_matches(['\r', '\n'])
}

/// A line as the regexp sees it: Python's `$` matches before a final
/// newline, fancy-regex's only at the end, so the newline is left out.
fn for_search(l: &str) -> &str {
    l.strip_suffix('\n').unwrap_or(l)
}

/// state=present on `text`; pure. Returns the new text and the message.
pub fn present(text: &str, s: &LineSpec) -> Result<(String, String), String> {
    let mut lines = split_keep(text);
    let ins_re = match (&s.insertafter, &s.insertbefore) {
        (Some(a), _) if a != "BOF" && a != "EOF" => Some(pyre::compile(a, false, false)?),
        (None, Some(b)) if b != "BOF" => Some(pyre::compile(b, false, false)?),
        _ => None,
    };
    let mut index = [-1isize, -1isize];
    let mut matched: Option<Option<String>> = None; // Some(expanded line)
    let mut exact = false;
    if let Some(re) = &s.regexp {
        for (i, l) in lines.iter().enumerate() {
            if let Ok(Some(caps)) = re.captures(for_search(l)) {
                index[0] = i as isize;
                matched = Some(if s.backrefs {
                    Some(pyre::expand(&s.line, &caps)?)
                } else {
                    None
                });
                if s.firstmatch {
                    break;
                }
            }
        }
    }
    if let Some(ss) = &s.search_string {
        for (i, l) in lines.iter().enumerate() {
            if l.contains(ss.as_str()) {
                index[0] = i as isize;
                matched = Some(None);
                if s.firstmatch {
                    break;
                }
            }
        }
    }
    if matched.is_none() {
        for (i, l) in lines.iter().enumerate() {
            if strip_eol(l) == s.line {
                index[0] = i as isize;
                exact = true;
            } else if let Some(re) = &ins_re {
                if pyre::search(re, for_search(l)) {
                    if s.insertafter.is_some() {
                        index[1] = i as isize + 1;
                    } else {
                        index[1] = i as isize;
                    }
                    if s.firstmatch {
                        break;
                    }
                }
            }
        }
    }
    let line = &s.line;
    let added = |lines: &mut Vec<String>, at: usize| {
        lines.insert(at, format!("{line}\n"));
        "line added".to_string()
    };
    let mut msg = String::new();
    if index[0] != -1 {
        let i0 = index[0] as usize;
        let mut new_line = match &matched {
            Some(Some(expanded)) => expanded.clone(),
            _ => line.clone(),
        };
        if !new_line.ends_with('\n') {
            new_line.push('\n');
        }
        let no_match = s.regexp.is_none() && s.search_string.is_none() && matched.is_none();
        if no_match && !exact {
            // Only an insertafter/insertbefore line was found.
            let i1 = index[1];
            if s.insertafter.as_deref().is_some_and(|a| a != "EOF") {
                if let Some(last) = lines.last_mut() {
                    if !last.ends_with(['\n', '\r']) {
                        last.push('\n');
                    }
                }
                let i1 = i1.max(0) as usize;
                if lines.len() == i1 {
                    if !same(&lines, i1.saturating_sub(1), line) {
                        lines.push(format!("{line}\n"));
                        msg = "line added".into();
                    }
                } else if !same(&lines, i1, line) {
                    msg = added(&mut lines, i1);
                }
            } else if s.insertbefore.as_deref().is_some_and(|b| b != "BOF") {
                if i1 <= 0 {
                    let at = i1.max(0) as usize;
                    if !same(&lines, at, line) {
                        msg = added(&mut lines, at);
                    }
                } else if !same(&lines, (i1 as usize).saturating_sub(1), line) {
                    msg = added(&mut lines, i1 as usize);
                }
            }
        } else if lines[i0] != new_line {
            lines[i0] = new_line;
            msg = "line replaced".into();
        }
    } else if s.backrefs {
        // A backrefs line is only ever a replacement.
    } else if s.insertbefore.as_deref() == Some("BOF") || s.insertafter.as_deref() == Some("BOF") {
        msg = added(&mut lines, 0);
    } else if s.insertafter.as_deref() == Some("EOF") || index[1] == -1 {
        if let Some(last) = lines.last() {
            if !last.ends_with(['\n', '\r']) {
                lines.push("\n".into());
            }
        }
        lines.push(format!("{line}\n"));
        msg = "line added".into();
    } else if s.insertafter.is_some() {
        let i1 = index[1] as usize;
        if lines.len() == i1 {
            if !same(&lines, i1.saturating_sub(1), line) {
                lines.push(format!("{line}\n"));
                msg = "line added".into();
            }
        } else if !same(&lines, i1, line) {
            msg = added(&mut lines, i1);
        }
    } else {
        msg = added(&mut lines, index[1] as usize);
    }
    Ok((lines.concat(), msg))
}

/// state=absent on `text`; pure. Returns the new text and how many lines
/// were removed.
pub fn absent(text: &str, s: &LineSpec, line_given: bool) -> (String, usize) {
    let lines = split_keep(text);
    let mut found = 0;
    let kept: Vec<String> = lines
        .into_iter()
        .filter(|l| {
            let m = if let Some(re) = &s.regexp {
                pyre::search(re, for_search(l))
            } else if let Some(ss) = &s.search_string {
                l.contains(ss.as_str())
            } else {
                line_given && strip_eol(l) == s.line
            };
            found += usize::from(m);
            !m
        })
        .collect();
    (kept.concat(), found)
}

#[async_trait]
impl Module for LineInFile {
    fn name(&self) -> &'static str {
        "lineinfile"
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
        let state = a.str_or("state", "present");
        let regexp = match a
            .str("regexp")
            .map(|r| pyre::compile(&r, false, false))
            .transpose()
        {
            Ok(r) => r,
            Err(e) => return Ok(Outcome::failed(e)),
        };
        let mut warnings = Vec::new();
        if a.str("regexp").as_deref() == Some("") || a.str("search_string").as_deref() == Some("") {
            let what = if a.str("regexp").as_deref() == Some("") {
                "regular expression"
            } else {
                "search string"
            };
            warnings.push(format!(
                "The {what} is an empty string, which will match every line in the file. This may have unintended consequences, such as replacing the last line in the file rather than appending."
            ));
        }
        let mut spec = LineSpec {
            regexp,
            search_string: a.str("search_string"),
            line: a.str_or("line", ""),
            insertafter: a.str("insertafter"),
            insertbefore: a.str("insertbefore"),
            backrefs: a.bool_or("backrefs", false),
            firstmatch: a.bool_or("firstmatch", false),
        };
        let cur = match read_current(ctx, &path).await? {
            Ok(c) => c,
            Err(o) => return Ok(o),
        };
        let header = format!("{path} (content)");
        let mut out = if state == "present" {
            if spec.backrefs && spec.regexp.is_none() {
                return Ok(Outcome::failed("regexp is required with backrefs=true"));
            }
            if !a.has("line") {
                return Ok(Outcome::failed("line is required with state=present"));
            }
            if spec.insertafter.is_none() && spec.insertbefore.is_none() {
                spec.insertafter = Some("EOF".into());
            }
            if cur.text.is_none() && !a.bool_or("create", false) {
                return Ok(
                    Outcome::failed(format!("Destination {path} does not exist !")).with("rc", 257),
                );
            }
            let old = cur.text.as_deref().unwrap_or("");
            let (new, msg) = match present(old, &spec) {
                Ok(x) => x,
                Err(e) => return Ok(Outcome::failed(e)),
            };
            let mut o = write_back(
                ctx,
                &a,
                &path,
                cur.text.as_deref(),
                &new,
                &msg,
                &header,
                "backup",
            )
            .await?;
            // A created file that stays empty is still a change.
            o.changed |= cur.text.is_none() && !ctx.check_mode;
            set_editor_diff(ctx, &mut o, &path, cur.text.as_deref());
            o
        } else {
            if !a.has("line") && spec.regexp.is_none() && spec.search_string.is_none() {
                return Ok(Outcome::failed(
                    "one of line, search_string, or regexp is required with state=absent",
                ));
            }
            let Some(old) = cur.text.as_deref() else {
                let mut o = Outcome::ok();
                o.msg = Some("file not present".into());
                return Ok(o);
            };
            let (new, found) = absent(old, &spec, a.has("line"));
            let msg = if found > 0 {
                format!("{found} line(s) removed")
            } else {
                String::new()
            };
            let mut o = write_back(ctx, &a, &path, Some(old), &new, &msg, &header, "backup")
                .await?
                .with("found", found);
            set_editor_diff(ctx, &mut o, &path, Some(old));
            o
        };
        out.values.entry("backup").or_insert("".into());
        out.warnings.extend(warnings);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(line: &str) -> LineSpec {
        LineSpec {
            regexp: None,
            search_string: None,
            line: line.into(),
            insertafter: Some("EOF".into()),
            insertbefore: None,
            backrefs: false,
            firstmatch: false,
        }
    }

    #[test]
    fn adds_replaces_and_keeps() {
        assert_eq!(
            present("a\nb", &spec("c")).unwrap(),
            ("a\nb\nc\n".into(), "line added".into())
        );
        assert_eq!(present("a\nc\n", &spec("c")).unwrap().1, "");
        let mut s = spec("port=2");
        s.regexp = Some(pyre::compile("^port=", false, false).unwrap());
        assert_eq!(present("x\nport=1\ny\n", &s).unwrap().0, "x\nport=2\ny\n");
        let mut s = spec("first");
        s.insertafter = None;
        s.insertbefore = Some("BOF".into());
        assert_eq!(present("a\n", &s).unwrap().0, "first\na\n");
    }

    #[test]
    fn insertafter_and_backrefs() {
        let mut s = spec("new");
        s.insertafter = Some("^b".into());
        assert_eq!(present("a\nb\nc\n", &s).unwrap().0, "a\nb\nnew\nc\n");
        let mut s = spec("new");
        s.insertafter = None;
        s.insertbefore = Some("^c".into());
        assert_eq!(present("a\nb\nc\n", &s).unwrap().0, "a\nb\nnew\nc\n");
        let mut s = spec(r"\1=on");
        s.backrefs = true;
        s.regexp = Some(pyre::compile(r"^(\w+)=off$", false, false).unwrap());
        assert_eq!(present("x=off\n", &s).unwrap().0, "x=on\n");
        assert_eq!(present("y=maybe\n", &s).unwrap().0, "y=maybe\n");
    }

    #[test]
    fn removes() {
        let mut s = spec("");
        s.regexp = Some(pyre::compile("^#", false, false).unwrap());
        assert_eq!(absent("#a\nb\n#c\n", &s, false), ("b\n".into(), 2));
        assert_eq!(absent("a\nb\n", &spec("b"), true), ("a\n".into(), 1));
    }

    #[test]
    fn never_panics() {
        let texts = ["", "\n", "a", "a\n", "x\nx", "\n\n", "a\r\nb"];
        let places = [
            None,
            Some("BOF"),
            Some("EOF"),
            Some("^a"),
            Some("^zz"),
            Some("x"),
        ];
        for text in texts {
            for after in places {
                for before in places {
                    for re in [None, Some("^a"), Some("zz"), Some("")] {
                        for backrefs in [false, true] {
                            let mut s = spec("x");
                            s.insertafter = after.map(str::to_string);
                            s.insertbefore = before.map(str::to_string);
                            s.regexp = re.map(|r| pyre::compile(r, false, false).unwrap());
                            s.backrefs = backrefs;
                            let _ = present(text, &s);
                            let _ = absent(text, &s, true);
                        }
                    }
                }
            }
        }
    }
}
