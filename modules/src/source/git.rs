//! git — clone or update a git repository on the host.
//!
//! Runs the host's `git`, step by step as Ansible's git module does: a
//! missing dest is cloned; an existing one has its remote URL set, is
//! fetched, and `version` is checked out (a branch is reset to the
//! remote's). Tracked files changed in dest make it fail unless `force`
//! (which discards them); untracked files are left alone.
//!
//! Arguments:
//!   repo              (alias name) the repository URL or path (required)
//!   dest              where to clone it (required unless clone=no)
//!   version           a branch, tag or commit (default HEAD: the remote's
//!                     default branch)
//!   remote            the remote's name (default origin)
//!   refspec           an extra refspec to fetch
//!   force             discard local changes to tracked files
//!   depth             a shallow clone of this many commits
//!   clone             clone a missing dest (default yes); with no, only
//!                     report the remote's revision
//!   update            fetch and check out an existing dest (default yes)
//!   bare              a bare repository
//!   single_branch     clone only the history of `version`
//!   recursive         update submodules too (default yes)
//!   track_submodules  submodules follow their remote branch
//!   reference         a local repository to borrow objects from
//!   accept_hostkey    add `-o StrictHostKeyChecking=no` for ssh URLs
//!   accept_newhostkey add `-o StrictHostKeyChecking=accept-new`
//!   key_file          the ssh private key to use
//!   ssh_opts          extra ssh options
//!   umask             a quoted octal umask for the git commands
//!   executable        the git binary (default `git` on PATH)
//!   archive           also write `version` as an archive here (.zip,
//!                     .tar, .gz for tar.gz, .tgz); replaced only when its
//!                     content differs
//!   archive_prefix    a directory prefix inside the archive
//!
//! Check mode asks the remote with `git ls-remote` and leaves the
//! checkout alone (with `--diff` it fetches, as Ansible does, to show
//! `git diff BEFORE AFTER`). `--diff` shows that diff, or ">> Newly
//! checked out SHA" for a clone.
//! Returns: before, after (commit ids; before null for a clone),
//! remote_url_changed, submodules_changed, msg when local changes were
//! discarded.
//!
//! Tested: tests/module_git.rs with real local repositories (file
//! paths), each step also run through ansible's git and compared.

use async_trait::async_trait;

use crate::api::{
    shell_quote, ExecOptions, ExecResult, Host, HostError, Module, ModuleContext, Outcome, Value,
};
use crate::args::{Param, Spec};

pub struct Git;

static SPEC: Spec = Spec {
    module: "git",
    params: &[
        Param::path("dest"),
        Param::str("repo").required().aliases(&["name"]),
        Param::str("version").default("HEAD"),
        Param::str("remote").default("origin"),
        Param::str("refspec"),
        Param::str("reference"),
        Param::bool("force").default("no"),
        Param::int("depth"),
        Param::bool("clone").default("yes"),
        Param::bool("update").default("yes"),
        Param::bool("accept_hostkey").default("no"),
        Param::bool("accept_newhostkey").default("no"),
        Param::path("key_file"),
        Param::str("ssh_opts"),
        Param::path("executable"),
        Param::bool("bare").default("no"),
        Param::bool("recursive").default("yes"),
        Param::bool("single_branch").default("no"),
        Param::bool("track_submodules").default("no"),
        Param::raw("umask"),
        Param::path("archive"),
        Param::str("archive_prefix"),
    ],
    mutually_exclusive: &[&["accept_hostkey", "accept_newhostkey"]],
    required_one_of: &[],
};

/// How git is run on the host: the binary, the directory, the umask and
/// the ssh command.
struct Runner<'a> {
    host: &'a dyn Host,
    git: String,
    umask: Option<u32>,
    env: Vec<(String, String)>,
}

impl Runner<'_> {
    /// `git ARGS` in `cwd` (quoted here).
    async fn run(&self, cwd: Option<&str>, args: &[&str]) -> Result<ExecResult, HostError> {
        let mut cmd = String::new();
        if let Some(u) = self.umask {
            cmd.push_str(&format!("umask {u:04o} && "));
        }
        cmd.push_str(&shell_quote(&self.git));
        for a in args {
            cmd.push(' ');
            cmd.push_str(&shell_quote(a));
        }
        let opts = ExecOptions {
            chdir: cwd.map(str::to_string),
            env: self.env.clone(),
            ..ExecOptions::default()
        };
        self.host.exec(&cmd, &opts).await
    }

    async fn out(&self, cwd: Option<&str>, args: &[&str]) -> Result<String, HostError> {
        Ok(self
            .run(cwd, args)
            .await?
            .stdout_text()
            .trim_end_matches('\n')
            .to_string())
    }
}

/// A failure carrying what the command said, as Ansible's `check_rc`.
fn cmd_failed(r: &ExecResult, cmd: &str) -> Outcome {
    Outcome::failed(r.stderr_text().trim().to_string())
        .with("cmd", cmd.to_string())
        .with("rc", r.rc)
        .with("stdout", r.stdout_text())
        .with("stderr", r.stderr_text())
}

/// The branch HEAD names (`ref: refs/heads/main`), or the remote's HEAD
/// branch when it is detached.
async fn head_branch(run: &Runner<'_>, dest: &str, remote: &str) -> Result<String, HostError> {
    let r = run.run(Some(dest), &["symbolic-ref", "-q", "HEAD"]).await?;
    let text = r.stdout_text();
    if r.rc == 0 {
        if let Some(b) = text.trim().strip_prefix("refs/heads/") {
            return Ok(b.to_string());
        }
    }
    let r = run
        .run(
            Some(dest),
            &["symbolic-ref", "-q", &format!("refs/remotes/{remote}/HEAD")],
        )
        .await?;
    let text = r.stdout_text();
    Ok(text
        .trim()
        .strip_prefix(&format!("refs/remotes/{remote}/"))
        .unwrap_or("")
        .to_string())
}

async fn ls_remote_has(
    run: &Runner<'_>,
    cwd: Option<&str>,
    remote: &str,
    kind: &str,
    version: &str,
) -> Result<bool, HostError> {
    let refname = if kind == "-h" {
        format!("refs/heads/{version}")
    } else {
        format!("refs/tags/{version}")
    };
    let out = run.out(cwd, &["ls-remote", remote, kind, &refname]).await?;
    Ok(out.contains(version))
}

/// The commit the remote has for `version` (`version` itself when it is
/// neither a branch nor a tag: a commit id).
async fn remote_head(
    run: &Runner<'_>,
    dest: Option<&str>,
    version: &str,
    remote: &str,
    cloning: bool,
) -> Result<Result<String, Outcome>, HostError> {
    let cwd = if cloning { None } else { dest };
    let (args, tag): (Vec<String>, bool) = if version == "HEAD" {
        if cloning {
            (vec!["-h".into(), "HEAD".into()], false)
        } else {
            let b = head_branch(run, dest.unwrap_or("."), remote).await?;
            (vec!["-h".into(), format!("refs/heads/{b}")], false)
        }
    } else if ls_remote_has(run, cwd, remote, "-h", version).await? {
        (vec!["-h".into(), format!("refs/heads/{version}")], false)
    } else if ls_remote_has(run, cwd, remote, "-t", version).await? {
        (vec!["-t".into(), format!("refs/tags/{version}*")], true)
    } else {
        return Ok(Ok(version.to_string()));
    };
    let mut full = vec!["ls-remote", remote];
    full.extend(args.iter().map(String::as_str));
    let r = run.run(cwd, &full).await?;
    let out = r.stdout_text();
    if r.rc != 0 {
        return Ok(Err(cmd_failed(
            &r,
            &format!("{} {}", run.git, full.join(" ")),
        )));
    }
    if out.is_empty() {
        return Ok(Err(Outcome::failed(format!(
            "Could not determine remote revision for {version}"
        ))
        .with("rc", r.rc)
        .with("stdout", out)
        .with("stderr", r.stderr_text())));
    }
    let mut line = out.as_str();
    if tag {
        for l in out.split('\n') {
            if l.ends_with(&format!("{version}^{{}}")) {
                line = l;
                break;
            } else if l.ends_with(version) {
                line = l;
            }
        }
    }
    Ok(Ok(line.split_whitespace().next().unwrap_or("").to_string()))
}

/// Normalises a URL or path for comparison, as Ansible's `unfrackgitpath`
/// (trailing slashes and `.git` ignored).
fn unfrack(p: &str) -> String {
    let p = p.trim_end_matches('/');
    let p = p.strip_suffix(".git").unwrap_or(p);
    p.strip_prefix("file://").unwrap_or(p).to_string()
}

#[async_trait]
impl Module for Git {
    fn name(&self) -> &'static str {
        "git"
    }

    fn spec(&self) -> Option<&'static Spec> {
        Some(&SPEC)
    }

    async fn run(&self, ctx: &ModuleContext<'_>) -> Result<Outcome, HostError> {
        let a = match SPEC.parse(ctx).await? {
            Ok(a) => a,
            Err(o) => return Ok(o),
        };
        let host = ctx.host;
        let dest = a.str("dest");
        let mut repo = a.str_or("repo", "");
        let version = a.str_or("version", "HEAD");
        let remote = a.str_or("remote", "origin");
        let refspec = a.str("refspec");
        let force = a.bool_or("force", false);
        let depth = a.int("depth").filter(|d| *d > 0);
        let allow_clone = a.bool_or("clone", true);
        let update = a.bool_or("update", true);
        let bare = a.bool_or("bare", false);
        let single_branch = a.bool_or("single_branch", false);
        let recursive = a.bool_or("recursive", true);
        let track = a.bool_or("track_submodules", false);

        let archive = a.str("archive");
        if a.has("archive_prefix") && archive.is_none() {
            return Ok(Outcome::failed(
                "missing parameter(s) required by 'archive_prefix': archive",
            ));
        }
        let mut ssh_opts = a.str("ssh_opts");
        for (arg, opt) in [
            ("accept_hostkey", "-o StrictHostKeyChecking=no"),
            ("accept_newhostkey", "-o StrictHostKeyChecking=accept-new"),
        ] {
            if a.bool_or(arg, false) {
                ssh_opts = Some(match ssh_opts {
                    Some(s)
                        if s.contains("-o StrictHostKeyChecking=no")
                            || s.contains("-o StrictHostKeyChecking=accept-new") =>
                    {
                        s
                    }
                    Some(s) => format!("{s} {opt}"),
                    None => opt.to_string(),
                });
            }
        }
        let umask = match a.raw("umask") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => match u32::from_str_radix(s.trim(), 8) {
                Ok(u) => Some(u),
                Err(_) => {
                    return Ok(Outcome::failed("umask must be an octal integer").with(
                        "details",
                        format!("invalid literal for int() with base 8: '{s}'"),
                    ))
                }
            },
            Some(_) => {
                return Ok(Outcome::failed(
                    "umask must be defined as a quoted octal integer",
                ))
            }
        };
        let mut env = vec![
            ("LANG".to_string(), "C".to_string()),
            ("LC_ALL".to_string(), "C".to_string()),
        ];
        if ssh_opts.is_some() || a.has("key_file") {
            let mut ssh = String::from("ssh");
            if let Some(k) = a.str("key_file") {
                ssh.push_str(&format!(" -i {} -o IdentitiesOnly=yes", shell_quote(&k)));
            }
            if let Some(o) = &ssh_opts {
                ssh.push(' ');
                ssh.push_str(o);
            }
            env.push(("GIT_SSH_COMMAND".into(), ssh));
        }
        let run = Runner {
            host,
            git: a.str_or("executable", "git"),
            umask,
            env,
        };

        if repo.starts_with('/') {
            repo = format!("file://{repo}");
        }
        let dest = match dest {
            None if allow_clone => {
                return Ok(Outcome::failed(
                    "the destination directory must be specified unless clone=no",
                ))
            }
            d => d.map(|d| d.trim_end_matches('/').to_string()),
        };
        // The full path, as Ansible's `cmd` values show it.
        let probe = host
            .exec(
                &format!("command -v {}", shell_quote(&run.git)),
                &ExecOptions::default(),
            )
            .await?;
        if probe.rc != 0 {
            return Ok(Outcome::failed(format!(
                "Failed to find required executable \"{}\" in paths",
                run.git
            )));
        }
        let run = Runner {
            git: probe.stdout_text().trim().to_string(),
            ..run
        };

        let mut out = Outcome::ok().with("before", Value::Null);
        let gitconfig = dest.as_ref().map(|d| {
            if bare {
                format!("{d}/config")
            } else {
                format!("{d}/.git/config")
            }
        });
        let has_repo = match &gitconfig {
            Some(c) => host.stat(c, true).await?.is_some(),
            None => false,
        };
        let d = dest.clone().unwrap_or_default();

        let mut local_mods = false;
        let mut remote_url_changed = false;
        if !has_repo {
            if ctx.check_mode || !allow_clone {
                let head = match remote_head(&run, dest.as_deref(), &version, &repo, true).await? {
                    Ok(h) => h,
                    Err(o) => return Ok(o),
                };
                out.changed = true;
                if ctx.diff {
                    out.values.insert(
                        "diff".into(),
                        serde_json::json!({"prepared": format!(">> Newly checked out {head}")}),
                    );
                }
                out.values.insert("after".into(), head.into());
                return Ok(out);
            }
            match clone(
                &run,
                &a,
                &repo,
                &d,
                &remote,
                depth,
                &version,
                bare,
                refspec.as_deref(),
                single_branch,
            )
            .await?
            {
                Ok(w) => out.warnings.extend(w),
                Err(o) => return Ok(o),
            }
        } else if !update {
            let v = run.out(Some(&d), &["rev-parse", "HEAD"]).await?;
            out.values.insert("before".into(), v.clone().into());
            out.values.insert("after".into(), v.into());
            if let Some(ar) = &archive {
                if ctx.check_mode {
                    out.changed = true;
                    return Ok(out);
                }
                match create_archive(
                    &run,
                    &d,
                    ar,
                    a.str("archive_prefix").as_deref(),
                    &version,
                    &repo,
                )
                .await?
                {
                    Ok(changed) => out.changed = changed,
                    Err(o) => return Ok(o),
                }
            }
            return Ok(out);
        } else {
            if !bare {
                let status = run.out(Some(&d), &["status", "--porcelain"]).await?;
                local_mods = status.lines().any(|l| !l.starts_with("??"));
            }
            let before = run.out(Some(&d), &["rev-parse", "HEAD"]).await?;
            out.values.insert("before".into(), before.clone().into());
            if local_mods {
                if !force {
                    let mut o = Outcome::failed(format!(
                        "Local modifications exist in the destination: {d} (force=no)."
                    ));
                    o.values = out.values;
                    return Ok(o);
                }
                if !ctx.check_mode {
                    let r = run.run(Some(&d), &["reset", "--hard", "HEAD"]).await?;
                    if r.rc != 0 {
                        return Ok(cmd_failed(&r, &format!("{} reset --hard HEAD", run.git)));
                    }
                    out.changed = true;
                    out.msg = Some(format!("Local modifications exist in the destination: {d}"));
                }
            }
            let r = run
                .run(Some(&d), &["ls-remote", "--get-url", &remote])
                .await?;
            let remote_url =
                (r.rc == 0).then(|| r.stdout_text().trim_end_matches('\n').to_string());
            let differs = remote_url
                .as_deref()
                .is_some_and(|u| u != repo && unfrack(u) != unfrack(&repo));
            if ctx.check_mode {
                remote_url_changed = differs;
                out.values
                    .insert("remote_url_changed".into(), remote_url_changed.into());
                let head = match remote_head(&run, Some(&d), &version, &remote, false).await? {
                    Ok(h) => h,
                    Err(o) => return Ok(o),
                };
                out.changed = before != head || remote_url_changed;
                if ctx.diff {
                    if let Some(p) = prepared_diff(&run, &d, &remote, &before, &head).await? {
                        out.values
                            .insert("diff".into(), serde_json::json!({ "prepared": p }));
                    }
                }
                out.values.insert("after".into(), head.into());
                return Ok(out);
            }
            if remote_url.as_deref() != Some(repo.as_str())
                && remote_url.as_deref().map(unfrack) != Some(unfrack(&repo))
            {
                let r = run
                    .run(Some(&d), &["remote", "set-url", &remote, &repo])
                    .await?;
                if r.rc != 0 {
                    return Ok(Outcome::failed(format!(
                        "Failed to set a new url {repo} for {remote}: {} {}",
                        r.stdout_text(),
                        r.stderr_text()
                    )));
                }
                remote_url_changed = remote_url.is_some();
            }
            out.values
                .insert("remote_url_changed".into(), remote_url_changed.into());
            if let Some(o) = fetch(
                &run,
                &d,
                &version,
                &remote,
                depth,
                bare,
                refspec.as_deref(),
                force,
            )
            .await?
            {
                return Ok(o);
            }
        }

        if !bare {
            if let Some(o) = switch_version(&run, &d, &remote, &version).await? {
                return Ok(o);
            }
        }
        let mut submodules_changed = false;
        if recursive
            && !bare
            && host
                .stat(&format!("{d}/.gitmodules"), true)
                .await?
                .is_some()
        {
            let before = run
                .out(Some(&d), &["submodule", "status", "--recursive"])
                .await?;
            run.run(Some(&d), &["submodule", "sync", "--recursive"])
                .await?;
            let mut args = vec!["submodule", "update", "--init", "--recursive"];
            if track {
                args.push("--remote");
            }
            if force {
                args.push("--force");
            }
            let r = run.run(Some(&d), &args).await?;
            if r.rc != 0 {
                return Ok(Outcome::failed(format!(
                    "Failed to init/update submodules: {} {}",
                    r.stdout_text(),
                    r.stderr_text()
                )));
            }
            let after = run
                .out(Some(&d), &["submodule", "status", "--recursive"])
                .await?;
            submodules_changed = before != after;
            if submodules_changed {
                out.values.insert("submodules_changed".into(), true.into());
            }
        }
        let after = run.out(Some(&d), &["rev-parse", "HEAD"]).await?;
        let before = out.values.get("before").cloned().unwrap_or(Value::Null);
        if before != Value::String(after.clone())
            || local_mods
            || submodules_changed
            || remote_url_changed
        {
            out.changed = true;
            if ctx.diff {
                let p = match &before {
                    Value::String(b) => prepared_diff(&run, &d, &remote, b, &after).await?,
                    _ => Some(format!(">> Newly checked out {after}")),
                };
                if let Some(p) = p {
                    out.values
                        .insert("diff".into(), serde_json::json!({ "prepared": p }));
                }
            }
        }
        out.values.insert("after".into(), after.into());
        if let Some(ar) = &archive {
            if ctx.check_mode {
                out.changed = true;
                return Ok(out);
            }
            match create_archive(
                &run,
                &d,
                ar,
                a.str("archive_prefix").as_deref(),
                &version,
                &repo,
            )
            .await?
            {
                Ok(changed) => out.changed = changed,
                Err(o) => return Ok(o),
            }
        }
        Ok(out)
    }
}

/// `git archive` of `version` to `archive`, replacing an existing archive
/// only when the new one differs; whether it changed.
async fn create_archive(
    run: &Runner<'_>,
    dest: &str,
    archive: &str,
    prefix: Option<&str>,
    version: &str,
    repo: &str,
) -> Result<Result<bool, Outcome>, HostError> {
    let name = archive.rsplit('/').next().unwrap_or(archive);
    let ext = name.rsplit_once('.').map(|x| x.1).unwrap_or("");
    let fmt = match ext {
        "zip" => "zip",
        "gz" => "tar.gz",
        "tar" => "tar",
        "tgz" => "tgz",
        _ => {
            return Ok(Err(Outcome::failed(format!(
                "Unable to get file extension from archive file name : {archive}"
            ))
            .with(
                "details",
                "Please specify archive as filename with extension. File extension can be one of ['tar', 'tar.gz', 'zip', 'tgz']",
            )))
        }
    };
    let exists = run.host.stat(archive, true).await?.is_some();
    let target = if exists {
        let r = run
            .host
            .exec(
                "mktemp -d \"${TMPDIR:-/tmp}/herd-git.XXXXXXXX\"",
                &ExecOptions::default(),
            )
            .await?;
        let repo_name = repo.rsplit('/').next().unwrap_or(repo).replace(".git", "");
        format!("{}/{repo_name}.{fmt}", r.stdout_text().trim())
    } else {
        archive.to_string()
    };
    let mut args = vec!["archive", "--format", fmt, "--output", &target];
    if let Some(p) = prefix {
        args.extend(["--prefix", p]);
    }
    args.push(version);
    let r = run.run(Some(dest), &args).await?;
    if r.rc != 0 {
        return Ok(Err(Outcome::failed("Failed to perform archive operation").with(
            "details",
            format!(
                "Git archive command failed to create archive {target} using {dest} directory.Error: {}",
                r.stderr_text()
            ),
        )));
    }
    if !exists {
        return Ok(Ok(true));
    }
    let (t, a) = (shell_quote(&target), shell_quote(archive));
    let tmpdir = shell_quote(&crate::files::common::parent(&target));
    let r = run
        .host
        .exec(
            &format!(
                "if cmp -s {t} {a}; then rm -rf {tmpdir}; echo same; \
                 else mv -f {t} {a} && rm -rf {tmpdir} && echo moved; fi"
            ),
            &ExecOptions::default(),
        )
        .await?;
    match r.stdout_text().trim() {
        "same" => Ok(Ok(false)),
        "moved" => Ok(Ok(true)),
        _ => Ok(Err(Outcome::failed(format!(
            "Failed to move {target} to {archive}"
        ))
        .with(
            "details",
            format!("Error occurred while moving : {}", r.stderr_text().trim()),
        ))),
    }
}

/// The `--diff` text between two commits, as Ansible's git shows it
/// (`git diff BEFORE AFTER`, fetching `after` first when it is not
/// there yet, as in check mode); none when they are the same.
async fn prepared_diff(
    run: &Runner<'_>,
    dest: &str,
    remote: &str,
    before: &str,
    after: &str,
) -> Result<Option<String>, HostError> {
    if before == after {
        return Ok(None);
    }
    let have = run
        .run(
            Some(dest),
            &["cat-file", "-e", &format!("{after}^{{commit}}")],
        )
        .await?;
    if have.rc != 0 {
        run.run(Some(dest), &["fetch", "--tags", remote]).await?;
    }
    let r = run.run(Some(dest), &["diff", before, after]).await?;
    let out = r.stdout_text();
    let err = r.stderr_text();
    Ok(Some(if r.rc == 0 && !out.is_empty() {
        out
    } else if r.rc == 0 {
        format!(">> No visual differences between {before} and {after}")
    } else if !err.is_empty() {
        format!(">> Failed to get proper diff between {before} and {after}:\n>> {err}")
    } else {
        format!(">> Failed to get proper diff between {before} and {after}")
    }))
}

#[allow(clippy::too_many_arguments)]
async fn clone(
    run: &Runner<'_>,
    a: &crate::args::Args,
    repo: &str,
    dest: &str,
    remote: &str,
    depth: Option<i64>,
    version: &str,
    bare: bool,
    refspec: Option<&str>,
    single_branch: bool,
) -> Result<Result<Vec<String>, Outcome>, HostError> {
    let parent = crate::files::common::parent(dest);
    run.host
        .exec(
            &format!("mkdir -p -- {}", shell_quote(&parent)),
            &ExecOptions::default(),
        )
        .await?;
    let mut args: Vec<String> = vec!["clone".into()];
    if bare {
        args.push("--bare".into());
    } else {
        args.extend(["--origin".into(), remote.to_string()]);
    }
    let branch_or_tag = ls_remote_has(run, None, repo, "-h", version).await?
        || ls_remote_has(run, None, repo, "-t", version).await?;
    let mut warnings = Vec::new();
    if let Some(n) = depth {
        if version == "HEAD" || refspec.is_some() {
            args.extend(["--depth".into(), n.to_string()]);
        } else if branch_or_tag {
            args.extend([
                "--depth".into(),
                n.to_string(),
                "--branch".into(),
                version.to_string(),
            ]);
        } else {
            warnings.push("Ignoring depth argument. Shallow clones are only available for HEAD, branches, tags or in combination with refspec.".to_string());
        }
    }
    if let Some(r) = a.str("reference") {
        args.extend(["--reference".into(), r]);
    }
    if single_branch {
        args.push("--single-branch".into());
        if branch_or_tag {
            args.extend(["--branch".into(), version.to_string()]);
        }
    }
    args.extend([repo.to_string(), dest.to_string()]);
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let r = run.run(Some(&parent), &argv).await?;
    if r.rc != 0 {
        return Ok(Err(cmd_failed(
            &r,
            &format!("{} {}", run.git, args.join(" ")),
        )));
    }
    if bare && remote != "origin" {
        let r = run
            .run(Some(dest), &["remote", "add", remote, repo])
            .await?;
        if r.rc != 0 {
            return Ok(Err(cmd_failed(
                &r,
                &format!("{} remote add {remote} {repo}", run.git),
            )));
        }
    }
    if let Some(spec) = refspec {
        let mut f = vec!["fetch".to_string()];
        if let Some(n) = depth {
            f.extend(["--depth".into(), n.to_string()]);
        }
        f.extend([remote.to_string(), spec.to_string()]);
        let argv: Vec<&str> = f.iter().map(String::as_str).collect();
        let r = run.run(Some(dest), &argv).await?;
        if r.rc != 0 {
            return Ok(Err(cmd_failed(&r, &format!("{} {}", run.git, f.join(" ")))));
        }
    }
    Ok(Ok(warnings))
}

#[allow(clippy::too_many_arguments)]
async fn fetch(
    run: &Runner<'_>,
    dest: &str,
    version: &str,
    remote: &str,
    depth: Option<i64>,
    bare: bool,
    refspec: Option<&str>,
    force: bool,
) -> Result<Option<Outcome>, HostError> {
    let mut cmd: Vec<String> = vec!["fetch".into()];
    let mut refspecs: Vec<String> = Vec::new();
    if let Some(n) = depth {
        let current = head_branch(run, dest, remote).await?;
        if let Some(r) = refspec {
            refspecs.push(r.into());
        } else if version == "HEAD" {
            refspecs.push(current.clone());
        } else if ls_remote_has(run, Some(dest), remote, "-h", version).await? {
            if current != version {
                refspecs.push(format!("+refs/heads/{version}:refs/heads/{version}"));
            }
            refspecs.push(format!(
                "+refs/heads/{version}:refs/remotes/{remote}/{version}"
            ));
        } else if ls_remote_has(run, Some(dest), remote, "-t", version).await? {
            refspecs.push(format!("+refs/tags/{version}:refs/tags/{version}"));
        }
        if !refspecs.is_empty() {
            cmd.extend(["--depth".into(), n.to_string()]);
        }
    }
    if depth.is_none() || refspecs.is_empty() {
        if bare {
            refspecs = vec![
                "+refs/heads/*:refs/heads/*".into(),
                "+refs/tags/*:refs/tags/*".into(),
            ];
        } else {
            cmd.push("--tags".into());
        }
        if let Some(r) = refspec {
            refspecs.push(r.into());
        }
    }
    if force {
        cmd.push("--force".into());
    }
    cmd.push(remote.into());
    cmd.extend(refspecs);
    let argv: Vec<&str> = cmd.iter().map(String::as_str).collect();
    let r = run.run(Some(dest), &argv).await?;
    if r.rc != 0 {
        return Ok(Some(
            Outcome::failed(format!(
                "Failed to download remote objects and refs: {} {}",
                r.stdout_text(),
                r.stderr_text()
            ))
            .with("cmd", format!("{} {}", run.git, cmd.join(" "))),
        ));
    }
    Ok(None)
}

async fn switch_version(
    run: &Runner<'_>,
    dest: &str,
    remote: &str,
    version: &str,
) -> Result<Option<Outcome>, HostError> {
    let fail = |msg: String, r: &ExecResult| {
        Outcome::failed(msg)
            .with("rc", r.rc)
            .with("stdout", r.stdout_text())
            .with("stderr", r.stderr_text())
    };
    let last: Vec<String>;
    if version == "HEAD" {
        let branch = head_branch(run, dest, remote).await?;
        let r = run
            .run(Some(dest), &["checkout", "--force", &branch])
            .await?;
        if r.rc != 0 {
            return Ok(Some(fail(
                format!("Failed to checkout branch {branch}"),
                &r,
            )));
        }
        last = vec![
            "reset".into(),
            "--hard".into(),
            format!("{remote}/{branch}"),
            "--".into(),
        ];
        let argv: Vec<&str> = last.iter().map(String::as_str).collect();
        let r = run.run(Some(dest), &argv).await?;
        if r.rc != 0 {
            return Ok(Some(fail(
                format!("Failed to checkout branch {branch}"),
                &r,
            )));
        }
        return Ok(None);
    }
    if ls_remote_has(run, Some(dest), remote, "-h", version).await? {
        let local =
            run.run(
                Some(dest),
                &[
                    "show-ref",
                    "--verify",
                    "--quiet",
                    &format!("refs/heads/{version}"),
                ],
            )
            .await?
            .rc == 0;
        if !local {
            last = vec![
                "checkout".into(),
                "--track".into(),
                "-b".into(),
                version.into(),
                format!("{remote}/{version}"),
            ];
        } else {
            let r = run
                .run(Some(dest), &["checkout", "--force", version])
                .await?;
            if r.rc != 0 {
                return Ok(Some(fail(
                    format!("Failed to checkout branch {version}"),
                    &r,
                )));
            }
            last = vec![
                "reset".into(),
                "--hard".into(),
                format!("{remote}/{version}"),
            ];
        }
    } else {
        last = vec!["checkout".into(), "--force".into(), version.into()];
    }
    let argv: Vec<&str> = last.iter().map(String::as_str).collect();
    let r = run.run(Some(dest), &argv).await?;
    if r.rc != 0 {
        return Ok(Some(
            fail(format!("Failed to checkout {version}"), &r)
                .with("cmd", format!("{} {}", run.git, last.join(" "))),
        ));
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_compare_without_git_suffix_or_slash() {
        assert_eq!(unfrack("file:///srv/r.git/"), "/srv/r");
        assert_eq!(unfrack("/srv/r"), "/srv/r");
    }
}
