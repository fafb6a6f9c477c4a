//! HTTP for sources: the `reqwest` clients, conditional GET, redirects followed one hop at a time
//! (so that every hop is checked by the SSRF guard and permanent moves can be tracked), a total
//! deadline, and a cap on the decoded body checked while streaming. Returns raw bytes (never
//! `.text()`: feed documents carry their own encoding). Never parses and never touches the
//! database.

mod gate;
mod guard;
mod resolver;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use reqwest::StatusCode;
use reqwest::header::{self, HeaderMap, HeaderValue};
use url::{Host, Url};

pub use gate::{SLOWDOWN, SharedHosts, SharedTurn};
pub use guard::forbidden;
use resolver::{DnsFailure, GuardedResolver, Refused};

use crate::model::{FailureClass, Timestamp, Validators};

/// Redirect hops followed before giving up.
pub const MAX_REDIRECTS: usize = 5;

#[derive(Debug, Clone)]
pub struct FetchSettings {
    pub user_agent: String,
    pub timeout: Duration,
    pub connect_timeout: Duration,
    pub max_body: u64,
    /// All requests go through this proxy when set; otherwise proxy variables in the
    /// environment are ignored.
    pub proxy: Option<Url>,
    /// Non-public addresses that are fetched from anyway (tests on loopback).
    pub allowlist: Vec<IpAddr>,
    /// Fixed DNS answers (tests).
    pub dns_overrides: HashMap<String, Vec<IpAddr>>,
    /// Requests in flight at once, overall and to one host; least time between two requests to
    /// the same host.
    pub concurrency: usize,
    pub per_host: usize,
    pub host_delay: Duration,
}

impl FetchSettings {
    pub fn new(user_agent: String, timeout: Duration, max_body: u64) -> FetchSettings {
        FetchSettings {
            user_agent,
            timeout,
            connect_timeout: Duration::from_secs(10).min(timeout),
            max_body,
            proxy: None,
            allowlist: Vec::new(),
            dns_overrides: HashMap::new(),
            concurrency: 16,
            per_host: 2,
            host_delay: Duration::from_secs(1),
        }
    }
}

/// What the server said about the response, whatever its body.
#[derive(Debug, Clone)]
pub struct ResponseInfo {
    /// Where the response came from after redirects: the base URI of relative links.
    pub final_url: Url,
    pub status: u16,
    pub validators: Validators,
    pub cache: CacheHeaders,
    /// Where the leading run of permanent redirects (301/308) pointed, if the request began with
    /// one.
    pub permanent_redirect: Option<Url>,
}

/// Caching headers, as hints for when to poll again.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CacheHeaders {
    pub max_age: Option<u64>,
    pub expires: Option<Timestamp>,
    pub date: Option<Timestamp>,
}

/// A source document as the server sent it.
#[derive(Debug, Clone)]
pub struct Document {
    /// The URL asked for, before redirects.
    pub requested_url: Url,
    pub info: ResponseInfo,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

#[derive(Debug)]
pub enum FetchOutcome {
    /// 304: the stored entries are current.
    NotModified(ResponseInfo),
    Fetched(Document),
}

/// `Retry-After` (RFC 9110 §10.2.3): a number of seconds or an HTTP date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryAfter {
    Seconds(u64),
    At(Timestamp),
}

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("could not build the HTTP client: {0}")]
    Client(String),
    #[error("{0}")]
    Refused(String),
    #[error("{0}")]
    Dns(String),
    #[error("connection failed: {0}")]
    Connect(String),
    #[error("TLS failed: {0}")]
    Tls(String),
    #[error("timed out after {}", humantime::format_duration(*.0))]
    Timeout(Duration),
    #[error("HTTP {status}")]
    Status {
        status: u16,
        retry_after: Option<RetryAfter>,
    },
    #[error("response larger than {}", human_size(*limit))]
    TooLarge { limit: u64 },
    #[error("more than {MAX_REDIRECTS} redirects")]
    TooManyRedirects,
    #[error("redirect loop at {0}")]
    RedirectLoop(String),
    #[error("bad redirect: {0}")]
    BadRedirect(String),
    #[error("request failed: {0}")]
    Other(String),
}

impl FetchError {
    pub fn class(&self) -> FailureClass {
        match self {
            FetchError::Refused(_) => FailureClass::Refused,
            FetchError::Dns(_) => FailureClass::Dns,
            FetchError::Connect(_) => FailureClass::Connect,
            FetchError::Tls(_) => FailureClass::Tls,
            FetchError::Timeout(_) => FailureClass::Timeout,
            FetchError::Status { status, .. } if *status >= 500 => FailureClass::Http5xx,
            FetchError::Status { .. } => FailureClass::Http4xx,
            FetchError::TooLarge { .. } => FailureClass::TooLarge,
            FetchError::TooManyRedirects
            | FetchError::RedirectLoop(_)
            | FetchError::BadRedirect(_) => FailureClass::Redirect,
            FetchError::Client(_) | FetchError::Other(_) => FailureClass::Connect,
        }
    }

    /// Whether trying again later may succeed without anybody changing anything.
    pub fn is_retryable(&self) -> bool {
        match self {
            FetchError::Dns(_)
            | FetchError::Connect(_)
            | FetchError::Tls(_)
            | FetchError::Timeout(_)
            | FetchError::Other(_) => true,
            FetchError::Status { status, .. } => *status == 408 || *status == 429 || *status >= 500,
            FetchError::Client(_)
            | FetchError::Refused(_)
            | FetchError::TooLarge { .. }
            | FetchError::TooManyRedirects
            | FetchError::RedirectLoop(_)
            | FetchError::BadRedirect(_) => false,
        }
    }

    pub fn http_status(&self) -> Option<u16> {
        match self {
            FetchError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    pub fn retry_after(&self) -> Option<RetryAfter> {
        match self {
            FetchError::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// The fetcher: one connection pool for guarded sources and one for sources allowed to reach
/// private networks.
#[derive(Clone)]
pub struct Fetcher {
    guarded: reqwest::Client,
    open: reqwest::Client,
    guard: GuardedResolver,
    gate: Arc<gate::Gate>,
    settings: Arc<FetchSettings>,
}

impl Fetcher {
    pub fn new(settings: FetchSettings) -> Result<Fetcher, FetchError> {
        Fetcher::sharing_hosts(settings, None)
    }

    /// A fetcher whose requests also take turns at each host from `shared`, the other
    /// processes fetching for the same database, so that per_host and host_delay hold for all.
    pub fn sharing_hosts(
        settings: FetchSettings,
        shared: Option<Arc<dyn SharedHosts>>,
    ) -> Result<Fetcher, FetchError> {
        let guard = GuardedResolver {
            guard: true,
            allowlist: Arc::new(settings.allowlist.clone()),
            overrides: Arc::new(settings.dns_overrides.clone()),
        };
        let open_resolver = GuardedResolver {
            guard: false,
            ..guard.clone()
        };
        Ok(Fetcher {
            guarded: build_client(&settings, guard.clone())?,
            open: build_client(&settings, open_resolver)?,
            guard,
            gate: Arc::new(match shared {
                Some(hosts) => gate::Gate::shared(
                    settings.concurrency,
                    settings.per_host,
                    settings.host_delay,
                    hosts,
                ),
                None => {
                    gate::Gate::new(settings.concurrency, settings.per_host, settings.host_delay)
                }
            }),
            settings: Arc::new(settings),
        })
    }

    pub fn settings(&self) -> &FetchSettings {
        &self.settings
    }

    /// GET `url`, conditional on `validators` when given; the whole exchange, redirects and body
    /// included, must finish within the configured timeout, counted from when the host's turn
    /// comes (waiting behind other sources of a busy host is not the server's slowness). `allow_private` lifts the SSRF guard
    /// for this request.
    pub async fn get(
        &self,
        url: &Url,
        validators: Option<&Validators>,
        allow_private: bool,
    ) -> Result<FetchOutcome, FetchError> {
        self.follow(url, validators, allow_private).await
    }

    async fn follow(
        &self,
        start: &Url,
        validators: Option<&Validators>,
        allow_private: bool,
    ) -> Result<FetchOutcome, FetchError> {
        let client = if allow_private {
            &self.open
        } else {
            &self.guarded
        };
        let mut url = start.clone();
        let mut visited = vec![start.clone()];
        let mut permanent_redirect = None;
        let mut still_permanent = true;
        let mut hops = 0;
        let mut _pass: Option<gate::Pass> = None;
        let mut deadline = None;
        let timeout = self.settings.timeout;
        let response = loop {
            self.check_destination(&url, allow_private)?;
            // The previous hop's turn goes back before the next is taken: held while waiting,
            // a redirect within a host whose turns are all taken would wait for itself.
            drop(_pass.take());
            _pass = self.gate.enter(&url).await;
            let until = *deadline.get_or_insert_with(|| tokio::time::Instant::now() + timeout);
            let send = client
                .get(url.clone())
                .headers(request_headers(validators))
                .send();
            let response = tokio::time::timeout_at(until, send)
                .await
                .map_err(|_| FetchError::Timeout(timeout))?
                .map_err(classify)?;
            let status = response.status();
            if !status.is_redirection() || status == StatusCode::NOT_MODIFIED {
                break response;
            }
            let Some(location) = response
                .headers()
                .get(header::LOCATION)
                .and_then(|v| v.to_str().ok())
            else {
                return Err(FetchError::BadRedirect(format!(
                    "HTTP {} without a Location",
                    status.as_u16()
                )));
            };
            let next = url
                .join(location.trim())
                .map_err(|e| FetchError::BadRedirect(format!("{location}: {e}")))?;
            if visited.contains(&next) {
                return Err(FetchError::RedirectLoop(next.to_string()));
            }
            hops += 1;
            if hops > MAX_REDIRECTS {
                return Err(FetchError::TooManyRedirects);
            }
            let permanent = matches!(status.as_u16(), 301 | 308);
            if permanent && still_permanent {
                permanent_redirect = Some(next.clone());
            } else {
                still_permanent = false;
            }
            visited.push(next.clone());
            url = next;
        };

        let status = response.status();
        let headers = response.headers();
        let info = ResponseInfo {
            final_url: response.url().clone(),
            status: status.as_u16(),
            validators: Validators {
                etag: header_string(headers, header::ETAG),
                last_modified: header_string(headers, header::LAST_MODIFIED),
            },
            cache: cache_headers(headers),
            permanent_redirect,
        };
        if status == StatusCode::NOT_MODIFIED {
            // A 304 may omit validators; keep the ones we sent.
            let sent = validators.cloned().unwrap_or_default();
            let info = ResponseInfo {
                validators: Validators {
                    etag: info.validators.etag.or(sent.etag),
                    last_modified: info.validators.last_modified.or(sent.last_modified),
                },
                ..info
            };
            return Ok(FetchOutcome::NotModified(info));
        }
        if !status.is_success() {
            let retry_after = retry_after(headers);
            if let (429 | 503, Some(retry)) = (status.as_u16(), retry_after) {
                let wait = match retry {
                    RetryAfter::Seconds(s) => s,
                    RetryAfter::At(t) => {
                        u64::try_from(t - chrono::Utc::now().timestamp()).unwrap_or(0)
                    }
                };
                // However long the server asks for, the host is slowed for a day at most.
                let wait = Duration::from_secs(wait.min(24 * 60 * 60));
                self.gate.slow_down(&info.final_url, wait);
            }
            return Err(FetchError::Status {
                status: status.as_u16(),
                retry_after,
            });
        }
        let content_type = header_string(headers, header::CONTENT_TYPE);
        let limit = self.settings.max_body;
        if response.content_length().is_some_and(|n| n > limit)
            && !headers.contains_key(header::CONTENT_ENCODING)
        {
            return Err(FetchError::TooLarge { limit });
        }
        // The cap applies to the decoded stream: reqwest has already undone gzip/brotli/deflate,
        // so a compression bomb stops here at `limit` bytes.
        let mut body = Vec::new();
        let mut stream = response.bytes_stream();
        let until = deadline.unwrap_or_else(|| tokio::time::Instant::now() + timeout);
        while let Some(chunk) = tokio::time::timeout_at(until, stream.next())
            .await
            .map_err(|_| FetchError::Timeout(timeout))?
        {
            let chunk = chunk.map_err(classify)?;
            if body.len() as u64 + chunk.len() as u64 > limit {
                return Err(FetchError::TooLarge { limit });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(FetchOutcome::Fetched(Document {
            requested_url: start.clone(),
            info,
            content_type,
            body,
        }))
    }

    /// Scheme and literal-address checks for one hop. Names are checked by the resolver when the
    /// connection is made; a literal address never reaches the resolver, so it is checked here
    /// (the URL parser has already turned `2130706433`, `0177.0.0.1`, `127.1` and `0x7f.1` into
    /// `127.0.0.1`).
    fn check_destination(&self, url: &Url, allow_private: bool) -> Result<(), FetchError> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(FetchError::Refused(format!(
                "refused: {url} is not an http or https URL"
            )));
        }
        if allow_private {
            return Ok(());
        }
        let ip = match url.host() {
            Some(Host::Ipv4(ip)) => IpAddr::V4(ip),
            Some(Host::Ipv6(ip)) => IpAddr::V6(ip),
            Some(Host::Domain(_)) => return Ok(()),
            None => return Err(FetchError::Refused(format!("refused: {url} has no host"))),
        };
        self.guard.check(ip).map_err(|e| FetchError::Refused(e.0))
    }
}

/// `20 MiB`, `64 KiB`, `1000 bytes`: sizes as operators write them in feeds.toml.
pub fn human_size(bytes: u64) -> String {
    const KIB: u64 = 1024;
    const MIB: u64 = 1024 * KIB;
    const GIB: u64 = 1024 * MIB;
    match bytes {
        b if b >= GIB && b % GIB == 0 => format!("{} GiB", b / GIB),
        b if b >= MIB && b % MIB == 0 => format!("{} MiB", b / MIB),
        b if b >= KIB && b % KIB == 0 => format!("{} KiB", b / KIB),
        b if b >= MIB => format!("{:.1} MiB", b as f64 / MIB as f64),
        b => format!("{b} bytes"),
    }
}

fn build_client(
    settings: &FetchSettings,
    resolver: GuardedResolver,
) -> Result<reqwest::Client, FetchError> {
    let mut builder = reqwest::Client::builder()
        .user_agent(settings.user_agent.clone())
        .connect_timeout(settings.connect_timeout)
        // Redirects are followed by `Fetcher::follow`, one checked hop at a time.
        .redirect(reqwest::redirect::Policy::none())
        // A source is polled again in minutes or hours: idle connections to thousands of hosts
        // would cost buffers and sockets (over 100 MiB across 5,000 hosts) for little reuse.
        .pool_max_idle_per_host(0)
        .dns_resolver(Arc::new(resolver))
        .gzip(true)
        .brotli(true)
        .deflate(true);
    builder = match &settings.proxy {
        Some(proxy) => builder.proxy(
            reqwest::Proxy::all(proxy.as_str())
                .map_err(|e| FetchError::Client(format!("proxy {proxy}: {e}")))?,
        ),
        // Proxy variables in the environment are not honoured: a feed fetcher must not be
        // steered by settings an operator did not make for it.
        None => builder.no_proxy(),
    };
    builder
        .build()
        .map_err(|e| FetchError::Client(error_chain(&e)))
}

fn request_headers(validators: Option<&Validators>) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(
        header::ACCEPT,
        HeaderValue::from_static(
            "application/atom+xml, application/rss+xml, application/feed+json, application/rdf+xml;q=0.9, application/xml;q=0.8, text/xml;q=0.8, application/json;q=0.7, */*;q=0.5",
        ),
    );
    if let Some(v) = validators {
        if let Some(etag) = v
            .etag
            .as_deref()
            .and_then(|v| HeaderValue::from_str(v).ok())
        {
            headers.insert(header::IF_NONE_MATCH, etag);
        }
        if let Some(lm) = v
            .last_modified
            .as_deref()
            .and_then(|v| HeaderValue::from_str(v).ok())
        {
            headers.insert(header::IF_MODIFIED_SINCE, lm);
        }
    }
    headers
}

fn header_string(headers: &HeaderMap, name: header::HeaderName) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

fn http_date(headers: &HeaderMap, name: header::HeaderName) -> Option<Timestamp> {
    let text = header_string(headers, name)?;
    let time = httpdate::parse_http_date(&text).ok()?;
    let secs = time.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs();
    Timestamp::try_from(secs).ok()
}

fn cache_headers(headers: &HeaderMap) -> CacheHeaders {
    let max_age = header_string(headers, header::CACHE_CONTROL).and_then(|cc| {
        cc.split(',').find_map(|directive| {
            let (name, value) = directive.trim().split_once('=')?;
            name.trim()
                .eq_ignore_ascii_case("max-age")
                .then(|| value.trim().trim_matches('"').parse::<u64>().ok())
                .flatten()
        })
    });
    CacheHeaders {
        max_age,
        expires: http_date(headers, header::EXPIRES),
        date: http_date(headers, header::DATE),
    }
}

fn retry_after(headers: &HeaderMap) -> Option<RetryAfter> {
    let text = header_string(headers, header::RETRY_AFTER)?;
    if let Ok(seconds) = text.parse::<u64>() {
        return Some(RetryAfter::Seconds(seconds));
    }
    http_date(headers, header::RETRY_AFTER).map(RetryAfter::At)
}

fn classify(e: reqwest::Error) -> FetchError {
    // Our resolver's verdicts travel up reqwest's error chain; report them as they are.
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
    while let Some(s) = source {
        if let Some(refused) = s.downcast_ref::<Refused>() {
            return FetchError::Refused(refused.0.clone());
        }
        if let Some(dns) = s.downcast_ref::<DnsFailure>() {
            return FetchError::Dns(dns.to_string());
        }
        source = s.source();
    }
    let chain = error_chain(&e);
    if e.is_timeout() {
        FetchError::Other(format!("timed out: {chain}"))
    } else if e.is_connect() {
        let lower = chain.to_ascii_lowercase();
        if lower.contains("certificate") || lower.contains("tls") || lower.contains("handshake") {
            FetchError::Tls(chain)
        } else {
            FetchError::Connect(chain)
        }
    } else {
        FetchError::Other(chain)
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

#[cfg(test)]
mod tests;
