//! Host patterns, as Ansible reads them in `hosts:`, `-l/--limit` and on
//! the `ansible` command line.
//!
//! * `all` or `*`: every host; a host or group name; a glob on host and
//!   group names (`web*`, `db?.example.com`, `[ab]*`); `~regex`.
//! * `a:b` or `a,b` (union), `a:&b` (intersection), `a:!b` (exclusion).
//!   Unions are taken first in order, then intersections, then
//!   exclusions, whatever the written order.
//! * A subscript on a group or glob: `g[0]`, `g[-1]`, `g[1:3]` (the end
//!   is inclusive), `g[2:]`.
//! * `localhost`, `127.0.0.1` or `::1` not in the inventory name the
//!   implicit localhost.
//!
//! A pattern matching nothing warns `Could not match supplied host
//! pattern, ignoring: X`; the caller decides whether no host is an error.

use std::collections::HashSet;
use std::sync::OnceLock;

use regex::Regex;

use super::{address, Inventory, LOCALHOST};
use crate::diag::{warn, Diagnostic, Result};

/// Splits a pattern string into single patterns: on commas when there is
/// one, else on colons outside brackets (unless the whole string is an
/// address such as an IPv6 one).
pub fn split_host_pattern(pattern: &str) -> Vec<String> {
    let parts: Vec<String> = if pattern.contains(',') {
        pattern.split(',').map(str::to_string).collect()
    } else if address::parse_address(pattern, true).is_some() {
        vec![pattern.to_string()]
    } else {
        static R: OnceLock<Regex> = OnceLock::new();
        let re = R.get_or_init(|| {
            Regex::new(r"(?:[^\s:\[\]]|\[[^\]]*\])+").expect("static pattern is valid")
        });
        re.find_iter(pattern)
            .map(|m| m.as_str().to_string())
            .collect()
    };
    parts
        .into_iter()
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty())
        .collect()
}

/// Puts plain patterns first, then `&` ones, then `!` ones; `all` when
/// there is no plain pattern.
fn order_patterns(patterns: &[String]) -> Vec<String> {
    let mut regular = Vec::new();
    let mut inter = Vec::new();
    let mut excl = Vec::new();
    for p in patterns {
        if p.is_empty() {
            continue;
        }
        match p.as_bytes()[0] {
            b'!' => excl.push(p.clone()),
            b'&' => inter.push(p.clone()),
            _ => regular.push(p.clone()),
        }
    }
    if regular.is_empty() {
        regular.push("all".to_string());
    }
    regular.into_iter().chain(inter).chain(excl).collect()
}

/// Host names matching `pattern`, in Ansible's order, without duplicates.
pub fn select(inv: &Inventory, pattern: &str) -> Result<Vec<String>> {
    evaluate(inv, &split_host_pattern(pattern))
}

/// Keeps the hosts of `hosts` that match `limit`; `@file` items name
/// files of patterns, one per line.
pub fn apply_limit(inv: &Inventory, hosts: Vec<String>, limit: &str) -> Result<Vec<String>> {
    let patterns = limit_patterns(limit)?;
    let keep: HashSet<String> = evaluate(inv, &patterns)?.into_iter().collect();
    Ok(hosts.into_iter().filter(|h| keep.contains(h)).collect())
}

/// The single patterns of a `--limit` value, `@file`s read.
pub fn limit_patterns(limit: &str) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for p in split_host_pattern(limit) {
        if let Some(file) = p.strip_prefix('@') {
            let path = std::path::Path::new(file);
            if !path.exists() {
                return Err(Diagnostic::new(format!("Unable to find limit file {file}")));
            }
            if !path.is_file() {
                return Err(Diagnostic::new(format!(
                    "Limit starting with \"@\" must be a file, not a directory: {file}"
                )));
            }
            let text = std::fs::read_to_string(path)
                .map_err(|e| Diagnostic::new(format!("could not read limit file {file}: {e}")))?;
            out.extend(text.split('\n').map(|l| l.trim().to_string()));
        } else {
            out.push(p);
        }
    }
    Ok(out)
}

fn evaluate(inv: &Inventory, patterns: &[String]) -> Result<Vec<String>> {
    let mut hosts: Vec<String> = Vec::new();
    for p in order_patterns(patterns) {
        if inv.hosts.contains_key(&p) {
            hosts.push(p);
            continue;
        }
        let that = match_one(inv, &p)?;
        match p.as_bytes()[0] {
            b'!' => {
                let that: HashSet<&String> = that.iter().collect();
                hosts.retain(|h| !that.contains(h));
            }
            b'&' => {
                let that: HashSet<&String> = that.iter().collect();
                hosts.retain(|h| that.contains(h));
            }
            _ => {
                let existing: HashSet<String> = hosts.iter().cloned().collect();
                hosts.extend(that.into_iter().filter(|h| !existing.contains(h)));
            }
        }
    }
    let mut seen = HashSet::new();
    hosts.retain(|h| seen.insert(h.clone()));
    Ok(hosts)
}

fn subscript_re() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    R.get_or_init(|| {
        Regex::new(r"^(?s)(.+)\[(?:(-?[0-9]+)|([0-9]+)([:-])([0-9]*))\]$")
            .expect("static pattern is valid")
    })
}

fn match_one(inv: &Inventory, pattern: &str) -> Result<Vec<String>> {
    let pattern = pattern.strip_prefix(['&', '!']).unwrap_or(pattern);
    if pattern.is_empty() {
        return Ok(Vec::new());
    }
    let (expr, sub) = split_subscript(pattern);
    let hosts = enumerate(inv, &expr)?;
    let Some((start, end)) = sub else {
        return Ok(hosts);
    };
    if hosts.is_empty() {
        return Ok(hosts);
    }
    let none = || {
        Diagnostic::new(format!(
            "No hosts matched the subscripted pattern '{pattern}'"
        ))
    };
    let len = hosts.len() as i64;
    match end {
        // Ansible treats an end of 0 as "no end": a single host.
        Some(end) if end != 0 => {
            let end = if end == -1 { len - 1 } else { end };
            // Python slice semantics: out-of-range bounds clamp.
            let s = start.clamp(0, len) as usize;
            let e = (end + 1).clamp(0, len) as usize;
            Ok(if s < e {
                hosts[s..e].to_vec()
            } else {
                Vec::new()
            })
        }
        _ => {
            let idx = if start < 0 { len + start } else { start };
            if idx < 0 || idx >= len {
                return Err(none());
            }
            Ok(vec![hosts[idx as usize].clone()])
        }
    }
}

/// The pattern without its subscript, and the subscript as (start, end);
/// end is `None` for a single index and -1 for an open end.
fn split_subscript(pattern: &str) -> (String, Option<(i64, Option<i64>)>) {
    if pattern.starts_with('~') {
        return (pattern.to_string(), None);
    }
    let Some(c) = subscript_re().captures(pattern) else {
        return (pattern.to_string(), None);
    };
    let expr = c[1].to_string();
    if let Some(idx) = c.get(2) {
        return match idx.as_str().parse() {
            Ok(i) => (expr, Some((i, None))),
            Err(_) => (pattern.to_string(), None),
        };
    }
    let start: i64 = c[3].parse().unwrap_or(0);
    let end: i64 = if c[5].is_empty() {
        -1
    } else {
        c[5].parse().unwrap_or(-1)
    };
    if &c[4] == "-" {
        warn("Use [x:y] inclusive subscripts instead of [x-y] which has been removed");
    }
    (expr, Some((start, Some(end))))
}

/// Python's `fnmatch.translate`, anchored at both ends.
pub fn fnmatch_regex(pat: &str) -> String {
    let chars: Vec<char> = pat.chars().collect();
    let mut out = String::from("^(?s:");
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        match c {
            '*' => {
                while i < chars.len() && chars[i] == '*' {
                    i += 1;
                }
                out.push_str(".*");
            }
            '?' => out.push('.'),
            '[' => {
                let mut j = i;
                if j < chars.len() && chars[j] == '!' {
                    j += 1;
                }
                if j < chars.len() && chars[j] == ']' {
                    j += 1;
                }
                while j < chars.len() && chars[j] != ']' {
                    j += 1;
                }
                if j >= chars.len() {
                    out.push_str("\\[");
                } else {
                    let stuff: String = chars[i..j].iter().collect();
                    i = j + 1;
                    let mut body = String::new();
                    let mut inner = stuff.chars().peekable();
                    if stuff.starts_with('!') {
                        body.push('^');
                        inner.next();
                    } else if stuff.starts_with('^') || stuff.starts_with('[') {
                        body.push('\\');
                    }
                    for ch in inner {
                        match ch {
                            '\\' | '[' | '&' | '~' | '|' => {
                                body.push('\\');
                                body.push(ch);
                            }
                            _ => body.push(ch),
                        }
                    }
                    if body.is_empty() {
                        // `[]` never matches.
                        out.push_str("(?!)");
                    } else if body == "^" {
                        out.push('.');
                    } else {
                        out.push('[');
                        out.push_str(&body);
                        out.push(']');
                    }
                }
            }
            c => out.push_str(&regex::escape(&c.to_string())),
        }
    }
    out.push_str(")$");
    out
}

fn compile(pattern: &str) -> Result<Regex> {
    let re = match pattern.strip_prefix('~') {
        Some(r) => format!("^(?:{r})"),
        None => fnmatch_regex(pattern),
    };
    Regex::new(&re).map_err(|_| Diagnostic::new(format!("Invalid host list pattern: {pattern}")))
}

fn enumerate(inv: &Inventory, pattern: &str) -> Result<Vec<String>> {
    let mut results: Vec<String> = Vec::new();
    let plain = !pattern.starts_with('~') && !pattern.contains(['.', '?', '*', '[']);
    let matching_groups: Vec<&String> = if plain {
        // A plain word can only be a group or host of that exact name.
        inv.groups.keys().filter(|g| *g == pattern).collect()
    } else {
        let re = compile(pattern)?;
        inv.groups.keys().filter(|g| re.is_match(g)).collect()
    };
    for g in &matching_groups {
        results.extend(inv.group_hosts(g));
    }
    if matching_groups.is_empty() || !plain {
        if plain {
            if inv.hosts.contains_key(pattern) {
                results.push(pattern.to_string());
            }
        } else {
            let re = compile(pattern)?;
            results.extend(inv.hosts.keys().filter(|h| re.is_match(h)).cloned());
        }
    }
    if results.is_empty() && LOCALHOST.contains(&pattern) {
        results.push(pattern.to_string());
    }
    if results.is_empty() && matching_groups.is_empty() && pattern != "all" {
        warn(format!(
            "Could not match supplied host pattern, ignoring: {pattern}"
        ));
    }
    Ok(results)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitting() {
        assert_eq!(split_host_pattern("a:b:&c:!d"), vec!["a", "b", "&c", "!d"]);
        assert_eq!(split_host_pattern("a, b ,c"), vec!["a", "b", "c"]);
        assert_eq!(split_host_pattern("g[1:3]"), vec!["g[1:3]"]);
        assert_eq!(split_host_pattern("g[0]:h"), vec!["g[0]", "h"]);
        assert_eq!(split_host_pattern("fe80::1"), vec!["fe80::1"]);
    }

    #[test]
    fn globs() {
        let re = Regex::new(&fnmatch_regex("web*.ex?mple.com")).unwrap();
        assert!(re.is_match("web1.example.com"));
        assert!(!re.is_match("db1.example.com"));
        let re = Regex::new(&fnmatch_regex("[!a]*")).unwrap();
        assert!(re.is_match("b"));
        assert!(!re.is_match("ab"));
    }
}
