//! Sources as feeds.toml declares them.

use super::both_engines;
use super::fixtures::slug;
use crate::store::{SourceSpec, Store};

both_engines!(syncing_sources_inserts_updates_and_deactivates);

fn syncing_sources_inserts_updates_and_deactivates(store: &dyn Store) {
    let spec = |url: &str, title: &str, topics: &[&str]| SourceSpec {
        url: url.into(),
        title: Some(title.into()),
        topics: topics.iter().map(|t| slug(t)).collect(),
    };
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
    let active: Vec<String> = store
        .source_states()
        .expect("states")
        .into_iter()
        .map(|s| s.url)
        .collect();
    assert_eq!(
        active,
        ["https://a.example/feed"],
        "a removed source leaves the active list"
    );
    let labels = store.source_labels().expect("labels");
    assert!(labels.contains_key("https://a.example/feed"));
}
