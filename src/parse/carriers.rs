//! Entry text in the elements feedparser reads and feed-rs ignores: `<xhtml:body>` and a bare
//! `<body>` (XHTML markup), `<fullitem>` (escaped HTML), and in RSS an item's `<content>` and
//! `<summary>`. Found by one pass over the document after feed-rs parsed it, and put into the
//! parsed entries so that `normalize` sanitizes them like any other content.
//!
//! Precedence is feedparser's: an entry's content is the first content carrier in document order
//! (`content:encoded`, `xhtml:body`, `body`, `fullitem`, Atom/RSS `content`), its summary the first
//! of `description` / `summary`; a second summary carrier in an entry without any content carrier
//! is its content. Documents that have none of these elements are not read a second time.
//!
//! Only direct children of an `item`/`entry` count: a `<body>` deeper down belongs to some other
//! element's markup.

use feed_rs::model::{Content, Feed, FeedType, Text};

/// One element of an entry that carries its text, in document order.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Carrier {
    /// Content that feed-rs reads itself (`content:encoded`, Atom `content`).
    ContentRead,
    /// A summary that feed-rs reads itself (`description`, Atom `summary`).
    SummaryRead,
    /// Content feed-rs ignores, with its media type.
    Content {
        body: String,
        media_type: &'static str,
    },
    /// A summary feed-rs ignores (HTML, as RSS has no types).
    Summary(String),
}

/// Fills the content and summary of `feed`'s entries from the carriers feed-rs ignores in `text`,
/// the document feed-rs parsed. The caller runs it only when a search of the tag names found
/// such an element (`TagSurvey`), so that most documents are not read again.
pub(super) fn apply(feed: &mut Feed, text: &str) {
    let atom = matches!(feed.feed_type, FeedType::Atom);
    if feed.entries.is_empty() {
        return;
    }
    let Some(found) = entry_carriers(text, atom) else {
        return;
    };
    for (entry, carriers) in super::by_position(feed, found, "extra content carriers") {
        if !carriers
            .iter()
            .any(|c| matches!(c, Carrier::Content { .. } | Carrier::Summary(_)))
        {
            continue;
        }
        let read_summary = entry.summary.take();
        let read_content = entry.content.take();
        let as_content = |t: Text| Content {
            body: Some(t.content),
            content_type: t.content_type,
            ..Content::default()
        };
        let content_of = |c: &Carrier| match c {
            Carrier::ContentRead => read_content.clone(),
            Carrier::Content { body, media_type } => {
                let mut content = Content::default();
                if let Ok(parsed) = media_type.parse() {
                    content.content_type = parsed;
                }
                content.body = Some(body.clone());
                Some(content)
            }
            _ => None,
        };
        let summary_of = |c: &Carrier| match c {
            Carrier::SummaryRead => read_summary.clone(),
            Carrier::Summary(html) => html_text(html),
            _ => None,
        };
        let ours_summary = carriers.iter().any(|c| matches!(c, Carrier::Summary(_)));
        let summaries: Vec<Text> = carriers
            .iter()
            .filter_map(summary_of)
            .filter(|t| !t.content.trim().is_empty())
            .collect();
        let first_content = carriers
            .iter()
            .filter_map(content_of)
            .find(|c| c.body.as_deref().is_some_and(|b| !b.trim().is_empty()));
        entry.content = first_content.or(read_content.clone()).or_else(|| {
            // feedparser: without any content carrier, a second summary carrier
            // (`description` after an RSS `summary`) is the content.
            ours_summary
                .then(|| summaries.get(1).cloned().map(as_content))
                .flatten()
        });
        entry.summary = if ours_summary {
            summaries.into_iter().next()
        } else {
            read_summary
        };
    }
}

fn html_text(html: &str) -> Option<Text> {
    let content_type = "text/html".parse().ok()?;
    Some(Text {
        content_type,
        src: None,
        content: html.trim().to_string(),
    })
}

/// The carriers of every `item`/`entry` element, in document order; `None` when the document
/// does not read (feed-rs read it, so that is not expected).
fn entry_carriers(text: &str, atom: bool) -> Option<Vec<Vec<Carrier>>> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(text);
    reader.config_mut().check_end_names = false;
    let mut entries: Vec<Vec<Carrier>> = Vec::new();
    let mut depth = 0usize;
    // Depth of the entry element being read, and of the carrier inside it with where its
    // content starts.
    let mut entry_depth: Option<usize> = None;
    let mut carrier: Option<(Kind, usize, String)> = None;
    loop {
        let before = usize::try_from(reader.buffer_position()).ok()?;
        let event = reader.read_event().ok()?;
        match event {
            Event::Eof => break,
            Event::Start(e) => {
                depth += 1;
                let local = e.local_name();
                if entry_depth.is_none() && matches!(local.as_ref(), "item" | "entry") {
                    entry_depth = Some(depth);
                    entries.push(Vec::new());
                } else if entry_depth.is_some_and(|d| depth == d + 1) {
                    let name = e.name();
                    let prefix = name.as_ref().rsplit_once(':').map(|(p, _)| p.to_string());
                    let kind = Kind::of(
                        local.as_ref(),
                        prefix.is_some(),
                        atom,
                        e.try_get_attribute("type")
                            .ok()
                            .flatten()
                            .and_then(|a| {
                                a.normalized_value(quick_xml::XmlVersion::Implicit1_0).ok()
                            })
                            .as_deref(),
                    );
                    match (kind, entries.last_mut()) {
                        (Some(Kind::ContentRead), Some(list)) => list.push(Carrier::ContentRead),
                        (Some(Kind::SummaryRead), Some(list)) => list.push(Carrier::SummaryRead),
                        (Some(kind), _) => {
                            let start = usize::try_from(reader.buffer_position()).ok()?;
                            carrier = Some((kind, start, prefix.unwrap_or_default()));
                        }
                        (None, _) => {}
                    }
                }
            }
            Event::End(e) => {
                if entry_depth.is_some_and(|d| depth == d + 1) {
                    if let (Some((kind, start, prefix)), Some(list)) =
                        (carrier.take(), entries.last_mut())
                    {
                        let inner = text.get(start..before)?;
                        list.push(kind.carrier(inner, &prefix));
                    }
                } else if entry_depth == Some(depth)
                    && matches!(e.local_name().as_ref(), "item" | "entry")
                {
                    entry_depth = None;
                }
                depth = depth.saturating_sub(1);
            }
            Event::Empty(e)
                if entry_depth.is_none() && matches!(e.local_name().as_ref(), "item" | "entry") =>
            {
                entries.push(Vec::new());
            }
            _ => {}
        }
    }
    Some(entries)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    ContentRead,
    SummaryRead,
    /// XHTML markup as it stands in the document.
    Xhtml,
    /// Text (XML-escaped, or in CDATA) that is HTML.
    Html,
    /// Text that is plain text.
    Plain,
    /// An RSS summary (HTML, like `description`).
    Summary,
}

impl Kind {
    fn of(local: &str, prefixed: bool, atom: bool, media_type: Option<&str>) -> Option<Kind> {
        Some(match local {
            "encoded" if prefixed => Kind::ContentRead,
            "body" => Kind::Xhtml,
            "fullitem" => Kind::Html,
            "content" if atom => Kind::ContentRead,
            "summary" | "description" if atom => Kind::SummaryRead,
            "description" if !prefixed => Kind::SummaryRead,
            // RSS has no `content`; feedparser reads it with Atom's `type` (plain by default).
            "content" if !prefixed => match media_type.map(str::trim) {
                Some("html" | "text/html") => Kind::Html,
                Some("xhtml" | "application/xhtml+xml") => Kind::Xhtml,
                _ => Kind::Plain,
            },
            "summary" if !prefixed => Kind::Summary,
            _ => return None,
        })
    }

    fn carrier(self, inner: &str, prefix: &str) -> Carrier {
        match self {
            Kind::Xhtml => Carrier::Content {
                // Children written with the carrier's prefix (`<xhtml:p>`) are XHTML elements;
                // as HTML they must lose it.
                body: if prefix.is_empty() {
                    inner.to_string()
                } else {
                    inner
                        .replace(&format!("<{prefix}:"), "<")
                        .replace(&format!("</{prefix}:"), "</")
                },
                media_type: "application/xhtml+xml",
            },
            Kind::Html => Carrier::Content {
                body: character_data(inner),
                media_type: "text/html",
            },
            Kind::Plain => Carrier::Content {
                body: character_data(inner),
                media_type: "text/plain",
            },
            Kind::Summary => Carrier::Summary(character_data(inner)),
            Kind::ContentRead => Carrier::ContentRead,
            Kind::SummaryRead => Carrier::SummaryRead,
        }
    }
}

/// The text an element's raw inner XML stands for: CDATA sections as they are, the rest with its
/// character and entity references resolved (markup written unescaped stays markup).
pub(super) fn character_data(inner: &str) -> String {
    let mut out = String::with_capacity(inner.len());
    let mut rest = inner;
    while !rest.is_empty() {
        let (plain, cdata) = match rest.find("<![CDATA[") {
            Some(at) => (&rest[..at], Some(&rest[at + "<![CDATA[".len()..])),
            None => (rest, None),
        };
        match quick_xml::escape::unescape(plain) {
            Ok(text) => out.push_str(&text),
            Err(_) => out.push_str(plain),
        }
        rest = match cdata {
            Some(section) => {
                let end = section.find("]]>").unwrap_or(section.len());
                out.push_str(&section[..end]);
                section.get(end + "]]>".len()..).unwrap_or("")
            }
            None => "",
        };
    }
    out
}
