//! Topic membership: recomputing which topics every stored story is in when the rules change,
//! walking the stories for `test-topic`, and the settings that remember both.

use std::collections::BTreeSet;
use std::ops::ControlFlow;

use rusqlite::{OptionalExtension, Transaction, params};

use super::{Context, SqliteStore};
use crate::model::{SourceId, StoryForTopics, Timestamp, TopicSlug};
use crate::store::StoreError;
use crate::store::columns::json_list;

/// A value the store keeps for itself (see `migrations/sqlite/0006_topic_rules.sql`).
pub(super) fn setting(store: &SqliteStore, key: &str) -> Result<Option<String>, StoreError> {
    store.with_reader(|conn| {
        conn.query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| {
            r.get(0)
        })
        .optional()
        .context("reading setting")
    })
}

/// Recomputes every stored story's topics. `assign` gives the topics one sighting puts a story
/// in (the source that carried it, the story); a story is in the union over its sightings.
/// Runs in one transaction that also records `fingerprint` as [`MEMBERSHIP_SETTING`], so an
/// interrupted rebuild is redone at the next start. Returns how many stories were assigned.
pub(super) fn rebuild_membership(
    store: &SqliteStore,
    fingerprint: &str,
    now: Timestamp,
    assign: &mut dyn FnMut(SourceId, &StoryForTopics) -> Vec<TopicSlug>,
) -> Result<usize, StoreError> {
    let count = store.with_writer(|conn| {
        let tx = conn.transaction().context("starting membership rebuild")?;
        tx.execute("DELETE FROM entry_topics", []).context("clearing topic membership")?;
        let mut count = 0;
        {
            let mut insert = tx
                .prepare("INSERT OR IGNORE INTO entry_topics (topic, sort_at, entry_id) VALUES (?1, ?2, ?3)")
                .context("recomputing topic membership")?;
            let mut stories = tx.prepare(STORIES_FOR_TOPICS).context("recomputing topic membership")?;
            let mut rows = stories.query([]).context("recomputing topic membership")?;
            while let Some(row) = rows.next().context("recomputing topic membership")? {
                let story = story_for_topics(row).context("recomputing topic membership")?;
                let mut topics: BTreeSet<TopicSlug> = BTreeSet::new();
                for source in &story.sources {
                    topics.extend(assign(*source, &story));
                }
                for topic in &topics {
                    insert
                        .execute(params![topic.as_str(), story.published, story.id])
                        .context("recomputing topic membership")?;
                }
                count += 1;
            }
        }
        tx.execute(
            "INSERT INTO settings (key, value) VALUES (?1, ?2)
             ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            params![MEMBERSHIP_SETTING, fingerprint],
        )
        .context("recording topic rules")?;
        record_pages_shrank(&tx, now)?;
        tx.commit().context("committing membership rebuild")?;
        Ok(count)
    })?;
    store.signals.bump();
    Ok(count)
}

/// Calls `visit` with stored stories, newest first, until it breaks.
pub(super) fn visit_stories(
    store: &SqliteStore,
    visit: &mut dyn FnMut(&StoryForTopics) -> ControlFlow<()>,
) -> Result<(), StoreError> {
    store.with_reader(|conn| {
        let mut stories = conn
            .prepare(&stories_with_joins())
            .context("reading stories")?;
        let mut rows = stories.query([]).context("reading stories")?;
        while let Some(row) = rows.next().context("reading stories")? {
            if visit(&story_for_topics(row).context("reading stories")?).is_break() {
                break;
            }
        }
        Ok(())
    })
}

/// The setting holding the fingerprint of the topic rules entry_topics was computed with.
pub const MEMBERSHIP_SETTING: &str = "membership_rules";

/// The setting that holds [`TopicSlice::shrank_at`].
pub(super) const PAGES_SHRANK_SETTING: &str = "pages_shrank_at";

/// Stories left topic pages at `now`: their `Last-Modified` must move although no entry left on
/// them changed, or a client revalidating with `If-Modified-Since` alone keeps a stale page.
pub(super) fn record_pages_shrank(tx: &Transaction<'_>, now: Timestamp) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO settings (key, value) VALUES (?1, ?2)
         ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        params![PAGES_SHRANK_SETTING, now.to_string()],
    )
    .context("recording that pages changed")?;
    Ok(())
}

/// Every version of every story: a story's translations are read as the story (its id, where it
/// sorts) with their own text, language and sources, so that a topic takes the story when any
/// of its versions qualifies, and lists it once.
const STORIES_FOR_TOPICS: &str = "SELECT p.id, e.title, e.link, e.summary_html, e.content_html, e.categories,
        e.authors, e.language, p.published_at, COALESCE(s.config_title, s.feed_title, s.url),
        (SELECT json_group_array(g.source_id) FROM
            (SELECT source_id FROM sightings WHERE entry_id = e.id ORDER BY first_seen_at, source_id) g)
     FROM entries e JOIN entries p ON p.id = COALESCE(e.version_of, e.id)
     JOIN sources s ON s.id = e.source_id
     ORDER BY p.published_at DESC, p.id DESC, e.id";

/// [`STORIES_FOR_TOPICS`] with, for each story, the sources that joined it and the rule that
/// joined each (for `test-topic`).
fn stories_with_joins() -> String {
    STORIES_FOR_TOPICS.replacen(
        "\n     FROM entries e",
        ",
        (SELECT json_group_array(json_array(COALESCE(j.config_title, j.feed_title, j.url), g.joined_by))
         FROM sightings g JOIN sources j ON j.id = g.source_id
         WHERE g.entry_id = e.id AND g.joined_by IS NOT NULL)
     FROM entries e",
        1,
    )
}

fn story_for_topics(row: &rusqlite::Row<'_>) -> rusqlite::Result<StoryForTopics> {
    let mut sources: Vec<SourceId> = json_list::<i64>(&row.get::<_, String>(10)?)
        .into_iter()
        .map(SourceId)
        .collect();
    sources.dedup();
    Ok(StoryForTopics {
        id: row.get(0)?,
        title: row.get(1)?,
        link: row.get(2)?,
        summary_html: row.get(3)?,
        content_html: row.get(4)?,
        categories: json_list(&row.get::<_, String>(5)?),
        authors: json_list(&row.get::<_, String>(6)?),
        language: row.get(7)?,
        published: row.get(8)?,
        source_title: row.get(9)?,
        sources,
        joined: if row.as_ref().column_count() > 11 {
            json_list(&row.get::<_, String>(11)?)
        } else {
            Vec::new()
        },
    })
}
