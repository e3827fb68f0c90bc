//! Dynamic inventories: an executable source run with `--list`, answering
//! JSON, as Ansible's `script` inventory plugin reads it:
//!
//! ```json
//! {"web": {"hosts": ["w1", "w2"], "vars": {"port": 80}, "children": ["db"]},
//!  "db": ["d1"],
//!  "_meta": {"hostvars": {"w1": {"role": "front"}}}}
//! ```
//!
//! A group may be a list of hosts; without `_meta.hostvars` each host's
//! variables come from running the script with `--host NAME`.

use std::collections::HashSet;
use std::path::Path;
use std::process::Command;

use super::Inventory;
use crate::diag::{warn, Diagnostic, Result};
use crate::value::type_name;
use crate::value::{Map, Value};

fn run(path: &Path, args: &[&str]) -> Result<String> {
    let out = Command::new(path).args(args).output().map_err(|e| {
        Diagnostic::new(format!(
            "could not run inventory script '{}': {e}",
            path.display()
        ))
    })?;
    let stderr = String::from_utf8_lossy(&out.stderr).trim_end().to_string();
    if !out.status.success() {
        let code = out
            .status
            .code()
            .map(|c| c.to_string())
            .unwrap_or_else(|| "a signal".into());
        let mut msg = format!(
            "inventory script '{}' ({}) failed with exit code {code}",
            path.display(),
            args.join(" ")
        );
        if !stderr.is_empty() {
            msg.push_str(":\n");
            msg.push_str(&stderr);
        }
        return Err(Diagnostic::new(msg));
    }
    String::from_utf8(out.stdout).map_err(|_| {
        Diagnostic::new(format!(
            "inventory script '{}' ({}) printed output that is not UTF-8",
            path.display(),
            args.join(" ")
        ))
    })
}

fn parse_json(path: &Path, args: &str, text: &str) -> Result<Value> {
    serde_json::from_str(text).map_err(|e| {
        Diagnostic::new(format!(
            "Inventory script result ('{}' {args}) could not be parsed as JSON: {e}",
            path.display()
        ))
        .hint("the script must print one JSON object on stdout")
    })
}

/// Runs the script at `path` and adds what it reports to `inv`.
pub fn parse(inv: &mut Inventory, path: &Path) -> Result<()> {
    let text = run(path, &["--list"])?;
    let data = parse_json(path, "--list", &text)?;
    let Value::Object(data) = data else {
        return Err(Diagnostic::new(format!(
            "Inventory script result ('{}' --list) is '{}' instead of 'dict'.",
            path.display(),
            type_name(&data)
        )));
    };
    let err = |msg: String| {
        Diagnostic::new(format!(
            "Inventory script '{}' gave invalid data: {msg}",
            path.display()
        ))
    };
    let mut meta: Option<Map<String, Value>> = None;
    let mut hosts: Vec<String> = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    for (group, gdata) in &data {
        if group == "_meta" {
            match gdata.get("hostvars") {
                Some(Value::Object(m)) => meta = Some(m.clone()),
                other => {
                    return Err(err(format!(
                        "Value contains '_meta.hostvars' which is '{}' instead of 'dict'.",
                        other.map(type_name).unwrap_or("NoneType")
                    )))
                }
            }
            continue;
        }
        let group = inv.add_group(group);
        let gdata = match gdata {
            Value::Object(m)
                if ["hosts", "vars", "children"]
                    .iter()
                    .any(|k| m.contains_key(*k)) =>
            {
                m.clone()
            }
            Value::Object(m) => {
                // A dict with none of the known keys: the group is its own
                // sole host and the dict its variables (deprecated form).
                let mut d = Map::new();
                d.insert(
                    "hosts".into(),
                    Value::Array(vec![Value::String(group.clone())]),
                );
                d.insert("vars".into(), Value::Object(m.clone()));
                d
            }
            other => {
                let mut d = Map::new();
                d.insert("hosts".into(), other.clone());
                d
            }
        };
        if let Some(h) = gdata.get("hosts") {
            let Value::Array(list) = h else {
                return Err(err(format!(
                    "Value contains '{group}.hosts' which is '{}' instead of 'list'.",
                    type_name(h)
                )));
            };
            for name in list {
                let name = match name {
                    Value::String(s) => s.clone(),
                    other => crate::value::py_str(other),
                };
                if seen.insert(name.clone()) {
                    hosts.push(name.clone());
                }
                inv.add_host(&name, Some(&group), None, Some(path));
            }
        }
        if let Some(v) = gdata.get("vars") {
            let Value::Object(vars) = v else {
                return Err(err(format!(
                    "Value contains '{group}.vars' which is '{}' instead of 'dict'.",
                    type_name(v)
                )));
            };
            for (k, v) in vars {
                inv.set_group_var(&group, k, v.clone())?;
            }
        }
        if let Some(children) = gdata.get("children") {
            let names: Vec<String> = match children {
                Value::Array(a) => a.iter().map(crate::value::py_str).collect(),
                Value::Object(m) => m.keys().cloned().collect(),
                Value::String(s) => s.chars().map(String::from).collect(),
                _ => Vec::new(),
            };
            for child in names {
                let child = inv.add_group(&child);
                inv.add_child(&group, &child)?;
            }
        }
    }
    if meta.is_none() {
        warn(format!(
            "Inventory script '{}' gave no '_meta.hostvars'; running it with --host for each host",
            path.display()
        ));
    }
    for host in hosts {
        let vars = match &meta {
            Some(m) => m.get(&host).cloned().unwrap_or(Value::Object(Map::new())),
            None => {
                let text = run(path, &["--host", &host])?;
                if text.trim().is_empty() {
                    Value::Object(Map::new())
                } else {
                    parse_json(path, &format!("--host {host}"), &text)?
                }
            }
        };
        let Value::Object(vars) = vars else {
            return Err(err(format!(
                "host '{host}' has variables of type '{}' instead of 'dict'",
                type_name(&vars)
            )));
        };
        for (k, v) in vars {
            inv.set_host_var(&host, &k, v);
        }
    }
    Ok(())
}
