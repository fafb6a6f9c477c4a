//! The sources table: syncing it with feeds.toml, each source's fetch state and schedule, what
//! each source calls itself, and its new stories per day.

use std::collections::{BTreeSet, HashMap};

use rusqlite::{Connection, OptionalExtension, params};

use super::{Context, Pending, SqliteStore};
use crate::model::{
    EntryKey, ScheduleRecord, SourceId, SourceLabel, SourceState, Timestamp, Validators,
};
use crate::store::columns::{join_list, small_list};
use crate::store::{Fetched, SourceSpec, StoreError};

/// Makes the sources table match feeds.toml: inserts new sources, updates titles and listed
/// topics, and marks removed ones inactive (their entries stay). Membership of stored entries
/// follows the topic rules: see [`Store::rebuild_membership`]. Returns the id of each spec, in
/// order.
pub(super) fn sync_sources(
    store: &SqliteStore,
    specs: &[SourceSpec],
) -> Result<Vec<SourceId>, StoreError> {
    let ids = store.with_writer(|conn| {
        let tx = conn.transaction().context("starting source sync")?;
        tx.execute("UPDATE sources SET active = 0", [])
            .context("syncing sources")?;
        let mut ids = Vec::with_capacity(specs.len());
        for spec in specs {
            tx.execute(
                "INSERT INTO sources (url, config_title, active) VALUES (?1, ?2, 1)
                 ON CONFLICT(url) DO UPDATE SET config_title = excluded.config_title, active = 1",
                params![spec.url, spec.title],
            )
            .context("syncing sources")?;
            let id: i64 = tx
                .query_row("SELECT id FROM sources WHERE url = ?1", [&spec.url], |r| {
                    r.get(0)
                })
                .context("syncing sources")?;
            let stored: BTreeSet<String> = {
                let mut stmt = tx
                    .prepare_cached("SELECT topic FROM source_topics WHERE source_id = ?1")
                    .context("syncing sources")?;
                let rows = stmt
                    .query_map([id], |r| r.get::<_, String>(0))
                    .context("syncing sources")?;
                rows.collect::<Result<_, _>>().context("syncing sources")?
            };
            let wanted: BTreeSet<String> = spec.topics.iter().map(|t| t.to_string()).collect();
            if stored != wanted {
                tx.execute("DELETE FROM source_topics WHERE source_id = ?1", [id])
                    .context("syncing sources")?;
                for topic in &wanted {
                    tx.execute(
                        "INSERT INTO source_topics (source_id, topic) VALUES (?1, ?2)",
                        params![id, topic],
                    )
                    .context("syncing sources")?;
                }
            }
            ids.push(SourceId(id));
        }
        tx.commit().context("committing source sync")?;
        Ok(ids)
    })?;
    store.signals.bump();
    Ok(ids)
}

pub(super) fn source_state(store: &SqliteStore, id: SourceId) -> Result<SourceState, StoreError> {
    store.with_reader(|conn| {
        conn.prepare_cached(&format!("{SOURCE_STATE_SELECT} WHERE s.id = ?1"))
            .context("reading source state")?
            .query_row([id.0], source_state_row)
            .optional()
            .context("reading source state")?
            .ok_or(StoreError::UnknownSource(id.0))
    })
}

/// The sources fetched from an adopted permanent-redirect target instead of their own URL.
pub(super) fn adopted_fetch_urls(
    store: &SqliteStore,
) -> Result<HashMap<SourceId, String>, StoreError> {
    store.with_reader(|conn| {
        let mut stmt = conn
            .prepare_cached("SELECT id, fetch_url FROM sources WHERE fetch_url IS NOT NULL")
            .context("reading fetch URLs")?;
        let rows = stmt
            .query_map([], |r| Ok((SourceId(r.get(0)?), r.get::<_, String>(1)?)))
            .context("reading fetch URLs")?;
        rows.collect::<Result<HashMap<_, _>, _>>()
            .context("reading fetch URLs")
    })
}

/// Every active source's state, in feeds.toml order of insertion.
pub(super) fn source_states(store: &SqliteStore) -> Result<Vec<SourceState>, StoreError> {
    store.with_reader(|conn| {
        let mut stmt = conn
            .prepare(&format!(
                "{SOURCE_STATE_SELECT} WHERE s.active = 1 ORDER BY s.id"
            ))
            .context("reading source states")?;
        let rows = stmt
            .query_map([], source_state_row)
            .context("reading source states")?;
        rows.collect::<Result<Vec<_>, _>>()
            .context("reading source states")
    })
}

/// See [`crate::store::Store::republications`]: the sightings the origin rules joined
/// (`sightings.joined_by`), counted per source.
pub(super) fn republications(
    store: &SqliteStore,
) -> Result<HashMap<SourceId, (u64, u64)>, StoreError> {
    store.with_reader(|conn| {
        let mut stmt = conn
            .prepare_cached(
                "SELECT source_id, SUM(joined_by = 'origin'), SUM(joined_by = 'translation')
                 FROM sightings WHERE joined_by IN ('origin', 'translation')
                 GROUP BY source_id",
            )
            .context("counting republications")?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    SourceId(r.get(0)?),
                    (r.get::<_, i64>(1)? as u64, r.get::<_, i64>(2)? as u64),
                ))
            })
            .context("counting republications")?;
        rows.collect::<Result<HashMap<_, _>, _>>()
            .context("counting republications")
    })
}

/// A 304 (or an unchanged body): the source is healthy and nothing else changes.
pub(super) fn record_not_modified(
    store: &SqliteStore,
    source: SourceId,
    fetched: &Fetched<'_>,
    now: Timestamp,
) -> Result<(), StoreError> {
    store.with_refresh(|conn| {
        conn.prepare_cached(
            "UPDATE sources SET etag = ?2, last_modified = ?3, last_fetch_at = ?4, last_success_at = ?4,
                last_status = ?5, last_error = NULL, consecutive_failures = 0,
                failure_class = NULL, gone_streak = 0, body_hash = COALESCE(?6, body_hash),
                last_unconditional_at = CASE WHEN ?7 THEN ?4 ELSE last_unconditional_at END
             WHERE id = ?1",
        )
        .context("recording not-modified")?
        .execute(params![
            source.0,
            fetched.validators.etag,
            fetched.validators.last_modified,
            now,
            fetched.status,
            fetched.body_hash,
            fetched.unconditional
        ])
        .context("recording not-modified")?;
        if let Some(schedule) = fetched.schedule {
            write_schedule(conn, source, schedule)?;
        }
        Ok((
            (),
            Pending {
                bump_sources: true,
                ..Pending::default()
            },
        ))
    })
}

/// A failed refresh: recorded on the source row; stored entries are untouched.
pub(super) fn record_failure(
    store: &SqliteStore,
    source: SourceId,
    error: &str,
    class: &str,
    status: Option<u16>,
    now: Timestamp,
) -> Result<(), StoreError> {
    store.with_refresh(|conn| {
        conn.prepare_cached(
            "UPDATE sources SET last_fetch_at = ?2, last_status = ?3, last_error = ?4,
                consecutive_failures = consecutive_failures + 1, failure_class = ?5,
                gone_streak = CASE WHEN ?6 THEN gone_streak + 1 ELSE 0 END
             WHERE id = ?1",
        )
        .context("recording failure")?
        .execute(params![
            source.0,
            now,
            status,
            error,
            class,
            status.is_some_and(crate::model::says_gone)
        ])
        .context("recording failure")?;
        Ok((
            (),
            Pending {
                bump_sources: true,
                ..Pending::default()
            },
        ))
    })
}

pub(super) fn record_schedule(
    store: &SqliteStore,
    source: SourceId,
    record: &ScheduleRecord,
) -> Result<(), StoreError> {
    store.with_refresh(|conn| {
        write_schedule(conn, source, record)?;
        Ok(((), Pending::default()))
    })
}

/// The source's schedule (see [`ScheduleRecord`]), inside the refresh that decided it.
pub(super) fn write_schedule(
    conn: &Connection,
    source: SourceId,
    record: &ScheduleRecord,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "UPDATE sources SET next_due_at = ?2, interval_secs = ?3, adaptive_secs = ?4,
            feed_hint_secs = ?5, skip_hours = ?6, skip_days = ?7, retry_after_until = ?8,
            fetch_url = ?9, redirect_target = ?10, redirect_streak = ?11
         WHERE id = ?1",
    )
    .context("scheduling source")?
    .execute(params![
        source.0,
        record.next_due_at,
        record.interval_secs,
        record.publishing_secs,
        record.feed_hint_secs,
        join_list(&record.skip_hours),
        join_list(&record.skip_days),
        record.retry_after_until,
        record.fetch_url,
        record.redirect_target,
        record.redirect_streak
    ])
    .context("scheduling source")?;
    Ok(())
}

/// What each source (by its feeds.toml URL) calls itself and where its site is.
pub(super) fn source_labels(
    store: &SqliteStore,
) -> Result<HashMap<String, SourceLabel>, StoreError> {
    store.with_reader(|conn| {
        let mut stmt = conn
            .prepare("SELECT url, feed_title, site_url FROM sources")
            .context("reading source labels")?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    SourceLabel {
                        feed_title: r.get(1)?,
                        site_url: r.get(2)?,
                    },
                ))
            })
            .context("reading source labels")?;
        rows.collect::<Result<HashMap<_, _>, _>>()
            .context("reading source labels")
    })
}

/// Stories each source carried for the first time, per UTC day, over the `days` days up to
/// and including the day of `now`: oldest day first. Sources with none are absent.
pub(super) fn daily_new_entries(
    store: &SqliteStore,
    days: usize,
    now: Timestamp,
) -> Result<HashMap<SourceId, Vec<u64>>, StoreError> {
    const DAY: i64 = 86_400;
    let Ok(span) = i64::try_from(days) else {
        return Ok(HashMap::new());
    };
    if span == 0 {
        return Ok(HashMap::new());
    }
    let end = (now.div_euclid(DAY) + 1) * DAY;
    let start = end - span * DAY;
    store.with_reader(|conn| {
        let mut stmt = conn
            .prepare(
                "SELECT source_id, (first_seen_at - ?1) / 86400 AS day, COUNT(*)
                 FROM sightings
                 WHERE first_seen_at >= ?1 AND first_seen_at < ?2
                 GROUP BY source_id, day",
            )
            .context("counting new entries per day")?;
        let rows = stmt
            .query_map(params![start, end], |r| {
                Ok((
                    SourceId(r.get(0)?),
                    r.get::<_, i64>(1)?,
                    r.get::<_, i64>(2)?,
                ))
            })
            .context("counting new entries per day")?;
        let mut daily: HashMap<SourceId, Vec<u64>> = HashMap::new();
        for row in rows {
            let (source, day, n) = row.context("counting new entries per day")?;
            let counts = daily.entry(source).or_insert_with(|| vec![0; days]);
            if let Some(slot) = usize::try_from(day).ok().and_then(|d| counts.get_mut(d)) {
                *slot = u64::try_from(n).unwrap_or(0);
            }
        }
        Ok(daily)
    })
}

const SOURCE_STATE_SELECT: &str =
    "SELECT s.id, s.url, s.etag, s.last_modified, s.last_fetch_at, s.last_success_at,
        s.last_status, s.last_error, s.consecutive_failures, s.next_due_at,
        (SELECT COUNT(*) FROM sightings g WHERE g.source_id = s.id),
        s.fetch_url, s.redirect_target, s.redirect_streak, s.body_hash, s.last_unconditional_at,
        s.failure_class, s.gone_streak, s.retry_after_until, s.adaptive_secs, s.interval_secs,
        s.feed_hint_secs, s.skip_hours, s.skip_days, s.identity_mode, s.warning
     FROM sources s";

fn source_state_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<SourceState> {
    Ok(SourceState {
        id: SourceId(r.get(0)?),
        url: r.get(1)?,
        validators: Validators {
            etag: r.get(2)?,
            last_modified: r.get(3)?,
        },
        last_fetch_at: r.get(4)?,
        last_success_at: r.get(5)?,
        last_status: r
            .get::<_, Option<i64>>(6)?
            .and_then(|s| u16::try_from(s).ok()),
        last_error: r.get(7)?,
        consecutive_failures: u32::try_from(r.get::<_, i64>(8)?).unwrap_or(u32::MAX),
        next_due_at: r.get(9)?,
        entries: u64::try_from(r.get::<_, i64>(10)?).unwrap_or(0),
        fetch_url: r.get(11)?,
        redirect_target: r.get(12)?,
        redirect_streak: u32::try_from(r.get::<_, i64>(13)?).unwrap_or(0),
        body_hash: r.get(14)?,
        last_unconditional_at: r.get(15)?,
        failure_class: r.get(16)?,
        gone_streak: u32::try_from(r.get::<_, i64>(17)?).unwrap_or(0),
        retry_after_until: r.get(18)?,
        publishing_secs: r.get(19)?,
        interval_secs: r.get(20)?,
        feed_hint_secs: r.get(21)?,
        skip_hours: small_list(r.get(22)?),
        skip_days: small_list(r.get(23)?),
        identity_mode: r
            .get::<_, Option<String>>(24)?
            .as_deref()
            .and_then(crate::model::Identity::parse),
        warning: r.get(25)?,
        lease: None,
    })
}

pub(super) fn item_hashes(
    store: &SqliteStore,
    source: SourceId,
) -> Result<HashMap<i64, EntryKey>, StoreError> {
    store.with_reader(|conn| {
        let mut stmt = conn
            .prepare_cached(
                "SELECT item_hash, entry_key FROM sightings WHERE source_id = ?1 AND item_hash IS NOT NULL",
            )
            .context("reading item hashes")?;
        let rows = stmt
            .query_map([source.0], |r| {
                Ok((r.get::<_, i64>(0)?, EntryKey::from_stored(r.get(1)?)))
            })
            .context("reading item hashes")?;
        rows.collect::<Result<HashMap<_, _>, _>>()
            .context("reading item hashes")
    })
}
