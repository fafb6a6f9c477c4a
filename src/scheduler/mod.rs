//! When each source is due. Pure arithmetic over `now`, with no clock, randomness (the jitter
//! point is passed in) or I/O: the interval rules here, the whole decision after a refresh in
//! `after.rs`. The loop that acts on due times lives in `cycle`, and the pipeline records what
//! [`after_refresh`] decides. Must not depend on `pipeline` or `store`.
//!
//! The interval follows how often a source really publishes (clamped to `min_interval` /
//! `max_interval`); what the publisher asks for (RSS `<ttl>`, `sy:updatePeriod`, `skipHours`,
//! `skipDays`, `Cache-Control: max-age`, `Expires`) is a floor; failures back off exponentially;
//! a source is never given up on.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::model::{SourceId, Timestamp};

mod after;
pub use after::{Decision, DocumentHints, Previous, Refreshed, Response, after_refresh};

/// Fraction of the interval by which a due time is moved earlier or later, so that sources added
/// together do not stay in lock-step and hit their hosts at the same second.
pub const JITTER: f64 = 0.10;
/// Longest wait after failures, and how often a gone source is still tried.
pub const MAX_BACKOFF: Duration = Duration::from_secs(24 * 60 * 60);
pub use crate::model::GONE_AFTER;
/// A permanent redirect is adopted after this many polls in a row saw the same target.
pub const ADOPT_REDIRECT_AFTER: u32 = 3;
/// Servers with broken validators get one unconditional request this often.
pub const UNCONDITIONAL_EVERY: Timestamp = 24 * 60 * 60;

/// The operator's settings for one source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    pub base: Duration,
    pub min: Duration,
    pub max: Duration,
}

/// What the publisher asked for, from the document and the response headers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Hints {
    /// RSS `<ttl>` or `sy:updatePeriod` / `sy:updateFrequency`, whichever is longer.
    pub feed: Option<Duration>,
    /// `Cache-Control: max-age`, else `Expires` − `Date`.
    pub cache: Option<Duration>,
    /// RSS `skipHours`: hours (0–23, GMT) in which not to poll.
    pub skip_hours: Vec<u8>,
    /// RSS `skipDays`: days (0 = Monday … 6 = Sunday) on which not to poll.
    pub skip_days: Vec<u8>,
}

/// The interval between publications, from the newest publication times (any order): the median
/// gap between consecutive ones among the newest 20. `None` with fewer than three dates.
pub fn publishing_interval(published: &[Timestamp]) -> Option<Duration> {
    let mut times: Vec<Timestamp> = published.to_vec();
    times.sort_unstable_by(|a, b| b.cmp(a));
    times.dedup();
    times.truncate(20);
    if times.len() < 3 {
        return None;
    }
    let mut gaps: Vec<Timestamp> = times.windows(2).map(|w| w[0] - w[1]).collect();
    gaps.sort_unstable();
    let median = gaps[gaps.len() / 2];
    Some(Duration::from_secs(u64::try_from(median).unwrap_or(0)))
}

/// The interval until the next poll after a success.
pub fn poll_interval(policy: Policy, publishing: Option<Duration>, hints: &Hints) -> Duration {
    let (min, max) = (policy.min, policy.max.max(policy.min));
    let wanted = publishing.unwrap_or(policy.base).clamp(min, max);
    let floor = hints
        .feed
        .into_iter()
        .chain(hints.cache)
        .max()
        .unwrap_or(Duration::ZERO);
    wanted.max(floor).min(max)
}

/// `now + interval`, moved by up to ±10 %; `unit` in [0, 1) picks the point in that band.
pub fn next_due(now: Timestamp, interval: Duration, unit: f64) -> Timestamp {
    let base = interval.as_secs_f64();
    let offset = base * JITTER * (2.0 * unit.clamp(0.0, 1.0) - 1.0);
    now + (base + offset).round().max(1.0) as Timestamp
}

/// The first time at or after `at` that is outside the skip hours and days (at most a week on).
pub fn skip_forward(at: Timestamp, hints: &Hints) -> Timestamp {
    if hints.skip_hours.len() >= 24 || hints.skip_days.len() >= 7 {
        return at; // a feed that skips everything is ignored rather than never polled
    }
    let mut t = at;
    for _ in 0..(24 * 8) {
        let hour = ((t.rem_euclid(86_400)) / 3600) as u8;
        // 1970-01-01 was a Thursday (3 when Monday is 0).
        let day = ((t.div_euclid(86_400) + 3).rem_euclid(7)) as u8;
        if !hints.skip_hours.contains(&hour) && !hints.skip_days.contains(&day) {
            return t;
        }
        t = (t.div_euclid(3600) + 1) * 3600; // start of the next hour
    }
    at
}

/// When to try again after `failures` consecutive failures (1 for the first): the interval,
/// doubled for each further failure, capped at a day, with jitter.
pub fn backoff(now: Timestamp, interval: Duration, failures: u32, unit: f64) -> Timestamp {
    let doublings = failures.saturating_sub(1).min(20);
    let delay = interval.saturating_mul(1 << doublings).min(MAX_BACKOFF);
    next_due(now, delay, unit).min(now + MAX_BACKOFF.as_secs() as Timestamp)
}

/// A server's `Retry-After` as a time, capped at a day from now.
pub fn retry_after_until(now: Timestamp, retry: crate::fetch::RetryAfter) -> Timestamp {
    let at = match retry {
        crate::fetch::RetryAfter::Seconds(s) => {
            now.saturating_add(i64::try_from(s).unwrap_or(i64::MAX))
        }
        crate::fetch::RetryAfter::At(t) => t,
    };
    at.clamp(now, now + MAX_BACKOFF.as_secs() as Timestamp)
}

/// `Cache-Control: max-age`, else `Expires` relative to the response's `Date` (or now): how long
/// the server says its answer stays fresh (RFC 9111 §4.2.1).
pub fn cache_hint(cache: &crate::fetch::CacheHeaders, now: Timestamp) -> Option<Duration> {
    if let Some(max_age) = cache.max_age {
        return Some(Duration::from_secs(max_age));
    }
    let expires = cache.expires?;
    let delta = expires - cache.date.unwrap_or(now);
    (delta > 0).then(|| Duration::from_secs(delta as u64))
}

/// A duration as whole seconds, as source rows store them.
fn whole_secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

/// Seconds from a source row as a duration; a negative value (never written) counts as none.
fn from_secs(s: i64) -> Duration {
    Duration::from_secs(u64::try_from(s).unwrap_or(0))
}

/// The set of due times, earliest first.
#[derive(Debug, Default)]
pub struct Schedule {
    queue: BTreeSet<(Timestamp, SourceId)>,
}

impl Schedule {
    pub fn insert(&mut self, at: Timestamp, source: SourceId) {
        self.queue.insert((at, source));
    }

    /// Removes and returns every source due at or before `now`.
    pub fn take_due(&mut self, now: Timestamp) -> Vec<SourceId> {
        let mut due = Vec::new();
        while let Some(&(at, id)) = self.queue.first() {
            if at > now {
                break;
            }
            self.queue.pop_first();
            due.push(id);
        }
        due
    }

    /// Keeps only the sources `keep` accepts (the others left the configuration).
    pub fn retain(&mut self, mut keep: impl FnMut(SourceId) -> bool) {
        self.queue.retain(|(_, id)| keep(*id));
    }

    /// Every scheduled source.
    pub fn sources(&self) -> impl Iterator<Item = SourceId> + '_ {
        self.queue.iter().map(|(_, id)| *id)
    }

    pub fn next_at(&self) -> Option<Timestamp> {
        self.queue.first().map(|(at, _)| *at)
    }

    pub fn len(&self) -> usize {
        self.queue.len()
    }

    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: Duration = Duration::from_secs(5 * 60);
    const HOUR: Duration = Duration::from_secs(3600);
    const DAY: Duration = Duration::from_secs(86_400);

    fn policy() -> Policy {
        Policy {
            base: Duration::from_secs(1800),
            min: MIN,
            max: DAY,
        }
    }

    #[test]
    fn jitter_stays_within_ten_percent() {
        let interval = Duration::from_secs(1000);
        assert_eq!(next_due(0, interval, 0.0), 900);
        assert_eq!(next_due(0, interval, 0.5), 1000);
        assert_eq!(next_due(0, interval, 1.0), 1100);
        assert_eq!(
            next_due(0, interval, 7.0),
            1100,
            "out-of-range unit is clamped"
        );
    }

    #[test]
    fn interval_follows_publishing_rate_within_bounds() {
        // A post every 10 minutes.
        let busy: Vec<Timestamp> = (0..30).map(|i| 1_000_000 - i * 600).collect();
        let rate = publishing_interval(&busy);
        assert_eq!(rate, Some(Duration::from_secs(600)));
        assert_eq!(
            poll_interval(policy(), rate, &Hints::default()),
            Duration::from_secs(600)
        );
        // A post every minute is clamped to min_interval; one a week to max_interval.
        let frantic: Vec<Timestamp> = (0..30).map(|i| 1_000_000 - i * 60).collect();
        assert_eq!(
            poll_interval(policy(), publishing_interval(&frantic), &Hints::default()),
            MIN
        );
        let slow: Vec<Timestamp> = (0..5).map(|i| 10_000_000 - i * 7 * 86_400).collect();
        assert_eq!(
            poll_interval(policy(), publishing_interval(&slow), &Hints::default()),
            DAY
        );
        // Too few dates: the configured interval.
        assert_eq!(publishing_interval(&[5, 10]), None);
        assert_eq!(
            poll_interval(policy(), None, &Hints::default()),
            Duration::from_secs(1800)
        );
    }

    #[test]
    fn median_ignores_a_burst() {
        // Hourly posts, plus three posted in the same minute.
        let mut times: Vec<Timestamp> = (0..10).map(|i| 100_000 - i * 3600).collect();
        times.extend([100_010, 100_020, 100_030]);
        assert_eq!(publishing_interval(&times), Some(HOUR));
    }

    #[test]
    fn hints_are_a_floor_and_the_largest_wins_within_max() {
        let busy = Some(Duration::from_secs(600));
        let hints = Hints {
            feed: Some(HOUR),
            cache: Some(2 * HOUR),
            ..Hints::default()
        };
        assert_eq!(poll_interval(policy(), busy, &hints), 2 * HOUR);
        let hints = Hints {
            feed: Some(7 * DAY),
            ..Hints::default()
        };
        assert_eq!(
            poll_interval(policy(), busy, &hints),
            DAY,
            "still clamped to max_interval"
        );
        let hints = Hints {
            cache: Some(Duration::from_secs(60)),
            ..Hints::default()
        };
        assert_eq!(
            poll_interval(policy(), busy, &hints),
            Duration::from_secs(600),
            "a short hint changes nothing"
        );
    }

    #[test]
    fn skip_hours_and_days_move_the_due_time() {
        // 2026-11-16 is a Monday; 02:30 GMT.
        let monday_0230 = 1_794_796_200;
        let hints = Hints {
            skip_hours: vec![2, 3],
            ..Hints::default()
        };
        assert_eq!(
            skip_forward(monday_0230, &hints),
            monday_0230 - 1800 + 2 * 3600,
            "04:00"
        );
        let hints = Hints {
            skip_days: vec![0],
            ..Hints::default()
        };
        let tuesday_0000 = monday_0230 - 9000 + 86_400;
        assert_eq!(skip_forward(monday_0230, &hints), tuesday_0000);
        assert_eq!(skip_forward(monday_0230, &Hints::default()), monday_0230);
        let all = Hints {
            skip_hours: (0..24).collect(),
            ..Hints::default()
        };
        assert_eq!(
            skip_forward(monday_0230, &all),
            monday_0230,
            "skipping everything is ignored"
        );
    }

    #[test]
    fn backoff_doubles_from_the_interval_and_caps_at_a_day() {
        let interval = Duration::from_secs(600);
        assert_eq!(backoff(0, interval, 1, 0.5), 600);
        assert_eq!(backoff(0, interval, 2, 0.5), 1200);
        assert_eq!(backoff(0, interval, 4, 0.5), 4800);
        assert_eq!(backoff(0, interval, 30, 0.5), 86_400);
        assert!(
            backoff(0, interval, 30, 1.0) <= 86_400,
            "jitter never passes the cap"
        );
        let early = backoff(0, interval, 3, 0.0);
        assert!((2160..=2640).contains(&early), "{early}");
    }

    #[test]
    fn retry_after_is_capped_at_a_day() {
        use crate::fetch::RetryAfter;
        assert_eq!(retry_after_until(1000, RetryAfter::Seconds(120)), 1120);
        assert_eq!(
            retry_after_until(1000, RetryAfter::Seconds(10_000_000)),
            1000 + 86_400
        );
        assert_eq!(retry_after_until(1000, RetryAfter::At(5000)), 5000);
        assert_eq!(
            retry_after_until(1000, RetryAfter::At(10)),
            1000,
            "a past date means now"
        );
    }

    #[test]
    fn take_due_returns_only_due_sources_in_order() {
        let mut s = Schedule::default();
        s.insert(30, SourceId(3));
        s.insert(10, SourceId(1));
        s.insert(20, SourceId(2));
        assert_eq!(s.take_due(20), vec![SourceId(1), SourceId(2)]);
        assert_eq!(s.next_at(), Some(30));
        assert_eq!(s.len(), 1);
        assert!(s.take_due(29).is_empty());
    }
}
