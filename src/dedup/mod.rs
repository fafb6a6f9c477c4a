//! The rules that decide "same story": the order of the rules and the decision for one entry
//! ([`decide`]), the near-duplicate rule, and the near-duplicate index ([`NearIndex`]). Engines
//! look candidates up and carry decisions out; no SQL runs here.

mod decide;
mod index;
mod lsh;

pub use decide::{
    Action, Decision, Found, Known, OtherStory, Reason, decide, switch_to_link, wants_neighbours,
};
pub use index::NearIndex;
pub use lsh::Lsh;

use crate::model::{NewEntry, Timestamp};
use crate::normalize::fingerprint::{self, BANDS, Signature};

/// When two stories from different sources are one (see `normalize::fingerprint`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NearDuplicates {
    /// Least estimated similarity (0–1) of two sources' stories to be one; above 1 turns
    /// near-duplicate matching off.
    pub threshold: f64,
    /// How far back, in seconds of first sighting, a story is looked for.
    pub window: i64,
}

impl Default for NearDuplicates {
    fn default() -> NearDuplicates {
        NearDuplicates {
            threshold: 0.5,
            window: 72 * 3600,
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
}

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

/// The candidate that is the same story as `entry` syndicated under another URL: the most similar
/// one whose estimated similarity reaches the threshold and whose title carries the same numbers
/// ("Part 1" and "Part 2" stay apart). Band keys include the title's numbers, but two keys can
/// still collide, so both are checked here. The candidates are those [`band_keys`] found.
pub fn near_duplicate(
    entry: &NewEntry,
    near: NearDuplicates,
    candidates: &[Candidate],
) -> Option<(i64, Timestamp)> {
    let signature = entry.signature.as_ref()?;
    let mut best: Option<(f64, i64, Timestamp)> = None;
    for candidate in candidates {
        let Some(other) = &candidate.signature else {
            continue;
        };
        let similarity = fingerprint::similarity(signature, other);
        if similarity >= near.threshold
            && candidate.title_numbers == entry.title_numbers
            && best.is_none_or(|(s, ..)| similarity > s)
        {
            best = Some((similarity, candidate.id, candidate.published));
        }
    }
    best.map(|(_, id, published)| (id, published))
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
        let found = near_duplicate(
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
            Some((2, 102)),
            "the most similar wins, not the first"
        );
        assert!(band_keys(&entry, NearDuplicates::default()).is_some());
    }

    #[test]
    fn different_numbers_in_the_title_keep_stories_apart() {
        let part1 = story("Hà Nội xây đường sắt, phần 1", TEXT);
        let part2 = story("Hà Nội xây đường sắt, phần 2", TEXT);
        assert_eq!(
            near_duplicate(&part1, NearDuplicates::default(), &[candidate(7, &part2)]),
            None
        );
    }

    #[test]
    fn a_threshold_above_one_turns_matching_off() {
        let entry = story("Hà Nội xây đường sắt", TEXT);
        let off = NearDuplicates {
            threshold: 1.5,
            window: 3600,
        };
        assert_eq!(near_duplicate(&entry, off, &[candidate(1, &entry)]), None);
        assert_eq!(band_keys(&entry, off), None);
    }
}
