//! How a task connects: settings from the configuration, the command line,
//! play/block/task keywords and connection variables, each beating the
//! one before (as ansible-core's PlayContext resolves them). A variable
//! such as `ansible_user` set in the inventory beats `remote_user:` and
//! `-u`; `ansible_become_user` beats `become_user:`.

use crate::config::{parse_bool, Config};
use crate::value::{py_str, Map, Value};

/// The settings of one connection and privilege escalation.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ConnectionSettings {
    /// `ssh` or `local`.
    pub connection: String,
    /// The address to connect to (`ansible_host`, else the host name).
    pub host: String,
    pub port: Option<u16>,
    pub remote_user: Option<String>,
    pub password: Option<String>,
    pub private_key_file: Option<String>,
    /// The passphrase of an encrypted key file
    /// (`ansible_private_key_passphrase`).
    pub private_key_passphrase: Option<String>,
    pub timeout: u64,
    pub ssh_common_args: Option<String>,
    pub ssh_extra_args: Option<String>,
    pub shell_executable: Option<String>,
    pub become_: bool,
    pub become_method: String,
    pub become_user: String,
    pub become_password: Option<String>,
    pub become_exe: Option<String>,
    pub become_flags: Option<String>,
}

/// Connection flags given on the command line (`-u`, `-b`, …).
#[derive(Clone, Debug, Default)]
pub struct CliConnection {
    pub remote_user: Option<String>,
    pub connection: Option<String>,
    pub timeout: Option<u64>,
    pub private_key_file: Option<String>,
    pub become_: bool,
    pub become_method: Option<String>,
    pub become_user: Option<String>,
}

/// Connection variables, each with the names Ansible reads, the first
/// found winning (`ansible_ssh_host` is read before `ansible_host`, as in
/// ansible-core's mapping).
const VARIABLES: &[(&str, &[&str])] = &[
    ("connection", &["ansible_connection"]),
    ("host", &["ansible_ssh_host", "ansible_host"]),
    ("remote_user", &["ansible_ssh_user", "ansible_user"]),
    ("password", &["ansible_ssh_pass", "ansible_password"]),
    ("port", &["ansible_ssh_port", "ansible_port"]),
    ("timeout", &["ansible_ssh_timeout", "ansible_timeout"]),
    (
        "private_key_file",
        &["ansible_ssh_private_key_file", "ansible_private_key_file"],
    ),
    (
        "private_key_passphrase",
        &[
            "ansible_ssh_private_key_passphrase",
            "ansible_private_key_passphrase",
        ],
    ),
    ("ssh_common_args", &["ansible_ssh_common_args"]),
    ("ssh_extra_args", &["ansible_ssh_extra_args"]),
    ("shell_executable", &["ansible_shell_executable"]),
    ("become", &["ansible_become"]),
    ("become_method", &["ansible_become_method"]),
    ("become_user", &["ansible_become_user"]),
    (
        "become_password",
        &["ansible_become_password", "ansible_become_pass"],
    ),
    ("become_exe", &["ansible_become_exe"]),
    ("become_flags", &["ansible_become_flags"]),
];

/// The connection variables of `vars`, each through `render`, which
/// templates it (a `{{ }}` expression or an inline `!vault` value becomes
/// its value, as Ansible templates connection variables before it uses
/// them): what [`connection_settings`] reads.
pub fn connection_vars<E>(
    vars: &Map<String, Value>,
    render: impl Fn(&Value) -> Result<Value, E>,
) -> Result<Map<String, Value>, E> {
    let mut out = Map::new();
    for (_, names) in VARIABLES {
        for n in *names {
            if let Some(v) = vars.get(*n) {
                out.insert((*n).to_string(), render(v)?);
            }
        }
    }
    Ok(out)
}

/// Keywords of plays, blocks and tasks that set a connection field.
const KEYWORDS: &[(&str, &str)] = &[
    ("connection", "connection"),
    ("remote_user", "remote_user"),
    ("port", "port"),
    ("timeout", "timeout"),
    ("become", "become"),
    ("become_method", "become_method"),
    ("become_user", "become_user"),
    ("become_exe", "become_exe"),
    ("become_flags", "become_flags"),
];

/// Resolves the settings for a host. `keywords` are the (already
/// templated) keyword maps from the play down to the task, outermost
/// first; `vars` are the task's merged variables.
pub fn connection_settings(
    host_name: &str,
    config: &Config,
    cli: &CliConnection,
    keywords: &[&Map<String, Value>],
    vars: &Map<String, Value>,
) -> ConnectionSettings {
    let local_name = matches!(host_name, "localhost" | "127.0.0.1" | "::1");
    let mut s = ConnectionSettings {
        connection: "ssh".into(),
        host: host_name.to_string(),
        port: None,
        remote_user: config.remote_user.clone(),
        private_key_file: config
            .private_key_file
            .as_ref()
            .map(|p| p.display().to_string()),
        timeout: config.timeout,
        private_key_passphrase: std::env::var("ANSIBLE_PRIVATE_KEY_PASSPHRASE").ok(),
        ssh_common_args: ssh_args_setting(config, "ssh_common_args", "ANSIBLE_SSH_COMMON_ARGS"),
        ssh_extra_args: ssh_args_setting(config, "ssh_extra_args", "ANSIBLE_SSH_EXTRA_ARGS"),
        become_: config.become_,
        become_method: config.become_method.clone(),
        become_user: config.become_user.clone(),
        ..ConnectionSettings::default()
    };
    // Command line over configuration.
    if let Some(u) = &cli.remote_user {
        s.remote_user = Some(u.clone());
    }
    if let Some(c) = &cli.connection {
        s.connection = c.clone();
    }
    if let Some(t) = cli.timeout {
        s.timeout = t;
    }
    if let Some(k) = &cli.private_key_file {
        s.private_key_file = Some(k.clone());
    }
    if cli.become_ {
        s.become_ = true;
    }
    if let Some(m) = &cli.become_method {
        s.become_method = m.clone();
    }
    if let Some(u) = &cli.become_user {
        s.become_user = u.clone();
    }
    // Keywords over the command line, inner over outer.
    for map in keywords {
        for (field, key) in KEYWORDS {
            if let Some(v) = map.get(*key).filter(|v| !v.is_null()) {
                set_field(&mut s, field, v);
            }
        }
    }
    // Variables over keywords.
    for (field, names) in VARIABLES {
        if let Some(v) = names.iter().find_map(|n| vars.get(*n)) {
            set_field(&mut s, field, v);
        }
    }
    // The implicit localhost (and a host named like it with no
    // connection set) runs locally, as in Ansible.
    if local_name && !vars.contains_key("ansible_connection") && cli.connection.is_none() {
        let keyword_conn = keywords.iter().any(|m| m.contains_key("connection"));
        if !keyword_conn
            && !vars.contains_key("ansible_host")
            && !vars.contains_key("ansible_ssh_host")
        {
            s.connection = "local".into();
        }
    }
    s
}

/// `[ssh_connection] ssh_common_args` / `ssh_extra_args`, the
/// environment variable beating the file, as Ansible's ssh plugin reads
/// them (the `ansible_ssh_*_args` variables beat both).
fn ssh_args_setting(config: &Config, key: &str, env: &str) -> Option<String> {
    std::env::var(env)
        .ok()
        .or_else(|| config.get_raw("ssh_connection", key).map(String::from))
        .filter(|v| !v.trim().is_empty())
}

fn set_field(s: &mut ConnectionSettings, field: &str, v: &Value) {
    let text = || py_str(v);
    let boolean = || match v {
        Value::Bool(b) => *b,
        other => parse_bool(&py_str(other)).unwrap_or(false),
    };
    match field {
        "connection" => s.connection = text(),
        "host" => s.host = text(),
        "remote_user" => s.remote_user = Some(text()),
        "password" => s.password = Some(text()),
        "port" => s.port = text().trim().parse().ok(),
        "timeout" => {
            if let Ok(t) = text().trim().parse() {
                s.timeout = t;
            }
        }
        "private_key_file" => s.private_key_file = Some(text()),
        "private_key_passphrase" => s.private_key_passphrase = Some(text()),
        "ssh_common_args" => s.ssh_common_args = Some(text()),
        "ssh_extra_args" => s.ssh_extra_args = Some(text()),
        "shell_executable" => s.shell_executable = Some(text()),
        "become" => s.become_ = boolean(),
        "become_method" => s.become_method = text(),
        "become_user" => s.become_user = text(),
        "become_password" => s.become_password = Some(text()),
        "become_exe" => s.become_exe = Some(text()),
        "become_flags" => s.become_flags = Some(text()),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => unreachable!("test data is an object"),
        }
    }

    #[test]
    fn inventory_user_beats_keyword_and_cli() {
        let cfg = Config {
            remote_user: Some("from_cfg".into()),
            ..Config::default()
        };
        let cli = CliConnection {
            remote_user: Some("from_cli".into()),
            ..CliConnection::default()
        };
        let play = map(json!({"remote_user": "from_play", "become_user": "kw"}));
        let none = map(json!({}));
        let s = connection_settings("web1", &cfg, &cli, &[&none], &none);
        assert_eq!(s.remote_user.as_deref(), Some("from_cli"));
        let s = connection_settings("web1", &cfg, &cli, &[&play], &none);
        assert_eq!(s.remote_user.as_deref(), Some("from_play"));
        assert_eq!(s.become_user, "kw");
        let vars = map(json!({"ansible_user": "from_inv", "ansible_become_user": "var"}));
        let s = connection_settings("web1", &cfg, &cli, &[&play], &vars);
        assert_eq!(s.remote_user.as_deref(), Some("from_inv"));
        assert_eq!(s.become_user, "var");
        let s = connection_settings("web1", &cfg, &CliConnection::default(), &[], &none);
        assert_eq!(s.remote_user.as_deref(), Some("from_cfg"));
    }

    #[test]
    fn old_spellings_and_localhost() {
        let vars = map(
            json!({"ansible_ssh_host": "10.0.0.5", "ansible_ssh_user": "old", "ansible_ssh_pass": "pw", "ansible_become_pass": "bp", "ansible_port": 2222}),
        );
        let s = connection_settings(
            "h",
            &Config::default(),
            &CliConnection::default(),
            &[],
            &vars,
        );
        assert_eq!(s.host, "10.0.0.5");
        assert_eq!(s.remote_user.as_deref(), Some("old"));
        assert_eq!(s.password.as_deref(), Some("pw"));
        assert_eq!(s.become_password.as_deref(), Some("bp"));
        assert_eq!(s.port, Some(2222));
        let none = Map::new();
        let s = connection_settings(
            "localhost",
            &Config::default(),
            &CliConnection::default(),
            &[],
            &none,
        );
        assert_eq!(s.connection, "local");
        let task = map(json!({"become": true}));
        let play = map(json!({"become": false}));
        let s = connection_settings(
            "h",
            &Config::default(),
            &CliConnection::default(),
            &[&play, &task],
            &none,
        );
        assert!(s.become_);
    }

    #[test]
    fn ssh_args_from_the_config_file_and_variables() {
        let mut cfg = Config::default();
        cfg.raw.insert(
            "ssh_connection".into(),
            [("ssh_common_args".to_string(), "-J gw".to_string())].into(),
        );
        let none = Map::new();
        let s = connection_settings("h", &cfg, &CliConnection::default(), &[], &none);
        assert_eq!(s.ssh_common_args.as_deref(), Some("-J gw"));
        assert_eq!(s.ssh_extra_args, None);
        let vars = map(json!({"ansible_ssh_common_args": "-o ProxyJump=none"}));
        let s = connection_settings("h", &cfg, &CliConnection::default(), &[], &vars);
        assert_eq!(s.ssh_common_args.as_deref(), Some("-o ProxyJump=none"));
    }
}
