//! Errors and warnings shown to the user.
//!
//! Every user-facing error is a [`Diagnostic`]: what went wrong, where
//! (`file:line:col`, with the source line and a caret under the spot), a
//! one-line hint of what to do, and the exit code ansible-playbook gives for
//! the same mistake.

use std::collections::HashSet;
use std::fmt;
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};

/// A place in a source file. Lines and columns count from 1.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Loc {
    pub file: Arc<str>,
    pub line: u32,
    pub col: u32,
}

impl Loc {
    pub fn new(file: impl Into<Arc<str>>, line: u32, col: u32) -> Loc {
        Loc {
            file: file.into(),
            line,
            col,
        }
    }

    /// A location naming a whole file (no line known).
    pub fn file(file: impl Into<Arc<str>>) -> Loc {
        Loc::new(file, 0, 0)
    }

    /// The source line this location points at, read from the file.
    pub fn source_line(&self) -> Option<String> {
        self.context_lines(0)?.pop().map(|(_, l)| l)
    }

    /// The line this location points at and up to `before` lines above
    /// it, with their numbers.
    pub fn context_lines(&self, before: u32) -> Option<Vec<(u32, String)>> {
        if self.line == 0 {
            return None;
        }
        let text = std::fs::read(Path::new(&*self.file)).ok()?;
        if crate::vault::is_encrypted_file(&text) {
            // The lines of a vaulted file are ciphertext: nothing to show.
            return None;
        }
        let text = String::from_utf8_lossy(&text);
        let first = self.line.saturating_sub(before).max(1);
        let lines: Vec<(u32, String)> = text
            .lines()
            .enumerate()
            .map(|(i, l)| (i as u32 + 1, l.to_string()))
            .skip(first as usize - 1)
            .take((self.line - first + 1) as usize)
            .collect();
        match lines.last() {
            Some((n, _)) if *n == self.line => Some(lines),
            _ => None,
        }
    }
}

impl fmt::Display for Loc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}", self.file)
        } else {
            write!(f, "{}:{}:{}", self.file, self.line, self.col)
        }
    }
}

/// Exit codes, as ansible-playbook (2.19) uses them.
pub mod exit {
    /// A generic error: a missing role, a `--limit` that matches no host,
    /// an unreadable inventory, a bad command-line value.
    pub const ERROR: i32 = 1;
    /// One or more hosts failed.
    pub const HOST_FAILED: i32 = 2;
    /// One or more hosts were unreachable.
    pub const HOST_UNREACHABLE: i32 = 4;
    /// The playbook could not be parsed (bad YAML, unknown module or keyword).
    pub const PARSER_ERROR: i32 = 4;
    /// A command line the parser rejects (unknown flag, missing or
    /// ill-typed value), as Python's argparse exits.
    pub const USAGE: i32 = 2;
    /// Options that parse but do not make sense together or for the
    /// action (Ansible's `AnsibleOptionsError`).
    pub const BAD_OPTIONS: i32 = 5;
    /// Interrupted by the user.
    pub const USER_INTERRUPT: i32 = 99;
    /// An unexpected internal error.
    pub const UNEXPECTED: i32 = 250;
}

/// A user-facing error.
#[derive(Clone, Debug, PartialEq)]
pub struct Diagnostic {
    pub message: String,
    pub loc: Option<Loc>,
    pub hint: Option<String>,
    pub exit_code: i32,
}

pub type Result<T, E = Diagnostic> = std::result::Result<T, E>;

impl Diagnostic {
    /// An error with the generic exit code 1.
    pub fn new(message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            message: message.into(),
            loc: None,
            hint: None,
            exit_code: exit::ERROR,
        }
    }

    /// A load-time error in a playbook or role (exit code 4, as Ansible's
    /// parser errors).
    pub fn parse(message: impl Into<String>, loc: Loc) -> Diagnostic {
        Diagnostic::new(message).at(loc).code(exit::PARSER_ERROR)
    }

    pub fn at(mut self, loc: Loc) -> Diagnostic {
        self.loc = Some(loc);
        self
    }

    /// Sets the location only when none is known yet.
    pub fn or_at(mut self, loc: &Loc) -> Diagnostic {
        if self.loc.is_none() {
            self.loc = Some(loc.clone());
        }
        self
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Diagnostic {
        self.hint = Some(hint.into());
        self
    }

    pub fn code(mut self, exit_code: i32) -> Diagnostic {
        self.exit_code = exit_code;
        self
    }
}

impl fmt::Display for Diagnostic {
    /// The layout of ansible-core 2.19's errors: the message, an `Origin:`
    /// line, up to two lines of context and a caret under the column, then
    /// the hint.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[ERROR]: {}", self.message)?;
        if let Some(loc) = &self.loc {
            write!(f, "\nOrigin: {loc}")?;
            if let Some(lines) = loc.context_lines(2) {
                let width = loc.line.to_string().len();
                writeln!(f)?;
                for (num, line) in &lines {
                    write!(f, "\n{num:>width$} {line}")?;
                }
                let target = lines.last().map(|(_, l)| l.as_str()).unwrap_or("");
                // Tabs are kept so the caret lines up in a terminal.
                let lead: String = target
                    .chars()
                    .take(loc.col.saturating_sub(1) as usize)
                    .map(|c| if c == '\t' { '\t' } else { ' ' })
                    .collect();
                write!(f, "\n{} {lead}^ column {}", " ".repeat(width), loc.col)?;
            }
        }
        if let Some(hint) = &self.hint {
            write!(f, "\n\nHint: {hint}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostic {}

fn seen_warnings() -> &'static Mutex<HashSet<String>> {
    static SEEN: OnceLock<Mutex<HashSet<String>>> = OnceLock::new();
    SEEN.get_or_init(|| Mutex::new(HashSet::new()))
}

/// Prints a warning to stderr, once per distinct text, as Ansible's
/// `[WARNING]:` lines.
pub fn warn(message: impl AsRef<str>) {
    let message = message.as_ref();
    let mut seen = match seen_warnings().lock() {
        Ok(s) => s,
        Err(poisoned) => poisoned.into_inner(),
    };
    if seen.insert(message.to_string()) {
        let _ = writeln!(anstream::stderr(), "[WARNING]: {message}");
    }
}

/// The closest of `candidates` to `word`, for "did you mean" hints.
pub fn did_you_mean<'a, I>(word: &str, candidates: I) -> Option<&'a str>
where
    I: IntoIterator<Item = &'a str>,
{
    let limit = (word.chars().count() / 3).max(1) + usize::from(word.len() > 6);
    candidates
        .into_iter()
        .map(|c| (edit_distance(word, c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Levenshtein distance, counting a swap of two neighbours as one edit.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = v;
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_caret_under_column() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.yml");
        std::fs::write(&path, "- hosts: all\n  taskz: []\n").unwrap();
        let d = Diagnostic::parse("bad key", Loc::new(path.to_str().unwrap(), 2, 3))
            .hint("did you mean 'tasks'?");
        let text = d.to_string();
        assert!(text.starts_with("[ERROR]: bad key\nOrigin: "), "{text}");
        assert!(
            text.contains("p.yml:2:3\n\n1 - hosts: all\n2   taskz: []\n    ^ column 3"),
            "{text}"
        );
        assert!(text.ends_with("\n\nHint: did you mean 'tasks'?"), "{text}");
        assert_eq!(d.exit_code, 4);
    }

    #[test]
    fn suggests_close_words() {
        let words = ["copy", "command", "template"];
        assert_eq!(did_you_mean("copyy", words), Some("copy"));
        assert_eq!(did_you_mean("tempalte", words), Some("template"));
        assert_eq!(did_you_mean("zzzzzz", words), None);
    }
}
