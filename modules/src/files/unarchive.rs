//! unarchive — unpack a tar or zip archive into an existing directory.
//!
//! The archive is a controller file (looked up like other controller
//! files, pushed in chunks to a private temporary directory on the host
//! and removed afterwards) or, with `remote_src: yes`, a path on the host
//! or a URL the host downloads with curl or wget. The host needs Info-ZIP's
//! `unzip` and `zipinfo` for zip files, and GNU tar (or BusyBox tar) for
//! tar, tar.gz, tar.bz2, tar.xz and tar.zst; the handler is chosen as
//! Ansible chooses it (zip first, then each tar compression).
//!
//! Whether anything changes comes from comparing the archive with what is
//! in `dest`, as Ansible's module does: `tar --diff` for GNU tar (its
//! differences filtered the same way), and for zip (and BusyBox tar, which
//! has no `--diff`) the archive's listing against each path's type, size,
//! mtime, content, permissions and owner. Only then is it extracted. In
//! check mode a zip reports what would change; a tar task is skipped, as
//! in Ansible.
//!
//! Tested: absent, extracted again, drift, check mode, list_files,
//! exclude, include, creates, mode, controller and host sources, argument
//! and archive errors, each step compared with ansible's unarchive
//! (tests/module_unarchive.rs); state by state through the module API with
//! GNU tar and again with BusyBox tar (tests/module_busybox.rs), and over
//! SSH as a BusyBox user (tests/ssh_busybox.rs).
//!
//! Arguments:
//!   src              the archive: on the controller, or with remote_src on
//!                    the host (a path or a URL) (required)
//!   dest             an existing directory on the host (required)
//!   remote_src       src is on the host (default no)
//!   copy             the older, inverted spelling of remote_src
//!   creates          a path on the host: if it exists, skip the task
//!   list_files       return the archive's file names in `files`
//!   exclude          names or shell patterns to leave out
//!   include          only these names or patterns (not with exclude)
//!   keep_newer       do not replace files newer than the archive's
//!   extra_opts       more options for tar or unzip
//!   mode, owner, group  set on every extracted path
//!   validate_certs   check the URL's TLS certificate (default yes)
//!   decrypt, io_buffer_size  accepted
//!
//! Returns: handler (TgzArchive, TarArchive, TarBzipArchive, TarXzArchive,
//! TarZstdArchive, ZipArchive), dest, src, extract_results
//! (cmd, rc, out, err), files (with list_files), and dest's mode, owner,
//! group, uid, gid, size and state.

use async_trait::async_trait;

use super::common::{attr_change, attr_commands, Attrs};
use super::find::fnmatch;
use crate::api::{
    shell_quote, ExecOptions, ExecResult, FileStat, Host, HostError, Map, Module, ModuleContext,
    Outcome, Value,
};
use crate::args::{apply_symbolic_mode, Mode, Param, Spec};
use crate::file_spec;

pub struct Unarchive;

static SPEC: Spec = file_spec!(
    "unarchive",
    [
        Param::path("src").required(),
        Param::path("dest").required(),
        Param::bool("remote_src").default("false"),
        Param::path("creates"),
        Param::bool("list_files").default("false"),
        Param::bool("keep_newer").default("false"),
        Param::list("exclude"),
        Param::list("include"),
        Param::list("extra_opts"),
        Param::bool("validate_certs").default("true"),
        Param::int("io_buffer_size").default("65536"),
        Param::bool("copy").default("true"),
        Param::bool("decrypt").default("true"),
    ],
    &[&["include", "exclude"]],
    &[]
);

/// The tar compressions Ansible tries, in its order: the flag and the
/// handler's name.
const TAR_KINDS: &[(Option<&str>, &str)] = &[
    (Some("-z"), "TgzArchive"),
    (None, "TarArchive"),
    (Some("-j"), "TarBzipArchive"),
    (Some("-J"), "TarXzArchive"),
    (Some("--use-compress-program=zstd"), "TarZstdArchive"),
];

/// How the archive is read.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Handler {
    /// Info-ZIP: `unzip`, and the zipinfo command (`zipinfo`, or
    /// `unzip -Zl` for ZipZArchive).
    Zip {
        name: &'static str,
        unzip: String,
        zipinfo: Vec<String>,
    },
    /// GNU tar (`busybox: false`) or BusyBox tar, with its compression flag.
    Tar {
        name: &'static str,
        tar: String,
        flag: Option<&'static str>,
        busybox: bool,
    },
}

impl Handler {
    fn name(&self) -> &'static str {
        match self {
            Handler::Zip { name, .. } | Handler::Tar { name, .. } => name,
        }
    }
}

/// What the task asked for, validated.
struct Job {
    src: String,
    dest: String,
    exclude: Vec<String>,
    include: Vec<String>,
    extra_opts: Vec<String>,
    keep_newer: bool,
    attrs: Attrs,
}

/// What the host offers: tools, the user it runs as, its umask.
#[derive(Default)]
struct Tools {
    unzip: String,
    zipinfo: String,
    tar: String,
    tar_version: String,
    uid: u32,
    user: String,
    umask: u32,
}

/// Tar and unzip read their messages in the C locale, so the `--diff`
/// output can be parsed.
fn c_locale() -> ExecOptions {
    ExecOptions {
        env: ["LANG", "LC_ALL", "LC_MESSAGES", "LANGUAGE"]
            .iter()
            .map(|k| (k.to_string(), "C".to_string()))
            .collect(),
        ..ExecOptions::default()
    }
}

fn quote_argv(argv: &[String]) -> String {
    argv.iter()
        .map(|s| shell_quote(s))
        .collect::<Vec<_>>()
        .join(" ")
}

async fn run_argv(
    host: &dyn Host,
    argv: &[String],
    cwd: Option<&str>,
) -> Result<ExecResult, HostError> {
    let opts = ExecOptions {
        chdir: cwd.map(str::to_string),
        ..c_locale()
    };
    host.exec(&quote_argv(argv), &opts).await
}

fn strings(words: &[&str]) -> Vec<String> {
    words.iter().map(|w| w.to_string()).collect()
}

async fn probe_tools(host: &dyn Host) -> Result<Tools, HostError> {
    let r = host
        .exec(
            "printf 'unzip=%s\\n' \"$(command -v unzip)\"; \
             printf 'zipinfo=%s\\n' \"$(command -v zipinfo)\"; \
             t=$(command -v gtar || command -v tar); printf 'tar=%s\\n' \"$t\"; \
             [ -n \"$t\" ] && printf 'tarv=%s\\n' \"$(\"$t\" --version 2>&1 | head -n 1)\"; \
             printf 'uid=%s\\nuser=%s\\numask=%s\\n' \"$(id -u)\" \"$(id -un)\" \"$(umask)\"",
            &c_locale(),
        )
        .await?;
    let mut t = Tools::default();
    for line in r.stdout_text().lines() {
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        let v = v.to_string();
        match k {
            "unzip" => t.unzip = v,
            "zipinfo" => t.zipinfo = v,
            "tar" => t.tar = v,
            "tarv" => t.tar_version = v,
            "uid" => t.uid = v.trim().parse().unwrap_or(u32::MAX),
            "user" => t.user = v,
            "umask" => t.umask = u32::from_str_radix(v.trim(), 8).unwrap_or(0o022),
            _ => {}
        }
    }
    Ok(t)
}

/// The names in a tar listing, as Ansible reads them: GNU tar's octal
/// escapes decoded, a leading `/` dropped, excluded names left out.
fn tar_names(listing: &str, exclude: &[String]) -> Vec<String> {
    listing
        .lines()
        .map(|l| {
            let name = unescape_octal(l);
            name.strip_prefix('/').map(str::to_string).unwrap_or(name)
        })
        .filter(|n| !exclude.iter().any(|e| fnmatch(n, e)))
        .collect()
}

/// GNU tar writes unprintable bytes of names as `\ooo` and a backslash as
/// `\\`; this is the name back (Python's `codecs.escape_decode` of them).
fn unescape_octal(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 1 < b.len() {
            let oct = b[i + 1..]
                .iter()
                .take(3)
                .take_while(|c| (b'0'..=b'7').contains(c))
                .count();
            if oct > 0 {
                let text = &s[i + 1..i + 1 + oct];
                out.push(u8::from_str_radix(text, 8).unwrap_or(b'?'));
                i += 1 + oct;
                continue;
            }
            let esc = match b[i + 1] {
                b'\\' => Some(b'\\'),
                b'n' => Some(b'\n'),
                b't' => Some(b'\t'),
                b'r' => Some(b'\r'),
                _ => None,
            };
            if let Some(c) = esc {
                out.push(c);
                i += 2;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The tar options shared by listing, comparing and extracting.
fn tar_argv(h: &Handler, job: &Job, action: &str, with_attrs: bool) -> Vec<String> {
    let Handler::Tar {
        tar, flag, busybox, ..
    } = h
    else {
        return Vec::new();
    };
    // BusyBox tar knows only the short spellings (GNU tar knows both).
    let action = if *busybox {
        match action {
            "--list" => "-t",
            "--extract" => "-x",
            other => other,
        }
    } else {
        action
    };
    let mut cmd = vec![
        tar.clone(),
        action.to_string(),
        "-C".into(),
        job.dest.clone(),
    ];
    if let Some(f) = flag {
        cmd.push(f.to_string());
    }
    if !job.extra_opts.is_empty() {
        if !*busybox {
            cmd.push("--show-transformed-names".into());
        }
        cmd.extend(job.extra_opts.iter().cloned());
    }
    if with_attrs && !*busybox {
        if let Some(o) = &job.attrs.owner {
            cmd.push(format!("--owner={}", shell_quote(o)));
        }
        if let Some(g) = &job.attrs.group {
            cmd.push(format!("--group={}", shell_quote(g)));
        }
        if job.keep_newer {
            cmd.push("--keep-newer-files".into());
        }
    }
    // BusyBox tar has no --exclude: its listings are filtered here, and an
    // extraction with exclude is refused before it starts.
    if !*busybox {
        for e in &job.exclude {
            cmd.push(format!("--exclude={e}"));
        }
    }
    cmd.push("-f".into());
    cmd.push(job.src.clone());
    cmd.extend(job.include.iter().cloned());
    cmd
}

/// Picks the handler as Ansible does, or the reasons none fits.
async fn pick_handler(
    host: &dyn Host,
    job: &Job,
    tools: &Tools,
    check_mode: bool,
) -> Result<Result<(Handler, Vec<String>), Picked>, HostError> {
    let mut reasons: Vec<String> = Vec::new();
    let mut add = |r: String| {
        if !reasons.contains(&r) {
            reasons.push(r);
        }
    };
    // Zip: Info-ZIP's unzip and zipinfo.
    if tools.unzip.is_empty() || tools.zipinfo.is_empty() {
        let missing = match (tools.unzip.is_empty(), tools.zipinfo.is_empty()) {
            (true, true) => "unzip' or 'zipinfo",
            (true, false) => "unzip",
            _ => "zipinfo",
        };
        add(format!(
            "Unable to find required '{missing}' binary in the path."
        ));
    } else {
        let r = run_argv(
            host,
            &[tools.unzip.clone(), "-l".into(), job.src.clone()],
            None,
        )
        .await?;
        if r.rc != 0 {
            add(format!(
                "Command \"{}\" could not handle archive: {}",
                tools.unzip,
                r.stderr_text()
            ));
        } else {
            let h = Handler::Zip {
                name: "ZipArchive",
                unzip: tools.unzip.clone(),
                zipinfo: vec![tools.zipinfo.clone()],
            };
            match zip_names(host, &h, job).await? {
                Ok(n) => return Ok(Ok((h, n))),
                Err(e) => add(e),
            }
        }
    }
    // Ansible's tar handlers refuse check mode as soon as they are tried.
    if check_mode {
        return Ok(Err(Picked::CheckModeTar));
    }
    if tools.tar.is_empty() {
        add("Unable to find required 'gtar' or 'tar' binary in the path".into());
        return Ok(Err(Picked::None(reasons)));
    }
    let v = &tools.tar_version;
    let busybox = v.to_lowercase().contains("busybox");
    let tar_type = if v.starts_with("bsdtar") {
        "bsd"
    } else if v.starts_with("tar") && v.contains("GNU") {
        "gnu"
    } else if busybox {
        "busybox"
    } else {
        "None"
    };
    if tar_type != "gnu" && tar_type != "busybox" {
        add(format!(
            "Command \"{}\" detected as tar type {tar_type}. GNU tar required.",
            tools.tar
        ));
        return Ok(Err(Picked::None(reasons)));
    }
    for (flag, name) in TAR_KINDS {
        // BusyBox tar has no --use-compress-program.
        if busybox && flag.is_some_and(|f| f.starts_with("--")) {
            continue;
        }
        let h = Handler::Tar {
            name,
            tar: tools.tar.clone(),
            flag: *flag,
            busybox,
        };
        let r = run_argv(host, &tar_argv(&h, job, "--list", false), Some(&job.dest)).await?;
        if r.rc != 0 {
            add(format!(
                "Command \"{}\" could not handle archive: Unable to list files in the archive: {}",
                tools.tar,
                r.stderr_text()
            ));
            continue;
        }
        let names = tar_names(&r.stdout_text(), &job.exclude);
        if names.is_empty() {
            add(format!(
                "Command \"{}\" found no files in archive. Empty archive files are not supported.",
                tools.tar
            ));
            continue;
        }
        return Ok(Ok((h, names)));
    }
    Ok(Err(Picked::None(reasons)))
}

/// Why no handler was picked.
enum Picked {
    None(Vec<String>),
    CheckModeTar,
}

/// The names in a zip archive (directories end with `/`), filtered by
/// include or exclude as Ansible filters them.
async fn zip_names(
    host: &dyn Host,
    h: &Handler,
    job: &Job,
) -> Result<Result<Vec<String>, String>, HostError> {
    let Handler::Zip { zipinfo, .. } = h else {
        return Ok(Ok(Vec::new()));
    };
    let mut cmd = zipinfo.clone();
    cmd.push("-1".into());
    cmd.push(job.src.clone());
    let r = run_argv(host, &cmd, None).await?;
    if r.rc != 0 {
        return Ok(Err(format!(
            "Unable to list files in the archive: {}",
            r.stderr_text().trim()
        )));
    }
    let mut out = Vec::new();
    for member in r.stdout_text().lines() {
        if !job.include.is_empty() {
            for inc in &job.include {
                if fnmatch(member, inc) {
                    out.push(member.to_string());
                }
            }
        } else if !job.exclude.iter().any(|e| fnmatch(member, e)) {
            out.push(member.to_string());
        }
    }
    Ok(Ok(out))
}

/// One member of an archive, from its verbose listing.
#[derive(Clone, Debug, PartialEq)]
struct Member {
    name: String,
    /// `d`, `f` or `L`.
    kind: char,
    /// Permission bits as the archive holds them.
    mode: u32,
    size: u64,
    /// Local time, `YYYYMMDD.HHMMSS`.
    mtime: String,
    /// The owner a tar member gets when root extracts it.
    owner: Option<String>,
}

/// Permission letters (`rw-r--r--`) as bits, as Ansible reads them (the
/// set-id letters count as the execute bit only).
fn perm_bits(perms: &str) -> u32 {
    let rev: Vec<char> = perms.chars().rev().collect();
    let mut mode = 0;
    for (i, c) in rev.iter().enumerate().take(9) {
        if matches!(c, 'r' | 'w' | 'x' | 's' | 't') {
            mode |= 1 << i;
        }
    }
    mode
}

/// The members of a `zipinfo -T -s` listing, as Ansible's zip handler
/// reads them (FAT permissions widened and masked by `umask`).
fn parse_zipinfo(listing: &str, umask: u32) -> Vec<Member> {
    let mut out = Vec::new();
    for line in listing.lines() {
        let pcs: Vec<&str> = split_fields(line, 8);
        if pcs.len() != 8 {
            continue;
        }
        let (attr, stamp) = (pcs[0], pcs[6]);
        if ![7, 8, 10].contains(&attr.len()) || stamp.len() != 15 {
            continue;
        }
        let ztype = attr.chars().next().unwrap_or(' ');
        if !"dl-?".contains(ztype) || !attr[1..].chars().all(|c| "rwxstah-".contains(c)) {
            continue;
        }
        let Ok(size) = pcs[3].parse::<u64>() else {
            continue;
        };
        let name = pcs[7].to_string();
        let kind = if name.ends_with('/') {
            'd'
        } else if ztype == 'l' {
            'L'
        } else {
            'f'
        };
        let mut perms = attr[1..].to_string();
        let mut mask = 0;
        if perms.len() == 6 {
            perms = if name.ends_with('/') || perms == "rwx---" {
                "rwxrwxrwx".into()
            } else {
                "rw-rw-rw-".into()
            };
            mask = umask;
        } else if perms.len() == 7 {
            perms = if perms == "rwxa---" {
                "rwxrwxrwx".into()
            } else {
                "rw-rw-rw-".into()
            };
            mask = umask;
        }
        out.push(Member {
            name,
            kind,
            mode: perm_bits(&perms) & !mask,
            size,
            mtime: stamp.to_string(),
            owner: None,
        });
    }
    out
}

/// The members of a BusyBox `tar -tv` listing: `-rw-r--r-- u/g SIZE
/// YYYY-MM-DD HH:MM:SS NAME` (a link's name followed by ` -> target`).
fn parse_tar_verbose(listing: &str, exclude: &[String]) -> Vec<Member> {
    let mut out = Vec::new();
    for line in listing.lines() {
        let pcs = split_fields(line, 6);
        if pcs.len() != 6 || pcs[0].len() != 10 {
            continue;
        }
        let ztype = pcs[0].chars().next().unwrap_or(' ');
        let mut name = pcs[5].to_string();
        if ztype == 'l' {
            if let Some((n, _)) = name.split_once(" -> ") {
                name = n.to_string();
            }
        }
        let name = name.strip_prefix('/').map(str::to_string).unwrap_or(name);
        if exclude.iter().any(|e| fnmatch(&name, e)) {
            continue;
        }
        let kind = match ztype {
            'd' => 'd',
            'l' => 'L',
            '-' => 'f',
            // Devices, fifos and hard links are left to tar itself.
            _ => continue,
        };
        out.push(Member {
            kind,
            mode: perm_bits(&pcs[0][1..]),
            size: pcs[2].parse().unwrap_or(0),
            mtime: format!("{}.{}", pcs[3].replace('-', ""), pcs[4].replace(':', "")),
            owner: pcs[1].split('/').next().map(str::to_string),
            name,
        });
    }
    out
}

/// `line` split on runs of blanks into at most `n` fields, the last one
/// holding the rest as it is (Python's `str.split(None, n - 1)`).
fn split_fields(line: &str, n: usize) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = line.trim_start();
    while !rest.is_empty() {
        if out.len() == n - 1 {
            out.push(rest);
            break;
        }
        match rest.find(char::is_whitespace) {
            Some(i) => {
                out.push(&rest[..i]);
                rest = rest[i..].trim_start();
            }
            None => {
                out.push(rest);
                rest = "";
            }
        }
    }
    out
}

/// What is at a member's path in `dest`.
#[derive(Clone, Debug, Default, PartialEq)]
struct OnDisk {
    kind: char,
    mode: u32,
    size: u64,
    uid: u32,
    gid: u32,
    owner: String,
    group: String,
    mtime: String,
    /// The md5 sum of the file and of the member's content (`md5sum`:
    /// GNU and BusyBox both have it; Debian's BusyBox has no `cksum`).
    sum: String,
    member_sum: String,
}

/// The raw mode of `stat -c %f` (hex) as a kind and permission bits.
fn kind_of(raw: u32) -> (char, u32) {
    let kind = match raw & 0o170000 {
        0o040000 => 'd',
        0o120000 => 'L',
        0o100000 => 'f',
        _ => '?',
    };
    (kind, raw & 0o7777)
}

/// Where a member's content is read from to compare it with the file.
enum Content<'a> {
    /// A command printing one member (`unzip -p SRC`), given its name.
    Command(&'a [String]),
    /// A directory the whole archive was extracted to (one pass over a
    /// compressed tar instead of one per member).
    Dir(&'a str),
}

/// Looks at every member's path in one round trip: `stat` (GNU and
/// BusyBox formats), the local mtime, and for regular files whether the
/// content is the member's (md5 sums, or `cmp` with an extracted copy).
async fn look_at_disk(
    host: &dyn Host,
    dest: &str,
    members: &[Member],
    content: Content<'_>,
) -> Result<Vec<Option<OnDisk>>, HostError> {
    if members.is_empty() {
        return Ok(Vec::new());
    }
    // The names go through stdin, one a line: a long archive stays within
    // the command-line limit. A name holding a newline cannot, and counts
    // as missing (so the archive is extracted).
    let listed: Vec<usize> = (0..members.len())
        .filter(|i| !members[*i].name.contains('\n'))
        .collect();
    let mut input = Vec::new();
    for i in &listed {
        input.extend_from_slice(
            format!("./{}\n", members[*i].name.trim_end_matches('/')).as_bytes(),
        );
    }
    let script = format!(
        "cd {d} || exit 1\nwhile IFS= read -r p; do\n\
         if [ -e \"$p\" ] || [ -L \"$p\" ]; then\n\
         s=$(stat -c '%f|%s|%u|%g|%U|%G' -- \"$p\"); t=; c=; e=\n\
         if [ -f \"$p\" ] && [ ! -L \"$p\" ]; then t=$(date -r \"$p\" +%Y%m%d.%H%M%S); \
         {same}; fi\n\
         printf '%s|%s|%s|%s\\n' \"$s\" \"$t\" \"$c\" \"$e\"\n\
         else printf 'missing\\n'; fi\ndone\n",
        d = shell_quote(dest),
        same = match content {
            Content::Command(x) => format!(
                "c=$(md5sum <\"$p\"); e=$({} \"${{p#./}}\" </dev/null 2>/dev/null | md5sum)",
                quote_argv(x)
            ),
            Content::Dir(dir) => format!(
                "c=same; e=same; cmp -s \"$p\" {}/\"$p\" || c=differ",
                shell_quote(dir)
            ),
        },
    );
    let opts = ExecOptions {
        stdin: Some(input),
        ..c_locale()
    };
    let r = host.exec(&script, &opts).await?;
    if r.rc != 0 {
        return Err(HostError::failed(format!(
            "could not look at {dest}: {}",
            r.stderr_text().trim()
        )));
    }
    let text = r.stdout_text();
    let mut seen = Vec::new();
    for line in text.lines() {
        if line == "missing" {
            seen.push(None);
            continue;
        }
        let f: Vec<&str> = line.split('|').collect();
        if f.len() < 9 {
            seen.push(None);
            continue;
        }
        let (kind, mode) = kind_of(u32::from_str_radix(f[0], 16).unwrap_or(0));
        seen.push(Some(OnDisk {
            kind,
            mode,
            size: f[1].parse().unwrap_or(0),
            uid: f[2].parse().unwrap_or(0),
            gid: f[3].parse().unwrap_or(0),
            owner: f[4].to_string(),
            group: f[5].to_string(),
            mtime: f[6].to_string(),
            sum: f[7].trim().to_string(),
            member_sum: f[8].trim().to_string(),
        }));
    }
    let mut out = vec![None; members.len()];
    for (i, d) in listed.into_iter().zip(seen) {
        out[i] = d;
    }
    Ok(out)
}

/// Whether `who` (a name or a numeric id) names this owner or group.
fn same_id(who: &str, name: &str, id: u32) -> bool {
    who == name || who.parse::<u32>().is_ok_and(|n| n == id)
}

/// Ansible's comparison of members with what is on disk (its zip
/// handler's): the paths to extract, the excluded newer files, and the
/// itemized diff.
struct Comparison {
    unarchived: bool,
    diff: String,
    newer: Vec<String>,
}

fn compare(
    members: &[Member],
    disk: &[Option<OnDisk>],
    job: &Job,
    tools: &Tools,
    listing_ok: bool,
) -> Comparison {
    let mut includes: Vec<&str> = Vec::new();
    let mut diff = String::new();
    let mut newer = Vec::new();
    let fut_owner = job
        .attrs
        .owner
        .clone()
        .unwrap_or_else(|| tools.user.clone());
    let fut_group = job.attrs.group.clone();
    for (m, d) in members.iter().zip(disk) {
        let path = m.name.as_str();
        if job.exclude.iter().any(|e| e == path) {
            continue;
        }
        let Some(d) = d else {
            includes.push(path);
            diff.push_str(&format!(">{}++++++.?? {path}\n", m.kind));
            continue;
        };
        let kind_ok = match m.kind {
            'd' => d.kind == 'd',
            'L' => d.kind == 'L',
            _ => d.kind == 'f',
        };
        if !kind_ok {
            includes.push(path);
            diff.push_str(&format!("c{}++++++.?? {path}\n", m.kind));
            continue;
        }
        let mut change = false;
        let mut item: Vec<char> = format!(".{}.......??", m.kind).chars().collect();
        if d.kind == 'f' {
            if job.keep_newer {
                if m.mtime > d.mtime {
                    change = true;
                    item[4] = 't';
                } else if m.mtime < d.mtime {
                    newer.push(path.to_string());
                    continue;
                }
            } else if m.mtime != d.mtime {
                change = true;
                item[4] = 't';
            }
            if m.size != d.size {
                change = true;
                item[3] = 's';
            }
            if d.sum != d.member_sum {
                change = true;
                item[2] = 'c';
            }
        }
        if m.kind != 'L' {
            let want = match &job.attrs.mode {
                Some(Mode::Octal(o)) => *o,
                Some(Mode::Symbolic(s)) => {
                    apply_symbolic_mode(d.mode, s, d.kind == 'd').unwrap_or(d.mode)
                }
                _ => m.mode,
            };
            if want != d.mode {
                change = true;
                item[5] = 'p';
            }
        }
        // Root extracting a tar keeps the archive's owners.
        let want_owner = match (&m.owner, &job.attrs.owner) {
            (Some(o), None) if tools.uid == 0 => o.clone(),
            _ => fut_owner.clone(),
        };
        if !same_id(&want_owner, &d.owner, d.uid) {
            change = true;
            item[6] = 'o';
        }
        let group_ok = match &fut_group {
            Some(g) => same_id(g, &d.group, d.gid),
            // Without a group, the files get the user's primary group,
            // which is what Ansible expects; a root run keeps the archive's.
            None => true,
        };
        if !group_ok {
            change = true;
            item[6] = 'g';
        }
        if change {
            includes.push(path);
            diff.push_str(&format!("{} {path}\n", item.iter().collect::<String>()));
        }
    }
    Comparison {
        unarchived: listing_ok && includes.is_empty(),
        diff,
        newer,
    }
}

/// GNU tar's `--diff` output, filtered as Ansible filters it: only the
/// differences that matter, owner and group ones only for root and when
/// not set by the task, mode ones only when the task sets no mode.
fn tar_diff_matters(out: &str, err: &str, job: &Job, uid: u32) -> bool {
    for line in out.lines().chain(err.lines()) {
        if line.ends_with(": : Warning: Cannot stat: No such file or directory") {
            continue;
        }
        if uid == 0 && job.attrs.owner.is_none() && line.ends_with(": Uid differs") {
            return true;
        }
        if uid == 0 && job.attrs.group.is_none() && line.ends_with(": Gid differs") {
            return true;
        }
        if job.attrs.mode.is_none() && line.ends_with(": Mode differs") {
            return true;
        }
        if [
            ": Mod time differs",
            ": Warning: Cannot stat: No such file or directory",
            ": Symlink differs",
            ": Contents differ",
            ": Size differs",
        ]
        .iter()
        .any(|s| line.ends_with(s))
            || line.contains(": Invalid owner")
            || line.contains(": Invalid group")
        {
            return true;
        }
    }
    false
}

/// The stat of many paths in one round trip (`None`: missing).
async fn stat_many(host: &dyn Host, paths: &[String]) -> Result<Vec<Option<FileStat>>, HostError> {
    if paths.is_empty() {
        return Ok(Vec::new());
    }
    // One path a line on stdin (see look_at_disk); extracted names with a
    // newline are rare enough to be left to a missing answer.
    let input: String = paths
        .iter()
        .map(|p| format!("{}\n", p.replace('\n', "?")))
        .collect();
    let script = "while IFS= read -r p; do stat -c '%f|%u|%g|%U|%G|%s' -- \"$p\" 2>/dev/null || echo missing; done";
    let opts = ExecOptions {
        stdin: Some(input.into_bytes()),
        ..ExecOptions::default()
    };
    let r = host.exec(script, &opts).await?;
    let mut out: Vec<Option<FileStat>> = r
        .stdout_text()
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split('|').collect();
            if f.len() < 6 {
                return None;
            }
            let (kind, mode) = kind_of(u32::from_str_radix(f[0], 16).unwrap_or(0));
            Some(FileStat {
                kind: match kind {
                    'd' => "directory",
                    'L' => "link",
                    _ => "file",
                }
                .into(),
                mode,
                uid: f[1].parse().unwrap_or(0),
                gid: f[2].parse().unwrap_or(0),
                owner: f[3].into(),
                group: f[4].into(),
                size: f[5].parse().unwrap_or(0),
                ..FileStat::default()
            })
        })
        .collect();
    out.resize(paths.len(), None);
    Ok(out)
}

/// Gives every extracted path (and each top folder) the task's mode,
/// owner and group; true when something changed.
async fn apply_attrs(
    host: &dyn Host,
    job: &Job,
    names: &[String],
) -> Result<Result<bool, String>, HostError> {
    if job.attrs.mode.is_none() && job.attrs.owner.is_none() && job.attrs.group.is_none() {
        return Ok(Ok(false));
    }
    let dest = job.dest.trim_end_matches('/');
    let mut paths: Vec<String> = names
        .iter()
        .map(|n| format!("{dest}/{}", n.trim_end_matches('/')))
        .collect();
    for n in names {
        if let Some((top, _)) = n.split_once('/') {
            let p = format!("{dest}/{top}");
            if !paths.contains(&p) {
                paths.push(p);
            }
        }
    }
    let stats = stat_many(host, &paths).await?;
    let mut cmds = Vec::new();
    for (p, st) in paths.iter().zip(stats) {
        let Some(st) = st else { continue };
        let c = match attr_change(&job.attrs, &st) {
            Ok(c) => c,
            Err(e) => return Ok(Err(e)),
        };
        if !c.is_empty() {
            cmds.extend(attr_commands(p, &c, false));
        }
    }
    if cmds.is_empty() {
        return Ok(Ok(false));
    }
    // In batches, so a big archive stays within the command-line limit.
    for batch in cmds.chunks(200) {
        let r = host
            .exec(&batch.join(" && "), &ExecOptions::default())
            .await?;
        if r.rc != 0 {
            return Ok(Err(r.stderr_text().trim().to_string()));
        }
    }
    Ok(Ok(true))
}

/// A private temporary directory on the host.
async fn host_tempdir(host: &dyn Host) -> Result<Result<String, String>, HostError> {
    let mk = host
        .exec(
            "umask 077 && mktemp -d \"${TMPDIR:-/tmp}/herd-unarchive.XXXXXXXX\"",
            &ExecOptions::default(),
        )
        .await?;
    let dir = mk.stdout_text().trim().to_string();
    if mk.rc != 0 || dir.is_empty() {
        return Ok(Err(format!(
            "could not create a temporary directory on the host: {}",
            mk.stderr_text().trim()
        )));
    }
    Ok(Ok(dir))
}

/// Downloads `url` into `dir` with curl or wget; the file's path.
async fn download(
    host: &dyn Host,
    url: &str,
    dir: &str,
    validate_certs: bool,
) -> Result<Result<String, String>, HostError> {
    let base = url
        .split(['?', '#'])
        .next()
        .unwrap_or(url)
        .rsplit('/')
        .next()
        .filter(|b| !b.is_empty())
        .unwrap_or("download");
    let file = format!("{dir}/{base}");
    let (k, nk) = if validate_certs {
        ("", "")
    } else {
        (" -k", " --no-check-certificate")
    };
    let (u, f) = (shell_quote(url), shell_quote(&file));
    let script = format!(
        "if command -v curl >/dev/null 2>&1; then curl -fsSL{k} -o {f} {u}\n\
         elif command -v wget >/dev/null 2>&1; then wget -q{nk} -O {f} {u}\n\
         else echo 'neither curl nor wget is installed' >&2; exit 127; fi"
    );
    let r = host.exec(&script, &ExecOptions::default()).await?;
    if r.rc != 0 {
        return Ok(Err(format!(
            "Failure downloading {url}, {}",
            r.stderr_text().trim()
        )));
    }
    Ok(Ok(file))
}

fn extract_results(cmd: &[String], r: &ExecResult) -> Value {
    let mut m = Map::new();
    m.insert(
        "cmd".into(),
        Value::Array(cmd.iter().cloned().map(Value::String).collect()),
    );
    m.insert("err".into(), r.stderr_text().into());
    m.insert("out".into(), r.stdout_text().into());
    m.insert("rc".into(), r.rc.into());
    Value::Object(m)
}

/// The module's work once the archive is on the host at `job.src`.
async fn unpack(
    ctx: &ModuleContext<'_>,
    job: &mut Job,
    list_files: bool,
) -> Result<Outcome, HostError> {
    let host = ctx.host;
    let src = job.src.clone();
    let st = match host.stat(&src, true).await? {
        Some(st) => st,
        None => return Ok(Outcome::failed(format!("Source '{src}' does not exist"))),
    };
    let readable = host
        .exec(
            &format!("[ -r {} ]", shell_quote(&src)),
            &ExecOptions::default(),
        )
        .await?;
    if readable.rc != 0 {
        return Ok(Outcome::failed(format!("Source '{src}' not readable")));
    }
    if st.size == 0 {
        return Ok(Outcome::failed(format!(
            "Invalid archive '{src}', the file is 0 bytes"
        )));
    }
    let tools = probe_tools(host).await?;
    let (handler, names) = match pick_handler(host, job, &tools, ctx.check_mode).await? {
        Ok(h) => h,
        Err(Picked::CheckModeTar) => {
            let mut o = Outcome::ok();
            o.skipped = true;
            o.msg = Some(
                "remote module (unarchive) does not support check mode when using gtar".into(),
            );
            return Ok(o);
        }
        Err(Picked::None(reasons)) => {
            return Ok(Outcome::failed(format!(
                "Failed to find handler for \"{src}\". Make sure the required command to extract the file is installed.\n{}",
                reasons.join("\n")
            )));
        }
    };
    let mut out = Outcome::ok()
        .with("handler", handler.name())
        .with("dest", job.dest.clone())
        .with("src", src.clone());

    // Is it unpacked already?
    let mut busybox_newer = false;
    let (unarchived, prepared) = match &handler {
        Handler::Tar { busybox: false, .. } => {
            let cmd = tar_argv(&handler, job, "--diff", true);
            let r = run_argv(host, &cmd, Some(&job.dest)).await?;
            let matters = tar_diff_matters(&r.stdout_text(), &r.stderr_text(), job, tools.uid);
            (!matters, String::new())
        }
        Handler::Tar { tar, flag, .. } => {
            let mut list = tar_argv(&handler, job, "-t", false);
            list.insert(1, "-v".into());
            let r = run_argv(host, &list, Some(&job.dest)).await?;
            let members = parse_tar_verbose(&r.stdout_text(), &job.exclude);
            // The archive is extracted once beside, and compared with.
            let scratch = match host_tempdir(host).await? {
                Ok(d) => d,
                Err(e) => return Ok(Outcome::failed(e)),
            };
            let mut x = vec![tar.clone(), "-x".into(), "-C".into(), scratch.clone()];
            if let Some(f) = flag {
                x.push(f.to_string());
            }
            x.extend(["-f".into(), src.clone()]);
            let disk = match run_argv(host, &x, None).await {
                Ok(_) => look_at_disk(host, &job.dest, &members, Content::Dir(&scratch)).await,
                Err(e) => Err(e),
            };
            let _ = host
                .exec(
                    &format!("rm -rf -- {}", shell_quote(&scratch)),
                    &ExecOptions::default(),
                )
                .await;
            let disk = disk?;
            let c = compare(&members, &disk, job, &tools, r.rc == 0);
            if !c.newer.is_empty() {
                busybox_newer = true;
            }
            (c.unarchived, c.diff)
        }
        Handler::Zip { unzip, zipinfo, .. } => {
            let mut cmd = zipinfo.clone();
            cmd.extend(strings(&["-T", "-s"]));
            cmd.push(src.clone());
            if !job.exclude.is_empty() {
                cmd.push("-x".into());
                cmd.extend(job.exclude.iter().cloned());
            }
            cmd.extend(job.include.iter().cloned());
            let r = run_argv(host, &cmd, None).await?;
            let members = parse_zipinfo(&r.stdout_text(), tools.umask);
            let x = vec![unzip.clone(), "-p".into(), src.clone()];
            let disk = look_at_disk(host, &job.dest, &members, Content::Command(&x)).await?;
            let c = compare(&members, &disk, job, &tools, r.rc == 0);
            // Newer files stay as they are.
            job.exclude.extend(c.newer);
            (c.unarchived, c.diff)
        }
    };

    if ctx.check_mode {
        out.changed = !unarchived;
    } else if !unarchived {
        if matches!(handler, Handler::Tar { busybox: true, .. }) && !job.exclude.is_empty() {
            return Ok(Outcome::failed(
                "exclude needs GNU tar: BusyBox tar has no --exclude",
            ));
        }
        if busybox_newer {
            return Ok(Outcome::failed(
                "keep_newer needs GNU tar: BusyBox tar would replace the newer files",
            ));
        }
        let cmd = match &handler {
            Handler::Tar { .. } => tar_argv(&handler, job, "--extract", true),
            Handler::Zip { unzip, .. } => {
                let mut cmd = vec![unzip.clone(), "-o".into()];
                cmd.extend(job.extra_opts.iter().cloned());
                cmd.push(src.clone());
                if !job.exclude.is_empty() {
                    cmd.push("-x".into());
                    cmd.extend(job.exclude.iter().cloned());
                }
                cmd.extend(job.include.iter().cloned());
                cmd.extend(["-d".into(), job.dest.clone()]);
                cmd
            }
        };
        let r = run_argv(host, &cmd, Some(&job.dest)).await?;
        out.values
            .insert("extract_results".into(), extract_results(&cmd, &r));
        if r.rc != 0 {
            out.failed = true;
            out.msg = Some(format!("failed to unpack {src} to {}", job.dest));
            return Ok(out);
        }
        out.changed = true;
    }
    if !prepared.is_empty() {
        let mut d = Map::new();
        d.insert("prepared".into(), prepared.into());
        out.values.insert("diff".into(), Value::Object(d));
    }
    if !ctx.check_mode {
        match apply_attrs(host, job, &names).await? {
            Ok(changed) => out.changed |= changed,
            Err(e) => {
                out.failed = true;
                out.msg = Some(e);
                return Ok(out);
            }
        }
    }
    if list_files {
        out.values.insert(
            "files".into(),
            Value::Array(names.into_iter().map(Value::String).collect()),
        );
    }
    Ok(out)
}

#[async_trait]
impl Module for Unarchive {
    fn name(&self) -> &'static str {
        "unarchive"
    }

    fn spec(&self) -> Option<&'static Spec> {
        Some(&SPEC)
    }

    async fn run(&self, ctx: &ModuleContext<'_>) -> Result<Outcome, HostError> {
        // The action plugin's checks come before the module's own.
        if ctx.args.contains_key("copy") && ctx.args.contains_key("remote_src") {
            return Ok(Outcome::failed(
                "parameters are mutually exclusive: ('copy', 'remote_src')",
            ));
        }
        let given = |k: &str| ctx.args.get(k).is_some_and(|v| !v.is_null());
        if !given("src") || !given("dest") {
            return Ok(Outcome::failed("src (or content) and dest are required"));
        }
        let a = match SPEC.parse(ctx).await? {
            Ok(a) => a,
            Err(o) => return Ok(o),
        };
        let remote_src = if a.has("copy") {
            !a.bool_or("copy", true)
        } else {
            a.bool_or("remote_src", false)
        };
        let src = a.str_or("src", "");
        let mut dest = a.str_or("dest", "");
        if let Some(c) = a.str("creates") {
            if ctx.host.stat(&c, true).await?.is_some() {
                let mut o = Outcome::ok();
                o.skipped = true;
                o.msg = Some(format!("skipped, since {c} exists"));
                return Ok(o);
            }
        }
        let local = if remote_src {
            None
        } else if src.contains("://") {
            return Ok(Outcome::failed(format!(
                "Unsupported option, an URI src ({src}) is only supported when remote_src is True"
            )));
        } else {
            match ctx.controller.find_file("files", &src) {
                Some(p) => Some(p),
                None => {
                    // Raised as a task error, not by the action, in
                    // Ansible: its message carries the prefix.
                    return Ok(Outcome::failed(format!(
                        "Task failed: Could not find or access '{src}' on the Ansible Controller.\n\
                         If you are using a module and expect the file to exist on the remote, \
                         see the remote_src option"
                    )));
                }
            }
        };
        let plain = match &local {
            Some(l) => match super::copy::decrypted(ctx, &a, l) {
                Ok(p) => p,
                Err(e) => return Ok(Outcome::failed(e)),
            },
            None => None,
        };
        match ctx.host.stat(&dest, true).await? {
            Some(st) if st.kind == "directory" => {}
            _ => {
                return Ok(Outcome::failed(format!(
                    "dest '{dest}' must be an existing dir"
                )))
            }
        }
        let mut warnings = Vec::new();
        if !dest.starts_with('/') {
            let pwd = ctx
                .host
                .exec("printf %s \"$PWD\"", &ExecOptions::default())
                .await?
                .stdout_text();
            let abs = format!(
                "{}/{}",
                pwd.trim_end_matches('/'),
                dest.trim_start_matches("./")
            );
            warnings.push(format!(
                "Relative destination path '{dest}' was resolved to absolute path '{}'.",
                abs.trim_end_matches('/')
            ));
            dest = abs.trim_end_matches('/').to_string();
        }
        let needs_tmp = local.is_some() || src.contains("://");
        let tmp = if needs_tmp {
            match host_tempdir(ctx.host).await? {
                Ok(d) => Some(d),
                Err(e) => return Ok(Outcome::failed(e)),
            }
        } else {
            None
        };
        let shown_dest = a.str_or("dest", "");
        let result = async {
            let archive = match (&local, &tmp) {
                (Some(local), Some(dir)) => {
                    let path = format!("{dir}/source");
                    ctx.host
                        .write_from(&path, super::copy::local_source(local, &plain), Some(0o600))
                        .await?;
                    path
                }
                (None, Some(dir)) => {
                    match download(ctx.host, &src, dir, a.bool_or("validate_certs", true)).await? {
                        Ok(p) => p,
                        Err(e) => return Ok(Outcome::failed(e)),
                    }
                }
                _ => src.clone(),
            };
            let mut job = Job {
                src: archive,
                dest: dest.clone(),
                exclude: a
                    .list("exclude")
                    .unwrap_or_default()
                    .into_iter()
                    .map(|e| e.trim_end_matches('/').to_string())
                    .collect(),
                include: a.list("include").unwrap_or_default(),
                extra_opts: a.list("extra_opts").unwrap_or_default(),
                keep_newer: a.bool_or("keep_newer", false),
                attrs: Attrs::from_args(&a),
            };
            unpack(ctx, &mut job, a.bool_or("list_files", false)).await
        }
        .await;
        if let Some(dir) = &tmp {
            let _ = ctx
                .host
                .exec(
                    &format!("rm -rf -- {}", shell_quote(dir)),
                    &ExecOptions::default(),
                )
                .await;
        }
        let mut out = result?;
        out.warnings.extend(warnings);
        if out.skipped || out.values.get("handler").is_none() {
            return Ok(out);
        }
        out.values.insert("dest".into(), shown_dest.into());
        if let Some(st) = ctx.host.stat(&dest, true).await? {
            for (k, v) in super::common::stat_values(&st) {
                out.values.insert(k.into(), v);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zipinfo_lines_become_members() {
        let listing = "Archive:  t.zip\nZip file size: 480 bytes, number of entries: 3\n\
            -rw-r--r--  3.0 unx        6 tx stor 20261127.110205 a b.txt\n\
            drwxr-xr-x  3.0 unx        0 bx stor 20261127.110205 d/\n\
            -rw-rw-rw-  2.0 fat       12 tx defN 20261127.110205 fat.txt\n\
            3 files, 6 bytes uncompressed, 6 bytes compressed:  0.0%\n";
        let m = parse_zipinfo(listing, 0o022);
        assert_eq!(m.len(), 3);
        assert_eq!(
            m[0],
            Member {
                name: "a b.txt".into(),
                kind: 'f',
                mode: 0o644,
                size: 6,
                mtime: "20261127.110205".into(),
                owner: None,
            }
        );
        assert_eq!((m[1].kind, m[1].mode), ('d', 0o755));
        assert_eq!(m[2].mode, 0o666);
    }

    #[test]
    fn busybox_tar_lines_become_members() {
        let listing = "drwxr-xr-x root/root         0 2026-11-27 11:02:05 ./\n\
            -rw-r--r-- root/root         6 2026-11-27 11:02:05 ./a b.txt\n\
            lrwxrwxrwx root/root         0 2026-11-27 11:02:05 ./l -> a b.txt\n";
        let m = parse_tar_verbose(listing, &["./l".to_string()]);
        assert_eq!(m.len(), 2);
        assert_eq!(m[1].name, "./a b.txt");
        assert_eq!(m[1].mtime, "20261127.110205");
        assert_eq!((m[1].kind, m[1].mode, m[1].size), ('f', 0o644, 6));
    }

    #[test]
    fn gnu_tar_names_are_unescaped() {
        let names = tar_names("./\n/abs\n./caf\\303\\251\n./skip.log\n", &["*.log".into()]);
        assert_eq!(names, vec!["./", "abs", "./café"]);
    }

    #[test]
    fn tar_diff_lines_that_matter() {
        let job = Job {
            src: String::new(),
            dest: String::new(),
            exclude: vec![],
            include: vec![],
            extra_opts: vec![],
            keep_newer: false,
            attrs: Attrs::default(),
        };
        assert!(!tar_diff_matters("", "", &job, 0));
        assert!(tar_diff_matters("./a: Contents differ\n", "", &job, 1000));
        assert!(tar_diff_matters("./a: Uid differs\n", "", &job, 0));
        assert!(!tar_diff_matters("./a: Uid differs\n", "", &job, 1000));
        assert!(tar_diff_matters(
            "",
            "tar: ./a: Warning: Cannot stat: No such file or directory\n",
            &job,
            1000
        ));
    }

    #[test]
    fn fields_split_like_python() {
        assert_eq!(split_fields("  a  b c d", 3), vec!["a", "b", "c d"]);
        assert_eq!(split_fields("a b", 3), vec!["a", "b"]);
    }
}
