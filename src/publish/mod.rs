//! Pure rendering of a topic page to bytes: Atom 1.0, RSS 2.0, JSON Feed 1.1, OPML and the HTML
//! pages.
//! Knows nothing of SQLite or axum; the caller hands it the entries and the URLs.

mod atom;
mod html;
mod json;
mod opml;
mod river;
mod rss;
pub mod sparkline;
pub mod style;

pub use html::{
    IndexTopic, SOURCE_STATES, SearchResults, SourceHealth, SourceRow, render_index, render_search,
    render_search_results, render_sources, render_sources_in,
};
pub use opml::{
    OpmlFeed, OpmlGroup, opml_feed, opml_groups, render_flat as render_opml_flat,
    render_grouped as render_opml_grouped,
};
pub use river::{RiverPage, render_river};

use chrono::{DateTime, FixedOffset, Utc};

use crate::model::StoredEntry;
use crate::model::Timestamp;

/// The output formats of a topic, with their file extensions and media types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    Atom,
    Rss,
    Json,
}

impl Format {
    pub const ALL: [Format; 3] = [Format::Atom, Format::Rss, Format::Json];

    pub fn from_extension(ext: &str) -> Option<Format> {
        match ext {
            "atom" => Some(Format::Atom),
            "rss" => Some(Format::Rss),
            "json" => Some(Format::Json),
            _ => None,
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Format::Atom => "atom",
            Format::Rss => "rss",
            Format::Json => "json",
        }
    }

    pub fn media_type(self) -> &'static str {
        match self {
            Format::Atom => "application/atom+xml; charset=utf-8",
            Format::Rss => "application/rss+xml; charset=utf-8",
            Format::Json => "application/feed+json; charset=utf-8",
        }
    }

    /// The media type without parameters, as used in `<link type>` attributes.
    pub fn bare_media_type(self) -> &'static str {
        match self {
            Format::Atom => "application/atom+xml",
            Format::Rss => "application/rss+xml",
            Format::Json => "application/feed+json",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Format::Atom => "Atom",
            Format::Rss => "RSS",
            Format::Json => "JSON Feed",
        }
    }
}

/// The URL a topic's feed in `format` is served at (`base_url` ends with `/`): its self link,
/// and what WebSub announces.
pub fn topic_feed_url(base_url: &str, slug: &str, format: Format) -> String {
    format!("{base_url}topics/{slug}.{}", format.extension())
}

/// Everything needed to render one page of one topic.
#[derive(Debug, Clone)]
pub struct TopicPage {
    pub slug: String,
    pub title: String,
    pub description: Option<String>,
    /// Stable id of the topic feed (the same in every format).
    pub feed_id: String,
    /// The URL this document is served at.
    pub self_url: String,
    /// The first (newest) page of this topic, when this document is one page of several
    /// (RFC 5005 §3).
    pub first_url: Option<String>,
    /// The next, older page (RFC 5005 §3); `None` on the last page.
    pub next_url: Option<String>,
    /// The human page about the feed (the HTML index).
    pub home_url: String,
    /// When anything on the page last changed.
    pub updated: Timestamp,
    pub entries: Vec<StoredEntry>,
    /// WebSub hubs the feed is announced to (`<link rel="hub">`).
    pub hubs: Vec<String>,
}

impl TopicPage {
    /// The page's language when every entry that states one agrees.
    fn language(&self) -> Option<&str> {
        let mut languages = self.entries.iter().filter_map(|e| e.language.as_deref());
        let first = languages.next()?;
        languages
            .all(|l| l.eq_ignore_ascii_case(first))
            .then_some(first)
    }
}

/// The document for one page. Atom and RSS never carry a character XML 1.0 forbids, even from
/// rows stored before normalize removed them: one would make the whole merged feed unreadable.
/// (JSON Feed escapes them, which JSON allows.)
pub fn render(format: Format, page: &TopicPage) -> Vec<u8> {
    let mut document = match format {
        Format::Atom => atom::render(page),
        Format::Rss => rss::render(page),
        Format::Json => return json::render(page),
    };
    crate::text::strip_xml_forbidden(&mut document);
    document
}

/// The RFC 5005 paging links of a page, as (rel, href).
fn paging_links(page: &TopicPage) -> impl Iterator<Item = (&'static str, &str)> {
    let first = page.first_url.as_deref().map(|href| ("first", href));
    let next = page.next_url.as_deref().map(|href| ("next", href));
    first.into_iter().chain(next)
}

fn utc(t: Timestamp) -> DateTime<Utc> {
    DateTime::from_timestamp(t, 0).unwrap_or_default()
}

fn fixed(t: Timestamp) -> DateTime<FixedOffset> {
    utc(t).fixed_offset()
}

/// A title for entries that have none (Atom requires one): the start of their text, else the link.
fn display_title(entry: &StoredEntry) -> String {
    if !entry.title.trim().is_empty() {
        return entry.title.clone();
    }
    let text = entry
        .summary_html
        .as_deref()
        .or(entry.content_html.as_deref())
        .map(crate::text::html_to_text)
        .unwrap_or_default();
    if !text.is_empty() {
        let mut short: String = text.chars().take(80).collect();
        if short.len() < text.len() {
            short.push('…');
        }
        return short;
    }
    entry.link.clone().unwrap_or_else(|| "(untitled)".into())
}

/// The authors of an entry, or the source that carried it when the publisher names nobody.
fn authors_or_source(entry: &StoredEntry) -> Vec<String> {
    if entry.authors.is_empty() {
        vec![entry.source.title.clone()]
    } else {
        entry.authors.clone()
    }
}

/// A story's other version as the outputs credit it: the original it was republished from, or
/// a translation.
pub(crate) struct VersionLine<'a> {
    pub language: Option<&'a str>,
    pub link: Option<&'a str>,
    /// The version's own title (empty for a credit we only know by its address or outlet).
    pub title: &'a str,
    /// Who published it: a source's title, or the outlet a credit names.
    pub by: String,
}

/// The original a story credits when it is not the version shown: the story a shown translation
/// translates, else the credited original no source of ours carries.
pub(crate) fn original(entry: &StoredEntry) -> Option<VersionLine<'_>> {
    if let Some(original) = &entry.original {
        return Some(VersionLine {
            language: original.language.as_deref(),
            link: original.link.as_deref(),
            title: &original.title,
            by: original.source.title.clone(),
        });
    }
    let credit = entry.credit.as_ref()?;
    Some(VersionLine {
        language: None,
        link: credit.link.as_deref(),
        title: "",
        by: credit
            .outlet
            .clone()
            .or_else(|| host_of(credit.link.as_deref()))?,
    })
}

/// The host a link points at, without `www.`: how a version is named when nothing better is.
fn host_of(link: Option<&str>) -> Option<String> {
    let url = url::Url::parse(link?).ok()?;
    url.host_str()
        .map(|h| h.trim_start_matches("www.").to_string())
}

/// The story's versions in other languages than the one shown.
pub(crate) fn translations(entry: &StoredEntry) -> Vec<VersionLine<'_>> {
    entry
        .versions
        .iter()
        .map(|v| VersionLine {
            language: v.language.as_deref(),
            link: v.link.as_deref(),
            title: &v.title,
            by: host_of(v.link.as_deref()).unwrap_or_else(|| v.source.title.clone()),
        })
        .collect()
}

/// A language's name in itself, for readers ("Bahasa Indonesia"), else its tag.
pub(crate) fn language_name(tag: &str) -> String {
    let primary = tag
        .split(['-', '_'])
        .next()
        .unwrap_or(tag)
        .to_ascii_lowercase();
    match primary.as_str() {
        "vi" => "Tiếng Việt",
        "id" => "Bahasa Indonesia",
        "ms" => "Bahasa Melayu",
        "en" => "English",
        "zh" => "中文",
        "th" => "ไทย",
        "fr" => "Français",
        "de" => "Deutsch",
        "es" => "Español",
        "ja" => "日本語",
        "ko" => "한국어",
        _ => return tag.to_string(),
    }
    .to_string()
}

/// The line RSS items and HTML pages carry about a story's other versions, with the original and
/// each translation linked (http/https only):
/// "Original: Dân trí (vi) · Also in: Bahasa Indonesia (vietnam.vn)"; `None` when it has none.
pub(crate) fn versions_html(entry: &StoredEntry) -> Option<String> {
    use crate::text::escape_html;
    let linked = |text: &str, link: Option<&str>| match link
        .filter(|l| l.starts_with("https://") || l.starts_with("http://"))
    {
        Some(link) => format!(
            "<a href=\"{}\">{}</a>",
            escape_html(link),
            escape_html(text)
        ),
        None => escape_html(text),
    };
    let mut parts = Vec::new();
    if let Some(original) = original(entry) {
        let language = original
            .language
            .map(|l| format!(" ({})", escape_html(l)))
            .unwrap_or_default();
        parts.push(format!(
            "Original: {}{language}",
            linked(&original.by, original.link)
        ));
    }
    let also: Vec<String> = translations(entry)
        .iter()
        .filter_map(|t| {
            Some(format!(
                "{} ({})",
                linked(&language_name(t.language?), t.link),
                escape_html(&t.by)
            ))
        })
        .collect();
    if !also.is_empty() {
        parts.push(format!("Also in: {}", also.join(", ")));
    }
    (!parts.is_empty()).then(|| parts.join(" · "))
}

#[cfg(test)]
mod tests;
