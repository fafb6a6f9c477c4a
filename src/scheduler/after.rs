//! The decision after a refresh: when the source is due again and what its row remembers for the
//! next decision (backoff, Retry-After, gone sources, publishing rate, publisher hints, permanent
//! redirects). One pure function, [`after_refresh`]: the pipeline describes what happened, records
//! the result and logs what it is told to. Must not read the clock, draw random numbers or do I/O.

use std::time::Duration;

use super::{
    ADOPT_REDIRECT_AFTER, Hints, MAX_BACKOFF, Policy, backoff, cache_hint, from_secs, next_due,
    poll_interval, publishing_interval, retry_after_until, skip_forward, whole_secs,
};
use crate::fetch::{CacheHeaders, RetryAfter};
use crate::model::{GONE_AFTER, ScheduleRecord, SourceState, Timestamp, says_gone};

/// What a source's row says about its schedule before this refresh: the part of
/// [`SourceState`] the decision depends on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Previous {
    /// The interval last decided; `None` before the first.
    pub interval_secs: Option<i64>,
    pub publishing_secs: Option<i64>,
    pub feed_hint_secs: Option<i64>,
    pub skip_hours: Vec<u8>,
    pub skip_days: Vec<u8>,
    /// The adopted target of a permanent redirect, when one was adopted.
    pub fetch_url: Option<String>,
    pub redirect_target: Option<String>,
    pub redirect_streak: u32,
    /// Failures in a row before this refresh.
    pub consecutive_failures: u32,
    /// Gone answers ([`says_gone`]) in a row before this refresh.
    pub gone_streak: u32,
}

impl From<&SourceState> for Previous {
    fn from(state: &SourceState) -> Previous {
        Previous {
            interval_secs: state.interval_secs,
            publishing_secs: state.publishing_secs,
            feed_hint_secs: state.feed_hint_secs,
            skip_hours: state.skip_hours.clone(),
            skip_days: state.skip_days.clone(),
            fetch_url: state.fetch_url.clone(),
            redirect_target: state.redirect_target.clone(),
            redirect_streak: state.redirect_streak,
            consecutive_failures: state.consecutive_failures,
            gone_streak: state.gone_streak,
        }
    }
}

/// The publisher's hints in a parsed document.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DocumentHints {
    /// RSS `<ttl>` or `sy:updatePeriod` / `sy:updateFrequency`, whichever is longer.
    pub interval: Option<Duration>,
    /// RSS `skipHours` (0–23, GMT).
    pub skip_hours: Vec<u8>,
    /// RSS `skipDays` (0 = Monday … 6 = Sunday).
    pub skip_days: Vec<u8>,
}

/// What a successful response said about scheduling, whatever its body.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Response {
    pub cache: CacheHeaders,
    /// Where the leading run of permanent redirects pointed, if the request began with one.
    pub permanent_redirect: Option<String>,
}

/// What happened, in the terms the schedule depends on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refreshed {
    Failed {
        /// The HTTP status, when the server answered with an error.
        status: Option<u16>,
        retry_after: Option<RetryAfter>,
    },
    /// A new document was parsed.
    Succeeded {
        hints: DocumentHints,
        /// Publication times of its entries.
        published: Vec<Timestamp>,
        response: Response,
    },
    /// 304, or the same body as last time: the document taught nothing new.
    NotModified { response: Response },
}

/// What [`after_refresh`] decided.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Decision {
    /// What to record on the source's row.
    pub next: ScheduleRecord,
    /// A permanent redirect target adopted by this refresh: from now on the source is fetched
    /// from there, and the operator should be told to update feeds.toml.
    pub adopted: Option<String>,
}

/// When the source is due again after `refreshed`, and what its row keeps for the next decision.
/// `jitter_unit` in [0, 1) picks the point in the jitter band (see [`next_due`]).
pub fn after_refresh(
    previous: &Previous,
    policy: Policy,
    refreshed: &Refreshed,
    now: Timestamp,
    jitter_unit: f64,
) -> Decision {
    let mut next = ScheduleRecord {
        next_due_at: now,
        interval_secs: previous
            .interval_secs
            .unwrap_or_else(|| whole_secs(policy.base)),
        publishing_secs: previous.publishing_secs,
        feed_hint_secs: previous.feed_hint_secs,
        skip_hours: previous.skip_hours.clone(),
        skip_days: previous.skip_days.clone(),
        retry_after_until: None,
        fetch_url: previous.fetch_url.clone(),
        redirect_target: previous.redirect_target.clone(),
        redirect_streak: previous.redirect_streak,
    };
    let adopted = match refreshed {
        Refreshed::Failed {
            status,
            retry_after,
        } => {
            let failures = previous.consecutive_failures + 1;
            let gone = status.is_some_and(says_gone) && previous.gone_streak + 1 >= GONE_AFTER;
            let mut due = if gone {
                // Never disabled for good: a gone source is still tried once a day.
                next_due(now, MAX_BACKOFF, jitter_unit).min(now + whole_secs(MAX_BACKOFF))
            } else {
                let interval = from_secs(next.interval_secs).max(policy.min);
                backoff(now, interval, failures, jitter_unit)
            };
            if let Some(retry) = retry_after {
                let until = retry_after_until(now, *retry);
                next.retry_after_until = Some(until);
                due = due.max(until);
            }
            next.next_due_at = due;
            None
        }
        Refreshed::Succeeded {
            hints,
            published,
            response,
        } => {
            next.feed_hint_secs = hints.interval.map(whole_secs);
            next.skip_hours = hints.skip_hours.clone();
            next.skip_days = hints.skip_days.clone();
            if let Some(rate) = publishing_interval(published) {
                next.publishing_secs = Some(whole_secs(rate));
            }
            answered(&mut next, policy, response, now, jitter_unit)
        }
        Refreshed::NotModified { response } => {
            answered(&mut next, policy, response, now, jitter_unit)
        }
    };
    Decision { next, adopted }
}

/// The interval and due time after the server answered, from what is known of the publisher,
/// and the redirect bookkeeping; returns the redirect target adopted now, if any.
fn answered(
    next: &mut ScheduleRecord,
    policy: Policy,
    response: &Response,
    now: Timestamp,
    jitter_unit: f64,
) -> Option<String> {
    let hints = Hints {
        feed: next.feed_hint_secs.map(from_secs),
        cache: cache_hint(&response.cache, now),
        skip_hours: next.skip_hours.clone(),
        skip_days: next.skip_days.clone(),
    };
    let interval = poll_interval(policy, next.publishing_secs.map(from_secs), &hints);
    next.interval_secs = whole_secs(interval);
    next.next_due_at = skip_forward(next_due(now, interval, jitter_unit), &hints);
    track_redirect(next, response.permanent_redirect.as_deref())
}

/// A permanent redirect replaces the fetch URL only once the same target was seen on
/// [`ADOPT_REDIRECT_AFTER`] polls in a row, so that a misconfigured server for an afternoon does
/// not move a source for good; a temporary redirect, or none, ends the streak.
fn track_redirect(next: &mut ScheduleRecord, target: Option<&str>) -> Option<String> {
    let Some(target) = target else {
        next.redirect_target = None;
        next.redirect_streak = 0;
        return None;
    };
    next.redirect_streak = if next.redirect_target.as_deref() == Some(target) {
        next.redirect_streak + 1
    } else {
        1
    };
    next.redirect_target = Some(target.to_string());
    if next.redirect_streak >= ADOPT_REDIRECT_AFTER && next.fetch_url.as_deref() != Some(target) {
        next.fetch_url = Some(target.to_string());
        return Some(target.to_string());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-11-16 02:30 GMT, a Monday.
    const NOW: Timestamp = 1_794_796_200;
    /// The middle of the jitter band: due times fall exactly one interval on.
    const UNIT: f64 = 0.5;
    const BASE: i64 = 1800;
    const MIN: i64 = 300;
    const MAX: i64 = 86_400;
    const MOVED: &str = "https://new.example/feed";
    const ELSEWHERE: &str = "https://other.example/feed";

    fn policy() -> Policy {
        Policy {
            base: Duration::from_secs(BASE as u64),
            min: Duration::from_secs(MIN as u64),
            max: Duration::from_secs(MAX as u64),
        }
    }

    fn ok(response: Response) -> Refreshed {
        Refreshed::Succeeded {
            hints: DocumentHints::default(),
            published: Vec::new(),
            response,
        }
    }

    fn failed(status: u16, retry_after: Option<RetryAfter>) -> Refreshed {
        Refreshed::Failed {
            status: Some(status),
            retry_after,
        }
    }

    fn redirected(to: &str) -> Response {
        Response {
            permanent_redirect: Some(to.to_string()),
            ..Response::default()
        }
    }

    /// A source polled before at the configured interval, with `failures` failures behind it.
    fn polled(failures: u32) -> Previous {
        Previous {
            interval_secs: Some(BASE),
            consecutive_failures: failures,
            ..Previous::default()
        }
    }

    fn streak(target: &str, seen: u32) -> Previous {
        Previous {
            redirect_target: Some(target.to_string()),
            redirect_streak: seen,
            ..polled(0)
        }
    }

    /// The schedule one interval of `secs` from now, nothing else learned.
    fn due_in(secs: i64) -> ScheduleRecord {
        ScheduleRecord {
            next_due_at: NOW + secs,
            interval_secs: secs,
            ..ScheduleRecord::default()
        }
    }

    #[test]
    fn after_refresh_table() {
        struct Case {
            name: &'static str,
            previous: Previous,
            refreshed: Refreshed,
            next: ScheduleRecord,
            adopted: Option<&'static str>,
        }
        let cases = vec![
            Case {
                name: "first success: the configured interval",
                previous: Previous::default(),
                refreshed: ok(Response::default()),
                next: due_in(BASE),
                adopted: None,
            },
            Case {
                name: "ttl of two hours is a floor above the interval",
                previous: Previous::default(),
                refreshed: Refreshed::Succeeded {
                    hints: DocumentHints {
                        interval: Some(Duration::from_secs(7200)),
                        ..DocumentHints::default()
                    },
                    published: Vec::new(),
                    response: Response::default(),
                },
                next: ScheduleRecord {
                    feed_hint_secs: Some(7200),
                    ..due_in(7200)
                },
                adopted: None,
            },
            Case {
                // Due at 03:00, inside skipHours 2–4: moved to 05:00.
                name: "skipHours moves the due time past the skipped hours",
                previous: Previous::default(),
                refreshed: Refreshed::Succeeded {
                    hints: DocumentHints {
                        skip_hours: vec![2, 3, 4],
                        ..DocumentHints::default()
                    },
                    published: Vec::new(),
                    response: Response::default(),
                },
                next: ScheduleRecord {
                    next_due_at: NOW - 1800 + 3 * 3600,
                    skip_hours: vec![2, 3, 4],
                    ..due_in(BASE)
                },
                adopted: None,
            },
            Case {
                name: "max-age of an hour is a floor, not remembered",
                previous: Previous::default(),
                refreshed: ok(Response {
                    cache: CacheHeaders {
                        max_age: Some(3600),
                        ..CacheHeaders::default()
                    },
                    ..Response::default()
                }),
                next: due_in(3600),
                adopted: None,
            },
            Case {
                name: "Expires counts from the response's Date",
                previous: Previous::default(),
                refreshed: ok(Response {
                    cache: CacheHeaders {
                        max_age: None,
                        expires: Some(NOW + 4000),
                        date: Some(NOW - 1000),
                    },
                    ..Response::default()
                }),
                next: due_in(5000),
                adopted: None,
            },
            Case {
                name: "a post every ten minutes: polled every ten minutes",
                previous: polled(0),
                refreshed: Refreshed::Succeeded {
                    hints: DocumentHints::default(),
                    published: (0..10).map(|i| NOW - i * 600).collect(),
                    response: Response::default(),
                },
                next: ScheduleRecord {
                    publishing_secs: Some(600),
                    ..due_in(600)
                },
                adopted: None,
            },
            Case {
                name: "a post every minute: remembered, but polled at min_interval",
                previous: polled(0),
                refreshed: Refreshed::Succeeded {
                    hints: DocumentHints::default(),
                    published: (0..10).map(|i| NOW - i * 60).collect(),
                    response: Response::default(),
                },
                next: ScheduleRecord {
                    publishing_secs: Some(60),
                    ..due_in(MIN)
                },
                adopted: None,
            },
            Case {
                name: "failure #1: one interval, the rest kept",
                previous: streak(MOVED, 2),
                refreshed: failed(500, None),
                next: ScheduleRecord {
                    redirect_target: Some(MOVED.into()),
                    redirect_streak: 2,
                    ..due_in(BASE)
                },
                adopted: None,
            },
            Case {
                name: "failure #3: four intervals",
                previous: polled(2),
                refreshed: failed(503, None),
                next: ScheduleRecord {
                    next_due_at: NOW + 4 * BASE,
                    ..due_in(BASE)
                },
                adopted: None,
            },
            Case {
                name: "failure #30: capped at a day",
                previous: polled(29),
                refreshed: Refreshed::Failed {
                    status: None,
                    retry_after: None,
                },
                next: ScheduleRecord {
                    next_due_at: NOW + MAX,
                    ..due_in(BASE)
                },
                adopted: None,
            },
            Case {
                name: "429 with Retry-After beyond the backoff waits for it",
                previous: polled(0),
                refreshed: failed(429, Some(RetryAfter::Seconds(10_000))),
                next: ScheduleRecord {
                    next_due_at: NOW + 10_000,
                    retry_after_until: Some(NOW + 10_000),
                    ..due_in(BASE)
                },
                adopted: None,
            },
            Case {
                name: "Retry-After shorter than the backoff keeps the backoff",
                previous: polled(0),
                refreshed: failed(503, Some(RetryAfter::At(NOW + 60))),
                next: ScheduleRecord {
                    retry_after_until: Some(NOW + 60),
                    ..due_in(BASE)
                },
                adopted: None,
            },
            Case {
                // The fourth gone answer in a row, fourth failure: 8 intervals.
                name: "410 below GONE_AFTER backs off as any failure",
                previous: Previous {
                    gone_streak: GONE_AFTER - 2,
                    ..polled(3)
                },
                refreshed: failed(410, None),
                next: ScheduleRecord {
                    next_due_at: NOW + 8 * BASE,
                    ..due_in(BASE)
                },
                adopted: None,
            },
            Case {
                // Backoff would say 16 intervals (8 h); gone says a day.
                name: "410 at GONE_AFTER: tried once a day",
                previous: Previous {
                    gone_streak: GONE_AFTER - 1,
                    ..polled(4)
                },
                refreshed: failed(410, None),
                next: ScheduleRecord {
                    next_due_at: NOW + MAX,
                    ..due_in(BASE)
                },
                adopted: None,
            },
            Case {
                name: "404 at GONE_AFTER: tried once a day",
                previous: Previous {
                    gone_streak: GONE_AFTER - 1,
                    ..polled(4)
                },
                refreshed: failed(404, None),
                next: ScheduleRecord {
                    next_due_at: NOW + MAX,
                    ..due_in(BASE)
                },
                adopted: None,
            },
            Case {
                name: "500 after a gone streak is not gone",
                previous: Previous {
                    gone_streak: GONE_AFTER - 1,
                    ..polled(4)
                },
                refreshed: failed(500, None),
                next: ScheduleRecord {
                    next_due_at: NOW + 16 * BASE,
                    ..due_in(BASE)
                },
                adopted: None,
            },
            Case {
                name: "permanent redirect seen once",
                previous: polled(0),
                refreshed: ok(redirected(MOVED)),
                next: ScheduleRecord {
                    redirect_target: Some(MOVED.into()),
                    redirect_streak: 1,
                    ..due_in(BASE)
                },
                adopted: None,
            },
            Case {
                name: "permanent redirect seen twice",
                previous: streak(MOVED, 1),
                refreshed: ok(redirected(MOVED)),
                next: ScheduleRecord {
                    redirect_target: Some(MOVED.into()),
                    redirect_streak: 2,
                    ..due_in(BASE)
                },
                adopted: None,
            },
            Case {
                name: "permanent redirect seen three times: adopted",
                previous: streak(MOVED, ADOPT_REDIRECT_AFTER - 1),
                refreshed: ok(redirected(MOVED)),
                next: ScheduleRecord {
                    fetch_url: Some(MOVED.into()),
                    redirect_target: Some(MOVED.into()),
                    redirect_streak: 3,
                    ..due_in(BASE)
                },
                adopted: Some(MOVED),
            },
            Case {
                name: "an adopted redirect seen again is not adopted twice",
                previous: Previous {
                    fetch_url: Some(MOVED.into()),
                    ..streak(MOVED, 3)
                },
                refreshed: Refreshed::NotModified {
                    response: redirected(MOVED),
                },
                next: ScheduleRecord {
                    fetch_url: Some(MOVED.into()),
                    redirect_target: Some(MOVED.into()),
                    redirect_streak: 4,
                    ..due_in(BASE)
                },
                adopted: None,
            },
            Case {
                name: "a new redirect target restarts the streak",
                previous: streak(MOVED, 2),
                refreshed: ok(redirected(ELSEWHERE)),
                next: ScheduleRecord {
                    redirect_target: Some(ELSEWHERE.into()),
                    redirect_streak: 1,
                    ..due_in(BASE)
                },
                adopted: None,
            },
            Case {
                name: "no permanent redirect ends the streak, keeps an adopted URL",
                previous: Previous {
                    fetch_url: Some(ELSEWHERE.into()),
                    ..streak(MOVED, 2)
                },
                refreshed: ok(Response::default()),
                next: ScheduleRecord {
                    fetch_url: Some(ELSEWHERE.into()),
                    ..due_in(BASE)
                },
                adopted: None,
            },
            Case {
                name: "not modified keeps the interval learned from publishing and hints",
                previous: Previous {
                    interval_secs: Some(7200),
                    publishing_secs: Some(600),
                    feed_hint_secs: Some(7200),
                    skip_days: vec![6],
                    ..Previous::default()
                },
                refreshed: Refreshed::NotModified {
                    response: Response::default(),
                },
                next: ScheduleRecord {
                    publishing_secs: Some(600),
                    feed_hint_secs: Some(7200),
                    skip_days: vec![6],
                    ..due_in(7200)
                },
                adopted: None,
            },
        ];
        for case in cases {
            let decision = after_refresh(&case.previous, policy(), &case.refreshed, NOW, UNIT);
            assert_eq!(decision.next, case.next, "{}", case.name);
            assert_eq!(decision.adopted.as_deref(), case.adopted, "{}", case.name);
        }
    }
}
