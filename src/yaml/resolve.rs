//! PyYAML's implicit resolver for plain (unquoted) scalars.

use super::NodeKind;

/// Types a plain scalar as PyYAML's `SafeLoader` does (YAML 1.1).
pub fn resolve_plain(text: &str) -> NodeKind {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return NodeKind::Null,
        "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
            return NodeKind::Bool(true)
        }
        "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            return NodeKind::Bool(false)
        }
        _ => {}
    }
    if let Some(i) = parse_int(text) {
        return NodeKind::Int(i);
    }
    if let Some(f) = parse_float(text) {
        return NodeKind::Float(f);
    }
    NodeKind::Str(text.to_string())
}

fn split_sign(text: &str) -> (i128, &str) {
    match text.as_bytes().first() {
        Some(b'-') => (-1, &text[1..]),
        Some(b'+') => (1, &text[1..]),
        _ => (1, text),
    }
}

/// `[-+]?0b[01_]+ | [-+]?0[0-7_]+ | [-+]?(0|[1-9][0-9_]*) |
/// [-+]?0x[0-9a-fA-F_]+ | [-+]?[1-9][0-9_]*(:[0-5]?[0-9])+`
pub(crate) fn parse_int(text: &str) -> Option<i128> {
    let (sign, body) = split_sign(text);
    if body.is_empty() {
        return None;
    }
    let digits = |s: &str, radix: u32| -> Option<i128> {
        let clean: String = s.chars().filter(|c| *c != '_').collect();
        if clean.is_empty() || !s.chars().all(|c| c == '_' || c.is_digit(radix)) {
            return None;
        }
        i128::from_str_radix(&clean, radix).ok()
    };
    let value = if let Some(rest) = body.strip_prefix("0b") {
        digits(rest, 2)?
    } else if let Some(rest) = body.strip_prefix("0x") {
        digits(rest, 16)?
    } else if body == "0" {
        0
    } else if let Some(rest) = body.strip_prefix('0') {
        digits(rest, 8)?
    } else if body.contains(':') {
        sexagesimal_int(body)?
    } else {
        if !body.starts_with(|c: char| c.is_ascii_digit()) {
            return None;
        }
        digits(body, 10)?
    };
    Some(sign * value)
}

fn sexagesimal_int(body: &str) -> Option<i128> {
    let mut parts = body.split(':');
    let first = parts.next()?;
    if first.is_empty()
        || first.starts_with('0')
        || !first.chars().all(|c| c.is_ascii_digit() || c == '_')
    {
        return None;
    }
    let mut value: i128 = first.replace('_', "").parse().ok()?;
    for part in parts {
        if part.is_empty() || part.len() > 2 || !part.chars().all(|c| c.is_ascii_digit()) {
            return None;
        }
        let n: i128 = part.parse().ok()?;
        if part.len() == 2 && !part.starts_with(|c: char| ('0'..='5').contains(&c)) {
            return None;
        }
        value = value.checked_mul(60)?.checked_add(n)?;
    }
    Some(value)
}

/// `[-+]?([0-9][0-9_]*)?\.[0-9_]*([eE][-+][0-9]+)? |
/// [-+]?[0-9][0-9_]*(:[0-5]?[0-9])+\.[0-9_]* | [-+]?\.(inf|Inf|INF) | \.(nan|NaN|NAN)`
pub(crate) fn parse_float(text: &str) -> Option<f64> {
    match text {
        ".nan" | ".NaN" | ".NAN" => return Some(f64::NAN),
        _ => {}
    }
    let (sign, body) = split_sign(text);
    let sign = sign as f64;
    match body {
        ".inf" | ".Inf" | ".INF" => return Some(sign * f64::INFINITY),
        _ => {}
    }
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], Some(&body[i + 1..])),
        None => (body, None),
    };
    if let Some(exp) = exponent {
        let (_, digits) = split_sign(exp);
        if !exp.starts_with(['-', '+']) || digits.is_empty() {
            return None;
        }
        if !digits.chars().all(|c| c.is_ascii_digit()) {
            return None;
        }
    }
    let dot = mantissa.find('.')?;
    let (int_part, frac_part) = (&mantissa[..dot], &mantissa[dot + 1..]);
    if !frac_part.chars().all(|c| c.is_ascii_digit() || c == '_') {
        return None;
    }
    if int_part.contains(':') {
        if exponent.is_some() {
            return None;
        }
        let whole = sexagesimal_int(int_part)? as f64;
        let frac: f64 = format!("0.{}", frac_part.replace('_', ""))
            .parse()
            .unwrap_or(0.0);
        return Some(sign * (whole + frac));
    }
    if !int_part.is_empty() {
        if !int_part.starts_with(|c: char| c.is_ascii_digit())
            || !int_part.chars().all(|c| c.is_ascii_digit() || c == '_')
        {
            return None;
        }
    } else if frac_part.is_empty() {
        return None;
    }
    let clean = format!(
        "{}.{}{}",
        if int_part.is_empty() { "0" } else { int_part },
        frac_part,
        exponent.map(|e| format!("e{e}")).unwrap_or_default()
    )
    .replace('_', "");
    clean.parse::<f64>().ok().map(|f| sign * f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pyyaml_types() {
        use NodeKind::*;
        let cases: &[(&str, NodeKind)] = &[
            ("yes", Bool(true)),
            ("Off", Bool(false)),
            ("y", Str("y".into())),
            ("n", Str("n".into())),
            ("0644", Int(420)),
            ("0o644", Str("0o644".into())),
            ("08", Str("08".into())),
            ("1e3", Str("1e3".into())),
            ("1.0e+3", Float(1000.0)),
            ("1:30", Int(90)),
            ("0x1F", Int(31)),
            ("0b101", Int(5)),
            ("-12", Int(-12)),
            ("1_000", Int(1000)),
            ("2.5", Float(2.5)),
            (".5", Float(0.5)),
            ("1.", Float(1.0)),
            ("~", Null),
            ("", Null),
            ("2024-01-02", Str("2024-01-02".into())),
            ("-.inf", Float(f64::NEG_INFINITY)),
            ("1:30.5", Float(90.5)),
            (".", Str(".".into())),
            ("+", Str("+".into())),
            ("0", Int(0)),
        ];
        for (text, want) in cases {
            assert_eq!(&resolve_plain(text), want, "{text}");
        }
    }
}
