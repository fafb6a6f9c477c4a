//! Recording a parsed document: every entry as [`crate::dedup::decide`] says, in one transaction
//! with the source's validators.

use super::PostgresStore;
use crate::model::{FeedMeta, NewEntry, RefreshStats, SourceId, Timestamp};
use crate::store::{Fetched, StoreError};

pub(super) fn record_document(
    _store: &PostgresStore,
    _source: SourceId,
    _meta: &FeedMeta,
    _entries: &[NewEntry],
    _fetched: &Fetched<'_>,
    _now: Timestamp,
) -> Result<RefreshStats, StoreError> {
    Err(StoreError::Unsupported {
        what: "this operation",
        instead: "the PostgreSQL engine is not complete yet",
    })
}
