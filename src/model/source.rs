//! A source's fetch state and health, and what the scheduler records for its next fetch.

use super::{Identity, SourceId, Timestamp, Validators};

/// 404 Not Found and 410 Gone: the statuses that say a feed is gone. A source that answered one of
/// them [`GONE_AFTER`] times in a row is [`SourceHealth::Gone`].
pub fn says_gone(status: u16) -> bool {
    matches!(status, 404 | 410)
}

/// How many gone answers ([`says_gone`]) in a row make a source gone (still tried daily).
pub const GONE_AFTER: u32 = 5;

/// How a source is doing: the one classification `status`, `/sources` and `/metrics` share.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceHealth {
    /// Never fetched yet.
    New,
    Ok,
    /// The last `n` fetches failed.
    Failing(u32),
    /// Answered 404/410 [`GONE_AFTER`] times in a row; tried once a day.
    Gone,
    /// Healthy, fetched from the target of a permanent redirect it adopted.
    Moved,
}

impl SourceHealth {
    pub fn classify(
        last_fetch_at: Option<Timestamp>,
        consecutive_failures: u32,
        gone_streak: u32,
        moved: bool,
    ) -> SourceHealth {
        match (last_fetch_at, consecutive_failures) {
            (None, _) => SourceHealth::New,
            _ if gone_streak >= GONE_AFTER => SourceHealth::Gone,
            (Some(_), 0) if moved => SourceHealth::Moved,
            (Some(_), 0) => SourceHealth::Ok,
            (Some(_), n) => SourceHealth::Failing(n),
        }
    }

    /// The state's name in `status` output and metrics labels.
    pub fn as_str(self) -> &'static str {
        match self {
            SourceHealth::New => "new",
            SourceHealth::Ok => "ok",
            SourceHealth::Failing(_) => "failing",
            SourceHealth::Gone => "gone",
            SourceHealth::Moved => "moved",
        }
    }
}

/// A source's fetch state, for `status` and the scheduler.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceState {
    pub id: SourceId,
    pub url: String,
    pub validators: Validators,
    pub last_fetch_at: Option<Timestamp>,
    pub last_success_at: Option<Timestamp>,
    pub last_status: Option<u16>,
    pub last_error: Option<String>,
    pub consecutive_failures: u32,
    pub next_due_at: Option<Timestamp>,
    pub entries: u64,
    /// Where the source is fetched from when a permanent redirect was adopted.
    pub fetch_url: Option<String>,
    pub redirect_target: Option<String>,
    pub redirect_streak: u32,
    pub body_hash: Option<String>,
    pub last_unconditional_at: Option<Timestamp>,
    pub failure_class: Option<String>,
    pub gone_streak: u32,
    pub retry_after_until: Option<Timestamp>,
    pub publishing_secs: Option<i64>,
    pub interval_secs: Option<i64>,
    pub feed_hint_secs: Option<i64>,
    pub skip_hours: Vec<u8>,
    pub skip_days: Vec<u8>,
    /// `link` once guid churn was detected.
    pub identity_mode: Option<Identity>,
    /// The warning the last parsed document deserved, if any.
    pub warning: Option<String>,
    /// The node fetching the source now and until when its lease runs (several nodes on one
    /// database; never set on SQLite).
    pub lease: Option<Lease>,
}

/// A node's hold on a source while it fetches it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub node: String,
    pub until: Timestamp,
}

impl SourceState {
    /// The source's health, by the one classification [`SourceHealth::classify`].
    pub fn health(&self) -> SourceHealth {
        SourceHealth::classify(
            self.last_fetch_at,
            self.consecutive_failures,
            self.gone_streak,
            self.fetch_url.as_deref().is_some_and(|f| f != self.url),
        )
    }
}

/// What the scheduler decided after a refresh, and what it remembers for the next one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScheduleRecord {
    pub next_due_at: Timestamp,
    pub interval_secs: i64,
    pub publishing_secs: Option<i64>,
    pub feed_hint_secs: Option<i64>,
    pub skip_hours: Vec<u8>,
    pub skip_days: Vec<u8>,
    pub retry_after_until: Option<Timestamp>,
    pub fetch_url: Option<String>,
    pub redirect_target: Option<String>,
    pub redirect_streak: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_health_is_classified_once_for_every_reader() {
        let cases = [
            // (last fetch, failures, gone streak, moved) → health
            (None, 0, 0, false, SourceHealth::New),
            (None, 3, 0, true, SourceHealth::New),
            (Some(1), 0, 0, false, SourceHealth::Ok),
            (Some(1), 0, 0, true, SourceHealth::Moved),
            (Some(1), 1, 0, false, SourceHealth::Failing(1)),
            (Some(1), 4, 4, false, SourceHealth::Failing(4)),
            (Some(1), 5, GONE_AFTER, false, SourceHealth::Gone),
            (Some(1), 9, GONE_AFTER + 3, true, SourceHealth::Gone),
        ];
        for (at, failures, streak, moved, expected) in cases {
            assert_eq!(
                SourceHealth::classify(at, failures, streak, moved),
                expected,
                "{at:?} {failures} {streak} {moved}"
            );
        }
        assert!(says_gone(404) && says_gone(410));
        assert!(!says_gone(403) && !says_gone(500) && !says_gone(200));
    }
}
