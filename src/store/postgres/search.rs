//! Full-text search over stories.

use super::PostgresStore;
use crate::model::StoredEntry;
use crate::store::StoreError;

pub(super) fn search(
    _store: &PostgresStore,
    _query: &str,
    _limit: usize,
) -> Result<Vec<StoredEntry>, StoreError> {
    Err(StoreError::Unsupported {
        what: "this operation",
        instead: "the PostgreSQL engine is not complete yet",
    })
}
