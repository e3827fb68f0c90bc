//! Modules that run commands: `command`, `shell`, `raw`, `script`, and
//! what they share (shell-word splitting, the creates/removes test, the
//! timing and output fields of their results).

pub mod command;
pub mod raw;
pub mod script;
pub mod shell;

use crate::api::{shell_quote, ExecOptions, ExecResult, Host, HostError, Outcome, Value};

/// Splits a command line into words as Python's `shlex.split` does (POSIX
/// mode, which Ansible's `command` uses).
pub fn shlex_split(s: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => cur.push(c),
                        None => return Err("No closing quotation".into()),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        // Inside double quotes a backslash only escapes
                        // `"` and `\` (and `$`, `` ` `` in the shell).
                        Some('\\') => match chars.peek() {
                            Some(&n) if matches!(n, '"' | '\\' | '$' | '`') => {
                                cur.push(n);
                                chars.next();
                            }
                            _ => cur.push('\\'),
                        },
                        Some(c) => cur.push(c),
                        None => return Err("No closing quotation".into()),
                    }
                }
            }
            '\\' => {
                in_word = true;
                match chars.next() {
                    Some(n) => cur.push(n),
                    None => return Err("No escaped character".into()),
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    Ok(words)
}

/// A shell word that globs like `pattern` while every other character is
/// literal: the glob characters stay bare, the rest is quoted.
pub fn glob_word(pattern: &str) -> String {
    let mut out = String::new();
    let mut lit = String::new();
    for c in pattern.chars() {
        if matches!(c, '*' | '?' | '[' | ']') {
            if !lit.is_empty() {
                out.push_str(&shell_quote(&std::mem::take(&mut lit)));
            }
            out.push(c);
        } else {
            lit.push(c);
        }
    }
    if !lit.is_empty() || out.is_empty() {
        out.push_str(&shell_quote(&lit));
    }
    out
}

/// Whether anything matches the glob `pattern` on the host (Python's
/// `glob.glob(pattern)` being non-empty), relative to `chdir` if given.
pub async fn glob_exists(
    host: &dyn Host,
    pattern: &str,
    chdir: Option<&str>,
) -> Result<bool, HostError> {
    let r = host
        .exec(
            &(glob_loop(pattern, "exit 0") + "exit 1"),
            &ExecOptions {
                chdir: chdir.map(str::to_string),
                ..ExecOptions::default()
            },
        )
        .await?;
    Ok(r.rc == 0)
}

/// Shell lines that run `on_match` for the first path the glob
/// `pattern` matches. They use the positional parameters, not a
/// variable (so a command after them sees none of theirs), and leave them
/// empty when nothing matched.
fn glob_loop(pattern: &str, on_match: &str) -> String {
    format!(
        "set -- {}\nwhile [ $# -gt 0 ]; do if [ -e \"$1\" ] || [ -L \"$1\" ]; then {on_match}; fi; shift; done\n",
        glob_word(pattern)
    )
}

/// What a [`guarded`] command prints, alone, when `creates` or
/// `removes` kept it from running. The record separator in front is a
/// byte no command prints by chance.
const KEPT_BY_CREATES: &str = "\u{1e}herd: kept from running by creates\n";
const KEPT_BY_REMOVES: &str = "\u{1e}herd: kept from running by removes\n";

/// `command` after its creates/removes test, so that the test and the
/// command are one request; [`guard_of`] reads the decision from the
/// result.
pub fn guarded(command: &str, creates: Option<&str>, removes: Option<&str>) -> String {
    // No subshell: the test costs no fork.
    let mut text = String::new();
    if let Some(c) = creates {
        text += &glob_loop(c, &format!("printf %s '{KEPT_BY_CREATES}'; exit 0"));
    }
    if let Some(r) = removes {
        text += &glob_loop(r, "break");
        text +=
            &format!("if [ $# -eq 0 ]; then printf %s '{KEPT_BY_REMOVES}'; exit 0; fi\nset --\n");
    }
    text + command
}

/// What the test of a [`guarded`] command decided, from its result.
pub fn guard_of(r: &ExecResult, creates: Option<&str>, removes: Option<&str>) -> Guard {
    let kept = |mark: &str| r.rc == 0 && r.stderr.is_empty() && r.stdout == mark.as_bytes();
    match (creates, removes) {
        (Some(c), _) if kept(KEPT_BY_CREATES) => Guard::CreatesExists(c.to_string()),
        (_, Some(rm)) if kept(KEPT_BY_REMOVES) => Guard::RemovesMissing(rm.to_string()),
        _ => Guard::Run,
    }
}

/// What the creates/removes test decided.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Guard {
    /// Run the command.
    Run,
    /// Do not: `creates` matched a path, or `removes` matched none.
    CreatesExists(String),
    RemovesMissing(String),
}

/// The creates/removes decision, from what exists on the host.
pub fn decide_guard(creates: Option<(&str, bool)>, removes: Option<(&str, bool)>) -> Guard {
    if let Some((c, true)) = creates {
        return Guard::CreatesExists(c.to_string());
    }
    if let Some((r, false)) = removes {
        return Guard::RemovesMissing(r.to_string());
    }
    Guard::Run
}

/// Checks creates/removes on the host and decides.
pub async fn check_guard(
    host: &dyn Host,
    creates: Option<&str>,
    removes: Option<&str>,
    chdir: Option<&str>,
) -> Result<Guard, HostError> {
    let c = match creates {
        Some(c) => Some((c, glob_exists(host, c, chdir).await?)),
        None => None,
    };
    if let Some((c, true)) = c {
        return Ok(Guard::CreatesExists(c.to_string()));
    }
    let r = match removes {
        Some(r) => Some((r, glob_exists(host, r, chdir).await?)),
        None => None,
    };
    Ok(decide_guard(c, r))
}

/// The local time as Python's `str(datetime.now())` prints it.
pub struct Clock {
    start: std::time::Instant,
    start_text: String,
}

impl Clock {
    pub fn start() -> Clock {
        Clock {
            start: std::time::Instant::now(),
            start_text: local_now(),
        }
    }

    /// Adds `start`, `end` and `delta` to a result.
    pub fn finish(self, out: &mut Outcome) {
        let d = self.start.elapsed();
        let secs = d.as_secs();
        out.values
            .insert("start".into(), Value::String(self.start_text));
        out.values.insert("end".into(), Value::String(local_now()));
        out.values.insert(
            "delta".into(),
            Value::String(format!(
                "{}:{:02}:{:02}.{:06}",
                secs / 3600,
                secs / 60 % 60,
                secs % 60,
                d.subsec_micros()
            )),
        );
    }
}

/// The local time as Python's `str(datetime.now())` prints it.
pub fn local_now() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let t = now.as_secs() as libc::time_t;
    // SAFETY: localtime_r fills the zeroed struct we own.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    unsafe {
        libc::localtime_r(&t, &mut tm);
    }
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:06}",
        tm.tm_year + 1900,
        tm.tm_mon + 1,
        tm.tm_mday,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec,
        now.subsec_micros()
    )
}

/// Text of command output; `strip` removes trailing newlines as the
/// `command` module's `strip_empty_ends` does.
fn output_text(bytes: &[u8], strip: bool) -> String {
    let s = String::from_utf8_lossy(bytes).into_owned();
    if strip {
        s.trim_end_matches(['\r', '\n']).to_string()
    } else {
        s
    }
}

/// Python's `str.splitlines()`, for `stdout_lines`.
pub fn split_lines(s: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut rest = s;
    while !rest.is_empty() {
        match rest.find(['\n', '\r']) {
            Some(i) => {
                out.push(Value::String(rest[..i].to_string()));
                let skip = if rest[i..].starts_with("\r\n") { 2 } else { 1 };
                rest = &rest[i + skip..];
            }
            None => {
                out.push(Value::String(rest.to_string()));
                break;
            }
        }
    }
    out
}

/// Adds `rc`, `stdout`, `stderr` and their `_lines` to a result, and fails
/// it on a non-zero exit status.
pub fn add_output(out: &mut Outcome, r: &ExecResult, strip: bool) {
    let stdout = output_text(&r.stdout, strip);
    let stderr = output_text(&r.stderr, strip);
    out.values.insert("rc".into(), r.rc.into());
    out.values
        .insert("stdout_lines".into(), Value::Array(split_lines(&stdout)));
    out.values
        .insert("stderr_lines".into(), Value::Array(split_lines(&stderr)));
    out.values.insert("stdout".into(), Value::String(stdout));
    out.values.insert("stderr".into(), Value::String(stderr));
    if r.rc != 0 {
        out.failed = true;
        out.msg = Some("non-zero return code".into());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_like_shlex() {
        assert_eq!(
            shlex_split(r#"echo 'a b' "c \"d\" \x" e\ f"#).unwrap(),
            vec!["echo", "a b", r#"c "d" \x"#, "e f"]
        );
        assert_eq!(shlex_split("  ").unwrap(), Vec::<String>::new());
        assert_eq!(shlex_split("a ''").unwrap(), vec!["a", ""]);
        assert!(shlex_split("echo 'a").is_err());
    }

    #[test]
    fn glob_words_quote_the_literal_parts() {
        assert_eq!(glob_word("/tmp/a b/*.txt"), "'/tmp/a b/'*.txt");
        assert_eq!(glob_word("/x/$(y)"), "'/x/$(y)'");
    }

    #[test]
    fn guard_decisions() {
        assert_eq!(decide_guard(None, None), Guard::Run);
        assert_eq!(
            decide_guard(Some(("/a", true)), Some(("/b", true))),
            Guard::CreatesExists("/a".into())
        );
        assert_eq!(
            decide_guard(Some(("/a", false)), Some(("/b", false))),
            Guard::RemovesMissing("/b".into())
        );
        assert_eq!(decide_guard(None, Some(("/b", true))), Guard::Run);
    }

    #[test]
    fn lines() {
        assert_eq!(split_lines("a\r\nb\n\nc"), vec!["a", "b", "", "c"]);
        assert!(split_lines("").is_empty());
    }
}
