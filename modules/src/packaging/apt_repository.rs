//! apt_repository — add or remove a one-line APT repository (`deb …`,
//! `deb-src …`) in sources.list or sources.list.d/*.list, as Ansible's
//! apt_repository module does.
//!
//! The files are where apt's configuration puts them (`apt-config`:
//! Dir::Etc::sourcelist and Dir::Etc::sourceparts, so APT_CONFIG is
//! honoured). Every file is read and each line parsed as Ansible parses
//! it (a leading `#` disables a line, a later `#` starts a comment); the
//! repository is enabled where it already is (even commented out), else
//! appended to its file: `filename` + `.list`, or a name made from the
//! URL's host and path (`http://dl.google.com/linux/chrome/deb/` →
//! dl_google_com_linux_chrome_deb.list). Removal drops every enabled line
//! with the same source; a file left with no lines is deleted. `changed`
//! compares the files' normalised text before and after; when something
//! changed, the files whose text differs are written (new ones with
//! `mode`, default 0644), then `apt-get update` runs unless update_cache
//! is false. Check mode stops before writing; --diff shows each file
//! added or removed.
//!
//! Arguments:
//!   repo          the source line (required)
//!   state         present (default) or absent
//!   filename      the file's name in sources.list.d, without `.list`
//!   mode          mode of a new file
//!   update_cache (update-cache)  default true; update_cache_retries,
//!                 update_cache_retry_max_delay as in apt
//!   codename, install_python_apt, validate_certs  accepted (herd needs no
//!                 python-apt; `ppa:` repositories, which need Launchpad,
//!                 are refused with a message)
//!
//! Returns: repo, state, sources_added, sources_removed; diff with --diff.
//!
//! Tested: against ansible's apt_repository on the same arguments in a
//! scratch APT configuration (APT_CONFIG): same files, contents, modes,
//! changed flags, check mode and diff (tests/module_apt_repository.rs).

use async_trait::async_trait;
use serde_json::Value;

use crate::api::{shell_quote, Diff, ExecOptions, HostError, Module, ModuleContext, Outcome};
use crate::args::{parse_mode, Mode, Param, Spec};

pub struct AptRepository;

static SPEC: Spec = Spec {
    module: "apt_repository",
    params: &[
        Param::str("repo").required(),
        Param::str("state")
            .default("present")
            .choices(&["absent", "present"]),
        Param::raw("mode"),
        Param::bool("update_cache")
            .default("yes")
            .aliases(&["update-cache"]),
        Param::int("update_cache_retries").default("5"),
        Param::int("update_cache_retry_max_delay").default("12"),
        Param::str("filename"),
        Param::bool("install_python_apt").default("true"),
        Param::bool("validate_certs").default("yes"),
        Param::str("codename"),
    ],
    mutually_exclusive: &[],
    required_one_of: &[],
};

const VALID_TYPES: [&str; 2] = ["deb", "deb-src"];

/// One line of a sources file, as Ansible's `_parse` reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceLine {
    pub valid: bool,
    pub enabled: bool,
    pub source: String,
    pub comment: String,
}

/// Parses a line; the second value is the text Ansible names in an
/// "Invalid repository string" error.
pub fn parse_line(line: &str) -> (SourceLine, String) {
    let mut line = line.trim();
    let mut enabled = true;
    if let Some(rest) = line.strip_prefix('#') {
        enabled = false;
        line = rest;
    }
    let mut comment = String::new();
    if let Some(i) = line.find('#').filter(|i| *i > 0) {
        comment = line[i + 1..].trim().to_string();
        line = &line[..i];
    }
    let mut source = line.trim().to_string();
    let mut valid = false;
    let chunks: Vec<&str> = source.split_whitespace().collect();
    if chunks.first().is_some_and(|c| VALID_TYPES.contains(c)) {
        valid = true;
        source = chunks.join(" ");
    }
    (
        SourceLine {
            valid,
            enabled,
            source,
            comment,
        },
        line.to_string(),
    )
}

/// A line as Ansible writes it back.
pub fn render_line(l: &SourceLine) -> String {
    let mut s = String::new();
    if !l.enabled {
        s.push_str("# ");
    }
    s.push_str(&l.source);
    if !l.comment.is_empty() {
        s.push_str(" # ");
        s.push_str(&l.comment);
    }
    s.push('\n');
    s
}

/// The file name Ansible suggests for a source line.
pub fn suggest_filename(source: &str, filename: Option<&str>) -> String {
    if let Some(f) = filename {
        return format!("{f}.list");
    }
    // Drop `[options]` and `scheme://`.
    let mut line = String::new();
    let mut depth = false;
    for c in source.chars() {
        match c {
            '[' if !depth => depth = true,
            ']' if depth => depth = false,
            _ if depth => {}
            _ => line.push(c),
        }
    }
    let line = strip_schemes(&line);
    let parts: Vec<&str> = line
        .split_whitespace()
        .filter(|p| !VALID_TYPES.contains(p))
        .collect();
    let first = parts.first().copied().unwrap_or("");
    let first = first.split_once('@').map(|(_, r)| r).unwrap_or(first);
    let cleaned: String = first
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { ' ' })
        .collect();
    format!(
        "{}.list",
        cleaned.split_whitespace().collect::<Vec<_>>().join("_")
    )
}

/// Removes every `\w+://` as Python's `re.sub(r'\w+://', '', s)`.
fn strip_schemes(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find("://") {
        let head = &rest[..i];
        let word_start = head
            .char_indices()
            .rev()
            .take_while(|(_, c)| c.is_alphanumeric() || *c == '_')
            .last()
            .map(|(j, _)| j);
        match word_start {
            Some(j) => {
                out.push_str(&head[..j]);
                rest = &rest[i + 3..];
            }
            None => {
                out.push_str(&rest[..i + 3]);
                rest = &rest[i + 3..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The sources files: path and lines, in the order read.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SourcesList {
    pub default_file: String,
    pub sources_dir: String,
    pub files: Vec<(String, Vec<SourceLine>)>,
    /// Each file's text as read.
    pub on_disk: Vec<(String, String)>,
}

impl SourcesList {
    /// Each file's text as it would be written; files without lines are
    /// left out (they are deleted).
    pub fn dump(&self) -> Vec<(String, String)> {
        self.files
            .iter()
            .filter(|(_, lines)| !lines.is_empty())
            .map(|(f, lines)| (f.clone(), lines.iter().map(render_line).collect()))
            .collect()
    }

    fn expand_path(&self, filename: &str) -> String {
        if filename.contains('/') {
            filename.to_string()
        } else {
            format!("{}/{filename}", self.sources_dir.trim_end_matches('/'))
        }
    }

    /// Ansible's `add_source` for a plain source line.
    pub fn add(&mut self, line: &str, filename: Option<&str>) -> Result<Vec<String>, String> {
        let (parsed, text) = parse_line(line);
        if !parsed.valid || !parsed.enabled {
            return Err(format!("Invalid repository string: {text}"));
        }
        let mut found = false;
        for (_, lines) in self.files.iter_mut() {
            for l in lines.iter_mut() {
                if l.valid && l.source == parsed.source {
                    l.enabled = true;
                    found = true;
                }
            }
        }
        let mut new = Vec::new();
        if !found {
            let file = self.expand_path(&suggest_filename(&parsed.source, filename));
            let line = SourceLine {
                valid: true,
                enabled: true,
                source: parsed.source,
                comment: String::new(),
            };
            match self.files.iter_mut().find(|(f, _)| *f == file) {
                Some((_, lines)) => lines.push(line),
                None => self.files.push((file.clone(), vec![line])),
            }
            new.push(file);
        }
        Ok(new)
    }

    /// Ansible's `remove_source`.
    pub fn remove(&mut self, line: &str) -> Result<(), String> {
        let (parsed, text) = parse_line(line);
        if !parsed.valid || !parsed.enabled {
            return Err(format!("Invalid repository string: {text}"));
        }
        for (_, lines) in self.files.iter_mut() {
            lines.retain(|l| !(l.valid && l.enabled && l.source == parsed.source));
        }
        Ok(())
    }
}

/// Reads the sources files in one round trip: apt's two paths, then each
/// file as `==file LENGTH PATH` and its bytes.
const READ_SCRIPT: &str = r#"L=/etc/apt/sources.list; D=/etc/apt/sources.list.d/
if command -v apt-config >/dev/null 2>&1; then eval "$(apt-config shell L Dir::Etc::sourcelist/f D Dir::Etc::sourceparts/d 2>/dev/null)"; fi
printf '%s\n%s\n' "$L" "$D"
for f in "$L" "${D%/}"/*.list; do
  [ -f "$f" ] || continue
  printf '==file %s %s\n' "$(wc -c < "$f" | tr -d ' ')" "$f"
  cat "$f"
done"#;

pub fn parse_read(out: &[u8]) -> SourcesList {
    let mut s = SourcesList::default();
    let mut rest = out;
    let next_line = |rest: &mut &[u8]| -> Option<String> {
        let i = rest.iter().position(|b| *b == b'\n')?;
        let line = String::from_utf8_lossy(&rest[..i]).into_owned();
        *rest = &rest[i + 1..];
        Some(line)
    };
    s.default_file = next_line(&mut rest).unwrap_or_default();
    s.sources_dir = next_line(&mut rest).unwrap_or_default();
    while let Some(header) = next_line(&mut rest) {
        let Some(h) = header.strip_prefix("==file ") else {
            break;
        };
        let Some((len, path)) = h.split_once(' ') else {
            break;
        };
        let len: usize = len.parse().unwrap_or(0).min(rest.len());
        let text = String::from_utf8_lossy(&rest[..len]).into_owned();
        rest = &rest[len..];
        let lines = text.lines().map(|l| parse_line(l).0).collect();
        let path = path.replace("//", "/");
        s.on_disk.push((path.clone(), text));
        s.files.push((path, lines));
    }
    s
}

#[async_trait]
impl Module for AptRepository {
    fn name(&self) -> &'static str {
        "apt_repository"
    }

    fn spec(&self) -> Option<&'static Spec> {
        Some(&SPEC)
    }

    async fn run(&self, ctx: &ModuleContext<'_>) -> Result<Outcome, HostError> {
        let a = match SPEC.parse(ctx).await? {
            Ok(a) => a,
            Err(o) => return Ok(o),
        };
        let repo = a.str_or("repo", "");
        let state = a.str_or("state", "present");
        let mode = match a.raw("mode") {
            None => 0o644,
            Some(v) => match parse_mode(v) {
                Ok(Mode::Octal(m)) => m,
                Ok(_) => {
                    return Ok(Outcome::failed(format!(
                        "mode must be in octal form, got: {v}"
                    )))
                }
                Err(e) => return Ok(Outcome::failed(e)),
            },
        };
        if repo.is_empty() {
            return Ok(Outcome::failed(
                "Please set argument 'repo' to a non-empty value",
            ));
        }
        if repo.starts_with("ppa:") {
            return Ok(Outcome::failed(
                "herd does not add ppa: repositories (they need Launchpad's signing key); \
                 write the PPA's deb line with signed-by, or use deb822_repository",
            ));
        }
        let r = ctx.host.exec(READ_SCRIPT, &ExecOptions::default()).await?;
        let mut list = parse_read(&r.stdout);
        let before = list.dump();
        let mut new_files = Vec::new();
        let res = if state == "present" {
            list.add(&repo, a.str("filename").as_deref()).map(|n| {
                new_files = n;
            })
        } else {
            list.remove(&repo)
        };
        if let Err(msg) = res {
            return Ok(Outcome::failed(msg));
        }
        let after = list.dump();
        let changed = before != after;
        let get = |d: &[(String, String)], f: &str| {
            d.iter().find(|(g, _)| g == f).map(|(_, t)| t.clone())
        };
        let added: Vec<String> = after
            .iter()
            .filter(|(f, _)| get(&before, f).is_none())
            .map(|(f, _)| f.clone())
            .collect();
        let removed: Vec<String> = before
            .iter()
            .filter(|(f, _)| get(&after, f).is_none())
            .map(|(f, _)| f.clone())
            .collect();
        let mut out = Outcome::ok()
            .with("repo", repo.clone())
            .with("state", state.clone())
            .with(
                "sources_added",
                Value::Array(added.iter().cloned().map(Value::String).collect()),
            )
            .with(
                "sources_removed",
                Value::Array(removed.iter().cloned().map(Value::String).collect()),
            );
        out.changed = changed;
        if changed && ctx.diff {
            for f in added.iter().chain(&removed) {
                let b = get(&before, f);
                let af = get(&after, f);
                out.diff.push(Diff {
                    before_header: Some(if b.is_some() {
                        f.clone()
                    } else {
                        "/dev/null".into()
                    }),
                    after_header: Some(if af.is_some() {
                        f.clone()
                    } else {
                        "/dev/null".into()
                    }),
                    before: b.unwrap_or_default(),
                    after: af.unwrap_or_default(),
                    ..Diff::default()
                });
            }
        }
        if !changed || ctx.check_mode {
            return Ok(out);
        }
        // Ansible writes every file back as it renders it, and deletes
        // the files left without lines.
        for (f, text) in &after {
            if get(&list.on_disk, f).as_deref() != Some(text.as_str()) {
                let dir = f.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
                if !dir.is_empty() {
                    ctx.host
                        .exec(
                            &format!("mkdir -p {}", shell_quote(dir)),
                            &ExecOptions::default(),
                        )
                        .await?;
                }
                let new_mode = new_files.contains(f).then_some(mode);
                ctx.host.write_file(f, text.as_bytes(), new_mode).await?;
                if let Some(m) = new_mode {
                    ctx.host
                        .exec(
                            &format!("chmod {:o} {}", m, shell_quote(f)),
                            &ExecOptions::default(),
                        )
                        .await?;
                }
            }
        }
        for (f, _) in &list.on_disk {
            if get(&after, f).is_none() {
                ctx.host
                    .exec(
                        &format!("rm -f {}", shell_quote(f)),
                        &ExecOptions::default(),
                    )
                    .await?;
            }
        }
        if a.bool_or("update_cache", true) {
            let retries = a.int("update_cache_retries").unwrap_or(5).max(1);
            let mut err = String::new();
            let mut ok = false;
            for _ in 0..retries {
                let r = ctx
                    .host
                    .exec("apt-get update -q", &ExecOptions::default())
                    .await?;
                if r.rc == 0 {
                    ok = true;
                    break;
                }
                err = r.stderr_text().trim().to_string();
                ctx.host.exec("sleep 1", &ExecOptions::default()).await?;
            }
            if !ok {
                // Put the files back as they were, as Ansible does.
                for (f, text) in &list.on_disk {
                    ctx.host.write_file(f, text.as_bytes(), None).await?;
                }
                for f in &added {
                    ctx.host
                        .exec(
                            &format!("rm -f {}", shell_quote(f)),
                            &ExecOptions::default(),
                        )
                        .await?;
                }
                return Ok(Outcome::failed(format!(
                    "Failed to update apt cache after {retries} retries: {}",
                    if err.is_empty() {
                        "unknown reason"
                    } else {
                        &err
                    }
                )));
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_follow_ansible() {
        assert_eq!(
            suggest_filename(
                "deb http://dl.google.com/linux/chrome/deb/ stable main",
                None
            ),
            "dl_google_com_linux_chrome_deb.list"
        );
        assert_eq!(
            suggest_filename(
                "deb [arch=amd64 signed-by=/k.gpg] https://user:pw@example.org/repo stable main",
                None
            ),
            "example_org_repo.list"
        );
        assert_eq!(
            suggest_filename("deb http://x y", Some("mine")),
            "mine.list"
        );
    }

    #[test]
    fn lines_parse_and_render() {
        let (l, _) = parse_line("#deb   http://x  y main # note");
        assert!(l.valid && !l.enabled);
        assert_eq!(l.source, "deb http://x y main");
        assert_eq!(render_line(&l), "# deb http://x y main # note\n");
        let (l, text) = parse_line("foo bar");
        assert!(!l.valid);
        assert_eq!(text, "foo bar");
    }

    #[test]
    fn add_enables_a_commented_line_and_remove_drops_the_file() {
        let mut s = SourcesList {
            default_file: "/etc/apt/sources.list".into(),
            sources_dir: "/etc/apt/sources.list.d/".into(),
            files: vec![(
                "/etc/apt/sources.list.d/x.list".into(),
                vec![parse_line("# deb http://x y main").0],
            )],
            on_disk: Vec::new(),
        };
        assert_eq!(s.add("deb http://x y main", None), Ok(vec![]));
        assert_eq!(s.dump()[0].1, "deb http://x y main\n");
        s.remove("deb http://x y main").unwrap();
        assert!(s.dump().is_empty());
        assert_eq!(
            s.add("deb http://a.b/c d", None),
            Ok(vec!["/etc/apt/sources.list.d/a_b_c.list".to_string()])
        );
    }
}
