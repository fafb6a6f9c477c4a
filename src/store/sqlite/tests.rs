use super::*;
use crate::model::Validators;
use std::sync::Arc;

use crate::model::EntryKey;
use crate::model::{FeedMeta, NewEntry, ScheduleRecord};
use crate::store::{CHECKPOINT_AFTER_ENTRIES, Fetched, PruneStats, ReadCancel, SourceSpec, Store};
use std::sync::atomic::AtomicUsize;

fn entry(key: &str, title: &str, published: Timestamp) -> NewEntry {
    NewEntry {
        key: EntryKey::guid(key),
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
        signature: None,
        title_numbers: String::new(),
        likeness: Default::default(),
        item_hash: None,
        origin: None,
        folded: Default::default(),
        search_text: crate::text::search_text(title, None, Some(&format!("<p>{title}</p>"))),
        topics: vec![TopicSlug::all()],
    }
}

/// `entry` in the given topics besides `all`.
fn in_topics(entry: NewEntry, topics: &[&str]) -> NewEntry {
    let mut all = vec![TopicSlug::all()];
    all.extend(topics.iter().map(|t| slug(t)));
    NewEntry {
        topics: all,
        ..entry
    }
}

fn slug(s: &str) -> TopicSlug {
    TopicSlug::new(s).expect("slug")
}

fn store_with_source(topics: &[&str]) -> (SqliteStore, SourceId) {
    let store = SqliteStore::open_in_memory().expect("in-memory store");
    let id = add_source(&store, topics);
    (store, id)
}

/// Source A in the given topics, as the only source of `store`.
fn add_source(store: &SqliteStore, topics: &[&str]) -> SourceId {
    let ids = store
        .sync_sources(&[SourceSpec {
            url: "https://a.example/feed".into(),
            title: Some("Source A".into()),
            topics: topics.iter().map(|t| slug(t)).collect(),
        }])
        .expect("sync");
    ids[0]
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
            unchanged: 0,
            ..Default::default()
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
            unchanged: 2,
            ..Default::default()
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
            unchanged: 0,
            ..Default::default()
        }
    );
    let rows = store.topic_entries(&TopicSlug::all(), 50).expect("read");
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
        in_topics(entry("old", "Old", 100), &["news"]),
        in_topics(entry("new", "New", 300), &["news"]),
        in_topics(entry("mid", "Mid", 200), &["news"]),
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
fn membership_is_rebuilt_from_every_sighting_with_the_rules_fingerprint() {
    let store = SqliteStore::open_in_memory().expect("store");
    let (a, b) = two_sources(&store);
    let none = Validators::default();
    let meta = FeedMeta::default();
    let shared = "https://wire.example/shared";
    store
        .record_document(
            a,
            &meta,
            &[
                in_topics(entry("1", "One", 100), &["news"]),
                in_topics(linked("s", shared, "Shared"), &["news"]),
            ],
            &Fetched::plain(&none),
            1000,
        )
        .expect("store");
    store
        .record_document(
            b,
            &meta,
            &[linked("s", shared, "Shared")],
            &Fetched::plain(&none),
            1000,
        )
        .expect("store");
    assert_eq!(store.setting(MEMBERSHIP_SETTING).expect("setting"), None);

    // New rules: source A's stories go to "sport" only when their title says "One"; B's go to
    // "tech". The shared story is in the union over its two sightings.
    let mut seen = Vec::new();
    let stories = store
        .rebuild_membership("rules-2", 5000, &mut |source, story| {
            seen.push((source, story.title.clone()));
            let mut topics = vec![TopicSlug::all()];
            if source == a && story.title == "One" {
                topics.push(slug("sport"));
            }
            if source == b {
                topics.push(slug("tech"));
            }
            topics
        })
        .expect("rebuild");
    assert_eq!(stories, 2);
    assert_eq!(seen.len(), 3, "one call per sighting: {seen:?}");
    assert_eq!(
        store
            .setting(MEMBERSHIP_SETTING)
            .expect("setting")
            .as_deref(),
        Some("rules-2")
    );
    let titles = |topic: &str| -> Vec<String> {
        store
            .topic_entries(&slug(topic), 50)
            .expect("read")
            .into_iter()
            .map(|e| e.title)
            .collect()
    };
    assert!(titles("news").is_empty());
    assert_eq!(titles("sport"), ["One"]);
    assert_eq!(titles("tech"), ["Shared"]);
    assert_eq!(
        store
            .topic_entries(&TopicSlug::all(), 50)
            .expect("read")
            .len(),
        2
    );
    let counts = store.topic_summaries().expect("counts");
    assert_eq!(counts.get("sport").map(|s| s.entries), Some(1));
    assert!(!counts.contains_key("news"));

    // Stories are visited newest first, with every source that carried them.
    let mut visited = Vec::new();
    store
        .visit_stories(&mut |story| {
            visited.push((story.title.clone(), story.sources.clone()));
            ControlFlow::Continue(())
        })
        .expect("visit");
    assert_eq!(visited.len(), 2);
    let shared_story = visited.iter().find(|(t, _)| t == "Shared").expect("shared");
    assert_eq!(shared_story.1, [a, b]);
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

fn linked(key: &str, link: &str, title: &str) -> NewEntry {
    NewEntry {
        link: Some(link.to_string()),
        canonical_url: crate::normalize::canonical::canonical_url(link, &[]),
        ..entry(key, title, 100)
    }
}

fn two_sources(store: &SqliteStore) -> (SourceId, SourceId) {
    let ids = store
        .sync_sources(&[
            SourceSpec {
                url: "https://a.example/feed".into(),
                title: Some("A".into()),
                topics: vec![slug("news")],
            },
            SourceSpec {
                url: "https://b.example/feed".into(),
                title: Some("B".into()),
                topics: vec![slug("sport")],
            },
        ])
        .expect("sync");
    (ids[0], ids[1])
}

#[test]
fn one_story_from_two_sources_is_one_entry_crediting_both() {
    let store = SqliteStore::open_in_memory().expect("store");
    let (a, b) = two_sources(&store);
    let meta = FeedMeta::default();
    let none = Validators::default();
    store
        .record_document(
            a,
            &meta,
            &[in_topics(
                linked(
                    "a-1",
                    "https://wire.example/story?id=9&utm_source=a",
                    "Story",
                ),
                &["news"],
            )],
            &Fetched::plain(&none),
            1000,
        )
        .expect("store");
    let stats = store
        .record_document(
            b,
            &meta,
            &[in_topics(
                linked(
                    "b-7",
                    "https://WIRE.example/story?fbclid=x&id=9",
                    "Story (B)",
                ),
                &["sport"],
            )],
            &Fetched::plain(&none),
            2000,
        )
        .expect("store");
    assert_eq!((stats.new, stats.merged), (1, 1));
    let all = store.topic_entries(&TopicSlug::all(), 50).expect("read");
    assert_eq!(all.len(), 1, "one story");
    assert_eq!(
        all[0].public_id, "a-1",
        "published under its first sighting"
    );
    assert_eq!(all[0].source.title, "A");
    assert_eq!(all[0].also.len(), 1);
    assert_eq!(all[0].also[0].0.title, "B");
    assert_eq!(
        all[0].also[0].1.as_deref(),
        Some("https://WIRE.example/story?fbclid=x&id=9")
    );
    // It is in the topics of both sources.
    assert_eq!(
        store.topic_entries(&slug("news"), 50).expect("read").len(),
        1
    );
    assert_eq!(
        store.topic_entries(&slug("sport"), 50).expect("read").len(),
        1
    );
    // A change in B's copy does not rewrite the story published from A.
    let stats = store
        .record_document(
            b,
            &meta,
            &[linked(
                "b-7",
                "https://wire.example/story?id=9",
                "Story (B, edited)",
            )],
            &Fetched::plain(&none),
            3000,
        )
        .expect("store");
    assert_eq!(stats.updated, 0);
    assert_eq!(
        store.topic_entries(&TopicSlug::all(), 50).expect("read")[0].title,
        "Story"
    );
    // A change in A's copy does.
    let stats = store
        .record_document(
            a,
            &meta,
            &[linked(
                "a-1",
                "https://wire.example/story?id=9",
                "Story, corrected",
            )],
            &Fetched::plain(&none),
            4000,
        )
        .expect("store");
    assert_eq!(stats.updated, 1);
    assert_eq!(
        store.topic_entries(&TopicSlug::all(), 50).expect("read")[0].title,
        "Story, corrected"
    );
}

#[test]
fn guid_churn_is_recognized_and_switches_the_source_to_link_identity() {
    let (store, id) = store_with_source(&["news"]);
    let meta = FeedMeta::default();
    let none = Validators::default();
    let doc = |round: &str| -> Vec<NewEntry> {
        (1..=3)
            .map(|i| {
                linked(
                    &format!("{round}-{i}"),
                    &format!("https://a.example/post/{i}"),
                    &format!("Post {i}"),
                )
            })
            .collect()
    };
    let first = store
        .record_document(id, &meta, &doc("r1"), &Fetched::plain(&none), 1000)
        .expect("store");
    assert_eq!(first.new, 3);
    let second = store
        .record_document(id, &meta, &doc("r2"), &Fetched::plain(&none), 2000)
        .expect("store");
    assert_eq!(
        (second.new, second.unchanged, second.churned),
        (0, 3, 3),
        "new guids, same links: the same stories"
    );
    assert!(second.switched_to_link);
    assert_eq!(
        store.source_state(id).expect("state").identity_mode,
        Some(crate::model::Identity::Link)
    );
    assert_eq!(
        store
            .topic_entries(&TopicSlug::all(), 50)
            .expect("read")
            .len(),
        3
    );
    let third = store
        .record_document(id, &meta, &doc("r3"), &Fetched::plain(&none), 3000)
        .expect("store");
    assert!(!third.switched_to_link, "switched once");
}

#[test]
fn two_guids_sharing_a_link_in_one_document_stay_two_entries() {
    let (store, id) = store_with_source(&[]);
    let meta = FeedMeta::default();
    let none = Validators::default();
    let live = vec![
        linked("live-1", "https://a.example/live", "Live: update 1"),
        linked("live-2", "https://a.example/live", "Live: update 2"),
    ];
    store
        .record_document(id, &meta, &live[..1], &Fetched::plain(&none), 1000)
        .expect("store");
    let stats = store
        .record_document(id, &meta, &live, &Fetched::plain(&none), 2000)
        .expect("store");
    assert_eq!(
        stats.churned, 0,
        "the old guid is still in the document: not churn"
    );
    assert_eq!((stats.new, stats.merged), (1, 0));
    assert_eq!(
        store
            .topic_entries(&TopicSlug::all(), 50)
            .expect("read")
            .len(),
        2
    );
}

#[test]
fn prune_removes_old_stories_and_tombstones_keep_them_out() {
    let (store, id) = store_with_source(&["news"]);
    let meta = FeedMeta::default();
    let none = Validators::default();
    let day = 86_400;
    let doc = vec![
        entry("old", "Old", 10 * day),
        entry("new", "New", 100 * day),
    ];
    store
        .record_document(id, &meta, &doc, &Fetched::plain(&none), 10 * day)
        .expect("store");
    // 100 days later, with 30 days of retention: "old" was first seen and published 90 days ago.
    let stats = store.prune(100 * day + 1, 30 * day, 1000).expect("prune");
    assert_eq!(
        stats,
        PruneStats {
            entries: 1,
            sightings: 1
        }
    );
    let left: Vec<String> = store
        .topic_entries(&TopicSlug::all(), 50)
        .expect("read")
        .into_iter()
        .map(|e| e.public_id)
        .collect();
    assert_eq!(left, ["new"]);
    // The feed still lists the old item: it does not come back.
    let again = store
        .record_document(id, &meta, &doc, &Fetched::plain(&none), 101 * day)
        .expect("store");
    assert_eq!(again.new, 0);
    assert_eq!(
        store
            .topic_entries(&TopicSlug::all(), 50)
            .expect("read")
            .len(),
        1
    );
}

#[test]
fn prune_keeps_each_sources_newest_and_stories_others_still_carry() {
    let store = SqliteStore::open_in_memory().expect("store");
    let (a, b) = two_sources(&store);
    let meta = FeedMeta::default();
    let none = Validators::default();
    let a_doc: Vec<NewEntry> = (1..=5)
        .map(|i| NewEntry {
            published: 1000 + i,
            ..linked(
                &format!("a{i}"),
                &format!("https://x.example/{i}"),
                &format!("Story {i}"),
            )
        })
        .collect();
    store
        .record_document(a, &meta, &a_doc, &Fetched::plain(&none), 2000)
        .expect("store");
    // B carries story 1 as well.
    store
        .record_document(
            b,
            &meta,
            &[linked("b1", "https://x.example/1", "Story 1")],
            &Fetched::plain(&none),
            2001,
        )
        .expect("store");
    let stats = store.prune(3000, 1_000_000, 3).expect("prune");
    assert_eq!(stats.sightings, 2, "A keeps its newest three");
    assert_eq!(
        stats.entries, 1,
        "story 2 is gone; story 1 lives on through B"
    );
    let all = store.topic_entries(&TopicSlug::all(), 50).expect("read");
    let mut titles: Vec<&str> = all.iter().map(|e| e.title.as_str()).collect();
    titles.sort_unstable();
    assert_eq!(titles, ["Story 1", "Story 3", "Story 4", "Story 5"]);
    let story1 = all.iter().find(|e| e.title == "Story 1").expect("story 1");
    assert_eq!(
        story1.source.title, "B",
        "published from the source that still carries it"
    );
}

#[test]
fn an_updated_story_gains_the_topics_its_new_text_matches() {
    let (store, id) = store_with_source(&[]);
    let none = Validators::default();
    let meta = FeedMeta::default();
    store
        .record_document(
            id,
            &meta,
            &[entry("1", "Draft", 100)],
            &Fetched::plain(&none),
            1000,
        )
        .expect("store");
    assert!(
        store
            .topic_entries(&slug("security"), 50)
            .expect("read")
            .is_empty()
    );
    let stats = store
        .record_document(
            id,
            &meta,
            &[in_topics(
                entry("1", "Ransomware hits hospital", 100),
                &["security"],
            )],
            &Fetched::plain(&none),
            2000,
        )
        .expect("store");
    assert_eq!(stats.updated, 1);
    let rows = store.topic_entries(&slug("security"), 50).expect("read");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].title, "Ransomware hits hospital");
    assert_eq!(rows[0].published, 100, "sorted by its publication time");
}

fn store_entries(store: &SqliteStore, id: SourceId, entries: &[NewEntry], now: Timestamp) {
    store
        .record_document(
            id,
            &FeedMeta::default(),
            entries,
            &Fetched::plain(&Validators::default()),
            now,
        )
        .expect("store");
}

fn titles(entries: &[StoredEntry]) -> Vec<&str> {
    entries.iter().map(|e| e.title.as_str()).collect()
}

#[test]
fn search_folds_diacritics_and_d_with_stroke_newest_first() {
    let (store, id) = store_with_source(&[]);
    store_entries(
        &store,
        id,
        &[
            entry("1", "An ninh mạng ở Đà Nẵng", 100),
            entry("2", "Tin an ninh mạng mới", 300),
            entry("3", "Thời tiết", 200),
        ],
        1000,
    );
    assert_eq!(
        titles(&store.search("an ninh mang", 50).expect("search")),
        ["Tin an ninh mạng mới", "An ninh mạng ở Đà Nẵng"]
    );
    assert_eq!(
        titles(&store.search("da nang", 50).expect("search")),
        ["An ninh mạng ở Đà Nẵng"]
    );
    assert_eq!(
        titles(&store.search("ĐÀ NẴNG", 50).expect("search")),
        ["An ninh mạng ở Đà Nẵng"]
    );
    assert_eq!(store.search("an ninh mang", 1).expect("search").len(), 1);
    for hostile in ["\"", "*", "NEAR(", ")", "a\" OR \"b", "title:x", "-", "^x"] {
        store
            .search(hostile, 50)
            .expect("hostile query is not an error");
    }
}

#[test]
fn search_follows_updates_and_deletions() {
    let (store, id) = store_with_source(&[]);
    store_entries(&store, id, &[entry("1", "Old headline", 100)], 1000);
    assert_eq!(store.search("old", 50).expect("search").len(), 1);
    store_entries(&store, id, &[entry("1", "New headline", 100)], 2000);
    assert!(store.search("old", 50).expect("search").is_empty());
    assert_eq!(store.search("new headline", 50).expect("search").len(), 1);
    // Pruned stories leave the index.
    store.prune(10_000_000, 1, 1000).expect("prune");
    assert!(store.search("headline", 50).expect("search").is_empty());
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

#[test]
fn daily_new_entries_counts_first_sightings_per_day() {
    let (store, id) = store_with_source(&[]);
    let day = 86_400;
    let now = 100 * day + 3600;
    store_entries(
        &store,
        id,
        &[entry("1", "a", 1), entry("2", "b", 2)],
        now - day,
    );
    store_entries(&store, id, &[entry("3", "c", 3)], now);
    store_entries(&store, id, &[entry("4", "d", 4)], now - 40 * day);
    let daily = store.daily_new_entries(30, now).expect("daily");
    let counts = &daily[&id];
    assert_eq!(counts.len(), 30);
    assert_eq!(counts[29], 1, "today");
    assert_eq!(counts[28], 2, "yesterday");
    assert_eq!(
        counts.iter().sum::<u64>(),
        3,
        "older than 30 days is left out"
    );
}

#[test]
fn a_query_word_the_index_splits_in_two_is_not_an_error() {
    let (store, id) = store_with_source(&[]);
    store_entries(&store, id, &[entry("1", "a b", 100)], 1000);
    // Circled letters are alphanumeric to Rust but separators to unicode61.
    store.search("aⓐb", 50).expect("no error");
    store.search("x\u{0903}y", 50).expect("no error");
}

#[test]
fn another_sources_changed_copy_that_joins_a_topic_changes_that_topics_pages() {
    let store = SqliteStore::open_in_memory().expect("store");
    let (a, b) = two_sources(&store);
    let link = "https://news.example/story";
    store_entries(
        &store,
        a,
        &[in_topics(linked("a-1", link, "Story"), &["news"])],
        1000,
    );
    store_entries(
        &store,
        b,
        &[in_topics(linked("b-1", link, "Story"), &["news"])],
        1100,
    );
    let _ = store.take_changed_topics();
    let generation = store.generation();

    // B's copy changes and now matches "security": the story (published from A) joins it.
    let changed = NewEntry {
        content_hash: crate::text::hash_parts(&["Story, updated"]),
        ..in_topics(linked("b-1", link, "Story"), &["news", "security"])
    };
    store_entries(&store, b, &[changed], 1200);
    assert_eq!(
        titles(&store.topic_entries(&slug("security"), 50).expect("read")),
        ["Story"]
    );
    assert!(
        store.generation() > generation,
        "cached pages must be rendered again"
    );
    assert!(store.take_changed_topics().contains("security"));
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

#[test]
fn a_document_warning_is_kept_until_a_document_without_one() {
    let (store, id) = store_with_source(&[]);
    let validators = Validators::default();
    let warning = "no entries read, although the document has 10 <item> elements";
    store
        .record_document(
            id,
            &FeedMeta::default(),
            &[],
            &Fetched {
                warning: Some(warning),
                ..Fetched::plain(&validators)
            },
            1000,
        )
        .expect("store");
    assert_eq!(
        store.source_state(id).expect("state").warning.as_deref(),
        Some(warning)
    );
    // A 304 says the document did not change: so does the warning.
    store
        .record_not_modified(
            id,
            &Fetched {
                status: 304,
                ..Fetched::plain(&validators)
            },
            2000,
        )
        .expect("304");
    assert_eq!(
        store.source_state(id).expect("state").warning.as_deref(),
        Some(warning)
    );
    store
        .record_document(
            id,
            &FeedMeta::default(),
            &[entry("1", "One", 100)],
            &Fetched::plain(&validators),
            3000,
        )
        .expect("store");
    assert_eq!(store.source_state(id).expect("state").warning, None);
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
fn a_refresh_records_the_schedule_it_decided_in_the_same_write() {
    let dir = tempfile::tempdir().expect("dir");
    let (store, a, _) = file_store_with_two_sources(dir.path());
    let schedule = |due: Timestamp| ScheduleRecord {
        next_due_at: due,
        interval_secs: 900,
        publishing_secs: Some(1800),
        feed_hint_secs: None,
        skip_hours: vec![1, 2],
        skip_days: Vec::new(),
        retry_after_until: None,
        fetch_url: None,
        redirect_target: None,
        redirect_streak: 0,
    };
    let validators = Validators::default();
    let first = schedule(1_700_000_900);
    let fetched = Fetched {
        schedule: Some(&first),
        ..Fetched::plain(&validators)
    };
    store
        .record_document(
            a,
            &FeedMeta::default(),
            &[entry("k", "Stored", 1_700_000_000)],
            &fetched,
            1_700_000_000,
        )
        .expect("document");
    store.flush().expect("flush");
    let state = store.source_state(a).expect("state");
    assert_eq!(state.next_due_at, Some(1_700_000_900));
    assert_eq!(state.interval_secs, Some(900));
    assert_eq!(state.skip_hours, [1, 2]);

    let second = schedule(1_700_001_800);
    let fetched = Fetched {
        schedule: Some(&second),
        ..Fetched::plain(&validators)
    };
    store
        .record_not_modified(a, &fetched, 1_700_000_900)
        .expect("not modified");
    // A refresh that fails leaves the schedule it carried unwritten, with everything else.
    let lost = schedule(1);
    let failed = store.record_document(
        SourceId(999),
        &FeedMeta::default(),
        &[],
        &Fetched {
            schedule: Some(&lost),
            ..Fetched::plain(&validators)
        },
        1_700_000_900,
    );
    assert!(failed.is_err(), "{failed:?}");
    store.flush().expect("flush");
    assert_eq!(
        store.source_state(a).expect("state").next_due_at,
        Some(1_700_001_800)
    );
    assert!(
        store
            .source_states()
            .expect("states")
            .iter()
            .all(|s| s.next_due_at != Some(1))
    );
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

/// An entry at its own canonical address, in `language`, optionally crediting `origin` (a
/// canonical URL) as its original.
fn version(key: &str, title: &str, language: &str, origin: Option<&str>) -> NewEntry {
    let mut e = entry(key, title, 1_700_000_000);
    e.link = Some(format!("https://{key}.example/story"));
    e.canonical_url = Some(format!("https://{key}.example/story"));
    e.language = Some(language.into());
    e.origin = origin.map(|url| crate::model::Origin {
        link: Some(url.to_string()),
        canonical_url: Some(url.to_string()),
        credit: None,
        found_by: crate::model::OriginRule::CreditLink,
    });
    e
}

fn store_one(store: &SqliteStore, source: SourceId, e: NewEntry, at: Timestamp) -> RefreshStats {
    store
        .record_document(
            source,
            &FeedMeta::default(),
            &[e],
            &Fetched::plain(&Validators::default()),
            at,
        )
        .expect("stored")
}

/// Every row of `entries`: (title, the title of the story it is a version of, if any).
fn rows(store: &SqliteStore) -> Vec<(String, Option<String>)> {
    store
        .with_reader(|c| {
            let mut stmt = c
                .prepare(
                    "SELECT e.title, p.title FROM entries e LEFT JOIN entries p ON p.id = e.version_of
                     ORDER BY e.id",
                )
                .context("rows")?;
            let rows = stmt
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                .context("rows")?;
            rows.collect::<Result<Vec<_>, _>>().context("rows")
        })
        .expect("rows")
}

const ORIGINAL: &str = "https://vi.example/story";

#[test]
fn a_republication_of_a_stored_original_joins_it_as_a_copy_or_a_translation() {
    let store = SqliteStore::open_in_memory().expect("store");
    let ids = sources(&store, 4);
    store_one(
        &store,
        ids[0],
        version("vi", "Bản gốc", "vi", None),
        1_700_000_000,
    );
    // Indonesian: a translation, kept as the story's other version.
    let stats = store_one(
        &store,
        ids[1],
        version("id", "Terjemahan", "id", Some(ORIGINAL)),
        1_700_000_100,
    );
    assert_eq!((stats.new, stats.merged, stats.translations), (1, 1, 1));
    assert_eq!(
        store.republications().expect("counts").get(&ids[1]),
        Some(&(0, 1))
    );
    // Vietnamese again (a portal reprinting it): a copy of the story.
    let stats = store_one(
        &store,
        ids[2],
        version("vi2", "Bản in lại", "vi", Some(ORIGINAL)),
        1_700_000_200,
    );
    assert_eq!((stats.new, stats.merged), (1, 1));
    assert_eq!(
        rows(&store),
        [
            ("Bản gốc".to_string(), None),
            ("Terjemahan".to_string(), Some("Bản gốc".to_string())),
        ]
    );
    // The story appears once, with the three sources.
    let listed = store.topic_entries(&TopicSlug::all(), 50).expect("entries");
    assert_eq!(titles(&listed), ["Bản gốc"]);
    // A credited original no source carries stays a credit on the story that gave it.
    store_one(
        &store,
        ids[3],
        version("ms", "Berita", "ms", Some("https://nowhere.example/a")),
        1_700_000_300,
    );
    let credited: (String, Option<String>) = store
        .with_reader(|c| {
            c.query_row(
                "SELECT origin_url, version_of FROM entries WHERE title = 'Berita'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .context("credit")
        })
        .expect("credit");
    assert_eq!(credited, ("https://nowhere.example/a".to_string(), None));
}

#[test]
fn an_original_arriving_after_its_republications_takes_them_in() {
    let store = SqliteStore::open_in_memory().expect("store");
    let ids = sources(&store, 3);
    store_one(
        &store,
        ids[1],
        version("id", "Terjemahan", "id", Some(ORIGINAL)),
        1_700_000_000,
    );
    store_one(
        &store,
        ids[2],
        version("vi2", "Bản in lại", "vi", Some(ORIGINAL)),
        1_700_000_100,
    );
    assert_eq!(
        titles(&store.topic_entries(&TopicSlug::all(), 50).expect("all")),
        ["Bản in lại", "Terjemahan"],
        "two stories until the original arrives"
    );
    let stats = store_one(
        &store,
        ids[0],
        version("vi", "Bản gốc", "vi", None),
        1_700_000_200,
    );
    assert_eq!(
        (stats.new, stats.origin_copies, stats.translations),
        (1, 1, 1)
    );
    // `status --json` counts per source what joined by the origin rules.
    let counted = store.republications().expect("counts");
    assert_eq!(counted.get(&ids[2]), Some(&(1, 0)));
    assert_eq!(counted.get(&ids[1]), Some(&(0, 1)));
    assert_eq!(counted.get(&ids[0]), None);
    // The Vietnamese reprint's sighting moved to the original and its row went; the Indonesian
    // one is the original's translation.
    assert_eq!(
        rows(&store),
        [
            ("Terjemahan".to_string(), Some("Bản gốc".to_string())),
            ("Bản gốc".to_string(), None),
        ]
    );
    assert_eq!(
        titles(&store.topic_entries(&TopicSlug::all(), 50).expect("all")),
        ["Bản gốc"]
    );
    let joined: Vec<(i64, Option<String>)> = store
        .with_reader(|c| {
            let mut stmt = c
                .prepare(
                    "SELECT g.source_id, g.joined_by FROM sightings g
                     JOIN entries e ON e.id = g.entry_id WHERE e.title = 'Bản gốc' ORDER BY g.source_id",
                )
                .context("sightings")?;
            let rows = stmt
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                .context("sightings")?;
            rows.collect::<Result<Vec<_>, _>>().context("sightings")
        })
        .expect("sightings");
    assert_eq!(
        joined,
        [(ids[0].0, None), (ids[2].0, Some("origin".to_string()))]
    );
    // The reprint's words left the search index with its row; the translation's stay findable.
    assert!(store.search("lại", 10).expect("search").is_empty());
}

#[test]
fn stories_crediting_the_same_outlet_by_name_stay_apart() {
    let store = SqliteStore::open_in_memory().expect("store");
    let ids = sources(&store, 2);
    let by_name = |key: &str, title: &str| {
        let mut e = version(key, title, "vi", None);
        e.origin = Some(crate::model::Origin {
            link: None,
            canonical_url: None,
            credit: Some("TTXVN".into()),
            found_by: crate::model::OriginRule::CreditName,
        });
        e
    };
    store_one(
        &store,
        ids[0],
        by_name("a", "Bão số 3 đổ bộ"),
        1_700_000_000,
    );
    store_one(
        &store,
        ids[1],
        by_name("b", "Giá vàng tăng mạnh"),
        1_700_000_100,
    );
    assert_eq!(rows(&store).len(), 2);
    assert_eq!(
        titles(&store.topic_entries(&TopicSlug::all(), 50).expect("all")).len(),
        2
    );
}

/// An in-memory store with `n` sources: the first stored the Vietnamese original (at
/// 1_700_000_000), the second its Indonesian translation (at `translated_at`).
fn original_and_translation(n: usize, translated_at: Timestamp) -> (SqliteStore, Vec<SourceId>) {
    let store = SqliteStore::open_in_memory().expect("store");
    let ids = sources(&store, n);
    store_one(
        &store,
        ids[0],
        version("vi", "Bản gốc", "vi", None),
        1_700_000_000,
    );
    store_one(
        &store,
        ids[1],
        version("id", "Terjemahan", "id", Some(ORIGINAL)),
        translated_at,
    );
    (store, ids)
}

/// `n` sources, each in `news`.
fn sources(store: &SqliteStore, n: usize) -> Vec<SourceId> {
    let specs: Vec<SourceSpec> = (0..n)
        .map(|i| SourceSpec {
            url: format!("https://s{i}.example/feed"),
            title: Some(format!("S{i}")),
            topics: vec![slug("news")],
        })
        .collect();
    store.sync_sources(&specs).expect("sync")
}

#[test]
fn a_story_and_its_translations_are_found_and_pruned_as_one() {
    // Translated days later: on its own it would not be old enough to go.
    let (store, ids) = original_and_translation(2, 1_700_000_000 + 9 * 86_400 + 100);
    // The translation's words find the story, shown once as the story.
    assert_eq!(
        titles(&store.search("terjemahan", 10).expect("search")),
        ["Bản gốc"]
    );
    // Old enough to go: both rows go, and both sources' items stay gone.
    store
        .prune(1_700_000_000 + 10 * 86_400, 86_400, 1000)
        .expect("prune");
    assert!(rows(&store).is_empty());
    let stats = store_one(
        &store,
        ids[1],
        version("id", "Terjemahan", "id", Some(ORIGINAL)),
        1_700_000_000 + 10 * 86_400,
    );
    assert_eq!(stats.new, 0, "tombstoned");
    assert!(rows(&store).is_empty());
}

#[test]
fn a_story_is_in_a_topic_any_of_its_versions_qualifies_for_and_listed_once() {
    let (store, _) = original_and_translation(2, 1_700_000_100);
    // Rules as a topic filtered on Indonesian would give: only the translation qualifies.
    store
        .rebuild_membership("rules-origins", 1_700_000_200, &mut |_, story| {
            let mut topics = vec![TopicSlug::all()];
            if story.language.as_deref() == Some("id") {
                topics.push(slug("indonesia"));
            }
            topics
        })
        .expect("rebuild");
    assert_eq!(
        titles(&store.topic_entries(&slug("indonesia"), 50).expect("topic")),
        ["Bản gốc"]
    );
    let all = store.topic_entries(&TopicSlug::all(), 50).expect("all");
    assert_eq!(titles(&all), ["Bản gốc"]);
    assert_eq!(
        all[0]
            .versions
            .iter()
            .map(|v| v.title.as_str())
            .collect::<Vec<_>>(),
        ["Terjemahan"]
    );
}

#[test]
fn a_copy_of_a_translation_is_listed_as_its_story() {
    let (store, ids) = original_and_translation(3, 1_700_000_100);
    // Another portal carries the Indonesian version at the same address.
    let mut copy = version("id2", "Terjemahan", "id", None);
    copy.link = Some("https://id.example/story".into());
    copy.canonical_url = Some("https://id.example/story".into());
    let stats = store_one(&store, ids[2], copy, 1_700_000_200);
    assert_eq!((stats.new, stats.merged), (1, 1));
    let all = store.topic_entries(&TopicSlug::all(), 50).expect("all");
    assert_eq!(titles(&all), ["Bản gốc"], "the translation is not listed");
    assert_eq!(all[0].versions.len(), 1);
}
