//! Several nodes on one database: the leases that give each due source to one node, the request
//! slots that keep `per_host` and `host_delay` for the whole cluster while several nodes fetch
//! (`alone`: none while one fetches alone), the jobs one node runs per
//! period, and the listener that hears what the other nodes committed (`LISTEN`, see
//! [`super::Prepared::notify`]) and moves this node's [`Signals`] for it.
//!
//! It carries decisions out and decides none: when a source is due is the scheduler's (its
//! `next_due_at`), how requests are spaced is fetch's gate's (it passes the spacing in).

use std::collections::HashMap;
use std::sync::Weak;
use std::time::{Duration, Instant};

use postgres::fallible_iterator::FallibleIterator;
use postgres::{Client, NoTls};

use super::{CHANGES_CHANNEL, Context, PostgresStore};
use crate::model::{SourceId, Timestamp};
use crate::store::{Claim, HostPolicy, HostTurn, Signals, StoreError};

/// When to look again at a source another node is claiming at this very moment (its row is
/// locked): by then that node holds its lease or has let it go.
const LOCKED_RETRY: i64 = 2;

/// How soon a node asks again for a turn at a host whose every slot is taken: slots come free
/// when requests end, which nobody announces.
const BUSY_RETRY: Duration = Duration::from_millis(250);

pub(super) fn claim_sources(
    store: &PostgresStore,
    ids: &[SourceId],
    now: Timestamp,
    lease_until: Timestamp,
) -> Result<Vec<Claim>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let wanted: Vec<i64> = ids.iter().map(|id| id.0).collect();
    let decided = store.with_transaction(|tx| {
        // SKIP LOCKED: a row another node is claiming right now is left to it instead of waited
        // for; it comes back below as "look again soon".
        let rows = tx
            .query(
                "SELECT id, next_due_at, leased_by, leased_until FROM sources
                 WHERE id = ANY($1) FOR UPDATE SKIP LOCKED",
                &[&wanted],
            )
            .context("claiming due sources")?;
        let mut decided: HashMap<i64, Claim> = HashMap::with_capacity(rows.len());
        let mut taken: Vec<i64> = Vec::new();
        for row in &rows {
            let id: i64 = row.get(0);
            let next_due: Option<i64> = row.get(1);
            let leased_by: Option<String> = row.get(2);
            let leased_until: Option<i64> = row.get(3);
            let held_elsewhere = match (leased_by.as_deref(), leased_until) {
                // Held until its time, as `status` shows it; from then on anybody's.
                (Some(node), Some(until)) if node != store.node && until > now => Some(until),
                _ => None,
            };
            let claim = match (next_due.filter(|due| *due > now), held_elsewhere) {
                // Fetched since this node scheduled it: due again when that refresh said.
                (Some(due), _) => Claim::LookAgain(SourceId(id), due),
                // Being fetched: once the lease is over, either the holder has moved the due
                // time or the source is anybody's.
                (None, Some(until)) => Claim::LookAgain(SourceId(id), until),
                (None, None) => {
                    taken.push(id);
                    Claim::Fetch(SourceId(id))
                }
            };
            decided.insert(id, claim);
        }
        if !taken.is_empty() {
            tx.execute(
                "UPDATE sources SET leased_by = $1, leased_until = $2 WHERE id = ANY($3)",
                &[&store.node, &lease_until, &taken],
            )
            .context("leasing due sources")?;
        }
        Ok(decided)
    })?;
    Ok(ids
        .iter()
        .map(|id| {
            decided
                .get(&id.0)
                .copied()
                .unwrap_or(Claim::LookAgain(*id, now + LOCKED_RETRY))
        })
        .collect())
}

pub(super) fn renew_leases(
    store: &PostgresStore,
    ids: &[SourceId],
    until: Timestamp,
) -> Result<(), StoreError> {
    if ids.is_empty() {
        return Ok(());
    }
    let ids: Vec<i64> = ids.iter().map(|id| id.0).collect();
    store.with_client(|client| {
        client
            .execute(
                "UPDATE sources SET leased_until = $1 WHERE id = ANY($2) AND leased_by = $3",
                &[&until, &ids, &store.node],
            )
            .context("renewing leases")?;
        Ok(())
    })
}

pub(super) fn release_leases(store: &PostgresStore) -> Result<usize, StoreError> {
    store.with_client(|client| {
        let released = client
            .execute(
                "UPDATE sources SET leased_by = NULL, leased_until = NULL WHERE leased_by = $1",
                &[&store.node],
            )
            .context("releasing leases")?;
        Ok(usize::try_from(released).unwrap_or(usize::MAX))
    })
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// A turn's duration in milliseconds, at most a year: added to the database's clock, it must
/// not overflow.
fn turn_millis(d: Duration) -> i64 {
    millis(d).min(365 * 24 * 3600 * 1000)
}

/// The database's clock in milliseconds: the one clock every node's turns are counted on.
const DB_NOW_MS: &str = "(extract(epoch FROM clock_timestamp()) * 1000)::BIGINT";

/// Turns this node's ended requests gave back, not written yet: they go with its next request
/// for a turn ([`take_host_turn`]), or within [`RELEASE_DELAY`] when none comes (the releaser
/// thread, [`spawn_releaser`]), or when the store closes. A turn is never given back later than
/// that, only held a moment longer, which no host notices.
#[derive(Default)]
pub(super) struct Releases {
    queue: std::sync::Mutex<Vec<(String, i64)>>,
    queued: std::sync::Condvar,
}

impl Releases {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<(String, i64)>> {
        self.queue
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(super) fn take_all(&self) -> Vec<(String, i64)> {
        std::mem::take(&mut *self.lock())
    }

    fn put_back(&self, turns: Vec<(String, i64)>) {
        if !turns.is_empty() {
            self.lock().extend(turns);
            self.queued.notify_one();
        }
    }

    fn push(&self, host: &str, slot: i64) {
        self.lock().push((host.to_string(), slot));
        self.queued.notify_one();
    }
}

/// How long a turn given back waits for this node's next request for a turn to carry it.
const RELEASE_DELAY: Duration = Duration::from_millis(50);

pub(super) fn take_host_turn(
    store: &PostgresStore,
    host: &str,
    policy: &HostPolicy,
) -> Result<HostTurn, StoreError> {
    const CONTEXT: &str = "taking a host turn";
    let entry = store.membership.enter(policy.spacing, || {
        alone::spawn(
            store.config.clone(),
            store.node.clone(),
            store.target.clone(),
            std::sync::Arc::downgrade(&store.membership),
        )
        .inspect_err(|e| {
            tracing::error!(
                error = %e,
                "cannot start the thread that tells whether this node fetches alone; taking every turn from the database"
            );
        })
        .is_ok()
    });
    match entry {
        alone::Entry::Alone => {
            return Ok(HostTurn::Go {
                slot: alone::ALONE_SLOT,
                wait: Duration::ZERO,
            });
        }
        alone::Entry::Wait(retry) => return Ok(HostTurn::Busy { retry }),
        alone::Entry::Together => {}
    }
    let per_host = i64::try_from(policy.per_host.max(1)).unwrap_or(i64::MAX);
    let released = store.releases.take_all();
    let (hosts, slots): (Vec<&str>, Vec<i64>) =
        released.iter().map(|(h, s)| (h.as_str(), *s)).unzip();
    let taken = store.with_connection(|connection| {
        // One call, one round trip, which also gives back the turns queued
        // (migrations/postgres/0004_host_turn_releases.sql).
        let sql = "SELECT turn_slot, wait_ms FROM take_host_turn($1, $2, $3, $4, $5, $6, $7, $8)";
        let statement = connection
            .statements
            .get(&mut connection.client, sql)
            .context(CONTEXT)?;
        connection
            .client
            .query_opt(
                &statement,
                &[
                    &host,
                    &per_host,
                    &turn_millis(policy.spacing),
                    &turn_millis(policy.slow_spacing),
                    &turn_millis(policy.hold),
                    &store.node,
                    &hosts,
                    &slots,
                ],
            )
            .context(CONTEXT)
    });
    let row = match taken {
        Ok(row) => row,
        Err(e) => {
            store.releases.put_back(released);
            return Err(e);
        }
    };
    let Some(row) = row else {
        return Ok(HostTurn::Busy { retry: BUSY_RETRY });
    };
    let (slot, wait): (i64, i64) = (
        row.try_get(0).context(CONTEXT)?,
        row.try_get(1).context(CONTEXT)?,
    );
    Ok(HostTurn::Go {
        slot,
        wait: Duration::from_millis(u64::try_from(wait).unwrap_or(0)),
    })
}

/// Queues the turn for giving back (see [`Releases`]).
pub(super) fn give_back_host_turn(store: &PostgresStore, host: &str, slot: i64) {
    if slot == alone::ALONE_SLOT {
        store.membership.leave();
    } else {
        store.releases.push(host, slot);
    }
}

/// Gives back `turns` held by `node`.
pub(super) fn write_releases(
    client: &mut Client,
    node: &str,
    turns: &[(String, i64)],
) -> Result<(), postgres::Error> {
    let (hosts, slots): (Vec<&str>, Vec<i64>) = turns.iter().map(|(h, s)| (h.as_str(), *s)).unzip();
    client.execute(
        "SELECT give_back_host_turns($1, $2, $3)",
        &[&hosts, &slots, &node],
    )?;
    Ok(())
}

/// Starts the thread that gives back, on a connection of its own, the turns no request for a
/// turn carried within [`RELEASE_DELAY`], for as long as `releases` (the store's) lives.
pub(super) fn spawn_releaser(
    mut config: postgres::Config,
    node: String,
    target: String,
    releases: Weak<Releases>,
) -> Result<(), std::io::Error> {
    config.application_name(&format!("tributary {node} releases"));
    std::thread::Builder::new()
        .name("pg-releaser".into())
        .spawn(move || release(&config, &node, &target, &releases))
        .map(|_| ())
}

fn release(config: &postgres::Config, node: &str, target: &str, releases: &Weak<Releases>) {
    let mut client: Option<Client> = None;
    let mut wait = RECONNECT_FIRST;
    loop {
        // Until something is queued, or the store is gone.
        loop {
            let Some(queue) = releases.upgrade() else {
                return;
            };
            let guard = queue.lock();
            if !guard.is_empty() {
                break;
            }
            let _ = queue
                .queued
                .wait_timeout(guard, LISTEN_POLL)
                .unwrap_or_else(|e| e.into_inner());
        }
        // A request for a turn may carry them meanwhile.
        std::thread::sleep(RELEASE_DELAY);
        let Some(queue) = releases.upgrade() else {
            return;
        };
        let turns = queue.take_all();
        if turns.is_empty() {
            continue;
        }
        let written = match client.as_mut().filter(|c| !c.is_closed()) {
            Some(c) => write_releases(c, node, &turns),
            None => config.connect(NoTls).and_then(|mut c| {
                let done = write_releases(&mut c, node, &turns);
                client = Some(c);
                done
            }),
        };
        match written {
            Ok(()) => wait = RECONNECT_FIRST,
            Err(e) => {
                queue.put_back(turns);
                drop(queue);
                client = None;
                tracing::warn!(
                    database = %target, error = %e, retry_ms = wait.as_millis() as u64,
                    "cannot give host turns back; they lapse by themselves if this goes on"
                );
                sleep_while_alive(wait, releases);
                wait = (wait * 2).min(RECONNECT_MAX);
            }
        }
    }
}

pub(super) fn slow_host(
    store: &PostgresStore,
    host: &str,
    for_how_long: Duration,
) -> Result<(), StoreError> {
    store.with_client(|client| {
        client
            .execute(
                &format!(
                    "INSERT INTO host_turns (host, slow_until_ms) VALUES ($1, {DB_NOW_MS} + $2::BIGINT)
                     ON CONFLICT (host) DO UPDATE
                     SET slow_until_ms = GREATEST(host_turns.slow_until_ms, EXCLUDED.slow_until_ms)"
                ),
                &[&host, &millis(for_how_long)],
            )
            .context("slowing a host down")?;
        Ok(())
    })
}

pub(super) fn claim_job(
    store: &PostgresStore,
    name: &str,
    now: Timestamp,
    every: i64,
) -> Result<bool, StoreError> {
    store.with_client(|client| {
        // One statement: the row's lock decides between nodes claiming at the same moment, and
        // the WHERE refuses while the period of the last run lasts.
        let claimed = client
            .query_opt(
                "INSERT INTO cluster_jobs (name, leased_by, leased_until, last_run_at)
                 VALUES ($1, $2, $3::BIGINT + $4::BIGINT, $3)
                 ON CONFLICT (name) DO UPDATE
                 SET leased_by = EXCLUDED.leased_by, leased_until = EXCLUDED.leased_until,
                     last_run_at = EXCLUDED.last_run_at
                 WHERE cluster_jobs.leased_until IS NULL OR cluster_jobs.leased_until <= $3::BIGINT
                 RETURNING name",
                &[&name, &store.node, &now, &every],
            )
            .context("claiming a cluster job")?;
        Ok(claimed.is_some())
    })
}

/// How long the listener (and the other threads of a node) waits for a notification or a change
/// before it checks whether its store is gone.
const LISTEN_POLL: Duration = Duration::from_millis(500);
/// Without a notification for this long, the listener asks the server whether the connection
/// still works (a connection can die without a word, e.g. with the machine it went to).
const KEEPALIVE: Duration = Duration::from_secs(15);
/// Reconnection waits: doubling from the first to the last.
const RECONNECT_FIRST: Duration = Duration::from_millis(250);
const RECONNECT_MAX: Duration = Duration::from_secs(30);

/// The `application_name` of node `node`'s listening connection (operators see it in
/// `pg_stat_activity`).
pub(super) fn listener_name(node: &str) -> String {
    format!("tributary {node} listener")
}

/// Starts the thread that listens for other nodes' changes on a connection of its own, for as
/// long as `signals` (the store's) lives.
pub(super) fn spawn_listener(
    mut config: postgres::Config,
    node: String,
    target: String,
    signals: Weak<Signals>,
) -> Result<(), std::io::Error> {
    config.application_name(&listener_name(&node));
    std::thread::Builder::new()
        .name("pg-listener".into())
        .spawn(move || listen(&config, &node, &target, &signals))
        .map(|_| ())
}

fn listen(config: &postgres::Config, node: &str, target: &str, signals: &Weak<Signals>) {
    let mut wait = RECONNECT_FIRST;
    let mut connected_before = false;
    while signals.strong_count() > 0 {
        let client = config.connect(NoTls).and_then(|mut client| {
            client.batch_execute(&format!("LISTEN {CHANGES_CHANNEL}"))?;
            Ok(client)
        });
        match client {
            Ok(mut client) => {
                if connected_before {
                    tracing::info!(database = %target, "listening for other nodes' changes again");
                    // Whatever was committed while nobody listened was not heard: nothing
                    // rendered before can be trusted.
                    if let Some(signals) = signals.upgrade() {
                        signals.bump();
                    }
                }
                connected_before = true;
                wait = RECONNECT_FIRST;
                match hear(&mut client, node, signals) {
                    Ok(()) => return,
                    Err(e) => tracing::warn!(
                        database = %target, error = %e,
                        "lost the connection that hears other nodes' changes; reconnecting"
                    ),
                }
            }
            Err(e) => {
                tracing::warn!(
                    database = %target, error = %e, retry_ms = wait.as_millis() as u64,
                    "cannot listen for other nodes' changes"
                );
                sleep_while_alive(wait, signals);
                wait = (wait * 2).min(RECONNECT_MAX);
            }
        }
    }
}

/// Sleeps for `how_long`, or less once the store is gone (`alive`, a part of it, with it).
fn sleep_while_alive<T>(how_long: Duration, alive: &Weak<T>) {
    let until = Instant::now() + how_long;
    while alive.strong_count() > 0 {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return;
        }
        std::thread::sleep(left.min(LISTEN_POLL));
    }
}

/// Moves `signals` for every change another node tells of, until the store is gone (`Ok`) or
/// the connection fails.
fn hear(client: &mut Client, node: &str, signals: &Weak<Signals>) -> Result<(), postgres::Error> {
    let mut last_heard = Instant::now();
    loop {
        let mut heard = Vec::new();
        {
            let mut notifications = client.notifications();
            let mut arriving = notifications.timeout_iter(LISTEN_POLL);
            while let Some(notification) = arriving.next()? {
                heard.push(notification.payload().to_string());
                if heard.len() >= 1024 {
                    break;
                }
            }
        }
        let Some(signals) = signals.upgrade() else {
            return Ok(());
        };
        if heard.is_empty() {
            if last_heard.elapsed() >= KEEPALIVE {
                client.simple_query("SELECT 1")?;
                last_heard = Instant::now();
            }
            continue;
        }
        last_heard = Instant::now();
        for payload in &heard {
            apply(&signals, node, payload);
        }
    }
}

/// What one notification's payload (see [`super::Prepared::notify`]) means for this node's
/// signals. Its own changes moved them at commit; a change to pages makes every rendered page
/// stale, one to sources only the source table. The topics are not noted as changed: WebSub
/// announces a change from the node that committed it, once.
fn apply(signals: &Signals, node: &str, payload: &str) {
    let mut lines = payload.splitn(3, '\n');
    let (from, kind) = (lines.next().unwrap_or(""), lines.next().unwrap_or(""));
    if from == node {
        return;
    }
    match kind {
        "s" => signals.bump_sources(),
        // A node joining those fetching (see `alone`): nothing stored changed.
        "j" => {}
        // "p", and anything this build does not know: stale pages cost a render, missed
        // changes cost correctness.
        _ => signals.bump(),
    }
}

mod alone;
pub(super) use alone::{ALONE_SLOT, Membership};

#[cfg(test)]
mod tests;
