//! The ssh connection against a real sshd: commands behave as on the
//! local connection, files round-trip with awkward names and bytes.

mod support;

use std::sync::Arc;

use herd::connection::{Options, SshConnection, SshHost};
use herd_modules::api::{ExecOptions, Host, Source, StatElse};
use support::Sshd;

async fn host_with(sshd: &Sshd, persistent: bool) -> SshHost {
    let settings = sshd.settings();
    let options = Options {
        persistent_shell: persistent,
        ..Options::default()
    };
    let conn = SshConnection::open(&settings, &options)
        .await
        .expect("connect to the test sshd");
    SshHost::new("test", Arc::new(conn), &settings, &options)
}

async fn semantics(h: &SshHost) {
    let dir = format!("/tmp/herd ssh test {}", std::process::id());
    h.exec(&format!("mkdir -p '{dir}'"), &ExecOptions::default())
        .await
        .unwrap();
    let r = h
        .exec(
            "cat; printf ' %s %s' \"$X\" \"$(pwd)\"; echo err >&2; exit 3",
            &ExecOptions {
                stdin: Some(b"in".to_vec()),
                chdir: Some(dir.clone()),
                env: vec![("X".into(), "y 'z' $(no)".into())],
                timeout: None,
                own: false,
            },
        )
        .await
        .unwrap();
    assert_eq!(r.rc, 3);
    assert_eq!(r.stdout_text(), format!("in y 'z' $(no) {dir}"));
    assert_eq!(r.stderr_text(), "err\n");

    // A command reading stdin does not eat the next one.
    let r = h
        .exec("cat; echo done", &ExecOptions::default())
        .await
        .unwrap();
    assert_eq!((r.rc, r.stdout_text().as_str()), (0, "done\n"));
    let r = h
        .exec("echo second", &ExecOptions::default())
        .await
        .unwrap();
    assert_eq!(r.stdout_text(), "second\n");

    // cd, export and exit do not leak or end the session.
    h.exec("cd /; export LEAK=1; exit 7", &ExecOptions::default())
        .await
        .unwrap();
    let r = h
        .exec("echo \"[$LEAK]\"; pwd", &ExecOptions::default())
        .await
        .unwrap();
    assert_eq!(r.rc, 0);
    assert!(r.stdout_text().starts_with("[]\n"), "{}", r.stdout_text());

    // The shell's own variables are not visible to a command.
    let r = h
        .exec("echo \"[$s$i$r$x$p$k$n$D]\"", &ExecOptions::default())
        .await
        .unwrap();
    assert_eq!(r.stdout_text(), "[]\n");

    // A big script (past the line-mode limit) and one holding no final
    // newline both run.
    let big = format!("x='{}'\necho ${{#x}}", "a".repeat(200_000));
    let r = h.exec(&big, &ExecOptions::default()).await.unwrap();
    assert_eq!(r.stdout_text(), "200000\n");

    // A background child holding stdout does not hang the session.
    let t = std::time::Instant::now();
    let r = h
        .exec("sleep 20 & echo started", &ExecOptions::default())
        .await
        .unwrap();
    assert_eq!(r.stdout_text(), "started\n");
    assert!(t.elapsed().as_secs() < 10);

    // Output without a trailing newline, and binary output.
    let r = h
        .exec("printf 'a\\0b\\377'", &ExecOptions::default())
        .await
        .unwrap();
    assert_eq!(r.stdout, b"a\0b\xff");
    // stderr without a trailing newline, binary, interleaved with stdout;
    // a later command sees none of it.
    let r = h
        .exec(
            "printf o1; printf 'e\\0x' >&2; printf o2; printf y >&2",
            &ExecOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!((r.stdout, r.stderr), (b"o1o2".to_vec(), b"e\0xy".to_vec()));
    let r = h.exec("echo clean", &ExecOptions::default()).await.unwrap();
    assert_eq!(
        (r.stdout_text(), r.stderr_text()),
        ("clean\n".into(), "".into())
    );

    // A timeout kills the process group and is an error.
    let t = std::time::Instant::now();
    let e = h
        .exec(
            "sleep 30 & sleep 30",
            &ExecOptions {
                timeout: Some(1),
                ..ExecOptions::default()
            },
        )
        .await
        .unwrap_err();
    assert!(e.message.contains("timed out"), "{e}");
    assert!(!e.unreachable);
    assert!(t.elapsed().as_secs() < 10);
    // The session still works afterwards.
    let r = h.exec("echo alive", &ExecOptions::default()).await.unwrap();
    assert_eq!(r.stdout_text(), "alive\n");
    h.exec(&format!("rm -rf '{dir}'"), &ExecOptions::default())
        .await
        .unwrap();
}

#[tokio::test]
async fn exec_semantics_on_the_persistent_shell() {
    let sshd = Sshd::start();
    let h = host_with(&sshd, true).await;
    semantics(&h).await;
    h.close().await;
}

#[tokio::test]
async fn exec_semantics_with_a_channel_per_command() {
    let sshd = Sshd::start();
    let h = host_with(&sshd, false).await;
    semantics(&h).await;
}

#[tokio::test]
async fn large_stdin_and_output() {
    let sshd = Sshd::start();
    let h = host_with(&sshd, true).await;
    let data: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 % 256) as u8).collect();
    let r = h
        .exec(
            "cat",
            &ExecOptions {
                stdin: Some(data.clone()),
                ..ExecOptions::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(r.stdout.len(), data.len());
    assert!(r.stdout == data);

    // A bigger file both ways.
    let big: Vec<u8> = (0..20_000_000u32).map(|i| (i % 251) as u8).collect();
    let p = format!("/tmp/herd-big-{}", std::process::id());
    let t = std::time::Instant::now();
    h.write_file(&p, &big, None).await.unwrap();
    let back = h.read_file(&p).await.unwrap().unwrap();
    eprintln!("20 MB written and read in {:?}", t.elapsed());
    assert!(back == big);
    h.exec(&format!("rm -f {p}"), &ExecOptions::default())
        .await
        .unwrap();
}

#[tokio::test]
async fn files_round_trip_with_awkward_names() {
    let sshd = Sshd::start();
    let h = host_with(&sshd, true).await;
    let base = format!("/tmp/herd-files-{}", std::process::id());
    h.exec(&format!("mkdir -p {base}"), &ExecOptions::default())
        .await
        .unwrap();
    let names = [
        "plain",
        "with space",
        "quote's \"double\"",
        "$(touch pwned);x",
        "new\nline",
        "ünïcode",
        "-dash",
    ];
    let content: Vec<u8> = (0..=255u8).chain(b"\n\r\0end".iter().copied()).collect();
    for name in names {
        let p = format!("{base}/{name}");
        assert_eq!(h.read_file(&p).await.unwrap(), None, "{name}");
        assert_eq!(h.stat(&p, false).await.unwrap(), None, "{name}");
        h.write_file(&p, &content, Some(0o600)).await.unwrap();
        assert_eq!(
            h.read_file(&p).await.unwrap().as_deref(),
            Some(&content[..])
        );
        let st = h.stat(&p, false).await.unwrap().unwrap();
        assert_eq!(
            (st.kind.as_str(), st.mode, st.size),
            ("file", 0o600, content.len() as u64)
        );
        assert_eq!(st.owner, support::USER);
        // Small text travels inside the write script itself: every
        // awkward byte but NUL comes back unchanged, nothing is run.
        let text =
            "'one' \"two\" $(touch pwned) `touch pwned` %s %b \\n \\\\ \r\n\tün\n\nno newline";
        h.write_file(&p, text.as_bytes(), Some(0o600))
            .await
            .unwrap();
        assert_eq!(
            h.read_file(&p).await.unwrap().as_deref(),
            Some(text.as_bytes()),
            "{name}"
        );
        let st = h.stat(&p, false).await.unwrap().unwrap();
        assert_eq!((st.mode, st.size), (0o600, text.len() as u64));
    }
    let r = h
        .exec(
            &format!("find {base} -mindepth 1 -maxdepth 1 -printf x | wc -c; test -e pwned && echo PWNED"),
            &ExecOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(r.stdout_text().trim(), names.len().to_string());

    // Replacing a file keeps its mode.
    let p = format!("{base}/with space");
    h.exec(&format!("chmod 640 '{p}'"), &ExecOptions::default())
        .await
        .unwrap();
    h.write_file(&p, b"two", Some(0o600)).await.unwrap();
    let st = h.stat(&p, false).await.unwrap().unwrap();
    assert_eq!((st.mode, st.size), (0o640, 3));

    // Links, followed or not.
    let link = format!("{base}/link");
    h.exec(&format!("ln -s '{p}' {link}"), &ExecOptions::default())
        .await
        .unwrap();
    let st = h.stat(&link, false).await.unwrap().unwrap();
    assert_eq!(st.kind, "link");
    assert_eq!(st.link_target.as_deref(), Some(p.as_str()));
    let st = h.stat(&link, true).await.unwrap().unwrap();
    assert_eq!(st.kind, "file");
    let st = h.stat(&base, true).await.unwrap().unwrap();
    assert_eq!(st.kind, "directory");

    // Metadata and content in one request: what stat and read_file give.
    for (path, follow) in [(&p, false), (&link, false), (&link, true), (&base, true)] {
        let (st, data) = h.stat_read(path, follow, 100, true).await.unwrap().unwrap();
        assert_eq!(Some(&st), h.stat(path, follow).await.unwrap().as_ref());
        let want = if st.kind == "file" {
            h.read_file(path).await.unwrap()
        } else {
            None
        };
        assert_eq!(data, want, "{path} follow={follow}");
    }
    // Without names: the ids stand in for the owner and group, the rest
    // is the same.
    let named = h.stat(&p, false).await.unwrap().unwrap();
    assert_ne!(
        named.owner,
        named.uid.to_string(),
        "the test user has a name"
    );
    let (st, data) = h.stat_read(&p, false, 100, false).await.unwrap().unwrap();
    assert_eq!(
        (st.owner.clone(), st.group.clone()),
        (named.uid.to_string(), named.gid.to_string())
    );
    assert_eq!(
        (st.kind.as_str(), st.mode, st.size, st.uid, st.gid, st.mtime),
        (
            named.kind.as_str(),
            named.mode,
            named.size,
            named.uid,
            named.gid,
            named.mtime
        )
    );
    assert_eq!(data, h.read_file(&p).await.unwrap());
    let (_, data) = h.stat_read(&p, false, 2, true).await.unwrap().unwrap();
    assert_eq!(data, None, "bigger than max: not read");
    assert_eq!(
        h.stat_read(&format!("{base}/absent"), true, 9, true)
            .await
            .unwrap(),
        None
    );
    for name in names {
        let q = format!("{base}/{name}");
        let (st, data) = h
            .stat_read(&q, false, u64::MAX, true)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(data.as_deref(), h.read_file(&q).await.unwrap().as_deref());
        assert_eq!(
            (st.kind.as_str(), st.size),
            ("file", data.unwrap().len() as u64)
        );
    }
    h.exec(&format!("chmod 000 '{p}'"), &ExecOptions::default())
        .await
        .unwrap();
    let (st, data) = h.stat_read(&p, false, 100, true).await.unwrap().unwrap();
    assert_eq!((st.mode, data), (0, None), "unreadable: not read");
    h.exec(&format!("chmod 640 '{p}'"), &ExecOptions::default())
        .await
        .unwrap();

    // An action and the state it leaves, in one request: what the two
    // requests give.
    let no = ExecOptions::default();
    let d = format!("{base}/made");
    let (r, st) = h
        .exec_stat(&format!("mkdir -- '{d}' && echo made"), &no, &d, false)
        .await
        .unwrap();
    assert_eq!((r.rc, r.stdout_text().as_str()), (0, "made\n"));
    assert_eq!(st, h.stat(&d, false).await.unwrap());
    assert_eq!(st.unwrap().kind, "directory");
    // A failed action: its status and output, and no stat.
    let (r, st) = h
        .exec_stat("echo no >&2; exit 3", &no, &d, false)
        .await
        .unwrap();
    assert_eq!((r.rc, r.stderr_text().as_str(), st), (3, "no\n", None));
    // An action that ends the script itself is still followed by a stat.
    let (r, st) = h.exec_stat("exit 0", &no, &d, false).await.unwrap();
    assert_eq!((r.rc, st.map(|s| s.kind)), (0, Some("directory".into())));
    // A link followed or not, a missing path.
    for follow in [false, true] {
        let (_, st) = h.exec_stat("true", &no, &link, follow).await.unwrap();
        assert_eq!(st, h.stat(&link, follow).await.unwrap(), "follow={follow}");
    }
    let (r, st) = h
        .exec_stat("true", &no, &format!("{base}/absent"), false)
        .await
        .unwrap();
    assert_eq!((r.rc, st), (0, None));
    // Looking, and acting only when nothing is there, in one request.
    let m = format!("{base}/made if missing");
    let make = format!("mkdir -- '{m}' && echo made");
    match h.stat_else_exec(&m, false, &make, &no).await.unwrap() {
        StatElse::Ran(r, st) => {
            assert_eq!((r.rc, r.stdout_text().as_str()), (0, "made\n"));
            assert_eq!(st, h.stat(&m, false).await.unwrap());
        }
        other => panic!("made: {other:?}"),
    }
    match h.stat_else_exec(&m, false, &make, &no).await.unwrap() {
        StatElse::Found(st) => assert_eq!(Some(st), h.stat(&m, false).await.unwrap()),
        other => panic!("found: {other:?}"),
    }
    // A link is something there; followed, it is what it leads to.
    for follow in [false, true] {
        match h
            .stat_else_exec(&link, follow, "exit 9", &no)
            .await
            .unwrap()
        {
            StatElse::Found(st) => {
                assert_eq!(Some(st), h.stat(&link, follow).await.unwrap())
            }
            other => panic!("link follow={follow}: {other:?}"),
        }
    }
    // A failed command: its status and output, no stat.
    let never = format!("{base}/never");
    match h
        .stat_else_exec(&never, false, "echo no >&2; exit 3", &no)
        .await
        .unwrap()
    {
        StatElse::Ran(r, st) => assert_eq!((r.rc, r.stderr_text().as_str(), st), (3, "no\n", None)),
        other => panic!("failed: {other:?}"),
    }
    // The command runs as any other: its own input, none of the
    // driver's variables, and its cd, export and exit stay in it.
    let with_input = ExecOptions {
        stdin: Some(b"typed\n".to_vec()),
        ..ExecOptions::default()
    };
    let probe = "cat; echo \"${herd_k-none} ${D-none}\"; cd /; export LEAK=1; exit 0";
    match h
        .stat_else_exec(&never, false, probe, &with_input)
        .await
        .unwrap()
    {
        StatElse::Ran(r, st) => assert_eq!(
            (r.rc, r.stdout_text().as_str(), st),
            (0, "typed\nnone none\n", None)
        ),
        other => panic!("isolated: {other:?}"),
    }
    let r = h.exec("echo \"${LEAK-none}\"", &no).await.unwrap();
    assert_eq!(r.stdout_text(), "none\n");

    // A write and the file it made.
    let w = format!("{base}/written");
    let st = h
        .write_stat(&w, Source::Bytes(b"abc\n"), Some(0o600))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((st.kind.as_str(), st.mode, st.size), ("file", 0o600, 4));
    assert_eq!(Some(st), h.stat(&w, false).await.unwrap());
    assert_eq!(
        h.read_file(&w).await.unwrap().as_deref(),
        Some(&b"abc\n"[..])
    );
    assert!(h
        .write_stat(&format!("{base}/no/such"), Source::Bytes(b"x"), None)
        .await
        .is_err());

    // No temporary file is left behind.
    let r = h
        .exec(
            &format!("ls -A {base} | grep -c herd-"),
            &ExecOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(r.stdout_text().trim(), "0");
    h.exec(&format!("rm -rf {base}"), &ExecOptions::default())
        .await
        .unwrap();
}

#[tokio::test]
async fn many_commands_share_one_persistent_shell() {
    let sshd = Sshd::start();
    for persistent in [true, false] {
        let h = host_with(&sshd, persistent).await;
        let mut shells = std::collections::BTreeSet::new();
        for i in 0..100 {
            // `$$` is the shell's own process, also in a subshell.
            let r = h
                .exec(&format!("echo {i} $$"), &ExecOptions::default())
                .await
                .unwrap();
            let out = r.stdout_text();
            let (n, pid) = out.trim_end().split_once(' ').unwrap();
            assert_eq!(n, i.to_string());
            shells.insert(pid.to_string());
        }
        // One shell for all, or a channel and a shell per command.
        let want = if persistent { 1 } else { 100 };
        assert_eq!(shells.len(), want, "persistent={persistent}");
    }
}

/// herd's own scripts run in the persistent shell itself (a command they
/// start is its child), a user's in a subshell; both report status and
/// stderr alike, and an own script with an environment takes a subshell.
/// (With a channel per command every script has a shell of its own.)
#[tokio::test]
async fn own_scripts_run_without_a_fork() {
    let sshd = Sshd::start();
    let h = host_with(&sshd, true).await;
    let probe = "printf '%s ' $$; sh -c 'printf %s $PPID'; true";
    let parent = |opts: ExecOptions| {
        let h = &h;
        async move {
            let out = h.exec(probe, &opts).await.unwrap().stdout_text();
            let (shell, parent) = out.split_once(' ').unwrap();
            shell == parent
        }
    };
    assert!(parent(ExecOptions::own()).await);
    assert!(!parent(ExecOptions::default()).await);
    let with_env = ExecOptions {
        env: vec![("X".into(), "1".into())],
        ..ExecOptions::own()
    };
    assert!(!parent(with_env).await);
    let r = h
        .exec("mkdir -- /nonexistent/x", &ExecOptions::own())
        .await
        .unwrap();
    assert_ne!(r.rc, 0);
    assert!(r.stderr_text().contains("/nonexistent/x"), "{r:?}");
    // The shell is still there, and the user's commands do not see
    // the own script's scratch variable.
    h.exec("p=set", &ExecOptions::own()).await.unwrap();
    let r = h
        .exec("printf '%s' \"${p-unset}\"", &ExecOptions::default())
        .await
        .unwrap();
    assert_eq!(r.stdout_text(), "unset");
    h.close().await;
}

/// Small text is written by herd's own script in the driver (a new file
/// without a fork); whatever branch it takes, the session's umask is as
/// it was, and the user's commands do not see the script's variables.
#[tokio::test]
async fn small_writes_leave_the_sessions_umask_alone() {
    let sshd = Sshd::start();
    let h = host_with(&sshd, true).await;
    let no = ExecOptions::default();
    let umask = || async { h.exec("umask", &no).await.unwrap().stdout_text() };
    let before = umask().await;
    assert_eq!(before.trim().len(), 4, "{before:?}");
    let base = h.exec("mktemp -d", &no).await.unwrap().stdout_text();
    let base = base.trim();
    let mode = |p: String| {
        let h = &h;
        async move { h.stat(&p, false).await.unwrap().map(|s| s.mode) }
    };
    // New files: by the umask (0644, 0600), or through a rename (0755).
    for (name, want) in [
        ("plain", None),
        ("private", Some(0o600)),
        ("run", Some(0o755)),
    ] {
        let p = format!("{base}/{name}");
        h.write_file(&p, b"one\n", want).await.unwrap();
        assert_eq!(mode(p.clone()).await, Some(want.unwrap_or(0o644)), "{name}");
        assert_eq!(
            h.read_file(&p).await.unwrap().as_deref(),
            Some(&b"one\n"[..])
        );
        assert_eq!(umask().await, before, "after {name}");
    }
    // A file replaced keeps its mode; the state comes back with it.
    let p = format!("{base}/plain");
    h.exec(&format!("chmod 640 {p}"), &no).await.unwrap();
    let st = h
        .write_stat(&p, Source::Bytes(b"two\n"), None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((st.mode, st.size), (0o640, 4));
    assert_eq!(umask().await, before, "after a replacement");
    // A dangling link is replaced by the file.
    let link = format!("{base}/link");
    h.exec(&format!("ln -s {base}/nowhere {link}"), &no)
        .await
        .unwrap();
    h.write_file(&link, b"three\n", None).await.unwrap();
    let st = h.stat(&link, false).await.unwrap().unwrap();
    assert_eq!((st.kind.as_str(), st.mode), ("file", 0o644));
    assert_eq!(umask().await, before, "after a link");
    // A write that fails says where, and leaves the umask too.
    let e = h
        .write_file(&format!("{base}/missing/f"), b"x", None)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("missing/f"), "{e}");
    assert_eq!(umask().await, before, "after a failure");
    let r = h.exec("printf '%s' \"${x-unset}\"", &no).await.unwrap();
    assert_eq!(r.stdout_text(), "unset");
    h.exec(&format!("rm -rf {base}"), &no).await.unwrap();
    h.close().await;
}

#[tokio::test]
async fn a_fleet_of_hosts_on_one_sshd() {
    let sshd = Sshd::start();
    let settings = sshd.settings();
    let t = std::time::Instant::now();
    let mut tasks = Vec::new();
    for i in 0..40 {
        let s = settings.clone();
        tasks.push(tokio::spawn(async move {
            let name = format!("fleet{i}");
            let h = herd::connection::connect(&name, &s).await?;
            let mut out = String::new();
            for j in 0..5 {
                let r = h
                    .exec(&format!("echo {i}-{j}"), &ExecOptions::default())
                    .await?;
                out.push_str(&r.stdout_text());
            }
            Ok::<_, herd_modules::api::HostError>(out)
        }));
    }
    for (i, t) in tasks.into_iter().enumerate() {
        let out = t.await.unwrap().unwrap_or_else(|e| panic!("host {i}: {e}"));
        assert_eq!(out.lines().count(), 5);
        assert!(out.starts_with(&format!("{i}-0\n")));
    }
    eprintln!("40 hosts x 5 commands: {:?}", t.elapsed());
}

#[tokio::test]
async fn new_files_and_small_reads() {
    let sshd = Sshd::start();
    let h = host_with(&sshd, true).await;
    let no = ExecOptions::default();
    let base = format!("/tmp/herd-new-{}", std::process::id());
    h.exec(&format!("rm -rf {base}; mkdir -p {base}"), &no)
        .await
        .unwrap();
    // A new file gets the requested mode however it is made: small text
    // in place under a umask, other content through a temporary file,
    // execute and special bits by chmod.
    let cases: [(Option<u32>, &[u8]); 6] = [
        (None, b"text\n"),
        (Some(0o600), b"text\n"),
        (Some(0o400), b"read only\n"),
        (Some(0o755), b"#!/bin/sh\n"),
        (Some(0o4750), b"x"),
        (Some(0o640), b"bin\0ary"),
    ];
    for (mode, data) in cases {
        let p = format!("{base}/f{:o}-{}", mode.unwrap_or(0), data.len());
        h.write_file(&p, data, mode).await.unwrap();
        let st = h.stat(&p, false).await.unwrap().unwrap();
        assert_eq!(
            (st.mode, st.size),
            (mode.unwrap_or(0o644), data.len() as u64),
            "{p}"
        );
        assert_eq!(h.read_file(&p).await.unwrap().as_deref(), Some(data));
    }
    // A dangling link is replaced by the file; its target is not made.
    let link = format!("{base}/dangling");
    h.exec(&format!("ln -s {base}/target {link}"), &no)
        .await
        .unwrap();
    h.write_file(&link, b"new\n", None).await.unwrap();
    assert_eq!(h.stat(&link, false).await.unwrap().unwrap().kind, "file");
    assert_eq!(
        h.stat(&format!("{base}/target"), false).await.unwrap(),
        None
    );
    // A write that cannot be made fails and leaves nothing.
    h.exec(&format!("mkdir {base}/ro && chmod 555 {base}/ro"), &no)
        .await
        .unwrap();
    assert!(h
        .write_file(&format!("{base}/ro/f"), b"x\n", None)
        .await
        .is_err());
    let r = h.exec(&format!("ls -A {base}/ro"), &no).await.unwrap();
    assert_eq!(r.stdout_text(), "");

    // Small files are read by the shell itself, bigger ones by cat; the
    // content comes back exact either way. The shell cannot carry a NUL:
    // such a file is reported as not read along.
    let mut awkward = b"\\n \\\\ \r\n\tx  \n".repeat(80);
    awkward.truncate(1024);
    let reads: [(&str, Vec<u8>); 7] = [
        ("empty", vec![]),
        ("newline", b"\n".to_vec()),
        ("no-eol", b"x\n\ny".to_vec()),
        ("at-limit", awkward.clone()),
        ("over-limit", [&awkward[..], b"z"].concat()),
        ("nul", b"a\0b\n".to_vec()),
        ("big-nul", [&awkward[..], b"\0"].concat()),
    ];
    for (name, data) in reads {
        let p = format!("{base}/{name}");
        h.write_file(&p, &data, None).await.unwrap();
        let (st, got) = h
            .stat_read(&p, false, 1 << 20, true)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(st.size, data.len() as u64, "{name}");
        let want = (name != "nul").then_some(data);
        assert_eq!(got, want, "{name}");
    }
    h.exec(&format!("chmod -R u+w {base}; rm -rf {base}"), &no)
        .await
        .unwrap();
}
