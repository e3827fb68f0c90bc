//! service — start, stop, restart or reload a service and enable it at
//! boot, with whatever init system the host runs, as Ansible's service
//! action and module do on Linux.
//!
//! The init system is chosen as Ansible's service action and module
//! choose it: `use`, else systemd when it runs the host (systemctl is
//! there and /run/systemd/system/ exists, or PID 1 is systemd) — then the
//! task is the systemd_service module's, without pattern, sleep, runlevel
//! and arguments (each dropped with Ansible's warning); else OpenRC
//! (`rc-service`, enabled with `rc-update`); else the SysV script
//! /etc/init.d/NAME, run through `service` (or directly), enabled with
//! `update-rc.d` (S/K links in /etc/rc?.d), `insserv` or `chkconfig`.
//! Upstart jobs are refused with a message.
//!
//! Whether a service runs comes from `NAME status` as Ansible reads it
//! (exit codes 1–4 mean stopped, then the words of a one-line output,
//! then exit 0 means running), or with `pattern` from `ps auxww`.
//! `restarted` is stop, `sleep` seconds, start. Commands run with their
//! output in files, so a daemon that keeps its descriptors cannot hold
//! the task. In check mode the module stops at the first change it finds,
//! answering only `changed` (and `msg`), as Ansible does.
//!
//! Tested: for real with a small SysV daemon script installed in
//! /etc/init.d, the `service` command and update-rc.d, every step compared
//! with ansible's service module (tests/module_service.rs).
//!
//! Arguments:
//!   name       the service (required)
//!   state      started, stopped, restarted, reloaded
//!   enabled    start at boot (yes/no); state or enabled is required
//!   pattern    a text in `ps auxww` that means the service runs
//!   sleep      seconds between stop and start of a restart
//!   arguments  extra words for the init command (alias args)
//!   runlevel   OpenRC runlevel for enabled (default default)
//!   use        the service manager: auto (default), systemd, openrc,
//!              sysvinit, service
//!
//! Returns: name, state (started/stopped), enabled, changed; on systemd
//! hosts also status (the unit's properties).

use async_trait::async_trait;

use crate::api::{shell_quote, ExecOptions, ExecResult, HostError, Module, ModuleContext, Outcome};
use crate::args::{Param, Spec};

pub struct Service;

static SPEC: Spec = Spec {
    module: "service",
    params: &[
        Param::str("name").required(),
        Param::str("state").choices(&["started", "stopped", "reloaded", "restarted"]),
        Param::int("sleep"),
        Param::str("pattern"),
        Param::bool("enabled"),
        Param::str("runlevel").default("default"),
        Param::str("arguments").default("").aliases(&["args"]),
        Param::str("use").default("auto"),
    ],
    mutually_exclusive: &[],
    required_one_of: &[&["state", "enabled"]],
};

/// What the host has for managing services.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tools {
    pub systemd: bool,
    pub service: Option<String>,
    pub chkconfig: Option<String>,
    pub update_rc_d: Option<String>,
    pub rc_service: Option<String>,
    pub rc_update: Option<String>,
    pub initctl: Option<String>,
    pub insserv: Option<String>,
    pub ps: Option<String>,
    /// /etc/init.d/NAME, when it is a file.
    pub initscript: Option<String>,
    /// /etc/init/NAME.conf exists (an upstart job).
    pub upstart_job: bool,
    /// /etc/rc?.d/S??NAME and K??NAME links exist.
    pub start_links: bool,
    pub kill_links: bool,
}

/// How the service is controlled and enabled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Manager {
    Systemd,
    OpenRc {
        rc_service: String,
        rc_update: Option<String>,
    },
    SysV {
        control: Control,
        enable: Option<Enabler>,
    },
}

/// How a SysV service is started and stopped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Control {
    /// `service NAME ACTION`.
    Service(String),
    /// `/etc/init.d/NAME ACTION`.
    Script(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Enabler {
    UpdateRcD(String),
    Insserv(String),
    Chkconfig(String),
}

/// The manager as Ansible's service module picks it, or its message.
pub fn pick(name: &str, use_: &str, t: &Tools) -> Result<Manager, String> {
    if use_ == "systemd" || (t.systemd && !matches!(use_, "openrc" | "sysvinit" | "service")) {
        return Ok(Manager::Systemd);
    }
    if t.initctl.is_some() && t.upstart_job {
        return Err(format!(
            "{name} is an upstart job (/etc/init/{name}.conf): herd does not manage upstart"
        ));
    }
    if let Some(rc) = &t.rc_service {
        return Ok(Manager::OpenRc {
            rc_service: rc.clone(),
            rc_update: t.rc_update.clone(),
        });
    }
    let enable = match &t.initscript {
        Some(_) => {
            if let Some(p) = &t.update_rc_d {
                Some(Enabler::UpdateRcD(p.clone()))
            } else if let Some(p) = &t.insserv {
                Some(Enabler::Insserv(p.clone()))
            } else {
                t.chkconfig.clone().map(Enabler::Chkconfig)
            }
        }
        None => None,
    };
    let Some(enable) = enable else {
        return Err(format!("Could not find the requested service {name}: host"));
    };
    let control = match (&t.service, &t.initscript) {
        (Some(s), _) => Control::Service(s.clone()),
        (None, Some(s)) => Control::Script(s.clone()),
        (None, None) => {
            return Err("cannot find 'service' binary or init script for service,  possible typo in service name?, aborting".into())
        }
    };
    Ok(Manager::SysV {
        control,
        enable: Some(enable),
    })
}

/// Whether `NAME status` means running, as Ansible reads it: `None` when
/// it cannot tell.
pub fn read_status(name: &str, rc: i32, stdout: &str) -> Option<bool> {
    if matches!(rc, 1 | 2 | 3 | 4 | 69) {
        return Some(false);
    }
    if stdout.matches('\n').count() <= 1 {
        let clean = stdout.to_lowercase().replace(&name.to_lowercase(), "");
        if clean.contains("stop") {
            return Some(false);
        }
        if clean.contains("run") {
            return Some(!clean.contains("not "));
        }
        if clean.contains("start") && !clean.contains("not ") {
            return Some(true);
        }
        if [
            "could not access pid file",
            "is dead and pid file exists",
            "dead but subsys locked",
            "dead but pid file exists",
        ]
        .iter()
        .any(|s| clean.contains(s))
        {
            return Some(false);
        }
    }
    if rc == 0 {
        return Some(true);
    }
    (name == "iptables" && stdout.contains("ACCEPT")).then_some(true)
}

/// Whether the state asks for a change, given whether it runs.
pub fn needs_change(state: &str, running: bool) -> bool {
    match state {
        "started" => !running,
        "stopped" => running,
        "reloaded" | "restarted" => true,
        _ => false,
    }
}

/// The init action for a state.
fn action_for(state: &str, running: bool) -> &'static str {
    match state {
        "started" => "start",
        "reloaded" if !running => "start",
        "stopped" => "stop",
        "reloaded" => "reload",
        _ => "restart",
    }
}

fn probe_script(name: &str) -> String {
    let n = shell_quote(name);
    format!(
        "PATH=\"$PATH:/sbin:/usr/sbin:/bin:/usr/bin\"\n\
         for b in service chkconfig update-rc.d rc-service rc-update initctl systemctl insserv ps; do \
         printf '%s=%s\\n' \"$b\" \"$(command -v \"$b\" 2>/dev/null)\"; done\n\
         sd=no; if command -v systemctl >/dev/null 2>&1; then \
         if [ -e /run/systemd/system/ ] || [ -e /dev/.run/systemd/ ] || [ -e /dev/.systemd/ ] || \
         [ \"$(cat /proc/1/comm 2>/dev/null)\" = systemd ]; then sd=yes; fi; fi; echo \"systemd=$sd\"\n\
         n={n}\n\
         if [ -f /etc/init.d/\"$n\" ]; then echo \"initscript=/etc/init.d/$n\"; fi\n\
         if [ -e /etc/init/\"$n\".conf ]; then echo upstart=yes; fi\n\
         for l in /etc/rc?.d/S??\"$n\"; do if [ -e \"$l\" ] || [ -L \"$l\" ]; then echo slinks=yes; break; fi; done\n\
         for l in /etc/rc?.d/K??\"$n\"; do if [ -e \"$l\" ] || [ -L \"$l\" ]; then echo klinks=yes; break; fi; done\n"
    )
}

fn parse_tools(text: &str) -> Tools {
    let mut t = Tools::default();
    for line in text.lines() {
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        let path = (!v.is_empty()).then(|| v.to_string());
        match k {
            "service" => t.service = path,
            "chkconfig" => t.chkconfig = path,
            "update-rc.d" => t.update_rc_d = path,
            "rc-service" => t.rc_service = path,
            "rc-update" => t.rc_update = path,
            "initctl" => t.initctl = path,
            "insserv" => t.insserv = path,
            "ps" => t.ps = path,
            "systemd" => t.systemd = v == "yes",
            "initscript" => t.initscript = path,
            "upstart" => t.upstart_job = true,
            "slinks" => t.start_links = true,
            "klinks" => t.kill_links = true,
            _ => {}
        }
    }
    t
}

/// Runs words as one command in the C locale. `detached` keeps a daemon
/// it starts from holding the task: its output goes to files and it runs
/// in a session of its own.
async fn run_words(
    ctx: &ModuleContext<'_>,
    words: &[String],
    detached: bool,
) -> Result<ExecResult, HostError> {
    let cmd: Vec<String> = words.iter().map(|w| shell_quote(w)).collect();
    let cmd = cmd.join(" ");
    let script = if detached {
        format!(
            "export LANG=C LC_ALL=C LC_MESSAGES=C; t=$(mktemp -d) || exit 1\n\
             if setsid -w true </dev/null >/dev/null 2>&1; then s='setsid -w'; else s=; fi\n\
             $s {cmd} </dev/null >\"$t/o\" 2>\"$t/e\"; rc=$?\n\
             cat \"$t/o\"; cat \"$t/e\" >&2; rm -rf \"$t\"; exit $rc"
        )
    } else {
        format!("export LANG=C LC_ALL=C LC_MESSAGES=C; {cmd} </dev/null")
    };
    ctx.host.exec(&script, &ExecOptions::default()).await
}

/// A module's early exit in check mode: `changed` and maybe `msg` only.
fn check_exit(changed: bool, msg: Option<&str>) -> Outcome {
    let mut o = if changed {
        Outcome::changed()
    } else {
        Outcome::ok()
    };
    o.msg = msg.map(str::to_string);
    o
}

#[async_trait]
impl Module for Service {
    fn name(&self) -> &'static str {
        "service"
    }

    fn spec(&self) -> Option<&'static Spec> {
        Some(&SPEC)
    }

    async fn run(&self, ctx: &ModuleContext<'_>) -> Result<Outcome, HostError> {
        let a = match SPEC.parse(ctx).await? {
            Ok(a) => a,
            Err(o) => return Ok(o),
        };
        let name = a.str_or("name", "");
        let use_ = a.str_or("use", "auto").to_lowercase();
        let r = ctx
            .host
            .exec(&probe_script(&name), &ExecOptions::default())
            .await?;
        let tools = parse_tools(&r.stdout_text());
        let manager = match pick(&name, &use_, &tools) {
            Ok(m) => m,
            Err(msg) => return Ok(Outcome::failed(msg)),
        };
        if manager == Manager::Systemd {
            return crate::system::systemd::run_for_service(ctx).await;
        }
        let svc = Sysv {
            ctx,
            name: name.clone(),
            arguments: a.str_or("arguments", ""),
            runlevel: a.str_or("runlevel", "default"),
            manager,
            tools,
        };
        let state = a.str("state");
        let enabled = a.bool("enabled");
        let mut out = Outcome::ok().with("name", name.clone());
        let mut enable_changed = false;
        if let Some(enable) = enabled {
            match svc.enable(enable).await? {
                Step::Done(changed) => enable_changed = changed,
                Step::Exit(o) => return Ok(o),
            }
            out = out.with("enabled", enable);
        }
        let Some(state) = state else {
            out.changed = enable_changed;
            return Ok(out);
        };
        out = out.with("state", state.clone());
        let running = match a.str("pattern") {
            Some(p) => svc.ps_running(&p).await?,
            None => svc.status().await?,
        };
        let Some(running) = running else {
            return Ok(Outcome::failed(
                "failed determining service state, possible typo of service name?",
            ));
        };
        let change = needs_change(&state, running);
        if change {
            if ctx.check_mode {
                return Ok(check_exit(true, Some("service state changed")));
            }
            let action = action_for(&state, running);
            let sleep = a.int("sleep").unwrap_or(0);
            let r = svc.control(action, sleep).await?;
            if r.rc != 0 {
                let err = r.stderr_text();
                if !err.contains("Job is already running") {
                    return Ok(Outcome::failed(if err.is_empty() {
                        r.stdout_text()
                    } else {
                        err
                    }));
                }
            }
        }
        out.changed = enable_changed || change;
        let shown = if state == "stopped" {
            "stopped"
        } else {
            "started"
        };
        out.values.insert("state".into(), shown.into());
        Ok(out)
    }
}

/// The result of a step that may end the module early (check mode).
enum Step {
    Done(bool),
    Exit(Outcome),
}

/// A service under OpenRC or SysV init.
struct Sysv<'a, 'c> {
    ctx: &'a ModuleContext<'c>,
    name: String,
    arguments: String,
    runlevel: String,
    manager: Manager,
    tools: Tools,
}

impl Sysv<'_, '_> {
    fn args(&self) -> Vec<String> {
        // Ansible splits the arguments as a shell would, without expanding.
        crate::commands::shlex_split(&self.arguments).unwrap_or_else(|_| {
            self.arguments
                .split_whitespace()
                .map(str::to_string)
                .collect()
        })
    }

    /// `CMD NAME ACTION ARGS`, or the script itself.
    fn words(&self, action: &str) -> Vec<String> {
        let mut w = match &self.manager {
            Manager::OpenRc { rc_service, .. } => vec![rc_service.clone(), self.name.clone()],
            Manager::SysV {
                control: Control::Service(s),
                ..
            } => vec![s.clone(), self.name.clone()],
            Manager::SysV {
                control: Control::Script(s),
                ..
            } => vec![s.clone()],
            Manager::Systemd => Vec::new(),
        };
        w.push(action.to_string());
        w.extend(self.args());
        w
    }

    async fn status(&self) -> Result<Option<bool>, HostError> {
        let r = run_words(self.ctx, &self.words("status"), true).await?;
        if let Manager::OpenRc { .. } = self.manager {
            // Ansible asks OpenRC a second time and reads its words.
            let r2 = run_words(self.ctx, &self.words("status"), false).await?;
            if !r2.stdout_text().contains("started") {
                return Ok(Some(false));
            }
            return Ok(Some(true));
        }
        Ok(read_status(&self.name, r.rc, &r.stdout_text()))
    }

    async fn ps_running(&self, pattern: &str) -> Result<Option<bool>, HostError> {
        let Some(ps) = &self.tools.ps else {
            return Ok(None);
        };
        let r = run_words(self.ctx, &[ps.clone(), "auxww".into()], false).await?;
        if r.rc != 0 {
            return Ok(None);
        }
        Ok(Some(
            r.stdout_text()
                .lines()
                .any(|l| l.contains(pattern) && !l.contains("pattern=")),
        ))
    }

    /// Runs an action; `restart` is stop, sleep, start, except on OpenRC.
    async fn control(&self, action: &str, sleep: i64) -> Result<ExecResult, HostError> {
        let openrc = matches!(self.manager, Manager::OpenRc { .. });
        if action != "restart" || openrc {
            return run_words(self.ctx, &self.words(action), true).await;
        }
        let stop = run_words(self.ctx, &self.words("stop"), true).await?;
        if sleep > 0 {
            self.ctx
                .host
                .exec(&format!("sleep {sleep}"), &ExecOptions::default())
                .await?;
        }
        let start = run_words(self.ctx, &self.words("start"), true).await?;
        if stop.rc != 0 && start.rc == 0 {
            return Ok(start);
        }
        let mut both = stop;
        both.rc += start.rc;
        both.stdout.extend(start.stdout);
        both.stderr.extend(start.stderr);
        Ok(both)
    }

    /// Enables or disables the service at boot.
    async fn enable(&self, enable: bool) -> Result<Step, HostError> {
        let check = self.ctx.check_mode;
        let fail = |r: &ExecResult| {
            let err = r.stderr_text();
            Step::Exit(Outcome::failed(if err.is_empty() {
                r.stdout_text()
            } else {
                err
            }))
        };
        match &self.manager {
            Manager::SysV {
                enable: Some(Enabler::UpdateRcD(cmd)),
                ..
            } => {
                if enable == self.tools.start_links {
                    return Ok(Step::Done(false));
                }
                let name = self.name.clone();
                if enable && !self.tools.kill_links && !check {
                    let r = run_words(self.ctx, &[cmd.clone(), name.clone(), "defaults".into()], false)
                        .await?;
                    if r.rc != 0 {
                        return Ok(fail(&r));
                    }
                }
                if !check {
                    let action = if enable { "enable" } else { "disable" };
                    let r = run_words(self.ctx, &[cmd.clone(), name, action.into()], false).await?;
                    if r.rc != 0 {
                        return Ok(fail(&r));
                    }
                }
                Ok(Step::Done(true))
            }
            Manager::SysV {
                enable: Some(Enabler::Insserv(cmd)),
                ..
            } => {
                let mut probe = vec![cmd.clone(), "-n".into()];
                if !enable {
                    probe.push("-r".into());
                }
                probe.extend(["-v".into(), self.name.clone()]);
                let r = run_words(self.ctx, &probe, false).await?;
                let needle = if enable {
                    "enable service"
                } else {
                    "remove service"
                };
                let changed = r.stderr_text().lines().any(|l| l.contains(needle));
                if check {
                    return Ok(Step::Exit(check_exit(changed, None)));
                }
                if !changed {
                    return Ok(Step::Done(false));
                }
                let mut words = vec![cmd.clone()];
                if !enable {
                    words.push("-r".into());
                }
                words.push(self.name.clone());
                let r = run_words(self.ctx, &words, false).await?;
                if r.rc != 0 || !r.stderr.is_empty() {
                    let what = if enable { "install" } else { "remove" };
                    return Ok(Step::Exit(Outcome::failed(format!(
                        "Failed to {what} service. rc: {}, out: {}, err: {}",
                        r.rc,
                        r.stdout_text(),
                        r.stderr_text()
                    ))));
                }
                Ok(Step::Done(true))
            }
            Manager::SysV {
                enable: Some(Enabler::Chkconfig(cmd)),
                ..
            } => {
                let action = if enable { "on" } else { "off" };
                let list = [cmd.clone(), "--list".into(), self.name.clone()];
                let mut r = run_words(self.ctx, &list, false).await?;
                if r.stderr_text().contains(&format!("chkconfig --add {}", self.name)) {
                    run_words(self.ctx, &[cmd.clone(), "--add".into(), self.name.clone()], false)
                        .await?;
                    r = run_words(self.ctx, &list, false).await?;
                }
                let out = r.stdout_text();
                if !out.contains(&self.name) {
                    return Ok(Step::Exit(Outcome::failed(format!(
                        "service {} does not support chkconfig",
                        self.name
                    ))));
                }
                if out.contains(&format!("3:{action}")) && out.contains(&format!("5:{action}")) {
                    return Ok(Step::Done(false));
                }
                self.enable_at_end(vec![cmd.clone(), self.name.clone(), action.into()], action)
                    .await
            }
            Manager::OpenRc {
                rc_update: Some(cmd),
                ..
            } => {
                let action = if enable { "add" } else { "delete" };
                let r = run_words(self.ctx, &[cmd.clone(), "show".into()], false).await?;
                let mut changed = true;
                let mut listed = false;
                for line in r.stdout_text().lines() {
                    let Some((svc, levels)) = line.split_once('|') else {
                        continue;
                    };
                    if svc.trim() != self.name {
                        continue;
                    }
                    listed = true;
                    let has = levels.split_whitespace().any(|l| l == self.runlevel);
                    if enable == has {
                        changed = false;
                    }
                    break;
                }
                if !listed && !enable {
                    changed = false;
                }
                if !changed {
                    return Ok(Step::Done(false));
                }
                self.enable_at_end(
                    vec![
                        cmd.clone(),
                        action.into(),
                        self.name.clone(),
                        self.runlevel.clone(),
                    ],
                    action,
                )
                .await
            }
            _ => Ok(Step::Exit(Outcome::failed(format!(
                "cannot detect command to enable service {}, typo or init system potentially unknown",
                self.name
            )))),
        }
    }

    /// The common end of enabling: in check mode the module stops here.
    async fn enable_at_end(&self, words: Vec<String>, action: &str) -> Result<Step, HostError> {
        if self.ctx.check_mode {
            return Ok(Step::Exit(check_exit(true, None)));
        }
        let r = run_words(self.ctx, &words, false).await?;
        if r.rc != 0 {
            let err = r.stderr_text();
            return Ok(Step::Exit(Outcome::failed(if err.is_empty() {
                format!(
                    "Failure for {action} {}: rc={} {}",
                    self.name,
                    r.rc,
                    r.stdout_text()
                )
            } else {
                format!(
                    "Error when trying to {action} {}: rc={} {err}",
                    self.name, r.rc
                )
            })));
        }
        Ok(Step::Done(true))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_words_as_ansible_reads_them() {
        assert_eq!(read_status("d", 3, "d is running\n"), Some(false));
        assert_eq!(read_status("d", 0, "d is not running\n"), Some(false));
        assert_eq!(read_status("d", 0, "d is running\n"), Some(true));
        assert_eq!(read_status("d", 0, "d: stopped\n"), Some(false));
        assert_eq!(read_status("d", 0, "a\nb\nc\n"), Some(true));
        assert_eq!(read_status("d", 5, "a\nb\nc\n"), None);
    }

    #[test]
    fn changes_and_actions() {
        assert!(needs_change("started", false) && !needs_change("started", true));
        assert!(needs_change("stopped", true) && !needs_change("stopped", false));
        assert!(needs_change("reloaded", true) && needs_change("restarted", false));
        assert_eq!(action_for("reloaded", false), "start");
        assert_eq!(action_for("reloaded", true), "reload");
    }

    #[test]
    fn managers_as_ansible_picks_them() {
        let mut t = Tools {
            service: Some("/usr/sbin/service".into()),
            update_rc_d: Some("/usr/sbin/update-rc.d".into()),
            initscript: Some("/etc/init.d/d".into()),
            ..Tools::default()
        };
        assert_eq!(
            pick("d", "auto", &t),
            Ok(Manager::SysV {
                control: Control::Service("/usr/sbin/service".into()),
                enable: Some(Enabler::UpdateRcD("/usr/sbin/update-rc.d".into()))
            })
        );
        t.systemd = true;
        assert_eq!(pick("d", "auto", &t), Ok(Manager::Systemd));
        t.systemd = false;
        t.initscript = None;
        assert_eq!(
            pick("d", "auto", &t),
            Err("Could not find the requested service d: host".into())
        );
    }
}
