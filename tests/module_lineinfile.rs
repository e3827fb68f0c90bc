//! lineinfile against the local host; expected contents were produced by
//! ansible-core 2.19's lineinfile on the same inputs.

mod module_support;

use std::path::Path;

use module_support::{mode_of, set_mode, Env, NASTY};
use serde_json::{json, Value};

async fn case(start: &str, args: Value) -> (String, bool, String) {
    let env = Env::new();
    let p = env.path(NASTY);
    std::fs::write(&p, start).unwrap();
    let mut args = args;
    args["path"] = p.clone().into();
    let o = env.run("lineinfile", args).await;
    assert!(!o.failed, "{o:?}");
    (
        std::fs::read_to_string(&p).unwrap(),
        o.changed,
        o.msg.unwrap_or_default(),
    )
}

#[tokio::test]
async fn matches_ansible() {
    let cases: &[(&str, Value, &str, bool, &str)] = &[
        (
            "a\nb\na\n",
            json!({"line": "x", "insertafter": "^a"}),
            "a\nb\na\nx\n",
            true,
            "line added",
        ),
        (
            "a\nb\na\n",
            json!({"line": "x", "insertafter": "^a", "firstmatch": true}),
            "a\nx\nb\na\n",
            true,
            "line added",
        ),
        (
            "a\nb\na\n",
            json!({"line": "x", "insertbefore": "^a"}),
            "a\nb\nx\na\n",
            true,
            "line added",
        ),
        (
            "k=v\nz=1\n",
            json!({"regexp": "^(\\w+)=v$", "line": "\\1: yes", "backrefs": true}),
            "k: yes\nz=1\n",
            true,
            "line replaced",
        ),
        ("a", json!({"line": "b"}), "a\nb\n", true, "line added"),
        (
            "a\nx\nb\n",
            json!({"line": "x", "insertafter": "^a"}),
            "a\nx\nb\n",
            false,
            "",
        ),
        (
            "a\nb\n",
            json!({"line": "x", "insertbefore": "^zz"}),
            "a\nb\nx\n",
            true,
            "line added",
        ),
        (
            "#a\n#b\nc\n",
            json!({"regexp": "^#", "state": "absent"}),
            "c\n",
            true,
            "2 line(s) removed",
        ),
        (
            "foo=1\n",
            json!({"search_string": "foo", "line": "foo=2"}),
            "foo=2\n",
            true,
            "line replaced",
        ),
    ];
    for (start, args, want, changed, msg) in cases {
        let got = case(start, args.clone()).await;
        assert_eq!(
            got,
            (want.to_string(), *changed, msg.to_string()),
            "{start:?} {args}"
        );
    }
}

#[tokio::test]
async fn present_check_diff_and_attrs() {
    let env = Env::new();
    let p = env.path("conf");
    std::fs::write(&p, "a=1\n").unwrap();
    set_mode(&p, 0o600);
    let args = json!({"path": p, "regexp": "^a=", "line": "a=2"});
    let o = env.check("lineinfile", args.clone()).await;
    assert!(o.changed);
    assert_eq!(std::fs::read_to_string(&p).unwrap(), "a=1\n");
    let d = &o.values["diff"];
    assert_eq!(d[0]["before"], "a=1\n");
    assert_eq!(d[0]["after"], "a=2\n");
    assert_eq!(d[0]["before_header"], format!("{p} (content)"));
    assert_eq!(d[1]["after_header"], format!("{p} (file attributes)"));
    // Without --diff, the entries are there with their headers only.
    let o = env.run_with("lineinfile", args.clone(), true, false).await;
    let d = &o.values["diff"];
    assert_eq!(
        (d[0]["before"].as_str(), d[0]["after"].as_str()),
        (Some(""), Some(""))
    );
    assert_eq!(d[0]["after_header"], format!("{p} (content)"));
    let o = env.run("lineinfile", args.clone()).await;
    assert!(o.changed);
    assert_eq!(std::fs::read_to_string(&p).unwrap(), "a=2\n");
    assert_eq!(mode_of(&p), 0o600, "mode kept");
    let o = env.run("lineinfile", args.clone()).await;
    assert!(!o.changed);
    let mut with_mode = args.clone();
    with_mode["mode"] = "0644".into();
    let o = env.run("lineinfile", with_mode).await;
    assert!(o.changed);
    assert_eq!(
        o.msg.as_deref(),
        Some("ownership, perms or SE linux context changed")
    );
    assert_eq!(mode_of(&p), 0o644);
}

#[tokio::test]
async fn create_backup_validate() {
    let env = Env::new();
    let p = env.path("new dir/f");
    let o = env.run("lineinfile", json!({"path": p, "line": "x"})).await;
    assert!(o.failed);
    assert_eq!(o.msg.unwrap(), format!("Destination {p} does not exist !"));
    let o = env
        .check(
            "lineinfile",
            json!({"path": p, "line": "x", "create": true}),
        )
        .await;
    assert!(o.changed && !Path::new(&p).exists());
    let o = env
        .run(
            "lineinfile",
            json!({"path": p, "line": "x", "create": true}),
        )
        .await;
    assert!(o.changed && !o.failed, "{o:?}");
    assert_eq!(std::fs::read_to_string(&p).unwrap(), "x\n");
    let o = env
        .run(
            "lineinfile",
            json!({"path": p, "line": "y", "backup": true}),
        )
        .await;
    let b = o.values["backup"].as_str().unwrap();
    assert_eq!(std::fs::read_to_string(b).unwrap(), "x\n");
    let o = env
        .run(
            "lineinfile",
            json!({"path": p, "line": "z", "validate": "grep -q nope %s"}),
        )
        .await;
    assert!(o.failed && o.msg.unwrap().starts_with("failed to validate: rc:1"));
    assert_eq!(std::fs::read_to_string(&p).unwrap(), "x\ny\n");
    let o = env
        .run(
            "lineinfile",
            json!({"path": env.path("gone"), "line": "z", "state": "absent"}),
        )
        .await;
    assert!(!o.changed && o.msg.as_deref() == Some("file not present"));
}

#[tokio::test]
async fn bad_args() {
    let env = Env::new();
    let p = env.path("f");
    std::fs::write(&p, "").unwrap();
    let o = env.run("lineinfile", json!({"path": p})).await;
    assert_eq!(
        o.msg.as_deref(),
        Some("line is required with state=present")
    );
    let o = env
        .run(
            "lineinfile",
            json!({"path": p, "line": "x", "insertafter": "a", "insertbefore": "b"}),
        )
        .await;
    assert!(o
        .msg
        .unwrap()
        .contains("mutually exclusive: insertbefore|insertafter"));
    let o = env
        .run("lineinfile", json!({"path": p, "lines": "x"}))
        .await;
    let m = o.msg.unwrap();
    assert!(
        m.contains("(ansible.builtin.lineinfile) module: lines") && m.contains("'line'"),
        "{m}"
    );
    let o = env
        .run("lineinfile", json!({"path": p, "line": "x", "regexp": "("}))
        .await;
    assert!(o.failed && o.msg.unwrap().contains("invalid regular expression"));
    let o = env
        .run("lineinfile", json!({"path": env.dir.path(), "line": "x"}))
        .await;
    assert!(o.msg.unwrap().ends_with("is a directory !"));
}

#[tokio::test]
async fn matches_ansible_edge_cases() {
    let cases: &[(&str, Value, &str, bool, &str)] = &[
        (
            "a\nb\n",
            json!({"regexp": "^zz", "line": "x", "insertbefore": "BOF"}),
            "x\na\nb\n",
            true,
            "line added",
        ),
        (
            "a=1\na=2\n",
            json!({"regexp": "^a=", "line": "a=9", "firstmatch": true}),
            "a=9\na=2\n",
            true,
            "line replaced",
        ),
        (
            "a=1\na=2\n",
            json!({"regexp": "^a=", "line": "a=9"}),
            "a=1\na=9\n",
            true,
            "line replaced",
        ),
        (
            "a\nb\n",
            json!({"regexp": "^zz", "line": "\\1", "backrefs": true}),
            "a\nb\n",
            false,
            "",
        ),
        (
            "x\nb\nx\n",
            json!({"line": "x", "insertafter": "^b"}),
            "x\nb\nx\n",
            false,
            "",
        ),
        (
            "a\r\nb\r\n",
            json!({"line": "b"}),
            "a\r\nb\n",
            true,
            "line replaced",
        ),
        (
            "a\nb\n",
            json!({"line": "new", "insertafter": "^zz"}),
            "a\nb\nnew\n",
            true,
            "line added",
        ),
        (
            "",
            json!({"line": "new", "insertbefore": "^zz"}),
            "new\n",
            true,
            "line added",
        ),
        (
            "a\n\n",
            json!({"line": "a", "state": "absent"}),
            "\n",
            true,
            "1 line(s) removed",
        ),
        (
            "one two\n",
            json!({"regexp": "(\\w+) (\\w+)", "line": "\\g<2> \\1", "backrefs": true}),
            "two one\n",
            true,
            "line replaced",
        ),
    ];
    for (start, args, want, changed, msg) in cases {
        let got = case(start, args.clone()).await;
        assert_eq!(
            got,
            (want.to_string(), *changed, msg.to_string()),
            "{start:?} {args}"
        );
    }
}
