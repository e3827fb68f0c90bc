//! sysctl — set a kernel parameter in a sysctl file, and optionally in the
//! running kernel, as ansible.posix.sysctl does.
//!
//! The file's value decides: a missing or different `name=value` line is
//! written (the whole file is rewritten as Ansible writes it: each line
//! stripped, `key = value` becomes `key=value`, a key's later duplicates
//! dropped). With `reload` (default yes) a change — or a running value
//! that differs from the file — runs `sysctl -p FILE`. With `sysctl_set`
//! the running value is compared too and set with `sysctl -w`. Values are
//! compared word by word; `yes`/`no`/`true`/`false`/… become `1`/`0`. On
//! FreeBSD the reload is `/etc/rc.d/sysctl reload`; on OpenBSD every
//! value of the file is set one by one.
//!
//! Tested: for real on `net.*` keys inside a network namespace
//! (`unshare -n`) with a scratch sysctl file, every step compared with
//! ansible.posix.sysctl's output, file and running values
//! (tests/module_sysctl.rs).
//!
//! Arguments:
//!   name          the key, e.g. net.ipv4.ip_forward (required; alias key)
//!   value         the value (required with state=present; alias val)
//!   state         present (default) or absent (the line is removed)
//!   sysctl_file   the file (default /etc/sysctl.conf)
//!   reload        run `sysctl -p FILE` after a change (default yes)
//!   sysctl_set    compare and set the running value too (default no)
//!   ignoreerrors  pass -e to sysctl: unknown keys are not errors
//!
//! Returns: changed (nothing else, as Ansible); no diff.

use async_trait::async_trait;

use crate::api::{shell_quote, ExecOptions, HostError, Module, ModuleContext, Outcome};
use crate::args::{Param, RequiredIf, Spec};

pub struct Sysctl;

static SPEC: Spec = Spec {
    module: "sysctl",
    params: &[
        Param::str("name").required().aliases(&["key"]),
        Param::str("value").aliases(&["val"]),
        Param::str("state")
            .default("present")
            .choices(&["present", "absent"]),
        Param::bool("reload").default("true"),
        Param::bool("sysctl_set").default("false"),
        Param::bool("ignoreerrors").default("false"),
        Param::path("sysctl_file").default("/etc/sysctl.conf"),
    ],
    mutually_exclusive: &[],
    required_one_of: &[],
};

static REQUIRED_IF: &[RequiredIf] = &[RequiredIf {
    key: "state",
    default: Some("present"),
    value: "present",
    needs: &["value"],
}];

/// What the task asks for, normalised as Ansible does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Wanted {
    pub name: String,
    /// The value, stripped, with booleans as `1`/`0`; empty for absent.
    pub value: String,
    pub present: bool,
    pub reload: bool,
    pub sysctl_set: bool,
}

/// The host as the module finds it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Facts {
    /// `sysctl -n NAME`'s output; `None` when sysctl failed.
    pub running: Option<String>,
    /// The sysctl file's text; `None` when it is not a regular file.
    pub file: Option<String>,
}

/// What to do.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Plan {
    pub changed: bool,
    /// Set the running value with `sysctl -w`.
    pub set_running: bool,
    /// The file's new text.
    pub write: Option<String>,
    /// Reload the file into the kernel.
    pub reload: bool,
    /// The file's values, in order (OpenBSD reloads them one by one).
    pub file_values: Vec<(String, String)>,
}

/// The value as Ansible's sysctl module compares it: booleans as 1/0,
/// anything else stripped.
pub fn normalise_value(v: &str) -> String {
    match v.to_ascii_lowercase().as_str() {
        "y" | "yes" | "on" | "1" | "true" | "t" => "1".into(),
        "n" | "no" | "off" | "0" | "false" | "f" => "0".into(),
        _ => v.trim().to_string(),
    }
}

/// Equal word for word (runs of whitespace do not matter).
fn same_words(a: &str, b: &str) -> bool {
    a.split_whitespace().eq(b.split_whitespace())
}

/// A `key=value` line's key and value (both stripped); `None` for blank
/// lines, comments (`#`, `;`) and lines without `=`.
fn entry(line: &str) -> Option<(&str, &str)> {
    if line.is_empty() || line.starts_with(['#', ';']) {
        return None;
    }
    let (k, v) = line.split_once('=')?;
    Some((k.trim(), v.trim()))
}

/// Decides, from the wanted state and the host's, what to do.
pub fn plan(w: &Wanted, facts: &Facts) -> Plan {
    let lines: Vec<&str> = facts
        .file
        .as_deref()
        .map(|t| t.lines().map(str::trim).collect())
        .unwrap_or_default();
    // The last line of a key holds its value.
    let mut file_values: Vec<(String, String)> = Vec::new();
    for (k, v) in lines.iter().filter_map(|l| entry(l)) {
        match file_values.iter_mut().find(|(n, _)| n == k) {
            Some(slot) => slot.1 = v.to_string(),
            None => file_values.push((k.to_string(), v.to_string())),
        }
    }
    let in_file = file_values
        .iter()
        .find(|(k, _)| *k == w.name)
        .map(|(_, v)| v.clone());

    // The new text: other lines as they are (stripped), each key's first
    // line only, the key's line replaced or removed, or added at the end.
    let mut seen: Vec<&str> = Vec::new();
    let mut out = String::new();
    for line in &lines {
        match entry(line) {
            None => {
                out.push_str(line);
                out.push('\n');
            }
            Some((k, v)) => {
                if seen.contains(&k) {
                    continue;
                }
                seen.push(k);
                if k == w.name {
                    if w.present {
                        out.push_str(&format!("{k}={}\n", w.value.trim()));
                    }
                } else {
                    out.push_str(&format!("{k}={v}\n"));
                }
            }
        }
    }
    if w.present && !seen.contains(&w.name.as_str()) {
        out.push_str(&format!("{}={}\n", w.name, w.value.trim()));
    }

    let running_differs = match &facts.running {
        None => true,
        Some(r) => !same_words(r, &w.value),
    };
    let mut p = Plan {
        file_values,
        ..Plan::default()
    };
    let write = match (&in_file, w.present) {
        (None, true) => true,
        (None, false) => false,
        (Some(v), false) if !v.is_empty() => true,
        (Some(v), _) if *v != w.value => true,
        _ => {
            if w.reload && running_differs {
                p.changed = true;
            }
            false
        }
    };
    if write {
        p.changed = true;
        p.write = Some(out);
    }
    if w.sysctl_set && w.present && running_differs {
        p.changed = true;
        // Ansible sets the running value only when sysctl could read it.
        p.set_running = facts.running.is_some();
    }
    p.reload = p.changed && w.reload;
    p
}

const SEP: &str = "@@herd-sysctl@@";
const LANG_C: &str = "LANG=C LC_ALL=C LC_MESSAGES=C";

/// sysctl's errors that it reports with a zero exit status.
fn stderr_failed(err: &str) -> bool {
    err.lines().any(|l| {
        l.strip_prefix("sysctl: setting key \"")
            .and_then(|r| r.split_once("\": "))
            .is_some_and(|(key, why)| {
                !key.is_empty()
                    && !key.contains('"')
                    && matches!(why, "Invalid argument" | "Read-only file system")
            })
    })
}

#[async_trait]
impl Module for Sysctl {
    fn name(&self) -> &'static str {
        "sysctl"
    }

    fn spec(&self) -> Option<&'static Spec> {
        Some(&SPEC)
    }

    async fn run(&self, ctx: &ModuleContext<'_>) -> Result<Outcome, HostError> {
        let a = match SPEC.parse_required_if(ctx, REQUIRED_IF).await? {
            Ok(a) => a,
            Err(o) => return Ok(o),
        };
        let present = a.str_or("state", "present") == "present";
        let raw_value = a.str("value");
        if a.str_or("name", "").is_empty() {
            return Ok(Outcome::failed("name cannot be blank"));
        }
        if present && raw_value.as_deref() == Some("") {
            return Ok(Outcome::failed("value cannot be blank"));
        }
        let w = Wanted {
            name: a.str_or("name", "").trim().to_string(),
            value: raw_value
                .as_deref()
                .map(normalise_value)
                .unwrap_or_default(),
            present,
            reload: a.bool_or("reload", true),
            sysctl_set: a.bool_or("sysctl_set", false),
        };
        let ignore = a.bool_or("ignoreerrors", false);
        let file = a.str_or("sysctl_file", "/etc/sysctl.conf");
        let qfile = shell_quote(&file);

        // One round trip: where sysctl is, the system, the running value,
        // the file's real path and its text.
        let probe = format!(
            "PATH=\"$PATH:/sbin:/usr/sbin:/usr/local/sbin\"; export {LANG_C}\n\
             s=$(command -v sysctl) || {{ printf 'missing\\n%s\\n' \"$PATH\"; exit 0; }}\n\
             os=$(uname -s); printf '%s\\n%s\\n' \"$s\" \"$os\"\n\
             if [ \"$os\" = OpenBSD ]; then v=$(\"$s\" -n {name} 2>/dev/null); else v=$(\"$s\" -e -n {name} 2>/dev/null); fi\n\
             printf '%s\\n{SEP}\\n%s\\n{SEP}\\n' \"$?\" \"$v\"\n\
             r=$(readlink -f -- {qfile} 2>/dev/null) || r=; printf '%s\\n' \"$r\"\n\
             if [ -f {qfile} ]; then echo file; cat -- {qfile} || exit 1; else echo none; fi",
            name = shell_quote(&w.name),
        );
        let r = ctx.host.exec(&probe, &ExecOptions::default()).await?;
        let text = r.stdout_text();
        if let Some(path) = text.strip_prefix("missing\n") {
            return Ok(Outcome::failed(format!(
                "Failed to find required executable \"sysctl\" in paths: {}",
                path.trim_end()
            )));
        }
        if r.rc != 0 {
            return Ok(Outcome::failed(format!(
                "Failed to open {file}: {}",
                r.stderr_text().trim()
            )));
        }
        let parsed = (|| {
            let (head, rest) = text.split_once(&format!("\n{SEP}\n"))?;
            let (value, rest) = rest.split_once(&format!("\n{SEP}\n"))?;
            let mut head = head.lines();
            let sysctl = head.next()?.to_string();
            let os = head.next()?.to_string();
            let rc: i32 = head.next()?.parse().ok()?;
            let (real, rest) = rest.split_once('\n')?;
            let content = match rest.split_once('\n') {
                Some(("file", c)) => Some(c.to_string()),
                _ => None,
            };
            Some((
                sysctl,
                os,
                (rc == 0).then(|| value.to_string()),
                real.to_string(),
                content,
            ))
        })();
        let Some((sysctl, os, running, real, content)) = parsed else {
            return Ok(Outcome::failed(format!(
                "could not read the state of {}: {}",
                w.name,
                r.stderr_text().trim()
            )));
        };
        // readlink -f fails when a directory is missing: the path as given.
        let real = if real.is_empty() { file.clone() } else { real };
        let facts = Facts {
            running,
            file: content,
        };
        let p = plan(&w, &facts);
        let out = if p.changed {
            Outcome::changed()
        } else {
            Outcome::ok()
        };
        if ctx.check_mode {
            return Ok(out);
        }
        let s = shell_quote(&sysctl);
        let run = |cmd: String| async move {
            ctx.host
                .exec(&format!("{LANG_C} {cmd}"), &ExecOptions::default())
                .await
        };
        let set_cmd = |name: &str, value: &str| {
            let kv = shell_quote(&format!("{name}={value}"));
            match (os.as_str(), ignore) {
                ("OpenBSD", _) => format!("{s} {kv}"),
                ("FreeBSD", true) => format!("{s} -i {kv}"),
                ("FreeBSD", false) => format!("{s} {kv}"),
                (_, true) => format!("{s} -e -w {kv}"),
                (_, false) => format!("{s} -w {kv}"),
            }
        };
        let set_failed = |name: &str, r: &crate::api::ExecResult| {
            (r.rc != 0 || stderr_failed(&r.stderr_text())).then(|| {
                Outcome::failed(format!(
                    "setting {name} failed: {}{}",
                    r.stdout_text(),
                    r.stderr_text()
                ))
            })
        };
        if p.set_running {
            let r = run(set_cmd(&w.name, &w.value)).await?;
            if let Some(f) = set_failed(&w.name, &r) {
                return Ok(f);
            }
        }
        if let Some(text) = &p.write {
            ctx.host.write_file(&real, text.as_bytes(), None).await?;
        }
        if p.reload {
            if os == "OpenBSD" {
                let mut sets: Vec<(&str, &str)> = p
                    .file_values
                    .iter()
                    .filter(|(k, _)| *k != w.name)
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect();
                if w.present {
                    sets.push((&w.name, &w.value));
                }
                for (k, v) in sets {
                    let r = run(set_cmd(k, v)).await?;
                    if let Some(f) = set_failed(k, &r) {
                        return Ok(f);
                    }
                }
                return Ok(out);
            }
            let cmd = match (os.as_str(), ignore) {
                ("FreeBSD", _) => "/etc/rc.d/sysctl reload".to_string(),
                (_, true) => format!("{s} -e -p {qfile}"),
                (_, false) => format!("{s} -p {qfile}"),
            };
            let r = run(cmd).await?;
            if r.rc != 0 || stderr_failed(&r.stderr_text()) {
                return Ok(Outcome::failed(format!(
                    "Failed to reload sysctl: {}{}",
                    r.stdout_text(),
                    r.stderr_text()
                )));
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn want(name: &str, value: &str, present: bool) -> Wanted {
        Wanted {
            name: name.into(),
            value: value.into(),
            present,
            reload: true,
            sysctl_set: false,
        }
    }

    fn facts(running: Option<&str>, file: Option<&str>) -> Facts {
        Facts {
            running: running.map(str::to_string),
            file: file.map(str::to_string),
        }
    }

    #[test]
    fn a_missing_key_is_added_and_reloaded() {
        let p = plan(&want("a.b", "1", true), &facts(Some("0\n"), None));
        assert!(p.changed && p.reload && !p.set_running);
        assert_eq!(p.write.as_deref(), Some("a.b=1\n"));
    }

    #[test]
    fn the_file_is_normalised_when_rewritten() {
        let text = "# c\n a.b = 0 \n\n;x\nc.d=1\na.b=2\nc.d=3\n";
        let p = plan(&want("c.d", "5", true), &facts(Some("0"), Some(text)));
        assert_eq!(p.write.as_deref(), Some("# c\na.b=0\n\n;x\nc.d=5\n"));
        // The last line of a key is its value: a.b is 2, as wanted.
        let p = plan(&want("a.b", "2", true), &facts(Some("2"), Some(text)));
        assert_eq!(
            p,
            Plan {
                file_values: p.file_values.clone(),
                ..Plan::default()
            }
        );
        let p = plan(&want("a.b", "", false), &facts(Some("2"), Some(text)));
        assert_eq!(p.write.as_deref(), Some("# c\n\n;x\nc.d=1\n"));
    }

    #[test]
    fn the_running_value_decides_a_reload_and_a_set() {
        let text = "a.b=1 2\n";
        assert!(
            !plan(
                &want("a.b", "1 2", true),
                &facts(Some("1\t2\n"), Some(text))
            )
            .changed
        );
        let p = plan(&want("a.b", "1 2", true), &facts(Some("1 3"), Some(text)));
        assert!(p.changed && p.reload && p.write.is_none());
        let mut w = want("a.b", "1 2", true);
        w.reload = false;
        assert!(!plan(&w, &facts(Some("1 3"), Some(text))).changed);
        w.sysctl_set = true;
        let p = plan(&w, &facts(Some("1 3"), Some(text)));
        assert!(p.changed && p.set_running && !p.reload);
        let p = plan(&w, &facts(None, Some(text)));
        assert!(p.changed && !p.set_running);
    }

    #[test]
    fn values_and_errors_as_ansible_reads_them() {
        assert_eq!(normalise_value("Yes"), "1");
        assert_eq!(normalise_value("off"), "0");
        assert_eq!(normalise_value(" 4096 "), "4096");
        assert!(stderr_failed(
            "x\nsysctl: setting key \"net.a\": Invalid argument\n"
        ));
        assert!(!stderr_failed(
            "sysctl: setting key \"net.a\": Permission denied"
        ));
    }
}
