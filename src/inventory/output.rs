//! What `herd inventory` prints, byte for byte as ansible-inventory 2.19:
//! `--list` (JSON or YAML), `--graph [--vars]` and `--host`.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use super::{merge, vars_files, Inventory};
use crate::diag::Result;
use crate::value::{py_float, py_str, Map, Value};

/// Variables ansible-inventory never shows: they are computed per run.
const INTERNAL_VARS: [&str; 33] = [
    "ansible_async_path",
    "ansible_collection_name",
    "ansible_config_file",
    "ansible_dependent_role_names",
    "ansible_diff_mode",
    "ansible_facts",
    "ansible_forks",
    "ansible_inventory_sources",
    "ansible_limit",
    "ansible_play_batch",
    "ansible_play_hosts",
    "ansible_play_hosts_all",
    "ansible_play_role_names",
    "ansible_playbook_python",
    "ansible_role_name",
    "ansible_role_names",
    "ansible_run_tags",
    "ansible_skip_tags",
    "ansible_verbosity",
    "ansible_version",
    "inventory_dir",
    "inventory_file",
    "inventory_hostname",
    "inventory_hostname_short",
    "groups",
    "group_names",
    "hostvars",
    "playbook_dir",
    "play_hosts",
    "role_name",
    "role_names",
    "role_path",
    "role_uuid",
];

fn remove_internal(mut vars: Map<String, Value>) -> Map<String, Value> {
    vars.retain(|k, _| !INTERNAL_VARS.contains(&k.as_str()));
    vars
}

/// How host and group variables are gathered for display.
pub struct View<'a> {
    pub inv: &'a Inventory,
    /// `--playbook-dir`, when given.
    pub playbook_dir: Option<PathBuf>,
    /// The directory whose `group_vars/`/`host_vars/` count as the
    /// playbook's for flattened host variables: `--playbook-dir`, else the
    /// current directory (as ansible-inventory does).
    pub vars_basedir: Option<PathBuf>,
    /// `--export`: show each host's and group's own variables instead of
    /// the flattened result.
    pub export: bool,
}

impl View<'_> {
    /// A host's variables as ansible-inventory shows them.
    pub fn host_vars(&self, host: &str) -> Result<Map<String, Value>> {
        if !self.export {
            return Ok(remove_internal(
                self.inv.host_vars(host, self.vars_basedir.as_deref())?,
            ));
        }
        let mut out = self
            .inv
            .hosts
            .get(host)
            .map(|h| h.vars.clone())
            .unwrap_or_default();
        for dir in self.inv.vars_dirs() {
            merge(&mut out, &vars_files::host_vars(&dir, host)?);
        }
        if let Some(pb) = &self.playbook_dir {
            merge(&mut out, &vars_files::host_vars(pb, host)?);
        }
        Ok(remove_internal(out))
    }

    /// A group's own variables with its `group_vars/` files.
    pub fn group_vars(&self, group: &str) -> Result<Map<String, Value>> {
        let Some(g) = self.inv.groups.get(group) else {
            return Ok(Map::new());
        };
        let mut out = g.vars.clone();
        for dir in self.inv.vars_dirs() {
            merge(&mut out, &vars_files::group_vars(&dir, group)?);
        }
        if let Some(pb) = &self.playbook_dir {
            merge(&mut out, &vars_files::group_vars(pb, group)?);
        }
        if g.priority != 1 {
            out.insert("ansible_group_priority".into(), Value::from(g.priority));
        }
        Ok(remove_internal(out))
    }

    /// `--list` as JSON data (before printing).
    pub fn list(&self, available: &[String]) -> Result<Value> {
        let avail: HashSet<&str> = available.iter().map(String::as_str).collect();
        let mut results = Map::new();
        let mut seen: HashSet<String> = HashSet::new();
        self.list_group("all", &avail, &mut seen, &mut results)?;
        let mut hostvars = Map::new();
        for h in available {
            let vars = self.host_vars(h)?;
            if !vars.is_empty() {
                hostvars.insert(h.clone(), Value::Object(vars));
            }
        }
        let mut meta = Map::new();
        meta.insert("hostvars".into(), Value::Object(hostvars));
        meta.insert("profile".into(), Value::String("inventory_legacy".into()));
        results.insert("_meta".into(), Value::Object(meta));
        Ok(Value::Object(results))
    }

    fn list_group(
        &self,
        name: &str,
        avail: &HashSet<&str>,
        seen: &mut HashSet<String>,
        results: &mut Map<String, Value>,
    ) -> Result<()> {
        let g = &self.inv.groups[name];
        let mut entry = Map::new();
        if name != "all" {
            let hosts: Vec<Value> = g
                .hosts
                .iter()
                .filter(|h| avail.contains(h.as_str()))
                .map(|h| Value::String(h.clone()))
                .collect();
            entry.insert("hosts".into(), Value::Array(hosts));
        }
        entry.insert(
            "children".into(),
            Value::Array(
                g.children
                    .iter()
                    .map(|c| Value::String(c.clone()))
                    .collect(),
            ),
        );
        // The group's own entry is placed before its children's, as the
        // dict update order in ansible-inventory gives; the final output is
        // key-sorted anyway.
        results.insert(name.to_string(), Value::Null);
        for c in &g.children {
            if !seen.contains(c) {
                self.list_group(c, avail, seen, results)?;
                seen.insert(c.clone());
            }
        }
        if self.export {
            entry.insert("vars".into(), Value::Object(self.group_vars(name)?));
        }
        entry.retain(|_, v| match v {
            Value::Array(a) => !a.is_empty(),
            Value::Object(m) => !m.is_empty(),
            _ => true,
        });
        if entry.is_empty() {
            results.shift_remove(name);
        } else {
            results.insert(name.to_string(), Value::Object(entry));
        }
        Ok(())
    }

    /// `--list --yaml` data: nested groups with hosts as mappings.
    pub fn list_yaml(&self, available: &[String]) -> Result<Value> {
        let avail: HashSet<&str> = available.iter().map(String::as_str).collect();
        let mut seen_hosts = HashSet::new();
        let mut seen_groups = HashSet::new();
        let mut out = Map::new();
        self.yaml_group("all", &avail, &mut seen_hosts, &mut seen_groups, &mut out)?;
        Ok(Value::Object(out))
    }

    fn yaml_group(
        &self,
        name: &str,
        avail: &HashSet<&str>,
        seen_hosts: &mut HashSet<String>,
        seen_groups: &mut HashSet<String>,
        out: &mut Map<String, Value>,
    ) -> Result<()> {
        let g = &self.inv.groups[name];
        let mut entry = Map::new();
        let mut children = Map::new();
        for c in &g.children {
            if c == "all" {
                continue;
            }
            if seen_groups.contains(c) {
                children.insert(c.clone(), Value::Object(Map::new()));
            } else {
                self.yaml_group(c, avail, seen_hosts, seen_groups, &mut children)?;
                seen_groups.insert(c.clone());
            }
        }
        entry.insert("children".into(), Value::Object(children));
        let mut hosts = Map::new();
        if name != "all" {
            for h in &g.hosts {
                if !avail.contains(h.as_str()) {
                    continue;
                }
                let vars = if seen_hosts.insert(h.clone()) {
                    self.host_vars(h)?
                } else {
                    Map::new()
                };
                hosts.insert(h.clone(), Value::Object(vars));
            }
        }
        entry.insert("hosts".into(), Value::Object(hosts));
        if self.export {
            let gv = self.group_vars(name)?;
            if !gv.is_empty() {
                entry.insert("vars".into(), Value::Object(gv));
            }
        }
        entry.retain(|_, v| !matches!(v, Value::Object(m) if m.is_empty()));
        if !entry.is_empty() {
            out.insert(name.to_string(), Value::Object(entry));
        }
        Ok(())
    }

    /// `--graph [GROUP] [--vars]` text, without the final newline.
    pub fn graph(&self, group: &str, show_vars: bool) -> Result<String> {
        let mut lines = Vec::new();
        self.graph_group(group, 0, show_vars, &mut lines)?;
        Ok(lines.join("\n"))
    }

    fn graph_group(
        &self,
        name: &str,
        depth: usize,
        show_vars: bool,
        out: &mut Vec<String>,
    ) -> Result<()> {
        let g = &self.inv.groups[name];
        out.push(graph_name(&format!("@{name}:"), depth));
        let depth = depth + 1;
        for c in &g.children {
            self.graph_group(c, depth, show_vars, out)?;
        }
        if name != "all" {
            for h in &g.hosts {
                out.push(graph_name(h, depth));
                if show_vars {
                    show(&self.host_vars(h)?, depth + 1, out);
                }
            }
        }
        if show_vars {
            show(&self.group_vars(name)?, depth, out);
        }
        Ok(())
    }
}

fn graph_name(name: &str, depth: usize) -> String {
    if depth == 0 {
        name.to_string()
    } else {
        format!("{}--{name}", "  |".repeat(depth))
    }
}

fn show(vars: &Map<String, Value>, depth: usize, out: &mut Vec<String>) {
    let mut keys: Vec<&String> = vars.keys().collect();
    keys.sort();
    for k in keys {
        out.push(graph_name(
            &format!("{{{k} = {}}}", py_str(&vars[k])),
            depth,
        ));
    }
}

/// JSON as ansible-inventory's `json.dumps(v, sort_keys=True, indent=4)`
/// writes it (non-ASCII text kept as is, control characters escaped).
pub fn to_python_json(v: &Value) -> String {
    let mut out = String::new();
    write_json(v, 0, &mut out);
    out
}

fn write_json(v: &Value, level: usize, out: &mut String) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                out.push_str(&i.to_string());
            } else if let Some(u) = n.as_u64() {
                out.push_str(&u.to_string());
            } else {
                let f = n.as_f64().unwrap_or(0.0);
                out.push_str(&match py_float(f).as_str() {
                    "inf" => "Infinity".to_string(),
                    "-inf" => "-Infinity".to_string(),
                    "nan" => "NaN".to_string(),
                    s => s.to_string(),
                });
            }
        }
        Value::String(s) => json_str(s, out),
        Value::Array(a) => {
            if a.is_empty() {
                out.push_str("[]");
                return;
            }
            out.push('[');
            for (i, item) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(level + 1, out);
                write_json(item, level + 1, out);
            }
            newline(level, out);
            out.push(']');
        }
        Value::Object(m) => {
            if m.is_empty() {
                out.push_str("{}");
                return;
            }
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(level + 1, out);
                json_str(k, out);
                out.push_str(": ");
                write_json(&m[k], level + 1, out);
            }
            newline(level, out);
            out.push('}');
        }
    }
}

fn newline(level: usize, out: &mut String) {
    out.push('\n');
    for _ in 0..level {
        out.push_str("    ");
    }
}

fn json_str(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\x08' => out.push_str("\\b"),
            '\x0c' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// YAML as PyYAML's `yaml.dump(v, default_flow_style=False)` writes the
/// plain data ansible-inventory prints: block style, keys sorted.
pub fn to_python_yaml(v: &Value) -> String {
    let mut out = String::new();
    match v {
        Value::Object(m) if !m.is_empty() => yaml_map(m, 0, &mut out),
        Value::Array(a) if !a.is_empty() => yaml_seq(a, 0, &mut out),
        other => {
            out.push_str(&yaml_scalar(other));
            out.push('\n');
        }
    }
    out
}

fn yaml_map(m: &Map<String, Value>, indent: usize, out: &mut String) {
    let mut keys: Vec<&String> = m.keys().collect();
    keys.sort();
    for k in keys {
        out.push_str(&" ".repeat(indent));
        out.push_str(&yaml_str(k));
        out.push(':');
        yaml_value(&m[k], indent, true, out);
    }
}

fn yaml_seq(a: &[Value], indent: usize, out: &mut String) {
    for item in a {
        out.push_str(&" ".repeat(indent));
        out.push('-');
        match item {
            Value::Object(m) if !m.is_empty() => {
                // PyYAML starts the mapping on the dash line.
                let mut inner = String::new();
                yaml_map(m, indent + 2, &mut inner);
                out.push(' ');
                out.push_str(inner.trim_start());
            }
            other => yaml_value(other, indent, false, out),
        }
    }
}

fn yaml_value(v: &Value, indent: usize, in_map: bool, out: &mut String) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            out.push('\n');
            yaml_map(m, indent + 2, out);
        }
        Value::Array(a) if !a.is_empty() => {
            out.push('\n');
            // PyYAML does not indent a sequence inside a mapping.
            yaml_seq(a, if in_map { indent } else { indent + 2 }, out);
        }
        other => {
            out.push(' ');
            out.push_str(&yaml_scalar(other));
            out.push('\n');
        }
    }
}

fn yaml_scalar(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => if *b { "true" } else { "false" }.into(),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                i.to_string()
            } else if let Some(u) = n.as_u64() {
                u.to_string()
            } else {
                match py_float(n.as_f64().unwrap_or(0.0)).as_str() {
                    "inf" => ".inf".into(),
                    "-inf" => "-.inf".into(),
                    "nan" => ".nan".into(),
                    s => s.to_string(),
                }
            }
        }
        Value::String(s) => yaml_str(s),
        Value::Array(_) => "[]".into(),
        Value::Object(_) => "{}".into(),
    }
}

/// A string as PyYAML writes it: plain when that reads back as the same
/// string, else single-quoted (double-quoted when it has control
/// characters).
fn yaml_str(s: &str) -> String {
    if needs_double_quotes(s) {
        return crate::value::to_json_string(&Value::String(s.to_string()));
    }
    if plain_ok(s) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "''"))
    }
}

fn needs_double_quotes(s: &str) -> bool {
    s.chars()
        .any(|c| (c as u32) < 0x20 && c != '\n' || c == '\u{7f}' || c == '\u{feff}')
}

fn plain_ok(s: &str) -> bool {
    if s.is_empty() || s.contains('\n') {
        return false;
    }
    if !matches!(crate::yaml::resolve_plain(s), crate::yaml::NodeKind::Str(_)) {
        return false;
    }
    let first = s.chars().next().unwrap_or(' ');
    if "-?:,[]{}#&*!|>'\"%@`".contains(first) {
        // `-`, `?` and `:` may start a plain scalar when followed by a
        // non-space character.
        let second = s.chars().nth(1);
        if !("-?:".contains(first) && second.is_some_and(|c| c != ' ')) {
            return false;
        }
    }
    if s.starts_with(' ')
        || s.ends_with(' ')
        || s.contains(": ")
        || s.contains(" #")
        || s.ends_with(':')
    {
        return false;
    }
    if s.starts_with("---") || s.starts_with("...") {
        return false;
    }
    !s.chars()
        .any(|c| !c.is_ascii() && (c.is_whitespace() || c.is_control()))
}

/// The path given, made absolute against the current directory.
pub fn abs(p: &Path) -> PathBuf {
    super::absolute(p)
}
