//! The inventory: hosts, groups and their variables, read from the sources
//! given with `-i` the way ansible-core 2.19 reads them.
//!
//! A source is an INI file ([`ini`]), a YAML/JSON file ([`yaml`]), an
//! executable answering `--list` ([`script`]), a directory of such files,
//! or a `host1,host2,` list. Several sources merge in order into one
//! [`Inventory`]. Host patterns (`web:&prod:!web3`, `g[0:2]`, `~re`) are
//! in [`pattern`]; `group_vars/` and `host_vars/` files in [`vars_files`];
//! the `herd inventory` output formats in [`output`].
//!
//! The building operations mirror Ansible's own inventory data rules
//! (a group listing a child adopts its hosts, hosts in no group land in
//! `ungrouped`, every parentless group becomes a child of `all`), because
//! group order, host order and variable precedence all follow from them.

pub mod address;
pub mod ini;
pub mod output;
pub mod pattern;
pub mod pyliteral;
pub mod script;
pub mod vars_files;
pub mod yaml;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use indexmap::IndexMap;

use crate::diag::{Diagnostic, Result};
use crate::value::{Map, Value};

/// The names Ansible treats as this machine: a pattern naming one of them
/// gives an implicit `localhost` even when the inventory does not list it.
pub const LOCALHOST: [&str; 3] = ["127.0.0.1", "localhost", "::1"];

/// What to do with an inventory source that cannot be parsed: Ansible
/// warns and goes on without it unless told otherwise
/// (`[inventory] unparsed_is_failed`, `any_unparsed_is_failed`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UnparsedPolicy {
    /// Fail when no source at all could be parsed.
    pub unparsed_is_failed: bool,
    /// Fail when any source cannot be parsed.
    pub any_unparsed_is_failed: bool,
}

impl UnparsedPolicy {
    /// The policy the configuration sets.
    pub fn from_config(config: &crate::config::Config) -> UnparsedPolicy {
        UnparsedPolicy {
            unparsed_is_failed: config.inventory_unparsed_is_failed,
            any_unparsed_is_failed: config.inventory_any_unparsed_is_failed,
        }
    }
}

/// Every host and group read from the inventory sources.
#[derive(Clone, Debug, Default)]
pub struct Inventory {
    /// Hosts in the order they were first defined.
    pub hosts: IndexMap<String, Host>,
    /// Groups in the order they were first defined; `all` and `ungrouped`
    /// come first.
    pub groups: IndexMap<String, Group>,
    /// The inventory files and directories read (not `a,b,` lists): their
    /// directories hold the inventory's `group_vars/` and `host_vars/`.
    pub sources: Vec<PathBuf>,
    /// Group depths, computed once the inventory is complete.
    depths: std::sync::OnceLock<HashMap<String, usize>>,
}

/// One inventory host.
#[derive(Clone, Debug, Default)]
pub struct Host {
    /// The inventory name (`inventory_hostname`).
    pub name: String,
    /// Variables set on the host by the inventory sources themselves
    /// (inline INI vars, YAML host vars, a script's hostvars, a port).
    pub vars: Map<String, Value>,
    /// The groups that list this host directly, in the order it joined them.
    pub groups: Vec<String>,
    /// The source that first defined the host (`inventory_file`;
    /// its directory is `inventory_dir`). `None` for `a,b,` lists.
    pub source: Option<PathBuf>,
}

/// One inventory group.
#[derive(Clone, Debug, Default)]
pub struct Group {
    /// The group name.
    pub name: String,
    /// Variables set on the group by the inventory sources
    /// (`[g:vars]`, YAML `vars:`, a script's group vars).
    pub vars: Map<String, Value>,
    /// Hosts listed directly in this group, in order.
    pub hosts: Vec<String>,
    /// Child groups, in the order they were added.
    pub children: Vec<String>,
    /// Parent groups, in the order they were added.
    pub parents: Vec<String>,
    /// `ansible_group_priority` (default 1): orders groups of the same
    /// depth when their variables are merged. Not kept in `vars`, as in
    /// Ansible.
    pub priority: i64,
    /// Fast membership test for `hosts`.
    host_set: HashSet<String>,
}

impl Group {
    fn new(name: &str) -> Group {
        Group {
            name: name.to_string(),
            priority: 1,
            ..Group::default()
        }
    }

    /// Whether `host` is listed directly in this group.
    pub fn has_host(&self, host: &str) -> bool {
        self.host_set.contains(host)
    }
}

impl Inventory {
    /// An empty inventory: just `all` with its child `ungrouped`.
    pub fn new() -> Inventory {
        let mut inv = Inventory::default();
        inv.add_group("all");
        inv.add_group("ungrouped");
        // Cannot fail: both groups exist and form no loop.
        let _ = inv.add_child("all", "ungrouped");
        inv
    }

    /// Reads and merges inventory sources, in order: files, directories,
    /// executable scripts and `host1,host2,` lists. A source that does not
    /// exist is warned about and skipped, as Ansible does.
    pub fn load(sources: &[String]) -> Result<Inventory> {
        Inventory::load_with(sources, &UnparsedPolicy::default())
    }

    /// Loads the sources as [`Inventory::load`]; `policy` says whether a
    /// source that cannot be parsed is an error or, as Ansible's default,
    /// a warning after which that source is left out.
    pub fn load_with(sources: &[String], policy: &UnparsedPolicy) -> Result<Inventory> {
        let mut inv = Inventory::new();
        let mut parsed = false;
        for source in sources {
            if source.is_empty() {
                continue;
            }
            if source.contains(',') && !Path::new(source).exists() {
                inv.parse_list(source);
                parsed = true;
                continue;
            }
            let path = crate::config::expand_user(source);
            if !path.exists() {
                // Ansible's default source is not worth a warning when absent.
                if source == "/etc/ansible/hosts" {
                    continue;
                }
                let msg = format!(
                    "Unable to parse {} as an inventory source",
                    absolute(&path).display()
                );
                if policy.any_unparsed_is_failed {
                    return Err(Diagnostic::new(msg).hint("check the path given to -i"));
                }
                crate::diag::warn(msg);
                continue;
            }
            let path = absolute(&path);
            // A source that fails part way is left out whole: keep what
            // the earlier sources gave.
            let before = inv.clone();
            inv.sources.push(path.clone());
            match inv.parse_path(&path) {
                Ok(()) => parsed = true,
                Err(d) => {
                    // Whatever went wrong inside a source (YAML syntax
                    // included), a source that cannot be read is a generic
                    // error.
                    let d = d.code(crate::diag::exit::ERROR);
                    if policy.any_unparsed_is_failed {
                        return Err(d);
                    }
                    inv = before;
                    let text = d.to_string();
                    crate::diag::warn(text.strip_prefix("[ERROR]: ").unwrap_or(&text));
                    crate::diag::warn(format!(
                        "Unable to parse {} as an inventory source",
                        path.display()
                    ));
                }
            }
        }
        if !parsed && policy.unparsed_is_failed {
            return Err(
                Diagnostic::new("Unable to parse any of the inventory sources")
                    .hint("check the -i sources, or unset ANSIBLE_INVENTORY_UNPARSED_FAILED"),
            );
        }
        if parsed {
            inv.reconcile();
        } else {
            crate::diag::warn("No inventory was parsed, only implicit localhost is available");
        }
        Ok(inv)
    }

    fn parse_list(&mut self, list: &str) {
        for item in list.split(',') {
            let item = item.trim();
            if item.is_empty() {
                continue;
            }
            let (host, port) =
                address::parse_address(item, false).unwrap_or_else(|| (item.to_string(), None));
            if !self.hosts.contains_key(&host) {
                self.add_host(&host, Some("ungrouped"), port, None);
            }
        }
    }

    fn parse_path(&mut self, path: &Path) -> Result<()> {
        if path.is_dir() {
            let mut names: Vec<_> = std::fs::read_dir(path)
                .map_err(|e| {
                    Diagnostic::new(format!(
                        "could not read inventory directory '{}': {e}",
                        path.display()
                    ))
                })?
                .filter_map(|e| e.ok())
                .map(|e| e.file_name())
                .collect();
            names.sort();
            for name in names {
                let name = name.to_string_lossy();
                if ignored_in_dir(&name) {
                    continue;
                }
                self.parse_path(&path.join(&*name))?;
            }
            return Ok(());
        }
        if is_executable(path) {
            script::parse(self, path)?;
            return Ok(());
        }
        let ext = path
            .extension()
            .map(|e| format!(".{}", e.to_string_lossy()))
            .unwrap_or_default();
        let yaml_ext = [".yaml", ".yml", ".json"].contains(&ext.as_str());
        if yaml_ext || ext.is_empty() {
            // Ansible tries the YAML reader first and falls back to INI. A
            // file that loads as a YAML mapping is YAML: its errors are the
            // ones worth showing.
            match yaml::load(path) {
                Ok(node) => {
                    let snapshot = if yaml_ext { None } else { Some(self.clone()) };
                    match yaml::apply(self, &node, path) {
                        Ok(()) => return Ok(()),
                        Err(e) => {
                            let Some(snapshot) = snapshot else {
                                return Err(e);
                            };
                            *self = snapshot;
                            let mut probe = self.clone();
                            return match ini::parse(&mut probe, path) {
                                Ok(()) => {
                                    *self = probe;
                                    Ok(())
                                }
                                Err(_) => Err(e),
                            };
                        }
                    }
                }
                Err(e) if yaml_ext => return Err(e),
                Err(_) => {}
            }
        }
        if ext == ".toml" {
            return Err(Diagnostic::new(format!(
                "TOML inventories are not supported: {}",
                path.display()
            ))
            .hint("convert it to YAML or INI"));
        }
        ini::parse(self, path)?;
        Ok(())
    }

    /// Adds a group if it is new; returns its name.
    pub(crate) fn add_group(&mut self, name: &str) -> String {
        if !self.groups.contains_key(name) {
            warn_invalid_group_name(name);
            self.groups.insert(name.to_string(), Group::new(name));
        }
        name.to_string()
    }

    /// Adds a host if it is new (with its port), and puts it in `group`.
    pub(crate) fn add_host(
        &mut self,
        name: &str,
        group: Option<&str>,
        port: Option<u16>,
        source: Option<&Path>,
    ) {
        if !self.hosts.contains_key(name) {
            let mut host = Host {
                name: name.to_string(),
                source: source.map(Path::to_path_buf),
                ..Host::default()
            };
            if let Some(port) = port {
                host.vars.insert("ansible_port".into(), Value::from(port));
            }
            self.hosts.insert(name.to_string(), host);
        }
        if let Some(g) = group {
            self.add_host_to_group(g, name);
        }
    }

    fn add_host_to_group(&mut self, group: &str, host: &str) {
        let Some(g) = self.groups.get_mut(group) else {
            return;
        };
        if g.host_set.insert(host.to_string()) {
            g.hosts.push(host.to_string());
            if let Some(h) = self.hosts.get_mut(host) {
                h.groups.push(group.to_string());
            }
        }
    }

    fn remove_host_from_group(&mut self, group: &str, host: &str) {
        if let Some(g) = self.groups.get_mut(group) {
            if g.host_set.remove(host) {
                g.hosts.retain(|h| h != host);
            }
        }
        if let Some(h) = self.hosts.get_mut(host) {
            h.groups.retain(|g| g != group);
        }
    }

    /// Sets a host variable; a dict merged into a dict replaces it, as
    /// Ansible's default `hash_behaviour`.
    pub(crate) fn set_host_var(&mut self, host: &str, key: &str, value: Value) {
        if let Some(h) = self.hosts.get_mut(host) {
            h.vars.insert(key.to_string(), value);
        }
    }

    /// Sets a group variable; `ansible_group_priority` sets the priority.
    pub(crate) fn set_group_var(&mut self, group: &str, key: &str, value: Value) -> Result<()> {
        let Some(g) = self.groups.get_mut(group) else {
            return Ok(());
        };
        if key == "ansible_group_priority" {
            let p = match &value {
                Value::Number(n) => n.as_i64(),
                Value::String(s) => s.trim().parse().ok(),
                Value::Bool(b) => Some(i64::from(*b)),
                _ => None,
            };
            g.priority = p.ok_or_else(|| {
                Diagnostic::new(format!(
                    "ansible_group_priority of group '{group}' must be an integer, got {}",
                    crate::value::py_repr(&value)
                ))
            })?;
        } else {
            g.vars.insert(key.to_string(), value);
        }
        Ok(())
    }

    /// Makes `child` a child group of `parent`, refusing loops.
    pub(crate) fn add_child(&mut self, parent: &str, child: &str) -> Result<()> {
        if parent == child {
            return Err(Diagnostic::new(format!(
                "can't add group '{child}' to itself"
            )));
        }
        if self.groups[parent].children.iter().any(|c| c == child) {
            return Ok(());
        }
        if self.ancestors(parent).contains(child) {
            return Err(Diagnostic::new(format!(
                "Adding group '{child}' as child to '{parent}' creates a recursive dependency loop."
            )));
        }
        if let Some(p) = self.groups.get_mut(parent) {
            p.children.push(child.to_string());
        }
        self.depths = std::sync::OnceLock::new();
        if let Some(c) = self.groups.get_mut(child) {
            if !c.parents.iter().any(|p| p == parent) {
                c.parents.push(parent.to_string());
            }
        }
        Ok(())
    }

    /// Every ancestor group of `group` (not itself).
    pub fn ancestors(&self, group: &str) -> HashSet<String> {
        let mut seen = HashSet::new();
        let mut todo = vec![group.to_string()];
        while let Some(g) = todo.pop() {
            if let Some(g) = self.groups.get(&g) {
                for p in &g.parents {
                    if seen.insert(p.clone()) {
                        todo.push(p.clone());
                    }
                }
            }
        }
        seen
    }

    /// Applies Ansible's rules after the sources are read: parentless
    /// groups go under `all`; hosts in no group go to `ungrouped`, and
    /// hosts in another group leave it.
    fn reconcile(&mut self) {
        self.depths = std::sync::OnceLock::new();
        let names: Vec<String> = self.groups.keys().cloned().collect();
        for g in &names {
            if g != "all" && self.groups[g].parents.is_empty() {
                // Cannot loop: `all` has no parents.
                let _ = self.add_child("all", g);
            }
        }
        let hosts: Vec<String> = self.hosts.keys().cloned().collect();
        for h in &hosts {
            let groups = &self.hosts[h].groups;
            let in_ungrouped = groups.iter().any(|g| g == "ungrouped");
            let elsewhere = groups.iter().any(|g| g != "all" && g != "ungrouped");
            if in_ungrouped && elsewhere {
                self.remove_host_from_group("ungrouped", h);
            } else if !in_ungrouped && !elsewhere {
                self.add_host_to_group("ungrouped", h);
            }
        }
        let host_set: HashSet<&String> = self.hosts.keys().collect();
        for g in self.groups.keys() {
            if host_set.contains(g) {
                crate::diag::warn(format!("Found both group and host with same name: {g}"));
            }
        }
    }

    /// Every host of a group and its descendants, in Ansible's order: the
    /// group's own hosts, then its children's, level by level.
    pub fn group_hosts(&self, group: &str) -> Vec<String> {
        let Some(g) = self.groups.get(group) else {
            return Vec::new();
        };
        let mut order: Vec<&Group> = vec![g];
        let mut seen: HashSet<&str> = HashSet::from([g.name.as_str()]);
        let mut level: Vec<&Group> = Vec::new();
        for c in &g.children {
            if let Some(c) = self.groups.get(c) {
                if seen.insert(&c.name) {
                    order.push(c);
                    level.push(c);
                }
            }
        }
        while !level.is_empty() {
            let mut next = Vec::new();
            for g in level {
                for c in &g.children {
                    if let Some(c) = self.groups.get(c) {
                        if seen.insert(&c.name) {
                            order.push(c);
                            next.push(c);
                        }
                    }
                }
            }
            level = next;
        }
        let mut out = Vec::new();
        let mut seen_hosts: HashSet<&str> = HashSet::new();
        for g in order {
            for h in &g.hosts {
                if seen_hosts.insert(h) {
                    out.push(h.clone());
                }
            }
        }
        out
    }

    /// Whether `name` is the implicit localhost: named like this machine
    /// but not in the inventory. It belongs to no group, not even `all`.
    pub fn is_implicit_localhost(&self, name: &str) -> bool {
        !self.hosts.contains_key(name) && LOCALHOST.contains(&name)
    }

    /// Every group `host` belongs to, directly or through a child group,
    /// including `all` when the host is in the inventory.
    pub fn host_all_groups(&self, host: &str) -> Vec<String> {
        let Some(h) = self.hosts.get(host) else {
            return Vec::new();
        };
        let mut seen: HashSet<String> = HashSet::new();
        let mut out = Vec::new();
        for g in &h.groups {
            let mut anc: Vec<String> = self.ancestors(g).into_iter().collect();
            anc.sort();
            for a in anc.into_iter().chain(std::iter::once(g.clone())) {
                if seen.insert(a.clone()) {
                    out.push(a);
                }
            }
        }
        out
    }

    /// The `group_names` magic variable: the host's groups, sorted,
    /// without `all` (`ungrouped` is listed for an ungrouped host).
    pub fn group_names(&self, host: &str) -> Vec<String> {
        let mut names: Vec<String> = self
            .host_all_groups(host)
            .into_iter()
            .filter(|g| g != "all")
            .collect();
        names.sort();
        names
    }

    /// The `groups` magic variable: every group, `all` and `ungrouped`
    /// included, with the hosts in it or its descendants.
    pub fn groups_var(&self) -> Map<String, Value> {
        self.groups
            .keys()
            .map(|g| {
                let hosts = self.group_hosts(g).into_iter().map(Value::String).collect();
                (g.clone(), Value::Array(hosts))
            })
            .collect()
    }

    /// Group depths as Ansible counts them: `all` is 0, a group is one
    /// deeper than its deepest parent.
    pub fn group_depths(&self) -> &HashMap<String, usize> {
        self.depths.get_or_init(|| self.compute_depths())
    }

    fn compute_depths(&self) -> HashMap<String, usize> {
        fn depth<'a>(
            inv: &'a Inventory,
            g: &'a str,
            memo: &mut HashMap<String, usize>,
            stack: &mut HashSet<&'a str>,
        ) -> usize {
            if let Some(d) = memo.get(g) {
                return *d;
            }
            let Some(group) = inv.groups.get(g) else {
                return 0;
            };
            // A loop is refused when groups are linked; the stack only
            // guards against it anyway.
            if !stack.insert(g) {
                return 0;
            }
            let d = group
                .parents
                .iter()
                .map(|p| depth(inv, p, memo, stack) + 1)
                .max()
                .unwrap_or(0);
            stack.remove(g);
            memo.insert(g.to_string(), d);
            d
        }
        let mut memo = HashMap::new();
        let mut stack = HashSet::new();
        for g in self.groups.keys() {
            depth(self, g, &mut memo, &mut stack);
        }
        memo
    }

    /// Every group of `host` including `all`, in the order Ansible merges
    /// their variables: by depth, then `ansible_group_priority`, then name.
    pub fn host_groups_ordered(&self, host: &str) -> Vec<&Group> {
        let depths = self.group_depths();
        let mut groups: Vec<&Group> = self
            .host_all_groups(host)
            .iter()
            .filter_map(|g| self.groups.get(g))
            .collect();
        if groups.is_empty() && self.is_implicit_localhost(host) {
            // The implicit localhost still gets `all`'s variables.
            groups.extend(self.groups.get("all"));
        }
        groups.sort_by(|a, b| {
            let da = depths.get(&a.name).copied().unwrap_or(0);
            let db = depths.get(&b.name).copied().unwrap_or(0);
            (da, a.priority, &a.name).cmp(&(db, b.priority, &b.name))
        });
        groups
    }

    /// Variables of the inventory layers for one host, merged in Ansible's
    /// precedence order (low→high): inventory file group vars (by group
    /// order above) < inventory group_vars/all < playbook group_vars/all <
    /// inventory group_vars/<group> < playbook group_vars/<group> <
    /// inventory file host vars < inventory host_vars/<host> < playbook
    /// host_vars/<host>.
    ///
    /// `playbook_dir` None = only the inventory dirs (ansible-inventory
    /// without --playbook-dir).
    pub fn host_vars(&self, host: &str, playbook_dir: Option<&Path>) -> Result<Map<String, Value>> {
        Ok(self.host_vars_traced(host, playbook_dir)?.vars)
    }

    /// [`Inventory::host_vars`], with where each value came from.
    pub(crate) fn host_vars_traced(
        &self,
        host: &str,
        playbook_dir: Option<&Path>,
    ) -> Result<Traced> {
        let groups = self.host_groups_ordered(host);
        let mut out = Traced::default();
        for g in &groups {
            out.merge_from(&g.vars, |k| Some(format!("group\0{}\0{k}", g.name)));
        }
        let dirs = self.vars_dirs();
        let all: Vec<&Group> = groups.iter().copied().filter(|g| g.name == "all").collect();
        let rest: Vec<&Group> = groups.iter().copied().filter(|g| g.name != "all").collect();
        for set in [&all, &rest] {
            for dir in &dirs {
                for g in set.iter() {
                    out.merge(&*vars_files::group_vars_traced(dir, &g.name)?);
                }
            }
            if let Some(pb) = playbook_dir {
                for g in set.iter() {
                    out.merge(&*vars_files::group_vars_traced(pb, &g.name)?);
                }
            }
        }
        if let Some(h) = self.hosts.get(host) {
            // Each host has its own copy of its variables.
            out.merge_from(&h.vars, |_| None);
        } else if self.is_implicit_localhost(host) {
            out.vars
                .insert("ansible_connection".into(), Value::String("local".into()));
            out.origin.remove("ansible_connection");
        }
        for dir in &dirs {
            out.merge(&*vars_files::host_vars_traced(dir, host)?);
        }
        if let Some(pb) = playbook_dir {
            out.merge(&*vars_files::host_vars_traced(pb, host)?);
        }
        Ok(out)
    }

    /// A host's own variables (as [`Host::vars`]) with where each came from.
    pub(crate) fn host_own_vars_traced(&self, host: &str) -> Traced {
        let mut out = Traced::default();
        if let Some(h) = self.hosts.get(host) {
            // Each host has its own copy of its variables.
            out.merge_from(&h.vars, |_| None);
        }
        out
    }

    /// The directories whose `group_vars/` and `host_vars/` belong to the
    /// inventory: each directory source, and the directory of each file.
    pub fn vars_dirs(&self) -> Vec<PathBuf> {
        self.sources
            .iter()
            .map(|s| {
                if s.is_dir() {
                    s.clone()
                } else {
                    s.parent().map(Path::to_path_buf).unwrap_or_default()
                }
            })
            .collect()
    }

    /// Host names matching a host pattern, in Ansible's order. See
    /// [`pattern`] for the syntax.
    pub fn select(&self, pattern: &str) -> Result<Vec<String>> {
        pattern::select(self, pattern)
    }

    /// Keeps the hosts that also match `limit` (`--limit`), which may name
    /// files with `@path` (one pattern per line).
    pub fn apply_limit(&self, hosts: Vec<String>, limit: &str) -> Result<Vec<String>> {
        pattern::apply_limit(self, hosts, limit)
    }
}

/// Variables and, for values several hosts share (a group's variable, a
/// vars file's), a name of the shared source. Ansible copies each value
/// it sets on a host, so host variables are never shared, not even by the
/// hosts of one range. Only the
/// YAML output uses it: PyYAML writes a shared value once and refers to it
/// with an alias (`&id001` / `*id001`).
#[derive(Clone, Debug, Default)]
pub(crate) struct Traced {
    /// The merged variables.
    pub vars: Map<String, Value>,
    /// For a variable whose value is shared, a name of its source.
    pub origin: HashMap<String, String>,
}

impl Traced {
    fn merge(&mut self, other: &Traced) {
        self.merge_from(&other.vars, |k| other.origin.get(k).cloned());
    }

    pub(crate) fn merge_from(
        &mut self,
        vars: &Map<String, Value>,
        origin: impl Fn(&str) -> Option<String>,
    ) {
        for (k, v) in vars {
            self.vars.insert(k.clone(), v.clone());
            match origin(k) {
                Some(o) => self.origin.insert(k.clone(), o),
                None => self.origin.remove(k),
            };
        }
    }
}

/// Top-level merge with Ansible's default `hash_behaviour = replace`.
pub(crate) fn merge(into: &mut Map<String, Value>, from: &Map<String, Value>) {
    for (k, v) in from {
        into.insert(k.clone(), v.clone());
    }
}

pub(crate) fn absolute(path: &Path) -> PathBuf {
    let joined = if path.is_absolute() {
        path.to_path_buf()
    } else {
        match std::env::current_dir() {
            Ok(cwd) => cwd.join(path),
            Err(_) => path.to_path_buf(),
        }
    };
    // Normalised without following symlinks, as Ansible's `unfrackpath`
    // does: `inventory_dir` then reads as the user expects.
    let mut out = PathBuf::new();
    for c in joined.components() {
        match c {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// Directory entries Ansible never reads as inventory: hidden files,
/// `group_vars`, `host_vars`, `vars_plugins`, and its ignored extensions.
fn ignored_in_dir(name: &str) -> bool {
    const EXTS: [&str; 12] = [
        ".pyc", ".pyo", ".swp", ".bak", "~", ".rpm", ".md", ".txt", ".rst", ".orig", ".cfg",
        ".retry",
    ];
    name.starts_with('.')
        || matches!(name, "host_vars" | "group_vars" | "vars_plugins")
        || EXTS.iter().any(|e| name.ends_with(e))
}

#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

#[cfg(not(unix))]
fn is_executable(_path: &Path) -> bool {
    false
}

/// Ansible keeps group names with characters invalid in a variable name
/// but warns (its default `TRANSFORM_INVALID_GROUP_CHARS=never`).
fn warn_invalid_group_name(name: &str) {
    let first_bad = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_digit() || !(c.is_alphanumeric() || c == '_'));
    if first_bad || name.chars().any(|c| !(c.is_alphanumeric() || c == '_')) {
        crate::diag::warn(
            "Invalid characters were found in group names but not replaced, use -vvvv to see details",
        );
    }
}
