//! find — list files on the host by name, age, size, type, mode and
//! content.
//!
//! Arguments:
//!   paths (name, path)     directories to search (required)
//!   patterns (pattern)     shell globs on the base name (or Python regexps
//!                          with use_regex, matched at the start); default all
//!   excludes (exclude)     globs/regexps whose matches are left out
//!   file_type              file (default), directory, link, any
//!   recurse                descend into subdirectories (default false)
//!   depth                  with recurse, how deep (1: direct entries)
//!   hidden                 include names starting with `.` (default false)
//!   follow                 follow symbolic links to directories
//!   age                    `[-]N[smhdw]`: at least this old (negative: at
//!                          most), by age_stamp (mtime default, atime, ctime)
//!   size                   `[-]N[bkmgt]`: at least this big (negative: at most)
//!   contains               Python regexp a line must match (from its start;
//!                          read_whole_file: searched in the whole file)
//!   mode, exact_mode       permission filter (exact by default, else any bit)
//!   get_checksum, checksum_algorithm   add the checksum of regular files
//!   limit                  stop after this many matches
//!
//! Returns: files (a stat-like dict per match: path, mode, isdir, isreg,
//! islnk, uid, gid, pw_name, gr_name, size, mtime, atime, ctime, inode,
//! dev, nlink, …), matched, examined, skipped_paths, msg. Never changes
//! anything.
//!
//! Tested: tests/module_find.rs (patterns, regex, excludes, contains, age,
//! size, hidden, depth, file_type), rerun with a BusyBox userland
//! (tests/module_busybox.rs) and in the BusyBox SSH playbook
//! (tests/ssh_busybox.rs); compared with ansible-playbook in run
//! conformance case 32.

use std::time::{SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use md5::Md5;
use sha1::Sha1;
use sha2::{Digest, Sha224, Sha256, Sha384, Sha512};

use super::pyre;
use crate::api::{shell_quote, ExecOptions, HostError, Map, Module, ModuleContext, Outcome, Value};
use crate::args::{apply_symbolic_mode, Param, Spec};

pub struct Find;

static SPEC: Spec = Spec {
    module: "find",
    params: &[
        Param::list("paths").required().aliases(&["name", "path"]),
        Param::list("patterns").aliases(&["pattern"]),
        Param::list("excludes").aliases(&["exclude"]),
        Param::str("contains"),
        Param::bool("read_whole_file").default("false"),
        Param::str("file_type")
            .default("file")
            .choices(&["any", "directory", "file", "link"]),
        Param::str("age"),
        Param::str("age_stamp")
            .default("mtime")
            .choices(&["atime", "ctime", "mtime"]),
        Param::str("size"),
        Param::bool("recurse").default("false"),
        Param::bool("hidden").default("false"),
        Param::bool("follow").default("false"),
        Param::bool("get_checksum").default("false"),
        Param::str("checksum_algorithm")
            .default("sha1")
            .aliases(&["checksum", "checksum_algo"])
            .choices(&["md5", "sha1", "sha224", "sha256", "sha384", "sha512"]),
        Param::bool("use_regex").default("false"),
        Param::int("depth"),
        Param::str("mode"),
        Param::bool("exact_mode").default("true"),
        Param::str("encoding"),
        Param::int("limit"),
    ],
    mutually_exclusive: &[],
    required_one_of: &[],
};

/// Python's `fnmatch.fnmatch` on POSIX (case-sensitive): `*`, `?`,
/// `[seq]`, `[!seq]`.
pub fn fnmatch(name: &str, pat: &str) -> bool {
    fn go(n: &[char], p: &[char]) -> bool {
        match p.first() {
            None => n.is_empty(),
            Some('*') => (0..=n.len()).any(|i| go(&n[i..], &p[1..])),
            Some('?') => !n.is_empty() && go(&n[1..], &p[1..]),
            Some('[') => {
                let Some(close) = p.iter().skip(2).position(|c| *c == ']').map(|i| i + 2) else {
                    return n.first() == Some(&'[') && go(&n[1..], &p[1..]);
                };
                let Some(&c) = n.first() else { return false };
                let set = &p[1..close];
                let (neg, set) = match set.first() {
                    Some('!') => (true, &set[1..]),
                    _ => (false, set),
                };
                let mut hit = false;
                let mut i = 0;
                while i < set.len() {
                    if i + 2 < set.len() && set[i + 1] == '-' {
                        hit |= set[i] <= c && c <= set[i + 2];
                        i += 3;
                    } else {
                        hit |= set[i] == c;
                        i += 1;
                    }
                }
                hit != neg && go(&n[1..], &p[close + 1..])
            }
            Some(x) => n.first() == Some(x) && go(&n[1..], &p[1..]),
        }
    }
    let n: Vec<char> = name.chars().collect();
    let p: Vec<char> = pat.chars().collect();
    go(&n, &p)
}

/// One entry the host listed.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Entry {
    pub path: String,
    pub raw_mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub owner: String,
    pub group: String,
    pub size: u64,
    pub mtime: u64,
    pub atime: u64,
    pub ctime: u64,
    pub inode: u64,
    pub dev: u64,
    pub nlink: u64,
}

impl Entry {
    fn kind(&self) -> u32 {
        self.raw_mode & 0o170000
    }
    fn base(&self) -> &str {
        self.path.rsplit('/').next().unwrap_or(&self.path)
    }

    /// The result dict, as Ansible's find builds it.
    pub fn to_value(&self) -> Map<String, Value> {
        let mode = self.raw_mode & 0o7777;
        let k = self.kind();
        let mut m = Map::new();
        let bit = |b: u32| Value::Bool(mode & b != 0);
        m.insert("path".into(), self.path.clone().into());
        m.insert("mode".into(), format!("{mode:04o}").into());
        m.insert("isdir".into(), (k == 0o040000).into());
        m.insert("ischr".into(), (k == 0o020000).into());
        m.insert("isblk".into(), (k == 0o060000).into());
        m.insert("isreg".into(), (k == 0o100000).into());
        m.insert("isfifo".into(), (k == 0o010000).into());
        m.insert("islnk".into(), (k == 0o120000).into());
        m.insert("issock".into(), (k == 0o140000).into());
        m.insert("uid".into(), self.uid.into());
        m.insert("gid".into(), self.gid.into());
        m.insert("size".into(), self.size.into());
        m.insert("inode".into(), self.inode.into());
        m.insert("dev".into(), self.dev.into());
        m.insert("nlink".into(), self.nlink.into());
        m.insert("atime".into(), (self.atime as f64).into());
        m.insert("mtime".into(), (self.mtime as f64).into());
        m.insert("ctime".into(), (self.ctime as f64).into());
        m.insert("gr_name".into(), self.group.clone().into());
        m.insert("pw_name".into(), self.owner.clone().into());
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
        m
    }
}

/// Parses the listing: for each entry a metadata line, a newline, the path,
/// a NUL (paths may hold newlines; metadata lines cannot).
pub fn parse_listing(out: &[u8]) -> Vec<Entry> {
    out.split(|b| *b == 0)
        .filter_map(|chunk| {
            let text = String::from_utf8_lossy(chunk);
            let text = text.trim_start_matches('\n');
            let (meta, path) = text.split_once('\n')?;
            let f: Vec<&str> = meta.split(' ').collect();
            if f.len() != 12 {
                return None;
            }
            let n = |i: usize| f[i].parse::<u64>().unwrap_or(0);
            Some(Entry {
                path: path.to_string(),
                raw_mode: u32::from_str_radix(f[0], 16).unwrap_or(0),
                uid: n(1) as u32,
                gid: n(2) as u32,
                owner: f[3].into(),
                group: f[4].into(),
                size: n(5),
                mtime: n(6),
                atime: n(7),
                ctime: n(8),
                inode: n(9),
                dev: n(10),
                nlink: n(11),
            })
        })
        .collect()
}

/// `[-]N[unit]` as find's age and size take it.
fn parse_amount(s: &str, units: &[(char, u64)]) -> Option<i64> {
    let s = s.to_ascii_lowercase();
    let (num, mult) = match s.chars().last() {
        Some(c) if c.is_ascii_alphabetic() => {
            let (_, m) = units.iter().find(|(u, _)| *u == c)?;
            (&s[..s.len() - 1], *m as i64)
        }
        _ => (s.as_str(), 1),
    };
    num.parse::<i64>().ok().map(|n| n * mult)
}

fn digest(algo: &str, data: &[u8]) -> String {
    let bytes: Vec<u8> = match algo {
        "md5" => Md5::digest(data).to_vec(),
        "sha224" => Sha224::digest(data).to_vec(),
        "sha256" => Sha256::digest(data).to_vec(),
        "sha384" => Sha384::digest(data).to_vec(),
        "sha512" => Sha512::digest(data).to_vec(),
        _ => Sha1::digest(data).to_vec(),
    };
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[async_trait]
impl Module for Find {
    fn name(&self) -> &'static str {
        "find"
    }

    fn spec(&self) -> Option<&'static Spec> {
        Some(&SPEC)
    }

    async fn run(&self, ctx: &ModuleContext<'_>) -> Result<Outcome, HostError> {
        let a = match SPEC.parse(ctx).await? {
            Ok(a) => a,
            Err(o) => return Ok(o),
        };
        let use_regex = a.bool_or("use_regex", false);
        let mut patterns = a.list("patterns").unwrap_or_default();
        if patterns.is_empty() {
            patterns.push(if use_regex { ".*" } else { "*" }.to_string());
        }
        let excludes = a.list("excludes").unwrap_or_default();
        let compile_all = |ps: &[String]| -> Result<Vec<fancy_regex::Regex>, String> {
            ps.iter()
                .map(|p| pyre::compile(&format!("^(?:{p})"), false, false))
                .collect()
        };
        let (pat_re, exc_re) = if use_regex {
            match (compile_all(&patterns), compile_all(&excludes)) {
                (Ok(p), Ok(e)) => (p, e),
                (Err(e), _) | (_, Err(e)) => return Ok(Outcome::failed(e)),
            }
        } else {
            (Vec::new(), Vec::new())
        };
        let name_ok = |name: &str| -> bool {
            if use_regex {
                pat_re.iter().any(|r| pyre::search(r, name))
                    && !exc_re.iter().any(|r| pyre::search(r, name))
            } else {
                patterns.iter().any(|p| fnmatch(name, p))
                    && !excludes.iter().any(|e| fnmatch(name, e))
            }
        };
        const AGE: &[(char, u64)] = &[
            ('s', 1),
            ('m', 60),
            ('h', 3600),
            ('d', 86400),
            ('w', 604800),
        ];
        const SIZE: &[(char, u64)] = &[
            ('b', 1),
            ('k', 1 << 10),
            ('m', 1 << 20),
            ('g', 1 << 30),
            ('t', 1 << 40),
        ];
        let age = match a.str("age") {
            None => None,
            Some(s) => match parse_amount(&s, AGE) {
                Some(v) => Some(v),
                None => return Ok(Outcome::failed("failed to process age").with("age", s)),
            },
        };
        let size = match a.str("size") {
            None => None,
            Some(s) => match parse_amount(&s, SIZE) {
                Some(v) => Some(v),
                None => return Ok(Outcome::failed("failed to process size").with("size", s)),
            },
        };
        let limit = a.int("limit");
        if let Some(l) = limit.filter(|l| *l <= 0) {
            return Ok(Outcome::failed(format!(
                "limit cannot be {l} (use None for unlimited)"
            )));
        }
        let mode_filter = match a.str("mode") {
            None => None,
            Some(m) => match u32::from_str_radix(&m, 8) {
                Ok(v) => Some(v & 0o7777),
                Err(_) => match apply_symbolic_mode(0, &m, false) {
                    Ok(v) => Some(v),
                    Err(e) => return Ok(Outcome::failed(e)),
                },
            },
        };
        let exact_mode = a.bool_or("exact_mode", true);
        let contains = match a
            .str("contains")
            .map(|c| pyre::compile(&c, false, false))
            .transpose()
        {
            Ok(c) => c,
            Err(e) => return Ok(Outcome::failed(e)),
        };
        let whole = a.bool_or("read_whole_file", false);
        let file_type = a.str_or("file_type", "file");
        let age_stamp = a.str_or("age_stamp", "mtime");
        let recurse = a.bool_or("recurse", false);
        let checksum = a
            .bool_or("get_checksum", false)
            .then(|| a.str_or("checksum_algorithm", "sha1"));
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0) as i64;
        let mut files = Vec::new();
        let mut skipped = Map::new();
        let mut examined = 0usize;
        let mut msg = "All paths examined".to_string();
        'paths: for root in a.list("paths").unwrap_or_default() {
            let is_dir = ctx
                .host
                .stat(&root, true)
                .await?
                .is_some_and(|s| s.kind == "directory");
            if !is_dir {
                let m = format!("'{root}' is not a directory");
                skip_path(&mut msg, &mut skipped, &root, &m);
                continue;
            }
            let depth = match (recurse, a.int("depth")) {
                (false, _) => " -maxdepth 1".to_string(),
                (true, Some(d)) if d > 0 => format!(" -maxdepth {d}"),
                _ => String::new(),
            };
            let follow = if a.bool_or("follow", false) {
                "-L "
            } else {
                ""
            };
            let cmd = format!(
                "find {follow}{} -mindepth 1{depth} -exec sh -c 'for f; do stat -c \"%f %u %g %U %G %s %Y %X %Z %i %d %h\" -- \"$f\" && printf \"%s\\0\" \"$f\"; done' sh {{}} +",
                shell_quote(&root)
            );
            let r = ctx.host.exec(&cmd, &ExecOptions::default()).await?;
            if r.rc != 0 && !r.stderr.is_empty() {
                skipped.insert(root.clone(), r.stderr_text().trim().to_string().into());
            }
            let entries = parse_listing(&r.stdout);
            examined += entries.len();
            for e in entries {
                if e.base().starts_with('.') && !a.bool_or("hidden", false) {
                    continue;
                }
                let kind = e.kind();
                let type_ok = match file_type.as_str() {
                    "any" => true,
                    "directory" => kind == 0o040000,
                    "link" => kind == 0o120000,
                    _ => kind == 0o100000,
                };
                if !type_ok || !name_ok(e.base()) {
                    continue;
                }
                if let Some(age) = age {
                    let t = match age_stamp.as_str() {
                        "atime" => e.atime,
                        "ctime" => e.ctime,
                        _ => e.mtime,
                    } as i64;
                    let old = now - t;
                    if !((age >= 0 && old >= age) || (age < 0 && old <= -age)) {
                        continue;
                    }
                }
                if let Some(m) = mode_filter {
                    let have = e.raw_mode & 0o7777;
                    if (exact_mode && have != m) || (!exact_mode && have & m == 0) {
                        continue;
                    }
                }
                let is_reg = kind == 0o100000;
                if let Some(size) = size.filter(|_| is_reg) {
                    let s = e.size as i64;
                    if !((size >= 0 && s >= size) || (size < 0 && s <= -size)) {
                        continue;
                    }
                }
                let needs_content =
                    is_reg && (checksum.is_some() || (contains.is_some() && file_type == "file"));
                let data = if needs_content {
                    ctx.host.read_file(&e.path).await?
                } else {
                    None
                };
                if let (Some(re), "file") = (&contains, file_type.as_str()) {
                    let text = String::from_utf8_lossy(data.as_deref().unwrap_or(&[])).into_owned();
                    let hit = if whole {
                        pyre::search(re, &text)
                    } else {
                        text.split_inclusive('\n').any(|l| {
                            let l = l.strip_suffix('\n').unwrap_or(l);
                            matches!(re.find(l), Ok(Some(m)) if m.start() == 0)
                        })
                    };
                    if !hit {
                        continue;
                    }
                }
                let mut v = e.to_value();
                if let (Some(algo), true) = (&checksum, is_reg) {
                    v.insert(
                        "checksum".into(),
                        digest(algo, data.as_deref().unwrap_or(&[])).into(),
                    );
                }
                files.push(Value::Object(v));
                if limit.is_some_and(|l| files.len() as i64 == l) {
                    msg = "Limit of matches reached".into();
                    break 'paths;
                }
            }
        }
        let mut out = Outcome::ok()
            .with("matched", files.len())
            .with("files", files)
            .with("examined", examined)
            .with("skipped_paths", skipped.clone());
        for (p, m) in &skipped {
            out.warnings.push(format!(
                "Skipped '{p}' path due to this access issue: {}\n",
                m.as_str().unwrap_or("")
            ));
        }
        out.msg = Some(msg);
        Ok(out)
    }
}

fn skip_path(msg: &mut String, skipped: &mut Map<String, Value>, path: &str, m: &str) {
    skipped.insert(path.to_string(), m.into());
    *msg = "Not all paths examined, check warnings for details".into();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(fnmatch("a.txt", "*.txt"));
        assert!(!fnmatch("a.txt", "*.log"));
        assert!(fnmatch("a1", "a[0-9]"));
        assert!(!fnmatch("ab", "a[!b]"));
        assert!(fnmatch("a?", "a[?]"));
        assert!(fnmatch("x", "?"));
    }

    #[test]
    fn amounts() {
        assert_eq!(parse_amount("2d", &[('d', 86400)]), Some(172800));
        assert_eq!(parse_amount("-10", &[]), Some(-10));
        assert_eq!(parse_amount("2q", &[('d', 1)]), None);
    }

    #[test]
    fn listing() {
        let out = b"81a4 1 2 u g 5 10 11 12 13 14 1\n/a/b\nc\0";
        let e = parse_listing(out);
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].path, "/a/b\nc");
        assert_eq!(e[0].raw_mode & 0o7777, 0o644);
        assert_eq!(e[0].size, 5);
    }
}
