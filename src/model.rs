//! Plain domain types shared by the stages. No I/O here, and no dependency on rusqlite, reqwest or
//! feed-rs: stages talk to each other in these terms.

use std::fmt;

mod key;
mod source;
mod story;

pub use key::{EntryKey, KeyKind};
pub use source::{GONE_AFTER, Lease, ScheduleRecord, SourceHealth, SourceState, says_gone};
pub use story::{
    Credit, Origin, OriginRule, SourceLabel, SourceRef, StoredEntry, TopicSlice, TopicSummary,
};

/// The topic every entry belongs to; it cannot be declared in feeds.toml.
pub const ALL_TOPIC: &str = "all";

/// Row id of a source in the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SourceId(pub i64);

/// Seconds since the Unix epoch, UTC. Every time in the store and the pipeline is one of these.
pub type Timestamp = i64;

/// A position in a topic's order (newest first: sort time, then entry id, both descending). A page
/// that starts `before` it holds only entries strictly older; written `<sort_at>.<entry_id>` in
/// the `?before=` parameter (RFC 5005 §3 paging links).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PageCursor {
    pub sort_at: Timestamp,
    pub entry_id: i64,
}

impl std::str::FromStr for PageCursor {
    type Err = String;

    fn from_str(text: &str) -> Result<PageCursor, String> {
        let invalid =
            || format!("invalid cursor \"{text}\": expected <time>.<entry id>, e.g. 1700000000.42");
        let (sort_at, entry_id) = text.split_once('.').ok_or_else(invalid)?;
        // Plain decimal digits only (and a minus for times before 1970): no `+`, spaces or
        // exponents.
        let number = |s: &str, signed: bool| -> Option<i64> {
            let digits = if signed {
                s.strip_prefix('-').unwrap_or(s)
            } else {
                s
            };
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            s.parse().ok()
        };
        Ok(PageCursor {
            sort_at: number(sort_at, true).ok_or_else(invalid)?,
            entry_id: number(entry_id, false).ok_or_else(invalid)?,
        })
    }
}

impl fmt::Display for PageCursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.sort_at, self.entry_id)
    }
}

/// A topic's URL name: `[a-z0-9-]+`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TopicSlug(String);

impl TopicSlug {
    pub fn new(text: &str) -> Result<TopicSlug, String> {
        if text.is_empty() {
            return Err("a topic slug must not be empty".into());
        }
        if let Some(bad) = text
            .chars()
            .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
        {
            return Err(format!(
                "invalid topic slug \"{text}\": {bad:?} is not allowed (use a-z, 0-9 and -)"
            ));
        }
        Ok(TopicSlug(text.to_string()))
    }

    /// The built-in topic holding every entry.
    pub fn all() -> TopicSlug {
        TopicSlug(ALL_TOPIC.to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TopicSlug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a feed says about itself, kept on the source row and used for attribution.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FeedMeta {
    pub title: Option<String>,
    /// The publisher's web site (the feed's `alternate` link).
    pub site_url: Option<String>,
    /// The feed's own id, only when the document supplies one (Atom `<id>`).
    pub feed_id: Option<String>,
    pub language: Option<String>,
}

/// A podcast enclosure or other attached media.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Enclosure {
    pub url: String,
    pub media_type: Option<String>,
    pub length: Option<u64>,
}

/// One entry as normalized from a source document, ready for dedup and storage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEntry {
    /// Identity within its source.
    pub key: EntryKey,
    /// The id we republish: the publisher's guid/id, else its link, else a URN of the content hash.
    pub public_id: String,
    pub link: Option<String>,
    /// The link in canonical form, for matching across sources (see `normalize::canonical`).
    pub canonical_url: Option<String>,
    /// Plain text.
    pub title: String,
    /// Sanitized HTML.
    pub summary_html: Option<String>,
    /// Sanitized HTML.
    pub content_html: Option<String>,
    pub authors: Vec<String>,
    pub categories: Vec<String>,
    pub enclosures: Vec<Enclosure>,
    pub language: Option<String>,
    /// When the publisher says it was published, or when we first saw it.
    pub published: Timestamp,
    /// When the publisher says it was last updated, if it says so.
    pub updated: Option<Timestamp>,
    /// Hash of what a reader sees (title, link, summary, content): a change is an update.
    pub content_hash: String,
    /// Near-duplicate signature of title and text (`dedup::fingerprint`), when there is
    /// enough text.
    pub signature: Option<[u32; 12]>,
    /// The numbers in the title, folded: stories whose titles carry different numbers differ.
    pub title_numbers: String,
    /// What the same-story rules compare besides the signature (see `dedup::text`).
    pub likeness: Likeness,
    /// A hash of the item as the source sent it (`normalize::item_hash`): the next time the
    /// source sends the same item, it is not normalized again.
    pub item_hash: Option<i64>,
    /// Where the entry says its story comes from, when it is a republication (an explicit source
    /// element, or a credit line); `normalize` finds it.
    pub origin: Option<Origin>,
    /// The title, summary and content folded for matching, shared by topic rules and search.
    pub folded: crate::text::FoldedFields,
    /// What the search index holds for the story (`FoldedFields::search_text`), made here rather
    /// than by the single writer.
    pub search_text: String,
    /// The topics this sighting puts the story in, `all` included (`topics::TopicRules::assign`);
    /// normalize leaves it empty.
    pub topics: Vec<TopicSlug>,
}

/// What of an entry the same-story rules look at besides its signature, made by normalize (off
/// the single writer) with `dedup::text`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Likeness {
    /// The title without the labels outlets add ("NÓNG:", "[Video]", "- Outlet").
    pub clean_title: String,
    /// What stories with this title share, when the title says enough to find a story by it
    /// (`dedup::text::title_key`).
    pub title_key: Option<u64>,
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

#[cfg(test)]
impl NewEntry {
    /// An entry for tests: guid `id`, the title as its only text and its content hash, in `all`.
    pub(crate) fn bare(id: &str, title: &str, published: Timestamp) -> NewEntry {
        NewEntry {
            key: EntryKey::guid(id),
            public_id: id.into(),
            link: None,
            canonical_url: None,
            title: title.into(),
            summary_html: None,
            content_html: None,
            authors: vec![],
            categories: vec![],
            enclosures: vec![],
            language: None,
            published,
            updated: None,
            content_hash: title.into(),
            signature: None,
            title_numbers: String::new(),
            likeness: Likeness::default(),
            item_hash: None,
            origin: None,
            folded: Default::default(),
            search_text: String::new(),
            topics: vec![TopicSlug::all()],
        }
    }
}

/// A stored story with what topic membership looks at, and the sources that carried it.
#[derive(Debug, Clone)]
pub struct StoryForTopics {
    pub id: i64,
    pub title: String,
    pub link: Option<String>,
    pub summary_html: Option<String>,
    pub content_html: Option<String>,
    pub categories: Vec<String>,
    pub authors: Vec<String>,
    pub language: Option<String>,
    pub published: Timestamp,
    /// The title of the source that carried it first.
    pub source_title: String,
    /// Every source that carried it, the first first.
    pub sources: Vec<SourceId>,
    /// The other sources that carried it, each with the same-story rule that joined it
    /// (`dedup::Reason::as_str`); read for `test-topic` only.
    pub joined: Vec<(String, String)>,
}

/// What one refresh did to the store.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RefreshStats {
    /// Stories new to this source (including ones merged into another source's story).
    pub new: usize,
    pub updated: usize,
    pub unchanged: usize,
    /// Of `new`, stories another source carried already.
    pub merged: usize,
    /// Entries whose guid changed while their link stayed.
    pub churned: usize,
    /// This refresh made the source switch to link identity.
    pub switched_to_link: bool,
    /// Of `unchanged`, entries the source sent exactly as last time: not normalized again.
    pub reused: usize,
    /// Republications joined to the original they credit in its language: arriving after it
    /// (of `merged`), or taken in by it as it arrived.
    pub origin_copies: usize,
    /// Republications in another language kept as translations of their original: arriving
    /// after it (of `merged`), or taken in by it as it arrived.
    pub translations: usize,
}

impl RefreshStats {
    pub fn add(&mut self, other: RefreshStats) {
        self.new += other.new;
        self.updated += other.updated;
        self.unchanged += other.unchanged;
        self.merged += other.merged;
        self.churned += other.churned;
        self.reused += other.reused;
        self.origin_copies += other.origin_copies;
        self.translations += other.translations;
    }
}

/// HTTP cache validators a server gave us for a source.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Validators {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

/// Why a refresh failed, in the terms an operator acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailureClass {
    Dns,
    Connect,
    Tls,
    Timeout,
    Http4xx,
    Http5xx,
    TooLarge,
    NotAFeed,
    Parse,
    Redirect,
    /// Refused by the SSRF guard or the scheme check.
    Refused,
    /// A fault of ours (the database, a task), not of the source.
    Internal,
}

impl FailureClass {
    pub fn as_str(self) -> &'static str {
        match self {
            FailureClass::Dns => "dns",
            FailureClass::Connect => "connect",
            FailureClass::Tls => "tls",
            FailureClass::Timeout => "timeout",
            FailureClass::Http4xx => "http-4xx",
            FailureClass::Http5xx => "http-5xx",
            FailureClass::TooLarge => "too-large",
            FailureClass::NotAFeed => "not-a-feed",
            FailureClass::Parse => "parse",
            FailureClass::Redirect => "redirect",
            FailureClass::Refused => "refused",
            FailureClass::Internal => "internal",
        }
    }
}

/// What time it is: the system clock in the daemon, a fixed or stepped one in tests, so that due
/// times and retention can be checked exactly.
pub type Clock = std::sync::Arc<dyn Fn() -> Timestamp + Send + Sync>;

/// How a refresh ended, without its details: what the fetch counters are labelled by and what
/// the scheduler loop tallies for `/healthz`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutcomeKind {
    /// A new document was parsed and stored.
    Stored,
    /// 304: the server says nothing changed.
    NotModified,
    /// 200 with the same body as last time.
    Unchanged,
    Failed,
}

impl OutcomeKind {
    /// Every kind, in the order of their labels in `/metrics`.
    pub const ALL: [OutcomeKind; 4] = [
        OutcomeKind::Stored,
        OutcomeKind::NotModified,
        OutcomeKind::Unchanged,
        OutcomeKind::Failed,
    ];

    /// The `outcome` label of `tributary_fetches_total`.
    pub fn as_str(self) -> &'static str {
        match self {
            OutcomeKind::Stored => "stored",
            OutcomeKind::NotModified => "not_modified",
            OutcomeKind::Unchanged => "unchanged",
            OutcomeKind::Failed => "failed",
        }
    }
}
