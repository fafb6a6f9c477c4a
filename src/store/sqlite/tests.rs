//! The SQLite engine's own behaviour: migrations and `user_version`, WAL and reader
//! connections, group commit, checkpoints, cancelled reads, the FTS5 index and what only a
//! database file shows across a restart. What every engine must do is in
//! `store::conformance`, run on this engine too.

use super::*;
use crate::model::Validators;
use std::sync::Arc;

use crate::model::{FeedMeta, NewEntry};
use crate::store::conformance::fixtures::{add_source, entry, store_entries, titles};
use crate::store::{CHECKPOINT_AFTER_ENTRIES, Fetched, ReadCancel, SourceSpec, Store};
use std::sync::atomic::AtomicUsize;

fn store_with_source(topics: &[&str]) -> (SqliteStore, SourceId) {
    let store = SqliteStore::open_in_memory().expect("in-memory store");
    let id = add_source(&store, topics);
    (store, id)
}

#[test]
fn migrations_apply_in_order_to_an_empty_database() {
    let mut conn = Connection::open_in_memory().expect("conn");
    migrations::apply(&mut conn).expect("migrations apply");
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .expect("version");
    assert_eq!(version, migrations::MIGRATIONS.len() as i64);
    for table in [
        "sources",
        "entries",
        "sightings",
        "entry_topics",
        "source_topics",
    ] {
        let n: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?1",
                [table],
                |r| r.get(0),
            )
            .expect("query");
        assert_eq!(n, 1, "{table} exists");
    }
    // Applying again is a no-op.
    migrations::apply(&mut conn).expect("idempotent");
}

#[test]
fn migration_list_matches_the_migrations_directory() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/sqlite");
    let mut files: Vec<String> = std::fs::read_dir(dir)
        .expect("migrations dir")
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .filter(|n| n.ends_with(".sql"))
        .collect();
    files.sort();
    let listed: Vec<&str> = migrations::MIGRATIONS
        .iter()
        .map(|(name, _)| *name)
        .collect();
    assert_eq!(files, listed);
    for (i, name) in listed.iter().enumerate() {
        assert!(
            name.starts_with(&format!("{:04}_", i + 1)),
            "{name} is numbered in order"
        );
    }
}

#[test]
fn newer_schema_is_refused() {
    let mut conn = Connection::open_in_memory().expect("conn");
    conn.pragma_update(None, "user_version", 999).expect("set");
    assert!(matches!(
        migrations::apply(&mut conn),
        Err(StoreError::TooNew { found: 999, .. })
    ));
}

#[test]
fn file_database_uses_wal_and_reader_connections() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("t.db");
    let store = SqliteStore::open(&path).expect("open");
    let mode: String = store
        .with_writer(|c| {
            c.pragma_query_value(None, "journal_mode", |r| r.get(0))
                .context("pragma")
        })
        .expect("mode");
    assert_eq!(mode, "wal");
    let fk: i64 = store
        .with_reader(|c| {
            c.pragma_query_value(None, "foreign_keys", |r| r.get(0))
                .context("pragma")
        })
        .expect("fk");
    assert_eq!(fk, 1, "PRAGMAs are set on reader connections too");
    drop(store);
    // Reopening an up-to-date database applies nothing and succeeds.
    SqliteStore::open(&path).expect("reopen");
}

#[test]
fn the_search_migration_indexes_stories_already_stored() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("t.db");
    {
        let mut conn = Connection::open(&path).expect("conn");
        migrations::apply(&mut conn).expect("migrate");
        // Back to the schema before search (undoing the later migrations too), with a story
        // stored by that version.
        conn.execute_batch(
            "DROP INDEX entries_origin; DROP INDEX entries_versions;
             ALTER TABLE entries DROP COLUMN version_of;
             ALTER TABLE entries DROP COLUMN origin_rule;
             ALTER TABLE entries DROP COLUMN origin_credit;
             ALTER TABLE entries DROP COLUMN origin_link;
             ALTER TABLE entries DROP COLUMN origin_url;
             DROP INDEX entries_first_seen;
             CREATE INDEX entries_first_seen ON entries(first_seen_at);
             ALTER TABLE entries DROP COLUMN title_key;
             ALTER TABLE sightings DROP COLUMN item_hash;
             ALTER TABLE sightings DROP COLUMN joined_by;
             ALTER TABLE sources DROP COLUMN warning;
             DROP TRIGGER entry_search_delete; DROP TABLE entry_search;
             PRAGMA user_version = 6;
             INSERT INTO sources (id, url) VALUES (1, 'https://a.example/feed');
             INSERT INTO entries (source_id, public_id, title, content_html, published_at,
                 updated_at, first_seen_at, changed_at, content_hash)
             VALUES (1, 'x', 'Kinh tế', '<p>Giá <b>xăng</b> tăng</p>', 1, 1, 1, 1, 'h');",
        )
        .expect("downgrade");
    }
    let store = SqliteStore::open(&path).expect("open migrates");
    assert_eq!(
        titles(&store.search("gia xang", 50).expect("search")),
        ["Kinh tế"]
    );
    assert!(
        store.search("b", 50).expect("search").is_empty(),
        "tags are not indexed"
    );
}

#[tokio::test]
async fn a_checkpoint_is_wanted_once_enough_entries_were_written() {
    let (store, source) = store_with_source(&[]);
    let validators = crate::model::Validators::default();
    let per_document = 250;
    let record = |document: usize| {
        let entries: Vec<NewEntry> = (0..per_document)
            .map(|i| {
                let key = format!("{document}-{i}");
                entry(&key, &format!("Story {key}"), 1_700_000_000)
            })
            .collect();
        store
            .record_document(
                source,
                &FeedMeta::default(),
                &entries,
                &Fetched::plain(&validators),
                1_700_000_000,
            )
            .expect("record")
    };
    let documents = CHECKPOINT_AFTER_ENTRIES as usize / per_document;
    for d in 0..documents {
        assert!(!store.checkpoint_due(), "due after {d} documents");
        record(d);
    }
    assert!(store.checkpoint_due());
    // The notification was stored for the checkpoint task: it resolves at once.
    tokio::time::timeout(
        std::time::Duration::from_secs(1),
        store.signals().checkpoint_wanted(),
    )
    .await
    .expect("a checkpoint is wanted");
    store.checkpoint().expect("checkpoint");
    assert!(!store.checkpoint_due());
    // Seeing the same entries again writes nothing: no checkpoint becomes due.
    assert_eq!(record(0).unchanged, per_document);
    assert!(!store.checkpoint_due());
}

#[test]
fn checkpoints_beside_a_sustained_ingest_let_the_wal_start_over() {
    // Refreshes follow each other with no pause, as in a first cycle over many sources. A
    // checkpoint that only copies the frames it sees never catches up with such a writer, and
    // SQLite starts the WAL over only once all of it is in the database: without the second
    // pass the WAL would grow for as long as the ingest lasts.
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SqliteStore::open(&dir.path().join("store.db")).expect("open");
    let source = add_source(&store, &[]);
    let body = "<p>Người dân thành phố Hà Nội đọc tin tức mỗi sáng.</p>".repeat(60);
    let document = |d: usize| -> Vec<NewEntry> {
        (0..20)
            .map(|i| NewEntry {
                content_html: Some(body.clone()),
                ..entry(
                    &format!("{d}-{i}"),
                    &format!("Story {d} {i}"),
                    1_700_000_000,
                )
            })
            .collect()
    };
    let (written, checkpoints_done) = (AtomicUsize::new(0), AtomicUsize::new(0));
    std::thread::scope(|scope| {
        scope.spawn(|| {
            for _ in 0..3 {
                // Each checkpoint has new frames to copy, and the writer is busy meanwhile.
                let from = written.load(Ordering::Acquire);
                while written.load(Ordering::Acquire) < from + 2 {
                    std::thread::sleep(std::time::Duration::from_millis(1));
                }
                store.checkpoint().expect("checkpoint");
                checkpoints_done.fetch_add(1, Ordering::AcqRel);
            }
        });
        let validators = crate::model::Validators::default();
        let record = |d: usize| {
            store
                .record_document(
                    source,
                    &FeedMeta::default(),
                    &document(d),
                    &Fetched::plain(&validators),
                    1_700_000_000,
                )
                .expect("record")
        };
        // Writes until the checkpoints are over, and a document more; bounded all the same.
        let mut d = 0;
        while checkpoints_done.load(Ordering::Acquire) < 3 && d < 20_000 {
            record(d);
            d += 1;
            written.store(d, Ordering::Release);
        }
        record(d);
    });
    // The last refresh is committed (it may wait in the open batch otherwise).
    store.flush().expect("flush");
    // The WAL header's checkpoint sequence number (bytes 12..16, big-endian) counts the times
    // the WAL was started over.
    let wal = std::fs::read(dir.path().join("store.db-wal")).expect("the WAL of the open store");
    let restarts = wal
        .get(12..16)
        .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
        .expect("a WAL header");
    assert_eq!(
        restarts, 3,
        "times the WAL was started over after 3 checkpoints"
    );
}

#[test]
fn abandoned_read_is_interrupted_and_later_reads_never_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Arc::new(SqliteStore::open(&dir.path().join("t.db")).expect("open"));
    let cancel = Arc::new(ReadCancel::default());
    // A query that only ends when interrupted: it stands for an aggregate over a large table.
    let endless = {
        let (store, cancel) = (store.clone(), cancel.clone());
        std::thread::spawn(move || {
            crate::store::cancellable(cancel, || {
                store.with_reader(|conn| {
                    conn.query_row(
                        "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n)
                         SELECT count(*) FROM n",
                        [],
                        |r| r.get::<_, i64>(0),
                    )
                    .context("counting forever")
                })
            })
        })
    };
    let started = std::time::Instant::now();
    while store.read_count() == 0 && started.elapsed() < std::time::Duration::from_secs(10) {
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    assert_eq!(store.read_count(), 1, "the endless read started");
    cancel.cancel();
    let result = endless.join().expect("reader thread");
    assert!(
        matches!(result, Err(StoreError::Cancelled)),
        "interrupted: {result:?}"
    );
    // A later read under the same token is refused before it asks SQLite.
    let later = crate::store::cancellable(cancel, || store.topic_summaries());
    assert!(matches!(later, Err(StoreError::Cancelled)), "{later:?}");
    assert_eq!(store.read_count(), 1);
    // Reads outside the token are unaffected, on the same pooled connection.
    assert!(store.topic_summaries().is_ok());
    assert_eq!(store.read_count(), 2);
}

/// Two sources, A and B, in a database file.
fn file_store_with_two_sources(dir: &Path) -> (SqliteStore, SourceId, SourceId) {
    let store = SqliteStore::open(&dir.join("group.db")).expect("open");
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
    (store, ids[0], ids[1])
}

fn record(
    store: &SqliteStore,
    source: SourceId,
    key: &str,
    etag: &str,
) -> Result<RefreshStats, StoreError> {
    let validators = Validators {
        etag: Some(etag.into()),
        last_modified: None,
    };
    store.record_document(
        source,
        &FeedMeta::default(),
        &[entry(key, key, 1_700_000_000)],
        &Fetched::plain(&validators),
        1_700_000_000,
    )
}

fn all_titles(store: &SqliteStore) -> Vec<String> {
    let entries = store.topic_entries(&TopicSlug::all(), 50).expect("entries");
    titles(&entries).into_iter().map(String::from).collect()
}

#[test]
fn refreshes_in_one_group_commit_together_and_a_failed_one_rolls_back_alone() {
    let dir = tempfile::tempdir().expect("dir");
    let (store, a, b) = file_store_with_two_sources(dir.path());
    let generation = store.generation();
    record(&store, a, "from-a", "\"a1\"").expect("a");
    // A refresh that fails while writing (its source is unknown): only it goes.
    let failed = record(&store, SourceId(999), "lost", "\"x\"");
    assert!(failed.is_err(), "{failed:?}");
    record(&store, b, "from-b", "\"b1\"").expect("b");
    // Not committed yet: readers and the render cache's generation do not see the group.
    assert!(all_titles(&store).is_empty());
    assert_eq!(store.generation(), generation);
    store.flush().expect("flush");
    assert_eq!(all_titles(&store), ["from-b", "from-a"]);
    assert!(store.generation() > generation);
    // Validators were committed with their entries.
    assert_eq!(
        store.source_state(a).expect("a").validators.etag.as_deref(),
        Some("\"a1\"")
    );
    assert_eq!(
        store.source_state(b).expect("b").validators.etag.as_deref(),
        Some("\"b1\"")
    );
}

/// Stories the search index holds for `word` (not joined to entries: what FTS5 itself has).
fn search_rows(store: &SqliteStore, word: &str) -> Vec<i64> {
    store
        .with_reader(|c| {
            let mut stmt = c
                .prepare(
                    "SELECT rowid FROM entry_search WHERE entry_search MATCH ?1 ORDER BY rowid",
                )
                .context("search rows")?;
            let rows = stmt
                .query_map([word], |r| r.get::<_, i64>(0))
                .context("search rows")?;
            rows.collect::<Result<Vec<_>, _>>().context("search rows")
        })
        .expect("search rows")
}

/// The segments the search index is made of.
fn search_segments(store: &SqliteStore) -> i64 {
    store
        .with_reader(|c| {
            c.query_row(
                "SELECT count(DISTINCT segid) FROM entry_search_idx",
                [],
                |r| r.get(0),
            )
            .context("segments")
        })
        .expect("segments")
}

#[test]
fn a_group_indexes_its_stories_for_search_once_and_as_they_last_were() {
    let dir = tempfile::tempdir().expect("dir");
    let (store, a, b) = file_store_with_two_sources(dir.path());
    let document = |source, title: &str, key: &str, at| {
        let mut e = entry(key, title, 1_700_000_000);
        e.content_hash = title.to_string();
        store.record_document(
            source,
            &FeedMeta::default(),
            &[e],
            &Fetched::plain(&Validators::default()),
            at,
        )
    };
    // Ten refreshes in one group; one story is stored and then changed within it.
    for i in 0..8 {
        document(b, &format!("filler{i}"), &format!("f{i}"), 1_700_000_000).expect("filler");
    }
    document(a, "original words", "story", 1_700_000_000).expect("stored");
    document(a, "revised words", "story", 1_700_000_010).expect("changed");
    // A refresh that fails rolls its search words back with everything else.
    let failed = store.record_document(
        SourceId(999),
        &FeedMeta::default(),
        &[entry("lost", "vanished", 1_700_000_000)],
        &Fetched::plain(&Validators::default()),
        1_700_000_000,
    );
    assert!(failed.is_err(), "{failed:?}");
    store.flush().expect("flush");
    let story = store.search("revised", 10).expect("search");
    assert_eq!(titles(&story), ["revised words"]);
    assert!(
        search_rows(&store, "original").is_empty(),
        "the old text is gone"
    );
    assert!(search_rows(&store, "vanished").is_empty(), "rolled back");
    assert_eq!(search_rows(&store, "words").len(), 1, "indexed once");
    assert_eq!(search_rows(&store, "filler3").len(), 1);
    // The whole group went into the index as one segment, not one per refresh.
    assert_eq!(search_segments(&store), 1);

    // Changed in a later group: its row from the first group is replaced.
    document(a, "final text", "story", 1_700_000_020).expect("changed again");
    store.flush().expect("flush");
    assert!(search_rows(&store, "revised").is_empty());
    assert_eq!(
        titles(&store.search("final", 10).expect("search")),
        ["final text"]
    );
    assert_eq!(search_rows(&store, "words"), Vec::<i64>::new());
}

#[test]
fn a_group_is_committed_within_its_latency_bound_without_more_writes() {
    let dir = tempfile::tempdir().expect("dir");
    let (store, a, _) = file_store_with_two_sources(dir.path());
    record(&store, a, "waits", "\"a\"").expect("a");
    // The commit thread commits the group once it is BATCH_AGE old; checked with a generous
    // bound, not timed.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while all_titles(&store).is_empty() {
        assert!(std::time::Instant::now() < deadline, "never committed");
        std::thread::sleep(BATCH_AGE);
    }
    assert_eq!(all_titles(&store), ["waits"]);
}

#[test]
fn dropping_the_store_commits_its_last_group() {
    let dir = tempfile::tempdir().expect("dir");
    {
        let (store, a, _) = file_store_with_two_sources(dir.path());
        record(&store, a, "last", "\"a\"").expect("a");
    }
    let store = SqliteStore::open(&dir.path().join("group.db")).expect("reopen");
    assert_eq!(all_titles(&store), ["last"]);
}

#[test]
fn a_summary_copy_finds_its_story_by_title_after_a_restart() {
    summary_copy_after_restart(false);
}

#[test]
fn a_story_stored_without_a_title_key_is_found_by_its_title_after_a_restart() {
    summary_copy_after_restart(true);
}

#[test]
fn loading_the_near_duplicate_index_reads_the_first_seen_index_alone() {
    let store = SqliteStore::open_in_memory().expect("store");
    let plan: Vec<String> = store
        .with_reader(|c| {
            let mut stmt = c
                .prepare(&format!("EXPLAIN QUERY PLAN {}", lookups::LOAD_INDEX))
                .context("plan")?;
            let rows = stmt
                .query_map([0], |r| r.get::<_, String>(3))
                .context("plan")?;
            rows.collect::<Result<Vec<_>, _>>().context("plan")
        })
        .expect("plan");
    assert_eq!(
        plan,
        ["SEARCH entries USING COVERING INDEX entries_first_seen (first_seen_at>?)"]
    );
}

/// A summary-only copy joins, after a restart, the full story stored before it; `legacy` stores
/// the story as versions before title keys did (no key: it is made from the title on loading).
fn summary_copy_after_restart(legacy: bool) {
    let dir = tempfile::tempdir().expect("dir");
    let title = "Cháy xưởng gỗ ở Long An trong đêm";
    let lead =
        "Rạng sáng nay một xưởng gỗ rộng hàng nghìn mét vuông ở huyện Đức Hòa bốc cháy dữ dội.";
    let story = |key: &str, summary: Option<String>, content: Option<String>| {
        let mut e = entry(key, title, 1_700_000_000);
        e.summary_html = summary;
        e.content_html = content;
        e.likeness.clean_title = title.into();
        e.likeness.title_key = crate::dedup::text::title_key(&crate::text::folded_line(title));
        e
    };
    {
        let (store, a, _) = file_store_with_two_sources(dir.path());
        let full = format!(
            "<p>{lead}</p>{}",
            "<p>Lực lượng chữa cháy đã có mặt và khống chế đám cháy sau hai giờ làm việc.</p>"
                .repeat(8)
        );
        store
            .record_document(
                a,
                &FeedMeta::default(),
                &[story("full", None, Some(full))],
                &Fetched::plain(&Validators::default()),
                1_700_000_000,
            )
            .expect("full story");
    }
    if legacy {
        let conn = Connection::open(dir.path().join("group.db")).expect("conn");
        conn.execute("UPDATE entries SET title_key = NULL", [])
            .expect("forget the key");
    }
    // A new process: the index is loaded from the stored title keys.
    let store = SqliteStore::open(&dir.path().join("group.db")).expect("reopen");
    let stored_key: Option<i64> = store
        .with_reader(|c| {
            c.query_row("SELECT title_key FROM entries", [], |r| r.get(0))
                .context("reading title key")
        })
        .expect("title key");
    let expected = crate::dedup::text::title_key(&crate::text::folded_line(title));
    assert!(expected.is_some(), "the title is long enough for a key");
    assert_eq!(
        stored_key.map(|k| k as u64),
        expected.filter(|_| !legacy),
        "the key is stored with the story"
    );
    let b = store.source_states().expect("states")[1].id;
    let stats = store
        .record_document(
            b,
            &FeedMeta::default(),
            &[story("copy", Some(format!("<p>{lead}</p>")), None)],
            &Fetched::plain(&Validators::default()),
            1_700_000_100,
        )
        .expect("copy");
    assert_eq!((stats.new, stats.merged), (1, 1), "joined the stored story");
}

#[test]
fn the_database_size_is_the_file_and_its_wal() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("t.db");
    let store = SqliteStore::open(&path).expect("open");
    let id = add_source(&store, &[]);
    let entries: Vec<NewEntry> = (0..50)
        .map(|i| entry(&format!("k{i}"), &format!("Story {i}"), 1_000 + i))
        .collect();
    store_entries(&store, id, &entries, 2_000);
    store.flush().expect("flush");
    let file = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    let wal = std::fs::metadata(dir.path().join("t.db-wal"))
        .map(|m| m.len())
        .unwrap_or(0);
    assert!(wal > 0, "the refreshes are in the WAL");
    assert_eq!(store.database_bytes().expect("size"), file + wal);
    assert_eq!(
        SqliteStore::open_in_memory()
            .expect("memory")
            .database_bytes()
            .expect("size"),
        0
    );
}
