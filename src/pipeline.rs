//! `refresh(source)`: the one place that knows the order fetch → parse → normalize → store →
//! record outcome. It holds no SQL and no HTTP details; every failure is written onto the source
//! row and returned, never propagated as a panic, and never touches stored entries.

use std::sync::Arc;
use std::time::{Duration, Instant};

use url::Url;

use crate::fetch::{FetchError, FetchOutcome, Fetcher};
use crate::model::{RefreshStats, SourceId, Timestamp};
use crate::parse::ParseError;
use crate::store::{Store, StoreError};

/// A source to refresh: its row and the URL to fetch.
#[derive(Debug, Clone)]
pub struct SourceJob {
    pub id: SourceId,
    pub url: Url,
}

#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    #[error(transparent)]
    Fetch(#[from] FetchError),
    #[error(transparent)]
    Parse(#[from] ParseError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("internal error: {0}")]
    Internal(String),
}

impl RefreshError {
    pub fn http_status(&self) -> Option<u16> {
        match self {
            RefreshError::Fetch(e) => e.http_status(),
            _ => None,
        }
    }
}

#[derive(Debug)]
pub enum Outcome {
    Stored(RefreshStats),
    NotModified,
    Failed(RefreshError),
}

#[derive(Debug)]
pub struct RefreshReport {
    pub url: Url,
    pub outcome: Outcome,
    pub elapsed: Duration,
}

pub type Clock = Arc<dyn Fn() -> Timestamp + Send + Sync>;

pub fn system_clock() -> Clock {
    Arc::new(|| chrono::Utc::now().timestamp())
}

#[derive(Clone)]
pub struct Pipeline {
    pub store: Arc<Store>,
    pub fetcher: Fetcher,
    pub clock: Clock,
}

impl Pipeline {
    pub async fn refresh(&self, job: &SourceJob) -> RefreshReport {
        let started = Instant::now();
        let outcome = match self.try_refresh(job).await {
            Ok(outcome) => outcome,
            Err(error) => {
                let message = error.to_string();
                let status = error.http_status();
                let now = (self.clock)();
                let store = self.store.clone();
                let id = job.id;
                let recorded = tokio::task::spawn_blocking(move || {
                    store.record_failure(id, &message, status, now)
                })
                .await;
                match recorded {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => {
                        tracing::error!(url = %job.url, error = %e, "could not record failure")
                    }
                    Err(e) => {
                        tracing::error!(url = %job.url, error = %e, "could not record failure")
                    }
                }
                Outcome::Failed(error)
            }
        };
        let elapsed = started.elapsed();
        match &outcome {
            Outcome::Stored(s) => tracing::info!(
                url = %job.url, new = s.new, updated = s.updated, unchanged = s.unchanged,
                elapsed_ms = elapsed.as_millis() as u64, "refreshed"
            ),
            Outcome::NotModified => {
                tracing::debug!(url = %job.url, elapsed_ms = elapsed.as_millis() as u64, "not modified")
            }
            Outcome::Failed(e) => tracing::warn!(
                url = %job.url, error = %e, elapsed_ms = elapsed.as_millis() as u64, "refresh failed"
            ),
        }
        RefreshReport {
            url: job.url.clone(),
            outcome,
            elapsed,
        }
    }

    async fn try_refresh(&self, job: &SourceJob) -> Result<Outcome, RefreshError> {
        let store = self.store.clone();
        let id = job.id;
        let state = blocking(move || store.source_state(id)).await??;
        match self.fetcher.get(&job.url, &state.validators).await? {
            FetchOutcome::NotModified { validators } => {
                let now = (self.clock)();
                let store = self.store.clone();
                blocking(move || store.record_not_modified(id, &validators, 304, now)).await??;
                Ok(Outcome::NotModified)
            }
            FetchOutcome::Fetched(doc) => {
                let now = (self.clock)();
                let store = self.store.clone();
                // Parsing and normalizing are CPU work: keep them off the async workers.
                let stats = blocking(move || -> Result<RefreshStats, RefreshError> {
                    let feed = crate::parse::parse_feed(&doc.body, &doc.final_url)?;
                    let normalized = crate::normalize::normalize(&feed, &doc.final_url, now);
                    Ok(store.record_document(
                        id,
                        &normalized.meta,
                        &normalized.entries,
                        &doc.validators,
                        doc.status,
                        now,
                    )?)
                })
                .await??;
                Ok(Outcome::Stored(stats))
            }
        }
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, RefreshError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| RefreshError::Internal(e.to_string()))
}
