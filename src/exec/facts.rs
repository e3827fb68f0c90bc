//! Fact gathering (`gather_facts`, `setup`): one round trip running a
//! small POSIX `sh` script, parsed on the controller into Ansible's fact
//! names.

use std::sync::Arc;

use herd_modules::api::ExecOptions;

use super::{Inherit, PlayRun, Runner};
use crate::playbook::Task;
use crate::template::Vars;
use crate::value::{Map, Value};

/// Prints `key=value` lines, then `/etc/os-release` and the environment
/// after marker lines. Every probe tolerates a missing tool.
const SCRIPT: &str = r#"
h=$(hostname 2>/dev/null || uname -n)
echo "hostname=${h%%.*}"
echo "nodename=$(uname -n)"
echo "fqdn=$(hostname -f 2>/dev/null || uname -n)"
echo "system=$(uname -s)"
echo "kernel=$(uname -r)"
echo "kernel_version=$(uname -v)"
echo "machine=$(uname -m)"
echo "user_id=$(id -un 2>/dev/null)"
echo "user_uid=$(id -u)"
echo "user_gid=$(id -g)"
echo "user_dir=$HOME"
echo "user_shell=$SHELL"
echo "vcpus=$(getconf _NPROCESSORS_ONLN 2>/dev/null || nproc 2>/dev/null)"
echo "memtotal_kb=$(awk '/^MemTotal:/{print $2}' /proc/meminfo 2>/dev/null)"
echo "memfree_kb=$(awk '/^MemFree:/{print $2}' /proc/meminfo 2>/dev/null)"
echo "date=$(date '+%Y-%m-%d|%H:%M:%S|%Z|%z|%A|%a|%B|%b|%j|%V|%u|%s|%Y|%m|%d|%H|%M|%S')"
echo "utc=$(date -u '+%Y-%m-%dT%H:%M:%SZ')"
for pm in apt-get dnf yum zypper apk pacman; do
  if command -v "$pm" >/dev/null 2>&1; then case $pm in apt-get) pm=apt;; yum) pm=dnf;; esac; echo "pkg_mgr=$pm"; break; fi
done
if command -v ip >/dev/null 2>&1; then
  ip -4 route get 1.1.1.1 2>/dev/null | awk '{for(i=1;i<NF;i++){if($i=="src")print "ipv4=" $(i+1); if($i=="dev")print "ipv4_dev=" $(i+1); if($i=="via")print "ipv4_gw=" $(i+1)}}'
fi
echo "==os-release"
cat /etc/os-release 2>/dev/null
echo "==env"
env
"#;

impl Runner {
    /// The implicit `Gathering Facts` task of a play.
    pub(crate) async fn gather_facts(self: &Arc<Self>, run: &PlayRun<'_>, base: &Inherit) {
        let hosts = self.active(run, &run.batch);
        if hosts.is_empty() {
            return;
        }
        let loc = run.play.loc.clone();
        let mut task = super::synthetic_task("gather_facts", Map::new(), loc);
        task.name = Some("Gathering Facts".into());
        task.tags = vec!["always".into()];
        self.run_task(run, &task, hosts, base).await;
    }

    /// Runs the facts script on a host.
    pub(crate) async fn gather(
        self: &Arc<Self>,
        task: &Task,
        inherit: &Inherit,
        host: &str,
        vars: &Vars,
        delegate: Option<&str>,
    ) -> Map<String, Value> {
        let conn = match self.host_for(task, inherit, host, vars, delegate).await {
            Ok(c) => c,
            Err(e) => return super::task::host_error(e),
        };
        let out = match conn.exec(SCRIPT, &ExecOptions::default()).await {
            Ok(o) => o,
            Err(e) => return super::task::host_error(e),
        };
        let facts = parse(&out.stdout_text());
        let mut m = Map::new();
        m.insert("ansible_facts".into(), Value::Object(facts));
        m.insert("changed".into(), Value::Bool(false));
        // Facts are not printed with -v, as Ansible's setup hides them.
        m.insert("_ansible_verbose_override".into(), Value::Bool(true));
        m
    }
}

/// Turns the script's output into facts, with the `ansible_` prefix.
pub(crate) fn parse(text: &str) -> Map<String, Value> {
    let mut kv: Map<String, Value> = Map::new();
    let mut os = Map::new();
    let mut env = Map::new();
    let mut section = "";
    for line in text.lines() {
        if line == "==os-release" || line == "==env" {
            section = line;
            continue;
        }
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        let v = v.to_string();
        match section {
            "==os-release" => {
                let v = v.trim_matches('"').trim_matches('\'').to_string();
                os.insert(k.to_string(), Value::String(v));
            }
            "==env" => {
                env.insert(k.to_string(), Value::String(v));
            }
            _ => {
                kv.insert(k.to_string(), Value::String(v));
            }
        }
    }
    let s = |m: &Map<String, Value>, k: &str| -> String {
        m.get(k).and_then(Value::as_str).unwrap_or("").to_string()
    };
    let mut f = Map::new();
    let mut put = |k: &str, v: Value| {
        f.insert(format!("ansible_{k}"), v);
    };
    for k in [
        "hostname",
        "nodename",
        "fqdn",
        "system",
        "kernel",
        "kernel_version",
        "machine",
        "user_id",
        "user_dir",
        "user_shell",
        "pkg_mgr",
    ] {
        put(k, Value::String(s(&kv, k)));
    }
    let machine = s(&kv, "machine");
    put("architecture", Value::String(machine));
    let num = |k: &str| s(&kv, k).trim().parse::<u64>().unwrap_or(0);
    put("user_uid", Value::from(num("user_uid")));
    put("user_gid", Value::from(num("user_gid")));
    put("processor_vcpus", Value::from(num("vcpus")));
    put("processor_nproc", Value::from(num("vcpus")));
    put("memtotal_mb", Value::from(num("memtotal_kb") / 1024));
    put("memfree_mb", Value::from(num("memfree_kb") / 1024));
    let id = s(&os, "ID");
    let (dist, family) = distribution(&id, &s(&os, "NAME"), &s(&kv, "system"));
    put("distribution", Value::String(dist));
    put("os_family", Value::String(family));
    let version = s(&os, "VERSION_ID");
    put(
        "distribution_major_version",
        Value::String(version.split('.').next().unwrap_or("").to_string()),
    );
    put("distribution_version", Value::String(version));
    put(
        "distribution_release",
        Value::String(s(&os, "VERSION_CODENAME")),
    );
    put("env", Value::Object(env));
    let date = s(&kv, "date");
    let parts: Vec<&str> = date.split('|').collect();
    if parts.len() == 18 {
        let mut d = Map::new();
        let names = [
            "date",
            "time",
            "tz",
            "tz_offset",
            "weekday",
            "weekday_short",
            "month_name",
            "month_short",
            "day_of_year",
            "weeknumber",
            "weekday_number",
            "epoch",
            "year",
            "month",
            "day",
            "hour",
            "minute",
            "second",
        ];
        for (n, v) in names.iter().zip(parts.iter()) {
            d.insert((*n).to_string(), Value::String((*v).to_string()));
        }
        d.insert("iso8601".into(), Value::String(s(&kv, "utc")));
        put("date_time", Value::Object(d));
    }
    if let Some(addr) = kv.get("ipv4").and_then(Value::as_str) {
        let mut d = Map::new();
        d.insert("address".into(), Value::String(addr.to_string()));
        d.insert("interface".into(), Value::String(s(&kv, "ipv4_dev")));
        d.insert("gateway".into(), Value::String(s(&kv, "ipv4_gw")));
        put("default_ipv4", Value::Object(d));
    }
    f
}

/// Ansible's distribution and OS family names for an os-release `ID`.
fn distribution(id: &str, name: &str, system: &str) -> (String, String) {
    let (d, fam) = match id {
        "ubuntu" => ("Ubuntu", "Debian"),
        "debian" => ("Debian", "Debian"),
        "linuxmint" => ("Linux Mint", "Debian"),
        "raspbian" => ("Debian", "Debian"),
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

    #[test]
    fn parses_the_script_output() {
        let out = "hostname=web1\nsystem=Linux\nmachine=x86_64\nvcpus=4\nmemtotal_kb=2048000\n==os-release\nID=ubuntu\nVERSION_ID=\"24.04\"\nVERSION_CODENAME=noble\n==env\nHOME=/root\n";
        let f = parse(out);
        assert_eq!(f["ansible_hostname"], "web1");
        assert_eq!(f["ansible_distribution"], "Ubuntu");
        assert_eq!(f["ansible_os_family"], "Debian");
        assert_eq!(f["ansible_distribution_major_version"], "24");
        assert_eq!(f["ansible_distribution_release"], "noble");
        assert_eq!(f["ansible_processor_vcpus"], 4);
        assert_eq!(f["ansible_memtotal_mb"], 2000);
        assert_eq!(f["ansible_env"]["HOME"], "/root");
    }
}
