//! What the conformance tests build their stores from.

use crate::model::{EntryKey, NewEntry, SourceId, Timestamp, TopicSlug};
use crate::store::{SourceSpec, Store};

pub(crate) fn slug(s: &str) -> TopicSlug {
    TopicSlug::new(s).expect("slug")
}

/// An entry with a guid `key`, a link under example.com and `title` as its text.
pub(crate) fn entry(key: &str, title: &str, published: Timestamp) -> NewEntry {
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

/// Source A in the given topics, as the only source of `store`.
pub(crate) fn add_source(store: &dyn Store, topics: &[&str]) -> SourceId {
    let ids = store
        .sync_sources(&[SourceSpec {
            url: "https://a.example/feed".into(),
            title: Some("Source A".into()),
            topics: topics.iter().map(|t| slug(t)).collect(),
        }])
        .expect("sync");
    ids[0]
}
