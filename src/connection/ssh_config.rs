//! `ssh_config` as OpenSSH reads it, for the settings herd's ssh
//! connection uses: from the ssh arguments (`-o Key=Value`, `-i`, `-p`,
//! `-l`, `-J`, `-F`) first, then the config file (`-F FILE`, else
//! `~/.ssh/config`), the first value of each keyword winning.
//!
//! Read: `Host` blocks (patterns, `!` negation), `Match` blocks (`all`,
//! `host`, `originalhost`, `user`, `localuser`, `exec`, each negatable;
//! `canonical`, `tagged` and `localnetwork` never match, `final` always
//! does, as the final pass of one), `Include` (globs,
//! relative to `~/.ssh`, conditional inside a block), and the keywords
//! `HostName`, `User`, `Port`, `IdentityFile`, `StrictHostKeyChecking`,
//! `UserKnownHostsFile`, `ConnectTimeout`, `ProxyJump`, `ProxyCommand`,
//! `KexAlgorithms`. Other keywords are ignored.

use std::path::{Path, PathBuf};

use super::known_hosts::wildcard_match;

/// How the first hop is reached.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Proxy {
    /// `ProxyJump none` / `ProxyCommand none`: directly.
    Direct,
    /// `ProxyJump`: through these hosts, in order.
    Jump(Vec<JumpHost>),
    /// `ProxyCommand`: over the command's stdin and stdout.
    Command(String),
}

/// One `[user@]host[:port]` of a ProxyJump chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JumpHost {
    pub user: Option<String>,
    pub host: String,
    pub port: Option<u16>,
}

impl JumpHost {
    /// Reads `[ssh://][user@]host[:port]` (an IPv6 address in brackets).
    pub fn parse(spec: &str) -> Option<JumpHost> {
        let spec = spec.trim();
        let spec = spec.strip_prefix("ssh://").unwrap_or(spec);
        let (user, rest) = match spec.rsplit_once('@') {
            Some((u, r)) => (Some(u.to_string()), r),
            None => (None, spec),
        };
        let (host, port) = if let Some(r) = rest.strip_prefix('[') {
            let (h, after) = r.split_once(']')?;
            let port = match after.strip_prefix(':') {
                Some(p) => Some(p.parse().ok()?),
                None if after.is_empty() => None,
                None => return None,
            };
            (h.to_string(), port)
        } else {
            match rest.split_once(':') {
                Some((h, p)) => (h.to_string(), Some(p.parse().ok()?)),
                None => (rest.to_string(), None),
            }
        };
        if host.is_empty() {
            return None;
        }
        Some(JumpHost { user, host, port })
    }
}

/// Settings from the ssh arguments and ssh_config for one host.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SshConfig {
    pub host_name: Option<String>,
    pub user: Option<String>,
    pub port: Option<u16>,
    pub identity_files: Vec<String>,
    pub strict_host_key_checking: Option<String>,
    pub known_hosts_files: Vec<String>,
    pub connect_timeout: Option<u64>,
    /// `KexAlgorithms` as written (a list, or one starting with `+`, `-`
    /// or `^`; see `ssh::preferred_for`).
    pub kex_algorithms: Option<String>,
    /// ProxyJump or ProxyCommand, whichever came first.
    pub proxy: Option<Proxy>,
    /// `-F FILE`: the config file instead of `~/.ssh/config` (`none`:
    /// none at all).
    pub config_file: Option<String>,
    /// A value herd could not use, for the connection's error message.
    pub problems: Vec<String>,
}

/// What `Match` criteria compare with.
struct MatchContext<'a> {
    /// The name the connection was asked for.
    original_host: &'a str,
    /// The remote user when already known (command line, inventory).
    user: Option<&'a str>,
}

/// Includes nest at most this deep, as in OpenSSH.
const MAX_INCLUDE_DEPTH: usize = 16;

impl SshConfig {
    /// Resolves everything for `host`: the arguments (each string a
    /// command line of ssh options), then the config file they name or
    /// `default_file`. `user` is the remote user when already chosen.
    pub fn resolve(
        host: &str,
        user: Option<&str>,
        args: &[&str],
        default_file: &Path,
    ) -> SshConfig {
        let mut cfg = SshConfig::default();
        for a in args {
            cfg.parse_args(a, host);
        }
        let file = cfg.config_path(default_file);
        cfg.read_file(file.as_deref(), host, user);
        cfg
    }

    /// The config file to read: `-F FILE` if given (`none`: none),
    /// else `default_file`.
    pub fn config_path(&self, default_file: &Path) -> Option<PathBuf> {
        match self.config_file.as_deref() {
            Some("none") => None,
            Some(f) => Some(expand(f)),
            None => Some(default_file.to_path_buf()),
        }
    }

    /// Reads the config file's settings for `host`, under those already
    /// set.
    pub fn read_file(&mut self, file: Option<&Path>, host: &str, user: Option<&str>) {
        let Some(file) = file else {
            return;
        };
        match std::fs::read_to_string(file) {
            Ok(text) => self.parse_with(&text, host, user, 0),
            // A missing ~/.ssh/config is normal; a missing -F file is
            // an error, as in OpenSSH.
            Err(e) if self.config_file.is_some() => self
                .problems
                .push(format!("cannot read ssh config {}: {e}", file.display())),
            Err(_) => {}
        }
    }

    /// Applies one `Key value`, the first value winning as in OpenSSH
    /// (IdentityFile accumulates).
    fn set(&mut self, key: &str, value: &str, host: &str) {
        let value = value.trim();
        // A quoted value loses its quotes; a command keeps its own.
        let value = match value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
            Some(inner) if !key.eq_ignore_ascii_case("proxycommand") => inner,
            _ => value,
        };
        match key.to_ascii_lowercase().as_str() {
            "hostname" if self.host_name.is_none() => {
                self.host_name = Some(value.replace("%h", host))
            }
            "user" if self.user.is_none() => self.user = Some(value.to_string()),
            "port" if self.port.is_none() => self.port = value.parse().ok(),
            "identityfile" => self.identity_files.push(value.to_string()),
            "stricthostkeychecking" if self.strict_host_key_checking.is_none() => {
                self.strict_host_key_checking = Some(value.to_ascii_lowercase())
            }
            "userknownhostsfile" if self.known_hosts_files.is_empty() => {
                self.known_hosts_files = value.split_whitespace().map(String::from).collect()
            }
            "connecttimeout" if self.connect_timeout.is_none() => {
                self.connect_timeout = value.parse().ok()
            }
            "kexalgorithms" if self.kex_algorithms.is_none() => {
                self.kex_algorithms = Some(value.to_string())
            }
            "proxyjump" if self.proxy.is_none() => {
                self.proxy = Some(if value.eq_ignore_ascii_case("none") {
                    Proxy::Direct
                } else {
                    let hops: Option<Vec<JumpHost>> =
                        value.split(',').map(JumpHost::parse).collect();
                    match hops {
                        Some(h) => Proxy::Jump(h),
                        None => {
                            self.problems.push(format!("invalid ProxyJump '{value}'"));
                            Proxy::Direct
                        }
                    }
                })
            }
            "proxycommand" if self.proxy.is_none() => {
                self.proxy = Some(if value.eq_ignore_ascii_case("none") {
                    Proxy::Direct
                } else {
                    Proxy::Command(value.to_string())
                })
            }
            _ => {}
        }
    }

    /// Reads an ssh_config text for `host` (no `Match user` knowledge).
    pub fn parse_into(&mut self, text: &str, host: &str) {
        self.parse_with(text, host, None, 0);
    }

    fn parse_with(&mut self, text: &str, host: &str, user: Option<&str>, depth: usize) {
        let mut active = true;
        self.parse_lines(text, host, user, depth, &mut active);
    }

    fn parse_lines(
        &mut self,
        text: &str,
        host: &str,
        user: Option<&str>,
        depth: usize,
        active: &mut bool,
    ) {
        let ctx = MatchContext {
            original_host: host,
            user,
        };
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (key, value) = match line.find(|c: char| c == '=' || c.is_whitespace()) {
                Some(i) => {
                    let rest =
                        line[i..].trim_start_matches(|c: char| c == '=' || c.is_whitespace());
                    (&line[..i], rest)
                }
                None => continue,
            };
            match key.to_ascii_lowercase().as_str() {
                "host" => {
                    let mut matched = false;
                    let mut negated = false;
                    for pat in value.split_whitespace() {
                        if let Some(n) = pat.strip_prefix('!') {
                            negated |= wildcard_match(n, host);
                        } else {
                            matched |= wildcard_match(pat, host);
                        }
                    }
                    *active = matched && !negated;
                }
                "match" => *active = self.match_criteria(value, &ctx),
                "include" if *active => {
                    if depth >= MAX_INCLUDE_DEPTH {
                        self.problems
                            .push(format!("ssh config Include nested too deeply at '{value}'"));
                        continue;
                    }
                    for pattern in split_words(value) {
                        for file in include_files(&pattern) {
                            if let Ok(text) = std::fs::read_to_string(&file) {
                                // The included file's Host lines change
                                // the state only inside it.
                                let outer = *active;
                                self.parse_lines(&text, host, user, depth + 1, active);
                                *active = outer;
                            }
                        }
                    }
                }
                _ if *active => self.set(key, value, host),
                _ => {}
            }
        }
    }

    /// Whether a `Match` line's criteria all hold.
    fn match_criteria(&mut self, value: &str, ctx: &MatchContext<'_>) -> bool {
        let words = split_words(value);
        let mut all = true;
        let mut i = 0;
        while i < words.len() {
            let word = &words[i];
            let (negate, criterion) = match word.strip_prefix('!') {
                Some(c) => (true, c.to_ascii_lowercase()),
                None => (false, word.to_ascii_lowercase()),
            };
            let arg = words.get(i + 1).map(String::as_str);
            let takes_arg = !matches!(criterion.as_str(), "all" | "canonical" | "final");
            let result = match criterion.as_str() {
                "all" | "final" => true,
                // herd does not canonicalise names, sets no tag (`-P`),
                // and does not look at local interfaces.
                "canonical" | "tagged" | "localnetwork" => false,
                "host" => {
                    let current = self.host_name.as_deref().unwrap_or(ctx.original_host);
                    arg.is_some_and(|a| pattern_list(a, current))
                }
                "originalhost" => arg.is_some_and(|a| pattern_list(a, ctx.original_host)),
                "user" => {
                    let u = ctx
                        .user
                        .map(String::from)
                        .or_else(|| self.user.clone())
                        .or_else(|| std::env::var("USER").ok())
                        .unwrap_or_default();
                    arg.is_some_and(|a| pattern_list(a, &u))
                }
                "localuser" => {
                    let u = std::env::var("USER").unwrap_or_default();
                    arg.is_some_and(|a| pattern_list(a, &u))
                }
                "exec" => arg.is_some_and(|cmd| {
                    let cmd = cmd.replace("%h", ctx.original_host);
                    std::process::Command::new("/bin/sh")
                        .args(["-c", &cmd])
                        .stdin(std::process::Stdio::null())
                        .stdout(std::process::Stdio::null())
                        .stderr(std::process::Stdio::null())
                        .status()
                        .is_ok_and(|s| s.success())
                }),
                other => {
                    self.problems.push(format!(
                        "unsupported Match criterion '{other}' in ssh config"
                    ));
                    false
                }
            };
            all &= result != negate;
            i += if takes_arg { 2 } else { 1 };
        }
        all
    }

    /// Takes `-o Key=Value`, `-i file`, `-p port`, `-l user`, `-J hosts`
    /// and `-F file` from ssh arguments.
    pub fn parse_args(&mut self, args: &str, host: &str) {
        let words: Vec<String> = split_words(args);
        let mut i = 0;
        while i < words.len() {
            let w = &words[i];
            let next = words.get(i + 1).cloned().unwrap_or_default();
            // Options that take a value, written apart or joined (`-p22`).
            let flag = |f: &str| -> Option<(String, usize)> {
                let rest = w.strip_prefix(f)?;
                Some(if rest.is_empty() {
                    (next.clone(), 2)
                } else {
                    (rest.to_string(), 1)
                })
            };
            if let Some((opt, n)) = flag("-o") {
                if let Some((k, v)) = opt.split_once('=').or_else(|| opt.split_once(' ')) {
                    self.set(k.trim(), v, host);
                }
                i += n;
            } else if let Some((file, n)) = flag("-i") {
                self.identity_files.push(file);
                i += n;
            } else if let Some((port, n)) = flag("-p") {
                self.set("port", &port, host);
                i += n;
            } else if let Some((user, n)) = flag("-l") {
                self.set("user", &user, host);
                i += n;
            } else if let Some((hops, n)) = flag("-J") {
                self.set("proxyjump", &hops, host);
                i += n;
            } else if let Some((file, n)) = flag("-F") {
                if self.config_file.is_none() {
                    self.config_file = Some(file);
                }
                i += n;
            } else {
                i += 1;
            }
        }
    }
}

/// OpenSSH's pattern list (`a,b*,!c`): a negated match rules out, else
/// any positive match counts.
fn pattern_list(list: &str, name: &str) -> bool {
    let mut matched = false;
    for pat in list.split(',') {
        if let Some(n) = pat.strip_prefix('!') {
            if wildcard_match(n, name) {
                return false;
            }
        } else if wildcard_match(pat, name) {
            matched = true;
        }
    }
    matched
}

/// The files an `Include` names: `~` expanded, relative to `~/.ssh`,
/// globs in sorted order.
fn include_files(pattern: &str) -> Vec<PathBuf> {
    let path = expand(pattern);
    let path = if path.is_relative() {
        home().join(".ssh").join(path)
    } else {
        path
    };
    let text = path.display().to_string();
    match glob::glob(&text) {
        Ok(paths) => {
            let mut v: Vec<PathBuf> = paths.flatten().filter(|p| p.is_file()).collect();
            v.sort();
            v
        }
        Err(_) => vec![path],
    }
}

/// Splits ssh arguments into words, honouring single and double quotes.
pub fn split_words(s: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut any = false;
    for c in s.chars() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => cur.push(c),
            None if c == '\'' || c == '"' => {
                quote = Some(c);
                any = true;
            }
            None if c.is_whitespace() => {
                if any || !cur.is_empty() {
                    words.push(std::mem::take(&mut cur));
                }
                any = false;
            }
            None => cur.push(c),
        }
    }
    if any || !cur.is_empty() {
        words.push(cur);
    }
    words
}

pub(crate) fn home() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/"))
}

pub(crate) fn expand(path: &str) -> PathBuf {
    match path.strip_prefix("~/") {
        Some(rest) => home().join(rest),
        None => PathBuf::from(path),
    }
}

/// Settings parsed per host, for tests and diagnostics.
pub fn resolve_config(text: &str, host: &str) -> SshConfig {
    let mut c = SshConfig::default();
    c.parse_into(text, host);
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ssh_config_blocks() {
        let text = "Host web*\n  HostName %h.example.com\n  User deploy\n  Port 2222\n\
                    Host *\n  User other\n  IdentityFile ~/.ssh/k\n  StrictHostKeyChecking accept-new\n\
                    Match all\n  User nobody\n";
        let c = resolve_config(text, "web1");
        assert_eq!(c.host_name.as_deref(), Some("web1.example.com"));
        assert_eq!(c.user.as_deref(), Some("deploy"));
        assert_eq!(c.port, Some(2222));
        assert_eq!(c.identity_files, vec!["~/.ssh/k".to_string()]);
        assert_eq!(c.strict_host_key_checking.as_deref(), Some("accept-new"));
        let c = resolve_config(text, "db");
        assert_eq!(c.user.as_deref(), Some("other"));
        assert_eq!(c.host_name, None);
    }

    #[test]
    fn match_blocks() {
        let text = "Match host db*,!db9\n  User dbadmin\n\
                    Match originalhost alias !host other\n  Port 2200\n\
                    Match host web1.example.com\n  IdentityFile w\n\
                    Match canonical all\n  User never\n\
                    Match tagged x localnetwork 10.0.0.0/8\n  User never\n\
                    Match exec \"test %h = alias\"\n  ConnectTimeout 7\n\
                    Host web1\n  HostName web1.example.com\n\
                    Match all\n  User everyone\n";
        let c = resolve_config(text, "db1");
        assert_eq!(c.user.as_deref(), Some("dbadmin"));
        let c = resolve_config(text, "db9");
        assert_eq!(c.user.as_deref(), Some("everyone"));
        let c = resolve_config(text, "alias");
        assert_eq!(c.port, Some(2200));
        assert_eq!(c.connect_timeout, Some(7));
        // `host` compares with the name after HostName, once set.
        let c = resolve_config(text, "web1");
        assert!(c.identity_files.is_empty());
        let c = resolve_config(
            &format!("Host web1\n HostName web1.example.com\n{text}"),
            "web1",
        );
        assert_eq!(c.identity_files, vec!["w".to_string()]);
        assert!(c.problems.is_empty(), "{:?}", c.problems);
    }

    #[test]
    fn include_is_conditional_and_relative_to_dot_ssh() {
        let dir = tempfile::tempdir().expect("tempdir");
        let inc = dir.path().join("conf.d");
        std::fs::create_dir_all(&inc).expect("mkdir");
        std::fs::write(inc.join("10-a.conf"), "Host a\n  User from-a\n").expect("write");
        std::fs::write(inc.join("20-b.conf"), "Port 2201\nHost *\n  User late\n").expect("write");
        let text = format!(
            "Host nomatch\n  Include {d}/*.conf\nHost *\n  Include {d}/*.conf\n  HostName after-include\n",
            d = inc.display()
        );
        let c = resolve_config(&text, "a");
        assert_eq!(c.user.as_deref(), Some("from-a"));
        assert_eq!(c.port, Some(2201));
        // The block around the Include is active again after it.
        assert_eq!(c.host_name.as_deref(), Some("after-include"));
        let c = resolve_config(&text, "z");
        assert_eq!(c.user.as_deref(), Some("late"));
    }

    #[test]
    fn ssh_args() {
        let mut c = SshConfig::default();
        c.parse_args(
            "-o StrictHostKeyChecking=no -o 'UserKnownHostsFile=/dev/null' -p 2200 -lbob",
            "h",
        );
        assert_eq!(c.strict_host_key_checking.as_deref(), Some("no"));
        assert_eq!(c.known_hosts_files, vec!["/dev/null".to_string()]);
        assert_eq!(c.port, Some(2200));
        assert_eq!(c.user.as_deref(), Some("bob"));
        let mut c = SshConfig::default();
        c.parse_args("-J alice@bastion:2222,[::1]:23,ssh://gw -F /tmp/cfg", "h");
        assert_eq!(
            c.proxy,
            Some(Proxy::Jump(vec![
                JumpHost {
                    user: Some("alice".into()),
                    host: "bastion".into(),
                    port: Some(2222)
                },
                JumpHost {
                    user: None,
                    host: "::1".into(),
                    port: Some(23)
                },
                JumpHost {
                    user: None,
                    host: "gw".into(),
                    port: None
                },
            ]))
        );
        assert_eq!(c.config_file.as_deref(), Some("/tmp/cfg"));
        let mut c = SshConfig::default();
        c.parse_args(
            r#"-o ProxyCommand="ssh -W %h:%p gw" -o ProxyJump=other"#,
            "h",
        );
        assert_eq!(c.proxy, Some(Proxy::Command("ssh -W %h:%p gw".into())));
        let mut c = SshConfig::default();
        c.parse_args("-o ProxyJump=none", "h");
        c.parse_into("Host *\n  ProxyCommand nc %h %p\n", "h");
        assert_eq!(c.proxy, Some(Proxy::Direct));
    }
}
