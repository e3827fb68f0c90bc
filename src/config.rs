//! Configuration from `ansible.cfg` and `ANSIBLE_*` environment variables.
//!
//! The file is the first found of `$ANSIBLE_CONFIG`, `./ansible.cfg`,
//! `~/.ansible.cfg` and `/etc/ansible/ansible.cfg`, as Ansible looks for it.
//! An environment variable beats the file; a command-line flag beats both
//! (the CLI applies those).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::diag::{Diagnostic, Loc, Result};

/// The settings herd reads, with Ansible's defaults (except `forks`, see
/// [`DEFAULT_FORKS`]).
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// The file the settings came from, if any.
    pub file: Option<PathBuf>,
    pub inventory: Vec<String>,
    pub roles_path: Vec<PathBuf>,
    pub forks: usize,
    pub remote_user: Option<String>,
    pub private_key_file: Option<PathBuf>,
    pub host_key_checking: bool,
    pub timeout: u64,
    pub gathering: String,
    /// `inject_facts_as_vars`: facts are also variables of their own name
    /// (not only under `ansible_facts`).
    pub inject_facts_as_vars: bool,
    /// `fact_caching`: the cache plugin (`memory`, `jsonfile`).
    pub fact_caching: String,
    /// `fact_caching_connection`: the jsonfile cache's directory.
    pub fact_caching_connection: Option<PathBuf>,
    /// `fact_caching_prefix`: put before each cache file's name.
    pub fact_caching_prefix: String,
    /// `fact_caching_timeout`: seconds a cache entry lives (0: always).
    pub fact_caching_timeout: u64,
    pub library: Vec<PathBuf>,
    pub stdout_callback: String,
    pub retry_files_enabled: bool,
    pub become_: bool,
    pub become_method: String,
    pub become_user: String,
    pub become_ask_pass: bool,
    /// `[inventory] unparsed_is_failed`: no parsable source is an error.
    pub inventory_unparsed_is_failed: bool,
    /// `[inventory] any_unparsed_is_failed`: any unparsable source is an
    /// error.
    pub inventory_any_unparsed_is_failed: bool,
    /// `[ssh_connection] herd_max_connections`: SSH connections open at
    /// once.
    pub ssh_max_connections: usize,
    /// `[ssh_connection] herd_max_handshakes`: SSH handshakes in flight
    /// per server.
    pub ssh_max_handshakes: usize,
    /// `vault_password_file`: a password file (or script) read after the
    /// `--vault-password-file`s; relative to the configuration file.
    pub vault_password_file: Option<PathBuf>,
    /// `vault_identity_list`: `label@source` vault ids read before the
    /// command line's `--vault-id`s.
    pub vault_identity_list: Vec<String>,
    /// `vault_identity`: the label of a secret given without one.
    pub vault_identity: String,
    /// `vault_id_match`: only the secret whose id is a text's label is
    /// tried. Read as ansible-core reads it: a string, so any non-empty
    /// value (even `False`) turns it on.
    pub vault_id_match: bool,
    /// `vault_encrypt_identity`: the default of `--encrypt-vault-id`.
    pub vault_encrypt_identity: Option<String>,
    /// `vault_encrypt_salt`: a fixed salt for encrypting (random when unset).
    pub vault_encrypt_salt: Option<String>,
    /// `ask_vault_pass`: as `--ask-vault-pass`.
    pub ask_vault_pass: bool,
    /// `editor` (`$EDITOR` beats `ANSIBLE_EDITOR` and the file, as in
    /// ansible-core): the command `herd vault edit` and `create` run.
    pub editor: String,
    /// `pager` (`$PAGER` beats `ANSIBLE_PAGER` and the file): what `herd
    /// vault view` pipes through on a terminal.
    pub pager: String,
    /// Every `[section]` key as written, for settings read elsewhere
    /// (`[ssh_connection]` among them).
    pub raw: HashMap<String, HashMap<String, String>>,
}

/// herd runs up to 50 hosts at once by default (Ansible: 5), since a host
/// costs it a task, not a process.
pub const DEFAULT_FORKS: usize = 50;

impl Default for Config {
    fn default() -> Config {
        Config {
            file: None,
            inventory: vec!["/etc/ansible/hosts".into()],
            roles_path: [
                "~/.ansible/roles",
                "/usr/share/ansible/roles",
                "/etc/ansible/roles",
            ]
            .iter()
            .map(|p| expand_user(p))
            .collect(),
            forks: DEFAULT_FORKS,
            remote_user: None,
            private_key_file: None,
            host_key_checking: true,
            timeout: 10,
            gathering: "implicit".into(),
            inject_facts_as_vars: true,
            fact_caching: "memory".into(),
            fact_caching_connection: None,
            fact_caching_prefix: String::new(),
            fact_caching_timeout: 86400,
            library: Vec::new(),
            stdout_callback: "default".into(),
            retry_files_enabled: false,
            become_: false,
            become_method: "sudo".into(),
            become_user: "root".into(),
            become_ask_pass: false,
            inventory_unparsed_is_failed: false,
            inventory_any_unparsed_is_failed: false,
            ssh_max_connections: crate::connection::DEFAULT_MAX_CONNECTIONS,
            ssh_max_handshakes: crate::connection::DEFAULT_MAX_HANDSHAKES,
            vault_password_file: None,
            vault_identity_list: Vec::new(),
            vault_identity: crate::vault::DEFAULT_ID.into(),
            vault_id_match: false,
            vault_encrypt_identity: None,
            vault_encrypt_salt: None,
            ask_vault_pass: false,
            editor: "vi".into(),
            pager: "less".into(),
            raw: HashMap::new(),
        }
    }
}

/// Ansible's reading of a boolean setting.
pub fn parse_bool(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "y" | "yes" | "on" | "1" | "true" | "t" => Some(true),
        "n" | "no" | "off" | "0" | "false" | "f" | "" => Some(false),
        _ => None,
    }
}

/// `~` and `~/…` expanded to the home directory.
pub fn expand_user(path: &str) -> PathBuf {
    if path == "~" || path.starts_with("~/") {
        if let Some(home) = std::env::var_os("HOME") {
            return Path::new(&home).join(path.trim_start_matches('~').trim_start_matches('/'));
        }
    }
    PathBuf::from(path)
}

impl Config {
    /// Finds and reads the configuration, then applies the environment.
    pub fn load() -> Result<Config> {
        let env: HashMap<String, String> = std::env::vars().collect();
        let file = Self::find_file(&env);
        let mut cfg = Config::default();
        if let Some(path) = &file {
            let text = std::fs::read_to_string(path).map_err(|e| {
                Diagnostic::new(format!(
                    "could not read config file '{}': {e}",
                    path.display()
                ))
            })?;
            cfg.raw = parse_ini(&text, &path.display().to_string())?;
            cfg.file = Some(path.clone());
        }
        cfg.apply(&env)?;
        Ok(cfg)
    }

    fn find_file(env: &HashMap<String, String>) -> Option<PathBuf> {
        if let Some(p) = env.get("ANSIBLE_CONFIG").filter(|p| !p.is_empty()) {
            let p = expand_user(p);
            let p = if p.is_dir() { p.join("ansible.cfg") } else { p };
            if p.is_file() {
                return Some(p);
            }
        }
        let cwd = PathBuf::from("ansible.cfg");
        if cwd.is_file() && !world_writable(Path::new(".")) {
            return std::fs::canonicalize(&cwd).ok().or(Some(cwd));
        }
        [
            expand_user("~/.ansible.cfg"),
            PathBuf::from("/etc/ansible/ansible.cfg"),
        ]
        .into_iter()
        .find(|p| p.is_file())
    }

    /// Applies the file's values, then the environment's over them.
    fn apply(&mut self, env: &HashMap<String, String>) -> Result<()> {
        let base = self
            .file
            .as_ref()
            .and_then(|f| f.parent().map(Path::to_path_buf))
            .unwrap_or_default();
        let settings: &[(&str, &str, &str)] = &[
            ("defaults", "inventory", "ANSIBLE_INVENTORY"),
            ("defaults", "roles_path", "ANSIBLE_ROLES_PATH"),
            ("defaults", "forks", "ANSIBLE_FORKS"),
            ("defaults", "remote_user", "ANSIBLE_REMOTE_USER"),
            ("defaults", "private_key_file", "ANSIBLE_PRIVATE_KEY_FILE"),
            ("defaults", "host_key_checking", "ANSIBLE_HOST_KEY_CHECKING"),
            ("defaults", "timeout", "ANSIBLE_TIMEOUT"),
            ("defaults", "gathering", "ANSIBLE_GATHERING"),
            (
                "defaults",
                "inject_facts_as_vars",
                "ANSIBLE_INJECT_FACT_VARS",
            ),
            ("defaults", "fact_caching", "ANSIBLE_CACHE_PLUGIN"),
            (
                "defaults",
                "fact_caching_connection",
                "ANSIBLE_CACHE_PLUGIN_CONNECTION",
            ),
            (
                "defaults",
                "fact_caching_prefix",
                "ANSIBLE_CACHE_PLUGIN_PREFIX",
            ),
            (
                "defaults",
                "fact_caching_timeout",
                "ANSIBLE_CACHE_PLUGIN_TIMEOUT",
            ),
            ("defaults", "library", "ANSIBLE_LIBRARY"),
            ("defaults", "stdout_callback", "ANSIBLE_STDOUT_CALLBACK"),
            (
                "defaults",
                "retry_files_enabled",
                "ANSIBLE_RETRY_FILES_ENABLED",
            ),
            (
                "defaults",
                "vault_password_file",
                "ANSIBLE_VAULT_PASSWORD_FILE",
            ),
            (
                "defaults",
                "vault_identity_list",
                "ANSIBLE_VAULT_IDENTITY_LIST",
            ),
            ("defaults", "vault_identity", "ANSIBLE_VAULT_IDENTITY"),
            ("defaults", "vault_id_match", "ANSIBLE_VAULT_ID_MATCH"),
            (
                "defaults",
                "vault_encrypt_identity",
                "ANSIBLE_VAULT_ENCRYPT_IDENTITY",
            ),
            (
                "defaults",
                "vault_encrypt_salt",
                "ANSIBLE_VAULT_ENCRYPT_SALT",
            ),
            ("defaults", "ask_vault_pass", "ANSIBLE_ASK_VAULT_PASS"),
            ("defaults", "editor", "ANSIBLE_EDITOR"),
            ("defaults", "pager", "ANSIBLE_PAGER"),
            ("privilege_escalation", "become", "ANSIBLE_BECOME"),
            (
                "privilege_escalation",
                "become_method",
                "ANSIBLE_BECOME_METHOD",
            ),
            ("privilege_escalation", "become_user", "ANSIBLE_BECOME_USER"),
            (
                "privilege_escalation",
                "become_ask_pass",
                "ANSIBLE_BECOME_ASK_PASS",
            ),
            (
                "inventory",
                "unparsed_is_failed",
                "ANSIBLE_INVENTORY_UNPARSED_FAILED",
            ),
            (
                "inventory",
                "any_unparsed_is_failed",
                "ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED",
            ),
            (
                "ssh_connection",
                "herd_max_connections",
                "HERD_SSH_MAX_CONNECTIONS",
            ),
            (
                "ssh_connection",
                "herd_max_handshakes",
                "HERD_SSH_MAX_HANDSHAKES",
            ),
        ];
        for (section, key, var) in settings {
            // Paths in the file are relative to the file; in the
            // environment, to the working directory.
            let (value, rel_base) = match env.get(*var) {
                Some(v) => (v.clone(), PathBuf::new()),
                None => match self.raw.get(*section).and_then(|s| s.get(*key)) {
                    Some(v) => (v.clone(), base.clone()),
                    None => continue,
                },
            };
            self.set(key, &value, &rel_base).map_err(|msg| {
                let hint = format!("set '{key}' in [{section}] or {var} to a valid value");
                let d = Diagnostic::new(msg).hint(hint);
                match &self.file {
                    Some(f) if !env.contains_key(*var) => d.at(Loc::file(f.display().to_string())),
                    _ => d,
                }
            })?;
        }
        // ansible-core lists `EDITOR` and `PAGER` after `ANSIBLE_EDITOR` and
        // `ANSIBLE_PAGER`, and the last variable set wins.
        if let Some(e) = env.get("EDITOR") {
            self.editor = e.clone();
        }
        if let Some(p) = env.get("PAGER") {
            self.pager = p.clone();
        }
        Ok(())
    }

    fn set(&mut self, key: &str, value: &str, base: &Path) -> std::result::Result<(), String> {
        let path = |p: &str| {
            let p = expand_user(p.trim());
            if p.is_relative() && !base.as_os_str().is_empty() {
                base.join(p)
            } else {
                p
            }
        };
        let path_list = |v: &str| -> Vec<PathBuf> {
            v.split(':')
                .filter(|s| !s.trim().is_empty())
                .map(path)
                .collect()
        };
        let boolean = |v: &str| {
            parse_bool(v).ok_or_else(|| format!("invalid boolean value '{v}' for '{key}'"))
        };
        match key {
            "inventory" => {
                self.inventory = value
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(|s| {
                        // A host list ("a,b") is kept; a path is resolved.
                        if value.contains(',') && !Path::new(s).exists() {
                            s.to_string()
                        } else {
                            path(s).display().to_string()
                        }
                    })
                    .collect()
            }
            "roles_path" => self.roles_path = path_list(value),
            "library" => self.library = path_list(value),
            "forks" => {
                self.forks = value
                    .trim()
                    .parse()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| {
                        format!("invalid value '{value}' for 'forks': expected a positive integer")
                    })?
            }
            "timeout" => {
                self.timeout = value.trim().parse().map_err(|_| {
                    format!("invalid value '{value}' for 'timeout': expected seconds")
                })?
            }
            "remote_user" => self.remote_user = Some(value.trim().to_string()),
            "private_key_file" => self.private_key_file = Some(path(value)),
            "host_key_checking" => self.host_key_checking = boolean(value)?,
            "gathering" => {
                let v = value.trim();
                if !["implicit", "explicit", "smart"].contains(&v) {
                    return Err(format!(
                        "Invalid value \"{v}\" for configuration option \"setting: DEFAULT_GATHERING\", valid values are: implicit, explicit, smart"
                    ));
                }
                self.gathering = v.to_string()
            }
            "inject_facts_as_vars" => self.inject_facts_as_vars = boolean(value)?,
            "fact_caching" => self.fact_caching = value.trim().to_string(),
            "fact_caching_connection" => {
                let v = value.trim();
                self.fact_caching_connection = (!v.is_empty()).then(|| path(v))
            }
            "fact_caching_prefix" => self.fact_caching_prefix = value.to_string(),
            "fact_caching_timeout" => {
                self.fact_caching_timeout = value.trim().parse().map_err(|_| {
                    format!("invalid value '{value}' for 'fact_caching_timeout': expected seconds")
                })?
            }
            "stdout_callback" => self.stdout_callback = value.trim().to_string(),
            "retry_files_enabled" => self.retry_files_enabled = boolean(value)?,
            "vault_password_file" => {
                let v = value.trim();
                self.vault_password_file = (!v.is_empty()).then(|| path(v))
            }
            "vault_identity_list" => {
                self.vault_identity_list = value
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(String::from)
                    .collect()
            }
            "vault_identity" => self.vault_identity = value.trim().to_string(),
            // Untyped in ansible-core: a string, true when not empty.
            "vault_id_match" => self.vault_id_match = !value.trim().is_empty(),
            "vault_encrypt_identity" => {
                let v = value.trim();
                self.vault_encrypt_identity = (!v.is_empty()).then(|| v.to_string())
            }
            "vault_encrypt_salt" => {
                self.vault_encrypt_salt = (!value.is_empty()).then(|| value.to_string())
            }
            "ask_vault_pass" => self.ask_vault_pass = boolean(value)?,
            "editor" => self.editor = value.to_string(),
            "pager" => self.pager = value.to_string(),
            "become" => self.become_ = boolean(value)?,
            "become_method" => self.become_method = value.trim().to_string(),
            "become_user" => self.become_user = value.trim().to_string(),
            "become_ask_pass" => self.become_ask_pass = boolean(value)?,
            "unparsed_is_failed" => self.inventory_unparsed_is_failed = boolean(value)?,
            "any_unparsed_is_failed" => self.inventory_any_unparsed_is_failed = boolean(value)?,
            "herd_max_connections" | "herd_max_handshakes" => {
                let n = value
                    .trim()
                    .parse()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| {
                        format!("invalid value '{value}' for '{key}': expected a positive integer")
                    })?;
                if key == "herd_max_connections" {
                    self.ssh_max_connections = n;
                } else {
                    self.ssh_max_handshakes = n;
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// A raw value from the file, `[section] key`.
    pub fn get_raw(&self, section: &str, key: &str) -> Option<&str> {
        self.raw.get(section)?.get(key).map(String::as_str)
    }
}

#[cfg(unix)]
fn world_writable(dir: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(dir)
        .map(|m| m.permissions().mode() & 0o002 != 0)
        .unwrap_or(false)
}

#[cfg(not(unix))]
fn world_writable(_dir: &Path) -> bool {
    false
}

/// Reads INI text as Python's configparser does for ansible.cfg:
/// `key = value` or `key: value`, `#`/`;` comment lines, ` ;` inline
/// comments, indented lines continuing the previous value.
pub fn parse_ini(text: &str, file: &str) -> Result<HashMap<String, HashMap<String, String>>> {
    let mut out: HashMap<String, HashMap<String, String>> = HashMap::new();
    let mut section: Option<String> = None;
    let mut last_key: Option<String> = None;
    for (n, raw_line) in text.lines().enumerate() {
        let loc = || Loc::new(file, n as u32 + 1, 1);
        let trimmed = raw_line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with(';') {
            continue;
        }
        if raw_line.starts_with([' ', '\t']) {
            if let (Some(s), Some(k)) = (&section, &last_key) {
                if let Some(v) = out.get_mut(s).and_then(|m| m.get_mut(k)) {
                    v.push('\n');
                    v.push_str(trimmed);
                    continue;
                }
            }
        }
        if let Some(name) = trimmed.strip_prefix('[') {
            let name = name.strip_suffix(']').ok_or_else(|| {
                Diagnostic::new("malformed section header in config file").at(loc())
            })?;
            section = Some(name.trim().to_string());
            out.entry(name.trim().to_string()).or_default();
            last_key = None;
            continue;
        }
        let Some(s) = &section else {
            return Err(
                Diagnostic::new("config file has a setting before any [section]")
                    .at(loc())
                    .hint("put settings under a section such as [defaults]"),
            );
        };
        let split = trimmed.find(['=', ':']);
        let (key, value) = match split {
            Some(i) => (trimmed[..i].trim(), trimmed[i + 1..].trim()),
            None => (trimmed, ""),
        };
        let value = match value.find(" ;") {
            Some(i) => value[..i].trim_end(),
            None => value,
        };
        let key = key.to_ascii_lowercase();
        out.get_mut(s)
            .map(|m| m.insert(key.clone(), value.to_string()));
        last_key = Some(key);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_file_and_env_beats_it() {
        let dir = tempfile::tempdir().unwrap();
        let cfg_path = dir.path().join("ansible.cfg");
        std::fs::write(
            &cfg_path,
            "[defaults]\ninventory = hosts.ini\nforks: 7 ; inline\nroles_path = roles:/opt/roles\nhost_key_checking = False\n# c\n[privilege_escalation]\nbecome = yes\nbecome_user = admin\n",
        )
        .unwrap();
        let mut cfg = Config {
            raw: parse_ini(&std::fs::read_to_string(&cfg_path).unwrap(), "ansible.cfg").unwrap(),
            file: Some(cfg_path.clone()),
            ..Config::default()
        };
        let mut env = HashMap::new();
        env.insert("ANSIBLE_REMOTE_USER".to_string(), "deploy".to_string());
        env.insert("ANSIBLE_FORKS".to_string(), "9".to_string());
        cfg.apply(&env).unwrap();
        assert_eq!(
            cfg.inventory,
            vec![dir.path().join("hosts.ini").display().to_string()]
        );
        assert_eq!(cfg.forks, 9);
        assert_eq!(
            cfg.roles_path,
            vec![dir.path().join("roles"), PathBuf::from("/opt/roles")]
        );
        assert!(!cfg.host_key_checking);
        assert!(cfg.become_);
        assert_eq!(cfg.become_user, "admin");
        assert_eq!(cfg.remote_user.as_deref(), Some("deploy"));
    }

    #[test]
    fn vault_settings() {
        let dir = tempfile::tempdir().unwrap();
        let cfg_path = dir.path().join("ansible.cfg");
        let text = "[defaults]\nvault_password_file = secrets/pw\nvault_identity_list = a@x, b@prompt\nvault_identity = team\nvault_id_match = False\neditor = nano\n";
        let mut cfg = Config {
            raw: parse_ini(text, "ansible.cfg").unwrap(),
            file: Some(cfg_path),
            ..Config::default()
        };
        let mut env = HashMap::new();
        env.insert("ANSIBLE_EDITOR".to_string(), "vim".to_string());
        env.insert("EDITOR".to_string(), "emacs".to_string());
        env.insert(
            "ANSIBLE_VAULT_ENCRYPT_IDENTITY".to_string(),
            "a".to_string(),
        );
        cfg.apply(&env).unwrap();
        assert_eq!(cfg.vault_password_file, Some(dir.path().join("secrets/pw")));
        assert_eq!(cfg.vault_identity_list, ["a@x", "b@prompt"]);
        assert_eq!(cfg.vault_identity, "team");
        // A string in ansible-core: "False" is not empty, so it is on.
        assert!(cfg.vault_id_match);
        assert_eq!(cfg.vault_encrypt_identity.as_deref(), Some("a"));
        // EDITOR is read after ANSIBLE_EDITOR, and the last one set wins.
        assert_eq!(cfg.editor, "emacs");
        assert_eq!(Config::default().editor, "vi");
        assert_eq!(Config::default().vault_identity, "default");
    }

    #[test]
    fn bad_values_are_errors() {
        let mut cfg = Config::default();
        let mut env = HashMap::new();
        env.insert("ANSIBLE_FORKS".to_string(), "many".to_string());
        let e = cfg.apply(&env).unwrap_err();
        assert!(e.message.contains("forks"), "{}", e.message);
        assert!(parse_ini("x = 1\n", "a.cfg").is_err());
    }
}
