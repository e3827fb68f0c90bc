//! Ansible's `k=v` argument strings: `copy: src=a dest="b c"`.
//!
//! Splitting keeps quoted text and Jinja blocks (`{{ }}`, `{% %}`, `{# #}`)
//! in one token, and newlines as they were, so `command:` text reaches the
//! host exactly as written, as Ansible's `split_args`/`parse_kv` do.

use crate::value::{Map, Value};

/// Options a free-form module (`command`, `shell`, …) takes as `k=v` inside
/// its text; any other `k=v` there is part of the command.
const FREE_FORM_OPTIONS: &[&str] = &[
    "creates",
    "removes",
    "chdir",
    "executable",
    "warn",
    "stdin",
    "stdin_add_newline",
    "strip_empty_ends",
];

/// Why an argument string could not be split.
#[derive(Debug, PartialEq, Eq)]
pub struct SplitError;

/// The quote left open at the end of `token`, starting from `open`.
fn quote_state(token: &str, mut open: Option<char>) -> Option<char> {
    let mut prev: Option<char> = None;
    for c in token.chars() {
        if (c == '"' || c == '\'') && prev != Some('\\') {
            match open {
                Some(q) if q == c => open = None,
                Some(_) => {}
                None => open = Some(c),
            }
        }
        prev = Some(c);
    }
    open
}

fn jinja_depth(token: &str, depth: usize, open: &str, close: &str) -> usize {
    let o = token.matches(open).count();
    let c = token.matches(close).count();
    if o >= c {
        depth + (o - c)
    } else {
        depth.saturating_sub(c - o)
    }
}

/// Splits on spaces, keeping quoted strings and Jinja blocks whole and
/// newlines in place.
pub fn split_args(args: &str) -> Result<Vec<String>, SplitError> {
    let mut params: Vec<String> = Vec::new();
    if args.is_empty() {
        return Ok(params);
    }
    let lines: Vec<&str> = args.split('\n').collect();
    let mut quote: Option<char> = None;
    let mut inside_quotes = false;
    let (mut print_d, mut block_d, mut comment_d) = (0usize, 0usize, 0usize);
    for (li, line) in lines.iter().enumerate() {
        let mut continuation = false;
        for (idx, token) in line.split(' ').enumerate() {
            if token.is_empty() && idx != 0 {
                match params.last_mut() {
                    Some(p) => p.push(' '),
                    None => params.push(" ".into()),
                }
                continue;
            }
            if token == "\\" && !inside_quotes {
                continuation = true;
                continue;
            }
            let was_inside = inside_quotes;
            quote = quote_state(token, quote);
            inside_quotes = quote.is_some();
            let in_jinja = print_d > 0 || block_d > 0 || comment_d > 0;
            let mut appended = false;
            if inside_quotes && !was_inside && !in_jinja {
                params.push(token.to_string());
                appended = true;
            } else if in_jinja || inside_quotes || was_inside {
                match params.last_mut() {
                    Some(last) => {
                        if !(idx == 0 && was_inside) && idx > 0 {
                            last.push(' ');
                        }
                        last.push_str(token);
                    }
                    None => params.push(token.to_string()),
                }
                appended = true;
            }
            for (depth, open, close) in [
                (&mut print_d, "{{", "}}"),
                (&mut block_d, "{%", "%}"),
                (&mut comment_d, "{#", "#}"),
            ] {
                let before = *depth;
                *depth = jinja_depth(token, *depth, open, close);
                if *depth != before && !appended {
                    params.push(token.to_string());
                    appended = true;
                }
            }
            let in_jinja = print_d > 0 || block_d > 0 || comment_d > 0;
            if !in_jinja && !inside_quotes && !appended && !token.is_empty() {
                params.push(token.to_string());
            }
        }
        if lines.len() > 1 && li != lines.len() - 1 && !continuation {
            match params.last_mut() {
                Some(p) => p.push('\n'),
                None => params.push("\n".into()),
            }
        }
    }
    if print_d > 0 || block_d > 0 || comment_d > 0 || inside_quotes {
        return Err(SplitError);
    }
    Ok(params)
}

/// Joins tokens back, keeping the newlines they carry.
pub fn join_args(parts: &[String]) -> String {
    let mut out = String::new();
    for p in parts {
        if !(out.is_empty() || out.ends_with('\n')) {
            out.push(' ');
        }
        out.push_str(p);
    }
    out
}

/// Removes one pair of matching surrounding quotes.
pub fn unquote(s: &str) -> &str {
    let b = s.as_bytes();
    if b.len() >= 2
        && (b[0] == b'"' || b[0] == b'\'')
        && b[0] == b[b.len() - 1]
        && b[b.len() - 2] != b'\\'
    {
        &s[1..s.len() - 1]
    } else {
        s
    }
}

/// Decodes backslash escapes (`\n`, `\t`, `\"`, `\x41`, `\u00e9`) as
/// Python's `unicode-escape` codec does for the sequences Ansible decodes.
fn decode_escapes(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c != '\\' || i + 1 >= chars.len() {
            out.push(c);
            i += 1;
            continue;
        }
        let next = chars[i + 1];
        let simple = match next {
            '\\' => Some('\\'),
            '\'' => Some('\''),
            '"' => Some('"'),
            'a' => Some('\x07'),
            'b' => Some('\x08'),
            'f' => Some('\x0c'),
            'n' => Some('\n'),
            'r' => Some('\r'),
            't' => Some('\t'),
            'v' => Some('\x0b'),
            _ => None,
        };
        if let Some(d) = simple {
            out.push(d);
            i += 2;
            continue;
        }
        let width = match next {
            'x' => 2,
            'u' => 4,
            'U' => 8,
            _ => 0,
        };
        if width > 0 && i + 2 + width <= chars.len() {
            let hex: String = chars[i + 2..i + 2 + width].iter().collect();
            if hex.chars().all(|h| h.is_ascii_hexdigit()) {
                if let Some(d) = u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
                    out.push(d);
                    i += 2 + width;
                    continue;
                }
            }
        }
        out.push(c);
        i += 1;
    }
    out
}

/// Parses `k=v` text into arguments. Tokens without `=` (and, for a
/// free-form module, `k=v` tokens that are not one of its options) are
/// joined into `_raw_params`.
pub fn parse_kv(args: &str, free_form: bool) -> Result<Map<String, Value>, SplitError> {
    let mut options = Map::new();
    let mut raw: Vec<String> = Vec::new();
    for orig in split_args(args)? {
        let x = decode_escapes(&orig);
        // The first `=` not preceded by a backslash, never at position 0.
        let pos = x
            .char_indices()
            .skip(1)
            .filter(|&(_, c)| c == '=')
            .map(|(i, _)| i)
            .find(|&i| !x[..i].ends_with('\\'));
        match pos {
            None if x.contains('=') => raw.push(x.replace("\\=", "=")),
            None => raw.push(orig),
            Some(pos) => {
                let (k, v) = (&x[..pos], &x[pos + 1..]);
                if free_form && !FREE_FORM_OPTIONS.contains(&k) {
                    raw.push(orig);
                } else {
                    options.insert(
                        k.trim().to_string(),
                        Value::String(unquote(v.trim()).to_string()),
                    );
                }
            }
        }
    }
    if !raw.is_empty() {
        options.insert("_raw_params".into(), Value::String(join_args(&raw)));
    }
    Ok(options)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn splits_quotes_and_jinja() {
        assert_eq!(
            split_args(r#"a=b c="foo bar" d={{ x | default('y z') }}"#).unwrap(),
            vec!["a=b", r#"c="foo bar""#, "d={{ x | default('y z') }}"]
        );
        assert!(split_args("a=\"open").is_err());
        assert!(split_args("a={{ x").is_err());
    }

    #[test]
    fn kv_and_raw_params() {
        let m = parse_kv(r#"src=a dest="b c" mode=0644"#, false).unwrap();
        assert_eq!(
            Value::Object(m),
            json!({"src": "a", "dest": "b c", "mode": "0644"})
        );
        let m = parse_kv("echo a=b chdir=/tmp creates=/x", true).unwrap();
        assert_eq!(
            Value::Object(m),
            json!({"chdir": "/tmp", "creates": "/x", "_raw_params": "echo a=b"})
        );
        let m = parse_kv("flush_handlers", false).unwrap();
        assert_eq!(Value::Object(m), json!({"_raw_params": "flush_handlers"}));
    }

    #[test]
    fn keeps_newlines() {
        let m = parse_kv("echo one\necho two", true).unwrap();
        assert_eq!(m["_raw_params"], json!("echo one\necho two"));
    }
}
