//! Whether this node must take its turns at hosts from the database. Turns matter only between
//! nodes fetching at the same time: a node fetching alone keeps `per_host` and `host_delay` with
//! its own gate, as a SQLite node does, and writes no turn (a turn is a transaction that locks
//! and writes rows; for a lone node they were the largest cost of a refresh after the refresh's
//! own writes).
//!
//! Every node that fetches holds the advisory lock [`FETCHING`] on a connection of its own: alone
//! exclusively, together shared. A node that cannot take it exclusively announces that it is
//! joining (`j` on the changes channel, again every second) and waits for it shared. The lone
//! node hears that, stops starting requests, waits for those in flight to end, takes the lock
//! shared and lets the exclusive hold go: the joining node gets the lock only once every request
//! the lone node made is over, and takes its turns from the database from then on, as the former
//! lone node does. It still waits one `host_delay` before its first request, the spacing from the
//! lone node's last start, which the database never saw. A node whose connection drops loses its
//! hold, takes its turns from the database meanwhile (or, with the database unreachable, goes by
//! its gate as before), and decides again once reconnected.
//!
//! Nodes of the version before this one take their turns from the database whatever the others
//! do; while one still runs, a node of this version may find itself alone and skip its turns.

use std::sync::{Condvar, Mutex, MutexGuard, PoisonError, Weak};
use std::time::{Duration, Instant};

use postgres::fallible_iterator::FallibleIterator;
use postgres::{Client, NoTls};

use super::super::CHANGES_CHANNEL;
// The connection holding the lock is checked as often as the listener's.
use super::{LISTEN_POLL as HOLD_POLL, RECONNECT_FIRST, RECONNECT_MAX, sleep_while_alive};

/// The advisory lock (two-key form, apart from the one-key locks on addresses) that fetching
/// nodes hold: exclusively alone, shared together.
const FETCHING: (i32, i32) = (0x7472_6962, 1);

/// The slot of a turn taken alone: it has no row in the database.
pub(in crate::store::postgres) const ALONE_SLOT: i64 = -1;

/// How soon a request asks again while this node is deciding, joining or letting another join.
const UNDECIDED_RETRY: Duration = Duration::from_millis(50);

/// How long a joining node waits for the lock before it announces itself again.
const JOIN_PATIENCE: &str = "1s";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Mode {
    /// Not decided yet: the first connection is being made.
    #[default]
    Undecided,
    /// Fetching alone: turns are this node's own.
    Alone,
    /// Another node is joining: no new request until those in flight have ended.
    Letting,
    /// Waiting for the nodes fetching already to let this one join.
    Joining,
    /// Fetching with others: turns come from the database.
    Together,
    /// The connection holding the lock was lost: turns come from the database (where, should it
    /// be unreachable too, the gate goes by its own) until this node has decided again.
    Lost,
}

#[derive(Default)]
struct State {
    mode: Mode,
    /// Requests started alone and not ended.
    in_flight: usize,
    /// When this node joined others that were fetching (its first request waits one
    /// `host_delay` after it); `None` when it was the one fetching alone.
    joined_at: Option<Instant>,
    /// Whether the thread holding the lock was started.
    started: bool,
}

/// What a request for a turn is to do (see [`Membership::enter`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::store::postgres) enum Entry {
    /// Go ahead: this node is alone ([`ALONE_SLOT`]).
    Alone,
    /// Ask again after a moment.
    Wait(Duration),
    /// Take the turn from the database.
    Together,
}

#[derive(Default)]
pub(in crate::store::postgres) struct Membership {
    state: Mutex<State>,
    changed: Condvar,
}

impl Membership {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn set(&self, mode: Mode) {
        self.lock().mode = mode;
        self.changed.notify_all();
    }

    /// Whether a request may start, and how: `spacing` is `host_delay`. The first call starts
    /// the thread that decides (`start`, false when it could not); without it, turns come from
    /// the database.
    pub(in crate::store::postgres) fn enter(
        &self,
        spacing: Duration,
        start: impl FnOnce() -> bool,
    ) -> Entry {
        let mut state = self.lock();
        if !state.started {
            state.started = true;
            drop(state);
            let started = start();
            state = self.lock();
            if !started {
                state.mode = Mode::Lost;
            }
        }
        match state.mode {
            Mode::Alone => {
                state.in_flight += 1;
                Entry::Alone
            }
            Mode::Together => match state.joined_at.map(|at| at.elapsed()) {
                Some(since) if since < spacing => {
                    Entry::Wait((spacing - since).min(super::BUSY_RETRY))
                }
                _ => Entry::Together,
            },
            Mode::Lost => Entry::Together,
            Mode::Undecided | Mode::Letting | Mode::Joining => Entry::Wait(UNDECIDED_RETRY),
        }
    }

    /// A request started alone has ended.
    pub(in crate::store::postgres) fn leave(&self) {
        let mut state = self.lock();
        state.in_flight = state.in_flight.saturating_sub(1);
        drop(state);
        self.changed.notify_all();
    }
}

/// Starts the thread that holds [`FETCHING`] for this node, on a connection of its own, for as
/// long as `membership` (the store's) lives.
pub(in crate::store::postgres) fn spawn(
    mut config: postgres::Config,
    node: String,
    target: String,
    membership: Weak<Membership>,
) -> Result<(), std::io::Error> {
    config.application_name(&format!("tributary {node} fetching"));
    std::thread::Builder::new()
        .name("pg-fetching".into())
        .spawn(move || hold(&config, &node, &target, &membership))
        .map(|_| ())
}

fn hold(config: &postgres::Config, node: &str, target: &str, membership: &Weak<Membership>) {
    let mut wait = RECONNECT_FIRST;
    while membership.strong_count() > 0 {
        let held = config
            .connect(NoTls)
            .and_then(|mut client| decide(&mut client, node, membership));
        match held {
            Ok(()) => return,
            Err(e) => {
                if let Some(m) = membership.upgrade() {
                    m.set(Mode::Lost);
                }
                tracing::warn!(
                    database = %target, error = %e, retry_ms = wait.as_millis() as u64,
                    "lost the connection that tells whether this node fetches alone; taking turns from the database meanwhile"
                );
                sleep_while_alive(wait, membership);
                wait = (wait * 2).min(RECONNECT_MAX);
            }
        }
    }
}

/// Takes [`FETCHING`] on `client` and holds it until the store is gone (`Ok`) or the connection
/// fails.
fn decide(
    client: &mut Client,
    node: &str,
    membership: &Weak<Membership>,
) -> Result<(), postgres::Error> {
    let alone: bool = client
        .query_one(
            "SELECT pg_try_advisory_lock($1, $2)",
            &[&FETCHING.0, &FETCHING.1],
        )?
        .get(0);
    if alone {
        client.batch_execute(&format!("LISTEN {CHANGES_CHANNEL}"))?;
        if let Some(m) = membership.upgrade() {
            m.set(Mode::Alone);
        }
        if !hear_joining(client, node, membership)? {
            return Ok(());
        }
        let Some(m) = membership.upgrade() else {
            return Ok(());
        };
        m.set(Mode::Letting);
        let mut state = m.lock();
        while state.in_flight > 0 {
            state = m
                .changed
                .wait_timeout(state, HOLD_POLL)
                .map(|(guard, _)| guard)
                .unwrap_or_else(|e| e.into_inner().0);
        }
        drop(state);
        client.batch_execute(&format!(
            "SELECT pg_advisory_lock_shared({a}, {b}); SELECT pg_advisory_unlock({a}, {b});
             UNLISTEN {CHANGES_CHANNEL}",
            a = FETCHING.0,
            b = FETCHING.1
        ))?;
        // Every request it made alone is over: from now on its turns are the database's.
        m.set(Mode::Together);
    } else {
        if let Some(m) = membership.upgrade() {
            m.set(Mode::Joining);
        }
        client.batch_execute(&format!("SET lock_timeout = '{JOIN_PATIENCE}'"))?;
        loop {
            if membership.strong_count() == 0 {
                return Ok(());
            }
            client.execute(
                "SELECT pg_notify($1, $2)",
                &[&CHANGES_CHANNEL, &format!("{node}\nj\n")],
            )?;
            match client.query(
                "SELECT pg_advisory_lock_shared($1, $2)",
                &[&FETCHING.0, &FETCHING.1],
            ) {
                Ok(_) => break,
                Err(e) if e.code() == Some(&postgres::error::SqlState::LOCK_NOT_AVAILABLE) => {}
                Err(e) => return Err(e),
            }
        }
        client.batch_execute("SET lock_timeout = 0")?;
        if let Some(m) = membership.upgrade() {
            m.lock().joined_at = Some(Instant::now());
            m.set(Mode::Together);
        }
    }
    // Held for as long as the store lives; a dropped connection lets it go.
    while membership.strong_count() > 0 {
        std::thread::sleep(HOLD_POLL);
        client.simple_query("SELECT 1")?;
    }
    Ok(())
}

/// Waits, alone, until another node announces that it is joining (`true`) or the store is gone
/// (`false`).
fn hear_joining(
    client: &mut Client,
    node: &str,
    membership: &Weak<Membership>,
) -> Result<bool, postgres::Error> {
    loop {
        let mut notifications = client.notifications();
        let mut arriving = notifications.timeout_iter(HOLD_POLL);
        while let Some(notification) = arriving.next()? {
            let mut lines = notification.payload().splitn(3, '\n');
            let (from, kind) = (lines.next().unwrap_or(""), lines.next().unwrap_or(""));
            if from != node && kind == "j" {
                return Ok(true);
            }
        }
        if membership.strong_count() == 0 {
            return Ok(false);
        }
    }
}
