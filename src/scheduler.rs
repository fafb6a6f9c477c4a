//! When each source is due. Pure arithmetic over `now`; the loop that acts on it lives in `app`.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::model::{SourceId, Timestamp};

/// Fraction of the interval by which a due time is moved earlier or later, so that sources added
/// together do not stay in lock-step and hit their hosts at the same second.
pub const JITTER: f64 = 0.10;

/// The next due time after a poll at `now`; `unit` in [0, 1) picks the point in the jitter band.
pub fn next_due(now: Timestamp, interval: Duration, unit: f64) -> Timestamp {
    let base = interval.as_secs_f64();
    let offset = base * JITTER * (2.0 * unit.clamp(0.0, 1.0) - 1.0);
    now + (base + offset).round().max(1.0) as Timestamp
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
