//! Python's `re` as Ansible's lineinfile, blockinfile and replace use it:
//! patterns are read with Python's spelling where it differs from
//! fancy-regex's, and replacement templates (`\1`, `\g<1>`, `\g<name>`,
//! `\n`) are expanded as `re.sub` and `Match.expand` do.

use fancy_regex::{Captures, Regex};

/// Compiles a Python pattern; `multiline` as `re.MULTILINE`, `dotall`
/// as `re.DOTALL`.
pub fn compile(pattern: &str, multiline: bool, dotall: bool) -> Result<Regex, String> {
    let mut out = String::new();
    if multiline {
        out.push_str("(?m)");
    }
    if dotall {
        out.push_str("(?s)");
    }
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                // Python's end of string.
                Some('Z') => out.push_str("\\z"),
                Some(n) => {
                    out.push('\\');
                    out.push(n);
                }
                None => out.push('\\'),
            }
        } else if c == '(' && pattern_rest_starts(&mut chars, "?P=") {
            // (?P=name) is a named backreference.
            for _ in 0..3 {
                chars.next();
            }
            let mut name = String::new();
            for n in chars.by_ref() {
                if n == ')' {
                    break;
                }
                name.push(n);
            }
            out.push_str(&format!("\\k<{name}>"));
        } else {
            out.push(c);
        }
    }
    Regex::new(&out).map_err(|e| format!("invalid regular expression {pattern:?}: {e}"))
}

fn pattern_rest_starts(chars: &mut std::iter::Peekable<std::str::Chars<'_>>, s: &str) -> bool {
    let rest: String = chars.clone().take(s.len()).collect();
    rest == s
}

/// Expands a replacement template against a match, as Python does.
pub fn expand(template: &str, caps: &Captures<'_>) -> Result<String, String> {
    let mut out = String::new();
    let mut chars = template.chars().peekable();
    let group = |out: &mut String, name: &str| -> Result<(), String> {
        let m = match name.parse::<usize>() {
            Ok(i) => {
                if i >= caps.len() {
                    return Err(format!("invalid group reference {i}"));
                }
                caps.get(i)
            }
            Err(_) => caps.name(name),
        };
        out.push_str(m.map(|m| m.as_str()).unwrap_or(""));
        Ok(())
    };
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('g') => {
                if chars.next() != Some('<') {
                    return Err("missing < in \\g<...>".into());
                }
                let mut name = String::new();
                loop {
                    match chars.next() {
                        Some('>') => break,
                        Some(n) => name.push(n),
                        None => return Err("missing > in \\g<...>".into()),
                    }
                }
                group(&mut out, &name)?;
            }
            Some(d @ '1'..='9') => {
                let mut num = d.to_string();
                if let Some(&n) = chars.peek() {
                    if n.is_ascii_digit() {
                        num.push(n);
                        chars.next();
                    }
                }
                group(&mut out, &num)?;
            }
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('f') => out.push('\x0c'),
            Some('v') => out.push('\x0b'),
            Some('a') => out.push('\x07'),
            Some('b') => out.push('\x08'),
            Some('0') => out.push('\0'),
            Some('\\') => out.push('\\'),
            Some(n) if n.is_ascii_alphabetic() => return Err(format!("bad escape \\{n}")),
            Some(n) => {
                out.push('\\');
                out.push(n);
            }
            None => out.push('\\'),
        }
    }
    Ok(out)
}

/// `re.subn`: every match replaced by the expanded template; the count.
pub fn subn(re: &Regex, template: &str, text: &str) -> Result<(String, usize), String> {
    let mut out = String::new();
    let mut last = 0;
    let mut n = 0;
    for caps in re.captures_iter(text) {
        let caps = caps.map_err(|e| e.to_string())?;
        let Some(m) = caps.get(0) else { continue };
        out.push_str(&text[last..m.start()]);
        out.push_str(&expand(template, &caps)?);
        last = m.end();
        n += 1;
    }
    out.push_str(&text[last..]);
    Ok((out, n))
}

/// Whether the pattern matches anywhere in `text`.
pub fn search(re: &Regex, text: &str) -> bool {
    re.is_match(text).unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_templates() {
        let re = compile(r"(?P<k>\w+)=(\d+)", false, false).unwrap();
        assert_eq!(
            subn(&re, r"\2=\g<k>", "a=1 b=2").unwrap(),
            ("1=a 2=b".into(), 2)
        );
        assert_eq!(subn(&re, r"\g<2>0\n", "a=1").unwrap().0, "10\n");
        assert!(subn(&re, r"\q", "a=1").is_err());
        assert_eq!(subn(&re, r"\.", "a=1").unwrap().0, "\\.");
        let re = compile(r"(a)|(b)", false, false).unwrap();
        assert_eq!(subn(&re, r"[\2]", "ab").unwrap().0, "[][b]");
    }

    #[test]
    fn python_patterns() {
        let re = compile(r"x\Z", false, false).unwrap();
        assert!(search(&re, "ax") && !search(&re, "x\n"));
        let re = compile(r"(?P<q>['])a(?P=q)", false, false).unwrap();
        assert!(search(&re, "'a'"));
        let re = compile(r"^b$", true, false).unwrap();
        assert_eq!(subn(&re, "c", "a\nb\nd").unwrap().0, "a\nc\nd");
    }
}
