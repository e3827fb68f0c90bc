//! service for real, on a host not booted with systemd: a small SysV
//! daemon script installed in /etc/init.d for the test (start, stop,
//! reload, status, with a pid file and a log of what it was asked),
//! controlled through the `service` command and enabled with update-rc.d.
//! Each step runs under `herd adhoc` on one copy of the script and under
//! ansible's service module on another; the outputs, the rc?.d links, the
//! running state and the script's log must be the same after every step.
//! Needs root and init-system-helpers (installed by scripts/test.sh).

mod common;

use std::process::{Command, Output};

/// One test service: /etc/init.d/NAME, its daemon (a copy of sleep named
/// NAME-daemon, for `pattern`), pid file and log under /run.
struct TestService(String);

impl TestService {
    fn install(name: &str) -> TestService {
        let script = format!(
            r#"#!/bin/sh
### BEGIN INIT INFO
# Provides:          {name}
# Required-Start:
# Required-Stop:
# Default-Start:     2 3 4 5
# Default-Stop:      0 1 6
# Short-Description: herd test daemon
### END INIT INFO
PIDFILE=/run/{name}.pid
LOG=/run/{name}.log
running() {{ [ -f $PIDFILE ] && kill -0 "$(cat $PIDFILE)" 2>/dev/null; }}
case "$1" in
  start) shift; echo "start $*" >> $LOG
    if running; then exit 0; fi
    /run/{name}-daemon 100000 </dev/null >/dev/null 2>&1 &
    echo $! > $PIDFILE ;;
  stop) echo stop >> $LOG
    if running; then kill "$(cat $PIDFILE)"; fi; rm -f $PIDFILE ;;
  reload) echo reload >> $LOG; running || exit 7 ;;
  restart) "$0" stop; "$0" start ;;
  status) if running; then echo "{name} is running"; exit 0; else echo "{name} is not running"; exit 3; fi ;;
  *) echo "Usage: $0 {{start|stop|reload|restart|status}}"; exit 2 ;;
esac
"#
        );
        let t = TestService(name.to_string());
        t.remove();
        std::fs::copy("/bin/sleep", format!("/run/{name}-daemon")).expect("needs root");
        std::fs::write(format!("/etc/init.d/{name}"), script).expect("needs root");
        let ok = Command::new("chmod")
            .args(["755", &format!("/etc/init.d/{name}")])
            .status()
            .unwrap();
        assert!(ok.success());
        t
    }

    fn remove(&self) {
        let n = &self.0;
        let _ = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "[ -f /run/{n}.pid ] && kill $(cat /run/{n}.pid); \
                 update-rc.d -f {n} remove >/dev/null 2>&1; \
                 rm -f /etc/init.d/{n} /run/{n}.pid /run/{n}.log /run/{n}-daemon /etc/rc?.d/[SK]??{n}"
            ))
            .status();
    }

    /// The rc?.d links, whether it runs, and its log, with the name as NAME.
    fn state(&self) -> String {
        let n = &self.0;
        let out = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "cd /etc && ls -d rc?.d/[SK]??{n} 2>/dev/null; /etc/init.d/{n} status; \
                 echo '-- log:'; cat /run/{n}.log 2>/dev/null"
            ))
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).replace(n.as_str(), "NAME")
    }
}

impl Drop for TestService {
    fn drop(&mut self) {
        self.remove();
    }
}

fn text(o: &Output, name: &str) -> String {
    String::from_utf8_lossy(&o.stdout).replace(name, "NAME")
}

#[test]
fn sysv_service_steps_match_ansible() {
    assert!(
        !std::path::Path::new("/run/systemd/system").exists(),
        "this test drives a SysV init script and needs a host not booted with systemd"
    );
    let base = format!("hsvc{}", std::process::id() % 100_000);
    let (hn, an) = (format!("{base}h"), format!("{base}a"));
    let h = TestService::install(&hn);
    let a = TestService::install(&an);
    let steps: &[(&str, &[&str])] = &[
        ("name=NAME state=started", &["-C"]),
        ("name=NAME state=started", &[]),
        ("name=NAME state=started", &[]),
        ("name=NAME state=restarted", &["-C"]),
        ("name=NAME state=restarted sleep=1", &[]),
        ("name=NAME state=reloaded", &[]),
        ("name=NAME enabled=yes", &["-C"]),
        ("name=NAME enabled=yes", &[]),
        ("name=NAME enabled=yes", &[]),
        ("name=NAME state=stopped enabled=no", &[]),
        ("name=NAME state=stopped", &[]),
        ("name=NAME enabled=no", &[]),
        // Pattern: the daemon's name in `ps auxww`.
        ("name=NAME pattern=NAME-daemon state=started", &[]),
        ("name=NAME pattern=NAME-daemon state=started", &[]),
        ("name=NAME state=stopped", &[]),
        // A stopped service asked to reload is started; arguments follow.
        ("name=NAME state=reloaded args='--fast now'", &[]),
        ("name=NAME state=stopped enabled=yes", &["-C"]),
        ("name=NAME state=stopped", &[]),
        // Bad arguments and unknown services.
        ("state=started", &[]),
        ("name=NAME state=bogus", &[]),
        ("name=NAME", &[]),
        ("name=NAME enabled=maybe", &[]),
        ("name=NAME-nosuch state=started", &[]),
    ];
    for (args, extra) in steps {
        let ho = common::herd_adhoc("service", &args.replace("NAME", &hn), extra);
        let ao = common::ansible_adhoc("service", &args.replace("NAME", &an), extra);
        if args.contains("maybe") {
            // Ansible lists the valid booleans in a different order on
            // each run (and quotes the value its own way): the start of
            // the message is enough.
            let first = |o: &Output, n: &str| {
                let t = text(o, n);
                t.split("The value").next().map(str::to_string)
            };
            assert_eq!(first(&ho, &hn), first(&ao, &an), "step {args}");
        } else {
            assert_eq!(
                text(&ho, &hn),
                text(&ao, &an),
                "step {args} {extra:?}\nherd stderr: {}\nansible stderr: {}",
                String::from_utf8_lossy(&ho.stderr),
                String::from_utf8_lossy(&ao.stderr)
            );
        }
        assert_eq!(ho.status.code(), ao.status.code(), "step {args}");
        assert_eq!(h.state(), a.state(), "after step {args} {extra:?}");
    }
    // It did something: the log holds what each step asked for.
    let log = h.state();
    assert!(
        log.contains("-- log:\nstart \nstop\nstart \nreload\nstop\n"),
        "{log}"
    );
    assert!(log.contains("start --fast now\nstop\n"), "{log}");
}
