//! blockinfile against the local host; expected contents were produced
//! by ansible-core 2.19's blockinfile on the same inputs.

mod module_support;

use std::path::Path;

use module_support::{Env, NASTY};
use serde_json::{json, Value};

const B: &str = "# BEGIN ANSIBLE MANAGED BLOCK";
const E: &str = "# END ANSIBLE MANAGED BLOCK";

#[tokio::test]
async fn matches_ansible() {
    let with_block = format!("a\n{B}\nold\n{E}\nb\n");
    let cases: Vec<(&str, Value, String, &str)> = vec![
        (
            "a\nb\n",
            json!({"block": "x\ny"}),
            format!("a\nb\n{B}\nx\ny\n{E}\n"),
            "Block inserted",
        ),
        (
            &with_block,
            json!({"block": "x"}),
            format!("a\n{B}\nx\n{E}\nb\n"),
            "Block inserted",
        ),
        (
            &with_block,
            json!({"state": "absent"}),
            "a\nb\n".into(),
            "Block removed",
        ),
        (
            "a\nb\nc",
            json!({"block": "x", "insertafter": "^b", "prepend_newline": true, "append_newline": true}),
            format!("a\nb\n\n{B}\nx\n{E}\n\nc"),
            "Block inserted",
        ),
        (
            "a\nb\n",
            json!({"block": "x", "insertbefore": "BOF", "marker": "// {mark} m"}),
            "// BEGIN m\nx\n// END m\na\nb\n".into(),
            "Block inserted",
        ),
    ];
    for (start, args, want, msg) in cases {
        let env = Env::new();
        let p = env.path(NASTY);
        std::fs::write(&p, start).unwrap();
        let mut a = args.clone();
        a["path"] = p.clone().into();
        let o = env.run("blockinfile", a.clone()).await;
        assert!(o.changed && !o.failed, "{o:?}");
        assert_eq!(std::fs::read_to_string(&p).unwrap(), want, "{args}");
        assert_eq!(o.msg.as_deref(), Some(msg));
        let o = env.run("blockinfile", a).await;
        assert!(!o.changed, "second run of {args} changed");
    }
}

#[tokio::test]
async fn check_diff_create() {
    let env = Env::new();
    let p = env.path("f");
    let o = env
        .run("blockinfile", json!({"path": p, "block": "x"}))
        .await;
    assert!(o.failed && o.msg.unwrap().contains("does not exist"));
    let o = env
        .check(
            "blockinfile",
            json!({"path": p, "block": "x", "create": true}),
        )
        .await;
    assert!(o.changed && !Path::new(&p).exists());
    // A file still to be created: the content entry alone, as Ansible's.
    assert_eq!(o.values["diff"]["after"], format!("{B}\nx\n{E}\n"));
    let o = env
        .run(
            "blockinfile",
            json!({"path": p, "block": "x", "create": true, "backup": true}),
        )
        .await;
    assert!(
        o.changed && o.msg.as_deref() == Some("File created"),
        "{o:?}"
    );
    let o = env
        .run(
            "blockinfile",
            json!({"path": p, "block": "y", "backup": true}),
        )
        .await;
    let b = o.values["backup_file"].as_str().unwrap();
    assert_eq!(
        std::fs::read_to_string(b).unwrap(),
        format!("{B}\nx\n{E}\n")
    );
    let o = env
        .run("blockinfile", json!({"path": p, "blok": "y"}))
        .await;
    assert!(o.msg.unwrap().contains("Did you mean 'block'"));
}

#[tokio::test]
async fn check_mode_diff_and_bad_args() {
    let env = Env::new();
    let p = env.path("conf");
    std::fs::write(&p, "a\n").unwrap();
    // Check mode reports the change and leaves the file alone.
    let o = env
        .check("blockinfile", json!({"path": p, "block": "x"}))
        .await;
    assert!(o.changed && !o.failed, "{o:?}");
    assert_eq!(std::fs::read_to_string(&p).unwrap(), "a\n");
    // --diff: the content before and after.
    let o = env
        .run_with("blockinfile", json!({"path": p, "block": "x"}), false, true)
        .await;
    assert!(o.changed, "{o:?}");
    assert_eq!(o.values["diff"][0]["before"], "a\n");
    assert_eq!(o.values["diff"][0]["after"], format!("a\n{B}\nx\n{E}\n"));
    // Present: no change.
    let o = env
        .run("blockinfile", json!({"path": p, "block": "x"}))
        .await;
    assert!(!o.changed && !o.failed, "{o:?}");
    // Bad arguments: Ansible's messages, nothing written.
    let o = env
        .run("blockinfile", json!({"path": p, "blok": "y"}))
        .await;
    assert!(o.failed);
    assert!(o.msg.as_deref().unwrap_or("").contains("blok"), "{o:?}");
    let o = env
        .run("blockinfile", json!({"path": p, "state": "gone"}))
        .await;
    assert!(o.failed);
    assert!(
        o.msg
            .as_deref()
            .unwrap_or("")
            .contains("value of state must be one of"),
        "{o:?}"
    );
    assert_eq!(
        std::fs::read_to_string(&p).unwrap(),
        format!("a\n{B}\nx\n{E}\n")
    );
}
