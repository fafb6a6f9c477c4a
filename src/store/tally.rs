//! What a refresh counts while its entries are decided and carried out, the same on every
//! engine: the figures of [`RefreshStats`], the topics whose pages changed, and whether guid
//! churn should switch the source to link identity. Engines carry decisions out; the counting
//! of what they did lives here once.

use std::collections::BTreeSet;

use crate::dedup::{Decision, Reason};
use crate::model::{NewEntry, RefreshStats};

/// What carrying out one entry's decision did.
pub(crate) enum Upsert {
    New,
    /// A story another source carried already: one more sighting of it.
    Merged,
    Updated,
    /// Another source's copy changed: the story stays as published, but its changed text put it
    /// in more topics.
    Regrouped,
    Unchanged,
}

pub(crate) struct Tally {
    pub(crate) stats: RefreshStats,
    churned: usize,
    /// Topics that gained or changed a story.
    pub(crate) changed_topics: BTreeSet<String>,
    /// A story joined a topic without being new or updated: topic pages changed all the same.
    regrouped: bool,
}

impl Tally {
    /// A refresh whose document also held `reused` entries sent exactly as last time (not
    /// normalized again): unchanged.
    pub(crate) fn new(reused: usize) -> Tally {
        Tally {
            stats: RefreshStats {
                unchanged: reused,
                reused,
                ..RefreshStats::default()
            },
            churned: 0,
            changed_topics: BTreeSet::new(),
            regrouped: false,
        }
    }

    /// Counts what `decision` found: churn and the republications it joins or takes in.
    pub(crate) fn decided(&mut self, decision: &Decision) {
        self.churned += usize::from(decision.churned);
        match decision.reason {
            Reason::Origin => self.stats.origin_copies += 1,
            Reason::Translation => self.stats.translations += 1,
            _ => {}
        }
        for adopted in &decision.adopt {
            if adopted.translation {
                self.stats.translations += 1;
            } else {
                self.stats.origin_copies += 1;
            }
        }
    }

    /// Counts what carrying `entry`'s decision out did.
    pub(crate) fn carried_out(&mut self, entry: &NewEntry, upsert: Upsert) {
        if !matches!(upsert, Upsert::Unchanged) {
            self.changed_topics
                .extend(entry.topics.iter().map(|t| t.as_str().to_string()));
        }
        match upsert {
            Upsert::New => self.stats.new += 1,
            Upsert::Merged => {
                self.stats.new += 1;
                self.stats.merged += 1;
            }
            Upsert::Updated => self.stats.updated += 1,
            Upsert::Regrouped => {
                self.stats.unchanged += 1;
                self.regrouped = true;
            }
            Upsert::Unchanged => self.stats.unchanged += 1,
        }
    }

    /// Records the churn counted, and says whether it should switch the source to link
    /// identity (`entries`: every entry of the document, reused ones included).
    pub(crate) fn switches_to_link(&mut self, entries: usize) -> bool {
        self.stats.churned = self.churned;
        crate::dedup::switch_to_link(self.churned, entries)
    }

    /// Whether anything a topic page shows changed.
    pub(crate) fn pages_changed(&self) -> bool {
        self.stats.new > 0 || self.stats.updated > 0 || self.regrouped
    }
}
