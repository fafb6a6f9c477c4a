//! Recording a parsed document, as the SQLite engine does (`store/sqlite/ingest.rs`: same rules,
//! same order, same rows): one transaction per refresh in which every entry's candidates are
//! looked up (`lookups.rs`), the same-story decision is asked of [`crate::dedup::decide`], and
//! the decision is carried out here, with the source row's new validators.
//!
//! What several nodes add (issue 14, point 4): the transaction first takes an advisory lock on
//! every address the document's entries have or credit, so that two nodes storing one story at
//! once store it once; and the near-duplicate index is brought up to date with what other nodes
//! committed before any entry is decided. It must not decide anything itself.

use std::collections::{BTreeSet, HashMap};

use postgres::types::ToSql;
use postgres::{Row, Statement, Transaction};
use sha2::{Digest, Sha256};

use super::lookups::{NearState, canonical_urls, document_lookups, known_entries, origin_urls};
use super::{Context, PostgresStore};
use crate::dedup::{Action, Decision};
use crate::model::{EntryKey, FeedMeta, NewEntry, RefreshStats, SourceId, Timestamp};
use crate::store::columns::to_json;
use crate::store::{Fetched, StoreError};

/// Stores one successfully parsed document: feed metadata, every entry (new ones inserted,
/// changed ones updated in place, unchanged ones only marked seen), topic membership, the search
/// index and the new validators — all in one transaction, so a crash never leaves validators
/// that would answer 304 for entries that were not stored. The source's lease ends with it.
pub(super) fn record_document(
    store: &PostgresStore,
    source: SourceId,
    meta: &FeedMeta,
    entries: &[NewEntry],
    fetched: &Fetched<'_>,
    now: Timestamp,
) -> Result<RefreshStats, StoreError> {
    let (stats, changes) = store.with_client(|client| {
        // READ COMMITTED whatever the server's default: each lookup after the address locks
        // must see what the transaction that held them before committed.
        let mut tx = client
            .build_transaction()
            .isolation_level(postgres::IsolationLevel::ReadCommitted)
            .start()
            .context("starting refresh")?;
        let done = write_document(store, &mut tx, source, meta, entries, fetched, now)?;
        tx.commit().context("committing refresh")?;
        Ok(done)
    })?;
    changes.apply(&store.signals);
    Ok(stats)
}

/// What a committed refresh tells this node's [`crate::store::Signals`], as SQLite's `Pending`
/// does for one refresh.
struct Changes {
    /// Something a topic page shows changed.
    pages: bool,
    written: u64,
    topics: BTreeSet<String>,
}

impl Changes {
    fn apply(self, signals: &crate::store::Signals) {
        if self.pages {
            signals.bump();
        } else {
            // A refresh always changes its source's row.
            signals.bump_sources();
        }
        signals.note_written(self.written);
        signals.note_changed_topics(self.topics);
    }
}

fn write_document(
    store: &PostgresStore,
    tx: &mut Transaction<'_>,
    source: SourceId,
    meta: &FeedMeta,
    entries: &[NewEntry],
    fetched: &Fetched<'_>,
    now: Timestamp,
) -> Result<(RefreshStats, Changes), StoreError> {
    lock_addresses(tx, entries)?;
    let mut changed_topics = BTreeSet::new();
    // A story joined a topic without being new or updated: topic pages changed all the same.
    let mut regrouped = false;
    let mut stats = RefreshStats::default();
    {
        // Entries not normalized again are in the document too: their keys have not left it.
        let keys: Vec<&str> = entries
            .iter()
            .map(|e| e.key.as_str())
            .chain(fetched.unchanged.iter().map(EntryKey::as_str))
            .collect();
        stats.unchanged += fetched.unchanged.len();
        stats.reused = fetched.unchanged.len();
        let mut known = known_entries(tx, source, &keys)?;
        let mut lookups = document_lookups(tx, source, entries, &keys)?;
        // The index is held only while it is read or added to, not while the document is
        // written: documents of this node are written at once, as those of two nodes are, and
        // find each other's stories once committed (see `NearState::catch_up`). Never held
        // while waiting for a database lock.
        let settings = {
            let mut near = lock_near(store);
            near.catch_up(tx, now)?;
            near.index.settings()
        };
        let mut writer = Writer::new(tx);
        let mut churned = 0;
        for entry in entries {
            let mut found = lookups.found(entry, known.remove(entry.key.as_str()));
            if crate::dedup::wants_neighbours(&found, settings) {
                found.neighbours = neighbours(&mut writer, store, entry, source, now)?;
            }
            let decision = crate::dedup::decide(entry, &found, settings, now);
            churned += usize::from(decision.churned);
            match decision.reason {
                crate::dedup::Reason::Origin => stats.origin_copies += 1,
                crate::dedup::Reason::Translation => stats.translations += 1,
                _ => {}
            }
            for adopted in &decision.adopt {
                if adopted.translation {
                    stats.translations += 1;
                } else {
                    stats.origin_copies += 1;
                }
            }
            let upsert = carry_out(&mut writer, source, now, store, entry, &decision)?;
            for (story, version, language) in writer.versions.drain(..) {
                lookups.add_version(story, version, language);
            }
            if !matches!(upsert, Upsert::Unchanged) {
                changed_topics.extend(entry.topics.iter().map(|t| t.as_str().to_string()));
            }
            match upsert {
                Upsert::New => stats.new += 1,
                Upsert::Merged => {
                    stats.new += 1;
                    stats.merged += 1;
                }
                Upsert::Updated => stats.updated += 1,
                Upsert::Regrouped => {
                    stats.unchanged += 1;
                    regrouped = true;
                }
                Upsert::Unchanged => stats.unchanged += 1,
            }
        }
        drop(writer);
        stats.churned = churned;
        if crate::dedup::switch_to_link(churned, entries.len() + fetched.unchanged.len()) {
            let switched = tx
                .execute(
                    "UPDATE sources SET identity_mode = $2 WHERE id = $1 AND identity_mode IS NULL",
                    &[&source.0, &crate::model::Identity::Link.as_str()],
                )
                .context("switching identity")?;
            stats.switched_to_link = switched > 0;
        }
    }
    let changed = tx
        .execute(
            "UPDATE sources SET feed_title = $2, site_url = $3, feed_id = $4, language = $5,
                etag = $6, last_modified = $7, last_fetch_at = $8, last_success_at = $8,
                last_status = $9, last_error = NULL, consecutive_failures = 0,
                failure_class = NULL, gone_streak = 0, body_hash = $10,
                last_unconditional_at = CASE WHEN $11 THEN $8 ELSE last_unconditional_at END,
                warning = $12, leased_by = NULL, leased_until = NULL
             WHERE id = $1",
            &[
                &source.0,
                &meta.title,
                &meta.site_url,
                &meta.feed_id,
                &meta.language,
                &fetched.validators.etag,
                &fetched.validators.last_modified,
                &now,
                &i64::from(fetched.status),
                &fetched.body_hash,
                &fetched.unconditional,
                &fetched.warning,
            ],
        )
        .context("recording refresh")?;
    if changed == 0 {
        return Err(StoreError::UnknownSource(source.0));
    }
    if let Some(schedule) = fetched.schedule {
        super::sources::write_schedule(tx, source, schedule)?;
    }
    let pages = stats.new > 0 || stats.updated > 0 || regrouped;
    super::notify_changes(tx, &store.node, &changed_topics, pages)?;
    let changes = Changes {
        pages,
        written: (stats.new + stats.updated) as u64,
        topics: changed_topics,
    };
    Ok((stats, changes))
}

/// The advisory lock key of an address: the first 8 bytes of its SHA-256, stable across nodes,
/// builds and restarts.
pub(super) fn address_lock_key(url: &str) -> i64 {
    let digest = Sha256::digest(url.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(first)
}

/// Takes, for the rest of the transaction, a lock on every canonical URL the document's entries
/// have and every original they credit, in ascending key order so that two documents never wait
/// for each other. Under READ COMMITTED every lookup after it sees what the transaction that
/// held a lock before committed: two nodes storing one story from two sources at once end with
/// one story crediting both. A unique index on the canonical URL would not do: one source may
/// carry two stories at one address (a live page's updates).
fn lock_addresses(tx: &mut Transaction<'_>, entries: &[NewEntry]) -> Result<(), StoreError> {
    let keys: BTreeSet<i64> = canonical_urls(entries)
        .into_iter()
        .chain(origin_urls(entries))
        .map(address_lock_key)
        .collect();
    if keys.is_empty() {
        return Ok(());
    }
    let keys: Vec<i64> = keys.into_iter().collect();
    // unnest yields the array in order, and each row's lock is taken as the row is produced.
    tx.execute(
        "SELECT pg_advisory_xact_lock(k) FROM unnest($1::BIGINT[]) WITH ORDINALITY AS u(k, n) ORDER BY n",
        &[&keys],
    )
    .context("locking the document's addresses")?;
    Ok(())
}

/// The refresh's transaction with the statements it ran so far, each prepared once per
/// document.
struct Writer<'a, 't> {
    tx: &'a mut Transaction<'t>,
    prepared: HashMap<&'static str, Statement>,
    /// Translations this document stored: (story, version row, language), for the entries
    /// after them (one version a language).
    versions: Vec<(i64, i64, Option<String>)>,
}

impl<'a, 't> Writer<'a, 't> {
    fn new(tx: &'a mut Transaction<'t>) -> Writer<'a, 't> {
        Writer {
            tx,
            prepared: HashMap::new(),
            versions: Vec::new(),
        }
    }

    fn statement(
        &mut self,
        sql: &'static str,
        context: &'static str,
    ) -> Result<Statement, StoreError> {
        if let Some(statement) = self.prepared.get(sql) {
            return Ok(statement.clone());
        }
        let statement = self.tx.prepare(sql).context(context)?;
        self.prepared.insert(sql, statement.clone());
        Ok(statement)
    }

    fn execute(
        &mut self,
        sql: &'static str,
        params: &[&(dyn ToSql + Sync)],
        context: &'static str,
    ) -> Result<u64, StoreError> {
        let statement = self.statement(sql, context)?;
        self.tx.execute(&statement, params).context(context)
    }

    fn query_opt(
        &mut self,
        sql: &'static str,
        params: &[&(dyn ToSql + Sync)],
        context: &'static str,
    ) -> Result<Option<Row>, StoreError> {
        let statement = self.statement(sql, context)?;
        self.tx.query_opt(&statement, params).context(context)
    }

    fn query_one(
        &mut self,
        sql: &'static str,
        params: &[&(dyn ToSql + Sync)],
        context: &'static str,
    ) -> Result<Row, StoreError> {
        let statement = self.statement(sql, context)?;
        self.tx.query_one(&statement, params).context(context)
    }
}

const SEEN: &str = "UPDATE sightings SET last_seen_at = $3, content_hash = $4, link = $5,
        canonical_url = $6, item_hash = $7
     WHERE source_id = $1 AND entry_key = $2";
const UPDATE: &str = "UPDATE entries SET public_id = $2, link = $3, title = $4, summary_html = $5,
        content_html = $6, authors = $7, categories = $8, enclosures = $9, language = $10,
        updated_at = $11, changed_at = $12, content_hash = $13, canonical_url = $14, title_key = $15,
        origin_url = $16, origin_link = $17, origin_credit = $18, origin_rule = $19
     WHERE id = $1";
const INSERT: &str =
    "INSERT INTO entries (source_id, public_id, link, title, summary_html, content_html,
        authors, categories, enclosures, language, published_at, updated_at, first_seen_at,
        changed_at, content_hash, canonical_url, signature, title_numbers, title_key,
        origin_url, origin_link, origin_credit, origin_rule, version_of)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13, $14, $15, $16, $17, $18,
        $19, $20, $21, $22, $23)
     RETURNING id";
const SIGHTING: &str =
    "INSERT INTO sightings (source_id, entry_key, entry_id, first_seen_at, last_seen_at,
        content_hash, link, canonical_url, joined_by, item_hash)
     VALUES ($1, $2, $3, $4, $4, $5, $6, $7, $8, $9)";
const TOPIC: &str = "INSERT INTO entry_topics (topic, sort_at, entry_id) VALUES ($1, $2, $3)
     ON CONFLICT DO NOTHING";
const REKEY: &str = "UPDATE sightings SET entry_key = $3 WHERE source_id = $1 AND entry_key = $2";
const INDEX_WORDS: &str = "INSERT INTO entry_search (entry_id, words) VALUES ($1, $2)
     ON CONFLICT (entry_id) DO UPDATE SET words = EXCLUDED.words";
/// A candidate story, unless this source carries it already.
const NEAR: &str = "SELECT e.published_at, e.signature, e.title_numbers, e.title FROM entries e
     WHERE e.id = $1
       AND NOT EXISTS (SELECT 1 FROM sightings g WHERE g.entry_id = e.id AND g.source_id = $2)";
/// The same, with the text, for a story found by its title.
const NEAR_TEXT: &str =
    "SELECT e.published_at, e.signature, e.title_numbers, e.title, e.summary_html,
        e.content_html
     FROM entries e
     WHERE e.id = $1
       AND NOT EXISTS (SELECT 1 FROM sightings g WHERE g.entry_id = e.id AND g.source_id = $2)";

enum Upsert {
    New,
    /// A story another source carried already: one more sighting of it.
    Merged,
    Updated,
    /// Another source's copy changed: the story stays as published, but its changed text put it
    /// in more topics.
    Regrouped,
    Unchanged,
}

/// The near-duplicate index, for as long as the guard lives: never across a database write.
fn lock_near(store: &PostgresStore) -> std::sync::MutexGuard<'_, NearState> {
    store
        .near
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Carries out the same-story decision for one entry of a document.
fn carry_out(
    w: &mut Writer<'_, '_>,
    source: SourceId,
    now: Timestamp,
    store: &PostgresStore,
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
        w.execute(
            REKEY,
            &[&source.0, &old_key.as_str(), &entry.key.as_str()],
            "re-keying sighting",
        )?;
    }
    let seen = |w: &mut Writer<'_, '_>| {
        w.execute(
            SEEN,
            &[
                &source.0,
                &entry.key.as_str(),
                &now,
                &entry.content_hash,
                &entry.link,
                &entry.canonical_url,
                &entry.item_hash,
            ],
            "marking entry seen",
        )
    };
    // Changed text may qualify for more topics; it leaves none (another sighting may be what put
    // it there) until the next recomputation of membership. True when it joined one.
    let join_topics = |w: &mut Writer<'_, '_>, story: i64, sort_at: Timestamp| {
        // A translation's topics are its story's.
        let (story, sort_at) = listed_story(w, story)?.unwrap_or((story, sort_at));
        let mut joined = false;
        for topic in &entry.topics {
            joined |= w.execute(
                TOPIC,
                &[&topic.as_str(), &sort_at, &story],
                "inserting entry topics",
            )? > 0;
        }
        Ok::<_, StoreError>(joined)
    };
    match decision.action {
        Action::Unchanged { .. } => {
            seen(w)?;
            Ok(Upsert::Unchanged)
        }
        Action::CopyChanged { story, sort_at } => {
            seen(w)?;
            Ok(if join_topics(w, story, sort_at)? {
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
            seen(w)?;
            join_topics(w, story, sort_at)?;
            let origin = origin_columns(entry);
            w.execute(
                UPDATE,
                &[
                    &story,
                    &entry.public_id,
                    &entry.link,
                    &entry.title,
                    &entry.summary_html,
                    &entry.content_html,
                    &to_json(&entry.authors),
                    &to_json(&entry.categories),
                    &to_json(&entry.enclosures),
                    &entry.language,
                    &updated,
                    &now,
                    &entry.content_hash,
                    &entry.canonical_url,
                    &entry.likeness.title_key.map(|k| k as i64),
                    &origin.url,
                    &origin.link,
                    &origin.credit,
                    &origin.rule,
                ],
                "updating entry",
            )?;
            index_for_search(w, story, entry)?;
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
            let listed = listed_story(w, story)?.unwrap_or((story, sort_at));
            add_sighting(w, source, now, entry, story, Some(rule), listed)?;
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
            let version = insert_entry(w, source, now, entry, entry.published, Some(story))?;
            lock_near(store).remember(version, entry, now);
            w.versions.push((story, version, entry.language.clone()));
            let rule = decision.reason.as_str();
            add_sighting(w, source, now, entry, version, Some(rule), (story, sort_at))?;
            Ok(Upsert::Merged)
        }
        Action::New { updated } => {
            let story = insert_entry(w, source, now, entry, updated, None)?;
            lock_near(store).remember(story, entry, now);
            add_sighting(w, source, now, entry, story, None, (story, entry.published))?;
            for adopted in &decision.adopt {
                adopt(w, story, entry.published, *adopted)?;
            }
            Ok(Upsert::New)
        }
    }
}

/// The story's words in the search index, replacing those it had.
fn index_for_search(
    w: &mut Writer<'_, '_>,
    story: i64,
    entry: &NewEntry,
) -> Result<(), StoreError> {
    w.execute(
        INDEX_WORDS,
        &[&story, &super::search::index_words(&entry.search_text)],
        "indexing stories for search",
    )?;
    Ok(())
}

/// Hands the row `old`'s sightings to the row `into` (as joined by `rule`) and deletes it, its
/// words leaving the search index with it.
fn fold_into(w: &mut Writer<'_, '_>, old: i64, into: i64, rule: &str) -> Result<(), StoreError> {
    w.execute(
        "UPDATE sightings SET entry_id = $2, joined_by = COALESCE(joined_by, $3)
         WHERE entry_id = $1",
        &[&old, &into, &rule],
        "adopting a republication",
    )?;
    w.execute(
        "DELETE FROM entries WHERE id = $1",
        &[&old],
        "adopting a republication",
    )?;
    Ok(())
}

/// The story a version row belongs to and where that story sorts; `None` for a story itself.
fn listed_story(w: &mut Writer<'_, '_>, row: i64) -> Result<Option<(i64, Timestamp)>, StoreError> {
    const CONTEXT: &str = "finding a translation's story";
    let found = w.query_opt(
        "SELECT p.id, p.published_at FROM entries e JOIN entries p ON p.id = e.version_of
         WHERE e.id = $1",
        &[&row],
        CONTEXT,
    )?;
    found
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .transpose()
        .context(CONTEXT)
}

/// What an entry credits, as stored.
struct OriginColumns<'a> {
    url: Option<&'a str>,
    link: Option<&'a str>,
    credit: Option<&'a str>,
    rule: Option<&'static str>,
}

fn origin_columns(entry: &NewEntry) -> OriginColumns<'_> {
    let origin = entry.origin.as_ref();
    OriginColumns {
        url: origin.and_then(|o| o.canonical_url.as_deref()),
        link: origin.and_then(|o| o.link.as_deref()),
        credit: origin.and_then(|o| o.credit.as_deref()),
        rule: origin.map(|o| o.found_by.as_str()),
    }
}

/// A new row for `entry`: a story, or with `version_of` a version of that story in another
/// language, with its words in the search index.
fn insert_entry(
    w: &mut Writer<'_, '_>,
    source: SourceId,
    now: Timestamp,
    entry: &NewEntry,
    updated: Timestamp,
    version_of: Option<i64>,
) -> Result<i64, StoreError> {
    let origin = origin_columns(entry);
    let row = w.query_one(
        INSERT,
        &[
            &source.0,
            &entry.public_id,
            &entry.link,
            &entry.title,
            &entry.summary_html,
            &entry.content_html,
            &to_json(&entry.authors),
            &to_json(&entry.categories),
            &to_json(&entry.enclosures),
            &entry.language,
            &entry.published,
            &updated,
            &now,
            &entry.content_hash,
            &entry.canonical_url,
            &entry
                .signature
                .as_ref()
                .map(crate::dedup::fingerprint::to_bytes),
            &entry.title_numbers,
            // BIGINT is signed: the same 64 bits.
            &entry.likeness.title_key.map(|k| k as i64),
            &origin.url,
            &origin.link,
            &origin.credit,
            &origin.rule,
            &version_of,
        ],
        "inserting entry",
    )?;
    let story: i64 = row.try_get(0).context("inserting entry")?;
    index_for_search(w, story, entry)?;
    Ok(story)
}

/// A stored republication taken in by `story`, its newly arrived original (see
/// [`crate::dedup::Adopted`]). A translation points at the story; one in the story's language
/// hands its sightings and translations to it and goes. Either way the story takes its topics.
fn adopt(
    w: &mut Writer<'_, '_>,
    story: i64,
    sort_at: Timestamp,
    adopted: crate::dedup::Adopted,
) -> Result<(), StoreError> {
    const CONTEXT: &str = "adopting a republication";
    let old = adopted.story;
    tracing::debug!(
        story,
        republication = old,
        translation = adopted.translation,
        "original arrived"
    );
    w.execute(
        "INSERT INTO entry_topics (topic, sort_at, entry_id)
         SELECT topic, $2, $3 FROM entry_topics WHERE entry_id = $1
         ON CONFLICT DO NOTHING",
        &[&old, &sort_at, &story],
        CONTEXT,
    )?;
    w.execute(
        "DELETE FROM entry_topics WHERE entry_id = $1",
        &[&old],
        CONTEXT,
    )?;
    w.execute(
        "UPDATE entries SET version_of = $2 WHERE version_of = $1",
        &[&old, &story],
        CONTEXT,
    )?;
    match (adopted.into, adopted.translation) {
        // A second translation into a language: a copy of the first.
        (Some(version), _) => fold_into(w, old, version, "translation")?,
        (None, true) => {
            w.execute(
                "UPDATE entries SET version_of = $2 WHERE id = $1",
                &[&old, &story],
                CONTEXT,
            )?;
            w.execute(
                "UPDATE sightings SET joined_by = COALESCE(joined_by, 'translation') WHERE entry_id = $1",
                &[&old],
                CONTEXT,
            )?;
        }
        (None, false) => fold_into(w, old, story, "origin")?,
    }
    Ok(())
}

/// This source's sighting of the row `story` (a story, or a story's version in another
/// language), and the story it belongs to (`listed`: the story and where it sorts) in the topics
/// the sighting puts it in.
fn add_sighting(
    w: &mut Writer<'_, '_>,
    source: SourceId,
    now: Timestamp,
    entry: &NewEntry,
    story: i64,
    joined_by: Option<&str>,
    listed: (i64, Timestamp),
) -> Result<(), StoreError> {
    w.execute(
        SIGHTING,
        &[
            &source.0,
            &entry.key.as_str(),
            &story,
            &now,
            &entry.content_hash,
            &entry.link,
            &entry.canonical_url,
            &joined_by,
            &entry.item_hash,
        ],
        "inserting sighting",
    )?;
    let (listed, sort_at) = listed;
    for topic in &entry.topics {
        w.execute(
            TOPIC,
            &[&topic.as_str(), &sort_at, &listed],
            "inserting entry topics",
        )?;
    }
    Ok(())
}

/// The stories the index finds near `entry` (by band keys, and by title) that another source
/// carries, read for comparison; those found by title with their text.
fn neighbours(
    w: &mut Writer<'_, '_>,
    store: &PostgresStore,
    entry: &NewEntry,
    source: SourceId,
    now: Timestamp,
) -> Result<Vec<crate::dedup::Candidate>, StoreError> {
    use crate::dedup::fingerprint::from_bytes;
    const CONTEXT: &str = "matching near duplicates";
    let (by_title, by_bands) = {
        let near = lock_near(store);
        (
            near.index.same_title(entry, now),
            near.index.neighbours(entry, now),
        )
    };
    let mut candidates = Vec::new();
    for id in &by_title {
        let Some(r) = w.query_opt(NEAR_TEXT, &[id, &source.0], CONTEXT)? else {
            continue;
        };
        let read = || -> Result<_, postgres::Error> {
            Ok((
                r.try_get::<_, Timestamp>(0)?,
                r.try_get::<_, Option<Vec<u8>>>(1)?,
                r.try_get::<_, String>(2)?,
                r.try_get::<_, String>(3)?,
                r.try_get::<_, Option<String>>(4)?,
                r.try_get::<_, Option<String>>(5)?,
            ))
        };
        let (published, signature, title_numbers, title, summary, content) =
            read().context(CONTEXT)?;
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
    for id in by_bands {
        if by_title.contains(&id) {
            continue;
        }
        let Some(r) = w.query_opt(NEAR, &[&id, &source.0], CONTEXT)? else {
            continue;
        };
        let read = || -> Result<_, postgres::Error> {
            Ok((
                r.try_get::<_, Timestamp>(0)?,
                r.try_get::<_, Option<Vec<u8>>>(1)?,
                r.try_get::<_, String>(2)?,
                r.try_get::<_, String>(3)?,
            ))
        };
        let (published, signature, title_numbers, title) = read().context(CONTEXT)?;
        candidates.push(crate::dedup::Candidate {
            id,
            published,
            signature: signature.as_deref().and_then(from_bytes),
            title_numbers,
            title,
            text: None,
        });
    }
    Ok(candidates)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_lock_keys_are_the_first_bytes_of_the_urls_sha256() {
        // SHA-256("https://news.example/a") = 95bbca1f9b4bae7d…: the key must never change, or
        // nodes of two versions would lock different keys for one address.
        assert_eq!(
            address_lock_key("https://news.example/a"),
            i64::from_be_bytes([0x95, 0xbb, 0xca, 0x1f, 0x9b, 0x4b, 0xae, 0x7d])
        );
        assert_ne!(
            address_lock_key("https://news.example/a"),
            address_lock_key("https://news.example/b")
        );
    }
}
