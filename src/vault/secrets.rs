//! Where vault passwords come from: `--vault-id label@source`,
//! `--vault-password-file`, `--ask-vault-pass`, and the configuration's
//! `vault_identity_list` / `vault_password_file`, read as ansible-core's
//! CLI reads them.
//!
//! A source is `prompt` (asked on the terminal), a password file (its
//! content, stripped), an executable script (its standard output), or a
//! client script (an executable named `*-client` or `*-client.<ext>`, run
//! with `--vault-id <label>`; exit code 2 means it has no secret for that
//! label). A password is never put in a process's arguments or
//! environment.

use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use super::{Vault, DEFAULT_ID};

/// One vault password and the id it is known by.
pub struct Secret {
    pub id: String,
    bytes: Zeroizing<Vec<u8>>,
    /// Where it came from (`prompt`, or the file's path), for messages.
    pub source: String,
}

impl Secret {
    pub fn new(id: impl Into<String>, bytes: Vec<u8>, source: impl Into<String>) -> Secret {
        Secret {
            id: id.into(),
            bytes: Zeroizing::new(bytes),
            source: source.into(),
        }
    }

    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the password.
        write!(f, "Secret({}@{})", self.id, self.source)
    }
}

/// Where one vault id's password is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    /// `label@prompt`: "Vault password (label): ".
    Prompt,
    /// `--ask-vault-pass`: "Vault password: ".
    AskVaultPass,
    /// A file or script.
    File(PathBuf),
}

/// One `--vault-id` (or what another option turns into one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VaultId {
    pub label: String,
    pub source: SecretSource,
}

impl VaultId {
    /// `label@source`, or `source` labelled `identity` (the configured
    /// `vault_identity`, `default` unless set).
    pub fn parse(spec: &str, identity: &str) -> VaultId {
        let (label, value) = match spec.split_once('@') {
            Some((l, v)) if !l.is_empty() => (l, v),
            Some((_, v)) => (identity, v),
            None => (identity, spec),
        };
        VaultId {
            label: label.to_string(),
            source: match value {
                "prompt" => SecretSource::Prompt,
                "prompt_ask_vault_pass" => SecretSource::AskVaultPass,
                v => SecretSource::File(PathBuf::from(v)),
            },
        }
    }
}

/// The vault options of a command line and configuration.
#[derive(Debug, Clone, Default)]
pub struct VaultOptions {
    /// `vault_identity_list` from the configuration (first), then
    /// `--vault-id`s in order.
    pub vault_ids: Vec<String>,
    /// `--vault-password-file`s, then the configuration's
    /// `vault_password_file`.
    pub password_files: Vec<String>,
    pub ask_vault_pass: bool,
    /// `vault_id_match` in the configuration.
    pub id_match: bool,
    /// `vault_encrypt_salt` in the configuration.
    pub encrypt_salt: Option<String>,
    /// `vault_identity` in the configuration: the label of a source given
    /// without one (`default` when empty).
    pub identity: String,
    /// Ask for a password when no source is given (ansible-vault does;
    /// ansible-playbook does not).
    pub auto_prompt: bool,
}

/// How a prompt is answered: the terminal in real use.
pub type Ask<'a> = &'a mut dyn FnMut(&str) -> Result<String, String>;

impl VaultOptions {
    /// The ids in the order ansible-core builds them: `--vault-id`s
    /// (configured ones first), then each password file as `default@file`,
    /// then `default@prompt_ask_vault_pass` for `--ask-vault-pass` (or, when
    /// `auto_prompt` and nothing else is given, as ansible-vault does).
    /// A source without a label gets `identity`.
    pub fn ids(&self) -> Vec<VaultId> {
        let identity = if self.identity.is_empty() {
            DEFAULT_ID
        } else {
            &self.identity
        };
        let mut ids: Vec<VaultId> = self
            .vault_ids
            .iter()
            .map(|s| VaultId::parse(s, identity))
            .collect();
        ids.extend(self.password_files.iter().map(|f| VaultId {
            label: identity.to_string(),
            source: SecretSource::File(PathBuf::from(f)),
        }));
        if self.ask_vault_pass || (ids.is_empty() && self.auto_prompt) {
            ids.push(VaultId {
                label: identity.to_string(),
                source: SecretSource::AskVaultPass,
            });
        }
        ids
    }

    /// Reads every secret. `new_password`: prompts ask twice, as for a
    /// password that will encrypt. A file that cannot be read is a warning
    /// while another secret was found, and an error when none was.
    pub fn load(&self, new_password: bool, ask: Ask<'_>) -> Result<Vault, String> {
        let mut vault = Vault::new(Vec::new());
        vault.id_match = self.id_match;
        vault.encrypt_salt = self.encrypt_salt.as_ref().map(|s| s.as_bytes().to_vec());
        let mut last_error = None;
        for id in self.ids() {
            match &id.source {
                SecretSource::Prompt | SecretSource::AskVaultPass => {
                    let prompts: Vec<String> = match (&id.source, new_password) {
                        (SecretSource::Prompt, false) => {
                            vec![format!("Vault password ({}): ", id.label)]
                        }
                        (SecretSource::Prompt, true) => vec![
                            format!("New vault password ({}): ", id.label),
                            format!("Confirm new vault password ({}): ", id.label),
                        ],
                        (_, false) => vec!["Vault password: ".into()],
                        (_, true) => vec![
                            "New Vault password: ".into(),
                            "Confirm New Vault password: ".into(),
                        ],
                    };
                    let mut first: Option<Zeroizing<String>> = None;
                    for p in &prompts {
                        let answer = Zeroizing::new(ask(p)?.trim().to_string());
                        if answer.is_empty() {
                            return Err("Invalid vault password was provided".into());
                        }
                        match &first {
                            Some(f) if **f != *answer => {
                                return Err("Passwords do not match".into())
                            }
                            Some(_) => {}
                            None => first = Some(answer),
                        }
                    }
                    // `prompts` is never empty.
                    let pw = first.expect("at least one prompt");
                    vault.secrets.push(Secret::new(
                        id.label.clone(),
                        pw.as_bytes().to_vec(),
                        "prompt",
                    ));
                }
                SecretSource::File(path) => match read_password_file(path, &id.label, &vault) {
                    Ok(bytes) => vault.secrets.push(Secret::new(
                        id.label.clone(),
                        bytes.to_vec(),
                        path.display().to_string(),
                    )),
                    Err(e) => {
                        crate::diag::warn(format!(
                            "Error getting vault password file ({}): {e}",
                            id.label
                        ));
                        last_error = Some(e);
                    }
                },
            }
        }
        match last_error {
            Some(e) if vault.secrets.is_empty() => Err(e),
            _ => Ok(vault),
        }
    }
}

fn is_executable(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o111 != 0
}

/// A `*-client` or `*-client.<ext>` script is asked for a label.
fn is_client_script(path: &Path) -> bool {
    path.file_stem()
        .and_then(|s| s.to_str())
        .is_some_and(|s| s.ends_with("-client"))
        || path
            .file_name()
            .and_then(|s| s.to_str())
            .is_some_and(|s| s.ends_with("-client"))
}

/// The password in a file, or printed by an executable one. A password
/// file that is itself vault text is decrypted with the secrets read
/// before it.
fn read_password_file(
    path: &Path,
    label: &str,
    earlier: &Vault,
) -> Result<Zeroizing<Vec<u8>>, String> {
    let shown = path.display();
    let meta = std::fs::metadata(path)
        .map_err(|_| format!("The vault password file {shown} was not found"))?;
    if meta.is_dir() {
        return Err(format!(
            "The vault password file provided '{shown}' can not be a directory"
        ));
    }
    if is_executable(&meta) {
        return run_password_script(path, label);
    }
    let raw = Zeroizing::new(
        std::fs::read(path)
            .map_err(|e| format!("Could not read vault password file {shown}: {e}"))?,
    );
    let mut data = Zeroizing::new(raw.trim_ascii().to_vec());
    if super::is_encrypted(&data) {
        let d = earlier
            .decrypt(&data)
            .map_err(|e| format!("{e} on {shown}"))?;
        data = d.plaintext;
    }
    let pw = Zeroizing::new(trim_newlines(&data).to_vec());
    if pw.is_empty() {
        return Err(format!(
            "Invalid vault password was provided from file ({shown})"
        ));
    }
    Ok(pw)
}

fn trim_newlines(b: &[u8]) -> &[u8] {
    let is_nl = |c: &u8| *c == b'\r' || *c == b'\n';
    let start = b.iter().position(|c| !is_nl(c)).unwrap_or(b.len());
    let end = b.iter().rposition(|c| !is_nl(c)).map_or(start, |i| i + 1);
    &b[start..end]
}

fn run_password_script(path: &Path, label: &str) -> Result<Zeroizing<Vec<u8>>, String> {
    let shown = path.display();
    let client = is_client_script(path);
    let mut cmd = std::process::Command::new(path);
    if client {
        cmd.arg("--vault-id").arg(label);
        cmd.stderr(std::process::Stdio::piped());
    }
    let kind = if client {
        "vault password client script"
    } else {
        "vault password script"
    };
    let out = cmd.stdin(std::process::Stdio::inherit()).output().map_err(|e| {
        format!("Problem running {kind} {shown} ({e}). If this is not a script, remove the executable bit from the file.")
    })?;
    let stdout = Zeroizing::new(out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr).trim().to_string();
    let code = out.status.code().unwrap_or(-1);
    if client && code == 2 {
        return Err(format!(
            "Vault password client script {shown} did not find a secret for vault-id={label}: {stderr}"
        ));
    }
    if code != 0 {
        return Err(if client {
            format!(
                "Vault password client script {shown} returned non-zero ({code}) when getting secret for vault-id={label}: {stderr}"
            )
        } else {
            format!("Vault password script {shown} returned non-zero ({code})")
        });
    }
    let pw = Zeroizing::new(trim_newlines(&stdout).to_vec());
    if pw.is_empty() {
        return Err(format!(
            "Invalid vault password was provided from script ({shown})"
        ));
    }
    Ok(pw)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn no_prompt(p: &str) -> Result<String, String> {
        Err(format!("unexpected prompt {p}"))
    }

    #[test]
    fn ids_are_ordered_as_ansible_orders_them() {
        let o = VaultOptions {
            vault_ids: vec!["a@prompt".into(), "pwfile".into()],
            password_files: vec!["f2".into()],
            ask_vault_pass: true,
            ..Default::default()
        };
        let ids = o.ids();
        let shown: Vec<(String, SecretSource)> =
            ids.into_iter().map(|i| (i.label, i.source)).collect();
        assert_eq!(
            shown,
            [
                ("a".into(), SecretSource::Prompt),
                ("default".into(), SecretSource::File("pwfile".into())),
                ("default".into(), SecretSource::File("f2".into())),
                ("default".into(), SecretSource::AskVaultPass),
            ]
        );
        assert!(VaultOptions::default().ids().is_empty());
        let auto = VaultOptions {
            auto_prompt: true,
            identity: "team".into(),
            ..Default::default()
        };
        assert_eq!(
            auto.ids(),
            [VaultId {
                label: "team".into(),
                source: SecretSource::AskVaultPass
            }]
        );
    }

    #[test]
    fn files_scripts_and_client_scripts() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pw");
        std::fs::write(&file, "  s3cret \n\n").unwrap();
        let script = dir.path().join("pw.sh");
        std::fs::write(&script, "#!/bin/sh\necho fromscript\n").unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        let client = dir.path().join("keys-client.sh");
        std::fs::write(
            &client,
            "#!/bin/sh\n[ \"$1\" = --vault-id ] || exit 9\ncase $2 in prod) echo p;; *) echo \"no $2\" >&2; exit 2;; esac\n",
        )
        .unwrap();
        std::fs::set_permissions(&client, std::fs::Permissions::from_mode(0o755)).unwrap();
        let o = VaultOptions {
            vault_ids: vec![
                format!("prod@{}", client.display()),
                format!("s@{}", script.display()),
            ],
            password_files: vec![file.display().to_string()],
            ..Default::default()
        };
        let v = o.load(false, &mut no_prompt).unwrap();
        let got: Vec<(&str, &[u8])> = v
            .secrets()
            .iter()
            .map(|s| (s.id.as_str(), s.bytes()))
            .collect();
        assert_eq!(
            got,
            [
                ("prod", &b"p"[..]),
                ("s", b"fromscript"),
                ("default", b"s3cret")
            ]
        );

        let o = VaultOptions {
            vault_ids: vec![format!("dev@{}", client.display())],
            ..Default::default()
        };
        let e = o.load(false, &mut no_prompt).unwrap_err();
        assert!(
            e.contains("did not find a secret for vault-id=dev: no dev"),
            "{e}"
        );
    }

    #[test]
    fn a_missing_file_is_an_error_only_when_nothing_else_was_found() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope").display().to_string();
        let o = VaultOptions {
            password_files: vec![missing.clone()],
            ..Default::default()
        };
        assert_eq!(
            o.load(false, &mut no_prompt).unwrap_err(),
            format!("The vault password file {missing} was not found")
        );
        let empty = dir.path().join("empty");
        std::fs::write(&empty, "\n").unwrap();
        let o = VaultOptions {
            password_files: vec![empty.display().to_string()],
            ..Default::default()
        };
        assert!(o
            .load(false, &mut no_prompt)
            .unwrap_err()
            .starts_with("Invalid vault password"));
    }

    #[test]
    fn prompts_confirm_a_new_password() {
        let o = VaultOptions {
            vault_ids: vec!["lab@prompt".into()],
            ..Default::default()
        };
        let mut asked = Vec::new();
        let mut ask = |p: &str| {
            asked.push(p.to_string());
            Ok("pw".to_string())
        };
        let v = o.load(true, &mut ask).unwrap();
        assert_eq!(
            asked,
            [
                "New vault password (lab): ",
                "Confirm new vault password (lab): "
            ]
        );
        assert_eq!(v.secrets()[0].bytes(), b"pw");
        let mut n = 0;
        let mut differ = |_: &str| {
            n += 1;
            Ok(format!("pw{n}"))
        };
        assert_eq!(
            o.load(true, &mut differ).unwrap_err(),
            "Passwords do not match"
        );
    }
}
