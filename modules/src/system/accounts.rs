//! What the account modules (`user`, `group`) share: reading the account
//! databases and running the first of several tools the host has.

use crate::api::{shell_quote, ExecOptions, ExecResult, Host, HostError};

/// Where the account tools live; a non-root login's PATH often lacks them.
const SBIN_PATH: &str = "PATH=\"$PATH:/usr/sbin:/sbin:/usr/local/sbin\"; export PATH; ";

/// A line of the group database.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupEntry {
    pub name: String,
    pub gid: i64,
    pub members: Vec<String>,
}

/// A line of the passwd database.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PasswdEntry {
    pub name: String,
    pub uid: i64,
    pub gid: i64,
    pub comment: String,
    pub home: String,
    pub shell: String,
}

/// The script printing the `db` entry for `key` (a name or a number):
/// `getent` where the host has it (unless `local`), else the flat file.
fn lookup_script(db: &str, key: &str, local: bool) -> String {
    let file = format!("/etc/{db}");
    let q = shell_quote(key);
    let awk = format!(
        "awk -F: -v k={q} '$1 == k || ($3 == k && k ~ /^[0-9]+$/) {{ print; exit }}' {file}"
    );
    if local {
        awk
    } else {
        format!("if command -v getent >/dev/null 2>&1; then getent {db} {q}; else {awk}; fi")
    }
}

/// Splits a database line into its fields.
fn fields(line: &str) -> Vec<&str> {
    line.split(':').collect()
}

pub fn parse_group(line: &str) -> Option<GroupEntry> {
    let f = fields(line);
    if f.len() < 3 {
        return None;
    }
    Some(GroupEntry {
        name: f[0].to_string(),
        gid: f[2].parse().ok()?,
        members: f
            .get(3)
            .map(|m| {
                m.split(',')
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default(),
    })
}

pub fn parse_passwd(line: &str) -> Option<PasswdEntry> {
    let f = fields(line);
    if f.len() < 7 {
        return None;
    }
    Some(PasswdEntry {
        name: f[0].to_string(),
        uid: f[2].parse().ok()?,
        gid: f[3].parse().ok()?,
        comment: f[4].to_string(),
        home: f[5].to_string(),
        shell: f[6].to_string(),
    })
}

async fn lookup(
    host: &dyn Host,
    db: &str,
    key: &str,
    local: bool,
) -> Result<Option<String>, HostError> {
    let r = host
        .exec(&lookup_script(db, key, local), &ExecOptions::default())
        .await?;
    Ok(r.stdout_text().lines().next().map(str::to_string))
}

/// The group named (or numbered) `key`, if it exists.
pub async fn lookup_group(
    host: &dyn Host,
    key: &str,
    local: bool,
) -> Result<Option<GroupEntry>, HostError> {
    Ok(lookup(host, "group", key, local)
        .await?
        .and_then(|l| parse_group(&l)))
}

/// The user named (or numbered) `key`, if it exists.
pub async fn lookup_user(
    host: &dyn Host,
    key: &str,
    local: bool,
) -> Result<Option<PasswdEntry>, HostError> {
    Ok(lookup(host, "passwd", key, local)
        .await?
        .and_then(|l| parse_passwd(&l)))
}

/// A command's words as owned strings.
pub fn words(ws: &[&str]) -> Vec<String> {
    ws.iter().map(|w| w.to_string()).collect()
}

/// A command line, each word quoted.
pub fn command_line(words: &[String]) -> String {
    words
        .iter()
        .map(|w| shell_quote(w))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Runs the first alternative whose program the host has; rc 127 with a
/// message naming them all when it has none.
pub async fn run_first(
    host: &dyn Host,
    alternatives: &[Vec<String>],
) -> Result<ExecResult, HostError> {
    let mut script = String::from(SBIN_PATH);
    let mut names = Vec::new();
    for (i, words) in alternatives.iter().enumerate() {
        let Some(program) = words.first() else {
            continue;
        };
        names.push(program.as_str());
        let kw = if i == 0 { "if" } else { "elif" };
        script.push_str(&format!(
            "{kw} command -v {} >/dev/null 2>&1; then {}; ",
            shell_quote(program),
            command_line(words)
        ));
    }
    script.push_str(&format!(
        "else echo {} >&2; exit 127; fi",
        shell_quote(&format!("none of {} found on the host", names.join(", ")))
    ));
    host.exec(&script, &ExecOptions::default()).await
}

/// Whether the host has `program` (looked up with the account tools' PATH).
pub async fn has_program(host: &dyn Host, program: &str) -> Result<bool, HostError> {
    let r = host
        .exec(
            &format!(
                "{SBIN_PATH}command -v {} >/dev/null 2>&1",
                shell_quote(program)
            ),
            &ExecOptions::default(),
        )
        .await?;
    Ok(r.rc == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_database_lines() {
        assert_eq!(
            parse_group("wheel:x:10:alice,bob"),
            Some(GroupEntry {
                name: "wheel".into(),
                gid: 10,
                members: vec!["alice".into(), "bob".into()],
            })
        );
        assert_eq!(
            parse_group("empty:x:11:").unwrap().members,
            Vec::<String>::new()
        );
        assert_eq!(parse_group("broken"), None);
        let u = parse_passwd("alice:x:1000:1000:Alice A,,,:/home/alice:/bin/bash").unwrap();
        assert_eq!((u.uid, u.gid, u.home.as_str()), (1000, 1000, "/home/alice"));
        assert_eq!(u.comment, "Alice A,,,");
    }
}
