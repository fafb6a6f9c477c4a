//! `tributary migrate-to`, through the real binary: a SQLite database holding every kind of row
//! (fetched from loopback feeds, then pruned) copied into a throwaway PostgreSQL database and
//! compared column by column; an interrupted copy run again; targets that hold something else
//! refused; the refusals that need no server; and a PostgreSQL node serving the copy with the
//! same bytes as the SQLite one.
//!
//! Tests here are plain `#[test]`s: the PostgreSQL client blocks, and must not run inside an
//! async runtime; the feed server runs on a runtime of its own.

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{FixtureServer, tributary, write_config};
use postgres::{Client, NoTls};
use rusqlite::types::ValueRef;
use tributary::store::postgres::testing::TestDatabase;

const BASE: &str = "http://feeds.test/";

/// The tables copied as they are, each with its primary key (the order rows are compared in).
const TABLES: &[(&str, &[&str])] = &[
    ("sources", &["id"]),
    ("source_topics", &["source_id", "topic"]),
    ("entries", &["id"]),
    ("sightings", &["source_id", "entry_key"]),
    ("entry_topics", &["topic", "sort_at", "entry_id"]),
    ("tombstones", &["source_id", "entry_key"]),
    ("settings", &["key"]),
];

/// An RSS document of `items` (guid, title, link), published a day apart.
fn rss(title: &str, items: &[(String, String, String)]) -> Vec<u8> {
    let mut body = format!(
        "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>{title}</title>\
         <link>https://{title}.example/</link><description>{title}</description>"
    );
    for (i, (guid, item_title, link)) in items.iter().enumerate() {
        body.push_str(&format!(
            "<item><guid>{guid}</guid><title>{item_title}</title><link>{link}</link>\
             <description>&lt;p&gt;{item_title}: Hà Nội mưa lớn, số {i}&lt;/p&gt;</description>\
             <pubDate>{} Nov 2026 08:00:00 +0000</pubDate></item>",
            (i % 28) + 1
        ));
    }
    body.push_str("</channel></rss>");
    body.into_bytes()
}

/// A feed server and its runtime, which must outlive every request made of it.
struct Feeds {
    _runtime: tokio::runtime::Runtime,
    server: FixtureServer,
}

fn start_feeds() -> Feeds {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let server = runtime.block_on(FixtureServer::start());
    Feeds {
        _runtime: runtime,
        server,
    }
}

/// A SQLite database with every kind of row: sources with validators and schedules, stories in
/// several topics, a story two sources share, translations, stories crediting an original,
/// tombstones (a prune below the per-source cap), the settings the store keeps. `many` is how
/// many stories the busiest source carries. Returns the config's path.
fn build_sqlite(dir: &Path, feeds: &Feeds, many: usize) -> PathBuf {
    let server = &feeds.server;
    let shared = |n: usize| {
        (
            format!("shared-{n}"),
            "Mưa lớn ở Hà Nội".to_string(),
            "https://news.example/mua-lon".to_string(),
        )
    };
    server.set(
        "shared-a.xml",
        200,
        "application/rss+xml",
        rss("alpha", &[shared(1)]),
    );
    server.set(
        "shared-b.xml",
        200,
        "application/rss+xml",
        rss("beta", &[shared(2)]),
    );
    let items: Vec<(String, String, String)> = (0..many)
        .map(|i| {
            (
                format!("many-{i}"),
                format!("Story number {i} about topic {}", i % 7),
                format!("https://many.example/story/{i}"),
            )
        })
        .collect();
    server.set("many.xml", 200, "application/rss+xml", rss("many", &items));
    for (name, fixture) in [
        ("origins-dantri.xml", "origins/dantri_originals.xml"),
        ("origins-indonesian.xml", "origins/indonesian_portal.xml"),
        ("origins-english.atom", "origins/english_digest.atom"),
    ] {
        server.set(name, 200, "application/xml", common::fixture(fixture));
    }
    let mut sources = common::standard_sources();
    sources.extend([
        ("shared-a.xml", &["tech", "local"][..]),
        ("shared-b.xml", &["vietnam"][..]),
        ("many.xml", &["tech"][..]),
        ("origins-dantri.xml", &["vietnam"][..]),
        ("origins-indonesian.xml", &["local"][..]),
        ("origins-english.atom", &["local"][..]),
    ]);
    let config = write_config(dir, BASE, server, "", &sources);
    // The original first, so that its republications find it (fetches run at once otherwise).
    let original = server.url("origins-dantri.xml");
    for only in [&["fetch", "--source", original.as_str()][..], &["fetch"]] {
        let (code, stdout, stderr) = tributary(&config, only);
        assert_eq!(code, 0, "fetch:\n{stdout}\n{stderr}");
    }
    // A lower cap, then a prune: the busiest source's older stories go and leave tombstones.
    let text = std::fs::read_to_string(&config).expect("config");
    let text = text.replacen(
        "[storage]\n",
        &format!("[storage]\nmax_entries_per_source = {}\n", many / 2),
        1,
    );
    std::fs::write(&config, text).expect("config");
    let (code, stdout, stderr) = tributary(&config, &["prune"]);
    assert_eq!(code, 0, "prune:\n{stdout}\n{stderr}");
    assert!(!stdout.starts_with("pruned 0 "), "{stdout}");
    let db = sqlite(dir);
    for (table, least) in [
        ("tombstones", 1),
        ("settings", 1),
        ("source_topics", 10),
        ("entry_topics", 10),
    ] {
        let rows: i64 = db
            .query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
            .expect("count");
        assert!(rows >= least, "{table}: {rows} rows");
    }
    let (translations, shared_stories, validators): (i64, i64, i64) = db
        .query_row(
            "SELECT (SELECT COUNT(*) FROM entries WHERE version_of IS NOT NULL),
                    (SELECT COUNT(*) FROM (SELECT entry_id FROM sightings GROUP BY entry_id
                                           HAVING COUNT(*) > 1)),
                    (SELECT COUNT(*) FROM sources WHERE etag IS NOT NULL AND next_due_at IS NOT NULL)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .expect("kinds of rows");
    assert!(translations > 0, "a translation");
    assert!(shared_stories > 0, "a story two sources carry");
    assert!(validators > 0, "sources with validators and schedules");
    config
}

/// A SQLite database built by [`build_sqlite`] in a directory of its own, with the feeds it
/// was fetched from still served.
struct Built {
    _feeds: Feeds,
    dir: tempfile::TempDir,
    config: PathBuf,
}

fn built(many: usize) -> Built {
    let feeds = start_feeds();
    let dir = tempfile::tempdir().expect("tempdir");
    let config = build_sqlite(dir.path(), &feeds, many);
    Built {
        _feeds: feeds,
        dir,
        config,
    }
}

fn sqlite(dir: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open_with_flags(
        dir.join("tributary.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .expect("open the SQLite database")
}

fn postgres(url: &str) -> Client {
    Client::connect(url, NoTls).expect("connect to the test database")
}

/// Runs `migrate-to url` (and `extra` arguments): exit code, stdout, stderr.
fn migrate(config: &Path, url: &str, extra: &[&str]) -> (i32, String, String) {
    let mut args = vec!["migrate-to", url];
    args.extend(extra);
    tributary(config, &args)
}

type Rows = Vec<Vec<Option<String>>>;

/// Every row of `table` in SQLite, each column as text (blobs in hex), in key order.
fn sqlite_rows(db: &rusqlite::Connection, table: &str, key: &[&str]) -> (Vec<String>, Rows) {
    let columns: Vec<String> = db
        .prepare("SELECT name FROM pragma_table_info(?1) ORDER BY cid")
        .and_then(|mut s| {
            s.query_map([table], |r| r.get(0))?
                .collect::<Result<_, _>>()
        })
        .expect("columns");
    let sql = format!(
        "SELECT {} FROM {table} ORDER BY {}",
        columns.join(", "),
        key.join(", ")
    );
    let mut stmt = db.prepare(&sql).expect("select");
    let rows = stmt
        .query_map([], |r| {
            (0..columns.len())
                .map(|i| {
                    Ok(match r.get_ref(i)? {
                        ValueRef::Null => None,
                        ValueRef::Integer(n) => Some(n.to_string()),
                        ValueRef::Real(x) => Some(x.to_string()),
                        ValueRef::Text(t) => Some(String::from_utf8_lossy(t).into_owned()),
                        ValueRef::Blob(b) => Some(b.iter().map(|x| format!("{x:02x}")).collect()),
                    })
                })
                .collect::<Result<Vec<_>, _>>()
        })
        .expect("rows")
        .collect::<Result<Vec<_>, _>>()
        .expect("rows");
    (columns, rows)
}

/// The same columns of `table` in PostgreSQL, as text, in the order SQLite sorts keys (bytes).
fn postgres_rows(client: &mut Client, table: &str, key: &[&str], columns: &[String]) -> Rows {
    let types: HashMap<String, String> = client
        .query(
            "SELECT column_name::text, data_type::text FROM information_schema.columns
             WHERE table_schema = current_schema() AND table_name = $1",
            &[&table],
        )
        .expect("columns")
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let select: Vec<String> = columns
        .iter()
        .map(|c| match types.get(c).map(String::as_str) {
            Some("bytea") => format!("encode({c}, 'hex')"),
            Some(_) => format!("{c}::text"),
            None => panic!("{table}.{c} is not in PostgreSQL"),
        })
        .collect();
    let order: Vec<String> = key
        .iter()
        .map(|k| match types.get(*k).map(String::as_str) {
            // Qualified: a bare name would sort by the output column, the text.
            Some("text") => format!("{table}.{k} COLLATE \"C\""),
            _ => format!("{table}.{k}"),
        })
        .collect();
    client
        .query(
            &format!(
                "SELECT {} FROM {table} ORDER BY {}",
                select.join(", "),
                order.join(", ")
            ),
            &[],
        )
        .expect("rows")
        .iter()
        .map(|r| (0..columns.len()).map(|i| r.get(i)).collect())
        .collect()
}

/// Every copied table holds the same rows, column by column, on both sides; the search index
/// has each story's folded words; new ids come after the copied ones.
fn assert_same_database(dir: &Path, url: &str) {
    let db = sqlite(dir);
    let mut client = postgres(url);
    for (table, key) in TABLES {
        let (columns, ours) = sqlite_rows(&db, table, key);
        let theirs = postgres_rows(&mut client, table, key, &columns);
        assert_eq!(ours.len(), theirs.len(), "{table}: row counts");
        for (a, b) in ours.iter().zip(&theirs) {
            for ((column, x), y) in columns.iter().zip(a).zip(b) {
                assert_eq!(
                    x, y,
                    "{table}.{column}: SQLite row {a:?}, PostgreSQL row {b:?}"
                );
            }
        }
    }
    let stories: Vec<(i64, String, Option<String>, Option<String>)> = db
        .prepare("SELECT id, title, summary_html, content_html FROM entries ORDER BY id")
        .and_then(|mut s| {
            s.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
                .collect::<Result<_, _>>()
        })
        .expect("stories");
    let index: HashMap<i64, Vec<String>> = client
        .query("SELECT entry_id, words FROM entry_search", &[])
        .expect("search index")
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(index.len(), stories.len(), "one search row per story");
    for (id, title, summary, content) in &stories {
        let text = tributary::text::search_text(title, summary.as_deref(), content.as_deref());
        let words: Vec<String> = text.split_whitespace().map(str::to_string).collect();
        assert!(!words.is_empty(), "story {id} has words");
        assert_eq!(index.get(id), Some(&words), "search words of story {id}");
    }
    for table in ["sources", "entries"] {
        let (max, next): (i64, i64) = client
            .query_one(
                &format!(
                    "SELECT (SELECT MAX(id) FROM {table}),
                            nextval(pg_get_serial_sequence('{table}', 'id'))"
                ),
                &[],
            )
            .map(|r| (r.get(0), r.get(1)))
            .expect("sequence");
        assert!(next > max, "{table}: the next id {next} after {max}");
    }
}

/// The count lines `migrate-to` printed, by table.
fn printed_counts(stdout: &str) -> HashMap<String, (u64, u64)> {
    stdout
        .lines()
        .filter_map(|line| {
            let (table, rest) = line.split_once(": ")?;
            let (sqlite, rest) = rest.split_once(" in SQLite, ")?;
            let postgres = rest.strip_suffix(" in PostgreSQL")?;
            Some((
                table.to_string(),
                (sqlite.parse().ok()?, postgres.parse().ok()?),
            ))
        })
        .collect()
}

fn assert_counts_agree(stdout: &str) {
    let counts = printed_counts(stdout);
    for table in TABLES.iter().map(|(t, _)| *t).chain(["entry_search"]) {
        let (sqlite, postgres) = counts
            .get(table)
            .unwrap_or_else(|| panic!("no count line for {table} in:\n{stdout}"));
        assert_eq!(sqlite, postgres, "{table} in:\n{stdout}");
        assert!(*sqlite > 0, "{table} has rows: {stdout}");
    }
}

#[test]
#[ignore = "needs PostgreSQL: .ci/run starts a throwaway server and sets TRIBUTARY_TEST_POSTGRES"]
fn migrate_to_copies_every_row_and_column_and_checks_the_counts() {
    let Built {
        _feeds,
        dir,
        config,
    } = built(12);
    let target = TestDatabase::create().expect("test database");
    let (code, stdout, stderr) = migrate(&config, target.url(), &[]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert_counts_agree(&stdout);
    assert!(
        stdout.contains("every count agrees") && !stdout.contains("interrupted"),
        "{stdout}"
    );
    // Progress per table on standard error, ending with all of each.
    for (table, _) in TABLES {
        assert!(
            stderr
                .lines()
                .any(|l| l.starts_with(&format!("{table}: ")) && l.ends_with(" rows copied")),
            "no progress for {table}:\n{stderr}"
        );
    }
    assert_same_database(dir.path(), target.url());
    // The copy is marked finished: a second run is refused, and changes nothing.
    let (code, stdout, stderr) = migrate(&config, target.url(), &[]);
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    assert!(stderr.contains("already holds a finished copy"), "{stderr}");
    assert_same_database(dir.path(), target.url());
}

#[test]
#[ignore = "needs PostgreSQL: .ci/run starts a throwaway server and sets TRIBUTARY_TEST_POSTGRES"]
fn migrate_to_copy_reads_back_through_the_postgresql_engine_as_through_sqlite() {
    use tributary::model::TopicSlug;
    use tributary::store::Store;
    let Built {
        _feeds,
        dir,
        config,
    } = built(12);
    let target = TestDatabase::create().expect("test database");
    let (code, stdout, stderr) = migrate(&config, target.url(), &[]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let sqlite =
        tributary::store::open_read_only(&dir.path().join("tributary.db")).expect("SQLite store");
    let postgres = tributary::store::PostgresStore::open(target.url(), "reader").expect("store");
    for topic in ["all", "tech", "vietnam", "local"] {
        let slug = TopicSlug::new(topic).expect("slug");
        let ours = sqlite.topic_page(&slug, None, 500).expect("SQLite page");
        assert!(!ours.entries.is_empty(), "{topic} has stories");
        let theirs = postgres
            .topic_page(&slug, None, 500)
            .expect("PostgreSQL page");
        assert_eq!(ours, theirs, "{topic}");
    }
    assert_eq!(
        sqlite.topic_summaries().expect("summaries"),
        postgres.topic_summaries().expect("summaries")
    );
    assert_eq!(
        sqlite.source_states().expect("sources"),
        postgres.source_states().expect("sources")
    );
    assert_eq!(
        sqlite.republications().expect("republications"),
        postgres.republications().expect("republications")
    );
    // The rebuilt index finds what SQLite's finds.
    for query in ["ha noi", "story number", "mua lon"] {
        let found = sqlite.search(query, 100).expect("SQLite search");
        assert!(!found.is_empty(), "{query} finds stories");
        assert_eq!(
            found,
            postgres.search(query, 100).expect("search"),
            "{query}"
        );
    }
}

#[test]
#[ignore = "needs PostgreSQL: .ci/run starts a throwaway server and sets TRIBUTARY_TEST_POSTGRES"]
fn migrate_to_killed_mid_copy_then_run_again_finishes_without_duplicates() {
    let Built {
        _feeds,
        dir,
        config,
    } = built(200);
    let target = TestDatabase::create().expect("test database");
    // One row per transaction, killed once some stories are in: sources and topics whole,
    // stories begun.
    let mut child = Command::new(env!("CARGO_BIN_EXE_tributary"))
        .arg("--config")
        .arg(&config)
        .args(["migrate-to", target.url(), "--batch", "1"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start migrate-to");
    let stderr = child.stderr.take().expect("stderr");
    let mut seen = String::new();
    for line in BufReader::new(stderr).lines() {
        let line = line.expect("progress line");
        seen.push_str(&line);
        seen.push('\n');
        if line.starts_with("entries: 3 of ") {
            child.kill().expect("kill migrate-to");
            break;
        }
    }
    let status = child.wait().expect("wait");
    assert!(!status.success(), "killed before the end:\n{seen}");
    let db = sqlite(dir.path());
    let stories: i64 = db
        .query_row("SELECT COUNT(*) FROM entries", [], |r| r.get(0))
        .expect("count");
    let mut client = postgres(target.url());
    let count = |client: &mut Client, table: &str| -> i64 {
        client
            .query_one(&format!("SELECT COUNT(*) FROM {table}"), &[])
            .expect("count")
            .get(0)
    };
    let copied = count(&mut client, "entries");
    assert!(
        copied >= 3 && copied < stories,
        "interrupted mid-way: {copied} of {stories} stories\n{seen}"
    );
    assert_eq!(count(&mut client, "entry_search"), copied);
    assert_eq!(
        count(&mut client, "tombstones"),
        0,
        "later tables not begun"
    );

    let (code, stdout, stderr) = migrate(&config, target.url(), &[]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(stdout.contains("the interrupted copy finished"), "{stdout}");
    assert!(
        stderr.contains(&format!("entries: {copied} of {stories} rows copied")),
        "resumed after the stories already copied:\n{stderr}"
    );
    assert_counts_agree(&stdout);
    assert_same_database(dir.path(), target.url());
}

#[test]
#[ignore = "needs PostgreSQL: .ci/run starts a throwaway server and sets TRIBUTARY_TEST_POSTGRES"]
fn migrate_to_refuses_a_target_holding_another_database() {
    let Built {
        _feeds,
        dir,
        config,
    } = built(12);
    let db = sqlite(dir.path());
    let first_url: String = db
        .query_row("SELECT url FROM sources WHERE id = 1", [], |r| r.get(0))
        .expect("source 1");

    // Stored in by something else (a node that ran on it): not empty, refused, left alone.
    let used = TestDatabase::create().expect("test database");
    drop(tributary::store::PostgresStore::open(used.url(), "other-node").expect("create schema"));
    let mut client = postgres(used.url());
    client
        .execute(
            "INSERT INTO sources (url) VALUES ('https://elsewhere.example/feed')",
            &[],
        )
        .expect("a source of another database");
    let (code, stdout, stderr) = migrate(&config, used.url(), &[]);
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    assert!(
        stderr.contains("is not empty (1 rows in sources)"),
        "{stderr}"
    );
    let sources: i64 = client
        .query_one("SELECT COUNT(*) FROM sources", &[])
        .expect("count")
        .get(0);
    assert_eq!(sources, 1, "nothing copied into it");

    // An unfinished copy of another database: its source 1 has another URL.
    let other = TestDatabase::create().expect("test database");
    drop(tributary::store::PostgresStore::open(other.url(), "other-node").expect("schema"));
    let mut client = postgres(other.url());
    client
        .batch_execute(
            "INSERT INTO cluster_jobs (name, leased_by) VALUES ('migrate-to', 'other-node');
             INSERT INTO sources (id, url) VALUES (1, 'https://elsewhere.example/feed');",
        )
        .expect("an unfinished copy of another database");
    let (code, stdout, stderr) = migrate(&config, other.url(), &[]);
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    assert!(
        stderr.contains("holds an unfinished copy of another database")
            && stderr.contains(&format!(
                "source 1 is https://elsewhere.example/feed there but {first_url}"
            )),
        "{stderr}"
    );
    let entries: i64 = client
        .query_one("SELECT COUNT(*) FROM entries", &[])
        .expect("count")
        .get(0);
    assert_eq!(entries, 0, "nothing copied into it");
}

#[test]
#[ignore = "needs PostgreSQL: .ci/run starts a throwaway server and sets TRIBUTARY_TEST_POSTGRES"]
fn migrate_to_exits_1_when_a_count_differs() {
    let Built {
        _feeds,
        dir,
        config,
    } = built(12);
    // A SQLite search index that lost a story's row: the copy rebuilds every story's, so the
    // counts of the index differ.
    let db = rusqlite::Connection::open(dir.path().join("tributary.db")).expect("open");
    db.execute(
        "DELETE FROM entry_search WHERE rowid = (SELECT MIN(id) FROM entries)",
        [],
    )
    .expect("drop one index row");
    drop(db);
    let target = TestDatabase::create().expect("test database");
    let (code, stdout, stderr) = migrate(&config, target.url(), &[]);
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    let counts = printed_counts(&stdout.replace(" (differ)", ""));
    let (in_sqlite, in_postgres) = counts["entry_search"];
    assert_eq!(in_sqlite + 1, in_postgres, "{stdout}");
    assert!(
        stdout.contains(&format!(
            "entry_search: {in_sqlite} in SQLite, {in_postgres} in PostgreSQL (differ)"
        )),
        "{stdout}"
    );
    assert!(
        stderr.contains("error: row counts differ after copying to PostgreSQL at "),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "entry_search has {in_sqlite} rows in SQLite, {in_postgres} in PostgreSQL"
        )),
        "{stderr}"
    );
    assert!(!stdout.contains("every count agrees"), "{stdout}");
    // Not marked finished: the copy is still this command's to finish.
    let finished: Option<i64> = postgres(target.url())
        .query_one(
            "SELECT last_run_at FROM cluster_jobs WHERE name = 'migrate-to'",
            &[],
        )
        .expect("marker")
        .get(0);
    assert_eq!(finished, None);
}

#[test]
fn migrate_to_refuses_other_engines_unreachable_servers_and_missing_databases() {
    let feeds = start_feeds();
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write_config(
        dir.path(),
        BASE,
        &feeds.server,
        "",
        &[("rss_guid.xml", &["tech"])],
    );
    // No database yet.
    let (code, stdout, stderr) = migrate(&config, "postgres://u@127.0.0.1:9/news", &[]);
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    assert!(
        stderr.contains(&format!(
            "no SQLite database at {}",
            dir.path().join("tributary.db").display()
        )),
        "{stderr}"
    );
    assert!(!dir.path().join("tributary.db").exists(), "none created");

    let (code, stdout, stderr) = tributary(&config, &["fetch"]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    for (url, says) in [
        ("sqlite:/tmp/other.db", "it names a SQLite database"),
        ("http://127.0.0.1:9/db", "unknown engine \"http\""),
    ] {
        let (code, stdout, stderr) = migrate(&config, url, &[]);
        assert_eq!(code, 1, "{url}: {stdout}\n{stderr}");
        assert!(
            stderr.contains("is not a PostgreSQL database URL") && stderr.contains(says),
            "{url}: {stderr}"
        );
    }
    // Nobody listens on this port: the message names host, port and database, not the password.
    let port = common::free_port();
    let url = format!("postgres://tributary:s3cret@127.0.0.1:{port}/news");
    let (code, stdout, stderr) = migrate(&config, &url, &[]);
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    assert!(
        stderr.contains(&format!(
            "cannot connect to PostgreSQL at 127.0.0.1:{port}/news"
        )),
        "{stderr}"
    );
    assert!(
        !stderr.contains("s3cret") && !stdout.contains("s3cret"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// GET `path` from `addr`: status, ETag and body bytes.
fn get(addr: &str, path: &str) -> (u16, Option<String>, Vec<u8>) {
    let mut stream = std::net::TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: feeds.test\r\nConnection: close\r\n\r\n"
    )
    .expect("request");
    let mut response = Vec::new();
    stream.read_to_end(&mut response).expect("response");
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a head");
    let head = String::from_utf8_lossy(&response[..split]).into_owned();
    let body = response[split + 4..].to_vec();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status");
    let etag = head.lines().find_map(|l| {
        let (name, value) = l.split_once(':')?;
        name.eq_ignore_ascii_case("etag")
            .then(|| value.trim().to_string())
    });
    assert!(
        !head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked"),
        "{path}: a chunked body would need decoding"
    );
    (status, etag, body)
}

/// A config like `config` whose server listens on `addr` (same base URL, so same output).
fn listening(config: &Path, name: &str, addr: &str) -> PathBuf {
    let text = std::fs::read_to_string(config).expect("config");
    let text = text.replacen("[server]\n", &format!("[server]\nlisten = \"{addr}\"\n"), 1);
    let path = config.with_file_name(name);
    std::fs::write(&path, text).expect("config");
    path
}

/// Stops a daemon started here when the test ends, however it ends.
struct Daemon(std::process::Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_run(config: &Path, database_url: Option<&str>) -> Daemon {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tributary"));
    command
        .arg("--config")
        .arg(config)
        .arg("run")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    match database_url {
        Some(url) => command.env("TRIBUTARY_DATABASE_URL", url),
        None => command.env_remove("TRIBUTARY_DATABASE_URL"),
    };
    Daemon(command.spawn().expect("start tributary run"))
}

#[test]
#[ignore = "needs PostgreSQL: .ci/run starts a throwaway server and sets TRIBUTARY_TEST_POSTGRES"]
fn migrate_to_then_a_postgresql_node_serves_every_topic_with_the_same_bytes() {
    let Built {
        _feeds,
        dir: _dir,
        config,
    } = built(12);
    let target = TestDatabase::create().expect("test database");
    let (code, stdout, stderr) = migrate(&config, target.url(), &[]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");

    let sqlite_addr = format!("127.0.0.1:{}", common::free_port());
    let postgres_addr = format!("127.0.0.1:{}", common::free_port());
    let mut sqlite_node = start_run(&listening(&config, "sqlite.toml", &sqlite_addr), None);
    let mut postgres_node = start_run(
        &listening(&config, "postgres.toml", &postgres_addr),
        Some(target.url()),
    );
    for (node, addr) in [
        (&mut sqlite_node, &sqlite_addr),
        (&mut postgres_node, &postgres_addr),
    ] {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while common::http_get(addr, "/healthz").is_none_or(|(status, _)| status != 200) {
            if let Ok(Some(exit)) = node.0.try_wait() {
                panic!("the node for {addr} exited ({exit}); its standard error is above");
            }
            assert!(std::time::Instant::now() < deadline, "{addr} serves");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    for topic in ["all", "tech", "vietnam", "local"] {
        for format in ["atom", "rss", "json"] {
            let path = format!("/topics/{topic}.{format}");
            let (status, etag, body) = get(&sqlite_addr, &path);
            assert_eq!(status, 200, "{path} on SQLite");
            assert!(etag.is_some(), "{path} has an ETag");
            let on_postgres = get(&postgres_addr, &path);
            assert_eq!(on_postgres.0, 200, "{path} on PostgreSQL");
            assert_eq!(on_postgres.1, etag, "{path}: ETags");
            assert!(
                on_postgres.2 == body,
                "{path}: bytes differ\nSQLite:\n{}\nPostgreSQL:\n{}",
                String::from_utf8_lossy(&body),
                String::from_utf8_lossy(&on_postgres.2)
            );
        }
    }
}
