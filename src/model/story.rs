//! Stories as stored and published: what every output format renders and credits.

use super::{Enclosure, PageCursor, Timestamp};

/// Who carried an entry: enough to credit them in every output format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceRef {
    pub url: String,
    /// feeds.toml title, else the feed's own, else the URL.
    pub title: String,
    pub site_url: Option<String>,
    pub feed_id: Option<String>,
}

/// An entry as stored, with its attribution, ready to publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEntry {
    pub id: i64,
    pub public_id: String,
    pub link: Option<String>,
    pub title: String,
    pub summary_html: Option<String>,
    pub content_html: Option<String>,
    pub authors: Vec<String>,
    pub categories: Vec<String>,
    pub enclosures: Vec<Enclosure>,
    pub language: Option<String>,
    pub published: Timestamp,
    pub updated: Timestamp,
    pub changed: Timestamp,
    pub source: SourceRef,
    /// Every other source that carried the story, first seen first, with its link to it.
    pub also: Vec<(SourceRef, Option<String>)>,
    /// What the story credits as its original, when that is no story we hold.
    pub credit: Option<Credit>,
    /// The story's versions in other languages (its translations), first stored first.
    pub versions: Vec<StoredEntry>,
    /// The story this entry is shown in place of, when a topic shows a translation because it
    /// is in the topic's language (see [`StoredEntry::in_languages`]).
    pub original: Option<Box<StoredEntry>>,
}

/// An original a story credits but no source of ours carries: its address, the outlet named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credit {
    pub link: Option<String>,
    pub outlet: Option<String>,
}

impl StoredEntry {
    /// The story as a topic preferring `languages` (first listed first) shows it: in the first
    /// of them it has a version in, the original then credited as such and the other versions
    /// kept as translations; as stored when the original is in one of them already, or none is.
    pub fn in_languages(mut self, languages: &[String]) -> StoredEntry {
        let primary = |tag: &Option<String>| {
            tag.as_deref()
                .and_then(|t| t.split(['-', '_']).next())
                .map(str::to_ascii_lowercase)
        };
        for wanted in languages {
            let wanted = Some(wanted.to_ascii_lowercase());
            if primary(&self.language) == wanted {
                return self;
            }
            if let Some(at) = self
                .versions
                .iter()
                .position(|v| primary(&v.language) == wanted)
            {
                let mut shown = self.versions.remove(at);
                shown.versions = std::mem::take(&mut self.versions);
                // The topic lists the story: the version takes its id (pages continue from it)
                // and the sources that carried it in the original's language.
                shown.id = self.id;
                shown.also = std::mem::take(&mut self.also);
                shown.original = Some(Box::new(self));
                return shown;
            }
        }
        self
    }
}

/// A topic's size and freshness, for the index page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TopicSummary {
    pub entries: u64,
    pub updated: Option<Timestamp>,
}

/// What a source calls itself, as its feed last said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceLabel {
    pub feed_title: Option<String>,
    pub site_url: Option<String>,
}

/// One page of a topic, as the store's `topic_page` reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicSlice {
    pub entries: Vec<StoredEntry>,
    /// Where the next (older) page starts; `None` on the last page.
    pub next: Option<PageCursor>,
    /// When stories last left topic pages (pruned, or moved out by new rules): a page may have
    /// changed then although none of its entries did.
    pub shrank_at: Option<Timestamp>,
}

/// Where a republished entry says its story comes from: the original's link when the credit
/// gives one, the outlet it names, or both.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The original's address as the entry gives it, made absolute.
    pub link: Option<String>,
    /// `link` in canonical form (as entry links are), for finding the original among stored
    /// stories.
    pub canonical_url: Option<String>,
    /// The outlet credited, by name ("Dân trí", "TTXVN"), when the credit names one.
    pub credit: Option<String>,
    pub found_by: OriginRule,
}

/// How an origin was found, most trusted first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OriginRule {
    /// An element of the feed: RSS `<source url>`, Atom `<source>` with an alternate link,
    /// `dc:source` with a URL.
    Element,
    /// A credit line with a link in the entry's last paragraphs ("Nguồn: …", "Sumber: …").
    CreditLink,
    /// A credit line naming a known outlet without a link ("Theo VnExpress", "(Dân trí)").
    CreditName,
}

impl OriginRule {
    pub fn as_str(self) -> &'static str {
        match self {
            OriginRule::Element => "element",
            OriginRule::CreditLink => "credit-link",
            OriginRule::CreditName => "credit-name",
        }
    }
}
