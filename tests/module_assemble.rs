//! assemble step by step, through `herd adhoc` and ansible's assemble on
//! two copies of the same fragments; results and files must be the same.

mod common;

#[test]
fn assemble_steps_match_ansible() {
    let dir = tempfile::tempdir().unwrap();
    let frag = dir.path().join("frag d");
    std::fs::create_dir_all(frag.join("sub")).unwrap();
    for (name, text) in [
        ("01-a", "one\n"),
        ("02-b", "two"),
        (".hidden", "h\n"),
        ("10 c.conf", "x\n"),
    ] {
        std::fs::write(frag.join(name), text).unwrap();
    }
    let (h, a) = (dir.path().join("h"), dir.path().join("a"));
    for d in [&h, &a] {
        std::fs::create_dir(d).unwrap();
    }
    let src = format!("src='{}'", frag.display());
    let steps: Vec<(String, &[&str])> = vec![
        (src.clone(), &["-C"]),
        (src.clone(), &[]),
        (src.clone(), &[]),
        (format!("{src} ignore_hidden=yes delimiter='### part'"), &[]),
        (format!("{src} regexp='^0' mode=0600"), &[]),
        (format!("{src} regexp='^0' mode=0600 backup=yes"), &[]),
        (format!("src='{}/none'", dir.path().display()), &[]),
        (format!("src='{}/01-a'", frag.display()), &[]),
        (format!("{src} validate='false %s'"), &[]),
        (format!("{src} validate='true'"), &[]),
    ];
    for (args, extra) in &steps {
        let run = |d: &std::path::Path, adhoc: fn(&str, &str, &[&str]) -> std::process::Output| {
            let ds = d.display().to_string();
            let out = adhoc("assemble", &format!("{args} dest={ds}/out"), extra);
            let text = String::from_utf8_lossy(&out.stdout).replace(&ds, "DIR");
            // Backup names hold a process id and a time.
            let text: Vec<String> = text
                .lines()
                .map(|l| {
                    if l.contains("\"backup_file\"") {
                        "backup".into()
                    } else {
                        l.to_string()
                    }
                })
                .collect();
            (text, out.status.code())
        };
        let ho = run(&h, common::herd_adhoc);
        let ao = run(&a, common::ansible_adhoc);
        assert_eq!(ho, ao, "step {args} {extra:?}");
        let read = |d: &std::path::Path| std::fs::read(d.join("out")).ok();
        assert_eq!(read(&h), read(&a), "file after step {args}");
    }
    // The last step that wrote took the fragments named 0*.
    assert_eq!(std::fs::read_to_string(h.join("out")).unwrap(), "one\ntwo");
}
