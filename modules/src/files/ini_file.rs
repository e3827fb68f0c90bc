//! ini_file — set, add or remove options and sections of an INI file
//! (community.general.ini_file).
//!
//! The file is edited as community.general's module edits it: an option is
//! found in its section (commented-out `#option`/`;option` lines count
//! unless modify_inactive_option is off) and rewritten in place; a missing
//! one is added after the section's last non-blank, non-comment line; a
//! missing section is added at the end. The file is written back
//! atomically only when it changes.
//!
//! Tested: on real files (tests/module_ini_file.rs); its steps were checked
//! against community.general.ini_file.
//!
//! Arguments:
//!   path (dest)        the file (required)
//!   section            the section (none: the options before any section)
//!   section_has_values pick among same-named sections by their options:
//!                      a list of {option, value | values}
//!   option, value | values   the option and its value(s)
//!   state              present (default) or absent; absent without option
//!                      removes the section
//!   exclusive          present: remove other values of the option;
//!                      absent: remove it whatever its value (default yes)
//!   no_extra_spaces    write `option=value` instead of `option = value`
//!   ignore_spaces      a value differing only in spaces is no change
//!   allow_no_value     options without a value
//!   modify_inactive_option  reuse a commented-out option line (default yes)
//!   create             create a missing file (default yes)
//!   backup, follow, mode, owner, group
//!
//! Returns: path, msg (option changed, option added, section and option
//! added, only section added, section removed, OK), backup_file; diff with
//! --diff.

use async_trait::async_trait;
use serde_json::Value;

use super::edit::{read_current, with_path_info, write_back};
use crate::api::{Diff, HostError, Module, ModuleContext, Outcome};
use crate::args::{Param, Spec};
use crate::file_spec;

pub struct IniFile;

static SPEC: Spec = file_spec!(
    "ini_file",
    [
        Param::path("path").required().aliases(&["dest"]),
        Param::str("section"),
        Param::raw("section_has_values"),
        Param::str("option"),
        Param::str("value"),
        Param::list("values"),
        Param::bool("backup").default("false"),
        Param::str("state")
            .choices(&["absent", "present"])
            .default("present"),
        Param::bool("exclusive").default("true"),
        Param::bool("no_extra_spaces").default("false"),
        Param::bool("ignore_spaces").default("false"),
        Param::bool("allow_no_value").default("false"),
        Param::bool("modify_inactive_option").default("true"),
        Param::bool("create").default("true"),
        Param::bool("follow").default("false"),
    ],
    &[&["value", "values"]],
    &[]
);

/// One `section_has_values` condition.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Condition {
    pub option: String,
    pub values: Vec<String>,
}

/// What to do, typed.
#[derive(Clone, Debug, Default)]
pub struct Edit {
    pub section: Option<String>,
    pub section_has_values: Vec<Condition>,
    pub option: Option<String>,
    pub values: Vec<String>,
    pub present: bool,
    pub exclusive: bool,
    pub no_extra_spaces: bool,
    pub ignore_spaces: bool,
    pub allow_no_value: bool,
    pub modify_inactive_option: bool,
}

/// A line's parts when it sets `option`: (comment mark, value).
fn match_opt(option: &str, line: &str, inactive_too: bool) -> Option<(bool, String)> {
    let blank = |c: char| c == ' ' || c == '\t';
    let rest = line.trim_start_matches(blank);
    let (commented, rest) = match rest.chars().next() {
        Some('#' | ';') if inactive_too => (true, rest[1..].trim_start_matches(blank)),
        _ => (false, rest),
    };
    let rest = rest.strip_prefix(option)?;
    let rest = rest.trim_start_matches(blank);
    let value = if let Some(v) = rest.strip_prefix('=') {
        v.trim_start_matches(blank)
    } else if rest.is_empty() || rest == "\n" || rest == "\r\n" {
        // `$` in Python's re matches before a final newline.
        rest
    } else {
        return None;
    };
    // `.*` stops at a newline.
    let value = value.split('\n').next().unwrap_or("");
    Some((commented, value.to_string()))
}

fn assignment(e: &Edit, option: &str, value: &str) -> String {
    if e.no_extra_spaces {
        format!("{option}={value}\n")
    } else {
        format!("{option} = {value}\n")
    }
}

const FAKE_SECTION: &str = "ad01e11446efb704fcdbdb21f2c43757423d91c5";

fn is_blank_or_comment(line: &str) -> bool {
    let t = line.trim_end_matches('\n').trim_start_matches([' ', '\t']);
    t.is_empty() || t.starts_with('#') || t.starts_with(';')
}

/// `^\[\s*SECTION\s*]`.
fn starts_section(line: &str, section: &str) -> bool {
    let Some(rest) = line.strip_prefix('[') else {
        return false;
    };
    let rest = rest.trim_start();
    let Some(rest) = rest.strip_prefix(section.trim()) else {
        return false;
    };
    rest.trim_start().starts_with(']')
}

/// Applies the edit to the file's lines (each ending in `\n`); returns
/// whether anything changed and Ansible's message.
pub fn apply(lines_in: &[String], e: &Edit) -> (Vec<String>, bool, &'static str) {
    let mut values: Vec<String> = Vec::new();
    for v in &e.values {
        if !values.contains(v) {
            values.push(v.clone());
        }
    }
    let mut changed = false;
    let mut ini: Vec<String> = lines_in.to_vec();
    if ini.is_empty() {
        ini.push("\n".into());
    }
    if let Some(last) = ini.last_mut() {
        if !last.ends_with('\n') {
            last.push('\n');
            changed = true;
        }
    }
    ini.insert(0, format!("[{FAKE_SECTION}]"));
    ini.push("[".into());
    let section = e
        .section
        .clone()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| FAKE_SECTION.to_string());
    let inactive = e.modify_inactive_option;
    let option = e.option.clone().filter(|o| !o.is_empty());

    let has_values = |lines: &[String]| {
        e.section_has_values.iter().all(|c| {
            lines.iter().any(|l| {
                match_opt(&c.option, l, true)
                    .is_some_and(|(_, v)| c.values.is_empty() || c.values.contains(&v))
            })
        })
    };
    let mut within = false;
    let (mut start, mut end) = (0, 0);
    for (i, line) in ini.iter().enumerate() {
        if within && line.starts_with('[') {
            if has_values(&ini[start..i]) {
                end = i;
                break;
            }
            within = false;
            start = 0;
            end = 0;
        }
        if starts_section(line, &section) {
            within = true;
            start = i;
        }
    }
    let before: Vec<String> = ini[..start].to_vec();
    let mut sect: Vec<String> = ini[start..end].to_vec();
    let after: Vec<String> = ini[end..].to_vec();
    let mut touched = vec![false; sect.len()];
    let mut msg = "OK";
    let mut no_value_present = false;

    let update = |sect: &mut Vec<String>,
                  touched: &mut Vec<bool>,
                  i: usize,
                  newline: String,
                  changed: &mut bool,
                  msg: &mut &'static str| {
        let opt = option.as_deref().unwrap_or("");
        let mut differs = None;
        if e.ignore_spaces {
            if let Some((false, old)) = match_opt(opt, &sect[i], true) {
                let new = match_opt(opt, &newline, true).map(|(_, v)| v);
                differs = Some(Some(old) != new);
            }
        }
        let differs = differs.unwrap_or(sect[i] != newline);
        if differs {
            sect[i] = newline;
            *changed = true;
            *msg = "option changed";
        }
        touched[i] = true;
    };

    if e.present {
        if let Some(opt) = &option {
            let mut i = 0;
            while i < sect.len() {
                if let Some((_, found)) = match_opt(opt, &sect[i], inactive) {
                    if !values.is_empty() && values.contains(&found) {
                        let newline = if found.is_empty() && e.allow_no_value {
                            no_value_present = true;
                            format!("{opt}\n")
                        } else {
                            assignment(e, opt, &found)
                        };
                        update(&mut sect, &mut touched, i, newline, &mut changed, &mut msg);
                        if let Some(p) = values.iter().position(|v| *v == found) {
                            values.remove(p);
                        }
                    } else if values.is_empty() && e.allow_no_value {
                        update(
                            &mut sect,
                            &mut touched,
                            i,
                            format!("{opt}\n"),
                            &mut changed,
                            &mut msg,
                        );
                        no_value_present = true;
                        break;
                    }
                }
                i += 1;
            }
        }
    }
    if e.present && e.exclusive && !e.allow_no_value {
        let opt = option.clone().unwrap_or_default();
        if !values.is_empty() {
            for i in 0..sect.len() {
                if !touched[i] && match_opt(&opt, &sect[i], inactive).is_some() {
                    let v = values.remove(0);
                    let newline = assignment(e, &opt, &v);
                    update(&mut sect, &mut touched, i, newline, &mut changed, &mut msg);
                    if values.is_empty() {
                        break;
                    }
                }
            }
        }
        let mut i = sect.len();
        while i > 1 {
            i -= 1;
            if !touched[i] && match_opt(&opt, &sect[i], inactive).is_some() {
                sect.remove(i);
                touched.remove(i);
                changed = true;
                msg = "option changed";
            }
        }
    }
    if e.present {
        let mut i = sect.len();
        while i > 0 {
            if !is_blank_or_comment(&sect[i - 1]) {
                if let (Some(opt), false) = (&option, values.is_empty()) {
                    for v in values.iter().rev() {
                        sect.insert(i, assignment(e, opt, v));
                        msg = "option added";
                        changed = true;
                    }
                } else if let (Some(opt), true) = (&option, e.allow_no_value && !no_value_present) {
                    sect.insert(i, format!("{opt}\n"));
                    msg = "option added";
                    changed = true;
                }
                break;
            }
            i -= 1;
        }
    } else if let Some(opt) = &option {
        let keep = |l: &String| match match_opt(opt, l, false) {
            None => true,
            Some((_, v)) => !e.exclusive && !values.contains(&v),
        };
        if e.exclusive || !values.is_empty() {
            let kept: Vec<String> = sect.iter().filter(|l| keep(l)).cloned().collect();
            if kept != sect {
                changed = true;
                msg = "option changed";
                sect = kept;
            }
        }
    } else if !sect.is_empty() {
        sect.clear();
        msg = "section removed";
        changed = true;
    }

    let mut out: Vec<String> = before;
    out.extend(sect);
    out.extend(after);
    out.remove(0);
    out.pop();
    if !within && e.present {
        out.push(format!("[{section}]\n"));
        msg = "section and option added";
        for c in &e.section_has_values {
            if Some(&c.option) != option.as_ref() {
                if !c.values.is_empty() {
                    for v in &c.values {
                        out.push(assignment(e, &c.option, v));
                    }
                } else if e.allow_no_value {
                    out.push(format!("{}\n", c.option));
                }
            } else if !e.exclusive {
                for v in &c.values {
                    if !values.contains(v) {
                        values.push(v.clone());
                    }
                }
            }
        }
        match &option {
            Some(opt) if !values.is_empty() => {
                for v in &values {
                    out.push(assignment(e, opt, v));
                }
            }
            Some(opt) if e.allow_no_value => out.push(format!("{opt}\n")),
            _ => msg = "only section added",
        }
        changed = true;
    }
    (out, changed, msg)
}

/// `section_has_values` as given.
fn conditions(v: Option<&Value>) -> Result<Vec<Condition>, String> {
    let Some(Value::Array(items)) = v else {
        return match v {
            None | Some(Value::Null) => Ok(Vec::new()),
            _ => Err("section_has_values must be a list of dicts".into()),
        };
    };
    items
        .iter()
        .map(|item| {
            let Value::Object(m) = item else {
                return Err("section_has_values must be a list of dicts".to_string());
            };
            let text = |v: &Value| match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let option = m
                .get("option")
                .map(text)
                .ok_or("missing required arguments: option found in section_has_values")?;
            if m.get("value").is_some_and(|v| !v.is_null())
                && m.get("values").is_some_and(|v| !v.is_null())
            {
                return Err(
                    "parameters are mutually exclusive: value|values found in section_has_values"
                        .into(),
                );
            }
            let values = match (m.get("value"), m.get("values")) {
                (Some(v), _) if !v.is_null() => vec![text(v)],
                (_, Some(Value::Array(vs))) => vs.iter().map(text).collect(),
                _ => Vec::new(),
            };
            Ok(Condition { option, values })
        })
        .collect()
}

#[async_trait]
impl Module for IniFile {
    fn name(&self) -> &'static str {
        "ini_file"
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
        let present = a.str_or("state", "present") == "present";
        let allow_no_value = a.bool_or("allow_no_value", false);
        let value = a.str("value");
        let values = a.list("values");
        if present
            && !allow_no_value
            && value.is_none()
            && values.as_ref().is_none_or(|v| v.is_empty())
        {
            return Ok(Outcome::failed(
                "Parameter 'value(s)' must be defined if state=present and allow_no_value=False.",
            ));
        }
        let section_has_values = match conditions(a.raw("section_has_values")) {
            Ok(c) => c,
            Err(msg) => return Ok(Outcome::failed(msg)),
        };
        let edit = Edit {
            section: a.str("section"),
            section_has_values,
            option: a.str("option"),
            values: value.map(|v| vec![v]).or(values).unwrap_or_default(),
            present,
            exclusive: a.bool_or("exclusive", true),
            no_extra_spaces: a.bool_or("no_extra_spaces", false),
            ignore_spaces: a.bool_or("ignore_spaces", false),
            allow_no_value,
            modify_inactive_option: a.bool_or("modify_inactive_option", true),
        };
        let cur = match read_current(ctx, &path).await? {
            Ok(c) => c,
            Err(o) => return Ok(o),
        };
        if cur.text.is_none() && !a.bool_or("create", true) {
            return Ok(
                Outcome::failed(format!("Destination {path} does not exist!")).with("rc", 257),
            );
        }
        let old = cur.text.clone().unwrap_or_default();
        // The file is read as utf-8-sig: a byte-order mark is dropped.
        let body = old.strip_prefix('\u{feff}').unwrap_or(&old);
        let lines: Vec<String> = body.split_inclusive('\n').map(str::to_string).collect();
        let (new_lines, changed, msg) = apply(&lines, &edit);
        let new = if changed {
            new_lines.concat()
        } else {
            old.clone()
        };
        let header = format!("{path} (content)");
        let mut out = write_back(
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
        if out.failed {
            return Ok(out);
        }
        // ini_file's message does not mention attributes.
        out.msg = Some(msg.to_string());
        // community.general's ini_file always returns its diff dict, the
        // texts filled in with --diff only.
        let (before, after) = if ctx.diff {
            (old.clone(), new.clone())
        } else {
            (String::new(), String::new())
        };
        out.diff.clear();
        out.set_diff(Diff {
            before,
            after,
            before_header: Some(header.clone()),
            after_header: Some(header),
            ..Diff::default()
        });
        let out = out.with("path", path.clone());
        with_path_info(ctx.host, out, &path).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(t: &str) -> Vec<String> {
        t.split_inclusive('\n').map(str::to_string).collect()
    }

    fn set(section: Option<&str>, option: &str, value: &str) -> Edit {
        Edit {
            section: section.map(str::to_string),
            option: Some(option.into()),
            values: vec![value.into()],
            present: true,
            exclusive: true,
            modify_inactive_option: true,
            ..Edit::default()
        }
    }

    fn run(text: &str, e: &Edit) -> (String, bool, &'static str) {
        let (l, c, m) = apply(&lines(text), e);
        (l.concat(), c, m)
    }

    #[test]
    fn adds_sections_and_options() {
        assert_eq!(
            run("", &set(Some("s"), "a", "1")),
            ("\n[s]\na = 1\n".into(), true, "section and option added")
        );
        assert_eq!(
            run("[s]\na = 1\n", &set(Some("s"), "a", "1")),
            ("[s]\na = 1\n".into(), false, "OK")
        );
        assert_eq!(
            run("[s]\na = 1\n\n[t]\n", &set(Some("s"), "b", "2")),
            ("[s]\na = 1\nb = 2\n\n[t]\n".into(), true, "option added")
        );
        assert_eq!(
            run("[s]\n#a = 0\n", &set(Some("s"), "a", "1")),
            ("[s]\na = 1\n".into(), true, "option changed")
        );
        assert_eq!(
            run("top=1\n[s]\n", &set(None, "top", "2")),
            ("top = 2\n[s]\n".into(), true, "option changed")
        );
    }

    #[test]
    fn removes() {
        let e = Edit {
            section: Some("s".into()),
            option: Some("a".into()),
            exclusive: true,
            ..Edit::default()
        };
        assert_eq!(
            run("[s]\na = 1\nb = 2\n", &e),
            ("[s]\nb = 2\n".into(), true, "option changed")
        );
        let e = Edit {
            section: Some("s".into()),
            ..Edit::default()
        };
        assert_eq!(
            run("[s]\na = 1\n[t]\n", &e),
            ("[t]\n".into(), true, "section removed")
        );
    }

    #[test]
    fn matches_options() {
        assert_eq!(match_opt("a", "  a=1\n", true), Some((false, "1".into())));
        assert_eq!(
            match_opt("a", "; a = x y\n", true),
            Some((true, "x y".into()))
        );
        assert_eq!(match_opt("a", "; a = x\n", false), None);
        assert_eq!(match_opt("a", "ab = 1\n", true), None);
        assert_eq!(match_opt("a", "a\n", true), Some((false, "".into())));
    }
}
