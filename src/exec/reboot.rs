//! `wait_for_connection` and `reboot`: actions that drop the host's
//! connection and open it again until the host answers, as ansible-core's
//! action plugins of the same names do.
//!
//! `reboot` reads the host's boot id (or `boot_time_command`), runs the
//! reboot command (found in `search_paths` unless absolute) with the
//! task's privilege escalation, drops the connection, and then opens it
//! again and again (backing off as Ansible does: 1, 2, 4, … up to 12
//! seconds) until the boot id differs, then until `test_command`
//! succeeds, within `reboot_timeout`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use herd_modules::api::{shell_quote, ExecOptions, Host, HostError};

use super::task::host_error;
use super::{Inherit, Runner};
use crate::playbook::Task;
use crate::template::Vars;
use crate::value::{py_repr, py_str, Map, Value};

fn result(pairs: &[(&str, Value)]) -> Map<String, Value> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

/// An integer argument (Ansible's `int()`), or its default.
fn int_arg(args: &Map<String, Value>, keys: &[&str], default: i64) -> Result<i64, String> {
    for k in keys {
        if let Some(v) = args.get(*k) {
            let text = py_str(v);
            return text
                .trim()
                .parse::<i64>()
                .map_err(|_| format!("invalid literal for int() with base 10: {}", py_repr(v)));
        }
    }
    Ok(default)
}

/// The parts of a system that decide reboot's commands, as Ansible's
/// tables key them (distribution name, else family, else the default).
struct System {
    /// `linux`, `alpine`, `void`, `freebsd`, `openbsd`, `macosx`,
    /// `solaris`, `aix`.
    kind: String,
}

impl System {
    async fn detect(host: &dyn Host) -> Result<System, HostError> {
        let r = host
            .exec(
                "uname -s; (. /etc/os-release 2>/dev/null && printf '%s\\n' \"$ID\")",
                &ExecOptions::default(),
            )
            .await?;
        let out = r.stdout_text();
        let mut lines = out.lines();
        let uname = lines.next().unwrap_or("").trim().to_lowercase();
        let id = lines.next().unwrap_or("").trim().to_lowercase();
        let kind = match uname.as_str() {
            "linux" if id == "alpine" || id == "void" => id,
            "freebsd" | "openbsd" | "aix" => uname,
            "darwin" => "macosx".into(),
            "sunos" => "solaris".into(),
            _ => "linux".into(),
        };
        Ok(System { kind })
    }

    fn boot_time_command(&self) -> &'static str {
        match self.kind.as_str() {
            "freebsd" | "openbsd" => "/sbin/sysctl kern.boottime",
            "macosx" | "solaris" | "aix" => "who -b",
            _ => "cat /proc/sys/kernel/random/boot_id",
        }
    }

    fn shutdown_command(&self) -> &'static str {
        match self.kind.as_str() {
            "alpine" => "reboot",
            _ => "shutdown",
        }
    }

    fn shutdown_args(&self, delay_sec: i64, message: &str) -> String {
        let delay_min = delay_sec / 60;
        match self.kind.as_str() {
            "alpine" => String::new(),
            "void" | "macosx" | "openbsd" => format!("-r +{delay_min} \"{message}\""),
            "freebsd" => format!("-r +{delay_sec}s \"{message}\""),
            "solaris" => format!("-y -g {delay_sec} -i 6 \"{message}\""),
            "aix" => "-Fr".into(),
            _ => format!("-r {delay_min} \"{message}\""),
        }
    }

    fn test_command(&self) -> &'static str {
        match self.kind.as_str() {
            "solaris" => "who",
            _ => "whoami",
        }
    }
}

const REBOOT_ARGS: &[&str] = &[
    "boot_time_command",
    "connect_timeout",
    "msg",
    "post_reboot_delay",
    "pre_reboot_delay",
    "reboot_command",
    "reboot_timeout",
    "search_paths",
    "test_command",
];

const WAIT_ARGS: &[&str] = &["connect_timeout", "delay", "sleep", "timeout"];

fn bad_args(action: &str, args: &Map<String, Value>, valid: &[&str]) -> Option<Map<String, Value>> {
    let bad: Vec<&str> = args
        .keys()
        .map(String::as_str)
        .filter(|k| !valid.contains(k))
        .collect();
    (!bad.is_empty()).then(|| {
        result(&[
            ("changed", Value::Bool(false)),
            ("failed", Value::Bool(true)),
            (
                "msg",
                Value::String(format!("Invalid options for {action}: {}", bad.join(","))),
            ),
            (super::task::ACTION_ERROR, Value::Bool(true)),
        ])
    })
}

/// Ansible's retry pause: 2^n seconds and a random fraction, at most 12.
fn backoff(fail_count: u32) -> Duration {
    let jitter = (rand::random::<u64>() % 1000) as f64 / 1000.0;
    let secs = 2f64.powi(fail_count.min(8) as i32) + jitter;
    Duration::from_secs_f64(if secs > 12.0 { 12.0 + jitter } else { secs })
}

impl Runner {
    /// Whether the task reaches its host over the `local` connection.
    fn is_local(&self, task: &Task, inherit: &Inherit, host: &str, vars: &Vars) -> bool {
        let refs: Vec<&Map<String, Value>> = inherit
            .keywords
            .iter()
            .chain(std::iter::once(&task.keywords.0))
            .collect();
        let conn_vars =
            crate::vars::connection_vars(&vars.vars, |v| self.templar.render_value(v, vars))
                .unwrap_or_default();
        crate::vars::connection_settings(host, &self.opts.config, &self.opts.cli, &refs, &conn_vars)
            .connection
            == "local"
    }

    /// A connection to the host opened afresh: the pooled one is closed.
    async fn reconnect(
        self: &Arc<Self>,
        task: &Task,
        inherit: &Inherit,
        host: &str,
        vars: &Vars,
        delegate: Option<&str>,
        timeout: Option<u64>,
    ) -> Result<Arc<dyn Host>, HostError> {
        self.reset_connection(delegate.unwrap_or(host)).await;
        let open = self.host_for(task, inherit, host, vars, delegate);
        match timeout {
            Some(t) => tokio::time::timeout(Duration::from_secs(t), open)
                .await
                .unwrap_or_else(|_| {
                    Err(HostError::unreachable(format!(
                        "timed out connecting after {t} seconds"
                    )))
                }),
            None => open.await,
        }
    }

    /// `wait_for_connection`: until the host answers a command, within
    /// `timeout`, opening the connection afresh for each try.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn wait_for_connection(
        self: &Arc<Self>,
        task: &Task,
        inherit: &Inherit,
        host: &str,
        vars: &Vars,
        delegate: Option<&str>,
        args: &Map<String, Value>,
        check_mode: bool,
    ) -> Map<String, Value> {
        if let Some(r) = bad_args(&task.action_written, args, WAIT_ARGS) {
            return r;
        }
        let nums = (
            int_arg(args, &["connect_timeout"], 5),
            int_arg(args, &["delay"], 0),
            int_arg(args, &["sleep"], 1),
            int_arg(args, &["timeout"], 600),
        );
        let (connect_timeout, delay, sleep, timeout) = match nums {
            (Ok(a), Ok(b), Ok(c), Ok(d)) => (a, b, c, d),
            (Err(e), ..) | (_, Err(e), ..) | (_, _, Err(e), _) | (.., Err(e)) => {
                return result(&[
                    ("changed", Value::Bool(false)),
                    ("failed", Value::Bool(true)),
                    ("msg", Value::String(e)),
                ])
            }
        };
        if check_mode {
            return result(&[
                ("changed", Value::Bool(false)),
                ("skipped", Value::Bool(true)),
            ]);
        }
        let start = Instant::now();
        if delay > 0 {
            tokio::time::sleep(Duration::from_secs(delay as u64)).await;
        }
        let end = Instant::now() + Duration::from_secs(timeout.max(0) as u64);
        let mut last_error = String::new();
        let mut ok = false;
        while Instant::now() < end {
            let try_once = async {
                let h = self
                    .reconnect(
                        task,
                        inherit,
                        host,
                        vars,
                        delegate,
                        Some(connect_timeout.max(1) as u64),
                    )
                    .await?;
                let r = h.exec("true", &ExecOptions::default()).await?;
                if r.rc != 0 {
                    return Err(HostError::failed("ping test failed"));
                }
                Ok::<_, HostError>(())
            };
            match try_once.await {
                Ok(()) => {
                    ok = true;
                    break;
                }
                Err(e) => last_error = e.message,
            }
            tokio::time::sleep(Duration::from_secs(sleep.max(0) as u64)).await;
        }
        let mut m = result(&[("changed", Value::Bool(false))]);
        if !ok {
            m.insert("failed".into(), Value::Bool(true));
            m.insert(
                "msg".into(),
                Value::String(format!(
                    "timed out waiting for ping module test: {last_error}"
                )),
            );
        }
        m.insert("elapsed".into(), Value::from(start.elapsed().as_secs()));
        m
    }

    /// `reboot`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn reboot(
        self: &Arc<Self>,
        task: &Task,
        inherit: &Inherit,
        host: &str,
        vars: &Vars,
        delegate: Option<&str>,
        args: &Map<String, Value>,
        check_mode: bool,
    ) -> Map<String, Value> {
        let action = task.action_written.as_str();
        let fail = |msg: String, extra: &[(&str, Value)]| {
            let mut m = result(&[
                ("changed", Value::Bool(false)),
                ("failed", Value::Bool(true)),
                ("msg", Value::String(msg)),
            ]);
            for (k, v) in extra {
                m.insert(k.to_string(), v.clone());
            }
            m
        };
        if self.is_local(task, inherit, delegate.unwrap_or(host), vars) {
            return fail(
                format!("Running {action} with local connection would reboot the control node."),
                &[
                    ("elapsed", Value::from(0)),
                    ("rebooted", Value::Bool(false)),
                ],
            );
        }
        if check_mode {
            return result(&[
                ("changed", Value::Bool(true)),
                ("elapsed", Value::from(0)),
                ("rebooted", Value::Bool(true)),
            ]);
        }
        if let Some(r) = bad_args(action, args, REBOOT_ARGS) {
            return r;
        }
        let nums = (
            int_arg(args, &["pre_reboot_delay", "pre_reboot_delay_sec"], 0),
            int_arg(args, &["post_reboot_delay", "post_reboot_delay_sec"], 0),
            int_arg(args, &["reboot_timeout", "reboot_timeout_sec"], 600),
        );
        let (pre_delay, post_delay, reboot_timeout) = match nums {
            (Ok(a), Ok(b), Ok(c)) => (a.max(0), b.max(0), c),
            (Err(e), ..) | (_, Err(e), _) | (.., Err(e)) => return fail(e, &[]),
        };
        let connect_timeout = match args
            .get("connect_timeout")
            .or(args.get("connect_timeout_sec"))
        {
            Some(v) => match py_str(v).trim().parse::<u64>() {
                Ok(n) => Some(n),
                Err(_) => {
                    return fail(
                        format!("invalid literal for int() with base 10: {}", py_repr(v)),
                        &[],
                    )
                }
            },
            None => None,
        };
        for k in ["reboot_command", "boot_time_command", "test_command", "msg"] {
            if let Some(v) = args.get(k) {
                if !v.is_string() {
                    return fail(
                        format!("Invalid value given for '{k}': '{}' is not a string and conversion is not allowed.", py_str(v)),
                        &[],
                    );
                }
            }
        }
        let text_arg = |k: &str| args.get(k).map(py_str);

        let conn = match self.host_for(task, inherit, host, vars, delegate).await {
            Ok(h) => h,
            Err(e) => return host_error(e),
        };
        let system = match System::detect(conn.as_ref()).await {
            Ok(s) => s,
            Err(e) => return host_error(e),
        };
        let boot_cmd = text_arg("boot_time_command")
            .filter(|c| !c.is_empty())
            .unwrap_or_else(|| system.boot_time_command().to_string());
        let boot_time = |h: Arc<dyn Host>| {
            let cmd = boot_cmd.clone();
            async move {
                let r = h.exec(&cmd, &ExecOptions::default()).await?;
                Ok::<_, HostError>(r)
            }
        };
        let previous = match boot_time(conn.clone()).await {
            Ok(r) if r.rc == 0 => r.stdout_text().trim().to_string(),
            Ok(r) => {
                return fail(
                    format!(
                    "{action}: failed to get host boot time info, rc: {}, stdout: {}, stderr: {}",
                    r.rc,
                    r.stdout_text(),
                    r.stderr_text()
                ),
                    &[("reboot", Value::Bool(false))],
                )
            }
            Err(e) => return host_error(e),
        };

        // The reboot command: its program found on the search path unless
        // given with a full path, then its arguments.
        let (bin, rest) = match text_arg("reboot_command") {
            Some(c) => match c.split_once(' ') {
                Some((b, r)) => (b.to_string(), r.to_string()),
                None => (c, String::new()),
            },
            None => {
                let message =
                    text_arg("msg").unwrap_or_else(|| "Reboot initiated by Ansible".into());
                (
                    system.shutdown_command().to_string(),
                    system.shutdown_args(pre_delay, &message),
                )
            }
        };
        let program = if bin.starts_with('/') {
            bin.clone()
        } else {
            let paths: Vec<String> = match args.get("search_paths") {
                None => ["/sbin", "/bin", "/usr/sbin", "/usr/bin", "/usr/local/sbin"]
                    .iter()
                    .map(|s| s.to_string())
                    .collect(),
                Some(Value::String(s)) => s.split(',').map(|p| p.trim().to_string()).collect(),
                Some(Value::Array(a)) if a.iter().all(|v| !v.is_array() && !v.is_object()) => {
                    a.iter().map(py_str).collect()
                }
                Some(other) => {
                    return fail(
                        format!(
                            "'search_paths' must be a string or flat list of strings, got {}",
                            py_repr(other)
                        ),
                        &[],
                    )
                }
            };
            let script = format!(
                "for d in {}; do if [ -e \"$d\"/{} ]; then printf '%s/%s\\n' \"$d\" {}; exit 0; fi; done; exit 1",
                paths.iter().map(|p| shell_quote(p)).collect::<Vec<_>>().join(" "),
                shell_quote(&bin),
                shell_quote(&bin)
            );
            match conn.exec(&script, &ExecOptions::default()).await {
                Ok(r) if r.rc == 0 => r.stdout_text().trim().to_string(),
                Ok(_) => {
                    let list = Value::Array(paths.into_iter().map(Value::String).collect());
                    return fail(
                        format!(
                            "Unable to find command \"{bin}\" in search paths: {}",
                            py_repr(&list)
                        ),
                        &[],
                    );
                }
                Err(e) => return host_error(e),
            }
        };
        let command = format!("{program} {rest}");
        let start = Instant::now();
        match conn.exec(&command, &ExecOptions::default()).await {
            Ok(r) if r.rc != 0 => {
                return fail(
                    format!(
                        "Reboot command failed. Error was: '{}, {}'",
                        r.stdout_text().trim(),
                        r.stderr_text().trim()
                    ),
                    &[
                        ("rebooted", Value::Bool(false)),
                        ("elapsed", Value::from(start.elapsed().as_secs())),
                    ],
                );
            }
            // A connection that breaks under the reboot is what a reboot
            // does.
            Ok(_) | Err(_) => {}
        }
        if post_delay > 0 {
            tokio::time::sleep(Duration::from_secs(post_delay as u64)).await;
        }

        // Wait for a new boot id, then for the test command, each on a
        // connection opened afresh.
        let end = Instant::now() + Duration::from_secs(reboot_timeout.max(0) as u64);
        let test_cmd =
            text_arg("test_command").unwrap_or_else(|| system.test_command().to_string());
        let mut stage = "last boot time check";
        let mut fail_count = 0;
        let mut done = false;
        while Instant::now() < end {
            let attempt = async {
                let h = self
                    .reconnect(task, inherit, host, vars, delegate, connect_timeout)
                    .await?;
                if stage == "last boot time check" {
                    let r = boot_time(h.clone()).await?;
                    let now = r.stdout_text().trim().to_string();
                    if r.rc != 0 || now.is_empty() || now == previous {
                        return Err(HostError::failed("boot time has not changed"));
                    }
                    stage = "post-reboot test command";
                }
                let r = h.exec(&test_cmd, &ExecOptions::default()).await?;
                if r.rc != 0 {
                    return Err(HostError::failed(format!(
                        "Test command failed: {} {}",
                        r.stderr_text(),
                        r.stdout_text()
                    )));
                }
                Ok::<_, HostError>(())
            };
            match attempt.await {
                Ok(()) => {
                    done = true;
                    break;
                }
                Err(_) => {
                    let pause =
                        backoff(fail_count).min(end.saturating_duration_since(Instant::now()));
                    fail_count += 1;
                    tokio::time::sleep(pause).await;
                }
            }
        }
        let elapsed = Value::from(start.elapsed().as_secs());
        if !done {
            return fail(
                format!("Timed out waiting for {stage} (timeout={reboot_timeout})"),
                &[("rebooted", Value::Bool(true)), ("elapsed", elapsed)],
            );
        }
        result(&[
            ("rebooted", Value::Bool(true)),
            ("changed", Value::Bool(true)),
            ("elapsed", elapsed),
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn system(kind: &str) -> System {
        System { kind: kind.into() }
    }

    #[test]
    fn shutdown_commands_per_system_as_ansible() {
        let linux = system("linux");
        assert_eq!(linux.shutdown_command(), "shutdown");
        assert_eq!(linux.shutdown_args(0, "m"), "-r 0 \"m\"");
        assert_eq!(linux.shutdown_args(150, "m"), "-r 2 \"m\"");
        assert_eq!(system("alpine").shutdown_command(), "reboot");
        assert_eq!(system("alpine").shutdown_args(60, "m"), "");
        assert_eq!(system("freebsd").shutdown_args(90, "m"), "-r +90s \"m\"");
        assert_eq!(system("macosx").shutdown_args(120, "m"), "-r +2 \"m\"");
        assert_eq!(
            system("solaris").shutdown_args(5, "m"),
            "-y -g 5 -i 6 \"m\""
        );
        assert_eq!(system("aix").shutdown_args(5, "m"), "-Fr");
        assert_eq!(
            linux.boot_time_command(),
            "cat /proc/sys/kernel/random/boot_id"
        );
        assert_eq!(
            system("openbsd").boot_time_command(),
            "/sbin/sysctl kern.boottime"
        );
        assert_eq!(system("solaris").test_command(), "who");
        assert_eq!(linux.test_command(), "whoami");
    }

    #[test]
    fn backoff_doubles_up_to_twelve_seconds() {
        for (n, low) in [(0, 1.0), (1, 2.0), (2, 4.0), (3, 8.0), (4, 12.0), (9, 12.0)] {
            let d = backoff(n).as_secs_f64();
            assert!(d >= low && d < low + 1.0, "{n}: {d}");
        }
    }

    #[test]
    fn unknown_options_are_named() {
        let mut a = Map::new();
        a.insert("nope".into(), Value::from(1));
        a.insert("msg".into(), Value::from("x"));
        let r = bad_args("reboot", &a, REBOOT_ARGS).expect("refused");
        assert_eq!(r["msg"], "Invalid options for reboot: nope");
        a.remove("nope");
        // The old `_sec` spellings are gone from ansible-core 2.19.
        a.insert("reboot_timeout_sec".into(), Value::from(5));
        assert!(bad_args("reboot", &a, REBOOT_ARGS).is_some());
        a.remove("reboot_timeout_sec");
        assert!(bad_args("reboot", &a, REBOOT_ARGS).is_none());
    }
}
