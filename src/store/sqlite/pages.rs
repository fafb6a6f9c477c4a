//! What the server reads to render: a topic's pages, with every story's attributions, and the
//! topics' sizes.

use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension, params};

use super::membership::PAGES_SHRANK_SETTING;
use super::{Context, SqliteStore};
use crate::model::{
    Credit, PageCursor, SourceRef, StoredEntry, TopicSlice, TopicSlug, TopicSummary,
};
use crate::store::StoreError;
use crate::store::columns::{
    STORED_ENTRY_COLUMN_COUNT, STORED_ENTRY_COLUMNS, distinct_ids, json_list, to_json,
};

/// One page of a topic: up to `limit` entries strictly older than `before` (all when `None`)
/// in the topic's order, newest first, with attribution, and where the next page starts if
/// there is one. Keyset pagination on the `entry_topics` primary key, so a page deep in a
/// topic costs the same as the first and a cursor stays valid while new entries arrive.
pub(super) fn topic_page(
    store: &SqliteStore,
    topic: &TopicSlug,
    before: Option<PageCursor>,
    limit: usize,
) -> Result<TopicSlice, StoreError> {
    // (sort_at, entry_id) < cursor, written so that SQLite sees a range on the primary key.
    let (sort_at, entry_id) = match before {
        Some(c) => (c.sort_at, c.entry_id),
        None => (i64::MAX, i64::MAX),
    };
    store.with_reader(|conn| {
        let mut stmt = conn
            .prepare_cached(&format!(
                "SELECT {STORED_ENTRY_COLUMNS}, t.sort_at
                 FROM entry_topics t
                 JOIN entries e ON e.id = t.entry_id
                 JOIN sources s ON s.id = e.source_id
                 WHERE t.topic = ?1
                   AND t.sort_at <= ?2
                   AND (t.sort_at < ?2 OR t.entry_id < ?3)
                 ORDER BY t.sort_at DESC, t.entry_id DESC
                 LIMIT ?4"
            ))
            .context("reading topic")?;
        // One row more than asked for says whether there is a next page.
        let fetch = i64::try_from(limit.saturating_add(1)).unwrap_or(i64::MAX);
        let rows = stmt
            .query_map(params![topic.as_str(), sort_at, entry_id, fetch], |r| {
                let entry = stored_entry_row(r)?;
                Ok((entry, r.get::<_, i64>(STORED_ENTRY_COLUMN_COUNT)?))
            })
            .context("reading topic")?;
        let mut rows = rows
            .collect::<Result<Vec<_>, _>>()
            .context("reading topic")?;
        let next = if rows.len() > limit {
            rows.truncate(limit);
            rows.last().map(|(e, sort_at)| PageCursor {
                sort_at: *sort_at,
                entry_id: e.id,
            })
        } else {
            None
        };
        // The cursor above follows the rows, so the walk through the pages still visits
        // every row exactly once.
        let mut entries = distinct_ids(rows.into_iter().map(|(e, _)| e));
        attach_other_sources(conn, &mut entries)?;
        let shrank_at = conn
            .prepare_cached("SELECT value FROM settings WHERE key = ?1")
            .and_then(|mut stmt| {
                stmt.query_row([PAGES_SHRANK_SETTING], |r| r.get::<_, String>(0))
                    .optional()
            })
            .context("reading topic")?
            .and_then(|v| v.parse().ok());
        Ok(TopicSlice {
            entries,
            next,
            shrank_at,
        })
    })
}

/// Entries per topic (the built-in `all` included) and when the newest change to one was.
pub(super) fn topic_summaries(
    store: &SqliteStore,
) -> Result<HashMap<String, TopicSummary>, StoreError> {
    store.with_reader(|conn| {
        let mut stmt = conn
            .prepare(
                "SELECT t.topic, COUNT(*), MAX(e.changed_at)
                 FROM entry_topics t JOIN entries e ON e.id = t.entry_id
                 GROUP BY t.topic",
            )
            .context("summarizing topics")?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    TopicSummary {
                        entries: u64::try_from(r.get::<_, i64>(1)?).unwrap_or(0),
                        updated: r.get(2)?,
                    },
                ))
            })
            .context("summarizing topics")?;
        rows.collect::<Result<HashMap<_, _>, _>>()
            .context("summarizing topics")
    })
}

pub(super) fn stored_entry_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<StoredEntry> {
    Ok(StoredEntry {
        id: r.get(0)?,
        public_id: r.get(1)?,
        link: r.get(2)?,
        title: r.get(3)?,
        summary_html: r.get(4)?,
        content_html: r.get(5)?,
        authors: json_list(&r.get::<_, String>(6)?),
        categories: json_list(&r.get::<_, String>(7)?),
        enclosures: json_list(&r.get::<_, String>(8)?),
        language: r.get(9)?,
        published: r.get(10)?,
        updated: r.get(11)?,
        changed: r.get(12)?,
        source: SourceRef {
            url: r.get(13)?,
            title: r.get(14)?,
            site_url: r.get(15)?,
            feed_id: r.get(16)?,
        },
        also: Vec::new(),
        credit: {
            let (link, outlet) = (r.get(17)?, r.get(18)?);
            match (&link, &outlet) {
                (None, None) => None,
                _ => Some(Credit { link, outlet }),
            }
        },
        versions: Vec::new(),
        original: None,
    })
}

/// Fills `also` for a page of entries with one query.
pub(super) fn attach_other_sources(
    conn: &Connection,
    entries: &mut [StoredEntry],
) -> Result<(), StoreError> {
    if entries.is_empty() {
        return Ok(());
    }
    let ids = to_json(&entries.iter().map(|e| e.id).collect::<Vec<_>>());
    let mut stmt = conn
        .prepare_cached(
            "SELECT g.entry_id, s.url, COALESCE(s.config_title, s.feed_title, s.url), s.site_url, s.feed_id, g.link
             FROM json_each(?1) AS k
             JOIN sightings g ON g.entry_id = k.value
             JOIN entries e ON e.id = g.entry_id
             JOIN sources s ON s.id = g.source_id
             WHERE g.source_id != e.source_id
             ORDER BY g.entry_id, g.first_seen_at, g.source_id",
        )
        .context("reading sightings")?;
    let rows = stmt
        .query_map([&ids], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                SourceRef {
                    url: r.get(1)?,
                    title: r.get(2)?,
                    site_url: r.get(3)?,
                    feed_id: r.get(4)?,
                },
                r.get::<_, Option<String>>(5)?,
            ))
        })
        .context("reading sightings")?;
    let mut by_entry: HashMap<i64, Vec<(SourceRef, Option<String>)>> = HashMap::new();
    for row in rows {
        let (id, source, link) = row.context("reading sightings")?;
        let list = by_entry.entry(id).or_default();
        if !list.iter().any(|(s, _)| s.url == source.url) {
            list.push((source, link));
        }
    }
    for entry in entries.iter_mut() {
        if let Some(list) = by_entry.remove(&entry.id) {
            entry.also = list;
        }
    }
    attach_versions(conn, entries, &ids)
}

/// Fills `versions` (the stories' translations) for a page of entries with one query.
fn attach_versions(
    conn: &Connection,
    entries: &mut [StoredEntry],
    ids: &str,
) -> Result<(), StoreError> {
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {STORED_ENTRY_COLUMNS}, e.version_of
             FROM json_each(?1) AS k
             JOIN entries e ON e.version_of = k.value
             JOIN sources s ON s.id = e.source_id
             ORDER BY e.version_of, e.id"
        ))
        .context("reading translations")?;
    let rows = stmt
        .query_map([ids], |r| {
            Ok((
                r.get::<_, i64>(STORED_ENTRY_COLUMN_COUNT)?,
                stored_entry_row(r)?,
            ))
        })
        .context("reading translations")?;
    let mut by_story: HashMap<i64, Vec<StoredEntry>> = HashMap::new();
    for row in rows {
        let (story, version) = row.context("reading translations")?;
        by_story.entry(story).or_default().push(version);
    }
    for entry in entries {
        if let Some(versions) = by_story.remove(&entry.id) {
            entry.versions = versions;
        }
    }
    Ok(())
}
