//! file — manage a path's state (file, directory, link, hard link,
//! touched, absent) and its mode, owner and group.
//!
//! Arguments:
//!   path (dest, name)   the path (required)
//!   state               file (default; the path must exist), directory
//!                       (created with its parents), link, hard, touch,
//!                       absent (removed, recursively for a directory).
//!                       Unset: the path's current state, or file.
//!   src                 target of a link or hard link
//!   mode                octal ('0644', 0644) or symbolic (u+x,g-w,o=r)
//!   owner, group        names or ids
//!   recurse             with state=directory, set attributes on every
//!                       path under it
//!   follow              act on a link's target (default true)
//!   force               replace a file or empty directory by a link, or
//!                       link to a missing src
//!   modification_time, access_time   for touch: 'preserve', 'now', or a
//!                       time in modification_time_format/access_time_format
//!                       (default %Y%m%d%H%M.%S, touch -t's format)
//!
//! Returns: path (dest for touch), state, mode, owner, group, uid, gid,
//! size, and src for links (in check mode, a path still to be made has
//! only its name; a link to a missing target, with follow, no attributes
//! and a warning). With --diff, `diff` is one dict of before/after path,
//! state, mode, owner, group and link target.
//!
//! Tested: tests/module_file.rs (every state, octal and symbolic modes,
//! recurse, follow, force, check, diff, bad args, awkward names), rerun
//! with a BusyBox userland (tests/module_busybox.rs) and in the BusyBox SSH
//! playbook (tests/ssh_busybox.rs); compared with ansible-playbook in run
//! conformance case 15.

use async_trait::async_trait;

use super::common::{
    attr_change, attr_commands, diff_attrs, mkdirs_command, mode_text, new_path_commands,
    run_all_stat, stat_or_error, stat_values, AttrChange, Attrs,
};
use crate::api::{
    shell_quote, ExecOptions, FileStat, HostError, Module, ModuleContext, Outcome, StatElse, Value,
};
use crate::args::{Param, Spec};
use crate::file_spec;

pub struct File;

static SPEC: Spec = file_spec!(
    "file",
    [
        Param::path("path").required().aliases(&["dest", "name"]),
        Param::str("state").choices(&["absent", "directory", "file", "hard", "link", "touch"]),
        Param::path("src"),
        Param::bool("recurse").default("false"),
        Param::bool("force").default("false"),
        Param::bool("follow").default("true"),
        Param::str("modification_time"),
        Param::str("modification_time_format").default("%Y%m%d%H%M.%S"),
        Param::str("access_time"),
        Param::str("access_time_format").default("%Y%m%d%H%M.%S"),
        Param::str("_original_basename"),
        Param::bool("_diff_peek"),
    ],
    &[],
    &[]
);

/// The validated arguments.
#[derive(Clone, Debug, Default)]
pub struct FileArgs {
    pub path: String,
    pub state: String,
    pub src: Option<String>,
    pub recurse: bool,
    pub force: bool,
    pub follow: bool,
    pub attrs: Attrs,
    pub mtime: Option<String>,
    pub atime: Option<String>,
}

/// What was observed on the host.
#[derive(Clone, Debug, Default)]
pub struct Facts {
    /// The path itself (not following a link).
    pub prev: Option<FileStat>,
    /// With follow, where a link leads and what is there.
    pub real: Option<(String, Option<FileStat>)>,
    /// For link and hard: whether src exists (relative to the link's
    /// directory), whether path is an empty directory, and (hard) whether
    /// path already is src.
    pub src_exists: bool,
    pub dir_empty: bool,
    pub same_inode: bool,
    /// With recurse: every path under the directory.
    pub tree: Vec<FileStat>,
}

/// What to do.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Plan {
    /// The path acted on (a followed link's target).
    pub path: String,
    pub changed: bool,
    /// Shell commands, run in order, all-or-nothing.
    pub commands: Vec<String>,
    pub before: Value,
    pub after: Value,
}

/// Where a symbolic link's relative `src` points, as Ansible checks it:
/// relative to the link's directory (or to `path` itself when that is a
/// directory).
pub fn link_source(path: &str, src: &str, prev: Option<&FileStat>) -> String {
    if src.starts_with('/') {
        return src.to_string();
    }
    let base = if prev.is_some_and(|s| s.kind == "directory") {
        path.trim_end_matches('/').to_string()
    } else {
        super::common::parent(path)
    };
    format!("{}/{src}", base.trim_end_matches('/'))
}

/// Decides, from the arguments and the observed state, what to run; pure.
pub fn plan(a: &FileArgs, f: &Facts) -> Result<Plan, String> {
    let prev_state = super::common::state_of(f.prev.as_ref()).to_string();
    let mut p = Plan {
        path: a.path.clone(),
        before: serde_json::json!({ "path": a.path }),
        after: serde_json::json!({ "path": a.path }),
        ..Plan::default()
    };
    let note_state = |p: &mut Plan, prev: &str, state: &str| {
        if prev != state {
            p.before["state"] = prev.into();
            p.after["state"] = state.into();
        }
    };
    let apply_attrs =
        |p: &mut Plan, path: &str, st: &FileStat, follow: bool| -> Result<(), String> {
            let c = attr_change(&a.attrs, st)?;
            if !c.is_empty() {
                p.changed = true;
                diff_attrs(&mut p.before, &mut p.after, st, &c);
                p.commands.extend(attr_commands(path, &c, follow));
            }
            Ok(())
        };
    match a.state.as_str() {
        "absent" => {
            if let Some(st) = &f.prev {
                note_state(&mut p, &prev_state, "absent");
                p.changed = true;
                let flag = if st.kind == "directory" { "-rf" } else { "-f" };
                p.commands
                    .push(format!("rm {flag} -- {}", shell_quote(&a.path)));
            }
        }
        "file" | "directory" => {
            let (path, st) = match (&f.prev, &f.real) {
                (Some(st), Some((real, target))) if st.kind == "link" && a.follow => {
                    (real.clone(), target.clone())
                }
                (prev, _) => (a.path.clone(), prev.clone()),
            };
            p.path = path.clone();
            let state = super::common::state_of(st.as_ref()).to_string();
            if a.state == "file" {
                let Some(st) = st.filter(|s| s.kind != "directory" && s.kind != "link") else {
                    return Err(format!("file ({path}) is {state}, cannot continue"));
                };
                apply_attrs(&mut p, &path, &st, a.follow)?;
            } else {
                note_state(&mut p, &state, "directory");
                match st {
                    None => {
                        p.changed = true;
                        p.commands.push(mkdirs_command(&path, &a.attrs));
                    }
                    Some(st) if st.kind == "directory" => {
                        apply_attrs(&mut p, &path, &st, a.follow)?;
                        if a.recurse {
                            let mut any = AttrChange::default();
                            for entry in &f.tree {
                                let c = attr_change(&a.attrs, entry)?;
                                any.mode = any.mode.or(c.mode);
                                any.owner = any.owner.or(c.owner);
                                any.group = any.group.or(c.group);
                            }
                            if !any.is_empty() {
                                p.changed = true;
                                let q = shell_quote(&path);
                                if let Some(o) = &any.owner {
                                    p.commands
                                        .push(format!("chown -R -h {} {q}", shell_quote(o)));
                                }
                                if let Some(g) = &any.group {
                                    p.commands
                                        .push(format!("chgrp -R -h {} {q}", shell_quote(g)));
                                }
                                if any.mode.is_some() {
                                    if let Some(m) = a.attrs.mode.as_ref().and_then(mode_text) {
                                        p.commands
                                            .push(format!("chmod -R {} {q}", shell_quote(&m)));
                                    }
                                }
                            }
                        }
                    }
                    Some(_) => return Err(format!("{path} already exists as a {state}")),
                }
            }
        }
        "touch" => {
            note_state(&mut p, &prev_state, "touch");
            let q = shell_quote(&a.path);
            let preserve = |t: &Option<String>| t.as_deref() == Some("preserve");
            let mut touch = Vec::new();
            let time_flag = |flag: &str, t: &Option<String>| match t.as_deref() {
                Some("now") | Some("preserve") | None => None,
                Some(t) => Some(format!("touch -c {flag} -t {} {q}", shell_quote(t))),
            };
            match &f.prev {
                None => {
                    p.changed = true;
                    touch.push(format!("touch -- {q}"));
                    touch.extend(new_path_commands(&a.path, &a.attrs));
                }
                Some(st) => {
                    if !(preserve(&a.mtime) && preserve(&a.atime)) {
                        // A touch always moves the times, so it is a change.
                        p.changed = true;
                        touch.push(match (preserve(&a.mtime), preserve(&a.atime)) {
                            (true, false) => format!("touch -c -a -- {q}"),
                            (false, true) => format!("touch -c -m -- {q}"),
                            _ => format!("touch -c -- {q}"),
                        });
                    }
                    p.commands.append(&mut touch);
                    apply_attrs(&mut p, &a.path, st, a.follow)?;
                }
            }
            touch.extend(time_flag("-m", &a.mtime));
            touch.extend(time_flag("-a", &a.atime));
            p.commands.extend(touch);
        }
        "link" | "hard" => {
            let hard = a.state == "hard";
            let Some(src) = &a.src else {
                // A link that exists may be managed without naming its target.
                if let Some(st) = f.prev.as_ref().filter(|s| s.kind == "link" && !hard) {
                    apply_attrs(&mut p, &a.path, st, false)?;
                    return Ok(p);
                }
                return Err(if hard {
                    "src is required for creating new hard links".into()
                } else {
                    "src is required for creating new symlinks".into()
                });
            };
            if !a.force && !f.src_exists {
                return Err(if hard {
                    "src does not exist".to_string()
                } else {
                    format!(
                        "src file does not exist, use 'force=yes' if you really want to create the link: {}",
                        link_source(&a.path, src, f.prev.as_ref())
                    )
                });
            }
            let want = if hard { "hard" } else { "link" };
            let q = shell_quote(&a.path);
            let qs = shell_quote(src);
            let create = if hard {
                format!("ln -f -- {qs} {q}")
            } else {
                format!("ln -sfn -- {qs} {q}")
            };
            match f.prev.as_ref() {
                None => {
                    note_state(&mut p, "absent", want);
                    p.changed = true;
                    p.commands.push(create);
                    p.commands.extend(new_path_commands(
                        &a.path,
                        &Attrs {
                            mode: None,
                            ..a.attrs.clone()
                        },
                    ));
                }
                Some(st) if st.kind == "directory" => {
                    if !a.force {
                        return Err(format!(
                            "refusing to convert from directory to {} for {}",
                            if hard { "hardlink" } else { "symlink" },
                            a.path
                        ));
                    }
                    if !f.dir_empty {
                        return Err(format!(
                            "the directory {} is not empty, refusing to convert it",
                            a.path
                        ));
                    }
                    note_state(&mut p, "directory", want);
                    p.changed = true;
                    p.commands.push(format!("rmdir -- {q}"));
                    p.commands.push(create);
                }
                Some(st) if st.kind == "link" && !hard => {
                    let old = st.link_target.clone().unwrap_or_default();
                    if &old != src {
                        p.before["src"] = old.into();
                        p.after["src"] = src.clone().into();
                        p.changed = true;
                        p.commands.push(create);
                    }
                    apply_attrs(&mut p, &a.path, st, false)?;
                }
                Some(st) if hard && f.same_inode => {
                    apply_attrs(&mut p, &a.path, st, true)?;
                }
                Some(st) => {
                    if !a.force {
                        return Err(if hard {
                            format!("Cannot link, {} exists at destination", st.kind)
                        } else {
                            format!(
                                "refusing to convert from {} to symlink for {}",
                                st.kind, a.path
                            )
                        });
                    }
                    note_state(&mut p, &st.kind, want);
                    p.changed = true;
                    p.commands.push(create);
                }
            }
        }
        other => return Err(format!("unexpected state {other}")),
    }
    Ok(p)
}

/// What [`bare_directory`]'s test prints, alone, when the path is a
/// directory, and when something else is there. The record separator in
/// front is a byte no command prints by chance.
const IS_DIRECTORY: &str = "\u{1e}herd: a directory\n";
const NOT_DIRECTORY: &str = "\u{1e}herd: not a directory\n";

/// `state=directory` with nothing asked of the directory but that it
/// exists, and a result nobody sees but its status: a shell test, not a
/// stat, and `make` (the commands that make the missing directory) run
/// when nothing is there, in one request. `None` when the task asks
/// more, or when something other than a directory (a link too) is at the
/// path: the whole module looks then.
async fn bare_directory(
    ctx: &ModuleContext<'_>,
    args: &FileArgs,
    a: &crate::args::Args,
    make: &str,
) -> Result<Option<Outcome>, HostError> {
    let bare = !ctx.result_seen
        && !ctx.diff
        && !args.recurse
        && args.attrs == Attrs::default()
        && args.mtime.is_none()
        && args.atime.is_none()
        && a.str("_original_basename").is_none();
    if !bare {
        return Ok(None);
    }
    let q = shell_quote(&args.path);
    let test = format!(
        "if [ -d {q} ] && ! [ -L {q} ]; then printf %s '{IS_DIRECTORY}'\n\
         elif [ -e {q} ] || [ -L {q} ]; then printf %s '{NOT_DIRECTORY}'\n\
         else {make}\nfi"
    );
    // Builtins and the plan's mkdir only: one of herd's own scripts.
    let r = ctx.host.exec(&test, &ExecOptions::own()).await?;
    let out = match stat_or_error(&r, None) {
        Ok(_) if r.stdout == IS_DIRECTORY.as_bytes() => Outcome::ok(),
        Ok(_) if r.stdout == NOT_DIRECTORY.as_bytes() => return Ok(None),
        Ok(_) => Outcome::changed(),
        // The whole module's failure: the message and the path.
        Err(e) => return Ok(Some(Outcome::failed(e).with("path", args.path.clone()))),
    };
    Ok(Some(
        out.with("path", args.path.clone())
            .with("state", "directory"),
    ))
}

/// Reads a NUL-separated answer of the fact script.
async fn shell_facts(ctx: &ModuleContext<'_>, script: &str) -> Result<String, HostError> {
    Ok(ctx
        .host
        .exec(script, &ExecOptions::default())
        .await?
        .stdout_text())
}

/// Parses `stat -c '%f %u %g %U %G'` lines into metadata.
fn parse_tree(out: &str) -> Vec<FileStat> {
    out.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            if f.len() < 5 {
                return None;
            }
            let raw = u32::from_str_radix(f[0], 16).ok()?;
            let kind = match raw & 0o170000 {
                0o040000 => "directory",
                0o120000 => "link",
                _ => "file",
            };
            Some(FileStat {
                kind: kind.into(),
                mode: raw & 0o7777,
                uid: f[1].parse().ok()?,
                gid: f[2].parse().ok()?,
                owner: f[3].into(),
                group: f[4].into(),
                ..FileStat::default()
            })
        })
        .collect()
}

#[async_trait]
impl Module for File {
    fn name(&self) -> &'static str {
        "file"
    }

    fn spec(&self) -> Option<&'static Spec> {
        Some(&SPEC)
    }

    async fn run(&self, ctx: &ModuleContext<'_>) -> Result<Outcome, HostError> {
        let a = match SPEC.parse(ctx).await? {
            Ok(a) => a,
            Err(o) => return Ok(o),
        };
        let mut args = FileArgs {
            path: a.str_or("path", ""),
            state: a.str_or("state", ""),
            src: a.str("src"),
            recurse: a.bool_or("recurse", false),
            force: a.bool_or("force", false),
            follow: a.bool_or("follow", true),
            attrs: Attrs::from_args(&a),
            mtime: a.str("modification_time"),
            atime: a.str("access_time"),
        };
        let host = ctx.host;
        // A directory to make is looked at and made in one request: the
        // plan for a missing path is known before looking.
        let mut made = None;
        let missing_plan = (args.state == "directory" && args.src.is_none() && !ctx.check_mode)
            .then(|| plan(&args, &Facts::default()).ok())
            .flatten()
            .filter(|p| !p.commands.is_empty());
        let mut prev = match missing_plan {
            Some(p) => {
                let cmds = p.commands.join(" && ");
                if let Some(out) = bare_directory(ctx, &args, &a, &cmds).await? {
                    return Ok(out);
                }
                match host
                    .stat_else_exec(&args.path, false, &cmds, &ExecOptions::default())
                    .await?
                {
                    StatElse::Found(st) => Some(st),
                    StatElse::Ran(r, st) => {
                        made = Some(stat_or_error(&r, st));
                        None
                    }
                }
            }
            None => host.stat(&args.path, false).await?,
        };
        // A directory given as path of a copied file means the file in it.
        if args.state != "link" && args.state != "absent" {
            if let Some(base) = a.str("_original_basename").or_else(|| {
                args.src
                    .as_ref()
                    .map(|s| super::common::basename(s).to_string())
            }) {
                if prev.as_ref().is_some_and(|s| s.kind == "directory") {
                    args.path = format!("{}/{base}", args.path.trim_end_matches('/'));
                    prev = host.stat(&args.path, false).await?;
                }
            }
        }
        if args.state.is_empty() {
            args.state = match prev.as_ref().map(|s| s.kind.as_str()) {
                Some("directory") => "directory",
                Some("link") => "link",
                Some(_) => "file",
                None if args.recurse => "directory",
                None => "file",
            }
            .into();
        }
        let fail = |msg: String, path: &str| Ok(Outcome::failed(msg).with("path", path));
        if args.recurse && args.state != "directory" {
            return fail(
                "recurse option requires state to be 'directory'".into(),
                &args.path,
            );
        }
        if args.src.is_some() && args.state != "link" && args.state != "hard" {
            return fail(
                "src option requires state to be 'link' or 'hard'".into(),
                &args.path,
            );
        }
        let mut facts = Facts {
            prev: prev.clone(),
            ..Facts::default()
        };
        let q = shell_quote(&args.path);
        if args.follow
            && matches!(args.state.as_str(), "file" | "directory")
            && prev.as_ref().is_some_and(|s| s.kind == "link")
        {
            let real = shell_facts(ctx, &format!("readlink -f -- {q}")).await?;
            let real = real.trim_end_matches('\n').to_string();
            let st = host.stat(&real, false).await?;
            facts.real = Some((real, st));
        }
        if let Some(src) = &args.src {
            let full = if args.state == "hard" {
                src.clone()
            } else {
                link_source(&args.path, src, prev.as_ref())
            };
            let out = shell_facts(
                ctx,
                &format!(
                    "[ -e {s} ] && printf e; [ -d {q} ] && [ -z \"$(ls -A -- {q})\" ] && printf m; [ {s} -ef {q} ] && printf i; true",
                    s = shell_quote(&full)
                ),
            )
            .await?;
            facts.src_exists = out.contains('e');
            facts.dir_empty = out.contains('m');
            facts.same_inode = out.contains('i');
        }
        if args.recurse && prev.as_ref().is_some_and(|s| s.kind == "directory") {
            let out = shell_facts(
                ctx,
                &format!("find {q} -mindepth 1 -exec stat -c '%f %u %g %U %G' {{}} +"),
            )
            .await?;
            facts.tree = parse_tree(&out);
        }
        let plan = match plan(&args, &facts) {
            Ok(p) => p,
            Err(e) => return fail(e, &args.path),
        };
        let mut out = if plan.changed {
            Outcome::changed()
        } else {
            Outcome::ok()
        };
        // Ansible's touch of a missing file in check mode stops before its
        // diff is made.
        let touch_new = args.state == "touch" && ctx.check_mode && prev.is_none();
        if ctx.diff && !touch_new {
            // One before/after dict, as Ansible's file module returns it.
            out.values.insert(
                "diff".into(),
                serde_json::json!({"before": plan.before, "after": plan.after}),
            );
        }
        // The state after the commands comes back with them.
        let mut after = None;
        if !ctx.check_mode && !plan.commands.is_empty() {
            // The plan for a missing path is the one already carried out.
            let done = match made {
                Some(done) => done,
                None => run_all_stat(host, &plan.commands, &plan.path).await?,
            };
            match done {
                Ok(st) => after = Some(st),
                Err(e) => return fail(e, &args.path),
            }
        }
        let key = if matches!(args.state.as_str(), "touch" | "link" | "hard") {
            "dest"
        } else {
            "path"
        };
        out.values.insert(key.into(), plan.path.clone().into());
        if args.state == "absent" {
            out.values.insert("state".into(), "absent".into());
            return Ok(out);
        }
        let st = if plan.changed && !ctx.check_mode {
            match after {
                Some(st) => st,
                None => host.stat(&plan.path, false).await?,
            }
        } else {
            facts.real.and_then(|(_, s)| s).or(prev)
        };
        let dangling = args.state == "link"
            && args.follow
            && !facts.src_exists
            && !ctx.check_mode
            && st.as_ref().is_some_and(|s| s.kind == "link");
        if dangling {
            // As Ansible's: a link to a missing target has no attributes to
            // report, and following it is warned about.
            if let Some(src) = &args.src {
                out.values.insert("src".into(), src.clone().into());
            }
            out.warnings.push(
                "Cannot set fs attributes on a non-existent symlink target. \
                 follow should be set to False to avoid this."
                    .into(),
            );
            return Ok(out);
        }
        if let Some(st) = st {
            for (k, v) in stat_values(&st) {
                out.values.insert(k.into(), v);
            }
            if st.kind == "link" {
                if let Some(t) = &st.link_target {
                    out.values.insert("src".into(), t.clone().into());
                }
            }
            if args.state == "hard" {
                out.values.insert("state".into(), "hard".into());
                if let Some(src) = &args.src {
                    out.values.insert("src".into(), src.clone().into());
                }
            }
        } else if ctx.check_mode {
            // Nothing there yet: Ansible names only what would be made.
            if matches!(args.state.as_str(), "link" | "hard") {
                if let Some(src) = &args.src {
                    out.values.insert("src".into(), src.clone().into());
                }
            }
        } else {
            out.values.insert("state".into(), args.state.clone().into());
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::Mode;

    fn st(kind: &str, mode: u32) -> FileStat {
        FileStat {
            kind: kind.into(),
            mode,
            owner: "me".into(),
            group: "us".into(),
            ..FileStat::default()
        }
    }

    fn args(path: &str, state: &str) -> FileArgs {
        FileArgs {
            path: path.into(),
            state: state.into(),
            follow: true,
            ..FileArgs::default()
        }
    }

    #[test]
    fn directory_plans() {
        let mut a = args("/a b/c", "directory");
        a.attrs.mode = Some(Mode::Octal(0o750));
        let p = plan(&a, &Facts::default()).unwrap();
        assert!(p.changed);
        assert_eq!(p.after["state"], "directory");
        assert_eq!(p.before["state"], "absent");
        assert!(
            p.commands[0].contains("mkdir -- '/a b'"),
            "{:?}",
            p.commands
        );
        assert!(p.commands[0].contains("chmod 0750 '/a b/c'"));
        let f = Facts {
            prev: Some(st("directory", 0o750)),
            ..Facts::default()
        };
        let p = plan(&a, &f).unwrap();
        assert!(!p.changed && p.commands.is_empty());
        let f = Facts {
            prev: Some(st("file", 0o644)),
            ..Facts::default()
        };
        assert_eq!(plan(&a, &f).unwrap_err(), "/a b/c already exists as a file");
    }

    #[test]
    fn file_and_absent_plans() {
        let a = args("/x", "file");
        assert_eq!(
            plan(&a, &Facts::default()).unwrap_err(),
            "file (/x) is absent, cannot continue"
        );
        let a = args("/x", "absent");
        assert!(!plan(&a, &Facts::default()).unwrap().changed);
        let f = Facts {
            prev: Some(st("directory", 0o755)),
            ..Facts::default()
        };
        let p = plan(&a, &f).unwrap();
        assert_eq!(p.commands, vec!["rm -rf -- /x"]);
    }

    #[test]
    fn link_plans() {
        let mut a = args("/l", "link");
        a.src = Some("/t".into());
        let f = Facts {
            prev: Some(FileStat {
                link_target: Some("/t".into()),
                ..st("link", 0o777)
            }),
            src_exists: true,
            ..Facts::default()
        };
        assert!(!plan(&a, &f).unwrap().changed);
        a.src = Some("/u".into());
        let p = plan(&a, &f).unwrap();
        assert!(p.changed);
        assert_eq!(p.before["src"], "/t");
        let f = Facts {
            prev: Some(st("file", 0o644)),
            src_exists: true,
            ..Facts::default()
        };
        assert!(plan(&a, &f)
            .unwrap_err()
            .starts_with("refusing to convert from file"));
    }
}
