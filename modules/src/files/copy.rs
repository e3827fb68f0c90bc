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
//! Returns: dest, src, checksum (sha1), md5sum, size, state, mode, owner,
//! group, uid, gid, backup_file. Changed only when content or attributes
//! differ. With --diff, the old and new content.

use std::path::Path;

use async_trait::async_trait;
use md5::Md5;
use sha1::{Digest, Sha1};

use super::common::{
    attr_change, attr_commands, basename, mkdirs_command, parent, run_all, stat_values, Attrs,
};
use crate::api::FileStat;
use crate::api::{
    shell_quote, Diff, ExecOptions, HostError, Module, ModuleContext, Outcome, Value,
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
        Param::bool("remote_src"),
        Param::bool("force").aliases(&["thirsty"]),
        Param::bool("backup"),
        Param::str("validate"),
        Param::mode("directory_mode"),
        Param::bool("follow"),
        Param::bool("local_follow"),
        Param::str("checksum"),
        Param::bool("decrypt"),
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
}

/// sha1 as hex, the checksum Ansible reports.
pub fn sha1_hex(data: &[u8]) -> String {
    hex(&Sha1::digest(data))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The source label of `content:` (the result's `src`).
const INLINE_CONTENT: &str = "dynamically generated";

/// The --diff entry for a content change: text only, as Ansible skips
/// binary files.
pub fn content_diff(dest: &str, src_label: &str, old: Option<&[u8]>, new: &[u8]) -> Diff {
    let text = |b: &[u8]| {
        if b.contains(&0) {
            None
        } else {
            std::str::from_utf8(b).ok().map(str::to_string)
        }
    };
    let (before, after) = match (old.map(text).unwrap_or(Some(String::new())), text(new)) {
        (Some(b), Some(a)) => (b, a),
        _ => (String::new(), "(binary file: diff skipped)\n".to_string()),
    };
    // As Ansible's copy action: the destination names the old side only
    // when it existed, and the new side when the content was given inline.
    Diff {
        before,
        after,
        before_header: old.map(|_| dest.to_string()),
        after_header: Some(if src_label == INLINE_CONTENT {
            dest.to_string()
        } else {
            src_label.to_string()
        }),
    }
}

/// Above this size, an existing file is compared by checksum on the host.
const LARGE_FILE: usize = 64 * 1024;

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

/// Decides from what is at dest (`st`, and `old`, its content when it is
/// a regular file) whether `new` must be written; pure.
pub fn decide(st: Option<&FileStat>, old: Option<&[u8]>, new: &[u8], force: bool) -> Verdict {
    match st {
        Some(_) if !force => Verdict::KeepExisting,
        Some(s) if s.kind == "link" => Verdict::Write,
        Some(_) if old == Some(new) => Verdict::Unchanged,
        _ => Verdict::Write,
    }
}

/// Writes `content` to `p.dest` when it differs, then sets attributes.
/// `dest` must already name the file (not a directory).
pub async fn put_file(
    ctx: &ModuleContext<'_>,
    p: &PutFile,
    content: &[u8],
) -> Result<Outcome, HostError> {
    let host = ctx.host;
    let mut dest = p.dest.clone();
    let mut st = match &p.known {
        Some(st) => st.clone(),
        None => host.stat(&dest, false).await?,
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
    let checksum = sha1_hex(content);
    let mut out = Outcome::ok()
        .with("dest", dest.clone())
        .with("src", p.src_label.clone())
        .with("checksum", checksum.clone())
        .with("md5sum", hex(&Md5::digest(content)))
        .with("size", content.len());
    if st.as_ref().is_some_and(|s| s.kind == "directory") {
        return Ok(Outcome::failed(format!("dest {dest} is a directory")).with("dest", dest));
    }
    if decide(st.as_ref(), None, content, p.force) == Verdict::KeepExisting {
        out.msg = Some("file already exists".into());
        return Ok(out);
    }
    let is_link = st.as_ref().is_some_and(|s| s.kind == "link");
    // Without --diff the old content itself is not needed: a size that
    // differs settles it, and a large file is compared by checksum on the
    // host rather than sent back.
    let mut old = None;
    let mut differs = None;
    if let Some(s) = st.as_ref().filter(|s| s.kind == "file") {
        if !ctx.diff && s.size != content.len() as u64 {
            differs = Some(true);
        } else if !ctx.diff && content.len() > LARGE_FILE {
            let r = host
                .exec(
                    &format!("sha1sum < {}", shell_quote(&dest)),
                    &ExecOptions::default(),
                )
                .await?;
            let theirs = r.stdout_text();
            if r.rc == 0 && theirs.len() >= 40 {
                differs = Some(theirs[..40] != checksum);
            }
        }
        if differs.is_none() {
            old = host.read_file(&dest).await?;
        }
    }
    let differs = differs
        .unwrap_or_else(|| decide(st.as_ref(), old.as_deref(), content, p.force) == Verdict::Write);
    if differs {
        out.changed = true;
        if ctx.diff {
            out.diff
                .push(content_diff(&dest, &p.src_label, old.as_deref(), content));
        }
    }
    let dir = parent(&dest);
    // An existing dest has its directory; otherwise it may need creating.
    let dir_missing = st.is_none() && host.stat(&dir, true).await?.is_none();
    if dir_missing {
        if ctx.check_mode {
            out.changed = true;
            out.msg = Some(format!("dest directory {dir} would be created"));
            return Ok(out);
        }
        let dir_attrs = Attrs {
            mode: p.directory_mode.clone(),
            ..p.attrs.clone()
        };
        if let Err(e) = run_all(host, &[mkdirs_command(&dir, &dir_attrs)]).await? {
            return Ok(Outcome::failed(format!(
                "Destination directory {dir} does not exist: {e}"
            )));
        }
    }
    if ctx.check_mode {
        // Attributes of an existing file can be compared now; a new file
        // is a change anyway.
        if let Some(s) = st.as_ref().filter(|_| !differs) {
            match attr_change(&p.attrs, s) {
                Ok(c) => out.changed |= !c.is_empty(),
                Err(e) => return Ok(Outcome::failed(e)),
            }
        }
        return Ok(out);
    }
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
                host.write_file(&tmp, content, new_mode.or(st.as_ref().map(|s| s.mode)))
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
            None => host.write_file(&dest, content, new_mode).await?,
        }
    }
    let now = match (&st, differs) {
        (Some(s), false) => s.clone(),
        _ => match host.stat(&dest, false).await? {
            Some(s) => s,
            None => {
                return Ok(Outcome::failed(format!(
                    "{dest} is missing after it was written"
                )))
            }
        },
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
        out.values.insert("path".into(), dest.into());
    }
    Ok(out)
}

/// Where a single source file goes: inside dest when dest ends in `/`
/// or is a directory. Also what is at the returned path when that is
/// already known (saving [`put_file`] a round trip).
pub async fn resolve_dest(
    ctx: &ModuleContext<'_>,
    dest: &str,
    name: &str,
) -> Result<(String, Option<Option<FileStat>>), HostError> {
    if dest.ends_with('/') {
        return Ok((format!("{dest}{name}"), None));
    }
    let st = ctx.host.stat(dest, false).await?;
    let is_dir = match &st {
        Some(s) if s.kind == "link" => ctx
            .host
            .stat(dest, true)
            .await?
            .is_some_and(|s| s.kind == "directory"),
        Some(s) => s.kind == "directory",
        None => false,
    };
    Ok(if is_dir {
        (format!("{dest}/{name}"), None)
    } else {
        (dest.to_string(), Some(st))
    })
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
            let (dest, known) = match a.str("_original_basename") {
                Some(name) => resolve_dest(ctx, &dest, &name).await?,
                None => {
                    let lst = ctx.host.stat(&dest, false).await?;
                    let is_dir = match &lst {
                        Some(s) if s.kind == "link" => ctx
                            .host
                            .stat(&dest, true)
                            .await?
                            .is_some_and(|s| s.kind == "directory"),
                        Some(s) => s.kind == "directory",
                        None => false,
                    };
                    if is_dir {
                        return Ok(Outcome::failed("can not use content with a dir as dest"));
                    }
                    (dest, Some(lst))
                }
            };
            let mut p = put_file_args(&a, dest, INLINE_CONTENT.into());
            p.known = known;
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
        let data = match ctx.controller.read_local(&local) {
            Ok(d) => d,
            Err(e) => return Ok(Outcome::failed(format!("Source {src} not readable: {e}"))),
        };
        if let Some(want) = a.str("checksum") {
            if sha1_hex(&data) != want {
                return Ok(Outcome::failed(
                    "Copied file does not match the expected checksum. Transfer failed.",
                )
                .with("checksum", sha1_hex(&data))
                .with("expected_checksum", want));
            }
        }
        let (dest, known) = resolve_dest(ctx, &dest, basename(&src)).await?;
        let mut p = put_file_args(&a, dest, local.display().to_string());
        p.known = known;
        if p.attrs.mode == Some(Mode::Preserve) {
            p.attrs.mode = local_mode(&local).map(Mode::Octal);
        }
        put_file(ctx, &p, &data).await
    }
}

/// Copies a controller directory: every file through [`put_file`].
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
        let data = match ctx.controller.read_local(&lp) {
            Ok(d) => d,
            Err(e) => {
                return Ok(Outcome::failed(format!(
                    "Source {} not readable: {e}",
                    lp.display()
                )))
            }
        };
        let mut p = put_file_args(a, format!("{root}/{f}"), lp.display().to_string());
        if p.attrs.mode == Some(Mode::Preserve) {
            p.attrs.mode = local_mode(&lp).map(Mode::Octal);
        }
        let r = put_file(ctx, &p, &data).await?;
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
    let Some(data) = ctx.host.read_file(src).await? else {
        return Ok(Outcome::failed(format!("Source {src} not found")));
    };
    let (dest, known) = resolve_dest(ctx, dest, basename(src)).await?;
    let mut p = put_file_args(a, dest, src.to_string());
    p.known = known;
    if p.attrs.mode == Some(Mode::Preserve) {
        p.attrs.mode = Some(Mode::Octal(st.mode));
    }
    put_file(ctx, &p, &data).await
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
        assert_eq!(decide(None, None, b"x", true), Verdict::Write);
        assert_eq!(decide(None, None, b"x", false), Verdict::Write);
        assert_eq!(
            decide(Some(&file), Some(b"x"), b"x", true),
            Verdict::Unchanged
        );
        assert_eq!(decide(Some(&file), Some(b"y"), b"x", true), Verdict::Write);
        assert_eq!(
            decide(Some(&file), Some(b"y"), b"x", false),
            Verdict::KeepExisting
        );
        assert_eq!(decide(Some(&link), None, b"x", true), Verdict::Write);
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
        assert!(d.after.contains("binary"));
    }
}
