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

/// `herd playbook --format`: `json` writes the document, `human` the
/// default output even when `stdout_callback` names the JSON callback,
/// which alone selects the document. A loop's entry has its items, each
/// with its label and no_log flag, as ansible-core's results have them.
#[test]
fn format_flag_chooses_the_output() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("site.yml"),
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - name: Say\n      debug: {msg: hi}\n    - name: Loop\n      debug: {msg: '{{ item.n }}'}\n      loop: [{n: 1}, {n: 2}]\n      loop_control: {label: '{{ item.n }}'}\n",
    )
    .expect("playbook");
    let run = |args: &[&str], callback: Option<&str>| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_herd"));
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("ANSIBLE_") {
                cmd.env_remove(k);
            }
        }
        cmd.current_dir(dir.path())
            .args(["playbook", "-i", "localhost,", "-c", "local", "site.yml"])
            .args(args);
        if let Some(c) = callback {
            cmd.env("ANSIBLE_STDOUT_CALLBACK", c);
        }
        let out = cmd.output().expect("run herd");
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf-8")
    };
    let doc = |text: &str| -> Value { serde_json::from_str(text).expect("one JSON document") };

    let json = doc(&run(&["--format", "json"], None));
    let tasks = &json["plays"][0]["tasks"];
    assert_eq!(tasks[0]["task"]["name"], "Say");
    let say = &tasks[0]["hosts"]["localhost"];
    assert_eq!(say["msg"], "hi");
    assert_eq!(say["action"], "debug");
    assert_eq!(say["_ansible_no_log"], false);
    let lp = &tasks[1]["hosts"]["localhost"];
    assert!(lp.get("_ansible_no_log").is_none(), "{lp}");
    let items = lp["results"].as_array().expect("loop results");
    assert_eq!(items.len(), 2);
    assert_eq!(items[1]["_ansible_item_label"], 2);
    assert_eq!(items[1]["_ansible_no_log"], false);
    assert_eq!(items[1]["failed"], false);
    assert_eq!(json["stats"]["localhost"]["ok"], 2);

    assert!(doc(&run(&[], Some("ansible.posix.json")))["plays"].is_array());
    let human = run(&["--format", "human"], Some("json"));
    assert!(human.contains("PLAY RECAP"), "{human}");
    assert!(run(&[], None).contains("TASK [Say]"));
}
