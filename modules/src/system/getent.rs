//! getent — read a system database (passwd, group, hosts, services, …)
//! into facts, as `getent DATABASE [KEY]` prints it.
//!
//! Each line becomes `getent_DATABASE[first field] = [other fields]`,
//! split on `split` (default `:` for passwd, shadow, group and gshadow,
//! whitespace otherwise); a key seen on several lines gets a list of
//! lists. Nothing on the host changes.
//!
//! Tested: ad-hoc results compared with ansible's (tests/adhoc_output.rs).
//!
//! Arguments:
//!   database  the database (required)
//!   key       one entry to look up (default: all)
//!   service   the NSS service to ask (`getent -s`)
//!   split     the field separator
//!   fail_key  fail when `key` is not found (default yes); with no, the
//!             key's value is null
//!
//! Returns: ansible_facts.getent_DATABASE.

use async_trait::async_trait;
use serde_json::{Map, Value};

use crate::api::{shell_quote, ExecOptions, HostError, Module, ModuleContext, Outcome};
use crate::args::{Param, Spec};

pub struct Getent;

static SPEC: Spec = Spec {
    module: "getent",
    params: &[
        Param::str("database").required(),
        Param::str("key"),
        Param::str("service"),
        Param::str("split"),
        Param::bool("fail_key").default("yes"),
    ],
    mutually_exclusive: &[],
    required_one_of: &[],
};

/// getent's output as Ansible's facts tree.
pub fn parse(out: &str, split: Option<&str>) -> Map<String, Value> {
    let mut tree = Map::new();
    let mut seen: std::collections::HashMap<String, usize> = Default::default();
    for line in out.lines() {
        let record: Vec<&str> = match split {
            Some(sep) => line.split(sep).collect(),
            None => line.split_whitespace().collect(),
        };
        let Some((first, rest)) = record.split_first() else {
            continue;
        };
        let rest = Value::Array(rest.iter().map(|s| Value::String(s.to_string())).collect());
        let n = seen.entry(first.to_string()).or_insert(0);
        *n += 1;
        match (*n, tree.get_mut(*first)) {
            (1, _) | (_, None) => {
                tree.insert(first.to_string(), rest);
            }
            (2, Some(prev)) => {
                let old = prev.take();
                *prev = Value::Array(vec![old, rest]);
            }
            (_, Some(Value::Array(list))) => list.push(rest),
            (_, Some(_)) => {}
        }
    }
    tree
}

#[async_trait]
impl Module for Getent {
    fn name(&self) -> &'static str {
        "getent"
    }

    fn spec(&self) -> Option<&'static Spec> {
        Some(&SPEC)
    }

    async fn run(&self, ctx: &ModuleContext<'_>) -> Result<Outcome, HostError> {
        let a = match SPEC.parse(ctx).await? {
            Ok(a) => a,
            Err(o) => return Ok(o),
        };
        let database = a.str_or("database", "");
        let key = a.str("key");
        let mut cmd = format!("getent {}", shell_quote(&database));
        if let Some(k) = &key {
            cmd.push(' ');
            cmd.push_str(&shell_quote(k));
        }
        if let Some(s) = a.str("service") {
            cmd.push_str(" -s ");
            cmd.push_str(&shell_quote(&s));
        }
        let split = a.str("split").or_else(|| {
            ["passwd", "shadow", "group", "gshadow"]
                .contains(&database.as_str())
                .then(|| ":".to_string())
        });
        let r = ctx.host.exec(&cmd, &ExecOptions::default()).await?;
        let facts_of = |tree: Map<String, Value>| {
            let mut facts = Map::new();
            facts.insert(format!("getent_{database}"), Value::Object(tree));
            Value::Object(facts)
        };
        let msg = match r.rc {
            0 => {
                let tree = parse(&r.stdout_text(), split.as_deref());
                return Ok(Outcome::ok().with("ansible_facts", facts_of(tree)));
            }
            1 => "Missing arguments, or database unknown.",
            2 => {
                let msg = "One or more supplied key could not be found in the database.";
                if !a.bool_or("fail_key", true) {
                    let mut tree = Map::new();
                    tree.insert(key.unwrap_or_default(), Value::Null);
                    let mut o = Outcome::ok().with("ansible_facts", facts_of(tree));
                    o.msg = Some(msg.into());
                    return Ok(o);
                }
                msg
            }
            3 => "Enumeration not supported on this database.",
            127 => "Failed to find required executable \"getent\" in paths",
            _ => "Unexpected failure!",
        };
        Ok(Outcome::failed(msg))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_like_ansible() {
        let t = parse(
            "root:x:0:0:root:/root:/bin/bash\nbin:x:1:1::/bin:\n",
            Some(":"),
        );
        assert_eq!(
            t["root"],
            json!(["x", "0", "0", "root", "/root", "/bin/bash"])
        );
        assert_eq!(t["bin"], json!(["x", "1", "1", "", "/bin", ""]));
        let t = parse(
            "127.0.0.1  localhost a\n::1 localhost\n127.0.0.1 b\n127.0.0.1 c\n",
            None,
        );
        assert_eq!(t["127.0.0.1"], json!([["localhost", "a"], ["b"], ["c"]]));
        assert_eq!(t["::1"], json!(["localhost"]));
    }
}
