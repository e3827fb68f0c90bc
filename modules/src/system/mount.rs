//! mount — manage a mount point's line in fstab and its mount state, as
//! ansible.posix.mount does on Linux.
//!
//! States: `present` writes the fstab line (src, path, fstype, opts,
//! dump, passno; spaces, `&` and `\` escaped as \040, \046, \134);
//! `mounted` also makes the directory and mounts it (or remounts it when
//! its line changed); `unmounted` unmounts without touching fstab;
//! `absent` removes the line, unmounts and removes the directory;
//! `absent_from_fstab` only removes the line; `remounted` remounts
//! (`mount -o remount[,opts]`, falling back to umount + mount);
//! `ephemeral` mounts with the options on the command line and leaves
//! fstab alone (it fails if another source is mounted there). A line
//! matches by its mount point (swap lines, `none`, by their source); an
//! existing line keeps its place and is rewritten only when a field
//! differs. `boot: no` adds `noauto`. A failed mount puts fstab back as it
//! was and removes the directories it made. A missing fstab file is
//! created first (even in check mode, as Ansible does). Linux hosts only:
//! other systems are refused with a message.
//!
//! Tested: for real inside a mount namespace (`unshare -m`, tmpfs mounts
//! on scratch directories, a scratch fstab), every step compared with
//! ansible.posix.mount's output, fstab text and mount table
//! (tests/module_mount.rs).
//!
//! Arguments:
//!   path         the mount point (required; alias name)
//!   state        mounted, unmounted, present, absent, absent_from_fstab,
//!                remounted, ephemeral (required)
//!   src          the device or source (required for mounted, present,
//!                ephemeral)
//!   fstype       the filesystem type (required for mounted, present,
//!                ephemeral)
//!   opts         mount options (default defaults)
//!   dump         fstab's dump field (default 0)
//!   passno       fstab's pass field (default 0)
//!   fstab        the fstab file (default /etc/fstab; passed to mount
//!                as -T when another)
//!   boot         mount at boot (default yes; no adds noauto)
//!   backup       keep the old fstab as FILE.PID.YYYY-MM-DD@HH:MM:SS~
//!   opts_no_log  hide opts in the output
//!
//! Returns: name, src, fstype, opts, dump, passno, fstab, boot (yes/no),
//! backup_file; no diff (as Ansible).

use async_trait::async_trait;
use serde_json::Value;

use crate::api::{shell_quote, ExecOptions, ExecResult, HostError, Module, ModuleContext, Outcome};
use crate::args::{Param, RequiredIf, Spec};
use crate::files::copy::{put_file, PutFile};

pub struct Mount;

static SPEC: Spec = Spec {
    module: "mount",
    params: &[
        Param::bool("boot").default("true"),
        Param::str("dump").default("0"),
        Param::str("fstab"),
        Param::str("fstype"),
        Param::path("path").required().aliases(&["name"]),
        Param::str("opts"),
        Param::bool("opts_no_log").default("false"),
        Param::str("passno").default("0"),
        Param::path("src"),
        Param::bool("backup").default("false"),
        Param::str("state").required().choices(&[
            "absent",
            "absent_from_fstab",
            "mounted",
            "present",
            "unmounted",
            "remounted",
            "ephemeral",
        ]),
    ],
    mutually_exclusive: &[],
    required_one_of: &[],
};

static REQUIRED_IF: &[RequiredIf] = &[
    RequiredIf {
        key: "state",
        default: None,
        value: "mounted",
        needs: &["src", "fstype"],
    },
    RequiredIf {
        key: "state",
        default: None,
        value: "present",
        needs: &["src", "fstype"],
    },
    RequiredIf {
        key: "state",
        default: None,
        value: "ephemeral",
        needs: &["src", "fstype"],
    },
];

/// A field as fstab writes it: space, `&` and `\` as octal escapes.
pub fn escape(v: &str) -> String {
    v.replace('\\', "\\134")
        .replace(' ', "\\040")
        .replace('&', "\\046")
}

/// The wanted fstab line, its fields already escaped.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Line {
    pub src: String,
    pub name: String,
    pub fstype: String,
    pub opts: String,
    pub dump: String,
    pub passno: String,
    /// The source as given (unescaped), when given: a swap line (`none`)
    /// is matched by it.
    pub raw_src: Option<String>,
}

/// The file's lines as Python's `readlines` gives them.
fn lines_of(text: &str) -> Vec<String> {
    text.split_inclusive('\n').map(str::to_string).collect()
}

/// Sets the line in fstab text: the old lines (each ending in a newline),
/// the new ones, and whether anything changed.
pub fn set_line(text: &str, want: &Line) -> (Vec<String>, Vec<String>, bool) {
    let mut old = Vec::new();
    let mut out = Vec::new();
    let mut exists = false;
    let mut changed = false;
    for mut line in lines_of(text) {
        if !line.ends_with('\n') {
            line.push('\n');
        }
        old.push(line.clone());
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') {
            out.push(line);
            continue;
        }
        let fields: Vec<&str> = line
            .split('#')
            .next()
            .unwrap_or("")
            .split_whitespace()
            .collect();
        if !(4..=6).contains(&fields.len()) {
            out.push(line);
            continue;
        }
        // Missing dump and passno never equal a wanted value: Ansible
        // fills them with the number 0, which differs from the text '0'.
        let mut ld: Vec<Option<String>> = fields.iter().map(|f| Some(f.to_string())).collect();
        ld.resize(6, None);
        let (src, name, fstype) = (fields[0], fields[1], fields[2]);
        let swap_other = want.raw_src.is_some()
            && name == "none"
            && fstype == "swap"
            && Some(src) != want.raw_src.as_deref();
        if name != want.name || swap_other {
            out.push(line);
            continue;
        }
        exists = true;
        let wanted = [
            (0, &want.src),
            (2, &want.fstype),
            (3, &want.opts),
            (4, &want.dump),
            (5, &want.passno),
        ];
        for (i, v) in wanted {
            if ld[i].as_deref() != Some(v.as_str()) {
                ld[i] = Some(v.clone());
                changed = true;
            }
        }
        if changed {
            let f = |i: usize| ld[i].clone().unwrap_or_else(|| "0".into());
            out.push(format!(
                "{} {} {} {} {} {}\n",
                f(0),
                f(1),
                f(2),
                f(3),
                f(4),
                f(5)
            ));
        } else {
            out.push(line);
        }
    }
    if !exists {
        out.push(format!(
            "{} {} {} {} {} {}\n",
            want.src, want.name, want.fstype, want.opts, want.dump, want.passno
        ));
        changed = true;
    }
    (old, out, changed)
}

/// Removes the line from fstab text: the new text and whether it changed.
pub fn unset_line(text: &str, name: &str, raw_src: Option<&str>) -> (String, bool) {
    let mut out = String::new();
    let mut changed = false;
    for line in lines_of(text) {
        let t = line.trim();
        let fields: Vec<&str> = line.split_whitespace().collect();
        if t.is_empty() || t.starts_with('#') || fields.len() != 6 {
            out.push_str(&line);
            continue;
        }
        let swap_other = raw_src.is_some()
            && fields[1] == "none"
            && fields[2] == "swap"
            && Some(fields[0]) != raw_src;
        if fields[1] != name || swap_other {
            out.push_str(&line);
            continue;
        }
        changed = true;
    }
    (out, changed)
}

/// One mount as /proc/self/mountinfo shows it, with a bind mount's source
/// as the directory it shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mounted {
    pub dst: String,
    pub src: String,
    pub fs: String,
}

/// The mounts by mount point, as Ansible reads /proc/self/mountinfo.
pub fn linux_mounts(mountinfo: &str) -> Vec<Mounted> {
    struct Rec {
        id: i64,
        parent: i64,
        root: String,
        dst: String,
        fs: String,
        src: String,
    }
    let mut recs: Vec<Rec> = Vec::new();
    for line in mountinfo.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 7 {
            continue;
        }
        let (Ok(id), Ok(parent)) = (f[0].parse(), f[1].parse()) else {
            continue;
        };
        let rec = Rec {
            id,
            parent,
            root: f[3].to_string(),
            dst: f[4].to_string(),
            fs: f[f.len() - 3].to_string(),
            src: f[f.len() - 2].to_string(),
        };
        // A later line with the same id replaces the earlier one.
        match recs.iter_mut().find(|r| r.id == id) {
            Some(r) => *r = rec,
            None => recs.push(rec),
        }
    }
    let mut out: Vec<Mounted> = Vec::new();
    for i in 0..recs.len() {
        let parent = recs[i].parent;
        let p = if parent != 1 {
            recs.iter().position(|r| r.id == parent)
        } else {
            None
        };
        let src = match p {
            Some(p) => {
                let (proot, pdst) = (recs[p].root.clone(), recs[p].dst.clone());
                if proot.len() > 1 && recs[i].root.starts_with(&format!("{proot}/")) {
                    recs[i].root = recs[i].root[proot.len()..].to_string();
                }
                if pdst != "/" {
                    recs[i].root = format!("{pdst}{}", recs[i].root);
                }
                recs[i].root.clone()
            }
            None => recs[i].src.clone(),
        };
        let m = Mounted {
            dst: recs[i].dst.clone(),
            src,
            fs: recs[i].fs.clone(),
        };
        match out.iter_mut().find(|o| o.dst == m.dst) {
            Some(o) => *o = m,
            None => out.push(m),
        }
    }
    out
}

/// What the module found on the host.
#[derive(Clone, Debug, Default)]
struct Facts {
    mount_bin: String,
    umount_bin: String,
    exists: bool,
    is_mount: bool,
    fstab: String,
    mounts: Vec<Mounted>,
}

const SEP: &str = "@@herd-mount@@";

/// Everything the module needs from the host, in one script: the
/// system, mount/umount, whether the path exists and is a mount point
/// (as Python's `ismount`: another device than its parent, or the same
/// inode), the fstab (made first when missing, as Ansible does) and the
/// mount table.
fn probe_script(path: &str, fstab: Option<&str>) -> String {
    let p = shell_quote(path);
    let parent = shell_quote(&format!("{path}/.."));
    let fstab_part = match fstab {
        Some(f) => {
            let q = shell_quote(f);
            format!(
                "if [ ! -e {q} ]; then d=$(dirname -- {q}); \
                 {{ [ -e \"$d\" ] || mkdir -p -- \"$d\"; }} && : >> {q} || {{ echo; echo {SEP}; echo cannot-create; exit 0; }}; fi\n\
                 echo; echo {SEP}; cat -- {q} || exit 3\n"
            )
        }
        None => format!("echo; echo {SEP}\n"),
    };
    format!(
        "PATH=\"$PATH:/sbin:/usr/sbin:/bin:/usr/bin\"; export LC_ALL=C\n\
         uname -s; command -v mount || echo; command -v umount || echo\n\
         if [ -e {p} ]; then echo exists; else echo missing; fi\n\
         m=no; if [ ! -L {p} ] && a=$(stat -c '%d %i' -- {p} 2>/dev/null) && r=$(readlink -f -- {parent}) && b=$(stat -c '%d %i' -- \"$r\" 2>/dev/null); then \
         if [ \"${{a% *}}\" != \"${{b% *}}\" ] || [ \"${{a#* }}\" = \"${{b#* }}\" ]; then m=yes; fi; fi; echo \"$m\"\n\
         cat /proc/self/mountinfo 2>/dev/null\n\
         {fstab_part}"
    )
}

fn parse_probe(text: &str) -> Option<(String, Facts, Option<String>)> {
    let (head, fstab) = text.split_once(&format!("\n{SEP}\n"))?;
    let mut lines = head.lines();
    let os = lines.next()?.to_string();
    let mount_bin = lines.next()?.to_string();
    let umount_bin = lines.next()?.to_string();
    let exists = lines.next()? == "exists";
    let is_mount = lines.next()? == "yes";
    let mountinfo: Vec<&str> = lines.collect();
    let mut problem = None;
    if fstab == "cannot-create\n" {
        problem = Some(String::new());
    }
    Some((
        os,
        Facts {
            mount_bin,
            umount_bin,
            exists,
            is_mount,
            fstab: fstab.to_string(),
            mounts: linux_mounts(&mountinfo.join("\n")),
        },
        problem,
    ))
}

#[async_trait]
impl Module for Mount {
    fn name(&self) -> &'static str {
        "mount"
    }

    fn spec(&self) -> Option<&'static Spec> {
        Some(&SPEC)
    }

    async fn run(&self, ctx: &ModuleContext<'_>) -> Result<Outcome, HostError> {
        let a = match SPEC.parse_required_if(ctx, REQUIRED_IF).await? {
            Ok(a) => a,
            Err(o) => return Ok(o),
        };
        let state = a.str_or("state", "");
        let name = a.str_or("path", "");
        let fstab = a.str("fstab").unwrap_or_else(|| "/etc/fstab".into());
        let mut opts = a.str("opts").unwrap_or_else(|| "defaults".into());
        let boot = a.bool_or("boot", true);
        let mut warnings = Vec::new();
        let mut boot_word = "yes";
        if boot && opts.split(',').any(|o| o == "noauto") {
            warnings.push("Ignore the 'boot' due to 'opts' contains 'noauto'.".to_string());
        } else if !boot {
            boot_word = "no";
            opts.push_str(",noauto");
        }
        let src = a.str("src");
        let fstype = a.str("fstype");
        let dump = a.str_or("dump", "0");
        let passno = a.str_or("passno", "0");
        let ephemeral = state == "ephemeral";

        let r = ctx
            .host
            .exec(
                &probe_script(&name, (!ephemeral).then_some(fstab.as_str())),
                &ExecOptions::default(),
            )
            .await?;
        if r.rc == 3 {
            return Ok(Outcome::failed(format!(
                "Failed to open {fstab} due to {}",
                r.stderr_text().trim()
            )));
        }
        let Some((os, facts, problem)) = parse_probe(&r.stdout_text()) else {
            return Ok(Outcome::failed(format!(
                "could not read the mount state of {name}: {}",
                r.stderr_text().trim()
            )));
        };
        if os != "Linux" {
            return Ok(Outcome::failed(format!(
                "herd's mount module manages Linux hosts only; this host runs {os}"
            )));
        }
        if problem.is_some() {
            let err = r.stderr_text();
            return Ok(Outcome::failed(if err.contains("Permission denied") {
                format!("Failed to open {fstab} due to permission issue")
            } else {
                format!("Failed to open {fstab} due to {}", err.trim())
            }));
        }
        for (bin, what) in [(&facts.mount_bin, "mount"), (&facts.umount_bin, "umount")] {
            if bin.is_empty() {
                return Ok(Outcome::failed(format!(
                    "Failed to find required executable \"{what}\" in paths: /usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
                )));
            }
        }

        let mut run = Run {
            ctx,
            facts: &facts,
            name: name.clone(),
            state: state.clone(),
            fstab: fstab.clone(),
            opts: opts.clone(),
            src: src.clone().unwrap_or_default(),
            fstype: fstype.clone().unwrap_or_default(),
            backup: a.bool_or("backup", false),
            backup_file: String::new(),
        };
        let changed = match run.act(&dump, &passno).await? {
            Ok(changed) => changed,
            Err(msg) => return Ok(Outcome::failed(msg)),
        };

        let mut out = if changed {
            Outcome::changed()
        } else {
            Outcome::ok()
        };
        out.warnings = warnings;
        out = out
            .with("name", name)
            .with("opts", opts.clone())
            .with("dump", dump)
            .with("passno", passno)
            .with("fstab", fstab)
            .with("boot", boot_word)
            .with("backup_file", run.backup_file);
        if let Some(s) = src {
            out = out.with("src", s);
        }
        if let Some(f) = fstype {
            out = out.with("fstype", f);
        }
        if a.bool_or("opts_no_log", false) && !opts.is_empty() {
            for v in out.values.values_mut() {
                // Ansible's masking of no_log values: a whole value is
                // named, a part of one is starred.
                if let Value::String(s) = v {
                    *s = if *s == opts {
                        "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER".into()
                    } else {
                        s.replace(&opts, "********")
                    };
                }
            }
        }
        Ok(out)
    }
}

/// One run's state while it acts.
struct Run<'a, 'c> {
    ctx: &'a ModuleContext<'c>,
    facts: &'a Facts,
    name: String,
    state: String,
    fstab: String,
    opts: String,
    src: String,
    fstype: String,
    backup: bool,
    backup_file: String,
}

impl Run<'_, '_> {
    async fn exec(&self, cmd: &str) -> Result<ExecResult, HostError> {
        self.ctx
            .host
            .exec(&format!("export LC_ALL=C\n{cmd}"), &ExecOptions::default())
            .await
    }

    /// Writes fstab (with a backup when asked).
    async fn write_fstab(&mut self, text: &str) -> Result<Result<(), String>, HostError> {
        let p = PutFile {
            dest: self.fstab.clone(),
            src_label: self.fstab.clone(),
            backup: self.backup,
            force: true,
            follow: true,
            ..PutFile::default()
        };
        let quiet = ModuleContext {
            diff: false,
            check_mode: false,
            ..*self.ctx
        };
        let r = put_file(&quiet, &p, text.as_bytes()).await?;
        if r.failed {
            return Ok(Err(r.msg.unwrap_or_default()));
        }
        if let Some(Value::String(b)) = r.values.get("backup_file") {
            self.backup_file = b.clone();
        }
        Ok(Ok(()))
    }

    /// The `-T FILE` of a fstab other than /etc/fstab.
    fn fstab_args(&self) -> String {
        if self.state != "ephemeral" && self.fstab != "/etc/fstab" {
            format!(" -T {}", shell_quote(&self.fstab))
        } else {
            String::new()
        }
    }

    /// `-t TYPE [-o OPTS] SRC` of an ephemeral mount.
    fn ephemeral_args(&self) -> String {
        if self.state != "ephemeral" {
            return String::new();
        }
        let mut s = format!(" -t {}", shell_quote(&self.fstype));
        if self.opts != "defaults" {
            s.push_str(&format!(" -o {}", shell_quote(&self.opts)));
        }
        s.push_str(&format!(" {}", shell_quote(&self.src)));
        s
    }

    /// Runs a command: `Ok(())` or its output as the message.
    async fn command(&self, cmd: String) -> Result<Result<(), String>, HostError> {
        let r = self.exec(&cmd).await?;
        Ok(if r.rc == 0 {
            Ok(())
        } else {
            Err(format!("{}{}", r.stdout_text(), r.stderr_text()))
        })
    }

    async fn mount(&self) -> Result<Result<(), String>, HostError> {
        let cmd = format!(
            "{}{}{} {}",
            shell_quote(&self.facts.mount_bin),
            self.fstab_args(),
            self.ephemeral_args(),
            shell_quote(&self.name)
        );
        self.command(cmd).await
    }

    async fn umount(&self) -> Result<Result<(), String>, HostError> {
        let cmd = format!(
            "{} {}",
            shell_quote(&self.facts.umount_bin),
            shell_quote(&self.name)
        );
        self.command(cmd).await
    }

    /// `mount -o remount`, else umount and mount.
    async fn remount(&self) -> Result<Result<(), String>, HostError> {
        let with_opts = self.state == "remounted" && self.opts != "defaults";
        let o = if with_opts {
            format!("remount,{}", self.opts)
        } else {
            "remount".into()
        };
        let cmd = format!(
            "{} -o {}{}{} {}",
            shell_quote(&self.facts.mount_bin),
            shell_quote(&o),
            self.fstab_args(),
            self.ephemeral_args(),
            shell_quote(&self.name)
        );
        if self.command(cmd).await?.is_ok() {
            return Ok(Ok(()));
        }
        if with_opts {
            return Ok(Err("Options were specified with remounted, but the remount command failed. Failing in order to prevent an unexpected mount result. Try replacing this command with a \"state: unmounted\" followed by a \"state: mounted\" using the full desired mount options instead.".into()));
        }
        match self.umount().await? {
            Ok(()) => self.mount().await,
            Err(e) => Ok(Err(e)),
        }
    }

    /// Whether `name` is in the mount table (with `src` when given).
    fn in_table(&self, src: Option<&str>) -> bool {
        self.facts
            .mounts
            .iter()
            .find(|m| m.dst == self.name)
            .is_some_and(|m| src.is_none_or(|s| m.src == s))
    }

    fn line(&self, dump: &str, passno: &str) -> Line {
        Line {
            src: escape(&self.src),
            name: escape(&self.name),
            fstype: escape(&self.fstype),
            opts: escape(&self.opts),
            dump: escape(dump),
            passno: escape(passno),
            raw_src: (!self.src.is_empty()).then(|| self.src.clone()),
        }
    }

    /// Does what the state asks: whether it changed, or a failure message.
    async fn act(&mut self, dump: &str, passno: &str) -> Result<Result<bool, String>, HostError> {
        let check = self.ctx.check_mode;
        let raw_src = (!self.src.is_empty()).then_some(self.src.as_str());
        match self.state.as_str() {
            "absent" | "absent_from_fstab" => {
                let (text, changed) = unset_line(&self.facts.fstab, &escape(&self.name), raw_src);
                if changed && !check {
                    if let Err(e) = self.write_fstab(&text).await? {
                        return Ok(Err(e));
                    }
                    if self.state == "absent" {
                        if self.facts.is_mount || self.in_table(None) {
                            if let Err(e) = self.umount().await? {
                                return Ok(Err(format!("Error unmounting {}: {e}", self.name)));
                            }
                        }
                        if self.facts.exists {
                            let r = self
                                .exec(&format!("rmdir -- {}", shell_quote(&self.name)))
                                .await?;
                            if r.rc != 0 {
                                return Ok(Err(format!(
                                    "Error rmdir {}: {}",
                                    self.name,
                                    r.stderr_text().trim()
                                )));
                            }
                        }
                    }
                }
                Ok(Ok(changed))
            }
            "unmounted" => {
                if self.facts.is_mount || self.in_table(None) {
                    if !check {
                        if let Err(e) = self.umount().await? {
                            return Ok(Err(format!("Error unmounting {}: {e}", self.name)));
                        }
                    }
                    return Ok(Ok(true));
                }
                Ok(Ok(false))
            }
            "present" => {
                let (_, new, changed) = set_line(&self.facts.fstab, &self.line(dump, passno));
                if changed && !check {
                    if let Err(e) = self.write_fstab(&new.concat()).await? {
                        return Ok(Err(e));
                    }
                }
                Ok(Ok(changed))
            }
            "remounted" => {
                if !check {
                    if let Err(e) = self.remount().await? {
                        return Ok(Err(format!("Error remounting {}: {e}", self.name)));
                    }
                }
                Ok(Ok(true))
            }
            _ => self.mounted(dump, passno).await,
        }
    }

    /// `mounted` and `ephemeral`.
    async fn mounted(
        &mut self,
        dump: &str,
        passno: &str,
    ) -> Result<Result<bool, String>, HostError> {
        let check = self.ctx.check_mode;
        let ephemeral = self.state == "ephemeral";
        let mut created: Vec<String> = Vec::new();
        if !self.facts.exists && !check {
            // mkdir -p, remembering each directory made, to undo it.
            let abs = self.name.starts_with('/');
            let mut cur = String::new();
            let mut script = String::new();
            for part in self.name.trim_matches('/').split('/') {
                cur = format!("{cur}/{part}");
                let p = if abs {
                    cur.clone()
                } else {
                    cur.trim_start_matches('/').to_string()
                };
                let q = shell_quote(&p);
                script.push_str(&format!(
                    "[ -e {q} ] || {{ mkdir -- {q} || exit 1; printf '%s\\n' {q}; }}\n"
                ));
            }
            let r = self.exec(&format!("{{\n{script}}}")).await?;
            if r.rc != 0 {
                return Ok(Err(format!(
                    "Error making dir {}: {}",
                    self.name,
                    r.stderr_text().trim()
                )));
            }
            created = r.stdout_text().lines().map(str::to_string).collect();
        }
        let (old, mut changed) = if ephemeral {
            (Vec::new(), false)
        } else {
            let (old, new, changed) = set_line(&self.facts.fstab, &self.line(dump, passno));
            if changed && !check {
                if let Err(e) = self.write_fstab(&new.concat()).await? {
                    return Ok(Err(e));
                }
            }
            (old, changed)
        };
        let mut res = Ok(());
        if self.facts.is_mount || self.in_table(Some(&self.src)) {
            if changed && !check {
                res = self.remount().await?;
                changed = true;
            }
            if ephemeral {
                if self.same_source().await? {
                    changed = true;
                    if !check {
                        res = self.remount().await?;
                    }
                } else {
                    return Ok(Err("Ephemeral mount point is already mounted with a different source than the specified one. Failing in order to prevent an unwanted unmount or override operation. Try replacing this command with a \"state: unmounted\" followed by a \"state: ephemeral\", or use a different destination path.".into()));
                }
            }
        } else {
            changed = true;
            if !check {
                res = self.mount().await?;
            }
        }
        if let Err(msg) = res {
            // A broken fstab line could stop the next boot: undo.
            if !ephemeral {
                let _ = self.write_fstab(&old.concat()).await?;
            }
            for d in created.iter().rev() {
                let _ = self.exec(&format!("rmdir -- {}", shell_quote(d))).await?;
            }
            return Ok(Err(format!("Error mounting {}: {msg}", self.name)));
        }
        Ok(Ok(changed))
    }

    /// Whether the mount at `name` comes from `src`: from the mount table,
    /// else from `mount -v`.
    async fn same_source(&self) -> Result<bool, HostError> {
        if self.in_table(Some(&self.src)) {
            return Ok(true);
        }
        let r = self
            .exec(&format!("{} -v", shell_quote(&self.facts.mount_bin)))
            .await?;
        Ok(r.stdout_text().lines().any(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            f.len() > 2 && f[0] == self.src && f[2] == self.name
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(src: &str, name: &str, opts: &str) -> Line {
        Line {
            src: escape(src),
            name: escape(name),
            fstype: "tmpfs".into(),
            opts: escape(opts),
            dump: "0".into(),
            passno: "0".into(),
            raw_src: Some(src.into()),
        }
    }

    #[test]
    fn lines_are_added_kept_and_rewritten() {
        let (_, new, changed) = set_line("# t\n", &line("tmpfs", "/m n", "defaults"));
        assert!(changed);
        assert_eq!(new.concat(), "# t\ntmpfs /m\\040n tmpfs defaults 0 0\n");
        let text = "tmpfs /m tmpfs defaults 0 0\n";
        let (_, new, changed) = set_line(text, &line("tmpfs", "/m", "defaults"));
        assert!(!changed);
        assert_eq!(new.concat(), text);
        let (old, new, changed) = set_line(
            "a /x ext4 rw\ntmpfs /m tmpfs ro 0 0",
            &line("tmpfs", "/m", "rw"),
        );
        assert!(changed);
        assert_eq!(old.concat(), "a /x ext4 rw\ntmpfs /m tmpfs ro 0 0\n");
        assert_eq!(new.concat(), "a /x ext4 rw\ntmpfs /m tmpfs rw 0 0\n");
        // Four fields: dump and passno are filled in.
        let (_, new, changed) = set_line("tmpfs /m tmpfs rw\n", &line("tmpfs", "/m", "rw"));
        assert!(changed);
        assert_eq!(new.concat(), "tmpfs /m tmpfs rw 0 0\n");
    }

    #[test]
    fn lines_are_removed_by_mount_point() {
        let text = "# c\ntmpfs /m tmpfs rw 0 0\n/dev/a none swap sw 0 0\n/dev/b none swap sw 0 0\n";
        let (new, changed) = unset_line(text, "/m", None);
        assert!(changed);
        assert_eq!(
            new,
            "# c\n/dev/a none swap sw 0 0\n/dev/b none swap sw 0 0\n"
        );
        let (new, changed) = unset_line(text, "none", Some("/dev/b"));
        assert!(changed);
        assert_eq!(new, "# c\ntmpfs /m tmpfs rw 0 0\n/dev/a none swap sw 0 0\n");
        assert!(!unset_line(text, "/n", None).1);
    }

    #[test]
    fn bind_mounts_show_their_directory() {
        let info = "22 1 0:21 / / rw - ext4 /dev/sda1 rw\n\
                    42 22 0:35 / /tmp rw - tmpfs tmpfs rw\n\
                    78 42 0:35 /aaa /tmp/bbb rw - tmpfs tmpfs rw\n";
        let m = linux_mounts(info);
        // A mount whose parent is known shows its root, as in Ansible.
        assert_eq!(m[0].src, "/dev/sda1");
        assert_eq!(m[1].src, "/");
        assert_eq!(
            m[2],
            Mounted {
                dst: "/tmp/bbb".into(),
                src: "/tmp/aaa".into(),
                fs: "tmpfs".into()
            }
        );
    }
}
