//! Topic pages.

use super::both_engines;
use super::fixtures::{add_source, entry, in_topics, slug, store_entries};
use crate::model::{FeedMeta, TopicSlug, Validators};
use crate::store::{Fetched, Store};

both_engines!(
    a_stored_entry_is_on_its_topic_page_with_its_source,
    topic_pages_are_newest_first_with_attribution,
    topic_pages_continue_from_their_cursor_without_gaps_or_repeats,
    topic_summaries_count_each_topics_entries_and_its_newest_change,
);

fn a_stored_entry_is_on_its_topic_page_with_its_source(store: &dyn Store) {
    let source = add_source(store, &[]);
    let validators = Default::default();
    store
        .record_document(
            source,
            &FeedMeta::default(),
            &[
                entry("one", "First story", 1_000),
                entry("two", "Second story", 2_000),
            ],
            &Fetched::plain(&validators),
            3_000,
        )
        .expect("record");
    store.flush().expect("flush");
    let page = store.topic_entries(&TopicSlug::all(), 10).expect("page");
    let titles: Vec<&str> = page.iter().map(|e| e.title.as_str()).collect();
    assert_eq!(titles, ["Second story", "First story"], "newest first");
    assert_eq!(page[0].source.url, "https://a.example/feed");
    assert_eq!(page[0].source.title, "Source A");
}

fn topic_pages_are_newest_first_with_attribution(store: &dyn Store) {
    let id = add_source(store, &["news"]);
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

fn topic_pages_continue_from_their_cursor_without_gaps_or_repeats(store: &dyn Store) {
    let id = add_source(store, &[]);
    // Seven stories, three of them published at the same second: the tie is broken the same
    // way on every page.
    let published = [500, 300, 300, 300, 200, 100, 400];
    let entries: Vec<_> = published
        .iter()
        .enumerate()
        .map(|(i, at)| entry(&format!("e{i}"), &format!("Story {i}"), *at))
        .collect();
    store_entries(store, id, &entries, 1000);
    let whole: Vec<String> = store
        .topic_entries(&TopicSlug::all(), 50)
        .expect("one page")
        .into_iter()
        .map(|e| e.public_id)
        .collect();
    assert_eq!(whole.len(), 7);
    assert_eq!(whole[0], "e0");
    assert_eq!(whole[1], "e6");
    assert_eq!(&whole[5..], ["e4", "e5"]);
    let mut paged = Vec::new();
    let mut before = None;
    let mut pages = 0;
    loop {
        let slice = store
            .topic_page(&TopicSlug::all(), before, 2)
            .expect("page");
        pages += 1;
        assert!(slice.entries.len() <= 2);
        paged.extend(slice.entries.into_iter().map(|e| e.public_id));
        match slice.next {
            Some(next) => {
                assert!(pages < 10, "pages never end");
                before = Some(next);
            }
            None => break,
        }
    }
    assert_eq!(paged, whole, "pages of two, in order, are the whole topic");
    assert_eq!(pages, 4);
}

fn topic_summaries_count_each_topics_entries_and_its_newest_change(store: &dyn Store) {
    let id = add_source(store, &["news"]);
    store_entries(
        store,
        id,
        &[
            in_topics(entry("1", "One", 100), &["news"]),
            in_topics(entry("2", "Two", 200), &["news", "tech"]),
            entry("3", "Three", 300),
        ],
        1000,
    );
    store_entries(
        store,
        id,
        &[in_topics(
            entry("2", "Two, corrected", 200),
            &["news", "tech"],
        )],
        2000,
    );
    let summaries = store.topic_summaries().expect("summaries");
    let summary = |topic: &str| summaries.get(topic).map(|s| (s.entries, s.updated));
    assert_eq!(summary("all"), Some((3, Some(2000))));
    assert_eq!(summary("news"), Some((2, Some(2000))));
    assert_eq!(summary("tech"), Some((1, Some(2000))));
    assert_eq!(summary("sport"), None);
}
