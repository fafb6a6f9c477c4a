//! The source elements of entries, which feed-rs does not read: RSS `<source url="…">`, Atom
//! `<source>` (its alternate link) and Dublin Core `dc:source` with an address. The first one of
//! each entry is put in the entry's `source` (the field feed-rs documents for it and leaves
//! empty), for `normalize` to take as the entry's origin.
//!
//! Found by one pass over the document after feed-rs parsed it, and only when a search of the tag
//! names found a `<source>` (`TagSurvey`). Like `carriers`, only direct children of an
//! `item`/`entry` count, and entries are matched to elements by position.

use feed_rs::model::Feed;

use super::carriers::character_data;

/// An element's address is dropped rather than cut when longer: a cut URL leads nowhere.
const MAX_SOURCE_BYTES: usize = crate::normalize::MAX_FIELD_BYTES;

/// Sets the `source` of `feed`'s entries from their source elements in `text`, the document
/// feed-rs parsed.
pub(super) fn apply(feed: &mut Feed, text: &str) {
    if feed.entries.is_empty() {
        return;
    }
    let Some(found) = entry_sources(text) else {
        return;
    };
    for (entry, source) in super::by_position(feed, found, "source elements") {
        if entry.source.is_none() {
            entry.source = source.filter(|s| s.len() <= MAX_SOURCE_BYTES);
        }
    }
}

/// A source element being read: where its text starts, and the alternate link of an Atom one.
struct Open {
    text_start: usize,
    link: Option<String>,
}

/// The first source address of every `item`/`entry` element, in document order; `None` when the
/// document does not read (feed-rs read it, so that is not expected).
fn entry_sources(text: &str) -> Option<Vec<Option<String>>> {
    use quick_xml::events::{BytesStart, Event};
    fn attribute(e: &BytesStart<'_>, name: &str) -> Option<String> {
        e.try_get_attribute(name)
            .ok()
            .flatten()
            .and_then(|a| a.normalized_value(quick_xml::XmlVersion::Implicit1_0).ok())
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    }
    // Atom's default rel is `alternate` (RFC 4287 §4.2.7.2).
    fn alternate_href(e: &BytesStart<'_>) -> Option<String> {
        let rel = attribute(e, "rel");
        matches!(rel.as_deref(), None | Some("alternate"))
            .then(|| attribute(e, "href"))
            .flatten()
    }
    let mut reader = quick_xml::Reader::from_str(text);
    reader.config_mut().check_end_names = false;
    let mut sources: Vec<Option<String>> = Vec::new();
    let mut depth = 0usize;
    let mut entry_depth: Option<usize> = None;
    let mut open: Option<Open> = None;
    loop {
        let before = usize::try_from(reader.buffer_position()).ok()?;
        let event = reader.read_event().ok()?;
        let child_of_entry = |depth: usize| entry_depth.is_some_and(|d| depth == d + 1);
        match event {
            Event::Eof => break,
            Event::Start(e) => {
                depth += 1;
                let local = e.local_name();
                if entry_depth.is_none() && matches!(local.as_ref(), "item" | "entry") {
                    entry_depth = Some(depth);
                    sources.push(None);
                } else if child_of_entry(depth) && local.as_ref() == "source" {
                    match attribute(&e, "url") {
                        Some(url) => record(&mut sources, url),
                        None => {
                            open = Some(Open {
                                text_start: usize::try_from(reader.buffer_position()).ok()?,
                                link: None,
                            })
                        }
                    }
                } else if let Some(source) = open.as_mut().filter(|_| local.as_ref() == "link") {
                    source.link = source.link.take().or_else(|| alternate_href(&e));
                }
            }
            Event::Empty(e) => {
                let local = e.local_name();
                if entry_depth.is_none() && matches!(local.as_ref(), "item" | "entry") {
                    sources.push(None);
                } else if child_of_entry(depth + 1) && local.as_ref() == "source" {
                    if let Some(url) = attribute(&e, "url") {
                        record(&mut sources, url);
                    }
                } else if let Some(source) = open.as_mut().filter(|_| local.as_ref() == "link") {
                    source.link = source.link.take().or_else(|| alternate_href(&e));
                }
            }
            Event::End(e) => {
                if child_of_entry(depth) && e.local_name().as_ref() == "source" {
                    if let Some(source) = open.take() {
                        // Atom's alternate link, else `dc:source` text that is an address.
                        let url = source.link.or_else(|| {
                            let inner = character_data(text.get(source.text_start..before)?);
                            let inner = inner.trim();
                            is_http(inner).then(|| inner.to_string())
                        });
                        if let Some(url) = url {
                            record(&mut sources, url);
                        }
                    }
                } else if entry_depth == Some(depth)
                    && matches!(e.local_name().as_ref(), "item" | "entry")
                {
                    entry_depth = None;
                    open = None;
                }
                depth = depth.saturating_sub(1);
            }
            _ => {}
        }
    }
    Some(sources)
}

/// Keeps the first source element's address of the entry being read.
fn record(sources: &mut [Option<String>], url: String) {
    if let Some(slot @ None) = sources.last_mut() {
        *slot = Some(url);
    }
}

/// Whether `text` is an absolute http(s) address (a `dc:source` may be a name or a citation).
fn is_http(text: &str) -> bool {
    let lower = text.get(..8).unwrap_or(text).to_ascii_lowercase();
    (lower.starts_with("http://") || lower.starts_with("https://")) && !text.contains(' ')
}

#[cfg(test)]
mod tests {
    fn sources_of(doc: &str) -> Vec<Option<String>> {
        let base = url::Url::parse("https://portal.example.id/rss").expect("static URL");
        let feed = crate::parse::parse_feed(doc.as_bytes(), &base, None).expect("parses");
        feed.entries.into_iter().map(|e| e.source).collect()
    }

    #[test]
    fn source_elements_of_rss_atom_and_dublin_core_are_read() {
        let rss = r#"<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel><title>t</title>
            <item><title>a</title><source url="https://vnexpress.net/a-1.html">VnExpress</source></item>
            <item><title>b</title><dc:source>https://dantri.com.vn/b-2.htm?x=1&amp;y=2</dc:source></item>
            <item><title>c</title><dc:source>Laporan Humas</dc:source></item>
            <item><title>d</title><description>&lt;video&gt;&lt;source src="v.mp4"&gt;&lt;/video&gt;</description></item>
            <item><title>e</title><source url="/relative/e.html"/></item>
            </channel></rss>"#;
        assert_eq!(
            sources_of(rss),
            [
                Some("https://vnexpress.net/a-1.html".to_string()),
                Some("https://dantri.com.vn/b-2.htm?x=1&y=2".to_string()),
                None,
                None,
                Some("/relative/e.html".to_string()),
            ]
        );
        let atom = r#"<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title><id>urn:f</id>
            <entry><id>urn:1</id><title>a</title><link href="https://portal.example.id/1"/>
              <source><id>urn:vne</id><title>VnExpress</title>
                <link rel="self" href="https://vnexpress.net/rss/tin-moi-nhat.rss"/>
                <link rel="alternate" href="https://vnexpress.net/a-1.html"/></source></entry>
            <entry><id>urn:2</id><title>b</title>
              <source><title>Only a title</title></source></entry></feed>"#;
        assert_eq!(
            sources_of(atom),
            [Some("https://vnexpress.net/a-1.html".to_string()), None]
        );
    }
}
