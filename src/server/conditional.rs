//! Conditional GET (RFC 9110 §13): whether a request's validators match a cached page, so that it
//! can be answered 304 from memory. Pure functions over header values.

use axum::http::{HeaderMap, HeaderValue, header};

use crate::model::Timestamp;

/// Whether the request's preconditions say the client already has the page: `If-None-Match`
/// against any of the page's entity tags (one per coding), else `If-Modified-Since` not older
/// than `last_modified`. §13.2.2: `If-Modified-Since` is ignored when `If-None-Match` is present.
pub fn not_modified<'a>(
    request: &HeaderMap,
    etags: impl IntoIterator<Item = &'a str> + Clone,
    last_modified: Timestamp,
) -> bool {
    match request.get(header::IF_NONE_MATCH) {
        Some(inm) => etags.into_iter().any(|etag| etag_matches(inm, etag)),
        None => request
            .get(header::IF_MODIFIED_SINCE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| httpdate::parse_http_date(v).ok())
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .is_some_and(|since| {
                i64::try_from(since.as_secs()).unwrap_or(i64::MAX) >= last_modified
            }),
    }
}

/// Weak comparison (§13.1.2, as If-None-Match uses) of a list of entity tags, or `*`, with ours.
pub fn etag_matches(header_value: &HeaderValue, etag: &str) -> bool {
    let Ok(text) = header_value.to_str() else {
        return false;
    };
    let ours = etag.trim_start_matches("W/");
    text.split(',')
        .map(str::trim)
        .any(|candidate| candidate == "*" || candidate.trim_start_matches("W/") == ours)
}

/// An HTTP-date for `Last-Modified`.
pub fn http_date(t: Timestamp) -> String {
    httpdate::fmt_http_date(
        std::time::UNIX_EPOCH + std::time::Duration::from_secs(u64::try_from(t).unwrap_or(0)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(headers: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.insert(
                axum::http::HeaderName::from_bytes(name.as_bytes()).expect("name"),
                HeaderValue::from_str(value).expect("value"),
            );
        }
        map
    }

    const TAGS: [&str; 2] = ["\"abc\"", "\"abc-gz\""];
    // Tue, 14 Nov 2023 22:13:20 GMT
    const T: Timestamp = 1_700_000_000;

    #[test]
    fn precondition_matrix() {
        type Headers<'a> = &'a [(&'a str, &'a str)];
        let cases: &[(Headers, bool, &str)] = &[
            (&[], false, "no validators"),
            (&[("if-none-match", "\"abc\"")], true, "etag"),
            (
                &[("if-none-match", "\"abc-gz\"")],
                true,
                "another coding's etag",
            ),
            (&[("if-none-match", "W/\"abc\"")], true, "weak comparison"),
            (&[("if-none-match", "\"x\", \"abc\"")], true, "in a list"),
            (&[("if-none-match", "*")], true, "any"),
            (&[("if-none-match", "\"stale\"")], false, "stale etag"),
            (
                &[("if-modified-since", "Tue, 14 Nov 2023 22:13:20 GMT")],
                true,
                "same date",
            ),
            (
                &[("if-modified-since", "Wed, 15 Nov 2023 00:00:00 GMT")],
                true,
                "later date",
            ),
            (
                &[("if-modified-since", "Tue, 14 Nov 2023 22:13:19 GMT")],
                false,
                "stale date",
            ),
            (&[("if-modified-since", "yesterday")], false, "bad date"),
            (
                &[
                    ("if-none-match", "\"stale\""),
                    ("if-modified-since", "Wed, 15 Nov 2023 00:00:00 GMT"),
                ],
                false,
                "both: the etag decides",
            ),
            (
                &[
                    ("if-none-match", "\"abc\""),
                    ("if-modified-since", "Tue, 14 Nov 2023 22:13:19 GMT"),
                ],
                true,
                "both: the etag decides",
            ),
        ];
        for (headers, expected, what) in cases {
            assert_eq!(
                not_modified(&request(headers), TAGS, T),
                *expected,
                "{what}"
            );
        }
    }
}
