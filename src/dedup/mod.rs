//! The rules that decide "same story": the order of the rules and the decision for one entry
//! ([`decide`]), the near-duplicate rule, and the near-duplicate index ([`NearIndex`]). Engines
//! look candidates up and carry decisions out; no SQL runs here.

mod decide;
pub mod fingerprint;
mod index;
mod lsh;
pub mod names;
pub mod text;

pub use decide::{
    Action, Adopted, Decision, Found, Known, OriginStory, OtherStory, Reason, decide,
    other_language, switch_to_link, wants_neighbours,
};
pub use index::{NearIndex, title_key};
pub use lsh::Lsh;

use crate::model::{NewEntry, Timestamp};
use fingerprint::{BANDS, Signature};

/// When two stories from different sources are one (see [`fingerprint`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NearDuplicates {
    /// Least estimated similarity (0–1) of two sources' stories to be one; above 1 turns
    /// near-duplicate matching off.
    pub threshold: f64,
    /// How far back, in seconds of first sighting, a story is looked for.
    pub window: i64,
    /// Whether republications join the original they credit (`[dedup] origins`).
    pub origins: bool,
}

impl Default for NearDuplicates {
    fn default() -> NearDuplicates {
        NearDuplicates {
            threshold: 0.5,
            window: 72 * 3600,
            origins: true,
        }
    }
}

/// A stored story another source carried, as the store read it for comparison.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub id: i64,
    pub published: Timestamp,
    pub signature: Option<Signature>,
    pub title_numbers: String,
    /// Its title as stored.
    pub title: String,
    /// Its title and text as the rules compare them; read only for stories found by title
    /// ([`NearIndex::same_title`]), where the title-and-lead rule may need it.
    pub text: Option<text::StoryText>,
}

/// How a candidate was found to be the same story.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum NearMatch {
    /// Estimated similarity of title and text at or above the threshold.
    Similar(f64),
    /// The same title, and one side a lead (or brief) contained in the other's text, to this
    /// share of its word triples.
    TitleAndLead(f64),
}

/// Share of a lead's word triples (single words, for a lead under three words) that must be
/// found in the other text's start for the title-and-lead rule.
pub const LEAD_CONTAINED: f64 = 0.7;

/// The band keys a story is indexed and looked up by: its signature's bands, keyed by the numbers
/// in its title.
pub fn keys(signature: &Signature, title_numbers: &str) -> [i64; BANDS] {
    fingerprint::bands(signature, title_numbers)
}

/// The band keys to look `entry` up by, or `None` when it cannot be a near-duplicate (too little
/// text for a signature, or matching turned off).
pub fn band_keys(entry: &NewEntry, near: NearDuplicates) -> Option<[i64; BANDS]> {
    if near.threshold > 1.0 {
        return None;
    }
    Some(keys(entry.signature.as_ref()?, &entry.title_numbers))
}

/// The candidate that is the same story as `entry` under another URL, and how it matched. Two
/// gates come first: the titles must carry the same numbers ("Part 1" and "Part 2" stay apart)
/// and must not name different places or people in one template (see [`names`]). Then either
/// rule joins: the same title with one side only a lead contained in the other
/// ([`NearMatch::TitleAndLead`], preferred: it compares what both sides have), or an estimated
/// similarity at or above the threshold ([`NearMatch::Similar`]); among several, the strongest.
/// The candidates are those [`band_keys`] and [`NearIndex::same_title`] found.
pub fn near_match(
    entry: &NewEntry,
    near: NearDuplicates,
    candidates: &[Candidate],
) -> Option<(i64, Timestamp, NearMatch)> {
    if near.threshold > 1.0 || candidates.is_empty() {
        return None;
    }
    let title = if entry.likeness.clean_title.is_empty() {
        entry.title.as_str()
    } else {
        entry.likeness.clean_title.as_str()
    };
    let names = names::TitleNames::of(title);
    let folded_title = crate::text::folded_line(title);
    let score = |m: NearMatch| match m {
        NearMatch::TitleAndLead(c) => 2.0 + c,
        NearMatch::Similar(s) => s,
    };
    let mut ours: Option<text::StoryText> = None;
    let mut best: Option<(i64, Timestamp, NearMatch)> = None;
    for candidate in candidates {
        if candidate.title_numbers != entry.title_numbers {
            continue;
        }
        let theirs = text::clean_title(&candidate.title);
        if names::names_differ(&names, &names::TitleNames::of(theirs)) {
            continue;
        }
        let by_lead = candidate.text.as_ref().and_then(|other| {
            let same_title = other.folded_title == folded_title && folded_title.len() > 2;
            if !same_title {
                return None;
            }
            // Read only now: stories found by title are few.
            let mine = ours.get_or_insert_with(|| {
                text::StoryText::of(
                    &entry.title,
                    entry.summary_html.as_deref(),
                    entry.content_html.as_deref(),
                )
            });
            if !(mine.is_short() || other.is_short()) {
                return None;
            }
            let (short, long) = if mine.is_short() && !other.is_short() {
                (&mine.lead, &other.lead)
            } else if other.is_short() && !mine.is_short() {
                (&other.lead, &mine.lead)
            } else if mine.lead.len() <= other.lead.len() {
                (&mine.lead, &other.lead)
            } else {
                (&other.lead, &mine.lead)
            };
            let contained = containment(short, long);
            (contained >= LEAD_CONTAINED).then_some(NearMatch::TitleAndLead(contained))
        });
        let by_text = match (&entry.signature, &candidate.signature) {
            (Some(a), Some(b)) => {
                let similarity = fingerprint::similarity(a, b);
                (similarity >= near.threshold).then_some(NearMatch::Similar(similarity))
            }
            _ => None,
        };
        let Some(found) = by_lead.or(by_text) else {
            continue;
        };
        if best.is_none_or(|(_, _, m)| score(found) > score(m)) {
            best = Some((candidate.id, candidate.published, found));
        }
    }
    best
}

/// The share of `short`'s word triples found in `long` (of its words, when it has fewer than
/// three); both folded lines. Nothing is contained in anything when `short` has no words.
pub fn containment(short: &str, long: &str) -> f64 {
    let short: Vec<&str> = crate::text::line_words(short).collect();
    let long: Vec<&str> = crate::text::line_words(long).collect();
    if short.is_empty() {
        return 0.0;
    }
    let width = if short.len() < 3 { 1 } else { 3 };
    let present: std::collections::HashSet<&[&str]> = long.windows(width).collect();
    let grams: Vec<&[&str]> = short.windows(width).collect();
    let found = grams.iter().filter(|g| present.contains(*g)).count();
    found as f64 / grams.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "Thành phố Hà Nội công bố kế hoạch xây dựng ba tuyến đường sắt đô thị mới \
        trong giai đoạn tới với tổng vốn đầu tư lớn nhằm giảm ùn tắc giao thông cho người dân";

    fn story(title: &str, text: &str) -> NewEntry {
        NewEntry {
            key: crate::model::EntryKey::guid(title),
            public_id: title.to_string(),
            link: None,
            canonical_url: None,
            title: title.to_string(),
            summary_html: None,
            content_html: Some(format!("<p>{text}</p>")),
            authors: vec![],
            categories: vec![],
            enclosures: vec![],
            language: None,
            published: 1,
            updated: None,
            content_hash: String::new(),
            signature: fingerprint::signature(title, text),
            title_numbers: fingerprint::title_numbers(title),
            likeness: Default::default(),
            item_hash: None,
            origin: None,
            folded: Default::default(),
            search_text: String::new(),
            topics: vec![],
        }
    }

    fn candidate(id: i64, entry: &NewEntry) -> Candidate {
        Candidate {
            id,
            published: 100 + id,
            signature: entry.signature,
            title_numbers: entry.title_numbers.clone(),
            title: entry.title.clone(),
            text: None,
        }
    }

    #[test]
    fn the_most_similar_candidate_with_the_same_title_numbers_is_the_story() {
        let entry = story("Hà Nội xây 3 tuyến đường sắt", TEXT);
        let copy = story("Hà Nội sẽ xây 3 tuyến đường sắt", TEXT);
        let other = story(
            "Giá xăng tăng 3 lần",
            "Giá xăng dầu trong nước tăng lần thứ ba liên tiếp theo giá thế giới",
        );
        // Another rewrite, further from this one but still over the threshold.
        let rewrite = story(
            "Hà Nội xây 3 tuyến đường sắt",
            "Thành phố Hà Nội công bố kế hoạch xây dựng ba tuyến đường sắt đô thị mới \
             trong năm năm tới, vốn đầu tư do ngân sách thành phố và trung ương cùng bố trí",
        );
        let similarity = |c: &NewEntry| {
            fingerprint::similarity(
                entry.signature.as_ref().expect("signature"),
                c.signature.as_ref().expect("signature"),
            )
        };
        assert!(similarity(&rewrite) >= NearDuplicates::default().threshold);
        assert!(similarity(&rewrite) < similarity(&copy));
        let found = near_match(
            &entry,
            NearDuplicates::default(),
            &[
                candidate(1, &other),
                candidate(3, &rewrite),
                candidate(2, &copy),
            ],
        );
        assert_eq!(
            found,
            Some((2, 102, NearMatch::Similar(similarity(&copy)))),
            "the most similar wins, not the first"
        );
        assert!(band_keys(&entry, NearDuplicates::default()).is_some());
    }

    #[test]
    fn different_numbers_in_the_title_keep_stories_apart() {
        let part1 = story("Hà Nội xây đường sắt, phần 1", TEXT);
        let part2 = story("Hà Nội xây đường sắt, phần 2", TEXT);
        assert_eq!(
            near_match(&part1, NearDuplicates::default(), &[candidate(7, &part2)]),
            None
        );
    }

    #[test]
    fn a_threshold_above_one_turns_matching_off() {
        let entry = story("Hà Nội xây đường sắt", TEXT);
        let off = NearDuplicates {
            threshold: 1.5,
            window: 3600,
            origins: true,
        };
        assert_eq!(near_match(&entry, off, &[candidate(1, &entry)]), None);
        assert_eq!(band_keys(&entry, off), None);
    }
}
