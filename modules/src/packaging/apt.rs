//! apt — install, upgrade and remove Debian packages with apt-get and
//! dpkg, as Ansible's apt module does.
//!
//! Nothing but the host's own apt tools is used: where Ansible asks
//! python-apt, herd asks `dpkg-query` (what is installed, in which state)
//! and `apt-cache policy` (the candidate and the versions on offer), in
//! one round trip, and decides in Rust with Ansible's rules. `changed`
//! comes from that comparison: a package is passed to `apt-get install`
//! only when it is missing, not at the asked version, or (state=latest)
//! older than the candidate; to `apt-get remove` only when installed (or,
//! with `purge`, when its configuration files remain). Commands run with
//! DEBIAN_FRONTEND=noninteractive and the C locale, spelled as Ansible
//! spells them (their text appears in failure messages). Check mode runs
//! the same apt-get command with `--simulate` and reports its output;
//! `--diff` shows the prepared changes (apt-get's summary), as Ansible.
//!
//! Arguments:
//!   name (pkg, package)  list of packages: `foo`, `foo=1.2*` (a version
//!                 glob), `foo>=1.2`, wildcards (`python3-*`) matched
//!                 against the package names apt knows; `*` with
//!                 state=latest upgrades everything
//!   state         present (default), absent, latest, fixed (apt-get
//!                 --fix-broken), build-dep
//!   update_cache (update-cache)  run `apt-get update` first (up to
//!                 update_cache_retries times, backing off to
//!                 update_cache_retry_max_delay seconds)
//!   cache_valid_time  seconds the cache counts as fresh (a positive value
//!                 implies update_cache); its age is the mtime of
//!                 /var/lib/apt/periodic/update-success-stamp, else of
//!                 /var/lib/apt/lists
//!   deb           a .deb on the host, or a URL the host downloads (curl
//!                 or wget), installed with `dpkg -i` after its missing
//!                 dependencies; state must be present
//!   purge, autoremove, autoclean, clean, force, fail_on_autoremove,
//!   only_upgrade, install_recommends, allow_unauthenticated,
//!   allow_downgrade, allow_change_held_packages, default_release,
//!   dpkg_options (default force-confdef,force-confold), lock_timeout
//!   (default 60), policy_rc_d (writes /usr/sbin/policy-rc.d for the run)
//!   upgrade       no (default), yes/safe (aptitude safe-upgrade, or
//!                 apt-get upgrade --with-new-pkgs without aptitude or with
//!                 force_apt_get), full (aptitude full-upgrade), dist
//!                 (apt-get dist-upgrade)
//!   force_apt_get, auto_install_module_deps  accepted (herd needs no
//!                 Python on the host, so there is nothing to install)
//!
//! Returns: cache_updated, cache_update_time, stdout, stderr; diff
//! {prepared} with --diff.
//!
//! Not done: python-apt's full dependency check of a .deb (herd installs
//! the first alternative of each unmet Depends group, refuses a downgrade
//! without allow_downgrade, and lets dpkg report conflicts); aptitude's
//! interactive prompts (aptitude runs with no input).
//!
//! Tested: for real as root with Debian's `hello` package
//! (tests/module_apt.rs): install, no-op, check mode, diff, remove, purge,
//! a downloaded .deb, version specs, the cache age, and argument errors,
//! each compared with ansible's apt module where the output is stable.

use std::cmp::Ordering;

use async_trait::async_trait;
use serde_json::json;

use crate::api::{
    shell_quote, ExecOptions, ExecResult, Host, HostError, Map, Module, ModuleContext, Outcome,
    Value,
};
use crate::args::{parse_bool, Args, Param, Spec};
use crate::commands::shlex_split;
use crate::files::find::fnmatch;

pub struct Apt;

static SPEC: Spec = Spec {
    module: "apt",
    params: &[
        Param::str("state").default("present").choices(&[
            "absent",
            "build-dep",
            "fixed",
            "latest",
            "present",
        ]),
        Param::bool("update_cache").aliases(&["update-cache"]),
        Param::int("update_cache_retries").default("5"),
        Param::int("update_cache_retry_max_delay").default("12"),
        Param::int("cache_valid_time").default("0"),
        Param::bool("purge").default("no"),
        Param::list("package").aliases(&["pkg", "name"]),
        Param::path("deb"),
        Param::str("default_release").aliases(&["default-release"]),
        Param::bool("install_recommends").aliases(&["install-recommends"]),
        Param::bool("force").default("no"),
        // A string with choices; YAML's `yes`/`no` arrive as booleans and
        // are read back as Ansible does.
        Param::raw("upgrade").default("no"),
        Param::str("dpkg_options").default("force-confdef,force-confold"),
        Param::bool("autoremove").default("no"),
        Param::bool("autoclean").default("no"),
        Param::bool("fail_on_autoremove").default("no"),
        Param::int("policy_rc_d"),
        Param::bool("only_upgrade").default("no"),
        Param::bool("force_apt_get").default("no"),
        Param::bool("clean").default("no"),
        Param::bool("allow_unauthenticated")
            .default("no")
            .aliases(&["allow-unauthenticated"]),
        Param::bool("allow_downgrade").default("no").aliases(&[
            "allow-downgrade",
            "allow_downgrades",
            "allow-downgrades",
        ]),
        Param::bool("allow_change_held_packages").default("no"),
        Param::int("lock_timeout").default("60"),
        Param::bool("auto_install_module_deps").default("true"),
    ],
    // `upgrade` defaults to `no`, so Ansible's required_one_of group
    // (autoremove, deb, package, update_cache, upgrade) is always met.
    mutually_exclusive: &[&["deb", "package", "upgrade"]],
    required_one_of: &[],
};

const DPKG_OPTIONS: &str = "force-confdef,force-confold";
const APT_GET_ZERO: &str = "\n0 upgraded, 0 newly installed, 0 to remove";
const APTITUDE_ZERO: &str = "\n0 packages upgraded, 0 newly installed, 0 to remove";
const LOCALE: &str = "C.UTF-8";

/// The environment every apt command runs with (Ansible's APT_ENV_VARS).
fn apt_env() -> ExecOptions {
    let mut env = vec![
        ("DEBIAN_FRONTEND".to_string(), "noninteractive".to_string()),
        ("DEBIAN_PRIORITY".to_string(), "critical".to_string()),
    ];
    for k in ["LANG", "LC_ALL", "LC_MESSAGES", "LC_CTYPE", "LANGUAGE"] {
        env.push((k.to_string(), LOCALE.to_string()));
    }
    ExecOptions {
        env,
        ..ExecOptions::default()
    }
}

/// `foo`, `foo=1.2`, `foo>=1.2` split as Ansible's `package_split`.
pub fn package_split(spec: &str) -> (String, Option<&'static str>, Option<String>) {
    if let Some(i) = spec.find('=') {
        if i > 0 && spec.as_bytes()[i - 1] == b'>' {
            return (
                spec[..i - 1].to_string(),
                Some(">="),
                Some(spec[i + 1..].to_string()),
            );
        }
        return (
            spec[..i].to_string(),
            Some("="),
            Some(spec[i + 1..].to_string()),
        );
    }
    (spec.to_string(), None, None)
}

/// Ansible's `expand_dpkg_options`: `a,b` → `-o "Dpkg::Options::=--a" -o
/// "Dpkg::Options::=--b"`.
pub fn expand_dpkg_options(options: &str) -> String {
    options
        .split(',')
        .map(|o| format!("-o \"Dpkg::Options::=--{o}\""))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Debian's version comparison (deb-version(7)): epoch, then upstream
/// version and revision compared by alternating non-digit and digit runs,
/// `~` sorting before everything, letters before other characters.
pub fn version_compare(a: &str, b: &str) -> Ordering {
    fn split(v: &str) -> (u64, &str, &str) {
        let (epoch, rest) = match v.split_once(':') {
            Some((e, r)) if e.bytes().all(|c| c.is_ascii_digit()) => (e.parse().unwrap_or(0), r),
            _ => (0, v),
        };
        match rest.rsplit_once('-') {
            Some((u, r)) => (epoch, u, r),
            None => (epoch, rest, ""),
        }
    }
    fn order(c: Option<u8>) -> i32 {
        match c {
            None => 0,
            Some(b'~') => -1,
            Some(c) if c.is_ascii_digit() => 0,
            Some(c) if c.is_ascii_alphabetic() => c as i32,
            Some(c) => c as i32 + 256,
        }
    }
    fn part(a: &str, b: &str) -> Ordering {
        let (a, b) = (a.as_bytes(), b.as_bytes());
        let (mut i, mut j) = (0, 0);
        while i < a.len() || j < b.len() {
            while (i < a.len() && !a[i].is_ascii_digit()) || (j < b.len() && !b[j].is_ascii_digit())
            {
                let ac = order(a.get(i).copied().filter(|c| !c.is_ascii_digit()));
                let bc = order(b.get(j).copied().filter(|c| !c.is_ascii_digit()));
                if ac != bc {
                    return ac.cmp(&bc);
                }
                if i < a.len() && !a[i].is_ascii_digit() {
                    i += 1;
                }
                if j < b.len() && !b[j].is_ascii_digit() {
                    j += 1;
                }
            }
            while i < a.len() && a[i] == b'0' {
                i += 1;
            }
            while j < b.len() && b[j] == b'0' {
                j += 1;
            }
            let si = i;
            while i < a.len() && a[i].is_ascii_digit() {
                i += 1;
            }
            let sj = j;
            while j < b.len() && b[j].is_ascii_digit() {
                j += 1;
            }
            let (da, db) = (&a[si..i], &b[sj..j]);
            let c = da.len().cmp(&db.len()).then_with(|| da.cmp(db));
            if c != Ordering::Equal {
                return c;
            }
        }
        Ordering::Equal
    }
    let (ea, ua, ra) = split(a);
    let (eb, ub, rb) = split(b);
    ea.cmp(&eb)
        .then_with(|| part(ua, ub))
        .then_with(|| part(ra, rb))
}

/// What the host knows of one package name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PackageInfo {
    /// dpkg's status abbreviation (`ii `, `rc `, `un `), when dpkg knows it.
    pub dpkg_status: Option<String>,
    pub dpkg_version: String,
    /// Whether `apt-cache policy` knows the name at all.
    pub known: bool,
    /// The candidate `apt-cache policy` names.
    pub candidate: Option<String>,
    /// The versions on offer, best first.
    pub versions: Vec<String>,
    /// Marked as automatically installed.
    pub auto: bool,
}

impl PackageInfo {
    /// Fully installed (dpkg's current state `installed`).
    pub fn installed(&self) -> bool {
        self.dpkg_status
            .as_deref()
            .is_some_and(|s| s.as_bytes().get(1) == Some(&b'i'))
    }

    /// Has files on the host (installed, or configuration files left).
    pub fn has_files(&self) -> bool {
        self.dpkg_status
            .as_deref()
            .is_some_and(|s| !matches!(s.as_bytes().get(1), Some(b'n') | None))
    }
}

/// Parses the query script's output: `==pkg NAME`, the dpkg-query line,
/// `==policy`, apt-cache policy's text, `==auto`, apt-mark's answer.
pub fn parse_query(out: &str) -> Vec<(String, PackageInfo)> {
    let mut res: Vec<(String, PackageInfo)> = Vec::new();
    let mut section = "";
    let mut in_table = false;
    for line in out.lines() {
        if let Some(name) = line.strip_prefix("==pkg ") {
            res.push((name.to_string(), PackageInfo::default()));
            section = "dpkg";
            continue;
        }
        let Some((_, info)) = res.last_mut() else {
            continue;
        };
        match line {
            "==policy" => {
                section = "policy";
                in_table = false;
                continue;
            }
            "==auto" => {
                section = "auto";
                continue;
            }
            _ => {}
        }
        match section {
            "dpkg" => {
                if let Some((status, version)) = line.split_once('|') {
                    info.dpkg_status = Some(status.to_string());
                    info.dpkg_version = version.to_string();
                }
            }
            "policy" => {
                if line.trim().is_empty() {
                    continue;
                }
                info.known = true;
                let t = line.trim_start();
                if let Some(c) = t.strip_prefix("Candidate:") {
                    let c = c.trim();
                    info.candidate = (c != "(none)").then(|| c.to_string());
                } else if t.starts_with("Version table:") {
                    in_table = true;
                } else if in_table {
                    // Version lines are indented five places (or marked
                    // ` *** ` when installed); their sources eight.
                    let indent = line.len() - t.len();
                    let v = if let Some(rest) = t.strip_prefix("*** ") {
                        Some(rest)
                    } else if indent < 8 {
                        Some(t)
                    } else {
                        None
                    };
                    if let Some(v) = v.and_then(|v| v.split_whitespace().next()) {
                        if !info.versions.iter().any(|x| x == v) {
                            info.versions.push(v.to_string());
                        }
                    }
                }
            }
            "auto" if !line.trim().is_empty() => info.auto = true,
            _ => {}
        }
    }
    res
}

/// What Ansible's `package_status` answers: installed, installed at the
/// asked version, the version to install (`Some("")` for a virtual
/// package apt picks a provider for).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Status {
    pub installed: bool,
    pub version_installed: bool,
    pub installable: Option<String>,
    pub has_files: bool,
}

/// The best version for a spec: the highest on offer matching the version
/// glob for `=`, else the candidate.
fn best_version(info: &PackageInfo, cmp: Option<&str>, version: Option<&str>) -> Option<String> {
    match (cmp, version) {
        (Some("="), Some(v)) => info.versions.iter().find(|x| fnmatch(x, v)).cloned(),
        _ => info.candidate.clone(),
    }
}

/// Ansible's `package_status` for a package apt knows.
pub fn package_status(info: &PackageInfo, cmp: Option<&str>, version: Option<&str>) -> Status {
    let installed = info.installed();
    let best = best_version(info, cmp, version);
    let (version_installed, installable) = if installed {
        let iv = info.dpkg_version.as_str();
        let differs = |b: &String| b != iv;
        match (cmp, version) {
            (Some("="), Some(v)) => (fnmatch(iv, v), best.filter(|b| differs(b) && fnmatch(b, v))),
            (Some(">="), Some(v)) => (
                version_compare(iv, v) != Ordering::Less,
                best.filter(|b| differs(b) && version_compare(b, v) != Ordering::Less),
            ),
            _ => (true, best.filter(differs)),
        }
    } else {
        (false, best)
    };
    Status {
        installed,
        version_installed,
        installable,
        has_files: info.has_files(),
    }
}

/// The command line as Ansible writes it (shown in messages), and the same
/// words quoted for the host's shell. Ansible splits its line with
/// `shlex.split`; so does herd, then quotes every word.
fn runnable(line: &str) -> Result<String, String> {
    let words = shlex_split(line).map_err(|e| format!("{line}: {e}"))?;
    Ok(words
        .iter()
        .map(|w| shell_quote(w))
        .collect::<Vec<_>>()
        .join(" "))
}

/// Ansible's `parse_diff`: the lines between apt's "Reading state
/// information..." and its "N upgraded" line.
pub fn parse_diff(out: &str) -> Value {
    let lines: Vec<&str> = out.lines().collect();
    let start = lines
        .iter()
        .position(|l| *l == "Resolving dependencies...")
        .or_else(|| {
            lines
                .iter()
                .position(|l| *l == "Reading state information...")
        })
        .map(|i| i + 1)
        .unwrap_or(0);
    let upgraded = |l: &str| {
        let digits = l.bytes().take_while(|c| c.is_ascii_digit()).count();
        digits > 0 && {
            let rest = &l[digits..];
            rest.starts_with(" upgraded") || rest.starts_with(" packages upgraded")
        }
    };
    let end = lines
        .iter()
        .position(|l| upgraded(l))
        .map(|i| i + 1)
        .unwrap_or(lines.len());
    let text = if start <= end && end <= lines.len() {
        lines[start..end].join("\n")
    } else {
        String::new()
    };
    json!({ "prepared": text })
}

/// Everything read from the arguments.
struct Opts {
    state: String,
    packages: Vec<String>,
    purge: bool,
    force: bool,
    autoremove: bool,
    autoclean: bool,
    fail_on_autoremove: bool,
    only_upgrade: bool,
    install_recommends: Option<bool>,
    allow_unauthenticated: bool,
    allow_downgrade: bool,
    allow_change_held_packages: bool,
    default_release: Option<String>,
    dpkg_options_raw: String,
    /// Expanded, with the lock timeout.
    dpkg_options: String,
    lock_timeout: i64,
    policy_rc_d: Option<i64>,
}

/// The host's facts the run needs.
struct Probe {
    apt_get: String,
    aptitude: Option<String>,
    cache_time: i64,
    now: i64,
    /// The packages' state, asked in the same round trip when their names
    /// are known up front (no wildcards); dropped after a cache update.
    prefetched: Option<Vec<(String, PackageInfo)>>,
}

fn probe_script() -> &'static str {
    "command -v apt-get || echo; command -v aptitude || echo; \
     if [ -e /var/lib/apt/periodic/update-success-stamp ]; then stat -c %Y /var/lib/apt/periodic/update-success-stamp; \
     elif [ -e /var/lib/apt/lists ]; then stat -c %Y /var/lib/apt/lists; else echo 0; fi; date +%s"
}

fn parse_probe(out: &str) -> Probe {
    let mut l = out.lines();
    let apt_get = l.next().unwrap_or("").trim().to_string();
    let aptitude = l.next().unwrap_or("").trim().to_string();
    let num = |s: Option<&str>| s.and_then(|s| s.trim().parse().ok()).unwrap_or(0);
    let cache_time = num(l.next());
    let now = num(l.next());
    Probe {
        apt_get,
        aptitude: (!aptitude.is_empty()).then_some(aptitude),
        cache_time,
        now,
        prefetched: None,
    }
}

/// The script that asks dpkg and apt about `names`.
fn query_script(names: &[String], default_release: Option<&str>) -> String {
    let release = default_release
        .map(|r| format!(" -o APT::Default-Release={}", shell_quote(r)))
        .unwrap_or_default();
    let mut s = String::new();
    for n in names {
        let q = shell_quote(n);
        s.push_str(&format!(
            "printf '==pkg %s\\n' {q}; dpkg-query -W -f='${{db:Status-Abbrev}}|${{Version}}\\n' {q} 2>/dev/null; \
             echo ==policy; apt-cache{release} policy {q} 2>/dev/null; echo ==auto; apt-mark showauto {q} 2>/dev/null;\n"
        ));
    }
    s
}

async fn run_apt(host: &dyn Host, line: &str) -> Result<Result<ExecResult, String>, HostError> {
    let cmd = match runnable(line) {
        Ok(c) => c,
        Err(e) => return Ok(Err(e)),
    };
    Ok(Ok(host.exec(&cmd, &apt_env()).await?))
}

/// Runs `line` with /usr/sbin/policy-rc.d set to exit with `code` for
/// the duration, as Ansible's PolicyRcD does, restoring what was there.
async fn run_with_policy(
    host: &dyn Host,
    line: &str,
    policy: Option<i64>,
) -> Result<Result<ExecResult, String>, HostError> {
    let Some(code) = policy else {
        return run_apt(host, line).await;
    };
    let cmd = match runnable(line) {
        Ok(c) => c,
        Err(e) => return Ok(Err(e)),
    };
    let p = "/usr/sbin/policy-rc.d";
    let script = format!(
        "b=; if [ -e {p} ]; then b=$(mktemp -d) && mv {p} \"$b/\" || exit 97; fi; \
         printf '#!/bin/sh\\nexit %d\\n' {code} > {p} && chmod 755 {p} || exit 98; \
         {cmd}; rc=$?; if [ -n \"$b\" ]; then mv \"$b/policy-rc.d\" {p}; rmdir \"$b\"; else rm -f {p}; fi; exit $rc"
    );
    let r = host.exec(&script, &apt_env()).await?;
    Ok(match r.rc {
        97 => Err(format!("Fail to move {p} to a backup directory")),
        98 => Err(format!("Failed to create or chmod {p}")),
        _ => Ok(r),
    })
}

fn str_of(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn fail_with_output(msg: String, r: &ExecResult) -> Outcome {
    let mut o = Outcome::failed(msg)
        .with("stdout", str_of(&r.stdout))
        .with("stderr", str_of(&r.stderr));
    o.values.insert("rc".into(), r.rc.into());
    o
}

fn diff_or_empty(ctx: &ModuleContext<'_>, out: &str) -> Value {
    if ctx.diff {
        parse_diff(out)
    } else {
        Value::Object(Map::new())
    }
}

#[async_trait]
impl Module for Apt {
    fn name(&self) -> &'static str {
        "apt"
    }

    fn spec(&self) -> Option<&'static Spec> {
        Some(&SPEC)
    }

    async fn run(&self, ctx: &ModuleContext<'_>) -> Result<Outcome, HostError> {
        let a = match SPEC.parse(ctx).await? {
            Ok(a) => a,
            Err(o) => return Ok(o),
        };
        let upgrade = match a.raw("upgrade") {
            None => "no".to_string(),
            Some(Value::String(s)) => match parse_bool(&Value::String(s.clone())) {
                Some(b) if !["dist", "full", "safe"].contains(&s.as_str()) => {
                    if b { "yes" } else { "no" }.to_string()
                }
                _ => s.clone(),
            },
            Some(Value::Bool(b)) => if *b { "yes" } else { "no" }.to_string(),
            Some(other) => other.to_string(),
        };
        if !["dist", "full", "no", "safe", "yes"].contains(&upgrade.as_str()) {
            return Ok(Outcome::failed(format!(
                "value of upgrade must be one of: dist, full, no, safe, yes, got: {upgrade}"
            )));
        }
        let lock_timeout = a.int("lock_timeout").unwrap_or(60);
        let dpkg_options_raw = a.str_or("dpkg_options", DPKG_OPTIONS);
        let o = Opts {
            state: a.str_or("state", "present"),
            packages: a.list("package").unwrap_or_default(),
            purge: a.bool_or("purge", false),
            force: a.bool_or("force", false),
            autoremove: a.bool_or("autoremove", false),
            autoclean: a.bool_or("autoclean", false),
            fail_on_autoremove: a.bool_or("fail_on_autoremove", false),
            only_upgrade: a.bool_or("only_upgrade", false),
            install_recommends: a.bool("install_recommends"),
            allow_unauthenticated: a.bool_or("allow_unauthenticated", false),
            allow_downgrade: a.bool_or("allow_downgrade", false),
            allow_change_held_packages: a.bool_or("allow_change_held_packages", false),
            default_release: a.str("default_release"),
            dpkg_options: format!(
                "{} -o DPkg::Lock::Timeout={lock_timeout}",
                expand_dpkg_options(&dpkg_options_raw)
            ),
            dpkg_options_raw,
            lock_timeout,
            policy_rc_d: a.int("policy_rc_d"),
        };
        run(ctx, &a, &o, &upgrade).await
    }
}

async fn run(
    ctx: &ModuleContext<'_>,
    a: &Args,
    o: &Opts,
    upgrade_mode: &str,
) -> Result<Outcome, HostError> {
    let host = ctx.host;
    // When the names are known up front, their state is asked with the
    // probe: one round trip when nothing has to change.
    let wildcard = |p: &String| p == "*" || package_split(p).0.contains(['*', '?', '[', ']', '!']);
    let prefetch: Option<Vec<String>> = (a.str("deb").is_none()
        && upgrade_mode == "no"
        && o.state != "build-dep"
        && !o.packages.is_empty()
        && !o.packages.iter().any(wildcard))
    .then(|| {
        o.packages
            .iter()
            .map(|p| package_split(p.trim()).0)
            .collect()
    });
    let mut script = probe_script().to_string();
    if let Some(names) = &prefetch {
        let release = if o.state == "absent" {
            None
        } else {
            o.default_release.as_deref()
        };
        script.push_str("\necho ==query\n");
        script.push_str(&query_script(names, release));
    }
    let first = host.exec(&script, &apt_env()).await?.stdout_text();
    let (probe_text, query_text) = match first.split_once("\n==query\n") {
        Some((p, q)) => (p.to_string(), Some(q.to_string())),
        None => (first.clone(), None),
    };
    let mut probe = parse_probe(&probe_text);
    probe.prefetched = query_text.map(|q| parse_query(&q));
    if probe.apt_get.is_empty() {
        return Ok(Outcome::failed(
            "Failed to find required executable \"apt-get\" in paths: /usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        ));
    }
    let deb = a.str("deb");
    if a.bool_or("clean", false) {
        let r = host.exec("apt-get clean", &apt_env()).await?;
        if r.rc != 0 {
            return Ok(Outcome::failed("apt-get clean failed")
                .with("stdout", r.stdout_text())
                .with("rc", r.rc));
        }
        if !r.stderr.is_empty() {
            return Ok(
                Outcome::failed(format!("apt-get clean failed: {}", r.stderr_text()))
                    .with("stdout", r.stdout_text())
                    .with("rc", r.rc),
            );
        }
        if o.packages.is_empty() && upgrade_mode == "no" && deb.is_none() {
            let out = r.stdout_text();
            let mut res = Outcome::changed()
                .with("msg", out.clone())
                .with("stdout", out.clone())
                .with("stderr", r.stderr_text());
            res.msg = Some(out.clone());
            res.values.insert("diff".into(), diff_or_empty(ctx, &out));
            return Ok(res);
        }
    }
    let use_apt_get = a.bool_or("force_apt_get", false) || probe.aptitude.is_none();

    // The cache.
    let mut updated_cache = false;
    let mut cache_time = probe.cache_time;
    let valid = a.int("cache_valid_time").unwrap_or(0);
    if a.bool_or("update_cache", false) || valid != 0 {
        if cache_time + valid < probe.now {
            let retries = a.int("update_cache_retries").unwrap_or(5).max(0);
            let max_delay = a.int("update_cache_retry_max_delay").unwrap_or(12) as f64;
            let mut warnings = Vec::new();
            let mut ok = ctx.check_mode;
            let mut err = String::new();
            if !ctx.check_mode {
                for retry in 0..retries {
                    let r = host.exec("apt-get update -q", &apt_env()).await?;
                    if r.rc == 0 {
                        ok = true;
                        break;
                    }
                    err = r.stderr_text().trim().to_string();
                    warnings.push(format!(
                        "Failed to update cache after {} retries due to {err}, retrying",
                        retry + 1
                    ));
                    let jitter = (probe.now % 1000) as f64 / 1000.0;
                    let mut delay = 2f64.powi(retry as i32) + jitter;
                    if delay > max_delay {
                        delay = max_delay + jitter;
                    }
                    host.exec(&format!("sleep {delay:.3}"), &ExecOptions::default())
                        .await?;
                    warnings.push(format!(
                        "Sleeping for {} seconds, before attempting to refresh the cache again",
                        delay.round() as i64
                    ));
                }
            }
            if !ok {
                let mut f = Outcome::failed(format!(
                    "Failed to update apt cache after {retries} retries: {}",
                    if err.is_empty() {
                        "unknown reason"
                    } else {
                        &err
                    }
                ));
                f.warnings = warnings;
                return Ok(f);
            }
            let after = parse_probe(
                &host
                    .exec(probe_script(), &ExecOptions::default())
                    .await?
                    .stdout_text(),
            );
            if ctx.check_mode || after.cache_time != cache_time {
                updated_cache = true;
            }
            if !ctx.check_mode {
                probe.prefetched = None;
            }
            cache_time = after.cache_time;
        }
        if o.packages.is_empty() && upgrade_mode == "no" && deb.is_none() {
            let mut res = Outcome::ok()
                .with("cache_updated", updated_cache)
                .with("cache_update_time", cache_time);
            res.changed = updated_cache;
            return Ok(res);
        }
    }
    let cache_keys = |mut res: Outcome| {
        res.values
            .insert("cache_updated".into(), updated_cache.into());
        res.values
            .insert("cache_update_time".into(), cache_time.into());
        res
    };

    if upgrade_mode != "no" {
        return upgrade(ctx, o, &probe, upgrade_mode, use_apt_get).await;
    }
    if let Some(deb) = deb {
        if o.state != "present" {
            return Ok(Outcome::failed("deb only supports state=present"));
        }
        return install_deb(ctx, o, &probe, &deb).await;
    }
    let all_installed = o.packages.iter().any(|p| p == "*");
    let packages: Vec<String> = o
        .packages
        .iter()
        .filter(|p| *p != "*")
        .map(|p| p.trim().to_string())
        .collect();
    if o.state == "latest" && all_installed {
        if !packages.is_empty() {
            return Ok(Outcome::failed(
                "unable to install additional packages when upgrading all installed packages",
            ));
        }
        return upgrade(ctx, o, &probe, "yes", use_apt_get).await;
    }
    for p in &packages {
        if p.matches('=').count() > 1 {
            return Ok(Outcome::failed(format!("invalid package spec: {p}")));
        }
    }
    if packages.is_empty() {
        if o.autoclean {
            return cleanup(ctx, o, &probe, "autoclean").await;
        }
        if o.autoremove {
            return cleanup(ctx, o, &probe, "autoremove").await;
        }
    }
    let packages = match expand_wildcards(host, &packages).await? {
        Ok(p) => p,
        Err(msg) => return Ok(Outcome::failed(msg)),
    };
    if o.state == "absent" {
        return remove(ctx, o, &probe, &packages).await;
    }
    let res = install(ctx, o, &probe, &packages).await?;
    Ok(if res.failed { res } else { cache_keys(res) })
}

/// Ansible's `expand_pkgspec_from_fnmatches`: a name with `*?[]!` is
/// matched against every package name apt knows (native ones only,
/// unless the pattern names an architecture).
async fn expand_wildcards(
    host: &dyn Host,
    specs: &[String],
) -> Result<Result<Vec<String>, String>, HostError> {
    if !specs
        .iter()
        .any(|s| package_split(s).0.contains(['*', '?', '[', ']', '!']))
    {
        return Ok(Ok(specs.to_vec()));
    }
    let r = host
        .exec("apt-cache pkgnames 2>/dev/null | sort", &apt_env())
        .await?;
    let all = r.stdout_text();
    let mut out = Vec::new();
    for spec in specs {
        let (name, _, _) = package_split(spec);
        if !name.contains(['*', '?', '[', ']', '!']) {
            out.push(spec.clone());
            continue;
        }
        let matches: Vec<&str> = all
            .lines()
            .filter(|n| name.contains(':') || !n.contains(':'))
            .filter(|n| fnmatch(n, &name))
            .collect();
        if matches.is_empty() {
            return Ok(Err(format!("No package(s) matching '{name}' available")));
        }
        out.extend(matches.into_iter().map(str::to_string));
    }
    Ok(Ok(out))
}

/// Queries the packages; for a name apt knows only as a virtual package,
/// its providers decide (Ansible's `get_providing_packages`).
async fn query(
    host: &dyn Host,
    names: &[String],
    default_release: Option<&str>,
) -> Result<Vec<(String, PackageInfo)>, HostError> {
    if names.is_empty() {
        return Ok(Vec::new());
    }
    let r = host
        .exec(&query_script(names, default_release), &apt_env())
        .await?;
    Ok(parse_query(&r.stdout_text()))
}

/// The prefetched state, when it covers every name.
fn prefetched_for(probe: &Probe, names: &[String]) -> Option<Vec<(String, PackageInfo)>> {
    let p = probe.prefetched.as_ref()?;
    names
        .iter()
        .all(|n| p.iter().any(|(m, _)| m == n))
        .then(|| p.clone())
}

/// The providers of a virtual package, from `apt-cache showpkg`.
async fn providers(host: &dyn Host, name: &str) -> Result<Vec<String>, HostError> {
    let r = host
        .exec(
            &format!("apt-cache showpkg {} 2>/dev/null", shell_quote(name)),
            &apt_env(),
        )
        .await?;
    let text = r.stdout_text();
    let mut out = Vec::new();
    let mut inside = false;
    for line in text.lines() {
        if line.starts_with("Reverse Provides:") {
            inside = true;
            continue;
        }
        if inside {
            if let Some(p) = line.split_whitespace().next() {
                if !out.iter().any(|x| x == p) {
                    out.push(p.to_string());
                }
            }
        }
    }
    Ok(out)
}

/// The verdict for one install spec, or Ansible's failure message.
async fn install_status(
    host: &dyn Host,
    name: &str,
    cmp: Option<&str>,
    version: Option<&str>,
    info: &PackageInfo,
    default_release: Option<&str>,
) -> Result<Result<Status, String>, HostError> {
    let pure_virtual = info.known && info.versions.is_empty() && !info.installed();
    if !info.known || pure_virtual {
        let provs = if info.known {
            providers(host, name).await?
        } else {
            Vec::new()
        };
        if provs.is_empty() {
            return Ok(Err(format!("No package matching '{name}' is available")));
        }
        if provs.len() == 1 {
            let q = query(host, &provs, default_release).await?;
            if let Some((_, pinfo)) = q.first() {
                let s = package_status(pinfo, cmp, version);
                if s.installed {
                    return Ok(Ok(s));
                }
            }
        }
        return Ok(Ok(Status {
            installed: false,
            version_installed: false,
            installable: Some(String::new()),
            has_files: false,
        }));
    }
    Ok(Ok(package_status(info, cmp, version)))
}

async fn install(
    ctx: &ModuleContext<'_>,
    o: &Opts,
    probe: &Probe,
    specs: &[String],
) -> Result<Outcome, HostError> {
    let host = ctx.host;
    let build_dep = o.state == "build-dep";
    let upgrade = o.state == "latest";
    let fixed = o.state == "fixed";
    let mut pkg_list: Vec<String> = Vec::new();
    let mut names: Vec<String> = Vec::new();
    let parsed: Vec<(String, Option<&str>, Option<String>)> =
        specs.iter().map(|s| package_split(s)).collect();
    let infos = if build_dep {
        Vec::new()
    } else {
        let ns: Vec<String> = parsed.iter().map(|p| p.0.clone()).collect();
        match prefetched_for(probe, &ns) {
            Some(p) => p,
            None => query(host, &ns, o.default_release.as_deref()).await?,
        }
    };
    for (i, spec) in specs.iter().enumerate() {
        if build_dep {
            pkg_list.push(format!("'{spec}'"));
            continue;
        }
        let (name, cmp, version) = &parsed[i];
        names.push(name.clone());
        let info = infos
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, i)| i.clone())
            .unwrap_or_default();
        let st = match install_status(
            host,
            name,
            *cmp,
            version.as_deref(),
            &info,
            o.default_release.as_deref(),
        )
        .await?
        {
            Ok(s) => s,
            Err(msg) => return Ok(Outcome::failed(msg)),
        };
        if !st.installed && o.only_upgrade {
            continue;
        }
        if !st.version_installed && st.installable.is_none() {
            return Ok(Outcome::failed(format!(
                "no available installation candidate for {spec}"
            )));
        }
        match &st.installable {
            Some(v) if (!st.installed && !o.only_upgrade) || upgrade || !st.version_installed => {
                if !v.is_empty() {
                    pkg_list.push(format!("'{name}={v}'"));
                } else if let Some(ver) = version {
                    pkg_list.push(format!("'{name}={ver}'"));
                } else {
                    pkg_list.push(format!("'{name}'"));
                }
            }
            Some(_) if st.version_installed && *cmp == Some("=") => {
                pkg_list.push(format!("'{name}={}'", version.clone().unwrap_or_default()));
            }
            _ => {}
        }
    }
    let res = if pkg_list.is_empty() {
        Outcome::ok()
    } else {
        let opt = |b: bool, s: &'static str| if b { s } else { "" };
        let packages = pkg_list.join(" ");
        let mut cmd = if build_dep {
            format!(
                "{} -y {} {} {} {} {} {} build-dep {packages}",
                probe.apt_get,
                o.dpkg_options,
                opt(o.only_upgrade, "--only-upgrade"),
                opt(fixed, "--fix-broken"),
                opt(o.force, "--force-yes"),
                opt(o.fail_on_autoremove, "--no-remove"),
                opt(ctx.check_mode, "--simulate"),
            )
        } else {
            format!(
                "{} -y {} {} {} {} {} {} {} install {packages}",
                probe.apt_get,
                o.dpkg_options,
                opt(o.only_upgrade, "--only-upgrade"),
                opt(fixed, "--fix-broken"),
                opt(o.force, "--force-yes"),
                opt(o.autoremove, "--auto-remove"),
                opt(o.fail_on_autoremove, "--no-remove"),
                opt(ctx.check_mode, "--simulate"),
            )
        };
        if let Some(r) = &o.default_release {
            cmd.push_str(&format!(" -t '{r}'"));
        }
        match o.install_recommends {
            Some(false) => cmd.push_str(" -o APT::Install-Recommends=no"),
            Some(true) => cmd.push_str(" -o APT::Install-Recommends=yes"),
            None => {}
        }
        if o.allow_unauthenticated {
            cmd.push_str(" --allow-unauthenticated");
        }
        if o.allow_downgrade {
            cmd.push_str(" --allow-downgrades");
        }
        if o.allow_change_held_packages {
            cmd.push_str(" --allow-change-held-packages");
        }
        let r = match run_with_policy(host, &cmd, o.policy_rc_d).await? {
            Ok(r) => r,
            Err(msg) => return Ok(Outcome::failed(msg)),
        };
        let out = r.stdout_text();
        if r.rc != 0 {
            return Ok(fail_with_output(
                format!("'{cmd}' failed: {}", r.stderr_text()),
                &r,
            ));
        }
        let mut res = Outcome::changed()
            .with("stdout", out.clone())
            .with("stderr", r.stderr_text());
        if build_dep {
            res.changed = !out.contains(APT_GET_ZERO);
        }
        res.values.insert("diff".into(), diff_or_empty(ctx, &out));
        res
    };
    if !build_dep && !ctx.check_mode {
        // Ansible marks every named package as manually installed; only
        // those apt marks as automatic need it.
        let auto: Vec<&String> = names
            .iter()
            .filter(|n| infos.iter().any(|(m, i)| m == *n && i.auto))
            .collect();
        if !auto.is_empty() {
            let list = auto
                .iter()
                .map(|n| shell_quote(n))
                .collect::<Vec<_>>()
                .join(" ");
            let r = host
                .exec(&format!("apt-mark manual {list}"), &apt_env())
                .await?;
            if r.rc != 0 {
                let shown = auto
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(" ");
                return Ok(fail_with_output(
                    format!(
                        "'/usr/bin/apt-mark manual {shown}' failed: {}",
                        r.stderr_text()
                    ),
                    &r,
                ));
            }
        }
    }
    Ok(res)
}

async fn remove(
    ctx: &ModuleContext<'_>,
    o: &Opts,
    probe: &Probe,
    specs: &[String],
) -> Result<Outcome, HostError> {
    let names: Vec<String> = specs.iter().map(|s| package_split(s).0).collect();
    let infos = match prefetched_for(probe, &names) {
        Some(p) => p,
        None => query(ctx.host, &names, None).await?,
    };
    let mut pkg_list = Vec::new();
    for spec in specs {
        let (name, cmp, version) = package_split(spec);
        let Some((_, info)) = infos.iter().find(|(n, _)| *n == name) else {
            continue;
        };
        let st = package_status(info, cmp, version.as_deref());
        if st.version_installed || (st.has_files && o.purge) {
            pkg_list.push(format!("'{spec}'"));
        }
    }
    if pkg_list.is_empty() {
        return Ok(Outcome::ok());
    }
    let packages = pkg_list.join(" ");
    let opt = |b: bool, s: &'static str| if b { s } else { "" };
    let cmd = format!(
        "{} -q -y {} {} {} {} {} {} remove {packages}",
        probe.apt_get,
        o.dpkg_options,
        opt(o.purge, "--purge"),
        opt(o.force, "--force-yes"),
        opt(o.autoremove, "--auto-remove"),
        opt(ctx.check_mode, "--simulate"),
        opt(o.allow_change_held_packages, "--allow-change-held-packages"),
    );
    let r = match run_with_policy(ctx.host, &cmd, o.policy_rc_d).await? {
        Ok(r) => r,
        Err(msg) => return Ok(Outcome::failed(msg)),
    };
    let out = r.stdout_text();
    if r.rc != 0 {
        return Ok(fail_with_output(
            format!("'apt-get remove {packages}' failed: {}", r.stderr_text()),
            &r,
        ));
    }
    let mut res = Outcome::changed()
        .with("stdout", out.clone())
        .with("stderr", r.stderr_text());
    res.values.insert("diff".into(), diff_or_empty(ctx, &out));
    Ok(res)
}

async fn cleanup(
    ctx: &ModuleContext<'_>,
    o: &Opts,
    probe: &Probe,
    operation: &str,
) -> Result<Outcome, HostError> {
    let opt = |b: bool, s: &'static str| if b { s } else { "" };
    let cmd = format!(
        "{} -y {} {} {} {operation} {}",
        probe.apt_get,
        o.dpkg_options,
        opt(o.purge, "--purge"),
        opt(o.force, "--force-yes"),
        opt(ctx.check_mode, "--simulate"),
    );
    let r = match run_with_policy(ctx.host, &cmd, o.policy_rc_d).await? {
        Ok(r) => r,
        Err(msg) => return Ok(Outcome::failed(msg)),
    };
    let out = r.stdout_text();
    if r.rc != 0 {
        return Ok(fail_with_output(
            format!("'apt-get {operation}' failed: {}", r.stderr_text()),
            &r,
        ));
    }
    let marker = if operation == "autoremove" {
        "The following packages will be REMOVED"
    } else {
        "Del "
    };
    let mut res = Outcome::ok()
        .with("stdout", out.clone())
        .with("stderr", r.stderr_text());
    res.changed = out.contains(marker);
    res.values.insert("diff".into(), diff_or_empty(ctx, &out));
    Ok(res)
}

async fn upgrade(
    ctx: &ModuleContext<'_>,
    o: &Opts,
    probe: &Probe,
    mode: &str,
    use_apt_get: bool,
) -> Result<Outcome, HostError> {
    let opt = |b: bool, s: &'static str| if b { s } else { "" };
    let mut warnings = Vec::new();
    let (apt_cmd, upgrade_command, is_apt_get) =
        if mode == "dist" || (mode == "full" && use_apt_get) {
            (
                probe.apt_get.clone(),
                format!("dist-upgrade {}", opt(o.autoremove, "--auto-remove")),
                true,
            )
        } else if mode == "full" {
            (
                probe.aptitude.clone().unwrap_or_default(),
                "full-upgrade".to_string(),
                false,
            )
        } else if use_apt_get {
            (
                probe.apt_get.clone(),
                format!(
                    "upgrade --with-new-pkgs {}",
                    opt(o.autoremove, "--auto-remove")
                ),
                true,
            )
        } else {
            (
                probe.aptitude.clone().unwrap_or_default(),
                "safe-upgrade".to_string(),
                false,
            )
        };
    let force_yes = match (o.force, is_apt_get) {
        (false, _) => "",
        (true, true) => "--force-yes",
        (true, false) => "--assume-yes --allow-untrusted",
    };
    let no_remove = if o.fail_on_autoremove {
        if is_apt_get {
            "--no-remove"
        } else {
            warnings.push("APTITUDE does not support '--no-remove', ignoring the 'fail_on_autoremove' parameter.".to_string());
            ""
        }
    } else {
        ""
    };
    let downgrade = if o.allow_downgrade {
        if is_apt_get {
            "--allow-downgrades"
        } else {
            warnings.push("APTITUDE does not support '--allow-downgrades', ignoring the 'allow_downgrade' parameter.".to_string());
            ""
        }
    } else {
        ""
    };
    let mut cmd = format!(
        "{apt_cmd} -y {} {force_yes} {no_remove} {} {downgrade} {} {upgrade_command}",
        o.dpkg_options,
        opt(o.allow_unauthenticated, "--allow-unauthenticated"),
        opt(ctx.check_mode, "--simulate"),
    );
    if let Some(r) = &o.default_release {
        cmd.push_str(&format!(" -t '{r}'"));
    }
    let r = match run_with_policy(ctx.host, &cmd, o.policy_rc_d).await? {
        Ok(r) => r,
        Err(msg) => return Ok(Outcome::failed(msg)),
    };
    let out = r.stdout_text();
    if r.rc != 0 {
        let mut f = Outcome::failed(format!(
            "'{apt_cmd} {upgrade_command}' failed: {}",
            r.stderr_text()
        ))
        .with("stdout", out)
        .with("rc", r.rc);
        f.warnings = warnings;
        return Ok(f);
    }
    let zero = if is_apt_get {
        out.contains(APT_GET_ZERO)
    } else {
        out.contains(APTITUDE_ZERO)
    };
    let mut res = Outcome::ok()
        .with("stdout", out.clone())
        .with("stderr", r.stderr_text());
    res.msg = Some(out.clone());
    res.warnings = warnings;
    if !zero {
        res.changed = true;
        res.values.insert("diff".into(), diff_or_empty(ctx, &out));
    }
    Ok(res)
}

/// A field of a .deb, from `dpkg --field`.
async fn deb_field(
    host: &dyn Host,
    deb: &str,
    field: &str,
) -> Result<Result<String, Outcome>, HostError> {
    let r = host
        .exec(
            &format!("dpkg --field {} {field}", shell_quote(deb)),
            &apt_env(),
        )
        .await?;
    if r.rc != 0 {
        return Ok(Err(Outcome::failed(format!(
            "/usr/bin/dpkg --field {deb} {field} failed"
        ))
        .with("stdout", r.stdout_text())
        .with("stderr", r.stderr_text())));
    }
    Ok(Ok(r.stdout_text().trim_end_matches('\n').to_string()))
}

/// The first alternative of each group of a Depends field that nothing
/// installed satisfies, by name.
fn unmet_depends(depends: &str, installed: &[(String, PackageInfo)]) -> Vec<String> {
    let mut out = Vec::new();
    for group in depends.split(',').map(str::trim).filter(|g| !g.is_empty()) {
        let alts: Vec<String> = group
            .split('|')
            .map(|a| {
                let n = a.trim().split([' ', '(']).next().unwrap_or("");
                n.split(':').next().unwrap_or("").to_string()
            })
            .collect();
        let met = alts
            .iter()
            .any(|n| installed.iter().any(|(m, i)| m == n && i.installed()));
        if !met {
            if let Some(first) = alts.first() {
                out.push(first.clone());
            }
        }
    }
    out
}

async fn install_deb(
    ctx: &ModuleContext<'_>,
    o: &Opts,
    probe: &Probe,
    debs: &str,
) -> Result<Outcome, HostError> {
    let host = ctx.host;
    let mut downloaded = Vec::new();
    let res = install_deb_files(ctx, o, probe, debs, &mut downloaded).await;
    for d in downloaded {
        host.exec(
            &format!("rm -rf {}", shell_quote(&d)),
            &ExecOptions::default(),
        )
        .await?;
    }
    res
}

async fn install_deb_files(
    ctx: &ModuleContext<'_>,
    o: &Opts,
    probe: &Probe,
    debs: &str,
    downloaded: &mut Vec<String>,
) -> Result<Outcome, HostError> {
    let host = ctx.host;
    let mut files = Vec::new();
    for d in debs.split(',') {
        if d.contains("://") {
            let name = d.rsplit('/').next().unwrap_or("package.deb");
            let name = if name.is_empty() { "package.deb" } else { name };
            let r = host
                .exec(
                    &format!(
                        "d=$(mktemp -d) || exit 1; f=\"$d\"/{}; echo \"$d\"; \
                         if command -v curl >/dev/null 2>&1; then curl -fsSL -o \"$f\" {u}; \
                         else wget -q -O \"$f\" {u}; fi",
                        shell_quote(name),
                        u = shell_quote(d)
                    ),
                    &ExecOptions::default(),
                )
                .await?;
            let dir = r.stdout_text().lines().next().unwrap_or("").to_string();
            if !dir.is_empty() {
                downloaded.push(dir.clone());
            }
            if r.rc != 0 {
                return Ok(Outcome::failed(format!(
                    "Failure downloading {d}, {}",
                    r.stderr_text().trim()
                )));
            }
            files.push(format!("{dir}/{name}"));
        } else {
            files.push(d.to_string());
        }
    }
    let mut deps = Vec::new();
    let mut to_install = Vec::new();
    for f in &files {
        if host.stat(f, true).await?.is_none() {
            return Ok(Outcome::failed(format!(
                "Unable to install package: E:Could not open file {f} - open (2: No such file or directory)"
            )));
        }
        let mut fields = Vec::new();
        for field in ["Package", "Version", "Depends"] {
            match deb_field(host, f, field).await? {
                Ok(v) => fields.push(v),
                Err(o) => return Ok(o),
            }
        }
        let (name, version, depends) = (&fields[0], &fields[1], &fields[2]);
        let dep_names: Vec<String> = std::iter::once(name.clone())
            .chain(
                depends
                    .split([',', '|'])
                    .map(|a| {
                        a.trim()
                            .split([' ', '(', ':'])
                            .next()
                            .unwrap_or("")
                            .to_string()
                    })
                    .filter(|n| !n.is_empty()),
            )
            .collect();
        let infos = query(host, &dep_names, None).await?;
        let installed = infos
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, i)| i.clone())
            .unwrap_or_default();
        if installed.installed() {
            match version_compare(version, &installed.dpkg_version) {
                Ordering::Equal => continue,
                Ordering::Less if !o.force && !o.allow_downgrade => {
                    return Ok(Outcome::failed("A later version is already installed"));
                }
                _ => {}
            }
        }
        for d in unmet_depends(depends, &infos) {
            if !deps.contains(&d) {
                deps.push(d);
            }
        }
        if o.install_recommends == Some(true) {
            match deb_field(host, f, "Recommends").await? {
                Ok(v) => deps.extend(v.split_whitespace().map(str::to_string)),
                Err(o) => return Ok(o),
            }
        }
        to_install.push(f.clone());
    }
    let mut changed = false;
    let mut stdout = String::new();
    let mut stderr = String::new();
    let mut diff: Option<Value> = None;
    if !deps.is_empty() {
        let dep_opts = Opts {
            state: "present".into(),
            packages: deps.clone(),
            dpkg_options: format!(
                "{} -o DPkg::Lock::Timeout={}",
                expand_dpkg_options(&o.dpkg_options_raw),
                o.lock_timeout
            ),
            only_upgrade: false,
            autoremove: false,
            force: false,
            default_release: None,
            ..clone_opts(o)
        };
        let r = install(ctx, &dep_opts, probe, &deps).await?;
        if r.failed {
            return Ok(r);
        }
        changed = r.changed;
        stdout = r
            .values
            .get("stdout")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        stderr = r
            .values
            .get("stderr")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        diff = r.values.get("diff").cloned();
    }
    if to_install.is_empty() {
        let mut res = Outcome::ok()
            .with("stdout", stdout)
            .with("stderr", stderr)
            .with("diff", diff.unwrap_or_else(|| Value::String(String::new())));
        res.changed = changed;
        return Ok(res);
    }
    let mut options = o
        .dpkg_options_raw
        .split(',')
        .map(|x| format!("--{x}"))
        .collect::<Vec<_>>()
        .join(" ");
    if ctx.check_mode {
        options.push_str(" --simulate");
    }
    if o.force {
        options.push_str(" --force-all");
    }
    let cmd = format!("dpkg {options} -i {}", to_install.join(" "));
    let r = match run_with_policy(host, &cmd, o.policy_rc_d).await? {
        Ok(r) => r,
        Err(msg) => return Ok(Outcome::failed(msg)),
    };
    let out = r.stdout_text();
    stdout.push_str(&out);
    stderr.push_str(&r.stderr_text());
    let diff = match diff {
        Some(Value::Object(mut d)) if d.contains_key("prepared") => {
            let p = d
                .get("prepared")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            d.insert("prepared".into(), Value::String(format!("{p}\n\n{out}")));
            Value::Object(d)
        }
        Some(d) => d,
        None => parse_diff(&out),
    };
    if r.rc != 0 {
        return Ok(Outcome::failed(format!("{cmd} failed"))
            .with("stdout", stdout)
            .with("stderr", stderr));
    }
    Ok(Outcome::changed()
        .with("stdout", stdout)
        .with("stderr", stderr)
        .with("diff", diff))
}

fn clone_opts(o: &Opts) -> Opts {
    Opts {
        state: o.state.clone(),
        packages: o.packages.clone(),
        purge: o.purge,
        force: o.force,
        autoremove: o.autoremove,
        autoclean: o.autoclean,
        fail_on_autoremove: o.fail_on_autoremove,
        only_upgrade: o.only_upgrade,
        install_recommends: o.install_recommends,
        allow_unauthenticated: o.allow_unauthenticated,
        allow_downgrade: o.allow_downgrade,
        allow_change_held_packages: o.allow_change_held_packages,
        default_release: o.default_release.clone(),
        dpkg_options_raw: o.dpkg_options_raw.clone(),
        dpkg_options: o.dpkg_options.clone(),
        lock_timeout: o.lock_timeout,
        policy_rc_d: o.policy_rc_d,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_compare_as_dpkg_does() {
        use Ordering::*;
        for (a, b, want) in [
            ("1.0", "1.0", Equal),
            ("1.0", "1.1", Less),
            ("1.10", "1.9", Greater),
            ("1.0~rc1", "1.0", Less),
            ("1:0.1", "2.0", Greater),
            ("2.10-3", "2.10-3+b1", Less),
            ("2.10-3", "2.10-10", Less),
            ("1.0a", "1.0", Greater),
            ("1.0a", "1.0+", Less),
            ("1.01", "1.1", Equal),
        ] {
            assert_eq!(version_compare(a, b), want, "{a} vs {b}");
        }
    }

    #[test]
    fn specs_split_as_ansible() {
        assert_eq!(package_split("foo"), ("foo".into(), None, None));
        assert_eq!(
            package_split("foo=1.*"),
            ("foo".into(), Some("="), Some("1.*".into()))
        );
        assert_eq!(
            package_split("foo>=2"),
            ("foo".into(), Some(">="), Some("2".into()))
        );
    }

    fn info(status: &str, version: &str, candidate: &str, versions: &[&str]) -> PackageInfo {
        PackageInfo {
            dpkg_status: (!status.is_empty()).then(|| status.to_string()),
            dpkg_version: version.into(),
            known: true,
            candidate: (!candidate.is_empty()).then(|| candidate.to_string()),
            versions: versions.iter().map(|s| s.to_string()).collect(),
            auto: false,
        }
    }

    #[test]
    fn status_follows_ansible() {
        let absent = info("", "", "2.10-3", &["2.10-3"]);
        let s = package_status(&absent, None, None);
        assert!(!s.installed && !s.version_installed);
        assert_eq!(s.installable.as_deref(), Some("2.10-3"));
        let present = info("ii ", "2.10-3", "2.10-3", &["2.10-3"]);
        let s = package_status(&present, None, None);
        assert!(s.installed && s.version_installed && s.installable.is_none());
        let old = info("ii ", "2.9-1", "2.10-3", &["2.10-3", "2.9-1"]);
        let s = package_status(&old, None, None);
        assert_eq!(s.installable.as_deref(), Some("2.10-3"));
        let s = package_status(&old, Some("="), Some("2.9*"));
        assert!(s.version_installed && s.installable.is_none());
        let s = package_status(&old, Some("="), Some("2.10*"));
        assert!(!s.version_installed);
        assert_eq!(s.installable.as_deref(), Some("2.10-3"));
        let s = package_status(&old, Some(">="), Some("2.10"));
        assert!(!s.version_installed);
        let conf = info("rc ", "2.10-3", "2.10-3", &["2.10-3"]);
        let s = package_status(&conf, None, None);
        assert!(!s.installed && s.has_files);
    }

    #[test]
    fn policy_output_is_read() {
        let out = "==pkg hello\nii |2.10-3\n==policy\nhello:\n  Installed: 2.10-3\n  Candidate: 2.10-3\n  Version table:\n *** 2.10-3 500\n        500 http://deb.debian.org/debian bookworm/main amd64 Packages\n        100 /var/lib/dpkg/status\n     2.9-1 100\n        100 /x\n==auto\n==pkg nope\n==policy\n==auto\n";
        let q = parse_query(out);
        assert_eq!(q.len(), 2);
        assert!(q[0].1.installed());
        assert_eq!(q[0].1.versions, vec!["2.10-3", "2.9-1"]);
        assert_eq!(q[0].1.candidate.as_deref(), Some("2.10-3"));
        assert!(!q[1].1.known);
    }

    #[test]
    fn diff_is_the_summary() {
        let out = "Reading package lists...\nBuilding dependency tree...\nReading state information...\nThe following NEW packages will be installed:\n  hello\n0 upgraded, 1 newly installed, 0 to remove and 131 not upgraded.\nInst hello\n";
        assert_eq!(
            parse_diff(out),
            json!({"prepared": "The following NEW packages will be installed:\n  hello\n0 upgraded, 1 newly installed, 0 to remove and 131 not upgraded."})
        );
        assert_eq!(
            expand_dpkg_options("force-confdef,force-confold"),
            "-o \"Dpkg::Options::=--force-confdef\" -o \"Dpkg::Options::=--force-confold\""
        );
    }
}
