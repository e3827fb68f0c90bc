//! wait_for — wait for a file, a string in a file, or a TCP port.
//!
//! The wait runs on the host: one `sh` loop that checks every `sleep`
//! seconds until the condition holds or `timeout` passes. A port is open
//! when a socket on the host is listening on it (`/proc/net/tcp` and
//! `tcp6`, for `host` naming the host itself), or else when `nc -z` (or
//! curl's `telnet://`) can connect. With `search_regex`, the file is read
//! (or the port's greeting captured) on each try and searched on the
//! controller with Python's `re` syntax.
//!
//! Arguments:
//!   path              a file to wait for
//!   port              a TCP port to wait for (not with path)
//!   host              the address to check (default 127.0.0.1)
//!   state             started / present (default started: the file
//!                     exists or the port answers), stopped / absent
//!                     (gone, closed), drained (no active connection on
//!                     port)
//!   search_regex      a regex (Python syntax, multiline) the file or the
//!                     port's first data must match
//!   delay             seconds to wait before the first check
//!   timeout           seconds to wait in all (default 300)
//!   sleep             seconds between checks (default 1)
//!   connect_timeout   seconds for one connection attempt (default 5)
//!   msg               the failure message instead of the default
//!   exclude_hosts     remote addresses not counted with state=drained
//!   active_connection_states  TCP states counted as active (default
//!                     ESTABLISHED, FIN_WAIT1, FIN_WAIT2, SYN_RECV,
//!                     SYN_SENT, TIME_WAIT)
//!
//! With neither path nor port (and not drained) it sleeps `timeout`
//! seconds. Never changes anything; check mode skips it, as Ansible
//! does (wait_for does not support it). Fails with Ansible's messages
//! ("Timeout when waiting for file /x", "Timeout when waiting for
//! 127.0.0.1:8080", "… to stop.", "… to be absent.", "Timeout when
//! waiting for search string RE in /x").
//!
//! Returns: elapsed, state, port, path, search_regex, match_groups,
//! match_groupdict, and the path's mode/owner/size/state when it exists.
//!
//! Tested: tests/module_wait_for.rs (files appearing and going, a regex
//! in a file, a port opened and closed by the test, timeouts, drained),
//! compared with ansible's wait_for.

use std::time::{Duration, Instant};

use async_trait::async_trait;

use crate::api::{shell_quote, ExecOptions, HostError, Map, Module, ModuleContext, Outcome, Value};
use crate::args::{Param, Spec};
use crate::files::common::stat_values;
use crate::files::pyre;

pub struct WaitFor;

static SPEC: Spec = Spec {
    module: "wait_for",
    params: &[
        Param::str("host").default("127.0.0.1"),
        Param::int("timeout").default("300"),
        Param::int("connect_timeout").default("5"),
        Param::int("delay").default("0"),
        Param::int("port"),
        Param::list("active_connection_states")
            .default("ESTABLISHED,FIN_WAIT1,FIN_WAIT2,SYN_RECV,SYN_SENT,TIME_WAIT"),
        Param::path("path"),
        Param::str("search_regex"),
        Param::str("state")
            .default("started")
            .choices(&["absent", "drained", "present", "started", "stopped"]),
        Param::list("exclude_hosts"),
        Param::int("sleep").default("1"),
        Param::str("msg"),
    ],
    mutually_exclusive: &[],
    required_one_of: &[],
};

/// The hex code Linux shows in /proc/net/tcp for a TCP state.
fn tcp_state_code(name: &str) -> Option<&'static str> {
    Some(match name {
        "ESTABLISHED" => "01",
        "SYN_SENT" => "02",
        "SYN_RECV" => "03",
        "FIN_WAIT1" => "04",
        "FIN_WAIT2" => "05",
        "TIME_WAIT" => "06",
        "CLOSE" => "07",
        "CLOSE_WAIT" => "08",
        "LAST_ACK" => "09",
        "LISTEN" => "0A",
        "CLOSING" => "0B",
        _ => return None,
    })
}

/// Shell functions the wait loops use. `port_open H P CT` succeeds when
/// something accepts connections there; `active P STATES EXCL` prints the
/// number of connections on local port P in the given states.
const SH_FUNCS: &str = r#"
is_self() {
  case "$1" in 127.*|localhost|0.0.0.0|::1|::|"$(hostname 2>/dev/null)") return 0 ;; esac
  return 1
}
listening() {
  hp=$(printf '%04X' "$1")
  cat /proc/net/tcp /proc/net/tcp6 2>/dev/null | awk -v p="$hp" '
    { n = split($2, a, ":"); if (a[n] == p && $4 == "0A") f = 1 }
    END { exit !f }'
}
port_open() {
  if is_self "$1" && [ -r /proc/net/tcp ]; then listening "$2"; return; fi
  if command -v nc >/dev/null 2>&1; then
    nc -z -w "$3" "$1" "$2" </dev/null >/dev/null 2>&1; return
  fi
  if command -v curl >/dev/null 2>&1; then
    curl -s -o /dev/null --connect-timeout "$3" --max-time "$3" "telnet://$1:$2" </dev/null
    rc=$?; [ "$rc" -eq 0 ] || [ "$rc" -eq 28 ]; return
  fi
  echo 'wait_for needs /proc/net/tcp, nc or curl on the host to check a port' >&2
  exit 3
}
active() {
  hp=$(printf '%04X' "$1")
  cat /proc/net/tcp /proc/net/tcp6 2>/dev/null | awk -v p="$hp" -v states="$2" -v excl="$3" '
    $1 ~ /^[0-9]+:$/ {
      n = split($2, a, ":"); if (a[n] != p) next
      if (index(" " states " ", " " $4 " ") == 0) next
      split($3, r, ":"); if (excl != "" && index(" " excl " ", " " r[1] " ") > 0) next
      c++
    }
    END { print c + 0 }'
}
now() { date +%s; }
"#;

/// An IPv4 address as /proc/net/tcp writes it (little-endian hex), for
/// exclude_hosts.
fn proc_ipv4(addr: &str) -> Option<String> {
    let parts: Vec<u8> = addr
        .split('.')
        .map(|p| p.parse::<u8>().ok())
        .collect::<Option<Vec<u8>>>()?;
    if parts.len() != 4 {
        return None;
    }
    Some(format!(
        "{:02X}{:02X}{:02X}{:02X}",
        parts[3], parts[2], parts[1], parts[0]
    ))
}

#[async_trait]
impl Module for WaitFor {
    fn name(&self) -> &'static str {
        "wait_for"
    }

    fn spec(&self) -> Option<&'static Spec> {
        Some(&SPEC)
    }

    async fn run(&self, ctx: &ModuleContext<'_>) -> Result<Outcome, HostError> {
        let a = match SPEC.parse(ctx).await? {
            Ok(a) => a,
            Err(o) => return Ok(o),
        };
        if ctx.check_mode {
            let mut o = Outcome::ok();
            o.skipped = true;
            o.msg = Some("remote module (wait_for) does not support check mode".into());
            return Ok(o);
        }
        let host_name = a.str_or("host", "127.0.0.1");
        let timeout = a.int("timeout").unwrap_or(300).max(0) as u64;
        let connect_timeout = a.int("connect_timeout").unwrap_or(5).max(1) as u64;
        let delay = a.int("delay").unwrap_or(0).max(0) as u64;
        let sleep = a.int("sleep").unwrap_or(1).max(0) as u64;
        let port = a.int("port").filter(|p| *p != 0);
        let path = a.str("path");
        let state = a.str_or("state", "started");
        let search = a.str("search_regex");
        let user_msg = a.str("msg");

        let fail = |m: String, elapsed: u64| {
            Outcome::failed(user_msg.clone().unwrap_or(m)).with("elapsed", elapsed)
        };
        let re = match &search {
            Some(s) => match pyre::compile(s, true, false) {
                Ok(r) => Some(r),
                Err(e) => return Ok(Outcome::failed(format!("Invalid regular expression: {e}"))),
            },
            None => None,
        };
        if port.is_some() && path.is_some() {
            return Ok(fail(
                "port and path parameter can not both be passed to wait_for".into(),
                0,
            ));
        }
        if path.is_some() && (state == "stopped" || state == "drained") {
            return Ok(fail(
                format!(
                    "state={state} should only be used for checking a port in the wait_for module"
                ),
                0,
            ));
        }
        if a.has("exclude_hosts") && state != "drained" {
            return Ok(fail(
                "exclude_hosts should only be with state=drained".into(),
                0,
            ));
        }
        let states = a.list("active_connection_states").unwrap_or_else(|| {
            [
                "ESTABLISHED",
                "FIN_WAIT1",
                "FIN_WAIT2",
                "SYN_RECV",
                "SYN_SENT",
                "TIME_WAIT",
            ]
            .map(String::from)
            .to_vec()
        });
        let mut codes = Vec::new();
        for s in &states {
            match tcp_state_code(s) {
                Some(c) => codes.push(c),
                None => {
                    return Ok(fail(
                        format!("unknown active_connection_state ({s}) defined"),
                        0,
                    ))
                }
            }
        }

        let start = Instant::now();
        let elapsed = || start.elapsed().as_secs();
        let target = format!("{host_name}:{}", port.unwrap_or(0));
        let opts = ExecOptions {
            timeout: Some(delay + timeout + connect_timeout + 30),
            ..ExecOptions::default()
        };
        let q = shell_quote;

        // Conditions without a regex: one loop on the host.
        let (condition, timeout_msg) = match (&path, port, state.as_str(), &re) {
            (_, _, _, Some(_)) if state == "started" || state == "present" => (None, String::new()),
            (None, None, "drained", _) | (None, Some(_), "drained", _) => {
                let excl: Vec<String> = a
                    .list("exclude_hosts")
                    .unwrap_or_default()
                    .iter()
                    .filter_map(|h| proc_ipv4(h))
                    .collect();
                (
                    Some(format!(
                        "[ \"$(active {} {} {})\" -eq 0 ]",
                        port.unwrap_or(0),
                        q(&codes.join(" ")),
                        q(&excl.join(" "))
                    )),
                    format!("Timeout when waiting for {target} to drain"),
                )
            }
            (None, None, _, _) => (Some("false".into()), String::new()),
            (Some(p), _, "absent", _) => (
                Some(format!("[ ! -e {} ]", q(p))),
                format!("Timeout when waiting for {p} to be absent."),
            ),
            (Some(p), _, _, _) => (
                Some(format!("[ -e {} ]", q(p))),
                format!("Timeout when waiting for file {p}"),
            ),
            (None, Some(pn), "absent" | "stopped", _) => (
                Some(format!(
                    "! port_open {} {pn} {connect_timeout}",
                    q(&host_name)
                )),
                format!("Timeout when waiting for {target} to stop."),
            ),
            (None, Some(pn), _, _) => (
                Some(format!(
                    "port_open {} {pn} {connect_timeout}",
                    q(&host_name)
                )),
                format!("Timeout when waiting for {target}"),
            ),
        };

        let mut groups = Vec::new();
        let mut groupdict = Map::new();
        if let Some(cond) = condition {
            let script = if path.is_none() && port.is_none() && state != "drained" {
                format!("sleep {}; exit 0", delay + timeout)
            } else {
                format!(
                    // `date +%s` counts whole seconds: waiting while now <= end
                    // waits at least `timeout`, as Ansible does.
                    "{SH_FUNCS}\nsleep {delay}\nend=$(( $(now) + {timeout} ))\n\
                     while [ \"$(now)\" -le \"$end\" ]; do\n  if {cond}; then exit 0; fi\n  sleep {sleep}\ndone\nexit 1\n"
                )
            };
            let r = ctx.host.exec(&script, &opts).await?;
            if r.rc == 3 {
                return Ok(fail(r.stderr_text().trim().to_string(), elapsed()));
            }
            if r.rc != 0 {
                return Ok(fail(timeout_msg, elapsed()));
            }
        } else {
            // A regex: the host waits for the file (or reads the port's
            // greeting); the controller searches what it gets.
            let Some(re) = re else {
                return Ok(fail("search_regex is required here".into(), 0));
            };
            host_sleep(ctx, delay).await?;
            let deadline = Duration::from_secs(delay + timeout);
            let found = loop {
                let data = match (&path, port) {
                    (Some(p), _) => ctx.host.read_file(p).await?,
                    (None, Some(pn)) => {
                        let cmd = format!(
                            "if command -v nc >/dev/null 2>&1; then nc -w {ct} {h} {pn} </dev/null; \
                             else curl -s --max-time {ct} telnet://{h}:{pn} </dev/null; fi",
                            ct = connect_timeout,
                            h = q(&host_name)
                        );
                        let r = ctx.host.exec(&cmd, &opts).await?;
                        Some(r.stdout)
                    }
                    _ => None,
                };
                if let Some(d) = data {
                    let text = String::from_utf8_lossy(&d);
                    if let Ok(Some(c)) = re.captures(&text) {
                        let g: Vec<Option<String>> = c
                            .iter()
                            .skip(1)
                            .map(|m| m.map(|m| m.as_str().to_string()))
                            .collect();
                        break Some((g, named(&re, &c)));
                    }
                }
                if start.elapsed() >= deadline {
                    break None;
                }
                host_sleep(ctx, sleep.max(1)).await?;
            };
            match found {
                Some((g, d)) => {
                    groups = g
                        .into_iter()
                        .map(|m| m.map(Value::String).unwrap_or(Value::Null))
                        .collect();
                    groupdict = d;
                }
                None => {
                    let s = search.clone().unwrap_or_default();
                    let m = match &path {
                        Some(p) => format!("Timeout when waiting for search string {s} in {p}"),
                        None => format!("Timeout when waiting for search string {s} in {target}"),
                    };
                    return Ok(fail(m, elapsed()));
                }
            }
        }

        let mut out = Outcome::ok()
            .with("elapsed", elapsed())
            .with("match_groupdict", Value::Object(groupdict))
            .with("match_groups", Value::Array(groups))
            .with(
                "path",
                path.clone().map(Value::String).unwrap_or(Value::Null),
            )
            .with("port", port.map(Value::from).unwrap_or(Value::Null))
            .with(
                "search_regex",
                search.map(Value::String).unwrap_or(Value::Null),
            )
            .with("state", state.clone());
        // As Ansible adds a returned path's details (its state among them).
        if let Some(p) = &path {
            match ctx.host.stat(p, true).await? {
                Some(st) => {
                    for (k, v) in stat_values(&st) {
                        out.values.insert(k.into(), v);
                    }
                }
                None => {
                    out.values.insert("state".into(), "absent".into());
                }
            }
        }
        Ok(out)
    }
}

fn named(re: &fancy_regex::Regex, c: &fancy_regex::Captures<'_>) -> Map<String, Value> {
    let mut m = Map::new();
    for name in re.capture_names().flatten() {
        let v = c
            .name(name)
            .map(|x| Value::String(x.as_str().to_string()))
            .unwrap_or(Value::Null);
        m.insert(name.to_string(), v);
    }
    m
}

/// Waits on the host (`sleep`), which keeps the controller's executor
/// free without a timer of the modules crate's own.
async fn host_sleep(ctx: &ModuleContext<'_>, secs: u64) -> Result<(), HostError> {
    if secs > 0 {
        let opts = ExecOptions {
            timeout: Some(secs + 30),
            ..ExecOptions::default()
        };
        ctx.host.exec(&format!("sleep {secs}"), &opts).await?;
    }
    Ok(())
}
