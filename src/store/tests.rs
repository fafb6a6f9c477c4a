use super::*;
use crate::model::{FeedMeta, NewEntry};

fn entry(key: &str, title: &str, published: Timestamp) -> NewEntry {
    NewEntry {
        key: format!("guid:{key}"),
        public_id: key.to_string(),
        link: Some(format!("https://example.com/{key}")),
        canonical_url: None,
        title: title.to_string(),
        summary_html: None,
        content_html: Some(format!("<p>{title}</p>")),
        authors: vec!["A".into()],
        categories: vec![],
        enclosures: vec![],
        language: None,
        published,
        updated: None,
        content_hash: crate::text::hash_parts(&[title]),
    }
}

fn slug(s: &str) -> TopicSlug {
    TopicSlug::new(s).expect("slug")
}

fn store_with_source(topics: &[&str]) -> (Store, SourceId) {
    let store = Store::open_in_memory().expect("in-memory store");
    let ids = store
        .sync_sources(&[SourceSpec {
            url: "https://a.example/feed".into(),
            title: Some("Source A".into()),
            topics: topics.iter().map(|t| slug(t)).collect(),
        }])
        .expect("sync");
    (store, ids[0])
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
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
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
fn storing_the_same_document_twice_adds_nothing() {
    let (store, id) = store_with_source(&["news"]);
    let entries = vec![entry("1", "One", 100), entry("2", "Two", 200)];
    let meta = FeedMeta::default();
    let first = store
        .record_document(
            id,
            &meta,
            &entries,
            &Fetched::plain(&Validators::default()),
            1000,
        )
        .expect("store");
    assert_eq!(
        first,
        RefreshStats {
            new: 2,
            updated: 0,
            unchanged: 0
        }
    );
    let generation = store.generation();
    let second = store
        .record_document(
            id,
            &meta,
            &entries,
            &Fetched::plain(&Validators::default()),
            2000,
        )
        .expect("store");
    assert_eq!(
        second,
        RefreshStats {
            new: 0,
            updated: 0,
            unchanged: 2
        }
    );
    assert_eq!(
        store.generation(),
        generation,
        "nothing changed, cached pages stay valid"
    );
    assert_eq!(
        store
            .topic_entries(&TopicSlug::all(), 50)
            .expect("read")
            .len(),
        2
    );
}

#[test]
fn changed_entry_is_updated_in_place() {
    let (store, id) = store_with_source(&["news"]);
    let meta = FeedMeta::default();
    store
        .record_document(
            id,
            &meta,
            &[entry("1", "One", 100)],
            &Fetched::plain(&Validators::default()),
            1000,
        )
        .expect("store");
    let stats = store
        .record_document(
            id,
            &meta,
            &[entry("1", "One, corrected", 100)],
            &Fetched::plain(&Validators::default()),
            5000,
        )
        .expect("store");
    assert_eq!(
        stats,
        RefreshStats {
            new: 0,
            updated: 1,
            unchanged: 0
        }
    );
    let rows = store.topic_entries(&slug("news"), 50).expect("read");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].title, "One, corrected");
    assert_eq!(rows[0].updated, 5000);
    assert_eq!(rows[0].changed, 5000);
    assert_eq!(rows[0].published, 100, "publication time stays");
}

#[test]
fn topic_pages_are_newest_first_with_attribution() {
    let (store, id) = store_with_source(&["news"]);
    let meta = FeedMeta {
        title: Some("Feed's own title".into()),
        site_url: Some("https://a.example/".into()),
        feed_id: None,
        language: None,
    };
    let entries = vec![
        entry("old", "Old", 100),
        entry("new", "New", 300),
        entry("mid", "Mid", 200),
    ];
    store
        .record_document(
            id,
            &meta,
            &entries,
            &Fetched::plain(&Validators::default()),
            1000,
        )
        .expect("store");
    let rows = store.topic_entries(&slug("news"), 2).expect("read");
    let ids: Vec<&str> = rows.iter().map(|r| r.public_id.as_str()).collect();
    assert_eq!(ids, ["new", "mid"]);
    assert_eq!(
        rows[0].source.title, "Source A",
        "feeds.toml title wins over the feed's"
    );
    assert_eq!(rows[0].source.url, "https://a.example/feed");
    assert_eq!(
        rows[0].source.site_url.as_deref(),
        Some("https://a.example/")
    );
    assert!(
        store
            .topic_entries(&slug("other"), 50)
            .expect("read")
            .is_empty()
    );
}

#[test]
fn failure_is_recorded_and_keeps_entries_and_validators() {
    let (store, id) = store_with_source(&[]);
    let validators = Validators {
        etag: Some("\"v1\"".into()),
        last_modified: None,
    };
    store
        .record_document(
            id,
            &FeedMeta::default(),
            &[entry("1", "One", 100)],
            &Fetched::plain(&validators),
            1000,
        )
        .expect("store");
    store
        .record_failure(id, "HTTP 500", "http-5xx", Some(500), 2000)
        .expect("failure");
    store
        .record_failure(id, "HTTP 502", "http-5xx", Some(502), 3000)
        .expect("failure");
    let state = store.source_state(id).expect("state");
    assert_eq!(state.consecutive_failures, 2);
    assert_eq!(state.last_error.as_deref(), Some("HTTP 502"));
    assert_eq!(state.last_status, Some(502));
    assert_eq!(state.last_success_at, Some(1000));
    assert_eq!(state.validators, validators);
    assert_eq!(state.entries, 1);
    store
        .record_not_modified(
            id,
            &Fetched {
                status: 304,
                ..Fetched::plain(&validators)
            },
            4000,
        )
        .expect("304");
    let state = store.source_state(id).expect("state");
    assert_eq!(state.consecutive_failures, 0);
    assert_eq!(state.last_error, None);
}

#[test]
fn changing_a_sources_topics_recomputes_membership() {
    let (store, id) = store_with_source(&["news"]);
    store
        .record_document(
            id,
            &FeedMeta::default(),
            &[entry("1", "One", 100)],
            &Fetched::plain(&Validators::default()),
            1000,
        )
        .expect("store");
    assert_eq!(
        store.topic_entries(&slug("news"), 50).expect("read").len(),
        1
    );
    store
        .sync_sources(&[SourceSpec {
            url: "https://a.example/feed".into(),
            title: None,
            topics: vec![slug("sport")],
        }])
        .expect("resync");
    assert!(
        store
            .topic_entries(&slug("news"), 50)
            .expect("read")
            .is_empty()
    );
    assert_eq!(
        store.topic_entries(&slug("sport"), 50).expect("read").len(),
        1
    );
    assert_eq!(
        store
            .topic_entries(&TopicSlug::all(), 50)
            .expect("read")
            .len(),
        1
    );
    let counts = store.topic_counts().expect("counts");
    assert_eq!(counts.get("sport"), Some(&1));
    assert_eq!(counts.get("news"), None);
}

#[test]
fn removed_source_keeps_its_entries_but_leaves_the_active_list() {
    let (store, id) = store_with_source(&["news"]);
    store
        .record_document(
            id,
            &FeedMeta::default(),
            &[entry("1", "One", 100)],
            &Fetched::plain(&Validators::default()),
            1000,
        )
        .expect("store");
    store.sync_sources(&[]).expect("resync");
    assert!(store.source_states().expect("states").is_empty());
    assert_eq!(
        store
            .topic_entries(&TopicSlug::all(), 50)
            .expect("read")
            .len(),
        1
    );
}

#[test]
fn file_database_uses_wal_and_reader_connections() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("t.db");
    let store = Store::open(&path).expect("open");
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
    Store::open(&path).expect("reopen");
}
