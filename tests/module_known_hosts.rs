//! known_hosts step by step: each step runs through `herd adhoc` on one
//! file and through ansible's known_hosts on another; the results and the
//! files must be the same (`ssh-keygen` on the host, as both use it).

mod common;

const K1: &str =
    "example.org ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHX9yXq3a6GfTq9nRlH1l6mPl8ZJ0sQ1Jq0m7HkQx9bB";
const K2: &str =
    "example.org ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKy3s0d4yQkq7Wm3fQ3aZB5Zt5YqT9D1dG0m8a1y2n3c";

#[test]
fn known_hosts_steps_match_ansible() {
    let dir = tempfile::tempdir().unwrap();
    let (h, a) = (dir.path().join("h"), dir.path().join("a"));
    for d in [&h, &a] {
        std::fs::create_dir(d).unwrap();
        std::fs::write(d.join("kh"), "other.org ssh-rsa AAAAB3other\n").unwrap();
    }
    let steps: Vec<(String, &[&str])> = vec![
        (format!("name=example.org key='{K1}'"), &["-C"]),
        (format!("name=example.org key='{K1}'"), &[]),
        (format!("name=example.org key='{K1}'"), &[]),
        (format!("name=EXAMPLE.org key='{K2}'"), &[]),
        (format!("name=example.org key='{K1}' state=absent"), &[]),
        (format!("name=example.org key='{K2}' state=absent"), &["-C"]),
        (format!("name=example.org key='{K2}' state=absent"), &[]),
        ("name=other.org state=absent".into(), &[]),
        ("name=other.org state=absent".into(), &[]),
        (format!("name=wrong.org key='{K1}'"), &[]),
        (format!("name=a,b key='{K1}'"), &[]),
        ("name=example.org".into(), &[]),
        (
            "name=fresh.org key='fresh.org ssh-rsa AAAAB3x' path=DIR/fresh".into(),
            &[],
        ),
    ];
    for (args, extra) in &steps {
        let run = |d: &std::path::Path, adhoc: fn(&str, &str, &[&str]) -> std::process::Output| {
            let d = d.display().to_string();
            let args = if args.contains("path=") {
                args.replace("DIR", &d)
            } else {
                format!("{args} path={d}/kh")
            };
            let out = adhoc("known_hosts", &args, extra);
            (
                String::from_utf8_lossy(&out.stdout).replace(&d, "DIR"),
                out.status.code(),
            )
        };
        let ho = run(&h, common::herd_adhoc);
        let ao = run(&a, common::ansible_adhoc);
        assert_eq!(ho, ao, "step {args} {extra:?}");
        for f in ["kh", "fresh"] {
            let read = |d: &std::path::Path| std::fs::read_to_string(d.join(f)).ok();
            assert_eq!(read(&h), read(&a), "{f} after step {args}");
        }
    }
}

#[test]
fn hashed_entries_are_found_and_kept() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("kh").display().to_string();
    let args = format!("name=example.org key='{K1}' hash_host=yes path={p}");
    let out = common::herd_adhoc("known_hosts", &args, &[]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("CHANGED"));
    let text = std::fs::read_to_string(&p).unwrap();
    assert!(text.starts_with("|1|") && text.ends_with(" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHX9yXq3a6GfTq9nRlH1l6mPl8ZJ0sQ1Jq0m7HkQx9bB\n"), "{text}");
    // The hashed line is found again: no change, the hash is kept.
    let out = common::herd_adhoc("known_hosts", &args, &[]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("SUCCESS"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(std::fs::read_to_string(&p).unwrap(), text);
    let out = common::herd_adhoc(
        "known_hosts",
        &format!("name=example.org state=absent path={p}"),
        &[],
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("CHANGED"));
    assert_eq!(std::fs::read_to_string(&p).unwrap(), "");
}
