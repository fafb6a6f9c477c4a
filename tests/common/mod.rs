//! Shared test helpers: a local fixture server on 127.0.0.1 (ephemeral port) and config writing.
#![allow(dead_code)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

pub fn fixture_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("fixtures")
        .join(name)
}

pub fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(fixture_path(name)).unwrap_or_else(|e| panic!("fixture {name}: {e}"))
}

/// A document the server answers with.
#[derive(Clone)]
pub struct Doc {
    pub status: u16,
    pub content_type: String,
    pub body: Vec<u8>,
}

/// Serves documents by path; each 200 carries an ETag of its body, and a matching If-None-Match
/// gets 304. Counts requests per path.
#[derive(Clone, Default)]
pub struct FixtureServer {
    docs: Arc<Mutex<HashMap<String, Doc>>>,
    hits: Arc<Mutex<HashMap<String, usize>>>,
    conditional_hits: Arc<Mutex<HashMap<String, usize>>>,
    pub addr: Option<SocketAddr>,
}

impl FixtureServer {
    /// Starts serving every file directly in tests/fixtures at `/<name>`.
    pub async fn start() -> FixtureServer {
        let mut server = FixtureServer::default();
        for entry in std::fs::read_dir(fixture_path("")).expect("fixtures dir") {
            let entry = entry.expect("fixture entry");
            // Subdirectories hold data sets read by their own tests (dedup/newsroom.toml), not
            // documents to serve.
            if !entry.file_type().expect("fixture entry type").is_file() {
                continue;
            }
            let name = entry.file_name().to_string_lossy().to_string();
            let content_type = match name.rsplit('.').next() {
                Some("json") => "application/feed+json",
                Some("html") => "text/html; charset=utf-8",
                _ => "application/xml",
            };
            server.set(
                &name,
                200,
                content_type,
                std::fs::read(entry.path()).expect("fixture"),
            );
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        server.addr = Some(listener.local_addr().expect("addr"));
        let app = Router::new()
            .route("/{name}", get(serve))
            .with_state(server.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        server
    }

    pub fn url(&self, name: &str) -> String {
        format!("http://{}/{name}", self.addr.expect("started"))
    }

    pub fn set(&self, name: &str, status: u16, content_type: &str, body: Vec<u8>) {
        self.docs.lock().expect("lock").insert(
            name.to_string(),
            Doc {
                status,
                content_type: content_type.to_string(),
                body,
            },
        );
    }

    pub fn hits(&self, name: &str) -> usize {
        self.hits
            .lock()
            .expect("lock")
            .get(name)
            .copied()
            .unwrap_or(0)
    }

    pub fn conditional_hits(&self, name: &str) -> usize {
        self.conditional_hits
            .lock()
            .expect("lock")
            .get(name)
            .copied()
            .unwrap_or(0)
    }
}

fn etag_of(body: &[u8]) -> String {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in body {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x100000001b3);
    }
    format!("\"{h:016x}\"")
}

async fn serve(
    State(server): State<FixtureServer>,
    UrlPath(name): UrlPath<String>,
    headers: HeaderMap,
) -> Response {
    *server
        .hits
        .lock()
        .expect("lock")
        .entry(name.clone())
        .or_default() += 1;
    let doc = server.docs.lock().expect("lock").get(&name).cloned();
    let Some(doc) = doc else {
        return (StatusCode::NOT_FOUND, "no such fixture").into_response();
    };
    let status = StatusCode::from_u16(doc.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if status != StatusCode::OK {
        return (status, doc.body).into_response();
    }
    let etag = etag_of(&doc.body);
    if let Some(inm) = headers.get(header::IF_NONE_MATCH) {
        *server
            .conditional_hits
            .lock()
            .expect("lock")
            .entry(name.clone())
            .or_default() += 1;
        if inm.to_str().ok() == Some(etag.as_str()) {
            return (StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response();
        }
    }
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, doc.content_type),
            (header::ETAG, etag),
        ],
        doc.body,
    )
        .into_response()
}

/// Runs the real `tributary` binary with `args`; returns (exit code, stdout, stderr).
pub fn tributary(config: &Path, args: &[&str]) -> (i32, String, String) {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_tributary"))
        .arg("--config")
        .arg(config)
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run tributary");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

pub fn write_config(
    dir: &Path,
    base_url: &str,
    server: &FixtureServer,
    extra_fetch: &str,
    sources: &[(&str, &[&str])],
) -> std::path::PathBuf {
    let mut text = format!(
        "[server]\nbase_url = \"{base_url}\"\n[storage]\npath = \"{}\"\n[fetch]\nallow_private_networks = true\nconcurrency = 4\ntimeout = \"10s\"\nhost_delay = \"0s\"\n{extra_fetch}\n\
         [[topic]]\nslug = \"tech\"\ntitle = \"Tech\"\n\
         [[topic]]\nslug = \"vietnam\"\ntitle = \"Tin Việt Nam\"\ndescription = \"Tin mới\"\n\
         [[topic]]\nslug = \"local\"\ntitle = \"Local\"\n",
        dir.join("tributary.db").display()
    );
    for (name, topics) in sources {
        let topics: Vec<String> = topics.iter().map(|t| format!("\"{t}\"")).collect();
        text.push_str(&format!(
            "[[source]]\nurl = \"{}\"\ntopics = [{}]\n",
            server.url(name),
            topics.join(", ")
        ));
    }
    let path = dir.join("feeds.toml");
    std::fs::write(&path, text).expect("write config");
    path
}

pub fn standard_sources() -> Vec<(&'static str, &'static [&'static str])> {
    vec![
        ("rss_guid.xml", &["tech"]),
        ("atom.xml", &["tech"]),
        ("feed.json", &["tech"]),
        ("rss_noguid.xml", &["local"]),
        ("vietnamese.xml", &["vietnam"]),
    ]
}

pub async fn fetch(config: &Path, args: &[&str]) -> (i32, String, String) {
    let config = config.to_path_buf();
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let mut all = vec!["fetch"];
        all.extend(args.iter().map(String::as_str));
        tributary(&config, &all)
    })
    .await
    .expect("join")
}

/// A port nobody listens on right now, for a daemon to bind.
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

/// GET over a plain TCP connection; returns (status, body).
pub fn http_get(addr: &str, path: &str) -> Option<(u16, String)> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).ok()?;
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let status = response.split(' ').nth(1)?.parse().ok()?;
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())?;
    Some((status, body))
}

/// Polls `path` until `done` accepts the response or `within` passes.
pub fn wait_for(
    addr: &str,
    path: &str,
    within: std::time::Duration,
    done: impl Fn(u16, &str) -> bool,
) -> bool {
    let deadline = std::time::Instant::now() + within;
    while std::time::Instant::now() < deadline {
        if let Some((status, body)) = http_get(addr, path) {
            if done(status, &body) {
                return true;
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    false
}

/// Waits for a child process to exit; its exit code, or `None` (and killed) after `within`.
pub fn wait_exit(child: &mut std::process::Child, within: std::time::Duration) -> Option<i32> {
    let deadline = std::time::Instant::now() + within;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return status.code();
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            return None;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// A config like [`write_config`] whose server listens on `addr` (and is based there), with
/// `extra` TOML appended.
pub fn write_config_listening(
    dir: &Path,
    addr: &str,
    server: &FixtureServer,
    sources: &[(&str, &[&str])],
    extra: &str,
) -> PathBuf {
    let config = write_config(dir, &format!("http://{addr}/"), server, "", sources);
    let mut text = std::fs::read_to_string(&config).expect("config");
    text = text.replacen("[server]\n", &format!("[server]\nlisten = \"{addr}\"\n"), 1);
    text.push_str(extra);
    std::fs::write(&config, text).expect("config");
    config
}

/// Starts `tributary --config CONFIG run` with `RUST_LOG=level`, stdout discarded.
pub fn spawn_run(config: &Path, level: &str, stderr: std::process::Stdio) -> std::process::Child {
    std::process::Command::new(env!("CARGO_BIN_EXE_tributary"))
        .arg("--config")
        .arg(config)
        .arg("run")
        .env("RUST_LOG", level)
        .stdout(std::process::Stdio::null())
        .stderr(stderr)
        .spawn()
        .expect("start tributary run")
}

/// GET `uri` from a router in process; returns (status, Content-Type, body).
pub async fn router_get(app: &Router, uri: &str) -> (StatusCode, String, String) {
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let response = app
        .clone()
        .oneshot(
            axum::http::Request::builder()
                .uri(uri)
                .body(axum::body::Body::empty())
                .expect("request"),
        )
        .await
        .expect("response");
    let status = response.status();
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    (
        status,
        content_type,
        String::from_utf8(body.to_vec()).expect("UTF-8"),
    )
}

/// A feed server that answers every request with a 200 head and then sends the body a few
/// bytes at a time, never finishing it: a refresh from it runs until the fetch timeout. Counts
/// the requests it has begun answering.
pub struct DripServer {
    pub addr: SocketAddr,
    pub requests: Arc<std::sync::atomic::AtomicUsize>,
}

impl DripServer {
    pub async fn start() -> DripServer {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let requests = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = requests.clone();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let counter = counter.clone();
                tokio::spawn(async move {
                    let mut head = [0u8; 4096];
                    if stream.read(&mut head).await.unwrap_or(0) == 0 {
                        return;
                    }
                    counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    let _ = stream
                        .write_all(
                            b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\n\
                              Transfer-Encoding: chunked\r\n\r\n",
                        )
                        .await;
                    // At most ten minutes of drips: bounded even if nobody stops it.
                    for _ in 0..600 {
                        if stream.write_all(b"1\r\n \r\n").await.is_err() {
                            return;
                        }
                        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                    }
                });
            }
        });
        DripServer { addr, requests }
    }

    pub fn url(&self) -> String {
        format!("http://{}/drip.xml", self.addr)
    }

    pub fn requests(&self) -> usize {
        self.requests.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// Points the source `name` of the config at `url` instead of the fixture server, and gives
/// fetches `timeout`.
pub fn redirect_source(
    config: &Path,
    server: &FixtureServer,
    name: &str,
    url: &str,
    timeout: &str,
) {
    let text = std::fs::read_to_string(config)
        .expect("config")
        .replace(&server.url(name), url)
        .replace("timeout = \"10s\"", &format!("timeout = \"{timeout}\""));
    std::fs::write(config, text).expect("config");
}
