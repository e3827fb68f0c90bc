//! Actions the engine carries out itself, on the controller (Ansible's
//! action plugins that need no module): `debug`, `set_fact`, `assert`,
//! `fail`, `pause`, `include_vars`, `add_host`, `group_by`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::task::as_bool;
use super::{PlayRun, Runner};
use crate::playbook::Task;
use crate::template::Vars;
use crate::value::{py_str, Map, Value};

fn ok() -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("changed".into(), Value::Bool(false));
    m
}

fn fail(msg: impl Into<String>) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("changed".into(), Value::Bool(false));
    m.insert("failed".into(), Value::Bool(true));
    m.insert("msg".into(), Value::String(msg.into()));
    m
}

fn conds_of(v: &Value) -> Vec<Value> {
    match v {
        Value::Array(a) => a.clone(),
        other => vec![other.clone()],
    }
}

impl Runner {
    /// Runs an engine action; `None` when `task` is a module.
    pub(crate) async fn engine_action(
        self: &Arc<Self>,
        run: &PlayRun<'_>,
        task: &Task,
        host: &str,
        args: &Map<String, Value>,
        vars: &Vars,
    ) -> Option<Map<String, Value>> {
        let r = match task.action.as_str() {
            "debug" => self.debug(args, vars),
            "set_fact" => set_fact(args),
            "assert" => self.assert(args, vars),
            "fail" => fail(
                args.get("msg")
                    .map(py_str)
                    .unwrap_or_else(|| "Failed as requested from task".into()),
            ),
            "pause" => pause(args).await,
            "include_vars" => include_vars(task, run, args),
            "add_host" => self.add_host(args),
            "group_by" => self.group_by(host, args),
            "set_stats" => ok(),
            _ => return None,
        };
        Some(r)
    }

    fn debug(&self, args: &Map<String, Value>, vars: &Vars) -> Map<String, Value> {
        let verbosity = args
            .get("verbosity")
            .and_then(|v| py_str(v).trim().parse::<u8>().ok())
            .unwrap_or(0);
        if self.opts.verbosity < verbosity {
            let mut m = ok();
            m.insert("skipped".into(), Value::Bool(true));
            m.insert(
                "skipped_reason".into(),
                Value::String("Verbosity threshold not met.".into()),
            );
            return m;
        }
        let mut m = ok();
        // debug results are always shown, as Ansible's action sets it; and
        // `failed` is set, so a shown variable named `rc` does not fail it.
        m.insert("_ansible_verbose_always".into(), Value::Bool(true));
        m.insert("failed".into(), Value::Bool(false));
        if let Some(var) = args.get("var") {
            let name = py_str(var);
            let value = match self.templar.eval_expr(&name, vars) {
                Ok(v) => v,
                Err(_) => Value::String("VARIABLE IS NOT DEFINED!".into()),
            };
            m.insert(name, value);
        } else {
            m.insert(
                "msg".into(),
                args.get("msg")
                    .cloned()
                    .unwrap_or(Value::String("Hello world!".into())),
            );
        }
        m
    }

    fn assert(&self, args: &Map<String, Value>, vars: &Vars) -> Map<String, Value> {
        let Some(that) = args.get("that") else {
            return fail("conditional required in \"that\" string");
        };
        let quiet = args.get("quiet").is_some_and(as_bool);
        let fail_msg = args.get("fail_msg").or_else(|| args.get("msg")).cloned();
        for c in conds_of(that) {
            let holds = match self.templar.eval_conditions(std::slice::from_ref(&c), vars) {
                Ok(b) => b,
                Err(d) => return fail(d.message),
            };
            if !holds {
                let mut m = fail("Assertion failed");
                if let Some(msg) = &fail_msg {
                    m.insert("msg".into(), msg.clone());
                }
                m.insert("assertion".into(), c.clone());
                m.insert("evaluated_to".into(), Value::Bool(false));
                // As ansible-core's: shown indented unless quiet.
                if !quiet {
                    m.insert("_ansible_verbose_always".into(), Value::Bool(true));
                }
                return m;
            }
        }
        let mut m = ok();
        // A quiet assert prints a bare `ok:` line, as in ansible-core; its
        // result still has the message.
        if !quiet {
            m.insert("_ansible_verbose_always".into(), Value::Bool(true));
        }
        m.insert(
            "msg".into(),
            args.get("success_msg")
                .cloned()
                .unwrap_or(Value::String("All assertions passed".into())),
        );
        m
    }

    fn add_host(&self, args: &Map<String, Value>) -> Map<String, Value> {
        let Some(name) = ["name", "hostname", "host"]
            .iter()
            .find_map(|k| args.get(*k))
            .map(py_str)
        else {
            return fail("name or hostname arg needs to be provided");
        };
        let (name, port) = match name.rsplit_once(':') {
            Some((h, p)) if p.parse::<u16>().is_ok() && !h.contains(':') => {
                (h.to_string(), p.parse::<u16>().ok())
            }
            _ => (name, None),
        };
        let groups: Vec<String> = ["groups", "group", "groupname"]
            .iter()
            .find_map(|k| args.get(*k))
            .map(|v| match v {
                Value::Array(a) => a.iter().map(py_str).collect(),
                other => py_str(other)
                    .split(',')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect(),
            })
            .unwrap_or_default();
        let mut host_vars = Map::new();
        for (k, v) in args {
            if !matches!(
                k.as_str(),
                "name" | "hostname" | "host" | "groups" | "group" | "groupname"
            ) {
                host_vars.insert(k.clone(), v.clone());
            }
        }
        let mut changed = false;
        self.edit_inventory(|inv| {
            changed = !inv.hosts.contains_key(&name);
            if groups.is_empty() {
                inv.add_host(&name, Some("ungrouped"), port, None);
            }
            for g in &groups {
                if !inv.groups.contains_key(g) {
                    inv.add_group(g);
                    let _ = inv.add_child("all", g);
                }
                inv.add_host(&name, Some(g), port, None);
            }
            for (k, v) in &host_vars {
                inv.set_host_var(&name, k, v.clone());
            }
        });
        let mut m = ok();
        m.insert("changed".into(), Value::Bool(changed));
        m.insert(
            "add_host".into(),
            serde_json::json!({"host_name": name, "groups": groups, "host_vars": host_vars}),
        );
        m
    }

    fn group_by(&self, host: &str, args: &Map<String, Value>) -> Map<String, Value> {
        let Some(key) = args.get("key").map(py_str) else {
            return fail("the 'key' param is required when using group_by");
        };
        let key = key.replace([' ', '-', '.', ':'], "_");
        let parents: Vec<String> = match args.get("parents") {
            Some(Value::Array(a)) => a.iter().map(py_str).collect(),
            Some(v) => vec![py_str(v)],
            None => vec!["all".into()],
        };
        let mut changed = false;
        self.edit_inventory(|inv| {
            if !inv.groups.contains_key(&key) {
                inv.add_group(&key);
                changed = true;
            }
            for p in &parents {
                if !inv.groups.contains_key(p) {
                    inv.add_group(p);
                    let _ = inv.add_child("all", p);
                }
                let _ = inv.add_child(p, &key);
            }
            if !inv.groups.get(&key).is_some_and(|g| g.has_host(host)) {
                changed = true;
                inv.add_host(host, Some(&key), None, None);
            }
        });
        let mut m = ok();
        m.insert("changed".into(), Value::Bool(changed));
        m.insert("add_group".into(), Value::String(key));
        m.insert(
            "parent_groups".into(),
            Value::Array(parents.into_iter().map(Value::String).collect()),
        );
        m
    }
}

fn set_fact(args: &Map<String, Value>) -> Map<String, Value> {
    let mut facts = Map::new();
    let mut cacheable = false;
    for (k, v) in args {
        if k == "cacheable" {
            cacheable = as_bool(v);
            continue;
        }
        if !crate::playbook::is_var_name(k) {
            return fail(format!(
                "The variable name '{k}' is not valid. Variables must start with a letter or underscore character, and contain only letters, numbers and underscores."
            ));
        }
        facts.insert(k.clone(), v.clone());
    }
    if facts.is_empty() {
        return fail(
            "No key/value pairs provided, at least one is required for this action to succeed",
        );
    }
    let mut m = ok();
    m.insert("ansible_facts".into(), Value::Object(facts));
    if cacheable {
        m.insert("_ansible_facts_cacheable".into(), Value::Bool(true));
    }
    m
}

async fn pause(args: &Map<String, Value>) -> Map<String, Value> {
    let num = |k: &str| {
        args.get(k)
            .and_then(|v| py_str(v).trim().parse::<f64>().ok())
    };
    let secs = num("seconds")
        .or_else(|| num("minutes").map(|m| m * 60.0))
        .unwrap_or(0.0);
    let start = std::time::Instant::now();
    let started_at = herd_modules::commands::local_now();
    let mut input = String::new();
    if secs > 0.0 {
        tokio::time::sleep(Duration::from_secs_f64(secs)).await;
    } else if num("seconds").is_none() && num("minutes").is_none() {
        // Without a duration Ansible waits for Enter; with no terminal
        // there is nobody to press it, so the pause is skipped.
        // SAFETY: isatty only inspects the descriptor.
        if unsafe { libc::isatty(0) } == 1 {
            let prompt = args
                .get("prompt")
                .map(py_str)
                .unwrap_or_else(|| "Press enter to continue, Ctrl+C to interrupt".into());
            eprint!("[pause]\n{prompt}:\n");
            input = tokio::task::spawn_blocking(|| {
                let mut line = String::new();
                let _ = std::io::stdin().read_line(&mut line);
                line.trim_end_matches(['\n', '\r']).to_string()
            })
            .await
            .unwrap_or_default();
        }
    }
    // Ansible's result: the measured pause, in the unit it was given in,
    // rounded to hundredths and printed as a Python float.
    let elapsed = start.elapsed().as_secs_f64();
    let (amount, unit) = if num("minutes").is_some() {
        (elapsed / 60.0, "minutes")
    } else {
        (elapsed, "seconds")
    };
    let amount = (amount * 100.0).round() / 100.0;
    let mut m = ok();
    m.insert("start".into(), Value::String(started_at));
    m.insert(
        "stop".into(),
        Value::String(herd_modules::commands::local_now()),
    );
    m.insert("delta".into(), Value::from(elapsed as u64));
    m.insert("rc".into(), Value::from(0));
    m.insert("stderr".into(), Value::String(String::new()));
    m.insert(
        "echo".into(),
        Value::Bool(args.get("echo").is_none_or(super::task::as_bool)),
    );
    m.insert("user_input".into(), Value::String(input));
    m.insert(
        "stdout".into(),
        Value::String(format!(
            "Paused for {} {unit}",
            crate::value::py_str(&Value::from(amount))
        )),
    );
    m
}

/// The files `include_vars` reads from a directory, as Ansible's action
/// picks them: the tree walked to `depth` (0: all of it) in name order,
/// its role's `vars/main.yml` left out, names kept when they match
/// `files_matching` and none of `ignore_files`; a name without one of
/// `extensions` is an error unless `ignore_unknown_extensions`.
fn var_files_in_dir(
    task: &Task,
    dir: &Path,
    args: &Map<String, Value>,
) -> Result<Vec<PathBuf>, String> {
    use herd_modules::files::pyre;
    let depth = args
        .get("depth")
        .and_then(|v| py_str(v).trim().parse::<usize>().ok())
        .unwrap_or(0);
    let matcher = match args.get("files_matching").map(py_str) {
        Some(p) => Some(pyre::compile(&p, false, false)?),
        None => None,
    };
    let ignore: Vec<String> = match args.get("ignore_files") {
        Some(Value::Array(a)) => a.iter().map(py_str).collect(),
        Some(Value::Object(_)) => {
            return Err(format!("{} must be a list", py_str(&args["ignore_files"])))
        }
        Some(v) => py_str(v).split_whitespace().map(str::to_string).collect(),
        None => Vec::new(),
    };
    let ignore = ignore
        .iter()
        .map(|p| {
            pyre::compile(&format!("{p}$"), false, false)
                .map_err(|_| format!("Invalid regular expression: {p}"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let extensions: Vec<String> = match args.get("extensions") {
        Some(Value::Array(a)) => a.iter().map(py_str).collect(),
        Some(v) => vec![py_str(v)],
        None => vec!["json".into(), "yaml".into(), "yml".into()],
    };
    let skip_unknown = args
        .get("ignore_unknown_extensions")
        .is_some_and(super::task::as_bool);
    let role_main = task.role.as_ref().map(|r| r.path.join("vars/main.yml"));
    // Every directory of the tree with its depth (the root is 1), in
    // path order, as Python's sorted os.walk gives them.
    let mut dirs = vec![(dir.to_path_buf(), 1usize)];
    let mut i = 0;
    while i < dirs.len() {
        let (d, level) = dirs[i].clone();
        if let Ok(rd) = std::fs::read_dir(&d) {
            for e in rd.flatten() {
                let p = e.path();
                if p.is_dir() {
                    dirs.push((p, level + 1));
                }
            }
        }
        i += 1;
    }
    dirs.sort();
    let mut files = Vec::new();
    for (d, level) in dirs {
        if depth != 0 && level > depth {
            continue;
        }
        let mut names: Vec<String> = std::fs::read_dir(&d)
            .map(|rd| {
                rd.flatten()
                    .filter(|e| !e.path().is_dir())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        for name in names {
            let path = d.join(&name);
            if role_main.as_ref() == Some(&path) {
                continue;
            }
            if matcher.as_ref().is_some_and(|m| !pyre::search(m, &name)) {
                continue;
            }
            if ignore.iter().any(|r| pyre::search(r, &name)) {
                continue;
            }
            let ext_ok = Path::new(&name)
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| extensions.iter().any(|x| x == e));
            if !ext_ok {
                if skip_unknown {
                    continue;
                }
                return Err(format!(
                    "{} does not have a valid extension: {}",
                    path.display(),
                    extensions.join(", ")
                ));
            }
            files.push(path);
        }
    }
    Ok(files)
}

/// `include_vars`: a file, or every YAML file of a directory, found beside
/// the task, in its role's `vars/`, or the playbook's `vars/`.
fn include_vars(task: &Task, run: &PlayRun<'_>, args: &Map<String, Value>) -> Map<String, Value> {
    let target = args
        .get("file")
        .or_else(|| args.get("_raw_params"))
        .or_else(|| args.get("dir"))
        .map(py_str);
    let Some(target) = target else {
        return fail("include_vars needs a file or dir");
    };
    let mut search: Vec<PathBuf> = Vec::new();
    let p = Path::new(&target);
    if p.is_absolute() {
        search.push(p.to_path_buf());
    } else {
        if let Some(role) = &task.role {
            search.push(role.path.join("vars").join(p));
            search.push(role.path.join(p));
        }
        if let Some(dir) = Path::new(&*task.loc.file).parent() {
            search.push(dir.join("vars").join(p));
            search.push(dir.join(p));
        }
        search.push(run.play.basedir.join("vars").join(p));
        search.push(run.play.basedir.join(p));
    }
    let Some(found) = search.into_iter().find(|p| p.exists()) else {
        return fail(format!("Could not find or access '{target}'"));
    };
    let files = if found.is_dir() {
        match var_files_in_dir(task, &found, args) {
            Ok(f) => f,
            Err(msg) => return fail(msg),
        }
    } else {
        vec![found]
    };
    let mut data = Map::new();
    for f in &files {
        match crate::yaml::load_file(f) {
            Ok(node) => match node.to_value() {
                Value::Object(m) => data.extend(m),
                Value::Null => {}
                _ => {
                    return fail(format!(
                        "{} must be stored as a dictionary/hash",
                        f.display()
                    ))
                }
            },
            Err(d) => return fail(d.message),
        }
    }
    let facts = match args.get("name").map(py_str) {
        Some(name) => {
            let mut m = Map::new();
            m.insert(name, Value::Object(data));
            m
        }
        None => data,
    };
    let mut m = ok();
    m.insert("ansible_facts".into(), Value::Object(facts));
    m.insert(
        "ansible_included_var_files".into(),
        Value::Array(
            files
                .iter()
                .map(|f| {
                    // Ansible lists the files by absolute path.
                    let abs = std::path::absolute(f).unwrap_or_else(|_| f.clone());
                    Value::String(abs.display().to_string())
                })
                .collect(),
        ),
    );
    m
}
