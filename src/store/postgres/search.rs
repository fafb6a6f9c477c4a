//! Full-text search over stories: the `entry_search.words` array each story is indexed under,
//! and the search itself (`words @> query words`, answered by the GIN index).

use super::pages::{attach_other_sources, stored_entry_row};
use super::{Context, PostgresStore};
use crate::model::StoredEntry;
use crate::store::StoreError;
use crate::store::columns::{SEARCH_CANDIDATES, STORED_ENTRY_COLUMNS, distinct_ids};
use crate::text::fold_words;

/// The stored `entry_search.words` of a story whose `search_text` (see
/// [`crate::text::search_text`], folded already) is `text`: its words, each once, in order.
/// Containment (`@>`) ignores order and repeats, so the array matches exactly the queries the
/// SQLite engine's FTS5 index matches for the same text.
pub(crate) fn index_words(text: &str) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    text.split_whitespace()
        .filter(|word| seen.insert(*word))
        .map(str::to_string)
        .collect()
}

/// The newest `limit` stories matching every word of `query` (folded as the index is, by
/// [`fold_words`]), newest first, from the [`SEARCH_CANDIDATES`] matches seen last (the
/// highest story ids, as SQLite's rowids). A match in a translation finds its story. A query
/// without words matches nothing.
pub(super) fn search(
    store: &PostgresStore,
    query: &str,
    limit: usize,
) -> Result<Vec<StoredEntry>, StoreError> {
    let words = fold_words(query);
    if words.is_empty() {
        return Ok(Vec::new());
    }
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    store.with_snapshot("searching", |tx| {
        let rows = tx
            .query(
                &format!(
                    "SELECT {STORED_ENTRY_COLUMNS}
                     FROM entries e
                     JOIN sources s ON s.id = e.source_id
                     WHERE e.id IN (SELECT COALESCE(v.version_of, v.id) FROM entries v
                                    WHERE v.id IN (SELECT entry_id FROM entry_search
                                                   WHERE words @> $1::text[]
                                                   ORDER BY entry_id DESC LIMIT {SEARCH_CANDIDATES}))
                     ORDER BY e.published_at DESC, e.id DESC
                     LIMIT $2"
                ),
                &[&words, &limit],
            )
            .context("searching")?;
        let rows = rows
            .iter()
            .map(stored_entry_row)
            .collect::<Result<Vec<_>, _>>()
            .context("searching")?;
        let mut entries = distinct_ids(rows);
        attach_other_sources(tx, &mut entries)?;
        Ok(entries)
    })
}
