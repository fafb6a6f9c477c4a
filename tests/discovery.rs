//! Discovery end to end: sources fetched from a local fixture server into a temporary store, then
//! the real router serves the index, the OPML lists, the source health table and search feeds.

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::http::StatusCode;
use common::router_get as get;

use common::FixtureServer;
use tributary::config::Config;
use tributary::server::{AppState, router};
use tributary::store::Store;

const BASE: &str = "http://feeds.test/";

struct World {
    app: axum::Router,
    store: Arc<dyn Store>,
    fixtures: FixtureServer,
    _dir: tempfile::TempDir,
}

/// Sources: two in `tech`, one in `vietnam` (plus one that fails), one in no topic; `everything`
/// takes every source.
async fn world() -> World {
    let fixtures = FixtureServer::start().await;
    fixtures.set("down.xml", 500, "text/plain", b"boom".to_vec());
    let dir = tempfile::tempdir().expect("temp dir");
    let text = format!(
        "[server]\nbase_url = \"{BASE}\"\n[storage]\npath = \"{}\"\n\
         [fetch]\nallow_private_networks = true\nhost_delay = \"0s\"\n\
         [[topic]]\nslug = \"tech\"\ntitle = \"Tech\"\ndescription = \"Code & <tools>\"\n\
         [[topic]]\nslug = \"vietnam\"\ntitle = \"Tin Việt Nam\"\n\
         [[topic]]\nslug = \"everything\"\ntitle = \"Everything\"\nall_sources = true\n\
         [[source]]\nurl = \"{}\"\ntopics = [\"tech\"]\n\
         [[source]]\nurl = \"{}\"\ntitle = \"JSON <Example>\"\ntopics = [\"tech\"]\n\
         [[source]]\nurl = \"{}\"\ntopics = [\"vietnam\"]\n\
         [[source]]\nurl = \"{}\"\ntopics = [\"vietnam\"]\n\
         [[source]]\nurl = \"{}\"\n",
        dir.path().join("t.db").display(),
        fixtures.url("rss_guid.xml"),
        fixtures.url("feed.json"),
        fixtures.url("vietnamese_security.xml"),
        fixtures.url("down.xml"),
        fixtures.url("atom.xml"),
    );
    let config = Config::parse(std::path::Path::new("feeds.toml"), &text).expect("config");
    let (store, jobs) = tributary::app::open_store(&config).expect("store");
    let pipeline = tributary::app::build_pipeline(&config, store.clone()).expect("pipeline");
    tributary::app::refresh_all(&pipeline, jobs, 2, |_| {}).await;
    let app = router(AppState::new(
        store.clone(),
        Arc::new(config),
        Arc::new(|| chrono::Utc::now().timestamp()),
    ));
    World {
        app,
        store,
        fixtures,
        _dir: dir,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_index_lists_topics_with_counts_and_autodiscovery() {
    let w = world().await;
    let (status, content_type, html) = get(&w.app, "/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(content_type.starts_with("text/html"));
    for (slug, title) in [
        ("tech", "Tech"),
        ("vietnam", "Tin Việt Nam"),
        ("all", "All entries"),
    ] {
        assert!(
            html.contains(&format!("<h2>{title}</h2>")),
            "{title}: {html}"
        );
        for (ext, media) in [
            ("atom", "application/atom+xml"),
            ("rss", "application/rss+xml"),
            ("json", "application/feed+json"),
        ] {
            assert!(html.contains(&format!(
                "<link rel=\"alternate\" type=\"{media}\" title=\"{title} ("
            )));
            assert!(html.contains(&format!("href=\"{BASE}topics/{slug}.{ext}\"")));
        }
    }
    assert!(html.contains("Code &amp; &lt;tools&gt;"));
    // rss_guid.xml has 3 items, feed.json 2; the Vietnamese source 2.
    assert!(
        html.contains("<p>5 entries · last update <time datetime=\""),
        "{html}"
    );
    assert!(html.contains("<p>2 entries · last update"));
    assert!(html.contains("action=\"http://feeds.test/search\""));
}

fn opml_groups(xml: &str) -> Vec<(String, BTreeSet<String>)> {
    let doc = roxmltree::Document::parse(xml).expect("OPML is XML");
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "opml");
    assert_eq!(root.attribute("version"), Some("2.0"));
    let body = root
        .children()
        .find(|n| n.has_tag_name("body"))
        .expect("body");
    body.children()
        .filter(|n| n.has_tag_name("outline"))
        .map(|group| {
            let urls = group
                .children()
                .filter(|n| n.has_tag_name("outline"))
                .map(|o| {
                    assert_eq!(o.attribute("type"), Some("rss"));
                    assert!(o.attribute("text").is_some_and(|t| !t.is_empty()));
                    o.attribute("xmlUrl").expect("xmlUrl").to_string()
                })
                .collect();
            (group.attribute("text").expect("text").to_string(), urls)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opml_groups_sources_by_topic() {
    let w = world().await;
    let url = |name: &str| w.fixtures.url(name);
    let (status, content_type, xml) = get(&w.app, "/sources.opml").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type, "text/x-opml; charset=utf-8");
    let groups = opml_groups(&xml);
    let set = |names: &[&str]| names.iter().map(|n| url(n)).collect::<BTreeSet<_>>();
    let all = set(&[
        "rss_guid.xml",
        "feed.json",
        "vietnamese_security.xml",
        "down.xml",
        "atom.xml",
    ]);
    assert_eq!(
        groups,
        vec![
            ("Tech".to_string(), set(&["rss_guid.xml", "feed.json"])),
            (
                "Tin Việt Nam".to_string(),
                set(&["vietnamese_security.xml", "down.xml"])
            ),
            ("Everything".to_string(), all.clone()),
        ],
        "every source is in the all_sources topic, so none is left for Other"
    );
    // Titles: the operator's, else the feed's own; the site from the feed.
    assert!(xml.contains("text=\"JSON &lt;Example&gt;\""));
    assert!(xml.contains("text=\"Example Engineering\""));

    let (status, content_type, xml) = get(&w.app, "/topics/tech.opml").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type, "text/x-opml; charset=utf-8");
    let doc = roxmltree::Document::parse(&xml).expect("XML");
    let urls: BTreeSet<String> = doc
        .descendants()
        .filter_map(|n| n.attribute("xmlUrl").map(str::to_string))
        .collect();
    assert_eq!(urls, set(&["rss_guid.xml", "feed.json"]));

    let (_, _, xml) = get(&w.app, "/topics/all.opml").await;
    let doc = roxmltree::Document::parse(&xml).expect("XML");
    assert_eq!(
        doc.descendants()
            .filter_map(|n| n.attribute("xmlUrl").map(str::to_string))
            .collect::<BTreeSet<_>>(),
        all
    );
    assert_eq!(
        get(&w.app, "/topics/nope.opml").await.0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_in_no_topic_is_listed_under_other() {
    let fixtures = FixtureServer::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let text = format!(
        "[server]\nbase_url = \"{BASE}\"\n[storage]\npath = \"{}\"\n\
         [[topic]]\nslug = \"tech\"\ntitle = \"Tech\"\n\
         [[source]]\nurl = \"{}\"\ntopics = [\"tech\"]\n[[source]]\nurl = \"{}\"\n",
        dir.path().join("t.db").display(),
        fixtures.url("rss_guid.xml"),
        fixtures.url("atom.xml"),
    );
    let config = Config::parse(std::path::Path::new("feeds.toml"), &text).expect("config");
    let (store, _) = tributary::app::open_store(&config).expect("store");
    let app = router(AppState::new(store, Arc::new(config), Arc::new(|| 0)));
    let (_, _, xml) = get(&app, "/sources.opml").await;
    let groups = opml_groups(&xml);
    assert_eq!(groups.len(), 2);
    assert_eq!(groups[1].0, "Other");
    assert_eq!(
        groups[1].1,
        BTreeSet::from([fixtures.url("atom.xml")]),
        "{xml}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn source_health_shows_every_source_with_a_sparkline_and_escaped_errors() {
    let w = world().await;
    let (status, _, html) = get(&w.app, "/sources").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(html.matches("<svg ").count(), 5, "{html}");
    assert_eq!(html.matches("<tr class=\"ok\">").count(), 4, "{html}");
    assert_eq!(html.matches("<tr class=\"failing\">").count(), 1);
    assert!(html.contains("failing (1 fetch)"));
    assert!(html.contains("500"), "the failure's status is shown");
    assert!(html.contains("<time datetime=\""));
    // Three new entries today for rss_guid.xml.
    assert!(html.contains(": 3 new entries in the last 30 days, at most 3 a day</title>"));

    // An error text with markup in it is shown as text.
    let down = w
        .store
        .source_states()
        .expect("states")
        .into_iter()
        .find(|s| s.url.ends_with("/down.xml"))
        .expect("down source");
    w.store
        .record_failure(
            down.id,
            "bad <script>alert(1)</script> & more",
            "parse",
            None,
            chrono::Utc::now().timestamp(),
        )
        .expect("record failure");
    // Visible once committed (refreshes are committed in groups).
    w.store.flush().expect("flush");
    let (_, _, html) = get(&w.app, "/sources").await;
    assert!(html.contains("bad &lt;script&gt;alert(1)&lt;/script&gt; &amp; more"));
    assert!(!html.contains("<script>"));
    assert!(html.contains("failing (2 fetches)"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_feeds_fold_diacritics_in_every_format() {
    let w = world().await;
    let (status, content_type, atom) = get(&w.app, "/search.atom?q=an%20ninh%20mang").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type, "application/atom+xml; charset=utf-8");
    let doc = roxmltree::Document::parse(&atom).expect("Atom is XML");
    let titles: Vec<&str> = doc
        .descendants()
        .filter(|n| n.has_tag_name("entry"))
        .filter_map(|e| e.children().find(|c| c.has_tag_name("title")))
        .filter_map(|t| t.text())
        .collect();
    assert_eq!(
        titles,
        ["Cảnh báo An ninh mạng: mã độc tống tiền nhắm vào bệnh viện"]
    );
    assert!(atom.contains(&format!(
        "<link href=\"{BASE}search.atom?q=an+ninh+mang\" rel=\"self\""
    )));

    let (status, content_type, rss) = get(&w.app, "/search.rss?q=AN+NINH+MẠNG").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type, "application/rss+xml; charset=utf-8");
    roxmltree::Document::parse(&rss).expect("RSS is XML");
    assert_eq!(rss.matches("<item>").count(), 1);

    let (status, content_type, json) = get(&w.app, "/search.json?q=build&limit=1").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type, "application/feed+json; charset=utf-8");
    let json: serde_json::Value = serde_json::from_str(&json).expect("JSON");
    assert_eq!(
        json["feed_url"],
        format!("{BASE}search.json?q=build&limit=1")
    );
    assert_eq!(json["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(json["items"][0]["title"], "Shipping the new build system");

    // Newest first.
    let (_, _, json) = get(&w.app, "/search.json?q=the").await;
    let json: serde_json::Value = serde_json::from_str(&json).expect("JSON");
    let dates: Vec<&str> = json["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|i| i["date_published"].as_str())
        .collect();
    assert!(dates.len() >= 2, "{json}");
    let mut sorted = dates.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(dates, sorted);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_and_invalid_queries_never_fail_the_server() {
    let w = world().await;
    for q in [
        "%22",
        "*",
        "NEAR(",
        ")",
        "a%22%20OR%20%22b",
        "title%3Ax",
        "%5E",
        "-x",
        "%00",
    ] {
        for ext in ["atom", "rss", "json"] {
            let (status, _, body) = get(&w.app, &format!("/search.{ext}?q={q}")).await;
            assert_eq!(status, StatusCode::OK, "q={q}: {body}");
            // A feed of its format, not an error served as 200.
            let is_feed = match ext {
                "json" => serde_json::from_str::<serde_json::Value>(&body)
                    .is_ok_and(|j| j["items"].is_array()),
                _ => roxmltree::Document::parse(&body)
                    .is_ok_and(|d| matches!(d.root_element().tag_name().name(), "feed" | "rss")),
            };
            assert!(is_feed, "q={q} .{ext}: {body}");
        }
    }
    let (status, _, atom) = get(&w.app, "/search.atom?q=%3Cscript%3E").await;
    assert_eq!(status, StatusCode::OK);
    assert!(atom.contains("Search: &lt;script&gt;"));
    for bad in [
        "/search.atom",
        "/search.atom?q=",
        "/search.rss?q=%20%20",
        "/search.json?q=x&limit=0",
        "/search.json?q=x&limit=many",
    ] {
        assert_eq!(get(&w.app, bad).await.0, StatusCode::BAD_REQUEST, "{bad}");
    }
    let long = "a".repeat(201);
    assert_eq!(
        get(&w.app, &format!("/search.atom?q={long}")).await.0,
        StatusCode::BAD_REQUEST
    );
    let (status, _, html) = get(&w.app, "/search?q=an+ninh").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(&format!("href=\"{BASE}search.rss?q=an+ninh\"")));
}
