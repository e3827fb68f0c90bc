//! debconf — set a package's debconf answer, as Ansible's debconf module
//! does, with the host's debconf-show and debconf-set-selections.
//!
//! The package's current answers come from `debconf-show NAME`; with a
//! `question`, its answer is compared with `value` (booleans in lower
//! case, a multiselect given as a list compared as a sorted list, a
//! password read with debconf-get-selections), and only a difference runs
//! `debconf-set-selections` (`-u` with `unseen`). Without a question the
//! module reports the package's answers. Check mode stops after
//! comparing; --diff shows the answer before and after.
//!
//! Arguments:
//!   name (pkg)            the package (required)
//!   question (selection, setting)  the question, e.g. tzdata/Areas
//!   vtype                 boolean, error, multiselect, note, password,
//!                         seen, select, string, text, title
//!   value (answer)        the answer (a list for multiselect)
//!   unseen                leave the question marked as unseen
//!   question, vtype and value go together.
//!
//! Returns: current (the answers, or the question's new answer),
//! previous (its old answer) when changed, msg.
//!
//! Tested: for real with tzdata's tzdata/Areas question, each step
//! compared with ansible's debconf (tests/module_debconf.rs).

use async_trait::async_trait;
use serde_json::{json, Map, Value};

use crate::api::{shell_quote, ExecOptions, HostError, Module, ModuleContext, Outcome};
use crate::args::{Param, Spec};

pub struct Debconf;

static SPEC: Spec = Spec {
    module: "debconf",
    params: &[
        Param::str("name").required().aliases(&["pkg"]),
        Param::str("question").aliases(&["selection", "setting"]),
        Param::str("vtype").choices(&[
            "boolean",
            "error",
            "multiselect",
            "note",
            "password",
            "seen",
            "select",
            "string",
            "text",
            "title",
        ]),
        Param::raw("value").aliases(&["answer"]),
        Param::bool("unseen").default("false"),
    ],
    mutually_exclusive: &[],
    required_one_of: &[],
};

/// `debconf-show`'s lines (`* question: value`) as a map.
pub fn parse_show(out: &str) -> Map<String, Value> {
    let mut m = Map::new();
    for line in out.lines() {
        if let Some((k, v)) = line.split_once(':') {
            m.insert(
                k.trim().trim_matches('*').trim().to_string(),
                Value::String(v.trim().to_string()),
            );
        }
    }
    m
}

/// A value as Python's `str()` writes it.
fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Null => "None".into(),
        other => other.to_string(),
    }
}

/// The password debconf holds for a question, from
/// `debconf-get-selections` (tab-separated: package, question, type,
/// value).
fn password_from(out: &str, pkg: &str, question: &str, vtype: &str) -> String {
    for line in out.split('\n') {
        if !line.starts_with(pkg) {
            continue;
        }
        let fields: Vec<&str> = line.split('\t').collect();
        if fields.len() <= 3 {
            return String::new();
        }
        if fields[1] == question && fields[2] == vtype {
            return fields[3].to_string();
        }
    }
    String::new()
}

#[async_trait]
impl Module for Debconf {
    fn name(&self) -> &'static str {
        "debconf"
    }

    fn spec(&self) -> Option<&'static Spec> {
        Some(&SPEC)
    }

    async fn run(&self, ctx: &ModuleContext<'_>) -> Result<Outcome, HostError> {
        let a = match SPEC.parse(ctx).await? {
            Ok(a) => a,
            Err(o) => return Ok(o),
        };
        let together = ["question", "vtype", "value"];
        let given = together.iter().filter(|n| a.has(n)).count();
        if given > 0 && given < together.len() {
            return Ok(Outcome::failed(
                "parameters are required together: question, vtype, value",
            ));
        }
        let pkg = a.str_or("name", "");
        let opts = ExecOptions::default();
        let r = ctx
            .host
            .exec(&format!("debconf-show {}", shell_quote(&pkg)), &opts)
            .await?;
        if r.rc == 127 {
            return Ok(Outcome::failed(
                "Failed to find required executable \"debconf-show\" in paths: /usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            ));
        }
        if r.rc != 0 {
            return Ok(Outcome::failed(r.stderr_text()));
        }
        let prev = parse_show(&r.stdout_text());
        let Some(question) = a.str("question") else {
            return Ok(Outcome::ok().with("msg", "").with("current", prev));
        };
        let vtype = a.str_or("vtype", "");
        let raw = a.raw("value").cloned().unwrap_or(Value::Null);
        let list = match &raw {
            Value::Array(items) if vtype == "multiselect" => {
                let mut v: Vec<String> = items.iter().map(text_of).collect();
                v.sort();
                Some(v)
            }
            _ => None,
        };
        let mut value = text_of(&raw);
        if vtype == "boolean" {
            value = value.to_lowercase();
        }
        let changed = match prev.get(&question) {
            None => true,
            Some(existing) => {
                let existing = existing.as_str().unwrap_or("").to_string();
                match (&list, vtype.as_str()) {
                    (_, "boolean") => value != existing.to_lowercase(),
                    (_, "password") => {
                        let r = ctx.host.exec("debconf-get-selections", &opts).await?;
                        if r.rc == 127 {
                            return Ok(Outcome::failed(
                                "Failed to find required executable \"debconf-get-selections\" in paths: /usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                            ));
                        }
                        if r.rc != 0 {
                            return Ok(Outcome::failed(format!(
                                "Failed to get the value '{question}' from '{pkg}': {}",
                                r.stderr_text()
                            )));
                        }
                        value != password_from(&r.stdout_text(), &pkg, &question, &vtype)
                    }
                    (Some(l), _) => {
                        let mut e: Vec<String> =
                            existing.split(',').map(|s| s.trim().to_string()).collect();
                        e.sort();
                        *l != e
                    }
                    _ => value != existing,
                }
            }
        };
        if !changed {
            return Ok(Outcome::ok().with("msg", "").with("current", prev));
        }
        let written = match &list {
            Some(_) => match &raw {
                Value::Array(items) => items.iter().map(text_of).collect::<Vec<_>>().join(", "),
                _ => value.clone(),
            },
            None => value.clone(),
        };
        let mut msg = String::new();
        if !ctx.check_mode {
            let data = format!("{pkg} {question} {vtype} {written}\n");
            let cmd = if a.bool_or("unseen", false) {
                "debconf-set-selections -u"
            } else {
                "debconf-set-selections"
            };
            let r = ctx
                .host
                .exec(
                    cmd,
                    &ExecOptions {
                        stdin: Some(data.into_bytes()),
                        ..ExecOptions::default()
                    },
                )
                .await?;
            if r.rc != 0 {
                return Ok(Outcome::failed(r.stderr_text()));
            }
            msg = r.stdout_text();
        }
        let current_value = match &list {
            Some(l) => json!(l),
            None => Value::String(value),
        };
        let mut curr = Map::new();
        curr.insert(question.clone(), current_value.clone());
        // As Ansible: `previous` is the question's old answer when it had
        // one, else every answer with the question added as ''.
        let previous = match prev.get(&question) {
            Some(v) => {
                let mut m = Map::new();
                m.insert(question.clone(), v.clone());
                m
            }
            None => {
                let mut m = prev.clone();
                m.insert(question.clone(), Value::String(String::new()));
                m
            }
        };
        let diff = if ctx.diff {
            let mut after = previous.clone();
            after.insert(question.clone(), current_value);
            json!({"before": previous.clone(), "after": after})
        } else {
            json!({})
        };
        Ok(Outcome::changed()
            .with("msg", msg)
            .with("current", curr)
            .with("previous", previous)
            .with("diff", diff))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn show_output_is_read() {
        let m = parse_show("* tzdata/Areas: Etc\n  tzdata/Zones/Asia:\n");
        assert_eq!(m.get("tzdata/Areas"), Some(&json!("Etc")));
        assert_eq!(m.get("tzdata/Zones/Asia"), Some(&json!("")));
        assert_eq!(
            password_from("p\tp/q\tpassword\tsecret\n", "p", "p/q", "password"),
            "secret"
        );
    }
}
