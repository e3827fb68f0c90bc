//! stat — facts about a path on the host.
//!
//! Arguments:
//!   path (dest, name)     the path (required)
//!   follow                follow a symbolic link (default false)
//!   get_checksum          checksum a regular file (default true)
//!   checksum_algorithm (checksum, checksum_algo)
//!                         md5, sha1 (default), sha224, sha256, sha384, sha512
//!   get_mime (mime, mime_type, mime-type)
//!                         mimetype and charset, with file(1) (default true)
//!   get_attributes (attr, attributes)
//!                         attributes, attr_flags and version, with
//!                         lsattr(1) where present (default true)
//!
//! Returns `stat`: exists, and for an existing path path, mode ('0644'),
//! isdir, isreg, islnk, ischr, isblk, isfifo, issock, uid, gid, pw_name,
//! gr_name, size, mtime, atime, ctime, inode, dev, nlink, blocks,
//! block_size, device_type, wusr/rusr/xusr, wgrp/rgrp/xgrp, woth/roth/xoth,
//! isuid, isgid, readable, writeable, executable, checksum, lnk_source and
//! lnk_target (links), mimetype and charset, attributes, attr_flags and
//! version. Never changes anything.
//!
//! Unless asked for by name (`get_checksum: true`, …), the checksum, the
//! mime type and the attributes are each left out (and their command not
//! run) when nothing can read them: the result is not registered or
//! shown, or the playbook's project reads only other keys of the
//! registered result (see docs/architecture.md).
//!
//! Tested: tests/module_stat.rs (every field, checksums, follow, mime,
//! missing path), rerun with a BusyBox userland (tests/module_busybox.rs)
//! and in the BusyBox SSH playbook (tests/ssh_busybox.rs); compared with
//! ansible-playbook in run conformance cases 15 and 32.

use async_trait::async_trait;

use crate::api::{
    shell_quote, ExecOptions, FileStat, HostError, Map, Module, ModuleContext, Outcome, Value,
    STAT_FORMAT,
};
use crate::args::{Param, Spec};

pub struct Stat;

static SPEC: Spec = Spec {
    module: "stat",
    params: &[
        Param::path("path").required().aliases(&["dest", "name"]),
        Param::bool("follow").default("false"),
        Param::bool("get_checksum").default("true"),
        Param::str("checksum_algorithm")
            .default("sha1")
            .aliases(&["checksum", "checksum_algo"])
            .choices(&["md5", "sha1", "sha224", "sha256", "sha384", "sha512"]),
        Param::bool("get_mime")
            .default("true")
            .aliases(&["mime", "mime_type", "mime-type"]),
        Param::bool("get_attributes")
            .default("true")
            .aliases(&["attr", "attributes"]),
        Param::bool("get_md5"),
    ],
    mutually_exclusive: &[],
    required_one_of: &[],
};

/// The fields that come straight from the host's metadata; pure.
pub fn stat_dict(path: &str, st: &FileStat) -> Map<String, Value> {
    let mut m = Map::new();
    let mode = st.mode;
    let kind = st.kind.as_str();
    let bit = |b: u32| Value::Bool(mode & b != 0);
    m.insert("exists".into(), true.into());
    m.insert("path".into(), path.into());
    m.insert("mode".into(), format!("{mode:04o}").into());
    m.insert("isdir".into(), (kind == "directory").into());
    m.insert("ischr".into(), (kind == "char").into());
    m.insert("isblk".into(), (kind == "block").into());
    m.insert("isreg".into(), (kind == "file").into());
    m.insert("isfifo".into(), (kind == "fifo").into());
    m.insert("islnk".into(), (kind == "link").into());
    m.insert("issock".into(), (kind == "socket").into());
    m.insert("uid".into(), st.uid.into());
    m.insert("gid".into(), st.gid.into());
    m.insert("size".into(), st.size.into());
    m.insert("mtime".into(), st.mtime.into());
    m.insert("wusr".into(), bit(0o200));
    m.insert("rusr".into(), bit(0o400));
    m.insert("xusr".into(), bit(0o100));
    m.insert("wgrp".into(), bit(0o020));
    m.insert("rgrp".into(), bit(0o040));
    m.insert("xgrp".into(), bit(0o010));
    m.insert("woth".into(), bit(0o002));
    m.insert("roth".into(), bit(0o004));
    m.insert("xoth".into(), bit(0o001));
    m.insert("isuid".into(), bit(0o4000));
    m.insert("isgid".into(), bit(0o2000));
    m.insert("pw_name".into(), st.owner.clone().into());
    m.insert("gr_name".into(), st.group.clone().into());
    if let Some(t) = &st.link_target {
        m.insert("lnk_target".into(), t.clone().into());
    }
    m
}

/// A shell script printing NUL-separated `key=value` fields for what the
/// metadata lacks: times, inode, link count, access, checksum, mime type,
/// file attributes.
fn extras_script(path: &str, follow: bool, algo: Option<&str>, mime: bool, attrs: bool) -> String {
    let p = shell_quote(path);
    let l = if follow { "-L " } else { "" };
    // Nothing is started for a missing path (a dangling link followed is
    // missing, as Ansible finds it). One stat(1) prints the metadata
    // Host::stat reads, then the rest, straight to the output (its line
    // ends in a newline): no command substitution, so no fork of the
    // shell.
    let there = if follow {
        "[ -e \"$p\" ]"
    } else {
        "[ -e \"$p\" ] || [ -L \"$p\" ]"
    };
    let mut s = format!(
        "p={p}; if {there}; then printf 'exists=1\\0'; \
         printf 'stat='; stat {l}-c '{STAT_FORMAT}|%X %Z %i %d %h %b %o %t %T' -- \"$p\" 2>/dev/null; printf '\\0'; \
         [ -r \"$p\" ] && printf 'readable=1\\0'; [ -w \"$p\" ] && printf 'writeable=1\\0'; \
         [ -x \"$p\" ] && printf 'executable=1\\0'; "
    );
    if !follow {
        s.push_str(
            "[ -L \"$p\" ] && printf 'lnk=%s\\0real=%s\\0' \"$(readlink -- \"$p\")\" \"$(readlink -f -- \"$p\")\"; ",
        );
    }
    if let Some(a) = algo {
        // Of a regular file only: not of a link that is not followed.
        let regular = if follow {
            "[ -f \"$p\" ]"
        } else {
            "[ -f \"$p\" ] && [ ! -L \"$p\" ]"
        };
        s.push_str(&format!(
            "{regular} && [ -r \"$p\" ] && z=$({a}sum < \"$p\") && printf 'sum=%s\\0' \"${{z%% *}}\"; "
        ));
    }
    if attrs {
        s.push_str(
            "command -v lsattr >/dev/null 2>&1 && printf 'lsattr=%s\\0' \"$(lsattr -vd -- \"$p\" 2>/dev/null)\"; ",
        );
    }
    if mime {
        s.push_str(
            "command -v file >/dev/null 2>&1 && printf 'mime=%s\\0' \"$(file -b --mime -- \"$p\" 2>/dev/null)\"; ",
        );
    }
    s.push_str("fi; true");
    s
}

/// The name Ansible gives a chattr(1) flag.
fn attribute_name(flag: char) -> Option<&'static str> {
    Some(match flag {
        'A' => "noatime",
        'a' => "append",
        'c' => "compressed",
        'C' => "nocow",
        'd' => "nodump",
        'D' => "dirsync",
        'e' => "extents",
        'E' => "encrypted",
        'h' => "blocksize",
        'i' => "immutable",
        'I' => "indexed",
        'j' => "journalled",
        'N' => "inline",
        's' => "zero",
        'S' => "synchronous",
        't' => "notail",
        'T' => "blockroot",
        'u' => "undelete",
        'X' => "compressedraw",
        'Z' => "compresseddirty",
        _ => return None,
    })
}

/// Adds the extra fields from the script's output; pure.
pub fn add_extras(m: &mut Map<String, Value>, output: &[u8]) {
    for field in output.split(|b| *b == 0) {
        let field = String::from_utf8_lossy(field);
        let Some((k, v)) = field.split_once('=') else {
            continue;
        };
        match k {
            "stat" => {
                // After the seven fields of the metadata.
                let v = v.splitn(8, '|').nth(7).unwrap_or(v);
                let n: Vec<&str> = v.split_whitespace().collect();
                if n.len() == 9 {
                    let num = |s: &str| s.parse::<u64>().unwrap_or(0);
                    m.insert("atime".into(), (num(n[0]) as f64).into());
                    m.insert("ctime".into(), (num(n[1]) as f64).into());
                    m.insert("inode".into(), num(n[2]).into());
                    m.insert("dev".into(), num(n[3]).into());
                    m.insert("nlink".into(), num(n[4]).into());
                    m.insert("blocks".into(), num(n[5]).into());
                    // The I/O block size (st_blksize), as Python reports it.
                    m.insert("block_size".into(), num(n[6]).into());
                    let major = u64::from_str_radix(n[7], 16).unwrap_or(0);
                    let minor = u64::from_str_radix(n[8], 16).unwrap_or(0);
                    m.insert("device_type".into(), ((major << 8) | minor).into());
                }
            }
            "readable" | "writeable" | "executable" => {
                m.insert(k.into(), true.into());
            }
            "real" => {
                m.insert("lnk_source".into(), v.into());
            }
            "sum" if !v.is_empty() => {
                m.insert("checksum".into(), v.into());
            }
            // `file -b --mime`: "TYPE; charset=CHARSET". Without a
            // charset (a dangling link's "inode/symlink") Ansible keeps
            // both unknown.
            "mime" => {
                if let Some((kind, charset)) = v.split_once("; charset=") {
                    m.insert("mimetype".into(), kind.into());
                    m.insert("charset".into(), charset.into());
                }
            }
            // `lsattr -vd PATH`: "VERSION FLAGS PATH".
            "lsattr" => {
                let mut fields = v.split_whitespace();
                if let (Some(version), Some(flags)) = (fields.next(), fields.next()) {
                    let flags: String = flags.chars().filter(|c| *c != '-').collect();
                    let names: Vec<Value> = flags
                        .chars()
                        .filter_map(attribute_name)
                        .map(Value::from)
                        .collect();
                    m.insert("version".into(), version.into());
                    m.insert("attr_flags".into(), flags.into());
                    m.insert("attributes".into(), names.into());
                }
            }
            _ => {}
        }
    }
    for k in ["readable", "writeable", "executable"] {
        m.entry(k).or_insert(false.into());
    }
}

#[async_trait]
impl Module for Stat {
    fn name(&self) -> &'static str {
        "stat"
    }

    fn spec(&self) -> Option<&'static Spec> {
        Some(&SPEC)
    }

    async fn run(&self, ctx: &ModuleContext<'_>) -> Result<Outcome, HostError> {
        let a = match SPEC.parse(ctx).await? {
            Ok(a) => a,
            Err(o) => return Ok(o),
        };
        let path = a.str_or("path", "");
        let follow = a.bool_or("follow", false);
        // By default, what nothing reads is not looked for (each of the
        // costly extras starts a process); asked for by name, it is,
        // whenever the result is seen.
        let wanted = |arg: &str, keys: &[&str]| match a.bool(arg) {
            Some(asked) => asked && ctx.result_seen,
            None => keys.iter().any(|k| ctx.reads(&["stat", k])),
        };
        let algo = a.str_or("checksum_algorithm", "sha1");
        let algo = wanted("get_checksum", &["checksum"]).then_some(algo.as_str());
        let mime = wanted("get_mime", &["mimetype", "charset"]);
        let attrs = wanted("get_attributes", &["attributes", "attr_flags", "version"]);
        let script = extras_script(&path, follow, algo, mime, attrs);
        // The metadata and the extras in one request, from one stat(1);
        // one of herd's own scripts (it sets only `p` and `z`).
        let r = ctx.host.exec(&script, &ExecOptions::own()).await?;
        let field = |key: &str| {
            r.stdout
                .split(|b| *b == 0)
                .find_map(|f| f.strip_prefix(format!("{key}=").as_bytes()))
                .map(|v| String::from_utf8_lossy(v).into_owned())
        };
        let base = field("stat").and_then(|line| {
            let cut = line.match_indices('|').nth(6)?.0;
            Some(line[..cut].to_string())
        });
        let st = match (field("exists"), base) {
            (None, _) => None,
            (Some(_), Some(base)) => Some(FileStat::parse(
                &path,
                &base,
                &field("lnk").unwrap_or_default(),
            )?),
            // No stat command: the metadata as Host::stat finds it.
            (Some(_), None) => ctx.host.stat(&path, follow).await?,
        };
        let Some(st) = st else {
            let mut m = Map::new();
            m.insert("exists".into(), false.into());
            return Ok(Outcome::ok().with("stat", m));
        };
        let mut m = stat_dict(&path, &st);
        add_extras(&mut m, &r.stdout);
        if mime {
            // As Ansible reports when file(1) cannot tell.
            for k in ["mimetype", "charset"] {
                m.entry(k).or_insert("unknown".into());
            }
        }
        if attrs {
            // As Ansible reports when lsattr fails (a link, a file system
            // without attributes).
            m.entry("version").or_insert(Value::Null);
            m.entry("attributes").or_insert(Value::Array(Vec::new()));
            m.entry("attr_flags").or_insert("".into());
        }
        Ok(Outcome::ok().with("stat", m))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dict_from_metadata_and_extras() {
        let st = FileStat {
            kind: "file".into(),
            mode: 0o4755,
            owner: "root".into(),
            ..FileStat::default()
        };
        let mut m = stat_dict("/x", &st);
        assert_eq!(m["mode"], "4755");
        assert_eq!(m["isuid"], true);
        assert_eq!(m["woth"], false);
        add_extras(
            &mut m,
            b"stat=81ed|0|0|root|root|9|1|1 2 3 4 5 6 4096 0 0\0readable=1\0sum=abc\0mime=inode/symlink\0",
        );
        assert_eq!(m["inode"], 3);
        assert_eq!(m["readable"], true);
        assert_eq!(m["writeable"], false);
        assert_eq!(m["checksum"], "abc");
        assert!(!m.contains_key("charset") && !m.contains_key("mimetype"));
    }
}
