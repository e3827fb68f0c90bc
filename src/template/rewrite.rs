//! Lets `a.b.c | default(x)` and `a.b.c is defined` work when `a` (or
//! `a.b`) is undefined, while every other use of an undefined value stays
//! an error, as in Ansible.
//!
//! minijinja's strict mode fails on any attribute of an undefined value,
//! and its chaining mode forgives far more than Ansible does (printing,
//! `if`, comparisons). So the template text is adjusted before compiling:
//! an attribute chain that is directly guarded by `default`/`d`/`mandatory`
//! or an `is [not] defined`/`undefined` test becomes a call to
//! `__herd_chain(a, 'b', 'c')`, which yields undefined as soon as a link
//! is missing.
//!
//! Python's `'%s-%s' % (a, b)` string formatting, which minijinja has no
//! operator for, becomes `__herd_percent('%s-%s', a, b)` the same way.

/// Rewrites guarded attribute chains in a template's text (default
/// delimiters). Text outside `{{ }}` / `{% %}`, comments and `raw` blocks
/// are left as they are.
pub fn rewrite_chains(src: &str) -> String {
    if !(src.contains("default")
        || src.contains("defined")
        || src.contains("mandatory")
        || src.contains("d(")
        || src.contains("| d")
        || src.contains("|d")
        || src.contains("' %")
        || src.contains("'%")
        || src.contains("\" %")
        || src.contains("\"%"))
    {
        return src.to_string();
    }
    let mut out = String::with_capacity(src.len() + 32);
    let mut rest = src;
    while let Some(i) = rest.find('{') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let (close, code_start) = if rest.starts_with("{{") {
            ("}}", 2)
        } else if rest.starts_with("{%") {
            ("%}", 2)
        } else if rest.starts_with("{#") {
            // Comments are copied whole.
            match rest.find("#}") {
                Some(j) => {
                    out.push_str(&rest[..j + 2]);
                    rest = &rest[j + 2..];
                    continue;
                }
                None => {
                    out.push_str(rest);
                    return out;
                }
            }
        } else {
            out.push('{');
            rest = &rest[1..];
            continue;
        };
        let Some(end) = code_end(&rest[code_start..], close) else {
            // Unclosed tag: leave it for the parser to report.
            out.push_str(rest);
            return out;
        };
        let code = &rest[code_start..code_start + end];
        let whole = &rest[..code_start + end + 2];
        if close == "%}" && is_raw_start(code) {
            // `{% raw %}` … `{% endraw %}` is copied untouched.
            match find_endraw(&rest[whole.len()..]) {
                Some(j) => {
                    let upto = whole.len() + j;
                    out.push_str(&rest[..upto]);
                    rest = &rest[upto..];
                }
                None => {
                    out.push_str(rest);
                    return out;
                }
            }
            continue;
        }
        out.push_str(&rest[..code_start]);
        out.push_str(&rewrite_code(code));
        out.push_str(close);
        rest = &rest[whole.len()..];
    }
    out.push_str(rest);
    out
}

fn is_raw_start(code: &str) -> bool {
    code.trim_matches(|c: char| c == '-' || c == '+' || c.is_whitespace()) == "raw"
}

/// The index just past the `{% endraw %}` tag in `s`.
fn find_endraw(s: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(i) = s[from..].find("{%") {
        let start = from + i;
        let close = s[start..].find("%}")? + start;
        let inner = &s[start + 2..close];
        if inner.trim_matches(|c: char| c == '-' || c == '+' || c.is_whitespace()) == "endraw" {
            return Some(close + 2);
        }
        from = close + 2;
    }
    None
}

/// Where `close` ends the code of a tag, skipping string literals.
fn code_end(s: &str, close: &str) -> Option<usize> {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            q @ (b'\'' | b'"') => {
                i += 1;
                while i < b.len() && b[i] != q {
                    if b[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
                i += 1;
            }
            _ if b[i..].starts_with(close.as_bytes()) => return Some(i),
            _ => i += 1,
        }
    }
    None
}

#[derive(Debug, Clone, PartialEq)]
enum Tok<'a> {
    Ident(&'a str),
    Str(&'a str),
    Num(&'a str),
    Space(&'a str),
    Punct(char),
}

fn tokenize(code: &str) -> Vec<Tok<'_>> {
    let b = code.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let start = i;
        if c.is_ascii_alphabetic() || c == b'_' {
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
            out.push(Tok::Ident(&code[start..i]));
        } else if c.is_ascii_digit() {
            while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'_') {
                i += 1;
            }
            // A fraction and exponent belong to the number (`3.14`, `1e5`),
            // but `a.0.1` attribute chains keep their dots: only a number
            // that does not follow a dot takes a fraction.
            let after_dot = start > 0 && b[start - 1] == b'.';
            if !after_dot && i + 1 < b.len() && b[i] == b'.' && b[i + 1].is_ascii_digit() {
                i += 1;
                while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'_') {
                    i += 1;
                }
            }
            if !after_dot && i < b.len() && (b[i] == b'e' || b[i] == b'E') {
                let mut j = i + 1;
                if j < b.len() && (b[j] == b'+' || b[j] == b'-') {
                    j += 1;
                }
                if j < b.len() && b[j].is_ascii_digit() {
                    i = j;
                    while i < b.len() && b[i].is_ascii_digit() {
                        i += 1;
                    }
                }
            }
            out.push(Tok::Num(&code[start..i]));
        } else if c == b'\'' || c == b'"' {
            i += 1;
            while i < b.len() && b[i] != c {
                if b[i] == b'\\' {
                    i += 1;
                }
                i += 1;
            }
            i = (i + 1).min(b.len());
            out.push(Tok::Str(&code[start..i]));
        } else if c.is_ascii_whitespace() {
            while i < b.len() && b[i].is_ascii_whitespace() {
                i += 1;
            }
            out.push(Tok::Space(&code[start..i]));
        } else {
            // Multi-byte characters only occur in strings and are copied
            // with them; elsewhere they are passed through one by one.
            let ch = code[i..].chars().next().unwrap_or(' ');
            i += ch.len_utf8();
            out.push(Tok::Punct(ch));
        }
    }
    out
}

fn text(t: &Tok<'_>) -> String {
    match t {
        Tok::Ident(s) | Tok::Str(s) | Tok::Num(s) | Tok::Space(s) => s.to_string(),
        Tok::Punct(c) => c.to_string(),
    }
}

/// Rewrites guarded chains in the code of one tag.
fn rewrite_code(code: &str) -> String {
    let toks = tokenize(code);
    let mut out = String::with_capacity(code.len() + 16);
    let mut i = 0;
    while i < toks.len() {
        if let Tok::Str(fmt) = toks[i] {
            if let Some((args, end)) = percent_operand(&toks, i + 1) {
                out.push_str("__herd_percent(");
                out.push_str(fmt);
                for a in args {
                    out.push_str(", ");
                    out.push_str(&rewrite_code(&a));
                }
                out.push(')');
                i = end;
                continue;
            }
        }
        if let Tok::Ident(root) = toks[i] {
            if starts_chain(&toks, i) {
                let (segs, end) = chain_segments(&toks, i + 1);
                if !segs.is_empty() && is_guarded(&toks, end) {
                    out.push_str("__herd_chain(");
                    out.push_str(root);
                    for s in &segs {
                        out.push_str(", ");
                        out.push_str(s);
                    }
                    out.push(')');
                    i = end;
                    continue;
                }
            }
        }
        out.push_str(&text(&toks[i]));
        i += 1;
    }
    out
}

/// One step of a literal attribute chain.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    Attr(String),
    Index(i64),
}

/// Every `name.attr[0]['key']` chain with literal steps in the code of a
/// template, in order, for explaining which lookup came up empty.
pub fn literal_chains(src: &str) -> Vec<(String, Vec<Step>)> {
    let mut out = Vec::new();
    let toks = tokenize(src);
    let mut i = 0;
    while i < toks.len() {
        if let Tok::Ident(root) = toks[i] {
            if starts_chain(&toks, i) {
                let mut steps = Vec::new();
                let mut j = i + 1;
                loop {
                    match (toks.get(j), toks.get(j + 1), toks.get(j + 2)) {
                        (Some(Tok::Punct('.')), Some(Tok::Ident(n)), _) => {
                            if toks.get(j + 2) == Some(&Tok::Punct('(')) {
                                break;
                            }
                            steps.push(Step::Attr(n.to_string()));
                            j += 2;
                        }
                        (Some(Tok::Punct('.')), Some(Tok::Num(n)), _) => match n.parse() {
                            Ok(k) => {
                                steps.push(Step::Index(k));
                                j += 2;
                            }
                            Err(_) => break,
                        },
                        (Some(Tok::Punct('[')), Some(Tok::Num(n)), Some(Tok::Punct(']'))) => {
                            match n.parse() {
                                Ok(k) => {
                                    steps.push(Step::Index(k));
                                    j += 3;
                                }
                                Err(_) => break,
                            }
                        }
                        (Some(Tok::Punct('[')), Some(Tok::Str(q)), Some(Tok::Punct(']')))
                            if q.len() >= 2 =>
                        {
                            steps.push(Step::Attr(q[1..q.len() - 1].to_string()));
                            j += 3;
                        }
                        _ => break,
                    }
                }
                if !steps.is_empty() {
                    out.push((root.to_string(), steps));
                }
                i = j.max(i + 1);
                continue;
            }
        }
        i += 1;
    }
    out
}

/// After a string literal: `% x`, `% x.y[z]`, `% 5`, `% 'lit'` or
/// `% (a, b)`; the operand's argument texts and the token index after it.
fn percent_operand(toks: &[Tok<'_>], mut i: usize) -> Option<(Vec<String>, usize)> {
    while matches!(toks.get(i), Some(Tok::Space(_))) {
        i += 1;
    }
    if toks.get(i) != Some(&Tok::Punct('%')) {
        return None;
    }
    i += 1;
    while matches!(toks.get(i), Some(Tok::Space(_))) {
        i += 1;
    }
    match toks.get(i)? {
        Tok::Str(s) | Tok::Num(s) => Some((vec![s.to_string()], i + 1)),
        Tok::Ident(_) => {
            let start = i;
            i += 1;
            loop {
                match toks.get(i) {
                    Some(Tok::Punct('.'))
                        if matches!(toks.get(i + 1), Some(Tok::Ident(_)) | Some(Tok::Num(_))) =>
                    {
                        i += 2
                    }
                    Some(Tok::Punct('[')) => i = matching(toks, i)? + 1,
                    _ => break,
                }
            }
            let arg: String = toks[start..i].iter().map(text).collect();
            Some((vec![arg], i))
        }
        Tok::Punct('[' | '{') => {
            let close = matching(toks, i)?;
            let arg: String = toks[i..=close].iter().map(text).collect();
            Some((vec![arg], close + 1))
        }
        Tok::Punct('(') => {
            let close = matching(toks, i)?;
            let mut args = Vec::new();
            let mut cur = String::new();
            let mut depth = 0;
            for t in &toks[i + 1..close] {
                match t {
                    Tok::Punct('(' | '[' | '{') => depth += 1,
                    Tok::Punct(')' | ']' | '}') => depth -= 1,
                    Tok::Punct(',') if depth == 0 => {
                        args.push(std::mem::take(&mut cur));
                        continue;
                    }
                    _ => {}
                }
                cur.push_str(&text(t));
            }
            if !cur.trim().is_empty() {
                args.push(cur);
            }
            Some((
                args.into_iter().map(|a| a.trim().to_string()).collect(),
                close + 1,
            ))
        }
        _ => None,
    }
}

/// The index of the bracket closing the one at `i`.
fn matching(toks: &[Tok<'_>], i: usize) -> Option<usize> {
    let mut depth = 0;
    for (j, t) in toks.iter().enumerate().skip(i) {
        match t {
            Tok::Punct('(' | '[' | '{') => depth += 1,
            Tok::Punct(')' | ']' | '}') => {
                depth -= 1;
                if depth == 0 {
                    return Some(j);
                }
            }
            _ => {}
        }
    }
    None
}

const KEYWORDS: &[&str] = &[
    "and", "or", "not", "in", "is", "if", "else", "for", "true", "false", "none", "True", "False",
    "None", "loop",
];

/// Whether the identifier at `i` is a variable that starts an attribute
/// chain (not an attribute, a filter or a test name).
fn starts_chain(toks: &[Tok<'_>], i: usize) -> bool {
    let Tok::Ident(name) = toks[i] else {
        return false;
    };
    if KEYWORDS.contains(&name) {
        return false;
    }
    if !matches!(
        toks.get(i + 1),
        Some(Tok::Punct('.')) | Some(Tok::Punct('['))
    ) {
        return false;
    }
    // What comes before, skipping spaces.
    let mut j = i;
    while j > 0 {
        j -= 1;
        match &toks[j] {
            Tok::Space(_) => continue,
            Tok::Punct('.') | Tok::Punct('|') => return false,
            Tok::Ident("is") => return false,
            Tok::Ident("not") => {
                // `x is not defined`: `defined` is a test name.
                let mut k = j;
                while k > 0 {
                    k -= 1;
                    match &toks[k] {
                        Tok::Space(_) => continue,
                        Tok::Ident("is") => return false,
                        _ => break,
                    }
                }
                return true;
            }
            _ => return true,
        }
    }
    true
}

/// The accessors after a chain's root, as `__herd_chain` arguments, and
/// the token index after them. A chain that ends in a call (`a.b()`) has
/// no accessors to rewrite.
fn chain_segments(toks: &[Tok<'_>], mut i: usize) -> (Vec<String>, usize) {
    let mut segs = Vec::new();
    loop {
        match toks.get(i) {
            Some(Tok::Punct('.')) => match toks.get(i + 1) {
                Some(Tok::Ident(name)) => {
                    segs.push(format!("'{name}'"));
                    i += 2;
                }
                Some(Tok::Num(n)) => {
                    segs.push(n.to_string());
                    i += 2;
                }
                _ => return (Vec::new(), i),
            },
            Some(Tok::Punct('[')) => {
                let mut depth = 0;
                let mut j = i;
                let mut inner = String::new();
                loop {
                    match toks.get(j) {
                        None => return (Vec::new(), i),
                        Some(Tok::Punct('[')) | Some(Tok::Punct('(')) | Some(Tok::Punct('{')) => {
                            depth += 1
                        }
                        Some(Tok::Punct(']')) | Some(Tok::Punct(')')) | Some(Tok::Punct('}')) => {
                            depth -= 1
                        }
                        _ => {}
                    }
                    if j > i && depth > 0 {
                        inner.push_str(&text(&toks[j]));
                    }
                    if depth == 0 {
                        break;
                    }
                    j += 1;
                }
                // The closing bracket was pushed into `inner` only when
                // nested; slices (`a[1:]`) are not plain lookups.
                if inner.contains(':') && !inner.trim_start().starts_with(['\'', '"']) {
                    return (Vec::new(), i);
                }
                segs.push(format!("({})", inner.trim()));
                i = j + 1;
            }
            Some(Tok::Punct('(')) => return (Vec::new(), i),
            _ => return (segs, i),
        }
    }
}

/// Whether the tokens from `i` guard the value: `| default`, `| d`,
/// `| mandatory`, `is [not] defined`, `is [not] undefined`.
fn is_guarded(toks: &[Tok<'_>], mut i: usize) -> bool {
    let skip = |i: &mut usize| {
        while matches!(toks.get(*i), Some(Tok::Space(_))) {
            *i += 1;
        }
    };
    skip(&mut i);
    match toks.get(i) {
        Some(Tok::Punct('|')) => {
            i += 1;
            skip(&mut i);
            matches!(toks.get(i), Some(Tok::Ident("default" | "d" | "mandatory")))
        }
        Some(Tok::Ident("is")) => {
            i += 1;
            skip(&mut i);
            if matches!(toks.get(i), Some(Tok::Ident("not"))) {
                i += 1;
                skip(&mut i);
            }
            matches!(toks.get(i), Some(Tok::Ident("defined" | "undefined")))
        }
        _ => false,
    }
}

#[cfg(test)]
mod unit {
    use super::rewrite_chains as rw;

    #[test]
    fn guarded_chains_are_rewritten() {
        assert_eq!(
            rw("{{ a.b.c | default('x') }}"),
            "{{ __herd_chain(a, 'b', 'c') | default('x') }}"
        );
        assert_eq!(
            rw("{{ a['b'].c|d(1) }}"),
            "{{ __herd_chain(a, ('b'), 'c')|d(1) }}"
        );
        assert_eq!(
            rw("{% if a.b is defined %}x{% endif %}"),
            "{% if __herd_chain(a, 'b') is defined %}x{% endif %}"
        );
        assert_eq!(
            rw("{{ a.b is not defined }}"),
            "{{ __herd_chain(a, 'b') is not defined }}"
        );
        assert_eq!(
            rw("{{ hostvars[h].x | default(omit) }}"),
            "{{ __herd_chain(hostvars, (h), 'x') | default(omit) }}"
        );
        assert_eq!(
            rw("{{ a.0 | default(1) }}"),
            "{{ __herd_chain(a, 0) | default(1) }}"
        );
    }

    #[test]
    fn percent_formatting_is_rewritten() {
        assert_eq!(
            rw("{{ '%s-%s' % (a, b.c) }}"),
            "{{ __herd_percent('%s-%s', a, b.c) }}"
        );
        assert_eq!(rw("{{ \"%d\" % n }}"), "{{ __herd_percent(\"%d\", n) }}");
        assert_eq!(
            rw("{{ '%s' % x[0] | upper }}"),
            "{{ __herd_percent('%s', x[0]) | upper }}"
        );
        assert_eq!(
            rw("{{ '%s' % (y.z | default(1)) }}"),
            "{{ __herd_percent('%s', __herd_chain(y, 'z') | default(1)) }}"
        );
        assert_eq!(rw("{{ 10 % 3 }}"), "{{ 10 % 3 }}");
    }

    #[test]
    fn non_ascii_code_is_safe() {
        assert_eq!(
            rw("{{ é | default(1) }} ü {{ 'ß' }}"),
            "{{ é | default(1) }} ü {{ 'ß' }}"
        );
        let _ = super::literal_chains("{{ x['é'] }} it's ü [é");
    }

    #[test]
    fn other_code_is_untouched() {
        for src in [
            "{{ a.b.c }}",
            "{{ a | default(b.c) }}",
            "{{ a.b() | default(1) }}",
            "{{ x | ansible.builtin.to_json | default(1) }}",
            "{{ 'a.b | default(1)' }}",
            "{% raw %}{{ a.b | default(1) }}{% endraw %}",
            "{# a.b | default(1) #}",
            "plain a.b | default text",
            "{{ a[1:] | default(1) }}",
            "{{ a is defined }}",
        ] {
            assert_eq!(rw(src), src);
        }
    }
}
