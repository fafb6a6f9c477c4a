//! Retention: pruning old stories and each source's stories beyond its cap, leaving tombstones so
//! that a feed still listing them cannot bring them back.

use super::membership::record_pages_shrank;
use super::{Context, SqliteStore};
use crate::model::Timestamp;
use crate::store::{PruneStats, StoreError};

/// Removes stories first seen and published before `now - retention`, and each source's
/// sightings beyond its newest `max_per_source`; stories no source carries any more go too.
/// Every removed sighting leaves a tombstone so that the source cannot bring it back.
pub(super) fn prune(
    store: &SqliteStore,
    now: Timestamp,
    retention: i64,
    max_per_source: usize,
) -> Result<PruneStats, StoreError> {
    let cutoff = now - retention;
    let max = i64::try_from(max_per_source).unwrap_or(i64::MAX);
    let stats = store.with_writer(|conn| {
        let tx = conn.transaction().context("starting prune")?;
        tx.execute_batch("CREATE TEMP TABLE IF NOT EXISTS doomed (source_id INTEGER, entry_key TEXT, entry_id INTEGER); DELETE FROM doomed;")
            .context("pruning")?;
        // A translation is as old as the story it translates: they go together.
        tx.execute(
            "INSERT INTO doomed SELECT g.source_id, g.entry_key, g.entry_id FROM sightings g
             JOIN entries e ON e.id = g.entry_id
             JOIN entries p ON p.id = COALESCE(e.version_of, e.id)
             WHERE p.first_seen_at < ?1 AND p.published_at < ?1",
            [cutoff],
        )
        .context("pruning old stories")?;
        tx.execute(
            "INSERT INTO doomed SELECT source_id, entry_key, entry_id FROM (
                SELECT g.source_id, g.entry_key, g.entry_id,
                       ROW_NUMBER() OVER (PARTITION BY g.source_id
                                          ORDER BY e.published_at DESC, e.id DESC, g.entry_key) AS n
                FROM sightings g JOIN entries e ON e.id = g.entry_id)
             WHERE n > ?1",
            [max],
        )
        .context("pruning beyond the per-source cap")?;
        tx.execute(
            "INSERT OR REPLACE INTO tombstones (source_id, entry_key, pruned_at)
             SELECT DISTINCT source_id, entry_key, ?1 FROM doomed",
            [now],
        )
        .context("writing tombstones")?;
        let sightings = tx
            .execute(
                "DELETE FROM sightings WHERE (source_id, entry_key) IN (SELECT source_id, entry_key FROM doomed)",
                [],
            )
            .context("pruning sightings")?;
        // A story that goes takes its translations (by foreign key): their sightings are
        // tombstoned too, or their sources would bring them back as stories of their own.
        tx.execute(
            "INSERT OR REPLACE INTO tombstones (source_id, entry_key, pruned_at)
             SELECT g.source_id, g.entry_key, ?1 FROM sightings g JOIN entries v ON v.id = g.entry_id
             WHERE v.version_of IN (SELECT entry_id FROM doomed)
               AND NOT EXISTS (SELECT 1 FROM sightings o WHERE o.entry_id = v.version_of)",
            [now],
        )
        .context("writing tombstones")?;
        let entries = tx
            .execute(
                "DELETE FROM entries WHERE id IN (SELECT entry_id FROM doomed)
                   AND NOT EXISTS (SELECT 1 FROM sightings g WHERE g.entry_id = entries.id)",
                [],
            )
            .context("pruning stories")?;
        // A story that lost its first sighting but is still carried by others is published
        // from the earliest remaining one.
        tx.execute(
            "UPDATE entries SET source_id = (SELECT g.source_id FROM sightings g WHERE g.entry_id = entries.id
                                             ORDER BY g.first_seen_at, g.source_id LIMIT 1)
             WHERE id IN (SELECT entry_id FROM doomed)",
            [],
        )
        .context("re-attributing stories")?;
        tx.execute("DELETE FROM doomed", []).context("pruning")?;
        if sightings > 0 {
            record_pages_shrank(&tx, now)?;
        }
        tx.commit().context("committing prune")?;
        Ok(PruneStats { entries, sightings })
    })?;
    if stats.sightings > 0 {
        store.signals.bump();
    }
    Ok(stats)
}

/// Which story each (source URL, entry key) sighting belongs to.
pub(super) fn sightings(store: &SqliteStore) -> Result<Vec<(String, String, i64)>, StoreError> {
    store.with_reader(|conn| {
        let mut stmt = conn
            .prepare("SELECT s.url, g.entry_key, g.entry_id FROM sightings g JOIN sources s ON s.id = g.source_id")
            .context("reading sightings")?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .context("reading sightings")?;
        rows.collect::<Result<Vec<_>, _>>().context("reading sightings")
    })
}
