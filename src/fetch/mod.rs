//! HTTP for sources: the one `reqwest::Client`, conditional GET, a total deadline and a cap on the
//! decoded body, checked while streaming. Returns raw bytes (never `.text()`: feed documents carry
//! their own encoding). Never parses and never touches the database.

use std::time::Duration;

use futures_util::StreamExt;
use reqwest::StatusCode;
use reqwest::header::{self, HeaderMap, HeaderValue};
use url::Url;

use crate::model::Validators;

#[derive(Debug, Clone)]
pub struct FetchSettings {
    pub user_agent: String,
    pub timeout: Duration,
    pub connect_timeout: Duration,
    pub max_body: u64,
}

/// A source document as the server sent it.
#[derive(Debug)]
pub struct Document {
    /// Where the body came from after redirects: the base URI of relative links.
    pub final_url: Url,
    pub status: u16,
    pub content_type: Option<String>,
    pub validators: Validators,
    pub body: Vec<u8>,
}

#[derive(Debug)]
pub enum FetchOutcome {
    /// 304: the stored entries are current.
    NotModified {
        validators: Validators,
    },
    Fetched(Document),
}

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("could not build the HTTP client: {0}")]
    Client(String),
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    #[error("connection failed: {0}")]
    Connect(String),
    #[error("HTTP {status}")]
    Status { status: u16 },
    #[error("response larger than {}", bytesize::ByteSize::b(*limit).display().iec())]
    TooLarge { limit: u64 },
    #[error("too many redirects")]
    Redirects,
    #[error("request failed: {0}")]
    Other(String),
}

impl FetchError {
    /// Whether trying again later may succeed without anybody changing anything.
    pub fn is_retryable(&self) -> bool {
        match self {
            FetchError::Timeout(_) | FetchError::Connect(_) | FetchError::Other(_) => true,
            FetchError::Status { status } => *status == 429 || *status >= 500,
            FetchError::Client(_) | FetchError::TooLarge { .. } | FetchError::Redirects => false,
        }
    }

    pub fn http_status(&self) -> Option<u16> {
        match self {
            FetchError::Status { status } => Some(*status),
            _ => None,
        }
    }
}

/// The fetcher: one connection pool for every source.
#[derive(Clone)]
pub struct Fetcher {
    client: reqwest::Client,
    settings: FetchSettings,
}

impl Fetcher {
    pub fn new(settings: FetchSettings) -> Result<Fetcher, FetchError> {
        let client = reqwest::Client::builder()
            .user_agent(settings.user_agent.clone())
            .connect_timeout(settings.connect_timeout)
            .redirect(reqwest::redirect::Policy::limited(5))
            // Proxies from the environment are not honoured: a feed fetcher must not be steered by
            // ambient variables an operator did not mean for it.
            .no_proxy()
            .gzip(true)
            .brotli(true)
            .deflate(true)
            .build()
            .map_err(|e| FetchError::Client(error_chain(&e)))?;
        Ok(Fetcher { client, settings })
    }

    pub fn settings(&self) -> &FetchSettings {
        &self.settings
    }

    /// GET `url`, conditional on `validators`; the whole exchange, body included, must finish
    /// within the configured timeout.
    pub async fn get(
        &self,
        url: &Url,
        validators: &Validators,
    ) -> Result<FetchOutcome, FetchError> {
        let timeout = self.settings.timeout;
        match tokio::time::timeout(timeout, self.get_inner(url, validators)).await {
            Ok(result) => result,
            Err(_) => Err(FetchError::Timeout(timeout)),
        }
    }

    async fn get_inner(
        &self,
        url: &Url,
        validators: &Validators,
    ) -> Result<FetchOutcome, FetchError> {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::ACCEPT,
            HeaderValue::from_static(
                "application/atom+xml, application/rss+xml, application/feed+json, application/rdf+xml;q=0.9, application/xml;q=0.8, text/xml;q=0.8, application/json;q=0.7, */*;q=0.5",
            ),
        );
        if let Some(etag) = validators
            .etag
            .as_deref()
            .and_then(|v| HeaderValue::from_str(v).ok())
        {
            headers.insert(header::IF_NONE_MATCH, etag);
        }
        if let Some(lm) = validators
            .last_modified
            .as_deref()
            .and_then(|v| HeaderValue::from_str(v).ok())
        {
            headers.insert(header::IF_MODIFIED_SINCE, lm);
        }
        let response = self
            .client
            .get(url.clone())
            .headers(headers)
            .send()
            .await
            .map_err(classify)?;
        let status = response.status();
        let final_url = response.url().clone();
        let new_validators = Validators {
            etag: header_string(response.headers(), header::ETAG),
            last_modified: header_string(response.headers(), header::LAST_MODIFIED),
        };
        if status == StatusCode::NOT_MODIFIED {
            // A 304 may omit validators; keep the ones we sent.
            let validators = Validators {
                etag: new_validators.etag.or_else(|| validators.etag.clone()),
                last_modified: new_validators
                    .last_modified
                    .or_else(|| validators.last_modified.clone()),
            };
            return Ok(FetchOutcome::NotModified { validators });
        }
        if !status.is_success() {
            return Err(FetchError::Status {
                status: status.as_u16(),
            });
        }
        let content_type = header_string(response.headers(), header::CONTENT_TYPE);
        let limit = self.settings.max_body;
        if response.content_length().is_some_and(|n| n > limit)
            && response.headers().get(header::CONTENT_ENCODING).is_none()
        {
            return Err(FetchError::TooLarge { limit });
        }
        // The cap applies to the decoded stream: reqwest has already undone gzip/brotli/deflate,
        // so a compression bomb stops here at `limit` bytes.
        let mut body = Vec::new();
        let mut stream = response.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(classify)?;
            if body.len() as u64 + chunk.len() as u64 > limit {
                return Err(FetchError::TooLarge { limit });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(FetchOutcome::Fetched(Document {
            final_url,
            status: status.as_u16(),
            content_type,
            validators: new_validators,
            body,
        }))
    }
}

fn header_string(headers: &HeaderMap, name: header::HeaderName) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

fn classify(e: reqwest::Error) -> FetchError {
    if e.is_redirect() {
        FetchError::Redirects
    } else if e.is_timeout() {
        FetchError::Other(format!("timed out: {}", error_chain(&e)))
    } else if e.is_connect() {
        FetchError::Connect(error_chain(&e))
    } else {
        FetchError::Other(error_chain(&e))
    }
}

/// reqwest's `Display` names only the outermost layer ("error sending request"); the cause that
/// tells an operator what to fix (refused, DNS, TLS) is further down the chain.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let part = s.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = s.source();
    }
    text
}
