//! Network facts, read through `ip` and `/sys/class/net` as
//! ansible-core's Linux network collector reads them.

use super::parse::{kv_lines, obj, s, subsections, Facts};
use crate::value::{Map, Value};

impl Facts {
    pub(super) fn network(&mut self, body: &str) {
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
}

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
