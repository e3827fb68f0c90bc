//! Filters and tests checked against ansible-core 2.19 itself: each line
//! of `template_oracle.cases` was rendered by Ansible's `template` module
//! into `template_oracle.expected` (segments split by `@@N@@` markers).

use herd::template::{Templar, TemplateFileOptions, Vars};

fn segments(text: &str) -> Vec<(usize, String)> {
    let mut out: Vec<(usize, String)> = Vec::new();
    for line in text.split_inclusive('\n') {
        let t = line.trim_end_matches('\n');
        if let Some(n) = t.strip_prefix("@@").and_then(|r| r.strip_suffix("@@")) {
            if let Ok(n) = n.parse() {
                out.push((n, String::new()));
                continue;
            }
        }
        if let Some(last) = out.last_mut() {
            last.1.push_str(line);
        }
    }
    out
}

#[test]
fn filters_and_tests_match_ansible() {
    let cases = include_str!("template_oracle.cases");
    let expected = include_str!("template_oracle.expected");
    let mut src = String::new();
    for (i, line) in cases.lines().enumerate() {
        src.push_str(&format!("@@{i}@@\n{line}\n"));
    }
    let t = Templar::new();
    let mut failures = Vec::new();
    let want = segments(expected);
    for (i, line) in cases.lines().enumerate() {
        // The expected text comes from one template holding every case, so
        // a case's newline is never the template's last: a marker follows.
        let one = format!("@@{i}@@\n{line}\n@@{}@@\n", i + 1);
        let got =
            match t.render_template_file(&one, &Vars::default(), &TemplateFileOptions::default()) {
                Ok(s) => s,
                Err(e) => format!("ERROR {e}"),
            };
        let got = segments(&got)
            .into_iter()
            .find(|(n, _)| *n == i)
            .map(|s| s.1)
            .unwrap_or(got);
        let exp = want
            .iter()
            .find(|(n, _)| *n == i)
            .map(|s| s.1.clone())
            .unwrap_or_default();
        if got != exp {
            failures.push(format!(
                "case {i}: {line}\n  ansible: {exp:?}\n  herd:    {got:?}"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
