//! Topic membership: recomputing which topics every stored story is in when the rules change,
//! walking the stories for `test-topic`, and the settings that remember both. The SQLite
//! engine's `membership.rs`; stories are read through a portal, a page at a time, so that
//! neither a rebuild nor a walk holds every story in memory.

use std::collections::BTreeSet;
use std::ops::ControlFlow;

use postgres::{GenericClient, Row, Transaction};

use super::{Context, PostgresStore, Shown};
use crate::model::{SourceId, StoryForTopics, Timestamp, TopicSlug};
use crate::store::columns::json_list;
use crate::store::{MEMBERSHIP_SETTING, StoreError};

/// The setting that holds [`crate::model::TopicSlice::shrank_at`] (the SQLite engine's name).
pub(super) const PAGES_SHRANK_SETTING: &str = "pages_shrank_at";

/// Stories read from the database at a time.
const STORIES_PER_FETCH: i32 = 500;

/// Rebuilds take this transaction-level advisory lock ("members" in ASCII), so that nodes
/// starting together with new rules rebuild one after the other: the second one's `DELETE`
/// then sees every row the first inserted, instead of leaving them beside its own.
const REBUILD_LOCK: i64 = 0x006d_656d_6265_7273;

/// A value the store keeps for itself.
pub(super) fn setting(store: &PostgresStore, key: &str) -> Result<Option<String>, StoreError> {
    store.with_client(|client| {
        client
            .query_opt("SELECT value FROM settings WHERE key = $1", &[&key])
            .and_then(|row| row.map(|r| r.try_get(0)).transpose())
            .context("reading setting")
    })
}

/// Recomputes every stored story's topics. `assign` gives the topics one sighting puts a story
/// in (the source that carried it, the story); a story is in the union over its sightings.
/// Runs in one transaction that also records `fingerprint` as [`MEMBERSHIP_SETTING`], so an
/// interrupted rebuild is redone at the next start. Returns how many stories were assigned.
pub(super) fn rebuild_membership(
    store: &PostgresStore,
    fingerprint: &str,
    now: Timestamp,
    assign: &mut dyn FnMut(SourceId, &StoryForTopics) -> Vec<TopicSlug>,
) -> Result<usize, StoreError> {
    store.write(|db| {
        let tx = &mut *db.tx;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&REBUILD_LOCK])
            .context("waiting for another node's membership rebuild")?;
        tx.execute("DELETE FROM entry_topics", &[])
            .context("clearing topic membership")?;
        let mut count = 0;
        // The stories are read through a portal while their topics are written on the same
        // transaction: one page of rows, then its topics in one statement.
        let portal = tx
            .bind(STORIES_FOR_TOPICS, &[])
            .context("recomputing topic membership")?;
        loop {
            let rows = tx
                .query_portal(&portal, STORIES_PER_FETCH)
                .context("recomputing topic membership")?;
            if rows.is_empty() {
                break;
            }
            let (mut topics, mut sort_ats, mut ids) = (Vec::new(), Vec::new(), Vec::new());
            for row in &rows {
                let story = story_for_topics(row, false).context("recomputing topic membership")?;
                let mut assigned: BTreeSet<TopicSlug> = BTreeSet::new();
                for source in &story.sources {
                    assigned.extend(assign(*source, &story));
                }
                for topic in assigned {
                    topics.push(topic.as_str().to_string());
                    sort_ats.push(story.published);
                    ids.push(story.id);
                }
                count += 1;
            }
            tx.execute(
                "INSERT INTO entry_topics (topic, sort_at, entry_id)
                 SELECT * FROM UNNEST($1::text[], $2::bigint[], $3::bigint[])
                 ON CONFLICT DO NOTHING",
                &[&topics, &sort_ats, &ids],
            )
            .context("recomputing topic membership")?;
        }
        put_setting(tx, MEMBERSHIP_SETTING, fingerprint).context("recording topic rules")?;
        record_pages_shrank(tx, now)?;
        Ok((count, Shown::Pages))
    })
}

/// Calls `visit` with stored stories, newest first, until it breaks.
pub(super) fn visit_stories(
    store: &PostgresStore,
    visit: &mut dyn FnMut(&StoryForTopics) -> ControlFlow<()>,
) -> Result<(), StoreError> {
    store.with_snapshot("reading stories", |tx| {
        // A portal lives as long as its transaction; one snapshot for the whole walk.
        let portal = tx
            .bind(&stories_with_joins(), &[])
            .context("reading stories")?;
        'pages: loop {
            let rows = tx
                .query_portal(&portal, STORIES_PER_FETCH)
                .context("reading stories")?;
            if rows.is_empty() {
                break;
            }
            for row in &rows {
                let story = story_for_topics(row, true).context("reading stories")?;
                if visit(&story).is_break() {
                    break 'pages;
                }
            }
        }
        Ok(())
    })
}

/// Stories left topic pages at `now`: their `Last-Modified` must move although no entry left on
/// them changed, or a client revalidating with `If-Modified-Since` alone keeps a stale page.
pub(super) fn record_pages_shrank(
    tx: &mut Transaction<'_>,
    now: Timestamp,
) -> Result<(), StoreError> {
    put_setting(tx, PAGES_SHRANK_SETTING, &now.to_string())
        .context("recording that pages changed")?;
    Ok(())
}

fn put_setting(
    client: &mut impl GenericClient,
    key: &str,
    value: &str,
) -> Result<u64, postgres::Error> {
    client.execute(
        "INSERT INTO settings (key, value) VALUES ($1, $2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        &[&key, &value],
    )
}

/// Every version of every story: a story's translations are read as the story (its id, where it
/// sorts) with their own text, language and sources, so that a topic takes the story when any
/// of its versions qualifies, and lists it once.
const STORIES_FOR_TOPICS: &str =
    "SELECT p.id, e.title, e.link, e.summary_html, e.content_html, e.categories,
        e.authors, e.language, p.published_at, COALESCE(s.config_title, s.feed_title, s.url),
        ARRAY(SELECT source_id FROM sightings WHERE entry_id = e.id
              ORDER BY first_seen_at, source_id)
     FROM entries e JOIN entries p ON p.id = COALESCE(e.version_of, e.id)
     JOIN sources s ON s.id = e.source_id
     ORDER BY p.published_at DESC, p.id DESC, e.id";

/// [`STORIES_FOR_TOPICS`] with, for each story, the sources that joined it and the rule that
/// joined each (for `test-topic`), as two arrays in the same order.
fn stories_with_joins() -> String {
    const JOINED: &str = "FROM sightings g JOIN sources j ON j.id = g.source_id
              WHERE g.entry_id = e.id AND g.joined_by IS NOT NULL
              ORDER BY g.first_seen_at, g.source_id";
    STORIES_FOR_TOPICS.replacen(
        "\n     FROM entries e",
        &format!(
            ",
        ARRAY(SELECT COALESCE(j.config_title, j.feed_title, j.url) {JOINED}),
        ARRAY(SELECT g.joined_by {JOINED})
     FROM entries e"
        ),
        1,
    )
}

fn story_for_topics(row: &Row, joins: bool) -> Result<StoryForTopics, postgres::Error> {
    let mut sources: Vec<SourceId> = row
        .try_get::<_, Vec<i64>>(10)?
        .into_iter()
        .map(SourceId)
        .collect();
    sources.dedup();
    Ok(StoryForTopics {
        id: row.try_get(0)?,
        title: row.try_get(1)?,
        link: row.try_get(2)?,
        summary_html: row.try_get(3)?,
        content_html: row.try_get(4)?,
        categories: json_list(row.try_get::<_, &str>(5)?),
        authors: json_list(row.try_get::<_, &str>(6)?),
        language: row.try_get(7)?,
        published: row.try_get(8)?,
        source_title: row.try_get(9)?,
        sources,
        joined: if joins {
            let names: Vec<String> = row.try_get(11)?;
            let rules: Vec<String> = row.try_get(12)?;
            names.into_iter().zip(rules).collect()
        } else {
            Vec::new()
        },
    })
}
