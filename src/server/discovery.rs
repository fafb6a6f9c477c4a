//! Discovery: the HTML index at `/`, subscription lists (`/sources.opml`, `/topics/{slug}.opml`)
//! and the source health table at `/sources`. Reads the config and the store; renders through
//! `publish`. The index and the sources table aggregate over every entry or sighting, so they go
//! through the render cache like feeds: rendered once per store generation, not per request.
//! `/sources` lists the sources needing attention first and filters by state (`?state=failing`).

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::cache::PageKey;
use super::pages::{HTML_TYPE, respond_html};
use super::{AppState, PageBody, ServeError, cached_page};
use crate::config::ALL_TOPIC;
use crate::publish::{self, IndexTopic, OpmlFeed, SourceHealth, SourceRow};
use crate::store::{Store, StoreError};

const OPML_TYPE: &str = "text/x-opml; charset=utf-8";
const DAY_SECS: i64 = 86_400;
/// How many days the source health sparklines cover.
const HEALTH_DAYS: usize = 30;
/// How many days the topic cards' sparklines cover.
const SPARKLINE_DAYS: usize = 30;

async fn blocking<T: Send + 'static>(
    state: &AppState,
    f: impl FnOnce(&dyn Store) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, ServeError> {
    let store = state.inner.store.clone();
    Ok(tokio::task::spawn_blocking(move || f(&*store))
        .await
        .map_err(|e| ServeError::Internal(e.to_string()))??)
}

/// `GET /`: every topic as a card with its entry count, last update and stories per day.
pub(super) async fn index(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ServeError> {
    let config = state.config();
    let now = (state.inner.clock)();
    let generation = state.inner.store.generation();
    let rendered = cached_page(&state, PageKey::Index, generation, move |store| {
        let summaries = store.topic_summaries()?;
        let topic = |slug: &str, title: &str, description: Option<&str>| {
            let summary = summaries.get(slug);
            // Stories per day from the topic's newest page of the largest size: a topic busier
            // than that over the period shows its recent days only. The days end on that of its
            // newest story, not today: the page is rendered once per change of the store, and
            // its card says when the last update was.
            let daily = match crate::model::TopicSlug::new(slug) {
                Ok(topic) => {
                    let slice = store.topic_page(&topic, None, super::MAX_LIMIT)?;
                    let newest = slice.entries.iter().map(|e| e.published).max();
                    publish::sparkline::per_day(
                        slice.entries.iter().map(|e| e.published),
                        SPARKLINE_DAYS,
                        newest.unwrap_or(now).min(now),
                    )
                }
                Err(_) => Vec::new(),
            };
            Ok::<_, StoreError>(IndexTopic {
                slug: slug.to_string(),
                title: title.to_string(),
                description: description.map(str::to_string),
                entries: summary.map_or(0, |s| s.entries),
                updated: summary.and_then(|s| s.updated),
                daily,
            })
        };
        let mut topics = vec![topic(
            ALL_TOPIC,
            "All entries",
            Some("Every entry from every source."),
        )?];
        for t in &config.topics {
            topics.push(topic(t.slug.as_str(), &t.title, t.description.as_deref())?);
        }
        Ok(PageBody {
            content_type: HTML_TYPE,
            body: publish::render_index(config.server.base_url.as_str(), &topics).into_bytes(),
            last_modified: now,
        })
    })
    .await?;
    Ok(respond_html(&rendered, &headers))
}

fn opml_response(body: String) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, HeaderValue::from_static(OPML_TYPE))],
        body,
    )
        .into_response()
}

/// `GET /sources.opml`: every source, under one outline per topic it feeds; sources that feed no
/// declared topic under "Other".
pub(super) async fn sources_opml(State(state): State<AppState>) -> Result<Response, ServeError> {
    let labels = blocking(&state, |s: &dyn Store| s.source_labels()).await?;
    let config = state.config();
    let groups = publish::opml_groups(&config, &labels);
    Ok(opml_response(publish::render_opml_grouped(
        "Tributary sources",
        &groups,
    )))
}

/// `GET /topics/{slug}.opml`: the sources of one topic.
pub(super) async fn topic_opml(state: &AppState, slug: &str) -> Result<Response, ServeError> {
    let config = state.config();
    let (title, topic) = if slug == ALL_TOPIC {
        ("All entries".to_string(), None)
    } else {
        let topic = config
            .topic(slug)
            .ok_or_else(|| ServeError::UnknownTopic(slug.to_string()))?;
        (topic.title.clone(), Some(topic))
    };
    let labels = blocking(state, |s: &dyn Store| s.source_labels()).await?;
    let feeds: Vec<OpmlFeed> = config
        .topic_sources(topic)
        .into_iter()
        .map(|s| publish::opml_feed(s, &labels))
        .collect();
    Ok(opml_response(publish::render_opml_flat(
        &format!("Tributary: {title}"),
        &feeds,
    )))
}

#[derive(Debug, serde::Deserialize)]
pub(super) struct SourcesQuery {
    state: Option<String>,
}

/// `GET /sources`: one row per configured source with its health and a 30-day sparkline. Current
/// while no fetch was recorded and the day has not changed.
pub(super) async fn sources_page(
    State(state): State<AppState>,
    Query(query): Query<SourcesQuery>,
    headers: HeaderMap,
) -> Result<Response, ServeError> {
    let filter = match query.state.as_deref() {
        None | Some("") => None,
        Some(name) => Some(
            publish::SOURCE_STATES
                .into_iter()
                .find(|s| *s == name)
                .ok_or_else(|| {
                    ServeError::BadRequest(format!(
                        "unknown state \"{name}\": expected one of {}",
                        publish::SOURCE_STATES.join(", ")
                    ))
                })?,
        ),
    };
    let config = state.config();
    let now = (state.inner.clock)();
    let generation = state.inner.store.sources_generation();
    let key = PageKey::Sources {
        day: now.div_euclid(DAY_SECS),
        state: filter.map(str::to_string),
    };
    let rendered = cached_page(&state, key, generation, move |store| {
        let states = store.source_states()?;
        let labels = store.source_labels()?;
        let daily = store.daily_new_entries(HEALTH_DAYS, now)?;
        let states: HashMap<&str, &crate::model::SourceState> =
            states.iter().map(|s| (s.url.as_str(), s)).collect();
        let rows: Vec<SourceRow> = config
            .sources
            .iter()
            .map(|source| {
                let url = source.url.as_str();
                let stored = states.get(url).copied();
                let feed = publish::opml_feed(source, &labels);
                SourceRow {
                    title: feed.title,
                    url: url.to_string(),
                    health: stored.map_or(SourceHealth::New, |s| s.health()),
                    last_fetch: stored.and_then(|s| s.last_fetch_at),
                    last_error: stored.and_then(|s| s.last_error.clone()),
                    warning: stored.and_then(|s| s.warning.clone()),
                    entries: stored.map_or(0, |s| s.entries),
                    daily: stored
                        .and_then(|s| daily.get(&s.id).cloned())
                        .unwrap_or_else(|| vec![0; HEALTH_DAYS]),
                }
            })
            .collect();
        Ok(PageBody {
            content_type: HTML_TYPE,
            body: publish::render_sources_in(config.server.base_url.as_str(), &rows, filter)
                .into_bytes(),
            last_modified: now,
        })
    })
    .await?;
    Ok(respond_html(&rendered, &headers))
}
