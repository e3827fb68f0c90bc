//! JSON and YAML text as Python's `json.dumps` and PyYAML's `dump` write
//! it, for `to_json`, `to_nice_json`, `to_yaml` and `to_nice_yaml`.

use crate::value::{as_unsafe, py_float, sorted_items as sorted, Map, Value};
use crate::yaml::{resolve_plain, NodeKind};

pub use crate::value::python_json as json;

/// `yaml.dump(v, indent=…, default_flow_style=…, allow_unicode=True)`:
/// keys sorted, `flow` None puts collections holding only scalars in flow
/// style (PyYAML's default), `Some(false)` writes block style throughout.
pub fn yaml(v: &Value, indent: usize, flow: Option<bool>) -> String {
    let y = Yaml { best: indent, flow };
    let mut out = String::new();
    if y.inline(v) {
        out.push_str(&y.flow_value(v, false, 0, indent));
        out.push('\n');
        return out;
    }
    match v {
        Value::Object(m) => y.mapping(m, 0, &mut out),
        Value::Array(items) => y.sequence(items, 0, &mut out),
        _ => {}
    }
    out
}

struct Yaml {
    best: usize,
    flow: Option<bool>,
}

fn is_collection(v: &Value) -> bool {
    matches!(v, Value::Array(_) | Value::Object(_)) && as_unsafe(v).is_none()
}

impl Yaml {
    /// Whether `v` is written on the line of its key or dash.
    fn inline(&self, v: &Value) -> bool {
        if as_unsafe(v).is_some() {
            return true;
        }
        match v {
            Value::Array(items) => {
                items.is_empty()
                    || self.flow == Some(true)
                    || (self.flow.is_none() && !items.iter().any(is_collection))
            }
            Value::Object(m) => {
                m.is_empty()
                    || self.flow == Some(true)
                    || (self.flow.is_none() && !m.values().any(is_collection))
            }
            _ => true,
        }
    }

    fn mapping(&self, m: &Map<String, Value>, ind: usize, out: &mut String) {
        for (k, v) in sorted(m, true) {
            out.push_str(&" ".repeat(ind));
            let key = scalar_str(k, false, None, ind + self.best);
            out.push_str(&key);
            out.push(':');
            if self.inline(v) {
                out.push(' ');
                let col = ind + key.chars().count() + 2;
                out.push_str(&self.flow_value(v, false, col, ind + self.best));
                out.push('\n');
            } else {
                out.push('\n');
                match v {
                    Value::Object(inner) => self.mapping(inner, ind + self.best, out),
                    // PyYAML writes a list under a key without indenting it.
                    Value::Array(items) => self.sequence(items, ind, out),
                    _ => {}
                }
            }
        }
    }

    fn sequence(&self, items: &[Value], ind: usize, out: &mut String) {
        let pad = " ".repeat(self.best.saturating_sub(1));
        for item in items {
            if self.inline(item) {
                out.push_str(&" ".repeat(ind));
                out.push_str("- ");
                out.push_str(&self.flow_value(item, false, ind + 2, ind + self.best));
                out.push('\n');
                continue;
            }
            let mut inner = String::new();
            match item {
                Value::Object(m) => self.mapping(m, ind + self.best, &mut inner),
                Value::Array(sub) => self.sequence(sub, ind + self.best, &mut inner),
                _ => {}
            }
            // The first line of the nested block shares the dash's line.
            let cut = (ind + self.best).min(inner.len());
            out.push_str(&" ".repeat(ind));
            out.push('-');
            out.push_str(&pad);
            out.push_str(&inner[cut..]);
        }
    }

    /// A value written inline, starting at column `col`; `ind` is where
    /// folded continuation lines start.
    fn flow_value(&self, v: &Value, in_flow: bool, col: usize, ind: usize) -> String {
        if let Some(s) = as_unsafe(v) {
            return scalar_str(s, in_flow, Some(col), ind);
        }
        match v {
            Value::Null => "null".into(),
            Value::Bool(b) => if *b { "true" } else { "false" }.into(),
            Value::Number(n) => {
                if let Some(i) = n.as_i64() {
                    i.to_string()
                } else if let Some(u) = n.as_u64() {
                    u.to_string()
                } else {
                    yaml_float(n.as_f64().unwrap_or(0.0))
                }
            }
            Value::String(s) => scalar_str(s, in_flow, Some(col), ind),
            Value::Array(items) => {
                let mut out = String::from("[");
                let mut c = col + 1;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                        c += 2;
                    }
                    let part = self.flow_value(item, true, c, ind + self.best);
                    c = end_col(c, &part);
                    out.push_str(&part);
                }
                out.push(']');
                out
            }
            Value::Object(m) => {
                let mut out = String::from("{");
                let mut c = col + 1;
                for (i, (k, item)) in sorted(m, true).into_iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                        c += 2;
                    }
                    let key = scalar_str(k, true, None, ind + self.best);
                    c = end_col(c, &key) + 2;
                    out.push_str(&key);
                    out.push_str(": ");
                    let part = self.flow_value(item, true, c, ind + self.best);
                    c = end_col(c, &part);
                    out.push_str(&part);
                }
                out.push('}');
                out
            }
        }
    }
}

/// The column after writing `text` from column `col`.
fn end_col(col: usize, text: &str) -> usize {
    match text.rfind('\n') {
        Some(i) => text[i + 1..].chars().count(),
        None => col + text.chars().count(),
    }
}

/// PyYAML's line folding: past column 80, a single space between words
/// becomes a line break and continuation indentation.
fn fold(text: &str, col: usize, ind: usize) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut c = col;
    for (i, &ch) in chars.iter().enumerate() {
        if ch == ' '
            && i > 0
            && i + 1 < chars.len()
            && chars[i - 1] != ' '
            && chars[i - 1] != '\n'
            && chars[i + 1] != ' '
            && c > 80
        {
            out.push('\n');
            out.push_str(&" ".repeat(ind));
            c = ind;
            continue;
        }
        if ch == '\n' {
            out.push('\n');
            c = 0;
            continue;
        }
        out.push(ch);
        c += 1;
    }
    out
}

fn yaml_float(f: f64) -> String {
    if f.is_nan() {
        return ".nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { ".inf" } else { "-.inf" }.into();
    }
    let s = py_float(f);
    // PyYAML writes exponents with a fraction part: 1.0e+20.
    match s.split_once('e') {
        Some((m, e)) if !m.contains('.') => format!("{m}.0e{e}"),
        _ => s,
    }
}

fn looks_like_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 8
        && b[..4].iter().all(u8::is_ascii_digit)
        && b[4] == b'-'
        && s[5..]
            .split(['-', 'T', 't', ' '])
            .next()
            .is_some_and(|m| !m.is_empty() && m.len() <= 2 && m.bytes().all(|c| c.is_ascii_digit()))
}

/// A string as PyYAML writes a scalar: plain when it reads back as the
/// same string, single-quoted otherwise, double-quoted when it holds
/// characters only escapes can carry.
fn scalar_str(s: &str, in_flow: bool, col: Option<usize>, ind: usize) -> String {
    if s.chars()
        .any(|c| (c < ' ' && c != '\n') || c == '\u{7f}' || c == '\u{feff}')
    {
        return double_quoted(s);
    }
    // Keys (no column given) are never folded.
    let folded = |body: &str, quoted: bool| match col {
        Some(c) => fold(body, c + usize::from(quoted), ind),
        None => body.to_string(),
    };
    if s.contains('\n') {
        let cont = format!("\n\n{}", " ".repeat(ind));
        let body = s.replace('\'', "''").replace('\n', &cont);
        return format!("'{}'", folded(&body, true));
    }
    if plain_ok(s, in_flow) {
        return folded(s, false);
    }
    format!("'{}'", folded(&s.replace('\'', "''"), true))
}

fn plain_ok(s: &str, in_flow: bool) -> bool {
    if s.is_empty() || s.starts_with(' ') || s.ends_with(' ') {
        return false;
    }
    if !matches!(resolve_plain(s), NodeKind::Str(_)) || looks_like_date(s) || s == "=" || s == "<<"
    {
        return false;
    }
    let first = s.chars().next().unwrap_or(' ');
    let second = s.chars().nth(1);
    if "#,[]{}&*!|>'\"%@`".contains(first) {
        return false;
    }
    if "-?:".contains(first) && second.is_none_or(|c| c == ' ' || (in_flow && ",[]{}".contains(c)))
    {
        return false;
    }
    if s.contains(": ") || s.contains(" #") || s.ends_with(':') {
        return false;
    }
    if in_flow && s.chars().any(|c| ",[]{}".contains(c)) {
        return false;
    }
    if in_flow && s.contains(':') {
        return false;
    }
    true
}

fn double_quoted(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\0' => out.push_str("\\0"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
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
mod unit {
    use super::*;
    use serde_json::json;

    #[test]
    fn yaml_like_pyyaml() {
        let v = json!({"b": [1, 2], "a": "x", "c": {"x": 1}, "e": "yes", "g": "a: b", "l": [], "m": {}});
        assert_eq!(
            yaml(&v, 2, None),
            "a: x\nb: [1, 2]\nc: {x: 1}\ne: 'yes'\ng: 'a: b'\nl: []\nm: {}\n"
        );
        assert_eq!(
            yaml(&v, 4, Some(false)),
            "a: x\nb:\n- 1\n- 2\nc:\n    x: 1\ne: 'yes'\ng: 'a: b'\nl: []\nm: {}\n"
        );
        let v = json!(["a", ["b"], {"k": "v", "z": [1]}]);
        assert_eq!(
            yaml(&v, 4, Some(false)),
            "- a\n-   - b\n-   k: v\n    z:\n    - 1\n"
        );
        assert_eq!(
            yaml(&json!({"a": "multi\nline"}), 4, Some(false)),
            "a: 'multi\n\n    line'\n"
        );
    }

    #[test]
    fn json_like_python() {
        let v = json!({"b": [1, 2], "a": "é"});
        assert_eq!(
            json(&v, None, false, true),
            r#"{"b": [1, 2], "a": "\u00e9"}"#
        );
        assert_eq!(
            json(&v, Some(4), true, true),
            "{\n    \"a\": \"\\u00e9\",\n    \"b\": [\n        1,\n        2\n    ]\n}"
        );
    }

    #[test]
    fn yaml_folds_long_lines_like_pyyaml() {
        let v = json!({"k": "word ".repeat(30), "n": {"m": format!("{} y z", "x".repeat(90))}});
        let want = "k: 'word word word word word word word word word word word word word word word word\n    word word word word word word word word word word word word word word '\nn:\n    m: xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n        y z\n";
        assert_eq!(yaml(&v, 4, Some(false)), want);
        let v = json!({"k": "word ".repeat(30)});
        let want = "{k: 'word word word word word word word word word word word word word word word word\n    word word word word word word word word word word word word word word '}\n";
        assert_eq!(yaml(&v, 2, None), want);
        let v = json!(["a b ".repeat(25)]);
        let want = "['a b a b a b a b a b a b a b a b a b a b a b a b a b a b a b a b a b a b a b a b\n    a b a b a b a b a b ']\n";
        assert_eq!(yaml(&v, 2, None), want);
    }
}
