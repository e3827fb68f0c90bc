//! Ansible's Jinja tests (`x is ...`), added to minijinja's own.

use minijinja::value::{Rest, Value as Mj, ValueKind};
use minijinja::{Environment, Error, ErrorKind};

use super::args::Args;
use super::convert::{from_mj, py_str_mj};
use super::filters::{build_regex, defined, expanduser, list_of, regex_runtime};
use super::op_error;
use crate::value::Value;

type R = Result<bool, Error>;

macro_rules! test {
    ($env:ident, $name:expr, |$v:ident, $a:ident| $body:expr) => {
        $env.add_test($name, move |$v: Mj, rest: Rest<Mj>| -> R {
            let $a: &[Mj] = &rest.0;
            // The closure bounds `return` and `?` in the body, so the error
            // can be labelled with the plugin name below.
            #[allow(clippy::redundant_closure_call)]
            let r: R = (|| $body)();
            r.map_err(|e| super::filters::plugin_failed("test", $name, e))
        });
    };
}

pub fn register(env: &mut Environment<'static>) {
    test!(env, "truthy", |v, a| {
        let a = Args::bind("truthy", &["convert_bool"], a)?;
        defined(&v)?;
        Ok(truth(&v, a.bool_or("convert_bool", false)))
    });
    test!(env, "falsy", |v, a| {
        let a = Args::bind("falsy", &["convert_bool"], a)?;
        defined(&v)?;
        Ok(!truth(&v, a.bool_or("convert_bool", false)))
    });
    test!(env, "match", |v, a| regex_test("match", v, a));
    test!(env, "search", |v, a| regex_test("search", v, a));
    test!(env, "regex", |v, a| {
        let b = Args::bind(
            "regex",
            &["pattern", "ignorecase", "multiline", "match_type"],
            a,
        )?;
        let kind = b.str_or("match_type", "search");
        regex_inner(&kind, &v, &b)
    });
    test!(env, "contains", |v, a| {
        let a = Args::bind("contains", &["item"], a)?;
        let item = from_mj(a.required("item")?)?;
        let items: Vec<Value> = list_of(&v)?.iter().map(from_mj).collect::<Result<_, _>>()?;
        Ok(items.contains(&item))
    });
    test!(env, "subset", |v, a| {
        let a = Args::bind("subset", &["b"], a)?;
        let xs: Vec<Value> = list_of(&v)?.iter().map(from_mj).collect::<Result<_, _>>()?;
        let ys: Vec<Value> = list_of(a.required("b")?)?
            .iter()
            .map(from_mj)
            .collect::<Result<_, _>>()?;
        Ok(xs.iter().all(|x| ys.contains(x)))
    });
    test!(env, "superset", |v, a| {
        let a = Args::bind("superset", &["b"], a)?;
        let xs: Vec<Value> = list_of(&v)?.iter().map(from_mj).collect::<Result<_, _>>()?;
        let ys: Vec<Value> = list_of(a.required("b")?)?
            .iter()
            .map(from_mj)
            .collect::<Result<_, _>>()?;
        Ok(ys.iter().all(|y| xs.contains(y)))
    });
    test!(env, "version", |v, a| version_test(v, a));
    test!(env, "version_compare", |v, a| version_test(v, a));
    for name in ["succeeded", "success"] {
        test!(env, name, |v, a| {
            Args::bind("succeeded", &[], a)?;
            Ok(!result_failed(&v, "succeeded")?)
        });
    }
    for name in ["failed", "failure"] {
        test!(env, name, |v, a| {
            Args::bind("failed", &[], a)?;
            result_failed(&v, "failed")
        });
    }
    for name in ["changed", "change"] {
        test!(env, name, |v, a| {
            Args::bind("changed", &[], a)?;
            let m = result_dict(&v, "changed")?;
            if let Some(Value::Array(results)) = m.get("results") {
                if !m.contains_key("changed") {
                    return Ok(results
                        .iter()
                        .any(|r| r.get("changed").is_some_and(crate::value::truthy)));
                }
            }
            Ok(m.get("changed").is_some_and(flag))
        });
    }
    for name in ["skipped", "skip"] {
        test!(env, name, |v, a| {
            Args::bind("skipped", &[], a)?;
            Ok(result_dict(&v, "skipped")?.get("skipped").is_some_and(flag))
        });
    }
    test!(env, "unreachable", |v, a| {
        Args::bind("unreachable", &[], a)?;
        Ok(result_dict(&v, "unreachable")?
            .get("unreachable")
            .is_some_and(flag))
    });
    test!(env, "reachable", |v, a| {
        Args::bind("reachable", &[], a)?;
        Ok(!result_dict(&v, "reachable")?
            .get("unreachable")
            .is_some_and(flag))
    });
    test!(env, "finished", |v, a| {
        Args::bind("finished", &[], a)?;
        Ok(result_dict(&v, "finished")?
            .get("finished")
            .is_some_and(flag))
    });
    test!(env, "started", |v, a| {
        Args::bind("started", &[], a)?;
        Ok(result_dict(&v, "started")?.get("started").is_some_and(flag))
    });
    test!(env, "file", |v, a| path_test(v, a, |p| p.is_file()));
    test!(env, "directory", |v, a| path_test(v, a, |p| p.is_dir()));
    test!(env, "link", |v, a| path_test(v, a, |p| p.is_symlink()));
    test!(env, "exists", |v, a| path_test(v, a, |p| p.exists()));
    test!(env, "link_exists", |v, a| path_test(v, a, |p| p
        .symlink_metadata()
        .is_ok()));
    test!(env, "abs", |v, a| {
        Args::bind("abs", &[], a)?;
        defined(&v)?;
        Ok(py_str_mj(&v).starts_with('/'))
    });
    test!(env, "nan", |v, a| {
        Args::bind("nan", &[], a)?;
        Ok(f64::try_from(v).map(|f| f.is_nan()).unwrap_or(false))
    });
    test!(env, "all", |v, a| {
        Args::bind("all", &[], a)?;
        Ok(list_of(&v)?.iter().all(|x| x.is_true()))
    });
    test!(env, "any", |v, a| {
        Args::bind("any", &[], a)?;
        Ok(list_of(&v)?.iter().any(|x| x.is_true()))
    });
    // Jinja's `sequence` holds for anything with a length and items,
    // strings included.
    test!(env, "sequence", |v, a| {
        Args::bind("sequence", &[], a)?;
        Ok(matches!(
            v.kind(),
            ValueKind::String | ValueKind::Seq | ValueKind::Map
        ))
    });
    // Python's bool is an int subclass, so `true is number` holds there.
    test!(env, "number", |v, a| {
        Args::bind("number", &[], a)?;
        Ok(v.is_number() || v.kind() == ValueKind::Bool)
    });
}

fn flag(v: &Value) -> bool {
    match v {
        Value::String(s) => super::filters::ansible_bool_str(s),
        other => crate::value::truthy(other),
    }
}

fn truth(v: &Mj, convert_bool: bool) -> bool {
    if convert_bool {
        if let Some(s) = v.as_str() {
            let l = s.trim().to_lowercase();
            if ["yes", "on", "1", "true", "y", "t"].contains(&l.as_str()) {
                return true;
            }
            if ["no", "off", "0", "false", "n", "f"].contains(&l.as_str()) {
                return false;
            }
        }
    }
    v.is_true()
}

fn regex_test(kind: &str, v: Mj, a: &[Mj]) -> R {
    let b = Args::bind(kind, &["pattern", "ignorecase", "multiline"], a)?;
    regex_inner(kind, &v, &b)
}

fn regex_inner(kind: &str, v: &Mj, b: &Args) -> R {
    defined(v)?;
    let text = py_str_mj(v);
    let pat = b.str_or("pattern", "");
    let (ic, ml) = (
        b.bool_or("ignorecase", false),
        b.bool_or("multiline", false),
    );
    match kind {
        "match" => build_regex(&format!("\\A(?:{pat})"), ic, ml)?
            .is_match(&text)
            .map_err(regex_runtime),
        "fullmatch" => build_regex(&format!("\\A(?:{pat})\\z"), ic, ml)?
            .is_match(&text)
            .map_err(regex_runtime),
        "search" => build_regex(&pat, ic, ml)?
            .is_match(&text)
            .map_err(regex_runtime),
        other => Err(op_error(format!(
            "regex: match_type must be match, search or fullmatch, not '{other}'"
        ))),
    }
}

fn result_dict(v: &Mj, test: &str) -> Result<crate::value::Map<String, Value>, Error> {
    defined(v)?;
    match from_mj(v)? {
        Value::Object(m) => Ok(m),
        _ => Err(op_error(format!("The '{test}' test expects a dictionary"))),
    }
}

fn result_failed(v: &Mj, test: &str) -> R {
    let m = result_dict(v, test)?;
    Ok(m.get("failed").is_some_and(flag))
}

fn path_test(v: Mj, a: &[Mj], f: impl Fn(&std::path::Path) -> bool) -> R {
    Args::bind("path test", &[], a)?;
    defined(&v)?;
    let p = expanduser(&py_str_mj(&v));
    Ok(f(std::path::Path::new(&p)))
}

fn version_test(v: Mj, a: &[Mj]) -> R {
    let a = Args::bind(
        "version",
        &["version", "operator", "strict", "version_type"],
        a,
    )?;
    defined(&v)?;
    let left = py_str_mj(&v);
    let right = a.str_or("version", "");
    if right.is_empty() {
        return Err(op_error(
            "Version parameter to compare against cannot be empty",
        ));
    }
    let op = a.str_or("operator", "eq");
    let vtype = match a.opt_str("version_type") {
        Some(t) => t,
        None if a.bool_or("strict", false) => "strict".into(),
        None => "loose".into(),
    };
    let ord = match vtype.as_str() {
        "semver" | "semantic" => semver_cmp(&left, &right)?,
        "strict" => {
            let ok = |s: &str| regex::Regex::new(r"^\d+\.\d+(\.\d+)?([ab]\d+)?$").map(|r| r.is_match(s)).unwrap_or(false);
            if !ok(&left) || !ok(&right) {
                return Err(op_error(format!("Version comparison failed: invalid version number '{}'", if ok(&left) { &right } else { &left })));
            }
            loose_cmp(&left, &right)
        }
        "loose" | "pep440" => loose_cmp(&left, &right),
        other => return Err(op_error(format!("Invalid version type ({other}). Must be one of loose, strict, semver, semantic, pep440"))),
    };
    use std::cmp::Ordering::*;
    Ok(match op.as_str() {
        "<" | "lt" => ord == Less,
        "<=" | "le" => ord != Greater,
        ">" | "gt" => ord == Greater,
        ">=" | "ge" => ord != Less,
        "==" | "=" | "eq" => ord == Equal,
        "!=" | "<>" | "ne" => ord != Equal,
        other => return Err(op_error(format!("Invalid operator type ({other})"))),
    })
}

#[derive(PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Part {
    Num(u64),
    Text(String),
}

/// Python's `LooseVersion`: runs of digits compare as numbers, runs of
/// letters as text.
fn loose_parts(s: &str) -> Vec<Part> {
    let mut parts = Vec::new();
    let mut cur = String::new();
    let mut digits = false;
    let flush = |cur: &mut String, digits: bool, parts: &mut Vec<Part>| {
        if !cur.is_empty() {
            parts.push(if digits {
                Part::Num(cur.parse().unwrap_or(0))
            } else {
                Part::Text(cur.clone())
            });
            cur.clear();
        }
    };
    for c in s.chars() {
        if c == '.' {
            flush(&mut cur, digits, &mut parts);
            continue;
        }
        let d = c.is_ascii_digit();
        if !cur.is_empty() && d != digits {
            flush(&mut cur, digits, &mut parts);
        }
        digits = d;
        cur.push(c);
    }
    flush(&mut cur, digits, &mut parts);
    parts
}

fn loose_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    loose_parts(a).cmp(&loose_parts(b))
}

fn semver_cmp(a: &str, b: &str) -> Result<std::cmp::Ordering, Error> {
    let parse = |s: &str| -> Result<(Vec<u64>, Option<String>), Error> {
        let s = s.trim_start_matches('v');
        let s = s.split('+').next().unwrap_or(s);
        let (core, pre) = match s.split_once('-') {
            Some((c, p)) => (c, Some(p.to_string())),
            None => (s, None),
        };
        let nums: Vec<u64> = core
            .split('.')
            .map(|p| p.parse::<u64>())
            .collect::<Result<_, _>>()
            .map_err(|_| {
                Error::new(
                    ErrorKind::InvalidOperation,
                    format!("invalid semantic version '{s}'"),
                )
            })?;
        if nums.len() != 3 {
            return Err(op_error(format!("invalid semantic version '{s}'")));
        }
        Ok((nums, pre))
    };
    let (an, ap) = parse(a)?;
    let (bn, bp) = parse(b)?;
    Ok(an.cmp(&bn).then_with(|| match (ap, bp) {
        (None, None) => std::cmp::Ordering::Equal,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (Some(_), None) => std::cmp::Ordering::Less,
        (Some(x), Some(y)) => loose_cmp(&x, &y),
    }))
}
