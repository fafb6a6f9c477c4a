//! The whole path: a local fixture server → `tributary fetch` (the real binary) → SQLite → every
//! topic served by the real router in Atom, RSS and JSON Feed.

mod common;

use std::path::Path;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use tower::ServiceExt;

use common::{FixtureServer, fetch, standard_sources, tributary};
use tributary::config::Config;
use tributary::server::{AppState, router};
use tributary::store::{SqliteStore, Store};

const BASE: &str = "http://feeds.test/";

fn app(config_path: &Path) -> axum::Router {
    let config = Config::load(config_path).expect("config");
    let store = SqliteStore::open(&config.storage.path).expect("store");
    router(AppState::new(
        Arc::new(store),
        Arc::new(config),
        Arc::new(|| chrono::Utc::now().timestamp()),
    ))
}

struct Got {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: Vec<u8>,
}

async fn get(app: &axum::Router, uri: &str, headers: &[(header::HeaderName, &str)]) -> Got {
    let mut req = Request::builder().uri(uri);
    for (name, value) in headers {
        req = req.header(name, *value);
    }
    let response = app
        .clone()
        .oneshot(req.body(Body::empty()).expect("request"))
        .await
        .expect("response");
    let status = response.status();
    let headers = response.headers().clone();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes()
        .to_vec();
    Got {
        status,
        headers,
        body,
    }
}

/// A line of `fetch` output for `url`: (outcome, new, updated, unchanged).
fn line_for<'a>(stdout: &'a str, url: &str) -> (&'a str, usize, usize, usize) {
    let line = stdout
        .lines()
        .find(|l| l.starts_with(&format!("{url} ")))
        .unwrap_or_else(|| panic!("no line for {url} in:\n{stdout}"));
    let fields: Vec<&str> = line.split(' ').collect();
    let count = |key: &str| -> usize {
        fields
            .iter()
            .find_map(|f| f.strip_prefix(key))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {key} in {line}"))
    };
    (
        fields[1],
        count("new="),
        count("updated="),
        count("unchanged="),
    )
}

/// Expected entry ids of each topic, newest first. "Market moves to Saturday" has no date, so it
/// takes its first-seen time (now) and leads every topic it is in.
fn expected(server: &FixtureServer) -> Vec<(&'static str, Vec<String>)> {
    let market = "https://gazette.example.org/2026/11/market".to_string();
    let bridge = "https://gazette.example.org/2026/11/bridge".to_string();
    let vn = |n: &str| -> String {
        match n {
            "1" => "https://baomau.example.vn/thoi-su/ha-noi-khoi-cong-duong-sat-123.html".into(),
            "2" => "https://baomau.example.vn/kinh-doanh/gia-xang-giam-124.html".into(),
            _ => "https://baomau.example.vn/the-thao/doi-tuyen-thang-125.html".into(),
        }
    };
    let s = |x: &str| x.to_string();
    let _ = server;
    vec![
        (
            "tech",
            vec![
                s("tag:atom.example.net,2026:rust-sqlite"),
                s("eng-1003"),
                s("https://json.example.org/2026/11/json-first"),
                s("eng-1002"),
                s("tag:atom.example.net,2026:feed-notes"),
                s("eng-1001"),
                s("json-2"),
            ],
        ),
        ("vietnam", vec![vn("1"), vn("2"), vn("3")]),
        ("local", vec![market.clone(), bridge.clone()]),
        (
            "all",
            vec![
                market,
                s("tag:atom.example.net,2026:rust-sqlite"),
                vn("1"),
                vn("2"),
                vn("3"),
                s("eng-1003"),
                s("https://json.example.org/2026/11/json-first"),
                bridge,
                s("eng-1002"),
                s("tag:atom.example.net,2026:feed-notes"),
                s("eng-1001"),
                s("json-2"),
            ],
        ),
    ]
}

/// Which fixture each entry id comes from, for checking attribution.
fn source_of(id: &str) -> &'static str {
    if id.starts_with("eng-") {
        "rss_guid.xml"
    } else if id.starts_with("tag:atom") {
        "atom.xml"
    } else if id.contains("json") {
        "feed.json"
    } else if id.contains("gazette") {
        "rss_noguid.xml"
    } else {
        "vietnamese.xml"
    }
}

fn source_title(fixture: &str) -> &'static str {
    match fixture {
        "rss_guid.xml" => "Example Engineering",
        "atom.xml" => "Atom Example Blog",
        "feed.json" => "JSON Example",
        "rss_noguid.xml" => "Small Town Gazette",
        _ => "Báo Mẫu — Tin mới nhất",
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetch_twice_then_serve_every_topic_in_every_format() {
    let server = FixtureServer::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = common::write_config(dir.path(), BASE, &server, "", &standard_sources());

    // First poll: everything is new.
    let (code, stdout, stderr) = fetch(&config, &[]).await;
    assert_eq!(code, 0, "stdout:\n{stdout}\nstderr:\n{stderr}");
    let news = [
        ("rss_guid.xml", 3),
        ("atom.xml", 2),
        ("feed.json", 2),
        ("rss_noguid.xml", 2),
        ("vietnamese.xml", 3),
    ];
    for (name, n) in news {
        assert_eq!(
            line_for(&stdout, &server.url(name)),
            ("ok", n, 0, 0),
            "{name}"
        );
    }
    assert!(
        stdout
            .lines()
            .last()
            .unwrap_or("")
            .starts_with("total: 5 sources, 5 ok, 0 not-modified, 0 failed, new=12"),
        "{stdout}"
    );

    // Second poll: conditional GET with the stored ETag, every source answers 304.
    let (code, stdout, _) = fetch(&config, &[]).await;
    assert_eq!(code, 0);
    for (name, _) in news {
        assert_eq!(
            line_for(&stdout, &server.url(name)).0,
            "not-modified",
            "{name}"
        );
        assert_eq!(
            server.conditional_hits(name),
            1,
            "{name} got If-None-Match once"
        );
    }

    let app = app(&config);
    for (topic, ids) in expected(&server) {
        // Atom
        let got = get(&app, &format!("/topics/{topic}.atom"), &[]).await;
        assert_eq!(got.status, StatusCode::OK, "{topic}.atom");
        assert_eq!(
            got.headers[header::CONTENT_TYPE],
            "application/atom+xml; charset=utf-8"
        );
        let feed = atom_syndication::Feed::read_from(&got.body[..]).expect("our Atom parses");
        let got_ids: Vec<&str> = feed.entries.iter().map(|e| e.id.as_str()).collect();
        // Atom ids must be absolute IRIs: a relative guid becomes a fragment of its feed's URL.
        let atom_ids: Vec<String> = ids
            .iter()
            .map(|id| {
                if id.contains(':') {
                    id.clone()
                } else {
                    format!("{}#{id}", server.url(source_of(id)))
                }
            })
            .collect();
        assert_eq!(got_ids, atom_ids, "{topic}.atom entries and order");
        let self_link = feed
            .links
            .iter()
            .find(|l| l.rel == "self")
            .expect("self link");
        assert_eq!(self_link.href, format!("{BASE}topics/{topic}.atom"));
        for entry in &feed.entries {
            let source = entry
                .source
                .as_ref()
                .expect("every entry credits its source");
            let fixture = source_of(entry.id.rsplit('#').next().unwrap_or(&entry.id));
            assert_eq!(source.title.value, source_title(fixture), "{}", entry.id);
            assert!(
                source
                    .links
                    .iter()
                    .any(|l| l.rel == "self" && l.href == server.url(fixture)),
                "{}",
                entry.id
            );
            assert!(!entry.authors.is_empty(), "Atom entries need an author");
        }

        // RSS
        let got = get(&app, &format!("/topics/{topic}.rss"), &[]).await;
        assert_eq!(got.status, StatusCode::OK);
        assert_eq!(
            got.headers[header::CONTENT_TYPE],
            "application/rss+xml; charset=utf-8"
        );
        let channel = rss::Channel::read_from(&got.body[..]).expect("our RSS parses");
        let got_ids: Vec<&str> = channel
            .items
            .iter()
            .map(|i| i.guid.as_ref().map_or("", |g| g.value.as_str()))
            .collect();
        assert_eq!(got_ids, ids, "{topic}.rss entries and order");
        let atom_self = channel
            .atom_ext
            .as_ref()
            .and_then(|a| a.links.iter().find(|l| l.rel == "self"))
            .expect("atom:link self");
        assert_eq!(atom_self.href, format!("{BASE}topics/{topic}.rss"));
        for item in &channel.items {
            let id = item.guid.as_ref().map_or("", |g| g.value.as_str());
            let source = item.source.as_ref().expect("every item has <source>");
            assert_eq!(source.url, server.url(source_of(id)));
            assert_eq!(source.title.as_deref(), Some(source_title(source_of(id))));
        }

        // JSON Feed
        let got = get(&app, &format!("/topics/{topic}.json"), &[]).await;
        assert_eq!(got.status, StatusCode::OK);
        assert_eq!(
            got.headers[header::CONTENT_TYPE],
            "application/feed+json; charset=utf-8"
        );
        let json: serde_json::Value = serde_json::from_slice(&got.body).expect("our JSON parses");
        assert_eq!(json["version"], "https://jsonfeed.org/version/1.1");
        assert_eq!(json["feed_url"], format!("{BASE}topics/{topic}.json"));
        let items = json["items"].as_array().expect("items");
        let got_ids: Vec<&str> = items
            .iter()
            .map(|i| i["id"].as_str().unwrap_or(""))
            .collect();
        assert_eq!(got_ids, ids, "{topic}.json entries and order");
        for item in items {
            let id = item["id"].as_str().unwrap_or("");
            assert_eq!(
                item["_tributary"]["source"]["feed_url"],
                server.url(source_of(id))
            );
            assert_eq!(
                item["_tributary"]["source"]["title"],
                source_title(source_of(id))
            );
            assert!(item["content_html"].is_string() || item["content_text"].is_string());
        }

        // A conditional re-request is answered 304, by ETag and by date.
        let etag = got.headers[header::ETAG]
            .to_str()
            .expect("etag")
            .to_string();
        let last_modified = got.headers[header::LAST_MODIFIED]
            .to_str()
            .expect("last-modified")
            .to_string();
        let again = get(
            &app,
            &format!("/topics/{topic}.json"),
            &[(header::IF_NONE_MATCH, &etag)],
        )
        .await;
        assert_eq!(again.status, StatusCode::NOT_MODIFIED);
        assert!(again.body.is_empty());
        assert_eq!(again.headers[header::ETAG], etag.as_str());
        let again = get(
            &app,
            &format!("/topics/{topic}.json"),
            &[(header::IF_MODIFIED_SINCE, &last_modified)],
        )
        .await;
        assert_eq!(again.status, StatusCode::NOT_MODIFIED);
    }

    // Diacritics survive the round trip, and the +0700 date is read as UTC+7.
    let vn = get(&app, "/topics/vietnam.json", &[]).await;
    let json: serde_json::Value = serde_json::from_slice(&vn.body).expect("json");
    assert_eq!(json["title"], "Tin Việt Nam");
    assert_eq!(
        json["items"][0]["title"],
        "Hà Nội khởi công tuyến đường sắt đô thị mới"
    );
    assert_eq!(
        json["items"][0]["date_published"],
        "2026-11-19T01:05:00+00:00"
    );
    assert_eq!(json["language"], "vi");
    // Relative URLs in content are made absolute against the document's URL.
    let html = json["items"][0]["content_html"].as_str().expect("content");
    assert!(html.contains("src=\"http://"), "{html}");
    assert!(!html.contains("src=\"/anh"), "{html}");

    // Sanitized: no active content survives into the output.
    let tech = String::from_utf8(get(&app, "/topics/tech.atom", &[]).await.body).expect("utf-8");
    for bad in [
        "<script",
        "&lt;script",
        "onclick",
        "javascript:",
        "<iframe",
        "&lt;iframe",
        "onerror",
        "data:text",
        "&lt;form",
        "&lt;style",
    ] {
        assert!(!tech.contains(bad), "{bad} in output");
    }
    // Relative URLs resolve against the URL the document was fetched from (RFC 3986 §5.1.3).
    let docs_link = server.url("docs/build");
    assert!(
        tech.contains(&docs_link),
        "relative link made absolute: {docs_link}"
    );
    assert!(
        // The Atom fixture's xml:base says where its relative URLs point.
        tech.contains("https://atom.example.net/blog/img/diagram.png"),
        "relative image made absolute"
    );
    // Atom content of type xhtml is kept as markup, not escaped into text.
    assert!(
        tech.contains("Feeds are &lt;strong&gt;documents&lt;/strong&gt;"),
        "{tech}"
    );
    // An Atom title of type html is republished as plain text.
    assert!(tech.contains("<title>Rust &amp; SQLite</title>"), "{tech}");
    // Authors: the entry's own, else the feed's (RFC 4287 §4.2.1), else the source's title.
    let feed = atom_syndication::Feed::read_from(tech.as_bytes()).expect("atom");
    let author_of = |id: &str| -> String {
        let entry = feed
            .entries
            .iter()
            .find(|e| e.id.ends_with(id))
            .expect("entry");
        entry
            .authors
            .iter()
            .map(|a| a.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    assert_eq!(author_of("eng-1003"), "Ana Lima");
    assert_eq!(
        author_of("tag:atom.example.net,2026:rust-sqlite"),
        "Chen Wei"
    );
    assert_eq!(author_of("eng-1002"), "Example Engineering");

    // Unknown topics and formats are 404 with a one-line message.
    let missing = get(&app, "/topics/nope.atom", &[]).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(
        String::from_utf8_lossy(&missing.body),
        "unknown topic: nope\n"
    );
    assert_eq!(
        get(&app, "/topics/tech.xml", &[]).await.status,
        StatusCode::NOT_FOUND
    );

    // The index lists every topic in every format.
    let index = String::from_utf8(get(&app, "/", &[]).await.body).expect("utf-8");
    for topic in ["all", "tech", "vietnam", "local"] {
        for ext in ["atom", "rss", "json"] {
            assert!(
                index.contains(&format!("href=\"{BASE}topics/{topic}.{ext}\"")),
                "{topic}.{ext}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changed_entry_is_updated_in_place_and_limit_is_honoured() {
    let server = FixtureServer::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = common::write_config(
        dir.path(),
        BASE,
        &server,
        "",
        &[("rss_guid.xml", &["tech"])],
    );
    let (code, _, _) = fetch(&config, &[]).await;
    assert_eq!(code, 0);

    let original = String::from_utf8(common::fixture("rss_guid.xml")).expect("utf-8");
    let changed = original.replace(
        "Postmortem: the cache stampede",
        "Postmortem: the cache stampede (updated)",
    );
    server.set(
        "rss_guid.xml",
        200,
        "application/rss+xml",
        changed.into_bytes(),
    );
    let (code, stdout, _) = fetch(&config, &[]).await;
    assert_eq!(code, 0);
    assert_eq!(
        line_for(&stdout, &server.url("rss_guid.xml")),
        ("ok", 0, 1, 2)
    );

    let app = app(&config);
    let json: serde_json::Value =
        serde_json::from_slice(&get(&app, "/topics/all.json", &[]).await.body).expect("json");
    let titles: Vec<&str> = json["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["title"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(
        titles,
        [
            "Shipping the new build system",
            "Postmortem: the cache stampede (updated)",
            "Hello from the team"
        ]
    );
    let updated = json["items"][1]["date_modified"]
        .as_str()
        .expect("date_modified");
    assert!(
        updated > "2026-11-16T14:00:00+00:00",
        "updated time moved: {updated}"
    );

    let limited = get(&app, "/topics/all.atom?limit=2", &[]).await;
    let feed = atom_syndication::Feed::read_from(&limited.body[..]).expect("atom");
    assert_eq!(feed.entries.len(), 2);
    assert_eq!(
        feed.links
            .iter()
            .find(|l| l.rel == "self")
            .map(|l| l.href.as_str()),
        Some("http://feeds.test/topics/all.atom?limit=2")
    );
    assert_eq!(
        get(&app, "/topics/all.atom?limit=abc", &[]).await.status,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_sources_are_reported_and_never_stop_the_others() {
    let server = FixtureServer::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    // A listener that is closed again: connecting to it is refused.
    let refused = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr")
    };
    server.set("gone.xml", 404, "text/plain", b"not here".to_vec());
    let mut huge =
        b"<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>big</title>".to_vec();
    while huge.len() < 200 * 1024 {
        huge.extend_from_slice(b"<item><title>padding padding padding</title></item>");
    }
    huge.extend_from_slice(b"</channel></rss>");
    server.set("huge.xml", 200, "application/rss+xml", huge);
    let mut config_text = {
        let path = common::write_config(
            dir.path(),
            BASE,
            &server,
            "max_body = \"64KiB\"",
            &[
                ("vietnamese.xml", &["vietnam"]),
                ("gone.xml", &["tech"]),
                ("not_a_feed.html", &["tech"]),
                ("broken.xml", &["tech"]),
                ("huge.xml", &["tech"]),
            ],
        );
        std::fs::read_to_string(path).expect("config")
    };
    config_text.push_str(&format!(
        "[[source]]\nurl = \"http://{refused}/feed.xml\"\ntopics = [\"tech\"]\n"
    ));
    let config = dir.path().join("feeds.toml");
    std::fs::write(&config, config_text).expect("write");

    let (code, stdout, _) = fetch(&config, &[]).await;
    assert_eq!(code, 1, "any failure makes fetch exit 1:\n{stdout}");
    assert_eq!(
        line_for(&stdout, &server.url("vietnamese.xml")),
        ("ok", 3, 0, 0)
    );
    let error_of = |url: &str| -> String {
        let line = stdout
            .lines()
            .find(|l| l.starts_with(&format!("{url} ")))
            .expect("line");
        assert!(line.contains(" failed "), "{line}");
        line.split_once("error: ")
            .map(|(_, e)| e.to_string())
            .expect("error text")
    };
    assert_eq!(error_of(&server.url("gone.xml")), "HTTP 404");
    assert_eq!(
        error_of(&server.url("not_a_feed.html")),
        format!(
            "not a feed: HTML page (it advertises a feed at {}; use that URL)",
            server.url("feed.xml")
        )
    );
    assert!(
        error_of(&server.url("broken.xml")).starts_with("not a feed: "),
        "{stdout}"
    );
    assert_eq!(
        error_of(&server.url("huge.xml")),
        "response larger than 64 KiB"
    );
    assert!(
        error_of(&format!("http://{refused}/feed.xml")).starts_with("connection failed"),
        "{stdout}"
    );
    assert!(
        stdout.contains("total: 6 sources, 1 ok, 0 not-modified, 5 failed"),
        "{stdout}"
    );

    // The errors are recorded on the source rows.
    let store = SqliteStore::open(&dir.path().join("tributary.db")).expect("store");
    let states = store.source_states().expect("states");
    let gone = states
        .iter()
        .find(|s| s.url == server.url("gone.xml"))
        .expect("gone row");
    assert_eq!(gone.last_error.as_deref(), Some("HTTP 404"));
    assert_eq!(gone.last_status, Some(404));
    assert_eq!(gone.consecutive_failures, 1);

    // A source that breaks later keeps the entries it had.
    server.set(
        "vietnamese.xml",
        200,
        "application/rss+xml",
        common::fixture("broken.xml"),
    );
    let (code, stdout, _) = fetch(&config, &["--source", &server.url("vietnamese.xml")]).await;
    assert_eq!(code, 1);
    assert_eq!(
        stdout.lines().count(),
        2,
        "only the named source, then the total:\n{stdout}"
    );
    let app = app(&config);
    let feed =
        atom_syndication::Feed::read_from(&get(&app, "/topics/vietnam.atom", &[]).await.body[..])
            .expect("atom");
    assert_eq!(feed.entries.len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_reports_config_errors_with_line_and_column() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("feeds.toml");
    std::fs::write(&path, "[fetch]\ninterval = \"30m\"\n\n[[source]]\nurl = \"https://a.example/feed\"\ntopics = [\"nope\"]\n").expect("write");
    let (code, stdout, stderr) = tributary(&path, &["check"]);
    assert_eq!(code, 1, "{stdout}");
    assert_eq!(
        stderr.trim(),
        format!(
            "{}:6:11: source.topics: unknown topic \"nope\" (declare it with [[topic]] slug = \"nope\")",
            path.display()
        )
    );
    std::fs::write(&path, "[[topic]]\nslug = \"ok\"\ntitle = \"OK\"\n").expect("write");
    let (code, stdout, _) = tributary(&path, &["check"]);
    assert_eq!(code, 0);
    assert!(stdout.contains("ok (0 sources, 1 topics)"), "{stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_variables_are_ignored_and_status_shows_each_source() {
    let server = FixtureServer::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    server.set("gone.xml", 404, "text/plain", b"not here".to_vec());
    let config = common::write_config(
        dir.path(),
        BASE,
        &server,
        "",
        &[("rss_guid.xml", &["tech"]), ("gone.xml", &["tech"])],
    );
    // A proxy that does not exist: honouring it would make every fetch fail.
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr");
    let config_path = config.clone();
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_tributary"))
            .arg("--config")
            .arg(&config_path)
            .arg("fetch")
            .env("RUST_LOG", "warn")
            .env("http_proxy", format!("http://{dead}"))
            .env("HTTP_PROXY", format!("http://{dead}"))
            .env("ALL_PROXY", format!("http://{dead}"))
            .env("https_proxy", format!("http://{dead}"))
            .output()
            .expect("run")
    })
    .await
    .expect("join");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        line_for(&stdout, &server.url("rss_guid.xml")),
        ("ok", 3, 0, 0),
        "{stdout}"
    );

    let (code, table, _) = tributary(&config, &["status"]);
    assert_eq!(code, 0);
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[0].starts_with("URL"), "{table}");
    let ok_row = lines
        .iter()
        .find(|l| l.starts_with(&server.url("rss_guid.xml")))
        .expect("row");
    assert!(
        ok_row.contains(" ok ") && ok_row.contains(" 200 "),
        "{ok_row}"
    );
    let gone_row = lines
        .iter()
        .find(|l| l.starts_with(&server.url("gone.xml")))
        .expect("row");
    assert!(
        gone_row.contains(" failing ") && gone_row.ends_with("HTTP 404"),
        "{gone_row}"
    );

    let (code, json, _) = tributary(&config, &["status", "--json"]);
    assert_eq!(code, 0);
    let rows: Vec<serde_json::Value> = json
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    assert_eq!(rows.len(), 2);
    let gone = rows
        .iter()
        .find(|r| r["url"] == server.url("gone.xml"))
        .expect("gone");
    assert_eq!(gone["state"], "failing");
    assert_eq!(gone["failures"], 1);
    assert_eq!(gone["failure_class"], "http-4xx");
    assert_eq!(gone["last_status"], 404);
    assert!(gone["next_due"].is_string());

    let (code, pruned, _) = tributary(&config, &["prune"]);
    assert_eq!(code, 0);
    assert_eq!(pruned.trim(), "pruned 0 stories, 0 sightings");
}

/// An RSS document of five stories at stable links whose guids carry `round`.
fn churning_feed(round: usize) -> Vec<u8> {
    let items: String = (1..=5)
        .map(|i| {
            format!(
                "<item><title>Story {i}</title><link>https://churn.example/story/{i}</link>\
                 <guid isPermaLink=\"false\">r{round}-{i}</guid>\
                 <pubDate>Mon, 16 Nov 2026 0{i}:00:00 GMT</pubDate>\
                 <description>Body of story {i}.</description></item>"
            )
        })
        .collect();
    format!(
        "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>Churn</title>\
         <link>https://churn.example/</link><description>d</description>{items}</channel></rss>"
    )
    .into_bytes()
}

/// Ids of every stored story, as the `all` topic publishes them.
async fn stored_ids(config: &Path) -> Vec<String> {
    let app = app(config);
    let json: serde_json::Value =
        serde_json::from_slice(&get(&app, "/topics/all.json?limit=500", &[]).await.body)
            .expect("json");
    json["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["url"].as_str().unwrap_or("").to_string())
        .collect()
}

/// Regression: guids that change on every fetch while links stay switched the source to link
/// identity, but the stories stored under guid keys were not re-keyed, so the third fetch stored
/// all five again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guid_churn_duplicates_once() {
    let server = FixtureServer::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = common::write_config(dir.path(), BASE, &server, "", &[("churn.xml", &["tech"])]);
    let url = server.url("churn.xml");
    let links: Vec<String> = (1..=5)
        .rev()
        .map(|i| format!("https://churn.example/story/{i}"))
        .collect();
    for round in 1..=5 {
        server.set(
            "churn.xml",
            200,
            "application/rss+xml",
            churning_feed(round),
        );
        let (code, stdout, _) = fetch(&config, &[]).await;
        assert_eq!(code, 0, "{stdout}");
        let expected_new = if round == 1 { 5 } else { 0 };
        assert_eq!(
            line_for(&stdout, &url),
            ("ok", expected_new, 0, 5 - expected_new),
            "fetch {round}"
        );
        assert_eq!(stored_ids(&config).await, links, "after fetch {round}");
    }
    let (_, json, _) = tributary(&config, &["status", "--json"]);
    assert!(json.contains("\"identity\":\"link\""), "{json}");
}

/// Changing `identity =` on a source re-keys what it stored: no story appears twice, whichever
/// way the switch goes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_identity_switch_in_feeds_toml_rekeys_stored_stories() {
    let server = FixtureServer::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = common::write_config(dir.path(), BASE, &server, "", &[("stable.xml", &["tech"])]);
    server.set("stable.xml", 200, "application/rss+xml", churning_feed(1));
    let url = server.url("stable.xml");
    let (code, stdout, _) = fetch(&config, &[]).await;
    assert_eq!((code, line_for(&stdout, &url)), (0, ("ok", 5, 0, 0)));
    let original = std::fs::read_to_string(&config).expect("config");
    for identity in ["link", "content", "guid", "content", "link"] {
        std::fs::write(
            &config,
            original.replace(
                "topics = [\"tech\"]\n",
                &format!("topics = [\"tech\"]\nidentity = \"{identity}\"\n"),
            ),
        )
        .expect("write config");
        // Only a changed body is parsed again; a new item makes it change.
        let mut body = String::from_utf8(churning_feed(1)).expect("utf-8");
        body = body.replace(
            "<title>Churn</title>",
            &format!("<title>Churn {identity}</title>"),
        );
        server.set("stable.xml", 200, "application/rss+xml", body.into_bytes());
        let (code, stdout, _) = fetch(&config, &[]).await;
        assert_eq!(code, 0, "{stdout}");
        assert_eq!(
            line_for(&stdout, &url),
            ("ok", 0, 0, 5),
            "after switching to {identity}"
        );
        assert_eq!(
            stored_ids(&config).await.len(),
            5,
            "after switching to {identity}"
        );
    }
}
