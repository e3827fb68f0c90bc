//! `ansible_local`: the `*.fact` files of `fact_path`, read as
//! ansible-core's local collector reads them (JSON, else INI through
//! configparser's rules, executables run first).

use super::parse::{s, Facts};
use crate::value::{Map, Value};

/// The marker lines of one `*.fact` file's output.
pub(super) fn is_local_marker(m: &str) -> bool {
    m.starts_with("fact ") || m.starts_with("rc ") || m == "endfact" || m.starts_with("stat ")
}

impl Facts {
    pub(super) fn local(&mut self, parts: &[(&str, String)]) {
        let mut found: Vec<(String, Value)> = Vec::new();
        let mut i = 0;
        while i < parts.len() {
            let (m, _) = &parts[i];
            if let Some(path) = m.strip_prefix("stat ") {
                let msg = format!(
                    "Could not stat fact ({path}): [Errno 2] No such file or directory: '{path}'"
                );
                self.warnings.push(msg.clone());
                found.push((fact_base(path), s(&msg)));
                i += 1;
                continue;
            }
            let Some(path) = m.strip_prefix("fact ") else {
                i += 1;
                continue;
            };
            let content = parts[i].1.as_str();
            let rc = parts
                .get(i + 1)
                .and_then(|x| x.0.strip_prefix("rc "))
                .unwrap_or("file");
            let err = parts.get(i + 1).map(|x| x.1.as_str()).unwrap_or("");
            let value = local_fact(path, rc, content, err, &mut self.warnings);
            found.push((fact_base(path), value));
            i += 3;
        }
        found.sort_by(|a, b| a.0.cmp(&b.0));
        self.put("local", Value::Object(found.into_iter().collect()));
    }
}

/// The value of one `*.fact` file, as ansible-core's local collector
/// makes it: JSON, else INI, else the error text (with a warning).
fn local_fact(path: &str, rc: &str, out: &str, err: &str, warnings: &mut Vec<String>) -> Value {
    if rc != "file" && rc != "0" {
        let msg = format!("Failure executing fact script ({path}), rc: {rc}, err: {err}");
        warnings.push(msg.clone());
        return s(&msg);
    }
    if let Ok(v) = serde_json::from_str::<Value>(out.trim()) {
        return v;
    }
    match parse_ini(out) {
        Ok(v) => Value::Object(v),
        Err(IniError::Parse) => {
            let msg = format!("error loading facts as JSON or ini - please check content: {path}");
            warnings.push(msg.clone());
            s(&msg)
        }
        Err(IniError::Interpolation(e)) => {
            let msg = format!("error loading facts as ini - please check content: {path} ({e})");
            warnings.push(msg.clone());
            s(&msg)
        }
    }
}

/// The fact name of a `*.fact` file: its base name without `.fact`.
fn fact_base(path: &str) -> String {
    path.rsplit('/').next().unwrap_or(path).replace(".fact", "")
}

#[derive(Debug, PartialEq)]
enum IniError {
    /// Not INI at all (configparser's parsing errors).
    Parse,
    /// A value's `%` interpolation failed.
    Interpolation(String),
}

/// INI text read as Python's `configparser.ConfigParser` reads it: keys
/// lower-cased, `=` or `:`, indented continuation lines, `[DEFAULT]`
/// values in every section, `%(name)s` interpolation and `%%`.
fn parse_ini(text: &str) -> Result<Map<String, Value>, IniError> {
    type Section = Vec<(String, String)>;
    let mut defaults: Section = Vec::new();
    let mut sections: Vec<(String, Section)> = Vec::new();
    // Which section the current option is in (None: DEFAULT), and its
    // indentation, for continuation lines.
    let mut current: Option<Option<usize>> = None;
    let mut last_opt: Option<usize> = None;
    let mut opt_indent = 0;
    for raw in text.lines() {
        let stripped = raw.trim();
        if stripped.starts_with('#') || stripped.starts_with(';') {
            continue;
        }
        if stripped.is_empty() {
            last_opt = None;
            continue;
        }
        let indent = raw.len() - raw.trim_start().len();
        if let (Some(sec), Some(oi)) = (current, last_opt) {
            if indent > opt_indent {
                let opts = match sec {
                    None => &mut defaults,
                    Some(i) => &mut sections[i].1,
                };
                opts[oi].1.push('\n');
                opts[oi].1.push_str(stripped);
                continue;
            }
        }
        if stripped.starts_with('[') {
            let Some(end) = stripped.rfind(']').filter(|e| *e > 1) else {
                return Err(IniError::Parse);
            };
            let name = &stripped[1..end];
            if name == "DEFAULT" {
                current = Some(None);
            } else {
                if sections.iter().any(|(n, _)| n == name) {
                    return Err(IniError::Parse);
                }
                sections.push((name.to_string(), Vec::new()));
                current = Some(Some(sections.len() - 1));
            }
            last_opt = None;
            continue;
        }
        let Some(sec) = current else {
            return Err(IniError::Parse);
        };
        let pos = stripped.find(['=', ':']).ok_or(IniError::Parse)?;
        let key = stripped[..pos].trim().to_lowercase();
        let value = stripped[pos + 1..].trim().to_string();
        if key.is_empty() {
            return Err(IniError::Parse);
        }
        let opts = match sec {
            None => &mut defaults,
            Some(i) => &mut sections[i].1,
        };
        if opts.iter().any(|(k, _)| *k == key) {
            return Err(IniError::Parse);
        }
        opts.push((key, value));
        last_opt = Some(opts.len() - 1);
        opt_indent = indent;
    }
    let mut out = Map::new();
    for (name, opts) in &sections {
        let mut all = opts.clone();
        for (k, v) in &defaults {
            if !all.iter().any(|(x, _)| x == k) {
                all.push((k.clone(), v.clone()));
            }
        }
        let mut m = Map::new();
        for (k, v) in &all {
            let value = interpolate(name, k, v, &all, 1)?;
            m.insert(k.clone(), Value::String(value));
        }
        out.insert(name.clone(), Value::Object(m));
    }
    Ok(out)
}

/// configparser's `BasicInterpolation` of one value.
fn interpolate(
    section: &str,
    option: &str,
    raw: &str,
    opts: &[(String, String)],
    depth: usize,
) -> Result<String, IniError> {
    if depth > 10 {
        return Err(IniError::Interpolation(format!(
            "Recursion limit exceeded in value substitution: option '{option}' in section '{section}' contains an interpolation key which cannot be substituted in 10 steps. Raw value: '{raw}'"
        )));
    }
    let mut out = String::new();
    let mut rest = raw;
    while let Some(p) = rest.find('%') {
        out.push_str(&rest[..p]);
        let after = &rest[p + 1..];
        if let Some(r) = after.strip_prefix('%') {
            out.push('%');
            rest = r;
        } else if let Some(r) = after.strip_prefix('(') {
            let close = r.find(")s").ok_or_else(|| {
                IniError::Interpolation(format!("bad interpolation variable reference '{rest}'"))
            })?;
            let name = r[..close].to_lowercase();
            let Some((_, v)) = opts.iter().find(|(k, _)| *k == name) else {
                return Err(IniError::Interpolation(format!(
                    "Bad value substitution: option '{option}' in section '{section}' contains an interpolation key '{name}' which is not a valid option name. Raw value: '{raw}'"
                )));
            };
            out.push_str(&interpolate(section, &name, v, opts, depth + 1)?);
            rest = &r[close + 2..];
        } else {
            return Err(IniError::Interpolation(format!(
                "'%' must be followed by '%' or '(', found: '{}'",
                &rest[p..]
            )));
        }
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ini_reads_as_configparser() {
        let v = parse_ini("[DEFAULT]\nd = 1\n[General]\nName = web\npath: %(name)s/x\nlong = a\n  b\npct = 100%%\n").unwrap();
        assert_eq!(v["General"]["name"], "web");
        assert_eq!(v["General"]["path"], "web/x");
        assert_eq!(v["General"]["long"], "a\nb");
        assert_eq!(v["General"]["pct"], "100%");
        assert_eq!(v["General"]["d"], "1");
        assert!(v.get("DEFAULT").is_none());
        assert_eq!(parse_ini("a = 1\n"), Err(IniError::Parse));
        assert!(matches!(
            parse_ini("[s]\na = 5%\n"),
            Err(IniError::Interpolation(_))
        ));
    }
}
