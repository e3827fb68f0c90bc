//! The variables of a play before any host is chosen: what templates the
//! play's name, `hosts:` and `vars_files:` paths (ansible-core's
//! `get_vars(play=play)`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{ansible_version, Level, VarLayers};
use crate::diag::{Diagnostic, Result};
use crate::inventory::Inventory;
use crate::playbook::{Block, BlockOrigin, Play, RoleContext, RoleInclude, TaskItem};
use crate::tags::TagSelection;
use crate::template::{Templar, Vars};
use crate::value::{py_str, Map, Value};

/// What the play-level variables depend on.
pub struct PlayScope<'a> {
    pub play: &'a Play,
    pub inventory: &'a Inventory,
    pub extra_vars: &'a Map<String, Value>,
    pub templar: &'a Templar,
    pub limit: Option<&'a str>,
    pub check_mode: bool,
    pub diff_mode: bool,
    pub verbosity: u8,
    pub tags: &'a TagSelection,
}

/// A play's variables, its rendered `hosts:` patterns and the hosts they
/// select (after `--limit`), in inventory order.
#[derive(Clone, Debug)]
pub struct PlayVars {
    pub vars: Map<String, Value>,
    /// The play's name, rendered (or its `hosts:` patterns joined).
    pub name: String,
    pub patterns: Vec<String>,
    pub hosts: Vec<String>,
    /// The layers below the magic variables.
    pub layers: VarLayers,
    /// The play-level magic variables.
    pub magic: Map<String, Value>,
}

/// A play keyword that could not be templated: a load-time error (exit
/// code 4), as ansible-playbook reports it.
pub fn keyword_error(keyword: &str, e: Diagnostic, loc: &crate::diag::Loc) -> Diagnostic {
    let mut d = Diagnostic::parse(
        format!("Error processing keyword '{keyword}': {}", e.message),
        loc.clone(),
    );
    if let Some(l) = e.loc {
        d.loc = Some(l);
    }
    d.hint = e.hint;
    d
}

/// Roles whose defaults and vars the whole play sees: the play's `roles:`
/// (dependencies first) and every `import_role`, in order.
pub fn public_roles(play: &Play) -> Vec<Arc<RoleContext>> {
    fn from_include(r: &RoleInclude, out: &mut Vec<Arc<RoleContext>>) {
        for d in &r.dependencies {
            from_include(d, out);
        }
        out.push(r.context.clone());
    }
    fn from_items(items: &[TaskItem], out: &mut Vec<Arc<RoleContext>>) {
        for item in items {
            if let TaskItem::Block(b) = item {
                from_block(b, out);
            }
        }
    }
    fn from_block(b: &Block, out: &mut Vec<Arc<RoleContext>>) {
        if let (BlockOrigin::ImportRole { .. }, Some(role)) = (&b.origin, &b.role) {
            if role.public != Some(false) && !out.iter().any(|r| Arc::ptr_eq(r, role)) {
                out.push(role.clone());
            }
        }
        from_items(&b.block, out);
        from_items(&b.rescue, out);
        from_items(&b.always, out);
    }
    let mut out = Vec::new();
    for r in &play.roles {
        from_include(r, &mut out);
    }
    for list in [&play.pre_tasks, &play.tasks, &play.post_tasks] {
        from_items(list, &mut out);
    }
    out
}

/// Computes the play-level variables and hosts.
pub fn play_vars(scope: &PlayScope) -> Result<PlayVars> {
    let play = scope.play;
    let roles = public_roles(play);
    let mut layers = VarLayers::new();
    for role in &roles {
        layers.push(Level::RoleDefaults, role.defaults.clone());
    }
    layers.push(Level::PlayVars, play.vars.clone());
    for prompt in &play.vars_prompt {
        // Listing and checking never prompt: the default stands in, and
        // -e beats both.
        if !scope.extra_vars.contains_key(&prompt.name) {
            layers.set(
                Level::VarsPrompt,
                &prompt.name,
                prompt.default.clone().unwrap_or(Value::Null),
            );
        }
    }
    for role in &roles {
        layers.push(Level::RoleExportedVars, role.vars.clone());
    }
    layers.push(Level::ExtraVars, scope.extra_vars.clone());

    // `hosts:` is rendered with what is known without vars_files.
    let early = Vars {
        vars: with_magic(&layers, &play_magic(scope, &roles, &[], &[])),
        hostvars: None,
        shared: None,
    };
    // An error in `hosts:` is reported after one in `name:`, as
    // ansible-playbook validates the name first.
    let patterns = render_patterns(scope.templar, &play.hosts, &early)
        .map_err(|e| keyword_error("hosts", e, &play.loc));
    let mut hosts = match &patterns {
        Ok(p) if !p.is_empty() => scope.inventory.select(&p.join(","))?,
        _ => Vec::new(),
    };
    if let Some(limit) = scope.limit {
        hosts = scope.inventory.apply_limit(hosts, limit)?;
    }
    let pattern_list = patterns.clone().unwrap_or_default();

    for item in &play.vars_files {
        let vars = Vars {
            vars: with_magic(&layers, &play_magic(scope, &roles, &pattern_list, &hosts)),
            hostvars: None,
            shared: None,
        };
        if let Some(data) = load_vars_file(scope.templar, item, &play.basedir, &vars)? {
            layers.push(Level::VarsFiles, data);
        }
    }
    let magic = play_magic(scope, &roles, &pattern_list, &hosts);
    let vars = with_magic(&layers, &magic);
    let name = match &play.name {
        Some(n) => py_str(
            &scope
                .templar
                .render_str(
                    n,
                    &Vars {
                        vars: vars.clone(),
                        hostvars: None,
                        shared: None,
                    },
                )
                .map_err(|e| keyword_error("name", e, &play.loc))?,
        ),
        None => pattern_list.join(","),
    };
    Ok(PlayVars {
        vars,
        name,
        patterns: patterns?,
        hosts,
        layers,
        magic,
    })
}

fn render_patterns(templar: &Templar, hosts: &Value, vars: &Vars) -> Result<Vec<String>> {
    let rendered = templar.render_value(hosts, vars)?;
    let list = match rendered {
        Value::Null => Vec::new(),
        Value::Array(items) => items.iter().map(py_str).collect(),
        other => vec![py_str(&other)],
    };
    Ok(list)
}

/// Loads one `vars_files:` entry: a path, or a list whose first existing
/// file is used. A file that is not found is skipped, as Ansible does when
/// no host is known yet.
fn load_vars_file(
    templar: &Templar,
    item: &Value,
    basedir: &Path,
    vars: &Vars,
) -> Result<Option<Map<String, Value>>> {
    let candidates: Vec<Value> = match item {
        Value::Array(items) => items.clone(),
        other => vec![other.clone()],
    };
    for candidate in candidates {
        let rendered = match templar.render_value(&candidate, vars) {
            Ok(v) => v,
            Err(_) => {
                crate::diag::warn("skipping vars_files item due to an undefined variable");
                return Ok(None);
            }
        };
        let Value::String(name) = rendered else {
            return Err(Diagnostic::new(format!(
                "Invalid `vars_files` value of type '{}'.",
                crate::value::type_name(&rendered)
            ))
            .hint("A `vars_files` value should either be a string or list of strings."));
        };
        let path = PathBuf::from(&name);
        let found = if path.is_absolute() {
            Some(path).filter(|p| p.is_file())
        } else {
            [basedir.join("vars").join(&path), basedir.join(&path)]
                .into_iter()
                .find(|p| p.is_file())
        };
        let Some(found) = found else { continue };
        let node = crate::yaml::load_file(&found).map_err(|mut d| {
            let shown = std::path::absolute(&found).unwrap_or_else(|_| found.clone());
            d.message = format!(
                "Invalid vars_files file '{}': {}",
                shown.display(),
                d.message
            );
            d
        })?;
        let data = match node.to_value() {
            Value::Object(m) => m,
            Value::Null => Map::new(),
            Value::Array(items) => {
                let mut merged = Map::new();
                for item in items {
                    match item {
                        Value::Object(m) => merged.extend(m),
                        _ => return Err(vars_file_not_dict(&found)),
                    }
                }
                merged
            }
            _ => return Err(vars_file_not_dict(&found)),
        };
        return Ok(Some(data));
    }
    Ok(None)
}

fn vars_file_not_dict(path: &Path) -> Diagnostic {
    Diagnostic::new(format!(
        "vars file {} was not found or did not hold a dictionary of variables",
        path.display()
    ))
    .hint("a vars file is a YAML mapping of variable names to values")
}

/// The merged layers with magic variables on top.
fn with_magic(layers: &VarLayers, magic: &Map<String, Value>) -> Map<String, Value> {
    let mut layers = layers.clone();
    layers.push(Level::Magic, magic.clone());
    layers.merge()
}

/// The play-level magic variables.
fn play_magic(
    scope: &PlayScope,
    roles: &[Arc<RoleContext>],
    patterns: &[String],
    hosts: &[String],
) -> Map<String, Value> {
    let play = scope.play;
    let role_names: Vec<Value> = {
        let mut names: Vec<String> = Vec::new();
        for r in roles {
            if !names.contains(&r.name) {
                names.push(r.name.clone());
            }
        }
        names.into_iter().map(Value::String).collect()
    };
    let hosts_v = Value::Array(hosts.iter().cloned().map(Value::String).collect());
    let mut m = Map::new();
    m.insert(
        "playbook_dir".into(),
        Value::String(super::dir_string(&play.playbook_dir)),
    );
    m.insert(
        "ansible_play_name".into(),
        Value::String(play.name.clone().unwrap_or_else(|| patterns.join(","))),
    );
    m.insert("ansible_play_hosts".into(), hosts_v.clone());
    m.insert("ansible_play_hosts_all".into(), hosts_v.clone());
    m.insert("ansible_play_batch".into(), hosts_v.clone());
    m.insert("play_hosts".into(), hosts_v);
    m.insert("groups".into(), Value::Object(scope.inventory.groups_var()));
    m.insert(
        "omit".into(),
        Value::String(crate::template::omit_token().to_string()),
    );
    m.insert("ansible_version".into(), ansible_version());
    m.insert("ansible_check_mode".into(), Value::Bool(scope.check_mode));
    m.insert("ansible_diff_mode".into(), Value::Bool(scope.diff_mode));
    m.insert("ansible_verbosity".into(), Value::from(scope.verbosity));
    m.insert("role_names".into(), Value::Array(role_names.clone()));
    m.insert(
        "ansible_role_names".into(),
        Value::Array(role_names.clone()),
    );
    m.insert("ansible_play_role_names".into(), Value::Array(role_names));
    m.insert(
        "ansible_run_tags".into(),
        Value::Array(scope.tags.only.iter().cloned().map(Value::String).collect()),
    );
    m.insert(
        "ansible_skip_tags".into(),
        Value::Array(scope.tags.skip.iter().cloned().map(Value::String).collect()),
    );
    m.insert(
        "ansible_inventory_sources".into(),
        Value::Array(
            scope
                .inventory
                .sources
                .iter()
                .map(|p| Value::String(p.display().to_string()))
                .collect(),
        ),
    );
    m
}
