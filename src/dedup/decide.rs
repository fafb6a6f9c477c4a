//! The one decision "is this the same story?", for one normalized entry, from what the store
//! found. Pure: the store looks candidates up ([`Found`]), calls [`decide`], and carries out the
//! [`Decision`]; every engine shares this order of the rules.
//!
//! The rules, first match wins:
//! 1. **Same key**: this source already carries the entry under its key. Unchanged text is only
//!    seen again; changed text updates the story when this source is the one it is published
//!    from, and otherwise leaves the story as published (another source's copy changed).
//! 2. **Moved key**: this source carries a story at the entry's canonical URL under a key that
//!    left the document (its guid changed, or the source's identity switched): the same story,
//!    re-keyed, then as rule 1.
//! 3. **Tombstone**: the key was pruned; the feed still lists it, but it stays gone.
//! 4. **Same canonical URL** in another source: one more sighting of that story.
//! 5. **Origin**: the entry credits a stored story as its original (its origin's canonical URL is
//!    that story's, see `normalize::origin`): in the same language (or when either language is
//!    unknown) one more sighting of it; in another language a translation of it — a version
//!    shown with the story, not a story of its own.
//! 6. **Near duplicate** in another source (see [`super::near_match`]): the same title with one
//!    side a lead contained in the other, or title and text alike — unless the titles carry
//!    different numbers or name different places or people. One more sighting.
//! 7. Otherwise a new story; and when stored stories credit it as their original (they arrived
//!    first), it becomes their story: those in its language join it as sightings, those in
//!    another become its translations ([`Decision::adopt`]).

use crate::model::{EntryKey, KeyKind, NewEntry, Timestamp};

use super::{Candidate, NearDuplicates};

/// What the store holds of one of this source's stories.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Known {
    pub story: i64,
    /// The hash of this source's version of it.
    pub hash: String,
    pub updated_at: Timestamp,
    /// Where the story sorts in its topics.
    pub published_at: Timestamp,
    /// Whether this source is the one the story is published under (its first sighting).
    pub primary: bool,
}

/// Another source's story, as far as a merge needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OtherStory {
    pub story: i64,
    pub published_at: Timestamp,
}

/// A stored story as the origin rules need it: where it sorts, its language, and its signature
/// (to tell a copy from a translation when a language is unknown).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OriginStory {
    pub story: i64,
    pub published_at: Timestamp,
    pub language: Option<String>,
    pub signature: Option<super::fingerprint::Signature>,
    /// The story's versions in other languages it has already: (row, language).
    pub versions: Vec<(i64, Option<String>)>,
}

/// Whether two languages are known and the same (primary subtags compared).
fn same_language(a: Option<&str>, b: Option<&str>) -> bool {
    matches!((a, b), (Some(a), Some(b)) if !a.is_empty() && !b.is_empty() && !other_language(Some(a), Some(b)))
}

/// Whether a republication and its original are in different languages: by their languages when
/// both are known; else by their words — a copy shares most of its original's, a translation
/// hardly any (the near-duplicate threshold decides; without signatures, a copy).
fn translation_of(entry: &NewEntry, original: &OriginStory, near: NearDuplicates) -> bool {
    match (entry.language.as_deref(), original.language.as_deref()) {
        (Some(a), Some(b)) if !a.is_empty() && !b.is_empty() => other_language(Some(a), Some(b)),
        _ => match (&entry.signature, &original.signature) {
            (Some(a), Some(b)) => super::fingerprint::similarity(a, b) < near.threshold.min(1.0),
            _ => false,
        },
    }
}

/// What the store found that bears on one entry of a document.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Found {
    /// This source's sighting under the entry's key.
    pub same_key: Option<Known>,
    /// A sighting of this source at the entry's canonical URL whose key left the document, with
    /// that key.
    pub moved_key: Option<(EntryKey, Known)>,
    /// This source pruned a story under the entry's key.
    pub tombstoned: bool,
    /// Another source's story at the entry's canonical URL.
    pub same_url: Option<OtherStory>,
    /// Other sources' stories sharing a band key with the entry; only looked up when
    /// [`wants_neighbours`] says the earlier rules found nothing.
    pub neighbours: Vec<Candidate>,
    /// The stored story the entry credits as its original (at its origin's canonical URL).
    pub origin: Option<OriginStory>,
    /// Stored stories that credit the entry (its canonical URL) as their original.
    pub republications: Vec<OriginStory>,
}

/// What to do with the entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Mark this source's sighting seen; the story is as stored.
    Unchanged { story: i64 },
    /// This source's text changed and the story is published from it: rewrite the story with
    /// `updated` as its update time.
    Update {
        story: i64,
        updated: Timestamp,
        sort_at: Timestamp,
    },
    /// Another source publishes the story and this source's copy changed: record the copy's new
    /// text on the sighting, and put the story in any new topics the text qualifies for.
    CopyChanged { story: i64, sort_at: Timestamp },
    /// Nothing: the story was pruned from this source.
    Skip,
    /// Add this source's sighting to another source's story.
    Merge { story: i64, sort_at: Timestamp },
    /// Store the entry as `story`'s version in another language, with this source's sighting
    /// of it; the story's topics gain this source's.
    Translation { story: i64, sort_at: Timestamp },
    /// Store a new story, updated at `updated`.
    New { updated: Timestamp },
}

/// Which rule decided, for logs and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    SameKey,
    MovedKey,
    Tombstone,
    SameCanonicalUrl,
    NearDuplicate,
    /// The same title, one side only a lead found in the other (see [`super::NearMatch`]).
    TitleAndLead,
    /// A republication crediting the story as its original, in the same language.
    Origin,
    /// A republication crediting the story as its original, in another language.
    Translation,
    NoMatch,
}

impl Reason {
    /// The rule's name in logs, `test-topic` and the store (`sightings.joined_by`).
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::SameKey => "same-key",
            Reason::MovedKey => "moved-key",
            Reason::Tombstone => "tombstone",
            Reason::SameCanonicalUrl => "same-url",
            Reason::NearDuplicate => "near-duplicate",
            Reason::TitleAndLead => "title-and-lead",
            Reason::Origin => "origin",
            Reason::Translation => "translation",
            Reason::NoMatch => "new",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub action: Action,
    pub reason: Reason,
    /// The key this source's sighting is stored under now and must be replaced by the entry's.
    pub rekey: Option<EntryKey>,
    /// A guid replaced by another guid: evidence that the publisher's guids are unstable (see
    /// [`switch_to_link`]).
    pub churned: bool,
    /// Stored stories that credit a new story as their original, and become part of it.
    pub adopt: Vec<Adopted>,
}

/// A stored republication a new original takes in (see rule 7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Adopted {
    pub story: i64,
    /// In another language: it becomes the new story's translation; else its sightings join
    /// the new story and it goes.
    pub translation: bool,
    /// A translation into a language another adopted one is in already (the first of them):
    /// its sightings join that version and it goes, so that a story has one version a language.
    pub into: Option<i64>,
}

/// Whether two entries' languages are known to differ (primary subtags compared: "vi-VN" is
/// "vi"). Unknown on either side counts as the same.
pub fn other_language(a: Option<&str>, b: Option<&str>) -> bool {
    let primary = |tag: &str| {
        tag.split(['-', '_'])
            .next()
            .unwrap_or("")
            .to_ascii_lowercase()
    };
    match (a, b) {
        (Some(a), Some(b)) => {
            let (a, b) = (primary(a), primary(b));
            !a.is_empty() && !b.is_empty() && a != b
        }
        _ => false,
    }
}

/// Whether the rules before the near-duplicate one found nothing, so that the store should look
/// up neighbours (a lookup per band key, not worth making for a story already known).
pub fn wants_neighbours(found: &Found, near: NearDuplicates) -> bool {
    found.same_key.is_none()
        && found.moved_key.is_none()
        && !found.tombstoned
        && found.same_url.is_none()
        && (!near.origins || (found.origin.is_none() && found.republications.is_empty()))
}

/// Decides what becomes of `entry`, seen at `now` by one source, given what the store found.
pub fn decide(entry: &NewEntry, found: &Found, near: NearDuplicates, now: Timestamp) -> Decision {
    let decision = |action, reason| Decision {
        action,
        reason,
        rekey: None,
        churned: false,
        adopt: Vec::new(),
    };
    if let Some(known) = &found.same_key {
        return decision(known_story(entry, known, now), Reason::SameKey);
    }
    if let Some((old_key, known)) = &found.moved_key {
        return Decision {
            action: known_story(entry, known, now),
            reason: Reason::MovedKey,
            rekey: Some(old_key.clone()),
            churned: old_key.kind() == KeyKind::Guid && entry.key.kind() == KeyKind::Guid,
            adopt: Vec::new(),
        };
    }
    if found.tombstoned {
        return decision(Action::Skip, Reason::Tombstone);
    }
    if let Some(other) = found.same_url {
        return decision(
            Action::Merge {
                story: other.story,
                sort_at: other.published_at,
            },
            Reason::SameCanonicalUrl,
        );
    }
    if let Some(origin) = found.origin.as_ref().filter(|_| near.origins) {
        let sort_at = origin.published_at;
        return if translation_of(entry, origin, near) {
            // One version a language: a second translation into it is a copy of the first.
            let version = origin.versions.iter().find(|(_, language)| {
                same_language(language.as_deref(), entry.language.as_deref())
            });
            match version {
                Some(&(version, _)) => decision(
                    Action::Merge {
                        story: version,
                        sort_at,
                    },
                    Reason::Translation,
                ),
                None => decision(
                    Action::Translation {
                        story: origin.story,
                        sort_at,
                    },
                    Reason::Translation,
                ),
            }
        } else {
            decision(
                Action::Merge {
                    story: origin.story,
                    sort_at,
                },
                Reason::Origin,
            )
        };
    }
    // Stored stories crediting the entry as their original: it is theirs (rule 7), before any
    // likeness to one of them could make it their copy.
    if near.origins && !found.republications.is_empty() {
        return new_story(entry, found, near);
    }
    if let Some((story, sort_at, how)) = super::near_match(entry, near, &found.neighbours) {
        let reason = match how {
            super::NearMatch::Similar(_) => Reason::NearDuplicate,
            super::NearMatch::TitleAndLead(_) => Reason::TitleAndLead,
        };
        return decision(Action::Merge { story, sort_at }, reason);
    }
    new_story(entry, found, near)
}

/// Rule 7: a new story, taking in the stored stories that credit it as their original.
fn new_story(entry: &NewEntry, found: &Found, near: NearDuplicates) -> Decision {
    let mut new = Decision {
        action: Action::New {
            updated: entry
                .updated
                .unwrap_or(entry.published)
                .max(entry.published),
        },
        reason: Reason::NoMatch,
        rekey: None,
        churned: false,
        adopt: Vec::new(),
    };
    let mut adopt: Vec<(Adopted, Option<&str>)> = Vec::new();
    for r in found.republications.iter().filter(|_| near.origins) {
        let translation = translation_of(entry, r, near);
        let into = adopt
            .iter()
            .find(|(a, language)| {
                translation
                    && a.translation
                    && a.into.is_none()
                    && same_language(*language, r.language.as_deref())
            })
            .map(|(a, _)| a.story);
        adopt.push((
            Adopted {
                story: r.story,
                translation,
                into,
            },
            r.language.as_deref(),
        ));
    }
    new.adopt = adopt.into_iter().map(|(a, _)| a).collect();
    new
}

/// Rule 1 for a story this source carries.
fn known_story(entry: &NewEntry, known: &Known, now: Timestamp) -> Action {
    if known.hash == entry.content_hash {
        return Action::Unchanged { story: known.story };
    }
    if !known.primary {
        return Action::CopyChanged {
            story: known.story,
            sort_at: known.published_at,
        };
    }
    // The publisher's own update time when it moved forward, else the time we noticed.
    let updated = entry
        .updated
        .filter(|u| *u > known.updated_at)
        .unwrap_or(now.max(known.updated_at));
    Action::Update {
        story: known.story,
        updated,
        sort_at: known.published_at,
    }
}

/// Whether a document's guid churn (see [`Decision::churned`]) says the source's guids change on
/// every fetch while its links stay, so that it should be identified by link from now on: at
/// least two churned entries, and at least half of the document.
pub fn switch_to_link(churned: usize, entries: usize) -> bool {
    churned >= 2 && churned * 2 >= entries
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dedup::fingerprint;

    const NOW: Timestamp = 1_800_000_000;
    const TEXT: &str = "Thành phố Hà Nội công bố kế hoạch xây dựng ba tuyến đường sắt đô thị mới \
        trong giai đoạn tới với tổng vốn đầu tư lớn nhằm giảm ùn tắc giao thông cho người dân";

    fn entry(key: EntryKey, hash: &str) -> NewEntry {
        let title = "Hà Nội xây 3 tuyến đường sắt";
        let mut e = NewEntry::bare("x", title, NOW - 3_600);
        e.key = key;
        e.content_hash = hash.into();
        e.signature = fingerprint::signature(title, TEXT);
        e.title_numbers = fingerprint::title_numbers(title);
        e
    }

    fn known(story: i64, hash: &str, primary: bool) -> Known {
        Known {
            story,
            hash: hash.into(),
            updated_at: NOW - 7_200,
            published_at: NOW - 9_000,
            primary,
        }
    }

    fn neighbour(story: i64, of: &NewEntry, title_numbers: &str) -> Candidate {
        Candidate {
            id: story,
            published: NOW - 500,
            signature: of.signature,
            title_numbers: title_numbers.into(),
            title: of.title.clone(),
            text: None,
        }
    }

    /// (case, entry, found, expected action, reason, re-keyed from, churned)
    type Case = (
        &'static str,
        NewEntry,
        Found,
        Action,
        Reason,
        Option<EntryKey>,
        bool,
    );

    #[test]
    fn republications_join_their_original_as_copies_or_translations() {
        let in_language = |language: Option<&str>| NewEntry {
            language: language.map(String::from),
            ..entry(EntryKey::guid("rep"), "h")
        };
        let stored = |story: i64, language: Option<&str>| OriginStory {
            story,
            published_at: NOW - 500,
            language: language.map(String::from),
            signature: None,
            versions: Vec::new(),
        };
        let near = NearDuplicates::default();
        // (what, entry's language, the origin's, expected action, reason)
        let cases = [
            (
                "same language",
                Some("vi"),
                Some("vi-VN"),
                "merge",
                Reason::Origin,
            ),
            (
                "another language",
                Some("id"),
                Some("vi"),
                "translation",
                Reason::Translation,
            ),
            (
                "the entry's language unknown",
                None,
                Some("vi"),
                "merge",
                Reason::Origin,
            ),
            (
                "the original's language unknown",
                Some("ms"),
                None,
                "merge",
                Reason::Origin,
            ),
        ];
        for (what, language, origin_language, expected, reason) in cases {
            let found = Found {
                origin: Some(stored(40, origin_language)),
                neighbours: vec![neighbour(80, &in_language(language), "")],
                ..Found::default()
            };
            assert!(
                !wants_neighbours(&found, near),
                "{what}: the origin decides"
            );
            let decision = decide(&in_language(language), &found, near, NOW);
            let action = match decision.action {
                Action::Merge { story: 40, sort_at } if sort_at == NOW - 500 => "merge",
                Action::Translation { story: 40, sort_at } if sort_at == NOW - 500 => "translation",
                _ => "other",
            };
            assert_eq!((action, decision.reason), (expected, reason), "{what}");
        }
        // A language unknown: the words tell — a copy shares its original's, a translation not.
        let unknown = in_language(None);
        let with_text = |text: &str| OriginStory {
            signature: fingerprint::signature("Mưa lớn ở Hà Nội", text),
            ..stored(40, Some("vi"))
        };
        let copy = OriginStory {
            signature: unknown.signature,
            ..stored(40, Some("vi"))
        };
        let translated = with_text(
            "Hujan lebat mengguyur ibu kota Vietnam sejak pagi hari sehingga banyak jalan \
             tergenang air setinggi lutut orang dewasa dan lalu lintas lumpuh total",
        );
        for (origin, expected) in [(copy, Reason::Origin), (translated, Reason::Translation)] {
            let found = Found {
                origin: Some(origin),
                ..Found::default()
            };
            assert_eq!(decide(&unknown, &found, near, NOW).reason, expected);
        }
        // The same canonical URL is a copy of that story, whatever the entry credits.
        let found = Found {
            same_url: Some(OtherStory {
                story: 9,
                published_at: NOW,
            }),
            origin: Some(stored(40, Some("id"))),
            ..Found::default()
        };
        assert_eq!(
            decide(&in_language(Some("vi")), &found, near, NOW).reason,
            Reason::SameCanonicalUrl
        );
        // An original arriving after its republications takes them in: its language's as
        // copies, the others' as translations.
        let found = Found {
            republications: vec![
                stored(50, Some("id")),
                stored(51, Some("vi")),
                stored(52, None),
            ],
            ..Found::default()
        };
        let decision = decide(&in_language(Some("vi")), &found, near, NOW);
        assert!(matches!(decision.action, Action::New { .. }));
        assert_eq!(
            decision.adopt,
            [
                Adopted {
                    story: 50,
                    translation: true,
                    into: None
                },
                Adopted {
                    story: 51,
                    translation: false,
                    into: None
                },
                Adopted {
                    story: 52,
                    translation: false,
                    into: None
                },
            ]
        );
        // The original of stored republications is theirs even when one of them (a reprint in
        // its language) is also alike enough to take it as a copy.
        let original = in_language(Some("vi"));
        let found = Found {
            republications: vec![stored(51, Some("vi"))],
            neighbours: vec![neighbour(51, &original, &original.title_numbers)],
            ..Found::default()
        };
        assert!(!wants_neighbours(&found, near));
        let decision = decide(&original, &found, near, NOW);
        assert!(
            matches!(decision.action, Action::New { .. }),
            "{decision:?}"
        );
        assert_eq!(decision.adopt.len(), 1);
        // A second translation into one language joins the first as its copy.
        let found = Found {
            origin: Some(OriginStory {
                versions: vec![(61, Some("id".into()))],
                ..stored(40, Some("vi"))
            }),
            ..Found::default()
        };
        assert_eq!(
            decide(&in_language(Some("id")), &found, near, NOW).action,
            Action::Merge {
                story: 61,
                sort_at: NOW - 500
            }
        );
        // A story already known to this source adopts nothing.
        let found = Found {
            same_key: Some(known(1, "h", true)),
            republications: vec![stored(50, Some("id"))],
            ..Found::default()
        };
        assert!(
            decide(&in_language(Some("vi")), &found, near, NOW)
                .adopt
                .is_empty()
        );
        // `[dedup] origins = false`: credits join nothing.
        let off = NearDuplicates {
            origins: false,
            ..near
        };
        let found = Found {
            origin: Some(stored(40, Some("id"))),
            republications: vec![stored(50, Some("id"))],
            ..Found::default()
        };
        assert!(wants_neighbours(&found, off));
        let decision = decide(&in_language(Some("vi")), &found, off, NOW);
        assert_eq!(decision.reason, Reason::NoMatch);
        assert!(decision.adopt.is_empty());
    }

    #[test]
    fn languages_differ_only_when_both_are_known() {
        assert!(other_language(Some("vi"), Some("id")));
        assert!(other_language(Some("en-GB"), Some("ms")));
        assert!(!other_language(Some("vi-VN"), Some("VI")));
        assert!(!other_language(Some("zh_Hant"), Some("zh-Hans")));
        assert!(!other_language(None, Some("vi")));
        assert!(!other_language(Some(""), Some("vi")));
    }

    #[test]
    fn same_story_decisions_follow_the_rules_in_order() {
        let guid = || EntryKey::guid("g-2");
        let e = entry(guid(), "h1");
        let other = OtherStory {
            story: 70,
            published_at: NOW - 100,
        };
        let twin = neighbour(80, &e, &e.title_numbers);
        let part_two = neighbour(81, &e, "2");
        let near = NearDuplicates::default();
        let cases: Vec<Case> = vec![
            (
                "same key, same text: seen again",
                e.clone(),
                Found {
                    same_key: Some(known(1, "h1", true)),
                    same_url: Some(other),
                    neighbours: vec![twin.clone()],
                    ..Found::default()
                },
                Action::Unchanged { story: 1 },
                Reason::SameKey,
                None,
                false,
            ),
            (
                "same key, new text, published from this source: updated now",
                e.clone(),
                Found {
                    same_key: Some(known(1, "h0", true)),
                    ..Found::default()
                },
                Action::Update {
                    story: 1,
                    updated: NOW,
                    sort_at: NOW - 9_000,
                },
                Reason::SameKey,
                None,
                false,
            ),
            (
                "same key, new text with the publisher's later update time",
                NewEntry {
                    updated: Some(NOW - 60),
                    ..e.clone()
                },
                Found {
                    same_key: Some(known(1, "h0", true)),
                    ..Found::default()
                },
                Action::Update {
                    story: 1,
                    updated: NOW - 60,
                    sort_at: NOW - 9_000,
                },
                Reason::SameKey,
                None,
                false,
            ),
            (
                "same key, new text with an update time older than stored: now",
                NewEntry {
                    updated: Some(NOW - 80_000),
                    ..e.clone()
                },
                Found {
                    same_key: Some(known(1, "h0", true)),
                    ..Found::default()
                },
                Action::Update {
                    story: 1,
                    updated: NOW,
                    sort_at: NOW - 9_000,
                },
                Reason::SameKey,
                None,
                false,
            ),
            (
                "same key, new text, another source publishes the story",
                e.clone(),
                Found {
                    same_key: Some(known(2, "h0", false)),
                    ..Found::default()
                },
                Action::CopyChanged {
                    story: 2,
                    sort_at: NOW - 9_000,
                },
                Reason::SameKey,
                None,
                false,
            ),
            (
                "guid changed, link stayed: re-keyed, counted as churn",
                e.clone(),
                Found {
                    moved_key: Some((EntryKey::guid("g-1"), known(3, "h1", true))),
                    tombstoned: true,
                    same_url: Some(other),
                    ..Found::default()
                },
                Action::Unchanged { story: 3 },
                Reason::MovedKey,
                Some(EntryKey::guid("g-1")),
                true,
            ),
            (
                "identity switched to link: re-keyed, not churn",
                entry(EntryKey::link("https://x.example/a"), "h2"),
                Found {
                    moved_key: Some((EntryKey::guid("g-1"), known(3, "h1", true))),
                    ..Found::default()
                },
                Action::Update {
                    story: 3,
                    updated: NOW,
                    sort_at: NOW - 9_000,
                },
                Reason::MovedKey,
                Some(EntryKey::guid("g-1")),
                false,
            ),
            (
                "pruned key listed again: stays gone, even with a twin elsewhere",
                e.clone(),
                Found {
                    tombstoned: true,
                    same_url: Some(other),
                    neighbours: vec![twin.clone()],
                    ..Found::default()
                },
                Action::Skip,
                Reason::Tombstone,
                None,
                false,
            ),
            (
                "another source's story at the same canonical URL wins over a near duplicate",
                e.clone(),
                Found {
                    same_url: Some(other),
                    neighbours: vec![twin.clone()],
                    ..Found::default()
                },
                Action::Merge {
                    story: 70,
                    sort_at: NOW - 100,
                },
                Reason::SameCanonicalUrl,
                None,
                false,
            ),
            (
                "a near duplicate in another source",
                e.clone(),
                Found {
                    neighbours: vec![part_two.clone(), twin.clone()],
                    ..Found::default()
                },
                Action::Merge {
                    story: 80,
                    sort_at: NOW - 500,
                },
                Reason::NearDuplicate,
                None,
                false,
            ),
            (
                "hard negative: same text, different number in the title",
                e.clone(),
                Found {
                    neighbours: vec![part_two],
                    ..Found::default()
                },
                Action::New {
                    updated: NOW - 3_600,
                },
                Reason::NoMatch,
                None,
                false,
            ),
            (
                "nothing found: new, updated when the publisher says if later than published",
                NewEntry {
                    updated: Some(NOW - 10),
                    ..e.clone()
                },
                Found::default(),
                Action::New { updated: NOW - 10 },
                Reason::NoMatch,
                None,
                false,
            ),
        ];
        for (case, entry, found, action, reason, rekey, churned) in cases {
            let decision = decide(&entry, &found, near, NOW);
            assert_eq!(decision.action, action, "{case}");
            assert_eq!(decision.reason, reason, "{case}");
            assert_eq!(decision.rekey, rekey, "{case}");
            assert_eq!(decision.churned, churned, "{case}");
            assert_eq!(
                wants_neighbours(&found, near),
                matches!(
                    reason,
                    Reason::NearDuplicate | Reason::TitleAndLead | Reason::NoMatch
                ),
                "{case}: neighbours are wanted exactly when the earlier rules found nothing"
            );
        }
    }

    #[test]
    fn look_alikes_stay_apart_and_summary_copies_join_by_title_and_lead() {
        let forecast = |city: &str| {
            let title = format!("Dự báo thời tiết {city} ngày mai: nắng nóng");
            let text = format!("Ngày mai {TEXT}");
            let mut e = NewEntry::bare(&title, &title, NOW - 600);
            e.signature = fingerprint::signature(&title, &text);
            e.title_numbers = fingerprint::title_numbers(&title);
            e
        };
        let hue = forecast("Huế");
        let nha_trang = forecast("Nha Trang");
        let found = Found {
            neighbours: vec![Candidate {
                title: hue.title.clone(),
                ..neighbour(90, &hue, &hue.title_numbers)
            }],
            ..Found::default()
        };
        let decision = decide(&nha_trang, &found, NearDuplicates::default(), NOW);
        assert_eq!(
            decision.reason,
            Reason::NoMatch,
            "another city is another story"
        );
        let again = decide(&forecast("Huế"), &found, NearDuplicates::default(), NOW);
        assert_eq!(
            again.reason,
            Reason::NearDuplicate,
            "the same city is the same story"
        );

        // The full story, stored, and an aggregator's copy: a label on the title, the lead only.
        let lead =
            "Rạng sáng nay một xưởng gỗ rộng hàng nghìn mét vuông ở huyện Đức Hòa bốc cháy dữ dội.";
        let full = format!(
            "<p>{lead}</p><p>{TEXT}</p><p>Lực lượng chữa cháy đã có mặt và khống chế đám cháy sau hai giờ.</p>"
        );
        let stored = Candidate {
            id: 70,
            published: NOW - 900,
            signature: fingerprint::signature("Cháy xưởng gỗ ở Long An", &full),
            title_numbers: String::new(),
            title: "Cháy xưởng gỗ ở Long An".into(),
            text: Some(super::super::text::StoryText::of(
                "Cháy xưởng gỗ ở Long An",
                None,
                Some(&full),
            )),
        };
        let mut copy = NewEntry::bare("agg-1", "NÓNG: Cháy xưởng gỗ ở Long An", NOW - 300);
        copy.summary_html = Some(format!("<p>{lead}</p>"));
        copy.likeness.clean_title = "Cháy xưởng gỗ ở Long An".into();
        let found = Found {
            neighbours: vec![stored.clone()],
            ..Found::default()
        };
        let decision = decide(&copy, &found, NearDuplicates::default(), NOW);
        assert_eq!(
            (decision.action, decision.reason),
            (
                Action::Merge {
                    story: 70,
                    sort_at: NOW - 900
                },
                Reason::TitleAndLead
            )
        );
        // Hard negative: the same title over another lead is not the story.
        copy.summary_html =
            Some("<p>Một vụ cháy khác xảy ra tại khu công nghiệp vào buổi chiều.</p>".into());
        assert_eq!(
            decide(&copy, &found, NearDuplicates::default(), NOW).reason,
            Reason::NoMatch
        );
    }

    #[test]
    fn near_duplicates_turned_off_never_merge() {
        let e = entry(EntryKey::guid("g"), "h");
        let found = Found {
            neighbours: vec![neighbour(5, &e, &e.title_numbers)],
            ..Found::default()
        };
        let off = NearDuplicates {
            threshold: 1.5,
            window: 3_600,
            origins: true,
        };
        assert_eq!(decide(&e, &found, off, NOW).reason, Reason::NoMatch);
        assert_eq!(
            decide(&e, &found, NearDuplicates::default(), NOW).reason,
            Reason::NearDuplicate
        );
    }

    #[test]
    fn switching_to_link_identity_needs_two_churned_entries_and_half_the_document() {
        for (churned, entries, switch) in [
            (0, 10, false),
            (1, 1, false),
            (1, 2, false),
            (2, 2, true),
            (2, 4, true),
            (2, 5, false),
            (5, 10, true),
            (4, 10, false),
        ] {
            assert_eq!(
                switch_to_link(churned, entries),
                switch,
                "{churned}/{entries}"
            );
        }
    }
}
