//! Schema migrations for PostgreSQL: the numbered files in `migrations/postgres/`, embedded at
//! build time and applied in order, each in a transaction, all under a session advisory lock so
//! that nodes starting together apply each migration once. The version is the highest row of
//! `schema_migrations`.

use postgres::Client;

use super::StoreError;

/// Every migration, in order; a test checks that this list matches `migrations/postgres/`.
pub(crate) const MIGRATIONS: &[(&str, &str)] = &[
    (
        "0001_initial.sql",
        include_str!("../../../migrations/postgres/0001_initial.sql"),
    ),
    (
        "0002_host_turn.sql",
        include_str!("../../../migrations/postgres/0002_host_turn.sql"),
    ),
    (
        "0003_lighter_writes.sql",
        include_str!("../../../migrations/postgres/0003_lighter_writes.sql"),
    ),
    (
        "0004_host_turn_releases.sql",
        include_str!("../../../migrations/postgres/0004_host_turn_releases.sql"),
    ),
];

/// The advisory lock key nodes take while migrating ("tributary" in ASCII, folded to 63 bits).
const MIGRATION_LOCK: i64 = 0x7472_6962_7574_6172;

pub(super) fn apply(client: &mut Client) -> Result<(), StoreError> {
    let failed = |name: &'static str| move |source| StoreError::PostgresMigration { name, source };
    client
        .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])
        .map_err(failed("taking the migration lock"))?;
    let result = apply_locked(client);
    // The lock is the session's: released here, or when the connection closes on failure.
    let unlocked = client
        .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK])
        .map_err(failed("releasing the migration lock"));
    result.and(unlocked.map(|_| ()))
}

fn apply_locked(client: &mut Client) -> Result<(), StoreError> {
    let failed = |name: &'static str| move |source| StoreError::PostgresMigration { name, source };
    client
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                 version    BIGINT PRIMARY KEY,
                 name       TEXT NOT NULL,
                 applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
             )",
        )
        .map_err(failed("creating schema_migrations"))?;
    let current: i64 = client
        .query_one(
            "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
            &[],
        )
        .and_then(|row| row.try_get(0))
        .map_err(failed("reading the schema version"))?;
    let known = MIGRATIONS.len() as i64;
    if current > known {
        return Err(StoreError::TooNew {
            found: current,
            known,
        });
    }
    for (index, (name, sql)) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        let version = index as i64 + 1;
        let mut tx = client.transaction().map_err(failed(name))?;
        tx.batch_execute(sql).map_err(failed(name))?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
            &[&version, &name],
        )
        .map_err(failed(name))?;
        tx.commit().map_err(failed(name))?;
    }
    Ok(())
}
