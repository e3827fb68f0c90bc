//! apk (community.general.apk) through the commands it generates. No host
//! here has apk, so the host's answers are recorded apk outputs in their
//! real format (tests/fixtures/packaging/apk-*); each test checks the
//! commands the module sends and the result it returns, with
//! community.general's messages.

mod common;
mod module_support;
mod recorded_host;

use recorded_host::{fixture, run, Recorded};
use serde_json::json;

const C: &str = "";

#[tokio::test]
async fn present_installs_names_missing_from_world() {
    // busybox is in the world file; htop is not installed.
    let host = Recorded::new(&[
        (0, "apk-path.txt"),
        (0, "apk-probe.txt"),
        (0, "apk-add.txt"),
    ]);
    let r = run("apk", json!({"name": ["busybox", "htop"]}), false, &host).await;
    assert_eq!(r["changed"], json!(true), "{r:?}");
    assert_eq!(r["msg"], json!("installed ['htop'] package(s)"));
    assert_eq!(r["packages"], json!(["ncurses-terminfo-base", "htop"]));
    assert_eq!(r["stdout"], json!(fixture("apk-add.txt")));
    let sent = host.sent();
    assert_eq!(sent[2], "apk add htop");
    assert!(sent[1].starts_with("cat /etc/apk/world"), "{}", sent[1]);
    assert!(sent[1].contains("apk -v info --installed htop"));
}

#[tokio::test]
async fn present_with_everything_in_world_changes_nothing() {
    let host = Recorded::with_text(vec![
        (0, fixture("apk-path.txt")),
        (
            0,
            fixture("apk-probe.txt").replace("libc-utils\n", "libc-utils\nhtop@edge\n"),
        ),
    ]);
    let r = run(
        "apk",
        json!({"name": ["busybox", "htop"], "world": "/srv/my world"}),
        false,
        &host,
    )
    .await;
    assert_eq!(r["changed"], json!(false), "{r:?}");
    assert!(host.sent()[1].starts_with("cat '/srv/my world' "));
    assert_eq!(r["msg"], json!("package(s) already installed"));
    assert_eq!(host.sent().len(), 2, "nothing but the questions");
}

#[tokio::test]
async fn check_mode_simulates() {
    let host = Recorded::new(&[
        (0, "apk-path.txt"),
        (0, "apk-probe.txt"),
        (0, "apk-add.txt"),
    ]);
    let r = run(
        "apk",
        json!({"name": "busybox,htop", "no_cache": true}),
        true,
        &host,
    )
    .await;
    assert_eq!(r["changed"], json!(true));
    assert_eq!(host.sent()[2], "apk --no-cache add --simulate htop");
}

#[tokio::test]
async fn latest_upgrades_older_names() {
    let host = Recorded::new(&[
        (0, "apk-path.txt"),
        (0, "apk-probe.txt"),
        (0, "apk-add-upgrade.txt"),
    ]);
    let r = run(
        "apk",
        json!({"name": ["busybox", "htop"], "state": "latest", "repository": ["https://mirror/x y"]}),
        false,
        &host,
    )
    .await;
    assert_eq!(r["msg"], json!("installed ['htop', 'busybox'] package(s)"));
    assert_eq!(
        host.sent()[2],
        "apk --repository 'https://mirror/x y' --repositories-file /dev/null add --upgrade htop busybox"
    );
}

#[tokio::test]
async fn latest_upgrades_a_virtual_packages_older_dependencies() {
    let host = Recorded::new(&[
        (0, "apk-path.txt"),
        (0, "apk-virtual-probe.txt"),
        (0, "apk-version-gcc.txt"),
        (0, "apk-version-make.txt"),
        (0, "apk-upgrade.txt"),
    ]);
    let r = run(
        "apk",
        json!({"name": [".build-deps"], "state": "latest"}),
        false,
        &host,
    )
    .await;
    assert_eq!(r["msg"], json!("installed ['make'] package(s)"));
    let sent = host.sent();
    assert_eq!(
        sent[2..],
        [
            "apk version gcc",
            "apk version make",
            "apk add --upgrade make"
        ]
    );
}

#[tokio::test]
async fn absent_removes_installed_names() {
    let host = Recorded::with_text(vec![
        (0, fixture("apk-path.txt")),
        (0, fixture("apk-probe.txt")),
        (0, fixture("apk-del.txt")),
        (1, C.into()),
    ]);
    let r = run(
        "apk",
        json!({"name": ["busybox", "htop"], "state": "absent"}),
        false,
        &host,
    )
    .await;
    assert_eq!(r["changed"], json!(true));
    assert_eq!(r["msg"], json!("removed ['busybox'] package(s)"));
    assert_eq!(host.sent()[2], "apk del --purge busybox");
    assert_eq!(
        host.sent()[3],
        "apk -v info --installed busybox >/dev/null 2>&1"
    );
    // Still installed afterwards: another package needs it.
    let host = Recorded::with_text(vec![
        (0, fixture("apk-path.txt")),
        (0, fixture("apk-probe.txt")),
        (0, fixture("apk-del.txt")),
        (0, C.into()),
    ]);
    let r = run(
        "apk",
        json!({"name": ["busybox"], "state": "removed"}),
        false,
        &host,
    )
    .await;
    assert_eq!(r["failed"], json!(true));
    assert_eq!(r["msg"], json!("failed to remove ['busybox'] package(s)"));
    // Nothing installed: nothing run.
    let host = Recorded::with_text(vec![
        (0, fixture("apk-path.txt")),
        (0, fixture("apk-probe.txt").replace("\n0\n", "\n1\n")),
    ]);
    let r = run(
        "apk",
        json!({"name": ["busybox", "htop"], "state": "absent"}),
        true,
        &host,
    )
    .await;
    assert_eq!(r["changed"], json!(false));
    assert_eq!(r["msg"], json!("package(s) already removed"));
    assert_eq!(host.sent().len(), 2);
}

#[tokio::test]
async fn update_cache_and_upgrade() {
    let host = Recorded::new(&[(0, "apk-path.txt"), (0, "apk-update.txt")]);
    let r = run("apk", json!({"update_cache": true}), true, &host).await;
    assert_eq!(r["changed"], json!(true));
    assert_eq!(r["msg"], json!("updated repository indexes"));
    assert_eq!(host.sent()[1], "apk update");

    let host = Recorded::new(&[(0, "apk-path.txt"), (0, "apk-upgrade.txt")]);
    let r = run(
        "apk",
        json!({"upgrade": true, "available": true}),
        false,
        &host,
    )
    .await;
    assert_eq!(r["msg"], json!("upgraded packages"));
    assert_eq!(r["packages"], json!(["busybox", "ssl_client"]));
    assert_eq!(host.sent()[1], "apk upgrade --available");

    let host = Recorded::new(&[(0, "apk-path.txt"), (0, "apk-upgrade-ok.txt")]);
    let r = run("apk", json!({"upgrade": true}), true, &host).await;
    assert_eq!(r["changed"], json!(false));
    assert_eq!(r["msg"], json!("packages already upgraded"));
    assert_eq!(host.sent()[1], "apk upgrade --simulate");
}

#[tokio::test]
async fn bad_arguments_with_community_generals_wording() {
    let host = Recorded::new(&[]);
    let r = run(
        "apk",
        json!({"name": "htop", "state": "bogus"}),
        false,
        &host,
    )
    .await;
    assert_eq!(
        r["msg"],
        json!("value of state must be one of: present, installed, absent, removed, latest, got: bogus")
    );
    let r = run(
        "apk",
        json!({"name": "htop", "upgrade": true}),
        false,
        &host,
    )
    .await;
    assert_eq!(
        r["msg"],
        json!("parameters are mutually exclusive: name|upgrade")
    );
    let r = run("apk", json!({"name": "htop", "nmae": 1}), false, &host).await;
    assert!(r["msg"]
        .as_str()
        .unwrap()
        .starts_with("Unsupported parameters for (community.general.apk) module: nmae."));
    assert!(host.sent().is_empty(), "arguments are checked first");
    let host = Recorded::with_text(vec![(0, fixture("apk-path.txt"))]);
    let r = run("apk", json!({"name": ["htop", " "]}), false, &host).await;
    assert_eq!(
        r["msg"],
        json!("Package name(s) cannot be empty or whitespace-only")
    );
    // No apk on the host.
    let host = Recorded::with_text(vec![(1, "/usr/bin:/bin".into())]);
    let r = run("apk", json!({"name": "htop"}), false, &host).await;
    assert_eq!(
        r["msg"],
        json!("Failed to find required executable \"apk\" in paths: /usr/bin:/bin")
    );
}

/// For real on this host, which has no apk: community.general's message.
#[test]
fn no_apk_on_this_host() {
    let out = common::herd_adhoc("apk", "name=htop", &[]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("\"msg\": \"Failed to find required executable \\\"apk\\\" in paths: "),
        "{text}"
    );
    assert_eq!(out.status.code(), Some(2));
}
