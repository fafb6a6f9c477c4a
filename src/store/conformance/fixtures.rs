//! What the conformance tests build their stores from. The SQLite engine's own tests use these
//! too, so that both sets of tests store the same entries.

use crate::model::{
    EntryKey, FeedMeta, NewEntry, Origin, OriginRule, RefreshStats, SourceId, StoredEntry,
    Timestamp, TopicSlug, Validators,
};
use crate::store::{Fetched, SourceSpec, Store};

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

/// `entry` in the given topics besides `all`.
pub(crate) fn in_topics(entry: NewEntry, topics: &[&str]) -> NewEntry {
    let mut all = vec![TopicSlug::all()];
    all.extend(topics.iter().map(|t| slug(t)));
    NewEntry {
        topics: all,
        ..entry
    }
}

/// An entry at `link`, canonicalized as normalize would.
pub(crate) fn linked(key: &str, link: &str, title: &str) -> NewEntry {
    NewEntry {
        link: Some(link.to_string()),
        canonical_url: crate::normalize::canonical::canonical_url(link, &[]),
        ..entry(key, title, 100)
    }
}

/// An entry at its own canonical address, in `language`, optionally crediting `origin` (a
/// canonical URL) as its original.
pub(crate) fn version(key: &str, title: &str, language: &str, origin: Option<&str>) -> NewEntry {
    let mut e = entry(key, title, 1_700_000_000);
    e.link = Some(format!("https://{key}.example/story"));
    e.canonical_url = Some(format!("https://{key}.example/story"));
    e.language = Some(language.into());
    e.origin = origin.map(|url| Origin {
        link: Some(url.to_string()),
        canonical_url: Some(url.to_string()),
        credit: None,
        found_by: OriginRule::CreditLink,
    });
    e
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

/// Sources A (in `news`) and B (in `sport`).
pub(crate) fn two_sources(store: &dyn Store) -> (SourceId, SourceId) {
    let ids = store
        .sync_sources(&[
            SourceSpec {
                url: "https://a.example/feed".into(),
                title: Some("A".into()),
                topics: vec![slug("news")],
            },
            SourceSpec {
                url: "https://b.example/feed".into(),
                title: Some("B".into()),
                topics: vec![slug("sport")],
            },
        ])
        .expect("sync");
    (ids[0], ids[1])
}

/// `n` sources, each in `news`: `https://s{i}.example/feed`, titled `S{i}`.
pub(crate) fn sources(store: &dyn Store, n: usize) -> Vec<SourceId> {
    let specs: Vec<SourceSpec> = (0..n)
        .map(|i| SourceSpec {
            url: format!("https://s{i}.example/feed"),
            title: Some(format!("S{i}")),
            topics: vec![slug("news")],
        })
        .collect();
    store.sync_sources(&specs).expect("sync")
}

/// Stores `entries` as one document of `id` without validators.
pub(crate) fn store_entries(store: &dyn Store, id: SourceId, entries: &[NewEntry], now: Timestamp) {
    store
        .record_document(
            id,
            &FeedMeta::default(),
            entries,
            &Fetched::plain(&Validators::default()),
            now,
        )
        .expect("store");
}

/// Stores `e` alone as a document of `source`.
pub(crate) fn store_one(
    store: &dyn Store,
    source: SourceId,
    e: NewEntry,
    at: Timestamp,
) -> RefreshStats {
    store
        .record_document(
            source,
            &FeedMeta::default(),
            &[e],
            &Fetched::plain(&Validators::default()),
            at,
        )
        .expect("stored")
}

pub(crate) fn titles(entries: &[StoredEntry]) -> Vec<&str> {
    entries.iter().map(|e| e.title.as_str()).collect()
}
