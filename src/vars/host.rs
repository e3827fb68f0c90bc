//! The variables one task sees on one host: the play's layers plus the
//! host's inventory layers, its facts and results so far, the task's role,
//! blocks and own vars, and the host's magic variables.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use super::{Level, PlayVars, VarLayers};
use crate::diag::Result;
use crate::inventory::Inventory;
use crate::playbook::RoleContext;
use crate::template::HostVarsSource;
use crate::value::{Map, Value};

/// What a task's variables on one host depend on. The maps a run fills
/// as it goes (facts, `include_vars`, `set_fact`/`register`) are empty
/// before anything runs.
pub struct HostScope<'a> {
    pub play: &'a PlayVars,
    pub inventory: &'a Inventory,
    pub host: &'a str,
    pub playbook_dir: &'a Path,
    /// The role of the task, if any.
    pub role: Option<&'a Arc<RoleContext>>,
    /// `vars:` of the enclosing blocks, outermost first.
    pub block_vars: Vec<&'a Map<String, Value>>,
    pub task_vars: Option<&'a Map<String, Value>>,
    pub facts: Option<&'a Map<String, Value>>,
    pub include_vars: Option<&'a Map<String, Value>>,
    pub set_facts: Option<&'a Map<String, Value>>,
    pub include_params: Option<&'a Map<String, Value>>,
}

/// Gathers the layers for a task on a host; [`VarLayers::merge`] gives
/// the variables.
pub fn host_layers(scope: &HostScope) -> Result<VarLayers> {
    let mut layers = scope.play.layers.clone();
    if let Some(role) = scope.role {
        layers.push(Level::RoleDefaults, role.defaults.clone());
    }
    layers.push(
        Level::Inventory,
        scope
            .inventory
            .host_vars(scope.host, Some(scope.playbook_dir))?,
    );
    let opt = |m: Option<&Map<String, Value>>| m.cloned().unwrap_or_default();
    layers.push(Level::Facts, opt(scope.facts));
    if let Some(role) = scope.role {
        layers.push(Level::RoleVars, role.vars.clone());
        layers.push(Level::RoleParams, role.params.clone());
    }
    for vars in &scope.block_vars {
        layers.push(Level::BlockVars, (*vars).clone());
    }
    layers.push(Level::TaskVars, opt(scope.task_vars));
    layers.push(Level::IncludeVars, opt(scope.include_vars));
    layers.push(Level::SetFact, opt(scope.set_facts));
    layers.push(Level::IncludeParams, opt(scope.include_params));
    let play_magic = scope.play.magic.clone();
    layers.push(Level::Magic, play_magic);
    layers.push(
        Level::Magic,
        host_magic(scope.inventory, scope.host, scope.role),
    );
    Ok(layers)
}

/// The merged variables of a task on a host.
pub fn host_vars(scope: &HostScope) -> Result<Map<String, Value>> {
    Ok(host_layers(scope)?.merge())
}

/// Magic variables that depend on the host and the task's role.
pub fn host_magic(
    inventory: &Inventory,
    host: &str,
    role: Option<&Arc<RoleContext>>,
) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("inventory_hostname".into(), Value::String(host.to_string()));
    m.insert(
        "inventory_hostname_short".into(),
        Value::String(super::hostname_short(host).to_string()),
    );
    m.insert(
        "group_names".into(),
        Value::Array(
            inventory
                .group_names(host)
                .into_iter()
                .map(Value::String)
                .collect(),
        ),
    );
    if let Some(file) = inventory.hosts.get(host).and_then(|h| h.source.clone()) {
        let dir = file.parent().map(Path::to_path_buf).unwrap_or_default();
        m.insert("inventory_file".into(), Value::String(abs(&file)));
        m.insert("inventory_dir".into(), Value::String(abs(&dir)));
    } else {
        m.insert("inventory_file".into(), Value::Null);
        m.insert("inventory_dir".into(), Value::Null);
    }
    if let Some(role) = role {
        m.insert("role_name".into(), Value::String(role.name.clone()));
        m.insert("ansible_role_name".into(), Value::String(role.name.clone()));
        m.insert("role_path".into(), Value::String(abs(&role.path)));
    }
    m
}

/// `p` with its links resolved. The inventory's and the roles' paths are
/// asked for by every task on every host, so each absolute path is
/// resolved once per process.
fn abs(p: &Path) -> String {
    static RESOLVED: OnceLock<Mutex<HashMap<PathBuf, String>>> = OnceLock::new();
    let Ok(key) = std::path::absolute(p) else {
        return p.display().to_string();
    };
    let mut resolved = RESOLVED
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    resolved
        .entry(key)
        .or_insert_with_key(|key| {
            std::fs::canonicalize(key)
                .unwrap_or_else(|_| p.to_path_buf())
                .display()
                .to_string()
        })
        .clone()
}

/// `hostvars` before any task has run: each host's inventory variables
/// and magic variables, read when a template asks for them.
pub struct InventoryHostVars {
    pub inventory: Arc<Inventory>,
    pub playbook_dir: Option<PathBuf>,
}

impl HostVarsSource for InventoryHostVars {
    fn host_names(&self) -> Vec<String> {
        self.inventory.hosts.keys().cloned().collect()
    }

    fn host_vars(&self, host: &str) -> Option<Map<String, Value>> {
        if !self.inventory.hosts.contains_key(host) {
            return None;
        }
        let mut vars = self
            .inventory
            .host_vars(host, self.playbook_dir.as_deref())
            .unwrap_or_default();
        vars.extend(host_magic(&self.inventory, host, None));
        Some(vars)
    }
}
