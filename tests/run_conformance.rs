//! Run conformance: every case directory under tests/run_conformance/ is
//! run by ansible-playbook (the oracle) and by `herd playbook`, each on
//! fresh per-host directories reached over a real loopback sshd, and the
//! two runs must agree on: the PLAY RECAP counters, the ordered per-host
//! task statuses (with loop items, retries, `...ignoring`), the printed
//! result values of `ok` results (debug `msg`/vars), the exit code, and
//! the files left in every host's directory and in the controller-side
//! directory (`ctl`, given as an extra var).
//!
//! A case directory holds `site.yml` and whatever it needs (roles,
//! templates, files, group_vars), and optionally:
//! - `hosts`: one line per host, `name [var=value ...]` (default h1, h2);
//! - `runs`: one line per run of the playbook (on the same directories),
//!   the extra command-line arguments, `-` for none (default one run);
//! - `converges`: the last run must change nothing under both tools;
//! - `seed/`: copied into every host directory before the first run;
//! - `known-differences`: `field: reason` lines naming compared fields
//!   (recap, tasks, values, exit, files) where herd is known to differ,
//!   each documented in tests/run_conformance/README.md. Such a field's
//!   mismatch is accepted, and it must still differ (so fixed
//!   differences get removed).
//!
//! Never skipped: missing ansible or sshd is a failure pointing at
//! scripts/test.sh.

mod common;
mod support;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use support::Sshd;

const FIELDS: &[&str] = &["exit", "recap", "tasks", "values", "files"];

fn case_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/run_conformance")
        .join(name)
}

fn herdtest_ids() -> (u32, u32) {
    let id = |flag: &str| -> u32 {
        let out = Command::new("id")
            .args([flag, support::USER])
            .output()
            .expect("id");
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .expect("numeric id")
    };
    (id("-u"), id("-g"))
}

fn copy_tree(from: &Path, to: &Path, owner: Option<(u32, u32)>) {
    std::fs::create_dir_all(to).expect("mkdir");
    if let Some((u, g)) = owner {
        std::os::unix::fs::chown(to, Some(u), Some(g)).expect("chown");
    }
    for entry in std::fs::read_dir(from).expect("read case dir").flatten() {
        let src = entry.path();
        let dst = to.join(entry.file_name());
        if src.is_dir() {
            copy_tree(&src, &dst, owner);
        } else {
            std::fs::copy(&src, &dst).expect("copy fixture");
            if let Some((u, g)) = owner {
                std::os::unix::fs::chown(&dst, Some(u), Some(g)).expect("chown");
            }
        }
    }
}

/// One tool's view of a whole case.
#[derive(Default)]
struct Outcome {
    exit: Vec<String>,
    recap: Vec<String>,
    tasks: Vec<String>,
    values: Vec<String>,
    files: Vec<String>,
    transcripts: String,
}

impl Outcome {
    fn field(&self, name: &str) -> &[String] {
        match name {
            "exit" => &self.exit,
            "recap" => &self.recap,
            "tasks" => &self.tasks,
            "values" => &self.values,
            _ => &self.files,
        }
    }
}

/// Parses the default callback's output into per-host task statuses,
/// result values and recap lines.
fn parse_output(run: usize, stdout: &str, out: &mut Outcome) {
    let mut task = String::from("-");
    let mut per_host: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut values: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut lines = stdout.lines().peekable();
    let mut in_recap = false;
    while let Some(line) = lines.next() {
        if in_recap {
            if let Some((host, counts)) = line.split_once(" : ") {
                let counts: Vec<&str> = counts.split_whitespace().collect();
                out.recap
                    .push(format!("run {run} {} {}", host.trim(), counts.join(" ")));
            }
            continue;
        }
        if line.starts_with("PLAY RECAP") {
            in_recap = true;
            continue;
        }
        for prefix in ["TASK [", "RUNNING HANDLER ["] {
            if let Some(rest) = line.strip_prefix(prefix) {
                if let Some(end) = rest.rfind("] ") {
                    let kind = if prefix.starts_with("TASK") {
                        "TASK"
                    } else {
                        "HANDLER"
                    };
                    task = format!("{kind} [{}]", &rest[..end]);
                }
            }
        }
        if let Some(rest) = line.strip_prefix("FAILED - RETRYING: [") {
            if let Some((host, tail)) = rest.split_once("]: ") {
                let left = tail.rsplit_once('(').map(|(_, l)| l).unwrap_or("");
                per_host
                    .entry(host.to_string())
                    .or_default()
                    .push(format!("{task} retrying ({left}"));
            }
            continue;
        }
        if line.trim() == "...ignoring" {
            // With forks, ansible-playbook prints this line after the
            // failure of whichever host's result came first, so it is
            // counted per task rather than tied to a host.
            per_host
                .entry("(any host)".to_string())
                .or_default()
                .push(format!("{task} ...ignoring"));
            continue;
        }
        if let Some(rest) = line.strip_prefix("included: ") {
            if let Some((file, hosts)) = rest.rsplit_once(" for ") {
                let base = file.rsplit('/').next().unwrap_or(file);
                // `for h1, h3, h2 => (item=x)`: the item belongs to every host
                // listed, and the host order follows result arrival.
                let (hosts, item) = match hosts.split_once(" => ") {
                    Some((hosts, item)) => (hosts, format!(" {item}")),
                    None => (hosts, String::new()),
                };
                for h in hosts.split(", ") {
                    per_host
                        .entry(h.trim().to_string())
                        .or_default()
                        .push(format!("included {base}{item}"));
                }
            }
            continue;
        }
        let Some((status, rest)) = line.split_once(": [") else {
            continue;
        };
        if !["ok", "changed", "skipping", "failed", "fatal"].contains(&status) {
            continue;
        }
        let Some((target, tail)) = rest.split_once(']') else {
            continue;
        };
        let host = target.split(" -> ").next().unwrap_or(target).to_string();
        let delegated = target
            .split_once(" -> ")
            .map(|(_, d)| format!(" -> {d}"))
            .unwrap_or_default();
        let item = tail
            .find("(item=")
            .map(|i| {
                let s = &tail[i..];
                // The item label ends at the `)` before ` => ` or the line end.
                let end = s.find(") =>").map(|e| e + 1).unwrap_or(s.len());
                format!(" {}", &s[..end])
            })
            .unwrap_or_default();
        per_host
            .entry(host.clone())
            .or_default()
            .push(format!("{task} {status}{delegated}{item}"));
        // Values of ok results printed as a JSON block (debug and friends).
        if status == "ok" && tail.ends_with("=> {") {
            let mut block = String::from("{");
            for l in lines.by_ref() {
                block.push('\n');
                block.push_str(l);
                if l == "}" {
                    break;
                }
            }
            let value = match serde_json::from_str::<serde_json::Value>(&block) {
                Ok(serde_json::Value::Object(mut map)) => {
                    for k in ["ansible_loop_var", "ansible_index_var", "item", "changed"] {
                        map.remove(k);
                    }
                    map.retain(|k, _| !k.starts_with("_ansible"));
                    serde_json::Value::Object(map).to_string()
                }
                _ => block.replace('\n', " "),
            };
            values
                .entry(host)
                .or_default()
                .push(format!("{task}{item} {value}"));
        }
    }
    for (h, evs) in per_host {
        for e in evs {
            out.tasks.push(format!("run {run} {h}: {e}"));
        }
    }
    for (h, vs) in values {
        for v in vs {
            out.values.push(format!("run {run} {h}: {v}"));
        }
    }
}

fn tree(root: &Path, rel: &Path, out: &mut Vec<String>, prefix: &str, base: &str) {
    let Ok(rd) = std::fs::read_dir(root.join(rel)) else {
        return;
    };
    let mut entries: Vec<_> = rd.flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let r = rel.join(e.file_name());
        let Ok(meta) = std::fs::symlink_metadata(e.path()) else {
            continue;
        };
        let mode = meta.permissions().mode() & 0o7777;
        let name = format!("{prefix}/{}", r.display());
        if meta.file_type().is_symlink() {
            let target = std::fs::read_link(e.path())
                .map(|t| t.display().to_string().replace(base, "<BASE>"))
                .unwrap_or_default();
            out.push(format!("{name} link -> {target}"));
        } else if meta.is_dir() {
            out.push(format!("{name} dir {mode:04o} uid={}", meta.uid()));
            tree(root, &r, out, prefix, base);
        } else {
            let text = std::fs::read(e.path()).unwrap_or_default();
            let text = String::from_utf8_lossy(&text).replace(base, "<BASE>");
            out.push(format!(
                "{name} file {mode:04o} uid={} {:?}",
                meta.uid(),
                text
            ));
        }
    }
}

fn read_lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .map(|t| {
            t.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(String::from)
                .collect()
        })
        .unwrap_or_default()
}

fn hosts_of(case: &Path) -> Vec<(String, String)> {
    let lines = read_lines(&case.join("hosts"));
    if lines.is_empty() {
        return vec![("h1".into(), String::new()), ("h2".into(), String::new())];
    }
    lines
        .into_iter()
        .map(|l| match l.split_once(' ') {
            Some((h, v)) => (h.to_string(), v.to_string()),
            None => (l, String::new()),
        })
        .collect()
}

fn run_tool(tool: &str, case: &Path, sshd: &Sshd) -> Outcome {
    let work = tempfile::Builder::new()
        .prefix(&format!("herd-conf-{tool}-"))
        .tempdir()
        .expect("tempdir");
    let w = work.path();
    // sshd's user must reach the host directories below this one.
    std::fs::set_permissions(w, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    copy_tree(case, &w.join("project"), None);
    let owner = herdtest_ids();
    let base = w.join("hosts");
    std::fs::create_dir_all(&base).expect("mkdir hosts");
    std::os::unix::fs::chown(&base, Some(owner.0), Some(owner.1)).expect("chown");
    let hosts = hosts_of(case);
    let mut inv = String::from("[fleet]\n");
    for (h, vars) in &hosts {
        let root = base.join(h);
        std::fs::create_dir_all(&root).expect("mkdir host");
        std::os::unix::fs::chown(&root, Some(owner.0), Some(owner.1)).expect("chown");
        if case.join("seed").is_dir() {
            copy_tree(&case.join("seed"), &root, Some(owner));
        }
        inv.push_str(&format!(
            "{h} {} ansible_python_interpreter=/usr/bin/python3 root={} {vars}\n",
            sshd.inventory_vars(),
            root.display()
        ));
    }
    let ctl = w.join("ctl");
    std::fs::create_dir_all(&ctl).expect("mkdir ctl");
    std::fs::write(w.join("project/hosts.ini"), inv).expect("inventory");
    let mut runs = read_lines(&case.join("runs"));
    if runs.is_empty() {
        runs.push("-".into());
    }
    let base_str = w.display().to_string();
    let mut out = Outcome::default();
    for (i, args) in runs.iter().enumerate() {
        let extra: Vec<&str> = args.split_whitespace().filter(|a| *a != "-").collect();
        let mut cmd = if tool == "ansible" {
            common::ansible_command("ansible-playbook")
        } else {
            let mut c = Command::new(env!("CARGO_BIN_EXE_herd"));
            for (k, _) in std::env::vars_os() {
                if k.to_string_lossy().starts_with("ANSIBLE_") {
                    c.env_remove(k);
                }
            }
            c.env("ANSIBLE_NOCOLOR", "1").arg("playbook");
            c
        };
        cmd.current_dir(w.join("project"))
            .args(["-i", "hosts.ini", "site.yml", "-e"])
            .arg(format!("ctl={}", ctl.display()))
            .args(&extra);
        let res = cmd
            .output()
            .unwrap_or_else(|e| panic!("could not run {tool}: {e}: run scripts/test.sh"));
        let stdout = String::from_utf8_lossy(&res.stdout).replace(&base_str, "<BASE>");
        let stderr = String::from_utf8_lossy(&res.stderr).replace(&base_str, "<BASE>");
        let _ = writeln!(
            out.transcripts,
            "----- {tool} run {i} ({args}) exit {:?}\n{stdout}\n[stderr]\n{stderr}",
            res.status.code()
        );
        out.exit
            .push(format!("run {i} exit {:?}", res.status.code()));
        parse_output(i, &stdout, &mut out);
    }
    for (h, _) in &hosts {
        tree(&base.join(h), Path::new(""), &mut out.files, h, &base_str);
    }
    tree(&ctl, Path::new(""), &mut out.files, "ctl", &base_str);
    out
}

fn diff(a: &[String], b: &[String]) -> String {
    let a = a.join("\n") + "\n";
    let b = b.join("\n") + "\n";
    similar::TextDiff::from_lines(&a, &b)
        .unified_diff()
        .header("ansible-playbook", "herd")
        .to_string()
}

fn check(name: &str) {
    support::require_environment();
    common::ansible_bin_dir();
    let case = case_dir(name);
    assert!(case.join("site.yml").is_file(), "{name}: no site.yml");
    let known: BTreeMap<String, String> = read_lines(&case.join("known-differences"))
        .into_iter()
        .filter_map(|l| {
            l.split_once(':')
                .map(|(f, r)| (f.trim().to_string(), r.trim().to_string()))
        })
        .collect();
    for f in known.keys() {
        assert!(FIELDS.contains(&f.as_str()), "{name}: unknown field {f}");
    }
    let sshd = Sshd::start();
    let ansible = run_tool("ansible", &case, &sshd);
    let herd = run_tool("herd", &case, &sshd);
    assert!(
        !ansible.recap.is_empty(),
        "{name}: ansible-playbook printed no recap:\n{}",
        ansible.transcripts
    );
    assert!(
        !ansible.tasks.is_empty(),
        "{name}: no task status parsed from ansible-playbook's output:\n{}",
        ansible.transcripts
    );
    let mut report = String::new();
    if case.join("converges").exists() {
        // The last run finds nothing to do, under both tools.
        for (tool, o) in [("ansible-playbook", &ansible), ("herd", &herd)] {
            let last = format!("run {} ", o.exit.len().saturating_sub(1));
            for line in o.recap.iter().filter(|l| l.starts_with(&last)) {
                if !line.contains("changed=0") || !line.contains("failed=0") {
                    let _ = writeln!(report, "== {tool} did not converge: {line}");
                }
            }
        }
    }
    for field in FIELDS {
        let (a, h) = (ansible.field(field), herd.field(field));
        let differs = a != h;
        match (differs, known.get(*field)) {
            (true, None) => {
                let _ = writeln!(report, "== {field} differs:\n{}", diff(a, h));
            }
            (false, Some(reason)) => {
                let _ = writeln!(
                    report,
                    "== {field} is listed in known-differences ({reason}) but now agrees: remove it"
                );
            }
            _ => {}
        }
    }
    assert!(
        report.is_empty(),
        "case {name}: herd disagrees with ansible-playbook\n{report}\n\
         ======== transcripts\n{}\n{}",
        ansible.transcripts,
        herd.transcripts
    );
}

macro_rules! cases {
    ($($f:ident => $d:literal,)*) => {
        $(#[test] fn $f() { check($d); })*

        /// Every case directory has its test function.
        #[test]
        fn every_case_directory_is_listed() {
            let listed = [$($d),*];
            let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/run_conformance");
            for e in std::fs::read_dir(dir).expect("case directory").flatten() {
                if e.path().is_dir() {
                    let n = e.file_name().to_string_lossy().into_owned();
                    assert!(listed.contains(&n.as_str()), "case {n} has no test function");
                }
            }
            assert!(listed.len() >= 20);
        }
    };
}

cases! {
    c01_when_loops => "01-when-loops",
    c02_register_changed_failed_when => "02-register-changed-failed-when",
    c03_until_retries => "03-until-retries",
    c04_handlers => "04-handlers",
    c05_block_rescue_always => "05-block-rescue-always",
    c06_tags => "06-tags",
    c07_check_diff => "07-check-diff",
    c08_no_log => "08-no-log",
    c09_set_fact_assert_fail => "09-set-fact-assert-fail",
    c10_includes => "10-includes",
    c11_roles => "11-roles",
    c12_delegate_run_once => "12-delegate-run-once",
    c13_serial_max_fail => "13-serial-max-fail",
    c14_any_errors_fatal => "14-any-errors-fatal",
    c15_file_modules_drift => "15-file-modules-drift",
    c16_command_creates_removes => "16-command-creates-removes",
    c17_meta_end_host => "17-meta-end-host",
    c18_meta_end_play => "18-meta-end-play",
    c19_gather_facts => "19-gather-facts",
    c20_loop_register => "20-loop-register",
    c21_failed_host_continues => "21-failed-host-continues",
    c22_templated_trailing_newline => "22-templated-trailing-newline",
    c23_role_handlers => "23-role-handlers",
    c24_failing_rescue => "24-failing-rescue",
    c25_include_role_handler_vars => "25-include-role-handler-vars",
    c26_serial_batches => "26-serial-batches",
    c27_vars_precedence => "27-vars-precedence",
    c28_check_mode_handlers => "28-check-mode-handlers",
    c29_loops_until_and_failures => "29-loops-until-and-failures",
}
