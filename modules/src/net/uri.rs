//! uri — make an HTTP request from the host and return the response.
//!
//! The host makes the request with `curl` (else `wget`, GNU or BusyBox,
//! for GET, HEAD and POST). The response body is kept on the host, and
//! comes back only when it is returned (`return_content`, a JSON
//! response, a status not accepted) or is saved to `dest` there.
//!
//! Arguments:
//!   url               the URL (required)
//!   method            GET (default), POST, PUT, DELETE, HEAD, PATCH …
//!   body              the request body; with body_format `json` a
//!                     structure is sent as JSON, with `form-urlencoded`
//!                     a dict (or list of pairs) is URL-encoded; `raw`
//!                     (default) sends it as given. `json` and
//!                     `form-urlencoded` set Content-Type unless a header
//!                     does.
//!   headers           dict of request headers
//!   status_code       accepted statuses (list, default [200]); any other
//!                     fails with `Status code was N and not [..]: …`
//!   return_content    return the body as `content` (a JSON body is
//!                     always parsed into `json`)
//!   dest              save the body to this host path (a directory
//!                     takes the name from Content-Disposition or the URL)
//!   creates, removes  skip the request when this host path exists /
//!                     does not exist
//!   follow_redirects  safe (default: GET and HEAD only), all, none
//!                     (yes, urllib2 = all; no = none)
//!   timeout           seconds (default 30)
//!   url_username      (alias user) and url_password (alias password)
//!                     for basic auth, sent on the server's 401 challenge
//!                     or first with force_basic_auth
//!   validate_certs    check TLS certificates (default yes)
//!   force             do not send If-Modified-Since for an existing dest
//!   http_agent        User-Agent (default ansible-httpget)
//!   mode, owner, group  attributes of dest
//!   use_proxy         use the host's http_proxy/https_proxy (default yes)
//!   decompress, use_netrc, unredirected_headers  accepted;
//!                     the host tool's defaults apply
//!
//! Returns: status, url, redirected, msg (`OK (N bytes)` or
//! `HTTP Error N: Reason`), elapsed, each response header with its name
//! lowercased and `-` as `_` (content_type, content_length, location made
//! absolute …), cookies and cookies_string (2xx), content, json, path.
//! Like Ansible's, a request with `dest` reports changed. Check mode skips
//! the module, as Ansible does (uri does not support it).
//!
//! Tested: tests/module_uri.rs against a local HTTP server, each request
//! also made by ansible's uri and the results compared.

use std::time::Instant;

use async_trait::async_trait;

use super::get_url::{disposition_filename, url_filename};
use super::{host_tempfile, request, HttpRequest, HttpResponse};
use crate::api::{
    shell_quote, ExecOptions, HostError, Map, Module, ModuleContext, Outcome, Source, Value,
};
use crate::args::{Param, Spec};
use crate::files::common::{attr_change, attr_commands, run_all, Attrs};

pub struct Uri;

static SPEC: Spec = Spec {
    module: "uri",
    params: &[
        Param::str("url").required(),
        Param::path("dest"),
        Param::str("url_username").aliases(&["user"]),
        Param::str("url_password").aliases(&["password"]),
        Param::raw("body"),
        Param::str("body_format")
            .default("raw")
            .choices(&["form-urlencoded", "json", "raw"]),
        Param::str("method").default("GET"),
        Param::bool("return_content").default("false"),
        Param::str("follow_redirects")
            .default("safe")
            .choices(&["all", "no", "none", "safe", "urllib2", "yes"]),
        Param::path("creates"),
        Param::path("removes"),
        Param::list("status_code").default("200"),
        Param::int("timeout").default("30"),
        Param::raw("headers").default("{}"),
        Param::bool("force").default("false"),
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

/// Python's `urllib.parse.quote_plus`.
fn quote_plus(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'.' | b'-' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// A value as Python's `str()` of it, for form fields.
fn py_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        other => other.to_string(),
    }
}

/// A dict or a list of pairs as `application/x-www-form-urlencoded`
/// (a list value repeats its key, as `urlencode(doseq=True)`).
pub fn form_urlencoded(body: &Value) -> Result<String, String> {
    let pairs: Vec<(String, Value)> = match body {
        Value::String(s) => return Ok(s.clone()),
        Value::Object(m) => m.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        Value::Array(items) => {
            let mut pairs = Vec::new();
            for it in items {
                match it {
                    Value::Array(kv) if kv.len() == 2 => {
                        pairs.push((py_text(&kv[0]), kv[1].clone()))
                    }
                    _ => return Err("cannot form-urlencode body, expect list or dict".into()),
                }
            }
            pairs
        }
        other => return Ok(py_text(other)),
    };
    let mut out = Vec::new();
    for (k, v) in pairs {
        let values = match v {
            Value::Array(items) => items,
            Value::Null => continue,
            other => vec![other],
        };
        for v in values.iter().filter(|v| !v.is_null()) {
            out.push(format!("{}={}", quote_plus(&k), quote_plus(&py_text(v))));
        }
    }
    Ok(out.join("&"))
}

/// `a=1; b=2` and {a: 1, b: 2} from the response's Set-Cookie headers.
fn cookies(resp: &HttpResponse) -> (Map<String, Value>, String) {
    let mut dict = Map::new();
    let mut list = Vec::new();
    for (n, v) in &resp.headers {
        if n != "set-cookie" {
            continue;
        }
        let first = v.split(';').next().unwrap_or("");
        if let Some((k, val)) = first.split_once('=') {
            dict.insert(k.trim().into(), val.trim().into());
            list.push(format!("{}={}", k.trim(), val.trim()));
        }
    }
    (dict, list.join("; "))
}

/// `location` made absolute against the request URL, as `urljoin` does
/// for the usual forms.
fn absolute(base: &str, loc: &str) -> String {
    if loc.contains("://") {
        return loc.to_string();
    }
    let (scheme, rest) = base.split_once("://").unwrap_or(("http", base));
    let authority = rest.split(['/', '?', '#']).next().unwrap_or(rest);
    if let Some(net) = loc.strip_prefix("//") {
        return format!("{scheme}://{net}");
    }
    if loc.starts_with('/') {
        return format!("{scheme}://{authority}{loc}");
    }
    let path = rest[authority.len()..]
        .split(['?', '#'])
        .next()
        .unwrap_or("");
    let dir = match path.rfind('/') {
        Some(i) => &path[..=i],
        None => "/",
    };
    format!("{scheme}://{authority}{dir}{loc}")
}

/// Python's repr of the accepted statuses: `[200, 201]`.
fn status_list(codes: &[i64]) -> String {
    let items: Vec<String> = codes.iter().map(|c| c.to_string()).collect();
    format!("[{}]", items.join(", "))
}

#[async_trait]
impl Module for Uri {
    fn name(&self) -> &'static str {
        "uri"
    }

    fn spec(&self) -> Option<&'static Spec> {
        Some(&SPEC)
    }

    async fn run(&self, ctx: &ModuleContext<'_>) -> Result<Outcome, HostError> {
        let a = match SPEC.parse(ctx).await? {
            Ok(a) => a,
            Err(o) => return Ok(o),
        };
        if ctx.check_mode {
            let mut o = Outcome::ok();
            o.skipped = true;
            o.msg = Some("remote module (uri) does not support check mode".into());
            return Ok(o);
        }
        let host = ctx.host;
        let url = a.str_or("url", "");
        let method = a.str_or("method", "GET").to_uppercase();
        if method.is_empty() || !method.bytes().all(|b| b.is_ascii_uppercase()) {
            return Ok(Outcome::failed(
                "Parameter 'method' needs to be a single word in uppercase, like GET or POST.",
            ));
        }
        let mut status_codes = Vec::new();
        for s in a.list("status_code").unwrap_or_else(|| vec!["200".into()]) {
            match s.trim().parse::<i64>() {
                Ok(n) => status_codes.push(n),
                Err(_) => {
                    return Ok(Outcome::failed(format!(
                        "Elements value for option 'status_code' is of type str and we were unable to convert to int: \"'{s}'\" cannot be converted to an int"
                    )))
                }
            }
        }
        let mut headers = match super::headers_arg("headers", a.raw("headers")) {
            Ok(h) => h,
            Err(e) => return Ok(Outcome::failed(e)),
        };
        let has_header =
            |h: &[(String, String)], n: &str| h.iter().any(|(k, _)| k.eq_ignore_ascii_case(n));
        let body_format = a.str_or("body_format", "raw");
        let body = match a.raw("body") {
            None | Some(Value::Null) => None,
            Some(b) => Some(match body_format.as_str() {
                "json" => {
                    if !has_header(&headers, "content-type") {
                        headers.push(("Content-Type".into(), "application/json".into()));
                    }
                    match b {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    }
                }
                "form-urlencoded" => {
                    if !has_header(&headers, "content-type") {
                        headers.push((
                            "Content-Type".into(),
                            "application/x-www-form-urlencoded".into(),
                        ));
                    }
                    match form_urlencoded(b) {
                        Ok(s) => s,
                        Err(e) => {
                            return Ok(Outcome::failed(format!(
                                "failed to parse body as form_urlencoded: {e}"
                            ))
                            .with("elapsed", 0))
                        }
                    }
                }
                _ => py_text(b),
            }),
        };
        if !has_header(&headers, "user-agent") {
            headers.push((
                "User-Agent".into(),
                a.str_or("http_agent", "ansible-httpget"),
            ));
        }

        for (arg, want_exists) in [("creates", true), ("removes", false)] {
            if let Some(p) = a.str(arg) {
                let exists = host.stat(&p, true).await?.is_some();
                if exists == want_exists {
                    let why = if want_exists {
                        format!("skipped, since '{p}' exists")
                    } else {
                        format!("skipped, since '{p}' does not exist")
                    };
                    return Ok(Outcome::ok().with("stdout", why));
                }
            }
        }

        let follow = match a.str_or("follow_redirects", "safe").as_str() {
            "all" | "yes" | "urllib2" => true,
            "none" | "no" => false,
            _ => method == "GET" || method == "HEAD",
        };
        let mut dest = a.str("dest");
        let dest_st = match &dest {
            Some(d) => host.stat(d, true).await?,
            None => None,
        };
        let ims = match (&dest, &dest_st) {
            (Some(d), Some(st)) if st.kind == "file" && !a.bool_or("force", false) => {
                Some(d.clone())
            }
            _ => None,
        };
        let tmp = match host_tempfile(host, None).await? {
            Ok(t) => t,
            Err(e) => return Ok(Outcome::failed(e)),
        };
        let req = HttpRequest {
            url: url.clone(),
            method: method.clone(),
            headers,
            body: body.map(String::into_bytes),
            user: a.str("url_username"),
            password: a.str("url_password"),
            force_basic_auth: a.bool_or("force_basic_auth", false),
            validate_certs: a.bool_or("validate_certs", true),
            timeout: a.int("timeout").unwrap_or(30).max(1) as u64,
            follow_redirects: follow,
            use_proxy: a.bool_or("use_proxy", true),
            if_modified_since: ims,
            out: tmp.clone(),
        };
        let start = Instant::now();
        let resp = request(host, &req).await?;
        let elapsed = start.elapsed().as_secs();
        let resp = match resp {
            Ok(r) => r,
            Err(e) => {
                remove(ctx, &tmp).await?;
                return Ok(Outcome::failed(e));
            }
        };
        let result = self
            .finish(
                ctx,
                &a,
                &resp,
                &tmp,
                &url,
                &mut dest,
                &status_codes,
                elapsed,
            )
            .await;
        remove(ctx, &tmp).await?;
        result
    }
}

async fn remove(ctx: &ModuleContext<'_>, path: &str) -> Result<(), HostError> {
    ctx.host
        .exec(
            &format!("rm -f -- {}", shell_quote(path)),
            &ExecOptions::default(),
        )
        .await?;
    Ok(())
}

impl Uri {
    /// Builds the result from the response; saves the body to dest.
    #[allow(clippy::too_many_arguments)]
    async fn finish(
        &self,
        ctx: &ModuleContext<'_>,
        a: &crate::args::Args,
        resp: &HttpResponse,
        tmp: &str,
        url: &str,
        dest: &mut Option<String>,
        status_codes: &[i64],
        elapsed: u64,
    ) -> Result<Outcome, HostError> {
        let host = ctx.host;
        let got = resp.status > 0;
        let ok_status = status_codes.contains(&resp.status);
        let return_content = a.bool_or("return_content", false);

        let content_type = resp
            .header("content-type")
            .unwrap_or("application/octet-stream");
        let mime = content_type.split([';', ',']).next().unwrap_or("").trim();
        let sub = mime.split_once('/').map(|x| x.1).unwrap_or("");
        let sub = sub.rsplit_once('+').map(|x| x.1).unwrap_or(sub);
        let maybe_json = got && matches!(sub.to_ascii_lowercase().as_str(), "json" | "javascript");
        let want_output = maybe_json || return_content || !ok_status;

        let body = if got {
            host.read_file(tmp).await?.unwrap_or_default()
        } else {
            Vec::new()
        };
        let text = String::from_utf8_lossy(&body).into_owned();

        let mut values = Map::new();
        values.insert("redirected".into(), Value::Bool(resp.redirected));
        let final_url = if resp.redirected { &resp.url } else { url };
        values.insert("url".into(), final_url.into());
        if got {
            for (n, v) in &resp.headers {
                let key = n.replace('-', "_");
                if key == "set_cookie" && values.contains_key("set_cookie") {
                    // Python's info dict keeps one value per name.
                    continue;
                }
                values.insert(key, v.clone().into());
            }
            if (200..300).contains(&resp.status) {
                let (dict, string) = cookies(resp);
                values.insert("cookies_string".into(), string.into());
                values.insert("cookies".into(), Value::Object(dict));
            } else if !want_output {
                values.insert("body".into(), text.clone().into());
            }
        }
        if let Some(Value::String(loc)) = values.get("location").cloned() {
            values.insert("location".into(), absolute(url, &loc).into());
        }
        values.insert("elapsed".into(), elapsed.into());
        values.insert("status".into(), resp.status.into());
        let msg = resp.msg(Some(body.len() as u64));

        let mut changed = false;
        if let (Some(d), true) = (dest.as_mut(), got) {
            if ok_status && resp.status != 304 {
                if host
                    .stat(d, true)
                    .await?
                    .is_some_and(|s| s.kind == "directory")
                {
                    let name = resp
                        .header("content-disposition")
                        .and_then(disposition_filename)
                        .unwrap_or_else(|| url_filename(&resp.url));
                    *d = format!("{}/{name}", d.trim_end_matches('/'));
                }
                if host.checksum(tmp).await? != host.checksum(d).await? {
                    if let Err(e) = host.write_from(d, Source::HostFile(tmp), None).await {
                        let mut o = Outcome::failed(format!(
                            "failed to copy {tmp} to {d}: {} {msg}",
                            e.message
                        ));
                        o.values = values;
                        return Ok(o);
                    }
                }
                changed = true;
                if let Some(st) = host.stat(d, true).await? {
                    let c = match attr_change(&Attrs::from_args(a), &st) {
                        Ok(c) => c,
                        Err(e) => return Ok(Outcome::failed(e)),
                    };
                    if let Err(e) = run_all(host, &attr_commands(d, &c, true)).await? {
                        return Ok(Outcome::failed(e));
                    }
                }
            }
            values.insert("path".into(), d.clone().into());
        }

        if maybe_json {
            if let Ok(js) = serde_json::from_str::<Value>(&text) {
                values.insert("json".into(), js);
            }
        }
        if return_content {
            values.insert(
                "content".into(),
                if got { text.into() } else { Value::Null },
            );
        }
        let mut o = Outcome {
            changed,
            values,
            ..Outcome::default()
        };
        if ok_status {
            o.msg = Some(msg);
        } else {
            o.failed = true;
            o.changed = false;
            o.msg = Some(format!(
                "Status code was {} and not {}: {msg}",
                resp.status,
                status_list(status_codes)
            ));
        }
        Ok(o)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn forms_are_encoded_as_python_does() {
        assert_eq!(
            form_urlencoded(&json!({"a b": "c&d", "n": 1, "l": ["x", "y"], "t": true})).unwrap(),
            "a+b=c%26d&n=1&l=x&l=y&t=True"
        );
        assert_eq!(form_urlencoded(&json!([["k", "v"]])).unwrap(), "k=v");
        assert_eq!(form_urlencoded(&json!("raw=1")).unwrap(), "raw=1");
    }

    #[test]
    fn locations_are_made_absolute() {
        assert_eq!(absolute("http://h:1/a/b?x", "/c"), "http://h:1/c");
        assert_eq!(absolute("http://h:1/a/b", "c"), "http://h:1/a/c");
        assert_eq!(absolute("http://h/a", "https://o/p"), "https://o/p");
        assert_eq!(status_list(&[200, 201]), "[200, 201]");
    }
}
