//! authorized_key against a real user's `~/.ssh/authorized_keys` (a test
//! user of its own, made and removed here; needs root). The expected
//! files are what ansible.posix.authorized_key writes for the same steps.

mod module_support;

use std::os::unix::fs::MetadataExt;
use std::process::Command;

use module_support::Env;
use serde_json::json;

const K1: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOne one@host";
const K2: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAITwo";

struct TestUser {
    name: String,
    home: String,
}

impl TestUser {
    fn new() -> TestUser {
        let name = format!("hk{}", std::process::id() % 100_000);
        let _ = Command::new("userdel").args(["-r", &name]).output();
        let ok = Command::new("useradd")
            .args(["-m", &name])
            .status()
            .unwrap();
        assert!(ok.success(), "useradd needs root");
        let home = format!("/home/{name}");
        TestUser { name, home }
    }
}

impl Drop for TestUser {
    fn drop(&mut self) {
        let _ = Command::new("userdel").args(["-r", &self.name]).output();
    }
}

#[tokio::test]
async fn keys_added_rewritten_and_removed() {
    let env = Env::new();
    let u = TestUser::new();
    let file = format!("{}/.ssh/authorized_keys", u.home);
    let read = || std::fs::read_to_string(&file).ok();

    let o = env
        .check("authorized_key", json!({"user": u.name, "key": K1}))
        .await;
    assert!(o.changed && !o.failed, "{o:?}");
    assert_eq!(read(), None, "check mode wrote the file");

    let o = env
        .run_with(
            "authorized_key",
            json!({"user": u.name, "key": K1}),
            false,
            true,
        )
        .await;
    assert!(o.changed && !o.failed, "{o:?}");
    assert_eq!(o.values["keyfile"], json!(file));
    assert_eq!(o.values["exclusive"], false);
    assert_eq!(o.values["path"], json!(null));
    assert_eq!(o.values["diff"]["after"], json!(format!("{K1}\n")));
    assert_eq!(read().unwrap(), format!("{K1}\n"));
    let meta = std::fs::metadata(&file).unwrap();
    let dir = std::fs::metadata(format!("{}/.ssh", u.home)).unwrap();
    assert_eq!((meta.mode() & 0o777, dir.mode() & 0o777), (0o600, 0o700));
    let uid = std::fs::metadata(&u.home).unwrap().uid();
    assert_eq!((meta.uid(), dir.uid()), (uid, uid));

    let o = env
        .run("authorized_key", json!({"user": u.name, "key": K1}))
        .await;
    assert!(!o.changed, "{o:?}");

    // Options and a missing comment (Ansible keeps a trailing space).
    let o = env
        .run(
            "authorized_key",
            json!({"user": u.name, "key": K2, "key_options": "no-pty,from=\"1.2.3.4\""}),
        )
        .await;
    assert!(o.changed);
    assert_eq!(
        read().unwrap(),
        format!("{K1}\nno-pty,from=\"1.2.3.4\" {K2} \n")
    );
    // Drift: another comment rewrites the key, at the end.
    let o = env
        .run(
            "authorized_key",
            json!({"user": u.name, "key": K1, "comment": "changed"}),
        )
        .await;
    assert!(o.changed);
    assert_eq!(
        read().unwrap(),
        format!(
            "no-pty,from=\"1.2.3.4\" {K2} \nssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOne changed\n"
        )
    );
    // exclusive keeps only the given keys; absent removes.
    let o = env
        .run(
            "authorized_key",
            json!({"user": u.name, "key": K2, "exclusive": true}),
        )
        .await;
    assert!(o.changed);
    assert_eq!(read().unwrap(), format!("{K2} \n"));
    let o = env
        .run(
            "authorized_key",
            json!({"user": u.name, "key": K2, "state": "absent"}),
        )
        .await;
    assert!(o.changed);
    assert_eq!(read().unwrap(), "");
    let o = env
        .run(
            "authorized_key",
            json!({"user": u.name, "key": K2, "state": "absent"}),
        )
        .await;
    assert!(!o.changed);
}

#[tokio::test]
async fn bad_keys_and_users() {
    let env = Env::new();
    let o = env
        .run("authorized_key", json!({"user": "root", "key": "garbage"}))
        .await;
    assert_eq!(o.msg.as_deref(), Some("invalid key specified: garbage"));
    let o = env
        .run(
            "authorized_key",
            json!({"user": "herdnosuchuser", "key": K1}),
        )
        .await;
    assert_eq!(
        o.msg.as_deref(),
        Some("Failed to lookup user herdnosuchuser: \"getpwnam(): name not found: 'herdnosuchuser'\"")
    );
    let o = env.run("authorized_key", json!({"user": "root"})).await;
    assert!(
        o.msg
            .as_deref()
            .unwrap()
            .contains("missing required arguments: key"),
        "{o:?}"
    );
    // A key file on the host as the source, and a path of one's own.
    let src = env.path("keys.pub");
    std::fs::write(&src, format!("# mine\n{K1}\n\n{K2}\n")).unwrap();
    let dest = env.path("sub/auth");
    let o = env
        .run(
            "authorized_key",
            json!({"user": "root", "key": format!("file://{src}"), "path": dest, "manage_dir": false}),
        )
        .await;
    assert!(o.changed && !o.failed, "{o:?}");
    assert_eq!(
        std::fs::read_to_string(&dest).unwrap(),
        format!("{K1}\n{K2} \n")
    );
}
