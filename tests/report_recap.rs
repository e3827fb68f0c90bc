//! Recap counting as ansible-core 2.19 counts, and exit codes.

use herd::report::{Event, HostStats, Recap, Status};
use serde_json::{json, Map, Value};

fn r(v: Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap_or_default()
}

fn hr(host: &str, status: Status, item: Option<&str>, ignored: bool) -> Event {
    Event::HostResult {
        host: host.into(),
        delegated_to: None,
        status,
        result: r(json!({"changed": status == Status::Changed})),
        item: item.map(str::to_string),
        ignored,
        no_log: false,
    }
}

fn recap(events: &[Event]) -> Recap {
    let mut recap = Recap::new();
    for e in events {
        recap.record(e);
    }
    recap
}

#[test]
fn a_loop_counts_once_per_task() {
    let rc = recap(&[
        hr("h", Status::Ok, Some("a"), false),
        hr("h", Status::Changed, Some("b"), false),
        hr("h", Status::Changed, None, false),
    ]);
    assert_eq!(
        rc.stats("h"),
        Some(HostStats {
            ok: 1,
            changed: 1,
            ..HostStats::default()
        })
    );
    assert_eq!(rc.exit_code(), 0);
}

#[test]
fn an_ignored_failure_is_ok_and_ignored_not_failed() {
    let mut failed_changed = hr("h", Status::Failed, None, true);
    if let Event::HostResult { result, .. } = &mut failed_changed {
        result.insert("changed".into(), Value::Bool(true));
    }
    let rc = recap(&[failed_changed]);
    assert_eq!(
        rc.stats("h"),
        Some(HostStats {
            ok: 1,
            changed: 1,
            ignored: 1,
            ..HostStats::default()
        })
    );
    assert_eq!(rc.exit_code(), 0);
}

#[test]
fn a_rescued_failure_is_rescued_not_failed() {
    let rc = recap(&[
        hr("h", Status::Failed, None, false),
        Event::Rescued { host: "h".into() },
        hr("h", Status::Ok, None, false),
    ]);
    assert_eq!(
        rc.stats("h"),
        Some(HostStats {
            ok: 1,
            rescued: 1,
            ..HostStats::default()
        })
    );
    assert_eq!(rc.exit_code(), 0);
    // Told before the failure, it counts the same.
    let rc = recap(&[
        Event::Rescued { host: "h".into() },
        hr("h", Status::Failed, None, false),
    ]);
    assert_eq!(rc.stats("h").map(|s| (s.failed, s.rescued)), Some((0, 1)));
}

#[test]
fn exit_codes() {
    assert_eq!(
        recap(&[hr("a", Status::Failed, None, false)]).exit_code(),
        2
    );
    assert_eq!(
        recap(&[
            hr("a", Status::Failed, None, false),
            hr("b", Status::Unreachable, None, false),
        ])
        .exit_code(),
        4
    );
    // ignore_unreachable: ok and ignored.
    let rc = recap(&[hr("b", Status::Unreachable, None, true)]);
    assert_eq!(rc.exit_code(), 0);
    assert_eq!(rc.stats("b").map(|s| (s.ok, s.ignored)), Some((1, 1)));
    assert_eq!(
        recap(&[hr("a", Status::Skipped, None, false)]).exit_code(),
        0
    );
}

#[test]
fn recap_lines_aligned_as_ansible() {
    let long = "a-very-long-host-name-for-alignment.example.com";
    let rc = recap(&[
        hr("web1", Status::Failed, None, false),
        hr(long, Status::Changed, None, false),
        hr(long, Status::Skipped, None, false),
    ]);
    assert_eq!(
        rc.lines(false),
        format!(
            "{long} : ok=1    changed=1    unreachable=0    failed=0    skipped=1    rescued=0    ignored=0   \n\
             web1                       : ok=0    changed=0    unreachable=0    failed=1    skipped=0    rescued=0    ignored=0   \n"
        )
    );
    assert_eq!(
        rc.lines(true).lines().nth(1),
        Some("\x1b[0;31mweb1\x1b[0m                       : ok=0    changed=0    unreachable=0    \x1b[0;31mfailed=1   \x1b[0m skipped=0    rescued=0    ignored=0   ")
    );
}

#[test]
fn output_keeps_the_recap_beside_the_boxed_sinks() {
    let mut out = herd::report::Output::new(Box::new(herd::report::Tee(Vec::new())));
    use herd::report::Sink;
    out.event(&hr("a", Status::Unreachable, None, false));
    assert_eq!(out.exit_code(), 4);
}
