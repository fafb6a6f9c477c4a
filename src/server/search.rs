//! Search as a feed: `/search.atom?q=…` (and `.rss`, `.json`) lists the stories matching every
//! word of `q`, newest first, so a saved search is something a feed reader can subscribe to;
//! `/search` is the HTML form. The query reaches SQLite only as quoted, folded words (see
//! `store::search::match_expression`).

use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;

use super::{AppState, DEFAULT_LIMIT, ServeError};
use crate::publish::{self, Format, TopicPage};

/// Longest query accepted, in characters.
pub const MAX_QUERY_CHARS: usize = 200;

#[derive(Debug, Deserialize)]
pub(super) struct SearchQuery {
    q: Option<String>,
    limit: Option<String>,
}

pub(super) async fn atom(state: State<AppState>, query: Query<SearchQuery>) -> Response {
    feed(Format::Atom, state, query).await
}

pub(super) async fn rss(state: State<AppState>, query: Query<SearchQuery>) -> Response {
    feed(Format::Rss, state, query).await
}

pub(super) async fn json(state: State<AppState>, query: Query<SearchQuery>) -> Response {
    feed(Format::Json, state, query).await
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
) -> Response {
    match search_feed(format, &state, &query).await {
        Ok(response) => response,
        Err(e) => e.into_response(),
    }
}

async fn search_feed(
    format: Format,
    state: &AppState,
    query: &SearchQuery,
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
    let store = state.inner.store.clone();
    let search_q = q.clone();
    let entries = tokio::task::spawn_blocking(move || store.search(&search_q, limit))
        .await
        .map_err(|e| ServeError::Internal(e.to_string()))??;
    let page = TopicPage {
        slug: "search".into(),
        title: format!("Search: {shown}"),
        description: Some(format!("Entries matching “{shown}”, newest first.")),
        feed_id: format!("{base}search?{q_only}"),
        self_url: format!("{base}search.{}?{params}", format.extension()),
        // One page: a search lists its newest matches only.
        first_url: None,
        next_url: None,
        home_url: format!("{base}search?{q_only}"),
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
    let body = publish::render(format, &page);
    Ok((
        StatusCode::OK,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static(format.media_type()),
            ),
            (header::CACHE_CONTROL, state.inner.cache_control.clone()),
        ],
        body,
    )
        .into_response())
}

/// `GET /search`: the form, and for a query the links to its three feeds.
pub(super) async fn page(
    State(state): State<AppState>,
    Query(query): Query<SearchQuery>,
) -> Result<Html<String>, ServeError> {
    let q = match query.q.as_deref() {
        None | Some("") => "",
        Some(q) => checked_query(Some(q))?,
    };
    Ok(Html(publish::render_search(
        state.config().server.base_url.as_str(),
        q,
    )))
}
