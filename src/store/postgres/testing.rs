//! Throwaway PostgreSQL databases for tests: `TRIBUTARY_TEST_POSTGRES` names a server (a URL
//! whose user may create databases, as `.ci/run` starts one); each [`TestDatabase`] is a fresh
//! database on it, dropped with the value. Tests that need one are `#[ignore]`d with the reason
//! and `.ci/run` runs them.

use std::time::{Duration, Instant};

use postgres::{Client, NoTls};

use super::PostgresStore;
use crate::store::{HostPolicy, HostTurn, Store};

/// The environment variable naming the test server.
pub const TEST_SERVER_VAR: &str = "TRIBUTARY_TEST_POSTGRES";

/// The reason tests needing PostgreSQL give in `#[ignore]`.
pub const NEEDS_POSTGRES: &str =
    "needs PostgreSQL: .ci/run starts a throwaway server and sets TRIBUTARY_TEST_POSTGRES";

/// A fresh, empty database, dropped (with whatever is connected to it) when this is dropped.
pub struct TestDatabase {
    server: String,
    name: String,
    url: String,
}

impl TestDatabase {
    /// Creates a database on the server `TRIBUTARY_TEST_POSTGRES` names. Fails (with what to
    /// do) when the variable is unset or the server cannot be reached.
    pub fn create() -> Result<TestDatabase, String> {
        let server = std::env::var(TEST_SERVER_VAR).map_err(|_| {
            format!("{TEST_SERVER_VAR} is unset: it names a PostgreSQL server tests may create databases on (.ci/run starts one)")
        })?;
        let name = format!(
            "tributary_test_{}_{}",
            std::process::id(),
            fastrand::u64(..)
        );
        let mut admin = Client::connect(&server, NoTls)
            .map_err(|e| format!("cannot reach the test server {TEST_SERVER_VAR}: {e}"))?;
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .map_err(|e| format!("cannot create a test database: {e}"))?;
        let url = with_database(&server, &name)?;
        Ok(TestDatabase { server, name, url })
    }

    /// The database's URL.
    pub fn url(&self) -> &str {
        &self.url
    }
}

/// `server` with its database replaced by `name`.
fn with_database(server: &str, name: &str) -> Result<String, String> {
    let mut url = url::Url::parse(server).map_err(|e| format!("{TEST_SERVER_VAR}: {e}"))?;
    url.set_path(&format!("/{name}"));
    Ok(url.to_string())
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Ok(mut admin) = Client::connect(&self.server, NoTls) {
            let _ = admin.batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ));
        }
    }
}

/// Has every node of `nodes` take its turns at hosts from the database, as nodes fetching
/// together do: each asks for turns (at a host no test uses), first to last, until the database
/// gives it one. The first would otherwise fetch alone, its turns its own gate's; it is the one
/// that let the others join, so its own first request waits for nobody.
pub fn together(nodes: &[&PostgresStore]) {
    let policy = HostPolicy {
        per_host: 64,
        spacing: Duration::ZERO,
        slow_spacing: Duration::ZERO,
        hold: Duration::from_secs(60),
    };
    let host = "together.test:1";
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut joined = vec![false; nodes.len()];
    while joined.contains(&false) {
        assert!(
            Instant::now() < deadline,
            "the nodes never fetched together"
        );
        for (node, joined) in nodes.iter().zip(joined.iter_mut()) {
            match node.take_host_turn(host, &policy) {
                Ok(HostTurn::Go { slot, .. }) => {
                    if let Err(e) = node.give_back_host_turn(host, slot) {
                        panic!("giving a turn back: {e}");
                    }
                    *joined |= slot != super::cluster::ALONE_SLOT;
                }
                Ok(HostTurn::Busy { .. }) => {}
                Err(e) => panic!("taking a turn: {e}"),
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
