//! A small real HTTP/1.1 server on 127.0.0.1 for the network modules'
//! tests (get_url, uri): fixed responses by path, basic auth, redirects,
//! `If-Modified-Since` answered with 304, and every request recorded.
//! One thread per connection; each response closes its connection.
//!
//! Included with `#[path = "support/http.rs"] mod http;`.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

/// One response the server gives for a path.
#[derive(Clone, Debug)]
pub struct Route {
    pub status: u16,
    pub reason: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Basic-auth user and password the request must carry (else 401
    /// with a `WWW-Authenticate` challenge).
    pub auth: Option<(String, String)>,
    /// Answer 304 to a request with `If-Modified-Since`.
    pub not_modified_when_asked: bool,
}

impl Route {
    pub fn ok(body: impl Into<Vec<u8>>) -> Route {
        Route::status(200, "OK", body)
    }

    pub fn status(status: u16, reason: &str, body: impl Into<Vec<u8>>) -> Route {
        Route {
            status,
            reason: reason.into(),
            headers: Vec::new(),
            body: body.into(),
            auth: None,
            not_modified_when_asked: false,
        }
    }

    /// A redirect to `location`.
    pub fn redirect(status: u16, location: &str) -> Route {
        Route::status(status, "Found", Vec::new()).header("Location", location)
    }

    pub fn header(mut self, name: &str, value: &str) -> Route {
        self.headers.push((name.into(), value.into()));
        self
    }

    pub fn auth(mut self, user: &str, password: &str) -> Route {
        self.auth = Some((user.into(), password.into()));
        self
    }

    pub fn not_modified_when_asked(mut self) -> Route {
        self.not_modified_when_asked = true;
        self
    }
}

/// A request as the server received it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    /// The path with its query string.
    pub target: String,
    /// Header names lowercased, in the order received.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == &name.to_ascii_lowercase())
            .map(|(_, v)| v.as_str())
    }
}

pub struct HttpServer {
    pub port: u16,
    routes: Arc<Mutex<HashMap<String, Route>>>,
    requests: Arc<Mutex<Vec<Request>>>,
}

impl HttpServer {
    /// Starts listening on a free loopback port; the server lives as long
    /// as the test process.
    pub fn start() -> HttpServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = listener.local_addr().expect("bound address").port();
        let routes: Arc<Mutex<HashMap<String, Route>>> = Arc::default();
        let requests: Arc<Mutex<Vec<Request>>> = Arc::default();
        let (r, q) = (routes.clone(), requests.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (r, q) = (r.clone(), q.clone());
                std::thread::spawn(move || {
                    let _ = serve(stream, &r, &q);
                });
            }
        });
        HttpServer {
            port,
            routes,
            requests,
        }
    }

    /// `http://127.0.0.1:PORT` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn set(&self, path: &str, route: Route) {
        self.routes.lock().unwrap().insert(path.into(), route);
    }

    /// The requests received so far (and forgets them).
    pub fn take_requests(&self) -> Vec<Request> {
        std::mem::take(&mut *self.requests.lock().unwrap())
    }
}

fn serve(
    stream: TcpStream,
    routes: &Mutex<HashMap<String, Route>>,
    requests: &Mutex<Vec<Request>>,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let target = parts.next().unwrap_or("/").to_string();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 {
            break;
        }
        let h = h.trim_end_matches(['\r', '\n']);
        if h.is_empty() {
            break;
        }
        if let Some((n, v)) = h.split_once(':') {
            headers.push((n.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    let len = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse::<usize>().ok())
        .unwrap_or(0);
    let mut body = vec![0; len];
    reader.read_exact(&mut body)?;
    let req = Request {
        method,
        target,
        headers,
        body,
    };
    requests.lock().unwrap().push(req.clone());

    let path = req.target.split('?').next().unwrap_or("/");
    let route = routes.lock().unwrap().get(path).cloned();
    let mut route = route.unwrap_or_else(|| Route::status(404, "Not Found", "no such page\n"));
    if let Some((u, p)) = &route.auth {
        use base64::Engine;
        let want = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))
        );
        if req.header("authorization") != Some(want.as_str()) {
            route = Route::status(401, "Unauthorized", "auth needed\n")
                .header("WWW-Authenticate", "Basic realm=\"herd\"");
        }
    }
    if route.not_modified_when_asked && req.header("if-modified-since").is_some() {
        route = Route::status(304, "Not Modified", Vec::new());
    }
    let mut out = format!("HTTP/1.1 {} {}\r\n", route.status, route.reason);
    for (n, v) in &route.headers {
        out.push_str(&format!("{n}: {v}\r\n"));
    }
    out.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        route.body.len()
    ));
    let mut stream = stream;
    stream.write_all(out.as_bytes())?;
    if req.method != "HEAD" {
        stream.write_all(&route.body)?;
    }
    stream.flush()
}
