//! Privilege escalation (`become`), shared by the `ssh` and `local`
//! connections: the command line that starts a shell as the become user,
//! and the prompt handshake that types the password once.
//!
//! sudo runs with `-S` (password on stdin) and a random `-p` prompt, so
//! the password is sent only once that exact prompt shows up on stderr
//! and never appears in a process's arguments. `su` reads its password
//! from a terminal: it runs on a pty, used only to authenticate (the
//! shell behind it switches the pty to raw mode, without echo, and keeps
//! stderr apart through a file).

use herd_modules::api::{shell_quote, HostError};

use crate::vars::ConnectionSettings;

/// How to become another user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Become {
    pub method: String,
    pub user: String,
    pub password: Option<String>,
    pub exe: Option<String>,
    pub flags: Option<String>,
}

impl Become {
    /// The become settings of a connection, when become is on.
    pub fn from_settings(settings: &ConnectionSettings) -> Option<Become> {
        if !settings.become_ {
            return None;
        }
        Some(Become {
            method: if settings.become_method.is_empty() {
                "sudo".into()
            } else {
                settings.become_method.clone()
            },
            user: if settings.become_user.is_empty() {
                "root".into()
            } else {
                settings.become_user.clone()
            },
            password: settings.become_password.clone().filter(|p| !p.is_empty()),
            exe: settings.become_exe.clone().filter(|e| !e.is_empty()),
            flags: settings.become_flags.clone(),
        })
    }

    /// The command line running `inner` (a `/bin/sh` script) as the
    /// become user. `prompt` is the random password prompt to ask sudo
    /// for; the caller waits for it before typing the password.
    pub fn wrap(&self, inner: &str, prompt: &str) -> Result<String, HostError> {
        match self.method.as_str() {
            "sudo" => {
                let exe = self.exe.as_deref().unwrap_or("sudo");
                let mut flags: Vec<&str> = self
                    .flags
                    .as_deref()
                    .unwrap_or("-H -S -n")
                    .split_whitespace()
                    .collect();
                let mut line = String::from(exe);
                if self.password.is_some() {
                    // With a password, sudo must be allowed to ask for
                    // it: `-n` would make it fail instead (as Ansible
                    // drops it too).
                    flags.retain(|f| *f != "-n");
                    if !flags.contains(&"-S") {
                        flags.push("-S");
                    }
                }
                for f in flags {
                    line.push(' ');
                    line.push_str(f);
                }
                if self.password.is_some() {
                    line.push_str(" -p ");
                    line.push_str(&shell_quote(prompt));
                }
                line.push_str(" -u ");
                line.push_str(&shell_quote(&self.user));
                line.push_str(" /bin/sh -c ");
                line.push_str(&shell_quote(inner));
                Ok(line)
            }
            "su" => {
                let mut line = String::from(self.exe.as_deref().unwrap_or("su"));
                for f in self.flags.as_deref().unwrap_or("").split_whitespace() {
                    line.push(' ');
                    line.push_str(f);
                }
                line.push(' ');
                line.push_str(&shell_quote(&self.user));
                // The user's login shell runs this: hand over to /bin/sh.
                line.push_str(" -c ");
                line.push_str(&shell_quote(&format!(
                    "exec /bin/sh -c {}",
                    shell_quote(inner)
                )));
                Ok(line)
            }
            other => Err(HostError::failed(format!(
                "the become method '{other}' is not supported by herd (supported: sudo)"
            ))),
        }
    }
}

impl Become {
    /// Whether this method needs a terminal (to read its password).
    pub fn needs_pty(&self) -> bool {
        self.method == "su"
    }
}

/// Judges su's terminal output during the handshake.
pub fn judge_su(output: &[u8], sent: bool) -> PromptState {
    let text = String::from_utf8_lossy(output);
    let lower = text.to_lowercase();
    if lower.contains("authentication failure")
        || lower.contains("incorrect password")
        || lower.contains("sorry")
    {
        return PromptState::Failed("Incorrect su password".into());
    }
    if lower.contains("must be run from a terminal") {
        return PromptState::Failed("su needs a terminal to read the password".into());
    }
    let tail = text.trim_end();
    if !sent && lower.contains("password") && (tail.ends_with(':') || tail.ends_with('：')) {
        return PromptState::Prompted;
    }
    PromptState::Waiting
}

/// What the become handshake saw on stderr, judged.
#[derive(Debug, PartialEq, Eq)]
pub enum PromptState {
    /// Nothing decisive yet.
    Waiting,
    /// The password prompt is there: type the password now.
    Prompted,
    /// sudo said the password is wrong or is needed and missing.
    Failed(String),
}

/// Judges the stderr seen so far during the handshake. `sent` says
/// whether the password was typed already: a second prompt after that
/// means it was wrong.
pub fn judge_stderr(stderr: &[u8], prompt: &str, sent: bool, has_password: bool) -> PromptState {
    let text = String::from_utf8_lossy(stderr);
    let prompts = text.matches(prompt).count();
    if text.contains("Sorry, try again")
        || text.contains("incorrect password")
        || (sent && prompts > 1)
    {
        return PromptState::Failed("Incorrect sudo password".into());
    }
    if text.contains("a password is required") || text.contains("no askpass program") {
        return PromptState::Failed(if has_password {
            "sudo asked for a password in a way herd cannot answer".into()
        } else {
            "Missing sudo password: sudo needs a password for this user (set ansible_become_password or use --ask-become-pass)".into()
        });
    }
    if text.contains("is not in the sudoers file") || text.contains("is not allowed to") {
        return PromptState::Failed(format!("sudo refused: {}", text.trim()));
    }
    if !sent && prompts > 0 {
        return PromptState::Prompted;
    }
    PromptState::Waiting
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sudo(password: Option<&str>) -> Become {
        Become {
            method: "sudo".into(),
            user: "root".into(),
            password: password.map(String::from),
            exe: None,
            flags: None,
        }
    }

    #[test]
    fn sudo_lines() {
        assert_eq!(
            sudo(None).wrap("id -u", "P").unwrap(),
            "sudo -H -S -n -u root /bin/sh -c 'id -u'"
        );
        let line = sudo(Some("secret")).wrap("id", "[herd] pw:").unwrap();
        assert_eq!(line, "sudo -H -S -p '[herd] pw:' -u root /bin/sh -c id");
        assert!(!line.contains("secret"));
    }

    #[test]
    fn prompts_are_judged() {
        assert_eq!(judge_stderr(b"", "P:", false, true), PromptState::Waiting);
        assert_eq!(
            judge_stderr(b"P:", "P:", false, true),
            PromptState::Prompted
        );
        assert!(matches!(
            judge_stderr(b"P:Sorry, try again.\nP:", "P:", true, true),
            PromptState::Failed(_)
        ));
        assert!(matches!(
            judge_stderr(b"sudo: a password is required\n", "P:", false, false),
            PromptState::Failed(_)
        ));
    }

    #[test]
    fn su_lines_and_prompts() {
        let mut b = sudo(None);
        b.method = "su".into();
        b.user = "app".into();
        assert_eq!(b.wrap("id", "P").unwrap(), "su app -c 'exec /bin/sh -c id'");
        assert!(b.needs_pty());
        assert_eq!(judge_su(b"Password: ", false), PromptState::Prompted);
        assert!(matches!(
            judge_su(b"Password: \r\nsu: Authentication failure\r\n", true),
            PromptState::Failed(_)
        ));
    }
}
