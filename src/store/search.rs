//! Full-text search: the `search_text` SQL function the FTS5 index of `migrations/0007_search.sql`
//! is built from, and how a reader's query becomes an FTS5 expression. No statement runs here.

use rusqlite::Connection;
use rusqlite::functions::FunctionFlags;

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
