//! Runs playbooks through the executor with the local connection and
//! collects the events.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use herd::config::Config;
use herd::exec::{run_playbook, RunOptions, RunResult};
use herd::inventory::Inventory;
use herd::playbook::{load_playbook, LoadOptions};
use herd::report::{Event, HostStats, Sink, Status};
use herd::template::Templar;
use serde_json::Value;

/// A sink that keeps every event.
#[derive(Clone, Default)]
pub struct Collect(pub Arc<Mutex<Vec<Event>>>);

impl Sink for Collect {
    fn event(&mut self, event: &Event) {
        self.0.lock().unwrap().push(event.clone());
    }
}

/// (task title, status, result, item label)
pub type HostResultRow = (
    String,
    Status,
    serde_json::Map<String, Value>,
    Option<String>,
);

pub struct Run {
    pub result: RunResult,
    pub events: Vec<Event>,
    pub dir: tempfile::TempDir,
    pub error: Option<String>,
}

impl Run {
    pub fn stats(&self, host: &str) -> HostStats {
        self.result.stats.get(host).copied().unwrap_or_default()
    }

    /// Results of a host, in order: (task title, status, result, item).
    pub fn results(&self, host: &str) -> Vec<HostResultRow> {
        let mut title = String::new();
        let mut out = Vec::new();
        for e in &self.events {
            match e {
                Event::TaskStart { title: t, .. } | Event::HandlerStart { title: t, .. } => {
                    title = t.clone()
                }
                Event::HostResult {
                    host: h,
                    status,
                    result,
                    item,
                    ..
                } if h == host => out.push((title.clone(), *status, result.clone(), item.clone())),
                _ => {}
            }
        }
        out
    }

    /// The `msg` of every non-item debug result of a host, in order.
    pub fn msgs(&self, host: &str) -> Vec<String> {
        self.results(host)
            .into_iter()
            .filter(|(_, s, r, item)| {
                item.is_none()
                    && *s == Status::Ok
                    && r.contains_key("msg")
                    // A debug message: `msg` and `changed` (and `failed`,
                    // which every executed result has).
                    && r.keys()
                        .filter(|k| !k.starts_with("_ansible") && *k != "failed")
                        .count()
                        == 2
            })
            .filter_map(|(_, _, r, _)| {
                r.get("msg").map(|m| match m {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
            })
            .collect()
    }

    /// Task titles in the order they started.
    pub fn titles(&self) -> Vec<String> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::TaskStart { title, .. } | Event::HandlerStart { title, .. } => {
                    Some(title.clone())
                }
                _ => None,
            })
            .collect()
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

/// Writes the files (`name`, `content`) into a temp dir, then runs
/// `playbook.yml` against `inventory` there; `dir` is passed as an extra
/// variable.
pub fn run_with(
    files: &[(&str, &str)],
    inventory: &str,
    tweak: impl FnOnce(&mut RunOptions),
) -> Run {
    let dir = tempfile::tempdir().unwrap();
    for (name, content) in files {
        let p = dir.path().join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
    }
    let inv_path = dir.path().join("hosts");
    std::fs::write(&inv_path, inventory).unwrap();
    let inventory = Inventory::load(&[inv_path.display().to_string()]).unwrap();
    let mut extra = serde_json::Map::new();
    extra.insert(
        "dir".into(),
        Value::String(dir.path().display().to_string()),
    );
    let mut opts = RunOptions {
        config: Config::default(),
        extra_vars: extra.clone(),
        ..RunOptions::default()
    };
    opts.tags = herd::tags::TagSelection::new(&[], &[]);
    tweak(&mut opts);
    let lopts = LoadOptions {
        extra_vars: opts.extra_vars.clone(),
        ..LoadOptions::default()
    };
    let pb = load_playbook(&dir.path().join("playbook.yml"), &lopts).unwrap();
    let sink = Collect::default();
    let events = sink.0.clone();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let (result, err) = rt.block_on(run_playbook(
        &pb,
        inventory,
        Arc::new(Templar::new()),
        opts,
        Box::new(sink),
    ));
    let events = events.lock().unwrap().clone();
    Run {
        result,
        events,
        dir,
        error: err.map(|d| d.message),
    }
}

/// Runs a playbook on hosts `h1 h2` (local connection).
pub fn run(playbook: &str) -> Run {
    run_with(&[("playbook.yml", playbook)], LOCAL2, |_| {})
}

pub const LOCAL2: &str = "[web]\nh1 ansible_connection=local\nh2 ansible_connection=local\n";

pub fn exists(p: &Path) -> bool {
    p.exists()
}
