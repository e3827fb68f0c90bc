//! group against the local host: real groups in the system's database.
//! Needs root (the test suite runs as root, as `.ci/run` does); each test
//! uses its own group names, removed at the end.

mod module_support;

use module_support::Env;
use serde_json::json;

/// A group name of this test only, removed when dropped.
struct TestGroup(String);

impl TestGroup {
    fn new(tag: &str) -> TestGroup {
        assert!(
            is_root(),
            "the group tests manage real groups and must run as root"
        );
        let name = format!("herdg{}{tag}", std::process::id() % 100_000);
        let _ = std::process::Command::new("groupdel").arg(&name).output();
        TestGroup(name)
    }
}

impl Drop for TestGroup {
    fn drop(&mut self) {
        let _ = std::process::Command::new("groupdel").arg(&self.0).output();
    }
}

fn is_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// The gid of `name` per getent, if the group exists.
fn gid_of(name: &str) -> Option<i64> {
    let out = std::process::Command::new("getent")
        .args(["group", name])
        .output()
        .unwrap();
    let line = String::from_utf8_lossy(&out.stdout).to_string();
    line.split(':').nth(2).and_then(|g| g.trim().parse().ok())
}

/// A gid nobody uses, so the test does not collide with the system's.
fn free_gid(from: i64) -> i64 {
    (from..from + 1000)
        .find(|g| {
            let out = std::process::Command::new("getent")
                .args(["group", &g.to_string()])
                .output()
                .unwrap();
            !out.status.success()
        })
        .unwrap()
}

#[tokio::test]
async fn absent_present_drift_and_removal() {
    let env = Env::new();
    let g = TestGroup::new("a");
    let name = g.0.as_str();

    // Check mode on an absent group: changed, nothing made.
    let o = env.check("group", json!({"name": name})).await;
    assert!(o.changed && !o.failed, "{o:?}");
    assert_eq!(gid_of(name), None);

    // Absent → present.
    let gid = free_gid(42_000);
    let o = env.run("group", json!({"name": name, "gid": gid})).await;
    assert!(o.changed && !o.failed, "{o:?}");
    assert_eq!(o.values["gid"], json!(gid));
    assert_eq!(o.values["state"], "present");
    assert_eq!(o.values["system"], false);
    assert_eq!(gid_of(name), Some(gid));

    // Present, no change.
    let o = env.run("group", json!({"name": name, "gid": gid})).await;
    assert!(!o.changed && !o.failed, "{o:?}");
    let o = env.run("group", json!({"name": name})).await;
    assert!(!o.changed, "{o:?}");

    // Drift: another gid. Check mode reports it and leaves it.
    let other = free_gid(gid + 1);
    let o = env
        .check("group", json!({"name": name, "gid": other}))
        .await;
    assert!(o.changed, "{o:?}");
    assert_eq!(gid_of(name), Some(gid));
    let o = env.run("group", json!({"name": name, "gid": other})).await;
    assert!(o.changed && !o.failed, "{o:?}");
    assert_eq!(o.values["gid"], json!(other));
    assert_eq!(gid_of(name), Some(other));

    // Removal, check mode first.
    let o = env
        .check("group", json!({"name": name, "state": "absent"}))
        .await;
    assert!(o.changed);
    assert_eq!(gid_of(name), Some(other));
    let o = env
        .run("group", json!({"name": name, "state": "absent"}))
        .await;
    assert!(o.changed && !o.failed, "{o:?}");
    assert_eq!(o.values["state"], "absent");
    assert!(o.values.get("gid").is_none());
    assert_eq!(gid_of(name), None);
    let o = env
        .run("group", json!({"name": name, "state": "absent"}))
        .await;
    assert!(!o.changed && !o.failed, "{o:?}");
}

#[tokio::test]
async fn system_and_non_unique_groups() {
    let env = Env::new();
    let sys = TestGroup::new("s");
    let o = env
        .run("group", json!({"name": sys.0, "system": true}))
        .await;
    assert!(o.changed && !o.failed, "{o:?}");
    assert_eq!(o.values["system"], true);
    // groupadd -r picks an id below the normal users' range.
    assert!(gid_of(&sys.0).unwrap() < 1000, "{:?}", gid_of(&sys.0));

    let dup = TestGroup::new("d");
    let taken = gid_of(&sys.0).unwrap();
    let o = env.run("group", json!({"name": dup.0, "gid": taken})).await;
    assert!(o.failed, "a used gid needs non_unique: {o:?}");
    let o = env
        .run(
            "group",
            json!({"name": dup.0, "gid": taken, "non_unique": true}),
        )
        .await;
    assert!(o.changed && !o.failed, "{o:?}");
    assert_eq!(gid_of(&dup.0), Some(taken));
}

#[tokio::test]
async fn bad_arguments() {
    let env = Env::new();
    let o = env.run("group", json!({"gid": 5})).await;
    assert!(o.failed);
    assert!(
        o.msg
            .as_deref()
            .unwrap()
            .contains("missing required arguments: name"),
        "{o:?}"
    );
    let o = env
        .run("group", json!({"name": "x", "non_unique": true}))
        .await;
    assert_eq!(
        o.msg.as_deref(),
        Some("non_unique is True but all of the following are missing: gid")
    );
    let o = env
        .run("group", json!({"name": "x", "force": true, "local": true}))
        .await;
    assert!(o.failed);
    let o = env
        .run("group", json!({"name": "x", "state": "gone"}))
        .await;
    assert!(
        o.failed && o.msg.as_deref().unwrap().contains("state"),
        "{o:?}"
    );
    let o = env.run("group", json!({"name": "x", "gidd": 3})).await;
    assert!(
        o.msg.as_deref().unwrap().contains("Unsupported parameters"),
        "{o:?}"
    );
}
