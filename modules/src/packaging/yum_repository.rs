//! yum_repository — add or remove a repository in a yum/dnf .repo file,
//! as ansible-core's yum_repository does.
//!
//! The file is `REPOSDIR/FILE.repo` (`file` defaults to `name`). It is
//! read as Python's configparser reads it (keys lower-cased, indented
//! lines continuing a value, comments dropped) and written back as
//! configparser writes it: sections in file order, `key = value`, a
//! multi-line value continued on tab-indented lines, a blank line after
//! each section. With state=present the repository's section is replaced
//! by one holding every given option in name order (booleans as 1/0,
//! `baseurl`/`gpgkey` one per line, `exclude`/`includepkgs` space
//! separated, `description` as `name`), so it moves to the end of the
//! file; with state=absent it is dropped, and a file left without
//! sections is deleted. `changed` compares the sorted dump of the file
//! before and after, as Ansible does, so reordering alone is no change.
//! mode, owner and group are applied to the file afterwards.
//!
//! Not done as Ansible does: a `[DEFAULT]` section is kept as an ordinary
//! one; SELinux contexts, `attributes` and `unsafe_writes` are accepted
//! and ignored; the deprecation notices of the options dnf ignores are not
//! printed.
//!
//! Tested: for real in a temporary reposdir, each step (new file, no
//! change, drift, a second repository in the same file, check mode, diff,
//! absent, bad arguments) compared with ansible's yum_repository
//! (tests/module_yum_repository.rs).
//!
//! Arguments: name (required), description, baseurl, mirrorlist,
//! metalink (one of the three with state=present), enabled, gpgcheck,
//! gpgkey, reposdir (default /etc/yum.repos.d), file, state (present,
//! absent), and every other option of Ansible's module (async, bandwidth,
//! cost, countme, deltarpm_metadata_percentage, deltarpm_percentage,
//! enablegroups, exclude (excludepkgs), failovermethod, gpgcakey,
//! http_caching, include, includepkgs, ip_resolve, keepalive, keepcache,
//! metadata_expire, metadata_expire_filter, mirrorlist_expire,
//! module_hotfixes, password, priority, protect, proxy, proxy_password,
//! proxy_username, repo_gpgcheck, retries, s3_enabled,
//! skip_if_unavailable, sslcacert (ca_cert), ssl_check_cert_permissions,
//! sslclientcert (client_cert), sslclientkey (client_key), sslverify
//! (validate_certs), throttle, timeout, ui_repoid_vars, username), mode,
//! owner, group.
//!
//! Returns: repo, state, diff (the sorted dump before and after, headed
//! by the file's path).

use async_trait::async_trait;

use crate::api::{shell_quote, Diff, ExecOptions, HostError, Module, ModuleContext, Outcome};
use crate::args::{Args, Kind, Param, Spec};
use crate::files::common::{attr_change, attr_commands, run_all, Attrs};

pub struct YumRepository;

/// The repository options, in the order Ansible writes them (sorted).
static OPTIONS: &[Param] = &[
    Param::bool("async"),
    Param::str("bandwidth"),
    Param::list("baseurl"),
    Param::str("cost"),
    Param::bool("countme"),
    Param::str("deltarpm_metadata_percentage"),
    Param::str("deltarpm_percentage"),
    Param::bool("enabled"),
    Param::bool("enablegroups"),
    Param::list("exclude").aliases(&["excludepkgs"]),
    Param::str("failovermethod").choices(&["roundrobin", "priority"]),
    Param::str("gpgcakey"),
    Param::bool("gpgcheck"),
    Param::list("gpgkey"),
    Param::str("http_caching").choices(&["all", "packages", "none"]),
    Param::str("include"),
    Param::list("includepkgs"),
    Param::str("ip_resolve").choices(&["4", "6", "IPv4", "IPv6", "whatever"]),
    Param::bool("keepalive"),
    Param::str("keepcache").choices(&["0", "1"]),
    Param::str("metadata_expire"),
    Param::str("metadata_expire_filter").choices(&[
        "never",
        "read-only:past",
        "read-only:present",
        "read-only:future",
    ]),
    Param::str("metalink"),
    Param::str("mirrorlist"),
    Param::str("mirrorlist_expire"),
    Param::bool("module_hotfixes"),
    Param::str("password"),
    Param::str("priority"),
    Param::bool("protect"),
    Param::str("proxy"),
    Param::str("proxy_password"),
    Param::str("proxy_username"),
    Param::bool("repo_gpgcheck"),
    Param::str("retries"),
    Param::bool("s3_enabled"),
    Param::bool("skip_if_unavailable"),
    Param::bool("ssl_check_cert_permissions"),
    Param::str("sslcacert").aliases(&["ca_cert"]),
    Param::str("sslclientcert").aliases(&["client_cert"]),
    Param::str("sslclientkey").aliases(&["client_key"]),
    Param::bool("sslverify").aliases(&["validate_certs"]),
    Param::str("throttle"),
    Param::str("timeout"),
    Param::str("ui_repoid_vars"),
    Param::str("username"),
];

static SPEC: Spec = Spec {
    module: "yum_repository",
    params: &{
        const N: usize = OPTIONS.len();
        const REST: [Param; 11] = [
            Param::str("name").required(),
            Param::str("description"),
            Param::path("reposdir").default("/etc/yum.repos.d"),
            Param::str("file"),
            Param::str("state")
                .default("present")
                .choices(&["present", "absent"]),
            Param::mode("mode"),
            Param::str("owner"),
            Param::str("group"),
            Param::str("seuser"),
            Param::raw("unsafe_writes").default("false"),
            Param::str("attributes").aliases(&["attr"]),
        ];
        let mut all = [REST[0]; N + REST.len()];
        let mut i = 0;
        while i < all.len() {
            all[i] = if i < N { OPTIONS[i] } else { REST[i - N] };
            i += 1;
        }
        all
    },
    mutually_exclusive: &[],
    required_one_of: &[],
};

/// Accepted and ignored file arguments (SELinux parts).
static IGNORED: &[&str] = &["serole", "selevel", "setype"];

/// A .repo file as configparser holds it: sections in order, each with
/// its keys (lower-cased) in order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RepoFile {
    pub sections: Vec<(String, Vec<(String, String)>)>,
}

impl RepoFile {
    /// Reads text as configparser's RawConfigParser does.
    pub fn parse(text: &str) -> RepoFile {
        let mut f = RepoFile::default();
        // (section index, key index, indent of the key line)
        let mut current: Option<(usize, Option<usize>, usize)> = None;
        for raw in text.lines() {
            let trimmed = raw.trim();
            if trimmed.starts_with('#') || trimmed.starts_with(';') {
                continue;
            }
            let indent = raw.len() - raw.trim_start().len();
            if trimmed.is_empty() {
                // A blank line may sit inside a value; trailing ones are
                // stripped when the value ends.
                if let Some((s, Some(k), _)) = current {
                    f.sections[s].1[k].1.push('\n');
                }
                continue;
            }
            if let Some((s, Some(k), key_indent)) = current {
                if indent > key_indent {
                    let v = &mut f.sections[s].1[k].1;
                    if !v.ends_with('\n') {
                        v.push('\n');
                    }
                    v.push_str(trimmed);
                    continue;
                }
            }
            if trimmed.starts_with('[') && trimmed.ends_with(']') {
                let name = trimmed[1..trimmed.len() - 1].to_string();
                let idx = match f.sections.iter().position(|(n, _)| *n == name) {
                    Some(i) => i,
                    None => {
                        f.sections.push((name, Vec::new()));
                        f.sections.len() - 1
                    }
                };
                current = Some((idx, None, indent));
                continue;
            }
            let Some((s, _, _)) = current else { continue };
            let split = trimmed.find(['=', ':']);
            let (key, value) = match split {
                Some(i) => (trimmed[..i].trim_end(), trimmed[i + 1..].trim()),
                None => (trimmed, ""),
            };
            let key = key.to_lowercase();
            let opts = &mut f.sections[s].1;
            let k = match opts.iter().position(|(n, _)| *n == key) {
                Some(i) => {
                    opts[i].1 = value.to_string();
                    i
                }
                None => {
                    opts.push((key, value.to_string()));
                    opts.len() - 1
                }
            };
            current = Some((s, Some(k), indent));
        }
        for (_, opts) in f.sections.iter_mut() {
            for (_, v) in opts.iter_mut() {
                let t = v.trim_end().to_string();
                *v = t;
            }
        }
        f
    }

    /// The file as configparser writes it.
    pub fn write(&self) -> String {
        let mut out = String::new();
        for (name, opts) in &self.sections {
            out.push_str(&format!("[{name}]\n"));
            for (k, v) in opts {
                out.push_str(&format!("{k} = {}\n", v.replace('\n', "\n\t")));
            }
            out.push('\n');
        }
        out
    }

    /// Ansible's dump: sections and keys sorted, for the diff and for
    /// `changed`.
    pub fn dump(&self) -> String {
        let mut sections: Vec<&(String, Vec<(String, String)>)> = self.sections.iter().collect();
        sections.sort_by(|a, b| a.0.cmp(&b.0));
        let mut out = String::new();
        for (name, opts) in sections {
            out.push_str(&format!("[{name}]\n"));
            let mut opts: Vec<&(String, String)> = opts.iter().collect();
            opts.sort();
            for (k, v) in opts {
                out.push_str(&format!("{k} = {v}\n"));
            }
            out.push('\n');
        }
        out
    }

    pub fn remove(&mut self, section: &str) {
        self.sections.retain(|(n, _)| n != section);
    }
}

/// The section Ansible writes for the repository: every given option,
/// by name.
pub fn section_of(a: &Args) -> Vec<(String, String)> {
    let mut opts: Vec<(String, String)> = Vec::new();
    for p in OPTIONS {
        let value = match p.kind {
            Kind::Bool => a
                .bool(p.name)
                .map(|b| if b { "1" } else { "0" }.to_string()),
            Kind::List => a.list(p.name).map(|l| {
                let sep = if matches!(p.name, "baseurl" | "gpgkey") {
                    "\n"
                } else {
                    " "
                };
                l.join(sep)
            }),
            _ => a.str(p.name),
        };
        if let Some(v) = value {
            opts.push((p.name.to_string(), v));
        }
    }
    if let Some(d) = a.str("description") {
        opts.push(("name".into(), d));
    }
    opts.sort();
    opts
}

#[async_trait]
impl Module for YumRepository {
    fn name(&self) -> &'static str {
        "yum_repository"
    }

    fn spec(&self) -> Option<&'static Spec> {
        Some(&SPEC)
    }

    async fn run(&self, ctx: &ModuleContext<'_>) -> Result<Outcome, HostError> {
        let mut raw = ctx.args.clone();
        for k in IGNORED {
            raw.remove(*k);
        }
        let a = match SPEC.validate(&raw) {
            Ok(mut a) => {
                a.expand_user(ctx.host).await?;
                a
            }
            Err(e) => return Ok(Outcome::failed(e)),
        };
        let state = a.str_or("state", "present");
        if state == "present" {
            if !["baseurl", "mirrorlist", "metalink"]
                .iter()
                .any(|n| a.has(n))
            {
                return Ok(Outcome::failed(
                    "state is present but any of the following are missing: baseurl, mirrorlist, metalink",
                ));
            }
            if !a.has("description") {
                return Ok(Outcome::failed(
                    "state is present but all of the following are missing: description",
                ));
            }
        }
        let name = a.str_or("name", "");
        let reposdir = a.str_or("reposdir", "/etc/yum.repos.d");
        match ctx.host.stat(&reposdir, true).await? {
            Some(st) if st.kind == "directory" => {}
            _ => {
                return Ok(Outcome::failed(format!(
                    "Repo directory '{reposdir}' does not exist."
                )))
            }
        }
        let file = a.str("file").unwrap_or_else(|| name.clone());
        let dest = format!("{}/{file}.repo", reposdir.trim_end_matches('/'));
        let existing = match ctx.host.stat(&dest, true).await? {
            Some(st) if st.kind == "file" => ctx.host.read_file(&dest).await?,
            _ => None,
        };
        let mut repo = RepoFile::parse(&String::from_utf8_lossy(
            existing.as_deref().unwrap_or_default(),
        ));
        let before = repo.dump();
        repo.remove(&name);
        if state == "present" {
            repo.sections.push((name.clone(), section_of(&a)));
        }
        let after = repo.dump();
        let mut changed = before != after;
        if changed && !ctx.check_mode {
            if repo.sections.is_empty() {
                let r = ctx
                    .host
                    .exec(
                        &format!("rm -f -- {}", shell_quote(&dest)),
                        &ExecOptions::default(),
                    )
                    .await?;
                if r.rc != 0 {
                    return Ok(
                        Outcome::failed(format!("Cannot remove empty repo file {dest}."))
                            .with("details", r.stderr_text().trim().to_string()),
                    );
                }
            } else {
                ctx.host
                    .write_file(&dest, repo.write().as_bytes(), None)
                    .await?;
            }
        }
        let attrs = Attrs::from_args(&a);
        // Without mode/owner/group there is nothing more to compare.
        let st = if attrs.mode.is_none() && attrs.owner.is_none() && attrs.group.is_none() {
            None
        } else {
            ctx.host.stat(&dest, true).await?
        };
        if let Some(st) = st {
            let c = match attr_change(&attrs, &st) {
                Ok(c) => c,
                Err(e) => return Ok(Outcome::failed(e)),
            };
            if !c.is_empty() {
                changed = true;
                if !ctx.check_mode {
                    if let Err(e) = run_all(ctx.host, &attr_commands(&dest, &c, true)).await? {
                        return Ok(Outcome::failed(e));
                    }
                }
            }
        }
        let mut out = if changed {
            Outcome::changed()
        } else {
            Outcome::ok()
        };
        out.diff.push(Diff {
            before,
            after,
            before_header: Some(dest.clone()),
            after_header: Some(dest),
            ..Diff::default()
        });
        Ok(out.with("repo", name).with("state", state))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_writes_as_configparser() {
        let f = RepoFile::parse(
            "# comment\n[epel]\nName = EPEL\nbaseurl = http://a/\n  http://b/\n\n[other]\nenabled: 0\n",
        );
        assert_eq!(
            f.sections[0].1,
            vec![
                ("name".to_string(), "EPEL".to_string()),
                ("baseurl".to_string(), "http://a/\nhttp://b/".to_string())
            ]
        );
        assert_eq!(
            f.write(),
            "[epel]\nname = EPEL\nbaseurl = http://a/\n\thttp://b/\n\n[other]\nenabled = 0\n\n"
        );
    }
}
