//! `herd vault`: encrypts, decrypts, views, edits and rekeys vaulted files
//! and strings, with the actions, flags, messages and exit codes of
//! ansible-vault; and [`VaultFlags`], the vault password flags that
//! `herd playbook`, `herd adhoc` and `herd inventory` share.
//!
//! ```text
//! herd vault encrypt --vault-password-file pw group_vars/all/secret.yml
//! herd vault view --vault-id prod@prompt secret.yml
//! herd vault encrypt_string --vault-id prod@pw -n db_password 's3cret'
//! EDITOR='code --wait' herd vault edit secret.yml
//! ```
//!
//! Files are replaced atomically (a temporary file beside the target, then
//! a rename), so an interrupted run never leaves half a file. `edit` and
//! `create` put the plaintext only in a private temporary directory (mode
//! 0700, the file 0600) that is overwritten and removed afterwards, also
//! when something fails.

use std::fs::Metadata;
use std::io::{IsTerminal, Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use zeroize::Zeroizing;

use crate::config::Config;
use crate::diag::{exit, Diagnostic, Result};
use crate::vault::secrets::VaultOptions;
use crate::vault::{Secret, Vault, VaultError, DEFAULT_ID};

/// The vault password flags, spelled as ansible-playbook and
/// ansible-vault spell them.
#[derive(Args, Debug, Default, Clone)]
pub struct VaultFlags {
    /// The vault identity to use: LABEL@SOURCE or SOURCE, where SOURCE is
    /// 'prompt', a password file, or an executable that prints the password
    /// (repeatable)
    #[arg(long = "vault-id", value_name = "VAULT_IDS")]
    pub vault_ids: Vec<String>,

    /// Ask for the vault password
    #[arg(
        short = 'J',
        long = "ask-vault-password",
        visible_alias = "ask-vault-pass",
        conflicts_with = "vault_password_files"
    )]
    pub ask_vault_pass: bool,

    /// Read the vault password from this file, or from what it prints if
    /// executable (repeatable)
    #[arg(
        long = "vault-password-file",
        visible_alias = "vault-pass-file",
        value_name = "VAULT_PASSWORD_FILES"
    )]
    pub vault_password_files: Vec<String>,
}

impl VaultFlags {
    /// Where the secrets come from: the configured `vault_identity_list`,
    /// the `--vault-id`s, the password files (the command line's, then the
    /// configured one), then a prompt for `--ask-vault-pass` (or, when
    /// `auto_prompt` and nothing else is given, as ansible-vault asks).
    fn options(&self, config: &Config, auto_prompt: bool) -> VaultOptions {
        let ids: Vec<String> = config
            .vault_identity_list
            .iter()
            .chain(&self.vault_ids)
            .cloned()
            .collect();
        let mut files: Vec<PathBuf> = self
            .vault_password_files
            .iter()
            .map(|f| unfrack(f))
            .collect();
        files.extend(config.vault_password_file.clone());
        let ask = self.ask_vault_pass || config.ask_vault_pass;
        sources(config, &ids, &files, ask, auto_prompt)
    }

    /// Reads the secrets of a command that only reads vaulted data (no
    /// prompt unless asked for) and installs them for the files it loads.
    /// Call it before the inventory is loaded.
    pub fn install(&self, config: &Config) -> Result<()> {
        let vault = load(&self.options(config, false), false)?;
        crate::vault::install(vault);
        Ok(())
    }
}

/// The sources with their paths made absolute, for
/// [`VaultOptions`], which orders and labels them as ansible-core does.
fn sources(
    config: &Config,
    ids: &[String],
    files: &[PathBuf],
    ask: bool,
    auto_prompt: bool,
) -> VaultOptions {
    VaultOptions {
        vault_ids: ids.iter().map(|s| absolute_source(s)).collect(),
        password_files: files.iter().map(|f| f.display().to_string()).collect(),
        ask_vault_pass: ask,
        id_match: config.vault_id_match,
        encrypt_salt: config.vault_encrypt_salt.clone(),
        identity: config.vault_identity.clone(),
        auto_prompt,
    }
}

/// `label@source` with a file source made absolute, as ansible-core
/// names it in its messages; the label stays as given.
fn absolute_source(spec: &str) -> String {
    let (label, value) = match spec.split_once('@') {
        Some((l, v)) => (Some(l), v),
        None => (None, spec),
    };
    let value = match value {
        "prompt" | "prompt_ask_vault_pass" => value.to_string(),
        file => unfrack(file).display().to_string(),
    };
    match label {
        Some(l) => format!("{l}@{value}"),
        None => value,
    }
}

/// A path made absolute and normalised without following symlinks, `~`
/// expanded (ansible-core's `unfrackpath(follow=False)`).
fn unfrack(path: &str) -> PathBuf {
    crate::inventory::output::abs(&crate::config::expand_user(path))
}

/// A path with its symlinks resolved (`os.path.realpath`), for the files
/// vault rewrites; `-` is standard input or output.
fn real_path(name: &str) -> String {
    if name == "-" {
        return name.to_string();
    }
    let abs = unfrack(name);
    std::fs::canonicalize(&abs)
        .unwrap_or(abs)
        .display()
        .to_string()
}

/// Reads every secret, asking on the terminal for prompts.
fn load(options: &VaultOptions, new_password: bool) -> Result<Vault> {
    let mut ask = |prompt: &str| match crate::exec::prompt_line(prompt, false) {
        Ok(Some(answer)) => Ok(answer),
        Ok(None) => Err(format!(
            "cannot ask for the vault password ('{}'): standard input is not a terminal",
            prompt.trim_end_matches([' ', ':'])
        )),
        Err(e) => Err(format!("could not read the vault password: {e}")),
    };
    options.load(new_password, &mut ask).map_err(|msg| {
        let hint = if msg.contains("not a terminal") {
            "run herd from a terminal, or give the password with --vault-password-file or \
             --vault-id LABEL@FILE"
        } else if msg == "Passwords do not match" {
            "type the same new password at both prompts"
        } else if msg == "Invalid vault password was provided" {
            "a vault password cannot be empty"
        } else {
            "check the --vault-id and --vault-password-file sources (and vault_password_file / \
             vault_identity_list in ansible.cfg)"
        };
        Diagnostic::new(msg).hint(hint)
    })
}

fn options_error(msg: impl Into<String>) -> Diagnostic {
    Diagnostic::new(msg).code(exit::BAD_OPTIONS)
}

/// Encrypt, decrypt, view and edit vaulted files and strings (as
/// ansible-vault)
#[derive(Args, Debug)]
#[command(
    after_help = "See 'herd vault <command> --help' for more information on a specific command."
)]
pub struct VaultArgs {
    /// More output: name the configuration file first (repeatable)
    #[arg(short = 'v', long = "verbose", action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,

    #[command(subcommand)]
    pub action: VaultAction,
}

#[derive(Subcommand, Debug)]
pub enum VaultAction {
    /// Create new vault encrypted file
    Create(CreateArgs),
    /// Decrypt vault encrypted file or string
    Decrypt(DecryptArgs),
    /// Edit vault encrypted file
    Edit(EditArgs),
    /// View vault encrypted file
    View(ViewArgs),
    /// Encrypt YAML file
    Encrypt(EncryptArgs),
    /// Encrypt a string
    #[command(name = "encrypt_string")]
    EncryptString(EncryptStringArgs),
    /// Re-key a vault encrypted file
    Rekey(RekeyArgs),
}

/// `--encrypt-vault-id`, for the actions that encrypt.
#[derive(Args, Debug, Default, Clone)]
pub struct EncryptIdFlag {
    /// The vault id used to encrypt (required if more than one vault-id is
    /// provided; default from vault_encrypt_identity in ansible.cfg)
    #[arg(long = "encrypt-vault-id", value_name = "ENCRYPT_VAULT_ID")]
    pub encrypt_vault_id: Option<String>,
}

/// `--output`, for encrypt, decrypt and encrypt_string.
#[derive(Args, Debug, Default, Clone)]
pub struct OutputFlag {
    /// Output file name for encrypt or decrypt; use - for stdout
    #[arg(long = "output", value_name = "OUTPUT_FILE")]
    pub output: Option<String>,
}

#[derive(Args, Debug)]
pub struct CreateArgs {
    #[command(flatten)]
    pub vault: VaultFlags,
    #[command(flatten)]
    pub encrypt: EncryptIdFlag,
    /// Allows the editor to be opened when no tty is attached
    #[arg(long = "skip-tty-check")]
    pub skip_tty_check: bool,
    /// Filename
    #[arg(value_name = "FILE_NAME")]
    pub files: Vec<String>,
}

#[derive(Args, Debug)]
pub struct DecryptArgs {
    #[command(flatten)]
    pub vault: VaultFlags,
    #[command(flatten)]
    pub output: OutputFlag,
    /// Filename (none or '-': standard input)
    #[arg(value_name = "FILE_NAME")]
    pub files: Vec<String>,
}

#[derive(Args, Debug)]
pub struct EditArgs {
    #[command(flatten)]
    pub vault: VaultFlags,
    /// Accepted as ansible-vault accepts it, with no effect: an edited
    /// file keeps its own vault id
    #[arg(long = "encrypt-vault-id", value_name = "ENCRYPT_VAULT_ID")]
    pub encrypt_vault_id: Option<String>,
    /// Filename
    #[arg(value_name = "FILE_NAME")]
    pub files: Vec<String>,
}

#[derive(Args, Debug)]
pub struct ViewArgs {
    #[command(flatten)]
    pub vault: VaultFlags,
    /// Filename
    #[arg(value_name = "FILE_NAME")]
    pub files: Vec<String>,
}

#[derive(Args, Debug)]
pub struct EncryptArgs {
    #[command(flatten)]
    pub vault: VaultFlags,
    #[command(flatten)]
    pub output: OutputFlag,
    #[command(flatten)]
    pub encrypt: EncryptIdFlag,
    /// Filename (none or '-': standard input)
    #[arg(value_name = "FILE_NAME")]
    pub files: Vec<String>,
}

#[derive(Args, Debug)]
pub struct EncryptStringArgs {
    #[command(flatten)]
    pub vault: VaultFlags,
    #[command(flatten)]
    pub output: OutputFlag,
    #[command(flatten)]
    pub encrypt: EncryptIdFlag,
    /// Prompt for the string to encrypt
    #[arg(short = 'p', long = "prompt")]
    pub prompt: bool,
    /// Do not hide input when prompted for the string to encrypt
    #[arg(long = "show-input")]
    pub show_input: bool,
    /// Specify the variable name (repeatable; the names pair with the
    /// strings in order)
    #[arg(short = 'n', long = "name", value_name = "ENCRYPT_STRING_NAMES")]
    pub names: Vec<String>,
    /// Specify the variable name for stdin
    #[arg(long = "stdin-name", value_name = "ENCRYPT_STRING_STDIN_NAME")]
    pub stdin_name: Option<String>,
    /// String to encrypt ('-', or none without --prompt: standard input)
    #[arg(value_name = "STRING_TO_ENCRYPT")]
    pub strings: Vec<String>,
}

#[derive(Args, Debug)]
pub struct RekeyArgs {
    #[command(flatten)]
    pub vault: VaultFlags,
    #[command(flatten)]
    pub encrypt: EncryptIdFlag,
    /// New vault password file for rekey
    #[arg(
        long = "new-vault-password-file",
        value_name = "NEW_VAULT_PASSWORD_FILE",
        conflicts_with = "new_vault_id"
    )]
    pub new_vault_password_file: Option<String>,
    /// The new vault identity to use for rekey (LABEL@SOURCE)
    #[arg(long = "new-vault-id", value_name = "NEW_VAULT_ID")]
    pub new_vault_id: Option<String>,
    /// Filename
    #[arg(value_name = "FILE_NAME")]
    pub files: Vec<String>,
}

impl VaultAction {
    fn vault_flags(&self) -> &VaultFlags {
        match self {
            VaultAction::Create(a) => &a.vault,
            VaultAction::Decrypt(a) => &a.vault,
            VaultAction::Edit(a) => &a.vault,
            VaultAction::View(a) => &a.vault,
            VaultAction::Encrypt(a) => &a.vault,
            VaultAction::EncryptString(a) => &a.vault,
            VaultAction::Rekey(a) => &a.vault,
        }
    }
}

/// Runs `herd vault ACTION`. Option mistakes exit 5, as ansible-vault's;
/// a wrong password, an unreadable file or a text that is not vaulted
/// exit 1.
pub fn run(args: &VaultArgs) -> Result<i32> {
    let config = Config::load()?;
    super::announce_config(&config, args.verbose);
    check_options(&args.action)?;
    // As ansible-vault: what is created is private (the directories
    // `create` makes among them).
    // SAFETY: umask only changes this process's file creation mask.
    unsafe { libc::umask(0o077) };
    match &args.action {
        VaultAction::Create(a) => create(&config, a),
        VaultAction::Decrypt(a) => decrypt(&config, a),
        VaultAction::Edit(a) => edit(&config, a),
        VaultAction::View(a) => view(&config, a),
        VaultAction::Encrypt(a) => encrypt(&config, a),
        VaultAction::EncryptString(a) => encrypt_string(&config, a),
        VaultAction::Rekey(a) => rekey(&config, a),
    }?;
    Ok(0)
}

/// The checks ansible-vault makes before it reads any secret.
fn check_options(action: &VaultAction) -> Result<()> {
    for id in &action.vault_flags().vault_ids {
        if id.contains(';') {
            return Err(options_error(format!(
                "'{id}' is not a valid vault id. The character ';' is not allowed in vault ids"
            ))
            .hint("a vault id is LABEL@SOURCE, e.g. --vault-id prod@~/.vault_pass"));
        }
    }
    let (output, files) = match action {
        VaultAction::Decrypt(a) => (&a.output, &a.files),
        VaultAction::Encrypt(a) => (&a.output, &a.files),
        VaultAction::EncryptString(a) => (&a.output, &a.strings),
        _ => return Ok(()),
    };
    if output.output.is_some() && files.len() > 1 {
        return Err(
            options_error("At most one input file may be used with the --output option")
                .hint("run once per file, or leave out --output to change the files in place"),
        );
    }
    if let VaultAction::EncryptString(a) = action {
        if a.prompt && reads_stdin(a) {
            return Err(options_error(
                "The --prompt option is not supported if also reading input from stdin",
            )
            .hint("leave out '-' and --stdin-name, or --prompt"));
        }
    }
    Ok(())
}

/// Whether encrypt_string reads a string from standard input.
fn reads_stdin(a: &EncryptStringArgs) -> bool {
    a.strings.iter().any(|s| s == "-")
        || a.stdin_name.is_some()
        || (a.strings.is_empty() && !a.prompt)
}

fn no_password() -> Diagnostic {
    options_error("A vault password is required to use Ansible's Vault")
        .hint("give it with --vault-password-file, --vault-id or --ask-vault-pass")
}

/// The secrets for reading vaulted data; at least one is needed.
fn read_secrets(config: &Config, flags: &VaultFlags) -> Result<Vault> {
    let vault = load(&flags.options(config, true), false)?;
    if vault.is_empty() {
        return Err(no_password());
    }
    Ok(vault)
}

/// The secrets for writing vaulted data (a prompt asks twice) and the one
/// that encrypts.
fn encrypt_secrets(
    config: &Config,
    flags: &VaultFlags,
    encrypt_id: &EncryptIdFlag,
) -> Result<(Vault, usize)> {
    let id = encrypt_id
        .encrypt_vault_id
        .clone()
        .or_else(|| config.vault_encrypt_identity.clone());
    let vault = load(&flags.options(config, true), true)?;
    if vault.secrets().len() > 1 && id.is_none() {
        let ids: Vec<&str> = vault.secrets().iter().map(|s| s.id.as_str()).collect();
        return Err(options_error(format!(
            "The vault-ids {} are available to encrypt. Specify the vault-id to encrypt with --encrypt-vault-id",
            ids.join(",")
        ))
        .hint(format!("add --encrypt-vault-id {}", ids[0])));
    }
    if vault.is_empty() {
        return Err(no_password());
    }
    let i = pick_encrypt_secret(&vault, id.as_deref())?;
    Ok((vault, i))
}

fn pick_encrypt_secret(vault: &Vault, id: Option<&str>) -> Result<usize> {
    vault.encrypt_secret(id).map_err(|msg| {
        Diagnostic::new(msg)
            .hint("--encrypt-vault-id must name the label of one of the --vault-id's")
    })
}

/// ansible-vault's wording of a failed decryption of `file`: the error's
/// own sentence, ended with a full stop, then ` for FILE`.
fn decrypt_failure(e: &VaultError, file: &str) -> Diagnostic {
    let msg = e.to_string();
    let msg = if msg.ends_with('.') {
        msg
    } else {
        format!("{msg}.")
    };
    let d = Diagnostic::new(format!("{msg} for {file}"));
    match (e, e.hint()) {
        (_, Some(h)) => d.hint(h),
        (VaultError::NotEncrypted, None) => {
            d.hint("the file is not vault text; `herd vault encrypt` encrypts it")
        }
        _ => d,
    }
}

/// A failed encryption: the plaintext is vault text already.
fn encrypt_failure(e: VaultError) -> Diagnostic {
    Diagnostic::new(e.to_string()).hint(
        "it is vault text already: `herd vault rekey` changes its password, `herd vault edit` its content",
    )
}

/// An I/O error as Python words it: `[Errno 2] No such file or directory:
/// '/path'`.
fn os_error(e: &std::io::Error, path: &str) -> String {
    let text = e.to_string();
    let text = match text.rfind(" (os error ") {
        Some(i) => &text[..i],
        None => &text,
    };
    match e.raw_os_error() {
        Some(n) => format!("[Errno {n}] {text}: '{path}'"),
        None => format!("{text}: '{path}'"),
    }
}

/// The content of a file, or of standard input for `-`.
fn read_input(name: &str) -> Result<Zeroizing<Vec<u8>>> {
    let mut data = Zeroizing::new(Vec::new());
    if name == "-" {
        std::io::stdin()
            .lock()
            .read_to_end(&mut data)
            .map_err(|e| {
                Diagnostic::new(format!("Unable to read source file (-): {e}"))
                    .hint("give the input as a file name instead of on standard input")
            })?;
        return Ok(data);
    }
    let shown = unfrack(name).display().to_string();
    let mut file = std::fs::File::open(name).map_err(|e| read_error(&e, &shown))?;
    file.read_to_end(&mut data)
        .map_err(|e| read_error(&e, &shown))?;
    Ok(data)
}

fn read_error(e: &std::io::Error, shown: &str) -> Diagnostic {
    Diagnostic::new(format!(
        "Unable to read source file ({shown}): {}",
        os_error(e, shown)
    ))
    .hint("check the file name and that it is readable")
}

/// Writes `data` to standard output (`-`) or replaces the file `target`.
/// A new or replaced file is 0600, as ansible-vault writes it.
fn write_output(data: &[u8], target: &str) -> Result<()> {
    if target == "-" {
        let mut out = std::io::stdout().lock();
        return out.write_all(data).and_then(|_| out.flush()).map_err(|e| {
            Diagnostic::new(format!("could not write to standard output: {e}"))
                .hint("write to a file with --output instead")
        });
    }
    replace_file(Path::new(target), data, None)
}

/// Replaces `path` atomically: the data goes to a private temporary file
/// in the same directory, which is then renamed over it. `keep`: the
/// metadata whose mode (and, when allowed, owner) the new file keeps;
/// without it the file is 0600.
fn replace_file(path: &Path, data: &[u8], keep: Option<&Metadata>) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let (tmp, mut file) = (0..8)
        .find_map(|_| {
            let tmp = dir.join(format!(
                ".{name}.herd-vault-{:08x}.tmp",
                rand::random::<u32>()
            ));
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&tmp)
            {
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => None,
                r => Some(r.map(|f| (tmp, f))),
            }
        })
        .unwrap_or_else(|| Err(std::io::Error::from(std::io::ErrorKind::AlreadyExists)))
        .map_err(|e| {
            let unwritable = matches!(
                e.kind(),
                std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::NotFound
            );
            let d = if unwritable {
                Diagnostic::new(format!("Destination '{}' not writable", dir.display()))
            } else {
                Diagnostic::new(format!("Problem creating temporary vault file: {e}"))
            };
            d.hint("check that the file's directory exists and is writable")
        })?;
    let written = (|| {
        file.write_all(data)?;
        file.sync_all()?;
        if let Some(m) = keep {
            std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(m.mode() & 0o7777))?;
            // Giving a file away needs privileges; as the owner it is
            // ours anyway.
            let _ = std::os::unix::fs::chown(&tmp, Some(m.uid()), Some(m.gid()));
        }
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(Diagnostic::new(format!(
            "Unable to write to {}: {e}",
            path.display()
        ))
        .hint("check the free space and permissions of its directory; the file was left as it was"));
    }
    Ok(())
}

fn stdin_is_terminal() -> bool {
    std::io::stdin().is_terminal()
}

fn stdout_is_terminal() -> bool {
    std::io::stdout().is_terminal()
}

fn note(text: &str) {
    let _ = writeln!(anstream::stderr(), "{text}");
}

fn decrypt(config: &Config, a: &DecryptArgs) -> Result<()> {
    let vault = read_secrets(config, &a.vault)?;
    if a.files.is_empty() && stdin_is_terminal() {
        note("Reading ciphertext input from stdin");
    }
    for f in files_or_stdin(&a.files) {
        let real = real_path(f);
        let text = read_input(&real)?;
        let plain = vault
            .decrypt(&text)
            .map_err(|e| decrypt_failure(&e, &real))?;
        write_output(&plain.plaintext, &output_target(&a.output, &real))?;
    }
    if stdout_is_terminal() {
        note("Decryption successful");
    }
    Ok(())
}

fn encrypt(config: &Config, a: &EncryptArgs) -> Result<()> {
    let (vault, i) = encrypt_secrets(config, &a.vault, &a.encrypt)?;
    if a.files.is_empty() && stdin_is_terminal() {
        note("Reading plaintext input from stdin");
    }
    for f in files_or_stdin(&a.files) {
        let real = real_path(f);
        let plain = read_input(&real)?;
        let text = vault.encrypt(&plain, i).map_err(encrypt_failure)?;
        write_output(text.as_bytes(), &output_target(&a.output, &real))?;
    }
    if stdout_is_terminal() {
        note("Encryption successful");
    }
    Ok(())
}

fn files_or_stdin(files: &[String]) -> Vec<&str> {
    if files.is_empty() {
        vec!["-"]
    } else {
        files.iter().map(String::as_str).collect()
    }
}

/// `--output` (resolved as a path, `-` kept), else the input itself.
fn output_target(output: &OutputFlag, input: &str) -> String {
    match output.output.as_deref() {
        Some(o) => real_path(o),
        None => input.to_string(),
    }
}

fn view(config: &Config, a: &ViewArgs) -> Result<()> {
    let vault = read_secrets(config, &a.vault)?;
    for f in &a.files {
        let text = read_input(f)?;
        let plain = vault.decrypt(&text).map_err(|e| decrypt_failure(&e, f))?;
        page(config, &plain.plaintext)?;
    }
    Ok(())
}

/// Shows a plaintext: through the pager on a terminal, else straight to
/// standard output; a final newline is added when missing, as
/// ansible-vault prints it.
fn page(config: &Config, plaintext: &[u8]) -> Result<()> {
    let mut text = Zeroizing::new(plaintext.to_vec());
    if !text.ends_with(b"\n") {
        text.push(b'\n');
    }
    let pager = config.pager.trim();
    if stdout_is_terminal() && !pager.is_empty() {
        let mut cmd = std::process::Command::new("/bin/sh");
        cmd.arg("-c").arg(pager).stdin(std::process::Stdio::piped());
        if pager.contains("less") {
            cmd.env("LESS", "FRSX");
        }
        if let Ok(mut child) = cmd.spawn() {
            if let Some(mut stdin) = child.stdin.take() {
                // A pager quit early closes the pipe: not an error.
                let _ = stdin.write_all(&text);
            }
            // 127: the shell found no such pager; show the text anyway.
            let missing = child.wait().map(|st| st.code() == Some(127));
            if !matches!(missing, Ok(true)) {
                return Ok(());
            }
        }
    }
    write_output(&text, "-")
}

fn create(config: &Config, a: &CreateArgs) -> Result<()> {
    let (vault, i) = encrypt_secrets(config, &a.vault, &a.encrypt)?;
    if a.files.len() != 1 {
        return Err(
            options_error("herd vault create can take only one filename argument")
                .hint("create one file at a time"),
        );
    }
    if !stdout_is_terminal() && !a.skip_tty_check {
        return Err(options_error("not a tty, editor cannot be opened")
            .hint("run it from a terminal, or add --skip-tty-check"));
    }
    let name = &a.files[0];
    let path = Path::new(name);
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if !dir.exists() {
            crate::diag::warn(format!("{} does not exist, creating...", dir.display()));
            std::fs::create_dir_all(dir).map_err(|e| {
                Diagnostic::new(format!(
                    "could not create the directory {}: {e}",
                    dir.display()
                ))
                .hint("check the permissions of its parent directory")
            })?;
        }
    }
    if path.is_file() {
        return Err(
            Diagnostic::new(format!("{name} exists, please use 'edit' instead"))
                .hint(format!("herd vault edit {name}")),
        );
    }
    if path.is_dir() {
        return Err(Diagnostic::new(format!("{name} is a directory"))
            .hint("give the name of the file to create"));
    }
    edit_in_editor(config, path, None, &|plain| {
        vault.encrypt(plain, i).map_err(encrypt_failure)
    })
}

fn edit(config: &Config, a: &EditArgs) -> Result<()> {
    let vault = read_secrets(config, &a.vault)?;
    for f in &a.files {
        let real = real_path(f);
        let text = read_input(&real)?;
        let plain = vault
            .decrypt(&text)
            .map_err(|e| decrypt_failure(&e, &real))?;
        let keeper = same_secret_and_label(&vault, &text, &plain.vault_id);
        edit_in_editor(config, Path::new(&real), Some(&plain.plaintext), &|p| {
            keeper.encrypt(p, 0).map_err(encrypt_failure)
        })?;
    }
    Ok(())
}

/// A vault holding only the secret that opened `text`, under the label of
/// `text`'s own header, so that an edited file is encrypted again as it
/// was (ansible-vault edit keeps the header's vault id: a 1.1 file stays
/// 1.1 whichever id opened it).
fn same_secret_and_label(vault: &Vault, text: &[u8], opened_by: &str) -> Vault {
    let label = crate::vault::parse_envelope(text)
        .ok()
        .and_then(|e| e.label)
        .unwrap_or_else(|| DEFAULT_ID.to_string());
    let alone = |s: &Secret, label: &str| {
        let mut v = Vault::new(vec![Secret::new(
            label,
            s.bytes().to_vec(),
            s.source.clone(),
        )]);
        v.encrypt_salt = vault.encrypt_salt.clone();
        v
    };
    let with_id: Vec<&Secret> = vault
        .secrets()
        .iter()
        .filter(|s| s.id == opened_by)
        .collect();
    // Several secrets may share an id: the one that opens the text is
    // the one to keep.
    let secret = match with_id.as_slice() {
        [one] => *one,
        many => many
            .iter()
            .copied()
            .find(|s| alone(s, opened_by).decrypt(text).is_ok())
            .unwrap_or(with_id[0]),
    };
    alone(secret, &label)
}

/// Runs the editor on a private plaintext copy and, if the content
/// changed (or there was none before, as for `create`), writes it back
/// encrypted with `seal`, keeping the file's mode.
fn edit_in_editor(
    config: &Config,
    target: &Path,
    existing: Option<&[u8]>,
    seal: &dyn Fn(&[u8]) -> Result<String>,
) -> Result<()> {
    let ext = target
        .extension()
        .map(|e| format!(".{}", e.to_string_lossy()))
        .unwrap_or_default();
    let scratch = Scratch::new(&ext)?;
    if let Some(data) = existing {
        std::fs::write(&scratch.file, data).map_err(|e| {
            Diagnostic::new(format!("could not write the temporary plaintext file: {e}"))
                .hint("set TMPDIR to a writable directory with free space")
        })?;
    }
    let mut words = herd_modules::commands::shlex_split(&config.editor).map_err(|e| {
        Diagnostic::new(format!("cannot split the editor command '{}': {e}", config.editor))
            .hint("set EDITOR (or editor in ansible.cfg) to a command line such as 'vim' or 'code --wait'")
    })?;
    if words.is_empty() {
        return Err(Diagnostic::new("the editor command is empty")
            .hint("set EDITOR (or editor in ansible.cfg), e.g. EDITOR=vi"));
    }
    words.push(scratch.file.display().to_string());
    // As ansible-vault, the editor's exit status is not looked at: only
    // whether the content changed.
    run_editor(&words).map_err(|e| {
        Diagnostic::new(format!(
            "Unable to execute the command \"{}\": {}",
            words.join(" "),
            os_error(&e, &words[0])
        ))
        .hint("set EDITOR (or editor in ansible.cfg) to an editor that is installed")
    })?;
    let edited = read_input(&scratch.file.display().to_string())?;
    if existing == Some(&edited[..]) {
        return Ok(());
    }
    let text = seal(&edited)?;
    let keep = std::fs::metadata(target).ok();
    replace_file(target, text.as_bytes(), keep.as_ref())
}

/// Runs the editor and waits for it. Meanwhile herd ignores SIGINT,
/// SIGQUIT and SIGHUP (as system(3) does for the first two), so that
/// ctrl-c in the editor or a closed terminal cannot end herd before it
/// removes the plaintext copy. They are ignored before the editor starts
/// (no window in which they would still end herd), and the editor gets
/// herd's previous dispositions back.
fn run_editor(words: &[String]) -> std::io::Result<()> {
    use std::os::unix::process::CommandExt;
    const SIGNALS: [libc::c_int; 3] = [libc::SIGINT, libc::SIGQUIT, libc::SIGHUP];
    // SAFETY: SIG_IGN installs no handler code; the previous dispositions
    // are put back below.
    let saved = SIGNALS.map(|s| unsafe { libc::signal(s, libc::SIG_IGN) });
    let restore = move || {
        for (s, old) in SIGNALS.into_iter().zip(saved) {
            // SAFETY: puts back a disposition signal() returned above.
            unsafe { libc::signal(s, old) };
        }
    };
    let mut cmd = std::process::Command::new(&words[0]);
    cmd.args(&words[1..]);
    // SAFETY: between fork and exec the closure only calls signal(2),
    // which is async-signal-safe, and allocates nothing.
    unsafe {
        cmd.pre_exec(move || {
            restore();
            Ok(())
        });
    }
    let waited = cmd.spawn().and_then(|mut child| child.wait());
    restore();
    waited.map(|_| ())
}

/// A private temporary directory (0700) holding the plaintext file
/// (0600) the editor opens; overwritten and removed when dropped, whether
/// the edit succeeded or not. The editor's own files (swap, backup) go
/// with it.
struct Scratch {
    dir: PathBuf,
    file: PathBuf,
}

impl Scratch {
    fn new(ext: &str) -> Result<Scratch> {
        let base = std::env::temp_dir();
        let fail = |e: std::io::Error| {
            Diagnostic::new(format!(
                "could not create a private temporary directory in {}: {e}",
                base.display()
            ))
            .hint("set TMPDIR to a writable directory")
        };
        let mut last = None;
        for _ in 0..8 {
            let dir = base.join(format!("herd-vault-{:016x}", rand::random::<u64>()));
            match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
                Ok(()) => {
                    let scratch = Scratch {
                        file: dir.join(format!("plaintext{ext}")),
                        dir,
                    };
                    std::fs::OpenOptions::new()
                        .write(true)
                        .create_new(true)
                        .mode(0o600)
                        .open(&scratch.file)
                        .map_err(fail)?;
                    return Ok(scratch);
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last = Some(e),
                Err(e) => return Err(fail(e)),
            }
        }
        Err(fail(last.unwrap_or_else(|| {
            std::io::Error::from(std::io::ErrorKind::AlreadyExists)
        })))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        // Overwrite before removing, so the plaintext does not linger in
        // freed blocks (as ansible-vault shreds it).
        // Only a regular file is overwritten, never what a symlink put in
        // its place points to.
        let regular = std::fs::symlink_metadata(&self.file)
            .ok()
            .filter(|m| m.is_file());
        if let Some(meta) = regular {
            if let Ok(mut f) = std::fs::OpenOptions::new()
                .write(true)
                .custom_flags(libc::O_NOFOLLOW)
                .open(&self.file)
            {
                let zeros = vec![0u8; 64 * 1024];
                let mut left = meta.len();
                while left > 0 {
                    let n = left.min(zeros.len() as u64) as usize;
                    if f.write_all(&zeros[..n]).is_err() {
                        break;
                    }
                    left -= n as u64;
                }
                let _ = f.sync_all();
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn rekey(config: &Config, a: &RekeyArgs) -> Result<()> {
    let vault = read_secrets(config, &a.vault)?;
    let encrypt_id = a
        .encrypt
        .encrypt_vault_id
        .clone()
        .or_else(|| config.vault_encrypt_identity.clone());
    // As ansible-vault: the configured identities join the new ones only
    // when an encrypt id picks among them.
    let mut new_ids = if encrypt_id.is_some() {
        config.vault_identity_list.clone()
    } else {
        Vec::new()
    };
    new_ids.extend(a.new_vault_id.clone());
    let mut new_files: Vec<PathBuf> = a
        .new_vault_password_file
        .iter()
        .map(|f| PathBuf::from(real_path(f)))
        .collect();
    new_files.extend(config.vault_password_file.clone());
    let ask = a.vault.ask_vault_pass || config.ask_vault_pass;
    let new_vault = load(&sources(config, &new_ids, &new_files, ask, true), true)?;
    if new_vault.is_empty() {
        return Err(
            options_error("A new vault password is required to use Ansible's Vault rekey")
                .hint("give it with --new-vault-password-file or --new-vault-id"),
        );
    }
    let i = pick_encrypt_secret(&new_vault, encrypt_id.as_deref())?;
    for f in &a.files {
        let real = real_path(f);
        let shown = real.clone();
        let meta = std::fs::metadata(&real).map_err(|e| read_error(&e, &shown))?;
        let text = read_input(&real)?;
        let plain = vault
            .decrypt(&text)
            .map_err(|e| decrypt_failure(&e, &real))?;
        let new_text = new_vault
            .encrypt(&plain.plaintext, i)
            .map_err(encrypt_failure)?;
        replace_file(Path::new(&real), new_text.as_bytes(), Some(&meta))?;
    }
    note("Rekey successful");
    Ok(())
}

/// Where one string of encrypt_string came from, for the notes on stderr.
const FROM_STDIN: &str = "stdin";
const FROM_ARGS: &str = "the command line args";
const FROM_PROMPT: &str = "the interactive prompt";

/// One string encrypt_string encrypts: its text, where it came from, and
/// its variable name.
type PlainString = (Zeroizing<Vec<u8>>, &'static str, Option<String>);

fn encrypt_string(config: &Config, a: &EncryptStringArgs) -> Result<()> {
    let (vault, i) = encrypt_secrets(config, &a.vault, &a.encrypt)?;
    let mut items: Vec<PlainString> = Vec::new();
    if a.prompt {
        let name = ask_line("Variable name (enter for no name): ", true)?;
        let msg = if a.show_input {
            "String to encrypt:"
        } else {
            "String to encrypt (hidden): "
        };
        let text = Zeroizing::new(ask_line(msg, a.show_input)?);
        if text.is_empty() {
            return Err(options_error(
                "The plaintext provided from the prompt was empty, not encrypting",
            )
            .hint("type the string to encrypt at the prompt"));
        }
        items.push((
            Zeroizing::new(text.as_bytes().to_vec()),
            FROM_PROMPT,
            (!name.is_empty()).then_some(name),
        ));
    }
    if reads_stdin(a) {
        if stdout_is_terminal() {
            note("Reading plaintext input from stdin. (ctrl-d to end input, twice if your content does not already have a newline)");
        }
        let text = read_input("-")?;
        if text.is_empty() {
            return Err(options_error("stdin was empty, not encrypting")
                .hint("pipe the string in, or give it as an argument"));
        }
        if stdout_is_terminal() && !text.ends_with(b"\n") {
            println!();
        }
        items.push((text, FROM_STDIN, a.stdin_name.clone()));
    }
    let args: Vec<&String> = a.strings.iter().filter(|s| *s != "-").collect();
    if !a.names.is_empty() && args.len() > a.names.len() {
        // Vague on purpose: the strings themselves are never shown.
        note("The number of --name options do not match the number of args.");
        note(&format!(
            "The last named variable will be \"{}\". The rest will not have names.",
            a.names[a.names.len() - 1]
        ));
    }
    for (k, s) in args.iter().enumerate() {
        if s.is_empty() {
            return Err(options_error(
                "The plaintext provided from the command line args was empty, not encrypting",
            )
            .hint("give a non-empty string, or '-' to read it from standard input"));
        }
        items.push((
            Zeroizing::new(s.as_bytes().to_vec()),
            FROM_ARGS,
            a.names.get(k).cloned(),
        ));
    }
    let several = items.len() > 1;
    let mut outs: Vec<String> = Vec::with_capacity(items.len() + 1);
    let mut err = anstream::stderr();
    for (k, (plain, src, name)) in items.iter().enumerate() {
        let text = vault.encrypt(plain, i).map_err(encrypt_failure)?;
        outs.push(vault_yaml(&text, name.as_deref()));
        if several {
            let n = k + 1;
            let _ = match name {
                Some(name) => writeln!(
                    err,
                    "# The encrypted version of variable (\"{name}\", the string #{n} from {src})."
                ),
                None => writeln!(
                    err,
                    "# The encrypted version of the string #{n} from {src}.)"
                ),
            };
        }
    }
    outs.push(String::new());
    let target = match a.output.output.as_deref() {
        Some(o) => real_path(o),
        None => "-".to_string(),
    };
    write_output(outs.join("\n").as_bytes(), &target)?;
    if stdout_is_terminal() {
        note("Encryption successful");
    }
    Ok(())
}

/// A line from the terminal; `echo` false hides it.
fn ask_line(prompt: &str, echo: bool) -> Result<String> {
    match crate::exec::prompt_line(prompt, echo) {
        Ok(Some(line)) => Ok(line),
        Ok(None) => Err(Diagnostic::new(format!(
            "cannot ask '{}': standard input is not a terminal",
            prompt.trim_end_matches([' ', ':'])
        ))
        .hint("give the string as an argument or on standard input instead of --prompt")),
        Err(e) => Err(Diagnostic::new(format!("could not read the answer: {e}"))
            .hint("give the string as an argument instead of --prompt")),
    }
}

/// A vault text as a YAML block scalar tagged `!vault`, indented ten
/// spaces, as ansible-vault encrypt_string prints it.
fn vault_yaml(text: &str, name: Option<&str>) -> String {
    let mut lines = vec![match name {
        Some(n) => format!("{n}: !vault |"),
        None => "!vault |".to_string(),
    }];
    lines.extend(text.lines().map(|l| format!("{:10}{l}", "")));
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vault::secrets::SecretSource;

    #[test]
    fn sources_are_labelled_and_absolute() {
        let config = Config {
            vault_identity: "team".into(),
            vault_identity_list: vec!["a@/k/a".into()],
            ..Config::default()
        };
        let flags = VaultFlags {
            vault_ids: vec!["prompt".into(), "@/k/b".into(), "x@y@z".into()],
            vault_password_files: vec!["/k/../k/pw".into()],
            ask_vault_pass: true,
        };
        let cwd = std::env::current_dir().unwrap();
        let shown = |o: VaultOptions| -> Vec<String> {
            o.ids()
                .into_iter()
                .map(|i| match i.source {
                    SecretSource::Prompt => format!("{}@prompt", i.label),
                    SecretSource::AskVaultPass => format!("{}@prompt_ask_vault_pass", i.label),
                    SecretSource::File(f) => format!("{}@{}", i.label, f.display()),
                })
                .collect()
        };
        assert_eq!(
            shown(flags.options(&config, false)),
            [
                "a@/k/a".to_string(),
                "team@prompt".into(),
                "team@/k/b".into(),
                format!("x@{}", cwd.join("y@z").display()),
                "team@/k/pw".into(),
                "team@prompt_ask_vault_pass".into(),
            ]
        );
        let none = VaultFlags::default();
        assert!(shown(none.options(&Config::default(), false)).is_empty());
        assert_eq!(
            shown(none.options(&Config::default(), true)),
            ["default@prompt_ask_vault_pass"]
        );
    }

    #[test]
    fn yaml_block_is_indented_ten_spaces() {
        let text = "$ANSIBLE_VAULT;1.1;AES256\n6162\n6364\n";
        assert_eq!(
            vault_yaml(text, Some("pw")),
            "pw: !vault |\n          $ANSIBLE_VAULT;1.1;AES256\n          6162\n          6364"
        );
        assert!(vault_yaml(text, None).starts_with("!vault |\n          $ANSIBLE"));
    }

    #[test]
    fn os_errors_read_as_python_words_them() {
        let e = std::fs::read("/no/such/file").unwrap_err();
        assert_eq!(
            os_error(&e, "/no/such/file"),
            "[Errno 2] No such file or directory: '/no/such/file'"
        );
    }

    #[test]
    fn replaced_files_keep_their_mode_or_are_private() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f.yml");
        std::fs::write(&p, "old").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o640)).unwrap();
        let meta = std::fs::metadata(&p).unwrap();
        replace_file(&p, b"new", Some(&meta)).unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"new");
        assert_eq!(std::fs::metadata(&p).unwrap().mode() & 0o777, 0o640);
        replace_file(&p, b"newer", None).unwrap();
        assert_eq!(std::fs::metadata(&p).unwrap().mode() & 0o777, 0o600);
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "no temporary file is left");
    }
}
