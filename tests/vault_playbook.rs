//! Vault in playbook runs.
//!
//! - The conformance case `34-vault` (vaulted group_vars, inline `!vault`
//!   values with two vault ids, a vaulted template source, `no_log` tasks)
//!   run by herd over the loopback sshd with every output turned on
//!   (`-vvvv`, `--format json`, `--diff`, `log_path`), then a search for the
//!   plaintext secrets and the vault passwords in everything herd printed,
//!   logged or left on disk: the project, the hosts' directories, herd's
//!   temporary directory and the SSH user's home.
//! - A wrong password, a tampered vault and a truncated vault: herd's exact
//!   message and exit code, the exit code checked against ansible-playbook.

mod common;
mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

use support::Sshd;

/// The plaintexts of the case's vaulted values.
const SECRETS: &[&str] = &["gv-S3cret-db", "prod-T0ken-api", "h2-Private-n0te"];
/// The case's vault passwords (in its `*-pass.txt` files).
const PASSWORDS: &[&str] = &["conformance-vault-pw", "prod-vault-pw"];

fn case_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/run_conformance/34-vault")
}

/// A herd command with no `ANSIBLE_*` setting from the environment.
fn herd() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_herd"));
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("ANSIBLE_") {
            c.env_remove(k);
        }
    }
    c.env("ANSIBLE_NOCOLOR", "1");
    c
}

/// Every file under `root` changed since `since`, with its content.
fn files_since(root: &Path, since: SystemTime, out: &mut Vec<(PathBuf, Vec<u8>)>) {
    let Ok(entries) = std::fs::read_dir(root) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        let Ok(meta) = std::fs::symlink_metadata(&p) else {
            continue;
        };
        if meta.is_dir() {
            files_since(&p, since, out);
        } else if meta.is_file() && meta.modified().is_ok_and(|m| m >= since) {
            if let Ok(data) = std::fs::read(&p) {
                out.push((p, data));
            }
        }
    }
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[test]
fn no_plaintext_secret_is_printed_logged_or_left_on_disk() {
    let sshd = Sshd::start();
    let started = SystemTime::now() - std::time::Duration::from_secs(1);
    let work = tempfile::tempdir().expect("tempdir");
    let w = work.path();
    support::chmod_755(w);
    let project = w.join("project");
    support::copy_tree(&case_dir(), &project, None);
    let owner = support::herdtest_ids();
    let mut inv = String::from("[fleet]\n");
    for h in ["h1", "h2"] {
        let root = w.join("hosts").join(h);
        std::fs::create_dir_all(&root).expect("mkdir");
        std::os::unix::fs::chown(w.join("hosts"), Some(owner.0), Some(owner.1)).expect("chown");
        std::os::unix::fs::chown(&root, Some(owner.0), Some(owner.1)).expect("chown");
        inv.push_str(&format!(
            "{h} {} root={}\n",
            sshd.inventory_vars(),
            root.display()
        ));
    }
    std::fs::write(project.join("hosts.ini"), inv).expect("inventory");
    let tmp = w.join("tmp");
    std::fs::create_dir_all(&tmp).expect("mkdir tmp");
    let log = w.join("herd.log");

    let mut printed: Vec<(String, Vec<u8>)> = Vec::new();
    for (i, extra) in [
        vec!["-vvvv"],
        vec!["--format", "json", "-vvvv"],
        vec!["--diff", "-vvv"],
    ]
    .iter()
    .enumerate()
    {
        let out = herd()
            .current_dir(&project)
            .env("TMPDIR", &tmp)
            .env("ANSIBLE_LOG_PATH", &log)
            .args(["playbook", "-i", "hosts.ini", "site.yml"])
            .args([
                "--vault-password-file",
                "vault-pass.txt",
                "--vault-id",
                "prod@prod-pass.txt",
            ])
            .args(extra)
            .output()
            .expect("run herd");
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(0),
            "run {i} ({extra:?}):\n{text}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        if i == 0 {
            // The values were decrypted and used.
            assert!(
                text.contains("token sha1 30a4bfa8f47b7e74cf2e741f695f964f9c9f3c93, 14 characters"),
                "{text}"
            );
            assert!(
                text.contains("note sha1 49e7d7b5edbc2c75b520cd77d0845d13b54cfae5"),
                "{text}"
            );
            let conf = std::fs::read_to_string(w.join("hosts/h1/app.conf")).expect("app.conf");
            assert!(
                conf.contains(
                    "password_sha256=91131fa3230ff29c9e5736f6fba3148b67628a5acda0c7072ccf80afc7c10b1e"
                ),
                "{conf}"
            );
        }
        printed.push((format!("stdout of run {i}"), out.stdout));
        printed.push((format!("stderr of run {i}"), out.stderr));
    }
    let logged = std::fs::read(&log).expect("log_path was written");
    assert!(!logged.is_empty());
    printed.push(("log_path".into(), logged));

    let mut on_disk = Vec::new();
    files_since(w, started, &mut on_disk);
    let home = PathBuf::from(format!("/home/{}", support::USER));
    files_since(&home, started, &mut on_disk);
    let mut leaks = Vec::new();
    for (what, data) in &printed {
        for s in SECRETS.iter().chain(PASSWORDS) {
            if contains(data, s) {
                leaks.push(format!("{s} in {what}"));
            }
        }
    }
    for (path, data) in &on_disk {
        // The password files hold their passwords: that is what they are.
        let is_password_file = path.to_string_lossy().ends_with("-pass.txt");
        for s in SECRETS
            .iter()
            .chain(if is_password_file { &[][..] } else { PASSWORDS })
        {
            if contains(data, s) {
                leaks.push(format!("{s} in {}", path.display()));
            }
        }
    }
    assert!(leaks.is_empty(), "plaintext found:\n{}", leaks.join("\n"));
    // Nothing was left in herd's temporary directory.
    let left: Vec<_> = std::fs::read_dir(&tmp)
        .expect("tmp")
        .flatten()
        .map(|e| e.path())
        .collect();
    assert!(left.is_empty(), "left in TMPDIR: {left:?}");
}

/// Python's `binascii.hexlify` and `unhexlify`, for making damaged vaults.
fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

/// The vault text with one hex digit of its ciphertext changed: still
/// well-formed, but its HMAC no longer matches.
fn tampered(text: &str) -> String {
    let mut lines = text.lines();
    let header = lines.next().expect("header");
    let body = String::from_utf8(unhex(&lines.collect::<String>())).expect("ascii body");
    let mut body: Vec<u8> = body.into_bytes();
    let last = body.len() - 3;
    body[last] = if body[last] == b'0' { b'1' } else { b'0' };
    let h = hex(&body);
    let mut out = format!("{header}\n");
    for chunk in h.as_bytes().chunks(80) {
        out.push_str(std::str::from_utf8(chunk).expect("hex"));
        out.push('\n');
    }
    out
}

struct Project {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

/// A project with a local host, a vaulted vars file (`secret.yml`), a
/// vaulted group_vars file and an inline vaulted value, all encrypted by
/// ansible-vault with the password in `pw` (`wrong` holds another).
fn project() -> Project {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path().to_path_buf();
    std::fs::write(p.join("pw"), "right-password\n").expect("pw");
    std::fs::write(p.join("wrong"), "wrong-password\n").expect("wrong");
    std::fs::write(
        p.join("hosts.ini"),
        "[web]\nlocalhost ansible_connection=local ansible_python_interpreter=/usr/bin/python3\n",
    )
    .expect("inventory");
    std::fs::write(p.join("secret.yml"), "vf_secret: from-vars-file\n").expect("secret.yml");
    std::fs::create_dir_all(p.join("gv/group_vars")).expect("mkdir");
    std::fs::write(
        p.join("gv/group_vars/web.yml"),
        "gv_secret: from-group-vars\n",
    )
    .expect("gv");
    let vault = |args: &[&str]| {
        let out = common::ansible_command("ansible-vault")
            .current_dir(&p)
            .args(args)
            .output()
            .expect("run ansible-vault");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    };
    vault(&[
        "encrypt",
        "--vault-password-file",
        "pw",
        "secret.yml",
        "gv/group_vars/web.yml",
    ]);
    let inline = vault(&[
        "encrypt_string",
        "--vault-password-file",
        "pw",
        "--name",
        "inline_secret",
        "inline-value",
    ]);
    std::fs::write(p.join("inline.yml"), inline).expect("inline.yml");
    std::fs::write(
        p.join("vars_file.yml"),
        "- hosts: all\n  gather_facts: false\n  vars_files: [secret.yml]\n  tasks:\n    - debug: var=vf_secret\n",
    )
    .expect("playbook");
    std::fs::write(
        p.join("gv/site.yml"),
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - debug: var=gv_secret\n",
    )
    .expect("playbook");
    std::fs::write(
        p.join("inline_play.yml"),
        "- hosts: all\n  gather_facts: false\n  vars_files: [inline.yml]\n  tasks:\n    - debug: msg=\"{{ inline_secret }}\"\n",
    )
    .expect("playbook");
    Project { _dir: dir, path: p }
}

/// Runs herd and ansible-playbook on the same playbook with the same vault
/// options: herd's stderr and both exit codes.
fn both(p: &Path, playbook: &str, vault_args: &[&str]) -> (String, String, i32, i32) {
    let inventory = "hosts.ini";
    let h = herd()
        .current_dir(p)
        .args(["playbook", "-i", inventory, playbook])
        .args(vault_args)
        .output()
        .expect("run herd");
    let a = common::ansible_command("ansible-playbook")
        .current_dir(p)
        .args(["-i", inventory, playbook])
        .args(vault_args)
        .output()
        .expect("run ansible-playbook");
    (
        String::from_utf8_lossy(&h.stderr).into_owned(),
        String::from_utf8_lossy(&h.stdout).into_owned(),
        h.status.code().unwrap_or(-1),
        a.status.code().unwrap_or(-1),
    )
}

#[test]
fn a_wrong_password_names_the_file_and_the_ids_tried() {
    let pr = project();
    let p = &pr.path;
    let file = p.join("secret.yml");
    let (err, _, herd_code, ansible_code) =
        both(p, "vars_file.yml", &["--vault-password-file", "wrong"]);
    assert_eq!(
        err.lines().next().unwrap_or(""),
        format!(
            "[ERROR]: Invalid vars_files file '{f}': Decryption failed (no vault secrets were found that could decrypt) on {f} (vault ids tried: default)",
            f = file.display()
        ),
        "{err}"
    );
    assert!(
        err.contains("Hint: wrong vault password? tried vault ids: default"),
        "{err}"
    );
    assert_eq!((herd_code, ansible_code), (1, 1));

    // With two ids, both are tried, the labelled one first.
    let (err, _, code, _) = both(
        p,
        "vars_file.yml",
        &["--vault-id", "dev@wrong", "--vault-password-file", "wrong"],
    );
    assert!(err.contains("(vault ids tried: default, dev)"), "{err}");
    assert_eq!(code, 1);

    // No password at all.
    let (err, _, herd_code, ansible_code) = both(p, "vars_file.yml", &[]);
    assert_eq!(
        err.lines().next().unwrap_or(""),
        format!(
            "[ERROR]: Invalid vars_files file '{f}': Attempting to decrypt but no vault secrets found ({f} is vault-encrypted)",
            f = file.display()
        ),
        "{err}"
    );
    assert_eq!((herd_code, ansible_code), (1, 1));

    // A vaulted group_vars file ends the run when the play starts.
    let gv = p.join("gv/group_vars/web.yml");
    let (err, out, herd_code, ansible_code) =
        both(p, "gv/site.yml", &["--vault-password-file", "wrong"]);
    assert_eq!(
        err.lines().next().unwrap_or(""),
        format!(
            "[ERROR]: Decryption failed (no vault secrets were found that could decrypt) on {} (vault ids tried: default)",
            gv.display()
        ),
        "{err}"
    );
    assert!(
        out.contains("PLAY [all]") && !out.contains("PLAY RECAP"),
        "{out}"
    );
    assert_eq!((herd_code, ansible_code), (4, 4));

    // An inline value fails the task that uses it, naming file:line:col.
    let (_, out, herd_code, ansible_code) =
        both(p, "inline_play.yml", &["--vault-password-file", "wrong"]);
    assert!(
        out.contains(&format!(
            "Attempt to use undecryptable variable 'inline_secret': Decryption failed (no vault secrets were found that could decrypt) on {}:1:16 (vault ids tried: default)",
            p.join("inline.yml").display()
        )),
        "{out}"
    );
    assert_eq!((herd_code, ansible_code), (2, 2));
    // And with the right password all three decrypt.
    for pb in ["vars_file.yml", "gv/site.yml", "inline_play.yml"] {
        let (err, out, herd_code, ansible_code) = both(p, pb, &["--vault-password-file", "pw"]);
        assert_eq!((herd_code, ansible_code), (0, 0), "{pb}: {err}\n{out}");
    }
}

#[test]
fn a_tampered_or_truncated_vault_is_an_error_naming_the_file() {
    let pr = project();
    let p = &pr.path;
    let file = p.join("secret.yml");
    let good = std::fs::read_to_string(&file).expect("read");

    std::fs::write(&file, tampered(&good)).expect("write");
    let (err, _, herd_code, ansible_code) =
        both(p, "vars_file.yml", &["--vault-password-file", "pw"]);
    assert_eq!(
        err.lines().next().unwrap_or(""),
        format!(
            "[ERROR]: Invalid vars_files file '{f}': Decryption failed (no vault secrets were found that could decrypt) on {f} (vault ids tried: default)",
            f = file.display()
        ),
        "{err}"
    );
    assert_eq!((herd_code, ansible_code), (1, 1));

    std::fs::write(&file, &good[..100]).expect("write");
    let (err, _, herd_code, ansible_code) =
        both(p, "vars_file.yml", &["--vault-password-file", "pw"]);
    assert_eq!(
        err.lines().next().unwrap_or(""),
        format!(
            "[ERROR]: Invalid vars_files file '{f}': There was a vault format error in {f}: Vault vaulttext format error: not enough values to unpack (expected 3, got 1)",
            f = file.display()
        ),
        "{err}"
    );
    assert!(
        err.contains("Hint: the vault text is damaged or truncated"),
        "{err}"
    );
    assert_eq!((herd_code, ansible_code), (1, 1));

    std::fs::write(&file, &good[..101]).expect("write");
    let (err, _, herd_code, ansible_code) =
        both(p, "vars_file.yml", &["--vault-password-file", "pw"]);
    assert!(
        err.lines().next().unwrap_or("").ends_with(&format!(
            "There was a vault format error in {}: Vault format unhexlify error: Odd-length string",
            file.display()
        )),
        "{err}"
    );
    // The ciphertext is never shown as if it were the file's source.
    assert!(!err.contains(&good[30..60]), "{err}");
    assert_eq!((herd_code, ansible_code), (1, 1));
}

#[test]
fn connection_and_become_passwords_can_be_vaulted() {
    let sshd = Sshd::start();
    // The password user: SSH password login, sudo that asks for the password.
    let _ = sshd.password_settings();
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path();
    std::fs::write(p.join("pw"), "vault-pw\n").expect("pw");
    let vaulted = |name: &str, value: &str| -> String {
        let out = common::ansible_command("ansible-vault")
            .current_dir(p)
            .args([
                "encrypt_string",
                "--vault-password-file",
                "pw",
                "--name",
                name,
                value,
            ])
            .output()
            .expect("run ansible-vault");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("UTF-8")
    };
    std::fs::create_dir_all(p.join("group_vars")).expect("mkdir");
    // The SSH password through a template, the sudo password inline.
    let gv = format!(
        "ansible_password: \"{{{{ vault_ssh_password }}}}\"\n{}{}",
        vaulted("vault_ssh_password", support::PASSWORD),
        vaulted("ansible_become_password", support::PASSWORD)
    );
    std::fs::write(p.join("group_vars/all.yml"), gv).expect("group_vars");
    std::fs::write(
        p.join("hosts.ini"),
        format!(
            "h ansible_host=127.0.0.1 ansible_port={} ansible_user={} \
             ansible_ssh_common_args='-o UserKnownHostsFile={}'\n",
            sshd.port(),
            support::PASSWORD_USER,
            sshd.known_hosts_path().display()
        ),
    )
    .expect("inventory");
    std::fs::write(
        p.join("site.yml"),
        "- hosts: all\n  gather_facts: false\n  become: true\n  tasks:\n    - command: id -un\n      register: who\n    - debug: var=who.stdout\n",
    )
    .expect("playbook");
    let out = herd()
        .current_dir(p)
        .args([
            "playbook",
            "-i",
            "hosts.ini",
            "site.yml",
            "--vault-password-file",
            "pw",
            "-vvvv",
        ])
        .output()
        .expect("run herd");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("\"who.stdout\": \"root\""), "{text}");
    assert!(
        !text.contains(support::PASSWORD),
        "the password was printed:\n{text}"
    );
    assert!(!String::from_utf8_lossy(&out.stderr).contains(support::PASSWORD));
}
