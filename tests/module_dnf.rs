//! dnf (and yum) through the commands it generates. No host here has dnf,
//! so the host's answers are recorded outputs of rpm, dnf 4 and dnf 5 in
//! their real formats (tests/fixtures/packaging/dnf*); each test checks
//! the commands the module sends and the result it returns, as Ansible's
//! dnf module returns it. Argument errors are compared with ansible's.

mod common;
mod module_support;
mod recorded_host;

use recorded_host::{fixture, run, Recorded};
use serde_json::json;

#[tokio::test]
async fn present_with_everything_installed_is_nothing_to_do() {
    let host = Recorded::new(&[(0, "dnf-probe.txt")]);
    let r = run("dnf", json!({"name": ["tmux"]}), false, &host).await;
    assert_eq!(r["changed"], json!(false));
    assert_eq!(r["msg"], json!("Nothing to do"));
    assert_eq!(r["results"], json!([]));
    assert_eq!(r["rc"], json!(0));
    let sent = host.sent();
    assert_eq!(sent.len(), 1, "only the probe: {sent:?}");
    assert!(sent[0].contains("rpm -q --qf") && sent[0].contains(" tmux "));
}

#[tokio::test]
async fn present_installs_what_is_missing() {
    // The probe is for [tmux, htop]; htop is missing.
    let host = Recorded::new(&[
        (0, "dnf-probe.txt"),
        (1, "dnf4-install.txt"),
        (0, "dnf4-nothing.txt"),
    ]);
    let r = run(
        "yum",
        json!({"name": "tmux,htop", "enablerepo": "epel", "disable_gpg_check": true}),
        false,
        &host,
    )
    .await;
    assert_eq!(r["changed"], json!(true), "{r:?}");
    assert_eq!(r["msg"], json!(""));
    assert_eq!(
        r["results"],
        json!([
            "Installed: htop-3.3.0-1.el9.x86_64",
            "Installed: hwloc-libs-2.4.1-5.el9.x86_64",
            "Installed: lm_sensors-libs-3.6.0-10.el9.x86_64"
        ])
    );
    let sent = host.sent();
    assert_eq!(
        sent[1..],
        [
            "LC_ALL=C /usr/bin/dnf --assumeno --enablerepo=epel --nogpgcheck install -- htop 2>&1",
            "LC_ALL=C /usr/bin/dnf -y --enablerepo=epel --nogpgcheck install -- htop 2>&1",
        ]
    );
}

#[tokio::test]
async fn check_mode_only_asks() {
    let host = Recorded::new(&[(0, "dnf-probe.txt"), (1, "dnf4-install.txt")]);
    let r = run("dnf", json!({"name": ["tmux", "htop"]}), true, &host).await;
    assert_eq!(r["changed"], json!(true));
    assert_eq!(
        r["msg"],
        json!("Check mode: No changes made, but would have if not in check mode")
    );
    assert_eq!(r["results"].as_array().unwrap().len(), 3);
    let sent = host.sent();
    assert_eq!(sent.len(), 2);
    assert!(sent.iter().all(|c| !c.contains(" -y ")), "{sent:?}");
}

#[tokio::test]
async fn latest_upgrades_installed_names() {
    let host = Recorded::new(&[
        (0, "dnf-probe.txt"),
        (1, "dnf4-install.txt"),
        (1, "dnf4-upgrade.txt"),
        (0, "dnf4-nothing.txt"),
        (0, "dnf4-nothing.txt"),
    ]);
    let r = run(
        "dnf",
        json!({"name": ["tmux", "htop"], "state": "latest", "security": true, "exclude": ["kernel*"]}),
        false,
        &host,
    )
    .await;
    assert_eq!(r["changed"], json!(true));
    assert_eq!(
        r["results"],
        json!([
            "Installed: htop-3.3.0-1.el9.x86_64",
            "Installed: hwloc-libs-2.4.1-5.el9.x86_64",
            "Installed: lm_sensors-libs-3.6.0-10.el9.x86_64",
            "Installed: tmux-3.2a-5.el9_4.x86_64",
            "Removed: tmux-3.2a-5.el9.x86_64"
        ])
    );
    let sent = host.sent();
    assert_eq!(
        sent[2],
        "LC_ALL=C /usr/bin/dnf --assumeno '--exclude=kernel*' --security upgrade -- tmux 2>&1"
    );
    assert_eq!(sent.len(), 5);
}

#[tokio::test]
async fn latest_with_nothing_newer_changes_nothing() {
    let host = Recorded::new(&[(0, "dnf-probe.txt"), (0, "dnf4-nothing.txt")]);
    let r = run(
        "dnf",
        json!({"name": "tmux", "state": "latest"}),
        false,
        &host,
    )
    .await;
    assert_eq!(r["changed"], json!(false));
    assert_eq!(r["msg"], json!("Nothing to do"));
    assert_eq!(host.sent().len(), 2);
}

#[tokio::test]
async fn absent_removes_installed_names_only() {
    let host = Recorded::new(&[
        (0, "dnf-probe.txt"),
        (1, "dnf4-remove.txt"),
        (0, "dnf4-nothing.txt"),
    ]);
    let r = run(
        "dnf",
        json!({"name": ["tmux", "htop"], "state": "absent", "autoremove": true}),
        false,
        &host,
    )
    .await;
    assert_eq!(r["changed"], json!(true));
    assert_eq!(
        r["results"],
        json!([
            "no package matched: htop",
            "Removed: tmux-3.2a-5.el9.x86_64",
            "Removed: libutempter-1.2.1-6.el9.x86_64"
        ])
    );
    assert_eq!(
        host.sent()[2],
        "LC_ALL=C /usr/bin/dnf -y --setopt=clean_requirements_on_remove=True remove -- tmux 2>&1"
    );
    // Absent of what is not installed: no dnf at all.
    let only_htop = fixture("dnf-probe.txt").replace("tmux\t3.2a\t5.el9\t(none)\tx86_64\n", "");
    let host = Recorded::with_text(vec![(0, only_htop)]);
    let r = run(
        "dnf",
        json!({"name": ["tmux", "htop"], "state": "removed"}),
        false,
        &host,
    )
    .await;
    assert_eq!(r["changed"], json!(false));
    assert_eq!(r["msg"], json!("Nothing to do"));
    assert_eq!(
        r["results"],
        json!(["no package matched: tmux", "no package matched: htop"])
    );
    assert_eq!(host.sent().len(), 1);
}

#[tokio::test]
async fn a_name_no_repository_has_fails_as_ansible() {
    for out in ["dnf4-nomatch.txt", "dnf5-nomatch.txt"] {
        let probe = fixture("dnf-probe.txt").replace("htop", "nosuchpkg");
        let host = Recorded::with_text(vec![(0, probe), (1, fixture(out))]);
        let r = run("dnf", json!({"name": ["tmux", "nosuchpkg"]}), false, &host).await;
        assert_eq!(r["failed"], json!(true), "{out}");
        assert_eq!(
            r["msg"],
            json!("Failed to install some of the specified packages")
        );
        assert_eq!(r["failures"], json!(["No package nosuchpkg available."]));
        assert_eq!(r["rc"], json!(1));
        assert_eq!(host.sent().len(), 2, "nothing is run after the question");
    }
}

#[tokio::test]
async fn dnf5_tables_and_wrapped_names() {
    let t = herd_modules::packaging::dnf::parse_transaction(&fixture("dnf5-install.txt"));
    assert_eq!(
        t.install,
        [
            "htop-3.3.0-4.fc41.x86_64",
            "hwloc-libs-2.11.1-2.fc41.x86_64",
            "tmux-3.5a-1.fc41.x86_64"
        ]
    );
    assert_eq!(t.remove, ["tmux-3.4-12.fc41.x86_64"]);
    let t = herd_modules::packaging::dnf::parse_transaction(&fixture("dnf4-wrapped.txt"));
    assert_eq!(
        t.install,
        ["python3-some-very-long-package-name-for-wrapping-1:2.0.1-3.el9.noarch"]
    );
    let t = herd_modules::packaging::dnf::parse_transaction(&fixture("dnf4-nothing.txt"));
    assert_eq!(t, Default::default());
}

#[tokio::test]
async fn options_reach_dnf_quoted() {
    let host = Recorded::new(&[(0, "dnf-probe.txt"), (0, "dnf4-nothing.txt")]);
    run(
        "dnf",
        json!({"name": ["tmux", "htop"], "conf_file": "/etc/my dnf.conf", "installroot": "/mnt/root",
               "releasever": "9", "disablerepo": "*", "enablerepo": ["baseos", "appstream"],
               "install_weak_deps": false, "allowerasing": true, "nobest": true,
               "download_only": true, "download_dir": "/tmp/pkgs", "update_cache": true}),
        false,
        &host,
    )
    .await;
    assert_eq!(
        host.sent()[1],
        "LC_ALL=C /usr/bin/dnf --assumeno '--config=/etc/my dnf.conf' --installroot=/mnt/root --releasever=9 \
         '--disablerepo=*' --enablerepo=baseos --enablerepo=appstream --allowerasing \
         --setopt=install_weak_deps=False --nobest --downloadonly --downloaddir=/tmp/pkgs --refresh \
         install -- htop 2>&1"
    );
}

#[tokio::test]
async fn update_cache_alone_makes_the_cache() {
    let host = Recorded::with_text(vec![
        (0, "0\n@@herd-dnf@@\n/usr/bin/dnf\n".into()),
        (0, "Metadata cache created.\n".into()),
    ]);
    let r = run("dnf", json!({"update_cache": true}), false, &host).await;
    assert_eq!(r["msg"], json!("Cache updated"));
    assert_eq!(r["changed"], json!(false));
    assert_eq!(host.sent()[1], "LC_ALL=C /usr/bin/dnf makecache 2>&1");
}

#[tokio::test]
async fn only_root_may_change_packages() {
    let probe = fixture("dnf-probe.txt").replacen("0\n", "1000\n", 1);
    let host = Recorded::with_text(vec![(0, probe)]);
    let r = run("dnf", json!({"name": "htop"}), false, &host).await;
    assert_eq!(
        r["msg"],
        json!("This command has to be run under the root user.")
    );
    assert_eq!(r["results"], json!([]));
}

/// Argument errors, next to ansible's dnf (use_backend=dnf4 skips its
/// controller-side backend detection, which fails on a host without dnf).
#[test]
fn bad_arguments_as_ansible() {
    for args in [
        "name=tmux state=bogus",
        "name='tmux htop'",
        "name=tmux best=yes nobest=yes",
    ] {
        let h = common::herd_adhoc("dnf", &format!("{args} use_backend=dnf4"), &[]);
        let a = common::ansible_adhoc("dnf", &format!("{args} use_backend=dnf4"), &[]);
        let (h, a) = (
            String::from_utf8_lossy(&h.stdout).into_owned(),
            String::from_utf8_lossy(&a.stdout).into_owned(),
        );
        assert_eq!(h, a, "{args}");
        assert!(h.contains("FAILED!"), "{h}");
    }
    // ansible's dnf action runs the module as ansible.legacy.dnf, which
    // both tools name; the lists of supported names that follow differ.
    let prefix = "\"msg\": \"Unsupported parameters for (ansible.legacy.dnf) module: nme.";
    for out in [
        common::herd_adhoc("dnf", "name=tmux nme=x use_backend=dnf4", &[]),
        common::ansible_adhoc("dnf", "name=tmux nme=x use_backend=dnf4", &[]),
    ] {
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains(prefix), "{text}");
    }
    let h = common::herd_adhoc("yum", "name=tmux state=present autoremove=yes", &[]);
    assert!(String::from_utf8_lossy(&h.stdout)
        .contains("\"msg\": \"Autoremove should be used alone or with state=absent\""));
}
