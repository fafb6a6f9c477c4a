//! The HTTP connections open at once: how many there may be for the open-file limit, which to
//! close first when there are too many (the idlest: the one that moved no byte for the longest
//! time), and how the accept loop backs off when accepting fails. Knows nothing of HTTP.
//!
//! Idleness is measured on the socket, so a request waiting for its handler looks idle too: our
//! handlers answer in milliseconds, while the connections worth closing have been silent for
//! seconds (a client that never sent a request, or stopped reading its response).

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;

/// File descriptors kept for everything but client connections: standard streams, the
/// runtimes' event loops, the listener, SQLite's files (database, WAL and shared memory for the
/// writer and each reader), the WebSub client and the log.
const RESERVED_FILES: u64 = 128;

/// Above this a connection costs more in buffers (hyper keeps up to 8 KiB to read into, the
/// kernel its socket buffers) than a feed server should spend on clients that mostly poll.
pub const MAX_CONNECTIONS: usize = 16_384;

/// How many client connections may be open at once when the process may open `open_files`
/// files and fetches up to `fetch_concurrency` sources at a time: the limit less what the rest
/// of the daemon needs, so that accepting never fails with "Too many open files" (each fetch
/// holds a socket, and its DNS lookup another). At least a quarter of the limit, so that a very
/// low limit still serves.
pub fn connection_cap(open_files: u64, fetch_concurrency: usize) -> usize {
    let reserved = RESERVED_FILES.saturating_add(2 * fetch_concurrency as u64);
    let cap = open_files
        .saturating_sub(reserved)
        .max(open_files / 4)
        .max(1);
    usize::try_from(cap)
        .unwrap_or(usize::MAX)
        .min(MAX_CONNECTIONS)
}

/// The connections of every HTTP worker, shared between them.
#[derive(Debug)]
pub(super) struct Connections {
    max: usize,
    epoch: Instant,
    open: Mutex<Open>,
}

#[derive(Debug, Default)]
struct Open {
    next_id: u64,
    by_id: HashMap<u64, Arc<Activity>>,
}

/// What is shared between a connection's task and the registry.
#[derive(Debug)]
pub(super) struct Activity {
    /// Nanoseconds after [`Connections::epoch`] of the last byte read or written.
    last_io: AtomicU64,
    /// Notified when the connection is to be closed.
    close: Notify,
}

impl Activity {
    /// Completes when the registry wants this connection closed.
    pub(super) async fn closed(&self) {
        self.close.notified().await;
    }
}

/// A connection's place in the registry; dropping it (the connection ended) frees the place.
#[derive(Debug)]
pub(super) struct Registration {
    id: u64,
    connections: Arc<Connections>,
    pub(super) activity: Arc<Activity>,
}

impl Drop for Registration {
    fn drop(&mut self) {
        if self.connections.lock().by_id.remove(&self.id).is_some() {
            crate::metrics::record_connection(-1.0);
        }
    }
}

impl Connections {
    pub(super) fn new(max: usize) -> Arc<Connections> {
        Arc::new(Connections {
            max: max.max(1),
            epoch: Instant::now(),
            open: Mutex::new(Open::default()),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Open> {
        self.open
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn now(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    /// Registers a connection just accepted and, when that makes one too many, closes the
    /// idlest others. Returns the registration and how many were closed.
    pub(super) fn admit(self: &Arc<Self>) -> (Registration, usize) {
        let activity = Arc::new(Activity {
            last_io: AtomicU64::new(self.now()),
            close: Notify::new(),
        });
        let (id, shed) = {
            let mut open = self.lock();
            let id = open.next_id;
            open.next_id += 1;
            let mut shed = 0;
            while open.by_id.len() >= self.max && shed_idlest(&mut open) {
                shed += 1;
            }
            open.by_id.insert(id, activity.clone());
            (id, shed)
        };
        crate::metrics::record_connection(1.0);
        if shed > 0 {
            crate::metrics::record_connection(-(shed as f64));
            crate::metrics::record_shed(shed as u64);
        }
        let registration = Registration {
            id,
            connections: self.clone(),
            activity,
        };
        (registration, shed)
    }

    /// Closes the idlest connection, to free its file descriptor; `false` when none is open.
    pub(super) fn shed_one(&self) -> bool {
        let shed = shed_idlest(&mut self.lock());
        if shed {
            crate::metrics::record_connection(-1.0);
            crate::metrics::record_shed(1);
        }
        shed
    }

    /// Connections open now.
    pub(super) fn len(&self) -> usize {
        self.lock().by_id.len()
    }

    /// `stream` with every byte it moves recorded as activity of `registration`'s connection.
    pub(super) fn track<S>(self: &Arc<Self>, stream: S, registration: &Registration) -> Tracked<S> {
        Tracked {
            stream,
            activity: registration.activity.clone(),
            connections: self.clone(),
        }
    }
}

/// Removes the connection that moved no byte for the longest time and tells it to close.
fn shed_idlest(open: &mut Open) -> bool {
    let idlest = open
        .by_id
        .iter()
        .min_by_key(|(id, a)| (a.last_io.load(Ordering::Relaxed), **id))
        .map(|(id, _)| *id);
    match idlest.and_then(|id| open.by_id.remove(&id)) {
        Some(activity) => {
            // A stored permit: the connection closes even if its task is not waiting yet.
            activity.close.notify_one();
            true
        }
        None => false,
    }
}

/// A stream that notes the time of each read or write that moved bytes: a connection whose
/// client sends nothing, or reads nothing of a response, shows as idle however long ago it
/// was accepted.
pub(super) struct Tracked<S> {
    stream: S,
    activity: Arc<Activity>,
    connections: Arc<Connections>,
}

impl<S> Tracked<S> {
    fn moved(&self, bytes: usize) {
        if bytes > 0 {
            self.activity
                .last_io
                .store(self.connections.now(), Ordering::Relaxed);
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Tracked<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.stream).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = polled {
            self.moved(buf.filled().len() - before);
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Tracked<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.stream).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = polled {
            self.moved(n);
        }
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.stream).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(n)) = polled {
            self.moved(n);
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// Linux's (and the BSDs') errno values for "this process" and "the system" having no file
/// descriptor left; `std::io::ErrorKind` has no stable kind for either.
const EMFILE: i32 = 24;
const ENFILE: i32 = 23;

/// What the accept loop does after `accept` failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct AfterAcceptError {
    /// Sleep this long before accepting again (zero: at once).
    pub pause: Duration,
    /// Close the idlest connection to free a file descriptor.
    pub shed: bool,
    /// Log this failure (the first of a run of them).
    pub log: bool,
}

/// Accept failures in a row, and the pause they earn: failures that concern one connection
/// (the client gave up before it was accepted) are skipped at once; anything else, running out
/// of file descriptors above all, backs off from 10 ms doubling to 1 s instead of spinning, with
/// one warning per run of failures instead of one per attempt.
#[derive(Debug, Default)]
pub(super) struct AcceptBackoff {
    failures: u32,
}

const FIRST_PAUSE: Duration = Duration::from_millis(10);
const LONGEST_PAUSE: Duration = Duration::from_secs(1);

impl AcceptBackoff {
    pub(super) fn failed(&mut self, error: &std::io::Error) -> AfterAcceptError {
        use std::io::ErrorKind;
        if matches!(
            error.kind(),
            ErrorKind::ConnectionAborted
                | ErrorKind::ConnectionReset
                | ErrorKind::ConnectionRefused
                | ErrorKind::Interrupted
                | ErrorKind::WouldBlock
        ) {
            return AfterAcceptError {
                pause: Duration::ZERO,
                shed: false,
                log: false,
            };
        }
        let pause = FIRST_PAUSE
            .saturating_mul(1 << self.failures.min(7))
            .min(LONGEST_PAUSE);
        self.failures = self.failures.saturating_add(1);
        AfterAcceptError {
            pause,
            shed: matches!(error.raw_os_error(), Some(EMFILE | ENFILE)),
            log: self.failures == 1,
        }
    }

    /// A connection was accepted: returns how many failures the run that just ended had.
    pub(super) fn succeeded(&mut self) -> u32 {
        std::mem::take(&mut self.failures)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_cap_stays_below_the_open_file_limit() {
        assert_eq!(connection_cap(20_000, 16), MAX_CONNECTIONS);
        assert_eq!(connection_cap(4096, 16), 4096 - 128 - 32);
        assert_eq!(connection_cap(1024, 4), 1024 - 128 - 8);
        assert_eq!(connection_cap(256, 4), 256 - 128 - 8);
        // A limit too low for the reserve still serves, with a quarter of it.
        assert_eq!(connection_cap(100, 16), 25);
        assert_eq!(connection_cap(0, 16), 1);
        for limit in [64, 256, 1024, 20_000, 1 << 20] {
            assert!((connection_cap(limit, 16) as u64) < limit.max(2));
        }
    }

    #[tokio::test]
    async fn connections_beyond_the_cap_shed_the_idlest_first() {
        let connections = Connections::new(3);
        let (a, _) = connections.admit();
        let (b, _) = connections.admit();
        let (c, _) = connections.admit();
        // `a` is the oldest but has just moved bytes; `b` has been silent since it came.
        tokio::time::sleep(Duration::from_millis(2)).await;
        let mut sink = connections.track(tokio::io::sink(), &a);
        tokio::io::AsyncWriteExt::write_all(&mut sink, b"response")
            .await
            .expect("write");
        let (d, shed) = connections.admit();
        assert_eq!(shed, 1);
        assert_eq!(connections.len(), 3);
        let closed = |r: &Registration| {
            let activity = r.activity.clone();
            async move {
                tokio::time::timeout(Duration::from_millis(50), activity.closed())
                    .await
                    .is_ok()
            }
        };
        assert!(closed(&b).await, "the idlest connection was not closed");
        assert!(!closed(&a).await, "a busy connection was closed");
        assert!(!closed(&c).await);
        assert!(!closed(&d).await);
        // Then `c`, the idlest of those left.
        assert!(connections.shed_one());
        assert!(closed(&c).await);
        drop((a, b, c, d));
        assert_eq!(connections.len(), 0);
        assert!(!connections.shed_one());
    }

    #[test]
    fn accept_backoff_on_emfile_grows_sheds_and_warns_once_per_run() {
        let mut backoff = AcceptBackoff::default();
        let emfile = std::io::Error::from_raw_os_error(EMFILE);
        let first = backoff.failed(&emfile);
        assert_eq!(
            first,
            AfterAcceptError {
                pause: Duration::from_millis(10),
                shed: true,
                log: true
            }
        );
        let second = backoff.failed(&emfile);
        assert_eq!(
            (second.pause, second.log),
            (Duration::from_millis(20), false)
        );
        for _ in 0..20 {
            backoff.failed(&emfile);
        }
        assert_eq!(backoff.failed(&emfile).pause, LONGEST_PAUSE);
        assert_eq!(backoff.succeeded(), 23);
        assert_eq!(backoff.failed(&emfile).pause, Duration::from_millis(10));

        // A client that gave up before being accepted is no reason to wait.
        let mut backoff = AcceptBackoff::default();
        let aborted = std::io::Error::from(std::io::ErrorKind::ConnectionAborted);
        assert_eq!(
            backoff.failed(&aborted),
            AfterAcceptError {
                pause: Duration::ZERO,
                shed: false,
                log: false
            }
        );
        assert_eq!(backoff.succeeded(), 0);
        // Other failures back off without shedding.
        let other = std::io::Error::from(std::io::ErrorKind::OutOfMemory);
        assert!(!backoff.failed(&other).shed);
    }
}
