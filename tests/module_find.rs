//! find against the local host.

mod module_support;

use module_support::{set_mode, Env, NASTY};
use serde_json::{json, Value};

fn names(o: &herd_modules::api::Outcome) -> Vec<String> {
    let mut v: Vec<String> = o.values["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            f["path"]
                .as_str()
                .unwrap()
                .rsplit('/')
                .next()
                .unwrap()
                .to_string()
        })
        .collect();
    v.sort();
    v
}

#[tokio::test]
async fn filters() {
    let env = Env::new();
    let root = env.path("root dir");
    std::fs::create_dir_all(format!("{root}/sub/.hid")).unwrap();
    std::fs::write(format!("{root}/a.txt"), "hello\nport=80\n").unwrap();
    std::fs::write(format!("{root}/b.log"), "x".repeat(2048)).unwrap();
    std::fs::write(format!("{root}/.hidden.txt"), "").unwrap();
    std::fs::write(format!("{root}/{NASTY}"), "").unwrap();
    std::fs::write(format!("{root}/sub/c.txt"), "").unwrap();
    std::fs::write(format!("{root}/sub/.hid/d.txt"), "").unwrap();
    set_mode(&format!("{root}/a.txt"), 0o600);
    let run = |args: Value| {
        let mut args = args;
        args["paths"] = root.clone().into();
        env.run("find", args)
    };
    let o = run(json!({})).await;
    assert!(!o.changed && !o.failed, "{o:?}");
    assert_eq!(names(&o), vec![NASTY, "a.txt", "b.log"]);
    assert_eq!(o.values["matched"], 3);
    assert_eq!(o.msg.as_deref(), Some("All paths examined"));
    let o = run(json!({"patterns": "*.txt", "recurse": true})).await;
    assert_eq!(names(&o), vec!["a.txt", "c.txt", "d.txt"]);
    let o = run(json!({"patterns": ["*.txt"], "recurse": true, "depth": 1, "hidden": true})).await;
    assert_eq!(names(&o), vec![".hidden.txt", "a.txt"]);
    let o = run(json!({"patterns": "^[ab]\\.", "use_regex": true, "excludes": "b"})).await;
    assert_eq!(names(&o), vec!["a.txt"]);
    let o = run(json!({"file_type": "directory"})).await;
    assert_eq!(names(&o), vec!["sub"]);
    let o = run(json!({"size": "1k"})).await;
    assert_eq!(names(&o), vec!["b.log"]);
    let o = run(json!({"contains": "port=\\d+"})).await;
    assert_eq!(names(&o), vec!["a.txt"]);
    let o = run(json!({"contains": "\\d+"})).await;
    assert!(names(&o).is_empty(), "a line must match from its start");
    let o = run(json!({"mode": "0600"})).await;
    assert_eq!(names(&o), vec!["a.txt"]);
    let o = run(json!({"age": "1d"})).await;
    assert!(names(&o).is_empty());
    let o = run(json!({"age": "-1d", "patterns": "a.txt", "get_checksum": true})).await;
    let f = &o.values["files"][0];
    assert_eq!(f["mode"], "0600");
    assert_eq!(f["isreg"], true);
    assert_eq!(f["size"], 14);
    assert!(f["checksum"].as_str().unwrap().len() == 40);
    let o = run(json!({"limit": 1})).await;
    assert_eq!(o.values["matched"], 1);
    assert_eq!(o.msg.as_deref(), Some("Limit of matches reached"));
}

#[tokio::test]
async fn errors() {
    let env = Env::new();
    let o = env.run("find", json!({"paths": env.path("none")})).await;
    assert!(!o.failed);
    assert_eq!(
        o.msg.as_deref(),
        Some("Not all paths examined, check warnings for details")
    );
    assert_eq!(o.warnings.len(), 1);
    let o = env
        .run("find", json!({"paths": "/", "age": "3 days"}))
        .await;
    assert_eq!(o.msg.as_deref(), Some("failed to process age"));
    let o = env
        .run("find", json!({"paths": "/", "file_type": "socket"}))
        .await;
    assert!(o.msg.unwrap().contains("value of file_type must be one of"));
    let o = env.run("find", json!({"path": "/", "patern": "x"})).await;
    assert!(o.msg.unwrap().contains("Did you mean 'pattern'"));
}
