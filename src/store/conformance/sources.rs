//! Sources as feeds.toml declares them, and what each refresh records on its source: failures,
//! warnings, schedules, daily counts.

use super::both_engines;
use super::fixtures::{add_source, entry, slug, store_entries, two_sources};
use crate::model::{
    EntryKey, FeedMeta, ScheduleRecord, SourceId, SourceLabel, Timestamp, TopicSlug, Validators,
};
use crate::store::{Fetched, SourceSpec, Store};

both_engines!(
    syncing_sources_inserts_updates_and_deactivates,
    removed_source_keeps_its_entries_but_leaves_the_active_list,
    a_resync_gives_sources_their_new_titles_and_a_url_listed_twice_its_last_listing,
    failure_is_recorded_and_keeps_entries_and_validators,
    a_document_warning_is_kept_until_a_document_without_one,
    a_refresh_records_the_schedule_it_decided_in_the_same_write,
    daily_new_entries_counts_first_sightings_per_day,
    a_recorded_schedule_and_an_adopted_redirect_are_read_back,
    a_refresh_records_its_body_hash_and_when_it_went_unconditional,
    source_labels_are_what_each_feed_last_called_itself,
    item_hashes_are_each_sources_own_with_their_keys,
);

/// The URLs of the active sources, in feeds.toml order.
fn active_urls(store: &dyn Store) -> Vec<String> {
    store
        .source_states()
        .expect("states")
        .into_iter()
        .map(|s| s.url)
        .collect()
}

/// A source as feeds.toml lists it.
fn spec(url: &str, title: &str, topics: &[&str]) -> SourceSpec {
    SourceSpec {
        url: url.into(),
        title: Some(title.into()),
        topics: topics.iter().map(|t| slug(t)).collect(),
    }
}

fn syncing_sources_inserts_updates_and_deactivates(store: &dyn Store) {
    let first = store
        .sync_sources(&[
            spec("https://a.example/feed", "A", &["tech"]),
            spec("https://b.example/feed", "B", &[]),
        ])
        .expect("first sync");
    assert_eq!(first.len(), 2);
    assert_ne!(first[0], first[1]);
    let again = store
        .sync_sources(&[spec("https://a.example/feed", "A renamed", &["news"])])
        .expect("second sync");
    assert_eq!(again, vec![first[0]], "a source keeps its id");
    let active = active_urls(store);
    assert_eq!(
        active,
        ["https://a.example/feed"],
        "a removed source leaves the active list"
    );
    let labels = store.source_labels().expect("labels");
    assert!(labels.contains_key("https://a.example/feed"));
}

fn a_resync_gives_sources_their_new_titles_and_a_url_listed_twice_its_last_listing(
    store: &dyn Store,
) {
    let first = store
        .sync_sources(&[
            spec("https://a.example/feed", "A", &["tech"]),
            spec("https://b.example/feed", "B", &["tech"]),
            spec("https://c.example/feed", "C", &[]),
        ])
        .expect("first sync");
    let again = store
        .sync_sources(&[
            spec("https://new.example/feed", "New", &["world"]),
            spec("https://a.example/feed", "A renamed", &["news"]),
            spec("https://b.example/feed", "B", &["tech"]),
            spec("https://a.example/feed", "A last", &["news", "world"]),
        ])
        .expect("second sync");
    assert_eq!(again[1], first[0], "a source keeps its id");
    assert_eq!(again[3], first[0], "a URL listed twice is one source");
    assert_eq!(again[2], first[1]);
    assert!(
        !first.contains(&again[0]),
        "a new source has an id of its own"
    );
    let active = active_urls(store);
    assert_eq!(
        active,
        [
            "https://a.example/feed",
            "https://b.example/feed",
            "https://new.example/feed"
        ],
        "C left the active list"
    );
    for (source, key) in [(first[0], "a1"), (first[1], "b1")] {
        store
            .record_document(
                source,
                &FeedMeta::default(),
                &[entry(
                    key,
                    &format!("Story {key}"),
                    if key == "a1" { 100 } else { 200 },
                )],
                &Fetched::plain(&Validators::default()),
                1000,
            )
            .expect("store");
    }
    // Stories credit each source by its feeds.toml title (topic membership is the pipeline's,
    // from feeds.toml, not the store's).
    let credited: Vec<(String, String)> = store
        .topic_entries(&TopicSlug::all(), 50)
        .expect("read")
        .into_iter()
        .map(|e| (e.title, e.source.title))
        .collect();
    assert_eq!(
        credited,
        [
            ("Story b1".to_string(), "B".to_string()),
            ("Story a1".to_string(), "A last".to_string())
        ]
    );
}

fn removed_source_keeps_its_entries_but_leaves_the_active_list(store: &dyn Store) {
    let id = add_source(store, &["news"]);
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

fn failure_is_recorded_and_keeps_entries_and_validators(store: &dyn Store) {
    let id = add_source(store, &[]);
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

fn a_document_warning_is_kept_until_a_document_without_one(store: &dyn Store) {
    let id = add_source(store, &[]);
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

fn a_refresh_records_the_schedule_it_decided_in_the_same_write(store: &dyn Store) {
    let (a, _) = two_sources(store);
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

fn daily_new_entries_counts_first_sightings_per_day(store: &dyn Store) {
    let id = add_source(store, &[]);
    let day = 86_400;
    let now = 100 * day + 3600;
    store_entries(
        store,
        id,
        &[entry("1", "a", 1), entry("2", "b", 2)],
        now - day,
    );
    store_entries(store, id, &[entry("3", "c", 3)], now);
    store_entries(store, id, &[entry("4", "d", 4)], now - 40 * day);
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

fn a_recorded_schedule_and_an_adopted_redirect_are_read_back(store: &dyn Store) {
    let (a, b) = two_sources(store);
    store
        .record_not_modified(
            a,
            &Fetched {
                status: 304,
                ..Fetched::plain(&Validators::default())
            },
            1_700_000_000,
        )
        .expect("fetched once");
    let record = ScheduleRecord {
        next_due_at: 1_700_003_600,
        interval_secs: 3600,
        publishing_secs: Some(7200),
        feed_hint_secs: Some(1800),
        skip_hours: vec![0, 23],
        skip_days: vec![6],
        retry_after_until: Some(1_700_000_600),
        fetch_url: Some("https://a.example/new-feed".into()),
        redirect_target: Some("https://a.example/newer-feed".into()),
        redirect_streak: 2,
    };
    store.record_schedule(a, &record).expect("schedule");
    let state = store.source_state(a).expect("state");
    assert_eq!(
        (
            state.next_due_at,
            state.interval_secs,
            state.publishing_secs,
            state.feed_hint_secs,
            state.retry_after_until,
        ),
        (
            Some(1_700_003_600),
            Some(3600),
            Some(7200),
            Some(1800),
            Some(1_700_000_600)
        )
    );
    assert_eq!(
        (&state.skip_hours[..], &state.skip_days[..]),
        (&[0, 23][..], &[6][..])
    );
    assert_eq!(
        state.fetch_url.as_deref(),
        Some("https://a.example/new-feed")
    );
    assert_eq!(
        state.redirect_target.as_deref(),
        Some("https://a.example/newer-feed")
    );
    assert_eq!(state.redirect_streak, 2);
    assert_eq!(state.health().as_str(), "moved");
    let adopted = store.adopted_fetch_urls().expect("adopted");
    assert_eq!(adopted.len(), 1, "{adopted:?}");
    assert_eq!(
        adopted.get(&a).map(String::as_str),
        Some("https://a.example/new-feed")
    );
    assert_eq!(store.source_state(b).expect("b").next_due_at, None);
}

fn a_refresh_records_its_body_hash_and_when_it_went_unconditional(store: &dyn Store) {
    let id = add_source(store, &[]);
    let validators = Validators {
        etag: Some("\"e1\"".into()),
        last_modified: Some("Tue, 14 Nov 2023 22:13:20 GMT".into()),
    };
    store
        .record_document(
            id,
            &FeedMeta::default(),
            &[entry("1", "One", 100)],
            &Fetched {
                body_hash: Some("hash-1"),
                unconditional: true,
                ..Fetched::plain(&validators)
            },
            1000,
        )
        .expect("store");
    let state = store.source_state(id).expect("state");
    assert_eq!(state.body_hash.as_deref(), Some("hash-1"));
    assert_eq!(state.last_unconditional_at, Some(1000));
    assert_eq!(state.validators, validators);
    assert_eq!(
        (state.last_fetch_at, state.last_status),
        (Some(1000), Some(200))
    );
    // A 304 has no body: the hash of the last one stays, and so does the unconditional time.
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
    let state = store.source_state(id).expect("state");
    assert_eq!(state.body_hash.as_deref(), Some("hash-1"));
    assert_eq!(state.last_unconditional_at, Some(1000));
    assert_eq!(
        (state.last_fetch_at, state.last_status),
        (Some(2000), Some(304))
    );
    assert_eq!(state.last_success_at, Some(2000));
}

fn source_labels_are_what_each_feed_last_called_itself(store: &dyn Store) {
    let (a, _) = two_sources(store);
    let meta = FeedMeta {
        title: Some("The A Times".into()),
        site_url: Some("https://a.example/".into()),
        feed_id: None,
        language: None,
    };
    store_entries(store, a, &[], 1000);
    store
        .record_document(a, &meta, &[], &Fetched::plain(&Validators::default()), 2000)
        .expect("store");
    let labels = store.source_labels().expect("labels");
    assert_eq!(
        labels.get("https://a.example/feed"),
        Some(&SourceLabel {
            feed_title: Some("The A Times".into()),
            site_url: Some("https://a.example/".into()),
        })
    );
    assert_eq!(
        labels.get("https://b.example/feed"),
        Some(&SourceLabel {
            feed_title: None,
            site_url: None,
        })
    );
}

fn item_hashes_are_each_sources_own_with_their_keys(store: &dyn Store) {
    let (a, b) = two_sources(store);
    let hashed = |key: &str, hash: Option<i64>| crate::model::NewEntry {
        item_hash: hash,
        ..entry(key, &format!("Story {key}"), 100)
    };
    store_entries(
        store,
        a,
        &[
            hashed("1", Some(11)),
            hashed("2", Some(-22)),
            hashed("3", None),
        ],
        1000,
    );
    store_entries(store, b, &[hashed("4", Some(44))], 1000);
    let of_a = store.item_hashes(a).expect("hashes");
    assert_eq!(of_a.len(), 2, "{of_a:?}");
    assert_eq!(of_a.get(&11), Some(&EntryKey::guid("1")));
    assert_eq!(of_a.get(&-22), Some(&EntryKey::guid("2")));
    let of_b = store.item_hashes(b).expect("hashes");
    assert_eq!(of_b.get(&44), Some(&EntryKey::guid("4")));
    assert_eq!(of_b.len(), 1);
}
