//! YAML (and JSON) inventories, as Ansible's `yaml` inventory plugin reads
//! them:
//!
//! ```yaml
//! all:
//!   hosts:
//!     web1.example.com:
//!       ansible_port: 2222
//!   vars:
//!     ntp_server: ntp.example.com
//!   children:
//!     db:
//!       hosts:
//!         db[01:03].example.com:
//! ```
//!
//! Groups nest to any depth; other top-level groups than `all` are allowed;
//! null values mean "nothing here".

use std::path::Path;

use super::{address, Inventory};
use crate::diag::{warn, Diagnostic, Result};
use crate::yaml::{load_file, Node, NodeKind};

/// Loads the file as YAML; fails when it is no YAML mapping (so the caller
/// can try it as INI).
pub fn load(path: &Path) -> Result<Node> {
    let node = load_file(path)?;
    match &node.kind {
        NodeKind::Map(m) if !m.is_empty() => {}
        NodeKind::Null => {
            return Err(Diagnostic::new(format!(
                "Parsed empty YAML file: {}",
                path.display()
            )))
        }
        NodeKind::Map(_) => {
            return Err(Diagnostic::new(format!(
                "Parsed empty YAML file: {}",
                path.display()
            )))
        }
        _ => {
            return Err(bad(
                format!(
                    "YAML inventory has invalid structure, it should be a dictionary, got: {}",
                    node.type_name()
                ),
                node.loc.clone(),
            ))
        }
    }
    if node.get("plugin").is_some_and(|p| !p.is_null()) {
        return Err(Diagnostic::new(format!(
            "{} is an inventory plugin configuration, which herd does not support",
            path.display()
        ))
        .hint(
            "list the hosts in an INI or YAML inventory, or use an executable inventory script",
        ));
    }
    Ok(node)
}

/// Adds the groups and hosts of a loaded YAML inventory to `inv`.
pub fn apply(inv: &mut Inventory, node: &Node, path: &Path) -> Result<()> {
    for (k, v) in node.as_map().unwrap_or_default() {
        let name = k.key_text().unwrap_or_default();
        parse_group(inv, &name, v, path)?;
    }
    Ok(())
}

fn parse_group(inv: &mut Inventory, group: &str, data: &Node, path: &Path) -> Result<String> {
    let entries = match &data.kind {
        NodeKind::Map(m) => m.as_slice(),
        NodeKind::Null => &[],
        _ => {
            warn(format!(
                "Skipping '{group}' as this is not a valid group definition"
            ));
            return Ok(group.to_string());
        }
    };
    if group.is_empty() {
        return Err(bad(
            "Unable to add group : Invalid empty/false group name provided",
            data.loc.clone(),
        ));
    }
    let group = inv.add_group(group);
    for (k, v) in entries {
        let key = k.key_text().unwrap_or_default();
        // A section given as a bare string means {string: None}.
        let synthetic;
        let v = match (&v.kind, key.as_str()) {
            (NodeKind::Str(s), "vars" | "children" | "hosts") => {
                synthetic = Node::new(
                    NodeKind::Map(vec![(
                        Node::new(NodeKind::Str(s.clone()), v.loc.clone()),
                        Node::new(NodeKind::Null, v.loc.clone()),
                    )]),
                    v.loc.clone(),
                );
                &synthetic
            }
            _ => v,
        };
        let section = match &v.kind {
            NodeKind::Map(m) => m.as_slice(),
            NodeKind::Null => continue,
            _ if matches!(key.as_str(), "vars" | "children" | "hosts") => {
                return Err(bad(
                    format!(
                        "Invalid \"{key}\" entry for \"{group}\" group, requires a dictionary, found \"{}\" instead.",
                        v.type_name()
                    ),
                    v.loc.clone(),
                ));
            }
            _ => {
                warn(format!(
                    "Skipping key ({key}) in group ({group}) as it is not a mapping, it is a {}",
                    v.type_name()
                ));
                continue;
            }
        };
        match key.as_str() {
            "vars" => {
                for (vk, vv) in section {
                    let name = vk.key_text().unwrap_or_default();
                    inv.set_group_var(&group, &name, vv.to_value())
                        .map_err(|d| d.or_at(&vv.loc))?;
                }
            }
            "children" => {
                for (ck, cv) in section {
                    let child = ck.key_text().unwrap_or_default();
                    let child = parse_group(inv, &child, cv, path)?;
                    if inv.groups.contains_key(&child) {
                        inv.add_child(&group, &child).map_err(|d| d.or_at(&ck.loc))?;
                    }
                }
            }
            "hosts" => {
                for (hk, hv) in section {
                    let pattern = match &hk.kind {
                        NodeKind::Str(s) | NodeKind::Unsafe(s) => s.clone(),
                        _ => {
                            return Err(bad(
                                format!(
                                    "Host pattern {} must be a string. Enclose integers/floats in quotation marks.",
                                    hk.key_text().unwrap_or_default()
                                ),
                                hk.loc.clone(),
                            ))
                        }
                    };
                    let (names, port) = address::expand_hostpattern(&pattern)
                        .map_err(|e| bad(e, hk.loc.clone()))?;
                    let vars = match &hv.kind {
                        NodeKind::Map(m) => m.as_slice(),
                        NodeKind::Null => &[],
                        _ => {
                            return Err(bad(
                                format!(
                                    "Invalid data from file, expected dictionary and got: {}",
                                    crate::value::py_str(&hv.to_value())
                                ),
                                hv.loc.clone(),
                            )
                            .hint("host variables are a mapping of name: value"))
                        }
                    };
                    for name in &names {
                        inv.add_host(name, Some(&group), port, Some(path));
                        for (vk, vv) in vars {
                            let k = vk.key_text().unwrap_or_default();
                            inv.set_host_var(name, &k, vv.to_value());
                        }
                    }
                }
            }
            _ => warn(format!(
                "Skipping unexpected key ({key}) in group ({group}), only \"vars\", \"children\" and \"hosts\" are valid"
            )),
        }
    }
    Ok(group)
}

/// An inventory error at a place in the file. Inventory errors exit 1, as
/// Ansible's failure to parse an inventory source does.
fn bad(message: impl Into<String>, loc: crate::diag::Loc) -> Diagnostic {
    Diagnostic::new(message).at(loc)
}
