//! The render cache: each (topic, format, page) rendered once per store generation, with every
//! coding's body and the response headers made up front, so that a request for a current page
//! is a map lookup and a few reference-count increments. Bounded, so that clients asking for
//! many distinct pages (hostile cursors) cannot grow memory without limit.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use axum::body::Bytes;
use axum::http::HeaderValue;

use super::encoding::{self, Coding};
use super::paging::PageRequest;
use crate::model::Timestamp;
use crate::publish::Format;

/// At most this many pages are kept (a few MiB: each is one feed document in three codings).
pub const MAX_PAGES: usize = 512;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PageKey {
    pub topic: String,
    pub format: Format,
    pub page: PageRequest,
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
        format: Format,
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
            content_type: HeaderValue::from_static(format.media_type()),
            variants,
        }
    }

    pub fn variant(&self, coding: Coding) -> &Variant {
        &self.variants[coding.index()]
    }

    pub fn etags(&self) -> impl Iterator<Item = &str> + Clone {
        self.variants.iter().map(|v| v.etag.as_str())
    }
}

/// Rendered pages by key. Reads (every request) take a shared lock; only a render writes.
#[derive(Default)]
pub struct RenderCache {
    pages: RwLock<HashMap<PageKey, Arc<Rendered>>>,
}

impl RenderCache {
    /// The cached page for `key` if it was rendered at `generation`.
    pub fn get(&self, key: &PageKey, generation: u64) -> Option<Arc<Rendered>> {
        self.pages
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(key)
            .filter(|r| r.generation == generation)
            .cloned()
    }

    pub fn insert(&self, key: PageKey, rendered: Arc<Rendered>) {
        let mut pages = self
            .pages
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if pages.len() >= MAX_PAGES && !pages.contains_key(&key) {
            // Pages of an older generation go first; failing that, any page (the map's order is
            // as good as random, and a re-render is cheap next to unbounded growth).
            let current = rendered.generation;
            pages.retain(|_, r| r.generation == current);
            if pages.len() >= MAX_PAGES
                && let Some(victim) = pages.keys().next().cloned()
            {
                pages.remove(&victim);
            }
        }
        pages.insert(key, rendered);
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.pages
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .len()
    }
}
