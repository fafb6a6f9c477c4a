//! What an engine looked up for a document's new entries, and the candidates each entry gets
//! from it ([`crate::dedup::Found`]): the same for every engine, which only fills it in.

use std::collections::{HashMap, HashSet};

use crate::dedup::{Found, Known, OriginStory, OtherStory};
use crate::model::{EntryKey, NewEntry};

/// What the store holds that bears on this document's new entries, read with one query each
/// instead of one per entry.
#[derive(Default)]
pub(crate) struct DocumentLookups {
    /// Canonical URL → a sighting of this source whose key left the document: a guid that
    /// changed, or a key of another kind after the source's identity switched.
    pub(in crate::store) moved: HashMap<String, (EntryKey, Known)>,
    /// Canonical URL → another source's story at that address.
    pub(in crate::store) same_url: HashMap<String, OtherStory>,
    /// Keys this source had pruned.
    pub(in crate::store) tombstoned: HashSet<String>,
    /// Canonical URL → the stored story there, for entries crediting that address as their
    /// original (a translation's address stands for the story it translates).
    pub(in crate::store) origins: HashMap<String, OriginStory>,
    /// Canonical URL → stored stories crediting that address as their original.
    pub(in crate::store) republications: HashMap<String, Vec<OriginStory>>,
}

impl DocumentLookups {
    /// A translation an earlier entry of the document stored, for the entries after it.
    pub(in crate::store) fn add_version(
        &mut self,
        story: i64,
        version: i64,
        language: Option<String>,
    ) {
        for origin in self.origins.values_mut().filter(|o| o.story == story) {
            origin.versions.push((version, language.clone()));
        }
    }

    /// The candidates for one entry, given this source's sighting under its key. A moved key is
    /// taken by the first entry at its address, so that two entries never claim one story.
    pub(in crate::store) fn found(&mut self, entry: &NewEntry, same_key: Option<Known>) -> Found {
        let moved_key = match (&same_key, &entry.canonical_url) {
            (None, Some(canonical)) => self.moved.remove(canonical),
            _ => None,
        };
        Found {
            same_key,
            moved_key,
            tombstoned: self.tombstoned.contains(entry.key.as_str()),
            same_url: entry
                .canonical_url
                .as_ref()
                .and_then(|c| self.same_url.get(c).copied()),
            neighbours: Vec::new(),
            origin: entry
                .origin
                .as_ref()
                .and_then(|o| o.canonical_url.as_ref())
                .and_then(|c| self.origins.get(c).cloned()),
            republications: entry
                .canonical_url
                .as_ref()
                .and_then(|c| self.republications.get(c).cloned())
                .unwrap_or_default(),
        }
    }
}
