//! Recording documents: new, unchanged and changed entries, one story from several sources,
//! guid churn, and the topics a change moves a story into.

use super::both_engines;
use super::fixtures::{
    add_source, entry, in_topics, linked, slug, store_entries, titles, two_sources,
};
use crate::model::{FeedMeta, NewEntry, RefreshStats, TopicSlug, Validators};
use crate::store::{Fetched, Store};

both_engines!(
    storing_the_same_document_twice_adds_nothing,
    changed_entry_is_updated_in_place,
    one_story_from_two_sources_is_one_entry_crediting_both,
    guid_churn_is_recognized_and_switches_the_source_to_link_identity,
    two_guids_sharing_a_link_in_one_document_stay_two_entries,
    an_updated_story_gains_the_topics_its_new_text_matches,
    another_sources_changed_copy_that_joins_a_topic_changes_that_topics_pages,
);

fn storing_the_same_document_twice_adds_nothing(store: &dyn Store) {
    let id = add_source(store, &["news"]);
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

fn changed_entry_is_updated_in_place(store: &dyn Store) {
    let id = add_source(store, &["news"]);
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

fn one_story_from_two_sources_is_one_entry_crediting_both(store: &dyn Store) {
    let (a, b) = two_sources(store);
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

fn guid_churn_is_recognized_and_switches_the_source_to_link_identity(store: &dyn Store) {
    let id = add_source(store, &["news"]);
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

fn two_guids_sharing_a_link_in_one_document_stay_two_entries(store: &dyn Store) {
    let id = add_source(store, &[]);
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

fn an_updated_story_gains_the_topics_its_new_text_matches(store: &dyn Store) {
    let id = add_source(store, &[]);
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

fn another_sources_changed_copy_that_joins_a_topic_changes_that_topics_pages(store: &dyn Store) {
    let (a, b) = two_sources(store);
    let link = "https://news.example/story";
    store_entries(
        store,
        a,
        &[in_topics(linked("a-1", link, "Story"), &["news"])],
        1000,
    );
    store_entries(
        store,
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
    store_entries(store, b, &[changed], 1200);
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
