//! The HTML pages people read: a topic's river at `/topics/{slug}`, and our stylesheet at
//! `/static/style.<hash>.css`. The river reads the same pages of the store as the topic feeds
//! (the same `?before=` and `?limit=`), and goes through the render cache like them: one render
//! per change, ETag, 304 and compression. Every HTML page comes with [`CONTENT_SECURITY_POLICY`].

use std::sync::LazyLock;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::Response;

use super::cache::{PageKey, Rendered};
use super::paging::PageRequest;
use super::{AppState, PageBody, ServeError, cached_page, respond};
use crate::model::TopicSlug;
use crate::publish::{self, RiverPage};

pub const HTML_TYPE: &str = "text/html; charset=utf-8";

/// The pages load nothing but our own stylesheet and run nothing: whatever a source managed to
/// put in a stored field, the browser refuses to load or run it. Forms only post to us, and no
/// other site may frame the pages.
pub const CONTENT_SECURITY_POLICY: HeaderValue = HeaderValue::from_static(
    "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
);

/// The HTML pages are revalidated on every view (a 304 from memory while current): people look
/// at them to see what changed.
pub const HTML_CACHE_CONTROL: HeaderValue = HeaderValue::from_static("no-cache");

/// A year, and never revalidated: the stylesheet's URL changes with its bytes.
const STATIC_CACHE_CONTROL: HeaderValue =
    HeaderValue::from_static("public, max-age=31536000, immutable");

/// [`respond`] for an HTML page: revalidated on each view, under the content security policy.
/// A 304 leaves the policy out: the browser keeps the one that came with the page it holds
/// (RFC 9111 §4.3.4 updates stored headers only with those sent), and a 304 is most of the
/// traffic of a page people reload, where every header costs both ends.
pub fn respond_html(rendered: &Rendered, headers: &HeaderMap) -> Response {
    let mut response = respond(rendered, headers, &HTML_CACHE_CONTROL);
    if response.status() != axum::http::StatusCode::NOT_MODIFIED {
        response
            .headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY);
    }
    response
}

const MINUTE_SECS: i64 = 60;

/// `GET /topics/{slug}` (no extension): the topic's stories, newest first, one page of the same
/// length and at the same cursor as the feeds'.
pub(super) async fn river(
    state: &AppState,
    slug: &str,
    query: Option<&str>,
    headers: &HeaderMap,
) -> Result<Response, ServeError> {
    let request = PageRequest::from_query(query).map_err(ServeError::BadRequest)?;
    let now = (state.inner.clock)();
    let key = PageKey::River {
        topic: slug.to_string(),
        page: request,
        minute: now.div_euclid(MINUTE_SECS),
    };
    let generation = state.inner.store.generation();
    // A current page proves its topic exists (see `topic_feed`).
    let rendered = match state.inner.cache.get(&key, generation) {
        Some(rendered) => rendered,
        None => {
            let config = state.config();
            let (title, description, languages) = if slug == crate::config::ALL_TOPIC {
                (
                    "All entries".to_string(),
                    Some("Every entry from every source.".to_string()),
                    Vec::new(),
                )
            } else {
                let topic = config
                    .topic(slug)
                    .ok_or_else(|| ServeError::UnknownTopic(slug.to_string()))?;
                (
                    topic.title.clone(),
                    topic.description.clone(),
                    topic.shown_languages().to_vec(),
                )
            };
            let topic = TopicSlug::new(slug).map_err(ServeError::BadRequest)?;
            let base = config.server.base_url.to_string();
            let page_url = format!("{base}topics/{slug}");
            let slug = slug.to_string();
            cached_page(state, key, generation, move |store| {
                let mut slice = store.topic_page(&topic, request.before, request.limit())?;
                slice.entries = std::mem::take(&mut slice.entries)
                    .into_iter()
                    .map(|e| e.in_languages(&languages))
                    .collect();
                let last_modified = slice
                    .entries
                    .iter()
                    .map(|e| e.changed)
                    .max()
                    .unwrap_or(now)
                    .max(slice.shrank_at.unwrap_or(i64::MIN))
                    .min(now);
                let body = publish::render_river(&RiverPage {
                    base_url: &base,
                    slug: &slug,
                    title: &title,
                    description: description.as_deref(),
                    entries: &slice.entries,
                    newest_url: request
                        .before
                        .is_some()
                        .then(|| request.first_url(&page_url)),
                    older_url: slice.next.map(|next| request.next_url(&page_url, next)),
                    now,
                });
                Ok(PageBody {
                    content_type: HTML_TYPE,
                    body: body.into_bytes(),
                    last_modified,
                })
            })
            .await?
        }
    };
    Ok(respond_html(&rendered, headers))
}

/// The stylesheet in every coding, made once.
static STYLESHEET: LazyLock<Rendered> = LazyLock::new(|| {
    Rendered::new(
        0,
        "text/css; charset=utf-8",
        publish::style::STYLESHEET.as_bytes().to_vec(),
        0,
    )
});

/// `GET /static/{file}`: the stylesheet under its current name; any other name is a 404 (an old
/// name too: pages that named it have been replaced).
pub(super) async fn static_file(
    State(_state): State<AppState>,
    axum::extract::Path(file): axum::extract::Path<String>,
    headers: HeaderMap,
) -> Result<Response, ServeError> {
    if file != publish::style::file_name() {
        return Err(ServeError::NotFound);
    }
    let mut response = respond(&STYLESHEET, &headers, &STATIC_CACHE_CONTROL);
    // Its validators never change, and the modification time of compiled-in bytes means nothing.
    response.headers_mut().remove(header::LAST_MODIFIED);
    Ok(response)
}
