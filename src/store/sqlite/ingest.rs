//! Recording a parsed document: one transaction per refresh in which every entry's candidates are
//! looked up (`lookups.rs`), the same-story decision is asked of [`crate::dedup::decide`], and
//! the decision is carried out here, with the source row's new validators.

use rusqlite::{Connection, OptionalExtension, params};

use super::lookups::{document_lookups, known_entries, load_index};
use super::search::SearchOp;
use super::{Context, Pending, SqliteStore};
use crate::dedup::{Action, Decision, NearIndex};
use crate::model::{EntryKey, FeedMeta, NewEntry, RefreshStats, SourceId, Timestamp};
use crate::store::columns::{origin_columns, to_json};
use crate::store::tally::{Tally, Upsert};
use crate::store::{Fetched, StoreError};

/// Stores one successfully parsed document: feed metadata, every entry (new ones inserted,
/// changed ones updated in place, unchanged ones only marked seen), topic membership and the
/// new validators — all in one transaction, so a crash never leaves validators that would
/// answer 304 for entries that were not stored.
pub(super) fn record_document(
    store: &SqliteStore,
    source: SourceId,
    meta: &FeedMeta,
    entries: &[NewEntry],
    fetched: &Fetched<'_>,
    now: Timestamp,
) -> Result<RefreshStats, StoreError> {
    store.with_refresh(|tx| {
        let mut tally = Tally::new(fetched.unchanged.len());
        let search;
        {
            // Entries not normalized again are in the document too: their keys have not left it.
            let keys_json = to_json(
                &entries
                    .iter()
                    .map(|e| e.key.as_str())
                    .chain(fetched.unchanged.iter().map(EntryKey::as_str))
                    .collect::<Vec<_>>(),
            );
            let mut known = known_entries(tx, source, &keys_json)?;
            let mut lookups = document_lookups(tx, source, entries, &keys_json)?;
            let mut index = store.near.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Some(since) = index.wants_loading(now) {
                load_index(tx, &mut index, since)?;
            }
            let near = index.settings();
            let mut stmts = EntryStatements::prepare(tx)?;
            for entry in entries {
                let mut found = lookups.found(entry, known.remove(entry.key.as_str()));
                if crate::dedup::wants_neighbours(&found, near) {
                    found.neighbours = neighbours(&mut stmts, &index, entry, source, now)?;
                }
                let decision = crate::dedup::decide(entry, &found, near, now);
                tally.decided(&decision);
                let upsert = carry_out(&mut stmts, source, now, &mut index, entry, &decision)?;
                for (story, version, language) in stmts.versions.drain(..) {
                    lookups.add_version(story, version, language);
                }
                tally.carried_out(entry, upsert);
            }
            if tally.switches_to_link(entries.len() + fetched.unchanged.len()) {
                let switched = tx
                    .execute(
                        "UPDATE sources SET identity_mode = ?2 WHERE id = ?1 AND identity_mode IS NULL",
                        params![source.0, crate::model::Identity::Link.as_str()],
                    )
                    .context("switching identity")?;
                tally.stats.switched_to_link = switched > 0;
            }
            search = std::mem::take(&mut stmts.search);
        }
        let changed = tx
            .prepare_cached(
                "UPDATE sources SET feed_title = ?2, site_url = ?3, feed_id = ?4, language = ?5,
                    etag = ?6, last_modified = ?7, last_fetch_at = ?8, last_success_at = ?8,
                    last_status = ?9, last_error = NULL, consecutive_failures = 0,
                    failure_class = NULL, gone_streak = 0, body_hash = ?10,
                    last_unconditional_at = CASE WHEN ?11 THEN ?8 ELSE last_unconditional_at END,
                    warning = ?12
                 WHERE id = ?1",
            )
            .context("recording refresh")?
            .execute(params![
                source.0,
                meta.title,
                meta.site_url,
                meta.feed_id,
                meta.language,
                fetched.validators.etag,
                fetched.validators.last_modified,
                now,
                fetched.status,
                fetched.body_hash,
                fetched.unconditional,
                fetched.warning
            ])
            .context("recording refresh")?;
        if changed == 0 {
            return Err(StoreError::UnknownSource(source.0));
        }
        if let Some(schedule) = fetched.schedule {
            super::sources::write_schedule(tx, source, schedule)?;
        }
        let stats = tally.stats;
        let pending = Pending {
            bump: tally.pages_changed(),
            bump_sources: true,
            written: (stats.new + stats.updated) as u64,
            topics: tally.changed_topics,
            search,
        };
        Ok((stats, pending))
    })
}

/// The statements one refresh runs per entry, prepared once per document.
pub(super) struct EntryStatements<'tx> {
    tx: &'tx Connection,
    seen: rusqlite::CachedStatement<'tx>,
    update: rusqlite::CachedStatement<'tx>,
    insert: rusqlite::CachedStatement<'tx>,
    sighting: rusqlite::CachedStatement<'tx>,
    topic: rusqlite::CachedStatement<'tx>,
    rekey: rusqlite::CachedStatement<'tx>,
    near: rusqlite::CachedStatement<'tx>,
    near_text: rusqlite::CachedStatement<'tx>,
    /// What the refresh changes in the search index, written when its group commits (see
    /// [`super::search::write`]).
    search: Vec<SearchOp>,
    /// Translations this document stored: (story, version row, language), for the entries
    /// after them (one version a language).
    versions: Vec<(i64, i64, Option<String>)>,
}

impl<'tx> EntryStatements<'tx> {
    fn prepare(tx: &'tx Connection) -> Result<EntryStatements<'tx>, StoreError> {
        Ok(EntryStatements {
            tx,
            seen: tx
                .prepare_cached(
                    "UPDATE sightings SET last_seen_at = ?3, content_hash = ?4, link = ?5, canonical_url = ?6,
                        item_hash = ?7
                     WHERE source_id = ?1 AND entry_key = ?2",
                )
                .context("marking entry seen")?,
            update: tx
                .prepare_cached(
                    "UPDATE entries SET public_id = ?2, link = ?3, title = ?4, summary_html = ?5, content_html = ?6,
                        authors = ?7, categories = ?8, enclosures = ?9, language = ?10,
                        updated_at = ?11, changed_at = ?12, content_hash = ?13, canonical_url = ?14, title_key = ?15,
                        origin_url = ?16, origin_link = ?17, origin_credit = ?18, origin_rule = ?19
                     WHERE id = ?1",
                )
                .context("updating entry")?,
            insert: tx
                .prepare_cached(
                    "INSERT INTO entries (source_id, public_id, link, title, summary_html, content_html,
                        authors, categories, enclosures, language, published_at, updated_at, first_seen_at,
                        changed_at, content_hash, canonical_url, signature, title_numbers, title_key,
                        origin_url, origin_link, origin_credit, origin_rule, version_of)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?13, ?14, ?15, ?16, ?17, ?18,
                        ?19, ?20, ?21, ?22, ?23)",
                )
                .context("inserting entry")?,
            sighting: tx
                .prepare_cached(
                    "INSERT INTO sightings (source_id, entry_key, entry_id, first_seen_at, last_seen_at,
                        content_hash, link, canonical_url, joined_by, item_hash)
                     VALUES (?1, ?2, ?3, ?4, ?4, ?5, ?6, ?7, ?8, ?9)",
                )
                .context("inserting sighting")?,
            topic: tx
                .prepare_cached("INSERT OR IGNORE INTO entry_topics (topic, sort_at, entry_id) VALUES (?1, ?2, ?3)")
                .context("inserting entry topics")?,
            rekey: tx
                .prepare_cached("UPDATE sightings SET entry_key = ?3 WHERE source_id = ?1 AND entry_key = ?2")
                .context("re-keying sighting")?,
            // A candidate story, unless this source carries it already.
            near: tx
                .prepare_cached(
                    "SELECT e.published_at, e.signature, e.title_numbers, e.title FROM entries e
                     WHERE e.id = ?1
                       AND NOT EXISTS (SELECT 1 FROM sightings g WHERE g.entry_id = e.id AND g.source_id = ?2)",
                )
                .context("matching near duplicates")?,
            // The same, with the text, for a story found by its title.
            near_text: tx
                .prepare_cached(
                    "SELECT e.published_at, e.signature, e.title_numbers, e.title, e.summary_html, e.content_html
                     FROM entries e
                     WHERE e.id = ?1
                       AND NOT EXISTS (SELECT 1 FROM sightings g WHERE g.entry_id = e.id AND g.source_id = ?2)",
                )
                .context("matching near duplicates")?,
            search: Vec::new(),
            versions: Vec::new(),
        })
    }
}

/// Carries out the same-story decision for one entry of a document.
fn carry_out(
    stmts: &mut EntryStatements<'_>,
    source: SourceId,
    now: Timestamp,
    index: &mut NearIndex,
    entry: &NewEntry,
    decision: &Decision,
) -> Result<Upsert, StoreError> {
    if let Some(old_key) = &decision.rekey {
        tracing::debug!(
            source = source.0,
            from = %old_key,
            to = %entry.key,
            rule = decision.reason.as_str(),
            "same story under a new key"
        );
        stmts
            .rekey
            .execute(params![source.0, old_key.as_str(), entry.key.as_str()])
            .context("re-keying sighting")?;
    }
    let seen = |stmts: &mut EntryStatements<'_>| {
        stmts
            .seen
            .execute(params![
                source.0,
                entry.key.as_str(),
                now,
                entry.content_hash,
                entry.link,
                entry.canonical_url,
                entry.item_hash
            ])
            .context("marking entry seen")
    };
    // Changed text may qualify for more topics; it leaves none (another sighting may be what put
    // it there) until the next recomputation of membership. True when it joined one.
    let join_topics = |stmts: &mut EntryStatements<'_>, story: i64, sort_at: Timestamp| {
        // A translation's topics are its story's.
        let (story, sort_at) = listed_story(stmts.tx, story)?.unwrap_or((story, sort_at));
        let mut joined = false;
        for topic in &entry.topics {
            joined |= stmts
                .topic
                .execute(params![topic.as_str(), sort_at, story])
                .context("inserting entry topics")?
                > 0;
        }
        Ok::<_, StoreError>(joined)
    };
    match decision.action {
        Action::Unchanged { .. } => {
            seen(stmts)?;
            Ok(Upsert::Unchanged)
        }
        Action::CopyChanged { story, sort_at } => {
            seen(stmts)?;
            Ok(if join_topics(stmts, story, sort_at)? {
                Upsert::Regrouped
            } else {
                Upsert::Unchanged
            })
        }
        Action::Update {
            story,
            updated,
            sort_at,
        } => {
            seen(stmts)?;
            join_topics(stmts, story, sort_at)?;
            let origin = origin_columns(entry);
            stmts
                .update
                .execute(params![
                    story,
                    entry.public_id,
                    entry.link,
                    entry.title,
                    entry.summary_html,
                    entry.content_html,
                    to_json(&entry.authors),
                    to_json(&entry.categories),
                    to_json(&entry.enclosures),
                    entry.language,
                    updated,
                    now,
                    entry.content_hash,
                    entry.canonical_url,
                    entry.likeness.title_key.map(|k| k as i64),
                    origin.url,
                    origin.link,
                    origin.credit,
                    origin.rule
                ])
                .context("updating entry")?;
            stmts.search.push(SearchOp::Unindex(story));
            // The search text is made by normalize, off the single writer.
            stmts
                .search
                .push(SearchOp::Index(story, entry.search_text.clone()));
            Ok(Upsert::Updated)
        }
        Action::Skip => Ok(Upsert::Unchanged),
        Action::Merge { story, sort_at } => {
            let rule = decision.reason.as_str();
            tracing::debug!(
                source = source.0,
                key = %entry.key,
                story,
                rule,
                "same story as one another source carried"
            );
            // The copy may be of a story's translation (found at its address or by its
            // words): the sighting is the translation's, the topics its story's.
            let listed = listed_story(stmts.tx, story)?.unwrap_or((story, sort_at));
            add_sighting(stmts, source, now, entry, story, Some(rule), listed)?;
            Ok(Upsert::Merged)
        }
        Action::Translation { story, sort_at } => {
            tracing::debug!(
                source = source.0,
                key = %entry.key,
                story,
                language = entry.language.as_deref().unwrap_or(""),
                "a translation of a stored story"
            );
            let version = insert_entry(stmts, source, now, entry, entry.published, Some(story))?;
            index.remember(version, entry, now);
            stmts
                .versions
                .push((story, version, entry.language.clone()));
            let rule = decision.reason.as_str();
            add_sighting(
                stmts,
                source,
                now,
                entry,
                version,
                Some(rule),
                (story, sort_at),
            )?;
            Ok(Upsert::Merged)
        }
        Action::New { updated } => {
            let story = insert_entry(stmts, source, now, entry, updated, None)?;
            index.remember(story, entry, now);
            add_sighting(
                stmts,
                source,
                now,
                entry,
                story,
                None,
                (story, entry.published),
            )?;
            for adopted in &decision.adopt {
                adopt(stmts, story, entry.published, *adopted)?;
            }
            Ok(Upsert::New)
        }
    }
}

/// Hands the row `old`'s sightings to the row `into` (as joined by `rule`) and deletes it, its
/// words leaving the search index with it.
fn fold_into(
    stmts: &mut EntryStatements<'_>,
    old: i64,
    into: i64,
    rule: &str,
) -> Result<(), StoreError> {
    stmts
        .tx
        .prepare_cached(
            "UPDATE sightings SET entry_id = ?2, joined_by = COALESCE(joined_by, ?3)
             WHERE entry_id = ?1",
        )
        .context("adopting a republication")?
        .execute(params![old, into, rule])
        .context("adopting a republication")?;
    stmts
        .tx
        .prepare_cached("DELETE FROM entries WHERE id = ?1")
        .context("adopting a republication")?
        .execute([old])
        .context("adopting a republication")?;
    stmts.search.push(SearchOp::Forget(old));
    Ok(())
}

/// The story a version row belongs to and where that story sorts; `None` for a story itself.
fn listed_story(tx: &Connection, row: i64) -> Result<Option<(i64, Timestamp)>, StoreError> {
    tx.prepare_cached(
        "SELECT p.id, p.published_at FROM entries e JOIN entries p ON p.id = e.version_of
         WHERE e.id = ?1",
    )
    .context("finding a translation's story")?
    .query_row([row], |r| Ok((r.get(0)?, r.get(1)?)))
    .optional()
    .context("finding a translation's story")
}

/// A new row for `entry`: a story, or with `version_of` a version of that story in another
/// language. Its words go to the search index when the group commits.
fn insert_entry(
    stmts: &mut EntryStatements<'_>,
    source: SourceId,
    now: Timestamp,
    entry: &NewEntry,
    updated: Timestamp,
    version_of: Option<i64>,
) -> Result<i64, StoreError> {
    let origin = origin_columns(entry);
    let story = stmts
        .insert
        .insert(params![
            source.0,
            entry.public_id,
            entry.link,
            entry.title,
            entry.summary_html,
            entry.content_html,
            to_json(&entry.authors),
            to_json(&entry.categories),
            to_json(&entry.enclosures),
            entry.language,
            entry.published,
            updated,
            now,
            entry.content_hash,
            entry.canonical_url,
            entry
                .signature
                .as_ref()
                .map(crate::dedup::fingerprint::to_bytes),
            entry.title_numbers,
            // SQLite's integers are signed: the same 64 bits.
            entry.likeness.title_key.map(|k| k as i64),
            origin.url,
            origin.link,
            origin.credit,
            origin.rule,
            version_of
        ])
        .context("inserting entry")?;
    stmts
        .search
        .push(SearchOp::Index(story, entry.search_text.clone()));
    Ok(story)
}

/// A stored republication taken in by `story`, its newly arrived original (see
/// [`crate::dedup::Adopted`]). A translation points at the story; one in the story's language
/// hands its sightings and translations to it and goes. Either way the story takes its topics.
fn adopt(
    stmts: &mut EntryStatements<'_>,
    story: i64,
    sort_at: Timestamp,
    adopted: crate::dedup::Adopted,
) -> Result<(), StoreError> {
    let tx = stmts.tx;
    let old = adopted.story;
    tracing::debug!(
        story,
        republication = old,
        translation = adopted.translation,
        "original arrived"
    );
    tx.prepare_cached(
        "INSERT OR IGNORE INTO entry_topics (topic, sort_at, entry_id)
         SELECT topic, ?2, ?3 FROM entry_topics WHERE entry_id = ?1",
    )
    .context("adopting a republication")?
    .execute(params![old, sort_at, story])
    .context("adopting a republication")?;
    tx.prepare_cached("DELETE FROM entry_topics WHERE entry_id = ?1")
        .context("adopting a republication")?
        .execute([old])
        .context("adopting a republication")?;
    tx.prepare_cached("UPDATE entries SET version_of = ?2 WHERE version_of = ?1")
        .context("adopting a republication")?
        .execute(params![old, story])
        .context("adopting a republication")?;
    match (adopted.into, adopted.translation) {
        // A second translation into a language: a copy of the first.
        (Some(version), _) => fold_into(stmts, old, version, "translation")?,
        (None, true) => {
            tx.prepare_cached("UPDATE entries SET version_of = ?2 WHERE id = ?1")
                .context("adopting a republication")?
                .execute(params![old, story])
                .context("adopting a republication")?;
            tx.prepare_cached(
                "UPDATE sightings SET joined_by = COALESCE(joined_by, 'translation') WHERE entry_id = ?1",
            )
            .context("adopting a republication")?
            .execute([old])
            .context("adopting a republication")?;
        }
        (None, false) => fold_into(stmts, old, story, "origin")?,
    }
    Ok(())
}

/// This source's sighting of the row `story` (a story, or a story's version in another
/// language), and the story it belongs to (`listed`: the story and where it sorts) in the topics
/// the sighting puts it in.
fn add_sighting(
    stmts: &mut EntryStatements<'_>,
    source: SourceId,
    now: Timestamp,
    entry: &NewEntry,
    story: i64,
    joined_by: Option<&str>,
    listed: (i64, Timestamp),
) -> Result<(), StoreError> {
    stmts
        .sighting
        .execute(params![
            source.0,
            entry.key.as_str(),
            story,
            now,
            entry.content_hash,
            entry.link,
            entry.canonical_url,
            joined_by,
            entry.item_hash
        ])
        .context("inserting sighting")?;
    let (listed, sort_at) = listed;
    for topic in &entry.topics {
        stmts
            .topic
            .execute(params![topic.as_str(), sort_at, listed])
            .context("inserting entry topics")?;
    }
    Ok(())
}

/// The stories the index finds near `entry` (by band keys, and by title) that another source
/// carries, read for comparison; those found by title with their text.
fn neighbours(
    stmts: &mut EntryStatements<'_>,
    index: &NearIndex,
    entry: &NewEntry,
    source: SourceId,
    now: Timestamp,
) -> Result<Vec<crate::dedup::Candidate>, StoreError> {
    use crate::dedup::fingerprint::from_bytes;
    let by_title = index.same_title(entry, now);
    let mut candidates = Vec::new();
    for id in &by_title {
        let row = stmts
            .near_text
            .query_row(params![id, source.0], |r| {
                Ok((
                    r.get::<_, Timestamp>(0)?,
                    r.get::<_, Option<Vec<u8>>>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, Option<String>>(4)?,
                    r.get::<_, Option<String>>(5)?,
                ))
            })
            .optional()
            .context("matching near duplicates")?;
        if let Some((published, signature, title_numbers, title, summary, content)) = row {
            let text =
                crate::dedup::text::StoryText::of(&title, summary.as_deref(), content.as_deref());
            candidates.push(crate::dedup::Candidate {
                id: *id,
                published,
                signature: signature.as_deref().and_then(from_bytes),
                title_numbers,
                title,
                text: Some(text),
            });
        }
    }
    for id in index.neighbours(entry, now) {
        if by_title.contains(&id) {
            continue;
        }
        let row = stmts
            .near
            .query_row(params![id, source.0], |r| {
                Ok((
                    r.get::<_, Timestamp>(0)?,
                    r.get::<_, Option<Vec<u8>>>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                ))
            })
            .optional()
            .context("matching near duplicates")?;
        if let Some((published, signature, title_numbers, title)) = row {
            candidates.push(crate::dedup::Candidate {
                id,
                published,
                signature: signature.as_deref().and_then(from_bytes),
                title_numbers,
                title,
                text: None,
            });
        }
    }
    Ok(candidates)
}
