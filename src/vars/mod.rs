//! Variable precedence: the ONE place where the layers of variables a task
//! sees are merged, in ansible-core 2.19's order.
//!
//! The order, low to high (docs/variables.md has the table):
//!
//! | level | source |
//! |---|---|
//! | [`Level::RoleDefaults`] | role `defaults/` (roles of the play, then the task's role chain) |
//! | [`Level::Inventory`] | inventory group vars, `group_vars/`, host vars, `host_vars/` ([`crate::inventory::Inventory::host_vars`] merges this slice) |
//! | [`Level::Facts`] | gathered facts and cached `set_fact: cacheable` |
//! | [`Level::PlayVars`] | play `vars:` |
//! | [`Level::VarsPrompt`] | play `vars_prompt:` |
//! | [`Level::VarsFiles`] | play `vars_files:` |
//! | [`Level::RoleExportedVars`] | `vars/` of the play's roles (visible to the whole play) |
//! | [`Level::RoleVars`] | `vars/` of the task's role chain |
//! | [`Level::BlockVars`] | `vars:` of enclosing blocks |
//! | [`Level::TaskVars`] | task `vars:` |
//! | [`Level::IncludeVars`] | `include_vars` results |
//! | [`Level::SetFact`] | `set_fact` and `register` |
//! | [`Level::RoleParams`] | role params (`- role: x` with `port: 80`) |
//! | [`Level::IncludeParams`] | `include_tasks`/`include_role` params |
//! | [`Level::ExtraVars`] | `-e` |
//! | [`Level::Magic`] | magic variables (`inventory_hostname`, `groups`, …) |
//!
//! Merging replaces whole top-level keys (Ansible's default
//! `hash_behaviour = replace`).

mod connection;
mod host;
mod play;

use std::path::Path;

pub use connection::{connection_settings, connection_vars, CliConnection, ConnectionSettings};
pub use host::{host_layers, host_magic, host_vars, HostScope, InventoryHostVars};
pub use play::{keyword_error, play_vars, public_roles, PlayScope, PlayVars};

use crate::diag::{Diagnostic, Result};
use crate::value::{Map, Value};

/// One layer of variables, in precedence order (later beats earlier).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    RoleDefaults,
    Inventory,
    Facts,
    PlayVars,
    VarsPrompt,
    VarsFiles,
    RoleExportedVars,
    RoleVars,
    BlockVars,
    TaskVars,
    IncludeVars,
    SetFact,
    RoleParams,
    IncludeParams,
    ExtraVars,
    Magic,
}

/// The layers a task (or play) sees, gathered in any order.
#[derive(Clone, Debug, Default)]
pub struct VarLayers {
    layers: Vec<(Level, Map<String, Value>)>,
}

impl VarLayers {
    pub fn new() -> VarLayers {
        VarLayers::default()
    }

    /// Adds a layer. Layers of the same level keep the order they were
    /// added in (a later one beats an earlier one).
    pub fn push(&mut self, level: Level, vars: Map<String, Value>) -> &mut VarLayers {
        if !vars.is_empty() {
            self.layers.push((level, vars));
        }
        self
    }

    /// Adds a single variable at a level.
    pub fn set(&mut self, level: Level, name: &str, value: Value) -> &mut VarLayers {
        let mut m = Map::new();
        m.insert(name.to_string(), value);
        self.layers.push((level, m));
        self
    }

    /// The merged variables: each level over the ones below it.
    pub fn merge(&self) -> Map<String, Value> {
        let mut order: Vec<usize> = (0..self.layers.len()).collect();
        // A stable sort keeps the push order within a level.
        order.sort_by_key(|&i| self.layers[i].0);
        let mut out = Map::new();
        for i in order {
            for (k, v) in &self.layers[i].1 {
                out.insert(k.clone(), v.clone());
            }
        }
        out
    }

    /// Where a variable's winning value comes from (for `-vvv` and tests).
    pub fn source_of(&self, name: &str) -> Option<Level> {
        self.layers
            .iter()
            .filter(|(_, m)| m.contains_key(name))
            .map(|(l, _)| *l)
            .max()
    }
}

/// Reads the `-e/--extra-vars` values, in order: `@file` (YAML or JSON),
/// inline YAML/JSON starting with `{` or `[`, or `key=value` pairs (values
/// stay strings, as Ansible keeps them).
pub fn parse_extra_vars(
    args: &[String],
    split_kv: impl Fn(&str) -> Result<Map<String, Value>>,
) -> Result<Map<String, Value>> {
    let mut out = Map::new();
    for arg in args {
        let data = if let Some(file) = arg.strip_prefix('@') {
            let path = crate::config::expand_user(file);
            if !path.exists() {
                return Err(Diagnostic::new(format!(
                    "the extra vars file '{}' could not be found",
                    path.display()
                ))
                .hint("give -e @FILE the path of a YAML or JSON file"));
            }
            crate::yaml::load_file(&path)?.to_value()
        } else if arg.trim_start().starts_with(['{', '[']) {
            crate::yaml::load_str(arg, "<extra vars>")?.to_value()
        } else if arg.trim().is_empty() {
            continue;
        } else {
            Value::Object(split_kv(arg)?)
        };
        match data {
            Value::Object(m) => {
                for (k, v) in m {
                    out.insert(k, v);
                }
            }
            Value::Null => {}
            _ => {
                return Err(Diagnostic::new(format!(
                    "Invalid extra vars data supplied. '{arg}' could not be made into a dictionary"
                ))
                .hint("pass key=value pairs, a YAML/JSON mapping, or @file"))
            }
        }
    }
    Ok(out)
}

/// The version Ansible reports as `ansible_version`: herd speaks the
/// language of this ansible-core release.
pub const ANSIBLE_COMPAT_VERSION: (u32, u32, u32) = (2, 19, 0);

/// `ansible_version` as Ansible fills it.
pub fn ansible_version() -> Value {
    let (major, minor, revision) = ANSIBLE_COMPAT_VERSION;
    serde_json::json!({
        "full": format!("{major}.{minor}.{revision}"),
        "major": major,
        "minor": minor,
        "revision": revision,
        "string": format!("{major}.{minor}.{revision}"),
    })
}

/// The short form of a host name, as `inventory_hostname_short`.
pub fn hostname_short(host: &str) -> &str {
    host.split('.').next().unwrap_or(host)
}

/// The directory of a path as a string, for `playbook_dir`,
/// `inventory_dir`.
pub fn dir_string(path: &Path) -> String {
    let abs = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    abs.display().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn m(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => unreachable!("test data is an object"),
        }
    }

    #[test]
    fn every_level_beats_the_one_below() {
        let levels = [
            Level::RoleDefaults,
            Level::Inventory,
            Level::Facts,
            Level::PlayVars,
            Level::VarsPrompt,
            Level::VarsFiles,
            Level::RoleExportedVars,
            Level::RoleVars,
            Level::BlockVars,
            Level::TaskVars,
            Level::IncludeVars,
            Level::SetFact,
            Level::RoleParams,
            Level::IncludeParams,
            Level::ExtraVars,
            Level::Magic,
        ];
        for (i, hi) in levels.iter().enumerate().skip(1) {
            let lo = levels[i - 1];
            let mut layers = VarLayers::new();
            // Pushed high first, so order of pushing cannot be what decides.
            layers.set(*hi, "x", json!(format!("{hi:?}")));
            layers.set(lo, "x", json!(format!("{lo:?}")));
            assert_eq!(
                layers.merge()["x"],
                json!(format!("{hi:?}")),
                "{hi:?} over {lo:?}"
            );
            assert_eq!(layers.source_of("x"), Some(*hi));
        }
    }

    #[test]
    fn replace_not_merge_for_dicts() {
        let mut layers = VarLayers::new();
        layers.push(Level::PlayVars, m(json!({"d": {"a": 1, "b": 2}})));
        layers.push(Level::TaskVars, m(json!({"d": {"a": 3}})));
        assert_eq!(layers.merge()["d"], json!({"a": 3}));
    }

    #[test]
    fn extra_vars_forms() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("ev.yml");
        std::fs::write(&file, "a: 1\nb: [x]\n").unwrap();
        let kv = |s: &str| -> Result<Map<String, Value>> {
            let mut out = Map::new();
            for part in s.split_whitespace() {
                let (k, v) = part.split_once('=').unwrap_or((part, ""));
                out.insert(k.into(), json!(v));
            }
            Ok(out)
        };
        let args = vec![
            format!("@{}", file.display()),
            r#"{"c": true, "a": 2}"#.to_string(),
            "d=4 e=x".to_string(),
        ];
        let got = parse_extra_vars(&args, kv).unwrap();
        assert_eq!(
            Value::Object(got),
            json!({"a": 2, "b": ["x"], "c": true, "d": "4", "e": "x"})
        );
        assert!(parse_extra_vars(&["[1, 2]".to_string()], kv).is_err());
        assert!(parse_extra_vars(&["@/nonexistent/x.yml".to_string()], kv).is_err());
    }
}
