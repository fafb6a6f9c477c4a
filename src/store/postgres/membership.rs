//! Topic membership: settings, rebuilding every story's topics, visiting stories.

use std::ops::ControlFlow;

use super::PostgresStore;
use crate::model::{SourceId, StoryForTopics, Timestamp, TopicSlug};
use crate::store::StoreError;

const PENDING: StoreError = StoreError::Unsupported {
    what: "this operation",
    instead: "the PostgreSQL engine is not complete yet",
};

pub(super) fn setting(_store: &PostgresStore, _key: &str) -> Result<Option<String>, StoreError> {
    Err(PENDING)
}

pub(super) fn rebuild_membership(
    _store: &PostgresStore,
    _fingerprint: &str,
    _now: Timestamp,
    _assign: &mut dyn FnMut(SourceId, &StoryForTopics) -> Vec<TopicSlug>,
) -> Result<usize, StoreError> {
    Err(PENDING)
}

pub(super) fn visit_stories(
    _store: &PostgresStore,
    _visit: &mut dyn FnMut(&StoryForTopics) -> ControlFlow<()>,
) -> Result<(), StoreError> {
    Err(PENDING)
}
