//! The two bits of Python the INI inventory format is defined by:
//! `shlex.split(line, comments=True)` for host lines and
//! `ast.literal_eval` for variable values (`23` is an int, `'x'` a string,
//! `[1, 2]` a list, `True` a bool; `true`, `yes` and `08` are no Python
//! literals and stay strings).

use crate::value::{Map, Value};

/// Splits a line as Python's `shlex.split(line, comments=True)` (POSIX
/// mode): quotes group and are removed, `\` escapes, `#` starts a comment
/// even inside a word.
pub fn shlex_split(line: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut token = String::new();
    // Whether the current token exists even if empty (`''`).
    let mut in_token = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if in_token {
                    out.push(std::mem::take(&mut token));
                    in_token = false;
                }
            }
            '#' => break,
            '\\' => match chars.next() {
                Some(n) => {
                    token.push(n);
                    in_token = true;
                }
                None => return Err("No escaped character".into()),
            },
            '\'' => {
                in_token = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(n) => token.push(n),
                        None => return Err("No closing quotation".into()),
                    }
                }
            }
            '"' => {
                in_token = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            // Inside double quotes only `"` and `\` are
                            // escapable; other backslashes stay.
                            Some(n @ ('"' | '\\')) => token.push(n),
                            Some(n) => {
                                token.push('\\');
                                token.push(n);
                            }
                            None => return Err("No closing quotation".into()),
                        },
                        Some(n) => token.push(n),
                        None => return Err("No closing quotation".into()),
                    }
                }
            }
            c => {
                token.push(c);
                in_token = true;
            }
        }
    }
    if in_token {
        out.push(token);
    }
    Ok(out)
}

/// A value as the INI plugin stores it: the Python literal it spells, or
/// the text itself when it is none.
pub fn ini_value(text: &str) -> Value {
    let mut p = Parser {
        s: text.trim_start_matches([' ', '\t']).as_bytes(),
        src: text.trim_start_matches([' ', '\t']),
        i: 0,
    };
    match p.expr() {
        Some(v) => {
            p.ws();
            if p.i == p.s.len() {
                v
            } else {
                Value::String(text.to_string())
            }
        }
        None => Value::String(text.to_string()),
    }
}

struct Parser<'a> {
    s: &'a [u8],
    src: &'a str,
    i: usize,
}

impl Parser<'_> {
    /// Skips blanks and a `#` comment, which Python's tokenizer drops
    /// (`1 # note` is the int 1).
    fn ws(&mut self) {
        while self.i < self.s.len() {
            match self.s[self.i] {
                b' ' | b'\t' | b'\n' | b'\r' => self.i += 1,
                b'#' => {
                    while self.i < self.s.len() && self.s[self.i] != b'\n' {
                        self.i += 1;
                    }
                }
                _ => break,
            }
        }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn eat(&mut self, b: u8) -> bool {
        self.ws();
        if self.peek() == Some(b) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn expr(&mut self) -> Option<Value> {
        self.ws();
        match self.peek()? {
            b'-' | b'+' => {
                let neg = self.peek() == Some(b'-');
                self.i += 1;
                // literal_eval allows a sign only on a number.
                let v = self.expr()?;
                let n = match v {
                    Value::Number(n) => n,
                    _ => return None,
                };
                if !neg {
                    return Some(Value::Number(n));
                }
                if let Some(i) = n.as_i64() {
                    return Some(Value::from(i.checked_neg()?));
                }
                if let Some(u) = n.as_u64() {
                    return Some(Value::from(-(i64::try_from(u).ok()?)));
                }
                serde_json::Number::from_f64(-n.as_f64()?).map(Value::Number)
            }
            b'[' => {
                self.i += 1;
                self.seq(b']').map(Value::Array)
            }
            b'(' => {
                self.i += 1;
                // `(x)` is x; `(x,)` and `()` are tuples, which become lists.
                self.ws();
                if self.eat(b')') {
                    return Some(Value::Array(vec![]));
                }
                let first = self.expr()?;
                if self.eat(b')') {
                    return Some(first);
                }
                if !self.eat(b',') {
                    return None;
                }
                let mut rest = self.seq(b')')?;
                rest.insert(0, first);
                Some(Value::Array(rest))
            }
            b'{' => {
                self.i += 1;
                self.dict_or_set()
            }
            b'\'' | b'"' => self.strings(),
            b'0'..=b'9' | b'.' => self.number(),
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let start = self.i;
                while self
                    .peek()
                    .is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_')
                {
                    self.i += 1;
                }
                let word = &self.src[start..self.i];
                match word {
                    "True" => Some(Value::Bool(true)),
                    "False" => Some(Value::Bool(false)),
                    "None" => Some(Value::Null),
                    // String prefixes: u'' and r'' are literals, b'' too
                    // (Ansible turns bytes into text); f'' is not.
                    w if matches!(self.peek(), Some(b'\'' | b'"'))
                        && [
                            "u", "U", "r", "R", "b", "B", "br", "rb", "Br", "bR", "BR", "Rb", "rB",
                            "RB",
                        ]
                        .contains(&w) =>
                    {
                        self.i = start;
                        self.strings()
                    }
                    _ => None,
                }
            }
            _ => None,
        }
    }

    /// Items up to `close`, with an optional trailing comma.
    fn seq(&mut self, close: u8) -> Option<Vec<Value>> {
        let mut items = Vec::new();
        loop {
            if self.eat(close) {
                return Some(items);
            }
            items.push(self.expr()?);
            if self.eat(close) {
                return Some(items);
            }
            if !self.eat(b',') {
                return None;
            }
        }
    }

    fn dict_or_set(&mut self) -> Option<Value> {
        if self.eat(b'}') {
            return Some(Value::Object(Map::new()));
        }
        let first = self.expr()?;
        if self.eat(b':') {
            let mut m = Map::new();
            let v = self.expr()?;
            m.insert(key_text(&first)?, v);
            loop {
                if self.eat(b'}') {
                    return Some(Value::Object(m));
                }
                if !self.eat(b',') {
                    return None;
                }
                if self.eat(b'}') {
                    return Some(Value::Object(m));
                }
                let k = self.expr()?;
                if !self.eat(b':') {
                    return None;
                }
                let v = self.expr()?;
                m.insert(key_text(&k)?, v);
            }
        }
        // A set literal: kept as a list, duplicates removed.
        let mut items = vec![first];
        if !self.eat(b'}') {
            if !self.eat(b',') {
                return None;
            }
            items.extend(self.seq(b'}')?);
        }
        let mut uniq: Vec<Value> = Vec::new();
        for v in items {
            if !uniq.contains(&v) {
                uniq.push(v);
            }
        }
        Some(Value::Array(uniq))
    }

    /// One or more adjacent string literals, concatenated as Python does.
    fn strings(&mut self) -> Option<Value> {
        let mut out = String::new();
        let mut any = false;
        loop {
            self.ws();
            let start = self.i;
            let mut raw = false;
            while let Some(c) = self.peek() {
                match c {
                    b'r' | b'R' => raw = true,
                    b'u' | b'U' | b'b' | b'B' => {}
                    _ => break,
                }
                self.i += 1;
            }
            let Some(q @ (b'\'' | b'"')) = self.peek() else {
                self.i = start;
                break;
            };
            let triple = self.s[self.i..].starts_with(&[q, q, q]);
            self.i += if triple { 3 } else { 1 };
            loop {
                let c = self.peek()?;
                if c == q {
                    if !triple {
                        self.i += 1;
                        break;
                    }
                    if self.s[self.i..].starts_with(&[q, q, q]) {
                        self.i += 3;
                        break;
                    }
                }
                if c == b'\n' && !triple {
                    return None;
                }
                let ch = self.src[self.i..].chars().next()?;
                if ch == '\\' {
                    self.i += 1;
                    let n = self.src[self.i..].chars().next()?;
                    self.i += n.len_utf8();
                    if raw {
                        out.push('\\');
                        out.push(n);
                        continue;
                    }
                    match n {
                        'n' => out.push('\n'),
                        't' => out.push('\t'),
                        'r' => out.push('\r'),
                        '0' => out.push('\0'),
                        'a' => out.push('\x07'),
                        'b' => out.push('\x08'),
                        'f' => out.push('\x0c'),
                        'v' => out.push('\x0b'),
                        '\\' | '\'' | '"' => out.push(n),
                        '\n' => {}
                        'x' => {
                            let hex = self.src.get(self.i..self.i + 2)?;
                            out.push(char::from_u32(u32::from_str_radix(hex, 16).ok()?)?);
                            self.i += 2;
                        }
                        'u' | 'U' => {
                            let len = if n == 'u' { 4 } else { 8 };
                            let hex = self.src.get(self.i..self.i + len)?;
                            out.push(char::from_u32(u32::from_str_radix(hex, 16).ok()?)?);
                            self.i += len;
                        }
                        other => {
                            out.push('\\');
                            out.push(other);
                        }
                    }
                } else {
                    out.push(ch);
                    self.i += ch.len_utf8();
                }
            }
            any = true;
        }
        any.then_some(Value::String(out))
    }

    fn number(&mut self) -> Option<Value> {
        let start = self.i;
        while self
            .peek()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'.')
            || (self.i > start
                && matches!(self.peek(), Some(b'+' | b'-'))
                && matches!(self.s[self.i - 1], b'e' | b'E')
                && !self.src[start..].starts_with("0x")
                && !self.src[start..].starts_with("0X"))
        {
            self.i += 1;
        }
        let text = &self.src[start..self.i];
        // Underscores are allowed only between digits.
        if text.starts_with('_') || text.ends_with('_') || text.contains("__") {
            return None;
        }
        let t = text.replace('_', "");
        let lower = t.to_ascii_lowercase();
        for (prefix, radix) in [("0x", 16), ("0o", 8), ("0b", 2)] {
            if let Some(digits) = lower.strip_prefix(prefix) {
                return int_value(u128::from_str_radix(digits, radix).ok()?);
            }
        }
        if lower.ends_with('j') {
            // Complex numbers are no variable type; Ansible keeps their text.
            return None;
        }
        if lower.bytes().all(|c| c.is_ascii_digit()) {
            // A decimal with a leading zero is a syntax error in Python 3
            // unless it is all zeros (`00`).
            if lower.len() > 1 && lower.starts_with('0') && lower.bytes().any(|c| c != b'0') {
                return None;
            }
            return int_value(lower.parse().ok()?);
        }
        if lower.contains(['.', 'e']) && !lower.contains(|c: char| !"0123456789.e+-".contains(c)) {
            let f: f64 = lower.parse().ok()?;
            return serde_json::Number::from_f64(f).map(Value::Number);
        }
        None
    }
}

fn int_value(n: u128) -> Option<Value> {
    // Python ints are unbounded; beyond 64 bits the value is kept as text.
    if let Ok(i) = i64::try_from(n) {
        Some(Value::from(i))
    } else {
        u64::try_from(n).ok().map(Value::from)
    }
}

fn key_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Bool(true) => Some("True".into()),
        Value::Bool(false) => Some("False".into()),
        Value::Null => Some("None".into()),
        Value::Number(_) => Some(crate::value::py_str(v)),
        // Lists and dicts are unhashable: no valid literal.
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn literals() {
        assert_eq!(ini_value("23"), json!(23));
        assert_eq!(ini_value("'x'"), json!("x"));
        assert_eq!(ini_value("[1,2]"), json!([1, 2]));
        assert_eq!(ini_value("True"), json!(true));
        assert_eq!(ini_value("true"), json!("true"));
        assert_eq!(ini_value("yes"), json!("yes"));
        assert_eq!(ini_value("08"), json!("08"));
        assert_eq!(ini_value("00"), json!(0));
        assert_eq!(ini_value("0x10"), json!(16));
        assert_eq!(ini_value("-3"), json!(-3));
        assert_eq!(ini_value("1.5"), json!(1.5));
        assert_eq!(ini_value("1e3"), json!(1000.0));
        assert_eq!(ini_value("1_000"), json!(1000));
        assert_eq!(ini_value("None"), json!(null));
        assert_eq!(ini_value("{'k': 1, 2: 'b'}"), json!({"k": 1, "2": "b"}));
        assert_eq!(ini_value("(1, 'a')"), json!([1, "a"]));
        assert_eq!(ini_value("'a' 'b'"), json!("ab"));
        assert_eq!(ini_value("a b"), json!("a b"));
        assert_eq!(ini_value("{k:1}"), json!("{k:1}"));
        assert_eq!(ini_value("1.2.3.4"), json!("1.2.3.4"));
        assert_eq!(ini_value("'it''s'"), json!("its"));
        assert_eq!(ini_value("1 # note"), json!(1));
        assert_eq!(ini_value("[1, # note"), json!("[1, # note"));
        assert_eq!(ini_value("a # note"), json!("a # note"));
        assert_eq!(ini_value("# note"), json!("# note"));
    }

    #[test]
    fn shlex() {
        assert_eq!(
            shlex_split("h a='x y' b=\"q\\\"r\" c=d#e f").unwrap(),
            vec!["h", "a=x y", "b=q\"r", "c=d"]
        );
        assert_eq!(shlex_split("h x=''").unwrap(), vec!["h", "x="]);
        assert!(shlex_split("h x='a").is_err());
    }
}
