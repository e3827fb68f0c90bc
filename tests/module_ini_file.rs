//! ini_file against the local host. The expected files and messages are
//! what community.general.ini_file gives for the same steps.

mod module_support;

use module_support::{mode_of, Env, NASTY};
use serde_json::json;

#[tokio::test]
async fn steps_match_community_general() {
    let env = Env::new();
    let p = env.path(&format!("{NASTY}.ini"));
    std::fs::write(
        &p,
        "[main]\n# comment\nkey = old\n;inactive = 1\n\n[other]\nx=1\ny = 2\n",
    )
    .unwrap();
    let read = || std::fs::read_to_string(&p).unwrap();

    // Drift, in check mode first: nothing written.
    let step = json!({"path": p, "section": "main", "option": "key", "value": "new"});
    let o = env.check("ini_file", step.clone()).await;
    assert!(o.changed && !o.failed, "{o:?}");
    assert_eq!(o.msg.as_deref(), Some("option changed"));
    assert!(read().contains("key = old"));
    let o = env.run_with("ini_file", step.clone(), false, true).await;
    assert!(o.changed);
    assert_eq!(
        o.values["diff"]["before_header"],
        json!(format!("{p} (content)"))
    );
    assert!(o.values["diff"]["after"]
        .as_str()
        .is_some_and(|a| a.contains("key = new\n")));
    assert_eq!(o.values["state"], "file");
    assert_eq!(o.values["mode"], "0644");
    // Present: no change.
    let o = env.run("ini_file", step).await;
    assert!(!o.changed);
    assert_eq!(o.msg.as_deref(), Some("OK"));

    for (args, msg) in [
        (
            json!({"section": "main", "option": "inactive", "value": "2"}),
            "option changed",
        ),
        (
            json!({"section": "new", "option": "a", "value": "1", "no_extra_spaces": true}),
            "section and option added",
        ),
        (
            json!({"section": "other", "option": "x", "state": "absent"}),
            "option changed",
        ),
        (
            json!({"section": "other", "state": "absent"}),
            "section removed",
        ),
        (json!({"option": "top", "value": "1"}), "option added"),
        (
            json!({"section": "main", "option": "multi", "values": ["a", "b", "c"]}),
            "option added",
        ),
        (
            json!({"section": "main", "option": "flag", "allow_no_value": true}),
            "option added",
        ),
        (
            json!({"section": "main", "option": "key", "value": "x", "mode": "0600"}),
            "option changed",
        ),
    ] {
        let mut a = args.as_object().unwrap().clone();
        a.insert("path".into(), json!(p));
        let o = env.run("ini_file", serde_json::Value::Object(a)).await;
        assert!(o.changed && !o.failed, "{args}: {o:?}");
        assert_eq!(o.msg.as_deref(), Some(msg), "{args}");
    }
    assert_eq!(
        read(),
        "top = 1\n[main]\n# comment\nkey = x\ninactive = 2\nmulti = a\nmulti = b\nmulti = c\nflag\n\n[new]\na=1\n"
    );
    assert_eq!(mode_of(&p), 0o600);

    // A missing file is made (with its section), unless create is off.
    let fresh = env.path("sub/fresh.ini");
    let o = env
        .run(
            "ini_file",
            json!({"path": fresh, "section": "s", "option": "a", "value": "1"}),
        )
        .await;
    assert!(o.changed && !o.failed, "{o:?}");
    assert_eq!(std::fs::read_to_string(&fresh).unwrap(), "\n[s]\na = 1\n");
    let o = env
        .run(
            "ini_file",
            json!({"path": env.path("none.ini"), "section": "s", "option": "a", "value": "1", "create": false}),
        )
        .await;
    assert!(o.failed);
    assert_eq!(
        o.msg,
        Some(format!(
            "Destination {} does not exist!",
            env.path("none.ini")
        ))
    );
}

#[tokio::test]
async fn bad_arguments() {
    let env = Env::new();
    let p = env.path("x.ini");
    let o = env
        .run(
            "ini_file",
            json!({"path": p, "section": "s", "option": "a"}),
        )
        .await;
    assert_eq!(
        o.msg.as_deref(),
        Some("Parameter 'value(s)' must be defined if state=present and allow_no_value=False.")
    );
    let o = env
        .run(
            "ini_file",
            json!({"path": p, "option": "a", "value": "1", "values": ["2"]}),
        )
        .await;
    assert!(
        o.failed && o.msg.as_deref().unwrap().contains("mutually exclusive"),
        "{o:?}"
    );
    let o = env.run("ini_file", json!({"section": "s"})).await;
    assert!(o.msg.as_deref().unwrap().contains("path"), "{o:?}");
    assert!(!std::path::Path::new(&p).exists());
}
