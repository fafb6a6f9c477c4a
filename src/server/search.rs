//! Search as a feed: `/search.atom?q=…` (and `.rss`, `.json`) lists the stories matching every
//! word of `q`, newest first, so a saved search is something a feed reader can subscribe to;
//! `/search` is the HTML page: the form, and for a query its newest matches with the words marked. The query reaches SQLite only as quoted, folded words (see
//! `store::sqlite::search::match_expression`). Search feeds go through the render cache like topic feeds
//! (ETag, 304, compression), keyed by the query as given, which their self link repeats.

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::cache::PageKey;
use super::{AppState, DEFAULT_LIMIT, PageBody, ServeError, cached_page, respond};
use crate::publish::{self, Format, TopicPage};

/// Longest query accepted, in characters.
pub const MAX_QUERY_CHARS: usize = 200;

#[derive(Debug, Deserialize)]
pub(super) struct SearchQuery {
    q: Option<String>,
    limit: Option<String>,
    /// Of the HTML page's results.
    page: Option<String>,
}

pub(super) async fn atom(
    state: State<AppState>,
    query: Query<SearchQuery>,
    headers: HeaderMap,
) -> Response {
    feed(Format::Atom, state, query, headers).await
}

pub(super) async fn rss(
    state: State<AppState>,
    query: Query<SearchQuery>,
    headers: HeaderMap,
) -> Response {
    feed(Format::Rss, state, query, headers).await
}

pub(super) async fn json(
    state: State<AppState>,
    query: Query<SearchQuery>,
    headers: HeaderMap,
) -> Response {
    feed(Format::Json, state, query, headers).await
}

/// The query text, checked: present, not blank, not too long.
fn checked_query(q: Option<&str>) -> Result<&str, ServeError> {
    let q = q.unwrap_or("").trim();
    if q.is_empty() {
        return Err(ServeError::BadRequest(
            "missing search query: add ?q=words".into(),
        ));
    }
    if q.chars().count() > MAX_QUERY_CHARS {
        return Err(ServeError::BadRequest(format!(
            "search query too long: at most {MAX_QUERY_CHARS} characters"
        )));
    }
    Ok(q)
}

async fn feed(
    format: Format,
    State(state): State<AppState>,
    Query(query): Query<SearchQuery>,
    headers: HeaderMap,
) -> Response {
    match search_feed(format, &state, &query, &headers).await {
        Ok(response) => response,
        Err(e) => e.into_response(),
    }
}

async fn search_feed(
    format: Format,
    state: &AppState,
    query: &SearchQuery,
    headers: &HeaderMap,
) -> Result<Response, ServeError> {
    let q = checked_query(query.q.as_deref())?.to_string();
    let limit = match query.limit.as_deref() {
        None => DEFAULT_LIMIT,
        Some(text) => super::paging::parse_limit(text).map_err(ServeError::BadRequest)?,
    };
    let config = state.config();
    let base = config.server.base_url.as_str();
    // The document's own address is the request's: the same query, re-encoded.
    let encode = |pairs: &[(&str, &str)]| {
        url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish()
    };
    let q_only = encode(&[("q", &q)]);
    let params = match &query.limit {
        Some(limit) => encode(&[("q", &q), ("limit", limit)]),
        None => q_only.clone(),
    };
    // The query as the feed's title shows it: control characters (a NUL is not even allowed in
    // XML) become spaces; they are no part of any word searched for.
    let shown: String = q
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let now = (state.inner.clock)();
    let key = PageKey::Search {
        format,
        q: q.clone(),
        limit: query.limit.clone(),
    };
    let feed_id = format!("{base}search?{q_only}");
    let self_url = format!("{base}search.{}?{params}", format.extension());
    let generation = state.inner.store.generation();
    let rendered = cached_page(state, key, generation, move |store| {
        let entries = store.search(&q, limit)?;
        // As for topic pages: when the newest match last changed, and never in the future.
        let last_modified = entries
            .iter()
            .map(|e| e.changed)
            .max()
            .unwrap_or(now)
            .min(now);
        let page = TopicPage {
            slug: "search".into(),
            title: format!("Search: {shown}"),
            description: Some(format!("Entries matching “{shown}”, newest first.")),
            home_url: feed_id.clone(),
            feed_id,
            self_url,
            // One page: a search lists its newest matches only.
            first_url: None,
            next_url: None,
            updated: entries
                .iter()
                .map(|e| e.updated)
                .max()
                .unwrap_or(now)
                .min(now),
            entries,
            // Search feeds are not announced, so they name no hub.
            hubs: Vec::new(),
        };
        Ok(PageBody {
            content_type: format.media_type(),
            body: publish::render(format, &page),
            last_modified,
        })
    })
    .await?;
    Ok(respond(&rendered, headers, &state.inner.cache_control))
}

/// Matches shown per page of the HTML search.
pub const RESULTS_PER_PAGE: usize = 20;

/// Pages of matches the HTML search goes back: as many as a feed of the largest size holds.
pub const MAX_RESULT_PAGES: usize = super::MAX_LIMIT / RESULTS_PER_PAGE;

/// `?page=`: 1 (the newest matches) to [`MAX_RESULT_PAGES`].
fn result_page(value: Option<&str>) -> Result<usize, ServeError> {
    match value {
        None | Some("") => Ok(1),
        Some(text) => match text.parse::<usize>() {
            Ok(n) if (1..=MAX_RESULT_PAGES).contains(&n) => Ok(n),
            _ => Err(ServeError::BadRequest(format!(
                "invalid page \"{text}\": expected 1 to {MAX_RESULT_PAGES}"
            ))),
        },
    }
}

/// `GET /search`: the form; for a query, the links to its three feeds and its newest matches,
/// [`RESULTS_PER_PAGE`] a page (`?page=`), with the words searched for marked. Cached like the
/// other pages.
pub(super) async fn page(
    State(state): State<AppState>,
    Query(query): Query<SearchQuery>,
    headers: HeaderMap,
) -> Result<Response, ServeError> {
    let q = match query.q.as_deref() {
        None | Some("") => String::new(),
        Some(q) => checked_query(Some(q))?.to_string(),
    };
    let page = result_page(query.page.as_deref())?;
    let now = (state.inner.clock)();
    let key = PageKey::SearchPage {
        q: q.clone(),
        page,
        minute: now.div_euclid(60),
    };
    let base = state.config().server.base_url.to_string();
    let generation = state.inner.store.generation();
    let rendered = cached_page(&state, key, generation, move |store| {
        let (entries, more) = if q.is_empty() {
            (Vec::new(), false)
        } else {
            // One more than this page needs tells whether another follows.
            let mut found = store.search(&q, page * RESULTS_PER_PAGE + 1)?;
            let more = found.len() > page * RESULTS_PER_PAGE;
            found.truncate(page * RESULTS_PER_PAGE);
            let shown = found.split_off(((page - 1) * RESULTS_PER_PAGE).min(found.len()));
            (shown, more)
        };
        let last_modified = entries
            .iter()
            .map(|e| e.changed)
            .max()
            .unwrap_or(now)
            .min(now);
        let body = publish::render_search_results(&publish::SearchResults {
            base_url: &base,
            query: &q,
            entries: &entries,
            page,
            more,
            now,
        });
        Ok(PageBody {
            content_type: super::pages::HTML_TYPE,
            body: body.into_bytes(),
            last_modified,
        })
    })
    .await?;
    Ok(super::pages::respond_html(&rendered, &headers))
}
