//! Fact gathering (`gather_facts`, `setup`): one round trip running a POSIX
//! `sh` script built from the collectors `gather_subset` selects, parsed on
//! the controller into the facts ansible-core's `setup` returns, with the
//! same names, types and shapes.
//!
//! Every probe tolerates a missing tool or file (BusyBox, the BSDs): a fact
//! whose source is missing is left out or gets Ansible's placeholder
//! (`NA`, `N/A`). Facts that need Python on the host (`ansible_python`,
//! `ansible_python_version`, `ansible_selinux_python_present`) are not
//! gathered, nor are `ansible_devices`, `ansible_device_links` and
//! `ansible_lvm` (block devices).

use std::collections::BTreeSet;
use std::sync::Arc;

use herd_modules::api::{shell_quote, ExecOptions};

use super::{Inherit, PlayRun, Runner};
use crate::playbook::Task;
use crate::template::Vars;
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

/// The script that gathers what `req` asks for. Each collector's output
/// starts with a `@@herd:NAME` line.
pub(crate) fn script(req: &FactRequest) -> String {
    let c = &req.collectors;
    let mut s = String::from("exec 2>/dev/null </dev/null\n");
    let has = |n: &str| c.contains(n);
    if has("platform") {
        s.push_str(PLATFORM);
    }
    if has("distribution") {
        s.push_str(DISTRIBUTION);
    }
    if has("user") {
        s.push_str(USER);
    }
    if has("env") {
        s.push_str(ENV);
    }
    if has("date_time") {
        s.push_str(DATE_TIME);
    }
    if has("pkg_mgr") {
        s.push_str(PKG_MGR);
    }
    if has("service_mgr") || has("systemd") {
        s.push_str(SERVICE_MGR);
    }
    if has("lsb") {
        s.push_str(LSB);
    }
    if has("local") {
        let fp = match req.fact_path.strip_prefix("~/") {
            Some(rest) => format!("\"$HOME\"/{}", shell_quote(rest)),
            None => shell_quote(&req.fact_path),
        };
        s.push_str(&LOCAL.replace("@FACT_PATH@", &fp));
    }
    if has("hardware") {
        s.push_str(HARDWARE);
    }
    if has("network") {
        s.push_str(NETWORK);
    }
    if has("virtual") {
        s.push_str(VIRTUAL);
    }
    for (name, probe) in SMALL {
        if has(name) {
            s.push_str(&format!("echo '@@herd:{name}'\n{probe}\n"));
        }
    }
    s
}

const PLATFORM: &str = r#"echo '@@herd:platform'
for o in -s -r -v -m -n; do v=$(uname $o); echo "$v"; done
v=$(getconf LONG_BIT); echo "$v"
n=$(uname -n); a=$(getent ahosts "$n" | awk 'NR==1{print $1}')
if [ -n "$a" ]; then v=$(getent hosts "$a" | awk 'NR==1'); echo "$v"
elif ! command -v getent >/dev/null; then v=$(hostname -f); echo "- $v"
else echo; fi
v=$(cat /var/lib/dbus/machine-id || cat /etc/machine-id); echo "$v"
"#;

const DISTRIBUTION: &str = r#"echo '@@herd:distribution'
echo '==os-release'; cat /etc/os-release || cat /usr/lib/os-release
echo '==debian_version'; cat /etc/debian_version
echo '==alpine-release'; cat /etc/alpine-release
echo '==redhat-release'; cat /etc/redhat-release
"#;

const USER: &str = r#"echo '@@herd:user'
u=${LOGNAME:-${USER:-${LNAME:-${USERNAME:-$(id -un)}}}}; echo "$u"
v=$(getent passwd "$u" || awk -F: -v u="$u" '$1==u' /etc/passwd || grep "^$u:" /etc/passwd); echo "$v" | head -n 1
for o in -ru -u -rg -g; do v=$(id $o); echo "$v"; done
"#;

/// The environment, one `NAME=value` a line, newlines in values written
/// as `\x01` (awk's ENVIRON is POSIX; `env -0` is not; some awks mangle
/// backslashes in `gsub`, so none are used).
const ENV: &str = r#"echo '@@herd:env'
awk 'BEGIN{for(k in ENVIRON){v=ENVIRON[k];gsub(/\n/,"\001",v);print k "=" v}}' || env
"#;

const DATE_TIME: &str = r#"echo '@@herd:date_time'
date '+%Y|%m|%A|%w|%W|%d|%H|%M|%S|%s|%Z|%z|%N'
for t in 1704110400 1719835200; do v=$(date -d "@$t" '+%Z|%z' || date -r "$t" '+%Z|%z'); echo "$v"; done
"#;

const PKG_MGR: &str = r#"echo '@@herd:pkg_mgr'
for p in apt-get dnf5 dnf yum zypper apk pacman emerge xbps-install swupd opkg urpmi installp pkgin pkg pkg_add brew port; do
  if command -v "$p" >/dev/null; then echo "$p"; break; fi
done
"#;

const SERVICE_MGR: &str = r#"echo '@@herd:service_mgr'
v=$(cat /proc/1/comm); echo "$v"
uname -s
[ -d /run/systemd/system ] && echo systemd
initctl version 2>/dev/null | grep -q upstart && echo upstart
[ -e /sbin/openrc ] && echo openrc
[ -d /etc/init.d ] && echo sysvinit
[ -d /etc/dinit.d ] && echo dinit
[ -d /run/systemd/system ] && systemctl --version | sed 's/^/systemctl /'
"#;

const LSB: &str = r#"echo '@@herd:lsb'
command -v lsb_release >/dev/null && lsb_release -a
echo '==file'; cat /etc/lsb-release
"#;

/// `*.fact` files: each is framed so its content comes back exactly.
const LOCAL: &str = r#"echo '@@herd:local'
fp=@FACT_PATH@
if [ -e "$fp" ]; then
  for f in "$fp"/*.fact; do
    if [ ! -e "$f" ]; then [ -L "$f" ] && printf '@@herd:stat %s\n' "$f"; continue; fi
    printf '@@herd:fact %s\n' "$f"
    if [ -n "$(find "$f" -prune -perm -u+x)" ]; then
      e=$(mktemp || echo "/tmp/.herd-fact.$$")
      "$f" 2>"$e"; rc=$?
      printf '\n@@herd:rc %s\n' "$rc"; cat "$e"; rm -f "$e"
    else
      cat "$f"; printf '\n@@herd:rc file\n'
    fi
    printf '\n@@herd:endfact\n'
  done
fi
"#;

const HARDWARE: &str = r#"echo '@@herd:hardware'
echo '==cpuinfo'; cat /proc/cpuinfo
echo '==nproc'; nproc || getconf _NPROCESSORS_ONLN || sysctl -n hw.ncpu
echo '==meminfo'; cat /proc/meminfo
echo '==physmem'; [ -r /proc/meminfo ] || sysctl -n hw.physmem
echo '==uptime'; cat /proc/uptime
echo '==dmi'
(cd /sys/devices/virtual/dmi/id && grep -s '' bios_date bios_vendor bios_version board_asset_tag board_name board_serial board_vendor board_version chassis_asset_tag chassis_serial chassis_vendor chassis_version product_name product_serial product_uuid product_version sys_vendor chassis_type)
echo '==mtab'
m=/etc/mtab; [ -e $m ] || m=/proc/mounts
cat $m
echo '==statvfs'
while read -r dev mnt fs rest; do
  case "$dev" in /*|\\*|*:/*) ;; *) continue ;; esac
  [ "$fs" = none ] && continue
  p=$(printf '%s' "$mnt" | sed 's/\\040/ /g; s/\\011/	/g; s/\\134/\\/g')
  v=$(stat -f -c '%S %s %b %f %a %c %d' -- "$p"); echo "$mnt $v"
done <$m
echo '==findmnt'; findmnt -lnur
echo '==lsblk'; lsblk --list --noheadings --paths --output NAME,UUID --exclude 2
"#;

const NETWORK: &str = r#"echo '@@herd:network'
if command -v ip >/dev/null; then
  echo '==route4'; ip -4 route get 8.8.8.8 | head -n 1
  echo '==route6'; ip -6 route get 2404:6800:400a:800::1012 | head -n 1
  for p in /sys/class/net/*; do
    [ -d "$p" ] || continue
    d=${p##*/}
    echo "==if $d"
    (cd "$p" && grep -s '' address mtu operstate type flags speed)
    [ -d "$p/bridge" ] && echo 'bridge=1'
    [ -d "$p/bonding" ] && echo 'bonding=1'
    [ -e "$p/device" ] && { v=$(readlink "$p/device"); echo "pciid=${v##*/}"; }
    [ -e "$p/device/driver/module" ] && { v=$(readlink -f "$p/device/driver/module"); echo "module=${v##*/}"; }
    echo "==primary $d"; ip addr show primary dev "$d" || ip addr show dev "$d"
    echo "==secondary $d"; ip addr show secondary dev "$d"
  done
  echo '==local'; ip -4 route show table local; ip -6 route show table local
else
  echo '==no-ip'
fi
"#;

const VIRTUAL: &str = r#"echo '@@herd:virtual'
[ -e /.dockerenv ] && echo 'guest docker'
[ -e /run/.containerenv ] && echo 'guest podman'
grep -qa 'container=lxc' /proc/1/environ && echo 'guest lxc'
grep -qa 'container=systemd-nspawn' /proc/1/environ && echo 'guest systemd-nspawn'
grep -q docker /proc/1/cgroup && echo 'guest docker'
grep -q '/lxc/' /proc/1/cgroup && echo 'guest lxc'
[ -e /proc/vz ] && [ ! -e /proc/bc ] && echo 'guest openvz'
[ -e /proc/xen ] && echo 'xen'
(cd /sys/devices/virtual/dmi/id && grep -s '' product_name sys_vendor bios_vendor)
[ -e /dev/kvm ] && echo 'host kvm'
"#;

/// Collectors that read one file or run one command.
const SMALL: &[(&str, &str)] = &[
    (
        "apparmor",
        "[ -e /sys/kernel/security/apparmor ] && echo enabled || echo disabled",
    ),
    (
        "caps",
        "if command -v capsh >/dev/null; then capsh --print; echo \"@rc $?\"; fi",
    ),
    ("cmdline", "cat /proc/cmdline"),
    ("dns", "cat /etc/resolv.conf"),
    ("fips", "cat /proc/sys/crypto/fips_enabled"),
    (
        "selinux",
        "if [ -e /sys/fs/selinux/enforce ]; then echo enabled; cat /sys/fs/selinux/enforce; echo; cat /sys/fs/selinux/policyvers; echo; grep -E '^SELINUX(TYPE)?=' /etc/selinux/config; fi",
    ),
    (
        "ssh_pub_keys",
        "for d in /etc/ssh /etc/openssh /etc; do f=; for a in dsa rsa ecdsa ed25519; do if [ -r \"$d/ssh_host_${a}_key.pub\" ]; then v=$(cat \"$d/ssh_host_${a}_key.pub\"); echo \"$a $v\"; f=1; fi; done; [ -n \"$f\" ] && break; done",
    ),
    (
        "chroot",
        "echo \"${debian_chroot+set}\"; stat -c '%d %i' / /proc/1/root/. ; echo '==fs'; stat -f -c %T /",
    ),
    (
        "loadavg",
        "cat /proc/loadavg || sysctl -n vm.loadavg",
    ),
    ("iscsi", "grep '^InitiatorName=' /etc/iscsi/initiatorname.iscsi"),
    ("nvme", "cat /etc/nvme/hostnqn"),
    ("fibre_channel_wwn", "cat /sys/class/fc_host/*/port_name"),
];

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
        facts.clone()
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

/// The output of the script, cut at its `@@herd:` marker lines: each
/// marker with the text up to the next one.
fn sections(text: &str) -> Vec<(&str, String)> {
    let mut out: Vec<(&str, Vec<&str>)> = Vec::new();
    for line in text.split('\n') {
        if let Some(m) = line.strip_prefix("@@herd:") {
            out.push((m, Vec::new()));
        } else if let Some((_, body)) = out.last_mut() {
            body.push(line);
        }
    }
    out.into_iter().map(|(m, b)| (m, b.join("\n"))).collect()
}

/// Parses the script's output for `req`: the facts (with `gather_subset`
/// and `module_setup`, filtered by `filter`) and the warnings.
pub(crate) fn parse_for(text: &str, req: &FactRequest) -> (Map<String, Value>, Vec<String>) {
    let (mut f, warnings) = parse(text);
    f.insert(
        "gather_subset".into(),
        Value::Array(req.subset.iter().cloned().map(Value::String).collect()),
    );
    f.insert("module_setup".into(), Value::Bool(true));
    if !req.filter.is_empty() {
        f.retain(|k, _| {
            req.filter
                .iter()
                .any(|p| herd_modules::files::find::fnmatch(k, p))
        });
    }
    (f, warnings)
}

/// Turns the script's output into facts, with the `ansible_` prefix.
pub(crate) fn parse(text: &str) -> (Map<String, Value>, Vec<String>) {
    let secs = sections(text);
    let mut f = Facts::default();
    let mut i = 0;
    while i < secs.len() {
        let (name, body) = (&secs[i].0, &secs[i].1);
        match *name {
            "platform" => f.platform(body),
            "distribution" => f.distribution(body),
            "user" => f.user(body),
            "env" => f.env(body),
            "date_time" => f.date_time(body),
            "pkg_mgr" => f.pkg_mgr(body),
            "service_mgr" => f.service_mgr(body),
            "lsb" => f.lsb(body),
            "local" => {
                let mut j = i + 1;
                while j < secs.len() && is_local_marker(secs[j].0) {
                    j += 1;
                }
                f.local(&secs[i + 1..j]);
                i = j;
                continue;
            }
            "hardware" => f.hardware(body),
            "network" => f.network(body),
            "virtual" => f.virtual_(body),
            "apparmor" => {
                let status = if body.trim() == "enabled" {
                    "enabled"
                } else {
                    "disabled"
                };
                f.put("apparmor", obj([("status", s(status))]));
            }
            "caps" => f.caps(body),
            "cmdline" => f.cmdline(body),
            "dns" => f.dns(body),
            "fips" => f.put("fips", Value::Bool(body.trim() == "1")),
            "selinux" => f.selinux(body),
            "ssh_pub_keys" => f.ssh_pub_keys(body),
            "chroot" => f.chroot(body),
            "loadavg" => f.loadavg(body),
            "iscsi" => {
                let iqn = body
                    .lines()
                    .find_map(|l| l.strip_prefix("InitiatorName="))
                    .unwrap_or("")
                    .trim();
                f.put("iscsi_iqn", s(iqn));
            }
            "nvme" => f.put("hostnqn", s(body.trim())),
            "fibre_channel_wwn" => {
                let wwns: Vec<Value> = body
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(|l| s(l.strip_prefix("0x").unwrap_or(l)))
                    .collect();
                f.put("fibre_channel_wwn", Value::Array(wwns));
            }
            _ => {}
        }
        i += 1;
    }
    f.finish();
    (f.map, f.warnings)
}

fn is_local_marker(m: &str) -> bool {
    m.starts_with("fact ") || m.starts_with("rc ") || m == "endfact" || m.starts_with("stat ")
}

fn s(v: &str) -> Value {
    Value::String(v.to_string())
}

fn obj<const N: usize>(pairs: [(&str, Value); N]) -> Value {
    Value::Object(pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
}

/// `key=value` or `key:value` lines into a map (the first `=` or `:`
/// splits; `grep '' FILES…` writes `file:content`).
fn kv_lines(text: &str) -> Map<String, Value> {
    text.lines()
        .filter_map(|l| l.find(['=', ':']).map(|i| (&l[..i], &l[i + 1..])))
        .map(|(k, v)| (k.trim().to_string(), s(v.trim())))
        .collect()
}

/// A body cut at its `==name` sub-headers.
fn subsections(body: &str) -> Vec<(&str, Vec<&str>)> {
    let mut out: Vec<(&str, Vec<&str>)> = vec![("", Vec::new())];
    for line in body.lines() {
        if let Some(h) = line.strip_prefix("==") {
            out.push((h, Vec::new()));
        } else if let Some((_, b)) = out.last_mut() {
            b.push(line);
        }
    }
    out
}

#[derive(Default)]
struct Facts {
    map: Map<String, Value>,
    warnings: Vec<String>,
    /// `/etc/os-release` keys, kept for the LSB fallback and the OS family.
    system: String,
    service_mgr: String,
    systemctl: Vec<String>,
}

impl Facts {
    fn put(&mut self, k: &str, v: Value) {
        self.map.insert(format!("ansible_{k}"), v);
    }

    fn platform(&mut self, body: &str) {
        let l: Vec<&str> = body.lines().collect();
        let line = |i: usize| l.get(i).map(|x| x.trim()).unwrap_or("");
        let (system, kernel, kernel_version, machine, node) =
            (line(0), line(1), line(2), line(3), line(4));
        self.system = system.to_string();
        // Without getconf, the usual word size of the machine.
        let bits = match line(5) {
            "" if machine.contains("64") || machine == "s390x" => "64",
            "" if !machine.is_empty() => "32",
            b => b,
        };
        // socket.getfqdn(): the first of the reverse lookup's names with a
        // dot, else its main name, else the node name.
        let names: Vec<&str> = line(6).split_whitespace().skip(1).collect();
        let fqdn = names
            .iter()
            .find(|n| n.contains('.'))
            .or(names.first())
            .copied()
            .unwrap_or(node);
        self.put("system", s(system));
        self.put("kernel", s(kernel));
        self.put("kernel_version", s(kernel_version));
        self.put("machine", s(machine));
        self.put("userspace_bits", s(bits));
        let arch = if machine.len() == 4 && machine.starts_with('i') && machine.ends_with("86")
            || machine == "i86pc"
        {
            "i386"
        } else {
            machine
        };
        self.put("architecture", s(arch));
        if machine == "x86_64" || arch == "i386" {
            let ua = if bits == "32" { "i386" } else { "x86_64" };
            self.put("userspace_architecture", s(ua));
        }
        self.put("fqdn", s(fqdn));
        self.put("hostname", s(node.split('.').next().unwrap_or("")));
        self.put("nodename", s(node));
        self.put("domain", s(fqdn.split_once('.').map(|x| x.1).unwrap_or("")));
        let machine_id = line(7);
        if !machine_id.is_empty() {
            self.put("machine_id", s(machine_id));
        }
    }

    fn distribution(&mut self, body: &str) {
        let mut os = Map::new();
        let mut debian_version = String::new();
        let mut alpine = String::new();
        let mut redhat = String::new();
        for (name, lines) in subsections(body) {
            match name {
                "os-release" => {
                    for l in lines {
                        if let Some((k, v)) = l.split_once('=') {
                            let v = v.trim().trim_matches('"').trim_matches('\'');
                            os.insert(k.trim().to_string(), s(v));
                        }
                    }
                }
                "debian_version" => debian_version = lines.join("\n").trim().to_string(),
                "alpine-release" => alpine = lines.join("\n").trim().to_string(),
                "redhat-release" => redhat = lines.join("\n").trim().to_string(),
                _ => {}
            }
        }
        let g = |k: &str| os.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        let id = g("ID");
        let (dist, family) = distribution(&id, &g("NAME"), &self.system);
        let mut version = g("VERSION_ID");
        let mut minor = None;
        let (path, variety) = match family.as_str() {
            "Debian" => ("/etc/os-release", "Debian"),
            "Alpine" => ("/etc/alpine-release", "Alpine"),
            "RedHat" if !redhat.is_empty() => ("/etc/redhat-release", "RedHat"),
            "Suse" => ("/etc/os-release", "SUSE"),
            "Archlinux" => ("/etc/arch-release", "Archlinux"),
            _ => ("", ""),
        };
        if dist == "Debian" {
            // Debian's point release is in /etc/debian_version.
            let digits: Vec<&str> = debian_version.split('.').collect();
            if digits.len() >= 2
                && digits[..2]
                    .iter()
                    .all(|d| !d.is_empty() && d.chars().all(|c| c.is_ascii_digit()))
            {
                version = format!("{}.{}", digits[0], digits[1]);
                minor = Some(digits[1].to_string());
            }
        } else if dist == "Alpine" && !alpine.is_empty() {
            version = alpine;
        }
        let major = version.split('.').next().unwrap_or("").to_string();
        let minor = minor.unwrap_or_else(|| version.split('.').nth(1).unwrap_or("").to_string());
        let release = match g("VERSION_CODENAME") {
            r if !r.is_empty() => r,
            _ => "NA".to_string(),
        };
        self.put("distribution", s(&dist));
        self.put("distribution_version", s(&version));
        self.put(
            "distribution_major_version",
            s(if major.is_empty() { "NA" } else { &major }),
        );
        if !minor.is_empty() {
            self.put("distribution_minor_version", s(&minor));
        }
        self.put("distribution_release", s(&release));
        self.put("os_family", s(&family));
        if !path.is_empty() {
            self.put("distribution_file_path", s(path));
            self.put("distribution_file_variety", s(variety));
            self.put("distribution_file_parsed", Value::Bool(true));
        }
    }

    fn user(&mut self, body: &str) {
        let l: Vec<&str> = body.lines().collect();
        let line = |i: usize| l.get(i).map(|x| x.trim_end()).unwrap_or("");
        let name = line(0);
        let pw: Vec<&str> = line(1).split(':').collect();
        let field = |i: usize| pw.get(i).copied().unwrap_or("");
        let num = |t: &str| Value::from(t.trim().parse::<u64>().unwrap_or(0));
        self.put("user_id", s(name));
        self.put("user_uid", num(field(2)));
        self.put("user_gid", num(field(3)));
        self.put("user_gecos", s(field(4)));
        self.put("user_dir", s(field(5)));
        self.put("user_shell", s(field(6)));
        self.put("real_user_id", num(line(2)));
        self.put("effective_user_id", num(line(3)));
        self.put("real_group_id", num(line(4)));
        self.put("effective_group_id", num(line(5)));
    }

    fn env(&mut self, body: &str) {
        let mut pairs: Vec<(String, String)> = body
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), unescape_env(v)))
            .collect();
        pairs.sort();
        let m: Map<String, Value> = pairs.into_iter().map(|(k, v)| (k, s(&v))).collect();
        self.put("env", Value::Object(m));
    }

    fn date_time(&mut self, body: &str) {
        let l: Vec<&str> = body.lines().collect();
        let p: Vec<&str> = l.first().copied().unwrap_or("").split('|').collect();
        if p.len() < 13 {
            return;
        }
        let (year, month, weekday, wdnum, week, day, hour, minute, second, epoch, tz, off, nano) = (
            p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8], p[9], p[10], p[11], p[12],
        );
        let epoch_n: i64 = epoch.trim().parse().unwrap_or(0);
        let micro = if nano.len() >= 6 && nano.chars().all(|c| c.is_ascii_digit()) {
            &nano[..6]
        } else {
            "000000"
        };
        let (uy, um, ud, uh, umi, us) = utc_parts(epoch_n);
        // tzname[1]: the zone's daylight-saving name, the one of January
        // and July with the larger offset (the same name when no DST).
        let zone = |i: usize| -> Option<(String, i64)> {
            let (n, o) = l.get(i)?.split_once('|')?;
            let o = o.trim();
            let sign = if o.starts_with('-') { -1 } else { 1 };
            let digits: i64 = o.trim_start_matches(['+', '-']).parse().ok()?;
            Some((n.trim().to_string(), sign * digits))
        };
        let tz_dst = match (zone(1), zone(2)) {
            (Some(a), Some(b)) if a.1 > b.1 => a.0,
            (_, Some(b)) => b.0,
            (Some(a), None) => a.0,
            _ => tz.to_string(),
        };
        let mut d = Map::new();
        let mut put = |k: &str, v: String| {
            d.insert(k.to_string(), Value::String(v));
        };
        put("year", year.into());
        put("month", month.into());
        put("weekday", weekday.into());
        put("weekday_number", wdnum.into());
        put("weeknumber", week.into());
        put("day", day.into());
        put("hour", hour.into());
        put("minute", minute.into());
        put("second", second.into());
        put("epoch", epoch.into());
        put("epoch_int", epoch_n.to_string());
        put("date", format!("{year}-{month}-{day}"));
        put("time", format!("{hour}:{minute}:{second}"));
        put(
            "iso8601_micro",
            format!("{uy:04}-{um:02}-{ud:02}T{uh:02}:{umi:02}:{us:02}.{micro}Z"),
        );
        put(
            "iso8601",
            format!("{uy:04}-{um:02}-{ud:02}T{uh:02}:{umi:02}:{us:02}Z"),
        );
        put(
            "iso8601_basic",
            format!("{year}{month}{day}T{hour}{minute}{second}{micro}"),
        );
        put(
            "iso8601_basic_short",
            format!("{year}{month}{day}T{hour}{minute}{second}"),
        );
        put("tz", tz.into());
        put("tz_dst", tz_dst);
        put("tz_offset", off.into());
        self.put("date_time", Value::Object(d));
    }

    fn pkg_mgr(&mut self, body: &str) {
        let found = body.trim();
        let name = match found {
            "apt-get" => "apt",
            "emerge" => "portage",
            "xbps-install" => "xbps",
            "pkg" => "pkgng",
            "pkg_add" => "openbsd_pkg",
            "brew" => "homebrew",
            "port" => "macports",
            "" => "unknown",
            other => other,
        };
        self.put("pkg_mgr", s(name));
    }

    fn service_mgr(&mut self, body: &str) {
        let l: Vec<&str> = body.lines().collect();
        let proc1 = l.first().map(|x| x.trim()).unwrap_or("");
        let system = l.get(1).map(|x| x.trim()).unwrap_or("");
        let found: Vec<&str> = l.iter().skip(2).map(|x| x.trim()).collect();
        self.systemctl = found
            .iter()
            .filter_map(|x| x.strip_prefix("systemctl "))
            .map(str::to_string)
            .collect();
        let proc1 = if proc1.is_empty() || proc1 == "init" || proc1.ends_with("sh") {
            None
        } else {
            Some(proc1)
        };
        let mgr = match proc1 {
            Some("procd") => "openwrt_init".to_string(),
            Some("runit-init") => "runit".to_string(),
            Some("svscan") => "svc".to_string(),
            Some("openrc-init") => "openrc".to_string(),
            Some(p) => p.to_string(),
            None => match system {
                "Darwin" => "launchd".to_string(),
                "FreeBSD" | "OpenBSD" | "NetBSD" | "DragonFly" => "bsdinit".to_string(),
                "AIX" => "src".to_string(),
                "SunOS" => "smf".to_string(),
                _ => ["systemd", "upstart", "openrc", "sysvinit", "dinit"]
                    .iter()
                    .find(|m| found.contains(m))
                    .map(|m| m.to_string())
                    .unwrap_or_else(|| "service".to_string()),
            },
        };
        self.service_mgr = mgr.clone();
        self.put("service_mgr", Value::String(mgr));
    }

    fn lsb(&mut self, body: &str) {
        let subs = subsections(body);
        let mut lsb = Map::new();
        for line in subs.first().map(|x| x.1.clone()).unwrap_or_default() {
            let Some((_, value)) = line.split_once(':') else {
                continue;
            };
            let value = value.trim();
            let key = if line.contains("LSB Version:") || line.contains("Release:") {
                "release"
            } else if line.contains("Distributor ID:") {
                "id"
            } else if line.contains("Description:") {
                "description"
            } else if line.contains("Codename:") {
                "codename"
            } else {
                continue;
            };
            lsb.insert(key.to_string(), s(value));
        }
        if lsb.is_empty() {
            for (_, lines) in subs.iter().filter(|x| x.0 == "file") {
                for line in lines {
                    let Some((k, value)) = line.split_once('=') else {
                        continue;
                    };
                    let key = match k.trim() {
                        "DISTRIB_ID" => "id",
                        "DISTRIB_RELEASE" => "release",
                        "DISTRIB_DESCRIPTION" => "description",
                        "DISTRIB_CODENAME" => "codename",
                        _ => continue,
                    };
                    lsb.insert(key.to_string(), s(value.trim()));
                }
            }
        }
        if let Some(r) = lsb.get("release").and_then(Value::as_str) {
            let major = r.split('.').next().unwrap_or("").to_string();
            lsb.insert("major_release".into(), s(&major));
        }
        for v in lsb.values_mut() {
            if let Value::String(t) = v {
                *t = t.trim_matches(['\'', '"', '\\']).to_string();
            }
        }
        self.put("lsb", Value::Object(lsb));
    }

    fn caps(&mut self, body: &str) {
        let mut enforced = s("N/A");
        let mut caps = s("N/A");
        if body.lines().any(|l| l.trim() == "@rc 0") {
            enforced = s("NA");
            let mut list = Vec::new();
            for line in body.lines() {
                if line.starts_with("Current:") {
                    if line.split(':').nth(1).unwrap_or("").trim() == "=ep" {
                        enforced = s("False");
                    } else {
                        enforced = s("True");
                        list = line
                            .split('=')
                            .nth(1)
                            .unwrap_or("")
                            .split(',')
                            .map(|c| s(c.trim()))
                            .collect();
                    }
                }
            }
            caps = Value::Array(list);
        }
        self.put("system_capabilities_enforced", enforced);
        self.put("system_capabilities", caps);
    }

    fn cmdline(&mut self, body: &str) {
        let data = body.trim();
        if data.is_empty() {
            return;
        }
        let mut plain = Map::new();
        let mut multi = Map::new();
        for piece in data.split_whitespace() {
            match piece.split_once('=') {
                None => {
                    plain.insert(piece.to_string(), Value::Bool(true));
                    multi.insert(piece.to_string(), Value::Bool(true));
                }
                Some((k, v)) => {
                    plain.insert(k.to_string(), s(v));
                    match multi.get_mut(k) {
                        Some(Value::Array(a)) => a.push(s(v)),
                        Some(old) => {
                            let first = old.clone();
                            *old = Value::Array(vec![first, s(v)]);
                        }
                        None => {
                            multi.insert(k.to_string(), s(v));
                        }
                    }
                }
            }
        }
        self.put("cmdline", Value::Object(plain));
        self.put("proc_cmdline", Value::Object(multi));
    }

    fn dns(&mut self, body: &str) {
        let mut dns = Map::new();
        for line in body.lines() {
            if line.starts_with('#') || line.starts_with(';') || line.trim().is_empty() {
                continue;
            }
            let t: Vec<&str> = line.split_whitespace().collect();
            let list = |from: &[&str]| Value::Array(from.iter().map(|x| s(x)).collect());
            match t[0] {
                "nameserver" => {
                    let e = dns
                        .entry("nameservers")
                        .or_insert_with(|| Value::Array(Vec::new()));
                    if let Value::Array(a) = e {
                        a.extend(t[1..].iter().map(|x| s(x)));
                    }
                }
                "domain" if t.len() > 1 => {
                    dns.insert("domain".into(), s(t[1]));
                }
                "search" => {
                    dns.insert("search".into(), list(&t[1..]));
                }
                "sortlist" => {
                    dns.insert("sortlist".into(), list(&t[1..]));
                }
                "options" => {
                    let mut o = Map::new();
                    for opt in &t[1..] {
                        match opt.split_once(':') {
                            Some((k, v)) if !v.is_empty() => o.insert(k.to_string(), s(v)),
                            Some((k, _)) => o.insert(k.to_string(), Value::Bool(true)),
                            None => o.insert(opt.to_string(), Value::Bool(true)),
                        };
                    }
                    dns.insert("options".into(), Value::Object(o));
                }
                _ => {}
            }
        }
        self.put("dns", Value::Object(dns));
    }

    fn selinux(&mut self, body: &str) {
        let l: Vec<&str> = body
            .lines()
            .map(str::trim)
            .filter(|x| !x.is_empty())
            .collect();
        if l.first() != Some(&"enabled") {
            self.put("selinux", obj([("status", s("disabled"))]));
            return;
        }
        let mode = if l.get(1) == Some(&"1") {
            "enforcing"
        } else {
            "permissive"
        };
        let mut m = Map::new();
        m.insert("status".into(), s("enabled"));
        if let Some(v) = l.get(2).and_then(|v| v.parse::<u64>().ok()) {
            m.insert("policyvers".into(), Value::from(v));
        }
        for line in &l[2..] {
            if let Some(v) = line.strip_prefix("SELINUX=") {
                m.insert("config_mode".into(), s(v));
            }
            if let Some(v) = line.strip_prefix("SELINUXTYPE=") {
                m.insert("type".into(), s(v));
            }
        }
        m.insert("mode".into(), s(mode));
        self.put("selinux", Value::Object(m));
    }

    fn ssh_pub_keys(&mut self, body: &str) {
        for line in body.lines() {
            let mut w = line.split_whitespace();
            let (Some(algo), Some(keytype), Some(key)) = (w.next(), w.next(), w.next()) else {
                continue;
            };
            self.put(&format!("ssh_host_key_{algo}_public"), s(key));
            self.put(&format!("ssh_host_key_{algo}_public_keytype"), s(keytype));
        }
    }

    fn chroot(&mut self, body: &str) {
        let subs = subsections(body);
        let head = &subs[0].1;
        let fs = subs
            .iter()
            .find(|x| x.0 == "fs")
            .and_then(|x| x.1.first())
            .map(|x| x.trim())
            .unwrap_or("");
        let chroot = if head.first().map(|x| x.trim()) == Some("set") {
            true
        } else {
            let stats: Vec<Vec<&str>> = head[1..]
                .iter()
                .map(|l| l.split_whitespace().collect::<Vec<_>>())
                .filter(|w| w.len() == 2)
                .collect();
            match stats.as_slice() {
                [mine, init] => mine != init,
                [mine] => {
                    let root_ino = match fs {
                        "btrfs" => "256",
                        "xfs" => "128",
                        _ => "2",
                    };
                    mine[1] != root_ino
                }
                _ => false,
            }
        };
        self.put("is_chroot", Value::Bool(chroot));
    }

    fn loadavg(&mut self, body: &str) {
        let nums: Vec<f64> = body
            .split_whitespace()
            .filter_map(|x| x.trim_matches(['{', '}']).parse::<f64>().ok())
            .take(3)
            .collect();
        if nums.len() == 3 {
            let f = |x: f64| serde_json::Number::from_f64(x).map_or(Value::Null, Value::Number);
            self.put(
                "loadavg",
                obj([("1m", f(nums[0])), ("5m", f(nums[1])), ("15m", f(nums[2]))]),
            );
        }
    }

    fn local(&mut self, parts: &[(&str, String)]) {
        let mut found: Vec<(String, Value)> = Vec::new();
        let mut i = 0;
        while i < parts.len() {
            let (m, _) = &parts[i];
            if let Some(path) = m.strip_prefix("stat ") {
                let msg = format!(
                    "Could not stat fact ({path}): [Errno 2] No such file or directory: '{path}'"
                );
                self.warnings.push(msg.clone());
                found.push((fact_base(path), s(&msg)));
                i += 1;
                continue;
            }
            let Some(path) = m.strip_prefix("fact ") else {
                i += 1;
                continue;
            };
            let content = parts[i].1.as_str();
            let rc = parts
                .get(i + 1)
                .and_then(|x| x.0.strip_prefix("rc "))
                .unwrap_or("file");
            let err = parts.get(i + 1).map(|x| x.1.as_str()).unwrap_or("");
            let value = local_fact(path, rc, content, err, &mut self.warnings);
            found.push((fact_base(path), value));
            i += 3;
        }
        found.sort_by(|a, b| a.0.cmp(&b.0));
        self.put("local", Value::Object(found.into_iter().collect()));
    }

    fn hardware(&mut self, body: &str) {
        let subs = subsections(body);
        let get = |n: &str| -> Vec<&str> {
            subs.iter()
                .find(|x| x.0 == n)
                .map(|x| x.1.clone())
                .unwrap_or_default()
        };
        self.cpu(&get("cpuinfo"), &get("nproc"));
        self.memory(&get("meminfo"), &get("physmem"));
        if let Some(up) = get("uptime")
            .first()
            .and_then(|l| l.split_whitespace().next())
            .and_then(|x| x.parse::<f64>().ok())
        {
            self.put("uptime_seconds", Value::from(up as u64));
        }
        let dmi = kv_lines(&get("dmi").join("\n"));
        // Missing (no DMI, not readable): Ansible's NA.
        for k in [
            "bios_date",
            "bios_vendor",
            "bios_version",
            "board_asset_tag",
            "board_name",
            "board_serial",
            "board_vendor",
            "board_version",
            "chassis_asset_tag",
            "chassis_serial",
            "chassis_vendor",
            "chassis_version",
            "product_name",
            "product_serial",
            "product_uuid",
            "product_version",
        ] {
            let v = dmi.get(k).and_then(Value::as_str).unwrap_or("");
            self.put(k, s(if v.is_empty() { "NA" } else { v }));
        }
        let vendor = dmi.get("sys_vendor").and_then(Value::as_str).unwrap_or("");
        self.put(
            "system_vendor",
            s(if vendor.is_empty() { "NA" } else { vendor }),
        );
        let ff = dmi
            .get("chassis_type")
            .and_then(Value::as_str)
            .and_then(|t| t.parse::<usize>().ok())
            .and_then(|n| FORM_FACTORS.get(n).copied())
            .unwrap_or("NA");
        self.put("form_factor", s(ff));
        self.mounts(
            &get("mtab"),
            &get("statvfs"),
            &get("findmnt"),
            &get("lsblk"),
        );
    }

    fn cpu(&mut self, cpuinfo: &[&str], nproc: &[&str]) {
        let nproc = nproc
            .first()
            .and_then(|x| x.trim().parse::<u64>().ok())
            .unwrap_or(0);
        if cpuinfo.is_empty() {
            if nproc > 0 {
                self.put("processor_vcpus", Value::from(nproc));
                self.put("processor_nproc", Value::from(nproc));
            }
            return;
        }
        let mut processor = Vec::new();
        let mut sockets: Vec<(String, u64)> = Vec::new();
        let mut cores: Vec<(String, u64)> = Vec::new();
        let (mut physid, mut coreid) = (String::from("0"), String::from("0"));
        let mut occurrences = 0u64;
        for line in cpuinfo {
            let (key, val) = match line.split_once(':') {
                Some((k, v)) => (k.trim(), v.trim()),
                None => (line.trim(), ""),
            };
            match key {
                "flags" => {
                    let flags = val.split_whitespace().map(s).collect();
                    self.put("flags", Value::Array(flags));
                }
                "model name" | "Processor" | "vendor_id" | "cpu" | "Vendor" | "processor" => {
                    processor.push(s(val));
                    if key == "processor" {
                        occurrences += 1;
                    }
                }
                "physical id" => {
                    physid = val.to_string();
                    if !sockets.iter().any(|x| x.0 == physid) {
                        sockets.push((physid.clone(), 1));
                    }
                }
                "core id" => {
                    coreid = val.to_string();
                    if !cores.iter().any(|x| x.0 == coreid) {
                        cores.push((coreid.clone(), 1));
                    }
                }
                "cpu cores" => {
                    let n = val.parse().unwrap_or(1);
                    match sockets.iter_mut().find(|x| x.0 == physid) {
                        Some(x) => x.1 = n,
                        None => sockets.push((physid.clone(), n)),
                    }
                }
                "siblings" => {
                    let n = val.parse().unwrap_or(1);
                    match cores.iter_mut().find(|x| x.0 == coreid) {
                        Some(x) => x.1 = n,
                        None => cores.push((coreid.clone(), n)),
                    }
                }
                _ => {}
            }
        }
        let count = if sockets.is_empty() {
            processor.len() as u64
        } else {
            sockets.len() as u64
        };
        let per_socket = sockets.first().map(|x| x.1).filter(|n| *n > 0).unwrap_or(1);
        let threads = match cores.first() {
            Some(c) => (c.1 as f64 / per_socket as f64).round() as u64,
            None => (1.0 / per_socket as f64).round() as u64,
        };
        self.put("processor", Value::Array(processor));
        self.put("processor_count", Value::from(count));
        self.put("processor_cores", Value::from(per_socket));
        self.put("processor_threads_per_core", Value::from(threads));
        self.put("processor_vcpus", Value::from(threads * count * per_socket));
        let nproc = if nproc > 0 { nproc } else { occurrences };
        self.put("processor_nproc", Value::from(nproc));
    }

    fn memory(&mut self, meminfo: &[&str], physmem: &[&str]) {
        let mut mb = std::collections::HashMap::new();
        for line in meminfo {
            if let Some((k, v)) = line.split_once(':') {
                let kb: u64 = v
                    .split_whitespace()
                    .next()
                    .and_then(|x| x.parse().ok())
                    .unwrap_or(0);
                mb.insert(k.trim().to_string(), kb / 1024);
            }
        }
        if mb.is_empty() {
            if let Some(bytes) = physmem.first().and_then(|x| x.trim().parse::<u64>().ok()) {
                self.put("memtotal_mb", Value::from(bytes / 1024 / 1024));
            }
            return;
        }
        let g = |k: &str| *mb.get(k).unwrap_or(&0);
        let (total, free, buffers, cached) =
            (g("MemTotal"), g("MemFree"), g("Buffers"), g("Cached"));
        let (swap_total, swap_free, swap_cached) = (g("SwapTotal"), g("SwapFree"), g("SwapCached"));
        self.put("memtotal_mb", Value::from(total));
        self.put("memfree_mb", Value::from(free));
        self.put("swaptotal_mb", Value::from(swap_total));
        self.put("swapfree_mb", Value::from(swap_free));
        let n = |x: i64| Value::from(x);
        let (t, f) = (total as i64, free as i64);
        let nocache_free = f + buffers as i64 + cached as i64;
        let m = obj([
            (
                "real",
                obj([("total", n(t)), ("used", n(t - f)), ("free", n(f))]),
            ),
            (
                "nocache",
                obj([("free", n(nocache_free)), ("used", n(t - nocache_free))]),
            ),
            (
                "swap",
                obj([
                    ("total", n(swap_total as i64)),
                    ("free", n(swap_free as i64)),
                    ("used", n(swap_total as i64 - swap_free as i64)),
                    ("cached", n(swap_cached as i64)),
                ]),
            ),
        ]);
        self.put("memory_mb", m);
    }

    fn mounts(&mut self, mtab: &[&str], statvfs: &[&str], findmnt: &[&str], lsblk: &[&str]) {
        if mtab.is_empty() {
            return;
        }
        let binds: Vec<&str> = findmnt
            .iter()
            .filter_map(|l| {
                let w: Vec<&str> = l.split_whitespace().collect();
                (w.len() >= 2 && w[1].ends_with(']')).then_some(w[0])
            })
            .collect();
        let uuids: Vec<(&str, &str)> = lsblk
            .iter()
            .filter_map(|l| {
                let mut w = l.split_whitespace();
                Some((w.next()?, w.next().unwrap_or("")))
            })
            .collect();
        let mut out: Vec<Value> = Vec::new();
        let mut seen: Vec<String> = Vec::new();
        for line in mtab {
            let w: Vec<&str> = line.split_whitespace().collect();
            if w.len() < 4 {
                continue;
            }
            let (dev, mnt_raw, fstype, opts) = (w[0], w[1], w[2], w[3]);
            if (!dev.starts_with('/') && !dev.starts_with('\\') && !dev.contains(":/"))
                || fstype == "none"
            {
                continue;
            }
            let device = unescape_octal(dev);
            let mount = unescape_octal(mnt_raw);
            let num = |i: usize| w.get(i).and_then(|x| x.parse::<i64>().ok()).unwrap_or(0);
            let mut options = opts.to_string();
            if binds.contains(&mount.as_str()) && !options.split(',').any(|o| o == "bind") {
                options.push_str(",bind");
            }
            let mut m = Map::new();
            m.insert("mount".into(), s(&mount));
            m.insert("device".into(), s(&device));
            m.insert("fstype".into(), s(fstype));
            m.insert("options".into(), s(&options));
            m.insert("dump".into(), Value::from(num(4)));
            m.insert("passno".into(), Value::from(num(5)));
            let st: Option<Vec<u64>> = statvfs
                .iter()
                .find_map(|l| l.strip_prefix(mnt_raw)?.strip_prefix(' '))
                .map(|rest| {
                    rest.split_whitespace()
                        .filter_map(|x| x.parse().ok())
                        .collect()
                })
                .filter(|v: &Vec<u64>| v.len() == 7);
            if let Some(v) = st {
                let (frsize, bsize, blocks, bavail, files, ffree) =
                    (v[0], v[1], v[2], v[4], v[5], v[6]);
                let u = Value::from;
                m.insert("size_total".into(), u(frsize * blocks));
                m.insert("size_available".into(), u(frsize * bavail));
                m.insert("block_size".into(), u(bsize));
                m.insert("block_total".into(), u(blocks));
                m.insert("block_available".into(), u(bavail));
                m.insert("block_used".into(), u(blocks.saturating_sub(bavail)));
                m.insert("inode_total".into(), u(files));
                m.insert("inode_available".into(), u(ffree));
                m.insert("inode_used".into(), u(files.saturating_sub(ffree)));
            }
            let uuid = uuids
                .iter()
                .find(|x| x.0 == device)
                .map(|x| x.1)
                .filter(|u| !u.is_empty())
                .unwrap_or("N/A");
            m.insert("uuid".into(), s(uuid));
            // A mount point listed twice keeps its last entry, as
            // Ansible's dictionary of mounts does.
            if let Some(pos) = seen.iter().position(|x| *x == mount) {
                out[pos] = Value::Object(m);
            } else {
                seen.push(mount);
                out.push(Value::Object(m));
            }
        }
        self.put("mounts", Value::Array(out));
    }

    fn network(&mut self, body: &str) {
        let subs = subsections(body);
        // Ansible's Linux collector reads everything through `ip`; without
        // it there are no network facts.
        if subs.iter().any(|x| x.0 == "no-ip") {
            return;
        }
        let route = |n: &str, target: &str| -> Map<String, Value> {
            let mut m = Map::new();
            let line = subs
                .iter()
                .find(|x| x.0 == n)
                .and_then(|x| x.1.first().copied())
                .unwrap_or("");
            let w: Vec<&str> = line.split_whitespace().collect();
            if w.first() == Some(&target) {
                for i in 0..w.len().saturating_sub(1) {
                    match w[i] {
                        "dev" => m.insert("interface".into(), s(w[i + 1])),
                        "src" => m.insert("address".into(), s(w[i + 1])),
                        "via" if w[i + 1] != target => m.insert("gateway".into(), s(w[i + 1])),
                        _ => None,
                    };
                }
            }
            m
        };
        let mut v4 = route("route4", "8.8.8.8");
        let mut v6 = route("route6", "2404:6800:400a:800::1012");
        let mut ifaces: Vec<(String, Map<String, Value>)> = Vec::new();
        let mut all4 = Vec::new();
        let mut all6 = Vec::new();
        let mut local = (Vec::new(), Vec::new());
        for (h, lines) in &subs {
            if let Some(dev) = h.strip_prefix("if ") {
                let kv = kv_lines(&lines.join("\n"));
                let g = |k: &str| kv.get(k).and_then(Value::as_str).unwrap_or("").to_string();
                let mut m = Map::new();
                m.insert("device".into(), s(dev));
                let mac = g("address");
                if !mac.is_empty() && mac != "00:00:00:00:00:00" {
                    m.insert("macaddress".into(), s(&mac));
                }
                if let Ok(mtu) = g("mtu").parse::<i64>() {
                    m.insert("mtu".into(), Value::from(mtu));
                }
                if kv.contains_key("operstate") {
                    m.insert("active".into(), Value::Bool(g("operstate") != "down"));
                }
                if kv.contains_key("module") {
                    m.insert("module".into(), s(&g("module")));
                }
                if kv.contains_key("type") {
                    let t = match g("type").as_str() {
                        "1" => "ether",
                        "32" => "infiniband",
                        "512" => "ppp",
                        "772" => "loopback",
                        "65534" => "tunnel",
                        _ => "unknown",
                    };
                    m.insert("type".into(), s(t));
                }
                if kv.contains_key("bridge") {
                    m.insert("type".into(), s("bridge"));
                }
                if kv.contains_key("bonding") {
                    m.insert("type".into(), s("bonding"));
                }
                if kv.contains_key("pciid") {
                    m.insert("pciid".into(), s(&g("pciid")));
                }
                if let Ok(speed) = g("speed").parse::<i64>() {
                    m.insert("speed".into(), Value::from(speed));
                }
                if let Some(flags) = kv.get("flags").and_then(Value::as_str) {
                    let n = i64::from_str_radix(flags.trim_start_matches("0x"), 16).unwrap_or(0);
                    m.insert("promisc".into(), Value::Bool(n & 0x100 != 0));
                }
                ifaces.push((dev.to_string(), m));
            } else if let Some(dev) = h
                .strip_prefix("primary ")
                .map(|d| (d, false))
                .or_else(|| h.strip_prefix("secondary ").map(|d| (d, true)))
            {
                let (dev, secondary) = dev;
                parse_ip_addr(
                    dev,
                    lines,
                    secondary,
                    &mut ifaces,
                    (&mut v4, &mut v6),
                    (&mut all4, &mut all6),
                );
            } else if *h == "local" {
                for l in lines {
                    let w: Vec<&str> = l.split_whitespace().collect();
                    if w.len() < 2 || w[0] != "local" {
                        continue;
                    }
                    let list: &mut Vec<Value> = if w[1].contains(':') {
                        &mut local.1
                    } else {
                        &mut local.0
                    };
                    if !list.iter().any(|x| x == w[1]) {
                        list.push(s(w[1]));
                    }
                }
            }
        }
        let names: Vec<Value> = ifaces
            .iter()
            .map(|(d, _)| s(&d.replace(':', "_")))
            .collect();
        self.put("interfaces", Value::Array(names));
        for (dev, m) in ifaces {
            self.put(&dev.replace(':', "_"), Value::Object(m));
        }
        self.put("default_ipv4", Value::Object(v4));
        self.put("default_ipv6", Value::Object(v6));
        self.put("all_ipv4_addresses", Value::Array(all4));
        self.put("all_ipv6_addresses", Value::Array(all6));
        self.put(
            "locally_reachable_ips",
            obj([
                ("ipv4", Value::Array(local.0)),
                ("ipv6", Value::Array(local.1)),
            ]),
        );
    }

    fn virtual_(&mut self, body: &str) {
        let mut guest: Vec<String> = Vec::new();
        let mut host: Vec<String> = Vec::new();
        let mut kind: Option<(String, String)> = None;
        let dmi = kv_lines(body);
        let g = |k: &str| dmi.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        let mut add_guest = |t: &str, container: bool, kind: &mut Option<(String, String)>| {
            if !guest.iter().any(|x| x == t) {
                guest.push(t.to_string());
            }
            if container && !guest.iter().any(|x| x == "container") {
                guest.push("container".into());
            }
            if kind.is_none() {
                *kind = Some((t.to_string(), "guest".to_string()));
            }
        };
        for line in body.lines() {
            if let Some(t) = line.strip_prefix("guest ") {
                add_guest(t, true, &mut kind);
            } else if let Some(t) = line.strip_prefix("host ") {
                if !host.iter().any(|x| x == t) {
                    host.push(t.to_string());
                }
            } else if line == "xen" {
                add_guest("xen", false, &mut kind);
            }
        }
        let product = g("product_name");
        let vendor = g("sys_vendor");
        let bios = g("bios_vendor");
        let vm = match () {
            _ if ["KVM", "KVM Server", "Bochs", "AHV"].contains(&product.as_str()) => Some("kvm"),
            _ if product == "RHEV Hypervisor" => Some("RHEV"),
            _ if product.starts_with("VMware") => Some("VMware"),
            _ if product == "OpenStack Compute" || product == "OpenStack Nova" => Some("openstack"),
            _ if product == "VirtualBox" || bios == "innotek GmbH" => Some("virtualbox"),
            _ if bios == "Xen" => Some("xen"),
            _ if vendor == "QEMU" || vendor == "Google" => Some("kvm"),
            _ if vendor == "Amazon EC2" => Some("amazon"),
            _ if vendor == "Microsoft Corporation" && product == "Virtual Machine" => {
                Some("VirtualPC")
            }
            _ if vendor == "oVirt" => Some("oVirt"),
            _ if vendor == "Nutanix" => Some("kvm"),
            _ => None,
        };
        if let Some(t) = vm {
            add_guest(t, false, &mut kind);
        }
        if kind.is_none() && !host.is_empty() {
            kind = Some((host[0].clone(), "host".to_string()));
        }
        let (t, r) = kind.unwrap_or_else(|| ("NA".into(), "NA".into()));
        guest.sort();
        host.sort();
        self.put("virtualization_type", s(&t));
        self.put("virtualization_role", s(&r));
        self.put(
            "virtualization_tech_guest",
            Value::Array(guest.iter().map(|x| s(x)).collect()),
        );
        self.put(
            "virtualization_tech_host",
            Value::Array(host.iter().map(|x| s(x)).collect()),
        );
    }

    /// The facts that depend on others: `ansible_systemd` once the service
    /// manager is known.
    fn finish(&mut self) {
        if self.service_mgr == "systemd" && !self.systemctl.is_empty() {
            let first = &self.systemctl[0];
            let version = first
                .split_whitespace()
                .nth(1)
                .and_then(|v| v.parse::<u64>().ok());
            if let Some(v) = version {
                let features = self.systemctl.get(1).cloned().unwrap_or_default();
                self.put(
                    "systemd",
                    obj([("features", s(&features)), ("version", Value::from(v))]),
                );
            }
        }
    }
}

/// `/sys/class/dmi/id/chassis_type` numbers, as Ansible names them.
const FORM_FACTORS: &[&str] = &[
    "Unknown",
    "Other",
    "Unknown",
    "Desktop",
    "Low Profile Desktop",
    "Pizza Box",
    "Mini Tower",
    "Tower",
    "Portable",
    "Laptop",
    "Notebook",
    "Hand Held",
    "Docking Station",
    "All In One",
    "Sub Notebook",
    "Space-saving",
    "Lunch Box",
    "Main Server Chassis",
    "Expansion Chassis",
    "Sub Chassis",
    "Bus Expansion Chassis",
    "Peripheral Chassis",
    "RAID Chassis",
    "Rack Mount Chassis",
    "Sealed-case PC",
    "Multi-system",
    "CompactPCI",
    "AdvancedTCA",
    "Blade",
    "Blade Enclosure",
    "Tablet",
    "Convertible",
    "Detachable",
    "IoT Gateway",
    "Embedded PC",
    "Mini PC",
    "Stick PC",
];

/// The `inet`/`inet6` lines of `ip addr show [primary|secondary] dev D`,
/// read as ansible-core's Linux network collector reads them.
fn parse_ip_addr(
    device: &str,
    lines: &[&str],
    secondary: bool,
    ifaces: &mut [(String, Map<String, Value>)],
    defaults: (&mut Map<String, Value>, &mut Map<String, Value>),
    all: (&mut Vec<Value>, &mut Vec<Value>),
) {
    let (v4, v6) = defaults;
    let (all4, all6) = all;
    let Some(idx) = ifaces.iter().position(|(d, _)| d == device) else {
        return;
    };
    for line in lines {
        let w: Vec<&str> = line.split_whitespace().collect();
        if w.is_empty() {
            continue;
        }
        let dev = &ifaces[idx].1;
        let mac = dev.get("macaddress").cloned().unwrap_or(s("unknown"));
        let mtu = dev.get("mtu").cloned().unwrap_or(Value::Null);
        let typ = dev.get("type").cloned().unwrap_or(s("unknown"));
        if w[0] == "inet" && w.len() > 1 {
            let (address, prefix) = match w[1].split_once('/') {
                Some((a, p)) => (a, p),
                None => (w[1], "32"),
            };
            let broadcast = if w.len() > 3 && w[2] == "brd" {
                w[3]
            } else {
                ""
            };
            let Ok(addr) = address.parse::<std::net::Ipv4Addr>() else {
                continue;
            };
            let plen: u32 = prefix.parse().unwrap_or(32).min(32);
            let mask: u32 = if plen == 0 {
                0
            } else {
                u32::MAX << (32 - plen)
            };
            let netmask = std::net::Ipv4Addr::from(mask).to_string();
            let network = std::net::Ipv4Addr::from(u32::from(addr) & mask).to_string();
            let entry = obj([
                ("address", s(address)),
                ("broadcast", s(broadcast)),
                ("netmask", s(&netmask)),
                ("network", s(&network)),
                ("prefix", s(prefix)),
            ]);
            let m = &mut ifaces[idx].1;
            if !secondary && !m.contains_key("ipv4") {
                m.insert("ipv4".into(), entry);
            } else {
                let list = m
                    .entry("ipv4_secondaries")
                    .or_insert_with(|| Value::Array(Vec::new()));
                if let Value::Array(a) = list {
                    a.push(entry);
                }
            }
            if v4.get("address").and_then(Value::as_str) == Some(address) {
                v4.insert("broadcast".into(), s(broadcast));
                v4.insert("netmask".into(), s(&netmask));
                v4.insert("network".into(), s(&network));
                v4.insert("prefix".into(), s(prefix));
                v4.insert("macaddress".into(), mac);
                v4.insert("mtu".into(), mtu);
                v4.insert("type".into(), typ);
                v4.insert("alias".into(), s(w[w.len() - 1]));
            }
            if !address.starts_with("127.") {
                all4.push(s(address));
            }
        } else if w[0] == "inet6" && w.len() > 3 {
            let (address, prefix, scope) = if w[2] == "peer" && w.len() > 5 {
                let p = w[3].split_once('/').map(|x| x.1).unwrap_or("");
                (w[1], p, w[5])
            } else {
                let (a, p) = w[1].split_once('/').unwrap_or((w[1], ""));
                (a, p, w[3])
            };
            let entry = obj([
                ("address", s(address)),
                ("prefix", s(prefix)),
                ("scope", s(scope)),
            ]);
            let m = &mut ifaces[idx].1;
            let list = m.entry("ipv6").or_insert_with(|| Value::Array(Vec::new()));
            if let Value::Array(a) = list {
                a.push(entry);
            }
            if v6.get("address").and_then(Value::as_str) == Some(address) {
                v6.insert("prefix".into(), s(prefix));
                v6.insert("scope".into(), s(scope));
                v6.insert("macaddress".into(), mac);
                v6.insert("mtu".into(), mtu);
                v6.insert("type".into(), typ);
            }
            if address != "::1" {
                all6.push(s(address));
            }
        }
    }
}

/// The value of one `*.fact` file, as ansible-core's local collector
/// makes it: JSON, else INI, else the error text (with a warning).
fn local_fact(path: &str, rc: &str, out: &str, err: &str, warnings: &mut Vec<String>) -> Value {
    if rc != "file" && rc != "0" {
        let msg = format!("Failure executing fact script ({path}), rc: {rc}, err: {err}");
        warnings.push(msg.clone());
        return s(&msg);
    }
    if let Ok(v) = serde_json::from_str::<Value>(out.trim()) {
        return v;
    }
    match parse_ini(out) {
        Ok(v) => Value::Object(v),
        Err(IniError::Parse) => {
            let msg = format!("error loading facts as JSON or ini - please check content: {path}");
            warnings.push(msg.clone());
            s(&msg)
        }
        Err(IniError::Interpolation(e)) => {
            let msg = format!("error loading facts as ini - please check content: {path} ({e})");
            warnings.push(msg.clone());
            s(&msg)
        }
    }
}

/// The fact name of a `*.fact` file: its base name without `.fact`.
fn fact_base(path: &str) -> String {
    path.rsplit('/').next().unwrap_or(path).replace(".fact", "")
}

#[derive(Debug, PartialEq)]
enum IniError {
    /// Not INI at all (configparser's parsing errors).
    Parse,
    /// A value's `%` interpolation failed.
    Interpolation(String),
}

/// INI text read as Python's `configparser.ConfigParser` reads it: keys
/// lower-cased, `=` or `:`, indented continuation lines, `[DEFAULT]`
/// values in every section, `%(name)s` interpolation and `%%`.
fn parse_ini(text: &str) -> Result<Map<String, Value>, IniError> {
    type Section = Vec<(String, String)>;
    let mut defaults: Section = Vec::new();
    let mut sections: Vec<(String, Section)> = Vec::new();
    // Which section the current option is in (None: DEFAULT), and its
    // indentation, for continuation lines.
    let mut current: Option<Option<usize>> = None;
    let mut last_opt: Option<usize> = None;
    let mut opt_indent = 0;
    for raw in text.lines() {
        let stripped = raw.trim();
        if stripped.starts_with('#') || stripped.starts_with(';') {
            continue;
        }
        if stripped.is_empty() {
            last_opt = None;
            continue;
        }
        let indent = raw.len() - raw.trim_start().len();
        if let (Some(sec), Some(oi)) = (current, last_opt) {
            if indent > opt_indent {
                let opts = match sec {
                    None => &mut defaults,
                    Some(i) => &mut sections[i].1,
                };
                opts[oi].1.push('\n');
                opts[oi].1.push_str(stripped);
                continue;
            }
        }
        if stripped.starts_with('[') {
            let Some(end) = stripped.rfind(']').filter(|e| *e > 1) else {
                return Err(IniError::Parse);
            };
            let name = &stripped[1..end];
            if name == "DEFAULT" {
                current = Some(None);
            } else {
                if sections.iter().any(|(n, _)| n == name) {
                    return Err(IniError::Parse);
                }
                sections.push((name.to_string(), Vec::new()));
                current = Some(Some(sections.len() - 1));
            }
            last_opt = None;
            continue;
        }
        let Some(sec) = current else {
            return Err(IniError::Parse);
        };
        let pos = stripped.find(['=', ':']).ok_or(IniError::Parse)?;
        let key = stripped[..pos].trim().to_lowercase();
        let value = stripped[pos + 1..].trim().to_string();
        if key.is_empty() {
            return Err(IniError::Parse);
        }
        let opts = match sec {
            None => &mut defaults,
            Some(i) => &mut sections[i].1,
        };
        if opts.iter().any(|(k, _)| *k == key) {
            return Err(IniError::Parse);
        }
        opts.push((key, value));
        last_opt = Some(opts.len() - 1);
        opt_indent = indent;
    }
    let mut out = Map::new();
    for (name, opts) in &sections {
        let mut all = opts.clone();
        for (k, v) in &defaults {
            if !all.iter().any(|(x, _)| x == k) {
                all.push((k.clone(), v.clone()));
            }
        }
        let mut m = Map::new();
        for (k, v) in &all {
            let value = interpolate(name, k, v, &all, 1)?;
            m.insert(k.clone(), Value::String(value));
        }
        out.insert(name.clone(), Value::Object(m));
    }
    Ok(out)
}

/// configparser's `BasicInterpolation` of one value.
fn interpolate(
    section: &str,
    option: &str,
    raw: &str,
    opts: &[(String, String)],
    depth: usize,
) -> Result<String, IniError> {
    if depth > 10 {
        return Err(IniError::Interpolation(format!(
            "Recursion limit exceeded in value substitution: option '{option}' in section '{section}' contains an interpolation key which cannot be substituted in 10 steps. Raw value: '{raw}'"
        )));
    }
    let mut out = String::new();
    let mut rest = raw;
    while let Some(p) = rest.find('%') {
        out.push_str(&rest[..p]);
        let after = &rest[p + 1..];
        if let Some(r) = after.strip_prefix('%') {
            out.push('%');
            rest = r;
        } else if let Some(r) = after.strip_prefix('(') {
            let close = r.find(")s").ok_or_else(|| {
                IniError::Interpolation(format!("bad interpolation variable reference '{rest}'"))
            })?;
            let name = r[..close].to_lowercase();
            let Some((_, v)) = opts.iter().find(|(k, _)| *k == name) else {
                return Err(IniError::Interpolation(format!(
                    "Bad value substitution: option '{option}' in section '{section}' contains an interpolation key '{name}' which is not a valid option name. Raw value: '{raw}'"
                )));
            };
            out.push_str(&interpolate(section, &name, v, opts, depth + 1)?);
            rest = &r[close + 2..];
        } else {
            return Err(IniError::Interpolation(format!(
                "'%' must be followed by '%' or '(', found: '{}'",
                &rest[p..]
            )));
        }
    }
    out.push_str(rest);
    Ok(out)
}

fn unescape_env(v: &str) -> String {
    v.replace('\u{1}', "\n")
}

/// `/proc/mounts` writes space, tab, newline and backslash as `\ooo`.
fn unescape_octal(v: &str) -> String {
    let b = v.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let n = (b[i + 1] - b'0') as u32 * 64
                + (b[i + 2] - b'0') as u32 * 8
                + (b[i + 3] - b'0') as u32;
            out.push(n as u8);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The UTC calendar time of a Unix epoch (civil-from-days).
fn utc_parts(epoch: i64) -> (i64, u32, u32, u32, u32, u32) {
    let days = epoch.div_euclid(86400);
    let secs = epoch.rem_euclid(86400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (
        y,
        m,
        d,
        (secs / 3600) as u32,
        (secs % 3600 / 60) as u32,
        (secs % 60) as u32,
    )
}

/// Ansible's distribution and OS family names for an os-release `ID`.
fn distribution(id: &str, name: &str, system: &str) -> (String, String) {
    let (d, fam) = match id {
        "ubuntu" => ("Ubuntu", "Debian"),
        "debian" => ("Debian", "Debian"),
        "linuxmint" => ("Linux Mint", "Debian"),
        "raspbian" => ("Debian", "Debian"),
        "kali" => ("Kali", "Debian"),
        "pop" => ("Pop!_OS", "Debian"),
        "centos" => ("CentOS", "RedHat"),
        "rhel" => ("RedHat", "RedHat"),
        "fedora" => ("Fedora", "RedHat"),
        "rocky" => ("Rocky", "RedHat"),
        "almalinux" => ("AlmaLinux", "RedHat"),
        "ol" => ("OracleLinux", "RedHat"),
        "amzn" => ("Amazon", "RedHat"),
        "alpine" => ("Alpine", "Alpine"),
        "arch" => ("Archlinux", "Archlinux"),
        "opensuse-leap" => ("openSUSE Leap", "Suse"),
        "opensuse-tumbleweed" => ("openSUSE Tumbleweed", "Suse"),
        "sles" => ("SLES", "Suse"),
        "gentoo" => ("Gentoo", "Gentoo"),
        "freebsd" => ("FreeBSD", "FreeBSD"),
        _ => {
            let n = if name.is_empty() { system } else { name };
            return (n.to_string(), n.to_string());
        }
    };
    (d.to_string(), fam.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn ini_reads_as_configparser() {
        let v = parse_ini("[DEFAULT]\nd = 1\n[General]\nName = web\npath: %(name)s/x\nlong = a\n  b\npct = 100%%\n").unwrap();
        assert_eq!(v["General"]["name"], "web");
        assert_eq!(v["General"]["path"], "web/x");
        assert_eq!(v["General"]["long"], "a\nb");
        assert_eq!(v["General"]["pct"], "100%");
        assert_eq!(v["General"]["d"], "1");
        assert!(v.get("DEFAULT").is_none());
        assert_eq!(parse_ini("a = 1\n"), Err(IniError::Parse));
        assert!(matches!(
            parse_ini("[s]\na = 5%\n"),
            Err(IniError::Interpolation(_))
        ));
    }

    #[test]
    fn utc_from_epoch() {
        assert_eq!(utc_parts(0), (1970, 1, 1, 0, 0, 0));
        assert_eq!(utc_parts(1795777245), (2026, 11, 27, 11, 0, 45));
    }

    #[test]
    fn namespace_keeps_ansible_local() {
        let mut f = Map::new();
        f.insert("ansible_local".into(), Value::Object(Map::new()));
        f.insert("ansible_os_family".into(), s("Debian"));
        f.insert("gather_subset".into(), Value::Array(vec![]));
        let n = namespace_facts(&f);
        assert!(n.contains_key("ansible_local") && n.contains_key("os_family"));
        assert!(n.contains_key("gather_subset"));
    }
}
