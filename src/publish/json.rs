//! JSON Feed 1.1 (https://www.jsonfeed.org/version/1.1/), with a `_tributary` extension object on
//! each item crediting the sources that carried it.

use serde::Serialize;

use super::{TopicPage, authors_or_source, display_title, utc};

#[derive(Serialize)]
struct JsonFeed<'a> {
    version: &'static str,
    title: &'a str,
    home_page_url: &'a str,
    feed_url: &'a str,
    /// JSON Feed 1.1: "the URL of a feed that provides the next n items".
    #[serde(skip_serializing_if = "Option::is_none")]
    next_url: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    language: Option<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    hubs: Vec<JsonHub<'a>>,
    items: Vec<JsonItem<'a>>,
}

/// JSON Feed 1.1 `hubs`: endpoints for real-time notification of changes.
#[derive(Serialize)]
struct JsonHub<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    url: &'a str,
}

#[derive(Serialize)]
struct JsonItem<'a> {
    id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<&'a str>,
    title: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    content_html: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    content_text: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    summary: Option<String>,
    date_published: String,
    date_modified: String,
    authors: Vec<JsonAuthor>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tags: Vec<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    language: Option<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    attachments: Vec<JsonAttachment<'a>>,
    _tributary: Tributary<'a>,
}

#[derive(Serialize)]
struct JsonAuthor {
    name: String,
}

#[derive(Serialize)]
struct JsonAttachment<'a> {
    url: &'a str,
    mime_type: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    size_in_bytes: Option<u64>,
}

#[derive(Serialize)]
struct Tributary<'a> {
    source: JsonSource<'a>,
    sources: Vec<JsonSource<'a>>,
    /// The original the story was republished from, when it is not the version shown.
    #[serde(skip_serializing_if = "Option::is_none")]
    origin: Option<JsonVersion<'a>>,
    /// The story in other languages.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    translations: Vec<JsonVersion<'a>>,
}

#[derive(Serialize)]
struct JsonVersion<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    language: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<&'a str>,
    #[serde(skip_serializing_if = "str::is_empty")]
    title: &'a str,
    source: String,
}

impl<'a> From<super::VersionLine<'a>> for JsonVersion<'a> {
    fn from(v: super::VersionLine<'a>) -> Self {
        JsonVersion {
            language: v.language,
            url: v.link,
            title: v.title,
            source: v.by,
        }
    }
}

#[derive(Serialize, Clone)]
struct JsonSource<'a> {
    title: &'a str,
    feed_url: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    home_page_url: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    entry_url: Option<&'a str>,
}

pub(super) fn render(page: &TopicPage) -> Vec<u8> {
    let feed = JsonFeed {
        version: "https://jsonfeed.org/version/1.1",
        title: &page.title,
        home_page_url: &page.home_url,
        feed_url: &page.self_url,
        next_url: page.next_url.as_deref(),
        description: page.description.as_deref(),
        language: page.language(),
        hubs: page
            .hubs
            .iter()
            .map(|url| JsonHub {
                kind: "WebSub",
                url,
            })
            .collect(),
        items: page
            .entries
            .iter()
            .map(|e| {
                let source = JsonSource {
                    title: &e.source.title,
                    feed_url: &e.source.url,
                    home_page_url: e.source.site_url.as_deref(),
                    entry_url: e.link.as_deref(),
                };
                let content_html = e.content_html.as_deref().or(e.summary_html.as_deref());
                JsonItem {
                    id: &e.public_id,
                    url: e.link.as_deref(),
                    title: display_title(e),
                    content_html,
                    // An item must have content_html or content_text.
                    content_text: content_html.is_none().then_some(""),
                    summary: e
                        .content_html
                        .as_ref()
                        .and(e.summary_html.as_deref())
                        .map(crate::text::html_to_text),
                    date_published: utc(e.published).to_rfc3339(),
                    date_modified: utc(e.updated).to_rfc3339(),
                    authors: authors_or_source(e)
                        .into_iter()
                        .map(|name| JsonAuthor { name })
                        .collect(),
                    tags: e.categories.iter().map(String::as_str).collect(),
                    language: e.language.as_deref(),
                    attachments: e
                        .enclosures
                        .iter()
                        .map(|a| JsonAttachment {
                            url: &a.url,
                            mime_type: a
                                .media_type
                                .as_deref()
                                .unwrap_or("application/octet-stream"),
                            size_in_bytes: a.length,
                        })
                        .collect(),
                    _tributary: Tributary {
                        source: source.clone(),
                        sources: std::iter::once(source)
                            .chain(e.also.iter().map(|(s, link)| JsonSource {
                                title: &s.title,
                                feed_url: &s.url,
                                home_page_url: s.site_url.as_deref(),
                                entry_url: link.as_deref(),
                            }))
                            .collect(),
                        origin: super::original(e).map(JsonVersion::from),
                        translations: super::translations(e)
                            .into_iter()
                            .map(JsonVersion::from)
                            .collect(),
                    },
                }
            })
            .collect(),
    };
    serde_json::to_vec_pretty(&feed).unwrap_or_default()
}
