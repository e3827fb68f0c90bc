//! The human output against ansible-playbook 2.19's, captured from real
//! runs of equivalent playbooks (`tests/fixtures/report/*.txt`; the
//! playbooks are in `tests/fixtures/report/README.md`; times normalised,
//! and the `[ERROR]: Task failed` source excerpts Ansible 2.19 adds
//! before a failure left out).

use std::io::Write;
use std::sync::{Arc, Mutex};

use herd::report::{Event, HumanSink, ResultFormat, Settings, Sink, Status};
use serde_json::{Map, Value};

fn fixture(name: &str) -> String {
    let path = format!(
        "{}/tests/fixtures/report/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn res(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        other => panic!("not an object: {other}"),
    }
}

const T0: &str = "2026-01-01 00:00:00.000000";

fn cmd_result(cmd: &[&str], rc: i64, changed: bool) -> Map<String, Value> {
    let mut m = res(serde_json::json!({
        "changed": changed, "cmd": cmd, "delta": "0:00:00.001000", "end": T0,
        "msg": if rc == 0 { "" } else { "non-zero return code" }, "rc": rc, "start": T0,
        "stderr": "", "stderr_lines": [], "stdout": "", "stdout_lines": [],
    }));
    if rc != 0 {
        m.insert("failed".into(), Value::Bool(true));
    }
    m
}

fn task(title: &str, action: &str) -> Event {
    Event::TaskStart {
        title: title.into(),
        is_handler: false,
        check_mode: false,
        action: action.into(),
    }
}

fn result(host: &str, status: Status, result: Map<String, Value>) -> Event {
    Event::HostResult {
        host: host.into(),
        delegated_to: None,
        status,
        result,
        item: None,
        ignored: false,
        no_log: false,
    }
}

fn item(host: &str, status: Status, label: &str, result: Map<String, Value>) -> Event {
    Event::HostResult {
        host: host.into(),
        delegated_to: None,
        status,
        result,
        item: Some(label.into()),
        ignored: false,
        no_log: false,
    }
}

fn ignored(e: Event) -> Event {
    match e {
        Event::HostResult {
            host,
            delegated_to,
            status,
            result,
            item,
            no_log,
            ..
        } => Event::HostResult {
            host,
            delegated_to,
            status,
            result,
            item,
            ignored: true,
            no_log,
        },
        other => other,
    }
}

fn debug_msg(msg: &str) -> Map<String, Value> {
    res(serde_json::json!({
        "msg": msg, "changed": false, "failed": false, "_ansible_verbose_always": true
    }))
}

fn loop_summary(changed: bool, failed: bool) -> Map<String, Value> {
    res(serde_json::json!({
        "changed": changed, "failed": failed, "msg": "All items completed",
        "results": [{"item": "a"}, {"item": "b"}],
    }))
}

fn basic_events() -> Vec<Event> {
    let w = "web1";
    vec![
        Event::PlaybookStart {
            path: "basic.yml".into(),
        },
        Event::PlayStart {
            name: "Basic play".into(),
            hosts: vec![w.into()],
        },
        task("Say hello", "debug"),
        result(w, Status::Ok, debug_msg("hello world")),
        task("Show a var", "ansible.builtin.debug"),
        result(
            w,
            Status::Ok,
            res(serde_json::json!({
                "answer": 42, "changed": false, "failed": false, "_ansible_verbose_always": true
            })),
        ),
        task("Run true", "command"),
        result(w, Status::Ok, cmd_result(&["/bin/true"], 0, false)),
        task("Change something", "command"),
        result(w, Status::Changed, cmd_result(&["/bin/true"], 0, true)),
        task("Skip me", "command"),
        result(
            w,
            Status::Skipped,
            res(serde_json::json!({
                "changed": false, "false_condition": false,
                "skip_reason": "Conditional result was False", "skipped": true
            })),
        ),
        task("Loop", "command"),
        item(w, Status::Ok, "a", cmd_result(&["echo", "a"], 0, false)),
        item(w, Status::Changed, "b", cmd_result(&["echo", "b"], 0, true)),
        result(w, Status::Changed, loop_summary(true, false)),
        task("Loop skipped", "command"),
        item(w, Status::Changed, "a", cmd_result(&["echo", "a"], 0, true)),
        item(
            w,
            Status::Skipped,
            "b",
            res(serde_json::json!({"changed": false, "skipped": true, "item": "b"})),
        ),
        result(w, Status::Changed, loop_summary(true, false)),
        task("Fail but ignore", "command"),
        ignored(result(
            w,
            Status::Failed,
            cmd_result(&["/bin/false"], 1, true),
        )),
        task("Assert", "assert"),
        result(
            w,
            Status::Ok,
            res(serde_json::json!({
                "changed": false, "msg": "All assertions passed", "_ansible_verbose_always": true
            })),
        ),
        Event::HandlerStart {
            title: "Handle it".into(),
            action: "debug".into(),
        },
        result(w, Status::Ok, debug_msg("handled")),
        Event::PlaybookEnd,
    ]
}

const LONG: &str = "a-very-long-host-name-for-alignment.example.com";

fn fail_events() -> Vec<Event> {
    let w = "web1";
    let mut loop_b = cmd_result(&["test", "b", "=", "a"], 1, true);
    loop_b.insert("ansible_loop_var".into(), "item".into());
    loop_b.insert("item".into(), "b".into());
    let mut retry = cmd_result(&["/bin/false"], 1, true);
    retry.insert("attempts".into(), 2.into());
    vec![
        Event::PlaybookStart {
            path: "fail.yml".into(),
        },
        Event::PlayStart {
            name: "Failing play".into(),
            hosts: vec![w.into(), LONG.into()],
        },
        task("Fail on web1", "command"),
        result(
            LONG,
            Status::Skipped,
            res(serde_json::json!({"changed": false, "skipped": true})),
        ),
        result(w, Status::Failed, cmd_result(&["/bin/false"], 1, true)),
        task("Boom", "fail"),
        result(
            LONG,
            Status::Failed,
            res(serde_json::json!({"changed": false, "failed": true, "msg": "boom"})),
        ),
        Event::Rescued { host: LONG.into() },
        task("Rescued", "debug"),
        result(LONG, Status::Ok, debug_msg("rescued")),
        task("Loop failing", "command"),
        item(
            LONG,
            Status::Changed,
            "a",
            cmd_result(&["test", "a", "=", "a"], 0, true),
        ),
        item(LONG, Status::Failed, "b", loop_b),
        ignored(result(LONG, Status::Failed, loop_summary(true, true))),
        task("Retry", "command"),
        Event::Retrying {
            host: LONG.into(),
            title: "Retry".into(),
            retries_left: 2,
        },
        Event::Retrying {
            host: LONG.into(),
            title: "Retry".into(),
            retries_left: 1,
        },
        ignored(result(LONG, Status::Failed, retry)),
        task("Delegated", "command"),
        Event::HostResult {
            host: LONG.into(),
            delegated_to: Some(w.into()),
            status: Status::Ok,
            result: cmd_result(&["/bin/true"], 0, false),
            item: None,
            ignored: false,
            no_log: false,
        },
        Event::Warning {
            message: "Could not match supplied host pattern, ignoring: nomatch".into(),
        },
        Event::PlayStart {
            name: "Nobody".into(),
            hosts: vec![],
        },
        Event::NoHostsMatched,
        Event::PlaybookEnd,
    ]
}

fn diff_events() -> Vec<Event> {
    let diff = serde_json::json!({
        "before": "one\n2\nthree\n", "after": "one\ntwo\nthree\n",
        "before_header": "/tmp/rep/target.txt", "after_header": "/tmp/rep/target.txt",
    });
    vec![
        Event::PlayStart {
            name: "Diff play".into(),
            hosts: vec!["web1".into()],
        },
        task("Write file", "copy"),
        Event::Diff {
            host: "web1".into(),
            text: herd::report::render_diff(&diff),
        },
        result(
            "web1",
            Status::Changed,
            res(serde_json::json!({"changed": true, "dest": "/tmp/rep/target.txt", "diff": diff})),
        ),
        Event::PlaybookEnd,
    ]
}

fn small_events() -> Vec<Event> {
    let w = "web1";
    let mut echo = cmd_result(&["printf", "l1\\nl2"], 0, true);
    echo.insert("stdout".into(), "l1\nl2".into());
    echo.insert("stdout_lines".into(), serde_json::json!(["l1", "l2"]));
    echo.insert(
        "invocation".into(),
        serde_json::json!({"module_args": {"_raw_params": "printf 'l1\\nl2'"}}),
    );
    vec![
        Event::PlayStart {
            name: "Small".into(),
            hosts: vec![w.into()],
        },
        task("Echo", "command"),
        result(w, Status::Changed, echo),
        task("Skip me", "command"),
        result(
            w,
            Status::Skipped,
            res(serde_json::json!({
                "changed": false, "false_condition": false,
                "skip_reason": "Conditional result was False", "_ansible_no_log": false
            })),
        ),
        task("Quiet ok", "command"),
        result(w, Status::Ok, cmd_result(&["/bin/true"], 0, false)),
        task("Say", "debug"),
        result(w, Status::Ok, debug_msg("multi\nline")),
        Event::PlaybookEnd,
    ]
}

/// A `Write` whose bytes the test can read after the sink is done.
#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .map_err(|_| std::io::ErrorKind::Other)?
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Shared {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().expect("lock").clone()).expect("utf-8")
    }
}

/// The output and the warnings of the events.
fn run(events: &[Event], color: bool, verbosity: u8, settings: Settings) -> (String, String) {
    let err = Shared::default();
    let mut sink =
        HumanSink::new(Vec::new(), color, verbosity, settings).with_stderr(Box::new(err.clone()));
    for e in events {
        sink.event(e);
    }
    let out = String::from_utf8(sink.into_inner()).expect("utf-8");
    (out, err.text())
}

/// The output with the warnings among it, as `2>&1` captures it.
fn human(events: &[Event], color: bool) -> String {
    let mut sink = HumanSink::new(Vec::new(), color, 0, Settings::default());
    for e in events {
        sink.event(e);
    }
    String::from_utf8(sink.into_inner()).expect("utf-8")
}

#[track_caller]
fn same(got: &str, want: &str) {
    if got != want {
        panic!("output differs from Ansible's\n--- got ---\n{got}\n--- want ---\n{want}");
    }
}

#[test]
fn basic_run_as_ansible() {
    same(&human(&basic_events(), false), &fixture("basic.txt"));
}

#[test]
fn basic_run_in_colour_as_ansible() {
    same(&human(&basic_events(), true), &fixture("basic.color.txt"));
}

#[test]
fn failures_rescue_retries_delegation_and_recap_alignment() {
    let (out, err) = run(&fail_events(), false, 0, Settings::default());
    same(&out, &fixture("fail.txt"));
    assert_eq!(
        err,
        "[WARNING]: Could not match supplied host pattern, ignoring: nomatch\n"
    );
}

#[test]
fn failures_in_colour() {
    same(&human(&fail_events(), true), &fixture("fail.color.txt"));
}

#[test]
fn diff_as_ansible() {
    same(&human(&diff_events(), false), &fixture("diff.txt"));
    same(&human(&diff_events(), true), &fixture("diff.color.txt"));
}

#[test]
fn unreachable_as_ansible() {
    let events = vec![
        Event::PlayStart {
            name: "Unreachable play".into(),
            hosts: vec!["ghost".into()],
        },
        task("Ping", "ping"),
        result(
            "ghost",
            Status::Unreachable,
            res(serde_json::json!({
                "changed": false, "unreachable": true,
                "msg": "Task failed: Failed to connect to the host via ssh: ssh: connect to host 127.0.0.1 port 1: Connection refused"
            })),
        ),
        Event::PlaybookEnd,
    ];
    same(&human(&events, false), &fixture("unreach.txt"));
}

#[test]
fn verbose_shows_results_then_the_task_times() {
    let (out, _) = run(&small_events(), false, 1, Settings::default());
    let want = fixture("small.v.txt");
    let Some(rest) = out.strip_prefix(&want) else {
        panic!("output differs from Ansible's\n--- got ---\n{out}\n--- want ---\n{want}");
    };
    // herd adds the slowest tasks, as `profile_tasks` lists them.
    let lines: Vec<&str> = rest.lines().collect();
    assert_eq!(lines[0], "=".repeat(79));
    assert_eq!(lines.len(), 5, "{rest}");
    assert!(
        lines[1..].iter().all(|l| l.len() == 79 && l.ends_with('s')),
        "{rest}"
    );
}

#[test]
fn yaml_result_format() {
    let settings = Settings {
        result_format: ResultFormat::Yaml,
        ..Settings::default()
    };
    let (out, _) = run(&small_events(), false, 1, settings);
    let want = fixture("small.yaml.txt");
    assert!(
        out.starts_with(&want),
        "--- got ---\n{out}\n--- want ---\n{want}"
    );
}

#[test]
fn hiding_ok_and_skipped_hosts() {
    let settings = Settings {
        display_ok_hosts: false,
        display_skipped_hosts: false,
        ..Settings::default()
    };
    let (out, _) = run(&small_events(), false, 0, settings);
    same(&out, &fixture("small.hide.txt"));
}

#[test]
fn log_file_lines_have_no_colour_and_a_prefix() {
    let mut sink = HumanSink::new(Vec::new(), true, 0, Settings::default()).log_file();
    for e in basic_events() {
        sink.event(&e);
    }
    let out = String::from_utf8(sink.into_inner()).expect("utf-8");
    assert!(!out.contains('\x1b'));
    let first = out.lines().next().unwrap_or_default();
    assert!(
        first.contains(" n=ansible | PLAY [Basic play] ***"),
        "{first}"
    );
}

#[test]
fn no_log_items_are_censored() {
    let events = vec![
        Event::PlayStart {
            name: "p".into(),
            hosts: vec!["h".into()],
        },
        task("t", "command"),
        Event::HostResult {
            host: "h".into(),
            delegated_to: None,
            status: Status::Ok,
            result: res(
                serde_json::json!({"censored": "the output has been hidden due to the fact that 'no_log: true' was specified for this result"}),
            ),
            item: Some("secret".into()),
            ignored: false,
            no_log: true,
        },
    ];
    let out = human(&events, false);
    assert!(
        out.ends_with("ok: [h] => (item=(censored due to no_log))\n"),
        "{out}"
    );
}

#[test]
fn live_line_leaves_the_output_alone_off_a_terminal() {
    let sink = HumanSink::new(Vec::new(), false, 0, Settings::default());
    let mut live = herd::report::LiveSink::new(sink);
    for e in basic_events() {
        live.event(&e);
    }
    let out = live
        .into_inner()
        .map(HumanSink::into_inner)
        .unwrap_or_default();
    same(
        &String::from_utf8(out).expect("utf-8"),
        &fixture("basic.txt"),
    );
}

#[test]
fn failures_to_stderr_when_asked() {
    let settings = Settings {
        display_failed_stderr: true,
        ..Settings::default()
    };
    let (out, err) = run(&fail_events(), false, 0, settings);
    assert!(!out.contains("fatal:"), "{out}");
    assert!(err.starts_with("fatal: [web1]: FAILED! => {"), "{err}");
}

#[test]
fn banners_count_wide_characters_twice_and_no_hosts_left() {
    let events = vec![
        Event::PlayStart {
            name: "配置".into(),
            hosts: vec![],
        },
        Event::NoHostsRemaining,
    ];
    let out = human(&events, false);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[1], format!("PLAY [配置] {}", "*".repeat(79 - 11)));
    assert_eq!(
        lines[3],
        format!("NO MORE HOSTS LEFT {}", "*".repeat(79 - 18))
    );
}

fn loop_events() -> Vec<Event> {
    let w = "web1";
    let debug_item = |i: &str| {
        res(serde_json::json!({
            "msg": format!("item {i}"), "changed": false, "failed": false,
            "ansible_loop_var": "item", "item": i, "_ansible_verbose_always": true,
            "_ansible_item_label": i,
        }))
    };
    let skip_item = res(serde_json::json!({
        "ansible_loop_var": "item", "changed": false, "false_condition": false, "item": "a",
        "skip_reason": "Conditional result was False", "skipped": true,
    }));
    vec![
        Event::PlayStart {
            name: "Loops".into(),
            hosts: vec![w.into()],
        },
        task("Debug loop", "debug"),
        item(w, Status::Ok, "a", debug_item("a")),
        item(w, Status::Ok, "b", debug_item("b")),
        result(
            w,
            Status::Ok,
            res(
                serde_json::json!({"changed": false, "msg": "All items completed",
                "results": [debug_item("a"), debug_item("b")]}),
            ),
        ),
        task("Skip loop", "command"),
        item(w, Status::Skipped, "a", skip_item.clone()),
        result(
            w,
            Status::Skipped,
            res(
                serde_json::json!({"changed": false, "msg": "All items skipped",
                "results": [skip_item], "skipped": true}),
            ),
        ),
        task("Long failure message", "fail"),
        ignored(result(
            w,
            Status::Failed,
            res(serde_json::json!({"changed": false, "failed": true,
                "msg": "This is a rather long failure message that goes well past the eighty column limit of PyYAML's emitter, to see folding"})),
        )),
        task("Nested", "set_fact"),
        result(
            w,
            Status::Ok,
            res(serde_json::json!({"changed": false, "ansible_facts": {
                "nested": {"a": {"b": [1, {"c": "x y"}]}, "key with: colon": "v"}}})),
        ),
        Event::PlaybookEnd,
    ]
}

#[test]
fn loops_verbose_as_ansible() {
    let (out, _) = run(&loop_events(), false, 1, Settings::default());
    let want = fixture("loop.v.txt");
    assert!(
        out.starts_with(&want),
        "--- got ---\n{out}\n--- want ---\n{want}"
    );
}

#[test]
fn loops_and_folded_lines_in_yaml_as_ansible() {
    let settings = Settings {
        result_format: ResultFormat::Yaml,
        ..Settings::default()
    };
    let (out, _) = run(&loop_events(), false, 0, settings);
    same(&out, &fixture("loop.yaml.txt"));
}

#[test]
fn diffs_as_difflib_writes_them() {
    let path = format!(
        "{}/tests/fixtures/report/diffs.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let cases: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(path).expect("fixture")).expect("json");
    for case in cases {
        let d = serde_json::json!({
            "before": case["before"], "after": case["after"],
            "before_header": "/f", "after_header": "/f",
        });
        let want = case["want"].as_str().unwrap_or_default();
        same(&herd::report::render_diff(&d), want);
    }
}

#[test]
fn includes_as_ansible() {
    let w = "web1";
    let skipped_item = |i: &str| {
        item(
            LONG,
            Status::Skipped,
            i,
            res(serde_json::json!({"changed": false, "skipped": true})),
        )
    };
    let events = vec![
        Event::PlayStart {
            name: "Includes".into(),
            hosts: vec![LONG.into(), w.into()],
        },
        task("Include", "include_tasks"),
        Event::Included {
            file: "/tmp/rep/inc.yml".into(),
            hosts: vec![w.into(), LONG.into()],
            item: None,
        },
        task("debug", "debug"),
        result(w, Status::Ok, debug_msg("in 1")),
        result(LONG, Status::Ok, debug_msg("in 1")),
        task("Include loop", "include_tasks"),
        skipped_item("1"),
        skipped_item("2"),
        result(
            LONG,
            Status::Skipped,
            res(serde_json::json!({"changed": false, "skipped": true, "results": []})),
        ),
        Event::Included {
            file: "/tmp/rep/inc.yml".into(),
            hosts: vec![w.into()],
            item: Some("1".into()),
        },
        Event::Included {
            file: "/tmp/rep/inc.yml".into(),
            hosts: vec![w.into()],
            item: Some("2".into()),
        },
        task("debug", "debug"),
        result(w, Status::Ok, debug_msg("in 1")),
        task("debug", "debug"),
        result(w, Status::Ok, debug_msg("in 2")),
        Event::PlaybookEnd,
    ];
    same(&human(&events, true), &fixture("include.color.txt"));
}
