//! Moving the WAL into the database beside refreshes, and the trivial query `/healthz` asks.

use rusqlite::Connection;

use super::{Context, SqliteStore};
use crate::store::StoreError;

/// Whether the database answers a trivial query.
pub(super) fn ping(store: &SqliteStore) -> Result<(), StoreError> {
    store.with_reader(|conn| {
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
pub(super) fn checkpoint(store: &SqliteStore) -> Result<(i64, i64), StoreError> {
    store.signals.checkpoint_started();
    if store.path.is_none() || store.access.is_read_only() {
        return Ok((0, 0));
    }
    store.with_reader(passive_checkpoint)?;
    // Even when that pass copied all it saw, a refresh may have been under way and have
    // committed since. With writes held off, nothing new arrives while this one copies; when
    // nothing is left to copy, it does nothing (not even an fsync).
    store.with_writer(|conn| passive_checkpoint(conn))
}

/// `PRAGMA wal_checkpoint(PASSIVE)` on `conn`: the frames in the WAL, and how many of them are
/// in the database now.
fn passive_checkpoint(conn: &Connection) -> Result<(i64, i64), StoreError> {
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
        Ok((r.get(1)?, r.get(2)?))
    })
    .context("checkpointing")
}
