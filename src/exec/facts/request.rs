//! The arguments of `setup`/`gather_facts` and the collectors a
//! `gather_subset` selects, as ansible-core selects them.

use std::collections::BTreeSet;

use crate::value::{Map, Value};

/// The collectors `gather_subset: min` (and `!all`) keeps.
const MIN_SUBSET: &[&str] = &[
    "apparmor",
    "caps",
    "cmdline",
    "date_time",
    "distribution",
    "dns",
    "env",
    "fips",
    "local",
    "lsb",
    "pkg_mgr",
    "platform",
    "python",
    "selinux",
    "service_mgr",
    "ssh_pub_keys",
    "user",
];

/// The collectors `all` adds to the minimal ones.
const MORE_SUBSETS: &[&str] = &[
    "chroot",
    "facter",
    "fibre_channel_wwn",
    "hardware",
    "iscsi",
    "loadavg",
    "network",
    "nvme",
    "ohai",
    "systemd",
    "virtual",
];

/// Fact names that select (or exclude) the collector that gathers them.
const ALIASES: &[(&str, &str)] = &[
    ("all_ipv4_addresses", "network"),
    ("all_ipv6_addresses", "network"),
    ("architecture", "platform"),
    ("default_ipv4", "network"),
    ("default_ipv6", "network"),
    ("devices", "hardware"),
    ("distribution_major_version", "distribution"),
    ("distribution_release", "distribution"),
    ("distribution_version", "distribution"),
    ("effective_group_ids", "user"),
    ("effective_user_id", "user"),
    ("interfaces", "network"),
    ("is_chroot", "chroot"),
    ("kernel", "platform"),
    ("kernel_version", "platform"),
    ("machine", "platform"),
    ("machine_id", "platform"),
    ("mounts", "hardware"),
    ("os_family", "distribution"),
    ("processor", "hardware"),
    ("processor_cores", "hardware"),
    ("processor_count", "hardware"),
    ("python_version", "platform"),
    ("real_user_id", "user"),
    ("ssh_host_key_dsa_public", "ssh_pub_keys"),
    ("ssh_host_key_ecdsa_public", "ssh_pub_keys"),
    ("ssh_host_key_ed25519_public", "ssh_pub_keys"),
    ("ssh_host_key_rsa_public", "ssh_pub_keys"),
    ("ssh_host_pub_keys", "ssh_pub_keys"),
    ("system", "platform"),
    ("system_capabilities", "caps"),
    ("system_capabilities_enforced", "caps"),
    ("user_dir", "user"),
    ("user_gecos", "user"),
    ("user_gid", "user"),
    ("user_id", "user"),
    ("user_shell", "user"),
    ("user_uid", "user"),
    ("virtualization_role", "virtual"),
    ("virtualization_tech_guest", "virtual"),
    ("virtualization_tech_host", "virtual"),
    ("virtualization_type", "virtual"),
];

/// The collectors each collector needs facts from (ansible-core's
/// `required_facts` on Linux).
const REQUIRES: &[(&str, &[&str])] = &[
    ("hardware", &["platform"]),
    ("network", &["distribution", "platform"]),
    ("pkg_mgr", &["distribution"]),
    ("service_mgr", &["distribution", "platform"]),
];

/// The default `fact_path`.
pub(crate) const DEFAULT_FACT_PATH: &str = "/etc/ansible/facts.d";

/// The arguments of `setup` / `gather_facts`, validated.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct FactRequest {
    /// `gather_subset` as written (it is also returned as a fact).
    pub subset: Vec<String>,
    /// The collectors to run.
    pub collectors: BTreeSet<&'static str>,
    pub fact_path: String,
    /// `filter`: fnmatch patterns a fact name must match.
    pub filter: Vec<String>,
    /// `gather_timeout`, seconds.
    pub timeout: u64,
}

fn collector_name(name: &str) -> Option<&'static str> {
    MIN_SUBSET
        .iter()
        .chain(MORE_SUBSETS)
        .find(|c| **c == name)
        .copied()
        .or_else(|| ALIASES.iter().find(|(a, _)| *a == name).map(|(_, c)| *c))
}

fn list_arg(v: &Value) -> Vec<String> {
    match v {
        Value::Array(a) => a.iter().map(crate::value::py_str).collect(),
        Value::Null => Vec::new(),
        other => crate::value::py_str(other)
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect(),
    }
}

impl FactRequest {
    /// Validates `setup`'s arguments as its argument spec does.
    pub(crate) fn from_args(args: &Map<String, Value>) -> Result<FactRequest, String> {
        let supported = ["fact_path", "filter", "gather_subset", "gather_timeout"];
        let mut unknown: Vec<&str> = args
            .keys()
            .map(String::as_str)
            .filter(|k| !supported.contains(k) && !k.starts_with('_'))
            .collect();
        if !unknown.is_empty() {
            unknown.sort();
            return Err(format!(
                "Unsupported parameters for (setup) module: {}. Supported parameters include: {}.",
                unknown.join(", "),
                supported.join(", ")
            ));
        }
        let subset = match args.get("gather_subset") {
            Some(v) => list_arg(v),
            None => vec!["all".to_string()],
        };
        let subset = if subset.is_empty() {
            vec!["all".to_string()]
        } else {
            subset
        };
        let timeout = match args.get("gather_timeout") {
            None | Some(Value::Null) => 10,
            Some(Value::Number(n)) if n.as_u64().is_some() => n.as_u64().unwrap_or(10),
            Some(v) => {
                let s = crate::value::py_str(v);
                s.trim().parse::<u64>().map_err(|_| {
                    format!(
                        "argument 'gather_timeout' is of type {} and we were unable to convert to int: {}",
                        crate::value::type_name(v),
                        if matches!(v, Value::String(_)) {
                            format!("\"'{s}'\" cannot be converted to an int")
                        } else {
                            format!("{s} cannot be converted to an int")
                        }
                    )
                })?
            }
        };
        let fact_path = match args.get("fact_path") {
            None | Some(Value::Null) => DEFAULT_FACT_PATH.to_string(),
            Some(v) => crate::value::py_str(v),
        };
        let filter = args.get("filter").map(list_arg).unwrap_or_default();
        Ok(FactRequest {
            collectors: collectors(&subset)?,
            subset,
            fact_path,
            filter,
            timeout,
        })
    }
}

/// The collectors a `gather_subset` selects, as ansible-core decides: the
/// minimal set always, `all` adds every collector, `!name` takes one away
/// (`!all` all but the minimal ones, `!min` the minimal ones) unless it
/// was also asked for by name.
pub(crate) fn collectors(subset: &[String]) -> Result<BTreeSet<&'static str>, String> {
    let mut add: BTreeSet<&'static str> = MIN_SUBSET.iter().copied().collect();
    let mut exclude: BTreeSet<&'static str> = BTreeSet::new();
    let mut explicit: BTreeSet<&'static str> = BTreeSet::new();
    for s in subset {
        let s = s.trim();
        match s {
            "min" => add.extend(MIN_SUBSET),
            "all" => {
                add.extend(MIN_SUBSET);
                add.extend(MORE_SUBSETS);
            }
            "!min" => exclude.extend(MIN_SUBSET),
            "!all" => exclude.extend(MORE_SUBSETS),
            _ => {
                if let Some(name) = s.strip_prefix('!') {
                    if let Some(c) = collector_name(name) {
                        exclude.insert(c);
                    }
                    continue;
                }
                let Some(c) = collector_name(s) else {
                    let mut valid: Vec<&str> = MIN_SUBSET
                        .iter()
                        .chain(MORE_SUBSETS)
                        .copied()
                        .chain(ALIASES.iter().map(|(a, _)| *a))
                        .collect();
                    valid.sort();
                    valid.dedup();
                    return Err(format!(
                        "Bad subset '{s}' given to Ansible. gather_subset options allowed: all, {}",
                        valid.join(", ")
                    ));
                };
                explicit.insert(c);
                add.insert(c);
            }
        }
    }
    for c in exclude.difference(&explicit) {
        add.remove(c);
    }
    // Collectors that read facts of others bring those in, excluded or not.
    for (c, needs) in REQUIRES {
        if add.contains(c) {
            add.extend(needs.iter());
        }
    }
    Ok(add)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> Value {
        Value::String(v.to_string())
    }

    fn req(subset: &[&str]) -> FactRequest {
        let mut args = Map::new();
        args.insert(
            "gather_subset".into(),
            Value::Array(subset.iter().map(|x| s(x)).collect()),
        );
        FactRequest::from_args(&args).expect("valid subset")
    }

    #[test]
    fn subsets_select_collectors_as_ansible() {
        let all = req(&["all"]).collectors;
        assert!(all.contains("network") && all.contains("hardware") && all.contains("user"));
        let min = req(&["!all"]).collectors;
        assert!(!min.contains("network") && min.contains("date_time"));
        assert!(req(&["!all", "!min"]).collectors.is_empty());
        let net = req(&["!all", "!min", "default_ipv4"]).collectors;
        // The network collector brings the ones it reads facts from.
        assert_eq!(
            net.into_iter().collect::<Vec<_>>(),
            vec!["distribution", "network", "platform"]
        );
        let nohw = req(&["!hardware"]).collectors;
        assert!(!nohw.contains("hardware") && !nohw.contains("network"));
        let e = FactRequest::from_args(&{
            let mut m = Map::new();
            m.insert("gather_subset".into(), s("bogus"));
            m
        })
        .unwrap_err();
        assert!(e.starts_with("Bad subset 'bogus' given to Ansible. gather_subset options allowed: all, all_ipv4_addresses, all_ipv6_addresses, apparmor,"), "{e}");
    }
}
