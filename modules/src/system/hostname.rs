//! hostname — set the host's name, as Ansible's hostname module does on
//! each kind of system.
//!
//! The way is chosen as Ansible chooses it: `use` if given; else systemd's
//! `hostnamectl` when systemd runs the host; else by distribution
//! (/etc/os-release): the Debian family writes /etc/hostname (and, as in
//! Ansible, leaves the running name alone), the Red Hat family edits
//! HOSTNAME= in /etc/sysconfig/network, Alpine writes /etc/hostname and
//! runs `hostname -F`, Gentoo edits /etc/conf.d/hostname, SLES 10–12
//! writes /etc/HOSTNAME. Other systems (BSDs, macOS, Solaris) are refused
//! with Ansible's message.
//!
//! Tested: for real inside a UTS and mount namespace (`unshare -um`,
//! /etc/hostname bound to a scratch file), every step compared with
//! ansible's (tests/module_hostname.rs).
//!
//! Arguments:
//!   name  the name (required)
//!   use   systemd, debian (= systemd), alpine, openrc, redhat, sles,
//!         generic, freebsd, openbsd, macos/macosx/darwin, solaris
//!
//! Returns: name, ansible_facts (ansible_hostname, ansible_nodename,
//! ansible_fqdn, ansible_domain); diff (`hostname = …`) when changed.

use async_trait::async_trait;
use serde_json::json;

use crate::api::{shell_quote, Diff, ExecOptions, HostError, Module, ModuleContext, Outcome};
use crate::args::{Param, Spec};

pub struct Hostname;

static SPEC: Spec = Spec {
    module: "hostname",
    params: &[
        Param::str("name").required(),
        Param::str("use").choices(&[
            "alpine", "debian", "freebsd", "generic", "macos", "macosx", "darwin", "openbsd",
            "openrc", "redhat", "sles", "solaris", "systemd",
        ]),
    ],
    mutually_exclusive: &[],
    required_one_of: &[],
};

/// How the name is read and written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Strategy {
    Systemd,
    /// A file holding the name alone; the running name follows it only
    /// with `hostname -F` (Alpine).
    File {
        path: &'static str,
        apply: bool,
    },
    RedHat,
    OpenRc,
    /// Ansible has no way for this system.
    Unsupported,
}

/// The strategy for `use`, or for what the host reports: whether systemd
/// runs it, its os-release ID and VERSION_ID.
pub fn strategy(use_: Option<&str>, systemd: bool, id: &str, version: &str) -> Strategy {
    let etc_hostname = Strategy::File {
        path: "/etc/hostname",
        apply: false,
    };
    match use_ {
        Some("systemd" | "debian") => return Strategy::Systemd,
        Some("alpine") => {
            return Strategy::File {
                path: "/etc/hostname",
                apply: true,
            }
        }
        Some("openrc") => return Strategy::OpenRc,
        Some("redhat") => return Strategy::RedHat,
        Some("sles") => {
            return Strategy::File {
                path: "/etc/HOSTNAME",
                apply: false,
            }
        }
        Some(_) => return Strategy::Unsupported,
        None => {}
    }
    if systemd {
        return Strategy::Systemd;
    }
    match id {
        "debian" | "ubuntu" | "kali" | "parrot" | "linuxmint" | "linaro" | "devuan"
        | "raspbian" | "uos" | "deepin" | "neon" | "void" | "pop" | "kylin" | "cumulus-linux" => {
            etc_hostname
        }
        "rhel" | "centos" | "anolis" | "cloudlinux" | "alinux" | "scientific" | "ol"
        | "virtuozzo" | "amzn" | "altlinux" | "eurolinux" => Strategy::RedHat,
        "alpine" => Strategy::File {
            path: "/etc/hostname",
            apply: true,
        },
        "gentoo" => Strategy::OpenRc,
        "sles" | "sled" => match version.parse::<f64>() {
            Ok(v) if (10.0..=12.0).contains(&v) => Strategy::File {
                path: "/etc/HOSTNAME",
                apply: false,
            },
            _ => Strategy::Unsupported,
        },
        _ => Strategy::Unsupported,
    }
}

const SEP: &str = "@@herd-hostname@@";

/// One script printing what the strategy needs: the current and the
/// permanent name.
fn read_script(s: Strategy) -> String {
    // The whole file, trimmed afterwards (Ansible strips it whole).
    let file_name = |path: &str| format!("if [ -f {p} ]; then cat {p}; fi", p = shell_quote(path));
    match s {
        Strategy::Systemd => format!(
            "hostnamectl --transient status || exit 1; echo {SEP}; hostnamectl --static status || exit 1"
        ),
        Strategy::File { path, .. } => {
            let f = file_name(path);
            format!("{f}; echo {SEP}; {f}")
        }
        Strategy::RedHat => {
            let f = "awk '{ sub(/^[ \\t]+/, \"\") } /^HOSTNAME/ { split($0, kv, \"=\"); v = kv[2]; gsub(/^[ \\t]+|[ \\t]+$/, \"\", v); print v; found = 1; exit } END { if (!found) exit 3 }' /etc/sysconfig/network";
            format!("{f}; echo {SEP}; {f}")
        }
        Strategy::OpenRc => {
            let f = "[ ! -f /etc/conf.d/hostname ] || awk '{ gsub(/^[ \\t]+|[ \\t]+$/, \"\") } /^hostname=/ { v = substr($0, 11); gsub(/^\"+|\"+$/, \"\", v); print v; exit }' /etc/conf.d/hostname";
            format!("{f}; echo {SEP}; {f}")
        }
        Strategy::Unsupported => String::new(),
    }
}

/// The commands that set the current name and the permanent one.
fn write_script(s: Strategy, name: &str, current: bool, permanent: bool) -> String {
    let q = shell_quote(name);
    let mut parts = Vec::new();
    match s {
        Strategy::Systemd => {
            if permanent {
                parts.push(format!("hostnamectl --pretty --static set-hostname {q}"));
            }
            if current {
                parts.push(format!("hostnamectl --transient set-hostname {q}"));
            }
        }
        Strategy::File { path, apply } => {
            // Ansible sets the running name (from the file, as it still
            // is) before it writes the file.
            if current && apply {
                parts.push(format!("hostname -F {}", shell_quote(path)));
            }
            if permanent {
                parts.push(format!("printf '%s\\n' {q} > {}", shell_quote(path)));
            }
        }
        Strategy::RedHat => {
            if permanent {
                parts.push(format!(
                    "f=/etc/sysconfig/network; t=$(mktemp \"$f.XXXXXX\") || exit 1; \
                     {{ awk -v n={q} 'BEGIN {{ found = 0 }} {{ l = $0; sub(/^[ \\t]+/, \"\", l) }} l ~ /^HOSTNAME/ {{ print \"HOSTNAME=\" n; found = 1; next }} {{ print }} END {{ if (!found) print \"HOSTNAME=\" n }}' \"$f\" 2>/dev/null || printf 'HOSTNAME=%s\\n' {q}; }} > \"$t\" && mv -f -- \"$t\" \"$f\""
                ));
            }
        }
        Strategy::OpenRc => {
            if permanent {
                parts.push(format!(
                    "f=/etc/conf.d/hostname; t=$(mktemp \"$f.XXXXXX\") || exit 1; \
                     awk -v n={q} '{{ gsub(/^[ \\t]+|[ \\t]+$/, \"\") }} !done && /^hostname=/ {{ print \"hostname=\\\"\" n \"\\\"\"; done = 1; next }} {{ print }}' \"$f\" > \"$t\" && mv -f -- \"$t\" \"$f\""
                ));
            }
        }
        Strategy::Unsupported => {}
    }
    parts.join(" && ")
}

#[async_trait]
impl Module for Hostname {
    fn name(&self) -> &'static str {
        "hostname"
    }

    fn spec(&self) -> Option<&'static Spec> {
        Some(&SPEC)
    }

    async fn run(&self, ctx: &ModuleContext<'_>) -> Result<Outcome, HostError> {
        let a = match SPEC.parse(ctx).await? {
            Ok(a) => a,
            Err(o) => return Ok(o),
        };
        let name = a.str_or("name", "");
        let probe = ctx
            .host
            .exec(
                "s=no; if command -v systemctl >/dev/null 2>&1 && { [ -e /run/systemd/system/ ] || [ -e /dev/.run/systemd/ ] || [ -e /dev/.systemd/ ]; }; then s=yes; fi; \
                 ID=; VERSION_ID=; [ -r /etc/os-release ] && . /etc/os-release; printf '%s\\n%s\\n%s\\n%s\\n' \"$s\" \"$ID\" \"$VERSION_ID\" \"$(uname -s)\"",
                &ExecOptions::default(),
            )
            .await?;
        let probe = probe.stdout_text();
        let mut lines = probe.lines();
        let systemd = lines.next() == Some("yes");
        let id = lines.next().unwrap_or("").to_string();
        let version = lines.next().unwrap_or("").to_string();
        let system = lines.next().unwrap_or("").to_string();
        let s = strategy(a.str("use").as_deref(), systemd, &id, &version);
        if s == Strategy::Unsupported {
            let platform = if id.is_empty() {
                system
            } else {
                format!("{system} ({})", pretty_distribution(&id))
            };
            return Ok(Outcome::failed(format!(
                "hostname module cannot be used on platform {platform}"
            )));
        }
        if s == Strategy::Systemd && name.chars().count() > 64 {
            return Ok(Outcome::failed(
                "name cannot be longer than 64 characters on systemd servers, try a shorter name",
            ));
        }
        let r = ctx
            .host
            .exec(&read_script(s), &ExecOptions::default())
            .await?;
        if r.rc != 0 {
            let msg = if s == Strategy::RedHat && r.rc == 3 {
                "Unable to locate HOSTNAME entry in /etc/sysconfig/network".to_string()
            } else {
                format!(
                    "Command failed rc={}, out={}, err={}",
                    r.rc,
                    r.stdout_text(),
                    r.stderr_text()
                )
            };
            return Ok(Outcome::failed(msg));
        }
        let text = r.stdout_text();
        let (current, permanent) = text.split_once(&format!("{SEP}\n")).unwrap_or((&text, ""));
        let (current, permanent) = (current.trim().to_string(), permanent.trim().to_string());
        let set_current = current != name;
        let set_permanent = permanent != name;
        let changed = set_current || set_permanent;
        if changed && !ctx.check_mode {
            let script = write_script(s, &name, set_current, set_permanent);
            if !script.is_empty() {
                let r = ctx.host.exec(&script, &ExecOptions::default()).await?;
                if r.rc != 0 {
                    return Ok(Outcome::failed(format!(
                        "failed to update hostname: {}",
                        r.stderr_text().trim()
                    )));
                }
            }
        }
        let fqdn = ctx
            .host
            .exec(
                "hostname -f 2>/dev/null || hostname 2>/dev/null || uname -n",
                &ExecOptions::default(),
            )
            .await?
            .stdout_text()
            .trim()
            .to_string();
        let domain = fqdn.split('.').skip(1).collect::<Vec<_>>().join(".");
        let mut out = if changed {
            Outcome::changed()
        } else {
            Outcome::ok()
        };
        out = out.with("name", name.clone()).with(
            "ansible_facts",
            json!({
                "ansible_hostname": name.split('.').next().unwrap_or(""),
                "ansible_nodename": name,
                "ansible_fqdn": fqdn,
                "ansible_domain": domain,
            }),
        );
        if changed {
            let before = if name != current { current } else { permanent };
            out.set_diff(Diff {
                before: format!("hostname = {before}\n"),
                after: format!("hostname = {name}\n"),
                ..Diff::default()
            });
        }
        Ok(out)
    }
}

/// The distribution as Ansible's distro module names it in messages.
fn pretty_distribution(id: &str) -> String {
    match id {
        "rhel" => "Redhat".into(),
        "sles" => "Sles".into(),
        "ol" => "Oraclelinux".into(),
        "amzn" => "Amazon".into(),
        other => {
            let mut c = other.chars();
            c.next()
                .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
                .unwrap_or_default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strategies_as_ansible_picks_them() {
        let file = Strategy::File {
            path: "/etc/hostname",
            apply: false,
        };
        assert_eq!(strategy(None, false, "debian", "12"), file);
        assert_eq!(strategy(None, true, "debian", "12"), Strategy::Systemd);
        assert_eq!(strategy(None, false, "centos", "7"), Strategy::RedHat);
        assert_eq!(strategy(None, false, "gentoo", ""), Strategy::OpenRc);
        assert_eq!(strategy(None, false, "fedora", "40"), Strategy::Unsupported);
        assert_eq!(strategy(None, false, "sles", "15"), Strategy::Unsupported);
        assert_eq!(
            strategy(Some("debian"), false, "alpine", ""),
            Strategy::Systemd
        );
        assert_eq!(
            strategy(Some("freebsd"), false, "debian", ""),
            Strategy::Unsupported
        );
    }

    #[test]
    fn scripts_quote_the_name() {
        let s = write_script(
            Strategy::File {
                path: "/etc/hostname",
                apply: true,
            },
            "a;b",
            true,
            true,
        );
        assert_eq!(
            s,
            "hostname -F /etc/hostname && printf '%s\\n' 'a;b' > /etc/hostname"
        );
    }
}
