//! The variables as templates see them: a lazy object that renders a
//! variable holding a template only when it is read, as Ansible does, and
//! `hostvars`, which does the same for other hosts.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

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
        let v = if needs_render(&raw) {
            {
                let mut stack = lock(&self.resolving);
                if stack.iter().any(|n| n == name) {
                    self.sink.set_hard(
                        Diagnostic::new(format!(
                            "recursive loop detected in template: variable '{name}' refers to itself ({})",
                            stack.join(" -> ")
                        ))
                        .code(exit::HOST_FAILED),
                    );
                    return Some(Mj::UNDEFINED);
                }
                stack.push(name.to_string());
            }
            let r = self.templar.render_value_in(&raw, self);
            lock(&self.resolving).pop();
            match r {
                Ok(v) => to_mj(&v),
                Err(RenderError::Jinja(e)) if e.kind() == ErrorKind::UndefinedError => {
                    let text = crate::value::py_str(&raw);
                    let why = name_undefined(&self.templar.envs.strict, &text, self)
                        .unwrap_or_else(|| format!("'{name}' is undefined"));
                    lock(&self.sink.undefined).insert(name.to_string(), why);
                    Mj::UNDEFINED
                }
                Err(RenderError::Jinja(e)) => {
                    let text = crate::value::py_str(&raw);
                    let d = self.templar.describe(&e, &text, self);
                    self.sink.set_hard(d);
                    Mj::UNDEFINED
                }
            }
        } else {
            to_mj(&raw)
        };
        lock(&self.cache).insert(name.to_string(), v.clone());
        Some(v)
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
        for seg in segs {
            let next = cur.get_attr(seg).unwrap_or(Mj::UNDEFINED);
            if next.is_undefined() {
                return Some(format!(
                    "object of type '{}' has no attribute '{seg}'",
                    py_type_name_mj(&cur)
                ));
            }
            cur = next;
        }
    }
    lock(&ctx.sink.undefined).values().next().cloned()
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
