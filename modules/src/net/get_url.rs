//! get_url — download a file from HTTP, HTTPS or FTP to the host.
//!
//! The host itself downloads, with `curl` (else `wget`, GNU or BusyBox),
//! into a temporary file; the file is then compared (sha1) with `dest` and
//! moved into place atomically only when it differs. Nothing passes
//! through the controller.
//!
//! Arguments:
//!   url               the URL to download (required)
//!   dest              where to put it (required); a directory takes the
//!                     name from `Content-Disposition` or the URL
//!   checksum          `ALGO:HEX` or `ALGO:URL` of a checksum file
//!                     (md5, sha1, sha224, sha256, sha384, sha512); with
//!                     `force: no`, a dest already matching is not
//!                     downloaded again; a download not matching fails
//!   force             download even when dest exists (default no: an
//!                     existing dest is sent as `If-Modified-Since`, and a
//!                     304 answer leaves it alone)
//!   headers           dict of extra request headers
//!   timeout           seconds for the request (default 10)
//!   url_username      (alias username) and url_password (alias password)
//!                     for basic auth; sent on the server's 401 challenge,
//!                     or with the first request with force_basic_auth
//!   validate_certs    check TLS certificates (default yes)
//!   http_agent        User-Agent (default ansible-httpget)
//!   backup            keep the old dest as NAME.PID.YYYY-MM-DD@HH:MM:SS~
//!   tmp_dest          directory for the temporary download
//!   mode, owner, group  attributes of dest
//!   use_proxy         use the host's http_proxy/https_proxy (default yes)
//!   decompress, use_netrc, unredirected_headers  accepted;
//!                     the host tool's defaults apply
//!
//! Check mode makes a HEAD request and reports changed as Ansible does.
//! Returns: dest, url, checksum_src, checksum_dest, md5sum, size,
//! status_code, msg (`OK (N bytes)`), elapsed, src (the temporary file),
//! backup_file, and dest's mode/owner/group/uid/gid/state.
//!
//! With `wget` only GET downloads work and credentials are sent with the
//! first request (wget has no way to read them from stdin).
//!
//! Tested: tests/module_get_url.rs against a local HTTP server, the
//! results compared with ansible's get_url on the same server.

use std::time::Instant;

use async_trait::async_trait;

use super::{host_tempfile, request, HttpRequest};
use crate::api::{
    shell_quote, ExecOptions, Host, HostError, Module, ModuleContext, Outcome, Value,
};
use crate::args::{Param, Spec};
use crate::files::common::{attr_change, attr_commands, run_all, stat_values, Attrs};

pub struct GetUrl;

static SPEC: Spec = Spec {
    module: "get_url",
    params: &[
        Param::str("url").required(),
        Param::path("dest").required(),
        Param::bool("backup").default("false"),
        Param::str("checksum").default(""),
        Param::bool("force").default("false"),
        Param::raw("headers"),
        Param::int("timeout").default("10"),
        Param::path("tmp_dest"),
        Param::str("url_username").aliases(&["username"]),
        Param::str("url_password").aliases(&["password"]),
        Param::bool("force_basic_auth").default("false"),
        Param::bool("validate_certs").default("true"),
        Param::bool("use_proxy").default("true"),
        Param::str("http_agent").default("ansible-httpget"),
        Param::bool("decompress").default("true"),
        Param::bool("use_netrc").default("true"),
        Param::list("unredirected_headers"),
        Param::mode("mode"),
        Param::str("owner"),
        Param::str("group"),
    ],
    mutually_exclusive: &[],
    required_one_of: &[],
};

const ALGORITHMS: &[&str] = &["md5", "sha1", "sha224", "sha256", "sha384", "sha512"];

/// `checksum: ALGO:VALUE`, split.
pub fn split_checksum(s: &str) -> Option<(String, String)> {
    let (a, v) = s.split_once(':')?;
    Some((a.to_string(), v.to_string()))
}

/// Keeps what Ansible keeps of a checksum: word characters, lowercased
/// (a copied checksum may carry spaces or a zero-width space).
pub fn clean_checksum(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_alphanumeric() || *c == '_')
        .collect::<String>()
        .to_lowercase()
}

/// The checksum for `filename` in a checksum file (GNU `HEX  NAME`, BSD
/// `ALGO (NAME) = HEX`, or a lone checksum).
pub fn digest_for(filename: &str, text: &str) -> Option<String> {
    let lines: Vec<&str> = text.lines().collect();
    if lines.len() == 1 && lines[0].split_whitespace().count() == 1 {
        return Some(lines[0].trim().to_string());
    }
    for line in lines {
        if let Some(open) = line.find(" (").or_else(|| line.find('(')) {
            if let Some((inner, digest)) = line[open..]
                .rsplit_once(") = ")
                .or_else(|| line[open..].rsplit_once(")= "))
            {
                let path = inner.trim_start_matches([' ', '(']);
                if path == filename {
                    return Some(digest.trim().to_string());
                }
                continue;
            }
        }
        let mut it = line.splitn(2, char::is_whitespace);
        let (Some(d), Some(rest)) = (it.next(), it.next()) else {
            continue;
        };
        let path = rest.trim_start();
        let path = path.strip_prefix('*').unwrap_or(path);
        if path.trim_start_matches(['.', '/']) == filename {
            return Some(d.to_string());
        }
    }
    None
}

/// The last path component of a URL (`index.html` when there is none).
pub fn url_filename(url: &str) -> String {
    let no_query = url.split(['?', '#']).next().unwrap_or(url);
    let path = no_query
        .split_once("://")
        .map(|(_, r)| r.split_once('/').map(|x| x.1).unwrap_or(""))
        .unwrap_or(no_query);
    match path.rsplit('/').next() {
        Some(n) if !n.is_empty() => n.to_string(),
        _ => "index.html".to_string(),
    }
}

/// The `filename` of a `Content-Disposition` header, without directories.
pub fn disposition_filename(h: &str) -> Option<String> {
    let i = h.find("filename=")?;
    let v = h[i + 9..].split(';').next()?.trim().trim_matches('"');
    let name = v.rsplit('/').next()?.to_string();
    (!name.is_empty()).then_some(name)
}

/// The hex digest of a host file with `ALGOsum`.
async fn digest(
    host: &dyn Host,
    path: &str,
    algo: &str,
) -> Result<Result<String, String>, HostError> {
    if !ALGORITHMS.contains(&algo) {
        return Ok(Err(format!(
            "Could not hash file '{path}' with algorithm '{algo}'. Available algorithms: {}",
            ALGORITHMS.join(", ")
        )));
    }
    let r = host
        .exec(
            &format!("{algo}sum < {}", shell_quote(path)),
            &ExecOptions::default(),
        )
        .await?;
    if r.rc != 0 {
        return Ok(Err(format!(
            "{algo}sum failed on {path}: {}",
            r.stderr_text().trim()
        )));
    }
    Ok(Ok(r
        .stdout_text()
        .split_whitespace()
        .next()
        .unwrap_or("")
        .to_string()))
}

async fn remove(host: &dyn Host, path: &str) -> Result<(), HostError> {
    host.exec(
        &format!("rm -f -- {}", shell_quote(path)),
        &ExecOptions::default(),
    )
    .await?;
    Ok(())
}

fn fail(out: &Outcome, msg: impl Into<String>) -> Outcome {
    let mut o = out.clone();
    o.failed = true;
    o.changed = false;
    o.msg = Some(msg.into());
    o
}

#[async_trait]
impl Module for GetUrl {
    fn name(&self) -> &'static str {
        "get_url"
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
        let url = a.str_or("url", "");
        let mut dest = a.str_or("dest", "");
        let mut force = a.bool_or("force", false);
        let attrs = Attrs::from_args(&a);
        let mut headers = match super::headers_arg("headers", a.raw("headers")) {
            Ok(h) => h,
            Err(e) => return Ok(Outcome::failed(e)),
        };
        if !headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("user-agent"))
        {
            headers.push((
                "User-Agent".into(),
                a.str_or("http_agent", "ansible-httpget"),
            ));
        }
        let base = HttpRequest {
            url: url.clone(),
            method: "GET".into(),
            headers,
            body: None,
            user: a.str("url_username"),
            password: a.str("url_password"),
            force_basic_auth: a.bool_or("force_basic_auth", false),
            validate_certs: a.bool_or("validate_certs", true),
            timeout: a.int("timeout").unwrap_or(10).max(1) as u64,
            follow_redirects: true,
            use_proxy: a.bool_or("use_proxy", true),
            if_modified_since: None,
            out: String::new(),
        };
        let tmp_dest = a.str("tmp_dest");

        let mut out = Outcome::ok()
            .with("checksum_dest", Value::Null)
            .with("checksum_src", Value::Null)
            .with("dest", dest.clone())
            .with("elapsed", 0)
            .with("url", url.clone());

        let st = host.stat(&dest, true).await?;
        let dest_is_dir = st.as_ref().is_some_and(|s| s.kind == "directory");

        // The wanted checksum, from the argument or a checksum file.
        let mut algorithm = String::new();
        let mut want = String::new();
        if let Some(c) = a.str("checksum").filter(|c| !c.is_empty()) {
            let Some((algo, value)) = split_checksum(&c) else {
                return Ok(with_path_info(
                    fail(
                        &out,
                        "The checksum parameter has to be in format <algorithm>:<checksum>",
                    ),
                    st.as_ref(),
                ));
            };
            algorithm = algo;
            want = value;
            if ["http://", "https://", "ftp://", "file://"]
                .iter()
                .any(|s| want.starts_with(s))
            {
                let tmp = match host_tempfile(host, tmp_dest.as_deref()).await? {
                    Ok(t) => t,
                    Err(e) => return Ok(fail(&out, e)),
                };
                let req = HttpRequest {
                    url: want.clone(),
                    out: tmp.clone(),
                    ..base.clone()
                };
                let resp = match request(host, &req).await? {
                    Ok(r) => r,
                    Err(e) => return Ok(fail(&out, e)),
                };
                let text = host.read_file(&tmp).await?.unwrap_or_default();
                remove(host, &tmp).await?;
                if resp.status != 200 {
                    let mut o = fail(
                        &out,
                        if resp.error.is_some() {
                            resp.msg(None)
                        } else {
                            "Request failed".into()
                        },
                    );
                    if resp.error.is_none() {
                        o.values.insert("status_code".into(), resp.status.into());
                        o.values.insert("response".into(), resp.msg(None).into());
                    }
                    return Ok(o);
                }
                let filename = url_filename(&url);
                match digest_for(&filename, &String::from_utf8_lossy(&text)) {
                    Some(d) => want = d,
                    None => {
                        return Ok(Outcome::failed(format!(
                            "Unable to find a checksum for file '{filename}' in '{}'",
                            req.url
                        )))
                    }
                }
            }
            want = clean_checksum(&want);
            if want.is_empty() || !want.chars().all(|c| c.is_ascii_hexdigit()) {
                return Ok(with_path_info(
                    fail(&out, "The checksum format is invalid"),
                    st.as_ref(),
                ));
            }
        }

        let mut ims = None;
        if !dest_is_dir && st.is_some() {
            let mut mismatch = false;
            if !force && !want.is_empty() {
                match digest(host, &dest, &algorithm).await? {
                    Ok(d) => mismatch = d != want,
                    Err(e) => return Ok(fail(&out, e)),
                }
                if !mismatch {
                    // Only the attributes may still change.
                    let (changed, st) = match apply_attrs(ctx, &dest, &attrs).await? {
                        Ok(x) => x,
                        Err(e) => return Ok(fail(&out, e)),
                    };
                    out.changed = changed;
                    out.msg = Some(if changed {
                        "file already exists but file attributes changed".into()
                    } else {
                        "file already exists".into()
                    });
                    return Ok(with_path_info(out, st.as_ref()));
                }
            }
            if mismatch {
                force = true;
            }
            if !force {
                ims = Some(dest.clone());
            }
        }

        let tmp = match host_tempfile(host, tmp_dest.as_deref()).await? {
            Ok(t) => t,
            Err(e) => return Ok(fail(&out, e)),
        };
        let start = Instant::now();
        let req = HttpRequest {
            method: if ctx.check_mode { "HEAD" } else { "GET" }.into(),
            if_modified_since: ims,
            out: tmp.clone(),
            ..base.clone()
        };
        let resp = match request(host, &req).await? {
            Ok(r) => r,
            Err(e) => {
                remove(host, &tmp).await?;
                return Ok(fail(&out, e));
            }
        };
        let elapsed = start.elapsed().as_secs();
        out.values.insert("elapsed".into(), elapsed.into());
        if resp.status == 304 {
            remove(host, &tmp).await?;
            let o = Outcome::ok()
                .with("dest", dest.clone())
                .with("elapsed", elapsed)
                .with("status_code", 304)
                .with("url", url.clone());
            let mut o = with_path_info(o, st.as_ref());
            o.msg = Some(resp.msg(None));
            return Ok(o);
        }
        if resp.status == -1 {
            remove(host, &tmp).await?;
            let o = Outcome::failed(resp.msg(None))
                .with("dest", dest.clone())
                .with("elapsed", elapsed)
                .with("url", url.clone());
            return Ok(with_path_info(o, st.as_ref()));
        }
        if resp.status != 200 && !url.starts_with("file:/") {
            remove(host, &tmp).await?;
            let o = Outcome::failed("Request failed")
                .with("dest", dest.clone())
                .with("elapsed", elapsed)
                .with("response", resp.msg(None))
                .with("status_code", resp.status)
                .with("url", url.clone());
            return Ok(with_path_info(o, st.as_ref()));
        }
        out.values.insert("src".into(), tmp.clone().into());

        let mut dest_st = st.clone();
        if dest_is_dir {
            let name = resp
                .header("content-disposition")
                .and_then(disposition_filename)
                .unwrap_or_else(|| url_filename(&resp.url));
            dest = format!("{}/{name}", dest.trim_end_matches('/'));
            out.values.insert("dest".into(), dest.clone().into());
            dest_st = host.stat(&dest, true).await?;
        }

        let checksum_src = host.checksum(&tmp).await?.unwrap_or_default();
        out.values
            .insert("checksum_src".into(), checksum_src.clone().into());
        let mut checksum_dest = None;
        if dest_st.is_some() {
            checksum_dest = host.checksum(&dest).await?;
            if let Some(c) = &checksum_dest {
                out.values.insert("checksum_dest".into(), c.clone().into());
            }
        } else {
            let parent = crate::files::common::parent(&dest);
            if host.stat(&parent, true).await?.is_none() {
                remove(host, &tmp).await?;
                return Ok(fail(&out, format!("Destination {parent} does not exist")));
            }
        }
        let differs = checksum_dest.as_deref() != Some(checksum_src.as_str());

        if ctx.check_mode {
            remove(host, &tmp).await?;
            out.changed = differs;
            out.msg = Some(resp.msg(None));
            return Ok(out);
        }

        if !want.is_empty() {
            let got = match digest(host, &tmp, &algorithm).await? {
                Ok(d) => d,
                Err(e) => {
                    remove(host, &tmp).await?;
                    return Ok(fail(&out, e));
                }
            };
            if got != want {
                remove(host, &tmp).await?;
                return Ok(fail(
                    &out,
                    format!("The checksum for {tmp} did not match {want}; it was {got}."),
                ));
            }
        }

        let mut changed = false;
        if differs {
            if a.bool_or("backup", false) && dest_st.is_some() {
                let r = host
                    .exec(
                        &format!(
                            "b={q}.$$.$(date '+%Y-%m-%d@%H:%M:%S~') && cp -p -- {q} \"$b\" && printf %s \"$b\"",
                            q = shell_quote(&dest)
                        ),
                        &ExecOptions::default(),
                    )
                    .await?;
                if r.rc != 0 {
                    remove(host, &tmp).await?;
                    return Ok(fail(
                        &out,
                        format!("backup of {dest} failed: {}", r.stderr_text().trim()),
                    ));
                }
                out.values
                    .insert("backup_file".into(), r.stdout_text().into());
            }
            if let Err(e) = host
                .write_from(&dest, crate::api::Source::HostFile(&tmp), None)
                .await
            {
                remove(host, &tmp).await?;
                return Ok(fail(
                    &out,
                    format!("failed to copy {tmp} to {dest}: {}", e.message),
                ));
            }
            changed = true;
        }
        remove(host, &tmp).await?;

        let (attr_changed, st) = match apply_attrs(ctx, &dest, &attrs).await? {
            Ok(x) => x,
            Err(e) => return Ok(fail(&out, e)),
        };
        out.changed = changed || attr_changed;
        let md5 = match digest(host, &dest, "md5").await? {
            Ok(d) => Value::String(d),
            Err(_) => Value::Null,
        };
        out.values.insert("md5sum".into(), md5);
        let status = if url.starts_with("file:") {
            Value::Null
        } else {
            resp.status.into()
        };
        out.values.insert("status_code".into(), status);
        out.msg = Some(resp.msg(None));
        Ok(with_path_info(out, st.as_ref()))
    }
}

/// Applies mode/owner/group to dest; whether anything changed, and the
/// stat after.
async fn apply_attrs(
    ctx: &ModuleContext<'_>,
    dest: &str,
    attrs: &Attrs,
) -> Result<Result<(bool, Option<crate::api::FileStat>), String>, HostError> {
    let Some(st) = ctx.host.stat(dest, true).await? else {
        return Ok(Ok((false, None)));
    };
    let c = match attr_change(attrs, &st) {
        Ok(c) => c,
        Err(e) => return Ok(Err(e)),
    };
    if c.is_empty() {
        return Ok(Ok((false, Some(st))));
    }
    if !ctx.check_mode {
        if let Err(e) = run_all(ctx.host, &attr_commands(dest, &c, true)).await? {
            return Ok(Err(e));
        }
    }
    let st = ctx.host.stat(dest, true).await?;
    Ok(Ok((true, st)))
}

/// Adds what Ansible adds about an existing dest (mode, owner, size …).
fn with_path_info(mut o: Outcome, st: Option<&crate::api::FileStat>) -> Outcome {
    if let Some(st) = st {
        for (k, v) in stat_values(st) {
            o.values.insert(k.into(), v);
        }
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_files_are_read_like_ansible() {
        let gnu = "abc123  other.tar\ndef456 *pkg.tar.gz\n";
        assert_eq!(digest_for("pkg.tar.gz", gnu).as_deref(), Some("def456"));
        let bsd = "SHA256 (pkg.tar.gz) = 0a1b\n";
        assert_eq!(digest_for("pkg.tar.gz", bsd).as_deref(), Some("0a1b"));
        assert_eq!(digest_for("x", "ff00\n").as_deref(), Some("ff00"));
        assert_eq!(digest_for("nope", gnu), None);
    }

    #[test]
    fn names_come_from_the_url_or_the_header() {
        assert_eq!(url_filename("http://h/a/b.txt?x=1"), "b.txt");
        assert_eq!(url_filename("http://h/"), "index.html");
        assert_eq!(
            disposition_filename("attachment; filename=\"../x.bin\"").as_deref(),
            Some("x.bin")
        );
        assert_eq!(clean_checksum(" AB\u{200b}cd "), "abcd");
    }
}
