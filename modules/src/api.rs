//! The module API: what a module sees and what it returns.
//!
//! A module gets two handles, both implemented by the engine: [`Host`],
//! the managed host (run a command, read, write and stat files over the
//! task's connection, with privilege escalation already applied), and
//! [`Controller`], the controller's side (find a file on the role and
//! playbook search path, render a template with the one template
//! environment, read a local file). It validates its arguments, queries
//! the host, decides, and acts only when it must; `changed` comes from that
//! comparison, and in check mode it stops after deciding.

use std::path::{Path, PathBuf};

use async_trait::async_trait;
pub use serde_json::{Map, Value};

/// A failure to talk to the host at all (the connection broke, a timeout).
/// A host that answers with an error is not this: that is a failed
/// [`Outcome`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostError {
    pub message: String,
    /// True when the host cannot be reached (Ansible's `unreachable`).
    pub unreachable: bool,
}

impl HostError {
    pub fn unreachable(message: impl Into<String>) -> HostError {
        HostError {
            message: message.into(),
            unreachable: true,
        }
    }

    pub fn failed(message: impl Into<String>) -> HostError {
        HostError {
            message: message.into(),
            unreachable: false,
        }
    }
}

impl std::fmt::Display for HostError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for HostError {}

/// How to run one command.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExecOptions {
    /// Bytes fed to the command's standard input (none: `/dev/null`).
    pub stdin: Option<Vec<u8>>,
    /// Directory to run in.
    pub chdir: Option<String>,
    /// Extra environment (`environment:`), applied inside any become.
    pub env: Vec<(String, String)>,
    /// Seconds before the command's process group is killed.
    pub timeout: Option<u64>,
    /// The script is herd's own and leaves the shell as it found it: no
    /// `exit`, `exec` or `return`, no `cd`, `umask`, `export` or `set`,
    /// no variable but `o`, `p` and `z`. A connection may then run it
    /// in its long-lived shell without a fork (with no input, directory,
    /// environment or timeout given).
    pub own: bool,
}

impl ExecOptions {
    /// Options for one of herd's own scripts (see [`ExecOptions::own`]).
    pub fn own() -> ExecOptions {
        ExecOptions {
            own: true,
            ..ExecOptions::default()
        }
    }
}

/// What a command did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExecResult {
    pub rc: i32,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl ExecResult {
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
}

/// File metadata, as `stat` sees it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FileStat {
    /// `file`, `directory`, `link`, `fifo`, `socket`, `char`, `block`.
    pub kind: String,
    /// Permission bits (and setuid/setgid/sticky), e.g. 0o644.
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub owner: String,
    pub group: String,
    pub size: u64,
    pub mtime: f64,
    /// The target of a symbolic link.
    pub link_target: Option<String>,
}

/// The `stat -c` format of the line [`FileStat::parse`] reads; GNU and
/// BusyBox stat both know it.
pub const STAT_FORMAT: &str = "%f|%u|%g|%U|%G|%s|%Y";

impl FileStat {
    /// A [`FileStat`] from a line of `stat -c` [`STAT_FORMAT`] (or the
    /// same fields from `ls` when the host has no stat command, the mode
    /// as `ls:PERMISSIONS`) and, for a link, its target in `rest`.
    pub fn parse(path: &str, first: &str, rest: &str) -> Result<FileStat, HostError> {
        let f: Vec<&str> = first.split('|').collect();
        if f.len() != 7 {
            return Err(HostError::failed(format!(
                "could not stat {path}: unexpected output {first:?}"
            )));
        }
        let raw = match f[0].strip_prefix("ls:") {
            Some(perms) => mode_from_ls(perms),
            None => u32::from_str_radix(f[0], 16).unwrap_or(0),
        };
        let kind = match raw & 0o170000 {
            0o140000 => "socket",
            0o120000 => "link",
            0o060000 => "block",
            0o040000 => "directory",
            0o020000 => "char",
            0o010000 => "fifo",
            _ => "file",
        };
        let uid = f[1].parse().unwrap_or(0);
        let gid = f[2].parse().unwrap_or(0);
        let named = |s: &str, id: u32| {
            if s.is_empty() || s == "UNKNOWN" {
                id.to_string()
            } else {
                s.to_string()
            }
        };
        Ok(FileStat {
            kind: kind.into(),
            mode: raw & 0o7777,
            uid,
            gid,
            owner: named(f[3], uid),
            group: named(f[4], gid),
            size: f[5].parse().unwrap_or(0),
            mtime: f[6].parse().unwrap_or(0.0),
            link_target: if kind == "link" {
                Some(rest.strip_suffix('\n').unwrap_or(rest).to_string())
            } else {
                None
            },
        })
    }
}

/// The mode bits (type included) of an `ls -l` permission string such
/// as `drwxr-sr-t`.
fn mode_from_ls(perms: &str) -> u32 {
    let b = perms.as_bytes();
    if b.len() < 10 {
        return 0;
    }
    let mut mode = match b[0] {
        b'd' => 0o040000,
        b'l' => 0o120000,
        b'c' => 0o020000,
        b'b' => 0o060000,
        b'p' => 0o010000,
        b's' => 0o140000,
        _ => 0o100000,
    };
    for (i, &c) in b[1..10].iter().enumerate() {
        let bit = 1 << (8 - i);
        let exec_slot = i % 3 == 2;
        match c {
            b'r' | b'w' | b'x' => mode |= bit,
            b's' | b't' if exec_slot => mode |= bit,
            _ => {}
        }
        if exec_slot && matches!(c, b's' | b'S' | b't' | b'T') {
            mode |= match i {
                2 => 0o4000,
                5 => 0o2000,
                _ => 0o1000,
            };
        }
    }
    mode
}

/// Where the bytes of a [`Host::write_from`] come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source<'a> {
    /// Bytes in memory (rendered templates, edited lines).
    Bytes(&'a [u8]),
    /// A file on the controller, read in chunks as it is sent.
    LocalFile(&'a Path),
    /// A file already on the host, copied there without passing through
    /// the controller (`remote_src`).
    HostFile(&'a str),
}

/// The managed host, as the task's connection (and become user) reaches
/// it. Every command runs under POSIX `sh`.
#[async_trait]
pub trait Host: Send + Sync {
    /// The inventory name of the host.
    fn name(&self) -> &str;

    /// Runs `command` with `sh -c` semantics.
    async fn exec(&self, command: &str, opts: &ExecOptions) -> Result<ExecResult, HostError>;

    /// Reads a whole file; `None` when it does not exist. For small
    /// content work (lineinfile, slurp); big files are compared with
    /// [`Host::checksum`] instead of being read back.
    async fn read_file(&self, path: &str) -> Result<Option<Vec<u8>>, HostError>;

    /// Writes a file atomically (a temporary file in the same directory,
    /// then a rename), keeping the mode and owner of a file it replaces;
    /// `mode` sets the mode of a new file. The bytes come from `src`: a
    /// controller file travels in bounded chunks (never whole in memory),
    /// a host file is copied on the host.
    async fn write_from(
        &self,
        path: &str,
        src: Source<'_>,
        mode: Option<u32>,
    ) -> Result<(), HostError>;

    /// [`Host::write_from`] with bytes in memory.
    async fn write_file(
        &self,
        path: &str,
        data: &[u8],
        mode: Option<u32>,
    ) -> Result<(), HostError> {
        self.write_from(path, Source::Bytes(data), mode).await
    }

    /// The sha1 of a file's content as lowercase hex, computed on the
    /// host (`sha1sum` or what else it has); `None` when it does not exist.
    /// An error when it cannot be read or the host has no sha1 tool.
    async fn checksum(&self, path: &str) -> Result<Option<String>, HostError>;

    /// Metadata of a path; `None` when it does not exist. With `follow`,
    /// a symbolic link is followed.
    async fn stat(&self, path: &str, follow: bool) -> Result<Option<FileStat>, HostError>;

    /// [`Host::stat`], with the content of a regular file of at most
    /// `max` bytes, in one round trip where the connection can. The
    /// content is `None` when it was not read (too big, not a regular
    /// file, unreadable): call [`Host::read_file`] for the error then.
    /// Without `names` the owner and group may come as their ids (the
    /// host is spared looking the names up): for a caller that does not
    /// show them and compares no owner or group.
    async fn stat_read(
        &self,
        path: &str,
        follow: bool,
        max: u64,
        _names: bool,
    ) -> Result<Option<(FileStat, Option<Vec<u8>>)>, HostError> {
        stat_then_read(self, path, follow, max).await
    }

    /// What is at `path`, links followed, for a caller that needs only
    /// its kind (`file`, `directory`, …) and, for a readable regular file,
    /// its content: [`Host::stat_read`] without a size limit, where the
    /// connection may spare the host the `stat`. `None` when nothing is
    /// there; the content is `None` when it was not read.
    async fn read_kind(&self, path: &str) -> Result<Option<(String, Option<Vec<u8>>)>, HostError> {
        kind_by_stat_read(self, path).await
    }

    /// [`Host::exec`], then, when the command succeeded (status 0),
    /// [`Host::stat`] of `path`, in one round trip where the connection
    /// can: a module's action and the state it reports.
    async fn exec_stat(
        &self,
        command: &str,
        opts: &ExecOptions,
        path: &str,
        follow: bool,
    ) -> Result<(ExecResult, Option<FileStat>), HostError> {
        exec_then_stat(self, command, opts, path, follow).await
    }

    /// [`Host::write_from`], then [`Host::stat`] of `path` (not
    /// followed), in one round trip where the connection can.
    async fn write_stat(
        &self,
        path: &str,
        src: Source<'_>,
        mode: Option<u32>,
    ) -> Result<Option<FileStat>, HostError> {
        self.write_from(path, src, mode).await?;
        self.stat(path, false).await
    }

    /// [`Host::stat`] of `path` and, only when nothing is there,
    /// [`Host::exec_stat`] of `command`, in one round trip where the
    /// connection can: a module that makes what is missing looks and
    /// acts at once.
    async fn stat_else_exec(
        &self,
        path: &str,
        follow: bool,
        command: &str,
        opts: &ExecOptions,
    ) -> Result<StatElse, HostError> {
        stat_then_exec(self, path, follow, command, opts).await
    }
}

/// What [`Host::stat_else_exec`] found, or did.
#[derive(Clone, Debug)]
pub enum StatElse {
    /// Something is at the path: its stat. The command did not run.
    Found(FileStat),
    /// Nothing was: the command ran, and the stat after it when it
    /// succeeded.
    Ran(ExecResult, Option<FileStat>),
}

/// [`Host::stat_else_exec`] in separate requests.
pub async fn stat_then_exec<H: Host + ?Sized>(
    host: &H,
    path: &str,
    follow: bool,
    command: &str,
    opts: &ExecOptions,
) -> Result<StatElse, HostError> {
    if let Some(st) = host.stat(path, follow).await? {
        return Ok(StatElse::Found(st));
    }
    let (r, st) = host.exec_stat(command, opts, path, follow).await?;
    Ok(StatElse::Ran(r, st))
}

/// [`Host::read_kind`] through [`Host::stat_read`]: the metadata comes
/// along and is dropped but for the kind.
pub async fn kind_by_stat_read<H: Host + ?Sized>(
    host: &H,
    path: &str,
) -> Result<Option<(String, Option<Vec<u8>>)>, HostError> {
    Ok(host
        .stat_read(path, true, u64::MAX, false)
        .await?
        .map(|(st, data)| (st.kind, data)))
}

/// [`Host::stat_read`] in two requests: [`Host::stat`], then
/// [`Host::read_file`] for a regular file of at most `max` bytes.
pub async fn stat_then_read<H: Host + ?Sized>(
    host: &H,
    path: &str,
    follow: bool,
    max: u64,
) -> Result<Option<(FileStat, Option<Vec<u8>>)>, HostError> {
    let Some(st) = host.stat(path, follow).await? else {
        return Ok(None);
    };
    let data = if st.kind == "file" && st.size <= max {
        host.read_file(path).await?
    } else {
        None
    };
    Ok(Some((st, data)))
}

/// [`Host::exec_stat`] in two requests.
pub async fn exec_then_stat<H: Host + ?Sized>(
    host: &H,
    command: &str,
    opts: &ExecOptions,
    path: &str,
    follow: bool,
) -> Result<(ExecResult, Option<FileStat>), HostError> {
    let r = host.exec(command, opts).await?;
    let st = if r.rc == 0 {
        host.stat(path, follow).await?
    } else {
        None
    };
    Ok((r, st))
}

/// The controller's side of a task, as Ansible's action plugins have it.
pub trait Controller: Send + Sync {
    /// Finds `name` in the task's search path: the role's `kind/`
    /// (`files`, `templates`), the role, the playbook's `kind/`, the
    /// playbook directory. An absolute path is taken as it is.
    fn find_file(&self, kind: &str, name: &str) -> Option<PathBuf>;

    /// Renders template text with the task's variables and the one
    /// template environment.
    fn render_template(&self, text: &str, options: &TemplateOptions) -> Result<String, String>;

    /// Reads a file on the controller; a vault-encrypted file is
    /// decrypted (in memory) with the run's vault secrets.
    fn read_local(&self, path: &std::path::Path) -> std::io::Result<Vec<u8>>;

    /// The plaintext of a vault-encrypted controller file, for a module's
    /// `decrypt: true` source; `Ok(None)` when the file is not vault text
    /// (it is then sent as it is). `Err`: it is vault text that the run's
    /// secrets do not open, with the message to fail with.
    fn decrypt_local(&self, path: &std::path::Path) -> Result<Option<Vec<u8>>, String> {
        let _ = path;
        Ok(None)
    }

    /// The directory a relative controller path is taken from (Ansible's
    /// `path_dwim`): the playbook's directory, or the current one for an
    /// ad-hoc command.
    fn base_dir(&self) -> PathBuf {
        std::env::current_dir().unwrap_or_default()
    }
}

/// Options of the `template` module that change how Jinja reads a file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TemplateOptions {
    pub trim_blocks: bool,
    pub lstrip_blocks: bool,
    pub newline_sequence: String,
    pub block_start_string: String,
    pub block_end_string: String,
    pub variable_start_string: String,
    pub variable_end_string: String,
    pub comment_start_string: String,
    pub comment_end_string: String,
    /// The template's path on the controller (`template_path`).
    pub path: Option<PathBuf>,
}

impl Default for TemplateOptions {
    fn default() -> TemplateOptions {
        TemplateOptions {
            trim_blocks: true,
            lstrip_blocks: false,
            newline_sequence: "\n".into(),
            block_start_string: "{%".into(),
            block_end_string: "%}".into(),
            variable_start_string: "{{".into(),
            variable_end_string: "}}".into(),
            comment_start_string: "{#".into(),
            comment_end_string: "#}".into(),
            path: None,
        }
    }
}

/// Everything a module run gets.
pub struct ModuleContext<'a> {
    pub host: &'a dyn Host,
    pub controller: &'a dyn Controller,
    /// Arguments, templated, `omit` already removed.
    pub args: &'a Map<String, Value>,
    pub check_mode: bool,
    pub diff: bool,
    /// Whether anything sees the result beyond its status: a `register`,
    /// a `failed_when` (a failure prints the whole result), the output at
    /// `-v` or the JSON output. When nothing does, a module may leave out
    /// what only the result shows (a path's mode, owner, size, …) and the
    /// host work that finds it; what it does and how it reports ok,
    /// changed or failed stay the same.
    pub result_seen: bool,
    /// Of a seen result, where to ask which parts something may read (a
    /// registered result whose every use the engine can look for); it is
    /// asked only when a module wants to know, and answers `None` for
    /// any part. `None`: any part. See [`ModuleContext::reads`].
    pub demand: Option<&'a DemandOf<'a>>,
}

/// The engine's answer to which parts of a result something may read
/// (`None`: any part), worked out when first asked.
pub type DemandOf<'a> = dyn Fn() -> Option<std::sync::Arc<Demand>> + Send + Sync + 'a;

impl ModuleContext<'_> {
    /// Whether anything may read the part of the result at `path` (keys
    /// from the result down: `["stat", "checksum"]`). When nothing does,
    /// a module may leave that part out, and the host work that finds it.
    pub fn reads(&self, path: &[&str]) -> bool {
        self.result_seen
            && self
                .demand
                .is_none_or(|ask| ask().is_none_or(|d| d.covers(path)))
    }
}

/// The parts of a result something may read, as key paths from the
/// result down (`["stat", "size"]`); a path stands for all below it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Demand {
    pub paths: Vec<Vec<String>>,
}

impl Demand {
    /// Whether a read path is at, above or below `path`.
    pub fn covers(&self, path: &[&str]) -> bool {
        self.paths
            .iter()
            .any(|p| p.iter().zip(path).all(|(a, b)| a == b))
    }
}

/// Before and after, for `--diff`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Diff {
    pub before: String,
    pub after: String,
    pub before_header: Option<String>,
    pub after_header: Option<String>,
    /// Why a side is not shown, as Ansible's file diffs say it: the
    /// source or destination is bigger than the diff limit
    /// (`src_larger`/`dst_larger`, the limit) or binary.
    pub src_larger: Option<u64>,
    pub dst_larger: Option<u64>,
    pub src_binary: bool,
    pub dst_binary: bool,
}

impl Diff {
    /// The diff as Ansible's result holds it: `before`/`after` (with
    /// headers) when both sides are shown, the `*_larger`/`*_binary`
    /// notes otherwise.
    pub fn to_value(&self) -> Value {
        let mut m = Map::new();
        let before_shown = self.dst_larger.is_none() && !self.dst_binary;
        let after_shown = self.src_larger.is_none() && !self.src_binary;
        if before_shown {
            m.insert("before".into(), Value::String(self.before.clone()));
            if let Some(h) = &self.before_header {
                m.insert("before_header".into(), Value::String(h.clone()));
            }
        }
        if after_shown {
            m.insert("after".into(), Value::String(self.after.clone()));
            if let Some(h) = &self.after_header {
                m.insert("after_header".into(), Value::String(h.clone()));
            }
        }
        if let Some(n) = self.dst_larger {
            m.insert("dst_larger".into(), n.into());
        }
        if let Some(n) = self.src_larger {
            m.insert("src_larger".into(), n.into());
        }
        if self.dst_binary {
            m.insert("dst_binary".into(), 1.into());
        }
        if self.src_binary {
            m.insert("src_binary".into(), 1.into());
        }
        Value::Object(m)
    }
}

/// What a module did: Ansible's result dict, with the common keys typed.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Outcome {
    pub changed: bool,
    pub failed: bool,
    pub skipped: bool,
    pub msg: Option<String>,
    /// Module-specific return values (`rc`, `stdout`, `path`, `mode`, …).
    pub values: Map<String, Value>,
    pub diff: Vec<Diff>,
    pub warnings: Vec<String>,
}

impl Outcome {
    /// Nothing to do.
    pub fn ok() -> Outcome {
        Outcome::default()
    }

    /// Something was (or in check mode would be) changed.
    pub fn changed() -> Outcome {
        Outcome {
            changed: true,
            ..Outcome::default()
        }
    }

    /// The module failed with a message.
    pub fn failed(msg: impl Into<String>) -> Outcome {
        Outcome {
            failed: true,
            msg: Some(msg.into()),
            ..Outcome::default()
        }
    }

    /// Sets the module's own diff: one before/after dict in the result, as
    /// a module returns it to Ansible. ([`Outcome::diff`] is a list, the
    /// shape of the action plugins' results: copy, template.)
    pub fn set_diff(&mut self, diff: Diff) {
        self.values.insert("diff".into(), diff.to_value());
    }

    /// Adds a return value.
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Outcome {
        self.values.insert(key.to_string(), value.into());
        self
    }

    /// The result as Ansible registers it: the return values plus
    /// `changed`, `failed`, `msg`, `skipped`, `diff`, `warnings`, and the
    /// `stdout_lines`/`stderr_lines` of a `stdout`/`stderr`.
    pub fn to_result(&self) -> Map<String, Value> {
        let mut m = self.values.clone();
        // Ansible adds the `_lines` of any `stdout`/`stderr` a module
        // returns, whatever the module.
        for (text, lines) in [("stdout", "stdout_lines"), ("stderr", "stderr_lines")] {
            if let Some(Value::String(t)) = m.get(text) {
                if !m.contains_key(lines) {
                    let split = crate::commands::split_lines(t);
                    m.insert(lines.into(), Value::Array(split));
                }
            }
        }
        m.insert("changed".into(), Value::Bool(self.changed));
        if self.failed {
            m.insert("failed".into(), Value::Bool(true));
        } else {
            m.entry("failed").or_insert(Value::Bool(false));
        }
        if self.skipped {
            m.insert("skipped".into(), Value::Bool(true));
        }
        if let Some(msg) = &self.msg {
            m.insert("msg".into(), Value::String(msg.clone()));
        }
        if !self.warnings.is_empty() {
            m.insert(
                "warnings".into(),
                Value::Array(self.warnings.iter().cloned().map(Value::String).collect()),
            );
        }
        m
    }
}

/// A module: validate, query, decide, act.
#[async_trait]
pub trait Module: Send + Sync {
    /// The short name (`command`, `copy`).
    fn name(&self) -> &'static str;

    /// The module's arguments, as its validation reads them (`herd doc`
    /// prints them).
    fn spec(&self) -> Option<&'static crate::args::Spec> {
        None
    }

    /// Runs the module. An argument error is a failed outcome whose
    /// message names the argument and the module. A [`HostError`] means
    /// the host could not be reached.
    async fn run(&self, ctx: &ModuleContext<'_>) -> Result<Outcome, HostError>;
}

/// POSIX shell quoting: the one function every string going to a remote
/// shell passes through. Safe words stay bare; anything else is put in
/// single quotes, with `'` written as `'"'"'`.
pub fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.bytes().all(|b| {
            b.is_ascii_alphanumeric()
                || matches!(
                    b,
                    b'@' | b'%' | b'+' | b'=' | b':' | b',' | b'.' | b'/' | b'-' | b'_'
                )
        })
    {
        return s.to_string();
    }
    format!("'{}'", s.replace('\'', "'\"'\"'"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ls_permission_strings() {
        assert_eq!(mode_from_ls("-rw-r--r--"), 0o100644);
        assert_eq!(mode_from_ls("drwxrwsr-t"), 0o043775);
        assert_eq!(mode_from_ls("-rwSr--r--"), 0o104644);
        assert_eq!(mode_from_ls("lrwxrwxrwx"), 0o120777);
    }

    #[test]
    fn stat_lines() {
        let st = FileStat::parse("/l", "a1ff|0|0|root|UNKNOWN|3|1700000000", "/t\n").unwrap();
        assert_eq!(
            (
                st.kind.as_str(),
                st.mode,
                st.group.as_str(),
                st.link_target.as_deref()
            ),
            ("link", 0o777, "0", Some("/t"))
        );
        let st = FileStat::parse("/d", "ls:drwxr-x---|5|6|u|g|0|0", "").unwrap();
        assert_eq!((st.kind.as_str(), st.mode, st.uid), ("directory", 0o750, 5));
        assert!(FileStat::parse("/x", "garbage", "").is_err());
    }
}
