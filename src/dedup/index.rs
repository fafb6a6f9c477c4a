//! The near-duplicate index: the band keys of the stories first seen within the window, kept in
//! memory (see [`super::Lsh`]). An engine fills it from its rows the first time it stores a
//! document, asks it for neighbours of a new entry, and tells it about every story it inserts.

use crate::model::{NewEntry, Timestamp};
use crate::normalize::fingerprint::Signature;

use super::{Lsh, NearDuplicates, band_keys, keys};

#[derive(Default)]
pub struct NearIndex {
    settings: NearDuplicates,
    lsh: Lsh,
    loaded: bool,
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

    /// Adds the stored stories read for [`NearIndex::wants_loading`] (id, first seen, signature,
    /// title numbers), and marks the index filled.
    pub fn load<'a>(
        &mut self,
        stories: impl IntoIterator<Item = (i64, Timestamp, Signature, &'a str)>,
    ) {
        let window = self.settings.window;
        for (id, seen, signature, numbers) in stories {
            self.lsh.add(&keys(&signature, numbers), id, seen, window);
        }
        self.loaded = true;
    }

    /// Ids of stories within the window that may be near duplicates of `entry` (sharing a band
    /// key); none when it has no signature or matching is off.
    pub fn neighbours(&self, entry: &NewEntry, now: Timestamp) -> Vec<i64> {
        match band_keys(entry, self.settings) {
            Some(keys) => self.lsh.candidates(&keys, now - self.settings.window),
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
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::normalize::fingerprint;

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
        index.load([(7, 1_000_000 - 10, signature, a.title_numbers.as_str())]);
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
        });
        assert!(index.neighbours(&a, 1_000_000 + window).is_empty());
    }
}
