//! A database that cannot be written: a full disk, a read-only file system.
//!
//! Neither is a reason to stop serving what is stored. The daemon opens such a database read-only,
//! serves it, reports the condition, and takes the writer back once writing works again; commands
//! that only read (`status`, `backup`, `export-opml`, `test-topic`) never need to write at all.
//! This module owns how connections are opened and the classification of "cannot write" errors;
//! it never decides what to do about them.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use rusqlite::{Connection, ErrorCode, OpenFlags};

use super::{SqliteStore, configure, migrations, open_connection, open_writer};
use crate::store::{Store, StoreError};

/// How the store opens connections, and why writing fails when it does.
#[derive(Default)]
pub(super) struct Access {
    /// Connections are opened read-only, through this URI (`mode=ro`, or `immutable=1` where
    /// SQLite could not even create its shared-memory file).
    read_only: Mutex<Option<String>>,
    /// Set while the last write failed for want of space or write access.
    troubled: AtomicBool,
    trouble: Mutex<Option<String>>,
}

impl Access {
    pub(super) fn is_read_only(&self) -> bool {
        self.read_only
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .is_some()
    }

    pub(super) fn open_reader(&self, path: &Path) -> Result<Connection, StoreError> {
        let uri = self
            .read_only
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        match uri {
            Some(uri) => open_uri(path, &uri),
            None => open_connection(path),
        }
    }

    /// Remembers why a write failed when it failed for want of space or write access, and forgets
    /// it once a write succeeds again.
    pub(super) fn note_write<T>(&self, result: &Result<T, StoreError>) {
        match result {
            Ok(_) if !self.troubled.load(Ordering::Acquire) => {}
            Ok(_) => self.set_trouble(None),
            Err(e) => {
                if let Some(why) = e.cannot_write() {
                    self.set_trouble(Some(format!("{why} ({e})")));
                }
            }
        }
    }

    fn set_trouble(&self, trouble: Option<String>) {
        let mut slot = self
            .trouble
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        self.troubled.store(trouble.is_some(), Ordering::Release);
        *slot = trouble;
    }

    fn trouble(&self) -> Option<String> {
        if !self.troubled.load(Ordering::Acquire) {
            return None;
        }
        self.trouble
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

impl StoreError {
    /// What keeps the database from being written, when this error says so: the disk is full,
    /// the file or its file system is read-only, or SQLite could not create its side files (which
    /// is how both look while opening).
    pub fn cannot_write(&self) -> Option<&'static str> {
        let source = match self {
            StoreError::Open { source, .. }
            | StoreError::Migration { source, .. }
            | StoreError::Sql { source, .. } => source,
            StoreError::NeedsMigration { .. } => return Some("the schema cannot be migrated"),
            _ => return None,
        };
        match source.sqlite_error_code()? {
            ErrorCode::DiskFull => Some("the disk is full"),
            ErrorCode::ReadOnly => Some("the database is read-only"),
            ErrorCode::CannotOpen => Some("the database file cannot be opened for writing"),
            ErrorCode::SystemIoFailure => {
                Some("the disk cannot be written (full, or a read-only file system)")
            }
            _ => None,
        }
    }
}

impl SqliteStore {
    /// Opens an existing database without writing to it: not even the side files SQLite keeps
    /// beside a WAL database are created when the file system refuses them. The schema must be
    /// current (migrating needs write access: [`StoreError::NeedsMigration`]).
    pub fn open_read_only(path: &Path) -> Result<SqliteStore, StoreError> {
        let (conn, uri) = current_read_only_connection(path)?;
        let store = SqliteStore::from_connection(Some(path.to_path_buf()), conn);
        *store
            .access
            .read_only
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(uri);
        Ok(store)
    }

    /// Opens the database to read: read-only when it exists, so that a full disk or a read-only
    /// file system does not stop a command that only reads, else created as [`SqliteStore::open`]
    /// does (an older schema is migrated the same way).
    pub fn open_for_reading(path: &Path) -> Result<SqliteStore, StoreError> {
        if !path.exists() {
            return SqliteStore::open(path);
        }
        match SqliteStore::open_read_only(path) {
            Err(StoreError::NeedsMigration { .. }) => SqliteStore::open(path),
            other => other,
        }
    }
}

/// Why the database cannot be written now, when it cannot: opened read-only, or the last
/// write failed for want of space or write access. `None` when writing works.
pub(super) fn condition(store: &SqliteStore) -> Option<String> {
    if store.access.is_read_only() {
        return Some(store.access.trouble().unwrap_or_else(|| {
            "the database is open read-only: the disk could not be written".to_string()
        }));
    }
    store.access.trouble()
}

/// Records why a read-only store could not be opened for writing, for [`Store::condition`].
pub(super) fn set_condition(store: &SqliteStore, why: String) {
    store.access.set_trouble(Some(why));
}

/// Takes the writer back for a store opened read-only, once the database can be written
/// again (space was freed, the file system remounted read-write): opens a writing connection,
/// applies pending migrations, and drops the read-only readers. Whether it did: `false` when
/// the store was writable already or still cannot write ([`Store::condition`] says why).
pub(super) fn reopen_writable(store: &SqliteStore) -> bool {
    if !store.access.is_read_only() {
        return false;
    }
    let Some(path) = store.path.as_deref() else {
        return false;
    };
    let attempt = open_writer(path).and_then(|mut conn| {
        migrations::apply(&mut conn)?;
        // A write that proves the disk takes it: opening alone succeeds on a full disk
        // once SQLite's side files exist.
        conn.execute(
            "INSERT INTO settings (key, value) VALUES ('writable_at', strftime('%s', 'now'))
             ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            [],
        )
        .map_err(|source| StoreError::Sql {
            context: "checking that the database can be written",
            source,
        })?;
        Ok(conn)
    });
    let conn = match attempt {
        Ok(conn) => conn,
        Err(e) => {
            store.access.note_write::<()>(&Err(e));
            return false;
        }
    };
    {
        let mut writer = store
            .writer
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // A read-only store never began a batch.
        writer.batch = None;
        writer.conn = conn;
    }
    // Readers opened read-only (possibly immutable) would not see what is written now.
    store
        .readers
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clear();
    *store
        .access
        .read_only
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = None;
    store.access.set_trouble(None);
    store.invalidate();
    true
}

/// A read-only connection and the URI it was opened with. `mode=ro` first; on a read-only file
/// system where the WAL's shared-memory file does not exist and cannot be created, `immutable=1`
/// — safe only because then nothing can be writing the database, and only when no WAL holds
/// committed transactions that immutable reading would skip.
/// A read-only connection to the existing database at `path` (as [`SqliteStore::open_read_only`]
/// opens it), refused unless its schema is the one this build writes: for copying the database
/// elsewhere (`store::migrate`), which reads every table as it is now.
pub(crate) fn current_read_only_connection(
    path: &Path,
) -> Result<(Connection, String), StoreError> {
    let (conn, uri) = open_read_only_connection(path)?;
    let found: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(|source| StoreError::Open {
            path: path.to_path_buf(),
            source,
        })?;
    let known = migrations::MIGRATIONS.len() as i64;
    if found > known {
        return Err(StoreError::TooNew { found, known });
    }
    if found < known {
        return Err(StoreError::NeedsMigration {
            path: path.to_path_buf(),
            found,
            known,
        });
    }
    Ok((conn, uri))
}

fn open_read_only_connection(path: &Path) -> Result<(Connection, String), StoreError> {
    let base = file_uri(path);
    let uri = format!("{base}?mode=ro");
    match open_readable(path, &uri) {
        Ok(conn) => Ok((conn, uri)),
        Err(e) if !wal_is_empty(path) => Err(e),
        Err(_) => {
            let uri = format!("{base}?immutable=1");
            Ok((open_readable(path, &uri)?, uri))
        }
    }
}

/// A read-only connection through `uri` that has read the schema: opening alone succeeds even
/// where the first read will not (SQLite opens the WAL's side files lazily).
fn open_readable(path: &Path, uri: &str) -> Result<Connection, StoreError> {
    let conn = open_uri(path, uri)?;
    conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
        r.get::<_, i64>(0)
    })
    .map_err(|source| StoreError::Open {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(conn)
}

fn open_uri(path: &Path, uri: &str) -> Result<Connection, StoreError> {
    let opened = |source| StoreError::Open {
        path: path.to_path_buf(),
        source,
    };
    let conn = Connection::open_with_flags(
        uri,
        OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_URI
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(opened)?;
    configure(&conn).map_err(opened)?;
    Ok(conn)
}

/// `file:` URI of `path` (absolute, percent-encoded: a path may hold `?` or `#`).
fn file_uri(path: &Path) -> String {
    let absolute: PathBuf = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    match url::Url::from_file_path(&absolute) {
        Ok(url) => url.to_string(),
        Err(()) => format!("file:{}", absolute.display()),
    }
}

fn wal_is_empty(path: &Path) -> bool {
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    std::fs::metadata(PathBuf::from(wal)).map_or(true, |m| m.len() == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_read_only_store_reads_and_refuses_writes_with_a_condition() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("odd ?#name.db");
        let store = SqliteStore::open(&path).expect("open");
        store
            .sync_sources(&[crate::store::SourceSpec {
                url: "https://a.example/feed".into(),
                title: None,
                topics: Vec::new(),
            }])
            .expect("sync");
        drop(store);

        let read = SqliteStore::open_read_only(&path).expect("read-only");
        assert_eq!(read.source_states().expect("states").len(), 1);
        assert!(read.condition().is_some(), "read-only is a condition");
        let e = read.sync_sources(&[]).expect_err("no writes");
        assert_eq!(e.cannot_write(), Some("the database is read-only"));
        assert_eq!(read.checkpoint().expect("no checkpoint"), (0, 0));

        // Writable again: the writer comes back, and what it writes is read.
        assert!(read.reopen_writable());
        assert_eq!(read.condition(), None);
        read.sync_sources(&[]).expect("writes again");
        assert_eq!(read.source_states().expect("states").len(), 0);
        assert!(!read.reopen_writable(), "already writable");
    }

    #[test]
    fn an_older_schema_needs_write_access() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("old.db");
        let conn = Connection::open(&path).expect("conn");
        conn.pragma_update(None, "user_version", 1)
            .expect("version");
        drop(conn);
        assert!(matches!(
            SqliteStore::open_read_only(&path),
            Err(StoreError::NeedsMigration { found: 1, .. })
        ));
    }
}
