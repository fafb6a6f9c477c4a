//! Pure: a parsed feed, the URL it was fetched from and `now` → [`FeedMeta`] and [`NewEntry`]s.
//!
//! Owns entry identity within a source, sanitizing (ammonia: no active content, relative URLs made
//! absolute) and the date policy. Does no I/O and never reads the clock.

pub mod canonical;
pub mod fingerprint;

use std::collections::HashSet;

use feed_rs::model::{Entry, Feed, Link, Text};
use url::Url;

use crate::model::{Enclosure, FeedMeta, NewEntry, Timestamp};
use crate::text::{comparable_html, escape_html, fold_whitespace, hash_parts, html_to_text};

/// Dates before this (1995-01-01) are placeholders or parse accidents, not publication times.
const EARLIEST_PLAUSIBLE: Timestamp = 788_918_400;
/// A date more than a day ahead is a publisher's clock or time-zone error.
const FUTURE_SLACK: Timestamp = 24 * 60 * 60;

/// The normalized form of one fetched document.
#[derive(Debug, Clone)]
pub struct NormalizedFeed {
    pub meta: FeedMeta,
    pub entries: Vec<NewEntry>,
}

/// How a source's entries are told apart (`identity` in feeds.toml).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Identity {
    /// The publisher's guid/id, else the canonical link, else a hash of title and text.
    #[default]
    Auto,
    Guid,
    /// The canonical link (for sources whose guids change on every fetch).
    Link,
    /// A hash of title and text.
    Content,
}

impl Identity {
    pub fn parse(text: &str) -> Option<Identity> {
        match text {
            "guid" => Some(Identity::Guid),
            "link" => Some(Identity::Link),
            "content" => Some(Identity::Content),
            "auto" => Some(Identity::Auto),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Identity::Auto => "auto",
            Identity::Guid => "guid",
            Identity::Link => "link",
            Identity::Content => "content",
        }
    }
}

/// Per-source settings of normalization.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub identity: Identity,
    /// Query parameters to drop from canonical URLs, beyond [`canonical::TRACKING_PARAMS`].
    pub tracking_params: Vec<String>,
}

pub fn normalize(feed: &Feed, final_url: &Url, now: Timestamp) -> NormalizedFeed {
    normalize_with(feed, final_url, now, &Options::default())
}

pub fn normalize_with(
    feed: &Feed,
    final_url: &Url,
    now: Timestamp,
    options: &Options,
) -> NormalizedFeed {
    let sanitizer = Sanitizer::new(final_url.clone());
    let feed_authors = person_names(&feed.authors);
    let feed_language = feed.language.clone().filter(|l| !l.trim().is_empty());
    let normalized = feed.entries.iter().map(|entry| {
        let mut normalized = normalize_entry(entry, final_url, &sanitizer, now, options);
        // RFC 4287 §4.2.1: an entry without authors has those of its feed.
        if normalized.authors.is_empty() {
            normalized.authors = feed_authors.clone();
        }
        // An entry without a language of its own is in its feed's.
        if normalized.language.is_none() {
            normalized.language = feed_language.clone();
        }
        normalized
    });
    let mut seen_keys = HashSet::new();
    let mut entries = Vec::with_capacity(feed.entries.len());
    for (position, mut normalized) in normalized.enumerate() {
        // A key repeated inside one document: the first keeps it, later ones are told apart by
        // their link, then by their position.
        // The published id follows, so that readers see distinct entries too.
        if !seen_keys.insert(normalized.key.clone()) {
            let by_link = normalized
                .canonical_url
                .as_ref()
                .map(|l| format!("link:{l}"));
            match (by_link, &normalized.link) {
                (Some(k), Some(link)) if !seen_keys.contains(&k) => {
                    normalized.key = k;
                    normalized.public_id = link.clone();
                }
                _ => {
                    normalized.key = format!("{}#{position}", normalized.key);
                    normalized.public_id = format!("{}#{position}", normalized.public_id);
                }
            }
            seen_keys.insert(normalized.key.clone());
        }
        entries.push(normalized);
    }
    NormalizedFeed {
        meta: feed_meta(feed),
        entries,
    }
}

fn feed_meta(feed: &Feed) -> FeedMeta {
    FeedMeta {
        title: feed
            .title
            .as_ref()
            .map(text_plain)
            .filter(|t| !t.is_empty()),
        site_url: alternate_link(&feed.links).map(|l| l.href.clone()),
        feed_id: Some(feed.id.trim().to_string()).filter(|id| !id.is_empty()),
        language: feed.language.clone().filter(|l| !l.trim().is_empty()),
    }
}

fn normalize_entry(
    entry: &Entry,
    final_url: &Url,
    sanitizer: &Sanitizer,
    now: Timestamp,
    options: &Options,
) -> NewEntry {
    let base = entry
        .base
        .as_deref()
        .and_then(|b| final_url.join(b).ok())
        .unwrap_or_else(|| final_url.clone());
    let link = alternate_link(&entry.links)
        .and_then(|l| base.join(l.href.trim()).ok())
        .filter(|u| matches!(u.scheme(), "http" | "https"))
        .map(String::from);
    let title = entry.title.as_ref().map(text_plain).unwrap_or_default();
    let summary_html = entry
        .summary
        .as_ref()
        .map(|t| text_html(t, sanitizer, &base))
        .filter(|h| !h.trim().is_empty());
    let content_html = entry
        .content
        .as_ref()
        .and_then(|c| {
            let body = c.body.as_deref()?;
            Some(if is_html(c.content_type.essence().to_string().as_str()) {
                sanitizer.clean(body, &base)
            } else {
                plain_to_html(body)
            })
        })
        .filter(|h| !h.trim().is_empty());

    let canonical_url = link
        .as_deref()
        .and_then(|l| canonical::canonical_url(l, &options.tracking_params));
    // What a reader sees, with trivial differences (white space, attribute order, tracking
    // parameters on the link) ironed out: a change of this hash is an update.
    let content_hash = hash_parts(&[
        &fold_whitespace(&title),
        canonical_url.as_deref().unwrap_or(""),
        &comparable_html(summary_html.as_deref().unwrap_or("")),
        &comparable_html(content_html.as_deref().unwrap_or("")),
    ]);
    let text_hash = || {
        let hash = hash_parts(&[
            &title,
            summary_html.as_deref().unwrap_or(""),
            content_html.as_deref().unwrap_or(""),
        ]);
        hash[..32].to_string()
    };
    let guid = entry.id.trim();
    let by_guid = (!guid.is_empty()).then(|| (format!("guid:{guid}"), guid.to_string()));
    let by_link = canonical_url
        .as_ref()
        .zip(link.as_ref())
        .map(|(canonical, link)| (format!("link:{canonical}"), link.clone()));
    let by_content = || {
        let short = text_hash();
        // The public id also names the document, so that two sources carrying identical text
        // still publish distinct ids.
        let public = hash_parts(&[final_url.as_str(), &short]);
        (
            format!("hash:{short}"),
            format!("urn:tributary:{}", &public[..32]),
        )
    };
    let (key, public_id) = match options.identity {
        Identity::Auto | Identity::Guid => by_guid.or(by_link).unwrap_or_else(by_content),
        // The published id stays the publisher's even when identity follows the link.
        Identity::Link => match (by_link, by_guid) {
            (Some((key, _)), Some((_, id))) => (key, id),
            (Some(link), None) => link,
            (None, guid) => guid.unwrap_or_else(by_content),
        },
        Identity::Content => {
            let (key, generated) = by_content();
            (key, by_guid.map(|(_, id)| id).unwrap_or(generated))
        }
    };

    let published = entry
        .published
        .or(entry.updated)
        .map(|d| d.timestamp())
        .and_then(|t| plausible(t, now))
        .unwrap_or(now);
    let updated = entry
        .updated
        .map(|d| d.timestamp())
        .and_then(|t| plausible(t, now));

    let authors = person_names(&entry.authors);
    let mut categories: Vec<String> = Vec::new();
    for c in &entry.categories {
        let name = c.label.as_deref().unwrap_or(&c.term).trim().to_string();
        if !name.is_empty() && !categories.contains(&name) {
            categories.push(name);
        }
    }

    let folded =
        crate::text::FoldedFields::new(&title, summary_html.as_deref(), content_html.as_deref());
    // The fingerprint reads the start of the content, else of the summary.
    let body = if content_html.is_some() {
        &folded.content
    } else {
        &folded.summary
    };
    let signature = fingerprint::signature_of_folded(&folded.title, body);
    let title_numbers = fingerprint::title_numbers_of_folded(&folded.title);
    let search_text = folded.search_text();
    NewEntry {
        signature,
        title_numbers,
        folded,
        search_text,
        topics: Vec::new(),
        key,
        public_id,
        link,
        canonical_url,
        title,
        summary_html,
        content_html,
        authors,
        categories,
        enclosures: enclosures(entry, &base),
        language: entry.language.clone().filter(|l| !l.trim().is_empty()),
        published,
        updated,
        content_hash,
    }
}

fn person_names(people: &[feed_rs::model::Person]) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for name in people.iter().filter_map(|p| p.name.as_deref()) {
        let name = crate::text::fold_whitespace(name);
        if !name.is_empty() && !names.contains(&name) {
            names.push(name);
        }
    }
    names
}

/// A publisher's date, or `None` when it cannot be a real publication time.
fn plausible(t: Timestamp, now: Timestamp) -> Option<Timestamp> {
    (EARLIEST_PLAUSIBLE..=now + FUTURE_SLACK)
        .contains(&t)
        .then_some(t)
}

/// The link a reader follows: `alternate` (or no rel), never `self`, `enclosure` and the like.
fn alternate_link(links: &[Link]) -> Option<&Link> {
    links
        .iter()
        .find(|l| matches!(l.rel.as_deref(), None | Some("alternate")) && !l.href.trim().is_empty())
}

fn enclosures(entry: &Entry, base: &Url) -> Vec<Enclosure> {
    let mut out: Vec<Enclosure> = Vec::new();
    let mut push = |url: Option<Url>, media_type: Option<String>, length: Option<u64>| {
        if let Some(url) = url.filter(|u| matches!(u.scheme(), "http" | "https")) {
            let url = String::from(url);
            if !out.iter().any(|e| e.url == url) {
                out.push(Enclosure {
                    url,
                    media_type,
                    length,
                });
            }
        }
    };
    for link in entry
        .links
        .iter()
        .filter(|l| l.rel.as_deref() == Some("enclosure"))
    {
        push(
            base.join(link.href.trim()).ok(),
            link.media_type.clone(),
            link.length,
        );
    }
    for media in &entry.media {
        for content in &media.content {
            push(
                content.url.clone(),
                content.content_type.as_ref().map(|m| m.to_string()),
                content.size,
            );
        }
    }
    out
}

fn is_html(essence: &str) -> bool {
    matches!(
        essence,
        "text/html" | "application/xhtml+xml" | "application/xhtml" | "html" | "xhtml"
    )
}

fn text_plain(text: &Text) -> String {
    if is_html(text.content_type.essence().to_string().as_str()) {
        html_to_text(&text.content)
    } else {
        crate::text::fold_whitespace(&text.content)
    }
}

fn text_html(text: &Text, sanitizer: &Sanitizer, base: &Url) -> String {
    if is_html(text.content_type.essence().to_string().as_str()) {
        sanitizer.clean(&text.content, base)
    } else {
        plain_to_html(&text.content)
    }
}

fn plain_to_html(text: &str) -> String {
    escape_html(text.trim())
}

/// ammonia with relative URLs rewritten against the document's (or the entry's `xml:base`) URL.
/// Its defaults already drop script, style, iframe, form, event handlers and any URL scheme other
/// than http(s), mailto and the like (so `javascript:` and `data:` go).
struct Sanitizer {
    feed_base: Url,
    feed_builder: ammonia::Builder<'static>,
}

impl Sanitizer {
    fn new(feed_base: Url) -> Sanitizer {
        let feed_builder = Self::builder(feed_base.clone());
        Sanitizer {
            feed_base,
            feed_builder,
        }
    }

    fn builder(base: Url) -> ammonia::Builder<'static> {
        let mut builder = ammonia::Builder::default();
        builder
            .url_relative(ammonia::UrlRelative::RewriteWithBase(base))
            .link_rel(Some("noopener noreferrer nofollow"));
        builder
    }

    fn clean(&self, html: &str, base: &Url) -> String {
        let document = if *base == self.feed_base {
            self.feed_builder.clean(html)
        } else {
            Self::builder(base.clone()).clean(html)
        };
        // Serialized straight into a buffer of about the right size (`to_string` goes through
        // `Display`, which serializes into a growing buffer and then copies it again). Links
        // gain a `rel` and absolute URLs, so the output can be longer than the input.
        let mut out = Vec::with_capacity(html.len() + html.len() / 4 + 64);
        if document.write_to(&mut out).is_err() {
            return String::new();
        }
        // html5ever writes UTF-8 only; a failure here would drop the text rather than panic.
        String::from_utf8(out).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests;
