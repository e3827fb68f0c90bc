//! `--diff` output: a module's `diff` result as the unified diff Ansible
//! prints.

use herd_modules::api::Value;
use similar::{DiffTag, TextDiff};

/// Lines of context around a change (Ansible's `DIFF_CONTEXT`).
const CONTEXT: usize = 3;

/// The text Ansible prints for a module's `diff` result (one mapping or a
/// list of them): `diff skipped: …` notes, then `--- before: path`,
/// `+++ after: path` and the hunks, then a blank line; a `prepared` text as
/// it is. Empty when nothing differs.
pub fn render_diff(diff: &Value) -> String {
    let items: Vec<&Value> = match diff {
        Value::Array(items) => items.iter().collect(),
        other => vec![other],
    };
    let mut out = String::new();
    for d in items {
        let Value::Object(d) = d else { continue };
        for (key, note) in [
            (
                "dst_binary",
                "diff skipped: destination file appears to be binary\n",
            ),
            (
                "src_binary",
                "diff skipped: source file appears to be binary\n",
            ),
        ] {
            if d.contains_key(key) {
                out.push_str(note);
            }
        }
        for (key, what) in [("dst_larger", "destination"), ("src_larger", "source")] {
            if let Some(n) = d.get(key) {
                out.push_str(&format!(
                    "diff skipped: {what} file size is greater than {}\n",
                    plain(n)
                ));
            }
        }
        if let (Some(before), Some(after)) = (d.get("before"), d.get("after")) {
            let header = |key: &str, name: &str| match d.get(key) {
                Some(h) => format!("{name}: {}", plain(h)),
                None => name.to_string(),
            };
            let text = unified(
                &side(before),
                &side(after),
                &header("before_header", "before"),
                &header("after_header", "after"),
            );
            if !text.is_empty() {
                out.push_str(&text);
                out.push('\n');
            }
        }
        if let Some(p) = d.get("prepared") {
            // Ansible displays the prepared text as one message, which
            // ends with a newline of its own.
            let p = plain(p);
            if !p.is_empty() {
                out.push_str(&p);
                out.push('\n');
            }
        }
    }
    out
}

/// A value as Python's `str` shows it in a note.
fn plain(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => crate::value::to_json_string(other),
    }
}

/// One side of a diff: text as it is, a mapping as indented JSON (Ansible's
/// default result format), nothing for null.
fn side(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => crate::value::python_json(other, Some(4), true, false) + "\n",
    }
}

/// Python's `difflib.unified_diff` with empty file dates, with a
/// `\ No newline at end of file` marker after a last line without one.
pub(crate) fn unified(before: &str, after: &str, from: &str, to: &str) -> String {
    let a_lines = lines(before);
    let b_lines = lines(after);
    let a: Vec<&str> = a_lines.iter().map(String::as_str).collect();
    let b: Vec<&str> = b_lines.iter().map(String::as_str).collect();
    let diff = TextDiff::from_slices(&a, &b);
    let mut out = String::new();
    for (i, group) in diff.grouped_ops(CONTEXT).iter().enumerate() {
        if i == 0 {
            out.push_str(&format!("--- {from}\n+++ {to}\n"));
        }
        let (Some(first), Some(last)) = (group.first(), group.last()) else {
            continue;
        };
        let old = first.old_range().start..last.old_range().end;
        let new = first.new_range().start..last.new_range().end;
        out.push_str(&format!(
            "@@ -{} +{} @@\n",
            range(old.start, old.end),
            range(new.start, new.end)
        ));
        for op in group {
            match op.tag() {
                DiffTag::Equal => {
                    for l in &a[op.old_range()] {
                        out.push(' ');
                        out.push_str(l);
                    }
                }
                DiffTag::Delete | DiffTag::Replace | DiffTag::Insert => {
                    for l in &a[op.old_range()] {
                        out.push('-');
                        out.push_str(l);
                    }
                    for l in &b[op.new_range()] {
                        out.push('+');
                        out.push_str(l);
                    }
                }
            }
        }
    }
    out
}

/// The lines of `text`, each with its newline; a last line without one
/// gets the marker line, as Ansible adds it.
fn lines(text: &str) -> Vec<String> {
    let mut v: Vec<String> = text.split_inclusive('\n').map(str::to_string).collect();
    if let Some(last) = v.last_mut() {
        if !last.ends_with('\n') {
            last.push_str("\n\\ No newline at end of file\n");
        }
    }
    v
}

/// difflib's hunk range: `start,len`, `start` alone for one line, and the
/// line before for an empty range.
fn range(start: usize, end: usize) -> String {
    let len = end - start;
    match len {
        1 => format!("{}", start + 1),
        0 => format!("{start},0"),
        _ => format!("{},{len}", start + 1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_diff_as_ansible() {
        let d = serde_json::json!({
            "before": "one\n2\nthree\n", "after": "one\ntwo\nthree\n",
            "before_header": "/tmp/t", "after_header": "/tmp/t"
        });
        assert_eq!(
            render_diff(&d),
            "--- before: /tmp/t\n+++ after: /tmp/t\n@@ -1,3 +1,3 @@\n one\n-2\n+two\n three\n\n"
        );
    }

    #[test]
    fn new_file_and_missing_newline() {
        let d = serde_json::json!({"before": "", "after": "x"});
        assert_eq!(
            render_diff(&d),
            "--- before\n+++ after\n@@ -0,0 +1 @@\n+x\n\\ No newline at end of file\n\n"
        );
        assert_eq!(
            render_diff(&serde_json::json!({"before": "a\n", "after": "a\n"})),
            ""
        );
    }
}
