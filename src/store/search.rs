//! Full-text search: the `search_text` SQL function the FTS5 index of `migrations/0007_search.sql`
//! is built from, and how a reader's query becomes an FTS5 expression. No statement runs here.

use rusqlite::Connection;
use rusqlite::functions::FunctionFlags;

use crate::text::{floor_char_boundary, fold_into, fold_words, strip_tags};

/// How much plain text of a story is indexed after its title. Longer stories are found by their
/// opening, which keeps the index (and the cost of every insert) bounded.
pub const INDEXED_TEXT_BYTES: usize = 4096;

/// HTML beyond this is not even looked at: 4 KB of text never needs more markup than this.
const HTML_PREFIX_BYTES: usize = 64 * 1024;

/// Registers `search_text(title, summary_html, content_html)` on `conn`. Every connection that
/// writes `entries` needs it: the triggers that keep the index in step call it.
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

/// What the index holds for one story: the words of its title and of the first
/// [`INDEXED_TEXT_BYTES`] of the plain text of its summary and content, folded (lowercase, no
/// diacritics, no punctuation), each once.
pub fn search_text(title: &str, summary_html: Option<&str>, content_html: Option<&str>) -> String {
    let mut plain = String::new();
    for html in [summary_html, content_html].into_iter().flatten() {
        if plain.len() >= INDEXED_TEXT_BYTES {
            break;
        }
        // Stored HTML is the sanitizer's output, so the cheap tag stripper is enough.
        plain.push_str(&strip_tags(
            &html[..floor_char_boundary(html, HTML_PREFIX_BYTES)],
        ));
        plain.push(' ');
    }
    let plain = &plain[..floor_char_boundary(&plain, INDEXED_TEXT_BYTES)];
    let mut folded = String::with_capacity(title.len() + plain.len() + 1);
    fold_into(&mut folded, title);
    folded.push(' ');
    fold_into(&mut folded, plain);
    // Each word once: queries ask only whether a story has every word, and news text repeats
    // its words (fewer tokens make every insert cheaper).
    let mut seen = std::collections::HashSet::new();
    let mut words = String::with_capacity(folded.len());
    for word in folded.split_whitespace() {
        if seen.insert(word) {
            if !words.is_empty() {
                words.push(' ');
            }
            words.push_str(word);
        }
    }
    words
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
