//! Sources: syncing with feeds.toml, their state and schedule, what each fetch recorded, and the
//! leases that give each due source to one node.

use std::collections::HashMap;

use super::PostgresStore;
use crate::model::{EntryKey, ScheduleRecord, SourceId, SourceLabel, SourceState, Timestamp};
use crate::store::{Fetched, SourceSpec, StoreError};

const PENDING: StoreError = StoreError::Unsupported {
    what: "this operation",
    instead: "the PostgreSQL engine is not complete yet",
};

pub(super) fn sync_sources(
    _store: &PostgresStore,
    _specs: &[SourceSpec],
) -> Result<Vec<SourceId>, StoreError> {
    Err(PENDING)
}

pub(super) fn source_state(
    _store: &PostgresStore,
    _id: SourceId,
) -> Result<SourceState, StoreError> {
    Err(PENDING)
}

pub(super) fn source_states(_store: &PostgresStore) -> Result<Vec<SourceState>, StoreError> {
    Err(PENDING)
}

pub(super) fn adopted_fetch_urls(
    _store: &PostgresStore,
) -> Result<HashMap<SourceId, String>, StoreError> {
    Err(PENDING)
}

pub(super) fn source_labels(
    _store: &PostgresStore,
) -> Result<HashMap<String, SourceLabel>, StoreError> {
    Err(PENDING)
}

pub(super) fn daily_new_entries(
    _store: &PostgresStore,
    _days: usize,
    _now: Timestamp,
) -> Result<HashMap<SourceId, Vec<u64>>, StoreError> {
    Err(PENDING)
}

pub(super) fn record_not_modified(
    _store: &PostgresStore,
    _source: SourceId,
    _fetched: &Fetched<'_>,
    _now: Timestamp,
) -> Result<(), StoreError> {
    Err(PENDING)
}

pub(super) fn record_failure(
    _store: &PostgresStore,
    _source: SourceId,
    _error: &str,
    _class: &str,
    _status: Option<u16>,
    _now: Timestamp,
) -> Result<(), StoreError> {
    Err(PENDING)
}

pub(super) fn item_hashes(
    _store: &PostgresStore,
    _source: SourceId,
) -> Result<HashMap<i64, EntryKey>, StoreError> {
    Err(PENDING)
}

pub(super) fn record_schedule(
    _store: &PostgresStore,
    _source: SourceId,
    _record: &ScheduleRecord,
) -> Result<(), StoreError> {
    Err(PENDING)
}

pub(super) fn republications(
    _store: &PostgresStore,
) -> Result<HashMap<SourceId, (u64, u64)>, StoreError> {
    Err(PENDING)
}
