//! Recording documents on PostgreSQL: what several nodes on one database need (one story
//! whichever node sees it, near duplicates across nodes, telling other nodes), and the same
//! stories, sightings and counts as the SQLite engine for the same documents.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Barrier;
use std::time::Duration;

use postgres::fallible_iterator::FallibleIterator;
use postgres::{Client, NoTls};

use super::testing::TestDatabase;
use super::{CHANGES_CHANNEL, PostgresStore};
use crate::dedup::fingerprint;
use crate::model::{
    EntryKey, FeedMeta, NewEntry, Origin, OriginRule, RefreshStats, ScheduleRecord, SourceId,
    Timestamp, TopicSlug, Validators,
};
use crate::store::{Fetched, SourceSpec, SqliteStore, Store};

const NOW: Timestamp = 1_700_000_000;

fn database() -> TestDatabase {
    TestDatabase::create().unwrap_or_else(|why| panic!("{why}"))
}

fn open(db: &TestDatabase, node: &str) -> PostgresStore {
    PostgresStore::open(db.url(), node).unwrap_or_else(|e| panic!("opening {node}: {e}"))
}

fn client(db: &TestDatabase) -> Client {
    Client::connect(db.url(), NoTls).expect("test database")
}

fn slug(s: &str) -> TopicSlug {
    TopicSlug::new(s).expect("slug")
}

/// The sources the tests use: `https://{name}.example/feed`, each in the topic `news`.
const SOURCES: [&str; 4] = ["a", "b", "c", "d"];

/// The sources as feeds.toml would list them.
fn specs() -> Vec<SourceSpec> {
    SOURCES
        .iter()
        .map(|name| SourceSpec {
            url: format!("https://{name}.example/feed"),
            title: Some(name.to_uppercase()),
            topics: vec![slug("news")],
        })
        .collect()
}

/// Syncs [`SOURCES`] into the database (migrating it first).
fn add_sources(db: &TestDatabase) -> Vec<SourceId> {
    open(db, "setup").sync_sources(&specs()).expect("sync")
}

/// An entry with a guid `key` at `link` (its canonical form too), with `title` as its text.
fn linked(key: &str, link: &str, title: &str) -> NewEntry {
    let mut e = NewEntry::bare(key, title, NOW - 600);
    e.link = Some(link.to_string());
    e.canonical_url = Some(link.to_string());
    e.content_html = Some(format!("<p>{title}</p>"));
    e.content_hash = crate::text::hash_parts(&[title]);
    e.search_text = crate::text::search_text(title, None, e.content_html.as_deref());
    e.topics = vec![TopicSlug::all(), slug("news")];
    e
}

const STORY_TEXT: &str = "Thành phố Hà Nội công bố kế hoạch xây dựng ba tuyến đường sắt đô thị \
    mới trong giai đoạn tới với tổng vốn đầu tư lớn nhằm giảm ùn tắc giao thông cho người dân \
    ở các quận nội thành và vùng ven";

/// A story with enough words for a signature, at its own address: stories made from the same
/// `title` and nearly the same `text` are near duplicates.
fn worded(key: &str, link: &str, title: &str, text: &str) -> NewEntry {
    let mut e = linked(key, link, title);
    e.content_html = Some(format!("<p>{text}</p>"));
    e.content_hash = crate::text::hash_parts(&[title, text]);
    e.signature = fingerprint::signature(title, text);
    e.title_numbers = fingerprint::title_numbers(title);
    e.search_text = crate::text::search_text(title, None, e.content_html.as_deref());
    e
}

fn record(
    store: &dyn Store,
    source: SourceId,
    entries: &[NewEntry],
    now: Timestamp,
) -> RefreshStats {
    store
        .record_document(
            source,
            &FeedMeta::default(),
            entries,
            &Fetched::plain(&Validators::default()),
            now,
        )
        .unwrap_or_else(|e| panic!("recording: {e}"))
}

/// Every story at `url` with how many sightings it has.
fn stories_at(client: &mut Client, url: &str) -> Vec<i64> {
    client
        .query(
            "SELECT (SELECT COUNT(*) FROM sightings g WHERE g.entry_id = e.id)
             FROM entries e WHERE e.canonical_url = $1 ORDER BY e.id",
            &[&url],
        )
        .expect("stories")
        .iter()
        .map(|r| r.get(0))
        .collect()
}

#[test]
#[ignore = "needs PostgreSQL: .ci/run starts a throwaway server and sets TRIBUTARY_TEST_POSTGRES"]
fn one_story_stored_by_two_nodes_at_once_is_one_entry_crediting_both() {
    let db = database();
    let ids = add_sources(&db);
    let nodes = [open(&db, "node-a"), open(&db, "node-b")];
    const ROUNDS: usize = 50;
    let barrier = Barrier::new(2);
    let stats: Vec<Vec<RefreshStats>> = std::thread::scope(|scope| {
        let handles: Vec<_> = nodes
            .iter()
            .zip(ids)
            .enumerate()
            .map(|(n, (store, source))| {
                let barrier = &barrier;
                scope.spawn(move || {
                    (0..ROUNDS)
                        .map(|round| {
                            let link = format!("https://news.example/story-{round}");
                            let story = linked(&format!("{n}-{round}"), &link, "Tin nóng");
                            barrier.wait();
                            record(store, source, &[story], NOW + round as i64)
                        })
                        .collect()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("node thread"))
            .collect()
    });
    let mut client = client(&db);
    for round in 0..ROUNDS {
        let link = format!("https://news.example/story-{round}");
        assert_eq!(
            stories_at(&mut client, &link),
            [2],
            "round {round}: one story with both sightings"
        );
        let merged: Vec<usize> = stats.iter().map(|s| s[round].merged).collect();
        let new: Vec<usize> = stats.iter().map(|s| s[round].new).collect();
        assert_eq!(new, [1, 1], "round {round}");
        assert_eq!(merged.iter().sum::<usize>(), 1, "round {round}: one merged");
    }
}

/// The story node A stores and node B's copy must find.
const RAIL: &str = "Hà Nội xây 3 tuyến đường sắt đô thị";

/// Two nodes on one database, node B's index loaded (it stored a story of its own) before node
/// A stores anything: only reading what other nodes stored since lets B find A's stories.
fn two_nodes() -> (TestDatabase, Vec<SourceId>, PostgresStore, PostgresStore) {
    let db = database();
    let ids = add_sources(&db);
    let a = open(&db, "node-a");
    let b = open(&db, "node-b");
    record(
        &b,
        ids[1],
        &[linked("filler", "https://b.example/f", "Thời tiết")],
        NOW,
    );
    (db, ids, a, b)
}

/// Source B's copy of the [`RAIL`] story: the same title, nearly the same text.
fn rail_copy() -> NewEntry {
    worded(
        "b1",
        "https://b.example/duong-sat",
        RAIL,
        &format!("{STORY_TEXT} hôm nay"),
    )
}

#[test]
#[ignore = "needs PostgreSQL: .ci/run starts a throwaway server and sets TRIBUTARY_TEST_POSTGRES"]
fn a_near_duplicate_of_a_story_another_node_stored_joins_it() {
    let (db, ids, a, b) = two_nodes();
    let stored = record(
        &a,
        ids[0],
        &[worded("a1", "https://a.example/ha-noi", RAIL, STORY_TEXT)],
        NOW + 10,
    );
    assert_eq!((stored.new, stored.merged), (1, 0));
    let joined = record(&b, ids[1], &[rail_copy()], NOW + 20);
    assert_eq!((joined.new, joined.merged), (1, 1), "joined node A's story");
    let mut client = client(&db);
    let rows: Vec<(String, i64)> = client
        .query(
            "SELECT e.public_id, COUNT(g.*) FROM entries e JOIN sightings g ON g.entry_id = e.id
             WHERE e.public_id <> 'filler' GROUP BY e.id, e.public_id",
            &[],
        )
        .expect("stories")
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(rows, [("a1".to_string(), 2)]);
}

#[test]
#[ignore = "needs PostgreSQL: .ci/run starts a throwaway server and sets TRIBUTARY_TEST_POSTGRES"]
fn a_look_reads_every_story_committed_since_the_last_however_many() {
    // Tests read two new stories a query (`NEW_PER_LOOK`): node A's five stories take node B
    // three queries, and the last of them is the one B's copy must find.
    let (_db, ids, a, b) = two_nodes();
    let stories = [
        linked("a1", "https://a.example/1", "Giá vàng"),
        linked("a2", "https://a.example/2", "Giao thông"),
        linked("a3", "https://a.example/3", "Bóng đá"),
        linked("a4", "https://a.example/4", "Chứng khoán"),
        worded("a5", "https://a.example/5", RAIL, STORY_TEXT),
    ];
    assert_eq!(record(&a, ids[0], &stories, NOW + 10).new, 5);
    let joined = record(&b, ids[1], &[rail_copy()], NOW + 20);
    assert_eq!(
        (joined.new, joined.merged),
        (1, 1),
        "joined node A's fifth story"
    );
    assert!(b.near.lock().expect("index").gaps().is_empty());
}

#[test]
#[ignore = "needs PostgreSQL: .ci/run starts a throwaway server and sets TRIBUTARY_TEST_POSTGRES"]
fn a_story_committed_after_a_later_one_is_still_found_as_a_near_duplicate() {
    let (db, ids, a, b) = two_nodes();
    // A slow transaction (another node's) takes its story id first and commits last.
    let title = RAIL;
    let signature = fingerprint::signature(title, STORY_TEXT).map(|s| fingerprint::to_bytes(&s));
    let mut slow = client(&db);
    let mut tx = slow.transaction().expect("slow transaction");
    let early: i64 = tx
        .query_one(
            "INSERT INTO entries (source_id, public_id, title, published_at, updated_at,
                first_seen_at, changed_at, content_hash, signature, title_numbers, content_html)
             VALUES ($1, 'slow', $2, $3, $3, $3, $3, 'h', $4, $5, $6) RETURNING id",
            &[
                &ids[2].0,
                &title,
                &(NOW + 5),
                &signature,
                &fingerprint::title_numbers(title),
                &format!("<p>{STORY_TEXT}</p>"),
            ],
        )
        .expect("slow story")
        .get(0);
    tx.execute(
        "INSERT INTO sightings (source_id, entry_key, entry_id, first_seen_at, last_seen_at)
         VALUES ($1, 'g:slow', $2, $3, $3)",
        &[&ids[2].0, &early, &(NOW + 5)],
    )
    .expect("slow sighting");
    // Meanwhile node A stores a later story, and node B reads past it.
    record(
        &a,
        ids[0],
        &[linked("later", "https://a.example/later", "Giá vàng")],
        NOW + 6,
    );
    record(
        &b,
        ids[1],
        &[linked("filler2", "https://b.example/f2", "Giao thông")],
        NOW + 7,
    );
    assert_eq!(
        b.near.lock().expect("index").gaps(),
        [early],
        "the uncommitted story is awaited"
    );
    tx.commit().expect("slow commit");
    let joined = record(&b, ids[1], &[rail_copy()], NOW + 20);
    assert_eq!((joined.new, joined.merged), (1, 1), "joined the late story");
    assert!(b.near.lock().expect("index").gaps().is_empty());
    let carried: i64 = client(&db)
        .query_one(
            "SELECT COUNT(*) FROM sightings WHERE entry_id = $1",
            &[&early],
        )
        .expect("sightings")
        .get(0);
    assert_eq!(carried, 2);
}

/// The payloads told on the changes channel within a second.
fn told(listener: &mut Client) -> Vec<String> {
    listener
        .notifications()
        .timeout_iter(Duration::from_secs(1))
        .iterator()
        .filter_map(Result::ok)
        .map(|n| n.payload().to_string())
        .collect()
}

#[test]
#[ignore = "needs PostgreSQL: .ci/run starts a throwaway server and sets TRIBUTARY_TEST_POSTGRES"]
fn a_refresh_tells_other_nodes_and_this_nodes_signals_what_it_changed() {
    let db = database();
    let ids = add_sources(&db);
    let store = open(&db, "node-a");
    let mut listener = client(&db);
    listener
        .batch_execute(&format!("LISTEN {CHANGES_CHANNEL}"))
        .expect("listen");
    let signals = store.signals();
    let (pages, sources) = (signals.generation(), signals.sources_generation());

    let story = linked("s1", "https://a.example/s1", "Tin mới");
    record(&store, ids[0], std::slice::from_ref(&story), NOW);
    assert_eq!(told(&mut listener), ["node-a\np\nall,news"]);
    assert!(signals.generation() > pages, "pages changed");
    assert_eq!(
        signals.take_changed_topics(),
        BTreeSet::from(["all".to_string(), "news".to_string()])
    );

    // The same document again changes only the source's row.
    let pages = signals.generation();
    record(&store, ids[0], &[story], NOW + 60);
    assert_eq!(told(&mut listener), ["node-a\ns\n"]);
    assert_eq!(signals.generation(), pages, "no page changed");
    assert!(signals.sources_generation() > sources);
    assert!(signals.take_changed_topics().is_empty());

    // A refresh that fails tells nobody.
    let unknown = SourceId(999_999);
    assert!(
        store
            .record_document(
                unknown,
                &FeedMeta::default(),
                &[linked("x", "https://x.example/", "X")],
                &Fetched::plain(&Validators::default()),
                NOW,
            )
            .is_err()
    );
    assert!(told(&mut listener).is_empty());
    let stored: i64 = client(&db)
        .query_one("SELECT COUNT(*) FROM entries WHERE public_id = 'x'", &[])
        .expect("count")
        .get(0);
    assert_eq!(stored, 0, "rolled back with the refresh");
}

#[test]
#[ignore = "needs PostgreSQL: .ci/run starts a throwaway server and sets TRIBUTARY_TEST_POSTGRES"]
fn a_refresh_writes_validators_and_schedule_and_ends_the_lease() {
    let db = database();
    let ids = add_sources(&db);
    let store = open(&db, "node-a");
    let mut client = client(&db);
    client
        .execute(
            "UPDATE sources SET leased_by = 'node-a', leased_until = $2, last_error = 'old'
             WHERE id = $1",
            &[&ids[0].0, &(NOW + 300)],
        )
        .expect("lease");
    let validators = Validators {
        etag: Some("\"v1\"".into()),
        last_modified: Some("Tue, 14 Nov 2023 22:13:20 GMT".into()),
    };
    let schedule = ScheduleRecord {
        next_due_at: NOW + 900,
        interval_secs: 900,
        publishing_secs: Some(1800),
        feed_hint_secs: None,
        skip_hours: vec![1, 2],
        skip_days: vec![],
        retry_after_until: None,
        fetch_url: None,
        redirect_target: None,
        redirect_streak: 0,
    };
    let meta = FeedMeta {
        title: Some("Báo A".into()),
        site_url: Some("https://a.example/".into()),
        feed_id: None,
        language: Some("vi".into()),
    };
    store
        .record_document(
            ids[0],
            &meta,
            &[linked("s1", "https://a.example/s1", "Tin")],
            &Fetched {
                validators: &validators,
                status: 200,
                body_hash: Some("abc"),
                unconditional: true,
                warning: Some("dates in the future"),
                unchanged: &[],
                schedule: Some(&schedule),
            },
            NOW,
        )
        .expect("record");
    let row = client
        .query_one(
            "SELECT leased_by, leased_until, etag, last_modified, last_status, body_hash, warning,
                    last_unconditional_at, next_due_at, interval_secs, adaptive_secs, skip_hours,
                    feed_title, language, last_error, last_success_at
             FROM sources WHERE id = $1",
            &[&ids[0].0],
        )
        .expect("source");
    assert_eq!(row.get::<_, Option<String>>(0), None, "lease ended");
    assert_eq!(row.get::<_, Option<i64>>(1), None);
    assert_eq!(row.get::<_, Option<String>>(2).as_deref(), Some("\"v1\""));
    assert_eq!(
        row.get::<_, Option<String>>(3),
        validators.last_modified.clone()
    );
    assert_eq!(row.get::<_, Option<i64>>(4), Some(200));
    assert_eq!(row.get::<_, Option<String>>(5).as_deref(), Some("abc"));
    assert_eq!(
        row.get::<_, Option<String>>(6).as_deref(),
        Some("dates in the future")
    );
    assert_eq!(row.get::<_, Option<i64>>(7), Some(NOW));
    assert_eq!(row.get::<_, Option<i64>>(8), Some(NOW + 900));
    assert_eq!(row.get::<_, Option<i64>>(9), Some(900));
    assert_eq!(row.get::<_, Option<i64>>(10), Some(1800));
    assert_eq!(row.get::<_, Option<String>>(11).as_deref(), Some("1,2"));
    assert_eq!(row.get::<_, Option<String>>(12).as_deref(), Some("Báo A"));
    assert_eq!(row.get::<_, Option<String>>(13).as_deref(), Some("vi"));
    assert_eq!(row.get::<_, Option<String>>(14), None);
    assert_eq!(row.get::<_, Option<i64>>(15), Some(NOW));
    let words: Vec<String> = client
        .query_one("SELECT words FROM entry_search", &[])
        .expect("search row")
        .get(0);
    assert_eq!(words, ["tin"], "the story's folded words");
}

#[test]
#[ignore = "needs PostgreSQL: .ci/run starts a throwaway server and sets TRIBUTARY_TEST_POSTGRES"]
fn entries_sent_unchanged_keep_their_item_hash_and_stay_in_the_document() {
    let db = database();
    let ids = add_sources(&db);
    let store = open(&db, "node-a");
    let mut first = linked("s1", "https://a.example/s1", "Tin");
    first.item_hash = Some(-42);
    record(&store, ids[0], &[first], NOW);
    let item: Option<i64> = client(&db)
        .query_one("SELECT item_hash FROM sightings", &[])
        .expect("sighting")
        .get(0);
    assert_eq!(item, Some(-42));
    // The next document sends the same item: not normalized again, its key still in the
    // document, so a new guid at its address is a new story, not the old one re-keyed.
    let validators = Validators::default();
    let unchanged = [EntryKey::guid("s1")];
    let stats = store
        .record_document(
            ids[0],
            &FeedMeta::default(),
            &[linked("s2", "https://a.example/s1", "Tin khác")],
            &Fetched {
                unchanged: &unchanged,
                ..Fetched::plain(&validators)
            },
            NOW + 60,
        )
        .expect("record");
    assert_eq!(
        (stats.new, stats.unchanged, stats.reused, stats.churned),
        (1, 1, 1, 0)
    );
    let keys: Vec<String> = client(&db)
        .query("SELECT entry_key FROM sightings ORDER BY entry_key", &[])
        .expect("sightings")
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(keys, ["guid:s1", "guid:s2"]);
}

/// One step of the shared sequence: which source records which entries, unchanged keys.
struct Step {
    source: usize,
    entries: Vec<NewEntry>,
    unchanged: Vec<EntryKey>,
}

const ORIGINAL: &str = "https://vi.example/story";
const LATE_ORIGINAL: &str = "https://late.example/original";

fn crediting(mut e: NewEntry, language: &str, origin: &str) -> NewEntry {
    e.language = Some(language.into());
    e.origin = Some(Origin {
        link: Some(origin.to_string()),
        canonical_url: Some(origin.to_string()),
        credit: None,
        found_by: OriginRule::CreditLink,
    });
    e
}

/// Documents from several sources: shared addresses, near duplicates, an update, a
/// translation and copies of an original, republications before their original, two guids
/// sharing a link, a changed guid, an unchanged item.
fn sequence() -> Vec<Step> {
    let near_title = "Hà Nội xây 3 tuyến đường sắt đô thị";
    let shared = "https://news.example/shared";
    let step = |source, entries| Step {
        source,
        entries,
        unchanged: vec![],
    };
    let mut original = linked("vi", ORIGINAL, "Bản gốc");
    original.language = Some("vi".into());
    let mut updated = linked("a1", shared, "Tin chung, cập nhật");
    updated.updated = Some(NOW + 100);
    vec![
        step(
            0,
            vec![
                linked("a1", shared, "Tin chung"),
                worded("a2", "https://a.example/near", near_title, STORY_TEXT),
                original,
            ],
        ),
        step(
            1,
            vec![
                linked("b1", shared, "Tin chung"),
                worded(
                    "b2",
                    "https://b.example/near",
                    near_title,
                    &format!("{STORY_TEXT} hôm nay"),
                ),
                crediting(
                    linked("id", "https://id.example/story", "Terjemahan"),
                    "id",
                    ORIGINAL,
                ),
            ],
        ),
        step(0, vec![updated]),
        step(
            2,
            vec![
                crediting(
                    linked("vi2", "https://c.example/reprint", "Bản in lại"),
                    "vi",
                    ORIGINAL,
                ),
                crediting(
                    linked("late-id", "https://c.example/late-id", "Terjemahan lain"),
                    "id",
                    LATE_ORIGINAL,
                ),
                crediting(
                    linked("late-vi", "https://c.example/late-vi", "Bản sao muộn"),
                    "vi",
                    LATE_ORIGINAL,
                ),
                linked("live-1", "https://c.example/live", "Trực tiếp 1"),
                linked("live-2", "https://c.example/live", "Trực tiếp 2"),
            ],
        ),
        Step {
            source: 1,
            entries: vec![linked("b1-new-guid", shared, "Tin chung")],
            unchanged: vec![EntryKey::guid("b2"), EntryKey::guid("id")],
        },
        step(3, {
            let mut late = linked("late", LATE_ORIGINAL, "Bản gốc muộn");
            late.language = Some("vi".into());
            vec![late, linked("d1", shared, "Tin chung")]
        }),
        step(
            0,
            vec![
                linked("a1", shared, "Tin chung, cập nhật"),
                worded("a2", "https://a.example/near", near_title, STORY_TEXT),
            ],
        ),
        // Another source's copy changes and its text puts the story in one more topic.
        step(3, {
            let mut copy = linked("d1", shared, "Tin chung, thể thao");
            copy.topics.push(slug("sport"));
            vec![copy]
        }),
    ]
}

/// Stories as the sets of (source, key) sightings they have, whatever their ids.
fn partition(sightings: Vec<(String, String, i64)>) -> BTreeSet<BTreeSet<(String, String)>> {
    let mut stories: BTreeMap<i64, BTreeSet<(String, String)>> = BTreeMap::new();
    for (url, key, story) in sightings {
        stories.entry(story).or_default().insert((url, key));
    }
    stories.into_values().collect()
}

#[test]
#[ignore = "needs PostgreSQL: .ci/run starts a throwaway server and sets TRIBUTARY_TEST_POSTGRES"]
fn the_same_documents_make_the_same_stories_on_both_engines() {
    let sqlite = SqliteStore::open_in_memory().expect("sqlite");
    let sqlite_ids = sqlite.sync_sources(&specs()).expect("sync");
    let db = database();
    let pg_ids = add_sources(&db);
    let postgres = open(&db, "node-a");
    let validators = Validators::default();
    for (n, step) in sequence().into_iter().enumerate() {
        let now = NOW + 60 * n as i64;
        let fetched = Fetched {
            unchanged: &step.unchanged,
            ..Fetched::plain(&validators)
        };
        let meta = FeedMeta::default();
        let on_sqlite = sqlite
            .record_document(sqlite_ids[step.source], &meta, &step.entries, &fetched, now)
            .expect("sqlite");
        let on_postgres = postgres
            .record_document(pg_ids[step.source], &meta, &step.entries, &fetched, now)
            .expect("postgres");
        assert_eq!(on_postgres, on_sqlite, "step {n}");
    }
    let mut client = client(&db);
    let pg_sightings: Vec<(String, String, i64)> = client
        .query(
            "SELECT s.url, g.entry_key, g.entry_id FROM sightings g JOIN sources s ON s.id = g.source_id",
            &[],
        )
        .expect("sightings")
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    let stories = partition(pg_sightings);
    assert_eq!(stories, partition(sqlite.sightings().expect("sightings")));
    // What the sequence is for: it merged, translated and adopted on the way.
    let shared: BTreeSet<(String, String)> = [
        ("https://a.example/feed", "guid:a1"),
        ("https://b.example/feed", "guid:b1-new-guid"),
        ("https://d.example/feed", "guid:d1"),
    ]
    .iter()
    .map(|(u, k)| (u.to_string(), k.to_string()))
    .collect();
    assert!(stories.contains(&shared), "{stories:#?}");
    let rows: i64 = client
        .query_one("SELECT COUNT(*) FROM entries", &[])
        .expect("count")
        .get(0);
    let versions: i64 = client
        .query_one(
            "SELECT COUNT(*) FROM entries WHERE version_of IS NOT NULL",
            &[],
        )
        .expect("count")
        .get(0);
    assert_eq!(rows as usize, stories.len());
    assert_eq!(versions, 2, "two translations, each of its original");
    // Pages rendered on either engine must be identical (ETags agree behind a load balancer).
    for topic in ["all", "news", "sport"] {
        let on_sqlite = sqlite
            .topic_page(&slug(topic), None, 100)
            .expect("sqlite page");
        let on_postgres = postgres
            .topic_page(&slug(topic), None, 100)
            .expect("postgres page");
        assert_eq!(on_postgres.entries, on_sqlite.entries, "topic {topic}");
    }
    assert!(!sqlite.search("tin chung", 10).expect("search").is_empty());
    for query in ["tin chung", "terjemahan", "lại", "đường sắt"] {
        assert_eq!(
            postgres.search(query, 10).expect("postgres search"),
            sqlite.search(query, 10).expect("sqlite search"),
            "search {query}"
        );
    }
    let sport: i64 = client
        .query_one(
            "SELECT COUNT(*) FROM entry_topics WHERE topic = 'sport'",
            &[],
        )
        .expect("count")
        .get(0);
    assert_eq!(sport, 1, "the changed copy put its story in sport");
}

/// How `statement` runs, prepared on `tx` with `args` (SQL literals) for its parameters.
fn plan_of(tx: &mut postgres::Transaction<'_>, statement: &str, args: &str) -> String {
    tx.batch_execute(&format!("PREPARE looked_at AS {statement}"))
        .expect("prepare");
    let plan: Vec<String> = tx
        .query(&format!("EXPLAIN EXECUTE looked_at({args})"), &[])
        .expect("explain")
        .iter()
        .map(|r| r.get(0))
        .collect();
    tx.batch_execute("DEALLOCATE looked_at")
        .expect("deallocate");
    plan.join("\n")
}

#[test]
#[ignore = "needs PostgreSQL: .ci/run starts a throwaway server and sets TRIBUTARY_TEST_POSTGRES"]
fn a_refresh_plans_its_lookups_once_through_indexes_even_while_the_tables_are_empty() {
    let db = database();
    let _migrated = open(&db, "node-a");
    let mut client = Client::connect(db.url(), NoTls).expect("client");
    let (lookups, args) = (
        super::lookups::LOOKUPS,
        "1, '{a,b}', '{https://a.example/1}'",
    );
    // A plan made once, as the planner makes it on empty tables, reads every row of them, and
    // would go on doing so as they grow.
    let mut tx = client.transaction().expect("transaction");
    tx.batch_execute("SET LOCAL plan_cache_mode = force_generic_plan")
        .expect("set");
    let plan = plan_of(&mut tx, lookups, args);
    assert!(plan.contains("Seq Scan"), "{plan}");
    tx.rollback().expect("rollback");
    // A refresh's first statement has its lookups planned once, reading through indexes.
    let mut tx = client.transaction().expect("transaction");
    tx.execute(super::ingest::REFRESH_PLANNING, &[&Vec::<i64>::new()])
        .expect("the refresh's first statement");
    let plan = plan_of(&mut tx, lookups, args);
    assert!(!plan.contains("Seq Scan"), "{plan}");
    assert!(plan.contains("Index"), "{plan}");
    let mode: String = tx
        .query_one("SHOW plan_cache_mode", &[])
        .expect("show")
        .get(0);
    assert_eq!(mode, "force_generic_plan");
    tx.rollback().expect("rollback");
    // Only for the refresh's own transaction.
    let mode: String = client
        .query_one("SHOW enable_seqscan", &[])
        .expect("show")
        .get(0);
    assert_eq!(mode, "on");
}

/// How many rows of each table a story or sighting lives in: entries, sightings, topic rows,
/// search rows.
fn counts(client: &mut Client) -> [i64; 4] {
    ["entries", "sightings", "entry_topics", "entry_search"].map(|table| {
        client
            .query_one(&format!("SELECT COUNT(*) FROM {table}"), &[])
            .expect("count")
            .get(0)
    })
}

#[test]
#[ignore = "needs PostgreSQL: .ci/run starts a throwaway server and sets TRIBUTARY_TEST_POSTGRES"]
fn a_source_deleted_by_hand_takes_its_sightings_and_the_stories_it_saw_first() {
    let db = database();
    let ids = add_sources(&db);
    let store = open(&db, "node-a");
    // A's story, also carried by B; and B's own.
    record(
        &store,
        ids[0],
        &[linked("a1", "https://x.example/1", "Shared story")],
        NOW,
    );
    record(
        &store,
        ids[1],
        &[
            linked("b1", "https://x.example/1", "Shared story"),
            linked("b2", "https://x.example/2", "B's own story"),
        ],
        NOW + 60,
    );
    let mut client = client(&db);
    // Two stories, three sightings, each story in two topics with its words indexed.
    assert_eq!(counts(&mut client), [2, 3, 4, 2]);
    client
        .execute("DELETE FROM sources WHERE id = $1", &[&ids[0].0])
        .expect("delete source A");
    // As the foreign keys did: A's sighting, and the story A saw first with every sighting,
    // topic row and search row of it.
    assert_eq!(counts(&mut client), [1, 1, 2, 1]);
    assert_eq!(stories_at(&mut client, "https://x.example/2"), [1]);
    assert_eq!(
        stories_at(&mut client, "https://x.example/1"),
        Vec::<i64>::new()
    );
}
