//! `herd playbook` as a command: help, version, configuration, exit codes.

mod common;

use std::process::Command;

fn herd() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_herd"));
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("ANSIBLE_") {
            cmd.env_remove(k);
        }
    }
    cmd
}

#[test]
fn version_and_help() {
    let out = herd().arg("--version").output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("herd "));
    for args in [
        &["--help"][..],
        &["playbook", "--help"],
        &["inventory", "--help"],
    ] {
        let out = herd().args(args).output().unwrap();
        assert!(out.status.success(), "{args:?}");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("Usage: herd"),
            "{args:?}"
        );
    }
    let out = herd()
        .args(["playbook", "--no-such-flag", "x.yml"])
        .output()
        .unwrap();
    // argparse's exit code, as ansible-playbook's.
    assert_eq!(out.status.code(), Some(2));
}

/// Custom modules are found in the configured library paths
/// (`ANSIBLE_LIBRARY`, `library` in ansible.cfg) as well as in `library/`.
#[test]
fn library_paths_make_custom_modules_known() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    common::write(
        root,
        "pb/site.yml",
        "- hosts: all\n  tasks:\n    - my_mod: {x: 1}\n",
    );
    common::write(root, "mods/my_mod.sh", "#!/bin/sh\necho '{}'\n");
    let run = |env: Option<(&str, String)>| {
        let mut cmd = herd();
        cmd.current_dir(root).args([
            "playbook",
            "-i",
            "localhost,",
            "--syntax-check",
            "pb/site.yml",
        ]);
        if let Some((k, v)) = env {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    };
    let out = run(None);
    assert_eq!(
        out.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(Some((
        "ANSIBLE_LIBRARY",
        root.join("mods").display().to_string(),
    )));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    common::write(root, "ansible.cfg", "[defaults]\nlibrary = mods\n");
    let out = run(None);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A missing playbook, a --limit that leaves nothing: exit 1, as
/// ansible-playbook.
#[test]
fn early_errors_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    common::write(root, "site.yml", "- hosts: all\n  tasks: []\n");
    common::write(root, "hosts.ini", "[web]\nweb1\n");
    let out = herd()
        .current_dir(root)
        .args(["playbook", "-i", "hosts.ini", "nope.yml", "--list-hosts"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("the playbook: nope.yml could not be found")
    );
    let out = herd()
        .current_dir(root)
        .args([
            "playbook",
            "-i",
            "hosts.ini",
            "site.yml",
            "--list-hosts",
            "-l",
            "db",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("leaves us with no hosts to target"));
}

/// An error that ends the run once a play has begun (here an unknown
/// strategy) comes after the play's header, with no recap, as
/// ansible-playbook prints it.
#[test]
fn a_play_that_cannot_run_is_named_and_has_no_recap() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    common::write(
        root,
        "site.yml",
        "- hosts: all\n  gather_facts: false\n  strategy: bogus\n  tasks:\n    - debug: msg=hi\n",
    );
    common::write(root, "hosts.ini", "localhost ansible_connection=local\n");
    let out = herd()
        .current_dir(root)
        .args(["playbook", "-i", "hosts.ini", "site.yml"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout.contains("PLAY [all]"), "{stdout}");
    assert!(!stdout.contains("PLAY RECAP"), "{stdout}");
    assert!(String::from_utf8_lossy(&out.stderr)
        .starts_with("[ERROR]: Invalid play strategy specified: bogus"));
}

/// `-v` names the configuration file first on stdout, as
/// `ansible-playbook -v` does, and says so when there is none.
#[test]
fn verbose_names_the_config_file_first() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    common::write(root, "site.yml", "- hosts: all\n  tasks: []\n");
    let run = |cwd: &std::path::Path| {
        let out = herd()
            .current_dir(cwd)
            .env("HOME", root)
            .args(["playbook", "-v", "-i", "localhost,", "--syntax-check"])
            .arg(root.join("site.yml"))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let none = run(root);
    assert!(
        none.starts_with("No config file found; using defaults\n"),
        "{none}"
    );
    common::write(root, "cfg/ansible.cfg", "[defaults]\nforks = 3\n");
    let cfg = root.join("cfg");
    let found = run(&cfg);
    assert!(
        found.starts_with(&format!(
            "Using {} as config file\n",
            cfg.join("ansible.cfg").display()
        )),
        "{found}"
    );
}

/// A module leaves out of its result what nobody sees (a made
/// directory's mode when the task is not registered and the output shows
/// no results), but every output that shows results, and every register,
/// gets the whole result.
/// The stat module runs file(1), the checksum and lsattr(1) only for
/// what the project reads of its registered result: wrappers on PATH log
/// each run.
#[test]
fn stat_looks_only_for_what_the_project_reads() {
    let case = |stat_args: &str, reads: &str, template: Option<&str>| {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let bin = root.join("bin");
        let log = root.join("ran.log");
        for tool in ["file", "sha1sum", "lsattr"] {
            common::write(
                &bin,
                tool,
                &format!(
                    "#!/bin/sh\necho {tool} >> {}\nexec /usr/bin/{tool} \"$@\"\n",
                    log.display()
                ),
            );
            let p = bin.join(tool);
            std::fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(0o755))
                .unwrap();
        }
        common::write(root, "f", "some text\n");
        let mut tasks = format!(
            "    - stat: path={}/f {stat_args}\n      register: st\n{reads}",
            root.display()
        );
        if let Some(t) = template {
            common::write(&root.join("templates"), "t.j2", t);
            tasks += &format!("    - template: src=t.j2 dest={}/out\n", root.display());
        }
        common::write(
            root,
            "site.yml",
            &format!(
                "- hosts: all\n  gather_facts: false\n  environment:\n    PATH: \"{}:/usr/bin:/bin\"\n  tasks:\n{tasks}",
                bin.display()
            ),
        );
        let o = herd()
            .current_dir(root)
            .args(["playbook", "-i", "localhost,", "-c", "local", "site.yml"])
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&o.stdout).into_owned();
        assert_eq!(o.status.code(), Some(0), "{stdout}");
        let mut ran: Vec<String> = std::fs::read_to_string(&log)
            .unwrap_or_default()
            .lines()
            .map(String::from)
            .collect();
        ran.sort();
        (ran, stdout)
    };
    let size = "    - assert:\n        that: st.stat.exists and st.stat.size > 0\n";
    let (ran, _) = case("", size, None);
    assert!(ran.is_empty(), "{ran:?}");
    // Asked for by name.
    let (ran, _) = case("get_mime=true", size, None);
    assert_eq!(ran, ["file"]);
    // A template file reads the checksum.
    let (ran, _) = case("", "", Some("{{ st.stat.checksum }}\n"));
    assert_eq!(ran, ["sha1sum"]);
    // The whole result.
    let (ran, stdout) = case("", "    - debug: var=st\n", None);
    assert_eq!(ran, ["file", "lsattr", "sha1sum"]);
    assert!(stdout.contains("\"mimetype\": \"text/plain\""), "{stdout}");
}

#[test]
fn results_that_are_shown_or_registered_are_whole() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    common::write(
        root,
        "site.yml",
        "- hosts: all\n  gather_facts: false\n  tasks:\n\
         \x20   - file: path={{ out }}/a state=directory\n\
         \x20   - file: path={{ out }}/b state=directory\n\
         \x20     register: b\n\
         \x20   - debug: msg=\"mode of b {{ b.mode }}\"\n",
    );
    let run = |name: &str, flags: &[&str]| {
        let out = root.join(name);
        let o = herd()
            .current_dir(root)
            .args(["playbook", "-i", "localhost,", "-c", "local", "site.yml"])
            .arg("-e")
            .arg(format!("out={}", out.display()))
            .args(flags)
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&o.stdout).into_owned();
        assert_eq!(o.status.code(), Some(0), "{flags:?}: {stdout}");
        assert!(
            out.join("a").is_dir() && out.join("b").is_dir(),
            "{flags:?}"
        );
        (stdout, out.display().to_string())
    };
    // Registered: whole at every verbosity.
    let (stdout, _) = run("quiet", &[]);
    assert!(stdout.contains("\"msg\": \"mode of b 0"), "{stdout}");
    // Shown at -v: the unregistered task's result is whole too.
    let (stdout, out) = run("verbose", &["-v"]);
    let line = stdout
        .lines()
        .find(|l| l.contains(&format!("\"path\": \"{out}/a\"")))
        .unwrap_or_else(|| panic!("no result line for a: {stdout}"));
    assert!(line.contains("\"mode\": \"0"), "{line}");
    // The JSON output shows every result.
    let (stdout, out) = run("json", &["--format", "json"]);
    let doc: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let first = &doc["plays"][0]["tasks"][0]["hosts"]["localhost"];
    assert_eq!(first["path"], format!("{out}/a"), "{first}");
    assert!(first["mode"].is_string(), "{first}");
}
