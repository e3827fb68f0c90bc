//! What the in-place editors (lineinfile, blockinfile, replace) share:
//! reading the file, and writing the new content back through the one
//! file writer with Ansible's messages and diff headers.

use super::common::{stat_values, Attrs};
use super::copy::{put_file, PutFile};
use crate::api::{Diff, Host, HostError, ModuleContext, Outcome};
use crate::args::Args;

/// The file as read: `None` when it does not exist.
pub struct Current {
    pub text: Option<String>,
}

/// Reads `path`; a directory or a non-UTF-8 file is an error outcome.
pub async fn read_current(
    ctx: &ModuleContext<'_>,
    path: &str,
) -> Result<Result<Current, Outcome>, HostError> {
    // Only the kind is looked at here.
    let data = match ctx.host.read_kind(path).await? {
        None => None,
        Some((kind, _)) if kind == "directory" => {
            return Ok(Err(Outcome::failed(format!(
                "Path {path} is a directory !"
            ))
            .with("rc", 256)));
        }
        Some((_, Some(data))) => Some(data),
        // Not read along (not a regular file, unreadable): read it for
        // its content or its error.
        Some((_, None)) => ctx.host.read_file(path).await?,
    };
    Ok(Ok(Current {
        text: match data {
            None => None,
            Some(d) => match String::from_utf8(d) {
                Ok(t) => Some(t),
                Err(_) => {
                    return Ok(Err(Outcome::failed(format!(
                        "{path} is not UTF-8 text; herd edits text files only"
                    ))))
                }
            },
        },
    }))
}

/// Writes `new` (if it differs from `old`) and the attributes, reporting
/// as the editors do: `msg` for the content change, with " and ownership,
/// perms or SE linux context changed" when attributes changed too, and the
/// backup under `backup_key`.
#[allow(clippy::too_many_arguments)]
pub async fn write_back(
    ctx: &ModuleContext<'_>,
    a: &Args,
    path: &str,
    old: Option<&str>,
    new: &str,
    msg: &str,
    header: &str,
    backup_key: &str,
) -> Result<Outcome, HostError> {
    let content_changed = old != Some(new);
    let mut out = if content_changed {
        Outcome::changed()
    } else {
        Outcome::ok()
    };
    if ctx.diff {
        out.diff.push(Diff {
            before: old.unwrap_or("").to_string(),
            after: new.to_string(),
            before_header: Some(header.to_string()),
            after_header: Some(header.to_string()),
            ..Diff::default()
        });
    }
    let mut msg = msg.to_string();
    if old.is_none() && ctx.check_mode {
        out.msg = Some(msg);
        return Ok(out);
    }
    let attrs = Attrs::from_args(a);
    if !content_changed && attrs == Attrs::default() {
        // Nothing to write and no attributes to compare: no more round trips.
        out.msg = Some(msg);
        return Ok(out);
    }
    let p = PutFile {
        dest: path.to_string(),
        src_label: path.to_string(),
        attrs,
        backup: a.bool_or("backup", false),
        force: true,
        follow: true,
        validate: a.str("validate"),
        directory_mode: None,
        // A file the editor found missing is not looked up again.
        known: old.is_none().then_some(None),
        known_data: None,
        // The editors make a missing directory (lineinfile's `create`).
        create_parents: true,
    };
    // The writer reports its own diff; the editor's is the one above.
    // The editor's result holds none of the writer's stat either.
    let quiet = ModuleContext {
        diff: false,
        result_seen: false,
        demand: None,
        ..*ctx
    };
    let r = put_file(&quiet, &p, new.as_bytes()).await?;
    if r.failed {
        let mut f = Outcome::failed(match r.values.get("exit_status") {
            Some(rc) => format!(
                "failed to validate: rc:{rc} error:{}",
                r.values
                    .get("stderr")
                    .and_then(|v| v.as_str())
                    .unwrap_or("")
            ),
            None => r.msg.unwrap_or_default(),
        });
        f.diff = out.diff;
        return Ok(f);
    }
    if r.changed && !content_changed {
        if !msg.is_empty() {
            msg.push_str(" and ");
        }
        msg.push_str("ownership, perms or SE linux context changed");
        out.changed = true;
    }
    if let Some(b) = r.values.get("backup_file") {
        out.values.insert(backup_key.into(), b.clone());
    }
    out.msg = Some(msg);
    Ok(out)
}

/// What Ansible adds to any result that names a `path` (or `dest`) that
/// exists: the path's mode, owner, group, ids, size and `state` (its
/// kind), the state replacing the module's own.
pub async fn with_path_info(
    host: &dyn Host,
    mut out: Outcome,
    path: &str,
) -> Result<Outcome, HostError> {
    if let Some(st) = host.stat(path, false).await? {
        for (k, v) in stat_values(&st) {
            out.values.insert(k.into(), v);
        }
    }
    Ok(out)
}

/// The `diff` lineinfile and blockinfile return whether or not --diff is
/// on, as Ansible's do: the content entry (its text only with --diff) and
/// the file-attributes entry; in check mode for a file still to be
/// created, the content entry alone. It replaces the outcome's diff
/// entries; a failure keeps none.
pub fn set_editor_diff(ctx: &ModuleContext<'_>, out: &mut Outcome, path: &str, old: Option<&str>) {
    if out.failed {
        out.diff.clear();
        return;
    }
    let (before, after) = match out.diff.first() {
        Some(d) if ctx.diff => (d.before.clone(), d.after.clone()),
        _ => (String::new(), String::new()),
    };
    out.diff.clear();
    let content = serde_json::json!({
        "before": before,
        "after": after,
        "before_header": format!("{path} (content)"),
        "after_header": format!("{path} (content)"),
    });
    let value = if old.is_none() && ctx.check_mode {
        content
    } else {
        let attrs = serde_json::json!({
            "before_header": format!("{path} (file attributes)"),
            "after_header": format!("{path} (file attributes)"),
        });
        serde_json::Value::Array(vec![content, attrs])
    };
    out.values.insert("diff".into(), value);
}
