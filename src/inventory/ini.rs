//! INI inventories, as Ansible's `ini` inventory plugin reads them.
//!
//! ```ini
//! top.example.com            # before any section: group `ungrouped`
//! [web]
//! web[01:03].example.com ansible_user=deploy port_hint=8080
//! [web:vars]
//! http_port=80
//! [prod:children]
//! web
//! ```
//!
//! Values, inline or under `[g:vars]`, are Python literals when they
//! spell one (see [`super::pyliteral`]) and strings otherwise.

use std::collections::HashMap;
use std::path::Path;
use std::sync::OnceLock;

use regex::Regex;

use super::{address, pyliteral, Inventory};
use crate::diag::{Diagnostic, Loc, Result};

struct Pending {
    line: u32,
    state: State,
    parents: Vec<String>,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum State {
    Hosts,
    Children,
    Vars,
}

fn section_re() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    R.get_or_init(|| {
        Regex::new(r"^\[([^:\]\s]+)(?::(\w+))?\]\s*(?:#.*)?$").expect("static pattern is valid")
    })
}

fn groupname_re() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    R.get_or_init(|| Regex::new(r"^([^:\]\s]+)\s*(?:#.*)?$").expect("static pattern is valid"))
}

/// Reads the INI inventory at `path` into `inv`.
pub fn parse(inv: &mut Inventory, path: &Path) -> Result<()> {
    let bytes = std::fs::read(path).map_err(|e| {
        Diagnostic::new(format!(
            "could not read inventory '{}': {e}",
            path.display()
        ))
    })?;
    let bytes = crate::vault::open_file_data(bytes, path)?;
    let text = String::from_utf8_lossy(&bytes);
    parse_str(inv, &text, path)
}

/// Reads INI inventory text; `path` names it in errors and becomes the
/// hosts' `inventory_file`.
pub fn parse_str(inv: &mut Inventory, text: &str, path: &Path) -> Result<()> {
    let file = path.display().to_string();
    let mut pending: HashMap<String, Pending> = HashMap::new();
    // Pending declarations are reported in the order they were made.
    let mut pending_order: Vec<String> = Vec::new();
    let mut group = "ungrouped".to_string();
    let mut state = State::Hosts;
    for (idx, raw) in text.lines().enumerate() {
        let lineno = idx as u32 + 1;
        let line = raw.trim();
        if line.is_empty() || line.starts_with(['#', ';']) {
            continue;
        }
        // Column of the first non-blank character, for carets.
        let col = (raw.chars().take_while(|c| c.is_whitespace()).count() + 1) as u32;
        let loc = Loc::new(file.as_str(), lineno, col);
        let fail = |msg: String| {
            Diagnostic::new(format!("Failed to parse inventory: {msg}")).at(loc.clone())
        };
        if let Some(m) = section_re().captures(line) {
            group = m[1].to_string();
            let tag = m.get(2).map(|t| t.as_str()).unwrap_or("hosts");
            state = match tag {
                "hosts" => State::Hosts,
                "children" => State::Children,
                "vars" => State::Vars,
                other => {
                    return Err(fail(format!(
                        "Section [{group}:{other}] has unknown type: {other}"
                    ))
                    .hint("a section is [group], [group:vars] or [group:children]"))
                }
            };
            if !inv.groups.contains_key(&group) {
                if state == State::Vars && !pending.contains_key(&group) {
                    pending.insert(
                        group.clone(),
                        Pending {
                            line: lineno,
                            state,
                            parents: Vec::new(),
                        },
                    );
                    pending_order.push(group.clone());
                }
                inv.add_group(&group);
            }
            if state != State::Vars {
                if let Some(p) = pending.get(&group) {
                    match p.state {
                        State::Children => add_pending_children(inv, &group, &mut pending)
                            .map_err(|d| d.or_at(&loc))?,
                        _ => {
                            pending.remove(&group);
                        }
                    }
                }
            }
            continue;
        }
        if line.starts_with('[') && line.ends_with(']') {
            return Err(fail(format!(
                "Invalid section entry: '{line}'. Please make sure that there are no spaces in the section entry, and that there are no other invalid characters"
            )));
        }
        match state {
            State::Hosts => {
                let tokens = pyliteral::shlex_split(line)
                    .map_err(|e| fail(format!("Error parsing host definition '{line}': {e}")))?;
                let Some(first) = tokens.first() else {
                    continue;
                };
                if first.starts_with('[') && address::parse_address(first, true).is_none() {
                    return Err(fail(format!(
                        "Invalid section entry: '{line}'. Please make sure that there are no spaces in the section entry, and that there are no other invalid characters"
                    ))
                    .hint("a section header is [group], [group:vars] or [group:children] on a line of its own"));
                }
                let (names, port) = address::expand_hostpattern(first).map_err(&fail)?;
                if first.trim().ends_with(':') && port.is_none() {
                    return Err(fail(format!(
                        "Invalid host pattern '{first}' supplied, ending in ':' is not allowed, this character is reserved to provide a port."
                    )));
                }
                if names.iter().any(|n| n.trim() == "---") {
                    return Err(fail(format!(
                        "Invalid host pattern '{first}' supplied, '---' is normally a sign this is a YAML file."
                    )));
                }
                let mut vars = Vec::new();
                for t in &tokens[1..] {
                    let Some((k, v)) = t.split_once('=') else {
                        return Err(fail(format!(
                            "Expected key=value host variable assignment, got: {t}"
                        ))
                        .hint("host variables are written name=value after the host name"));
                    };
                    vars.push((k.to_string(), pyliteral::ini_value(v)));
                }
                for name in &names {
                    inv.add_host(name, Some(&group), port, Some(path));
                    for (k, v) in &vars {
                        inv.set_host_var(name, k, v.clone());
                    }
                }
            }
            State::Vars => {
                let Some((k, v)) = line.split_once('=') else {
                    return Err(fail(format!("Expected key=value, got: {line}"))
                        .hint("lines under [group:vars] are name=value"));
                };
                inv.set_group_var(&group, k.trim(), pyliteral::ini_value(v.trim()))
                    .map_err(|d| d.or_at(&loc))?;
            }
            State::Children => {
                let Some(m) = groupname_re().captures(line) else {
                    return Err(fail(format!("Expected group name, got: {line}")));
                };
                let child = m[1].to_string();
                if !inv.groups.contains_key(&child) {
                    match pending.get_mut(&child) {
                        Some(p) => p.parents.push(group.clone()),
                        None => {
                            pending.insert(
                                child.clone(),
                                Pending {
                                    line: lineno,
                                    state: State::Children,
                                    parents: vec![group.clone()],
                                },
                            );
                            pending_order.push(child);
                        }
                    }
                } else {
                    inv.add_child(&group, &child).map_err(|d| d.or_at(&loc))?;
                }
            }
        }
    }
    for name in pending_order {
        let Some(p) = pending.get(&name) else {
            continue;
        };
        let loc = Loc::new(file.as_str(), p.line, 1);
        let msg = match p.state {
            State::Vars => format!("Section [{name}:vars] not valid for undefined group '{name}'."),
            _ => format!(
                "Section [{}:children] includes undefined group '{name}'.",
                p.parents.last().map(String::as_str).unwrap_or("")
            ),
        };
        return Err(Diagnostic::new(format!("Failed to parse inventory: {msg}"))
            .at(loc)
            .hint(format!("define the group with a [{name}] section")));
    }
    Ok(())
}

fn add_pending_children(
    inv: &mut Inventory,
    group: &str,
    pending: &mut HashMap<String, Pending>,
) -> Result<()> {
    let parents = pending
        .get(group)
        .map(|p| p.parents.clone())
        .unwrap_or_default();
    for parent in parents {
        inv.add_child(&parent, group)?;
        if pending
            .get(&parent)
            .is_some_and(|p| p.state == State::Children)
        {
            add_pending_children(inv, &parent, pending)?;
        }
    }
    pending.remove(group);
    Ok(())
}
