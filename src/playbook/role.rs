//! Roles: finding a role's directory, loading its files and its meta
//! dependencies.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::keywords::ROLE_KEYWORDS;
use super::load::{parent_dir, vars_of, Loader, TaskCtx};
use super::{Keywords, RoleContext, RoleInclude, Task, TaskItem};
use crate::diag::{exit, Diagnostic, Loc, Result};
use crate::value::{py_str, to_json_string, Map, Value};
use crate::yaml::{self, Node, NodeKind};

/// How deep meta dependencies may nest before the loader assumes a cycle.
const MAX_ROLE_DEPTH: usize = 32;

/// A role as asked for: by a `roles:` entry, a meta dependency or an
/// `import_role`.
pub(super) struct RoleSpec {
    pub loc: Loc,
    pub name: String,
    pub params: Map<String, Value>,
    pub keywords: Keywords,
    pub tags: Vec<String>,
    pub when: Vec<Value>,
    pub vars: Map<String, Value>,
    pub from_dependency: bool,
    pub tasks_from: Option<String>,
    pub vars_from: Option<String>,
    pub defaults_from: Option<String>,
    pub handlers_from: Option<String>,
    pub allow_duplicates: Option<bool>,
    pub public: Option<bool>,
    /// Whether a repeat of this role in the play runs once (play `roles:`
    /// and their dependencies); `import_role` always runs.
    pub dedupe: bool,
}

impl RoleSpec {
    fn new(name: String, loc: Loc, from_dependency: bool) -> RoleSpec {
        RoleSpec {
            loc,
            name,
            params: Map::new(),
            keywords: Keywords::default(),
            tags: Vec::new(),
            when: Vec::new(),
            vars: Map::new(),
            from_dependency,
            tasks_from: None,
            vars_from: None,
            defaults_from: None,
            handlers_from: None,
            allow_duplicates: None,
            public: None,
            dedupe: true,
        }
    }

    /// A `roles:` or `dependencies:` entry: a name, or a mapping with
    /// `role:` (or `name:`), keywords and role parameters.
    pub fn parse(node: &Node, from_dependency: bool) -> Result<RoleSpec> {
        match &node.kind {
            NodeKind::Str(s) | NodeKind::Unsafe(s) => {
                // Old `dependencies` entries may read `name,version`.
                let name = s.split(',').next().unwrap_or(s).trim().to_string();
                Ok(RoleSpec::new(name, node.loc.clone(), from_dependency))
            }
            NodeKind::Map(pairs) => {
                let name_node = node.get("role").or_else(|| node.get("name"));
                let Some(name) = name_node
                    .filter(|n| !n.is_null())
                    .map(|n| py_str(&n.to_value()))
                else {
                    return Err(Diagnostic::new("role definitions must contain a role name")
                        .at(node.loc.clone())
                        .hint("name the role with `role: NAME` (other keys are role parameters)"));
                };
                let mut spec = RoleSpec::new(name, node.loc.clone(), from_dependency);
                let by_role = node.get("role").is_some();
                for (k, v) in pairs {
                    let key = k.key_text().unwrap_or_default();
                    match key.as_str() {
                        "role" => {}
                        "name" if !by_role => {}
                        "tags" => spec.tags = super::load::tags_of(v)?,
                        "when" => {
                            spec.when = match v.to_value() {
                                Value::Array(a) => a,
                                Value::Null => Vec::new(),
                                other => vec![other],
                            }
                        }
                        "vars" => spec.vars = vars_of(v, "Role")?,
                        k if ROLE_KEYWORDS.contains(&k) => {
                            spec.keywords.0.insert(key.clone(), v.to_value());
                        }
                        _ => {
                            spec.params.insert(key, v.to_value());
                        }
                    }
                }
                Ok(spec)
            }
            _ => Err(Diagnostic::new(format!(
                "a role entry must be a role name or a mapping with `role:`, got a {}",
                node.type_name()
            ))
            .at(node.loc.clone())
            .code(exit::PARSER_ERROR)),
        }
    }

    /// The role an `import_role` task asks for.
    pub fn from_action(task: &Task) -> Result<RoleSpec> {
        let Some(name) = task.args.get("name").filter(|v| !v.is_null()).map(py_str) else {
            return Err(Diagnostic::parse(
                format!("'name' is a required field for {}.", task.action),
                task.loc.clone(),
            )
            .hint("give the role: `import_role: name=myrole`"));
        };
        let mut spec = RoleSpec::new(name, task.action_loc.clone(), false);
        let text = |k: &str| task.args.get(k).map(py_str);
        spec.tasks_from = text("tasks_from");
        spec.vars_from = text("vars_from");
        spec.defaults_from = text("defaults_from");
        spec.handlers_from = text("handlers_from");
        spec.allow_duplicates = task.args.get("allow_duplicates").and_then(bool_of);
        spec.public = task.args.get("public").and_then(bool_of);
        spec.dedupe = false;
        Ok(spec)
    }
}

fn bool_of(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::String(s) => match s.to_ascii_lowercase().as_str() {
            "yes" | "true" | "on" | "1" => Some(true),
            "no" | "false" | "off" | "0" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

/// The file `dir/name` with one of the extensions Ansible tries (none,
/// `.yml`, `.yaml`, `.json`).
fn find_main(dir: &Path, name: &str) -> Option<PathBuf> {
    ["", ".yml", ".yaml", ".json"]
        .iter()
        .map(|ext| dir.join(format!("{name}{ext}")))
        .find(|p| p.is_file())
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// A role's defaults or vars: one file, or every YAML/JSON file of a
/// directory (sorted by name, later files winning), as Ansible reads
/// `vars/main/`.
fn load_vars_path(path: &Path, sub: &str, role: &str) -> Result<Map<String, Value>> {
    if !path.is_dir() {
        return load_map_file(path, &format!("{sub}/{}", file_name(path)), role);
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(path)
        .map_err(|e| Diagnostic::new(format!("could not read '{}': {e}", path.display())))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.is_file()
                && !file_name(p).starts_with('.')
                && matches!(
                    p.extension().and_then(|e| e.to_str()),
                    None | Some("yml" | "yaml" | "json")
                )
        })
        .collect();
    files.sort();
    let mut out = Map::new();
    for f in files {
        let rel = format!("{sub}/main/{}", file_name(&f));
        out.extend(load_map_file(&f, &rel, role)?);
    }
    Ok(out)
}

/// A role file that must hold a mapping (defaults, vars, meta).
fn load_map_file(path: &Path, what: &str, role: &str) -> Result<Map<String, Value>> {
    let root = yaml::load_file(path).map_err(|d| d.code(exit::PARSER_ERROR))?;
    match root.to_value() {
        Value::Null => Ok(Map::new()),
        Value::Object(m) if root.as_map().is_some() => Ok(m),
        _ => Err(Diagnostic::parse(
            format!(
                "The {what} file for role '{role}' must contain a dictionary of variables, not a {}",
                root.type_name()
            ),
            root.loc.clone(),
        )),
    }
}

impl Loader<'_> {
    /// Finds a role's directory: `roles/` beside the play's file, then
    /// `roles_path`, then beside the parent role (for dependencies), then
    /// beside the play's file; a name with `/` may also be a path.
    fn find_role(
        &self,
        name: &str,
        loc: &Loc,
        basedir: &Path,
        role_basedir: Option<&Path>,
    ) -> Result<(String, PathBuf)> {
        let mut search = vec![basedir.join("roles")];
        search.extend(self.opts.roles_path.iter().cloned());
        if let Some(rb) = role_basedir {
            search.push(rb.to_path_buf());
        }
        search.push(basedir.to_path_buf());
        if !name.is_empty() {
            for dir in &search {
                let p = dir.join(name);
                if p.is_dir() {
                    return Ok((name.to_string(), p));
                }
            }
            let p = Path::new(name);
            if p.is_dir() {
                let short = p
                    .file_name()
                    .map(|f| f.to_string_lossy().into_owned())
                    .unwrap_or_default();
                return Ok((short, p.to_path_buf()));
            }
        }
        let searched: Vec<String> = search.iter().map(|p| p.display().to_string()).collect();
        let mut d = Diagnostic::new(format!(
            "the role '{name}' was not found in {}",
            searched.join(":")
        ))
        .at(loc.clone());
        let dotted = name.split('.').count() >= 3 && !name.contains('/');
        d = if dotted {
            d.hint("roles from collections are not shipped with herd; put the role in roles/ beside the playbook or in roles_path")
        } else {
            let known: Vec<String> = search
                .iter()
                .filter_map(|dir| std::fs::read_dir(dir).ok())
                .flat_map(|rd| rd.flatten())
                .filter(|e| e.path().join("tasks").is_dir() || e.path().join("meta").is_dir())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect();
            match crate::diag::did_you_mean(name, known.iter().map(String::as_str)) {
                Some(s) => d.hint(format!("did you mean '{s}'?")),
                None => d.hint("put the role in roles/ beside the playbook, or add its directory to roles_path"),
            }
        };
        Err(d)
    }

    /// Loads a role with its dependencies.
    pub(super) fn load_role(
        &mut self,
        spec: RoleSpec,
        basedir: &Path,
        role_basedir: Option<&Path>,
    ) -> Result<RoleInclude> {
        let name = self.render(&spec.name, &spec.loc)?;
        let (name, path) = self.find_role(&name, &spec.loc, basedir, role_basedir)?;
        let path = std::fs::canonicalize(&path).unwrap_or(path);
        // A role already being loaded above this one is a dependency cycle;
        // it would never end (Ansible stops at Python's recursion limit).
        if self.stack.contains(&path) || self.stack.len() > MAX_ROLE_DEPTH {
            return Err(Diagnostic::new(format!(
                "A recursion loop was detected with the roles specified: role '{name}' depends on itself"
            ))
            .at(spec.loc.clone())
            .hint("make sure child roles do not have dependencies on parent roles"));
        }

        // meta/main: dependencies and allow_duplicates.
        let meta_dir = path.join("meta");
        let meta_file = find_main(&meta_dir, "main");
        let meta_root = match &meta_file {
            Some(f) => Some(yaml::load_file(f).map_err(|d| d.code(exit::PARSER_ERROR))?),
            None => None,
        };
        if let Some(root) = &meta_root {
            if !matches!(root.kind, NodeKind::Map(_) | NodeKind::Null) {
                return Err(Diagnostic::parse(
                    format!(
                        "the meta/main file of role '{name}' must contain a dictionary, not a {}",
                        root.type_name()
                    ),
                    root.loc.clone(),
                ));
            }
        }
        let meta_allow = meta_root
            .as_ref()
            .and_then(|r| r.get("allow_duplicates"))
            .and_then(|n| bool_of(&n.to_value()));
        let spec_dedupe = spec.dedupe;
        let allow_duplicates = spec.allow_duplicates.or(meta_allow).unwrap_or(false);

        // A role with the same parameters already in this play runs once.
        let key = format!(
            "{}|{:?}|{:?}|{:?}|{:?}|{}",
            path.display(),
            spec.tasks_from,
            spec.vars_from,
            spec.defaults_from,
            spec.handlers_from,
            to_json_string(&Value::Object(spec.params.clone()))
        );
        let duplicate = spec.dedupe && !self.play.seen_roles.insert(key) && !allow_duplicates;

        let file_or_main = |sub: &str, from: &Option<String>| -> Result<Option<PathBuf>> {
            let dir = path.join(sub);
            match from {
                None => Ok(find_main(&dir, "main")),
                Some(f) => find_main(&dir, f).map(Some).ok_or_else(|| {
                    Diagnostic::parse(
                        format!("Could not find specified file in role: {sub}/{f}"),
                        spec.loc.clone(),
                    )
                    .hint(format!(
                        "looked for {f}, {f}.yml, {f}.yaml and {f}.json in {}",
                        dir.display()
                    ))
                }),
            }
        };
        let defaults_file = file_or_main("defaults", &spec.defaults_from)?;
        let vars_file = file_or_main("vars", &spec.vars_from)?;
        let tasks_file = file_or_main("tasks", &spec.tasks_from)?;
        let handlers_file = file_or_main("handlers", &spec.handlers_from)?;
        // `defaults/main/` and `vars/main/` may be directories of files.
        let main_dir = |sub: &str, file: Option<PathBuf>, from: &Option<String>| {
            let d = path.join(sub).join("main");
            file.or_else(|| (from.is_none() && d.is_dir()).then_some(d))
        };
        let defaults_file = main_dir("defaults", defaults_file, &spec.defaults_from);
        let vars_file = main_dir("vars", vars_file, &spec.vars_from);
        let defaults = match &defaults_file {
            Some(f) => load_vars_path(f, "defaults", &name)?,
            None => Map::new(),
        };
        let vars = match &vars_file {
            Some(f) => load_vars_path(f, "vars", &name)?,
            None => Map::new(),
        };
        let context = Arc::new(RoleContext {
            name: name.clone(),
            path: path.clone(),
            defaults,
            vars,
            params: spec.params.clone(),
            from_dependency: spec.from_dependency,
            allow_duplicates,
            public: spec.public,
            tasks_file: tasks_file.clone(),
            handlers_file: handlers_file.clone(),
        });
        let mut include = RoleInclude {
            loc: spec.loc.clone(),
            name: name.clone(),
            context: context.clone(),
            tags: spec.tags,
            when: spec.when,
            vars: spec.vars,
            keywords: spec.keywords,
            dependencies: Vec::new(),
            tasks: Vec::new(),
            handlers: Vec::new(),
            duplicate,
        };
        self.scan_library(&path);
        self.stack.push(path.clone());

        if let Some(deps) = meta_root.as_ref().and_then(|r| r.get("dependencies")) {
            let items = match &deps.kind {
                NodeKind::Null => &[][..],
                NodeKind::Seq(items) => items.as_slice(),
                _ => {
                    return Err(Diagnostic::parse(
                        format!(
                            "dependencies of role '{name}' must be a list, got a {}",
                            deps.type_name()
                        ),
                        deps.loc.clone(),
                    ))
                }
            };
            let sibling_dir = parent_dir(&path);
            for item in items {
                let mut dep = RoleSpec::parse(item, true)?;
                dep.dedupe = spec_dedupe;
                let loaded = self.load_role(dep, basedir, Some(&sibling_dir))?;
                include.dependencies.push(loaded);
            }
        }

        let ctx = TaskCtx {
            file_dir: path.join("tasks"),
            basedir: basedir.to_path_buf(),
            role: Some(context),
            is_handler: false,
        };
        if let Some(f) = &tasks_file {
            include.tasks = self.role_task_file(f, &ctx)?;
        }
        if let Some(f) = &handlers_file {
            let hctx = TaskCtx {
                file_dir: path.join("handlers"),
                is_handler: true,
                ..ctx.clone()
            };
            include.handlers = self.role_task_file(f, &hctx)?;
        }
        self.stack.pop();
        Ok(include)
    }

    fn role_task_file(&mut self, file: &Path, ctx: &TaskCtx) -> Result<Vec<TaskItem>> {
        let root = yaml::load_file(file).map_err(|d| d.code(exit::PARSER_ERROR))?;
        if !matches!(root.kind, NodeKind::Seq(_) | NodeKind::Null) {
            let dir = file.parent().map(file_name).unwrap_or_default();
            let role = ctx.role.as_ref().map(|r| r.name.as_str()).unwrap_or("");
            return Err(Diagnostic::parse(
                format!(
                    "The {dir}/{} file for role '{role}' must contain a list of tasks, not a {}",
                    file_name(file),
                    root.type_name()
                ),
                root.loc.clone(),
            )
            .hint("start each task with `- `"));
        }
        self.task_list(&root, ctx, "tasks")
    }
}
