//! `backup PATH`: a consistent copy of the database while the daemon keeps writing.
//!
//! `VACUUM INTO` runs on a read connection: in WAL mode it reads one snapshot while the writer
//! goes on, and produces a compact, self-contained database file (no WAL beside it). The copy is
//! written under a temporary name in the target's directory, synced, then linked to its final
//! name, so PATH is either absent or a complete backup, and an existing file is never replaced.

use std::path::Path;

use super::{Context, SqliteStore};
use crate::store::StoreError;

/// Writes a consistent copy of the database to `dest`, which must not exist.
pub(super) fn backup(store: &SqliteStore, dest: &Path) -> Result<(), StoreError> {
    if dest.symlink_metadata().is_ok() {
        return Err(StoreError::BackupExists(dest.to_path_buf()));
    }
    let io_error = |source| StoreError::Backup {
        path: dest.to_path_buf(),
        source,
    };
    let (dir, partial) = crate::files::temp_beside(dest, "backup", "partial");
    let Some(partial_str) = partial.to_str() else {
        return Err(io_error(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "the path is not valid UTF-8",
        )));
    };
    let written = store.with_reader(|conn| {
        conn.execute("VACUUM INTO ?1", [partial_str])
            .context("writing a backup (VACUUM INTO)")
    });
    let finished = written.and_then(|_| {
        // SQLite does not sync the file VACUUM INTO writes.
        std::fs::File::open(&partial)
            .and_then(|f| f.sync_all())
            .map_err(io_error)?;
        publish(&partial, dest).map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => StoreError::BackupExists(dest.to_path_buf()),
            _ => io_error(e),
        })?;
        crate::files::sync_dir(&dir).map_err(io_error)
    });
    let _ = std::fs::remove_file(&partial);
    finished
}

/// Gives `partial` the name `dest` unless `dest` exists: a hard link fails on an existing name
/// instead of replacing it (rename would replace it). File systems without hard links get a
/// rename after a last check.
fn publish(partial: &Path, dest: &Path) -> std::io::Result<()> {
    match std::fs::hard_link(partial, dest) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(e),
        Err(_) if dest.symlink_metadata().is_ok() => Err(std::io::ErrorKind::AlreadyExists.into()),
        Err(_) => std::fs::rename(partial, dest),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    #[test]
    fn backup_is_a_complete_database_and_never_overwrites() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SqliteStore::open(&dir.path().join("live.db")).expect("open");
        store
            .with_writer(|c| {
                c.execute_batch("CREATE TABLE extra(x); INSERT INTO extra VALUES (1), (2);")
                    .context("test setup")
            })
            .expect("write");
        let dest = dir.path().join("copy.db");
        store.backup(&dest).expect("backup");
        let copy = rusqlite::Connection::open(&dest).expect("open copy");
        let check: String = copy
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .expect("check");
        assert_eq!(check, "ok");
        let rows: i64 = copy
            .query_row("SELECT count(*) FROM extra", [], |r| r.get(0))
            .expect("count");
        assert_eq!(rows, 2);

        let before = std::fs::read(&dest).expect("read");
        let err = store.backup(&dest).expect_err("exists");
        assert!(matches!(err, StoreError::BackupExists(_)), "{err}");
        assert_eq!(std::fs::read(&dest).expect("read"), before);
        let leftovers = std::fs::read_dir(dir.path())
            .expect("dir")
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().contains("partial"))
            .count();
        assert_eq!(leftovers, 0);
    }
}
