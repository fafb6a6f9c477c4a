//! The candidates of the same-story rules, looked up for a whole document at once, as the SQLite
//! engine does (`store/sqlite/lookups.rs`: same rules, same order of rows): this source's
//! sightings by key, moved keys, tombstones, other sources' stories at the same canonical URL,
//! origins and republications — and the near-duplicate index, kept current with what every node
//! stores ([`NearState`]). Reads only: what is done with the candidates is `ingest.rs`'s.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant};

use super::{Context, Prepared};
use crate::dedup::{Known, NearIndex, OriginStory, OtherStory};
use crate::model::{EntryKey, NewEntry, SourceId, Timestamp};
use crate::store::StoreError;
use crate::store::found::DocumentLookups;

/// The canonical URLs of a document's entries, in document order.
pub(super) fn canonical_urls(entries: &[NewEntry]) -> Vec<&str> {
    entries
        .iter()
        .filter_map(|e| e.canonical_url.as_deref())
        .collect()
}

/// The canonical URLs a document's entries credit as their originals, in document order.
pub(super) fn origin_urls(entries: &[NewEntry]) -> Vec<&str> {
    entries
        .iter()
        .filter_map(|e| e.origin.as_ref()?.canonical_url.as_deref())
        .collect()
}

/// Every lookup of a document but the originals it credits, in one statement (the kind of
/// each row first), each read as the SQLite engine reads it:
/// 0. what the store holds of the document's keys `$2` (its stored sightings, with their
///    stories);
/// 1. this source's other sightings at the document's addresses `$3` (guid churn), in key order
///    within an address, bytewise as SQLite compares text;
/// 2. other sources' stories at those addresses (a source's own entries sharing a link, a live
///    page's updates, stay apart), oldest first;
/// 3. stories stored before their original arrived that credit one of those addresses, only
///    primary versions (a translation already belongs to a story), oldest first;
/// 4. the document's keys that were pruned (tombstones).
pub(super) const LOOKUPS: &str = "SELECT * FROM (
        SELECT 0 AS kind, NULL::TEXT AS url, g.entry_key AS key, e.id,
            COALESCE(g.content_hash, e.content_hash) AS hash, e.updated_at,
            e.source_id = $1 AS primary_sighting, e.published_at, NULL::TEXT AS language,
            NULL::BYTEA AS signature
        FROM sightings g JOIN entries e ON e.id = g.entry_id
        WHERE g.source_id = $1 AND g.entry_key = ANY($2)
     UNION ALL
        SELECT 1, g.canonical_url, g.entry_key, e.id, COALESCE(g.content_hash, e.content_hash),
            e.updated_at, e.source_id = $1, e.published_at, NULL, NULL
        FROM sightings g JOIN entries e ON e.id = g.entry_id
        WHERE g.source_id = $1 AND g.canonical_url = ANY($3) AND g.entry_key <> ALL($2)
     UNION ALL
        SELECT 2, e.canonical_url, NULL, e.id, NULL, NULL, NULL, e.published_at, NULL, NULL
        FROM entries e
        WHERE e.canonical_url = ANY($3)
          AND NOT EXISTS (SELECT 1 FROM sightings g WHERE g.entry_id = e.id AND g.source_id = $1)
     UNION ALL
        SELECT 3, e.origin_url, NULL, e.id, NULL, NULL, NULL, e.published_at, e.language,
            e.signature
        FROM entries e
        WHERE e.origin_url = ANY($3) AND e.version_of IS NULL
     UNION ALL
        SELECT 4, NULL, t.entry_key, NULL, NULL, NULL, NULL, NULL, NULL, NULL
        FROM tombstones t
        WHERE t.source_id = $1 AND t.entry_key = ANY($2)
     ) AS found
     ORDER BY kind, url COLLATE \"C\", key COLLATE \"C\", id";

/// What the store holds of this document's entries, by key, and every candidate its entries are
/// decided against (see [`LOOKUPS`]): a handful of round trips for the whole document, not
/// several per entry.
pub(super) fn document_lookups(
    db: &mut Prepared<'_, '_>,
    source: SourceId,
    entries: &[NewEntry],
    keys: &[&str],
) -> Result<(HashMap<String, Known>, DocumentLookups), StoreError> {
    const CONTEXT: &str = "looking up the document's entries";
    let mut known = HashMap::new();
    let mut lookups = DocumentLookups::default();
    let canonicals = canonical_urls(entries);
    let rows = db.query(LOOKUPS, &[&source.0, &keys, &canonicals], CONTEXT)?;
    for r in &rows {
        let known_row = || -> Result<Known, postgres::Error> {
            Ok(Known {
                story: r.try_get(3)?,
                hash: r.try_get(4)?,
                updated_at: r.try_get(5)?,
                primary: r.try_get(6)?,
                published_at: r.try_get(7)?,
            })
        };
        match r.try_get::<_, i32>(0).context(CONTEXT)? {
            0 => {
                let key: String = r.try_get(2).context(CONTEXT)?;
                known.insert(key, known_row().context(CONTEXT)?);
            }
            1 => {
                let canonical: String = r.try_get(1).context(CONTEXT)?;
                let key: String = r.try_get(2).context(CONTEXT)?;
                let found = known_row().context(CONTEXT)?;
                lookups
                    .moved
                    .entry(canonical)
                    .or_insert((EntryKey::from_stored(key), found));
            }
            2 => {
                let canonical: String = r.try_get(1).context(CONTEXT)?;
                let found = OtherStory {
                    story: r.try_get(3).context(CONTEXT)?,
                    published_at: r.try_get(7).context(CONTEXT)?,
                };
                lookups.same_url.entry(canonical).or_insert(found);
            }
            3 => {
                let canonical: String = r.try_get(1).context(CONTEXT)?;
                let found = origin_story(r, 3, 7, 8, 9).context(CONTEXT)?;
                lookups
                    .republications
                    .entry(canonical)
                    .or_default()
                    .push(found);
            }
            _ => {
                lookups.tombstoned.insert(r.try_get(2).context(CONTEXT)?);
            }
        }
    }
    let origin_urls = origin_urls(entries);
    if !origin_urls.is_empty() {
        let rows = db.query(
            "SELECT e.canonical_url, p.id, p.published_at, p.language, p.signature
                 FROM entries e JOIN entries p ON p.id = COALESCE(e.version_of, e.id)
                 WHERE e.canonical_url = ANY($1)
                 ORDER BY e.id",
            &[&origin_urls],
            "matching origins",
        )?;
        for r in &rows {
            let read = || -> Result<_, postgres::Error> {
                Ok((r.try_get::<_, String>(0)?, origin_story(r, 1, 2, 3, 4)?))
            };
            let (canonical, found) = read().context("matching origins")?;
            lookups.origins.entry(canonical).or_insert(found);
        }
        // The languages each credited story has a version in already.
        for origin in lookups.origins.values_mut() {
            let rows = db.query(
                "SELECT id, language FROM entries WHERE version_of = $1 ORDER BY id",
                &[&origin.story],
                "matching origins",
            )?;
            origin.versions = rows
                .iter()
                .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
                .collect::<Result<Vec<_>, postgres::Error>>()
                .context("matching origins")?;
        }
    }
    Ok((known, lookups))
}

/// An [`OriginStory`] from the columns `story`, `published`, `language` and `signature`.
fn origin_story(
    r: &postgres::Row,
    story: usize,
    published: usize,
    language: usize,
    signature: usize,
) -> Result<OriginStory, postgres::Error> {
    Ok(OriginStory {
        story: r.try_get(story)?,
        published_at: r.try_get(published)?,
        language: r.try_get(language)?,
        signature: r
            .try_get::<_, Option<Vec<u8>>>(signature)?
            .as_deref()
            .and_then(crate::dedup::fingerprint::from_bytes),
        versions: Vec::new(),
    })
}

/// How long a story id the database has not shown yet is asked for again: a transaction of
/// another node (or of this one) that took the id may commit that much later. Ids of rolled back
/// or deleted rows are never shown and are given up after this.
const GAP_PATIENCE: Duration = Duration::from_secs(15 * 60);

/// Gaps remembered at most, the lowest given up first: a large deletion must not make every
/// document ask for thousands of ids.
const MAX_GAPS: usize = 10_000;

/// New stories read by one query at most: a look reads page after page.
#[cfg(not(test))]
const NEW_PER_LOOK: i64 = 10_000;
/// Small in tests, so that every test reads several pages.
#[cfg(test)]
const NEW_PER_LOOK: i64 = 2;

/// How far below the highest story id loading the index looks for ids not committed yet.
const LOAD_GAP_SPAN: i64 = 10_000;

/// The near-duplicate index over recent stories, kept current with the stories every node
/// stores (issue 14, point 4: matching sees what other nodes stored).
///
/// Identity ids are handed out in order but committed in any order, so "the stories after the
/// last one read" would miss a transaction that took its ids early and committed late. Instead
/// the ids below the highest one read that were not there yet (gaps) are asked for again on each
/// look until they appear or [`GAP_PATIENCE`] passes: each look is two index probes on the
/// primary key, however many stories the window holds.
///
/// One look at a time per node, made without holding the index, which the node's other
/// documents go on using: a document that wants the index current waits for the next look to
/// start after it asked, and that one look serves every document waiting with it.
#[derive(Default)]
pub(super) struct NearState {
    pub(super) index: NearIndex,
    /// The highest story id read from the database.
    read_up_to: i64,
    /// Ids below `read_up_to` not read yet, and since when they are missing.
    gaps: BTreeMap<i64, Instant>,
    /// Stories this node stored and indexed as it stored them, not yet read back: skipped when
    /// they are, so that no story is indexed twice.
    own: HashMap<i64, Instant>,
    /// Looks started and finished, counted; and whether one is under way.
    looks_started: u64,
    looks_done: u64,
    looking: bool,
}

/// The index's columns of a story, and its title for stories stored without a title key.
const INDEX_COLUMNS: &str =
    "e.id, e.first_seen_at, e.signature, e.title_numbers, e.title_key, e.title";

/// What one look at the database asks for.
enum Look {
    /// The whole window, stories first seen since then.
    Load { since: Timestamp },
    /// What was committed since the last look: the stories above the highest id read, and the
    /// gaps below it.
    New { above: i64, gaps: Vec<i64> },
}

/// Brings the index of `store` up to date with what is committed (see [`NearState`]): the whole
/// window the first time (as the SQLite engine loads it before its first document), else the
/// stories committed since the last look. Returns the index's settings.
pub(super) fn catch_up(
    store: &super::PostgresStore,
    db: &mut Prepared<'_, '_>,
    now: Timestamp,
) -> Result<crate::dedup::NearDuplicates, StoreError> {
    let lock = || {
        store
            .near
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    };
    let mut near = lock();
    let wanted = near.looks_started + 1;
    loop {
        if near.looks_done >= wanted {
            return Ok(near.index.settings());
        }
        if !near.looking {
            break;
        }
        near = store
            .near_looked
            .wait(near)
            .unwrap_or_else(std::sync::PoisonError::into_inner);
    }
    near.looking = true;
    near.looks_started += 1;
    let this_look = near.looks_started;
    // A look reads page after page until it has every story committed since the last one.
    let applied = loop {
        let look = near.plan(now);
        drop(near);
        let read = NearState::read(db, &look);
        near = lock();
        match read.and_then(|rows| near.apply(&look, &rows, now)) {
            Ok(true) => continue,
            done => break done.map(|_| ()),
        }
    };
    near.looking = false;
    if applied.is_ok() {
        near.looks_done = this_look;
    }
    let settings = near.index.settings();
    drop(near);
    // A failed look leaves the next one to a waiting document.
    store.near_looked.notify_all();
    applied.map(|()| settings)
}

impl NearState {
    /// Indexes a story this node just stored as `id`, first seen `now`.
    pub(super) fn remember(&mut self, id: i64, entry: &NewEntry, now: Timestamp) {
        self.index.remember(id, entry, now);
        self.own.insert(id, Instant::now());
    }

    fn plan(&mut self, now: Timestamp) -> Look {
        if let Some(since) = self.index.wants_loading(now) {
            return Look::Load { since };
        }
        let noticed = Instant::now();
        self.gaps
            .retain(|_, since| noticed.duration_since(*since) < GAP_PATIENCE);
        self.own
            .retain(|_, since| noticed.duration_since(*since) < GAP_PATIENCE);
        Look::New {
            above: self.read_up_to,
            gaps: self.gaps.keys().copied().collect(),
        }
    }

    /// The rows a look asks for. Loading is one statement, so one snapshot: the highest id, the
    /// window and the ids present just below the highest agree.
    fn read(db: &mut Prepared<'_, '_>, look: &Look) -> Result<Vec<postgres::Row>, StoreError> {
        match look {
            Look::Load { since } => db.query(
                &format!(
                    "WITH top AS (SELECT COALESCE(MAX(id), 0) AS id FROM entries)
                     SELECT top.id, {INDEX_COLUMNS} FROM top
                     LEFT JOIN entries e ON e.id <= top.id
                        AND (e.first_seen_at >= $1 OR e.id > top.id - $2)
                     ORDER BY e.id"
                ),
                &[since, &LOAD_GAP_SPAN],
                "loading near-duplicate index",
            ),
            Look::New { above, gaps } => db.query(
                &format!(
                    // Two index scans on the key, whatever the plan: with OR the planner
                    // scanned the whole key, and without the limit a plan made for any `$1`
                    // (expecting a third of the table) scanned the whole table. Stories beyond
                    // the limit are read by the next query.
                    "(SELECT {INDEX_COLUMNS} FROM entries e WHERE e.id > $1 ORDER BY e.id LIMIT $3)
                     UNION ALL
                     SELECT {INDEX_COLUMNS} FROM entries e WHERE e.id = ANY($2) AND e.id <= $1
                     ORDER BY 1"
                ),
                &[above, gaps, &NEW_PER_LOOK],
                "reading stories other nodes stored",
            ),
        }
    }

    /// Adds what a look read; true when there may be more to read (a full page of new stories).
    fn apply(
        &mut self,
        look: &Look,
        rows: &[postgres::Row],
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        match look {
            Look::Load { since } => self
                .apply_load(rows, *since)
                .map(|()| false)
                .context("loading near-duplicate index"),
            Look::New { above, .. } => self
                .apply_new(rows, *above, now)
                .context("reading stories other nodes stored"),
        }
    }

    fn apply_load(
        &mut self,
        rows: &[postgres::Row],
        since: Timestamp,
    ) -> Result<(), postgres::Error> {
        let mut top = 0;
        let mut present = HashSet::new();
        for r in rows {
            top = r.try_get::<_, i64>(0)?;
            let Some(id) = r.try_get::<_, Option<i64>>(1)? else {
                continue;
            };
            if id > top - LOAD_GAP_SPAN {
                present.insert(id);
            }
            let seen: Timestamp = r.try_get(2)?;
            if seen >= since && self.own.remove(&id).is_none() {
                self.load_row(r, 1)?;
            }
        }
        let noticed = Instant::now();
        for id in (top - LOAD_GAP_SPAN + 1).max(1)..=top {
            if !present.contains(&id) && self.own.remove(&id).is_none() {
                self.gaps.insert(id, noticed);
            }
        }
        self.read_up_to = top;
        self.trim_gaps();
        self.index.loaded();
        Ok(())
    }

    /// Adds the stories a look found committed since the one before, which had read up to
    /// `before`.
    fn apply_new(
        &mut self,
        rows: &[postgres::Row],
        before: i64,
        now: Timestamp,
    ) -> Result<bool, postgres::Error> {
        let noticed = Instant::now();
        let since = now - self.index.settings().window;
        let mut above = before;
        let mut new = 0;
        for r in rows {
            let id: i64 = r.try_get(0)?;
            if id > before {
                new += 1;
                // Ids skipped on the way up were taken by transactions not committed yet.
                for missing in above + 1..id {
                    if self.own.remove(&missing).is_none() {
                        self.gaps.insert(missing, noticed);
                    }
                }
                above = id;
            } else {
                self.gaps.remove(&id);
            }
            if self.own.remove(&id).is_some() {
                continue;
            }
            let seen: Timestamp = r.try_get(1)?;
            if seen >= since {
                self.load_row(r, 0)?;
            }
        }
        self.read_up_to = above;
        self.trim_gaps();
        Ok(new >= NEW_PER_LOOK)
    }

    /// Adds the story whose [`INDEX_COLUMNS`] start at column `at`.
    fn load_row(&mut self, r: &postgres::Row, at: usize) -> Result<(), postgres::Error> {
        use crate::dedup::fingerprint;
        let id: i64 = r.try_get(at)?;
        let seen: Timestamp = r.try_get(at + 1)?;
        let signature = r
            .try_get::<_, Option<Vec<u8>>>(at + 2)?
            .as_deref()
            .and_then(fingerprint::from_bytes);
        let numbers: String = r.try_get(at + 3)?;
        // Stored as a signed BIGINT; the same 64 bits. Stories stored without a key get one
        // from their title, as on SQLite.
        let key = match r.try_get::<_, Option<i64>>(at + 4)? {
            Some(key) => Some(key as u64),
            None => crate::dedup::title_key(&r.try_get::<_, String>(at + 5)?),
        };
        self.index.load_one(id, seen, signature, &numbers, key);
        Ok(())
    }

    fn trim_gaps(&mut self) {
        while self.gaps.len() > MAX_GAPS {
            self.gaps.pop_first();
        }
    }

    /// The ids still awaited, lowest first (for tests).
    #[cfg(test)]
    pub(super) fn gaps(&self) -> Vec<i64> {
        self.gaps.keys().copied().collect()
    }
}
