//! package_facts — the installed packages as facts
//! (`ansible_facts.packages`), as ansible-core's package_facts returns them.
//!
//! Each package name maps to a list of its installed versions, one dict
//! each, shaped as Ansible's per manager:
//!   apt  name, version, arch, category (the section), origin (the `o=` of
//!        the archive the installed version comes from, "" when only dpkg's
//!        status file has it), source: apt
//!   rpm  name, version, release, epoch ("None" when the package has none,
//!        as ansible-core 2.19 prints it), arch, source: rpm
//!   apk  name, version, release (`apk info -v`, split as Ansible splits
//!        it), source: apk
//! Nothing Python is needed on the host: apt is read with `dpkg-query` and
//! `apt-cache policy`, rpm with `rpm -qa --qf`, apk with `apk info -v`.
//!
//! `manager: auto` tries apk, apt, pacman, pkg, pkg_info, portage, rpm in
//! that order (Ansible's); with `strategy: first` the first one that lists
//! packages wins, with `all` every usable one adds its packages. The
//! aliases dnf, dnf5, yum and zypper mean rpm. pacman, pkg, pkg_info and
//! portage are known names but herd does not read them: asked for by name
//! they give a warning, and alone they fail as Ansible fails when no
//! manager is usable.
//!
//! Tested: for real with dpkg-query on this host, compared package by
//! package with ansible's package_facts; rpm and apk through recorded
//! `rpm -qa`/`apk info -v` outputs (tests/module_package_facts.rs).
//!
//! Arguments:
//!   manager   list of managers (default auto)
//!   strategy  first (default) or all
//!
//! Returns: ansible_facts.packages. Never changes anything; check mode
//! gathers the same facts.

use async_trait::async_trait;
use serde_json::{json, Map, Value};

use crate::api::{ExecOptions, HostError, Module, ModuleContext, Outcome};
use crate::args::{Param, Spec};

pub struct PackageFacts;

static SPEC: Spec = Spec {
    module: "package_facts",
    params: &[
        Param::list("manager").default("auto"),
        Param::str("strategy")
            .default("first")
            .choices(&["first", "all"]),
    ],
    mutually_exclusive: &[],
    required_one_of: &[],
};

/// Ansible's manager names in its order (sorted), then the aliases.
const MANAGERS: &[&str] = &[
    "apk",
    "apt",
    "pacman",
    "pkg",
    "pkg_info",
    "portage",
    "rpm",
    "dnf",
    "dnf5",
    "yum",
    "zypper",
    "pkg5",
    "pkgng",
    "openbsd_pkg",
];

/// The manager an alias stands for.
fn canonical(name: &str) -> &str {
    match name {
        "dnf" | "dnf5" | "yum" | "zypper" => "rpm",
        "pkg5" | "pkgng" => "pkg",
        "openbsd_pkg" => "pkg_info",
        other => other,
    }
}

/// The packages found, by name, in the order they were listed.
pub type Packages = Map<String, Value>;

fn add(packages: &mut Packages, details: Map<String, Value>) {
    let name = details
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    match packages.get_mut(&name) {
        Some(Value::Array(list)) => list.push(Value::Object(details)),
        _ => {
            packages.insert(name, Value::Array(vec![Value::Object(details)]));
        }
    }
}

/// The format given to `rpm -qa --qf`: one package a line, tab-separated.
pub const RPM_QUERY_FORMAT: &str = "%{NAME}\\t%{VERSION}\\t%{RELEASE}\\t%{EPOCH}\\t%{ARCH}\\n";

/// Parses `rpm -qa --qf RPM_QUERY_FORMAT` output. rpm prints `(none)` for
/// a missing epoch (or the arch of a gpg-pubkey); Ansible's text
/// conversion of the rpm binding's None makes it "None".
pub fn parse_rpm(out: &str) -> Packages {
    let mut packages = Packages::new();
    for line in out.lines().filter(|l| !l.trim().is_empty()) {
        let f: Vec<&str> = line.split('\t').collect();
        if f.len() < 5 {
            continue;
        }
        let none = |v: &str| {
            if v == "(none)" {
                "None".to_string()
            } else {
                v.to_string()
            }
        };
        let details = json!({
            "name": f[0], "version": f[1], "release": f[2], "epoch": none(f[3]),
            "arch": none(f[4]), "source": "rpm",
        });
        if let Value::Object(m) = details {
            add(&mut packages, m);
        }
    }
    packages
}

/// Parses `apk info -v` (`name-version-release` a line), split from the
/// right as Ansible splits it.
pub fn parse_apk(out: &str) -> Packages {
    let mut packages = Packages::new();
    for line in out.lines().filter(|l| !l.trim().is_empty()) {
        let parts: Vec<&str> = line.rsplitn(3, '-').collect();
        let details = if parts.len() == 3 {
            json!({"name": parts[2], "version": parts[1], "release": parts[0], "source": "apk"})
        } else {
            json!({"name": line, "version": "", "release": "", "source": "apk"})
        };
        if let Value::Object(m) = details {
            add(&mut packages, m);
        }
    }
    packages
}

/// The separator between the parts of the apt script's output.
const SEP: &str = "@@herd-package-facts@@";

/// Lists the installed packages (`dpkg-query`), the archives apt knows
/// (`apt-cache policy`), the version table of each installed package, and
/// apt's record of each installed version (`apt-cache show`), whose
/// section is the archive's where dpkg's may differ.
fn apt_script() -> String {
    format!(
        "export LC_ALL=C; arch=$(dpkg --print-architecture) || exit 1; echo \"$arch\"; echo {SEP}; \
         dpkg-query -W -f '${{db:Status-Abbrev}}\\t${{Package}}\\t${{Architecture}}\\t${{Version}}\\t${{Section}}\\n' || exit 1; echo {SEP}; \
         apt-cache policy; echo {SEP}; \
         dpkg-query -W -f '${{db:Status-Abbrev}} ${{Package}}:${{Architecture}}\\n' | awk 'substr($1, 2, 1) != \"n\" && substr($1, 2, 1) != \"c\" {{ print $2 }}' | xargs -r apt-cache policy; echo {SEP}; \
         dpkg-query -W -f '${{db:Status-Abbrev}} ${{Package}}:${{Architecture}}=${{Version}}\\n' | awk 'substr($1, 2, 1) != \"n\" && substr($1, 2, 1) != \"c\" {{ print $2 }}' | xargs -r apt-cache show"
    )
}

/// Parses the apt script's output into Ansible's apt facts.
pub fn parse_apt(out: &str) -> Packages {
    let parts: Vec<&str> = out.split(&format!("{SEP}\n")).collect();
    let native = parts.first().map(|s| s.trim()).unwrap_or_default();
    let status = parts.get(1).copied().unwrap_or_default();
    let files = parts.get(2).copied().unwrap_or_default();
    let tables = parts.get(3).copied().unwrap_or_default();
    let records = parts.get(4).copied().unwrap_or_default();

    // (package, arch) → section, from apt's records.
    let mut sections: Vec<(String, String, String)> = Vec::new();
    for record in records.split("\n\n") {
        let field = |key: &str| {
            record
                .lines()
                .find_map(|l| l.strip_prefix(key))
                .map(|v| v.trim().to_string())
        };
        if let (Some(p), Some(a), Some(s)) =
            (field("Package:"), field("Architecture:"), field("Section:"))
        {
            sections.push((p, a, s));
        }
    }

    // Package file line (" 500 URL suite/comp arch Packages") → origin.
    let mut origins: Vec<(String, String)> = Vec::new();
    let mut last: Option<String> = None;
    for line in files.lines() {
        let t = line.trim();
        if let Some(release) = t.strip_prefix("release ") {
            if let Some(file) = last.take() {
                let o = release
                    .split(',')
                    .find_map(|kv| kv.strip_prefix("o="))
                    .unwrap_or("");
                origins.push((file, o.to_string()));
            }
        } else if line.starts_with(' ') && !line.starts_with("     ") {
            last = t.split_once(' ').map(|(_, f)| f.to_string());
        }
    }
    let origin_of = |file: &str| {
        origins
            .iter()
            .find(|(f, _)| f == file)
            .map(|(_, o)| o.clone())
            .unwrap_or_default()
    };

    // Version tables: "name[:arch]:" then " *** VERSION PRIO" and its files.
    let mut installed_origin: Vec<(String, String)> = Vec::new();
    let mut current: Option<String> = None;
    let mut in_installed = false;
    let mut found = false;
    for line in tables.lines() {
        if !line.starts_with(' ') && line.ends_with(':') {
            current = Some(line.trim_end_matches(':').to_string());
            in_installed = false;
            found = false;
        } else if line.starts_with(" *** ") {
            in_installed = true;
        } else if line.starts_with("     ") && !line.starts_with("        ") {
            in_installed = false;
        } else if in_installed && !found && line.starts_with("        ") {
            if let Some(name) = &current {
                let file = line.trim().split_once(' ').map(|(_, f)| f).unwrap_or("");
                installed_origin.push((name.clone(), origin_of(file)));
                found = true;
            }
        }
    }

    let mut rows: Vec<(String, Map<String, Value>)> = Vec::new();
    for line in status.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        if f.len() < 5 {
            continue;
        }
        let state = f[0].chars().nth(1).unwrap_or('n');
        if state == 'n' || state == 'c' {
            continue;
        }
        // apt names a package of a foreign architecture `name:arch`.
        let name = if f[2] == native || f[2] == "all" {
            f[1].to_string()
        } else {
            format!("{}:{}", f[1], f[2])
        };
        let origin = installed_origin
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, o)| o.clone())
            .unwrap_or_default();
        let category = sections
            .iter()
            .find(|(p, a, _)| p == f[1] && a == f[2])
            .map(|(_, _, s)| s.as_str())
            .unwrap_or(f[4]);
        let details = json!({
            "name": name, "version": f[3], "arch": f[2], "category": category,
            "origin": origin, "source": "apt",
        });
        if let Value::Object(m) = details {
            rows.push((name, m));
        }
    }
    // python-apt's cache lists packages by name.
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    let mut packages = Packages::new();
    for (_, m) in rows {
        add(&mut packages, m);
    }
    packages
}

/// What one manager gave.
enum Listing {
    /// Its tool is not on the host, or herd does not read it.
    Unusable(String),
    /// It ran but failed.
    Failed(String),
    Packages(Packages),
}

async fn list(ctx: &ModuleContext<'_>, manager: &str) -> Result<Listing, HostError> {
    let (tool, script): (&str, String) = match manager {
        "apt" => ("dpkg-query", apt_script()),
        "rpm" => ("rpm", format!("rpm -qa --qf '{RPM_QUERY_FORMAT}'")),
        "apk" => ("apk", "apk info -v".to_string()),
        other => {
            return Ok(Listing::Unusable(format!(
                "herd does not read the {other} package database"
            )))
        }
    };
    let probe = format!(
        "command -v {tool} >/dev/null 2>&1 || exit 127; {script}",
        tool = tool
    );
    let r = ctx.host.exec(&probe, &ExecOptions::default()).await?;
    if r.rc == 127 && r.stdout.is_empty() {
        return Ok(Listing::Unusable(format!(
            "Failed to find required executable \"{tool}\" on the host"
        )));
    }
    if r.rc != 0 {
        return Ok(Listing::Failed(format!(
            "Unable to list packages rc={} : {}",
            r.rc,
            r.stderr_text()
        )));
    }
    let out = r.stdout_text();
    Ok(Listing::Packages(match manager {
        "apt" => parse_apt(&out),
        "rpm" => parse_rpm(&out),
        _ => parse_apk(&out),
    }))
}

/// The managers to try, in order, as Ansible expands `auto`; or the
/// failure message for unknown names.
pub fn managers_to_try(requested: &[String]) -> Result<Vec<String>, String> {
    let mut managers: Vec<String> = requested.iter().map(|m| m.to_lowercase()).collect();
    let auto = managers.iter().any(|m| m == "auto");
    if auto {
        managers.retain(|m| m != "auto");
        managers.extend(MANAGERS.iter().map(|m| m.to_string()));
    }
    let mut unsupported: Vec<&str> = managers
        .iter()
        .filter(|m| !MANAGERS.contains(&m.as_str()))
        .map(String::as_str)
        .collect();
    if !unsupported.is_empty() {
        if auto {
            return Err(
                "Could not auto detect a usable package manager, check warnings for details."
                    .into(),
            );
        }
        unsupported.dedup();
        return Err(format!(
            "Unsupported package managers requested: {}",
            unsupported.join(", ")
        ));
    }
    Ok(managers)
}

/// A list as Python prints it: `['apt', 'rpm']`.
fn py_list(items: &[String]) -> String {
    let inner: Vec<String> = items.iter().map(|s| format!("'{s}'")).collect();
    format!("[{}]", inner.join(", "))
}

#[async_trait]
impl Module for PackageFacts {
    fn name(&self) -> &'static str {
        "package_facts"
    }

    fn spec(&self) -> Option<&'static Spec> {
        Some(&SPEC)
    }

    async fn run(&self, ctx: &ModuleContext<'_>) -> Result<Outcome, HostError> {
        let a = match SPEC.parse(ctx).await? {
            Ok(a) => a,
            Err(o) => return Ok(o),
        };
        let requested = a.list("manager").unwrap_or_else(|| vec!["auto".into()]);
        let first = a.str_or("strategy", "first") == "first";
        let managers = match managers_to_try(&requested) {
            Ok(m) => m,
            Err(msg) => return Ok(Outcome::failed(msg)),
        };
        let mut warnings = Vec::new();
        let mut packages = Packages::new();
        let mut found = 0;
        let mut seen: Vec<&str> = Vec::new();
        for m in &managers {
            if first && found > 0 {
                break;
            }
            let name = canonical(m);
            if seen.contains(&name) {
                continue;
            }
            seen.push(name);
            match list(ctx, name).await? {
                Listing::Unusable(why) => {
                    if requested.iter().any(|r| r == name) {
                        warnings.push(format!(
                            "Requested package manager {name} was not usable by this module: {why}"
                        ));
                    }
                }
                Listing::Failed(why) => {
                    warnings.push(format!("Failed to retrieve packages with {name}: {why}"));
                    warnings.push(format!("Found \"{name}\" but no associated packages"));
                }
                Listing::Packages(p) if p.is_empty() => {
                    warnings.push(format!("Found \"{name}\" but no associated packages"));
                }
                Listing::Packages(p) => {
                    found += 1;
                    for (k, v) in p {
                        let Value::Array(new) = v else { continue };
                        match packages.get_mut(&k) {
                            Some(Value::Array(list)) => list.extend(new),
                            _ => {
                                packages.insert(k, Value::Array(new));
                            }
                        }
                    }
                }
            }
        }
        if found == 0 {
            let mut out = Outcome::failed(format!(
                "Could not detect a supported package manager from the following list: {}, \
                 or the required Python library is not installed. Check warnings for details.",
                py_list(&managers)
            ));
            out.warnings = warnings;
            return Ok(out);
        }
        let mut out = Outcome::ok().with("ansible_facts", json!({ "packages": packages }));
        out.warnings = warnings;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_expands_in_ansible_order() {
        let m = managers_to_try(&["auto".into()]).unwrap();
        assert_eq!(m[0], "apk");
        assert_eq!(m[1], "apt");
        assert_eq!(
            managers_to_try(&["rpm".into(), "foo".into()]),
            Err("Unsupported package managers requested: foo".into())
        );
    }

    #[test]
    fn apk_names_split_from_the_right() {
        let p = parse_apk("musl-1.2.4-r2\nlibc-utils-0.7.2-r5\nodd\n");
        assert_eq!(p["libc-utils"][0]["version"], "0.7.2");
        assert_eq!(p["libc-utils"][0]["release"], "r5");
        assert_eq!(p["odd"][0]["version"], "");
    }
}
