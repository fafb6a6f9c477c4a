//! Thin adapter over feed-rs: raw bytes in, a parsed feed out, with the final URL as base URI.
//!
//! feed-rs invents an id (possibly a random UUID) for entries that have none; we install an id
//! generator that leaves such ids empty so that `normalize` can tell "the publisher gave no id"
//! apart and derive a stable identity of its own. No policy lives here.

use feed_rs::model::Feed;
use url::Url;

#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    #[error("not a feed: HTML page")]
    HtmlPage,
    #[error("not a feed: empty document")]
    Empty,
    #[error("not a feed: {0}")]
    Invalid(String),
}

/// Parses a feed document (RSS 0.9x/1.0/2.0, Atom, JSON Feed) from its raw bytes.
pub fn parse_feed(body: &[u8], base: &Url) -> Result<Feed, ParseError> {
    let start = body
        .iter()
        .position(|b| !b.is_ascii_whitespace() && *b != 0xEF && *b != 0xBB && *b != 0xBF)
        .unwrap_or(body.len());
    if start == body.len() {
        return Err(ParseError::Empty);
    }
    let parser = feed_rs::parser::Builder::new()
        .base_uri(Some(base.as_str()))
        .id_generator(|_links, _title, _uri| String::new())
        .sanitize_content(false)
        .build();
    parser.parse(body).map_err(|e| {
        if looks_like_html(&body[start..]) {
            ParseError::HtmlPage
        } else {
            ParseError::Invalid(e.to_string())
        }
    })
}

fn looks_like_html(body: &[u8]) -> bool {
    let head = &body[..body.len().min(1024)];
    let head = String::from_utf8_lossy(head).to_ascii_lowercase();
    head.contains("<!doctype html") || head.contains("<html")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Url {
        Url::parse("http://example.com/feed.xml").expect("static URL")
    }

    #[test]
    fn entries_without_ids_keep_an_empty_id() {
        let doc = br#"<rss version="2.0"><channel><title>t</title>
            <item><title>a</title><link>/a</link></item></channel></rss>"#;
        let feed = parse_feed(doc, &base()).expect("valid RSS");
        assert_eq!(feed.entries.len(), 1);
        assert_eq!(feed.entries[0].id, "");
        assert_eq!(feed.entries[0].links[0].href, "http://example.com/a");
    }

    #[test]
    fn html_page_is_named() {
        let doc = b"<!DOCTYPE html><html><head><title>x</title></head><body></body></html>";
        let err = parse_feed(doc, &base()).expect_err("HTML is not a feed");
        assert_eq!(err.to_string(), "not a feed: HTML page");
    }

    #[test]
    fn empty_body_is_named() {
        let err = parse_feed(b"  \n", &base()).expect_err("empty is not a feed");
        assert_eq!(err.to_string(), "not a feed: empty document");
    }
}
