use super::*;
use crate::model::{FeedMeta, NewEntry, Validators};
use crate::store::{Fetched, SourceSpec};
use axum::body::Body;
use axum::http::Request;
use http_body_util::BodyExt;
use tower::ServiceExt;

fn state() -> (AppState, Arc<Store>) {
    let config = Config::parse(
        std::path::Path::new("feeds.toml"),
        "[server]\nbase_url = \"http://h.test/\"\n[[topic]]\nslug = \"news\"\ntitle = \"News\"\n",
    )
    .expect("config");
    let store = Arc::new(Store::open_in_memory().expect("store"));
    (
        AppState::new(store.clone(), Arc::new(config), Arc::new(|| 1_800_000_000)),
        store,
    )
}

fn add_entry(store: &Store, title: &str) {
    let ids = store
        .sync_sources(&[SourceSpec {
            url: "https://a.example/feed".into(),
            title: None,
            topics: vec![TopicSlug::new("news").expect("slug")],
        }])
        .expect("sync");
    let entry = NewEntry {
        key: format!("guid:{title}"),
        public_id: title.into(),
        link: None,
        canonical_url: None,
        title: title.into(),
        summary_html: None,
        content_html: None,
        authors: vec![],
        categories: vec![],
        enclosures: vec![],
        language: None,
        published: 1_700_000_000,
        updated: None,
        content_hash: title.into(),
        signature: None,
        title_numbers: String::new(),
        topics: vec![TopicSlug::all(), TopicSlug::new("news").expect("slug")],
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
        let entry = NewEntry {
            key: "guid:https://pub.example/story".into(),
            public_id: "https://pub.example/story".into(),
            link: None,
            canonical_url: None,
            title: "Story".into(),
            summary_html: None,
            content_html: None,
            authors: vec![],
            categories: vec![],
            enclosures: vec![],
            language: None,
            published: 1_700_000_000,
            updated: None,
            content_hash: "h".into(),
            signature: None,
            title_numbers: String::new(),
            topics: vec![TopicSlug::all()],
        };
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

async fn get_text(app: Router, uri: &str) -> (StatusCode, String) {
    let response = app
        .oneshot(Request::get(uri).body(Body::empty()).expect("request"))
        .await
        .expect("response");
    let status = response.status();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test]
async fn healthz_is_ok_with_a_live_scheduler_and_503_with_a_stuck_one() {
    let (plain, store) = state();
    assert_eq!(
        get_text(router(plain), "/healthz").await,
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
        get_text(router(observed(live)), "/healthz").await.0,
        StatusCode::OK
    );

    let Some(long_ago) = std::time::Instant::now().checked_sub(std::time::Duration::from_secs(120))
    else {
        return;
    };
    let (status, body) = get_text(
        router(observed(crate::systemd::Health::since(long_ago))),
        "/healthz",
    )
    .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(body.contains("scheduler made no progress"), "{body}");
}

#[tokio::test]
async fn metrics_lists_source_gauges_and_database_size() {
    let (app, store) = state();
    add_entry(&store, "first");
    let (status, body) = get_text(router(app), "/metrics").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        body.contains("tributary_source_consecutive_failures{source=\"https://a.example/feed\"} 0"),
        "{body}"
    );
    assert!(
        body.contains("# TYPE tributary_database_size_bytes gauge"),
        "{body}"
    );
}
