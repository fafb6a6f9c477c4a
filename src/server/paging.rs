//! Paging of topic feeds (RFC 5005 §3): the `?before=` cursor and `?limit=` parameters, and the
//! URLs of a page, its first page and the next one. Pure; the store does the keyset query.

use crate::model::PageCursor;

pub const DEFAULT_LIMIT: usize = 50;
pub const MAX_LIMIT: usize = 500;

/// What a request asks of a topic: which page, and how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct PageRequest {
    /// The `?limit=` given (capped at [`MAX_LIMIT`]); `None` is [`DEFAULT_LIMIT`], and keeps the
    /// parameter out of the page's URLs.
    pub limit: Option<usize>,
    /// Entries strictly older than this position; `None` is the newest page.
    pub before: Option<PageCursor>,
}

/// A `?limit=` value: 1 or more, capped at [`MAX_LIMIT`]. A bad value is an error message for a
/// 400. Capped rather than refused: a feed reader subscribed to a URL with a larger limit has
/// been answered all along, and a 400 now would end its subscription (the README says so).
pub fn parse_limit(value: &str) -> Result<usize, String> {
    match value.parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n.min(MAX_LIMIT)),
        // Digits beyond usize are still a request for "as many as allowed".
        Err(e) if *e.kind() == std::num::IntErrorKind::PosOverflow => Ok(MAX_LIMIT),
        _ => Err(format!(
            "invalid limit \"{value}\": expected 1 to {MAX_LIMIT}"
        )),
    }
}

impl PageRequest {
    /// Reads `limit` and `before` from a query string; other parameters are ignored. A bad value
    /// is an error message for a 400.
    pub fn from_query(query: Option<&str>) -> Result<PageRequest, String> {
        let mut page = PageRequest::default();
        let Some(query) = query else {
            return Ok(page);
        };
        for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
            match &*key {
                "limit" => page.limit = Some(parse_limit(&value)?),
                "before" => page.before = Some(value.parse::<PageCursor>()?),
                _ => {}
            }
        }
        Ok(page)
    }

    pub fn limit(&self) -> usize {
        self.limit.unwrap_or(DEFAULT_LIMIT)
    }

    /// The URL of this page: `feed_url` with the parameters in one canonical order.
    pub fn url(&self, feed_url: &str) -> String {
        page_url(feed_url, self.before, self.limit)
    }

    /// The newest page with the same limit.
    pub fn first_url(&self, feed_url: &str) -> String {
        page_url(feed_url, None, self.limit)
    }

    /// The page after this one, which starts at `next`.
    pub fn next_url(&self, feed_url: &str, next: PageCursor) -> String {
        page_url(feed_url, Some(next), self.limit)
    }
}

fn page_url(feed_url: &str, before: Option<PageCursor>, limit: Option<usize>) -> String {
    let mut url = String::with_capacity(feed_url.len() + 48);
    url.push_str(feed_url);
    let mut separator = '?';
    if let Some(cursor) = before {
        url.push(separator);
        url.push_str(&format!("before={cursor}"));
        separator = '&';
    }
    if let Some(limit) = limit {
        url.push(separator);
        url.push_str(&format!("limit={limit}"));
    }
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_limit_and_cursor() {
        assert_eq!(PageRequest::from_query(None), Ok(PageRequest::default()));
        let page = PageRequest::from_query(Some("limit=20&before=1700000000.42&x=1")).expect("ok");
        assert_eq!(page.limit, Some(20));
        assert_eq!(
            page.before,
            Some(PageCursor {
                sort_at: 1_700_000_000,
                entry_id: 42
            })
        );
        assert_eq!(
            PageRequest::from_query(Some("limit=100000")).map(|p| p.limit),
            Ok(Some(MAX_LIMIT))
        );
        assert_eq!(
            PageRequest::from_query(Some("limit=99999999999999999999999")).map(|p| p.limit),
            Ok(Some(MAX_LIMIT))
        );
        assert_eq!(
            PageRequest::from_query(Some("before=-5.3")).map(|p| p.before),
            Ok(Some(PageCursor {
                sort_at: -5,
                entry_id: 3
            }))
        );
    }

    #[test]
    fn rejects_bad_values_with_a_clear_message() {
        assert_eq!(
            PageRequest::from_query(Some("limit=0")),
            Err("invalid limit \"0\": expected 1 to 500".into())
        );
        assert_eq!(
            PageRequest::from_query(Some("limit=-1")),
            Err("invalid limit \"-1\": expected 1 to 500".into())
        );
        for bad in [
            "x",
            "1700000000",
            "1.2.3",
            "1.-2",
            ".5",
            "5.",
            "+1.2",
            "1 .2",
            "1e3.4",
        ] {
            let query = format!(
                "before={}",
                url::form_urlencoded::byte_serialize(bad.as_bytes()).collect::<String>()
            );
            let error = PageRequest::from_query(Some(&query)).expect_err(bad);
            assert!(error.starts_with("invalid cursor"), "{bad}: {error}");
        }
        assert!(
            PageRequest::from_query(Some("before=99999999999999999999.1"))
                .is_err_and(|e| e.starts_with("invalid cursor"))
        );
    }

    #[test]
    fn urls_keep_the_limit() {
        let feed = "http://h.test/topics/news.atom";
        let cursor = PageCursor {
            sort_at: 9,
            entry_id: 4,
        };
        let plain = PageRequest::default();
        assert_eq!(plain.url(feed), feed);
        assert_eq!(
            plain.next_url(feed, cursor),
            "http://h.test/topics/news.atom?before=9.4"
        );
        let limited = PageRequest {
            limit: Some(20),
            before: Some(cursor),
        };
        assert_eq!(
            limited.url(feed),
            "http://h.test/topics/news.atom?before=9.4&limit=20"
        );
        assert_eq!(
            limited.first_url(feed),
            "http://h.test/topics/news.atom?limit=20"
        );
    }
}
