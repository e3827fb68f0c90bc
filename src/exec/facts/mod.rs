//! Fact gathering (`gather_facts`, `setup`): one round trip running a POSIX
//! `sh` script built from the collectors `gather_subset` selects, parsed on
//! the controller into the facts ansible-core's `setup` returns, with the
//! same names, types and shapes.
//!
//! Every probe tolerates a missing tool or file (BusyBox, the BSDs): a fact
//! whose source is missing is left out or gets Ansible's placeholder
//! (`NA`, `N/A`). Facts that need Python on the host (`ansible_python`,
//! `ansible_python_version`, `ansible_selinux_python_present`) are not
//! gathered, nor are `ansible_devices` and `ansible_device_links` (block
//! devices).

mod hardware;
mod local;
mod network;
mod parse;
mod request;
mod script;

use std::sync::Arc;

use herd_modules::api::ExecOptions;

use super::{Inherit, PlayRun, Runner};
use crate::playbook::Task;
use crate::template::Vars;
use crate::value::{Map, Value};

use parse::parse_for;
use request::FactRequest;
use script::script;

impl Runner {
    /// The implicit `Gathering Facts` task of a play, with the play's
    /// `gather_subset`, `gather_timeout` and `fact_path` as arguments.
    /// With `gathering = smart`, a host whose facts were gathered already
    /// (this run or, with a persistent cache, an earlier one) is left out.
    pub(crate) async fn gather_facts(self: &Arc<Self>, run: &PlayRun<'_>, base: &Inherit) {
        let mut hosts = self.active(run, &run.batch);
        if self.opts.config.gathering == "smart" {
            hosts.retain(|h| !self.facts_gathered(h));
        }
        if hosts.is_empty() {
            return;
        }
        let mut args = Map::new();
        for key in ["gather_subset", "gather_timeout", "fact_path"] {
            if let Some(v) = run.play.keywords.0.get(key) {
                args.insert(key.to_string(), v.clone());
            }
        }
        let loc = run.play.loc.clone();
        let mut task = super::synthetic_task("gather_facts", args, loc);
        task.name = Some("Gathering Facts".into());
        if run.play.tags.is_empty() {
            task.tags = vec!["always".into()];
        }
        self.run_task(run, &task, hosts, base).await;
    }

    /// Whether the facts of `host` come from a gathering (ansible-core's
    /// `_ansible_facts_gathered` mark, kept in the fact cache).
    pub(crate) fn facts_gathered(&self, host: &str) -> bool {
        self.with_host(host, |st| {
            st.facts
                .get("_ansible_facts_gathered")
                .is_some_and(crate::value::truthy)
        })
    }

    /// Runs the facts script on a host: the result of `setup` (or, for
    /// `gather_facts`, of the action that marks the facts as gathered).
    pub(crate) async fn gather(
        self: &Arc<Self>,
        task: &Task,
        inherit: &Inherit,
        host: &str,
        vars: &Vars,
        delegate: Option<&str>,
        args: &Map<String, Value>,
    ) -> Map<String, Value> {
        // `parallel` is the gather_facts action's own (herd gathers every
        // host at once anyway).
        let mut args = args.clone();
        if task.action == "gather_facts" {
            args.shift_remove("parallel");
        }
        let req = match FactRequest::from_args(&args) {
            Ok(r) => r,
            Err(msg) => {
                let mut m = Map::new();
                m.insert("failed".into(), Value::Bool(true));
                m.insert("msg".into(), Value::String(msg));
                m.insert("changed".into(), Value::Bool(false));
                return m;
            }
        };
        let conn = match self.host_for(task, inherit, host, vars, delegate).await {
            Ok(c) => c,
            Err(e) => return super::task::host_error(e),
        };
        let out = match conn.exec(&script(&req), &ExecOptions::default()).await {
            Ok(o) => o,
            Err(e) => return super::task::host_error(e),
        };
        let (mut facts, warnings) = parse_for(&out.stdout_text(), &req);
        if task.action == "gather_facts" {
            facts.insert("_ansible_facts_gathered".into(), Value::Bool(true));
        }
        let mut m = Map::new();
        m.insert("ansible_facts".into(), Value::Object(facts));
        m.insert("changed".into(), Value::Bool(false));
        if !warnings.is_empty() {
            m.insert(
                "warnings".into(),
                Value::Array(warnings.into_iter().map(Value::String).collect()),
            );
        }
        // Facts are not printed with -v, as Ansible's setup hides them.
        m.insert("_ansible_verbose_override".into(), Value::Bool(true));
        m
    }
}

/// The facts as templates see them under `ansible_facts`: the names
/// without their `ansible_` prefix, except `ansible_local`, as
/// ansible-core's `namespace_facts`.
pub(crate) fn namespace_facts(facts: &Map<String, Value>) -> Map<String, Value> {
    facts
        .iter()
        .map(|(k, v)| {
            let name = match k.strip_prefix("ansible_") {
                Some(rest) if k != "ansible_local" => rest,
                _ => k.as_str(),
            };
            (name.to_string(), v.clone())
        })
        .collect()
}

/// The variables a host's facts give templates: `ansible_facts` (see
/// [`namespace_facts`]) and, unless `inject_facts_as_vars` is off, every
/// fact under its own name; `ansible_local` always.
pub(crate) fn fact_vars(facts: &Map<String, Value>, inject: bool) -> Map<String, Value> {
    let mut vars = if inject {
        // Internal marks (`_ansible_facts_gathered`) stay out of the
        // variables, as ansible-core's clean_facts leaves them out.
        facts
            .iter()
            .filter(|(k, _)| !k.starts_with("_ansible_"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    } else {
        let mut m = Map::new();
        let local = facts.get("ansible_local").cloned();
        m.insert(
            "ansible_local".into(),
            local.unwrap_or_else(|| Value::Object(Map::new())),
        );
        m
    };
    vars.insert(
        "ansible_facts".into(),
        Value::Object(namespace_facts(facts)),
    );
    vars
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespace_keeps_ansible_local() {
        let mut f = Map::new();
        f.insert("ansible_local".into(), Value::Object(Map::new()));
        f.insert("ansible_os_family".into(), Value::String("Debian".into()));
        f.insert("gather_subset".into(), Value::Array(vec![]));
        let n = namespace_facts(&f);
        assert!(n.contains_key("ansible_local") && n.contains_key("os_family"));
        assert!(n.contains_key("gather_subset"));
    }
}
