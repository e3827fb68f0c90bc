//! The built-in modules by short name. The engine strips any
//! `ansible.builtin.` / `ansible.legacy.` prefix before asking.

use crate::api::Module;
use crate::args::{Kind, Param};
use crate::commands::{command::Command, raw::Raw, script::Script, shell::Shell};
use crate::files::{
    assemble::Assemble, blockinfile::BlockInFile, copy::Copy, fetch::Fetch, file::File, find::Find,
    ini_file::IniFile, lineinfile::LineInFile, replace::Replace, slurp::Slurp, stat::Stat,
    tempfile::TempFile, template::Template, unarchive::Unarchive,
};
use crate::net::{get_url::GetUrl, uri::Uri};
use crate::packaging::{
    apk::Apk, dnf::Dnf, package_facts::PackageFacts, pip::Pip, yum_repository::YumRepository,
};
use crate::packaging::{
    apt::Apt, apt_repository::AptRepository, deb822_repository::Deb822Repository, debconf::Debconf,
    package::Package,
};
use crate::source::git::Git;
use crate::system::{
    authorized_key::AuthorizedKey,
    cron::Cron,
    getent::Getent,
    group::Group,
    hostname::Hostname,
    known_hosts::KnownHosts,
    mount::Mount,
    service::Service,
    sysctl::Sysctl,
    systemd::{Systemd, SystemdAlias, ALIAS_DOC},
    user::User,
};
use crate::utilities::{ping::Ping, wait_for::WaitFor};

struct Entry {
    name: &'static str,
    module: &'static dyn Module,
    /// The module's source, whose leading `//!` comment is its doc.
    source: &'static str,
}

static ENTRIES: &[Entry] = &[
    Entry {
        name: "apk",
        module: &Apk,
        source: include_str!("packaging/apk.rs"),
    },
    Entry {
        name: "apt",
        module: &Apt,
        source: include_str!("packaging/apt.rs"),
    },
    Entry {
        name: "apt_repository",
        module: &AptRepository,
        source: include_str!("packaging/apt_repository.rs"),
    },
    Entry {
        name: "assemble",
        module: &Assemble,
        source: include_str!("files/assemble.rs"),
    },
    Entry {
        name: "authorized_key",
        module: &AuthorizedKey,
        source: include_str!("system/authorized_key.rs"),
    },
    Entry {
        name: "blockinfile",
        module: &BlockInFile,
        source: include_str!("files/blockinfile.rs"),
    },
    Entry {
        name: "command",
        module: &Command,
        source: include_str!("commands/command.rs"),
    },
    Entry {
        name: "copy",
        module: &Copy,
        source: include_str!("files/copy.rs"),
    },
    Entry {
        name: "cron",
        module: &Cron,
        source: include_str!("system/cron.rs"),
    },
    Entry {
        name: "deb822_repository",
        module: &Deb822Repository,
        source: include_str!("packaging/deb822_repository.rs"),
    },
    Entry {
        name: "debconf",
        module: &Debconf,
        source: include_str!("packaging/debconf.rs"),
    },
    Entry {
        name: "dnf",
        module: &Dnf,
        source: include_str!("packaging/dnf.rs"),
    },
    Entry {
        name: "fetch",
        module: &Fetch,
        source: include_str!("files/fetch.rs"),
    },
    Entry {
        name: "file",
        module: &File,
        source: include_str!("files/file.rs"),
    },
    Entry {
        name: "find",
        module: &Find,
        source: include_str!("files/find.rs"),
    },
    Entry {
        name: "get_url",
        module: &GetUrl,
        source: include_str!("net/get_url.rs"),
    },
    Entry {
        name: "getent",
        module: &Getent,
        source: include_str!("system/getent.rs"),
    },
    Entry {
        name: "git",
        module: &Git,
        source: include_str!("source/git.rs"),
    },
    Entry {
        name: "group",
        module: &Group,
        source: include_str!("system/group.rs"),
    },
    Entry {
        name: "hostname",
        module: &Hostname,
        source: include_str!("system/hostname.rs"),
    },
    Entry {
        name: "ini_file",
        module: &IniFile,
        source: include_str!("files/ini_file.rs"),
    },
    Entry {
        name: "known_hosts",
        module: &KnownHosts,
        source: include_str!("system/known_hosts.rs"),
    },
    Entry {
        name: "lineinfile",
        module: &LineInFile,
        source: include_str!("files/lineinfile.rs"),
    },
    Entry {
        name: "mount",
        module: &Mount,
        source: include_str!("system/mount.rs"),
    },
    Entry {
        name: "package",
        module: &Package,
        source: include_str!("packaging/package.rs"),
    },
    Entry {
        name: "package_facts",
        module: &PackageFacts,
        source: include_str!("packaging/package_facts.rs"),
    },
    Entry {
        name: "ping",
        module: &Ping,
        source: include_str!("utilities/ping.rs"),
    },
    Entry {
        name: "pip",
        module: &Pip,
        source: include_str!("packaging/pip.rs"),
    },
    Entry {
        name: "raw",
        module: &Raw,
        source: include_str!("commands/raw.rs"),
    },
    Entry {
        name: "replace",
        module: &Replace,
        source: include_str!("files/replace.rs"),
    },
    Entry {
        name: "script",
        module: &Script,
        source: include_str!("commands/script.rs"),
    },
    Entry {
        name: "service",
        module: &Service,
        source: include_str!("system/service.rs"),
    },
    Entry {
        name: "shell",
        module: &Shell,
        source: include_str!("commands/shell.rs"),
    },
    Entry {
        name: "slurp",
        module: &Slurp,
        source: include_str!("files/slurp.rs"),
    },
    Entry {
        name: "stat",
        module: &Stat,
        source: include_str!("files/stat.rs"),
    },
    Entry {
        name: "sysctl",
        module: &Sysctl,
        source: include_str!("system/sysctl.rs"),
    },
    Entry {
        name: "systemd",
        module: &SystemdAlias,
        source: ALIAS_DOC,
    },
    Entry {
        name: "systemd_service",
        module: &Systemd,
        source: include_str!("system/systemd.rs"),
    },
    Entry {
        name: "tempfile",
        module: &TempFile,
        source: include_str!("files/tempfile.rs"),
    },
    Entry {
        name: "template",
        module: &Template,
        source: include_str!("files/template.rs"),
    },
    Entry {
        name: "unarchive",
        module: &Unarchive,
        source: include_str!("files/unarchive.rs"),
    },
    Entry {
        name: "uri",
        module: &Uri,
        source: include_str!("net/uri.rs"),
    },
    Entry {
        name: "user",
        module: &User,
        source: include_str!("system/user.rs"),
    },
    Entry {
        name: "wait_for",
        module: &WaitFor,
        source: include_str!("utilities/wait_for.rs"),
    },
    Entry {
        name: "yum_repository",
        module: &YumRepository,
        source: include_str!("packaging/yum_repository.rs"),
    },
];

/// The module called `name` (short name), if herd has it. The
/// `ansible.builtin.` and `ansible.legacy.` spellings are accepted too.
pub fn get(name: &str) -> Option<&'static dyn Module> {
    let short = name
        .strip_prefix("ansible.builtin.")
        .or_else(|| name.strip_prefix("ansible.legacy."))
        .unwrap_or(name);
    // ansible-core 2.19 redirects `yum` to dnf (ansible_builtin_runtime.yml).
    let short = if short == "yum" { "dnf" } else { short };
    ENTRIES.iter().find(|e| e.name == short).map(|e| e.module)
}

/// The short names of every built-in module, sorted.
pub fn names() -> &'static [&'static str] {
    static NAMES: std::sync::OnceLock<Vec<&'static str>> = std::sync::OnceLock::new();
    NAMES.get_or_init(|| ENTRIES.iter().map(|e| e.name).collect())
}

/// The documentation of a module (`herd doc NAME`): the leading `//!`
/// comment of its source file.
pub fn doc(name: &str) -> Option<String> {
    let e = ENTRIES.iter().find(|e| e.name == name)?;
    let lines: Vec<&str> = e
        .source
        .lines()
        .take_while(|l| l.starts_with("//!"))
        .map(|l| {
            let l = &l[3..];
            l.strip_prefix(' ').unwrap_or(l)
        })
        .collect();
    Some(lines.join("\n") + "\n")
}

/// The argument table of a module, generated from the [`Spec`] its
/// validation reads: one line per argument with its type, whether it is
/// required, its default, choices and aliases.
pub fn arguments(name: &str) -> Option<String> {
    let spec = get(name)?.spec()?;
    let mut params: Vec<&Param> = spec
        .params
        .iter()
        .filter(|p| !p.name.starts_with('_'))
        .collect();
    params.sort_by_key(|p| p.name);
    let width = params.iter().map(|p| p.name.len()).max().unwrap_or(0);
    let mut out = String::from("Argument spec:\n");
    for p in params {
        let mut facts = vec![kind_name(p.kind).to_string()];
        if p.required {
            facts.push("required".into());
        }
        if let Some(d) = p.default {
            facts.push(format!("default: {}", if d.is_empty() { "''" } else { d }));
        }
        if !p.choices.is_empty() {
            facts.push(format!("choices: {}", p.choices.join(", ")));
        }
        if !p.aliases.is_empty() {
            facts.push(format!("aliases: {}", p.aliases.join(", ")));
        }
        out.push_str(&format!("  {:width$}  {}\n", p.name, facts.join("; ")));
    }
    Some(out)
}

/// Ansible's name of an argument type.
fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Str => "str",
        Kind::Path => "path",
        Kind::Bool => "bool",
        Kind::Int => "int",
        Kind::List => "list",
        Kind::Mode => "raw (mode)",
        Kind::Raw => "raw",
    }
}

/// The first line of a module's doc: what it does, for `herd doc --list`.
pub fn synopsis(name: &str) -> Option<String> {
    let d = doc(name)?;
    let mut first = String::new();
    for line in d.lines() {
        if line.trim().is_empty() {
            break;
        }
        if !first.is_empty() {
            first.push(' ');
        }
        first.push_str(line.trim());
    }
    let text = first.split_once(" — ").map_or(first.as_str(), |(_, t)| t);
    Some(text.to_string())
}

/// The whole of `herd doc NAME`: the module's doc and its argument table.
pub fn full_doc(name: &str) -> Option<String> {
    let short = get(name)?.name();
    let mut out = doc(short)?;
    if let Some(args) = arguments(short) {
        out.push('\n');
        out.push_str(&args);
    }
    Some(out)
}

/// docs/modules.md as generated from the modules' docs.
pub fn markdown() -> String {
    let mut out = String::from(
        "# Modules\n\n\
         The modules herd runs itself, on any host with a POSIX `sh` and the usual\n\
         tools (GNU or BusyBox); nothing is installed there. Each is called by its\n\
         short name or its `ansible.builtin.` name, with Ansible's arguments and\n\
         aliases. `herd doc NAME` prints the same text. This page is generated\n\
         from the modules' sources (`modules/src/`); `HERD_WRITE_DOCS=1 cargo test\n\
         --test module_docs` rewrites it.\n\n\
         Common to all of them:\n\n\
         - Arguments are checked before the host is touched: an unknown name fails\n\
           with Ansible's message (`Unsupported parameters for\n\
           (ansible.builtin.copy) module: contnet. Supported parameters include:\n\
           …`) and a \"did you mean\"; so do missing required arguments, values\n\
           outside `choices`, and values of the wrong type. Booleans take\n\
           yes/no, true/false, on/off, y/n, t/f, 1/0; lists take a comma-separated\n\
           string; modes take `'0644'`, `0644` (YAML octal) or `u+x,g-w`.\n\
         - `~` at the start of a path argument is the remote user's home.\n\
         - Check mode (`--check`) decides and reports `changed` without touching\n\
           anything; `--diff` returns before/after content (or state) where\n\
           Ansible does.\n\
         - File content is computed on the controller. A file it replaces is\n\
           written atomically (a temporary file renamed over it), keeping its\n\
           mode and owner; a new file is made with its mode, small text\n\
           written in place (removed again if the write fails).\n",
    );
    for name in names() {
        if let Some(doc) = full_doc(name) {
            out.push_str(&format!("\n## {name}\n\n```text\n{doc}```\n"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_the_entries() {
        let mut sorted = names().to_vec();
        sorted.sort_unstable();
        assert_eq!(sorted, names(), "entries are kept in name order");
        for n in names() {
            let m = get(n).expect(n);
            assert_eq!(m.name(), *n);
            assert!(crate::lookup(n).is_some(), "{n} is not in the catalogue");
            let d = doc(n).unwrap_or_default();
            assert!(d.starts_with(&format!("{n} — ")), "{n}: {d}");
        }
        assert!(get("nope").is_none());
        for n in names() {
            let args = arguments(n).unwrap_or_default();
            assert!(args.starts_with("Argument spec:"), "{n} has no spec");
        }
        let copy = arguments("copy").unwrap_or_default();
        assert!(copy.contains("  force "), "{copy}");
        assert!(copy.contains("bool; default: true"), "{copy}");
        assert!(copy.contains("aliases: attr"), "{copy}");
        assert_eq!(get("ansible.builtin.copy").map(|m| m.name()), Some("copy"));
        assert_eq!(get("ansible.legacy.shell").map(|m| m.name()), Some("shell"));
        assert!(get("community.general.copy").is_none());
    }
}
