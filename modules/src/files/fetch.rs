//! fetch — copy a file from the host to the controller.
//!
//! As Ansible's fetch action: the file lands in `dest/HOST/PATH` (the
//! inventory name, then the file's full path on the host), or with `flat`
//! in `dest` itself (a `dest` ending in `/` gets the file's name). A
//! relative `dest` is taken from the playbook's directory. The host's sha1
//! is compared with the controller copy's first, so an unchanged file is
//! not transferred again; after a transfer the copy's checksum is checked.
//! Check mode skips the task, as in Ansible.
//!
//! Tested: every step compared with ansible's fetch
//! (tests/module_fetch.rs).
//!
//! Arguments:
//!   src               the file on the host (required; not a directory)
//!   dest              the directory (or, with flat, the file) on the
//!                     controller (required)
//!   flat              no HOST/PATH layout
//!   fail_on_missing   fail when src is missing (default yes)
//!   validate_checksum check the copy against the host's sha1 (default yes)
//!
//! Returns: dest, checksum, remote_checksum, md5sum, remote_md5sum (null),
//! file (when not fetched).

use std::path::{Component, Path, PathBuf};

use async_trait::async_trait;
use md5::Md5;
use serde_json::Value;
use sha1::Digest;

use super::copy::{hex, sha1_hex};
use crate::api::{HostError, Module, ModuleContext, Outcome};
use crate::args::{Param, Spec};

pub struct Fetch;

static SPEC: Spec = Spec {
    module: "fetch",
    params: &[
        Param::path("src").required(),
        Param::path("dest").required(),
        Param::bool("flat").default("false"),
        Param::bool("fail_on_missing").default("true"),
        Param::bool("validate_checksum").default("true"),
    ],
    mutually_exclusive: &[],
    required_one_of: &[],
};

/// `os.path.normpath`: `.` and `x/..` folded, without touching the disk.
pub fn normpath(p: &Path) -> PathBuf {
    let mut out: Vec<Component<'_>> = Vec::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => match out.last() {
                Some(Component::Normal(_)) => {
                    out.pop();
                }
                Some(Component::RootDir) => {}
                _ => out.push(c),
            },
            other => out.push(other),
        }
    }
    out.iter().collect()
}

/// Where the file goes on the controller.
pub fn destination(
    base: &Path,
    dest: &str,
    src: &str,
    host: &str,
    flat: bool,
) -> Result<PathBuf, String> {
    let rooted = |p: &str| {
        if p.starts_with('/') {
            PathBuf::from(p)
        } else {
            base.join(p)
        }
    };
    let path = if flat {
        if dest.ends_with('/') {
            let name = src.rsplit('/').next().unwrap_or(src);
            let d = rooted(&format!("{dest}{name}"));
            if d.is_dir() {
                return Err(format!("calculated dest '{dest}{name}' is an existing directory, use another path that does not point to an existing directory"));
            }
            d
        } else {
            let d = rooted(dest);
            if d.is_dir() {
                return Err("dest is an existing directory, use a trailing slash if you want to fetch src into that directory".into());
            }
            d
        }
    } else {
        // `dest/HOST/` + the source path as it is (absolute: `//` folded).
        PathBuf::from(format!("{}/{host}/{src}", rooted(dest).display()))
    };
    Ok(normpath(&path))
}

#[async_trait]
impl Module for Fetch {
    fn name(&self) -> &'static str {
        "fetch"
    }

    fn spec(&self) -> Option<&'static Spec> {
        Some(&SPEC)
    }

    async fn run(&self, ctx: &ModuleContext<'_>) -> Result<Outcome, HostError> {
        if ctx.check_mode {
            return Ok(Outcome {
                skipped: true,
                msg: Some("check mode not (yet) supported for this module".into()),
                ..Outcome::ok()
            });
        }
        // The action checks these itself, with its own words.
        let given = |k: &str| ctx.args.get(k).is_some_and(|v| !v.is_null());
        if !given("src") || !given("dest") {
            return Ok(Outcome::failed("src and dest are required"));
        }
        let a = match SPEC.parse(ctx).await? {
            Ok(a) => a,
            Err(o) => return Ok(o),
        };
        let src = a.str_or("src", "");
        let dest = a.str_or("dest", "");
        let fail_on_missing = a.bool_or("fail_on_missing", true);
        // Ansible says "not transferring, ignored" even when it fails.
        let missing = |msg: &str| {
            let text = format!("{msg}, not transferring, ignored");
            if fail_on_missing {
                Outcome::failed(text)
            } else {
                let mut o = Outcome::ok();
                o.msg = Some(text);
                o.values.insert("file".into(), Value::String(src.clone()));
                o
            }
        };
        match ctx.host.stat(&src, true).await? {
            None => return Ok(missing("the remote file does not exist")),
            Some(st) if st.kind == "directory" => {
                let msg = "remote file is a directory, fetch cannot work on directories";
                return Ok(if fail_on_missing {
                    Outcome::failed(msg)
                } else {
                    let mut o = Outcome::ok();
                    o.msg = Some(format!("{msg}, not transferring, ignored"));
                    o
                });
            }
            Some(_) => {}
        }
        let remote_checksum = match ctx.host.checksum(&src).await? {
            Some(c) => c,
            None => return Ok(missing("the remote file does not exist")),
        };
        let target = match destination(
            &ctx.controller.base_dir(),
            &dest,
            &src,
            ctx.host.name(),
            a.bool_or("flat", false),
        ) {
            Ok(t) => t,
            Err(msg) => return Ok(Outcome::failed(msg)),
        };
        let local = std::fs::read(&target).ok();
        let local_checksum = local.as_ref().map(|d| sha1_hex(d));
        let md5_of = |d: &[u8]| hex(&Md5::digest(d));
        let dest_text = target.display().to_string();
        if local_checksum.as_deref() == Some(remote_checksum.as_str()) {
            let mut o = Outcome::ok()
                .with("dest", dest_text)
                .with("file", src.clone())
                .with("md5sum", local.as_deref().map(md5_of))
                .with("checksum", local_checksum);
            o.msg = None;
            return Ok(o);
        }
        let Some(data) = ctx.host.read_file(&src).await? else {
            return Ok(missing("the remote file does not exist"));
        };
        if let Some(dir) = target.parent() {
            if let Err(e) = std::fs::create_dir_all(dir) {
                return Ok(Outcome::failed(format!("Failed to fetch the file: {e}")));
            }
        }
        // Written beside the target, then renamed: no half-written copy.
        let tmp = target.with_file_name(format!(
            ".{}.herd-{}",
            target
                .file_name()
                .map(|n| n.to_string_lossy())
                .unwrap_or_default(),
            std::process::id()
        ));
        if let Err(e) = std::fs::write(&tmp, &data).and_then(|_| std::fs::rename(&tmp, &target)) {
            let _ = std::fs::remove_file(&tmp);
            return Ok(Outcome::failed(format!("Failed to fetch the file: {e}")));
        }
        let new_checksum = sha1_hex(&data);
        let mut o = if a.bool_or("validate_checksum", true) && new_checksum != remote_checksum {
            Outcome::failed("checksum mismatch").with("file", src.clone())
        } else {
            Outcome::changed()
        };
        o = o
            .with("md5sum", md5_of(&data))
            .with("dest", dest_text)
            .with("remote_md5sum", Value::Null)
            .with("checksum", new_checksum)
            .with("remote_checksum", remote_checksum);
        Ok(o)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts() {
        let base = Path::new("/pb");
        assert_eq!(
            destination(base, "out", "/etc/hosts", "web1", false).unwrap(),
            PathBuf::from("/pb/out/web1/etc/hosts")
        );
        assert_eq!(
            destination(base, "/o/", "rel/x.conf", "h", false).unwrap(),
            PathBuf::from("/o/h/rel/x.conf")
        );
        assert_eq!(
            destination(base, "/o/", "/etc/hosts", "h", true).unwrap(),
            PathBuf::from("/o/hosts")
        );
        assert_eq!(
            destination(base, "f/../g/x", "/etc/hosts", "h", true).unwrap(),
            PathBuf::from("/pb/g/x")
        );
    }
}
