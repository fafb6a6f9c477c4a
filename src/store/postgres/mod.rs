//! The PostgreSQL engine, for several nodes sharing one database: connection pool, migrations
//! from `migrations/postgres/` (applied under an advisory lock so that nodes starting together do
//! not race), and every SQL statement, split by concern as in the SQLite engine — `sources`
//! (with the leases that give each due source to one node), `ingest` (with `lookups`), `pages`,
//! `search`, `membership`, `retention`.
//!
//! Every method blocks (the `postgres` client runs its own small runtime); async callers use
//! `spawn_blocking`, as for SQLite. Each call takes a connection from the pool and puts it back;
//! a connection the server closed is dropped and a new one opened on the next call, so that a
//! restart of the database costs the calls made while it was down, not the process.

mod cluster;
mod ingest;
mod lookups;
mod membership;
mod migrations;
mod pages;
mod retention;
mod search;
mod sources;
pub mod testing;

pub(crate) use search::index_words;

use std::collections::{BTreeSet, HashMap};
use std::ops::ControlFlow;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use postgres::{Client, NoTls};

use super::{
    Claim, Fetched, HostPolicy, HostTurn, PruneStats, Signals, SourceSpec, Store, StoreError,
};
use crate::dedup::NearDuplicates;
use crate::model::{
    EntryKey, FeedMeta, NewEntry, PageCursor, RefreshStats, ScheduleRecord, SourceId, SourceLabel,
    SourceState, StoredEntry, StoryForTopics, Timestamp, TopicSlice, TopicSlug, TopicSummary,
};

pub(super) trait Context<T> {
    fn context(self, context: &'static str) -> Result<T, StoreError>;
}

impl<T> Context<T> for Result<T, postgres::Error> {
    fn context(self, context: &'static str) -> Result<T, StoreError> {
        self.map_err(|source| StoreError::Postgres { context, source })
    }
}

/// Connections a node keeps open at most while calls wait for one: the fetch tasks of a busy
/// node share them (opening a connection costs the server a process, far more than a query),
/// and a cluster of a few nodes stays within PostgreSQL's default of 100 connections.
const MAX_OPEN: usize = 24;
/// How long a call waits for a pooled connection before it opens one beyond [`MAX_OPEN`]: a
/// call made while its caller holds another connection must not wait for itself.
const POOL_WAIT: Duration = Duration::from_secs(2);
/// How long opening a connection may take before the call fails.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A transaction on a pooled connection, each statement prepared once per connection (see
/// [`Statements`]).
pub(super) struct Prepared<'a, 't> {
    pub(super) tx: &'a mut postgres::Transaction<'t>,
    statements: &'a mut Statements,
}

type Params<'p> = &'p [&'p (dyn postgres::types::ToSql + Sync)];

impl<'a, 't> Prepared<'a, 't> {
    pub(super) fn new(
        tx: &'a mut postgres::Transaction<'t>,
        statements: &'a mut Statements,
    ) -> Prepared<'a, 't> {
        Prepared { tx, statements }
    }

    fn statement(
        &mut self,
        sql: &str,
        context: &'static str,
    ) -> Result<postgres::Statement, StoreError> {
        self.statements.get(self.tx, sql).context(context)
    }

    pub(super) fn query(
        &mut self,
        sql: &str,
        params: Params<'_>,
        context: &'static str,
    ) -> Result<Vec<postgres::Row>, StoreError> {
        let statement = self.statement(sql, context)?;
        self.tx.query(&statement, params).context(context)
    }

    pub(super) fn query_opt(
        &mut self,
        sql: &str,
        params: Params<'_>,
        context: &'static str,
    ) -> Result<Option<postgres::Row>, StoreError> {
        let statement = self.statement(sql, context)?;
        self.tx.query_opt(&statement, params).context(context)
    }

    /// Tells the other nodes, when this transaction commits (NOTIFY is transactional), what it
    /// changed: `topics` gained or changed entries, and `pages` says whether anything a topic
    /// page shows changed (else only what the sources table shows did).
    pub(super) fn notify(
        &mut self,
        node: &str,
        topics: &BTreeSet<String>,
        pages: bool,
    ) -> Result<(), StoreError> {
        let payload = notify_payload(node, topics, pages);
        self.execute(NOTIFY, &[&CHANGES_CHANNEL, &payload], NOTIFY_CONTEXT)?;
        Ok(())
    }

    pub(super) fn execute(
        &mut self,
        sql: &str,
        params: Params<'_>,
        context: &'static str,
    ) -> Result<u64, StoreError> {
        let statement = self.statement(sql, context)?;
        self.tx.execute(&statement, params).context(context)
    }
}

/// The connections of a [`PostgresStore`]: those idle, and how many are open (idle or in use).
#[derive(Default)]
struct Pool {
    idle: Vec<Connection>,
    open: usize,
}

/// A pooled connection and the statements prepared on it.
pub(super) struct Connection {
    pub(super) client: Client,
    pub(super) statements: Statements,
}

/// Statements prepared on one connection, by their text: a refresh runs the same few dozen
/// statements every time, and preparing one costs a round trip and the server's parsing.
#[derive(Default)]
pub(super) struct Statements(HashMap<String, postgres::Statement>);

impl Statements {
    /// The statement `sql`, prepared on `client`'s connection the first time it is asked for.
    pub(super) fn get(
        &mut self,
        client: &mut impl postgres::GenericClient,
        sql: &str,
    ) -> Result<postgres::Statement, postgres::Error> {
        if let Some(statement) = self.0.get(sql) {
            return Ok(statement.clone());
        }
        let statement = client.prepare(sql)?;
        self.0.insert(sql.to_string(), statement.clone());
        Ok(statement)
    }
}

pub struct PostgresStore {
    config: postgres::Config,
    /// The database as messages name it: host, port and database, never the password.
    target: String,
    /// This node's name (`[cluster] node`): what its leases say.
    node: String,
    pool: Mutex<Pool>,
    /// Signalled when a connection is given back or closed.
    returned: std::sync::Condvar,
    /// The near-duplicate index over recent stories (see [`crate::dedup::NearIndex`]), kept
    /// current with what every node stores.
    near: Mutex<lookups::NearState>,
    /// Signalled when a look at the database for the index ends (see [`lookups::catch_up`]).
    near_looked: std::sync::Condvar,
    signals: Arc<Signals>,
    /// Turns at hosts given back and not written yet (see [`cluster::Releases`]).
    releases: Arc<cluster::Releases>,
    /// Whether this node fetches alone or takes its turns at hosts from the database.
    membership: Arc<cluster::Membership>,
}

impl PostgresStore {
    /// Connects to the database at `url` as node `node` and brings its schema up to date.
    pub fn open(url: &str, node: &str) -> Result<PostgresStore, StoreError> {
        let mut config: postgres::Config = url.parse().map_err(|source| StoreError::Connect {
            target: redacted(url),
            source,
        })?;
        config.connect_timeout(CONNECT_TIMEOUT);
        if config.get_application_name().is_none() {
            config.application_name(&format!("tributary {node}"));
        }
        let target = describe(&config);
        let store = PostgresStore {
            config,
            target,
            node: node.to_string(),
            pool: Mutex::new(Pool::default()),
            returned: std::sync::Condvar::new(),
            near: Mutex::new(lookups::NearState::default()),
            near_looked: std::sync::Condvar::new(),
            signals: Arc::new(Signals::default()),
            releases: Arc::new(cluster::Releases::default()),
            membership: Arc::new(cluster::Membership::default()),
        };
        store.with_client(migrations::apply)?;
        if let Err(e) = cluster::spawn_releaser(
            store.config.clone(),
            store.node.clone(),
            store.target.clone(),
            Arc::downgrade(&store.releases),
        ) {
            tracing::error!(
                error = %e,
                "cannot start giving host turns back: they lapse by themselves, later"
            );
        }
        // Other nodes' commits reach this node's render caches through this thread; it lives as
        // long as the store's signals.
        if let Err(e) = cluster::spawn_listener(
            store.config.clone(),
            store.node.clone(),
            store.target.clone(),
            Arc::downgrade(&store.signals),
        ) {
            tracing::error!(
                error = %e,
                "cannot start listening for other nodes' changes: pages rendered here may lag theirs"
            );
        }
        Ok(store)
    }

    /// This node's name, as its leases record it.
    pub fn node(&self) -> &str {
        &self.node
    }

    fn connect(&self) -> Result<Client, StoreError> {
        let mut client = self
            .config
            .connect(NoTls)
            .map_err(|source| StoreError::Connect {
                target: self.target.clone(),
                source,
            })?;
        // Commits do not wait for the server's WAL flush, as SQLite runs with synchronous =
        // NORMAL: a crash of the database server may lose the last moments of refreshes (their
        // sources are fetched again, validators and entries together), never leave half of one.
        client
            .batch_execute("SET synchronous_commit = off")
            .context("setting up a connection")?;
        Ok(client)
    }

    /// Runs `f` on a pooled connection (see [`MAX_OPEN`]).
    fn with_client<T>(
        &self,
        f: impl FnOnce(&mut Client) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.with_connection(|connection| f(&mut connection.client))
    }

    /// Runs `f` on a pooled connection with its prepared statements (see [`MAX_OPEN`]); a
    /// connection the server closed is not pooled again, and one on which `f` failed forgets
    /// its statements (a node of a newer version may have changed a table they read).
    fn with_connection<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let lock = || {
            self.pool
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
        };
        let pooled = {
            let mut pool = lock();
            let deadline = std::time::Instant::now() + POOL_WAIT;
            loop {
                if let Some(connection) = pool.idle.pop() {
                    if connection.client.is_closed() {
                        pool.open -= 1;
                        continue;
                    }
                    break Some(connection);
                }
                let now = std::time::Instant::now();
                if pool.open < MAX_OPEN || now >= deadline {
                    pool.open += 1;
                    break None;
                }
                pool = self
                    .returned
                    .wait_timeout(pool, deadline - now)
                    .map(|(guard, _)| guard)
                    .unwrap_or_else(|e| e.into_inner().0);
            }
        };
        let mut connection = match pooled {
            Some(connection) => connection,
            None => match self.connect() {
                Ok(client) => Connection {
                    client,
                    statements: Statements::default(),
                },
                Err(e) => {
                    lock().open -= 1;
                    self.returned.notify_one();
                    return Err(e);
                }
            },
        };
        let result = f(&mut connection);
        if result.is_err() {
            connection.statements = Statements::default();
        }
        let mut pool = lock();
        if connection.client.is_closed() || pool.open > MAX_OPEN {
            pool.open -= 1;
        } else {
            pool.idle.push(connection);
        }
        drop(pool);
        self.returned.notify_one();
        result
    }

    /// Runs the read `sql` on its own, prepared once per pooled connection: for the reads each
    /// refresh makes.
    fn query_prepared(
        &self,
        sql: &str,
        params: Params<'_>,
        context: &'static str,
    ) -> Result<Vec<postgres::Row>, StoreError> {
        self.with_connection(|connection| {
            let statement = connection
                .statements
                .get(&mut connection.client, sql)
                .context(context)?;
            connection.client.query(&statement, params).context(context)
        })
    }

    /// Runs `f` in a transaction of its own, committed when `f` succeeds.
    fn with_transaction<T>(
        &self,
        f: impl FnOnce(&mut postgres::Transaction<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.with_client(|client| {
            let mut tx = client.transaction().context("starting a transaction")?;
            let value = f(&mut tx)?;
            tx.commit().context("committing")?;
            Ok(value)
        })
    }

    /// Runs `f` in a read-only transaction that sees one snapshot throughout (a page and the
    /// other sources of its stories; a walk over every story), committed when `f` succeeds.
    fn with_snapshot<T>(
        &self,
        context: &'static str,
        f: impl FnOnce(&mut postgres::Transaction<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.with_client(|client| {
            let mut tx = client
                .build_transaction()
                .read_only(true)
                .isolation_level(postgres::IsolationLevel::RepeatableRead)
                .start()
                .context(context)?;
            let value = f(&mut tx)?;
            tx.commit().context(context)?;
            Ok(value)
        })
    }

    /// Runs a write in a transaction of its own. `f` says what the write changed ([`Shown`]);
    /// the other nodes are told inside the transaction (see [`Prepared::notify`]), and this
    /// node's [`Signals`] move once it has committed, as the SQLite engine moves them for the
    /// same write, so that nothing is rendered from what might still roll back.
    fn write<T>(
        &self,
        f: impl FnOnce(&mut Prepared<'_, '_>) -> Result<(T, Shown), StoreError>,
    ) -> Result<T, StoreError> {
        let (value, shown) = self.with_connection(|connection| {
            let Connection { client, statements } = connection;
            let mut tx = client.transaction().context("starting a transaction")?;
            let mut db = Prepared::new(&mut tx, statements);
            let (value, shown) = f(&mut db)?;
            if shown != Shown::Nothing {
                db.notify(&self.node, &BTreeSet::new(), shown == Shown::Pages)?;
            }
            tx.commit().context("committing")?;
            Ok((value, shown))
        })?;
        match shown {
            Shown::Pages => self.signals.bump(),
            Shown::Sources => self.signals.bump_sources(),
            Shown::Nothing => {}
        }
        Ok(value)
    }
}

impl Drop for PostgresStore {
    /// Gives back the turns at hosts still queued, and closes the pooled connections. A
    /// `postgres::Client` closes its connection by blocking on a runtime of its own, which
    /// cannot start on a thread that runs async tasks, where the last handle on the store may go
    /// (the fetcher's gate holds one): this is done on a thread of its own whenever a runtime is
    /// about.
    fn drop(&mut self) {
        let mut idle = std::mem::take(
            &mut self
                .pool
                .get_mut()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .idle,
        );
        let released = self.releases.take_all();
        let (config, node, target) = (self.config.clone(), self.node.clone(), self.target.clone());
        let close = move || {
            if !released.is_empty() {
                let written = match idle.iter_mut().find(|c| !c.client.is_closed()) {
                    Some(connection) => {
                        cluster::write_releases(&mut connection.client, &node, &released)
                    }
                    None => config.connect(NoTls).and_then(|mut client| {
                        cluster::write_releases(&mut client, &node, &released)
                    }),
                };
                if let Err(e) = written {
                    tracing::warn!(
                        database = %target, error = %e,
                        "cannot give host turns back; they lapse by themselves"
                    );
                }
            }
            drop(idle);
        };
        if tokio::runtime::Handle::try_current().is_err() {
            close();
        } else if std::thread::spawn(close).join().is_err() {
            tracing::warn!("closing the database connections failed");
        }
    }
}

/// What a committed write changed of what the program shows (see [`PostgresStore::write`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Shown {
    Nothing,
    /// Only what the sources table shows (`status`, the health page).
    Sources,
    /// What topic pages show (and so the sources table too).
    Pages,
}

/// The channel on which nodes tell each other what they committed (see [`Prepared::notify`]).
pub(super) const CHANGES_CHANNEL: &str = "tributary_changes";

/// Payloads longer than this name no topics and mean "every topic" (PostgreSQL's limit is 8,000
/// bytes).
const MAX_PAYLOAD: usize = 7_000;

const NOTIFY: &str = "SELECT pg_notify($1, $2)";
const NOTIFY_CONTEXT: &str = "telling other nodes of a change";

/// The payload of a change (see [`Prepared::notify`]): `node`, then `p` or `s`, then the topics
/// joined by commas, one per line; a list too long for a payload is sent as `*` (every topic).
pub(super) fn notify_payload(
    node: &str,
    topics: &std::collections::BTreeSet<String>,
    pages: bool,
) -> String {
    let mut listed = topics
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(",");
    if listed.len() + node.len() + 3 > MAX_PAYLOAD {
        listed = "*".into();
    }
    format!("{node}\n{}\n{listed}", if pages { 'p' } else { 's' })
}

/// `host:port/database` of a connection URL, for messages (never the password).
pub(crate) fn describe(config: &postgres::Config) -> String {
    let host = config
        .get_hosts()
        .first()
        .map(|h| match h {
            postgres::config::Host::Tcp(name) => name.clone(),
            postgres::config::Host::Unix(path) => path.display().to_string(),
        })
        .unwrap_or_else(|| "localhost".into());
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let db = config.get_dbname().unwrap_or("");
    format!("{host}:{port}/{db}")
}

/// A URL that would not parse, without what could be a password.
pub(crate) fn redacted(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) => {
            if parsed.password().is_some() {
                let _ = parsed.set_password(Some("***"));
            }
            parsed.to_string()
        }
        Err(_) => "(an unreadable URL)".into(),
    }
}

impl Store for PostgresStore {
    fn signals(&self) -> &Signals {
        &self.signals
    }

    fn set_near_duplicates(&self, settings: NearDuplicates) {
        self.near
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .index
            .configure(settings);
    }

    fn ping(&self) -> Result<(), StoreError> {
        self.with_client(|client| {
            client
                .simple_query("SELECT 1")
                .context("checking the database answers")
                .map(|_| ())
        })
    }

    /// PostgreSQL checkpoints on its own: there is no log of ours to move.
    fn checkpoint(&self) -> Result<(i64, i64), StoreError> {
        Ok((0, 0))
    }

    fn backup(&self, _dest: &Path) -> Result<(), StoreError> {
        Err(StoreError::Unsupported {
            what: "backup",
            instead: "back a PostgreSQL database up with pg_dump",
        })
    }

    fn is_read_only(&self) -> bool {
        false
    }

    fn condition(&self) -> Option<String> {
        None
    }

    fn set_condition(&self, _why: String) {}

    fn reopen_writable(&self) -> bool {
        false
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

    fn database_bytes(&self) -> Result<u64, StoreError> {
        self.with_client(|client| {
            let bytes: i64 = client
                .query_one("SELECT pg_database_size(current_database())", &[])
                .and_then(|row| row.try_get(0))
                .context("measuring the database")?;
            Ok(u64::try_from(bytes).unwrap_or(0))
        })
    }

    fn node(&self) -> Option<&str> {
        Some(&self.node)
    }

    fn claim_sources(
        &self,
        ids: &[SourceId],
        now: Timestamp,
        lease_until: Timestamp,
    ) -> Result<Vec<Claim>, StoreError> {
        cluster::claim_sources(self, ids, now, lease_until)
    }

    fn renew_leases(&self, ids: &[SourceId], until: Timestamp) -> Result<(), StoreError> {
        cluster::renew_leases(self, ids, until)
    }

    fn release_leases(&self) -> Result<usize, StoreError> {
        cluster::release_leases(self)
    }

    fn take_host_turn(&self, host: &str, policy: &HostPolicy) -> Result<HostTurn, StoreError> {
        cluster::take_host_turn(self, host, policy)
    }

    fn give_back_host_turn(&self, host: &str, slot: i64) -> Result<(), StoreError> {
        cluster::give_back_host_turn(self, host, slot);
        Ok(())
    }

    fn slow_host(&self, host: &str, for_how_long: Duration) -> Result<(), StoreError> {
        cluster::slow_host(self, host, for_how_long)
    }

    fn claim_job(&self, name: &str, now: Timestamp, every: i64) -> Result<bool, StoreError> {
        cluster::claim_job(self, name, now, every)
    }
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_ingest;
#[cfg(test)]
mod tests_read;
