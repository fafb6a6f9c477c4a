//! SQLite: connection set-up, migrations from `migrations/`, and every SQL statement.
//!
//! One writer connection behind a mutex (SQLite allows one writer at a time anyway) and a small
//! pool of read connections for the server, which WAL lets run beside the writer. All methods are
//! blocking; async callers use `spawn_blocking`. Nothing outside this module sees a `Connection`.
//! A caller may run its reads under a [`ReadCancel`] (see [`Store::cancellable`]) to abandon them
//! once nobody wants the answer.

mod backup;
mod degraded;
mod migrations;
pub mod search;

use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, OptionalExtension, Transaction, params};

pub use crate::dedup::NearDuplicates;
use crate::dedup::{Action, Decision, Found, Known, NearIndex, OtherStory};
use crate::model::{
    EntryKey, FeedMeta, NewEntry, PageCursor, RefreshStats, SourceId, StoryForTopics, Timestamp,
    TopicSlug, Validators,
};
pub use crate::model::{
    ScheduleRecord, SourceLabel, SourceRef, SourceState, StoredEntry, TopicSlice, TopicSummary,
};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open database {path}: {source}")]
    Open {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error("migration {name} failed: {source}")]
    Migration {
        name: &'static str,
        #[source]
        source: rusqlite::Error,
    },
    #[error(
        "database is at schema version {found}, newer than this build knows ({known}); upgrade tributary"
    )]
    TooNew { found: i64, known: i64 },
    #[error("database error while {context}: {source}")]
    Sql {
        context: &'static str,
        #[source]
        source: rusqlite::Error,
    },
    #[error("unknown source id {0}")]
    UnknownSource(i64),
    #[error("read abandoned: whoever asked for it no longer wants the answer")]
    Cancelled,
    #[error(
        "database {path} is at schema version {found} and needs migrating to {known}, which needs write access"
    )]
    NeedsMigration {
        path: PathBuf,
        found: i64,
        known: i64,
    },
    #[error("{0} exists already; a backup never overwrites a file")]
    BackupExists(PathBuf),
    #[error("cannot write the backup {path}: {source}")]
    Backup {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

trait Context<T> {
    fn context(self, context: &'static str) -> Result<T, StoreError>;
}

impl<T> Context<T> for Result<T, rusqlite::Error> {
    fn context(self, context: &'static str) -> Result<T, StoreError> {
        self.map_err(|source| StoreError::Sql { context, source })
    }
}

/// How a source is declared in feeds.toml, as far as the store cares.
#[derive(Debug, Clone)]
pub struct SourceSpec {
    pub url: String,
    pub title: Option<String>,
    pub topics: Vec<TopicSlug>,
}

/// What a prune removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PruneStats {
    pub entries: usize,
    pub sightings: usize,
}

/// A successful response, as far as the source row records it.
#[derive(Debug, Clone, Copy)]
pub struct Fetched<'a> {
    pub validators: &'a Validators,
    pub status: u16,
    /// SHA-256 of the body (a 304 has none).
    pub body_hash: Option<&'a str>,
    /// Whether the request was sent without validators.
    pub unconditional: bool,
    /// What the parsed document deserves a warning for (see `parse::ParsedFeed::warning`);
    /// recorded by [`Store::record_document`], replacing the last one.
    pub warning: Option<&'a str>,
}

impl<'a> Fetched<'a> {
    /// A plain 200 with these validators.
    pub fn plain(validators: &'a Validators) -> Fetched<'a> {
        Fetched {
            validators,
            status: 200,
            body_hash: None,
            unconditional: false,
            warning: None,
        }
    }
}

pub struct Store {
    /// The near-duplicate index over recent stories (see [`crate::dedup::NearIndex`]).
    near: Mutex<NearIndex>,
    path: Option<PathBuf>,
    writer: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
    /// How connections are opened, and why writes are failing when they are (see
    /// [`Store::condition`]).
    access: degraded::Access,
    /// Bumped on every commit that changes what a topic page shows; the server's render cache
    /// compares it to decide whether a cached page is still current without asking SQLite.
    generation: AtomicU64,
    /// Bumped with `generation` and on every fetch recorded or source synced: what the source
    /// health table shows.
    sources_generation: AtomicU64,
    /// Topics that gained or changed entries since [`Store::take_changed_topics`] last asked.
    changed_topics: Mutex<BTreeSet<String>>,
    topic_changes: tokio::sync::Notify,
    /// Entries stored or updated since the last checkpoint started (see
    /// [`Store::checkpoint_wanted`]).
    written_since_checkpoint: AtomicU64,
    checkpoint_wanted: tokio::sync::Notify,
    /// Read operations started (see [`Store::read_count`]).
    #[cfg(test)]
    reads: AtomicU64,
}

/// See [`Store::hold_writer`].
#[cfg(test)]
pub struct HeldWriter {
    release: Option<std::sync::mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

#[cfg(test)]
impl Drop for HeldWriter {
    fn drop(&mut self) {
        self.release.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

thread_local! {
    /// The [`ReadCancel`] that reads on this thread answer to (see [`Store::cancellable`]).
    static READ_CANCEL: RefCell<Option<Arc<ReadCancel>>> = const { RefCell::new(None) };
}

/// A way to abandon reads from another thread (see [`Store::cancellable`]).
#[derive(Default)]
pub struct ReadCancel {
    cancelled: AtomicBool,
    /// The connection running a read for this token, while it runs. Only held under this lock,
    /// and cleared before the connection goes back to the pool, so that an interrupt never
    /// reaches a read made for someone else.
    running: Mutex<Option<rusqlite::InterruptHandle>>,
}

impl ReadCancel {
    /// Abandons the reads made under this token: the one running, if any, and every later one.
    pub fn cancel(&self) {
        self.cancelled.store(true, Ordering::Release);
        if let Some(handle) = self
            .running
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .as_ref()
        {
            handle.interrupt();
        }
    }

    pub fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::Acquire)
    }

    /// Registers `conn` as running a read for this token, unless it was cancelled already.
    fn enter(&self, conn: &Connection) -> Result<Running<'_>, StoreError> {
        let mut running = self
            .running
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // Under the lock: a `cancel` that finds no connection has set the flag before this looks.
        if self.is_cancelled() {
            return Err(StoreError::Cancelled);
        }
        *running = Some(conn.get_interrupt_handle());
        Ok(Running(self))
    }
}

/// Unregisters the connection of a read when it ends.
struct Running<'a>(&'a ReadCancel);

impl Drop for Running<'_> {
    fn drop(&mut self) {
        *self
            .0
            .running
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = None;
    }
}

const MAX_IDLE_READERS: usize = 8;
/// 16,384 pages of 4 KiB: the WAL grows to at most about 64 MiB between checkpoints.
const WAL_AUTOCHECKPOINT_PAGES: i64 = 16_384;
/// How often the daemon moves the WAL into the database when little is written.
pub const CHECKPOINT_INTERVAL: std::time::Duration = std::time::Duration::from_secs(10);
/// Entries stored or updated after which a checkpoint is due before the interval is up. A busy
/// ingest (a first cycle over thousands of sources) writes a few WAL pages per entry: without
/// this, the WAL would reach [`WAL_AUTOCHECKPOINT_PAGES`] within a second and SQLite would
/// checkpoint on the writer, inside a refresh, every time it does.
pub const CHECKPOINT_AFTER_ENTRIES: u64 = 2_000;

impl Store {
    /// Opens (creating if needed) the database file and brings its schema up to date.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let mut conn = open_writer(path)?;
        migrations::apply(&mut conn)?;
        Ok(Self::from_connection(Some(path.to_path_buf()), conn))
    }
}

/// The writer's connection to a database file, in WAL mode, before migrations.
fn open_writer(path: &Path) -> Result<Connection, StoreError> {
    let conn = open_connection(path)?;
    let opened = |source| StoreError::Open {
        path: path.to_path_buf(),
        source,
    };
    // Entries are a few KiB of HTML each: larger pages keep most rows off overflow pages.
    // Only takes effect on a new database (before the first table exists).
    conn.pragma_update(None, "page_size", 4096)
        .map_err(opened)?;
    conn.pragma_update(None, "journal_mode", "WAL")
        .map_err(opened)?;
    // Checkpoints (copying the WAL into the database, with two fsyncs) run on a background
    // task through `checkpoint()`, so that refreshes wait at most for its short second
    // pass; this is only the backstop that bounds the WAL if that task falls behind.
    conn.pragma_update(None, "wal_autocheckpoint", WAL_AUTOCHECKPOINT_PAGES)
        .map_err(opened)?;
    Ok(conn)
}

impl Store {
    /// A private in-memory database (tests, benchmarks): reads share the writer connection.
    pub fn open_in_memory() -> Result<Store, StoreError> {
        let conn = Connection::open_in_memory().map_err(|source| StoreError::Open {
            path: PathBuf::from(":memory:"),
            source,
        })?;
        configure(&conn).map_err(|source| StoreError::Open {
            path: PathBuf::from(":memory:"),
            source,
        })?;
        Self::from_writer(None, conn)
    }

    fn from_writer(path: Option<PathBuf>, mut conn: Connection) -> Result<Store, StoreError> {
        migrations::apply(&mut conn)?;
        Ok(Self::from_connection(path, conn))
    }

    fn from_connection(path: Option<PathBuf>, conn: Connection) -> Store {
        Store {
            near: Mutex::new(NearIndex::default()),
            path,
            writer: Mutex::new(conn),
            readers: Mutex::new(Vec::new()),
            access: degraded::Access::default(),
            generation: AtomicU64::new(1),
            sources_generation: AtomicU64::new(1),
            changed_topics: Mutex::new(BTreeSet::new()),
            topic_changes: tokio::sync::Notify::new(),
            written_since_checkpoint: AtomicU64::new(0),
            checkpoint_wanted: tokio::sync::Notify::new(),
            #[cfg(test)]
            reads: AtomicU64::new(0),
        }
    }

    pub fn set_near_duplicates(&self, settings: NearDuplicates) {
        self.near
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .configure(settings);
    }

    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Changes whenever what [`Store::source_states`], [`Store::source_labels`] or
    /// [`Store::daily_new_entries`] would answer may have changed: every recorded fetch moves it,
    /// so a page built from them is current while this stays put.
    pub fn sources_generation(&self) -> u64 {
        self.sources_generation.load(Ordering::Acquire)
    }

    /// The topics that gained or changed entries in refreshes committed since the last call.
    pub fn take_changed_topics(&self) -> BTreeSet<String> {
        std::mem::take(
            &mut *self
                .changed_topics
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }

    /// Resolves once a refresh has committed a change to some topic since the last call
    /// returned (immediately when one did meanwhile); then ask [`Store::take_changed_topics`].
    pub async fn topics_changed(&self) {
        self.topic_changes.notified().await;
    }

    /// Whether [`CHECKPOINT_AFTER_ENTRIES`] entries were written since the last checkpoint.
    pub fn checkpoint_due(&self) -> bool {
        self.written_since_checkpoint.load(Ordering::Acquire) >= CHECKPOINT_AFTER_ENTRIES
    }

    /// Resolves once a checkpoint is due (see [`Store::checkpoint_due`]); immediately when one
    /// became due since the last call returned.
    pub async fn checkpoint_wanted(&self) {
        self.checkpoint_wanted.notified().await;
    }

    /// Marks everything rendered from the store as stale (the configuration changed).
    pub fn invalidate(&self) {
        self.bump();
    }

    /// How many reads have asked SQLite so far: lets tests show that a path answered from memory.
    #[cfg(test)]
    pub fn read_count(&self) -> u64 {
        self.reads.load(Ordering::Relaxed)
    }

    /// Holds the writer connection (which an in-memory store reads through as well) on a thread
    /// of its own until the returned value is dropped: lets tests keep a read waiting.
    #[cfg(test)]
    pub fn hold_writer(self: &Arc<Self>) -> HeldWriter {
        let (release, released) = std::sync::mpsc::channel::<()>();
        let (held, holding) = std::sync::mpsc::channel::<()>();
        let store = self.clone();
        let thread = std::thread::spawn(move || {
            let _conn = store
                .writer
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let _ = held.send(());
            // Returns when the sender is dropped.
            let _ = released.recv();
        });
        let _ = holding.recv();
        HeldWriter {
            release: Some(release),
            thread: Some(thread),
        }
    }

    fn bump(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.bump_sources();
    }

    fn bump_sources(&self) {
        self.sources_generation.fetch_add(1, Ordering::AcqRel);
    }

    /// Runs `f` on this thread with every read of a store it makes tied to `cancel`: once
    /// [`ReadCancel::cancel`] is called, a read not yet started fails with
    /// [`StoreError::Cancelled`] without asking SQLite, and one running is interrupted
    /// (`sqlite3_interrupt`). The server uses it so that a client that went away stops costing
    /// database time (an aggregate over every entry can take seconds).
    pub fn cancellable<T>(cancel: Arc<ReadCancel>, f: impl FnOnce() -> T) -> T {
        struct Restore(Option<Arc<ReadCancel>>);
        impl Drop for Restore {
            fn drop(&mut self) {
                READ_CANCEL.set(self.0.take());
            }
        }
        let _restore = Restore(READ_CANCEL.replace(Some(cancel)));
        f()
    }

    fn with_writer<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        // A panic while the lock was held unwound through the open transaction, which rolled it
        // back: the connection is consistent, so a poisoned lock is taken over, not fatal.
        let mut conn = self
            .writer
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let result = f(&mut conn);
        self.access.note_write(&result);
        result
    }

    fn with_reader<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let cancel = READ_CANCEL.with_borrow(Clone::clone);
        let read = |conn: &Connection| {
            // Checked once the connection is ours: a read that waited for it may have been
            // abandoned meanwhile.
            let _running = match &cancel {
                Some(cancel) => Some(cancel.enter(conn)?),
                None => None,
            };
            #[cfg(test)]
            self.reads.fetch_add(1, Ordering::Relaxed);
            let result = f(conn);
            match &cancel {
                Some(cancel) if result.is_err() && cancel.is_cancelled() => {
                    Err(StoreError::Cancelled)
                }
                _ => result,
            }
        };
        let Some(path) = &self.path else {
            return self.with_writer(|c| read(c));
        };
        let pooled = self
            .readers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .pop();
        let conn = match pooled {
            Some(c) => c,
            None => self.access.open_reader(path)?,
        };
        let result = read(&conn);
        let mut pool = self
            .readers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if pool.len() < MAX_IDLE_READERS {
            pool.push(conn);
        }
        result
    }

    /// Whether the database answers a trivial query.
    pub fn ping(&self) -> Result<(), StoreError> {
        self.with_reader(|conn| {
            conn.query_row("SELECT 1", [], |r| r.get::<_, i64>(0))
                .context("checking the database")
                .map(|_| ())
        })
    }

    /// Copies committed WAL frames into the database (`PRAGMA wal_checkpoint(PASSIVE)`). Returns
    /// the frames in the WAL and how many of them are now in the database.
    ///
    /// The bulk of the copying runs beside refreshes. During a sustained ingest, though, the
    /// writer commits more frames while that pass runs, so the WAL is never wholly copied and
    /// SQLite never starts it over: it grows until the autocheckpoint backstop, and every frame
    /// lands on a new page of the file, which the kernel must allocate and zero. So the frames
    /// committed meanwhile are copied in a second, short pass with writes held off; the next
    /// write then starts the WAL from its beginning, over pages the kernel already has.
    pub fn checkpoint(&self) -> Result<(i64, i64), StoreError> {
        self.written_since_checkpoint.store(0, Ordering::Release);
        if self.path.is_none() || self.access.is_read_only() {
            return Ok((0, 0));
        }
        self.with_reader(passive_checkpoint)?;
        // Even when that pass copied all it saw, a refresh may have been under way and have
        // committed since. With writes held off, nothing new arrives while this one copies; when
        // nothing is left to copy, it does nothing (not even an fsync).
        self.with_writer(|conn| passive_checkpoint(conn))
    }

    /// Makes the sources table match feeds.toml: inserts new sources, updates titles and listed
    /// topics, and marks removed ones inactive (their entries stay). Membership of stored entries
    /// follows the topic rules: see [`Store::rebuild_membership`]. Returns the id of each spec, in
    /// order.
    pub fn sync_sources(&self, specs: &[SourceSpec]) -> Result<Vec<SourceId>, StoreError> {
        let ids = self.with_writer(|conn| {
            let tx = conn.transaction().context("starting source sync")?;
            tx.execute("UPDATE sources SET active = 0", []).context("syncing sources")?;
            let mut ids = Vec::with_capacity(specs.len());
            for spec in specs {
                tx.execute(
                    "INSERT INTO sources (url, config_title, active) VALUES (?1, ?2, 1)
                     ON CONFLICT(url) DO UPDATE SET config_title = excluded.config_title, active = 1",
                    params![spec.url, spec.title],
                )
                .context("syncing sources")?;
                let id: i64 = tx
                    .query_row("SELECT id FROM sources WHERE url = ?1", [&spec.url], |r| r.get(0))
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
        self.bump();
        Ok(ids)
    }

    pub fn source_state(&self, id: SourceId) -> Result<SourceState, StoreError> {
        self.with_reader(|conn| {
            conn.query_row(
                &format!("{SOURCE_STATE_SELECT} WHERE s.id = ?1"),
                [id.0],
                source_state_row,
            )
            .optional()
            .context("reading source state")?
            .ok_or(StoreError::UnknownSource(id.0))
        })
    }

    /// The sources fetched from an adopted permanent-redirect target instead of their own URL.
    pub fn adopted_fetch_urls(&self) -> Result<HashMap<SourceId, String>, StoreError> {
        self.with_reader(|conn| {
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
    pub fn source_states(&self) -> Result<Vec<SourceState>, StoreError> {
        self.with_reader(|conn| {
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

    /// Stores one successfully parsed document: feed metadata, every entry (new ones inserted,
    /// changed ones updated in place, unchanged ones only marked seen), topic membership and the
    /// new validators — all in one transaction, so a crash never leaves validators that would
    /// answer 304 for entries that were not stored.
    pub fn record_document(
        &self,
        source: SourceId,
        meta: &FeedMeta,
        entries: &[NewEntry],
        fetched: &Fetched<'_>,
        now: Timestamp,
    ) -> Result<RefreshStats, StoreError> {
        let mut changed_topics = BTreeSet::new();
        // A story joined a topic without being new or updated: topic pages changed all the same.
        let mut regrouped = false;
        let stats = self.with_writer(|conn| {
            let tx = conn.transaction().context("starting refresh")?;
            let mut stats = RefreshStats::default();
            {
                let keys_json = to_json(&entries.iter().map(|e| e.key.as_str()).collect::<Vec<_>>());
                let mut known = known_entries(&tx, source, &keys_json)?;
                let mut lookups = document_lookups(&tx, source, entries, &keys_json)?;
                let mut index = self.near.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                if let Some(since) = index.wants_loading(now) {
                    load_index(&tx, &mut index, since)?;
                }
                let near = index.settings();
                let mut stmts = EntryStatements::prepare(&tx)?;
                let mut churned = 0;
                for entry in entries {
                    let mut found = lookups.found(entry, known.remove(entry.key.as_str()));
                    if crate::dedup::wants_neighbours(&found) {
                        found.neighbours = neighbours(&mut stmts, &index, entry, source, now)?;
                    }
                    let decision = crate::dedup::decide(entry, &found, near, now);
                    churned += usize::from(decision.churned);
                    let upsert = carry_out(&mut stmts, source, now, &mut index, entry, &decision)?;
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
                stats.churned = churned;
                if crate::dedup::switch_to_link(churned, entries.len()) {
                    let switched = tx
                        .execute(
                            "UPDATE sources SET identity_mode = ?2 WHERE id = ?1 AND identity_mode IS NULL",
                            params![source.0, crate::model::Identity::Link.as_str()],
                        )
                        .context("switching identity")?;
                    stats.switched_to_link = switched > 0;
                }
            }
            let changed = tx
                .execute(
                    "UPDATE sources SET feed_title = ?2, site_url = ?3, feed_id = ?4, language = ?5,
                        etag = ?6, last_modified = ?7, last_fetch_at = ?8, last_success_at = ?8,
                        last_status = ?9, last_error = NULL, consecutive_failures = 0,
                        failure_class = NULL, gone_streak = 0, body_hash = ?10,
                        last_unconditional_at = CASE WHEN ?11 THEN ?8 ELSE last_unconditional_at END,
                        warning = ?12
                     WHERE id = ?1",
                    params![
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
                    ],
                )
                .context("recording refresh")?;
            if changed == 0 {
                return Err(StoreError::UnknownSource(source.0));
            }
            tx.commit().context("committing refresh")?;
            Ok(stats)
        })?;
        if stats.new > 0 || stats.updated > 0 || regrouped {
            self.bump();
        } else {
            self.bump_sources();
        }
        let written = (stats.new + stats.updated) as u64;
        if written > 0 {
            let before = self
                .written_since_checkpoint
                .fetch_add(written, Ordering::AcqRel);
            if before < CHECKPOINT_AFTER_ENTRIES && before + written >= CHECKPOINT_AFTER_ENTRIES {
                self.checkpoint_wanted.notify_one();
            }
        }
        if !changed_topics.is_empty() {
            self.changed_topics
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .extend(changed_topics);
            self.topic_changes.notify_one();
        }
        Ok(stats)
    }

    /// A 304 (or an unchanged body): the source is healthy and nothing else changes.
    pub fn record_not_modified(
        &self,
        source: SourceId,
        fetched: &Fetched<'_>,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        self.with_writer(|conn| {
            conn.execute(
                "UPDATE sources SET etag = ?2, last_modified = ?3, last_fetch_at = ?4, last_success_at = ?4,
                    last_status = ?5, last_error = NULL, consecutive_failures = 0,
                    failure_class = NULL, gone_streak = 0, body_hash = COALESCE(?6, body_hash),
                    last_unconditional_at = CASE WHEN ?7 THEN ?4 ELSE last_unconditional_at END
                 WHERE id = ?1",
                params![
                    source.0,
                    fetched.validators.etag,
                    fetched.validators.last_modified,
                    now,
                    fetched.status,
                    fetched.body_hash,
                    fetched.unconditional
                ],
            )
            .context("recording not-modified")?;
            Ok(())
        })?;
        self.bump_sources();
        Ok(())
    }

    /// A failed refresh: recorded on the source row; stored entries are untouched.
    pub fn record_failure(
        &self,
        source: SourceId,
        error: &str,
        class: &str,
        status: Option<u16>,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        self.with_writer(|conn| {
            conn.execute(
                "UPDATE sources SET last_fetch_at = ?2, last_status = ?3, last_error = ?4,
                    consecutive_failures = consecutive_failures + 1, failure_class = ?5,
                    gone_streak = CASE WHEN ?6 THEN gone_streak + 1 ELSE 0 END
                 WHERE id = ?1",
                params![
                    source.0,
                    now,
                    status,
                    error,
                    class,
                    status.is_some_and(crate::model::says_gone)
                ],
            )
            .context("recording failure")?;
            Ok(())
        })?;
        self.bump_sources();
        Ok(())
    }

    pub fn record_schedule(
        &self,
        source: SourceId,
        record: &ScheduleRecord,
    ) -> Result<(), StoreError> {
        self.with_writer(|conn| {
            conn.execute(
                "UPDATE sources SET next_due_at = ?2, interval_secs = ?3, adaptive_secs = ?4,
                    feed_hint_secs = ?5, skip_hours = ?6, skip_days = ?7, retry_after_until = ?8,
                    fetch_url = ?9, redirect_target = ?10, redirect_streak = ?11
                 WHERE id = ?1",
                params![
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
                ],
            )
            .context("scheduling source")?;
            Ok(())
        })
    }

    /// The newest `limit` entries of a topic, newest first, with attribution.
    pub fn topic_entries(
        &self,
        topic: &TopicSlug,
        limit: usize,
    ) -> Result<Vec<StoredEntry>, StoreError> {
        Ok(self.topic_page(topic, None, limit)?.entries)
    }

    /// One page of a topic: up to `limit` entries strictly older than `before` (all when `None`)
    /// in the topic's order, newest first, with attribution, and where the next page starts if
    /// there is one. Keyset pagination on the `entry_topics` primary key, so a page deep in a
    /// topic costs the same as the first and a cursor stays valid while new entries arrive.
    pub fn topic_page(
        &self,
        topic: &TopicSlug,
        before: Option<PageCursor>,
        limit: usize,
    ) -> Result<TopicSlice, StoreError> {
        // (sort_at, entry_id) < cursor, written so that SQLite sees a range on the primary key.
        let (sort_at, entry_id) = match before {
            Some(c) => (c.sort_at, c.entry_id),
            None => (i64::MAX, i64::MAX),
        };
        self.with_reader(|conn| {
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
                    Ok((entry, r.get::<_, i64>(17)?))
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

    /// How many of the latest-seen matches a search sorts by publication time: a common word must
    /// not make every request sort the whole index.
    const SEARCH_CANDIDATES: usize = 2000;

    /// The newest `limit` stories matching every word of `query` (folded as the index is: see
    /// [`search::match_expression`]), newest first, from the [`Self::SEARCH_CANDIDATES`] matches
    /// seen last. A query without words matches nothing.
    pub fn search(&self, query: &str, limit: usize) -> Result<Vec<StoredEntry>, StoreError> {
        let Some(expression) = search::match_expression(query) else {
            return Ok(Vec::new());
        };
        self.with_reader(|conn| {
            let mut stmt = conn
                .prepare_cached(&format!(
                    "SELECT {STORED_ENTRY_COLUMNS}
                     FROM entries e
                     JOIN sources s ON s.id = e.source_id
                     WHERE e.id IN (SELECT rowid FROM entry_search WHERE entry_search MATCH ?1
                                    ORDER BY rowid DESC LIMIT {})
                     ORDER BY e.published_at DESC, e.id DESC
                     LIMIT ?2",
                    Self::SEARCH_CANDIDATES
                ))
                .context("searching")?;
            let limit = i64::try_from(limit).unwrap_or(i64::MAX);
            let rows = stmt
                .query_map(params![expression, limit], stored_entry_row)
                .context("searching")?;
            let rows = rows.collect::<Result<Vec<_>, _>>().context("searching")?;
            let mut entries = distinct_ids(rows);
            attach_other_sources(conn, &mut entries)?;
            Ok(entries)
        })
    }

    /// Entries per topic (the built-in `all` included) and when the newest change to one was.
    pub fn topic_summaries(&self) -> Result<HashMap<String, TopicSummary>, StoreError> {
        self.with_reader(|conn| {
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

    /// What each source (by its feeds.toml URL) calls itself and where its site is.
    pub fn source_labels(&self) -> Result<HashMap<String, SourceLabel>, StoreError> {
        self.with_reader(|conn| {
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
    pub fn daily_new_entries(
        &self,
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
        self.with_reader(|conn| {
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

    /// A value the store keeps for itself (see `migrations/0006_topic_rules.sql`).
    pub fn setting(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.with_reader(|conn| {
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
    pub fn rebuild_membership(
        &self,
        fingerprint: &str,
        now: Timestamp,
        mut assign: impl FnMut(SourceId, &StoryForTopics) -> Vec<TopicSlug>,
    ) -> Result<usize, StoreError> {
        let count = self.with_writer(|conn| {
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
        self.bump();
        Ok(count)
    }

    /// Calls `visit` with stored stories, newest first, until it breaks.
    pub fn visit_stories(
        &self,
        mut visit: impl FnMut(&StoryForTopics) -> ControlFlow<()>,
    ) -> Result<(), StoreError> {
        self.with_reader(|conn| {
            let mut stories = conn
                .prepare(STORIES_FOR_TOPICS)
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

    /// Removes stories first seen and published before `now - retention`, and each source's
    /// sightings beyond its newest `max_per_source`; stories no source carries any more go too.
    /// Every removed sighting leaves a tombstone so that the source cannot bring it back.
    pub fn prune(
        &self,
        now: Timestamp,
        retention: i64,
        max_per_source: usize,
    ) -> Result<PruneStats, StoreError> {
        let cutoff = now - retention;
        let max = i64::try_from(max_per_source).unwrap_or(i64::MAX);
        let stats = self.with_writer(|conn| {
            let tx = conn.transaction().context("starting prune")?;
            tx.execute_batch("CREATE TEMP TABLE IF NOT EXISTS doomed (source_id INTEGER, entry_key TEXT, entry_id INTEGER); DELETE FROM doomed;")
                .context("pruning")?;
            tx.execute(
                "INSERT INTO doomed SELECT g.source_id, g.entry_key, g.entry_id FROM sightings g
                 JOIN entries e ON e.id = g.entry_id
                 WHERE e.first_seen_at < ?1 AND e.published_at < ?1",
                [cutoff],
            )
            .context("pruning old stories")?;
            tx.execute(
                "INSERT INTO doomed SELECT source_id, entry_key, entry_id FROM (
                    SELECT g.source_id, g.entry_key, g.entry_id,
                           ROW_NUMBER() OVER (PARTITION BY g.source_id ORDER BY e.published_at DESC, e.id DESC) AS n
                    FROM sightings g JOIN entries e ON e.id = g.entry_id)
                 WHERE n > ?1",
                [max],
            )
            .context("pruning beyond the per-source cap")?;
            tx.execute(
                "INSERT OR REPLACE INTO tombstones (source_id, entry_key, pruned_at)
                 SELECT DISTINCT source_id, entry_key, ?1 FROM doomed",
                [now],
            )
            .context("writing tombstones")?;
            let sightings = tx
                .execute(
                    "DELETE FROM sightings WHERE (source_id, entry_key) IN (SELECT source_id, entry_key FROM doomed)",
                    [],
                )
                .context("pruning sightings")?;
            let entries = tx
                .execute(
                    "DELETE FROM entries WHERE id IN (SELECT entry_id FROM doomed)
                       AND NOT EXISTS (SELECT 1 FROM sightings g WHERE g.entry_id = entries.id)",
                    [],
                )
                .context("pruning stories")?;
            // A story that lost its first sighting but is still carried by others is published
            // from the earliest remaining one.
            tx.execute(
                "UPDATE entries SET source_id = (SELECT g.source_id FROM sightings g WHERE g.entry_id = entries.id
                                                 ORDER BY g.first_seen_at, g.source_id LIMIT 1)
                 WHERE id IN (SELECT entry_id FROM doomed)",
                [],
            )
            .context("re-attributing stories")?;
            tx.execute("DELETE FROM doomed", []).context("pruning")?;
            if sightings > 0 {
                record_pages_shrank(&tx, now)?;
            }
            tx.commit().context("committing prune")?;
            Ok(PruneStats { entries, sightings })
        })?;
        if stats.sightings > 0 {
            self.bump();
        }
        Ok(stats)
    }

    /// Which story each (source URL, entry key) sighting belongs to.
    pub fn sightings(&self) -> Result<Vec<(String, String, i64)>, StoreError> {
        self.with_reader(|conn| {
            let mut stmt = conn
                .prepare("SELECT s.url, g.entry_key, g.entry_id FROM sightings g JOIN sources s ON s.id = g.source_id")
                .context("reading sightings")?;
            let rows = stmt
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .context("reading sightings")?;
            rows.collect::<Result<Vec<_>, _>>().context("reading sightings")
        })
    }
}

/// Ids must be unique within a document: two sources carrying the same guid as two stories are
/// shown once (the first, i.e. newer, one).
fn distinct_ids(entries: impl IntoIterator<Item = StoredEntry>) -> Vec<StoredEntry> {
    let mut seen = std::collections::HashSet::new();
    entries
        .into_iter()
        .filter(|e| seen.insert(e.public_id.clone()))
        .collect()
}

/// The columns [`stored_entry_row`] reads, from `entries e` joined with `sources s`.
const STORED_ENTRY_COLUMNS: &str =
    "e.id, e.public_id, e.link, e.title, e.summary_html, e.content_html,
    e.authors, e.categories, e.enclosures, e.language, e.published_at, e.updated_at, e.changed_at,
    s.url, COALESCE(s.config_title, s.feed_title, s.url), s.site_url, s.feed_id";

fn stored_entry_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<StoredEntry> {
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
    })
}

/// Fills `also` for a page of entries with one query.
fn attach_other_sources(conn: &Connection, entries: &mut [StoredEntry]) -> Result<(), StoreError> {
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
        .query_map([ids], |r| {
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
    for entry in entries {
        if let Some(list) = by_entry.remove(&entry.id) {
            entry.also = list;
        }
    }
    Ok(())
}

const SOURCE_STATE_SELECT: &str =
    "SELECT s.id, s.url, s.etag, s.last_modified, s.last_fetch_at, s.last_success_at,
        s.last_status, s.last_error, s.consecutive_failures, s.next_due_at,
        (SELECT COUNT(*) FROM sightings g WHERE g.source_id = s.id),
        s.fetch_url, s.redirect_target, s.redirect_streak, s.body_hash, s.last_unconditional_at,
        s.failure_class, s.gone_streak, s.retry_after_until, s.adaptive_secs, s.interval_secs,
        s.feed_hint_secs, s.skip_hours, s.skip_days, s.identity_mode, s.warning
     FROM sources s";

fn small_list(text: Option<String>) -> Vec<u8> {
    text.unwrap_or_default()
        .split(',')
        .filter_map(|p| p.trim().parse().ok())
        .collect()
}

fn join_list(list: &[u8]) -> Option<String> {
    (!list.is_empty()).then(|| list.iter().map(u8::to_string).collect::<Vec<_>>().join(","))
}

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
    })
}

/// A JSON column written by us; a damaged value reads as empty rather than failing the page.
fn json_list<T: serde::de::DeserializeOwned>(text: &str) -> Vec<T> {
    serde_json::from_str(text).unwrap_or_default()
}

/// The setting holding the fingerprint of the topic rules entry_topics was computed with.
pub const MEMBERSHIP_SETTING: &str = "membership_rules";

/// The setting that holds [`TopicSlice::shrank_at`].
const PAGES_SHRANK_SETTING: &str = "pages_shrank_at";

/// Stories left topic pages at `now`: their `Last-Modified` must move although no entry left on
/// them changed, or a client revalidating with `If-Modified-Since` alone keeps a stale page.
fn record_pages_shrank(tx: &Transaction<'_>, now: Timestamp) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO settings (key, value) VALUES (?1, ?2)
         ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        params![PAGES_SHRANK_SETTING, now.to_string()],
    )
    .context("recording that pages changed")?;
    Ok(())
}

const STORIES_FOR_TOPICS: &str = "SELECT e.id, e.title, e.link, e.summary_html, e.content_html, e.categories,
        e.authors, e.language, e.published_at, COALESCE(s.config_title, s.feed_title, s.url),
        (SELECT json_group_array(g.source_id) FROM
            (SELECT source_id FROM sightings WHERE entry_id = e.id ORDER BY first_seen_at, source_id) g)
     FROM entries e JOIN sources s ON s.id = e.source_id
     ORDER BY e.published_at DESC, e.id DESC";

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
    })
}

fn to_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "[]".into())
}

/// What the store already holds of this document's entries, by key. One query for the whole
/// document instead of one per entry.
fn known_entries(
    tx: &Transaction<'_>,
    source: SourceId,
    keys_json: &str,
) -> Result<HashMap<String, Known>, StoreError> {
    let mut stmt = tx
        .prepare_cached(
            "SELECT g.entry_key, e.id, COALESCE(g.content_hash, e.content_hash), e.updated_at, e.source_id = ?1,
                    e.published_at
             FROM json_each(?2) AS k
             JOIN sightings g ON g.source_id = ?1 AND g.entry_key = k.value
             JOIN entries e ON e.id = g.entry_id",
        )
        .context("looking up entries")?;
    let rows = stmt
        .query_map(params![source.0, keys_json], |r| {
            Ok((
                r.get::<_, String>(0)?,
                Known {
                    story: r.get(1)?,
                    hash: r.get(2)?,
                    updated_at: r.get(3)?,
                    primary: r.get(4)?,
                    published_at: r.get(5)?,
                },
            ))
        })
        .context("looking up entries")?;
    rows.collect::<Result<HashMap<_, _>, _>>()
        .context("looking up entries")
}

/// The statements one refresh runs per entry, prepared once per document.
struct EntryStatements<'tx> {
    seen: rusqlite::CachedStatement<'tx>,
    update: rusqlite::CachedStatement<'tx>,
    insert: rusqlite::CachedStatement<'tx>,
    sighting: rusqlite::CachedStatement<'tx>,
    topic: rusqlite::CachedStatement<'tx>,
    rekey: rusqlite::CachedStatement<'tx>,
    near: rusqlite::CachedStatement<'tx>,
    search: rusqlite::CachedStatement<'tx>,
    unindex: rusqlite::CachedStatement<'tx>,
}

impl<'tx> EntryStatements<'tx> {
    fn prepare(tx: &'tx Transaction<'_>) -> Result<EntryStatements<'tx>, StoreError> {
        Ok(EntryStatements {
            seen: tx
                .prepare_cached(
                    "UPDATE sightings SET last_seen_at = ?3, content_hash = ?4, link = ?5, canonical_url = ?6
                     WHERE source_id = ?1 AND entry_key = ?2",
                )
                .context("marking entry seen")?,
            update: tx
                .prepare_cached(
                    "UPDATE entries SET public_id = ?2, link = ?3, title = ?4, summary_html = ?5, content_html = ?6,
                        authors = ?7, categories = ?8, enclosures = ?9, language = ?10,
                        updated_at = ?11, changed_at = ?12, content_hash = ?13, canonical_url = ?14
                     WHERE id = ?1",
                )
                .context("updating entry")?,
            insert: tx
                .prepare_cached(
                    "INSERT INTO entries (source_id, public_id, link, title, summary_html, content_html,
                        authors, categories, enclosures, language, published_at, updated_at, first_seen_at,
                        changed_at, content_hash, canonical_url, signature, title_numbers)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?13, ?14, ?15, ?16, ?17)",
                )
                .context("inserting entry")?,
            sighting: tx
                .prepare_cached(
                    "INSERT INTO sightings (source_id, entry_key, entry_id, first_seen_at, last_seen_at,
                        content_hash, link, canonical_url)
                     VALUES (?1, ?2, ?3, ?4, ?4, ?5, ?6, ?7)",
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
                    "SELECT e.published_at, e.signature, e.title_numbers FROM entries e
                     WHERE e.id = ?1
                       AND NOT EXISTS (SELECT 1 FROM sightings g WHERE g.entry_id = e.id AND g.source_id = ?2)",
                )
                .context("matching near duplicates")?,
            // The search text is made by normalize, off the single writer.
            search: tx
                .prepare_cached("INSERT INTO entry_search (rowid, body) VALUES (?1, ?2)")
                .context("indexing entry for search")?,
            unindex: tx
                .prepare_cached("DELETE FROM entry_search WHERE rowid = ?1")
                .context("indexing entry for search")?,
        })
    }
}

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

/// What the store holds that bears on this document's new entries, read with one query each
/// instead of one per entry.
#[derive(Default)]
struct DocumentLookups {
    /// Canonical URL → a sighting of this source whose key left the document: a guid that
    /// changed, or a key of another kind after the source's identity switched.
    moved: HashMap<String, (EntryKey, Known)>,
    /// Canonical URL → another source's story at that address.
    same_url: HashMap<String, OtherStory>,
    /// Keys this source had pruned.
    tombstoned: std::collections::HashSet<String>,
}

impl DocumentLookups {
    /// The candidates for one entry, given this source's sighting under its key. A moved key is
    /// taken by the first entry at its address, so that two entries never claim one story.
    fn found(&mut self, entry: &NewEntry, same_key: Option<Known>) -> Found {
        let moved_key = match (&same_key, &entry.canonical_url) {
            (None, Some(canonical)) => self.moved.remove(canonical),
            _ => None,
        };
        Found {
            same_key,
            moved_key,
            tombstoned: self.tombstoned.contains(entry.key.as_str()),
            same_url: entry
                .canonical_url
                .as_ref()
                .and_then(|c| self.same_url.get(c).copied()),
            neighbours: Vec::new(),
        }
    }
}

fn document_lookups(
    tx: &Transaction<'_>,
    source: SourceId,
    entries: &[NewEntry],
    keys_json: &str,
) -> Result<DocumentLookups, StoreError> {
    let mut lookups = DocumentLookups::default();
    let canonicals = to_json(
        &entries
            .iter()
            .filter_map(|e| e.canonical_url.as_deref())
            .collect::<Vec<_>>(),
    );
    {
        let mut stmt = tx
            .prepare_cached(
                "SELECT g.canonical_url, g.entry_key, e.id, COALESCE(g.content_hash, e.content_hash), e.updated_at,
                        e.source_id = ?1, e.published_at
                 FROM sightings g JOIN entries e ON e.id = g.entry_id
                 WHERE g.source_id = ?1 AND g.canonical_url IN (SELECT value FROM json_each(?2))
                   AND g.entry_key NOT IN (SELECT value FROM json_each(?3))",
            )
            .context("looking for guid churn")?;
        let rows = stmt
            .query_map(params![source.0, canonicals, keys_json], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    Known {
                        story: r.get(2)?,
                        hash: r.get(3)?,
                        updated_at: r.get(4)?,
                        primary: r.get(5)?,
                        published_at: r.get(6)?,
                    },
                ))
            })
            .context("looking for guid churn")?;
        for row in rows {
            let (canonical, key, known) = row.context("looking for guid churn")?;
            lookups
                .moved
                .entry(canonical)
                .or_insert((EntryKey::from_stored(key), known));
        }
    }
    {
        // Another source's story at the same address; a source's own entries sharing a link (a
        // live page's updates) stay apart.
        let mut stmt = tx
            .prepare_cached(
                "SELECT e.canonical_url, e.id, e.published_at FROM entries e
                 WHERE e.canonical_url IN (SELECT value FROM json_each(?1))
                   AND NOT EXISTS (SELECT 1 FROM sightings g WHERE g.entry_id = e.id AND g.source_id = ?2)
                 ORDER BY e.id",
            )
            .context("matching canonical URLs")?;
        let rows = stmt
            .query_map(params![canonicals, source.0], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    OtherStory {
                        story: r.get(1)?,
                        published_at: r.get(2)?,
                    },
                ))
            })
            .context("matching canonical URLs")?;
        for row in rows {
            let (canonical, found) = row.context("matching canonical URLs")?;
            lookups.same_url.entry(canonical).or_insert(found);
        }
    }
    {
        let mut stmt = tx
            .prepare_cached(
                "SELECT entry_key FROM tombstones WHERE source_id = ?1 AND entry_key IN (SELECT value FROM json_each(?2))",
            )
            .context("checking tombstones")?;
        let rows = stmt
            .query_map(params![source.0, keys_json], |r| r.get::<_, String>(0))
            .context("checking tombstones")?;
        for row in rows {
            lookups
                .tombstoned
                .insert(row.context("checking tombstones")?);
        }
    }
    Ok(lookups)
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
                entry.canonical_url
            ])
            .context("marking entry seen")
    };
    // Changed text may qualify for more topics; it leaves none (another sighting may be what put
    // it there) until the next recomputation of membership. True when it joined one.
    let join_topics = |stmts: &mut EntryStatements<'_>, story: i64, sort_at: Timestamp| {
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
                    entry.canonical_url
                ])
                .context("updating entry")?;
            stmts
                .unindex
                .execute(params![story])
                .context("indexing entry for search")?;
            stmts
                .search
                .execute(params![story, entry.search_text])
                .context("indexing entry for search")?;
            Ok(Upsert::Updated)
        }
        Action::Skip => Ok(Upsert::Unchanged),
        Action::Merge { story, sort_at } => {
            add_sighting(stmts, source, now, entry, story, sort_at)?;
            Ok(Upsert::Merged)
        }
        Action::New { updated } => {
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
                        .map(crate::normalize::fingerprint::to_bytes),
                    entry.title_numbers
                ])
                .context("inserting entry")?;
            stmts
                .search
                .execute(params![story, entry.search_text])
                .context("indexing entry for search")?;
            index.remember(story, entry, now);
            add_sighting(stmts, source, now, entry, story, entry.published)?;
            Ok(Upsert::New)
        }
    }
}

/// This source's sighting of `story`, and the story in the topics it puts it in.
fn add_sighting(
    stmts: &mut EntryStatements<'_>,
    source: SourceId,
    now: Timestamp,
    entry: &NewEntry,
    story: i64,
    sort_at: Timestamp,
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
            entry.canonical_url
        ])
        .context("inserting sighting")?;
    for topic in &entry.topics {
        stmts
            .topic
            .execute(params![topic.as_str(), sort_at, story])
            .context("inserting entry topics")?;
    }
    Ok(())
}

/// The stories the index finds near `entry` that another source carries, read for comparison.
fn neighbours(
    stmts: &mut EntryStatements<'_>,
    index: &NearIndex,
    entry: &NewEntry,
    source: SourceId,
    now: Timestamp,
) -> Result<Vec<crate::dedup::Candidate>, StoreError> {
    let mut candidates = Vec::new();
    for id in index.neighbours(entry, now) {
        let row = stmts
            .near
            .query_row(params![id, source.0], |r| {
                Ok((
                    r.get::<_, Timestamp>(0)?,
                    r.get::<_, Option<Vec<u8>>>(1)?,
                    r.get::<_, String>(2)?,
                ))
            })
            .optional()
            .context("matching near duplicates")?;
        if let Some((published, signature, title_numbers)) = row {
            candidates.push(crate::dedup::Candidate {
                id,
                published,
                signature: signature
                    .as_deref()
                    .and_then(crate::normalize::fingerprint::from_bytes),
                title_numbers,
            });
        }
    }
    Ok(candidates)
}

/// Fills the near-duplicate index from the stories first seen since `since`.
fn load_index(
    tx: &Transaction<'_>,
    index: &mut NearIndex,
    since: Timestamp,
) -> Result<(), StoreError> {
    use crate::normalize::fingerprint;
    let mut stmt = tx
        .prepare("SELECT id, first_seen_at, signature, title_numbers FROM entries WHERE signature IS NOT NULL AND first_seen_at >= ?1")
        .context("loading near-duplicate index")?;
    let rows = stmt
        .query_map([since], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, Timestamp>(1)?,
                r.get::<_, Vec<u8>>(2)?,
                r.get::<_, String>(3)?,
            ))
        })
        .context("loading near-duplicate index")?;
    let mut stories = Vec::new();
    for row in rows {
        let (id, seen, bytes, numbers) = row.context("loading near-duplicate index")?;
        if let Some(signature) = fingerprint::from_bytes(&bytes) {
            stories.push((id, seen, signature, numbers));
        }
    }
    index.load(
        stories
            .iter()
            .map(|(id, seen, signature, numbers)| (*id, *seen, *signature, numbers.as_str())),
    );
    Ok(())
}

/// `PRAGMA wal_checkpoint(PASSIVE)` on `conn`: the frames in the WAL, and how many of them are
/// in the database now.
fn passive_checkpoint(conn: &Connection) -> Result<(i64, i64), StoreError> {
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
        Ok((r.get(1)?, r.get(2)?))
    })
    .context("checkpointing")
}

fn open_connection(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open(path).map_err(|source| StoreError::Open {
        path: path.to_path_buf(),
        source,
    })?;
    configure(&conn).map_err(|source| StoreError::Open {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(conn)
}

/// Set on every connection (PRAGMAs are per connection, so they do not belong in migrations).
fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    Ok(())
}

#[cfg(test)]
mod tests;
