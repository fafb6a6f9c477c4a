//! Topic pages.

use super::both_engines;
use super::fixtures::{add_source, entry, in_topics, slug};
use crate::model::{FeedMeta, TopicSlug, Validators};
use crate::store::{Fetched, Store};

both_engines!(
    a_stored_entry_is_on_its_topic_page_with_its_source,
    topic_pages_are_newest_first_with_attribution,
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
