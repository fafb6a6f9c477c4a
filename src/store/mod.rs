//! Storage: the interface the rest of the program stores and reads through ([`Store`]), and
//! the engines behind it. SQLite (`sqlite/`, embedded) is the default. An engine only looks
//! things up and carries decisions out: what is the same story is decided by
//! [`crate::dedup::decide`], when a source is next due by the scheduler, which topics a story is
//! in by the topic rules, so that every engine shares every rule. A second engine is one new
//! module here implementing [`Store`], chosen in [`open`]; nothing outside `store/` changes.
//!
//! Every method blocks; async callers use `spawn_blocking`. A caller may run its reads under a
//! [`ReadCancel`] (see [`cancellable`]) to abandon them once nobody wants the answer.

mod cancel;
pub(crate) mod columns;
#[cfg(test)]
mod conformance;
mod found;
pub mod migrate;
pub mod postgres;
mod signals;
pub mod sqlite;
mod tally;

use std::collections::{BTreeSet, HashMap};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use cancel::{ReadCancel, cancellable};
pub use postgres::PostgresStore;
pub use signals::Signals;
pub use sqlite::{MEMBERSHIP_SETTING, SqliteStore};

pub use crate::dedup::NearDuplicates;
use crate::model::{
    EntryKey, FeedMeta, NewEntry, PageCursor, RefreshStats, ScheduleRecord, SourceId, SourceLabel,
    SourceState, StoredEntry, StoryForTopics, Timestamp, TopicSlice, TopicSlug, TopicSummary,
    Validators,
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
    #[error("database error while {context}: {detail}")]
    Inconsistent {
        context: &'static str,
        detail: String,
    },
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
    #[error(
        "cannot connect to PostgreSQL at {target}: {}",
        postgres_message(source)
    )]
    Connect {
        target: String,
        #[source]
        source: ::postgres::Error,
    },
    #[error("PostgreSQL error while {context}: {}", postgres_message(source))]
    Postgres {
        context: &'static str,
        #[source]
        source: ::postgres::Error,
    },
    #[error("PostgreSQL migration {name} failed: {}", postgres_message(source))]
    PostgresMigration {
        name: &'static str,
        #[source]
        source: ::postgres::Error,
    },
    #[error("{what} is not available on this engine: {instead}")]
    Unsupported {
        what: &'static str,
        instead: &'static str,
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

/// What went wrong in a PostgreSQL call, said whole: the client's own text for an error the
/// server sent is only "db error", and its source is the server's message.
fn postgres_message(error: &::postgres::Error) -> String {
    match error.as_db_error() {
        Some(db) => match db.detail() {
            Some(detail) => format!("{} ({}; {detail})", db.message(), db.code().code()),
            None => format!("{} ({})", db.message(), db.code().code()),
        },
        None => match std::error::Error::source(error) {
            Some(cause) => format!("{error}: {cause}"),
            None => error.to_string(),
        },
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
    /// Entries of the document exactly as last time, not normalized again
    /// (`normalize::NormalizedFeed::unchanged`): the keys they are stored under.
    pub unchanged: &'a [EntryKey],
    /// When the source is due again and what the next decision needs, written with the refresh
    /// (one write per refresh instead of two); `None` leaves the schedule as it was.
    pub schedule: Option<&'a ScheduleRecord>,
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
            unchanged: &[],
            schedule: None,
        }
    }
}

/// What a node may do with a due source (see [`Store::claim_sources`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// This node holds the source's lease now: fetch it.
    Fetch(SourceId),
    /// Another node fetched it since (its next due time moved), holds its lease, or is claiming
    /// it at this moment: look at it again at this time.
    LookAgain(SourceId, Timestamp),
}

/// A request slot for a host shared by every node (see [`Store::take_host_turn`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostTurn {
    /// This node holds slot `slot` of the host; the request may start after `wait`.
    Go {
        slot: i64,
        wait: std::time::Duration,
    },
    /// Every slot of the host is in use on some node: ask again after `retry`.
    Busy { retry: std::time::Duration },
}

/// How requests to one host are spaced and held across the cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostPolicy {
    /// Requests to the host in flight at once, on all nodes together (`per_host`).
    pub per_host: usize,
    /// Least time between the starts of two requests to it (`host_delay`).
    pub spacing: std::time::Duration,
    /// The spacing while the host has asked us to back off.
    pub slow_spacing: std::time::Duration,
    /// How long a slot stays taken if its node never gives it back (it died).
    pub hold: std::time::Duration,
}

/// How often the daemon moves the WAL into the database when little is written.
pub const CHECKPOINT_INTERVAL: std::time::Duration = std::time::Duration::from_secs(10);
/// Entries stored or updated after which a checkpoint is due before the interval is up (see
/// [`Store::checkpoint_due`]).
pub const CHECKPOINT_AFTER_ENTRIES: u64 = 2_000;

/// What the program needs of its storage. Implemented by [`SqliteStore`].
pub trait Store: Send + Sync {
    // --- Signals: generations, changed topics, checkpoint requests (engine-neutral) ---

    /// The engine's [`Signals`]; the methods below read them.
    fn signals(&self) -> &Signals;

    /// Bumped on every commit that changes what a topic page shows: a page rendered at this
    /// generation is current while it stays put.
    fn generation(&self) -> u64 {
        self.signals().generation()
    }

    /// Changes whenever what [`Store::source_states`], [`Store::source_labels`] or
    /// [`Store::daily_new_entries`] would answer may have changed.
    fn sources_generation(&self) -> u64 {
        self.signals().sources_generation()
    }

    /// The topics that gained or changed entries in refreshes committed since the last call.
    fn take_changed_topics(&self) -> BTreeSet<String> {
        self.signals().take_changed_topics()
    }

    /// Whether [`CHECKPOINT_AFTER_ENTRIES`] entries were written since the last checkpoint.
    fn checkpoint_due(&self) -> bool {
        self.signals().checkpoint_due()
    }

    /// Marks everything rendered from the store as stale (the configuration changed).
    fn invalidate(&self) {
        self.signals().bump();
    }

    // --- Upkeep ---

    /// Makes every write made so far visible to readers and durable now, instead of within the
    /// engine's commit latency (SQLite: the group commit of refreshes). At the end of a cycle, a
    /// command and shutdown.
    fn flush(&self) -> Result<(), StoreError> {
        Ok(())
    }

    /// The near-duplicate rule's settings (`[dedup]` in feeds.toml).
    fn set_near_duplicates(&self, settings: NearDuplicates);

    /// Whether the database answers a trivial query.
    fn ping(&self) -> Result<(), StoreError>;

    /// Moves what was written into the main database file (SQLite: a passive WAL checkpoint).
    /// Returns the frames in the log and how many of them are now in the database.
    fn checkpoint(&self) -> Result<(i64, i64), StoreError>;

    /// Writes a consistent copy of the database to `dest`, which must not exist.
    fn backup(&self, dest: &Path) -> Result<(), StoreError>;

    /// Whether the store was opened read-only (see [`open_read_only`]).
    fn is_read_only(&self) -> bool;

    /// Why the database cannot be written now, when it cannot: opened read-only, or the last
    /// write failed for want of space or write access. `None` when writing works.
    fn condition(&self) -> Option<String>;

    /// Records why a read-only store could not be opened for writing, for [`Store::condition`].
    fn set_condition(&self, why: String);

    /// Takes writing back for a store opened read-only, once the database can be written again;
    /// whether it did (`false` when it was writable already or still cannot write).
    fn reopen_writable(&self) -> bool;

    // --- Sources and their schedule ---

    /// Makes the sources match feeds.toml: inserts new sources, updates titles and listed
    /// topics, and marks removed ones inactive (their entries stay). Returns the id of each
    /// spec, in order.
    fn sync_sources(&self, specs: &[SourceSpec]) -> Result<Vec<SourceId>, StoreError>;

    fn source_state(&self, id: SourceId) -> Result<SourceState, StoreError>;

    /// Every active source's state, in feeds.toml order of insertion.
    fn source_states(&self) -> Result<Vec<SourceState>, StoreError>;

    /// The sources fetched from an adopted permanent-redirect target instead of their own URL.
    fn adopted_fetch_urls(&self) -> Result<HashMap<SourceId, String>, StoreError>;

    /// What each source (by its feeds.toml URL) calls itself and where its site is.
    fn source_labels(&self) -> Result<HashMap<String, SourceLabel>, StoreError>;

    /// Stories each source carried for the first time, per UTC day, over the `days` days up to
    /// and including the day of `now`: oldest day first. Sources with none are absent.
    fn daily_new_entries(
        &self,
        days: usize,
        now: Timestamp,
    ) -> Result<HashMap<SourceId, Vec<u64>>, StoreError>;

    // --- Recording a refresh ---

    /// Stores one successfully parsed document: feed metadata, every entry (each as
    /// [`crate::dedup::decide`] says), topic membership and the new validators, all at once, so
    /// that a crash never leaves validators that would answer 304 for entries never stored.
    fn record_document(
        &self,
        source: SourceId,
        meta: &FeedMeta,
        entries: &[NewEntry],
        fetched: &Fetched<'_>,
        now: Timestamp,
    ) -> Result<RefreshStats, StoreError>;

    /// A 304 (or an unchanged body): the source is healthy and nothing else changes.
    fn record_not_modified(
        &self,
        source: SourceId,
        fetched: &Fetched<'_>,
        now: Timestamp,
    ) -> Result<(), StoreError>;

    /// A failed refresh: recorded on the source; stored entries are untouched.
    fn record_failure(
        &self,
        source: SourceId,
        error: &str,
        class: &str,
        status: Option<u16>,
        now: Timestamp,
    ) -> Result<(), StoreError>;

    /// The item hashes of a source's stored sightings (see `normalize::item_hash`), with the
    /// key each is stored under: what normalize need not do again.
    fn item_hashes(&self, source: SourceId) -> Result<HashMap<i64, EntryKey>, StoreError>;

    /// What the scheduler decided after a refresh.
    fn record_schedule(&self, source: SourceId, record: &ScheduleRecord) -> Result<(), StoreError>;

    // --- Pages ---

    /// One page of a topic: up to `limit` entries strictly older than `before` (all when `None`)
    /// in the topic's order, newest first, with attribution, and where the next page starts.
    fn topic_page(
        &self,
        topic: &TopicSlug,
        before: Option<PageCursor>,
        limit: usize,
    ) -> Result<TopicSlice, StoreError>;

    /// The newest `limit` entries of a topic, newest first, with attribution.
    fn topic_entries(
        &self,
        topic: &TopicSlug,
        limit: usize,
    ) -> Result<Vec<StoredEntry>, StoreError> {
        Ok(self.topic_page(topic, None, limit)?.entries)
    }

    /// The newest `limit` stories matching every word of `query`, newest first. A query
    /// without words matches nothing.
    fn search(&self, query: &str, limit: usize) -> Result<Vec<StoredEntry>, StoreError>;

    /// Entries per topic (the built-in `all` included) and when the newest change to one was.
    fn topic_summaries(&self) -> Result<HashMap<String, TopicSummary>, StoreError>;

    // --- Membership ---

    /// A value the store keeps for itself (such as [`MEMBERSHIP_SETTING`]).
    fn setting(&self, key: &str) -> Result<Option<String>, StoreError>;

    /// Recomputes every stored story's topics. `assign` gives the topics one sighting puts a
    /// story in; a story is in the union over its sightings. Atomic, and records `fingerprint`
    /// as [`MEMBERSHIP_SETTING`] with it, so an interrupted rebuild is redone at the next start.
    /// Returns how many stories were assigned.
    fn rebuild_membership(
        &self,
        fingerprint: &str,
        now: Timestamp,
        assign: &mut dyn FnMut(SourceId, &StoryForTopics) -> Vec<TopicSlug>,
    ) -> Result<usize, StoreError>;

    /// Calls `visit` with stored stories, newest first, until it breaks.
    fn visit_stories(
        &self,
        visit: &mut dyn FnMut(&StoryForTopics) -> ControlFlow<()>,
    ) -> Result<(), StoreError>;

    // --- Retention ---

    /// Removes stories first seen and published before `now - retention`, and each source's
    /// sightings beyond its newest `max_per_source`; stories no source carries any more go too.
    /// Every removed sighting leaves a tombstone so that the source cannot bring it back.
    fn prune(
        &self,
        now: Timestamp,
        retention: i64,
        max_per_source: usize,
    ) -> Result<PruneStats, StoreError>;

    /// Which story each (source URL, entry key) sighting belongs to.
    fn sightings(&self) -> Result<Vec<(String, String, i64)>, StoreError>;

    /// Per source (by id), how many of its stored entries joined the original they credit: as
    /// copies in its language, and as translations. Sources with none are left out.
    fn republications(&self) -> Result<HashMap<SourceId, (u64, u64)>, StoreError>;

    /// How many bytes the database takes (SQLite: the file and its WAL; PostgreSQL: the
    /// database's size on its server), for `/metrics`.
    fn database_bytes(&self) -> Result<u64, StoreError>;

    // --- Several nodes on one database (PostgreSQL). The defaults are one node, which holds
    // everything: SQLite answers them without a query. ---

    /// This node's name when several nodes may share the database; `None` for an engine only
    /// one process uses.
    fn node(&self) -> Option<&str> {
        None
    }

    /// Takes the sources of `ids` that are due at `now` and that no other node holds, leasing
    /// them to this node until `lease_until`; says for each of the others when to look again.
    /// The answer follows the order of `ids`.
    fn claim_sources(
        &self,
        ids: &[SourceId],
        _now: Timestamp,
        _lease_until: Timestamp,
    ) -> Result<Vec<Claim>, StoreError> {
        Ok(ids.iter().copied().map(Claim::Fetch).collect())
    }

    /// Extends this node's leases on `ids` (sources it is still refreshing) to `until`.
    fn renew_leases(&self, _ids: &[SourceId], _until: Timestamp) -> Result<(), StoreError> {
        Ok(())
    }

    /// Gives up every lease this node holds (at shutdown), so that other nodes need not wait
    /// for them to run out. Returns how many there were.
    fn release_leases(&self) -> Result<usize, StoreError> {
        Ok(0)
    }

    /// Takes a turn for a request to `host` among all nodes (see [`HostPolicy`]). Only called
    /// when [`Store::node`] names a node. A node fetching alone may be given its turn at once,
    /// its gate keeping the policy (the PostgreSQL engine's `cluster/alone.rs`).
    fn take_host_turn(&self, _host: &str, _policy: &HostPolicy) -> Result<HostTurn, StoreError> {
        Ok(HostTurn::Go {
            slot: 0,
            wait: std::time::Duration::ZERO,
        })
    }

    /// Gives back slot `slot` of `host`, taken by [`Store::take_host_turn`].
    fn give_back_host_turn(&self, _host: &str, _slot: i64) -> Result<(), StoreError> {
        Ok(())
    }

    /// `host` asked to be polled more slowly for `for_how_long` (429/503 with Retry-After): every
    /// node spaces its requests to it by [`HostPolicy::slow_spacing`] meanwhile.
    fn slow_host(&self, _host: &str, _for_how_long: std::time::Duration) -> Result<(), StoreError> {
        Ok(())
    }

    /// Whether this node runs the job `name` (retention, pruning) now: yes when no node ran it
    /// within the last `every` seconds, and then no other node does until that much time has
    /// passed. One node alone always runs it.
    fn claim_job(&self, _name: &str, _now: Timestamp, _every: i64) -> Result<bool, StoreError> {
        Ok(true)
    }
}

impl dyn Store {
    /// Resolves once a refresh has committed a change to some topic since the last call
    /// returned (immediately when one did meanwhile); then ask [`Store::take_changed_topics`].
    pub async fn topics_changed(&self) {
        self.signals().topics_changed().await;
    }

    /// Resolves once a checkpoint is due (see [`Store::checkpoint_due`]); immediately when one
    /// became due since the last call returned.
    pub async fn checkpoint_wanted(&self) {
        self.signals().checkpoint_wanted().await;
    }
}

/// Opens (creating if needed) the database at `path` and brings its schema up to date.
pub fn open(path: &Path) -> Result<Arc<dyn Store>, StoreError> {
    Ok(Arc::new(SqliteStore::open(path)?))
}

/// Opens the database `[storage]` selects: SQLite at its path as [`open`] does, or the
/// PostgreSQL database at its URL as node `[cluster] node` (which starts listening for what the
/// other nodes commit).
pub fn open_configured(
    storage: &crate::config::StorageConfig,
    cluster: &crate::config::ClusterConfig,
) -> Result<Arc<dyn Store>, StoreError> {
    match &storage.engine {
        crate::config::StorageEngine::Sqlite => open(&storage.path),
        crate::config::StorageEngine::Postgres { url } => {
            Ok(Arc::new(PostgresStore::open(url, &cluster.node)?))
        }
    }
}

/// Opens an existing database without writing to it; the schema must be current.
pub fn open_read_only(path: &Path) -> Result<Arc<dyn Store>, StoreError> {
    Ok(Arc::new(SqliteStore::open_read_only(path)?))
}

/// Opens the database to read: read-only when it exists, else created as [`open`] does.
pub fn open_for_reading(path: &Path) -> Result<Arc<dyn Store>, StoreError> {
    Ok(Arc::new(SqliteStore::open_for_reading(path)?))
}

/// A private in-memory database (tests, benchmarks, `test-topic` on nothing).
pub fn open_in_memory() -> Result<Arc<dyn Store>, StoreError> {
    Ok(Arc::new(SqliteStore::open_in_memory()?))
}
