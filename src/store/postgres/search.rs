//! Full-text search over stories: the `entry_search.words` array each story is indexed under,
//! and the search itself (`words @> query words`, answered by the GIN index).

use super::PostgresStore;
use crate::model::StoredEntry;
use crate::store::StoreError;

/// The stored `entry_search.words` of a story whose `search_text` (see
/// [`crate::text::search_text`], folded already) is `text`: its words, each once, in order.
/// Containment (`@>`) ignores order and repeats, so the array matches exactly the queries the
/// SQLite engine's FTS5 index matches for the same text.
#[allow(dead_code)] // until ingest and migrate-to, which write the index, call it
pub(super) fn index_words(text: &str) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    text.split_whitespace()
        .filter(|word| seen.insert(*word))
        .map(str::to_string)
        .collect()
}

pub(super) fn search(
    _store: &PostgresStore,
    _query: &str,
    _limit: usize,
) -> Result<Vec<StoredEntry>, StoreError> {
    Err(StoreError::Unsupported {
        what: "this operation",
        instead: "the PostgreSQL engine is not complete yet",
    })
}
