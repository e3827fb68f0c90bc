//! yum_repository for real in temporary repository directories, each step
//! run by herd and by ansible's yum_repository side by side: the same
//! output (changed, repo, state, diff, messages), the same exit code, the
//! same files with the same modes.

mod common;

use std::path::Path;

fn listing(dir: &Path) -> Vec<(String, String, u32)> {
    use std::os::unix::fs::PermissionsExt;
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let p = e.path();
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read_to_string(&p).unwrap(),
                std::fs::metadata(&p).unwrap().permissions().mode() & 0o7777,
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn steps_match_ansible() {
    let h = tempfile::tempdir().unwrap();
    let a = tempfile::tempdir().unwrap();
    let (hd, ad) = (h.path().to_str().unwrap(), a.path().to_str().unwrap());
    let steps: &[(&str, &[&str])] = &[
        // New file, in check mode first (nothing written), then for real.
        ("name=epel description='EPEL repo' baseurl=http://x/,http://y/ gpgcheck=no", &["-C", "-D"]),
        ("name=epel description='EPEL repo' baseurl=http://x/,http://y/ gpgcheck=no", &["-D"]),
        // Present: no change.
        ("name=epel description='EPEL repo' baseurl=http://x/,http://y/ gpgcheck=no", &[]),
        // Drift, and a mode.
        ("name=epel description='EPEL repo' baseurl=http://x/ gpgcheck=yes priority=10 excludepkgs=a,b gpgkey=file:///k1,file:///k2 mode=0600", &["-D"]),
        ("name=epel description='EPEL repo' baseurl=http://x/ gpgcheck=yes priority=10 excludepkgs=a,b gpgkey=file:///k1,file:///k2 mode=0600", &[]),
        // A second repository in the same file, then the first one changed
        // again (its section moves to the end).
        ("name=second file=epel description=Two mirrorlist=http://m/ enabled=no validate_certs=no", &["-D"]),
        ("name=epel description='EPEL again' metalink=http://l/ skip_if_unavailable=yes", &["-D"]),
        // A file name that needs quoting.
        ("name=odd file='my repo' description='x y' baseurl=http://o/", &[]),
        // Absent: check mode, then for real; the last section deletes the file.
        ("name=epel state=absent", &["-C", "-D"]),
        ("name=epel state=absent", &["-D"]),
        ("name=epel state=absent", &[]),
        ("name=second file=epel state=absent", &["-D"]),
        // Bad arguments.
        ("name=x description=y", &[]),
        ("name=x baseurl=http://z/", &[]),
        ("name=x description=y baseurl=z state=gone", &[]),
        ("name=x description=y baseurl=z failovermethod=random", &[]),
    ];
    for (args, extra) in steps {
        let ho = common::herd_adhoc("yum_repository", &format!("{args} reposdir={hd}"), extra);
        let ao = common::ansible_adhoc("yum_repository", &format!("{args} reposdir={ad}"), extra);
        let ht = String::from_utf8_lossy(&ho.stdout).replace(hd, "DIR");
        let at = String::from_utf8_lossy(&ao.stdout).replace(ad, "DIR");
        assert_eq!(
            ht,
            at,
            "step {args} {extra:?}\nherd stderr: {}\nansible stderr: {}",
            String::from_utf8_lossy(&ho.stderr),
            String::from_utf8_lossy(&ao.stderr)
        );
        assert_eq!(ho.status.code(), ao.status.code(), "step {args}");
        assert_eq!(listing(h.path()), listing(a.path()), "files after {args}");
    }
    assert_eq!(
        listing(h.path()),
        vec![(
            "my repo.repo".to_string(),
            "[odd]\nbaseurl = http://o/\nname = x y\n\n".to_string(),
            0o644
        )]
    );
}

#[test]
fn a_missing_reposdir_fails_as_ansible() {
    let args = "name=x description=y baseurl=http://z/ reposdir=/nonexistent/yum.repos.d";
    let ho = common::herd_adhoc("yum_repository", args, &[]);
    let ao = common::ansible_adhoc("yum_repository", args, &[]);
    assert_eq!(
        String::from_utf8_lossy(&ho.stdout),
        String::from_utf8_lossy(&ao.stdout)
    );
    assert!(String::from_utf8_lossy(&ho.stdout)
        .contains("Repo directory '/nonexistent/yum.repos.d' does not exist."));
}

#[test]
fn an_existing_file_is_read_as_configparser_reads_it() {
    let h = tempfile::tempdir().unwrap();
    let a = tempfile::tempdir().unwrap();
    let text = "# managed by hand\n[base]\nName=Base\nBaseURL = http://b/\n  http://c/\ngpgcheck: 1\n\n[epel]\nname = old\n";
    for d in [&h, &a] {
        std::fs::write(d.path().join("base.repo"), text).unwrap();
    }
    let args = "name=epel file=base description=new baseurl=http://e/";
    let ho = common::herd_adhoc(
        "yum_repository",
        &format!("{args} reposdir={}", h.path().display()),
        &["-D"],
    );
    let ao = common::ansible_adhoc(
        "yum_repository",
        &format!("{args} reposdir={}", a.path().display()),
        &["-D"],
    );
    assert_eq!(
        String::from_utf8_lossy(&ho.stdout).replace(h.path().to_str().unwrap(), "DIR"),
        String::from_utf8_lossy(&ao.stdout).replace(a.path().to_str().unwrap(), "DIR")
    );
    assert_eq!(listing(h.path()), listing(a.path()));
}
