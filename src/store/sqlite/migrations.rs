//! Schema migrations: the numbered files in `migrations/`, embedded at build time and applied in
//! order; the schema version is `PRAGMA user_version`.

use rusqlite::Connection;

use super::StoreError;

/// Every migration, in order. The version after applying `MIGRATIONS[i]` is `i + 1`; a test checks
/// that this list matches the files in `migrations/`.
pub(super) const MIGRATIONS: &[(&str, &str)] = &[
    (
        "0001_initial.sql",
        include_str!("../../../migrations/sqlite/0001_initial.sql"),
    ),
    (
        "0002_polite_fetching.sql",
        include_str!("../../../migrations/sqlite/0002_polite_fetching.sql"),
    ),
    (
        "0003_dedup.sql",
        include_str!("../../../migrations/sqlite/0003_dedup.sql"),
    ),
    (
        "0004_near_duplicates.sql",
        include_str!("../../../migrations/sqlite/0004_near_duplicates.sql"),
    ),
    (
        "0005_retention.sql",
        include_str!("../../../migrations/sqlite/0005_retention.sql"),
    ),
    (
        "0006_topic_rules.sql",
        include_str!("../../../migrations/sqlite/0006_topic_rules.sql"),
    ),
    (
        "0007_search.sql",
        include_str!("../../../migrations/sqlite/0007_search.sql"),
    ),
    (
        "0008_source_warning.sql",
        include_str!("../../../migrations/sqlite/0008_source_warning.sql"),
    ),
    (
        "0009_sighting_rule.sql",
        include_str!("../../../migrations/sqlite/0009_sighting_rule.sql"),
    ),
    (
        "0010_item_hash.sql",
        include_str!("../../../migrations/sqlite/0010_item_hash.sql"),
    ),
    (
        "0011_title_key.sql",
        include_str!("../../../migrations/sqlite/0011_title_key.sql"),
    ),
    (
        "0012_near_index_covering.sql",
        include_str!("../../../migrations/sqlite/0012_near_index_covering.sql"),
    ),
    (
        "0013_origins.sql",
        include_str!("../../../migrations/sqlite/0013_origins.sql"),
    ),
];

pub(super) fn apply(conn: &mut Connection) -> Result<(), StoreError> {
    // 0007 indexes existing stories through this function.
    super::search::register(conn).map_err(|source| StoreError::Migration {
        name: "registering search_text",
        source,
    })?;
    let current: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(|source| StoreError::Migration {
            name: "reading user_version",
            source,
        })?;
    let known = MIGRATIONS.len() as i64;
    if current > known {
        return Err(StoreError::TooNew {
            found: current,
            known,
        });
    }
    for (index, (name, sql)) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        let tx = conn
            .transaction()
            .map_err(|source| StoreError::Migration { name, source })?;
        tx.execute_batch(sql)
            .map_err(|source| StoreError::Migration { name, source })?;
        tx.pragma_update(None, "user_version", index as i64 + 1)
            .map_err(|source| StoreError::Migration { name, source })?;
        tx.commit()
            .map_err(|source| StoreError::Migration { name, source })?;
    }
    Ok(())
}
