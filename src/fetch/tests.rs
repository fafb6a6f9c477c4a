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

/// Serves `/a` as a 302 to `/b` and `/b` as a feed, on 127.0.0.1.
async fn redirecting_server() -> std::net::SocketAddr {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut head = [0u8; 4096];
                let n = stream.read(&mut head).await.unwrap_or(0);
                let request = String::from_utf8_lossy(&head[..n]).to_string();
                let response = if request.starts_with("GET /a ") {
                    "HTTP/1.1 302 Found\r\nLocation: /b\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                        .to_string()
                } else {
                    let body = "<rss version=\"2.0\"><channel><title>B</title></channel></rss>";
                    format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    )
                };
                let _ = stream.write_all(response.as_bytes()).await;
            });
        }
    });
    addr
}

#[tokio::test]
async fn a_redirect_within_a_host_allowing_one_request_at_a_time_is_followed() {
    let addr = redirecting_server().await;
    let mut settings = FetchSettings::new("test".into(), Duration::from_secs(5), 1 << 20);
    settings.per_host = 1;
    settings.host_delay = Duration::ZERO;
    let fetcher = Fetcher::new(settings).expect("fetcher");
    let start = Url::parse(&format!("http://{addr}/a")).expect("url");
    // The first hop's turn used to be held while the second waited for one: with one turn per
    // host, forever.
    let outcome = tokio::time::timeout(Duration::from_secs(10), fetcher.get(&start, None, true))
        .await
        .expect("the redirect did not wait for its own turn");
    match outcome {
        Ok(FetchOutcome::Fetched(doc)) => {
            assert_eq!(doc.info.final_url.path(), "/b");
            assert!(String::from_utf8_lossy(&doc.body).contains("<title>B</title>"));
        }
        other => panic!("{other:?}"),
    }
}
