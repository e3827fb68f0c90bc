//! `group_vars/` and `host_vars/` beside an inventory source or a
//! playbook, found as Ansible's `host_group_vars` plugin finds them: the
//! first of `NAME`, `NAME.yml`, `NAME.yaml`, `NAME.json` that exists; when
//! that is a directory, every file in it with one of those extensions or
//! none, recursively, in sorted order, hidden files and `~` backups
//! skipped. Empty files are ignored.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use super::Traced;
use crate::diag::{Diagnostic, Result};
use crate::value::{Map, Value};
use crate::yaml::{load_file, NodeKind};

const EXTS: [&str; 3] = [".yml", ".yaml", ".json"];

type Cache = Mutex<HashMap<PathBuf, Arc<Traced>>>;

fn cache() -> &'static Cache {
    static C: OnceLock<Cache> = OnceLock::new();
    C.get_or_init(|| Mutex::new(HashMap::new()))
}

/// Variables of `group` from `dir/group_vars/`.
pub fn group_vars(dir: &Path, group: &str) -> Result<Map<String, Value>> {
    Ok(group_vars_traced(dir, group)?.vars.clone())
}

/// Variables of `host` from `dir/host_vars/`.
pub fn host_vars(dir: &Path, host: &str) -> Result<Map<String, Value>> {
    Ok(host_vars_traced(dir, host)?.vars.clone())
}

/// [`group_vars`], with the file each value came from.
pub(crate) fn group_vars_traced(dir: &Path, group: &str) -> Result<Arc<Traced>> {
    entity_vars(dir, "group_vars", group)
}

/// [`host_vars`], with the file each value came from.
pub(crate) fn host_vars_traced(dir: &Path, host: &str) -> Result<Arc<Traced>> {
    entity_vars(dir, "host_vars", host)
}

fn entity_vars(dir: &Path, subdir: &str, name: &str) -> Result<Arc<Traced>> {
    // Ansible skips names that are absolute paths.
    if name.is_empty() || name.starts_with('/') {
        return Ok(Arc::new(Traced::default()));
    }
    let base = dir.join(subdir);
    let key = base.join(name);
    {
        let c = cache().lock().unwrap_or_else(|p| p.into_inner());
        if let Some(v) = c.get(&key) {
            return Ok(v.clone());
        }
    }
    let mut out = Traced::default();
    if base.is_dir() {
        for file in find_vars_files(&base, name) {
            load_into(&file, &mut out)?;
        }
    }
    let out = Arc::new(out);
    let mut c = cache().lock().unwrap_or_else(|p| p.into_inner());
    c.insert(key, out.clone());
    Ok(out)
}

/// The files holding `name`'s variables under `base`, in load order.
pub fn find_vars_files(base: &Path, name: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for ext in std::iter::once("").chain(EXTS) {
        let path = base.join(format!("{name}{ext}"));
        if path.is_dir() {
            dir_files(&path, &mut found);
            break;
        }
        if path.exists() {
            found.push(path);
            break;
        }
    }
    found
}

fn dir_files(dir: &Path, found: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    for n in names {
        if n.starts_with('.') || n.ends_with('~') {
            continue;
        }
        let ext = Path::new(&n)
            .extension()
            .map(|e| format!(".{}", e.to_string_lossy()))
            .unwrap_or_default();
        let full = dir.join(&n);
        if full.is_dir() {
            if ext.is_empty() {
                dir_files(&full, found);
            }
        } else if full.is_file() && (ext.is_empty() || EXTS.contains(&ext.as_str())) {
            found.push(full);
        }
    }
}

fn load_into(file: &Path, out: &mut Traced) -> Result<()> {
    let node = load_file(file)?;
    match &node.kind {
        NodeKind::Null => Ok(()),
        NodeKind::Map(m) if m.is_empty() => Ok(()),
        NodeKind::Map(_) => {
            if let Value::Object(m) = node.to_value() {
                let file = file.display().to_string();
                out.merge_from(&m, |k| Some(format!("file\0{file}\0{k}")));
            }
            Ok(())
        }
        _ => Err(Diagnostic::parse(
            format!(
                "Could not process '{}': variables must be a dictionary, got a {}",
                file.display(),
                node.type_name()
            ),
            node.loc.clone(),
        )
        .hint("write the variables as name: value pairs")),
    }
}
