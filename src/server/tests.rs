use super::*;
use crate::model::{FeedMeta, NewEntry, Validators};
use crate::store::SqliteStore;
use crate::store::{Fetched, SourceSpec};
use axum::body::Body;
use axum::http::{HeaderMap, Request};
use http_body_util::BodyExt;
use tower::ServiceExt;

const CONFIG: &str =
    "[server]\nbase_url = \"http://h.test/\"\n[[topic]]\nslug = \"news\"\ntitle = \"News\"\n";

fn state() -> (AppState, Arc<SqliteStore>) {
    state_from(CONFIG)
}

fn state_from(text: &str) -> (AppState, Arc<SqliteStore>) {
    let config = Config::parse(std::path::Path::new("feeds.toml"), text).expect("config");
    let store = Arc::new(SqliteStore::open_in_memory().expect("store"));
    (
        AppState::new(store.clone(), Arc::new(config), Arc::new(|| 1_800_000_000)),
        store,
    )
}

fn add_entry(store: &SqliteStore, title: &str) {
    add_entry_at(store, title, 1_700_000_000);
}

fn add_entry_at(store: &SqliteStore, title: &str, published: i64) {
    let ids = store
        .sync_sources(&[SourceSpec {
            url: "https://a.example/feed".into(),
            title: None,
            topics: vec![TopicSlug::new("news").expect("slug")],
        }])
        .expect("sync");
    let entry = NewEntry {
        topics: vec![TopicSlug::all(), TopicSlug::new("news").expect("slug")],
        search_text: crate::text::search_text(title, None, None),
        ..NewEntry::bare(title, title, published)
    };
    store
        .record_document(
            ids[0],
            &FeedMeta::default(),
            &[entry],
            &Fetched::plain(&Validators::default()),
            1_700_000_100,
        )
        .expect("store");
}

async fn send(
    state: &AppState,
    method: &str,
    uri: &str,
    headers: &[(&str, &str)],
) -> (StatusCode, HeaderMap, Vec<u8>) {
    let mut req = Request::builder().method(method).uri(uri);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let res = router(state.clone())
        .oneshot(req.body(Body::empty()).expect("req"))
        .await
        .expect("res");
    let status = res.status();
    let headers = res.headers().clone();
    let body = res
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes()
        .to_vec();
    (status, headers, body)
}

#[tokio::test]
async fn unknown_topic_is_a_one_line_404() {
    let (state, _) = state();
    let (status, _, body) = send(&state, "GET", "/topics/sport.rss", &[]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body, b"unknown topic: sport\n");
    let (status, _, _) = send(&state, "GET", "/nowhere", &[]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn etag_follows_content_and_304_answers_a_match() {
    let (state, store) = state();
    add_entry(&store, "first");
    let (status, headers, body) = send(&state, "GET", "/topics/news.atom", &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(String::from_utf8_lossy(&body).contains("first"));
    let etag = headers[header::ETAG].to_str().expect("etag").to_string();
    assert!(
        etag.starts_with('"') && etag.ends_with('"'),
        "strong ETag: {etag}"
    );
    assert_eq!(
        headers[header::LAST_MODIFIED],
        "Tue, 14 Nov 2023 22:15:00 GMT"
    );
    assert_eq!(headers[header::CACHE_CONTROL], "public, max-age=60");
    assert_eq!(headers[header::VARY], "accept-encoding");

    let (status, headers304, body) = send(
        &state,
        "GET",
        "/topics/news.atom",
        &[("if-none-match", &etag)],
    )
    .await;
    assert_eq!(status, StatusCode::NOT_MODIFIED);
    assert!(body.is_empty());
    assert_eq!(headers304[header::ETAG], etag.as_str());
    let (status, _, _) = send(
        &state,
        "GET",
        "/topics/news.atom",
        &[("if-none-match", "W/\"other\", *")],
    )
    .await;
    assert_eq!(
        status,
        StatusCode::NOT_MODIFIED,
        "* matches any current representation"
    );

    add_entry(&store, "second");
    let (status, headers, body) = send(
        &state,
        "GET",
        "/topics/news.atom",
        &[("if-none-match", &etag)],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "a new entry changes the page");
    assert_ne!(headers[header::ETAG].to_str().expect("etag"), etag);
    assert!(String::from_utf8_lossy(&body).contains("second"));
}

#[tokio::test]
async fn if_modified_since_is_honoured_when_there_is_no_etag() {
    let (state, store) = state();
    add_entry(&store, "first");
    let (status, _, _) = send(
        &state,
        "GET",
        "/topics/news.rss",
        &[("if-modified-since", "Tue, 14 Nov 2023 22:15:00 GMT")],
    )
    .await;
    assert_eq!(status, StatusCode::NOT_MODIFIED);
    let (status, _, _) = send(
        &state,
        "GET",
        "/topics/news.rss",
        &[("if-modified-since", "Tue, 14 Nov 2023 22:14:59 GMT")],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn head_has_headers_and_no_body() {
    let (state, store) = state();
    add_entry(&store, "first");
    let (status, headers, body) = send(&state, "HEAD", "/topics/all.json", &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        headers[header::CONTENT_TYPE],
        "application/feed+json; charset=utf-8"
    );
    assert!(headers.contains_key(header::ETAG));
    assert!(body.is_empty());
}

#[tokio::test]
async fn limit_is_capped_and_validated() {
    let (state, store) = state();
    add_entry(&store, "first");
    let (status, _, body) = send(&state, "GET", "/topics/news.json?limit=100000", &[]).await;
    assert_eq!(status, StatusCode::OK);
    let json: serde_json::Value = serde_json::from_slice(&body).expect("json");
    assert_eq!(
        json["feed_url"],
        format!("http://h.test/topics/news.json?limit={MAX_LIMIT}")
    );
    let (status, _, body) = send(&state, "GET", "/topics/news.json?limit=0", &[]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body, b"invalid limit \"0\": expected 1 to 500\n");
}

#[tokio::test]
async fn index_lists_topics_with_counts() {
    let (state, store) = state();
    add_entry(&store, "first");
    let (status, headers, body) = send(&state, "GET", "/", &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        headers[header::CONTENT_TYPE]
            .to_str()
            .expect("ct")
            .starts_with("text/html")
    );
    let html = String::from_utf8(body).expect("utf-8");
    assert!(html.contains("<h2>News</h2>"));
    assert!(html.contains("1 entries"));
    assert!(html.contains("href=\"http://h.test/topics/news.rss\""));
}

#[tokio::test]
async fn an_id_appears_once_per_document() {
    let (state, store) = state();
    let ids = store
        .sync_sources(&[
            SourceSpec {
                url: "https://a.example/feed".into(),
                title: None,
                topics: vec![],
            },
            SourceSpec {
                url: "https://b.example/feed".into(),
                title: None,
                topics: vec![],
            },
        ])
        .expect("sync");
    for id in ids {
        let entry = NewEntry::bare("https://pub.example/story", "Story", 1_700_000_000);
        store
            .record_document(
                id,
                &FeedMeta::default(),
                &[entry],
                &Fetched::plain(&Validators::default()),
                1_700_000_100,
            )
            .expect("store");
    }
    let (_, _, body) = send(&state, "GET", "/topics/all.json", &[]).await;
    let json: serde_json::Value = serde_json::from_slice(&body).expect("json");
    assert_eq!(json["items"].as_array().map(Vec::len), Some(1));
}

async fn get_text(state: &AppState, uri: &str) -> (StatusCode, String) {
    let (status, _, body) = send(state, "GET", uri, &[]).await;
    (status, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test]
async fn healthz_is_ok_with_a_live_scheduler_and_503_with_a_stuck_one() {
    let (plain, store) = state();
    assert_eq!(
        get_text(&plain, "/healthz").await,
        (StatusCode::OK, "ok\n".to_string())
    );

    let config =
        Arc::new(Config::parse(std::path::Path::new("feeds.toml"), "[server]\n").expect("config"));
    let observed = |health: crate::systemd::Health| {
        AppState::following(
            store.clone(),
            tokio::sync::watch::channel(config.clone()).1,
            Arc::new(|| 1_800_000_000),
            Observe {
                health: Some(Arc::new(health)),
                metrics: None,
            },
        )
    };
    let live = crate::systemd::Health::default();
    live.beat();
    assert_eq!(
        get_text(&observed(live), "/healthz").await.0,
        StatusCode::OK
    );

    let stuck = crate::systemd::Health::stuck_after(std::time::Duration::from_millis(10));
    tokio::time::sleep(std::time::Duration::from_millis(30)).await;
    let (status, body) = get_text(&observed(stuck), "/healthz").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(body.contains("scheduler made no progress"), "{body}");
}

#[tokio::test]
async fn metrics_lists_source_gauges_and_database_size() {
    let (app, store) = state();
    add_entry(&store, "first");
    let (status, body) = get_text(&app, "/metrics").await;
    assert_eq!(status, StatusCode::OK);
    let node = app.config().cluster.node.clone();
    assert!(
        body.contains(&format!(
            "tributary_source_consecutive_failures{{node=\"{node}\",source=\"https://a.example/feed\"}} 0"
        )),
        "{body}"
    );
    assert!(
        body.contains("# TYPE tributary_database_size_bytes gauge"),
        "{body}"
    );
}

fn header(headers: &HeaderMap, name: header::HeaderName) -> &str {
    headers
        .get(&name)
        .map(|v| v.to_str().expect("ascii"))
        .unwrap_or_default()
}

#[tokio::test]
async fn conditional_get_matrix() {
    let (state, store) = state();
    add_entry(&store, "first");
    let (_, first, _) = send(&state, "GET", "/topics/news.atom", &[]).await;
    let etag = header(&first, header::ETAG).to_string();
    let date = header(&first, header::LAST_MODIFIED).to_string();
    assert_eq!(date, "Tue, 14 Nov 2023 22:15:00 GMT");
    let earlier = "Tue, 14 Nov 2023 22:14:59 GMT";
    type Headers<'a> = &'a [(&'a str, &'a str)];
    let cases: &[(&str, Headers, StatusCode)] = &[
        ("GET", &[], StatusCode::OK),
        ("GET", &[("if-none-match", &etag)], StatusCode::NOT_MODIFIED),
        ("GET", &[("if-none-match", "\"stale\"")], StatusCode::OK),
        (
            "GET",
            &[("if-modified-since", &date)],
            StatusCode::NOT_MODIFIED,
        ),
        ("GET", &[("if-modified-since", earlier)], StatusCode::OK),
        (
            "GET",
            &[("if-none-match", &etag), ("if-modified-since", &date)],
            StatusCode::NOT_MODIFIED,
        ),
        (
            "GET",
            &[("if-none-match", &etag), ("if-modified-since", earlier)],
            StatusCode::NOT_MODIFIED,
        ),
        (
            "GET",
            &[("if-none-match", "\"stale\""), ("if-modified-since", &date)],
            StatusCode::OK,
        ),
        ("HEAD", &[], StatusCode::OK),
        (
            "HEAD",
            &[("if-none-match", &etag)],
            StatusCode::NOT_MODIFIED,
        ),
        (
            "HEAD",
            &[("if-modified-since", &date)],
            StatusCode::NOT_MODIFIED,
        ),
        ("HEAD", &[("if-none-match", "\"stale\"")], StatusCode::OK),
    ];
    for (method, request, expected) in cases {
        let (status, headers, body) = send(&state, method, "/topics/news.atom", request).await;
        assert_eq!(status, *expected, "{method} {request:?}");
        assert_eq!(header(&headers, header::ETAG), etag, "{method} {request:?}");
        assert_eq!(header(&headers, header::LAST_MODIFIED), date);
        assert_eq!(
            header(&headers, header::CACHE_CONTROL),
            "public, max-age=60"
        );
        assert_eq!(header(&headers, header::VARY), "accept-encoding");
        if status == StatusCode::OK && *method == "GET" {
            assert!(String::from_utf8_lossy(&body).contains("first"));
        } else {
            assert!(body.is_empty(), "{method} {request:?}: no body");
        }
    }

    // A change makes the old validators stale.
    add_entry(&store, "second");
    let (status, headers, _) = send(
        &state,
        "GET",
        "/topics/news.atom",
        &[("if-none-match", &etag)],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_ne!(header(&headers, header::ETAG), etag);
}

#[tokio::test]
async fn head_has_the_headers_of_get() {
    let (state, store) = state();
    add_entry(&store, "first");
    for encoding in ["", "gzip", "br"] {
        let request = [("accept-encoding", encoding)];
        let (_, get, body) = send(&state, "GET", "/topics/news.rss", &request).await;
        let (status, head, head_body) = send(&state, "HEAD", "/topics/news.rss", &request).await;
        assert_eq!(status, StatusCode::OK);
        assert!(head_body.is_empty());
        for name in [
            header::CONTENT_TYPE,
            header::CONTENT_ENCODING,
            header::ETAG,
            header::LAST_MODIFIED,
            header::CACHE_CONTROL,
            header::VARY,
        ] {
            assert_eq!(get.get(&name), head.get(&name), "{encoding}: {name}");
        }
        assert!(!body.is_empty());
    }
}

#[tokio::test]
async fn not_modified_does_not_query_the_database() {
    let (state, store) = state();
    add_entry(&store, "first");
    let (_, headers, _) = send(&state, "GET", "/topics/news.json?limit=5", &[]).await;
    let etag = header(&headers, header::ETAG).to_string();
    let reads = store.read_count();
    assert!(reads > 0, "rendering read the store");
    for _ in 0..3 {
        let (status, _, _) = send(
            &state,
            "GET",
            "/topics/news.json?limit=5",
            &[("if-none-match", &etag)],
        )
        .await;
        assert_eq!(status, StatusCode::NOT_MODIFIED);
        let (status, _, _) = send(&state, "GET", "/topics/news.json?limit=5", &[]).await;
        assert_eq!(status, StatusCode::OK);
    }
    assert_eq!(store.read_count(), reads, "answered from memory");
    add_entry(&store, "second");
    let (status, _, _) = send(
        &state,
        "GET",
        "/topics/news.json?limit=5",
        &[("if-none-match", &etag)],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(store.read_count() > reads, "a change is read again");
}

#[tokio::test]
async fn compressed_bodies_have_their_own_etags() {
    use std::io::Read;
    let (state, store) = state();
    add_entry(&store, "first");
    let (_, plain_headers, plain) = send(&state, "GET", "/topics/news.atom", &[]).await;
    let plain_etag = header(&plain_headers, header::ETAG).to_string();
    assert!(plain_headers.get(header::CONTENT_ENCODING).is_none());

    let (status, headers, gz) = send(
        &state,
        "GET",
        "/topics/news.atom",
        &[("accept-encoding", "gzip, deflate")],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(header(&headers, header::CONTENT_ENCODING), "gzip");
    let gz_etag = header(&headers, header::ETAG).to_string();
    assert_eq!(
        gz_etag,
        format!("{}-gz\"", plain_etag.trim_end_matches('"'))
    );
    let mut decoded = Vec::new();
    flate2::read::GzDecoder::new(&gz[..])
        .read_to_end(&mut decoded)
        .expect("gunzip");
    assert_eq!(decoded, plain);

    let (_, headers, br) = send(
        &state,
        "GET",
        "/topics/news.atom",
        &[("accept-encoding", "gzip;q=0.9, br")],
    )
    .await;
    assert_eq!(header(&headers, header::CONTENT_ENCODING), "br");
    assert!(header(&headers, header::ETAG).ends_with("-br\""));
    let mut decoded = Vec::new();
    brotli::Decompressor::new(&br[..], 4096)
        .read_to_end(&mut decoded)
        .expect("unbrotli");
    assert_eq!(decoded, plain);

    let (_, headers, _) = send(
        &state,
        "GET",
        "/topics/news.atom",
        &[("accept-encoding", "br;q=0, gzip;q=0")],
    )
    .await;
    assert!(
        headers.get(header::CONTENT_ENCODING).is_none(),
        "q=0 refuses"
    );

    // A validator of another coding still means the client has the page.
    let (status, headers, _) = send(
        &state,
        "GET",
        "/topics/news.atom",
        &[("accept-encoding", "br"), ("if-none-match", &gz_etag)],
    )
    .await;
    assert_eq!(status, StatusCode::NOT_MODIFIED);
    assert!(header(&headers, header::ETAG).ends_with("-br\""));
}

#[tokio::test]
async fn max_age_comes_from_the_config() {
    let config = Config::parse(
        std::path::Path::new("feeds.toml"),
        "[server]\nbase_url = \"http://h.test/\"\ncache_max_age = 300\n",
    )
    .expect("config");
    let store = Arc::new(SqliteStore::open_in_memory().expect("store"));
    let state = AppState::new(store, Arc::new(config), Arc::new(|| 1_800_000_000));
    let (status, headers, _) = send(&state, "GET", "/topics/all.rss", &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        header(&headers, header::CACHE_CONTROL),
        "public, max-age=300"
    );
}

#[tokio::test]
async fn last_modified_is_never_in_the_future() {
    let (state, store) = state();
    // Stored "later" than the server's clock says it is now.
    let ids = store
        .sync_sources(&[SourceSpec {
            url: "https://a.example/feed".into(),
            title: None,
            topics: vec![],
        }])
        .expect("sync");
    let mut entry = sample_entry("future");
    entry.topics = vec![TopicSlug::all()];
    store
        .record_document(
            ids[0],
            &FeedMeta::default(),
            &[entry],
            &Fetched::plain(&Validators::default()),
            1_900_000_000,
        )
        .expect("store");
    let (_, headers, _) = send(&state, "GET", "/topics/all.atom", &[]).await;
    assert_eq!(
        header(&headers, header::LAST_MODIFIED),
        conditional::http_date(1_800_000_000)
    );
}

fn sample_entry(title: &str) -> NewEntry {
    NewEntry {
        topics: vec![],
        ..NewEntry::bare(title, title, 1_700_000_000)
    }
}

/// Follows `next_url` from the first page to the last; returns every item id in order.
async fn walk(state: &AppState, first: &str) -> (Vec<String>, usize) {
    let mut ids = Vec::new();
    let mut pages = 0;
    let mut uri = first.to_string();
    loop {
        let (status, _, body) = send(state, "GET", &uri, &[]).await;
        assert_eq!(status, StatusCode::OK, "{uri}");
        let json: serde_json::Value = serde_json::from_slice(&body).expect("json");
        assert_eq!(json["feed_url"], format!("http://h.test{uri}"), "self link");
        pages += 1;
        for item in json["items"].as_array().expect("items") {
            ids.push(item["id"].as_str().expect("id").to_string());
        }
        match json["next_url"].as_str() {
            Some(next) => {
                uri = next
                    .strip_prefix("http://h.test")
                    .expect("ours")
                    .to_string();
                assert!(uri.contains("limit=3"), "the limit is kept: {uri}");
            }
            None => break,
        }
        assert!(pages < 100, "the walk ends");
    }
    (ids, pages)
}

#[tokio::test]
async fn paging_walks_a_topic_once_in_order() {
    let (state, store) = state();
    // Ten entries, some sharing a publication time (ties are ordered by entry id).
    for i in 0..10 {
        add_entry_at(&store, &format!("e{i}"), 1_700_000_000 + (i / 2) * 60);
    }
    let (_, _, body) = send(&state, "GET", "/topics/news.json?limit=500", &[]).await;
    let json: serde_json::Value = serde_json::from_slice(&body).expect("json");
    let expected: Vec<String> = json["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["id"].as_str().expect("id").to_string())
        .collect();
    assert_eq!(expected.len(), 10);
    assert!(json.get("next_url").is_none(), "one page: no next link");

    let (ids, pages) = walk(&state, "/topics/news.json?limit=3").await;
    assert_eq!(ids, expected);
    assert_eq!(pages, 4);

    // A cursor stays valid while new entries arrive at the top.
    let (_, _, body) = send(&state, "GET", "/topics/news.json?limit=3", &[]).await;
    let json: serde_json::Value = serde_json::from_slice(&body).expect("json");
    let second = json["next_url"].as_str().expect("next").to_string();
    add_entry_at(&store, "newest", 1_750_000_000);
    let (_, _, body) = send(
        &state,
        "GET",
        second.strip_prefix("http://h.test").expect("ours"),
        &[],
    )
    .await;
    let json: serde_json::Value = serde_json::from_slice(&body).expect("json");
    let ids: Vec<&str> = json["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["id"].as_str().expect("id"))
        .collect();
    assert_eq!(
        ids,
        expected[3..6]
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn paging_links_in_atom_and_rss() {
    let (state, store) = state();
    for i in 0..3 {
        add_entry_at(&store, &format!("e{i}"), 1_700_000_000 + i);
    }
    let (_, _, body) = send(&state, "GET", "/topics/news.atom?limit=2", &[]).await;
    let atom = String::from_utf8(body).expect("utf-8");
    assert!(
        atom.contains("rel=\"first\"")
            && atom.contains("href=\"http://h.test/topics/news.atom?limit=2\""),
        "{atom}"
    );
    assert!(atom.contains("rel=\"next\""), "{atom}");
    let (_, _, body) = send(&state, "GET", "/topics/news.rss?limit=2", &[]).await;
    let rss = String::from_utf8(body).expect("utf-8");
    assert!(rss.contains("rel=\"next\""), "{rss}");
    let (_, _, body) = send(&state, "GET", "/topics/news.atom", &[]).await;
    let atom = String::from_utf8(body).expect("utf-8");
    assert!(!atom.contains("rel=\"next\"") && !atom.contains("rel=\"first\""));
}

#[tokio::test]
async fn bad_cursor_is_a_400() {
    let (state, _) = state();
    for query in ["before=soon", "before=1.2.3", "before=1", "before=%2B1.2"] {
        let (status, _, body) =
            send(&state, "GET", &format!("/topics/news.atom?{query}"), &[]).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}");
        let text = String::from_utf8(body).expect("utf-8");
        assert!(text.starts_with("invalid cursor \""), "{text}");
        assert!(text.ends_with('\n') && text.lines().count() == 1);
    }
}

#[tokio::test]
async fn many_cursors_do_not_grow_the_cache_without_bound() {
    let (state, store) = state();
    add_entry(&store, "first");
    for i in 0..600 {
        let (status, _, _) = send(
            &state,
            "GET",
            &format!("/topics/news.atom?before=1700000000.{i}"),
            &[],
        )
        .await;
        assert_eq!(status, StatusCode::OK);
    }
    assert!(state.inner.cache.bytes() <= cache::MAX_BYTES);
    assert!(state.inner.cache.len() <= 600);
}

/// The router served on a loopback socket by the real HTTP workers.
struct Served {
    addr: std::net::SocketAddr,
    stop: tokio::sync::oneshot::Sender<()>,
    server: tokio::task::JoinHandle<()>,
}

impl Served {
    async fn start(state: AppState) -> Served {
        let listener = listener("127.0.0.1:0".parse().expect("addr"))
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(
            serve(listener, router(state), async move {
                let _ = stopped.await;
            })
            .expect("start the workers"),
        );
        Served { addr, stop, server }
    }

    async fn stop(self) {
        let _ = self.stop.send(());
        tokio::time::timeout(std::time::Duration::from_secs(5), self.server)
            .await
            .expect("serve returns after shutdown")
            .expect("task");
    }
}

#[tokio::test]
async fn serve_answers_over_a_socket_and_stops_on_request() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (state, store) = state();
    add_entry(&store, "first");
    let running = Served::start(state).await;
    let addr = running.addr;

    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    // Two requests on one connection: HEAD, then GET.
    stream
        .write_all(
            b"HEAD /topics/news.atom HTTP/1.1\r\nHost: t\r\n\r\n\
              GET /topics/news.atom HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
        )
        .await
        .expect("write");
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.expect("read");
    let text = String::from_utf8_lossy(&response);
    assert_eq!(text.matches("HTTP/1.1 200 OK").count(), 2, "{text}");
    assert_eq!(
        text.matches("<title>first</title>").count(),
        1,
        "HEAD has no body"
    );

    running.stop().await;
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "the port is closed"
    );
}

fn gunzip(body: &[u8]) -> Vec<u8> {
    use std::io::Read;
    let mut decoded = Vec::new();
    flate2::read::GzDecoder::new(body)
        .read_to_end(&mut decoded)
        .expect("gunzip");
    decoded
}

fn unbrotli(body: &[u8]) -> Vec<u8> {
    use std::io::Read;
    let mut decoded = Vec::new();
    brotli::Decompressor::new(body, 4096)
        .read_to_end(&mut decoded)
        .expect("unbrotli");
    decoded
}

/// Polls `done` every few milliseconds for up to ten seconds; whether it came true.
async fn eventually(mut done: impl FnMut() -> bool) -> bool {
    for _ in 0..2000 {
        if done() {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    done()
}

#[tokio::test]
async fn search_feeds_answer_304_and_compress_like_topic_feeds() {
    let (state, store) = state();
    add_entry(&store, "first light");
    let uri = "/search.atom?q=first";
    let (status, headers, plain) = send(&state, "GET", uri, &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(String::from_utf8_lossy(&plain).contains("<title>first light</title>"));
    let etag = header(&headers, header::ETAG).to_string();
    assert!(
        etag.starts_with('"') && etag.ends_with('"'),
        "strong: {etag}"
    );
    assert_eq!(header(&headers, header::VARY), "accept-encoding");
    assert_eq!(
        header(&headers, header::CACHE_CONTROL),
        "public, max-age=60"
    );
    assert!(headers.contains_key(header::LAST_MODIFIED));

    let reads = store.read_count();
    let (status, headers, body) = send(&state, "GET", uri, &[("if-none-match", &etag)]).await;
    assert_eq!(status, StatusCode::NOT_MODIFIED);
    assert!(body.is_empty());
    assert_eq!(header(&headers, header::ETAG), etag);

    let (status, headers, gz) = send(&state, "GET", uri, &[("accept-encoding", "gzip")]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(header(&headers, header::CONTENT_ENCODING), "gzip");
    assert_eq!(gunzip(&gz), plain);
    let (_, headers, br) = send(&state, "GET", uri, &[("accept-encoding", "br, gzip")]).await;
    assert_eq!(header(&headers, header::CONTENT_ENCODING), "br");
    assert_eq!(unbrotli(&br), plain);
    assert_eq!(store.read_count(), reads, "answered from memory");

    // A new entry changes the search's page like a topic's.
    add_entry(&store, "first snow");
    let (status, _, body) = send(&state, "GET", uri, &[("if-none-match", &etag)]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(String::from_utf8_lossy(&body).contains("first snow"));
}

#[tokio::test]
async fn search_feed_self_link_keeps_the_query_as_given() {
    let (state, store) = state();
    add_entry(&store, "first light");
    // Both queries find the same entry, but each page names its own query.
    for (uri, self_link) in [
        (
            "/search.json?q=FIRST&limit=07",
            "http://h.test/search.json?q=FIRST&limit=07",
        ),
        ("/search.json?q=first", "http://h.test/search.json?q=first"),
        (
            "/search.json?q=FIRST&limit=07",
            "http://h.test/search.json?q=FIRST&limit=07",
        ),
    ] {
        let (status, _, body) = send(&state, "GET", uri, &[]).await;
        assert_eq!(status, StatusCode::OK);
        let json: serde_json::Value = serde_json::from_slice(&body).expect("json");
        assert_eq!(json["feed_url"], self_link, "{uri}");
        assert_eq!(json["items"][0]["title"], "first light");
    }
}

#[tokio::test]
async fn index_and_sources_render_once_per_change() {
    let (state, store) = state_from(&format!(
        "{CONFIG}[[source]]\nurl = \"https://a.example/feed\"\ntopics = [\"news\"]\n"
    ));
    add_entry(&store, "first");
    let (status, headers, index) = send(&state, "GET", "/", &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        header(&headers, header::CONTENT_TYPE),
        "text/html; charset=utf-8"
    );
    assert_eq!(header(&headers, header::CACHE_CONTROL), "no-cache");
    let index_etag = header(&headers, header::ETAG).to_string();
    let (status, headers, sources) = send(&state, "GET", "/sources", &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(String::from_utf8_lossy(&sources).contains("https://a.example/feed"));
    let sources_etag = header(&headers, header::ETAG).to_string();

    let reads = store.read_count();
    for _ in 0..3 {
        assert_eq!(send(&state, "GET", "/", &[]).await.2, index);
        assert_eq!(send(&state, "GET", "/sources", &[]).await.2, sources);
        let (status, _, _) = send(&state, "GET", "/", &[("if-none-match", &index_etag)]).await;
        assert_eq!(status, StatusCode::NOT_MODIFIED);
    }
    let (_, headers, gz) = send(&state, "GET", "/sources", &[("accept-encoding", "gzip")]).await;
    assert_eq!(header(&headers, header::CONTENT_ENCODING), "gzip");
    assert_eq!(gunzip(&gz), sources);
    assert_eq!(store.read_count(), reads, "answered from memory");

    // A recorded fetch changes the sources table but no topic: only /sources is read again.
    let id = store.source_states().expect("states")[0].id;
    store
        .record_failure(id, "connection refused", "network", None, 1_700_000_200)
        .expect("failure");
    let reads = store.read_count();
    let (status, _, _) = send(&state, "GET", "/", &[("if-none-match", &index_etag)]).await;
    assert_eq!(status, StatusCode::NOT_MODIFIED);
    assert_eq!(store.read_count(), reads);
    let (status, _, body) = send(
        &state,
        "GET",
        "/sources",
        &[("if-none-match", &sources_etag)],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(String::from_utf8_lossy(&body).contains("connection refused"));

    // A new entry changes both.
    add_entry(&store, "second");
    let (status, _, _) = send(&state, "GET", "/", &[("if-none-match", &index_etag)]).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn concurrent_misses_of_the_index_render_it_once() {
    let (state, store) = state();
    add_entry(&store, "first");
    let generation = store.generation();
    // What one render of the index reads (each topic card reads its stories per day), measured
    // through a second server over the same store, whose cache is its own.
    let reads = store.read_count();
    let config = Config::parse(std::path::Path::new("feeds.toml"), CONFIG).expect("config");
    let other = AppState::new(store.clone(), Arc::new(config), Arc::new(|| 1_800_000_000));
    let (status, _, _) = send(&other, "GET", "/", &[]).await;
    assert_eq!(status, StatusCode::OK);
    let one_render = store.read_count() - reads;
    let reads = store.read_count();
    // The render waits for the connection this holds, so every request below misses while it
    // is under way.
    let writer = store.hold_writer();
    let requests = futures_util::future::join_all((0..20).map(|_| send(&state, "GET", "/", &[])));
    let release = async {
        assert!(
            eventually(|| state.inner.cache.rendering(&PageKey::Index, generation)).await,
            "the render started"
        );
        // Every request has been polled up to its wait by now; let any straggler catch up.
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        drop(writer);
    };
    let (responses, ()) = tokio::join!(requests, release);
    assert_eq!(
        store.read_count(),
        reads + one_render,
        "one render for twenty requests"
    );
    let first = &responses[0].2;
    assert!(String::from_utf8_lossy(first).contains("News"));
    for (status, _, body) in &responses {
        assert_eq!(*status, StatusCode::OK);
        assert_eq!(body, first);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_disconnects_cancels_its_render() {
    use tokio::io::AsyncWriteExt;
    let (state, store) = state();
    add_entry(&store, "first");
    let running = Served::start(state.clone()).await;
    let addr = running.addr;
    let generation = store.generation();
    let writer = store.hold_writer();
    let reads = store.read_count();

    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        .await
        .expect("write");
    assert!(
        eventually(|| state.inner.cache.rendering(&PageKey::Index, generation)).await,
        "the render started"
    );
    drop(stream);
    assert!(
        eventually(|| !state.inner.cache.rendering(&PageKey::Index, generation)).await,
        "the render was dropped with its only request"
    );
    drop(writer);
    let slots = render_slots();
    assert!(
        eventually(|| state.inner.render_slots.available_permits() == slots).await,
        "the render's blocking work ended"
    );
    assert_eq!(
        store.read_count(),
        reads,
        "the abandoned render never queried"
    );
    assert!(state.inner.cache.get(&PageKey::Index, generation).is_none());
    assert_eq!(
        state.inner.admitted.available_permits(),
        MAX_ADMITTED_RENDERS
    );

    // The next client gets the page.
    let (status, body) = get_text(&state, "/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("News"));
    running.stop().await;
}

#[tokio::test]
async fn renders_beyond_the_bound_are_refused_with_retry_after() {
    let (state, store) = state();
    add_entry(&store, "first");
    let (status, _, cached) = send(&state, "GET", "/topics/news.rss", &[]).await;
    assert_eq!(status, StatusCode::OK);
    let taken = state
        .inner
        .admitted
        .clone()
        .acquire_many_owned(u32::try_from(MAX_ADMITTED_RENDERS).expect("small"))
        .await
        .expect("permits");
    for uri in ["/topics/news.atom", "/", "/sources", "/search.json?q=first"] {
        let (status, headers, body) = send(&state, "GET", uri, &[]).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{uri}");
        assert_eq!(header(&headers, header::RETRY_AFTER), "2", "{uri}");
        assert_eq!(
            body,
            b"busy: too many pages being rendered; retry in a moment\n"
        );
    }
    // Pages already rendered are still served.
    let (status, _, body) = send(&state, "GET", "/topics/news.rss", &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, cached);
    drop(taken);
    let (status, _, _) = send(&state, "GET", "/topics/news.atom", &[]).await;
    assert_eq!(status, StatusCode::OK);
}

#[test]
fn healthz_answers_while_every_render_slot_and_blocking_thread_is_busy() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Arc::new(SqliteStore::open(&dir.path().join("t.db")).expect("store"));
    let config = Config::parse(std::path::Path::new("feeds.toml"), "[server]\n").expect("config");
    let state = AppState::new(store.clone(), Arc::new(config), Arc::new(|| 1_800_000_000));
    // One blocking thread, as a busy event loop's whole pool is.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .max_blocking_threads(1)
        .build()
        .expect("runtime");
    let (unblock, blocked) = std::sync::mpsc::channel::<()>();
    let (status, body) = runtime.block_on(async {
        let _renders = state
            .inner
            .render_slots
            .clone()
            .acquire_many_owned(u32::try_from(render_slots()).expect("small"))
            .await
            .expect("permits");
        let _admitted = state
            .inner
            .admitted
            .clone()
            .acquire_many_owned(u32::try_from(MAX_ADMITTED_RENDERS).expect("small"))
            .await
            .expect("permits");
        let pool = tokio::task::spawn_blocking(move || blocked.recv());
        let _writer = store.hold_writer();
        let answer = tokio::time::timeout(
            std::time::Duration::from_secs(60),
            get_text(&state, "/healthz"),
        )
        .await
        .expect("healthz answers");
        let _ = unblock.send(());
        let _ = pool.await;
        answer
    });
    assert_eq!((status, body.as_str()), (StatusCode::OK, "ok\n"));
}

#[tokio::test]
async fn limit_over_500_is_clamped_as_the_readme_says() {
    let readme = include_str!("../../README.md");
    assert!(
        readme.contains("`?limit=N` asks for up to 500; a larger N is answered with 500 entries"),
        "the README documents clamping"
    );
    let (state, store) = state();
    add_entry(&store, "first");
    for (uri, self_link) in [
        (
            "/topics/news.json?limit=501",
            "http://h.test/topics/news.json?limit=500",
        ),
        (
            "/search.json?q=first&limit=501",
            "http://h.test/search.json?q=first&limit=501",
        ),
    ] {
        let (status, _, body) = send(&state, "GET", uri, &[]).await;
        assert_eq!(status, StatusCode::OK, "{uri}");
        let json: serde_json::Value = serde_json::from_slice(&body).expect("json");
        assert_eq!(json["feed_url"], self_link);
        assert_eq!(json["items"].as_array().map(Vec::len), Some(1));
    }
}

/// Regression: pruning changed a page (an entry left it) without moving `Last-Modified`, so a
/// client revalidating with `If-Modified-Since` alone was told 304 and kept the pruned entry.
#[tokio::test]
async fn last_modified_moves_after_a_prune() {
    let (state, store) = state();
    add_entry_at(&store, "older story", 1_699_000_000);
    add_entry_at(&store, "newer story", 1_700_000_000);
    let (_, first, body) = send(&state, "GET", "/topics/news.atom", &[]).await;
    assert!(String::from_utf8_lossy(&body).contains("older story"));
    let date = header(&first, header::LAST_MODIFIED).to_string();
    assert_eq!(date, "Tue, 14 Nov 2023 22:15:00 GMT");

    // One story a source: the older one goes, at a time after every entry's last change.
    let pruned = store.prune(1_750_000_000, i64::MAX / 2, 1).expect("prune");
    assert_eq!(pruned.entries, 1);
    let (status, headers, body) = send(
        &state,
        "GET",
        "/topics/news.atom",
        &[("if-modified-since", &date)],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "the page changed: not a 304");
    let body = String::from_utf8_lossy(&body);
    assert!(body.contains("newer story") && !body.contains("older story"));
    assert_eq!(
        header(&headers, header::LAST_MODIFIED),
        "Sun, 15 Jun 2025 15:06:40 GMT",
        "the time of the prune"
    );
    // And a revalidation at that time is a 304 again.
    let (status, _, _) = send(
        &state,
        "GET",
        "/topics/news.atom",
        &[("if-modified-since", "Sun, 15 Jun 2025 15:06:40 GMT")],
    )
    .await;
    assert_eq!(status, StatusCode::NOT_MODIFIED);
}

/// A database that cannot be written is reported by `/healthz` (503 with the reason) while its
/// stored pages are still served.
#[tokio::test]
async fn healthz_reports_a_database_that_cannot_be_written() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("t.db");
    add_entry(&SqliteStore::open(&path).expect("open"), "stored");
    let store = Arc::new(SqliteStore::open_read_only(&path).expect("read-only"));
    let (writable, _) = state();
    let state = AppState::new(store, writable.config(), Arc::new(|| 1_800_000_000));
    let (status, body) = get_text(&state, "/healthz").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        body.starts_with("database cannot be written: ")
            && body.ends_with("; serving what is stored\n"),
        "{body}"
    );
    let (status, body) = get_text(&state, "/topics/news.atom").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("stored"));
}

// --- HTML pages ---

/// A story whose every field a source controls tries to break out of the page, carried by a
/// source whose title does the same.
fn add_hostile_entry(store: &SqliteStore) {
    let ids = store
        .sync_sources(&[SourceSpec {
            url: "https://evil.example/feed".into(),
            title: Some("<script>alert('source')</script>".into()),
            topics: vec![TopicSlug::new("news").expect("slug")],
        }])
        .expect("sync");
    let title = "<img src=x onerror=alert(1)>\"'&";
    let entry = NewEntry {
        topics: vec![TopicSlug::all(), TopicSlug::new("news").expect("slug")],
        link: Some("javascript:alert(2)".into()),
        // As stored: sanitized HTML whose text, once decoded, is markup.
        summary_html: Some(
            "<p>Read &lt;script&gt;alert(3)&lt;/script&gt; and &lt;iframe src=//x&gt;</p>".into(),
        ),
        enclosures: vec![crate::model::Enclosure {
            url: "https://evil.example/a.mp3?\"><script>alert(4)</script>".into(),
            media_type: Some("audio/mpeg\"><script>alert(5)</script>".into()),
            length: Some(2_500_000),
        }],
        language: Some("vi\"><script>alert(6)</script>".into()),
        search_text: crate::text::search_text(
            title,
            Some("<p>Read &lt;script&gt;alert(3)&lt;/script&gt;</p>"),
            None,
        ),
        ..NewEntry::bare("hostile", title, 1_799_990_000)
    };
    store
        .record_document(
            ids[0],
            &FeedMeta::default(),
            &[entry],
            &Fetched::plain(&Validators::default()),
            1_700_000_100,
        )
        .expect("store");
}

/// Asserts that `html` holds no element or attribute a source could have put there.
fn assert_inert(html: &str) {
    for forbidden in ["<script", "<img", "<iframe", "javascript:"] {
        assert!(!html.contains(forbidden), "{forbidden} in:\n{html}");
    }
}

#[tokio::test]
async fn topic_river_is_html_under_csp_with_etag_and_304() {
    let (state, store) = state();
    add_entry_at(&store, "first story", 1_799_992_800);
    let (status, headers, body) = send(&state, "GET", "/topics/news", &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        header(&headers, header::CONTENT_TYPE),
        "text/html; charset=utf-8"
    );
    assert_eq!(
        header(&headers, header::CONTENT_SECURITY_POLICY),
        "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    );
    assert_eq!(header(&headers, header::CACHE_CONTROL), "no-cache");
    let html = String::from_utf8(body).expect("utf-8");
    assert!(html.starts_with("<!DOCTYPE html>\n<html lang=\"en\">"));
    assert!(html.contains("<h1>News</h1>"));
    assert!(html.contains("<h2>first story</h2>"), "{html}");
    // Published two hours before the clock's now, with the absolute time in the title.
    assert!(html.contains(
        "<time datetime=\"2027-01-15T06:00:00Z\" title=\"2027-01-15 06:00 UTC\">2 hours ago</time>"
    ));
    // Autodiscovery of the three feeds and the OPML, and the feed URL to copy.
    for (media_type, href) in [
        ("application/atom+xml", "http://h.test/topics/news.atom"),
        ("application/rss+xml", "http://h.test/topics/news.rss"),
        ("application/feed+json", "http://h.test/topics/news.json"),
        ("text/x-opml", "http://h.test/topics/news.opml"),
    ] {
        assert!(
            html.contains(&format!(
                "<link rel=\"alternate\" type=\"{media_type}\" title=\"News ("
            )) && html.contains(&format!("href=\"{href}\">")),
            "{media_type}: {html}"
        );
    }
    assert!(
        html.contains("<input type=\"url\" readonly value=\"http://h.test/topics/news.atom\">")
    );
    assert!(html.contains(&format!(
        "<link rel=\"stylesheet\" href=\"/static/{}\">",
        publish::style::file_name()
    )));

    let etag = header(&headers, header::ETAG).to_string();
    let (status, headers, body) =
        send(&state, "GET", "/topics/news", &[("if-none-match", &etag)]).await;
    assert_eq!(status, StatusCode::NOT_MODIFIED);
    assert!(body.is_empty());
    // The browser keeps the policy of the page it revalidated.
    assert!(headers.get(header::CONTENT_SECURITY_POLICY).is_none());
    let (status, headers, body) = send(
        &state,
        "GET",
        "/topics/news",
        &[("accept-encoding", "gzip")],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(header(&headers, header::CONTENT_ENCODING), "gzip");
    assert!(String::from_utf8_lossy(&gunzip(&body)).contains("first story"));

    add_entry_at(&store, "second story", 1_799_999_000);
    let (status, _, body) = send(&state, "GET", "/topics/news", &[("if-none-match", &etag)]).await;
    assert_eq!(status, StatusCode::OK, "a new story changes the page");
    assert!(String::from_utf8_lossy(&body).contains("second story"));

    let (status, _, body) = send(&state, "GET", "/topics/sport", &[]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body, b"unknown topic: sport\n");
    let (status, _, body) = send(&state, "GET", "/topics/all", &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(String::from_utf8_lossy(&body).contains("<h1>All entries</h1>"));
}

#[tokio::test]
async fn topic_river_escapes_every_field_of_a_hostile_entry() {
    let (state, store) = state();
    add_hostile_entry(&store);
    let (status, _, body) = send(&state, "GET", "/topics/news", &[]).await;
    assert_eq!(status, StatusCode::OK);
    let html = String::from_utf8(body).expect("utf-8");
    assert_inert(&html);
    // The title is text, and with no web link it links nowhere.
    assert!(
        html.contains("<h2>&lt;img src=x onerror=alert(1)&gt;&quot;&#39;&amp;</h2>"),
        "{html}"
    );
    // The outlet is named as text.
    assert!(html.contains(
        "<span class=\"outlets\">&lt;script&gt;alert(&#39;source&#39;)&lt;/script&gt;</span>"
    ));
    // The snippet is the stored HTML's text, escaped.
    assert!(html.contains(
        "<p class=\"snippet\">Read &lt;script&gt;alert(3)&lt;/script&gt; and &lt;iframe src=//x&gt;</p>"
    ));
    // The enclosure URL is percent-encoded by URL parsing; its media type is escaped text.
    assert!(html.contains(
        "<a href=\"https://evil.example/a.mp3?%22%3E%3Cscript%3Ealert(4)%3C/script%3E\">Listen (audio/mpeg&quot;&gt;&lt;script&gt;alert(5)&lt;/script&gt;, 2.5 MB)</a>"
    ), "{html}");
    // A language that is no language tag is not put on the page.
    assert!(html.contains("<article class=\"story\">\n"));
}

#[tokio::test]
async fn topic_river_pages_like_the_atom_feed() {
    let (state, store) = state();
    for i in 0..5 {
        add_entry_at(&store, &format!("story {i}"), 1_700_000_000 + i * 60);
    }
    let (_, _, atom) = send(&state, "GET", "/topics/news.atom?limit=2", &[]).await;
    let atom = String::from_utf8(atom).expect("utf-8");
    let (_, _, river) = send(&state, "GET", "/topics/news?limit=2", &[]).await;
    let river = String::from_utf8(river).expect("utf-8");
    let titles = |text: &str, open: &str, close: &str| -> Vec<String> {
        text.split(open)
            .skip(1)
            .filter_map(|rest| rest.split(close).next().map(str::to_string))
            .collect()
    };
    let atom_titles = titles(&atom, "<entry>", "</title>")
        .into_iter()
        .map(|t| t.rsplit('>').next().unwrap_or_default().to_string())
        .collect::<Vec<_>>();
    assert_eq!(atom_titles, ["story 4", "story 3"]);
    assert_eq!(titles(&river, "<h2>", "</h2>"), atom_titles);
    // The older link is the feeds' next link without the extension.
    let (_, _, json) = send(&state, "GET", "/topics/news.json?limit=2", &[]).await;
    let json: serde_json::Value = serde_json::from_slice(&json).expect("json");
    let next = json["next_url"]
        .as_str()
        .expect("next_url")
        .replace(".json", "");
    let older = river
        .split("rel=\"next\">")
        .next()
        .and_then(|head| head.rsplit("<a href=\"").next())
        .and_then(|rest| rest.split('"').next())
        .expect("river older link")
        .replace("&amp;", "&");
    assert_eq!(older, next);
    let (status, _, second) = send(
        &state,
        "GET",
        older.strip_prefix("http://h.test").expect("ours"),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let second = String::from_utf8(second).expect("utf-8");
    assert_eq!(titles(&second, "<h2>", "</h2>"), ["story 2", "story 1"]);
    assert!(second.contains("rel=\"first\">Newest</a>"));
    let (status, _, _) = send(&state, "GET", "/topics/news?before=x", &[]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn the_favicon_browsers_ask_for_is_no_content_not_a_404() {
    let (state, _) = state();
    let (status, headers, body) = send(&state, "GET", "/favicon.ico", &[]).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(body.is_empty());
    assert_eq!(
        header(&headers, header::CACHE_CONTROL),
        "public, max-age=86400"
    );
}

#[tokio::test]
async fn stylesheet_is_served_at_its_hashed_url_for_a_year() {
    let (state, _) = state();
    let path = format!("/static/{}", publish::style::file_name());
    let (status, headers, body) = send(&state, "GET", &path, &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        header(&headers, header::CONTENT_TYPE),
        "text/css; charset=utf-8"
    );
    assert_eq!(
        header(&headers, header::CACHE_CONTROL),
        "public, max-age=31536000, immutable"
    );
    assert_eq!(body, publish::style::STYLESHEET.as_bytes());
    let etag = header(&headers, header::ETAG).to_string();
    let (status, _, _) = send(&state, "GET", &path, &[("if-none-match", &etag)]).await;
    assert_eq!(status, StatusCode::NOT_MODIFIED);
    let (status, _, _) = send(&state, "GET", "/static/style.0000000000000000.css", &[]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Every page names it.
    for page in ["/", "/sources", "/search", "/topics/news"] {
        let (_, headers, body) = send(&state, "GET", page, &[]).await;
        assert!(
            String::from_utf8_lossy(&body).contains(&format!("href=\"{path}\"")),
            "{page}"
        );
        assert!(
            header(&headers, header::CONTENT_SECURITY_POLICY).starts_with("default-src 'self'"),
            "{page}"
        );
    }
}

#[tokio::test]
async fn search_page_lists_twenty_matches_a_page_with_the_words_marked() {
    let (state, store) = state();
    for i in 0..25 {
        add_entry_at(
            &store,
            &format!("Mưa lớn ở Đà Nẵng {i}"),
            1_700_000_000 + i * 60,
        );
    }
    add_entry_at(&store, "Nắng ở Huế", 1_700_009_000);
    let (status, headers, body) = send(&state, "GET", "/search?q=da+nang", &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        header(&headers, header::CONTENT_TYPE),
        "text/html; charset=utf-8"
    );
    assert!(header(&headers, header::CONTENT_SECURITY_POLICY).starts_with("default-src 'self'"));
    let html = String::from_utf8(body).expect("utf-8");
    let titles: Vec<&str> = html
        .split("<h2>")
        .skip(1)
        .filter_map(|rest| rest.split("</h2>").next())
        .collect();
    assert_eq!(titles.len(), 20, "{html}");
    assert_eq!(
        titles[0], "Mưa lớn ở <mark>Đà</mark> <mark>Nẵng</mark> 24",
        "newest first, folded matches marked"
    );
    assert!(html.contains("href=\"http://h.test/search.atom?q=da+nang\""));
    assert!(html.contains("<a href=\"http://h.test/search?q=da+nang&amp;page=2\" rel=\"next\">"));
    let etag = header(&headers, header::ETAG).to_string();
    let (status, _, _) = send(
        &state,
        "GET",
        "/search?q=da+nang",
        &[("if-none-match", &etag)],
    )
    .await;
    assert_eq!(status, StatusCode::NOT_MODIFIED);

    let (status, _, body) = send(&state, "GET", "/search?q=da+nang&page=2", &[]).await;
    assert_eq!(status, StatusCode::OK);
    let html = String::from_utf8(body).expect("utf-8");
    assert_eq!(html.matches("<h2>").count(), 5, "{html}");
    assert!(html.contains("Nẵng</mark> 4</h2>") && html.contains("Nẵng</mark> 0</h2>"));
    assert!(html.contains("rel=\"first\">Newest</a>") && !html.contains("rel=\"next\""));

    let (status, _, body) = send(&state, "GET", "/search?q=da+nang&page=0", &[]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body, b"invalid page \"0\": expected 1 to 25\n");
    let (status, _, body) = send(&state, "GET", "/search?q=tuyet", &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(String::from_utf8_lossy(&body).contains("<p>No stories match “tuyet”.</p>"));
}

#[tokio::test]
async fn search_page_shows_a_hostile_match_as_text() {
    let (state, store) = state();
    add_hostile_entry(&store);
    let (status, _, body) = send(&state, "GET", "/search?q=img+%3Cscript%3E", &[]).await;
    assert_eq!(status, StatusCode::OK);
    let html = String::from_utf8(body).expect("utf-8");
    assert_inert(&html);
    assert!(
        html.contains("<h2>&lt;<mark>img</mark> src=x onerror=alert(1)&gt;&quot;&#39;&amp;</h2>"),
        "{html}"
    );
    assert!(html.contains("value=\"img &lt;script&gt;\""));
}

#[tokio::test]
async fn sources_state_filter_shows_failing_sources_only() {
    let (state, store) = state_from(
        "[server]\nbase_url = \"http://h.test/\"\n\
         [[source]]\nurl = \"https://a.example/feed\"\n\
         [[source]]\nurl = \"https://b.example/feed\"\n",
    );
    let ids = store
        .sync_sources(&[
            SourceSpec {
                url: "https://a.example/feed".into(),
                title: None,
                topics: vec![],
            },
            SourceSpec {
                url: "https://b.example/feed".into(),
                title: None,
                topics: vec![],
            },
        ])
        .expect("sync");
    store
        .record_failure(
            ids[1],
            "HTTP 500 <b>down</b>",
            "http",
            Some(500),
            1_799_999_000,
        )
        .expect("failure");
    let (status, headers, body) = send(&state, "GET", "/sources", &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(header(&headers, header::CONTENT_SECURITY_POLICY).starts_with("default-src 'self'"));
    let html = String::from_utf8(body).expect("utf-8");
    let rows: Vec<&str> = html
        .lines()
        .filter(|l| l.starts_with("<tr class="))
        .collect();
    assert_eq!(rows.len(), 2);
    assert!(
        rows[0].contains("https://b.example/feed"),
        "failing first: {html}"
    );
    assert!(rows[0].contains("HTTP 500 &lt;b&gt;down&lt;/b&gt;"));

    let (status, _, body) = send(&state, "GET", "/sources?state=failing", &[]).await;
    assert_eq!(status, StatusCode::OK);
    let html = String::from_utf8(body).expect("utf-8");
    let rows: Vec<&str> = html
        .lines()
        .filter(|l| l.starts_with("<tr class="))
        .collect();
    assert_eq!(rows.len(), 1, "{html}");
    assert!(rows[0].contains("https://b.example/feed"));
    let (status, _, body) = send(&state, "GET", "/sources?state=broken", &[]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        b"unknown state \"broken\": expected one of failing, gone, moved, new, ok\n"
    );
}

#[tokio::test]
async fn index_sparkline_ends_on_the_newest_story_not_today() {
    // The clock says 2027; the stories are from 2023. A sparkline ending today would be flat,
    // and would go stale between changes of the store, when the index is not rendered again.
    let (state, store) = state();
    add_entry_at(&store, "newest", 1_700_000_000);
    add_entry_at(&store, "day before", 1_700_000_000 - 86_400);
    add_entry_at(&store, "too old", 1_700_000_000 - 40 * 86_400);
    let (status, _, body) = send(&state, "GET", "/", &[]).await;
    assert_eq!(status, StatusCode::OK);
    let html = String::from_utf8(body).expect("utf-8");
    assert!(
        html.contains(
            "<title>News: 2 stories in the 30 days up to the newest, at most 1 a day</title>"
        ),
        "{html}"
    );
    assert!(html.contains("<p><a href=\"http://h.test/topics/news\">Read the stories</a> <svg "));
}
