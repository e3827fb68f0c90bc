//! copy — put a file (or a directory tree) on the host.
//!
//! The source is `content` (text written as it is) or `src`, a file or
//! directory on the controller looked up in the role's and playbook's
//! `files/` (with remote_src, a path on the host). A directory `src`
//! ending in `/` copies its contents; without the slash, the directory
//! itself. When dest ends in `/` or is a directory, the file goes inside
//! it. Missing parent directories are created.
//!
//! Arguments:
//!   dest            where to put it (required)
//!   src, content    what to put (one of them)
//!   remote_src      src is on the host (default false)
//!   force           replace a file whose content differs (default true)
//!   backup          keep the old file as NAME.PID.YYYY-MM-DD@HH:MM:SS~
//!   validate        command checking the new file before it replaces the
//!                   old one, `%s` being its path (e.g. `visudo -cf %s`)
//!   mode            octal, symbolic, or `preserve` (the source's mode)
//!   owner, group    names or ids
//!   directory_mode  mode of directories created by a recursive copy
//!   follow          follow a link at dest (default false: it is replaced)
//!   checksum        expected sha1 of the source
//!
//! A file is compared by its sha1 (summed on the controller in one pass,
//! on the host with `sha1sum`; a small one is read back instead) and, when
//! it differs, sent in chunks: it is never held whole in memory. With
//! remote_src, the comparison and the copy both happen on the host.
//!
//! Returns: dest, src, checksum (sha1), md5sum (of a written file), size,
//! state, mode, owner, group, uid, gid, backup_file, and `diff: []` when
//! there is no diff entry. Changed only when content or attributes
//! differ. As Ansible's copy action: in check mode a file to write is only
//! `changed`, an unchanged one is reported as the file module does, and
//! an existing file kept by `force: false` only named (dest, src). With --diff, the old and new content; a
//! file bigger than 104448 bytes or binary is only named, as Ansible does.
//!
//! Tested: tests/module_copy.rs (content, files, trees and the trailing-
//! slash rule, remote_src, modes incl. preserve, backup, force, validate,
//! check, diff, awkward names), rerun with a BusyBox userland
//! (tests/module_busybox.rs) and in the BusyBox SSH playbook
//! (tests/ssh_busybox.rs); a 256 MiB copy in tests/transfer_big_file.rs;
//! compared with ansible-playbook in run conformance cases 12 and 15.

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use async_trait::async_trait;
use md5::Md5;
use sha1::{Digest, Sha1};

use super::common::{
    attr_change, attr_commands, basename, mkdirs_command, parent, run_all, stat_values, Attrs,
};
use crate::api::FileStat;
use crate::api::{
    shell_quote, Diff, ExecOptions, Host, HostError, Module, ModuleContext, Outcome, Source, Value,
};
use crate::args::{Args, Mode, Param, Spec};
use crate::file_spec;

pub struct Copy;

static SPEC: Spec = file_spec!(
    "copy",
    [
        Param::path("dest").required(),
        Param::str("src"),
        Param::raw("content"),
        Param::bool("remote_src").default("false"),
        Param::bool("force").default("true").aliases(&["thirsty"]),
        Param::bool("backup").default("false"),
        Param::str("validate"),
        Param::mode("directory_mode"),
        Param::bool("follow").default("false"),
        Param::bool("local_follow"),
        Param::str("checksum"),
        Param::bool("decrypt").default("true"),
        Param::str("_original_basename"),
    ],
    &[&["content", "src"]],
    &[]
);

/// How one file is written: what the copy and template modules share.
#[derive(Clone, Debug, Default)]
pub struct PutFile {
    pub dest: String,
    /// For `src` in the result and the diff's header.
    pub src_label: String,
    pub attrs: Attrs,
    pub backup: bool,
    pub force: bool,
    pub follow: bool,
    pub validate: Option<String>,
    /// Mode of directories created on the way.
    pub directory_mode: Option<Mode>,
    /// What is at dest (not following links), when the caller knows.
    pub known: Option<Option<FileStat>>,
    /// The content of that file, when it came along with `known`
    /// ([`Host::stat_read`]).
    pub known_data: Option<Vec<u8>>,
    /// Make a missing parent directory (a `dest` ending in `/`, a file
    /// inside a directory copy, the editors); otherwise a missing one
    /// fails, as Ansible's copy module does.
    pub create_parents: bool,
}

/// sha1 as hex, the checksum Ansible reports.
pub fn sha1_hex(data: &[u8]) -> String {
    hex(&Sha1::digest(data))
}

/// Bytes as lowercase hex, as Ansible prints digests.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The checksum and size of a controller file, read in chunks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalDigest {
    pub sha1: String,
    pub size: u64,
}

/// Feeds a controller file to `f` in chunks; returns its size.
fn read_chunks(path: &Path, mut f: impl FnMut(&[u8])) -> std::io::Result<u64> {
    use std::io::Read;
    let mut file = std::fs::File::open(path)?;
    let mut buf = vec![0u8; 256 * 1024];
    let mut size = 0u64;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            return Ok(size);
        }
        f(&buf[..n]);
        size += n as u64;
    }
}

/// Reads a controller file once, in chunks, for its sha1 and size.
pub fn local_digest(path: &Path) -> std::io::Result<LocalDigest> {
    let mut sha1 = Sha1::new();
    let size = read_chunks(path, |b| sha1.update(b))?;
    Ok(LocalDigest {
        sha1: hex(&sha1.finalize()),
        size,
    })
}

type DigestCell = Arc<OnceLock<Result<LocalDigest, String>>>;

/// A controller file as it was summed: path, size, modification time.
type DigestKey = (PathBuf, u64, i64, i64);

/// [`local_digest`], remembered for the run by path, size and
/// modification time: a fleet copying one file sums it once, and a file
/// changed meanwhile is summed again.
fn cached_digest(path: &Path) -> Result<LocalDigest, String> {
    static CACHE: OnceLock<Mutex<HashMap<DigestKey, DigestCell>>> = OnceLock::new();
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(path).map_err(|e| e.to_string())?;
    let key = (
        path.to_path_buf(),
        meta.size(),
        meta.mtime(),
        meta.mtime_nsec(),
    );
    let cache = CACHE.get_or_init(Default::default);
    let cell = match cache.lock() {
        Ok(mut map) => map.entry(key.clone()).or_default().clone(),
        // A poisoned map only loses the sharing.
        Err(_) => DigestCell::default(),
    };
    let r = cell
        .get_or_init(|| local_digest(path).map_err(|e| e.to_string()))
        .clone();
    if r.is_err() {
        // A failure is not remembered: the next task tries again.
        if let Ok(mut map) = cache.lock() {
            map.remove(&key);
        }
    }
    r
}

/// The source label of `content:` (the result's `src`).
const INLINE_CONTENT: &str = "dynamically generated";

/// Files bigger than this are not diffed (Ansible's
/// `MAX_FILE_SIZE_FOR_DIFF` default, `ANSIBLE_MAX_DIFF_SIZE`).
pub const MAX_DIFF_SIZE: u64 = 104_448;

/// One side of a file diff.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DiffSide<'a> {
    /// No file (the destination before it is created).
    Absent,
    Content(&'a [u8]),
    /// Bigger than [`MAX_DIFF_SIZE`]: not read.
    TooLarge,
}

/// The --diff entry for a content change, as Ansible's file diffs have
/// it: text sides shown, a side that is binary (holds a NUL byte) or
/// bigger than the limit only named.
pub fn file_diff(dest: &str, src_label: &str, old: DiffSide<'_>, new: DiffSide<'_>) -> Diff {
    // As Ansible's copy action: the destination names the old side only
    // when it existed, and the new side when the content was given inline.
    let mut d = Diff {
        before_header: (old != DiffSide::Absent).then(|| dest.to_string()),
        after_header: Some(if src_label == INLINE_CONTENT {
            dest.to_string()
        } else {
            src_label.to_string()
        }),
        ..Diff::default()
    };
    match old {
        DiffSide::Absent => {}
        DiffSide::TooLarge => d.dst_larger = Some(MAX_DIFF_SIZE),
        DiffSide::Content(b) if b.contains(&0) => d.dst_binary = true,
        DiffSide::Content(b) => d.before = String::from_utf8_lossy(b).into_owned(),
    }
    match new {
        DiffSide::Absent => {}
        DiffSide::TooLarge => d.src_larger = Some(MAX_DIFF_SIZE),
        DiffSide::Content(b) if b.contains(&0) => d.src_binary = true,
        DiffSide::Content(b) => d.after = String::from_utf8_lossy(b).into_owned(),
    }
    d
}

/// [`file_diff`] of content in memory.
pub fn content_diff(dest: &str, src_label: &str, old: Option<&[u8]>, new: &[u8]) -> Diff {
    fn side(b: &[u8]) -> DiffSide<'_> {
        if b.len() as u64 > MAX_DIFF_SIZE {
            DiffSide::TooLarge
        } else {
            DiffSide::Content(b)
        }
    }
    file_diff(
        dest,
        src_label,
        old.map(side).unwrap_or(DiffSide::Absent),
        side(new),
    )
}

/// Up to this size, an existing file is read back and compared; above
/// it, it is compared by checksum on the host.
const LARGE_FILE: u64 = 64 * 1024;

/// What to do with a destination file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// It exists and `force` is off: leave it, whatever it holds.
    KeepExisting,
    /// It already holds the content (attributes are decided separately).
    Unchanged,
    /// Write the content: it is missing, differs, or is a link to replace.
    Write,
}

/// Decides from what is at dest (`st`) and whether its content is the
/// same as the source's (`same`: by bytes or checksum, when known)
/// whether the source must be written; pure.
pub fn decide(st: Option<&FileStat>, same: Option<bool>, force: bool) -> Verdict {
    match st {
        Some(_) if !force => Verdict::KeepExisting,
        Some(s) if s.kind == "link" => Verdict::Write,
        Some(_) if same == Some(true) => Verdict::Unchanged,
        _ => Verdict::Write,
    }
}

/// What a put knows of its source before writing it.
struct SourceFacts<'a> {
    sha1: String,
    md5: Option<String>,
    size: u64,
    /// The content, when it is in memory or small enough to read for a
    /// byte comparison or a diff.
    small: Option<Cow<'a, [u8]>>,
}

/// The facts of `src`: bytes are summed in memory, a controller file in
/// one chunked pass, a host file on the host. `Err(msg)`: the source
/// cannot be read.
async fn source_facts<'a>(
    ctx: &ModuleContext<'_>,
    src: Source<'a>,
) -> Result<Result<SourceFacts<'a>, String>, HostError> {
    Ok(Ok(match src {
        Source::Bytes(b) => SourceFacts {
            sha1: sha1_hex(b),
            md5: Some(hex(&Md5::digest(b))),
            size: b.len() as u64,
            small: Some(Cow::Borrowed(b)),
        },
        Source::LocalFile(path) => {
            let d = match cached_digest(path) {
                Ok(d) => d,
                Err(e) => return Ok(Err(format!("could not read {}: {e}", path.display()))),
            };
            let small = if d.size <= MAX_DIFF_SIZE {
                match std::fs::read(path) {
                    Ok(b) => Some(Cow::Owned(b)),
                    Err(e) => return Ok(Err(format!("could not read {}: {e}", path.display()))),
                }
            } else {
                None
            };
            SourceFacts {
                sha1: d.sha1,
                md5: None,
                size: d.size,
                small,
            }
        }
        Source::HostFile(path) => {
            let Some(st) = ctx.host.stat(path, true).await? else {
                return Ok(Err(format!("Source {path} not found")));
            };
            let small = if st.size <= LARGE_FILE {
                ctx.host.read_file(path).await?.map(Cow::Owned)
            } else {
                None
            };
            let sha1 = match &small {
                Some(b) => sha1_hex(b),
                None => match ctx.host.checksum(path).await {
                    Ok(Some(sum)) => sum,
                    Ok(None) => return Ok(Err(format!("Source {path} not found"))),
                    Err(e) if e.unreachable => return Err(e),
                    Err(e) => return Ok(Err(e.message)),
                },
            };
            SourceFacts {
                md5: None,
                sha1,
                size: small.as_ref().map(|b| b.len() as u64).unwrap_or(st.size),
                small,
            }
        }
    }))
}

/// Makes `dest`'s missing directory when the copy may (`create_parents`),
/// as Ansible's copy does; otherwise (or when that fails) the failed
/// outcome to return.
async fn make_dest_dir(
    host: &dyn Host,
    p: &PutFile,
    dir: &str,
    sha1: &str,
) -> Result<Option<Outcome>, HostError> {
    if !p.create_parents {
        return Ok(Some(
            Outcome::failed(format!("Destination directory {dir} does not exist"))
                .with("checksum", sha1),
        ));
    }
    let dir_attrs = Attrs {
        mode: p.directory_mode.clone(),
        ..p.attrs.clone()
    };
    Ok(
        match run_all(host, &[mkdirs_command(dir, &dir_attrs)]).await? {
            Ok(()) => None,
            Err(e) => Some(Outcome::failed(format!(
                "Destination directory {dir} does not exist: {e}"
            ))),
        },
    )
}

/// Writes `content` to `p.dest` when it differs, then sets attributes.
/// `dest` must already name the file (not a directory).
pub async fn put_file(
    ctx: &ModuleContext<'_>,
    p: &PutFile,
    content: &[u8],
) -> Result<Outcome, HostError> {
    put_from(ctx, p, Source::Bytes(content)).await
}

/// Writes `src` to `p.dest` when its content differs, then sets
/// attributes; `dest` must already name the file. A big source is
/// compared by checksum and sent in chunks, never read whole.
pub async fn put_from(
    ctx: &ModuleContext<'_>,
    p: &PutFile,
    src: Source<'_>,
) -> Result<Outcome, HostError> {
    let host = ctx.host;
    let mut dest = p.dest.clone();
    // A small destination comes back with its metadata (one request),
    // ready for the comparison below.
    let mut prefetched = None;
    let mut st = match &p.known {
        Some(st) => {
            prefetched = p.known_data.clone();
            st.clone()
        }
        None => match host
            .stat_read(&dest, false, LARGE_FILE, names_wanted(ctx))
            .await?
        {
            Some((st, data)) => {
                prefetched = data;
                Some(st)
            }
            None => None,
        },
    };
    if p.follow && st.as_ref().is_some_and(|s| s.kind == "link") {
        let r = host
            .exec(
                &format!("readlink -f -- {}", shell_quote(&dest)),
                &ExecOptions::default(),
            )
            .await?;
        dest = r.stdout_text().trim_end_matches('\n').to_string();
        st = host.stat(&dest, false).await?;
    }
    if st.as_ref().is_some_and(|s| s.kind == "directory") {
        return Ok(Outcome::failed(format!("dest {dest} is a directory")).with("dest", dest));
    }
    let facts = match source_facts(ctx, src).await? {
        Ok(f) => f,
        Err(msg) => return Ok(Outcome::failed(msg)),
    };
    let mut out = Outcome::ok()
        .with("dest", dest.clone())
        .with("src", p.src_label.clone())
        .with("checksum", facts.sha1.clone());
    if let Some(md5) = &facts.md5 {
        out = out.with("md5sum", md5.clone());
    }
    out = out.with("size", facts.size);
    // Ansible's copy action (a controller source or content) answers
    // some cases itself with fewer keys than its module (remote_src).
    let action = !matches!(src, Source::HostFile(_));
    if decide(st.as_ref(), None, p.force) == Verdict::KeepExisting {
        // Only named, as both leave an existing file alone.
        let mut kept = Outcome::ok()
            .with("dest", dest)
            .with("src", p.src_label.clone());
        if !action {
            kept.msg = Some("file already exists".into());
        }
        return Ok(kept);
    }
    let is_link = st.as_ref().is_some_and(|s| s.kind == "link");
    // The old content is read back only when it is small and wanted (a
    // byte comparison, a diff); a size that differs settles it; otherwise
    // the host computes its checksum.
    let mut old = None;
    let mut same = None;
    if let Some(s) = st.as_ref().filter(|s| s.kind == "file") {
        let want_old = ctx.diff && s.size <= MAX_DIFF_SIZE;
        if s.size != facts.size && !want_old {
            same = Some(false);
        } else if want_old || (s.size <= LARGE_FILE && facts.small.is_some()) {
            old = match prefetched.take() {
                Some(data) => Some(data),
                None => host.read_file(&dest).await?,
            };
            same = match (&old, &facts.small) {
                (Some(o), Some(n)) => Some(o[..] == n[..]),
                (Some(o), None) => Some(sha1_hex(o) == facts.sha1),
                (None, _) => Some(false),
            };
        } else {
            same = match host.checksum(&dest).await {
                Ok(sum) => Some(sum.as_deref() == Some(facts.sha1.as_str())),
                Err(e) if e.unreachable => return Err(e),
                // No checksum tool: the file is written again.
                Err(_) => Some(false),
            };
        }
    }
    let differs = decide(st.as_ref(), same, p.force) == Verdict::Write;
    if differs {
        out.changed = true;
        if ctx.diff {
            let before = match (&st, &old) {
                (Some(s), _) if s.kind == "file" && s.size > MAX_DIFF_SIZE => DiffSide::TooLarge,
                (_, Some(o)) => DiffSide::Content(o),
                _ => DiffSide::Absent,
            };
            let after = match &facts.small {
                Some(b) if b.len() as u64 <= MAX_DIFF_SIZE => DiffSide::Content(b),
                _ => DiffSide::TooLarge,
            };
            out.diff.push(file_diff(&dest, &p.src_label, before, after));
        }
    }
    let dir = parent(&dest);
    // An existing dest has its directory; otherwise it may need creating.
    // A plain write of a new file is tried first: its directory is looked
    // at only when the write fails.
    let write_first = st.is_none() && differs && !ctx.check_mode && p.validate.is_none();
    let dir_missing = st.is_none() && !write_first && host.stat(&dir, true).await?.is_none();
    if dir_missing && ctx.check_mode {
        if action {
            return Ok(check_mode_write(out.diff));
        }
        out.changed = true;
        out.msg = Some(format!("dest directory {dir} would be created"));
        return Ok(out);
    }
    if dir_missing {
        if let Some(failed) = make_dest_dir(host, p, &dir, &facts.sha1).await? {
            return Ok(failed);
        }
    }
    if ctx.check_mode {
        if action && differs {
            return Ok(check_mode_write(out.diff));
        }
        // Attributes of an existing file can be compared now; a new file
        // is a change anyway.
        if let Some(s) = st.as_ref().filter(|_| !differs) {
            let change = match attr_change(&p.attrs, s) {
                Ok(c) => c,
                Err(e) => return Ok(Outcome::failed(e)),
            };
            out.changed |= !change.is_empty();
            if action && ctx.diff {
                set_file_module_diff(&mut out, &dest, s.mode, change.mode);
            }
            if action {
                // The file as it is, as the file module reports it.
                for (k, v) in stat_values(s) {
                    out.values.insert(k.into(), v);
                }
                out.values.shift_remove("src");
                out.values.shift_remove("md5sum");
                out.values.insert("path".into(), dest.into());
                return Ok(with_empty_diff(out));
            }
        }
        return Ok(out);
    }
    // Nothing sees the written file's mode, owner or size, and no
    // attribute is to be set: the write is not followed by a stat.
    let terse = !ctx.result_seen && p.attrs == Attrs::default();
    // The state a write leaves, when it came back with the write.
    let mut written = None;
    if differs {
        if p.backup && st.is_some() && !is_link {
            let r = host
                .exec(
                    &format!(
                        "b={q}.$$.$(date '+%Y-%m-%d@%H:%M:%S~') && cp -p -- {q} \"$b\" && printf %s \"$b\"",
                        q = shell_quote(&dest)
                    ),
                    &ExecOptions::default(),
                )
                .await?;
            if r.rc != 0 {
                return Ok(Outcome::failed(format!(
                    "backup of {dest} failed: {}",
                    r.stderr_text().trim()
                )));
            }
            out.values
                .insert("backup_file".into(), r.stdout_text().into());
        }
        let new_mode = match &p.attrs.mode {
            Some(Mode::Octal(m)) => Some(*m),
            _ => None,
        };
        if is_link {
            // The link itself is replaced by the file, as Ansible does.
            run_all(host, &[format!("rm -f -- {}", shell_quote(&dest))])
                .await?
                .ok();
        }
        match &p.validate {
            Some(v) => {
                if !v.contains("%s") {
                    return Ok(Outcome::failed(format!("validate must contain %s: {v}")));
                }
                let tmp = format!("{dir}/.{}.herd-validate.tmp", basename(&dest));
                host.write_from(&tmp, src, new_mode.or(st.as_ref().map(|s| s.mode)))
                    .await?;
                let cmd = v.replace("%s", &shell_quote(&tmp));
                let r = host.exec(&cmd, &ExecOptions::default()).await?;
                if r.rc != 0 {
                    let _ = host
                        .exec(
                            &format!("rm -f -- {}", shell_quote(&tmp)),
                            &ExecOptions::default(),
                        )
                        .await;
                    return Ok(Outcome::failed("failed to validate")
                        .with("exit_status", r.rc)
                        .with("stdout", r.stdout_text())
                        .with("stderr", r.stderr_text()));
                }
                let mut mv = Vec::new();
                if let Some(s) = &st {
                    // Keep the replaced file's owner, as an atomic write does.
                    mv.push(format!(
                        "{{ chown {}:{} {} 2>/dev/null || true; }}",
                        s.uid,
                        s.gid,
                        shell_quote(&tmp)
                    ));
                }
                mv.push(format!(
                    "mv -f -- {} {}",
                    shell_quote(&tmp),
                    shell_quote(&dest)
                ));
                if let Err(e) = run_all(host, &mv).await? {
                    return Ok(Outcome::failed(format!(
                        "failed to copy: {} to {dest}: {e}",
                        p.src_label
                    )));
                }
            }
            None => {
                written = match write_dest(host, &dest, src, new_mode, terse).await {
                    Err(e) if write_first && host.stat(&dir, true).await?.is_none() => {
                        if let Some(failed) = make_dest_dir(host, p, &dir, &facts.sha1).await? {
                            return Ok(failed);
                        }
                        write_dest(host, &dest, src, new_mode, terse)
                            .await
                            .map_err(|_| e)?
                    }
                    other => other?,
                }
            }
        }
        if terse {
            return Ok(if action { with_empty_diff(out) } else { out });
        }
        if facts.md5.is_none() {
            // As Ansible's copy computes it: on the host, of the file just
            // written (md5 is for backwards compatibility only).
            let r = host
                .exec(
                    &format!("md5sum < {}", shell_quote(&dest)),
                    &ExecOptions::default(),
                )
                .await?;
            let text = r.stdout_text();
            let sum = text.split_whitespace().next().unwrap_or("");
            if r.rc == 0 && sum.len() == 32 && sum.bytes().all(|b| b.is_ascii_hexdigit()) {
                out.values.insert("md5sum".into(), sum.into());
            }
        }
    }
    let now = match (&st, differs) {
        (Some(s), false) => s.clone(),
        _ => {
            let after = match written {
                Some(s) => Some(s),
                None => host.stat(&dest, false).await?,
            };
            match after {
                Some(s) => s,
                None => {
                    return Ok(Outcome::failed(format!(
                        "{dest} is missing after it was written"
                    )))
                }
            }
        }
    };
    let c = match attr_change(&p.attrs, &now) {
        Ok(c) => c,
        Err(e) => return Ok(Outcome::failed(e)),
    };
    if !c.is_empty() {
        out.changed = true;
        if let Err(e) = run_all(host, &attr_commands(&dest, &c, false)).await? {
            return Ok(Outcome::failed(e).with("dest", dest));
        }
    }
    let now = if c.is_empty() {
        Some(now)
    } else {
        host.stat(&dest, false).await?
    };
    if let Some(now) = now {
        for (k, v) in stat_values(&now) {
            out.values.insert(k.into(), v);
        }
    }
    if !out.changed {
        // Unchanged, Ansible reports the file as the file module does.
        out.values.shift_remove("src");
        out.values.shift_remove("md5sum");
        out.values.insert("path".into(), dest.clone().into());
        if action && ctx.diff {
            set_file_module_diff(&mut out, &dest, 0, None);
        }
    }
    Ok(if action { with_empty_diff(out) } else { out })
}

/// Writes `src` to `dest`; the state the write leaves comes back with it
/// unless `terse` (nothing wants it).
async fn write_dest(
    host: &dyn Host,
    dest: &str,
    src: Source<'_>,
    mode: Option<u32>,
    terse: bool,
) -> Result<Option<FileStat>, HostError> {
    if terse {
        host.write_from(dest, src, mode).await.map(|()| None)
    } else {
        host.write_stat(dest, src, mode).await
    }
}

/// The diff of the file module, which Ansible's copy action runs for a
/// destination whose content is already right: the path, and the mode
/// before and after when it changes.
fn set_file_module_diff(out: &mut Outcome, dest: &str, old_mode: u32, new_mode: Option<u32>) {
    let mut before = serde_json::json!({ "path": dest });
    let mut after = before.clone();
    if let Some(m) = new_mode {
        before["mode"] = format!("0{:03o}", old_mode & 0o7777).into();
        after["mode"] = format!("0{:03o}", m & 0o7777).into();
    }
    out.values.insert(
        "diff".into(),
        serde_json::json!({ "before": before, "after": after }),
    );
}

/// Ansible's copy action returns `diff: []` when it has no entry (without
/// --diff, or with nothing to show); entries replace it.
fn with_empty_diff(mut out: Outcome) -> Outcome {
    if out.diff.is_empty() && !out.values.contains_key("diff") {
        out.values.insert("diff".into(), Value::Array(Vec::new()));
    }
    out
}

/// What Ansible's copy action returns in check mode for a file it would
/// write: `changed` and the diff only (the module is not run).
fn check_mode_write(diff: Vec<Diff>) -> Outcome {
    let mut out = Outcome::changed();
    out.diff = diff;
    with_empty_diff(out)
}

/// Whether the destination's owner and group names matter: the result is
/// seen (it reports them), or the task asks for an owner or a group
/// (compared by name).
fn names_wanted(ctx: &ModuleContext<'_>) -> bool {
    ctx.result_seen
        || ["owner", "group"]
            .iter()
            .any(|k| ctx.args.get(*k).is_some_and(|v| !v.is_null()))
}

/// Where a single source file goes: inside dest when dest ends in `/`
/// or is a directory. Also what is at the returned path when that is
/// already known, with a small file's content (saving [`put_file`] round
/// trips).
pub async fn resolve_dest(
    ctx: &ModuleContext<'_>,
    dest: &str,
    name: &str,
) -> Result<(String, Option<Option<FileStat>>, Option<Vec<u8>>), HostError> {
    if dest.ends_with('/') {
        return Ok((format!("{dest}{name}"), None, None));
    }
    let (st, data, is_dir) = probe_dest(ctx, dest).await?;
    Ok(if is_dir {
        (format!("{dest}/{name}"), None, None)
    } else {
        (dest.to_string(), Some(st), data)
    })
}

/// What is at `dest` (a link itself, not its target), with its content
/// when it is a small regular file, in one request; and whether it is a
/// directory or a link to one (one more request for a link).
async fn probe_dest(
    ctx: &ModuleContext<'_>,
    dest: &str,
) -> Result<(Option<FileStat>, Option<Vec<u8>>, bool), HostError> {
    let (st, data) = match ctx
        .host
        .stat_read(dest, false, LARGE_FILE, names_wanted(ctx))
        .await?
    {
        Some((st, data)) => (Some(st), data),
        None => (None, None),
    };
    let is_dir = match &st {
        Some(s) if s.kind == "link" => ctx
            .host
            .stat(dest, true)
            .await?
            .is_some_and(|s| s.kind == "directory"),
        Some(s) => s.kind == "directory",
        None => false,
    };
    Ok((st, data, is_dir))
}

/// Files under a local directory, relative paths sorted; directories too
/// (so empty ones are created).
fn walk(root: &Path) -> std::io::Result<(Vec<String>, Vec<String>)> {
    let mut files = Vec::new();
    let mut dirs = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d)? {
            let e = e?;
            let path = e.path();
            let rel = path
                .strip_prefix(root)
                .map(|r| r.to_string_lossy().into_owned())
                .unwrap_or_default();
            if path.is_dir() {
                dirs.push(rel);
                stack.push(path);
            } else {
                files.push(rel);
            }
        }
    }
    files.sort();
    dirs.sort();
    Ok((files, dirs))
}

fn put_file_args(a: &Args, dest: String, src_label: String) -> PutFile {
    PutFile {
        dest,
        src_label,
        attrs: Attrs::from_args(a),
        backup: a.bool_or("backup", false),
        force: a.bool_or("force", true),
        follow: a.bool_or("follow", false),
        validate: a.str("validate"),
        directory_mode: a.mode("directory_mode"),
        known: None,
        known_data: None,
        create_parents: false,
    }
}

/// Local file's mode, for `mode: preserve`.
fn local_mode(path: &Path) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .ok()
        .map(|m| m.permissions().mode() & 0o7777)
}

#[async_trait]
impl Module for Copy {
    fn name(&self) -> &'static str {
        "copy"
    }

    fn spec(&self) -> Option<&'static Spec> {
        Some(&SPEC)
    }

    async fn run(&self, ctx: &ModuleContext<'_>) -> Result<Outcome, HostError> {
        let a = match SPEC.parse(ctx).await? {
            Ok(a) => a,
            Err(o) => return Ok(o),
        };
        let dest = a.str_or("dest", "");
        if let Some(content) = a.raw("content") {
            if dest.ends_with('/') {
                return Ok(Outcome::failed("can not use content with a dir as dest"));
            }
            // A structured value is written as JSON, as Ansible does.
            let text = match content {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            // Content has no name to give a file inside a directory.
            let into_dir = dest.ends_with('/');
            let (dest, known, known_data) = match a.str("_original_basename") {
                Some(name) => resolve_dest(ctx, &dest, &name).await?,
                None => {
                    let (lst, data, is_dir) = probe_dest(ctx, &dest).await?;
                    if is_dir {
                        return Ok(Outcome::failed("can not use content with a dir as dest"));
                    }
                    (dest, Some(lst), data)
                }
            };
            let mut p = put_file_args(&a, dest, INLINE_CONTENT.into());
            p.known = known;
            p.known_data = known_data;
            p.create_parents = into_dir;
            if p.attrs.mode == Some(Mode::Preserve) {
                p.attrs.mode = None;
            }
            return put_file(ctx, &p, text.as_bytes()).await;
        }
        let Some(src) = a.str("src") else {
            return Ok(Outcome::failed("src (or content) is required"));
        };
        if a.bool_or("remote_src", false) {
            return remote_copy(ctx, &a, &src, &dest).await;
        }
        let Some(local) = ctx.controller.find_file("files", &src) else {
            return Ok(Outcome::failed(format!(
                "Could not find or access '{src}' on the Ansible Controller."
            )));
        };
        if local.is_dir() {
            return dir_copy(ctx, &a, &src, &local, &dest).await;
        }
        // The file is never read whole: summed in one chunked pass, then
        // sent in chunks only when the host's copy differs.
        if let Err(e) = std::fs::File::open(&local) {
            return Ok(Outcome::failed(format!("Source {src} not readable: {e}")));
        }
        if let Some(want) = a.str("checksum") {
            let sum = match cached_digest(&local) {
                Ok(d) => d.sha1,
                Err(e) => return Ok(Outcome::failed(format!("Source {src} not readable: {e}"))),
            };
            if sum != want {
                return Ok(Outcome::failed(
                    "Copied file does not match the expected checksum. Transfer failed.",
                )
                .with("checksum", sum)
                .with("expected_checksum", want));
            }
        }
        let into_dir = dest.ends_with('/');
        let (dest, known, known_data) = resolve_dest(ctx, &dest, basename(&src)).await?;
        let mut p = put_file_args(&a, dest, local.display().to_string());
        p.known = known;
        p.known_data = known_data;
        p.create_parents = into_dir;
        if p.attrs.mode == Some(Mode::Preserve) {
            p.attrs.mode = local_mode(&local).map(Mode::Octal);
        }
        let plain = match decrypted(ctx, &a, &local) {
            Ok(p) => p,
            Err(e) => return Ok(Outcome::failed(e)),
        };
        put_from(ctx, &p, local_source(&local, &plain)).await
    }
}

/// A vault-encrypted controller source's plaintext when `decrypt` is on
/// (the default); `None` sends the file as it is.
pub(crate) fn decrypted(
    ctx: &ModuleContext<'_>,
    a: &Args,
    local: &Path,
) -> Result<Option<Vec<u8>>, String> {
    if !a.bool_or("decrypt", true) {
        return Ok(None);
    }
    ctx.controller.decrypt_local(local)
}

/// The source a controller file is sent from: its decrypted bytes, or
/// the file itself.
pub(crate) fn local_source<'a>(local: &'a Path, plain: &'a Option<Vec<u8>>) -> Source<'a> {
    match plain {
        Some(b) => Source::Bytes(b),
        None => Source::LocalFile(local),
    }
}

/// Copies a controller directory: every file through [`put_from`].
async fn dir_copy(
    ctx: &ModuleContext<'_>,
    a: &Args,
    src: &str,
    local: &Path,
    dest: &str,
) -> Result<Outcome, HostError> {
    // `src/` copies the contents; `src` the directory itself.
    let root = if src.ends_with('/') {
        dest.trim_end_matches('/').to_string()
    } else {
        format!("{}/{}", dest.trim_end_matches('/'), basename(src))
    };
    let (files, dirs) = match walk(local) {
        Ok(x) => x,
        Err(e) => return Ok(Outcome::failed(format!("Source {src} not readable: {e}"))),
    };
    let mut out = Outcome::ok()
        .with("dest", format!("{root}/"))
        .with("src", src);
    let dir_attrs = Attrs {
        mode: a.mode("directory_mode"),
        ..Attrs::from_args(a)
    };
    for d in std::iter::once(String::new()).chain(dirs) {
        let path = if d.is_empty() {
            root.clone()
        } else {
            format!("{root}/{d}")
        };
        if ctx.host.stat(&path, true).await?.is_none() {
            out.changed = true;
            if !ctx.check_mode {
                if let Err(e) = run_all(ctx.host, &[mkdirs_command(&path, &dir_attrs)]).await? {
                    return Ok(Outcome::failed(e));
                }
            }
        }
    }
    for f in files {
        let lp = local.join(&f);
        if let Err(e) = std::fs::File::open(&lp) {
            return Ok(Outcome::failed(format!(
                "Source {} not readable: {e}",
                lp.display()
            )));
        }
        let mut p = put_file_args(a, format!("{root}/{f}"), lp.display().to_string());
        p.create_parents = true;
        if p.attrs.mode == Some(Mode::Preserve) {
            p.attrs.mode = local_mode(&lp).map(Mode::Octal);
        }
        let plain = match decrypted(ctx, a, &lp) {
            Ok(p) => p,
            Err(e) => return Ok(Outcome::failed(e)),
        };
        let r = put_from(ctx, &p, local_source(&lp, &plain)).await?;
        if r.failed {
            return Ok(r);
        }
        out.changed |= r.changed;
        out.diff.extend(r.diff);
    }
    Ok(out)
}

/// Copies a file or directory that is already on the host.
async fn remote_copy(
    ctx: &ModuleContext<'_>,
    a: &Args,
    src: &str,
    dest: &str,
) -> Result<Outcome, HostError> {
    let Some(st) = ctx.host.stat(src, true).await? else {
        return Ok(Outcome::failed(format!("Source {src} not found")));
    };
    if st.kind == "directory" {
        let root = if src.ends_with('/') {
            dest.trim_end_matches('/').to_string()
        } else {
            format!("{}/{}", dest.trim_end_matches('/'), basename(src))
        };
        let (qs, qr) = (shell_quote(src.trim_end_matches('/')), shell_quote(&root));
        // Differences are found with diff -r (GNU and BusyBox have it).
        let same = ctx
            .host
            .exec(
                &format!("[ -d {qr} ] && diff -r -- {qs} {qr} >/dev/null 2>&1"),
                &ExecOptions::default(),
            )
            .await?
            .rc
            == 0;
        let mut out = Outcome::ok().with("dest", root.clone()).with("src", src);
        if !same {
            out.changed = true;
            if !ctx.check_mode {
                let cmd = format!("mkdir -p -- {qr} && cp -R -p -- {qs}/. {qr}/");
                if let Err(e) = run_all(ctx.host, &[cmd]).await? {
                    return Ok(Outcome::failed(format!(
                        "failed to copy: {src} to {root}: {e}"
                    )));
                }
            }
        }
        return Ok(out);
    }
    // The file stays on the host: compared by checksum there and copied
    // there, never through the controller.
    let into_dir = dest.ends_with('/');
    let (dest, known, known_data) = resolve_dest(ctx, dest, basename(src)).await?;
    let mut p = put_file_args(a, dest, src.to_string());
    p.known = known;
    p.known_data = known_data;
    p.create_parents = into_dir;
    if p.attrs.mode == Some(Mode::Preserve) {
        p.attrs.mode = Some(Mode::Octal(st.mode));
    }
    put_from(ctx, &p, Source::HostFile(src)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts() {
        let file = FileStat {
            kind: "file".into(),
            ..FileStat::default()
        };
        let link = FileStat {
            kind: "link".into(),
            ..FileStat::default()
        };
        assert_eq!(decide(None, None, true), Verdict::Write);
        assert_eq!(decide(None, None, false), Verdict::Write);
        assert_eq!(decide(Some(&file), Some(true), true), Verdict::Unchanged);
        assert_eq!(decide(Some(&file), Some(false), true), Verdict::Write);
        assert_eq!(decide(Some(&file), None, true), Verdict::Write);
        assert_eq!(
            decide(Some(&file), Some(false), false),
            Verdict::KeepExisting
        );
        assert_eq!(decide(Some(&link), Some(true), true), Verdict::Write);
    }

    #[test]
    fn checksums_and_diffs() {
        assert_eq!(
            sha1_hex(b"hello\n"),
            "f572d396fae9206628714fb2ce00f72e94f2258f"
        );
        let d = content_diff("/d", "s", Some(b"a\n"), b"b\n");
        assert_eq!((d.before.as_str(), d.after.as_str()), ("a\n", "b\n"));
        let d = content_diff("/d", "s", None, b"\0x");
        assert!(d.src_binary && !d.dst_binary);
        let v = d.to_value();
        assert_eq!(v["src_binary"], 1);
        assert_eq!(v["before"], "");
        assert!(v.get("after").is_none());
        let big = vec![b'x'; MAX_DIFF_SIZE as usize + 1];
        let d = content_diff("/d", "s", Some(&big), b"small\n");
        assert_eq!(d.dst_larger, Some(MAX_DIFF_SIZE));
        let v = d.to_value();
        assert_eq!(v["dst_larger"], MAX_DIFF_SIZE);
        assert!(v.get("before").is_none());
        assert_eq!(v["after"], "small\n");
    }

    #[test]
    fn local_files_are_summed_in_one_pass() {
        let dir = std::env::temp_dir().join(format!("herd-digest-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("f");
        // Bigger than one read buffer, so the chunks are summed in order.
        let data: Vec<u8> = (0..600_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(&p, &data).unwrap();
        let d = local_digest(&p).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(d.sha1, sha1_hex(&data));
        assert_eq!(d.size, data.len() as u64);
    }
}
