//! Ansible's filters, with Ansible's parameter names and behaviour.
//! minijinja's own Jinja filters stay where they already behave as Jinja2
//! does (`map`, `select`, `indent`, `sort`, …).

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};

use base64::Engine as _;
use fancy_regex::Regex;
use minijinja::value::{Rest, Value as Mj, ValueKind};
use minijinja::{Environment, Error, ErrorKind, State};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

use super::args::{to_i64, Args};
use super::convert::{from_mj, py_str_mj, py_type_name_mj, to_mj};
use super::op_error;
use super::serial;
use crate::value::{py_str, Map, Value};

type R = Result<Mj, Error>;

/// Marks the undefined error raised by `mandatory`.
pub const MANDATORY: &str = "mandatory variable not defined";

/// Fails with an undefined error when `v` is undefined, so filters do not
/// silently work on nothing.
pub fn defined(v: &Mj) -> Result<(), Error> {
    if v.is_undefined() {
        Err(Error::from(ErrorKind::UndefinedError))
    } else {
        Ok(())
    }
}

fn val(v: &Mj) -> Result<Value, Error> {
    defined(v)?;
    from_mj(v)
}

fn s(v: &Mj) -> Result<String, Error> {
    defined(v)?;
    Ok(py_str_mj(v))
}

macro_rules! filter {
    ($env:ident, $name:expr, |$v:ident, $a:ident| $body:expr) => {
        $env.add_filter($name, move |$v: Mj, rest: Rest<Mj>| -> R {
            let $a: &[Mj] = &rest.0;
            // The closure bounds `return` and `?` in the body, so the error
            // can be labelled with the plugin name below.
            #[allow(clippy::redundant_closure_call)]
            let r: R = (|| $body)();
            r.map_err(|e| plugin_failed("filter", $name, e))
        });
    };
    ($env:ident, $name:expr, |$st:ident, $v:ident, $a:ident| $body:expr) => {
        $env.add_filter($name, move |$st: &State, $v: Mj, rest: Rest<Mj>| -> R {
            let $a: &[Mj] = &rest.0;
            // The closure bounds `return` and `?` in the body, so the error
            // can be labelled with the plugin name below.
            #[allow(clippy::redundant_closure_call)]
            let r: R = (|| $body)();
            r.map_err(|e| plugin_failed("filter", $name, e))
        });
    };
}

/// Names the failing filter or test in its error, as Ansible does
/// ("The filter plugin 'ansible.builtin.combine' failed: ...").
/// Undefined values stay undefined errors so the variable gets named.
pub fn plugin_failed(kind: &str, name: &str, e: Error) -> Error {
    if e.kind() == ErrorKind::UndefinedError {
        return e;
    }
    let detail = match super::find_diag(&e) {
        Some(d) => d.message,
        None => e
            .detail()
            .map(str::to_string)
            .unwrap_or_else(|| e.kind().to_string()),
    };
    if detail.starts_with("The lookup plugin") {
        return e;
    }
    super::op_error(format!(
        "The {kind} plugin 'ansible.builtin.{name}' failed: {detail}"
    ))
}

pub fn register(env: &mut Environment<'static>) {
    filter!(env, "default", |v, a| default(v, a));
    filter!(env, "d", |v, a| default(v, a));
    filter!(env, "mandatory", |v, a| {
        let a = Args::bind("mandatory", &["msg"], a)?;
        if v.is_undefined() {
            return Err(match a.opt_str("msg") {
                Some(msg) => op_error(msg),
                // The variable's name is found from the template afterwards.
                None => Error::new(ErrorKind::UndefinedError, MANDATORY),
            });
        }
        Ok(v)
    });
    filter!(env, "bool", |v, a| {
        Args::bind("bool", &[], a)?;
        defined(&v)?;
        Ok(Mj::from(to_bool(&v)))
    });
    filter!(env, "int", |v, a| int_filter(v, a));
    filter!(env, "float", |v, a| {
        let a = Args::bind("float", &["default"], a)?;
        defined(&v)?;
        let f = if let Some(s) = v.as_str() {
            s.trim().parse::<f64>().ok()
        } else if v.is_number() || v.kind() == minijinja::value::ValueKind::Bool {
            f64::try_from(v.clone())
                .ok()
                .or(Some(if v.is_true() { 1.0 } else { 0.0 }))
        } else {
            None
        };
        Ok(match f {
            Some(f) => Mj::from(f),
            None => a.get("default").cloned().unwrap_or(Mj::from(0.0)),
        })
    });
    filter!(env, "string", |v, a| {
        Args::bind("string", &[], a)?;
        Ok(Mj::from(s(&v)?))
    });
    filter!(env, "join", |v, a| {
        let a = Args::bind("join", &["d", "attribute"], a)?;
        let sep = a.str_or("d", "");
        let items = list_of(&v)?;
        let attr = a.opt_str("attribute");
        let parts: Vec<String> = items
            .iter()
            .map(|i| match &attr {
                Some(at) => py_str_mj(&i.get_attr(at).unwrap_or(Mj::UNDEFINED)),
                None => py_str_mj(i),
            })
            .collect();
        Ok(Mj::from(parts.join(&sep)))
    });
    filter!(env, "regex_replace", |v, a| {
        let a = Args::bind(
            "regex_replace",
            &[
                "pattern",
                "replacement",
                "ignorecase",
                "multiline",
                "count",
                "mandatory_count",
            ],
            a,
        )?;
        let text = s(&v)?;
        let re = build_regex(
            &a.str_or("pattern", ""),
            a.bool_or("ignorecase", false),
            a.bool_or("multiline", false),
        )?;
        let rep = py_replacement(&a.str_or("replacement", ""));
        let count = a.int_or("count", 0)?.max(0) as usize;
        let found = re.find_iter(&text).filter(|m| m.is_ok()).count();
        let mandatory = a.int_or("mandatory_count", 0)?;
        if mandatory > 0 && found as i64 != mandatory {
            return Err(op_error(format!(
                "'{}' matched {found} times, but {mandatory} matches were required",
                a.str_or("pattern", "")
            )));
        }
        Ok(Mj::from(
            re.try_replacen(&text, count, rep.as_str())
                .map_err(regex_runtime)?
                .into_owned(),
        ))
    });
    filter!(env, "regex_search", |v, a| {
        let a = Args::bind_ext("regex_search", &["regex"], a, true, true)?;
        let text = s(&v)?;
        let (mut ic, mut ml) = (false, false);
        for (k, val) in &a.extra_kw {
            match k.as_str() {
                "ignorecase" => ic = val.is_true(),
                "multiline" => ml = val.is_true(),
                _ => {
                    return Err(op_error(format!(
                        "regex_search got an unexpected keyword argument '{k}'"
                    )))
                }
            }
        }
        let re = build_regex(&a.str_or("regex", ""), ic, ml)?;
        let Some(caps) = re.captures(&text).map_err(regex_runtime)? else {
            return Ok(Mj::from(()));
        };
        if a.extra.is_empty() {
            return Ok(Mj::from(caps.get(0).map(|m| m.as_str()).unwrap_or("")));
        }
        let mut out = Vec::new();
        for g in &a.extra {
            let g = py_str_mj(g);
            let m = if let Some(name) = g.strip_prefix("\\g<").and_then(|x| x.strip_suffix('>')) {
                match name.parse::<usize>() {
                    Ok(i) => caps.get(i),
                    Err(_) => caps.name(name),
                }
            } else if let Some(n) = g.strip_prefix('\\').and_then(|x| x.parse::<usize>().ok()) {
                caps.get(n)
            } else {
                return Err(op_error(format!("Unknown argument '{g}' to regex_search")));
            };
            out.push(match m {
                Some(m) => Mj::from(m.as_str()),
                None => Mj::from(()),
            });
        }
        Ok(Mj::from(out))
    });
    filter!(env, "regex_findall", |v, a| {
        let a = Args::bind("regex_findall", &["regex", "multiline", "ignorecase"], a)?;
        let text = s(&v)?;
        let re = build_regex(
            &a.str_or("regex", ""),
            a.bool_or("ignorecase", false),
            a.bool_or("multiline", false),
        )?;
        let groups = re.captures_len() - 1;
        let mut out = Vec::new();
        for caps in re.captures_iter(&text) {
            let caps = caps.map_err(regex_runtime)?;
            let g = |i: usize| Mj::from(caps.get(i).map(|m| m.as_str()).unwrap_or(""));
            out.push(match groups {
                0 => g(0),
                1 => g(1),
                n => Mj::from((1..=n).map(g).collect::<Vec<_>>()),
            });
        }
        Ok(Mj::from(out))
    });
    filter!(env, "regex_escape", |v, a| {
        let a = Args::bind("regex_escape", &["re_type"], a)?;
        let text = s(&v)?;
        let kind = a.str_or("re_type", "python");
        let specials: &str = if kind == "posix_basic" {
            "\\^$.[]*"
        } else {
            "()[]{}?*+-|^$\\.&~# \t\n\r\x0b\x0c"
        };
        let mut out = String::new();
        for c in text.chars() {
            if specials.contains(c) {
                out.push('\\');
            }
            out.push(c);
        }
        Ok(Mj::from(out))
    });
    filter!(env, "union", |v, a| set_op("union", v, a));
    filter!(env, "intersect", |v, a| set_op("intersect", v, a));
    filter!(env, "difference", |v, a| set_op("difference", v, a));
    filter!(env, "symmetric_difference", |v, a| set_op(
        "symmetric_difference",
        v,
        a
    ));
    filter!(env, "flatten", |v, a| {
        let a = Args::bind("flatten", &["levels", "skip_nulls"], a)?;
        let levels = match a.get("levels") {
            Some(l) if !l.is_none() => Some(to_i64(l).unwrap_or(0)),
            _ => None,
        };
        let items = match val(&v)? {
            Value::Array(items) => items,
            other => {
                return Err(op_error(format!(
                    "flatten expects a list, got {}",
                    crate::value::type_name(&other)
                )))
            }
        };
        let mut out = Vec::new();
        flatten(&items, levels, a.bool_or("skip_nulls", true), &mut out);
        Ok(to_mj(&Value::Array(out)))
    });
    filter!(env, "sum", |v, a| {
        let a = Args::bind("sum", &["attribute", "start"], a)?;
        let items = list_of(&v)?;
        let attr = a.opt_str("attribute");
        let mut acc = a.get("start").cloned().unwrap_or(Mj::from(0));
        for item in items {
            let item = match &attr {
                Some(at) => attr_path(&item, at),
                None => item,
            };
            acc = add(&acc, &item)?;
        }
        Ok(acc)
    });
    filter!(env, "combine", |v, a| {
        let a = Args::bind_ext("combine", &[], a, true, true)?;
        let mut recursive = false;
        let mut list_merge = "replace".to_string();
        for (k, x) in &a.extra_kw {
            match k.as_str() {
                "recursive" => recursive = x.is_true(),
                "list_merge" => list_merge = py_str_mj(x),
                _ => {
                    return Err(op_error(format!(
                        "'{k}' is not a valid keyword argument for combine"
                    )))
                }
            }
        }
        if ![
            "replace",
            "keep",
            "append",
            "prepend",
            "append_rp",
            "prepend_rp",
        ]
        .contains(&list_merge.as_str())
        {
            return Err(op_error(format!("combine: 'list_merge' must be one of replace, keep, append, prepend, append_rp, prepend_rp, not '{list_merge}'")));
        }
        let mut dicts = Vec::new();
        collect_dicts(val(&v)?, &mut dicts)?;
        for x in &a.extra {
            collect_dicts(val(x)?, &mut dicts)?;
        }
        let mut out = Map::new();
        for d in dicts {
            out = merge_hash(out, d, recursive, &list_merge);
        }
        Ok(to_mj(&Value::Object(out)))
    });
    filter!(env, "dict2items", |v, a| {
        let a = Args::bind("dict2items", &["key_name", "value_name"], a)?;
        let (kn, vn) = (a.str_or("key_name", "key"), a.str_or("value_name", "value"));
        let Value::Object(m) = val(&v)? else {
            return Err(op_error(format!(
                "dict2items requires a dictionary, got {}",
                py_type_name_mj(&v)
            )));
        };
        let out: Vec<Value> = m
            .into_iter()
            .map(|(k, x)| {
                let mut e = Map::new();
                e.insert(kn.clone(), Value::String(k));
                e.insert(vn.clone(), x);
                Value::Object(e)
            })
            .collect();
        Ok(to_mj(&Value::Array(out)))
    });
    filter!(env, "items2dict", |v, a| {
        let a = Args::bind("items2dict", &["key_name", "value_name"], a)?;
        let (kn, vn) = (a.str_or("key_name", "key"), a.str_or("value_name", "value"));
        let Value::Array(items) = val(&v)? else {
            return Err(op_error(format!(
                "items2dict requires a list, got {}",
                py_type_name_mj(&v)
            )));
        };
        let mut out = Map::new();
        for item in items {
            let Value::Object(m) = &item else {
                return Err(op_error(format!(
                    "items2dict requires a list of dictionaries, got {}",
                    crate::value::type_name(&item)
                )));
            };
            let (Some(k), Some(x)) = (m.get(&kn), m.get(&vn)) else {
                return Err(op_error(format!(
                    "items2dict: each element needs the keys '{kn}' and '{vn}', got {}",
                    py_str(&item)
                )));
            };
            out.insert(py_str(k), x.clone());
        }
        Ok(to_mj(&Value::Object(out)))
    });
    filter!(env, "zip", |v, a| {
        let mut lists = vec![list_of(&v)?];
        for x in a {
            lists.push(list_of(x)?);
        }
        let n = lists.iter().map(|l| l.len()).min().unwrap_or(0);
        Ok(Mj::from(
            (0..n)
                .map(|i| Mj::from(lists.iter().map(|l| l[i].clone()).collect::<Vec<_>>()))
                .collect::<Vec<_>>(),
        ))
    });
    filter!(env, "zip_longest", |v, a| {
        let a = Args::bind_ext("zip_longest", &[], a, true, true)?;
        let mut fill = Mj::from(());
        for (k, x) in &a.extra_kw {
            if k == "fillvalue" {
                fill = x.clone();
            } else {
                return Err(op_error(format!(
                    "zip_longest got an unexpected keyword argument '{k}'"
                )));
            }
        }
        let mut lists = vec![list_of(&v)?];
        for x in &a.extra {
            lists.push(list_of(x)?);
        }
        let n = lists.iter().map(|l| l.len()).max().unwrap_or(0);
        Ok(Mj::from(
            (0..n)
                .map(|i| {
                    Mj::from(
                        lists
                            .iter()
                            .map(|l| l.get(i).cloned().unwrap_or(fill.clone()))
                            .collect::<Vec<_>>(),
                    )
                })
                .collect::<Vec<_>>(),
        ))
    });
    filter!(env, "subelements", |v, a| {
        let a = Args::bind("subelements", &["subelements", "skip_missing"], a)?;
        let path = a.str_or("subelements", "");
        let skip = a.bool_or("skip_missing", false);
        let items = match val(&v)? {
            Value::Array(items) => items,
            Value::Object(m) => m.into_iter().map(|(_, x)| x).collect(),
            _ => {
                return Err(op_error(
                    "subelements: obj must be a list of dicts or a nested dict",
                ))
            }
        };
        let mut out = Vec::new();
        for item in items {
            let mut cur = Some(&item);
            for key in path.split('.') {
                cur = cur.and_then(|c| c.get(key));
            }
            match cur {
                Some(Value::Array(subs)) => {
                    for sub in subs {
                        out.push(Value::Array(vec![item.clone(), sub.clone()]));
                    }
                }
                Some(other) => {
                    return Err(op_error(format!(
                        "the key '{path}' should point to a list, got {}",
                        py_str(other)
                    )))
                }
                None if skip => {}
                None => {
                    return Err(op_error(format!(
                        "could not find '{path}' key in iterated item {}",
                        crate::value::py_repr(&item)
                    )))
                }
            }
        }
        Ok(to_mj(&Value::Array(out)))
    });
    filter!(env, "to_json", |v, a| {
        let a = Args::bind_ext("to_json", &["indent", "sort_keys"], a, false, true)?;
        let indent = match a.get("indent") {
            Some(i) if !i.is_none() => Some(to_i64(i).unwrap_or(0).max(0) as usize),
            _ => None,
        };
        let ascii = a
            .extra_kw
            .iter()
            .find(|(k, _)| k == "ensure_ascii")
            .map(|(_, x)| x.is_true())
            .unwrap_or(true);
        Ok(Mj::from(serial::json(
            &val(&v)?,
            indent,
            a.bool_or("sort_keys", false),
            ascii,
        )))
    });
    filter!(env, "to_nice_json", |v, a| {
        let a = Args::bind_ext("to_nice_json", &["indent", "sort_keys"], a, false, true)?;
        let indent = a.int_or("indent", 4)?.max(0) as usize;
        let ascii = a
            .extra_kw
            .iter()
            .find(|(k, _)| k == "ensure_ascii")
            .map(|(_, x)| x.is_true())
            .unwrap_or(true);
        Ok(Mj::from(serial::json(
            &val(&v)?,
            Some(indent),
            a.bool_or("sort_keys", true),
            ascii,
        )))
    });
    filter!(env, "from_json", |v, a| {
        Args::bind_ext("from_json", &[], a, false, true)?;
        let text = s(&v)?;
        let parsed: Value = serde_json::from_str(&text)
            .map_err(|e| op_error(format!("from_json: invalid JSON: {e}")))?;
        Ok(to_mj(&parsed))
    });
    filter!(env, "to_yaml", |v, a| {
        let a = Args::bind_ext("to_yaml", &["indent", "default_flow_style"], a, false, true)?;
        let indent = a.int_or("indent", 2)?.clamp(2, 9) as usize;
        let flow = match a.get("default_flow_style") {
            Some(f) if !f.is_none() => Some(f.is_true()),
            _ => None,
        };
        Ok(Mj::from(serial::yaml(&val(&v)?, indent, flow)))
    });
    filter!(env, "to_nice_yaml", |v, a| {
        let a = Args::bind_ext("to_nice_yaml", &["indent"], a, false, true)?;
        let indent = a.int_or("indent", 4)?.clamp(2, 9) as usize;
        Ok(Mj::from(serial::yaml(&val(&v)?, indent, Some(false))))
    });
    filter!(env, "from_yaml", |v, a| {
        Args::bind("from_yaml", &[], a)?;
        let text = s(&v)?;
        let node = crate::yaml::load_str(&text, "<from_yaml>")
            .map_err(|e| op_error(format!("from_yaml: {}", e.message)))?;
        Ok(to_mj(&node.to_value()))
    });
    filter!(env, "from_yaml_all", |v, a| {
        Args::bind("from_yaml_all", &[], a)?;
        let text = s(&v)?;
        let mut docs = Vec::new();
        for part in split_yaml_documents(&text) {
            let node = crate::yaml::load_str(&part, "<from_yaml_all>")
                .map_err(|e| op_error(format!("from_yaml_all: {}", e.message)))?;
            docs.push(node.to_value());
        }
        Ok(to_mj(&Value::Array(docs)))
    });
    filter!(env, "b64encode", |v, a| {
        Args::bind("b64encode", &["encoding"], a)?;
        Ok(Mj::from(
            base64::engine::general_purpose::STANDARD.encode(s(&v)?.as_bytes()),
        ))
    });
    filter!(env, "b64decode", |v, a| {
        Args::bind("b64decode", &["encoding"], a)?;
        let text = s(&v)?;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text.trim().as_bytes())
            .or_else(|_| {
                base64::engine::general_purpose::STANDARD_NO_PAD
                    .decode(text.trim().trim_end_matches('=').as_bytes())
            })
            .map_err(|e| op_error(format!("b64decode: invalid base64: {e}")))?;
        Ok(Mj::from(String::from_utf8_lossy(&bytes).into_owned()))
    });
    filter!(env, "hash", |v, a| {
        let a = Args::bind("hash", &["hashtype"], a)?;
        Ok(Mj::from(digest(
            &a.str_or("hashtype", "sha1"),
            s(&v)?.as_bytes(),
        )?))
    });
    filter!(env, "md5", |v, a| {
        Args::bind("md5", &[], a)?;
        Ok(Mj::from(digest("md5", s(&v)?.as_bytes())?))
    });
    filter!(env, "sha1", |v, a| {
        Args::bind("sha1", &[], a)?;
        Ok(Mj::from(digest("sha1", s(&v)?.as_bytes())?))
    });
    filter!(env, "checksum", |v, a| {
        Args::bind("checksum", &[], a)?;
        Ok(Mj::from(digest("sha1", s(&v)?.as_bytes())?))
    });
    filter!(env, "password_hash", |v, a| {
        let a = Args::bind(
            "password_hash",
            &["hashtype", "salt", "salt_size", "rounds", "ident"],
            a,
        )?;
        let pw = s(&v)?;
        Ok(Mj::from(password_hash(
            &pw,
            &a.str_or("hashtype", "sha512"),
            a.opt_str("salt"),
            a.int_or("salt_size", 16)?,
            a.get("rounds").and_then(to_i64),
        )?))
    });
    // `vault` and `unvault` use the secret they are given, not the run's.
    filter!(env, "vault", |v, a| {
        let a = Args::bind(
            "vault",
            &["secret", "salt", "vault_id", "wrap_object", "vaultid"],
            a,
        )?;
        let data = s(&v)?;
        let vault = filter_vault(&a)?;
        let text = vault
            .encrypt(data.as_bytes(), 0)
            .map_err(|e| op_error(format!("Unable to encrypt: {e}")))?;
        Ok(Mj::from(text))
    });
    filter!(env, "unvault", |v, a| {
        let a = Args::bind("unvault", &["secret", "vault_id", "vaultid"], a)?;
        let data = s(&v)?;
        if !crate::vault::is_encrypted(data.as_bytes()) {
            return Ok(Mj::from(data));
        }
        let plain = filter_vault(&a)?
            .decrypt(data.as_bytes())
            .map_err(|e| op_error(format!("Unable to decrypt: {e}")))?;
        Ok(Mj::from(
            String::from_utf8_lossy(&plain.plaintext).into_owned(),
        ))
    });
    filter!(env, "basename", |v, a| {
        Args::bind("basename", &[], a)?;
        let p = s(&v)?;
        Ok(Mj::from(p.rsplit('/').next().unwrap_or("").to_string()))
    });
    filter!(env, "dirname", |v, a| {
        Args::bind("dirname", &[], a)?;
        Ok(Mj::from(dirname(&s(&v)?)))
    });
    filter!(env, "expanduser", |v, a| {
        Args::bind("expanduser", &[], a)?;
        Ok(Mj::from(expanduser(&s(&v)?)))
    });
    filter!(env, "realpath", |v, a| {
        Args::bind("realpath", &[], a)?;
        Ok(Mj::from(realpath(&s(&v)?)))
    });
    filter!(env, "splitext", |v, a| {
        Args::bind("splitext", &[], a)?;
        let p = s(&v)?;
        let (root, ext) = splitext(&p);
        Ok(Mj::from(vec![Mj::from(root), Mj::from(ext)]))
    });
    filter!(env, "path_join", |v, a| {
        Args::bind("path_join", &[], a)?;
        let parts: Vec<String> = match val(&v)? {
            Value::Array(items) => items.iter().map(py_str).collect(),
            other => vec![py_str(&other)],
        };
        let mut out = String::new();
        for p in parts {
            if p.starts_with('/') || out.is_empty() {
                out = p;
            } else {
                if !out.ends_with('/') {
                    out.push('/');
                }
                out.push_str(&p);
            }
        }
        Ok(Mj::from(out))
    });
    filter!(env, "quote", |v, a| {
        Args::bind("quote", &[], a)?;
        Ok(Mj::from(super::shell_quote(&s(&v)?)))
    });
    filter!(env, "ternary", |v, a| {
        let a = Args::bind("ternary", &["true_val", "false_val", "none_val"], a)?;
        defined(&v)?;
        if v.is_none() {
            if let Some(n) = a.get("none_val") {
                return Ok(n.clone());
            }
        }
        let pick = if v.is_true() { "true_val" } else { "false_val" };
        Ok(a.get(pick).cloned().unwrap_or(Mj::from(())))
    });
    filter!(env, "random", |v, a| {
        let a = Args::bind("random", &["start", "step", "seed"], a)?;
        defined(&v)?;
        let mut rng = seeded_rng(a.get("seed"));
        if v.is_integer() {
            let end = to_i64(&v).unwrap_or(0);
            let start = a.int_or("start", 0)?;
            let step = a.int_or("step", 1)?.max(1);
            let count = ((end - start) + step - 1) / step;
            if count <= 0 {
                return Err(op_error("random: empty range"));
            }
            return Ok(Mj::from(start + rng.gen_range(0..count) * step));
        }
        let items = list_of(&v)?;
        items
            .choose(&mut rng)
            .cloned()
            .ok_or_else(|| op_error("random: cannot choose from an empty sequence"))
    });
    filter!(env, "shuffle", |v, a| {
        let a = Args::bind("shuffle", &["seed"], a)?;
        let mut items = list_of(&v)?;
        let mut rng = seeded_rng(a.get("seed"));
        items.shuffle(&mut rng);
        Ok(Mj::from(items))
    });
    filter!(env, "format", |v, a| {
        let fmt = s(&v)?;
        let (pos, kw) = super::args::split_kwargs(a);
        let args: Vec<Value> = pos.iter().map(from_mj).collect::<Result<_, _>>()?;
        if !kw.is_empty() {
            let mut m = Map::new();
            for (k, x) in kw {
                m.insert(k, from_mj(&x)?);
            }
            return super::pyformat::format(&fmt, &[Value::Object(m)])
                .map(Mj::from)
                .map_err(op_error);
        }
        super::pyformat::format(&fmt, &args)
            .map(Mj::from)
            .map_err(op_error)
    });
    filter!(env, "center", |v, a| {
        let a = Args::bind("center", &["width"], a)?;
        let text = s(&v)?;
        let width = a.int_or("width", 80)?.max(0) as usize;
        let len = text.chars().count();
        if len >= width {
            return Ok(Mj::from(text));
        }
        let pad = width - len;
        // Python's str.center puts the odd space on the left when the
        // width is odd.
        let left = pad / 2 + (pad & width & 1);
        Ok(Mj::from(format!(
            "{}{}{}",
            " ".repeat(left),
            text,
            " ".repeat(pad - left)
        )))
    });
    filter!(env, "wordcount", |v, a| {
        Args::bind("wordcount", &[], a)?;
        let text = s(&v)?;
        let n = text
            .split(|c: char| !(c.is_alphanumeric() || c == '_'))
            .filter(|w| !w.is_empty())
            .count();
        Ok(Mj::from(n))
    });
    filter!(env, "comment", |v, a| {
        let a = Args::bind_ext("comment", &["style"], a, false, true)?;
        let kw: Vec<(String, String)> = a
            .extra_kw
            .iter()
            .map(|(k, x)| (k.clone(), py_str_mj(x)))
            .collect();
        comment(&s(&v)?, &a.str_or("style", "plain"), &kw)
    });
    filter!(env, "type_debug", |v, a| {
        Args::bind("type_debug", &[], a)?;
        defined(&v)?;
        Ok(Mj::from(py_type_name_mj(&v)))
    });
    filter!(env, "extract", |st, v, a| {
        let a = Args::bind("extract", &["container", "morekeys"], a)?;
        let _ = st;
        let container = a.required("container")?;
        let mut cur = container.get_item(&v).unwrap_or(Mj::UNDEFINED);
        if let Some(more) = a.get("morekeys") {
            let keys = if more.kind() == minijinja::value::ValueKind::Seq {
                list_of(more)?
            } else {
                vec![more.clone()]
            };
            for k in keys {
                cur = cur.get_item(&k).unwrap_or(Mj::UNDEFINED);
            }
        }
        Ok(cur)
    });
    filter!(env, "log", |v, a| {
        let a = Args::bind("log", &["base"], a)?;
        let x = f64::try_from(v.clone()).map_err(|_| op_error("log: a number is required"))?;
        Ok(Mj::from(match a.get("base") {
            Some(b) => x.ln() / f64::try_from(b.clone()).unwrap_or(std::f64::consts::E).ln(),
            None => x.ln(),
        }))
    });
    filter!(env, "pow", |v, a| {
        let a = Args::bind("pow", &["y"], a)?;
        let x = f64::try_from(v.clone()).map_err(|_| op_error("pow: a number is required"))?;
        let y = f64::try_from(a.required("y")?.clone())
            .map_err(|_| op_error("pow: a number is required"))?;
        Ok(Mj::from(x.powf(y)))
    });
    filter!(env, "root", |v, a| {
        let a = Args::bind("root", &["base"], a)?;
        let x = f64::try_from(v.clone()).map_err(|_| op_error("root: a number is required"))?;
        let b = a
            .get("base")
            .and_then(|b| f64::try_from(b.clone()).ok())
            .unwrap_or(2.0);
        Ok(Mj::from(if b == 2.0 { x.sqrt() } else { x.powf(1.0 / b) }))
    });
    filter!(env, "product", |v, a| {
        let mut lists = vec![list_of(&v)?];
        for x in a {
            lists.push(list_of(x)?);
        }
        let mut out: Vec<Vec<Mj>> = vec![vec![]];
        for l in &lists {
            out = out
                .into_iter()
                .flat_map(|p| {
                    l.iter().map(move |x| {
                        let mut q = p.clone();
                        q.push(x.clone());
                        q
                    })
                })
                .collect();
        }
        Ok(Mj::from(out.into_iter().map(Mj::from).collect::<Vec<_>>()))
    });
    filter!(env, "list", |v, a| {
        Args::bind("list", &[], a)?;
        defined(&v)?;
        if let Some(t) = v.as_str() {
            return Ok(Mj::from(
                t.chars()
                    .map(|c| Mj::from(c.to_string()))
                    .collect::<Vec<_>>(),
            ));
        }
        Ok(Mj::from(list_of(&v)?))
    });
    filter!(env, "replace", |v, a| {
        let a = Args::bind("replace", &["old", "new", "count"], a)?;
        let text = s(&v)?;
        let old = a.str_or("old", "");
        let new = a.str_or("new", "");
        Ok(Mj::from(match a.get("count").and_then(to_i64) {
            Some(n) if n >= 0 => text.replacen(&old, &new, n as usize),
            _ => text.replace(&old, &new),
        }))
    });
    filter!(env, "urlencode", |v, a| {
        Args::bind("urlencode", &[], a)?;
        defined(&v)?;
        let items: Vec<(String, String)> = match v.kind() {
            ValueKind::Map => v
                .try_iter()?
                .map(|k| {
                    let x = v.get_item(&k).unwrap_or(Mj::UNDEFINED);
                    (py_str_mj(&k), py_str_mj(&x))
                })
                .collect(),
            ValueKind::String => return Ok(Mj::from(url_quote(&py_str_mj(&v), false))),
            _ => v
                .try_iter()?
                .map(|pair| {
                    let k = pair.get_item(&Mj::from(0)).unwrap_or(Mj::from(""));
                    let x = pair.get_item(&Mj::from(1)).unwrap_or(Mj::from(""));
                    (py_str_mj(&k), py_str_mj(&x))
                })
                .collect(),
        };
        Ok(Mj::from(
            items
                .iter()
                .map(|(k, x)| format!("{}={}", url_quote(k, true), url_quote(x, true)))
                .collect::<Vec<_>>()
                .join("&"),
        ))
    });
    filter!(env, "round", |v, a| {
        let a = Args::bind("round", &["precision", "method"], a)?;
        defined(&v)?;
        let x = f64::try_from(v.clone()).map_err(|_| op_error("round: a number is required"))?;
        let p = a.int_or("precision", 0)?;
        let scale = 10f64.powi(p as i32);
        let y = x * scale;
        let r = match a.str_or("method", "common").as_str() {
            "ceil" => y.ceil(),
            "floor" => y.floor(),
            // Python's round() rounds halves to even.
            _ => {
                let r = y.round();
                if (y - y.trunc()).abs() == 0.5 && r % 2.0 != 0.0 {
                    r - y.signum()
                } else {
                    r
                }
            }
        };
        Ok(Mj::from(r / scale))
    });
    filter!(env, "normpath", |v, a| {
        Args::bind("normpath", &[], a)?;
        Ok(Mj::from(normpath(&s(&v)?)))
    });
    filter!(env, "relpath", |v, a| {
        let a = Args::bind("relpath", &["start"], a)?;
        let start = a.opt_str("start").unwrap_or_else(|| ".".into());
        Ok(Mj::from(relpath(&s(&v)?, &start)))
    });
    filter!(env, "commonpath", |v, a| {
        Args::bind("commonpath", &[], a)?;
        let paths: Vec<String> = list_of(&v)?.iter().map(py_str_mj).collect();
        if paths.is_empty() {
            return Err(op_error("commonpath() arg is an empty sequence"));
        }
        let abs = paths[0].starts_with('/');
        if paths.iter().any(|p| p.starts_with('/') != abs) {
            return Err(op_error("Can't mix absolute and relative paths"));
        }
        let split: Vec<Vec<&str>> = paths
            .iter()
            .map(|p| {
                p.split('/')
                    .filter(|c| !c.is_empty() && *c != ".")
                    .collect()
            })
            .collect();
        let mut common: Vec<&str> = Vec::new();
        for (i, comp) in split[0].iter().enumerate() {
            if split.iter().all(|p| p.get(i) == Some(comp)) {
                common.push(comp);
            } else {
                break;
            }
        }
        let joined = common.join("/");
        Ok(Mj::from(if abs { format!("/{joined}") } else { joined }))
    });
    filter!(env, "expandvars", |v, a| {
        Args::bind("expandvars", &[], a)?;
        Ok(Mj::from(expandvars(&s(&v)?)))
    });
    filter!(env, "to_uuid", |v, a| {
        let a = Args::bind("to_uuid", &["namespace"], a)?;
        let ns = a.str_or("namespace", "361E6D51-FAEC-444A-9079-341386DA8E2E");
        Ok(Mj::from(uuid5(&ns, &s(&v)?)?))
    });
    filter!(env, "human_readable", |v, a| {
        let a = Args::bind("human_readable", &["isbits", "unit"], a)?;
        defined(&v)?;
        let size = f64::try_from(v.clone())
            .or_else(|_| py_str_mj(&v).trim().parse::<f64>())
            .map_err(|_| {
                op_error(format!(
                    "human_readable() can't interpret following string: {v}"
                ))
            })?;
        Ok(Mj::from(bytes_to_human(
            size,
            a.bool_or("isbits", false),
            a.opt_str("unit"),
        )))
    });
    filter!(env, "human_to_bytes", |v, a| {
        let a = Args::bind("human_to_bytes", &["default_unit", "isbits"], a)?;
        Ok(Mj::from(human_to_bytes(
            &s(&v)?,
            a.opt_str("default_unit"),
            a.bool_or("isbits", false),
        )?))
    });
    filter!(env, "truncate", |v, a| {
        let a = Args::bind("truncate", &["length", "killwords", "end", "leeway"], a)?;
        let text: Vec<char> = s(&v)?.chars().collect();
        let length = a.int_or("length", 255)?.max(0) as usize;
        let end = a.str_or("end", "...");
        let leeway = a.int_or("leeway", 5)?.max(0) as usize;
        if text.len() <= length + leeway {
            return Ok(Mj::from(text.iter().collect::<String>()));
        }
        let keep = length.saturating_sub(end.chars().count());
        let head: String = text[..keep.min(text.len())].iter().collect();
        if a.bool_or("killwords", false) {
            return Ok(Mj::from(head + &end));
        }
        let head = match head.rfind(' ') {
            Some(i) => head[..i].to_string(),
            None => head,
        };
        Ok(Mj::from(head + &end))
    });
    filter!(env, "wordwrap", |v, a| {
        let a = Args::bind(
            "wordwrap",
            &[
                "width",
                "break_long_words",
                "wrapstring",
                "break_on_hyphens",
            ],
            a,
        )?;
        let text = s(&v)?;
        let width = a.int_or("width", 79)?.max(1) as usize;
        let wrap = a.str_or("wrapstring", "\n");
        let long = a.bool_or("break_long_words", true);
        let lines: Vec<String> = text
            .lines()
            .flat_map(|l| wrap_line(l, width, long))
            .collect();
        Ok(Mj::from(lines.join(&wrap)))
    });
    filter!(env, "striptags", |v, a| {
        Args::bind("striptags", &[], a)?;
        let text = s(&v)?;
        let no_comments = regex::Regex::new(r"(?s)<!--.*?-->")
            .map(|r| r.replace_all(&text, "").into_owned())
            .unwrap_or(text);
        let no_tags = regex::Regex::new(r"(?s)<[^>]*>")
            .map(|r| r.replace_all(&no_comments, "").into_owned())
            .unwrap_or(no_comments);
        let words: Vec<&str> = no_tags.split_whitespace().collect();
        let joined = words.join(" ");
        Ok(Mj::from(
            joined
                .replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&quot;", "\"")
                .replace("&#39;", "'")
                .replace("&amp;", "&"),
        ))
    });
    filter!(env, "filesizeformat", |v, a| {
        let a = Args::bind("filesizeformat", &["binary"], a)?;
        defined(&v)?;
        let bytes = f64::try_from(v.clone())
            .or_else(|_| py_str_mj(&v).trim().parse::<f64>())
            .map_err(|_| op_error(format!("filesizeformat: a number is required, got {v}")))?;
        let binary = a.bool_or("binary", false);
        let base: f64 = if binary { 1024.0 } else { 1000.0 };
        let prefixes = if binary {
            ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"]
        } else {
            ["kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"]
        };
        if bytes == 1.0 {
            return Ok(Mj::from("1 Byte"));
        }
        if bytes < base {
            return Ok(Mj::from(format!("{} Bytes", bytes as i64)));
        }
        let mut out = String::new();
        for (i, prefix) in prefixes.iter().enumerate() {
            let unit = base.powi(i as i32 + 2);
            if bytes < unit || i == prefixes.len() - 1 {
                out = format!("{:.1} {prefix}", base * bytes / unit);
                break;
            }
        }
        Ok(Mj::from(out))
    });
    filter!(env, "xmlattr", |v, a| {
        let a = Args::bind("xmlattr", &["autospace"], a)?;
        defined(&v)?;
        let mut parts = Vec::new();
        for k in v.try_iter()? {
            let x = v.get_item(&k).unwrap_or(Mj::UNDEFINED);
            if x.is_undefined() || x.is_none() {
                continue;
            }
            let esc = |t: String| {
                t.replace('&', "&amp;")
                    .replace('<', "&lt;")
                    .replace('>', "&gt;")
                    .replace('"', "&#34;")
                    .replace('\'', "&#39;")
            };
            parts.push(format!("{}=\"{}\"", esc(py_str_mj(&k)), esc(py_str_mj(&x))));
        }
        let joined = parts.join(" ");
        Ok(Mj::from(
            if a.bool_or("autospace", true) && !joined.is_empty() {
                format!(" {joined}")
            } else {
                joined
            },
        ))
    });
    filter!(env, "min", |v, a| extreme("min", v, a));
    filter!(env, "max", |v, a| extreme("max", v, a));
    filter!(env, "unique", |v, a| {
        let a = Args::bind("unique", &["case_sensitive", "attribute"], a)?;
        let items = list_of(&v)?;
        let attr = a.opt_str("attribute");
        let mut seen: Vec<Value> = Vec::new();
        let mut out = Vec::new();
        for item in items {
            let key = match &attr {
                Some(at) => from_mj(&attr_path(&item, at))?,
                None => from_mj(&item)?,
            };
            if !seen.contains(&key) {
                seen.push(key);
                out.push(item);
            }
        }
        Ok(Mj::from(out))
    });
}

/// minijinja's own filters, made to fail on an undefined input with an
/// undefined error (so the variable gets named), and not to turn it into
/// an empty value under chaining rules (custom-delimiter template files).
pub fn guard_builtins(env: &mut Environment<'static>) {
    use minijinja::filters as f;
    use minijinja::value::Kwargs;
    env.add_filter("upper", |v: Mj| -> R {
        Ok(Mj::from(s(&v)?.to_uppercase()))
    });
    env.add_filter("lower", |v: Mj| -> R {
        Ok(Mj::from(s(&v)?.to_lowercase()))
    });
    env.add_filter("capitalize", |v: Mj| -> R {
        let t = s(&v)?;
        let mut c = t.chars();
        Ok(Mj::from(match c.next() {
            Some(first) => first.to_uppercase().collect::<String>() + &c.as_str().to_lowercase(),
            None => String::new(),
        }))
    });
    env.add_filter("title", |v: Mj| -> R {
        Ok(Mj::from(f::title(s(&v)?.into())))
    });
    env.add_filter("trim", |v: Mj, chars: Option<String>| -> R {
        let t = s(&v)?;
        Ok(Mj::from(match chars {
            Some(cs) => t.trim_matches(|c| cs.contains(c)).to_string(),
            None => t.trim().to_string(),
        }))
    });
    for name in ["length", "count"] {
        env.add_filter(name, |v: Mj| -> R {
            defined(&v)?;
            f::length(&v).map(Mj::from)
        });
    }
    env.add_filter("first", |v: Mj| -> R {
        defined(&v)?;
        f::first(&v)
    });
    env.add_filter("last", |v: Mj| -> R {
        defined(&v)?;
        f::last(v)
    });
    env.add_filter("reverse", |v: Mj| -> R {
        defined(&v)?;
        f::reverse(&v)
    });
    env.add_filter("sort", |st: &State, v: Mj, kw: Kwargs| -> R {
        defined(&v)?;
        f::sort(st, v, kw)
    });
    env.add_filter("items", |v: Mj| -> R {
        defined(&v)?;
        f::items(&v)
    });
    env.add_filter("dictsort", |v: Mj, kw: Kwargs| -> R {
        defined(&v)?;
        f::dictsort(&v, kw)
    });
    env.add_filter("map", |st: &State, v: Mj, args: Rest<Mj>| -> R {
        defined(&v)?;
        f::map(st, v, args).map(Mj::from)
    });
    env.add_filter(
        "select",
        |st: &State, v: Mj, t: Option<String>, args: Rest<Mj>| -> R {
            defined(&v)?;
            f::select(st, v, t.map(Into::into), args).map(Mj::from)
        },
    );
    env.add_filter(
        "reject",
        |st: &State, v: Mj, t: Option<String>, args: Rest<Mj>| -> R {
            defined(&v)?;
            f::reject(st, v, t.map(Into::into), args).map(Mj::from)
        },
    );
    env.add_filter(
        "selectattr",
        |st: &State, v: Mj, a: String, t: Option<String>, args: Rest<Mj>| -> R {
            defined(&v)?;
            f::selectattr(st, v, a.into(), t.map(Into::into), args).map(Mj::from)
        },
    );
    env.add_filter(
        "rejectattr",
        |st: &State, v: Mj, a: String, t: Option<String>, args: Rest<Mj>| -> R {
            defined(&v)?;
            f::rejectattr(st, v, a.into(), t.map(Into::into), args).map(Mj::from)
        },
    );
    env.add_filter(
        "batch",
        |st: &State, v: Mj, n: usize, fill: Option<Mj>| -> R {
            defined(&v)?;
            f::batch(st, v, n, fill)
        },
    );
}

/// `min`/`max(case_sensitive=False, attribute=None)`.
fn extreme(which: &str, v: Mj, a: &[Mj]) -> R {
    let a = Args::bind(which, &["case_sensitive", "attribute"], a)?;
    let items = list_of(&v)?;
    let attr = a.opt_str("attribute");
    let cs = a.bool_or("case_sensitive", false);
    let key = |i: &Mj| -> Mj {
        let k = match &attr {
            Some(at) => attr_path(i, at),
            None => i.clone(),
        };
        match k.as_str() {
            Some(t) if !cs => Mj::from(t.to_lowercase()),
            _ => k,
        }
    };
    let mut best: Option<(Mj, Mj)> = None;
    for item in items {
        let k = key(&item);
        let better = match &best {
            None => true,
            Some((bk, _)) => {
                let ord = k.partial_cmp(bk).unwrap_or(std::cmp::Ordering::Equal);
                if which == "min" {
                    ord == std::cmp::Ordering::Less
                } else {
                    ord == std::cmp::Ordering::Greater
                }
            }
        };
        if better {
            best = Some((k, item));
        }
    }
    Ok(best.map(|b| b.1).unwrap_or(Mj::UNDEFINED))
}

/// `default(default_value='', boolean=False)`.
fn default(v: Mj, a: &[Mj]) -> R {
    let a = Args::bind("default", &["default_value", "boolean"], a)?;
    let use_default = v.is_undefined() || (a.bool_or("boolean", false) && !v.is_true());
    if use_default {
        Ok(a.get("default_value").cloned().unwrap_or(Mj::from("")))
    } else {
        Ok(v)
    }
}

/// Python-ish truth of a string as Ansible's `bool` filter reads it.
pub fn ansible_bool_str(s: &str) -> bool {
    matches!(
        s.trim().to_lowercase().as_str(),
        "yes" | "on" | "1" | "true"
    )
}

fn to_bool(v: &Mj) -> bool {
    if v.is_none() {
        return false;
    }
    if let Some(s) = v.as_str() {
        return ansible_bool_str(s);
    }
    if v.is_number() {
        return f64::try_from(v.clone()).map(|f| f == 1.0).unwrap_or(false);
    }
    v.is_true()
}

fn int_filter(v: Mj, a: &[Mj]) -> R {
    let a = Args::bind("int", &["default", "base"], a)?;
    defined(&v)?;
    let dflt = a.get("default").cloned().unwrap_or(Mj::from(0));
    let base = a.int_or("base", 10)?;
    if let Some(t) = v.as_str() {
        let t = t.trim().replace('_', "");
        let (neg, body) = match t.strip_prefix('-') {
            Some(b) => (true, b.to_string()),
            None => (false, t.trim_start_matches('+').to_string()),
        };
        let lower = body.to_lowercase();
        let body = match base {
            16 => lower.strip_prefix("0x").unwrap_or(&lower).to_string(),
            8 => lower.strip_prefix("0o").unwrap_or(&lower).to_string(),
            2 => lower.strip_prefix("0b").unwrap_or(&lower).to_string(),
            _ => lower.clone(),
        };
        if let Ok(i) = i64::from_str_radix(&body, base.clamp(2, 36) as u32) {
            return Ok(Mj::from(if neg { -i } else { i }));
        }
        // Jinja falls back to int(float(value)).
        if base == 10 {
            if let Ok(f) = t.parse::<f64>() {
                return Ok(Mj::from(f.trunc() as i64));
            }
        }
        return Ok(dflt);
    }
    if v.kind() == minijinja::value::ValueKind::Bool {
        return Ok(Mj::from(i64::from(v.is_true())));
    }
    if v.is_integer() {
        return Ok(v);
    }
    match f64::try_from(v.clone()) {
        Ok(f) => Ok(Mj::from(f.trunc() as i64)),
        Err(_) => Ok(dflt),
    }
}

/// A regex that failed while matching (too much backtracking).
pub fn regex_runtime(e: fancy_regex::Error) -> Error {
    op_error(format!("regular expression failed while matching: {e}"))
}

/// A Python regex, with the `ignorecase`/`multiline` flags. Lookaround
/// and backreferences are supported as in Python's `re`.
pub fn build_regex(pat: &str, ignorecase: bool, multiline: bool) -> Result<Regex, Error> {
    let mut flags = String::new();
    if ignorecase {
        flags.push('i');
    }
    if multiline {
        flags.push('m');
    }
    // Python's `\Z` is Rust's `\z`; `(?P<name>` is accepted by both.
    let pat = pat.replace("\\Z", "\\z");
    let full = if flags.is_empty() {
        pat
    } else {
        format!("(?{flags}){pat}")
    };
    Regex::new(&full).map_err(|e| op_error(format!("invalid regular expression '{full}': {e}")))
}

/// Python's replacement syntax (`\1`, `\g<name>`) in Rust's (`${1}`).
pub fn py_replacement(rep: &str) -> String {
    let mut out = String::new();
    let chars: Vec<char> = rep.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '$' {
            out.push_str("$$");
        } else if c == '\\' && i + 1 < chars.len() {
            let n = chars[i + 1];
            if n.is_ascii_digit() {
                let mut j = i + 1;
                let mut num = String::new();
                while j < chars.len() && chars[j].is_ascii_digit() && num.len() < 2 {
                    num.push(chars[j]);
                    j += 1;
                }
                out.push_str(&format!("${{{num}}}"));
                i = j;
                continue;
            }
            if n == 'g' && chars.get(i + 2) == Some(&'<') {
                if let Some(end) = chars[i + 3..].iter().position(|&c| c == '>') {
                    let name: String = chars[i + 3..i + 3 + end].iter().collect();
                    out.push_str(&format!("${{{name}}}"));
                    i += 4 + end;
                    continue;
                }
            }
            match n {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                'r' => out.push('\r'),
                '\\' => out.push('\\'),
                other => {
                    out.push('\\');
                    out.push(other);
                }
            }
            i += 2;
            continue;
        } else {
            out.push(c);
        }
        i += 1;
    }
    out
}

/// The items of a list-like value (lists, dict keys, strings' characters
/// are not iterated here: strings are an error as in Ansible's list ops).
pub fn list_of(v: &Mj) -> Result<Vec<Mj>, Error> {
    defined(v)?;
    if v.is_none() {
        return Ok(Vec::new());
    }
    Ok(v.try_iter()?.collect())
}

fn set_op(op: &str, v: Mj, a: &[Mj]) -> R {
    let a = Args::bind(op, &["b"], a)?;
    let xs: Vec<Value> = list_of(&v)?.iter().map(from_mj).collect::<Result<_, _>>()?;
    let ys: Vec<Value> = list_of(a.required("b")?)?
        .iter()
        .map(from_mj)
        .collect::<Result<_, _>>()?;
    let uniq = |items: Vec<Value>| {
        let mut out: Vec<Value> = Vec::new();
        for i in items {
            if !out.contains(&i) {
                out.push(i);
            }
        }
        out
    };
    let out = match op {
        "union" => uniq(xs.into_iter().chain(ys).collect()),
        "intersect" => uniq(xs.into_iter().filter(|x| ys.contains(x)).collect()),
        "difference" => uniq(xs.into_iter().filter(|x| !ys.contains(x)).collect()),
        _ => {
            let isect: Vec<Value> = xs.iter().filter(|x| ys.contains(x)).cloned().collect();
            uniq(
                xs.into_iter()
                    .chain(ys)
                    .filter(|x| !isect.contains(x))
                    .collect(),
            )
        }
    };
    Ok(to_mj(&Value::Array(out)))
}

fn flatten(items: &[Value], levels: Option<i64>, skip_nulls: bool, out: &mut Vec<Value>) {
    for item in items {
        if skip_nulls
            && (item.is_null() || item.as_str() == Some("None") || item.as_str() == Some("null"))
        {
            continue;
        }
        match item {
            Value::Array(inner) if levels.is_none_or(|l| l > 0) => {
                flatten(inner, levels.map(|l| l - 1), skip_nulls, out);
            }
            other => out.push(other.clone()),
        }
    }
}

/// `a + b` as Python would: numbers add, lists and strings concatenate.
fn add(a: &Mj, b: &Mj) -> R {
    defined(b)?;
    if a.kind() == minijinja::value::ValueKind::Seq && b.kind() == minijinja::value::ValueKind::Seq
    {
        let mut out = list_of(a)?;
        out.extend(list_of(b)?);
        return Ok(Mj::from(out));
    }
    if a.is_integer() && b.is_integer() {
        if let (Some(x), Some(y)) = (a.as_i64(), b.as_i64()) {
            if let Some(z) = x.checked_add(y) {
                return Ok(Mj::from(z));
            }
        }
    }
    if a.is_number() && b.is_number() {
        let x = f64::try_from(a.clone()).unwrap_or(0.0);
        let y = f64::try_from(b.clone()).unwrap_or(0.0);
        return Ok(Mj::from(x + y));
    }
    Err(op_error(format!(
        "unsupported operand type(s) for +: '{}' and '{}'",
        py_type_name_mj(a),
        py_type_name_mj(b)
    )))
}

fn collect_dicts(v: Value, out: &mut Vec<Map<String, Value>>) -> Result<(), Error> {
    match v {
        Value::Object(m) => out.push(m),
        Value::Array(items) => {
            for i in items {
                collect_dicts(i, out)?;
            }
        }
        other => {
            return Err(op_error(format!(
                "failed to combine variables, expected dicts but got a '{}'",
                crate::value::type_name(&other)
            )))
        }
    }
    Ok(())
}

/// Ansible's `merge_hash`: `b` over `a`.
pub fn merge_hash(
    mut a: Map<String, Value>,
    b: Map<String, Value>,
    recursive: bool,
    list_merge: &str,
) -> Map<String, Value> {
    for (k, bv) in b {
        let merged = match (a.get(&k), bv) {
            (Some(Value::Object(x)), Value::Object(y)) if recursive => {
                Value::Object(merge_hash(x.clone(), y, true, list_merge))
            }
            (Some(Value::Array(x)), Value::Array(y)) => match list_merge {
                "keep" => Value::Array(x.clone()),
                "append" => Value::Array(x.iter().cloned().chain(y).collect()),
                "prepend" => Value::Array(y.into_iter().chain(x.iter().cloned()).collect()),
                "append_rp" => {
                    let rest: Vec<Value> = x.iter().filter(|i| !y.contains(i)).cloned().collect();
                    Value::Array(rest.into_iter().chain(y).collect())
                }
                "prepend_rp" => {
                    let rest: Vec<Value> = x.iter().filter(|i| !y.contains(i)).cloned().collect();
                    Value::Array(y.into_iter().chain(rest).collect())
                }
                _ => Value::Array(y),
            },
            (_, bv) => bv,
        };
        a.insert(k, merged);
    }
    a
}

fn digest(kind: &str, data: &[u8]) -> Result<String, Error> {
    use sha2::Digest;
    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }
    Ok(match kind {
        "md5" => hex(&md5::Md5::digest(data)),
        "sha1" => hex(&sha1::Sha1::digest(data)),
        "sha224" => hex(&sha2::Sha224::digest(data)),
        "sha256" => hex(&sha2::Sha256::digest(data)),
        "sha384" => hex(&sha2::Sha384::digest(data)),
        "sha512" => hex(&sha2::Sha512::digest(data)),
        other => return Err(op_error(format!("hash: unsupported hash type '{other}' (use md5, sha1, sha224, sha256, sha384 or sha512)"))),
    })
}

const CRYPT_CHARS: &[u8] = b"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// crypt(3) SHA-512/SHA-256 hashes as Ansible writes them with passlib
/// (which names the rounds in the hash).
/// The one-secret vault of a `vault`/`unvault` filter call: its `secret`,
/// labelled `vault_id` (default `filter_default`), with its `salt`.
fn filter_vault(a: &Args) -> Result<crate::vault::Vault, Error> {
    let secret = a.opt_str("secret").ok_or_else(|| {
        op_error("Secret passed is required to be a string, instead we got: <class 'NoneType'>")
    })?;
    let id = a
        .opt_str("vault_id")
        .or_else(|| a.opt_str("vaultid"))
        .unwrap_or_else(|| "filter_default".into());
    let mut vault = crate::vault::Vault::new(vec![crate::vault::Secret::new(
        id,
        secret.into_bytes(),
        "filter",
    )]);
    vault.encrypt_salt = a.opt_str("salt").map(String::into_bytes);
    Ok(vault)
}

fn password_hash(
    pw: &str,
    kind: &str,
    salt: Option<String>,
    salt_size: i64,
    rounds: Option<i64>,
) -> Result<String, Error> {
    let salt = match salt {
        Some(s) => s,
        None => {
            let mut rng = rand::thread_rng();
            (0..salt_size.clamp(1, 16))
                .map(|_| CRYPT_CHARS[rng.gen_range(0..CRYPT_CHARS.len())] as char)
                .collect()
        }
    };
    if salt.len() > 16 || !salt.bytes().all(|b| CRYPT_CHARS.contains(&b)) {
        return Err(op_error(
            "password_hash: the salt must be at most 16 characters of [./0-9A-Za-z]",
        ));
    }
    match kind {
        "sha512" | "sha512_crypt" => {
            let rounds = rounds.unwrap_or(656_000) as usize;
            let params = sha_crypt::Sha512Params::new(rounds)
                .map_err(|_| op_error("password_hash: invalid rounds"))?;
            let h = sha_crypt::sha512_crypt_b64(pw.as_bytes(), salt.as_bytes(), &params)
                .map_err(|_| op_error("password_hash: hashing failed"))?;
            Ok(format!("$6$rounds={rounds}${salt}${h}"))
        }
        "sha256" | "sha256_crypt" => {
            let rounds = rounds.unwrap_or(535_000) as usize;
            let params = sha_crypt::Sha256Params::new(rounds)
                .map_err(|_| op_error("password_hash: invalid rounds"))?;
            let h = sha_crypt::sha256_crypt_b64(pw.as_bytes(), salt.as_bytes(), &params)
                .map_err(|_| op_error("password_hash: hashing failed"))?;
            Ok(format!("$5$rounds={rounds}${salt}${h}"))
        }
        other => Err(op_error(format!(
            "password_hash: unsupported hash type '{other}' (sha512 and sha256 are supported)"
        ))),
    }
}

pub fn dirname(p: &str) -> String {
    match p.rfind('/') {
        None => String::new(),
        Some(i) => {
            let head = &p[..=i];
            let trimmed = head.trim_end_matches('/');
            if trimmed.is_empty() {
                head.to_string()
            } else {
                trimmed.to_string()
            }
        }
    }
}

pub fn expanduser(p: &str) -> String {
    if p == "~" || p.starts_with("~/") {
        if let Ok(home) = std::env::var("HOME") {
            return format!("{home}{}", &p[1..]);
        }
    }
    p.to_string()
}

fn realpath(p: &str) -> String {
    if let Ok(c) = std::fs::canonicalize(p) {
        return c.to_string_lossy().into_owned();
    }
    let abs = if p.starts_with('/') {
        p.to_string()
    } else {
        let cwd = std::env::current_dir()
            .map(|d| d.to_string_lossy().into_owned())
            .unwrap_or_default();
        format!("{cwd}/{p}")
    };
    let mut parts: Vec<&str> = Vec::new();
    for seg in abs.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            s => parts.push(s),
        }
    }
    format!("/{}", parts.join("/"))
}

fn splitext(p: &str) -> (String, String) {
    let base_start = p.rfind('/').map(|i| i + 1).unwrap_or(0);
    let base = &p[base_start..];
    match base.rfind('.') {
        Some(i) if base[..i].chars().any(|c| c != '.') => {
            (p[..base_start + i].to_string(), base[i..].to_string())
        }
        _ => (p.to_string(), String::new()),
    }
}

fn seeded_rng(seed: Option<&Mj>) -> rand::rngs::StdRng {
    match seed {
        Some(s) if !s.is_none() => {
            let mut h = DefaultHasher::new();
            py_str_mj(s).hash(&mut h);
            rand::rngs::StdRng::seed_from_u64(h.finish())
        }
        _ => rand::rngs::StdRng::from_entropy(),
    }
}

fn comment(text: &str, style: &str, kw: &[(String, String)]) -> R {
    let (beginning, decoration, end) = match style {
        "plain" => ("", "# ", ""),
        "erlang" => ("", "% ", ""),
        "c" => ("", "// ", ""),
        "cblock" => ("/*", " * ", " */"),
        "xml" => ("<!--", " - ", "-->"),
        other => {
            return Err(op_error(format!(
                "comment: unknown style '{other}' (plain, erlang, c, cblock, xml)"
            )))
        }
    };
    let get = |k: &str| kw.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let prepost = get("decoration").unwrap_or(decoration.to_string());
    let newline = get("newline").unwrap_or("\n".into());
    let beginning = get("beginning").unwrap_or(beginning.into());
    let decoration = get("decoration").unwrap_or(decoration.into());
    let end = get("end").unwrap_or(end.into());
    let prefix = get("prefix").unwrap_or(prepost.trim_end().to_string());
    let postfix = get("postfix").unwrap_or(prepost.trim_end().to_string());
    let prefix_count: usize = get("prefix_count")
        .and_then(|c| c.parse().ok())
        .unwrap_or(1);
    let postfix_count: usize = get("postfix_count")
        .and_then(|c| c.parse().ok())
        .unwrap_or(1);
    let mut out = String::new();
    if !beginning.is_empty() {
        out.push_str(&beginning);
        out.push_str(&newline);
    }
    if !prefix.is_empty() {
        let unit = if prefix != newline {
            format!("{prefix}{newline}")
        } else {
            newline.clone()
        };
        out.push_str(&unit.repeat(prefix_count));
    }
    let body = format!(
        "{decoration}{}",
        text.replace(&newline, &format!("{newline}{decoration}"))
    );
    out.push_str(&body.replace(
        &format!("{decoration}{newline}"),
        &format!("{}{newline}", decoration.trim_end()),
    ));
    for _ in 0..postfix_count {
        out.push_str(&newline);
        out.push_str(&postfix);
    }
    if !end.is_empty() {
        out.push_str(&newline);
        out.push_str(&end);
    }
    Ok(Mj::from(out))
}

fn split_yaml_documents(text: &str) -> Vec<String> {
    let mut docs = Vec::new();
    let mut cur = String::new();
    for line in text.lines() {
        if line == "---" || line.starts_with("--- ") {
            if !cur.trim().is_empty() {
                docs.push(std::mem::take(&mut cur));
            }
            cur.clear();
            cur.push_str(line.strip_prefix("---").unwrap_or(""));
            cur.push('\n');
            continue;
        }
        if line == "..." {
            continue;
        }
        cur.push_str(line);
        cur.push('\n');
    }
    if !cur.trim().is_empty() {
        docs.push(cur);
    }
    docs
}

/// Percent-encoding as Jinja's `urlencode`: `/` kept in plain strings,
/// spaces as `+` in query strings.
fn url_quote(s: &str, query: bool) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'.' | b'-' | b'~' => {
                out.push(b as char)
            }
            b'/' if !query => out.push('/'),
            b' ' if query => out.push('+'),
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}

/// `a.b.0`-style attribute lookup, as Jinja's `attribute=` arguments.
pub fn attr_path(v: &Mj, path: &str) -> Mj {
    let mut cur = v.clone();
    for seg in path.split('.') {
        let next = match seg.parse::<i64>() {
            Ok(i) if cur.kind() == minijinja::value::ValueKind::Seq => cur.get_item(&Mj::from(i)),
            _ => cur.get_attr(seg),
        };
        cur = next.unwrap_or(Mj::UNDEFINED);
    }
    cur
}

/// Python's `os.path.normpath`.
pub fn normpath(p: &str) -> String {
    if p.is_empty() {
        return ".".into();
    }
    let abs = p.starts_with('/');
    // POSIX keeps exactly two leading slashes.
    let lead = if p.starts_with("//") && !p.starts_with("///") {
        "//"
    } else if abs {
        "/"
    } else {
        ""
    };
    let mut parts: Vec<&str> = Vec::new();
    for comp in p.split('/') {
        match comp {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|l| *l != "..") {
                    parts.pop();
                } else if !abs {
                    parts.push("..");
                }
            }
            c => parts.push(c),
        }
    }
    let out = format!("{lead}{}", parts.join("/"));
    if out.is_empty() {
        ".".into()
    } else {
        out
    }
}

fn absolute(p: &str) -> String {
    if p.starts_with('/') {
        normpath(p)
    } else {
        let cwd = std::env::current_dir()
            .map(|d| d.to_string_lossy().into_owned())
            .unwrap_or_else(|_| "/".into());
        normpath(&format!("{cwd}/{p}"))
    }
}

/// Python's `os.path.relpath`.
fn relpath(p: &str, start: &str) -> String {
    let a = absolute(p);
    let b = absolute(start);
    let ap: Vec<&str> = a.split('/').filter(|c| !c.is_empty()).collect();
    let bp: Vec<&str> = b.split('/').filter(|c| !c.is_empty()).collect();
    let common = ap.iter().zip(&bp).take_while(|(x, y)| x == y).count();
    let mut out: Vec<&str> = vec![".."; bp.len() - common];
    out.extend(&ap[common..]);
    if out.is_empty() {
        ".".into()
    } else {
        out.join("/")
    }
}

/// Python's `os.path.expandvars`: `$NAME` and `${NAME}` from the
/// environment; unknown names are left as written.
fn expandvars(text: &str) -> String {
    let re = match regex::Regex::new(r"\$(\w+|\{[^}]*\})") {
        Ok(r) => r,
        Err(_) => return text.to_string(),
    };
    re.replace_all(text, |c: &regex::Captures| {
        let name = c[1].trim_start_matches('{').trim_end_matches('}');
        std::env::var(name).unwrap_or_else(|_| c[0].to_string())
    })
    .into_owned()
}

/// A name-based (version 5) UUID, as Python's `uuid.uuid5`.
fn uuid5(namespace: &str, name: &str) -> Result<String, Error> {
    use sha1::Digest;
    let hex: String = namespace
        .chars()
        .filter(|c| c.is_ascii_hexdigit())
        .collect();
    if hex.len() != 32 {
        return Err(op_error(format!(
            "Invalid value '{namespace}' for 'namespace': badly formed hexadecimal UUID string"
        )));
    }
    let mut ns = [0u8; 16];
    for (i, byte) in ns.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[i * 2..i * 2 + 2], 16).unwrap_or(0);
    }
    let mut h = sha1::Sha1::new();
    h.update(ns);
    h.update(name.as_bytes());
    let d = h.finalize();
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    b[6] = (b[6] & 0x0f) | 0x50;
    b[8] = (b[8] & 0x3f) | 0x80;
    let x: String = b.iter().map(|v| format!("{v:02x}")).collect();
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &x[..8],
        &x[8..12],
        &x[12..16],
        &x[16..20],
        &x[20..]
    ))
}

const SIZE_RANGES: [(char, f64); 9] = [
    ('Y', 1208925819614629174706176.0),
    ('Z', 1180591620717411303424.0),
    ('E', 1152921504606846976.0),
    ('P', 1125899906842624.0),
    ('T', 1099511627776.0),
    ('G', 1073741824.0),
    ('M', 1048576.0),
    ('K', 1024.0),
    ('B', 1.0),
];

/// Ansible's `bytes_to_human`.
fn bytes_to_human(size: f64, isbits: bool, unit: Option<String>) -> String {
    let base = if isbits { "bits" } else { "Bytes" };
    let mut chosen = ('B', 1.0);
    for (suffix, limit) in SIZE_RANGES {
        chosen = (suffix, limit);
        let wanted = unit
            .as_ref()
            .and_then(|u| u.chars().next())
            .map(|c| c.to_ascii_uppercase());
        if (wanted.is_none() && size >= limit) || wanted == Some(suffix) {
            break;
        }
    }
    let (suffix, limit) = chosen;
    let suffix = if limit != 1.0 {
        format!("{suffix}{}", &base[..1])
    } else {
        base.to_string()
    };
    format!("{:.2} {suffix}", size / limit)
}

/// Ansible's `human_to_bytes`.
fn human_to_bytes(text: &str, default_unit: Option<String>, isbits: bool) -> Result<i64, Error> {
    let re = regex::Regex::new(r"^([0-9]*\.?[0-9]+)(?:\s*([A-Za-z]+))?\s*$")
        .map_err(|e| op_error(e.to_string()))?;
    let caps = re.captures(text.trim_start()).ok_or_else(|| {
        op_error(format!(
            "human_to_bytes() can't interpret following string: {text}"
        ))
    })?;
    let num: f64 = caps[1].parse().map_err(|_| {
        op_error(format!(
            "human_to_bytes() can't interpret following number: {}",
            &caps[1]
        ))
    })?;
    let unit = caps.get(2).map(|m| m.as_str().to_string()).or(default_unit);
    let Some(unit) = unit else {
        return Ok(num.round() as i64);
    };
    let key = unit.chars().next().unwrap_or('B').to_ascii_uppercase();
    let limit = SIZE_RANGES
        .iter()
        .find(|(s, _)| *s == key)
        .map(|(_, l)| *l)
        .ok_or_else(|| op_error(format!("human_to_bytes() failed to convert {text} (unit = {unit}). The suffix must be one of Y, Z, E, P, T, G, M, K, B")))?;
    if unit.chars().count() > 1 {
        let class = if isbits { 'b' } else { 'B' };
        let second = unit.chars().nth(1);
        let word = unit.to_lowercase();
        let ok = (unit.chars().count() == 2 && second == Some(class))
            || (key == 'B'
                && (word == if isbits { "bit" } else { "byte" }
                    || word == if isbits { "bits" } else { "bytes" }))
            || word.ends_with(if isbits { "bit" } else { "byte" })
            || word.ends_with(if isbits { "bits" } else { "bytes" });
        if !ok {
            return Err(op_error(format!("human_to_bytes() failed to convert {text}. Value is not a valid string (expect {key}{class} or {key})")));
        }
    }
    Ok((num * limit).round() as i64)
}

/// Greedy wrapping of one line as Python's `textwrap.wrap`.
fn wrap_line(line: &str, width: usize, break_long: bool) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for word in line.split_whitespace() {
        let mut word = word.to_string();
        loop {
            let cur_len = cur.chars().count();
            let word_len = word.chars().count();
            let need = if cur.is_empty() {
                word_len
            } else {
                cur_len + 1 + word_len
            };
            if need <= width {
                if !cur.is_empty() {
                    cur.push(' ');
                }
                cur.push_str(&word);
                break;
            }
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
                continue;
            }
            if break_long && word_len > width {
                let head: String = word.chars().take(width).collect();
                word = word.chars().skip(width).collect();
                out.push(head);
                if word.is_empty() {
                    break;
                }
                continue;
            }
            cur = word;
            break;
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}
