//! user against the local host: real accounts in the system's databases.
//! Needs root (the suite runs as root, as `.ci/run` does); each test uses
//! its own user and group names and removes them at the end.

mod module_support;

use std::process::Command;

use module_support::Env;
use serde_json::json;

/// Accounts and groups of one test, removed when dropped.
struct Names {
    users: Vec<String>,
    groups: Vec<String>,
}

impl Names {
    fn new(tag: &str, users: usize, groups: usize) -> Names {
        let id = Command::new("id").arg("-u").output().unwrap();
        assert_eq!(
            String::from_utf8_lossy(&id.stdout).trim(),
            "0",
            "the user tests manage real accounts and must run as root"
        );
        let base = format!("hu{}{tag}", std::process::id() % 100_000);
        let n = Names {
            users: (0..users).map(|i| format!("{base}u{i}")).collect(),
            groups: (0..groups).map(|i| format!("{base}g{i}")).collect(),
        };
        n.clean();
        for g in &n.groups {
            assert!(Command::new("groupadd").arg(g).status().unwrap().success());
        }
        n
    }

    fn clean(&self) {
        for u in &self.users {
            let _ = Command::new("userdel").args(["-r", u]).output();
        }
        for g in self.users.iter().chain(&self.groups) {
            let _ = Command::new("groupdel").arg(g).output();
        }
    }
}

impl Drop for Names {
    fn drop(&mut self) {
        self.clean();
    }
}

/// The passwd line of `name`, split.
fn passwd(name: &str) -> Option<Vec<String>> {
    let out = Command::new("getent")
        .args(["passwd", name])
        .output()
        .unwrap();
    let line = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (!line.is_empty()).then(|| line.split(':').map(str::to_string).collect())
}

/// The groups listing `name` as a member.
fn member_of(name: &str) -> Vec<String> {
    let out = Command::new("getent").arg("group").output().unwrap();
    let mut v: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| {
            l.rsplit(':')
                .next()
                .is_some_and(|m| m.split(',').any(|x| x == name))
        })
        .map(|l| l.split(':').next().unwrap().to_string())
        .collect();
    v.sort();
    v
}

fn shadow_hash(name: &str) -> String {
    let out = Command::new("getent")
        .args(["shadow", name])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split(':')
        .nth(1)
        .unwrap_or("")
        .to_string()
}

#[tokio::test]
async fn absent_present_drift_and_removal() {
    let env = Env::new();
    let n = Names::new("a", 1, 2);
    let (user, g0, g1) = (&n.users[0], &n.groups[0], &n.groups[1]);
    let home = env.path("homes/user");
    let args = json!({"name": user, "comment": "Test User", "shell": "/bin/sh",
                      "home": home, "groups": [g0]});

    let o = env.check("user", args.clone()).await;
    assert!(o.changed && !o.failed, "{o:?}");
    assert!(passwd(user).is_none(), "check mode made the user");

    let o = env.run("user", args.clone()).await;
    assert!(o.changed && !o.failed, "{o:?}");
    let pw = passwd(user).expect("user made");
    assert_eq!(
        (pw[4].as_str(), pw[5].as_str(), pw[6].as_str()),
        ("Test User", home.as_str(), "/bin/sh")
    );
    assert_eq!(o.values["uid"], json!(pw[2].parse::<i64>().unwrap()));
    assert_eq!(o.values["home"], json!(home));
    assert_eq!(o.values["groups"], json!(g0));
    assert_eq!(o.values["create_home"], true);
    assert!(
        std::path::Path::new(&home).is_dir(),
        "home made, parents too"
    );
    assert_eq!(member_of(user), vec![g0.clone()]);

    // Present: no change.
    let o = env.run("user", args.clone()).await;
    assert!(!o.changed && !o.failed, "{o:?}");
    assert_eq!(o.values["append"], false);

    // Drift: shell and groups changed behind our back.
    assert!(Command::new("usermod")
        .args(["-s", "/bin/bash", "-G", g1, user])
        .status()
        .unwrap()
        .success());
    let o = env.check("user", args.clone()).await;
    assert!(o.changed, "{o:?}");
    assert_eq!(
        passwd(user).unwrap()[6],
        "/bin/bash",
        "check mode changed it"
    );
    let o = env.run("user", args.clone()).await;
    assert!(o.changed && !o.failed, "{o:?}");
    assert_eq!(passwd(user).unwrap()[6], "/bin/sh");
    assert_eq!(member_of(user), vec![g0.clone()]);

    // append adds without removing; asking again changes nothing.
    let o = env
        .run("user", json!({"name": user, "groups": g1, "append": true}))
        .await;
    assert!(o.changed, "{o:?}");
    let mut both = vec![g0.clone(), g1.clone()];
    both.sort();
    assert_eq!(member_of(user), both);
    let o = env
        .run(
            "user",
            json!({"name": user, "groups": [g1], "append": true}),
        )
        .await;
    assert!(!o.changed, "{o:?}");

    // A home removed is made again.
    std::fs::remove_dir_all(&home).unwrap();
    let o = env.run("user", json!({"name": user})).await;
    assert!(o.changed, "{o:?}");
    assert!(std::path::Path::new(&home).is_dir());

    // Removal, check mode first.
    let o = env
        .check("user", json!({"name": user, "state": "absent"}))
        .await;
    assert!(o.changed);
    assert!(passwd(user).is_some());
    let o = env
        .run(
            "user",
            json!({"name": user, "state": "absent", "remove": true}),
        )
        .await;
    assert!(o.changed && !o.failed, "{o:?}");
    assert_eq!(
        (o.values["remove"].clone(), o.values["state"].clone()),
        (json!(true), json!("absent"))
    );
    assert!(passwd(user).is_none());
    assert!(
        !std::path::Path::new(&home).exists(),
        "remove took the home"
    );
    let o = env
        .run("user", json!({"name": user, "state": "absent"}))
        .await;
    assert!(!o.changed && !o.failed, "{o:?}");
}

#[tokio::test]
async fn passwords_locks_expiry_and_keys() {
    let env = Env::new();
    let n = Names::new("p", 1, 0);
    let user = &n.users[0];
    let hash = format!("$6$saltsalt${}", "A".repeat(86));
    let o = env
        .run(
            "user",
            json!({"name": user, "password": hash, "create_home": false,
                   "expires": 1_700_000_000, "password_expire_max": 90}),
        )
        .await;
    assert!(o.changed && !o.failed, "{o:?}");
    assert_eq!(o.values["password"], "NOT_LOGGING_PASSWORD");
    assert!(o.warnings.is_empty(), "{:?}", o.warnings);
    assert_eq!(shadow_hash(user), hash);
    let out = Command::new("getent")
        .args(["shadow", user])
        .output()
        .unwrap();
    let fields: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .trim()
        .split(':')
        .map(str::to_string)
        .collect();
    assert_eq!(fields[4], "90");
    assert_eq!(fields[7], (1_700_000_000 / 86_400).to_string());

    // (No home was made: create_home defaults to yes and would make it.)
    let same = json!({"name": user, "password": hash, "expires": 1_700_000_000,
                      "password_expire_max": 90, "create_home": false});
    let o = env.run("user", same.clone()).await;
    assert!(!o.changed, "{o:?}");

    // Lock: the hash gains a `!`; the same hash then stays as it is.
    let o = env
        .run(
            "user",
            json!({"name": user, "password_lock": true, "create_home": false}),
        )
        .await;
    assert!(o.changed, "{o:?}");
    assert_eq!(shadow_hash(user), format!("!{hash}"));
    let o = env
        .run(
            "user",
            json!({"name": user, "password_lock": true, "password": hash, "create_home": false}),
        )
        .await;
    assert!(!o.changed, "{o:?}");

    // on_create leaves another hash alone.
    let other = format!("$6$pepper${}", "B".repeat(86));
    let o = env
        .run("user", json!({"name": user, "password": other, "update_password": "on_create", "create_home": false}))
        .await;
    assert!(!o.changed, "{o:?}");

    // Clear text is set but warned about, as Ansible does.
    let o = env
        .check("user", json!({"name": user, "password": "plain"}))
        .await;
    assert!(o.changed && o.warnings[0].contains("appears not to have been hashed"));

    // An ssh key made once, reported, kept.
    let home = env.path("khome");
    let o = env
        .run(
            "user",
            json!({"name": user, "home": home, "generate_ssh_key": true,
                   "ssh_key_type": "ed25519", "ssh_key_comment": "herd test"}),
        )
        .await;
    assert!(o.changed && !o.failed, "{o:?}");
    let key = format!("{home}/.ssh/id_ed25519");
    assert_eq!(o.values["ssh_key_file"], json!(key));
    assert!(o.values["ssh_public_key"]
        .as_str()
        .unwrap()
        .starts_with("ssh-ed25519 "));
    assert!(o.values["ssh_fingerprint"]
        .as_str()
        .unwrap()
        .contains("SHA256:"));
    let o = env
        .run(
            "user",
            json!({"name": user, "home": home, "generate_ssh_key": true, "ssh_key_type": "ed25519"}),
        )
        .await;
    assert!(!o.changed, "{o:?}");
}

#[tokio::test]
async fn bad_arguments() {
    let env = Env::new();
    let o = env.run("user", json!({"uid": 5})).await;
    assert!(
        o.msg
            .as_deref()
            .unwrap()
            .contains("missing required arguments: name"),
        "{o:?}"
    );
    let o = env
        .run(
            "user",
            json!({"name": "herdnosuchuser", "group": "herdnosuchgroup"}),
        )
        .await;
    assert_eq!(
        o.msg.as_deref(),
        Some("Group herdnosuchgroup does not exist")
    );
    let o = env
        .run("user", json!({"name": "herdnosuchuser", "expires": "soon"}))
        .await;
    assert!(
        o.failed && o.msg.as_deref().unwrap().contains("expires"),
        "{o:?}"
    );
    let o = env
        .run("user", json!({"name": "x", "update_password": "never"}))
        .await;
    assert!(o.failed, "{o:?}");
    let o = env
        .run("user", json!({"name": "x", "shel": "/bin/sh"}))
        .await;
    assert!(
        o.msg.as_deref().unwrap().contains("shell"),
        "did you mean: {o:?}"
    );
    assert!(passwd("herdnosuchuser").is_none());
}
