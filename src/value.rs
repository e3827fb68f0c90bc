//! The plain data herd passes around: variables, facts, module arguments
//! and results. It is JSON's data model with key order kept, which is also
//! what Ansible's variables are once loaded.
//!
//! Two markers ride inside it the way Ansible carries them in JSON:
//! `{"__ansible_unsafe": "text"}` for a `!unsafe` string (never templated)
//! and `{"__ansible_vault": "…"}` for a vault-encrypted value.

pub use serde_json::{Map, Number, Value};

/// A `!unsafe` string.
pub fn unsafe_string(text: &str) -> Value {
    let mut m = Map::new();
    m.insert("__ansible_unsafe".into(), Value::String(text.to_string()));
    Value::Object(m)
}

/// The text of a `!unsafe` marker, if `v` is one.
pub fn as_unsafe(v: &Value) -> Option<&str> {
    match v {
        Value::Object(m) if m.len() == 1 => m.get("__ansible_unsafe")?.as_str(),
        _ => None,
    }
}

/// The vault text of a `!vault` marker, if `v` is one.
pub fn as_vault(v: &Value) -> Option<&str> {
    match v {
        Value::Object(m) if m.len() == 1 => m.get("__ansible_vault")?.as_str(),
        _ => None,
    }
}

/// A float as Python's `repr` writes it: `1.0`, `0.5`, `1e+20`, `inf`.
pub fn py_float(f: f64) -> String {
    if f.is_nan() {
        return "nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf" } else { "-inf" }.into();
    }
    if f == f.trunc() && f.abs() < 1e16 {
        return format!("{f:.1}");
    }
    let s = format!("{f}");
    if f.abs() >= 1e16 || (f != 0.0 && f.abs() < 1e-4) {
        // Python switches to exponent notation here.
        let e = format!("{f:e}");
        if let Some((m, exp)) = e.split_once('e') {
            let exp: i32 = exp.parse().unwrap_or(0);
            return format!("{m}e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs());
        }
    }
    s
}

/// JSON text with Python's `json.dumps` spacing (`{"a": 1, "b": [1, 2]}`).
pub fn to_json_string(v: &Value) -> String {
    python_json(v, None, false, false)
}

/// JSON text as Python's `json.dumps(v, indent=…, sort_keys=…,
/// ensure_ascii=…)` writes it: the one JSON writer of herd (`to_json`,
/// `to_nice_json`, `ansible-inventory --list`, …).
pub fn python_json(v: &Value, indent: Option<usize>, sort_keys: bool, ascii: bool) -> String {
    let mut out = String::new();
    write_json(v, indent, sort_keys, ascii, 0, &mut out);
    out
}

pub(crate) fn sorted_items(m: &Map<String, Value>, sort: bool) -> Vec<(&String, &Value)> {
    let mut items: Vec<(&String, &Value)> = m.iter().collect();
    if sort {
        items.sort_by(|a, b| a.0.cmp(b.0));
    }
    items
}

fn write_json(
    v: &Value,
    indent: Option<usize>,
    sort: bool,
    ascii: bool,
    depth: usize,
    out: &mut String,
) {
    // `!unsafe` and `!vault` markers are written as the objects they are,
    // as Ansible's JSON encoder writes them; templates never see them (they
    // reach filters as plain strings).
    let nl = |out: &mut String, d: usize| {
        if let Some(n) = indent {
            out.push('\n');
            out.push_str(&" ".repeat(n * d));
        }
    };
    let item_sep = if indent.is_some() { "," } else { ", " };
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                out.push_str(&i.to_string());
            } else if let Some(u) = n.as_u64() {
                out.push_str(&u.to_string());
            } else {
                let f = n.as_f64().unwrap_or(0.0);
                out.push_str(&match py_float(f).as_str() {
                    "inf" => "Infinity".to_string(),
                    "-inf" => "-Infinity".to_string(),
                    "nan" => "NaN".to_string(),
                    s => s.to_string(),
                });
            }
        }
        Value::String(s) => json_str(s, ascii, out),
        Value::Array(items) => {
            if items.is_empty() {
                out.push_str("[]");
                return;
            }
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(item_sep);
                }
                nl(out, depth + 1);
                write_json(item, indent, sort, ascii, depth + 1, out);
            }
            nl(out, depth);
            out.push(']');
        }
        Value::Object(m) => {
            if m.is_empty() {
                out.push_str("{}");
                return;
            }
            out.push('{');
            for (i, (k, item)) in sorted_items(m, sort).into_iter().enumerate() {
                if i > 0 {
                    out.push_str(item_sep);
                }
                nl(out, depth + 1);
                json_str(k, ascii, out);
                out.push_str(": ");
                write_json(item, indent, sort, ascii, depth + 1, out);
            }
            nl(out, depth);
            out.push('}');
        }
    }
}

fn json_str(s: &str, ascii: bool, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c if ascii && (c as u32) > 0x7e => {
                let mut buf = [0u16; 2];
                for unit in c.encode_utf16(&mut buf) {
                    out.push_str(&format!("\\u{:04x}", unit));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A value as Python's `str()` prints it: strings bare, everything else
/// as [`py_repr`].
pub fn py_str(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => match as_unsafe(other) {
            Some(s) => s.to_string(),
            None => py_repr(other),
        },
    }
}

/// A value as Python's `repr()` prints it: `['a', 'b']`, `{'k': 1}`,
/// `True`, `None`.
pub fn py_repr(v: &Value) -> String {
    let mut out = String::new();
    write_repr(v, &mut out);
    out
}

/// A string in Python's repr quoting: single quotes unless the text holds
/// a single quote and no double quote.
pub fn py_repr_str(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

fn write_repr(v: &Value, out: &mut String) {
    if let Some(s) = as_unsafe(v) {
        out.push_str(&py_repr_str(s));
        return;
    }
    match v {
        Value::Null => out.push_str("None"),
        Value::Bool(true) => out.push_str("True"),
        Value::Bool(false) => out.push_str("False"),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                out.push_str(&i.to_string());
            } else if let Some(u) = n.as_u64() {
                out.push_str(&u.to_string());
            } else {
                out.push_str(&py_float(n.as_f64().unwrap_or(0.0)));
            }
        }
        Value::String(s) => out.push_str(&py_repr_str(s)),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_repr(item, out);
            }
            out.push(']');
        }
        Value::Object(m) => {
            out.push('{');
            for (i, (k, item)) in m.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(&py_repr_str(k));
                out.push_str(": ");
                write_repr(item, out);
            }
            out.push('}');
        }
    }
}

/// The Python type name of a value, as Ansible's messages name it.
pub fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "NoneType",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "int",
        Value::String(_) => "str",
        Value::Array(_) => "list",
        Value::Object(_) if as_unsafe(v).is_some() => "str",
        Value::Object(_) => "dict",
    }
}

/// Python truthiness: empty strings, lists, dicts, 0 and None are false.
pub fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().map(|f| f != 0.0).unwrap_or(true),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(m) => !m.is_empty(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn python_repr() {
        assert_eq!(py_repr(&json!(["a", "b"])), "['a', 'b']");
        assert_eq!(
            py_repr(&json!({"k": 1, "t": true, "n": null})),
            "{'k': 1, 't': True, 'n': None}"
        );
        assert_eq!(py_repr(&json!("it's")), "\"it's\"");
        assert_eq!(py_repr(&json!(1.0)), "1.0");
        assert_eq!(py_repr(&json!(0.1)), "0.1");
        assert_eq!(py_str(&json!("x")), "x");
        assert_eq!(py_float(1e20), "1e+20");
    }

    #[test]
    fn json_spacing() {
        assert_eq!(
            to_json_string(&json!({"a": [1, 2], "b": "x"})),
            r#"{"a": [1, 2], "b": "x"}"#
        );
    }
}
