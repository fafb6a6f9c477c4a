//! The band index of near-duplicate signatures over the stories first seen within the window,
//! kept in memory. As SQLite indexes, six randomly keyed inserts per story dominated the write
//! volume of a refresh; here a lookup is six hash probes. Stale ids (pruned stories) are harmless:
//! their rows are gone.

use std::collections::HashMap;

use crate::dedup::fingerprint::BANDS;
use crate::model::Timestamp;

/// Most band keys (and titles) belong to one story: keep that case free of a heap allocation.
pub(super) enum Bucket {
    One((i64, Timestamp)),
    Many(Vec<(i64, Timestamp)>),
}

impl Bucket {
    pub(super) fn items(&self) -> &[(i64, Timestamp)] {
        match self {
            Bucket::One(item) => std::slice::from_ref(item),
            Bucket::Many(items) => items,
        }
    }

    pub(super) fn push(&mut self, item: (i64, Timestamp)) {
        match self {
            Bucket::One(first) => *self = Bucket::Many(vec![*first, item]),
            Bucket::Many(items) => items.push(item),
        }
    }

    /// Keeps the items seen at or after `since`; false when none is left.
    pub(super) fn retain_since(&mut self, since: Timestamp) -> bool {
        match self {
            Bucket::One((_, seen)) => *seen >= since,
            Bucket::Many(items) => {
                items.retain(|(_, seen)| *seen >= since);
                !items.is_empty()
            }
        }
    }
}

#[derive(Default)]
pub struct Lsh {
    buckets: HashMap<i64, Bucket>,
    since_expiry: usize,
}

/// Expired ids are dropped after this many additions.
const EXPIRE_EVERY: usize = 50_000;

impl Lsh {
    /// Ids of stories first seen at or after `since` sharing a band key, without repeats.
    pub fn candidates(&self, keys: &[i64; BANDS], since: Timestamp) -> Vec<i64> {
        let mut ids: Vec<i64> = keys
            .iter()
            .filter_map(|k| self.buckets.get(k))
            .flat_map(Bucket::items)
            .filter(|(_, seen)| *seen >= since)
            .map(|(id, _)| *id)
            .collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    pub fn add(&mut self, keys: &[i64; BANDS], id: i64, first_seen: Timestamp, window: i64) {
        for key in keys {
            match self.buckets.get_mut(key) {
                Some(bucket) => bucket.push((id, first_seen)),
                None => {
                    self.buckets.insert(*key, Bucket::One((id, first_seen)));
                }
            }
        }
        self.since_expiry += 1;
        if self.since_expiry >= EXPIRE_EVERY {
            self.since_expiry = 0;
            let since = first_seen - window;
            self.buckets.retain(|_, bucket| bucket.retain_since(since));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidates_share_a_key_and_are_recent() {
        let mut lsh = Lsh::default();
        lsh.add(&[1, 2, 3, 4, 5, 6], 10, 1000, 100);
        lsh.add(&[1, 20, 30, 40, 50, 60], 11, 1000, 100);
        lsh.add(&[7, 8, 9, 10, 11, 12], 12, 1000, 100);
        lsh.add(&[1, 2, 0, 0, 0, 0], 13, 10, 100);
        assert_eq!(lsh.candidates(&[1, 2, 99, 99, 99, 99], 900), [10, 11]);
        assert_eq!(lsh.candidates(&[1, 2, 99, 99, 99, 99], 0), [10, 11, 13]);
        assert!(lsh.candidates(&[99; 6], 0).is_empty());
    }
}
