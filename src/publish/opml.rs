//! OPML 2.0 subscription lists (<http://opml.org/spec2.opml>): every source as an outline a feed
//! reader can import, grouped by topic.

use std::collections::{HashMap, HashSet};

use crate::config::{Config, SourceConfig};
use crate::model::SourceLabel;
use crate::text::escape_html;

/// A source as an outline: its title from feeds.toml, else the feed's own, else its URL.
pub fn opml_feed(source: &SourceConfig, labels: &HashMap<String, SourceLabel>) -> OpmlFeed {
    let label = labels.get(source.url.as_str());
    OpmlFeed {
        title: source
            .title
            .clone()
            .or_else(|| label.and_then(|l| l.feed_title.clone()))
            .unwrap_or_else(|| source.url.to_string()),
        xml_url: source.url.to_string(),
        html_url: label.and_then(|l| l.site_url.clone()),
    }
}

/// Every source, under one group per topic it feeds; sources that feed no declared topic under
/// "Other".
pub fn opml_groups(config: &Config, labels: &HashMap<String, SourceLabel>) -> Vec<OpmlGroup> {
    let mut grouped = HashSet::new();
    let mut groups = Vec::new();
    for topic in &config.topics {
        let sources = config.topic_sources(Some(topic));
        grouped.extend(sources.iter().map(|s| s.url.as_str()));
        groups.push(OpmlGroup {
            title: topic.title.clone(),
            feeds: sources.iter().map(|s| opml_feed(s, labels)).collect(),
        });
    }
    let other: Vec<OpmlFeed> = config
        .sources
        .iter()
        .filter(|s| !grouped.contains(s.url.as_str()))
        .map(|s| opml_feed(s, labels))
        .collect();
    if !other.is_empty() {
        groups.push(OpmlGroup {
            title: "Other".into(),
            feeds: other,
        });
    }
    groups
}

/// One feed to subscribe to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpmlFeed {
    pub title: String,
    pub xml_url: String,
    pub html_url: Option<String>,
}

/// A folder of feeds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpmlGroup {
    pub title: String,
    pub feeds: Vec<OpmlFeed>,
}

/// An OPML document whose body holds one outline per group, each holding its feeds.
pub fn render_grouped(title: &str, groups: &[OpmlGroup]) -> String {
    let mut body = String::new();
    for group in groups {
        let text = escape_html(&group.title);
        body.push_str(&format!("<outline text=\"{text}\" title=\"{text}\">\n"));
        for feed in &group.feeds {
            push_feed(&mut body, feed, "  ");
        }
        body.push_str("</outline>\n");
    }
    document(title, &body)
}

/// An OPML document whose body lists the feeds directly.
pub fn render_flat(title: &str, feeds: &[OpmlFeed]) -> String {
    let mut body = String::new();
    for feed in feeds {
        push_feed(&mut body, feed, "");
    }
    document(title, &body)
}

fn push_feed(out: &mut String, feed: &OpmlFeed, indent: &str) {
    let text = escape_html(&feed.title);
    out.push_str(&format!(
        "{indent}<outline type=\"rss\" text=\"{text}\" title=\"{text}\" xmlUrl=\"{}\"",
        escape_html(&feed.xml_url)
    ));
    if let Some(html) = &feed.html_url {
        out.push_str(&format!(" htmlUrl=\"{}\"", escape_html(html)));
    }
    out.push_str("/>\n");
}

/// The whole document, without characters XML forbids: a feed or source title stored with a
/// control character would otherwise make the list unreadable.
fn document(title: &str, body: &str) -> String {
    crate::text::into_xml_chars(format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<opml version=\"2.0\">\n<head>\n<title>{}</title>\n</head>\n<body>\n{body}</body>\n</opml>\n",
        escape_html(title)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(title: &str, url: &str) -> OpmlFeed {
        OpmlFeed {
            title: title.into(),
            xml_url: url.into(),
            html_url: Some("https://a.example/?a=1&b=2".into()),
        }
    }

    #[test]
    fn groups_hold_their_feeds_with_escaped_attributes() {
        let xml = render_grouped(
            "Tributary <sources>",
            &[OpmlGroup {
                title: "News & \"More\"".into(),
                feeds: vec![feed("A <b>", "https://a.example/feed?x=1&y=2")],
            }],
        );
        assert!(xml.contains("<title>Tributary &lt;sources&gt;</title>"));
        assert!(xml.contains("<outline text=\"News &amp; &quot;More&quot;\""));
        assert!(xml.contains(
            "<outline type=\"rss\" text=\"A &lt;b&gt;\" title=\"A &lt;b&gt;\" xmlUrl=\"https://a.example/feed?x=1&amp;y=2\" htmlUrl=\"https://a.example/?a=1&amp;b=2\"/>"
        ));
    }

    #[test]
    fn a_feed_without_a_site_has_no_html_url() {
        let xml = render_flat(
            "t",
            &[OpmlFeed {
                html_url: None,
                ..feed("A", "https://a.example/feed")
            }],
        );
        assert!(xml.contains("xmlUrl=\"https://a.example/feed\"/>"));
        assert!(!xml.contains("htmlUrl"));
    }
}
