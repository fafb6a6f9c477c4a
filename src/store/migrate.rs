//! `tributary migrate-to`: copies a SQLite database into a PostgreSQL database, so that an
//! installation that outgrows one machine keeps its sources (schedules, validators), stories,
//! sightings, tombstones, topic membership, settings and search index.
//!
//! Owns reading the SQLite file (read-only, one snapshot for the whole copy), writing PostgreSQL
//! in batches (parents before children, each batch committed on its own), resuming an interrupted
//! copy and the count check at the end. It must not write the SQLite file, create PostgreSQL's
//! schema itself (opening a [`PostgresStore`] migrates it), or print: the caller gets progress
//! through a callback and the counts in a [`Copied`].
//!
//! Resuming: tables are copied one after the other, each in the order of its primary key, so an
//! interrupted copy leaves in PostgreSQL whole tables, then a prefix of one. A run that finds its
//! own unfinished copy (the [`MARKER`] row of `cluster_jobs`) goes on, per table, after the
//! highest key PostgreSQL holds, and inserts skip rows that are there (`ON CONFLICT DO
//! NOTHING`), so nothing is stored twice. A target holding anything else is refused.

use std::path::{Path, PathBuf};

use postgres::types::ToSql;
use postgres::{Client, NoTls};
use rusqlite::Connection;
use rusqlite::types::{Value, ValueRef};

use super::postgres::{describe, index_words, redacted};
use super::{PostgresStore, StoreError};
use crate::config::{StorageEngine, parse_database_url};
use crate::model::Timestamp;

/// The `cluster_jobs` row that marks the target as this command's copy: leased by the node
/// copying while the copy runs, its `last_run_at` set once the counts agreed. Copying is work
/// done once for the cluster, which is what that table records.
pub const MARKER: &str = "migrate-to";

/// Rows written per batch unless the caller says otherwise.
pub const DEFAULT_BATCH_ROWS: usize = 1000;

/// A batch is written once the text it holds reaches this size, even with fewer rows: a story may
/// carry up to twice `[storage] max_entry_size` of HTML.
const BATCH_BYTES: usize = 8 << 20;

/// Held for the session while copying, so that two copies into one database do not interleave
/// ("migrate!" in ASCII).
const COPY_LOCK: i64 = 0x6d69_6772_6174_6521;

/// A table copied as it is, in this order (parents before children).
struct Table {
    name: &'static str,
    /// The primary key: the copy order, and where a resumed copy starts.
    key: &'static [&'static str],
    /// Columns whose value says which row it is, compared on the last row PostgreSQL holds when
    /// resuming (a key alone, such as an id, exists in any database).
    identity: &'static [&'static str],
    /// Columns written after the whole table, because they point at rows of the same table
    /// that may come later in key order (a translation may be older than what it translates).
    deferred: &'static [&'static str],
}

const TABLES: &[Table] = &[
    Table {
        name: "sources",
        key: &["id"],
        identity: &["url"],
        deferred: &[],
    },
    Table {
        name: "source_topics",
        key: &["source_id", "topic"],
        identity: &[],
        deferred: &[],
    },
    Table {
        name: "entries",
        key: &["id"],
        identity: &["public_id", "source_id", "first_seen_at"],
        deferred: &["version_of"],
    },
    Table {
        name: "sightings",
        key: &["source_id", "entry_key"],
        identity: &["entry_id"],
        deferred: &[],
    },
    Table {
        name: "entry_topics",
        key: &["topic", "sort_at", "entry_id"],
        identity: &[],
        deferred: &[],
    },
    Table {
        name: "tombstones",
        key: &["source_id", "entry_key"],
        identity: &[],
        deferred: &[],
    },
    Table {
        name: "settings",
        key: &["key"],
        identity: &["value"],
        deferred: &[],
    },
];

/// The search index, rebuilt from each story as it is copied (SQLite's is an FTS5 index that
/// keeps no text to copy).
pub const SEARCH_INDEX: &str = "entry_search";

/// Tables whose ids PostgreSQL generates: their sequences are moved past the copied ids.
const IDENTITY_TABLES: &[&str] = &["sources", "entries"];

#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error(
        "{url} is not a PostgreSQL database URL ({why}); migrate-to copies into postgres://user@host:5432/db"
    )]
    NotPostgres { url: String, why: String },
    #[error("no SQLite database at {}: nothing to copy", .0.display())]
    NoDatabase(PathBuf),
    #[error(
        "{} is at schema version {found}, older than this build's {known}: open it once with this build (for example `tributary status`), then copy it",
        path.display()
    )]
    OldSchema {
        path: PathBuf,
        found: i64,
        known: i64,
    },
    #[error("cannot open the SQLite database: {0}")]
    Source(#[source] StoreError),
    #[error("cannot read {table} from {}: {source}", path.display())]
    Read {
        path: PathBuf,
        table: &'static str,
        #[source]
        source: rusqlite::Error,
    },
    #[error(
        "{table}.{column} in {} holds {found} where PostgreSQL stores {wanted} (row {row})",
        path.display()
    )]
    Value {
        path: PathBuf,
        table: &'static str,
        column: String,
        row: String,
        found: &'static str,
        wanted: &'static str,
    },
    /// Opening the target (connecting, creating or updating its schema).
    #[error("{0}")]
    Target(#[source] StoreError),
    #[error(
        "cannot connect to PostgreSQL at {target}: {}",
        super::postgres_message(source)
    )]
    Connect {
        target: String,
        #[source]
        source: postgres::Error,
    },
    #[error(
        "PostgreSQL at {target}, while {doing} {table}: {}",
        super::postgres_message(source)
    )]
    Write {
        target: String,
        doing: &'static str,
        table: &'static str,
        #[source]
        source: postgres::Error,
    },
    #[error(
        "{table}.{column} of {} has no column of a type we can copy to in PostgreSQL at {target} ({found})",
        path.display()
    )]
    Schema {
        path: PathBuf,
        target: String,
        table: &'static str,
        column: String,
        found: String,
    },
    #[error(
        "refused: PostgreSQL at {target} is not empty ({held}); migrate-to copies into an empty database"
    )]
    NotEmpty { target: String, held: String },
    #[error(
        "refused: PostgreSQL at {target} already holds a finished copy (made by {node} at {at}); migrate-to copies into an empty database"
    )]
    AlreadyCopied {
        target: String,
        node: String,
        /// When, as `2026-12-05 16:20:00Z`.
        at: String,
    },
    #[error(
        "refused: PostgreSQL at {target} holds an unfinished copy of another database: {why}; copy into an empty database"
    )]
    Different { target: String, why: String },
    #[error("refused: another migrate-to is copying into PostgreSQL at {target}")]
    Busy { target: String },
    #[error("row counts differ after copying to PostgreSQL at {target}: {}", describe_mismatches(.counts))]
    Counts {
        target: String,
        counts: Vec<TableCount>,
    },
}

fn describe_mismatches(counts: &[TableCount]) -> String {
    counts
        .iter()
        .filter(|c| !c.agrees())
        .map(|c| {
            format!(
                "{} has {} rows in SQLite, {} in PostgreSQL",
                c.table, c.sqlite, c.postgres
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// How one table's rows compare once the copy is done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableCount {
    pub table: &'static str,
    pub sqlite: u64,
    pub postgres: u64,
}

impl TableCount {
    pub fn agrees(&self) -> bool {
        self.sqlite == self.postgres
    }
}

/// A copy that ran to its end, and how its tables compare.
#[derive(Debug, Clone)]
pub struct Copied {
    /// The target as messages name it: `host:port/database`, never the password.
    pub target: String,
    /// Whether it went on with an interrupted copy.
    pub resumed: bool,
    pub counts: Vec<TableCount>,
}

impl Copied {
    /// The copy as an error when any table's counts differ.
    pub fn checked(self) -> Result<Copied, MigrateError> {
        if self.counts.iter().all(TableCount::agrees) {
            Ok(self)
        } else {
            Err(MigrateError::Counts {
                target: self.target,
                counts: self.counts,
            })
        }
    }
}

/// Where a table's copy stands: rows PostgreSQL holds of the `total` SQLite has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    pub table: &'static str,
    pub copied: u64,
    pub total: u64,
}

#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Rows per batch (each its own transaction).
    pub batch_rows: usize,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            batch_rows: DEFAULT_BATCH_ROWS,
        }
    }
}

/// Copies the SQLite database at `sqlite` into the PostgreSQL database at `url` as node `node`,
/// or finishes the copy an earlier run began; counts every table on both sides at the end. The
/// counts are returned whether or not they agree ([`Copied::checked`] decides); a copy whose
/// counts agree is marked finished at `now`.
pub fn copy(
    sqlite: &Path,
    url: &str,
    node: &str,
    options: Options,
    now: Timestamp,
    progress: &mut dyn FnMut(Progress),
) -> Result<Copied, MigrateError> {
    match parse_database_url(url) {
        Ok((StorageEngine::Postgres { .. }, _)) => {}
        Ok((StorageEngine::Sqlite, _)) => {
            return Err(MigrateError::NotPostgres {
                url: redacted(url),
                why: "it names a SQLite database".into(),
            });
        }
        Err(why) => {
            return Err(MigrateError::NotPostgres {
                url: redacted(url),
                why,
            });
        }
    }
    if !sqlite.exists() {
        return Err(MigrateError::NoDatabase(sqlite.to_path_buf()));
    }
    let (conn, _) = super::sqlite::current_read_only_connection(sqlite).map_err(|e| match e {
        StoreError::NeedsMigration { path, found, known } => {
            MigrateError::OldSchema { path, found, known }
        }
        other => MigrateError::Source(other),
    })?;
    // Opening the store is what creates (or updates) the schema, under its migration lock.
    drop(PostgresStore::open(url, node).map_err(MigrateError::Target)?);
    let config: postgres::Config = url.parse().map_err(|source| MigrateError::Connect {
        target: redacted(url),
        source,
    })?;
    let target = describe(&config);
    let client = config
        .connect(NoTls)
        .map_err(|source| MigrateError::Connect {
            target: target.clone(),
            source,
        })?;
    let mut copier = Copier {
        path: sqlite.to_path_buf(),
        target,
        client,
        batch_rows: options.batch_rows.max(1),
    };
    // One read transaction over the whole copy: every table as of one moment, even if a
    // daemon writes the file meanwhile.
    let snapshot = conn
        .unchecked_transaction()
        .map_err(|source| copier.read_error("the database", source))?;
    let result = copier.run(&snapshot, node, now, progress);
    // Read-only: ending the snapshot cannot lose anything.
    let _ = snapshot.rollback();
    result
}

struct Copier {
    path: PathBuf,
    target: String,
    client: Client,
    batch_rows: usize,
}

/// What PostgreSQL stores a copied column as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Int,
    Text,
    Bytes,
}

impl Kind {
    fn of(data_type: &str) -> Option<Kind> {
        match data_type {
            "bigint" | "integer" | "smallint" => Some(Kind::Int),
            "text" | "character varying" => Some(Kind::Text),
            "bytea" => Some(Kind::Bytes),
            _ => None,
        }
    }

    fn array_type(self) -> &'static str {
        match self {
            Kind::Int => "bigint[]",
            Kind::Text => "text[]",
            Kind::Bytes => "bytea[]",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Kind::Int => "an integer",
            Kind::Text => "text",
            Kind::Bytes => "bytes",
        }
    }
}

#[derive(Debug, Clone)]
struct Column {
    name: String,
    kind: Kind,
}

/// One batch, a vector per column (PostgreSQL takes each as an array to `unnest`).
enum Cells {
    Int(Vec<Option<i64>>),
    Text(Vec<Option<String>>),
    Bytes(Vec<Option<Vec<u8>>>),
}

impl Cells {
    fn new(kind: Kind) -> Cells {
        match kind {
            Kind::Int => Cells::Int(Vec::new()),
            Kind::Text => Cells::Text(Vec::new()),
            Kind::Bytes => Cells::Bytes(Vec::new()),
        }
    }

    fn as_param(&self) -> &(dyn ToSql + Sync) {
        match self {
            Cells::Int(v) => v,
            Cells::Text(v) => v,
            Cells::Bytes(v) => v,
        }
    }

    fn text(&self, row: usize) -> Option<&str> {
        match self {
            Cells::Text(v) => v.get(row).and_then(|t| t.as_deref()),
            _ => None,
        }
    }

    fn int(&self, row: usize) -> Option<i64> {
        match self {
            Cells::Int(v) => v.get(row).copied().flatten(),
            _ => None,
        }
    }
}

/// The row of a table PostgreSQL holds last in key order: its key, and its identity columns.
struct LastRow {
    key: Vec<Value>,
    identity: Vec<Value>,
}

/// Key values for messages.
fn key_text(values: &[Value]) -> String {
    let shown: Vec<String> = values
        .iter()
        .map(|v| match v {
            Value::Integer(i) => i.to_string(),
            Value::Text(t) => format!("{t:?}"),
            Value::Null => "NULL".into(),
            Value::Real(r) => r.to_string(),
            Value::Blob(b) => format!("{} bytes", b.len()),
        })
        .collect();
    format!("({})", shown.join(", "))
}

impl Copier {
    fn read_error(&self, table: &'static str, source: rusqlite::Error) -> MigrateError {
        MigrateError::Read {
            path: self.path.clone(),
            table,
            source,
        }
    }

    fn write_error(
        &self,
        doing: &'static str,
        table: &'static str,
    ) -> impl FnOnce(postgres::Error) -> MigrateError + use<> {
        write_error(&self.target, doing, table)
    }

    fn run(
        &mut self,
        sqlite: &Connection,
        node: &str,
        now: Timestamp,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<Copied, MigrateError> {
        let locked: bool = self
            .client
            .query_one("SELECT pg_try_advisory_lock($1)", &[&COPY_LOCK])
            .and_then(|row| row.try_get(0))
            .map_err(self.write_error("locking", "cluster_jobs"))?;
        if !locked {
            return Err(MigrateError::Busy {
                target: self.target.clone(),
            });
        }
        let resumed = self.claim(sqlite, node)?;
        let mut sqlite_counts = Vec::new();
        for table in TABLES {
            sqlite_counts.push(
                count_sqlite(sqlite, table.name).map_err(|e| self.read_error(table.name, e))?,
            );
        }
        let search_rows =
            count_sqlite(sqlite, SEARCH_INDEX).map_err(|e| self.read_error(SEARCH_INDEX, e))?;
        for (table, total) in TABLES.iter().zip(&sqlite_counts) {
            let columns = self.columns(sqlite, table)?;
            self.copy_table(sqlite, table, &columns, *total, progress)?;
            for column in table.deferred {
                self.copy_deferred(sqlite, table, column)?;
            }
        }
        for table in IDENTITY_TABLES {
            // Rows the daemon stores next get ids after the copied ones.
            self.client
                .execute(
                    &format!(
                        "SELECT setval(pg_get_serial_sequence('{table}', 'id')::regclass, MAX(id))
                         FROM {table} HAVING MAX(id) IS NOT NULL"
                    ),
                    &[],
                )
                .map_err(self.write_error("moving the id sequence of", table))?;
        }
        let mut counts = Vec::new();
        for (table, sqlite_rows) in TABLES.iter().zip(sqlite_counts) {
            counts.push(TableCount {
                table: table.name,
                sqlite: sqlite_rows,
                postgres: self.count_postgres(table.name)?,
            });
        }
        counts.push(TableCount {
            table: SEARCH_INDEX,
            sqlite: search_rows,
            postgres: self.count_postgres(SEARCH_INDEX)?,
        });
        if counts.iter().all(TableCount::agrees) {
            self.client
                .execute(
                    "UPDATE cluster_jobs SET last_run_at = $2 WHERE name = $1",
                    &[&MARKER, &now],
                )
                .map_err(self.write_error("marking the copy finished in", "cluster_jobs"))?;
        }
        Ok(Copied {
            target: self.target.clone(),
            resumed,
            counts,
        })
    }

    /// Makes the target this copy's: an empty database is marked as being copied into; an
    /// unfinished copy is resumed once its sources are seen to be this database's. Whether it
    /// resumes.
    fn claim(&mut self, sqlite: &Connection, node: &str) -> Result<bool, MigrateError> {
        let marker = self
            .client
            .query_opt(
                "SELECT COALESCE(leased_by, ''), last_run_at FROM cluster_jobs WHERE name = $1",
                &[&MARKER],
            )
            .map_err(self.write_error("reading", "cluster_jobs"))?;
        if let Some(row) = marker {
            let by: String = row
                .try_get(0)
                .map_err(self.write_error("reading", "cluster_jobs"))?;
            let finished: Option<i64> = row
                .try_get(1)
                .map_err(self.write_error("reading", "cluster_jobs"))?;
            if let Some(at) = finished {
                return Err(MigrateError::AlreadyCopied {
                    target: self.target.clone(),
                    node: by,
                    at: chrono::DateTime::from_timestamp(at, 0).map_or_else(
                        || at.to_string(),
                        |t| t.format("%Y-%m-%d %H:%M:%SZ").to_string(),
                    ),
                });
            }
            self.same_sources(sqlite)?;
            self.client
                .execute(
                    "UPDATE cluster_jobs SET leased_by = $2 WHERE name = $1",
                    &[&MARKER, &node],
                )
                .map_err(self.write_error("marking the copy in", "cluster_jobs"))?;
            return Ok(true);
        }
        let mut held = Vec::new();
        for table in TABLES.iter().map(|t| t.name).chain([SEARCH_INDEX]) {
            let rows = self.count_postgres(table)?;
            if rows > 0 {
                held.push(format!("{rows} rows in {table}"));
            }
        }
        if !held.is_empty() {
            return Err(MigrateError::NotEmpty {
                target: self.target.clone(),
                held: held.join(", "),
            });
        }
        self.client
            .execute(
                "INSERT INTO cluster_jobs (name, leased_by) VALUES ($1, $2)",
                &[&MARKER, &node],
            )
            .map_err(self.write_error("marking the copy in", "cluster_jobs"))?;
        Ok(false)
    }

    /// Every source PostgreSQL holds has the same id and URL in the SQLite database.
    fn same_sources(&mut self, sqlite: &Connection) -> Result<(), MigrateError> {
        let rows = self
            .client
            .query("SELECT id, url FROM sources ORDER BY id", &[])
            .map_err(self.write_error("reading", "sources"))?;
        let mut lookup = sqlite
            .prepare("SELECT url FROM sources WHERE id = ?1")
            .map_err(|e| self.read_error("sources", e))?;
        for row in rows {
            let id: i64 = row
                .try_get(0)
                .map_err(self.write_error("reading", "sources"))?;
            let url: String = row
                .try_get(1)
                .map_err(self.write_error("reading", "sources"))?;
            let ours: Option<String> = lookup
                .query_row([id], |r| r.get(0))
                .map(Some)
                .or_else(|e| match e {
                    rusqlite::Error::QueryReturnedNoRows => Ok(None),
                    e => Err(e),
                })
                .map_err(|e| self.read_error("sources", e))?;
            if ours.as_deref() != Some(url.as_str()) {
                return Err(MigrateError::Different {
                    target: self.target.clone(),
                    why: format!(
                        "source {id} is {url} there but {} in {}",
                        ours.as_deref().unwrap_or("absent"),
                        self.path.display()
                    ),
                });
            }
        }
        Ok(())
    }

    /// The SQLite table's columns, each with the type PostgreSQL stores it as. A column
    /// PostgreSQL lacks would be lost: an error. Columns only PostgreSQL has (leases) are left
    /// to their defaults.
    fn columns(&mut self, sqlite: &Connection, table: &Table) -> Result<Vec<Column>, MigrateError> {
        let names: Vec<String> = sqlite
            .prepare("SELECT name FROM pragma_table_info(?1) ORDER BY cid")
            .and_then(|mut s| {
                s.query_map([table.name], |r| r.get(0))?
                    .collect::<Result<_, _>>()
            })
            .map_err(|e| self.read_error(table.name, e))?;
        let rows = self
            .client
            .query(
                "SELECT column_name::text, data_type::text FROM information_schema.columns
                 WHERE table_schema = current_schema() AND table_name = $1",
                &[&table.name],
            )
            .map_err(self.write_error("reading the columns of", table.name))?;
        let mut theirs = std::collections::HashMap::new();
        for row in rows {
            let name: String = row
                .try_get(0)
                .map_err(self.write_error("reading the columns of", table.name))?;
            let data_type: String = row
                .try_get(1)
                .map_err(self.write_error("reading the columns of", table.name))?;
            theirs.insert(name, data_type);
        }
        names
            .into_iter()
            .map(|name| {
                let data_type = theirs.get(&name).cloned();
                match data_type.as_deref().and_then(Kind::of) {
                    Some(kind) => Ok(Column { name, kind }),
                    None => Err(MigrateError::Schema {
                        path: self.path.clone(),
                        target: self.target.clone(),
                        table: table.name,
                        column: name,
                        found: data_type.unwrap_or_else(|| "missing".into()),
                    }),
                }
            })
            .collect()
    }

    fn count_postgres(&mut self, table: &'static str) -> Result<u64, MigrateError> {
        let rows: i64 = self
            .client
            .query_one(&format!("SELECT COUNT(*) FROM {table}"), &[])
            .and_then(|row| row.try_get(0))
            .map_err(self.write_error("counting", table))?;
        Ok(u64::try_from(rows).unwrap_or(0))
    }

    /// The highest key PostgreSQL holds of `table`, in the order SQLite sorts it (bytes for
    /// text, as PostgreSQL's "C" collation compares), with the identity columns of that row.
    fn last_row(
        &mut self,
        table: &Table,
        columns: &[Column],
    ) -> Result<Option<LastRow>, MigrateError> {
        let kind = |name: &str| {
            columns
                .iter()
                .find(|c| c.name == name)
                .map_or(Kind::Text, |c| c.kind)
        };
        let order: Vec<String> = table
            .key
            .iter()
            .map(|k| match kind(k) {
                Kind::Text => format!("{k} COLLATE \"C\" DESC"),
                _ => format!("{k} DESC"),
            })
            .collect();
        let wanted: Vec<&str> = table.key.iter().chain(table.identity).copied().collect();
        let sql = format!(
            "SELECT {} FROM {} ORDER BY {} LIMIT 1",
            wanted.join(", "),
            table.name,
            order.join(", ")
        );
        let row = self
            .client
            .query_opt(&sql, &[])
            .map_err(self.write_error("finding where to resume", table.name))?;
        let Some(row) = row else {
            return Ok(None);
        };
        let mut values = Vec::new();
        for (i, name) in wanted.iter().enumerate() {
            let value = match kind(name) {
                Kind::Int => row
                    .try_get::<_, Option<i64>>(i)
                    .map(|v| v.map(Value::Integer)),
                Kind::Text => row
                    .try_get::<_, Option<String>>(i)
                    .map(|v| v.map(Value::Text)),
                Kind::Bytes => row
                    .try_get::<_, Option<Vec<u8>>>(i)
                    .map(|v| v.map(Value::Blob)),
            }
            .map_err(self.write_error("finding where to resume", table.name))?;
            values.push(value.unwrap_or(Value::Null));
        }
        let identity = values.split_off(table.key.len());
        Ok(Some(LastRow {
            key: values,
            identity,
        }))
    }

    /// Copies `table`'s rows after those PostgreSQL holds, in key order, a batch per transaction.
    fn copy_table(
        &mut self,
        sqlite: &Connection,
        table: &Table,
        columns: &[Column],
        total: u64,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<(), MigrateError> {
        let key = table.key.join(", ");
        let resume = self.last_row(table, columns)?;
        let mut copied = self.count_postgres(table.name)?;
        progress(Progress {
            table: table.name,
            copied,
            total,
        });
        let names: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
        let mut sql = format!("SELECT {} FROM {}", names.join(", "), table.name);
        let mut after = Vec::new();
        if let Some(LastRow {
            key: last,
            identity,
        }) = resume
        {
            // The row PostgreSQL holds last must be this database's, as it is here.
            let check = format!(
                "SELECT {} FROM {} WHERE ({key}) = ({})",
                if table.identity.is_empty() {
                    "1".to_string()
                } else {
                    table.identity.join(", ")
                },
                table.name,
                placeholders(last.len())
            );
            let ours: Option<Vec<Value>> = sqlite
                .query_row(&check, rusqlite::params_from_iter(&last), |r| {
                    (0..table.identity.len().max(1))
                        .map(|i| r.get::<_, Value>(i))
                        .collect()
                })
                .map(Some)
                .or_else(|e| match e {
                    rusqlite::Error::QueryReturnedNoRows => Ok(None),
                    e => Err(e),
                })
                .map_err(|e| self.read_error(table.name, e))?;
            let same = match &ours {
                None => false,
                Some(_) if table.identity.is_empty() => true,
                Some(values) => *values == identity,
            };
            if !same {
                return Err(MigrateError::Different {
                    target: self.target.clone(),
                    why: format!(
                        "its {} row {} is {} in {}",
                        table.name,
                        key_text(&last),
                        if ours.is_some() { "another" } else { "not" },
                        self.path.display()
                    ),
                });
            }
            sql.push_str(&format!(" WHERE ({key}) > ({})", placeholders(last.len())));
            after = last;
        }
        sql.push_str(&format!(" ORDER BY {key}"));
        let mut stmt = sqlite
            .prepare(&sql)
            .map_err(|e| self.read_error(table.name, e))?;
        let mut rows = stmt
            .query(rusqlite::params_from_iter(&after))
            .map_err(|e| self.read_error(table.name, e))?;
        let mut batch: Vec<Cells> = columns.iter().map(|c| Cells::new(c.kind)).collect();
        let mut batch_rows = 0usize;
        let mut batch_bytes = 0usize;
        loop {
            let row = rows.next().map_err(|e| self.read_error(table.name, e))?;
            let Some(row) = row else { break };
            for (i, (column, cells)) in columns.iter().zip(batch.iter_mut()).enumerate() {
                let value = row.get_ref(i).map_err(|e| self.read_error(table.name, e))?;
                batch_bytes += push(cells, value).map_err(|found| MigrateError::Value {
                    path: self.path.clone(),
                    table: table.name,
                    column: column.name.clone(),
                    row: row_key(row, columns, table.key),
                    found,
                    wanted: column.kind.name(),
                })?;
            }
            batch_rows += 1;
            if batch_rows >= self.batch_rows || batch_bytes >= BATCH_BYTES {
                self.write_batch(table, columns, &batch, batch_rows)?;
                copied += batch_rows as u64;
                progress(Progress {
                    table: table.name,
                    copied,
                    total,
                });
                batch = columns.iter().map(|c| Cells::new(c.kind)).collect();
                batch_rows = 0;
                batch_bytes = 0;
            }
        }
        if batch_rows > 0 {
            self.write_batch(table, columns, &batch, batch_rows)?;
            copied += batch_rows as u64;
            progress(Progress {
                table: table.name,
                copied,
                total,
            });
        }
        Ok(())
    }

    /// Inserts one batch (and, for stories, their search index rows) in one transaction.
    fn write_batch(
        &mut self,
        table: &Table,
        columns: &[Column],
        batch: &[Cells],
        rows: usize,
    ) -> Result<(), MigrateError> {
        let mut names = Vec::new();
        let mut arrays = Vec::new();
        let mut params: Vec<&(dyn ToSql + Sync)> = Vec::new();
        for (column, cells) in columns.iter().zip(batch) {
            if table.deferred.contains(&column.name.as_str()) {
                continue;
            }
            names.push(column.name.as_str());
            params.push(cells.as_param());
            arrays.push(format!("${}::{}", params.len(), column.kind.array_type()));
        }
        let insert = format!(
            "INSERT INTO {} ({}) SELECT * FROM unnest({}) ON CONFLICT DO NOTHING",
            table.name,
            names.join(", "),
            arrays.join(", ")
        );
        let search = if table.name == "entries" {
            Some(search_rows(columns, batch, rows))
        } else {
            None
        };
        let target = self.target.clone();
        let mut tx = self
            .client
            .transaction()
            .map_err(write_error(&target, "copying", table.name))?;
        tx.execute(&insert, &params)
            .map_err(write_error(&target, "copying", table.name))?;
        if let Some((ids, words)) = search
            && !ids.is_empty()
        {
            let mut values = Vec::new();
            let mut params: Vec<&(dyn ToSql + Sync)> = Vec::new();
            for (id, words) in ids.iter().zip(&words) {
                params.push(id);
                params.push(words);
                values.push(format!("(${}, ${})", params.len() - 1, params.len()));
            }
            tx.execute(
                &format!(
                    "INSERT INTO {SEARCH_INDEX} (entry_id, words) VALUES {} ON CONFLICT DO NOTHING",
                    values.join(", ")
                ),
                &params,
            )
            .map_err(write_error(&target, "indexing", SEARCH_INDEX))?;
        }
        tx.commit()
            .map_err(write_error(&target, "committing a batch of", table.name))?;
        Ok(())
    }

    /// Writes `column` of every row of `table` that has one, once the whole table is there.
    fn copy_deferred(
        &mut self,
        sqlite: &Connection,
        table: &Table,
        column: &str,
    ) -> Result<(), MigrateError> {
        let pairs: Vec<(i64, i64)> = sqlite
            .prepare(&format!(
                "SELECT id, {column} FROM {} WHERE {column} IS NOT NULL ORDER BY id",
                table.name
            ))
            .and_then(|mut s| {
                s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect::<Result<_, _>>()
            })
            .map_err(|e| self.read_error(table.name, e))?;
        for chunk in pairs.chunks(self.batch_rows.max(1000)) {
            let ids: Vec<i64> = chunk.iter().map(|p| p.0).collect();
            let values: Vec<i64> = chunk.iter().map(|p| p.1).collect();
            self.client
                .execute(
                    &format!(
                        "UPDATE {t} SET {column} = v.value
                         FROM unnest($1::bigint[], $2::bigint[]) AS v(id, value)
                         WHERE {t}.id = v.id AND {t}.{column} IS DISTINCT FROM v.value",
                        t = table.name
                    ),
                    &[&ids, &values],
                )
                .map_err(self.write_error("linking the rows of", table.name))?;
        }
        Ok(())
    }
}

fn write_error(
    target: &str,
    doing: &'static str,
    table: &'static str,
) -> impl FnOnce(postgres::Error) -> MigrateError + use<> {
    let target = target.to_string();
    move |source| MigrateError::Write {
        target,
        doing,
        table,
        source,
    }
}

/// `?1, ?2, …` for `n` values (SQLite).
fn placeholders(n: usize) -> String {
    (1..=n)
        .map(|i| format!("?{i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn count_sqlite(sqlite: &Connection, table: &str) -> rusqlite::Result<u64> {
    let rows: i64 = sqlite.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))?;
    Ok(u64::try_from(rows).unwrap_or(0))
}

/// Appends `value` to `cells`; its size in bytes, or what it was when it does not fit.
fn push(cells: &mut Cells, value: ValueRef<'_>) -> Result<usize, &'static str> {
    let found = |v: ValueRef<'_>| match v {
        ValueRef::Null => "NULL",
        ValueRef::Integer(_) => "an integer",
        ValueRef::Real(_) => "a real number",
        ValueRef::Text(_) => "text",
        ValueRef::Blob(_) => "bytes",
    };
    match (cells, value) {
        (Cells::Int(v), ValueRef::Null) => v.push(None),
        (Cells::Text(v), ValueRef::Null) => v.push(None),
        (Cells::Bytes(v), ValueRef::Null) => v.push(None),
        (Cells::Int(v), ValueRef::Integer(i)) => v.push(Some(i)),
        (Cells::Text(v), ValueRef::Text(t)) => {
            let text = std::str::from_utf8(t).map_err(|_| "text that is not UTF-8")?;
            v.push(Some(text.to_string()));
            return Ok(t.len());
        }
        (Cells::Bytes(v), ValueRef::Blob(b) | ValueRef::Text(b)) => {
            v.push(Some(b.to_vec()));
            return Ok(b.len());
        }
        (_, other) => return Err(found(other)),
    }
    Ok(8)
}

/// The key of a SQLite row, for messages.
fn row_key(row: &rusqlite::Row<'_>, columns: &[Column], key: &[&str]) -> String {
    let values: Vec<Value> = key
        .iter()
        .map(|k| {
            columns
                .iter()
                .position(|c| c.name == *k)
                .and_then(|i| row.get::<_, Value>(i).ok())
                .unwrap_or(Value::Null)
        })
        .collect();
    key_text(&values)
}

/// The search index rows of a batch of stories: each story's id and the words of its title and
/// text as the engine indexes them.
fn search_rows(columns: &[Column], batch: &[Cells], rows: usize) -> (Vec<i64>, Vec<Vec<String>>) {
    let find = |name: &str| columns.iter().position(|c| c.name == name);
    let (Some(id), Some(title), Some(summary), Some(content)) = (
        find("id"),
        find("title"),
        find("summary_html"),
        find("content_html"),
    ) else {
        return (Vec::new(), Vec::new());
    };
    let mut ids = Vec::with_capacity(rows);
    let mut words = Vec::with_capacity(rows);
    for row in 0..rows {
        let Some(entry) = batch[id].int(row) else {
            continue;
        };
        let text = crate::text::search_text(
            batch[title].text(row).unwrap_or_default(),
            batch[summary].text(row),
            batch[content].text(row),
        );
        ids.push(entry);
        words.push(index_words(&text));
    }
    (ids, words)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_of_another_engine_is_refused_before_anything_is_opened() {
        let dir = tempfile::tempdir().expect("tempdir");
        let missing = dir.path().join("none.db");
        for (url, why) in [
            ("sqlite:/var/lib/t.db", "it names a SQLite database"),
            ("mysql://u:secret@h/db", "unknown engine \"mysql\""),
            ("postgres://u@h", "needs a database name"),
        ] {
            let error =
                copy(&missing, url, "n", Options::default(), 0, &mut |_| {}).expect_err("refused");
            let text = error.to_string();
            assert!(matches!(error, MigrateError::NotPostgres { .. }), "{text}");
            assert!(text.contains(why), "{text}");
            assert!(!text.contains("secret"), "{text}");
            assert!(!missing.exists(), "nothing created for {url}");
        }
    }

    #[test]
    fn a_missing_sqlite_database_is_refused_before_connecting() {
        let dir = tempfile::tempdir().expect("tempdir");
        let missing = dir.path().join("none.db");
        // Port 9 on loopback: nothing is asked of it, the missing file is found first.
        let error = copy(
            &missing,
            "postgres://u@127.0.0.1:9/db",
            "n",
            Options::default(),
            0,
            &mut |_| {},
        )
        .expect_err("refused");
        assert!(
            matches!(error, MigrateError::NoDatabase(ref p) if *p == missing),
            "{error}"
        );
        assert!(!missing.exists());
    }

    #[test]
    fn messages_name_host_port_and_database_never_the_password() {
        let config: postgres::Config = "postgres://u:hunter2@db.example:5433/news"
            .parse()
            .expect("URL");
        assert_eq!(describe(&config), "db.example:5433/news");
        assert_eq!(
            redacted("postgres://u:hunter2@db.example/news"),
            "postgres://u:***@db.example/news"
        );
    }
}
