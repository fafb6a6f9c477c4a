//! Pruning old stories and each source's surplus, and the tombstones that keep them out.

use super::both_engines;
use super::fixtures::{add_source, entry, linked, two_sources};
use crate::model::{FeedMeta, NewEntry, TopicSlug, Validators};
use crate::store::{Fetched, PruneStats, Store};

both_engines!(
    prune_removes_old_stories_and_tombstones_keep_them_out,
    prune_keeps_each_sources_newest_and_stories_others_still_carry,
);

fn prune_removes_old_stories_and_tombstones_keep_them_out(store: &dyn Store) {
    let id = add_source(store, &["news"]);
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

fn prune_keeps_each_sources_newest_and_stories_others_still_carry(store: &dyn Store) {
    let (a, b) = two_sources(store);
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
