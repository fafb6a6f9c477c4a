//! Topic pages and summaries.

use std::collections::HashMap;

use super::PostgresStore;
use crate::model::{PageCursor, TopicSlice, TopicSlug, TopicSummary};
use crate::store::StoreError;

const PENDING: StoreError = StoreError::Unsupported {
    what: "this operation",
    instead: "the PostgreSQL engine is not complete yet",
};

pub(super) fn topic_page(
    _store: &PostgresStore,
    _topic: &TopicSlug,
    _before: Option<PageCursor>,
    _limit: usize,
) -> Result<TopicSlice, StoreError> {
    Err(PENDING)
}

pub(super) fn topic_summaries(
    _store: &PostgresStore,
) -> Result<HashMap<String, TopicSummary>, StoreError> {
    Err(PENDING)
}
