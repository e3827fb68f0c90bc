//! Python's `%` string formatting, for the `format` filter.

use crate::value::{py_float, py_repr, py_str, Value};

/// `fmt % args`. A single dict argument serves `%(name)s` specifiers.
pub fn format(fmt: &str, args: &[Value]) -> Result<String, String> {
    let chars: Vec<char> = fmt.chars().collect();
    let mut out = String::new();
    let mut next = 0usize;
    let mut i = 0;
    while i < chars.len() {
        if chars[i] != '%' {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        i += 1;
        let mut key = None;
        if chars.get(i) == Some(&'(') {
            let end = chars[i..]
                .iter()
                .position(|&c| c == ')')
                .ok_or("incomplete format key")?;
            key = Some(chars[i + 1..i + end].iter().collect::<String>());
            i += end + 1;
        }
        let mut flags = String::new();
        while let Some(&c) = chars.get(i) {
            if "-+ 0#".contains(c) {
                flags.push(c);
                i += 1;
            } else {
                break;
            }
        }
        let mut width = String::new();
        while let Some(&c) = chars.get(i) {
            if c.is_ascii_digit() {
                width.push(c);
                i += 1;
            } else {
                break;
            }
        }
        let mut prec: Option<usize> = None;
        if chars.get(i) == Some(&'.') {
            i += 1;
            let mut p = String::new();
            while let Some(&c) = chars.get(i) {
                if c.is_ascii_digit() {
                    p.push(c);
                    i += 1;
                } else {
                    break;
                }
            }
            prec = Some(p.parse().unwrap_or(0));
        }
        let conv = *chars.get(i).ok_or("incomplete format")?;
        i += 1;
        if conv == '%' {
            out.push('%');
            continue;
        }
        let arg = match &key {
            Some(k) => match args.first() {
                Some(Value::Object(m)) => m.get(k).cloned().ok_or(format!("KeyError: '{k}'"))?,
                _ => return Err("format requires a mapping".into()),
            },
            None => {
                let a = args
                    .get(next)
                    .cloned()
                    .ok_or("not enough arguments for format string")?;
                next += 1;
                a
            }
        };
        let num = |v: &Value| -> Result<f64, String> {
            match v {
                Value::Number(n) => Ok(n.as_f64().unwrap_or(0.0)),
                Value::Bool(b) => Ok(f64::from(u8::from(*b))),
                other => Err(format!(
                    "%{conv} format: a real number is required, not {}",
                    crate::value::type_name(other)
                )),
            }
        };
        let mut body = match conv {
            's' => {
                let s = py_str(&arg);
                match prec {
                    Some(p) => s.chars().take(p).collect(),
                    None => s,
                }
            }
            'r' => py_repr(&arg),
            'd' | 'i' | 'u' => {
                let n = num(&arg)?.trunc() as i64;
                sign(n as f64, &flags, n.abs().to_string())
            }
            'f' | 'F' => {
                let f = num(&arg)?;
                sign(f, &flags, format!("{:.*}", prec.unwrap_or(6), f.abs()))
            }
            'e' | 'E' => {
                let f = num(&arg)?;
                let s = format!("{:.*e}", prec.unwrap_or(6), f.abs());
                let s = match s.split_once('e') {
                    Some((m, e)) => {
                        let e: i32 = e.parse().unwrap_or(0);
                        format!("{m}e{}{:02}", if e < 0 { '-' } else { '+' }, e.abs())
                    }
                    None => s,
                };
                let s = if conv == 'E' { s.to_uppercase() } else { s };
                sign(f, &flags, s)
            }
            'g' | 'G' => {
                let f = num(&arg)?;
                sign(f, &flags, py_float(f.abs()))
            }
            'x' | 'X' | 'o' => {
                let n = num(&arg)?.trunc() as i64;
                let digits = match conv {
                    'x' => format!("{:x}", n.abs()),
                    'X' => format!("{:X}", n.abs()),
                    _ => format!("{:o}", n.abs()),
                };
                let digits = if flags.contains('#') {
                    format!(
                        "{}{digits}",
                        match conv {
                            'x' => "0x",
                            'X' => "0X",
                            _ => "0o",
                        }
                    )
                } else {
                    digits
                };
                sign(n as f64, &flags, digits)
            }
            'c' => match &arg {
                Value::Number(n) => char::from_u32(n.as_u64().unwrap_or(0) as u32)
                    .map(String::from)
                    .unwrap_or_default(),
                other => py_str(other),
            },
            other => return Err(format!("unsupported format character '{other}'")),
        };
        let width: usize = width.parse().unwrap_or(0);
        let len = body.chars().count();
        if len < width {
            let pad = width - len;
            if flags.contains('-') {
                body.push_str(&" ".repeat(pad));
            } else if flags.contains('0') && !matches!(conv, 's' | 'r' | 'c') {
                let (sgn, rest) = match body.chars().next() {
                    Some(c @ ('-' | '+' | ' ')) => (c.to_string(), body[1..].to_string()),
                    _ => (String::new(), body.clone()),
                };
                body = format!("{sgn}{}{rest}", "0".repeat(pad));
            } else {
                body = format!("{}{body}", " ".repeat(pad));
            }
        }
        out.push_str(&body);
    }
    if key_free_extra(args, next, fmt) {
        return Err("not all arguments converted during string formatting".into());
    }
    Ok(out)
}

fn key_free_extra(args: &[Value], used: usize, fmt: &str) -> bool {
    used > 0 && used < args.len() && !fmt.contains("%(")
}

fn sign(v: f64, flags: &str, digits: String) -> String {
    if v < 0.0 {
        format!("-{digits}")
    } else if flags.contains('+') {
        format!("+{digits}")
    } else if flags.contains(' ') {
        format!(" {digits}")
    } else {
        digits
    }
}
