//! dnf — install, upgrade and remove packages with dnf (also called as
//! `yum`, which ansible-core 2.19 routes to dnf).
//!
//! herd drives the dnf command on the host instead of its Python API.
//! One round trip asks rpm what each name already matches (`rpm -q`, then
//! `rpm -q --whatprovides` for provides and file paths) and whether the
//! task runs as root. Then:
//!   present/installed  names rpm finds are left alone; the others go to
//!                      `dnf install --assumeno`, whose transaction table
//!                      says what would change; if anything would, the
//!                      same command runs with `-y`.
//!   latest             missing names as above; installed ones through
//!                      `dnf upgrade --assumeno` then `-y`; `name: '*'`
//!                      upgrades everything.
//!   absent/removed     installed names through `dnf remove`; the others
//!                      are reported as "no package matched: NAME".
//! Groups (`@name`) and modules always go to dnf, which decides.
//! `changed` is whether dnf's transaction had any package in it; check
//! mode stops after the `--assumeno` runs.
//!
//! Results are Ansible's: `results` ("Installed: NEVRA", "Removed: NEVRA"
//! — an upgrade removes the old version), `msg` ("Nothing to do", "Check
//! mode: No changes made, but would have if not in check mode", "Cache
//! updated", ""), `rc`, `changed`; a name no repository has fails with
//! "Failed to install some of the specified packages" and `failures`
//! ["No package NAME available."].
//!
//! Not done as Ansible does: `list` (refused with a message),
//! `allow_downgrade` (a name whose newer version is installed is left
//! alone), `lock_timeout` (dnf's own lock wait applies).
//!
//! Tested: the commands it generates and its results, from recorded
//! outputs of rpm, dnf 4 and dnf 5 (tests/fixtures/packaging/dnf-*),
//! covering absent, present, drift, latest, check mode and bad arguments
//! (tests/module_dnf.rs); no host here has dnf.
//!
//! Arguments:
//!   name (pkg)            package specs, groups (@name), `*` with latest
//!   state                 present, installed, latest, absent, removed
//!   update_cache (expire-cache)  refresh metadata first (`--refresh`);
//!                         alone: `dnf makecache`
//!   enablerepo, disablerepo, exclude   lists, as dnf's options
//!   disable_gpg_check     --nogpgcheck
//!   autoremove            remove unneeded dependencies too
//!   security, bugfix      with latest: only such updates
//!   install_weak_deps     (default yes)
//!   download_only, download_dir
//!   conf_file, installroot, releasever
//!   allowerasing, nobest, best, skip_broken, cacheonly,
//!   disable_excludes, disable_plugin, enable_plugin, sslverify,
//!   validate_certs, update_only, use_backend, install_repoquery
//!
//! Returns: msg, results, rc, changed; failures on failure.

use async_trait::async_trait;
use serde_json::json;

use crate::api::{shell_quote, ExecOptions, HostError, Module, ModuleContext, Outcome};
use crate::args::{Args, Param, Spec};

pub struct Dnf;

static SPEC: Spec = Spec {
    module: "dnf",
    params: &[
        Param::bool("allow_downgrade").default("no"),
        Param::bool("allowerasing").default("no"),
        Param::bool("autoremove").default("no"),
        Param::bool("best"),
        Param::bool("bugfix").default("no"),
        Param::bool("cacheonly").default("no"),
        Param::str("conf_file"),
        Param::str("disable_excludes"),
        Param::bool("disable_gpg_check").default("no"),
        Param::list("disable_plugin"),
        Param::list("disablerepo"),
        Param::bool("download_only").default("no"),
        Param::str("download_dir"),
        Param::list("enable_plugin"),
        Param::list("enablerepo"),
        Param::list("exclude"),
        Param::str("installroot").default("/"),
        Param::bool("install_repoquery").default("yes"),
        Param::bool("install_weak_deps").default("yes"),
        Param::str("list"),
        Param::int("lock_timeout").default("30"),
        Param::list("name").aliases(&["pkg"]),
        Param::bool("nobest"),
        Param::str("releasever"),
        Param::bool("security").default("no"),
        Param::bool("skip_broken").default("no"),
        Param::str("state").choices(&["absent", "installed", "latest", "present", "removed"]),
        Param::bool("sslverify").default("yes"),
        Param::bool("update_cache")
            .default("no")
            .aliases(&["expire-cache"]),
        Param::bool("update_only").default("no"),
        Param::str("use_backend")
            .default("auto")
            .choices(&["auto", "dnf", "yum", "yum4", "dnf4", "dnf5"]),
        Param::bool("validate_certs").default("yes"),
    ],
    mutually_exclusive: &[&["name", "list"], &["best", "nobest"]],
    // Ansible lists name/list/update_cache as required_one_of, but `name`
    // defaults to [] so the check never fires: without names there is
    // nothing to do.
    required_one_of: &[],
};

/// What the module will do, from its arguments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Goal {
    Present,
    Latest,
    Absent,
}

/// The validated task.
#[derive(Clone, Debug)]
pub struct Task {
    pub names: Vec<String>,
    pub goal: Goal,
    pub update_cache: bool,
    pub autoremove: bool,
    pub update_only: bool,
    /// dnf options every command gets, already quoted.
    pub options: Vec<String>,
    /// Options only an upgrade gets (`--security`, `--bugfix`).
    pub upgrade_options: Vec<String>,
    pub download_only: bool,
}

/// Turns the arguments into a task, or Ansible's message for bad ones.
pub fn task(a: &Args) -> Result<Task, Box<Outcome>> {
    let with_results = |msg: &str| Box::new(Outcome::failed(msg).with("results", json!([])));
    if a.has("list") {
        return Err(with_results("herd's dnf does not implement list; query with `rpm -q` or `dnf list` through the command module"));
    }
    let split = |n: &str| -> Vec<String> {
        a.list(n)
            .unwrap_or_default()
            .iter()
            .flat_map(|s| s.split(','))
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect()
    };
    let names = split("name");
    for n in &names {
        if n.contains(' ') && !["@", ">", "<", "="].iter().any(|c| n.contains(c)) {
            return Err(Box::new(Outcome::failed("It appears that a space separated string of packages was passed in as an argument. To operate on several packages, pass a comma separated string of packages or a list of packages.")));
        }
    }
    let autoremove = a.bool_or("autoremove", false);
    let goal = match a.str("state").as_deref() {
        None if autoremove => Goal::Absent,
        None | Some("present" | "installed") => Goal::Present,
        Some("latest") => Goal::Latest,
        _ => Goal::Absent,
    };
    if autoremove && goal != Goal::Absent {
        return Err(with_results(
            "Autoremove should be used alone or with state=absent",
        ));
    }
    let mut o = Vec::new();
    let mut opt = |s: String| o.push(shell_quote(&s));
    if let Some(c) = a.str("conf_file") {
        opt(format!("--config={c}"));
    }
    let root = a.str_or("installroot", "/");
    if root != "/" {
        opt(format!("--installroot={root}"));
    }
    if let Some(r) = a.str("releasever") {
        opt(format!("--releasever={r}"));
    }
    for r in split("disablerepo") {
        opt(format!("--disablerepo={r}"));
    }
    for r in split("enablerepo") {
        opt(format!("--enablerepo={r}"));
    }
    for p in split("disable_plugin") {
        opt(format!("--disableplugin={p}"));
    }
    for p in split("enable_plugin") {
        opt(format!("--enableplugin={p}"));
    }
    for e in split("exclude") {
        opt(format!("--exclude={e}"));
    }
    if let Some(d) = a.str("disable_excludes") {
        opt(format!("--disableexcludes={d}"));
    }
    let flags = [
        ("disable_gpg_check", false, "--nogpgcheck"),
        ("allowerasing", false, "--allowerasing"),
        ("skip_broken", false, "--skip-broken"),
        ("cacheonly", false, "--cacheonly"),
        (
            "install_weak_deps",
            true,
            "--setopt=install_weak_deps=False",
        ),
        ("sslverify", true, "--setopt=sslverify=False"),
    ];
    for (name, default, flag) in flags {
        let v = a.bool_or(name, default);
        // A flag is added when the value differs from dnf's default.
        if v != default {
            opt(flag.to_string());
        }
    }
    match (a.bool("nobest"), a.bool("best")) {
        (Some(true), _) | (None, Some(false)) => opt("--nobest".into()),
        (Some(false), _) | (None, Some(true)) => opt("--best".into()),
        (None, None) => {}
    }
    let download_only = a.bool_or("download_only", false);
    if download_only {
        opt("--downloadonly".into());
        if let Some(d) = a.str("download_dir") {
            opt(format!("--downloaddir={d}"));
        }
    }
    if autoremove {
        opt("--setopt=clean_requirements_on_remove=True".into());
    }
    let update_cache = a.bool_or("update_cache", false);
    if update_cache && !names.is_empty() {
        opt("--refresh".into());
    }
    let mut upgrade_options = Vec::new();
    if a.bool_or("security", false) {
        upgrade_options.push("--security".to_string());
    }
    if a.bool_or("bugfix", false) {
        upgrade_options.push("--bugfix".to_string());
    }
    Ok(Task {
        names,
        goal,
        update_cache,
        autoremove,
        update_only: a.bool_or("update_only", false),
        options: o,
        upgrade_options,
        download_only,
    })
}

const SEP: &str = "@@herd-dnf@@";

/// The format rpm prints installed packages in (name, version, release,
/// epoch, arch), as package_facts reads them.
use super::package_facts::RPM_QUERY_FORMAT;

/// One round trip: the user id, the dnf command, and what rpm finds
/// installed for each name.
pub fn probe_script(task: &Task) -> String {
    let mut s = format!(
        "id -u; echo {SEP}; command -v dnf || command -v dnf-3 || command -v yum || echo; "
    );
    for name in &task.names {
        let q = shell_quote(name);
        s.push_str(&format!(
            "echo {SEP}; rpm -q --qf '{RPM_QUERY_FORMAT}' {q} 2>/dev/null || rpm -q --whatprovides --qf '{RPM_QUERY_FORMAT}' {q} 2>/dev/null; "
        ));
    }
    s.push_str("true");
    s
}

/// One installed package, as rpm lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Installed {
    pub name: String,
    pub version: String,
    pub release: String,
    pub epoch: String,
    pub arch: String,
}

impl Installed {
    /// dnf's spelling: name-[epoch:]version-release.arch.
    pub fn nevra(&self) -> String {
        let epoch = match self.epoch.as_str() {
            "(none)" | "0" | "" => String::new(),
            e => format!("{e}:"),
        };
        format!(
            "{}-{epoch}{}-{}.{}",
            self.name, self.version, self.release, self.arch
        )
    }
}

/// What the probe found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Probe {
    pub root: bool,
    /// The dnf (or yum) command on the host; None when there is none.
    pub dnf: Option<String>,
    /// For each name, in order, the installed packages it matches.
    pub installed: Vec<Vec<Installed>>,
}

pub fn parse_probe(out: &str) -> Probe {
    let parts: Vec<&str> = out.split(&format!("{SEP}\n")).collect();
    let root = parts.first().map(|s| s.trim()) == Some("0");
    let dnf = parts
        .get(1)
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty());
    let installed = parts
        .iter()
        .skip(2)
        .map(|part| {
            part.lines()
                .filter_map(|l| {
                    let f: Vec<&str> = l.split('\t').collect();
                    (f.len() == 5).then(|| Installed {
                        name: f[0].into(),
                        version: f[1].into(),
                        release: f[2].into(),
                        epoch: f[3].into(),
                        arch: f[4].into(),
                    })
                })
                .collect()
        })
        .collect();
    Probe {
        root,
        dnf,
        installed,
    }
}

/// A dnf command to ask about (`--assumeno`) and then run (`-y`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    /// install, upgrade, remove, autoremove.
    pub verb: &'static str,
    pub specs: Vec<String>,
}

/// What to do once the host is known.
#[derive(Clone, Debug, PartialEq)]
pub enum Plan {
    /// Decided without dnf: the result.
    Done(Outcome),
    /// Ask dnf about these steps; `results` are reported before theirs.
    Steps {
        steps: Vec<Step>,
        results: Vec<String>,
    },
}

fn response(changed: bool, msg: &str, results: Vec<String>, rc: i64) -> Outcome {
    let mut o = if changed {
        Outcome::changed()
    } else {
        Outcome::ok()
    };
    o.msg = Some(msg.to_string());
    o.with("results", json!(results)).with("rc", rc)
}

/// Decides from the probe what dnf must be asked.
pub fn plan(task: &Task, probe: &Probe) -> Plan {
    if task.update_cache && task.names.is_empty() {
        return Plan::Steps {
            steps: vec![Step {
                verb: "makecache",
                specs: Vec::new(),
            }],
            results: Vec::new(),
        };
    }
    if !probe.root && !task.download_only {
        let mut o = Outcome::failed("This command has to be run under the root user.");
        o.values.insert("results".into(), json!([]));
        return Plan::Done(o);
    }
    let is_installed = |i: usize| -> bool { probe.installed.get(i).is_some_and(|v| !v.is_empty()) };
    let always_ask = |n: &str| n.starts_with('@');
    let mut results = Vec::new();
    let mut steps = Vec::new();
    match task.goal {
        Goal::Absent => {
            if task.names.is_empty() {
                steps.push(Step {
                    verb: "autoremove",
                    specs: Vec::new(),
                });
            } else {
                let mut remove = Vec::new();
                for (i, n) in task.names.iter().enumerate() {
                    if is_installed(i) || always_ask(n) {
                        remove.push(n.clone());
                    } else {
                        results.push(format!("no package matched: {n}"));
                    }
                }
                if !remove.is_empty() {
                    steps.push(Step {
                        verb: "remove",
                        specs: remove,
                    });
                }
            }
        }
        Goal::Latest if task.names == ["*"] => steps.push(Step {
            verb: "upgrade",
            specs: Vec::new(),
        }),
        Goal::Present | Goal::Latest => {
            let mut install = Vec::new();
            let mut upgrade = Vec::new();
            for (i, n) in task.names.iter().enumerate() {
                if is_installed(i) {
                    if task.goal == Goal::Latest {
                        upgrade.push(n.clone());
                    }
                } else if task.update_only && !always_ask(n) {
                    results.push(format!(
                        "Packages providing {n} not installed due to update_only specified"
                    ));
                } else {
                    install.push(n.clone());
                }
            }
            if !install.is_empty() {
                steps.push(Step {
                    verb: "install",
                    specs: install,
                });
            }
            if !upgrade.is_empty() {
                steps.push(Step {
                    verb: "upgrade",
                    specs: upgrade,
                });
            }
        }
    }
    if steps.is_empty() {
        return Plan::Done(response(false, "Nothing to do", results, 0));
    }
    Plan::Steps { steps, results }
}

/// The command line of a step: `--assumeno` to ask, `-y` to do it.
pub fn command_line(dnf: &str, task: &Task, step: &Step, ask: bool) -> String {
    let mut parts = vec![shell_quote(dnf)];
    if step.verb != "makecache" {
        parts.push(if ask { "--assumeno" } else { "-y" }.to_string());
    }
    parts.extend(task.options.iter().cloned());
    if step.verb == "upgrade" {
        parts.extend(task.upgrade_options.iter().cloned());
    }
    parts.push(step.verb.to_string());
    if !step.specs.is_empty() {
        parts.push("--".into());
        parts.extend(step.specs.iter().map(|s| shell_quote(s)));
    }
    format!("LC_ALL=C {} 2>&1", parts.join(" "))
}

/// What dnf's transaction table (dnf 4 or dnf 5) says.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Transaction {
    /// Packages installed, upgraded to, reinstalled or downgraded to
    /// (NEVRA).
    pub install: Vec<String>,
    /// Packages removed, and the old side of upgrades dnf 5 names.
    pub remove: Vec<String>,
    /// (name, arch) of packages upgraded or downgraded, whose old version
    /// dnf 4 does not print.
    pub replaced: Vec<(String, String)>,
    /// Names dnf found nothing for.
    pub missing: Vec<String>,
}

/// Reads the output of `dnf … --assumeno` (or `-y`).
pub fn parse_transaction(out: &str) -> Transaction {
    let mut t = Transaction::default();
    #[derive(PartialEq)]
    enum Section {
        None,
        Install,
        Replace,
        Remove,
    }
    let mut section = Section::None;
    let mut pending: Option<String> = None;
    for line in out.lines() {
        for prefix in [
            "No match for argument: ",
            "No package matched: ",
            "No match for argument:",
        ] {
            if let Some(n) = line.trim().strip_prefix(prefix) {
                let n = n.trim().to_string();
                if !n.is_empty() && !t.missing.contains(&n) {
                    t.missing.push(n);
                }
            }
        }
        if line.starts_with("Transaction Summary") || line.starts_with("Total ") {
            section = Section::None;
            continue;
        }
        if !line.starts_with(' ') && line.trim_end().ends_with(':') {
            let head = line.trim_end().trim_end_matches(':');
            section = match head {
                h if h.starts_with("Installing")
                    || h.starts_with("Reinstalling")
                    || h.starts_with("Upgrading")
                    || h.starts_with("Downgrading") =>
                {
                    if h.starts_with("Upgrading") || h.starts_with("Downgrading") {
                        Section::Replace
                    } else {
                        Section::Install
                    }
                }
                h if h.starts_with("Removing") || h.starts_with("Erasing") => Section::Remove,
                _ => Section::None,
            };
            continue;
        }
        if section == Section::None || !line.starts_with(' ') {
            continue;
        }
        let mut fields: Vec<&str> = line.split_whitespace().collect();
        let joined;
        if let Some(p) = pending.take() {
            joined = format!("{p} {}", line.trim());
            fields = joined.split_whitespace().collect();
        }
        if fields.len() == 1 {
            // dnf 4 wraps a long name onto a line of its own.
            pending = Some(fields[0].to_string());
            continue;
        }
        if fields.len() < 4 {
            continue;
        }
        if fields[0] == "replacing" {
            // dnf 5: "   replacing NAME ARCH VERSION REPO SIZE"
            if fields.len() >= 4 {
                t.remove
                    .push(format!("{}-{}.{}", fields[1], fields[3], fields[2]));
            }
            continue;
        }
        let nevra = format!("{}-{}.{}", fields[0], fields[2], fields[1]);
        match section {
            Section::Install => t.install.push(nevra),
            Section::Replace => {
                t.install.push(nevra);
                t.replaced
                    .push((fields[0].to_string(), fields[1].to_string()));
            }
            Section::Remove => t.remove.push(nevra),
            Section::None => {}
        }
    }
    t
}

/// The results of the transactions (install side first, as Ansible
/// lists them), with the old versions of upgrades taken from rpm's answer
/// when dnf did not name them.
pub fn transaction_results(
    task: &Task,
    probe: &Probe,
    transactions: &[Transaction],
    prior: &[String],
) -> Vec<String> {
    let action = if task.download_only {
        "Downloaded"
    } else {
        "Installed"
    };
    let mut results: Vec<String> = prior.to_vec();
    let mut removed: Vec<String> = Vec::new();
    for t in transactions {
        results.extend(t.install.iter().map(|p| format!("{action}: {p}")));
        removed.extend(t.remove.iter().cloned());
        if t.remove.is_empty() {
            for (name, arch) in &t.replaced {
                for old in probe.installed.iter().flatten() {
                    if &old.name == name && &old.arch == arch && !removed.contains(&old.nevra()) {
                        removed.push(old.nevra());
                    }
                }
            }
        }
    }
    results.extend(removed.into_iter().map(|p| format!("Removed: {p}")));
    results
}

/// Ansible's failure for names no repository has.
pub fn missing_failure(missing: &[String]) -> Outcome {
    let mut o = Outcome::failed("Failed to install some of the specified packages");
    let failures: Vec<String> = missing
        .iter()
        .map(|n| format!("No package {n} available."))
        .collect();
    o.values.insert("failures".into(), json!(failures));
    o.values.insert("results".into(), json!([]));
    o.values.insert("rc".into(), json!(1));
    o
}

#[async_trait]
impl Module for Dnf {
    fn name(&self) -> &'static str {
        "dnf"
    }

    fn spec(&self) -> Option<&'static Spec> {
        Some(&SPEC)
    }

    async fn run(&self, ctx: &ModuleContext<'_>) -> Result<Outcome, HostError> {
        let a = match SPEC.parse(ctx).await? {
            Ok(a) => a,
            Err(o) => return Ok(o),
        };
        let task = match task(&a) {
            Ok(t) => t,
            Err(o) => return Ok(*o),
        };
        let opts = ExecOptions::default();
        let probe = parse_probe(
            &ctx.host
                .exec(&probe_script(&task), &opts)
                .await?
                .stdout_text(),
        );
        let Some(dnf) = probe.dnf.clone() else {
            return Ok(Outcome::failed(
                "Neither dnf nor yum was found on the host; this module needs one of them.",
            )
            .with("results", json!([])));
        };
        let (steps, prior) = match plan(&task, &probe) {
            Plan::Done(o) => return Ok(o),
            Plan::Steps { steps, results } => (steps, results),
        };
        if steps[0].verb == "makecache" {
            let r = ctx
                .host
                .exec(&command_line(&dnf, &task, &steps[0], false), &opts)
                .await?;
            if r.rc != 0 {
                return Ok(Outcome::failed(r.stdout_text().trim().to_string())
                    .with("results", json!([]))
                    .with("rc", 1));
            }
            return Ok(response(false, "Cache updated", Vec::new(), 0));
        }
        // Ask dnf what each step would do.
        let mut asked = Vec::new();
        let mut to_run = Vec::new();
        for step in &steps {
            let r = ctx
                .host
                .exec(&command_line(&dnf, &task, step, true), &opts)
                .await?;
            let out = r.stdout_text();
            let t = parse_transaction(&out);
            if !t.missing.is_empty() && step.verb == "install" {
                return Ok(missing_failure(&t.missing));
            }
            let empty = t.install.is_empty() && t.remove.is_empty();
            // --assumeno ends a real transaction with rc 1 ("Operation
            // aborted"); with nothing to do dnf exits 0.
            if empty && r.rc != 0 && t.missing.is_empty() {
                let mut o = Outcome::failed(format!("Depsolve Error occurred: {}", out.trim()));
                o.values.insert("failures".into(), json!([]));
                o.values.insert("results".into(), json!([]));
                o.values.insert("rc".into(), json!(1));
                return Ok(o);
            }
            if !empty {
                to_run.push(step.clone());
            }
            asked.push(t);
        }
        let results = transaction_results(&task, &probe, &asked, &prior);
        if to_run.is_empty() {
            return Ok(response(false, "Nothing to do", prior, 0));
        }
        if ctx.check_mode {
            return Ok(response(
                true,
                "Check mode: No changes made, but would have if not in check mode",
                results,
                0,
            ));
        }
        for step in &to_run {
            let r = ctx
                .host
                .exec(&command_line(&dnf, &task, step, false), &opts)
                .await?;
            if r.rc != 0 {
                let mut o = Outcome::failed("Failed to install some of the specified packages");
                o.values
                    .insert("failures".into(), json!([r.stdout_text().trim()]));
                o.values.insert("results".into(), json!([]));
                o.values.insert("rc".into(), json!(1));
                return Ok(o);
            }
        }
        Ok(response(true, "", results, 0))
    }
}
