//! The output settings of `ansible.cfg` `[defaults]` and their `ANSIBLE_*`
//! variables, read in one place.

use std::collections::HashMap;
use std::path::PathBuf;

use crate::config::{expand_user, parse_bool, Config};

/// How results are written after `=>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResultFormat {
    Json,
    Yaml,
}

/// What the outputs show and where.
#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    /// `display_skipped_hosts`: print `skipping:` lines.
    pub display_skipped_hosts: bool,
    /// `display_ok_hosts`: print `ok:` lines.
    pub display_ok_hosts: bool,
    /// `callback_result_format`.
    pub result_format: ResultFormat,
    /// `log_path`: a copy of the output, without colours.
    pub log_path: Option<PathBuf>,
    /// `stdout_callback` names the JSON callback.
    pub json_callback: bool,
    /// `json_indent` of the JSON callback (Ansible's default 4; 0 or less
    /// writes one line).
    pub json_indent: Option<usize>,
    /// `check_mode_markers`: `[CHECK MODE]` after task banners.
    pub check_mode_markers: bool,
    /// `display_failed_stderr`: failure lines go to stderr.
    pub display_failed_stderr: bool,
    /// Colours on stdout: a terminal, unless `NO_COLOR`/`ANSIBLE_NOCOLOR`;
    /// `ANSIBLE_FORCE_COLOR` forces them.
    pub color: bool,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            display_skipped_hosts: true,
            display_ok_hosts: true,
            result_format: ResultFormat::Json,
            log_path: None,
            json_callback: false,
            json_indent: Some(4),
            check_mode_markers: false,
            display_failed_stderr: false,
            color: false,
        }
    }
}

impl Settings {
    /// Reads the settings from the configuration file's `[defaults]` and
    /// from `env` (which wins, as in Ansible).
    pub fn from_config(config: &Config, env: &HashMap<String, String>) -> Settings {
        let get = |key: &str, var: &str| -> Option<String> {
            env.get(var)
                .cloned()
                .or_else(|| config.raw.get("defaults").and_then(|d| d.get(key)).cloned())
        };
        let flag = |key: &str, var: &str, default: bool| -> bool {
            get(key, var)
                .and_then(|v| parse_bool(&v))
                .unwrap_or(default)
        };
        let mut s = Settings {
            display_skipped_hosts: flag(
                "display_skipped_hosts",
                "ANSIBLE_DISPLAY_SKIPPED_HOSTS",
                true,
            ),
            display_ok_hosts: flag("display_ok_hosts", "ANSIBLE_DISPLAY_OK_HOSTS", true),
            check_mode_markers: flag("check_mode_markers", "ANSIBLE_CHECK_MODE_MARKERS", false),
            display_failed_stderr: flag(
                "display_failed_stderr",
                "ANSIBLE_DISPLAY_FAILED_STDERR",
                false,
            ),
            ..Settings::default()
        };
        if let Some(f) = get("callback_result_format", "ANSIBLE_CALLBACK_RESULT_FORMAT") {
            if f.trim().eq_ignore_ascii_case("yaml") {
                s.result_format = ResultFormat::Yaml;
            }
        }
        s.log_path = get("log_path", "ANSIBLE_LOG_PATH")
            .map(|p| p.trim().to_string())
            .filter(|p| !p.is_empty())
            .map(|p| expand_user(&p));
        // Config already folds ANSIBLE_STDOUT_CALLBACK over the file.
        let callback = env
            .get("ANSIBLE_STDOUT_CALLBACK")
            .cloned()
            .unwrap_or_else(|| config.stdout_callback.clone());
        s.json_callback = matches!(
            callback.trim(),
            "json" | "ansible.posix.json" | "community.general.json"
        );
        if let Some(n) = get("json_indent", "ANSIBLE_JSON_INDENT") {
            if let Ok(n) = n.trim().parse::<i64>() {
                s.json_indent = usize::try_from(n).ok().filter(|n| *n > 0);
            }
        }
        s.color = color_wanted(
            config,
            env,
            std::io::IsTerminal::is_terminal(&std::io::stdout()),
        );
        s
    }
}

/// Ansible's colour rule: off with `nocolor` (or the NO_COLOR convention),
/// else on a terminal; `force_color` wins over both.
fn color_wanted(config: &Config, env: &HashMap<String, String>, terminal: bool) -> bool {
    let setting = |key: &str, var: &str| -> Option<bool> {
        env.get(var)
            .cloned()
            .or_else(|| config.raw.get("defaults").and_then(|d| d.get(key)).cloned())
            .and_then(|v| parse_bool(&v))
    };
    if setting("force_color", "ANSIBLE_FORCE_COLOR") == Some(true) {
        return true;
    }
    if setting("nocolor", "ANSIBLE_NOCOLOR") == Some(true)
        || env.get("NO_COLOR").is_some_and(|v| !v.is_empty())
    {
        return false;
    }
    terminal
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_beats_file() {
        let mut config = Config::default();
        let mut defaults = HashMap::new();
        defaults.insert("display_skipped_hosts".to_string(), "false".to_string());
        defaults.insert("callback_result_format".to_string(), "yaml".to_string());
        config.raw.insert("defaults".into(), defaults);
        let mut env = HashMap::new();
        let s = Settings::from_config(&config, &env);
        assert!(!s.display_skipped_hosts);
        assert_eq!(s.result_format, ResultFormat::Yaml);
        env.insert("ANSIBLE_DISPLAY_SKIPPED_HOSTS".into(), "yes".into());
        env.insert("ANSIBLE_STDOUT_CALLBACK".into(), "json".into());
        let s = Settings::from_config(&config, &env);
        assert!(s.display_skipped_hosts);
        assert!(s.json_callback);
    }

    #[test]
    fn colours() {
        let config = Config::default();
        let mut env = HashMap::new();
        assert!(color_wanted(&config, &env, true));
        assert!(!color_wanted(&config, &env, false));
        env.insert("NO_COLOR".into(), "1".into());
        assert!(!color_wanted(&config, &env, true));
        env.insert("ANSIBLE_FORCE_COLOR".into(), "1".into());
        assert!(color_wanted(&config, &env, false));
    }
}
