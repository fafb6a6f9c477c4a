//! The HTML pages in a real browser: Debian's `chromium`, headless. Two ways of driving it:
//! its command line (`--dump-dom` for the document it built, `--screenshot` at 360 and 1280 px)
//! and the DevTools protocol over a WebSocket (console messages, failed requests, and the
//! document's width against the viewport). The daemon's own server runs on a loopback port over
//! a store filled here, with a hostile story among Vietnamese and Indonesian ones. Screenshots
//! land in `target/pages/` for a reviewer to look at.
//!
//! Ignored by default (it needs chromium); `.ci/run` installs it and runs these.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tributary::config::Config;
use tributary::model::{Enclosure, EntryKey, FeedMeta, NewEntry, TopicSlug, Validators};
use tributary::server::{self, AppState};
use tributary::store::{Fetched, SourceSpec, SqliteStore, Store};

const NOW: i64 = 1_790_100_000;
/// Longest a browser run may take before the test fails.
const BROWSER_DEADLINE: Duration = Duration::from_secs(90);

/// Every page, by path under the base URL.
const PAGES: [&str; 5] = [
    "",
    "topics/news",
    "topics/all",
    "search?q=da+nang",
    "sources",
];

/// A story that would change the page if any of it were taken as markup: its image's error
/// handler marks the body, its script retitles the page.
const HOSTILE_TITLE: &str = "<img src=x onerror=\"document.body.dataset.pwned=1\">Hostile";
const HOSTILE_SUMMARY: &str =
    "<p>&lt;script&gt;document.title='pwned'&lt;/script&gt; Tin &lt;b&gt;mưa&lt;/b&gt;</p>";

fn entry(i: usize, title: &str, summary: &str, language: &str) -> NewEntry {
    let link = format!("https://news.example/{i}.html");
    NewEntry {
        key: EntryKey::guid(&format!("story-{i}")),
        public_id: link.clone(),
        link: Some(link.clone()),
        canonical_url: Some(link),
        title: title.into(),
        summary_html: Some(summary.into()),
        content_html: None,
        authors: vec![],
        categories: vec![],
        enclosures: vec![],
        language: Some(language.into()),
        published: NOW - 3_600 * (i as i64 + 1),
        updated: None,
        content_hash: format!("hash-{i}"),
        signature: None,
        title_numbers: String::new(),
        likeness: Default::default(),
        item_hash: None,
        origin: None,
        folded: Default::default(),
        search_text: tributary::text::search_text(title, Some(summary), None),
        topics: vec![TopicSlug::all(), TopicSlug::new("news").expect("slug")],
    }
}

fn fill(store: &SqliteStore) {
    let ids = store
        .sync_sources(&[SourceSpec {
            url: "https://news.example/feed.xml".into(),
            title: Some("Tuổi Trẻ <b>".into()),
            topics: vec![TopicSlug::new("news").expect("slug")],
        }])
        .expect("sync sources");
    let mut entries: Vec<NewEntry> = (0..8)
        .map(|i| {
            let (title, summary, language) = if i % 2 == 0 {
                (
                    format!("Mưa lớn ở Đà Nẵng, tin số {i}: giao thông ùn tắc kéo dài nhiều giờ"),
                    "<p>Người dân thành phố Đà Nẵng cho biết mưa lớn kéo dài từ đêm qua khiến \
                     nhiều tuyến đường ngập sâu, giao thông gần như tê liệt trong giờ cao điểm.</p>",
                    "vi",
                )
            } else {
                (
                    format!("Banjir melanda Jakarta, berita nomor {i}"),
                    "<p>Hujan deras sejak semalam menyebabkan banjir di sejumlah wilayah \
                     Jakarta; pemerintah daerah mengimbau warga untuk berhati-hati.</p>",
                    "id",
                )
            };
            entry(i, &title, summary, language)
        })
        .collect();
    let mut hostile = entry(8, HOSTILE_TITLE, HOSTILE_SUMMARY, "vi\" onmouseover=\"x");
    hostile.link = Some("javascript:document.body.dataset.pwned=1".into());
    hostile.enclosures = vec![Enclosure {
        url: "https://news.example/a.mp3".into(),
        media_type: Some("audio/mpeg".into()),
        length: Some(3_000_000),
    }];
    entries.push(hostile);
    store
        .record_document(
            ids[0],
            &FeedMeta::default(),
            &entries,
            &Fetched::plain(&Validators::default()),
            NOW,
        )
        .expect("store entries");
}

/// The server on a loopback port; dropped, it stops.
struct Site {
    base: String,
    runtime: tokio::runtime::Runtime,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for Site {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let runtime = std::mem::replace(
            &mut self.runtime,
            tokio::runtime::Builder::new_current_thread()
                .build()
                .expect("runtime"),
        );
        runtime.shutdown_timeout(Duration::from_secs(5));
    }
}

fn site(dir: &Path) -> Site {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let listener = runtime
        .block_on(server::listener("127.0.0.1:0".parse().expect("addr")))
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let base = format!("http://{addr}/");
    let config = Config::parse(
        Path::new("feeds.toml"),
        &format!(
            "[server]\nbase_url = \"{base}\"\n[[topic]]\nslug = \"news\"\ntitle = \"Tin tức\"\n\
             description = \"Tin Việt Nam và Indonesia\"\n\
             [[source]]\nurl = \"https://news.example/feed.xml\"\ntopics = [\"news\"]\n"
        ),
    )
    .expect("config");
    let store = SqliteStore::open(&dir.join("pages.db")).expect("store");
    fill(&store);
    let clock: tributary::pipeline::Clock = Arc::new(|| NOW);
    let state = AppState::new(Arc::new(store), Arc::new(config), clock);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = {
        let _context = runtime.enter();
        server::serve(listener, server::router(state), async {
            let _ = stopped.await;
        })
        .expect("serve")
    };
    runtime.spawn(serving);
    Site {
        base,
        runtime,
        stop: Some(stop),
    }
}

/// Runs chromium headless with `args` then `url`; its standard output.
fn chromium(profile: &Path, args: &[&str], url: &str) -> String {
    let mut child = Command::new("chromium")
        .args([
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(url)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromium runs (apt-get install chromium)");
    let started = Instant::now();
    loop {
        match child.try_wait().expect("wait for chromium") {
            Some(_) => break,
            None if started.elapsed() > BROWSER_DEADLINE => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("chromium took over {BROWSER_DEADLINE:?} on {url}");
            }
            None => std::thread::sleep(Duration::from_millis(50)),
        }
    }
    let mut out = String::new();
    if let Some(mut stdout) = child.stdout.take() {
        use std::io::Read;
        stdout.read_to_string(&mut out).expect("chromium output");
    }
    out
}

fn dump_dom(profile: &Path, url: &str) -> String {
    let dom = chromium(profile, &["--dump-dom"], url);
    assert!(dom.contains("</html>"), "no document from {url}:\n{dom}");
    dom
}

fn pages_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("target/pages")
}

/// A screenshot of `url` at `width` px into `target/pages/<name>-<width>.png`.
fn screenshot(profile: &Path, name: &str, width: u32, url: &str) -> PathBuf {
    let dir = pages_dir();
    std::fs::create_dir_all(&dir).expect("target/pages");
    let path = dir.join(format!("{name}-{width}.png"));
    let _ = std::fs::remove_file(&path);
    chromium(
        profile,
        &[
            &format!("--screenshot={}", path.display()),
            &format!("--window-size={width},900"),
        ],
        url,
    );
    let png = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(
        png.starts_with(b"\x89PNG\r\n\x1a\n"),
        "{} is a PNG",
        path.display()
    );
    // The width is the big-endian u32 at byte 16 of the IHDR chunk.
    let shot_width = u32::from_be_bytes([png[16], png[17], png[18], png[19]]);
    assert_eq!(shot_width, width, "{}", path.display());
    path
}

/// Text of an element's inner HTML as the browser serialized it: tags dropped, escapes undone.
fn text_of(html: &str) -> String {
    let mut text = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&nbsp;", "\u{a0}")
        .replace("&amp;", "&")
}

/// The titles of the stories on a page, in order.
fn story_titles(dom: &str) -> Vec<String> {
    dom.split("<article")
        .skip(1)
        .filter_map(|article| {
            let h2 = article.split("<h2>").nth(1)?.split("</h2>").next()?;
            Some(text_of(h2))
        })
        .collect()
}

/// The titles of the Atom feed's entries, in order, as a feed reader reads them.
fn atom_titles(base: &str, path: &str) -> Vec<String> {
    use std::io::{Read, Write};
    let addr = base
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    let mut stream = std::net::TcpStream::connect(&addr).expect("connect");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .expect("send");
    let mut response = Vec::new();
    stream.read_to_end(&mut response).expect("read");
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("end of headers");
    let feed = feed_rs::parser::parse(&response[split + 4..]).expect("atom parses");
    feed.entries
        .into_iter()
        .map(|e| e.title.map(|t| t.content).unwrap_or_default())
        .collect()
}

#[test]
#[ignore = "needs chromium: run by .ci/run"]
fn every_page_loads_in_chromium_and_screenshots_at_360_and_1280() {
    let dir = tempfile::tempdir().expect("tempdir");
    let site = site(dir.path());
    let profile = dir.path().join("profile");
    let base = &site.base;
    for (name, path, heading) in [
        ("index", PAGES[0], "<h1>Tributary</h1>"),
        ("river", PAGES[1], "<h1>Tin tức</h1>"),
        ("river-all", PAGES[2], "<h1>All entries</h1>"),
        ("search", PAGES[3], "<h1>Search</h1>"),
        ("sources", PAGES[4], "<h1>Sources</h1>"),
    ] {
        let url = format!("{base}{path}");
        let dom = dump_dom(&profile, &url);
        assert!(dom.contains(heading), "{url}:\n{dom}");
        assert!(dom.contains("<html lang=\"en\">"), "{url}");
        for width in [360, 1280] {
            screenshot(&profile, name, width, &url);
        }
    }
}

#[test]
#[ignore = "needs chromium: run by .ci/run"]
fn river_in_chromium_shows_the_atom_feeds_stories_in_order() {
    let dir = tempfile::tempdir().expect("tempdir");
    let site = site(dir.path());
    let profile = dir.path().join("profile");
    let dom = dump_dom(&profile, &format!("{}topics/news", site.base));
    let river = story_titles(&dom);
    let atom = atom_titles(&site.base, "/topics/news.atom");
    assert_eq!(river.len(), 9, "{dom}");
    assert_eq!(river, atom);
    // Stories carry their language, for hyphenation and fonts.
    assert!(dom.contains("<article class=\"story\" lang=\"vi\">"));
    assert!(dom.contains("<article class=\"story\" lang=\"id\">"));
    // The stylesheet was served and applied: the browser asked for it under the policy.
    assert!(dom.contains("/static/style."));
}

#[test]
#[ignore = "needs chromium: run by .ci/run"]
fn hostile_story_shows_as_text_in_chromium_and_runs_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let site = site(dir.path());
    let profile = dir.path().join("profile");
    for path in ["topics/news", "search?q=hostile", "search?q=mua"] {
        let url = format!("{}{path}", site.base);
        let dom = dump_dom(&profile, &url);
        // Nothing ran: no handler marked the body, no script retitled the page.
        assert!(!dom.contains("data-pwned"), "{url}:\n{dom}");
        assert!(!dom.contains("<title>pwned</title>"), "{url}");
        // The markup is there as text, in the title and the snippet.
        assert!(!dom.contains("<img"), "{url}:\n{dom}");
        assert!(!dom.contains("<script"), "{url}:\n{dom}");
        assert!(!dom.contains("href=\"javascript:"), "{url}");
    }
    let dom = dump_dom(&profile, &format!("{}topics/news", site.base));
    let titles = story_titles(&dom);
    assert!(titles.contains(&HOSTILE_TITLE.to_string()), "{titles:?}");
    assert!(
        dom.contains(
            "&lt;script&gt;document.title='pwned'&lt;/script&gt; Tin &lt;b&gt;mưa&lt;/b&gt;"
        ),
        "{dom}"
    );
    assert!(
        dom.contains("Tuổi Trẻ &lt;b&gt;"),
        "the outlet's name is text"
    );
}

/// A DevTools protocol connection to a headless chromium of its own, killed when dropped.
struct DevTools {
    browser: std::process::Child,
    socket: tungstenite::WebSocket<std::net::TcpStream>,
    next_id: u64,
    /// Events received while waiting for answers, in order.
    events: Vec<serde_json::Value>,
}

impl Drop for DevTools {
    fn drop(&mut self) {
        let _ = self.browser.kill();
        let _ = self.browser.wait();
    }
}

impl DevTools {
    fn launch(profile: &Path) -> DevTools {
        use std::io::BufRead;
        let mut browser = Command::new("chromium")
            .args([
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--hide-scrollbars",
                "--remote-debugging-port=0",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg("about:blank")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("chromium runs (apt-get install chromium)");
        let stderr = browser.stderr.take().expect("piped stderr");
        // "DevTools listening on ws://127.0.0.1:PORT/devtools/browser/ID"
        let (found, listening) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut sent = false;
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                if !sent && let Some(at) = line.find("ws://") {
                    let _ = found.send(line[at..].trim().to_string());
                    sent = true;
                }
            }
        });
        let url = listening
            .recv_timeout(BROWSER_DEADLINE)
            .expect("chromium announces its DevTools address");
        let host = url
            .trim_start_matches("ws://")
            .split('/')
            .next()
            .expect("host")
            .to_string();
        let stream = std::net::TcpStream::connect(&host).expect("connect to DevTools");
        stream
            .set_read_timeout(Some(BROWSER_DEADLINE))
            .expect("read timeout");
        let (socket, _) = tungstenite::client(url.as_str(), stream).expect("DevTools handshake");
        DevTools {
            browser,
            socket,
            next_id: 0,
            events: Vec::new(),
        }
    }

    fn receive(&mut self) -> serde_json::Value {
        loop {
            match self.socket.read().expect("DevTools message") {
                tungstenite::Message::Text(text) => {
                    return serde_json::from_str(text.as_str()).expect("DevTools JSON");
                }
                tungstenite::Message::Close(_) => panic!("DevTools closed the connection"),
                _ => {}
            }
        }
    }

    /// Sends `method` (to the page `session` when given) and returns its result; events that
    /// arrive meanwhile are kept.
    fn call(
        &mut self,
        session: Option<&str>,
        method: &str,
        params: serde_json::Value,
    ) -> serde_json::Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut message = serde_json::json!({"id": id, "method": method, "params": params});
        if let Some(session) = session {
            message["sessionId"] = session.into();
        }
        self.socket
            .send(tungstenite::Message::text(message.to_string()))
            .expect("send to DevTools");
        loop {
            let reply = self.receive();
            if reply["id"] == id {
                assert!(reply.get("error").is_none(), "{method}: {reply}");
                return reply["result"].clone();
            }
            if reply.get("method").is_some() {
                self.events.push(reply);
            }
        }
    }

    /// Waits for the event `method`, keeping every event received.
    fn wait_for(&mut self, method: &str) {
        let started = Instant::now();
        if self.events.iter().any(|e| e["method"] == method) {
            return;
        }
        loop {
            assert!(started.elapsed() < BROWSER_DEADLINE, "no {method}");
            let event = self.receive();
            let done = event["method"] == method;
            if event.get("method").is_some() {
                self.events.push(event);
            }
            if done {
                return;
            }
        }
    }
}

/// What loading one page at one width showed.
struct Visit {
    /// Console errors, exceptions, failed or refused requests, policy violations.
    problems: Vec<String>,
    /// The document's width and the viewport's, in CSS pixels.
    document_width: u64,
    viewport_width: u64,
}

/// Opens `url` in a fresh tab `width` px wide and collects what went wrong.
fn visit(devtools: &mut DevTools, url: &str, width: u32) -> Visit {
    let target = devtools.call(
        None,
        "Target.createTarget",
        serde_json::json!({"url": "about:blank"}),
    );
    let attached = devtools.call(
        None,
        "Target.attachToTarget",
        serde_json::json!({"targetId": target["targetId"], "flatten": true}),
    );
    let session = attached["sessionId"].as_str().expect("session").to_string();
    let session = Some(session.as_str());
    for domain in [
        "Runtime.enable",
        "Log.enable",
        "Network.enable",
        "Page.enable",
    ] {
        devtools.call(session, domain, serde_json::json!({}));
    }
    devtools.call(
        session,
        "Emulation.setDeviceMetricsOverride",
        serde_json::json!({"width": width, "height": 800, "deviceScaleFactor": 1, "mobile": width < 600}),
    );
    devtools.events.clear();
    devtools.call(session, "Page.navigate", serde_json::json!({"url": url}));
    devtools.wait_for("Page.loadEventFired");
    let measured = devtools.call(
        session,
        "Runtime.evaluate",
        serde_json::json!({
            "expression": "[document.documentElement.scrollWidth, window.innerWidth]",
            "returnByValue": true
        }),
    );
    let widths = &measured["result"]["value"];
    let document_width = widths[0].as_u64().expect("scrollWidth");
    let viewport_width = widths[1].as_u64().expect("innerWidth");
    let mut problems = Vec::new();
    for event in &devtools.events {
        let params = &event["params"];
        match event["method"].as_str().unwrap_or("") {
            "Runtime.consoleAPICalled"
                if params["type"] == "error" || params["type"] == "warning" =>
            {
                problems.push(format!("console: {}", params["args"]));
            }
            "Runtime.exceptionThrown" => problems.push(format!("exception: {params}")),
            "Log.entryAdded"
                if params["entry"]["level"] == "error" || params["entry"]["level"] == "warning" =>
            {
                problems.push(format!("log: {}", params["entry"]["text"]));
            }
            "Network.loadingFailed" => problems.push(format!("failed request: {params}")),
            "Network.responseReceived"
                if params["response"]["status"].as_u64().unwrap_or(0) >= 400 =>
            {
                problems.push(format!(
                    "HTTP {} for {}",
                    params["response"]["status"], params["response"]["url"]
                ));
            }
            _ => {}
        }
    }
    devtools.call(
        None,
        "Target.closeTarget",
        serde_json::json!({"targetId": target["targetId"]}),
    );
    Visit {
        problems,
        document_width,
        viewport_width,
    }
}

#[test]
#[ignore = "needs chromium: run by .ci/run"]
fn pages_fit_360_and_1280_px_with_no_console_errors_or_failed_requests() {
    let dir = tempfile::tempdir().expect("tempdir");
    let site = site(dir.path());
    let mut devtools = DevTools::launch(&dir.path().join("devtools-profile"));
    for path in PAGES {
        for width in [360, 1280] {
            let url = format!("{}{path}", site.base);
            let visit = visit(&mut devtools, &url, width);
            assert!(
                visit.problems.is_empty(),
                "{url} at {width} px: {:#?}",
                visit.problems
            );
            // A mobile viewport grows to a document wider than the screen, so both are checked
            // against the width asked for.
            assert!(
                visit.document_width <= u64::from(width)
                    && visit.viewport_width == u64::from(width),
                "{url} at {width} px is {} px wide (viewport {} px): it scrolls sideways",
                visit.document_width,
                visit.viewport_width
            );
        }
    }
}
