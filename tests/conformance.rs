//! Conformance suite: herd against ansible-core 2.19, the oracle.
//!
//! Each directory under `tests/conformance/` is one case: a playbook tree, an
//! inventory (the one entry whose name starts with `inventory`: a file or a
//! directory) and a `cases` file. Each line of `cases` is a command without
//! its program name, split like a shell would split it:
//!
//! ```text
//! playbook site.yml --list-tasks -t web
//! inventory --graph --vars
//! ```
//!
//! A `playbook` line runs `ansible-playbook -i <inventory> ARGS` and
//! `herd playbook -i <inventory> ARGS`; an `inventory` line runs
//! `ansible-inventory` and `herd inventory` the same way (`-i` is added only
//! when the line has none). Both run in the case directory with every
//! `ANSIBLE_*` variable removed from the environment except the few that
//! quieten ansible. They must exit with the same code and print the same
//! stdout: compared as JSON values, key order included, for
//! `inventory --list` and `inventory --host`, and exactly otherwise, except
//! for two places where ansible-playbook prints a Python set and so changes
//! order from run to run: the hosts under `hosts (N):` and the play's own
//! `TAGS: [...]` are sorted on both sides before comparing. stderr is not
//! compared.
//!
//! Ansible is found in `$HERD_ANSIBLE_BIN_DIR`, else `.venv/ansible/bin` in
//! the repository, else `/opt/ansible-venv/bin`; `scripts/test.sh` installs
//! it. Without it the cases fail (they never skip).
//!
//! `HERD_CONFORMANCE_FILTER=text` runs only the lines whose
//! `<case dir>: <line>` contains `text`, e.g. `11-tags` or `--list-hosts`.
//! `HERD_CONFORMANCE_BIN=scripts/ansible-as-herd` puts ansible in herd's
//! place, which must pass every case: a check of the suite itself.

mod common;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// One test per case directory; `every_case_directory_has_a_test` keeps this
/// list and the directories in step.
macro_rules! conformance_cases {
    ($($test:ident => $dir:literal,)*) => {
        $(
            #[test]
            fn $test() {
                run_case($dir);
            }
        )*
        const CASE_DIRS: &[&str] = &[$($dir),*];
    };
}

conformance_cases! {
    inventory_ini => "01-inventory-ini",
    inventory_yaml_vars => "02-inventory-yaml-vars",
    patterns => "03-patterns",
    limit => "04-limit",
    roles => "05-roles",
    role_dependencies => "06-role-dependencies",
    include_import_tasks => "07-include-import-tasks",
    include_import_role => "08-include-import-role",
    import_playbook => "09-import-playbook",
    templated_names => "10-templated-names",
    tags => "11-tags",
    blocks => "12-blocks",
    handlers => "13-handlers",
    loops => "14-loops",
    syntax_errors => "15-syntax-errors",
    inventory_directory => "16-inventory-directory",
    several_plays => "17-several-plays",
    yaml_values => "18-yaml-values",
}

/// How long one command may run before it counts as hung.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(120);

fn cases_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/conformance")
}

#[test]
fn every_case_directory_has_a_test() {
    let mut dirs: Vec<String> = std::fs::read_dir(cases_root())
        .expect("tests/conformance exists")
        .map(|e| e.expect("readable entry"))
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    dirs.sort();
    let missing: Vec<&String> = dirs
        .iter()
        .filter(|d| !CASE_DIRS.contains(&d.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "case directories without a test in tests/conformance.rs: {missing:?}"
    );
    for dir in CASE_DIRS {
        let cases = cases_root().join(dir).join("cases");
        assert!(cases.is_file(), "{} is missing", cases.display());
    }
}

/// The herd binary under test; `HERD_CONFORMANCE_BIN` replaces it, e.g. with
/// `scripts/ansible-as-herd` to check the harness against ansible itself.
fn herd_bin() -> PathBuf {
    std::env::var_os("HERD_CONFORMANCE_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_herd")))
}

/// What a command printed and how it ended.
struct Output {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn run(program: &Path, args: &[String], cwd: &Path) -> Output {
    let mut cmd = Command::new(program);
    cmd.args(args)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("ANSIBLE_") {
            cmd.env_remove(key);
        }
    }
    cmd.env("ANSIBLE_NOCOLOR", "1")
        .env("ANSIBLE_DEPRECATION_WARNINGS", "0")
        .env("ANSIBLE_LOCALHOST_WARNING", "0")
        .env("ANSIBLE_INVENTORY_UNPARSED_WARNING", "0")
        .env("NO_COLOR", "1");
    let mut child = match cmd.spawn() {
        Ok(child) => child,
        Err(e) => {
            return Output {
                code: None,
                stdout: String::new(),
                stderr: format!("cannot start {}: {e}", program.display()),
            }
        }
    };
    // Read both pipes on threads so a chatty child cannot block on a full pipe
    // while we wait for it.
    let mut out_pipe = child.stdout.take().expect("piped stdout");
    let mut err_pipe = child.stderr.take().expect("piped stderr");
    let out_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = out_pipe.read_to_end(&mut buf);
        buf
    });
    let err_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = err_pipe.read_to_end(&mut buf);
        buf
    });
    let started = Instant::now();
    let mut timed_out = false;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if started.elapsed() > COMMAND_TIMEOUT => {
                let _ = child.kill();
                timed_out = true;
                break child.wait().ok();
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(_) => break None,
        }
    };
    let stdout = String::from_utf8_lossy(&out_reader.join().unwrap_or_default()).into_owned();
    let mut stderr = String::from_utf8_lossy(&err_reader.join().unwrap_or_default()).into_owned();
    if timed_out {
        stderr.push_str(&format!("\n(killed after {} s)", COMMAND_TIMEOUT.as_secs()));
    }
    Output {
        code: if timed_out {
            None
        } else {
            status.and_then(|s| s.code())
        },
        stdout,
        stderr,
    }
}

/// Splits a `cases` line into words as a POSIX shell would for the simple
/// quoting used there: single quotes, double quotes, backslash escapes.
fn split_words(line: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => word.push(c),
                        None => return Err("unterminated single quote".into()),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\' | '$' | '`')) => word.push(c),
                            Some(c) => {
                                word.push('\\');
                                word.push(c);
                            }
                            None => return Err("unterminated double quote".into()),
                        },
                        Some(c) => word.push(c),
                        None => return Err("unterminated double quote".into()),
                    }
                }
            }
            '\\' => {
                in_word = true;
                match chars.next() {
                    Some(c) => word.push(c),
                    None => return Err("trailing backslash".into()),
                }
            }
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

/// The case's inventory: the one entry whose name starts with `inventory`.
fn find_inventory(case_dir: &Path) -> Result<String, String> {
    let mut found: Vec<String> = std::fs::read_dir(case_dir)
        .map_err(|e| format!("cannot read {}: {e}", case_dir.display()))?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("inventory"))
        .collect();
    found.sort();
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => Err("no inventory (a file or directory named inventory*)".into()),
        _ => Err(format!("more than one inventory: {found:?}")),
    }
}

/// How two outputs are compared.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Compare {
    /// JSON values, key order included (inventory --list / --host).
    Json,
    /// Text, exactly, after sorting what ansible prints from a Python set.
    Listing,
}

fn comparison_for(words: &[String]) -> Compare {
    let json = words[0] == "inventory"
        && words[1..]
            .iter()
            .any(|w| w == "--list" || w == "--host" || w.starts_with("--host="));
    if json {
        Compare::Json
    } else {
        Compare::Listing
    }
}

/// Sorts the parts of ansible-playbook's output whose order comes from a
/// Python set (hosts under `hosts (N):`, a play's own TAGS), so that both
/// sides compare equal whatever order they are printed in.
fn normalize_listing(text: &str) -> String {
    let lines: Vec<&str> = text.split('\n').collect();
    let mut out: Vec<String> = Vec::with_capacity(lines.len());
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        if line.starts_with("  play #") {
            out.push(sort_play_tags(line));
            i += 1;
        } else if line.starts_with("    hosts (") && line.ends_with("):") {
            out.push(line.to_string());
            i += 1;
            let start = i;
            while i < lines.len() && lines[i].starts_with("      ") {
                i += 1;
            }
            let mut hosts: Vec<String> = lines[start..i].iter().map(|s| s.to_string()).collect();
            hosts.sort();
            out.extend(hosts);
        } else {
            out.push(line.to_string());
            i += 1;
        }
    }
    out.join("\n")
}

fn sort_play_tags(line: &str) -> String {
    const MARK: &str = "\tTAGS: [";
    match line.rfind(MARK) {
        Some(at) if line.ends_with(']') => {
            let inner = &line[at + MARK.len()..line.len() - 1];
            let mut tags: Vec<&str> = inner.split(',').map(str::trim).collect();
            tags.sort_unstable();
            format!("{}{}{}]", &line[..at], MARK, tags.join(","))
        }
        _ => line.to_string(),
    }
}

/// Reprints JSON with its keys in the order they came, or says why not.
fn canonical_json(text: &str) -> Result<String, String> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    Ok(serde_json::to_string_pretty(&value).expect("a JSON value serializes") + "\n")
}

/// A line diff (longest common subsequence) of `expected` against `actual`,
/// tabs shown as `\t` so that `name<TAB>TAGS` mistakes are visible.
fn diff(expected: &str, actual: &str) -> String {
    let a: Vec<&str> = expected.lines().collect();
    let b: Vec<&str> = actual.lines().collect();
    let (n, m) = (a.len(), b.len());
    let mut lcs = vec![vec![0u32; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let show = |s: &str| s.replace('\t', "\\t");
    let mut out = String::from("      --- ansible\n      +++ herd\n");
    let (mut i, mut j) = (0, 0);
    while i < n || j < m {
        if i < n && j < m && a[i] == b[j] {
            out.push_str(&format!("        {}\n", show(a[i])));
            i += 1;
            j += 1;
        } else if j < m && (i == n || lcs[i][j + 1] >= lcs[i + 1][j]) {
            out.push_str(&format!("      + {}\n", show(b[j])));
            j += 1;
        } else {
            out.push_str(&format!("      - {}\n", show(a[i])));
            i += 1;
        }
    }
    if expected.ends_with('\n') != actual.ends_with('\n') {
        out.push_str(&format!(
            "      (final newline: ansible {}, herd {})\n",
            expected.ends_with('\n'),
            actual.ends_with('\n')
        ));
    }
    out
}

fn indent_tail(text: &str, max_lines: usize) -> String {
    let lines: Vec<&str> = text.trim_end().lines().collect();
    let skip = lines.len().saturating_sub(max_lines);
    let mut out = String::new();
    if skip > 0 {
        out.push_str(&format!("      ({skip} lines before)\n"));
    }
    for line in &lines[skip..] {
        out.push_str(&format!("      | {line}\n"));
    }
    out
}

/// Compares one `cases` line; `None` when herd matches ansible.
fn check_line(
    case_dir: &Path,
    inventory: &str,
    ansible_bin: &Path,
    words: &[String],
) -> Option<String> {
    let (ansible_prog, herd_sub) = match words[0].as_str() {
        "playbook" => ("ansible-playbook", "playbook"),
        "inventory" => ("ansible-inventory", "inventory"),
        other => {
            return Some(format!(
                "    unknown command {other:?}: use playbook or inventory\n"
            ))
        }
    };
    let mut args: Vec<String> = Vec::new();
    let has_inventory = words[1..]
        .iter()
        .any(|w| w == "-i" || w == "--inventory" || w.starts_with("--inventory="));
    if !has_inventory {
        args.push("-i".into());
        args.push(inventory.into());
    }
    args.extend(words[1..].iter().cloned());

    let ansible = run(&ansible_bin.join(ansible_prog), &args, case_dir);
    let mut herd_args = vec![herd_sub.to_string()];
    herd_args.extend(args.iter().cloned());
    let herd = run(&herd_bin(), &herd_args, case_dir);

    let mut problems = String::new();
    if ansible.code.is_none() {
        problems.push_str("    ansible itself did not finish:\n");
        problems.push_str(&indent_tail(&ansible.stderr, 20));
        return Some(problems);
    }
    if ansible.code != herd.code {
        problems.push_str(&format!(
            "    exit code: ansible {:?}, herd {:?}\n",
            ansible.code, herd.code
        ));
    }
    match comparison_for(words) {
        Compare::Json => match (
            canonical_json(&ansible.stdout),
            canonical_json(&herd.stdout),
        ) {
            (Ok(expected), Ok(actual)) => {
                if expected != actual {
                    problems.push_str("    stdout (as JSON, key order included) differs:\n");
                    problems.push_str(&diff(&expected, &actual));
                }
            }
            (Ok(expected), Err(why)) => {
                problems.push_str(&format!("    herd's stdout is {why}:\n"));
                problems.push_str(&diff(&expected, &herd.stdout));
            }
            (Err(_), _) => {
                if ansible.stdout != herd.stdout {
                    problems.push_str("    stdout differs:\n");
                    problems.push_str(&diff(&ansible.stdout, &herd.stdout));
                }
            }
        },
        Compare::Listing => {
            let expected = normalize_listing(&ansible.stdout);
            let actual = normalize_listing(&herd.stdout);
            if expected != actual {
                problems.push_str("    stdout differs:\n");
                problems.push_str(&diff(&expected, &actual));
            }
        }
    }
    if problems.is_empty() {
        return None;
    }
    if !herd.stderr.trim().is_empty() {
        problems.push_str("    herd's stderr:\n");
        problems.push_str(&indent_tail(&herd.stderr, 15));
    }
    if !ansible.stderr.trim().is_empty() {
        problems.push_str("    ansible's stderr:\n");
        problems.push_str(&indent_tail(&ansible.stderr, 15));
    }
    Some(problems)
}

/// Runs every line of one case and fails with all mismatches at once.
fn run_case(dir: &str) {
    let case_dir = cases_root().join(dir);
    let cases_file = case_dir.join("cases");
    let text = std::fs::read_to_string(&cases_file)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", cases_file.display()));
    let filter = std::env::var("HERD_CONFORMANCE_FILTER").unwrap_or_default();

    let mut selected = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if !format!("{dir}: {line}").contains(&filter) {
            continue;
        }
        let words =
            split_words(line).unwrap_or_else(|e| panic!("{}:{}: {e}", cases_file.display(), n + 1));
        assert!(
            words.len() >= 2 || words.first().is_some_and(|w| w == "inventory"),
            "{}:{}: expected `playbook ARGS` or `inventory ARGS`",
            cases_file.display(),
            n + 1
        );
        selected.push((n + 1, line.to_string(), words));
    }
    if selected.is_empty() {
        eprintln!("{dir}: no line matches HERD_CONFORMANCE_FILTER={filter:?}");
        return;
    }

    let ansible_bin = common::ansible_bin_dir();
    let inventory = find_inventory(&case_dir).unwrap_or_else(|e| panic!("{dir}: {e}"));
    let mut failures = Vec::new();
    for (lineno, line, words) in &selected {
        if let Some(problems) = check_line(&case_dir, &inventory, &ansible_bin, words) {
            failures.push(format!("  {dir}/cases:{lineno}: {line}\n{problems}"));
        }
    }
    if !failures.is_empty() {
        panic!(
            "\n{} of {} commands in {dir} differ from ansible (cwd tests/conformance/{dir}, -i {inventory}):\n\n{}",
            failures.len(),
            selected.len(),
            failures.join("\n")
        );
    }
}

#[cfg(test)]
mod harness {
    use super::*;

    #[test]
    fn words_split_like_a_shell() {
        assert_eq!(
            split_words(r#"playbook site.yml -l 'web:!web2' -e "a=\"b c\"" x\ y"#).unwrap(),
            vec![
                "playbook",
                "site.yml",
                "-l",
                "web:!web2",
                "-e",
                "a=\"b c\"",
                "x y"
            ]
        );
        assert_eq!(
            split_words("inventory -e ''").unwrap(),
            vec!["inventory", "-e", ""]
        );
        assert!(split_words("playbook 'open").is_err());
    }

    #[test]
    fn set_ordered_parts_are_sorted() {
        let a = "\nplaybook: s.yml\n\n  play #1 (web): W\tTAGS: [b,a]\n    pattern: ['web']\n    hosts (2):\n      web2\n      web1\n    tasks:\n      t\tTAGS: [b, a]\n";
        let b = "\nplaybook: s.yml\n\n  play #1 (web): W\tTAGS: [a,b]\n    pattern: ['web']\n    hosts (2):\n      web1\n      web2\n    tasks:\n      t\tTAGS: [b, a]\n";
        assert_eq!(normalize_listing(a), normalize_listing(b));
        // Task tags are printed sorted by ansible: their order is compared.
        let c = b.replace("t\tTAGS: [b, a]", "t\tTAGS: [a, b]");
        assert_ne!(normalize_listing(b), normalize_listing(&c));
        assert_eq!(
            sort_play_tags("  play #1 (x): y\tTAGS: []"),
            "  play #1 (x): y\tTAGS: []"
        );
    }

    #[test]
    fn json_compares_key_order() {
        assert_eq!(
            canonical_json(r#"{"a": 1, "b": [1, 2]}"#).unwrap(),
            canonical_json("{\n  \"a\": 1,\n  \"b\": [\n 1,\n 2]}").unwrap()
        );
        assert_ne!(
            canonical_json(r#"{"a": 1, "b": 2}"#).unwrap(),
            canonical_json(r#"{"b": 2, "a": 1}"#).unwrap()
        );
        assert_eq!(
            comparison_for(&["inventory".into(), "--host".into(), "x".into()]),
            Compare::Json
        );
        assert_eq!(
            comparison_for(&["inventory".into(), "--graph".into()]),
            Compare::Listing
        );
    }

    #[test]
    fn diff_marks_changed_lines() {
        let d = diff("a\nb\tc\nd\n", "a\nx\nd\n");
        assert!(d.contains("      - b\\tc\n"), "{d}");
        assert!(d.contains("      + x\n"), "{d}");
        assert!(d.contains("        a\n"), "{d}");
    }
}
