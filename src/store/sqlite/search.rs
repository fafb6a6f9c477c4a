//! Full-text search: the `search_text` SQL function the FTS5 index of `migrations/sqlite/0007_search.sql`
//! is built from, how a reader's query becomes an FTS5 expression, and the search itself.

use std::collections::HashMap;

use rusqlite::functions::FunctionFlags;
use rusqlite::{Connection, params};

use super::pages::{attach_other_sources, stored_entry_row};
use super::{Context, SqliteStore};
use crate::model::StoredEntry;
use crate::store::StoreError;
use crate::store::columns::{SEARCH_CANDIDATES, STORED_ENTRY_COLUMNS, distinct_ids};
use crate::text::{fold_words, search_text};

/// Registers `search_text(title, summary_html, content_html)` on `conn`, for the migration that
/// indexes the stories stored before search existed.
pub(super) fn register(conn: &Connection) -> rusqlite::Result<()> {
    conn.create_scalar_function(
        "search_text",
        3,
        FunctionFlags::SQLITE_UTF8
            | FunctionFlags::SQLITE_DETERMINISTIC
            | FunctionFlags::SQLITE_INNOCUOUS,
        |ctx| {
            let title = ctx.get_raw(0).as_str_or_null()?.unwrap_or("");
            let summary = ctx.get_raw(1).as_str_or_null()?;
            let content = ctx.get_raw(2).as_str_or_null()?;
            Ok(search_text(title, summary, content))
        },
    )
}

/// The FTS5 expression for a reader's query: every folded word, each as an FTS5 string, all
/// required. The reader's text never reaches FTS5 syntax (`"`, `*`, `NEAR(`, `OR`, column
/// filters are all just words or nothing). `None` when the query has no words.
pub fn match_expression(query: &str) -> Option<String> {
    let words = fold_words(query);
    if words.is_empty() {
        return None;
    }
    let quoted: Vec<String> = words
        .iter()
        .map(|w| format!("\"{}\"", w.replace('"', "\"\"")))
        .collect();
    Some(quoted.join(" AND "))
}

/// The newest `limit` stories matching every word of `query` (folded as the index is: see
/// [`match_expression`]), newest first, from the [`SEARCH_CANDIDATES`] matches
/// seen last. A query without words matches nothing.
pub(super) fn search(
    store: &SqliteStore,
    query: &str,
    limit: usize,
) -> Result<Vec<StoredEntry>, StoreError> {
    let Some(expression) = match_expression(query) else {
        return Ok(Vec::new());
    };
    store.with_reader(|conn| {
        let mut stmt = conn
            .prepare_cached(&format!(
                "SELECT {STORED_ENTRY_COLUMNS}
                 FROM entries e
                 JOIN sources s ON s.id = e.source_id
                 WHERE e.id IN (SELECT COALESCE(v.version_of, v.id) FROM entries v
                                WHERE v.id IN (SELECT rowid FROM entry_search WHERE entry_search MATCH ?1
                                               ORDER BY rowid DESC LIMIT {}))
                 ORDER BY e.published_at DESC, e.id DESC
                 LIMIT ?2",
                SEARCH_CANDIDATES
            ))
            .context("searching")?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = stmt
            .query_map(params![expression, limit], stored_entry_row)
            .context("searching")?;
        let rows = rows.collect::<Result<Vec<_>, _>>().context("searching")?;
        let mut entries = distinct_ids(rows);
        attach_other_sources(conn, &mut entries)?;
        Ok(entries)
    })
}

/// A change a refresh makes to the search index (see [`super::Pending`]).
pub(super) enum SearchOp {
    /// The story's words, made by normalize (off the single writer).
    Index(i64, String),
    /// The story's words before an update.
    Unindex(i64),
    /// The story's row was deleted within the group (its committed words went with it, by
    /// trigger): nothing of it is to be written.
    Forget(i64),
}

/// Carries out a group's changes to the search index in one go: per story, its old row removed
/// if one was (an update of a story stored before the group) and its last text indexed. A story
/// both stored and updated within the group is indexed once, with its last text.
pub(super) fn write(conn: &Connection, ops: Vec<SearchOp>) -> Result<(), StoreError> {
    if ops.is_empty() {
        return Ok(());
    }
    // Story → (had a row before the group, its last text); in the order stories first appear.
    let mut order = Vec::new();
    let mut stories: HashMap<i64, (bool, Option<String>)> = HashMap::new();
    for op in ops {
        let (id, unindex, text) = match op {
            SearchOp::Index(id, text) => (id, false, Some(text)),
            SearchOp::Unindex(id) => (id, true, None),
            SearchOp::Forget(id) => {
                let story = stories.entry(id).or_insert_with(|| {
                    order.push(id);
                    (false, None)
                });
                *story = (false, None);
                continue;
            }
        };
        let story = stories.entry(id).or_insert_with(|| {
            order.push(id);
            (unindex, None)
        });
        story.1 = text;
    }
    let mut delete = conn
        .prepare_cached("DELETE FROM entry_search WHERE rowid = ?1")
        .context("indexing stories for search")?;
    let mut insert = conn
        .prepare_cached("INSERT INTO entry_search (rowid, body) VALUES (?1, ?2)")
        .context("indexing stories for search")?;
    for id in order {
        let Some((had_row, text)) = stories.remove(&id) else {
            continue;
        };
        if had_row {
            delete
                .execute([id])
                .context("indexing stories for search")?;
        }
        if let Some(text) = text {
            insert
                .execute(params![id, text])
                .context("indexing stories for search")?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::INDEXED_TEXT_BYTES;

    #[test]
    fn indexed_text_is_folded_plain_text() {
        let text = search_text(
            "An ninh mạng",
            Some("<p>Đà <b>Nẵng</b> &amp; Huế</p>"),
            None,
        );
        assert_eq!(
            text.split_whitespace().collect::<Vec<_>>(),
            ["an", "ninh", "mang", "da", "nang", "hue"]
        );
    }

    #[test]
    fn only_the_start_of_a_long_text_is_indexed() {
        let body = format!("<p>{} needle</p>", "word ".repeat(2000));
        let text = search_text("t", Some(&body), Some("<p>other</p>"));
        assert!(text.len() <= INDEXED_TEXT_BYTES + 8);
        assert!(!text.contains("needle"));
        assert!(!text.contains("other"));
    }

    #[test]
    fn hostile_queries_become_quoted_words_or_nothing() {
        assert_eq!(
            match_expression("NEAR(a b) OR c*").as_deref(),
            Some("\"near\" AND \"a\" AND \"b\" AND \"or\" AND \"c\"")
        );
        assert_eq!(match_expression("\" * ( ) :"), None);
        assert_eq!(
            match_expression("An ninh mạng").as_deref(),
            Some("\"an\" AND \"ninh\" AND \"mang\"")
        );
    }
}
