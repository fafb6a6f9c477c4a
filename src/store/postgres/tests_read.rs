//! The PostgreSQL engine's reads and non-ingest writes: the same rows stored in both engines
//! read back equal (pages, search, summaries, stories, pruning), and what only PostgreSQL has:
//! leases, telling other nodes, a rebuild that rolls back whole, stories read a page at a time.

use std::ops::ControlFlow;
use std::path::Path;
use std::time::Duration;

use postgres::fallible_iterator::FallibleIterator;
use postgres::{Client, NoTls};

use super::testing::TestDatabase;
use super::{CHANGES_CHANNEL, PostgresStore};
use crate::model::{
    Lease, PageCursor, ScheduleRecord, SourceId, StoryForTopics, TopicSlug, Validators,
};
use crate::store::{Fetched, SourceSpec, SqliteStore, Store};

const NODE: &str = "test-node";

fn database() -> TestDatabase {
    TestDatabase::create().unwrap_or_else(|why| panic!("{why}"))
}

fn slug(s: &str) -> TopicSlug {
    TopicSlug::new(s).expect("slug")
}

/// Rows of every kind a page shows, written in SQL both engines run: three sources (titled by
/// feeds.toml, by the feed, by nothing), a story carried by three sources, a credited story with
/// a translation that only the translation's words find, two stories sorting at the same time,
/// two stories under the same public id, and when pages last shrank.
const FIXTURE: &[&str] = &[
    "INSERT INTO sources (id, url, config_title, feed_title, site_url, feed_id, active)
     VALUES (1, 'https://a.example/feed', 'Source A', 'A feed', 'https://a.example/', 'urn:a', 1),
            (2, 'https://b.example/feed', NULL, 'B feed', 'https://b.example/', NULL, 1),
            (3, 'https://c.example/feed', NULL, NULL, NULL, NULL, 1)",
    "INSERT INTO source_topics (source_id, topic) VALUES (1, 'tech')",
    "INSERT INTO entries (id, source_id, public_id, link, title, summary_html, content_html,
        authors, categories, enclosures, language, published_at, updated_at, first_seen_at,
        changed_at, content_hash, canonical_url, origin_link, origin_credit, version_of)
     VALUES
        (1, 1, 'one', 'https://a.example/one', 'Rain in Hanoi', '<p>Rain</p>', '<p>Rain all day</p>',
         '[\"Lan\",\"Minh\"]', '[\"weather\"]',
         '[{\"url\":\"https://a.example/one.mp3\",\"media_type\":\"audio/mpeg\",\"length\":12}]',
         'en', 1000, 1500, 1000, 1600, 'h1', 'https://a.example/one', NULL, NULL, NULL),
        (2, 2, 'two', 'https://b.example/two', 'Markets close higher', NULL, '<p>Stocks</p>',
         '[]', '[]', '[]', 'en', 2000, 2000, 2000, 2000, 'h2', NULL,
         'https://origin.example/markets', 'Origin Daily', NULL),
        (3, 1, 'three', 'https://a.example/three', 'Chips shortage eases', NULL, NULL,
         '[]', '[]', '[]', NULL, 2000, 2000, 2100, 2100, 'h3', NULL, NULL, NULL, NULL),
        (4, 3, 'two-vi', 'https://c.example/two', 'Thị trường tăng điểm', NULL, '<p>Cổ phiếu</p>',
         '[]', '[]', '[]', 'vi', 2100, 2100, 2200, 2200, 'h4', NULL, NULL, 'Origin Daily', 2),
        (5, 2, 'one', 'https://b.example/one-again', 'Another story, same id', NULL, NULL,
         '[]', '[]', 'not json', NULL, 500, 500, 500, 500, 'h5', NULL, NULL, NULL, NULL)",
    "INSERT INTO sightings (source_id, entry_key, entry_id, first_seen_at, last_seen_at, link,
        joined_by, item_hash)
     VALUES (1, 'guid:one', 1, 1000, 3000, 'https://a.example/one', NULL, 11),
            (3, 'guid:c-one', 1, 1100, 3000, NULL, 'origin', NULL),
            (2, 'guid:b-one', 1, 1100, 3000, 'https://b.example/one', 'canonical_url', 12),
            (2, 'guid:two', 2, 2000, 3000, 'https://b.example/two', NULL, NULL),
            (1, 'guid:a-two', 2, 2050, 3000, 'https://a.example/two', 'origin', NULL),
            (1, 'guid:three', 3, 2100, 3000, 'https://a.example/three', NULL, 13),
            (3, 'guid:two-vi', 4, 2200, 3000, 'https://c.example/two', 'translation', NULL),
            (2, 'guid:one-again', 5, 500, 3000, 'https://b.example/one-again', NULL, NULL)",
    "INSERT INTO entry_topics (topic, sort_at, entry_id)
     VALUES ('all', 1000, 1), ('all', 2000, 2), ('all', 2000, 3), ('all', 500, 5),
            ('tech', 1000, 1), ('tech', 2000, 3)",
    "INSERT INTO settings (key, value) VALUES ('pages_shrank_at', '4242')",
];

/// Each story's search text, made as normalize makes it.
fn search_texts() -> Vec<(i64, String)> {
    use crate::text::search_text;
    vec![
        (
            1,
            search_text(
                "Rain in Hanoi",
                Some("<p>Rain</p>"),
                Some("<p>Rain all day</p>"),
            ),
        ),
        (
            2,
            search_text("Markets close higher", None, Some("<p>Stocks</p>")),
        ),
        (3, search_text("Chips shortage eases", None, None)),
        (
            4,
            search_text("Thị trường tăng điểm", None, Some("<p>Cổ phiếu</p>")),
        ),
        (5, search_text("Another story, same id", None, None)),
    ]
}

/// Both engines holding [`FIXTURE`], with a raw connection to each for what the store does not
/// read back.
struct Pair {
    sqlite: SqliteStore,
    sqlite_raw: rusqlite::Connection,
    postgres: PostgresStore,
    postgres_raw: Client,
    // Dropped last: the stores above are connected to them.
    _dir: tempfile::TempDir,
    _database: TestDatabase,
}

fn pair() -> Pair {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("news.db");
    let sqlite = SqliteStore::open(&path).expect("SQLite store");
    let sqlite_raw = rusqlite::Connection::open(&path).expect("SQLite connection");
    for sql in FIXTURE {
        sqlite_raw.execute_batch(sql).expect("SQLite fixture");
    }
    for (id, text) in search_texts() {
        sqlite_raw
            .execute(
                "INSERT INTO entry_search (rowid, body) VALUES (?1, ?2)",
                rusqlite::params![id, text],
            )
            .expect("SQLite search index");
    }
    let database = database();
    let postgres = PostgresStore::open(database.url(), NODE).expect("PostgreSQL store");
    let mut postgres_raw = Client::connect(database.url(), NoTls).expect("PostgreSQL connection");
    for sql in FIXTURE {
        postgres_raw.batch_execute(sql).expect("PostgreSQL fixture");
    }
    for (id, text) in search_texts() {
        postgres_raw
            .execute(
                "INSERT INTO entry_search (entry_id, words) VALUES ($1, $2)",
                &[&id, &super::search::index_words(&text)],
            )
            .expect("PostgreSQL search index");
    }
    Pair {
        sqlite,
        sqlite_raw,
        postgres,
        postgres_raw,
        _dir: dir,
        _database: database,
    }
}

/// Every page of `topic`, `limit` entries at a time, with the cursors between them.
fn walk(store: &dyn Store, topic: &TopicSlug, limit: usize) -> Vec<crate::model::TopicSlice> {
    let mut pages = Vec::new();
    let mut before: Option<PageCursor> = None;
    loop {
        let page = store.topic_page(topic, before, limit).expect("page");
        before = page.next;
        pages.push(page);
        if before.is_none() || pages.len() > 10 {
            return pages;
        }
    }
}

#[test]
fn index_words_keeps_each_word_of_the_search_text_once_in_order() {
    let text = crate::text::search_text("Mưa ở Hà Nội, mưa to", None, Some("<p>Hà Nội</p>"));
    assert_eq!(
        super::search::index_words(&text),
        ["mua", "o", "ha", "noi", "to"]
    );
    assert_eq!(
        super::search::index_words("a  b a\tc"),
        ["a", "b", "c"],
        "any white space separates, repeats go"
    );
    assert!(super::search::index_words("").is_empty());
}

#[test]
#[ignore = "needs PostgreSQL: .ci/run starts a throwaway server and sets TRIBUTARY_TEST_POSTGRES"]
fn topic_pages_on_postgres_equal_sqlites_for_the_same_rows() {
    let pair = pair();
    let (sqlite, postgres): (&dyn Store, &dyn Store) = (&pair.sqlite, &pair.postgres);
    for topic in ["all", "tech", "empty"] {
        let topic = slug(topic);
        for limit in [1, 2, 10] {
            let on_sqlite = walk(sqlite, &topic, limit);
            let on_postgres = walk(postgres, &topic, limit);
            assert_eq!(on_postgres, on_sqlite, "{topic} by {limit}");
        }
    }
    // What the equality above covers, so that it cannot hold by both being empty or bare.
    let page = postgres.topic_page(&slug("all"), None, 10).expect("page");
    let ids: Vec<i64> = page.entries.iter().map(|e| e.id).collect();
    assert_eq!(
        ids,
        [3, 2, 1],
        "same time: higher id first; the older story under the same public id is left out"
    );
    assert_eq!(page.shrank_at, Some(4242));
    let rain = &page.entries[2];
    let also: Vec<(&str, &str, Option<&str>)> = rain
        .also
        .iter()
        .map(|(s, link)| (s.url.as_str(), s.title.as_str(), link.as_deref()))
        .collect();
    assert_eq!(
        also,
        [
            (
                "https://b.example/feed",
                "B feed",
                Some("https://b.example/one")
            ),
            ("https://c.example/feed", "https://c.example/feed", None),
        ],
        "first seen first, ties by source"
    );
    assert_eq!(rain.authors, ["Lan", "Minh"]);
    assert_eq!(rain.enclosures[0].length, Some(12));
    let markets = &page.entries[1];
    assert_eq!(markets.versions.len(), 1);
    assert_eq!(markets.versions[0].title, "Thị trường tăng điểm");
    assert_eq!(
        markets.credit.as_ref().and_then(|c| c.outlet.as_deref()),
        Some("Origin Daily")
    );
    let first = postgres.topic_page(&slug("all"), None, 1).expect("page");
    assert_eq!(
        first.next,
        Some(PageCursor {
            sort_at: 2000,
            entry_id: 3
        })
    );
    let second = postgres
        .topic_page(&slug("all"), first.next, 1)
        .expect("page");
    assert_eq!(
        second.entries[0].id, 2,
        "the cursor's tie goes to the next page"
    );
}

#[test]
#[ignore = "needs PostgreSQL: .ci/run starts a throwaway server and sets TRIBUTARY_TEST_POSTGRES"]
fn search_on_postgres_finds_what_sqlite_finds_in_the_same_order() {
    let pair = pair();
    let (sqlite, postgres): (&dyn Store, &dyn Store) = (&pair.sqlite, &pair.postgres);
    for query in [
        "rain",
        "RAIN hanoi",
        "rain markets",
        "thi truong",
        "Thị trường",
        "stocks",
        "one",
        "\" * ( ) :",
        "",
        "nothing-here",
    ] {
        for limit in [1, 10] {
            assert_eq!(
                postgres.search(query, limit).expect("search"),
                sqlite.search(query, limit).expect("search"),
                "{query:?} limit {limit}"
            );
        }
    }
    let ids = |query: &str| -> Vec<i64> {
        postgres
            .search(query, 10)
            .expect("search")
            .iter()
            .map(|e| e.id)
            .collect()
    };
    assert_eq!(ids("RAIN hanoi"), [1], "every word, folded");
    assert_eq!(ids("rain markets"), Vec::<i64>::new());
    assert_eq!(
        ids("thi truong"),
        [2],
        "a translation's words find its story"
    );
    assert_eq!(ids("\" * ( ) :"), Vec::<i64>::new());
}

#[test]
#[ignore = "needs PostgreSQL: .ci/run starts a throwaway server and sets TRIBUTARY_TEST_POSTGRES"]
fn summaries_sources_and_stories_on_postgres_equal_sqlites() {
    let pair = pair();
    let (sqlite, postgres): (&dyn Store, &dyn Store) = (&pair.sqlite, &pair.postgres);
    let summaries = postgres.topic_summaries().expect("summaries");
    assert_eq!(summaries, sqlite.topic_summaries().expect("summaries"));
    assert_eq!(summaries["all"].entries, 4);
    assert_eq!(summaries["tech"].updated, Some(2100));

    let states = postgres.source_states().expect("states");
    assert_eq!(states, sqlite.source_states().expect("states"));
    assert_eq!(states[0].entries, 3);
    for id in [1, 2, 3] {
        assert_eq!(
            postgres.item_hashes(SourceId(id)).expect("hashes"),
            sqlite.item_hashes(SourceId(id)).expect("hashes")
        );
    }
    assert_eq!(postgres.item_hashes(SourceId(1)).expect("hashes").len(), 2);
    assert_eq!(
        postgres.source_labels().expect("labels"),
        sqlite.source_labels().expect("labels")
    );
    let republications = postgres.republications().expect("republications");
    assert_eq!(
        republications,
        sqlite.republications().expect("republications")
    );
    assert_eq!(republications[&SourceId(3)], (1, 1));
    for now in [1_000, 2_200, 86_400 * 3 + 5] {
        let daily = postgres.daily_new_entries(2, now).expect("daily");
        assert_eq!(daily, sqlite.daily_new_entries(2, now).expect("daily"));
    }
    assert_eq!(
        postgres.daily_new_entries(2, 2_200).expect("daily")[&SourceId(1)],
        [0, 3]
    );

    let mut sightings = postgres.sightings().expect("sightings");
    let mut expected = sqlite.sightings().expect("sightings");
    sightings.sort();
    expected.sort();
    assert_eq!(sightings, expected);

    let stories = |store: &dyn Store| {
        let mut seen = Vec::new();
        store
            .visit_stories(&mut |story: &StoryForTopics| {
                seen.push(format!("{story:?}"));
                ControlFlow::Continue(())
            })
            .expect("stories");
        seen
    };
    let on_postgres = stories(postgres);
    assert_eq!(on_postgres, stories(sqlite));
    assert_eq!(on_postgres.len(), 5, "every version of every story");
}

#[test]
#[ignore = "needs PostgreSQL: .ci/run starts a throwaway server and sets TRIBUTARY_TEST_POSTGRES"]
fn pruning_on_postgres_removes_and_tombstones_what_sqlite_does() {
    for (retention, max) in [(10_000, 1), (1_000_000, 1000), (1_000, 1000), (10_000, 0)] {
        let mut pair = pair();
        let now = 4_000;
        let (sqlite, postgres): (&dyn Store, &dyn Store) = (&pair.sqlite, &pair.postgres);
        let stats = postgres.prune(now, retention, max).expect("prune");
        assert_eq!(
            stats,
            sqlite.prune(now, retention, max).expect("prune"),
            "{retention} {max}"
        );
        let mut sightings = postgres.sightings().expect("sightings");
        let mut expected = sqlite.sightings().expect("sightings");
        sightings.sort();
        expected.sort();
        assert_eq!(sightings, expected, "{retention} {max}");
        assert_eq!(
            walk(postgres, &slug("all"), 10),
            walk(sqlite, &slug("all"), 10),
            "{retention} {max}"
        );
        let raw = &mut pair.postgres_raw;
        let on_postgres: Vec<(i64, String, i64)> = raw
            .query(
                "SELECT source_id, entry_key, pruned_at FROM tombstones ORDER BY 1, 2",
                &[],
            )
            .expect("tombstones")
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect();
        let on_sqlite: Vec<(i64, String, i64)> = pair
            .sqlite_raw
            .prepare("SELECT source_id, entry_key, pruned_at FROM tombstones ORDER BY 1, 2")
            .and_then(|mut stmt| {
                stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                    .collect::<Result<Vec<_>, _>>()
            })
            .expect("tombstones");
        assert_eq!(on_postgres, on_sqlite, "{retention} {max}");
        let entries: Vec<(i64, i64)> = raw
            .query("SELECT id, source_id FROM entries ORDER BY id", &[])
            .expect("entries")
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        let expected: Vec<(i64, i64)> = pair
            .sqlite_raw
            .prepare("SELECT id, source_id FROM entries ORDER BY id")
            .and_then(|mut stmt| {
                stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect::<Result<Vec<_>, _>>()
            })
            .expect("entries");
        assert_eq!(entries, expected, "{retention} {max}");
        // A pruned story's topic rows and search words go with it (by trigger on PostgreSQL,
        // by foreign key on SQLite).
        let topic_rows: Vec<(String, i64)> = raw
            .query(
                "SELECT topic, entry_id FROM entry_topics ORDER BY 1, 2",
                &[],
            )
            .expect("topic rows")
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        let expected_rows: Vec<(String, i64)> = pair
            .sqlite_raw
            .prepare("SELECT topic, entry_id FROM entry_topics ORDER BY 1, 2")
            .and_then(|mut stmt| {
                stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect::<Result<Vec<_>, _>>()
            })
            .expect("topic rows");
        assert_eq!(topic_rows, expected_rows, "{retention} {max}");
        let indexed: Vec<i64> = raw
            .query("SELECT entry_id FROM entry_search ORDER BY 1", &[])
            .expect("search rows")
            .iter()
            .map(|r| r.get(0))
            .collect();
        assert_eq!(
            indexed,
            entries.iter().map(|(id, _)| *id).collect::<Vec<_>>(),
            "{retention} {max}"
        );
        if (retention, max) == (10_000, 1) {
            // Each source keeps its newest story: A the chips story, B and C the markets story.
            assert_eq!(stats.sightings, 5);
            assert_eq!(entries, [(2, 2), (3, 1), (4, 3)]);
        }
        if (retention, max) == (1_000, 1000) {
            // Everything is old: every story goes, translations with their story.
            assert_eq!(entries, []);
            assert_eq!(
                stats.entries, 4,
                "a translation removed with its story counts with it, as on SQLite"
            );
            assert_eq!(on_postgres.len(), 8);
            let page = postgres.topic_page(&slug("all"), None, 10).expect("page");
            assert_eq!(page.shrank_at, Some(now));
        }
    }
}

#[test]
#[ignore = "needs PostgreSQL: .ci/run starts a throwaway server and sets TRIBUTARY_TEST_POSTGRES"]
fn a_leased_source_shows_its_node_and_every_write_ending_a_fetch_clears_the_lease() {
    let db = database();
    let store = PostgresStore::open(db.url(), NODE).expect("store");
    let id = store
        .sync_sources(&[SourceSpec {
            url: "https://a.example/feed".into(),
            title: None,
            topics: vec![],
        }])
        .expect("sync")[0];
    let mut raw = Client::connect(db.url(), NoTls).expect("connection");
    let mut lease = |node: &str, until: i64| {
        raw.execute(
            "UPDATE sources SET leased_by = $2, leased_until = $3 WHERE id = $1",
            &[&id.0, &node, &until],
        )
        .expect("lease");
    };
    let leased = |store: &PostgresStore| store.source_state(id).expect("state").lease;
    assert_eq!(leased(&store), None);

    lease("node-b", 5_000);
    assert_eq!(
        leased(&store),
        Some(Lease {
            node: "node-b".into(),
            until: 5_000
        })
    );
    assert_eq!(
        store.source_states().expect("states")[0].lease,
        leased(&store)
    );
    let validators = Validators {
        etag: Some("\"v1\"".into()),
        last_modified: None,
    };
    store
        .record_not_modified(id, &Fetched::plain(&validators), 4_000)
        .expect("not modified");
    let state = store.source_state(id).expect("state");
    assert_eq!(state.lease, None, "a 304 ends the fetch");
    assert_eq!(state.validators, validators);
    assert_eq!(state.last_status, Some(200));

    lease("node-b", 6_000);
    store
        .record_failure(id, "connection refused", "connect", Some(410), 4_100)
        .expect("failure");
    let state = store.source_state(id).expect("state");
    assert_eq!(state.lease, None, "a failure ends the fetch");
    assert_eq!(
        (state.consecutive_failures, state.gone_streak),
        (1, 1),
        "410 says gone"
    );

    lease("node-c", 7_000);
    let record = ScheduleRecord {
        next_due_at: 9_000,
        interval_secs: 900,
        skip_hours: vec![1, 2],
        redirect_streak: 2,
        ..ScheduleRecord::default()
    };
    store.record_schedule(id, &record).expect("schedule");
    let state = store.source_state(id).expect("state");
    assert_eq!(state.lease, None, "the schedule ends the fetch");
    assert_eq!(state.next_due_at, Some(9_000));
    assert_eq!(state.skip_hours, [1, 2]);
    assert_eq!(state.redirect_streak, 2);
}

/// The next notification on `listener`'s channel, if one comes within a second.
fn next_told(listener: &mut Client) -> Option<String> {
    listener
        .notifications()
        .timeout_iter(Duration::from_secs(1))
        .next()
        .ok()
        .flatten()
        .map(|n| n.payload().to_string())
}

#[test]
#[ignore = "needs PostgreSQL: .ci/run starts a throwaway server and sets TRIBUTARY_TEST_POSTGRES"]
fn writes_tell_other_nodes_what_changed_and_move_this_nodes_signals_as_sqlite_does() {
    let db = database();
    let store = PostgresStore::open(db.url(), NODE).expect("store");
    let mut listener = Client::connect(db.url(), NoTls).expect("listener");
    listener
        .batch_execute(&format!("LISTEN {CHANGES_CHANNEL}"))
        .expect("listen");
    let generations = |store: &PostgresStore| (store.generation(), store.sources_generation());

    let before = generations(&store);
    let id = store
        .sync_sources(&[SourceSpec {
            url: "https://a.example/feed".into(),
            title: Some("A".into()),
            topics: vec![slug("tech")],
        }])
        .expect("sync")[0];
    assert_eq!(next_told(&mut listener).as_deref(), Some("test-node\np\n"));
    assert_eq!(generations(&store), (before.0 + 1, before.1 + 1));

    let before = generations(&store);
    store
        .record_failure(id, "timed out", "timeout", None, 100)
        .expect("failure");
    assert_eq!(next_told(&mut listener).as_deref(), Some("test-node\ns\n"));
    assert_eq!(generations(&store), (before.0, before.1 + 1));

    let validators = Validators::default();
    store
        .record_not_modified(id, &Fetched::plain(&validators), 200)
        .expect("not modified");
    assert_eq!(next_told(&mut listener).as_deref(), Some("test-node\ns\n"));

    let before = generations(&store);
    store
        .record_schedule(id, &ScheduleRecord::default())
        .expect("schedule");
    store.prune(300, 1_000, 10).expect("prune of nothing");
    assert_eq!(
        next_told(&mut listener),
        None,
        "a schedule and a prune that removed nothing change nothing shown"
    );
    assert_eq!(generations(&store), before);

    store
        .rebuild_membership("rules-1", 400, &mut |_, _| vec![])
        .expect("rebuild");
    assert_eq!(next_told(&mut listener).as_deref(), Some("test-node\np\n"));
    assert_eq!(generations(&store), (before.0 + 1, before.1 + 1));
}

#[test]
#[ignore = "needs PostgreSQL: .ci/run starts a throwaway server and sets TRIBUTARY_TEST_POSTGRES"]
fn a_membership_rebuild_commits_whole_with_its_fingerprint_or_not_at_all() {
    let pair = pair();
    let store = &pair.postgres;
    let all_and_by_source = |source: SourceId, _story: &StoryForTopics| {
        vec![TopicSlug::all(), slug(&format!("from-{}", source.0))]
    };
    let count = store
        .rebuild_membership("rules-1", 5_000, &mut |s, story| {
            all_and_by_source(s, story)
        })
        .expect("rebuild");
    assert_eq!(count, 5, "every version of every story");
    assert_eq!(
        store
            .setting(crate::store::MEMBERSHIP_SETTING)
            .expect("setting"),
        Some("rules-1".into())
    );
    let ids = |topic: &str| -> Vec<i64> {
        walk(store, &slug(topic), 10)
            .into_iter()
            .flat_map(|p| p.entries)
            .map(|e| e.id)
            .collect()
    };
    assert_eq!(ids("tech"), Vec::<i64>::new(), "the old membership is gone");
    // Story 2 through its translation's source (3), under its own id and time.
    assert_eq!(ids("from-3"), [2, 1]);
    assert_eq!(ids("from-1"), [3, 2, 1]);
    assert_eq!(
        store
            .topic_page(&slug("all"), None, 1)
            .expect("page")
            .shrank_at,
        Some(5_000)
    );
    // The same rebuild on SQLite assigns the same rows.
    pair.sqlite
        .rebuild_membership("rules-1", 5_000, &mut |s, story| {
            all_and_by_source(s, story)
        })
        .expect("rebuild");
    for topic in ["all", "from-1", "from-2", "from-3"] {
        assert_eq!(
            walk(store, &slug(topic), 2),
            walk(&pair.sqlite, &slug(topic), 2),
            "{topic}"
        );
    }

    // A rebuild that fails halfway leaves the last one whole, fingerprint included.
    let mut assigned = 0;
    let failed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        store.rebuild_membership("rules-2", 6_000, &mut |_, _| {
            assigned += 1;
            if assigned == 3 {
                panic!("the rules failed");
            }
            vec![slug("other")]
        })
    }));
    assert!(failed.is_err());
    assert_eq!(
        store
            .setting(crate::store::MEMBERSHIP_SETTING)
            .expect("setting"),
        Some("rules-1".into())
    );
    assert_eq!(ids("from-1"), [3, 2, 1]);
    assert_eq!(ids("other"), Vec::<i64>::new());
}

#[test]
#[ignore = "needs PostgreSQL: .ci/run starts a throwaway server and sets TRIBUTARY_TEST_POSTGRES"]
fn visiting_stories_reads_them_newest_first_page_by_page_until_told_to_stop() {
    let db = database();
    let store = PostgresStore::open(db.url(), NODE).expect("store");
    let mut raw = Client::connect(db.url(), NoTls).expect("connection");
    // More stories than one fetch from the portal holds, several at each time.
    raw.batch_execute(
        "INSERT INTO sources (id, url) VALUES (1, 'https://a.example/feed');
         INSERT INTO entries (id, source_id, public_id, title, published_at, updated_at,
                              first_seen_at, changed_at, content_hash)
             SELECT n, 1, 'e' || n, 'Story ' || n, n / 3, n / 3, n, n, 'h'
             FROM generate_series(1, 1234) AS n;
         INSERT INTO sightings (source_id, entry_key, entry_id, first_seen_at, last_seen_at)
             SELECT 1, 'guid:e' || n, n, n, n FROM generate_series(1, 1234) AS n;",
    )
    .expect("stories");
    let mut seen = Vec::new();
    store
        .visit_stories(&mut |story| {
            seen.push((story.published, story.id, story.sources.clone()));
            ControlFlow::Continue(())
        })
        .expect("visit");
    assert_eq!(seen.len(), 1234);
    let mut expected: Vec<(i64, i64)> = (1..=1234).map(|n| (n / 3, n)).collect();
    expected.sort_by(|a, b| b.cmp(a));
    assert_eq!(
        seen.iter().map(|(p, id, _)| (*p, *id)).collect::<Vec<_>>(),
        expected
    );
    assert!(seen.iter().all(|(_, _, s)| s == &[SourceId(1)]));

    let mut visited = 0;
    store
        .visit_stories(&mut |_| {
            visited += 1;
            if visited == 3 {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })
        .expect("visit");
    assert_eq!(visited, 3, "no story is visited after the break");
    // The walk's transaction ended with it: the connection goes on serving.
    assert_eq!(store.topic_summaries().expect("summaries").len(), 0);
}

/// The fixtures of `tests/fixtures/origins` (originals, republications crediting them,
/// translations) with the address each is served from.
fn origins() -> Vec<(&'static str, &'static str)> {
    include_str!("../../../tests/fixtures/origins/served_at.txt")
        .lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| line.split_once(' '))
        .collect()
}
/// The day after the fixtures' stories.
const ORIGINS_NOW: i64 = 1_710_288_000;

/// Columns only PostgreSQL has: the leases of several nodes.
const POSTGRES_ONLY: &[(&str, &str)] = &[("sources", "leased_by"), ("sources", "leased_until")];

/// Copies every row of `from` (a SQLite database) into the empty PostgreSQL database `to`,
/// column by column as both schemas name them, and indexes each story for search as ingest
/// does. Fails on a column one schema has and the other lacks, leases aside.
fn copy_rows(from: &rusqlite::Connection, to: &mut Client) {
    use postgres::types::{ToSql, Type};
    for (table, order) in [
        ("sources", "id"),
        ("source_topics", "source_id, topic"),
        // Stories before their translations: version_of refers to them.
        ("entries", "version_of IS NOT NULL, id"),
        ("sightings", "source_id, entry_key"),
        ("entry_topics", "topic, sort_at, entry_id"),
        ("tombstones", "source_id, entry_key"),
        ("settings", "key"),
    ] {
        let sqlite_columns: Vec<String> = from
            .prepare(&format!("SELECT name FROM pragma_table_info('{table}')"))
            .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
            .expect("SQLite columns");
        let postgres_columns: Vec<String> = to
            .query(
                "SELECT column_name::text FROM information_schema.columns
                 WHERE table_name = $1 ORDER BY ordinal_position",
                &[&table],
            )
            .expect("PostgreSQL columns")
            .iter()
            .map(|r| r.get(0))
            .filter(|c: &String| !POSTGRES_ONLY.contains(&(table, c.as_str())))
            .collect();
        let mut both = sqlite_columns.clone();
        both.sort();
        let mut expected = postgres_columns.clone();
        expected.sort();
        assert_eq!(both, expected, "the columns of {table}");
        let list = postgres_columns.join(", ");
        let placeholders: Vec<String> = (1..=postgres_columns.len())
            .map(|n| format!("${n}"))
            .collect();
        let insert = to
            .prepare(&format!(
                "INSERT INTO {table} ({list}) VALUES ({})",
                placeholders.join(", ")
            ))
            .expect("insert");
        let types = insert.params().to_vec();
        let mut select = from
            .prepare(&format!("SELECT {list} FROM {table} ORDER BY {order}"))
            .expect("select");
        let mut rows = select.query([]).expect("rows");
        while let Some(row) = rows.next().expect("row") {
            let values: Vec<Box<dyn ToSql + Sync>> = types
                .iter()
                .enumerate()
                .map(|(i, ty)| -> Box<dyn ToSql + Sync> {
                    let value: rusqlite::types::Value = row.get(i).expect("value");
                    use rusqlite::types::Value;
                    match (ty, value) {
                        (&Type::INT8, Value::Integer(n)) => Box::new(n),
                        (&Type::INT8, Value::Null) => Box::new(None::<i64>),
                        (&Type::TEXT, Value::Text(t)) => Box::new(t),
                        (&Type::TEXT, Value::Null) => Box::new(None::<String>),
                        (&Type::BYTEA, Value::Blob(b)) => Box::new(b),
                        (&Type::BYTEA, Value::Null) => Box::new(None::<Vec<u8>>),
                        (ty, value) => panic!("{table}: {value:?} into {ty}"),
                    }
                })
                .collect();
            let params: Vec<&(dyn ToSql + Sync)> = values.iter().map(|v| v.as_ref()).collect();
            to.execute(&insert, &params).expect("copying a row");
        }
    }
    let mut stories = from
        .prepare("SELECT id, title, summary_html, content_html FROM entries")
        .expect("stories");
    let mut rows = stories.query([]).expect("stories");
    while let Some(row) = rows.next().expect("story") {
        let (id, title, summary, content): (i64, String, Option<String>, Option<String>) = (
            row.get(0).expect("id"),
            row.get(1).expect("title"),
            row.get(2).expect("summary"),
            row.get(3).expect("content"),
        );
        let text = crate::text::search_text(&title, summary.as_deref(), content.as_deref());
        to.execute(
            "INSERT INTO entry_search (entry_id, words) VALUES ($1, $2)",
            &[&id, &super::search::index_words(&text)],
        )
        .expect("indexing");
    }
}

#[test]
#[ignore = "needs PostgreSQL: .ci/run starts a throwaway server and sets TRIBUTARY_TEST_POSTGRES"]
fn republished_and_translated_stories_read_the_same_on_both_engines() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("news.db");
    let sqlite = SqliteStore::open(&path).expect("SQLite store");
    let specs: Vec<SourceSpec> = origins()
        .iter()
        .map(|(name, url)| SourceSpec {
            url: url.to_string(),
            title: name.starts_with("dantri").then(|| "Dân trí".to_string()),
            topics: vec![slug("news")],
        })
        .collect();
    let ids = sqlite.sync_sources(&specs).expect("sync");
    for ((name, url), id) in origins().iter().zip(&ids) {
        let body = std::fs::read(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures/origins")
                .join(name),
        )
        .expect("fixture");
        let url = url::Url::parse(url).expect("URL");
        let feed = crate::parse::parse_feed(&body, &url, None).expect("parses");
        let mut normalized = crate::normalize::normalize(&feed, &url, ORIGINS_NOW);
        for entry in &mut normalized.entries {
            let own = slug(name.split(['_', '.']).next().unwrap_or("other"));
            entry.topics = vec![TopicSlug::all(), slug("news"), own];
        }
        sqlite
            .record_document(
                *id,
                &normalized.meta,
                &normalized.entries,
                &Fetched::plain(&Validators::default()),
                ORIGINS_NOW,
            )
            .expect("record");
    }
    sqlite.flush().expect("flush");
    let raw = rusqlite::Connection::open(&path).expect("SQLite connection");
    let database = database();
    let postgres = PostgresStore::open(database.url(), NODE).expect("PostgreSQL store");
    let mut postgres_raw = Client::connect(database.url(), NoTls).expect("connection");
    copy_rows(&raw, &mut postgres_raw);
    let (sqlite, postgres): (&dyn Store, &dyn Store) = (&sqlite, &postgres);

    let summaries = postgres.topic_summaries().expect("summaries");
    assert_eq!(summaries, sqlite.topic_summaries().expect("summaries"));
    assert!(summaries["all"].entries >= 10, "{summaries:?}");
    let mut shown = 0;
    for topic in summaries.keys() {
        for limit in [3, 100] {
            let pages = walk(postgres, &slug(topic), limit);
            assert_eq!(
                pages,
                walk(sqlite, &slug(topic), limit),
                "{topic} by {limit}"
            );
            shown += pages.iter().map(|p| p.entries.len()).sum::<usize>();
        }
    }
    assert!(shown > 0);
    let all = walk(postgres, &TopicSlug::all(), 100);
    let entries = || all.iter().flat_map(|p| p.entries.iter());
    assert!(
        entries().any(|e| !e.also.is_empty()),
        "some story is credited to more than one source"
    );
    assert!(
        entries().any(|e| !e.versions.is_empty()),
        "some story has a translation"
    );
    assert!(
        entries().any(|e| e.credit.is_some()),
        "some story credits an outlet"
    );

    for query in [
        "ha noi",
        "Hà Nội",
        "long bien",
        "emas",
        "vang",
        "hoi an lantern",
    ] {
        let found = postgres.search(query, 50).expect("search");
        assert_eq!(found, sqlite.search(query, 50).expect("search"), "{query}");
    }
    assert!(!postgres.search("long bien", 50).expect("search").is_empty());

    let stories = |store: &dyn Store| {
        let mut seen = Vec::new();
        store
            .visit_stories(&mut |story: &StoryForTopics| {
                seen.push(format!("{story:?}"));
                ControlFlow::Continue(())
            })
            .expect("stories");
        seen
    };
    assert_eq!(stories(postgres), stories(sqlite));
    assert_eq!(
        postgres.republications().expect("republications"),
        sqlite.republications().expect("republications")
    );
    assert_eq!(
        postgres.source_states().expect("states"),
        sqlite.source_states().expect("states")
    );

    let pruned = postgres.prune(ORIGINS_NOW, 10 * 86_400, 2).expect("prune");
    assert_eq!(
        pruned,
        sqlite.prune(ORIGINS_NOW, 10 * 86_400, 2).expect("prune")
    );
    assert!(pruned.sightings > 0);
    for topic in summaries.keys() {
        assert_eq!(
            walk(postgres, &slug(topic), 100),
            walk(sqlite, &slug(topic), 100),
            "{topic} after pruning"
        );
    }
    let mut left = postgres.sightings().expect("sightings");
    let mut expected = sqlite.sightings().expect("sightings");
    left.sort();
    expected.sort();
    assert_eq!(left, expected);
}

#[test]
#[ignore = "needs PostgreSQL: .ci/run starts a throwaway server and sets TRIBUTARY_TEST_POSTGRES"]
fn nodes_syncing_the_same_sources_at_once_agree_on_every_id() {
    let db = database();
    let specs: Vec<SourceSpec> = (0..50)
        .map(|i| SourceSpec {
            url: format!("https://s{i}.example/feed"),
            title: Some(format!("S{i}")),
            topics: vec![slug("news"), slug(&format!("t{}", i % 3))],
        })
        .collect();
    let synced: Vec<Vec<SourceId>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..4)
            .map(|n| {
                let (url, specs) = (db.url().to_string(), &specs);
                scope.spawn(move || {
                    let store = PostgresStore::open(&url, &format!("node-{n}")).expect("store");
                    store.sync_sources(specs).expect("sync")
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("syncing thread"))
            .collect()
    });
    for ids in &synced[1..] {
        assert_eq!(ids, &synced[0], "every node has the same id for each URL");
    }
    let store = PostgresStore::open(db.url(), NODE).expect("store");
    let states = store.source_states().expect("states");
    assert_eq!(states.len(), 50, "each URL once");
    assert_eq!(
        states.iter().map(|s| s.id).collect::<Vec<_>>(),
        synced[0],
        "in feeds.toml order"
    );
    let mut raw = Client::connect(db.url(), NoTls).expect("connection");
    let topics: i64 = raw
        .query_one("SELECT COUNT(*) FROM source_topics", &[])
        .expect("count")
        .get(0);
    assert_eq!(topics, 100, "each source's topics once");

    // A resync rewrites the topics of the sources whose topics changed.
    let changed: Vec<SourceSpec> = specs
        .iter()
        .enumerate()
        .map(|(i, spec)| SourceSpec {
            url: spec.url.clone(),
            title: spec.title.clone(),
            topics: if i % 2 == 0 {
                vec![slug("sport")]
            } else {
                spec.topics.clone()
            },
        })
        .collect();
    assert_eq!(store.sync_sources(&changed).expect("resync"), synced[0]);
    let mut expected: Vec<(i64, String)> = changed
        .iter()
        .zip(&synced[0])
        .flat_map(|(spec, id)| spec.topics.iter().map(|t| (id.0, t.to_string())))
        .collect();
    expected.sort();
    let stored: Vec<(i64, String)> = raw
        .query(
            "SELECT source_id, topic FROM source_topics ORDER BY source_id, topic",
            &[],
        )
        .expect("topics")
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(stored, expected);
}
