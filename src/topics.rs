//! Topic membership: which topics a story carried by a source belongs to, and why. Pure: the rules
//! come from the config, the entry from normalize or the store; nothing here does I/O.
//!
//! A topic's candidates are the sources that list it (or every source, with `all_sources`). A
//! candidate's entry is in the topic when the topic has no `[topic.filter]`, or when it passes
//! every rule the filter gives. Keywords match whole words, case- and diacritics-insensitively:
//! text and keywords are both folded (`text::fold_words`), so "an ninh mang" matches "An ninh
//! mạng" and "siber" matches "Siber" but not "cybersiberia". Every entry is also in the built-in
//! topic `all`.

use std::cell::OnceCell;
use std::fmt;

use crate::config::{ALL_TOPIC, Config, TopicConfig, TopicFilter};
use crate::model::TopicSlug;
use crate::text::{FoldedFields, fold_words, folded_line, hash_parts, strip_tags};

/// What membership looks at in an entry.
#[derive(Debug, Clone, Copy, Default)]
pub struct EntryView<'a> {
    pub title: &'a str,
    /// Sanitized HTML, as normalize produces it.
    pub summary_html: Option<&'a str>,
    pub content_html: Option<&'a str>,
    pub categories: &'a [String],
    pub authors: &'a [String],
    /// The entry's language, else its feed's.
    pub language: Option<&'a str>,
    /// The title, summary and content already folded, when normalize made them.
    pub folded: Option<&'a FoldedFields>,
}

/// What membership looks at in a freshly normalized entry.
pub fn view(entry: &crate::model::NewEntry) -> EntryView<'_> {
    EntryView {
        title: &entry.title,
        summary_html: entry.summary_html.as_deref(),
        content_html: entry.content_html.as_deref(),
        categories: &entry.categories,
        authors: &entry.authors,
        language: entry.language.as_deref(),
        folded: Some(&entry.folded),
    }
}

/// What membership looks at in a stored story.
pub fn stored_view(story: &crate::model::StoryForTopics) -> EntryView<'_> {
    EntryView {
        title: &story.title,
        summary_html: story.summary_html.as_deref(),
        content_html: story.content_html.as_deref(),
        categories: &story.categories,
        authors: &story.authors,
        language: story.language.as_deref(),
        folded: None,
    }
}

/// The part of an entry a rule matched in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Title,
    Summary,
    Content,
    Category,
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Field::Title => "title",
            Field::Summary => "summary",
            Field::Content => "content",
            Field::Category => "category",
        })
    }
}

/// Why an entry is in a topic: every rule that let it in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// The source lists the topic (and the topic has no filter, or it passed).
    Listed,
    /// The topic takes every source.
    AllSources,
    Any {
        keyword: String,
        field: Field,
    },
    /// No `none` keyword occurs.
    NoneExcluded,
    Regex {
        field: Field,
    },
    Category(String),
    Language(String),
    Author(String),
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::Listed => f.write_str("source lists the topic"),
            Reason::AllSources => f.write_str("all_sources"),
            Reason::Any { keyword, field } => write!(f, "any \"{keyword}\" in {field}"),
            Reason::NoneExcluded => f.write_str("no \"none\" keyword"),
            Reason::Regex { field } => write!(f, "regex in {field}"),
            Reason::Category(c) => write!(f, "category \"{c}\""),
            Reason::Language(l) => write!(f, "language {l}"),
            Reason::Author(a) => write!(f, "author \"{a}\""),
        }
    }
}

/// The topics of a config, ready to match entries against.
#[derive(Debug, Clone)]
pub struct TopicRules {
    topics: Vec<Topic>,
    fingerprint: String,
}

#[derive(Debug, Clone)]
struct Topic {
    slug: TopicSlug,
    all_sources: bool,
    filter: Option<Filter>,
}

/// A `[topic.filter]` with its words folded once.
#[derive(Debug, Clone)]
struct Filter {
    /// Each keyword as written, and its needle.
    any: Vec<(String, String)>,
    none: Vec<String>,
    regex: Option<regex::Regex>,
    categories: Vec<Vec<String>>,
    languages: Vec<String>,
    authors: Vec<Vec<String>>,
}

impl Filter {
    fn new(filter: &TopicFilter) -> Filter {
        Filter {
            any: filter
                .any
                .iter()
                .map(|k| (k.clone(), needle(&fold_words(k))))
                .collect(),
            none: filter.none.iter().map(|k| needle(&fold_words(k))).collect(),
            regex: filter.regex.clone(),
            categories: filter.categories.iter().map(|c| fold_words(c)).collect(),
            languages: filter.languages.clone(),
            authors: filter.authors.iter().map(|a| fold_words(a)).collect(),
        }
    }

    /// The reasons the entry passes, or `None` when a rule keeps it out.
    fn check(&self, entry: &EntryView<'_>, text: &FoldedText<'_>) -> Option<Vec<Reason>> {
        let mut reasons = Vec::new();
        if !self.any.is_empty() {
            let (keyword, field) = self
                .any
                .iter()
                .find_map(|(keyword, needle)| text.find(needle).map(|field| (keyword, field)))?;
            reasons.push(Reason::Any {
                keyword: keyword.clone(),
                field,
            });
        }
        if !self.none.is_empty() {
            if self.none.iter().any(|needle| text.find(needle).is_some()) {
                return None;
            }
            reasons.push(Reason::NoneExcluded);
        }
        if let Some(regex) = &self.regex {
            let field = text.regex_field(regex)?;
            reasons.push(Reason::Regex { field });
        }
        if !self.categories.is_empty() {
            let category = entry
                .categories
                .iter()
                .find(|c| self.categories.contains(&fold_words(c)))?;
            reasons.push(Reason::Category(category.clone()));
        }
        if !self.languages.is_empty() {
            let language = entry.language?;
            let primary = language
                .split(['-', '_'])
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            if !self.languages.contains(&primary) {
                return None;
            }
            reasons.push(Reason::Language(language.to_string()));
        }
        if !self.authors.is_empty() {
            let author = entry
                .authors
                .iter()
                .find(|a| self.authors.contains(&fold_words(a)))?;
            reasons.push(Reason::Author(author.clone()));
        }
        Some(reasons)
    }
}

/// An entry's text folded for matching (lines as in [`FoldedFields`]): taken from normalize when
/// it made them, else folded on first use (most topics never need it).
struct FoldedText<'a> {
    entry: &'a EntryView<'a>,
    folded: OnceCell<FoldedFields>,
    plain_summary: OnceCell<String>,
    plain_content: OnceCell<String>,
    categories: OnceCell<String>,
}

/// A phrase's words as the needle to look for in a folded line.
fn needle(words: &[String]) -> String {
    format!(" {} ", words.join(" "))
}

impl<'a> FoldedText<'a> {
    fn new(entry: &'a EntryView<'a>) -> FoldedText<'a> {
        FoldedText {
            entry,
            folded: OnceCell::new(),
            plain_summary: OnceCell::new(),
            plain_content: OnceCell::new(),
            categories: OnceCell::new(),
        }
    }

    fn plain_summary(&self) -> &str {
        self.plain_summary
            .get_or_init(|| self.entry.summary_html.map(strip_tags).unwrap_or_default())
    }

    fn plain_content(&self) -> &str {
        self.plain_content
            .get_or_init(|| self.entry.content_html.map(strip_tags).unwrap_or_default())
    }

    fn folded(&self) -> &FoldedFields {
        match self.entry.folded {
            Some(folded) => folded,
            None => self.folded.get_or_init(|| {
                FoldedFields::new(
                    self.entry.title,
                    self.entry.summary_html,
                    self.entry.content_html,
                )
            }),
        }
    }

    /// The first field in which `needle` (see [`needle`]) occurs.
    fn find(&self, needle: &str) -> Option<Field> {
        let folded = self.folded();
        if folded.title.contains(needle) {
            return Some(Field::Title);
        }
        if folded.summary.contains(needle) {
            return Some(Field::Summary);
        }
        if folded.content.contains(needle) {
            return Some(Field::Content);
        }
        // Categories are one line each, kept apart by a character folding never produces.
        let categories = self.categories.get_or_init(|| {
            self.entry
                .categories
                .iter()
                .map(|c| folded_line(c))
                .collect::<Vec<_>>()
                .join("\n")
        });
        categories.contains(needle).then_some(Field::Category)
    }

    fn regex_field(&self, regex: &regex::Regex) -> Option<Field> {
        if regex.is_match(self.entry.title) {
            Some(Field::Title)
        } else if regex.is_match(self.plain_summary()) {
            Some(Field::Summary)
        } else if regex.is_match(self.plain_content()) {
            Some(Field::Content)
        } else {
            self.entry
                .categories
                .iter()
                .any(|c| regex.is_match(c))
                .then_some(Field::Category)
        }
    }
}

impl TopicRules {
    pub fn new(config: &Config) -> TopicRules {
        TopicRules {
            topics: config
                .topics
                .iter()
                .map(|t| Topic {
                    slug: t.slug.clone(),
                    all_sources: t.all_sources,
                    filter: t.filter.as_ref().map(Filter::new),
                })
                .collect(),
            fingerprint: fingerprint(config),
        }
    }

    /// Identifies the rules and every source's listed topics: when it differs from the one the
    /// stored membership was computed with, membership is recomputed.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// The topics an entry carried by a source listing `listed` belongs to, `all` first.
    pub fn assign(&self, listed: &[TopicSlug], entry: &EntryView<'_>) -> Vec<TopicSlug> {
        let text = FoldedText::new(entry);
        let mut topics = vec![TopicSlug::all()];
        topics.extend(
            self.topics
                .iter()
                .filter(|t| Self::check(t, listed, entry, &text).is_some())
                .map(|t| t.slug.clone()),
        );
        topics
    }

    /// Why the entry is in topic `slug`, or `None` when it is not (or no such topic exists).
    pub fn explain(
        &self,
        slug: &str,
        listed: &[TopicSlug],
        entry: &EntryView<'_>,
    ) -> Option<Vec<Reason>> {
        let topic = self.topics.iter().find(|t| t.slug.as_str() == slug)?;
        Self::check(topic, listed, entry, &FoldedText::new(entry))
    }

    fn check(
        topic: &Topic,
        listed: &[TopicSlug],
        entry: &EntryView<'_>,
        text: &FoldedText<'_>,
    ) -> Option<Vec<Reason>> {
        let mut reasons = vec![if listed.contains(&topic.slug) {
            Reason::Listed
        } else if topic.all_sources {
            Reason::AllSources
        } else {
            return None;
        }];
        if let Some(filter) = &topic.filter {
            reasons.extend(filter.check(entry, text)?);
        }
        Some(reasons)
    }
}

/// A digest of everything membership depends on: each topic's rules and each source's topics.
fn fingerprint(config: &Config) -> String {
    let mut parts: Vec<String> = vec!["topics/1".into(), ALL_TOPIC.into()];
    for TopicConfig {
        slug,
        all_sources,
        filter,
        ..
    } in &config.topics
    {
        parts.push(format!("topic {slug} all_sources={all_sources}"));
        if let Some(f) = filter {
            parts.push(format!(
                "any={:?} none={:?} regex={:?} categories={:?} languages={:?} authors={:?}",
                f.any,
                f.none,
                f.regex.as_ref().map(regex::Regex::as_str),
                f.categories,
                f.languages,
                f.authors
            ));
        }
    }
    for source in &config.sources {
        parts.push(format!("source {} {:?}", source.url, source.topics));
    }
    let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
    hash_parts(&parts)
}

#[cfg(test)]
mod tests;
