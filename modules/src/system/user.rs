//! user — add, change or remove a user account on the host.
//!
//! Reads the account from the system's databases (`getent passwd`,
//! `getent shadow`, `getent group`, or the files in /etc where there is no
//! `getent`), compares it with the arguments, and runs one `useradd`,
//! `usermod` or `userdel` (then `chage` for the password ageing fields and
//! `ssh-keygen` for `generate_ssh_key`) only when something differs. Where
//! the shadow tools are missing, BusyBox's `adduser`/`deluser` add and
//! remove users; changing an existing user there fails with a message
//! naming the missing `usermod`.
//!
//! Tested: for real as root, on test accounts of its own, with check mode,
//! drift and bad arguments (tests/module_user.rs); ad-hoc results compared
//! with ansible's (tests/adhoc_output.rs).
//!
//! Arguments:
//!   name (user)          the account (required)
//!   state                present (default) or absent
//!   uid, non_unique      the user id; non_unique allows a taken one
//!   group                primary group (name or gid; must exist)
//!   groups, append       supplementary groups (must exist); without append
//!                        the user is removed from the others; `groups: []`
//!                        removes them all
//!   comment, home, shell the passwd fields; move_home moves the old home
//!   password             the hash as /etc/shadow keeps it (never clear
//!                        text: a warning says so); update_password
//!                        always (default) or on_create; password_lock
//!   create_home (createhome)  default yes; skeleton, umask
//!   system               create a system account
//!   expires              seconds since the epoch (negative: never)
//!   password_expire_min, password_expire_max, password_expire_warn
//!   generate_ssh_key, ssh_key_type (rsa), ssh_key_bits, ssh_key_file
//!                        (.ssh/id_TYPE in the home), ssh_key_comment,
//!                        ssh_key_passphrase
//!   force, remove        with state=absent: userdel -f / -r (home and mail
//!                        spool); with generate_ssh_key: overwrite the key
//!   local                look only at the /etc files
//!   uid_min, uid_max     the range useradd picks a new id from
//!   hidden, login_class, seuser, profile, authorization, role
//!                        accepted; they apply to macOS, BSD, SELinux or
//!                        Solaris only and are ignored here
//!
//! Returns: name, state, uid, group, comment, home, shell, groups (when
//! given), system and create_home (when added), append and move_home
//! (when it existed), force and remove (when removed), password as
//! NOT_LOGGING_PASSWORD, ssh_fingerprint, ssh_key_file, ssh_public_key.

use async_trait::async_trait;
use serde_json::Value;

use crate::api::{shell_quote, ExecOptions, Host, HostError, Module, ModuleContext, Outcome};
use crate::args::{Args, Param, Spec};
use crate::system::accounts::{
    command_line, has_program, parse_group, parse_passwd, run_first, words, GroupEntry, PasswdEntry,
};

pub struct User;

static SPEC: Spec = Spec {
    module: "user",
    params: &[
        Param::str("state")
            .default("present")
            .choices(&["absent", "present"]),
        Param::str("name").required().aliases(&["user"]),
        Param::int("uid"),
        Param::bool("non_unique").default("false"),
        Param::str("group"),
        Param::list("groups"),
        Param::str("comment"),
        Param::path("home"),
        Param::path("shell"),
        Param::str("password"),
        Param::str("login_class"),
        Param::int("password_expire_max"),
        Param::int("password_expire_min"),
        Param::int("password_expire_warn"),
        Param::int("password_expire_account_disable"),
        Param::bool("hidden"),
        Param::str("seuser"),
        Param::bool("force").default("false"),
        Param::bool("remove").default("false"),
        Param::bool("create_home")
            .default("true")
            .aliases(&["createhome"]),
        Param::str("skeleton"),
        Param::bool("system").default("false"),
        Param::bool("move_home").default("false"),
        Param::bool("append").default("false"),
        Param::bool("generate_ssh_key").default("false"),
        Param::int("ssh_key_bits"),
        Param::str("ssh_key_type").default("rsa"),
        Param::path("ssh_key_file"),
        Param::str("ssh_key_comment").default("ansible-generated on $HOSTNAME"),
        Param::str("ssh_key_passphrase"),
        Param::str("update_password")
            .default("always")
            .choices(&["always", "on_create"]),
        Param::raw("expires"),
        Param::bool("password_lock"),
        Param::bool("local").default("false"),
        Param::str("profile"),
        Param::str("authorization"),
        Param::str("role"),
        Param::str("umask"),
        Param::int("uid_min"),
        Param::int("uid_max"),
    ],
    mutually_exclusive: &[],
    required_one_of: &[],
};

/// The shadow line's fields herd compares.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Shadow {
    pub hash: String,
    pub min: Option<i64>,
    pub max: Option<i64>,
    pub warn: Option<i64>,
    /// Days since the epoch; None when the field is empty (never).
    pub expire: Option<i64>,
}

pub fn parse_shadow(line: &str) -> Option<Shadow> {
    let f: Vec<&str> = line.split(':').collect();
    if f.len() < 8 {
        return None;
    }
    let num = |s: &str| s.trim().parse::<i64>().ok();
    Some(Shadow {
        hash: f[1].to_string(),
        min: num(f[3]),
        max: num(f[4]),
        warn: num(f[5]),
        expire: num(f[7]),
    })
}

/// The account as the host has it.
#[derive(Clone, Debug, Default)]
pub struct Current {
    pub passwd: Option<PasswdEntry>,
    pub shadow: Option<Shadow>,
    pub groups: Vec<GroupEntry>,
    pub home_exists: bool,
}

impl Current {
    fn group(&self, key: &str) -> Option<&GroupEntry> {
        // A number is a gid first, as Ansible tries it.
        if let Ok(gid) = key.parse::<i64>() {
            if let Some(g) = self.groups.iter().find(|g| g.gid == gid) {
                return Some(g);
            }
        }
        self.groups.iter().find(|g| g.name == key)
    }

    /// Names of the groups listing the user as a member.
    fn memberships(&self, user: &str) -> Vec<String> {
        self.groups
            .iter()
            .filter(|g| g.members.iter().any(|m| m == user))
            .map(|g| g.name.clone())
            .collect()
    }
}

const SEP: &str = "@@herd-user@@";

/// One round trip: passwd, shadow, the group database and whether the home
/// directory exists.
async fn query(host: &dyn Host, name: &str, local: bool) -> Result<Current, HostError> {
    let q = shell_quote(name);
    let files = format!(
        "awk -F: -v k={q} '$1 == k {{ print; exit }}' /etc/passwd; echo {SEP}; \
         awk -F: -v k={q} '$1 == k {{ print; exit }}' /etc/shadow 2>/dev/null; echo {SEP}; \
         cat /etc/group"
    );
    let db = if local {
        files
    } else {
        format!(
            "if command -v getent >/dev/null 2>&1; then getent passwd {q}; echo {SEP}; \
             getent shadow {q} 2>/dev/null || awk -F: -v k={q} '$1 == k {{ print; exit }}' /etc/shadow 2>/dev/null; \
             echo {SEP}; getent group; else {files}; fi"
        )
    };
    let script = format!(
        "{{ {db}; }}; echo {SEP}; h=$(awk -F: -v k={q} '$1 == k {{ print $6; exit }}' /etc/passwd); \
         if [ -z \"$h\" ] && command -v getent >/dev/null 2>&1; then h=$(getent passwd {q} | cut -d: -f6); fi; \
         if [ -n \"$h\" ] && [ -e \"$h\" ]; then echo yes; fi"
    );
    let r = host.exec(&script, &ExecOptions::default()).await?;
    let text = r.stdout_text();
    let parts: Vec<&str> = text.split(&format!("{SEP}\n")).collect();
    let part = |i: usize| parts.get(i).copied().unwrap_or("");
    Ok(Current {
        passwd: part(0).lines().next().and_then(parse_passwd),
        shadow: part(1).lines().next().and_then(parse_shadow),
        groups: part(2).lines().filter_map(parse_group).collect(),
        home_exists: part(3).trim() == "yes",
    })
}

/// The arguments, typed.
#[derive(Clone, Debug, Default)]
pub struct Want {
    pub name: String,
    pub uid: Option<i64>,
    pub non_unique: bool,
    pub group: Option<String>,
    pub groups: Option<Vec<String>>,
    pub append: bool,
    pub comment: Option<String>,
    pub home: Option<String>,
    pub move_home: bool,
    pub shell: Option<String>,
    pub password: Option<String>,
    pub update_always: bool,
    pub password_lock: Option<bool>,
    pub create_home: bool,
    pub skeleton: Option<String>,
    pub umask: Option<String>,
    pub system: bool,
    /// Days since the epoch to expire on; Some(None) means never.
    pub expires: Option<Option<i64>>,
    pub uid_min: Option<i64>,
    pub uid_max: Option<i64>,
}

/// `YYYY-MM-DD` for a day count since the epoch (civil calendar).
pub fn date_of_day(days: i64) -> String {
    // Howard Hinnant's days-to-civil algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!("{y:04}-{m:02}-{d:02}")
}

/// The wanted supplementary groups, resolved to names; an unknown one is
/// an error named as Ansible names it.
fn wanted_groups(want: &Want, cur: &Current) -> Result<Option<Vec<String>>, String> {
    let Some(groups) = &want.groups else {
        return Ok(None);
    };
    let mut names = Vec::new();
    for g in groups.iter().map(|g| g.trim()).filter(|g| !g.is_empty()) {
        match cur.group(g) {
            Some(e) => {
                if !names.contains(&e.name) {
                    names.push(e.name.clone());
                }
            }
            None => return Err(format!("Group {g} does not exist")),
        }
    }
    Ok(Some(names))
}

/// The `useradd` command for a new user (and BusyBox's `adduser` as the
/// fallback).
pub fn add_commands(want: &Want, cur: &Current) -> Result<Vec<Vec<String>>, String> {
    let mut cmd = words(&["useradd"]);
    if let Some(uid) = want.uid {
        cmd.extend(["-u".into(), uid.to_string()]);
        if want.non_unique {
            cmd.push("-o".into());
        }
    }
    if let Some(g) = &want.group {
        if cur.group(g).is_none() {
            return Err(format!("Group {g} does not exist"));
        }
        cmd.extend(["-g".into(), g.clone()]);
    } else if cur.group(&want.name).is_some() {
        // A group of the user's name exists: don't let useradd try to
        // make one (USERGROUPS_ENAB).
        cmd.push("-N".into());
    }
    let groups = wanted_groups(want, cur)?;
    if let Some(groups) = &groups {
        let primary = want.group.as_deref().and_then(|g| cur.group(g));
        let extra: Vec<&String> = groups
            .iter()
            .filter(|g| primary.is_none_or(|p| &p.name != *g))
            .collect();
        if !extra.is_empty() {
            cmd.extend([
                "-G".into(),
                extra
                    .iter()
                    .map(|g| g.as_str())
                    .collect::<Vec<_>>()
                    .join(","),
            ]);
        }
    }
    if let Some(c) = &want.comment {
        cmd.extend(["-c".into(), c.clone()]);
    }
    if let Some(h) = &want.home {
        cmd.extend(["-d".into(), h.clone()]);
    }
    if let Some(sh) = &want.shell {
        cmd.extend(["-s".into(), sh.clone()]);
    }
    if let Some(exp) = want.expires {
        cmd.push("-e".into());
        cmd.push(exp.map(date_of_day).unwrap_or_default());
    }
    if let Some(p) = &want.password {
        cmd.push("-p".into());
        cmd.push(if want.password_lock == Some(true) {
            format!("!{p}")
        } else {
            p.clone()
        });
    }
    if want.create_home {
        cmd.push("-m".into());
        if let Some(k) = &want.skeleton {
            cmd.extend(["-k".into(), k.clone()]);
        }
        if let Some(u) = &want.umask {
            cmd.extend(["-K".into(), format!("UMASK={u}")]);
        }
    } else {
        cmd.push("-M".into());
    }
    if want.system {
        cmd.push("-r".into());
    }
    if let Some(v) = want.uid_min {
        cmd.extend(["-K".into(), format!("UID_MIN={v}")]);
    }
    if let Some(v) = want.uid_max {
        cmd.extend(["-K".into(), format!("UID_MAX={v}")]);
    }
    cmd.push(want.name.clone());

    let mut busybox = words(&["adduser", "-D"]);
    if let Some(uid) = want.uid {
        busybox.extend(["-u".into(), uid.to_string()]);
    }
    if let Some(g) = &want.group {
        busybox.extend(["-G".into(), g.clone()]);
    }
    if let Some(c) = &want.comment {
        busybox.extend(["-g".into(), c.clone()]);
    }
    if let Some(h) = &want.home {
        busybox.extend(["-h".into(), h.clone()]);
    }
    if let Some(sh) = &want.shell {
        busybox.extend(["-s".into(), sh.clone()]);
    }
    if !want.create_home {
        busybox.push("-H".into());
    }
    if want.system {
        busybox.push("-S".into());
    }
    busybox.push(want.name.clone());
    Ok(vec![cmd, busybox])
}

/// The `usermod` command bringing an existing user to `want`, if anything
/// differs.
pub fn modify_command(
    want: &Want,
    cur: &Current,
    pw: &PasswdEntry,
) -> Result<Option<Vec<String>>, String> {
    let mut cmd = words(&["usermod"]);
    if let Some(uid) = want.uid {
        if uid != pw.uid {
            cmd.extend(["-u".into(), uid.to_string()]);
            if want.non_unique {
                cmd.push("-o".into());
            }
        }
    }
    if let Some(g) = &want.group {
        let Some(entry) = cur.group(g) else {
            return Err(format!("Group {g} does not exist"));
        };
        if entry.gid != pw.gid {
            cmd.extend(["-g".into(), entry.gid.to_string()]);
        }
    }
    if let Some(groups) = wanted_groups(want, cur)? {
        let current = cur.memberships(&want.name);
        let differs = |a: &[String], b: &[String]| {
            a.iter().any(|x| !b.contains(x)) || b.iter().any(|x| !a.contains(x))
        };
        let needed = if groups.is_empty() {
            !current.is_empty() && !want.append
        } else if want.append {
            groups.iter().any(|g| !current.contains(g))
        } else {
            differs(&groups, &current)
        };
        if needed {
            if want.append {
                cmd.push("-a".into());
            }
            cmd.extend(["-G".into(), groups.join(",")]);
        }
    }
    if let Some(c) = &want.comment {
        if *c != pw.comment {
            cmd.extend(["-c".into(), c.clone()]);
        }
    }
    if let Some(h) = &want.home {
        if *h != pw.home {
            cmd.extend(["-d".into(), h.clone()]);
            if want.move_home {
                cmd.push("-m".into());
            }
        }
    }
    if let Some(sh) = &want.shell {
        if *sh != pw.shell {
            cmd.extend(["-s".into(), sh.clone()]);
        }
    }
    let shadow = cur.shadow.clone().unwrap_or_default();
    if let Some(exp) = want.expires {
        let differs = match (exp, shadow.expire) {
            (None, cur) => cur.is_some_and(|d| d >= 0),
            (Some(day), cur) => cur.is_none_or(|c| c < 0 || c != day),
        };
        if differs {
            cmd.push("-e".into());
            cmd.push(exp.map(date_of_day).unwrap_or_default());
        }
    }
    let locked = shadow.hash.starts_with('!');
    match want.password_lock {
        Some(true) if !locked => cmd.push("-L".into()),
        Some(false) if locked => cmd.push("-U".into()),
        _ => {}
    }
    if let Some(p) = &want.password {
        if want.update_always && shadow.hash.trim_start_matches('!') != p.trim_start_matches('!') {
            cmd.retain(|w| w != "-L" && w != "-U");
            cmd.push("-p".into());
            cmd.push(if want.password_lock == Some(true) {
                format!("!{p}")
            } else {
                p.clone()
            });
        }
    }
    if cmd.len() == 1 {
        return Ok(None);
    }
    cmd.push(want.name.clone());
    Ok(Some(cmd))
}

/// Whether `password` looks like a crypt(3) hash (Ansible warns otherwise).
pub fn looks_hashed(password: &str) -> bool {
    if ["*", "!", "*************"].contains(&password) {
        return true;
    }
    if password.contains([':', '*', '!']) || !password.contains('$') {
        return false;
    }
    let fields: Vec<&str> = password.split('$').collect();
    if fields.len() < 3 {
        return false;
    }
    let last = fields[fields.len() - 1];
    if !last
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '/')
    {
        return false;
    }
    let want_len = match fields[1] {
        "1" => Some(22),
        "5" | "y" => Some(43),
        "6" => Some(86),
        _ => None,
    };
    want_len.is_none_or(|n| last.len() == n)
}

fn want_from(a: &Args) -> Result<Want, String> {
    let expires = match a.raw("expires") {
        None | Some(Value::Null) => None,
        Some(v) => {
            let secs = match v {
                Value::Number(n) => n.as_f64(),
                Value::String(t) => t.trim().parse::<f64>().ok(),
                _ => None,
            }
            .ok_or_else(|| {
                format!(
                    "argument 'expires' is of type {} and we were unable to convert to float",
                    match v {
                        Value::String(_) => "str",
                        Value::Bool(_) => "bool",
                        Value::Array(_) => "list",
                        Value::Object(_) => "dict",
                        _ => "unknown",
                    }
                )
            })?;
            Some(if secs < 0.0 {
                None
            } else {
                Some((secs.floor() as i64).div_euclid(86_400))
            })
        }
    };
    Ok(Want {
        name: a.str_or("name", ""),
        uid: a.int("uid"),
        non_unique: a.bool_or("non_unique", false),
        group: a.str("group"),
        groups: a.list("groups"),
        append: a.bool_or("append", false),
        comment: a.str("comment"),
        home: a.str("home"),
        move_home: a.bool_or("move_home", false),
        shell: a.str("shell"),
        password: a.str("password"),
        update_always: a.str_or("update_password", "always") == "always",
        password_lock: a.bool("password_lock"),
        create_home: a.bool_or("create_home", true),
        skeleton: a.str("skeleton"),
        umask: a.str("umask"),
        system: a.bool_or("system", false),
        expires,
        uid_min: a.int("uid_min"),
        uid_max: a.int("uid_max"),
    })
}

fn failed_with(msg: impl Into<String>, name: &str, rc: Option<i32>) -> Outcome {
    let mut o = Outcome::failed(msg).with("name", name.to_string());
    if let Some(rc) = rc {
        o = o.with("rc", rc);
    }
    o
}

/// Adds the command's output to the outcome as Ansible does (only when
/// not empty).
fn with_output(mut o: Outcome, stdout: &str, stderr: &str) -> Outcome {
    if !stdout.is_empty() {
        o = o.with("stdout", stdout.to_string());
    }
    if !stderr.is_empty() {
        o = o.with("stderr", stderr.to_string());
    }
    o
}

#[async_trait]
impl Module for User {
    fn name(&self) -> &'static str {
        "user"
    }

    fn spec(&self) -> Option<&'static Spec> {
        Some(&SPEC)
    }

    async fn run(&self, ctx: &ModuleContext<'_>) -> Result<Outcome, HostError> {
        let a = match SPEC.parse(ctx).await? {
            Ok(a) => a,
            Err(o) => return Ok(o),
        };
        let want = match want_from(&a) {
            Ok(w) => w,
            Err(msg) => return Ok(Outcome::failed(msg)),
        };
        let name = want.name.clone();
        let local = a.bool_or("local", false);
        let force = a.bool_or("force", false);
        let remove = a.bool_or("remove", false);
        let present = a.str_or("state", "present") == "present";
        let mut warnings = Vec::new();
        if let Some(p) = &want.password {
            if !looks_hashed(p) {
                warnings.push("The input password appears not to have been hashed. The 'password' argument must be encrypted for this module to work properly.".to_string());
            }
        }
        let cur = query(ctx.host, &name, local).await?;
        let mut out;
        if !present {
            if cur.passwd.is_none() {
                out = Outcome::ok();
            } else {
                if ctx.check_mode {
                    return Ok(Outcome::changed());
                }
                let mut del = words(&["userdel"]);
                if force {
                    del.push("-f".into());
                }
                if remove {
                    del.push("-r".into());
                }
                del.push(name.clone());
                let mut busybox = words(&["deluser"]);
                if remove {
                    busybox.push("--remove-home".into());
                }
                busybox.push(name.clone());
                let r = run_first(ctx.host, &[del, busybox]).await?;
                if r.rc != 0 {
                    return Ok(failed_with(r.stderr_text(), &name, Some(r.rc)));
                }
                out = with_output(Outcome::changed(), &r.stdout_text(), &r.stderr_text())
                    .with("force", force)
                    .with("remove", remove);
            }
            out = out.with("name", name.clone()).with("state", "absent");
            out.warnings = warnings;
            return Ok(out);
        }

        let existed = cur.passwd.is_some();
        match &cur.passwd {
            None => {
                if ctx.check_mode {
                    return Ok(Outcome::changed());
                }
                let cmds = match add_commands(&want, &cur) {
                    Ok(c) => c,
                    Err(msg) => return Ok(Outcome::failed(msg)),
                };
                if let Some(home) = &want.home {
                    if want.create_home {
                        // useradd does not make missing parents.
                        let parent = std::path::Path::new(home)
                            .parent()
                            .map(|p| p.to_string_lossy().to_string())
                            .filter(|p| !p.is_empty());
                        if let Some(parent) = parent {
                            ctx.host
                                .exec(
                                    &format!("mkdir -p -- {}", shell_quote(&parent)),
                                    &ExecOptions::default(),
                                )
                                .await?;
                        }
                    }
                }
                let r = run_first(ctx.host, &cmds).await?;
                if r.rc != 0 {
                    return Ok(failed_with(r.stderr_text(), &name, Some(r.rc)));
                }
                out = with_output(Outcome::changed(), &r.stdout_text(), &r.stderr_text())
                    .with("system", want.system)
                    .with("create_home", want.create_home);
            }
            Some(pw) => {
                let cmd = match modify_command(&want, &cur, pw) {
                    Ok(c) => c,
                    Err(msg) => return Ok(Outcome::failed(msg)),
                };
                out = match cmd {
                    None => Outcome::ok(),
                    Some(_) if ctx.check_mode => Outcome::changed(),
                    Some(cmd) => {
                        if !has_program(ctx.host, "usermod").await? {
                            return Ok(failed_with(
                                format!("cannot change user {name}: the host has no usermod"),
                                &name,
                                None,
                            ));
                        }
                        let r = run_first(ctx.host, &[cmd]).await?;
                        if r.rc != 0 {
                            return Ok(failed_with(r.stderr_text(), &name, Some(r.rc)));
                        }
                        with_output(Outcome::changed(), &r.stdout_text(), &r.stderr_text())
                    }
                };
                out = out
                    .with("append", want.append)
                    .with("move_home", want.move_home);
            }
        }
        if want.password.is_some() {
            out = out.with("password", "NOT_LOGGING_PASSWORD");
        }
        out = out.with("name", name.clone()).with("state", "present");

        let after = if ctx.check_mode {
            cur.clone()
        } else {
            query(ctx.host, &name, local).await?
        };
        let Some(pw) = after.passwd.clone() else {
            return Ok(failed_with(
                format!("failed to look up user name: {name}"),
                &name,
                None,
            ));
        };
        out = out
            .with("uid", pw.uid)
            .with("group", pw.gid)
            .with("comment", pw.comment.clone())
            .with("home", pw.home.clone())
            .with("shell", pw.shell.clone());
        if let Some(groups) = &want.groups {
            out = out.with("groups", groups.join(","));
        }

        // A home that went missing is made again, from the skeleton.
        let home = want.home.clone().unwrap_or_else(|| pw.home.clone());
        if want.create_home
            && !after.home_exists
            && !(existed && want.home.is_some() && home != pw.home)
        {
            if !ctx.check_mode {
                let skel = want.skeleton.clone().unwrap_or_else(|| "/etc/skel".into());
                let script = format!(
                    "h={h}; s={s}; if [ -d \"$s\" ]; then mkdir -p -- \"$(dirname -- \"$h\")\" && cp -RP -- \"$s\" \"$h\"; else mkdir -p -- \"$h\"; fi && chmod 755 -- \"$h\" && chown -R {u}:{g} -- \"$h\"",
                    h = shell_quote(&home),
                    s = shell_quote(&skel),
                    u = pw.uid,
                    g = pw.gid
                );
                let r = ctx.host.exec(&script, &ExecOptions::default()).await?;
                if r.rc != 0 {
                    return Ok(failed_with(r.stderr_text(), &name, Some(r.rc)));
                }
            }
            out.changed = true;
        }

        if a.bool_or("generate_ssh_key", false) {
            match ssh_key(ctx, &a, &pw, &home, force, &mut warnings).await? {
                Err(o) => return Ok(o),
                Ok(key) => {
                    if key.changed {
                        out.changed = true;
                    }
                    out = out
                        .with("ssh_fingerprint", key.fingerprint)
                        .with("ssh_key_file", key.file)
                        .with("ssh_public_key", key.public);
                }
            }
        }

        // Password ageing, with chage.
        let shadow = after.shadow.clone().unwrap_or_default();
        let mut chage = words(&["chage"]);
        for (param, flag, have) in [
            ("password_expire_min", "-m", shadow.min),
            ("password_expire_max", "-M", shadow.max),
            ("password_expire_warn", "-W", shadow.warn),
        ] {
            if let Some(v) = a.int(param) {
                if Some(v) != have {
                    chage.extend([flag.to_string(), v.to_string()]);
                }
            }
        }
        if chage.len() > 1 {
            if !ctx.check_mode {
                chage.push(name.clone());
                let r = run_first(ctx.host, &[chage]).await?;
                if r.rc != 0 {
                    return Ok(failed_with(r.stderr_text(), &name, Some(r.rc)));
                }
            }
            out.changed = true;
        }
        out.warnings = warnings;
        Ok(out)
    }
}

struct SshKey {
    changed: bool,
    fingerprint: String,
    file: String,
    public: String,
}

/// `generate_ssh_key`: makes the key pair as the user when it is missing
/// (or with `force`), and reads its fingerprint and public half.
async fn ssh_key(
    ctx: &ModuleContext<'_>,
    a: &Args,
    pw: &PasswdEntry,
    home: &str,
    force: bool,
    warnings: &mut Vec<String>,
) -> Result<Result<SshKey, Outcome>, HostError> {
    let kind = a.str_or("ssh_key_type", "rsa");
    let file = match a.str("ssh_key_file") {
        Some(f) if f.starts_with('/') => f,
        Some(f) => format!("{}/{f}", home.trim_end_matches('/')),
        None => format!("{}/.ssh/id_{kind}", home.trim_end_matches('/')),
    };
    let qf = shell_quote(&file);
    let probe = ctx
        .host
        .exec(
            &format!("[ -e {qf} ] && echo key; [ -e {qf}.pub ] && echo pub; true"),
            &ExecOptions::default(),
        )
        .await?;
    let seen = probe.stdout_text();
    let exists = seen.lines().any(|l| l == "key");
    let pub_exists = seen.lines().any(|l| l == "pub");
    let mut changed = false;
    if exists && !force {
        warnings.push(format!(
            "Found existing ssh key private file \"{file}\", no force, so skipping ssh-keygen generation"
        ));
    } else if pub_exists && !force {
        warnings.push(format!(
            "Found existing ssh key public file \"{file}.pub\", no force, so skipping ssh-keygen generation"
        ));
    } else {
        changed = true;
        if !ctx.check_mode {
            let hostname = ctx
                .host
                .exec("uname -n", &ExecOptions::default())
                .await?
                .stdout_text();
            let comment = a
                .str("ssh_key_comment")
                .unwrap_or_else(|| format!("ansible-generated on {}", hostname.trim()));
            let mut cmd = words(&["ssh-keygen", "-q", "-t", &kind]);
            if let Some(bits) = a.int("ssh_key_bits").filter(|b| *b > 0) {
                cmd.extend(["-b".into(), bits.to_string()]);
            }
            cmd.extend(["-C".into(), comment, "-f".into(), file.clone(), "-N".into()]);
            cmd.push(a.str("ssh_key_passphrase").unwrap_or_default());
            let script = format!(
                "d=$(dirname -- {qf}); if [ ! -d \"$d\" ]; then mkdir -m 700 -- \"$d\" && chown {u}:{g} -- \"$d\" || exit 1; fi; \
                 rm -f -- {qf} {qf}.pub; {} </dev/null && chown {u}:{g} -- {qf} {qf}.pub",
                command_line(&cmd),
                u = pw.uid,
                g = pw.gid
            );
            let r = ctx.host.exec(&script, &ExecOptions::default()).await?;
            if r.rc != 0 {
                return Ok(Err(failed_with(r.stderr_text(), &pw.name, Some(r.rc))));
            }
        }
    }
    let info = ctx
        .host
        .exec(
            &format!("ssh-keygen -l -f {qf} 2>&1; echo {SEP}; cat -- {qf}.pub 2>/dev/null"),
            &ExecOptions::default(),
        )
        .await?
        .stdout_text();
    let (fp, public) = info.split_once(&format!("{SEP}\n")).unwrap_or((&info, ""));
    Ok(Ok(SshKey {
        changed,
        fingerprint: fp.trim().to_string(),
        file,
        public: public.trim().to_string(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cur() -> Current {
        Current {
            passwd: parse_passwd("alice:x:1500:1500:Alice:/home/alice:/bin/sh"),
            shadow: parse_shadow("alice:$6$salt$hash:19000:0:99999:7:::"),
            groups: [
                "alice:x:1500:",
                "wheel:x:10:alice",
                "audio:x:29:",
                "video:x:44:bob",
            ]
            .iter()
            .filter_map(|l| parse_group(l))
            .collect(),
            home_exists: true,
        }
    }

    fn want() -> Want {
        Want {
            name: "alice".into(),
            create_home: true,
            update_always: true,
            ..Want::default()
        }
    }

    #[test]
    fn days_to_dates() {
        assert_eq!(date_of_day(0), "1970-01-01");
        assert_eq!(date_of_day(19_000), "2022-01-08");
        assert_eq!(date_of_day(11_016), "2000-02-29");
    }

    #[test]
    fn nothing_to_modify_when_equal() {
        let c = cur();
        let pw = c.passwd.clone().unwrap();
        let w = Want {
            uid: Some(1500),
            group: Some("alice".into()),
            groups: Some(vec!["wheel".into()]),
            comment: Some("Alice".into()),
            shell: Some("/bin/sh".into()),
            password: Some("$6$salt$hash".into()),
            ..want()
        };
        assert_eq!(modify_command(&w, &c, &pw), Ok(None));
    }

    #[test]
    fn modifies_what_differs() {
        let c = cur();
        let pw = c.passwd.clone().unwrap();
        let w = Want {
            shell: Some("/bin/bash".into()),
            groups: Some(vec!["audio".into()]),
            ..want()
        };
        assert_eq!(
            modify_command(&w, &c, &pw),
            Ok(Some(words(&[
                "usermod",
                "-G",
                "audio",
                "-s",
                "/bin/bash",
                "alice"
            ])))
        );
        let w = Want {
            groups: Some(vec!["audio".into()]),
            append: true,
            ..want()
        };
        assert_eq!(
            modify_command(&w, &c, &pw),
            Ok(Some(words(&["usermod", "-a", "-G", "audio", "alice"])))
        );
        // Appending a group already held changes nothing.
        let w = Want {
            groups: Some(vec!["wheel".into()]),
            append: true,
            ..want()
        };
        assert_eq!(modify_command(&w, &c, &pw), Ok(None));
        let w = Want {
            groups: Some(vec![]),
            ..want()
        };
        assert_eq!(
            modify_command(&w, &c, &pw),
            Ok(Some(words(&["usermod", "-G", "", "alice"])))
        );
        let w = Want {
            groups: Some(vec!["nosuch".into()]),
            ..want()
        };
        assert_eq!(
            modify_command(&w, &c, &pw),
            Err("Group nosuch does not exist".into())
        );
        let w = Want {
            password: Some("$6$other$hash".into()),
            password_lock: Some(true),
            ..want()
        };
        assert_eq!(
            modify_command(&w, &c, &pw),
            Ok(Some(words(&["usermod", "-p", "!$6$other$hash", "alice"])))
        );
        let w = Want {
            password: Some("$6$other$hash".into()),
            update_always: false,
            ..want()
        };
        assert_eq!(modify_command(&w, &c, &pw), Ok(None));
        let w = Want {
            expires: Some(Some(19_001)),
            ..want()
        };
        assert_eq!(
            modify_command(&w, &c, &pw),
            Ok(Some(words(&["usermod", "-e", "2022-01-09", "alice"])))
        );
        let w = Want {
            expires: Some(None),
            ..want()
        };
        assert_eq!(modify_command(&w, &c, &pw), Ok(None));
    }

    #[test]
    fn adds_with_ansible_flags() {
        let mut c = cur();
        c.passwd = None;
        let w = Want {
            uid: Some(1600),
            groups: Some(vec!["wheel".into(), "audio".into()]),
            comment: Some("A".into()),
            system: true,
            ..want()
        };
        let cmds = add_commands(&w, &c).unwrap();
        assert_eq!(
            cmds[0],
            words(&[
                "useradd",
                "-u",
                "1600",
                "-N",
                "-G",
                "wheel,audio",
                "-c",
                "A",
                "-m",
                "-r",
                "alice"
            ])
        );
        assert_eq!(cmds[1][0], "adduser");
    }

    #[test]
    fn hashed_passwords() {
        assert!(looks_hashed(&format!("$6$salt${}", "a".repeat(86))));
        assert!(!looks_hashed("secret"));
        assert!(!looks_hashed("$6$salt$short"));
        assert!(looks_hashed("!"));
    }
}
