//! What the server reads to render: a topic's pages, with every story's attributions, and the
//! topics' sizes. The SQLite engine's `pages.rs`, row for row: the same order, tie-breaks and
//! values, so that both engines render a page to the same bytes (and the same ETag).

use std::collections::HashMap;

use postgres::{GenericClient, Row};

use super::membership::PAGES_SHRANK_SETTING;
use super::{Context, PostgresStore};
use crate::model::{
    Credit, PageCursor, SourceRef, StoredEntry, TopicSlice, TopicSlug, TopicSummary,
};
use crate::store::StoreError;
use crate::store::columns::{
    STORED_ENTRY_COLUMN_COUNT, STORED_ENTRY_COLUMNS, distinct_ids, json_list,
};

/// One page of a topic: up to `limit` entries strictly older than `before` (all when `None`)
/// in the topic's order, newest first, with attribution, and where the next page starts if
/// there is one. Keyset pagination on the `entry_topics` primary key, so a page deep in a
/// topic costs the same as the first and a cursor stays valid while new entries arrive.
pub(super) fn topic_page(
    store: &PostgresStore,
    topic: &TopicSlug,
    before: Option<PageCursor>,
    limit: usize,
) -> Result<TopicSlice, StoreError> {
    let (sort_at, entry_id) = match before {
        Some(c) => (c.sort_at, c.entry_id),
        None => (i64::MAX, i64::MAX),
    };
    // One row more than asked for says whether there is a next page.
    let fetch = i64::try_from(limit.saturating_add(1)).unwrap_or(i64::MAX);
    store.with_snapshot("reading topic", |tx| {
        // One snapshot for the page and its attributions: a prune committing between the
        // queries must not leave a page with some of a story's sources.
        let rows = tx
            .query(
                &format!(
                    "SELECT {STORED_ENTRY_COLUMNS}, t.sort_at
                     FROM entry_topics t
                     JOIN entries e ON e.id = t.entry_id
                     JOIN sources s ON s.id = e.source_id
                     WHERE t.topic = $1 AND (t.sort_at, t.entry_id) < ($2, $3)
                     ORDER BY t.sort_at DESC, t.entry_id DESC
                     LIMIT $4"
                ),
                &[&topic.as_str(), &sort_at, &entry_id, &fetch],
            )
            .context("reading topic")?;
        let mut rows = rows
            .iter()
            .map(|r| {
                Ok((
                    stored_entry_row(r)?,
                    r.try_get::<_, i64>(STORED_ENTRY_COLUMN_COUNT)?,
                ))
            })
            .collect::<Result<Vec<_>, postgres::Error>>()
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
        attach_other_sources(tx, &mut entries)?;
        let shrank_at = tx
            .query_opt(
                "SELECT value FROM settings WHERE key = $1",
                &[&PAGES_SHRANK_SETTING],
            )
            .and_then(|row| row.map(|r| r.try_get::<_, String>(0)).transpose())
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
    store: &PostgresStore,
) -> Result<HashMap<String, TopicSummary>, StoreError> {
    store.with_client(|client| {
        client
            .query(
                "SELECT t.topic, COUNT(*), MAX(e.changed_at)
                 FROM entry_topics t JOIN entries e ON e.id = t.entry_id
                 GROUP BY t.topic",
                &[],
            )
            .context("summarizing topics")?
            .iter()
            .map(|r| {
                Ok((
                    r.try_get::<_, String>(0)?,
                    TopicSummary {
                        entries: u64::try_from(r.try_get::<_, i64>(1)?).unwrap_or(0),
                        updated: r.try_get(2)?,
                    },
                ))
            })
            .collect::<Result<HashMap<_, _>, postgres::Error>>()
            .context("summarizing topics")
    })
}

pub(super) fn stored_entry_row(r: &Row) -> Result<StoredEntry, postgres::Error> {
    Ok(StoredEntry {
        id: r.try_get(0)?,
        public_id: r.try_get(1)?,
        link: r.try_get(2)?,
        title: r.try_get(3)?,
        summary_html: r.try_get(4)?,
        content_html: r.try_get(5)?,
        authors: json_list(r.try_get::<_, &str>(6)?),
        categories: json_list(r.try_get::<_, &str>(7)?),
        enclosures: json_list(r.try_get::<_, &str>(8)?),
        language: r.try_get(9)?,
        published: r.try_get(10)?,
        updated: r.try_get(11)?,
        changed: r.try_get(12)?,
        source: SourceRef {
            url: r.try_get(13)?,
            title: r.try_get(14)?,
            site_url: r.try_get(15)?,
            feed_id: r.try_get(16)?,
        },
        also: Vec::new(),
        credit: {
            let (link, outlet): (Option<String>, Option<String>) = (r.try_get(17)?, r.try_get(18)?);
            match (&link, &outlet) {
                (None, None) => None,
                _ => Some(Credit { link, outlet }),
            }
        },
        versions: Vec::new(),
        original: None,
    })
}

/// Fills `also` (every other source that carried each story, first seen first) and `versions`
/// for a page of entries, with one query each.
pub(super) fn attach_other_sources(
    client: &mut impl GenericClient,
    entries: &mut [StoredEntry],
) -> Result<(), StoreError> {
    if entries.is_empty() {
        return Ok(());
    }
    let ids: Vec<i64> = entries.iter().map(|e| e.id).collect();
    let rows = client
        .query(
            "SELECT g.entry_id, s.url, COALESCE(s.config_title, s.feed_title, s.url), s.site_url,
                    s.feed_id, g.link
             FROM sightings g
             JOIN entries e ON e.id = g.entry_id
             JOIN sources s ON s.id = g.source_id
             WHERE g.entry_id = ANY($1) AND g.source_id != e.source_id
             ORDER BY g.entry_id, g.first_seen_at, g.source_id",
            &[&ids],
        )
        .context("reading sightings")?;
    let mut by_entry: HashMap<i64, Vec<(SourceRef, Option<String>)>> = HashMap::new();
    for row in &rows {
        let (id, source, link) = (|| {
            Ok::<_, postgres::Error>((
                row.try_get::<_, i64>(0)?,
                SourceRef {
                    url: row.try_get(1)?,
                    title: row.try_get(2)?,
                    site_url: row.try_get(3)?,
                    feed_id: row.try_get(4)?,
                },
                row.try_get::<_, Option<String>>(5)?,
            ))
        })()
        .context("reading sightings")?;
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
    attach_versions(client, entries, &ids)
}

/// Fills `versions` (the stories' translations, first stored first) for a page of entries.
fn attach_versions(
    client: &mut impl GenericClient,
    entries: &mut [StoredEntry],
    ids: &[i64],
) -> Result<(), StoreError> {
    let rows = client
        .query(
            &format!(
                "SELECT {STORED_ENTRY_COLUMNS}, e.version_of
                 FROM entries e
                 JOIN sources s ON s.id = e.source_id
                 WHERE e.version_of = ANY($1)
                 ORDER BY e.version_of, e.id"
            ),
            &[&ids],
        )
        .context("reading translations")?;
    let mut by_story: HashMap<i64, Vec<StoredEntry>> = HashMap::new();
    for row in &rows {
        let story: i64 = row
            .try_get(STORED_ENTRY_COLUMN_COUNT)
            .context("reading translations")?;
        let version = stored_entry_row(row).context("reading translations")?;
        by_story.entry(story).or_default().push(version);
    }
    for entry in entries {
        if let Some(versions) = by_story.remove(&entry.id) {
            entry.versions = versions;
        }
    }
    Ok(())
}
