//! replace against the local host; expected contents were produced by
//! ansible-core 2.19's replace on the same inputs.

mod module_support;

use module_support::{Env, NASTY};
use serde_json::json;

#[tokio::test]
async fn matches_ansible() {
    let env = Env::new();
    let p = env.path(NASTY);
    std::fs::write(&p, "a=1\nb=2\n").unwrap();
    let args = json!({"path": p, "regexp": "^(\\w)=(\\d)$", "replace": "\\2=\\g<1>"});
    let o = env.check("replace", args.clone()).await;
    assert!(o.changed);
    assert_eq!(std::fs::read_to_string(&p).unwrap(), "a=1\nb=2\n");
    assert_eq!(o.values["diff"]["after"], "1=a\n2=b\n");
    let o = env.run("replace", args.clone()).await;
    assert!(o.changed);
    assert_eq!(o.msg.as_deref(), Some("2 replacements made"));
    assert_eq!(std::fs::read_to_string(&p).unwrap(), "1=a\n2=b\n");
    let o = env
        .run(
            "replace",
            json!({"path": p, "regexp": "zz", "replace": "y"}),
        )
        .await;
    assert!(!o.changed && o.msg.as_deref() == Some(""));
    std::fs::write(&p, "x\n[s]\nx\n[e]\nx\n").unwrap();
    let o = env
        .run(
            "replace",
            json!({"path": p, "regexp": "^x$", "replace": "y", "after": "\\[s\\]", "before": "\\[e\\]"}),
        )
        .await;
    assert_eq!(o.msg.as_deref(), Some("1 replacements made"));
    assert_eq!(std::fs::read_to_string(&p).unwrap(), "x\n[s]\ny\n[e]\nx\n");
}

#[tokio::test]
async fn errors() {
    let env = Env::new();
    let o = env
        .run("replace", json!({"path": env.path("none"), "regexp": "x"}))
        .await;
    assert!(o.failed && o.msg.unwrap().ends_with("does not exist !"));
    let p = env.path("f");
    std::fs::write(&p, "x").unwrap();
    let o = env.run("replace", json!({"path": p})).await;
    assert!(o
        .msg
        .unwrap()
        .contains("missing required arguments: regexp"));
    let o = env
        .run(
            "replace",
            json!({"path": p, "regexp": "(x", "replace": "y"}),
        )
        .await;
    assert!(o.failed && o.msg.unwrap().starts_with("Unable to process replace"));
    let o = env
        .run(
            "replace",
            json!({"path": p, "regexp": "x", "replace": "\\q"}),
        )
        .await;
    assert!(o.failed);
    assert_eq!(std::fs::read_to_string(&p).unwrap(), "x");
}
