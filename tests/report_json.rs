//! The JSON output against the `ansible.posix.json` callback's document
//! for the same run (`tests/fixtures/report/small.json.raw`), with ids,
//! times and the task paths herd does not know set aside.

use herd::report::{Event, JsonSink, Sink, Status};
use serde_json::{Map, Value};

fn fixture() -> Value {
    let path = format!(
        "{}/tests/fixtures/report/small.json.raw",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Ids, times and paths replaced by fixed values.
fn normalise(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.remove("path");
            for (k, x) in m.iter_mut() {
                match k.as_str() {
                    "id" => *x = Value::String("ID".into()),
                    "start" | "end" if x.as_str().is_some_and(|s| s.ends_with('Z')) => {
                        *x = Value::String("T".into())
                    }
                    _ => normalise(x),
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(normalise),
        _ => {}
    }
}

#[test]
fn shaped_as_the_json_callback() {
    let mut want = fixture();
    // Feed the results Ansible recorded, as the executor would give them.
    let mut events = vec![Event::PlayStart {
        name: "Small".into(),
        hosts: vec!["web1".into()],
    }];
    let tasks = want["plays"][0]["tasks"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for t in &tasks {
        let mut result: Map<String, Value> =
            t["hosts"]["web1"].as_object().cloned().unwrap_or_default();
        let action = result
            .remove("action")
            .and_then(|a| a.as_str().map(str::to_string))
            .unwrap_or_default();
        let status = if result.get("skipped") == Some(&Value::Bool(true)) {
            Status::Skipped
        } else if result.get("changed") == Some(&Value::Bool(true)) {
            Status::Changed
        } else {
            Status::Ok
        };
        events.push(Event::TaskStart {
            title: t["task"]["name"].as_str().unwrap_or_default().into(),
            is_handler: false,
            check_mode: false,
            action,
        });
        events.push(Event::HostResult {
            host: "web1".into(),
            delegated_to: None,
            status,
            result,
            item: None,
            ignored: false,
            no_log: false,
        });
    }
    events.push(Event::PlaybookEnd);
    let mut sink =
        JsonSink::new(Vec::new(), Some(4)).with_fixed_clock("2026-01-01T00:00:00.000000Z");
    for e in &events {
        sink.event(e);
    }
    let text = String::from_utf8(sink.into_inner()).expect("utf-8");
    let mut got: Value = serde_json::from_str(&text).expect("one JSON document");
    normalise(&mut got);
    normalise(&mut want);
    assert_eq!(got, want);
    // Written as json.dumps(indent=4, sort_keys=True) writes it.
    assert!(text.starts_with(
        "{\n    \"custom_stats\": {},\n    \"global_custom_stats\": {},\n    \"plays\": [\n"
    ));
}
