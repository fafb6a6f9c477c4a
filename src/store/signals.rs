//! What every engine tells the rest of the program besides answers to queries: generations that
//! say whether a rendered page is still current, the topics that changed since the publisher last
//! asked, and when enough was written that a checkpoint is due. Kept in memory, per process.

use std::collections::BTreeSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use super::CHECKPOINT_AFTER_ENTRIES;

pub struct Signals {
    /// Bumped on every commit that changes what a topic page shows; the server's render cache
    /// compares it to decide whether a cached page is still current without asking the database.
    generation: AtomicU64,
    /// Bumped with `generation` and on every fetch recorded or source synced: what the source
    /// health table shows.
    sources_generation: AtomicU64,
    /// Topics that gained or changed entries since [`Signals::take_changed_topics`] last asked.
    changed_topics: Mutex<BTreeSet<String>>,
    topic_changes: tokio::sync::Notify,
    /// Entries stored or updated since the last checkpoint started.
    written_since_checkpoint: AtomicU64,
    checkpoint_wanted: tokio::sync::Notify,
}

impl Default for Signals {
    fn default() -> Signals {
        Signals {
            generation: AtomicU64::new(1),
            sources_generation: AtomicU64::new(1),
            changed_topics: Mutex::new(BTreeSet::new()),
            topic_changes: tokio::sync::Notify::new(),
            written_since_checkpoint: AtomicU64::new(0),
            checkpoint_wanted: tokio::sync::Notify::new(),
        }
    }
}

impl Signals {
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    pub fn sources_generation(&self) -> u64 {
        self.sources_generation.load(Ordering::Acquire)
    }

    /// Something a topic page shows changed (and so may the sources table).
    pub fn bump(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.bump_sources();
    }

    /// Only what the sources table shows changed.
    pub fn bump_sources(&self) {
        self.sources_generation.fetch_add(1, Ordering::AcqRel);
    }

    /// Records the topics a committed refresh changed, and wakes [`Signals::topics_changed`].
    pub fn note_changed_topics(&self, topics: BTreeSet<String>) {
        if topics.is_empty() {
            return;
        }
        self.changed_topics
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .extend(topics);
        self.topic_changes.notify_one();
    }

    pub fn take_changed_topics(&self) -> BTreeSet<String> {
        std::mem::take(
            &mut *self
                .changed_topics
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }

    pub async fn topics_changed(&self) {
        self.topic_changes.notified().await;
    }

    /// Counts `entries` stored or updated; wakes [`Signals::checkpoint_wanted`] when that makes
    /// a checkpoint due.
    pub fn note_written(&self, entries: u64) {
        if entries == 0 {
            return;
        }
        let before = self
            .written_since_checkpoint
            .fetch_add(entries, Ordering::AcqRel);
        if before < CHECKPOINT_AFTER_ENTRIES && before + entries >= CHECKPOINT_AFTER_ENTRIES {
            self.checkpoint_wanted.notify_one();
        }
    }

    /// A checkpoint is starting: what was written so far is in it.
    pub fn checkpoint_started(&self) {
        self.written_since_checkpoint.store(0, Ordering::Release);
    }

    pub fn checkpoint_due(&self) -> bool {
        self.written_since_checkpoint.load(Ordering::Acquire) >= CHECKPOINT_AFTER_ENTRIES
    }

    pub async fn checkpoint_wanted(&self) {
        self.checkpoint_wanted.notified().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_checkpoint_is_wanted_once_per_crossing_of_the_threshold() {
        let signals = Signals::default();
        signals.note_written(CHECKPOINT_AFTER_ENTRIES - 1);
        assert!(!signals.checkpoint_due());
        signals.note_written(1);
        assert!(signals.checkpoint_due());
        signals.checkpoint_started();
        assert!(!signals.checkpoint_due());
        let (generation, sources) = (signals.generation(), signals.sources_generation());
        signals.bump_sources();
        assert_eq!(signals.generation(), generation);
        assert_eq!(signals.sources_generation(), sources + 1);
        signals.bump();
        assert_eq!(signals.generation(), generation + 1);
        signals.note_changed_topics(["a".to_string()].into());
        signals.note_changed_topics(["b".to_string()].into());
        assert_eq!(signals.take_changed_topics().len(), 2);
        assert!(signals.take_changed_topics().is_empty());
    }
}
