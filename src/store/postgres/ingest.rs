//! Recording a parsed document, as the SQLite engine does (`store/sqlite/ingest.rs`: same rules,
//! same order, same rows): one transaction per refresh in which every entry's candidates are
//! looked up (`lookups.rs`), the same-story decision is asked of [`crate::dedup::decide`], and
//! the decision is carried out here, with the source row's new validators.
//!
//! What several nodes add (issue 14, point 4): the transaction first takes an advisory lock on
//! every address the document's entries have or credit, so that two nodes storing one story at
//! once store it once; and the near-duplicate index is brought up to date with what other nodes
//! committed before any entry is decided. It must not decide anything itself.

use std::collections::{BTreeSet, HashMap, HashSet};

use sha2::{Digest, Sha256};

use super::lookups::{NearState, canonical_urls, document_lookups, origin_urls};
use super::{Connection, Context, PostgresStore, Prepared};
use crate::dedup::{Action, Decision};
use crate::model::{EntryKey, FeedMeta, NewEntry, RefreshStats, SourceId, Timestamp};
use crate::store::columns::{join_list, origin_columns, to_json};
use crate::store::tally::{Tally, Upsert};
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
    let (stats, changes) = store.with_connection(|connection| {
        let Connection { client, statements } = connection;
        // READ COMMITTED whatever the server's default: each lookup after the address locks
        // must see what the transaction that held them before committed.
        let mut tx = client
            .build_transaction()
            .isolation_level(postgres::IsolationLevel::ReadCommitted)
            .start()
            .context("starting refresh")?;
        let done = write_document(
            store,
            Prepared::new(&mut tx, statements),
            source,
            meta,
            entries,
            fetched,
            now,
        )?;
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

fn write_document<'a>(
    store: &'a PostgresStore,
    mut db: Prepared<'a, '_>,
    source: SourceId,
    meta: &FeedMeta,
    entries: &[NewEntry],
    fetched: &Fetched<'_>,
    now: Timestamp,
) -> Result<(RefreshStats, Changes), StoreError> {
    lock_addresses(&mut db, entries)?;
    let mut tally = Tally::new(fetched.unchanged.len());
    {
        // Entries not normalized again are in the document too: their keys have not left it.
        let keys: Vec<&str> = entries
            .iter()
            .map(|e| e.key.as_str())
            .chain(fetched.unchanged.iter().map(EntryKey::as_str))
            .collect();
        let (mut known, mut lookups) = document_lookups(&mut db, source, entries, &keys)?;
        // The index is held only while it is read or added to, not while the document is
        // written: documents of this node are written at once, as those of two nodes are, and
        // find each other's stories once committed (see `NearState`).
        let settings = super::lookups::catch_up(store, &mut db, now)?;
        let mut writer = Writer::new(db, store, source, now);
        for entry in entries {
            let mut found = lookups.found(entry, known.remove(entry.key.as_str()));
            if crate::dedup::wants_neighbours(&found, settings) {
                found.neighbours = neighbours(&mut writer, entry)?;
            }
            let decision = crate::dedup::decide(entry, &found, settings, now);
            tally.decided(&decision);
            let upsert = carry_out(&mut writer, entry, &decision)?;
            for (story, version, language) in writer.versions.drain(..) {
                lookups.add_version(story, version, language);
            }
            tally.carried_out(entry, upsert);
        }
        writer.flush()?;
        db = writer.db;
        if tally.switches_to_link(entries.len() + fetched.unchanged.len()) {
            let switched = db.execute(
                "UPDATE sources SET identity_mode = $2 WHERE id = $1 AND identity_mode IS NULL",
                &[&source.0, &crate::model::Identity::Link.as_str()],
                "switching identity",
            )?;
            tally.stats.switched_to_link = switched > 0;
        }
    }
    let pages = tally.pages_changed();
    let schedule = fetched.schedule;
    let payload = super::notify_payload(&store.node, &tally.changed_topics, pages);
    let finished = db.query(
        FINISH,
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
            &schedule.is_some(),
            &schedule.map(|r| r.next_due_at),
            &schedule.map(|r| r.interval_secs),
            &schedule.and_then(|r| r.publishing_secs),
            &schedule.and_then(|r| r.feed_hint_secs),
            &schedule.and_then(|r| join_list(&r.skip_hours)),
            &schedule.and_then(|r| join_list(&r.skip_days)),
            &schedule.and_then(|r| r.retry_after_until),
            &schedule.and_then(|r| r.fetch_url.as_deref()),
            &schedule.and_then(|r| r.redirect_target.as_deref()),
            &schedule.map(|r| i64::from(r.redirect_streak)),
            &super::CHANGES_CHANNEL,
            &payload,
        ],
        "recording refresh",
    )?;
    let changed: i64 = finished
        .first()
        .map(|r| r.try_get(0))
        .transpose()
        .context("recording refresh")?
        .unwrap_or(0);
    if changed == 0 {
        return Err(StoreError::UnknownSource(source.0));
    }
    let stats = tally.stats;
    let changes = Changes {
        pages,
        written: (stats.new + stats.updated) as u64,
        topics: tally.changed_topics,
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
///
/// The same statement sets how the rest of the refresh is planned (see [`REFRESH_PLANNING`]).
fn lock_addresses(db: &mut Prepared<'_, '_>, entries: &[NewEntry]) -> Result<(), StoreError> {
    let keys: BTreeSet<i64> = canonical_urls(entries)
        .into_iter()
        .chain(origin_urls(entries))
        .map(address_lock_key)
        .collect();
    let keys: Vec<i64> = keys.into_iter().collect();
    db.execute(
        REFRESH_PLANNING,
        &[&keys],
        "locking the document's addresses",
    )?;
    Ok(())
}

/// The first statement of a refresh: locks the addresses `$1` (see [`lock_addresses`]; unnest
/// yields the array in order, each row's lock taken as the row is produced, and a subquery's
/// volatile outputs are always computed), and has every later statement of the transaction use
/// one plan, made once per connection, that reads through indexes.
///
/// A refresh runs the same dozen statements on tables that may grow from nothing to millions of
/// rows within one cycle. Planned for each call, they spent more time being planned than being
/// run; a plan made once while the tables were small, the planner's default choice, scanned
/// whole tables ever after. With sequential scans off, a plan made at any size looks rows up by
/// index, as every statement of a refresh can.
pub(super) const REFRESH_PLANNING: &str =
    "SELECT set_config('plan_cache_mode', 'force_generic_plan', true),
        set_config('enable_seqscan', 'off', true),
        (SELECT count(*) FROM (SELECT pg_advisory_xact_lock(k)
                               FROM unnest($1::BIGINT[]) WITH ORDINALITY AS u(k, n)
                               ORDER BY n) AS locked)";

/// The refresh's transaction, and the rows it writes in batches.
///
/// Most of a document's rows are written by one statement ([`FLUSH`]), one row per array element
/// (`unnest`), when the document ends or before something must read them: a document of twenty
/// new stories costs one round trip for its rows, not a hundred. Until then, a new row is known by
/// its place among the document's new rows: the row numbered `n` has the id `-(n + 1)` (stored
/// ids are positive), and takes its real id, one of the sequence's next values in ascending
/// order, when written ([`Writer::flush`]).
///
/// What may be read before a flush: stories stored before this document (their rows are not
/// changed by what waits here), and the near-duplicate candidates, from which the stories this
/// source got a sighting of in this document are left out ([`Writer::carried`]), as the
/// database leaves out those whose sighting it holds.
struct Writer<'a, 't, 'e> {
    db: Prepared<'a, 't>,
    store: &'a PostgresStore,
    source: SourceId,
    now: Timestamp,
    /// Translations this document stored: (story, version row, language), for the entries
    /// after them (one version a language).
    versions: Vec<(i64, i64, Option<String>)>,
    /// The ids of this document's new rows written so far, in the order they were made.
    ids: Vec<i64>,
    /// Rows this source got a sighting of in this document.
    carried: HashSet<i64>,
    pending: Pending<'e>,
}

/// Rows waiting to be written (see [`Writer`]).
#[derive(Default)]
struct Pending<'e> {
    /// New rows, numbered on from `Writer::ids.len()`.
    entries: Vec<NewRow<'e>>,
    sightings: Vec<(&'e NewEntry, i64, Option<&'static str>)>,
    topics: Vec<(&'e str, Timestamp, i64)>,
    /// Rows whose words go into the search index, with the entry they are taken from.
    search: Vec<(i64, &'e NewEntry)>,
    /// Entries whose sightings are marked seen.
    seen: Vec<&'e NewEntry>,
}

impl Pending<'_> {
    fn is_empty(&self) -> bool {
        self.entries.is_empty()
            && self.sightings.is_empty()
            && self.topics.is_empty()
            && self.search.is_empty()
            && self.seen.is_empty()
    }
}

struct NewRow<'e> {
    entry: &'e NewEntry,
    updated: Timestamp,
    version_of: Option<i64>,
}

const UPDATE: &str = "UPDATE entries SET public_id = $2, link = $3, title = $4, summary_html = $5,
        content_html = $6, authors = $7, categories = $8, enclosures = $9, language = $10,
        updated_at = $11, changed_at = $12, content_hash = $13, canonical_url = $14, title_key = $15,
        origin_url = $16, origin_link = $17, origin_credit = $18, origin_rule = $19
     WHERE id = $1";
const TOPIC: &str = "INSERT INTO entry_topics (topic, sort_at, entry_id) VALUES ($1, $2, $3)
     ON CONFLICT DO NOTHING";
const REKEY: &str = "UPDATE sightings SET entry_key = $3 WHERE source_id = $1 AND entry_key = $2";
/// Everything waiting (see [`Writer::flush`]), in one statement: `$1` the source, `$2` now, `$3`
/// how many new rows the document wrote before. The new rows take the sequence's next values
/// (`fresh`), in ascending order of their number; a row of this flush is named by its
/// placeholder `-(n + $3)` (numbered from 1) elsewhere, which a join with `fresh` resolves (a
/// placeholder naming no row of this flush resolves to NULL, which only `version_of` takes). The statement
/// returns the ids given, in order. (Each part sees the tables as they were before the
/// statement: a new sighting and a sighting marked seen are never the same row, as a document
/// has each key once.)
const FLUSH: &str = "WITH fresh AS MATERIALIZED (
        SELECT f.id, row_number() OVER (ORDER BY f.id) AS n
        FROM (SELECT nextval(pg_get_serial_sequence('entries', 'id')) AS id
              FROM generate_series(1, cardinality($4::TEXT[]))) f
     ),
     new_entries AS (
        INSERT INTO entries (id, source_id, public_id, link, title, summary_html,
            content_html, authors, categories, enclosures, language, published_at, updated_at,
            first_seen_at, changed_at, content_hash, canonical_url, signature, title_numbers,
            title_key, origin_url, origin_link, origin_credit, origin_rule, version_of)
        SELECT f.id, $1, r.public_id, r.link, r.title, r.summary_html, r.content_html,
            r.authors, r.categories, r.enclosures, r.language, r.published_at, r.updated_at,
            $2, $2, r.content_hash, r.canonical_url, r.signature, r.title_numbers, r.title_key,
            r.origin_url, r.origin_link, r.origin_credit, r.origin_rule,
            CASE WHEN r.version_of < 0 THEN v.id ELSE r.version_of END
        FROM unnest($4::TEXT[], $5::TEXT[], $6::TEXT[], $7::TEXT[], $8::TEXT[], $9::TEXT[],
            $10::TEXT[], $11::TEXT[], $12::TEXT[], $13::BIGINT[], $14::BIGINT[], $15::TEXT[],
            $16::TEXT[], $17::BYTEA[], $18::TEXT[], $19::BIGINT[], $20::TEXT[], $21::TEXT[],
            $22::TEXT[], $23::TEXT[], $24::BIGINT[]) WITH ORDINALITY
            AS r(public_id, link, title, summary_html, content_html, authors, categories,
            enclosures, language, published_at, updated_at, content_hash, canonical_url,
            signature, title_numbers, title_key, origin_url, origin_link, origin_credit,
            origin_rule, version_of, n)
        JOIN fresh f ON f.n = r.n
        LEFT JOIN fresh v ON v.n = -r.version_of - $3
     ),
     new_sightings AS (
        INSERT INTO sightings (source_id, entry_key, entry_id, first_seen_at, last_seen_at,
            content_hash, link, canonical_url, joined_by, item_hash)
        SELECT $1, v.entry_key,
            CASE WHEN v.entry_id < 0 THEN f.id ELSE v.entry_id END,
            $2, $2, v.content_hash, v.link, v.canonical_url, v.joined_by, v.item_hash
        FROM unnest($25::TEXT[], $26::BIGINT[], $27::TEXT[], $28::TEXT[], $29::TEXT[],
            $30::TEXT[], $31::BIGINT[])
            AS v(entry_key, entry_id, content_hash, link, canonical_url, joined_by, item_hash)
        LEFT JOIN fresh f ON f.n = -v.entry_id - $3
     ),
     new_topics AS (
        INSERT INTO entry_topics (topic, sort_at, entry_id)
        SELECT t.topic, t.sort_at,
            CASE WHEN t.entry_id < 0 THEN f.id ELSE t.entry_id END
        FROM unnest($32::TEXT[], $33::BIGINT[], $34::BIGINT[]) AS t(topic, sort_at, entry_id)
        LEFT JOIN fresh f ON f.n = -t.entry_id - $3
        ON CONFLICT DO NOTHING
     ),
     new_words AS (
        INSERT INTO entry_search (entry_id, words)
        SELECT CASE WHEN w.entry_id < 0 THEN f.id ELSE w.entry_id END,
            string_to_array(w.words, ' ')
        FROM unnest($35::BIGINT[], $36::TEXT[]) AS w(entry_id, words)
        LEFT JOIN fresh f ON f.n = -w.entry_id - $3
        ON CONFLICT (entry_id) DO UPDATE SET words = EXCLUDED.words
     ),
     seen AS (
        UPDATE sightings g SET last_seen_at = $2, content_hash = v.content_hash,
            link = v.link, canonical_url = v.canonical_url, item_hash = v.item_hash
        FROM unnest($37::TEXT[], $38::TEXT[], $39::TEXT[], $40::TEXT[], $41::BIGINT[])
            AS v(entry_key, content_hash, link, canonical_url, item_hash)
        WHERE g.source_id = $1 AND g.entry_key = v.entry_key
     )
     SELECT id FROM fresh ORDER BY n";
/// The end of a refresh, in one statement: the source's row (what the feed calls itself, the
/// new validators, its health; with `$13`, the schedule decided after the fetch, as
/// [`super::sources::write_schedule`] writes it; the lease ends) and the other nodes told (see
/// [`super::Prepared::notify`]). Returns how many source rows it changed.
const FINISH: &str = "WITH finished AS (
        UPDATE sources SET feed_title = $2, site_url = $3, feed_id = $4, language = $5,
            etag = $6, last_modified = $7, last_fetch_at = $8, last_success_at = $8,
            last_status = $9, last_error = NULL, consecutive_failures = 0,
            failure_class = NULL, gone_streak = 0, body_hash = $10,
            last_unconditional_at = CASE WHEN $11 THEN $8 ELSE last_unconditional_at END,
            warning = $12, leased_by = NULL, leased_until = NULL,
            next_due_at = CASE WHEN $13 THEN $14 ELSE next_due_at END,
            interval_secs = CASE WHEN $13 THEN $15 ELSE interval_secs END,
            adaptive_secs = CASE WHEN $13 THEN $16 ELSE adaptive_secs END,
            feed_hint_secs = CASE WHEN $13 THEN $17 ELSE feed_hint_secs END,
            skip_hours = CASE WHEN $13 THEN $18 ELSE skip_hours END,
            skip_days = CASE WHEN $13 THEN $19 ELSE skip_days END,
            retry_after_until = CASE WHEN $13 THEN $20 ELSE retry_after_until END,
            fetch_url = CASE WHEN $13 THEN $21 ELSE fetch_url END,
            redirect_target = CASE WHEN $13 THEN $22 ELSE redirect_target END,
            redirect_streak = CASE WHEN $13 THEN $23 ELSE redirect_streak END
         WHERE id = $1
         RETURNING id
     )
     SELECT (SELECT count(*) FROM finished), pg_notify($24, $25)";
/// Candidate stories, but those this source carries; with the text for those found by their
/// title (`$3`).
const NEAR: &str = "SELECT e.id, e.published_at, e.signature, e.title_numbers, e.title,
        CASE WHEN e.id = ANY($3) THEN e.summary_html END,
        CASE WHEN e.id = ANY($3) THEN e.content_html END
     FROM entries e
     WHERE e.id = ANY($1)
       AND NOT EXISTS (SELECT 1 FROM sightings g WHERE g.entry_id = e.id AND g.source_id = $2)";

impl<'a, 't, 'e> Writer<'a, 't, 'e> {
    fn new(
        db: Prepared<'a, 't>,
        store: &'a PostgresStore,
        source: SourceId,
        now: Timestamp,
    ) -> Writer<'a, 't, 'e> {
        Writer {
            db,
            store,
            source,
            now,
            versions: Vec::new(),
            ids: Vec::new(),
            carried: HashSet::new(),
            pending: Pending::default(),
        }
    }

    /// A new row for `entry` (a story, or with `version_of` a version of that story in another
    /// language), with its words in the search index: its id until written.
    fn new_row(&mut self, entry: &'e NewEntry, updated: Timestamp, version_of: Option<i64>) -> i64 {
        let number = self.ids.len() + self.pending.entries.len();
        self.pending.entries.push(NewRow {
            entry,
            updated,
            version_of,
        });
        let row = -(number as i64) - 1;
        self.index_for_search(row, entry);
        row
    }

    /// The stored id of `row`: itself, or for a new row written already, the id it was given.
    fn resolve(&self, row: i64) -> i64 {
        if row >= 0 {
            return row;
        }
        usize::try_from(-(row + 1))
            .ok()
            .and_then(|n| self.ids.get(n).copied())
            // Not written yet: the database refuses the negative id, never a wrong story.
            .unwrap_or(row)
    }

    /// The story's words in the search index, replacing those it had.
    fn index_for_search(&mut self, row: i64, entry: &'e NewEntry) {
        self.pending.search.retain(|(r, _)| *r != row);
        self.pending.search.push((row, entry));
    }

    fn add_topics(&mut self, entry: &'e NewEntry, sort_at: Timestamp, story: i64) {
        for topic in &entry.topics {
            self.pending.topics.push((topic.as_str(), sort_at, story));
        }
    }

    /// Writes every waiting row in one statement ([`FLUSH`]): new rows (given their ids and
    /// added to the near-duplicate index), sightings, topics, search words and sightings seen.
    fn flush(&mut self) -> Result<(), StoreError> {
        const CONTEXT: &str = "writing stories";
        if self.pending.is_empty() {
            return Ok(());
        }
        let pending = std::mem::take(&mut self.pending);
        let before = self.ids.len() as i64;
        let entries = EntryColumns::of(&pending.entries);
        let n = pending.sightings.len();
        let mut keys = Vec::with_capacity(n);
        let mut rows = Vec::with_capacity(n);
        let mut hashes = Vec::with_capacity(n);
        let mut links = Vec::with_capacity(n);
        let mut canonicals = Vec::with_capacity(n);
        let mut joined = Vec::with_capacity(n);
        let mut items = Vec::with_capacity(n);
        for (entry, row, joined_by) in &pending.sightings {
            keys.push(entry.key.as_str());
            rows.push(self.resolve(*row));
            hashes.push(entry.content_hash.as_str());
            links.push(entry.link.as_deref());
            canonicals.push(entry.canonical_url.as_deref());
            joined.push(*joined_by);
            items.push(entry.item_hash);
        }
        let topics: Vec<&str> = pending.topics.iter().map(|t| t.0).collect();
        let sort_at: Vec<Timestamp> = pending.topics.iter().map(|t| t.1).collect();
        let topic_rows: Vec<i64> = pending.topics.iter().map(|t| self.resolve(t.2)).collect();
        let (search_rows, words): (Vec<i64>, Vec<String>) = pending
            .search
            .iter()
            .map(|(row, entry)| {
                (
                    self.resolve(*row),
                    super::search::index_words(&entry.search_text).join(" "),
                )
            })
            .unzip();
        let seen_keys: Vec<&str> = pending.seen.iter().map(|e| e.key.as_str()).collect();
        let seen_hashes: Vec<&str> = pending
            .seen
            .iter()
            .map(|e| e.content_hash.as_str())
            .collect();
        let seen_links: Vec<Option<&str>> =
            pending.seen.iter().map(|e| e.link.as_deref()).collect();
        let seen_canonicals: Vec<Option<&str>> = pending
            .seen
            .iter()
            .map(|e| e.canonical_url.as_deref())
            .collect();
        let seen_items: Vec<Option<i64>> = pending.seen.iter().map(|e| e.item_hash).collect();
        let versions_of: Vec<Option<i64>> = pending
            .entries
            .iter()
            .map(|row| row.version_of.map(|v| self.resolve(v)))
            .collect();
        let written = self.db.query(
            FLUSH,
            &[
                &self.source.0,
                &self.now,
                &before,
                &entries.public_ids,
                &entries.links,
                &entries.titles,
                &entries.summaries,
                &entries.contents,
                &entries.authors,
                &entries.categories,
                &entries.enclosures,
                &entries.languages,
                &entries.published,
                &entries.updated,
                &entries.hashes,
                &entries.canonicals,
                &entries.signatures,
                &entries.numbers,
                &entries.title_keys,
                &entries.origin_urls,
                &entries.origin_links,
                &entries.origin_credits,
                &entries.origin_rules,
                &versions_of,
                &keys,
                &rows,
                &hashes,
                &links,
                &canonicals,
                &joined,
                &items,
                &topics,
                &sort_at,
                &topic_rows,
                &search_rows,
                &words,
                &seen_keys,
                &seen_hashes,
                &seen_links,
                &seen_canonicals,
                &seen_items,
            ],
            CONTEXT,
        )?;
        let ids = written
            .iter()
            .map(|r| r.try_get::<_, i64>(0))
            .collect::<Result<Vec<i64>, postgres::Error>>()
            .context(CONTEXT)?;
        if ids.len() != pending.entries.len() {
            return Err(StoreError::Inconsistent {
                context: CONTEXT,
                detail: format!(
                    "{} new rows written, {} ids returned",
                    pending.entries.len(),
                    ids.len()
                ),
            });
        }
        let mut near = lock_near(self.store);
        for (row, id) in pending.entries.iter().zip(&ids) {
            near.remember(*id, row.entry, self.now);
        }
        drop(near);
        self.ids.extend(ids);
        Ok(())
    }
}

/// The columns of new rows, one array each, as [`FLUSH`] takes them.
struct EntryColumns<'e> {
    public_ids: Vec<&'e str>,
    links: Vec<Option<&'e str>>,
    titles: Vec<&'e str>,
    summaries: Vec<Option<&'e str>>,
    contents: Vec<Option<&'e str>>,
    authors: Vec<String>,
    categories: Vec<String>,
    enclosures: Vec<String>,
    languages: Vec<Option<&'e str>>,
    published: Vec<Timestamp>,
    updated: Vec<Timestamp>,
    hashes: Vec<&'e str>,
    canonicals: Vec<Option<&'e str>>,
    signatures: Vec<Option<Vec<u8>>>,
    numbers: Vec<&'e str>,
    title_keys: Vec<Option<i64>>,
    origin_urls: Vec<Option<&'e str>>,
    origin_links: Vec<Option<&'e str>>,
    origin_credits: Vec<Option<&'e str>>,
    origin_rules: Vec<Option<&'e str>>,
}

impl<'e> EntryColumns<'e> {
    fn of(rows: &[NewRow<'e>]) -> EntryColumns<'e> {
        let n = rows.len();
        let mut c = EntryColumns {
            public_ids: Vec::with_capacity(n),
            links: Vec::with_capacity(n),
            titles: Vec::with_capacity(n),
            summaries: Vec::with_capacity(n),
            contents: Vec::with_capacity(n),
            authors: Vec::with_capacity(n),
            categories: Vec::with_capacity(n),
            enclosures: Vec::with_capacity(n),
            languages: Vec::with_capacity(n),
            published: Vec::with_capacity(n),
            updated: Vec::with_capacity(n),
            hashes: Vec::with_capacity(n),
            canonicals: Vec::with_capacity(n),
            signatures: Vec::with_capacity(n),
            numbers: Vec::with_capacity(n),
            title_keys: Vec::with_capacity(n),
            origin_urls: Vec::with_capacity(n),
            origin_links: Vec::with_capacity(n),
            origin_credits: Vec::with_capacity(n),
            origin_rules: Vec::with_capacity(n),
        };
        for row in rows {
            let entry = row.entry;
            let origin = origin_columns(entry);
            c.public_ids.push(entry.public_id.as_str());
            c.links.push(entry.link.as_deref());
            c.titles.push(entry.title.as_str());
            c.summaries.push(entry.summary_html.as_deref());
            c.contents.push(entry.content_html.as_deref());
            c.authors.push(to_json(&entry.authors));
            c.categories.push(to_json(&entry.categories));
            c.enclosures.push(to_json(&entry.enclosures));
            c.languages.push(entry.language.as_deref());
            c.published.push(entry.published);
            c.updated.push(row.updated);
            c.hashes.push(entry.content_hash.as_str());
            c.canonicals.push(entry.canonical_url.as_deref());
            c.signatures.push(
                entry
                    .signature
                    .as_ref()
                    .map(crate::dedup::fingerprint::to_bytes),
            );
            c.numbers.push(entry.title_numbers.as_str());
            // BIGINT is signed: the same 64 bits.
            c.title_keys
                .push(entry.likeness.title_key.map(|k| k as i64));
            c.origin_urls.push(origin.url);
            c.origin_links.push(origin.link);
            c.origin_credits.push(origin.credit);
            c.origin_rules.push(origin.rule);
        }
        c
    }
}

/// The near-duplicate index, for as long as the guard lives: never across a database write.
fn lock_near(store: &PostgresStore) -> std::sync::MutexGuard<'_, NearState> {
    store
        .near
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Carries out the same-story decision for one entry of a document.
fn carry_out<'e>(
    w: &mut Writer<'_, '_, 'e>,
    entry: &'e NewEntry,
    decision: &Decision,
) -> Result<Upsert, StoreError> {
    let (source, now) = (w.source, w.now);
    if let Some(old_key) = &decision.rekey {
        tracing::debug!(
            source = source.0,
            from = %old_key,
            to = %entry.key,
            rule = decision.reason.as_str(),
            "same story under a new key"
        );
        // The old key is not one of this document's (see `document_lookups`): no waiting row
        // has it.
        w.db.execute(
            REKEY,
            &[&source.0, &old_key.as_str(), &entry.key.as_str()],
            "re-keying sighting",
        )?;
    }
    match decision.action {
        Action::Unchanged { .. } => {
            w.pending.seen.push(entry);
            Ok(Upsert::Unchanged)
        }
        Action::CopyChanged { story, sort_at } => {
            w.pending.seen.push(entry);
            // Whether the story joined a topic is the database's answer: what waits is
            // written first.
            w.flush()?;
            Ok(if join_topics(w, entry, story, sort_at)? {
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
            w.pending.seen.push(entry);
            // Changed text may qualify for more topics; it leaves none (another sighting may be
            // what put it there) until the next recomputation of membership.
            let (listed, sort_at) = listed_story(w, story)?.unwrap_or((story, sort_at));
            w.add_topics(entry, sort_at, listed);
            let origin = origin_columns(entry);
            w.db.execute(
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
            w.index_for_search(story, entry);
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
            add_sighting(w, entry, story, Some(rule), listed);
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
            let version = w.new_row(entry, entry.published, Some(story));
            w.versions.push((story, version, entry.language.clone()));
            let rule = decision.reason.as_str();
            add_sighting(w, entry, version, Some(rule), (story, sort_at));
            Ok(Upsert::Merged)
        }
        Action::New { updated } => {
            let story = w.new_row(entry, updated, None);
            add_sighting(w, entry, story, None, (story, entry.published));
            if !decision.adopt.is_empty() {
                // Taking stored stories in moves their rows: the story is written first.
                w.flush()?;
                let story = w.resolve(story);
                for adopted in &decision.adopt {
                    adopt(w, story, entry.published, *adopted)?;
                }
            }
            Ok(Upsert::New)
        }
    }
}

/// Puts the story `story` (or the story it is a version of) in the entry's topics, now; true
/// when it joined one it was not in.
fn join_topics(
    w: &mut Writer<'_, '_, '_>,
    entry: &NewEntry,
    story: i64,
    sort_at: Timestamp,
) -> Result<bool, StoreError> {
    // A translation's topics are its story's.
    let (story, sort_at) = listed_story(w, story)?.unwrap_or((story, sort_at));
    let story = w.resolve(story);
    let mut joined = false;
    for topic in &entry.topics {
        joined |= w.db.execute(
            TOPIC,
            &[&topic.as_str(), &sort_at, &story],
            "inserting entry topics",
        )? > 0;
    }
    Ok(joined)
}

/// Hands the row `old`'s sightings to the row `into` (as joined by `rule`) and deletes it, its
/// words leaving the search index with it.
fn fold_into(
    w: &mut Writer<'_, '_, '_>,
    old: i64,
    into: i64,
    rule: &str,
) -> Result<(), StoreError> {
    w.db.execute(
        "UPDATE sightings SET entry_id = $2, joined_by = COALESCE(joined_by, $3)
         WHERE entry_id = $1",
        &[&old, &into, &rule],
        "adopting a republication",
    )?;
    w.db.execute(
        "DELETE FROM entries WHERE id = $1",
        &[&old],
        "adopting a republication",
    )?;
    Ok(())
}

/// The story a version row belongs to and where that story sorts; `None` for a story itself.
/// A row of this document not written yet is written first.
fn listed_story(
    w: &mut Writer<'_, '_, '_>,
    row: i64,
) -> Result<Option<(i64, Timestamp)>, StoreError> {
    const CONTEXT: &str = "finding a translation's story";
    if row < 0 {
        w.flush()?;
    }
    let row = w.resolve(row);
    let found = w.db.query_opt(
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

/// A stored republication taken in by `story`, its newly arrived original (see
/// [`crate::dedup::Adopted`]). A translation points at the story; one in the story's language
/// hands its sightings and translations to it and goes. Either way the story takes its topics.
/// Nothing of the document waits to be written (see [`carry_out`]).
fn adopt(
    w: &mut Writer<'_, '_, '_>,
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
    w.db.execute(
        "INSERT INTO entry_topics (topic, sort_at, entry_id)
         SELECT topic, $2, $3 FROM entry_topics WHERE entry_id = $1
         ON CONFLICT DO NOTHING",
        &[&old, &sort_at, &story],
        CONTEXT,
    )?;
    w.db.execute(
        "DELETE FROM entry_topics WHERE entry_id = $1",
        &[&old],
        CONTEXT,
    )?;
    w.db.execute(
        "UPDATE entries SET version_of = $2 WHERE version_of = $1",
        &[&old, &story],
        CONTEXT,
    )?;
    match (adopted.into, adopted.translation) {
        // A second translation into a language: a copy of the first.
        (Some(version), _) => {
            let version = w.resolve(version);
            fold_into(w, old, version, "translation")?;
        }
        (None, true) => {
            w.db.execute(
                "UPDATE entries SET version_of = $2 WHERE id = $1",
                &[&old, &story],
                CONTEXT,
            )?;
            w.db.execute(
                "UPDATE sightings SET joined_by = COALESCE(joined_by, 'translation') WHERE entry_id = $1",
                &[&old],
                CONTEXT,
            )?;
        }
        (None, false) => fold_into(w, old, story, "origin")?,
    }
    Ok(())
}

/// This source's sighting of the row `row` (a story, or a story's version in another
/// language), and the story it belongs to (`listed`: the story and where it sorts) in the topics
/// the sighting puts it in.
fn add_sighting<'e>(
    w: &mut Writer<'_, '_, 'e>,
    entry: &'e NewEntry,
    row: i64,
    joined_by: Option<&'static str>,
    listed: (i64, Timestamp),
) {
    w.carried.insert(row);
    w.pending.sightings.push((entry, row, joined_by));
    let (listed, sort_at) = listed;
    w.add_topics(entry, sort_at, listed);
}

/// The stories the index finds near `entry` (by band keys, and by title) that another source
/// carries, read for comparison in one statement; those found by title with their text.
fn neighbours(
    w: &mut Writer<'_, '_, '_>,
    entry: &NewEntry,
) -> Result<Vec<crate::dedup::Candidate>, StoreError> {
    use crate::dedup::fingerprint::from_bytes;
    const CONTEXT: &str = "matching near duplicates";
    let (by_title, by_bands) = {
        let near = lock_near(w.store);
        (
            near.index.same_title(entry, w.now),
            near.index.neighbours(entry, w.now),
        )
    };
    // This source's sightings waiting to be written are not in the database yet.
    let wanted: Vec<i64> = by_title
        .iter()
        .chain(&by_bands)
        .copied()
        .filter(|id| !w.carried.contains(id))
        .collect::<BTreeSet<i64>>()
        .into_iter()
        .collect();
    if wanted.is_empty() {
        return Ok(Vec::new());
    }
    let rows =
        w.db.query(NEAR, &[&wanted, &w.source.0, &by_title], CONTEXT)?;
    let mut found = HashMap::with_capacity(rows.len());
    for r in rows {
        let id: i64 = r.try_get(0).context(CONTEXT)?;
        found.insert(id, r);
    }
    let mut candidates = Vec::new();
    let in_order = by_title.iter().map(|id| (*id, true)).chain(
        by_bands
            .iter()
            .filter(|id| !by_title.contains(id))
            .map(|id| (*id, false)),
    );
    for (id, with_text) in in_order {
        let Some(r) = found.get(&id) else {
            continue;
        };
        let read = || -> Result<_, postgres::Error> {
            Ok((
                r.try_get::<_, Timestamp>(1)?,
                r.try_get::<_, Option<Vec<u8>>>(2)?,
                r.try_get::<_, String>(3)?,
                r.try_get::<_, String>(4)?,
                r.try_get::<_, Option<String>>(5)?,
                r.try_get::<_, Option<String>>(6)?,
            ))
        };
        let (published, signature, title_numbers, title, summary, content) =
            read().context(CONTEXT)?;
        let text = with_text.then(|| {
            crate::dedup::text::StoryText::of(&title, summary.as_deref(), content.as_deref())
        });
        candidates.push(crate::dedup::Candidate {
            id,
            published,
            signature: signature.as_deref().and_then(from_bytes),
            title_numbers,
            title,
            text,
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
