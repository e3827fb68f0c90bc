//! What the file modules share: owner/group/mode handling, the `state`
//! of a path as Ansible names it, and dict-shaped diffs.

use crate::api::{shell_quote, ExecOptions, ExecResult, FileStat, Host, HostError, Value};
use crate::args::{apply_symbolic_mode, Args, Mode};

/// Wanted owner, group and mode of a path.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Attrs {
    pub mode: Option<Mode>,
    pub owner: Option<String>,
    pub group: Option<String>,
}

impl Attrs {
    pub fn from_args(a: &Args) -> Attrs {
        Attrs {
            mode: a.mode("mode"),
            owner: a.str("owner"),
            group: a.str("group"),
        }
    }
}

/// What must change for a path to have the wanted attributes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AttrChange {
    pub mode: Option<u32>,
    pub owner: Option<String>,
    pub group: Option<String>,
}

impl AttrChange {
    pub fn is_empty(&self) -> bool {
        self.mode.is_none() && self.owner.is_none() && self.group.is_none()
    }
}

/// Whether `who` (a name or a numeric id) names `name`/`id`.
fn same_id(who: &str, name: &str, id: u32) -> bool {
    who == name || who.parse::<u32>().is_ok_and(|n| n == id)
}

/// Compares the wanted attributes with a path's; pure. A symbolic mode is
/// applied to the current mode. A symbolic link's own mode is never
/// changed (Linux cannot).
pub fn attr_change(want: &Attrs, st: &FileStat) -> Result<AttrChange, String> {
    let mut c = AttrChange::default();
    let wanted_mode = match &want.mode {
        Some(Mode::Octal(m)) => Some(*m),
        Some(Mode::Symbolic(s)) => Some(apply_symbolic_mode(st.mode, s, st.kind == "directory")?),
        Some(Mode::Preserve) | None => None,
    };
    if let Some(m) = wanted_mode {
        if m != st.mode & 0o7777 && st.kind != "link" {
            c.mode = Some(m);
        }
    }
    if let Some(o) = &want.owner {
        if !same_id(o, &st.owner, st.uid) {
            c.owner = Some(o.clone());
        }
    }
    if let Some(g) = &want.group {
        if !same_id(g, &st.group, st.gid) {
            c.group = Some(g.clone());
        }
    }
    Ok(c)
}

/// Shell commands that apply `c` to `path` (`-h`: a link itself, not its
/// target).
pub fn attr_commands(path: &str, c: &AttrChange, follow: bool) -> Vec<String> {
    let q = shell_quote(path);
    let h = if follow { "" } else { "-h " };
    let mut cmds = Vec::new();
    if let Some(o) = &c.owner {
        cmds.push(format!("chown {h}{} {q}", shell_quote(o)));
    }
    if let Some(g) = &c.group {
        cmds.push(format!("chgrp {h}{} {q}", shell_quote(g)));
    }
    if let Some(m) = c.mode {
        cmds.push(format!("chmod {m:04o} {q}"));
    }
    cmds
}

/// Runs shell commands joined with `&&`; an error message on failure.
pub async fn run_all(host: &dyn Host, cmds: &[String]) -> Result<Result<(), String>, HostError> {
    if cmds.is_empty() {
        return Ok(Ok(()));
    }
    let r = host
        .exec(&cmds.join(" && "), &ExecOptions::default())
        .await?;
    if r.rc == 0 {
        Ok(Ok(()))
    } else {
        let err = r.stderr_text();
        Ok(Err(err.trim().to_string()))
    }
}

/// [`run_all`], then the state of `path` it leaves (not followed), in one
/// request where the connection can.
pub async fn run_all_stat(
    host: &dyn Host,
    cmds: &[String],
    path: &str,
) -> Result<Result<Option<FileStat>, String>, HostError> {
    let (r, st) = host
        .exec_stat(&cmds.join(" && "), &ExecOptions::default(), path, false)
        .await?;
    Ok(stat_or_error(&r, st))
}

/// The state commands left, or their error message.
pub fn stat_or_error(r: &ExecResult, st: Option<FileStat>) -> Result<Option<FileStat>, String> {
    if r.rc == 0 {
        Ok(st)
    } else {
        Err(r.stderr_text().trim().to_string())
    }
}

/// Records attribute changes in a dict diff as Ansible does.
pub fn diff_attrs(before: &mut Value, after: &mut Value, st: &FileStat, c: &AttrChange) {
    if let (Value::Object(b), Value::Object(a)) = (before, after) {
        if let Some(m) = c.mode {
            b.insert("mode".into(), format!("{:04o}", st.mode).into());
            a.insert("mode".into(), format!("{m:04o}").into());
        }
        if let Some(o) = &c.owner {
            b.insert("owner".into(), st.uid.into());
            a.insert("owner".into(), o.clone().into());
        }
        if let Some(g) = &c.group {
            b.insert("group".into(), st.gid.into());
            a.insert("group".into(), g.clone().into());
        }
    }
}

/// Ansible's name for what is at a path: `absent`, `file`, `directory`,
/// `link` (and `fifo` etc. as their kind).
pub fn state_of(st: Option<&FileStat>) -> &str {
    match st {
        None => "absent",
        Some(s) => s.kind.as_str(),
    }
}

/// Return values describing a path, as the file modules add them.
pub fn stat_values(st: &FileStat) -> Vec<(&'static str, Value)> {
    let state = match st.kind.as_str() {
        "directory" => "directory",
        "link" => "link",
        _ => "file",
    };
    vec![
        ("mode", format!("{:04o}", st.mode).into()),
        ("owner", st.owner.clone().into()),
        ("group", st.group.clone().into()),
        ("uid", st.uid.into()),
        ("gid", st.gid.into()),
        ("size", st.size.into()),
        ("state", state.into()),
    ]
}

/// A mode as chmod takes it.
pub fn mode_text(m: &Mode) -> Option<String> {
    match m {
        Mode::Octal(o) => Some(format!("{o:04o}")),
        Mode::Symbolic(s) => Some(s.clone()),
        Mode::Preserve => None,
    }
}

/// Attribute commands for a path that is being created (its current mode
/// is not known yet, so a symbolic mode goes to chmod as written).
pub fn new_path_commands(path: &str, attrs: &Attrs) -> Vec<String> {
    let q = shell_quote(path);
    let mut cmds = Vec::new();
    if let Some(o) = &attrs.owner {
        cmds.push(format!("chown -h {} {q}", shell_quote(o)));
    }
    if let Some(g) = &attrs.group {
        cmds.push(format!("chgrp -h {} {q}", shell_quote(g)));
    }
    if let Some(m) = attrs.mode.as_ref().and_then(mode_text) {
        cmds.push(format!("chmod {} {q}", shell_quote(&m)));
    }
    cmds
}

/// The directories `mkdir -p` would create for `path`, outermost first.
pub fn ancestors(path: &str) -> Vec<String> {
    let abs = path.starts_with('/');
    let mut cur = String::new();
    let mut out = Vec::new();
    for part in path.split('/').filter(|p| !p.is_empty()) {
        if abs || !cur.is_empty() {
            cur.push('/');
        }
        cur.push_str(part);
        out.push(cur.clone());
    }
    out
}

/// One shell command creating `path` and its missing parents, giving each
/// directory it creates the attributes `attrs`.
/// It stops at the first failure with that command's status, and needs
/// no `exit`: herd may run it as one of its own scripts
/// ([`crate::api::ExecOptions::own`]).
pub fn mkdirs_command(path: &str, attrs: &Attrs) -> String {
    let mut script = Vec::new();
    for d in ancestors(path) {
        let mut cmds = vec![format!("mkdir -- {}", shell_quote(&d))];
        cmds.extend(new_path_commands(&d, attrs));
        script.push(format!(
            "{{ [ -e {q} ] || {{ {}; }}; }}",
            cmds.join(" && "),
            q = shell_quote(&d)
        ));
    }
    format!("{{ {}; }}", script.join(" && "))
}

/// The parent directory of a path (`.` for a bare name).
pub fn parent(path: &str) -> String {
    let trimmed = path.trim_end_matches('/');
    match trimmed.rfind('/') {
        Some(0) => "/".into(),
        Some(i) => trimmed[..i].into(),
        None => ".".into(),
    }
}

/// The last component of a path.
pub fn basename(path: &str) -> &str {
    let trimmed = path.trim_end_matches('/');
    trimmed.rsplit('/').next().unwrap_or(trimmed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn st(kind: &str, mode: u32) -> FileStat {
        FileStat {
            kind: kind.into(),
            mode,
            uid: 1000,
            gid: 1000,
            owner: "me".into(),
            group: "us".into(),
            ..FileStat::default()
        }
    }

    #[test]
    fn attr_changes_compare_names_and_ids() {
        let want = Attrs {
            mode: Some(Mode::Octal(0o644)),
            owner: Some("1000".into()),
            group: Some("us".into()),
        };
        assert!(attr_change(&want, &st("file", 0o644)).unwrap().is_empty());
        let c = attr_change(&want, &st("file", 0o600)).unwrap();
        assert_eq!(c.mode, Some(0o644));
        let want = Attrs {
            mode: Some(Mode::Symbolic("u+x".into())),
            owner: Some("root".into()),
            group: None,
        };
        let c = attr_change(&want, &st("file", 0o644)).unwrap();
        assert_eq!(c.mode, Some(0o744));
        assert_eq!(c.owner.as_deref(), Some("root"));
        assert_eq!(
            attr_commands("/a b", &c, false),
            vec!["chown -h root '/a b'", "chmod 0744 '/a b'"]
        );
    }

    #[test]
    fn paths() {
        assert_eq!(parent("/a/b"), "/a");
        assert_eq!(parent("/a"), "/");
        assert_eq!(parent("a"), ".");
        assert_eq!(basename("/a/b/"), "b");
    }
}

/// A module's spec with the common attribute parameters added.
#[macro_export]
macro_rules! file_spec {
    ($module:expr, [$($p:expr),* $(,)?], $mutex:expr, $one_of:expr) => {
        $crate::args::Spec {
            module: $module,
            params: &[
                $($p,)*
                $crate::args::Param::mode("mode"),
                $crate::args::Param::str("owner"),
                $crate::args::Param::str("group"),
                $crate::args::Param::str("seuser"),
                $crate::args::Param::str("serole"),
                $crate::args::Param::str("setype"),
                $crate::args::Param::str("selevel"),
                $crate::args::Param::bool("unsafe_writes"),
                $crate::args::Param::str("attributes").aliases(&["attr"]),
            ],
            mutually_exclusive: $mutex,
            required_one_of: $one_of,
        }
    };
}
