//! Real feed readers read our output: Python feedparser (the reference parser) and newsboat.
//! Ignored by default because they need those tools; `.ci/run` installs them and runs these with
//! `cargo test -- --include-ignored`.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use common::{FixtureServer, fetch, standard_sources};
use tributary::config::Config;
use tributary::model::StoredEntry;
use tributary::model::TopicSlug;
use tributary::server::{AppState, router};
use tributary::store::{SqliteStore, Store};

const TOPICS: [&str; 4] = ["all", "tech", "vietnam", "local"];

/// Fetches the fixtures, then serves the real router on 127.0.0.1; returns the base URL and the
/// store to compare against.
async fn serve_fixtures(dir: &Path) -> (String, Arc<dyn Store>) {
    serve_fixtures_with(dir, &[]).await
}

/// [`serve_fixtures`] with more documents, each (name served at, fixture path, topics).
async fn serve_fixtures_with(
    dir: &Path,
    extra: &[(&'static str, &str, &'static [&'static str])],
) -> (String, Arc<dyn Store>) {
    let server = FixtureServer::start().await;
    let mut sources = standard_sources();
    for (name, fixture, topics) in extra {
        let body = std::fs::read(common::fixture_path(fixture)).expect("fixture");
        server.set(name, 200, "application/xml", body);
        sources.push((name, topics));
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}/", listener.local_addr().expect("addr"));
    let config_path = common::write_config(dir, &base, &server, "", &sources);
    let (code, stdout, stderr) = fetch(&config_path, &[]).await;
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let config = Config::load(&config_path).expect("config");
    let store = Arc::new(SqliteStore::open(&config.storage.path).expect("store"));
    let app = router(AppState::new(
        store.clone(),
        Arc::new(config),
        Arc::new(|| chrono::Utc::now().timestamp()),
    ));
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (base, store)
}

/// The id our Atom output gives an entry (see publish::atom): relative guids become fragments.
fn atom_id(e: &StoredEntry) -> String {
    if e.public_id.contains(':') {
        e.public_id.clone()
    } else {
        format!("{}#{}", e.source.url, e.public_id)
    }
}

fn stored(store: &dyn Store, topic: &str) -> Vec<StoredEntry> {
    store
        .topic_entries(&TopicSlug::new(topic).expect("slug"), 50)
        .expect("read")
}

/// A Python that can import feedparser: Debian's python3-feedparser lives under /usr/bin.
fn python_with_feedparser() -> String {
    let candidates = [
        std::env::var("TRIBUTARY_TEST_PYTHON").unwrap_or_default(),
        "/usr/bin/python3".into(),
        "python3".into(),
    ];
    for python in candidates.iter().filter(|p| !p.is_empty()) {
        let ok = Command::new(python)
            .args(["-c", "import feedparser"])
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            return python.clone();
        }
    }
    panic!("no python3 with feedparser found: apt-get install python3-feedparser");
}

const FEEDPARSER_SCRIPT: &str = r#"
import json, sys, feedparser
d = feedparser.parse(sys.argv[1])
print(json.dumps({
    "status": d.get("status"),
    "bozo": bool(d.bozo),
    "bozo_exception": str(d.get("bozo_exception", "")),
    "version": d.get("version"),
    "self": [l.get("href") for l in d.feed.get("links", []) if l.get("rel") == "self"],
    "entries": [{"id": e.get("id"), "title": e.get("title"), "link": e.get("link"),
                 "published": list(e.get("published_parsed") or [])[:6]} for e in d.entries],
}))
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Python feedparser (apt-get install python3-feedparser); run by .ci/run"]
async fn feedparser_reads_every_topic_without_bozo() {
    let python = python_with_feedparser();
    let dir = tempfile::tempdir().expect("tempdir");
    let (base, store) = serve_fixtures(dir.path()).await;
    for topic in TOPICS {
        let expected = stored(&*store, topic);
        assert!(!expected.is_empty(), "{topic} has entries");
        for (ext, version) in [("atom", "atom10"), ("rss", "rss20")] {
            let url = format!("{base}topics/{topic}.{ext}");
            let python = python.clone();
            let script_url = url.clone();
            let output = tokio::task::spawn_blocking(move || {
                Command::new(python)
                    .args(["-c", FEEDPARSER_SCRIPT, &script_url])
                    .output()
                    .expect("run python")
            })
            .await
            .expect("join");
            assert!(
                output.status.success(),
                "{}",
                String::from_utf8_lossy(&output.stderr)
            );
            let parsed: serde_json::Value =
                serde_json::from_slice(&output.stdout).expect("script prints JSON");
            assert_eq!(parsed["status"], 200, "{url}");
            assert_eq!(parsed["bozo"], false, "{url}: {}", parsed["bozo_exception"]);
            assert_eq!(parsed["version"], version, "{url}");
            assert_eq!(
                parsed["self"][0],
                url.as_str(),
                "{url}: self link is the served URL"
            );
            let entries = parsed["entries"].as_array().expect("entries");
            let ids: Vec<&str> = entries
                .iter()
                .map(|e| e["id"].as_str().unwrap_or(""))
                .collect();
            let want_ids: Vec<String> = expected
                .iter()
                .map(|e| {
                    if ext == "atom" {
                        atom_id(e)
                    } else {
                        e.public_id.clone()
                    }
                })
                .collect();
            assert_eq!(ids, want_ids, "{url}: same entries in the same order");
            for (got, want) in entries.iter().zip(&expected) {
                assert_eq!(got["title"], want.title.as_str(), "{url}");
                assert_eq!(got["link"].as_str(), want.link.as_deref(), "{url}");
                let ts = chrono::DateTime::from_timestamp(want.published, 0).expect("date");
                let want_date = ts.format("%Y %-m %-d %-H %-M %-S").to_string();
                let got_date: Vec<String> = got["published"]
                    .as_array()
                    .expect("date")
                    .iter()
                    .map(|v| v.to_string())
                    .collect();
                assert_eq!(got_date.join(" "), want_date, "{url}: {}", want.public_id);
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs newsboat (apt-get install newsboat); run by .ci/run"]
async fn newsboat_subscribes_to_every_topic() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (base, store) = serve_fixtures(dir.path()).await;
    // newsboat keeps one row per guid across all its feeds, so each feed gets a cache of its own.
    for topic in TOPICS {
        let expected = stored(&*store, topic);
        for ext in ["atom", "rss"] {
            let url = format!("{base}topics/{topic}.{ext}");
            let run_dir = dir.path().join(format!("newsboat-{topic}-{ext}"));
            std::fs::create_dir_all(run_dir.join("home")).expect("home");
            std::fs::write(run_dir.join("urls"), format!("{url}\n")).expect("urls");
            std::fs::write(run_dir.join("config"), "").expect("config");
            let run = run_dir.clone();
            let output = tokio::task::spawn_blocking(move || {
                Command::new("newsboat")
                    .env("HOME", run.join("home"))
                    .env_remove("XDG_CONFIG_HOME")
                    .env_remove("XDG_DATA_HOME")
                    .arg("-u")
                    .arg(run.join("urls"))
                    .arg("-c")
                    .arg(run.join("cache.db"))
                    .arg("-C")
                    .arg(run.join("config"))
                    .args(["-x", "reload"])
                    .output()
                    .expect("run newsboat")
            })
            .await
            .expect("join");
            let said = format!(
                "{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
            assert!(output.status.success(), "newsboat failed on {url}: {said}");

            let db = rusqlite::Connection::open(run_dir.join("cache.db")).expect("newsboat cache");
            let mut stmt = db
                .prepare("SELECT guid, title, url, pubDate FROM rss_item WHERE feedurl = ?1")
                .expect("query");
            let rows: BTreeSet<(String, String, String, i64)> = stmt
                .query_map([&url], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
                .expect("rows")
                .collect::<Result<_, _>>()
                .expect("rows");
            let want: BTreeSet<(String, String, String, i64)> = expected
                .iter()
                .map(|e| {
                    let id = if ext == "atom" {
                        atom_id(e)
                    } else {
                        e.public_id.clone()
                    };
                    // The publication date: Atom's published, RSS's pubDate.
                    (
                        id,
                        e.title.clone(),
                        e.link.clone().unwrap_or_default(),
                        e.published,
                    )
                })
                .collect();
            assert_eq!(
                rows, want,
                "{url}: newsboat stored the same entries ({said})"
            );
            let title: String = db
                .query_row(
                    "SELECT title FROM rss_feed WHERE rssurl = ?1",
                    [&url],
                    |r| r.get(0),
                )
                .expect("feed row");
            let want_title = if topic == "all" {
                "All entries".to_string()
            } else {
                Config::load(&dir.path().join("feeds.toml"))
                    .expect("config")
                    .topic(topic)
                    .map(|t| t.title.clone())
                    .unwrap_or_default()
            };
            assert_eq!(title, want_title, "{url}");
        }
    }
}

async fn body_of(url: &str) -> Vec<u8> {
    let response = reqwest::get(url).await.expect("GET");
    assert_eq!(response.status(), 200, "{url}");
    response.bytes().await.expect("body").to_vec()
}

/// Runs `program args` with `input` on standard input; returns whether it succeeded, and its
/// standard output and error.
async fn pipe(program: &str, args: &[&str], input: Vec<u8>) -> (bool, String, String) {
    use std::io::Write as _;
    let program = program.to_string();
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let mut child = Command::new(&program)
            .args(&args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(&input)
            .expect("write stdin");
        let output = child.wait_with_output().expect("wait");
        (
            output.status.success(),
            String::from_utf8(output.stdout).expect("UTF-8 output"),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    })
    .await
    .expect("join")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs sfeed (apt-get install sfeed); run by .ci/run"]
async fn sfeed_parses_every_entry_and_date() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (base, store) = serve_fixtures(dir.path()).await;
    for topic in TOPICS {
        let expected = stored(&*store, topic);
        for ext in ["atom", "rss"] {
            let url = format!("{base}topics/{topic}.{ext}");
            // sfeed reads a feed on standard input and writes one TSV line per entry:
            // UNIX time, title, link, content, content type, id, author, enclosure, category.
            let (ok, tsv, stderr) = pipe("sfeed", &[], body_of(&url).await).await;
            assert!(ok, "{url}: {stderr}");
            let lines: Vec<Vec<&str>> = tsv.lines().map(|l| l.split('\t').collect()).collect();
            assert_eq!(lines.len(), expected.len(), "{url}: every entry\n{tsv}");
            for (fields, want) in lines.iter().zip(&expected) {
                let time: i64 = fields[0].parse().unwrap_or_else(|_| {
                    panic!("{url}: sfeed could not read the date of {fields:?}")
                });
                // Atom readers take the published date when there is one; RSS has only pubDate.
                assert_eq!(time, want.published, "{url}: date of {}", want.public_id);
                assert_eq!(fields[1], want.title.as_str(), "{url}");
                assert_eq!(Some(fields[2]), want.link.as_deref().or(Some("")), "{url}");
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Python jsonschema (apt-get install python3-jsonschema); run by .ci/run"]
async fn json_feed_output_validates_against_the_1_1_schema() {
    const VALIDATE: &str = r#"
import json, sys, jsonschema
schema = json.load(open(sys.argv[1]))
jsonschema.Draft202012Validator.check_schema(schema)
validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
errors = sorted(validator.iter_errors(json.load(sys.stdin)), key=lambda e: list(e.path))
for e in errors:
    print("/".join(map(str, e.path)) + ": " + e.message)
sys.exit(1 if errors else 0)
"#;
    let schema = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/json_feed_1_1.schema.json");
    let schema = schema.to_str().expect("UTF-8 path");
    // The schema refuses what it should: a 1.0 feed, an item without content, an unknown key.
    for bad in [
        r#"{"version":"https://jsonfeed.org/version/1","title":"t","items":[]}"#,
        r#"{"version":"https://jsonfeed.org/version/1.1","title":"t","items":[{"id":"1"}]}"#,
        r#"{"version":"https://jsonfeed.org/version/1.1","title":"t","items":[],"author":{"name":"x"}}"#,
        r#"{"version":"https://jsonfeed.org/version/1.1","title":"t","items":[{"id":"1","content_text":"x","date_published":"19 Nov 2026"}]}"#,
    ] {
        let (ok, _, stderr) = pipe("/usr/bin/python3", &["-c", VALIDATE, schema], bad.into()).await;
        assert!(!ok, "schema accepted {bad} ({stderr})");
    }
    let dir = tempfile::tempdir().expect("tempdir");
    // With an original and its translations, whose versions the items name.
    let (base, store) = serve_fixtures_with(
        dir.path(),
        &[
            (
                "origins-dantri.xml",
                "origins/dantri_originals.xml",
                &["local"],
            ),
            (
                "origins-indonesian.xml",
                "origins/indonesian_portal.xml",
                &["local"],
            ),
            (
                "origins-english.atom",
                "origins/english_digest.atom",
                &["local"],
            ),
        ],
    )
    .await;
    let all = body_of(&format!("{base}topics/all.json")).await;
    assert!(
        String::from_utf8_lossy(&all).contains("\"translations\""),
        "no translations in the feed"
    );
    for topic in TOPICS {
        let url = format!("{base}topics/{topic}.json");
        let body = body_of(&url).await;
        let (ok, report, stderr) =
            pipe("/usr/bin/python3", &["-c", VALIDATE, schema], body.clone()).await;
        assert!(ok, "{url}: {report}{stderr}");
        let feed: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
        assert_eq!(
            feed["items"].as_array().map(Vec::len),
            Some(stored(&*store, topic).len()),
            "{url}"
        );
    }
}

const FEEDPARSER_TEXT_SCRIPT: &str = r#"
import json, sys, feedparser
d = feedparser.parse(sys.argv[1])
def text(e):
    content = e.get("content") or []
    return content[0].get("value") if content else e.get("summary")
print(json.dumps([{"title": e.get("title"), "link": e.get("link"), "text": text(e)} for e in d.entries]))
"#;

/// feedparser is the reference: on our reading fixtures it finds the same entries as we do, and
/// the same text (compared as plain text: both sanitize, each in its own way).
#[test]
#[ignore = "needs Python feedparser (apt-get install python3-feedparser); run by .ci/run"]
fn feedparser_and_we_read_the_same_entries_and_text_from_odd_documents() {
    let python = python_with_feedparser();
    let base = url::Url::parse("http://fixtures.example/feed.xml").expect("url");
    for name in [
        "content_carriers.xml",
        "rss_userland_namespace.xml",
        "rdf_without_namespace.xml",
        "rss_without_version.xml",
        "nested_items.xml",
    ] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(name);
        let output = Command::new(&python)
            .args(["-c", FEEDPARSER_TEXT_SCRIPT])
            .arg(&path)
            .output()
            .expect("run feedparser");
        assert!(output.status.success(), "{name}: {output:?}");
        let theirs: Vec<serde_json::Value> =
            serde_json::from_slice(&output.stdout).expect("feedparser's JSON");
        let body = std::fs::read(&path).expect("fixture");
        let feed = tributary::parse::parse_feed(&body, &base, None).expect("parses");
        let ours = tributary::normalize::normalize(&feed, &base, 1_795_000_000).entries;
        assert_eq!(ours.len(), theirs.len(), "{name}: entry count");
        let plain = |html: &str| tributary::text::html_to_text(html);
        for (mine, theirs) in ours.iter().zip(&theirs) {
            assert_eq!(
                Some(mine.title.as_str()),
                theirs["title"].as_str(),
                "{name}"
            );
            let their_text = plain(theirs["text"].as_str().unwrap_or(""));
            let my_text = plain(
                mine.content_html
                    .as_deref()
                    .or(mine.summary_html.as_deref())
                    .unwrap_or(""),
            );
            assert_eq!(my_text, their_text, "{name}: {}", mine.title);
        }
    }
}
