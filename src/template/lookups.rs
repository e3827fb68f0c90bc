//! `lookup()`, `query()` and `q()`, with Ansible's built-in lookups. They
//! run on the controller.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use minijinja::value::{Rest, Value as Mj, ValueKind};
use minijinja::{Environment, Error, State};
use rand::{Rng, SeedableRng};

use super::args::split_kwargs;
use super::convert::{from_mj, py_str_mj, to_mj};
use super::filters::{defined, expanduser, list_of};
use super::vars::VarsObject;
use super::{diag_error, op_error};
use crate::diag::{exit, Diagnostic};
use crate::value::{Map, Value};

pub fn register(env: &mut Environment<'static>) {
    env.add_function(
        "lookup",
        |st: &State, args: Rest<Mj>| -> Result<Mj, Error> { call(st, &args.0, false) },
    );
    env.add_function("query", |st: &State, args: Rest<Mj>| -> Result<Mj, Error> {
        call(st, &args.0, true)
    });
    env.add_function("q", |st: &State, args: Rest<Mj>| -> Result<Mj, Error> {
        call(st, &args.0, true)
    });
}

/// Keyword options passed to a lookup.
struct Opts(Vec<(String, Mj)>);

impl Opts {
    fn get(&self, k: &str) -> Option<&Mj> {
        self.0.iter().find(|(n, _)| n == k).map(|(_, v)| v)
    }
    fn flag(&self, k: &str, default: bool) -> bool {
        match self.get(k) {
            Some(v) => match v.as_str() {
                Some(s) => super::filters::ansible_bool_str(s),
                None => v.is_true(),
            },
            None => default,
        }
    }
}

fn call(st: &State, args: &[Mj], wantlist: bool) -> Result<Mj, Error> {
    let (pos, kw) = split_kwargs(args);
    let Some(name) = pos.first() else {
        return Err(op_error("lookup requires the name of a lookup plugin"));
    };
    let name = py_str_mj(name);
    let name = name
        .strip_prefix("ansible.builtin.")
        .unwrap_or(&name)
        .to_string();
    let mut wantlist = wantlist;
    let mut errors = "strict".to_string();
    let mut opts = Vec::new();
    for (k, v) in kw {
        match k.as_str() {
            "wantlist" => wantlist = wantlist || v.is_true(),
            "errors" => errors = py_str_mj(&v),
            _ => opts.push((k, v)),
        }
    }
    let terms: Vec<Mj> = pos[1..].to_vec();
    for t in &terms {
        defined(t)?;
    }
    let result = run(st, &name, &terms, &Opts(opts));
    let items = match result {
        Ok(items) => items,
        Err(e) => {
            if e.kind() == minijinja::ErrorKind::UndefinedError {
                return Err(e);
            }
            let detail = e
                .detail()
                .map(str::to_string)
                .unwrap_or_else(|| e.to_string());
            match errors.as_str() {
                "ignore" => {
                    return Ok(if wantlist {
                        Mj::from(Vec::<Mj>::new())
                    } else {
                        Mj::from(())
                    })
                }
                "warn" => {
                    crate::diag::warn(format!(
                        "An error occurred while running the lookup plugin '{name}': {detail}"
                    ));
                    return Ok(if wantlist {
                        Mj::from(Vec::<Mj>::new())
                    } else {
                        Mj::from(())
                    });
                }
                _ => {
                    return Err(diag_error(
                        Diagnostic::new(format!("The lookup plugin '{name}' failed: {detail}"))
                            .code(exit::HOST_FAILED),
                    ))
                }
            }
        }
    };
    if wantlist {
        return Ok(Mj::from(items));
    }
    Ok(match items.len() {
        0 => Mj::from(Vec::<Mj>::new()),
        1 => items.into_iter().next().unwrap_or(Mj::from(())),
        _ if items.iter().all(|i| i.kind() == ValueKind::String) => {
            Mj::from(items.iter().map(py_str_mj).collect::<Vec<_>>().join(","))
        }
        _ => Mj::from(items),
    })
}

/// Every term as text; lists given as a term are spread out.
fn flat_terms(terms: &[Mj]) -> Vec<Mj> {
    let mut out = Vec::new();
    for t in terms {
        if t.kind() == ValueKind::Seq {
            out.extend(t.try_iter().into_iter().flatten());
        } else {
            out.push(t.clone());
        }
    }
    out
}

fn var_str(st: &State, name: &str) -> Option<String> {
    st.lookup(name)
        .filter(|v| !v.is_undefined() && !v.is_none())
        .map(|v| py_str_mj(&v))
}

/// Directories searched for a relative file name, as Ansible's
/// `find_file_in_search_path`: each base with `subdir` first, then bare.
fn search_dirs(st: &State) -> Vec<PathBuf> {
    let mut bases: Vec<String> = Vec::new();
    if let Some(v) = st.lookup("ansible_search_path") {
        if let Ok(Value::Array(items)) = from_mj(&v) {
            bases.extend(items.iter().map(crate::value::py_str));
        }
    }
    if bases.is_empty() {
        bases.extend(var_str(st, "role_path"));
        bases.extend(var_str(st, "playbook_dir"));
    }
    if bases.is_empty() {
        bases.push(".".into());
    }
    bases.into_iter().map(PathBuf::from).collect()
}

fn find_file(st: &State, subdir: &str, term: &str) -> Option<PathBuf> {
    let term = expanduser(term);
    if term.starts_with('/') {
        let p = PathBuf::from(&term);
        return p.exists().then_some(p);
    }
    for base in search_dirs(st) {
        for cand in [base.join(subdir).join(&term), base.join(&term)] {
            if cand.exists() {
                return Some(cand);
            }
        }
    }
    None
}

/// A controller file's text; a vault-encrypted file is decrypted.
fn read_text(p: &Path) -> Result<String, Error> {
    let bytes =
        std::fs::read(p).map_err(|e| op_error(format!("could not read '{}': {e}", p.display())))?;
    let plain = crate::vault::open_file_data(bytes, p)
        .map_err(|d| super::diag_error(d.code(exit::HOST_FAILED)))?;
    Ok(String::from_utf8_lossy(&plain).into_owned())
}

fn run(st: &State, name: &str, terms: &[Mj], o: &Opts) -> Result<Vec<Mj>, Error> {
    match name {
        "file" => {
            let mut out = Vec::new();
            for t in flat_terms(terms) {
                let term = py_str_mj(&t);
                let p = find_file(st, "files", &term).ok_or_else(|| {
                    op_error(format!(
                        "Unable to access the file '{term}': File not found."
                    ))
                })?;
                let mut text = read_text(&p)?;
                if o.flag("rstrip", true) {
                    text = text.trim_end().to_string();
                }
                if o.flag("lstrip", false) {
                    text = text.trim_start().to_string();
                }
                out.push(Mj::from(text));
            }
            Ok(out)
        }
        "unvault" => {
            let mut out = Vec::new();
            for t in flat_terms(terms) {
                let term = py_str_mj(&t);
                let p = find_file(st, "files", &term)
                    .ok_or_else(|| op_error(format!("Unable to find file matching \"{term}\" ")))?;
                out.push(Mj::from(read_text(&p)?));
            }
            Ok(out)
        }
        "env" => {
            let dflt = o.get("default").cloned();
            Ok(flat_terms(terms)
                .iter()
                .map(|t| match std::env::var(py_str_mj(t)) {
                    Ok(v) => Mj::from(v),
                    Err(_) => dflt.clone().unwrap_or(Mj::from("")),
                })
                .collect())
        }
        "template" => {
            let ctx = st
                .lookup("vars")
                .and_then(|v| v.downcast_object::<VarsObject>())
                .ok_or_else(|| op_error("the template lookup needs the task's variables"))?;
            let ctx = match o.get("template_vars").filter(|v| !v.is_none()) {
                Some(tv) => match from_mj(tv)? {
                    Value::Object(extra) => ctx.overlay(extra),
                    _ => return Err(op_error("template_vars must be a dictionary")),
                },
                None => ctx,
            };
            let mut out = Vec::new();
            for t in flat_terms(terms) {
                let term = py_str_mj(&t);
                let p = find_file(st, "templates", &term).ok_or_else(|| {
                    op_error(format!(
                        "the template file {term} could not be found for the lookup"
                    ))
                })?;
                let text = read_text(&p)?;
                let mut search: Vec<String> = p
                    .parent()
                    .map(|d| d.to_string_lossy().into_owned())
                    .into_iter()
                    .collect();
                search.extend(
                    search_dirs(st)
                        .iter()
                        .map(|b| b.join("templates").to_string_lossy().into_owned()),
                );
                let rendered = render_template(&ctx, &text, &search)?;
                out.push(if o.flag("convert_data", false) {
                    to_mj(&rendered)
                } else {
                    Mj::from(crate::value::py_str(&rendered))
                });
            }
            Ok(out)
        }
        "pipe" => {
            let mut out = Vec::new();
            for t in flat_terms(terms) {
                let cmd = py_str_mj(&t);
                let res = run_shell(st, &cmd)?;
                if !res.status.success() {
                    return Err(op_error(format!(
                        "lookup_plugin.pipe({cmd}) returned {}",
                        res.status.code().unwrap_or(-1)
                    )));
                }
                let text = String::from_utf8_lossy(&res.stdout);
                out.push(Mj::from(text.trim_end().to_string()));
            }
            Ok(out)
        }
        "vars" => {
            let mut out = Vec::new();
            for t in flat_terms(terms) {
                let n = py_str_mj(&t);
                match st.lookup(&n).filter(|v| !v.is_undefined()) {
                    Some(v) => out.push(v),
                    None => match o.get("default") {
                        Some(d) => out.push(d.clone()),
                        None => return Err(op_error(format!("No variable named '{n}' was found"))),
                    },
                }
            }
            Ok(out)
        }
        "fileglob" => {
            let mut out = Vec::new();
            for t in flat_terms(terms) {
                let term = expanduser(&py_str_mj(&t));
                let (dir, pat) = match term.rfind('/') {
                    Some(i) => (&term[..i], &term[i + 1..]),
                    None => ("", term.as_str()),
                };
                let dirs: Vec<PathBuf> = if term.starts_with('/') {
                    vec![PathBuf::from(dir)]
                } else {
                    search_dirs(st)
                        .into_iter()
                        .flat_map(|b| [b.join("files").join(dir), b.join(dir)])
                        .collect()
                };
                for d in dirs {
                    let full = d.join(pat);
                    let mut found: Vec<String> = glob::glob(&full.to_string_lossy())
                        .map(|g| {
                            g.flatten()
                                .filter(|p| p.is_file())
                                .map(|p| p.to_string_lossy().into_owned())
                                .collect()
                        })
                        .unwrap_or_default();
                    if !found.is_empty() {
                        found.sort();
                        out.extend(found.into_iter().map(Mj::from));
                        break;
                    }
                }
            }
            Ok(out)
        }
        "first_found" => first_found(st, terms, o),
        "lines" => {
            let mut out = Vec::new();
            for t in flat_terms(terms) {
                let cmd = py_str_mj(&t);
                let res = run_shell(st, &cmd)?;
                if !res.status.success() {
                    return Err(op_error(format!(
                        "lookup_plugin.lines({cmd}) returned {}",
                        res.status.code().unwrap_or(-1)
                    )));
                }
                out.extend(
                    String::from_utf8_lossy(&res.stdout)
                        .lines()
                        .map(|l| Mj::from(l.to_string())),
                );
            }
            Ok(out)
        }
        "items" => Ok(flat_terms(terms)),
        "list" => Ok(terms.to_vec()),
        "indexed_items" => Ok(flat_terms(terms)
            .into_iter()
            .enumerate()
            .map(|(i, t)| Mj::from(vec![Mj::from(i), t]))
            .collect()),
        "dict" => {
            let mut out = Vec::new();
            for t in terms {
                let v = from_mj(t)?;
                let Value::Object(m) = v else {
                    return Err(op_error(format!(
                        "with_dict expects a dict, got {}",
                        crate::value::py_str(&v)
                    )));
                };
                for (k, x) in m {
                    let mut e = Map::new();
                    e.insert("key".into(), Value::String(k));
                    e.insert("value".into(), x);
                    out.push(to_mj(&Value::Object(e)));
                }
            }
            Ok(out)
        }
        "sequence" => sequence(terms, o),
        "nested" | "cartesian" => {
            let mut out: Vec<Vec<Mj>> = vec![vec![]];
            for t in terms {
                let items = if t.kind() == ValueKind::Seq {
                    list_of(t)?
                } else {
                    vec![t.clone()]
                };
                out = out
                    .into_iter()
                    .flat_map(|p| {
                        items.iter().map(move |x| {
                            let mut q = p.clone();
                            q.push(x.clone());
                            q
                        })
                    })
                    .collect();
            }
            if terms.is_empty() {
                return Err(op_error(
                    "with_nested requires at least one element in the nested list",
                ));
            }
            Ok(out.into_iter().map(Mj::from).collect())
        }
        "together" => {
            let lists: Vec<Vec<Mj>> = terms
                .iter()
                .map(|t| {
                    if t.kind() == ValueKind::Seq {
                        list_of(t)
                    } else {
                        Ok(vec![t.clone()])
                    }
                })
                .collect::<Result<_, _>>()?;
            if lists.is_empty() {
                return Err(op_error(
                    "with_together requires at least one element in each list",
                ));
            }
            let n = lists.iter().map(Vec::len).max().unwrap_or(0);
            Ok((0..n)
                .map(|i| {
                    Mj::from(
                        lists
                            .iter()
                            .map(|l| l.get(i).cloned().unwrap_or(Mj::from(())))
                            .collect::<Vec<_>>(),
                    )
                })
                .collect())
        }
        "flattened" => {
            fn walk(v: &Mj, out: &mut Vec<Mj>) {
                if v.kind() == ValueKind::Seq {
                    for i in v.try_iter().into_iter().flatten() {
                        walk(&i, out);
                    }
                } else if !v.is_none() {
                    out.push(v.clone());
                }
            }
            let mut out = Vec::new();
            for t in terms {
                walk(t, &mut out);
            }
            Ok(out)
        }
        "random_choice" => {
            let items = flat_terms(terms);
            if items.is_empty() {
                return Ok(Vec::new());
            }
            let i = rand::thread_rng().gen_range(0..items.len());
            Ok(vec![items[i].clone()])
        }
        "subelements" => {
            let (Some(obj), Some(key)) = (terms.first(), terms.get(1)) else {
                return Err(op_error("subelements lookup expects a list of two or three items: the list, the key and optionally flags"));
            };
            let skip = terms
                .get(2)
                .and_then(|f| f.get_attr("skip_missing").ok())
                .is_some_and(|v| v.is_true());
            let args = [key.clone(), Mj::from(skip)];
            Ok(list_of(&st.apply_filter(
                "subelements",
                &[obj.clone(), args[0].clone(), args[1].clone()],
            )?)?)
        }
        "varnames" => {
            let ctx = st
                .lookup("vars")
                .and_then(|v| v.downcast_object::<VarsObject>())
                .ok_or_else(|| op_error("the varnames lookup needs the task's variables"))?;
            let names = ctx.names();
            let mut out = Vec::new();
            for t in flat_terms(terms) {
                let re = super::filters::build_regex(&py_str_mj(&t), false, false)?;
                for n in &names {
                    if re.is_match(n).unwrap_or(false) && !out.contains(&Mj::from(n.as_str())) {
                        out.push(Mj::from(n.as_str()));
                    }
                }
            }
            Ok(out)
        }
        "password" => password(st, terms, o),
        "ini" => ini(st, terms, o),
        "csvfile" => csvfile(st, terms, o),
        "inventory_hostnames" => inventory_hostnames(st, terms),
        other => Err(op_error(format!("lookup plugin '{other}' not found"))),
    }
}

/// Runs a command with `sh -c` on the controller, in the playbook's
/// directory as Ansible does.
fn run_shell(st: &State, cmd: &str) -> Result<std::process::Output, Error> {
    let dir = var_str(st, "playbook_dir").filter(|d| Path::new(d).is_dir());
    let mut c = std::process::Command::new("/bin/sh");
    c.arg("-c").arg(cmd).stdin(std::process::Stdio::null());
    if let Some(d) = dir {
        c.current_dir(d);
    }
    c.output()
        .map_err(|e| op_error(format!("could not run '{cmd}': {e}")))
}

fn render_template(ctx: &Arc<VarsObject>, text: &str, search: &[String]) -> Result<Value, Error> {
    match ctx.templar().render_file_in(text, ctx, search) {
        Ok(s) => Ok(Value::String(s)),
        Err(super::RenderError::Jinja(e)) => Err(e),
    }
}

fn first_found(st: &State, terms: &[Mj], o: &Opts) -> Result<Vec<Mj>, Error> {
    let mut files: Vec<String> = Vec::new();
    let mut paths: Vec<String> = Vec::new();
    let mut skip = o.flag("skip", false);
    let split = |v: &Mj| -> Vec<String> {
        let items = if v.kind() == ValueKind::Seq {
            list_of(v).unwrap_or_default()
        } else {
            vec![v.clone()]
        };
        items
            .iter()
            .flat_map(|i| {
                py_str_mj(i)
                    .split([',', ';'])
                    .map(|s| s.trim().to_string())
                    .collect::<Vec<_>>()
            })
            .filter(|s| !s.is_empty())
            .collect()
    };
    if let Some(f) = o.get("files") {
        files.extend(split(f));
    }
    if let Some(p) = o.get("paths") {
        paths.extend(split(p));
    }
    for t in flat_terms(terms) {
        if t.kind() == ValueKind::Map {
            if let Some(f) = t.get_attr("files").ok().filter(|v| !v.is_undefined()) {
                files.extend(split(&f));
            }
            if let Some(p) = t.get_attr("paths").ok().filter(|v| !v.is_undefined()) {
                paths.extend(split(&p));
            }
            if let Ok(s) = t.get_attr("skip") {
                if !s.is_undefined() {
                    skip = s.is_true();
                }
            }
        } else {
            files.push(py_str_mj(&t));
        }
    }
    // `with_first_found` searches the role subdirectory its task's action
    // names (templates, vars, else files), as ansible-core does.
    let subdir = o
        .get("_herd_subdir")
        .map(py_str_mj)
        .unwrap_or_else(|| "files".to_string());
    let subdir = subdir.as_str();
    for f in &files {
        let f = expanduser(f);
        if paths.is_empty() || f.starts_with('/') {
            if let Some(p) = find_file(st, subdir, &f) {
                return Ok(vec![Mj::from(p.to_string_lossy().into_owned())]);
            }
        } else {
            for dir in &paths {
                let dir = expanduser(dir);
                let cand = Path::new(&dir).join(&f);
                let found = if cand.is_absolute() {
                    cand.exists().then_some(cand)
                } else {
                    find_file(st, subdir, &cand.to_string_lossy())
                };
                if let Some(p) = found {
                    return Ok(vec![Mj::from(p.to_string_lossy().into_owned())]);
                }
            }
        }
    }
    if skip {
        return Ok(Vec::new());
    }
    Err(op_error("No file was found when using first_found."))
}

/// `k=v` pairs after a term's first word (`start=1 end=5`, `path length=8`).
fn kv_pairs(text: &str) -> Vec<(String, String)> {
    text.split_whitespace()
        .filter_map(|p| {
            p.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
        })
        .collect()
}

fn parse_num(s: &str) -> Result<i64, Error> {
    let t = s.trim();
    let r = if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        i64::from_str_radix(h, 16)
    } else if let Some(o) = t.strip_prefix("0o") {
        i64::from_str_radix(o, 8)
    } else if t.len() > 1 && t.starts_with('0') {
        i64::from_str_radix(&t[1..], 8)
    } else {
        t.parse()
    };
    r.map_err(|_| op_error(format!("can't parse '{s}' as an integer")))
}

fn sequence(terms: &[Mj], o: &Opts) -> Result<Vec<Mj>, Error> {
    let mut specs: Vec<Vec<(String, String)>> = Vec::new();
    for t in flat_terms(terms) {
        let text = py_str_mj(&t);
        let pairs = kv_pairs(&text);
        if pairs.is_empty() {
            // Shortcut form: [start-]end[/stride][:format]
            let (rest, fmt) = match text.split_once(':') {
                Some((r, f)) => (r.to_string(), Some(f.to_string())),
                None => (text.clone(), None),
            };
            let (rest, stride) = match rest.split_once('/') {
                Some((r, s)) => (r.to_string(), Some(s.to_string())),
                None => (rest, None),
            };
            let mut spec = Vec::new();
            match rest.rsplit_once('-').filter(|(a, _)| !a.is_empty()) {
                Some((a, b)) => {
                    spec.push(("start".into(), a.to_string()));
                    spec.push(("end".into(), b.to_string()));
                }
                None => spec.push(("end".into(), rest.clone())),
            }
            if let Some(s) = stride {
                spec.push(("stride".into(), s));
            }
            if let Some(f) = fmt {
                spec.push(("format".into(), f));
            }
            specs.push(spec);
        } else {
            specs.push(pairs);
        }
    }
    if specs.is_empty() {
        specs.push(Vec::new());
    }
    let mut out = Vec::new();
    for mut spec in specs {
        for (k, v) in &o.0 {
            spec.push((k.clone(), py_str_mj(v)));
        }
        let get = |k: &str| {
            spec.iter()
                .rev()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.clone())
        };
        let start = match get("start") {
            Some(s) => parse_num(&s)?,
            None => 1,
        };
        let stride = match get("stride") {
            Some(s) => parse_num(&s)?,
            None => 1,
        };
        let end = match (get("end"), get("count")) {
            (Some(_), Some(_)) => {
                return Err(op_error(
                    "can't specify both count and end in with_sequence",
                ))
            }
            (Some(e), None) => parse_num(&e)?,
            (None, Some(c)) => {
                let c = parse_num(&c)?;
                if c == 0 {
                    continue;
                }
                (c - 1)
                    .checked_mul(stride)
                    .and_then(|n| n.checked_add(start))
                    .ok_or_else(|| op_error("with_sequence: count is too large"))?
            }
            (None, None) => return Err(op_error("must specify count or end in with_sequence")),
        };
        let fmt = get("format").unwrap_or_else(|| "%d".into());
        if stride == 0 {
            continue;
        }
        if (stride > 0 && end < start) || (stride < 0 && end > start) {
            return Err(op_error("to count backwards make stride negative"));
        }
        let mut i = start;
        while (stride > 0 && i <= end) || (stride < 0 && i >= end) {
            let s = super::pyformat::format(&fmt, &[Value::from(i)]).map_err(op_error)?;
            out.push(Mj::from(s));
            i = match i.checked_add(stride) {
                Some(n) => n,
                None => break,
            };
        }
    }
    Ok(out)
}

const ASCII_LETTERS: &str = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
const DIGITS: &str = "0123456789";
const PUNCTUATION: &str = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";

/// The `chars` option: names of Python's `string` constants, or the
/// characters themselves.
fn candidate_chars(spec: &[String]) -> Vec<char> {
    let mut out = String::new();
    for name in spec {
        let part = match name.as_str() {
            "ascii_letters" => ASCII_LETTERS.to_string(),
            "ascii_lowercase" => ASCII_LETTERS[..26].to_string(),
            "ascii_uppercase" => ASCII_LETTERS[26..].to_string(),
            "digits" => DIGITS.to_string(),
            "hexdigits" => "0123456789abcdefABCDEF".to_string(),
            "octdigits" => "01234567".to_string(),
            "punctuation" => PUNCTUATION.to_string(),
            "letters" => ASCII_LETTERS.to_string(),
            other => other.to_string(),
        };
        out.push_str(&part);
    }
    let mut seen = Vec::new();
    for c in out.chars() {
        if !seen.contains(&c) {
            seen.push(c);
        }
    }
    seen
}

fn password(st: &State, terms: &[Mj], o: &Opts) -> Result<Vec<Mj>, Error> {
    let mut out = Vec::new();
    for t in flat_terms(terms) {
        let text = py_str_mj(&t);
        let mut words = text.splitn(2, ' ');
        let rel = words.next().unwrap_or("").to_string();
        let mut params: Vec<(String, String)> = kv_pairs(words.next().unwrap_or(""));
        for (k, v) in &o.0 {
            let v = if v.kind() == ValueKind::Seq {
                list_of(v)?
                    .iter()
                    .map(py_str_mj)
                    .collect::<Vec<_>>()
                    .join(",")
            } else {
                py_str_mj(v)
            };
            params.push((k.clone(), v));
        }
        for (k, _) in &params {
            if !["length", "encrypt", "chars", "ident", "seed"].contains(&k.as_str()) {
                return Err(op_error(format!(
                    "Unrecognized parameter(s) given to password lookup: {k}"
                )));
            }
        }
        let get = |k: &str| {
            params
                .iter()
                .rev()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.clone())
        };
        let length = match get("length") {
            Some(l) => l.parse::<usize>().map_err(|_| {
                op_error(format!(
                    "password lookup: length must be an integer, not '{l}'"
                ))
            })?,
            None => 20,
        };
        let chars: Vec<char> = match get("chars") {
            Some(c) => {
                // `,,` stands for a literal comma.
                let parts: Vec<String> = c
                    .replace(",,", "\u{0}")
                    .split(',')
                    .map(|p| p.replace('\u{0}', ","))
                    .collect();
                candidate_chars(&parts)
            }
            None => candidate_chars(&["ascii_letters".into(), "digits".into(), ".,:-_".into()]),
        };
        if chars.is_empty() {
            return Err(op_error("password lookup: no characters to choose from"));
        }
        let path = if rel == "/dev/null" || rel.starts_with('/') {
            PathBuf::from(expanduser(&rel))
        } else {
            let base = var_str(st, "playbook_dir").unwrap_or_else(|| ".".into());
            Path::new(&base).join(expanduser(&rel))
        };
        let stored = if rel == "/dev/null" {
            None
        } else {
            std::fs::read_to_string(&path)
                .ok()
                .map(|s| s.trim_end_matches('\n').to_string())
        };
        let plain = match stored {
            Some(content) => content.split(" salt=").next().unwrap_or("").to_string(),
            None => {
                let mut rng: Box<dyn rand::RngCore> = match get("seed") {
                    Some(seed) => {
                        use std::hash::{Hash, Hasher};
                        let mut h = std::collections::hash_map::DefaultHasher::new();
                        seed.hash(&mut h);
                        Box::new(rand::rngs::StdRng::seed_from_u64(h.finish()))
                    }
                    None => Box::new(rand::rngs::OsRng),
                };
                let pw: String = (0..length)
                    .map(|_| chars[rng.gen_range(0..chars.len())])
                    .collect();
                if rel != "/dev/null" {
                    if let Some(dir) = path.parent() {
                        std::fs::create_dir_all(dir).map_err(|e| {
                            op_error(format!("could not create {}: {e}", dir.display()))
                        })?;
                    }
                    write_secret(&path, &format!("{pw}\n"))?;
                }
                pw
            }
        };
        if let Some(enc) = get("encrypt") {
            let kind = enc.trim_end_matches("_crypt").to_string();
            let salt: String = {
                let mut rng = rand::thread_rng();
                let cs = b"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
                (0..16)
                    .map(|_| cs[rng.gen_range(0..cs.len())] as char)
                    .collect()
            };
            let h = st.apply_filter(
                "password_hash",
                &[Mj::from(plain.clone()), Mj::from(kind), Mj::from(salt)],
            )?;
            out.push(h);
        } else {
            out.push(Mj::from(plain));
        }
    }
    Ok(out)
}

fn write_secret(path: &Path, content: &str) -> Result<(), Error> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    opts.mode(0o600);
    let mut f = opts
        .open(path)
        .map_err(|e| op_error(format!("could not write {}: {e}", path.display())))?;
    f.write_all(content.as_bytes())
        .map_err(|e| op_error(format!("could not write {}: {e}", path.display())))
}

/// A term's first word and its `k=v` options, with keyword options given
/// to the lookup added.
fn term_and_params(t: &Mj, o: &Opts) -> (String, Vec<(String, String)>) {
    let text = py_str_mj(t);
    let mut words = text.splitn(2, char::is_whitespace);
    let key = words.next().unwrap_or("").to_string();
    let mut params: Vec<(String, String)> =
        o.0.iter().map(|(k, v)| (k.clone(), py_str_mj(v))).collect();
    params.extend(kv_pairs(words.next().unwrap_or("")));
    (key, params)
}

fn param(params: &[(String, String)], k: &str) -> Option<String> {
    params
        .iter()
        .rev()
        .find(|(n, _)| n == k)
        .map(|(_, v)| v.clone())
}

/// `ini`: a value from an INI file's section, or from a Java properties
/// file (`type=properties`).
fn ini(st: &State, terms: &[Mj], o: &Opts) -> Result<Vec<Mj>, Error> {
    let mut out = Vec::new();
    for t in flat_terms(terms) {
        let (key, params) = term_and_params(&t, o);
        let file = param(&params, "file").unwrap_or_else(|| "ansible.ini".into());
        let kind = param(&params, "type").unwrap_or_else(|| "ini".into());
        let section = param(&params, "section").unwrap_or_else(|| "global".into());
        let dflt = param(&params, "default").unwrap_or_default();
        let use_re = param(&params, "re").is_some_and(|r| super::filters::ansible_bool_str(&r));
        let case_sensitive =
            param(&params, "case_sensitive").is_some_and(|r| super::filters::ansible_bool_str(&r));
        let path = find_file(st, "files", &file)
            .ok_or_else(|| op_error(format!("Unable to access the file '{file}'")))?;
        let text = read_text(&path)?;
        let mut entries: Vec<(String, String)> = Vec::new();
        let mut current = if kind == "properties" {
            Some("java_properties".to_string())
        } else {
            None
        };
        let want_section = if kind == "properties" {
            "java_properties".to_string()
        } else {
            section.clone()
        };
        let mut section_seen = false;
        for line in text.lines() {
            let l = line.trim();
            if l.is_empty() || l.starts_with('#') || l.starts_with(';') {
                continue;
            }
            if kind != "properties" && l.starts_with('[') && l.ends_with(']') {
                current = Some(l[1..l.len() - 1].trim().to_string());
                if current.as_deref() == Some(want_section.as_str()) {
                    section_seen = true;
                }
                continue;
            }
            if current.as_deref() != Some(want_section.as_str()) {
                continue;
            }
            section_seen = true;
            let split = l
                .find(['=', ':'])
                .map(|i| (l[..i].trim(), l[i + 1..].trim()));
            if let Some((k, v)) = split {
                // configparser folds keys to lower case unless asked not to.
                let k = if case_sensitive || kind == "properties" {
                    k.to_string()
                } else {
                    k.to_lowercase()
                };
                entries.push((k, v.to_string()));
            }
        }
        if !section_seen && kind != "properties" {
            return Err(op_error(format!("No section '{section}' in {file}")));
        }
        let lookup_key = if case_sensitive || kind == "properties" {
            key.clone()
        } else {
            key.to_lowercase()
        };
        if use_re {
            let re = super::filters::build_regex(&key, false, false)?;
            for (k, v) in &entries {
                if re.is_match(k).unwrap_or(false) {
                    out.push(Mj::from(v.as_str()));
                }
            }
        } else {
            match entries.iter().rev().find(|(k, _)| *k == lookup_key) {
                Some((_, v)) => out.push(Mj::from(v.as_str())),
                None => out.push(Mj::from(dflt)),
            }
        }
    }
    Ok(out)
}

/// `csvfile`: the column `col` of the first row whose first column is the
/// term.
fn csvfile(st: &State, terms: &[Mj], o: &Opts) -> Result<Vec<Mj>, Error> {
    let mut out = Vec::new();
    for t in flat_terms(terms) {
        let (key, params) = term_and_params(&t, o);
        let file = param(&params, "file").unwrap_or_else(|| "ansible.csv".into());
        let delim = match param(&params, "delimiter").as_deref() {
            None | Some("TAB") | Some("\\t") => "\t".to_string(),
            Some(d) => d.to_string(),
        };
        let col: usize = param(&params, "col")
            .and_then(|c| c.parse().ok())
            .unwrap_or(1);
        let dflt = param(&params, "default");
        let path = find_file(st, "files", &file)
            .ok_or_else(|| op_error(format!("Unable to access the file '{file}'")))?;
        let text = read_text(&path)?;
        let mut found = None;
        for line in text.lines() {
            let fields: Vec<&str> = line
                .split(delim.as_str())
                .map(|f| f.trim_matches('"'))
                .collect();
            if fields.first() == Some(&key.as_str()) {
                found = Some(fields.get(col).map(|f| f.to_string()).ok_or_else(|| {
                    op_error(format!("csvfile: no column {col} in the row for '{key}'"))
                })?);
                break;
            }
        }
        match (found, dflt) {
            (Some(v), _) => out.push(Mj::from(v)),
            (None, Some(d)) => out.push(Mj::from(d)),
            (None, None) => out.push(Mj::from(())),
        }
    }
    Ok(out)
}

/// `inventory_hostnames`: host names matching inventory patterns, read
/// from the `groups` variable (`all`, group or host names, `a:b`, `a:&b`,
/// `a:!b`, `*` wildcards).
fn inventory_hostnames(st: &State, terms: &[Mj]) -> Result<Vec<Mj>, Error> {
    let groups = match st.lookup("groups").map(|g| from_mj(&g)) {
        Some(Ok(Value::Object(m))) => m,
        _ => return Err(op_error("inventory_hostnames needs the 'groups' variable")),
    };
    let hosts_of = |name: &str| -> Vec<String> {
        let all: Vec<String> = groups
            .get("all")
            .and_then(|a| a.as_array())
            .map(|a| a.iter().map(crate::value::py_str).collect())
            .unwrap_or_default();
        if let Some(Value::Array(h)) = groups.get(name) {
            return h.iter().map(crate::value::py_str).collect();
        }
        if name.contains('*') {
            let pat = glob::Pattern::new(name).ok();
            let mut out: Vec<String> = Vec::new();
            for (g, hs) in &groups {
                if pat.as_ref().is_some_and(|p| p.matches(g)) {
                    for h in hs.as_array().into_iter().flatten() {
                        let h = crate::value::py_str(h);
                        if !out.contains(&h) {
                            out.push(h);
                        }
                    }
                }
            }
            for h in &all {
                if pat.as_ref().is_some_and(|p| p.matches(h)) && !out.contains(h) {
                    out.push(h.clone());
                }
            }
            return out;
        }
        all.into_iter().filter(|h| h == name).collect()
    };
    let mut out: Vec<String> = Vec::new();
    for t in flat_terms(terms) {
        let pattern = py_str_mj(&t);
        let mut selected: Vec<String> = Vec::new();
        for part in pattern
            .split([':', ','])
            .map(str::trim)
            .filter(|p| !p.is_empty())
        {
            if let Some(n) = part.strip_prefix('!') {
                let drop = hosts_of(n);
                selected.retain(|h| !drop.contains(h));
            } else if let Some(n) = part.strip_prefix('&') {
                let keep = hosts_of(n);
                selected.retain(|h| keep.contains(h));
            } else {
                for h in hosts_of(part) {
                    if !selected.contains(&h) {
                        selected.push(h);
                    }
                }
            }
        }
        for h in selected {
            if !out.contains(&h) {
                out.push(h);
            }
        }
    }
    Ok(out.into_iter().map(Mj::from).collect())
}
