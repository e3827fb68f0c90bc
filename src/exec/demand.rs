//! Which parts of a registered result anything can read.
//!
//! A registered variable is read only by templates and conditions, and
//! every one of those is text in the project's files: the playbooks, the
//! roles (tasks, vars, templates), the inventory and the extra vars. When
//! every mention of a name in that text reads a known part of it
//! (`st.stat.size`, `st['stat']['exists']`), those parts are all that
//! can be read, and a module may leave out the costly rest (the stat
//! module's mime type, checksum and attributes).
//!
//! The reading is conservative: any mention it cannot place (the whole
//! value, a filter on it, a quoted name, a method call) counts as reading
//! all of it, and so does anything that can reach a variable by a name
//! built at run time (`vars[...]`, the `vars` and `varnames` lookups, a
//! whole `hostvars` entry). A project too big to read quickly counts as
//! reading everything.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use herd_modules::api::Demand;

/// At most this many files are read, …
const MAX_FILES: usize = 5_000;
/// … holding at most this many bytes in all.
const MAX_BYTES: u64 = 16 << 20;

/// The text of the project, read once per run.
pub(crate) struct Corpus {
    texts: Vec<Vec<u8>>,
    /// Something reads variables by a name the text does not show, or the
    /// project was too big to read: every part of every result is read.
    all: bool,
}

impl Corpus {
    /// Reads every file below `roots` (not `.git`), and takes `extra`
    /// texts (the extra vars) as they are.
    pub(crate) fn scan(roots: &[PathBuf], extra: Vec<Vec<u8>>) -> Corpus {
        let mut corpus = Corpus {
            texts: extra,
            all: false,
        };
        let (mut files, mut bytes) = (0usize, 0u64);
        let mut seen = HashSet::new();
        let mut stack: Vec<PathBuf> = roots.to_vec();
        while let Some(dir) = stack.pop() {
            let Ok(real) = dir.canonicalize() else {
                continue;
            };
            if !seen.insert(real) {
                continue;
            }
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                // Follows links, as the loaders do.
                let Ok(meta) = std::fs::metadata(&path) else {
                    continue;
                };
                if meta.is_dir() {
                    if entry.file_name() != ".git" {
                        stack.push(path);
                    }
                    continue;
                }
                // A FIFO or a device would block or never end; an empty
                // file holds nothing (and the kernel's files, which can
                // block too, say they are empty).
                if !meta.is_file() || meta.len() == 0 {
                    continue;
                }
                files += 1;
                bytes += meta.len();
                if files > MAX_FILES || bytes > MAX_BYTES {
                    corpus.all = true;
                    corpus.texts.clear();
                    return corpus;
                }
                if let Ok(t) = std::fs::read(&path) {
                    corpus.texts.push(t);
                }
            }
        }
        Corpus::from_texts(corpus.texts)
    }

    /// Texts read whole, with nothing left out.
    fn from_texts(texts: Vec<Vec<u8>>) -> Corpus {
        let all = texts.iter().any(|t| reads_by_built_name(t));
        Corpus { texts, all }
    }

    /// The parts of the variable `name` that anything reads; `None`: any
    /// part (or the whole).
    pub(crate) fn demand(&self, name: &str) -> Option<Demand> {
        if self.all || name.is_empty() {
            return None;
        }
        let mut paths = Vec::new();
        for text in &self.texts {
            for at in words(text, name.as_bytes()) {
                if is_register_value(text, at) {
                    continue;
                }
                let end = at + name.len();
                let (path, after) = accessors(text, end);
                if path.is_empty() {
                    if prose_follows(text, after) || tested(text, after) {
                        continue;
                    }
                    return None;
                }
                if !paths.contains(&path) {
                    paths.push(path);
                }
            }
        }
        Some(Demand { paths })
    }
}

fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Where `word` occurs in `text` as a whole identifier.
fn words<'a>(text: &'a [u8], word: &'a [u8]) -> impl Iterator<Item = usize> + 'a {
    let n = word.len();
    (0..text.len().saturating_sub(n - 1)).filter(move |&i| {
        text[i..].starts_with(word)
            && (i == 0 || !is_ident(text[i - 1]))
            && text.get(i + n).is_none_or(|b| !is_ident(*b))
    })
}

/// Skips spaces and tabs (not line ends: the next line of a YAML file
/// is not the rest of an expression).
fn skip_blank(text: &[u8], mut at: usize) -> usize {
    while matches!(text.get(at), Some(b' ' | b'\t')) {
        at += 1;
    }
    at
}

fn ident_at(text: &[u8], at: usize) -> Option<(&str, usize)> {
    let start = at;
    let mut end = at;
    while text.get(end).is_some_and(|b| is_ident(*b)) {
        end += 1;
    }
    if end == start || text[start].is_ascii_digit() {
        return None;
    }
    // Identifier bytes are ASCII.
    std::str::from_utf8(&text[start..end])
        .ok()
        .map(|s| (s, end))
}

/// A quoted literal key in brackets (`['k']`, `["k"]`) at `at` (the
/// `[`): the key and where the `]` ends.
fn literal_key(text: &[u8], at: usize) -> Option<(String, usize)> {
    let q = skip_blank(text, at + 1);
    let quote = *text.get(q).filter(|b| matches!(b, b'\'' | b'"'))?;
    let close = q + 1 + text[q + 1..].iter().position(|b| *b == quote)?;
    let key = std::str::from_utf8(&text[q + 1..close]).ok()?;
    if key.contains(['\\', '\n']) {
        return None;
    }
    let end = skip_blank(text, close + 1);
    (text.get(end) == Some(&b']')).then(|| (key.to_string(), end + 1))
}

/// The keys read after a variable (`.a`, `['a']`), up to the first
/// thing that is not a literal key; a trailing call drops its method
/// name (`x.stat.keys()` reads `stat`). Also where the chain ends.
fn accessors(text: &[u8], mut at: usize) -> (Vec<String>, usize) {
    let mut path = Vec::new();
    loop {
        let next = skip_blank(text, at);
        match text.get(next) {
            Some(b'.') => match ident_at(text, skip_blank(text, next + 1)) {
                Some((k, end)) => {
                    path.push(k.to_string());
                    at = end;
                }
                None => break,
            },
            Some(b'[') => match literal_key(text, next) {
                Some((k, end)) => {
                    path.push(k);
                    at = end;
                }
                None => break,
            },
            Some(b'(') => {
                path.pop();
                break;
            }
            _ => break,
        }
    }
    (path, at)
}

/// Jinja's words that can follow an expression; any other word after a
/// name means the name is prose, not a variable.
const JINJA_WORDS: &[&str] = &[
    "is",
    "in",
    "not",
    "and",
    "or",
    "if",
    "else",
    "recursive",
    "with",
    "without",
    "context",
    "ignore",
    "missing",
    "as",
    "for",
    "import",
];

fn prose_follows(text: &[u8], at: usize) -> bool {
    ident_at(text, skip_blank(text, at)).is_some_and(|(w, _)| !JINJA_WORDS.contains(&w))
}

/// Tests that look at a result's status or presence only.
const STATUS_TESTS: &[&str] = &[
    "defined",
    "undefined",
    "none",
    "changed",
    "change",
    "failed",
    "failure",
    "succeeded",
    "success",
    "successful",
    "skipped",
    "skip",
    "finished",
    "mapping",
];

/// `name is [not] TEST` with a test of the status only.
fn tested(text: &[u8], at: usize) -> bool {
    let Some(("is", at)) = ident_at(text, skip_blank(text, at)) else {
        return false;
    };
    let mut word = ident_at(text, skip_blank(text, at));
    if let Some(("not", at)) = word {
        word = ident_at(text, skip_blank(text, at));
    }
    word.is_some_and(|(w, end)| {
        STATUS_TESTS.contains(&w) && !matches!(text.get(skip_blank(text, end)), Some(b'(' | b'.'))
    })
}

/// `register: NAME` (quoted or not): the mention that makes the
/// variable, not one that reads it.
fn is_register_value(text: &[u8], at: usize) -> bool {
    let line = text[..at]
        .iter()
        .rposition(|b| *b == b'\n')
        .map_or(0, |i| i + 1);
    let before = std::str::from_utf8(&text[line..at]).unwrap_or("");
    let rest = before.trim_end().trim_end_matches(['\'', '"']).trim_end();
    let Some(key) = rest.strip_suffix(':') else {
        return false;
    };
    let key = key.trim_end().trim_end_matches(['\'', '"']);
    key.strip_suffix("register")
        .is_some_and(|pre| pre.bytes().last().is_none_or(|b| !is_ident(b)))
}

/// Whether the text can reach a variable by a name built at run time:
/// `vars` other than `vars.NAME`, the `vars`/`varnames` lookups, or a
/// `hostvars` entry other than `hostvars[H].NAME`/`hostvars[H]['NAME']`.
/// A YAML key (`vars:`) and an INI section (`[group:vars]`) are not
/// reads, nor is a word followed by prose.
fn reads_by_built_name(text: &[u8]) -> bool {
    let plain_key = |at: usize| text.get(skip_blank(text, at)) == Some(&b':');
    for at in words(text, b"vars") {
        let end = at + 4;
        let section = at > 0 && text[at - 1] == b':' && text.get(end) == Some(&b']');
        if section || plain_key(end) || prose_follows(text, end) {
            continue;
        }
        match accessors(text, end).0.first().map(String::as_str) {
            Some("get" | "keys" | "items" | "values") | None => return true,
            Some(_) => {}
        }
    }
    if words(text, b"varnames").any(|at| !prose_follows(text, at + 8)) {
        return true;
    }
    for at in words(text, b"hostvars") {
        let end = at + 8;
        if plain_key(end) || prose_follows(text, end) {
            continue;
        }
        if !names_a_variable(text, end) {
            return true;
        }
    }
    false
}

/// After `hostvars`: one host (`[expr]` or `.name`), then one variable
/// by a literal name.
fn names_a_variable(text: &[u8], at: usize) -> bool {
    let at = skip_blank(text, at);
    let host_end = match text.get(at) {
        Some(b'.') => match ident_at(text, skip_blank(text, at + 1)) {
            Some((_, end)) => end,
            None => return false,
        },
        Some(b'[') => {
            let mut depth = 0usize;
            let mut end = None;
            for (i, b) in text[at..].iter().enumerate() {
                match b {
                    b'[' => depth += 1,
                    b']' => {
                        depth -= 1;
                        if depth == 0 {
                            end = Some(at + i + 1);
                            break;
                        }
                    }
                    b'\n' => break,
                    _ => {}
                }
            }
            match end {
                Some(e) => e,
                None => return false,
            }
        }
        _ => return false,
    };
    let (path, _) = accessors(text, host_end);
    !matches!(
        path.first().map(String::as_str),
        None | Some("get" | "keys" | "items" | "values")
    )
}

/// The directories whose files can hold what reads a playbook's
/// variables: each play's playbook and base directory, every role's
/// directory, the roles path and the inventory's directories.
pub(crate) fn roots(
    playbook: &crate::playbook::Playbook,
    roles_path: &[PathBuf],
    inventory: &[PathBuf],
) -> Vec<PathBuf> {
    use crate::playbook::{RoleInclude, TaskItem};
    fn items(list: &[TaskItem], out: &mut Vec<PathBuf>) {
        for item in list {
            match item {
                TaskItem::Task(t) => {
                    if let Some(r) = &t.role {
                        out.push(r.path.clone());
                    }
                    if let Some(dir) = Path::new(&*t.loc.file).parent() {
                        out.push(dir.to_path_buf());
                    }
                }
                TaskItem::Block(b) => {
                    if let Some(r) = &b.role {
                        out.push(r.path.clone());
                    }
                    for l in [&b.block, &b.rescue, &b.always] {
                        items(l, out);
                    }
                }
            }
        }
    }
    fn roles(list: &[RoleInclude], out: &mut Vec<PathBuf>) {
        for r in list {
            out.push(r.context.path.clone());
            roles(&r.dependencies, out);
            items(&r.tasks, out);
            items(&r.handlers, out);
        }
    }
    let mut out: Vec<PathBuf> = roles_path.to_vec();
    // A playbook named without a directory is in the current one.
    match playbook.path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => out.push(dir.to_path_buf()),
        _ => out.push(PathBuf::from(".")),
    }
    for play in &playbook.plays {
        out.push(play.playbook_dir.clone());
        out.push(play.basedir.clone());
        roles(&play.roles, &mut out);
        for l in [
            &play.pre_tasks,
            &play.tasks,
            &play.post_tasks,
            &play.handlers,
        ] {
            items(l, &mut out);
        }
    }
    for source in inventory {
        if source.is_dir() {
            out.push(source.clone());
        } else if let Some(dir) = source.parent() {
            out.push(dir.to_path_buf());
        }
    }
    // A name with no directory (a made-up task's `<adhoc>`) is no root.
    out.retain(|p| !p.as_os_str().is_empty());
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn corpus(texts: &[&str]) -> Corpus {
        Corpus::from_texts(texts.iter().map(|t| t.as_bytes().to_vec()).collect())
    }

    fn paths(c: &Corpus, name: &str) -> Option<Vec<String>> {
        c.demand(name)
            .map(|d| d.paths.iter().map(|p| p.join(".")).collect())
    }

    #[test]
    fn keys_read_after_the_name_are_the_demand() {
        let c = corpus(&[
            "- stat: path=/x\n  register: st\n- assert:\n    that: st.stat.exists and st.stat.size > 0\n",
            "{{ st['stat'][\"isdir\"] }} {{ st . stat . mode | int }}",
        ]);
        assert_eq!(
            paths(&c, "st").unwrap(),
            ["stat.exists", "stat.size", "stat.isdir", "stat.mode"]
        );
        // Not mentioned at all: nothing is read.
        assert_eq!(paths(&c, "other").unwrap(), Vec::<String>::new());
    }

    #[test]
    fn a_mention_that_cannot_be_placed_reads_everything() {
        for text in [
            "debug: var=st\n",
            "  debug:\n    var: st\n  register: x\n",
            "msg: \"{{ st }}\"",
            "msg: \"{{ st | to_json }}\"",
            "x: \"{{ st.get('stat') }}\"",
            "x: \"{{ st[key] }}\"",
            "x: \"{{ hostvars[h]['st'] }}\"",
            "{% for k in st recursive %}{% endfor %}",
            "when: st is sameas(x)",
        ] {
            assert_eq!(paths(&corpus(&[text]), "st"), None, "{text}");
        }
        // Stat as a whole.
        for text in [
            "x: \"{{ st.stat }}\"",
            "x: \"{{ st.stat[key] }}\"",
            "x: \"{{ st.stat.keys() }}\"",
        ] {
            assert_eq!(paths(&corpus(&[text]), "st").unwrap(), ["stat"], "{text}");
        }
    }

    #[test]
    fn the_register_itself_prose_and_status_tests_read_nothing() {
        let c = corpus(&[
            "register: st\n\"register\": \"st\"\nregister: 'st'  \n",
            "name: check st before the copy\n",
            "when: st is changed or st is not failed\n",
            "when: rst.stat.mimetype == 'x' and st_x is defined\n",
        ]);
        assert_eq!(paths(&c, "st").unwrap(), Vec::<String>::new());
        assert_eq!(paths(&c, "rst").unwrap(), ["stat.mimetype"]);
        // `register` must be the key, not the end of another word.
        assert_eq!(paths(&corpus(&["preregister: st\n"]), "st"), None);
    }

    #[test]
    fn names_built_at_run_time_read_everything() {
        for text in [
            "debug: var=vars\n",
            "x: \"{{ vars['s' ~ 't'] }}\"",
            "x: \"{{ vars.get(n) }}\"",
            "x: \"{{ lookup('vars', n) }}\"",
            "x: \"{{ lookup('ansible.builtin.varnames', '^s') }}\"",
            "x: \"{{ hostvars[inventory_hostname] | to_json }}\"",
            "x: \"{{ hostvars[h][name] }}\"",
            "debug: var=hostvars\n",
        ] {
            assert!(corpus(&[text]).all, "{text}");
            assert_eq!(paths(&corpus(&[text]), "st"), None, "{text}");
        }
        for text in [
            "- hosts: all\n  vars:\n    d: 1\n  vars_files: [x]\n",
            "[web:vars]\nx=1\n",
            "# vars file for the role\n",
            "x: \"{{ vars.d }} {{ hostvars['h1'].st.stat.size }} {{ hostvars[groups['a'][0]]['x'] }}\"",
            "include_vars: {file: a.yml}\n",
        ] {
            assert!(!corpus(&[text]).all, "{text}");
        }
        assert_eq!(
            paths(&corpus(&["x: \"{{ hostvars['h1'].st.stat.size }}\""]), "st").unwrap(),
            ["stat.size"]
        );
    }

    #[test]
    fn a_project_too_big_to_read_reads_everything() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("site.yml"), "that: st.stat.size > 0\n").unwrap();
        let c = Corpus::scan(&[dir.path().to_path_buf()], Vec::new());
        assert_eq!(paths(&c, "st").unwrap(), ["stat.size"]);
        // A FIFO is passed over, not read (which would wait for a writer).
        let fifo =
            std::ffi::CString::new(dir.path().join("pipe").as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: a valid NUL-terminated path; mkfifo only creates a node.
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
        let c = Corpus::scan(&[dir.path().to_path_buf()], Vec::new());
        assert_eq!(paths(&c, "st").unwrap(), ["stat.size"]);
        let big = vec![b' '; (MAX_BYTES + 1) as usize];
        std::fs::write(dir.path().join("big"), big).unwrap();
        let c = Corpus::scan(&[dir.path().to_path_buf()], Vec::new());
        assert_eq!(paths(&c, "st"), None);
    }

    #[test]
    fn demand_covers_above_at_and_below_a_read_path() {
        let d = Demand {
            paths: vec![vec!["stat".into(), "size".into()]],
        };
        assert!(d.covers(&["stat", "size"]));
        assert!(d.covers(&["stat"]));
        assert!(!d.covers(&["stat", "checksum"]));
        let d = Demand {
            paths: vec![vec!["stat".into()]],
        };
        assert!(d.covers(&["stat", "checksum"]));
    }
}
