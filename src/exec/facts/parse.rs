//! The script's output turned into facts: the collectors that read a
//! file or two (platform, distribution, user, env, date and time, service
//! manager, …) and the dispatch to the others (`hardware.rs`,
//! `network.rs`, `local.rs`).

use super::local::is_local_marker;
use super::FactRequest;
use crate::value::{Map, Value};

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

pub(super) fn s(v: &str) -> Value {
    Value::String(v.to_string())
}

pub(super) fn obj<const N: usize>(pairs: [(&str, Value); N]) -> Value {
    Value::Object(pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
}

/// `key=value` or `key:value` lines into a map (the first `=` or `:`
/// splits; `grep '' FILES…` writes `file:content`).
pub(super) fn kv_lines(text: &str) -> Map<String, Value> {
    text.lines()
        .filter_map(|l| l.find(['=', ':']).map(|i| (&l[..i], &l[i + 1..])))
        .map(|(k, v)| (k.trim().to_string(), s(v.trim())))
        .collect()
}

/// A body cut at its `==name` sub-headers.
pub(super) fn subsections(body: &str) -> Vec<(&str, Vec<&str>)> {
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
pub(super) struct Facts {
    pub(super) map: Map<String, Value>,
    pub(super) warnings: Vec<String>,
    /// `/etc/os-release` keys, kept for the LSB fallback and the OS family.
    pub(super) system: String,
    pub(super) service_mgr: String,
    pub(super) systemctl: Vec<String>,
}

impl Facts {
    pub(super) fn put(&mut self, k: &str, v: Value) {
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

fn unescape_env(v: &str) -> String {
    v.replace('\u{1}', "\n")
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

    /// Script output → facts, for hosts this machine is not: each case is
    /// what the probes print there.
    fn facts(out: &str) -> Map<String, Value> {
        parse(out).0
    }

    #[test]
    fn distributions() {
        let ubuntu = "@@herd:platform\nLinux\n6.8.0\n#1 SMP\nx86_64\nweb1.example.com\n64\n127.0.1.1 web1.example.com web1\n\n\
            @@herd:distribution\n==os-release\nNAME=\"Ubuntu\"\nID=ubuntu\nVERSION_ID=\"24.04\"\nVERSION_CODENAME=noble\n==debian_version\ntrixie/sid\n";
        let f = facts(ubuntu);
        assert_eq!(f["ansible_distribution"], "Ubuntu");
        assert_eq!(f["ansible_distribution_version"], "24.04");
        assert_eq!(f["ansible_distribution_major_version"], "24");
        assert_eq!(f["ansible_distribution_minor_version"], "04");
        assert_eq!(f["ansible_distribution_release"], "noble");
        assert_eq!(f["ansible_os_family"], "Debian");
        assert_eq!(f["ansible_hostname"], "web1");
        assert_eq!(f["ansible_fqdn"], "web1.example.com");
        assert_eq!(f["ansible_domain"], "example.com");
        let alpine = "@@herd:distribution\n==os-release\nNAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.20.3\n==alpine-release\n3.20.3\n";
        let f = facts(alpine);
        assert_eq!(f["ansible_distribution"], "Alpine");
        assert_eq!(f["ansible_os_family"], "Alpine");
        assert_eq!(f["ansible_distribution_version"], "3.20.3");
        assert_eq!(f["ansible_distribution_release"], "NA");
        let rocky = "@@herd:distribution\n==os-release\nID=\"rocky\"\nVERSION_ID=\"9.4\"\n==redhat-release\nRocky Linux release 9.4 (Blue Onyx)\n";
        let f = facts(rocky);
        assert_eq!(f["ansible_distribution"], "Rocky");
        assert_eq!(f["ansible_os_family"], "RedHat");
        assert_eq!(f["ansible_distribution_file_path"], "/etc/redhat-release");
        assert_eq!(f["ansible_distribution_major_version"], "9");
    }

    #[test]
    fn processors_memory_and_mounts() {
        // Two sockets of two cores with hyper-threading: 8 threads.
        let mut cpuinfo = String::new();
        for i in 0..8 {
            cpuinfo.push_str(&format!(
                "processor\t: {i}\nvendor_id\t: GenuineIntel\nmodel name\t: Xeon\nphysical id\t: {}\nsiblings\t: 4\ncore id\t: {}\ncpu cores\t: 2\n\n",
                i / 4,
                i % 2
            ));
        }
        let out = format!(
            "@@herd:hardware\n==cpuinfo\n{cpuinfo}==nproc\n8\n==meminfo\nMemTotal: 2048000 kB\nMemFree: 1024000 kB\nBuffers: 10240 kB\nCached: 102400 kB\nSwapTotal: 0 kB\nSwapFree: 0 kB\n==uptime\n12.5 3.0\n==mtab\n/dev/sda1 /srv/my\\040data ext4 rw 0 2\ntmpfs /run tmpfs rw 0 0\n==statvfs\n/srv/my\\040data 4096 4096 100 50 40 10 5\n==findmnt\n==lsblk\n/dev/sda1 1234-ABCD\n"
        );
        let f = facts(&out);
        assert_eq!(f["ansible_processor_count"], 2);
        assert_eq!(f["ansible_processor_cores"], 2);
        assert_eq!(f["ansible_processor_threads_per_core"], 2);
        assert_eq!(f["ansible_processor_vcpus"], 8);
        assert_eq!(f["ansible_processor"].as_array().map(Vec::len), Some(24));
        assert_eq!(f["ansible_memtotal_mb"], 2000);
        assert_eq!(f["ansible_memory_mb"]["nocache"]["free"], 1000 + 10 + 100);
        assert_eq!(f["ansible_uptime_seconds"], 12);
        let mounts = f["ansible_mounts"].as_array().expect("a list");
        assert_eq!(mounts.len(), 1, "tmpfs is not a device mount");
        assert_eq!(mounts[0]["mount"], "/srv/my data");
        assert_eq!(mounts[0]["uuid"], "1234-ABCD");
        assert_eq!(mounts[0]["passno"], 2);
        assert_eq!(mounts[0]["size_total"], 409600);
        assert_eq!(mounts[0]["block_used"], 60);
        assert_eq!(mounts[0]["inode_used"], 5);
    }

    #[test]
    fn lvm_volumes() {
        let out = "@@herd:hardware\n==lvm\nroot\n==vgs\n  vg0,2,3,0,wz--n-,99.50,10.25\n==lvs\n  root,vg0,-wi-ao----,20.00\n==pvs\n  /dev/sda2,vg0,lvm2,a--,49.75,0\n";
        let f = facts(out);
        let lvm = &f["ansible_lvm"];
        assert_eq!(lvm["vgs"]["vg0"]["size_g"], "99.50");
        assert_eq!(lvm["vgs"]["vg0"]["free_g"], "10.25");
        assert_eq!(lvm["vgs"]["vg0"]["num_lvs"], "3");
        assert_eq!(lvm["vgs"]["vg0"]["num_pvs"], "2");
        assert_eq!(lvm["lvs"]["root"]["vg"], "vg0");
        assert_eq!(lvm["pvs"]["/dev/sda2"]["free_g"], "0");
        assert_eq!(facts("@@herd:hardware\n==lvm\n")["ansible_lvm"], "N/A");
    }

    #[test]
    fn a_mount_that_times_out() {
        let out = "@@herd:hardware\n==mtab\nsrv:/export /mnt/nfs nfs4 rw 0 0\n==statvfs\n/mnt/nfs @timeout\n";
        let (f, warnings) = parse(out);
        let m = &f["ansible_mounts"][0];
        assert_eq!(m["device"], "srv:/export");
        assert_eq!(m["note"], "Could not get extra information due to timeout");
        assert!(m.get("size_total").is_none() && m.get("uuid").is_none());
        assert_eq!(
            warnings,
            ["Timeout exceeded when getting mount info for /mnt/nfs"]
        );
    }

    #[test]
    fn interfaces_with_secondary_addresses() {
        let out = "@@herd:network\n==route4\n8.8.8.8 via 10.0.0.1 dev br0 src 10.0.0.5 uid 0\n==route6\n\
            ==if br0\naddress:52:54:00:12:34:56\nmtu:9000\noperstate:up\ntype:1\nflags:0x1103\nbridge=1\n\
            ==primary br0\n3: br0: <BROADCAST,MULTICAST,UP> mtu 9000\n    link/ether 52:54:00:12:34:56 brd ff:ff:ff:ff:ff:ff\n    inet 10.0.0.5/24 brd 10.0.0.255 scope global br0\n    inet6 fe80::1/64 scope link\n\
            ==secondary br0\n    inet 10.0.0.6/24 brd 10.0.0.255 scope global secondary br0:1\n==local\nlocal 10.0.0.5 dev br0 table local proto kernel scope host src 10.0.0.5\n";
        let f = facts(out);
        let br = &f["ansible_br0"];
        assert_eq!(br["type"], "bridge");
        assert_eq!(br["promisc"], true);
        assert_eq!(br["mtu"], 9000);
        assert_eq!(br["ipv4"]["network"], "10.0.0.0");
        assert_eq!(br["ipv4"]["netmask"], "255.255.255.0");
        assert_eq!(br["ipv4_secondaries"][0]["address"], "10.0.0.6");
        assert_eq!(br["ipv6"][0]["scope"], "link");
        let d = &f["ansible_default_ipv4"];
        assert_eq!(d["gateway"], "10.0.0.1");
        assert_eq!(d["alias"], "br0");
        assert_eq!(d["macaddress"], "52:54:00:12:34:56");
        assert_eq!(f["ansible_default_ipv6"], Value::Object(Map::new()));
        assert_eq!(
            f["ansible_all_ipv4_addresses"],
            serde_json::json!(["10.0.0.5", "10.0.0.6"])
        );
        assert_eq!(f["ansible_locally_reachable_ips"]["ipv4"][0], "10.0.0.5");
    }

    #[test]
    fn utc_from_epoch() {
        assert_eq!(utc_parts(0), (1970, 1, 1, 0, 0, 0));
        assert_eq!(utc_parts(1795777245), (2026, 11, 27, 11, 0, 45));
    }
}
