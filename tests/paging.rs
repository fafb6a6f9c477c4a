//! `tributary run` serves a topic in pages (RFC 5005): a reader following `rel="next"` from the
//! first page sees every entry exactly once, in the order of the topic.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{FixtureServer, free_port, http_get};

const ENTRIES: usize = 23;

/// An RSS feed of `ENTRIES` items; every third pair shares a publication time, so the order
/// within a time (entry id) is exercised too.
fn feed() -> Vec<u8> {
    let mut doc = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\"><channel><title>Paged</title>\
         <link>https://paged.example/</link><description>Many items</description>\n",
    );
    for i in 0..ENTRIES {
        let minute = (i / 2) % 60;
        doc.push_str(&format!(
            "<item><title>Item {i}</title><link>https://paged.example/{i}</link>\
             <guid>https://paged.example/{i}</guid>\
             <pubDate>Mon, 02 Nov 2026 10:{minute:02}:00 +0000</pubDate>\
             <description>Text {i}</description></item>\n"
        ));
    }
    doc.push_str("</channel></rss>\n");
    doc.into_bytes()
}

/// The entry ids of an Atom document and its `rel="next"` link.
fn read_atom(body: &str) -> (Vec<String>, Option<String>) {
    let doc = roxmltree::Document::parse(body).expect("atom parses");
    let feed = doc.root_element();
    let ids = feed
        .children()
        .filter(|n| n.has_tag_name("entry"))
        .map(|entry| {
            entry
                .children()
                .find(|n| n.has_tag_name("id"))
                .and_then(|n| n.text())
                .expect("entry id")
                .to_string()
        })
        .collect();
    let next = feed
        .children()
        .find(|n| n.has_tag_name("link") && n.attribute("rel") == Some("next"))
        .and_then(|n| n.attribute("href"))
        .map(str::to_string);
    (ids, next)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn following_next_links_visits_every_entry_once_in_order() {
    let server = FixtureServer::start().await;
    server.set("paged.xml", 200, "application/rss+xml", feed());
    let dir = tempfile::tempdir().expect("tempdir");
    let addr = format!("127.0.0.1:{}", free_port());
    let config =
        common::write_config_listening(dir.path(), &addr, &server, &[("paged.xml", &["tech"])], "");

    let mut child = common::spawn_run(&config, "warn", Stdio::null());

    let walk_addr = addr.clone();
    let outcome = tokio::task::spawn_blocking(move || {
        // The whole topic on one page, once the source is polled: the expected order.
        let deadline = Instant::now() + Duration::from_secs(30);
        let expected = loop {
            if let Some((200, body)) = http_get(&walk_addr, "/topics/tech.atom?limit=500") {
                let (ids, next) = read_atom(&body);
                if ids.len() == ENTRIES {
                    assert_eq!(next, None, "one page holds the whole topic");
                    break ids;
                }
            }
            assert!(
                Instant::now() < deadline,
                "the source was not polled in time"
            );
            std::thread::sleep(Duration::from_millis(100));
        };

        let prefix = format!("http://{walk_addr}");
        let mut seen = Vec::new();
        let mut path = "/topics/tech.atom?limit=4".to_string();
        let mut pages = 0;
        loop {
            let (status, body) = http_get(&walk_addr, &path).expect("page");
            assert_eq!(status, 200, "{path}");
            pages += 1;
            let (ids, next) = read_atom(&body);
            assert!(ids.len() <= 4, "{path}: the limit holds");
            seen.extend(ids);
            match next {
                Some(href) => {
                    path = href.strip_prefix(&prefix).expect("our own URL").to_string();
                    assert!(
                        path.contains("before=") && path.contains("limit=4"),
                        "{path}"
                    );
                }
                None => break,
            }
            assert!(pages <= ENTRIES, "the walk ends");
        }
        (expected, seen, pages)
    })
    .await;

    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
    let (expected, seen, pages) = outcome.expect("walk");
    assert_eq!(seen, expected, "every entry once, newest first");
    assert_eq!(pages, ENTRIES.div_ceil(4));
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), ENTRIES);
}
