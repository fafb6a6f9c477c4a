use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use postgres::{Client, NoTls};

use super::super::testing::{TestDatabase, together};
use super::*;
use crate::store::Store;

fn database() -> TestDatabase {
    match TestDatabase::create() {
        Ok(db) => db,
        Err(why) => panic!("{why}"),
    }
}

fn node(db: &TestDatabase, name: &str) -> PostgresStore {
    PostgresStore::open(db.url(), name).expect("open a node")
}

/// Source rows inserted directly (syncing with feeds.toml is not what is tested here), due
/// since `due`.
fn sources(db: &TestDatabase, n: usize, due: Option<Timestamp>) -> Vec<SourceId> {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let mut client = Client::connect(db.url(), NoTls).expect("test database");
    (0..n)
        .map(|i| {
            let row = client
                .query_one(
                    "INSERT INTO sources (url, next_due_at) VALUES ($1, $2) RETURNING id",
                    &[
                        &format!(
                            "http://127.0.0.1:9/feed-{i}-{}.xml",
                            NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
                        ),
                        &due,
                    ],
                )
                .expect("insert a source");
            SourceId(row.get(0))
        })
        .collect()
}

const NOW: Timestamp = 1_800_000_000;

#[test]
#[ignore = "needs PostgreSQL: .ci/run starts a throwaway server and sets TRIBUTARY_TEST_POSTGRES"]
fn a_due_source_is_leased_to_one_node_and_the_other_looks_again_when_the_lease_ends() {
    let db = database();
    let (a, b) = (node(&db, "a"), node(&db, "b"));
    let ids = sources(&db, 3, Some(NOW - 10));
    let fresh = sources(&db, 1, None);

    let claims = a.claim_sources(&ids[..2], NOW, NOW + 60).expect("claim");
    assert_eq!(claims, [Claim::Fetch(ids[0]), Claim::Fetch(ids[1])]);
    let state = a.with_client(|c| {
        c.query_one(
            "SELECT leased_by, leased_until FROM sources WHERE id = $1",
            &[&ids[0].0],
        )
        .context("reading the lease")
    });
    let row = state.expect("lease row");
    assert_eq!(
        (
            row.get::<_, Option<String>>(0),
            row.get::<_, Option<i64>>(1)
        ),
        (Some("a".into()), Some(NOW + 60))
    );

    // b asks for all four: the two a holds come back at the end of a's lease, the others are
    // b's (a never-fetched source is due at once).
    let mut all = ids.clone();
    all.extend(&fresh);
    let claims = b.claim_sources(&all, NOW + 1, NOW + 61).expect("claim");
    assert_eq!(
        claims,
        [
            Claim::LookAgain(ids[0], NOW + 60),
            Claim::LookAgain(ids[1], NOW + 60),
            Claim::Fetch(ids[2]),
            Claim::Fetch(fresh[0]),
        ]
    );

    // a refreshed ids[0]: its refresh moved the due time and cleared the lease (as the engine's
    // record_* writes do). b looks again at the new due time, not before.
    a.with_client(|c| {
        c.execute(
            "UPDATE sources SET next_due_at = $2, leased_by = NULL, leased_until = NULL
             WHERE id = $1",
            &[&ids[0].0, &(NOW + 900)],
        )
        .context("recording a refresh")
    })
    .expect("refresh");
    assert_eq!(
        b.claim_sources(&ids[..1], NOW + 2, NOW + 62)
            .expect("claim"),
        [Claim::LookAgain(ids[0], NOW + 900)]
    );

    // a renews the lease on ids[1] while its refresh still runs: b keeps off it.
    a.renew_leases(&ids[1..2], NOW + 200).expect("renew");
    assert_eq!(
        b.claim_sources(&ids[1..2], NOW + 100, NOW + 160)
            .expect("claim"),
        [Claim::LookAgain(ids[1], NOW + 200)]
    );
    // A lease at its end (its node died) is anybody's.
    assert_eq!(
        b.claim_sources(&ids[1..2], NOW + 200, NOW + 260)
            .expect("claim"),
        [Claim::Fetch(ids[1])]
    );
}

#[test]
#[ignore = "needs PostgreSQL: .ci/run starts a throwaway server and sets TRIBUTARY_TEST_POSTGRES"]
fn a_source_another_node_is_claiming_right_now_is_skipped_not_waited_for() {
    let db = database();
    let b = node(&db, "b");
    let ids = sources(&db, 2, Some(NOW - 10));
    let mut holder = Client::connect(db.url(), NoTls).expect("test database");
    let mut tx = holder.transaction().expect("tx");
    tx.query(
        "SELECT id FROM sources WHERE id = $1 FOR UPDATE",
        &[&ids[0].0],
    )
    .expect("lock the row as a claiming node does");
    let started = Instant::now();
    let claims = b.claim_sources(&ids, NOW, NOW + 60).expect("claim");
    assert!(started.elapsed() < Duration::from_secs(2), "did not wait");
    assert_eq!(
        claims,
        [
            Claim::LookAgain(ids[0], NOW + LOCKED_RETRY),
            Claim::Fetch(ids[1])
        ]
    );
    tx.rollback().expect("rollback");
}

#[test]
#[ignore = "needs PostgreSQL: .ci/run starts a throwaway server and sets TRIBUTARY_TEST_POSTGRES"]
fn nodes_claiming_the_same_due_sources_at_once_fetch_each_exactly_once() {
    let db = database();
    let nodes: Vec<PostgresStore> = (0..3).map(|n| node(&db, &format!("n{n}"))).collect();
    let ids = sources(&db, 300, Some(NOW - 1));
    // Each node claims every source, in batches of 25, in its own order, all at once; sources
    // it was told to look at again it asks for again until every one is settled.
    let fetched: Vec<Vec<SourceId>> = std::thread::scope(|scope| {
        let handles: Vec<_> = nodes
            .iter()
            .enumerate()
            .map(|(n, store)| {
                let mut order = ids.clone();
                order.rotate_left(n * 100);
                scope.spawn(move || {
                    let mut mine = Vec::new();
                    let mut pending = order;
                    for round in 0..20 {
                        let mut again = Vec::new();
                        for batch in pending.chunks(25) {
                            for claim in store
                                .claim_sources(batch, NOW + round, NOW + 600)
                                .expect("claim")
                            {
                                match claim {
                                    Claim::Fetch(id) => mine.push(id),
                                    Claim::LookAgain(id, at) if at <= NOW + LOCKED_RETRY + 20 => {
                                        again.push(id)
                                    }
                                    Claim::LookAgain(..) => {}
                                }
                            }
                        }
                        if again.is_empty() {
                            break;
                        }
                        pending = again;
                    }
                    mine
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("claiming thread"))
            .collect()
    });
    let mut all: Vec<i64> = fetched.iter().flatten().map(|id| id.0).collect();
    all.sort_unstable();
    let mut expected: Vec<i64> = ids.iter().map(|id| id.0).collect();
    expected.sort_unstable();
    assert_eq!(all, expected, "every source fetched, none twice");
}

#[test]
#[ignore = "needs PostgreSQL: .ci/run starts a throwaway server and sets TRIBUTARY_TEST_POSTGRES"]
fn leases_released_at_shutdown_are_taken_over_at_once() {
    let db = database();
    let (a, b) = (node(&db, "a"), node(&db, "b"));
    let ids = sources(&db, 2, Some(NOW - 10));
    assert_eq!(
        a.claim_sources(&ids, NOW, NOW + 600).expect("claim"),
        [Claim::Fetch(ids[0]), Claim::Fetch(ids[1])]
    );
    assert_eq!(b.release_leases().expect("b holds none"), 0);
    assert_eq!(a.release_leases().expect("release"), 2);
    assert_eq!(
        b.claim_sources(&ids, NOW + 1, NOW + 601).expect("claim"),
        [Claim::Fetch(ids[0]), Claim::Fetch(ids[1])]
    );
}

/// Two nodes take 12 turns at one host (per_host 2, host_delay 300 ms), each holding its turn
/// 400 ms as a slow request does: never more than two requests at once, and starts spaced by
/// the delay, whichever node asks.
#[test]
#[ignore = "needs PostgreSQL: .ci/run starts a throwaway server and sets TRIBUTARY_TEST_POSTGRES"]
fn per_host_and_host_delay_hold_across_nodes() {
    let db = database();
    let nodes = [node(&db, "a"), node(&db, "b")];
    together(&[&nodes[0], &nodes[1]]);
    let policy = HostPolicy {
        per_host: 2,
        spacing: Duration::from_millis(300),
        slow_spacing: Duration::from_secs(3),
        hold: Duration::from_secs(60),
    };
    let t0 = Instant::now();
    let turns: Vec<(Duration, Duration)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..4)
            .map(|worker| {
                let store = &nodes[worker % 2];
                scope.spawn(move || {
                    let mut held = Vec::new();
                    for _ in 0..3 {
                        let slot = loop {
                            match store.take_host_turn("news.example:443", &policy) {
                                Ok(HostTurn::Go { slot, wait }) => {
                                    std::thread::sleep(wait);
                                    break slot;
                                }
                                Ok(HostTurn::Busy { retry }) => std::thread::sleep(retry),
                                Err(e) => panic!("turn: {e}"),
                            }
                        };
                        let start = t0.elapsed();
                        std::thread::sleep(Duration::from_millis(400));
                        let end = t0.elapsed();
                        store
                            .give_back_host_turn("news.example:443", slot)
                            .expect("give back");
                        held.push((start, end));
                    }
                    held
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("worker"))
            .collect()
    });
    assert_eq!(turns.len(), 12);
    let most_at_once = turns
        .iter()
        .map(|(start, _)| {
            turns
                .iter()
                .filter(|(s, e)| s <= start && start < e)
                .count()
        })
        .max()
        .unwrap_or(0);
    assert!(most_at_once <= 2, "{most_at_once} requests at once");
    let mut starts: Vec<Duration> = turns.iter().map(|(s, _)| *s).collect();
    starts.sort();
    // Each start is the database's reserved time plus however late this thread woke: gaps are
    // the delay give or take that lateness.
    for pair in starts.windows(2) {
        assert!(
            pair[1] - pair[0] >= Duration::from_millis(200),
            "starts {:?} and {:?} closer than the host delay",
            pair[0],
            pair[1]
        );
    }
    // Another host is not held up by the first.
    match nodes[0].take_host_turn("other.example:443", &policy) {
        Ok(HostTurn::Go { wait, .. }) => assert_eq!(wait, Duration::ZERO),
        other => panic!("another host waited: {other:?}"),
    }
}

#[test]
#[ignore = "needs PostgreSQL: .ci/run starts a throwaway server and sets TRIBUTARY_TEST_POSTGRES"]
fn a_host_that_asked_one_node_to_slow_down_is_slowed_on_every_node() {
    let db = database();
    let (a, b) = (node(&db, "a"), node(&db, "b"));
    let policy = HostPolicy {
        per_host: 4,
        spacing: Duration::from_millis(100),
        slow_spacing: Duration::from_secs(5),
        hold: Duration::from_secs(60),
    };
    together(&[&a, &b]);
    // The node that joined starts its first request one host_delay after it joined.
    std::thread::sleep(policy.spacing);
    a.slow_host("busy.example:80", Duration::from_secs(60))
        .expect("slow");
    let first = b.take_host_turn("busy.example:80", &policy).expect("turn");
    let second = b.take_host_turn("busy.example:80", &policy).expect("turn");
    match (first, second) {
        (HostTurn::Go { wait: w1, .. }, HostTurn::Go { wait: w2, .. }) => {
            assert_eq!(w1, Duration::ZERO);
            assert!(
                w2 > Duration::from_secs(4),
                "spaced by the slow spacing: {w2:?}"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
#[ignore = "needs PostgreSQL: .ci/run starts a throwaway server and sets TRIBUTARY_TEST_POSTGRES"]
fn a_cluster_job_runs_on_one_node_per_period() {
    let db = database();
    let (a, b) = (node(&db, "a"), node(&db, "b"));
    assert!(a.claim_job("prune", NOW, 3600).expect("claim"));
    assert!(!b.claim_job("prune", NOW + 10, 3600).expect("claim"));
    assert!(!a.claim_job("prune", NOW + 3599, 3600).expect("claim"));
    assert!(b.claim_job("prune", NOW + 3600, 3600).expect("claim"));
    assert!(!a.claim_job("prune", NOW + 3601, 3600).expect("claim"));
    // Jobs are counted apart.
    assert!(a.claim_job("other", NOW + 3601, 3600).expect("claim"));
}

fn wait_until(within: Duration, done: impl Fn() -> bool) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    done()
}

fn tell(store: &PostgresStore, topics: &[&str], pages: bool) {
    let topics: BTreeSet<String> = topics.iter().map(|t| t.to_string()).collect();
    store
        .with_transaction(|tx| {
            super::super::Prepared::new(tx, &mut super::super::Statements::default()).notify(
                &store.node,
                &topics,
                pages,
            )
        })
        .expect("commit a change");
}

#[test]
#[ignore = "needs PostgreSQL: .ci/run starts a throwaway server and sets TRIBUTARY_TEST_POSTGRES"]
fn another_nodes_commit_makes_this_nodes_pages_stale_within_a_second() {
    let db = database();
    let (a, b) = (node(&db, "a"), node(&db, "b"));
    // Both listeners are up once a change told now is heard.
    std::thread::sleep(Duration::from_millis(300));
    let (a_pages, b_pages, b_sources) = (a.generation(), b.generation(), b.sources_generation());

    tell(&a, &["tech"], true);
    assert!(
        wait_until(Duration::from_secs(1), || b.generation() > b_pages),
        "b's pages did not go stale within a second"
    );
    assert!(b.sources_generation() > b_sources);
    // a moved its own signals when it committed (the engine's writes do): its listener leaves
    // its own notification alone. The topics are b's to render, not to announce.
    std::thread::sleep(Duration::from_millis(600));
    assert_eq!(a.generation(), a_pages);
    assert!(b.take_changed_topics().is_empty());

    // A change to sources only leaves pages current.
    let (b_pages, b_sources) = (b.generation(), b.sources_generation());
    tell(&a, &[], false);
    assert!(wait_until(Duration::from_secs(1), || b
        .sources_generation()
        > b_sources));
    assert_eq!(b.generation(), b_pages);
}

#[test]
#[ignore = "needs PostgreSQL: .ci/run starts a throwaway server and sets TRIBUTARY_TEST_POSTGRES"]
fn a_listener_whose_connection_was_cut_reconnects_and_counts_everything_stale() {
    let db = database();
    let (a, b) = (node(&db, "a"), node(&db, "b"));
    std::thread::sleep(Duration::from_millis(300));
    let b_pages = b.generation();
    let mut admin = Client::connect(db.url(), NoTls).expect("test database");
    let cut = admin
        .execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE application_name = $1 AND datname = current_database()",
            &[&listener_name("b")],
        )
        .expect("terminate b's listener");
    assert_eq!(cut, 1, "b's listener was connected");
    // It may have missed changes meanwhile: once back, nothing rendered before is current.
    assert!(
        wait_until(Duration::from_secs(5), || b.generation() > b_pages),
        "b's listener did not come back"
    );
    let b_pages = b.generation();
    tell(&a, &["tech"], true);
    assert!(
        wait_until(Duration::from_secs(1), || b.generation() > b_pages),
        "b hears changes again"
    );
}

/// One request at a time to the host, the whole cluster over.
fn one_at_a_time() -> HostPolicy {
    HostPolicy {
        per_host: 1,
        spacing: Duration::ZERO,
        slow_spacing: Duration::ZERO,
        hold: Duration::from_secs(60),
    }
}

fn takes(store: &PostgresStore, host: &str) -> Option<i64> {
    match store.take_host_turn(host, &one_at_a_time()) {
        Ok(HostTurn::Go { slot, .. }) => Some(slot),
        Ok(HostTurn::Busy { .. }) => None,
        Err(e) => panic!("turn: {e}"),
    }
}

#[test]
#[ignore = "needs PostgreSQL: .ci/run starts a throwaway server and sets TRIBUTARY_TEST_POSTGRES"]
fn a_turn_given_back_is_free_for_other_nodes_within_a_moment_whatever_this_node_does_next() {
    let db = database();
    let (a, b) = (node(&db, "a"), node(&db, "b"));
    together(&[&a, &b]);
    let host = "one.example:443";
    let slot = takes(&a, host).expect("a's turn");
    assert_eq!(takes(&b, host), None, "the only slot is a's");
    let given_back = Instant::now();
    a.give_back_host_turn(host, slot).expect("give back");
    // a asks for nothing more: the turn goes back on its own, in a moment.
    assert!(
        wait_until(Duration::from_secs(2), || takes(&b, host).is_some()),
        "b never got the turn a gave back"
    );
    assert!(given_back.elapsed() < Duration::from_secs(1));

    // A turn given back just before the node closes goes back with it, not after its hold.
    let other = "two.example:443";
    let slot = takes(&a, other).expect("a's turn");
    a.give_back_host_turn(other, slot).expect("give back");
    drop(a);
    assert!(
        takes(&b, other).is_some(),
        "the turn went back with the store"
    );
}

#[test]
#[ignore = "needs PostgreSQL: .ci/run starts a throwaway server and sets TRIBUTARY_TEST_POSTGRES"]
fn a_node_alone_writes_no_turns_and_shares_them_once_another_joins() {
    let db = database();
    let a = node(&db, "a");
    let host = "alone.example:443";
    // Alone, a's turns are its own gate's: the database holds none.
    let deadline = Instant::now() + Duration::from_secs(10);
    let slot = loop {
        assert!(Instant::now() < deadline, "a never got a turn");
        match a.take_host_turn(host, &one_at_a_time()).expect("turn") {
            HostTurn::Go { slot, .. } => break slot,
            HostTurn::Busy { retry } => std::thread::sleep(retry),
        }
    };
    assert_eq!(slot, super::alone::ALONE_SLOT);
    let mut client = Client::connect(db.url(), NoTls).expect("client");
    let rows: i64 = client
        .query_one(
            "SELECT (SELECT COUNT(*) FROM host_slots) + (SELECT COUNT(*) FROM host_turns)",
            &[],
        )
        .expect("count")
        .get(0);
    assert_eq!(rows, 0, "a lone node writes no turn");

    // b joins: it starts nothing while a's request is in flight.
    let b = node(&db, "b");
    let waited = Instant::now();
    while waited.elapsed() < Duration::from_secs(2) {
        assert!(
            takes(&b, host).is_none(),
            "b started while a's lone request was in flight"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    a.give_back_host_turn(host, slot).expect("give back");
    assert!(
        wait_until(Duration::from_secs(10), || takes(&b, host).is_some()),
        "b never joined"
    );
    // From now on a takes its turns from the database too: the host's only slot is b's.
    for _ in 0..5 {
        match a.take_host_turn(host, &one_at_a_time()).expect("turn") {
            HostTurn::Busy { .. } => {}
            HostTurn::Go { slot, .. } => panic!("a got slot {slot} while b holds the only one"),
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
#[ignore = "needs PostgreSQL: .ci/run starts a throwaway server and sets TRIBUTARY_TEST_POSTGRES"]
fn a_node_that_joined_a_lone_one_starts_its_first_request_one_host_delay_later() {
    let db = database();
    let (a, b) = (node(&db, "a"), node(&db, "b"));
    let policy = HostPolicy {
        per_host: 4,
        spacing: Duration::from_secs(1),
        slow_spacing: Duration::from_secs(10),
        hold: Duration::from_secs(60),
    };
    let first_go = |store: &PostgresStore, host: &str| -> (i64, Duration) {
        let asked = Instant::now();
        loop {
            assert!(asked.elapsed() < Duration::from_secs(10), "no turn");
            match store.take_host_turn(host, &policy).expect("turn") {
                HostTurn::Go { slot, .. } => return (slot, asked.elapsed()),
                HostTurn::Busy { retry } => std::thread::sleep(retry),
            }
        }
    };
    let (slot, _) = first_go(&a, "lone.example:80");
    assert_eq!(slot, super::alone::ALONE_SLOT);
    a.give_back_host_turn("lone.example:80", slot)
        .expect("give back");
    // The database never saw a's starts: b waits one host_delay after joining.
    let (slot, waited) = first_go(&b, "lone.example:80");
    assert!(slot >= 0, "b's turn comes from the database");
    assert!(
        waited >= policy.spacing,
        "b's first request came {waited:?} after it asked"
    );
    // a, whose requests are all over, waits for nobody.
    let (slot, waited) = first_go(&a, "other.example:80");
    assert!(slot >= 0, "a's turns come from the database now");
    assert!(waited < Duration::from_millis(500), "a waited {waited:?}");
}
