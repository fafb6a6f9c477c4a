//! How stored values are written and read back, the same on every engine: lists kept as text,
//! the columns a page's entries are read from, and the rules applied to what a page read.

use crate::model::StoredEntry;

/// A JSON column written by us (authors, categories, enclosures).
pub(crate) fn to_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "[]".into())
}

/// A JSON column written by us; a damaged value reads as empty rather than failing the page.
pub(crate) fn json_list<T: serde::de::DeserializeOwned>(text: &str) -> Vec<T> {
    serde_json::from_str(text).unwrap_or_default()
}

/// A list of small numbers kept as "0,1,2" (RSS skipHours and skipDays).
pub(crate) fn small_list(text: Option<String>) -> Vec<u8> {
    text.unwrap_or_default()
        .split(',')
        .filter_map(|p| p.trim().parse().ok())
        .collect()
}

/// The text [`small_list`] reads; none for an empty list.
pub(crate) fn join_list(list: &[u8]) -> Option<String> {
    (!list.is_empty()).then(|| list.iter().map(u8::to_string).collect::<Vec<_>>().join(","))
}

/// The columns each engine's `stored_entry_row` reads, from `entries e` joined with `sources s`.
pub(crate) const STORED_ENTRY_COLUMNS: &str =
    "e.id, e.public_id, e.link, e.title, e.summary_html, e.content_html,
    e.authors, e.categories, e.enclosures, e.language, e.published_at, e.updated_at, e.changed_at,
    s.url, COALESCE(s.config_title, s.feed_title, s.url), s.site_url, s.feed_id,
    e.origin_link, e.origin_credit";

/// How many columns [`STORED_ENTRY_COLUMNS`] holds: a query's own columns follow them.
pub(crate) const STORED_ENTRY_COLUMN_COUNT: usize = 19;

/// Ids must be unique within a document: two sources carrying the same guid as two stories are
/// shown once (the first, i.e. newer, one).
pub(crate) fn distinct_ids(entries: impl IntoIterator<Item = StoredEntry>) -> Vec<StoredEntry> {
    let mut seen = std::collections::HashSet::new();
    entries
        .into_iter()
        .filter(|e| seen.insert(e.public_id.clone()))
        .collect()
}

/// How many of the latest-seen matches a search sorts by publication time: a common word must
/// not make every request sort the whole index.
pub(crate) const SEARCH_CANDIDATES: usize = 2000;

/// What an entry credits, as stored.
pub(crate) struct OriginColumns<'a> {
    pub(crate) url: Option<&'a str>,
    pub(crate) link: Option<&'a str>,
    pub(crate) credit: Option<&'a str>,
    pub(crate) rule: Option<&'static str>,
}

pub(crate) fn origin_columns(entry: &crate::model::NewEntry) -> OriginColumns<'_> {
    let origin = entry.origin.as_ref();
    OriginColumns {
        url: origin.and_then(|o| o.canonical_url.as_deref()),
        link: origin.and_then(|o| o.link.as_deref()),
        credit: origin.and_then(|o| o.credit.as_deref()),
        rule: origin.map(|o| o.found_by.as_str()),
    }
}
