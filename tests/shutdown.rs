//! SIGTERM in the middle of a refresh cycle over many sources: the daemon exits 0, the database
//! passes `PRAGMA integrity_check`, and every refresh it reported as stored is in the database
//! whole, none twice.

mod common;

use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::FixtureServer;

const SOURCES: usize = 150;
const ENTRIES: usize = 12;

/// A feed of `ENTRIES` entries whose words are unique to (feed, entry), so no two entries are
/// near-duplicates of each other.
fn feed(n: usize) -> Vec<u8> {
    let mut items = String::new();
    for e in 0..ENTRIES {
        let words: Vec<String> = (0..40)
            .map(|w| format!("w{}x{}y{}", n * 7919 + e * 104_729 + w * 31, e, w))
            .collect();
        items.push_str(&format!(
            "<item><title>Story {e} of feed {n} {}</title><link>http://example.com/{n}/{e}</link>\
             <guid>urn:feed{n}:entry{e}</guid><pubDate>Mon, 01 Jun 2026 0{}:00:00 GMT</pubDate>\
             <description>{}</description></item>",
            words[0],
            e % 10,
            words.join(" ")
        ));
    }
    format!(
        "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>Feed {n}</title>\
         <link>http://example.com/{n}</link><description>d</description>{items}</channel></rss>"
    )
    .into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_mid_cycle_keeps_the_database_whole() {
    let server = FixtureServer::start().await;
    let mut sources = Vec::new();
    for n in 0..SOURCES {
        let name = format!("many{n}.xml");
        server.set(&name, 200, "application/rss+xml", feed(n));
        sources.push(name);
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let listed: Vec<(&str, &[&str])> = sources.iter().map(|s| (s.as_str(), &[][..])).collect();
    let addr = format!("127.0.0.1:{}", common::free_port());
    let config = common::write_config_listening(dir.path(), &addr, &server, &listed, "");
    let log = dir.path().join("log.json");

    let (code, mid_cycle) = tokio::task::spawn_blocking({
        let log = log.clone();
        move || {
            let mut child = Command::new(env!("CARGO_BIN_EXE_tributary"))
                .args(["--log-format", "json", "--log-level", "info", "--config"])
                .arg(&config)
                .arg("run")
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(&log).expect("log"))
                .spawn()
                .expect("start tributary run");
            // Wait for the first few refreshes to be reported, then stop it mid-cycle.
            let deadline = Instant::now() + Duration::from_secs(60);
            let mut refreshed = 0;
            while Instant::now() < deadline {
                let text = std::fs::read_to_string(&log).unwrap_or_default();
                refreshed = text.matches("\"refreshed\"").count();
                if refreshed >= 5 {
                    break;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let code = common::wait_exit(&mut child, Duration::from_secs(30));
            (code, refreshed < SOURCES)
        }
    })
    .await
    .expect("join");
    assert_eq!(code, Some(0), "exit code after SIGTERM");
    assert!(
        mid_cycle,
        "the cycle finished before SIGTERM: test proves nothing"
    );

    // What the daemon reported as stored: new entries per source URL.
    let text = std::fs::read_to_string(&log).expect("log");
    let mut reported: HashMap<String, i64> = HashMap::new();
    for line in text.lines() {
        let Ok(event) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if event["message"] == "refreshed" {
            let url = event["url"].as_str().expect("url field").to_string();
            let new = event["new"].as_i64().expect("new field");
            assert!(
                reported.insert(url, new).is_none(),
                "a source refreshed twice"
            );
        }
    }
    assert!(!reported.is_empty());
    assert!(
        reported.len() < SOURCES,
        "every source finished before the stop"
    );

    let db = rusqlite::Connection::open(dir.path().join("tributary.db")).expect("open db");
    let integrity: String = db
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .expect("integrity_check");
    assert_eq!(integrity, "ok");
    let mut stored: HashMap<String, i64> = HashMap::new();
    let mut stmt = db
        .prepare(
            "SELECT s.url, COUNT(*) FROM sightings g JOIN sources s ON s.id = g.source_id \
             GROUP BY s.url",
        )
        .expect("prepare");
    let rows = stmt
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
        .expect("query");
    for row in rows {
        let (url, n) = row.expect("row");
        stored.insert(url, n);
    }
    for (url, new) in &reported {
        assert_eq!(*new, ENTRIES as i64, "{url} reported a partial refresh");
        assert_eq!(stored.get(url), Some(new), "{url}: reported {new} stored");
    }
    // Whatever else is stored is whole too: a refresh commits all its entries or none.
    for (url, n) in &stored {
        assert_eq!(*n, ENTRIES as i64, "{url} stored partially");
    }
    let duplicates: i64 = db
        .query_row(
            "SELECT COUNT(*) - COUNT(DISTINCT public_id) FROM entries",
            [],
            |r| r.get(0),
        )
        .expect("count");
    assert_eq!(duplicates, 0, "an entry stored twice");
    let entries: i64 = db
        .query_row("SELECT COUNT(*) FROM entries", [], |r| r.get(0))
        .expect("count");
    assert_eq!(entries, stored.values().sum::<i64>());
}
