//! Thin adapter over feed-rs: raw bytes in, a parsed feed out, with the final URL as base URI.
//!
//! feed-rs invents an id (possibly a random UUID) for entries that have none; we install an id
//! generator that leaves such ids empty so that `normalize` can tell "the publisher gave no id"
//! apart and derive a stable identity of its own.
//!
//! Before feed-rs sees a document it is decoded to UTF-8 (`decode`), old formats, roots and
//! shapes are brought to the ones feed-rs reads (`upgrade`), and when it still does not parse,
//! common mistakes are repaired (`recover`) and it is tried once more; what still fails is
//! reported with its line and column. After it parsed, entry text in elements feed-rs ignores is
//! added (`carriers`), so are entries' source elements (`sources`), and a document with entry
//! elements but no entries gets a warning rather than passing for an empty feed.

mod carriers;
mod dates;
pub(crate) mod decode;
mod json;
mod recover;
mod sources;
mod upgrade;

pub use dates::parse_date;

use feed_rs::model::Feed;
use url::Url;

#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    #[error("not a feed: HTML page{}", .advertised.as_ref().map(|u| format!(" (it advertises a feed at {u}; use that URL)")).unwrap_or_default())]
    HtmlPage { advertised: Option<String> },
    #[error("not a feed: empty document")]
    Empty,
    #[error("not a feed: {0}")]
    Invalid(String),
}

/// A parsed document, and what about it deserves the operator's attention although it parsed.
#[derive(Debug, Clone)]
pub struct ParsedFeed {
    pub feed: Feed,
    /// Set when the document yielded no entries although its text has `<item>` or `<entry>`
    /// elements: a format or namespace we do not read, which would otherwise pass for an empty
    /// feed.
    pub warning: Option<String>,
}

/// Parses a feed document (RSS 0.9x/1.0/2.0, Atom, JSON Feed) from its raw bytes, as served with
/// `content_type` (whose `charset` is a hint for undeclared legacy encodings).
pub fn parse_feed(body: &[u8], base: &Url, content_type: Option<&str>) -> Result<Feed, ParseError> {
    parse_document(body, base, content_type).map(|parsed| parsed.feed)
}

/// [`parse_feed`], with the warning a document that parsed may deserve.
pub fn parse_document(
    body: &[u8],
    base: &Url,
    content_type: Option<&str>,
) -> Result<ParsedFeed, ParseError> {
    let start = body
        .iter()
        .position(|b| !b.is_ascii_whitespace() && *b != 0xEF && *b != 0xBB && *b != 0xBF)
        .unwrap_or(body.len());
    if start == body.len() {
        return Err(ParseError::Empty);
    }
    // A fresh parser for every attempt: feed-rs keeps per-document state in its parser and does
    // not reset it after an error. A panic inside feed-rs on hostile input is a parse failure of
    // that document, not of the daemon.
    let parse = |bytes: &[u8]| -> Result<Feed, String> {
        let parser = feed_rs::parser::Builder::new()
            .base_uri(Some(base.as_str()))
            .id_generator(|_links, _title, _uri| String::new())
            .sanitize_content(false)
            .timestamp_parser(dates::parse_date)
            .build();
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| parser.parse(bytes))) {
            Ok(result) => result.map_err(|e| e.to_string()),
            Err(_) => Err("the feed parser failed on this document".into()),
        }
    };
    if body[start] == b'{' {
        let reading = json::read_json_feed(body);
        return parse(reading.rewritten.as_deref().unwrap_or(body))
            .map(|mut feed| {
                with_languages(&mut feed, reading.item_languages);
                ParsedFeed {
                    feed,
                    warning: None,
                }
            })
            .map_err(ParseError::Invalid);
    }
    let decoded = decode::decode(body, content_type.and_then(charset_of));
    if decoded.encoding != "UTF-8" {
        tracing::debug!(url = %base, encoding = decoded.encoding, "decoded a legacy encoding");
    }
    // One search of the document for the tag names that the passes after decoding look for.
    let tags = TagSurvey::of(&decoded.text);
    let text = upgrade::upgrade_legacy(&decoded.text, tags.nested_entries);
    let text = text.as_deref().unwrap_or(&decoded.text);
    let first_error = match parse(text.as_bytes()) {
        Ok(feed) => return Ok(checked(read_document(feed, text, base, tags), text)),
        Err(e) => e,
    };
    if looks_like_html(text.trim_start().as_bytes()) {
        return Err(ParseError::HtmlPage {
            advertised: advertised_feed(text.as_bytes(), base),
        });
    }
    let repaired = recover::repair_xml(text);
    if let Some(repaired) = &repaired {
        if let Ok(feed) = parse(repaired.as_bytes()) {
            return Ok(checked(read_document(feed, repaired, base, tags), repaired));
        }
    }
    let located = recover::locate_error(repaired.as_deref().unwrap_or(text));
    Err(ParseError::Invalid(match located {
        Some((line, column, why)) => format!("{first_error} (line {line}, column {column}: {why})"),
        None => first_error,
    }))
}

/// The start and end tags named by a literal `names` finds (`item|entry`). Searching for the
/// literal names lets the regex engine skip ahead with SIMD instead of stopping at every `<`, and
/// the few hits are then checked to be tag names (optionally prefixed, `<rss:item>`).
pub(super) fn tags_named<'t>(
    text: &'t str,
    names: &'t regex::Regex,
) -> impl Iterator<Item = TagHit<'t>> + 't {
    let bytes = text.as_bytes();
    names.find_iter(text).filter_map(move |hit| {
        let after = bytes.get(hit.end()).copied();
        if !matches!(after, Some(b'>' | b'/' | b' ' | b'\t' | b'\n' | b'\r')) {
            return None;
        }
        let mut start = hit.start();
        let prefixed = start > 0 && bytes[start - 1] == b':';
        // A prefix: name characters back to a `:`.
        if prefixed {
            start -= 1;
            while start > 0
                && (bytes[start - 1].is_ascii_alphanumeric()
                    || matches!(bytes[start - 1], b'_' | b'-' | b'.'))
            {
                start -= 1;
            }
        }
        match (
            start.checked_sub(1).map(|i| bytes[i]),
            start.checked_sub(2).map(|i| bytes[i]),
        ) {
            (Some(closing @ b'/'), Some(b'<')) | (Some(closing @ b'<'), _) => Some(TagHit {
                name: hit.as_str(),
                closing: closing == b'/',
                self_closing: closing == b'<' && after == Some(b'/'),
                prefixed,
            }),
            _ => None,
        }
    })
}

/// What one search for tag names found in a document: whether entries nest, and whether
/// elements that may carry entry text feed-rs ignores are there (see `carriers`). Rewriting in
/// `upgrade` or `recover` neither adds nor removes such tags, so the decoded text is searched
/// once.
#[derive(Debug, Clone, Copy, Default)]
struct TagSurvey {
    /// An `<item>`/`<entry>` starts before the previous one ended.
    nested_entries: bool,
    /// A `<body>` (any prefix) or `<fullitem>`.
    body_or_fullitem: bool,
    /// An unprefixed `<content>` or `<summary>` (RSS's own; feed-rs reads Atom's).
    unprefixed_content_or_summary: bool,
    /// A `<source>` (any prefix: `dc:source` too), which feed-rs does not read.
    source: bool,
}

impl TagSurvey {
    fn of(text: &str) -> TagSurvey {
        static NAMES: std::sync::LazyLock<Option<regex::Regex>> = std::sync::LazyLock::new(|| {
            literal_names("item|entry|body|fullitem|content|summary|source")
        });
        // Without the pattern (it is a constant, so it compiles), every pass runs.
        let Some(names) = NAMES.as_ref() else {
            return TagSurvey {
                nested_entries: true,
                body_or_fullitem: true,
                unprefixed_content_or_summary: true,
                source: true,
            };
        };
        let mut survey = TagSurvey::default();
        let mut depth = 0usize;
        for tag in tags_named(text, names) {
            match tag.name {
                "item" | "entry" if tag.closing => depth = depth.saturating_sub(1),
                "item" | "entry" if !tag.self_closing => {
                    depth += 1;
                    survey.nested_entries |= depth > 1;
                }
                "body" | "fullitem" => survey.body_or_fullitem |= !tag.closing,
                "content" | "summary" => {
                    survey.unprefixed_content_or_summary |= !tag.closing && !tag.prefixed
                }
                "source" => survey.source |= !tag.closing,
                _ => {}
            }
        }
        survey
    }
}

/// One tag found by [`tags_named`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct TagHit<'t> {
    /// The local name.
    pub name: &'t str,
    /// An end tag (`</item>`).
    pub closing: bool,
    /// Closed right after its name (`<item/>`).
    pub self_closing: bool,
    /// Written with a prefix (`<rss:item>`).
    pub prefixed: bool,
}

/// A regex for a constant alternation of literal names; `None` never happens in practice.
pub(super) fn literal_names(pattern: &str) -> Option<regex::Regex> {
    regex::Regex::new(pattern).ok()
}

/// The feed with a warning when it has no entries while `text` has entry elements.
fn checked(feed: Feed, text: &str) -> ParsedFeed {
    let warning = if feed.entries.is_empty() {
        let (items, entries) = entry_elements(text);
        match (items, entries) {
            (0, 0) => None,
            (items, 0) => Some(format!(
                "no entries read, although the document has {items} <item> element{}",
                if items == 1 { "" } else { "s" }
            )),
            (0, entries) => Some(format!(
                "no entries read, although the document has {entries} <entry> element{}",
                if entries == 1 { "" } else { "s" }
            )),
            (items, entries) => Some(format!(
                "no entries read, although the document has {items} <item> and {entries} <entry> elements"
            )),
        }
    } else {
        None
    };
    ParsedFeed { feed, warning }
}

/// How many `<item>` and `<entry>` start tags (with any prefix) the text has.
fn entry_elements(text: &str) -> (usize, usize) {
    let (mut items, mut entries) = (0, 0);
    let Some(names) = literal_names("item|entry") else {
        return (0, 0);
    };
    for tag in tags_named(text, &names) {
        match (tag.name, tag.closing) {
            ("item", false) => items += 1,
            ("entry", false) => entries += 1,
            _ => {}
        }
    }
    (items, entries)
}

/// What feed-rs does not take from the document itself: entry text in elements it ignores,
/// entries' source elements, and `xml:base`.
fn read_document(mut feed: Feed, text: &str, base: &Url, tags: TagSurvey) -> Feed {
    let atom = matches!(feed.feed_type, feed_rs::model::FeedType::Atom);
    if tags.body_or_fullitem || (!atom && tags.unprefixed_content_or_summary) {
        carriers::apply(&mut feed, text);
    }
    if tags.source {
        sources::apply(&mut feed, text);
    }
    if atom {
        with_languages(&mut feed, entry_xml_langs(text));
    }
    with_document_base(feed, text, base)
}

/// Gives each entry that has no language of its own from feed-rs the one found for it in the
/// document (`languages`, one per entry element in document order). Entries are matched by
/// position, so nothing is given when the counts differ.
fn with_languages(feed: &mut Feed, languages: Vec<Option<String>>) {
    if languages.is_empty() {
        return;
    }
    for (entry, language) in by_position(feed, languages, "entry languages") {
        if entry.language.is_none() {
            entry.language = language;
        }
    }
}

/// Pairs `feed`'s entries with what a second read of the document found for each entry element
/// (`found`, in document order). Entries are matched to elements by position; when feed-rs
/// dropped some (an RSS 1.0 item without a link) the positions no longer line up, and guessing
/// would misplace what was found: then nothing is paired, and `what` was not read.
fn by_position<'f, T>(
    feed: &'f mut Feed,
    found: Vec<T>,
    what: &str,
) -> Vec<(&'f mut feed_rs::model::Entry, T)> {
    if found.len() != feed.entries.len() {
        tracing::debug!(
            elements = found.len(),
            entries = feed.entries.len(),
            "entry elements and parsed entries differ; {what} not read"
        );
        return Vec::new();
    }
    feed.entries.iter_mut().zip(found).collect()
}

/// The `xml:lang` of each Atom `entry` element, in document order (XML 1.0 §2.12), or nothing
/// when no entry has one. feed-rs keeps only the one on an entry's `content`, and an entry
/// without content loses its language.
fn entry_xml_langs(text: &str) -> Vec<Option<String>> {
    use quick_xml::events::Event;
    // Most documents state a language on the root only (which feed-rs reads) or nowhere: a
    // search for the attribute after the first entry saves them a second read.
    let after_first_entry = text.find("entry").map_or("", |i| &text[i..]);
    if !after_first_entry.contains("xml:lang") {
        return Vec::new();
    }
    let mut reader = quick_xml::Reader::from_str(text);
    let mut languages = Vec::new();
    loop {
        match reader.read_event() {
            Ok(Event::Start(e)) | Ok(Event::Empty(e)) if e.local_name().as_ref() == "entry" => {
                let lang = e
                    .attributes()
                    .flatten()
                    .find(|a| a.key.as_ref() == "xml:lang")
                    .and_then(|a| {
                        a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                            .ok()
                            .map(|v| v.into_owned())
                    });
                languages.push(lang);
            }
            Ok(Event::Eof) | Err(_) => break,
            _ => {}
        }
    }
    if languages.iter().all(Option::is_none) {
        return Vec::new();
    }
    languages
}

/// Applies `xml:base` (XML Base, as Atom uses it) on the root and on each entry to the entries'
/// base URLs: feed-rs resolves links with it but does not pass it on, and relative URLs in
/// content must resolve as the publisher meant.
fn with_document_base(mut feed: Feed, text: &str, base: &Url) -> Feed {
    let (root, entries) = xml_bases(text);
    if root.is_none() && entries.iter().all(Option::is_none) {
        return feed;
    }
    let document = root
        .and_then(|b| base.join(b.trim()).ok())
        .unwrap_or_else(|| base.clone());
    for (entry, own) in feed
        .entries
        .iter_mut()
        .zip(entries.into_iter().chain(std::iter::repeat(None)))
    {
        // An entry's base, then its content element's, each relative to the one before.
        let resolved = match own {
            Some(own) => own
                .split('\u{0}')
                .try_fold(document.clone(), |base, step| base.join(step.trim()).ok()),
            None => Some(document.clone()),
        };
        if let Some(resolved) = resolved {
            entry.base = Some(resolved.into());
        }
    }
    feed
}

/// The `xml:base` of the root element, and of each `item`/`entry` element in document order.
fn xml_bases(text: &str) -> (Option<String>, Vec<Option<String>>) {
    use quick_xml::events::{BytesStart, Event};
    fn base_of(e: &BytesStart<'_>) -> Option<String> {
        e.attributes()
            .flatten()
            .find(|a| a.key.as_ref() == "xml:base")
            .and_then(|a| {
                a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                    .ok()
                    .map(|v| v.into_owned())
            })
    }
    if !text.contains("xml:base") {
        return (None, Vec::new());
    }
    let mut reader = quick_xml::Reader::from_str(text);
    let (mut root, mut entries, mut seen_root) = (None, Vec::new(), false);
    let mut in_entry = false;
    loop {
        match reader.read_event() {
            Ok(Event::Start(e)) | Ok(Event::Empty(e)) => {
                let name = e.local_name();
                if !seen_root {
                    seen_root = true;
                    root = base_of(&e);
                } else if matches!(name.as_ref(), "item" | "entry") {
                    entries.push(base_of(&e));
                    in_entry = true;
                } else if in_entry
                    && matches!(
                        name.as_ref(),
                        "content" | "summary" | "description" | "encoded"
                    )
                {
                    // xml:base on the element holding the HTML, resolved against the entry's own.
                    if let (Some(own), Some(slot)) = (base_of(&e), entries.last_mut()) {
                        *slot = Some(match slot.take() {
                            Some(entry_base) => format!("{entry_base}\u{0}{own}"),
                            None => own,
                        });
                    }
                }
            }
            Ok(Event::End(e)) if matches!(e.local_name().as_ref(), "item" | "entry") => {
                in_entry = false
            }
            Ok(Event::Eof) | Err(_) => break,
            _ => {}
        }
    }
    (root, entries)
}

/// The `charset` parameter of a Content-Type.
fn charset_of(content_type: &str) -> Option<&str> {
    content_type.split(';').skip(1).find_map(|param| {
        let (name, value) = param.split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("charset")
            .then(|| value.trim().trim_matches('"'))
    })
}

/// Polling hints a feed gives about itself, read from the channel head (before the first item):
/// RSS `<ttl>` (minutes), `sy:updatePeriod` / `sy:updateFrequency` (RSS 1.0 syndication module),
/// `<skipHours>` and `<skipDays>`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FeedHints {
    pub ttl_minutes: Option<u64>,
    pub update_period: Option<String>,
    pub update_frequency: Option<u64>,
    pub skip_hours: Vec<u8>,
    /// 0 = Monday … 6 = Sunday.
    pub skip_days: Vec<u8>,
}

impl FeedHints {
    /// The longer of `<ttl>` and `sy:updatePeriod` / `sy:updateFrequency`.
    pub fn interval(&self) -> Option<std::time::Duration> {
        let ttl = self.ttl_minutes.map(|m| m.saturating_mul(60));
        let period =
            self.update_period
                .as_deref()
                .map(|p| match p.trim().to_ascii_lowercase().as_str() {
                    "hourly" => 3600,
                    "weekly" => 7 * 86_400,
                    "monthly" => 30 * 86_400,
                    "yearly" => 365 * 86_400,
                    _ => 86_400, // "daily", the module's default
                });
        let sy = period.map(|p| p / self.update_frequency.filter(|f| *f > 0).unwrap_or(1));
        ttl.into_iter()
            .chain(sy)
            .max()
            .map(std::time::Duration::from_secs)
    }
}

/// Reads [`FeedHints`] from an XML document; JSON Feeds and unreadable documents have none.
pub fn feed_hints(body: &[u8]) -> FeedHints {
    use quick_xml::events::Event;
    let mut hints = FeedHints::default();
    let mut reader = quick_xml::Reader::from_reader(body);
    let mut buf = Vec::new();
    let mut path: Vec<String> = Vec::new();
    // Bounded: the hints are in the channel head; stop at the first item or after 2000 events.
    for _ in 0..2000 {
        let event = match reader.read_event_into(&mut buf) {
            Ok(e) => e,
            Err(_) => break,
        };
        match event {
            Event::Start(e) => {
                let name = e.local_name().as_ref().to_ascii_lowercase();
                if name == "item" || name == "entry" {
                    break;
                }
                path.push(name);
            }
            Event::End(_) => {
                path.pop();
            }
            Event::Text(t) => {
                let text = t.trim();
                let parent = path.iter().rev().nth(1).map(String::as_str);
                match (path.last().map(String::as_str), parent) {
                    (Some("ttl"), _) => hints.ttl_minutes = text.parse().ok(),
                    (Some("updateperiod"), _) => hints.update_period = Some(text.to_string()),
                    (Some("updatefrequency"), _) => hints.update_frequency = text.parse().ok(),
                    (Some("hour"), Some("skiphours")) => {
                        if let Ok(h) = text.parse::<u8>() {
                            // RSS 2.0 allows 0-23; some publishers write 24 for midnight.
                            hints.skip_hours.push(h % 24);
                        }
                    }
                    (Some("day"), Some("skipdays")) => {
                        let day = [
                            "monday",
                            "tuesday",
                            "wednesday",
                            "thursday",
                            "friday",
                            "saturday",
                            "sunday",
                        ]
                        .iter()
                        .position(|d| d.eq_ignore_ascii_case(text));
                        if let Some(d) = day {
                            hints.skip_days.push(d as u8);
                        }
                    }
                    _ => {}
                }
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    hints
}

/// The first feed an HTML page advertises with `<link rel="alternate" type="application/rss+xml">`
/// (or atom+xml, feed+json), resolved against the page's URL.
fn advertised_feed(body: &[u8], base: &Url) -> Option<String> {
    let head = &body[..body.len().min(256 * 1024)];
    let html = String::from_utf8_lossy(head);
    let lower = html.to_ascii_lowercase();
    let mut from = 0;
    while let Some(at) = lower[from..].find("<link") {
        let start = from + at;
        let end = lower[start..].find('>').map_or(lower.len(), |e| start + e);
        let tag = &html[start..end];
        let attr = |name: &str| tag_attribute(tag, name);
        let is_alternate = attr("rel").is_some_and(|r| {
            r.split_ascii_whitespace()
                .any(|t| t.eq_ignore_ascii_case("alternate"))
        });
        let is_feed = attr("type").is_some_and(|t| {
            let t = t.trim().to_ascii_lowercase();
            t == "application/rss+xml"
                || t == "application/atom+xml"
                || t == "application/feed+json"
        });
        if is_alternate && is_feed {
            if let Some(href) = attr("href").and_then(|h| base.join(h.trim()).ok()) {
                return Some(href.into());
            }
        }
        from = end;
    }
    None
}

/// The value of attribute `name` in one start tag's text (`<link a="x" b='y' c=z`).
fn tag_attribute<'t>(tag: &'t str, name: &str) -> Option<&'t str> {
    let lower = tag.to_ascii_lowercase();
    let mut from = 0;
    while let Some(at) = lower[from..].find(name) {
        let start = from + at;
        from = start + name.len();
        let before_ok = lower[..start].ends_with(|c: char| c.is_ascii_whitespace());
        let rest = lower[from..].trim_start();
        if !before_ok || !rest.starts_with('=') {
            continue;
        }
        let value_start = tag.len() - rest.len() + 1;
        let value = tag[value_start..].trim_start();
        return match value.chars().next() {
            Some(q @ ('"' | '\'')) => value[1..].split(q).next(),
            Some(_) => value.split(|c: char| c.is_ascii_whitespace()).next(),
            None => None,
        };
    }
    None
}

fn looks_like_html(body: &[u8]) -> bool {
    let head = &body[..body.len().min(1024)];
    let head = String::from_utf8_lossy(head).to_ascii_lowercase();
    head.contains("<!doctype html") || head.contains("<html")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints_are_read_from_the_channel_head() {
        let doc = br#"<?xml version="1.0"?><rss version="2.0" xmlns:sy="http://purl.org/rss/1.0/modules/syndication/">
            <channel><title>t</title><ttl>90</ttl><sy:updatePeriod>hourly</sy:updatePeriod>
            <sy:updateFrequency>2</sy:updateFrequency>
            <skipHours><hour>0</hour><hour>1</hour><hour>24</hour></skipHours>
            <skipDays><day>Saturday</day><day>sunday</day></skipDays>
            <item><ttl>5</ttl></item></channel></rss>"#;
        let hints = feed_hints(doc);
        assert_eq!(
            hints,
            FeedHints {
                ttl_minutes: Some(90),
                update_period: Some("hourly".into()),
                update_frequency: Some(2),
                skip_hours: vec![0, 1, 0],
                skip_days: vec![5, 6],
            }
        );
        // ttl 90 min beats hourly/2 = 30 min.
        assert_eq!(hints.interval(), Some(std::time::Duration::from_secs(5400)));
    }

    #[test]
    fn syndication_period_alone_sets_the_hint() {
        let doc = br#"<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns:sy="http://purl.org/rss/1.0/modules/syndication/"><channel><sy:updatePeriod>daily</sy:updatePeriod><sy:updateFrequency>4</sy:updateFrequency></channel></rdf:RDF>"#;
        assert_eq!(
            feed_hints(doc).interval(),
            Some(std::time::Duration::from_secs(21_600))
        );
        assert_eq!(feed_hints(b"{\"version\": \"x\"}").interval(), None);
        assert_eq!(
            feed_hints(b"<rss><channel><ttl>soon</ttl></channel></rss>").interval(),
            None
        );
    }

    fn base() -> Url {
        Url::parse("http://example.com/feed.xml").expect("static URL")
    }

    #[test]
    fn entries_without_ids_keep_an_empty_id() {
        let doc = br#"<rss version="2.0"><channel><title>t</title>
            <item><title>a</title><link>/a</link></item></channel></rss>"#;
        let feed = parse_feed(doc, &base(), None).expect("valid RSS");
        assert_eq!(feed.entries.len(), 1);
        assert_eq!(feed.entries[0].id, "");
        assert_eq!(feed.entries[0].links[0].href, "http://example.com/a");
    }

    #[test]
    fn html_page_is_named() {
        let doc = b"<!DOCTYPE html><html><head><title>x</title></head><body></body></html>";
        let err = parse_feed(doc, &base(), None).expect_err("HTML is not a feed");
        assert_eq!(err.to_string(), "not a feed: HTML page");
    }

    #[test]
    fn html_page_names_the_feed_it_advertises() {
        let doc = br#"<!doctype html><html><head>
            <link rel="stylesheet" href="/s.css">
            <link rel="alternate" type="text/html" href="/other">
            <LINK REL='alternate home' TYPE='application/atom+xml' HREF='/blog/atom.xml'>
            <link rel="alternate" type="application/rss+xml" href="/rss.xml"></head></html>"#;
        let err = parse_feed(doc, &base(), None).expect_err("HTML is not a feed");
        assert_eq!(
            err.to_string(),
            "not a feed: HTML page (it advertises a feed at http://example.com/blog/atom.xml; use that URL)"
        );
    }

    #[test]
    fn items_that_yield_no_entries_are_a_warning() {
        // Items in a namespace nothing reads: they parse, but as nothing.
        let doc = br#"<rss version="2.0"><channel><title>t</title>
            <x:item xmlns:x="urn:elsewhere"><x:title>a</x:title></x:item>
            <x:item xmlns:x="urn:elsewhere"><x:title>b</x:title></x:item></channel></rss>"#;
        let parsed = parse_document(doc, &base(), None).expect("parses");
        assert!(parsed.feed.entries.is_empty());
        assert_eq!(
            parsed.warning.as_deref(),
            Some("no entries read, although the document has 2 <item> elements")
        );
    }

    #[test]
    fn an_empty_feed_or_one_with_entries_has_no_warning() {
        let empty = br#"<rss version="2.0"><channel><title>t</title><items/></channel></rss>"#;
        assert_eq!(
            parse_document(empty, &base(), None)
                .expect("parses")
                .warning,
            None
        );
        let one = br#"<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title><id>urn:f</id>
            <entry><id>urn:1</id><title>a</title></entry></feed>"#;
        let parsed = parse_document(one, &base(), None).expect("parses");
        assert_eq!((parsed.feed.entries.len(), parsed.warning), (1, None));
    }

    #[test]
    fn tags_are_told_from_words_with_the_same_name() {
        let names = literal_names("item|entry").expect("pattern");
        let text =
            "<item a='1'>an item, an entry<rss:item/><items></item ><entry/></rss:entry><!-- <item";
        let hits: Vec<(&str, bool, bool, bool)> = tags_named(text, &names)
            .map(|t| (t.name, t.closing, t.self_closing, t.prefixed))
            .collect();
        assert_eq!(
            hits,
            [
                ("item", false, false, false),
                ("item", false, true, true),
                ("item", true, false, false),
                ("entry", false, true, false),
                ("entry", true, false, true),
            ]
        );
    }

    #[test]
    fn empty_body_is_named() {
        let err = parse_feed(b"  \n", &base(), None).expect_err("empty is not a feed");
        assert_eq!(err.to_string(), "not a feed: empty document");
    }

    fn entry_languages(doc: &str) -> Vec<Option<String>> {
        let feed = parse_feed(doc.as_bytes(), &base(), None).expect("fixture parses");
        feed.entries.into_iter().map(|e| e.language).collect()
    }

    #[test]
    fn atom_entry_xml_lang_is_read_with_or_without_content() {
        let doc = r#"<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="en"><title>T</title><id>f</id>
            <entry xml:lang="vi"><id>1</id><title>a</title></entry>
            <entry xml:lang="vi"><id>2</id><title>b</title><content xml:lang="id">c</content></entry>
            <entry><id>3</id><title>d</title></entry></feed>"#;
        assert_eq!(
            entry_languages(doc),
            [Some("vi".to_string()), Some("id".to_string()), None],
            "the content's xml:lang is the more specific; the feed's stays on the feed"
        );
    }

    #[test]
    fn json_feed_item_language_is_read() {
        let doc = r#"{"version":"https://jsonfeed.org/version/1.1","title":"T","language":"en",
            "items":[{"id":"1","language":"vi","content_text":"a"},{"id":"2","content_text":"b"}]}"#;
        assert_eq!(entry_languages(doc), [Some("vi".to_string()), None]);
        let feed = parse_feed(doc.as_bytes(), &base(), None).expect("fixture parses");
        assert_eq!(feed.language.as_deref(), Some("en"));
    }
}
