//! The SQLite engine (the default): connection set-up, migrations from `migrations/`, and every
//! SQL statement, split by concern — `sources`, `ingest` (with `lookups` for the same-story
//! candidates), `pages`, `search`, `membership`, `retention`, `checkpoint`, `backup` — and
//! read-only opening of an unwritable database (`degraded`).
//!
//! One writer connection behind a mutex (SQLite allows one writer at a time anyway) and a small
//! pool of read connections for the server, which WAL lets run beside the writer. All methods are
//! blocking; async callers use `spawn_blocking`. Nothing outside this module sees a `Connection`.

mod backup;
mod checkpoint;
mod degraded;
mod ingest;
mod lookups;
mod membership;
mod migrations;
mod pages;
pub mod search;
mod sources;

use std::collections::BTreeSet;
use std::collections::HashMap;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
#[cfg(test)]
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use rusqlite::Connection;

use super::{Fetched, PruneStats, Signals, SourceSpec, Store, StoreError, cancel};
use crate::dedup::{NearDuplicates, NearIndex};
use crate::model::{
    EntryKey, FeedMeta, NewEntry, PageCursor, RefreshStats, ScheduleRecord, SourceId, SourceLabel,
    SourceState, StoredEntry, StoryForTopics, Timestamp, TopicSlice, TopicSlug, TopicSummary,
};

pub(crate) use degraded::current_read_only_connection;
pub use membership::MEMBERSHIP_SETTING;

mod retention;

pub(super) trait Context<T> {
    fn context(self, context: &'static str) -> Result<T, StoreError>;
}

impl<T> Context<T> for Result<T, rusqlite::Error> {
    fn context(self, context: &'static str) -> Result<T, StoreError> {
        self.map_err(|source| StoreError::Sql { context, source })
    }
}

pub struct SqliteStore {
    /// The near-duplicate index over recent stories (see [`crate::dedup::NearIndex`]).
    near: Mutex<NearIndex>,
    path: Option<PathBuf>,
    writer: Arc<Mutex<Writer>>,
    /// The thread that commits a batch once it is [`BATCH_AGE`] old (files only), and the flag
    /// that tells it the store is gone.
    committer: Option<std::thread::Thread>,
    closed: Arc<AtomicBool>,
    readers: Mutex<Vec<Connection>>,
    /// How connections are opened, and why writes are failing when they are (see
    /// [`Store::condition`]).
    access: Arc<degraded::Access>,
    signals: Arc<Signals>,
    /// Read operations started (see [`SqliteStore::read_count`]).
    #[cfg(test)]
    reads: AtomicU64,
}

/// See [`SqliteStore::hold_writer`].
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

/// The writer connection and the refreshes written on it but not yet committed.
///
/// Group commit: on a database file, refreshes share one transaction, each inside a savepoint of
/// its own (so a failing refresh rolls back alone, and a refresh's validators still commit with
/// its entries). The transaction commits once it holds [`BATCH_REFRESHES`] refreshes or is
/// [`BATCH_AGE`] old (a background thread sees to the latter), before any other kind of write,
/// and on [`Store::flush`]. Readers see a refresh once it commits, and the signals (generations,
/// changed topics) move only then, so nothing is rendered from what might still roll back.
struct Writer {
    conn: Connection,
    batch: Option<Batch>,
}

struct Batch {
    began: Instant,
    refreshes: usize,
    signals: Pending,
}

/// What a refresh tells [`Signals`] once it is committed, and what it changes in the search
/// index, which is written when the group commits: FTS5 writes its pending index data out as a
/// new segment at every savepoint, so indexing inside each refresh's savepoint made a segment
/// per refresh, and merging them cost more than the indexing itself.
#[derive(Default)]
pub(super) struct Pending {
    pub(super) bump: bool,
    pub(super) bump_sources: bool,
    pub(super) written: u64,
    pub(super) topics: BTreeSet<String>,
    search: Vec<search::SearchOp>,
}

impl Pending {
    fn add(&mut self, other: Pending) {
        self.bump |= other.bump;
        self.bump_sources |= other.bump_sources;
        self.written += other.written;
        self.topics.extend(other.topics);
        self.search.extend(other.search);
    }

    fn apply(self, signals: &Signals) {
        if self.bump {
            signals.bump();
        } else if self.bump_sources {
            signals.bump_sources();
        }
        signals.note_written(self.written);
        signals.note_changed_topics(self.topics);
    }
}

/// Refreshes one transaction holds at most.
const BATCH_REFRESHES: usize = 64;
/// How long a refresh waits at most for the transaction it is in to commit.
const BATCH_AGE: Duration = Duration::from_millis(100);

impl Writer {
    /// Commits the open batch, if any; its signals move once it is durable.
    fn commit(&mut self, signals: &Signals, access: &degraded::Access) -> Result<(), StoreError> {
        let Some(mut batch) = self.batch.take() else {
            return Ok(());
        };
        let result =
            search::write(&self.conn, std::mem::take(&mut batch.signals.search)).and_then(|()| {
                self.conn
                    .execute_batch("COMMIT")
                    .context("committing refreshes")
            });
        if result.is_err() {
            // What the batch wrote is gone, validators with entries: the sources are fetched
            // again unconditionally. The connection must be out of the transaction either way.
            let _ = self.conn.execute_batch("ROLLBACK");
        } else {
            batch.signals.apply(signals);
        }
        access.note_write(&result);
        result
    }
}

/// Commits a batch that has waited [`BATCH_AGE`], until the store is gone.
/// Sleeps while no batch is open (a refresh that opens one wakes it, see
/// [`SqliteStore::with_refresh`]), so an idle daemon does not wake for nothing.
fn flush_aged(
    writer: Weak<Mutex<Writer>>,
    signals: Arc<Signals>,
    access: Arc<degraded::Access>,
    closed: Arc<AtomicBool>,
) {
    loop {
        if closed.load(std::sync::atomic::Ordering::Acquire) {
            return;
        }
        let Some(strong) = writer.upgrade() else {
            return;
        };
        let wait = {
            let mut writer = strong
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            match writer.batch.as_ref().map(|b| b.began.elapsed()) {
                Some(age) if age >= BATCH_AGE => {
                    if let Err(e) = writer.commit(&signals, &access) {
                        tracing::error!(error = %e, "could not commit refreshes");
                    }
                    None
                }
                Some(age) => Some(BATCH_AGE - age),
                None => None,
            }
        };
        // Not holding the store while asleep: dropping it ends this thread.
        drop(strong);
        match wait {
            Some(wait) => std::thread::sleep(wait),
            None => std::thread::park(),
        }
    }
}

const MAX_IDLE_READERS: usize = 8;
/// 16,384 pages of 4 KiB: the WAL grows to at most about 64 MiB between checkpoints. A busy
/// ingest writes a few WAL pages per entry: without the daemon's own checkpoints (see
/// [`crate::store::CHECKPOINT_AFTER_ENTRIES`]) the WAL would reach this within a second and
/// SQLite would checkpoint on the writer, inside a refresh, every time it does.
const WAL_AUTOCHECKPOINT_PAGES: i64 = 16_384;

impl SqliteStore {
    /// Opens (creating if needed) the database file and brings its schema up to date.
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        let mut conn = open_writer(path)?;
        migrations::apply(&mut conn)?;
        Ok(Self::from_connection(Some(path.to_path_buf()), conn))
    }

    /// A private in-memory database (tests, benchmarks): reads share the writer connection.
    pub fn open_in_memory() -> Result<SqliteStore, StoreError> {
        let conn = Connection::open_in_memory().map_err(|source| StoreError::Open {
            path: PathBuf::from(":memory:"),
            source,
        })?;
        configure(&conn).map_err(|source| StoreError::Open {
            path: PathBuf::from(":memory:"),
            source,
        })?;
        let mut conn = conn;
        migrations::apply(&mut conn)?;
        Ok(Self::from_connection(None, conn))
    }

    fn from_connection(path: Option<PathBuf>, conn: Connection) -> SqliteStore {
        let mut store = SqliteStore {
            near: Mutex::new(NearIndex::default()),
            writer: Arc::new(Mutex::new(Writer { conn, batch: None })),
            committer: None,
            closed: Arc::new(AtomicBool::new(false)),
            readers: Mutex::new(Vec::new()),
            access: Arc::new(degraded::Access::default()),
            signals: Arc::new(Signals::default()),
            #[cfg(test)]
            reads: AtomicU64::new(0),
            path,
        };
        if store.path.is_some() {
            let (writer, signals, access, closed) = (
                Arc::downgrade(&store.writer),
                store.signals.clone(),
                store.access.clone(),
                store.closed.clone(),
            );
            match std::thread::Builder::new()
                .name("sqlite-commit".into())
                .spawn(move || flush_aged(writer, signals, access, closed))
            {
                Ok(handle) => store.committer = Some(handle.thread().clone()),
                // Without it a batch still commits when full, on the next other write, on
                // flush and on drop; refreshes wait longer to be seen.
                Err(e) => tracing::warn!(error = %e, "could not start the commit thread"),
            }
        }
        store
    }

    /// Writes one refresh's rows: inside the open batch on a database file (see [`Writer`]),
    /// else in a transaction of its own. `f` writes without beginning a transaction and says
    /// what the signals should learn once the write commits.
    fn with_refresh<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<(T, Pending), StoreError>,
    ) -> Result<T, StoreError> {
        let mut writer = self
            .writer
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let batching = self.path.is_some();
        if batching && writer.batch.is_none() {
            let begun = writer
                .conn
                .execute_batch("BEGIN IMMEDIATE")
                .context("starting refreshes");
            self.access.note_write(&begun);
            begun?;
            writer.batch = Some(Batch {
                began: Instant::now(),
                refreshes: 0,
                signals: Pending::default(),
            });
            if let Some(committer) = &self.committer {
                committer.unpark();
            }
        }
        // A savepoint inside the group (a transaction of its own otherwise), rolled back when the
        // refresh fails, and on unwinding should it panic.
        let result = if batching {
            match writer.conn.savepoint() {
                Ok(savepoint) => f(&savepoint).and_then(|done| {
                    savepoint
                        .commit()
                        .context("committing refresh")
                        .map(|()| done)
                }),
                Err(e) => Err(StoreError::Sql {
                    context: "starting refresh",
                    source: e,
                }),
            }
        } else {
            match writer.conn.transaction() {
                Ok(tx) => f(&tx).and_then(|(value, mut pending)| {
                    search::write(&tx, std::mem::take(&mut pending.search))?;
                    tx.commit().context("committing refresh")?;
                    Ok((value, pending))
                }),
                Err(e) => Err(StoreError::Sql {
                    context: "starting refresh",
                    source: e,
                }),
            }
        };
        let result = match result {
            Ok((value, pending)) => {
                match writer.batch.as_mut() {
                    Some(batch) => {
                        batch.refreshes += 1;
                        batch.signals.add(pending);
                    }
                    None => pending.apply(&self.signals),
                }
                Ok(value)
            }
            Err(e) => {
                // Some errors (a full disk, an I/O error) make SQLite roll the whole transaction
                // back: the group is gone, and what it held must not be signalled.
                if writer.conn.is_autocommit() {
                    writer.batch = None;
                }
                Err(e)
            }
        };
        self.access.note_write(&result);
        if writer
            .batch
            .as_ref()
            .is_some_and(|b| b.refreshes >= BATCH_REFRESHES || b.began.elapsed() >= BATCH_AGE)
        {
            writer.commit(&self.signals, &self.access)?;
        }
        result
    }

    /// Commits the refreshes written so far (see [`Writer`]).
    fn flush_batch(&self) -> Result<(), StoreError> {
        self.writer
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .commit(&self.signals, &self.access)
    }

    /// How many reads have asked SQLite so far: lets tests show that a path answered from memory.
    #[cfg(test)]
    pub fn read_count(&self) -> u64 {
        self.reads.load(Ordering::Relaxed)
    }

    /// Holds the writer connection (which an in-memory store reads through as well) on a thread
    /// of its own until the returned value is dropped: lets tests keep a read waiting.
    #[cfg(test)]
    pub fn hold_writer(self: &std::sync::Arc<Self>) -> HeldWriter {
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

    fn with_writer<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        // A panic while the lock was held unwound through the open transaction, which rolled it
        // back: the connection is consistent, so a poisoned lock is taken over, not fatal.
        let mut writer = self
            .writer
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // Other writes come after the refreshes written before them.
        writer.commit(&self.signals, &self.access)?;
        let result = f(&mut writer.conn);
        self.access.note_write(&result);
        result
    }

    /// Runs a read on a pooled connection (the writer's for an in-memory database), under the
    /// [`cancel::ReadCancel`] this thread answers to, if any.
    fn with_reader<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let cancel = cancel::current();
        let read = |conn: &Connection| {
            // Checked once the connection is ours: a read that waited for it may have been
            // abandoned meanwhile.
            let _running = match &cancel {
                Some(cancel) => {
                    let handle = conn.get_interrupt_handle();
                    Some(cancel.enter(Box::new(move || handle.interrupt()))?)
                }
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
}

impl Store for SqliteStore {
    fn signals(&self) -> &Signals {
        &self.signals
    }

    fn flush(&self) -> Result<(), StoreError> {
        self.flush_batch()
    }

    fn set_near_duplicates(&self, settings: NearDuplicates) {
        self.near
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .configure(settings);
    }

    fn ping(&self) -> Result<(), StoreError> {
        checkpoint::ping(self)
    }

    fn checkpoint(&self) -> Result<(i64, i64), StoreError> {
        checkpoint::checkpoint(self)
    }

    fn backup(&self, dest: &Path) -> Result<(), StoreError> {
        backup::backup(self, dest)
    }

    fn is_read_only(&self) -> bool {
        self.access.is_read_only()
    }

    fn condition(&self) -> Option<String> {
        degraded::condition(self)
    }

    fn set_condition(&self, why: String) {
        degraded::set_condition(self, why);
    }

    fn reopen_writable(&self) -> bool {
        degraded::reopen_writable(self)
    }

    fn sync_sources(&self, specs: &[SourceSpec]) -> Result<Vec<SourceId>, StoreError> {
        sources::sync_sources(self, specs)
    }

    fn source_state(&self, id: SourceId) -> Result<SourceState, StoreError> {
        sources::source_state(self, id)
    }

    fn source_states(&self) -> Result<Vec<SourceState>, StoreError> {
        sources::source_states(self)
    }

    fn adopted_fetch_urls(&self) -> Result<HashMap<SourceId, String>, StoreError> {
        sources::adopted_fetch_urls(self)
    }

    fn source_labels(&self) -> Result<HashMap<String, SourceLabel>, StoreError> {
        sources::source_labels(self)
    }

    fn daily_new_entries(
        &self,
        days: usize,
        now: Timestamp,
    ) -> Result<HashMap<SourceId, Vec<u64>>, StoreError> {
        sources::daily_new_entries(self, days, now)
    }

    fn record_document(
        &self,
        source: SourceId,
        meta: &FeedMeta,
        entries: &[NewEntry],
        fetched: &Fetched<'_>,
        now: Timestamp,
    ) -> Result<RefreshStats, StoreError> {
        ingest::record_document(self, source, meta, entries, fetched, now)
    }

    fn record_not_modified(
        &self,
        source: SourceId,
        fetched: &Fetched<'_>,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        sources::record_not_modified(self, source, fetched, now)
    }

    fn record_failure(
        &self,
        source: SourceId,
        error: &str,
        class: &str,
        status: Option<u16>,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        sources::record_failure(self, source, error, class, status, now)
    }

    fn item_hashes(&self, source: SourceId) -> Result<HashMap<i64, EntryKey>, StoreError> {
        sources::item_hashes(self, source)
    }

    fn record_schedule(&self, source: SourceId, record: &ScheduleRecord) -> Result<(), StoreError> {
        sources::record_schedule(self, source, record)
    }

    fn topic_page(
        &self,
        topic: &TopicSlug,
        before: Option<PageCursor>,
        limit: usize,
    ) -> Result<TopicSlice, StoreError> {
        pages::topic_page(self, topic, before, limit)
    }

    fn search(&self, query: &str, limit: usize) -> Result<Vec<StoredEntry>, StoreError> {
        search::search(self, query, limit)
    }

    fn topic_summaries(&self) -> Result<HashMap<String, TopicSummary>, StoreError> {
        pages::topic_summaries(self)
    }

    fn setting(&self, key: &str) -> Result<Option<String>, StoreError> {
        membership::setting(self, key)
    }

    fn rebuild_membership(
        &self,
        fingerprint: &str,
        now: Timestamp,
        assign: &mut dyn FnMut(SourceId, &StoryForTopics) -> Vec<TopicSlug>,
    ) -> Result<usize, StoreError> {
        membership::rebuild_membership(self, fingerprint, now, assign)
    }

    fn visit_stories(
        &self,
        visit: &mut dyn FnMut(&StoryForTopics) -> ControlFlow<()>,
    ) -> Result<(), StoreError> {
        membership::visit_stories(self, visit)
    }

    fn prune(
        &self,
        now: Timestamp,
        retention: i64,
        max_per_source: usize,
    ) -> Result<PruneStats, StoreError> {
        retention::prune(self, now, retention, max_per_source)
    }

    fn sightings(&self) -> Result<Vec<(String, String, i64)>, StoreError> {
        retention::sightings(self)
    }

    fn republications(&self) -> Result<HashMap<SourceId, (u64, u64)>, StoreError> {
        sources::republications(self)
    }

    /// The database file and its WAL (0 in memory, and for files that do not exist).
    fn database_bytes(&self) -> Result<u64, StoreError> {
        let Some(path) = &self.path else {
            return Ok(0);
        };
        let size = |p: &Path| std::fs::metadata(p).map_or(0, |m| m.len());
        let mut wal = path.as_os_str().to_owned();
        wal.push("-wal");
        Ok(size(path) + size(Path::new(&wal)))
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
    // Each refresh runs in a savepoint of its group's transaction, and a savepoint keeps the
    // pages it changes in a statement journal: in memory that is a copy, in a temporary file
    // (the default) a write system call per page. It holds one refresh's pages at most.
    conn.pragma_update(None, "temp_store", "MEMORY")
        .map_err(opened)?;
    // Every refresh runs the same few dozen statements; parsing them again each time cost more
    // than running some of them.
    conn.set_prepared_statement_cache_capacity(64);
    Ok(conn)
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

impl Drop for SqliteStore {
    fn drop(&mut self) {
        if let Err(e) = self.flush_batch() {
            tracing::error!(error = %e, "could not commit the last refreshes");
        }
        // Wakes the commit thread to find the store gone.
        self.closed
            .store(true, std::sync::atomic::Ordering::Release);
        if let Some(committer) = &self.committer {
            committer.unpark();
        }
    }
}

#[cfg(test)]
mod tests;
