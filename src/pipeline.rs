//! `refresh(source)`: the one place that knows the order fetch → parse → normalize → store →
//! record outcome → schedule. It holds no SQL and no HTTP details; every failure is written onto
//! the source row and returned, never propagated as a panic, and never touches stored entries.

use std::sync::Arc;
use std::time::{Duration, Instant};

use url::Url;

use crate::fetch::{Document, FetchError, FetchOutcome, Fetcher, ResponseInfo};
pub use crate::model::Clock;
use crate::model::{FailureClass, OutcomeKind, RefreshStats, SourceId, SourceState, Timestamp};
use crate::parse::ParseError;
use crate::scheduler::{self, Policy};
use crate::store::{Fetched, Store, StoreError};

/// A source to refresh: its row, its key URL from feeds.toml, and its settings.
#[derive(Debug, Clone)]
pub struct SourceJob {
    pub id: SourceId,
    pub url: Url,
    pub allow_private: bool,
    pub policy: Policy,
    /// `identity` from feeds.toml, when set.
    pub identity: Option<crate::model::Identity>,
    pub tracking_params: Arc<Vec<String>>,
    /// `[dedup] origins`: whether republications' credits are looked for.
    pub origins: bool,
    /// How many entries of a document are stored, and how large each may be.
    pub limits: crate::normalize::Limits,
    /// The topics this source lists in feeds.toml.
    pub topics: Vec<crate::model::TopicSlug>,
    /// Topic rules in force: which topics each stored entry goes into.
    pub rules: Arc<crate::topics::TopicRules>,
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

    /// The server's `Retry-After`, when it sent one with an error status.
    pub fn retry_after(&self) -> Option<crate::fetch::RetryAfter> {
        match self {
            RefreshError::Fetch(e) => e.retry_after(),
            _ => None,
        }
    }

    pub fn class(&self) -> FailureClass {
        match self {
            RefreshError::Fetch(e) => e.class(),
            RefreshError::Parse(ParseError::Invalid(_)) => FailureClass::Parse,
            RefreshError::Parse(_) => FailureClass::NotAFeed,
            RefreshError::Store(_) | RefreshError::Internal(_) => FailureClass::Internal,
        }
    }
}

#[derive(Debug)]
pub enum Outcome {
    Stored(RefreshStats),
    /// 304: the server says nothing changed.
    NotModified,
    /// 200 with the same body as last time: not parsed again.
    Unchanged,
    Failed(RefreshError),
}

impl Outcome {
    /// How the refresh ended, without its details.
    pub fn kind(&self) -> OutcomeKind {
        match self {
            Outcome::Stored(_) => OutcomeKind::Stored,
            Outcome::NotModified => OutcomeKind::NotModified,
            Outcome::Unchanged => OutcomeKind::Unchanged,
            Outcome::Failed(_) => OutcomeKind::Failed,
        }
    }

    /// What a stored document did to the store.
    pub fn stored(&self) -> Option<RefreshStats> {
        match self {
            Outcome::Stored(stats) => Some(*stats),
            _ => None,
        }
    }
}

#[derive(Debug)]
pub struct RefreshReport {
    pub url: Url,
    pub outcome: Outcome,
    pub elapsed: Duration,
    /// When the source is due again.
    pub next_due: Timestamp,
    /// What the stored document deserves a warning for although it parsed (it yielded no
    /// entries while it has entry elements); also recorded on the source.
    pub warning: Option<String>,
}

pub fn system_clock() -> Clock {
    Arc::new(|| chrono::Utc::now().timestamp())
}

/// Picks a point in the jitter band; tests fix it.
pub type Jitter = Arc<dyn Fn() -> f64 + Send + Sync>;

pub fn random_jitter() -> Jitter {
    Arc::new(fastrand::f64)
}

#[derive(Clone)]
pub struct Pipeline {
    pub store: Arc<dyn Store>,
    pub fetcher: Fetcher,
    pub clock: Clock,
    pub jitter: Jitter,
}

/// What one successful exchange taught us for scheduling.
struct Learned {
    info: ResponseInfo,
    feed_hints: Option<crate::parse::FeedHints>,
    published: Vec<Timestamp>,
    /// The body, when one was fetched: sources sharing the URL use it instead of fetching.
    document: Option<Arc<Document>>,
    /// The parsed document's warning, when it deserved one.
    warning: Option<String>,
}

impl Pipeline {
    pub async fn refresh(&self, job: &SourceJob) -> RefreshReport {
        self.refresh_with(job, None).await.0
    }

    /// Refreshes sources that are fetched from the same URL with one request: the first is
    /// fetched as usual, and when that brings a document, the others are stored from it.
    pub async fn refresh_group(&self, jobs: &[SourceJob]) -> Vec<RefreshReport> {
        let mut reports = Vec::with_capacity(jobs.len());
        let mut shared: Option<Arc<Document>> = None;
        for job in jobs {
            let (report, document) = self.refresh_with(job, shared.clone()).await;
            if shared.is_none() {
                shared = document;
            }
            reports.push(report);
        }
        reports
    }

    async fn refresh_with(
        &self,
        job: &SourceJob,
        shared: Option<Arc<Document>>,
    ) -> (RefreshReport, Option<Arc<Document>>) {
        let started = Instant::now();
        let state = {
            let store = self.store.clone();
            let id = job.id;
            blocking(move || store.source_state(id))
                .await
                .and_then(|r| r.map_err(RefreshError::from))
        };
        let (outcome, mut learned, scheduled) = match &state {
            Ok(state) => match self.exchange(job, state, shared).await {
                Ok((outcome, learned, due)) => (outcome, Some(learned), Some(due)),
                Err(error) => (Outcome::Failed(error), None, None),
            },
            Err(e) => (
                Outcome::Failed(RefreshError::Internal(e.to_string())),
                None,
                None,
            ),
        };
        let now = (self.clock)();
        if let Outcome::Failed(error) = &outcome {
            let (message, class, status) = (error.to_string(), error.class(), error.http_status());
            let store = self.store.clone();
            let id = job.id;
            let recorded =
                blocking(move || store.record_failure(id, &message, class.as_str(), status, now))
                    .await;
            if let Err(e) | Ok(Err(e)) = recorded.map(|r| r.map_err(RefreshError::from)) {
                tracing::error!(url = %job.url, error = %e, "could not record failure");
            }
        }
        let next_due = match (&state, scheduled) {
            // Recorded with the refresh itself.
            (Ok(_), Some(due)) => due,
            (Ok(state), None) => {
                self.schedule(job, state, &outcome, learned.as_ref(), now)
                    .await
            }
            (Err(_), _) => scheduler::backoff(now, job.policy.base, 1, (self.jitter)()),
        };
        let elapsed = started.elapsed();
        let ms = elapsed.as_millis() as u64;
        crate::metrics::record_refresh(outcome.kind(), outcome.stored(), elapsed);
        match &outcome {
            Outcome::Stored(s) if s.switched_to_link => tracing::warn!(
                url = %job.url, churned = s.churned,
                "guids change on every fetch while links stay; identifying entries by link from now on"
            ),
            Outcome::Stored(s) => tracing::info!(
                url = %job.url, new = s.new, updated = s.updated, unchanged = s.unchanged, elapsed_ms = ms, "refreshed"
            ),
            Outcome::NotModified | Outcome::Unchanged => {
                tracing::debug!(url = %job.url, elapsed_ms = ms, "not modified")
            }
            Outcome::Failed(e) => {
                tracing::warn!(url = %job.url, status = e.http_status(), error = %e, class = e.class().as_str(), elapsed_ms = ms, "refresh failed")
            }
        }
        let warning = learned.as_mut().and_then(|l| l.warning.take());
        if let (Some(warning), Some(learned)) = (&warning, &learned) {
            tracing::warn!(
                source = %job.url, url = %learned.info.final_url,
                "the document parsed, but {warning}"
            );
        }
        let document = learned.and_then(|l| l.document);
        (
            RefreshReport {
                url: job.url.clone(),
                outcome,
                elapsed,
                next_due,
                warning,
            },
            document,
        )
    }

    /// Fetch, and for a new body parse, normalize and store; the source's next schedule is
    /// decided before the write and recorded with it. Returns when the source is due again.
    async fn exchange(
        &self,
        job: &SourceJob,
        state: &SourceState,
        shared: Option<Arc<Document>>,
    ) -> Result<(Outcome, Learned, Timestamp), RefreshError> {
        let id = job.id;
        let fetch_url = state
            .fetch_url
            .as_deref()
            .and_then(|u| Url::parse(u).ok())
            .unwrap_or_else(|| job.url.clone());
        let now = (self.clock)();
        // Once a day, ask without validators: some servers answer 304 forever once their
        // validators break.
        let unconditional = state
            .last_unconditional_at
            .is_none_or(|t| now - t >= scheduler::UNCONDITIONAL_EVERY);
        let validators = (!unconditional).then_some(&state.validators);
        let doc = match shared {
            // Another source with the same URL fetched it a moment ago in this cycle.
            Some(doc) if doc.requested_url == fetch_url => doc,
            _ => match self
                .fetcher
                .get(&fetch_url, validators, job.allow_private)
                .await?
            {
                FetchOutcome::Fetched(doc) => Arc::new(doc),
                FetchOutcome::NotModified(info) => {
                    let learned = Learned {
                        info,
                        feed_hints: None,
                        published: Vec::new(),
                        document: None,
                        warning: None,
                    };
                    let schedule = self.decide_schedule(job, state, &learned, (self.clock)());
                    let due = schedule.next_due_at;
                    let validators = learned.info.validators.clone();
                    self.record_not_modified(id, validators, 304, None, unconditional, schedule)
                        .await?;
                    return Ok((Outcome::NotModified, learned, due));
                }
            },
        };
        let body_hash = crate::text::hash_bytes(&doc.body);
        let info = doc.info.clone();
        if state.body_hash.as_deref() == Some(body_hash.as_str()) {
            // Same bytes as last time: nothing to parse.
            let learned = Learned {
                info,
                feed_hints: None,
                published: Vec::new(),
                document: Some(doc),
                warning: None,
            };
            let schedule = self.decide_schedule(job, state, &learned, (self.clock)());
            let due = schedule.next_due_at;
            self.record_not_modified(
                id,
                learned.info.validators.clone(),
                learned.info.status,
                Some(body_hash),
                unconditional,
                schedule,
            )
            .await?;
            return Ok((Outcome::Unchanged, learned, due));
        }
        let store = self.store.clone();
        let now = (self.clock)();
        let keep = doc.clone();
        let mut options = crate::normalize::Options {
            // The operator's choice, else link identity once guid churn was seen.
            identity: job
                .identity
                .or(state.identity_mode)
                .unwrap_or(crate::model::Identity::Auto),
            tracking_params: job.tracking_params.to_vec(),
            limits: job.limits,
            known: Default::default(),
            origins: job.origins,
        };
        let (rules, listed) = (job.rules.clone(), job.topics.clone());
        let scheduling = self.scheduling(job, state);
        let response = info.clone();
        // Parsing and normalizing are CPU work: keep them off the async workers.
        let (stats, hints, published, warning, due) =
            blocking(move || -> Result<_, RefreshError> {
                // What this source sent last time: those items are not normalized again.
                options.known = store.item_hashes(id)?;
                let crate::parse::ParsedFeed { feed, warning } = crate::parse::parse_document(
                    &doc.body,
                    &doc.info.final_url,
                    doc.content_type.as_deref(),
                )?;
                let hints = crate::parse::feed_hints(&doc.body);
                let mut normalized =
                    crate::normalize::normalize_with(&feed, &doc.info.final_url, now, &options);
                for entry in &mut normalized.entries {
                    entry.topics = rules.assign(&listed, &crate::topics::view(entry));
                }
                let unchanged: Vec<crate::model::EntryKey> = normalized
                    .unchanged
                    .iter()
                    .map(|(key, _)| key.clone())
                    .collect();
                let published: Vec<Timestamp> = normalized
                    .entries
                    .iter()
                    .map(|e| e.published)
                    .chain(normalized.unchanged.iter().map(|(_, at)| *at))
                    .collect();
                let schedule =
                    scheduling.decide(&succeeded(&response, Some(&hints), &published), now);
                let fetched = Fetched {
                    validators: &doc.info.validators,
                    status: doc.info.status,
                    body_hash: Some(&body_hash),
                    unconditional,
                    warning: warning.as_deref(),
                    unchanged: &unchanged,
                    schedule: Some(&schedule),
                };
                let stats = store.record_document(
                    id,
                    &normalized.meta,
                    &normalized.entries,
                    &fetched,
                    now,
                )?;
                Ok((stats, hints, published, warning, schedule.next_due_at))
            })
            .await??;
        Ok((
            Outcome::Stored(stats),
            Learned {
                info,
                feed_hints: Some(hints),
                published,
                document: Some(keep),
                warning,
            },
            due,
        ))
    }

    fn scheduling(&self, job: &SourceJob, state: &SourceState) -> Scheduling {
        Scheduling {
            url: job.url.clone(),
            policy: job.policy,
            previous: scheduler::Previous::from(state),
            jitter: (self.jitter)(),
        }
    }

    /// The schedule after a refresh that succeeded with what `learned` holds.
    fn decide_schedule(
        &self,
        job: &SourceJob,
        state: &SourceState,
        learned: &Learned,
        now: Timestamp,
    ) -> crate::model::ScheduleRecord {
        self.scheduling(job, state).decide(
            &succeeded(
                &learned.info,
                learned.feed_hints.as_ref(),
                &learned.published,
            ),
            now,
        )
    }

    /// A 304, or a body identical to the last: the source is healthy and nothing else changes.
    async fn record_not_modified(
        &self,
        id: SourceId,
        validators: crate::model::Validators,
        status: u16,
        body_hash: Option<String>,
        unconditional: bool,
        schedule: crate::model::ScheduleRecord,
    ) -> Result<(), RefreshError> {
        let store = self.store.clone();
        let now = (self.clock)();
        blocking(move || {
            let fetched = Fetched {
                validators: &validators,
                status,
                body_hash: body_hash.as_deref(),
                unconditional,
                warning: None,
                unchanged: &[],
                schedule: Some(&schedule),
            };
            store.record_not_modified(id, &fetched, now)
        })
        .await??;
        Ok(())
    }

    /// Decides when the source is due again ([`scheduler::after_refresh`]) and records it, with
    /// what the next decision needs.
    async fn schedule(
        &self,
        job: &SourceJob,
        state: &SourceState,
        outcome: &Outcome,
        learned: Option<&Learned>,
        now: Timestamp,
    ) -> Timestamp {
        let Some(refreshed) = refreshed(outcome, learned) else {
            // Not reached (an exchange that did not fail always learned something); the
            // configured interval is the safe answer.
            return scheduler::next_due(now, job.policy.base, (self.jitter)());
        };
        let record = self.scheduling(job, state).decide(&refreshed, now);
        let store = self.store.clone();
        let id = job.id;
        let due = record.next_due_at;
        match blocking(move || store.record_schedule(id, &record)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::error!(url = %job.url, error = %e, "could not record schedule"),
            Err(e) => tracing::error!(url = %job.url, error = %e, "could not record schedule"),
        }
        due
    }
}

/// The refresh in the scheduler's terms; `None` for a success that learned nothing, which an
/// exchange never returns.
fn refreshed(outcome: &Outcome, learned: Option<&Learned>) -> Option<scheduler::Refreshed> {
    if let Outcome::Failed(error) = outcome {
        return Some(scheduler::Refreshed::Failed {
            status: error.http_status(),
            retry_after: error.retry_after(),
        });
    }
    let learned = learned?;
    Some(succeeded(
        &learned.info,
        learned.feed_hints.as_ref(),
        &learned.published,
    ))
}

/// A successful refresh in the scheduler's terms: with the document's hints when one was parsed,
/// else not modified.
fn succeeded(
    info: &ResponseInfo,
    hints: Option<&crate::parse::FeedHints>,
    published: &[Timestamp],
) -> scheduler::Refreshed {
    let response = scheduler::Response {
        cache: info.cache.clone(),
        permanent_redirect: info.permanent_redirect.as_ref().map(ToString::to_string),
    };
    match hints {
        Some(hints) => scheduler::Refreshed::Succeeded {
            hints: scheduler::DocumentHints {
                interval: hints.interval(),
                skip_hours: hints.skip_hours.clone(),
                skip_days: hints.skip_days.clone(),
            },
            published: published.to_vec(),
            response,
        },
        None => scheduler::Refreshed::NotModified { response },
    }
}

/// What deciding a source's next schedule needs, taken before the refresh's blocking work.
struct Scheduling {
    url: Url,
    policy: scheduler::Policy,
    previous: scheduler::Previous,
    jitter: f64,
}

impl Scheduling {
    /// [`scheduler::after_refresh`], warning when a permanent redirect is adopted.
    fn decide(
        &self,
        refreshed: &scheduler::Refreshed,
        now: Timestamp,
    ) -> crate::model::ScheduleRecord {
        let decision =
            scheduler::after_refresh(&self.previous, self.policy, refreshed, now, self.jitter);
        if let Some(target) = &decision.adopted {
            tracing::warn!(url = %self.url, "moved permanently to {target}, update feeds.toml");
        }
        decision.next
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, RefreshError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| RefreshError::Internal(e.to_string()))
}
