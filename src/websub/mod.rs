//! WebSub publishing (<https://www.w3.org/TR/websub/>): when an ingest changes a topic, its feed
//! URLs are announced to the configured hub with `hub.mode=publish`, so subscribers hear of new
//! entries without polling. The timing (at most one announcement per feed a minute, retries with
//! capped backoff) is the pure [`PublishPolicy`]; [`run`] is the task that applies it.
//!
//! It talks only to the operator's hub; it fetches, parses and stores nothing.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;
use url::Url;

use crate::publish::Format;
use crate::store::Store;

/// How often announcements may go out, and how failed ones are retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// Least time between two announcements of one feed (successful or not).
    pub min_interval: Duration,
    /// Retries wait `min_interval`, then twice that, and so on, up to this.
    pub max_backoff: Duration,
    /// How long one request to the hub may take.
    pub request_timeout: Duration,
}

impl Default for Timing {
    fn default() -> Timing {
        Timing {
            min_interval: Duration::from_secs(60),
            max_backoff: Duration::from_secs(60 * 60),
            request_timeout: Duration::from_secs(15),
        }
    }
}

#[derive(Debug, Clone, Default)]
struct FeedState {
    /// Changed since the last successful announcement.
    pending: bool,
    last_attempt: Option<Instant>,
    failures: u32,
}

/// Which feeds to announce when. Feed URLs are marked changed as ingests commit; a changed feed
/// is due once `min_interval` has passed since its last attempt, or after a failure the backoff
/// for the failures in a row. Pure: every method takes `now`.
#[derive(Debug, Clone)]
pub struct PublishPolicy {
    timing: Timing,
    feeds: HashMap<String, FeedState>,
}

impl PublishPolicy {
    pub fn new(timing: Timing) -> PublishPolicy {
        PublishPolicy {
            timing,
            feeds: HashMap::new(),
        }
    }

    pub fn changed(&mut self, feed_url: &str) {
        self.feeds.entry(feed_url.to_string()).or_default().pending = true;
    }

    /// When a pending feed may next be announced; `None` if it never was (at once).
    fn ready_at(&self, state: &FeedState) -> Option<Instant> {
        let last = state.last_attempt?;
        let wait = if state.failures == 0 {
            self.timing.min_interval
        } else {
            let doubled = 2u32.saturating_pow(state.failures - 1);
            self.timing
                .min_interval
                .saturating_mul(doubled)
                .min(self.timing.max_backoff)
                .max(self.timing.min_interval)
        };
        Some(last + wait)
    }

    /// The feeds to announce now, in URL order.
    pub fn due(&self, now: Instant) -> Vec<String> {
        let mut due: Vec<String> = self
            .feeds
            .iter()
            .filter(|(_, s)| s.pending && self.ready_at(s).is_none_or(|at| at <= now))
            .map(|(url, _)| url.clone())
            .collect();
        due.sort();
        due
    }

    /// When the next pending feed becomes due (`now` for one never announced), if any is pending.
    pub fn next_due(&self, now: Instant) -> Option<Instant> {
        self.feeds
            .values()
            .filter(|s| s.pending)
            .map(|s| self.ready_at(s).unwrap_or(now))
            .min()
    }

    /// The hub accepted the announcement.
    pub fn succeeded(&mut self, feed_url: &str, now: Instant) {
        let state = self.feeds.entry(feed_url.to_string()).or_default();
        state.pending = false;
        state.failures = 0;
        state.last_attempt = Some(now);
    }

    /// The announcement failed: it stays pending and waits out the backoff.
    pub fn failed(&mut self, feed_url: &str, now: Instant) {
        let state = self.feeds.entry(feed_url.to_string()).or_default();
        state.failures = state.failures.saturating_add(1);
        state.last_attempt = Some(now);
    }
}

/// The feed URLs of a topic, one per format, as the server publishes them.
pub fn topic_feed_urls(base_url: &Url, topic: &str) -> Vec<String> {
    Format::ALL
        .iter()
        .map(|f| crate::publish::topic_feed_url(base_url.as_str(), topic, *f))
        .collect()
}

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("hub {hub} answered HTTP {status} for {url}")]
    Status {
        hub: String,
        url: String,
        status: u16,
    },
    #[error("cannot reach hub {hub} for {url}: {source}")]
    Request {
        hub: String,
        url: String,
        #[source]
        source: reqwest::Error,
    },
}

/// Sends one `hub.mode=publish` for `feed_url` (WebSub §7 leaves publishing to the hub; this is
/// the form-encoded ping hubs such as the reference hub accept).
pub async fn publish(
    client: &reqwest::Client,
    hub: &Url,
    feed_url: &str,
) -> Result<(), PublishError> {
    let response = client
        .post(hub.clone())
        .form(&[("hub.mode", "publish"), ("hub.url", feed_url)])
        .send()
        .await
        .map_err(|source| PublishError::Request {
            hub: hub.to_string(),
            url: feed_url.to_string(),
            source,
        })?;
    let status = response.status();
    if status.is_success() {
        Ok(())
    } else {
        Err(PublishError::Status {
            hub: hub.to_string(),
            url: feed_url.to_string(),
            status: status.as_u16(),
        })
    }
}

/// Announces changed topic feeds to `hub` until `stop` turns true.
pub async fn run(
    store: Arc<dyn Store>,
    hub: Url,
    base_url: Url,
    timing: Timing,
    mut stop: watch::Receiver<bool>,
) {
    let client = match reqwest::Client::builder()
        .timeout(timing.request_timeout)
        .user_agent(concat!("tributary/", env!("CARGO_PKG_VERSION")))
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "cannot build the WebSub client; not publishing");
            return;
        }
    };
    let mut policy = PublishPolicy::new(timing);
    loop {
        for topic in store.take_changed_topics() {
            for url in topic_feed_urls(&base_url, &topic) {
                policy.changed(&url);
            }
        }
        for url in policy.due(Instant::now()) {
            // A slow or unreachable hub must not hold up a stop: the announcement is dropped.
            let result = tokio::select! {
                result = publish(&client, &hub, &url) => result,
                _ = stop.wait_for(|s| *s) => return,
            };
            match result {
                Ok(()) => {
                    tracing::debug!(url = %url, "announced to the WebSub hub");
                    policy.succeeded(&url, Instant::now());
                }
                Err(e) => {
                    tracing::warn!(url = %url, error = %e, "WebSub publish failed; will retry");
                    policy.failed(&url, Instant::now());
                }
            }
        }
        let next = policy.next_due(Instant::now());
        tokio::select! {
            _ = store.topics_changed() => {}
            _ = sleep_until(next) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timing() -> Timing {
        Timing {
            min_interval: Duration::from_secs(60),
            max_backoff: Duration::from_secs(300),
            request_timeout: Duration::from_secs(5),
        }
    }

    const FEED: &str = "http://h.test/topics/news.atom";

    #[test]
    fn a_first_change_is_due_at_once() {
        let t0 = Instant::now();
        let mut policy = PublishPolicy::new(timing());
        assert!(policy.due(t0).is_empty());
        policy.changed(FEED);
        assert_eq!(policy.due(t0), [FEED]);
    }

    #[test]
    fn a_feed_is_announced_at_most_once_a_minute() {
        let t0 = Instant::now();
        let mut policy = PublishPolicy::new(timing());
        policy.changed(FEED);
        policy.succeeded(FEED, t0);
        assert!(
            policy.due(t0 + Duration::from_secs(120)).is_empty(),
            "nothing changed"
        );
        policy.changed(FEED);
        policy.changed(FEED);
        assert!(policy.due(t0 + Duration::from_secs(59)).is_empty());
        assert_eq!(policy.next_due(t0), Some(t0 + Duration::from_secs(60)));
        assert_eq!(policy.due(t0 + Duration::from_secs(60)), [FEED]);
    }

    #[test]
    fn failures_back_off_doubling_up_to_the_cap() {
        let t0 = Instant::now();
        let mut policy = PublishPolicy::new(timing());
        policy.changed(FEED);
        let mut at = t0;
        for expected in [60, 120, 240, 300, 300] {
            policy.failed(FEED, at);
            let wait = Duration::from_secs(expected);
            assert!(policy.due(at + wait - Duration::from_secs(1)).is_empty());
            assert_eq!(policy.due(at + wait), [FEED], "retry after {expected}s");
            at += wait;
        }
        policy.succeeded(FEED, at);
        assert!(policy.due(at + Duration::from_secs(600)).is_empty());
        assert_eq!(policy.next_due(at), None);
    }

    #[test]
    fn feeds_are_timed_independently() {
        let t0 = Instant::now();
        let other = "http://h.test/topics/news.rss";
        let mut policy = PublishPolicy::new(timing());
        policy.changed(FEED);
        policy.succeeded(FEED, t0);
        policy.changed(FEED);
        policy.changed(other);
        assert_eq!(policy.due(t0 + Duration::from_secs(1)), [other]);
    }

    #[test]
    fn every_format_of_a_topic_is_a_feed() {
        let base = Url::parse("http://h.test/feeds/").expect("url");
        assert_eq!(
            topic_feed_urls(&base, "news"),
            [
                "http://h.test/feeds/topics/news.atom",
                "http://h.test/feeds/topics/news.rss",
                "http://h.test/feeds/topics/news.json"
            ]
        );
    }
}
