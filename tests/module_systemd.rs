//! systemd_service. systemd is not PID 1 where these tests run, so the
//! module's decisions are tested on their own: recorded `systemctl show`
//! outputs (in systemd 252's format, trimmed to the properties that
//! matter and a few around them) plus what `is-enabled` answered go in,
//! the systemctl actions it would run and the result it returns come out.
//! Then real runs on this host, where systemctl is installed but systemd
//! does not run, are compared with ansible's module: both must fail with
//! the same message.

mod common;

use herd_modules::system::systemd::{
    failure_message, parse_show, plan, Command, OnFailure, Plan, Run, UnitFacts, Wanted,
};
use serde_json::{json, Value};

/// `systemctl show cron.service` of an installed, stopped, disabled unit.
const SHOW_INACTIVE: &str = "\
Type=forking
Restart=no
NotifyAccess=none
MainPID=0
ExecMainStartTimestampMonotonic=0
ExecMainExitTimestampMonotonic=0
ExecMainPID=0
ExecMainCode=0
ExecMainStatus=0
ExecStart={ path=/usr/sbin/cron ; argv[]=/usr/sbin/cron -f $EXTRA_OPTS ; ignore_errors=no ; start_time=[n/a] ; stop_time=[n/a] ; pid=0 ; code=(null) ; status=0/0 }
ExecStartEx={ path=/usr/sbin/cron ; argv[]=/usr/sbin/cron -f $EXTRA_OPTS ; flags= ; start_time=[n/a] ; stop_time=[n/a] ; pid=0 ; code=(null) ; status=0/0 }
Slice=system.slice
Id=cron.service
Names=cron.service
Requires=system.slice sysinit.target
WantedBy=multi-user.target
Description=Regular background program processing daemon
LoadState=loaded
ActiveState=inactive
FreezerState=running
SubState=dead
FragmentPath=/lib/systemd/system/cron.service
UnitFileState=disabled
UnitFilePreset=enabled
InactiveExitTimestampMonotonic=0
CanStart=yes
CanStop=yes
CanReload=no
";

fn show_active() -> String {
    SHOW_INACTIVE
        .replace("ActiveState=inactive", "ActiveState=active")
        .replace("SubState=dead", "SubState=running")
        .replace("MainPID=0", "MainPID=812")
        .replace("UnitFileState=disabled", "UnitFileState=enabled")
}

/// A masked unit: loaded from /dev/null, with the load error systemd gives.
const SHOW_MASKED: &str = "\
Id=cron.service
Names=cron.service
Description=cron.service
LoadState=masked
ActiveState=inactive
FreezerState=running
SubState=dead
FragmentPath=/dev/null
UnitFileState=masked
LoadError=org.freedesktop.systemd1.UnitMasked \"Unit cron.service is masked.\"
CanStart=no
";

/// A unit systemd does not know.
const SHOW_NOT_FOUND: &str = "\
Id=nosuch.service
Names=nosuch.service
Description=nosuch.service
LoadState=not-found
ActiveState=inactive
FreezerState=running
SubState=dead
UnitFileState=
LoadError=org.freedesktop.systemd1.NoSuchUnit \"Unit nosuch.service not found.\"
CanStart=no
";

fn run(rc: i32, out: &str) -> Run {
    Run {
        rc,
        out: out.to_string(),
        err: String::new(),
    }
}

/// Facts of a unit whose `show` printed `show` and `is-enabled -l` said
/// `enabled` with exit code `enabled_rc`.
fn facts(show: &str, enabled_rc: i32, enabled: &str) -> UnitFacts {
    UnitFacts {
        show: run(0, show),
        is_enabled: run(enabled_rc, enabled),
        is_enabled_long: run(enabled_rc, enabled),
        list_unit_files: run(0, ""),
        is_active: run(0, ""),
        bare: run(0, ""),
        ..UnitFacts::default()
    }
}

fn want(unit: &str) -> Wanted {
    Wanted {
        unit: Some(unit.into()),
        scope: "system".into(),
        ..Wanted::default()
    }
}

fn with_state(unit: &str, state: &str) -> Wanted {
    Wanted {
        state: Some(state.into()),
        ..want(unit)
    }
}

fn actions(p: &Plan) -> Vec<&str> {
    p.commands.iter().map(|c| c.action.as_str()).collect()
}

fn status_of(p: &Plan, key: &str) -> Value {
    p.result["status"][key].clone()
}

#[test]
fn a_stopped_unit_is_started_and_check_mode_runs_nothing() {
    let f = facts(SHOW_INACTIVE, 1, "disabled\n");
    let p = plan(&with_state("cron", "started"), &f, false);
    assert_eq!(p.failure, None);
    assert!(p.changed);
    assert_eq!(actions(&p), ["start"]);
    assert_eq!(p.result["state"], "started");
    assert_eq!(status_of(&p, "ActiveState"), "inactive");
    assert_eq!(
        status_of(&p, "ExecStart"),
        "{ path=/usr/sbin/cron ; argv[]=/usr/sbin/cron -f $EXTRA_OPTS ; ignore_errors=no ; start_time=[n/a] ; stop_time=[n/a] ; pid=0 ; code=(null) ; status=0/0 }"
    );
    let c = plan(&with_state("cron", "started"), &f, true);
    assert!(c.changed && c.commands.is_empty());
    assert_eq!(c.result, p.result);
}

#[test]
fn a_running_unit_is_left_alone_stopped_restarted_or_reloaded() {
    let f = facts(&show_active(), 0, "enabled\n");
    let p = plan(&with_state("cron", "started"), &f, false);
    assert!(!p.changed && p.commands.is_empty());
    assert_eq!(status_of(&p, "MainPID"), "812");
    assert_eq!(
        actions(&plan(&with_state("cron", "stopped"), &f, false)),
        ["stop"]
    );
    let p = plan(&with_state("cron", "restarted"), &f, false);
    assert_eq!(
        (actions(&p), p.result["state"].clone()),
        (vec!["restart"], json!("started"))
    );
    assert_eq!(
        actions(&plan(&with_state("cron", "reloaded"), &f, false)),
        ["reload"]
    );
    // Reloading a stopped unit starts it; stopping it does nothing.
    let f = facts(SHOW_INACTIVE, 1, "disabled\n");
    assert_eq!(
        actions(&plan(&with_state("cron", "reloaded"), &f, false)),
        ["start"]
    );
    assert!(!plan(&with_state("cron", "stopped"), &f, false).changed);
    let deactivating = SHOW_INACTIVE.replace("ActiveState=inactive", "ActiveState=deactivating");
    let f = facts(&deactivating, 1, "disabled\n");
    assert_eq!(
        actions(&plan(&with_state("cron", "stopped"), &f, false)),
        ["stop"]
    );
}

#[test]
fn enabling_follows_is_enabled() {
    let enable = Wanted {
        enabled: Some(true),
        ..want("cron")
    };
    let p = plan(&enable, &facts(SHOW_INACTIVE, 1, "disabled\n"), false);
    assert_eq!(actions(&p), ["enable"]);
    assert_eq!(p.result["enabled"], true);
    let p = plan(&enable, &facts(&show_active(), 0, "enabled\n"), false);
    assert!(!p.changed && p.commands.is_empty());
    assert_eq!(p.result["enabled"], true);
    // Enabled for this boot only: Ansible enables it for good.
    let p = plan(
        &enable,
        &facts(&show_active(), 0, "enabled-runtime\n"),
        false,
    );
    assert_eq!(actions(&p), ["enable"]);
    let disable = Wanted {
        enabled: Some(false),
        ..want("cron")
    };
    let p = plan(&disable, &facts(&show_active(), 0, "enabled\n"), true);
    assert!(p.changed && p.commands.is_empty());
    assert_eq!(p.result["enabled"], false);
    // An init script with S links counts as enabled when systemd has no
    // word for it.
    let mut f = facts(SHOW_INACTIVE, 1, "");
    f.initd = true;
    f.sysv_enabled = true;
    assert!(!plan(&enable, &f, false).changed);
}

#[test]
fn masking_and_unmasking() {
    let mask = Wanted {
        masked: Some(true),
        ..want("cron")
    };
    let p = plan(&mask, &facts(SHOW_INACTIVE, 1, "disabled\n"), false);
    assert_eq!(actions(&p), ["mask"]);
    assert_eq!(p.commands[0].on_failure, OnFailure::Mask { found: true });
    assert!(!plan(&mask, &facts(SHOW_MASKED, 1, "masked\n"), false).changed);
    // A masked unit's load error is not a failure; unmasked, then
    // enabled and started.
    let w = Wanted {
        masked: Some(false),
        enabled: Some(true),
        state: Some("started".into()),
        ..want("cron")
    };
    let p = plan(&w, &facts(SHOW_MASKED, 1, "masked\n"), false);
    assert_eq!(p.failure, None);
    assert_eq!(actions(&p), ["unmask", "enable", "start"]);
    assert_eq!(status_of(&p, "LoadState"), "masked");
    let c = plan(&w, &facts(SHOW_MASKED, 1, "masked\n"), true);
    assert!(c.changed && c.commands.is_empty());
}

#[test]
fn unknown_units_and_load_errors_fail() {
    let f = facts(SHOW_NOT_FOUND, 1, "");
    let mut f2 = f.clone();
    f2.list_unit_files = run(1, "");
    let p = plan(&with_state("nosuch", "started"), &f2, false);
    assert_eq!(
        p.failure.map(|(m, _)| m),
        Some("Could not find the requested service nosuch: host".into())
    );
    // Masking a unit that is not there yet is allowed.
    let mask = Wanted {
        masked: Some(true),
        ..want("nosuch")
    };
    let p = plan(&mask, &f2, false);
    assert_eq!(p.commands[0].on_failure, OnFailure::Mask { found: false });
    let broken = SHOW_INACTIVE.replace(
        "CanStart=yes",
        "LoadError=org.freedesktop.systemd1.BadUnitSetting \"Unit cron.service has a bad unit file setting.\"",
    );
    let p = plan(
        &with_state("cron", "started"),
        &facts(&broken, 1, "disabled\n"),
        false,
    );
    assert_eq!(
        p.failure.map(|(m, _)| m),
        Some("Error loading unit file 'cron': org.freedesktop.systemd1.BadUnitSetting \"Unit cron.service has a bad unit file setting.\"".into())
    );
}

#[test]
fn flags_messages_and_parsing() {
    let w = Wanted {
        scope: "user".into(),
        no_block: true,
        force: true,
        ..want("x")
    };
    assert_eq!(
        w.systemctl("/usr/bin/systemctl"),
        ["/usr/bin/systemctl", "--user", "--no-block", "--force"]
    );
    let c = Command {
        action: "start".into(),
        on_failure: OnFailure::State,
    };
    assert_eq!(
        failure_message("cron", &c, "o", "Job failed.\n"),
        "Unable to start service cron: Job failed.\n"
    );
    let m = parse_show("A=1\nExecStop={ path=/bin/kill ;\n argv[]=/bin/kill }\nB= two \n");
    assert_eq!(m["ExecStop"], "{ path=/bin/kill ;\n argv[]=/bin/kill }");
    assert_eq!(m["B"], "two");
    // systemctl answering "ignoring request" means it knows nothing.
    let mut f = facts("Ignoring request.\n", 1, "");
    f.show.out = "ignoring request".into();
    f.list_unit_files = run(1, "");
    f.bare = run(1, "");
    f.bare.err = "Failed to connect to bus\n".into();
    let p = plan(&with_state("cron", "started"), &f, false);
    assert_eq!(
        p.failure.map(|(m, _)| m),
        Some("Failed to connect to bus".into())
    );
}

/// On this host systemctl is installed but systemd is not running: herd
/// and ansible fail the same way.
#[test]
fn without_systemd_both_fail_alike() {
    assert!(
        !std::path::Path::new("/run/systemd/system").exists(),
        "this test needs a host not booted with systemd"
    );
    let steps: &[(&str, &str, &[&str])] = &[
        ("systemd", "name=cron state=started", &[]),
        ("systemd", "name=cron state=started", &["-C"]),
        ("systemd_service", "name=herd-nosuch enabled=yes", &[]),
        ("systemd", "daemon_reload=yes", &[]),
        ("systemd", "daemon_reload=yes", &["-C"]),
        ("systemd", "name=cron masked=no daemon-reexec=yes", &[]),
        ("systemd", "name='cr*n' state=started", &[]),
        ("systemd", "state=started", &[]),
        ("systemd", "scope=user", &[]),
        ("systemd", "name=cron state=started scope=galaxy", &[]),
        (
            "service",
            "name=cron state=started use=systemd pattern=cron",
            &[],
        ),
    ];
    for (module, args, extra) in steps {
        let h = common::herd_adhoc(module, args, extra);
        let a = common::ansible_adhoc(module, args, extra);
        assert_eq!(
            String::from_utf8_lossy(&h.stdout),
            String::from_utf8_lossy(&a.stdout),
            "{module} {args} {extra:?}\nherd stderr: {}\nansible stderr: {}",
            String::from_utf8_lossy(&h.stderr),
            String::from_utf8_lossy(&a.stderr)
        );
        assert_eq!(h.status.code(), a.status.code(), "{module} {args}");
        let warned = |o: &std::process::Output| {
            String::from_utf8_lossy(&o.stderr)
                .contains("Ignoring \"pattern\" as it is not used in \"systemd\"")
        };
        assert_eq!(warned(&h), warned(&a), "{module} {args}");
    }
}
