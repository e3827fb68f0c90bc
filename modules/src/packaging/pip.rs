//! pip — manage Python packages with pip, in the system Python or a
//! virtualenv, as ansible-core's pip module does.
//!
//! As in Ansible, pip itself decides: the module runs `pip install`
//! (`-U` for latest, `-U --force-reinstall` for forcereinstall) or `pip
//! uninstall -y` with the packages and reports a change when pip says
//! "Successfully installed" / "Successfully uninstalled"; with
//! `requirements` or a VCS URL, when `pip list --format=freeze` differs
//! before and after. A `virtualenv` without `bin/activate` is made first
//! with `virtualenv_command` (default `virtualenv`; `python3 -m venv`
//! works too), which counts as a change.
//!
//! Check mode runs nothing that changes the host: a missing virtualenv, or
//! `extra_args`, `requirements` or state=latest, report a change straight
//! away (as Ansible does); otherwise `pip list --format=freeze` is
//! compared with the names and their version specifiers (PEP 440: ==,
//! !=, <=, >=, <, >, ~=, ===, `==1.*`; pre-releases count).
//!
//! Names are written back as Python's `packaging` writes a requirement
//! (`Django >= 4.0` → `Django>=4.0`, extras and specifiers sorted);
//! `version: 1.2` makes `NAME==1.2`. pip is `VENV/bin/pip3` (or `pip`),
//! `executable`, or else `python3 -m pip` when that works and `pip3`
//! when not.
//!
//! Tested: for real in temporary virtualenvs (python3 -m venv) with a
//! small package from PyPI, every step (absent, install, no change,
//! version drift, latest, forcereinstall, check mode, uninstall, bad
//! arguments) compared with ansible's pip (tests/module_pip.rs).
//!
//! Arguments: name (list), version, requirements, virtualenv,
//! virtualenv_command, virtualenv_python, virtualenv_site_packages, state
//! (present, absent, latest, forcereinstall), extra_args, editable,
//! chdir, executable, umask, break_system_packages
//!
//! Returns: cmd (the pip command as a list; in check mode the listing
//! command as a string), name, version, state, requirements, virtualenv,
//! stdout, stderr.

use std::cmp::Ordering;

use async_trait::async_trait;
use serde_json::{json, Value};

use crate::api::{shell_quote, ExecOptions, ExecResult, HostError, Module, ModuleContext, Outcome};
use crate::args::{Param, Spec};

pub struct Pip;

static SPEC: Spec = Spec {
    module: "pip",
    params: &[
        Param::str("state").default("present").choices(&[
            "present",
            "absent",
            "latest",
            "forcereinstall",
        ]),
        Param::list("name"),
        Param::str("version"),
        Param::str("requirements"),
        Param::path("virtualenv"),
        Param::bool("virtualenv_site_packages").default("no"),
        Param::path("virtualenv_command").default("virtualenv"),
        Param::str("virtualenv_python"),
        Param::str("extra_args"),
        Param::bool("editable").default("no"),
        Param::path("chdir"),
        Param::path("executable"),
        Param::str("umask"),
        Param::bool("break_system_packages").default("false"),
    ],
    mutually_exclusive: &[&["name", "requirements"], &["executable", "virtualenv"]],
    required_one_of: &[&["name", "requirements"]],
};

/// A PEP 440 version, enough to order versions and test specifiers.
/// Equality is PEP 440's (`1.0 == 1.0.0`).
#[derive(Clone, Debug)]
pub struct Version {
    epoch: u64,
    release: Vec<u64>,
    /// (0 = a, 1 = b, 2 = rc, n)
    pre: Option<(u8, u64)>,
    post: Option<u64>,
    dev: Option<u64>,
}

impl Version {
    pub fn parse(text: &str) -> Option<Version> {
        let s = text.trim().to_lowercase();
        let s = s.strip_prefix('v').unwrap_or(&s);
        let s = s.split('+').next().unwrap_or_default();
        let (epoch, rest) = match s.split_once('!') {
            Some((e, r)) => (e.parse().ok()?, r),
            None => (0, s),
        };
        let bytes = rest.as_bytes();
        let mut i = 0;
        let mut release = Vec::new();
        loop {
            let start = i;
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            if start == i {
                return None;
            }
            release.push(rest[start..i].parse().ok()?);
            if i + 1 < bytes.len() && bytes[i] == b'.' && bytes[i + 1].is_ascii_digit() {
                i += 1;
            } else {
                break;
            }
        }
        let mut v = Version {
            epoch,
            release,
            pre: None,
            post: None,
            dev: None,
        };
        let mut tail = &rest[i..];
        let number = |t: &str| -> (u64, usize) {
            let t2 = t.trim_start_matches(['.', '-', '_']);
            let skipped = t.len() - t2.len();
            let n: String = t2.chars().take_while(|c| c.is_ascii_digit()).collect();
            (n.parse().unwrap_or(0), skipped + n.len())
        };
        while !tail.is_empty() {
            let t = tail.trim_start_matches(['.', '-', '_']);
            let mut matched = false;
            for (words, kind) in [
                (&["alpha", "a"][..], 0u8),
                (&["beta", "b"][..], 1),
                (&["rc", "c", "pre", "preview"][..], 2),
            ] {
                if let Some(w) = words.iter().find(|w| t.starts_with(**w)) {
                    let (n, used) = number(&t[w.len()..]);
                    v.pre = Some((kind, n));
                    tail = &t[w.len() + used..];
                    matched = true;
                    break;
                }
            }
            if matched {
                continue;
            }
            if let Some(w) = ["post", "rev", "r"].iter().find(|w| t.starts_with(**w)) {
                let (n, used) = number(&t[w.len()..]);
                v.post = Some(n);
                tail = &t[w.len() + used..];
            } else if let Some(r) = t.strip_prefix("dev") {
                let (n, used) = number(r);
                v.dev = Some(n);
                tail = &r[used..];
            } else if tail.starts_with('-') && t.starts_with(|c: char| c.is_ascii_digit()) {
                let (n, used) = number(t);
                v.post = Some(n);
                tail = &t[used..];
            } else {
                return None;
            }
        }
        Some(v)
    }

    fn release_cmp(a: &[u64], b: &[u64]) -> Ordering {
        let n = a.len().max(b.len());
        (0..n)
            .map(|i| a.get(i).unwrap_or(&0).cmp(b.get(i).unwrap_or(&0)))
            .find(|o| *o != Ordering::Equal)
            .unwrap_or(Ordering::Equal)
    }
}

impl Ord for Version {
    fn cmp(&self, o: &Version) -> Ordering {
        // A dev release sorts before its pre-releases; a release without
        // pre sorts after them; post after the release.
        let pre_key = |v: &Version| match (v.pre, v.post, v.dev) {
            (None, None, Some(_)) => (-1i64, 0u64),
            (Some((k, n)), _, _) => (k as i64, n),
            (None, _, _) => (3, 0),
        };
        let post_key = |v: &Version| v.post.map_or(-1i64, |p| p as i64);
        let dev_key = |v: &Version| v.dev.map_or(u64::MAX, |d| d);
        self.epoch
            .cmp(&o.epoch)
            .then_with(|| Version::release_cmp(&self.release, &o.release))
            .then_with(|| pre_key(self).cmp(&pre_key(o)))
            .then_with(|| post_key(self).cmp(&post_key(o)))
            .then_with(|| dev_key(self).cmp(&dev_key(o)))
    }
}

impl PartialEq for Version {
    fn eq(&self, o: &Version) -> bool {
        self.cmp(o) == Ordering::Equal
    }
}

impl Eq for Version {}

impl PartialOrd for Version {
    fn partial_cmp(&self, o: &Version) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}

/// Whether `version` satisfies one specifier (`>=1.2`, `==1.*`, `~=1.4`).
pub fn satisfies(op: &str, spec: &str, version: &str) -> bool {
    if op == "===" {
        return spec == version;
    }
    let Some(have) = Version::parse(version) else {
        return false;
    };
    if let Some(prefix) = spec.strip_suffix(".*") {
        let Some(p) = Version::parse(prefix) else {
            return false;
        };
        let matches = have.epoch == p.epoch
            && p.release
                .iter()
                .enumerate()
                .all(|(i, n)| have.release.get(i).unwrap_or(&0) == n);
        return match op {
            "==" => matches,
            "!=" => !matches,
            _ => false,
        };
    }
    let Some(want) = Version::parse(spec) else {
        return false;
    };
    match op {
        "==" => have == want,
        "!=" => have != want,
        ">=" => have >= want,
        "<=" => have <= want,
        // `>V` takes no post-release of V, `<V` no pre-release of V,
        // unless V is one itself.
        ">" => {
            have > want
                && (want.post.is_some()
                    || have.post.is_none()
                    || Version::release_cmp(&have.release, &want.release) != Ordering::Equal)
        }
        "<" => {
            have < want
                && (want.pre.is_some()
                    || have.pre.is_none()
                    || Version::release_cmp(&have.release, &want.release) != Ordering::Equal)
        }
        "~=" => {
            let mut prefix = want.release.clone();
            if prefix.len() < 2 {
                return false;
            }
            prefix.pop();
            have >= want
                && prefix
                    .iter()
                    .enumerate()
                    .all(|(i, n)| have.release.get(i).unwrap_or(&0) == n)
        }
        _ => false,
    }
}

/// A name as the user gave it, read as a Python requirement when it is
/// one (`name[extras] specifiers ; marker`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Requirement {
    pub raw: String,
    pub name: Option<String>,
    pub extras: Vec<String>,
    /// (operator, version), sorted as `packaging` prints them.
    pub specs: Vec<(String, String)>,
    pub marker: Option<String>,
}

const OPS: [&str; 8] = ["===", "~=", "==", "!=", "<=", ">=", "<", ">"];

impl Requirement {
    pub fn parse(raw: &str) -> Requirement {
        let plain = Requirement {
            raw: raw.to_string(),
            name: None,
            extras: Vec::new(),
            specs: Vec::new(),
            marker: None,
        };
        let text = raw.trim();
        let (body, marker) = match text.split_once(';') {
            Some((b, m)) => (b.trim(), Some(m.trim().to_string())),
            None => (text, None),
        };
        let name_len = body
            .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')))
            .unwrap_or(body.len());
        let name = &body[..name_len];
        if name.is_empty()
            || !name.starts_with(|c: char| c.is_ascii_alphanumeric())
            || !name.ends_with(|c: char| c.is_ascii_alphanumeric())
        {
            return plain;
        }
        let mut rest = body[name_len..].trim_start();
        let mut extras = Vec::new();
        if let Some(r) = rest.strip_prefix('[') {
            let Some((inside, after)) = r.split_once(']') else {
                return plain;
            };
            extras = inside
                .split(',')
                .map(|e| e.trim().to_string())
                .filter(|e| !e.is_empty())
                .collect();
            extras.sort();
            rest = after.trim_start();
        }
        let mut specs = Vec::new();
        if !rest.is_empty() {
            let inner = rest
                .strip_prefix('(')
                .and_then(|r| r.strip_suffix(')'))
                .unwrap_or(rest);
            for part in inner.split(',') {
                let part = part.trim();
                let Some(op) = OPS.iter().find(|op| part.starts_with(**op)) else {
                    return plain;
                };
                let v = part[op.len()..].trim();
                if v.is_empty() || v.contains(char::is_whitespace) {
                    return plain;
                }
                specs.push((op.to_string(), v.to_string()));
            }
        }
        specs.sort_by_key(|(op, v)| format!("{op}{v}"));
        Requirement {
            raw: raw.to_string(),
            name: Some(name.to_string()),
            extras,
            specs,
            marker,
        }
    }

    /// The canonical project name (`Foo_Bar` → `foo-bar`).
    pub fn key(&self) -> String {
        canonicalize(self.name.as_deref().unwrap_or(&self.raw))
    }

    /// `python -m pip`'s spelling, as `str(Requirement)`.
    pub fn to_arg(&self) -> String {
        let Some(name) = &self.name else {
            return self.raw.clone();
        };
        let mut s = name.clone();
        if !self.extras.is_empty() {
            s.push_str(&format!("[{}]", self.extras.join(",")));
        }
        let specs: Vec<String> = self.specs.iter().map(|(o, v)| format!("{o}{v}")).collect();
        s.push_str(&specs.join(","));
        if let Some(m) = &self.marker {
            s.push_str(&format!("; {m}"));
        }
        s
    }

    /// Whether an installed `name==version` line satisfies it.
    pub fn satisfied_by(&self, installed: &[String]) -> bool {
        if self.name.is_none() {
            return false;
        }
        installed.iter().any(|line| {
            let Some((n, v)) = line.split_once("==") else {
                return false;
            };
            canonicalize(n) == self.key() && self.specs.iter().all(|(op, s)| satisfies(op, s, v))
        })
    }
}

pub fn canonicalize(name: &str) -> String {
    let mut out = String::new();
    let mut sep = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            sep = true;
        } else {
            if sep {
                out.push('-');
                sep = false;
            }
            out.push(c.to_ascii_lowercase());
        }
    }
    if sep {
        out.push('-');
    }
    out
}

/// Joins the pieces of names split on commas back into requirements
/// (`['django>1.11', '<2', 'six']` → `['django>1.11,<2', 'six']`).
pub fn recover_package_names(names: &[String]) -> Vec<String> {
    let parts: Vec<&str> = names.iter().flat_map(|n| n.split(',')).collect();
    let is_name = |s: &str| !OPS.iter().any(|op| s.trim_start().starts_with(op));
    let mut out = Vec::new();
    let mut current: Vec<&str> = Vec::new();
    let mut in_brackets = false;
    for p in parts {
        if is_name(p) && !in_brackets && !current.is_empty() {
            out.push(current.join(","));
            current.clear();
        }
        if p.contains('[') {
            in_brackets = true;
        }
        if in_brackets && p.contains(']') {
            in_brackets = false;
        }
        current.push(p);
    }
    out.push(current.join(","));
    out
}

/// Splits a command line as Python's shlex.split does (quotes and
/// backslashes; no expansion).
pub fn shlex_split(s: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(x) => cur.push(x),
                        None => return Err("No closing quotation".into()),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(x @ ('"' | '\\' | '$' | '`')) => cur.push(x),
                            Some(x) => {
                                cur.push('\\');
                                cur.push(x);
                            }
                            None => return Err("No closing quotation".into()),
                        },
                        Some(x) => cur.push(x),
                        None => return Err("No closing quotation".into()),
                    }
                }
            }
            '\\' => {
                in_word = true;
                match chars.next() {
                    Some(x) => cur.push(x),
                    None => return Err("No escaped character".into()),
                }
            }
            c if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        out.push(cur);
    }
    Ok(out)
}

fn is_venv_command(argv: &[String]) -> bool {
    if argv.first().map(String::as_str) == Some("pyvenv") {
        return true;
    }
    let mut it = argv.iter().skip(1);
    while let Some(a) = it.next() {
        if a == "-m" {
            return it.next().map(String::as_str) == Some("venv");
        }
        if let Some(m) = a.strip_prefix("-m") {
            return m == "venv";
        }
    }
    false
}

fn quote_all(argv: &[String]) -> String {
    argv.iter()
        .map(|a| shell_quote(a))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Ansible's failure after a command: its stdout and stderr in `msg`.
fn command_failure(cmd: Value, out: &str, err: &str) -> Outcome {
    let mut msg = String::new();
    if !out.is_empty() {
        msg.push_str(&format!("stdout: {out}"));
    }
    if !err.is_empty() {
        msg.push_str(&format!("\n:stderr: {err}"));
    }
    Outcome::failed(msg).with("cmd", cmd)
}

/// Runs argv under `sh` in `chdir` with `PATH` led by `path_prefix`.
async fn run_argv(
    ctx: &ModuleContext<'_>,
    argv: &[String],
    chdir: &str,
    path_prefix: Option<&str>,
    env: &[(String, String)],
    umask: Option<&str>,
) -> Result<ExecResult, HostError> {
    let mut script = String::new();
    if let Some(u) = umask {
        script.push_str(&format!("umask {} && ", shell_quote(u)));
    }
    if let Some(p) = path_prefix {
        script.push_str(&format!("PATH={}:\"$PATH\" ", shell_quote(p)));
    }
    script.push_str(&quote_all(argv));
    let opts = ExecOptions {
        chdir: Some(chdir.to_string()),
        env: env.to_vec(),
        ..ExecOptions::default()
    };
    ctx.host.exec(&script, &opts).await
}

#[async_trait]
impl Module for Pip {
    fn name(&self) -> &'static str {
        "pip"
    }

    fn spec(&self) -> Option<&'static Spec> {
        Some(&SPEC)
    }

    async fn run(&self, ctx: &ModuleContext<'_>) -> Result<Outcome, HostError> {
        let a = match SPEC.parse(ctx).await? {
            Ok(a) => a,
            Err(o) => return Ok(o),
        };
        let state = a.str_or("state", "present");
        let names = a.list("name");
        let version = a.str("version");
        let requirements = a.str("requirements");
        let mut extra_args = a.str("extra_args");
        let umask = a.str("umask");
        if let Some(u) = &umask {
            if u.is_empty()
                || u8::from_str_radix(u, 8).is_err() && u32::from_str_radix(u, 8).is_err()
            {
                return Ok(Outcome::failed("umask must be an octal integer"));
            }
        }
        if state == "latest" && version.is_some() {
            return Ok(Outcome::failed("version is incompatible with state=latest"));
        }
        let chdir_given = a.str("chdir");
        let mut env_dir = a.str("virtualenv");
        if let (Some(e), Some(c)) = (&env_dir, &chdir_given) {
            if !e.starts_with('/') {
                env_dir = Some(format!("{}/{e}", c.trim_end_matches('/')));
            }
        }
        let chdir = match chdir_given {
            Some(c) => c,
            None => {
                let r = ctx
                    .host
                    .exec("printf %s \"${TMPDIR:-/tmp}\"", &ExecOptions::default())
                    .await?;
                r.stdout_text()
            }
        };
        let mut env = Vec::new();
        if a.bool_or("break_system_packages", false) {
            env.push(("PIP_BREAK_SYSTEM_PACKAGES".to_string(), "1".to_string()));
        }
        let umask = umask.as_deref();
        let mut out = String::new();
        let mut err = String::new();
        let mut venv_created = false;

        // The virtualenv, made when it has no bin/activate.
        if let Some(envd) = &env_dir {
            let activate = format!("{}/bin/activate", envd.trim_end_matches('/'));
            if ctx.host.stat(&activate, true).await?.is_none() {
                if ctx.check_mode {
                    return Ok(Outcome::changed());
                }
                let command = a.str_or("virtualenv_command", "virtualenv");
                let mut argv = match shlex_split(&command) {
                    Ok(v) if !v.is_empty() => v,
                    _ => {
                        return Ok(Outcome::failed(format!(
                            "could not split virtualenv_command '{command}'"
                        )))
                    }
                };
                let which = |name: &str| format!("command -v {}", shell_quote(name));
                if !argv[0].contains('/') {
                    let r = ctx
                        .host
                        .exec(&which(&argv[0]), &ExecOptions::default())
                        .await?;
                    if r.rc != 0 {
                        return Ok(Outcome::failed(format!(
                            "Failed to find required executable \"{}\" in paths: {}",
                            argv[0],
                            ctx.host
                                .exec("printf %s \"$PATH\"", &ExecOptions::default())
                                .await?
                                .stdout_text()
                        )));
                    }
                    argv[0] = r.stdout_text().trim().to_string();
                }
                if a.bool_or("virtualenv_site_packages", false) {
                    argv.push("--system-site-packages".into());
                } else {
                    let help = run_argv(
                        ctx,
                        &[argv[0].clone(), "--help".into()],
                        &chdir,
                        None,
                        &env,
                        umask,
                    )
                    .await?;
                    if help.rc != 0 {
                        return Ok(Outcome::failed(format!(
                            "Could not get output from {} --help: {}{}",
                            argv[0],
                            help.stdout_text(),
                            help.stderr_text()
                        )));
                    }
                    if help
                        .stdout_text()
                        .split_whitespace()
                        .any(|w| w == "--no-site-packages")
                    {
                        argv.push("--no-site-packages".into());
                    }
                }
                let venv_python = a.str("virtualenv_python");
                if !is_venv_command(&shlex_split(&command).unwrap_or_default()) {
                    let py = match venv_python {
                        Some(p) => p,
                        None => ctx
                            .host
                            .exec(
                                "command -v python3 || command -v python",
                                &ExecOptions::default(),
                            )
                            .await?
                            .stdout_text()
                            .trim()
                            .to_string(),
                    };
                    argv.push(format!("-p{py}"));
                } else if venv_python.is_some() {
                    return Ok(Outcome::failed(
                        "virtualenv_python should not be used when using the venv module or pyvenv as virtualenv_command",
                    ));
                }
                argv.push(envd.clone());
                let r = run_argv(ctx, &argv, &chdir, None, &env, umask).await?;
                out.push_str(&r.stdout_text());
                err.push_str(&r.stderr_text());
                if r.rc != 0 {
                    return Ok(command_failure(json!(argv), &out, &err));
                }
                venv_created = true;
            }
        }

        // The pip to run.
        let executable = a.str("executable");
        let pip: Vec<String> = if let Some(envd) = &env_dir {
            let bin = format!("{}/bin", envd.trim_end_matches('/'));
            let r = ctx
                .host
                .exec(
                    &format!(
                        "for p in {b}/pip3 {b}/pip; do if [ -x \"$p\" ]; then printf %s \"$p\"; exit 0; fi; done; exit 1",
                        b = shell_quote(&bin)
                    ),
                    &ExecOptions::default(),
                )
                .await?;
            if r.rc != 0 {
                return Ok(Outcome::failed(format!(
                    "Unable to find pip in the virtualenv, {envd}, under any of these names: pip3, pip. Make sure pip is present in the virtualenv."
                )));
            }
            vec![r.stdout_text()]
        } else if let Some(x) = executable.as_ref().filter(|x| x.starts_with('/')) {
            vec![x.clone()]
        } else {
            let base = executable.clone().unwrap_or_else(|| "pip3".into());
            let probe = if executable.is_none() {
                "p=$(command -v python3) && \"$p\" -c 'import pip' >/dev/null 2>&1 && { printf 'm%s' \"$p\"; exit 0; }; "
            } else {
                ""
            };
            let r = ctx
                .host
                .exec(
                    &format!("{probe}command -v {} && exit 0; exit 1", shell_quote(&base)),
                    &ExecOptions::default(),
                )
                .await?;
            let found = r.stdout_text().trim().to_string();
            if r.rc != 0 || found.is_empty() {
                return Ok(Outcome::failed(format!(
                    "Unable to find any of {base} to use.  pip needs to be installed."
                )));
            }
            match found.strip_prefix('m') {
                Some(py) if py.starts_with('/') => vec![py.to_string(), "-m".into(), "pip".into()],
                _ => vec![found],
            }
        };
        let path_prefix = env_dir
            .as_ref()
            .map(|e| format!("{}/bin", e.trim_end_matches('/')));

        let verb: &[&str] = match state.as_str() {
            "absent" => &["uninstall", "-y"],
            "latest" => &["install", "-U"],
            "forcereinstall" => &["install", "-U", "--force-reinstall"],
            _ => &["install"],
        };
        let mut cmd: Vec<String> = pip.clone();
        cmd.extend(verb.iter().map(|s| s.to_string()));

        let mut packages: Vec<Requirement> = Vec::new();
        let mut has_vcs = false;
        if let Some(names) = &names {
            has_vcs = names.iter().any(|n| {
                ["svn+", "git+", "hg+", "bzr+"]
                    .iter()
                    .any(|p| n.starts_with(p))
            });
            packages = recover_package_names(names)
                .iter()
                .map(|n| Requirement::parse(n))
                .collect();
            if let Some(v) = &version {
                if packages.len() > 1 {
                    return Ok(Outcome::failed("'version' argument is ambiguous when installing multiple package distributions. Please specify version restrictions next to each package in 'name' argument."));
                }
                if !packages[0].specs.is_empty() {
                    return Ok(Outcome::failed("The 'version' argument conflicts with any version specifier provided along with a package name. Please keep the version specifier, but remove the 'version' argument."));
                }
                let v = v.trim_start();
                let joined = if v.starts_with(|c: char| c.is_ascii_digit()) {
                    format!("{}=={v}", packages[0].to_arg())
                } else {
                    format!("{} {v}", packages[0].to_arg())
                };
                packages[0] = Requirement::parse(&joined);
            }
        }
        if a.bool_or("editable", false) {
            let mut list: Vec<String> = extra_args
                .as_deref()
                .map(|e| e.split(' ').map(str::to_string).collect())
                .unwrap_or_default();
            if !list.iter().any(|x| x == "-e") {
                list.push("-e".into());
                extra_args = Some(list.join(" "));
            }
        }
        if let Some(x) = extra_args.as_deref().filter(|x| !x.is_empty()) {
            match shlex_split(x) {
                Ok(words) => cmd.extend(words),
                Err(e) => return Ok(Outcome::failed(format!("could not split extra_args: {e}"))),
            }
        }
        if names.is_some() {
            cmd.extend(packages.iter().map(Requirement::to_arg));
        } else if let Some(r) = &requirements {
            cmd.extend(["-r".to_string(), r.clone()]);
        }

        let list_cmd: Vec<String> = pip
            .iter()
            .cloned()
            .chain(["list".to_string(), "--format=freeze".to_string()])
            .collect();
        let mut lang_env = env.clone();
        for k in ["LANG", "LC_ALL", "LC_MESSAGES"] {
            lang_env.push((k.to_string(), "C.UTF-8".to_string()));
        }
        let list_packages = || async {
            let r = run_argv(ctx, &list_cmd, &chdir, None, &lang_env, umask).await?;
            Ok::<_, HostError>(r)
        };

        if ctx.check_mode {
            let extra = extra_args.as_deref().is_some_and(|x| !x.is_empty());
            if extra || requirements.is_some() || state == "latest" || names.is_none() {
                return Ok(Outcome::changed());
            }
            let r = list_packages().await?;
            if r.rc != 0 {
                return Ok(command_failure(
                    json!(list_cmd),
                    &r.stdout_text(),
                    &r.stderr_text(),
                ));
            }
            out.push_str(&r.stdout_text());
            err.push_str(&r.stderr_text());
            let installed: Vec<String> = out
                .split('\n')
                .filter(|p| {
                    !p.is_empty()
                        && !p.starts_with("You are using")
                        && !p.starts_with("You should consider")
                })
                .map(str::to_string)
                .collect();
            let changed = packages.iter().any(|p| {
                let present = p.satisfied_by(&installed);
                (state == "present" && !present) || (state == "absent" && present)
            });
            let mut o = if changed {
                Outcome::changed()
            } else {
                Outcome::ok()
            };
            o = o
                .with("cmd", list_cmd.join(" "))
                .with("stdout", out)
                .with("stderr", err);
            return Ok(o);
        }

        let before = if requirements.is_some() || has_vcs {
            let r = list_packages().await?;
            if r.rc != 0 {
                return Ok(command_failure(
                    json!(list_cmd),
                    &r.stdout_text(),
                    &r.stderr_text(),
                ));
            }
            Some(r.stdout_text())
        } else {
            None
        };
        let r = run_argv(ctx, &cmd, &chdir, path_prefix.as_deref(), &env, umask).await?;
        let (pout, perr) = (r.stdout_text(), r.stderr_text());
        out.push_str(&pout);
        err.push_str(&perr);
        let not_installed = state == "absent"
            && r.rc == 1
            && (pout.contains("not installed") || perr.contains("not installed"));
        if r.rc != 0 && !not_installed {
            return Ok(command_failure(json!(cmd), &out, &err));
        }
        let mut changed = if state == "absent" {
            pout.contains("Successfully uninstalled")
        } else if let Some(before) = before {
            let after = list_packages().await?.stdout_text();
            before != after
        } else {
            pout.contains("Successfully installed")
        };
        changed |= venv_created;
        let mut o = if changed {
            Outcome::changed()
        } else {
            Outcome::ok()
        };
        o = o
            .with("cmd", json!(cmd))
            .with("name", json!(names))
            .with("version", json!(version))
            .with("state", state)
            .with("requirements", json!(requirements))
            .with("virtualenv", json!(env_dir))
            .with("stdout", out)
            .with("stderr", err);
        Ok(o)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requirements_print_as_packaging_does() {
        assert_eq!(
            Requirement::parse("Django >= 4.0, <5").to_arg(),
            "Django<5,>=4.0"
        );
        assert_eq!(Requirement::parse("six").to_arg(), "six");
        assert_eq!(Requirement::parse("req[b,a]==1").to_arg(), "req[a,b]==1");
        assert_eq!(
            Requirement::parse("git+https://x/y.git").to_arg(),
            "git+https://x/y.git"
        );
        assert_eq!(
            recover_package_names(&["django>1.11.1".into(), "<1.11.3".into(), "ipaddress".into()]),
            vec!["django>1.11.1,<1.11.3", "ipaddress"]
        );
    }

    #[test]
    fn specifiers() {
        assert!(satisfies(">=", "1.2", "1.10"));
        assert!(!satisfies("<", "1.2", "1.10"));
        assert!(satisfies("==", "1.*", "1.4.2"));
        assert!(satisfies("~=", "1.4", "1.9"));
        assert!(!satisfies("~=", "1.4.2", "1.5"));
        assert!(!satisfies("<", "2.0", "2.0rc1"));
        assert!(satisfies("<", "2.0", "1.9rc1"));
        assert!(!satisfies(">", "1.0", "1.0.post1"));
        assert!(satisfies(">", "1.0", "1.1"));
        assert!(satisfies(">=", "2.0rc1", "2.0"));
        assert!(satisfies("==", "1.0", "1.0.0"));
        let installed = vec!["Six==1.16.0".to_string()];
        assert!(Requirement::parse("six>=1.10").satisfied_by(&installed));
        assert!(!Requirement::parse("six==1.17.0").satisfied_by(&installed));
    }
}
