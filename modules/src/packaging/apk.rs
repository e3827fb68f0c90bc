//! apk — manage Alpine Linux packages, as community.general.apk does.
//!
//! The same questions as community.general's apk, asked in one round trip:
//! whether each name is a virtual package (`apk -v info --description`)
//! and its dependencies (`apk -v info --depends`), whether it is in the
//! world file (a top-level package; `world`, default /etc/apk/world),
//! whether a newer version is available (`apk version`), whether it is
//! installed at all (`apk -v info --installed`). Then:
//!   present/installed  names not in the world file: `apk add NAMES`
//!   latest             also those `apk version` shows older (`<`), and a
//!                      virtual package's such dependencies:
//!                      `apk add --upgrade NAMES`
//!   absent/removed     installed names: `apk del --purge NAMES`; a name
//!                      still installed afterwards (another package needs
//!                      it) is a failure, as in community.general
//!   update_cache       `apk update` first (alone: changed, "updated
//!                      repository indexes")
//!   upgrade            `apk upgrade` (with `available`: `--available`);
//!                      "packages already upgraded" when apk prints OK
//!                      straight away
//! Check mode passes `--simulate` to the commands that would change
//! something (`apk update` runs anyway, as in community.general). Every
//! command runs with LANG/LC_ALL=C, and gets `--no-cache` and each
//! `--repository R --repositories-file /dev/null` when asked.
//!
//! Tested: the commands it generates and its results, from recorded apk
//! outputs (tests/fixtures/packaging/apk-*), covering absent, present,
//! drift, latest, check mode and bad arguments (tests/module_apk.rs); no
//! host here has apk.
//!
//! Arguments:
//!   name (list), state (present, installed, latest, absent, removed),
//!   update_cache, upgrade, available, repository (list), no_cache,
//!   world
//!
//! Returns: msg, stdout, stderr, packages (the names apk's `(n/m) Verb
//! NAME` lines list).

use async_trait::async_trait;
use serde_json::json;

use crate::api::{shell_quote, ExecOptions, ExecResult, HostError, Module, ModuleContext, Outcome};
use crate::args::{Args, Param, Spec};

pub struct Apk;

static SPEC: Spec = Spec {
    module: "apk",
    params: &[
        Param::str("state")
            .choices(&["present", "installed", "absent", "removed", "latest"])
            .default("present"),
        Param::list("name"),
        Param::bool("no_cache").default("false"),
        Param::list("repository"),
        Param::bool("update_cache").default("false"),
        Param::bool("upgrade").default("false"),
        Param::bool("available").default("false"),
        Param::str("world").default("/etc/apk/world"),
    ],
    mutually_exclusive: &[&["name", "upgrade"]],
    // community.general lists name/update_cache/upgrade as required_one_of,
    // but the booleans' defaults always satisfy it.
    required_one_of: &[],
};

/// The validated task.
#[derive(Clone, Debug)]
pub struct Task {
    pub names: Vec<String>,
    /// present, latest or absent.
    pub state: &'static str,
    pub update_cache: bool,
    pub upgrade: bool,
    pub available: bool,
    pub world: String,
    /// `apk` and its global options, quoted.
    pub apk: String,
}

pub fn task(a: &Args) -> Result<Task, String> {
    let names = a.list("name").unwrap_or_default();
    if names.iter().any(|n| n.trim().is_empty()) {
        return Err("Package name(s) cannot be empty or whitespace-only".into());
    }
    let mut apk = vec!["apk".to_string()];
    if a.bool_or("no_cache", false) {
        apk.push("--no-cache".into());
    }
    for r in a.list("repository").unwrap_or_default() {
        apk.extend([
            "--repository".into(),
            shell_quote(&r),
            "--repositories-file".into(),
            "/dev/null".into(),
        ]);
    }
    let state = match a.str_or("state", "present").as_str() {
        "present" | "installed" => "present",
        "latest" => "latest",
        _ => "absent",
    };
    Ok(Task {
        names,
        state,
        update_cache: a.bool_or("update_cache", false),
        upgrade: a.bool_or("upgrade", false),
        available: a.bool_or("available", false),
        world: a.str_or("world", "/etc/apk/world"),
        apk: apk.join(" "),
    })
}

const SEP: &str = "@@herd-apk@@";

/// One round trip with every answer the decision needs: the world file,
/// then for each name its description, dependencies, `apk version` line
/// and whether it is installed.
pub fn probe_script(t: &Task) -> String {
    let mut s = format!("cat {} 2>/dev/null; ", shell_quote(&t.world));
    for n in &t.names {
        let q = shell_quote(n);
        let apk = &t.apk;
        s.push_str(&format!(
            "echo {SEP}; {apk} -v info --description {q} 2>/dev/null; echo {SEP}; \
             {apk} -v info --depends {q} 2>/dev/null; echo {SEP}; \
             {apk} version {q} 2>/dev/null; echo {SEP}; \
             {apk} -v info --installed {q} >/dev/null 2>&1; echo $?; "
        ));
    }
    s.push_str("true");
    s
}

/// What the host said about one name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NameInfo {
    pub description: String,
    pub depends: String,
    pub version: String,
    pub installed: bool,
}

/// The world file and each name's answers.
pub fn parse_probe(out: &str, names: &[String]) -> (String, Vec<NameInfo>) {
    let parts: Vec<&str> = out.split(&format!("{SEP}\n")).collect();
    let world = parts.first().copied().unwrap_or_default().to_string();
    let infos = (0..names.len())
        .map(|i| {
            let p = |k: usize| parts.get(1 + i * 4 + k).copied().unwrap_or_default();
            NameInfo {
                description: p(0).to_string(),
                depends: p(1).to_string(),
                version: p(2).to_string(),
                installed: p(3).trim() == "0",
            }
        })
        .collect();
    (world, infos)
}

/// A top-level package: the world file names it, maybe with a
/// repository tag or a version constraint.
pub fn in_world(name: &str, world: &str) -> bool {
    world.split_whitespace().any(|w| {
        w.strip_prefix(name).is_some_and(|rest| {
            rest.is_empty() || (rest.len() > 1 && rest.starts_with(['@', '=', '<', '>', '~']))
        })
    })
}

/// Whether `apk version` shows `name` up to date (not `<`).
pub fn is_latest(name: &str, version_out: &str) -> bool {
    // community.general looks for "NAME-VER-REL  <op>  VER-REL " and
    // treats anything but "<" (or no such line) as up to date.
    for line in version_out.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() >= 3 {
            if let Some(rest) = f[0].strip_prefix(name).and_then(|r| r.strip_prefix('-')) {
                if rest.contains('-') && f[1].len() == 1 {
                    return f[1] != "<";
                }
            }
        }
    }
    true
}

/// A virtual package's description starts "NAME: virtual meta package".
pub fn is_virtual(name: &str, description: &str) -> bool {
    description.starts_with(&format!("{name}: virtual meta package"))
}

/// The dependencies `apk -v info --depends` lists under its
/// "NAME-VER depends on:" line. (community.general takes every word after
/// the first, "depends" and "on:" included; `apk version` finds nothing
/// for those, so leaving them out changes no decision.)
pub fn dependencies(depends: &str) -> Vec<String> {
    depends
        .lines()
        .skip(1)
        .flat_map(str::split_whitespace)
        .map(str::to_string)
        .collect()
}

/// The package names apk's progress lines list: `(1/2) Installing NAME (…)`.
pub fn parse_for_packages(stdout: &str) -> Vec<String> {
    stdout
        .split('\n')
        .filter_map(|l| {
            let rest = l.strip_prefix('(')?;
            let (counts, rest) = rest.split_once(')')?;
            let (a, b) = counts.split_once('/')?;
            if a.is_empty()
                || b.is_empty()
                || !a.bytes().all(|c| c.is_ascii_digit())
                || !b.bytes().all(|c| c.is_ascii_digit())
            {
                return None;
            }
            let mut words = rest.split_whitespace();
            words.next()?;
            words.next().map(str::to_string)
        })
        .collect()
}

/// A list as Python prints it (`['a', 'b']`), for community.general's
/// messages.
fn py_list(items: &[String]) -> String {
    let inner: Vec<String> = items
        .iter()
        .map(|s| format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'")))
        .collect();
    format!("[{}]", inner.join(", "))
}

/// The install or upgrade command for present/latest, or None when every
/// name is already as asked. `latest_of` answers whether a dependency of
/// a virtual package is up to date.
pub fn install_command(
    t: &Task,
    world: &str,
    infos: &[NameInfo],
    latest_of: &dyn Fn(&str) -> bool,
    check: bool,
) -> Option<(Vec<String>, String)> {
    let mut to_install = Vec::new();
    let mut to_upgrade = Vec::new();
    for (name, info) in t.names.iter().zip(infos) {
        if is_virtual(name, &info.description) {
            for dep in dependencies(&info.depends) {
                if t.state == "latest" && !latest_of(&dep) {
                    to_upgrade.push(dep);
                }
            }
        } else if !in_world(name, world) {
            to_install.push(name.clone());
        } else if t.state == "latest" && !is_latest(name, &info.version) {
            to_upgrade.push(name.clone());
        }
    }
    if to_install.is_empty() && to_upgrade.is_empty() {
        return None;
    }
    let upgrade = !to_upgrade.is_empty();
    let packages: Vec<String> = to_install.into_iter().chain(to_upgrade).collect();
    let mut cmd = format!("{} add", t.apk);
    if upgrade {
        cmd.push_str(" --upgrade");
    }
    if check {
        cmd.push_str(" --simulate");
    }
    for p in &packages {
        cmd.push(' ');
        cmd.push_str(&shell_quote(p));
    }
    Some((packages, cmd))
}

/// The removal command, or None when nothing asked for is installed.
pub fn remove_command(t: &Task, infos: &[NameInfo], check: bool) -> Option<(Vec<String>, String)> {
    let installed: Vec<String> = t
        .names
        .iter()
        .zip(infos)
        .filter(|(_, i)| i.installed)
        .map(|(n, _)| n.clone())
        .collect();
    if installed.is_empty() {
        return None;
    }
    let mut cmd = format!("{} del --purge", t.apk);
    if check {
        cmd.push_str(" --simulate");
    }
    for n in &installed {
        cmd.push(' ');
        cmd.push_str(&shell_quote(n));
    }
    Some((installed, cmd))
}

fn with_output(mut o: Outcome, r: &ExecResult) -> Outcome {
    o.values.insert("stdout".into(), json!(r.stdout_text()));
    o.values.insert("stderr".into(), json!(r.stderr_text()));
    o.values.insert(
        "packages".into(),
        json!(parse_for_packages(&r.stdout_text())),
    );
    o
}

fn c_locale() -> ExecOptions {
    ExecOptions {
        env: ["LANG", "LC_ALL", "LC_MESSAGES", "LC_CTYPE"]
            .iter()
            .map(|k| (k.to_string(), "C".to_string()))
            .collect(),
        ..ExecOptions::default()
    }
}

#[async_trait]
impl Module for Apk {
    fn name(&self) -> &'static str {
        "apk"
    }

    fn spec(&self) -> Option<&'static Spec> {
        Some(&SPEC)
    }

    async fn run(&self, ctx: &ModuleContext<'_>) -> Result<Outcome, HostError> {
        let a = match SPEC.parse(ctx).await? {
            Ok(a) => a,
            Err(o) => return Ok(o),
        };
        let opts = c_locale();
        let r = ctx
            .host
            .exec(
                "command -v apk || { printf '%s' \"$PATH\"; exit 1; }",
                &opts,
            )
            .await?;
        if r.rc != 0 {
            return Ok(Outcome::failed(format!(
                "Failed to find required executable \"apk\" in paths: {}",
                r.stdout_text().trim()
            )));
        }
        let t = match task(&a) {
            Ok(t) => t,
            Err(msg) => return Ok(Outcome::failed(msg)),
        };
        if t.update_cache {
            let r = ctx.host.exec(&format!("{} update", t.apk), &opts).await?;
            if r.rc != 0 {
                let mut o = Outcome::failed("could not update package db");
                o.values.insert("stdout".into(), json!(r.stdout_text()));
                o.values.insert("stderr".into(), json!(r.stderr_text()));
                return Ok(o);
            }
            if t.names.is_empty() && !t.upgrade {
                let mut o = Outcome::changed();
                o.msg = Some("updated repository indexes".into());
                o.values.insert("stdout".into(), json!(r.stdout_text()));
                o.values.insert("stderr".into(), json!(r.stderr_text()));
                return Ok(o);
            }
        }
        if t.upgrade {
            let mut cmd = format!("{} upgrade", t.apk);
            if ctx.check_mode {
                cmd.push_str(" --simulate");
            }
            if t.available {
                cmd.push_str(" --available");
            }
            let r = ctx.host.exec(&cmd, &opts).await?;
            let o = if r.rc != 0 {
                Outcome::failed("failed to upgrade packages")
            } else if r.stdout_text().starts_with("OK") {
                let mut o = Outcome::ok();
                o.msg = Some("packages already upgraded".into());
                o
            } else {
                let mut o = Outcome::changed();
                o.msg = Some("upgraded packages".into());
                o
            };
            return Ok(with_output(o, &r));
        }
        let probe = ctx.host.exec(&probe_script(&t), &opts).await?;
        let (world, infos) = parse_probe(&probe.stdout_text(), &t.names);
        if t.state == "absent" {
            let Some((names, cmd)) = remove_command(&t, &infos, ctx.check_mode) else {
                let mut o = Outcome::ok();
                o.msg = Some("package(s) already removed".into());
                return Ok(o);
            };
            let r = ctx.host.exec(&cmd, &opts).await?;
            let mut failed = r.rc != 0;
            // A package another one still needs stays installed.
            for n in &names {
                let still = ctx
                    .host
                    .exec(
                        &format!(
                            "{} -v info --installed {} >/dev/null 2>&1",
                            t.apk,
                            shell_quote(n)
                        ),
                        &opts,
                    )
                    .await?;
                if still.rc == 0 {
                    failed = true;
                    break;
                }
            }
            let o = if failed {
                Outcome::failed(format!("failed to remove {} package(s)", py_list(&names)))
            } else {
                let mut o = Outcome::changed();
                o.msg = Some(format!("removed {} package(s)", py_list(&names)));
                o
            };
            return Ok(with_output(o, &r));
        }
        // The dependencies of virtual packages need their own `apk version`.
        let mut dep_versions: Vec<(String, String)> = Vec::new();
        if t.state == "latest" {
            for (name, info) in t.names.iter().zip(&infos) {
                if is_virtual(name, &info.description) {
                    for dep in dependencies(&info.depends) {
                        let r = ctx
                            .host
                            .exec(&format!("{} version {}", t.apk, shell_quote(&dep)), &opts)
                            .await?;
                        dep_versions.push((dep, r.stdout_text()));
                    }
                }
            }
        }
        let latest_of = |dep: &str| {
            dep_versions
                .iter()
                .find(|(d, _)| d == dep)
                .is_none_or(|(d, out)| is_latest(d, out))
        };
        let Some((packages, cmd)) = install_command(&t, &world, &infos, &latest_of, ctx.check_mode)
        else {
            let mut o = Outcome::ok();
            o.msg = Some("package(s) already installed".into());
            return Ok(o);
        };
        let r = ctx.host.exec(&cmd, &opts).await?;
        let o = if r.rc != 0 {
            Outcome::failed(format!("failed to install {}", py_list(&packages)))
        } else {
            let mut o = Outcome::changed();
            o.msg = Some(format!("installed {} package(s)", py_list(&packages)));
            o
        };
        Ok(with_output(o, &r))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn world_entries_match_with_tags_and_constraints() {
        let world = "busybox\nhtop@edge\ncurl>=8\nalpine-base\n";
        assert!(in_world("busybox", world));
        assert!(in_world("htop", world));
        assert!(in_world("curl", world));
        assert!(!in_world("alpine", world));
        assert!(!in_world("bash", world));
    }
}
