//! The near-duplicate index: the band keys of the stories first seen within the window (see
//! [`super::Lsh`]), and their titles without outlet labels, kept in memory. An engine fills it
//! from its rows the first time it stores a document, asks it for neighbours of a new entry, and
//! tells it about every story it inserts.

use crate::dedup::fingerprint::Signature;
use crate::model::{NewEntry, Timestamp};

use super::lsh::Buckets;
use super::{Lsh, NearDuplicates, band_keys, keys};

#[derive(Default)]
pub struct NearIndex {
    settings: NearDuplicates,
    lsh: Lsh,
    /// Title key (see [`title_key`]) → stories with that title and when each was first seen.
    titles: Buckets,
    titles_since_expiry: usize,
    loaded: bool,
}

/// Titles added between two drops of those out of the window.
const EXPIRE_TITLES_EVERY: usize = 50_000;

/// The title key of a stored title (see [`super::text::title_key`]), for stories stored before
/// their key was.
pub fn title_key(title: &str) -> Option<u64> {
    super::text::title_key(&crate::text::folded_line(super::text::clean_title(title)))
}

impl NearIndex {
    pub fn settings(&self) -> NearDuplicates {
        self.settings
    }

    pub fn configure(&mut self, settings: NearDuplicates) {
        self.settings = settings;
    }

    /// When the index is still empty, the first-seen time from which stories must be
    /// [`NearIndex::load`]ed before it answers.
    pub fn wants_loading(&self, now: Timestamp) -> Option<Timestamp> {
        (!self.loaded).then_some(now - self.settings.window)
    }

    /// Room for `stories` stories about to be loaded, so that loading does not grow the maps
    /// (copying them each time) as it goes.
    pub fn reserve(&mut self, stories: usize) {
        self.lsh.reserve(stories);
        self.titles.reserve(stories);
    }

    /// Adds a stored story read for [`NearIndex::wants_loading`]: its id, when it was first
    /// seen, its signature, title numbers and title key. One at a time, so that loading a large
    /// window never holds the rows as well as the index.
    pub fn load_one(
        &mut self,
        id: i64,
        seen: Timestamp,
        signature: Option<Signature>,
        numbers: &str,
        title_key: Option<u64>,
    ) {
        if let Some(signature) = signature {
            self.lsh.load(&keys(&signature, numbers), id, seen);
        }
        if let Some(key) = title_key {
            // The key's 64 bits as the map's signed key.
            self.titles.add(key as i64, id, seen);
        }
    }

    /// The stories of the window are all loaded.
    pub fn loaded(&mut self) {
        self.loaded = true;
    }

    fn add_title(&mut self, key: Option<u64>, id: i64, seen: Timestamp) {
        let Some(key) = key else {
            return;
        };
        // The key's 64 bits as the map's signed key.
        self.titles.add(key as i64, id, seen);
        self.titles_since_expiry += 1;
        if self.titles_since_expiry >= EXPIRE_TITLES_EVERY {
            self.titles_since_expiry = 0;
            let since = seen - self.settings.window;
            self.titles.retain_since(since);
        }
    }

    /// Ids of stories within the window that may be near duplicates of `entry` (sharing a band
    /// key); none when it has no signature or matching is off.
    pub fn neighbours(&self, entry: &NewEntry, now: Timestamp) -> Vec<i64> {
        match band_keys(entry, self.settings) {
            Some(keys) => self.lsh.candidates(&keys, now - self.settings.window),
            None => Vec::new(),
        }
    }

    /// Ids of stories within the window whose title, without outlet labels, is `entry`'s: where
    /// a summary-only copy finds the story it summarizes (see [`super::NearMatch::TitleAndLead`]).
    pub fn same_title(&self, entry: &NewEntry, now: Timestamp) -> Vec<i64> {
        if self.settings.threshold > 1.0 {
            return Vec::new();
        }
        let since = now - self.settings.window;
        match entry.likeness.title_key {
            Some(key) => self.titles.get(key as i64, since).collect(),
            None => Vec::new(),
        }
    }

    /// Indexes a story just stored as `id`, first seen `now`.
    pub fn remember(&mut self, id: i64, entry: &NewEntry, now: Timestamp) {
        if let Some(signature) = &entry.signature {
            self.lsh.add(
                &keys(signature, &entry.title_numbers),
                id,
                now,
                self.settings.window,
            );
        }
        self.add_title(entry.likeness.title_key, id, now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dedup::fingerprint;

    fn story(title: &str) -> NewEntry {
        let text = "Bộ Giáo dục công bố phương án thi tốt nghiệp trung học phổ thông năm tới với \
                    nhiều thay đổi về môn thi và cách tính điểm xét tuyển đại học";
        let mut e = NewEntry::bare(title, title, 0);
        e.signature = fingerprint::signature(title, text);
        e.title_numbers = fingerprint::title_numbers(title);
        e
    }

    #[test]
    fn the_index_finds_stories_it_remembered_or_loaded_within_the_window() {
        let mut index = NearIndex::default();
        let window = index.settings().window;
        assert_eq!(index.wants_loading(1_000_000), Some(1_000_000 - window));
        let a = story("Phương án thi tốt nghiệp");
        let signature = a.signature.expect("signature");
        index.load_one(
            7,
            1_000_000 - 10,
            Some(signature),
            &a.title_numbers,
            title_key(&a.title),
        );
        index.loaded();
        let mut labelled = NewEntry {
            title: format!("[Video] {}", a.title),
            ..a.clone()
        };
        labelled.likeness.title_key = title_key(&labelled.title);
        assert_eq!(index.same_title(&labelled, 1_000_000), [7]);
        assert_eq!(index.wants_loading(1_000_000), None);
        assert_eq!(index.neighbours(&a, 1_000_000), [7]);
        // Out of the window.
        assert!(index.neighbours(&a, 1_000_000 + window).is_empty());
        index.remember(9, &a, 1_000_000 + window);
        assert_eq!(index.neighbours(&a, 1_000_000 + window), [9]);
        // Matching off: no neighbours at all.
        index.configure(NearDuplicates {
            threshold: 2.0,
            window,
            origins: true,
        });
        assert!(index.neighbours(&a, 1_000_000 + window).is_empty());
    }
}
