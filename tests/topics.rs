//! Topics by rules, end to end: the real binary fetches from a local fixture server, entries go
//! into topics by `[topic.filter]` rules at ingest, `test-topic` explains them, and a change of
//! rules recomputes the membership of stored entries.

mod common;

use std::path::Path;
use std::sync::Arc;

use common::{FixtureServer, fetch, tributary};
use tributary::config::Config;
use tributary::server::{AppState, router};
use tributary::store::SqliteStore;

const BASE: &str = "http://feeds.test/";

fn write_config(dir: &Path, server: &FixtureServer, security_any: &str) -> std::path::PathBuf {
    let text = format!(
        r#"[server]
base_url = "{BASE}"
[storage]
path = "{db}"
[fetch]
allow_private_networks = true
host_delay = "0s"

[[topic]]
slug = "vietnam"
title = "Việt Nam"

[[topic]]
slug = "security"
title = "Security"
all_sources = true
[topic.filter]
any = [{security_any}]
none = ["quảng cáo"]

[[topic]]
slug = "economy"
title = "Economy"
all_sources = true
[topic.filter]
categories = ["ekonomi", "Kinh Doanh"]
languages = ["id", "vi"]

[[source]]
url = "{vn}"
topics = ["vietnam"]

[[source]]
url = "{tech}"

[[source]]
url = "{id}"
"#,
        db = dir.join("tributary.db").display(),
        vn = server.url("vietnamese.xml"),
        tech = server.url("vietnamese_security.xml"),
        id = server.url("indonesian.xml"),
    );
    let path = dir.join("feeds.toml");
    std::fs::write(&path, text).expect("write config");
    path
}

/// The entry ids of a topic's JSON Feed, newest first.
async fn topic_ids(config: &Path, slug: &str) -> Vec<String> {
    let config = Config::load(config).expect("config");
    let store = SqliteStore::open(&config.storage.path).expect("store");
    let app = router(AppState::new(
        Arc::new(store),
        Arc::new(config),
        Arc::new(|| chrono::Utc::now().timestamp()),
    ));
    let (_, _, body) = common::router_get(&app, &format!("/topics/{slug}.json")).await;
    let json: serde_json::Value = serde_json::from_str(&body).expect("json");
    json["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["id"].as_str().expect("id").to_string())
        .collect()
}

const BSSN: &str = "https://warta.example.id/tekno/bssn-perkuat-201";
const FESTIVAL: &str = "https://warta.example.id/hiburan/festival-202";
const BERAS: &str = "https://warta.example.id/ekonomi/beras-203";
const MA_DOC: &str = "https://congnghe.example.vn/bao-mat/ma-doc-301.html";
const DIEN_THOAI: &str = "https://congnghe.example.vn/thiet-bi/dien-thoai-302.html";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_join_topics_by_rules_and_follow_rule_changes() {
    let server = FixtureServer::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    // The Vietnamese keyword is written without diacritics, the Indonesian one in lowercase.
    let config = write_config(dir.path(), &server, r#""an ninh mang", "siber""#);
    let (code, stdout, stderr) = fetch(&config, &[]).await;
    assert_eq!(code, 0, "{stdout}\n{stderr}");

    // Keywords match whole words with and without diacritics, from every source.
    assert_eq!(topic_ids(&config, "security").await, [MA_DOC, BSSN]);
    // Categories compared without case or diacritics, in the listed languages only.
    assert_eq!(topic_ids(&config, "economy").await, [DIEN_THOAI, BERAS]);
    // A topic without a filter takes every entry of the sources listing it, and only those.
    assert_eq!(topic_ids(&config, "vietnam").await.len(), 3);
    assert_eq!(topic_ids(&config, "all").await.len(), 8);

    // test-topic explains each match.
    let (code, stdout, stderr) = tributary(&config, &["test-topic", "security"]);
    assert_eq!(code, 0, "{stderr}");
    let mut lines = stdout.lines();
    assert_eq!(
        lines.next(),
        Some("security: 2 of 8 stored entries match (showing 2)")
    );
    assert!(
        stdout.contains(&format!(
            "    {MA_DOC}\n    matched: all_sources; any \"an ninh mang\" in title; no \"none\" keyword\n"
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "    {BSSN}\n    matched: all_sources; any \"siber\" in title; no \"none\" keyword\n"
        )),
        "{stdout}"
    );
    let (_, limited, _) = tributary(&config, &["test-topic", "economy", "--limit", "1"]);
    assert!(
        limited.starts_with("economy: 2 of 8 stored entries match (showing 1)\n"),
        "{limited}"
    );
    assert!(
        limited.contains("category \"Kinh doanh\"; language vi-vn"),
        "{limited}"
    );
    let (code, _, stderr) = tributary(&config, &["test-topic", "nope"]);
    assert_eq!(code, 1);
    assert!(
        stderr
            .contains("unknown topic \"nope\" (topics in feeds.toml: vietnam, security, economy)"),
        "{stderr}"
    );

    // New rules: test-topic tries them before anything is recomputed...
    let config = write_config(dir.path(), &server, r#""cybersiberia", "bệnh viện""#);
    let (_, stdout, _) = tributary(&config, &["test-topic", "security"]);
    assert!(stdout.starts_with("security: 2 of 8"), "{stdout}");
    assert!(
        stdout.contains(FESTIVAL) && !stdout.contains(BSSN),
        "{stdout}"
    );
    assert_eq!(topic_ids(&config, "security").await, [MA_DOC, BSSN]);
    // ...and the next start recomputes stored membership, with no new entries needed.
    let (code, stdout, stderr) = fetch(&config, &[]).await;
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert_eq!(topic_ids(&config, "security").await, [MA_DOC, FESTIVAL]);
    assert_eq!(topic_ids(&config, "all").await.len(), 8);
}

#[test]
fn an_invalid_topic_regex_is_a_config_error_with_line_and_column() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("feeds.toml");
    std::fs::write(
        &path,
        "[[topic]]\nslug = \"cve\"\ntitle = \"CVE\"\nall_sources = true\n\n[topic.filter]\nregex = \"CVE-[0-9\"\n",
    )
    .expect("write");
    let (code, _, stderr) = tributary(&path, &["check"]);
    assert_eq!(code, 1);
    assert!(
        stderr.starts_with(&format!(
            "{}:7:9: topic.filter.regex: invalid regex:",
            path.display()
        )),
        "{stderr}"
    );
}
