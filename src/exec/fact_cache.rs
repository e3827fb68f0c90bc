//! The fact cache (`[defaults] fact_caching`): where gathered facts and
//! `set_fact: cacheable=yes` values outlive a run.
//!
//! `memory` (the default) keeps facts for the run only; `jsonfile` keeps
//! one file per host in `fact_caching_connection`, written as ansible-core
//! 2.19 writes them, so ansible-playbook and herd can share a directory:
//! the file is named `<prefix>s1_<host>` (`s1_` is ansible-core's cache
//! schema) and holds `{"__payload__": "<the facts as JSON text>"}`. A file
//! older than `fact_caching_timeout` seconds (0: never) is ignored.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::config::Config;
use crate::value::{python_json, Map, Value};

/// ansible-core's cache schema id, part of every key.
const SCHEMA_PREFIX: &str = "s1_";
/// The key the serialized facts are stored under.
const PAYLOAD_KEY: &str = "__payload__";

/// A configured fact cache.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum FactCache {
    /// Facts live as long as the run.
    Memory,
    /// One JSON file per host in `dir`.
    JsonFile {
        dir: PathBuf,
        prefix: String,
        /// Seconds; 0 keeps files forever.
        timeout: u64,
    },
}

impl FactCache {
    /// The cache the configuration asks for. A cache that cannot be used
    /// is not fatal, as in ansible-core: the warning comes back with the
    /// memory cache.
    pub(crate) fn from_config(cfg: &Config) -> (FactCache, Option<String>) {
        let plugin = cfg.fact_caching.trim();
        let name = plugin.strip_prefix("ansible.builtin.").unwrap_or(plugin);
        match name {
            "" | "memory" => (FactCache::Memory, None),
            "jsonfile" => {
                let Some(dir) = cfg.fact_caching_connection.clone() else {
                    return (
                        FactCache::Memory,
                        Some(
                            "Required config '_uri' for 'jsonfile' cache plugin not provided."
                                .into(),
                        ),
                    );
                };
                if !dir.exists() {
                    if let Err(e) = std::fs::create_dir_all(&dir) {
                        return (
                            FactCache::Memory,
                            Some(format!(
                                "Error in 'jsonfile' cache plugin while trying to create cache dir '{}': {e}",
                                dir.display()
                            )),
                        );
                    }
                }
                (
                    FactCache::JsonFile {
                        dir,
                        prefix: cfg.fact_caching_prefix.clone(),
                        timeout: cfg.fact_caching_timeout,
                    },
                    None,
                )
            }
            _ => (
                FactCache::Memory,
                Some(format!("Unable to load the cache plugin '{plugin}'.")),
            ),
        }
    }

    /// Whether facts outlive the run.
    pub(crate) fn persistent(&self) -> bool {
        matches!(self, FactCache::JsonFile { .. })
    }

    fn file(&self, host: &str) -> Option<PathBuf> {
        match self {
            FactCache::Memory => None,
            FactCache::JsonFile { dir, prefix, .. } => {
                Some(dir.join(format!("{prefix}{SCHEMA_PREFIX}{host}")))
            }
        }
    }

    fn expired(&self, path: &Path) -> bool {
        let FactCache::JsonFile { timeout, .. } = self else {
            return false;
        };
        if *timeout == 0 {
            return false;
        }
        let age = std::fs::metadata(path)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| SystemTime::now().duration_since(t).ok())
            .unwrap_or_default();
        age > Duration::from_secs(*timeout)
    }

    /// The cached facts of `host` (empty when none or expired). A file
    /// that is not a cache file is removed, with a warning.
    pub(crate) fn load(&self, host: &str) -> Result<Map<String, Value>, String> {
        let Some(path) = self.file(host) else {
            return Ok(Map::new());
        };
        if host.is_empty() || self.expired(&path) {
            return Ok(Map::new());
        }
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Map::new()),
            Err(e) => {
                return Err(format!(
                    "Error while accessing the cache file '{}': {e}",
                    path.display()
                ))
            }
        };
        match decode(&text) {
            Some(facts) => Ok(facts),
            None => {
                let _ = std::fs::remove_file(&path);
                Err(format!(
                    "The cache file {} was corrupt, or did not otherwise contain valid data. It has been removed, so you can re-run your command now.",
                    path.display()
                ))
            }
        }
    }

    /// Writes the facts of `host` (the whole set, as ansible-core does),
    /// through a temporary file renamed into place.
    pub(crate) fn store(&self, host: &str, facts: &Map<String, Value>) -> Result<(), String> {
        let Some(path) = self.file(host) else {
            return Ok(());
        };
        let dir = path.parent().unwrap_or(Path::new("."));
        let tmp = dir.join(format!(
            ".herd-cache-{}-{}",
            std::process::id(),
            host.replace('/', "_")
        ));
        let write = || -> std::io::Result<()> {
            std::fs::write(&tmp, encode(facts))?;
            std::fs::rename(&tmp, &path)?;
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644))
        };
        write().map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            format!(
                "Error in 'jsonfile' cache plugin while trying to write to '{}': {e}",
                path.display()
            )
        })
    }

    /// Forgets the facts of `host` (`--flush-cache`, `meta: clear_facts`).
    pub(crate) fn delete(&self, host: &str) {
        if let Some(path) = self.file(host) {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// The file content ansible-core 2.19 writes: the facts as JSON text
/// (Python's `json.dumps` spacing) inside a one-key object.
pub(crate) fn encode(facts: &Map<String, Value>) -> String {
    let inner = python_json(&Value::Object(facts.clone()), None, false, true);
    let mut outer = Map::new();
    outer.insert(PAYLOAD_KEY.into(), Value::String(inner));
    python_json(&Value::Object(outer), None, false, true)
}

/// The facts of a cache file, with ansible-core's tagged values (a
/// variable's origin, its trust) reduced to their plain values.
pub(crate) fn decode(text: &str) -> Option<Map<String, Value>> {
    let outer: Value = serde_json::from_str(text).ok()?;
    let payload = outer.get(PAYLOAD_KEY)?.as_str()?;
    match untag(serde_json::from_str(payload).ok()?) {
        Value::Object(m) => Some(m),
        _ => None,
    }
}

fn untag(v: Value) -> Value {
    match v {
        Value::Object(mut m) => {
            if m.contains_key("__ansible_type") && m.contains_key("value") {
                return untag(m.shift_remove("value").unwrap_or(Value::Null));
            }
            Value::Object(m.into_iter().map(|(k, v)| (k, untag(v))).collect())
        }
        Value::Array(a) => Value::Array(a.into_iter().map(untag).collect()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_as_ansible_writes() {
        let mut f = Map::new();
        f.insert("ansible_hostname".into(), Value::String("vm".into()));
        f.insert("foo".into(), Value::from(1));
        assert_eq!(
            encode(&f),
            r#"{"__payload__": "{\"ansible_hostname\": \"vm\", \"foo\": 1}"}"#
        );
        assert_eq!(decode(&encode(&f)), Some(f));
    }

    #[test]
    fn decodes_tagged_values() {
        let text = r#"{"__payload__": "{\"foo\": {\"value\": 1, \"tags\": [{\"path\": \"/p.yml\", \"line_num\": 3, \"col_num\": 23, \"__ansible_type\": \"Origin\"}], \"__ansible_type\": \"_AnsibleTaggedInt\"}}"}"#;
        let m = decode(text).expect("a cache file");
        assert_eq!(m["foo"], 1);
        assert_eq!(decode("{}"), None);
    }
}
