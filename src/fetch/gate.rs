//! Politeness per host: at most `per_host` requests in flight to one host, at least `host_delay`
//! between the starts of two requests to it (ten times that while the host has asked us to back
//! off with 429/503 and Retry-After), and at most `concurrency` requests in flight overall.
//!
//! A request first waits for its host, then for a global slot, so that sources queued behind a
//! slow host never hold global slots that other hosts could use.
//!
//! When several nodes share the sources ([`SharedHosts`]), per_host and host_delay hold for all
//! of them: after this process's own turn, a request also takes a turn from the others (which
//! the store keeps), and gives it back when it ends. Only this process's turns are kept here.

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
    shared: Option<Arc<dyn SharedHosts>>,
}

/// Turns at hosts shared with other processes fetching for the same database. Blocking: the
/// gate calls it off the async workers.
pub trait SharedHosts: Send + Sync {
    /// Takes a turn at `host` (`name:port`); the error is for the log.
    fn take(&self, host: &str) -> Result<SharedTurn, String>;
    /// Gives back the turn `slot` at `host`, taken by [`SharedHosts::take`].
    fn give_back(&self, host: &str, slot: i64);
    /// `host` asked to be polled more slowly for `for_how_long`.
    fn slow_down(&self, host: &str, for_how_long: Duration);
}

/// What the other processes say about a turn at a host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SharedTurn {
    /// Slot `slot` is this process's; the request may start after `wait`.
    Go { slot: i64, wait: Duration },
    /// Every slot is in use elsewhere: ask again after `retry`.
    Busy { retry: Duration },
}

/// A turn taken from the other processes, given back when dropped.
struct SharedPass {
    hosts: Arc<dyn SharedHosts>,
    host: String,
    slot: i64,
}

impl Drop for SharedPass {
    fn drop(&mut self) {
        let (hosts, host, slot) = (
            self.hosts.clone(),
            std::mem::take(&mut self.host),
            self.slot,
        );
        // Giving back is a database write: off the async workers when there are some.
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn_blocking(move || hosts.give_back(&host, slot));
            }
            Err(_) => hosts.give_back(&host, slot),
        }
    }
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
    _shared: Option<SharedPass>,
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
            shared: None,
        }
    }

    /// A gate that also takes turns from the other processes sharing the sources.
    pub fn shared(
        concurrency: usize,
        per_host: usize,
        delay: Duration,
        hosts: Arc<dyn SharedHosts>,
    ) -> Gate {
        Gate {
            shared: Some(hosts),
            ..Gate::new(concurrency, per_host, delay)
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
        let shared = match &self.shared {
            Some(hosts) => shared_turn(hosts.clone(), host_key(url)).await,
            None => None,
        };
        let global = self.global.clone().acquire_owned().await.ok()?;
        Some(Pass {
            _host: host,
            _global: global,
            _shared: shared,
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
        if let Some(hosts) = self.shared.clone() {
            let host = host_key(url);
            tokio::task::spawn_blocking(move || hosts.slow_down(&host, for_how_long));
        }
    }
}

/// Waits for a turn at `host` from the other processes. When they cannot be asked (the database
/// is unreachable), this process's own turn has to do: the request goes ahead.
async fn shared_turn(hosts: Arc<dyn SharedHosts>, host: String) -> Option<SharedPass> {
    loop {
        let asked = {
            let (hosts, host) = (hosts.clone(), host.clone());
            tokio::task::spawn_blocking(move || hosts.take(&host)).await
        };
        match asked {
            Ok(Ok(SharedTurn::Go { slot, wait })) => {
                // Held from now: dropped while waiting, the turn goes back at once.
                let pass = SharedPass { hosts, host, slot };
                tokio::time::sleep(wait).await;
                return Some(pass);
            }
            Ok(Ok(SharedTurn::Busy { retry })) => tokio::time::sleep(retry).await,
            Ok(Err(e)) => {
                tracing::warn!(
                    url = %host, error = %e,
                    "cannot take a turn at the host from the other nodes; going by this node's own"
                );
                return None;
            }
            Err(_) => return None,
        }
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

    /// Other nodes, as a script of answers; records what is given back and slowed.
    #[derive(Default)]
    struct OtherNodes {
        answers: Mutex<std::collections::VecDeque<Result<SharedTurn, String>>>,
        given_back: Mutex<Vec<(String, i64)>>,
        slowed: Mutex<Vec<(String, Duration)>>,
    }

    impl SharedHosts for OtherNodes {
        fn take(&self, _host: &str) -> Result<SharedTurn, String> {
            self.answers
                .lock()
                .expect("lock")
                .pop_front()
                .unwrap_or(Ok(SharedTurn::Go {
                    slot: 0,
                    wait: Duration::ZERO,
                }))
        }
        fn give_back(&self, host: &str, slot: i64) {
            self.given_back
                .lock()
                .expect("lock")
                .push((host.to_string(), slot));
        }
        fn slow_down(&self, host: &str, for_how_long: Duration) {
            self.slowed
                .lock()
                .expect("lock")
                .push((host.to_string(), for_how_long));
        }
    }

    #[tokio::test]
    async fn a_request_also_waits_for_its_turn_from_the_other_nodes_and_gives_it_back() {
        let others = Arc::new(OtherNodes::default());
        others.answers.lock().expect("lock").extend([
            Ok(SharedTurn::Busy {
                retry: Duration::from_millis(100),
            }),
            Ok(SharedTurn::Go {
                slot: 3,
                wait: Duration::from_millis(200),
            }),
        ]);
        let gate = Gate::shared(16, 2, Duration::ZERO, others.clone());
        let t0 = std::time::Instant::now();
        let pass = gate.enter(&url("http://a.example/feed")).await;
        assert!(pass.is_some());
        assert!(
            t0.elapsed() >= Duration::from_millis(300),
            "busy, then the wait the others set: {:?}",
            t0.elapsed()
        );
        assert!(others.given_back.lock().expect("lock").is_empty());
        drop(pass);
        for _ in 0..100 {
            if !others.given_back.lock().expect("lock").is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(
            *others.given_back.lock().expect("lock"),
            [("a.example:80".to_string(), 3)]
        );

        // When the other nodes cannot be asked, this node's own turn has to do.
        others
            .answers
            .lock()
            .expect("lock")
            .push_back(Err("database unreachable".into()));
        let t1 = std::time::Instant::now();
        assert!(gate.enter(&url("http://a.example/feed")).await.is_some());
        assert!(t1.elapsed() < Duration::from_secs(1));

        gate.slow_down(&url("http://a.example/feed"), Duration::from_secs(60));
        for _ in 0..100 {
            if !others.slowed.lock().expect("lock").is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(
            *others.slowed.lock().expect("lock"),
            [("a.example:80".to_string(), Duration::from_secs(60))],
            "the other nodes slow down too"
        );
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
