//! Host addresses and host ranges as Ansible's inventory plugins read them:
//! `host:port`, `[ipv6]:port`, `web[01:20].example.com`, `db-[a:f]`,
//! `h[1:10:2]`.

use std::sync::OnceLock;

use regex::Regex;

const NUMERIC_RANGE: &str = r"\[(?:[0-9]+:[0-9]+)(?::[0-9]+)?\]";
const HEX_RANGE: &str = r"\[(?:[0-9a-f]+:[0-9a-f]+)(?::[0-9]+)?\]";
const ALNUM_RANGE: &str = r"\[(?:[a-z]:[a-z]|[0-9]+:[0-9]+)(?::[0-9]+)?\]";

/// Compiles a pattern that is part of this file.
fn compile(re: &str) -> Regex {
    Regex::new(re).expect("static pattern is valid")
}

fn bracketed_hostport() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    R.get_or_init(|| compile(r"^\[(.+)\]:([0-9]+)$"))
}

fn hostport() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    R.get_or_init(|| compile(r"^((?:[^:\[\]]|\[[^\]]*\])*):([0-9]+)$"))
}

fn ipv4(name: &str) -> bool {
    static R: OnceLock<Regex> = OnceLock::new();
    R.get_or_init(|| {
        let i4 = format!("(?:[01]?[0-9]{{1,2}}|2[0-4][0-9]|25[0-5]|{NUMERIC_RANGE})");
        compile(&format!("(?i)^(?:{i4}\\.){{3}}{i4}$"))
    })
    .is_match(name)
}

/// Every form of an IPv6 address holds a `:`; without one the pattern
/// is not even compiled.
fn ipv6(name: &str) -> bool {
    static R: OnceLock<Regex> = OnceLock::new();
    name.contains(':')
        && R.get_or_init(|| {
            let i6 = format!("(?:[0-9a-f]{{1,4}}|{HEX_RANGE})");
            let forms = [
                format!("(?:{i6}:){{7}}{i6}"),
                format!("(?:{i6}:){{1,6}}:"),
                format!("(?:{i6}:)(?::{i6}){{1,6}}"),
                format!("(?:{i6}:){{2}}(?::{i6}){{1,5}}"),
                format!("(?:{i6}:){{3}}(?::{i6}){{1,4}}"),
                format!("(?:{i6}:){{4}}(?::{i6}){{1,3}}"),
                format!("(?:{i6}:){{5}}(?::{i6}){{1,2}}"),
                format!("(?:{i6}:){{6}}(?::{i6})"),
                format!(":(?::{i6}){{1,6}}"),
                format!("{i6}?::"),
                format!("(?:0:){{6}}(?:{i6}\\.){{3}}{i6}"),
                format!("::(?:ffff:)?(?:{i6}\\.){{3}}{i6}"),
                format!("(?:0:){{5}}ffff:(?:{i6}\\.){{3}}{i6}"),
            ]
            .join("|");
            compile(&format!("(?i)^(?:{forms})$"))
        })
        .is_match(name)
}

/// Whether `name` is a host name as Ansible's pattern has it: dotted
/// labels of word characters and `-`, each starting with a word
/// character and ending with one other than `_` (or with ranges). Plain
/// ASCII names are decided without the pattern, whose Unicode classes
/// take milliseconds to compile.
fn hostname(name: &str) -> bool {
    let plain_label = |l: &[u8]| match (l.first(), l.last()) {
        (Some(first), Some(last)) => {
            (first.is_ascii_alphanumeric() || *first == b'_')
                && last.is_ascii_alphanumeric()
                && l.iter()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-'))
        }
        _ => false,
    };
    name.split('.').all(|l| plain_label(l.as_bytes())) || hostname_pattern().is_match(name)
}

fn hostname_pattern() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    R.get_or_init(|| {
        // Ansible's label forbids a trailing `_` or `-` with a
        // look-behind; the regex crate has none, so the label must end
        // on a word character other than `_`, or on a range.
        let end = format!("(?:[\\w&&[^_]]|{ALNUM_RANGE})");
        let label = format!(
            "(?:{ALNUM_RANGE}|[\\w&&[^_]]|(?:\\w|{ALNUM_RANGE})(?:[\\w-]|{ALNUM_RANGE})*{end})"
        );
        compile(&format!("(?i)^{label}(?:\\.{label})*$"))
    })
}

/// Whether `name` looks like an IPv4 or IPv6 address (for
/// `inventory_hostname_short`).
pub fn is_ip(name: &str) -> bool {
    ipv4(name) || ipv6(name)
}

/// Splits `address` into host and optional port, as Ansible's
/// `parse_address`. `None` when it is not a recognisable host identifier.
pub fn parse_address(address: &str, allow_ranges: bool) -> Option<(String, Option<u16>)> {
    let mut addr = address.to_string();
    let mut port = None;
    for re in [bracketed_hostport(), hostport()] {
        if let Some(c) = re.captures(&addr) {
            // A port that does not fit in 16 bits is not a port.
            let n: u16 = c[2].parse().ok()?;
            port = Some(n);
            addr = c[1].to_string();
        }
    }
    let ok = ipv4(&addr) || ipv6(&addr) || hostname(&addr);
    if !ok || (!allow_ranges && addr.contains('[')) {
        return None;
    }
    Some((addr, port))
}

/// Expands every `[a:b]` / `[a:b:step]` range in a host pattern, as
/// Ansible's `expand_hostname_range`.
pub fn expand_hostname_range(line: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    expand_into(line, &mut out)?;
    Ok(out)
}

fn expand_into(line: &str, out: &mut Vec<String>) -> Result<(), String> {
    let Some(open) = line.find('[') else {
        out.push(line.to_string());
        return Ok(());
    };
    let head = &line[..open];
    let rest = &line[open + 1..];
    let Some(close) = rest.find(']') else {
        return Err(format!("host range is not closed in '{line}'"));
    };
    let nrange = &rest[..close];
    let tail = &rest[close + 1..];
    // Ansible replaces only the first `[` and `]` and splits on `|`; a
    // second range in the tail is expanded recursively.
    let bounds: Vec<&str> = nrange.split(':').collect();
    if bounds.len() != 2 && bounds.len() != 3 {
        return Err("host range must be begin:end or begin:end:step".into());
    }
    let beg = if bounds[0].is_empty() { "0" } else { bounds[0] };
    let end = bounds[1];
    let step: usize = match bounds.get(2) {
        None => 1,
        Some(s) => s
            .parse()
            .map_err(|_| format!("invalid literal for int() with base 10: '{s}'"))?,
    };
    if step == 0 {
        return Err("range() arg 3 must not be zero".into());
    }
    if end.is_empty() {
        return Err("host range must specify end value".into());
    }
    let width = if beg.starts_with('0') && beg.len() > 1 {
        if beg.len() != end.len() {
            return Err("host range must specify equal-length begin and end formats".into());
        }
        Some(beg.len())
    } else {
        None
    };
    const LETTERS: &str = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    let alpha = |s: &str| {
        if s.len() == 1 {
            LETTERS.find(s)
        } else {
            None
        }
    };
    let seq: Vec<String> = match (alpha(beg), alpha(end)) {
        (Some(b), Some(e)) => {
            if b > e {
                return Err("host range must have begin <= end".into());
            }
            LETTERS[b..=e]
                .chars()
                .step_by(step)
                .map(|c| c.to_string())
                .collect()
        }
        _ => {
            let b: i64 = beg
                .parse()
                .map_err(|_| format!("invalid literal for int() with base 10: '{beg}'"))?;
            let e: i64 = end
                .parse()
                .map_err(|_| format!("invalid literal for int() with base 10: '{end}'"))?;
            if e < b {
                Vec::new()
            } else {
                (b..=e)
                    .step_by(step)
                    .map(|n| match width {
                        Some(w) => format!("{n:0w$}"),
                        None => n.to_string(),
                    })
                    .collect()
            }
        }
    };
    for item in seq {
        let name = format!("{head}{item}{tail}");
        if name.contains('[') {
            expand_into(&name, out)?;
        } else {
            out.push(name);
        }
    }
    Ok(())
}

/// A host pattern as an inventory file writes it, expanded into host
/// names and the port they share (Ansible's `_expand_hostpattern`).
pub fn expand_hostpattern(pattern: &str) -> Result<(Vec<String>, Option<u16>), String> {
    let (base, port) = match parse_address(pattern, true) {
        Some((h, p)) => (h, p),
        None => (pattern.to_string(), None),
    };
    let names = if base.contains('[') {
        expand_hostname_range(&base)?
    } else {
        vec![base]
    };
    Ok((names, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A plain name is decided without the pattern, and the same way.
    #[test]
    fn plain_host_names_are_judged_as_the_pattern_judges_them() {
        for name in [
            "h0001",
            "a",
            "1",
            "_",
            "a_",
            "_a",
            "a-",
            "-a",
            "a-b",
            "a_b",
            "a.b",
            "a..b",
            ".a",
            "a.",
            "web-01.example.com",
            "x_y.z-",
            "db_.example",
            "UPPER.Case",
        ] {
            assert_eq!(hostname(name), hostname_pattern().is_match(name), "{name}");
        }
    }

    #[test]
    fn addresses() {
        assert_eq!(
            parse_address("host:22", false),
            Some(("host".into(), Some(22)))
        );
        assert_eq!(
            parse_address("[fe80::2]:2200", false),
            Some(("fe80::2".into(), Some(2200)))
        );
        assert_eq!(
            parse_address("fe80::1", false),
            Some(("fe80::1".into(), None))
        );
        assert_eq!(
            parse_address("10.0.0.1:80", false),
            Some(("10.0.0.1".into(), Some(80)))
        );
        assert_eq!(parse_address("bad_", false), None);
        assert_eq!(parse_address("web:&db", true), None);
        assert!(parse_address("g[1:3]", true).is_some());
        assert!(parse_address("g[0]", true).is_none());
        assert!(parse_address("a", true).is_some());
    }

    #[test]
    fn ranges() {
        assert_eq!(
            expand_hostname_range("web[01:03].x").unwrap(),
            vec!["web01.x", "web02.x", "web03.x"]
        );
        assert_eq!(
            expand_hostname_range("db-[a:c]").unwrap(),
            vec!["db-a", "db-b", "db-c"]
        );
        assert_eq!(
            expand_hostname_range("h[1:10:4]").unwrap(),
            vec!["h1", "h5", "h9"]
        );
        assert_eq!(
            expand_hostname_range("r[1:2]c[a:b]").unwrap(),
            vec!["r1ca", "r1cb", "r2ca", "r2cb"]
        );
        assert!(expand_hostname_range("h[01:100]").is_err());
    }
}
