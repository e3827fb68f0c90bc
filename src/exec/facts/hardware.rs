//! Hardware facts (Linux `/proc` and `/sys`, BSD `sysctl` fallbacks):
//! processors, memory, uptime, DMI names, mounts.

use super::parse::{kv_lines, obj, s, subsections, Facts};
use crate::value::{Map, Value};

impl Facts {
    pub(super) fn hardware(&mut self, body: &str) {
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
        self.lvm(&get("lvm"), &get("vgs"), &get("lvs"), &get("pvs"));
        self.mounts(
            &get("mtab"),
            &get("statvfs"),
            &get("findmnt"),
            &get("lsblk"),
        );
    }

    /// `vgs`/`lvs`/`pvs` as root; `N/A` without LVM tools or root.
    fn lvm(&mut self, head: &[&str], vgs: &[&str], lvs: &[&str], pvs: &[&str]) {
        if head.first().map(|l| l.trim()) != Some("root") {
            self.put("lvm", s("N/A"));
            return;
        }
        let rows = |lines: &[&str]| -> Vec<Vec<String>> {
            lines
                .iter()
                .map(|l| l.trim())
                .filter(|l| !l.is_empty())
                .map(|l| l.split(',').map(str::to_string).collect::<Vec<_>>())
                .collect()
        };
        let at = |r: &Vec<String>, i: usize| s(r.get(i).map(String::as_str).unwrap_or(""));
        let mut vg = Map::new();
        for r in rows(vgs).iter().filter(|r| r.len() >= 3) {
            let n = r.len();
            vg.insert(
                r[0].clone(),
                obj([
                    ("size_g", at(r, n - 2)),
                    ("free_g", at(r, n - 1)),
                    ("num_lvs", at(r, 2)),
                    ("num_pvs", at(r, 1)),
                ]),
            );
        }
        let mut lv = Map::new();
        for r in rows(lvs).iter().filter(|r| r.len() >= 4) {
            lv.insert(r[0].clone(), obj([("size_g", at(r, 3)), ("vg", at(r, 1))]));
        }
        let mut pv = Map::new();
        for r in rows(pvs).iter().filter(|r| r.len() >= 6) {
            pv.insert(
                r[0].clone(),
                obj([("size_g", at(r, 4)), ("free_g", at(r, 5)), ("vg", at(r, 1))]),
            );
        }
        self.put(
            "lvm",
            obj([
                ("lvs", Value::Object(lv)),
                ("vgs", Value::Object(vg)),
                ("pvs", Value::Object(pv)),
            ]),
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
            let probe = statvfs
                .iter()
                .find_map(|l| l.strip_prefix(mnt_raw)?.strip_prefix(' '));
            if probe == Some("@timeout") {
                self.warnings.push(format!(
                    "Timeout exceeded when getting mount info for {mount}"
                ));
                m.insert(
                    "note".into(),
                    s("Could not get extra information due to timeout"),
                );
                out.push(Value::Object(m));
                continue;
            }
            let st: Option<Vec<u64>> = probe
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
