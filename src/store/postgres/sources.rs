//! Sources: syncing with feeds.toml, their state and schedule, what each fetch recorded, what
//! each source calls itself and its new stories per day: the SQLite engine's `sources.rs`, with
//! the leases that give each due source to one node shown in [`SourceState::lease`] and cleared
//! by every write a fetch ends with.

use std::collections::{BTreeSet, HashMap};

use postgres::Row;

use super::{Context, PostgresStore, Prepared, Shown};
use crate::model::{
    EntryKey, Identity, Lease, ScheduleRecord, SourceId, SourceLabel, SourceState, Timestamp,
    Validators,
};
use crate::store::columns::{join_list, small_list};
use crate::store::{Fetched, SourceSpec, StoreError};

/// Makes the sources table match feeds.toml: inserts new sources, updates titles and listed
/// topics, and marks removed ones inactive (their entries stay). Returns the id of each spec,
/// in order. Titles and topics are what pages show: every node's pages are stale after it.
///
/// A handful of statements over arrays, however many sources there are: one per source made a
/// node with ten thousand sources spend its first seconds on round trips. A URL listed twice
/// takes the title and topics of its last listing, as the SQLite engine's upserts leave it.
pub(super) fn sync_sources(
    store: &PostgresStore,
    specs: &[SourceSpec],
) -> Result<Vec<SourceId>, StoreError> {
    const CONTEXT: &str = "syncing sources";
    // Each URL once, where it is first listed (new sources take ids in feeds.toml order), with
    // what its last listing says.
    let mut last: Vec<&SourceSpec> = Vec::with_capacity(specs.len());
    let mut place: HashMap<&str, usize> = HashMap::with_capacity(specs.len());
    for spec in specs {
        match place.get(spec.url.as_str()) {
            Some(&at) => last[at] = spec,
            None => {
                place.insert(spec.url.as_str(), last.len());
                last.push(spec);
            }
        }
    }
    store.write(|db| {
        let tx = &mut *db.tx;
        tx.execute("UPDATE sources SET active = 0", &[])
            .context(CONTEXT)?;
        let (urls, titles): (Vec<&str>, Vec<Option<&str>>) = last
            .iter()
            .map(|spec| (spec.url.as_str(), spec.title.as_deref()))
            .unzip();
        // Known sources are updated first and only new ones inserted: an INSERT that meets its
        // conflict still takes an id from the sequence, and re-syncing at every start would
        // waste them.
        let mut ids: HashMap<String, i64> = HashMap::with_capacity(urls.len());
        fn note(ids: &mut HashMap<String, i64>, rows: Vec<Row>) -> Result<(), StoreError> {
            for row in rows {
                ids.insert(
                    row.try_get(0).context(CONTEXT)?,
                    row.try_get(1).context(CONTEXT)?,
                );
            }
            Ok(())
        }
        note(
            &mut ids,
            tx.query(
                "UPDATE sources s SET config_title = u.title, active = 1
                 FROM unnest($1::TEXT[], $2::TEXT[]) AS u(url, title)
                 WHERE s.url = u.url
                 RETURNING s.url, s.id",
                &[&urls, &titles],
            )
            .context(CONTEXT)?,
        )?;
        let (new_urls, new_titles): (Vec<&str>, Vec<Option<&str>>) = urls
            .iter()
            .zip(&titles)
            .filter(|(url, _)| !ids.contains_key(**url))
            .map(|(url, title)| (*url, *title))
            .unzip();
        if !new_urls.is_empty() {
            // Another node may insert the same URL meanwhile: the conflict makes this an
            // update of its row.
            let rows = tx
                .query(
                    "INSERT INTO sources (url, config_title, active)
                     SELECT u.url, u.title, 1
                     FROM unnest($1::TEXT[], $2::TEXT[]) WITH ORDINALITY AS u(url, title, n)
                     ORDER BY u.n
                     ON CONFLICT (url) DO UPDATE
                         SET config_title = excluded.config_title, active = 1
                     RETURNING url, id",
                    &[&new_urls, &new_titles],
                )
                .context(CONTEXT)?;
            note(&mut ids, rows)?;
        }
        let id_of = |url: &str| -> Result<i64, StoreError> {
            ids.get(url)
                .copied()
                .ok_or_else(|| StoreError::Inconsistent {
                    context: CONTEXT,
                    detail: format!("the database returned no row for source {url}"),
                })
        };
        let synced: Vec<i64> = urls
            .iter()
            .map(|url| id_of(url))
            .collect::<Result<_, _>>()?;
        let mut stored: HashMap<i64, BTreeSet<String>> = HashMap::new();
        for row in tx
            .query(
                "SELECT source_id, topic FROM source_topics WHERE source_id = ANY($1)",
                &[&synced],
            )
            .context(CONTEXT)?
        {
            stored
                .entry(row.try_get(0).context(CONTEXT)?)
                .or_default()
                .insert(row.try_get(1).context(CONTEXT)?);
        }
        let (mut changed, mut topic_ids, mut topics) = (Vec::new(), Vec::new(), Vec::new());
        for (spec, id) in last.iter().zip(&synced) {
            let wanted: BTreeSet<String> = spec.topics.iter().map(|t| t.to_string()).collect();
            if stored
                .get(id)
                .map_or(!wanted.is_empty(), |had| *had != wanted)
            {
                changed.push(*id);
                for topic in wanted {
                    topic_ids.push(*id);
                    topics.push(topic);
                }
            }
        }
        if !changed.is_empty() {
            tx.execute(
                "DELETE FROM source_topics WHERE source_id = ANY($1)",
                &[&changed],
            )
            .context(CONTEXT)?;
            tx.execute(
                "INSERT INTO source_topics (source_id, topic)
                 SELECT * FROM unnest($1::BIGINT[], $2::TEXT[])",
                &[&topic_ids, &topics],
            )
            .context(CONTEXT)?;
        }
        let ids = specs
            .iter()
            .map(|spec| id_of(&spec.url).map(SourceId))
            .collect::<Result<_, _>>()?;
        Ok((ids, Shown::Pages))
    })
}

pub(super) fn source_state(store: &PostgresStore, id: SourceId) -> Result<SourceState, StoreError> {
    const CONTEXT: &str = "reading source state";
    store
        .query_prepared(
            &format!("{SOURCE_STATE_SELECT} WHERE s.id = $1"),
            &[&id.0],
            CONTEXT,
        )?
        .first()
        .map(source_state_row)
        .transpose()
        .context(CONTEXT)?
        .ok_or(StoreError::UnknownSource(id.0))
}

/// Every active source's state, in feeds.toml order of insertion.
pub(super) fn source_states(store: &PostgresStore) -> Result<Vec<SourceState>, StoreError> {
    store.with_client(|client| {
        client
            .query(
                &format!("{SOURCE_STATE_SELECT} WHERE s.active = 1 ORDER BY s.id"),
                &[],
            )
            .context("reading source states")?
            .iter()
            .map(source_state_row)
            .collect::<Result<Vec<_>, _>>()
            .context("reading source states")
    })
}

/// The sources fetched from an adopted permanent-redirect target instead of their own URL.
pub(super) fn adopted_fetch_urls(
    store: &PostgresStore,
) -> Result<HashMap<SourceId, String>, StoreError> {
    store.with_client(|client| {
        client
            .query(
                "SELECT id, fetch_url FROM sources WHERE fetch_url IS NOT NULL",
                &[],
            )
            .context("reading fetch URLs")?
            .iter()
            .map(|r| Ok((SourceId(r.try_get(0)?), r.try_get::<_, String>(1)?)))
            .collect::<Result<HashMap<_, _>, postgres::Error>>()
            .context("reading fetch URLs")
    })
}

/// What each source (by its feeds.toml URL) calls itself and where its site is.
pub(super) fn source_labels(
    store: &PostgresStore,
) -> Result<HashMap<String, SourceLabel>, StoreError> {
    store.with_client(|client| {
        client
            .query("SELECT url, feed_title, site_url FROM sources", &[])
            .context("reading source labels")?
            .iter()
            .map(|r| {
                Ok((
                    r.try_get::<_, String>(0)?,
                    SourceLabel {
                        feed_title: r.try_get(1)?,
                        site_url: r.try_get(2)?,
                    },
                ))
            })
            .collect::<Result<HashMap<_, _>, postgres::Error>>()
            .context("reading source labels")
    })
}

/// Stories each source carried for the first time, per UTC day, over the `days` days up to
/// and including the day of `now`: oldest day first. Sources with none are absent.
pub(super) fn daily_new_entries(
    store: &PostgresStore,
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
    store.with_client(|client| {
        // BIGINT division truncates, as SQLite's INTEGER division does; every row is at or
        // after `start`, so both floor.
        let rows = client
            .query(
                "SELECT source_id, (first_seen_at - $1) / 86400 AS day, COUNT(*)
                 FROM sightings
                 WHERE first_seen_at >= $1 AND first_seen_at < $2
                 GROUP BY source_id, day",
                &[&start, &end],
            )
            .context("counting new entries per day")?;
        let mut daily: HashMap<SourceId, Vec<u64>> = HashMap::new();
        for row in rows {
            let (source, day, n): (i64, i64, i64) =
                (|| Ok::<_, postgres::Error>((row.try_get(0)?, row.try_get(1)?, row.try_get(2)?)))(
                )
                .context("counting new entries per day")?;
            let counts = daily
                .entry(SourceId(source))
                .or_insert_with(|| vec![0; days]);
            if let Some(slot) = usize::try_from(day).ok().and_then(|d| counts.get_mut(d)) {
                *slot = u64::try_from(n).unwrap_or(0);
            }
        }
        Ok(daily)
    })
}

/// See [`crate::store::Store::republications`]: the sightings the origin rules joined
/// (`sightings.joined_by`), counted per source.
pub(super) fn republications(
    store: &PostgresStore,
) -> Result<HashMap<SourceId, (u64, u64)>, StoreError> {
    store.with_client(|client| {
        client
            .query(
                "SELECT source_id,
                        COUNT(*) FILTER (WHERE joined_by = 'origin'),
                        COUNT(*) FILTER (WHERE joined_by = 'translation')
                 FROM sightings WHERE joined_by IN ('origin', 'translation')
                 GROUP BY source_id",
                &[],
            )
            .context("counting republications")?
            .iter()
            .map(|r| {
                Ok((
                    SourceId(r.try_get(0)?),
                    (
                        u64::try_from(r.try_get::<_, i64>(1)?).unwrap_or(0),
                        u64::try_from(r.try_get::<_, i64>(2)?).unwrap_or(0),
                    ),
                ))
            })
            .collect::<Result<HashMap<_, _>, postgres::Error>>()
            .context("counting republications")
    })
}

/// A 304 (or an unchanged body): the source is healthy and nothing else changes. The fetch is
/// over, so the node's lease on the source ends.
pub(super) fn record_not_modified(
    store: &PostgresStore,
    source: SourceId,
    fetched: &Fetched<'_>,
    now: Timestamp,
) -> Result<(), StoreError> {
    store.write(|db| {
        db.execute(
            "UPDATE sources SET etag = $2, last_modified = $3, last_fetch_at = $4,
                last_success_at = $4, last_status = $5, last_error = NULL,
                consecutive_failures = 0, failure_class = NULL, gone_streak = 0,
                body_hash = COALESCE($6, body_hash),
                last_unconditional_at = CASE WHEN $7 THEN $4 ELSE last_unconditional_at END,
                leased_by = NULL, leased_until = NULL
             WHERE id = $1",
            &[
                &source.0,
                &fetched.validators.etag,
                &fetched.validators.last_modified,
                &now,
                &i64::from(fetched.status),
                &fetched.body_hash,
                &fetched.unconditional,
            ],
            "recording not-modified",
        )?;
        if let Some(schedule) = fetched.schedule {
            write_schedule(db, source, schedule)?;
        }
        Ok(((), Shown::Sources))
    })
}

/// A failed refresh: recorded on the source row (its lease ends); stored entries are untouched.
pub(super) fn record_failure(
    store: &PostgresStore,
    source: SourceId,
    error: &str,
    class: &str,
    status: Option<u16>,
    now: Timestamp,
) -> Result<(), StoreError> {
    store.write(|db| {
        db.execute(
            "UPDATE sources SET last_fetch_at = $2, last_status = $3, last_error = $4,
                consecutive_failures = consecutive_failures + 1, failure_class = $5,
                gone_streak = CASE WHEN $6 THEN gone_streak + 1 ELSE 0 END,
                leased_by = NULL, leased_until = NULL
             WHERE id = $1",
            &[
                &source.0,
                &now,
                &status.map(i64::from),
                &error,
                &class,
                &status.is_some_and(crate::model::says_gone),
            ],
            "recording failure",
        )?;
        Ok(((), Shown::Sources))
    })
}

/// What the scheduler decided after a refresh. Nothing shown changes (as on SQLite, where this
/// moves no generation), so no other node is told.
pub(super) fn record_schedule(
    store: &PostgresStore,
    source: SourceId,
    record: &ScheduleRecord,
) -> Result<(), StoreError> {
    store.write(|db| {
        write_schedule(db, source, record)?;
        Ok(((), Shown::Nothing))
    })
}

/// The source's schedule (see [`ScheduleRecord`]), inside the write that ends its fetch: the
/// schedule is decided after a fetch, so the lease that fetch held ends with it.
pub(super) fn write_schedule(
    db: &mut Prepared<'_, '_>,
    source: SourceId,
    record: &ScheduleRecord,
) -> Result<(), StoreError> {
    db.execute(
        "UPDATE sources SET next_due_at = $2, interval_secs = $3, adaptive_secs = $4,
            feed_hint_secs = $5, skip_hours = $6, skip_days = $7, retry_after_until = $8,
            fetch_url = $9, redirect_target = $10, redirect_streak = $11,
            leased_by = NULL, leased_until = NULL
         WHERE id = $1",
        &[
            &source.0,
            &record.next_due_at,
            &record.interval_secs,
            &record.publishing_secs,
            &record.feed_hint_secs,
            &join_list(&record.skip_hours),
            &join_list(&record.skip_days),
            &record.retry_after_until,
            &record.fetch_url,
            &record.redirect_target,
            &i64::from(record.redirect_streak),
        ],
        "scheduling source",
    )?;
    Ok(())
}

/// The item hashes of a source's stored sightings, with the key each is stored under.
pub(super) fn item_hashes(
    store: &PostgresStore,
    source: SourceId,
) -> Result<HashMap<i64, EntryKey>, StoreError> {
    const CONTEXT: &str = "reading item hashes";
    store
        .query_prepared(
            "SELECT item_hash, entry_key FROM sightings
             WHERE source_id = $1 AND item_hash IS NOT NULL",
            &[&source.0],
            CONTEXT,
        )?
        .iter()
        .map(|r| Ok((r.try_get(0)?, EntryKey::from_stored(r.try_get(1)?))))
        .collect::<Result<HashMap<_, _>, postgres::Error>>()
        .context(CONTEXT)
}

const SOURCE_STATE_SELECT: &str =
    "SELECT s.id, s.url, s.etag, s.last_modified, s.last_fetch_at, s.last_success_at,
        s.last_status, s.last_error, s.consecutive_failures, s.next_due_at,
        (SELECT COUNT(*) FROM sightings g WHERE g.source_id = s.id),
        s.fetch_url, s.redirect_target, s.redirect_streak, s.body_hash, s.last_unconditional_at,
        s.failure_class, s.gone_streak, s.retry_after_until, s.adaptive_secs, s.interval_secs,
        s.feed_hint_secs, s.skip_hours, s.skip_days, s.identity_mode, s.warning,
        s.leased_by, s.leased_until
     FROM sources s";

fn source_state_row(r: &Row) -> Result<SourceState, postgres::Error> {
    let leased_by: Option<String> = r.try_get(26)?;
    let leased_until: Option<i64> = r.try_get(27)?;
    Ok(SourceState {
        id: SourceId(r.try_get(0)?),
        url: r.try_get(1)?,
        validators: Validators {
            etag: r.try_get(2)?,
            last_modified: r.try_get(3)?,
        },
        last_fetch_at: r.try_get(4)?,
        last_success_at: r.try_get(5)?,
        last_status: r
            .try_get::<_, Option<i64>>(6)?
            .and_then(|s| u16::try_from(s).ok()),
        last_error: r.try_get(7)?,
        consecutive_failures: u32::try_from(r.try_get::<_, i64>(8)?).unwrap_or(u32::MAX),
        next_due_at: r.try_get(9)?,
        entries: u64::try_from(r.try_get::<_, i64>(10)?).unwrap_or(0),
        fetch_url: r.try_get(11)?,
        redirect_target: r.try_get(12)?,
        redirect_streak: u32::try_from(r.try_get::<_, i64>(13)?).unwrap_or(0),
        body_hash: r.try_get(14)?,
        last_unconditional_at: r.try_get(15)?,
        failure_class: r.try_get(16)?,
        gone_streak: u32::try_from(r.try_get::<_, i64>(17)?).unwrap_or(0),
        retry_after_until: r.try_get(18)?,
        publishing_secs: r.try_get(19)?,
        interval_secs: r.try_get(20)?,
        feed_hint_secs: r.try_get(21)?,
        skip_hours: small_list(r.try_get(22)?),
        skip_days: small_list(r.try_get(23)?),
        identity_mode: r
            .try_get::<_, Option<String>>(24)?
            .as_deref()
            .and_then(Identity::parse),
        warning: r.try_get(25)?,
        // A lease past its time is shown as it stands: `status` says whose it was and until
        // when; taking due sources treats it as anybody's.
        lease: leased_by.map(|node| Lease {
            node,
            until: leased_until.unwrap_or(0),
        }),
    })
}
