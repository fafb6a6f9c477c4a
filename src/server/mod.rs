//! HTTP: routes, the render cache and conditional GET. Fetches and parses nothing.
//!
//! A topic page is rendered once per store generation and kept with a strong ETag derived from
//! its bytes; a request whose `If-None-Match` matches the cached page is answered 304 without
//! touching SQLite.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;

use crate::config::Config;
use crate::model::{Timestamp, TopicSlug};
use crate::publish::{self, Format, IndexTopic, TopicPage};
use crate::store::{Store, StoreError};

pub const DEFAULT_LIMIT: usize = 50;
pub const MAX_LIMIT: usize = 500;
const CACHE_CONTROL: &str = "public, max-age=60";

/// A rendered topic page and its validators.
struct Rendered {
    generation: u64,
    body: axum::body::Bytes,
    etag: String,
    last_modified: Timestamp,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct PageKey {
    topic: String,
    format: Format,
    limit: Option<usize>,
}

#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

/// What `/healthz` and `/metrics` report from; both are optional so a bare router (tests,
/// benchmarks) still serves feeds.
#[derive(Clone, Default)]
pub struct Observe {
    /// The scheduler's heartbeat; without it only the database is checked.
    pub health: Option<Arc<crate::systemd::Health>>,
    pub metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
}

struct Inner {
    observe: Observe,
    store: Arc<Store>,
    /// The configuration in force; `run` replaces it on reload.
    config: tokio::sync::watch::Receiver<Arc<Config>>,
    cache: Mutex<HashMap<PageKey, Arc<Rendered>>>,
    clock: crate::pipeline::Clock,
}

impl AppState {
    /// State over a fixed configuration.
    pub fn new(store: Arc<Store>, config: Arc<Config>, clock: crate::pipeline::Clock) -> AppState {
        AppState::following(
            store,
            tokio::sync::watch::channel(config).1,
            clock,
            Observe::default(),
        )
    }

    /// State that follows the configuration sent on `config` (reloads).
    pub fn following(
        store: Arc<Store>,
        config: tokio::sync::watch::Receiver<Arc<Config>>,
        clock: crate::pipeline::Clock,
        observe: Observe,
    ) -> AppState {
        AppState {
            inner: Arc::new(Inner {
                observe,
                store,
                config,
                cache: Mutex::new(HashMap::new()),
                clock,
            }),
        }
    }
}

impl AppState {
    /// The configuration in force now.
    fn config(&self) -> Arc<Config> {
        self.inner.config.borrow().clone()
    }
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/topics/{file}", get(topic_feed))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .fallback(|| async { (StatusCode::NOT_FOUND, "not found\n") })
        .layer(axum::middleware::from_fn(count_requests))
        .with_state(state)
}

#[derive(Debug, thiserror::Error)]
enum ServeError {
    #[error("unknown topic: {0}")]
    UnknownTopic(String),
    #[error("not found")]
    NotFound,
    #[error("{0}")]
    BadRequest(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("internal error: {0}")]
    Internal(String),
}

impl IntoResponse for ServeError {
    fn into_response(self) -> Response {
        match self {
            ServeError::UnknownTopic(_) | ServeError::NotFound => {
                (StatusCode::NOT_FOUND, format!("{self}\n")).into_response()
            }
            ServeError::BadRequest(_) => {
                (StatusCode::BAD_REQUEST, format!("{self}\n")).into_response()
            }
            ServeError::Store(_) | ServeError::Internal(_) => {
                // Ours to fix: log the detail, tell the client only that it failed.
                tracing::error!(error = %self, "request failed");
                (StatusCode::INTERNAL_SERVER_ERROR, "internal error\n").into_response()
            }
        }
    }
}

/// Counts every response by route template and status for `/metrics`.
async fn count_requests(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let route: &'static str = match request
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map(axum::extract::MatchedPath::as_str)
    {
        Some("/") => "/",
        Some("/topics/{file}") => "/topics/{file}",
        Some("/healthz") => "/healthz",
        Some("/metrics") => "/metrics",
        Some(_) => "other",
        None => "unmatched",
    };
    let response = next.run(request).await;
    crate::metrics::record_request(route, response.status().as_u16());
    response
}

/// 200 when the database answers and the scheduler is alive, else 503 with the reason.
async fn healthz(State(state): State<AppState>) -> Response {
    let store = &state.inner.store;
    let verdict = match &state.inner.observe.health {
        Some(health) => health.check(store).await,
        None => crate::systemd::database_answers(store).await,
    };
    let mut response = match verdict {
        Ok(()) => (StatusCode::OK, "ok\n".to_string()).into_response(),
        Err(reason) => (StatusCode::SERVICE_UNAVAILABLE, format!("{reason}\n")).into_response(),
    };
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// Prometheus text exposition.
async fn metrics(State(state): State<AppState>) -> Result<Response, ServeError> {
    let store = state.inner.store.clone();
    let sources = tokio::task::spawn_blocking(move || store.source_states())
        .await
        .map_err(|e| ServeError::Internal(e.to_string()))??;
    let db_bytes = database_bytes(&state.config().storage.path);
    let body = crate::metrics::render(state.inner.observe.metrics.as_ref(), &sources, db_bytes);
    let mut response = body.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    Ok(response)
}

/// The database file and its WAL, in bytes (0 for files that do not exist).
fn database_bytes(path: &std::path::Path) -> u64 {
    let size = |p: &std::path::Path| std::fs::metadata(p).map_or(0, |m| m.len());
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    size(path) + size(std::path::Path::new(&wal))
}

#[derive(Debug, Deserialize)]
struct FeedQuery {
    limit: Option<String>,
}

async fn index(State(state): State<AppState>) -> Result<Html<String>, ServeError> {
    let store = state.inner.store.clone();
    let counts = tokio::task::spawn_blocking(move || store.topic_counts())
        .await
        .map_err(|e| ServeError::Internal(e.to_string()))??;
    let config = state.config();
    let count = |slug: &str| counts.get(slug).copied().unwrap_or(0);
    let mut topics = vec![IndexTopic {
        slug: crate::config::ALL_TOPIC.into(),
        title: "All entries".into(),
        description: Some("Every entry from every source.".into()),
        entries: count(crate::config::ALL_TOPIC),
    }];
    topics.extend(config.topics.iter().map(|t| IndexTopic {
        slug: t.slug.to_string(),
        title: t.title.clone(),
        description: t.description.clone(),
        entries: count(t.slug.as_str()),
    }));
    Ok(Html(publish::render_index(
        config.server.base_url.as_str(),
        &topics,
    )))
}

async fn topic_feed(
    State(state): State<AppState>,
    Path(file): Path<String>,
    Query(query): Query<FeedQuery>,
    headers: HeaderMap,
) -> Result<Response, ServeError> {
    let (slug, ext) = file.rsplit_once('.').ok_or(ServeError::NotFound)?;
    let format = Format::from_extension(ext).ok_or(ServeError::NotFound)?;
    let config = state.config();
    let (title, description) = if slug == crate::config::ALL_TOPIC {
        (
            "All entries".to_string(),
            Some("Every entry from every source.".to_string()),
        )
    } else {
        let topic = config
            .topic(slug)
            .ok_or_else(|| ServeError::UnknownTopic(slug.to_string()))?;
        (topic.title.clone(), topic.description.clone())
    };
    let limit = match query.limit.as_deref() {
        None => None,
        Some(text) => match text.parse::<usize>() {
            Ok(n) if n >= 1 => Some(n.min(MAX_LIMIT)),
            _ => {
                return Err(ServeError::BadRequest(format!(
                    "invalid limit \"{text}\": expected 1 to {MAX_LIMIT}"
                )));
            }
        },
    };
    let key = PageKey {
        topic: slug.to_string(),
        format,
        limit,
    };

    let generation = state.inner.store.generation();
    let cached = state
        .inner
        .cache
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .get(&key)
        .filter(|r| r.generation == generation)
        .cloned();
    let rendered = match cached {
        Some(r) => r,
        None => {
            let base = config.server.base_url.clone();
            let mut self_url = format!("{base}topics/{slug}.{}", format.extension());
            if let Some(n) = limit {
                self_url.push_str(&format!("?limit={n}"));
            }
            let page = TopicPage {
                slug: slug.to_string(),
                title,
                description,
                feed_id: format!("{base}topics/{slug}"),
                self_url,
                home_url: base.to_string(),
                updated: 0,
                entries: Vec::new(),
            };
            let store = state.inner.store.clone();
            let topic = TopicSlug::new(slug).map_err(ServeError::BadRequest)?;
            let now = (state.inner.clock)();
            let rendered = tokio::task::spawn_blocking(move || -> Result<Rendered, StoreError> {
                let mut entries = store.topic_entries(&topic, limit.unwrap_or(DEFAULT_LIMIT))?;
                // Ids must be unique within a document; two sources carrying the same guid are the
                // same story, shown once (the newer sighting first).
                let mut seen = std::collections::HashSet::new();
                entries.retain(|e| seen.insert(e.public_id.clone()));
                // Last-Modified is when the page last changed, and never in the future.
                let last_modified = entries
                    .iter()
                    .map(|e| e.changed)
                    .max()
                    .unwrap_or(now)
                    .min(now);
                let page = TopicPage {
                    updated: entries
                        .iter()
                        .map(|e| e.updated)
                        .max()
                        .unwrap_or(last_modified)
                        .min(now),
                    entries,
                    ..page
                };
                let body = publish::render(format, &page);
                let etag = format!("\"{}\"", &crate::text::hash_bytes(&body)[..32]);
                Ok(Rendered {
                    generation,
                    body: axum::body::Bytes::from(body),
                    etag,
                    last_modified,
                })
            })
            .await
            .map_err(|e| ServeError::Internal(e.to_string()))??;
            let rendered = Arc::new(rendered);
            state
                .inner
                .cache
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .insert(key, rendered.clone());
            rendered
        }
    };
    Ok(respond(format, &rendered, &headers))
}

fn respond(format: Format, rendered: &Rendered, request: &HeaderMap) -> Response {
    let last_modified = httpdate::fmt_http_date(
        std::time::UNIX_EPOCH
            + std::time::Duration::from_secs(u64::try_from(rendered.last_modified).unwrap_or(0)),
    );
    let not_modified = match request.get(header::IF_NONE_MATCH) {
        // RFC 9110 §13.1.2: If-None-Match takes precedence over If-Modified-Since.
        Some(inm) => etag_matches(inm, &rendered.etag),
        None => request
            .get(header::IF_MODIFIED_SINCE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| httpdate::parse_http_date(v).ok())
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .is_some_and(|since| since.as_secs() as i64 >= rendered.last_modified),
    };
    let mut headers = HeaderMap::new();
    let mut set = |name: header::HeaderName, value: &str| {
        if let Ok(v) = HeaderValue::from_str(value) {
            headers.insert(name, v);
        }
    };
    set(header::ETAG, &rendered.etag);
    set(header::LAST_MODIFIED, &last_modified);
    set(header::CACHE_CONTROL, CACHE_CONTROL);
    if not_modified {
        return (StatusCode::NOT_MODIFIED, headers).into_response();
    }
    set(header::CONTENT_TYPE, format.media_type());
    (StatusCode::OK, headers, rendered.body.clone()).into_response()
}

/// Weak comparison (RFC 9110 §13.1.2) over a list of entity tags, or `*`.
fn etag_matches(header_value: &HeaderValue, etag: &str) -> bool {
    let Ok(text) = header_value.to_str() else {
        return false;
    };
    let ours = etag.trim_start_matches("W/");
    text.split(',')
        .map(str::trim)
        .any(|candidate| candidate == "*" || candidate.trim_start_matches("W/") == ours)
}

#[cfg(test)]
mod tests;
