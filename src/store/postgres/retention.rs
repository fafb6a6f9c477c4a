//! Retention: pruning old stories and sightings beyond each source's limit, with tombstones.

use super::PostgresStore;
use crate::model::Timestamp;
use crate::store::{PruneStats, StoreError};

const PENDING: StoreError = StoreError::Unsupported {
    what: "this operation",
    instead: "the PostgreSQL engine is not complete yet",
};

pub(super) fn prune(
    _store: &PostgresStore,
    _now: Timestamp,
    _retention: i64,
    _max_per_source: usize,
) -> Result<PruneStats, StoreError> {
    Err(PENDING)
}

pub(super) fn sightings(_store: &PostgresStore) -> Result<Vec<(String, String, i64)>, StoreError> {
    Err(PENDING)
}
