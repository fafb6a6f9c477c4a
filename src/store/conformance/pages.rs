//! Topic pages.

use super::both_engines;
use super::fixtures::{add_source, entry};
use crate::model::{FeedMeta, TopicSlug};
use crate::store::{Fetched, Store};

both_engines!(a_stored_entry_is_on_its_topic_page_with_its_source);

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
