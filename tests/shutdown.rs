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

/// The daemon's grace period for requests and refreshes after SIGTERM.
const GRACE: Duration = Duration::from_secs(10);

/// An RSS feed of `entries` entries of about 30 KB of text each, no two alike.
fn big_feed(entries: usize) -> Vec<u8> {
    let mut items = String::new();
    for e in 0..entries {
        let words: Vec<String> = (0..4000).map(|w| format!("b{e}x{w}")).collect();
        items.push_str(&format!(
            "<item><title>Big story {e}</title><link>http://example.com/big/{e}</link>\
             <guid>urn:big:{e}</guid><pubDate>Mon, 01 Jun 2026 10:{:02}:00 GMT</pubDate>\
             <description>{}</description></item>",
            e % 60,
            words.join(" ")
        ));
    }
    format!(
        "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>Big</title>\
         <link>http://example.com/big</link><description>d</description>{items}</channel></rss>"
    )
    .into_bytes()
}

/// The whole response to a GET, however long it takes to come (up to a minute); empty on error.
fn get_slowly(addr: &str, path: &str) -> String {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::net::TcpStream::connect(addr) else {
        return String::new();
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(60)));
    let _ = write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    );
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    response
}

/// The `message` of every JSON event in the log, in order.
fn messages(log: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|e| e["message"].as_str().map(str::to_string))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_with_a_refresh_that_never_finishes_and_a_client_not_reading_is_bounded() {
    use tokio::io::AsyncWriteExt;
    let server = FixtureServer::start().await;
    server.set("big.xml", 200, "application/rss+xml", big_feed(20));
    let drip = common::DripServer::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let addr = format!("127.0.0.1:{}", common::free_port());
    let config = common::write_config_listening(
        dir.path(),
        &addr,
        &server,
        &[("big.xml", &["tech"]), ("drip.xml", &["tech"])],
        "",
    );
    common::redirect_source(&config, &server, "drip.xml", &drip.url(), "600s");
    let log = dir.path().join("log.json");
    let mut child = Command::new(env!("CARGO_BIN_EXE_tributary"))
        .args(["--log-format", "json", "--log-level", "info", "--config"])
        .arg(&config)
        .arg("run")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).expect("log"))
        .spawn()
        .expect("start tributary run");

    let (page, requests) = (addr.clone(), drip.requests.clone());
    let ready = tokio::task::spawn_blocking(move || {
        // The first request renders the page in every coding, which takes a while in a debug
        // build on a busy machine: wait for whole answers, not for a read timeout.
        let deadline = Instant::now() + Duration::from_secs(90);
        let mut stored = false;
        while !stored && Instant::now() < deadline {
            stored = get_slowly(&page, "/topics/tech.atom").contains("Big story 19");
            std::thread::sleep(Duration::from_millis(200));
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        while requests.load(std::sync::atomic::Ordering::SeqCst) == 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        stored
    })
    .await
    .expect("join");
    assert!(ready, "the big page was never served");
    assert!(drip.requests() >= 1, "the never-ending refresh never began");

    // A client that asks for the multi-megabyte page many times over and reads none of it: the
    // server blocks writing to it once the socket buffers are full.
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket.set_recv_buffer_size(4096).expect("SO_RCVBUF");
    let mut stalled = socket
        .connect(addr.parse().expect("addr"))
        .await
        .expect("connect");
    let requests = "GET /topics/tech.atom HTTP/1.1\r\nHost: t\r\n\r\n".repeat(32);
    stalled
        .write_all(requests.as_bytes())
        .await
        .expect("write requests");
    tokio::time::sleep(Duration::from_secs(1)).await;

    let (code, took) = tokio::task::spawn_blocking(move || {
        let signalled = Instant::now();
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let code = common::wait_exit(&mut child, GRACE * 3);
        (code, signalled.elapsed())
    })
    .await
    .expect("join");
    drop(stalled);
    assert_eq!(
        code,
        Some(0),
        "exit code after SIGTERM (None: still running)"
    );
    assert!(
        took <= GRACE + Duration::from_secs(5),
        "exited {took:?} after SIGTERM, beyond the {GRACE:?} grace period"
    );
    let messages = messages(&log);
    assert!(
        messages
            .iter()
            .any(|m| m.starts_with("running refreshes did not finish")),
        "the never-ending refresh was not abandoned: {messages:?}"
    );
    assert_eq!(
        messages.last().map(String::as_str),
        Some("stopped"),
        "\"stopped\" is the last thing logged"
    );
}
