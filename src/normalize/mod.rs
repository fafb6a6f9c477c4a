//! Pure: a parsed feed, the URL it was fetched from and `now` → [`FeedMeta`] and [`NewEntry`]s.
//!
//! Owns entry identity within a source, sanitizing (ammonia: no active content, relative URLs made
//! absolute), the date policy, and the bounds on what one document may store: how many entries,
//! how large, how deeply nested, and no character XML 1.0 forbids. Does no I/O and never reads
//! the clock.

pub mod bound;
pub mod canonical;
pub mod language;
pub mod origin;

use std::borrow::Cow;
use std::cmp::Reverse;
use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};

use feed_rs::model::{Entry, Feed, Link, Text};
use url::Url;

use crate::model::{Enclosure, EntryKey, FeedMeta, NewEntry, Timestamp};
use crate::text::{
    comparable_html, escape_html, floor_char_boundary, fold_whitespace, hash_parts, html_to_text,
    into_xml_chars, xml_chars,
};

/// Dates before this (1995-01-01) are placeholders or parse accidents, not publication times.
const EARLIEST_PLAUSIBLE: Timestamp = 788_918_400;
/// A date more than a day ahead is a publisher's clock or time-zone error.
const FUTURE_SLACK: Timestamp = 24 * 60 * 60;

/// Titles, ids, links, names and the like are kept up to this many bytes. Real ones are far
/// shorter; a 10 MiB title would be copied into every page listing it.
pub const MAX_FIELD_BYTES: usize = 4096;
/// At most this much of a title's raw text or HTML is read before it is cut to
/// [`MAX_FIELD_BYTES`].
const MAX_RAW_FIELD_BYTES: usize = 16 * MAX_FIELD_BYTES;
/// Categories, authors and enclosures kept per entry, the first ones in document order. Each is
/// told apart from those before it, and 100,000 categories on one entry cost seconds.
pub const MAX_CATEGORIES: usize = 64;
pub const MAX_AUTHORS: usize = 32;
pub const MAX_ENCLOSURES: usize = 32;
pub use crate::config::{DEFAULT_MAX_ENTRIES, DEFAULT_MAX_ENTRY_SIZE};
/// Raw HTML read per summary or content, as a multiple of `max_entry_size`: sanitizing drops
/// scripts, styles and attributes, so what it keeps is often much shorter than what it reads.
const RAW_HTML_FACTOR: usize = 2;

/// What one document may put in the store (`[storage]` in feeds.toml).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Entries kept of one document, the newest (`max_entries_per_source`).
    pub max_entries: usize,
    /// Sanitized HTML kept of an entry's content, and of its summary (`max_entry_size`); longer is
    /// cut at an element boundary, with a note.
    pub max_entry_size: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_entries: DEFAULT_MAX_ENTRIES,
            max_entry_size: DEFAULT_MAX_ENTRY_SIZE,
        }
    }
}

/// The normalized form of one fetched document.
#[derive(Debug, Clone)]
pub struct NormalizedFeed {
    pub meta: FeedMeta,
    pub entries: Vec<NewEntry>,
    /// Entries exactly as the source sent them last time ([`Options::known`]), not normalized
    /// again: the key they are stored under and their publication time.
    pub unchanged: Vec<(EntryKey, Timestamp)>,
}

pub use crate::model::Identity;

/// Per-source settings of normalization.
#[derive(Debug, Clone)]
pub struct Options {
    pub identity: Identity,
    /// Query parameters to drop from canonical URLs, beyond [`canonical::TRACKING_PARAMS`].
    pub tracking_params: Vec<String>,
    pub limits: Limits,
    /// The item hashes ([`item_hash`]) of the entries the source's stored stories were made from,
    /// with the key each is stored under: an entry with one of them is not normalized again.
    pub known: HashMap<i64, EntryKey>,
    /// Whether entries' origins are looked for ([`origin`]): a republication's source element or
    /// credit line.
    pub origins: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            identity: Identity::default(),
            tracking_params: Vec::new(),
            limits: Limits::default(),
            known: HashMap::new(),
            origins: true,
        }
    }
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
    let sanitizer = Sanitizer::new(final_url.clone(), options.limits.max_entry_size);
    let feed_authors = person_names(&feed.authors);
    let feed_language = language(feed.language.as_deref());
    let published: Vec<Timestamp> = feed
        .entries
        .iter()
        .map(|entry| published_at(entry, now))
        .collect();
    // Only the newest are normalized at all: one document of 100,000 entries would otherwise be
    // sanitized and stored whole, to be pruned the next day.
    let kept = newest(&published, options.limits.max_entries);
    let mut unchanged = Vec::new();
    let mut seen_keys = HashSet::new();
    let context = item_context(final_url, options);
    let normalized = kept.iter().filter_map(|&position| {
        let entry = &feed.entries[position];
        let hash = item_hash(entry, context);
        if let Some(key) = options.known.get(&hash) {
            // The same item as last time: what was made of it is stored already.
            seen_keys.insert(key.clone());
            unchanged.push((key.clone(), published[position]));
            return None;
        }
        let mut normalized = normalize_entry(entry, final_url, &sanitizer, now, options);
        normalized.item_hash = Some(hash);
        // RFC 4287 §4.2.1: an entry without authors has those of its feed.
        if normalized.authors.is_empty() {
            normalized.authors = feed_authors.clone();
        }
        // An entry without a language of its own is in its feed's; when neither declares one,
        // its text tells, if it can tell with confidence.
        if normalized.language.is_none() {
            normalized.language = feed_language.clone();
        }
        if normalized.language.is_none() {
            let text = language::detection_text(
                &normalized.title,
                normalized.summary_html.as_deref(),
                normalized.content_html.as_deref(),
            );
            normalized.language = language::detect(&text).map(String::from);
        }
        Some((position, normalized))
    });
    let normalized: Vec<(usize, NewEntry)> = normalized.collect();
    let mut entries = Vec::with_capacity(normalized.len());
    for (position, mut normalized) in normalized {
        // A key repeated inside one document: the first keeps it, later ones are told apart by
        // their link, then by their position.
        // The published id follows, so that readers see distinct entries too.
        if !seen_keys.insert(normalized.key.clone()) {
            let by_link = normalized.canonical_url.as_ref().map(|l| EntryKey::link(l));
            match (by_link, &normalized.link) {
                (Some(k), Some(link)) if !seen_keys.contains(&k) => {
                    normalized.key = k;
                    normalized.public_id = link.clone();
                }
                _ => {
                    normalized.key = normalized.key.at_position(position);
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
        unchanged,
    }
}

/// Bumped whenever normalizing the same item would give a different result: every item is then
/// normalized once more.
const NORMALIZE_VERSION: u64 = 2;

/// What besides the item itself decides what normalizing it gives.
fn item_context(final_url: &Url, options: &Options) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    NORMALIZE_VERSION.hash(&mut hasher);
    final_url.as_str().hash(&mut hasher);
    options.identity.as_str().hash(&mut hasher);
    options.tracking_params.hash(&mut hasher);
    options.limits.max_entry_size.hash(&mut hasher);
    options.origins.hash(&mut hasher);
    hasher.finish()
}

/// A hash of everything normalizing reads of an item, and of `context` ([`item_context`]): an
/// item with the same hash normalizes to the same entry. Stored; std's hasher with its fixed keys
/// is stable from run to run, and should a Rust release change it, items only miss once and are
/// normalized again.
pub fn item_hash(entry: &Entry, context: u64) -> i64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    context.hash(&mut h);
    entry.id.hash(&mut h);
    let text = |h: &mut std::collections::hash_map::DefaultHasher, t: &Option<Text>| {
        if let Some(t) = t {
            t.content.hash(h);
            t.content_type.essence().to_string().hash(h);
            t.src.hash(h);
        }
        0u8.hash(h);
    };
    text(&mut h, &entry.title);
    text(&mut h, &entry.summary);
    text(&mut h, &entry.rights);
    if let Some(content) = &entry.content {
        content.body.hash(&mut h);
        content.content_type.essence().to_string().hash(&mut h);
        content.src.as_ref().map(|l| &l.href).hash(&mut h);
    }
    for link in &entry.links {
        (&link.href, &link.rel, &link.media_type, &link.title).hash(&mut h);
    }
    entry.published.map(|d| d.timestamp()).hash(&mut h);
    entry.updated.map(|d| d.timestamp()).hash(&mut h);
    for person in entry.authors.iter().chain(&entry.contributors) {
        (&person.name, &person.email, &person.uri).hash(&mut h);
    }
    for category in &entry.categories {
        (&category.term, &category.label).hash(&mut h);
    }
    for media in &entry.media {
        for content in &media.content {
            (content.url.as_ref().map(Url::as_str), &content.size).hash(&mut h);
            content
                .content_type
                .as_ref()
                .map(|m| m.to_string())
                .hash(&mut h);
        }
        media.title.as_ref().map(|t| &t.content).hash(&mut h);
    }
    entry.language.hash(&mut h);
    entry.base.hash(&mut h);
    entry.source.hash(&mut h);
    h.finish() as i64
}

/// Positions (in document order) of the `keep` newest entries, given each entry's publication
/// time: newest first by time, ties in document order.
pub fn newest(published: &[Timestamp], keep: usize) -> Vec<usize> {
    if published.len() <= keep {
        return (0..published.len()).collect();
    }
    let mut order: Vec<usize> = (0..published.len()).collect();
    order.sort_by_key(|&position| (Reverse(published[position]), position));
    order.truncate(keep);
    order.sort_unstable();
    order
}

fn feed_meta(feed: &Feed) -> FeedMeta {
    FeedMeta {
        title: feed
            .title
            .as_ref()
            .map(text_plain)
            .filter(|t| !t.is_empty()),
        site_url: alternate_link(&feed.links)
            .map(|l| into_xml_chars(l.href.clone()))
            .filter(|u| u.len() <= MAX_FIELD_BYTES),
        feed_id: Some(bounded_id(&xml_chars(feed.id.trim())).into_owned())
            .filter(|id| !id.is_empty()),
        language: language(feed.language.as_deref()),
    }
}

/// A declared language tag, normalized ([`language::normalized_tag`]).
fn language(tag: Option<&str>) -> Option<String> {
    tag.and_then(language::normalized_tag)
}

/// The language an entry declares: its own tag (Atom `xml:lang`, JSON Feed `language`), else the
/// `lang` on the outermost element of its raw content, else of its raw summary (read before
/// sanitizing, which drops the attribute).
fn entry_language(entry: &Entry) -> Option<String> {
    let html_lang = |body: &str, essence: String| {
        is_html(&essence)
            .then(|| language::content_lang(body))
            .flatten()
    };
    language(entry.language.as_deref())
        .or_else(|| {
            let content = entry.content.as_ref()?;
            html_lang(
                content.body.as_deref()?,
                content.content_type.essence().to_string(),
            )
        })
        .or_else(|| {
            let summary = entry.summary.as_ref()?;
            html_lang(&summary.content, summary.content_type.essence().to_string())
        })
}

/// An id (guid, feed id) of at most [`MAX_FIELD_BYTES`]: a longer one keeps its start and gains a
/// hash of the whole, so that it stays the same on every poll and distinct from its neighbours.
fn bounded_id(id: &str) -> Cow<'_, str> {
    if id.len() <= MAX_FIELD_BYTES {
        return Cow::Borrowed(id);
    }
    let hash = hash_parts(&[id]);
    let start = &id[..floor_char_boundary(id, MAX_FIELD_BYTES - 33)];
    Cow::Owned(format!("{start}#{}", &hash[..32]))
}

/// Plain text of at most [`MAX_FIELD_BYTES`], cut between characters with an ellipsis.
fn bounded_text(text: String) -> String {
    if text.len() <= MAX_FIELD_BYTES {
        return text;
    }
    let ellipsis = '…';
    let cut = &text[..floor_char_boundary(&text, MAX_FIELD_BYTES - ellipsis.len_utf8())];
    // Between words when there is a space near the end (scripts without spaces are cut anywhere).
    let cut = match cut.rfind(' ') {
        Some(space) if cut.len() - space < 64 => &cut[..space],
        _ => cut,
    };
    let mut cut = cut.trim_end().to_string();
    cut.push(ellipsis);
    cut
}

/// The start of `text`, at most `max` bytes.
fn prefix(text: &str, max: usize) -> &str {
    &text[..floor_char_boundary(text, max)]
}

/// When the publisher says the entry was published (else updated), or `now` when that cannot be
/// a real publication time.
fn published_at(entry: &Entry, now: Timestamp) -> Timestamp {
    entry
        .published
        .or(entry.updated)
        .map(|d| d.timestamp())
        .and_then(|t| plausible(t, now))
        .unwrap_or(now)
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
    // A link too long to keep is dropped rather than cut: a cut URL leads nowhere.
    let link = alternate_link(&entry.links)
        .and_then(|l| base.join(l.href.trim()).ok())
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.as_str().len() <= MAX_FIELD_BYTES)
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
                sanitizer.plain(body)
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
    let guid = xml_chars(entry.id.trim());
    let guid = bounded_id(&guid);
    let guid = guid.as_ref();
    let by_guid = (!guid.is_empty()).then(|| (EntryKey::guid(guid), guid.to_string()));
    let by_link = canonical_url
        .as_ref()
        .zip(link.as_ref())
        .map(|(canonical, link)| (EntryKey::link(canonical), link.clone()));
    let by_content = || {
        let short = text_hash();
        // The public id also names the document, so that two sources carrying identical text
        // still publish distinct ids.
        let public = hash_parts(&[final_url.as_str(), &short]);
        (
            EntryKey::content(&short),
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

    let published = published_at(entry, now);
    let updated = entry
        .updated
        .map(|d| d.timestamp())
        .and_then(|t| plausible(t, now));

    let authors = person_names(&entry.authors);
    let mut categories: Vec<String> = Vec::new();
    for c in &entry.categories {
        if categories.len() == MAX_CATEGORIES {
            break;
        }
        let name = c.label.as_deref().unwrap_or(&c.term).trim();
        let name = bounded_text(xml_chars(prefix(name, MAX_RAW_FIELD_BYTES)).into_owned());
        if !name.is_empty() && !categories.contains(&name) {
            categories.push(name);
        }
    }

    let folded =
        crate::text::FoldedFields::new(&title, summary_html.as_deref(), content_html.as_deref());
    // The fingerprint reads the title without outlet labels and the start of the content (else
    // of the summary) without the lines outlets add.
    let story = crate::dedup::text::SignatureText::from_folded(
        &title,
        &folded,
        summary_html.as_deref(),
        content_html.as_deref(),
    );
    let signature =
        crate::dedup::fingerprint::signature_of_folded(&story.folded_title, &story.body);
    let title_numbers = crate::dedup::fingerprint::title_numbers_of_folded(&story.folded_title);
    let likeness = crate::model::Likeness {
        title_key: crate::dedup::text::title_key(&story.folded_title),
        clean_title: story.title,
    };
    let search_text = folded.search_text();
    let origin = options
        .origins
        .then(|| {
            origin::find_origin(
                entry,
                &base,
                canonical_url.as_deref(),
                summary_html.as_deref(),
                content_html.as_deref(),
                &options.tracking_params,
            )
        })
        .flatten();
    NewEntry {
        signature,
        title_numbers,
        likeness,
        item_hash: None,
        origin,
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
        language: entry_language(entry),
        published,
        updated,
        content_hash,
    }
}

fn person_names(people: &[feed_rs::model::Person]) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for name in people.iter().filter_map(|p| p.name.as_deref()) {
        if names.len() == MAX_AUTHORS {
            break;
        }
        let name = fold_whitespace(prefix(name, MAX_RAW_FIELD_BYTES));
        let name = bounded_text(into_xml_chars(name));
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
        let url = url.filter(|u| {
            matches!(u.scheme(), "http" | "https") && u.as_str().len() <= MAX_FIELD_BYTES
        });
        if let Some(url) = url {
            let url = String::from(url);
            if out.len() < MAX_ENCLOSURES && !out.iter().any(|e| e.url == url) {
                let media_type = media_type
                    .map(into_xml_chars)
                    .filter(|m| m.len() <= MAX_FIELD_BYTES);
                out.push(Enclosure {
                    url,
                    media_type,
                    length,
                });
            }
        }
    };
    let links = entry
        .links
        .iter()
        .filter(|l| l.rel.as_deref() == Some("enclosure"));
    // Enough candidates to fill the list even when some repeat or are not http(s), and no more.
    for link in links.take(4 * MAX_ENCLOSURES) {
        push(
            base.join(link.href.trim()).ok(),
            link.media_type.clone(),
            link.length,
        );
    }
    let media = entry.media.iter().flat_map(|m| &m.content);
    for content in media.take(4 * MAX_ENCLOSURES) {
        push(
            content.url.clone(),
            content.content_type.as_ref().map(|m| m.to_string()),
            content.size,
        );
    }
    out
}

fn is_html(essence: &str) -> bool {
    matches!(
        essence,
        "text/html" | "application/xhtml+xml" | "application/xhtml" | "html" | "xhtml"
    )
}

/// A title: plain text of at most [`MAX_FIELD_BYTES`] with only characters XML allows.
fn text_plain(text: &Text) -> String {
    let raw = prefix(&text.content, MAX_RAW_FIELD_BYTES);
    let plain = if is_html(text.content_type.essence().to_string().as_str()) {
        html_to_text(&bound::bound_markup(raw, bound::MAX_DEPTH, usize::MAX).0)
    } else {
        fold_whitespace(raw)
    };
    bounded_text(into_xml_chars(plain))
}

fn text_html(text: &Text, sanitizer: &Sanitizer, base: &Url) -> String {
    if is_html(text.content_type.essence().to_string().as_str()) {
        sanitizer.clean(&text.content, base)
    } else {
        sanitizer.plain(&text.content)
    }
}

/// `html` when it is text only: no tag, entity, carriage return or NUL, which are the only things
/// the HTML parser would read as anything but the same characters.
fn plain_html(html: &str) -> Option<&str> {
    (!html.contains(['<', '&', '\r', '\0'])).then_some(html)
}

const FLATTENED_NOTE: &str = "<p><em>[Tributary flattened markup of this entry that was nested too deeply; its text is kept.]</em></p>";

/// What an entry's HTML says when [`bound`] had to change it; written after sanitizing, so it is
/// ours and well formed.
fn bound_note(bounded: bound::Bounded, max_bytes: usize) -> String {
    let mut note = String::new();
    if bounded.flattened {
        note.push_str(FLATTENED_NOTE);
    }
    if bounded.cut {
        note.push_str(&format!(
            "<p><em>[…] Tributary cut the rest of this entry: it is longer than {}.</em></p>",
            size_text(max_bytes)
        ));
    }
    note
}

/// A size as an operator wrote it in feeds.toml: `1 MiB`, `512 KiB`, `1000 bytes`.
fn size_text(bytes: usize) -> String {
    const KIB: usize = 1024;
    match bytes {
        b if b >= KIB * KIB && b % (KIB * KIB) == 0 => format!("{} MiB", b / (KIB * KIB)),
        b if b >= KIB && b % KIB == 0 => format!("{} KiB", b / KIB),
        b => format!("{b} bytes"),
    }
}

/// ammonia with relative URLs rewritten against the document's (or the entry's `xml:base`) URL.
/// Its defaults already drop script, style, iframe, form, event handlers and any URL scheme other
/// than http(s), mailto and the like (so `javascript:` and `data:` go).
///
/// Markup reaches ammonia only within [`bound`]'s depth and size limits, and what it returns is
/// cut to `max_bytes`, so one entry costs a bounded amount of work and storage.
struct Sanitizer {
    feed_base: Url,
    feed_builder: ammonia::Builder<'static>,
    max_bytes: usize,
}

impl Sanitizer {
    fn new(feed_base: Url, max_bytes: usize) -> Sanitizer {
        let feed_builder = Self::builder(feed_base.clone());
        Sanitizer {
            feed_base,
            feed_builder,
            max_bytes,
        }
    }

    fn builder(base: Url) -> ammonia::Builder<'static> {
        let mut builder = ammonia::Builder::default();
        builder
            .url_relative(ammonia::UrlRelative::RewriteWithBase(base))
            .link_rel(Some("noopener noreferrer nofollow"));
        builder
    }

    /// Sanitized HTML of an HTML field.
    fn clean(&self, html: &str, base: &Url) -> String {
        // Many feeds declare plain text as HTML: without markup or entities there is nothing to
        // sanitize, and the answer is what ammonia would give (see `plain_html`).
        if let Some(text) = plain_html(html) {
            return self.plain_text_html(text, html.len());
        }
        let raw_limit = self.max_bytes.saturating_mul(RAW_HTML_FACTOR);
        let (html, bounded) = bound::bound_markup(html, bound::MAX_DEPTH, raw_limit);
        let sanitized = self.sanitize(&html, base);
        self.finish(sanitized, bounded)
    }

    /// HTML of a plain-text field.
    fn plain(&self, text: &str) -> String {
        // Escaping can only lengthen the text: what lies past the limit is never kept.
        let kept = prefix(text, self.max_bytes);
        let bounded = bound::Bounded {
            cut: kept.len() < text.len(),
            ..Default::default()
        };
        self.finish(escape_html(kept.trim()), bounded)
    }

    /// [`Sanitizer::clean`] of HTML that is only text: escaped as html5ever serializes text.
    fn plain_text_html(&self, text: &str, raw_len: usize) -> String {
        let raw_limit = self.max_bytes.saturating_mul(RAW_HTML_FACTOR);
        let kept = prefix(text, raw_limit);
        let bounded = bound::Bounded {
            cut: kept.len() < raw_len,
            ..Default::default()
        };
        let mut html = String::with_capacity(kept.len() + 16);
        for c in kept.chars() {
            match c {
                '>' => html.push_str("&gt;"),
                '\u{a0}' => html.push_str("&nbsp;"),
                c => html.push(c),
            }
        }
        self.finish(html, bounded)
    }

    /// Without characters XML forbids, cut to `max_bytes`, with a note on what was changed.
    fn finish(&self, html: String, mut bounded: bound::Bounded) -> String {
        let mut html = into_xml_chars(html);
        if let Some(cut) = bound::cut_sanitized(&html, self.max_bytes) {
            html = cut;
            bounded.cut = true;
        }
        if bounded != bound::Bounded::default() {
            html.push_str(&bound_note(bounded, self.max_bytes));
        }
        html
    }

    fn sanitize(&self, html: &str, base: &Url) -> String {
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
