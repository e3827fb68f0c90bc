//! `herd vault` against the real ansible-vault: what one encrypts the
//! other opens, in both directions and both formats, and the errors,
//! messages and exit codes are ansible-vault's. Also the vault password
//! flags of `herd playbook`, `herd adhoc` and `herd inventory`.

mod common;

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

/// A scratch project: password files, a password script, a client
/// script, an editor script, and a TMPDIR of its own.
struct Project {
    _dir: tempfile::TempDir,
    root: PathBuf,
}

impl Project {
    fn new() -> Project {
        let dir = tempfile::tempdir().expect("temp dir");
        // Canonical, as ansible-vault names files by their real path.
        let root = std::fs::canonicalize(dir.path()).expect("canonical temp dir");
        let p = Project { _dir: dir, root };
        p.write("pw1", "secret-one\n");
        p.write("pw2", "secret-two\n");
        p.write("pw3", "secret-three\n");
        p.script("pw.sh", "#!/bin/sh\necho from-script\n");
        p.script(
            "keys-client.sh",
            "#!/bin/sh\n[ \"$1\" = --vault-id ] || exit 9\ncase $2 in ops) echo ops-pw;; *) echo \"no key for $2\" >&2; exit 2;; esac\n",
        );
        // Appends a line to the file it is given; the text comes from
        // $LINE so each run can add something new.
        p.script("append.sh", "#!/bin/sh\necho \"$LINE\" >> \"$1\"\n");
        p.script("noop.sh", "#!/bin/sh\nexit 0\n");
        // As ctrl-c and a closed terminal reach herd while it waits.
        p.script(
            "interrupt.sh",
            "#!/bin/sh\nkill -INT $PPID\nkill -HUP $PPID\nsleep 0.2\necho \"$LINE\" >> \"$1\"\n",
        );
        std::fs::create_dir(p.path("tmp")).expect("mkdir tmp");
        p
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    fn write(&self, rel: &str, text: &str) {
        common::write(&self.root, rel, text);
    }

    fn read(&self, rel: &str) -> Vec<u8> {
        std::fs::read(self.path(rel)).expect("read project file")
    }

    fn script(&self, rel: &str, text: &str) {
        self.write(rel, text);
        std::fs::set_permissions(self.path(rel), std::fs::Permissions::from_mode(0o755))
            .expect("chmod script");
    }

    fn mode(&self, rel: &str) -> u32 {
        std::fs::metadata(self.path(rel))
            .expect("stat")
            .permissions()
            .mode()
            & 0o777
    }

    /// `herd ARGS` in the project, with no ANSIBLE_* settings, no editor
    /// or pager from the caller, and TMPDIR inside the project.
    fn herd(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_herd"));
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("ANSIBLE_") {
                cmd.env_remove(k);
            }
        }
        cmd.env_remove("EDITOR")
            .env_remove("PAGER")
            .env("NO_COLOR", "1")
            .env("TMPDIR", self.path("tmp"))
            .current_dir(&self.root)
            .args(args);
        cmd
    }

    /// The real `ansible-vault ARGS` in the project.
    fn ansible_vault(&self, args: &[&str]) -> Command {
        let mut cmd = common::ansible_command("ansible-vault");
        cmd.env_remove("EDITOR")
            .env_remove("PAGER")
            .current_dir(&self.root)
            .args(args);
        cmd
    }

    /// What is left in the TMPDIR herd was given.
    fn temp_entries(&self) -> Vec<String> {
        std::fs::read_dir(self.path("tmp"))
            .expect("read tmp")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect()
    }
}

/// Runs a command, feeding `stdin` (or nothing).
fn run(mut cmd: Command, stdin: Option<&[u8]>) -> Output {
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn");
    if let Some(data) = stdin {
        child
            .stdin
            .take()
            .expect("piped stdin")
            .write_all(data)
            .expect("write stdin");
    }
    child.wait_with_output().expect("wait")
}

fn ok(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what} failed ({:?})\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The `[ERROR]` and `[WARNING]` lines of stderr (herd adds a hint after
/// them, which ansible-vault does not have).
fn problems(out: &Output) -> Vec<String> {
    stderr(out)
        .lines()
        .filter(|l| l.starts_with("[ERROR]") || l.starts_with("[WARNING]"))
        .map(String::from)
        .collect()
}

fn first_line(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .lines()
        .next()
        .unwrap_or("")
        .to_string()
}

#[test]
fn files_ansible_vault_encrypted_open_in_herd() {
    let p = Project::new();
    let cases = [
        ("a.yml", "a: 1\n", "--vault-password-file", "pw1"),
        ("b.yml", "b: two\n", "--vault-id", "prod@pw2"),
        ("c.yml", "c: [3]\n", "--vault-id", "dev@pw.sh"),
        (
            "d.yml",
            "no newline at the end",
            "--vault-id",
            "ops@keys-client.sh",
        ),
    ];
    for (file, text, flag, value) in cases {
        p.write(file, text);
        ok(
            &run(p.ansible_vault(&["encrypt", flag, value, file]), None),
            "ansible-vault encrypt",
        );
    }
    assert_eq!(first_line(&p.read("a.yml")), "$ANSIBLE_VAULT;1.1;AES256");
    assert_eq!(
        first_line(&p.read("b.yml")),
        "$ANSIBLE_VAULT;1.2;AES256;prod"
    );
    assert_eq!(
        first_line(&p.read("d.yml")),
        "$ANSIBLE_VAULT;1.2;AES256;ops"
    );

    let all_secrets = [
        "--vault-password-file",
        "pw1",
        "--vault-id",
        "prod@pw2",
        "--vault-id",
        "dev@pw.sh",
        "--vault-id",
        "ops@keys-client.sh",
    ];
    let mut args = vec!["vault", "view"];
    args.extend(all_secrets);
    args.extend(["a.yml", "b.yml", "c.yml", "d.yml"]);
    let out = run(p.herd(&args), None);
    ok(&out, "herd vault view");
    // view adds the missing final newline, as ansible-vault does.
    assert_eq!(
        stdout(&out),
        "a: 1\nb: two\nc: [3]\nno newline at the end\n"
    );

    // Each alone, with only its own secret, through decrypt to stdout
    // and in place.
    for (file, text, flag, value) in cases {
        let out = run(
            p.herd(&["vault", "decrypt", flag, value, "--output", "-", file]),
            None,
        );
        ok(&out, "herd vault decrypt --output -");
        assert_eq!(stdout(&out), text);
    }
    let out = run(
        p.herd(&["vault", "decrypt", "--vault-id", "prod@pw2", "b.yml"]),
        None,
    );
    ok(&out, "herd vault decrypt in place");
    assert_eq!(p.read("b.yml"), b"b: two\n");
    assert_eq!(p.mode("b.yml"), 0o600, "a file vault writes is private");

    // Standard input to standard output.
    let vaulted = p.read("a.yml");
    let out = run(
        p.herd(&["vault", "decrypt", "--vault-password-file", "pw1"]),
        Some(&vaulted),
    );
    ok(&out, "herd vault decrypt from stdin");
    assert_eq!(stdout(&out), "a: 1\n");
    // Not a terminal: no "Decryption successful" (as ansible-vault).
    assert_eq!(stderr(&out), "");
}

#[test]
fn files_herd_encrypts_open_in_ansible_vault() {
    let p = Project::new();
    p.write("plain.yml", "user: admin\npassword: hunter2\n");
    std::fs::set_permissions(p.path("plain.yml"), std::fs::Permissions::from_mode(0o644)).unwrap();
    p.write("labelled.yml", "label: yes\n");
    let out = run(
        p.herd(&[
            "vault",
            "encrypt",
            "--vault-password-file",
            "pw1",
            "plain.yml",
        ]),
        None,
    );
    ok(&out, "herd vault encrypt");
    assert_eq!(
        first_line(&p.read("plain.yml")),
        "$ANSIBLE_VAULT;1.1;AES256"
    );
    assert_eq!(p.mode("plain.yml"), 0o600, "as ansible-vault: 0600");
    let text = String::from_utf8(p.read("plain.yml")).unwrap();
    assert!(text.ends_with('\n') && text.lines().skip(1).all(|l| l.len() <= 80));

    let out = run(
        p.herd(&[
            "vault",
            "encrypt",
            "--vault-id",
            "one@pw1",
            "--vault-id",
            "two@pw2",
            "--encrypt-vault-id",
            "two",
            "labelled.yml",
        ]),
        None,
    );
    ok(&out, "herd vault encrypt --encrypt-vault-id");
    assert_eq!(
        first_line(&p.read("labelled.yml")),
        "$ANSIBLE_VAULT;1.2;AES256;two"
    );

    // Standard input to a named output file.
    let out = run(
        p.herd(&[
            "vault",
            "encrypt",
            "--vault-id",
            "in@pw.sh",
            "--output",
            "from_stdin.yml",
        ]),
        Some(b"piped: true\n"),
    );
    ok(&out, "herd vault encrypt from stdin");
    assert_eq!(stdout(&out), "");

    for (file, flag, value, text) in [
        (
            "plain.yml",
            "--vault-password-file",
            "pw1",
            "user: admin\npassword: hunter2\n",
        ),
        ("labelled.yml", "--vault-id", "two@pw2", "label: yes\n"),
        ("from_stdin.yml", "--vault-id", "in@pw.sh", "piped: true\n"),
    ] {
        let out = run(p.ansible_vault(&["view", flag, value, file]), None);
        ok(&out, "ansible-vault view");
        assert_eq!(stdout(&out), text, "{file}");
    }
}

/// The `!vault |` blocks of encrypt_string's output: (name, vault text).
fn vault_blocks(text: &str) -> Vec<(Option<String>, String)> {
    let mut blocks: Vec<(Option<String>, String)> = Vec::new();
    for line in text.lines() {
        if let Some(body) = line.strip_prefix("          ") {
            let last = blocks.last_mut().expect("a block header first");
            last.1.push_str(body);
            last.1.push('\n');
        } else if line == "!vault |" {
            blocks.push((None, String::new()));
        } else {
            let name = line
                .strip_suffix(": !vault |")
                .unwrap_or_else(|| panic!("unexpected line {line:?} in\n{text}"));
            blocks.push((Some(name.to_string()), String::new()));
        }
    }
    blocks
}

#[test]
fn encrypt_string_output_opens_in_ansible_vault() {
    let p = Project::new();
    let args = [
        "encrypt_string",
        "--vault-password-file",
        "pw1",
        "-n",
        "db_password",
        "-n",
        "api_key",
        "same",
        "same",
        "third",
    ];
    let mut herd_args = vec!["vault"];
    herd_args.extend(args);
    let out = run(p.herd(&herd_args), None);
    ok(&out, "herd vault encrypt_string");
    let text = stdout(&out);
    assert!(text.ends_with('\n'), "{text}");
    let blocks = vault_blocks(&text);
    let names: Vec<Option<&str>> = blocks.iter().map(|b| b.0.as_deref()).collect();
    assert_eq!(names, [Some("db_password"), Some("api_key"), None]);
    assert_ne!(blocks[0].1, blocks[1].1, "each string gets its own salt");
    for ((_, vaulted), plain) in blocks.iter().zip(["same", "same", "third"]) {
        assert!(vaulted.starts_with("$ANSIBLE_VAULT;1.1;AES256\n"));
        let out = run(
            p.ansible_vault(&["decrypt", "--vault-password-file", "pw1"]),
            Some(vaulted.as_bytes()),
        );
        ok(&out, "ansible-vault decrypt of a herd string");
        assert_eq!(stdout(&out), plain);
    }
    // The notes on stderr are ansible-vault's, word for word.
    let theirs = run(p.ansible_vault(&args), None);
    ok(&theirs, "ansible-vault encrypt_string");
    assert_eq!(stderr(&out), stderr(&theirs));
    assert_eq!(
        vault_blocks(&stdout(&theirs))
            .iter()
            .map(|b| b.0.clone())
            .collect::<Vec<_>>(),
        blocks.iter().map(|b| b.0.clone()).collect::<Vec<_>>()
    );

    // --stdin-name: the piped text is the first string, named.
    let args = [
        "encrypt_string",
        "--vault-id",
        "app@pw2",
        "--stdin-name",
        "from_pipe",
        "arg-string",
    ];
    let mut herd_args = vec!["vault"];
    herd_args.extend(args);
    let out = run(p.herd(&herd_args), Some(b"piped secret"));
    ok(&out, "herd vault encrypt_string --stdin-name");
    let blocks = vault_blocks(&stdout(&out));
    assert_eq!(blocks.len(), 2);
    assert_eq!(blocks[0].0.as_deref(), Some("from_pipe"));
    assert_eq!(blocks[1].0, None);
    assert!(blocks[0].1.starts_with("$ANSIBLE_VAULT;1.2;AES256;app\n"));
    for ((_, vaulted), plain) in blocks.iter().zip(["piped secret", "arg-string"]) {
        let out = run(
            p.ansible_vault(&["decrypt", "--vault-id", "app@pw2"]),
            Some(vaulted.as_bytes()),
        );
        ok(&out, "ansible-vault decrypt");
        assert_eq!(stdout(&out), plain);
    }
    let theirs = run(p.ansible_vault(&args), Some(b"piped secret"));
    assert_eq!(stderr(&out), stderr(&theirs));

    // Nothing but stdin, no name: a bare `!vault |` block.
    let out = run(
        p.herd(&["vault", "encrypt_string", "--vault-password-file", "pw1"]),
        Some(b"only stdin"),
    );
    ok(&out, "herd vault encrypt_string from stdin");
    let text = stdout(&out);
    assert!(text.starts_with("!vault |\n          $ANSIBLE_VAULT;1.1;AES256\n"));
    assert_eq!(stderr(&out), "");
}

#[test]
fn create_and_edit_run_the_editor_on_a_private_copy() {
    let p = Project::new();
    let editor = p.path("append.sh").display().to_string();
    // create, with an editor command line that has an argument of its own
    // (split as a shell would).
    let mut cmd = p.herd(&[
        "vault",
        "create",
        "--skip-tty-check",
        "--vault-password-file",
        "pw1",
        "new.yml",
    ]);
    cmd.env("EDITOR", format!("'{editor}'"))
        .env("LINE", "first: 1");
    ok(&run(cmd, None), "herd vault create");
    assert_eq!(first_line(&p.read("new.yml")), "$ANSIBLE_VAULT;1.1;AES256");
    assert_eq!(p.mode("new.yml"), 0o600);
    assert!(p.temp_entries().is_empty(), "left: {:?}", p.temp_entries());
    let view = |p: &Project, file: &str, flag: &str, value: &str| {
        let out = run(p.ansible_vault(&["view", flag, value, file]), None);
        ok(&out, "ansible-vault view");
        stdout(&out)
    };
    assert_eq!(
        view(&p, "new.yml", "--vault-password-file", "pw1"),
        "first: 1\n"
    );

    // edit appends a line; the mode stays.
    std::fs::set_permissions(p.path("new.yml"), std::fs::Permissions::from_mode(0o640)).unwrap();
    let mut cmd = p.herd(&["vault", "edit", "--vault-password-file", "pw1", "new.yml"]);
    cmd.env("EDITOR", &editor).env("LINE", "second: 2");
    ok(&run(cmd, None), "herd vault edit");
    assert_eq!(
        view(&p, "new.yml", "--vault-password-file", "pw1"),
        "first: 1\nsecond: 2\n"
    );
    assert_eq!(p.mode("new.yml"), 0o640);
    assert!(p.temp_entries().is_empty(), "left: {:?}", p.temp_entries());

    // An editor that changes nothing leaves the file byte for byte.
    let before = p.read("new.yml");
    let mut cmd = p.herd(&["vault", "edit", "--vault-password-file", "pw1", "new.yml"]);
    cmd.env("EDITOR", p.path("noop.sh"));
    ok(&run(cmd, None), "herd vault edit (no change)");
    assert_eq!(p.read("new.yml"), before);
    assert!(p.temp_entries().is_empty());

    // A 1.2 file from ansible-vault keeps its label and password, even
    // when another id is listed first.
    p.write("labelled.yml", "x: 1\n");
    ok(
        &run(
            p.ansible_vault(&["encrypt", "--vault-id", "prod@pw2", "labelled.yml"]),
            None,
        ),
        "ansible-vault encrypt",
    );
    let mut cmd = p.herd(&[
        "vault",
        "edit",
        "--vault-id",
        "dev@pw1",
        "--vault-id",
        "prod@pw2",
        "labelled.yml",
    ]);
    cmd.env("EDITOR", &editor).env("LINE", "y: 2");
    ok(&run(cmd, None), "herd vault edit of a labelled file");
    assert_eq!(
        first_line(&p.read("labelled.yml")),
        "$ANSIBLE_VAULT;1.2;AES256;prod"
    );
    assert_eq!(
        view(&p, "labelled.yml", "--vault-id", "prod@pw2"),
        "x: 1\ny: 2\n"
    );

    // Signals that reach herd while the editor runs do not end it before
    // it has saved the edit and removed the copy.
    let mut cmd = p.herd(&["vault", "edit", "--vault-password-file", "pw1", "new.yml"]);
    cmd.env("EDITOR", p.path("interrupt.sh"))
        .env("LINE", "third: 3");
    ok(&run(cmd, None), "herd vault edit, interrupted");
    assert_eq!(
        view(&p, "new.yml", "--vault-password-file", "pw1"),
        "first: 1\nsecond: 2\nthird: 3\n"
    );
    assert!(p.temp_entries().is_empty(), "left: {:?}", p.temp_entries());

    // An editor that cannot run: an error, and still nothing left behind.
    let before = p.read("new.yml");
    let mut cmd = p.herd(&["vault", "edit", "--vault-password-file", "pw1", "new.yml"]);
    cmd.env("EDITOR", "./no-such-editor --flag");
    let out = run(cmd, None);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.starts_with("[ERROR]: Unable to execute the command \"./no-such-editor --flag "),
        "{err}"
    );
    assert!(err.contains("[Errno 2] No such file or directory: './no-such-editor'"));
    assert_eq!(p.read("new.yml"), before);
    assert!(p.temp_entries().is_empty(), "left: {:?}", p.temp_entries());

    // create refuses an existing file, and (without --skip-tty-check) a
    // standard output that is not a terminal; as ansible-vault.
    for (args, code) in [
        (
            vec![
                "create",
                "--skip-tty-check",
                "--vault-password-file",
                "pw1",
                "new.yml",
            ],
            1,
        ),
        (
            vec!["create", "--vault-password-file", "pw1", "other.yml"],
            5,
        ),
        (
            vec![
                "create",
                "--skip-tty-check",
                "--vault-password-file",
                "pw1",
                "a.yml",
                "b.yml",
            ],
            5,
        ),
    ] {
        let mut herd_args = vec!["vault"];
        herd_args.extend(&args);
        let mut cmd = p.herd(&herd_args);
        cmd.env("EDITOR", &editor);
        let ours = run(cmd, None);
        let mut cmd = p.ansible_vault(&args);
        cmd.env("EDITOR", &editor);
        let theirs = run(cmd, None);
        assert_eq!(
            ours.status.code(),
            Some(code),
            "{args:?}: {}",
            stderr(&ours)
        );
        assert_eq!(theirs.status.code(), Some(code), "{args:?}");
        let ours = problems(&ours);
        let theirs = problems(&theirs);
        if args.len() == 6 {
            // The message names the command: herd's, not ansible-vault's.
            assert_eq!(
                ours,
                ["[ERROR]: herd vault create can take only one filename argument"]
            );
            assert_eq!(
                theirs,
                ["[ERROR]: ansible-vault create can take only one filename argument"]
            );
        } else {
            assert_eq!(ours, theirs, "{args:?}");
        }
    }
    assert!(!p.path("other.yml").exists());
    assert!(p.temp_entries().is_empty(), "left: {:?}", p.temp_entries());
}

#[test]
fn rekey_in_herd_then_ansible_vault_views() {
    let p = Project::new();
    p.write("s.yml", "token: abc\n");
    ok(
        &run(
            p.ansible_vault(&["encrypt", "--vault-password-file", "pw1", "s.yml"]),
            None,
        ),
        "ansible-vault encrypt",
    );
    std::fs::set_permissions(p.path("s.yml"), std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = run(
        p.herd(&[
            "vault",
            "rekey",
            "--vault-password-file",
            "pw1",
            "--new-vault-password-file",
            "pw2",
            "s.yml",
        ]),
        None,
    );
    ok(&out, "herd vault rekey");
    assert_eq!(stderr(&out), "Rekey successful\n");
    assert_eq!(p.mode("s.yml"), 0o644, "rekey keeps the mode");
    assert_eq!(first_line(&p.read("s.yml")), "$ANSIBLE_VAULT;1.1;AES256");
    let out = run(
        p.ansible_vault(&["view", "--vault-password-file", "pw2", "s.yml"]),
        None,
    );
    ok(&out, "ansible-vault view after rekey");
    assert_eq!(stdout(&out), "token: abc\n");

    let out = run(
        p.herd(&[
            "vault",
            "rekey",
            "--vault-password-file",
            "pw2",
            "--new-vault-id",
            "ci@pw3",
            "s.yml",
        ]),
        None,
    );
    ok(&out, "herd vault rekey --new-vault-id");
    assert_eq!(first_line(&p.read("s.yml")), "$ANSIBLE_VAULT;1.2;AES256;ci");
    let out = run(
        p.ansible_vault(&["view", "--vault-id", "ci@pw3", "s.yml"]),
        None,
    );
    ok(&out, "ansible-vault view after rekey to a label");
    assert_eq!(stdout(&out), "token: abc\n");
}

/// Runs the same vault command in herd and in ansible-vault and checks
/// both give `code` and the same errors and warnings.
fn same_failure(p: &Project, args: &[&str], stdin: Option<&[u8]>, code: i32) -> Vec<String> {
    let mut herd_args = vec!["vault"];
    herd_args.extend(args);
    let ours = run(p.herd(&herd_args), stdin);
    let theirs = run(p.ansible_vault(args), stdin);
    assert_eq!(
        theirs.status.code(),
        Some(code),
        "ansible-vault {args:?}: {}",
        stderr(&theirs)
    );
    assert_eq!(
        ours.status.code(),
        Some(code),
        "herd vault {args:?}: {}",
        stderr(&ours)
    );
    assert_eq!(problems(&ours), problems(&theirs), "{args:?}");
    assert!(
        stderr(&ours).contains("\nHint: "),
        "herd says what to do: {}",
        stderr(&ours)
    );
    problems(&ours)
}

#[test]
fn errors_are_ansible_vaults() {
    let p = Project::new();
    p.write("plain.yml", "a: 1\n");
    p.write("vaulted.yml", "b: 2\n");
    ok(
        &run(
            p.ansible_vault(&["encrypt", "--vault-password-file", "pw1", "vaulted.yml"]),
            None,
        ),
        "ansible-vault encrypt",
    );
    let vaulted = p.read("vaulted.yml");
    let real = |f: &str| p.path(f).display().to_string();

    // A wrong password.
    let got = same_failure(
        &p,
        &["decrypt", "--vault-password-file", "pw2", "vaulted.yml"],
        None,
        1,
    );
    assert_eq!(
        got,
        [format!(
            "[ERROR]: Decryption failed (no vault secrets were found that could decrypt). for {}",
            real("vaulted.yml")
        )]
    );
    assert_eq!(
        p.read("vaulted.yml"),
        vaulted,
        "a failed decrypt changes nothing"
    );

    // A missing password file.
    let got = same_failure(
        &p,
        &["view", "--vault-password-file", "nope", "vaulted.yml"],
        None,
        1,
    );
    assert_eq!(
        got,
        [
            format!(
                "[WARNING]: Error getting vault password file (default): The vault password file {} was not found",
                real("nope")
            ),
            format!("[ERROR]: The vault password file {} was not found", real("nope")),
        ]
    );

    // --encrypt-vault-id naming no known id.
    let got = same_failure(
        &p,
        &[
            "encrypt",
            "--vault-id",
            "a@pw1",
            "--vault-id",
            "b@pw2",
            "--encrypt-vault-id",
            "c",
            "plain.yml",
        ],
        None,
        1,
    );
    assert_eq!(
        got,
        ["[ERROR]: Did not find a match for --encrypt-vault-id=c in the known vault-ids ['a', 'b']"]
    );
    // Several ids and none chosen: an option error.
    same_failure(
        &p,
        &[
            "encrypt",
            "--vault-id",
            "a@pw1",
            "--vault-id",
            "b@pw2",
            "plain.yml",
        ],
        None,
        5,
    );
    assert_eq!(p.read("plain.yml"), b"a: 1\n");

    // Decrypting plaintext.
    let got = same_failure(
        &p,
        &["decrypt", "--vault-password-file", "pw1", "plain.yml"],
        None,
        1,
    );
    assert_eq!(
        got,
        [format!(
            "[ERROR]: Input is not vault encrypted data. for {}",
            real("plain.yml")
        )]
    );

    // Encrypting vault text, from a file and from stdin.
    let got = same_failure(
        &p,
        &["encrypt", "--vault-password-file", "pw1", "vaulted.yml"],
        None,
        1,
    );
    assert_eq!(got, ["[ERROR]: input is already encrypted"]);
    same_failure(
        &p,
        &["encrypt", "--vault-password-file", "pw1"],
        Some(&vaulted),
        1,
    );
    assert_eq!(p.read("vaulted.yml"), vaulted);

    // A file that does not exist.
    let got = same_failure(
        &p,
        &["view", "--vault-password-file", "pw1", "missing.yml"],
        None,
        1,
    );
    assert_eq!(
        got,
        [format!(
            "[ERROR]: Unable to read source file ({0}): [Errno 2] No such file or directory: '{0}'",
            real("missing.yml")
        )]
    );

    // An output file in a directory that does not exist.
    let got = same_failure(
        &p,
        &[
            "decrypt",
            "--vault-password-file",
            "pw1",
            "--output",
            "nodir/out.yml",
            "vaulted.yml",
        ],
        None,
        1,
    );
    assert_eq!(
        got,
        [format!(
            "[ERROR]: Destination '{}' not writable",
            real("nodir")
        )]
    );

    // Option errors.
    same_failure(
        &p,
        &["view", "--vault-id", "a;b@pw1", "vaulted.yml"],
        None,
        5,
    );
    same_failure(
        &p,
        &[
            "decrypt",
            "--vault-password-file",
            "pw1",
            "--output",
            "out.yml",
            "vaulted.yml",
            "plain.yml",
        ],
        None,
        5,
    );
    same_failure(
        &p,
        &["encrypt_string", "--vault-password-file", "pw1", ""],
        None,
        5,
    );
    same_failure(
        &p,
        &["encrypt_string", "--vault-password-file", "pw1", "-p", "-"],
        None,
        5,
    );
    same_failure(
        &p,
        &["encrypt_string", "--vault-password-file", "pw1"],
        Some(b""),
        5,
    );

    // Flags the parser rejects: argparse's exit code.
    for args in [
        &["view", "-J", "--vault-password-file", "pw1", "vaulted.yml"][..],
        &[
            "rekey",
            "--vault-password-file",
            "pw1",
            "--new-vault-id",
            "x@pw2",
            "--new-vault-password-file",
            "pw2",
            "vaulted.yml",
        ],
        &["view", "--no-such-flag"],
        &["no_such_action"],
    ] {
        let mut herd_args = vec!["vault"];
        herd_args.extend(args);
        assert_eq!(
            run(p.herd(&herd_args), None).status.code(),
            Some(2),
            "{args:?}"
        );
        assert_eq!(
            run(p.ansible_vault(args), None).status.code(),
            Some(2),
            "{args:?}"
        );
    }
}

#[test]
fn configured_password_file_and_identity() {
    let p = Project::new();
    // vault_password_file is relative to the configuration file.
    p.write(
        "conf/ansible.cfg",
        "[defaults]\nvault_password_file = ../pw1\nvault_identity = team\n",
    );
    p.write("conf/pw1", "not-this-one\n");
    p.write("plain.yml", "c: 3\n");
    std::fs::create_dir(p.path("elsewhere")).unwrap();
    let cfg = p.path("conf/ansible.cfg");
    let mut cmd = p.herd(&["vault", "encrypt", "../plain.yml"]);
    cmd.env("ANSIBLE_CONFIG", &cfg)
        .current_dir(p.path("elsewhere"));
    ok(
        &run(cmd, None),
        "herd vault encrypt with configured secrets",
    );
    // A source without a label takes vault_identity.
    assert_eq!(
        first_line(&p.read("plain.yml")),
        "$ANSIBLE_VAULT;1.2;AES256;team"
    );
    let mut cmd = p.ansible_vault(&["view", "../plain.yml"]);
    cmd.env("ANSIBLE_CONFIG", &cfg)
        .current_dir(p.path("elsewhere"));
    let out = run(cmd, None);
    ok(&out, "ansible-vault view with the same configuration");
    assert_eq!(stdout(&out), "c: 3\n");
    let out = run(
        p.ansible_vault(&["view", "--vault-id", "team@pw1", "plain.yml"]),
        None,
    );
    assert_eq!(stdout(&out), "c: 3\n");

    // The environment beats the file.
    let mut cmd = p.herd(&["vault", "view", "plain.yml"]);
    cmd.env("ANSIBLE_CONFIG", &cfg)
        .env("ANSIBLE_VAULT_PASSWORD_FILE", p.path("pw2"));
    let out = run(cmd, None);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
}

#[test]
fn playbook_adhoc_and_inventory_take_the_vault_flags() {
    let p = Project::new();
    p.write("inv/hosts", "h1\nh2\n");
    p.write("inv/host_vars/h1.yml", "plain: value\n");
    p.write(
        "site.yml",
        "- hosts: all\n  gather_facts: false\n  tasks: []\n",
    );
    let herd_out = |args: &[&str]| run(p.herd(args), None);

    // Plain values read the same with a vault password given.
    let without = herd_out(&["inventory", "--list", "-i", "inv/hosts"]);
    ok(&without, "herd inventory --list");
    for flags in [
        &["--vault-password-file", "pw1"][..],
        &["--vault-pass-file", "pw1", "--vault-id", "x@pw.sh"],
        &["--vault-id", "ops@keys-client.sh"],
    ] {
        let mut args = vec!["inventory", "--list", "-i", "inv/hosts"];
        args.extend(flags);
        let with = herd_out(&args);
        ok(&with, "herd inventory --list with vault flags");
        assert_eq!(stdout(&with), stdout(&without));
    }
    let out = herd_out(&[
        "playbook",
        "--syntax-check",
        "--vault-id",
        "dev@pw1",
        "-i",
        "inv/hosts",
        "site.yml",
    ]);
    ok(&out, "herd playbook --vault-id");

    // A missing password file: exit 1 and ansible's words, in each.
    let missing = p.path("nope").display().to_string();
    let expected = [
        format!(
            "[WARNING]: Error getting vault password file (default): The vault password file {missing} was not found"
        ),
        format!("[ERROR]: The vault password file {missing} was not found"),
    ];
    for (herd_args, program, their_args) in [
        (
            vec![
                "inventory",
                "--list",
                "-i",
                "inv/hosts",
                "--vault-password-file",
                "nope",
            ],
            "ansible-inventory",
            vec!["--list", "-i", "inv/hosts", "--vault-password-file", "nope"],
        ),
        (
            vec![
                "playbook",
                "-i",
                "inv/hosts",
                "--vault-password-file",
                "nope",
                "site.yml",
            ],
            "ansible-playbook",
            vec![
                "-i",
                "inv/hosts",
                "--vault-password-file",
                "nope",
                "site.yml",
            ],
        ),
        (
            vec![
                "adhoc",
                "-i",
                "inv/hosts",
                "--vault-password-file",
                "nope",
                "all",
                "-m",
                "ping",
            ],
            "ansible",
            vec![
                "-i",
                "inv/hosts",
                "--vault-password-file",
                "nope",
                "all",
                "-m",
                "ping",
            ],
        ),
    ] {
        let ours = herd_out(&herd_args);
        let mut cmd = common::ansible_command(program);
        cmd.current_dir(&p.root).args(&their_args);
        let theirs = run(cmd, None);
        assert_eq!(
            ours.status.code(),
            Some(1),
            "{herd_args:?}: {}",
            stderr(&ours)
        );
        assert_eq!(
            theirs.status.code(),
            Some(1),
            "{program}: {}",
            stderr(&theirs)
        );
        assert_eq!(problems(&ours), expected, "{herd_args:?}");
        assert_eq!(problems(&theirs), expected, "{program}");
    }

    // -J cannot go with a password file (argparse: exit 2), and with no
    // terminal to ask on it is an error, not a hang.
    let out = herd_out(&["playbook", "-J", "--vault-password-file", "pw1", "site.yml"]);
    assert_eq!(out.status.code(), Some(2));
    let out = herd_out(&["inventory", "--list", "-i", "inv/hosts", "--ask-vault-pass"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("standard input is not a terminal"),
        "{}",
        stderr(&out)
    );
    // Nothing given: no prompt, no secret needed.
    ok(
        &herd_out(&["inventory", "--graph", "-i", "inv/hosts"]),
        "herd inventory without vault flags",
    );
}

#[test]
fn view_on_a_pipe_writes_plain_output_without_the_pager() {
    let p = Project::new();
    p.write("sub/v.yml", "v: 1");
    let out = run(
        p.herd(&[
            "vault",
            "encrypt",
            "--vault-password-file",
            "./sub/../pw1",
            "sub/v.yml",
        ]),
        None,
    );
    ok(&out, "herd vault encrypt with a relative password file");
    // PAGER is not used when standard output is not a terminal.
    let mut cmd = p.herd(&["vault", "view", "--vault-password-file", "pw1", "sub/v.yml"]);
    cmd.env("PAGER", "false");
    let out = run(cmd, None);
    ok(&out, "herd vault view through a pipe");
    assert_eq!(stdout(&out), "v: 1\n");
}

/// Runs `herd ARGS` on a terminal (util-linux `script` gives it one),
/// typing `input`; returns what the terminal showed, without the CRs, and
/// the exit code herd gave.
fn on_terminal(p: &Project, args: &str, input: &str, env: &[(&str, &str)]) -> (String, i32) {
    let herd = env!("CARGO_BIN_EXE_herd");
    let mut cmd = Command::new("script");
    cmd.args([
        "-qec",
        &format!("{herd} {args}; echo \"exit=$?\""),
        "/dev/null",
    ])
    .env("NO_COLOR", "1")
    .env_remove("EDITOR")
    .env_remove("PAGER")
    .current_dir(&p.root);
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("ANSIBLE_") {
            cmd.env_remove(k);
        }
    }
    cmd.envs(env.iter().copied());
    let out = run(cmd, Some(input.as_bytes()));
    ok(&out, "script");
    let shown = stdout(&out).replace('\r', "");
    let code = shown
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("exit="))
        .and_then(|c| c.trim().parse().ok())
        .unwrap_or_else(|| panic!("no exit code in {shown}"));
    (shown, code)
}

#[test]
fn passwords_are_asked_on_a_terminal() {
    let p = Project::new();
    // A new password is asked twice; on a terminal the success note shows.
    let (shown, code) = on_terminal(
        &p,
        "vault encrypt_string -n greeting hello",
        "pwA\npwA\n",
        &[],
    );
    assert_eq!(code, 0, "{shown}");
    assert!(
        shown.contains("New Vault password: \nConfirm New Vault password: \n"),
        "{shown}"
    );
    assert!(shown.contains("Encryption successful"), "{shown}");
    let block = vault_blocks(
        &shown
            .lines()
            .filter(|l| l.starts_with("greeting:") || l.starts_with("          "))
            .map(|l| format!("{l}\n"))
            .collect::<String>(),
    );
    assert_eq!(block.len(), 1, "{shown}");
    p.write("typed", "pwA\n");
    let out = run(
        p.ansible_vault(&["decrypt", "--vault-password-file", "typed"]),
        Some(block[0].1.as_bytes()),
    );
    ok(
        &out,
        "ansible-vault decrypt of a string encrypted with a typed password",
    );
    assert_eq!(stdout(&out), "hello");

    // The two answers differ.
    let (shown, code) = on_terminal(&p, "vault encrypt_string hello", "pwA\npwB\n", &[]);
    assert_eq!(code, 1, "{shown}");
    assert!(shown.contains("[ERROR]: Passwords do not match"), "{shown}");

    // A labelled prompt, to read.
    p.write("l.yml", "l: 1\n");
    ok(
        &run(
            p.ansible_vault(&["encrypt", "--vault-id", "lab@typed", "l.yml"]),
            None,
        ),
        "ansible-vault encrypt",
    );
    // On a terminal, view goes through $PAGER.
    let (shown, code) = on_terminal(
        &p,
        "vault view --vault-id lab@prompt l.yml",
        "pwA\n",
        &[("PAGER", "sed s/^/paged:/")],
    );
    assert_eq!(code, 0, "{shown}");
    assert!(shown.contains("Vault password (lab): \n"), "{shown}");
    assert!(shown.contains("paged:l: 1\n"), "{shown}");
    // A pager that is not installed: the text is shown all the same.
    let (shown, code) = on_terminal(
        &p,
        "vault view --vault-password-file typed l.yml",
        "",
        &[("PAGER", "no-such-pager-here")],
    );
    assert_eq!(code, 0, "{shown}");
    assert!(shown.contains("l: 1\n"), "{shown}");
}

/// With `vault_encrypt_salt` set, encryption is deterministic: herd's
/// output must be ansible-vault's, byte for byte.
#[test]
fn a_fixed_salt_gives_ansible_vaults_exact_bytes() {
    let p = Project::new();
    p.write(
        "ansible.cfg",
        "[defaults]\nvault_encrypt_salt = a fixed salt\n",
    );
    p.write("plain.yml", "same: text\nlines: [1, 2]\n");
    let cases: [&[&str]; 3] = [
        &[
            "encrypt",
            "--vault-id",
            "lab@pw1",
            "--output",
            "-",
            "plain.yml",
        ],
        &[
            "encrypt",
            "--vault-password-file",
            "pw2",
            "--output",
            "-",
            "plain.yml",
        ],
        &[
            "encrypt_string",
            "--vault-password-file",
            "pw1",
            "-n",
            "first",
            "one",
            "two",
        ],
    ];
    for args in cases {
        let mut herd_args = vec!["vault"];
        herd_args.extend(args);
        let ours = run(p.herd(&herd_args), None);
        ok(&ours, "herd vault");
        let mut cmd = p.ansible_vault(args);
        cmd.env("ANSIBLE_CONFIG", p.path("ansible.cfg"));
        let theirs = run(cmd, None);
        ok(&theirs, "ansible-vault");
        assert!(stdout(&ours).contains("$ANSIBLE_VAULT;1."), "{args:?}");
        assert_eq!(stdout(&ours), stdout(&theirs), "{args:?}");
        assert_eq!(stderr(&ours), stderr(&theirs), "{args:?}");
    }
}

#[test]
fn help_shows_the_actions_and_the_vault_flags() {
    let p = Project::new();
    let help = |args: &[&str]| {
        let out = run(p.herd(args), None);
        ok(&out, "herd --help");
        stdout(&out)
    };
    let text = help(&["vault", "--help"]);
    for action in [
        "create",
        "decrypt",
        "edit",
        "view",
        "encrypt",
        "encrypt_string",
        "rekey",
    ] {
        assert!(text.contains(&format!("\n  {action} ")), "{action}: {text}");
    }
    assert!(help(&["--help"]).contains("vault "));
    for command in [
        "playbook",
        "adhoc",
        "inventory",
        "vault view",
        "vault rekey",
    ] {
        let mut args: Vec<&str> = command.split(' ').collect();
        args.push("--help");
        let text = help(&args);
        for flag in [
            "--vault-id <VAULT_IDS>",
            "-J, --ask-vault-password",
            "--ask-vault-pass",
            "--vault-password-file <VAULT_PASSWORD_FILES>",
            "--vault-pass-file",
        ] {
            assert!(text.contains(flag), "{command}: {flag}\n{text}");
        }
    }
    let text = help(&["vault", "encrypt_string", "--help"]);
    for flag in [
        "-p, --prompt",
        "--show-input",
        "-n, --name <ENCRYPT_STRING_NAMES>",
        "--stdin-name <ENCRYPT_STRING_STDIN_NAME>",
        "--output <OUTPUT_FILE>",
        "--encrypt-vault-id <ENCRYPT_VAULT_ID>",
    ] {
        assert!(text.contains(flag), "{flag}\n{text}");
    }
    let text = help(&["vault", "rekey", "--help"]);
    assert!(text.contains("--new-vault-password-file <NEW_VAULT_PASSWORD_FILE>"));
    assert!(text.contains("--new-vault-id <NEW_VAULT_ID>"));
    assert!(help(&["vault", "create", "--help"]).contains("--skip-tty-check"));
}
