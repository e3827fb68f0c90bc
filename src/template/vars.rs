//! The variables as templates see them: a lazy object that renders a
//! variable holding a template only when it is read, as Ansible does, and
//! `hostvars`, which does the same for other hosts.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock, Weak};

use minijinja::value::{Enumerator, Object, ObjectRepr, Value as Mj};
use minijinja::{Environment, ErrorKind};

use super::convert::{needs_render, py_type_name_mj, to_mj};
use super::{HostVarsSource, RenderError, Templar, Vars};
use crate::diag::{exit, Diagnostic};
use crate::value::{Map, Value};

/// Errors met while rendering variables lazily. `get_value` cannot fail, so
/// they are kept here and reported once the outer template is done.
#[derive(Default, Debug)]
pub(crate) struct ErrorSink {
    hard: Mutex<Option<Diagnostic>>,
    /// Variable name → why it rendered as undefined.
    undefined: Mutex<HashMap<String, String>>,
}

impl ErrorSink {
    pub fn take_hard(&self) -> Option<Diagnostic> {
        lock(&self.hard).take()
    }

    fn set_hard(&self, d: Diagnostic) {
        let mut h = lock(&self.hard);
        if h.is_none() {
            *h = Some(d);
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

/// A pointer to the caller's [`Vars`], valid only while the render call
/// that borrowed them runs. Avoids copying every variable of a host for
/// each template.
struct BorrowCell {
    ptr: RwLock<Option<VarsPtr>>,
}

#[derive(Clone, Copy)]
struct VarsPtr(*const Vars);
// SAFETY: `Vars` is Send + Sync, and the pointer is only dereferenced while
// the read lock shows the borrow is still alive (see `ScopeGuard`).
unsafe impl Send for VarsPtr {}
unsafe impl Sync for VarsPtr {}

/// Ends the borrow of the caller's [`Vars`] when the render call returns,
/// so a value that outlives it can no longer reach them.
pub(crate) struct ScopeGuard(Arc<BorrowCell>);

impl Drop for ScopeGuard {
    fn drop(&mut self) {
        match self.0.ptr.write() {
            Ok(mut g) => *g = None,
            Err(p) => *p.into_inner() = None,
        }
    }
}

enum Source {
    Borrowed(Arc<BorrowCell>),
    Owned(Map<String, Value>),
}

pub(crate) struct VarsObject {
    templar: Templar,
    src: Source,
    hostvars: Option<Arc<dyn HostVarsSource>>,
    cache: Mutex<HashMap<String, Mj>>,
    resolving: Mutex<Vec<String>>,
    pub sink: Arc<ErrorSink>,
    hostvars_obj: Mutex<Option<Mj>>,
}

impl std::fmt::Debug for VarsObject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("vars")
    }
}

impl VarsObject {
    pub fn borrowed(
        templar: Templar,
        vars: &Vars,
        sink: Arc<ErrorSink>,
    ) -> (Arc<VarsObject>, ScopeGuard) {
        let cell = Arc::new(BorrowCell {
            ptr: RwLock::new(Some(VarsPtr(vars as *const Vars))),
        });
        let obj = Arc::new(VarsObject {
            templar,
            src: Source::Borrowed(cell.clone()),
            hostvars: vars.hostvars.clone(),
            cache: Mutex::new(HashMap::new()),
            resolving: Mutex::new(Vec::new()),
            sink,
            hostvars_obj: Mutex::new(None),
        });
        (obj, ScopeGuard(cell))
    }

    fn owned(
        templar: Templar,
        vars: Map<String, Value>,
        hostvars: Option<Arc<dyn HostVarsSource>>,
        sink: Arc<ErrorSink>,
    ) -> Arc<VarsObject> {
        Arc::new(VarsObject {
            templar,
            src: Source::Owned(vars),
            hostvars,
            cache: Mutex::new(HashMap::new()),
            resolving: Mutex::new(Vec::new()),
            sink,
            hostvars_obj: Mutex::new(None),
        })
    }

    /// Runs `f` on the raw variables, if they are still reachable.
    fn with_map<R>(&self, f: impl FnOnce(&Map<String, Value>) -> R) -> Option<R> {
        match &self.src {
            Source::Owned(m) => Some(f(m)),
            Source::Borrowed(cell) => {
                let g = cell.ptr.read().ok()?;
                let p = (*g)?;
                // SAFETY: the guard holds the read lock, and the pointer is
                // cleared (under the write lock) before the borrow ends.
                let vars = unsafe { &*p.0 };
                Some(f(&vars.vars))
            }
        }
    }

    /// These variables with `extra` on top (the template lookup's
    /// `template_vars`).
    pub fn overlay(self: &Arc<Self>, extra: Map<String, Value>) -> Arc<VarsObject> {
        let mut merged = self.with_map(|m| m.clone()).unwrap_or_default();
        for (k, v) in extra {
            merged.insert(k, v);
        }
        VarsObject::owned(
            self.templar.clone(),
            merged,
            self.hostvars.clone(),
            self.sink.clone(),
        )
    }

    /// The names of all variables.
    pub fn names(&self) -> Vec<String> {
        self.with_map(|m| m.keys().cloned().collect())
            .unwrap_or_default()
    }

    pub fn templar(&self) -> &Templar {
        &self.templar
    }

    /// Whether a variable of this name exists (without rendering it).
    pub fn has(&self, name: &str) -> bool {
        matches!(name, "omit" | "vars")
            || (name == "hostvars" && self.hostvars.is_some())
            || self.with_map(|m| m.contains_key(name)).unwrap_or(false)
    }

    fn resolve(self: &Arc<Self>, name: &str) -> Option<Mj> {
        if let Some(v) = lock(&self.cache).get(name) {
            return Some(v.clone());
        }
        let raw = self.with_map(|m| m.get(name).cloned())??;
        let v = lazy_value(self, &raw, name);
        lock(&self.cache).insert(name.to_string(), v.clone());
        Some(v)
    }
}

/// A variable's value as templates see it: strings holding templates are
/// rendered now; lists and dicts holding templates become lazy objects
/// that render an element only when it is read (as ansible-core 2.19
/// does), so a broken element nobody reads does no harm.
pub(crate) fn lazy_value(ctx: &Arc<VarsObject>, raw: &Value, label: &str) -> Mj {
    if let Some(s) = crate::value::as_unsafe(raw) {
        return Mj::from(s);
    }
    if !needs_render(raw) {
        return to_mj(raw);
    }
    match raw {
        Value::String(text) => render_guarded(ctx, label, text),
        Value::Array(items) => Mj::from_object(LazySeq {
            ctx: Arc::downgrade(ctx),
            label: label.to_string(),
            items: items.clone(),
            cache: Mutex::new(HashMap::new()),
        }),
        Value::Object(m) if crate::value::as_vault(raw).is_none() => {
            Mj::from_object(LazyMap::new(ctx, m, label))
        }
        other => to_mj(other),
    }
}

/// Renders one variable's (or element's) template, detecting loops and
/// keeping errors for the outer template to report.
fn render_guarded(ctx: &Arc<VarsObject>, label: &str, text: &str) -> Mj {
    {
        let mut stack = lock(&ctx.resolving);
        if stack.iter().any(|n| n == label) {
            ctx.sink.set_hard(
                Diagnostic::new(format!(
                    "recursive loop detected in template: variable '{label}' refers to itself ({} -> {label})",
                    stack.join(" -> ")
                ))
                .code(exit::HOST_FAILED),
            );
            return Mj::UNDEFINED;
        }
        stack.push(label.to_string());
    }
    let r = ctx.templar.render_str_in(text, ctx);
    lock(&ctx.resolving).pop();
    match r {
        Ok(v) => to_mj(&v),
        Err(RenderError::Jinja(e)) if e.kind() == ErrorKind::UndefinedError => {
            let why = name_undefined(&ctx.templar.envs.strict, text, ctx)
                .unwrap_or_else(|| format!("'{label}' is undefined"));
            lock(&ctx.sink.undefined).insert(label.to_string(), why);
            Mj::UNDEFINED
        }
        Err(RenderError::Jinja(e)) => {
            let d = ctx.templar.describe(&e, text, ctx);
            ctx.sink.set_hard(d);
            Mj::UNDEFINED
        }
    }
}

/// A dict variable whose values are rendered when read.
struct LazyMap {
    ctx: Weak<VarsObject>,
    label: String,
    entries: Map<String, Value>,
    cache: Mutex<HashMap<String, Mj>>,
}

impl LazyMap {
    fn new(ctx: &Arc<VarsObject>, m: &Map<String, Value>, label: &str) -> LazyMap {
        let mut entries = Map::new();
        for (k, v) in m {
            let key = if super::is_template(k) {
                match ctx.templar.render_str_in(k, ctx) {
                    Ok(rendered) => crate::value::py_str(&rendered),
                    Err(RenderError::Jinja(e)) => {
                        ctx.sink.set_hard(ctx.templar.describe(&e, k, ctx));
                        k.clone()
                    }
                }
            } else {
                k.clone()
            };
            entries.insert(key, v.clone());
        }
        LazyMap {
            ctx: Arc::downgrade(ctx),
            label: label.to_string(),
            entries,
            cache: Mutex::new(HashMap::new()),
        }
    }
}

impl std::fmt::Debug for LazyMap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.label)
    }
}

impl Object for LazyMap {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &Mj) -> Option<Mj> {
        let k = key.as_str()?;
        if let Some(v) = lock(&self.cache).get(k) {
            return Some(v.clone());
        }
        let raw = self.entries.get(k)?;
        let ctx = self.ctx.upgrade()?;
        let v = lazy_value(&ctx, raw, &format!("{}.{k}", self.label));
        lock(&self.cache).insert(k.to_string(), v.clone());
        Some(v)
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Values(self.entries.keys().map(|k| Mj::from(k.as_str())).collect())
    }

    fn enumerator_len(self: &Arc<Self>) -> Option<usize> {
        Some(self.entries.len())
    }
}

/// A list variable whose items are rendered when read.
struct LazySeq {
    ctx: Weak<VarsObject>,
    label: String,
    items: Vec<Value>,
    cache: Mutex<HashMap<usize, Mj>>,
}

impl std::fmt::Debug for LazySeq {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.label)
    }
}

impl Object for LazySeq {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Seq
    }

    fn get_value(self: &Arc<Self>, key: &Mj) -> Option<Mj> {
        let i = key.as_i64()?;
        let i = if i < 0 {
            i + self.items.len() as i64
        } else {
            i
        };
        let i = usize::try_from(i).ok()?;
        if let Some(v) = lock(&self.cache).get(&i) {
            return Some(v.clone());
        }
        let raw = self.items.get(i)?;
        let ctx = self.ctx.upgrade()?;
        let v = lazy_value(&ctx, raw, &format!("{}[{i}]", self.label));
        lock(&self.cache).insert(i, v.clone());
        Some(v)
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Seq(self.items.len())
    }

    fn enumerator_len(self: &Arc<Self>) -> Option<usize> {
        Some(self.items.len())
    }
}

impl Object for VarsObject {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &Mj) -> Option<Mj> {
        let name = key.as_str()?;
        if let Some(v) = self.resolve(name) {
            return Some(v);
        }
        match name {
            "omit" => Some(Mj::from(super::omit_token())),
            "vars" => Some(Mj::from_dyn_object(self.clone())),
            "hostvars" => {
                let src = self.hostvars.clone()?;
                let mut slot = lock(&self.hostvars_obj);
                if slot.is_none() {
                    *slot = Some(Mj::from_object(HostVarsObject {
                        templar: self.templar.clone(),
                        src,
                        sink: self.sink.clone(),
                        hosts: Mutex::new(HashMap::new()),
                    }));
                }
                slot.clone()
            }
            _ => None,
        }
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        let keys = self
            .with_map(|m| m.keys().map(|k| Mj::from(k.as_str())).collect::<Vec<_>>())
            .unwrap_or_default();
        Enumerator::Values(keys)
    }
}

/// `hostvars`: every host's variables, rendered lazily with that host's
/// own variables.
struct HostVarsObject {
    templar: Templar,
    src: Arc<dyn HostVarsSource>,
    sink: Arc<ErrorSink>,
    hosts: Mutex<HashMap<String, Mj>>,
}

impl std::fmt::Debug for HostVarsObject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("hostvars")
    }
}

impl Object for HostVarsObject {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &Mj) -> Option<Mj> {
        let host = key.as_str()?;
        if let Some(v) = lock(&self.hosts).get(host) {
            return Some(v.clone());
        }
        let vars = self.src.host_vars(host)?;
        let obj = VarsObject::owned(
            self.templar.clone(),
            vars,
            Some(self.src.clone()),
            self.sink.clone(),
        );
        let v = Mj::from_dyn_object(obj);
        lock(&self.hosts).insert(host.to_string(), v.clone());
        Some(v)
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Values(self.src.host_names().into_iter().map(Mj::from).collect())
    }
}

/// Names that templates may use without defining them.
const GLOBALS: &[&str] = &[
    "lookup",
    "query",
    "q",
    "range",
    "dict",
    "namespace",
    "debug",
    "cycler",
    "joiner",
    "lipsum",
    "loop",
    "super",
    "self",
    "varargs",
    "kwargs",
    "caller",
    "now",
    "undef",
];

/// Finds which variable (or attribute) of a template that failed with an
/// undefined value is the one missing, phrased as Ansible does.
pub(crate) fn name_undefined(
    env: &Environment<'static>,
    text: &str,
    ctx: &Arc<VarsObject>,
) -> Option<String> {
    let paths = match super::single_expression(text) {
        Some(expr) => env
            .compile_expression(expr)
            .ok()?
            .undeclared_variables(true),
        None if super::is_template(text) => {
            env.template_from_str(text).ok()?.undeclared_variables(true)
        }
        None => env
            .compile_expression(text)
            .ok()?
            .undeclared_variables(true),
    };
    let mut paths: Vec<String> = paths.into_iter().collect();
    // Paths that are only used under `default` or `is defined` come last:
    // they are not what failed.
    paths.sort_by_key(|p| {
        (
            guarded(text, p),
            text.find(p.as_str()).unwrap_or(usize::MAX),
            p.clone(),
        )
    });
    for path in &paths {
        let mut segs = path.split('.');
        let root = segs.next()?;
        if GLOBALS.contains(&root) {
            continue;
        }
        if !ctx.has(root) {
            return Some(format!("'{root}' is undefined"));
        }
        if let Some(why) = lock(&ctx.sink.undefined).get(root) {
            return Some(why.clone());
        }
        let mut cur = match ctx.get_value(&Mj::from(root)) {
            Some(v) => v,
            None => continue,
        };
        let mut label = root.to_string();
        for seg in segs {
            label = format!("{label}.{seg}");
            let next = cur.get_attr(seg).unwrap_or(Mj::UNDEFINED);
            if let Some(why) = lock(&ctx.sink.undefined).get(&label) {
                return Some(why.clone());
            }
            if next.is_undefined() {
                return Some(format!(
                    "object of type '{}' has no attribute '{seg}'",
                    py_type_name_mj(&cur)
                ));
            }
            cur = next;
        }
    }
    if let Some(why) = lock(&ctx.sink.undefined).values().next().cloned() {
        return Some(why);
    }
    // Subscripts with literal keys (`l[5]`, `d['x']`), which the variable
    // analysis above does not follow.
    for (root, steps) in super::rewrite::literal_chains(text) {
        // A loop variable: try the chain on each item of the loop.
        let starts: Vec<Mj> = if ctx.has(&root) {
            ctx.get_value(&Mj::from(root.as_str()))
                .into_iter()
                .collect()
        } else {
            loop_items(env, text, &root, ctx)
        };
        for start in starts {
            if let Some(why) = walk_steps(start, &steps) {
                return Some(why);
            }
        }
    }
    None
}

/// Follows literal steps from `cur`; the Ansible-worded reason of the
/// first one that finds nothing.
fn walk_steps(mut cur: Mj, steps: &[super::rewrite::Step]) -> Option<String> {
    for step in steps {
        let (next, shown) = match step {
            super::rewrite::Step::Attr(a) => (cur.get_attr(a), format!("'{a}'")),
            super::rewrite::Step::Index(i) => (cur.get_item(&Mj::from(*i)), i.to_string()),
        };
        let next = next.unwrap_or(Mj::UNDEFINED);
        if next.is_undefined() {
            return Some(format!(
                "object of type '{}' has no attribute {shown}",
                py_type_name_mj(&cur)
            ));
        }
        cur = next;
    }
    None
}

/// The items a `{% for NAME in EXPR %}` loop of the template runs over,
/// when EXPR can be evaluated with the variables alone.
fn loop_items(
    env: &Environment<'static>,
    text: &str,
    name: &str,
    ctx: &Arc<VarsObject>,
) -> Vec<Mj> {
    let mut rest = text;
    while let Some(i) = rest.find("{%") {
        rest = &rest[i + 2..];
        let Some(end) = rest.find("%}") else { break };
        let tag = rest[..end].trim_matches(|c: char| c == '-' || c == '+' || c.is_whitespace());
        rest = &rest[end + 2..];
        let Some(after_for) = tag.strip_prefix("for ") else {
            continue;
        };
        let Some((var, expr)) = after_for.split_once(" in ") else {
            continue;
        };
        if var.trim() != name {
            continue;
        }
        // A trailing `if` filter or `recursive` is not part of the iterable.
        let expr = expr
            .split(" if ")
            .next()
            .unwrap_or(expr)
            .trim_end_matches(" recursive")
            .trim();
        let Ok(e) = env.compile_expression(expr) else {
            continue;
        };
        if let Ok(v) = e.eval(Mj::from_dyn_object(ctx.clone())) {
            if let Ok(items) = v.try_iter() {
                return items.collect();
            }
        }
    }
    Vec::new()
}

/// Whether every use of `path` in `text` is guarded by `default`/`d` or an
/// `is [not] defined`/`undefined` test.
fn guarded(text: &str, path: &str) -> bool {
    let mut any = false;
    for (i, _) in text.match_indices(path) {
        let before = text[..i].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '.') {
            continue;
        }
        any = true;
        let rest = &text[i + path.len()..];
        // The rest of the attribute chain.
        let rest = rest.trim_start_matches(|c: char| c.is_alphanumeric() || "_.[]'\"".contains(c));
        let rest = rest.trim_start();
        let ok = if let Some(r) = rest.strip_prefix('|') {
            let r = r.trim_start();
            r.starts_with("default")
                || r.starts_with("d(")
                || r.starts_with("d ")
                || r.starts_with("mandatory")
        } else if let Some(r) = rest.strip_prefix("is ") {
            let r = r.trim_start();
            let r = r.strip_prefix("not ").map(str::trim_start).unwrap_or(r);
            r.starts_with("defined") || r.starts_with("undefined")
        } else {
            false
        };
        if !ok {
            return false;
        }
    }
    any
}
