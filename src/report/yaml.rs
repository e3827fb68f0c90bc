//! Results as YAML for `callback_result_format = yaml`: PyYAML's block
//! style with `indent=4`, keys sorted, and multi-line strings as literal
//! blocks (`|-`), as Ansible's callback dumper writes them.
//!
//! Long plain or quoted scalars are not folded at 80 columns as PyYAML
//! does.

use crate::value::{py_float, Map, Value};
use crate::yaml::{resolve_plain, NodeKind};

const INDENT: usize = 4;

/// `yaml.dump(v, indent=4, default_flow_style=False)` with Ansible's
/// literal blocks; ends with a newline.
pub fn dump(v: &Value) -> String {
    let mut out = String::new();
    match v {
        Value::Object(m) if !m.is_empty() => mapping(m, 0, &mut out),
        Value::Array(a) if !a.is_empty() => sequence(a, 0, &mut out),
        other => {
            out.push_str(&scalar(other, 0, Some(0)));
            out.push('\n');
        }
    }
    out
}

fn is_block(v: &Value) -> bool {
    match v {
        Value::Object(m) => !m.is_empty(),
        Value::Array(a) => !a.is_empty(),
        _ => false,
    }
}

fn mapping(m: &Map<String, Value>, ind: usize, out: &mut String) {
    let mut keys: Vec<&String> = m.keys().collect();
    keys.sort();
    for k in keys {
        let v = &m[k];
        out.push_str(&" ".repeat(ind));
        let key = string(k, ind, None);
        out.push_str(&key);
        out.push(':');
        let col = ind + key.chars().count() + 2;
        match v {
            Value::Object(inner) if !inner.is_empty() => {
                out.push('\n');
                mapping(inner, ind + INDENT, out);
            }
            // PyYAML does not indent a sequence under a key.
            Value::Array(items) if !items.is_empty() => {
                out.push('\n');
                sequence(items, ind, out);
            }
            other => {
                out.push(' ');
                out.push_str(&scalar(other, ind + INDENT, Some(col)));
                out.push('\n');
            }
        }
    }
}

fn sequence(items: &[Value], ind: usize, out: &mut String) {
    for v in items {
        out.push_str(&" ".repeat(ind));
        if is_block(v) {
            // The first line of a nested collection sits on the dash line,
            // the dash padded to the indent.
            out.push_str(&format!("{:<INDENT$}", "-"));
            let mut inner = String::new();
            match v {
                Value::Object(m) => mapping(m, ind + INDENT, &mut inner),
                Value::Array(a) => sequence(a, ind + INDENT, &mut inner),
                _ => {}
            }
            out.push_str(inner.trim_start_matches(' '));
        } else {
            out.push_str("- ");
            out.push_str(&scalar(v, ind + INDENT, Some(ind + 2)));
            out.push('\n');
        }
    }
}

/// A scalar (or empty collection); `ind` is where a literal block's or a
/// folded line's continuation goes, `col` the column it starts at (None for
/// a key, which is never folded).
fn scalar(v: &Value, ind: usize, col: Option<usize>) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => if *b { "true" } else { "false" }.into(),
        Value::Number(n) => match n.as_f64() {
            Some(f) if !n.is_i64() && !n.is_u64() => match py_float(f).as_str() {
                "inf" => ".inf".into(),
                "-inf" => "-.inf".into(),
                "nan" => ".nan".into(),
                s if s.contains('e') && !s.contains('.') => s.replacen('e', ".0e", 1),
                s => s.to_string(),
            },
            _ => n.to_string(),
        },
        Value::String(s) => string(s, ind, col),
        Value::Array(_) => "[]".into(),
        Value::Object(_) => "{}".into(),
    }
}

fn string(s: &str, ind: usize, col: Option<usize>) -> String {
    if s.contains(['\n', '\u{85}', '\u{2028}', '\u{2029}']) {
        return literal(s, ind);
    }
    if s.chars().any(|c| !printable(c)) {
        return double_quoted(s);
    }
    if plain_ok(s) {
        match col {
            Some(col) => fold(s, col, ind, false),
            None => s.to_string(),
        }
    } else {
        match col {
            Some(col) => format!("'{}'", fold(s, col + 1, ind, true)),
            None => format!("'{}'", s.replace('\'', "''")),
        }
    }
}

/// PyYAML's line width: a single space past this column becomes a line
/// break.
const BEST_WIDTH: usize = 80;

/// PyYAML's `write_plain` / `write_single_quoted` folding: text starting
/// at `col`; a lone space reached past [`BEST_WIDTH`] becomes a newline
/// and `ind` spaces. Quoted text doubles its quotes and never breaks at
/// its first or last character.
fn fold(text: &str, col: usize, ind: usize, quoted: bool) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::new();
    let mut column = col;
    let mut start = 0;
    let mut spaces = false;
    for end in 0..=chars.len() {
        let ch = chars.get(end).copied();
        if spaces {
            if ch != Some(' ') {
                let edge_ok = !quoted || (start != 0 && end != chars.len());
                if start + 1 == end && column > BEST_WIDTH && edge_ok {
                    out.push('\n');
                    out.push_str(&" ".repeat(ind));
                    column = ind;
                } else {
                    out.extend(&chars[start..end]);
                    column += end - start;
                }
                start = end;
            }
        } else if (ch.is_none() || ch == Some(' ') || (quoted && ch == Some('\''))) && start < end {
            out.extend(&chars[start..end]);
            column += end - start;
            start = end;
        }
        if quoted && ch == Some('\'') {
            out.push_str("''");
            column += 2;
            start = end + 1;
        }
        if let Some(c) = ch {
            spaces = c == ' ';
        }
    }
    out
}

/// Ansible's lossy literal block: trailing space, tabs and characters
/// YAML cannot hold are dropped so the block style always applies.
fn literal(s: &str, ind: usize) -> String {
    let mut text: String = s
        .trim_end()
        .split('\n')
        .map(expand_tabs)
        .collect::<Vec<_>>()
        .join("\n");
    text.retain(|c| c == '\n' || (printable(c) && c != '\u{feff}'));
    // Spaces before a line break go.
    let lines: Vec<&str> = text.split('\n').map(|l| l.trim_end_matches(' ')).collect();
    let indicator = if lines.first().is_some_and(|l| l.starts_with(' ')) {
        INDENT.to_string()
    } else {
        String::new()
    };
    let mut out = format!("|{indicator}-");
    for l in lines {
        out.push('\n');
        if !l.is_empty() {
            out.push_str(&" ".repeat(ind));
            out.push_str(l);
        }
    }
    out
}

fn expand_tabs(line: &str) -> String {
    let mut out = String::new();
    for c in line.chars() {
        if c == '\t' {
            let pad = 8 - out.chars().count() % 8;
            out.push_str(&" ".repeat(pad));
        } else {
            out.push(c);
        }
    }
    out
}

fn printable(c: char) -> bool {
    matches!(c, '\n' | '\t' | '\u{85}' | ' '..='~' | '\u{a0}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}')
        || (c as u32) >= 0x10000
}

/// Whether PyYAML writes `s` without quotes in block context.
fn plain_ok(s: &str) -> bool {
    if s.is_empty() || s.starts_with(' ') || s.ends_with(' ') || s.contains('\t') {
        return false;
    }
    if !matches!(resolve_plain(s), NodeKind::Str(_))
        || looks_like_date(s)
        || sexagesimal(s)
        || s == "="
        || s == "<<"
    {
        return false;
    }
    let mut chars = s.chars();
    let first = chars.next().unwrap_or(' ');
    let second = chars.next();
    if "#,[]{}&*!|>'\"%@`".contains(first) {
        return false;
    }
    if "-?:".contains(first) && second.is_none_or(|c| c == ' ') {
        return false;
    }
    !(s.contains(": ") || s.contains(" #") || s.ends_with(':'))
}

/// `1:30` and `0:00:00.5`: YAML 1.1 base-60 numbers, which PyYAML's
/// resolver reads as int or float, so it quotes them.
fn sexagesimal(s: &str) -> bool {
    let t = s.strip_prefix(['-', '+']).unwrap_or(s);
    let (whole, frac) = match t.split_once('.') {
        Some((w, f)) => (w, Some(f)),
        None => (t, None),
    };
    let mut parts = whole.split(':');
    let first_ok = parts
        .next()
        .is_some_and(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit() || c == '_'));
    let rest: Vec<&str> = parts.collect();
    first_ok
        && !rest.is_empty()
        && rest.iter().all(|p| {
            (1..=2).contains(&p.len())
                && p.chars().all(|c| c.is_ascii_digit())
                && (p.len() == 1 || p.as_bytes()[0] <= b'5')
        })
        && frac.is_none_or(|f| f.chars().all(|c| c.is_ascii_digit() || c == '_'))
}

/// `2024-01-02` and timestamps, which YAML 1.1 reads as dates.
fn looks_like_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 8
        && b[..4].iter().all(u8::is_ascii_digit)
        && b[4] == b'-'
        && b[5..].iter().take_while(|c| c.is_ascii_digit()).count() >= 1
        && s[5..].contains('-')
}

fn double_quoted(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\0' => out.push_str("\\0"),
            '\u{1b}' => out.push_str("\\e"),
            '\u{feff}' => out.push_str("\\ufeff"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02X}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_as_pyyaml_indent_4() {
        let v = serde_json::json!({
            "a": [{"x": 1, "y": [1, 2]}, "s"], "b": {"c": {"d": "e: f"}},
            "e": [], "f": {}, "g": "yes", "h": "0644", "i": null, "j": 1.5, "k": "",
            "l": [[1, 2], [3]], "m": "one\ntwo\n", "n": "0:00:00.1"
        });
        assert_eq!(
            dump(&v),
            "a:\n-   x: 1\n    y:\n    - 1\n    - 2\n- s\nb:\n    c:\n        d: 'e: f'\n\
             e: []\nf: {}\ng: 'yes'\nh: '0644'\ni: null\nj: 1.5\nk: ''\nl:\n-   - 1\n    - 2\n\
             -   - 3\nm: |-\n    one\n    two\nn: '0:00:00.1'\n"
        );
    }

    #[test]
    fn long_lines_fold_as_pyyaml() {
        let t = "word ".repeat(25);
        let v = serde_json::json!({"k": [t, {"x": t}], "q": format!("{t}yes: no")});
        // PyYAML 6 `yaml.dump(v, indent=4, default_flow_style=False)`.
        let want = "k:\n- 'word word word word word word word word word word word word word word word word\n    word word word word word word word word word '\n-   x: 'word word word word word word word word word word word word word word word\n        word word word word word word word word word word '\nq: 'word word word word word word word word word word word word word word word word\n    word word word word word word word word word yes: no'\n";
        assert_eq!(dump(&v), want);
    }
}
