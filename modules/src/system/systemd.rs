//! systemd_service — manage a systemd unit: start, stop, restart, reload,
//! enable, mask, daemon-reload, as Ansible's systemd_service (alias
//! systemd) module does.
//!
//! One script asks systemctl what the unit is (`show`, `is-enabled`,
//! `list-unit-files`, `is-active`), whether /etc/init.d has a script of
//! that name and whether systemctl works at all; deciding is then a pure
//! function of those outputs, which yields the systemctl commands to run
//! and the result. In order: daemon-reload and daemon-reexec (before the
//! unit is read), mask/unmask, enable/disable, then the state: `started`
//! starts an inactive unit, `stopped` stops an active or deactivating
//! one, `restarted`/`reloaded` start an inactive unit and restart/reload
//! an active one. A unit unknown to systemd fails with "Could not find the
//! requested service NAME: host"; a host where systemd does not run fails
//! with systemctl's own message (or "Service is in unknown state"), as in
//! Ansible. Glob patterns in the name are refused.
//!
//! Tested: the decisions against recorded `systemctl show` outputs of a
//! real unit (inactive, active, masked, not found: commands, result,
//! check mode, daemon-reload), and for real on a host where systemd is
//! not PID 1, compared with ansible's module (tests/module_systemd.rs).
//!
//! Arguments:
//!   name           the unit (alias service, unit); needed by state,
//!                  enabled and masked
//!   state          started, stopped, restarted, reloaded
//!   enabled        start at boot (yes/no)
//!   masked         mask the unit (yes/no)
//!   daemon_reload  run daemon-reload first (alias daemon-reload)
//!   daemon_reexec  run daemon-reexec first (alias daemon-reexec)
//!   scope          system (default), user or global
//!   no_block       pass --no-block
//!   force          pass --force
//!   With none of state, enabled, masked, daemon_reload, daemon_reexec
//!   nothing is done (as in Ansible, whose check of them never fails).
//!
//! Returns: name, changed, status (every property of `systemctl show`),
//! enabled, state.

use async_trait::async_trait;
use serde_json::{Map, Value};

use crate::api::{shell_quote, ExecOptions, HostError, Module, ModuleContext, Outcome};
use crate::args::{Args, Param, Spec};

pub struct Systemd;

static SPEC: Spec = Spec {
    module: "systemd_service",
    params: &[
        Param::str("name").aliases(&["service", "unit"]),
        Param::str("state").choices(&["reloaded", "restarted", "started", "stopped"]),
        Param::bool("enabled"),
        Param::bool("force"),
        Param::bool("masked"),
        Param::bool("daemon_reload")
            .default("false")
            .aliases(&["daemon-reload"]),
        Param::bool("daemon_reexec")
            .default("false")
            .aliases(&["daemon-reexec"]),
        Param::str("scope")
            .default("system")
            .choices(&["system", "user", "global"]),
        Param::bool("no_block").default("false"),
    ],
    mutually_exclusive: &[],
    // Ansible requires one of state, enabled, masked, daemon_reload and
    // daemon_reexec, but the defaults of the last two count as given, so
    // the rule never fails: without them the task just reads nothing.
    required_one_of: &[],
};

/// What the task asks for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Wanted {
    pub unit: Option<String>,
    pub state: Option<String>,
    pub enabled: Option<bool>,
    pub masked: Option<bool>,
    pub daemon_reload: bool,
    pub daemon_reexec: bool,
    pub scope: String,
    pub no_block: bool,
    pub force: bool,
}

impl Wanted {
    fn from_args(a: &Args) -> Wanted {
        Wanted {
            unit: a.str("name"),
            state: a.str("state"),
            enabled: a.bool("enabled"),
            masked: a.bool("masked"),
            daemon_reload: a.bool_or("daemon_reload", false),
            daemon_reexec: a.bool_or("daemon_reexec", false),
            scope: a.str_or("scope", "system"),
            no_block: a.bool_or("no_block", false),
            force: a.bool_or("force", false),
        }
    }

    /// `systemctl` with the scope and flags, as words.
    pub fn systemctl(&self, path: &str) -> Vec<String> {
        let mut w = vec![path.to_string()];
        if self.scope != "system" {
            w.push(format!("--{}", self.scope));
        }
        if self.no_block {
            w.push("--no-block".into());
        }
        if self.force {
            w.push("--force".into());
        }
        w
    }
}

/// One command's output.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Run {
    pub rc: i32,
    pub out: String,
    pub err: String,
}

/// What systemctl and the file system say about the unit.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UnitFacts {
    /// `systemctl show UNIT`.
    pub show: Run,
    /// `systemctl is-enabled UNIT`.
    pub is_enabled: Run,
    /// `systemctl is-enabled UNIT -l` (with the unit's files).
    pub is_enabled_long: Run,
    /// `systemctl list-unit-files UNIT`.
    pub list_unit_files: Run,
    /// `systemctl is-active UNIT`.
    pub is_active: Run,
    /// `systemctl` alone: whether systemctl works at all.
    pub bare: Run,
    /// /etc/init.d/UNIT exists.
    pub initd: bool,
    /// /etc/rc?.d/S??UNIT exists.
    pub sysv_enabled: bool,
    /// The host is a chroot (or SYSTEMD_OFFLINE=1).
    pub offline: bool,
}

/// What a failed command means.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OnFailure {
    /// mask/unmask: "Could not find…" when the unit is unknown, else
    /// "Failed to ACTION the service (UNIT): ERR".
    Mask { found: bool },
    /// "Unable to ACTION service UNIT: OUT+ERR".
    Enable,
    /// "Unable to ACTION service UNIT: ERR".
    State,
}

/// A systemctl action on the unit and what its failure means.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Command {
    pub action: String,
    pub on_failure: OnFailure,
}

/// The decision: commands to run (none in check mode) and the result, or
/// a failure (message and extra result keys).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Plan {
    pub commands: Vec<Command>,
    pub result: Map<String, Value>,
    pub changed: bool,
    pub warnings: Vec<String>,
    pub failure: Option<(String, Map<String, Value>)>,
}

/// `systemctl show` output as Ansible reads it: `Key=value` lines, a
/// value of an `Exec…` key in braces may span lines.
pub fn parse_show(text: &str) -> Map<String, Value> {
    let mut parsed = Map::new();
    let mut key: Option<String> = None;
    let mut multi: Vec<String> = Vec::new();
    for line in text.split('\n') {
        match &key {
            None => {
                let Some((k, v)) = line.split_once('=') else {
                    continue;
                };
                if k.starts_with("Exec")
                    && v.trim_start().starts_with('{')
                    && !v.trim_end().ends_with('}')
                {
                    multi.push(v.to_string());
                    key = Some(k.to_string());
                    continue;
                }
                parsed.insert(k.to_string(), Value::String(v.trim().to_string()));
            }
            Some(k) => {
                multi.push(line.to_string());
                if line.trim_end().ends_with('}') {
                    parsed.insert(
                        k.clone(),
                        Value::String(multi.join("\n").trim().to_string()),
                    );
                    multi.clear();
                    key = None;
                }
            }
        }
    }
    parsed
}

fn ignored(out: &str) -> bool {
    !out.contains('=') && (out.contains("ignoring request") || out.contains("ignoring command"))
}

const ENABLED_STATES: &[&str] = &[
    "enabled",
    "enabled-runtime",
    "linked",
    "linked-runtime",
    "masked",
    "masked-runtime",
    "static",
    "indirect",
    "disabled",
    "generated",
    "transient",
];

/// Decides what to do about the unit (`w.unit` is set).
pub fn plan(w: &Wanted, f: &UnitFacts, check: bool) -> Plan {
    let unit = w.unit.clone().unwrap_or_default();
    let mut p = Plan::default();
    let mut status = Map::new();
    let mut is_systemd = false;
    let fail = |p: &mut Plan, msg: String, extra: Map<String, Value>| {
        p.failure = Some((msg, extra));
    };
    if f.show.rc == 0 && !(ignored(&f.show.out) || ignored(&f.show.err)) {
        if !f.show.out.is_empty() {
            status = parse_show(&f.show.out);
            let load = status.get("LoadState").and_then(Value::as_str);
            is_systemd = load.is_some_and(|l| l != "not-found");
            let masked = load == Some("masked");
            if is_systemd && !masked {
                if let Some(e) = status.get("LoadError").and_then(Value::as_str) {
                    fail(
                        &mut p,
                        format!("Error loading unit file '{unit}': {e}"),
                        Map::new(),
                    );
                    return p;
                }
            }
        }
    } else if !f.show.err.is_empty()
        && f.show.rc == 1
        && f.show.err.contains("Failed to parse bus message")
    {
        status = parse_show(&f.show.out);
        let (base, sep, _) = match unit.split_once('@') {
            Some((b, _)) => (b, "@", ()),
            None => (unit.as_str(), "", ()),
        };
        is_systemd = f.list_unit_files.out.contains(&format!("{base}{sep}"));
        status.insert(
            "ActiveState".into(),
            Value::String(f.is_active.out.trim_end_matches('\n').to_string()),
        );
    } else if ENABLED_STATES.contains(&f.is_enabled.out.trim()) || f.list_unit_files.rc == 0 {
        // Known to is-enabled, else to list-unit-files (chroots).
        is_systemd = true;
    } else if f.bare.rc != 0 {
        // Ansible runs systemctl alone and fails with its output.
        let mut extra = Map::new();
        extra.insert("cmd".into(), "systemctl".into());
        extra.insert("rc".into(), f.bare.rc.into());
        extra.insert("stdout".into(), f.bare.out.clone().into());
        extra.insert("stderr".into(), f.bare.err.clone().into());
        fail(&mut p, f.bare.err.trim_end().to_string(), extra);
        return p;
    }
    let found = is_systemd || f.initd;
    if f.initd && !is_systemd {
        p.warnings.push(format!(
            "The service ({unit}) is actually an init script but the system is managed by systemd"
        ));
    }
    let missing = format!("Could not find the requested service {unit}: host");
    let mut is_enabled = f.is_enabled_long.clone();

    if let Some(want) = w.masked {
        let masked = f.is_enabled.out.trim() == "masked";
        if masked != want {
            p.changed = true;
            let action = if want { "mask" } else { "unmask" };
            if !check {
                p.commands.push(Command {
                    action: action.into(),
                    on_failure: OnFailure::Mask { found },
                });
                // What is-enabled says after the change.
                is_enabled = Run {
                    rc: 1,
                    out: if want { "masked\n" } else { "disabled\n" }.into(),
                    err: String::new(),
                };
            }
        }
    }

    if let Some(want) = w.enabled {
        if !found {
            fail(&mut p, missing, Map::new());
            return p;
        }
        let mut enabled = false;
        if is_enabled.rc == 0 {
            enabled = !matches!(
                is_enabled.out.trim_end(),
                "enabled-runtime" | "indirect" | "alias"
            );
        } else if is_enabled.rc == 1
            && w.scope == "system"
            && f.initd
            && !is_enabled.out.trim().ends_with("disabled")
            && f.sysv_enabled
        {
            enabled = true;
        }
        p.result.insert("enabled".into(), enabled.into());
        if enabled != want {
            p.changed = true;
            if !check {
                p.commands.push(Command {
                    action: if want { "enable" } else { "disable" }.into(),
                    on_failure: OnFailure::Enable,
                });
            }
            p.result.insert("enabled".into(), (!enabled).into());
        }
    }

    if let Some(state) = &w.state {
        if !found {
            fail(&mut p, missing, Map::new());
            return p;
        }
        p.result.insert("state".into(), state.clone().into());
        match status.get("ActiveState").and_then(Value::as_str) {
            Some(active) => {
                let running = matches!(active, "active" | "activating");
                let action = match state.as_str() {
                    "started" => (!running).then_some("start"),
                    "stopped" => (running || active == "deactivating").then_some("stop"),
                    other => {
                        p.result.insert("state".into(), "started".into());
                        Some(if !running {
                            "start"
                        } else if other == "restarted" {
                            "restart"
                        } else {
                            "reload"
                        })
                    }
                };
                if let Some(action) = action {
                    p.changed = true;
                    if !check {
                        p.commands.push(Command {
                            action: action.into(),
                            on_failure: OnFailure::State,
                        });
                    }
                }
            }
            None if f.offline => p.warnings.push(
                "Target is a chroot or systemd is offline. This can lead to false positives or prevent the init system tools from working.".into(),
            ),
            None => {
                let mut extra = Map::new();
                extra.insert("status".into(), Value::Object(status));
                fail(&mut p, "Service is in unknown state".into(), extra);
                return p;
            }
        }
    }
    p.result.insert("status".into(), Value::Object(status));
    p
}

/// The failure message of a command that failed.
pub fn failure_message(unit: &str, c: &Command, out: &str, err: &str) -> String {
    match &c.on_failure {
        OnFailure::Mask { found: false } => {
            format!("Could not find the requested service {unit}: host")
        }
        OnFailure::Mask { found: true } => format!(
            "Failed to {} the service ({unit}): {}",
            c.action,
            err.trim()
        ),
        OnFailure::Enable => format!("Unable to {} service {unit}: {out}{err}", c.action),
        OnFailure::State => format!("Unable to {} service {unit}: {err}", c.action),
    }
}

const SEP: &str = "@@herd-systemd@@";

/// One script for every fact: each command's exit code, output and
/// errors between separators, then the init.d, rc?.d and chroot checks.
fn probe_script(sc: &str, unit: &str) -> String {
    let u = shell_quote(unit);
    let mut s = String::from(
        "export LANG=C LC_ALL=C; [ -n \"${XDG_RUNTIME_DIR:-}\" ] || export XDG_RUNTIME_DIR=/run/user/$(id -u)\n\
         t=$(mktemp -d) || exit 1\n",
    );
    let cmds = [
        format!("{sc} show {u}"),
        format!("{sc} is-enabled {u}"),
        format!("{sc} is-enabled {u} -l"),
        format!("{sc} list-unit-files {u}"),
        format!("{sc} is-active {u}"),
        sc.to_string(),
    ];
    for c in cmds {
        s.push_str(&format!(
            "{c} </dev/null >\"$t/o\" 2>\"$t/e\"; echo $?; echo {SEP}; cat \"$t/o\"; echo {SEP}; cat \"$t/e\"; echo {SEP}\n"
        ));
    }
    s.push_str(&format!(
        "rm -rf \"$t\"\n\
         if [ -e /etc/init.d/{u} ]; then echo initd; fi\n\
         for l in /etc/rc?.d/S??{u}; do if [ -e \"$l\" ] || [ -L \"$l\" ]; then echo sysv_enabled; break; fi; done\n\
         if [ -n \"${{debian_chroot:-}}\" ] || [ \"${{SYSTEMD_OFFLINE:-}}\" = 1 ] || \
         {{ a=$(stat -c %d:%i / 2>/dev/null) && b=$(stat -c %d:%i /proc/1/root/. 2>/dev/null) && [ \"$a\" != \"$b\" ]; }}; then echo offline; fi\n"
    ));
    s
}

fn parse_probe(text: &str) -> UnitFacts {
    let sep = format!("{SEP}\n");
    let mut parts = text.split(sep.as_str());
    let mut next_run = || {
        let rc = parts.next().unwrap_or("").trim().parse().unwrap_or(-1);
        let out = parts.next().unwrap_or("").to_string();
        let err = parts.next().unwrap_or("").to_string();
        Run { rc, out, err }
    };
    let show = next_run();
    let is_enabled = next_run();
    let is_enabled_long = next_run();
    let list_unit_files = next_run();
    let is_active = next_run();
    let bare = next_run();
    let rest = parts.collect::<Vec<_>>().concat();
    let rest: Vec<&str> = rest.lines().collect();
    UnitFacts {
        show,
        is_enabled,
        is_enabled_long,
        list_unit_files,
        is_active,
        bare,
        initd: rest.contains(&"initd"),
        sysv_enabled: rest.contains(&"sysv_enabled"),
        offline: rest.contains(&"offline"),
    }
}

#[async_trait]
impl Module for Systemd {
    fn name(&self) -> &'static str {
        "systemd_service"
    }

    fn spec(&self) -> Option<&'static Spec> {
        Some(&SPEC)
    }

    async fn run(&self, ctx: &ModuleContext<'_>) -> Result<Outcome, HostError> {
        let a = match SPEC.parse(ctx).await? {
            Ok(a) => a,
            Err(o) => return Ok(o),
        };
        run_with(ctx, &a, Vec::new()).await
    }
}

/// The `systemd` name of the same module.
pub struct SystemdAlias;

/// What `herd doc systemd` shows.
pub const ALIAS_DOC: &str =
    "//! systemd — the systemd_service module under its older name (Ansible\n\
//! keeps both): see systemd_service.\n\
//!\n\
//! Tested: as systemd_service (tests/module_systemd.rs).\n";

#[async_trait]
impl Module for SystemdAlias {
    fn name(&self) -> &'static str {
        "systemd"
    }

    fn spec(&self) -> Option<&'static Spec> {
        Some(&SPEC)
    }

    async fn run(&self, ctx: &ModuleContext<'_>) -> Result<Outcome, HostError> {
        Systemd.run(ctx).await
    }
}

/// The service module's task on a systemd host: its arguments that
/// systemd has no use for are dropped with Ansible's warning.
pub async fn run_for_service(ctx: &ModuleContext<'_>) -> Result<Outcome, HostError> {
    let mut args = ctx.args.clone();
    args.shift_remove("use");
    // Ansible's service action runs this module by that name.
    args.insert(
        "_ansible_module_name".into(),
        serde_json::Value::String("ansible.legacy.systemd".into()),
    );
    let mut warnings = Vec::new();
    for unused in ["pattern", "runlevel", "sleep", "arguments", "args"] {
        if args.shift_remove(unused).is_some() {
            warnings.push(format!(
                "Ignoring \"{unused}\" as it is not used in \"systemd\""
            ));
        }
    }
    let a = match SPEC.validate(&args) {
        Ok(a) => a,
        Err(e) => return Ok(Outcome::failed(e)),
    };
    run_with(ctx, &a, warnings).await
}

async fn run_with(
    ctx: &ModuleContext<'_>,
    a: &Args,
    mut warnings: Vec<String>,
) -> Result<Outcome, HostError> {
    let w = Wanted::from_args(a);
    for (param, given) in [
        ("state", w.state.is_some()),
        ("enabled", w.enabled.is_some()),
        ("masked", w.masked.is_some()),
    ] {
        if given && w.unit.is_none() {
            return Ok(Outcome::failed(format!(
                "missing parameter(s) required by '{param}': name"
            )));
        }
    }
    if let Some(u) = &w.unit {
        for g in ["*", "?", "["] {
            if u.contains(g) {
                return Ok(Outcome::failed(format!(
                    "This module does not currently support using glob patterns, found '{g}' in service name: {u}"
                )));
            }
        }
    }
    let r = ctx
        .host
        .exec(
            "PATH=\"$PATH:/sbin:/usr/sbin:/bin:/usr/bin\" command -v systemctl",
            &ExecOptions::default(),
        )
        .await?;
    let path = r.stdout_text().trim().to_string();
    if r.rc != 0 || path.is_empty() {
        return Ok(Outcome::failed(
            "Failed to find required executable \"systemctl\" in paths: /usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        ));
    }
    let sc: Vec<String> = w.systemctl(&path).iter().map(|s| shell_quote(s)).collect();
    let sc = sc.join(" ");
    let env = "export LANG=C LC_ALL=C; [ -n \"${XDG_RUNTIME_DIR:-}\" ] || export XDG_RUNTIME_DIR=/run/user/$(id -u); ";
    for (wanted, what) in [
        (w.daemon_reload, "daemon-reload"),
        (w.daemon_reexec, "daemon-reexec"),
    ] {
        if !wanted || ctx.check_mode {
            continue;
        }
        let r = ctx
            .host
            .exec(
                &format!("{env}{sc} {what} </dev/null"),
                &ExecOptions::default(),
            )
            .await?;
        if r.rc != 0 {
            let offline = ctx
                .host
                .exec(
                    "[ -n \"${debian_chroot:-}\" ] || [ \"${SYSTEMD_OFFLINE:-}\" = 1 ] || { a=$(stat -c %d:%i /) && b=$(stat -c %d:%i /proc/1/root/.) && [ \"$a\" != \"$b\" ]; }",
                    &ExecOptions::default(),
                )
                .await?
                .rc
                == 0;
            if offline {
                warnings.push(format!(
                    "{what} failed, but target is a chroot or systemd is offline. Continuing. Error was: {} / {}",
                    r.rc,
                    r.stderr_text()
                ));
            } else {
                return Ok(Outcome::failed(format!(
                    "failure {} during {what}: {}",
                    r.rc,
                    r.stderr_text()
                )));
            }
        }
    }
    let mut out = Outcome::ok();
    out.values.insert(
        "name".into(),
        w.unit.clone().map(Value::String).unwrap_or(Value::Null),
    );
    out.values
        .insert("status".into(), Value::Object(Map::new()));
    let Some(unit) = w.unit.clone() else {
        out.warnings = warnings;
        return Ok(out);
    };
    let r = ctx
        .host
        .exec(&probe_script(&sc, &unit), &ExecOptions::default())
        .await?;
    let facts = parse_probe(&r.stdout_text());
    let p = plan(&w, &facts, ctx.check_mode);
    warnings.extend(p.warnings.iter().cloned());
    if let Some((msg, mut extra)) = p.failure {
        if extra.contains_key("cmd") {
            extra.insert("cmd".into(), path.clone().into());
        }
        let mut f = Outcome::failed(msg);
        f.values = extra;
        f.warnings = warnings;
        return Ok(f);
    }
    for c in &p.commands {
        let r = ctx
            .host
            .exec(
                &format!("{env}{sc} {} {} </dev/null", c.action, shell_quote(&unit)),
                &ExecOptions::default(),
            )
            .await?;
        if r.rc != 0 {
            let mut f = Outcome::failed(failure_message(
                &unit,
                c,
                &r.stdout_text(),
                &r.stderr_text(),
            ));
            f.warnings = warnings;
            return Ok(f);
        }
    }
    out.changed = p.changed;
    for (k, v) in p.result {
        out.values.insert(k, v);
    }
    out.warnings = warnings;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn show_output_with_multi_line_exec_values() {
        let m = parse_show(
            "Id=a.service\nExecStart={ path=/bin/a ; argv[]=/bin/a\n x }\nDescription={ odd\nActiveState=active\n",
        );
        assert_eq!(m["ExecStart"], "{ path=/bin/a ; argv[]=/bin/a\n x }");
        assert_eq!(m["Description"], "{ odd");
        assert_eq!(m["ActiveState"], "active");
    }

    #[test]
    fn probe_output_is_read_back() {
        let text = format!(
            "0\n{SEP}\nA=1\n{SEP}\n{SEP}\n1\n{SEP}\ndisabled\n{SEP}\n{SEP}\n1\n{SEP}\ndisabled\n{SEP}\n{SEP}\n0\n{SEP}\n{SEP}\n{SEP}\n3\n{SEP}\ninactive\n{SEP}\n{SEP}\n0\n{SEP}\n{SEP}\n{SEP}\ninitd\n"
        );
        let f = parse_probe(&text);
        assert_eq!(f.show.out, "A=1\n");
        assert_eq!(f.is_enabled.rc, 1);
        assert_eq!(f.is_active.out, "inactive\n");
        assert!(f.initd && !f.sysv_enabled && !f.offline);
    }
}
