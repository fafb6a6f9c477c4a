//! Talking to the service manager: readiness, status, watchdog, reload and stop notifications
//! (`sd_notify`), and the listening socket handed over by socket activation (`LISTEN_FDS`).
//! Without `NOTIFY_SOCKET` / `LISTEN_FDS` in the environment every call here is silent.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sd_notify::NotifyState;

use crate::model::SourceId;
use crate::store::Store;

/// The scheduler loop beats [`Health`] at least this often, even with nothing due, to show it is
/// alive.
pub const HEARTBEAT: Duration = Duration::from_secs(5);

/// How long the scheduler may go without a heartbeat before it counts as stuck. Its loop wakes
/// at least every [`HEARTBEAT`], so this is several missed beats.
pub const SCHEDULER_STALL: Duration = Duration::from_secs(30);

/// How long the database may take to answer a health check.
pub const DATABASE_CHECK_TIMEOUT: Duration = Duration::from_secs(10);

/// Sends notifications to systemd when it asked for them.
#[derive(Debug, Clone)]
pub struct Notifier {
    watchdog: Option<Duration>,
}

impl Notifier {
    /// Reads `WATCHDOG_USEC` / `WATCHDOG_PID` (see [`watchdog_timeout`]); `NOTIFY_SOCKET` is
    /// read on each send.
    pub fn from_env() -> Notifier {
        let var = |name| std::env::var(name).ok();
        let watchdog = match watchdog_timeout(
            var("WATCHDOG_USEC").as_deref(),
            var("WATCHDOG_PID").as_deref(),
            std::process::id(),
        ) {
            Ok(timeout) => timeout,
            Err(e) => {
                tracing::warn!(error = %e, "not pinging the watchdog");
                None
            }
        };
        Notifier { watchdog }
    }

    /// How often to ping the watchdog: a third of its timeout, so one late ping is not fatal.
    pub fn watchdog_interval(&self) -> Option<Duration> {
        self.watchdog.map(|timeout| timeout / 3)
    }

    pub fn ready(&self, status: &str) {
        send(&[NotifyState::Ready, NotifyState::Status(status)]);
    }

    pub fn status(&self, status: &str) {
        send(&[NotifyState::Status(status)]);
    }

    /// `WATCHDOG=1`, with the current status in the same message.
    pub fn watchdog(&self, status: &str) {
        send(&[NotifyState::Watchdog, NotifyState::Status(status)]);
    }

    pub fn reloading(&self) {
        // systemd 253 and later require the monotonic time with RELOADING=1.
        match NotifyState::monotonic_usec_now() {
            Ok(now) => send(&[NotifyState::Reloading, now]),
            Err(_) => send(&[NotifyState::Reloading]),
        }
    }

    pub fn stopping(&self) {
        send(&[NotifyState::Stopping, NotifyState::Status("stopping")]);
    }
}

/// A watchdog setting in the environment that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WatchdogEnvError {
    #[error("WATCHDOG_USEC={0:?} is not a positive, finite number of microseconds")]
    Usec(String),
    #[error("WATCHDOG_PID={0:?} is not a process id")]
    Pid(String),
}

/// The watchdog timeout the service manager asked `our_pid` for, decided as libsystemd's
/// `sd_watchdog_enabled()` does: no `WATCHDOG_USEC`, no watchdog; `WATCHDOG_PID` absent means the
/// setting is for this process (systemd before v209 and some supervisors send only
/// `WATCHDOG_USEC`); present and naming another process (a parent that set it for itself), no
/// watchdog. Zero and `u64::MAX` (systemd's "infinity") are errors there too.
pub fn watchdog_timeout(
    usec: Option<&str>,
    pid: Option<&str>,
    our_pid: u32,
) -> Result<Option<Duration>, WatchdogEnvError> {
    let Some(usec) = usec else {
        return Ok(None);
    };
    let micros = usec
        .trim()
        .parse::<u64>()
        .ok()
        .filter(|u| *u != 0 && *u != u64::MAX)
        .ok_or_else(|| WatchdogEnvError::Usec(usec.to_string()))?;
    if let Some(pid) = pid {
        let pid = pid
            .trim()
            .parse::<u32>()
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| WatchdogEnvError::Pid(pid.to_string()))?;
        if pid != our_pid {
            return Ok(None);
        }
    }
    Ok(Some(Duration::from_micros(micros)))
}

fn send(states: &[NotifyState<'_>]) {
    if let Err(e) = sd_notify::notify(false, states) {
        tracing::warn!(error = %e, "cannot notify the service manager");
    }
}

/// The listening socket systemd passed in (`LISTEN_FDS`, socket activation), if any.
pub fn inherited_listener() -> std::io::Result<Option<std::net::TcpListener>> {
    let mut fds = listenfd::ListenFd::from_env();
    if fds.len() == 0 {
        return Ok(None);
    }
    fds.take_tcp_listener(0)
}

/// `Err` with the reason when the database does not answer `SELECT 1` in time.
pub async fn database_answers(store: &Arc<dyn Store>) -> Result<(), String> {
    let store = store.clone();
    match tokio::time::timeout(
        DATABASE_CHECK_TIMEOUT,
        tokio::task::spawn_blocking(move || store.ping()),
    )
    .await
    {
        Ok(Ok(Ok(()))) => Ok(()),
        Ok(Ok(Err(e))) => Err(format!("database: {e}")),
        Ok(Err(e)) => Err(format!("database check failed: {e}")),
        Err(_) => Err(format!(
            "database did not answer within {} s",
            DATABASE_CHECK_TIMEOUT.as_secs()
        )),
    }
}

/// What the daemon knows of its own health, shared by the watchdog, `STATUS=` and `/healthz`.
#[derive(Debug)]
pub struct Health {
    started: Instant,
    /// How long the scheduler may be silent before it counts as stuck.
    stall: Duration,
    /// Milliseconds after `started` of the scheduler's last heartbeat.
    scheduler_beat: AtomicU64,
    last_cycle: Mutex<Option<CycleSummary>>,
}

/// The sources' states after the scheduler's latest round of refreshes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CycleSummary {
    pub ok: usize,
    pub failing: usize,
    /// When the latest refresh finished (Unix seconds).
    pub finished_at: i64,
}

/// Whether each source's latest refresh succeeded, with the failures counted as results come in
/// (the summary is read after every refresh, so it is not recounted over every source).
#[derive(Debug, Default)]
pub struct LatestResults {
    ok: HashMap<SourceId, bool>,
    failing: usize,
}

impl LatestResults {
    pub fn record(&mut self, source: SourceId, ok: bool) {
        match (self.ok.insert(source, ok), ok) {
            (Some(false), true) => self.failing -= 1,
            (None | Some(true), false) => self.failing += 1,
            _ => {}
        }
    }

    /// Forgets the sources `keep` refuses (they left the configuration).
    pub fn retain(&mut self, mut keep: impl FnMut(SourceId) -> bool) {
        self.ok.retain(|id, _| keep(*id));
        self.failing = self.ok.values().filter(|ok| !**ok).count();
    }

    pub fn summary(&self, finished_at: i64) -> CycleSummary {
        CycleSummary {
            ok: self.ok.len() - self.failing,
            failing: self.failing,
            finished_at,
        }
    }
}

impl Default for Health {
    fn default() -> Health {
        Health::stuck_after(SCHEDULER_STALL)
    }
}

impl Health {
    /// Health that counts the scheduler as stuck after `stall` without a heartbeat; the clock
    /// starts now, with a heartbeat.
    pub fn stuck_after(stall: Duration) -> Health {
        Health {
            started: Instant::now(),
            stall,
            scheduler_beat: AtomicU64::new(0),
            last_cycle: Mutex::new(None),
        }
    }

    /// The scheduler is alive and making progress.
    pub fn beat(&self) {
        let ms = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.scheduler_beat.store(ms, Ordering::Release);
    }

    /// Time since the scheduler's last heartbeat.
    pub fn scheduler_silence(&self) -> Duration {
        let beat = Duration::from_millis(self.scheduler_beat.load(Ordering::Acquire));
        self.started.elapsed().saturating_sub(beat)
    }

    /// `Err` with the reason when the scheduler has not beaten for longer than its stall limit
    /// ([`SCHEDULER_STALL`] by default).
    pub fn scheduler_alive(&self) -> Result<(), String> {
        let silence = self.scheduler_silence();
        if silence > self.stall {
            Err(format!(
                "scheduler made no progress for {} ms",
                silence.as_millis()
            ))
        } else {
            Ok(())
        }
    }

    /// `Err` with the reason when the scheduler is stuck or the database does not answer.
    pub async fn check(&self, store: &Arc<dyn Store>) -> Result<(), String> {
        self.scheduler_alive()?;
        database_answers(store).await
    }

    pub fn set_cycle(&self, summary: CycleSummary) {
        *self
            .last_cycle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(summary);
    }

    pub fn cycle(&self) -> Option<CycleSummary> {
        *self
            .last_cycle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The `STATUS=` line: sources ok / failing and when the last refresh finished.
    pub fn status_line(&self, now: i64) -> String {
        match self.cycle() {
            None => "waiting for the first refresh".to_string(),
            Some(c) => format!(
                "{} sources ok, {} failing; last refresh {} s ago",
                c.ok,
                c.failing,
                (now - c.finished_at).max(0)
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_line_reports_the_last_cycle() {
        let health = Health::default();
        assert_eq!(health.status_line(100), "waiting for the first refresh");
        health.set_cycle(CycleSummary {
            ok: 7,
            failing: 2,
            finished_at: 90,
        });
        assert_eq!(
            health.status_line(100),
            "7 sources ok, 2 failing; last refresh 10 s ago"
        );
    }

    #[test]
    fn latest_results_count_failures_as_they_change() {
        let mut results = LatestResults::default();
        let (a, b) = (SourceId(1), SourceId(2));
        results.record(a, false);
        results.record(b, true);
        results.record(a, false);
        assert_eq!((results.summary(5).ok, results.summary(5).failing), (1, 1));
        results.record(a, true);
        results.record(b, false);
        assert_eq!((results.summary(5).ok, results.summary(5).failing), (1, 1));
        results.retain(|id| id == a);
        assert_eq!(
            results.summary(9),
            CycleSummary {
                ok: 1,
                failing: 0,
                finished_at: 9
            }
        );
    }

    #[test]
    fn a_fresh_heartbeat_is_alive() {
        let health = Health::default();
        health.beat();
        assert!(health.scheduler_alive().is_ok());
        assert!(health.scheduler_silence() < Duration::from_secs(5));
    }

    #[test]
    fn a_silent_scheduler_is_stuck() {
        let health = Health::stuck_after(Duration::from_millis(20));
        std::thread::sleep(Duration::from_millis(40));
        let reason = health.scheduler_alive().expect_err("stuck");
        assert!(
            reason.starts_with("scheduler made no progress for"),
            "{reason}"
        );
        health.beat();
        assert!(health.scheduler_alive().is_ok());
    }

    #[test]
    fn watchdog_usec_without_watchdog_pid_applies_to_this_process() {
        assert_eq!(
            watchdog_timeout(Some("1500000"), None, 42),
            Ok(Some(Duration::from_millis(1500)))
        );
        assert_eq!(
            watchdog_timeout(Some("60000000"), Some("42"), 42),
            Ok(Some(Duration::from_secs(60)))
        );
    }

    #[test]
    fn watchdog_pid_of_another_process_disables_the_watchdog() {
        assert_eq!(watchdog_timeout(Some("1500000"), Some("41"), 42), Ok(None));
        assert_eq!(watchdog_timeout(None, Some("42"), 42), Ok(None));
        assert_eq!(watchdog_timeout(None, None, 42), Ok(None));
    }

    #[test]
    fn watchdog_settings_that_cannot_be_read_are_errors_naming_the_variable() {
        for usec in ["0", "18446744073709551615", "-5", "soon", ""] {
            assert_eq!(
                watchdog_timeout(Some(usec), None, 42),
                Err(WatchdogEnvError::Usec(usec.to_string()))
            );
        }
        for pid in ["0", "self", "-42"] {
            assert_eq!(
                watchdog_timeout(Some("1000"), Some(pid), 42),
                Err(WatchdogEnvError::Pid(pid.to_string()))
            );
        }
        let message = watchdog_timeout(Some("1000"), Some("self"), 42)
            .expect_err("bad pid")
            .to_string();
        assert!(message.starts_with("WATCHDOG_PID=\"self\""), "{message}");
    }

    #[test]
    fn watchdog_interval_is_a_third_of_the_timeout() {
        let notifier = Notifier {
            watchdog: Some(Duration::from_secs(60)),
        };
        assert_eq!(notifier.watchdog_interval(), Some(Duration::from_secs(20)));
        assert_eq!(Notifier { watchdog: None }.watchdog_interval(), None);
    }
}
