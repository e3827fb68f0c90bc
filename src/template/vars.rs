//! The variables as templates see them: a lazy object that renders a
//! variable holding a template only when it is read, as Ansible does, and
//! `hostvars`, which does the same for other hosts.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock, Weak};

use minijinja::value::{Enumerator, Object, ObjectRepr, Value as Mj};
use minijinja::{Environment, ErrorKind};

use super::convert::{py_type_name_mj, to_mj};
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

    pub(crate) fn set_hard(&self, d: Diagnostic) {
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
    /// [`Vars::shared`], held here so pointers into it stay valid.
    shared: Option<Arc<Map<String, Value>>>,
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
            shared: vars.shared.clone(),
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
            shared: None,
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
        let mut merged = self
            .shared
            .as_ref()
            .map(|s| Map::clone(s))
            .unwrap_or_default();
        if let Some(local) = self.with_map(|m| m.clone()) {
            merged.extend(local);
        }
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
        let mut names: Vec<String> = self
            .with_map(|m| m.keys().cloned().collect())
            .unwrap_or_default();
        if let Some(shared) = &self.shared {
            let local: std::collections::HashSet<String> = names.iter().cloned().collect();
            names.extend(shared.keys().filter(|k| !local.contains(*k)).cloned());
        }
        names
    }

    pub fn templar(&self) -> &Templar {
        &self.templar
    }

    /// Whether a variable of this name exists (without rendering it).
    pub fn has(&self, name: &str) -> bool {
        matches!(name, "omit" | "vars")
            || (name == "hostvars" && self.hostvars.is_some())
            || self.with_map(|m| m.contains_key(name)).unwrap_or(false)
            || self.shared.as_ref().is_some_and(|s| s.contains_key(name))
    }

    fn resolve(self: &Arc<Self>, name: &str) -> Option<Mj> {
        if let Some(v) = lock(&self.cache).get(name) {
            return Some(v.clone());
        }
        let node = match self.with_map(|m| m.get(name).map(NodePtr::new))? {
            Some(n) => n,
            None => NodePtr::new(self.shared.as_ref()?.get(name)?),
        };
        let v = lazy_node(self, node, name);
        lock(&self.cache).insert(name.to_string(), v.clone());
        Some(v)
    }

    /// Runs `f` while the variables this object reads are alive and
    /// reachable; `None` once the render call that lent them has returned.
    fn with_alive<R>(&self, f: impl FnOnce() -> R) -> Option<R> {
        match &self.src {
            // The map is owned by `self`, which the caller holds.
            Source::Owned(_) => Some(f()),
            Source::Borrowed(cell) => {
                let g = cell.ptr.read().ok()?;
                g.as_ref()?;
                // The read guard is held while `f` runs, so the borrow
                // cannot end meanwhile.
                Some(f())
            }
        }
    }
}

/// A pointer to one value inside the variables a [`VarsObject`] reads.
/// Lists and dicts are walked through these instead of being copied or
/// converted whole: a host's facts can be large and a template usually
/// reads one field.
#[derive(Clone, Copy)]
struct NodePtr(*const Value);

// SAFETY: the pointee is a `Value` (Send + Sync) that is never mutated
// while reachable; it is only dereferenced inside `VarsObject::with_alive`
// of the object whose variables hold it (see `NodePtr::get`).
unsafe impl Send for NodePtr {}
unsafe impl Sync for NodePtr {}

impl NodePtr {
    fn new(v: &Value) -> NodePtr {
        NodePtr(v as *const Value)
    }

    /// The value pointed at.
    ///
    /// # Safety
    /// Call only inside `with_alive` of the `VarsObject` whose variables
    /// contain the pointee, while holding that object (for owned
    /// variables, that keeps the map alive; for borrowed ones, the read
    /// guard of `with_alive` keeps the caller's borrow alive).
    unsafe fn get<'a>(self) -> &'a Value {
        &*self.0
    }
}

/// What a node is, read under the liveness guard.
enum NodeKind {
    Plain(Mj),
    /// A `!vault` value: the vault text, decrypted when read.
    Vault(String),
    Template(String),
    Map,
    Seq(usize),
}

fn classify(v: &Value) -> NodeKind {
    if let Some(s) = crate::value::as_unsafe(v) {
        return NodeKind::Plain(Mj::from(s));
    }
    match v {
        Value::String(s) if super::is_template(s) => NodeKind::Template(s.clone()),
        Value::String(s) => NodeKind::Plain(Mj::from(s.as_str())),
        Value::Array(items) => NodeKind::Seq(items.len()),
        Value::Object(_) if crate::value::as_vault(v).is_some() => {
            NodeKind::Vault(crate::value::as_vault(v).unwrap_or_default().to_string())
        }
        Value::Object(_) => NodeKind::Map,
        other => NodeKind::Plain(to_mj(other)),
    }
}

/// A variable's value as templates see it: strings holding templates are
/// rendered now; lists and dicts become lazy objects that convert (and
/// render) an element only when it is read, as ansible-core 2.19 does, so
/// a broken element nobody reads does no harm.
fn lazy_node(ctx: &Arc<VarsObject>, node: NodePtr, label: &str) -> Mj {
    // SAFETY: read inside `with_alive` of `ctx`, whose variables hold `node`.
    let Some(kind) = ctx.with_alive(|| classify(unsafe { node.get() })) else {
        return Mj::UNDEFINED;
    };
    match kind {
        NodeKind::Plain(v) => v,
        // A decrypted value is a string like any other: a template in it
        // is rendered, as ansible-core renders a decrypted value it trusts.
        NodeKind::Vault(text) => match crate::vault::decrypt_inline(&text, Some(label)) {
            Ok(plain) if super::is_template(&plain) => render_guarded(ctx, label, &plain),
            Ok(plain) => Mj::from(plain.as_str()),
            Err(d) => {
                ctx.sink.set_hard(d.code(exit::HOST_FAILED));
                Mj::UNDEFINED
            }
        },
        NodeKind::Template(text) => render_guarded(ctx, label, &text),
        NodeKind::Seq(len) => Mj::from_object(LazySeq {
            ctx: Arc::downgrade(ctx),
            node,
            len,
            label: label.to_string(),
            cache: Mutex::new(HashMap::new()),
        }),
        NodeKind::Map => Mj::from_object(LazyMap {
            ctx: Arc::downgrade(ctx),
            node,
            renamed: std::sync::OnceLock::new(),
            label: label.to_string(),
            cache: Mutex::new(HashMap::new()),
        }),
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

/// A dict inside the variables, read element by element.
struct LazyMap {
    ctx: Weak<VarsObject>,
    node: NodePtr,
    /// (rendered key, key as written) for keys that are templates; found
    /// only when a key is missing or the keys are listed, so reading one
    /// field of a large dict stays cheap.
    renamed: std::sync::OnceLock<Vec<(String, String)>>,
    label: String,
    cache: Mutex<HashMap<String, Mj>>,
}

impl std::fmt::Debug for LazyMap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.label)
    }
}

impl LazyMap {
    fn renamed(&self) -> &[(String, String)] {
        self.renamed.get_or_init(|| {
            let Some(ctx) = self.ctx.upgrade() else {
                return Vec::new();
            };
            let template_keys: Vec<String> = ctx
                .with_alive(|| {
                    // SAFETY: inside `with_alive` of the owner of `node`.
                    let v = unsafe { self.node.get() };
                    v.as_object()
                        .map(|m| {
                            m.keys()
                                .filter(|k| super::is_template(k))
                                .cloned()
                                .collect()
                        })
                        .unwrap_or_default()
                })
                .unwrap_or_default();
            let mut out = Vec::new();
            for k in template_keys {
                match ctx.templar.render_str_in(&k, &ctx) {
                    Ok(r) => out.push((crate::value::py_str(&r), k)),
                    Err(RenderError::Jinja(e)) => {
                        ctx.sink.set_hard(ctx.templar.describe(&e, &k, &ctx))
                    }
                }
            }
            out
        })
    }

    fn keys(&self) -> Vec<String> {
        let renamed = self.renamed();
        let Some(ctx) = self.ctx.upgrade() else {
            return Vec::new();
        };
        ctx.with_alive(|| {
            // SAFETY: inside `with_alive` of the owner of `node`.
            let v = unsafe { self.node.get() };
            v.as_object()
                .map(|m| {
                    m.keys()
                        .map(|k| {
                            renamed
                                .iter()
                                .find(|(_, orig)| orig == k)
                                .map(|(shown, _)| shown.clone())
                                .unwrap_or_else(|| k.clone())
                        })
                        .collect()
                })
                .unwrap_or_default()
        })
        .unwrap_or_default()
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
        let ctx = self.ctx.upgrade()?;
        let find = |key: &str| {
            ctx.with_alive(|| {
                // SAFETY: inside `with_alive` of the owner of `node`.
                let v = unsafe { self.node.get() };
                v.as_object()?.get(key).map(NodePtr::new)
            })
            .flatten()
        };
        let child = match find(k) {
            Some(c) => c,
            None => {
                let orig = self
                    .renamed()
                    .iter()
                    .find(|(shown, _)| shown == k)?
                    .1
                    .clone();
                find(&orig)?
            }
        };
        let v = lazy_node(&ctx, child, &format!("{}.{k}", self.label));
        lock(&self.cache).insert(k.to_string(), v.clone());
        Some(v)
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Values(self.keys().into_iter().map(Mj::from).collect())
    }

    fn enumerator_len(self: &Arc<Self>) -> Option<usize> {
        Some(self.keys().len())
    }
}

/// A list inside the variables, read element by element.
struct LazySeq {
    ctx: Weak<VarsObject>,
    node: NodePtr,
    len: usize,
    label: String,
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
        let i = if i < 0 { i + self.len as i64 } else { i };
        let i = usize::try_from(i).ok()?;
        if let Some(v) = lock(&self.cache).get(&i) {
            return Some(v.clone());
        }
        let ctx = self.ctx.upgrade()?;
        let child = ctx.with_alive(|| {
            // SAFETY: inside `with_alive` of the owner of `node`.
            let v = unsafe { self.node.get() };
            v.as_array()?.get(i).map(NodePtr::new)
        })??;
        let v = lazy_node(&ctx, child, &format!("{}[{i}]", self.label));
        lock(&self.cache).insert(i, v.clone());
        Some(v)
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Seq(self.len)
    }

    fn enumerator_len(self: &Arc<Self>) -> Option<usize> {
        Some(self.len)
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
        let keys = self.names().iter().map(|k| Mj::from(k.as_str())).collect();
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
