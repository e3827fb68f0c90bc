//! What `herd inventory` prints, byte for byte as ansible-inventory 2.19:
//! `--list` (JSON or YAML), `--graph [--vars]` and `--host`.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use super::{merge, vars_files, Inventory, Traced};
use crate::diag::Result;
use std::sync::OnceLock;

use regex::Regex;

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
    /// The inventory shown.
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
        Ok(self.host_vars_traced(host)?.vars)
    }

    fn host_vars_traced(&self, host: &str) -> Result<Traced> {
        let mut out = if self.export {
            let mut out = self.inv.host_own_vars_traced(host);
            for dir in self.inv.vars_dirs() {
                let t = vars_files::host_vars_traced(&dir, host)?;
                out.merge_from(&t.vars, |k| t.origin.get(k).cloned());
            }
            if let Some(pb) = &self.playbook_dir {
                let t = vars_files::host_vars_traced(pb, host)?;
                out.merge_from(&t.vars, |k| t.origin.get(k).cloned());
            }
            out
        } else {
            self.inv
                .host_vars_traced(host, self.vars_basedir.as_deref())?
        };
        out.vars = remove_internal(out.vars);
        Ok(out)
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
                    let t = self.host_vars_traced(h)?;
                    t.vars
                        .into_iter()
                        .map(|(k, v)| {
                            let v = match t.origin.get(&k) {
                                Some(o) => alias_wrap(o, v),
                                None => v,
                            };
                            (k, v)
                        })
                        .collect()
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
                    show(&self.host_vars(h)?, depth + 1, out)?;
                }
            }
        }
        if show_vars {
            show(&self.group_vars(name)?, depth, out)?;
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

fn show(vars: &Map<String, Value>, depth: usize, out: &mut Vec<String>) -> Result<()> {
    let mut keys: Vec<&String> = vars.keys().collect();
    keys.sort();
    for k in keys {
        // Printing a value needs its plain text: without the vault
        // secrets to decrypt it, ansible-inventory stops here.
        let shown = if has_vault(&vars[k]) {
            py_str(&crate::vault::reveal(&vars[k])?)
        } else {
            py_str(&vars[k])
        };
        out.push(graph_name(&format!("{{{k} = {shown}}}"), depth));
    }
    Ok(())
}

fn has_vault(v: &Value) -> bool {
    if crate::value::as_vault(v).is_some() {
        return true;
    }
    match v {
        Value::Array(a) => a.iter().any(has_vault),
        Value::Object(m) => m.values().any(has_vault),
        _ => false,
    }
}

/// `!unsafe` strings as plain strings, as `--host` prints them.
pub fn strip_unsafe(v: &Value) -> Value {
    if let Some(t) = crate::value::as_unsafe(v) {
        return Value::String(t.to_string());
    }
    match v {
        Value::Array(a) => Value::Array(a.iter().map(strip_unsafe).collect()),
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| (k.clone(), strip_unsafe(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// JSON as ansible-inventory's `json.dumps(v, sort_keys=True, indent=4)`
/// writes it (non-ASCII text kept as is, control characters escaped).
pub fn to_python_json(v: &Value) -> String {
    crate::value::python_json(v, Some(4), true, false)
}

const ALIAS_KEY: &str = "\0herd-alias";
const ALIAS_VALUE: &str = "\0herd-value";

/// Marks a value as one object shared by several places, so the YAML
/// output writes it once with an anchor and then aliases it, as PyYAML
/// does for a Python object met twice. Scalars are never aliased.
fn alias_wrap(origin: &str, v: Value) -> Value {
    if !matches!(v, Value::Array(_) | Value::Object(_)) {
        return v;
    }
    let mut m = Map::new();
    m.insert(ALIAS_KEY.into(), Value::String(origin.to_string()));
    m.insert(ALIAS_VALUE.into(), v);
    Value::Object(m)
}

fn alias_unwrap(v: &Value) -> Option<(&str, &Value)> {
    match v {
        Value::Object(m) if m.len() == 2 => {
            Some((m.get(ALIAS_KEY)?.as_str()?, m.get(ALIAS_VALUE)?))
        }
        _ => None,
    }
}

/// YAML as PyYAML's `yaml.dump(v, default_flow_style=False)` writes the
/// plain data ansible-inventory prints: block style, keys sorted, shared
/// values anchored (`&id001`) and aliased (`*id001`).
pub fn to_python_yaml(v: &Value) -> String {
    let mut counts = std::collections::HashMap::new();
    count_aliases(v, &mut counts);
    let mut e = YamlEmitter {
        out: String::new(),
        counts,
        names: std::collections::HashMap::new(),
    };
    match v {
        Value::Object(m) if !m.is_empty() => e.map(m, 0),
        Value::Array(a) if !a.is_empty() => e.seq(a, 0),
        other => {
            e.out.push_str(&yaml_scalar(other));
            e.out.push('\n');
        }
    }
    e.out
}

fn count_aliases<'a>(v: &'a Value, counts: &mut std::collections::HashMap<&'a str, usize>) {
    if let Some((origin, inner)) = alias_unwrap(v) {
        let n = counts.entry(origin).or_insert(0);
        *n += 1;
        if *n == 1 {
            count_aliases(inner, counts);
        }
        return;
    }
    match v {
        Value::Array(a) => a.iter().for_each(|i| count_aliases(i, counts)),
        Value::Object(m) => m.values().for_each(|i| count_aliases(i, counts)),
        _ => {}
    }
}

struct YamlEmitter<'a> {
    out: String,
    counts: std::collections::HashMap<&'a str, usize>,
    names: std::collections::HashMap<&'a str, String>,
}

impl<'a> YamlEmitter<'a> {
    fn string_value(&mut self, text: &str, indent: usize) {
        self.out.push(' ');
        let line_start = self.out.rfind('\n').map_or(0, |i| i + 1);
        let mut w = ScalarWriter {
            out: String::new(),
            column: self.out[line_start..].chars().count(),
            // Continuation lines sit two columns in from the collection
            // holding the value.
            indent: indent + 2,
            split: true,
        };
        w.string(text, false);
        self.out.push_str(&w.out);
        self.out.push('\n');
    }

    fn map(&mut self, m: &'a Map<String, Value>, indent: usize) {
        let mut keys: Vec<&String> = m.keys().collect();
        keys.sort();
        for k in keys {
            self.out.push_str(&" ".repeat(indent));
            self.out.push_str(&yaml_str(k));
            self.out.push(':');
            self.value(&m[k], indent, true);
        }
    }

    fn seq(&mut self, a: &'a [Value], indent: usize) {
        for item in a {
            self.out.push_str(&" ".repeat(indent));
            self.out.push('-');
            match item {
                Value::Object(m) if !m.is_empty() && alias_unwrap(item).is_none() => {
                    // PyYAML starts the mapping on the dash line.
                    let start = self.out.len();
                    self.map(m, indent + 2);
                    let inner = self.out.split_off(start);
                    self.out.push(' ');
                    self.out.push_str(inner.trim_start());
                }
                other => self.value(other, indent, false),
            }
        }
    }

    fn value(&mut self, v: &'a Value, indent: usize, in_map: bool) {
        let v = match alias_unwrap(v) {
            Some((origin, inner)) if self.counts.get(origin).copied().unwrap_or(0) > 1 => {
                if let Some(name) = self.names.get(origin) {
                    self.out.push_str(&format!(" *{name}\n"));
                    return;
                }
                let name = format!("id{:03}", self.names.len() + 1);
                self.out.push_str(&format!(" &{name}"));
                self.names.insert(origin, name);
                inner
            }
            Some((_, inner)) => inner,
            None => v,
        };
        if let Some(text) = crate::value::as_vault(v) {
            // PyYAML's Ansible dumper writes vaulted text as a tagged
            // literal block.
            let chomp = if text.ends_with('\n') { "" } else { "-" };
            self.out.push_str(&format!(" !vault |{chomp}"));
            for line in text.lines() {
                self.out.push('\n');
                if !line.is_empty() {
                    self.out.push_str(&" ".repeat(indent + 2));
                    self.out.push_str(line);
                }
            }
            self.out.push('\n');
            return;
        }
        if let Some(text) = crate::value::as_unsafe(v) {
            self.string_value(text, indent);
            return;
        }
        match v {
            Value::Object(m) if !m.is_empty() => {
                self.out.push('\n');
                self.map(m, indent + 2);
            }
            Value::Array(a) if !a.is_empty() => {
                self.out.push('\n');
                // PyYAML does not indent a sequence inside a mapping.
                self.seq(a, if in_map { indent } else { indent + 2 });
            }
            Value::String(text) => self.string_value(text, indent),
            other => {
                self.out.push(' ');
                self.out.push_str(&yaml_scalar(other));
                self.out.push('\n');
            }
        }
    }
}

/// A non-string scalar as PyYAML writes it.
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
                    // PyYAML makes `1e+20` read back as a float: `1.0e+20`.
                    s if s.contains('e') && !s.contains('.') => s.replacen('e', ".0e", 1),
                    s => s.to_string(),
                }
            }
        }
        Value::String(s) => yaml_str(s),
        Value::Array(_) => "[]".into(),
        Value::Object(_) => "{}".into(),
    }
}

/// PyYAML's line width: plain and single-quoted text is folded at a space
/// past this column.
const BEST_WIDTH: usize = 80;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Style {
    Plain,
    Single,
    Double,
}

/// The style PyYAML picks for a string in block context.
fn choose_style(s: &str, simple_key: bool) -> Style {
    let a = analyze(s);
    let multiline = s.contains(['\n', '\u{85}', '\u{2028}', '\u{2029}']);
    if !a.empty && a.allow_block_plain && resolves_to_str(s) && !(simple_key && multiline) {
        return Style::Plain;
    }
    if a.allow_single && !(simple_key && multiline) {
        return Style::Single;
    }
    Style::Double
}

struct Analysis {
    empty: bool,
    allow_block_plain: bool,
    allow_single: bool,
}

/// PyYAML's `analyze_scalar`, for block context with unicode allowed.
fn analyze(s: &str) -> Analysis {
    if s.is_empty() {
        return Analysis {
            empty: true,
            allow_block_plain: false,
            allow_single: true,
        };
    }
    let chars: Vec<char> = s.chars().collect();
    let is_break = |c: char| matches!(c, '\n' | '\u{85}' | '\u{2028}' | '\u{2029}');
    let is_space_or_break = |c: char| c == ' ' || c == '\t' || c == '\0' || is_break(c);
    let mut block_indicators = s.starts_with("---") || s.starts_with("...");
    let mut special = false;
    let (mut leading_space, mut leading_break, mut trailing_space, mut trailing_break) =
        (false, false, false, false);
    let (mut break_space, mut space_break) = (false, false);
    let mut previous_space = false;
    let mut previous_break = false;
    let mut preceded_by_ws = true;
    for (i, &c) in chars.iter().enumerate() {
        let followed_by_ws = i + 1 >= chars.len() || is_space_or_break(chars[i + 1]);
        if i == 0 {
            if "#,[]{}&*!|>'\"%@`".contains(c) {
                block_indicators = true;
            }
            if (c == '?' || c == ':' || c == '-') && followed_by_ws {
                block_indicators = true;
            }
        } else {
            if c == ':' && followed_by_ws {
                block_indicators = true;
            }
            if c == '#' && preceded_by_ws {
                block_indicators = true;
            }
        }
        let printable = c == '\n'
            || ('\x20'..='\x7e').contains(&c)
            || ((c == '\u{85}'
                || ('\u{a0}'..='\u{d7ff}').contains(&c)
                || ('\u{e000}'..='\u{fffd}').contains(&c)
                || ('\u{10000}'..'\u{10ffff}').contains(&c))
                && c != '\u{feff}');
        if !printable {
            special = true;
        }
        if c == ' ' {
            if i == 0 {
                leading_space = true;
            }
            if i == chars.len() - 1 {
                trailing_space = true;
            }
            if previous_break {
                break_space = true;
            }
            previous_space = true;
            previous_break = false;
        } else if is_break(c) {
            if i == 0 {
                leading_break = true;
            }
            if i == chars.len() - 1 {
                trailing_break = true;
            }
            if previous_space {
                space_break = true;
            }
            previous_space = false;
            previous_break = true;
        } else {
            previous_space = false;
            previous_break = false;
        }
        preceded_by_ws = is_space_or_break(c);
    }
    let multiline = chars.iter().any(|&c| is_break(c));
    let mut allow_block_plain = !block_indicators;
    let mut allow_single = true;
    if leading_space || leading_break || trailing_space || trailing_break {
        allow_block_plain = false;
    }
    if break_space {
        allow_block_plain = false;
        allow_single = false;
    }
    if space_break || special {
        allow_block_plain = false;
        allow_single = false;
    }
    if multiline {
        allow_block_plain = false;
    }
    Analysis {
        empty: false,
        allow_block_plain,
        allow_single,
    }
}

/// Whether PyYAML would read `s` back, unquoted, as this same string.
fn resolves_to_str(s: &str) -> bool {
    static TS: OnceLock<Regex> = OnceLock::new();
    let ts = TS.get_or_init(|| {
        Regex::new(
            r"^(?:[0-9]{4}-[0-9]{2}-[0-9]{2}|[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:[Tt]|[ \t]+)[0-9]{1,2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9]{1,2}(?::[0-9]{2})?))?)$",
        )
        .expect("static pattern is valid")
    });
    if s == "=" || s == "<<" || ts.is_match(s) {
        return false;
    }
    matches!(crate::yaml::resolve_plain(s), crate::yaml::NodeKind::Str(_))
}

/// A string as a mapping key (never folded).
fn yaml_str(s: &str) -> String {
    let mut w = ScalarWriter {
        out: String::new(),
        column: 0,
        indent: 0,
        split: false,
    };
    w.string(s, true);
    w.out
}

/// Writes one string scalar the way PyYAML's emitter does, folding long
/// lines at spaces.
struct ScalarWriter {
    out: String,
    column: usize,
    indent: usize,
    split: bool,
}

impl ScalarWriter {
    fn write(&mut self, text: &str) {
        self.column += text.chars().count();
        self.out.push_str(text);
    }

    fn line_break(&mut self) {
        self.out.push('\n');
        self.column = 0;
    }

    fn write_indent(&mut self) {
        if self.column > 0 {
            self.line_break();
        }
        while self.column < self.indent {
            self.write(" ");
        }
    }

    fn string(&mut self, s: &str, simple_key: bool) {
        match choose_style(s, simple_key) {
            Style::Plain => self.plain(s),
            Style::Single => self.single(s),
            Style::Double => {
                let text = crate::value::to_json_string(&Value::String(s.to_string()));
                self.write(&text);
            }
        }
    }

    fn plain(&mut self, s: &str) {
        let chars: Vec<char> = s.chars().collect();
        let mut spaces = false;
        let mut start = 0;
        for end in 0..=chars.len() {
            let ch = chars.get(end).copied();
            if spaces {
                if ch != Some(' ') {
                    if start + 1 == end && self.column > BEST_WIDTH && self.split {
                        self.write_indent();
                    } else {
                        let t: String = chars[start..end].iter().collect();
                        self.write(&t);
                    }
                    start = end;
                }
            } else if ch.is_none() || ch == Some(' ') {
                let t: String = chars[start..end].iter().collect();
                self.write(&t);
                start = end;
            }
            if let Some(c) = ch {
                spaces = c == ' ';
            }
        }
    }

    fn single(&mut self, s: &str) {
        let is_break = |c: char| matches!(c, '\n' | '\u{85}' | '\u{2028}' | '\u{2029}');
        self.write("'");
        let chars: Vec<char> = s.chars().collect();
        let (mut spaces, mut breaks) = (false, false);
        let mut start = 0;
        for end in 0..=chars.len() {
            let ch = chars.get(end).copied();
            if spaces {
                if ch != Some(' ') {
                    if start + 1 == end
                        && self.column > BEST_WIDTH
                        && self.split
                        && start != 0
                        && end != chars.len()
                    {
                        self.write_indent();
                    } else {
                        let t: String = chars[start..end].iter().collect();
                        self.write(&t);
                    }
                    start = end;
                }
            } else if breaks {
                if ch.is_none_or(|c| !is_break(c)) {
                    if chars[start] == '\n' {
                        self.line_break();
                    }
                    for &br in &chars[start..end] {
                        if br == '\n' {
                            self.line_break();
                        } else {
                            self.out.push(br);
                            self.column = 0;
                        }
                    }
                    self.write_indent();
                    start = end;
                }
            } else if ch.is_none_or(|c| c == ' ' || is_break(c) || c == '\'') && start < end {
                let t: String = chars[start..end].iter().collect();
                self.write(&t);
                start = end;
            }
            if ch == Some('\'') {
                self.write("''");
                start = end + 1;
            }
            if let Some(c) = ch {
                spaces = c == ' ';
                breaks = is_break(c);
            }
        }
        self.write("'");
    }
}

/// The path given, made absolute against the current directory.
pub fn abs(p: &Path) -> PathBuf {
    super::absolute(p)
}
