//! Retention: pruning old stories and each source's stories beyond its cap, leaving tombstones so
//! that a feed still listing them cannot bring them back. The SQLite engine's `retention.rs`,
//! statement for statement; the cluster runs it on one node at a time (see `cluster_jobs`).

use super::membership::record_pages_shrank;
use super::{Context, PostgresStore, Shown};
use crate::model::Timestamp;
use crate::store::{PruneStats, StoreError};

/// Removes stories first seen and published before `now - retention`, and each source's
/// sightings beyond its newest `max_per_source`; stories no source carries any more go too.
/// Every removed sighting leaves a tombstone so that the source cannot bring it back.
pub(super) fn prune(
    store: &PostgresStore,
    now: Timestamp,
    retention: i64,
    max_per_source: usize,
) -> Result<PruneStats, StoreError> {
    let cutoff = now - retention;
    let max = i64::try_from(max_per_source).unwrap_or(i64::MAX);
    store.write(|db| {
        let tx = &mut *db.tx;
        tx.batch_execute(
            "CREATE TEMP TABLE doomed (source_id BIGINT, entry_key TEXT, entry_id BIGINT)
             ON COMMIT DROP",
        )
        .context("pruning")?;
        // A translation is as old as the story it translates: they go together.
        tx.execute(
            "INSERT INTO doomed SELECT g.source_id, g.entry_key, g.entry_id FROM sightings g
             JOIN entries e ON e.id = g.entry_id
             JOIN entries p ON p.id = COALESCE(e.version_of, e.id)
             WHERE p.first_seen_at < $1 AND p.published_at < $1",
            &[&cutoff],
        )
        .context("pruning old stories")?;
        // Two sightings of one story by one source tie on the story: the key breaks the tie,
        // compared bytewise (SQLite's BINARY collation), on both engines.
        tx.execute(
            "INSERT INTO doomed SELECT source_id, entry_key, entry_id FROM (
                SELECT g.source_id, g.entry_key, g.entry_id,
                       ROW_NUMBER() OVER (PARTITION BY g.source_id
                                          ORDER BY e.published_at DESC, e.id DESC,
                                                   g.entry_key COLLATE \"C\") AS n
                FROM sightings g JOIN entries e ON e.id = g.entry_id) ranked
             WHERE n > $1",
            &[&max],
        )
        .context("pruning beyond the per-source cap")?;
        tx.execute(
            "INSERT INTO tombstones (source_id, entry_key, pruned_at)
             SELECT DISTINCT source_id, entry_key, $1::BIGINT FROM doomed
             ON CONFLICT (source_id, entry_key) DO UPDATE SET pruned_at = excluded.pruned_at",
            &[&now],
        )
        .context("writing tombstones")?;
        let sightings = tx
            .execute(
                "DELETE FROM sightings
                 WHERE (source_id, entry_key) IN (SELECT source_id, entry_key FROM doomed)",
                &[],
            )
            .context("pruning sightings")?;
        // A story that goes takes its translations (by foreign key): their sightings are
        // tombstoned too, or their sources would bring them back as stories of their own.
        tx.execute(
            "INSERT INTO tombstones (source_id, entry_key, pruned_at)
             SELECT g.source_id, g.entry_key, $1::BIGINT
             FROM sightings g JOIN entries v ON v.id = g.entry_id
             WHERE v.version_of IN (SELECT entry_id FROM doomed)
               AND NOT EXISTS (SELECT 1 FROM sightings o WHERE o.entry_id = v.version_of)
             ON CONFLICT (source_id, entry_key) DO UPDATE SET pruned_at = excluded.pruned_at",
            &[&now],
        )
        .context("writing tombstones")?;
        let deleted: Vec<(i64, Option<i64>)> = tx
            .query(
                "DELETE FROM entries WHERE id IN (SELECT entry_id FROM doomed)
                   AND NOT EXISTS (SELECT 1 FROM sightings g WHERE g.entry_id = entries.id)
                 RETURNING id, version_of",
                &[],
            )
            .context("pruning stories")?
            .iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect::<Result<_, postgres::Error>>()
            .context("pruning stories")?;
        let entries = stories_counted(&deleted);
        // A story that lost its first sighting but is still carried by others is published
        // from the earliest remaining one.
        tx.execute(
            "UPDATE entries SET source_id = (SELECT g.source_id FROM sightings g
                                             WHERE g.entry_id = entries.id
                                             ORDER BY g.first_seen_at, g.source_id LIMIT 1)
             WHERE id IN (SELECT entry_id FROM doomed)",
            &[],
        )
        .context("re-attributing stories")?;
        let shown = if sightings > 0 {
            record_pages_shrank(tx, now)?;
            Shown::Pages
        } else {
            Shown::Nothing
        };
        let stats = PruneStats {
            entries,
            sightings: usize::try_from(sightings).unwrap_or(usize::MAX),
        };
        Ok((stats, shown))
    })
}

/// How many of the `deleted` (id, version_of) rows the SQLite engine counts for the same
/// prune. SQLite deletes in id order and its foreign key removes a story's translations as the
/// story goes, so a translation stored after its story (the usual case) is gone before its turn
/// and counts with the story; PostgreSQL removes both by the statement itself and reports both.
fn stories_counted(deleted: &[(i64, Option<i64>)]) -> usize {
    let ids: std::collections::HashSet<i64> = deleted.iter().map(|(id, _)| *id).collect();
    deleted
        .iter()
        .filter(|(id, story)| !story.is_some_and(|s| s < *id && ids.contains(&s)))
        .count()
}

/// Which story each (source URL, entry key) sighting belongs to.
pub(super) fn sightings(store: &PostgresStore) -> Result<Vec<(String, String, i64)>, StoreError> {
    store.with_client(|client| {
        client
            .query(
                "SELECT s.url, g.entry_key, g.entry_id
                 FROM sightings g JOIN sources s ON s.id = g.source_id",
                &[],
            )
            .context("reading sightings")?
            .iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
            .collect::<Result<Vec<_>, postgres::Error>>()
            .context("reading sightings")
    })
}
