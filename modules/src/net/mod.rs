//! Network modules (get_url, uri) and the one way they make an HTTP
//! request: the host's `curl`, else its `wget` (GNU or BusyBox), run by
//! `sh`. The response body goes to a file on the host; the status line and
//! headers come back to the controller.

pub mod get_url;
pub mod uri;

use base64::Engine;

use crate::api::{shell_quote, ExecOptions, Host, HostError, Value};

/// One HTTP request to make from the host.
#[derive(Clone, Debug, Default)]
pub struct HttpRequest {
    pub url: String,
    pub method: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
    pub user: Option<String>,
    pub password: Option<String>,
    /// Send the credentials with the first request instead of waiting for
    /// a 401 challenge.
    pub force_basic_auth: bool,
    pub validate_certs: bool,
    pub timeout: u64,
    pub follow_redirects: bool,
    /// Go through the proxy the host's environment names (`http_proxy`
    /// …); false ignores it.
    pub use_proxy: bool,
    /// A host file whose modification time is sent as `If-Modified-Since`.
    pub if_modified_since: Option<String>,
    /// Where the response body is written on the host.
    pub out: String,
}

/// What came back.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HttpResponse {
    /// The final status, or -1 when no response came (connection refused,
    /// timeout, name not found).
    pub status: i64,
    pub reason: String,
    /// Headers of the final response: names lowercased, in order.
    pub headers: Vec<(String, String)>,
    /// The URL of the final response (after redirects).
    pub url: String,
    pub redirected: bool,
    /// Why no response came, as Python's urllib words it
    /// (`Request failed: <urlopen error [Errno 111] Connection refused>`).
    pub error: Option<String>,
}

impl HttpResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Ansible's `msg` for a response: `OK (N bytes)` for a success
    /// (`unknown` without a length), `HTTP Error N: Reason` otherwise.
    pub fn msg(&self, body_len: Option<u64>) -> String {
        if let Some(e) = &self.error {
            return e.clone();
        }
        if (200..300).contains(&self.status) {
            let len = self
                .header("content-length")
                .map(str::to_string)
                .or(body_len.map(|n| n.to_string()))
                .unwrap_or_else(|| "unknown".into());
            format!("OK ({len} bytes)")
        } else {
            format!("HTTP Error {}: {}", self.status, self.reason)
        }
    }
}

/// A `type='dict'` argument of request headers as Ansible converts it:
/// a dict, a JSON object in a string, or `k=v` pairs separated by commas
/// or spaces. Values are written as Python's `str()` writes them.
pub fn headers_arg(name: &str, v: Option<&Value>) -> Result<Vec<(String, String)>, String> {
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        other => other.to_string(),
    };
    let err = || {
        format!(
            "argument '{name}' is of type str and we were unable to convert to dict: \
             dictionary requested, could not parse JSON or key=value"
        )
    };
    match v {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Object(m)) => Ok(m.iter().map(|(k, v)| (k.clone(), text(v))).collect()),
        Some(Value::String(s)) if s.trim_start().starts_with('{') => {
            match serde_json::from_str::<Value>(s) {
                Ok(Value::Object(m)) => Ok(m.iter().map(|(k, v)| (k.clone(), text(v))).collect()),
                _ => Err(err()),
            }
        }
        Some(Value::String(s)) => s
            .split([',', ' '])
            .filter(|w| !w.is_empty())
            .map(|w| {
                w.split_once('=')
                    .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                    .ok_or_else(err)
            })
            .collect(),
        Some(other) => Err(format!(
            "argument '{name}' is of type {} and we were unable to convert to dict",
            match other {
                Value::Array(_) => "list",
                Value::Bool(_) => "bool",
                _ => "int",
            }
        )),
    }
}

/// Escapes a value for a quoted string of a curl config file.
fn curl_quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The shell script that makes the request and prints
/// `HERD-HTTP <tool> <rc> <code> <redirects> <url>` then the header dump.
/// The curl configuration (URL, credentials, headers, body) travels on
/// stdin, so no secret shows in the host's process list.
fn script(req: &HttpRequest) -> (String, Vec<u8>) {
    let head = req.method == "HEAD";
    let out = shell_quote(&req.out);
    let ims = match &req.if_modified_since {
        Some(p) => format!(
            "ims=$(date -u -r {} '+%a, %d %b %Y %H:%M:%S GMT' 2>/dev/null) || ims=\n",
            shell_quote(p)
        ),
        None => "ims=\n".into(),
    };

    let mut cfg = String::new();
    cfg.push_str(&format!("url = {}\n", curl_quote(&req.url)));
    let has_body = req.body.is_some();
    if head {
        cfg.push_str("head\n");
    } else if !(req.method == "GET" && !has_body || req.method == "POST" && has_body) {
        cfg.push_str(&format!("request = {}\n", curl_quote(&req.method)));
    }
    for (n, v) in &req.headers {
        cfg.push_str(&format!("header = {}\n", curl_quote(&format!("{n}: {v}"))));
    }
    if let Some(u) = &req.user {
        let p = req.password.clone().unwrap_or_default();
        cfg.push_str(&format!("user = {}\n", curl_quote(&format!("{u}:{p}"))));
        cfg.push_str(if req.force_basic_auth {
            "basic\n"
        } else {
            "anyauth\n"
        });
    }
    if !req.validate_certs {
        cfg.push_str("insecure\n");
    }
    if req.follow_redirects {
        cfg.push_str("location\nmax-redirs = 50\n");
    }
    if let Some(b) = &req.body {
        cfg.push_str(&format!(
            "data-raw = {}\n",
            curl_quote(&String::from_utf8_lossy(b))
        ));
    }
    cfg.push_str(&format!("max-time = {}\n", req.timeout.max(1)));
    if !req.use_proxy {
        cfg.push_str("noproxy = \"*\"\n");
    }

    // wget: the subset both GNU and BusyBox wget have.
    // BusyBox 1.35's wget crashes on `-T`: only GNU wget (which knows
    // `--version`) gets it; `timeout` bounds both.
    let mut wget = String::from(if req.use_proxy {
        "$tmo wget $wt -q -S"
    } else {
        "http_proxy= https_proxy= ftp_proxy= $tmo wget $wt -q -S"
    });
    if head {
        wget.push_str(" --spider");
    } else {
        wget.push_str(&format!(" -O {out}"));
    }
    if !req.validate_certs {
        wget.push_str(" --no-check-certificate");
    }
    for (n, v) in &req.headers {
        wget.push_str(&format!(" --header {}", shell_quote(&format!("{n}: {v}"))));
    }
    if let Some(u) = &req.user {
        let p = req.password.clone().unwrap_or_default();
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"));
        wget.push_str(&format!(
            " --header {}",
            shell_quote(&format!("Authorization: Basic {token}"))
        ));
    }
    if let Some(b) = &req.body {
        wget.push_str(&format!(
            " --post-data {}",
            shell_quote(&String::from_utf8_lossy(b))
        ));
    }
    wget.push_str(&format!(" {}", shell_quote(&req.url)));
    let wget_ok =
        matches!(req.method.as_str(), "GET" | "HEAD") || (req.method == "POST" && has_body);

    let curl_out = if head {
        "/dev/null".to_string()
    } else {
        out.clone()
    };
    let head_touch = if head {
        format!(": > {out} && ")
    } else {
        String::new()
    };
    let s = format!(
        "{ims}\
h=$(mktemp) || exit 1\n\
if command -v curl >/dev/null 2>&1; then\n\
  {head_touch}curl -q -sS -K - ${{ims:+-H \"If-Modified-Since: $ims\"}} -o {curl_out} -D \"$h\" \
-w '%{{http_code}} %{{num_redirects}} %{{url_effective}}' > \"$h.w\"; rc=$?\n\
  printf 'HERD-HTTP curl %s %s\\n' \"$rc\" \"$(cat \"$h.w\")\"\n\
elif command -v wget >/dev/null 2>&1; then\n\
  wt=; tmo=\n\
  if wget --version >/dev/null 2>&1; then wt='-T {secs}'; fi\n\
  if command -v timeout >/dev/null 2>&1; then tmo='timeout {secs}'; fi\n\
  if {wget_ok}; then\n\
    {head_touch}{wget} ${{ims:+--header \"If-Modified-Since: $ims\"}} 2> \"$h\"; rc=$?\n\
    printf 'HERD-HTTP wget %s\\n' \"$rc\"\n\
  else\n\
    rm -f \"$h\"; echo 'wget on this host cannot send {method} requests: install curl' >&2; exit 3\n\
  fi\n\
else\n\
  rm -f \"$h\"; echo 'neither curl nor wget is installed on the host' >&2; exit 3\n\
fi\n\
cat \"$h\"; rm -f \"$h\" \"$h.w\"\n",
        method = req.method,
        secs = req.timeout.max(1),
    );
    (s, cfg.into_bytes())
}

/// Makes the request on the host. `Err(message)` when the host has no
/// tool for it.
pub async fn request(
    host: &dyn Host,
    req: &HttpRequest,
) -> Result<Result<HttpResponse, String>, HostError> {
    let (s, cfg) = script(req);
    let opts = ExecOptions {
        stdin: Some(cfg),
        timeout: Some(req.timeout + 30),
        ..ExecOptions::default()
    };
    let r = host.exec(&s, &opts).await?;
    let text = r.stdout_text();
    let Some(first) = text.lines().next().filter(|l| l.starts_with("HERD-HTTP ")) else {
        let err = r.stderr_text();
        return Ok(Err(if err.trim().is_empty() {
            format!("the request could not be made (rc {})", r.rc)
        } else {
            err.trim().to_string()
        }));
    };
    let rest = text.split_once('\n').map(|x| x.1).unwrap_or("");
    let mut words = first.splitn(6, ' ').skip(1);
    let tool = words.next().unwrap_or("");
    let rc: i32 = words.next().and_then(|w| w.parse().ok()).unwrap_or(-1);
    let mut resp = HttpResponse {
        url: req.url.clone(),
        ..HttpResponse::default()
    };
    if tool == "curl" {
        let code: i64 = words.next().and_then(|w| w.parse().ok()).unwrap_or(0);
        let redirects: u64 = words.next().and_then(|w| w.parse().ok()).unwrap_or(0);
        if let Some(u) = words.next().filter(|u| !u.is_empty()) {
            resp.url = u.to_string();
        }
        // curl counts an authentication round trip (`anyauth`) as a
        // redirect too: only a different final URL is one.
        resp.redirected =
            redirects > 0 && resp.url != req.url && resp.url != format!("{}/", req.url);
        // A file:// URL has no status: curl says 000 and succeeds.
        let code = if rc == 0 && code == 0 && req.url.starts_with("file:") {
            200
        } else {
            code
        };
        if rc != 0 || code == 0 {
            resp.status = -1;
            resp.error = Some(match (rc, req.url.strip_prefix("file://")) {
                (37, Some(path)) => format!(
                    "Request failed: <urlopen error [Errno 2] No such file or directory: '{path}'>"
                ),
                _ => transport_error(rc, &r.stderr_text()),
            });
            return Ok(Ok(resp));
        }
        resp.status = code;
        parse_headers(rest, "", &mut resp);
    } else {
        parse_headers(rest, "  ", &mut resp);
        if resp.status == 0 {
            resp.status = -1;
            resp.error = Some(transport_error(
                if rc == 0 { -1 } else { 7 },
                &r.stderr_text(),
            ));
        }
    }
    Ok(Ok(resp))
}

/// Reads the status line and headers of the last response in a header
/// dump (curl's `-D`, wget's `-S` with its two-space indent).
fn parse_headers(dump: &str, indent: &str, resp: &mut HttpResponse) {
    let mut blocks = 0;
    for line in dump.lines() {
        let Some(line) = line.strip_prefix(indent) else {
            continue;
        };
        let line = line.trim_end_matches('\r');
        if line.starts_with("HTTP/") {
            blocks += 1;
            resp.headers.clear();
            let mut parts = line.splitn(3, ' ');
            parts.next();
            if let Some(code) = parts.next().and_then(|c| c.parse().ok()) {
                resp.status = code;
            }
            resp.reason = parts.next().unwrap_or("").trim().to_string();
            if resp.reason.is_empty() {
                resp.reason = reason_phrase(resp.status).to_string();
            }
        } else if let Some((n, v)) = line.split_once(':') {
            if !n.contains(' ') && !n.is_empty() {
                resp.headers
                    .push((n.trim().to_ascii_lowercase(), v.trim().to_string()));
            }
        }
    }
    if blocks > 1 && indent == "  " {
        resp.redirected = true;
    }
}

/// A transport failure in Python urllib's words, which Ansible's messages
/// carry.
fn transport_error(rc: i32, stderr: &str) -> String {
    let what = match rc {
        7 => "[Errno 111] Connection refused".to_string(),
        6 => "[Errno -2] Name or service not known".to_string(),
        28 => "timed out".to_string(),
        60 => "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed".to_string(),
        _ => {
            let e = stderr.trim();
            let e = e.strip_prefix("wget: ").unwrap_or(e);
            e.lines().last().unwrap_or("").to_string()
        }
    };
    format!("Request failed: <urlopen error {what}>")
}

/// The standard reason phrase of a status (for HTTP/2, which sends none).
pub fn reason_phrase(status: i64) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "",
    }
}

/// A temporary file path on the host for a download: in `dir` when
/// given, else the host's temp directory. Returns the created path.
pub async fn host_tempfile(
    host: &dyn Host,
    dir: Option<&str>,
) -> Result<Result<String, String>, HostError> {
    let cmd = match dir {
        Some(d) => format!(
            "if [ -d {q} ]; then mktemp {q}/herd-get_url.XXXXXXXX; \
             elif [ -e {q} ]; then echo {m1} >&2; exit 1; else echo {m2} >&2; exit 1; fi",
            q = shell_quote(d),
            m1 = shell_quote(&format!("{d} is a file but should be a directory.")),
            m2 = shell_quote(&format!("{d} directory does not exist.")),
        ),
        None => "mktemp \"${TMPDIR:-/tmp}/herd-get_url.XXXXXXXX\"".to_string(),
    };
    let r = host.exec(&cmd, &ExecOptions::default()).await?;
    if r.rc != 0 {
        return Ok(Err(r.stderr_text().trim().to_string()));
    }
    Ok(Ok(r.stdout_text().trim().to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_response_headers_win() {
        let dump = "HTTP/1.1 302 Found\r\nLocation: /b\r\n\r\nHTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Thing: a: b\r\n\r\n";
        let mut r = HttpResponse::default();
        parse_headers(dump, "", &mut r);
        assert_eq!(r.status, 200);
        assert_eq!(r.reason, "OK");
        assert_eq!(r.header("content-type"), Some("text/plain"));
        assert_eq!(r.header("x-thing"), Some("a: b"));
        assert_eq!(r.header("location"), None);
    }

    #[test]
    fn curl_config_strings_are_escaped() {
        assert_eq!(curl_quote("a\"b\\c\nd"), "\"a\\\"b\\\\c\\nd\"");
    }

    #[test]
    fn messages_follow_urllib() {
        let r = HttpResponse {
            status: 404,
            reason: "Not Found".into(),
            ..HttpResponse::default()
        };
        assert_eq!(r.msg(None), "HTTP Error 404: Not Found");
        assert_eq!(
            transport_error(7, ""),
            "Request failed: <urlopen error [Errno 111] Connection refused>"
        );
    }
}
