//! The candidates of the same-story rules, looked up for a whole document at once: this source's
//! sightings by key, moved keys, tombstones, other sources' stories at the same canonical URL,
//! and near-duplicate neighbours from the index.

use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension, params};

use super::Context;
use crate::dedup::{Known, NearIndex, OriginStory, OtherStory};
use crate::model::{EntryKey, NewEntry, SourceId, Timestamp};
use crate::store::StoreError;
use crate::store::columns::to_json;
use crate::store::found::DocumentLookups;

/// What the store already holds of this document's entries, by key. One query for the whole
/// document instead of one per entry.
pub(super) fn known_entries(
    tx: &Connection,
    source: SourceId,
    keys_json: &str,
) -> Result<HashMap<String, Known>, StoreError> {
    let mut stmt = tx
        .prepare_cached(
            "SELECT g.entry_key, e.id, COALESCE(g.content_hash, e.content_hash), e.updated_at, e.source_id = ?1,
                    e.published_at
             FROM json_each(?2) AS k
             JOIN sightings g ON g.source_id = ?1 AND g.entry_key = k.value
             JOIN entries e ON e.id = g.entry_id",
        )
        .context("looking up entries")?;
    let rows = stmt
        .query_map(params![source.0, keys_json], |r| {
            Ok((
                r.get::<_, String>(0)?,
                Known {
                    story: r.get(1)?,
                    hash: r.get(2)?,
                    updated_at: r.get(3)?,
                    primary: r.get(4)?,
                    published_at: r.get(5)?,
                },
            ))
        })
        .context("looking up entries")?;
    rows.collect::<Result<HashMap<_, _>, _>>()
        .context("looking up entries")
}

pub(super) fn document_lookups(
    tx: &Connection,
    source: SourceId,
    entries: &[NewEntry],
    keys_json: &str,
) -> Result<DocumentLookups, StoreError> {
    let mut lookups = DocumentLookups::default();
    let canonicals = to_json(
        &entries
            .iter()
            .filter_map(|e| e.canonical_url.as_deref())
            .collect::<Vec<_>>(),
    );
    {
        let mut stmt = tx
            .prepare_cached(
                "SELECT g.canonical_url, g.entry_key, e.id, COALESCE(g.content_hash, e.content_hash), e.updated_at,
                        e.source_id = ?1, e.published_at
                 FROM sightings g JOIN entries e ON e.id = g.entry_id
                 WHERE g.source_id = ?1 AND g.canonical_url IN (SELECT value FROM json_each(?2))
                   AND g.entry_key NOT IN (SELECT value FROM json_each(?3))",
            )
            .context("looking for guid churn")?;
        let rows = stmt
            .query_map(params![source.0, canonicals, keys_json], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    Known {
                        story: r.get(2)?,
                        hash: r.get(3)?,
                        updated_at: r.get(4)?,
                        primary: r.get(5)?,
                        published_at: r.get(6)?,
                    },
                ))
            })
            .context("looking for guid churn")?;
        for row in rows {
            let (canonical, key, known) = row.context("looking for guid churn")?;
            lookups
                .moved
                .entry(canonical)
                .or_insert((EntryKey::from_stored(key), known));
        }
    }
    {
        // Another source's story at the same address; a source's own entries sharing a link (a
        // live page's updates) stay apart.
        let mut stmt = tx
            .prepare_cached(
                "SELECT e.canonical_url, e.id, e.published_at FROM entries e
                 WHERE e.canonical_url IN (SELECT value FROM json_each(?1))
                   AND NOT EXISTS (SELECT 1 FROM sightings g WHERE g.entry_id = e.id AND g.source_id = ?2)
                 ORDER BY e.id",
            )
            .context("matching canonical URLs")?;
        let rows = stmt
            .query_map(params![canonicals, source.0], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    OtherStory {
                        story: r.get(1)?,
                        published_at: r.get(2)?,
                    },
                ))
            })
            .context("matching canonical URLs")?;
        for row in rows {
            let (canonical, found) = row.context("matching canonical URLs")?;
            lookups.same_url.entry(canonical).or_insert(found);
        }
    }
    let origin_urls: Vec<&str> = entries
        .iter()
        .filter_map(|e| e.origin.as_ref()?.canonical_url.as_deref())
        .collect();
    if !origin_urls.is_empty() {
        let mut stmt = tx
            .prepare_cached(
                "SELECT e.canonical_url, p.id, p.published_at, p.language, p.signature
                 FROM entries e JOIN entries p ON p.id = COALESCE(e.version_of, e.id)
                 WHERE e.canonical_url IN (SELECT value FROM json_each(?1))
                 ORDER BY e.id",
            )
            .context("matching origins")?;
        let rows = stmt
            .query_map([to_json(&origin_urls)], |r| {
                Ok((r.get::<_, String>(0)?, origin_story(r, 1)?))
            })
            .context("matching origins")?;
        for row in rows {
            let (canonical, found) = row.context("matching origins")?;
            lookups.origins.entry(canonical).or_insert(found);
        }
        drop(stmt);
        // The languages each credited story has a version in already.
        let mut versions = tx
            .prepare_cached("SELECT id, language FROM entries WHERE version_of = ?1 ORDER BY id")
            .context("matching origins")?;
        for origin in lookups.origins.values_mut() {
            let rows = versions
                .query_map([origin.story], |r| Ok((r.get(0)?, r.get(1)?)))
                .context("matching origins")?;
            origin.versions = rows
                .collect::<Result<Vec<_>, _>>()
                .context("matching origins")?;
        }
    }
    {
        // Stories stored before their original arrived; only primary versions (a translation
        // already belongs to a story).
        let mut stmt = tx
            .prepare_cached(
                "SELECT e.origin_url, e.id, e.published_at, e.language, e.signature FROM entries e
                 WHERE e.origin_url IN (SELECT value FROM json_each(?1)) AND e.version_of IS NULL
                 ORDER BY e.id",
            )
            .context("finding republications")?;
        let rows = stmt
            .query_map([&canonicals], |r| {
                Ok((r.get::<_, String>(0)?, origin_story(r, 1)?))
            })
            .context("finding republications")?;
        for row in rows {
            let (canonical, found) = row.context("finding republications")?;
            lookups
                .republications
                .entry(canonical)
                .or_default()
                .push(found);
        }
    }
    {
        let mut stmt = tx
            .prepare_cached(
                "SELECT entry_key FROM tombstones WHERE source_id = ?1 AND entry_key IN (SELECT value FROM json_each(?2))",
            )
            .context("checking tombstones")?;
        let rows = stmt
            .query_map(params![source.0, keys_json], |r| r.get::<_, String>(0))
            .context("checking tombstones")?;
        for row in rows {
            lookups
                .tombstoned
                .insert(row.context("checking tombstones")?);
        }
    }
    Ok(lookups)
}

/// An [`OriginStory`] from columns `at` (id), `at + 1` (published_at), `at + 2` (language),
/// `at + 3` (signature).
fn origin_story(r: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<OriginStory> {
    Ok(OriginStory {
        story: r.get(at)?,
        published_at: r.get(at + 1)?,
        language: r.get(at + 2)?,
        signature: r
            .get::<_, Option<Vec<u8>>>(at + 3)?
            .as_deref()
            .and_then(crate::dedup::fingerprint::from_bytes),
        versions: Vec::new(),
    })
}

/// Fills the near-duplicate index from the stories first seen since `since`.
/// The stories of the near-duplicate window; every column is in the index on first_seen_at, so
/// the scan never reads a story's row (migration 0012).
pub(super) const LOAD_INDEX: &str = "SELECT id, first_seen_at, signature, title_numbers, title_key
     FROM entries WHERE first_seen_at >= ?1";

pub(super) fn load_index(
    tx: &Connection,
    index: &mut NearIndex,
    since: Timestamp,
) -> Result<(), StoreError> {
    use crate::dedup::fingerprint;
    let mut stmt = tx
        .prepare(LOAD_INDEX)
        .context("loading near-duplicate index")?;
    // Stories stored before title keys were kept: their key is made from the title.
    let mut title_of = tx
        .prepare("SELECT title FROM entries WHERE id = ?1")
        .context("loading near-duplicate index")?;
    let mut rows = stmt
        .query([since])
        .context("loading near-duplicate index")?;
    while let Some(row) = rows.next().context("loading near-duplicate index")? {
        let read = |r: &rusqlite::Row<'_>| -> rusqlite::Result<_> {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, Timestamp>(1)?,
                r.get::<_, Option<Vec<u8>>>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, Option<i64>>(4)?,
            ))
        };
        let (id, seen, bytes, numbers, key) = read(row).context("loading near-duplicate index")?;
        let signature = bytes.as_deref().and_then(fingerprint::from_bytes);
        // Stored as SQLite's signed integer; the same 64 bits.
        let key = match key {
            Some(key) => Some(key as u64),
            None => title_of
                .query_row([id], |r| r.get::<_, String>(0))
                .optional()
                .context("loading near-duplicate index")?
                .and_then(|title| crate::dedup::title_key(&title)),
        };
        index.load_one(id, seen, signature, &numbers, key);
    }
    index.loaded();
    Ok(())
}
