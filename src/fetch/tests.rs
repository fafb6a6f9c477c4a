use super::*;

#[test]
fn sizes_read_as_written_in_the_config() {
    assert_eq!(human_size(20 * 1024 * 1024), "20 MiB");
    assert_eq!(human_size(64 * 1024), "64 KiB");
    assert_eq!(human_size(1000), "1000 bytes");
    assert_eq!(human_size(3 * 1024 * 1024 + 1), "3.0 MiB");
    assert_eq!(
        FetchError::TooLarge {
            limit: 20 * 1024 * 1024
        }
        .to_string(),
        "response larger than 20 MiB"
    );
}

#[test]
fn cache_headers_are_read() {
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=600, must-revalidate"),
    );
    headers.insert(
        header::EXPIRES,
        HeaderValue::from_static("Wed, 18 Nov 2026 12:00:00 GMT"),
    );
    headers.insert(
        header::DATE,
        HeaderValue::from_static("Wed, 18 Nov 2026 11:00:00 GMT"),
    );
    let cache = cache_headers(&headers);
    assert_eq!(cache.max_age, Some(600));
    assert_eq!(
        cache.expires.map(|e| e - cache.date.unwrap_or(0)),
        Some(3600)
    );
}

#[test]
fn retry_after_takes_seconds_or_a_date() {
    let mut headers = HeaderMap::new();
    headers.insert(header::RETRY_AFTER, HeaderValue::from_static("120"));
    assert_eq!(retry_after(&headers), Some(RetryAfter::Seconds(120)));
    headers.insert(
        header::RETRY_AFTER,
        HeaderValue::from_static("Wed, 18 Nov 2026 12:00:00 GMT"),
    );
    assert_eq!(retry_after(&headers), Some(RetryAfter::At(1_795_003_200)));
    headers.insert(header::RETRY_AFTER, HeaderValue::from_static("soon"));
    assert_eq!(retry_after(&headers), None);
}

#[test]
fn failures_are_classified() {
    assert_eq!(
        FetchError::Status {
            status: 404,
            retry_after: None
        }
        .class(),
        FailureClass::Http4xx
    );
    assert_eq!(
        FetchError::Status {
            status: 503,
            retry_after: None
        }
        .class(),
        FailureClass::Http5xx
    );
    assert!(
        FetchError::Status {
            status: 503,
            retry_after: None
        }
        .is_retryable()
    );
    assert!(
        !FetchError::Status {
            status: 404,
            retry_after: None
        }
        .is_retryable()
    );
    assert_eq!(
        FetchError::Refused("x".into()).class(),
        FailureClass::Refused
    );
    assert_eq!(FetchError::TooManyRedirects.class(), FailureClass::Redirect);
}
