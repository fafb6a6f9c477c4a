//! The band index of near-duplicate signatures over the stories first seen within the window,
//! kept in memory. As SQLite indexes, six randomly keyed inserts per story dominated the write
//! volume of a refresh; here a lookup is six hash probes. Stale ids (pruned stories) are harmless:
//! their rows are gone.

use std::collections::HashMap;

use crate::dedup::fingerprint::BANDS;
use crate::model::Timestamp;

/// First-seen times are kept in 32 bits of seconds since this (the Unix epoch): good until 2106,
/// after which they read as that year's start, still inside any window.
const EPOCH: Timestamp = 0;

/// One story under a key, in 8 bytes: most keys have just one, and a compact slot halves what
/// the index holds (it holds six keys for every story of the window).
#[derive(Clone, Copy)]
struct Slot {
    id: u32,
    seen: u32,
}

impl Slot {
    /// `None` when the id does not fit (such stories go to the overflow map).
    fn pack(id: i64, seen: Timestamp) -> Option<Slot> {
        Some(Slot {
            id: u32::try_from(id).ok()?,
            seen: u32::try_from((seen - EPOCH).max(0)).unwrap_or(u32::MAX),
        })
    }

    fn id(self) -> i64 {
        i64::from(self.id)
    }

    fn seen(self) -> Timestamp {
        EPOCH + i64::from(self.seen)
    }
}

/// Key → the stories filed under it, with when each was first seen: the first one in a compact
/// slot, any others (rare) in an overflow list.
///
/// Keys are kept in 32 bits. Two keys that share them only add a candidate, and every candidate
/// is compared on its stored signature and title before it can join a story (1.2 million band
/// keys make a shared 32-bit key about three in ten thousand lookups).
///
/// The compact slots are spread over [`SHARDS`] maps by the key's top bits: a map doubles its
/// table as it grows, holding the old one and the new one at once, and in one map that moment
/// came near the end of a first cycle with the index at its largest (the peak of the process).
/// Sixteen maps double one at a time, each a sixteenth of the whole.
pub(super) struct Buckets {
    first: Vec<HashMap<u32, Slot>>,
    more: HashMap<u32, Vec<(i64, Timestamp)>>,
}

const SHARDS: usize = 16;

impl Default for Buckets {
    fn default() -> Self {
        Buckets {
            first: (0..SHARDS).map(|_| HashMap::new()).collect(),
            more: HashMap::new(),
        }
    }
}

/// The map a key's compact slot lives in: its top four bits.
fn shard(key: u32) -> usize {
    (key >> 28) as usize
}

/// A key's 32 bits: both halves folded together, so that neither alone decides.
fn short(key: i64) -> u32 {
    let bits = key as u64;
    ((bits >> 32) ^ bits) as u32
}

impl Buckets {
    pub(super) fn add(&mut self, key: i64, id: i64, seen: Timestamp) {
        let key = short(key);
        let first = &mut self.first[shard(key)];
        match Slot::pack(id, seen) {
            Some(slot) if !first.contains_key(&key) => {
                first.insert(key, slot);
            }
            _ => self.more.entry(key).or_default().push((id, seen)),
        }
    }

    /// Room for `keys` more keys without growing, spread as keys spread over the maps.
    pub(super) fn reserve(&mut self, keys: usize) {
        for first in &mut self.first {
            first.reserve(keys.div_ceil(SHARDS));
        }
    }

    /// The stories under `key` first seen at or after `since`.
    pub(super) fn get(&self, key: i64, since: Timestamp) -> impl Iterator<Item = i64> + '_ {
        let key = short(key);
        let first = self.first[shard(key)]
            .get(&key)
            .filter(|s| s.seen() >= since)
            .map(|s| s.id());
        let more = self
            .more
            .get(&key)
            .into_iter()
            .flatten()
            .filter(move |(_, seen)| *seen >= since)
            .map(|(id, _)| *id);
        first.into_iter().chain(more)
    }

    /// Drops the stories first seen before `since`.
    pub(super) fn retain_since(&mut self, since: Timestamp) {
        for first in &mut self.first {
            first.retain(|_, s| s.seen() >= since);
        }
        self.more.retain(|_, stories| {
            stories.retain(|(_, seen)| *seen >= since);
            !stories.is_empty()
        });
    }
}

#[derive(Default)]
pub struct Lsh {
    buckets: Buckets,
    since_expiry: usize,
}

/// Expired ids are dropped after this many additions.
const EXPIRE_EVERY: usize = 50_000;

impl Lsh {
    /// Ids of stories first seen at or after `since` sharing a band key, without repeats.
    pub fn candidates(&self, keys: &[i64; BANDS], since: Timestamp) -> Vec<i64> {
        let mut ids: Vec<i64> = keys
            .iter()
            .flat_map(|k| self.buckets.get(*k, since))
            .collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    /// Room for `stories` more stories' keys.
    pub fn reserve(&mut self, stories: usize) {
        self.buckets.reserve(stories.saturating_mul(BANDS));
    }

    /// Adds a story read back from the window: none of those is out of it yet, so there is
    /// nothing to drop as they load.
    pub fn load(&mut self, keys: &[i64; BANDS], id: i64, first_seen: Timestamp) {
        for key in keys {
            self.buckets.add(*key, id, first_seen);
        }
    }

    pub fn add(&mut self, keys: &[i64; BANDS], id: i64, first_seen: Timestamp, window: i64) {
        for key in keys {
            self.buckets.add(*key, id, first_seen);
        }
        self.since_expiry += 1;
        if self.since_expiry >= EXPIRE_EVERY {
            self.since_expiry = 0;
            self.buckets.retain_since(first_seen - window);
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

    #[test]
    fn buckets_keep_one_story_compact_and_the_rest_in_order() {
        let mut buckets = Buckets::default();
        let big = i64::from(u32::MAX) + 5;
        buckets.add(7, 1, 1_800_000_000);
        buckets.add(7, 2, 1_800_000_100);
        buckets.add(7, big, 1_800_000_200);
        buckets.add(8, big, 1_800_000_300);
        assert_eq!(buckets.get(7, 0).collect::<Vec<_>>(), [1, 2, big]);
        assert_eq!(buckets.get(8, 0).collect::<Vec<_>>(), [big]);
        assert_eq!(buckets.get(7, 1_800_000_050).collect::<Vec<_>>(), [2, big]);
        buckets.retain_since(1_800_000_150);
        assert_eq!(buckets.get(7, 0).collect::<Vec<_>>(), [big]);
        assert!(buckets.get(9, 0).next().is_none());
    }

    #[test]
    fn reserving_for_the_window_keeps_loading_from_growing_the_maps() {
        let mut lsh = Lsh::default();
        lsh.reserve(5_000);
        let capacities =
            |lsh: &Lsh| -> Vec<usize> { lsh.buckets.first.iter().map(HashMap::capacity).collect() };
        let reserved = capacities(&lsh);
        assert!(reserved.iter().sum::<usize>() >= 5_000 * BANDS);
        let mut state = 0x2545_F491_4F6C_DD1D_u64;
        for id in 0..5_000 {
            let keys = std::array::from_fn(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as i64
            });
            lsh.add(&keys, id, 1_800_000_000, 100);
        }
        assert_eq!(capacities(&lsh), reserved);
    }

    #[test]
    fn no_one_map_holds_most_of_the_slots() {
        let mut buckets = Buckets::default();
        let mut state = 0x9E37_79B9_7F4A_7C15_u64;
        for id in 0..20_000 {
            // Band keys are hashes: spread over the whole range.
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            buckets.add(state as i64, id, 1_800_000_000);
        }
        let held: usize = buckets.first.iter().map(HashMap::len).sum();
        let largest = buckets.first.iter().map(HashMap::capacity).max();
        assert!(held > 19_000, "{held} compact slots");
        assert!(
            largest.is_some_and(|c| c * 6 < held),
            "largest table {largest:?} for {held} slots"
        );
        assert_eq!(buckets.get(state as i64, 0).collect::<Vec<_>>(), [19_999]);
    }
}
