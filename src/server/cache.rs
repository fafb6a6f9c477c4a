//! The render cache: each page (a topic feed page, a search feed, the index, the sources table)
//! rendered once per store generation, with every coding's body and the response headers made up
//! front, so that a request for a current page is a map lookup and a few reference-count
//! increments. Concurrent requests that miss the same page share one render (single flight).
//! Bounded in bytes, so that clients asking for many distinct pages (hostile cursors, limits or
//! queries) cannot grow memory without limit. Knows nothing of the store or of HTTP requests.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use axum::body::Bytes;
use axum::http::HeaderValue;
use futures_util::future::{BoxFuture, FutureExt, Shared, WeakShared};

use super::ServeError;
use super::encoding::{self, Coding};
use super::paging::PageRequest;
use crate::model::Timestamp;
use crate::publish::Format;

/// The bytes the cache may hold: bodies in every coding plus keys. 64 MiB keeps hundreds of
/// ordinary pages (a 50-entry feed is about 100 KB uncompressed, a third of that in the two
/// compressed codings) while a stream of distinct pages only ever replaces older ones.
pub const MAX_BYTES: usize = 64 * 1024 * 1024;

/// What a cached page is.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PageKey {
    /// One page of a topic feed.
    Topic {
        topic: String,
        format: Format,
        page: PageRequest,
    },
    /// A search feed, by the query and limit exactly as given: its self link repeats them.
    Search {
        format: Format,
        q: String,
        limit: Option<String>,
    },
    /// The HTML river of a topic at `/topics/{slug}`, whose relative times are counted from
    /// the start of this UTC minute.
    River {
        topic: String,
        page: PageRequest,
        minute: i64,
    },
    /// The HTML search page for a query (trimmed) and page of results, whose relative times are
    /// counted from the start of this UTC minute.
    SearchPage { q: String, page: usize, minute: i64 },
    /// The HTML index at `/`.
    Index,
    /// The source health table at `/sources`, whose sparklines end on this UTC day, with only
    /// the sources in `state` when one is asked for.
    Sources { day: i64, state: Option<String> },
}

impl PageKey {
    /// Heap bytes the key holds.
    fn bytes(&self) -> usize {
        match self {
            PageKey::Topic { topic, .. } => topic.len(),
            PageKey::Search { q, limit, .. } => q.len() + limit.as_ref().map_or(0, String::len),
            PageKey::River { topic, .. } => topic.len(),
            PageKey::SearchPage { q, .. } => q.len(),
            PageKey::Sources { state, .. } => state.as_ref().map_or(0, String::len),
            PageKey::Index => 0,
        }
    }
}
/// One coding of a rendered page.
pub struct Variant {
    pub body: Bytes,
    /// Quoted strong entity tag.
    pub etag: String,
    pub etag_header: HeaderValue,
    pub content_encoding: Option<HeaderValue>,
}

/// A rendered page with its validators and the headers every response for it carries.
pub struct Rendered {
    pub generation: u64,
    pub last_modified: Timestamp,
    pub last_modified_header: HeaderValue,
    pub content_type: HeaderValue,
    /// Indexed by [`Coding::index`].
    pub variants: [Variant; 3],
}

impl Rendered {
    /// Builds every coding of `body`. The entity tag is a hash of the uncompressed bytes, with a
    /// suffix per coding. Slow (compression): run it off the async workers.
    pub fn new(
        generation: u64,
        content_type: &'static str,
        body: Vec<u8>,
        last_modified: Timestamp,
    ) -> Rendered {
        let tag = crate::text::hash_bytes(&body)[..32].to_string();
        let variant = |coding: Coding, body: Bytes| {
            let etag = format!("\"{tag}{}\"", coding.etag_suffix());
            Variant {
                body,
                // Hex digits and quotes only: always a valid header value.
                etag_header: HeaderValue::from_str(&etag)
                    .unwrap_or(HeaderValue::from_static("\"\"")),
                etag,
                content_encoding: coding.content_encoding(),
            }
        };
        let identity = Bytes::from(body);
        // Should compression fail, that coding carries the plain body (and says so).
        let compressed = |coding: Coding| match encoding::compress(coding, &identity) {
            Some(bytes) => variant(coding, Bytes::from(bytes)),
            None => variant(Coding::Identity, identity.clone()),
        };
        let variants = [
            compressed(Coding::Brotli),
            compressed(Coding::Gzip),
            variant(Coding::Identity, identity.clone()),
        ];
        Rendered {
            generation,
            last_modified,
            last_modified_header: HeaderValue::from_str(&super::conditional::http_date(
                last_modified,
            ))
            .unwrap_or(HeaderValue::from_static("Thu, 01 Jan 1970 00:00:00 GMT")),
            content_type: HeaderValue::from_static(content_type),
            variants,
        }
    }

    pub fn variant(&self, coding: Coding) -> &Variant {
        &self.variants[coding.index()]
    }

    pub fn etags(&self) -> impl Iterator<Item = &str> + Clone {
        self.variants.iter().map(|v| v.etag.as_str())
    }

    /// Bytes of its bodies (an identity body standing in for a failed coding counts again,
    /// which only errs on the safe side).
    fn bytes(&self) -> usize {
        self.variants.iter().map(|v| v.body.len()).sum()
    }
}

/// What every request waiting for one render gets: the page, or the error to answer with.
pub type RenderResult = Result<Arc<Rendered>, Arc<ServeError>>;

/// The render of one page at one generation, shared by the requests that wait for it. It runs
/// while any of them still waits: when the last one goes away (its client disconnected), the
/// render future is dropped, which abandons its work.
type Flight = Shared<Render>;
type Render = BoxFuture<'static, RenderResult>;

/// Rendered pages by key. Reads (every request) take a shared lock; only a render writes.
#[derive(Default)]
pub struct RenderCache {
    pages: RwLock<Pages>,
    /// Renders under way, by key and the generation they render.
    flights: Mutex<HashMap<(PageKey, u64), WeakShared<Render>>>,
}

#[derive(Default)]
struct Pages {
    map: HashMap<PageKey, Cached>,
    /// Keys by insertion sequence, oldest first: the order in which eviction looks at them.
    order: BTreeMap<u64, PageKey>,
    next_seq: u64,
    bytes: usize,
}

struct Cached {
    seq: u64,
    rendered: Arc<Rendered>,
    bytes: usize,
    /// Set by a hit; eviction spares a page once when set (second chance), so that pages in
    /// use outlive a stream of pages asked for once.
    used: AtomicBool,
}

impl RenderCache {
    /// The cached page for `key` if it was rendered at `generation`.
    pub fn get(&self, key: &PageKey, generation: u64) -> Option<Arc<Rendered>> {
        let pages = self
            .pages
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let cached = pages.map.get(key)?;
        if cached.rendered.generation != generation {
            return None;
        }
        // Read before writing, so that hits on a page already marked share its cache line.
        if !cached.used.load(Ordering::Relaxed) {
            cached.used.store(true, Ordering::Relaxed);
        }
        Some(cached.rendered.clone())
    }

    /// The page for `key` at `generation`: from memory; else from the render of it already under
    /// way; else from the future `start` returns, which renders it and puts it in the cache.
    /// `start` is only called when this request is the first to miss, so it is where a render is
    /// refused (too many renders under way).
    pub async fn get_or_render(
        &self,
        key: &PageKey,
        generation: u64,
        start: impl FnOnce() -> Result<Render, ServeError>,
    ) -> RenderResult {
        if let Some(rendered) = self.get(key, generation) {
            return Ok(rendered);
        }
        let flight: Flight = {
            let mut flights = self
                .flights
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let id = (key.clone(), generation);
            match flights.get(&id).and_then(WeakShared::upgrade) {
                Some(flight) => flight,
                None => {
                    // A page may have been put in the cache between the lookup above and here.
                    if let Some(rendered) = self.get(key, generation) {
                        return Ok(rendered);
                    }
                    // Renders that every requester abandoned, or that are over and collected.
                    flights.retain(|_, flight| flight.upgrade().is_some());
                    let flight = start().map_err(Arc::new)?.shared();
                    if let Some(weak) = flight.downgrade() {
                        flights.insert(id, weak);
                    }
                    flight
                }
            }
        };
        flight.await
    }

    /// Keeps `rendered` under `key`, evicting pages until the cache holds at most [`MAX_BYTES`].
    pub fn insert(&self, key: PageKey, rendered: Arc<Rendered>) {
        self.insert_within(key, rendered, MAX_BYTES);
    }

    fn insert_within(&self, key: PageKey, rendered: Arc<Rendered>, budget: usize) {
        let bytes = rendered.bytes() + key.bytes();
        let mut pages = self
            .pages
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        pages.remove(&key);
        if bytes > budget {
            // Served to those who asked, never kept: it would evict everything else.
            return;
        }
        while pages.bytes + bytes > budget {
            pages.evict_one();
        }
        let seq = pages.next_seq;
        pages.next_seq += 1;
        pages.order.insert(seq, key.clone());
        pages.bytes += bytes;
        pages.map.insert(
            key,
            Cached {
                seq,
                rendered,
                bytes,
                used: AtomicBool::new(false),
            },
        );
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.pages
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .map
            .len()
    }

    /// Bytes held, as counted against [`MAX_BYTES`].
    #[cfg(test)]
    pub fn bytes(&self) -> usize {
        self.pages
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .bytes
    }

    /// Whether a render of `key` at `generation` is under way with someone waiting for it.
    #[cfg(test)]
    pub fn rendering(&self, key: &PageKey, generation: u64) -> bool {
        self.flights
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&(key.clone(), generation))
            .and_then(WeakShared::upgrade)
            .is_some()
    }
}

impl Pages {
    fn remove(&mut self, key: &PageKey) {
        if let Some(old) = self.map.remove(key) {
            self.order.remove(&old.seq);
            self.bytes -= old.bytes;
        }
    }

    /// Evicts the oldest page not used since it was last looked at; a used one is moved to the
    /// back of the line with its mark cleared (the CLOCK algorithm). Pages of an older generation
    /// are never hit, so they go first in their turn.
    fn evict_one(&mut self) {
        while let Some((seq, key)) = self.order.pop_first() {
            let Some(cached) = self.map.get_mut(&key) else {
                continue;
            };
            if cached.used.swap(false, Ordering::Relaxed) {
                let seq = self.next_seq;
                self.next_seq += 1;
                cached.seq = seq;
                self.order.insert(seq, key);
                continue;
            }
            debug_assert_eq!(cached.seq, seq);
            self.remove_unordered(&key);
            return;
        }
    }

    /// Removes a page whose key is already out of `order`.
    fn remove_unordered(&mut self, key: &PageKey) {
        if let Some(old) = self.map.remove(key) {
            self.bytes -= old.bytes;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(n: usize, generation: u64) -> (PageKey, Arc<Rendered>) {
        let key = PageKey::Topic {
            topic: "news".into(),
            format: Format::Atom,
            page: PageRequest {
                limit: Some(n),
                before: None,
            },
        };
        // Distinct bytes per page, incompressible enough that each coding is about as large.
        let body: Vec<u8> = (0..4096u32)
            .map(|i| (i.wrapping_mul(2_654_435_761).wrapping_add(n as u32) >> 13) as u8)
            .collect();
        (
            key,
            Arc::new(Rendered::new(generation, "text/plain", body, 0)),
        )
    }

    #[test]
    fn render_cache_is_bounded_by_bytes_and_keeps_the_newest() {
        let cache = RenderCache::default();
        let (_, one) = page(0, 1);
        let per_page = one.bytes() + "news".len();
        // Room for ten pages.
        let budget = per_page * 10 + per_page / 2;
        for n in 1..=50 {
            let (key, rendered) = page(n, 1);
            cache.insert_within(key, rendered, budget);
            assert!(cache.bytes() <= budget, "after page {n}: {}", cache.bytes());
        }
        // Compressed sizes differ by a few bytes from page to page.
        assert!((9..=10).contains(&cache.len()), "{} pages", cache.len());
        let (newest, _) = page(50, 1);
        assert!(cache.get(&newest, 1).is_some(), "the newest page is kept");
        let (oldest, _) = page(1, 1);
        assert!(cache.get(&oldest, 1).is_none(), "the oldest page went");
    }

    #[test]
    fn pages_in_use_outlive_pages_asked_for_once() {
        let cache = RenderCache::default();
        let (_, one) = page(0, 1);
        let per_page = one.bytes() + "news".len();
        let budget = per_page * 4;
        let (hot, rendered) = page(1, 1);
        cache.insert_within(hot.clone(), rendered, budget);
        for n in 2..=40 {
            assert!(
                cache.get(&hot, 1).is_some(),
                "the hot page is kept (page {n})"
            );
            let (key, rendered) = page(n, 1);
            cache.insert_within(key, rendered, budget);
            assert!(cache.bytes() <= budget);
        }
    }

    #[test]
    fn a_page_larger_than_the_budget_is_not_kept() {
        let cache = RenderCache::default();
        let (small, rendered) = page(1, 1);
        cache.insert_within(small.clone(), rendered.clone(), rendered.bytes() * 2);
        let (big, rendered) = page(2, 1);
        cache.insert_within(big.clone(), rendered.clone(), rendered.bytes() / 2);
        assert!(cache.get(&big, 1).is_none());
        assert_eq!(cache.len(), 1, "nothing was evicted for it");
    }
}
