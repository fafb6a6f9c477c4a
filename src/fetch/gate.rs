//! Politeness per host: at most `per_host` requests in flight to one host, at least `host_delay`
//! between the starts of two requests to it (ten times that while the host has asked us to back
//! off with 429/503 and Retry-After), and at most `concurrency` requests in flight overall.
//!
//! A request first waits for its host, then for a global slot, so that sources queued behind a
//! slow host never hold global slots that other hosts could use.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use url::Url;

/// How much slower a host is polled while it has asked us to back off.
pub const SLOWDOWN: u32 = 10;

pub struct Gate {
    per_host: usize,
    delay: Duration,
    global: Arc<Semaphore>,
    hosts: Mutex<HashMap<String, Arc<HostSlot>>>,
}

struct HostSlot {
    permits: Arc<Semaphore>,
    timing: Mutex<HostTiming>,
}

struct HostTiming {
    /// The earliest start of the next request.
    next_start: Instant,
    /// Until when the host asked us to back off.
    slow_until: Option<Instant>,
}

/// Held for the duration of one request.
pub struct Pass {
    _host: OwnedSemaphorePermit,
    _global: OwnedSemaphorePermit,
}

fn host_key(url: &Url) -> String {
    format!(
        "{}:{}",
        url.host_str().unwrap_or(""),
        url.port_or_known_default().unwrap_or(0)
    )
}

impl Gate {
    pub fn new(concurrency: usize, per_host: usize, delay: Duration) -> Gate {
        Gate {
            per_host: per_host.max(1),
            delay,
            global: Arc::new(Semaphore::new(concurrency.max(1))),
            hosts: Mutex::new(HashMap::new()),
        }
    }

    fn slot(&self, url: &Url) -> Arc<HostSlot> {
        let mut hosts = self
            .hosts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        hosts
            .entry(host_key(url))
            .or_insert_with(|| {
                Arc::new(HostSlot {
                    permits: Arc::new(Semaphore::new(self.per_host)),
                    timing: Mutex::new(HostTiming {
                        next_start: Instant::now(),
                        slow_until: None,
                    }),
                })
            })
            .clone()
    }

    /// Waits until a request to `url`'s host may start.
    pub async fn enter(&self, url: &Url) -> Option<Pass> {
        let slot = self.slot(url);
        let host = slot.permits.clone().acquire_owned().await.ok()?;
        let start = {
            let mut timing = slot
                .timing
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let now = Instant::now();
            let slow = timing.slow_until.is_some_and(|until| until > now);
            let spacing = if slow {
                self.delay * SLOWDOWN
            } else {
                self.delay
            };
            let start = timing.next_start.max(now);
            timing.next_start = start + spacing;
            start
        };
        tokio::time::sleep_until(start).await;
        let global = self.global.clone().acquire_owned().await.ok()?;
        Some(Pass {
            _host: host,
            _global: global,
        })
    }

    /// The host of `url` asked us to wait `for_how_long`: other sources on it slow down too.
    pub fn slow_down(&self, url: &Url, for_how_long: Duration) {
        let slot = self.slot(url);
        let mut timing = slot
            .timing
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let until = Instant::now() + for_how_long;
        timing.slow_until = Some(timing.slow_until.map_or(until, |u| u.max(until)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).expect("url")
    }

    #[tokio::test(start_paused = true)]
    async fn requests_to_one_host_are_spaced_by_the_delay() {
        let gate = Gate::new(16, 2, Duration::from_secs(1));
        let t0 = Instant::now();
        let mut starts = Vec::new();
        for _ in 0..3 {
            let pass = gate.enter(&url("http://a.example/feed")).await;
            assert!(pass.is_some());
            starts.push(Instant::now() - t0);
        }
        assert_eq!(
            starts,
            [
                Duration::ZERO,
                Duration::from_secs(1),
                Duration::from_secs(2)
            ]
        );
        // Another host is not held up by the first.
        let before = Instant::now();
        let _pass = gate.enter(&url("https://b.example/feed")).await;
        assert_eq!(Instant::now(), before);
    }

    #[tokio::test(start_paused = true)]
    async fn at_most_per_host_requests_are_in_flight() {
        let gate = Arc::new(Gate::new(16, 2, Duration::ZERO));
        let first = gate.enter(&url("http://a.example/1")).await;
        let second = gate.enter(&url("http://a.example/2")).await;
        let third = {
            let gate = gate.clone();
            tokio::spawn(async move { gate.enter(&url("http://a.example/3")).await.is_some() })
        };
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert!(
            !third.is_finished(),
            "a third request waits while two are in flight"
        );
        drop(first);
        assert!(third.await.expect("join"));
        drop(second);
    }

    #[tokio::test(start_paused = true)]
    async fn a_host_that_asked_for_a_pause_is_polled_ten_times_slower() {
        let gate = Gate::new(16, 2, Duration::from_secs(1));
        let a = url("http://a.example/feed");
        gate.slow_down(&a, Duration::from_secs(60));
        let t0 = Instant::now();
        drop(gate.enter(&a).await);
        drop(gate.enter(&a).await);
        assert_eq!(
            Instant::now() - t0,
            Duration::from_secs(10),
            "slowed, not frozen"
        );
        // Once the pause has passed, the normal delay applies again.
        tokio::time::sleep(Duration::from_secs(60)).await;
        drop(gate.enter(&a).await);
        let t1 = Instant::now();
        drop(gate.enter(&a).await);
        assert_eq!(Instant::now() - t1, Duration::from_secs(1));
    }

    #[tokio::test(start_paused = true)]
    async fn the_global_limit_holds_across_hosts() {
        let gate = Arc::new(Gate::new(1, 2, Duration::ZERO));
        let held = gate.enter(&url("http://a.example/")).await;
        let other = {
            let gate = gate.clone();
            tokio::spawn(async move { gate.enter(&url("http://b.example/")).await.is_some() })
        };
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert!(!other.is_finished());
        drop(held);
        assert!(other.await.expect("join"));
    }
}
